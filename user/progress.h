/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One status line on stderr for a long snap or restore: pages done/total,
 * MiB/s, ETA, redrawn in place.  Only when stderr is a terminal, not with
 * --quiet, and only once the work has run PROGRESS_AFTER_MS (1 s;
 * BPFCKPT_PROGRESS_AFTER_MS changes it, for the tests).
 */
#ifndef BPFCKPT_PROGRESS_H
#define BPFCKPT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_AFTER_MS	1000
#define PROGRESS_EVERY_MS	200	/* between redraws */

struct progress {
	const char *what;	/* "snap", "restore" */
	bool on;
	bool drawn;		/* a line is on the terminal */
	uint64_t page_size;
	uint64_t total;		/* pages, as far as known */
	uint64_t done;
	uint64_t start_ns;	/* when the command started */
	uint64_t copy_ns;	/* when the first page was counted */
	uint64_t copy_from;	/* pages done then: the rate counts from there */
	uint64_t after_ns;
	uint64_t next_ns;
};

/* @start_ns: the command's start; off unless stderr is a tty and !quiet */
void progress_init(struct progress *p, const char *what, uint64_t page_size,
		   uint64_t start_ns, bool quiet);
void progress_total(struct progress *p, uint64_t pages);	/* more to do */
/* @done pages so far; redraws when due */
void progress_update(struct progress *p, uint64_t done);
/* the line goes away: before any other output */
void progress_end(struct progress *p);

#endif
