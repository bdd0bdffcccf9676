// SPDX-License-Identifier: Apache-2.0
#include "maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

#include "bindsnoop.h"

uint64_t SumPerCpu(int mapFd, uint32_t index) {
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0 || mapFd < 0) return 0;
  std::vector<uint64_t> values(ncpus);
  if (bpf_map_lookup_elem(mapFd, &index, values.data())) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

uint64_t CountEntries(int mapFd, uint32_t keySize) {
  std::vector<uint8_t> key(keySize), next(keySize);
  uint64_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(mapFd, prev, next.data()) == 0) {
    n++;
    key.swap(next);
    prev = key.data();
  }
  return n;
}

std::vector<uint8_t> ReadCountEntries(int mapFd) {
  std::vector<uint8_t> out;
  struct count_key key, next;
  struct count_key* prev = nullptr;
  while (bpf_map_get_next_key(mapFd, prev, &next) == 0) {
    uint64_t value = 0;
    if (bpf_map_lookup_elem(mapFd, &next, &value) == 0) {
      const uint8_t* k = reinterpret_cast<const uint8_t*>(&next);
      const uint8_t* v = reinterpret_cast<const uint8_t*>(&value);
      out.insert(out.end(), k, k + sizeof(next));
      out.insert(out.end(), v, v + sizeof(value));
    }
    key = next;
    prev = &key;
  }
  return out;
}

uint64_t U64KeyMap::MaxValue() const { return bpf_map__value_size(map_) == 4 ? UINT32_MAX : UINT64_MAX; }

int U64KeyMap::Update(uint64_t key, uint64_t value) const {
  int err;
  if (bpf_map__value_size(map_) == 4) {
    uint32_t v32 = static_cast<uint32_t>(value);
    err = bpf_map_update_elem(bpf_map__fd(map_), &key, &v32, BPF_ANY);
  } else {
    err = bpf_map_update_elem(bpf_map__fd(map_), &key, &value, BPF_ANY);
  }
  return err ? errno : 0;
}

bool U64KeyMap::Delete(uint64_t key) const { return bpf_map_delete_elem(bpf_map__fd(map_), &key) == 0; }

std::vector<std::pair<uint64_t, uint64_t>> U64KeyMap::Entries() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  int fd = bpf_map__fd(map_);
  bool narrow = bpf_map__value_size(map_) == 4;
  uint64_t key, next;
  uint64_t* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    uint64_t value = 0;
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) out.emplace_back(next, narrow ? value & UINT32_MAX : value);
    key = next;
    prev = &key;
  }
  return out;
}
