// SPDX-License-Identifier: Apache-2.0
/*
 * Makes real bind() calls for the integration tests and benchmarks.
 *
 *   bind_helper [--memfd] [--netns] [--mntns] [--cgroup DIR] [--uid UID] [--comm NAME]
 *               [--wait] [--repeat N] [--rate PER_SECOND] [--seconds S] [--thread] SPEC...
 *
 * SPEC is PROTO,FAMILY,ADDR,PORT[,OPTS[,DEV]] (PROTO tcp|udp|mptcp|sctp|udplite|raw, FAMILY 4|6, or
 * 6a4|4a6 for a socket of one family given a sockaddr of the other (EAFNOSUPPORT),
 * OPTS any of "FTNRr" or "-") or unix,PATH. Every socket stays open until the
 * helper exits, so a later SPEC can collide with an earlier one; with
 * --repeat each socket is closed right after its bind (a socket+bind+close loop);
 * --rate paces that loop to so many binds a second (in slices of 1 ms); in that loop a PORT "+BASE"
 * asks for BASE + r % 10000 at the r-th bind;
 * --seconds ends it after S seconds however many it made ("done N" says how many).
 *
 * --memfd (first) runs a copy of the helper from a memfd (fexecve), as a
 * fileless dropper does, with the other arguments.
 *
 * Prints "pid N", "mntns N" and "netns N" first, then (after a line on stdin
 * when --wait) "exe PATH" (its /proc/self/exe, as it is at the binds) and one
 * "ok PORT" or "err ERRNO" per bind. With --thread the binds
 * are made by a second thread, which prints "tid N" first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static void die(const char *what)
{
	fprintf(stderr, "bind_helper: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* --memfd: this program copied into a memfd and run from there */
static void exec_from_memfd(char **argv)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int fd = memfd_create("bind-helper", 0);
	ssize_t n;

	if (in < 0 || fd < 0)
		die("memfd");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			die("write memfd");
	close(in);
	argv[1] = argv[0];
	fexecve(fd, argv + 1, environ);
	die("fexecve");
}

static void loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo");
	close(fd);
}

static unsigned long ns_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

static void setopt(int fd, int level, int name, const char *what)
{
	int one = 1;

	if (setsockopt(fd, level, name, &one, sizeof(one)))
		die(what);
}

/* Returns the socket (kept open by the caller), prints the outcome. */
static int bind_one(char *spec)
{
	char *fields[6] = {0};
	int n = 0;

	for (char *tok = strtok(spec, ","); tok && n < 6; tok = strtok(NULL, ","))
		fields[n++] = tok;

	if (n >= 2 && !strcmp(fields[0], "unix")) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket unix");
		strncpy(sun.sun_path, fields[1], sizeof(sun.sun_path) - 1);
		unlink(sun.sun_path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
			printf("err %d\n", errno);
		else
			printf("ok 0\n");
		return fd;
	}
	if (n < 4) {
		fprintf(stderr, "bind_helper: bad spec\n");
		exit(2);
	}
	int dgram = !strcmp(fields[0], "udp") || !strcmp(fields[0], "udplite");
	int raw = !strcmp(fields[0], "raw"); /* IPPROTO_RAW: its "port" is its protocol number, 255 */
	int type = raw ? SOCK_RAW : dgram ? SOCK_DGRAM : SOCK_STREAM;
	int protocol = raw ? 255 : !strcmp(fields[0], "mptcp") ? 262 /* IPPROTO_MPTCP */ : !strcmp(fields[0], "udplite") ? 136 : !strcmp(fields[0], "sctp") ? 132 /* IPPROTO_SCTP, one-to-one style */ : 0;
	int v6 = fields[1][0] == '6';
	int family = v6 ? AF_INET6 : AF_INET;
	/* the sockaddr's family: the socket's, or the other one ("6a4": an IPv6 socket, an IPv4 address) */
	int addr_v6 = fields[1][strlen(fields[1]) - 1] == '6';
	int port = atoi(fields[3]);
	const char *opts = n >= 5 ? fields[4] : "-";
	int fd = socket(family, type, protocol);

	if (fd < 0)
		die("socket");
	if (strchr(opts, 'F'))
		v6 ? setopt(fd, SOL_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND") : setopt(fd, SOL_IP, IP_FREEBIND, "IP_FREEBIND");
	if (strchr(opts, 'T'))
		v6 ? setopt(fd, SOL_IPV6, IPV6_TRANSPARENT, "IPV6_TRANSPARENT")
		   : setopt(fd, SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT");
	if (strchr(opts, 'N'))
		setopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT");
	if (strchr(opts, 'R'))
		setopt(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
	if (strchr(opts, 'r'))
		setopt(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
	if (n >= 6 && fields[5][0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, fields[5], strlen(fields[5])))
		die("SO_BINDTODEVICE");

	int rc;
	if (addr_v6) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

		if (inet_pton(AF_INET6, fields[2], &sin6.sin6_addr) != 1)
			die("inet_pton6");
		rc = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	} else {
		/* as long as an IPv6 socket asks for, so that only the family is wrong */
		union {
			struct sockaddr_in sin;
			struct sockaddr_in6 room;
		} u = {.sin = {.sin_family = AF_INET, .sin_port = htons(port)}};

		if (inet_pton(AF_INET, fields[2], &u.sin.sin_addr) != 1)
			die("inet_pton");
		rc = bind(fd, (struct sockaddr *)&u.sin, v6 ? sizeof(u.room) : sizeof(u.sin));
	}
	if (rc) {
		printf("err %d\n", errno);
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		getsockname(fd, (struct sockaddr *)&ss, &len);
		printf("ok %d\n", ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							       : ((struct sockaddr_in *)&ss)->sin_port));
	}
	return fd;
}

struct bind_all_args {
	int first, argc;
	char **argv;
};

static void *bind_all(void *p)
{
	struct bind_all_args *a = p;

	if (gettid() != getpid())
		printf("tid %d\n", gettid());
	for (int i = a->first; i < a->argc; i++) {
		char spec[256];

		snprintf(spec, sizeof(spec), "%s", a->argv[i]);
		bind_one(spec); /* sockets stay open until exit */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int wait_stdin = 0, repeat = 0, rate = 0, seconds = 0, i;
	long uid = -1;
	const char *cgroup = NULL, *comm = NULL;
	int want_netns = 0, want_mntns = 0, in_thread = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--memfd"))
		exec_from_memfd(argv);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (!strcmp(argv[i], "--netns"))
			want_netns = 1;
		else if (!strcmp(argv[i], "--mntns"))
			want_mntns = 1;
		else if (!strcmp(argv[i], "--wait"))
			wait_stdin = 1;
		else if (!strcmp(argv[i], "--thread"))
			in_thread = 1;
		else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc)
			cgroup = argv[++i];
		else if (!strcmp(argv[i], "--uid") && i + 1 < argc)
			uid = atol(argv[++i]);
		else if (!strcmp(argv[i], "--comm") && i + 1 < argc)
			comm = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else {
			fprintf(stderr, "bind_helper: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (cgroup) {
		char path[4096], pid[32];
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			die(path);
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (write(fd, pid, strlen(pid)) < 0)
			die("join cgroup");
		close(fd);
	}
	if (want_netns) {
		if (unshare(CLONE_NEWNET))
			die("unshare(CLONE_NEWNET)");
		loopback_up();
	}
	if (want_mntns && unshare(CLONE_NEWNS))
		die("unshare(CLONE_NEWNS)");
	if (comm)
		prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (uid >= 0 && setuid((uid_t)uid))
		die("setuid");

	printf("pid %d\n", getpid());
	printf("mntns %lu\n", ns_inode("/proc/self/ns/mnt"));
	printf("netns %lu\n", ns_inode("/proc/self/ns/net"));
	if (wait_stdin) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin))
			return 0;
	}
	{
		char exe[8192];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		exe[n > 0 ? n : 0] = 0;
		printf("exe %s\n", n > 0 ? exe : strerror(errno));
	}

	if (repeat > 0) {
		/* the benchmark loop: socket, bind, close, over and over (paced: each bind has its time slot) */
		struct timespec start;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &start);
		for (r = 0; r < repeat; r++) {
			if (seconds > 0 && r % 1024 == 0) {
				struct timespec now;

				clock_gettime(CLOCK_MONOTONIC, &now);
				if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
					break;
			}
			for (int s = i; s < argc; s++) {
				if (rate > 0 && r % (rate / 1000 + 1) == 0) {
					long long due_ns = (long long)r * 1000000000LL / rate;
					struct timespec at = {start.tv_sec + (start.tv_nsec + due_ns) / 1000000000LL,
							      (start.tv_nsec + due_ns) % 1000000000LL};

					clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
				}
				char spec[256];

				snprintf(spec, sizeof(spec), "%s", argv[s]);
				int type = !strncmp(spec, "udp", 3) ? SOCK_DGRAM : SOCK_STREAM;
				int v6 = strstr(spec, ",6,") != NULL;
				int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
				struct sockaddr_storage ss = {0};
				socklen_t len;

				if (v6) {
					((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
					((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
					len = sizeof(struct sockaddr_in6);
				} else {
					((struct sockaddr_in *)&ss)->sin_family = AF_INET;
					((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
					len = sizeof(struct sockaddr_in);
				}
				/* PORT "+BASE": the r-th bind asks for BASE + r % 10000, so that each bind of a flood is told
				 * apart from the next 9,999 by its port (0 otherwise: an ephemeral port) */
				const char *port = spec;
				for (int commas = 0; *port && commas < 3; port++)
					commas += *port == ',';
				if (*port == '+') {
					int want = atoi(port + 1) + r % 10000;

					if (v6)
						((struct sockaddr_in6 *)&ss)->sin6_port = htons(want);
					else
						((struct sockaddr_in *)&ss)->sin_port = htons(want);
				}
				if (bind(fd, (struct sockaddr *)&ss, len))
					die("bind");
				close(fd);
			}
		}
		printf("done %d\n", r);
		return 0;
	}

	struct bind_all_args args = {.first = i, .argc = argc, .argv = argv};

	if (in_thread) {
		pthread_t t;

		if (pthread_create(&t, NULL, bind_all, &args) || pthread_join(t, NULL))
			die("pthread");
	} else {
		bind_all(&args);
	}
	return 0;
}
