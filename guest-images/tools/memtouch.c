// SPDX-License-Identifier: MIT
/*
 * memtouch MIB [PATTERN_BYTE] [--hold SECONDS]
 *
 * Guest-side test tool: maps MIB MiB of anonymous memory, writes PATTERN_BYTE
 * (default 0xa5; decimal, 0x-hex or octal) to every byte of every page, checks
 * one byte per page reads back, prints "touched N MiB", optionally sleeps
 * SECONDS, then unmaps and exits 0. Exit 1 on bad usage or mmap failure,
 * 2 on a read-back mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define USAGE "memtouch MIB [PATTERN_BYTE] [--hold SECONDS]"
#include "args.h"

int main(int argc, char **argv)
{
	unsigned long mib = 0, hold = 0, pattern = 0xa5;
	int have_mib = 0, have_pat = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hold")) {
			if (++i >= argc)
				usage();
			hold = num(argv[i]);
		} else if (!have_mib) {
			mib = num(argv[i]);
			have_mib = 1;
		} else if (!have_pat) {
			pattern = num(argv[i]);
			if (pattern > 255)
				usage();
			have_pat = 1;
		} else {
			usage();
		}
	}
	if (!have_mib)
		usage();
	size_t len = (size_t)mib << 20;
	unsigned char *p = NULL;
	if (len) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("memtouch: mmap");
			return 1;
		}
		long page = sysconf(_SC_PAGESIZE);
		for (size_t off = 0; off < len; off += page)
			memset(p + off, (int)pattern, page);
		for (size_t off = 0; off < len; off += page)
			if (((volatile unsigned char *)p)[off] != pattern) {
				fprintf(stderr, "memtouch: mismatch at offset %zu\n", off);
				return 2;
			}
	}
	printf("touched %lu MiB\n", mib);
	fflush(stdout);
	if (hold)
		sleep(hold);
	if (len)
		munmap(p, len);
	return 0;
}
