/** One bind as the kernel reported it: raw facts, decoded but not yet named. */
export interface BindEvent {
  /** CLOCK_BOOTTIME nanoseconds at the syscall's exit */
  tsBootNs: bigint;
  cgroupId: bigint;
  mntnsId: number;
  netnsId: number;
  pid: number;
  tid: number;
  /** the real parent's TGID (host PID namespace) and comm, at the bind */
  ppid: number;
  parentComm: Uint8Array;
  /** CLOCK_BOOTTIME nanoseconds when the process started */
  startBootNs: bigint;
  uid: number;
  /** bind()'s result: 0 or a negative errno */
  ret: number;
  boundDevIf: number;
  /** AF_INET or AF_INET6: the socket's family */
  family: number;
  /** bound address (16 bytes, IPv4 in the first four); zero for a failed bind */
  boundAddr: Uint8Array;
  boundPort: number;
  /** sa_family passed to bind(), 0 when it could not be read */
  reqFamily: number;
  reqAddr: Uint8Array;
  reqPort: number;
  protocol: number;
  /** OPT_* bits */
  opts: number;
  /** FLAG_* bits: a bind the kernel made for itself */
  flags: number;
  /** the task's comm, raw bytes up to the first NUL */
  comm: Uint8Array;
  /** kernfs name of the task's cgroup v2 directory, and of its parent, at event time */
  cgroupName: string;
  cgroupParentName: string;
  /** the executable's path components, leaf first, each NUL-terminated (empty: none read); FLAG_EXE_* say more */
  exeNames: Uint8Array;
  /** the command line as /proc/PID/cmdline gives it (NUL-separated), its first bytes; only when it is read (opt-in) */
  args?: Uint8Array;
  /** ARGS_* bits, with args */
  argsFlags?: number;
}

/** at most this many ports for -P and filter.ports (bindsnoop.h's BINDSNOOP_MAX_PORTS: the kernel's port map) */
export const MAX_PORTS = 64;

export const OPT_FREEBIND = 1 << 0;
export const OPT_TRANSPARENT = 1 << 1;
export const OPT_BIND_ADDRESS_NO_PORT = 1 << 2;
export const OPT_REUSEADDR = 1 << 3;
export const OPT_REUSEPORT = 1 << 4;
/** every OPT_* bit bindsnoop.h defines: a record with another bit set is not one of this build's */
export const KNOWN_OPTS = OPT_FREEBIND | OPT_TRANSPARENT | OPT_BIND_ADDRESS_NO_PORT | OPT_REUSEADDR | OPT_REUSEPORT;

/** a socket the kernel created for itself (sk_kern_sock): VXLAN, WireGuard, SunRPC */
export const FLAG_KERNEL_SOCKET = 1 << 0;
/** bound from a kernel thread (PF_KTHREAD) */
export const FLAG_KERNEL_THREAD = 1 << 1;
/** the task's cgroup is under the kubelet's hierarchy below kubernetes.cgroupRoot (kubepods.slice, kubepods) */
export const FLAG_KUBELET_CGROUP = 1 << 2;
/** a raw socket (SOCK_RAW): what its sockaddr calls a port is its protocol number */
export const FLAG_RAW_SOCKET = 1 << 3;
/** the executable was unlinked since it was run (what /proc/PID/exe marks " (deleted)"); memfds too */
export const FLAG_EXE_DELETED = 1 << 4;
/** the executable is on a kernel-internal mount: a memfd run with fexecve, shm */
export const FLAG_EXE_ANONYMOUS = 1 << 5;
/** the executable is not under the process's root: a detached mount, outside a chroot */
export const FLAG_EXE_UNREACHABLE = 1 << 6;
/** the executable's path is longer than the record holds: its first components are missing */
export const FLAG_EXE_TRUNCATED = 1 << 7;
/** bytes of the command line a record holds at most (bindsnoop.h's BINDSNOOP_ARGS_LEN, less its last byte) */
export const ARGS_ROOM = 255;
/** the command line is longer than the record holds */
export const ARGS_TRUNCATED = 1 << 0;
/** the command line's memory could not be read at the bind */
export const ARGS_UNREADABLE = 1 << 1;
/** the process rewrote its title past argv (setproctitle): the args are the title, to its first NUL */
export const ARGS_TITLE = 1 << 2;

/** every FLAG_* bit bindsnoop.h defines: a record with another bit set is not one of this build's */
export const KNOWN_FLAGS =
  FLAG_KERNEL_SOCKET | FLAG_KERNEL_THREAD | FLAG_KUBELET_CGROUP | FLAG_RAW_SOCKET |
  FLAG_EXE_DELETED | FLAG_EXE_ANONYMOUS | FLAG_EXE_UNREACHABLE | FLAG_EXE_TRUNCATED;
