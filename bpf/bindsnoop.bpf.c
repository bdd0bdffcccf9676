// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bindsnoop: every bind on inet sockets, one fixed-size record per bind.
 *
 * Three ways in; the addon loads exactly one of them, so each bind is
 * reported once:
 *   fentry      fexit on inet_bind/inet6_bind, or on inet_bind_sk/inet6_bind_sk
 *               where the kernel has them (6.6+: e6d360ff87f0 "net: factor out
 *               inet{,6}_bind_sk helpers", which MPTCP calls directly): the
 *               socket, the kernel's copy of the sockaddr and the result in one
 *               program, no per-thread state. Sees every bind that reaches the
 *               protocol: bind(2), io_uring's IORING_OP_BIND, 32-bit socketcall,
 *               MPTCP and the kernel's own sockets.
 *   kprobe      kprobe+kretprobe on the same functions (bcc's way): the same
 *               binds, the request kept per thread between entry and return.
 *   tracepoint  syscalls:sys_{enter,exit}_bind: bind(2) only, but also binds
 *               refused before the protocol (EFAULT, an LSM); the socket is
 *               found from the fd at entry.
 * Every path ends in submit_bind(), which applies the filters and writes the
 * record in place in the ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "bindsnoop.h"
#include "core_fixes.bpf.h"

#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define PF_KTHREAD 0x00200000
#define MNT_INTERNAL 0x4000 /* include/linux/mount.h: a kern_mount()ed filesystem (shm, pipes, memfds) */
#define IPPROTO_TCP 6
#define IPPROTO_MPTCP 262

/* keeps struct bind_event (and its opt-in extension) in the object's BTF, where the addon reads the record layout from */
const struct bind_event *unused_bind_event __attribute__((unused));
const struct bind_event_args *unused_bind_event_args __attribute__((unused));

/* configuration, set by the addon before load */
const volatile __u32 target_tgid = 0;        /* 0 = any */
const volatile __u32 target_uid = 0;
const volatile bool filter_uid = false;
const volatile bool filter_ports = false;
const volatile bool include_errors = false;
const volatile bool filter_cgroup = false;
const volatile bool filter_mntns = false;
const volatile bool count_mode = false;
const volatile bool hide_kernel_binds = false; /* drop binds of kernel sockets and kernel threads */
const volatile bool k8s_exclusions = false;   /* drop binds of containers in k8s_excluded */
const volatile bool read_cgroup_names = true; /* only Kubernetes mode needs them */
const volatile bool read_args = false;        /* records are struct bind_event_args: the command line too */
const volatile __u64 cgroup_root_id = 1;      /* kernfs id of kubernetes.cgroupRoot (1: the hierarchy's root) */
const volatile __u64 wakeup_bytes = 64 * 1024; /* wake the reader once this much is pending */
/* daemon mode's handover: the set is pinned and may be attached beside another (see `state`) */
const volatile bool handover = false;

/* what bind() was asked for, decoded by the sockaddr's own family */
struct bind_request {
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 pad[5];
};

/* kprobe and tracepoint backends (and fentry with handover): the request between entry and return */
struct inflight {
	struct sock *sk;
	struct bind_request req;
	/* handover: the bind's first return reported it while another set is attached; the other's return clears it */
	__u64 claimed;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* resized before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BINDSNOOP_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

/* bcc's --cgroupmap layout; replaced by the user's pinned map before load */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u64);
} cgroup_filter SEC(".maps");

/* bcc's --mntnsmap layout; replaced by the user's pinned map before load */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} mntns_filter SEC(".maps");

/*
 * Kubernetes mode: the node's selected containers, pinned under the agent's
 * pinDir as "cgroups" and "mntns" in bcc's --cgroupmap/--mntnsmap layouts
 * (value: the agent's slot for the pod), and the containers known to be
 * excluded. Only exclusions are enforced here: a container the agent has not
 * seen yet passes, so its first bind is never lost to a race.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} k8s_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u32);
} k8s_mntns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} k8s_excluded SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct count_key);
	__type(value, __u64);
} counts SEC(".maps");

/*
 * Where read_exe() writes the names before they are copied into the record:
 * twice the record's room, so that a name read at any offset below
 * BINDSNOOP_EXE_LEN, of any length up to it, stays inside (the verifier checks
 * the largest offset plus the largest size).
 */
struct exe_scratch {
	char names[2 * BINDSNOOP_EXE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exe_scratch);
} exe_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BINDSNOOP_STAT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * Handover: the pinned set's description, heartbeat and books (struct handover_state). Mmapable, so that
 * the reader writes its heartbeat with a store, not a syscall.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct handover_state);
} state SEC(".maps");

static __always_inline void count_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/*
 * bpf_get_current_task() and CO-RE reads rather than bpf_get_current_task_btf():
 * the BTF-typed helper came in Linux 5.11, and nothing here needs it.
 */
static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

static __always_inline struct handover_state *handover_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&state, &zero);
}

/*
 * Handover: a set whose reader has been gone longer than it allows reports nothing (a removed agent's
 * programs cost a lookup and a clock read a bind, and count what they skip).
 */
static __always_inline bool owned(void)
{
	struct handover_state *st;
	__u64 now, beat;

	if (!handover)
		return true;
	st = handover_state();
	if (!st || !st->unowned_after_ns)
		return true;
	/* a beat written on another CPU after this clock read is newer than `now`: owned */
	now = bpf_ktime_get_boot_ns();
	beat = st->heartbeat_boot_ns;
	if (beat >= now || now - beat <= st->unowned_after_ns)
		return true;
	count_stat(BINDSNOOP_STAT_UNOWNED);
	return false;
}

/* the bind's entry, unless the other set's return reported it during a handover (then cleared and counted) */
static __always_inline struct inflight *take_inflight(__u32 tid)
{
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);

	if (!in || !in->claimed)
		return in;
	bpf_map_delete_elem(&inflight, &tid);
	count_stat(BINDSNOOP_STAT_DUPLICATE);
	return NULL;
}

/* after the bind was reported: while two sets are attached, left claimed for the other's return to clear */
static __always_inline void release_inflight(struct inflight *in, __u32 tid)
{
	struct handover_state *st = handover ? handover_state() : NULL;

	if (st && st->overlap)
		in->claimed = 1;
	else
		bpf_map_delete_elem(&inflight, &tid);
}

static __always_inline bool selected_by_task(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (target_tgid && (__u32)(pid_tgid >> 32) != target_tgid)
		return false;
	if (filter_uid && (__u32)bpf_get_current_uid_gid() != target_uid)
		return false;
	if (k8s_exclusions) {
		__u64 cgid = bpf_get_current_cgroup_id();

		if (bpf_map_lookup_elem(&k8s_excluded, &cgid))
			return false;
	}
	if (filter_cgroup) {
		__u64 cgid = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&cgroup_filter, &cgid))
			return false;
	}
	if (filter_mntns) {
		__u64 mntns = BPF_CORE_READ(current_task(), nsproxy, mnt_ns, ns.inum);

		if (!bpf_map_lookup_elem(&mntns_filter, &mntns))
			return false;
	}
	return true;
}

/*
 * Reads the sockaddr passed to bind() by its own family, which may differ from
 * the socket's (the kernel then answers EAFNOSUPPORT or, for AF_UNSPEC on an
 * IPv4 socket, treats it as AF_INET). `user`: a user pointer (the syscall's
 * argument) or the kernel's copy (inet_bind's).
 */
static __always_inline void read_request(struct bind_request *req, const void *uaddr, long addrlen,
					 __u8 sock_family, bool user)
{
	__u16 family = 0;
	long err;

	if (addrlen < 2)
		return;
	err = user ? bpf_probe_read_user(&family, sizeof(family), uaddr)
		   : bpf_probe_read_kernel(&family, sizeof(family), uaddr);
	if (err)
		return;
	req->family = (__u8)family;
	if ((family == AF_INET || (family == AF_UNSPEC && sock_family == AF_INET)) &&
	    addrlen >= (long)sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		err = user ? bpf_probe_read_user(&sin, sizeof(sin), uaddr)
			   : bpf_probe_read_kernel(&sin, sizeof(sin), uaddr);
		if (!err) {
			req->port = bpf_ntohs(sin.sin_port);
			__builtin_memcpy(req->addr, &sin.sin_addr, 4);
		}
	} else if (family == AF_INET6 && addrlen >= 24 /* SIN6_LEN_RFC2133 */) {
		struct sockaddr_in6 sin6 = {};

		err = user ? bpf_probe_read_user(&sin6, 24, uaddr) : bpf_probe_read_kernel(&sin6, 24, uaddr);
		if (!err) {
			req->port = bpf_ntohs(sin6.sin6_port);
			__builtin_memcpy(req->addr, &sin6.sin6_addr, 16);
		}
	}
}

static __always_inline bool port_selected(__u16 bound_port, __u16 req_port)
{
	if (!filter_ports)
		return true;
	return bpf_map_lookup_elem(&ports, &bound_port) || bpf_map_lookup_elem(&ports, &req_port);
}

static __always_inline void count_bind(const __u8 *addr, __u16 port, __u8 family)
{
	struct count_key key = {};
	__u64 one = 1, *val;

	__builtin_memcpy(key.addr, addr, 16);
	key.port = port;
	key.family = family;
	val = bpf_map_lookup_elem(&counts, &key);
	if (val) {
		__sync_fetch_and_add(val, 1);
		return;
	}
	/* another CPU may have created it meanwhile: then add to theirs */
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST)) {
		val = bpf_map_lookup_elem(&counts, &key);
		if (val)
			__sync_fetch_and_add(val, 1);
		else
			count_stat(BINDSNOOP_STAT_COUNT_FULL);
	}
}

/* the socket's family, or 0 when it is not an inet socket (unix, netlink, ...) */
static __always_inline __u8 inet_family(struct sock *sk)
{
	__u16 family;

	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? (__u8)family : 0;
}

/*
 * Whether the cgroup `kn` lies under the kubelet's pod hierarchy: walking up to
 * the cgroup root the agent was given, the first component below it must be
 * the kubelet's ("kubepods.slice" or "kubepods"). A look-alike tree made in a
 * delegated subtree (a user's session) has another first component.
 */
#define BINDSNOOP_MAX_CGROUP_DEPTH 16
static __always_inline bool in_kubelet_hierarchy(struct kernfs_node *kn)
{
	struct kernfs_node *below_root = NULL;
	char name[9] = {};
	bool at_root = false;
	int i;

	for (i = 0; i < BINDSNOOP_MAX_CGROUP_DEPTH && kn; i++) {
		if (BPF_CORE_READ(kn, id) == cgroup_root_id) {
			at_root = true;
			break;
		}
		below_root = kn;
		kn = kernfs_parent(kn);
	}
	if (!at_root || !below_root)
		return false;
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(below_root, name)) < 9)
		return false;
	return name[0] == 'k' && name[1] == 'u' && name[2] == 'b' && name[3] == 'e' && name[4] == 'p' &&
	       name[5] == 'o' && name[6] == 'd' && name[7] == 's';
}

/*
 * The executable's path as d_path() (and so /proc/PID/exe) gives it: from
 * mm->exe_file up to the process's root (fs->root), crossing mounts to their
 * mountpoints, the names written leaf first into e->exe_names. Bounded: at
 * most BINDSNOOP_MAX_PATH_STEPS steps (names and mount crossings) and
 * BINDSNOOP_EXE_LEN bytes; what does not fit is flagged truncated, a walk that
 * ends at another root is flagged anonymous or unreachable. The names go to
 * the per-CPU exe_scratch; returns the BINDSNOOP_FLAG_EXE_* bits << 16 | the
 * bytes written, and BINDSNOOP_EXE_AT_ROOT when the walk ended at the
 * process's root (read_root() then goes on from there).
 *
 * Global functions, so the verifier checks each once, on its own, instead of
 * once for every state its callers reach it in (Linux 5.10's verifier gave up
 * on the inlined walk at a million instructions).
 */
#define BINDSNOOP_MAX_PATH_STEPS 136
/* from a chroot's root up: a jail is a few directories deep */
#define BINDSNOOP_MAX_ROOT_STEPS 64
#define BINDSNOOP_EXE_AT_ROOT (1 << 30)

/*
 * A walk that reached the top of a mount tree other than the process's root: a
 * kernel-internal mount (a memfd) is anonymous; a tree of another mount
 * namespace (the process unshared its namespace after exec, keeping its
 * executable's mount from the old one) is a whole path from that namespace's
 * root, as d_path() gives it; one of its own namespace (above a chroot) or of
 * none (a detached mount) is unreachable.
 */
static __always_inline __u8 outside_root_flag(struct vfsmount *vfsmnt, struct mount *mnt)
{
	struct mnt_namespace *ns, *own;

	if (BPF_CORE_READ(vfsmnt, mnt_flags) & MNT_INTERNAL)
		return BINDSNOOP_FLAG_EXE_ANONYMOUS;
	ns = BPF_CORE_READ(mnt, mnt_ns);
	own = BPF_CORE_READ(current_task(), nsproxy, mnt_ns);
	return ns && ns != own ? 0 : BINDSNOOP_FLAG_EXE_UNREACHABLE;
}

__noinline int read_exe(void)
{
	struct task_struct *task = current_task();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct dentry *dentry, *parent, *mnt_root, *root_dentry;
	struct vfsmount *vfsmnt, *root_mnt;
	struct mount *mnt, *mnt_parent;
	const unsigned char *name;
	struct exe_scratch *scratch;
	__u32 off = 0, len, zero = 0;
	__u8 flags = 0;
	long n;
	int i;

	scratch = bpf_map_lookup_elem(&exe_scratch, &zero);
	if (!exe || !scratch)
		return 0; /* a kernel thread, or a process past exit_mm() */
	dentry = BPF_CORE_READ(exe, f_path.dentry);
	vfsmnt = BPF_CORE_READ(exe, f_path.mnt);
	root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	if (!dentry || !vfsmnt)
		return 0;
	/* unhashed: unlinked (d_unlinked()), or never linked (a memfd's); a mount's root is neither */
	if (!BPF_CORE_READ(dentry, d_hash.pprev) && dentry != BPF_CORE_READ(vfsmnt, mnt_root))
		flags |= BINDSNOOP_FLAG_EXE_DELETED;
	mnt = (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	for (i = 0; i < BINDSNOOP_MAX_PATH_STEPS; i++) {
		if (dentry == root_dentry && vfsmnt == root_mnt)
			return (int)flags << 16 | BINDSNOOP_EXE_AT_ROOT | (off <= BINDSNOOP_EXE_LEN ? off : 0);
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		if (dentry == mnt_root) {
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (!mnt_parent || mnt_parent == mnt) {
				/* a root other than the process's: a mount not in its tree */
				flags |= outside_root_flag(vfsmnt, mnt);
				goto done;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((void *)mnt + bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		name = BPF_CORE_READ(dentry, d_name.name);
		len = BPF_CORE_READ(dentry, d_name.len);
		if (off >= BINDSNOOP_EXE_LEN || len >= BINDSNOOP_EXE_LEN - off) {
			flags |= BINDSNOOP_FLAG_EXE_TRUNCATED;
			goto done;
		}
		/* len fits the room left (checked above), so the read stops at its NUL inside it; the masked
		 * offset and the constant size are what the verifier can bound */
		barrier_var(off); /* keeps the mask: clang knows off < BINDSNOOP_EXE_LEN, the verifier does not */
		off &= BINDSNOOP_EXE_LEN - 1;
		n = bpf_probe_read_kernel_str(&scratch->names[off], BINDSNOOP_EXE_LEN, name);
		if (n <= 0) {
			/* unreadable: what was read goes out, missing its first components as a long path does */
			flags |= BINDSNOOP_FLAG_EXE_TRUNCATED;
			goto done;
		}
		off += n;
		/* off < 2 * BINDSNOOP_EXE_LEN already: the mask changes nothing but gives every path into the next
		 * step the same bounds, so the verifier prunes instead of walking each path (5.10's gave up at 1M) */
		barrier_var(off);
		off &= 2 * BINDSNOOP_EXE_LEN - 1;
		parent = BPF_CORE_READ(dentry, d_parent);
		if (parent == dentry) {
			/* a dentry of no tree (d_alloc_pseudo): a memfd's, or one disconnected from its mount */
			flags |= outside_root_flag(vfsmnt, mnt);
			goto done;
		}
		dentry = parent;
	}
	flags |= BINDSNOOP_FLAG_EXE_TRUNCATED;
done:
	return (int)flags << 16 | (off <= BINDSNOOP_EXE_LEN ? off : 0);
}

/*
 * From the process's root to the top of its mount tree, after the names
 * read_exe() wrote (`off` bytes): when a name is on the way, that root is a
 * directory of the namespace, not its root (a chroot), and an empty name is
 * written to mark where the process's path ends, the jail's own names after
 * it, so that what the process calls /usr/sbin/nginx can be told from the
 * host's. Mounts stacked on "/" (as switch_root and pivot_root leave them)
 * have no name between: nothing is written. A jail's path that does not fit
 * is left out, its mark kept. Returns the bytes written in all.
 */
__noinline int read_root(__u32 off)
{
	struct task_struct *task = current_task();
	struct dentry *dentry, *parent, *mnt_root;
	struct vfsmount *vfsmnt;
	struct mount *mnt, *mnt_parent;
	const unsigned char *name;
	struct exe_scratch *scratch;
	__u32 start, len, zero = 0;
	long n;
	int i;

	scratch = bpf_map_lookup_elem(&exe_scratch, &zero);
	if (!scratch || off >= BINDSNOOP_EXE_LEN - 1)
		return off & (2 * BINDSNOOP_EXE_LEN - 1);
	dentry = BPF_CORE_READ(task, fs, root.dentry);
	vfsmnt = BPF_CORE_READ(task, fs, root.mnt);
	if (!dentry || !vfsmnt)
		return off;
	mnt = (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	/* the mark, then the names */
	start = off + 1;
	barrier_var(off);
	off &= BINDSNOOP_EXE_LEN - 1;
	for (i = 0; i < BINDSNOOP_MAX_ROOT_STEPS; i++) {
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		if (dentry == mnt_root) {
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (!mnt_parent || mnt_parent == mnt)
				goto done;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((void *)mnt + bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		name = BPF_CORE_READ(dentry, d_name.name);
		len = BPF_CORE_READ(dentry, d_name.len);
		if (off == start - 1) {
			/* the first name on the way: a chroot; its mark first */
			scratch->names[off & (BINDSNOOP_EXE_LEN - 1)] = 0;
			off = start;
		}
		if (off >= BINDSNOOP_EXE_LEN || len >= BINDSNOOP_EXE_LEN - off)
			return start; /* the jail's path does not fit: the mark alone */
		barrier_var(off);
		off &= BINDSNOOP_EXE_LEN - 1;
		n = bpf_probe_read_kernel_str(&scratch->names[off], BINDSNOOP_EXE_LEN, name);
		if (n <= 0)
			return start;
		off += n;
		barrier_var(off);
		off &= 2 * BINDSNOOP_EXE_LEN - 1;
		parent = BPF_CORE_READ(dentry, d_parent);
		if (parent == dentry)
			goto done;
		dentry = parent;
	}
	/* the walk did not reach the top: what it wrote is not the jail's whole path */
	return off == start - 1 ? off : start;
done:
	return off;
}

/* The executable into the record: its names (the whole room, a constant size: what is past exe_len is never
 * read) and its length; returns its flags. */
static __always_inline __u8 record_exe(struct bind_event *e)
{
	struct exe_scratch *scratch;
	__u32 zero = 0;
	int exe = read_exe();
	__u32 len = exe & 0xffff;

	if (exe & BINDSNOOP_EXE_AT_ROOT)
		len = read_root(len);
	e->exe_len = 0;
	scratch = bpf_map_lookup_elem(&exe_scratch, &zero);
	if (!scratch)
		return 0;
	bpf_probe_read_kernel(e->exe_names, sizeof(e->exe_names), scratch->names);
	e->exe_len = len <= BINDSNOOP_EXE_LEN ? len : 0;
	return (__u8)(exe >> 16);
}

/*
 * The command line's first BINDSNOOP_ARGS_LEN - 1 bytes, as /proc/PID/cmdline
 * gives them (get_mm_cmdline() in fs/proc/base.c), in the binding task's
 * context: mm->arg_start..arg_end; but when the last byte of that area is not
 * a NUL, the process rewrote its title past argv (setproctitle(3): nginx,
 * PostgreSQL) and the title runs on into the environment area, to its first
 * NUL: flagged BINDSNOOP_ARGS_TITLE, read up to env_end (user space takes it to
 * its NUL).
 */
static __always_inline void record_args(struct bind_event_args *a)
{
	struct mm_struct *mm = BPF_CORE_READ(current_task(), mm);
	unsigned long start, end, env_start, env_end;
	char last = 0;
	__u32 len;

	a->args_len = 0;
	a->args_flags = 0;
	__builtin_memset(a->pad, 0, sizeof(a->pad));
	if (!mm)
		return; /* a kernel thread */
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	if (end <= start)
		return;
	if (!bpf_probe_read_user(&last, 1, (const void *)(end - 1)) && last) {
		a->args_flags |= BINDSNOOP_ARGS_TITLE;
		/* the kernel's rule: the title may overflow into the environment only when it follows argv */
		env_start = BPF_CORE_READ(mm, env_start);
		env_end = BPF_CORE_READ(mm, env_end);
		if (env_start == end && env_end > env_start)
			end = env_end;
	}
	len = end - start > BINDSNOOP_ARGS_LEN - 1 ? BINDSNOOP_ARGS_LEN - 1 : end - start;
	if (end - start > len)
		a->args_flags |= BINDSNOOP_ARGS_TRUNCATED;
	barrier_var(len);
	len &= BINDSNOOP_ARGS_LEN - 1; /* changes nothing: bounds the size for the verifier */
	if (bpf_probe_read_user(a->args, len, (const void *)start)) {
		a->args_flags |= BINDSNOOP_ARGS_UNREADABLE;
		return;
	}
	a->args_len = len;
}

/*
 * The port filter, decided before the bind when the request names a port: a
 * TCP, UDP, UDP-Lite, SCTP, DCCP or MPTCP bind to port P either binds P or
 * fails, and a failed bind is matched by 0 and P, so when neither is selected
 * nothing is kept for it (no map entry, nothing read at return). A request for
 * port 0 waits for the port the kernel picks; a raw socket's "port" is its
 * protocol number whatever it asked, so it waits too.
 */
static __always_inline bool port_may_be_selected(struct sock *sk, __u16 req_port)
{
	__u16 zero = 0;
	__u16 protocol;

	if (!filter_ports || !req_port || read_sk_type(sk) == SOCK_RAW)
		return true;
	protocol = read_sk_protocol(sk);
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP && protocol != IPPROTO_UDPLITE &&
	    protocol != IPPROTO_SCTP && protocol != IPPROTO_DCCP && protocol != IPPROTO_MPTCP)
		return true;
	return bpf_map_lookup_elem(&ports, &req_port) || bpf_map_lookup_elem(&ports, &zero);
}

/* One bind, from whichever backend: filters, then the record, written in place. */
static __always_inline void submit_bind(struct sock *sk, __u8 family, const struct bind_request *req, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = current_task();
	__u8 bound_addr[16] = {};
	__u16 bound_port = 0;
	struct kernfs_node *kn;
	struct bind_event *e;
	__u16 protocol;
	bool mptcp;
	__u8 flags = 0;
	__u64 wakeup;

	if (ret != 0 && !include_errors)
		return;
	/* what this bind bound: nothing when it failed (the socket may hold an older binding) */
	if (ret == 0) {
		bound_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (family == AF_INET) {
			__u32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

			__builtin_memcpy(bound_addr, &saddr, 4);
		} else {
			BPF_CORE_READ_INTO(&bound_addr, sk, __sk_common.skc_v6_rcv_saddr);
		}
	}
	if (!port_selected(bound_port, req->port))
		return;

	protocol = read_sk_protocol(sk);
	mptcp = protocol == IPPROTO_TCP && is_mptcp_subflow(sk);
	/* an MPTCP subflow is a kernel socket bound on behalf of the user's MPTCP socket */
	if (!mptcp && BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock))
		flags |= BINDSNOOP_FLAG_KERNEL_SOCKET;
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		flags |= BINDSNOOP_FLAG_KERNEL_THREAD;
	if (hide_kernel_binds && flags)
		return;
	if (read_sk_type(sk) == SOCK_RAW)
		flags |= BINDSNOOP_FLAG_RAW_SOCKET;

	if (count_mode) {
		/* a failed bind (with -E) is counted under what it asked for, in the request's own family */
		if (ret != 0)
			count_bind(req->addr, req->port,
				   req->family == AF_INET || req->family == AF_INET6 ? req->family : family);
		else
			count_bind(bound_addr, bound_port, family);
		return;
	}

	/* read_args is a constant the verifier knows: each program reserves one size */
	if (read_args)
		e = bpf_ringbuf_reserve(&events, sizeof(struct bind_event_args), 0);
	else
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_stat(BINDSNOOP_STAT_RING_FULL);
		return;
	}
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	/* start_boottime: named so since Linux 5.5 (commit cf25e24db61c, "time: Rename tsk->real_start_time to
	 * ->start_boottime"), older than the 5.8 this program needs; the group leader's is the process's start */
	e->start_boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	__builtin_memcpy(e->bound_addr, bound_addr, 16);
	__builtin_memcpy(e->req_addr, req->addr, 16);
	e->bound_port = bound_port;
	e->req_port = req->port;
	e->protocol = mptcp ? IPPROTO_MPTCP : protocol;
	e->family = family;
	e->opts = read_inet_opts(sk);
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuse))
		e->opts |= BINDSNOOP_OPT_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuseport))
		e->opts |= BINDSNOOP_OPT_REUSEPORT;
	e->req_family = req->family;
	e->flags = flags | record_exe(e);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* the parent process's name, as /proc/PPID/comm gives it: its group leader's (the thread that forked may be
	 * named otherwise), the same process as ppid */
	BPF_CORE_READ_STR_INTO(&e->parent_comm, task, real_parent, group_leader, comm);
	e->cgroup_name[0] = 0;
	e->cgroup_parent_name[0] = 0;
	if (read_cgroup_names) {
		kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
		if (kn) {
			if (in_kubelet_hierarchy(kn))
				e->flags |= BINDSNOOP_FLAG_KUBELET_CGROUP;
			bpf_probe_read_kernel_str(e->cgroup_name, sizeof(e->cgroup_name), BPF_CORE_READ(kn, name));
			kn = kernfs_parent(kn);
			if (kn)
				bpf_probe_read_kernel_str(e->cgroup_parent_name, sizeof(e->cgroup_parent_name),
							  BPF_CORE_READ(kn, name));
		}
	}

	if (read_args)
		record_args((struct bind_event_args *)e);

	/* wake the reader only once enough is pending; it also drains on a timer */
	wakeup = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sizeof(*e) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
											       : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, wakeup);
}

/* ---- fentry backend ---- */

static __always_inline int on_inet_bind_exit(struct sock *sk, const void *uaddr, int addr_len, int ret)
{
	struct bind_request req = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in;
	__u8 family;

	if (handover) {
		/* the entry (fentry, or the other set's) selected it; one return of the two sets reports it */
		in = take_inflight(tid);
		if (!in)
			return 0;
		family = inet_family(sk);
		if (family) {
			read_request(&req, uaddr, addr_len, family, false);
			submit_bind(sk, family, &req, ret);
		}
		release_inflight(in, tid);
		return 0;
	}
	if (!owned() || !selected_by_task())
		return 0;
	family = inet_family(sk);
	if (!family)
		return 0;
	read_request(&req, uaddr, addr_len, family, false);
	submit_bind(sk, family, &req, ret);
	return 0;
}

SEC("fexit/inet_bind")
int BPF_PROG(fexit_inet_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_inet_bind_exit(BPF_CORE_READ(sock, sk), uaddr, addr_len, ret);
}

SEC("fexit/inet6_bind")
int BPF_PROG(fexit_inet6_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_inet_bind_exit(BPF_CORE_READ(sock, sk), uaddr, addr_len, ret);
}

SEC("fexit/inet_bind_sk")
int BPF_PROG(fexit_inet_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_inet_bind_exit(sk, uaddr, addr_len, ret);
}

SEC("fexit/inet6_bind_sk")
int BPF_PROG(fexit_inet6_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_inet_bind_exit(sk, uaddr, addr_len, ret);
}

/* ---- kprobe and tracepoint backends: remember the request, report at return ---- */
/* (the fentry backend too with handover: its entry is what makes one of two attached sets report a bind) */

/* The caller has applied selected_by_task(). */
static __always_inline void remember(struct sock *sk, const void *uaddr, long addrlen, bool user)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight in = {};
	__u8 family = inet_family(sk);

	if (!family)
		return;
	in.sk = sk;
	read_request(&in.req, uaddr, addrlen, family, user);
	if (!port_may_be_selected(sk, in.req.port))
		return;
	if (!bpf_map_update_elem(&inflight, &tid, &in, BPF_NOEXIST))
		return;
	if (handover) {
		struct inflight *old = bpf_map_lookup_elem(&inflight, &tid);
		struct handover_state *st = handover_state();

		/* the other set's entry for this same bind (two sets attached), or one left claimed: not orphaned */
		if (old && (old->claimed || (st && st->overlap))) {
			bpf_map_update_elem(&inflight, &tid, &in, BPF_ANY);
			return;
		}
	}
	/*
	 * This thread's previous bind never returned to us: a kretprobe missed
	 * (more threads in the function at once than its instances). That bind is
	 * lost: count it, and take the entry over.
	 */
	if (bpf_map_lookup_elem(&inflight, &tid)) {
		count_stat(BINDSNOOP_STAT_INFLIGHT_ORPHANED);
		bpf_map_update_elem(&inflight, &tid, &in, BPF_ANY);
	} else {
		count_stat(BINDSNOOP_STAT_INFLIGHT_FULL);
	}
}

static __always_inline void report(int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = take_inflight(tid);

	if (!in)
		return; /* filtered out, or not an inet socket, at entry; or reported by the other set */
	submit_bind(in->sk, inet_family(in->sk), &in->req, ret);
	release_inflight(in, tid);
}

/* the entry of the fentry backend with handover */
static __always_inline void on_inet_bind_entry(struct sock *sk, const void *uaddr, int addr_len)
{
	if (owned() && selected_by_task())
		remember(sk, uaddr, addr_len, false);
}

SEC("fentry/inet_bind")
int BPF_PROG(fentry_inet_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	on_inet_bind_entry(BPF_CORE_READ(sock, sk), uaddr, addr_len);
	return 0;
}

SEC("fentry/inet6_bind")
int BPF_PROG(fentry_inet6_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	on_inet_bind_entry(BPF_CORE_READ(sock, sk), uaddr, addr_len);
	return 0;
}

SEC("fentry/inet_bind_sk")
int BPF_PROG(fentry_inet_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len)
{
	on_inet_bind_entry(sk, uaddr, addr_len);
	return 0;
}

SEC("fentry/inet6_bind_sk")
int BPF_PROG(fentry_inet6_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len)
{
	on_inet_bind_entry(sk, uaddr, addr_len);
	return 0;
}

SEC("kprobe/inet_bind")
int BPF_KPROBE(kprobe_inet_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	if (owned() && selected_by_task())
		remember(BPF_CORE_READ(sock, sk), uaddr, addr_len, false);
	return 0;
}

SEC("kprobe/inet6_bind")
int BPF_KPROBE(kprobe_inet6_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	if (owned() && selected_by_task())
		remember(BPF_CORE_READ(sock, sk), uaddr, addr_len, false);
	return 0;
}

SEC("kprobe/inet_bind_sk")
int BPF_KPROBE(kprobe_inet_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len)
{
	if (owned() && selected_by_task())
		remember(sk, uaddr, addr_len, false);
	return 0;
}

SEC("kprobe/inet6_bind_sk")
int BPF_KPROBE(kprobe_inet6_bind_sk, struct sock *sk, struct sockaddr *uaddr, int addr_len)
{
	if (owned() && selected_by_task())
		remember(sk, uaddr, addr_len, false);
	return 0;
}

SEC("kretprobe/inet_bind_sk")
int BPF_KRETPROBE(kretprobe_inet_bind_sk, int ret)
{
	report(ret);
	return 0;
}

SEC("kretprobe/inet6_bind_sk")
int BPF_KRETPROBE(kretprobe_inet6_bind_sk, int ret)
{
	report(ret);
	return 0;
}

SEC("kretprobe/inet_bind")
int BPF_KRETPROBE(kretprobe_inet_bind, int ret)
{
	report(ret);
	return 0;
}

SEC("kretprobe/inet6_bind")
int BPF_KRETPROBE(kretprobe_inet6_bind, int ret)
{
	report(ret);
	return 0;
}

static __always_inline struct sock *sock_from_fd(int fd)
{
	struct task_struct *task = current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;
	umode_t mode;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	/* private_data is a struct socket only for socket files */
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int handle_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	/* the filters first: no fd walk for a bind that is filtered out anyway */
	if (owned() && selected_by_task())
		remember(sock_from_fd((int)ctx->args[0]), (void *)ctx->args[1], (long)ctx->args[2], true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int handle_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	report((int)ctx->ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
