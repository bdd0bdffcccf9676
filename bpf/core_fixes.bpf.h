/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Kernel-version shims. Every field whose name or shape differs across kernels
 * is read through the local ___new/___old flavours below, chosen at load time
 * with bpf_core_field_exists() against the running kernel's BTF, and never
 * through the vendored vmlinux.h's own view of the struct (that header is one
 * kernel's: it compiles, but it would pin the program to that kernel's shape).
 * Each shim names the kernel commit that changed the shape.
 */
#ifndef BINDSNOOP_CORE_FIXES_BPF_H
#define BINDSNOOP_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * freebind, transparent and bind_address_no_port: bitfields of struct
 * inet_sock until Linux 6.6 moved them into the inet_flags word:
 *   3f7e753206bb "inet: move inet->freebind to inet->inet_flags"
 *   4bd0623f04ee "inet: move inet->transparent to inet->inet_flags"
 *   ca571e2eb7eb "inet: move inet->bind_address_no_port to inet->inet_flags"
 */
struct inet_sock___new {
	unsigned long inet_flags;
} __attribute__((preserve_access_index));

struct inet_sock___old {
	__u8 freebind: 1;
	__u8 transparent: 1;
	__u8 bind_address_no_port: 1;
} __attribute__((preserve_access_index));

/* bit numbers of enum inet_flags (include/net/inet_sock.h, 6.6+) */
#define BINDSNOOP_INET_FLAGS_FREEBIND 11
#define BINDSNOOP_INET_FLAGS_TRANSPARENT 15
#define BINDSNOOP_INET_FLAGS_BIND_ADDRESS_NO_PORT 18

static __always_inline __u8 read_inet_opts(void *inet_sock)
{
	struct inet_sock___new *inet = inet_sock;
	struct inet_sock___old *old = inet_sock;
	__u8 opts = 0;

	if (bpf_core_field_exists(inet->inet_flags)) {
		unsigned long flags = BPF_CORE_READ(inet, inet_flags);

		if (flags & (1UL << BINDSNOOP_INET_FLAGS_FREEBIND))
			opts |= BINDSNOOP_OPT_FREEBIND;
		if (flags & (1UL << BINDSNOOP_INET_FLAGS_TRANSPARENT))
			opts |= BINDSNOOP_OPT_TRANSPARENT;
		if (flags & (1UL << BINDSNOOP_INET_FLAGS_BIND_ADDRESS_NO_PORT))
			opts |= BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT;
	} else {
		if (BPF_CORE_READ_BITFIELD_PROBED(old, freebind))
			opts |= BINDSNOOP_OPT_FREEBIND;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, transparent))
			opts |= BINDSNOOP_OPT_TRANSPARENT;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port))
			opts |= BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT;
	}
	return opts;
}

/*
 * sk_protocol and sk_type: bitfields until Linux 5.6 made them plain u16s
 * (bf9765145b85 "sock: Make sk_protocol a 16-bit value", for MPTCP's 262).
 * The probed bitfield read takes either shape through one flavour.
 */
struct sock___any {
	__u16 sk_protocol;
	__u16 sk_type;
} __attribute__((preserve_access_index));

static __always_inline __u16 read_sk_protocol(void *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED((struct sock___any *)sk, sk_protocol);
}

static __always_inline __u16 read_sk_type(void *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED((struct sock___any *)sk, sk_type);
}

/*
 * An MPTCP socket binds its first subflow, a TCP socket marked is_mptcp
 * (tcp_sock.is_mptcp, Linux 5.6+, only with CONFIG_MPTCP); since 6.6 directly
 * through inet_bind_sk() (8cf2ebdc0078 "mptcp: avoid additional indirection in
 * mptcp_bind()"). Such a bind is reported as MPTCP, as the syscall path sees it.
 */
struct tcp_sock___mptcp {
	bool is_mptcp;
} __attribute__((preserve_access_index));

static __always_inline bool is_mptcp_subflow(void *sk)
{
	struct tcp_sock___mptcp *tp = sk;

	return bpf_core_field_exists(tp->is_mptcp) && BPF_CORE_READ(tp, is_mptcp);
}

/*
 * kernfs_node's parent pointer: `parent` until Linux 6.15 renamed it
 * `__parent` when it moved under RCU
 * (633488947ef6 "kernfs: Use RCU to access kernfs_node::parent.").
 */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	struct kernfs_node___new *kn_new = (void *)kn;
	struct kernfs_node___old *kn_old = (void *)kn;

	if (bpf_core_field_exists(kn_new->__parent))
		return BPF_CORE_READ(kn_new, __parent);
	return BPF_CORE_READ(kn_old, parent);
}

#endif /* BINDSNOOP_CORE_FIXES_BPF_H */
