// SPDX-License-Identifier: Apache-2.0
#include "tracer.h"

#include <chrono>

#include <errno.h>

#include "args.h"
#include "encoder_object.h"
#include "bindsnoop.h"
#include "bindsnoop.skel.h"
#include "errors.h"
#include "kernel.h"
#include "loader.h"
#include "maps.h"

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod("start", &Tracer::Start),
                         InstanceMethod("stop", &Tracer::Stop),
                         InstanceMethod("stats", &Tracer::Stats),
                         InstanceMethod("counts", &Tracer::Counts),
                         InstanceMethod("attached", &Tracer::Attached),
                         InstanceMethod("backend", &Tracer::BackendInfo),
                         InstanceMethod("mapUpdate", &Tracer::MapUpdate),
                         InstanceMethod("mapDelete", &Tracer::MapDelete),
                         InstanceMethod("mapEntries", &Tracer::MapEntries),
                         InstanceMethod("settle", &Tracer::Settle),
                         InstanceMethod("handover", &Tracer::Handover),
                         InstanceMethod("encodeCgroupAs", &Tracer::EncodeCgroupAs),
                         InstanceMethod("forgetEncodedCgroups", &Tracer::ForgetEncodedCgroups),
                         InstanceMethod("recycleEncoded", &Tracer::RecycleEncoded),
                     });
}

// Validated options in, a loaded and attached tracer out, or an exception
// with nothing left in the kernel.
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsFunction()) {
    ThrowTypeError(env, std::string("Tracer(options): options must be an object (got ") +
                            (info.Length() < 1 ? "undefined" : TypeName(info[0])) + ")");
    return;
  }
  if (!ReadTracerOptions(env, info[0].As<Napi::Object>(), &opts_)) return;
  LoadAndAttach(env);
}

namespace {

void ThrowLoadError(Napi::Env env, const LoadError& e) {
  if (e.reasoned) ThrowReasonedError(env, e.err, e.op, Describe(e));
  else ThrowBpfError(env, e.err, e.op, e.hint, e.details, e.userMap);
}

}  // namespace

void Tracer::LoadAndAttach(Napi::Env env) {
  const size_t recordSize = opts_.readArgs ? sizeof(struct bind_event_args) : sizeof(struct bind_event);
  BeforeAttach takeOver;
  std::string linkPrefix;
  if (!opts_.handoverDir.empty()) {
    LoadError error;
    handover_ = HandoverSet::Prepare(opts_.handoverDir, recordSize, opts_.ringBufferBytes, &error);
    if (!handover_) {
      ThrowLoadError(env, error);
      return;
    }
    takeOver = [this](const Program& program, LoadError* error) {
      return handover_->TakeOver(program, opts_.unownedAfterMillis * 1000000ull, opts_.packageVersion, error);
    };
    linkPrefix = handover_->LinkPrefix();
  }
  LoadResult loaded = LoadBackend(opts_, opts_.backend, takeOver, linkPrefix);
  backendNotes_ = std::move(loaded.notes);
  if (!loaded.program) {
    if (handover_ && !handover_->gap().found) {
      // nothing was pinned before: nothing of this attempt stays
      RemovedSet removed;
      std::string op;
      RemovePinnedSet(opts_.handoverDir, &removed, &op);
    }
    handover_.reset();
    if (!loaded.kernelLacks.empty()) ThrowKernelError(env, loaded.kernelLacks);
    else ThrowLoadError(env, loaded.error);
    return;
  }
  program_ = std::move(loaded.program);
  backend_ = program_->backend();
  attachPoint_ = program_->AttachPoint();

  if (handover_) {
    const uint64_t* base = handover_->Base();
    std::copy(base, base + BINDSNOOP_STAT_SLOTS, base_);
    std::copy(base, base + BINDSNOOP_STAT_SLOTS, raw_);
  }

  int err = 0;
  reader_ = RingReader::Create(program_->RingFd(), recordSize, &err);
  if (!reader_) {
    if (handover_) program_->KeepAttached();  // the set stays for the next agent, as it was
    program_.reset();
    ThrowBpfError(env, err, "open ring buffer", HintFor(err));
    return;
  }
  if (handover_) {
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    reader_->CountBefore(static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec));
  }
}

Tracer::~Tracer() {
  // Finalizer (JS thread). A tracer collected while running is stopped here so
  // nothing stays attached; the worker must be gone before the members are.
  if (reader_) reader_->Wake();
  if (completion_->worker.joinable()) completion_->worker.join();
  if (started_ && !stopRequested_) deliver_.Abort();
  program_.reset();
}

Napi::ThreadSafeFunction Tracer::MakeDelivery(Napi::Env env, Napi::Function callback, size_t queue) {
  auto* keep = new std::shared_ptr<Completion>(completion_);
  return Napi::ThreadSafeFunction::New(
      env, callback, "bindsnoop-reader", queue, 1, keep, [](Napi::Env env, std::shared_ptr<Completion>* c) {
        // JS thread, once the worker released delivery and every batch was delivered.
        Completion& done = **c;
        if (done.worker.joinable()) done.worker.join();
        done.done = true;
        for (auto& d : done.waiters) d.Resolve(env.Undefined());
        done.waiters.clear();
        delete c;
      });
}

// start(onBatch, encoder?): onBatch(records, encoded) is called on the JS thread with a Buffer of packed records
// and, with an encoder (a RecordEncoder), a Buffer of the records the reader thread encoded: runs of (u32 resource
// slot, u32 records, u32 bytes, then the records as ScopeLogs.log_records fields), little-endian; `records` holds
// the others (all of them without an encoder).
Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!FunctionArg(info, 0, "start(onBatch, encoder): onBatch")) return env.Undefined();
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    encoder_ = RecordEncoder::Of(env, info[1], "start(onBatch, encoder, cgroupSlots): encoder");
    if (!encoder_) return env.Undefined();
  }
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsBoolean()) {
      ThrowTypeError(env, std::string("start(onBatch, encoder, cgroupSlots): cgroupSlots must be a boolean (got ") + TypeName(info[2]) + ")");
      return env.Undefined();
    }
    cgroupSlots_ = info[2].As<Napi::Boolean>().Value();
  }
  if (started_ || stopRequested_ || !program_) {
    ThrowBpfError(env, EINVAL, "start", "a tracer can be started once, before stop()");
    return env.Undefined();
  }
  deliver_ = MakeDelivery(env, info[0].As<Napi::Function>(), opts_.maxPendingBatches);
  started_ = true;
  readerAlive_ = true;
  completion_->worker = std::thread([this] { RunReader(); });
  return env.Undefined();
}

void Tracer::RunReader() {
  auto sink = [this](std::vector<uint8_t>&& batch, size_t records) { Deliver(std::move(batch), records); };
  auto room = [this] {
    return completion_->batchesInJs.load() < opts_.maxPendingBatches && completion_->bytesInJs.load() < opts_.maxPendingBytes;
  };
  std::function<void()> onPass;
  if (handover_) {
    // the older set's links go once this one is attached and read (Start), then the heartbeat keeps it owned
    handover_->RetireOld();
    onPass = [this] { handover_->Heartbeat(); };
  }
  int err = reader_->Loop(static_cast<int>(opts_.drainIntervalMillis), sink, room, onPass);
  if (err) {
    // The loop cannot go on: /healthz turns red (readerAlive) and the agent logs
    // readerErrno; the programs stay until stop() so that teardown has one path.
    readerErrno_ = err;
    readerAlive_ = false;
    reader_->WaitForWake();
  }
  Unload();
}

namespace {

// A batch on its way to JavaScript: the records as read (those not encoded), and the encoded ones.
struct Delivered {
  std::vector<uint8_t> records;
  ByteBuffer encoded;
};

uint64_t NowNs(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

void PutU32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; i++) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

// Reader thread: each record this build's encoder can encode (with cgroupSlots, of a cgroup JavaScript named) as a
// ScopeLogs.log_records field, in runs of one resource slot each (u32 slot, u32 records, u32 bytes, the fields);
// the others stay in `records` for JavaScript's path, in their order.
void Tracer::Encode(std::vector<uint8_t>* records, ByteBuffer* encoded) {
  const uint64_t started = NowNs(CLOCK_MONOTONIC);
  const bool withArgs = opts_.readArgs;
  const size_t size = Encoder::RecordSize(withArgs);
  // the wall clock's offset from boot time, and the time read, once a batch (as JavaScript's BootClock samples it)
  const uint64_t real = NowNs(CLOCK_REALTIME);
  const int64_t offset = static_cast<int64_t>(real - NowNs(CLOCK_BOOTTIME));
  size_t kept = 0, done = 0, runs = 0;
  // room for the batch at once (a record's LogRecord is about as large as the kernel's record): grown by copying
  // is slower, and mremap's TLB flush reaches every core
  constexpr size_t kRunHead = 12;
  if (!encoded->Reserve(kRunHead + records->size() * 3 / 2)) return;
  size_t runAt = 0, runRecords = 0;
  uint32_t runSlot = 0;
  auto closeRun = [&] {
    if (!runRecords) return;
    PutU32(encoded->data() + runAt, runSlot);
    PutU32(encoded->data() + runAt + 4, static_cast<uint32_t>(runRecords));
    PutU32(encoded->data() + runAt + 8, static_cast<uint32_t>(encoded->size() - runAt - kRunHead));
    runRecords = 0;
    runs++;
  };
  for (size_t at = 0; at + size <= records->size(); at += size) {
    const uint8_t* rec = records->data() + at;
    uint32_t slot = 0;
    bool named = true;
    if (cgroupSlots_) {
      uint64_t cgroup;
      memcpy(&cgroup, rec + offsetof(struct bind_event, cgroup_id), sizeof cgroup);
      // held for one lookup: JavaScript's encodeCgroupAs never waits longer
      std::lock_guard<std::mutex> lock(slotsMutex_);
      auto it = slots_.find(cgroup);
      named = it != slots_.end();
      if (named) slot = it->second;
    }
    if (named && (!runRecords || slot != runSlot)) {
      closeRun();
      if (encoded->Reserve(kRunHead)) {
        runAt = encoded->size();
        runSlot = slot;
        encoded->Resize(runAt + kRunHead);
      } else {
        named = false;
      }
    }
    if (named && encoder_->EncodeField(rec, size, withArgs, offset, real, encoded) == Unencoded::None) {
      runRecords++;
      done++;
    } else {
      // a run whose first record could not be encoded is no run
      if (named && !runRecords) encoded->Resize(runAt);
      if (kept != at) memmove(records->data() + kept, rec, size);
      kept += size;
    }
  }
  closeRun();
  records->resize(kept);
  encodedRecords_ += done;
  unencodedRecords_ += kept / size;
  encodedBytes_ += encoded->size() - kRunHead * runs;
  encodeNanos_ += NowNs(CLOCK_MONOTONIC) - started;
}

// Worker thread: hand the batch to JS if its queue has room; otherwise count
// the records as lost at the reader stage. Never waits for JavaScript.
void Tracer::Deliver(std::vector<uint8_t>&& bytes, size_t records) {
  auto* batch = new Delivered;
  batch->records = std::move(bytes);
  if (encoder_) {
    completion_->TakeSpare(&batch->encoded);
    Encode(&batch->records, &batch->encoded);
    // every record encoded: the batch's memory holds the next one
    if (batch->records.empty()) reader_->Recycle(std::move(batch->records));
  }
  std::shared_ptr<Completion> completion = completion_;
  const size_t bytesOfBatch = batch->records.size() + batch->encoded.size();
  completion->batchesInJs++;
  completion->bytesInJs += bytesOfBatch;
  const bool encoding = encoder_ != nullptr;
  napi_status status = deliver_.NonBlockingCall(batch, [completion, bytesOfBatch, encoding](Napi::Env env, Napi::Function callback, Delivered* b) {
    // JS thread.
    if (env != nullptr && callback != nullptr) {
      // each Buffer owns its vector, freed when JavaScript collects it
      auto* records = new std::vector<uint8_t>(std::move(b->records));
      Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
          env, records->data(), records->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, records);
      if (encoding) {
        const size_t length = b->encoded.size();
        Napi::Buffer<uint8_t> enc;
        if (length) {
          // collected (JS thread): the memory goes back to the reader thread, or is freed; unless recycleEncoded
          // handed it back already (then it is the reader's)
          auto* out = new Completion::HandedOut{b->encoded.capacity(), false};
          uint8_t* data = b->encoded.Release();
          // memory recycled and written again: the map names its newest holder (an older Buffer over it, recycled,
          // still has its own entry through its finalizer's hint)
          completion->handedOut[data] = out;
          auto* hint = new std::pair<std::shared_ptr<Completion>, Completion::HandedOut*>(completion, out);
          enc = Napi::Buffer<uint8_t>::New(
              env, data, length,
              [](Napi::Env, uint8_t* data, std::pair<std::shared_ptr<Completion>, Completion::HandedOut*>* hint) {
                Completion& c = *hint->first;
                Completion::HandedOut* out = hint->second;
                auto it = c.handedOut.find(data);
                if (it != c.handedOut.end() && it->second == out) c.handedOut.erase(it);
                if (!out->recycled && !c.KeepSpare(data, out->capacity)) free(data);
                delete out;
                delete hint;
              },
              hint);
        } else {
          enc = Napi::Buffer<uint8_t>::New(env, 0);
        }
        callback.Call({buf, enc});
      } else {
        callback.Call({buf});
      }
    }
    delete b;
    completion->batchesInJs--;
    completion->bytesInJs -= bytesOfBatch;
  });
  if (status != napi_ok) {
    completion->batchesInJs--;
    completion->bytesInJs -= bytesOfBatch;
    recordsDroppedQueueFull_ += records;
    delete batch;
  } else {
    batchesQueued_++;
  }
}

void Tracer::SnapshotKernelStats() {
  if (!program_) return;
  int fd = program_->StatsFd();
  for (uint32_t slot = 0; slot < BINDSNOOP_STAT_MAX; slot++) raw_[slot] = SumPerCpu(fd, slot);
  auto own = [this](uint32_t slot) { return raw_[slot] >= base_[slot] ? raw_[slot] - base_[slot] : 0; };
  ringFull_ = own(BINDSNOOP_STAT_RING_FULL);
  inflightFull_ = own(BINDSNOOP_STAT_INFLIGHT_FULL);
  countFull_ = own(BINDSNOOP_STAT_COUNT_FULL);
  inflightOrphaned_ = own(BINDSNOOP_STAT_INFLIGHT_ORPHANED);
  unowned_ = own(BINDSNOOP_STAT_UNOWNED);
  duplicates_ = own(BINDSNOOP_STAT_DUPLICATE);
}

// Worker thread: detach first so nothing new arrives, take what is left, keep
// the final counters, unload; then let the last batches reach JavaScript.
void Tracer::Unload() {
  // with handover (unless told to remove the set) the programs stay attached and the ring keeps what comes from
  // now for the next agent, its gap: nothing is detached or drained
  const bool keep = handover_ && keepAttached_;
  if (!keep) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (program_) program_->Detach();
  }
  if (started_ && !keep) {
    auto sink = [this](std::vector<uint8_t>&& batch, size_t records) { Deliver(std::move(batch), records); };
    // what is left in the ring goes to JavaScript as it makes room, for a bounded time (it may be stopping too)
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto room = [this, deadline] {
      while ((completion_->batchesInJs.load() >= opts_.maxPendingBatches || completion_->bytesInJs.load() >= opts_.maxPendingBytes) &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return true;
    };
    reader_->Drain(sink, room);
  }
  if (reader_) reader_->Close();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    SnapshotKernelStats();
    if (keep) {
      // one set attached from now: no claim is left for another return (a false orphan at most, never a bind lost)
      handover_->EndOverlap();
      if (program_) program_->KeepAttached();
    } else if (program_) {
      finalCounts_ = ReadCountEntries(program_->CountsFd());
      inflightAtStop_ = CountEntries(program_->InflightFd(), sizeof(uint32_t));
    }
    program_.reset();
  }
  if (handover_ && !keep) {
    // removed on purpose: the links are unpinned and gone with the program; the ring and the maps go now
    std::string op;
    setRemoved_ = RemovePinnedSet(opts_.handoverDir, &removed_, &op) == 0;
  }
  readerAlive_ = false;
  deliver_.Release();
}

// stop(keepAttached = true): resolves once the programs are detached and unloaded and every batch
// read has been delivered; with handover, once reading stopped, the programs left attached (or, keepAttached
// false, the pinned set removed after the usual detach and drain). Returns at once; the work runs on the worker thread.
Napi::Value Tracer::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsBoolean()) {
      ThrowTypeError(env, std::string("stop(keepAttached): keepAttached must be a boolean (got ") + TypeName(info[0]) + ")");
      return env.Undefined();
    }
    if (!stopRequested_) keepAttached_ = info[0].As<Napi::Boolean>().Value();
  }
  auto deferred = Napi::Promise::Deferred::New(env);
  if (completion_->done || (!program_ && !started_)) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  completion_->waiters.push_back(deferred);
  if (stopRequested_) return deferred.Promise();
  stopRequested_ = true;
  if (started_) {
    reader_->Wake();
  } else {
    // never started: unload on a thread of its own all the same (detaching can wait for RCU)
    deliver_ = MakeDelivery(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), 1);
    completion_->worker = std::thread([this] { Unload(); });
  }
  return deferred.Promise();
}

Napi::Value Tracer::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    SnapshotKernelStats();
    // what this tracer books now, for the next owner of a pinned set
    if (handover_) handover_->Ack(raw_);
  }
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernelRingFull", num(ringFull_));
  o.Set("kernelInflightFull", num(inflightFull_));
  o.Set("kernelCountFull", num(countFull_));
  o.Set("kernelInflightOrphaned", num(inflightOrphaned_ + inflightAtStop_));
  o.Set("kernelUnowned", num(unowned_));
  o.Set("handoverDuplicates", num(duplicates_));
  o.Set("handoverRecovered", num(reader_ ? reader_->recordsBefore() : 0));
  o.Set("recordsRead", num(reader_ ? reader_->recordsRead() : 0));
  o.Set("recordsMalformed", num(reader_ ? reader_->recordsMalformed() : 0));
  o.Set("readerQueueFull", num(recordsDroppedQueueFull_.load()));
  o.Set("batchesQueued", num(batchesQueued_.load()));
  o.Set("drainPasses", num(reader_ ? reader_->drainPasses() : 0));
  o.Set("readerAlive", Napi::Boolean::New(env, readerAlive_.load()));
  o.Set("readerErrno", Napi::Number::New(env, readerErrno_.load()));
  o.Set("encodedRecords", num(encodedRecords_.load()));
  o.Set("encodedBytes", num(encodedBytes_.load()));
  o.Set("encodeNanos", num(encodeNanos_.load()));
  o.Set("unencodedRecords", num(unencodedRecords_.load()));
  return o;
}

// settle(records): every record this tracer read before the first `records` was exported or counted lost (JS thread).
Napi::Value Tracer::Settle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t records;
  if (!Uint64Arg(info, 0, "records", UINT64_MAX, &records)) return env.Undefined();
  if (handover_) handover_->Settle(records);
  return env.Undefined();
}

// encodeCgroupAs(cgroupId, slot): the reader thread encodes the records of this cgroup as of resource `slot`
// (start()'s cgroupSlots); false when kMaxCgroupSlots are named already (JS thread).
Napi::Value Tracer::EncodeCgroupAs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t cgroup;
  if (!Uint64Arg(info, 0, "encodeCgroupAs(cgroupId, slot): cgroupId", UINT64_MAX, &cgroup)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) {
    ThrowTypeError(env, std::string("encodeCgroupAs(cgroupId, slot): slot must be a number (got ") + (info.Length() < 2 ? "undefined" : TypeName(info[1])) + ")");
    return env.Undefined();
  }
  const double slot = info[1].As<Napi::Number>().DoubleValue();
  if (!(slot >= 0 && slot <= UINT32_MAX) || slot != static_cast<double>(static_cast<uint32_t>(slot))) {
    ThrowRangeError(env, "encodeCgroupAs(cgroupId, slot): slot must be a whole number from 0 to 4294967295");
    return env.Undefined();
  }
  std::lock_guard<std::mutex> lock(slotsMutex_);
  if (slots_.size() >= kMaxCgroupSlots && slots_.find(cgroup) == slots_.end()) return Napi::Boolean::New(env, false);
  slots_[cgroup] = static_cast<uint32_t>(slot);
  return Napi::Boolean::New(env, true);
}

// forgetEncodedCgroups(): no cgroup is named any more: their records take JavaScript's path until named again (JS thread).
Napi::Value Tracer::ForgetEncodedCgroups(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(slotsMutex_);
  slots_.clear();
  return info.Env().Undefined();
}

// recycleEncoded(batch): JavaScript no longer reads this encoded batch (every record copied into a request, or
// dropped): its memory holds the reader's next one, before the Buffer is collected. False when the spare memory is
// full (it goes when the Buffer is collected). JS thread; the memory is freed only with the tracer's last Buffer.
Napi::Value Tracer::RecycleEncoded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    ThrowTypeError(env, std::string("recycleEncoded(batch): batch must be a Buffer (got ") + (info.Length() < 1 ? "undefined" : TypeName(info[0])) + ")");
    return env.Undefined();
  }
  uint8_t* data = info[0].As<Napi::Buffer<uint8_t>>().Data();
  auto it = completion_->handedOut.find(data);
  if (it == completion_->handedOut.end() || it->second->recycled) {
    ThrowRangeError(env, "recycleEncoded(batch): batch is not an encoded batch of this tracer held by JavaScript (or was recycled already)");
    return env.Undefined();
  }
  it->second->recycled = completion_->KeepSpare(data, it->second->capacity);
  return Napi::Boolean::New(env, it->second->recycled);
}

// handover(): the pinned set's takeover and the gap it booked; null without handover.
Napi::Value Tracer::Handover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handover_) return env.Null();
  const HandoverGap& g = handover_->gap();
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("generation", num(handover_->generation()));
  o.Set("found", Napi::Boolean::New(env, g.found));
  o.Set("previousGeneration", num(g.previousGeneration));
  o.Set("previousOwnerPid", num(g.previousOwnerPid));
  o.Set("previousVersion", Napi::String::New(env, g.previousVersion));
  Napi::Array tags = Napi::Array::New(env, g.previousProgramTags.size());
  for (uint32_t i = 0; i < g.previousProgramTags.size(); i++) tags.Set(i, Napi::String::New(env, g.previousProgramTags[i]));
  o.Set("previousProgramTags", tags);
  o.Set("heartbeatAgeMillis", num(g.heartbeatAgeMillis));
  o.Set("ringFull", num(g.kernel[BINDSNOOP_STAT_RING_FULL]));
  o.Set("inflightFull", num(g.kernel[BINDSNOOP_STAT_INFLIGHT_FULL]));
  o.Set("inflightOrphaned", num(g.kernel[BINDSNOOP_STAT_INFLIGHT_ORPHANED]));
  o.Set("unowned", num(g.kernel[BINDSNOOP_STAT_UNOWNED]));
  o.Set("duplicates", num(g.kernel[BINDSNOOP_STAT_DUPLICATE]));
  o.Set("unsettled", num(g.unsettled));
  o.Set("setAside", num(handover_->setAside()));
  o.Set("linksRetired", num(handover_->linksRetired()));
  // after a stop that removed the set: what went with it
  o.Set("removed", Napi::Boolean::New(env, setRemoved_));
  return o;
}

// The --count table; after stop(), as it was when the programs were detached.
Napi::Value Tracer::Counts(const Napi::CallbackInfo& info) {
  std::vector<uint8_t> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out = program_ ? ReadCountEntries(program_->CountsFd()) : finalCounts_;
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

Napi::Value Tracer::Attached(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  return Napi::Boolean::New(info.Env(), !stopRequested_ && program_ && program_->Attached());
}

// backend(): { name, attachedTo, notes }: the backend in use, where, and why each better one was not.
Napi::Value Tracer::BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, BackendName(backend_)));
  o.Set("attachedTo", Napi::String::New(env, attachPoint_));
  Napi::Array notes = Napi::Array::New(env, backendNotes_.size());
  for (uint32_t i = 0; i < backendNotes_.size(); i++) notes.Set(i, Napi::String::New(env, backendNotes_[i]));
  o.Set("notes", notes);
  return o;
}

struct bpf_map* Tracer::K8sMapArg(const Napi::CallbackInfo& info) {
  std::string name;
  if (!StringArg(info, 0, "map", &name)) return nullptr;
  if (name != "cgroups" && name != "mntns" && name != "excluded") {
    ThrowRangeError(info.Env(), "map must be one of cgroups, mntns, excluded (got '" + name + "')");
    return nullptr;
  }
  struct bpf_map* map = program_ ? program_->K8sMap(name) : nullptr;
  if (!map) {
    ThrowBpfError(info.Env(), EINVAL, "use map " + name,
                  program_ ? "Kubernetes mode is off (no pinDir)" : "the tracer is stopped");
  }
  return map;
}

// mapUpdate(name, key: bigint, value: bigint): one entry of a Kubernetes map.
Napi::Value Tracer::MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mutex_);
  struct bpf_map* map = K8sMapArg(info);
  if (!map) return env.Undefined();
  U64KeyMap m(map);
  uint64_t key, value;
  if (!Uint64Arg(info, 1, "key", UINT64_MAX, &key) || !Uint64Arg(info, 2, "value", m.MaxValue(), &value))
    return env.Undefined();
  int err = m.Update(key, value);
  if (err) ThrowBpfError(env, err, "update map", HintFor(err));
  return env.Undefined();
}

// mapDelete(name, key: bigint): true when it was there.
Napi::Value Tracer::MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mutex_);
  struct bpf_map* map = K8sMapArg(info);
  uint64_t key;
  if (!map || !Uint64Arg(info, 1, "key", UINT64_MAX, &key)) return env.Undefined();
  return Napi::Boolean::New(env, U64KeyMap(map).Delete(key));
}

// mapEntries(name): [[key, value], ...] as bigints.
Napi::Value Tracer::MapEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mutex_);
  struct bpf_map* map = K8sMapArg(info);
  if (!map) return env.Undefined();
  auto entries = U64KeyMap(map).Entries();
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (uint32_t i = 0; i < entries.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::BigInt::New(env, entries[i].first));
    pair.Set(1u, Napi::BigInt::New(env, entries[i].second));
    out.Set(i, pair);
  }
  return out;
}
