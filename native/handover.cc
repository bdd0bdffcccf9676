// SPDX-License-Identifier: Apache-2.0
#include "handover.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "errors.h"
#include "maps.h"

namespace {

constexpr const char* kRetiring = "retiring";
// How long the overlap stays on after the old links are gone: a bind already inside an old program (a trampoline
// image, a perf event's program list) finishes through it, and one return of two must still leave the other its
// claim. Binds take microseconds; this is far past any under emulation.
constexpr uint64_t kOverlapGraceNs = 1000000000ull;

uint64_t BootNs() {
  struct timespec t;
  clock_gettime(CLOCK_BOOTTIME, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

void Fail(LoadError* error, int err, const std::string& op, const std::string& hint) {
  error->err = err < 0 ? -err : err;
  error->op = op;
  error->hint = hint;
}

// What a user can do when a file of the set cannot be made or moved: privileges, or nothing to say.
std::string PinHint(int err) { return err == EPERM || err == EACCES ? HintFor(err) : ""; }

// mkdir -p on a BPF filesystem (bpffs allows directories).
int MakeDirs(const std::string& dir) {
  for (size_t at = 1; at <= dir.size(); at++) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string part = dir.substr(0, at);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return errno;
  }
  return 0;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsLink(const std::string& name) { return name.rfind("link-", 0) == 0; }

// The consumer and producer positions of a BPF ring buffer (its first two pages), or false.
bool RingPositions(int ringFd, uint64_t* consumer, uint64_t* producer) {
  const size_t page = PageSize();
  void* c = mmap(nullptr, page, PROT_READ, MAP_SHARED, ringFd, 0);
  if (c == MAP_FAILED) return false;
  void* p = mmap(nullptr, page, PROT_READ, MAP_SHARED, ringFd, page);
  if (p == MAP_FAILED) {
    munmap(c, page);
    return false;
  }
  *consumer = __atomic_load_n(static_cast<uint64_t*>(c), __ATOMIC_ACQUIRE);
  *producer = __atomic_load_n(static_cast<uint64_t*>(p), __ATOMIC_ACQUIRE);
  munmap(c, page);
  munmap(p, page);
  return true;
}

// The pinned object's map info, or false (not there, not a map).
bool MapInfo(const std::string& path, struct bpf_map_info* info, int* fdOut = nullptr) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return false;
  __u32 len = sizeof(*info);
  memset(info, 0, sizeof(*info));
  bool ok = bpf_obj_get_info_by_fd(fd, info, &len) == 0;
  if (fdOut && ok) *fdOut = fd;
  else close(fd);
  return ok;
}

int CountRecord(void* ctx, void*, size_t) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

// Records queued in the ring pinned at `path`, consumed (they will never be read). 0 when none or unreadable.
uint64_t ConsumeAll(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return 0;
  uint64_t n = 0;
  struct ring_buffer* rb = ring_buffer__new(fd, CountRecord, &n, nullptr);
  if (rb) {
    while (ring_buffer__consume(rb) > 0) {
    }
    ring_buffer__free(rb);
  }
  close(fd);
  return n;
}

// Unpins a link so that the kernel detaches it now: our own fd keeps it until close() releases it at once
// (an unpin alone drops the last reference from a work queue, a little later).
bool RetireLink(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  bool removed = unlink(path.c_str()) == 0;
  if (fd >= 0) close(fd);
  return removed;
}

}  // namespace

std::unique_ptr<HandoverSet> HandoverSet::Prepare(const std::string& dir, uint32_t recordSize, uint32_t ringBytes,
                                                  LoadError* error) {
  std::unique_ptr<HandoverSet> set(new HandoverSet(dir, recordSize, ringBytes));
  if (int err = MakeDirs(dir)) {
    Fail(error, err, "make the handover directory " + dir, err == ENOENT ? "mount a BPF filesystem: mount -t bpf bpf /sys/fs/bpf" : PinHint(err));
    return nullptr;
  }
  if (!OnBpffs(dir)) {
    Fail(error, EINVAL, "use the handover directory " + dir,
         "it is not on a BPF filesystem (mount one: mount -t bpf bpf /sys/fs/bpf)");
    return nullptr;
  }
  const std::string retiring = dir + "/" + kRetiring;
  // a takeover that failed half-way left its retiring/ behind: those links may still be what traces; they
  // are retired with the others once this set is attached
  for (const std::string& name : Entries(retiring))
    if (IsLink(name)) set->oldLinks_.push_back(std::string(kRetiring) + "/" + name);

  struct bpf_map_info info;
  int stateFd = -1;
  if (MapInfo(dir + "/state", &info, &stateFd)) {
    bool shareable = info.type == BPF_MAP_TYPE_ARRAY && info.value_size == sizeof(struct handover_state) &&
                     info.max_entries == 1;
    if (shareable) {
      uint32_t zero = 0;
      shareable = bpf_map_lookup_elem(stateFd, &zero, &set->previous_) == 0 &&
                  set->previous_.set_version == BINDSNOOP_SET_VERSION;
    }
    close(stateFd);
    if (shareable) {
      set->stateFound_ = true;
      set->generation_ = set->previous_.generation + 1;
      struct bpf_map_info ring;
      bool ringShared = MapInfo(dir + "/events", &ring) && ring.type == BPF_MAP_TYPE_RINGBUF &&
                        ring.max_entries == ringBytes && set->previous_.layout_version == BINDSNOOP_LAYOUT_VERSION &&
                        set->previous_.record_size == recordSize;
      if (!ringShared && access((dir + "/events").c_str(), F_OK) == 0) set->ringSetAside_ = true;
    } else {
      // another set version: nothing of it can be shared; all of it retires after this set attaches
      set->ringSetAside_ = true;
      set->gap_.found = true;
    }
    const std::vector<std::string> names = Entries(dir);
    const bool moveAll = !shareable;
    if (moveAll || set->ringSetAside_) {
      if (mkdir(retiring.c_str(), 0700) != 0 && errno != EEXIST) {
        int err = errno;
        Fail(error, err, "make " + retiring, PinHint(err));
        return nullptr;
      }
    }
    for (const std::string& name : names) {
      if (name == kRetiring) continue;
      const bool move = moveAll || (set->ringSetAside_ && name == "events");
      if (move && rename((dir + "/" + name).c_str(), (retiring + "/" + name).c_str()) != 0) {
        int err = errno;
        Fail(error, err, "move " + dir + "/" + name + " aside", PinHint(err));
        return nullptr;
      }
      if (IsLink(name)) set->oldLinks_.push_back((move ? std::string(kRetiring) + "/" : std::string()) + name);
    }
  } else {
    // links without a state: a set this build cannot read at all; moved aside and retired all the same
    for (const std::string& name : Entries(dir)) {
      if (!IsLink(name)) continue;
      if ((mkdir(retiring.c_str(), 0700) != 0 && errno != EEXIST) ||
          rename((dir + "/" + name).c_str(), (retiring + "/" + name).c_str()) != 0) {
        int err = errno;
        Fail(error, err, "move " + dir + "/" + name + " aside", PinHint(err));
        return nullptr;
      }
      set->oldLinks_.push_back(std::string(kRetiring) + "/" + name);
    }
  }
  return set;
}

HandoverSet::~HandoverSet() {
  if (state_) munmap(state_, stateBytes_);
}

bool HandoverSet::TakeOver(const Program& program, uint64_t unownedAfterNs, const std::string& version,
                           LoadError* error) {
  if (state_) munmap(state_, stateBytes_);  // a backend tried before this one
  state_ = nullptr;
  stateBytes_ = (sizeof(struct handover_state) + PageSize() - 1) & ~(PageSize() - 1);
  void* mem = mmap(nullptr, stateBytes_, PROT_READ | PROT_WRITE, MAP_SHARED, program.StateFd(), 0);
  if (mem == MAP_FAILED) {
    int err = errno;
    Fail(error, err, "map the pinned state", HintFor(err));
    return false;
  }
  state_ = static_cast<struct handover_state*>(mem);
  uint64_t consumer = 0, producer = 0;
  if (!RingPositions(program.RingFd(), &consumer, &producer)) {
    int err = errno;
    Fail(error, err, "map the ring buffer's positions", HintFor(err));
    return false;
  }
  startPos_ = consumer;
  const uint64_t now = BootNs();
  const uint64_t recordBytes = RingRecordBytes(recordSize_);
  for (uint32_t slot = 0; slot < BINDSNOOP_STAT_SLOTS; slot++) base_[slot] = SumPerCpu(program.StatsFd(), slot);

  if (stateFound_) {
    const struct handover_state& p = previous_;
    gap_.found = true;
    gap_.previousGeneration = p.generation;
    gap_.previousOwnerPid = p.owner_pid;
    gap_.previousVersion = std::string(p.owner_version, strnlen(p.owner_version, sizeof(p.owner_version)));
    gap_.heartbeatAgeMillis = now > p.heartbeat_boot_ns ? (now - p.heartbeat_boot_ns) / 1000000 : 0;
    for (uint32_t i = 0; i < std::min<uint32_t>(p.program_count, BINDSNOOP_SET_MAX_PROGRAMS); i++) {
      char hex[17];
      for (int b = 0; b < 8; b++) snprintf(hex + 2 * b, 3, "%02x", p.program_tags[i][b]);
      gap_.previousProgramTags.push_back(hex);
    }
    for (uint32_t slot = 0; slot < BINDSNOOP_STAT_SLOTS; slot++)
      gap_.kernel[slot] = base_[slot] >= p.acked[slot] ? base_[slot] - p.acked[slot] : 0;
    if (!ringSetAside_) {
      // the ring is the same: what its last reader took past what it settled, it took and never booked
      if (consumer > p.settled_pos) gap_.unsettled = (consumer - p.settled_pos) / recordBytes;
    } else {
      struct bpf_map_info info;
      int oldFd = -1;
      uint64_t oldConsumer = 0, oldProducer = 0;
      if (MapInfo(dir_ + "/" + kRetiring + "/events", &info, &oldFd)) {
        if (RingPositions(oldFd, &oldConsumer, &oldProducer) && oldConsumer > p.settled_pos)
          gap_.unsettled = (oldConsumer - p.settled_pos) / RingRecordBytes(p.record_size ? p.record_size : recordSize_);
        close(oldFd);
      }
    }
  }

  struct handover_state& s = *state_;
  const bool ringMadeHere = !stateFound_ || ringSetAside_;
  s.set_version = BINDSNOOP_SET_VERSION;
  s.layout_version = BINDSNOOP_LAYOUT_VERSION;
  s.record_size = recordSize_;
  s.ring_bytes = ringBytes_;
  if (ringMadeHere) {
    memset(s.made_by, 0, sizeof(s.made_by));
    memcpy(s.made_by, version.data(), std::min(version.size(), sizeof(s.made_by) - 1));
  }
  memset(s.owner_version, 0, sizeof(s.owner_version));
  memcpy(s.owner_version, version.data(), std::min(version.size(), sizeof(s.owner_version) - 1));
  s.generation = generation_;
  // this owner's programs, by their tags: what runs in the kernel for the next owner to name
  const std::vector<int> programs = program.ProgramFds();
  s.program_count = 0;
  for (int fd : programs) {
    struct bpf_prog_info info = {};
    __u32 len = sizeof(info);
    if (s.program_count >= BINDSNOOP_SET_MAX_PROGRAMS || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    memcpy(s.program_tags[s.program_count++], info.tag, sizeof(info.tag));
  }
  s.owner_pid = static_cast<uint64_t>(getpid());
  s.settled_pos = consumer;
  for (uint32_t slot = 0; slot < BINDSNOOP_STAT_SLOTS; slot++) s.acked[slot] = base_[slot];
  __atomic_store_n(&s.unowned_after_ns, unownedAfterNs, __ATOMIC_RELEASE);
  __atomic_store_n(&s.heartbeat_boot_ns, now, __ATOMIC_RELEASE);
  // set before this set attaches: from then on two sets may see each bind, and the first return claims it
  __atomic_store_n(&s.overlap, oldLinks_.empty() ? 0 : 1, __ATOMIC_RELEASE);
  return true;
}

std::string HandoverSet::LinkPrefix() const { return dir_ + "/link-" + std::to_string(generation_) + "-"; }

void HandoverSet::RetireOld() {
  for (const std::string& name : oldLinks_)
    if (RetireLink(dir_ + "/" + name)) linksRetired_++;
  oldLinks_.clear();
  const std::string retiring = dir_ + "/" + kRetiring;
  for (const std::string& name : Entries(retiring)) {
    const std::string path = retiring + "/" + name;
    if (IsLink(name)) RetireLink(path);
  }
  // the old programs are detached: what their ring holds now is all it will hold
  if (access((retiring + "/events").c_str(), F_OK) == 0) setAside_ = ConsumeAll(retiring + "/events");
  for (const std::string& name : Entries(retiring)) unlink((retiring + "/" + name).c_str());
  rmdir(retiring.c_str());
  // a bind that entered an old program before its link went still finishes through it: the overlap ends after a
  // grace (Heartbeat), so that its two entries and two returns still see it on
  if (state_ && __atomic_load_n(&state_->overlap, __ATOMIC_ACQUIRE)) overlapEndsAtNs_ = BootNs() + kOverlapGraceNs;
}

void HandoverSet::EndOverlap() {
  overlapEndsAtNs_ = 0;
  if (state_) __atomic_store_n(&state_->overlap, 0, __ATOMIC_RELEASE);
}

void HandoverSet::Heartbeat() {
  if (!state_) return;
  const uint64_t now = BootNs();
  __atomic_store_n(&state_->heartbeat_boot_ns, now, __ATOMIC_RELEASE);
  const uint64_t endsAt = overlapEndsAtNs_.load();
  if (endsAt && now >= endsAt) EndOverlap();
}

void HandoverSet::Settle(uint64_t records) {
  if (state_) __atomic_store_n(&state_->settled_pos, startPos_ + records * RingRecordBytes(recordSize_), __ATOMIC_RELEASE);
}

void HandoverSet::Ack(const uint64_t* slots) {
  if (!state_) return;
  for (uint32_t slot = 0; slot < BINDSNOOP_STAT_SLOTS; slot++)
    __atomic_store_n(&state_->acked[slot], slots[slot], __ATOMIC_RELEASE);
}

int RemovePinnedSet(const std::string& dir, RemovedSet* removed, std::string* op) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    *op = "find " + dir;
    return errno;
  }
  std::vector<std::string> dirs = {dir + "/" + kRetiring, dir};
  // links first: once they are gone nothing writes to the ring, and what it holds is what is discarded
  for (const std::string& d : dirs)
    for (const std::string& name : Entries(d))
      if (IsLink(name) && RetireLink(d + "/" + name)) removed->links++;
  for (const std::string& d : dirs) {
    for (const std::string& name : Entries(d)) {
      const std::string path = d + "/" + name;
      if (name == kRetiring) continue;
      if (name == "events") removed->recordsDiscarded += ConsumeAll(path);
      if (unlink(path.c_str()) != 0) {
        *op = "remove " + path;
        return errno;
      }
      removed->maps++;
    }
  }
  rmdir((dir + "/" + kRetiring).c_str());
  if (rmdir(dir.c_str()) != 0) {
    *op = "remove " + dir;
    return errno;
  }
  return 0;
}
