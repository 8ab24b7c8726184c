// SPDX-License-Identifier: GPL-2.0
/*
 * zapper [TICK_MS]: 16 MiB of anonymous memory, 2 MiB aligned, filled
 * with a pattern: its first 8 MiB in small pages, the rest in huge pages
 * where THP gives them.  On SIGUSR1 it empties, with MADV_DONTNEED, one
 * page, then a whole 2 MiB-aligned piece of the small-page half (its page
 * table goes where the kernel reclaims empty ones) and one of the huge
 * half (its huge page goes: no page table is left either), and says
 * "zapped".  Every tick it rewrites a word and checks every page: an
 * emptied page must read zero, every other one its pattern.  A pre-copy
 * round that took an emptied page for its parent's brings the old
 * content back.
 */
#include <signal.h>
#include <sys/mman.h>
#include "wl.h"

#define PAGE	4096ul
#define PMD	(2ul << 20)
#define SIZE	(16ul << 20)
#define WORDS	(PAGE / 8)

static volatile sig_atomic_t zap_asked;

static void on_usr1(int sig)
{
	(void)sig;
	zap_asked = 1;
}

static uint64_t pattern(size_t pg, size_t w, uint64_t gen)
{
	return wl_mix(pg * WORDS + w) ^ gen;
}

struct zapper {
	uint64_t *m;
	uint64_t gen[SIZE / PAGE];	/* per page; 0 on a zapped page: it reads 0 */
	unsigned char zapped[SIZE / PAGE];
};

static void zap(struct zapper *z, size_t first, size_t n)
{
	size_t i;

	if (madvise((char *)z->m + first * PAGE, n * PAGE, MADV_DONTNEED))
		wl_fail("madvise(MADV_DONTNEED): %s", strerror(errno));
	for (i = first; i < first + n; i++)
		z->zapped[i] = 1;
}

static void check(const struct zapper *z, unsigned long tick)
{
	size_t pg, w;

	for (pg = 0; pg < SIZE / PAGE; pg++)
		for (w = 0; w < WORDS; w++) {
			uint64_t want = z->zapped[pg] ? 0 : pattern(pg, w, z->gen[pg]);
			uint64_t got = z->m[pg * WORDS + w];

			if (got != want)
				wl_fail("tick %lu: page %zu%s, word %zu: %016llx, expected %016llx",
					tick, pg, z->zapped[pg] ? " (emptied)" : "", w,
					(unsigned long long)got, (unsigned long long)want);
		}
}

int main(int argc, char **argv)
{
	static struct zapper z;
	unsigned tick_ms;
	unsigned long tick;
	char *raw;
	size_t pg, w;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	raw = mmap(NULL, SIZE + PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	wl_check(raw != MAP_FAILED, "mmap");
	z.m = (uint64_t *)(((uintptr_t)raw + PMD - 1) & ~(PMD - 1));
	madvise(z.m, SIZE / 2, MADV_NOHUGEPAGE);
	madvise((char *)z.m + SIZE / 2, SIZE / 2, MADV_HUGEPAGE);
	for (pg = 0; pg < SIZE / PAGE; pg++) {
		z.gen[pg] = 1;
		for (w = 0; w < WORDS; w++)
			z.m[pg * WORDS + w] = pattern(pg, w, 1);
	}
	signal(SIGUSR1, on_usr1);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (zap_asked == 1) {
			zap(&z, 1, 1);
			zap(&z, PMD / PAGE, PMD / PAGE);
			zap(&z, (SIZE / 2 + PMD) / PAGE, PMD / PAGE);
			zap_asked = 2;
			wl_print("zapped");
		}
		/* one word of a page that is not emptied, its page's gen bumped */
		pg = (tick * 7) % (SIZE / PAGE);
		if (!z.zapped[pg]) {
			z.gen[pg]++;
			for (w = 0; w < WORDS; w++)
				z.m[pg * WORDS + w] = pattern(pg, w, z.gen[pg]);
		}
		check(&z, tick);
		wl_print("tick %lu", tick);
	}
}
