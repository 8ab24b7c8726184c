// SPDX-License-Identifier: GPL-2.0
/*
 * heap MB [TICK_MS] [EDITS]: a heap of MB MiB filled with a deterministic
 * pattern.  Each tick rewrites EDITS words (4) on counter-chosen pages and
 * keeps, per page and in total, the expected position-weighted sum:
 * a lost, stale, zeroed or misplaced page changes it.  Every tick checks
 * the pages it touched plus a sliding window; every K ticks the whole
 * heap, K chosen at start so that this costs under 10% of one CPU.
 */
#include <sys/mman.h>
#include "wl.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE		4096u
#define WORDS		(PAGE / 8)
#define EDITS_MAX	4096	/* words rewritten per tick, at most */
#define WINDOW		32	/* pages checked per tick besides those */

struct heap {
	uint64_t *w;
	size_t pages;
	uint64_t *page_sum;	/* expected sum of each page */
	uint64_t total;		/* expected sum of the whole heap */
	unsigned tick_ms;
	unsigned edits;		/* words rewritten per tick */
	unsigned full_every;	/* K */
	size_t window;		/* next page of the sliding window */
};

static inline uint64_t weight(size_t word)
{
	return 2 * (uint64_t)word + 1;
}

static uint64_t initial(size_t word)
{
	return (word ^ 0x5a5a5a5a5a5a5a5aULL) * 0x9e3779b97f4a7c15ULL;
}

static uint64_t sum_page(const struct heap *h, size_t pg)
{
	const uint64_t *p = h->w + pg * WORDS;
	uint64_t s = 0, base = pg * WORDS;
	size_t i;

	for (i = 0; i < WORDS; i++)
		s += p[i] * weight(base + i);
	return s;
}

static void fill(struct heap *h)
{
	size_t pg, i, base;
	uint64_t s;

	h->total = 0;
	for (pg = 0; pg < h->pages; pg++) {
		base = pg * WORDS;
		s = 0;
		for (i = 0; i < WORDS; i++) {
			h->w[base + i] = initial(base + i);
			s += h->w[base + i] * weight(base + i);
		}
		h->page_sum[pg] = s;
		h->total += s;
	}
}

static void check_page(const struct heap *h, size_t pg, unsigned long tick)
{
	uint64_t s = sum_page(h, pg);

	if (s != h->page_sum[pg])
		wl_fail("tick %lu: page %zu at %p: sum %016llx, expected %016llx",
			tick, pg, (void *)(h->w + pg * WORDS), (unsigned long long)s,
			(unsigned long long)h->page_sum[pg]);
}

static void check_all(const struct heap *h, unsigned long tick)
{
	uint64_t total = 0;
	size_t pg;

	for (pg = 0; pg < h->pages; pg++)
		total += sum_page(h, pg);
	if (total == h->total)
		return;
	for (pg = 0; pg < h->pages; pg++)
		check_page(h, pg, tick);
	wl_fail("tick %lu: heap sum %016llx, expected %016llx", tick,
		(unsigned long long)total, (unsigned long long)h->total);
}

/* rewrites h->edits words chosen by the tick number; returns their pages */
static void edit(struct heap *h, unsigned long tick, size_t *pages)
{
	unsigned j;

	for (j = 0; j < h->edits; j++) {
		uint64_t r = wl_mix(tick * h->edits + j);
		size_t pg = r % h->pages, word = pg * WORDS + (r >> 40) % WORDS;
		uint64_t old = h->w[word], val = wl_mix(r ^ tick);
		uint64_t delta = (val - old) * weight(word);

		h->w[word] = val;
		h->page_sum[pg] += delta;
		h->total += delta;
		pages[j] = pg;
	}
}

static void tick_once(struct heap *h, unsigned long tick)
{
	size_t pages[EDITS_MAX], i;

	edit(h, tick, pages);
	for (i = 0; i < h->edits; i++)
		check_page(h, pages[i], tick);
	for (i = 0; i < WINDOW && i < h->pages; i++) {
		check_page(h, h->window, tick);
		h->window = (h->window + 1) % h->pages;
	}
	if (tick % h->full_every == 0)
		check_all(h, tick);
	wl_print("tick %lu sum=%016llx", tick, (unsigned long long)h->total);
}

/* K such that a full check every K ticks stays under 10% of the time */
static unsigned calibrate(const struct heap *h)
{
	uint64_t t0 = wl_now_ns(CLOCK_MONOTONIC), ns;
	uint64_t k;

	check_all(h, 0);
	ns = wl_now_ns(CLOCK_MONOTONIC) - t0;
	k = ns * 10 / ((uint64_t)h->tick_ms * 1000000) + 1;
	return k > 100000 ? 100000 : k;
}

int main(int argc, char **argv)
{
	struct heap h = { 0 };
	size_t bytes, off;
	unsigned long tick;

	if (argc < 2) {
		fprintf(stderr, "usage: heap MB [TICK_MS] [EDITS]\n");
		return 2;
	}
	wl_setsid();
	bytes = (size_t)wl_arg(argc, argv, 1, 64) << 20;
	h.tick_ms = wl_arg(argc, argv, 2, 100);
	h.edits = wl_arg(argc, argv, 3, 4);
	if (h.edits < 1 || h.edits > EDITS_MAX)
		wl_fail("EDITS: 1 to %d", EDITS_MAX);
	h.pages = bytes / PAGE;
	/* page-aligned inside the allocation, so pages are whole */
	h.w = malloc(bytes + PAGE);
	h.page_sum = calloc(h.pages, sizeof(*h.page_sum));
	wl_check(h.w && h.page_sum, "malloc");
	off = (PAGE - (uintptr_t)h.w % PAGE) % PAGE;
	h.w = (uint64_t *)((char *)h.w + off);
	/* one call instead of a fault per page: much faster for 1 GiB */
	madvise(h.w, bytes, MADV_POPULATE_WRITE);
	fill(&h);
	h.full_every = calibrate(&h);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(h.tick_ms);
		tick_once(&h, tick);
	}
}
