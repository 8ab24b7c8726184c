// SPDX-License-Identifier: GPL-2.0
/*
 * signals [TICK_MS] [HOLD_TICKS]: signal state a restore must carry over.
 *   SIGUSR1  SA_SIGINFO handler with SIGUSR2 in its sa_mask; queued to
 *            ourselves every tick with sigqueue(value = tick);
 *   SIGUSR2  SA_SIGINFO|SA_ONSTACK handler, runs on a sigaltstack;
 *   SIGRTMIN+1 blocked, with two sigqueue()d values left pending for
 *            HOLD_TICKS ticks, then unblocked: both must arrive, in order,
 *            with their values; then blocked and queued again.
 * Handlers only record; the main loop checks counts and what they saw.
 */
#include <signal.h>
#include <sys/syscall.h>
#include "wl.h"

#define ALT_SIZE	(64 * 1024)

static char altstack[ALT_SIZE] __attribute__((aligned(16)));
static volatile sig_atomic_t usr1_count, usr2_count, rt_count;
static volatile int usr1_value, rt_values[8];
static volatile const char *bad;	/* set by a handler: what it saw wrong */

static int sig_held(void)
{
	return SIGRTMIN + 1;
}

static void on_usr1(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	sigset_t cur;

	(void)sig;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR2))
		bad = "SIGUSR1 handler runs without SIGUSR2 blocked (sa_mask)";
	if (sigismember(&uc->uc_sigmask, SIGUSR2))
		bad = "SIGUSR1 handler: SIGUSR2 blocked in the interrupted context";
	if (si->si_code != SI_QUEUE || si->si_pid != getpid())
		bad = "SIGUSR1: not our sigqueue()";
	usr1_value = si->si_value.sival_int;
	usr1_count++;
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	char here;
	stack_t ss;

	(void)sig, (void)si, (void)uc;
	if (&here < altstack || &here >= altstack + ALT_SIZE)
		bad = "SIGUSR2 handler not on the alternate stack";
	if (sigaltstack(NULL, &ss) || !(ss.ss_flags & SS_ONSTACK))
		bad = "SIGUSR2 handler: sigaltstack does not say SS_ONSTACK";
	usr2_count++;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_QUEUE)
		bad = "SIGRTMIN+1: not from sigqueue()";
	if (rt_count < 8)
		rt_values[rt_count] = si->si_value.sival_int;
	rt_count++;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags,
		   int masked)
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | flags };

	sigemptyset(&sa.sa_mask);
	if (masked)
		sigaddset(&sa.sa_mask, masked);
	wl_check(sigaction(sig, &sa, NULL) == 0, "sigaction");
}

static void queue(int sig, int value)
{
	union sigval v = { .sival_int = value };

	wl_check(sigqueue(getpid(), sig, v) == 0, "sigqueue");
}

static void block_held(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig_held());
	wl_check(sigprocmask(how, &set, NULL) == 0, "sigprocmask");
}

/* blocks the held signal and queues the two values of @cycle */
static void hold(unsigned long cycle)
{
	block_held(SIG_BLOCK);
	queue(sig_held(), 0x1000 + 2 * cycle);
	queue(sig_held(), 0x1000 + 2 * cycle + 1);
}

static void release(unsigned long cycle, unsigned long tick)
{
	int got0, got1;

	rt_count = 0;
	block_held(SIG_UNBLOCK);	/* both are delivered before it returns */
	got0 = rt_values[0];
	got1 = rt_values[1];
	if (rt_count != 2 || got0 != (int)(0x1000 + 2 * cycle) ||
	    got1 != (int)(0x1000 + 2 * cycle + 1))
		wl_fail("tick %lu: held signal: %d deliveries, values %#x %#x, "
			"expected 2: %#lx %#lx", tick, (int)rt_count, got0, got1,
			0x1000 + 2 * cycle, 0x1000 + 2 * cycle + 1);
}

static void check_tick(unsigned long tick)
{
	sigset_t pend;

	if (bad)
		wl_fail("tick %lu: %s", tick, (const char *)bad);
	if ((unsigned long)usr1_count != tick || (unsigned long)usr2_count != tick)
		wl_fail("tick %lu: %d SIGUSR1 and %d SIGUSR2 handled", tick,
			(int)usr1_count, (int)usr2_count);
	if (usr1_value != (int)tick)
		wl_fail("tick %lu: SIGUSR1 carried %d", tick, usr1_value);
	wl_check(sigpending(&pend) == 0, "sigpending");
	if (!sigismember(&pend, sig_held()))
		wl_fail("tick %lu: the held signal is no longer pending", tick);
}

static void setup(void)
{
	stack_t ss = { .ss_sp = altstack, .ss_size = ALT_SIZE };

	wl_check(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	handle(SIGUSR1, on_usr1, 0, SIGUSR2);
	handle(SIGUSR2, on_usr2, SA_ONSTACK, 0);
	handle(sig_held(), on_rt, 0, 0);
	hold(0);
}

int main(int argc, char **argv)
{
	unsigned long tick, hold_ticks;
	unsigned tick_ms;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	hold_ticks = wl_arg(argc, argv, 2, 40);
	setup();
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		queue(SIGUSR1, tick);
		wl_check(syscall(SYS_tgkill, getpid(), getpid(), SIGUSR2) == 0, "tgkill");
		check_tick(tick);
		if (tick % hold_ticks == 0) {
			release(tick / hold_ticks - 1, tick);
			hold(tick / hold_ticks);
		}
		wl_print("tick %lu usr1=%d usr2=%d held=%lu", tick, (int)usr1_count,
			 (int)usr2_count, tick / hold_ticks);
	}
}
