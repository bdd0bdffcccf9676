// SPDX-License-Identifier: Apache-2.0
// Module entry: the Tracer class plus the record layout, exported so the
// TypeScript decoder can be checked against the C header.
#include <napi.h>
#include <stddef.h>
#include <time.h>

#include "bindsnoop.h"
#include "tracer.h"

namespace {

#define FIELD(obj, type, field) obj.Set(#field, Napi::Number::New(env, offsetof(struct type, field)))

Napi::Object EventLayout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, sizeof(struct bind_event)));
  Napi::Object f = Napi::Object::New(env);
  FIELD(f, bind_event, ts_boot_ns);
  FIELD(f, bind_event, cgroup_id);
  FIELD(f, bind_event, mntns_id);
  FIELD(f, bind_event, netns_id);
  FIELD(f, bind_event, pid);
  FIELD(f, bind_event, tid);
  FIELD(f, bind_event, uid);
  FIELD(f, bind_event, ret);
  FIELD(f, bind_event, bound_dev_if);
  FIELD(f, bind_event, bound_addr);
  FIELD(f, bind_event, req_addr);
  FIELD(f, bind_event, bound_port);
  FIELD(f, bind_event, req_port);
  FIELD(f, bind_event, protocol);
  FIELD(f, bind_event, family);
  FIELD(f, bind_event, opts);
  FIELD(f, bind_event, req_family);
  FIELD(f, bind_event, flags);
  FIELD(f, bind_event, comm);
  FIELD(f, bind_event, cgroup_name);
  FIELD(f, bind_event, cgroup_parent_name);
  o.Set("offsets", f);
  return o;
}

Napi::Object CountLayout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("keySize", Napi::Number::New(env, sizeof(struct count_key)));
  o.Set("entrySize", Napi::Number::New(env, sizeof(struct count_key) + sizeof(uint64_t)));
  Napi::Object f = Napi::Object::New(env);
  FIELD(f, count_key, addr);
  FIELD(f, count_key, port);
  FIELD(f, count_key, family);
  o.Set("offsets", f);
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("eventLayout", EventLayout(env));
  exports.Set("countLayout", CountLayout(env));
  exports.Set("clockPair", Napi::Function::New(env, ClockPair));
  exports.Set("maxPorts", Napi::Number::New(env, BINDSNOOP_MAX_PORTS));
  return exports;
}

}  // namespace

NODE_API_MODULE(bindsnoop, Init)
