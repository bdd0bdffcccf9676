// SPDX-License-Identifier: Apache-2.0
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include <string>

#include "errors.h"

namespace {
// The fd argument of `what`, or -1 with a TypeError/RangeError thrown.
int FdArgument(const Napi::CallbackInfo& info, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + "(fd): fd must be a number").ThrowAsJavaScriptException();
    return -1;
  }
  double value = info[0].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= 2147483647.0) || static_cast<double>(static_cast<int>(value)) != value) {
    Napi::RangeError::New(env, std::string(what) + "(fd): fd must be a whole number from 0 to 2147483647").ThrowAsJavaScriptException();
    return -1;
  }
  return static_cast<int>(value);
}
}  // namespace

Napi::Value PeerClosed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, "peerClosed");
  if (fd < 0) return env.Undefined();
  struct pollfd p = {fd, 0, 0};
  int n = poll(&p, 1, 0);
  return Napi::Boolean::New(env, n == 1 && (p.revents & (POLLERR | POLLHUP)) != 0);
}

Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, "setNonBlocking");
  if (fd < 0) return env.Undefined();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) ThrowBpfError(env, errno, "make fd " + std::to_string(fd) + " non-blocking", "");
  return env.Undefined();
}
