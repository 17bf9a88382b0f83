// SPDX-License-Identifier: MIT
/*
 * tscgap: the guest's own view of a pause (migration downtime), for
 * bench/migrate. A background process spins reading the TSC in user mode
 * and logs every gap between consecutive reads longer than 50 us: while
 * the VM is paused the spinner does not run, so the pause shows as a gap.
 *
 *   tscgap start          starts the spinner (nice 19, so the guest's own
 *                         work still runs), calibrated against
 *                         CLOCK_MONOTONIC; prints "tscgap: started, TSC N MHz"
 *   tscgap now            prints the TSC (run on the host, it reads the host's)
 *   tscgap report A B     prints the longest gap that overlaps the window
 *                         between TSC values A and B: "tscgap: max gap G ms
 *                         at T ms, N gaps >= 1 ms, next S ms, window W ms"
 *                         (T: its start from A, negative when it began
 *                         before A), or "tscgap: lost" when the log no
 *                         longer reaches A
 *   tscgap stop           ends the spinner
 *
 * Why the TSC read in user mode: on a PVM host guest user code runs
 * natively, so it reads the host's TSC, continuous across a move between
 * two VMM processes on one host, and the bench can name the window in host
 * TSC values read around the migration; the guest's kvm-clock (and so its
 * CLOCK_MONOTONIC) is set by the VMM and need not show the pause. On
 * hardware KVM the VMM restores the guest's TSC, and a migration between
 * hosts has two TSCs: there this probe reads differently.
 *
 * Gaps also come from the guest's own work (interrupts, other processes,
 * the shell running a command) and from the host descheduling the vCPU
 * thread: a report over a quiet window shows that floor.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "background.h"

#define PID_FILE "/tmp/tscgap.pid"
#define QUERY_FILE "/tmp/tscgap.query"
#define RESULT_FILE "/tmp/tscgap.result"
#define LOG_SIZE (1 << 16) /* gaps kept, oldest overwritten */

static volatile sig_atomic_t report_requested;

struct gap {
	uint64_t start, ticks;
};
static struct gap gaps[LOG_SIZE];
static uint64_t logged; /* gaps logged so far; the newest is gaps[(logged - 1) % LOG_SIZE] */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_usr1(int sig)
{
	(void)sig;
	report_requested = 1;
}

/* Ticks per ms over ~200 ms of CLOCK_MONOTONIC. */
static double calibrate(void)
{
	double t0 = mono_ms();
	uint64_t c0 = rdtsc();
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	double t1 = mono_ms();
	uint64_t c1 = rdtsc();
	return (c1 - c0) / (t1 - t0);
}

/* `open` is the gap in progress when the report was asked for: it overlaps
 * the window only when the spinner has not run since before the window's
 * end, and then its length includes running the report command. */
static void report(double ticks_per_ms, struct gap open)
{
	unsigned long long from = 0, to = 0;
	FILE *f = fopen(QUERY_FILE, "r");
	int ok = f && fscanf(f, "%llu %llu", &from, &to) == 2;
	if (f)
		fclose(f);
	if (!ok) {
		write_file(RESULT_FILE, "bad query\n");
		return;
	}
	uint64_t oldest = logged > LOG_SIZE ? logged - LOG_SIZE : 0;
	if (logged > LOG_SIZE && gaps[oldest % LOG_SIZE].start > from) {
		write_file(RESULT_FILE, "lost\n");
		return;
	}
	struct gap max = {0, 0}, next = {0, 0};
	unsigned long over_1ms = 0;
	int max_is_open = 0;
	for (uint64_t i = oldest; i <= logged; i++) {
		struct gap g = i < logged ? gaps[i % LOG_SIZE] : open;
		if (g.start > to || g.start + g.ticks < from)
			continue;
		if (g.ticks >= ticks_per_ms)
			over_1ms++;
		if (g.ticks > max.ticks) {
			next = max;
			max = g;
			max_is_open = i == logged;
		} else if (g.ticks > next.ticks) {
			next = g;
		}
	}
	char line[256];
	snprintf(line, sizeof(line), "max gap %.3f ms at %.3f ms, %lu gaps >= 1 ms, next %.3f ms, window %.3f ms%s\n",
		 max.ticks / ticks_per_ms, max.ticks ? ((double)max.start - (double)from) / ticks_per_ms : 0.0, over_1ms,
		 next.ticks / ticks_per_ms, (to - from) / ticks_per_ms,
		 max_is_open ? ", open (the spinner had not run since)" : "");
	write_file(RESULT_FILE, line);
}

static void spin(int ready_fd, double ticks_per_ms)
{
	const uint64_t min_gap = (uint64_t)(ticks_per_ms / 20); /* 50 us */
	char line[64];
	snprintf(line, sizeof(line), "%.1f\n", ticks_per_ms / 1e3);
	if (write(ready_fd, line, strlen(line)) < 0)
		_exit(1);
	close(ready_fd);
	uint64_t last = rdtsc();
	for (;;) {
		uint64_t now = rdtsc();
		if (report_requested) {
			report_requested = 0;
			report(ticks_per_ms, (struct gap){last, now - last});
			last = rdtsc(); /* the report, not a gap */
			continue;
		}
		if (now - last >= min_gap) {
			gaps[logged % LOG_SIZE] = (struct gap){last, now - last};
			logged++;
		}
		last = now;
	}
}

static int start(void)
{
	int ready;
	int forked = fork_background(&ready);
	if (forked < 0)
		return 1;
	if (forked > 0) {
		char buf[64];
		ssize_t n = read(ready, buf, sizeof(buf) - 1);
		if (n <= 0) {
			fprintf(stderr, "tscgap: the spinner failed to start\n");
			return 1;
		}
		buf[n] = 0;
		printf("tscgap: started, TSC %.1f MHz\n", atof(buf));
		return 0;
	}
	setpriority(PRIO_PROCESS, 0, 19);
	signal(SIGUSR1, on_usr1);
	char buf[32];
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	write_file(PID_FILE, buf);
	double ticks_per_ms = calibrate();
	if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) ||
	    !freopen("/dev/null", "w", stderr))
		_exit(1);
	spin(ready, ticks_per_ms);
	return 0;
}

static int ask(const char *from, const char *to)
{
	char query[64], buf[256];
	snprintf(query, sizeof(query), "%s %s\n", from, to);
	write_file(QUERY_FILE, query);
	if (ask_background("tscgap", PID_FILE, RESULT_FILE, SIGUSR1, buf, sizeof(buf)) != 0)
		return 1;
	printf("tscgap: %s", buf);
	return strncmp(buf, "max gap", 7) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "start"))
		return start();
	if (argc == 2 && !strcmp(argv[1], "now")) {
		printf("%llu\n", (unsigned long long)rdtsc());
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "report"))
		return ask(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "stop")) {
		int pid = background_pid("tscgap", PID_FILE);
		unlink(PID_FILE);
		return pid && kill(pid, SIGTERM) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: tscgap start | now | report FROM_TSC TO_TSC | stop\n");
	return 1;
}
