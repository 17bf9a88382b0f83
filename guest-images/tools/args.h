// SPDX-License-Identifier: MIT
/*
 * The command-line checks the simple guest tools (memtouch, fileload)
 * share. A tool defines USAGE (its usage line, without "usage: ") before
 * including this; included by the tools' .c files only (build.sh compiles
 * each .c file in tools/ into its own static program).
 */
#ifndef GUEST_TOOLS_ARGS_H
#define GUEST_TOOLS_ARGS_H

#include <stdio.h>
#include <stdlib.h>

static void usage(void)
{
	fprintf(stderr, "usage: %s\n", USAGE);
	exit(1);
}

/* A whole number (decimal, 0x-hex or octal); anything else is bad usage. */
static unsigned long num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);
	if (!*s || *end)
		usage();
	return v;
}

#endif
