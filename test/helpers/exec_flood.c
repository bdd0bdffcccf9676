// An exec-heavy load: WORKERS processes, each forking and exec'ing PROGRAM (with its arguments) again and again
// until TOTAL runs were made or SECONDS passed, as a node running short-lived processes does (each bind comes from
// a process that was just exec'd). Prints "runs N seconds S" at the end.
//
//   exec_flood WORKERS TOTAL SECONDS PROGRAM [ARG...]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: exec_flood WORKERS TOTAL SECONDS PROGRAM [ARG...]\n");
		return 2;
	}
	int workers = atoi(argv[1]);
	long total = atol(argv[2]);
	double seconds = atof(argv[3]);
	char **program = argv + 4;
	long *runs = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (workers < 1 || total < 1 || seconds <= 0 || runs == MAP_FAILED) return 2;
	*runs = 0;
	double start = now();
	for (int w = 0; w < workers; w++) {
		if (fork() == 0) {
			int devnull = open("/dev/null", 1);
			while (__atomic_add_fetch(runs, 1, __ATOMIC_RELAXED) <= total && now() - start < seconds) {
				pid_t pid = fork();
				if (pid == 0) {
					dup2(devnull, 1);
					execv(program[0], program);
					_exit(127);
				}
				if (pid > 0) waitpid(pid, NULL, 0);
			}
			_exit(0);
		}
	}
	while (wait(NULL) > 0) {
	}
	long made = *runs;
	printf("runs %ld seconds %.3f\n", made > total ? total : made, now() - start);
	return 0;
}
