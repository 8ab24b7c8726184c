// SPDX-License-Identifier: GPL-2.0
/*
 * Image loader: every record's length, count, reserved field, string and
 * cross-reference is checked here, so that show and restore can use the
 * model as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>
#include "arch.h"
#include "model.h"
#include "util.h"

/* loads that do not read page data now (compressed pieces stay so) */
#define NO_DATA	(IMG_OPEN_LAZY | IMG_OPEN_NO_CHECKSUM | IMG_OPEN_INDEX)

struct loader {
	struct ckpt_image *img;
	struct img_rec *rec;
	unsigned flags;		/* image_load()'s */
	ZSTD_DCtx *dctx;	/* for IMG_ZPAGES, made at the first */
};

static int bad(struct loader *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(struct loader *l, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(l->img->r.err, sizeof(l->img->r.err),
		 "record %" PRIu64 " (%s) at offset %#" PRIx64 ": %s",
		 l->rec->index, img_type_name(l->rec->type), l->rec->off, what);
	return -EINVAL;
}

static struct m_proc *cur(struct loader *l)
{
	return l->img->nr_procs ? &l->img->procs[l->img->nr_procs - 1] : NULL;
}

static bool nul_in(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

/* trailing strings of a record, in order; lens[i] == 0: absent */
static int strings(struct loader *l, size_t fixed, const uint32_t *lens,
		   const char **out, int n)
{
	uint64_t total = fixed;
	int i;

	for (i = 0; i < n; i++)
		total += lens[i];
	if (IMG_ALIGN(total) != l->rec->len)
		return bad(l, "length %u does not match its strings (%" PRIu64 ")",
			   l->rec->len, IMG_ALIGN(total));
	for (i = 0; i < n; i++) {
		out[i] = NULL;
		if (lens[i]) {
			out[i] = img_str(l->rec, fixed, lens[i]);
			if (!out[i])
				return bad(l, "string %d is malformed", i + 1);
		}
		fixed += lens[i];
	}
	return 0;
}

static int check_levels(struct loader *l, const __s32 *ids, uint32_t levels,
			const char *what, bool need)
{
	uint32_t i;

	for (i = 0; i < BCK_NS_LEVELS; i++) {
		if (i >= levels && ids[i])
			return bad(l, "%s set beyond its %u namespace levels", what, levels);
		if (i < levels && (ids[i] < 0 || (need && ids[i] == 0)))
			return bad(l, "%s %d at level %u out of range", what, ids[i], i);
	}
	return 0;
}

static int load_proc(struct loader *l)
{
	const struct img_proc *p = l->rec->p;
	struct m_proc mp = { .p = p, .parent = -1 };
	uint32_t lens[3];
	const char *s[3];
	int ret;

	if (l->rec->len < sizeof(*p))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*p));
	lens[0] = p->exe_len;
	lens[1] = p->cwd_len;
	lens[2] = p->root_len;
	ret = strings(l, sizeof(*p), lens, s, 3);
	if (ret)
		return ret;
	mp.exe = s[0];
	mp.cwd = s[1];
	mp.root = s[2];
	if (p->nr_levels < 1 || p->nr_levels > BCK_NS_LEVELS)
		return bad(l, "%u pid namespace levels", p->nr_levels);
	if ((ret = check_levels(l, p->pid, p->nr_levels, "pid", true)) ||
	    (ret = check_levels(l, p->ppid, p->nr_levels, "ppid", false)) ||
	    (ret = check_levels(l, p->pgid, p->nr_levels, "pgid", false)) ||
	    (ret = check_levels(l, p->sid, p->nr_levels, "sid", false)))
		return ret;
	if (p->flags & ~IMG_PROC_FLAGS_ALL || p->reserved)
		return bad(l, "unknown flags %#x or reserved field set", p->flags);
	if (p->exit_signal < 0 || p->exit_signal > BCK_NSIG)
		return bad(l, "exit signal %d", p->exit_signal);
	if (!nul_in(p->comm, sizeof(p->comm)))
		return bad(l, "comm not terminated");
	if (p->auxv_words > BCK_AUXV_WORDS || p->nr_rlimits != BCK_NRLIMITS)
		return bad(l, "auxv or rlimit count out of range");
	if (p->flags & IMG_PROC_ZOMBIE ? p->nr_threads != 0 :
	    p->nr_threads < 1 || p->nr_threads > 65536)
		return bad(l, "%u threads", p->nr_threads);
	if (image_find(l->img, p->pid[0]) >= 0)
		return bad(l, "pid %d appears twice", p->pid[0]);
	if (l->img->nr_procs >= l->img->hdr->nr_procs)
		return bad(l, "more processes than the header's %u",
			   l->img->hdr->nr_procs);
	return vec_push(l->img->procs, l->img->nr_procs, l->img->cap_procs, mp);
}

static int load_thread(struct loader *l, struct m_proc *mp)
{
	const struct img_thread *t = l->rec->p;
	struct m_thread mt = { .t = t };
	uint64_t total;
	int ret;

	if (l->rec->len < sizeof(*t))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*t));
	if (t->regs_size != ARCH_REGS_SIZE)
		return bad(l, "register blob of %u bytes, expected %d",
			   t->regs_size, ARCH_REGS_SIZE);
	if (t->xstate_size > ARCH_XSTATE_MAX ||
	    t->xstate_size != l->img->hdr->xstate_size)
		return bad(l, "xstate of %u bytes, header says %u", t->xstate_size,
			   l->img->hdr->xstate_size);
	total = sizeof(*t) + (uint64_t)t->regs_size + t->xstate_size;
	if (IMG_ALIGN(total) != l->rec->len)
		return bad(l, "length %u does not match its registers", l->rec->len);
	ret = check_levels(l, t->tid, mp->p->nr_levels, "tid", true);
	if (ret)
		return ret;
	if (t->flags & ~IMG_THREAD_FLAGS_ALL || !nul_in(t->comm, sizeof(t->comm)))
		return bad(l, "unknown flags %#x or comm not terminated", t->flags);
	if (t->creds.ngroups > BCK_NGROUPS)
		return bad(l, "%u groups", t->creds.ngroups);
	if (t->sas_size > (1ULL << 40) || t->rseq_len > 4096)
		return bad(l, "signal stack or rseq size out of range");
	if (mp->nr_threads >= mp->p->nr_threads)
		return bad(l, "more threads than the process's %u", mp->p->nr_threads);
	if (!mp->nr_threads && t->tid[0] != mp->p->pid[0])
		return bad(l, "first thread %d is not the leader %d", t->tid[0],
			   mp->p->pid[0]);
	mt.regs = t + 1;
	mt.xstate = (const uint8_t *)mt.regs + t->regs_size;
	return vec_push(mp->threads, mp->nr_threads, mp->cap_threads, mt);
}

/* IMG_PROC_EXT right after its IMG_PROC */
static int load_proc_ext(struct loader *l, struct m_proc *mp)
{
	const struct img_proc_ext *e = l->rec->p;

	if (l->rec->len != sizeof(*e))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*e));
	if (mp->ext || mp->nr_threads)
		return bad(l, "not right after its process");
	if (e->membarrier & ~IMG_MB_ALL || e->reserved || e->reserved2 ||
	    e->cwd_mode & ~07777u)
		return bad(l, "membarrier %#x or reserved field", e->membarrier);
	mp->ext = e;
	return 0;
}

/* IMG_NS before the process's memory and files (ns.h) */
static int load_ns(struct loader *l, struct m_proc *mp)
{
	const struct img_ns *n = l->rec->p;
	const struct img_proc *p = mp->p;

	const char *s = (const char *)(n + 1);
	uint32_t i, k;

	if (l->rec->len < sizeof(*n) || n->mounts_len > IMG_NS_MOUNTS_LEN ||
	    n->nr_mounts > IMG_NS_MOUNTS_MAX ||
	    IMG_ALIGN(sizeof(*n) + (uint64_t)n->mounts_len) != l->rec->len)
		return bad(l, "length %u for %u bytes of mounts", l->rec->len,
			   n->mounts_len);
	if (mp->ns || mp->nr_vmas || mp->nr_fds)
		return bad(l, "a second one, or after the process's memory or files");
	if (n->flags & ~IMG_PNS_FLAGS_ALL || n->proc_ms & ~IMG_PNS_MS_ALL)
		return bad(l, "flags %#x or mount flags %#x", n->flags, n->proc_ms);
	if ((n->flags & IMG_PNS_PIDFC_CHILD) && (n->flags & IMG_PNS_PIDFC_EMPTY))
		return bad(l, "pid_for_children both a child's and empty");
	if ((n->flags & IMG_PNS_PROC_FIRST) && (n->flags & IMG_PNS_PROC))
		return bad(l, "/proc mounted twice");
	/* only the init of a pid namespace mounts a proc of it */
	if ((n->flags & (IMG_PNS_PROC_FIRST | IMG_PNS_PROC)) &&
	    (p->nr_levels < 2 || p->pid[p->nr_levels - 1] != 1))
		return bad(l, "pid %d mounts a proc but is no pid namespace's init",
			   p->pid[0]);
	if ((n->flags & IMG_PNS_PROC_FIRST) && !(n->flags & IMG_PNS_MNT_NEW))
		return bad(l, "/proc mounted before a mount namespace it does not make");
	if ((n->flags & IMG_PNS_MNT_SLAVE) && !(n->flags & IMG_PNS_MNT_NEW))
		return bad(l, "slave mounts without a mount namespace");
	/* exactly nr_mounts lines, each ended by its NUL, nothing after */
	for (i = 0, k = 0; i < n->mounts_len; i++)
		k += !s[i];
	if (k != n->nr_mounts || (n->mounts_len && s[n->mounts_len - 1]) ||
	    (n->nr_mounts && (n->flags & (IMG_PNS_MNT_NEW | IMG_PNS_MNT_SLAVE)) !=
	     IMG_PNS_MNT_NEW))
		return bad(l, "%u mounts in %u bytes, %u lines ended", n->nr_mounts,
			   n->mounts_len, k);
	mp->ns = n;
	return 0;
}

static struct m_thread *last_thread(struct m_proc *mp)
{
	return mp->nr_threads ? &mp->threads[mp->nr_threads - 1] : NULL;
}

/* IMG_THREAD_EXT right after its IMG_THREAD */
static int load_thread_ext(struct loader *l, struct m_proc *mp)
{
	const struct img_thread_ext *e = l->rec->p;
	struct m_thread *mt = last_thread(mp);

	if (l->rec->len != sizeof(*e))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*e));
	if (!mt || mt->ext || e->tid != mt->t->tid[0])
		return bad(l, "thread %d: not right after its thread", e->tid);
	if (e->reserved || e->nr_cpus > 64 * IMG_CPU_WORDS || e->seccomp_mode > 2 ||
	    (e->seccomp_mode != 2 && e->nr_filters) || e->nr_filters > 512)
		return bad(l, "thread %d: %u CPUs, seccomp mode %u with %u filters",
			   e->tid, e->nr_cpus, e->seccomp_mode, e->nr_filters);
	mt->ext = e;
	mt->filters = calloc(e->nr_filters + 1, sizeof(*mt->filters));
	return mt->filters ? 0 : -ENOMEM;
}

/* IMG_SECCOMP: the filters of the thread whose IMG_THREAD_EXT came last */
static int load_seccomp(struct loader *l, struct m_proc *mp)
{
	const struct img_seccomp *s = l->rec->p;
	struct m_thread *mt = last_thread(mp);

	if (l->rec->len < sizeof(*s))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*s));
	if (!s->nr_insns || s->nr_insns > IMG_SECCOMP_MAX_INSNS || s->reserved ||
	    l->rec->len != sizeof(*s) + (uint64_t)s->nr_insns * 8)
		return bad(l, "%u instructions in %u bytes", s->nr_insns, l->rec->len);
	if (!mt || !mt->ext || s->tid != mt->t->tid[0] ||
	    mt->nr_filters >= mt->ext->nr_filters)
		return bad(l, "thread %d: a filter it does not count", s->tid);
	mt->filters[mt->nr_filters++] = (struct m_filter){ s, s + 1 };
	return 0;
}

static int load_siginfo(struct loader *l, struct m_proc *mp)
{
	const struct img_siginfo *s = l->rec->p;

	if (l->rec->len != sizeof(*s))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*s));
	if (s->signo < 1 || s->signo > BCK_NSIG)
		return bad(l, "signal %u", s->signo);
	if (s->tid < 0)
		return bad(l, "tid %d", s->tid);
	return vec_push(mp->sigs, mp->nr_sigs, mp->cap_sigs, s);
}

static int load_timer(struct loader *l, struct m_proc *mp)
{
	const struct img_timer *t = l->rec->p;

	if (l->rec->len != sizeof(*t))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*t));
	if (t->reserved || t->id < 0 || t->signo < 0 || t->signo > BCK_NSIG)
		return bad(l, "timer id %d signal %d out of range", t->id, t->signo);
	return vec_push(mp->timers, mp->nr_timers, mp->cap_timers, t);
}

/* a set of the image, as many semaphores, once per process, padding zero */
static int load_sem_undo(struct loader *l, struct m_proc *mp)
{
	const struct img_sem_undo *u = l->rec->p;
	const struct m_ipc *ipc = &l->img->ipc;
	const uint8_t *pad;
	const struct img_sem *set = NULL;
	uint64_t end;
	uint32_t i;

	if (l->rec->len < sizeof(*u))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*u));
	if (!u->nsems || u->nsems > IMG_SEM_MAX ||
	    IMG_ALIGN(sizeof(*u) + 2ULL * u->nsems) != l->rec->len)
		return bad(l, "length %u does not match %u values", l->rec->len, u->nsems);
	for (i = 0; i < ipc->nr_sem && !set; i++)
		if (ipc->sem[i]->perm.id == u->semid)
			set = ipc->sem[i];
	if (!set)
		return bad(l, "sem id %d is not in the image", u->semid);
	if (set->nsems != u->nsems)
		return bad(l, "sem id %d: %u adjustments for a set of %u", u->semid,
			   u->nsems, set->nsems);
	for (i = 0; i < mp->nr_undo; i++)
		if (mp->undo[i]->semid == u->semid)
			return bad(l, "sem id %d: a second undo record", u->semid);
	end = sizeof(*u) + 2ULL * u->nsems;
	for (pad = (const uint8_t *)u + end; pad < (const uint8_t *)u + l->rec->len; pad++)
		if (*pad)
			return bad(l, "sem id %d: padding not zero", u->semid);
	return vec_push(mp->undo, mp->nr_undo, mp->cap_undo, u);
}

static int load_vma(struct loader *l, struct m_proc *mp)
{
	const struct img_vma *v = l->rec->p;
	uint64_t ps = l->img->hdr->page_size;
	struct m_vma mv = { .v = v, .index = l->rec->index };
	const char *path;
	int ret;

	if (l->rec->len < sizeof(*v))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*v));
	ret = strings(l, sizeof(*v), &v->path_len, &path, 1);
	if (ret)
		return ret;
	mv.path = path;
	if (v->kind < 1 || v->kind > IMG_VMA_KIND_MAX)
		return bad(l, "kind %u", v->kind);
	if (v->seals & ~IMG_VMA_SEALS ||
	    (v->seals && v->kind != IMG_VMA_SHARED_GONE && v->kind != IMG_VMA_PRIVATE_GONE))
		return bad(l, "seals %#x on a vma of kind %u", v->seals, v->kind);
	if (v->start >= v->end || v->start % ps || v->end % ps ||
	    v->end > (1ULL << 57) || v->pgoff % ps)
		return bad(l, "range %#" PRIx64 "-%#" PRIx64 " or offset %#" PRIx64
			   " invalid", (uint64_t)v->start, (uint64_t)v->end,
			   (uint64_t)v->pgoff);
	if (mp->nr_vmas && v->start < mp->vmas[mp->nr_vmas - 1].v->end)
		return bad(l, "vma %#" PRIx64 " overlaps or is out of order",
			   (uint64_t)v->start);
	if (v->prot & ~7u)
		return bad(l, "prot %#x", v->prot);
	if ((v->kind == IMG_VMA_FILE || v->kind == IMG_VMA_SHARED_FILE ||
	     v->kind == IMG_VMA_SHARED_GONE || v->kind == IMG_VMA_PRIVATE_GONE) && !path)
		return bad(l, "file mapping without a path");
	return vec_push(mp->vmas, mp->nr_vmas, mp->cap_vmas, mv);
}

static int load_vdso(struct loader *l, struct m_proc *mp)
{
	const struct img_vdso *v = l->rec->p;
	const struct img_vdso_sym *s = (const void *)(v + 1);
	uint64_t ps = l->img->hdr->page_size;
	uint32_t i;

	if (l->rec->len < sizeof(*v))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*v));
	if (mp->vdso || v->reserved || v->nr_syms > IMG_VDSO_SYMS_MAX ||
	    l->rec->len != sizeof(*v) + (uint64_t)v->nr_syms * sizeof(*s) ||
	    !v->size || v->size % ps || v->size > (1u << 20))
		return bad(l, "%u symbols in %u bytes, size %#llx", v->nr_syms,
			   l->rec->len, (unsigned long long)v->size);
	for (i = 0; i < v->nr_syms; i++)
		if (!nul_in(s[i].name, sizeof(s[i].name)) || s[i].offset >= v->size)
			return bad(l, "symbol %u malformed", i);
	mp->vdso = v;
	mp->vdso_syms = s;
	return 0;
}

/* right after the chunk it is for (verify() in img.c checks the sums) */
static int load_page_sums(struct loader *l, struct m_proc *mp)
{
	const struct img_page_sums *s = l->rec->p;
	struct m_pages *pg = mp->nr_chunks ? &mp->pages[mp->nr_chunks - 1] : NULL;

	if (l->rec->len < sizeof(*s) ||
	    l->rec->len != IMG_ALIGN(sizeof(*s) + (uint64_t)s->nr * 8))
		return bad(l, "length %u does not fit its sums", l->rec->len);
	if (!pg || pg->sums || pg->index + 1 != l->rec->index)
		return bad(l, "not right after a page chunk");
	if (s->piece_pages != IMG_PIECE_PAGES || s->nr != img_pieces(pg->nr))
		return bad(l, "%u sums of %u pages for %u pages", s->nr,
			   s->piece_pages, pg->nr);
	pg->sums = s;
	return 0;
}

/* inside a VMA, page-aligned, in order */
static int load_guard(struct loader *l, struct m_proc *mp)
{
	const struct img_guard *g = l->rec->p;
	uint64_t ps = l->img->hdr->page_size;
	uint32_t i;

	if (l->rec->len != sizeof(*g))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*g));
	if (g->start >= g->end || g->start % ps || g->end % ps ||
	    (mp->nr_guards && g->start < mp->guards[mp->nr_guards - 1]->end))
		return bad(l, "guard %#" PRIx64 "-%#" PRIx64 " out of order or unaligned",
			   (uint64_t)g->start, (uint64_t)g->end);
	for (i = 0; i < mp->nr_vmas; i++)
		if (mp->vmas[i].v->start <= g->start && g->end <= mp->vmas[i].v->end)
			break;
	if (i == mp->nr_vmas)
		return bad(l, "guard %#" PRIx64 " outside every vma", (uint64_t)g->start);
	return vec_push(mp->guards, mp->nr_guards, mp->cap_guards, g);
}

/* page-aligned, in order; mm_cow_check_model() checks the VMAs at the end */
static int load_cow(struct loader *l, struct m_proc *mp)
{
	const struct img_cow *c = l->rec->p;
	uint64_t ps = l->img->hdr->page_size;

	if (l->rec->len != sizeof(*c))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*c));
	if (c->start >= c->end || c->start % ps || c->end % ps ||
	    (mp->nr_cows && c->start < mp->cows[mp->nr_cows - 1]->end))
		return bad(l, "shared pages %#" PRIx64 "-%#" PRIx64 " out of order "
			   "or unaligned", (uint64_t)c->start, (uint64_t)c->end);
	mp->nr_cow_pages += (c->end - c->start) / ps;
	return vec_push(mp->cows, mp->nr_cows, mp->cap_cows, c);
}

uint32_t m_pages_lower(const uint64_t *va, uint32_t nr, uint32_t from, uint64_t at)
{
	uint32_t lo = from, hi = nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (va[mid] < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Pages outside every VMA of @mp: the index of the first, or -1.  The
 * addresses increase (img_next checked), so a binary search per VMA
 * finds the first page at or after its end, which must be in the next
 * one: O(VMAs log pages), not a step per page (a lazy restore's resume
 * waits for this).
 */
static int64_t outside_vmas(const struct m_proc *mp, const uint64_t *va, uint32_t nr)
{
	uint32_t i = 0, vi;

	for (vi = 0; vi < mp->nr_vmas && i < nr; vi++) {
		if (va[i] < mp->vmas[vi].v->start)
			return i;
		i = m_pages_lower(va, nr, i, mp->vmas[vi].v->end);
	}
	return i < nr ? (int64_t)i : -1;
}

static int load_pages(struct loader *l, struct m_proc *mp)
{
	const struct img_rec *r = l->rec;
	struct m_pages pg = {
		.nr = r->nr, .vaddrs = r->vaddrs, .data = r->data,
		.data_off = r->data_off, .index = r->index,
	};
	int64_t out;

	if (!mp->nr_vmas)
		return bad(l, "pages before any vma");
	out = outside_vmas(mp, r->vaddrs, r->nr);
	if (out >= 0)
		return bad(l, "page %#" PRIx64 " is outside every vma", r->vaddrs[out]);
	mp->nr_pages += r->nr;
	l->img->nr_pages += r->nr;
	return vec_push(mp->pages, mp->nr_chunks, mp->cap_chunks, pg);
}

static int load_zpages(struct loader *l, struct m_proc *mp)
{
	uint32_t ps = l->img->hdr->page_size, i;
	struct m_pages pg = { .index = l->rec->index };
	char why[160];
	int64_t out;
	void *m;

	if (img_zpages_parse(l->rec, ps, &pg.z, why, sizeof(why)))
		return bad(l, "%s", why);
	if (!mp->nr_vmas)
		return bad(l, "pages before any vma");
	out = outside_vmas(mp, pg.z.vaddrs, pg.z.nr);
	if (out >= 0)
		return bad(l, "page %#" PRIx64 " is outside every vma", pg.z.vaddrs[out]);
	if (!l->dctx && !(l->flags & NO_DATA) && !(l->dctx = ZSTD_createDCtx()))
		return -ENOMEM;
	m = mmap(NULL, (size_t)pg.z.nr * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return bad(l, "%u pages: %s", pg.z.nr, strerror(errno));
	pg.zbuf = m;
	pg.data = m;
	pg.nr = pg.z.nr;
	pg.vaddrs = pg.z.vaddrs;
	if (vec_push(mp->pages, mp->nr_chunks, mp->cap_chunks, pg)) {
		munmap(m, (size_t)pg.z.nr * ps);
		return -ENOMEM;
	}
	mp->nr_pages += pg.nr;
	l->img->nr_pages += pg.nr;
	if (l->flags & NO_DATA)
		return 0;
	for (i = 0; i < pg.z.nr_pieces; i++)
		if (img_zpiece(&pg.z, ps, i, pg.zbuf, l->dctx))
			return bad(l, "piece %u does not decompress to its %u pages: "
				   "the image is corrupted", i, IMG_PIECE_PAGES);
	return 0;
}

static int load_fd(struct loader *l, struct m_proc *mp)
{
	const struct img_fd *f = l->rec->p;
	struct m_fd mf = { .f = f };
	const char *path;
	int ret;

	if (l->rec->len < sizeof(*f))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*f));
	ret = strings(l, sizeof(*f), &f->path_len, &path, 1);
	if (ret)
		return ret;
	if (!path)
		return bad(l, "fd without a path");
	mf.path = path;
	/* NR_OPEN bounds every fd number the kernel hands out */
	if (f->fd < 0 || f->fd >= (1 << 20) || f->kind < 1 || f->kind > IMG_FD_KIND_MAX ||
	    f->flags & ~IMG_FD_FLAGS_ALL || f->reserved || !f->file_id)
		return bad(l, "fd %d kind %u flags %#x", f->fd, f->kind, f->flags);
	if (mp->nr_fds && f->fd <= mp->fds[mp->nr_fds - 1].f->fd)
		return bad(l, "fd %d is out of order", f->fd);
	return vec_push(mp->fds, mp->nr_fds, mp->cap_fds, mf);
}

/* IMG_PIPE: the state of the pipe or fifo of the fd just before it */
static int load_pipe(struct loader *l, struct m_proc *mp)
{
	const struct img_pipe *p = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;

	if (l->rec->len < sizeof(*p))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*p));
	if (IMG_ALIGN((uint64_t)sizeof(*p) + p->data_len) != l->rec->len)
		return bad(l, "length %u does not match %u bytes of data",
			   l->rec->len, p->data_len);
	if (!mf || mf->f->kind != IMG_FD_FIFO || mf->ext)
		return bad(l, "not right after the fd record of a pipe");
	if (p->ino != mf->f->ino)
		return bad(l, "inode %llu, its fd's is %llu",
			   (unsigned long long)p->ino, (unsigned long long)mf->f->ino);
	if (p->flags & ~IMG_PIPE_FLAGS_ALL || p->reserved ||
	    (p->data_len && !(p->flags & IMG_PIPE_DATA)) || p->data_len > p->size)
		return bad(l, "flags %#x, %u bytes in a pipe of %u", p->flags,
			   p->data_len, p->size);
	mf->ext = &p->h;
	mf->data = (const uint8_t *)(p + 1);
	return 0;
}

/* IMG_UNIX: the state of the socket of the fd just before it */
static int load_unix(struct loader *l, struct m_proc *mp)
{
	const struct img_unix *u = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	uint64_t total = 0;
	uint32_t i, len;

	if (l->rec->len < sizeof(*u))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*u));
	if (u->nr_msgs > IMG_UNIX_MSGS_MAX ||
	    IMG_ALIGN(sizeof(*u) + (uint64_t)u->nr_msgs * 4 + u->data_len) != l->rec->len)
		return bad(l, "length %u does not match %u messages of %u bytes",
			   l->rec->len, u->nr_msgs, u->data_len);
	if (!mf || mf->f->kind != IMG_FD_UNIX || mf->ext)
		return bad(l, "not right after the fd record of a unix socket");
	if (u->ino != mf->f->ino)
		return bad(l, "inode %llu, its fd's is %llu",
			   (unsigned long long)u->ino, (unsigned long long)mf->f->ino);
	if (u->flags & ~IMG_UNIX_F_ALL || u->reserved || u->name_len > sizeof(u->name) ||
	    u->shutdown > 3 || (u->nr_msgs && !(u->flags & IMG_UNIX_F_QUEUED)))
		return bad(l, "flags %#x, shutdown %u, name of %u bytes", u->flags,
			   u->shutdown, u->name_len);
	for (i = 0; i < u->nr_msgs; i++) {
		memcpy(&len, (const uint8_t *)(u + 1) + i * 4, 4);
		total += len;
	}
	if (total != u->data_len)
		return bad(l, "messages of %" PRIu64 " bytes, %u in all", total, u->data_len);
	mf->ext = &u->h;
	mf->data = (const uint8_t *)(u + 1);
	return 0;
}

/* IMG_INET: a TCP or UDP socket, the queues of a connection */
static int load_inet(struct loader *l, struct m_proc *mp)
{
	const struct img_inet *in = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	static const uint8_t zero[12];
	uint64_t bytes;
	bool tcp;

	if (l->rec->len < sizeof(*in))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*in));
	bytes = in->flags & IMG_INET_F_QUEUED ? (uint64_t)in->outq_len + in->inq_len : 0;
	if (in->outq_len > IMG_INET_QUEUE_MAX || in->inq_len > IMG_INET_QUEUE_MAX ||
	    in->unsent_len > in->outq_len ||
	    IMG_ALIGN(sizeof(*in) + bytes) != l->rec->len)
		return bad(l, "length %u does not match queues of %u (%u unsent) and %u "
			   "bytes", l->rec->len, in->outq_len, in->unsent_len, in->inq_len);
	if (!mf || mf->f->kind != IMG_FD_INET || mf->ext)
		return bad(l, "not right after the fd record of a TCP or UDP socket");
	if (in->ino != mf->f->ino)
		return bad(l, "inode %llu, its fd's is %llu",
			   (unsigned long long)in->ino, (unsigned long long)mf->f->ino);
	tcp = in->type == 1 && in->proto == 6;		/* SOCK_STREAM, IPPROTO_TCP */
	if ((in->family != 2 && in->family != 10) ||	/* AF_INET, AF_INET6 */
	    (!tcp && !(in->type == 2 && in->proto == 17)) || in->state > 12 ||
	    (in->family == 2 && (memcmp(in->src + 4, zero, 12) || memcmp(in->dst + 4, zero, 12))))
		return bad(l, "family %u type %u protocol %u state %u", in->family,
			   in->type, in->proto, in->state);
	if (in->flags & ~IMG_INET_F_ALL || in->reserved ||
	    (in->flags & IMG_INET_F_QUEUED && !(in->flags & IMG_INET_F_REPAIR)) ||
	    (in->flags & IMG_INET_F_REPAIR && (!tcp || in->state != 1)) ||
	    (!(in->flags & IMG_INET_F_QUEUED) && (in->outq_len || in->inq_len)))
		return bad(l, "flags %#x in state %u", in->flags, in->state);
	/* what do_tcp_setsockopt() takes in repair mode (TCP_MAX_WSCALE 14) */
	if (in->flags & IMG_INET_F_REPAIR &&
	    (!in->mss || in->mss > 65535 || in->snd_wscale > 14 || in->rcv_wscale > 14))
		return bad(l, "mss %u, window scales %u and %u", in->mss, in->snd_wscale,
			   in->rcv_wscale);
	mf->ext = &in->h;
	mf->data = (const uint8_t *)(in + 1);
	return 0;
}

/* IMG_EVENTFD, IMG_TIMERFD, IMG_SIGNALFD, IMG_EPOLL after their fd */
static int load_anon(struct loader *l, struct m_proc *mp)
{
	static const struct { uint32_t type, kind; size_t size; } recs[] = {
		{ IMG_EVENTFD, IMG_FD_EVENTFD, sizeof(struct img_eventfd) },
		{ IMG_TIMERFD, IMG_FD_TIMERFD, sizeof(struct img_timerfd) },
		{ IMG_SIGNALFD, IMG_FD_SIGNALFD, sizeof(struct img_signalfd) },
		{ IMG_EPOLL, IMG_FD_EPOLL, sizeof(struct img_epoll) },
	};
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	const struct img_epoll *ep = l->rec->p;
	const struct img_eventfd *e = l->rec->p;
	uint64_t want;
	size_t i;

	for (i = 0; recs[i].type != l->rec->type; i++)
		;
	want = recs[i].size;
	if (l->rec->type == IMG_EPOLL && l->rec->len >= sizeof(*ep)) {
		if (ep->nr_items > IMG_EPOLL_ITEMS_MAX || ep->reserved)
			return bad(l, "%u items", ep->nr_items);
		want += (uint64_t)ep->nr_items * sizeof(struct img_epoll_item);
	}
	if (l->rec->len != IMG_ALIGN(want))
		return bad(l, "length %u, not %" PRIu64, l->rec->len, IMG_ALIGN(want));
	if (!mf || mf->f->kind != recs[i].kind || mf->ext)
		return bad(l, "not right after the fd record of its kind");
	if (l->rec->type == IMG_EVENTFD && (e->semaphore > 1 || e->reserved))
		return bad(l, "semaphore %u", e->semaphore);
	mf->ext = l->rec->p;
	mf->data = (const uint8_t *)l->rec->p + recs[i].size;
	return 0;
}

/*
 * IMG_INOTIFY, IMG_FANOTIFY: nr_watches marks, then the paths they
 * name, each inside the paths, with its NUL and no other
 */
static int load_notify(struct loader *l, struct m_proc *mp)
{
	bool fan = l->rec->type == IMG_FANOTIFY;
	size_t head = fan ? sizeof(struct img_fanotify) : sizeof(struct img_inotify);
	const struct img_inotify *in = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	const uint8_t *marks = (const uint8_t *)l->rec->p + head;
	const char *paths;
	struct img_notify_mark k;
	uint32_t i;

	if (l->rec->len < head)
		return bad(l, "length %u below %zu", l->rec->len, head);
	if (in->nr_watches > IMG_NOTIFY_MARKS_MAX ||
	    IMG_ALIGN(head + (uint64_t)in->nr_watches * sizeof(k) + in->paths_len) !=
	    l->rec->len)
		return bad(l, "length %u does not match %u marks and %u bytes of paths",
			   l->rec->len, in->nr_watches, in->paths_len);
	if (!mf || mf->f->kind != (fan ? IMG_FD_FANOTIFY : IMG_FD_INOTIFY) || mf->ext)
		return bad(l, "not right after the fd record of its kind");
	paths = (const char *)marks + (size_t)in->nr_watches * sizeof(k);
	for (i = 0; i < in->nr_watches; i++) {
		memcpy(&k, marks + (size_t)i * sizeof(k), sizeof(k));
		if (k.reserved || (!fan && (k.type || k.flags || k.ignored_mask || k.wd <= 0)) ||
		    k.type > IMG_FAN_MARK_FS)
			return bad(l, "mark %u: wd %d, type %u, flags %#x", i, k.wd, k.type,
				   k.flags);
		if (k.path_len && ((uint64_t)k.path_off + k.path_len > in->paths_len ||
				   strnlen(paths + k.path_off, k.path_len) != k.path_len - 1))
			return bad(l, "mark %u: path at %u of %u bytes is malformed", i,
				   k.path_off, k.path_len);
	}
	mf->ext = l->rec->p;
	mf->data = marks;
	return 0;
}

/* every fd of a kind with a record has it */
static int check_has_ext(struct ckpt_image *img)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind >= IMG_FD_EVENTFD && !mf->ext)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: no record of its state "
						"after it", img->procs[i].p->pid[0],
						mf->f->fd), -EINVAL;
		}
	return 0;
}

static uint32_t ext_flags(const struct ckpt_hdr *h)
{
	return h->type == IMG_PIPE ? ((const struct img_pipe *)h)->flags :
	       h->type == IMG_FILEDATA ? ((const struct img_filedata *)h)->flags :
	       ((const struct img_unix *)h)->flags;
}

/* IMG_FILEDATA: a memfd's or deleted file's content */
static int load_filedata(struct loader *l, struct m_proc *mp)
{
	const struct img_filedata *d = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	struct m_vma *mv = mp->nr_vmas ? &mp->vmas[mp->nr_vmas - 1] : NULL;
	uint64_t bytes;

	if (l->rec->len < sizeof(*d))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*d));
	if (d->flags & ~IMG_FILEDATA_FLAGS_ALL || d->reserved || d->mode > 07777 ||
	    (d->flags & IMG_FILEDATA_TOO_BIG && !(d->flags & IMG_FILEDATA_CONTENT)))
		return bad(l, "flags %#x, mode %o", d->flags, d->mode);
	bytes = d->flags == IMG_FILEDATA_CONTENT ? d->size : 0;
	if (bytes > IMG_FILEDATA_MAX || IMG_ALIGN(sizeof(*d) + bytes) != l->rec->len)
		return bad(l, "length %u does not match %llu bytes of content",
			   l->rec->len, (unsigned long long)bytes);
	/* after a privately mapped one's VMA (fds come after every VMA) */
	if (mv && mv->index + 1 == l->rec->index) {
		if (mv->v->kind != IMG_VMA_PRIVATE_GONE || !(d->flags & IMG_FILEDATA_CONTENT))
			return bad(l, "after a vma of kind %u, flags %#x", mv->v->kind,
				   d->flags);
		if (d->ino != mv->v->ino || d->size != mv->v->size)
			return bad(l, "inode %llu of %llu bytes, its vma's is %llu of %llu",
				   (unsigned long long)d->ino, (unsigned long long)d->size,
				   (unsigned long long)mv->v->ino,
				   (unsigned long long)mv->v->size);
		mv->fdata = d;
		mv->data = (const uint8_t *)(d + 1);
		return 0;
	}
	if (!mf || (mf->f->kind != IMG_FD_MEMFD && mf->f->kind != IMG_FD_GONE) || mf->ext)
		return bad(l, "not right after the fd record of a memfd or deleted file");
	if (d->ino != mf->f->ino)
		return bad(l, "inode %llu, its fd's is %llu",
			   (unsigned long long)d->ino, (unsigned long long)mf->f->ino);
	mf->ext = &d->h;
	mf->data = (const uint8_t *)(d + 1);
	return 0;
}

/* fds of @kind have their record; one per inode has @flag */
static int check_ext(struct ckpt_image *img, uint32_t kind, uint32_t flag,
		     const char *what)
{
	uint32_t i, j, k, l, n;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_fds; j++) {
			const struct m_fd *mf = &mp->fds[j];

			if (mf->f->kind != kind)
				continue;
			if (!mf->ext)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: no %s record after it",
						mp->p->pid[0], mf->f->fd, what), -EINVAL;
			for (n = 0, k = 0; k < img->nr_procs; k++)
				for (l = 0; l < img->procs[k].nr_fds; l++) {
					const struct m_fd *o = &img->procs[k].fds[l];

					if (o->f->kind != kind || !o->ext ||
					    o->f->ino != mf->f->ino || o->f->dev != mf->f->dev)
						continue;
					n += !!(ext_flags(o->ext) & flag);
				}
			if (n != 1)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: %s inode %llu has its "
						"content in %u records, not 1",
						mp->p->pid[0], mf->f->fd, what,
						(unsigned long long)mf->f->ino, n), -EINVAL;
		}
	}
	return 0;
}

/* an established TCP connection has its queues in one record of its inode */
static int check_inet(struct ckpt_image *img)
{
	uint32_t i, j, k, l, n;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];
			const struct img_inet *in = (const void *)mf->ext;
			bool need;

			if (mf->f->kind != IMG_FD_INET || !mf->ext)
				continue;
			need = in->proto == 6 && in->state == 1 && !(in->flags & IMG_INET_F_NETNS);
			for (n = 0, k = 0; k < img->nr_procs; k++)
				for (l = 0; l < img->procs[k].nr_fds; l++) {
					const struct m_fd *o = &img->procs[k].fds[l];

					n += o->f->kind == IMG_FD_INET && o->ext &&
					     o->f->ino == mf->f->ino &&
					     ((const struct img_inet *)o->ext)->flags &
					     IMG_INET_F_QUEUED;
				}
			if (n > 1 || (need && n != 1))
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: TCP inode %llu has its "
						"queues in %u records, not 1",
						img->procs[i].p->pid[0], mf->f->fd,
						(unsigned long long)mf->f->ino, n), -EINVAL;
		}
	return 0;
}

/* every pipe end has its record, and each pipe its bytes once */
static int check_pipes(struct ckpt_image *img)
{
	uint32_t i, j, k, l, n;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_fds; j++) {
			const struct m_fd *mf = &mp->fds[j];

			if (mf->f->kind != IMG_FD_FIFO)
				continue;
			if (!mf->ext)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: a pipe without its "
						"pipe record", mp->p->pid[0],
						mf->f->fd), -EINVAL;
			for (n = 0, k = 0; k < img->nr_procs; k++)
				for (l = 0; l < img->procs[k].nr_fds; l++) {
					const struct m_fd *o = &img->procs[k].fds[l];

					n += o->ext && o->f->ino == mf->f->ino &&
					     o->f->dev == mf->f->dev &&
					     ((const struct img_pipe *)o->ext)->flags &
					     IMG_PIPE_DATA;
				}
			if (n != 1)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: fd %d: pipe inode %llu has "
						"its bytes in %u records, not 1",
						mp->p->pid[0], mf->f->fd,
						(unsigned long long)mf->f->ino, n), -EINVAL;
		}
	}
	return 0;
}

/* IMG_TTY: the pty of the fd just before it */
static int load_tty(struct loader *l, struct m_proc *mp)
{
	const struct img_tty *t = l->rec->p;
	struct m_fd *mf = mp->nr_fds ? &mp->fds[mp->nr_fds - 1] : NULL;
	uint32_t i, j;

	if (l->rec->len < sizeof(*t))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*t));
	if (t->data_len > IMG_TTY_DATA_MAX || t->in_len > IMG_TTY_DATA_MAX ||
	    IMG_ALIGN((uint64_t)sizeof(*t) + t->data_len + t->in_len) != l->rec->len)
		return bad(l, "length %u does not match %u + %u bytes of data",
			   l->rec->len, t->data_len, t->in_len);
	if (!mf || mf->f->kind != IMG_FD_TTY || mf->ext)
		return bad(l, "not right after the fd record of a terminal");
	if (t->flags & ~IMG_TTY_FLAGS_ALL || t->sid < 0 || t->pgrp < 0 ||
	    ((t->data_len || t->in_len) && !(t->flags & IMG_TTY_DATA)) ||
	    (t->flags & IMG_TTY_DATA && !(t->flags & IMG_TTY_MASTER)) ||
	    (t->flags & (IMG_TTY_LOCKED | IMG_TTY_PKT) && !(t->flags & IMG_TTY_MASTER)))
		return bad(l, "flags %#x, %u bytes, session %d group %d", t->flags,
			   t->data_len, t->sid, t->pgrp);
	for (i = 0; i < sizeof(t->pad); i++)
		if (t->pad[i])
			return bad(l, "padding byte %u is %u", i, t->pad[i]);
	/* the pair's bytes are in one record at most */
	for (i = 0; t->flags & IMG_TTY_DATA && i < l->img->nr_procs; i++) {
		const struct m_proc *o = &l->img->procs[i];

		for (j = 0; j < o->nr_fds; j++) {
			const struct img_tty *ot = (const void *)o->fds[j].ext;

			if (o->fds[j].f->kind == IMG_FD_TTY && ot &&
			    ot->flags & IMG_TTY_DATA && ot->index == t->index)
				return bad(l, "a second record with the output of pts %u",
					   t->index);
		}
	}
	mf->ext = &t->h;
	mf->data = (const uint8_t *)(t + 1);
	return 0;
}

/* the fd a lock is on: open for what the lock needs (the kernel's rule) */
static int check_lock_fd(struct loader *l, const struct m_proc *mp,
			 const struct img_lock *k)
{
	uint32_t i, acc;

	for (i = 0; i < mp->nr_fds; i++) {
		if (mp->fds[i].f->fd != k->fd)
			continue;
		acc = mp->fds[i].f->open_flags & O_ACCMODE;
		/* fcntl_setlk(): F_RDLCK needs FMODE_READ, F_WRLCK FMODE_WRITE */
		if (k->kind != IMG_LOCK_FLOCK &&
		    ((k->type == IMG_LOCK_READ && acc == O_WRONLY) ||
		     (k->type == IMG_LOCK_WRITE && acc == O_RDONLY)))
			return bad(l, "fd %d: a %s lock on a file open %s", k->fd,
				   k->type == IMG_LOCK_READ ? "read" : "write",
				   acc == O_WRONLY ? "write-only" : "read-only");
		return 0;
	}
	return bad(l, "a lock on fd %d, which the process does not have", k->fd);
}

/* IMG_LOCKS: once per process, after its fds */
static int load_locks(struct loader *l, struct m_proc *mp)
{
	const struct img_locks *r = l->rec->p;
	const struct img_lock *k = (const void *)(r + 1);
	uint32_t i;
	int ret;

	if (l->rec->len < sizeof(*r))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*r));
	if (r->nr_locks > IMG_LOCKS_MAX || !r->nr_locks || r->reserved ||
	    l->rec->len != sizeof(*r) + (uint64_t)r->nr_locks * sizeof(*k))
		return bad(l, "length %u does not match %u locks", l->rec->len,
			   r->nr_locks);
	if (mp->has_locks)
		return bad(l, "a second locks record");
	for (i = 0; i < r->nr_locks; i++, k++) {
		if (!k->kind || k->kind > IMG_LOCK_KIND_MAX || k->reserved ||
		    (k->type != IMG_LOCK_READ && k->type != IMG_LOCK_WRITE))
			return bad(l, "lock %u: kind %u type %u", i, k->kind, k->type);
		if (k->start > IMG_LOCK_OFF_MAX || k->len > IMG_LOCK_OFF_MAX - k->start + 1 ||
		    (k->kind == IMG_LOCK_FLOCK && (k->start || k->len)))
			return bad(l, "lock %u: %llu bytes from %llu", i,
				   (unsigned long long)k->len, (unsigned long long)k->start);
		if (i && k->fd < k[-1].fd)
			return bad(l, "lock %u: fd %d is out of order", i, k->fd);
		ret = check_lock_fd(l, mp, k);
		if (ret)
			return ret;
	}
	mp->locks = (const void *)(r + 1);
	mp->nr_locks = r->nr_locks;
	mp->has_locks = true;
	return 0;
}

static int load_error(struct loader *l)
{
	const struct img_error *e = l->rec->p;
	const char *msg = NULL;

	if (l->rec->len >= sizeof(*e) &&
	    !strings(l, sizeof(*e), &e->msg_len, &msg, 1) && msg)
		return bad(l, "the snap recorded a failure: %s", msg);
	return bad(l, "the snap recorded a failure");
}

/* ---- SysV IPC: before the first process, IMG_IPC_NS first ---- */

static int check_perm(struct loader *l, const struct img_ipc_perm *pm,
		      uint32_t modes)
{
	if (pm->reserved || pm->mode & ~modes || pm->id < 0)
		return bad(l, "id %d, mode %o or reserved field", pm->id, pm->mode);
	return 0;
}

/* ids and (non-private) keys are unique among the objects of a kind */
static int check_unique(struct loader *l, const struct img_ipc_perm *pm,
			const struct img_ipc_perm *other, const char *kind)
{
	if (pm->id == other->id)
		return bad(l, "%s id %d appears twice", kind, pm->id);
	if (pm->key && pm->key == other->key)
		return bad(l, "%s key %#x appears twice", kind, (unsigned)pm->key);
	return 0;
}

static int load_ipc_ns(struct loader *l, struct m_ipc *ipc)
{
	const struct img_ipc_ns *n = l->rec->p;

	if (l->rec->len != sizeof(*n))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*n));
	if (ipc->ns)
		return bad(l, "a second namespace record");
	if (n->flags & ~IMG_NS_FLAGS_ALL)
		return bad(l, "unknown flags %#x", n->flags);
	if (n->nr_shm > IMG_IPC_MAX || n->nr_sem > IMG_IPC_MAX ||
	    n->nr_msq > IMG_IPC_MAX)
		return bad(l, "%u segments, %u semaphore sets, %u queues",
			   n->nr_shm, n->nr_sem, n->nr_msq);
	if (!nul_in(n->hostname, sizeof(n->hostname)) ||
	    !nul_in(n->domainname, sizeof(n->domainname)))
		return bad(l, "host or domain name not terminated");
	ipc->ns = n;
	return 0;
}

static int load_shm(struct loader *l, struct m_ipc *ipc)
{
	const struct img_shm *s = l->rec->p;
	struct m_shm ms = { .s = s };
	uint32_t i;
	int ret;

	if (l->rec->len != sizeof(*s))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*s));
	if (ipc->nr_sem || ipc->nr_msq || ipc->nr_shm >= ipc->ns->nr_shm)
		return bad(l, "out of order or more segments than %u", ipc->ns->nr_shm);
	if ((ret = check_perm(l, &s->perm, IMG_SHM_MODE_ALL)))
		return ret;
	if (!s->size || s->size > IMG_SHM_SIZE_MAX || s->cpid < 0)
		return bad(l, "size %llu or creator %d", (unsigned long long)s->size,
			   s->cpid);
	if (s->perm.mode & IMG_SHM_DEST && s->perm.key)
		return bad(l, "removed segment with key %#x", (unsigned)s->perm.key);
	if (s->nr_data > s->size / l->img->hdr->page_size + 1)
		return bad(l, "%u data records for %llu bytes", s->nr_data,
			   (unsigned long long)s->size);
	for (i = 0; i < ipc->nr_shm; i++)
		if ((ret = check_unique(l, &s->perm, &ipc->shm[i].s->perm, "shm")))
			return ret;
	if (ipc->nr_shm && ipc->shm[ipc->nr_shm - 1].nr_data !=
	    ipc->shm[ipc->nr_shm - 1].s->nr_data)
		return bad(l, "the segment before misses data records");
	return vec_push(ipc->shm, ipc->nr_shm, ipc->cap_shm, ms);
}

static int load_shm_data(struct loader *l, struct m_ipc *ipc)
{
	const struct img_shm_data *d = l->rec->p;
	struct m_shm *ms = ipc->nr_shm && !ipc->nr_sem && !ipc->nr_msq ?
			   &ipc->shm[ipc->nr_shm - 1] : NULL;
	uint64_t ps = l->img->hdr->page_size, min = 0;

	if (l->rec->len < sizeof(*d))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*d));
	if (!ms || ms->nr_data >= ms->s->nr_data)
		return bad(l, "not after its segment, or more than it says");
	if (d->reserved || !d->len || d->len > IMG_SHM_DATA_MAX || d->len % ps ||
	    d->offset % ps)
		return bad(l, "%u bytes at %llu", d->len, (unsigned long long)d->offset);
	if (IMG_ALIGN(sizeof(*d) + (uint64_t)d->len) != l->rec->len)
		return bad(l, "length %u does not match %u bytes", l->rec->len, d->len);
	if (ms->nr_data)
		min = ms->data[ms->nr_data - 1]->offset + ms->data[ms->nr_data - 1]->len;
	if (d->offset < min || d->offset > ms->s->size ||
	    d->len > (ms->s->size + ps - 1) / ps * ps - d->offset)
		return bad(l, "%u bytes at %llu: overlapping or beyond %llu bytes",
			   d->len, (unsigned long long)d->offset,
			   (unsigned long long)ms->s->size);
	return vec_push(ms->data, ms->nr_data, ms->cap_data, d);
}

static int load_sem(struct loader *l, struct m_ipc *ipc)
{
	const struct img_sem *s = l->rec->p;
	uint32_t i;
	int ret;

	if (l->rec->len < sizeof(*s))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*s));
	if (ipc->nr_msq || ipc->nr_sem >= ipc->ns->nr_sem)
		return bad(l, "out of order or more sets than %u", ipc->ns->nr_sem);
	if ((ret = check_perm(l, &s->perm, 0777)))
		return ret;
	if (s->reserved || !s->nsems || s->nsems > IMG_SEM_MAX)
		return bad(l, "%u semaphores or reserved field", s->nsems);
	if (IMG_ALIGN(sizeof(*s) + 2ULL * s->nsems) != l->rec->len)
		return bad(l, "length %u does not match %u values", l->rec->len,
			   s->nsems);
	for (i = 0; i < ipc->nr_sem; i++)
		if ((ret = check_unique(l, &s->perm, &ipc->sem[i]->perm, "sem")))
			return ret;
	return vec_push(ipc->sem, ipc->nr_sem, ipc->cap_sem, s);
}

static int load_msq(struct loader *l, struct m_ipc *ipc)
{
	const struct img_msq *q = l->rec->p;
	struct m_msq mq = { .q = q };
	uint32_t i;
	int ret;

	if (l->rec->len != sizeof(*q))
		return bad(l, "length %u, expected %zu", l->rec->len, sizeof(*q));
	if (ipc->nr_msq >= ipc->ns->nr_msq)
		return bad(l, "more queues than %u", ipc->ns->nr_msq);
	if ((ret = check_perm(l, &q->perm, 0777)))
		return ret;
	if (q->reserved || q->qbytes > INT32_MAX || q->nr_msgs > 1u << 20)
		return bad(l, "qbytes %llu, %u messages or reserved field",
			   (unsigned long long)q->qbytes, q->nr_msgs);
	for (i = 0; i < ipc->nr_msq; i++)
		if ((ret = check_unique(l, &q->perm, &ipc->msq[i].q->perm, "msg")))
			return ret;
	if (ipc->nr_msq && ipc->msq[ipc->nr_msq - 1].nr_msgs !=
	    ipc->msq[ipc->nr_msq - 1].q->nr_msgs)
		return bad(l, "the queue before misses messages");
	return vec_push(ipc->msq, ipc->nr_msq, ipc->cap_msq, mq);
}

static int load_msg(struct loader *l, struct m_ipc *ipc)
{
	const struct img_msg *m = l->rec->p;
	struct m_msq *mq = ipc->nr_msq ? &ipc->msq[ipc->nr_msq - 1] : NULL;

	if (l->rec->len < sizeof(*m))
		return bad(l, "length %u below %zu", l->rec->len, sizeof(*m));
	if (!mq || mq->nr_msgs >= mq->q->nr_msgs)
		return bad(l, "not after its queue, or more than it says");
	if (m->reserved || m->mtype <= 0 || m->len > IMG_MSG_MAX)
		return bad(l, "type %lld, %u bytes or reserved field",
			   (long long)m->mtype, m->len);
	if (IMG_ALIGN(sizeof(*m) + (uint64_t)m->len) != l->rec->len)
		return bad(l, "length %u does not match %u bytes", l->rec->len, m->len);
	return vec_push(mq->msgs, mq->nr_msgs, mq->cap_msgs, m);
}

static int load_ipc(struct loader *l)
{
	struct m_ipc *ipc = &l->img->ipc;

	if (l->img->nr_procs)
		return bad(l, "SysV IPC record after the first process");
	if (l->rec->type == IMG_IPC_NS)
		return load_ipc_ns(l, ipc);
	if (!ipc->ns)
		return bad(l, "before the namespace record");
	switch (l->rec->type) {
	case IMG_SHM:
		return load_shm(l, ipc);
	case IMG_SHM_DATA:
		return load_shm_data(l, ipc);
	case IMG_SEM:
		return load_sem(l, ipc);
	case IMG_MSQ:
		return load_msq(l, ipc);
	}
	return load_msg(l, ipc);
}

/* every object the namespace record counts is there, each complete */
static int check_ipc(struct ckpt_image *img)
{
	const struct m_ipc *ipc = &img->ipc;
	uint32_t i;

	if (!ipc->ns)
		return 0;
	if (ipc->nr_shm != ipc->ns->nr_shm || ipc->nr_sem != ipc->ns->nr_sem ||
	    ipc->nr_msq != ipc->ns->nr_msq)
		return snprintf(img->r.err, sizeof(img->r.err),
				"SysV IPC: %u/%u/%u objects, the namespace record "
				"says %u/%u/%u", ipc->nr_shm, ipc->nr_sem, ipc->nr_msq,
				ipc->ns->nr_shm, ipc->ns->nr_sem, ipc->ns->nr_msq), -EINVAL;
	for (i = 0; i < ipc->nr_shm; i++)
		if (ipc->shm[i].nr_data != ipc->shm[i].s->nr_data)
			return snprintf(img->r.err, sizeof(img->r.err),
					"shm id %d: %u data records, it says %u",
					ipc->shm[i].s->perm.id, ipc->shm[i].nr_data,
					ipc->shm[i].s->nr_data), -EINVAL;
	for (i = 0; i < ipc->nr_msq; i++)
		if (ipc->msq[i].nr_msgs != ipc->msq[i].q->nr_msgs)
			return snprintf(img->r.err, sizeof(img->r.err),
					"msg id %d: %u messages, it says %u",
					ipc->msq[i].q->perm.id, ipc->msq[i].nr_msgs,
					ipc->msq[i].q->nr_msgs), -EINVAL;
	return 0;
}

const struct m_shm *image_find_shm(const struct ckpt_image *img, int32_t id)
{
	uint32_t i;

	for (i = 0; i < img->ipc.nr_shm; i++)
		if (img->ipc.shm[i].s->perm.id == id)
			return &img->ipc.shm[i];
	return NULL;
}

/* right after the header: this snap, its parent and its processes */
static int load_chain(struct loader *l)
{
	const struct img_chain *c = l->rec->p;
	uint64_t fixed = sizeof(*c);
	const char *parent = NULL;

	if (l->rec->index != 1 || l->img->chain)
		return bad(l, "not right after the header");
	if (l->rec->len < sizeof(*c))
		return bad(l, "too short");
	fixed += (uint64_t)c->nr_procs * sizeof(struct img_chain_proc);
	if (c->reserved || (c->flags & ~IMG_CHAIN_FLAGS_ALL) || !c->id ||
	    c->nr_procs != l->img->hdr->nr_procs ||
	    IMG_ALIGN(fixed + c->parent_len) != l->rec->len)
		return bad(l, "id %#llx, flags %#x, %u processes in %u bytes",
			   (unsigned long long)c->id, c->flags, c->nr_procs, l->rec->len);
	if (!c->parent_id != !c->parent_len)
		return bad(l, "a parent id without a path or the other way round");
	if (c->parent_len && !(parent = img_str(l->rec, fixed, c->parent_len)))
		return bad(l, "parent path not terminated");
	l->img->chain = c;
	l->img->chain_procs = (const struct img_chain_proc *)(c + 1);
	l->img->chain_parent = parent;
	return 0;
}

/* after the process's pages: ranges increasing, apart, inside its VMAs */
static int load_inherit(struct loader *l, struct m_proc *mp)
{
	const struct img_inherit *in = l->rec->p;
	const struct img_range *r = (const void *)(in + 1);
	uint64_t ps = l->img->hdr->page_size, prev = 0, va;
	uint32_t i, vi = 0;

	if (l->rec->len < sizeof(*in) || in->reserved ||
	    l->rec->len != sizeof(*in) + (uint64_t)in->nr * sizeof(*r) || !in->nr)
		return bad(l, "%u ranges in %u bytes", l->rec->len < sizeof(*in) ? 0 :
			   in->nr, l->rec->len);
	if (!l->img->chain || !l->img->chain->parent_id)
		return bad(l, "pages from a parent, but the image has none");
	if (mp->nr_inh) {
		const struct img_inherit *last = mp->inh[mp->nr_inh - 1];

		prev = ((const struct img_range *)(last + 1))[last->nr - 1].end;
	}
	for (i = 0; i < in->nr; i++) {
		if (r[i].start % ps || r[i].end % ps || r[i].start >= r[i].end ||
		    r[i].start < prev || r[i].end >= (1ULL << 57))
			return bad(l, "range %u %#llx-%#llx", i, (unsigned long long)r[i].start,
				   (unsigned long long)r[i].end);
		for (va = r[i].start; va < r[i].end; va += ps) {
			while (vi < mp->nr_vmas && mp->vmas[vi].v->end <= va)
				vi++;
			if (vi == mp->nr_vmas || mp->vmas[vi].v->start > va)
				return bad(l, "page %#" PRIx64 " is outside every vma", va);
			/* a whole VMA at a time */
			va = MIN(r[i].end, mp->vmas[vi].v->end) - ps;
		}
		mp->nr_inherited += (r[i].end - r[i].start) / ps;
		prev = r[i].end;
	}
	return vec_push(mp->inh, mp->nr_inh, mp->cap_inh, in);
}

static int load_rec(struct loader *l)
{
	struct m_proc *mp = cur(l);

	if (l->rec->type == IMG_CHAIN)
		return load_chain(l);

	if (l->rec->type == IMG_PROC)
		return load_proc(l);
	if (l->rec->type == IMG_ERROR)
		return load_error(l);
	if (l->rec->type >= IMG_IPC_NS && l->rec->type <= IMG_MSG)
		return load_ipc(l);
	if (!mp)
		return bad(l, "record before the first process");
	if (mp->p->flags & IMG_PROC_ZOMBIE && l->rec->type != IMG_PROC)
		return bad(l, "zombie process %d with state records", mp->p->pid[0]);
	switch (l->rec->type) {
	case IMG_THREAD:
		return load_thread(l, mp);
	case IMG_PROC_EXT:
		return load_proc_ext(l, mp);
	case IMG_NS:
		return load_ns(l, mp);
	case IMG_THREAD_EXT:
		return load_thread_ext(l, mp);
	case IMG_SECCOMP:
		return load_seccomp(l, mp);
	case IMG_SIGINFO:
		return load_siginfo(l, mp);
	case IMG_SEM_UNDO:
		return load_sem_undo(l, mp);
	case IMG_TIMER:
		return load_timer(l, mp);
	case IMG_VMA:
		return load_vma(l, mp);
	case IMG_PAGES:
		return load_pages(l, mp);
	case IMG_PAGE_SUMS:
		return load_page_sums(l, mp);
	case IMG_ZPAGES:
		return load_zpages(l, mp);
	case IMG_INHERIT:
		return load_inherit(l, mp);
	case IMG_GUARD:
		return load_guard(l, mp);
	case IMG_COW:
		return load_cow(l, mp);
	case IMG_VDSO:
		return load_vdso(l, mp);
	case IMG_FD:
		return load_fd(l, mp);
	case IMG_PIPE:
		return load_pipe(l, mp);
	case IMG_UNIX:
		return load_unix(l, mp);
	case IMG_EVENTFD:
	case IMG_TIMERFD:
	case IMG_SIGNALFD:
	case IMG_EPOLL:
		return load_anon(l, mp);
	case IMG_FILEDATA:
		return load_filedata(l, mp);
	case IMG_INOTIFY:
	case IMG_FANOTIFY:
		return load_notify(l, mp);
	case IMG_LOCKS:
		return load_locks(l, mp);
	case IMG_TTY:
		return load_tty(l, mp);
	case IMG_INET:
		return load_inet(l, mp);
	}
	return bad(l, "unexpected record");
}

/* once everything is read: counts and references between records */
static int check_whole(struct ckpt_image *img)
{
	uint32_t i, j, k;

	if (img->nr_procs != img->hdr->nr_procs || !img->nr_procs)
		return snprintf(img->r.err, sizeof(img->r.err),
				"%u processes, header says %u", img->nr_procs,
				img->hdr->nr_procs), -EINVAL;
	if (img->procs[0].p->pid[0] != img->hdr->root_pid)
		return snprintf(img->r.err, sizeof(img->r.err),
				"first process %d is not the root %d",
				img->procs[0].p->pid[0], img->hdr->root_pid), -EINVAL;
	for (i = 0; i < img->nr_procs; i++) {
		struct m_proc *mp = &img->procs[i];

		if (mp->nr_threads != mp->p->nr_threads)
			return snprintf(img->r.err, sizeof(img->r.err),
					"pid %d: %u threads, record says %u",
					mp->p->pid[0], mp->nr_threads,
					mp->p->nr_threads), -EINVAL;
		for (j = 0; j < mp->nr_chunks; j++)
			if (!mp->pages[j].sums && !mp->pages[j].z.nr)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: page chunk %u has no sums",
						mp->p->pid[0], j), -EINVAL;
		for (j = 0; j < mp->nr_threads; j++) {
			const struct m_thread *mt = &mp->threads[j];

			if (mt->ext && mt->nr_filters != mt->ext->nr_filters)
				return snprintf(img->r.err, sizeof(img->r.err),
						"thread %d: %u seccomp filters, it says %u",
						mt->t->tid[0], mt->nr_filters,
						mt->ext->nr_filters), -EINVAL;
		}
		for (j = 0; j < mp->nr_sigs; j++) {
			int32_t tid = mp->sigs[j]->tid;

			for (k = 0; tid && k < mp->nr_threads; k++)
				if (mp->threads[k].t->tid[0] == tid)
					break;
			if (tid && k == mp->nr_threads)
				return snprintf(img->r.err, sizeof(img->r.err),
						"pid %d: queued signal for unknown "
						"thread %d", mp->p->pid[0], tid), -EINVAL;
		}
		if (i == 0)
			continue;
		mp->parent = image_find(img, mp->p->ppid[0]);
		if (mp->parent < 0 || (uint32_t)mp->parent >= i)
			return snprintf(img->r.err, sizeof(img->r.err),
					"pid %d: parent %d is not an earlier process "
					"of the image", mp->p->pid[0],
					mp->p->ppid[0]), -EINVAL;
	}
	return check_ipc(img) ?: check_pipes(img) ?: check_ext(img, IMG_FD_UNIX, IMG_UNIX_F_QUEUED, "unix") ?:
	       check_ext(img, IMG_FD_MEMFD, IMG_FILEDATA_CONTENT, "memfd") ?:
	       check_ext(img, IMG_FD_GONE, IMG_FILEDATA_CONTENT, "deleted file") ?:
	       check_has_ext(img) ?: check_inet(img) ?:
	       mm_cow_check_model(img, img->r.err, sizeof(img->r.err));
}

int image_find(const struct ckpt_image *img, int32_t pid)
{
	uint32_t i;

	for (i = 0; i < img->nr_procs; i++)
		if (img->procs[i].p->pid[0] == pid)
			return i;
	return -1;
}

int image_zfill(struct ckpt_image *img, bool (*skip)(const struct img_vma *v))
{
	uint32_t ps = img->hdr->page_size, i, c, k, vi, last;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (c = 0; c < mp->nr_chunks; c++) {
			const struct m_pages *pg = &mp->pages[c];

			if (!pg->z.nr)
				continue;
			/* pages increase, each inside a VMA (load_zpages checked) */
			for (k = 0, vi = 0, last = UINT32_MAX; k < pg->nr; k++) {
				while (mp->vmas[vi].v->end <= pg->vaddrs[k])
					vi++;
				if (skip && skip(mp->vmas[vi].v)) {
					/* past the VMA's pages at once */
					k = m_pages_lower(pg->vaddrs, pg->nr, k,
							  mp->vmas[vi].v->end) - 1;
					continue;
				}
				if (k / IMG_PIECE_PAGES == last)
					continue;
				last = k / IMG_PIECE_PAGES;
				if (img_zpiece(&pg->z, ps, last, pg->zbuf, NULL))
					return snprintf(img->r.err, sizeof(img->r.err),
							"record %" PRIu64 " (zpages): piece %u "
							"does not decompress: the image is "
							"corrupted", pg->index, last), -EBADMSG;
			}
		}
	}
	return 0;
}

int image_load(const char *path, unsigned flags, struct ckpt_image *img)
{
	return image_load_at(path, flags, img, 0);
}

int image_load_at(const char *path, unsigned flags, struct ckpt_image *img, int depth)
{
	struct img_rec rec;
	struct loader l = { img, &rec, flags, NULL };
	int ret;

	memset(img, 0, sizeof(*img));
	ret = img_open(path, flags, &img->r);
	if (ret)
		return ret;
	img->hdr = img->r.hdr;
	if (img->hdr->nr_procs > 1u << 20)
		return snprintf(img->r.err, sizeof(img->r.err),
				"header: %u processes", img->hdr->nr_procs), -EINVAL;
	while ((ret = img_next(&img->r, &rec)) > 0) {
		ret = load_rec(&l);
		if (ret)
			break;
	}
	ZSTD_freeDCtx(l.dctx);
	if (ret)
		return ret;
	ret = check_whole(img);
	/* snap --kill's read-back does not look at pages: the chain is restore's */
	if (!ret && img->chain && img->chain->parent_id && !(flags & IMG_OPEN_NO_CHECKSUM))
		ret = chain_resolve(img, path, flags, depth);
	return ret;
}

void image_free(struct ckpt_image *img)
{
	uint32_t i;

	for (i = 0; i < img->nr_procs; i++) {
		struct m_proc *mp = &img->procs[i];
		uint32_t j;

		for (j = 0; j < mp->nr_threads; j++)
			free(mp->threads[j].filters);
		free(mp->threads);
		free(mp->vmas);
		free(mp->fds);
		free(mp->sigs);
		free(mp->timers);
		free(mp->undo);
		free(mp->guards);
		free(mp->cows);
		if (mp->own) {
			free(mp->pages);
			mp->pages = mp->own;
			mp->nr_chunks = mp->nr_own;
		}
		for (j = 0; j < mp->nr_chunks; j++)
			if (mp->pages[j].zbuf)
				munmap(mp->pages[j].zbuf,
				       (size_t)mp->pages[j].nr * img->hdr->page_size);
		free(mp->pages);
		free(mp->inh);
	}
	free(img->procs);
	for (i = 0; i < img->ipc.nr_shm; i++)
		free(img->ipc.shm[i].data);
	for (i = 0; i < img->ipc.nr_msq; i++)
		free(img->ipc.msq[i].msgs);
	free(img->ipc.shm);
	free(img->ipc.sem);
	free(img->ipc.msq);
	if (img->parent) {
		image_free(img->parent);
		free(img->parent);
	}
	img_close(&img->r);
	memset(img, 0, sizeof(*img));
	img->r.fd = -1;
}

/* ---- copy-on-write ranges (mm_cow.c uses them at restore) ---- */

bool mm_cow_eligible(const struct img_vma *v)
{
	/*
	 * Private anonymous memory that is mapped read-write at restore
	 * anyway: VM_ACCOUNT (smaps "ac") is what such a mapping gets, so a
	 * slot (mapped read-write) does not add a flag the VMA lacked.  No
	 * stack: MAP_GROWSDOWN mappings cannot sit in a slot.
	 */
	return (v->kind == IMG_VMA_ANON || v->kind == IMG_VMA_HEAP) &&
	       !(v->map_flags & (MAP_SHARED | MAP_GROWSDOWN)) &&
	       (v->vm_flags & KVM_ACCOUNT);
}

int m_vma_within(const struct m_proc *mp, uint64_t start, uint64_t end)
{
	uint32_t i;

	for (i = 0; i < mp->nr_vmas; i++)
		if (mp->vmas[i].v->start <= start && end <= mp->vmas[i].v->end)
			return i;
	return -1;
}

bool m_has_cows(const struct m_proc *mp, const struct img_vma *v)
{
	uint32_t i;

	for (i = 0; i < mp->nr_cows; i++)
		if (v->start <= mp->cows[i]->start && mp->cows[i]->end <= v->end)
			return true;
	return false;
}

/* the image's cow ranges point at VMAs that may share */
int mm_cow_check_model(const struct ckpt_image *img, char *err, size_t len)
{
	uint32_t i, j;
	int vi, pi;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_cows; j++) {
			const struct img_cow *c = mp->cows[j];
			const struct m_proc *pp;

			vi = m_vma_within(mp, c->start, c->end);
			if (vi < 0 || !mm_cow_eligible(mp->vmas[vi].v) || mp->parent < 0)
				goto bad;
			pp = &img->procs[mp->parent];
			pi = m_vma_within(pp, mp->vmas[vi].v->start, mp->vmas[vi].v->end);
			if (pi < 0 || pp->vmas[pi].v->start != mp->vmas[vi].v->start ||
			    pp->vmas[pi].v->end != mp->vmas[vi].v->end ||
			    pp->vmas[pi].v->kind != mp->vmas[vi].v->kind ||
			    !mm_cow_eligible(pp->vmas[pi].v))
				goto bad;
		}
	}
	return 0;
bad:
	snprintf(err, len, "pid %d: pages %#llx-%#llx shared with the parent are "
		 "not in a private anonymous VMA that both have",
		 img->procs[i].p->pid[0],
		 (unsigned long long)img->procs[i].cows[j]->start,
		 (unsigned long long)img->procs[i].cows[j]->end);
	return -EINVAL;
}
