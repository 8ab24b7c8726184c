// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write sharing between the processes of a tree.
 *
 * Snap: a child's private anonymous page that is the same physical page
 * as its parent's at the same address (/proc/PID/pagemap PFNs: fork left
 * it shared and neither wrote it since) is not stored again; the child
 * gets an IMG_COW range saying "the parent's pages here".
 *
 * Restore: only fork makes pages shared copy-on-write (the kernel has no
 * other way to put one anonymous page into two processes' private
 * mappings), so such pages must exist in the parent before the child is
 * forked -- CRIU's "premap".  Our helpers are forks of the restorer and
 * run our own code before they fork their children (pstree.c), and they
 * see the mapped image: each helper maps the VMAs involved at a slot in a
 * window reserved in the restorer (free in every layout), fills them from
 * the image with memcpy, and only then forks its children, who inherit
 * the slots.  A child that shares pages with its parent keeps the
 * inherited slot, drops (MADV_DONTNEED) what it does not share and copies
 * in its own pages.  When mm_restore() rebuilds the process, it mremaps
 * each slot to the VMA's address: mremap keeps the pages, shared as they
 * are.  Slots are apart (a PROT_NONE page between two) so that the moved
 * VMAs never merge with each other.
 *
 * The same path is also the fastest way in for private anonymous memory
 * that nobody shares (make bench: populate, then memcpy from the image
 * in the new process, against process_vm_writev from the restorer), so
 * by default every such VMA with pages goes through a slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfckpt/compat.h"
#include "inject.h"
#include "log.h"
#include "restore.h"
#include "snap.h"
#include "util.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
#define PM_EXCLUSIVE	(1ULL << 56)	/* mapped once */
#define PM_PFN		((1ULL << 55) - 1)
#define PM_BATCH	8192		/* pagemap entries read at once */

/* ---- snap ---- */

static struct snap_proc *parent_of(struct snap_ctx *ctx, const struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_procs; i++)
		if (ctx->procs[i].pid == sp->ps->ppid && !ctx->procs[i].zombie)
			return &ctx->procs[i];
	return NULL;
}

/* the parent's VMA of the same range and kind, if both may share */
static bool parent_has(const struct snap_proc *pp, const struct img_vma *v)
{
	uint32_t i;

	if (!mm_cow_eligible(v))
		return false;
	for (i = 0; i < pp->nr_vmas; i++) {
		const struct img_vma *p = &pp->vmas[i].v;

		if (p->start == v->start && p->end == v->end)
			return p->kind == v->kind && mm_cow_eligible(p);
	}
	return false;
}

struct pfn_cmp {
	int mine, theirs;		/* pagemap fds, -1: none */
	uint64_t *a, *b;		/* PM_BATCH entries each */
	struct range_list *own, *cow;
};

/*
 * Present, not swapped, same frame.  Without CAP_SYS_ADMIN pagemap
 * shows frame 0 for every page: then nothing is shared and every page
 * is stored, which is only bigger.
 */
static bool same_page(uint64_t a, uint64_t b)
{
	return (a & PM_PRESENT) && (b & PM_PRESENT) && !(a & PM_SWAPPED) &&
	       (a & PM_PFN) && (a & PM_PFN) == (b & PM_PFN);
}

/* IMG_COW ranges stay inside one VMA: @apart, no merge with the last one */
static int add_cow(struct range_list *l, uint64_t start, uint64_t end, bool apart)
{
	struct page_range r = { start, end, false };

	if (!apart || !l->n || l->r[l->n - 1].end != start)
		return mm_add_range(l, start, end, false);
	l->pages += (end - start) / getpagesize();
	return vec_push(l->r, l->n, l->cap, r);
}

/*
 * A page mapped more than once is read through /proc/PID/mem (a "force"
 * range), not process_vm_readv: that one pins the pages it reads
 * (pin_user_pages_remote, mm/process_vm_access.c), and a read-only pin
 * of an anonymous page that may be shared unshares it first
 * (gup_must_unshare(), mm/gup.c): the snap itself would break the
 * sharing in the running tree, copying the page in every process it
 * reads.  /proc/PID/mem goes through access_remote_vm() with FOLL_GET,
 * which does not unshare.
 */
static int split_piece(struct pfn_cmp *pc, uint64_t start, uint64_t end,
		       bool force, bool compare)
{
	uint64_t ps = getpagesize(), n, i, addr, e, first = start;
	size_t bytes;
	int ret;

	while (start < end) {
		n = MIN((end - start) / ps, PM_BATCH);
		bytes = n * sizeof(uint64_t);
		if (pread(pc->mine, pc->a, bytes, start / ps * 8) != (ssize_t)bytes ||
		    (compare && pread(pc->theirs, pc->b, bytes, start / ps * 8) !=
		     (ssize_t)bytes))
			return errno ? -errno : -EIO;
		for (i = 0; i < n; i++) {
			addr = start + i * ps;
			e = pc->a[i];
			if (compare && same_page(e, pc->b[i]))
				ret = add_cow(pc->cow, addr, addr + ps, addr == first);
			else
				ret = mm_add_range(pc->own, addr, addr + ps, force ||
						   ((e & PM_PRESENT) && !(e & PM_EXCLUSIVE)));
			if (ret)
				return ret;
		}
		start += n * ps;
	}
	return 0;
}

/* @l's ranges cut at VMA ends: each piece is either compared or kept */
static int split(struct snap_proc *sp, struct snap_proc *pp, struct pfn_cmp *pc,
		 const struct range_list *l)
{
	uint32_t i, vi = 0;
	int ret = 0;

	for (i = 0; i < l->n && !ret; i++) {
		uint64_t at = l->r[i].start, to;

		while (at < l->r[i].end && !ret) {
			while (vi < sp->nr_vmas && sp->vmas[vi].v.end <= at)
				vi++;
			if (vi == sp->nr_vmas)
				return -EFAULT;
			to = MIN(l->r[i].end, sp->vmas[vi].v.end);
			ret = split_piece(pc, at, to, l->r[i].force,
					  pp && parent_has(pp, &sp->vmas[vi].v));
			at = to;
		}
	}
	return ret;
}

static int open_pagemap(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int write_cows(struct snap_ctx *ctx, const struct range_list *cow)
{
	struct img_cow c = { .h.type = IMG_COW };
	uint32_t i;
	int ret = 0;

	for (i = 0; i < cow->n && !ret; i++) {
		c.start = cow->r[i].start;
		c.end = cow->r[i].end;
		ret = img_put(ctx->w, &c, sizeof(c), NULL, 0);
	}
	return ret;
}

int mm_cow_write(struct snap_ctx *ctx, struct snap_proc *sp, struct range_list *l)
{
	struct range_list own = { 0 }, cow = { 0 };
	struct pfn_cmp pc = { .mine = -1, .theirs = -1, .own = &own, .cow = &cow };
	struct snap_proc *pp = parent_of(ctx, sp);
	int ret;

	if (!l->n)
		return 0;
	pc.mine = open_pagemap(sp->pid);
	if (pc.mine >= 0 && pp)
		pc.theirs = open_pagemap(pp->pid);
	pc.a = malloc(PM_BATCH * sizeof(uint64_t));
	pc.b = malloc(PM_BATCH * sizeof(uint64_t));
	if (pc.mine < 0 || (pp && pc.theirs < 0))
		ret = -errno;
	else if (!pc.a || !pc.b)
		ret = -ENOMEM;
	else
		ret = split(sp, pp, &pc, l);
	if (ret) {
		pr_err("pid %d: reading its page map%s: %s", sp->pid,
		       pp ? " and its parent's" : "", errstr(ret));
		goto out;
	}
	ret = write_cows(ctx, &cow);
	if (ret) {
		pr_err("pid %d: writing the pages it shares with its parent: %s",
		       sp->pid, errstr(ret));
		goto out;
	}
	sp->nr_cow_pages = cow.pages;
	free(l->r);
	*l = own;
	own.r = NULL;
out:
	free(own.r);
	free(cow.r);
	free(pc.a);
	free(pc.b);
	if (pc.mine >= 0)
		close(pc.mine);
	if (pc.theirs >= 0)
		close(pc.theirs);
	return ret;
}

/* ---- restore: the plan, in the restorer ---- */

/*
 * How pages come into private anonymous memory: the candidates that
 * make bench measures side by side (BPFCKPT_RESTORE_COPY names one);
 * the default is the fastest there.  inject: process_vm_writev from
 * the restorer into the seized process (shared pages still go through
 * slots); memcpy: each VMA with pages through a slot, filled by the
 * helper from the mapped image; populate: the same, each run's pages
 * allocated with MADV_POPULATE_WRITE first.
 */
static int copy_mode(uint32_t *mode)
{
	static const char *const names[] = {
		[RST_COPY_INJECT] = "inject",
		[RST_COPY_MEMCPY] = "memcpy",
		[RST_COPY_POPULATE] = "populate",
	};
	const char *e = getenv("BPFCKPT_RESTORE_COPY");
	uint32_t i;

	*mode = RST_COPY_DEFAULT;
	if (!e)
		return 0;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(e, names[i])) {
			*mode = i;
			return 0;
		}
	pr_err("BPFCKPT_RESTORE_COPY=%s: not one of inject, memcpy, populate", e);
	return -EINVAL;
}

static bool has_pages(const struct m_proc *mp, const struct img_vma *v)
{
	uint32_t c;

	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *pg = &mp->pages[c];
		uint32_t lo = 0, hi = pg->nr, m;

		/* vaddrs increase within a chunk: the first one >= start */
		while (lo < hi) {
			m = lo + (hi - lo) / 2;
			if (pg->vaddrs[m] < v->start)
				lo = m + 1;
			else
				hi = m;
		}
		if (lo < pg->nr && pg->vaddrs[lo] < v->end)
			return true;
	}
	return false;
}

/*
 * Marks (slot 1) the VMAs that share with the parent and their parents',
 * and the other VMAs with pages unless the copy goes by injection.
 */
static int mark_shared(struct restore_ctx *ctx)
{
	/* a lazy restore's pager fills the others (userfaultfd) */
	bool all = ctx->copy != RST_COPY_INJECT && !ctx->lazy;
	uint32_t i, j;
	int vi, pi;

	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		if (rp->zombie)
			continue;
		rp->slots = calloc(rp->mp->nr_vmas + 1, sizeof(*rp->slots));
		if (!rp->slots)
			return -ENOMEM;
		for (j = 0; all && j < rp->mp->nr_vmas; j++)
			if (mm_cow_eligible(rp->mp->vmas[j].v) &&
			    has_pages(rp->mp, rp->mp->vmas[j].v))
				rp->slots[j] = 1;
	}
	for (i = 0; i < ctx->nr_procs; i++) {
		const struct m_proc *mp = ctx->procs[i].mp;

		for (j = 0; j < mp->nr_cows; j++) {
			const struct m_proc *pp = ctx->procs[mp->parent].mp;

			/* mm_cow_check_model() made sure both exist */
			vi = m_vma_within(mp, mp->cows[j]->start, mp->cows[j]->end);
			pi = m_vma_within(pp, mp->vmas[vi].v->start, mp->vmas[vi].v->end);
			ctx->procs[i].slots[vi] = 1;
			ctx->procs[mp->parent].slots[pi] = 1;
		}
	}
	return 0;
}

struct slot_range {
	uint64_t start, end, at;
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* one slot per distinct range: a child's slot is where its parent's was */
static int place_slots(struct restore_ctx *ctx, struct slot_range *s, uint32_t n)
{
	uint64_t ps = getpagesize(), off = ps, base;
	uint32_t i, j;
	void *m;
	int ret;

	qsort(s, n, sizeof(*s), cmp_slot);
	for (i = 0; i < n; i++) {
		if (i && s[i].start == s[i - 1].start && s[i].end == s[i - 1].end) {
			s[i].at = s[i - 1].at;
			continue;
		}
		s[i].at = off;
		off += s[i].end - s[i].start + ps;
	}
	ret = mm_find_gap(ctx, off, &base);
	if (ret)
		return ret;
	/* held by nothing but PROT_NONE until a helper maps its slots there */
	m = mmap((void *)(uintptr_t)base, off, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	ctx->premap_base = base;
	ctx->premap_len = off;
	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		for (j = 0; rp->slots && j < rp->mp->nr_vmas; j++) {
			const struct img_vma *v = rp->mp->vmas[j].v;
			struct slot_range key = { v->start, v->end, 0 };
			struct slot_range *f;

			if (!rp->slots[j])
				continue;
			f = bsearch(&key, s, n, sizeof(*s), cmp_slot);
			if (!f)
				return -EFAULT;
			rp->slots[j] = base + f->at;
		}
	}
	return 0;
}

int mm_premap_plan(struct restore_ctx *ctx)
{
	struct slot_range *s = NULL, r;
	uint32_t n = 0, cap = 0, i, j;
	int ret;

	ret = copy_mode(&ctx->copy);
	if (ret)
		return ret;
	ret = mark_shared(ctx);
	for (i = 0; !ret && i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		for (j = 0; !ret && rp->slots && j < rp->mp->nr_vmas; j++) {
			if (!rp->slots[j])
				continue;
			r = (struct slot_range){ rp->mp->vmas[j].v->start,
						 rp->mp->vmas[j].v->end, 0 };
			ret = vec_push(s, n, cap, r);
		}
	}
	if (!ret && n)
		ret = place_slots(ctx, s, n);
	if (ret)
		pr_err("placing the memory that processes share copy-on-write: %s",
		       errstr(ret));
	free(s);
	return ret;
}

void mm_premap_free(struct restore_ctx *ctx)
{
	uint32_t i;

	for (i = 0; ctx->procs && i < ctx->nr_procs; i++)
		free(ctx->procs[i].slots);
	if (ctx->premap_len)
		munmap((void *)(uintptr_t)ctx->premap_base, ctx->premap_len);
}

/* ---- restore: in the helper, before it forks its children ---- */

static int reserve(uint64_t at, uint64_t len)
{
	void *m = mmap((void *)(uintptr_t)at, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	return m == MAP_FAILED ? -errno : 0;
}

/* the parent's slots this process does not keep go back to the window */
static int drop_inherited(const struct rst_proc *rp, const struct rst_proc *pp)
{
	uint32_t i;
	int vi, ret;

	for (i = 0; pp->slots && i < pp->mp->nr_vmas; i++) {
		const struct img_vma *v = pp->mp->vmas[i].v;

		if (!pp->slots[i])
			continue;
		vi = m_vma_within(rp->mp, v->start, v->end);
		if (vi >= 0 && rp->slots && rp->slots[vi] == pp->slots[i] &&
		    m_has_cows(rp->mp, rp->mp->vmas[vi].v))
			continue;
		ret = reserve(pp->slots[i], v->end - v->start);
		if (ret)
			return ret;
	}
	return 0;
}

/* keeps what this process shares of the inherited slot, drops the rest */
static int keep_shared(const struct m_proc *mp, const struct img_vma *v,
		       uint64_t slot)
{
	uint64_t at = v->start;
	uint32_t i;

	for (i = 0; i <= mp->nr_cows; i++) {
		uint64_t to = i < mp->nr_cows ? mp->cows[i]->start : v->end;

		if (i < mp->nr_cows && (mp->cows[i]->start < v->start ||
					mp->cows[i]->end > v->end))
			continue;
		if (to > at && madvise((void *)(uintptr_t)(slot + at - v->start),
				       to - at, MADV_DONTNEED))
			return -errno;
		if (i < mp->nr_cows)
			at = mp->cows[i]->end;
	}
	return 0;
}

/*
 * RST_COPY_POPULATE maps the run's image pages (the helper's page tables
 * of the image start empty: fork does not copy those of a shared file
 * mapping) and allocates its new pages in one call each, instead of a
 * fault per page or per 16; a failure there (ENOMEM) shows as the same
 * fault in memcpy.
 */
static void copy_piece(const struct restore_ctx *ctx, void *dst, const void *src,
		       size_t len)
{
	if (ctx->copy == RST_COPY_POPULATE) {
		madvise((void *)src, len, MADV_POPULATE_READ);
		madvise(dst, len, MADV_POPULATE_WRITE);
	}
	memcpy(dst, src, len);
}

/* in pieces, each counted for the restorer's progress line */
#define COPY_PIECE	(8u << 20)

static void copy_run(const struct restore_ctx *ctx, uint8_t *dst, const uint8_t *src,
		     size_t len, uint64_t ps)
{
	size_t off, n;

	for (off = 0; off < len; off += n) {
		n = MIN(len - off, COPY_PIECE);
		copy_piece(ctx, dst + off, src + off, n);
		atomic_fetch_add_explicit(&ctx->sh->pages_done, n / ps,
					  memory_order_relaxed);
	}
}

/*
 * The process's own pages into its slots, in runs of contiguous pages:
 * one pass over the pages (the one place where the premapped pages are
 * copied).
 */
static void fill_slots(const struct restore_ctx *ctx, const struct rst_proc *rp,
		       uint64_t ps)
{
	const struct m_proc *mp = rp->mp;
	uint32_t c, i, run, vi;

	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *pg = &mp->pages[c];

		for (i = 0, vi = 0; i < pg->nr; i += run) {
			uint64_t va = pg->vaddrs[i], at;
			const struct img_vma *v;

			run = 1;
			/* vaddrs increase, each inside a VMA (load_pages checked) */
			while (mp->vmas[vi].v->end <= va)
				vi++;
			v = mp->vmas[vi].v;
			/* past the VMA's pages at once (lazy: most of them) */
			if (!rp->slots[vi]) {
				run = m_pages_lower(pg->vaddrs, pg->nr, i, v->end) - i;
				continue;
			}
			while (i + run < pg->nr && pg->vaddrs[i + run] < v->end &&
			       pg->vaddrs[i + run] == va + (uint64_t)run * ps)
				run++;
			at = rp->slots[vi] + (va - v->start);
			copy_run(ctx, (uint8_t *)(uintptr_t)at, pg->data + (uint64_t)i * ps,
				 (uint64_t)run * ps, ps);
		}
	}
}

int mm_premap_child(struct restore_ctx *ctx, uint32_t idx)
{
	const struct rst_proc *rp = &ctx->procs[idx];
	const struct m_proc *mp = rp->mp;
	uint64_t ps = ctx->img.hdr->page_size;
	uint32_t i;
	void *m;
	int ret = 0;

	if (mp->parent >= 0)
		ret = drop_inherited(rp, &ctx->procs[mp->parent]);
	for (i = 0; !ret && rp->slots && i < mp->nr_vmas; i++) {
		const struct img_vma *v = mp->vmas[i].v;

		if (!rp->slots[i])
			continue;
		if (m_has_cows(mp, v)) {
			ret = keep_shared(mp, v, rp->slots[i]);
		} else {
			m = mmap((void *)(uintptr_t)rp->slots[i], v->end - v->start,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			ret = m == MAP_FAILED ? -errno : 0;
		}
	}
	if (!ret && rp->slots)
		fill_slots(ctx, rp, ps);
	return ret;
}

/* ---- restore: in mm_restore(), by injection ---- */

bool mm_premapped(const struct rst_proc *rp, uint32_t vi)
{
	return rp->slots && rp->slots[vi];
}

bool mm_is_slot(const struct rst_proc *rp, uint64_t start)
{
	uint32_t i;

	for (i = 0; rp->slots && i < rp->mp->nr_vmas; i++)
		if (rp->slots[i] == start)
			return true;
	return false;
}

int mm_premap_move(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t i;
	long r;
	int ret = 0;

	for (i = 0; !ret && rp->slots && i < rp->mp->nr_vmas; i++) {
		const struct img_vma *v = rp->mp->vmas[i].v;
		uint64_t len = v->end - v->start;

		if (!rp->slots[i])
			continue;
		ret = rst_syscall(ctx, rp, 0, "mremap of a premapped vma", SYS_mremap,
				  rp->slots[i], len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				  v->start, 0, &r);
	}
	return ret;
}
