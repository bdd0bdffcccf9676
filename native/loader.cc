// SPDX-License-Identifier: Apache-2.0
#include "loader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "kernel.h"

namespace {

// A CPU profiler (node --cpu-prof: V8 signals the JavaScript thread with SIGPROF every millisecond) would make the
// verifier give up on a long program: it stops at a pending signal (-EAGAIN) and libbpf retries only a few times.
// The signal is held back while programs load and delivered after.
class ProfilerSignalHeld {
 public:
  ProfilerSignalHeld() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~ProfilerSignalHeld() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  ProfilerSignalHeld(const ProfilerSignalHeld&) = delete;
  ProfilerSignalHeld& operator=(const ProfilerSignalHeld&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

std::string Describe(const LoadError& e) {
  if (e.reasoned) return std::string("cannot ") + e.op + ": " + e.hint;
  std::string s = std::string("cannot ") + e.op + ": " + strerror(e.err);
  if (!e.hint.empty()) s += " (" + e.hint + ")";
  return s;
}

LoadResult LoadBackend(const ProgramOptions& opts, const std::string& choice, const BeforeAttach& beforeAttach,
                       const std::string& linkPinPrefix) {
  const ProfilerSignalHeld held;
  LoadResult result;
  result.kernelLacks = MissingBtf();
  if (!result.kernelLacks.empty()) return result;
  if (!Program::CheckUserMaps(opts, &result.error)) return result;

  std::vector<Backend> candidates;
  for (Backend b : {Backend::kFentry, Backend::kKprobe, Backend::kTracepoint}) {
    if (choice == "auto" || choice == BackendName(b)) candidates.push_back(b);
  }
  const bool forced = candidates.size() == 1;
  const KernelBtf btf;

  LoadError last;
  for (Backend b : candidates) {
    int unavailableErr = 0;
    std::string why = BackendUnavailable(b, btf, &unavailableErr);
    if (!why.empty()) {
      // the reason names its own errno: the message is the reason, not strerror() before it
      last = LoadError{unavailableErr, std::string("use the ") + BackendName(b) + " backend", why, "", false, true};
      result.notes.push_back(std::string(BackendName(b)) + ": " + why);
      continue;
    }
    LoadError error;
    result.program = Program::Load(opts, b, btf, &error, beforeAttach, linkPinPrefix);
    if (result.program) return result;
    last = error;
    // the user's filter map is wrong whatever the backend: say so at once
    if (error.userMap || forced) break;
    result.notes.push_back(std::string(BackendName(b)) + ": " + Describe(error));
  }
  // a refusal for lack of privileges is that; anything else may be an old kernel
  if (last.err != EPERM && last.err != EACCES && !last.userMap) result.kernelLacks = MissingKernelFeature();
  result.error = last;
  return result;
}
