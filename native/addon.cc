// SPDX-License-Identifier: Apache-2.0
// Module entry: the Tracer class, the record layouts (read from the BPF
// object's BTF: the TypeScript decoder decodes by them), and a clock pair.
#include <napi.h>
#include <stddef.h>
#include <time.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bindsnoop.h"
#include "bindsnoop.skel.h"
#include "args.h"
#include "errors.h"
#include "handover.h"
#include "lock.h"
#include "pipe.h"
#include "options.h"
#include "encoder_object.h"
#include "tracer.h"

namespace {

// The layout of one struct of the BPF object, as its BTF says: { size, fields: { name: { offset, size } } }.
// The record is declared once, in bpf/bindsnoop.h; the decoder reads it from here. JS thread (module load).
Napi::Value StructLayout(Napi::Env env, const struct btf* btf, const char* name) {
  int id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT) : -1;
  const struct btf_type* t = id > 0 ? btf__type_by_id(btf, id) : nullptr;
  if (!t) {
    Napi::Error::New(env, std::string("the BPF object's BTF has no struct ") + name + " (rebuild bpf/)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, t->size));
  Napi::Object fields = Napi::Object::New(env);
  const struct btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++) {
    Napi::Object f = Napi::Object::New(env);
    f.Set("offset", Napi::Number::New(env, btf_member_bit_offset(t, i) / 8));
    f.Set("size", Napi::Number::New(env, static_cast<double>(btf__resolve_size(btf, m[i].type))));
    fields.Set(btf__name_by_offset(btf, m[i].name_off), f);
  }
  o.Set("fields", fields);
  return o;
}

// { event, eventArgs, countKey }: the layouts of struct bind_event, struct bind_event_args and struct count_key.
Napi::Value Layouts(Napi::Env env) {
  size_t size = 0;
  const void* elf = bindsnoop_bpf__elf_bytes(&size);
  struct bpf_object* obj = bpf_object__open_mem(elf, size, nullptr);
  if (!obj) {
    Napi::Error::New(env, "cannot read the embedded BPF object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const struct btf* btf = bpf_object__btf(obj);
  Napi::Object o = Napi::Object::New(env);
  Napi::Value event = StructLayout(env, btf, "bind_event");
  Napi::Value eventArgs = env.IsExceptionPending() ? env.Undefined() : StructLayout(env, btf, "bind_event_args");
  Napi::Value countKey = env.IsExceptionPending() ? env.Undefined() : StructLayout(env, btf, "count_key");
  bpf_object__close(obj);
  if (env.IsExceptionPending()) return env.Undefined();
  o.Set("event", event);
  o.Set("eventArgs", eventArgs);
  o.Set("countKey", countKey);
  return o;
}

// JS thread. Reads CLOCK_REALTIME and CLOCK_BOOTTIME back to back, so that
// kernel event times (bpf_ktime_get_boot_ns) can be turned into wall-clock time.
Napi::Value ClockPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timespec boot1, real, boot2;
  clock_gettime(CLOCK_BOOTTIME, &boot1);
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot2);
  auto ns = [](const struct timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * UINT64_C(1000000000) + static_cast<uint64_t>(t.tv_nsec);
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("realtimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(ns(real))));
  o.Set("boottimeNs", Napi::BigInt::New(env, static_cast<uint64_t>((ns(boot1) + ns(boot2)) / 2)));
  return o;
}

// removePinnedSet(dir): { links, maps, recordsDiscarded }; `bindsnoop cleanup`. JS thread (a few syscalls a file).
Napi::Value RemovePinnedSetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  if (!StringArg(info, 0, "dir", &dir)) return env.Undefined();
  if (dir.empty() || dir[0] != '/') {
    Napi::RangeError::New(env, "dir must be an absolute path (got '" + dir + "')").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  RemovedSet removed;
  std::string op;
  int err = RemovePinnedSet(dir, &removed, &op);
  if (err) {
    ThrowBpfError(env, err, op, err == ENOENT ? "" : HintFor(err));
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("links", Napi::Number::New(env, static_cast<double>(removed.links)));
  o.Set("maps", Napi::Number::New(env, static_cast<double>(removed.maps)));
  o.Set("recordsDiscarded", Napi::Number::New(env, static_cast<double>(removed.recordsDiscarded)));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef __GLIBC__
  // JS thread, at load. Batches of records (up to 377 KB) are allocated by the reader thread and freed on the JS
  // thread; glibc's dynamic mmap threshold soon serves such blocks from heap arenas it seldom returns, and a bind
  // flood left the agent ~100 MB larger (measured: 284 -> 190 MB peak). A fixed threshold keeps blocks of 64 KiB and
  // more mmap'd, so that freed, they go back to the kernel.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("RecordEncoder", RecordEncoder::Define(env));
  Napi::Value layouts = Layouts(env);
  if (env.IsExceptionPending()) return exports;
  exports.Set("layouts", layouts);
  exports.Set("tracerOptions", TracerOptionSpecs(env));
  exports.Set("clockPair", Napi::Function::New(env, ClockPair));
  exports.Set("lockDirectory", Napi::Function::New(env, LockDirectory));
  exports.Set("unlockDirectory", Napi::Function::New(env, UnlockDirectory));
  exports.Set("peerClosed", Napi::Function::New(env, PeerClosed));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking));
  exports.Set("removePinnedSet", Napi::Function::New(env, RemovePinnedSetJs));
  return exports;
}

}  // namespace

NODE_API_MODULE(bindsnoop, Init)
