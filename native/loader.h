// SPDX-License-Identifier: Apache-2.0
// The backend policy: the backend asked for, or the best this kernel allows
// (fentry, then kprobe, then tracepoint), each checked before it is loaded,
// with the kernel's BTF parsed once for all of it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "program.h"

struct LoadResult {
  std::unique_ptr<Program> program;  // null when nothing loaded
  // why each better backend was not used ("kprobe: this kernel has no kprobes ...")
  std::vector<std::string> notes;
  // when nothing loaded: the kernel lacks something bindsnoop needs (one line), else `error` says why
  std::string kernelLacks;
  LoadError error;
};

// `choice` is "auto" or a backend's name (checked by options.cc). Nothing is
// left in the kernel unless `program` is set. Any thread.
LoadResult LoadBackend(const ProgramOptions& opts, const std::string& choice, const BeforeAttach& beforeAttach = nullptr,
                       const std::string& linkPinPrefix = "");

// "cannot OP: REASON (HINT)", as the user reads a load error.
std::string Describe(const LoadError& e);
