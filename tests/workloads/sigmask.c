// SPDX-License-Identifier: GPL-2.0
/*
 * sigmask [TICK_MS] [HOLD_TICKS]: signal masks and standard signals
 * left pending, as a restore must keep them.
 *   main thread  blocks SIGUSR1, SIGHUP, SIGALRM and SIGUSR2, and waits
 *                for each tick's SIGALRM (periodic ITIMER_REAL) in
 *                sigsuspend() with a temporary mask that lets SIGALRM
 *                in: afterwards its mask must be the blocking one again
 *                (a snap sees the temporary mask in the kernel's
 *                `blocked`; the one to restore is saved_sigmask);
 *   pending      SIGUSR1 sent twice to the process (kill) and SIGHUP to
 *                the main thread (tgkill) while blocked: one of each is
 *                pending for HOLD_TICKS ticks, then both are unblocked
 *                and each must be delivered exactly once, as SI_USER /
 *                SI_TKILL from our own pid; then again;
 *   poll thread  blocks SIGUSR2 too and sits in ppoll() with a mask
 *                that lets SIGUSR2 in; the main thread sends it one
 *                every tick.  After each ppoll() its mask must be the
 *                blocking one, and the signals must keep coming.  It
 *                also always has a SIGURG of its own pending, from
 *                tgkill() (SI_TKILL): once per cycle it takes it with
 *                sigtimedwait(), checks where it came from, and sends
 *                itself a new one; the main thread must never see it.
 * "tick N usr1=A hup=B usr2=C" lines.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include "wl.h"

#define STALL_TICKS	20

static volatile sig_atomic_t alrm_count, usr1_count, hup_count, usr2_count;
static volatile int cycle_now;
static volatile const char *bad;
static pid_t poll_tid, main_tid;

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm_count++;
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_USER || si->si_pid != getpid())
		bad = "SIGUSR1 is not the kill() from our pid";
	usr1_count++;
}

static void on_hup(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_TKILL || si->si_pid != getpid())
		bad = "SIGHUP is not the tgkill() from our pid";
	if (gettid_() != main_tid)
		bad = "SIGHUP, sent to the main thread, ran on another";
	hup_count++;
}

static void on_urg(int sig)
{
	(void)sig;
	bad = "SIGURG, always blocked, reached a handler";
}

static void on_usr2(int sig)
{
	(void)sig;
	if (gettid_() != poll_tid)
		bad = "SIGUSR2, sent to the poll thread, ran on another";
	usr2_count++;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), void (*plain)(int))
{
	struct sigaction sa = { 0 };

	if (fn) {
		sa.sa_sigaction = fn;
		sa.sa_flags = SA_SIGINFO;
	} else {
		sa.sa_handler = plain;
	}
	sigemptyset(&sa.sa_mask);
	wl_check(sigaction(sig, &sa, NULL) == 0, "sigaction");
}

static void mask_of(sigset_t *set, const int *sigs)
{
	sigemptyset(set);
	for (; *sigs; sigs++)
		sigaddset(set, *sigs);
}

static void check_mask(const sigset_t *want, const char *where)
{
	sigset_t cur;
	int sig;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (sig = 1; sig < SIGRTMIN; sig++)
		if (sigismember(&cur, sig) != sigismember(want, sig))
			wl_fail("%s: signal %d is %s, it should be %s", where, sig,
				sigismember(&cur, sig) ? "blocked" : "unblocked",
				sigismember(want, sig) ? "blocked" : "unblocked");
}

/* the poll thread's own SIGURG: there, from us, taken, sent again */
static void renew_urg(void)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	/* not glibc's sigtimedwait(): it folds SI_TKILL into SI_USER */
	if (syscall(SYS_rt_sigtimedwait, &set, &si, &zero, 8) != SIGURG)
		wl_fail("poll thread: its SIGURG is not pending: %s", strerror(errno));
	if (si.si_code != SI_TKILL || si.si_pid != getpid())
		wl_fail("poll thread: SIGURG has si_code %d si_pid %d, expected SI_TKILL "
			"from %d", si.si_code, (int)si.si_pid, (int)getpid());
	wl_check(syscall(SYS_tgkill, getpid(), gettid_(), SIGURG) == 0, "tgkill");
}

static void *poller(void *arg)
{
	const int block[] = { SIGUSR1, SIGHUP, SIGALRM, SIGUSR2, SIGURG, 0 };
	const int temp[] = { SIGUSR1, SIGHUP, SIGALRM, SIGURG, 0 };
	struct timespec ts;
	sigset_t normal, tmp;
	int r, cycle = 0;

	(void)arg;
	mask_of(&normal, block);
	mask_of(&tmp, temp);
	pthread_sigmask(SIG_SETMASK, &normal, NULL);
	wl_check(syscall(SYS_tgkill, getpid(), gettid_(), SIGURG) == 0, "tgkill");
	poll_tid = gettid_();
	for (;;) {
		if (cycle != cycle_now) {
			cycle = cycle_now;
			renew_urg();
		}
		ts = (struct timespec){ 0, 50 * 1000 * 1000 };
		r = ppoll(NULL, 0, &ts, &tmp);
		if (r < 0 && errno != EINTR)
			wl_fail("ppoll: %s", strerror(errno));
		if (r > 0)
			wl_fail("ppoll with no fds returned %d", r);
		check_mask(&normal, "poll thread after ppoll()");
	}
	return NULL;
}

static void raise_held(void)
{
	wl_check(kill(getpid(), SIGUSR1) == 0, "kill");
	wl_check(kill(getpid(), SIGUSR1) == 0, "kill");
	wl_check(syscall(SYS_tgkill, getpid(), main_tid, SIGHUP) == 0, "tgkill");
}

static void check_held(unsigned long tick, int cycle)
{
	sigset_t pend, set;

	wl_check(sigpending(&pend) == 0, "sigpending");
	if (sigismember(&pend, SIGURG))
		wl_fail("tick %lu: the poll thread's SIGURG is pending on the main thread",
			tick);
	if (!sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGHUP))
		wl_fail("tick %lu: SIGUSR1 %s, SIGHUP %s, both should be", tick,
			sigismember(&pend, SIGUSR1) ? "pending" : "not pending",
			sigismember(&pend, SIGHUP) ? "pending" : "not pending");
	if (usr1_count != cycle || hup_count != cycle)
		wl_fail("tick %lu: %d SIGUSR1 and %d SIGHUP handled, expected %d each",
			tick, (int)usr1_count, (int)hup_count, cycle);
	(void)set;
}

/* unblocks the held pair: each must come exactly once, before return */
static void release(unsigned long tick, int cycle)
{
	const int held[] = { SIGUSR1, SIGHUP, 0 };
	sigset_t set;

	mask_of(&set, held);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (usr1_count != cycle + 1 || hup_count != cycle + 1)
		wl_fail("tick %lu: released: %d SIGUSR1 and %d SIGHUP handled, "
			"expected %d each", tick, (int)usr1_count, (int)hup_count, cycle + 1);
}

int main(int argc, char **argv)
{
	const int block[] = { SIGUSR1, SIGHUP, SIGALRM, SIGUSR2, 0 };
	const int temp[] = { SIGUSR1, SIGHUP, SIGUSR2, 0 };
	struct itimerval itv = { { 0, 0 }, { 0, 0 } };
	unsigned long tick, hold_ticks;
	unsigned tick_ms;
	sigset_t normal, tmp;
	sig_atomic_t seen_alrm = 0, usr2_last = 0;
	unsigned long usr2_tick = 0;
	pthread_t th;
	int cycle = 0;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	hold_ticks = wl_arg(argc, argv, 2, 10);
	main_tid = gettid_();
	mask_of(&normal, block);
	mask_of(&tmp, temp);
	pthread_sigmask(SIG_SETMASK, &normal, NULL);
	handle(SIGALRM, NULL, on_alrm);
	handle(SIGUSR2, NULL, on_usr2);
	handle(SIGUSR1, on_usr1, NULL);
	handle(SIGHUP, on_hup, NULL);
	handle(SIGURG, NULL, on_urg);
	wl_check(pthread_create(&th, NULL, poller, NULL) == 0, "pthread_create");
	while (!poll_tid)
		wl_sleep_ms(1);
	raise_held();
	itv.it_value.tv_usec = itv.it_interval.tv_usec = tick_ms * 1000 % 1000000;
	itv.it_value.tv_sec = itv.it_interval.tv_sec = tick_ms / 1000;
	wl_check(setitimer(ITIMER_REAL, &itv, NULL) == 0, "setitimer");
	wl_ready();
	for (tick = 1;; tick++) {
		while (alrm_count == seen_alrm)
			sigsuspend(&tmp);
		seen_alrm = alrm_count;
		check_mask(&normal, "main thread after sigsuspend()");
		if (bad)
			wl_fail("tick %lu: %s", tick, (const char *)bad);
		check_held(tick, cycle);
		if (tick % hold_ticks == 0) {
			release(tick, cycle);
			cycle++;
			cycle_now = cycle;
			raise_held();
		}
		wl_check(syscall(SYS_tgkill, getpid(), poll_tid, SIGUSR2) == 0, "tgkill");
		if (usr2_count != usr2_last) {
			usr2_last = usr2_count;
			usr2_tick = tick;
		} else if (tick - usr2_tick > STALL_TICKS) {
			wl_fail("tick %lu: no SIGUSR2 reached the poll thread for %d ticks",
				tick, STALL_TICKS);
		}
		wl_print("tick %lu usr1=%d hup=%d usr2=%d", tick, (int)usr1_count,
			 (int)hup_count, (int)usr2_count);
	}
}
