/* SPDX-License-Identifier: GPL-2.0 */
/*
 * snap --pre / --parent (precopy.c): write tracking with userfaultfd
 * WP_ASYNC and PAGEMAP_SCAN, pages inherited from the parent image.
 * Each prints what failed.
 */
#ifndef BPFCKPT_PRECOPY_H
#define BPFCKPT_PRECOPY_H

#include "snap.h"

/*
 * Before anything else: the pages the tree wrote in its tracked VMAs
 * since @parent was snapped (what snap --parent would store of them)
 */
int pre_dirty(const char *parent, pid_t root, uint64_t *pages);
/* before the freeze: the parent loaded and checked, its tracking claimed */
int pre_open(struct snap_ctx *ctx);
/* frozen, after collect: written pages found, tracking (re)armed (--pre) */
int pre_track(struct snap_ctx *ctx);
/* IMG_CHAIN, right after the header */
int pre_write_chain(struct snap_ctx *ctx);
/*
 * mm.c: whether VMA @vi of @sp needs no page scan of its own, tracked
 * since the parent: its pages are then those the parent holds that were
 * not written since, and those written that are present (pre_vma_pages)
 */
bool pre_knows_vma(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi);
int pre_vma_pages(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi, int pagemap,
		  struct range_list *l);
/* mm_guard.c, for a VMA pre_knows_vma(): what to scan, the ranges written since the parent */
const struct range_list *pre_written(struct snap_ctx *ctx, struct snap_proc *sp);
/* mm_guard.c: the parent's guard regions in VMA @vi not written since, to @sp's */
int pre_parent_guards(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi);
/* mm.c: @l's pages not written since the parent, which has them, move to @inh */
int pre_filter(struct snap_ctx *ctx, struct snap_proc *sp, struct range_list *l,
	       struct range_list *inh);
int pre_write_inherit(struct snap_ctx *ctx, const struct range_list *inh);
/* after the commit, --pre: a keeper process holds the tracking until the next snap */
int pre_keep(struct snap_ctx *ctx);
/* the keeper of snap @id (0: none), if it still runs, ends with its tracking */
void pre_drop(uint64_t id);
/* accepts a context without pre-copy */
void pre_free(struct snap_ctx *ctx);

#endif
