// SPDX-License-Identifier: Apache-2.0
// The native OTLP encoder (encoder.h) as a JavaScript object: made once, on the
// JavaScript thread, from what JavaScript declares (the attributes' keys, the
// errno and protocol names, the limits), then handed to a Tracer's start() for
// its reader thread, and callable directly (encode) for the tests.
#pragma once

#include <napi.h>

#include <memory>

#include "encoder.h"

class RecordEncoder : public Napi::ObjectWrap<RecordEncoder> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RecordEncoder(const Napi::CallbackInfo& info);
  // JS thread: the encoder of a RecordEncoder object; null (and a TypeError thrown) for anything else.
  static std::shared_ptr<const Encoder> Of(Napi::Env env, Napi::Value value, const char* name);

 private:
  // JS thread: encode(records, withArgs, wallOffsetNs, observedNs) -> (Buffer | null)[]
  Napi::Value Encode(const Napi::CallbackInfo& info);
  static Napi::FunctionReference* constructor;
  std::shared_ptr<const Encoder> encoder_;
};
