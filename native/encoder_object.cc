// SPDX-License-Identifier: Apache-2.0
#include "encoder_object.h"

#include <limits>

#include "args.h"

Napi::FunctionReference* RecordEncoder::constructor = nullptr;

Napi::Function RecordEncoder::Define(Napi::Env env) {
  Napi::Function f = DefineClass(env, "RecordEncoder", {InstanceMethod("encode", &RecordEncoder::Encode)});
  // one per process (the addon is loaded once): kept for Of()'s instanceof check
  if (!constructor) constructor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

namespace {

// [[number, name], ...] into names by number (at most maxNumber); false with a TypeError thrown otherwise.
bool NameTable(Napi::Env env, Napi::Object config, const char* key, uint32_t maxNumber, std::vector<std::string>* out) {
  Napi::Value v = config.Get(key);
  const std::string name = std::string("RecordEncoder(config): config.") + key;
  if (!v.IsArray()) {
    ThrowTypeError(env, name + " must be an array of [number, name] (got " + TypeName(v) + ")");
    return false;
  }
  Napi::Array entries = v.As<Napi::Array>();
  for (uint32_t i = 0; i < entries.Length(); i++) {
    Napi::Value entry = entries.Get(i);
    if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 2) {
      ThrowTypeError(env, name + "[" + std::to_string(i) + "] must be [number, name]");
      return false;
    }
    Napi::Value number = entry.As<Napi::Array>().Get(0u);
    Napi::Value text = entry.As<Napi::Array>().Get(1u);
    if (!number.IsNumber() || !text.IsString()) {
      ThrowTypeError(env, name + "[" + std::to_string(i) + "] must be [number, name]");
      return false;
    }
    const double n = number.As<Napi::Number>().DoubleValue();
    if (!(n >= 0 && n <= maxNumber) || n != static_cast<double>(static_cast<uint32_t>(n))) {
      ThrowRangeError(env, name + "[" + std::to_string(i) + "][0] must be a whole number in [0, " + std::to_string(maxNumber) + "]");
      return false;
    }
    const uint32_t at = static_cast<uint32_t>(n);
    if (out->size() <= at) out->resize(at + 1);
    (*out)[at] = text.As<Napi::String>().Utf8Value();
  }
  return true;
}

}  // namespace

// new RecordEncoder({ keys: { role: key }, errnoNames, protocolNames, eventName, countLimit, valueLengthLimit })
RecordEncoder::RecordEncoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RecordEncoder>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsFunction()) {
    ThrowTypeError(env, std::string("RecordEncoder(config): config must be an object (got ") +
                            (info.Length() < 1 ? "undefined" : TypeName(info[0])) + ")");
    return;
  }
  Napi::Object config = info[0].As<Napi::Object>();
  EncoderConfig c;
  Napi::Value keys = config.Get("keys");
  if (!keys.IsObject() || keys.IsArray()) {
    ThrowTypeError(env, std::string("RecordEncoder(config): config.keys must be an object (got ") + TypeName(keys) + ")");
    return;
  }
  for (size_t i = 0; i < static_cast<size_t>(Attr::Count); i++) {
    Napi::Value key = keys.As<Napi::Object>().Get(kAttributeRoles[i]);
    if (!key.IsString() || key.As<Napi::String>().Utf8Value().empty() || key.As<Napi::String>().Utf8Value().size() > 255) {
      ThrowTypeError(env, std::string("RecordEncoder(config): config.keys.") + kAttributeRoles[i] + " must be a key of 1 to 255 bytes");
      return;
    }
    c.keys.push_back(key.As<Napi::String>().Utf8Value());
  }
  if (!NameTable(env, config, "errnoNames", 4095, &c.errnoNames)) return;
  if (!NameTable(env, config, "protocolNames", 65535, &c.protocolNames)) return;
  OptionReader options(env, config, "RecordEncoder(config): config");
  if (!options.String("eventName", &c.eventName)) return;
  if (!options.Uint32("countLimit", &c.countLimit)) return;
  if (!options.Uint32("valueLengthLimit", &c.valueLengthLimit)) return;
  encoder_ = std::make_shared<const Encoder>(std::move(c));
}

std::shared_ptr<const Encoder> RecordEncoder::Of(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsObject() || !constructor || !value.As<Napi::Object>().InstanceOf(constructor->Value())) {
    ThrowTypeError(env, std::string(name) + " must be a RecordEncoder (got " + TypeName(value) + ")");
    return nullptr;
  }
  RecordEncoder* self = Napi::ObjectWrap<RecordEncoder>::Unwrap(value.As<Napi::Object>());
  if (!self->encoder_) ThrowTypeError(env, std::string(name) + " is a RecordEncoder whose construction failed");
  return self->encoder_;
}

Napi::Value RecordEncoder::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    ThrowTypeError(env, std::string("encode(records, withArgs, wallOffsetNs, observedNs): records must be a Buffer (got ") +
                            (info.Length() < 1 ? "undefined" : TypeName(info[0])) + ")");
    return env.Undefined();
  }
  if (info.Length() < 2 || !info[1].IsBoolean()) {
    ThrowTypeError(env, "encode(records, withArgs, wallOffsetNs, observedNs): withArgs must be a boolean");
    return env.Undefined();
  }
  uint64_t observed = 0;
  if (info.Length() < 3 || !info[2].IsBigInt()) {
    ThrowTypeError(env, "encode(records, withArgs, wallOffsetNs, observedNs): wallOffsetNs must be a bigint");
    return env.Undefined();
  }
  bool lossless = false;
  const int64_t offset = info[2].As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) {
    ThrowRangeError(env, "encode(records, withArgs, wallOffsetNs, observedNs): wallOffsetNs must fit in 64 bits");
    return env.Undefined();
  }
  if (!Uint64Arg(info, 3, "encode(records, withArgs, wallOffsetNs, observedNs): observedNs", std::numeric_limits<uint64_t>::max(), &observed))
    return env.Undefined();
  Napi::Buffer<uint8_t> records = info[0].As<Napi::Buffer<uint8_t>>();
  const bool withArgs = info[1].As<Napi::Boolean>().Value();
  const size_t size = Encoder::RecordSize(withArgs);
  const size_t count = records.Length() / size;
  Napi::Array out = Napi::Array::New(env, count);
  ByteBuffer bytes;
  for (size_t i = 0; i < count; i++) {
    bytes.Clear();
    if (encoder_->Encode(records.Data() + i * size, size, withArgs, offset, observed, &bytes) != Unencoded::None) {
      out.Set(static_cast<uint32_t>(i), env.Null());
    } else {
      out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
    }
  }
  return out;
}
