// SPDX-License-Identifier: Apache-2.0
// Typed access to the program's maps. Plain libbpf calls: any thread, as
// long as the map is not being destroyed meanwhile (the tracer's lock).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

struct bpf_map;

// The sum over CPUs of slot `index` of a per-CPU array of u64 (0 if unreadable).
uint64_t SumPerCpu(int mapFd, uint32_t index);

// How many entries a hash map holds now.
uint64_t CountEntries(int mapFd, uint32_t keySize);

// The --count map as packed (struct count_key, u64) pairs.
std::vector<uint8_t> ReadCountEntries(int mapFd);

// Hash maps with u64 keys and u32 or u64 values (bcc's cgroupmap/mntnsmap layouts).
class U64KeyMap {
 public:
  explicit U64KeyMap(struct bpf_map* map) : map_(map) {}
  // The largest value the map's values hold (UINT32_MAX or UINT64_MAX).
  uint64_t MaxValue() const;
  // 0 or an errno.
  int Update(uint64_t key, uint64_t value) const;
  bool Delete(uint64_t key) const;
  std::vector<std::pair<uint64_t, uint64_t>> Entries() const;

 private:
  struct bpf_map* map_;
};
