// SPDX-License-Identifier: GPL-2.0
/*
 * timers [TICK_MS]: interval timers a restore must re-arm.
 *   ITIMER_REAL  setitimer, periodic ALRM_MS, SIGALRM counted;
 *   POSIX timer  timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+2,
 *                sigev_value POSIX_VALUE), periodic POSIX_MS, expirations
 *                counted with their overruns.
 * Each tick checks the handlers saw what they should, that getitimer()
 * and timer_gettime() still show armed periodic timers with the
 * intervals set, and that both kept firing: at most STALL_TICKS ticks
 * without an expiration (progress in ticks, not wall-clock deadlines).
 */
#include <signal.h>
#include <sys/time.h>
#include "wl.h"

#define ALRM_MS		50
#define POSIX_MS	30
#define POSIX_VALUE	0x7117
#define STALL_TICKS	10

static volatile sig_atomic_t alrm_count, posix_count, posix_overruns;
static volatile const char *bad;

static void on_alrm(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_KERNEL)
		bad = "SIGALRM not from the kernel's itimer";
	alrm_count++;
}

static void on_posix(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (si->si_code != SI_TIMER)
		bad = "timer signal without SI_TIMER";
	else if (si->si_value.sival_int != POSIX_VALUE)
		bad = "timer signal with the wrong sigev_value";
	posix_count++;
	posix_overruns += si->si_overrun;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	wl_check(sigaction(sig, &sa, NULL) == 0, "sigaction");
}

static struct timespec ms_ts(unsigned ms)
{
	return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

static timer_t setup(void)
{
	struct itimerval it = {
		.it_interval = { 0, ALRM_MS * 1000 },
		.it_value = { 0, ALRM_MS * 1000 },
	};
	struct sigevent sev = {
		.sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = SIGRTMIN + 2,
		.sigev_value.sival_int = POSIX_VALUE,
	};
	struct itimerspec its = { ms_ts(POSIX_MS), ms_ts(POSIX_MS) };
	timer_t t;

	handle(SIGALRM, on_alrm);
	handle(SIGRTMIN + 2, on_posix);
	wl_check(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0, "timer_create");
	wl_check(timer_settime(t, 0, &its, NULL) == 0, "timer_settime");
	wl_check(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
	return t;
}

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* armed, periodic with our interval, next expiry within one interval */
static void check_settings(timer_t t, unsigned long tick)
{
	struct itimerspec its;
	struct itimerval it;
	long long val, ival;

	wl_check(getitimer(ITIMER_REAL, &it) == 0, "getitimer");
	val = it.it_value.tv_sec * 1000000LL + it.it_value.tv_usec;
	ival = it.it_interval.tv_sec * 1000000LL + it.it_interval.tv_usec;
	if (ival != ALRM_MS * 1000 || val < 0 || val > ival)
		wl_fail("tick %lu: getitimer: value %lld us interval %lld us, "
			"expected interval %d us", tick, val, ival, ALRM_MS * 1000);
	wl_check(timer_gettime(t, &its) == 0, "timer_gettime");
	val = ts_ns(&its.it_value);
	ival = ts_ns(&its.it_interval);
	if (ival != POSIX_MS * 1000000LL || val < 0 || val > ival)
		wl_fail("tick %lu: timer_gettime: value %lld ns interval %lld ns, "
			"expected interval %d ms", tick, val, ival, POSIX_MS);
	if (timer_getoverrun(t) < 0)
		wl_fail("tick %lu: timer_getoverrun: %s", tick, strerror(errno));
}

int main(int argc, char **argv)
{
	unsigned long tick, alrm_stall = 0, posix_stall = 0;
	int last_alrm = 0, last_posix = 0;
	unsigned tick_ms;
	timer_t t;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 200);
	t = setup();
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (bad)
			wl_fail("tick %lu: %s", tick, (const char *)bad);
		alrm_stall = alrm_count == last_alrm ? alrm_stall + 1 : 0;
		posix_stall = posix_count == last_posix ? posix_stall + 1 : 0;
		if (alrm_stall > STALL_TICKS || posix_stall > STALL_TICKS)
			wl_fail("tick %lu: no expiration for %lu ticks (itimer) and "
				"%lu ticks (POSIX timer)", tick, alrm_stall, posix_stall);
		last_alrm = alrm_count;
		last_posix = posix_count;
		check_settings(t, tick);
		wl_print("tick %lu alrm=%d posix=%d overruns=%d", tick, last_alrm,
			 last_posix, (int)posix_overruns);
	}
}
