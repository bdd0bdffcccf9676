// SPDX-License-Identifier: Apache-2.0
/*
 * /init of the test VMs (test/vm/boot.sh): loads the kernel modules listed in
 * /modules/order, mounts the host's root filesystem read-only over virtio-9p,
 * gives it fresh /proc, /sys, /dev, /run (with /run/tmp as TMPDIR: the host's
 * /tmp stays visible, read-only, as the project may be checked out there),
 * cgroup2, bpffs and tracefs,
 * runs the script named by `bs.script=` on the kernel command line (with
 * `bs.arg=` values as its arguments) in that root, and powers the VM off.
 * The host's own programs (bash, node, ip, the project's build) run in the
 * guest kernel unchanged: the guest tests the shipped CLI, not a stand-in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what)
{
	printf("VMINIT %s: %s\n", what, strerror(errno));
	fflush(stdout);
}

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	_exit(0);
}

static void load_modules(void)
{
	char name[256];
	FILE *order = fopen("/modules/order", "r");

	if (!order)
		return;
	while (fgets(name, sizeof(name), order)) {
		char path[300];
		int fd;

		name[strcspn(name, "\n")] = 0;
		if (!name[0])
			continue;
		snprintf(path, sizeof(path), "/modules/%s", name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0)) {
			if (errno != EEXIST)
				say(path);
		}
		if (fd >= 0)
			close(fd);
	}
	fclose(order);
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data)) {
		say(dst);
		power_off();
	}
}

int main(void)
{
	char cmdline[4096] = "";
	char *argv[32];
	int argc = 0, fd, status;
	char *tok, *save;
	pid_t child;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	must_mount("proc", "/proc", "proc", 0, NULL);
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);

		cmdline[n > 0 ? n : 0] = 0;
		close(fd);
	}
	load_modules();

	mkdir("/newroot", 0755);
	must_mount("hostroot", "/newroot", "9p", MS_RDONLY, "trans=virtio,version=9p2000.L,cache=loose,msize=262144");
	must_mount("proc", "/newroot/proc", "proc", 0, NULL);
	must_mount("sysfs", "/newroot/sys", "sysfs", 0, NULL);
	must_mount("devtmpfs", "/newroot/dev", "devtmpfs", 0, NULL);
	must_mount("tmpfs", "/newroot/run", "tmpfs", 0, "mode=755");
	mkdir("/newroot/run/tmp", 01777);
	must_mount("cgroup2", "/newroot/sys/fs/cgroup", "cgroup2", 0, NULL);
	must_mount("bpf", "/newroot/sys/fs/bpf", "bpf", 0, "mode=700");
	must_mount("tracefs", "/newroot/sys/kernel/tracing", "tracefs", 0, NULL);
	if (chroot("/newroot") || chdir("/")) {
		say("chroot");
		power_off();
	}

	argv[argc++] = "/bin/bash";
	for (tok = strtok_r(cmdline, " \n", &save); tok && argc < 30; tok = strtok_r(NULL, " \n", &save)) {
		if (!strncmp(tok, "bs.script=", 10) && argc == 1)
			argv[argc++] = tok + 10;
		else if (!strncmp(tok, "bs.arg=", 7) && argc > 1)
			argv[argc++] = tok + 7;
	}
	argv[argc] = NULL;
	if (argc < 2) {
		printf("VMINIT no bs.script= on the kernel command line\n");
		power_off();
	}
	child = fork();
	if (child == 0) {
		char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/run/tmp",
				"TERM=dumb", "CI=true", "TMPDIR=/run/tmp", NULL};

		execve(argv[0], argv, envp);
		say("exec");
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	printf("VMEXIT %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	power_off();
	return 0;
}
