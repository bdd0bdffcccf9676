// SPDX-License-Identifier: Apache-2.0
#include "errors.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <deque>
#include <mutex>

namespace {

std::mutex logMutex;
std::deque<std::string> logLines;
constexpr size_t kMaxLogLines = 60;

int PrintToBuffer(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !getenv("BINDSNOOP_LIBBPF_DEBUG")) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (getenv("BINDSNOOP_LIBBPF_DEBUG")) fputs(line, stderr);
  std::lock_guard<std::mutex> lock(logMutex);
  logLines.emplace_back(line);
  if (logLines.size() > kMaxLogLines) logLines.pop_front();
  return n;
}

}  // namespace

// strerrorname_np() is glibc 2.32+; the prebuilds run on 2.31, so the names the kernel and libbpf return are listed here
const char* ErrnoName(int err) {
  if (err < 0) err = -err;
  switch (err) {
#define ERRNO_NAME(e) \
  case e:             \
    return #e;
    ERRNO_NAME(EPERM)
    ERRNO_NAME(ENOENT)
    ERRNO_NAME(ESRCH)
    ERRNO_NAME(EINTR)
    ERRNO_NAME(EIO)
    ERRNO_NAME(ENXIO)
    ERRNO_NAME(E2BIG)
    ERRNO_NAME(ENOEXEC)
    ERRNO_NAME(EBADF)
    ERRNO_NAME(ECHILD)
    ERRNO_NAME(EAGAIN)
    ERRNO_NAME(ENOMEM)
    ERRNO_NAME(EACCES)
    ERRNO_NAME(EFAULT)
    ERRNO_NAME(EBUSY)
    ERRNO_NAME(EEXIST)
    ERRNO_NAME(EXDEV)
    ERRNO_NAME(ENODEV)
    ERRNO_NAME(ENOTDIR)
    ERRNO_NAME(EISDIR)
    ERRNO_NAME(EINVAL)
    ERRNO_NAME(ENFILE)
    ERRNO_NAME(EMFILE)
    ERRNO_NAME(ENOTTY)
    ERRNO_NAME(EFBIG)
    ERRNO_NAME(ENOSPC)
    ERRNO_NAME(ESPIPE)
    ERRNO_NAME(EROFS)
    ERRNO_NAME(EMLINK)
    ERRNO_NAME(EPIPE)
    ERRNO_NAME(EDOM)
    ERRNO_NAME(ERANGE)
    ERRNO_NAME(EDEADLK)
    ERRNO_NAME(ENAMETOOLONG)
    ERRNO_NAME(ENOLCK)
    ERRNO_NAME(ENOSYS)
    ERRNO_NAME(ENOTEMPTY)
    ERRNO_NAME(ELOOP)
    ERRNO_NAME(ENOMSG)
    ERRNO_NAME(EIDRM)
    ERRNO_NAME(ENODATA)
    ERRNO_NAME(ETIME)
    ERRNO_NAME(EPROTO)
    ERRNO_NAME(EBADMSG)
    ERRNO_NAME(EOVERFLOW)
    ERRNO_NAME(EILSEQ)
    ERRNO_NAME(EUSERS)
    ERRNO_NAME(ENOTSOCK)
    ERRNO_NAME(EMSGSIZE)
    ERRNO_NAME(EPROTOTYPE)
    ERRNO_NAME(ENOPROTOOPT)
    ERRNO_NAME(EPROTONOSUPPORT)
    ERRNO_NAME(EOPNOTSUPP)
    ERRNO_NAME(EAFNOSUPPORT)
    ERRNO_NAME(EADDRINUSE)
    ERRNO_NAME(EADDRNOTAVAIL)
    ERRNO_NAME(ENETDOWN)
    ERRNO_NAME(ENETUNREACH)
    ERRNO_NAME(ECONNRESET)
    ERRNO_NAME(ENOBUFS)
    ERRNO_NAME(EISCONN)
    ERRNO_NAME(ENOTCONN)
    ERRNO_NAME(ETIMEDOUT)
    ERRNO_NAME(ECONNREFUSED)
    ERRNO_NAME(EHOSTUNREACH)
    ERRNO_NAME(EALREADY)
    ERRNO_NAME(EINPROGRESS)
    ERRNO_NAME(ESTALE)
    ERRNO_NAME(EDQUOT)
    ERRNO_NAME(ECANCELED)
    ERRNO_NAME(EOWNERDEAD)
    ERRNO_NAME(ENOTRECOVERABLE)
#undef ERRNO_NAME
    case 524:  // the kernel's ENOTSUPP (include/linux/errno.h), which it returns for an unsupported BPF attach
      return "ENOTSUPP";
    default:
      return "EUNKNOWN";
  }
}

void ThrowBpfError(Napi::Env env, int err, const std::string& op, const std::string& hint,
                   const std::string& details, bool userInput) {
  if (err < 0) err = -err;
  std::string message = "cannot " + op + ": " + strerror(err);
  if (!hint.empty()) message += " (" + hint + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("op", Napi::String::New(env, op));
  error.Set("hint", Napi::String::New(env, hint));
  if (!details.empty()) error.Set("details", Napi::String::New(env, details));
  if (userInput) error.Set("userInput", Napi::Boolean::New(env, true));
  error.ThrowAsJavaScriptException();
}

void ThrowReasonedError(Napi::Env env, int err, const std::string& op, const std::string& line) {
  if (err < 0) err = -err;
  Napi::Error error = Napi::Error::New(env, line);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("op", Napi::String::New(env, op));
  error.Set("hint", Napi::String::New(env, ""));
  error.ThrowAsJavaScriptException();
}

void ThrowKernelError(Napi::Env env, const std::string& line) {
  Napi::Error error = Napi::Error::New(env, line);
  error.Set("code", Napi::String::New(env, "ENOTSUP"));
  error.Set("errno", Napi::Number::New(env, ENOTSUP));
  error.Set("op", Napi::String::New(env, "check the kernel"));
  error.Set("hint", Napi::String::New(env, ""));
  error.ThrowAsJavaScriptException();
}

std::string HintFor(int err) {
  if (err < 0) err = -err;
  switch (err) {
    case EPERM:
    case EACCES:
      return "run as root or with CAP_BPF and CAP_PERFMON";
    case ENOENT:
      return "the kernel lacks something bindsnoop needs: BTF at /sys/kernel/btf/vmlinux "
             "(CONFIG_DEBUG_INFO_BTF) and the syscalls:sys_enter_bind tracepoint (CONFIG_FTRACE_SYSCALLS)";
    case ENOMEM:
      return "not enough locked memory for BPF maps: raise RLIMIT_MEMLOCK or the memory limit";
    case EINVAL:
      return "the kernel rejected the program; run with BINDSNOOP_LIBBPF_DEBUG=1 for the verifier log";
    default:
      return "";
  }
}

void CaptureLibbpfLog() {
  {
    std::lock_guard<std::mutex> lock(logMutex);
    logLines.clear();
  }
  libbpf_set_print(PrintToBuffer);
}

std::string LastLibbpfLog() {
  std::lock_guard<std::mutex> lock(logMutex);
  std::string out;
  for (const auto& line : logLines) out += line;
  return out;
}
