// SPDX-License-Identifier: Apache-2.0
// What the running kernel offers: the minimum bindsnoop needs, and which
// attach backends can be used. Pure checks: nothing stays loaded.
#pragma once

#include <string>

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

// Whether the kernel's BTF has a function of that name (not inlined away). Any thread.
bool KernelHasFunction(const char* name);

// "" when `backend` can attach here, else why not (one clause). The fentry
// probe loads and attaches a trial no-op fexit program on inet_bind, as
// libbpf-tools' fentry_can_attach() loads one, and removes it. `*err` is the
// errno behind a refusal (EOPNOTSUPP where nothing refused). Any thread.
std::string BackendUnavailable(Backend backend, int* err);
