// SPDX-License-Identifier: MIT
/*
 * fileload DIR MIB ROUND [FILE_KIB]
 *
 * Guest-side workload for bench/balloon_fragmentation: memory that the
 * guest keeps. Round ROUND (0, 1, 2, ...) writes MIB MiB of FILE_KIB KiB
 * files (default 16) into DIR, which on the default guest is the
 * initramfs (pages that no cache drop and no reclaim takes back). First it
 * deletes every other file of round ROUND-1 and what is left of round
 * ROUND-2, so after a few rounds it holds about 1.5 x MIB and has freed
 * memory in FILE_KIB pieces scattered over what it wrote: a guest whose
 * free memory is cut up by long-lived allocations, as a busy server's page
 * cache and tmpfs are. One round per run, so that a bench gives the same
 * work to every balloon it compares. Prints "round N: M files"; exit 1 on
 * bad usage or a failed write (out of memory included).
 *
 * Written in C because each fork and exec is slow in an emulated guest: a
 * shell loop would spend its time starting dd, not allocating.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "fileload DIR MIB ROUND [FILE_KIB]"
#include "args.h"

static void name_of(char *buf, size_t len, const char *dir, unsigned long round, unsigned long i)
{
	snprintf(buf, len, "%s/r%lu.%lu", dir, round % 3, i);
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5)
		usage();
	const char *dir = argv[1];
	unsigned long mib = num(argv[2]);
	unsigned long round = num(argv[3]);
	unsigned long file_kib = argc == 5 ? num(argv[4]) : 16;
	if (mib == 0 || file_kib == 0 || file_kib > 1024)
		usage();
	unsigned long files = mib * 1024 / file_kib;
	static char data[1024 * 1024];
	memset(data, 0x5a, sizeof(data));
	char path[256];
	for (unsigned long i = 0; round >= 2 && i < files; i++) {
		name_of(path, sizeof(path), dir, round - 2, i);
		unlink(path);
	}
	for (unsigned long i = 0; round >= 1 && i < files; i += 2) {
		name_of(path, sizeof(path), dir, round - 1, i);
		unlink(path);
	}
	for (unsigned long i = 0; i < files; i++) {
		name_of(path, sizeof(path), dir, round, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, data, file_kib * 1024) != (ssize_t)(file_kib * 1024)) {
			perror("fileload");
			return 1;
		}
		close(fd);
	}
	printf("round %lu: %lu files\n", round, files);
	return 0;
}
