// SPDX-License-Identifier: Apache-2.0
/*
 * bindsnoop: every bind() on inet sockets, from the syscall tracepoints.
 *
 * kprobes on inet_bind/inet6_bind (bcc's way) are not available on every
 * kernel; syscalls:sys_{enter,exit}_bind are. At entry the socket is found
 * from the fd and the requested sockaddr is read from user memory; at exit the
 * socket's state and the result are sent as one fixed-size record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "bindsnoop.h"
#include "core_fixes.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* configuration, set by the addon before load */
const volatile __u32 target_tgid = 0;        /* 0 = any */
const volatile __u32 target_uid = 0;
const volatile bool filter_uid = false;
const volatile bool filter_ports = false;
const volatile bool include_errors = false;
const volatile bool filter_cgroup = false;
const volatile bool filter_mntns = false;
const volatile bool count_mode = false;
const volatile bool k8s_exclusions = false;   /* drop binds of containers in k8s_excluded */
const volatile __u64 wakeup_bytes = 64 * 1024; /* wake the reader once this much is pending */

struct inflight {
	struct sock *sk;
	__u8 req_addr[16];
	__u16 req_port;
	__u8 family;
	__u8 req_family;
	__u8 pad[4];
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

/* one record of scratch space per CPU: the record is too large for the BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bind_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BINDSNOOP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline struct socket *socket_from_fd(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
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
	return BPF_CORE_READ(file, private_data);
}

static __always_inline bool selected_by_containers(struct task_struct *task)
{
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
		__u64 mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

		if (!bpf_map_lookup_elem(&mntns_filter, &mntns))
			return false;
	}
	return true;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int handle_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task;
	struct inflight in = {};
	struct socket *sock;
	struct sock *sk;
	void *uaddr;
	long addrlen;

	if (target_tgid && tgid != target_tgid)
		return 0;
	if (filter_uid && (__u32)bpf_get_current_uid_gid() != target_uid)
		return 0;

	task = bpf_get_current_task_btf();
	if (!selected_by_containers(task))
		return 0;

	sock = socket_from_fd(task, (int)ctx->args[0]);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	in.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (in.family != AF_INET && in.family != AF_INET6)
		return 0; /* unix, netlink, packet, ...: not bindsnoop's business */
	in.sk = sk;

	uaddr = (void *)ctx->args[1];
	addrlen = (long)ctx->args[2];
	if (in.family == AF_INET && addrlen >= (long)sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		if (!bpf_probe_read_user(&sin, sizeof(sin), uaddr)) {
			in.req_family = sin.sin_family;
			in.req_port = bpf_ntohs(sin.sin_port);
			__builtin_memcpy(in.req_addr, &sin.sin_addr, 4);
		}
	} else if (in.family == AF_INET6 && addrlen >= 24 /* SIN6_LEN_RFC2133 */) {
		struct sockaddr_in6 sin6 = {};

		if (!bpf_probe_read_user(&sin6, 24, uaddr)) {
			in.req_family = sin6.sin6_family;
			in.req_port = bpf_ntohs(sin6.sin6_port);
			__builtin_memcpy(in.req_addr, &sin6.sin6_addr, 16);
		}
	} else if (addrlen >= 2) {
		/* too short for its family: the kernel will say EINVAL; keep the family */
		bpf_probe_read_user(&in.req_family, 1, uaddr);
	}

	if (bpf_map_update_elem(&inflight, &tid, &in, BPF_ANY))
		count_stat(BINDSNOOP_STAT_INFLIGHT_FULL);
	return 0;
}

static __always_inline bool port_selected(__u16 bound_port, __u16 req_port)
{
	if (!filter_ports)
		return true;
	return bpf_map_lookup_elem(&ports, &bound_port) || bpf_map_lookup_elem(&ports, &req_port);
}

static __always_inline void count_bind(struct bind_event *e)
{
	struct count_key key = {};
	__u64 one = 1, *val;

	__builtin_memcpy(key.addr, e->bound_addr, 16);
	key.port = e->bound_port;
	key.family = e->family;
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

SEC("tracepoint/syscalls/sys_exit_bind")
int handle_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u32 zero = 0;
	struct bind_event *e;
	struct inflight *in;
	struct kernfs_node *kn;
	struct sock *sk;
	struct task_struct *task;
	int ret = (int)ctx->ret;
	__u64 flags;

	in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in)
		return 0; /* filtered out, or not an inet socket, at entry */
	sk = in->sk;

	if (ret != 0 && !include_errors)
		goto out;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto out;
	__builtin_memset(e, 0, sizeof(*e));

	e->ret = ret;
	e->family = in->family;
	e->req_family = in->req_family;
	e->req_port = in->req_port;
	__builtin_memcpy(e->req_addr, in->req_addr, 16);
	/* what this bind bound: nothing when it failed (the socket may hold an older binding) */
	if (ret == 0) {
		e->bound_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (in->family == AF_INET) {
			/* READ_INTO copies sizeof(*dst): read the 4 bytes into a u32 */
			__u32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

			__builtin_memcpy(e->bound_addr, &saddr, 4);
		} else {
			BPF_CORE_READ_INTO(&e->bound_addr, sk, __sk_common.skc_v6_rcv_saddr);
		}
	}
	if (!port_selected(e->bound_port, e->req_port))
		goto out;

	if (count_mode) {
		if (ret != 0) {
			/* a failed bind (with -E) is counted under what it asked for */
			__builtin_memcpy(e->bound_addr, e->req_addr, 16);
			e->bound_port = e->req_port;
		}
		count_bind(e);
		goto out;
	}

	task = bpf_get_current_task_btf();
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->pid = pid_tgid >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->protocol = read_sk_protocol(sk);
	e->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	e->opts = read_inet_opts((struct inet_sock *)sk);
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuse))
		e->opts |= BINDSNOOP_OPT_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_reuseport))
		e->opts |= BINDSNOOP_OPT_REUSEPORT;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	if (kn) {
		bpf_probe_read_kernel_str(e->cgroup_name, sizeof(e->cgroup_name), BPF_CORE_READ(kn, name));
		kn = kernfs_parent(kn);
		if (kn)
			bpf_probe_read_kernel_str(e->cgroup_parent_name, sizeof(e->cgroup_parent_name),
						  BPF_CORE_READ(kn, name));
	}

	/* wake the reader only once enough is pending; it also drains on a timer */
	flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sizeof(*e) >= wakeup_bytes
			? BPF_RB_FORCE_WAKEUP
			: BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags))
		count_stat(BINDSNOOP_STAT_RING_FULL);
out:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
