// SPDX-License-Identifier: GPL-2.0
/* The progress line of snap and restore (progress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "progress.h"
#include "util.h"

void progress_init(struct progress *p, const char *what, uint64_t page_size,
		   uint64_t start_ns, bool quiet)
{
	const char *e = getenv("BPFCKPT_PROGRESS_AFTER_MS");
	uint64_t after = PROGRESS_AFTER_MS;
	char *end;

	if (e && *e) {
		unsigned long long v = strtoull(e, &end, 10);

		if (!*end)
			after = v;
	}
	*p = (struct progress){
		.what = what,
		.on = !quiet && isatty(STDERR_FILENO),
		.page_size = page_size,
		.start_ns = start_ns,
		.after_ns = after * 1000000ULL,
	};
}

void progress_total(struct progress *p, uint64_t pages)
{
	p->total += pages;
}

static void draw(struct progress *p, uint64_t now)
{
	double mib = 1048576.0 / p->page_size, secs = (now - p->copy_ns) / 1e9;
	double rate = secs > 0 ? (p->done - p->copy_from) / mib / secs : 0;
	uint64_t total = p->total > p->done ? p->total : p->done;
	char eta[32] = "?";

	if (rate > 0)
		snprintf(eta, sizeof(eta), "%.1f s", (total - p->done) / mib / rate);
	/* \r and erase-line: the same line, redrawn */
	fprintf(stderr, "\r\033[K%s: %llu/%llu pages (%.0f%%), %.1f MiB/s, ETA %s",
		p->what, (unsigned long long)p->done, (unsigned long long)total,
		total ? 100.0 * p->done / total : 100.0, rate, eta);
	fflush(stderr);
	p->drawn = true;
}

void progress_update(struct progress *p, uint64_t done)
{
	uint64_t now;

	if (!p->on)
		return;
	now = now_ns();
	if (!p->copy_ns) {
		p->copy_ns = now;
		p->copy_from = done;
	}
	p->done = done;
	if (now - p->start_ns < p->after_ns || now < p->next_ns)
		return;
	p->next_ns = now + PROGRESS_EVERY_MS * 1000000ULL;
	draw(p, now);
}

void progress_end(struct progress *p)
{
	if (!p->drawn)
		return;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->drawn = false;
}
