// SPDX-License-Identifier: Apache-2.0
/*
 * CO-RE compatibility check on another kernel: this static program is /init of
 * a small VM (test/compat/run-vm.sh). It loads the very BPF object bindsnoop
 * ships (the same skeleton), makes binds with each socket option from a
 * kubelet-shaped cgroup, and prints each record as a line the test parses:
 *   EVENT port=.. ret=.. opts=.. proto=.. family=.. cgroup=.. parent=..
 * then "DONE" (or "FAIL <why>") and powers the VM off.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include "bindsnoop.h"
#include "bindsnoop.skel.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#define SCOPE "cri-containerd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope"
#define SLICE "kubepods-burstable-pod11111111_2222_4333_8444_555555555555.slice"

static void fail(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct bind_event *e = data;

	printf("EVENT port=%u req_port=%u ret=%d opts=%u proto=%u family=%u dev=%d cgroup=%s parent=%s comm=%s\n",
	       e->bound_port, e->req_port, e->ret, e->opts, e->protocol, e->family, e->bound_dev_if, e->cgroup_name,
	       e->cgroup_parent_name, e->comm);
	return 0;
}

static void bind4(const char *opts, int port)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	if (strchr(opts, 'F')) setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (strchr(opts, 'T')) setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
	if (strchr(opts, 'N')) setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (strchr(opts, 'R')) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (strchr(opts, 'r')) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	bind(fd, (struct sockaddr *)&sin, sizeof(sin)); /* sockets stay open: the last one collides */
}

int main(void)
{
	struct bindsnoop_bpf *skel;
	struct ring_buffer *rb;
	struct ifreq ifr = {0};
	char pid[16];
	int fd;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mount("proc", "/proc", "proc", 0, NULL) || mount("sysfs", "/sys", "sysfs", 0, NULL))
		fail("mount proc/sys");
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		fail("mount tracefs");
	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		fail("mount cgroup2");
	{
		FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
		char rel[64] = "";

		if (f && fgets(rel, sizeof(rel), f))
			printf("KERNEL %s", rel);
	}
	/* loopback up, for the binds */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(fd, SIOCSIFFLAGS, &ifr);

	/* into a kubelet-shaped cgroup: the record must carry its name and its parent's */
	if (mkdir("/sys/fs/cgroup/" SLICE, 0755) || mkdir("/sys/fs/cgroup/" SLICE "/" SCOPE, 0755))
		fail("mkdir cgroups");
	fd = open("/sys/fs/cgroup/" SLICE "/" SCOPE "/cgroup.procs", O_WRONLY);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		fail("join cgroup");

	skel = bindsnoop_bpf__open();
	if (!skel)
		fail("open");
	skel->rodata->include_errors = true;
	if (bindsnoop_bpf__load(skel))
		fail("load");
	if (bindsnoop_bpf__attach(skel))
		fail("attach");
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb)
		fail("ring buffer");

	bind4("F", 0);
	bind4("T", 0);
	bind4("N", 0);
	bind4("R", 0);
	bind4("r", 0);
	bind4("FTNRr", 4321);
	bind4("-", 4321); /* EADDRINUSE */

	/* records below the wakeup threshold do not wake epoll: drain as the addon does */
	ring_buffer__poll(rb, 100);
	ring_buffer__consume(rb);
	printf("DONE\n");
	fflush(stdout);
	bindsnoop_bpf__destroy(skel);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
