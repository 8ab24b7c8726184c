/* SPDX-License-Identifier: GPL-2.0 */
/*
 * restore --lazy: private anonymous memory is registered with a
 * userfaultfd instead of written, the tree runs at once, and a pager
 * (lazy.c) serves each missing page from the mapped image, pulling the
 * rest in the background.
 *
 * Never silent zeros: the kernel zero-fills the missing pages of a
 * userfaultfd that is closed, so each restored process holds its own
 * userfaultfd too (at fd LAZY_HELD_FD or above, close-on-exec): if the
 * pager dies, faults wait instead of reading zeros.  Once every page is
 * in, the pager closes those fds in the tree, then its own.
 */
#ifndef BPFCKPT_LAZY_H
#define BPFCKPT_LAZY_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/userfaultfd.h>
#include "model.h"

struct restore_ctx;
struct rst_proc;

#define LAZY_HELD_FD	512
/* the userfaultfd events the pager must see (bpfckpt check lists them) */
#define LAZY_FEATURES	(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
			 UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

/* the userfaultfd features the pager needs; 0 or -ENOTSUP, printed */
int lazy_check(void);
/* a VMA whose pages the pager serves (the others are written as usual) */
bool lazy_vma(const struct img_vma *v);
/*
 * In the seized process, after its memory is mapped: a userfaultfd of
 * its own (kept at LAZY_HELD_FD+), ours by pidfd_getfd, its lazy VMAs
 * registered.  Prints what failed.
 */
int lazy_attach(struct restore_ctx *ctx, struct rst_proc *rp);
/*
 * The pager is a thread of the restorer from the first lazy_attach() on
 * (faults the restore itself causes need it).  Once the tree runs it
 * also pulls the rest; it ends when every page is in or the tree is
 * gone.
 */
int lazy_start(struct restore_ctx *ctx);
/* pages the pager has still to copy (0: none, or no pager) */
uint64_t lazy_left(struct restore_ctx *ctx);
/* waits for the pager to end; -errno if it had to kill the tree */
int lazy_finish(struct restore_ctx *ctx);
/* a failed restore: the pager stops (the restorer kills the tree) */
void lazy_abort(struct restore_ctx *ctx);

#endif
