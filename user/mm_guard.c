// SPDX-License-Identifier: GPL-2.0
/*
 * Guard regions (madvise(MADV_GUARD_INSTALL), 6.13): PTE markers inside
 * a VMA that make an access fault.  They are no VMA and no page, so
 * neither the memory map nor the page scan keeps them: PAGEMAP_SCAN's
 * PAGE_IS_GUARD (6.14) finds them at snap, and restore installs them
 * again once the pages are in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfckpt/compat.h"
#include "features.h"
#include "log.h"
#include "inject.h"
#include "precopy.h"
#include "restore.h"
#include "snap.h"
#include "util.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

#define SCAN_REGIONS	256

static int scan_range(int pagemap, struct snap_proc *sp, uint64_t start, uint64_t end)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)regs,
		.vec_len = SCAN_REGIONS,
		.category_mask = PAGE_IS_GUARD,
		.return_mask = PAGE_IS_GUARD,
	};
	struct img_guard g = { .h.type = IMG_GUARD };
	long n, i;
	int ret;

	while (arg.start < arg.end) {
		n = ioctl(pagemap, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			g.start = regs[i].start;
			g.end = regs[i].end;
			ret = vec_push(sp->guards, sp->nr_guards, sp->cap_guards, g);
			if (ret)
				return ret;
		}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
}

static int cmp_guard(const void *a, const void *b)
{
	const struct img_guard *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * A VMA tracked since the parent (pre_knows_vma()): a guard installed or
 * removed since is a written page, so its guards are the parent's outside
 * the written ranges and those a scan of the written ranges finds -- not
 * a walk over every PTE in the freeze (3 ms a GiB).
 */
static int known_vma(struct snap_ctx *ctx, int pagemap, struct snap_proc *sp, uint32_t vi)
{
	const struct range_list *w = pre_written(ctx, sp);
	const struct img_vma *v = &sp->vmas[vi].v;
	uint32_t k;
	int ret = 0;

	for (k = 0; k < w->n && !ret; k++)
		if (w->r[k].end > v->start && w->r[k].start < v->end)
			ret = scan_range(pagemap, sp, MAX(w->r[k].start, v->start),
					 MIN(w->r[k].end, v->end));
	return ret ?: pre_parent_guards(ctx, sp, vi);
}

int mm_guard_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	char path[64];
	uint32_t i;
	bool known = false;
	int fd, ret = 0;

	/* a kernel before PAGE_IS_GUARD has none to find (nor to make) */
	if (sp->zombie || !features_pagemap_guard())
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", sp->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; !ret && i < sp->nr_vmas; i++) {
		const struct img_vma *v = &sp->vmas[i].v;

		if (pre_knows_vma(ctx, sp, i)) {
			known = true;
			ret = known_vma(ctx, fd, sp, i);
		} else {
			ret = scan_range(fd, sp, v->start, v->end);
		}
	}
	close(fd);
	/* the parent's and the scanned ones of a VMA come apart: in order again */
	if (known && sp->nr_guards)
		qsort(sp->guards, sp->nr_guards, sizeof(*sp->guards), cmp_guard);
	if (ret < 0)
		pr_err("pid %d: finding its guard regions: %s", sp->pid, errstr(ret));
	return ret < 0 ? ret : 0;
}

int mm_guard_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; !ret && i < sp->nr_guards; i++)
		ret = img_put(ctx->w, &sp->guards[i], sizeof(sp->guards[i]), NULL, 0);
	return ret;
}

int mm_guard_restore(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t i;
	long r;
	int ret = 0;

	for (i = 0; !ret && i < rp->mp->nr_guards; i++) {
		const struct img_guard *g = rp->mp->guards[i];

		ret = rst_syscall(ctx, rp, 0, "madvise(MADV_GUARD_INSTALL)",
				  SYS_madvise, g->start, g->end - g->start,
				  MADV_GUARD_INSTALL, 0, 0, 0, &r);
	}
	return ret;
}
