// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy chains at load time (model.h, chain.h): the parent of an image
 * is loaded with its own parents and checked, and each process's page
 * list becomes one list again, its own pages and the inherited ones in
 * address order, so that restore, restore --lazy, show and the tests'
 * pagecmp read through the chain without knowing it.  Every image of a
 * chain is verified whole (checksum, page sums, frames) at load, even for
 * --lazy: a merged list no longer lines up with any image's piece sums.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "util.h"

#define ERR(img, ...)	(snprintf((img)->r.err, sizeof((img)->r.err), __VA_ARGS__), -EINVAL)

/* the parent's path: as recorded if absolute, else next to @path */
static char *parent_path(const char *path, const char *rec)
{
	char *d, *out = NULL;

	if (rec[0] == '/' || !strcmp(path, "-"))
		return strdup(rec);
	d = strdup(path);
	if (d && asprintf(&out, "%s/%s", dirname(d), rec) < 0)
		out = NULL;
	free(d);
	return out;
}

/* every piece of this image's own chunks checked (a lazy load skipped them) */
static int check_own(struct ckpt_image *img)
{
	uint32_t i, c, k;

	for (i = 0; i < img->nr_procs; i++)
		for (c = 0; c < img->procs[i].nr_chunks; c++) {
			const struct m_pages *pg = &img->procs[i].pages[c];

			for (k = 0; pg->sums && k < img_pieces(pg->nr); k++)
				if (!img_piece_ok(img->hdr->page_size, pg->data, pg->nr,
						  pg->sums, k))
					return ERR(img, "record %" PRIu64 " (pages): checksum "
						   "mismatch in its page data: the image is "
						   "corrupted", pg->index);
		}
	return image_zfill(img, NULL);
}

struct cursor {
	const struct m_pages *pages;
	uint32_t nr, c, i;
};

static bool cur_end(const struct cursor *k)
{
	return k->c >= k->nr;
}

static uint64_t cur_va(const struct cursor *k)
{
	return k->pages[k->c].vaddrs[k->i];
}

static void cur_next(struct cursor *k)
{
	if (++k->i == k->pages[k->c].nr) {
		k->c++;
		k->i = 0;
	}
}

/* appends page @k to @out, extending the last run if it continues it */
static int take(struct m_pages **out, uint32_t *n, uint32_t *cap, const struct cursor *k,
		int src, int *last_src, uint32_t ps)
{
	const struct m_pages *p = &k->pages[k->c];
	struct m_pages *l = *n ? &(*out)[*n - 1] : NULL;
	struct m_pages run = {
		.nr = 1, .vaddrs = p->vaddrs + k->i,
		.data = p->data + (uint64_t)k->i * ps, .index = p->index,
	};

	if (l && *last_src == src && l->vaddrs + l->nr == run.vaddrs &&
	    l->data + (uint64_t)l->nr * ps == run.data) {
		l->nr++;
		return 0;
	}
	*last_src = src;
	return vec_push(*out, *n, *cap, run);
}

/* is @va in one of @mp's inherited ranges (walked in order by *ri, *ii) */
static bool inherited(const struct m_proc *mp, uint64_t va, uint32_t *ri, uint32_t *ii)
{
	while (*ri < mp->nr_inh) {
		const struct img_inherit *in = mp->inh[*ri];
		const struct img_range *r = (const void *)(in + 1);

		if (va < r[*ii].end)
			return va >= r[*ii].start;
		if (++*ii == in->nr) {
			(*ri)++;
			*ii = 0;
		}
	}
	return false;
}

/* @mp's own pages and those of @pp it inherits, one list in address order */
static int merge(struct ckpt_image *img, struct m_proc *mp, const struct m_proc *pp)
{
	struct cursor own = { mp->pages, mp->nr_chunks, 0, 0 };
	struct cursor par = { pp->pages, pp->nr_chunks, 0, 0 };
	uint32_t ps = img->hdr->page_size, n = 0, cap = 0, ri = 0, ii = 0;
	struct m_pages *out = NULL;
	uint64_t got = 0, prev = 0;
	int last = -1, ret = 0;
	bool first = true;

	while (!ret && (!cur_end(&own) || !cur_end(&par))) {
		bool from_own;
		uint64_t va;

		/* the parent's pages this one does not take are skipped */
		if (!cur_end(&par) && !inherited(mp, cur_va(&par), &ri, &ii)) {
			cur_next(&par);
			continue;
		}
		from_own = cur_end(&par) || (!cur_end(&own) && cur_va(&own) <= cur_va(&par));
		va = from_own ? cur_va(&own) : cur_va(&par);
		if (!first && va <= prev)
			ret = ERR(img, "pid %d: page %#" PRIx64 " is both stored and inherited, "
				  "or its chunks are out of order", mp->p->pid[0], va);
		else
			ret = take(&out, &n, &cap, from_own ? &own : &par, from_own, &last, ps);
		if (!from_own)
			got++;
		cur_next(from_own ? &own : &par);
		prev = va;
		first = false;
	}
	if (!ret && got != mp->nr_inherited)
		ret = ERR(img, "pid %d: inherits %" PRIu64 " pages, its parent holds %" PRIu64
			  " of them", mp->p->pid[0], mp->nr_inherited, got);
	if (ret) {
		free(out);
		return ret;
	}
	mp->own = mp->pages;
	mp->nr_own = mp->nr_chunks;
	mp->pages = out;
	mp->nr_chunks = n;
	mp->nr_pages += got;
	img->nr_pages += got;
	return 0;
}

static const struct img_chain_proc *chain_proc(const struct ckpt_image *img, int32_t pid)
{
	uint32_t i;

	for (i = 0; img->chain && i < img->chain->nr_procs; i++)
		if (img->chain_procs[i].pid == pid)
			return &img->chain_procs[i];
	return NULL;
}

static int check_parent(struct ckpt_image *img, const struct ckpt_image *par, const char *pp)
{
	const struct img_tail *t = (const void *)(par->r.base + par->r.end);
	uint32_t i;

	if (!par->chain || par->chain->id != img->chain->parent_id ||
	    t->checksum != img->chain->parent_sum)
		return ERR(img, "parent %s is not the image this one was snapped against "
			   "(snap %#llx, checksum %016llx)", pp,
			   (unsigned long long)img->chain->parent_id,
			   (unsigned long long)img->chain->parent_sum);
	if (par->hdr->root_pid != img->hdr->root_pid)
		return ERR(img, "parent %s is of another tree (root %d, not %d)", pp,
			   par->hdr->root_pid, img->hdr->root_pid);
	for (i = 0; i < img->nr_procs; i++) {
		const struct img_chain_proc *a = chain_proc(img, img->procs[i].p->pid[0]);
		const struct img_chain_proc *b = chain_proc(par, img->procs[i].p->pid[0]);

		if (img->procs[i].nr_inh && (!a || !b || a->start_time != b->start_time))
			return ERR(img, "pid %d inherits pages, but parent %s holds another "
				   "process of that pid", img->procs[i].p->pid[0], pp);
	}
	return 0;
}

int chain_resolve(struct ckpt_image *img, const char *path, unsigned flags, int depth)
{
	struct ckpt_image *par;
	char *pp;
	uint32_t i;
	int ret;

	if (depth + 1 >= IMG_CHAIN_DEPTH_MAX)
		return ERR(img, "a chain of more than %d images", IMG_CHAIN_DEPTH_MAX);
	pp = parent_path(path, img->chain_parent);
	par = calloc(1, sizeof(*par));
	if (!pp || !par) {
		free(pp);
		free(par);
		return -ENOMEM;
	}
	img->parent = par;
	ret = image_load_at(pp, flags & ~(IMG_OPEN_LAZY | IMG_OPEN_SUM_LATER), par, depth + 1);
	if (ret)
		ret = ERR(img, "parent %.60s: %.180s", pp, par->r.err);
	if (!ret)
		ret = check_parent(img, par, pp) ?: (flags & IMG_OPEN_INDEX ? 0 : check_own(img));
	for (i = 0; !ret && i < img->nr_procs; i++) {
		struct m_proc *mp = &img->procs[i];
		int k = image_find(par, mp->p->pid[0]);

		if (mp->nr_inh && k < 0)
			ret = ERR(img, "pid %d inherits pages its parent does not hold",
				  mp->p->pid[0]);
		else if (mp->nr_inh)
			ret = merge(img, mp, &par->procs[k]);
	}
	free(pp);
	return ret;
}
