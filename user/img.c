// SPDX-License-Identifier: GPL-2.0
/*
 * Image codec.  The writer buffers small records and writes them with
 * pwrite(); page data goes straight into a shared mapping of the file
 * (the caller fills it with process_vm_readv, so each page is copied
 * once) and is hashed while still in cache.  The reader maps the whole
 * file and checks every record's framing before handing it out.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
/* XXH3_state_t on the stack: verify() may run in a thread while the
 * restorer clones (no malloc there, see img_check_sum()) */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>
/*
 * libxxhash's own XXH3 is built for plain SSE2; its _dispatch variants
 * pick AVX2/AVX-512 at run time: 3x faster here, same hash values.
 */
#include <xxh_x86dispatch.h>
#include "img.h"
#include "bpfckpt/common.h"
#include "bpfckpt/mm.h"
#include "bpfckpt/ipc.h"
#include "bpfckpt/ns.h"
#include "util.h"

#define WBUF_FLUSH	(1u << 20)
#define WB_START	(8u << 20)	/* page data written back in steps of */
/* whole pieces, so that each piece's sum is taken from it in cache */
#define BOUNCE_PIECES	4

struct img_writer {
	int fd;
	int dirfd;
	char *tmp_name;		/* in dirfd */
	char *name;		/* final name in dirfd */
	uint64_t off;		/* logical end of the file */
	uint64_t file_off;	/* where buf goes */
	uint64_t nr_records;
	uint32_t page_size;
	XXH3_state_t *xx;
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint8_t *map;		/* page chunk in progress */
	size_t map_len;
	size_t map_filled;	/* the caller filled this much */
	size_t map_hashed;	/* pieces hashed up to here */
	size_t map_wb;		/* writeback started up to here */
	uint64_t *sums;		/* one per piece of the chunk */
	uint32_t nr_sums;
	bool prefault;		/* map page chunks in one go (tmpfs) */
	/*
	 * BPFCKPT_SNAP_COPY=bounce: the caller copies into one small buffer,
	 * reused and so in cache, which is hashed and pwrite()n: a write
	 * into a file hole takes a fresh page without zeroing it first,
	 * where fallocate() or a fault on a mapping zeroes every page
	 * before the copy writes it again.
	 */
	bool bounce_mode;
	bool bounce_chunk;	/* the chunk in progress goes through it */
	uint8_t *bounce;	/* BOUNCE_BYTES */
	size_t bfill;		/* filled, not yet written */
	int werr;		/* the first failed pwrite of a chunk */
	bool committed;
	bool stream;		/* "-": a memfd, sent by img_send() */
	char read_path[32];	/* what reads it back (/proc/self/fd/N) */
	/* --compress: the chunk in progress is an anonymous buffer */
	int zlevel;		/* 0: off */
	ZSTD_CCtx *zc;
	uint64_t *zva;		/* the chunk's addresses */
	uint32_t zdone;		/* its pieces compressed */
	uint32_t zfirst;	/* first piece of the record being built */
	uint32_t zlen[IMG_ZPAGES_PIECES_MAX];
	uint8_t *zout;		/* their frames */
	size_t zout_len, zout_cap;
};

static int split_path(const char *path, int *dirfd, char **name)
{
	char *d = strdup(path), *b = strdup(path);
	int ret = 0;

	if (!d || !b) {
		ret = -ENOMEM;
		goto out;
	}
	*dirfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0) {
		ret = -errno;
		goto out;
	}
	*name = strdup(basename(b));
	if (!*name) {
		close(*dirfd);
		ret = -ENOMEM;
	}
out:
	free(d);
	free(b);
	return ret;
}

static int make_tmp(struct img_writer *w)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = strlen(w->name) + 16;
	int i, tries;

	w->tmp_name = malloc(n);
	if (!w->tmp_name)
		return -ENOMEM;
	for (tries = 0; tries < 100; tries++) {
		char sfx[7];

		for (i = 0; i < 6; i++)
			sfx[i] = chars[random() % (sizeof(chars) - 1)];
		sfx[6] = 0;
		snprintf(w->tmp_name, n, ".%s.%s", w->name, sfx);
		w->fd = openat(w->dirfd, w->tmp_name,
			       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * A stream is spooled whole in a memfd first: page chunks are filled in
 * place and the tail's checksum comes last, and snap --kill must read
 * the image back before anything leaves.  img_send() then copies it out.
 */
static int create_stream(struct img_writer *w)
{
	w->stream = true;
	w->fd = memfd_create("bpfckpt-image", MFD_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	snprintf(w->read_path, sizeof(w->read_path), "/proc/self/fd/%d", w->fd);
	return 0;
}

int img_create(const char *path, struct img_writer **out)
{
	struct img_writer *w;
	struct statfs sfs;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->dirfd = -1;
	w->page_size = sysconf(_SC_PAGESIZE);
	w->cap = 2 * WBUF_FLUSH;
	w->buf = malloc(w->cap);
	w->xx = XXH3_createState();
	if (!w->buf || !w->xx) {
		ret = -ENOMEM;
		goto err;
	}
	XXH3_64bits_reset(w->xx);
	w->bounce_mode = true;
	if (!strcmp(path, "-")) {
		ret = create_stream(w);
		if (ret)
			goto err;
		w->prefault = true;
		*out = w;
		return 0;
	}
	ret = split_path(path, &w->dirfd, &w->name);
	if (ret)
		goto err;
	srandom(getpid() ^ (unsigned)(uintptr_t)w);
	ret = make_tmp(w);
	if (ret)
		goto err;
	w->prefault = !fstatfs(w->fd, &sfs) && sfs.f_type == TMPFS_MAGIC;
	*out = w;
	return 0;
err:
	img_abort(w);
	return ret;
}

static int flush(struct img_writer *w)
{
	size_t done = 0;
	ssize_t n;

	while (done < w->len) {
		n = pwrite(w->fd, w->buf + done, w->len - done, w->file_off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		done += n;
	}
	w->file_off += w->len;
	w->len = 0;
	return 0;
}

static int append(struct img_writer *w, const void *p, size_t len)
{
	uint8_t *nb;
	size_t ncap;

	if (w->len + len > w->cap) {
		ncap = w->len + len + WBUF_FLUSH;
		nb = realloc(w->buf, ncap);
		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = ncap;
	}
	if (p)
		memcpy(w->buf + w->len, p, len);
	else
		memset(w->buf + w->len, 0, len);
	XXH3_64bits_update(w->xx, w->buf + w->len, len);
	w->len += len;
	w->off += len;
	return 0;
}

static int put_rec(struct img_writer *w, void *rec, size_t fixed,
		   const struct img_part *parts, int nparts)
{
	struct ckpt_hdr *h = rec;
	uint64_t total = fixed, padded;
	int i, ret;

	for (i = 0; i < nparts; i++)
		total += parts[i].len;
	padded = IMG_ALIGN(total);
	if (padded > IMG_REC_MAX)
		return -E2BIG;
	h->len = padded;
	ret = append(w, rec, fixed);
	for (i = 0; !ret && i < nparts; i++)
		ret = append(w, parts[i].p, parts[i].len);
	if (!ret)
		ret = append(w, NULL, padded - total);
	if (ret)
		return ret;
	w->nr_records++;
	return w->len >= WBUF_FLUSH ? flush(w) : 0;
}

int img_put(struct img_writer *w, void *rec, size_t fixed,
	    const struct img_part *parts, int nparts)
{
	if (w->map)
		return -EBUSY;
	return put_rec(w, rec, fixed, parts, nparts);
}

void img_set_bounce(struct img_writer *w, bool on)
{
	w->bounce_mode = on;
}

void img_set_compress(struct img_writer *w, int level)
{
	w->zlevel = level;
}

const char *img_read_path(const struct img_writer *w)
{
	return w->stream ? w->read_path : NULL;
}

/* --compress: the chunk goes into an anonymous buffer, compressed as it fills */
static int zpages_begin(struct img_writer *w, uint32_t nr, const uint64_t *vaddrs)
{
	size_t bound = ZSTD_compressBound((size_t)IMG_PIECE_PAGES * w->page_size);
	void *map;

	if (!w->zc) {
		w->zc = ZSTD_createCCtx();
		if (!w->zc)
			return -ENOMEM;
		/* the tail's checksum covers the frames: none of their own */
		if (ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
							w->zlevel)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 0)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_contentSizeFlag, 1)))
			return -EINVAL;
	}
	if (!w->zout) {
		w->zout_cap = bound * IMG_ZPAGES_PIECES_MAX;
		w->zout = malloc(w->zout_cap);
		if (!w->zout)
			return -ENOMEM;
	}
	w->map_len = (size_t)nr * w->page_size;
	free(w->zva);
	w->zva = malloc((size_t)nr * sizeof(*vaddrs));
	if (!w->zva)
		return -ENOMEM;
	memcpy(w->zva, vaddrs, (size_t)nr * sizeof(*vaddrs));
	map = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	w->map = map;
	w->map_filled = 0;
	w->map_hashed = 0;
	w->map_wb = 0;
	w->zdone = 0;
	w->zfirst = 0;
	w->zout_len = 0;
	return 0;
}

/* the record of pieces zfirst..zdone-1 */
static int zpages_put(struct img_writer *w)
{
	uint32_t n = w->zdone - w->zfirst, first = w->zfirst * IMG_PIECE_PAGES;
	uint32_t pages = MIN((uint64_t)n * IMG_PIECE_PAGES,
			     w->map_len / w->page_size - first);
	struct img_zpages rec = {
		.h.type = IMG_ZPAGES, .nr = pages, .nr_pieces = n,
		.piece_pages = IMG_PIECE_PAGES,
	};
	static const uint32_t zero;
	struct img_part parts[] = {
		{ w->zva + first, (size_t)pages * sizeof(*w->zva) },
		{ w->zlen, n * sizeof(w->zlen[0]) },
		{ &zero, n % 2 ? sizeof(zero) : 0 },
		{ w->zout, w->zout_len },
	};
	int ret;

	if (!n)
		return 0;
	ret = put_rec(w, &rec, sizeof(rec), parts, 4);
	w->zfirst = w->zdone;
	w->zout_len = 0;
	return ret;
}

/* compresses the pieces filled whole (all of them at the end) */
static int zpages_fill(struct img_writer *w, bool last)
{
	size_t piece = (size_t)IMG_PIECE_PAGES * w->page_size, off, n, z;
	int ret;

	for (;;) {
		off = (size_t)w->zdone * piece;
		n = MIN(piece, w->map_len - off);
		if (off >= w->map_len || (w->map_filled < off + n && !last))
			return 0;
		z = ZSTD_compress2(w->zc, w->zout + w->zout_len,
				   w->zout_cap - w->zout_len, w->map + off, n);
		if (ZSTD_isError(z))
			return -EIO;
		w->zlen[w->zdone - w->zfirst] = z;
		w->zout_len += z;
		w->zdone++;
		/* the buffer never holds more than what is not compressed yet */
		madvise(w->map + off, n, MADV_DONTNEED);
		if (w->zdone - w->zfirst == IMG_ZPAGES_PIECES_MAX) {
			ret = zpages_put(w);
			if (ret)
				return ret;
		}
	}
}

int img_pages_begin(struct img_writer *w, uint32_t nr, const uint64_t *vaddrs)
{
	struct img_pages rec = { .h.type = IMG_PAGES, .nr = nr };
	struct img_part part = { vaddrs, (size_t)nr * sizeof(*vaddrs) };
	uint64_t rec_end;
	void *map;
	int ret;

	if (!nr || nr > IMG_PAGES_MAX || w->map)
		return -EINVAL;
	if (w->zlevel)
		return zpages_begin(w, nr, vaddrs);
	rec_end = w->off + sizeof(rec) + part.len;
	rec.pad = (w->page_size - rec_end % w->page_size) % w->page_size;
	ret = img_put(w, &rec, sizeof(rec), &part, 1);
	if (!ret)
		ret = append(w, NULL, rec.pad);
	if (!ret)
		ret = flush(w);
	if (ret)
		return ret;
	w->map_len = (size_t)nr * w->page_size;
	free(w->sums);
	w->sums = calloc(img_pieces(nr), sizeof(*w->sums));
	if (!w->sums)
		return -ENOMEM;
	w->nr_sums = 0;
	w->map_filled = 0;
	w->map_hashed = 0;
	w->map_wb = 0;
	if (w->bounce_mode) {
		if (!w->bounce) {
			w->bounce = aligned_alloc(w->page_size, BOUNCE_PIECES *
						  IMG_PIECE_PAGES * (size_t)w->page_size);
			if (!w->bounce)
				return -ENOMEM;
		}
		w->bounce_chunk = true;
		w->bfill = 0;
		w->werr = 0;
		/* in use until img_pages_end() */
		w->map = w->bounce;
		return 0;
	}
	/*
	 * Allocate the blocks now: a full disk then fails here with ENOSPC
	 * instead of as a fault while the data is copied in.
	 */
	if (fallocate(w->fd, 0, w->off, w->map_len)) {
		if (errno != EOPNOTSUPP)
			return -errno;
		if (ftruncate(w->fd, w->off + w->map_len))
			return -errno;
	}
	map = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   w->fd, w->off);
	if (map == MAP_FAILED)
		return -errno;
	/*
	 * On tmpfs fallocate() has allocated and zeroed every page already;
	 * mapping them all in one call saves a page fault per 4 KiB page
	 * during the copy (1 GiB to /dev/shm: 0.92 s -> 0.82 s).  On ext4 it
	 * would read and zero the whole chunk ahead of the copy instead,
	 * which is slower.  A failure is met again by the copy.
	 */
	if (w->prefault)
		madvise(map, w->map_len, MADV_POPULATE_WRITE);
	w->map = map;
	return 0;
}

uint8_t *img_pages_dst(struct img_writer *w, size_t *room)
{
	size_t bounce = BOUNCE_PIECES * IMG_PIECE_PAGES * (size_t)w->page_size;

	if (!w->bounce_chunk) {
		*room = w->map_len - w->map_filled;
		return w->map + w->map_filled;
	}
	*room = MIN(bounce - w->bfill, w->map_len - w->map_filled);
	return w->bounce + w->bfill;
}

/* the bounce buffer's pieces get their sums, and it goes to the file */
static void bounce_write(struct img_writer *w)
{
	size_t piece = (size_t)IMG_PIECE_PAGES * w->page_size, at, n;
	ssize_t k;

	for (at = 0; at < w->bfill; at += n) {
		n = MIN(piece, w->bfill - at);
		w->sums[w->nr_sums++] = XXH3_64bits(w->bounce + at, n);
	}
	for (at = 0; at < w->bfill && !w->werr; at += k) {
		k = pwrite(w->fd, w->bounce + at, w->bfill - at,
			   w->off + w->map_hashed + at);
		if (k <= 0)
			w->werr = k < 0 ? -errno : -EIO;
	}
	w->map_hashed += w->bfill;
	w->bfill = 0;
}

/* the pieces filled whole (or all of them at the end) get their sums */
static void hash_pieces(struct img_writer *w, bool last)
{
	size_t piece = (size_t)IMG_PIECE_PAGES * w->page_size, n;

	while (w->map_filled - w->map_hashed >= piece ||
	       (last && w->map_hashed < w->map_filled)) {
		n = MIN(piece, w->map_filled - w->map_hashed);
		w->sums[w->nr_sums] = img_piece_sum(w->page_size, w->map,
						    w->map_len / w->page_size, w->nr_sums);
		w->nr_sums++;
		w->map_hashed += n;
	}
}

void img_pages_filled(struct img_writer *w, size_t len)
{
	if (w->map_filled + len > w->map_len)
		len = w->map_len - w->map_filled;
	w->map_filled += len;
	if (w->zlevel) {
		/* a failure is met again (and returned) by img_pages_end() */
		zpages_fill(w, false);
		return;
	}
	if (!w->bounce_chunk) {
		hash_pieces(w, w->map_filled == w->map_len);
	} else {
		w->bfill += len;
		if (w->bfill == BOUNCE_PIECES * IMG_PIECE_PAGES * (size_t)w->page_size ||
		    w->map_filled == w->map_len)
			bounce_write(w);
	}
	/*
	 * Start writing filled data back now, so that the disk works while
	 * the rest is copied and img_commit()'s fsync has little left to
	 * wait for.  An error here shows up again at that fsync.
	 */
	if (w->map_hashed - w->map_wb >= WB_START || w->map_hashed == w->map_len) {
		sync_file_range(w->fd, w->off + w->map_wb, w->map_hashed - w->map_wb,
				SYNC_FILE_RANGE_WRITE);
		w->map_wb = w->map_hashed;
	}
}

int img_pages_end(struct img_writer *w)
{
	struct img_page_sums s = {
		.h.type = IMG_PAGE_SUMS,
		.piece_pages = IMG_PIECE_PAGES,
	};
	struct img_part part;
	size_t room;
	int ret;

	if (!w->map)
		return -EINVAL;
	if (w->zlevel) {
		w->map_filled = w->map_len;
		ret = zpages_fill(w, true);
		if (!ret)
			ret = zpages_put(w);
		munmap(w->map, w->map_len);
		w->map = NULL;
		return ret;
	}
	/* whatever the caller did not report is hashed now (zeros, bounced) */
	while (w->bounce_chunk && w->map_filled < w->map_len) {
		uint8_t *dst = img_pages_dst(w, &room);

		memset(dst, 0, room);
		img_pages_filled(w, room);
	}
	img_pages_filled(w, w->map_len - w->map_filled);
	if (!w->bounce_chunk)
		munmap(w->map, w->map_len);
	w->map = NULL;
	w->bounce_chunk = false;
	if (w->werr)
		return w->werr;
	w->off += w->map_len;
	w->file_off = w->off;
	s.nr = w->nr_sums;
	part = (struct img_part){ w->sums, (size_t)w->nr_sums * sizeof(*w->sums) };
	return img_put(w, &s, sizeof(s), &part, 1);
}

uint64_t img_size(const struct img_writer *w)
{
	return w->off;
}

int img_commit(struct img_writer *w)
{
	struct img_tail t = {
		.h = { IMG_TAIL, sizeof(t) },
		.magic = IMG_TAIL_MAGIC,
	};
	int ret;

	if (w->map)
		return -EBUSY;
	t.nr_records = w->nr_records;
	t.size = w->off;
	t.checksum = XXH3_64bits_digest(w->xx);
	if (w->len + sizeof(t) > w->cap && (ret = flush(w)))
		return ret;
	memcpy(w->buf + w->len, &t, sizeof(t));
	w->len += sizeof(t);
	w->off += sizeof(t);
	ret = flush(w);
	if (ret)
		return ret;
	if (w->stream) {
		if (ftruncate(w->fd, w->off))
			return -errno;
		w->committed = true;
		return 0;
	}
	if (ftruncate(w->fd, w->off) || fsync(w->fd))
		return -errno;
	if (renameat(w->dirfd, w->tmp_name, w->dirfd, w->name))
		return -errno;
	w->committed = true;
	if (fsync(w->dirfd))
		return -errno;
	return 0;
}

int img_send(struct img_writer *w, int out)
{
	static char buf[1 << 16];
	off_t off = 0;
	ssize_t n;

	if (!w->stream || !w->committed)
		return -EINVAL;
	fcntl(out, F_SETPIPE_SZ, 1 << 20);	/* not a pipe, or EPERM: as it is */
	while ((uint64_t)off < w->off) {
		/* sendfile() takes any output since 5.12; read/write for the rest */
		n = sendfile(out, w->fd, &off, MIN(w->off - off, 1u << 30));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
			n = pread(w->fd, buf, MIN(sizeof(buf), w->off - off), off);
			if (n > 0)
				n = write(out, buf, n);
			if (n > 0)
				off += n;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
	}
	return 0;
}

void img_abort(struct img_writer *w)
{
	if (!w)
		return;
	if (w->map && !w->bounce_chunk)
		munmap(w->map, w->map_len);
	free(w->bounce);
	if (w->fd >= 0) {
		close(w->fd);
		if (!w->committed && w->tmp_name && w->dirfd >= 0)
			unlinkat(w->dirfd, w->tmp_name, 0);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->xx)
		XXH3_freeState(w->xx);
	ZSTD_freeCCtx(w->zc);
	free(w->zva);
	free(w->zout);
	free(w->sums);
	free(w->tmp_name);
	free(w->name);
	free(w->buf);
	free(w);
}

/* ---- reader ---- */

static const char *const type_names[IMG_TYPE_MAX] = {
	[IMG_HEADER] = "header",
	[IMG_TAIL] = "tail",
	[IMG_ERROR] = "error",
	[IMG_PROC] = "proc",
	[IMG_THREAD] = "thread",
	[IMG_SIGINFO] = "siginfo",
	[IMG_TIMER] = "timer",
	[IMG_THREAD_EXT] = "thread_ext",
	[IMG_SECCOMP] = "seccomp",
	[IMG_PROC_EXT] = "proc_ext",
	[IMG_GUARD] = "guard",
	[IMG_VDSO] = "vdso",
	[IMG_VMA] = "vma",
	[IMG_PAGES] = "pages",
	[IMG_PAGE_SUMS] = "page_sums",
	[IMG_COW] = "cow",
	[IMG_FD] = "fd",
	[IMG_PIPE] = "pipe",
	[IMG_UNIX] = "unix",
	[IMG_EVENTFD] = "eventfd",
	[IMG_TIMERFD] = "timerfd",
	[IMG_SIGNALFD] = "signalfd",
	[IMG_EPOLL] = "epoll",
	[IMG_FILEDATA] = "filedata",
	[IMG_INOTIFY] = "inotify",
	[IMG_FANOTIFY] = "fanotify",
	[IMG_LOCKS] = "locks",
	[IMG_TTY] = "tty",
	[IMG_INET] = "inet",
	[IMG_IPC_NS] = "ipc_ns",
	[IMG_NS] = "ns",
	[IMG_SHM] = "shm",
	[IMG_SHM_DATA] = "shm_data",
	[IMG_SEM] = "sem",
	[IMG_MSQ] = "msq",
	[IMG_MSG] = "msg",
	[IMG_SEM_UNDO] = "sem_undo",
	[IMG_ZPAGES] = "zpages",
	[IMG_CHAIN] = "chain",
	[IMG_INHERIT] = "inherit",
};

const char *img_type_name(uint32_t type)
{
	if (type < IMG_TYPE_MAX && type_names[type])
		return type_names[type];
	return "unknown";
}

static int fail(struct img_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct img_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return err;
}

static bool str_ok(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static int check_header(struct img_reader *r)
{
	const struct img_header *h = (const void *)r->base;

	if (h->h.type != IMG_HEADER || h->magic != IMG_MAGIC)
		return fail(r, -EINVAL, "not a bpfckpt image (bad magic)");
	if (h->h.len != sizeof(*h))
		return fail(r, -EINVAL, "header at offset 0: length %u, expected %zu",
			    h->h.len, sizeof(*h));
	if (h->version != IMG_VERSION)
		return fail(r, -EINVAL, "image format version %u, this bpfckpt reads %u",
			    h->version, IMG_VERSION);
	if (h->arch != IMG_ARCH_X86_64)
		return fail(r, -EINVAL, "image is for machine %u, not x86_64", h->arch);
	if (h->page_size != r->page_size)
		return fail(r, -EINVAL, "image page size %u, this host's %u",
			    h->page_size, r->page_size);
	/* the layouts of the records below depend on these */
	if (h->task_comm_len != BCK_COMM_LEN || h->nsig != BCK_NSIG ||
	    h->nr_rlimits != BCK_NRLIMITS || h->auxv_words != BCK_AUXV_WORDS ||
	    h->ns_levels != BCK_NS_LEVELS)
		return fail(r, -EINVAL, "header: kernel constants (comm %u, signals %u, "
			    "rlimits %u, auxv %u, pid levels %u) differ from this "
			    "bpfckpt's", h->task_comm_len, h->nsig, h->nr_rlimits,
			    h->auxv_words, h->ns_levels);
	if (h->flags)
		return fail(r, -EINVAL, "header: reserved flags %#x set", h->flags);
	if (!str_ok((const char *)h->boot_id, sizeof(h->boot_id)) ||
	    !str_ok(h->sysname, sizeof(h->sysname)) ||
	    !str_ok(h->release, sizeof(h->release)) ||
	    !str_ok(h->kversion, sizeof(h->kversion)) ||
	    !str_ok(h->machine, sizeof(h->machine)) ||
	    !str_ok(h->hostname, sizeof(h->hostname)))
		return fail(r, -EINVAL, "header: unterminated string");
	r->hdr = h;
	return 0;
}

uint64_t img_piece_sum(uint32_t page_size, const uint8_t *data, uint32_t nr, uint32_t i)
{
	uint64_t piece = (uint64_t)IMG_PIECE_PAGES * page_size;
	uint64_t off = i * piece, len = (uint64_t)nr * page_size - off;

	return XXH3_64bits(data + off, MIN(piece, len));
}

bool img_piece_ok(uint32_t page_size, const uint8_t *data, uint32_t nr,
		  const struct img_page_sums *s, uint32_t i)
{
	return i < s->nr && i < img_pieces(nr) &&
	       img_piece_sum(page_size, data, nr, i) == ((const uint64_t *)(s + 1))[i];
}

static int walk_fail(struct img_reader *r, const struct img_rec *rec, int err,
		     const char *what)
{
	return fail(r, err, "record %" PRIu64 " (%s) at offset %#" PRIx64 ": %s",
		    rec->index, img_type_name(rec->type), rec->off, what);
}

/*
 * The checksum of everything but page data, walking the records; with
 * @pieces also each chunk's data against its IMG_PAGE_SUMS.  Framing
 * errors are img_next()'s.
 */
static int verify(struct img_reader *r, bool pieces, uint64_t *sum)
{
	struct img_reader w = *r;
	struct img_rec rec, pages = { 0 };
	XXH3_state_t state, *xx = &state;
	const struct img_page_sums *s;
	bool after_pages = false;
	uint32_t i;
	int ret;

	XXH3_INITSTATE(xx);
	XXH3_64bits_reset(xx);
	XXH3_64bits_update(xx, r->base, r->hdr->h.len);
	w.off = r->hdr->h.len;
	w.index = 1;
	/* whoever reads the records checks their page addresses, once */
	w.frame_only = true;
	while ((ret = img_next(&w, &rec)) > 0) {
		if (rec.type == IMG_PAGES) {
			XXH3_64bits_update(xx, rec.p, rec.data_off - rec.off);
			pages = rec;
			after_pages = true;
			continue;
		}
		XXH3_64bits_update(xx, rec.p, rec.len);
		if (rec.type != IMG_PAGE_SUMS && !after_pages)
			continue;
		s = rec.p;
		if (rec.type != IMG_PAGE_SUMS || !after_pages ||
		    rec.len != IMG_ALIGN(sizeof(*s) + (uint64_t)s->nr * 8) ||
		    s->piece_pages != IMG_PIECE_PAGES || s->nr != img_pieces(pages.nr)) {
			ret = walk_fail(r, &rec, -EINVAL, "a page chunk is not followed "
					"by its sums");
			break;
		}
		after_pages = false;
		for (i = 0; pieces && i < s->nr && ret > 0; i++)
			if (!img_piece_ok(r->page_size, pages.data, pages.nr, s, i))
				ret = walk_fail(r, &pages, -EBADMSG, "checksum mismatch in "
						"its page data: the image is corrupted");
		if (ret < 0)
			break;
	}
	if (!ret && after_pages)
		ret = walk_fail(r, &pages, -EINVAL, "no page sums after it");
	if (ret < 0 && !r->err[0])
		fail(r, ret, "%s", w.err);
	*sum = XXH3_64bits_digest(xx);
	return ret < 0 ? ret : 0;
}

int img_checksum(struct img_reader *r, uint64_t *sum)
{
	/* what a record holds is not the checksum's business: only framing */
	struct img_reader w = *r;
	int ret;

	w.any_type = true;
	ret = verify(&w, false, sum);
	if (ret)
		memcpy(r->err, w.err, sizeof(r->err));
	return ret;
}

/* the tail's checksum against everything but page data */
static int check_sum(struct img_reader *r, bool pieces)
{
	const struct img_tail *t = (const void *)(r->base + r->end);
	uint64_t sum = 0;
	int ret;

	ret = verify(r, pieces, &sum);
	if (ret)
		return ret;
	if (sum != t->checksum)
		return fail(r, -EBADMSG, "checksum mismatch (%016" PRIx64
			    " in tail, %016" PRIx64 " computed): the image is corrupted",
			    (uint64_t)t->checksum, sum);
	return 0;
}

int img_check_sum(struct img_reader *r)
{
	return check_sum(r, false);
}

static int check_tail(struct img_reader *r, unsigned flags)
{
	const struct img_tail *t;

	r->end = r->size - sizeof(*t);
	t = (const void *)(r->base + r->end);
	if (t->h.type != IMG_TAIL || t->h.len != sizeof(*t) ||
	    t->magic != IMG_TAIL_MAGIC)
		return fail(r, -EINVAL, "no tail record at offset %#" PRIx64
			    ": the image is truncated or was not completed",
			    r->end);
	if (t->size != r->end)
		return fail(r, -EINVAL, "tail at offset %#" PRIx64
			    " says the image is %" PRIu64 " bytes long",
			    r->end, (uint64_t)t->size);
	r->sum_pending = !(flags & IMG_OPEN_NO_CHECKSUM) && (flags & IMG_OPEN_SUM_LATER);
	if (flags & (IMG_OPEN_NO_CHECKSUM | IMG_OPEN_INDEX | IMG_OPEN_SUM_LATER))
		return 0;
	return check_sum(r, !(flags & IMG_OPEN_LAZY));
}

/*
 * Before any size rule: whether this is an image at all.  Its first 16
 * bytes are the header's type, length and magic; a file shorter than
 * that is an image cut short only if what it has matches them.
 */
static int check_magic(struct img_reader *r)
{
	const struct img_header want = { .h.type = IMG_HEADER, .magic = IMG_MAGIC };
	uint8_t got[16];
	ssize_t n;

	_Static_assert(offsetof(struct img_header, magic) + 8 == sizeof(got), "magic");
	n = pread(r->fd, got, sizeof(got), 0);
	if (n < 0)
		return fail(r, -errno, "reading: %s", strerror(errno));
	if (!n)
		return fail(r, -EINVAL, "empty file: too short for an image");
	/* the length (bytes 4..7) is check_header's */
	if (memcmp(got, &want.h.type, MIN((size_t)n, 4)) ||
	    (n > 8 && memcmp(got + 8, &want.magic, n - 8)))
		return fail(r, -EINVAL, "not a bpfckpt image (no BPFCKPT1 header magic)");
	if ((size_t)n < sizeof(got))
		return fail(r, -EINVAL, "%zd bytes is too short for an image: truncated", n);
	return 0;
}

/*
 * "-": standard input (a pipe, a socket) is read to its end into a
 * memfd, which is then mapped like a file: the whole image, checksum
 * and page sums included, is verified before anything uses it.
 */
static int spool_stdin(struct img_reader *r)
{
	static uint8_t buf[1 << 20];
	ssize_t n, w, done;

	/* fewer wake-ups per MiB; pipe-max-size (1 MiB) bounds it, EPERM above */
	fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);

	r->fd = memfd_create("bpfckpt-stdin", MFD_CLOEXEC);
	if (r->fd < 0)
		return fail(r, -errno, "memfd_create: %s", strerror(errno));
	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(r, -errno, "reading standard input: %s", strerror(errno));
		if (n == 0)
			return 0;
		for (done = 0; done < n; done += w) {
			w = write(r->fd, buf + done, n - done);
			if (w < 0)
				return fail(r, -errno, "spooling standard input: %s",
					    strerror(errno));
		}
	}
}

int img_open(const char *path, unsigned flags, struct img_reader *r)
{
	struct stat st;
	void *m;
	int ret;

	memset(r, 0, sizeof(*r));
	r->page_size = sysconf(_SC_PAGESIZE);
	if (!strcmp(path, "-")) {
		ret = spool_stdin(r);
		if (ret)
			goto err;
		/* all of it is here already: check it all now */
		flags &= ~(IMG_OPEN_LAZY | IMG_OPEN_SUM_LATER);
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (r->fd < 0)
		return fail(r, -errno, "%s", strerror(errno));
	if (fstat(r->fd, &st)) {
		ret = fail(r, -errno, "%s", strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(r, -EINVAL, "not a regular file");
		goto err;
	}
	r->size = st.st_size;
	ret = check_magic(r);
	if (ret)
		goto err;
	if (r->size < sizeof(struct img_header) + sizeof(struct img_tail)) {
		ret = fail(r, -EINVAL, "%" PRIu64 " bytes is too short for an image",
			   r->size);
		goto err;
	}
	if (r->size % 8) {
		ret = fail(r, -EINVAL, "size %" PRIu64 " is not a multiple of 8: truncated",
			   r->size);
		goto err;
	}
	m = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED) {
		ret = fail(r, -errno, "mmap: %s", strerror(errno));
		goto err;
	}
	r->base = m;
	ret = check_header(r);
	if (!ret)
		ret = check_tail(r, flags);
	if (ret)
		goto err;
	r->off = sizeof(struct img_header);
	r->index = 1;
	return 0;
err:
	img_close(r);
	return ret;
}

void img_close(struct img_reader *r)
{
	if (r->base)
		munmap((void *)r->base, r->size);
	if (r->fd >= 0)
		close(r->fd);
	r->base = NULL;
	r->fd = -1;
}

/*
 * The index of the first of @nr page addresses that is unaligned, not
 * above the one before or too high; @nr if none.
 * Once per page, so on the way to a lazy restore's resume (8 GiB is 2M
 * pages): one pass without a branch, in 64-bit adds and ors that plain
 * SSE2 vectorizes (it has no 64-bit compare), and the slow loop only to
 * name the first bad address.  Below 2^57 every difference fits, so its
 * sign says whether an address is not above the one before.
 */
static uint32_t img_bad_vaddr(const uint64_t *va, uint32_t nr, uint32_t page_size)
{
	const uint64_t high = ~((1ULL << 57) - 1), mask = page_size - 1;
	uint64_t any = 0, down = 0;
	uint32_t i;

	if (!nr)
		return 0;
	any = va[0];
	for (i = 1; i < nr; i++) {
		any |= va[i];
		down |= va[i] - va[i - 1] - 1;
	}
	if (!(any & (high | mask)) && !(down >> 63))
		return nr;
	for (i = 0; i < nr; i++)
		if ((va[i] & (high | mask)) || (i && va[i] <= va[i - 1]))
			return i;
	return nr;
}

static int check_pages(struct img_reader *r, struct img_rec *rec)
{
	const struct img_pages *p = rec->p;
	uint64_t data_len;
	uint32_t bad;

	if (rec->len < sizeof(*p))
		return fail(r, -EINVAL, "record %" PRIu64 " (pages) at offset %#"
			    PRIx64 ": too short", rec->index, rec->off);
	rec->nr = p->nr;
	if (!p->nr || p->nr > IMG_PAGES_MAX)
		return fail(r, -EINVAL, "record %" PRIu64 " (pages) at offset %#" PRIx64
			    ": page count %u out of range", rec->index, rec->off, p->nr);
	if (rec->len != IMG_ALIGN(sizeof(*p) + (uint64_t)p->nr * 8))
		return fail(r, -EINVAL, "record %" PRIu64 " (pages) at offset %#" PRIx64
			    ": length %u does not fit %u pages",
			    rec->index, rec->off, rec->len, p->nr);
	rec->data_off = rec->off + rec->len + p->pad;
	data_len = (uint64_t)p->nr * r->page_size;
	if (p->pad >= r->page_size || rec->data_off % r->page_size ||
	    rec->data_off > r->end || data_len > r->end - rec->data_off)
		return fail(r, -EINVAL, "record %" PRIu64 " (pages) at offset %#" PRIx64
			    ": page data at %#" PRIx64 " (+%" PRIu64 ") is misplaced "
			    "or runs past the end", rec->index, rec->off,
			    rec->data_off, data_len);
	rec->vaddrs = (const uint64_t *)(p + 1);
	bad = r->frame_only ? p->nr : img_bad_vaddr(rec->vaddrs, p->nr, r->page_size);
	if (bad < p->nr)
		return fail(r, -EINVAL, "record %" PRIu64 " (pages) at offset %#"
			    PRIx64 ": bad page address %#" PRIx64,
			    rec->index, rec->off, rec->vaddrs[bad]);
	rec->data = r->base + rec->data_off;
	return 0;
}

int img_next(struct img_reader *r, struct img_rec *rec)
{
	const struct ckpt_hdr *h;
	int ret;

	memset(rec, 0, sizeof(*rec));
	if (r->off == r->end) {
		const struct img_tail *t = (const void *)(r->base + r->end);

		if (t->nr_records != r->index)
			return fail(r, -EINVAL, "tail counts %" PRIu64 " records, "
				    "the image holds %" PRIu64, (uint64_t)t->nr_records,
				    r->index);
		return 0;
	}
	if (r->off > r->end || r->end - r->off < sizeof(*h))
		return fail(r, -EINVAL, "record %" PRIu64 " at offset %#" PRIx64
			    ": runs past the end of the image", r->index, r->off);
	h = (const void *)(r->base + r->off);
	rec->type = h->type;
	rec->len = h->len;
	rec->off = r->off;
	rec->index = r->index;
	rec->p = h;
	if ((h->type >= IMG_TYPE_MAX || !type_names[h->type] ||
	     h->type == IMG_HEADER || h->type == IMG_TAIL) && !r->any_type)
		return fail(r, -EINVAL, "record %" PRIu64 " at offset %#" PRIx64
			    ": unknown or misplaced type %u", r->index, r->off, h->type);
	if (h->len < sizeof(*h) || h->len % 8 || h->len > IMG_REC_MAX ||
	    h->len > r->end - r->off)
		return fail(r, -EINVAL, "record %" PRIu64 " (%s) at offset %#" PRIx64
			    ": bad length %u", r->index, img_type_name(h->type),
			    r->off, h->len);
	if (h->type == IMG_PAGES) {
		ret = check_pages(r, rec);
		if (ret)
			return ret;
		r->off = rec->data_off + (uint64_t)rec->nr * r->page_size;
	} else {
		r->off += h->len;
	}
	r->index++;
	return 1;
}

int img_zpages_parse(const struct img_rec *rec, uint32_t page_size,
		     struct img_zview *v, char *err, size_t len)
{
	const struct img_zpages *z = rec->p;
	uint64_t fixed, total = 0;
	uint32_t i;

	if (rec->len < sizeof(*z))
		return snprintf(err, len, "too short"), -EINVAL;
	if (z->reserved || z->piece_pages != IMG_PIECE_PAGES || !z->nr ||
	    z->nr_pieces > IMG_ZPAGES_PIECES_MAX || z->nr_pieces != img_pieces(z->nr))
		return snprintf(err, len, "%u pages in %u pieces of %u (reserved %u)",
				z->nr, z->nr_pieces, z->piece_pages, z->reserved), -EINVAL;
	fixed = sizeof(*z) + (uint64_t)z->nr * 8 + IMG_ALIGN((uint64_t)z->nr_pieces * 4);
	if (fixed > rec->len)
		return snprintf(err, len, "length %u does not fit %u pages", rec->len,
				z->nr), -EINVAL;
	v->nr = z->nr;
	v->nr_pieces = z->nr_pieces;
	v->vaddrs = (const uint64_t *)(z + 1);
	v->zlen = (const uint32_t *)(v->vaddrs + z->nr);
	v->frames = (const uint8_t *)z + fixed;
	for (i = 0; i < z->nr_pieces; i++)
		total += v->zlen[i];
	if (IMG_ALIGN(fixed + total) != rec->len)
		return snprintf(err, len, "frames of %" PRIu64 " bytes in a record of %u",
				total, rec->len), -EINVAL;
	i = img_bad_vaddr(v->vaddrs, z->nr, page_size);
	if (i < z->nr)
		return snprintf(err, len, "bad page address %#" PRIx64, v->vaddrs[i]), -EINVAL;
	return 0;
}

int img_zpiece(const struct img_zview *v, uint32_t page_size, uint32_t i, uint8_t *dst,
	       struct ZSTD_DCtx_s *dctx)
{
	uint64_t off = 0, want, piece = (uint64_t)IMG_PIECE_PAGES * page_size;
	unsigned long long got;
	uint32_t k;
	size_t n;

	if (i >= v->nr_pieces)
		return -EINVAL;
	for (k = 0; k < i; k++)
		off += v->zlen[k];
	want = MIN(piece, (uint64_t)v->nr * page_size - i * piece);
	/* the frame says its size; it must be its piece's, byte for byte */
	got = ZSTD_getFrameContentSize(v->frames + off, v->zlen[i]);
	if (got != want)
		return -EBADMSG;
	n = dctx ? ZSTD_decompressDCtx(dctx, dst + i * piece, want, v->frames + off, v->zlen[i]) :
		   ZSTD_decompress(dst + i * piece, want, v->frames + off, v->zlen[i]);
	if (ZSTD_isError(n) || n != want)
		return -EBADMSG;
	return 0;
}

const char *img_str(const struct img_rec *rec, size_t off, uint32_t len)
{
	const char *s = (const char *)rec->p + off;

	if (len == 0 || len > IMG_STR_MAX + 1 || off > rec->len ||
	    len > rec->len - off)
		return NULL;
	if (s[len - 1] != 0 || strlen(s) != len - 1)
		return NULL;
	return s;
}
