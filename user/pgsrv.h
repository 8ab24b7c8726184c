/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page server: snap --serve ADDR:PORT hands one destination the
 * image of a tree it keeps frozen, restore --lazy --from ADDR:PORT
 * rebuilds the tree from the image's records at once and fills its
 * pages over TCP (pgsrv.c serves, pgfetch.c fetches).
 *
 * Wire protocol, version 1.  Every integer is little-endian (x86-64 on
 * both ends, as the image); every message has a fixed size.  Both ends
 * are untrusted input to each other: each length, offset and count is
 * checked against what was asked or announced.
 *
 *   bulk connection (the first):
 *     C->S  pgs_hello { PGS_MAGIC, 1, PGS_BULK, token 0 }
 *     S->C  pgs_info  { PGS_MAGIC, 1, page size, image size, token, nr_segs }
 *     S->C  nr_segs x pgs_seg: the image's byte ranges that are not page
 *           data (records), increasing, the first at 0, the last ending
 *           at the image size; the gaps between them, page data, are
 *           page-aligned
 *     S->C  the bytes of every segment, in order; then the bytes of
 *           every gap, in order (the pages, streamed once)
 *     C->S  pgs_msg { PGS_DONE }: every page has arrived
 *     S->C  pgs_msg { PGS_KILLED }: the source tree is gone
 *   request connection (the second, once the first has its info):
 *     C->S  pgs_hello { PGS_MAGIC, 1, PGS_REQ, the bulk's token }
 *     C->S  pgs_msg { PGS_GET, off, len }: page data a fault waits for,
 *           page-aligned, len <= PGS_GET_MAX
 *     S->C  pgs_msg { PGS_DATA, off, len } and len bytes, in order
 *
 * The server dies, or the destination hangs up before PGS_DONE: the
 * source tree is thawed (it was never killed) and the destination tree
 * killed.
 */
#ifndef BPFCKPT_PGSRV_H
#define BPFCKPT_PGSRV_H

#include <stdbool.h>
#include <stdint.h>

#define PGS_MAGIC	0x31565347504b4342ULL	/* "BCKPGSV1" */
#define PGS_VERSION	1
#define PGS_BULK	1
#define PGS_REQ		2
#define PGS_GET		1
#define PGS_DATA	2
#define PGS_DONE	3
#define PGS_KILLED	4
#define PGS_GET_MAX	(16u << 20)
#define PGS_SEGS_MAX	(1u << 22)
#define PGS_SIZE_MAX	(1ULL << 42)	/* 4 TiB */

struct pgs_hello {
	uint64_t magic;
	uint32_t version;
	uint32_t role;		/* PGS_BULK, PGS_REQ */
	uint64_t token;		/* PGS_REQ: pgs_info's */
};

struct pgs_info {
	uint64_t magic;
	uint32_t version;
	uint32_t page_size;
	uint64_t size;		/* of the image */
	uint64_t token;		/* what the request connection presents */
	uint32_t nr_segs;
	uint32_t reserved;	/* 0 */
};

struct pgs_seg {
	uint64_t off, len;
};

struct pgs_msg {
	uint32_t type;		/* PGS_GET, PGS_DATA, PGS_DONE, PGS_KILLED */
	uint32_t reserved;	/* 0 */
	uint64_t off, len;
};

_Static_assert(sizeof(struct pgs_hello) == 24, "pgs_hello");
_Static_assert(sizeof(struct pgs_info) == 40, "pgs_info");
_Static_assert(sizeof(struct pgs_msg) == 24, "pgs_msg");

/* ADDR:PORT or [ADDR]:PORT, numeric; -EINVAL with nothing printed */
struct sockaddr_storage;
int pgs_parse_addr(const char *s, struct sockaddr_storage *sa, unsigned *len);
/* whether @s parses so (for the usage checks) */
bool pgs_addr_ok(const char *s);
/*
 * All of @len bytes, on either end: 0, -ETIMEDOUT when the socket's
 * timeout passed (EAGAIN), -ECONNRESET when the peer hung up (recv),
 * else -errno
 */
int pgs_send_all(int fd, const void *p, size_t len);
int pgs_recv_all(int fd, void *p, size_t len);

/* ---- the source (pgsrv.c) ---- */

struct pgs_server;
/* binds and listens on @addr before anything is frozen; prints what failed */
int pgs_listen(const char *addr, struct pgs_server **out);
/*
 * Serves the image at @path (the snap's spool) to one destination
 * until it has every page: 0, the tree may be killed; -errno (printed)
 * if the destination went away or spoke nonsense first.
 */
int pgs_serve(struct pgs_server *s, const char *path, int root, bool quiet);
/* tells the destination whether the source tree is gone; frees (NULL ok) */
void pgs_close(struct pgs_server *s, bool killed);

/* ---- the destination (pgfetch.c) ---- */

struct pgc;
struct restore_ctx;
/*
 * Connects to @addr, fetches every record of the image (not its page
 * data) into a memfd as big as the image, opens the request connection.
 * Prints what failed.
 */
int pgc_open(const char *addr, struct pgc **out);
/* where image_load() finds the image (the memfd) */
const char *pgc_path(const struct pgc *c);
/*
 * the bulk pull from here on, in a thread (after any fork of the
 * restorer), into the page data of @image: image_load()'s mapping of
 * pgc_path()
 */
int pgc_start(struct pgc *c, const void *image);
/*
 * The file range [off, off + len) has arrived: 0.  Else, with @fetch,
 * it is asked for on the request connection and waited for; without,
 * -EINPROGRESS.  -ECONNRESET once the connection broke.
 */
int pgc_need(struct pgc *c, uint64_t off, uint64_t len, bool fetch);
/* every page restore reads before the tree runs (not the pager's) */
int pgc_fetch_eager(struct restore_ctx *ctx);
/* an eventfd the bulk pull bumps when it ends, broken or complete */
int pgc_event_fd(const struct pgc *c);
/* the connection broke before every page arrived */
bool pgc_broken(const struct pgc *c);
/* every page arrived, and the source was told */
bool pgc_complete(const struct pgc *c);
/* "ADDR: why: N pages (M MiB) never arrived" */
void pgc_describe_loss(const struct pgc *c, char *buf, size_t len);
/* the pager is done with every page: their memory goes back */
void pgc_drop_data(struct pgc *c);
/* a failed restore: the connections go at once (the source thaws) */
void pgc_abort(struct pgc *c);
/* waits for the bulk pull's end; frees (NULL ok) */
void pgc_close(struct pgc *c);

#endif
