/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs the BPF iterators of bpf/{task,mm,files}.bpf.c and hands each
 * ring-buffer record to a callback.  Used by snap and inspect.
 */
#ifndef BPFCKPT_COLLECT_H
#define BPFCKPT_COLLECT_H

#include <stddef.h>
#include <sys/types.h>
#include "bpfckpt/common.h"

struct task_bpf;
struct mm_bpf;
struct files_bpf;

struct collector {
	struct task_bpf *task;
	struct mm_bpf *mm;
	struct files_bpf *files;
};

enum collect_kind { COLLECT_TASKS, COLLECT_VMAS, COLLECT_FILES };

/* returns 0 to go on, -errno to abort the iteration */
typedef int (*collect_cb)(void *ctx, const struct rec_hdr *rec, size_t size);

/* loads the three skeletons; prints what failed */
int collect_open(struct collector *c);
/* the same, silent: for probing */
int collect_open_quiet(struct collector *c);
void collect_close(struct collector *c);
/* one rec_pid per task visible to us */
int collect_all_tasks(struct collector *c, collect_cb cb, void *ctx);
/* the records of one process (threads, VMAs or fds) */
int collect_proc(struct collector *c, enum collect_kind kind, pid_t tgid,
		 collect_cb cb, void *ctx);

#endif
