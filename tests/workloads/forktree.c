// SPDX-License-Identifier: GPL-2.0
/*
 * forktree [TICK_MS]: root -> child A -> grandchild C, root -> child B.
 * Every process prints "pid P tick N" lines on the shared stdout.
 * Children tick with nanosleep and fail if their parent changes.  The
 * root sits in waitpid() for its children; a periodic SIGALRM (handler
 * without SA_RESTART) interrupts it once per tick, so the root is found
 * blocked in waitpid() by a snap, and any child's exit shows up there.
 */
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "wl.h"

static void on_alarm(int sig)
{
	(void)sig;
}

static void __attribute__((noreturn)) child_loop(pid_t parent, unsigned tick_ms)
{
	unsigned long tick;
	pid_t now;

	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		now = getppid();
		if (now != parent)
			wl_fail("pid %d: parent changed from %d to %d", (int)getpid(),
				(int)parent, (int)now);
		wl_print("pid %d tick %lu", (int)getpid(), tick);
	}
}

static pid_t spawn(unsigned tick_ms, int grandchild)
{
	pid_t parent = getpid(), pid = fork();

	wl_check(pid >= 0, "fork");
	if (pid)
		return pid;
	if (grandchild)
		spawn(tick_ms, 0);
	child_loop(parent, tick_ms);
}

static void start_alarm(unsigned tick_ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = {
		.it_interval = { tick_ms / 1000, (tick_ms % 1000) * 1000 },
		.it_value = { tick_ms / 1000, (tick_ms % 1000) * 1000 },
	};

	sigemptyset(&sa.sa_mask);
	wl_check(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
	wl_check(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
}

int main(int argc, char **argv)
{
	unsigned tick_ms;
	unsigned long tick = 0;
	pid_t a, b, got;
	int st;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 200);
	a = spawn(tick_ms, 1);
	b = spawn(tick_ms, 0);
	wl_print("ready pid=%d a=%d b=%d", (int)getpid(), (int)a, (int)b);
	start_alarm(tick_ms);
	for (;;) {
		got = waitpid(-1, &st, 0);
		if (got >= 0)
			wl_fail("root: child %d ended (status %#x)", (int)got, st);
		if (errno != EINTR)
			wl_fail("root: waitpid: %s", strerror(errno));
		/* woken by the alarm: both children must still be there */
		if (kill(a, 0) || kill(b, 0))
			wl_fail("root: child %d or %d is gone", (int)a, (int)b);
		wl_print("pid %d tick %lu", (int)getpid(), ++tick);
	}
}
