/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel-version shims. Each one is resolved by CO-RE against the running
 * kernel's BTF, so one object loads on old and new kernels alike.
 */
#ifndef BINDSNOOP_CORE_FIXES_BPF_H
#define BINDSNOOP_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Before Linux 6.6 the freebind, transparent and bind_address_no_port socket
 * options were bitfields of struct inet_sock. Eric Dumazet's series moved them
 * into the atomic inet_flags word in v6.6 ("inet: move inet->freebind to
 * inet->inet_flags", "inet: move inet->transparent to inet->inet_flags",
 * "inet: move inet->bind_address_no_port to inet->inet_flags").
 */
struct inet_sock___pre_6_6 {
	__u8 freebind: 1;
	__u8 transparent: 1;
	__u8 bind_address_no_port: 1;
} __attribute__((preserve_access_index));

/* bit numbers of enum inet_flags (include/net/inet_sock.h, 6.6+) */
#define BINDSNOOP_INET_FLAGS_FREEBIND 11
#define BINDSNOOP_INET_FLAGS_TRANSPARENT 15
#define BINDSNOOP_INET_FLAGS_BIND_ADDRESS_NO_PORT 18

static __always_inline __u8 read_inet_opts(struct inet_sock *inet)
{
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
		struct inet_sock___pre_6_6 *old = (void *)inet;

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
 * sk_protocol was an 8-bit bitfield until Linux 5.6 made it a u16 (commit
 * bf9765145b85 "sock: Make sk_protocol a 16-bit value", needed for MPTCP's
 * 262). The probed bitfield read handles both shapes.
 */
static __always_inline __u16 read_sk_protocol(struct sock *sk)
{
	return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/*
 * kernfs_node's parent pointer was renamed from parent to __parent when kernfs
 * moved it under RCU ("kernfs: Use RCU to access kernfs_node::parent", Linux
 * 6.15). The flavour below matches the older name.
 */
struct kernfs_node___pre_6_15 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___pre_6_15 *)kn, parent);
}

#endif /* BINDSNOOP_CORE_FIXES_BPF_H */
