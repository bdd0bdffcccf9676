// SPDX-License-Identifier: Apache-2.0
#include "program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <tuple>

#include "bindsnoop.h"
#include "bindsnoop.skel.h"
#include "errors.h"

namespace {

struct ProgLink {
  struct bpf_program* prog;
  struct bpf_link** link;
};

// The programs of one backend on the functions it hooks, with where the skeleton keeps their links.
// With handover the fentry backend has entries too: the claim that makes one of two attached sets report a bind.
std::vector<ProgLink> ProgramsOf(bindsnoop_bpf* s, Backend backend, BindFunctions f, bool handover) {
  switch (backend) {
    case Backend::kFentry: {
      std::vector<ProgLink> programs;
      if (handover)
        programs = {f.v4Sk ? ProgLink{s->progs.fentry_inet_bind_sk, &s->links.fentry_inet_bind_sk}
                           : ProgLink{s->progs.fentry_inet_bind, &s->links.fentry_inet_bind},
                    f.v6Sk ? ProgLink{s->progs.fentry_inet6_bind_sk, &s->links.fentry_inet6_bind_sk}
                           : ProgLink{s->progs.fentry_inet6_bind, &s->links.fentry_inet6_bind}};
      programs.push_back(f.v4Sk ? ProgLink{s->progs.fexit_inet_bind_sk, &s->links.fexit_inet_bind_sk}
                                : ProgLink{s->progs.fexit_inet_bind, &s->links.fexit_inet_bind});
      programs.push_back(f.v6Sk ? ProgLink{s->progs.fexit_inet6_bind_sk, &s->links.fexit_inet6_bind_sk}
                                : ProgLink{s->progs.fexit_inet6_bind, &s->links.fexit_inet6_bind});
      return programs;
    }
    case Backend::kKprobe:
      return {f.v4Sk ? ProgLink{s->progs.kprobe_inet_bind_sk, &s->links.kprobe_inet_bind_sk}
                     : ProgLink{s->progs.kprobe_inet_bind, &s->links.kprobe_inet_bind},
              f.v6Sk ? ProgLink{s->progs.kprobe_inet6_bind_sk, &s->links.kprobe_inet6_bind_sk}
                     : ProgLink{s->progs.kprobe_inet6_bind, &s->links.kprobe_inet6_bind},
              f.v4Sk ? ProgLink{s->progs.kretprobe_inet_bind_sk, &s->links.kretprobe_inet_bind_sk}
                     : ProgLink{s->progs.kretprobe_inet_bind, &s->links.kretprobe_inet_bind},
              f.v6Sk ? ProgLink{s->progs.kretprobe_inet6_bind_sk, &s->links.kretprobe_inet6_bind_sk}
                     : ProgLink{s->progs.kretprobe_inet6_bind, &s->links.kretprobe_inet6_bind}};
    case Backend::kTracepoint:
      return {{s->progs.handle_enter_bind, &s->links.handle_enter_bind},
              {s->progs.handle_exit_bind, &s->links.handle_exit_bind}};
  }
  return {};
}

// Every program of the object, whichever backend and functions it is for.
std::vector<ProgLink> AllPrograms(bindsnoop_bpf* s) {
  std::vector<ProgLink> all;
  for (Backend b : {Backend::kFentry, Backend::kKprobe, Backend::kTracepoint})
    for (bool sk : {false, true})
      for (const ProgLink& pl : ProgramsOf(s, b, BindFunctions{sk, sk}, true)) all.push_back(pl);
  return all;
}

void Fail(LoadError* error, int err, const std::string& op, const std::string& hint, bool userMap = false,
          const std::string& details = "") {
  error->err = err < 0 ? -err : err;
  error->op = op;
  error->hint = hint;
  error->userMap = userMap;
  error->details = details;
}

// Whether fd is a BPF map (its fdinfo has map_type:; a program's has prog_type:).
bool IsMapFd(int fd) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE* f = fopen(path, "r");
  if (!f) return true;  // no procfs: let the map query decide
  char line[128];
  bool map = false;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "map_type:", 9) == 0) map = true;
  fclose(f);
  return map;
}

// Our fd of the user's pinned map, checked against bcc's layout, or -1.
int OpenFilterMap(const std::string& path, uint32_t valueSize, const char* flag, LoadError* error) {
  auto createAt = [valueSize](const std::string& at) {
    return "bpftool map create " + at + " type hash key 8 value " + std::to_string(valueSize) + " entries 128 name filter";
  };
  const std::string create = createAt(path);
  if (access(path.c_str(), F_OK) == 0 && !OnBpffs(path)) {
    // a map can only be pinned on a BPF filesystem: suggest one there, under the same name
    const size_t slash = path.find_last_of('/');
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    Fail(error, EINVAL, std::string("open ") + flag + " map " + path,
         path + " is not a pinned BPF object (it is not on a BPF filesystem); pin a map on one and pass its path, e.g. " +
             createAt("/sys/fs/bpf/" + (name.empty() ? std::string("filter") : name)),
         true);
    return -1;
  }
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    int err = errno;
    std::string hint = err == ENOENT ? "no BPF object is pinned at " + path + "; create it first, e.g. " + create : HintFor(err);
    Fail(error, err, std::string("open ") + flag + " map " + path, hint, true);
    return -1;
  }
  if (!IsMapFd(fd)) {
    close(fd);
    Fail(error, EINVAL, std::string("use ") + flag + " map " + path,
         "the object pinned there is not a map (a program or a link?); expected a hash map, e.g. " + create, true);
    return -1;
  }
  struct bpf_map_info info = {};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
    int err = errno;
    close(fd);
    Fail(error, err, std::string("inspect ") + flag + " map " + path, HintFor(err), true);
    return -1;
  }
  if (info.type != BPF_MAP_TYPE_HASH || info.key_size != 8 || info.value_size != valueSize) {
    close(fd);
    Fail(error, EINVAL, std::string("use ") + flag + " map " + path,
         "expected a hash map with 8-byte keys and " + std::to_string(valueSize) + "-byte values (found type " +
             std::to_string(info.type) + ", key " + std::to_string(info.key_size) + ", value " +
             std::to_string(info.value_size) + ")",
         true);
    return -1;
  }
  return fd;
}

int ReuseFilterMap(const std::string& path, struct bpf_map* map, uint32_t valueSize, const char* flag,
                   LoadError* error) {
  int fd = OpenFilterMap(path, valueSize, flag, error);
  if (fd < 0) return -1;
  int err = bpf_map__reuse_fd(map, fd);
  if (err) {
    close(fd);
    Fail(error, err, std::string("reuse ") + flag + " map " + path, HintFor(err), true);
    return -1;
  }
  return fd;  // libbpf dup()s it; ours is closed with the program
}

}  // namespace

bool OnBpffs(const std::string& path) {
  struct statfs st;
  return statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == kBpfFsMagic;
}

Program::Program(Backend backend, BindFunctions functions, bool k8s)
    : backend_(backend), k8s_(k8s), functions_(functions) {}

std::string Program::AttachPoint() const {
  switch (backend_) {
    case Backend::kFentry:
    case Backend::kKprobe:
      return std::string(backend_ == Backend::kFentry ? "fexit" : "kprobes") + " on " + functions_.v4() + " and " +
             functions_.v6();
    case Backend::kTracepoint:
      return "tracepoints syscalls:sys_enter_bind and sys_exit_bind";
  }
  return "?";
}

bool Program::CheckUserMaps(const ProgramOptions& opts, LoadError* error) {
  const std::tuple<const std::string&, uint32_t, const char*> maps[] = {{opts.cgroupMapPath, 8, "--cgroupmap"},
                                                                          {opts.mntnsMapPath, 4, "--mntnsmap"}};
  for (const auto& [path, valueSize, flag] : maps) {
    if (path.empty()) continue;
    int fd = OpenFilterMap(path, valueSize, flag, error);
    if (fd < 0) return false;
    close(fd);
  }
  return true;
}

std::unique_ptr<Program> Program::Load(const ProgramOptions& opts, Backend backend, const KernelBtf& btf,
                                       LoadError* error, const BeforeAttach& beforeAttach,
                                       const std::string& linkPinPrefix) {
  // the tracepoint backend hooks no kernel function
  BindFunctions functions = backend == Backend::kTracepoint ? BindFunctions{} : BindFunctionsOf(btf);
  std::unique_ptr<Program> p(new Program(backend, functions, !opts.pinDir.empty()));
  p->handover_ = !opts.handoverDir.empty();
  if (!p->Open(opts, error)) return nullptr;  // the destructor unloads what was loaded
  if (beforeAttach && !beforeAttach(*p, error)) return nullptr;
  if (!p->Attach(error, linkPinPrefix)) {
    p->Detach();  // unpins what was pinned: nothing of a failed load stays attached
    return nullptr;
  }
  return p;
}

bool Program::Open(const ProgramOptions& opts, LoadError* error) {
  CaptureLibbpfLog();
  skel_ = bindsnoop_bpf__open();
  if (!skel_) {
    int err = errno;
    Fail(error, err, "open BPF object", HintFor(err));
    return false;
  }
  auto* ro = skel_->rodata;
  ro->target_tgid = opts.pid;
  ro->filter_uid = opts.filterUid;
  ro->target_uid = opts.uid;
  ro->filter_ports = !opts.ports.empty();
  ro->include_errors = opts.includeErrors;
  ro->count_mode = opts.countMode;
  ro->hide_kernel_binds = opts.hideKernelBinds;
  ro->read_cgroup_names = opts.readCgroupNames;
  ro->read_args = opts.readArgs;
  ro->cgroup_root_id = opts.cgroupRootId;
  ro->filter_cgroup = !opts.cgroupMapPath.empty();
  ro->filter_mntns = !opts.mntnsMapPath.empty();
  ro->wakeup_bytes = opts.wakeupBytes;
  ro->k8s_exclusions = k8s_;
  ro->handover = handover_;

  // only this backend's programs are loaded: the others may not even verify here
  for (const ProgLink& pl : AllPrograms(skel_)) bpf_program__set_autoload(pl.prog, false);
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_)) bpf_program__set_autoload(pl.prog, true);

  if (handover_) {
    // the maps two sets share, and the ring: reused when pinned (handover.cc moved aside what is not shareable)
    const std::pair<struct bpf_map*, const char*> pins[] = {{skel_->maps.state, "state"},
                                                             {skel_->maps.stats, "stats"},
                                                             {skel_->maps.inflight, "inflight"},
                                                             {skel_->maps.events, "events"}};
    for (const auto& [map, name] : pins) {
      std::string path = opts.handoverDir + "/" + name;
      int e = bpf_map__set_pin_path(map, path.c_str());
      if (e) {
        Fail(error, e, "set pin path " + path, HintFor(e));
        return false;
      }
    }
  }

  if (k8s_) {
    // libbpf reuses a compatible map already pinned there (a restarted agent), else creates and pins it
    const std::pair<struct bpf_map*, const char*> pins[] = {
        {skel_->maps.k8s_cgroups, "cgroups"}, {skel_->maps.k8s_mntns, "mntns"}, {skel_->maps.k8s_excluded, "excluded"}};
    for (const auto& [map, name] : pins) {
      std::string path = opts.pinDir + "/" + name;
      int e = bpf_map__set_pin_path(map, path.c_str());
      if (e) {
        Fail(error, e, "set pin path " + path, HintFor(e));
        return false;
      }
    }
  }

  int err = bpf_map__set_max_entries(skel_->maps.events, opts.ringBufferBytes);
  if (err) {
    Fail(error, err, "size ring buffer", "ringBufferBytes must be a power of two multiple of the page size");
    return false;
  }
  if (!opts.cgroupMapPath.empty()) {
    cgroupMapFd_ = ReuseFilterMap(opts.cgroupMapPath, skel_->maps.cgroup_filter, 8, "--cgroupmap", error);
    if (cgroupMapFd_ < 0) return false;
  }
  if (!opts.mntnsMapPath.empty()) {
    mntnsMapFd_ = ReuseFilterMap(opts.mntnsMapPath, skel_->maps.mntns_filter, 4, "--mntnsmap", error);
    if (mntnsMapFd_ < 0) return false;
  }

  err = bindsnoop_bpf__load(skel_);
  if (err) {
    std::string log = LastLibbpfLog();
    std::string hint = HintFor(err);
    // EACCES is also the verifier's refusal, which privileges do not change: libbpf then logged the program's load log
    if (-err == EACCES && log.find("BEGIN PROG LOAD LOG") != std::string::npos)
      hint = "the kernel's verifier refused the program; run with BINDSNOOP_LIBBPF_DEBUG=1 for its log";
    if (k8s_ && -err == EINVAL) hint += "; or a map pinned under " + opts.pinDir + " has another layout: remove it";
    if (handover_ && -err == EINVAL)
      hint += "; or a map pinned under " + opts.handoverDir + " has another layout: remove it with bindsnoop cleanup";
    Fail(error, err, std::string("load BPF programs for the ") + BackendName(backend_) + " backend", hint, false, log);
    return false;
  }

  int portsFd = bpf_map__fd(skel_->maps.ports);
  for (uint16_t port : opts.ports) {
    uint8_t one = 1;
    if (bpf_map_update_elem(portsFd, &port, &one, BPF_ANY)) {
      int e = errno;
      Fail(error, e, "fill ports map", HintFor(e));
      return false;
    }
  }
  return true;
}

bool Program::Attach(LoadError* error, const std::string& linkPinPrefix) {
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_)) {
    struct bpf_link* link = bpf_program__attach(pl.prog);
    if (!link) {
      int err = errno;
      Fail(error, err, "attach " + AttachPoint(), HintFor(err), false, LastLibbpfLog());
      return false;
    }
    *pl.link = link;  // bindsnoop_bpf__destroy() destroys it
    if (!linkPinPrefix.empty()) {
      std::string path = linkPinPrefix + bpf_program__name(pl.prog);
      int e = bpf_link__pin(link, path.c_str());
      if (e) {
        // kprobes and tracepoints attach through perf events, pinnable as links since Linux 5.15
        // (b89fbfbb854c "bpf: Implement minimal BPF perf link")
        Fail(error, e, "pin the link of " + std::string(bpf_program__name(pl.prog)) + " at " + path,
             -e == EINVAL ? "this kernel cannot pin a " + std::string(BackendName(backend_)) +
                                " link (Linux 5.15 and later can; 5.10 only fentry's): use the fentry backend, "
                                "or turn handover off"
                          : HintFor(e));
        return false;
      }
    }
  }
  return true;
}

bool Program::Attached() const {
  if (!skel_) return false;
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_))
    if (*pl.link == nullptr) return false;
  return true;
}

void Program::Detach() {
  if (!skel_) return;
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_)) {
    // a pinned link would outlive its fd: unpin it so that destroying it detaches
    if (*pl.link) bpf_link__unpin(*pl.link);
    bpf_link__destroy(*pl.link);
    *pl.link = nullptr;
  }
}

void Program::KeepAttached() {
  if (!skel_) return;
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_)) {
    // disconnected, destroying it frees our handle only (a perf link is not disabled, a pin stays)
    if (*pl.link) bpf_link__disconnect(*pl.link);
  }
}

int Program::RingFd() const { return bpf_map__fd(skel_->maps.events); }
int Program::StatsFd() const { return bpf_map__fd(skel_->maps.stats); }
int Program::CountsFd() const { return bpf_map__fd(skel_->maps.counts); }
int Program::InflightFd() const { return bpf_map__fd(skel_->maps.inflight); }
int Program::StateFd() const { return bpf_map__fd(skel_->maps.state); }

std::vector<int> Program::ProgramFds() const {
  std::vector<int> fds;
  for (const ProgLink& pl : ProgramsOf(skel_, backend_, functions_, handover_)) fds.push_back(bpf_program__fd(pl.prog));
  return fds;
}

struct bpf_map* Program::K8sMap(const std::string& name) const {
  if (!skel_ || !k8s_) return nullptr;
  if (name == "cgroups") return skel_->maps.k8s_cgroups;
  if (name == "mntns") return skel_->maps.k8s_mntns;
  if (name == "excluded") return skel_->maps.k8s_excluded;
  return nullptr;
}

Program::~Program() {
  if (skel_) bindsnoop_bpf__destroy(skel_);
  if (cgroupMapFd_ >= 0) close(cgroupMapFd_);
  if (mntnsMapFd_ >= 0) close(mntnsMapFd_);
}
