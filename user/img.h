/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image codec: the writer (temporary file, checksum, atomic rename) and
 * the reader (mmap, framing checks).  Record layouts: include/bpfckpt/.
 */
#ifndef BPFCKPT_IMG_H
#define BPFCKPT_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpfckpt/image.h"

#define IMG_ALIGN(x)	(((x) + 7) & ~(uint64_t)7)
/* pieces of IMG_PIECE_PAGES in a chunk of @nr pages */
#define img_pieces(nr)	(((nr) + IMG_PIECE_PAGES - 1) / IMG_PIECE_PAGES)

struct img_part {
	const void *p;
	size_t len;
};

struct img_writer;

/* Creates a temporary file next to @path; nothing appears at @path until
 * img_commit(). */
int img_create(const char *path, struct img_writer **out);
/*
 * Appends a record: @rec starts with a ckpt_hdr whose type the caller
 * set; @fixed bytes of it, then @parts, then zero padding to 8.  Sets
 * rec->h.len.
 */
int img_put(struct img_writer *w, void *rec, size_t fixed,
	    const struct img_part *parts, int nparts);
/*
 * A page chunk: writes the IMG_PAGES record for @nr pages at @vaddrs.
 * Its data is filled front to back: img_pages_dst() says where the next
 * bytes go and how many fit there (*room, whole pages), and
 * img_pages_filled() takes the @len bytes put there while they are
 * still in cache (it feeds the checksum and, bounced, writes them).
 * Then img_pages_end(), which also returns a failed write.
 */
int img_pages_begin(struct img_writer *w, uint32_t nr, const uint64_t *vaddrs);
uint8_t *img_pages_dst(struct img_writer *w, size_t *room);
void img_pages_filled(struct img_writer *w, size_t len);
int img_pages_end(struct img_writer *w);
/*
 * Page data through a small buffer and pwrite() (@on, the default), or
 * straight into a shared mapping of the file (BPFCKPT_SNAP_COPY)
 */
void img_set_bounce(struct img_writer *w, bool on);
/* --compress: page chunks become IMG_ZPAGES at zstd @level (0: off) */
void img_set_compress(struct img_writer *w, int level);
/*
 * @path "-" to img_create() makes a stream: the image is spooled in a
 * memfd, img_read_path() names it to read it back, and img_send() copies
 * it out once committed.  img_read_path() is NULL for a file.
 */
const char *img_read_path(const struct img_writer *w);
int img_send(struct img_writer *w, int out);
/* tail, fsync, rename over @path, fsync of the directory; free with img_abort() */
int img_commit(struct img_writer *w);
/* removes the temporary file unless committed, frees; accepts NULL */
void img_abort(struct img_writer *w);
uint64_t img_size(const struct img_writer *w);

/* ---- reader ---- */

#define IMG_ERR_LEN 256

struct img_reader {
	int fd;
	const uint8_t *base;
	uint64_t size;		/* file size */
	uint64_t end;		/* offset of the tail */
	uint64_t off;		/* next record */
	uint64_t index;		/* number of the next record */
	uint32_t page_size;
	const struct img_header *hdr;
	bool any_type;		/* img_next: frame records of unknown type too */
	bool frame_only;	/* img_next: page addresses not checked (verify()) */
	bool sum_pending;	/* IMG_OPEN_SUM_LATER: img_check_sum() to call */
	char err[IMG_ERR_LEN];	/* what img_open/img_next refused */
};

struct img_rec {
	uint32_t type;
	uint32_t len;
	uint64_t off;
	uint64_t index;
	const void *p;
	/* IMG_PAGES only */
	uint32_t nr;
	const uint64_t *vaddrs;
	const uint8_t *data;
	uint64_t data_off;
};

#define IMG_OPEN_NO_CHECKSUM	(1u << 0)
/* page data is not read: each piece is checked when it is used */
#define IMG_OPEN_LAZY		(1u << 1)
/*
 * Only the records and the page index are used (snap --parent's parent),
 * no page data: nothing is hashed, but unlike NO_CHECKSUM the chain is
 * resolved.  A damaged parent is restore's to find: it checks the chain
 * whole, and the child records the parent's checksum.
 */
#define IMG_OPEN_INDEX		(1u << 2)
/*
 * The tail's checksum is not computed at open (it reads 8 bytes of
 * index a page: 16 MiB for 8 GiB): img_check_sum() must say yes before
 * anything of the image has effect.  Framing and every field are still
 * checked as records are read.  restore --lazy: while it restores,
 * before the tree runs.
 */
#define IMG_OPEN_SUM_LATER	(1u << 3)

/*
 * The tail's checksum, for an image opened IMG_OPEN_SUM_LATER: 0 or
 * -EBADMSG (r->err says why).  Allocates nothing, takes no lock: it
 * may run in a thread while another clones.  @r is a copy of the
 * reader, its own err.
 */
int img_check_sum(struct img_reader *r);

struct img_page_sums;
/* an IMG_ZPAGES record, checked (img_zpages_parse) */
struct img_zview {
	uint32_t nr, nr_pieces;
	const uint64_t *vaddrs;
	const uint32_t *zlen;
	const uint8_t *frames;
};
/* -EINVAL with the reason in @err if @rec does not hold what it says */
int img_zpages_parse(const struct img_rec *rec, uint32_t page_size,
		     struct img_zview *v, char *err, size_t len);
/*
 * piece @i of @v, decompressed to its place in @dst (the chunk's pages),
 * with @dctx if not NULL (a ZSTD_DCtx: one per thread)
 */
struct ZSTD_DCtx_s;
int img_zpiece(const struct img_zview *v, uint32_t page_size, uint32_t i, uint8_t *dst,
	       struct ZSTD_DCtx_s *dctx);

/* the sum of piece @i of the @nr pages at @data (what IMG_PAGE_SUMS holds) */
uint64_t img_piece_sum(uint32_t page_size, const uint8_t *data, uint32_t nr, uint32_t i);
/* piece @i of the @nr pages at @data has the sum @s gives it */
bool img_piece_ok(uint32_t page_size, const uint8_t *data, uint32_t nr,
		  const struct img_page_sums *s, uint32_t i);

/* the tail's checksum for what @r maps (as the writer computes it) */
int img_checksum(struct img_reader *r, uint64_t *sum);

/*
 * maps @path and checks header, tail and checksum; -errno, r->err says.
 * "-" reads standard input to its end first (and checks all of it).
 */
int img_open(const char *path, unsigned flags, struct img_reader *r);
/* 1: a record in *rec; 0: the tail was reached; -errno: r->err says */
int img_next(struct img_reader *r, struct img_rec *rec);
void img_close(struct img_reader *r);
const char *img_type_name(uint32_t type);

/* the trailing string at @off of a record, NUL enforced; NULL if bad */
const char *img_str(const struct img_rec *rec, size_t off, uint32_t len);

#endif
