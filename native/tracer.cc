// SPDX-License-Identifier: Apache-2.0
#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include "bindsnoop.h"
#include "bindsnoop.skel.h"
#include "errors.h"

namespace {

uint32_t GetUint(const Napi::Object& o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
}

bool GetBool(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// One batch of packed records on its way from the reader thread to JS.
struct Batch {
  std::vector<uint8_t> bytes;
};

uint64_t SumPerCpu(int mapFd, uint32_t index) {
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return 0;
  std::vector<uint64_t> values(ncpus);
  if (bpf_map_lookup_elem(mapFd, &index, values.data())) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod("start", &Tracer::Start),
                         InstanceMethod("stop", &Tracer::Stop),
                         InstanceMethod("stats", &Tracer::Stats),
                         InstanceMethod("counts", &Tracer::Counts),
                         InstanceMethod("attached", &Tracer::Attached),
                         InstanceMethod("mapUpdate", &Tracer::MapUpdate),
                         InstanceMethod("mapDelete", &Tracer::MapDelete),
                         InstanceMethod("mapEntries", &Tracer::MapEntries),
                     });
}

// JS thread. Validated options in, a loaded and attached tracer out, or an
// exception with nothing left in the kernel.
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "Tracer(options): options object required").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  opts_.pid = GetUint(o, "pid", 0);
  opts_.filterUid = GetBool(o, "filterUid");
  opts_.uid = GetUint(o, "uid", 0);
  opts_.includeErrors = GetBool(o, "includeErrors");
  opts_.countMode = GetBool(o, "countMode");
  opts_.cgroupMapPath = GetString(o, "cgroupMapPath");
  opts_.mntnsMapPath = GetString(o, "mntnsMapPath");
  opts_.ringBufferBytes = GetUint(o, "ringBufferBytes", opts_.ringBufferBytes);
  opts_.wakeupBytes = GetUint(o, "wakeupBytes", opts_.wakeupBytes);
  opts_.drainIntervalMillis = GetUint(o, "drainIntervalMillis", opts_.drainIntervalMillis);
  opts_.maxPendingBatches = GetUint(o, "maxPendingBatches", opts_.maxPendingBatches);
  opts_.pinDir = GetString(o, "pinDir");
  Napi::Value ports = o.Get("ports");
  if (ports.IsArray()) {
    Napi::Array arr = ports.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      opts_.ports.push_back(static_cast<uint16_t>(arr.Get(i).As<Napi::Number>().Uint32Value()));
  }
  if (opts_.ports.size() > BINDSNOOP_MAX_PORTS) {
    ThrowBpfError(env, EINVAL, "configure", "at most " + std::to_string(BINDSNOOP_MAX_PORTS) + " ports");
    return;
  }

  LoadAndAttach(env);
  if (env.IsExceptionPending()) Teardown();
}

Tracer::~Tracer() {
  // Finalizer (JS thread). A tracer that is garbage-collected while running is
  // stopped here so nothing stays attached, and its queue towards JS is
  // abandoned so it cannot keep the event loop alive.
  stopping_ = true;
  if (reader_.joinable()) reader_.join();
  if (started_ && !stopped_) deliver_.Abort();
  Teardown();
}

// JS thread. Returns our fd of the user's pinned map, or -1 with an exception pending.
int Tracer::ReuseFilterMap(Napi::Env env, const std::string& path, struct bpf_map* map, uint32_t valueSize,
                           const char* flag) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    int err = errno;
    std::string hint = err == ENOENT
                           ? std::string("no BPF object is pinned at ") + path +
                                 "; create it first, e.g. bpftool map create " + path + " type hash key 8 value " +
                                 std::to_string(valueSize) + " entries 128 name filter"
                           : HintFor(err);
    ThrowBpfError(env, err, std::string("open ") + flag + " map " + path, hint);
    return -1;
  }
  struct bpf_map_info info = {};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
    int err = errno;
    close(fd);
    ThrowBpfError(env, err, std::string("inspect ") + flag + " map " + path, HintFor(err));
    return -1;
  }
  if (info.type != BPF_MAP_TYPE_HASH || info.key_size != 8 || info.value_size != valueSize) {
    close(fd);
    ThrowBpfError(env, EINVAL, std::string("use ") + flag + " map " + path,
                  "expected a hash map with 8-byte keys and " + std::to_string(valueSize) +
                      "-byte values (found type " + std::to_string(info.type) + ", key " +
                      std::to_string(info.key_size) + ", value " + std::to_string(info.value_size) + ")");
    return -1;
  }
  int err = bpf_map__reuse_fd(map, fd);
  if (err) {
    close(fd);
    ThrowBpfError(env, -err, std::string("reuse ") + flag + " map " + path, HintFor(-err));
    return -1;
  }
  // libbpf dup()s the fd; ours is closed at teardown.
  return fd;
}

void Tracer::LoadAndAttach(Napi::Env env) {
  CaptureLibbpfLog();
  skel_ = bindsnoop_bpf__open();
  if (!skel_) {
    int err = errno;
    ThrowBpfError(env, err, "open BPF object", HintFor(err));
    return;
  }
  auto* ro = skel_->rodata;
  ro->target_tgid = opts_.pid;
  ro->filter_uid = opts_.filterUid;
  ro->target_uid = opts_.uid;
  ro->filter_ports = !opts_.ports.empty();
  ro->include_errors = opts_.includeErrors;
  ro->count_mode = opts_.countMode;
  ro->filter_cgroup = !opts_.cgroupMapPath.empty();
  ro->filter_mntns = !opts_.mntnsMapPath.empty();
  ro->wakeup_bytes = opts_.wakeupBytes;
  ro->k8s_exclusions = !opts_.pinDir.empty();

  if (!opts_.pinDir.empty()) {
    // libbpf reuses a compatible map already pinned there (a restarted agent), else creates and pins it
    const std::pair<struct bpf_map*, const char*> pins[] = {
        {skel_->maps.k8s_cgroups, "cgroups"}, {skel_->maps.k8s_mntns, "mntns"}, {skel_->maps.k8s_excluded, "excluded"}};
    for (const auto& [map, name] : pins) {
      std::string path = opts_.pinDir + "/" + name;
      int e = bpf_map__set_pin_path(map, path.c_str());
      if (e) {
        ThrowBpfError(env, -e, "set pin path " + path, HintFor(-e));
        return;
      }
    }
  }

  int err = bpf_map__set_max_entries(skel_->maps.events, opts_.ringBufferBytes);
  if (err) {
    ThrowBpfError(env, -err, "size ring buffer", "ringBufferBytes must be a power of two multiple of the page size");
    return;
  }
  if (!opts_.cgroupMapPath.empty()) {
    pinnedCgroupFd_ = ReuseFilterMap(env, opts_.cgroupMapPath, skel_->maps.cgroup_filter, 8, "--cgroupmap");
    if (env.IsExceptionPending()) return;
  }
  if (!opts_.mntnsMapPath.empty()) {
    pinnedMntnsFd_ = ReuseFilterMap(env, opts_.mntnsMapPath, skel_->maps.mntns_filter, 4, "--mntnsmap");
    if (env.IsExceptionPending()) return;
  }

  err = bindsnoop_bpf__load(skel_);
  if (err) {
    std::string hint = HintFor(-err);
    if (!opts_.pinDir.empty() && -err == EINVAL)
      hint += "; or a map pinned under " + opts_.pinDir + " has another layout: remove it";
    ThrowBpfError(env, -err, "load BPF programs", hint, LastLibbpfLog());
    return;
  }

  int portsFd = bpf_map__fd(skel_->maps.ports);
  for (uint16_t port : opts_.ports) {
    uint8_t one = 1;
    if (bpf_map_update_elem(portsFd, &port, &one, BPF_ANY)) {
      int e = errno;
      ThrowBpfError(env, e, "fill ports map", HintFor(e));
      return;
    }
  }

  std::string tracefsError = EnsureTracefs();
  if (!tracefsError.empty()) {
    ThrowBpfError(env, ENOENT, "find tracefs", tracefsError);
    return;
  }
  err = bindsnoop_bpf__attach(skel_);
  if (err) {
    ThrowBpfError(env, -err, "attach tracepoints syscalls:sys_{enter,exit}_bind", HintFor(-err), LastLibbpfLog());
    return;
  }

  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Tracer::OnRecord, this, nullptr);
  if (!ring_) {
    int e = errno;
    ThrowBpfError(env, e, "open ring buffer", HintFor(e));
    return;
  }
}

// JS thread. start(onBatch): onBatch(Buffer) is called on the JS thread with
// one or more packed records.
Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_ || stopped_) {
    ThrowBpfError(env, EINVAL, "start", "a tracer can be started once");
    return env.Undefined();
  }
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "start(onBatch): callback required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  deliver_ = Napi::ThreadSafeFunction::New(
      env, info[0].As<Napi::Function>(), "bindsnoop-reader", opts_.maxPendingBatches, 1, this,
      [](Napi::Env, Tracer* self) {
        // Runs on the JS thread once every queued batch has been delivered.
        if (self->stopDeferred_) {
          self->stopDeferred_->Resolve(self->Env().Undefined());
          delete self->stopDeferred_;
          self->stopDeferred_ = nullptr;
        }
      });
  started_ = true;
  readerAlive_ = true;
  reader_ = std::thread([this] { ReadLoop(); });
  return env.Undefined();
}

// Reader thread: sleep until woken or the drain interval passes, then take
// everything pending. Never blocks on JavaScript.
void Tracer::ReadLoop() {
  const int timeout = static_cast<int>(opts_.drainIntervalMillis);
  while (!stopping_.load()) {
    int n = ring_buffer__poll(ring_, timeout);
    if (n < 0 && n != -EINTR) break;
    // Records submitted with BPF_RB_NO_WAKEUP do not wake epoll: take them too.
    ring_buffer__consume(ring_);
    drainPasses_++;
    FlushBatch();
  }
  // Last pass after the programs were detached: nothing more can arrive.
  ring_buffer__consume(ring_);
  FlushBatch();
  readerAlive_ = false;
}

// Reader thread (inside ring_buffer__poll/consume).
int Tracer::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Tracer*>(ctx);
  if (size < sizeof(struct bind_event)) return 0;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  self->batch_.insert(self->batch_.end(), p, p + sizeof(struct bind_event));
  self->recordsRead_++;
  return 0;
}

// Reader thread: hand the batch to JS if its queue has room; otherwise count
// the records as lost at the reader stage.
void Tracer::FlushBatch() {
  if (batch_.empty()) return;
  auto* batch = new Batch{std::move(batch_)};
  batch_ = std::vector<uint8_t>();
  size_t records = batch->bytes.size() / sizeof(struct bind_event);
  napi_status status =
      deliver_.NonBlockingCall(batch, [](Napi::Env env, Napi::Function callback, Batch* b) {
        // JS thread.
        if (env != nullptr && callback != nullptr) {
          auto* owned = new std::vector<uint8_t>(std::move(b->bytes));
          Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
              env, owned->data(), owned->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; },
              owned);
          callback.Call({buf});
        }
        delete b;
      });
  if (status != napi_ok) {
    recordsDroppedQueueFull_ += records;
    delete batch;
  } else {
    batchesQueued_++;
  }
}

void Tracer::SnapshotKernelStats() {
  if (!skel_ || !skel_->maps.stats) return;
  int fd = bpf_map__fd(skel_->maps.stats);
  if (fd < 0) return;
  ringFull_ = SumPerCpu(fd, BINDSNOOP_STAT_RING_FULL);
  inflightFull_ = SumPerCpu(fd, BINDSNOOP_STAT_INFLIGHT_FULL);
  countFull_ = SumPerCpu(fd, BINDSNOOP_STAT_COUNT_FULL);
}

// JS thread. Detach first so nothing new arrives, let the reader take what is
// left, then free. Resolves once every batch has reached JavaScript.
Napi::Value Tracer::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (stopped_) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  stopped_ = true;
  if (skel_) bindsnoop_bpf__detach(skel_);
  stopping_ = true;
  if (reader_.joinable()) reader_.join();
  SnapshotKernelStats();
  finalCounts_ = ReadCounts();
  Teardown();
  if (started_) {
    stopDeferred_ = new Napi::Promise::Deferred(deferred);
    deliver_.Release();
  } else {
    deferred.Resolve(env.Undefined());
  }
  return deferred.Promise();
}

void Tracer::Teardown() {
  if (ring_) {
    ring_buffer__free(ring_);
    ring_ = nullptr;
  }
  if (skel_) {
    bindsnoop_bpf__destroy(skel_);
    skel_ = nullptr;
  }
  if (pinnedCgroupFd_ >= 0) close(pinnedCgroupFd_);
  if (pinnedMntnsFd_ >= 0) close(pinnedMntnsFd_);
  pinnedCgroupFd_ = pinnedMntnsFd_ = -1;
}

// JS thread.
Napi::Value Tracer::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SnapshotKernelStats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernelRingFull", Napi::Number::New(env, static_cast<double>(ringFull_)));
  o.Set("kernelInflightFull", Napi::Number::New(env, static_cast<double>(inflightFull_)));
  o.Set("kernelCountFull", Napi::Number::New(env, static_cast<double>(countFull_)));
  o.Set("recordsRead", Napi::Number::New(env, static_cast<double>(recordsRead_.load())));
  o.Set("readerQueueFull", Napi::Number::New(env, static_cast<double>(recordsDroppedQueueFull_.load())));
  o.Set("batchesQueued", Napi::Number::New(env, static_cast<double>(batchesQueued_.load())));
  o.Set("drainPasses", Napi::Number::New(env, static_cast<double>(drainPasses_.load())));
  o.Set("readerAlive", Napi::Boolean::New(env, readerAlive_.load()));
  return o;
}

// Any thread. The --count map as packed (count_key, u64) pairs.
std::vector<uint8_t> Tracer::ReadCounts() const {
  std::vector<uint8_t> out;
  if (!skel_) return out;
  int fd = bpf_map__fd(skel_->maps.counts);
  struct count_key key, next;
  struct count_key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    uint64_t value = 0;
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
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

// JS thread. The --count table; after stop(), as it was when the programs were detached.
Napi::Value Tracer::Counts(const Napi::CallbackInfo& info) {
  std::vector<uint8_t> out = skel_ ? ReadCounts() : finalCounts_;
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

struct bpf_map* Tracer::K8sMap(const std::string& name) const {
  if (!skel_ || opts_.pinDir.empty()) return nullptr;
  if (name == "cgroups") return skel_->maps.k8s_cgroups;
  if (name == "mntns") return skel_->maps.k8s_mntns;
  if (name == "excluded") return skel_->maps.k8s_excluded;
  return nullptr;
}

// JS thread. mapUpdate(name, key: bigint, value: bigint): one entry of a Kubernetes map.
Napi::Value Tracer::MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_map* map = info.Length() >= 3 ? K8sMap(info[0].As<Napi::String>().Utf8Value()) : nullptr;
  if (!map) {
    ThrowBpfError(env, EINVAL, "update map", "no such Kubernetes map (is kubernetes mode on?)");
    return env.Undefined();
  }
  bool lossless;
  uint64_t key = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  uint64_t value = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  int err;
  if (bpf_map__value_size(map) == 4) {
    uint32_t v32 = static_cast<uint32_t>(value);
    err = bpf_map_update_elem(bpf_map__fd(map), &key, &v32, BPF_ANY);
  } else {
    err = bpf_map_update_elem(bpf_map__fd(map), &key, &value, BPF_ANY);
  }
  if (err) ThrowBpfError(env, errno, "update map", HintFor(errno));
  return env.Undefined();
}

// JS thread. mapDelete(name, key: bigint): true when it was there.
Napi::Value Tracer::MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_map* map = info.Length() >= 2 ? K8sMap(info[0].As<Napi::String>().Utf8Value()) : nullptr;
  if (!map) return Napi::Boolean::New(env, false);
  bool lossless;
  uint64_t key = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  return Napi::Boolean::New(env, bpf_map_delete_elem(bpf_map__fd(map), &key) == 0);
}

// JS thread. mapEntries(name): [[key, value], ...] as bigints.
Napi::Value Tracer::MapEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  struct bpf_map* map = info.Length() >= 1 ? K8sMap(info[0].As<Napi::String>().Utf8Value()) : nullptr;
  if (!map) return out;
  int fd = bpf_map__fd(map);
  uint64_t key, next;
  uint64_t* prev = nullptr;
  uint32_t i = 0;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    uint64_t value = 0;
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
      if (bpf_map__value_size(map) == 4) value &= 0xffffffffu;
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::BigInt::New(env, next));
      pair.Set(1u, Napi::BigInt::New(env, value));
      out.Set(i++, pair);
    }
    key = next;
    prev = &key;
  }
  return out;
}

// JS thread.
Napi::Value Tracer::Attached(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), skel_ != nullptr && skel_->links.handle_enter_bind != nullptr &&
                                            skel_->links.handle_exit_bind != nullptr);
}
