// SPDX-License-Identifier: Apache-2.0
// The kernel program, loaded and attached through one backend. Owns the
// libbpf skeleton and the fds of the user's filter maps; destroying it
// detaches and unloads everything.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel.h"

struct bindsnoop_bpf;
struct bpf_map;

struct ProgramOptions {
  uint32_t pid = 0;  // 0 = any
  bool filterUid = false;
  uint32_t uid = 0;
  std::vector<uint16_t> ports;
  bool includeErrors = false;
  bool countMode = false;
  bool hideKernelBinds = false;
  bool readCgroupNames = true;
  bool readArgs = false;  // records are struct bind_event_args: the command line too
  uint64_t cgroupRootId = 1;  // kernfs id of the cgroup root the kubelet's hierarchy hangs from
  std::string cgroupMapPath;
  std::string mntnsMapPath;
  uint32_t ringBufferBytes = 1 << 20;
  uint32_t wakeupBytes = 64 * 1024;
  // Kubernetes mode: pin k8s_cgroups/k8s_mntns/k8s_excluded here (reused when already pinned)
  std::string pinDir;
  // daemon mode's handover (handover.h): pin the links, the ring and the shared maps here ("" = off)
  std::string handoverDir;
  uint64_t unownedAfterMillis = 0;  // the programs skip binds once the reader is gone this long (0 = never)
  std::string packageVersion;       // recorded in the pinned set
};

// statfs f_type of a BPF filesystem (include/uapi/linux/magic.h)
constexpr unsigned long kBpfFsMagic = 0xcafe4a11;
// Whether `path` is on a BPF filesystem (where pinned objects live). Any thread.
bool OnBpffs(const std::string& path);

class Program;
struct LoadError;
// Runs after the programs load and before they attach; false with the error set stops the load.
using BeforeAttach = std::function<bool(const Program&, LoadError*)>;

// Why a load failed, in the terms ThrowBpfError words for the user.
struct LoadError {
  int err = 0;
  std::string op;
  std::string hint;
  std::string details;  // libbpf's last lines (the verifier log)
  bool userMap = false;  // a --cgroupmap/--mntnsmap the user must fix
  bool reasoned = false;  // `hint` is the whole reason, naming its errno (a backend found unavailable)
};

class Program {
 public:
  // Opens, configures, loads and attaches the programs of `backend` (on the
  // functions `btf` says the kernel has), or returns null with `error` set and
  // nothing left in the kernel. Any thread.
  static std::unique_ptr<Program> Load(const ProgramOptions& opts, Backend backend, const KernelBtf& btf,
                                       LoadError* error, const BeforeAttach& beforeAttach = nullptr,
                                       const std::string& linkPinPrefix = "");
  // Checks the user's --cgroupmap/--mntnsmap against bcc's layouts before
  // anything (a backend probe included) is loaded. Any thread.
  static bool CheckUserMaps(const ProgramOptions& opts, LoadError* error);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  Backend backend() const { return backend_; }
  // What the programs attached to, e.g. "fexit on inet_bind_sk and inet6_bind_sk".
  std::string AttachPoint() const;
  bindsnoop_bpf* skel() const { return skel_; }
  bool Attached() const;
  // Destroys the links: no new records after this returns. Any thread.
  void Detach();
  // Lets go of the links without detaching them (they are pinned): they outlive this object. Any thread.
  void KeepAttached();

  int RingFd() const;
  int StatsFd() const;
  int CountsFd() const;
  int InflightFd() const;
  int StateFd() const;
  // The fds of the programs this backend loaded (before and after they attach).
  std::vector<int> ProgramFds() const;
  // "cgroups", "mntns", "excluded" in Kubernetes mode, else null.
  struct bpf_map* K8sMap(const std::string& name) const;

 private:
  Program(Backend backend, BindFunctions functions, bool k8s);
  bool Open(const ProgramOptions& opts, LoadError* error);
  bool Attach(LoadError* error, const std::string& linkPinPrefix);

  Backend backend_;
  bool k8s_;
  bool handover_ = false;
  BindFunctions functions_;
  bindsnoop_bpf* skel_ = nullptr;
  int cgroupMapFd_ = -1;
  int mntnsMapFd_ = -1;
};
