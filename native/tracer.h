// SPDX-License-Identifier: Apache-2.0
// The kernel side of bindsnoop as a JavaScript object: load, attach, map
// access, and a reader thread that drains the ring buffer in batches.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

struct bindsnoop_bpf;
struct ring_buffer;

struct TracerOptions {
  uint32_t pid = 0;  // 0 = any
  bool filterUid = false;
  uint32_t uid = 0;
  std::vector<uint16_t> ports;
  bool includeErrors = false;
  bool countMode = false;
  std::string cgroupMapPath;
  std::string mntnsMapPath;
  uint32_t ringBufferBytes = 1 << 20;
  uint32_t wakeupBytes = 64 * 1024;
  uint32_t drainIntervalMillis = 50;
  uint32_t maxPendingBatches = 64;
  // Kubernetes mode: pin k8s_cgroups/k8s_mntns/k8s_excluded here (reused when already pinned)
  std::string pinDir;
};

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // All of these run on the JavaScript thread.
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Counts(const Napi::CallbackInfo& info);
  Napi::Value Attached(const Napi::CallbackInfo& info);
  Napi::Value MapUpdate(const Napi::CallbackInfo& info);
  Napi::Value MapDelete(const Napi::CallbackInfo& info);
  Napi::Value MapEntries(const Napi::CallbackInfo& info);
  struct bpf_map* K8sMap(const std::string& name) const;

  void LoadAndAttach(Napi::Env env);
  int ReuseFilterMap(Napi::Env env, const std::string& path, struct bpf_map* map, uint32_t valueSize,
                     const char* flag);
  void Teardown();
  void SnapshotKernelStats();
  std::vector<uint8_t> ReadCounts() const;

  // Runs on the reader thread.
  void ReadLoop();
  void FlushBatch();
  static int OnRecord(void* ctx, void* data, size_t size);

  TracerOptions opts_;
  bindsnoop_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  int pinnedCgroupFd_ = -1;
  int pinnedMntnsFd_ = -1;

  std::thread reader_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> readerAlive_{false};
  bool started_ = false;
  bool stopped_ = false;
  Napi::ThreadSafeFunction deliver_;
  Napi::Promise::Deferred* stopDeferred_ = nullptr;

  // Reader-thread state; the counters are read from the JS thread.
  std::vector<uint8_t> batch_;
  std::atomic<uint64_t> recordsRead_{0};
  std::atomic<uint64_t> recordsDroppedQueueFull_{0};
  std::atomic<uint64_t> batchesQueued_{0};
  std::atomic<uint64_t> drainPasses_{0};

  // Kernel counters kept after the maps are gone.
  uint64_t ringFull_ = 0;
  uint64_t inflightFull_ = 0;
  uint64_t countFull_ = 0;
  std::vector<uint8_t> finalCounts_;
};
