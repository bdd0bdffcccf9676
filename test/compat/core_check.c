// SPDX-License-Identifier: Apache-2.0
/*
 * CO-RE compatibility check on another kernel or architecture: this static
 * program is /init of a small VM (test/compat/run-vm.sh). For each backend
 * (tracepoint, kprobe, fentry) it loads the very BPF object bindsnoop ships
 * (the same skeleton) with only that backend's programs, attaches them, makes
 * binds with each socket option from a kubelet-shaped cgroup, and prints each
 * record as a line the test parses:
 *   BACKEND name ok | BACKEND name unavailable: why
 *   EVENT backend=.. port=.. ret=.. opts=.. proto=.. family=.. cgroup=.. parent=..
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

static const char *backend_name;
static int open_fds[16];
static int nopen;

static int on_record(void *ctx, void *data, size_t size)
{
	const struct bind_event *e = data;

	printf("EVENT backend=%s port=%u req_port=%u ret=%d opts=%u proto=%u family=%u dev=%d cgroup=%s parent=%s comm=%s\n",
	       backend_name, e->bound_port, e->req_port, e->ret, e->opts, e->protocol, e->family, e->bound_dev_if, e->cgroup_name,
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
	if (nopen < 16)
		open_fds[nopen++] = fd;
}

/* One backend: only its programs loaded and attached, the binds, the records. */
static void check_backend(const char *name, const char *const *progs, int nprogs)
{
	struct bindsnoop_bpf *skel;
	struct bpf_program *prog;
	struct bpf_link *links[4];
	struct ring_buffer *rb;
	int i;

	backend_name = name;
	skel = bindsnoop_bpf__open();
	if (!skel)
		fail("open");
	skel->rodata->include_errors = true;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	for (i = 0; i < nprogs; i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, progs[i]), true);
	if (bindsnoop_bpf__load(skel)) {
		printf("BACKEND %s unavailable: load: %s\n", name, strerror(errno));
		bindsnoop_bpf__destroy(skel);
		return;
	}
	for (i = 0; i < nprogs; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, progs[i]);

		links[i] = bpf_program__attach(p);
		if (!links[i]) {
			printf("BACKEND %s unavailable: attach %s: %s\n", name, bpf_program__name(p), strerror(errno));
			while (i-- > 0)
				bpf_link__destroy(links[i]);
			bindsnoop_bpf__destroy(skel);
			return;
		}
	}
	printf("BACKEND %s ok\n", name);
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
	ring_buffer__free(rb);
	for (i = 0; i < nprogs; i++)
		bpf_link__destroy(links[i]);
	bindsnoop_bpf__destroy(skel);
	while (nopen > 0)
		close(open_fds[--nopen]);
}

int main(void)
{
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

	{
		static const char *const tp[] = {"handle_enter_bind", "handle_exit_bind"};
		static const char *const kp[] = {"kprobe_inet_bind", "kprobe_inet6_bind", "kretprobe_inet_bind",
						 "kretprobe_inet6_bind"};
		static const char *const fe[] = {"fexit_inet_bind", "fexit_inet6_bind"};

		check_backend("tracepoint", tp, 2);
		check_backend("kprobe", kp, 4);
		check_backend("fentry", fe, 2);
	}
	printf("DONE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
