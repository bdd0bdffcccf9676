/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * THE record layout shared by the kernel program and the addon.
 * Fixed-width fields only, naturally aligned, no implicit padding: the addon
 * reads struct bind_event's size and offsets from the object's BTF and the
 * TypeScript decoder decodes by them (test/unit/decode.test.ts checks every
 * field).
 *
 * The kernel sends raw facts; naming and formatting happen in TypeScript.
 */
#ifndef BINDSNOOP_H
#define BINDSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BINDSNOOP_COMM_LEN 16
/* kubelet's longest names fit: cri-containerd-<64 hex>.scope is 85 bytes */
#define BINDSNOOP_CGROUP_NAME_LEN 128
#define BINDSNOOP_MAX_PORTS 64
/* room for the executable's path: longer paths keep their last components and are flagged */
#define BINDSNOOP_EXE_LEN 256
/* room for the command line (opt-in): its first bytes, as /proc/PID/cmdline gives them */
#define BINDSNOOP_ARGS_LEN 256

/* bits of bind_event.opts, in bcc's order: "FTNRr" */
#define BINDSNOOP_OPT_FREEBIND (1u << 0)
#define BINDSNOOP_OPT_TRANSPARENT (1u << 1)
#define BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT (1u << 2)
#define BINDSNOOP_OPT_REUSEADDR (1u << 3)
#define BINDSNOOP_OPT_REUSEPORT (1u << 4)

/* bits of bind_event.flags: a bind the kernel made for itself */
#define BINDSNOOP_FLAG_KERNEL_SOCKET (1u << 0) /* a socket the kernel created (sk_kern_sock): VXLAN, WireGuard, SunRPC */
#define BINDSNOOP_FLAG_KERNEL_THREAD (1u << 1) /* bound from a kernel thread (PF_KTHREAD) */
/* the task's cgroup is under the kubelet's hierarchy: the path below the cgroup root the agent
 * was given starts with "kubepods" (kubepods.slice, kubepods), not some subtree elsewhere */
#define BINDSNOOP_FLAG_KUBELET_CGROUP (1u << 2)
/* a raw socket (SOCK_RAW): what its sockaddr calls a port is its protocol number */
#define BINDSNOOP_FLAG_RAW_SOCKET (1u << 3)
/* the executable (mm->exe_file), as /proc/PID/exe would name it: */
#define BINDSNOOP_FLAG_EXE_DELETED (1u << 4)     /* unlinked since it was run (d_path's " (deleted)"); memfds too */
#define BINDSNOOP_FLAG_EXE_ANONYMOUS (1u << 5)   /* on a kernel-internal mount: a memfd (fexecve), shm */
#define BINDSNOOP_FLAG_EXE_UNREACHABLE (1u << 6) /* not under the process's root: a detached mount, a chroot's outside */
#define BINDSNOOP_FLAG_EXE_TRUNCATED (1u << 7)   /* longer than exe_names holds: its first components are missing */

/* indexes of the per-CPU `stats` array: every kernel-side loss has one */
enum bindsnoop_stat {
	BINDSNOOP_STAT_RING_FULL = 0,   /* bpf_ringbuf_reserve failed: record lost */
	BINDSNOOP_STAT_INFLIGHT_FULL,   /* no room to remember a bind between entry and exit */
	BINDSNOOP_STAT_COUNT_FULL,      /* --count map full: bind not counted */
	BINDSNOOP_STAT_INFLIGHT_ORPHANED, /* a bind's entry whose return never came (a missed kretprobe) */
	BINDSNOOP_STAT_UNOWNED,         /* skipped: the pinned set's reader is gone longer than it allows */
	BINDSNOOP_STAT_DUPLICATE,       /* reported by the other set attached during a handover: not again */
	BINDSNOOP_STAT_MAX,
};
/* slots of the `stats` map: room for later counters without changing the pinned map's shape */
#define BINDSNOOP_STAT_SLOTS 16

struct bind_event {
	__u64 ts_boot_ns;      /* bpf_ktime_get_boot_ns() when the bind returned */
	__u64 cgroup_id;       /* cgroup v2 id of the task */
	__u64 mntns_id;        /* mount namespace inode */
	__u64 start_boot_ns;   /* when the process started: its group leader's start_boottime */
	__u32 netns_id;        /* network namespace inode of the socket */
	__u32 pid;             /* TGID, host PID namespace */
	__u32 tid;
	__u32 ppid;            /* TGID of the real parent, host PID namespace */
	__u32 uid;
	__s32 ret;             /* bind() result: 0 or -errno */
	__s32 bound_dev_if;    /* SO_BINDTODEVICE ifindex, 0 = none */
	__u8 bound_addr[16];   /* IPv4 in the first 4 bytes, network order */
	__u8 req_addr[16];     /* address passed to bind(), same encoding */
	__u16 bound_port;      /* host order */
	__u16 req_port;        /* host order, 0 = ephemeral */
	__u16 protocol;        /* IPPROTO_* (u16: MPTCP is 262) */
	__u8 family;           /* AF_INET or AF_INET6 (the socket's family) */
	__u8 opts;             /* BINDSNOOP_OPT_* bits */
	__u8 req_family;       /* sa_family passed to bind() (0 if unreadable) */
	__u8 flags;            /* BINDSNOOP_FLAG_* bits */
	__u16 exe_len;         /* bytes of exe_names used; 0 = no executable (a kernel thread) or unreadable */
	char comm[BINDSNOOP_COMM_LEN];
	char parent_comm[BINDSNOOP_COMM_LEN]; /* the real parent's comm */
	/* kernfs names of the task's cgroup v2 directory and of its parent, read at
	 * event time so a container that exits right after binding still resolves */
	char cgroup_name[BINDSNOOP_CGROUP_NAME_LEN];
	char cgroup_parent_name[BINDSNOOP_CGROUP_NAME_LEN];
	/* the executable's path components as seen from the process's root, leaf first, each NUL-terminated
	 * ("python3\0bin\0usr\0" is /usr/bin/python3): the kernel walks up, user space puts them in order.
	 * When the process's root is not its mount namespace's (a chroot), an empty name follows, then the
	 * components of that root's own path from the namespace's root ("nginx\0sbin\0usr\0\0jail\0srv\0":
	 * /usr/sbin/nginx in the jail /srv/jail); an empty name last: the jail's path did not fit */
	char exe_names[BINDSNOOP_EXE_LEN];
#ifdef BINDSNOOP_TEST_LAYOUT
	/* a build of another record layout, as a later release may have (test/helpers/test-layout-build.ts) */
	__u64 test_layout_field;
#endif
};

#ifdef BINDSNOOP_TEST_LAYOUT
#define BINDSNOOP_EVENT_SIZE 656
#else
#define BINDSNOOP_EVENT_SIZE 648
#endif

/* bits of bind_event_args.args_flags */
#define BINDSNOOP_ARGS_TRUNCATED (1u << 0)  /* the command line is longer than args holds */
#define BINDSNOOP_ARGS_UNREADABLE (1u << 1) /* its memory could not be read at the bind (paged out, mid-exec) */
/* the process rewrote its title past argv (setproctitle): args is the title, to its first NUL */
#define BINDSNOOP_ARGS_TITLE (1u << 2)

/*
 * The record when the command line is read (opt-in: arguments carry secrets):
 * the bind, then the process's arguments, NUL-separated, as at the bind.
 */
struct bind_event_args {
	struct bind_event event;
	__u16 args_len; /* bytes of args used */
	__u8 args_flags; /* BINDSNOOP_ARGS_* bits */
	__u8 pad[5];
	char args[BINDSNOOP_ARGS_LEN];
};

#define BINDSNOOP_EVENT_ARGS_SIZE (BINDSNOOP_EVENT_SIZE + 264)

/* key of the --count map: one row per bound address and port */
struct count_key {
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 pad[5];
};

/*
 * The pinned set (daemon mode with handover): what two sets attached at once share, and so must agree on.
 * BINDSNOOP_SET_VERSION covers the layouts of the shared maps (inflight, stats, state);
 * BINDSNOOP_LAYOUT_VERSION covers the records (struct bind_event, struct bind_event_args): bump it whenever
 * either changes, even at the same size, so that a reader never decodes records of a layout it does not know.
 */
#define BINDSNOOP_SET_VERSION 1
#ifdef BINDSNOOP_TEST_LAYOUT
#define BINDSNOOP_LAYOUT_VERSION 2
#else
#define BINDSNOOP_LAYOUT_VERSION 1
#endif
#define BINDSNOOP_VERSION_LEN 32
/* programs of one set at most (the fentry backend with handover: four) */
#define BINDSNOOP_SET_MAX_PROGRAMS 8

/* The one entry of the pinned `state` map (mmapable): the set's description, its reader's heartbeat, its books. */
struct handover_state {
	/* the ring: written by the agent that made it */
	__u32 set_version;
	__u32 layout_version;
	__u32 record_size;        /* bytes of one record (BINDSNOOP_EVENT_SIZE or BINDSNOOP_EVENT_ARGS_SIZE) */
	__u32 ring_bytes;
	/* read by the programs at every bind */
	__u64 heartbeat_boot_ns;  /* the reader's last pass (bpf_ktime_get_boot_ns' clock) */
	__u64 unowned_after_ns;   /* no heartbeat for this long: skip every bind (0: never) */
	__u64 overlap;            /* nonzero while a handover has two sets attached */
	/* the books of the reader that owns the set, for the next one */
	__u64 generation;         /* bumped by each agent that takes the set over */
	__u64 owner_pid;
	__u64 settled_pos;        /* ring consumer position below which every record was exported or counted lost */
	__u64 acked[BINDSNOOP_STAT_SLOTS]; /* the stats slots as the owner last booked them */
	char made_by[BINDSNOOP_VERSION_LEN];  /* package version of the agent that made the ring */
	char owner_version[BINDSNOOP_VERSION_LEN]; /* and of the one that owns the set now */
	__u32 program_count;
	__u32 pad;
	__u8 program_tags[BINDSNOOP_SET_MAX_PROGRAMS][8]; /* the owner's programs, by their tags (bpftool prog show) */
};

#ifdef __cplusplus
static_assert(sizeof(struct bind_event) == BINDSNOOP_EVENT_SIZE, "bind_event layout changed");
static_assert(sizeof(struct bind_event_args) == BINDSNOOP_EVENT_ARGS_SIZE, "bind_event_args layout changed");
static_assert(sizeof(struct count_key) == 24, "count_key layout changed");
static_assert(BINDSNOOP_STAT_MAX <= BINDSNOOP_STAT_SLOTS, "more stats than slots");
#else
_Static_assert(sizeof(struct bind_event) == BINDSNOOP_EVENT_SIZE, "bind_event layout changed");
_Static_assert(sizeof(struct bind_event_args) == BINDSNOOP_EVENT_ARGS_SIZE, "bind_event_args layout changed");
_Static_assert(sizeof(struct count_key) == 24, "count_key layout changed");
_Static_assert(BINDSNOOP_STAT_MAX <= BINDSNOOP_STAT_SLOTS, "more stats than slots");
#endif

#endif /* BINDSNOOP_H */
