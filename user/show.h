/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names for image values and the fields of each record, shared by show
 * and inspect so that both print the same keys.  The *_fields functions
 * print inside an object the caller opened, without the final newline.
 */
#ifndef BPFCKPT_SHOW_H
#define BPFCKPT_SHOW_H

#include <stdbool.h>
#include <stdint.h>
#include "print.h"
#include "bpfckpt/files.h"
#include "bpfckpt/mm.h"
#include "bpfckpt/task.h"

const char *show_vma_kind(uint32_t kind);
const char *show_vma_name(uint32_t kind, const char *path);
void show_prot(char out[5], uint32_t prot, uint32_t map_flags);

/* where a thread is: its saved registers (show) or /proc (inspect) */
struct show_where {
	bool known;		/* ip and sp are set */
	uint64_t ip;
	uint64_t sp;
	int64_t syscall;	/* -1: not in a syscall */
	bool has_ret;
	int64_t ret;
};

void show_proc_fields(struct printer *p, const struct img_proc *pr,
		      const char *exe, const char *cwd, const char *root,
		      uint64_t pages, uint32_t page_size);
void show_thread_fields(struct printer *p, const struct img_thread *t,
			const struct show_where *w);
void show_vma_fields(struct printer *p, const struct img_vma *v, const char *path);
void show_fd_fields(struct printer *p, const struct img_fd *f, const char *path);
/* a TCP or UDP socket's addresses, state, queues (show and inspect) */
void show_inet(struct printer *p, const struct img_inet *in);

#endif
