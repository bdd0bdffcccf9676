// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <variant>
#include <vector>

#include "args.h"
#include "bindsnoop.h"
#include "kernel.h"

namespace {

using Field = std::variant<bool TracerOptions::*, uint32_t TracerOptions::*, uint64_t TracerOptions::*,
                           std::string TracerOptions::*, std::vector<uint16_t> TracerOptions::*>;

struct OptionSpec {
  const char* name;
  Field field;
  // a number's bounds; a list's most entries (max)
  uint64_t min = 0;
  uint64_t max = 0;
  // a string's allowed values (none: any string without NUL)
  std::vector<std::string> oneOf = {};
};

// the largest whole number a JavaScript number holds exactly (2^53-1)
constexpr uint64_t kMaxSafeInteger = 9007199254740991ULL;

const std::vector<OptionSpec>& Specs() {
  static const std::vector<OptionSpec> specs = {
      {"pid", &TracerOptions::pid, 0, UINT32_MAX},  // 0 = any
      {"filterUid", &TracerOptions::filterUid},
      {"uid", &TracerOptions::uid, 0, UINT32_MAX},
      {"ports", &TracerOptions::ports, 0, BINDSNOOP_MAX_PORTS},
      {"includeErrors", &TracerOptions::includeErrors},
      {"countMode", &TracerOptions::countMode},
      {"hideKernelBinds", &TracerOptions::hideKernelBinds},
      {"readArgs", &TracerOptions::readArgs},
      {"readCgroupNames", &TracerOptions::readCgroupNames},
      {"cgroupRootId", &TracerOptions::cgroupRootId, 0, kMaxSafeInteger},
      {"cgroupMapPath", &TracerOptions::cgroupMapPath},
      {"mntnsMapPath", &TracerOptions::mntnsMapPath},
      {"ringBufferBytes", &TracerOptions::ringBufferBytes, 4096, 1u << 30},
      {"wakeupBytes", &TracerOptions::wakeupBytes, 0, UINT32_MAX},
      {"drainIntervalMillis", &TracerOptions::drainIntervalMillis, 1, 60000},
      {"maxPendingBatches", &TracerOptions::maxPendingBatches, 1, 1 << 20},
      {"maxPendingBytes", &TracerOptions::maxPendingBytes, 1 << 16, UINT32_MAX},
      {"pinDir", &TracerOptions::pinDir},
      {"handoverDir", &TracerOptions::handoverDir},
      {"unownedAfterMillis", &TracerOptions::unownedAfterMillis, 0, kMaxSafeInteger / 1000000},
      {"packageVersion", &TracerOptions::packageVersion},
      {"backend", &TracerOptions::backend, 0, 0,
       {"auto", BackendName(Backend::kFentry), BackendName(Backend::kKprobe), BackendName(Backend::kTracepoint)}},
  };
  return specs;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool ReadOne(Napi::Env env, OptionReader& r, const OptionSpec& spec, TracerOptions* out) {
  return std::visit(
      Overloaded{
          [&](bool TracerOptions::*f) { return r.Bool(spec.name, &(out->*f)); },
          [&](uint32_t TracerOptions::*f) {
            return r.Uint32(spec.name, &(out->*f), static_cast<uint32_t>(spec.min), static_cast<uint32_t>(spec.max));
          },
          [&](uint64_t TracerOptions::*f) { return r.Uint64(spec.name, &(out->*f), spec.min, spec.max); },
          [&](std::vector<uint16_t> TracerOptions::*f) { return r.Uint16List(spec.name, &(out->*f), spec.max); },
          [&](std::string TracerOptions::*f) {
            if (!r.String(spec.name, &(out->*f))) return false;
            if (spec.oneOf.empty()) return true;
            std::string list;
            for (const std::string& v : spec.oneOf) {
              if (v == out->*f) return true;
              list += (list.empty() ? "" : ", ") + v;
            }
            ThrowRangeError(env, std::string("options.") + spec.name + " must be one of " + list + " (got '" +
                                     out->*f + "')");
            return false;
          },
      },
      spec.field);
}

}  // namespace

bool ReadTracerOptions(Napi::Env env, Napi::Object o, TracerOptions* out) {
  OptionReader r(env, o, "options");
  for (const OptionSpec& spec : Specs()) {
    if (!ReadOne(env, r, spec, out)) return false;
  }
  return true;
}

Napi::Object TracerOptionSpecs(Napi::Env env) {
  Napi::Object all = Napi::Object::New(env);
  for (const OptionSpec& spec : Specs()) {
    Napi::Object o = Napi::Object::New(env);
    std::visit(Overloaded{
                   [&](bool TracerOptions::*) { o.Set("type", "boolean"); },
                   [&](uint32_t TracerOptions::*) {
                     o.Set("type", "uint32");
                     o.Set("min", Napi::Number::New(env, static_cast<double>(spec.min)));
                     o.Set("max", Napi::Number::New(env, static_cast<double>(spec.max)));
                   },
                   [&](uint64_t TracerOptions::*) {
                     o.Set("type", "safeInteger");
                     o.Set("min", Napi::Number::New(env, static_cast<double>(spec.min)));
                     o.Set("max", Napi::Number::New(env, static_cast<double>(spec.max)));
                   },
                   [&](std::vector<uint16_t> TracerOptions::*) {
                     o.Set("type", "ports");
                     o.Set("maxLength", Napi::Number::New(env, static_cast<double>(spec.max)));
                   },
                   [&](std::string TracerOptions::*) {
                     o.Set("type", "string");
                     if (spec.oneOf.empty()) return;
                     Napi::Array values = Napi::Array::New(env, spec.oneOf.size());
                     for (size_t i = 0; i < spec.oneOf.size(); i++) values.Set(i, spec.oneOf[i]);
                     o.Set("oneOf", values);
                   },
               },
               spec.field);
    all.Set(spec.name, o);
  }
  return all;
}
