// SPDX-License-Identifier: Apache-2.0
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <string>

#include "errors.h"

namespace {
// fds this module opened: unlockDirectory closes only these, never a caller's other fds
std::mutex heldMutex;
std::set<int> held;
}  // namespace

Napi::Value LockDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "lockDirectory(path): path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    Napi::RangeError::New(env, "lockDirectory(path): path must be a non-empty path without NUL").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    ThrowBpfError(env, errno, "open " + path + " to lock it", "");
    return env.Undefined();
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    ThrowBpfError(env, err, "lock " + path, err == EWOULDBLOCK ? "another process holds it" : "");
    return env.Undefined();
  }
  std::lock_guard<std::mutex> guard(heldMutex);
  held.insert(fd);
  return Napi::Number::New(env, fd);
}

Napi::Value UnlockDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "unlockDirectory(fd): fd must be a number from lockDirectory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double value = info[0].As<Napi::Number>().DoubleValue();
  int fd = static_cast<int>(value);
  std::lock_guard<std::mutex> guard(heldMutex);
  if (static_cast<double>(fd) != value || held.erase(fd) == 0) {
    Napi::RangeError::New(env, "unlockDirectory(fd): not a lock this module holds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  close(fd);
  return env.Undefined();
}
