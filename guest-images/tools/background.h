// SPDX-License-Identifier: MIT
/*
 * What the guest tools that keep a background process (migcheck, tscgap)
 * share: files written whole (a rename, so a reader never sees half of
 * one), the background process's pid file, and asking it for an answer
 * with a signal and a result file. Included by the tools' .c files only
 * (build.sh compiles each .c file in tools/ into its own static program).
 */
#ifndef GUEST_TOOLS_BACKGROUND_H
#define GUEST_TOOLS_BACKGROUND_H

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

/* Forks the background process, in a session of its own. Returns 0 in it,
 * with *ready the pipe end it writes to once it is ready; 1 in the caller,
 * with *ready the end that news arrives on; -1 on failure. */
static int fork_background(int *ready)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	close(fds[pid > 0 ? 1 : 0]);
	*ready = fds[pid > 0 ? 0 : 1];
	if (pid > 0)
		return 1;
	setsid();
	return 0;
}

/* The pid in pid_file, or 0 (and a message naming `tool`) when there is none. */
static int background_pid(const char *tool, const char *pid_file)
{
	FILE *f = fopen(pid_file, "r");
	int pid = 0;
	if (!f || fscanf(f, "%d", &pid) != 1) {
		fprintf(stderr, "%s: no background process running\n", tool);
		pid = 0;
	}
	if (f)
		fclose(f);
	return pid;
}

/* Sends `sig` to the background process and waits (up to 60 s) for the
 * first line of result_file into buf. 0 on an answer, 1 otherwise. */
static int ask_background(const char *tool, const char *pid_file, const char *result_file, int sig, char *buf,
			  int size)
{
	int pid = background_pid(tool, pid_file);
	if (!pid)
		return 1;
	unlink(result_file);
	if (kill(pid, sig) != 0) {
		fprintf(stderr, "%s: background process %d is gone\n", tool, pid);
		return 1;
	}
	for (int i = 0; i < 6000; i++) {
		FILE *f = fopen(result_file, "r");
		int got = f && fgets(buf, size, f);
		if (f)
			fclose(f);
		if (got)
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "%s: no answer from the background process\n", tool);
	return 1;
}

#endif
