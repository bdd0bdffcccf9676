// SPDX-License-Identifier: Apache-2.0
// The kernel side of bindsnoop as a JavaScript object: load and attach
// through the best backend the kernel allows (program.h), a reader thread
// that drains the ring buffer in batches (reader.h), and typed access to the
// maps (maps.h).
//
// Threads: every method below runs on the JavaScript thread. One worker
// thread per tracer runs the reader loop and, when stop() is asked for,
// detaches, drains, reads the final counters and unloads, so that stop()
// itself returns at once; the promise resolves on the JavaScript thread once
// every batch has been delivered.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "encoder.h"
#include "handover.h"
#include "options.h"
#include "program.h"
#include "reader.h"

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // What stop() waits for; outlives the tracer when the tracer is collected first.
  struct Completion {
    std::thread worker;
    std::vector<Napi::Promise::Deferred> waiters;
    bool done = false;
    // batches handed to JavaScript and not yet processed there (read by the
    // reader thread; here because queued batches may outlive the Tracer)
    std::atomic<uint32_t> batchesInJs{0};
    std::atomic<uint64_t> bytesInJs{0};
    // encoded batches' memory that JavaScript is done with (recycled, or its Buffer collected), for the reader to write
    // again: fresh memory costs a page fault a page, and its unmapping a TLB shootdown of the reader's core
    std::mutex spareMutex;
    std::vector<std::pair<uint8_t*, size_t>> spareEncoded;
    size_t spareEncodedBytes = 0;
    // encoded batches JavaScript holds, by their memory (JS thread only): recycleEncoded() hands one back early
    struct HandedOut {
      size_t capacity;
      bool recycled;
    };
    std::unordered_map<uint8_t*, HandedOut*> handedOut;
    ~Completion() {
      for (auto& s : spareEncoded) free(s.first);
    }
    // Any thread: keeps memory of `capacity` bytes to be written again, when the spares have room (false: not kept).
    bool KeepSpare(uint8_t* data, size_t capacity) {
      std::lock_guard<std::mutex> lock(spareMutex);
      if (spareEncodedBytes + capacity > kMaxSpareEncodedBytes) return false;
      spareEncoded.emplace_back(data, capacity);
      spareEncodedBytes += capacity;
      return true;
    }
    // Reader thread: a spare's memory into `into`, when there is one.
    void TakeSpare(ByteBuffer* into) {
      std::lock_guard<std::mutex> lock(spareMutex);
      if (spareEncoded.empty()) return;
      auto spare = spareEncoded.back();
      spareEncoded.pop_back();
      spareEncodedBytes -= spare.second;
      into->Adopt(spare.first, spare.second);
    }
  };
  // encoded batches' memory kept to be written again, at most (a few hundred milliseconds of a flood's batches)
  static constexpr size_t kMaxSpareEncodedBytes = 4u << 20;

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Counts(const Napi::CallbackInfo& info);
  Napi::Value Attached(const Napi::CallbackInfo& info);
  Napi::Value BackendInfo(const Napi::CallbackInfo& info);
  Napi::Value MapUpdate(const Napi::CallbackInfo& info);
  Napi::Value MapDelete(const Napi::CallbackInfo& info);
  Napi::Value MapEntries(const Napi::CallbackInfo& info);
  Napi::Value Settle(const Napi::CallbackInfo& info);
  Napi::Value Handover(const Napi::CallbackInfo& info);
  Napi::Value EncodeCgroupAs(const Napi::CallbackInfo& info);
  Napi::Value ForgetEncodedCgroups(const Napi::CallbackInfo& info);
  Napi::Value RecycleEncoded(const Napi::CallbackInfo& info);

  void LoadAndAttach(Napi::Env env);
  // JS thread: a thread-safe function whose finalizer completes stop().
  Napi::ThreadSafeFunction MakeDelivery(Napi::Env env, Napi::Function callback, size_t queue);
  // null with an Error thrown when no Kubernetes map has that name (or the tracer stopped)
  struct bpf_map* K8sMapArg(const Napi::CallbackInfo& info);

  // Worker thread.
  void RunReader();
  void Deliver(std::vector<uint8_t>&& batch, size_t records);
  void Encode(std::vector<uint8_t>* records, ByteBuffer* encoded);
  void Unload();  // detach, drain, keep the final counters, free; then release delivery
  void SnapshotKernelStats();  // with mutex_ held

  TracerOptions opts_;
  std::vector<std::string> backendNotes_;

  std::mutex mutex_;  // guards program_ against the worker's unload
  std::unique_ptr<Program> program_;
  std::unique_ptr<RingReader> reader_;
  // daemon mode's pinned set: the programs stay attached when this tracer stops
  std::unique_ptr<HandoverSet> handover_;
  Backend backend_ = Backend::kTracepoint;
  std::string attachPoint_;

  bool started_ = false;
  bool stopRequested_ = false;
  // handover: stop() leaves the set attached for the next agent, unless told to remove it (its DaemonSet is gone)
  bool keepAttached_ = true;
  bool setRemoved_ = false;
  Napi::ThreadSafeFunction deliver_;
  std::shared_ptr<Completion> completion_ = std::make_shared<Completion>();

  std::atomic<bool> readerAlive_{false};
  std::atomic<int> readerErrno_{0};
  std::atomic<uint64_t> recordsDroppedQueueFull_{0};
  std::atomic<uint64_t> batchesQueued_{0};
  // start()'s encoder: the reader thread encodes each record it can into an OTLP LogRecord (null: none)
  std::shared_ptr<const Encoder> encoder_;
  std::atomic<uint64_t> encodedRecords_{0};
  std::atomic<uint64_t> encodedBytes_{0};
  std::atomic<uint64_t> encodeNanos_{0};
  std::atomic<uint64_t> unencodedRecords_{0};
  // start()'s cgroupSlots: a record is encoded only when JavaScript has named its cgroup's resource (a slot, from
  // encodeCgroupAs); the others take its path (Kubernetes mode: the pod is JavaScript's to resolve)
  bool cgroupSlots_ = false;
  std::mutex slotsMutex_;
  std::unordered_map<uint64_t, uint32_t> slots_;
  // cgroups named at most: past it encodeCgroupAs refuses until forgetEncodedCgroups
  static constexpr size_t kMaxCgroupSlots = 16384;

  // Kernel counters, kept after the maps are gone: this tracer's, counted from base_ (a pinned set's
  // counters go on across owners; the handover books what came before)
  uint64_t raw_[BINDSNOOP_STAT_SLOTS] = {};
  uint64_t base_[BINDSNOOP_STAT_SLOTS] = {};
  uint64_t unowned_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t ringFull_ = 0;
  uint64_t inflightFull_ = 0;
  uint64_t countFull_ = 0;
  uint64_t inflightOrphaned_ = 0;
  // binds between entry and return when the programs were detached: seen starting, never reported
  uint64_t inflightAtStop_ = 0;
  RemovedSet removed_;
  std::vector<uint8_t> finalCounts_;
};
