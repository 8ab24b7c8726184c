// SPDX-License-Identifier: GPL-2.0
/*
 * advice [TICK_MS]: one anonymous mapping per kind of advice and mapping
 * flag that /proc/PID/smaps shows in VmFlags (MADV_DONTFORK, DONTDUMP,
 * WIPEONFORK, SEQUENTIAL, RANDOM, HUGEPAGE, NOHUGEPAGE, MERGEABLE where
 * the kernel has KSM, MAP_LOCKED, mlock2(MLOCK_ONFAULT), MAP_NORESERVE,
 * MAP_GROWSDOWN), each with a page of known content, and a guard region
 * (MADV_GUARD_INSTALL) in the middle of a mapping.  Every tick it checks
 * the content and that the guard page still traps; the test compares
 * the VmFlags from outside (procstate.py deepdiff), and checks each one
 * below is there.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "wl.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT		0x01
#endif

#define PG 4096

struct region {
	const char *what;
	int advice;		/* -1: none */
	int flags;		/* extra MAP_* */
	char *p;
};

static struct region regions[] = {
	{ "dontfork", MADV_DONTFORK, 0, NULL },
	{ "dontdump", MADV_DONTDUMP, 0, NULL },
	{ "wipeonfork", MADV_WIPEONFORK, 0, NULL },
	{ "sequential", MADV_SEQUENTIAL, 0, NULL },
	{ "random", MADV_RANDOM, 0, NULL },
	{ "hugepage", MADV_HUGEPAGE, 0, NULL },
	{ "nohugepage", MADV_NOHUGEPAGE, 0, NULL },
	{ "mergeable", MADV_MERGEABLE, 0, NULL },
	{ "locked", -1, MAP_LOCKED, NULL },
	{ "lockonfault", -2, 0, NULL },
	{ "noreserve", -1, MAP_NORESERVE, NULL },
	{ "growsdown", -1, MAP_GROWSDOWN, NULL },
};

static char *guarded;
static sigjmp_buf trap;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(trap, 1);
}

static uint64_t pattern(unsigned i)
{
	return wl_mix(0xad71ce + i);
}

static void check(unsigned long tick)
{
	unsigned i;

	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct region *r = &regions[i];

		if (!r->p)
			continue;
		if (*(uint64_t *)r->p != pattern(i))
			wl_fail("tick %lu: %s: content changed", tick, r->what);
	}
	if (*(uint64_t *)guarded != pattern(100) ||
	    *(uint64_t *)(guarded + 2 * PG) != pattern(102))
		wl_fail("tick %lu: the pages around the guard changed", tick);
	if (!sigsetjmp(trap, 1)) {
		*(volatile char *)(guarded + PG);
		wl_fail("tick %lu: the guard page no longer traps", tick);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	unsigned tick_ms = wl_arg(argc, argv, 1, 100);
	unsigned long tick;
	unsigned i;
	int ksm = access("/sys/kernel/mm/ksm", F_OK) == 0;

	wl_setsid();
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct region *r = &regions[i];
		/* a gap page between them, so that none merges with another */
		char *p = mmap(NULL, 3 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		wl_check(p != MAP_FAILED, "mmap gap");
		if (r->advice == MADV_MERGEABLE && !ksm)
			continue;
		r->p = mmap(p + PG, PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | r->flags, -1, 0);
		wl_check(r->p != MAP_FAILED, r->what);
		if (r->advice >= 0)
			wl_check(madvise(r->p, PG, r->advice) == 0, r->what);
		if (r->advice == -2)
			wl_check(syscall(SYS_mlock2, r->p, PG, MLOCK_ONFAULT) == 0, r->what);
		*(uint64_t *)r->p = pattern(i);
	}
	guarded = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	wl_check(guarded != MAP_FAILED, "mmap guarded");
	*(uint64_t *)guarded = pattern(100);
	*(uint64_t *)(guarded + 2 * PG) = pattern(102);
	wl_check(madvise(guarded + PG, PG, MADV_GUARD_INSTALL) == 0, "MADV_GUARD_INSTALL");
	wl_check(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction");
	wl_ready();
	for (tick = 1;; tick++) {
		check(tick);
		wl_print("tick %lu", tick);
		wl_sleep_ms(tick_ms);
	}
}
