// SPDX-License-Identifier: Apache-2.0
// The Tracer's options, declared once: the struct below and the table in
// options.cc. ReadTracerOptions reads and checks them (JS thread);
// TracerOptionSpecs lists their names and bounds to JavaScript
// (addon.tracerOptions), where a test holds the TypeScript side to them.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "program.h"

struct TracerOptions : ProgramOptions {
  uint32_t drainIntervalMillis = 50;
  uint32_t maxPendingBatches = 256;
  uint32_t maxPendingBytes = 32u << 20;
  std::string backend = "auto";  // or a BackendName
};

// Fields of `o` into `out` (an undefined field keeps the default); false with a
// TypeError or RangeError naming the field otherwise. JS thread.
bool ReadTracerOptions(Napi::Env env, Napi::Object o, TracerOptions* out);

// { name: { type, min, max } | { type: "ports", maxLength } | { type: "string", oneOf? } } for every option. JS thread.
Napi::Object TracerOptionSpecs(Napi::Env env);
