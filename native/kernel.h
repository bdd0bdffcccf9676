// SPDX-License-Identifier: Apache-2.0
// What the running kernel offers: the minimum bindsnoop needs, and which
// attach backends can be used. Pure checks: nothing stays loaded.
#pragma once

#include <string>

struct btf;

enum class Backend { kFentry, kKprobe, kTracepoint };

// "fentry", "kprobe", "tracepoint"
const char* BackendName(Backend backend);

// Linux's release string (uname -r).
std::string KernelRelease();

// "" when the kernel exposes its BTF, else the line saying so. Any thread.
std::string MissingBtf();

// "" when the kernel has everything the program needs whatever the backend
// (BTF, the BPF ring buffer, bpf_ktime_get_boot_ns), else one line naming the
// first missing feature and the Linux version that brought it. libbpf's probes
// cannot tell "missing" from "not permitted": call this to explain a load that
// failed for another reason than EPERM/EACCES. Any thread.
std::string MissingKernelFeature();

// The kernel's BTF, parsed once for all of a load's checks (each parse of
// /sys/kernel/btf/vmlinux costs milliseconds). Any thread.
class KernelBtf {
 public:
  KernelBtf();
  ~KernelBtf();
  KernelBtf(const KernelBtf&) = delete;
  KernelBtf& operator=(const KernelBtf&) = delete;
  bool Parsed() const { return btf_ != nullptr; }
  // the function's BTF id, > 0 when the kernel has it (a function inlined away has none)
  int FunctionId(const char* name) const;
  bool HasFunction(const char* name) const { return FunctionId(name) > 0; }

 private:
  struct btf* btf_;
};

// The functions the fentry and kprobe backends hook: inet_bind_sk/inet6_bind_sk,
// which every inet bind passes since Linux 6.6 (MPTCP calls them directly),
// where the kernel has them, else inet_bind/inet6_bind (which call them): one
// or the other, never both, so each bind is reported once.
struct BindFunctions {
  bool v4Sk = false;
  bool v6Sk = false;
  const char* v4() const { return v4Sk ? "inet_bind_sk" : "inet_bind"; }
  const char* v6() const { return v6Sk ? "inet6_bind_sk" : "inet6_bind"; }
};
BindFunctions BindFunctionsOf(const KernelBtf& btf);

// "" when `backend` can attach here, else why not (one clause). The fentry
// probe loads and attaches a trial no-op fexit program on inet_bind, as
// libbpf-tools' fentry_can_attach() loads one, and removes it; the kprobe
// probe checks each function it would hook, as bcc does before attaching.
// `*err` is the errno behind a refusal (EOPNOTSUPP where nothing refused).
// Any thread.
std::string BackendUnavailable(Backend backend, const KernelBtf& btf, int* err);
