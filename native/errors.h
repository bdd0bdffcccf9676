// SPDX-License-Identifier: Apache-2.0
// Errors from the kernel side, as JavaScript exceptions a user can act on.
#pragma once

#include <napi.h>

#include <string>

// Throws an Error whose code is the errno name (e.g. "EPERM"), with errno,
// op (what was being done) and hint (what to do) properties. JS thread.
void ThrowBpfError(Napi::Env env, int err, const std::string& op, const std::string& hint,
                   const std::string& details = "", bool userInput = false);

// Throws an Error whose message is `line` as is (a kernel too old or built
// without something bindsnoop needs), code ENOTSUP, op "check the kernel". JS thread.
void ThrowKernelError(Napi::Env env, const std::string& line);
// An error whose message is `line` as it is (it names its own errno), with that errno's code. Main thread.
void ThrowReasonedError(Napi::Env env, int err, const std::string& op, const std::string& line);

// errno's symbolic name (EPERM), "EUNKNOWN" for one it does not list. Any thread.
const char* ErrnoName(int err);

// What a user can do about errno `err` when loading or attaching.
std::string HintFor(int err);

// Start keeping libbpf's messages (instead of printing them) so a failure can
// carry the verifier's last lines. JS thread, before open/load/attach.
void CaptureLibbpfLog();
std::string LastLibbpfLog();
