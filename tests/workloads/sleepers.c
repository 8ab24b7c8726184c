// SPDX-License-Identifier: GPL-2.0
/*
 * sleepers [TICK_MS]: threads that spend their lives blocked in
 * different system calls, each with its own restart rule, so that a
 * snap finds them inside:
 *   absolute   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to the next
 *              20 ms deadline: returns 0, never before the deadline;
 *   poll       poll(NULL, 0, 20): returns 0;
 *   select     select(0, ..., 20 ms): returns 0;
 *   futex      FUTEX_WAIT (no timeout) on a word the main thread bumps
 *              and wakes every tick: must see every change;
 *   pause      pause(), woken by a SIGUSR1 from the main thread every
 *              tick: returns -1 EINTR after the handler ran.
 * None has a reason to see EINTR but pause.  The main thread ticks with
 * nanosleep and checks each thread moved on within STALL_TICKS ticks.
 * "tick N abs=A poll=B select=C futex=D pause=E" lines.
 */
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include "wl.h"

#define STALL_TICKS	20
#define NR		5

static volatile unsigned long count[NR];
static volatile uint32_t word;
static volatile sig_atomic_t usr1_count;
static pid_t pause_tid;
static const char *const names[NR] = { "abs", "poll", "select", "futex", "pause" };

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static void *absolute(void *arg)
{
	struct timespec next, now;
	int r;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += 20 * 1000 * 1000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if (r)
			wl_fail("clock_nanosleep(TIMER_ABSTIME): %s", strerror(r));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec < next.tv_nsec))
			wl_fail("clock_nanosleep(TIMER_ABSTIME) returned before its deadline");
		/* after a long stop, skip the missed deadlines */
		if (now.tv_sec > next.tv_sec + 1)
			next = now;
		count[0]++;
	}
	return NULL;
}

static void *poller(void *arg)
{
	int r;

	(void)arg;
	for (;;) {
		r = poll(NULL, 0, 20);
		if (r != 0)
			wl_fail("poll(NULL, 0, 20) returned %d: %s", r, strerror(errno));
		count[1]++;
	}
	return NULL;
}

static void *selecter(void *arg)
{
	struct timeval tv;
	int r;

	(void)arg;
	for (;;) {
		tv = (struct timeval){ 0, 20000 };
		r = select(0, NULL, NULL, NULL, &tv);
		if (r != 0)
			wl_fail("select(0, ..., 20 ms) returned %d: %s", r, strerror(errno));
		count[2]++;
	}
	return NULL;
}

static void *waiter(void *arg)
{
	uint32_t seen = word;
	long r;

	(void)arg;
	for (;;) {
		r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		if (r && errno != EAGAIN)
			wl_fail("FUTEX_WAIT: %s", strerror(errno));
		if (word != seen) {
			if (word != seen + 1)
				wl_fail("futex word went from %u to %u: a change was missed",
					seen, word);
			seen = word;
			count[3]++;
		}
	}
	return NULL;
}

static void *pauser(void *arg)
{
	sigset_t set;
	int before;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pause_tid = syscall(SYS_gettid);
	for (;;) {
		before = usr1_count;
		if (pause() != -1 || errno != EINTR)
			wl_fail("pause() returned without EINTR: %s", strerror(errno));
		if (usr1_count == before)
			wl_fail("pause() returned, but no handler ran");
		count[4]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	void *(*fns[NR])(void *) = { absolute, poller, selecter, waiter, pauser };
	unsigned long tick, last[NR] = { 0 }, moved[NR] = { 0 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned tick_ms;
	sigset_t set;
	pthread_t th;
	int i;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	sigemptyset(&sa.sa_mask);
	wl_check(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	/* only the pause thread takes SIGUSR1 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < NR; i++)
		wl_check(pthread_create(&th, NULL, fns[i], NULL) == 0, "pthread_create");
	while (!pause_tid)
		wl_sleep_ms(1);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		__atomic_fetch_add(&word, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		wl_check(syscall(SYS_tgkill, getpid(), pause_tid, SIGUSR1) == 0, "tgkill");
		for (i = 0; i < NR; i++) {
			if (count[i] != last[i]) {
				last[i] = count[i];
				moved[i] = tick;
			} else if (tick - moved[i] > STALL_TICKS) {
				wl_fail("tick %lu: the %s thread has not moved on for %d ticks",
					tick, names[i], STALL_TICKS);
			}
		}
		wl_print("tick %lu abs=%lu poll=%lu select=%lu futex=%lu pause=%lu", tick,
			 count[0], count[1], count[2], count[3], count[4]);
	}
}
