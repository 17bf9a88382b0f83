// SPDX-License-Identifier: MIT
/*
 * migcheck: guest-side checker for live migration tests.
 *
 *   migcheck start MIB [--dirty-mib-s N] [--still]
 *       Starts a background process that fills MIB MiB with a known
 *       pattern (every 8-byte word depends on its page and that page's
 *       generation), then every 20 ms bumps a counter (kept in
 *       /tmp/migcheck.counter) and rewrites one page with its next
 *       generation. With --dirty-mib-s it also rewrites pages round-robin
 *       at about N MiB/s from user space. With --still it does neither and
 *       only waits to verify: the guest stays idle (each tick's file write
 *       is guest kernel work, emulated on PVM, that would keep its vCPU
 *       busy). Prints "migcheck: filled N MiB" once the fill is done and
 *       returns.
 *   migcheck counter     prints the counter
 *   migcheck verify      has the background process check every page and
 *                        prints "migcheck: ok, N pages, counter C" or
 *                        "migcheck: BAD page P ..." (exit 2)
 *
 * The counter moving on after a migration shows the guest kept running;
 * verify shows every page arrived intact, including those dirtied while
 * migration ran.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "background.h"

#define PAGE 4096
#define PID_FILE "/tmp/migcheck.pid"
#define COUNTER_FILE "/tmp/migcheck.counter"
#define RESULT_FILE "/tmp/migcheck.result"

static uint8_t *mem;
static uint32_t *gen;
static size_t pages;
static volatile sig_atomic_t verify_requested;

static uint64_t word_for(size_t page, uint32_t g, size_t i)
{
	uint64_t x = ((uint64_t)page << 32 | g) * 0x9e3779b97f4a7c15ull;
	return x ^ (i * 0xbf58476d1ce4e5b9ull) ^ 0x5555555555555555ull;
}

static void write_page(size_t p)
{
	uint64_t *w = (uint64_t *)(mem + p * PAGE);
	for (size_t i = 0; i < PAGE / 8; i++)
		w[i] = word_for(p, gen[p], i);
}

static long check_pages(void)
{
	for (size_t p = 0; p < pages; p++) {
		const uint64_t *w = (const uint64_t *)(mem + p * PAGE);
		for (size_t i = 0; i < PAGE / 8; i++)
			if (w[i] != word_for(p, gen[p], i))
				return (long)p;
	}
	return -1;
}

static void on_usr1(int sig)
{
	(void)sig;
	verify_requested = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start(unsigned long mib, unsigned long dirty_mib_s, int still)
{
	int ready;
	int forked = fork_background(&ready);
	if (forked < 0)
		return 1;
	if (forked > 0) {
		char c;
		if (read(ready, &c, 1) != 1) {
			fprintf(stderr, "migcheck: the checker failed to start\n");
			return 1;
		}
		printf("migcheck: filled %lu MiB\n", mib);
		return 0;
	}
	pages = mib * 256;
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(pages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen)
		_exit(1);
	for (size_t p = 0; p < pages; p++)
		write_page(p);
	signal(SIGUSR1, on_usr1);
	char buf[64];
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	write_file(PID_FILE, buf);
	write_file(COUNTER_FILE, "0\n");
	if (write(ready, "x", 1) != 1)
		_exit(1);
	close(ready);
	int devnull = open("/dev/null", O_RDWR);
	dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);

	unsigned long counter = 0;
	size_t next_dirty = 0;
	double last_tick = now_s();
	const double tick = 0.02;
	const size_t dirty_per_tick = (size_t)(dirty_mib_s * 256 * tick);
	for (;;) {
		if (verify_requested) {
			verify_requested = 0;
			long bad = check_pages();
			if (bad < 0)
				snprintf(buf, sizeof(buf), "ok, %zu pages, counter %lu\n", pages, counter);
			else
				snprintf(buf, sizeof(buf), "BAD page %ld of %zu\n", bad, pages);
			write_file(RESULT_FILE, buf);
		}
		if (still) {
			sleep(1); /* a signal ends it early */
			continue;
		}
		double t = now_s();
		if (t - last_tick < tick) {
			usleep((useconds_t)((tick - (t - last_tick)) * 1e6));
			continue;
		}
		last_tick = t;
		counter++;
		size_t p = counter % pages;
		gen[p]++;
		write_page(p);
		for (size_t i = 0; i < dirty_per_tick; i++) {
			size_t q = next_dirty++ % pages;
			gen[q]++;
			write_page(q);
		}
		snprintf(buf, sizeof(buf), "%lu\n", counter);
		write_file(COUNTER_FILE, buf);
	}
}

static int cat_file(const char *path)
{
	char buf[128];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "migcheck: no checker running (%s)\n", path);
		return 1;
	}
	fclose(f);
	fputs(buf, stdout);
	return 0;
}

static int verify(void)
{
	char buf[128];
	if (ask_background("migcheck", PID_FILE, RESULT_FILE, SIGUSR1, buf, sizeof(buf)) != 0)
		return 1;
	printf("migcheck: %s", buf);
	return strncmp(buf, "ok", 2) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "start")) {
		unsigned long dirty = 0;
		int still = 0;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--dirty-mib-s") && i + 1 < argc)
				dirty = strtoul(argv[++i], NULL, 0);
			else if (!strcmp(argv[i], "--still"))
				still = 1;
			else
				goto usage;
		}
		return start(strtoul(argv[2], NULL, 0), dirty, still);
	}
	if (argc == 2 && !strcmp(argv[1], "counter"))
		return cat_file(COUNTER_FILE);
	if (argc == 2 && !strcmp(argv[1], "verify"))
		return verify();
usage:
	fprintf(stderr, "usage: migcheck start MIB [--dirty-mib-s N] [--still] | counter | verify\n");
	return 1;
}
