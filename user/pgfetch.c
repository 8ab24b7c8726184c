// SPDX-License-Identifier: GPL-2.0
/*
 * restore --lazy --from ADDR:PORT: the destination side of the page
 * server (the protocol is in pgsrv.h).  The image is a memfd as big as
 * the source's: its records come first, so that image_load() checks
 * them (header, framing, the tail's checksum) and the restore rebuilds
 * the tree at once; the page data then streams in on the bulk
 * connection, in a thread, into anonymous memory over the image's
 * mapping (map_data()), while the lazy pager asks for what a fault
 * waits on over the request connection.
 *
 * Each page of the file has a state.  The bulk thread writes only pages
 * it claimed (ABSENT -> BULK) with bytes already queued on its socket,
 * the pager only pages it claimed (ABSENT -> FETCH): a page is written
 * once, and never after it is PRESENT, so that the piece sums the pager
 * checks (lazy.c check_piece) still hold when the page is copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "img.h"
#include "lazy.h"
#include "log.h"
#include "pgsrv.h"
#include "restore.h"
#include "util.h"

#define CONNECT_MS	10000
#define IDLE_S		30
#define BULK_STEP	(4u << 20)	/* claimed at most at once */
#define LOWAT		(256u << 10)	/* the bulk pull's wake-up */
#define WINDOW		256		/* pages asked for in one round trip */

enum { PG_ABSENT, PG_BULK, PG_FETCH, PG_PRESENT };

struct pgc {
	char name[128];
	int bulk, req, memfd, ev;
	uint8_t *map;
	uint64_t size, nr_pages, data_pages;
	uint32_t ps;
	char path[40];
	_Atomic uint8_t *st;		/* per page of the file */
	struct pgs_seg *gaps;		/* page data, in order */
	uint32_t nr_gaps, cap_gaps;
	_Atomic uint64_t arrived;	/* data pages PRESENT */
	uint64_t nr_get, t_start, t_done;
	pthread_t thread;
	bool started;
	pthread_mutex_t req_lock;
	_Atomic int claimed;		/* the first failure writes why */
	_Atomic int err;		/* broken: -errno */
	char why[192];
	_Atomic bool complete, confirmed;
	uint8_t *scratch;		/* bytes of pages already there */
	uint8_t *view;			/* the image as restore maps it (pgc_start) */
};

static void broke(struct pgc *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void broke(struct pgc *c, int err, const char *fmt, ...)
{
	uint64_t one = 1;
	int expect = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&c->claimed, &expect, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	atomic_store(&c->err, err ? err : -EIO);
	if (write(c->ev, &one, sizeof(one)) != sizeof(one))
		pr_debug("--from: eventfd: %s", strerror(errno));
}

static const char *why_str(int err)
{
	return err == -ECONNRESET ? "the server hung up" :
	       err == -ETIMEDOUT ? "no data for 30 s" :
	       err == -EPROTO ? "the server broke the protocol" : errstr(err);
}

static int dial(struct pgc *c, const char *addr, int *out)
{
	struct sockaddr_storage sa;
	struct timeval tv = { IDLE_S, 0 };
	struct pollfd p;
	socklen_t sl = sizeof(int);
	unsigned len;
	int fd, one = 1, err = 0;

	if (pgs_parse_addr(addr, &sa, &len)) {
		pr_err("--from %s: not ADDR:PORT", addr);
		return -EINVAL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) && errno != EINPROGRESS) {
		err = -errno;
	} else {
		p = (struct pollfd){ fd, POLLOUT, 0 };
		if (poll(&p, 1, CONNECT_MS) != 1)
			err = -ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
			err = -errno;
		else
			err = -err;
	}
	if (err) {
		pr_err("--from %s: connecting: %s", c->name, strerror(-err));
		close(fd);
		return err;
	}
	fcntl(fd, F_SETFL, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
}

static void mark(struct pgc *c, uint64_t off, uint64_t len, uint8_t state)
{
	uint64_t p;

	for (p = off / c->ps; p < c->nr_pages && p * c->ps < off + len; p++)
		atomic_store(&c->st[p], state);
}

/* the layout the server announces: checked, its gaps kept */
static int check_segs(struct pgc *c, const struct pgs_seg *s, uint32_t n)
{
	uint64_t at = 0;
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++) {
		struct pgs_seg gap = { at, s[i].off - at };

		if (!s[i].len || s[i].off < at || s[i].off > c->size ||
		    s[i].len > c->size - s[i].off)
			return -EPROTO;
		if (gap.len) {
			if (gap.off % c->ps || gap.len % c->ps)
				return -EPROTO;
			ret = vec_push(c->gaps, c->nr_gaps, c->cap_gaps, gap);
			if (ret)
				return ret;
			c->data_pages += gap.len / c->ps;
		}
		at = s[i].off + s[i].len;
	}
	return n && !s[0].off && at == c->size ? 0 : -EPROTO;
}

static int fetch_records(struct pgc *c)
{
	struct pgs_hello h = { PGS_MAGIC, PGS_VERSION, PGS_BULK, 0 };
	struct pgs_info info;
	struct pgs_seg *segs = NULL;
	uint32_t i;
	int ret;

	ret = pgs_send_all(c->bulk, &h, sizeof(h));
	if (!ret)
		ret = pgs_recv_all(c->bulk, &info, sizeof(info));
	if (ret) {
		pr_err("--from %s: the server's greeting: %s", c->name, why_str(ret));
		return ret;
	}
	if (info.magic != PGS_MAGIC || info.version != PGS_VERSION) {
		pr_err("--from %s: not a bpfckpt page server (magic %#llx, version %u; "
		       "this bpfckpt speaks version %u)", c->name,
		       (unsigned long long)info.magic, info.version, PGS_VERSION);
		return -EPROTO;
	}
	if (info.page_size != c->ps || info.reserved || info.size % 8 ||
	    info.size < 2 * sizeof(struct pgs_info) || info.size > PGS_SIZE_MAX ||
	    !info.nr_segs || info.nr_segs > PGS_SEGS_MAX) {
		pr_err("--from %s: the server announces an image of %llu bytes in %u "
		       "parts with pages of %u bytes: refused", c->name,
		       (unsigned long long)info.size, info.nr_segs, info.page_size);
		return -EPROTO;
	}
	c->size = info.size;
	c->nr_pages = (info.size + c->ps - 1) / c->ps;
	segs = malloc((size_t)info.nr_segs * sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	ret = pgs_recv_all(c->bulk, segs, (size_t)info.nr_segs * sizeof(*segs));
	if (!ret && (ret = check_segs(c, segs, info.nr_segs)) == -EPROTO)
		pr_err("--from %s: the image's layout the server announces does not "
		       "hold together: refused", c->name);
	if (ret)
		goto out;
	c->memfd = memfd_create("bpfckpt-from", MFD_CLOEXEC);
	if (c->memfd < 0 || ftruncate(c->memfd, c->size)) {
		ret = -errno;
		pr_err("--from %s: a memfd of %llu bytes: %s", c->name,
		       (unsigned long long)c->size, strerror(errno));
		goto out;
	}
	c->map = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	c->st = calloc(c->nr_pages, 1);
	if (c->map == MAP_FAILED || !c->st) {
		c->map = c->map == MAP_FAILED ? NULL : c->map;
		ret = -ENOMEM;
		goto out;
	}
	snprintf(c->path, sizeof(c->path), "/proc/self/fd/%d", c->memfd);
	for (i = 0; !ret && i < info.nr_segs; i++) {
		ret = pgs_recv_all(c->bulk, c->map + segs[i].off, segs[i].len);
		mark(c, segs[i].off, segs[i].len, PG_PRESENT);
	}
	if (ret)
		pr_err("--from %s: fetching the image's records: %s", c->name, why_str(ret));
	if (!ret) {
		h = (struct pgs_hello){ PGS_MAGIC, PGS_VERSION, PGS_REQ, info.token };
		ret = dial(c, c->name, &c->req);
		if (!ret && (ret = pgs_send_all(c->req, &h, sizeof(h))))
			pr_err("--from %s: the request connection: %s", c->name, errstr(ret));
	}
out:
	free(segs);
	return ret;
}

int pgc_open(const char *addr, struct pgc **out)
{
	struct pgc *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", addr);
	c->bulk = c->req = c->memfd = -1;
	c->ps = sysconf(_SC_PAGESIZE);
	c->t_start = now_ns();
	pthread_mutex_init(&c->req_lock, NULL);
	c->ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->scratch = malloc(BULK_STEP);
	if (c->ev < 0 || !c->scratch) {
		pgc_close(c);
		return -ENOMEM;
	}
	ret = dial(c, addr, &c->bulk);
	if (!ret)
		ret = fetch_records(c);
	if (ret) {
		pgc_close(c);
		return ret;
	}
	*out = c;
	return 0;
}

const char *pgc_path(const struct pgc *c)
{
	return c->path;
}

int pgc_event_fd(const struct pgc *c)
{
	return c->ev;
}

bool pgc_broken(const struct pgc *c)
{
	return atomic_load(&c->err) != 0 && !atomic_load(&c->complete);
}

bool pgc_complete(const struct pgc *c)
{
	return atomic_load(&c->complete);
}

void pgc_describe_loss(const struct pgc *c, char *buf, size_t len)
{
	uint64_t lost = c->data_pages - atomic_load(&c->arrived);

	snprintf(buf, len, "the page server %s: %s: %llu page%s (%.1f MiB) never arrived",
		 c->name, atomic_load(&c->err) ? c->why : "connection lost",
		 (unsigned long long)lost, lost == 1 ? "" : "s",
		 lost * (double)c->ps / 1048576.0);
}

/* ---- the bulk pull ---- */

/* @n bytes of pages [p, p + n / ps) into place, or dropped if not ours */
static int take(struct pgc *c, uint64_t off, uint64_t n)
{
	uint64_t p = off / c->ps, e = p + n / c->ps, k, run;
	uint8_t absent;
	bool mine;
	int ret;

	while (p < e) {
		absent = PG_ABSENT;
		mine = atomic_compare_exchange_strong(&c->st[p], &absent, PG_BULK);
		for (run = 1; p + run < e; run++) {
			bool got;

			absent = PG_ABSENT;
			got = atomic_compare_exchange_strong(&c->st[p + run], &absent, PG_BULK);
			if (got != mine) {
				/* claimed for a run of others': undone, the next run claims it */
				if (got)
					atomic_store(&c->st[p + run], PG_ABSENT);
				break;
			}
		}
		ret = pgs_recv_all(c->bulk, mine ? c->view + p * c->ps : c->scratch, run * c->ps);
		if (ret)
			return ret;
		if (mine) {
			for (k = p; k < p + run; k++)
				atomic_store(&c->st[k], PG_PRESENT);
			atomic_fetch_add(&c->arrived, run);
		}
		p += run;
	}
	return 0;
}

/* one gap: in steps of what is already queued, so that a claim is short */
static int pull_gap(struct pgc *c, const struct pgs_seg *g, uint64_t *left, int *lowat)
{
	uint64_t off = g->off, end = g->off + g->len, n;
	struct pollfd p = { c->bulk, POLLIN, 0 };
	int avail, ret;

	while (off < end) {
		ret = poll(&p, 1, IDLE_S * 1000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			return ret ? -errno : -ETIMEDOUT;
		if (ioctl(c->bulk, FIONREAD, &avail))
			return -errno;
		n = MIN((uint64_t)avail, MIN(end - off, (uint64_t)BULK_STEP));
		n -= n % c->ps;
		/* less than a page queued: an EOF or error, or a wake too early */
		if (!n)
			n = c->ps;
		ret = take(c, off, n);
		if (ret)
			return ret;
		off += n;
		*left -= n;
		if (*left < (uint64_t)*lowat) {
			*lowat = *left ? *left : 1;
			setsockopt(c->bulk, SOL_SOCKET, SO_RCVLOWAT, lowat, sizeof(*lowat));
		}
	}
	return 0;
}

static void *bulk_main(void *arg)
{
	struct pgc *c = arg;
	struct pgs_msg m = { .type = PGS_DONE };
	uint64_t left = c->data_pages * c->ps;
	int lowat = 0, one = 1, ret = 0;
	uint32_t i;

	for (i = 0; !ret && i < c->nr_gaps && !atomic_load(&c->err); i++) {
		/*
		 * Woken once LOWAT bytes are queued, not per segment of the
		 * link (fewer wake-ups, FIONREADs and recvs per MiB); never
		 * more than what is still to come, or poll() would wait.
		 */
		if (lowat != (int)MIN(left, (uint64_t)LOWAT)) {
			lowat = MIN(left, (uint64_t)LOWAT);
			setsockopt(c->bulk, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
		}
		ret = pull_gap(c, &c->gaps[i], &left, &lowat);
	}
	if (ret) {
		broke(c, ret, "%s", why_str(ret));
		return NULL;
	}
	/* pages the pager asked for, still on their way */
	while (atomic_load(&c->arrived) < c->data_pages && !atomic_load(&c->err))
		usleep(100);
	if (atomic_load(&c->err))
		return NULL;
	c->t_done = now_ns();
	ret = pgs_send_all(c->bulk, &m, sizeof(m));
	if (ret) {
		broke(c, ret, "telling it every page arrived: %s", why_str(ret));
		return NULL;
	}
	atomic_store(&c->complete, true);
	if (write(c->ev, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		pr_debug("--from: eventfd: %s", strerror(errno));
	setsockopt(c->bulk, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if (!pgs_recv_all(c->bulk, &m, sizeof(m)) && m.type == PGS_KILLED && !m.reserved)
		atomic_store(&c->confirmed, true);
	return NULL;
}

/*
 * The page data goes into anonymous memory mapped over the image's own
 * mapping, not into the memfd: a fresh shmem page costs several times a
 * fresh anonymous one here (2 GiB arrived in 6 s through pwrite() into
 * the memfd, in 3.2 s so; MADV_HUGEPAGE made it no faster, once 3x
 * slower).  The records stay in the memfd, where image_load() read them.
 */
static int map_data(struct pgc *c, uint8_t *base)
{
	uint32_t i;

	for (i = 0; i < c->nr_gaps; i++) {
		uint8_t *at = base + c->gaps[i].off;

		if (mmap(at, c->gaps[i].len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at)
			return -errno;
	}
	c->view = base;
	return 0;
}

int pgc_start(struct pgc *c, const void *image)
{
	int ret = map_data(c, (uint8_t *)image);

	if (ret)
		return ret;
	ret = pthread_create(&c->thread, NULL, bulk_main, c);

	if (ret)
		return -ret;
	c->started = true;
	return 0;
}

/* ---- on demand ---- */

/* pages [p, e) (at most WINDOW): those absent asked for, all waited for */
static int fetch_window(struct pgc *c, uint64_t p, uint64_t e)
{
	struct pgs_msg runs[WINDOW], r;
	uint64_t k, deadline;
	uint32_t nr = 0, i;
	uint8_t absent;
	int ret = 0;

	pthread_mutex_lock(&c->req_lock);
	for (k = p; k < e; k++) {
		absent = PG_ABSENT;
		if (!atomic_compare_exchange_strong(&c->st[k], &absent, PG_FETCH))
			continue;
		if (nr && runs[nr - 1].off + runs[nr - 1].len == k * c->ps) {
			runs[nr - 1].len += c->ps;
			continue;
		}
		runs[nr++] = (struct pgs_msg){ PGS_GET, 0, k * c->ps, c->ps };
	}
	/* all asked, then all read: one round trip */
	for (i = 0; !ret && i < nr; i++)
		ret = pgs_send_all(c->req, &runs[i], sizeof(runs[i]));
	for (i = 0; !ret && i < nr; i++) {
		ret = pgs_recv_all(c->req, &r, sizeof(r));
		if (!ret && (r.type != PGS_DATA || r.reserved || r.off != runs[i].off ||
			     r.len != runs[i].len))
			ret = -EPROTO;
		if (!ret)
			ret = pgs_recv_all(c->req, c->view + r.off, r.len);
		if (ret)
			break;
		mark(c, r.off, r.len, PG_PRESENT);
		atomic_fetch_add(&c->arrived, r.len / c->ps);
		c->nr_get++;
	}
	pthread_mutex_unlock(&c->req_lock);
	if (ret) {
		broke(c, ret, "a request for pages: %s", why_str(ret));
		return -ECONNRESET;
	}
	/* what the bulk pull is writing right now */
	deadline = now_ns() + IDLE_S * 1000000000ULL;
	for (k = p; k < e; k++) {
		while (atomic_load(&c->st[k]) != PG_PRESENT) {
			if (atomic_load(&c->err) || now_ns() > deadline)
				return -ECONNRESET;
			sched_yield();
		}
	}
	return 0;
}

int pgc_need(struct pgc *c, uint64_t off, uint64_t len, bool fetch)
{
	uint64_t p = off / c->ps, e, w;
	int ret;

	if (!len)
		return 0;
	if (off > c->size || len > c->size - off)
		return -EINVAL;
	e = (off + len - 1) / c->ps + 1;
	for (w = p; w < e && atomic_load(&c->st[w]) == PG_PRESENT; w++)
		;
	if (w == e)
		return 0;
	if (pgc_broken(c))
		return -ECONNRESET;
	if (!fetch)
		return -EINPROGRESS;
	for (; w < e; w += WINDOW) {
		ret = fetch_window(c, w, MIN(e, w + WINDOW));
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Before the tree exists: the pages restore writes itself (shared and
 * file-backed memory, locked memory, what mm_cow.c premaps), fetched
 * and checked against their sums, as the pager checks its own.
 */
int pgc_fetch_eager(struct restore_ctx *ctx)
{
	struct pgc *c = ctx->remote;
	uint32_t ps = ctx->img.hdr->page_size, i, ch, k, vi, last;
	int ret;

	if (c && ctx->img.chain) {
		pr_err("--from %s: the image is a pre-copy round's (a chain): not served",
		       c->name);
		return -EINVAL;
	}
	for (i = 0; c && i < ctx->nr_procs; i++) {
		const struct rst_proc *rp = &ctx->procs[i];
		const struct m_proc *mp = rp->mp;

		for (ch = 0; !rp->zombie && ch < mp->nr_chunks; ch++) {
			const struct m_pages *pg = &mp->pages[ch];

			if (pg->z.nr || !pg->sums)
				continue;	/* compressed: in the records */
			for (k = 0, vi = 0, last = UINT32_MAX; k < pg->nr; k++) {
				uint32_t piece = k / IMG_PIECE_PAGES;
				uint64_t off = pg->data_off + (uint64_t)piece * IMG_PIECE_PAGES * ps;
				uint64_t len = (uint64_t)MIN(IMG_PIECE_PAGES,
							     pg->nr - piece * IMG_PIECE_PAGES) * ps;

				while (mp->vmas[vi].v->end <= pg->vaddrs[k])
					vi++;
				if (piece == last ||
				    (lazy_vma(mp->vmas[vi].v) && !mm_premapped(rp, vi)))
					continue;
				last = piece;
				ret = pgc_need(c, off, len, true);
				if (ret) {
					char why[320];

					pgc_describe_loss(c, why, sizeof(why));
					pr_err("%s", why);
					return ret;
				}
				if (!img_piece_ok(ps, pg->data, pg->nr, pg->sums, piece)) {
					pr_err("--from %s: record %llu's page data does not match "
					       "its sums (piece %u): corrupted on the way", c->name,
					       (unsigned long long)pg->index, piece);
					return -EBADMSG;
				}
			}
		}
	}
	return 0;
}

void pgc_drop_data(struct pgc *c)
{
	uint32_t i;

	for (i = 0; c->view && i < c->nr_gaps; i++)
		madvise(c->view + c->gaps[i].off, c->gaps[i].len, MADV_DONTNEED);
}

void pgc_abort(struct pgc *c)
{
	if (!c)
		return;
	broke(c, -ECANCELED, "the restore failed");
	if (c->bulk >= 0)
		shutdown(c->bulk, SHUT_RDWR);
	if (c->req >= 0)
		shutdown(c->req, SHUT_RDWR);
}

void pgc_close(struct pgc *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_join(c->thread, NULL);
		if (atomic_load(&c->complete)) {
			uint64_t t = c->t_done - c->t_start;

			pr_info("--from %s: %.1f MiB in %.3f s (%.0f MiB/s), %llu requests "
				"on demand", c->name, c->size / 1048576.0, t / 1e9,
				t ? c->size / 1048576.0 / (t / 1e9) : 0.0,
				(unsigned long long)c->nr_get);
			if (!atomic_load(&c->confirmed))
				pr_warn("--from %s: every page arrived, but the source did not "
					"confirm that its tree was killed", c->name);
		}
	}
	if (c->bulk >= 0)
		close(c->bulk);
	if (c->req >= 0)
		close(c->req);
	if (c->map)
		munmap(c->map, c->size);
	if (c->memfd >= 0)
		close(c->memfd);
	if (c->ev >= 0)
		close(c->ev);
	pthread_mutex_destroy(&c->req_lock);
	free(c->st);
	free(c->gaps);
	free(c->scratch);
	free(c);
}
