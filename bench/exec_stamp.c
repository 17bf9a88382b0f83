// SPDX-License-Identifier: MIT
/*
 * exec_stamp FILE PROGRAM [ARGS...]: writes "MONOTONIC_NS REALTIME_NS" to
 * FILE, then execs PROGRAM in the same process. bench/boot and
 * bench/restore start both VMMs through it, so their start-up is timed
 * from exec (dynamic loading included) to the first KVM_RUN, which each
 * VMM marks with its own clock reading.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exec_stamp FILE PROGRAM [ARGS...]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	fprintf(f, "%lld %lld\n", ns(CLOCK_MONOTONIC), ns(CLOCK_REALTIME));
	fclose(f);
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
