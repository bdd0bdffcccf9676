// SPDX-License-Identifier: Apache-2.0
/*
 * One bind() that never enters the bind syscall: io_uring's IORING_OP_BIND
 * (Linux 6.11+), through raw io_uring_setup/io_uring_enter.
 *
 *   uring_bind ADDR4 PORT      prints "pid N", then "ok PORT" or "err ERRNO"
 *
 * The syscall tracepoints cannot see this bind; fexit and kprobes on
 * inet_bind can.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_OP_BIND
#define IORING_OP_BIND 56 /* include/uapi/linux/io_uring.h, Linux 6.11 */
#endif

static void die(const char *what)
{
	fprintf(stderr, "uring_bind: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	struct io_uring_params p = {0};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct io_uring_sqe *sqes, *sqe;
	struct io_uring_cqe *cqe;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	void *sq_ring, *cq_ring;
	socklen_t len = sizeof(sin);
	int ring, fd, res;

	if (argc != 3)
		return 2;
	sin.sin_port = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1)
		return 2;
	printf("pid %d\n", getpid());
	fflush(stdout);

	ring = syscall(__NR_io_uring_setup, 4, &p);
	if (ring < 0)
		die("io_uring_setup");
	sq_ring = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED,
		       ring, IORING_OFF_SQ_RING);
	cq_ring = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		    IORING_OFF_SQES);
	if (sq_ring == MAP_FAILED || cq_ring == MAP_FAILED || sqes == MAP_FAILED)
		die("mmap");
	sq_tail = (unsigned *)((char *)sq_ring + p.sq_off.tail);
	sq_mask = (unsigned *)((char *)sq_ring + p.sq_off.ring_mask);
	sq_array = (unsigned *)((char *)sq_ring + p.sq_off.array);
	cq_head = (unsigned *)((char *)cq_ring + p.cq_off.head);
	cq_tail = (unsigned *)((char *)cq_ring + p.cq_off.tail);
	cq_mask = (unsigned *)((char *)cq_ring + p.cq_off.ring_mask);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	sqe = &sqes[0];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_BIND;
	sqe->fd = fd;
	sqe->addr = (unsigned long)&sin;
	sqe->off = sizeof(sin); /* addr2: the sockaddr's length */
	sq_array[*sq_tail & *sq_mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		die("io_uring_enter");
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		die("no completion");
	cqe = (struct io_uring_cqe *)((char *)cq_ring + p.cq_off.cqes) + (*cq_head & *cq_mask);
	res = cqe->res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	if (res < 0) {
		printf("err %d\n", -res);
		return 0;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		die("getsockname");
	printf("ok %d\n", ntohs(sin.sin_port));
	return 0;
}
