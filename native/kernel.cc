// SPDX-License-Identifier: Apache-2.0
#include "kernel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>

#include "errors.h"

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kFentry:
      return "fentry";
    case Backend::kKprobe:
      return "kprobe";
    case Backend::kTracepoint:
      return "tracepoint";
  }
  return "?";
}

std::string KernelRelease() {
  struct utsname u;
  return uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

namespace {

const char kBtfPath[] = "/sys/kernel/btf/vmlinux";

std::string Missing(const std::string& what, const char* since) {
  return "this kernel (Linux " + KernelRelease() + ") lacks " + what + ", which Linux " + since +
         " brought; bindsnoop needs Linux 5.8 or newer built with CONFIG_DEBUG_INFO_BTF=y";
}

// the kernel's internal ENOTSUPP leaks out of some BPF calls
constexpr int kKernelENOTSUPP = 524;

std::string ErrnoText(int err) {
  if (err < 0) err = -err;
  if (err == kKernelENOTSUPP) return "ENOTSUPP: operation not supported";
  return std::string(ErrnoName(err)) + ": " + strerror(err);
}

// Makes sure tracefs is reachable where libbpf looks for tracepoint ids, mounting it when it is missing and
// we may. Returns "" or the reason. JS thread.
// statfs f_type of tracefs (include/uapi/linux/magic.h)
constexpr long kTracefsMagic = 0x74726163;

/** Whether this process may reach `path`, by its effective ids and capabilities (plain access() drops them). */
bool Reachable(const char* path) { return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0; }

std::string EnsureTracefs() {
  // libbpf reads tracepoint ids under debugfs when it is mounted, else tracefs.
  if (Reachable("/sys/kernel/debug/tracing/events/syscalls")) return "";
  if (Reachable("/sys/kernel/tracing/events/syscalls")) return "";
  int reachErr = errno;
  struct statfs fs;
  if (statfs("/sys/kernel/tracing", &fs) == 0 && fs.f_type == kTracefsMagic) {
    // mounted: what is refused is this user's reading it, or the kernel has no syscall tracepoints
    if (reachErr == ENOENT) return "tracefs is mounted at /sys/kernel/tracing but has no syscall tracepoints: the kernel needs CONFIG_FTRACE_SYSCALLS";
    struct stat st;
    char detail[96] = "";
    if (stat("/sys/kernel/tracing", &st) == 0)
      snprintf(detail, sizeof(detail), " (mode %04o, owner uid %u)", static_cast<unsigned>(st.st_mode & 07777), static_cast<unsigned>(st.st_uid));
    return std::string("tracefs is mounted at /sys/kernel/tracing but this user (uid ") + std::to_string(geteuid()) + ") may not read it" +
           detail + ": the tracepoint backend reads the syscall tracepoints' ids there (" + strerror(reachErr) +
           "); run as uid 0 with CAP_BPF and CAP_PERFMON, or also grant CAP_DAC_READ_SEARCH";
  }
  if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 && Reachable("/sys/kernel/tracing/events/syscalls")) return "";
  int err = errno;
  return std::string("tracefs is not mounted at /sys/kernel/tracing and mounting it failed: ") + strerror(err) +
         "; mount it with `mount -t tracefs nodev /sys/kernel/tracing` (in a container, mount the host's "
         "/sys/kernel/tracing), and check that the kernel has CONFIG_FTRACE_SYSCALLS";
}

}  // namespace

std::string MissingBtf() {
  const std::string missing = Missing(std::string("BTF type information at ") + kBtfPath + " (CONFIG_DEBUG_INFO_BTF=y)", "5.4");
  if (access(kBtfPath, R_OK) != 0) return missing;
  // a file that is there but empty, or not BTF (its header's magic, 0xeB9F), is no better than none: every backend
  // would fail later with an errno that says nothing of it
  int fd = open(kBtfPath, O_RDONLY | O_CLOEXEC);
  uint16_t magic = 0;
  ssize_t n = fd < 0 ? -1 : read(fd, &magic, sizeof(magic));
  if (fd >= 0) close(fd);
  if (n != static_cast<ssize_t>(sizeof(magic)) || magic != BTF_MAGIC) return missing + " (" + kBtfPath + " is empty or not BTF)";
  return "";
}

std::string MissingKernelFeature() {
  std::string btf = MissingBtf();
  if (!btf.empty()) return btf;
  // 1: supported, 0: not, <0: the probe itself failed (no privileges): loading will say why
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 0) {
    return Missing("the BPF ring buffer (BPF_MAP_TYPE_RINGBUF)", "5.8");
  }
  if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ktime_get_boot_ns, nullptr) == 0) {
    return Missing("the BPF helper bpf_ktime_get_boot_ns", "5.8");
  }
  if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ringbuf_query, nullptr) == 0) {
    return Missing("the BPF helper bpf_ringbuf_query", "5.8");
  }
  return "";
}

KernelBtf::KernelBtf() : btf_(btf__load_vmlinux_btf()) {}

KernelBtf::~KernelBtf() { btf__free(btf_); }

int KernelBtf::FunctionId(const char* name) const {
  return btf_ ? btf__find_by_name_kind(btf_, name, BTF_KIND_FUNC) : -ENOENT;
}

BindFunctions BindFunctionsOf(const KernelBtf& btf) {
  BindFunctions f;
  f.v4Sk = btf.HasFunction("inet_bind_sk");
  f.v6Sk = btf.HasFunction("inet6_bind_sk");
  return f;
}

namespace {

// Loads `r0 = 0; exit` as an fexit program on inet_bind and attaches it; `*err` is the errno of a refusal.
std::string FentryUnavailable(const KernelBtf& btf, int* err) {
  *err = EOPNOTSUPP;
  if (!btf.Parsed()) return "no kernel BTF to find inet_bind in";
  int id = btf.FunctionId("inet_bind");
  if (id <= 0) return "inet_bind is not in the kernel's BTF";

  const struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
              .attach_btf_id = static_cast<__u32>(id));
  int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "bindsnoop_probe", "GPL", insns, 2, &opts);
  if (prog < 0) {
    *err = errno;
    return "the kernel refused a trial fexit program on inet_bind (" + ErrnoText(*err) + ")";
  }
  int link = bpf_raw_tracepoint_open(nullptr, prog);
  *err = errno;
  close(prog);
  if (link < 0) {
    if (*err == kKernelENOTSUPP || *err == EOPNOTSUPP || *err == EINVAL)
      return "the kernel cannot attach fexit programs to its functions here (" + ErrnoText(*err) +
             "; x86_64 can since Linux 5.5, arm64 since 6.4)";
    return "the kernel refused to attach a trial fexit program on inet_bind (" + ErrnoText(*err) + ")";
  }
  close(link);
  *err = 0;
  return "";
}

// Whether `name` is a line of the kernel's kprobe blacklist (debugfs, "0xstart-0xend\tname"); false when
// the list cannot be read (debugfs not mounted): the attach then decides.
bool OnKprobeBlacklist(const char* name) {
  FILE* f = fopen("/sys/kernel/debug/kprobes/blacklist", "re");
  if (!f) return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char* tab = strchr(line, '\t');
    if (!tab) continue;
    char* sym = tab + 1;
    sym[strcspn(sym, " \t\n")] = '\0';
    found = strcmp(sym, name) == 0;
  }
  fclose(f);
  return found;
}

std::string KprobeUnavailable(const KernelBtf& btf) {
  // the perf kprobe PMU (Linux 4.17+) is what libbpf attaches kprobes through
  if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) != 0)
    return "this kernel has no kprobes (CONFIG_KPROBES and CONFIG_KPROBE_EVENTS are off)";
  // then each function hooked, as bcc checks a function before attaching: a function of its own (not inlined
  // away: its BTF has it) and not one kprobes refuse
  BindFunctions f = BindFunctionsOf(btf);
  for (const char* name : {f.v4(), f.v6()}) {
    if (btf.Parsed() && !btf.HasFunction(name))
      return std::string(name) + " is not a function of this kernel (inlined, or built without it)";
    if (OnKprobeBlacklist(name)) return std::string(name) + " is on the kernel's kprobe blacklist";
  }
  return "";
}

std::string TracepointUnavailable() {
  std::string reason = EnsureTracefs();
  return reason;
}

}  // namespace

std::string BackendUnavailable(Backend backend, const KernelBtf& btf, int* err) {
  *err = EOPNOTSUPP;
  switch (backend) {
    case Backend::kFentry:
      return FentryUnavailable(btf, err);
    case Backend::kKprobe:
      return KprobeUnavailable(btf);
    case Backend::kTracepoint:
      return TracepointUnavailable();
  }
  return "unknown backend";
}
