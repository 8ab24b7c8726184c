// SPDX-License-Identifier: GPL-2.0
/*
 * vforker DIR [TICK_MS]: a parent blocked in vfork() for as long as its
 * child wants.  The child, which borrows the parent's memory and must
 * not return, ticks with raw system calls only ("pid C tick N") until
 * DIR/exit exists, then _exit()s; the parent then goes on and ticks
 * itself ("pid P tick N").  While the vfork lasts the parent sleeps in
 * the kernel in a state no signal but a fatal one ends: it cannot be
 * frozen by ptrace.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include "wl.h"

/* the child's own tick line, with nothing but syscalls */
static void child_tick(pid_t pid, unsigned long tick)
{
	char buf[64], num[24], *p = buf;
	unsigned long v;
	int i, n;

	memcpy(p, "pid ", 4);
	p += 4;
	for (v = (unsigned long)pid, n = 0; v || !n; v /= 10)
		num[n++] = '0' + v % 10;
	for (i = n - 1; i >= 0; i--)
		*p++ = num[i];
	memcpy(p, " tick ", 6);
	p += 6;
	for (v = tick, n = 0; v || !n; v /= 10)
		num[n++] = '0' + v % 10;
	for (i = n - 1; i >= 0; i--)
		*p++ = num[i];
	*p++ = '\n';
	syscall(SYS_write, STDOUT_FILENO, buf, p - buf);
}

static void __attribute__((noreturn)) child(const char *trigger, unsigned tick_ms)
{
	struct timespec ts;
	pid_t me = syscall(SYS_getpid);
	unsigned long tick;

	for (tick = 1;; tick++) {
		ts.tv_sec = tick_ms / 1000;
		ts.tv_nsec = (long)(tick_ms % 1000) * 1000000L;
		while (syscall(SYS_nanosleep, &ts, &ts) && errno == EINTR)
			;
		if (syscall(SYS_faccessat, AT_FDCWD, trigger, F_OK, 0) == 0)
			syscall(SYS_exit_group, 0);
		child_tick(me, tick);
	}
}

int main(int argc, char **argv)
{
	static char trigger[4096];
	unsigned long tick;
	unsigned tick_ms;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: vforker DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	snprintf(trigger, sizeof(trigger), "%s/exit", argv[1]);
	tick_ms = wl_arg(argc, argv, 2, 100);
	wl_ready();
	pid = vfork();
	wl_check(pid >= 0, "vfork");
	if (pid == 0)
		child(trigger, tick_ms);
	wl_print("pid %d resumed after child %d", (int)getpid(), (int)pid);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		wl_print("pid %d tick %lu", (int)getpid(), tick);
	}
}
