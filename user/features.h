/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel features, probed once (write-once global, shown by check). */
#ifndef BPFCKPT_FEATURES_H
#define BPFCKPT_FEATURES_H

#include <stdbool.h>

struct features {
	bool probed;
	bool btf;
	bool bpf_iter;
	bool ringbuf;
	bool pagemap_scan;
	bool map_files;
	bool set_tid;
	bool ns_last_pid;
	bool ipc_next_id;
	bool uffd;
	bool uffd_wp_async;
	bool uffd_lazy;		/* the events restore --lazy needs */
	bool timer_ids;
	int pagemap_guard;	/* 0: not probed, 1: yes, -1: no */
	int wp_holes;		/* features_wp_holes(): 0 not probed, 1 yes, -1 no */
	int netlock;		/* netlock.c: 0 not probed, 1 usable, -1 not */
	char netlock_why[224];
};

extern struct features features;
void features_probe(void);
/* PAGEMAP_SCAN knows PAGE_IS_GUARD (probed once, on first use) */
bool features_pagemap_guard(void);
/*
 * PAGEMAP_SCAN reports every page emptied in a WP_ASYNC VMA as written:
 * a zapped PTE, and a whole range whose page table or huge page went
 * (probed once, on first use; BPFCKPT_FALLBACK=wp_holes says no)
 */
bool features_wp_holes(void);
/* PR_TIMER_CREATE_RESTORE_IDS: POSIX timers get their ids back */
bool probe_timer_ids(void);

#endif
