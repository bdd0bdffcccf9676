// SPDX-License-Identifier: Apache-2.0
// Drains the kernel's ring buffer into batches of packed records. The poll
// runs on the tracer's reader thread; Wake() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct ring_buffer;

class RingReader {
 public:
  using Sink = std::function<void(std::vector<uint8_t>&& batch, size_t records)>;
  // Whether the consumer can take another batch now.
  using Room = std::function<bool()>;

  // Records in one batch at most: a batch is one call into JavaScript, which
  // should not hold its thread (and the agent's HTTP endpoints) for long.
  static constexpr size_t kMaxBatchRecords = 1024;

  // Null with *err set (an errno) when the ring or its poll set cannot be made.
  static std::unique_ptr<RingReader> Create(int ringFd, size_t recordSize, int* err);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // Reader thread. Sleeps until the kernel wakes it or drainIntervalMillis
  // pass (records submitted without a wakeup are taken then), hands each
  // drained batch to `sink` while `room()` says the consumer can take one, and
  // returns once Wake() is called (0) or polling fails (that errno). When the
  // consumer has no room the records stay in the ring: the kernel then counts
  // what does not fit (ring full) instead of the agent buffering without
  // bound. Never blocks on the sink's consumer.
  int Loop(int drainIntervalMillis, const Sink& sink, const Room& room, const std::function<void()>& onPass = nullptr);
  // Counts the records written before `bootNs` (a handover's gap: queued while no reader ran). Before Loop.
  void CountBefore(uint64_t bootNs) { gapEndNs_ = bootNs; }
  uint64_t recordsBefore() const { return recordsBefore_.load(); }
  // Reader thread: takes what is pending now, in batches of kMaxBatchRecords,
  // while room() allows (always, when room is empty).
  void Drain(const Sink& sink, const Room& room = nullptr);
  // Reader thread: blocks until Wake() (after Loop failed).
  void WaitForWake();
  // Any thread: ends Loop()/WaitForWake().
  void Wake();
  // Reader thread, after its last Drain: frees the ring and closes its fds at
  // once (not when JavaScript collects the tracer); the counters stay readable.
  void Close();

  // Reader thread, from the sink: a batch's memory, its records taken (all encoded), to hold the next batch:
  // written again rather than faulted in fresh.
  void Recycle(std::vector<uint8_t>&& batch);

  uint64_t recordsRead() const { return recordsRead_.load(); }
  uint64_t recordsMalformed() const { return recordsMalformed_.load(); }
  uint64_t drainPasses() const { return drainPasses_.load(); }

 private:
  RingReader(size_t recordSize) : recordSize_(recordSize) {}
  static int OnRecord(void* ctx, void* data, size_t size);

  size_t recordSize_;
  ring_buffer* ring_ = nullptr;
  int epollFd_ = -1;
  int wakeFd_ = -1;
  std::vector<uint8_t> batch_;
  std::vector<uint8_t> spare_;
  size_t batchRecords_ = 0;
  std::atomic<bool> woken_{false};
  // Wake() (any thread) against Close() (reader thread): never write to a closed, perhaps reused, fd
  std::mutex fdMutex_;
  std::atomic<uint64_t> recordsRead_{0};
  std::atomic<uint64_t> recordsMalformed_{0};
  std::atomic<uint64_t> drainPasses_{0};
  uint64_t gapEndNs_ = 0;
  std::atomic<uint64_t> recordsBefore_{0};
};
