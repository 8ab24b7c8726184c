// SPDX-License-Identifier: GPL-2.0
/*
 * zombie DIR [TICK_MS]: children in states a restore must recreate.
 *   Z  exits with status 7 at once and is not waited for (a zombie);
 *   S  is stopped with SIGSTOP by the root (job-control stop).
 * The root ticks, checking through /proc that Z is still a zombie and S
 * still stopped, without consuming either report.  Once DIR/reap exists
 * it waits for both: Z must report exited(7), S stopped(SIGSTOP); then it
 * kills and reaps S and keeps ticking.
 */
#include <signal.h>
#include <sys/wait.h>
#include "wl.h"

/* the state letter of /proc/PID/stat, 0 if gone */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' ? p[2] : 0;
}

/* S sleeps: it never runs again once stopped, until killed */
static void __attribute__((noreturn)) sleeper(void)
{
	for (;;)
		wl_sleep_ms(1000);
}

static void wait_state(pid_t pid, const char *states, const char *what)
{
	int i;

	for (i = 0; i < 10000; i++) {
		char s = proc_state(pid);

		if (s && strchr(states, s))
			return;
		wl_sleep_ms(1);
	}
	wl_fail("%s %d did not reach state %s", what, (int)pid, states);
}

static void reap(pid_t z, pid_t s, unsigned long tick)
{
	int st;

	if (waitpid(z, &st, 0) != z || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		wl_fail("tick %lu: zombie %d: wait status %#x, expected exited(7)",
			tick, (int)z, st);
	if (waitpid(s, &st, WUNTRACED) != s || !WIFSTOPPED(st) ||
	    WSTOPSIG(st) != SIGSTOP)
		wl_fail("tick %lu: stopped child %d: wait status %#x, expected "
			"stopped(SIGSTOP)", tick, (int)s, st);
	kill(s, SIGKILL);
	if (waitpid(s, &st, 0) != s || !WIFSIGNALED(st))
		wl_fail("tick %lu: stopped child %d did not die of SIGKILL", tick, (int)s);
	wl_print("reaped z=exited(7) s=stopped(SIGSTOP)");
}

int main(int argc, char **argv)
{
	char reap_path[4096];
	unsigned long tick;
	int reaped = 0;
	unsigned tick_ms;
	pid_t z, s;

	if (argc < 2) {
		fprintf(stderr, "usage: zombie DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	tick_ms = wl_arg(argc, argv, 2, 100);
	snprintf(reap_path, sizeof(reap_path), "%s/reap", argv[1]);
	z = fork();
	wl_check(z >= 0, "fork");
	if (z == 0)
		_exit(7);
	s = fork();
	wl_check(s >= 0, "fork");
	if (s == 0)
		sleeper();
	wl_check(kill(s, SIGSTOP) == 0, "kill SIGSTOP");
	wait_state(z, "Z", "child");
	wait_state(s, "T", "child");
	wl_print("ready pid=%d zombie=%d stopped=%d", (int)getpid(), (int)z, (int)s);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (!reaped) {
			if (proc_state(z) != 'Z')
				wl_fail("tick %lu: child %d is no longer a zombie", tick,
					(int)z);
			/* 't' while a snap holds it */
			if (!strchr("Tt", proc_state(s)) || !proc_state(s))
				wl_fail("tick %lu: child %d is no longer stopped", tick,
					(int)s);
			if (!access(reap_path, F_OK)) {
				reap(z, s, tick);
				reaped = 1;
			}
		}
		wl_print("tick %lu reaped=%d", tick, reaped);
	}
}
