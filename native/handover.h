// SPDX-License-Identifier: Apache-2.0
// Daemon mode's pinned set: the programs' links, the ring buffer and the maps
// two sets share (inflight, stats, state), kept in a BPF filesystem directory
// across restarts of the agent. The next agent drains what was queued while
// none ran, books what was lost meanwhile from the pinned counters, attaches
// its own programs beside the old ones and then retires them: every bind is
// reported by one of the two (bpf/bindsnoop.bpf.c: take_inflight), none twice.
//
// Files under the directory: `state` (struct handover_state), `stats`,
// `inflight`, `events` (the ring), `link-<generation>-<program> (bpffs refuses names with a dot)`; `retiring/`
// holds, while a takeover runs, what this build could not share.
//
// Threads: Prepare and TakeOver run where the tracer loads (the JS thread);
// RetireOld and Heartbeat on the reader thread; Settle, Ack and the getters
// on the JS thread. Heartbeat, Settle and Ack are stores into the mmapped
// state, each to its own fields.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bindsnoop.h"
#include "program.h"

// What the previous owner left: the gap's books, read once at the takeover.
struct HandoverGap {
  bool found = false;  // a set was pinned there
  uint64_t previousGeneration = 0;
  uint64_t previousOwnerPid = 0;
  std::string previousVersion;
  // the previous owner's programs, by their tags (16 hex digits each)
  std::vector<std::string> previousProgramTags;
  uint64_t heartbeatAgeMillis = 0;  // how long its reader had been gone
  // stats slots counted after the previous owner last booked them (bpf/bindsnoop.h BINDSNOOP_STAT_*)
  uint64_t kernel[BINDSNOOP_STAT_SLOTS] = {};
  // taken from the ring by a previous reader and never exported or counted by it (it ended first)
  uint64_t unsettled = 0;
};

// Bytes one record takes in a BPF ring buffer: its 8-byte header, rounded up to 8.
constexpr uint64_t RingRecordBytes(uint64_t size) { return (size + 8 + 7) & ~uint64_t(7); }

class HandoverSet {
 public:
  // Before the programs load: makes `dir` (on a BPF filesystem), reads a
  // pinned set's state and moves into retiring/ what of it this build cannot
  // share (another set version: all of it; a ring of another layout, record
  // size or size: the ring), so that the programs reuse the rest. Null with
  // `error` set when the directory cannot be used. Any thread.
  static std::unique_ptr<HandoverSet> Prepare(const std::string& dir, uint32_t recordSize, uint32_t ringBytes,
                                              LoadError* error);
  ~HandoverSet();
  HandoverSet(const HandoverSet&) = delete;
  HandoverSet& operator=(const HandoverSet&) = delete;

  // After the programs loaded (reusing the pinned maps), before they attach:
  // books the previous owner's gap and takes the set over (generation,
  // heartbeat, overlap while older links remain). False with `error` set.
  bool TakeOver(const Program& program, uint64_t unownedAfterNs, const std::string& version, LoadError* error);
  // Where this owner's links are pinned: "<dir>/link-<generation>-"
  std::string LinkPrefix() const;
  // After this set attached: unpins and closes the older sets' links (the
  // kernel detaches them), counts the records of a set-aside ring, removes
  // retiring/, then ends the overlap. Reader thread.
  void RetireOld();
  // Reader thread: the owner is alive; ends the overlap once its grace is over.
  void Heartbeat();
  // Ends the overlap now (a stop before its grace was over).
  void EndOverlap();
  // JS thread: every record this owner took before `records` (counted from
  // its takeover) was exported or counted lost.
  void Settle(uint64_t records);
  // JS thread: the stats slots as this owner has booked them.
  void Ack(const uint64_t* slots);
  // Stats slot values at the takeover: this owner's books count from them.
  const uint64_t* Base() const { return base_; }
  const HandoverGap& gap() const { return gap_; }
  uint64_t generation() const { return generation_; }
  // records in a ring this build could not share (another layout, record size or size): counted, not decoded
  uint64_t setAside() const { return setAside_.load(); }
  // links of older sets retired after this one attached
  uint64_t linksRetired() const { return linksRetired_.load(); }

 private:
  HandoverSet(std::string dir, uint32_t recordSize, uint32_t ringBytes)
      : dir_(std::move(dir)), recordSize_(recordSize), ringBytes_(ringBytes) {}

  std::string dir_;
  uint32_t recordSize_;
  uint32_t ringBytes_;
  struct handover_state* state_ = nullptr;  // mmapped: stays valid after the program's fds close
  size_t stateBytes_ = 0;
  uint64_t startPos_ = 0;  // the ring's consumer position at the takeover
  uint64_t generation_ = 1;
  uint64_t base_[BINDSNOOP_STAT_SLOTS] = {};
  HandoverGap gap_;
  std::atomic<uint64_t> setAside_{0};  // written by RetireOld (reader thread)
  std::atomic<uint64_t> linksRetired_{0};
  // when the overlap ends (boot ns; 0: not pending): a bind that entered an old program before its link went
  // finishes through it, and must still find the overlap on
  std::atomic<uint64_t> overlapEndsAtNs_{0};
  // from Prepare: what the pinned state said before the programs reused it
  bool stateFound_ = false;
  struct handover_state previous_ = {};
  bool ringSetAside_ = false;
  std::vector<std::string> oldLinks_;  // names under dir_
};

// `bindsnoop cleanup`: what RemovePinnedSet removed.
struct RemovedSet {
  uint64_t links = 0;
  uint64_t maps = 0;
  // records queued in the ring that no reader will take
  uint64_t recordsDiscarded = 0;
};

// Unpins everything under `dir` (links first: the kernel detaches their
// programs) and removes it. 0 or an errno (ENOENT: nothing was there); *op
// says what failed. Any thread.
int RemovePinnedSet(const std::string& dir, RemovedSet* removed, std::string* op);
