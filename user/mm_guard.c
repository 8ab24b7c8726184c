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
#include "log.h"
#include "inject.h"
#include "restore.h"
#include "snap.h"
#include "util.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

#define SCAN_REGIONS	256

static int scan_vma(int pagemap, struct snap_proc *sp, const struct img_vma *v)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = v->start,
		.end = v->end,
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

int mm_guard_collect(struct snap_proc *sp)
{
	char path[64];
	uint32_t i;
	int fd, ret = 0;

	if (sp->zombie)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", sp->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; !ret && i < sp->nr_vmas; i++) {
		ret = scan_vma(fd, sp, &sp->vmas[i].v);
		/* a kernel before PAGE_IS_GUARD has none to find (nor to make) */
		if (ret == -EINVAL && !i)
			ret = 1;
	}
	close(fd);
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
