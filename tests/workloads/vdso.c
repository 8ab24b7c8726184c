// SPDX-License-Identifier: GPL-2.0
/*
 * vdso [TICK_MS]: bursts of clock_gettime()/gettimeofday() calls (served
 * by the vDSO) between sleeps.  CLOCK_MONOTONIC, _RAW and _BOOTTIME must
 * never go back, across ticks too (the last values live in memory, so a
 * restore is checked against the time before the snap), and
 * gettimeofday() must agree with CLOCK_REALTIME read just before it.
 */
#include <sys/auxv.h>
#include <sys/time.h>
#include "wl.h"

#define BURST	20000

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
				    CLOCK_BOOTTIME };
#define NCLOCKS	(sizeof(clocks) / sizeof(clocks[0]))

static void check_realtime(unsigned long tick)
{
	long long rt_us, tv_us;
	struct timeval tv;

	rt_us = wl_now_ns(CLOCK_REALTIME) / 1000;
	gettimeofday(&tv, NULL);
	tv_us = tv.tv_sec * 1000000LL + tv.tv_usec;
	if (tv_us < rt_us || tv_us - rt_us > 1000000)
		wl_fail("tick %lu: gettimeofday %lld us, CLOCK_REALTIME %lld us",
			tick, tv_us, rt_us);
}

static unsigned long burst(uint64_t last[NCLOCKS], unsigned long tick)
{
	unsigned long calls = 0;
	unsigned i, c;
	uint64_t now;

	for (i = 0; i < BURST; i++) {
		for (c = 0; c < NCLOCKS; c++, calls++) {
			now = wl_now_ns(clocks[c]);
			if (now < last[c])
				wl_fail("tick %lu: clock %d went back from %llu to %llu",
					tick, (int)clocks[c], (unsigned long long)last[c],
					(unsigned long long)now);
			last[c] = now;
		}
		if (i % 64 == 0) {
			check_realtime(tick);
			calls += 2;
		}
	}
	return calls;
}

int main(int argc, char **argv)
{
	uint64_t last[NCLOCKS] = { 0 };
	unsigned long tick, calls = 0;
	unsigned tick_ms;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	if (!getauxval(AT_SYSINFO_EHDR))
		wl_fail("no vDSO in the auxiliary vector");
	wl_ready();
	for (tick = 1;; tick++) {
		calls += burst(last, tick);
		wl_print("tick %lu calls=%lu mono=%llu", tick, calls,
			 (unsigned long long)last[0]);
		wl_sleep_ms(tick_ms);
	}
}
