// SPDX-License-Identifier: Apache-2.0
#include "args.h"

#include <cmath>

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  error.ThrowAsJavaScriptException();
}

const char* TypeName(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return "boolean";
    case napi_number:
      return "number";
    case napi_string:
      return "string";
    case napi_symbol:
      return "symbol";
    case napi_object:
      return v.IsArray() ? "array" : "object";
    case napi_function:
      return "function";
    case napi_external:
      return "external";
    case napi_bigint:
      return "bigint";
  }
  return "unknown";
}

bool OptionReader::Get(const char* key, Napi::Value* out) {
  *out = object_.Get(key);
  return !env_.IsExceptionPending();  // a throwing getter
}

bool OptionReader::WholeNumber(const char* key, uint64_t min, uint64_t max, bool* given, uint64_t* out) {
  Napi::Value v;
  *given = false;
  if (!Get(key, &v)) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) {
    ThrowTypeError(env_, Name(key) + " must be a number (got " + TypeName(v) + ")");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    ThrowRangeError(env_, Name(key) + " must be a whole number from " + std::to_string(min) + " to " +
                              std::to_string(max));
    return false;
  }
  *given = true;
  *out = static_cast<uint64_t>(d);
  return true;
}

bool OptionReader::Uint32(const char* key, uint32_t* out, uint32_t min, uint32_t max) {
  bool given;
  uint64_t v;
  if (!WholeNumber(key, min, max, &given, &v)) return false;
  if (given) *out = static_cast<uint32_t>(v);
  return true;
}

bool OptionReader::Uint64(const char* key, uint64_t* out, uint64_t min, uint64_t max) {
  bool given;
  uint64_t v;
  if (!WholeNumber(key, min, max, &given, &v)) return false;
  if (given) *out = v;
  return true;
}

bool OptionReader::Bool(const char* key, bool* out) {
  Napi::Value v;
  if (!Get(key, &v)) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsBoolean()) {
    ThrowTypeError(env_, Name(key) + " must be a boolean (got " + TypeName(v) + ")");
    return false;
  }
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

bool OptionReader::String(const char* key, std::string* out) {
  Napi::Value v;
  if (!Get(key, &v)) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsString()) {
    ThrowTypeError(env_, Name(key) + " must be a string (got " + TypeName(v) + ")");
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    ThrowTypeError(env_, Name(key) + " must not contain NUL characters");
    return false;
  }
  return true;
}

bool OptionReader::Uint16List(const char* key, std::vector<uint16_t>* out, size_t maxLength) {
  Napi::Value v;
  if (!Get(key, &v)) return false;
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) {
    ThrowTypeError(env_, Name(key) + " must be an array of numbers (got " + TypeName(v) + ")");
    return false;
  }
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() > maxLength) {
    ThrowRangeError(env_, Name(key) + " holds at most " + std::to_string(maxLength) + " entries");
    return false;
  }
  out->clear();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (env_.IsExceptionPending()) return false;
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!e.IsNumber() || d != std::floor(d) || d < 0 || d > 65535) {
      ThrowRangeError(env_, Name(key) + "[" + std::to_string(i) + "] must be a whole number from 0 to 65535");
      return false;
    }
    out->push_back(static_cast<uint16_t>(d));
  }
  return true;
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (info.Length() <= index || !info[index].IsString()) {
    ThrowTypeError(info.Env(), std::string(name) + " must be a string (got " +
                                   (info.Length() <= index ? "undefined" : TypeName(info[index])) + ")");
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  return true;
}

bool Uint64Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint64_t max, uint64_t* out) {
  if (info.Length() <= index || !info[index].IsBigInt()) {
    ThrowTypeError(info.Env(), std::string(name) + " must be a bigint (got " +
                                   (info.Length() <= index ? "undefined" : TypeName(info[index])) + ")");
    return false;
  }
  bool lossless = false;
  uint64_t v = info[index].As<Napi::BigInt>().Uint64Value(&lossless);
  // lossless is false for a negative value or one past 2^64-1: refuse it rather than store another key
  if (!lossless || v > max) {
    ThrowRangeError(info.Env(), std::string(name) + " must be from 0n to " + std::to_string(max) + "n");
    return false;
  }
  *out = v;
  return true;
}

bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsFunction()) {
    ThrowTypeError(info.Env(), std::string(name) + " must be a function (got " +
                                   (info.Length() <= index ? "undefined" : TypeName(info[index])) + ")");
    return false;
  }
  return true;
}
