// SPDX-License-Identifier: MIT
/*
 * /init (PID 1) of the project's default guest initramfs.
 *
 * Written in C rather than as a shell script because the guest kernel is
 * emulated on PVM hosts and every fork/exec costs: this init forks once.
 * - mounts proc, sysfs and devtmpfs (devtmpfs gives /dev/vda, /dev/vdb...);
 * - brings the loopback interface up (eth0 is left to the user: ip=... on
 *   the kernel command line or `ip addr add` / `ip link set eth0 up`);
 * - starts an interactive busybox shell on the console tty (its own session,
 *   so job control works) and respawns it when it exits;
 * - prints the line VMM-GUEST-READY just before the shell starts;
 * - handles busybox's poweroff/halt/reboot requests to PID 1 (SIGUSR2 /
 *   SIGUSR1 / SIGTERM) at once: no 2-second pauses as in busybox init.
 *   `poweroff -f` needs nothing from init (it calls reboot(2) itself).
 * - reaps orphaned children;
 * - on a PVM host, keeps glibc off AVX (see avx_guard()).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <net/if.h>
#include <unistd.h>
#include <cpuid.h>

static void say(const char *s) { ssize_t r = write(2, s, strlen(s)); (void)r; }

static void on_signal(int sig)
{
	int cmd = RB_POWER_OFF;
	if (sig == SIGTERM || sig == SIGINT)
		cmd = RB_AUTOBOOT;
	else if (sig == SIGUSR1)
		cmd = RB_HALT_SYSTEM;
	kill(-1, SIGKILL);
	sync();
	reboot(cmd);
	_exit(1);
}

/* "/dev/ttyS0" from /sys/class/tty/console/active (last entry = /dev/console). */
static void console_path(char *buf, size_t len)
{
	char act[128];
	snprintf(buf, len, "/dev/console");
	int fd = open("/sys/class/tty/console/active", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, act, sizeof(act) - 1);
	close(fd);
	if (n <= 0)
		return;
	act[n] = 0;
	while (n > 0 && (act[n - 1] == '\n' || act[n - 1] == ' '))
		act[--n] = 0;
	char *last = strrchr(act, ' ');
	last = last ? last + 1 : act;
	if (*last)
		snprintf(buf, len, "/dev/%s", last);
}

/*
 * On PVM, user-mode CPUID runs natively: programs see the host's OSXSAVE,
 * AVX, AVX2, AVX-512 and the host's XCR0, while the guest kernel (booted with
 * noxsave, as PVM does not emulate xrstor) context-switches only the FXSAVE
 * state. glibc's AVX/AVX-512 string functions then lose their upper vector
 * and mask registers when preempted: random crashes in pipelines. When the
 * kernel does not use XSAVE but CPUID says the OS enabled it, tell glibc not
 * to use those features. On hardware KVM the two agree and nothing is set.
 */
static char tunables[] = "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,"
	"-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-FMA,-FMA4,-BMI2,-XSAVE,-XSAVEC";
static int avx_guard(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	static char buf[8192];
	int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *flags = strstr(buf, "\nflags");
	if (!flags)
		return 0;
	char *eol = strchr(flags + 1, '\n');
	if (eol)
		*eol = 0;
	size_t len = strlen(flags);
	if (len >= 6 && !strcmp(flags + len - 6, " xsave"))
		return 0;
	return strstr(flags, " xsave ") == NULL;
}

/* Programs that talk to 127.0.0.1 expect lo up, as any distribution's init sets it. */
static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
			say("init: cannot bring lo up\n");
	}
	close(fd);
}

static pid_t start_shell(void)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	char tty[160];
	console_path(tty, sizeof(tty));
	int fd = open(tty, O_RDWR);
	if (fd < 0)
		fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		ioctl(fd, TIOCSCTTY, 0);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	say("VMM-GUEST-READY\n");
	char *argv[] = { "-sh", NULL };
	char *envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root",
			 "TERM=vt100", "SHELL=/bin/sh", "USER=root", NULL, NULL };
	if (avx_guard())
		envp[5] = tunables;
	execve("/bin/sh", argv, envp);
	say("init: cannot exec /bin/sh\n");
	_exit(127);
}

int main(void)
{
	if (getpid() != 1) {
		say("init: must run as PID 1\n");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL); /* ctrl-alt-del */
	signal(SIGHUP, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);

	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
	chdir("/");
	loopback_up();

	pid_t shell = start_shell();
	for (;;) {
		int status;
		pid_t pid = wait(&status);
		if (pid < 0) {
			if (errno == ECHILD)
				shell = -1;
			else
				continue;
		}
		if (pid == shell || shell < 0) {
			sleep(pid == shell ? 0 : 1);
			shell = start_shell();
		}
	}
}
