/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs the BPF iterators of bpf/{task,mm,files}.bpf.c and hands each
 * ring-buffer record to a callback.  Used by snap, inspect and check.
 *
 * Every program is loaded on its own terms (bpfload.h): a program the
 * verifier refuses costs what it provides, not the whole skeleton.
 * Programs that have a userspace step doing the same job (or a variant
 * without the refused dependency) are optional, with a feature name in
 * collect_progs[] for BPFCKPT_FALLBACK.
 */
#ifndef BPFCKPT_COLLECT_H
#define BPFCKPT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bpfckpt/common.h"
#include "bpfload.h"

struct task_bpf;
struct mm_bpf;
struct files_bpf;

/* the collector programs, one row each in collect_progs[] */
enum collect_prog {
	PROG_LIST_TASKS,	/* tree discovery */
	PROG_TASK,		/* thread state */
	PROG_TIMERS,		/* POSIX timers */
	PROG_SEM_UNDO,		/* SysV SEM_UNDO adjustments */
	PROG_VMA,		/* memory map */
	PROG_FILE,		/* fds, with bpf_d_path */
	PROG_FILE_NOPATH,	/* fds, paths left to /proc */
	NR_COLLECT_PROGS
};

extern const struct bpf_prog_desc collect_progs[NR_COLLECT_PROGS];

/* skeletons to load */
#define LOAD_TASK	(1u << 0)
#define LOAD_MM		(1u << 1)
#define LOAD_FILES	(1u << 2)
#define LOAD_ALL	(LOAD_TASK | LOAD_MM | LOAD_FILES)

struct collector {
	struct task_bpf *task;
	struct mm_bpf *mm;
	struct files_bpf *files;
	struct bpf_prog_status st[NR_COLLECT_PROGS];
};

enum collect_kind { COLLECT_TASKS, COLLECT_TIMERS, COLLECT_VMAS, COLLECT_FILES,
		    COLLECT_SEM_UNDO };

/* what snap and inspect cannot do without */
#define SNAP_PROGS	((1u << PROG_TASK) | (1u << PROG_VMA) | (1u << PROG_FILE))

/* returns 0 to go on, -errno to abort the iteration */
typedef int (*collect_cb)(void *ctx, const struct rec_hdr *rec, size_t size);

/*
 * Loads the skeletons in @which; every program that loads is usable,
 * c->st says what happened to each.  Fails only for lack of memory.
 * Prints nothing: see collect_need().
 */
int collect_load(struct collector *c, unsigned which);
/*
 * For a command that cannot do without the programs in @progs (a mask
 * of 1 << PROG_*, alternatives counted as one): 0 if each is loaded or
 * has its replacement loaded, else prints one line per missing one and
 * returns -ENOTSUP.  Also warns, once, about each optional program that
 * was refused (not about those BPFCKPT_FALLBACK left out).
 */
int collect_need(struct collector *c, unsigned progs, const char *works);
/* everything, as snap and inspect need it; prints what is missing */
int collect_open_snap(struct collector *c);
void collect_close(struct collector *c);
bool collect_has(const struct collector *c, enum collect_prog p);

/* one rec_pid per task visible to us; -ENOTSUP without list_tasks */
int collect_all_tasks(struct collector *c, collect_cb cb, void *ctx);
/* collect_sem_undo's view of the sets: set @semid has @nsems semaphores */
int collect_set_nsems(struct collector *c, int32_t semid, uint32_t nsems);
/* the records of one process (threads, timers, VMAs, fds or SEM_UNDO) */
int collect_proc(struct collector *c, enum collect_kind kind, pid_t tgid,
		 collect_cb cb, void *ctx);

#endif
