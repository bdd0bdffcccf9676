// SPDX-License-Identifier: Apache-2.0
// Argument checks for the exported methods (JS thread). Each throws a
// TypeError or RangeError naming the bad argument and returns false, so a
// wrong call from JavaScript is an exception, never an abort.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

void ThrowTypeError(Napi::Env env, const std::string& message);
void ThrowRangeError(Napi::Env env, const std::string& message);

// "string", "number", "bigint", "object", ... for messages
const char* TypeName(const Napi::Value& v);

// Fields of an options object; an undefined field keeps the default.
class OptionReader {
 public:
  OptionReader(Napi::Env env, Napi::Object object, std::string what)
      : env_(env), object_(object), what_(std::move(what)) {}
  bool Uint32(const char* key, uint32_t* out, uint32_t min = 0, uint32_t max = UINT32_MAX);
  bool Bool(const char* key, bool* out);
  // a whole number in [min, max]; max at most 2^53-1 (ids such as inode numbers), the most a number holds exactly
  bool Uint64(const char* key, uint64_t* out, uint64_t min, uint64_t max);
  bool String(const char* key, std::string* out);
  bool Uint16List(const char* key, std::vector<uint16_t>* out, size_t maxLength);

 private:
  bool Get(const char* key, Napi::Value* out);
  // a number that is whole and in [min, max]; *given is false when the field is undefined
  bool WholeNumber(const char* key, uint64_t min, uint64_t max, bool* given, uint64_t* out);
  std::string Name(const char* key) const { return what_ + "." + key; }
  Napi::Env env_;
  Napi::Object object_;
  std::string what_;
};

// info[index] as a string / a bigint in [0, max]; false with an exception pending otherwise.
bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);
bool Uint64Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint64_t max, uint64_t* out);
bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name);
