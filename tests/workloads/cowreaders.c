// SPDX-License-Identifier: GPL-2.0
/*
 * cowreaders [MB] [READERS] [TICK_MS]: a parent fills MB MiB of private
 * anonymous memory with a known pattern and forks READERS children that
 * only read it, so that all of them share those pages copy-on-write
 * (a preforked server's shape).  Every process checks a different MiB of
 * the region each tick (the whole region every MB ticks, without
 * writing) and prints "pid P tick N".
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include "wl.h"

static uint64_t word_of(size_t i)
{
	return wl_mix(0xc0ffeeULL << 32 ^ i);
}

static void __attribute__((noreturn)) loop(const uint64_t *w, size_t words,
					   unsigned tick_ms, pid_t parent)
{
	const size_t slice = (1u << 20) / 8;
	unsigned long tick;
	size_t i, from;

	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (parent && getppid() != parent)
			wl_fail("pid %d: parent changed from %d to %d", (int)getpid(),
				(int)parent, (int)getppid());
		from = (tick * slice) % words;
		for (i = from; i < from + slice && i < words; i++)
			if (w[i] != word_of(i))
				wl_fail("pid %d tick %lu: word %zu at %p is %016llx, "
					"wants %016llx", (int)getpid(), tick, i,
					(void *)&w[i], (unsigned long long)w[i],
					(unsigned long long)word_of(i));
		wl_print("pid %d tick %lu", (int)getpid(), tick);
	}
}

int main(int argc, char **argv)
{
	size_t bytes = (size_t)wl_arg(argc, argv, 1, 256) << 20, words = bytes / 8, i;
	long readers = wl_arg(argc, argv, 2, 4), r;
	unsigned tick_ms = wl_arg(argc, argv, 3, 100);
	pid_t parent, pid;
	uint64_t *w;

	wl_setsid();
	w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	wl_check(w != MAP_FAILED, "mmap");
	for (i = 0; i < words; i++)
		w[i] = word_of(i);
	parent = getpid();
	for (r = 0; r < readers; r++) {
		pid = fork();
		wl_check(pid >= 0, "fork");
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			loop(w, words, tick_ms, parent);
		}
	}
	wl_ready();
	loop(w, words, tick_ms, 0);
}
