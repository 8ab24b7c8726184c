// SPDX-License-Identifier: GPL-2.0
/*
 * The lazy pager (see lazy.h).  It runs as a thread of the restorer
 * from the first registration on, so that a fault the restore itself
 * causes (the kernel writing rseq's cpu_id, a filter put below a stack
 * pointer) is served like any other; once the tree runs it also pulls
 * the rest of the pages in the background, nearest the last fault
 * first.
 *
 * Messages are read in batches and the events handled before the
 * faults: the kernel hands out faults first, but a fault on memory that
 * mremap() just moved must know of the move.  The missing pages of a
 * moved range become strays, pages whose address is no longer their
 * image address; they are copied by the next fault on them or by the
 * pull, not at the event: mremap() is not over when its REMAP event is
 * read, as it still owes the UNMAP event of the old range, and until
 * that is read too every UFFDIO_COPY fails with EAGAIN (mmap_changing).
 * madvise(MADV_DONTNEED) and munmap() drop what was not served yet; a
 * fork's new userfaultfd serves the child from what the parent still
 * missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>
#include "arch.h"
#include "inject.h"
#include "lazy.h"
#include "log.h"
#include "pgsrv.h"
#include "restore.h"
#include "util.h"

#define FAULT_RUN	16	/* pages served for one fault, around it */
#define PULL_RUN	512	/* pages per background step */
/*
 * ... while the tree faults: a fault read during a step waits for its
 * end, so steps are short while faults come (the tree's first steps
 * after its release, a new working set), long when it runs on what it
 * has.  "While": the last fault, or the release, under PULL_QUIET_NS ago.
 */
#define PULL_RUN_BUSY	32
#define PULL_QUIET_NS	(2 * 1000 * 1000ULL)
#define MAX_MSGS	64

/*
 * The image side of one restored process, shared with its forks.  The
 * pages are found in the image's own chunks (sorted by address), so
 * that nothing at attach time grows with the memory: time to resume
 * must not.
 */
struct lz_src {
	const struct m_proc *mp;
	uint8_t **piece_ok;	/* [chunk][piece]: its sum checked */
};

/* a page: chunk and index in it */
struct lz_at {
	uint32_t c, i;
};

/* a page of the image that mremap() moved to @dst, not yet served */
struct lz_stray {
	struct lz_at at;
	uint64_t dst;
};

/* one userfaultfd: an address space to fill */
struct lz_mm {
	int ufd;
	pid_t pid;		/* 0: a fork's (the event does not say whose) */
	int held;		/* the fd the restored process holds, -1: none */
	struct lz_src *src;
	uint64_t **done;	/* [chunk] bitmap: in, or no longer wanted */
	uint64_t left;		/* lazy pages not done */
	struct lz_stray *strays;
	uint32_t nr_strays, cap_strays;
	struct lz_at cursor;	/* the background pull goes on from here */
	bool gone;
};

struct pager {
	struct restore_ctx *ctx;
	pthread_t thread;
	bool started;
	int epfd;
	int wake;			/* eventfd: a new mm, released, stop */
	pthread_mutex_t lock;		/* mms[] while the restore adds to it */
	struct lz_mm **mms;
	uint32_t nr_mms, cap_mms;
	struct lz_src **srcs;
	uint32_t nr_srcs, cap_srcs;
	_Atomic bool released;		/* the tree runs: pull, and finish */
	_Atomic bool stop;
	_Atomic int err;		/* the tree had to be killed */
	bool in_pull;			/* --from: the pull waits for the bulk pull, */
	bool stalled;			/* and it did the last step */
	uint64_t faults, copied, fault_ns_max, fault_ns_sum;
	uint64_t fault_hist[64];	/* faults by log2 of their ns */
	uint64_t t_release;		/* when the tree was let go */
	uint64_t t_fault;		/* the last fault (or the release) */
	struct stat img_st;
	pid_t keeper;			/* see start_keeper(), 0: none */
	int keeper_done;		/* eventfd: the pager ended as planned */
	int keeper_pidfd;		/* the keeper's watch on us */
};

int lazy_check(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = LAZY_FEATURES };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		pr_err("--lazy: userfaultfd: %s", strerror(errno));
		return -ENOTSUP;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_err("--lazy: this kernel's userfaultfd lacks the fork, remap, remove "
		       "and unmap events (features %#x): %s", LAZY_FEATURES,
		       strerror(errno));
		close(fd);
		return -ENOTSUP;
	}
	close(fd);
	return 0;
}

bool lazy_vma(const struct img_vma *v)
{
	/*
	 * userfaultfd's missing mode takes anonymous, shmem and hugetlb
	 * memory; a private file mapping's written pages and shared memory
	 * are written as usual, and so is mlock()ed memory, which the
	 * kernel faults in at once.
	 */
	return (v->kind == IMG_VMA_ANON || v->kind == IMG_VMA_HEAP ||
		v->kind == IMG_VMA_STACK) &&
	       !(v->vm_flags & (KVM_LOCKED | KVM_UFFD_MISSING | KVM_UFFD_WP));
}

/* ---- the image side ---- */

static struct lz_src *make_src(struct pager *pg, const struct m_proc *mp)
{
	struct lz_src *s = calloc(1, sizeof(*s));
	uint32_t c;

	if (!s)
		return NULL;
	s->mp = mp;
	s->piece_ok = calloc(mp->nr_chunks + 1, sizeof(*s->piece_ok));
	if (!s->piece_ok)
		goto err;
	for (c = 0; c < mp->nr_chunks; c++) {
		s->piece_ok[c] = calloc(img_pieces(mp->pages[c].nr) + 1, 1);
		if (!s->piece_ok[c])
			goto err;
	}
	if (vec_push(pg->srcs, pg->nr_srcs, pg->cap_srcs, s))
		goto err;
	return s;
err:
	for (c = 0; s->piece_ok && c < mp->nr_chunks; c++)
		free(s->piece_ok[c]);
	free(s->piece_ok);
	free(s);
	return NULL;
}

/* the first index of @p at or after @va */
static uint32_t lower(const struct m_pages *p, uint64_t va)
{
	uint32_t lo = 0, hi = p->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->vaddrs[mid] < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* the stored page at @va (true), or the first one after it (false) */
static bool find_page(const struct m_proc *mp, uint64_t va, struct lz_at *at)
{
	uint32_t c;

	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *p = &mp->pages[c];

		if (p->vaddrs[p->nr - 1] < va)
			continue;
		at->c = c;
		at->i = lower(p, va);
		return p->vaddrs[at->i] == va;
	}
	at->c = mp->nr_chunks;
	at->i = 0;
	return false;
}

/* the VMA that holds @va, NULL if none */
static const struct img_vma *vma_of(const struct m_proc *mp, uint64_t va)
{
	uint32_t lo = 0, hi = mp->nr_vmas, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mp->vmas[mid].v->end <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mp->nr_vmas && mp->vmas[lo].v->start <= va ? mp->vmas[lo].v : NULL;
}

static bool is_done(const struct lz_mm *m, struct lz_at at)
{
	return m->done[at.c][at.i / 64] >> (at.i % 64) & 1;
}

static void mark_done(struct lz_mm *m, struct lz_at at)
{
	if (!is_done(m, at)) {
		m->done[at.c][at.i / 64] |= 1ULL << (at.i % 64);
		m->left--;
	}
}

static const uint8_t *page_data(struct pager *pg, const struct lz_mm *m, struct lz_at at)
{
	return m->src->mp->pages[at.c].data + (uint64_t)at.i * pg->ctx->img.hdr->page_size;
}

/*
 * Every done bit of pages outside lazy VMAs set (they were written, or
 * are not the pager's), so that the pull does not look at them again,
 * and the others counted: by VMA runs, not page by page.
 */
static int make_done(struct lz_mm *m)
{
	const struct m_proc *mp = m->src->mp;
	uint32_t c, i, e;

	m->done = calloc(mp->nr_chunks + 1, sizeof(*m->done));
	if (!m->done)
		return -ENOMEM;
	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *p = &mp->pages[c];

		m->done[c] = calloc((p->nr + 63) / 64 + 1, 8);
		if (!m->done[c])
			return -ENOMEM;
		for (i = 0; i < p->nr; i = e) {
			const struct img_vma *v = vma_of(mp, p->vaddrs[i]);

			e = v ? lower(p, v->end) : i + 1;
			if (v && lazy_vma(v)) {
				m->left += e - i;
				continue;
			}
			for (; i < e; i++)
				m->done[c][i / 64] |= 1ULL << (i % 64);
		}
	}
	return 0;
}

static void free_done(struct lz_mm *m)
{
	uint32_t c;

	for (c = 0; m->done && c < m->src->mp->nr_chunks; c++)
		free(m->done[c]);
	free(m->done);
}

/*
 * The piece of page @at checked against its sum before anything of it
 * is served.  The image file must still be as long as it was: a
 * truncated mapping would kill the pager with SIGBUS.
 */
static int check_piece(struct pager *pg, struct lz_src *s, struct lz_at at)
{
	const struct m_pages *chunk = &s->mp->pages[at.c];
	uint32_t piece = at.i / IMG_PIECE_PAGES;
	struct stat st;

	if (s->piece_ok[at.c][piece])
		return 0;
	/* a pre-copy chain's merged pages: all checked at load (chain.c) */
	if (!chunk->sums && !chunk->z.nr)
		return 0;
	/* compressed: the piece is decompressed when first needed, alone */
	if (chunk->z.nr) {
		if (img_zpiece(&chunk->z, pg->ctx->img.r.page_size, piece, chunk->zbuf, NULL))
			return -EBADMSG;
		s->piece_ok[at.c][piece] = 1;
		return 0;
	}
	/* --from: the piece must have arrived; a fault asks for it (pgfetch.c) */
	if (pg->ctx->remote && chunk->sums) {
		uint64_t ps = pg->ctx->img.r.page_size;
		uint64_t off = chunk->data_off + (uint64_t)piece * IMG_PIECE_PAGES * ps;
		uint64_t n = MIN(IMG_PIECE_PAGES, chunk->nr - piece * IMG_PIECE_PAGES);
		int ret = pgc_need(pg->ctx->remote, off, n * ps, !pg->in_pull);

		if (ret)
			return ret;
	}
	if (fstat(pg->ctx->img.r.fd, &st) || st.st_size < pg->img_st.st_size)
		return -EIO;
	if (!img_piece_ok(pg->ctx->img.r.page_size, chunk->data, chunk->nr, chunk->sums,
			  piece))
		return -EBADMSG;
	s->piece_ok[at.c][piece] = 1;
	return 0;
}

/* ---- serving ---- */

static void fatal(struct pager *pg, struct lz_mm *m, uint64_t va, int err)
{
	int expect = 0;
	char why[320];

	if (pg->ctx->remote && pgc_broken(pg->ctx->remote)) {
		if (atomic_compare_exchange_strong(&pg->err, &expect, -ECONNRESET)) {
			pgc_describe_loss(pg->ctx->remote, why, sizeof(why));
			pr_err("lazy pager: %s; the tree is killed", why);
		}
		return;
	}
	if (atomic_compare_exchange_strong(&pg->err, &expect, err))
		pr_err("lazy pager: pid %d: page %#llx and %llu more not served: %s%s; "
		       "the tree is killed", m->pid ? m->pid : -1,
		       (unsigned long long)va,
		       (unsigned long long)(m->left ? m->left - 1 : 0),
		       err == -EBADMSG ? "the image's page data is corrupted" :
		       err == -EIO ? "the image file was cut short" : errstr(err),
		       m->pid ? "" : " (a child forked after the restore)");
}

static int uffd_copy(struct lz_mm *m, uint64_t dst, const void *src, uint64_t len,
		     uint64_t *done)
{
	struct uffdio_copy c = { .dst = dst, .src = (uint64_t)(uintptr_t)src,
				 .len = len };

	*done = 0;
	if (!ioctl(m->ufd, UFFDIO_COPY, &c)) {
		*done = len;
		return 0;
	}
	if (c.copy > 0)
		*done = c.copy;
	return -errno;
}

/*
 * Copies up to @max stored pages from @at on, while they follow one
 * another in memory and in the image (one chunk), lie in one VMA (a
 * UFFDIO_COPY that crosses the end of its VMA fails whole, ENOENT), are
 * still wanted and their pieces check.  A page already there (EEXIST: another thread
 * faulted it, or UFFDIO_COPY raced us) counts as done.
 */
static int copy_run(struct pager *pg, struct lz_mm *m, struct lz_at at, uint32_t max,
		    uint64_t *bad)
{
	const struct m_pages *p = &m->src->mp->pages[at.c];
	uint64_t ps = pg->ctx->img.hdr->page_size, got, va = p->vaddrs[at.i];
	const struct img_vma *v = vma_of(m->src->mp, va);
	uint64_t end = v ? v->end : va + ps;
	struct lz_at k = at;
	uint32_t n = 0;
	int ret;

	*bad = va;
	while (n < max && at.i + n < p->nr && !is_done(m, k) &&
	       p->vaddrs[at.i + n] == va + n * ps && va + n * ps < end) {
		ret = check_piece(pg, m->src, k);
		if (ret) {
			if (!n) {
				*bad = p->vaddrs[k.i];
				return ret;
			}
			break;
		}
		n++;
		k.i++;
	}
	if (!n)
		return 0;
	ret = uffd_copy(m, va, page_data(pg, m, at), n * ps, &got);
	/*
	 * The VMAs of the image are not those of now: a range moved away
	 * and back is a VMA of its own, and a run across its end fails
	 * whole.  The page alone then.
	 */
	if (ret == -ENOENT && n > 1 && !got)
		ret = uffd_copy(m, va, page_data(pg, m, at), ps, &got);
	for (k = at; k.i < at.i + got / ps; k.i++)
		mark_done(m, k);
	pg->copied += got / ps;
	if (ret == -EEXIST) {
		/* the one at got is there already: the rest next time */
		k.i = at.i + got / ps;
		mark_done(m, k);
		/* a fault is served if it was at or after the first copied */
		return got ? 0 : -EEXIST;
	}
	/* EAGAIN with part copied: the fault at @at is served */
	return ret == -EAGAIN && got ? 0 : ret;
}

/* what is left to copy into @m */
static uint64_t todo(const struct lz_mm *m)
{
	return m->left + m->nr_strays;
}

/*
 * mremap() moved [from, from + len) to @to: its missing pages become
 * strays, and strays already in that range move along.
 */
static int moved(struct lz_mm *m, uint64_t from, uint64_t to, uint64_t len)
{
	const struct m_proc *mp = m->src->mp;
	struct lz_at at;
	uint32_t i;
	int ret;

	for (i = 0; i < m->nr_strays; i++)
		if (m->strays[i].dst >= from && m->strays[i].dst < from + len)
			m->strays[i].dst += to - from;
	for (at.c = 0; at.c < mp->nr_chunks; at.c++) {
		const struct m_pages *p = &mp->pages[at.c];

		for (at.i = lower(p, from); at.i < p->nr && p->vaddrs[at.i] < from + len;
		     at.i++) {
			struct lz_stray st = { at, to + (p->vaddrs[at.i] - from) };

			if (is_done(m, at))
				continue;
			ret = vec_push(m->strays, m->nr_strays, m->cap_strays, st);
			if (ret)
				return ret;
			mark_done(m, at);
		}
	}
	return 0;
}

/* strays in [start, end) are no longer wanted */
static void drop_strays(struct lz_mm *m, uint64_t start, uint64_t end)
{
	uint32_t i = 0;

	while (i < m->nr_strays) {
		if (m->strays[i].dst >= start && m->strays[i].dst < end)
			m->strays[i] = m->strays[--m->nr_strays];
		else
			i++;
	}
}

/*
 * Copies stray @i into place: 0 if it is done with (copied, or there
 * already), -EAGAIN if the mm is still changing.
 */
static int copy_stray(struct pager *pg, struct lz_mm *m, uint32_t i, uint64_t *bad)
{
	struct lz_stray st = m->strays[i];
	uint64_t got;
	int ret;

	*bad = st.dst;
	ret = check_piece(pg, m->src, st.at);
	if (!ret)
		ret = uffd_copy(m, st.dst, page_data(pg, m, st.at),
				pg->ctx->img.hdr->page_size, &got);
	if (ret == -EAGAIN)
		return ret;
	if (!ret)
		pg->copied++;
	/* ENOENT: moved again or unmapped, with its event still to read */
	if (!ret || ret == -EEXIST || ret == -ENOENT) {
		m->strays[i] = m->strays[--m->nr_strays];
		return 0;
	}
	return ret;
}

static int find_stray(const struct lz_mm *m, uint64_t va)
{
	uint32_t i;

	for (i = 0; i < m->nr_strays; i++)
		if (m->strays[i].dst == va)
			return i;
	return -1;
}

static int zero_page(struct lz_mm *m, uint64_t addr, uint64_t ps)
{
	struct uffdio_zeropage z = { .range = { addr, ps } };

	return ioctl(m->ufd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
}

static int serve_fault(struct pager *pg, struct lz_mm *m, uint64_t addr, uint64_t *bad)
{
	uint64_t ps = pg->ctx->img.hdr->page_size, start = now_ns(), t;
	uint64_t va = addr & ~(ps - 1);
	struct lz_at at;
	int ret, stray = find_stray(m, va);
	bool stored = stray < 0 && find_page(m->src->mp, va, &at);

	pg->faults++;
	pg->t_fault = start;
	if (stray >= 0) {
		ret = copy_stray(pg, m, stray, bad);
	} else if (!stored || is_done(m, at)) {
		/* not stored (zero at the snap), or dropped since (MADV_DONTNEED) */
		*bad = va;
		ret = zero_page(m, va, ps);
	} else {
		ret = copy_run(pg, m, at, FAULT_RUN, bad);
		m->cursor = at;
	}
	t = now_ns() - start;
	pg->fault_ns_sum += t;
	pg->fault_hist[63 - __builtin_clzll(t | 1)]++;
	if (t > pg->fault_ns_max)
		pg->fault_ns_max = t;
	/*
	 * A fault read is a thread asleep until a wake covers its page.
	 * UFFDIO_COPY wakes only what it copied: it does not when the page
	 * is there already (EEXIST: another thread's fault won), when an
	 * event is under way (EAGAIN: the mm is changing; its message comes
	 * next) or when the range is no longer registered (ENOENT: moved or
	 * unmapped).  Then the thread is woken to fault again, or to find
	 * its page in, or to get the SIGSEGV it would get without us.
	 */
	if (ret == -EEXIST || ret == -EAGAIN || ret == -ENOENT) {
		struct uffdio_range r = { va, ps };

		if (ioctl(m->ufd, UFFDIO_WAKE, &r) && errno != ENOENT)
			ret = -errno;
		else
			ret = 0;
	}
	return ret;
}

/* the pages not yet served in [start, end) are no longer wanted */
static void drop_range(struct lz_mm *m, uint64_t start, uint64_t end)
{
	const struct m_proc *mp = m->src->mp;
	struct lz_at at;

	for (at.c = 0; at.c < mp->nr_chunks; at.c++) {
		const struct m_pages *p = &mp->pages[at.c];

		for (at.i = lower(p, start); at.i < p->nr && p->vaddrs[at.i] < end; at.i++)
			mark_done(m, at);
	}
}

static int add_mm(struct pager *pg, struct lz_mm *m);

static int forked(struct pager *pg, struct lz_mm *parent, int ufd)
{
	const struct m_proc *mp = parent->src->mp;
	struct lz_mm *m = calloc(1, sizeof(*m));
	uint32_t c;

	if (!m || !(m->done = calloc(mp->nr_chunks + 1, sizeof(*m->done))))
		goto err;
	m->ufd = ufd;
	m->held = -1;
	m->src = parent->src;
	m->left = parent->left;
	m->cursor = parent->cursor;
	if (parent->nr_strays) {
		m->strays = malloc(parent->nr_strays * sizeof(*m->strays));
		if (!m->strays)
			goto err;
		memcpy(m->strays, parent->strays, parent->nr_strays * sizeof(*m->strays));
		m->nr_strays = m->cap_strays = parent->nr_strays;
	}
	for (c = 0; c < mp->nr_chunks; c++) {
		size_t len = ((mp->pages[c].nr + 63) / 64 + 1) * 8;

		m->done[c] = malloc(len);
		if (!m->done[c])
			goto err;
		memcpy(m->done[c], parent->done[c], len);
	}
	return add_mm(pg, m);
err:
	if (m && m->done)
		free_done(m);
	if (m)
		free(m->strays);
	free(m);
	close(ufd);
	return -ENOMEM;
}

static int handle_event(struct pager *pg, struct lz_mm *m, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_FORK:
		return forked(pg, m, msg->arg.fork.ufd);
	case UFFD_EVENT_REMAP:
		return moved(m, msg->arg.remap.from, msg->arg.remap.to,
			     msg->arg.remap.len);
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		drop_range(m, msg->arg.remove.start, msg->arg.remove.end);
		drop_strays(m, msg->arg.remove.start, msg->arg.remove.end);
		return 0;
	}
	return 0;
}

/* every message there is, events first (see the top of this file) */
static int read_mm(struct pager *pg, struct lz_mm *m)
{
	struct uffd_msg msgs[MAX_MSGS];
	uint64_t bad = 0;
	ssize_t n;
	int i, cnt = 0, ret = 0;

	for (;;) {
		n = read(m->ufd, msgs + cnt, (MAX_MSGS - cnt) * sizeof(msgs[0]));
		if (n > 0) {
			cnt += n / sizeof(msgs[0]);
			if (cnt < MAX_MSGS)
				continue;
		} else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* its mm is gone (exit, exec) */
			m->gone = true;
		}
		break;
	}
	for (i = 0; !ret && i < cnt; i++)
		if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
			ret = handle_event(pg, m, &msgs[i]);
	for (i = 0; !ret && i < cnt; i++)
		if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
			ret = serve_fault(pg, m, msgs[i].arg.pagefault.address, &bad);
	if (ret == -ESRCH) {
		m->gone = true;
		ret = 0;
	}
	if (ret)
		fatal(pg, m, bad, ret);
	return ret;
}

/* the next page not done, from the cursor on, wrapping; false if none */
static bool next_pending(struct lz_mm *m, struct lz_at *at)
{
	const struct m_proc *mp = m->src->mp;
	struct lz_at k = m->cursor;
	uint64_t word;
	uint32_t pass, c;

	if (!m->left || !mp->nr_chunks)
		return false;
	for (pass = 0; pass <= mp->nr_chunks; pass++) {
		c = (k.c + pass) % mp->nr_chunks;
		for (k.i = pass ? 0 : k.i; k.i < mp->pages[c].nr; k.i = (k.i | 63) + 1) {
			word = ~m->done[c][k.i / 64] & (~0ULL << (k.i % 64));
			if (!word)
				continue;
			k.i = (k.i & ~63u) + __builtin_ctzll(word);
			if (k.i >= mp->pages[c].nr)
				break;
			at->c = c;
			at->i = k.i;
			return true;
		}
	}
	return false;
}

/* one step of the background pull: the next missing run after the cursor */
static int pull(struct pager *pg, struct lz_mm *m)
{
	struct lz_at at;
	uint64_t bad;
	int ret;

	if (m->nr_strays) {
		ret = copy_stray(pg, m, m->nr_strays - 1, &bad);
		if (ret == -EAGAIN || ret == -EINPROGRESS) {
			pg->stalled = ret == -EINPROGRESS;
			return 0;
		}
		if (ret == -ESRCH) {
			m->gone = true;
			return 0;
		}
		if (ret)
			fatal(pg, m, bad, ret);
		return ret;
	}
	if (!next_pending(m, &at)) {
		m->left = 0;	/* what is left is not ours to pull */
		return 0;
	}
	m->cursor = at;
	ret = copy_run(pg, m, at, now_ns() - pg->t_fault < PULL_QUIET_NS ? PULL_RUN_BUSY :
			   PULL_RUN, &bad);
	/* a fault won the page, or an event is under way: next step */
	if (ret == -EEXIST || ret == -EAGAIN)
		return 0;
	/*
	 * --from: not arrived yet.  The pull then follows the bulk pull,
	 * which comes in the image's order: from the start.
	 */
	if (ret == -EINPROGRESS) {
		m->cursor = (struct lz_at){ 0, 0 };
		pg->stalled = true;
		return 0;
	}
	if (ret == -ESRCH) {
		m->gone = true;
		return 0;
	}
	/* its VMA moved or went away, without an event read yet */
	if (ret == -ENOENT || ret == -EINVAL) {
		mark_done(m, at);
		return 0;
	}
	if (ret)
		fatal(pg, m, bad, ret);
	return ret;
}

/* ---- the end: closing the restored processes' own userfaultfds ---- */

static void serve_all(struct pager *pg);

/*
 * Waits for @pid to stop, serving faults meanwhile: a thread waiting for
 * a page stops only once it has it, or once the wait is interrupted.
 * __WNOTHREAD: the restorer's main thread waits for the root, and must
 * not take the stops of the processes this thread traces.
 */
static int wait_stopped(struct pager *pg, pid_t pid)
{
	uint64_t deadline = now_ns() + 2000000000ULL;
	pid_t r;
	int st;

	for (;;) {
		r = waitpid(pid, &st, __WALL | __WNOTHREAD | WNOHANG);
		if (r == pid)
			return WIFSTOPPED(st) ? 0 : -ESRCH;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		serve_all(pg);
		usleep(200);
	}
}

/*
 * close(@fd) in @pid, through ptrace: stop one thread, run the syscall
 * at a syscall instruction of its own, put its registers back -- with
 * the restart rules applied, as an interrupted syscall would otherwise
 * return -ERESTART* to it -- and let it go.
 */
static int close_in(struct pager *pg, pid_t pid, int fd)
{
	uint8_t regs[ARCH_REGS_SIZE], back[ARCH_REGS_SIZE];
	uint64_t args[6] = { (uint64_t)fd }, ip;
	long r = 0;
	int ret;

	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD))
		return -errno;
	ret = ptrace(PTRACE_INTERRUPT, pid, 0, 0) ? -errno : 0;
	if (!ret)
		ret = wait_stopped(pg, pid);
	if (!ret)
		ret = arch_get_regs(pid, regs);
	if (!ret)
		ret = inj_find_syscall_insn(pid, &ip);
	if (!ret)
		ret = inj_syscall_at(pid, regs, ip, SYS_close, args, &r);
	if (!ret) {
		memcpy(back, regs, sizeof(back));
		arch_apply_restart(back, RESTART_NO_HANDLER);
		ret = arch_set_regs(pid, back);
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return ret ? ret : r < 0 ? (int)r : 0;
}

/*
 * A close_in() that failed because @pid exited under it: wait_stopped()
 * saw the exit (ESRCH), or the fd is gone from it by now. An exiting
 * process drops its files in do_exit() -> exit_files(); one that still
 * has the fd after a failure keeps it, and that is worth a warning.
 */
static bool exited_with_it(pid_t me, pid_t pid, struct lz_mm *m, int ret)
{
	if (ret == -ESRCH)
		return true;
	return syscall(SYS_kcmp, me, pid, KCMP_FILE, m->ufd, m->held) != 0;
}

/*
 * Every process that holds @m's userfaultfd at m->held (it and its
 * forks, which inherited the fd): its fd closed, or the process killed.
 */
static void close_held(struct pager *pg, struct lz_mm *m, bool kill_them)
{
	struct dirent *e;
	pid_t me = getpid(), pid;
	DIR *d;
	int ret;

	if (m->held < 0)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid = atoi(e->d_name);
		if (pid <= 0 || pid == me)
			continue;
		/* KCMP_FILE: the same struct file, our fd and its */
		if (syscall(SYS_kcmp, me, pid, KCMP_FILE, m->ufd, m->held))
			continue;
		if (kill_them)
			kill(pid, SIGKILL);
		else if ((ret = close_in(pg, pid, m->held)) &&
			 !exited_with_it(me, pid, m, ret))
			pr_warn("lazy pager: pid %d keeps its userfaultfd at fd %d: %s",
				pid, m->held, errstr(ret));
	}
	closedir(d);
	m->held = -1;
}

static void retire(struct pager *pg, struct lz_mm *m)
{
	close_held(pg, m, false);
	epoll_ctl(pg->epfd, EPOLL_CTL_DEL, m->ufd, NULL);
	close(m->ufd);
	m->ufd = -1;
}

/* whatever is pending on every userfaultfd, without waiting */
static void serve_all(struct pager *pg)
{
	uint32_t i;

	for (i = 0; i < pg->nr_mms; i++) {
		struct lz_mm *m = pg->mms[i];

		if (m->ufd >= 0)
			read_mm(pg, m);
	}
}

/* ---- the loop ---- */

static int add_mm(struct pager *pg, struct lz_mm *m)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = m };
	int ret;

	pthread_mutex_lock(&pg->lock);
	ret = vec_push(pg->mms, pg->nr_mms, pg->cap_mms, m);
	pthread_mutex_unlock(&pg->lock);
	if (!ret && epoll_ctl(pg->epfd, EPOLL_CTL_ADD, m->ufd, &ev))
		ret = -errno;
	return ret;
}

static void kill_tree(struct pager *pg)
{
	struct restore_ctx *ctx = pg->ctx;
	uint32_t i;

	for (i = 0; i < ctx->nr_procs; i++)
		if (ctx->procs[i].pid > 0)
			kill(ctx->procs[i].pid, SIGKILL);
	/* the forks: every one holding a userfaultfd of ours */
	for (i = 0; i < pg->nr_mms; i++)
		if (pg->mms[i]->ufd >= 0)
			close_held(pg, pg->mms[i], true);
}

static bool all_done(struct pager *pg)
{
	uint32_t i;

	for (i = 0; i < pg->nr_mms; i++)
		if (pg->mms[i]->ufd >= 0)
			return false;
	return true;
}

/*
 * Whether the mm of @m still exists: a userfaultfd says nothing when its
 * process exits, but an ioctl that needs the mm fails with ESRCH then.
 * (Page 0 is never mapped: an mm that is there answers ENOENT or EINVAL.)
 */
static bool mm_alive(struct pager *pg, struct lz_mm *m)
{
	struct uffdio_zeropage z = { .range = { 0, pg->ctx->img.hdr->page_size } };

	return !(ioctl(m->ufd, UFFDIO_ZEROPAGE, &z) && errno == ESRCH);
}

static void *pager_main(void *arg)
{
	struct pager *pg = arg;
	struct epoll_event evs[16];
	uint32_t i, rr = 0;
	/* BPFCKPT_FAULT=lazy-no-pull: faults only, for the tests */
	const char *fault = getenv("BPFCKPT_FAULT");
	bool no_pull = fault && !strcmp(fault, "lazy-no-pull");
	uint64_t v;
	int n, k, ret = 0;

	while (!atomic_load(&pg->stop)) {
		bool released = atomic_load(&pg->released);
		bool pulling = released && !no_pull;
		/* --from: every page served, the bulk pull not over yet */
		bool idle = released && all_done(pg);

		/* pulling, only a look at what came (or 1 ms for the bulk); else a wait */
		n = epoll_wait(pg->epfd, evs, 16, idle ? 100 : pulling ? pg->stalled :
				released ? 100 : -1);
		for (k = 0; k < n && !ret; k++) {
			struct lz_mm *m = evs[k].data.ptr;

			if (!m || m == (void *)pg) {
				int fd = m ? pgc_event_fd(pg->ctx->remote) : pg->wake;

				if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					ret = -errno;
				continue;
			}
			if (m->ufd >= 0)
				ret = read_mm(pg, m);
		}
		/* never holes: a broken pull kills the tree (fatal() says how many) */
		if (!ret && pg->ctx->remote && pgc_broken(pg->ctx->remote)) {
			fatal(pg, NULL, 0, -ECONNRESET);
			ret = -ECONNRESET;
		}
		if (ret)
			break;
		pthread_mutex_lock(&pg->lock);
		for (i = 0; released && i < pg->nr_mms; i++) {
			struct lz_mm *m = pg->mms[i];

			if (m->ufd < 0)
				continue;
			/* the pull's copies say ESRCH when the mm is gone */
			if (!pulling && !n && !m->gone && !mm_alive(pg, m))
				m->gone = true;
			if (m->gone || (pulling && !todo(m)))
				retire(pg, m);
		}
		/* a step of the background pull, one address space at a time */
		for (i = 0; pulling && i < pg->nr_mms; i++) {
			struct lz_mm *m = pg->mms[(rr + i) % pg->nr_mms];

			if (m->ufd < 0 || !todo(m))
				continue;
			pg->in_pull = true;
			pg->stalled = false;
			ret = pull(pg, m);
			pg->in_pull = false;
			rr = (rr + i + 1) % pg->nr_mms;
			break;
		}
		pthread_mutex_unlock(&pg->lock);
		if (ret || (released && all_done(pg) &&
			    (!pg->ctx->remote || pgc_complete(pg->ctx->remote))))
			break;
	}
	if (ret)
		kill_tree(pg);
	/* --from: the image's pages are all in the tree, and no longer ours */
	else if (pg->ctx->remote && pgc_complete(pg->ctx->remote) && !atomic_load(&pg->stop))
		pgc_drop_data(pg->ctx->remote);
	return NULL;
}

/* ---- the keeper: no silent zeros when the pager itself dies ---- */

/*
 * A fork's userfaultfd exists only as the fd the pager read from the
 * FORK event: the child does not hold it, and when the last reference
 * to it goes the kernel unregisters the child's ranges
 * (userfaultfd_release), so that its missing pages read as zeros.  A
 * killed pager would do that to every fork.  The keeper is a process
 * that shares the pager's fd table (CLONE_FILES) and nothing else: a
 * dead pager's fds then stay open, so the tree's faults wait.  It ends
 * with the pager when the pager says so (keeper_done); if the pager
 * dies, it says which processes are left waiting, and ends once none of
 * them holds a userfaultfd of ours any more.
 */

static bool is_uffd(int fd)
{
	char path[40], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[userfaultfd]");
}

/* whether process @pid holds, at LAZY_HELD_FD or above, a userfaultfd we have */
static bool holds_ours(pid_t pid, const int *ours, int nr)
{
	char path[40];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		int fd = atoi(e->d_name), i;

		if (fd < LAZY_HELD_FD)
			continue;
		for (i = 0; i < nr && !found; i++)
			found = !syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, ours[i], fd);
	}
	closedir(d);
	return found;
}

/* the pids that wait on our userfaultfds, into @buf; how many */
static int waiting(const int *ours, int nr, char *buf, size_t len)
{
	struct dirent *e;
	size_t at = 0;
	int n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	buf[0] = 0;
	while ((e = readdir(d))) {
		pid_t pid = atoi(e->d_name);

		if (pid <= 0 || pid == getpid() || !holds_ours(pid, ours, nr))
			continue;
		n++;
		if (at < len)
			at += snprintf(buf + at, len - at, "%s%d", n > 1 ? " " : "", (int)pid);
	}
	closedir(d);
	return n;
}

static void __attribute__((noreturn)) keeper_main(pid_t pager, int pidfd, int done)
{
	struct pollfd p[2] = { { pidfd, POLLIN, 0 }, { done, POLLIN, 0 } };
	int ours[256], nr = 0, fd, n;
	char pids[512], msg[768];
	struct dirent *e;
	DIR *d;

	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if (p[1].revents & POLLIN)
		_exit(0);	/* the pager ended as planned */
	d = opendir("/proc/self/fd");
	while (d && (e = readdir(d)) && nr < 256) {
		fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != pidfd && fd != done && is_uffd(fd))
			ours[nr++] = fd;
	}
	if (d)
		closedir(d);
	n = waiting(ours, nr, pids, sizeof(pids));
	if (n) {
		snprintf(msg, sizeof(msg), "bpfckpt: restore: the lazy pager (pid %d) died "
			 "with pages still to serve: they will not come, and %d process%s "
			 "(%s) wait for them instead of reading zeros: kill %s\n",
			 (int)pager, n, n == 1 ? "" : "es", pids, n == 1 ? "it" : "them");
		if (write(STDERR_FILENO, msg, strlen(msg)) < 0)
			_exit(1);
	}
	while (n) {
		usleep(500 * 1000);
		n = waiting(ours, nr, pids, sizeof(pids));
	}
	_exit(1);
}

/*
 * Started before the pager's thread (the keeper is a copy of this
 * process, which must then be single-threaded: it calls opendir()).
 * Exit signal 0: no SIGCHLD, and no waitpid(-1) of the restorer sees it.
 */
static int start_keeper(struct pager *pg)
{
	pid_t me = getpid(), pid;
	int err;

	pg->keeper_done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pg->keeper_pidfd = syscall(SYS_pidfd_open, me, 0);
	if (pg->keeper_done < 0 || pg->keeper_pidfd < 0)
		goto err;
	/* fds stay shared: closing one here closes it for the keeper too */
	pid = syscall(SYS_clone, CLONE_FILES, NULL, NULL, NULL, NULL);
	if (pid < 0)
		goto err;
	if (!pid)
		keeper_main(me, pg->keeper_pidfd, pg->keeper_done);
	pg->keeper = pid;
	return 0;
err:
	err = -errno;
	pr_err("lazy pager: starting its keeper: %s", strerror(errno));
	return err;
}

/* the pager ends as planned: the keeper goes too */
static void stop_keeper(struct pager *pg)
{
	uint64_t one = 1;

	if (pg->keeper) {
		if (write(pg->keeper_done, &one, sizeof(one)) != sizeof(one))
			kill(pg->keeper, SIGKILL);
		while (waitpid(pg->keeper, NULL, __WALL) < 0 && errno == EINTR)
			;
		pg->keeper = 0;
	}
	if (pg->keeper_done >= 0)
		close(pg->keeper_done);
	if (pg->keeper_pidfd >= 0)
		close(pg->keeper_pidfd);
	pg->keeper_done = pg->keeper_pidfd = -1;
}

static struct pager *pager_get(struct restore_ctx *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct pager *pg = ctx->pager;
	pthread_mutexattr_t attr;

	if (pg)
		return pg;
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return NULL;
	pg->ctx = ctx;
	pg->epfd = epoll_create1(EPOLL_CLOEXEC);
	pg->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* recursive: a fork event read while retiring adds an mm */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&pg->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pg->keeper_done = pg->keeper_pidfd = -1;
	if (pg->epfd < 0 || pg->wake < 0 || fstat(ctx->img.r.fd, &pg->img_st) ||
	    epoll_ctl(pg->epfd, EPOLL_CTL_ADD, pg->wake, &ev) ||
	    (ctx->remote && epoll_ctl(pg->epfd, EPOLL_CTL_ADD, pgc_event_fd(ctx->remote),
				      &(struct epoll_event){ .events = EPOLLIN,
							     .data.ptr = pg })) ||
	    start_keeper(pg) ||
	    pthread_create(&pg->thread, NULL, pager_main, pg)) {
		stop_keeper(pg);
		if (pg->epfd >= 0)
			close(pg->epfd);
		if (pg->wake >= 0)
			close(pg->wake);
		free(pg);
		return NULL;
	}
	pg->started = true;
	ctx->pager = pg;
	return pg;
}

static void wake(struct pager *pg)
{
	uint64_t one = 1;

	if (write(pg->wake, &one, sizeof(one)) < 0)
		pr_debug("lazy pager: wake: %s", strerror(errno));
}

/* ---- attaching a restored process ---- */

static bool has_stored(const struct m_proc *mp, const struct img_vma *v)
{
	uint32_t c, i;

	for (c = 0; c < mp->nr_chunks; c++) {
		i = lower(&mp->pages[c], v->start);
		if (i < mp->pages[c].nr && mp->pages[c].vaddrs[i] < v->end)
			return true;
	}
	return false;
}

static int register_vmas(int ufd, const struct m_proc *mp)
{
	uint32_t i;

	for (i = 0; i < mp->nr_vmas; i++) {
		const struct img_vma *v = mp->vmas[i].v;
		struct uffdio_register reg = {
			.range = { v->start, v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (!lazy_vma(v) || !has_stored(mp, v))
			continue;
		if (ioctl(ufd, UFFDIO_REGISTER, &reg))
			return -errno;
	}
	return 0;
}

/*
 * The pages of the command line and environment, served before the tree
 * runs: ps, top and pgrep read them through /proc/PID/cmdline, which
 * like /proc/PID/mem cannot wait for a userfault (the kernel's remote
 * access asks for a fault without FAULT_FLAG_ALLOW_RETRY, and
 * handle_userfault() answers that with SIGBUS, read(2) with EIO).
 */
static int prefetch_args(struct pager *pg, struct lz_mm *m)
{
	const struct img_proc *p = m->src->mp->p;
	uint64_t ps = pg->ctx->img.hdr->page_size, va, bad;
	uint64_t start = MIN(p->arg_start, p->env_start), end = MAX(p->arg_end, p->env_end);
	struct lz_at at;
	int ret, n = 0;

	for (va = start & ~(ps - 1); va < end && n < 64; va += ps, n++) {
		if (!find_page(m->src->mp, va, &at) || is_done(m, at))
			continue;
		ret = copy_run(pg, m, at, 1, &bad);
		if (ret && ret != -EEXIST) {
			fatal(pg, m, bad, ret);
			return ret;
		}
	}
	return 0;
}

int lazy_attach(struct restore_ctx *ctx, struct rst_proc *rp)
{
	struct uffdio_api api = { .api = UFFD_API, .features = LAZY_FEATURES };
	struct lz_mm *m = NULL;
	struct pager *pg;
	long t = -1, h = -1, r;
	int pidfd = -1, ufd = -1, ret;

	pg = pager_get(ctx);
	if (!pg)
		return -ENOMEM;
	/* its own, so that its mm is the one the userfaultfd serves */
	ret = rst_syscall(ctx, rp, 0, "userfaultfd", SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0, &t);
	if (ret)
		return ret;
	pidfd = syscall(SYS_pidfd_open, rp->pid, 0);
	ufd = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)t, 0);
	if (ufd < 0) {
		ret = -errno;
		pr_err("pid %d: taking its userfaultfd: %s", rp->pid, strerror(errno));
		goto out;
	}
	if (ioctl(ufd, UFFDIO_API, &api) || (ret = register_vmas(ufd, rp->mp))) {
		ret = ret ? ret : -errno;
		pr_err("pid %d: setting up its userfaultfd: %s", rp->pid, errstr(ret));
		goto out;
	}
	/* the fd it keeps (lazy.h), away from its own ones */
	ret = rst_syscall(ctx, rp, 0, "fcntl(F_DUPFD_CLOEXEC)", SYS_fcntl, t,
			  F_DUPFD_CLOEXEC, LAZY_HELD_FD, 0, 0, 0, &h);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "close", SYS_close, t, 0, 0, 0, 0, 0, &r);
	m = calloc(1, sizeof(*m));
	if (!ret && !m)
		ret = -ENOMEM;
	if (ret)
		goto out;
	m->ufd = ufd;
	m->pid = rp->pid;
	m->held = h;
	m->src = make_src(pg, rp->mp);
	ret = m->src ? make_done(m) : -ENOMEM;
	if (!ret)
		ret = prefetch_args(pg, m);
	if (!ret)
		ret = add_mm(pg, m);
	if (!ret) {
		ufd = -1;
		m = NULL;
	}
out:
	if (m && m->src)
		free_done(m);
	free(m);
	if (ufd >= 0)
		close(ufd);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

int lazy_start(struct restore_ctx *ctx)
{
	struct pager *pg = ctx->pager;

	if (!pg)
		return 0;	/* nothing lazy in the image */
	pg->t_release = now_ns();
	pg->t_fault = pg->t_release;
	atomic_store(&pg->released, true);
	wake(pg);
	return 0;
}

/* the upper bound of the log2 bucket where fraction @q of faults is reached, ms */
static double fault_quantile(const struct pager *pg, double q)
{
	uint64_t seen = 0;
	int b;

	for (b = 0; b < 64; b++) {
		seen += pg->fault_hist[b];
		if (seen && seen >= q * pg->faults)
			return (double)(2ULL << b) / 1e6;
	}
	return 0;
}

uint64_t lazy_left(struct restore_ctx *ctx)
{
	struct pager *pg = ctx->pager;
	uint64_t n = 0;
	uint32_t i;

	if (!pg)
		return 0;
	pthread_mutex_lock(&pg->lock);
	for (i = 0; i < pg->nr_mms; i++)
		if (pg->mms[i]->ufd >= 0)
			n += todo(pg->mms[i]);
	pthread_mutex_unlock(&pg->lock);
	return n;
}

int lazy_finish(struct restore_ctx *ctx)
{
	struct pager *pg = ctx->pager;
	uint32_t i;
	int err;

	if (!pg)
		return 0;
	pthread_join(pg->thread, NULL);
	err = atomic_load(&pg->err);
	pr_info("lazy pager: %llu faults (mean %.3f ms, p50 < %.3f ms, p99 < %.3f ms, "
		"longest %.3f ms), %llu pages copied, done %.3f s after the tree was let go",
		(unsigned long long)pg->faults,
		pg->faults ? pg->fault_ns_sum / 1e6 / pg->faults : 0.0,
		fault_quantile(pg, 0.5), fault_quantile(pg, 0.99),
		pg->fault_ns_max / 1e6, (unsigned long long)pg->copied,
		pg->t_release ? (now_ns() - pg->t_release) / 1e9 : 0.0);
	for (i = 0; i < pg->nr_mms; i++) {
		if (pg->mms[i]->ufd >= 0)
			close(pg->mms[i]->ufd);
		free_done(pg->mms[i]);
		free(pg->mms[i]->strays);
		free(pg->mms[i]);
	}
	for (i = 0; i < pg->nr_srcs; i++) {
		uint32_t c;

		for (c = 0; c < pg->srcs[i]->mp->nr_chunks; c++)
			free(pg->srcs[i]->piece_ok[c]);
		free(pg->srcs[i]->piece_ok);
		free(pg->srcs[i]);
	}
	free(pg->srcs);
	free(pg->mms);
	close(pg->epfd);
	close(pg->wake);
	stop_keeper(pg);
	free(pg);
	ctx->pager = NULL;
	return err;
}

void lazy_abort(struct restore_ctx *ctx)
{
	struct pager *pg = ctx->pager;

	if (!pg)
		return;
	atomic_store(&pg->stop, true);
	wake(pg);
	lazy_finish(ctx);
}
