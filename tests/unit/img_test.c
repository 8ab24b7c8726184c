// SPDX-License-Identifier: GPL-2.0
/*
 * Image codec: a hand-built image goes through the writer (img.h) and
 * comes back field for field through the reader and the loader
 * (model.h); then damaged copies of it must all be rejected, each with a
 * message that names the record and offset (or what else is wrong).
 * Structural damage is "resealed" (tail and checksum recomputed) so that
 * the record checks, not the checksum, have to catch it.
 * Prints "PASS img/<case>" or "FAIL img/<case>: <why>" per case.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "arch.h"
#include "img.h"
#include "model.h"

#define ROOT_PID	1000
#define THREAD2		1001	/* second thread of ROOT_PID */
#define ZOMBIE_PID	1002	/* its child, a zombie */
#define XSTATE_SIZE	64
#define MAX_RECS	64
#define MS_NOSUID_BITS	(0x2u | 0x4u | 0x8u)	/* MS_NOSUID | MS_NODEV | MS_NOEXEC */

static int passed, failed;
static char dir[] = "/tmp/bpfckpt-unit.XXXXXX";
static char good_path[256], bad_path[256];
static uint32_t ps;

/* the good image, and where its records are */
static uint8_t *good;
static size_t good_len;
static struct img_rec recs[MAX_RECS];
static int nr_recs;

static char why[512];
static char last_err[IMG_ERR_LEN];	/* the loader's message of the last rejects() */

static int __attribute__((format(printf, 1, 2))) no(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

static void run(const char *name, int (*fn)(void))
{
	why[0] = 0;
	if (fn() == 0) {
		printf("PASS img/%s\n", name);
		passed++;
	} else {
		printf("FAIL img/%s: %s\n", name, why);
		failed++;
	}
	fflush(stdout);
}

/* ---- building the image ---- */

static uint8_t page_byte(uint64_t va, size_t i)
{
	return (uint8_t)((va >> 12) * 31 + i * 7 + 1);
}

static int put_header(struct img_writer *w)
{
	struct img_header h = {
		.h.type = IMG_HEADER, .magic = IMG_MAGIC, .version = IMG_VERSION,
		.arch = IMG_ARCH_X86_64, .page_size = ps,
		.task_comm_len = BCK_COMM_LEN, .nsig = BCK_NSIG,
		.nr_rlimits = BCK_NRLIMITS, .auxv_words = BCK_AUXV_WORDS,
		.ns_levels = BCK_NS_LEVELS, .xstate_size = XSTATE_SIZE,
		.nr_procs = 2, .time_ns = 1, .mono_ns = 2, .root_pid = ROOT_PID,
	};

	strcpy((char *)h.boot_id, "boot-id");
	strcpy(h.sysname, "Linux");
	strcpy(h.release, "6.18.0");
	strcpy(h.kversion, "#1");
	strcpy(h.machine, "x86_64");
	strcpy(h.hostname, "unit");
	return img_put(w, &h, sizeof(h), NULL, 0);
}

static int put_proc(struct img_writer *w, int32_t pid, int32_t ppid, bool zombie)
{
	static const char exe[] = "/bin/unit", cwd[] = "/tmp", root[] = "/";
	struct img_proc p = {
		.h.type = IMG_PROC, .nr_levels = 1,
		.pid = { pid }, .ppid = { ppid }, .pgid = { ROOT_PID },
		.sid = { ROOT_PID }, .nr_threads = zombie ? 0 : 2,
		.flags = zombie ? IMG_PROC_ZOMBIE : 0, .exit_code = zombie ? 0x700 : 0,
		.umask = 022, .auxv_words = 4, .nr_rlimits = BCK_NRLIMITS,
		.auxv = { 6, 4096, 0, 0 }, .brk = 0x31000,
	};
	struct img_part parts[3] = {
		{ exe, sizeof(exe) }, { cwd, sizeof(cwd) }, { root, sizeof(root) },
	};

	strcpy(p.comm, "unit");
	if (zombie)
		return img_put(w, &p, sizeof(p), NULL, 0);
	p.exe_len = sizeof(exe);
	p.cwd_len = sizeof(cwd);
	p.root_len = sizeof(root);
	return img_put(w, &p, sizeof(p), parts, 3);
}

static int put_thread(struct img_writer *w, int32_t tid)
{
	struct img_thread t = {
		.h.type = IMG_THREAD, .tid = { tid }, .blocked = 1ULL << 9,
		.regs_size = ARCH_REGS_SIZE, .xstate_size = XSTATE_SIZE,
		.rseq = 0x7f0000001000, .rseq_len = 32,
	};
	uint8_t regs[ARCH_REGS_SIZE], xs[XSTATE_SIZE];
	struct img_part parts[2] = { { regs, sizeof(regs) }, { xs, sizeof(xs) } };

	memset(regs, tid & 0xff, sizeof(regs));
	memset(xs, 0xa5, sizeof(xs));
	strcpy(t.comm, tid == ROOT_PID ? "unit" : "worker");
	return img_put(w, &t, sizeof(t), parts, 2);
}

static int put_vma(struct img_writer *w, uint64_t start, uint64_t end, uint32_t kind,
		   const char *path)
{
	struct img_vma v = {
		.h.type = IMG_VMA, .start = start, .end = end, .kind = kind,
		.prot = 3, .map_flags = 2, .pgoff = path ? 0x1000 : 0,
		.path_len = path ? strlen(path) + 1 : 0, .ino = path ? 42 : 0,
	};
	struct img_part part = { path, v.path_len };

	return img_put(w, &v, sizeof(v), &part, path ? 1 : 0);
}

static int put_pages(struct img_writer *w, const uint64_t *va, uint32_t nr)
{
	uint8_t *data;
	uint32_t i;
	size_t b;
	int ret;

	ret = img_pages_begin(w, nr, va, &data);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++)
		for (b = 0; b < ps; b++)
			data[(size_t)i * ps + b] = page_byte(va[i], b);
	img_pages_filled(w, (size_t)nr * ps);
	return img_pages_end(w);
}

static int put_fd(struct img_writer *w, int32_t fd, uint32_t kind, uint64_t pos,
		  const char *path)
{
	struct img_fd f = {
		.h.type = IMG_FD, .fd = fd, .kind = kind, .pos = pos,
		.flags = fd == 3 ? IMG_FD_CLOEXEC : 0, .open_flags = 2,
		.path_len = strlen(path) + 1, .file_id = fd + 1,
	};
	struct img_part part = { path, f.path_len };

	return img_put(w, &f, sizeof(f), &part, 1);
}

/* an end of pipe inode 77; the first carries its bytes */
static int put_pipe_end(struct img_writer *w, int32_t fd, uint32_t acc, const char *data)
{
	struct img_fd f = {
		.h.type = IMG_FD, .fd = fd, .kind = IMG_FD_FIFO, .open_flags = acc,
		.ino = 77, .path_len = sizeof("pipe:[77]"), .file_id = fd + 1,
	};
	struct img_part part = { "pipe:[77]", f.path_len }, bytes = { data, 0 };
	struct img_pipe p = {
		.h.type = IMG_PIPE, .ino = 77, .size = 65536, .readers = 1, .writers = 1,
		.flags = data ? IMG_PIPE_DATA : 0,
	};
	int ret;

	ret = img_put(w, &f, sizeof(f), &part, 1);
	if (ret)
		return ret;
	if (data)
		bytes.len = p.data_len = strlen(data);
	return img_put(w, &p, sizeof(p), &bytes, data ? 1 : 0);
}

/* a stream socket with two messages queued ("ab", "cde") */
static int put_unix(struct img_writer *w, int32_t fd)
{
	struct img_fd f = {
		.h.type = IMG_FD, .fd = fd, .kind = IMG_FD_UNIX, .open_flags = 2,
		.ino = 88, .path_len = sizeof("socket:[88]"), .file_id = fd + 1,
	};
	struct img_part part = { "socket:[88]", f.path_len };
	static const struct { uint32_t lens[2]; char bytes[5]; } q = { { 2, 3 }, "abcde" };
	struct img_part qp = { &q, 13 };
	struct img_unix u = {
		.h.type = IMG_UNIX, .ino = 88, .type = 1, .state = IMG_UNIX_CLOSE,
		.flags = IMG_UNIX_F_QUEUED, .name_len = 2, .name = "/s",
		.nr_msgs = 2, .data_len = 5,
	};
	int ret;

	ret = img_put(w, &f, sizeof(f), &part, 1);
	return ret ?: img_put(w, &u, sizeof(u), &qp, 1);
}

/* an eventfd and an epoll watching it as fd 7 */
static int put_event_fds(struct img_writer *w)
{
	struct img_fd f = {
		.h.type = IMG_FD, .fd = 7, .kind = IMG_FD_EVENTFD, .open_flags = 2,
		.ino = 99, .path_len = sizeof("anon_inode:[eventfd]"), .file_id = 8,
	};
	struct img_part part = { "anon_inode:[eventfd]", f.path_len };
	struct img_eventfd e = { .h.type = IMG_EVENTFD, .count = 1ULL << 40, .semaphore = 1 };
	struct img_epoll ep = { .h.type = IMG_EPOLL, .nr_items = 1 };
	struct img_epoll_item it = { .tfd = 7, .events = 1, .data = 42, .ino = 99 };
	struct img_part items = { &it, sizeof(it) };
	int ret;

	ret = img_put(w, &f, sizeof(f), &part, 1) ?: img_put(w, &e, sizeof(e), NULL, 0);
	if (ret)
		return ret;
	f.fd = 8;
	f.kind = IMG_FD_EPOLL;
	f.ino = 100;
	f.file_id = 9;
	f.path_len = sizeof("anon_inode:[eventpoll]");
	part = (struct img_part){ "anon_inode:[eventpoll]", f.path_len };
	ret = img_put(w, &f, sizeof(f), &part, 1) ?: img_put(w, &ep, sizeof(ep), &items, 1);
	if (ret)
		return ret;
	/* a memfd of 3 bytes */
	struct img_filedata d = { .h.type = IMG_FILEDATA, .ino = 101, .size = 3,
				  .flags = IMG_FILEDATA_CONTENT, .mode = 0600, .seals = 1 };
	struct img_part content = { "abc", 3 };

	f.fd = 9;
	f.kind = IMG_FD_MEMFD;
	f.ino = 101;
	f.file_id = 10;
	f.path_len = sizeof("/memfd:m (deleted)");
	part = (struct img_part){ "/memfd:m (deleted)", f.path_len };
	return img_put(w, &f, sizeof(f), &part, 1) ?: img_put(w, &d, sizeof(d), &content, 1);
}

static const uint64_t chunk1[] = { 0x10000, 0x11000, 0x13000 };
static const uint64_t chunk2[] = { 0x30000 };

static int put_records(struct img_writer *w)
{
	struct img_siginfo si = { .h.type = IMG_SIGINFO, .tid = THREAD2, .signo = 10 };
	struct img_timer tm = { .h.type = IMG_TIMER, .id = 0, .signo = 14,
				.interval_ns = 1000000, .value_ns = 500 };
	int ret;

	if ((ret = put_header(w)) || (ret = put_proc(w, ROOT_PID, 1, false)) ||
	    (ret = put_thread(w, ROOT_PID)) || (ret = put_thread(w, THREAD2)) ||
	    (ret = img_put(w, &si, sizeof(si), NULL, 0)) ||
	    (ret = img_put(w, &tm, sizeof(tm), NULL, 0)) ||
	    (ret = put_vma(w, 0x10000, 0x14000, IMG_VMA_ANON, NULL)) ||
	    (ret = put_vma(w, 0x20000, 0x22000, IMG_VMA_FILE, "/lib/x.so")) ||
	    (ret = put_vma(w, 0x30000, 0x31000, IMG_VMA_HEAP, NULL)) ||
	    (ret = put_pages(w, chunk1, 3)) || (ret = put_pages(w, chunk2, 1)) ||
	    (ret = put_fd(w, 0, IMG_FD_CHR, 0, "/dev/null")) ||
	    (ret = put_fd(w, 3, IMG_FD_REG, 1234, "/tmp/data")) ||
	    (ret = put_pipe_end(w, 4, O_RDONLY, "hello")) ||
	    (ret = put_pipe_end(w, 5, O_WRONLY, NULL)) ||
	    (ret = put_unix(w, 6)) ||
	    (ret = put_event_fds(w)) ||
	    (ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		return ret;
	return 0;
}

static int build(const char *path)
{
	struct img_writer *w;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return no("img_create: %s", strerror(-ret));
	ret = put_records(w);
	if (!ret)
		ret = img_commit(w);
	img_abort(w);
	return ret ? no("writing: %s", strerror(-ret)) : 0;
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		return no("%s: %s", path, strerror(errno));
	*len = st.st_size;
	*buf = malloc(*len);
	if (!*buf || read(fd, *buf, *len) != (ssize_t)*len)
		return no("reading %s", path);
	close(fd);
	return 0;
}

static int write_all(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return no("writing %s: %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* ---- round trip ---- */

static int t_writer_leaves_no_temp(void)
{
	struct img_writer *w;
	char path[300];
	int ret, n = 0;
	FILE *ls;

	snprintf(path, sizeof(path), "%s/aborted.img", dir);
	ret = img_create(path, &w);
	if (ret)
		return no("img_create: %s", strerror(-ret));
	put_header(w);
	img_abort(w);
	snprintf(path, sizeof(path), "ls -A %s | grep -c aborted", dir);
	ls = popen(path, "r");
	if (!ls || fscanf(ls, "%d", &n) != 1)
		n = -1;
	if (ls)
		pclose(ls);
	return n == 0 ? 0 : no("%d files named like aborted.img left after img_abort", n);
}

static int t_writer_refuses_huge_record(void)
{
	struct img_error e = { .h.type = IMG_ERROR };
	struct img_part part = { NULL, IMG_REC_MAX };
	struct img_writer *w;
	char path[300];
	int ret;

	snprintf(path, sizeof(path), "%s/huge.img", dir);
	if (img_create(path, &w))
		return no("img_create failed");
	part.p = calloc(1, IMG_REC_MAX);
	ret = img_put(w, &e, sizeof(e), &part, 1);
	free((void *)part.p);
	img_abort(w);
	return ret == -E2BIG ? 0 : no("img_put of a %u-byte record returned %d",
				      IMG_REC_MAX + (unsigned)sizeof(e), ret);
}

static int t_record_stream(void)
{
	static const uint32_t want[] = {
		IMG_PROC, IMG_THREAD, IMG_THREAD, IMG_SIGINFO, IMG_TIMER, IMG_VMA,
		IMG_VMA, IMG_VMA, IMG_PAGES, IMG_PAGE_SUMS, IMG_PAGES, IMG_PAGE_SUMS,
		IMG_FD, IMG_FD, IMG_FD, IMG_PIPE, IMG_FD, IMG_PIPE, IMG_FD, IMG_UNIX,
		IMG_FD, IMG_EVENTFD, IMG_FD, IMG_EPOLL, IMG_FD, IMG_FILEDATA, IMG_PROC,
	};
	struct img_reader r;
	struct img_rec rec;
	int ret, i = 0;

	ret = img_open(good_path, 0, &r);
	if (ret)
		return no("img_open: %s", r.err);
	while ((ret = img_next(&r, &rec)) > 0) {
		if (i >= (int)(sizeof(want) / sizeof(want[0])) || rec.type != want[i])
			return no("record %d is %s", i, img_type_name(rec.type));
		if (rec.off % 8 || rec.len % 8)
			return no("record %d at %#" PRIx64 " is not 8-byte aligned", i, rec.off);
		if (rec.type == IMG_PAGES && rec.data_off % ps)
			return no("page data of record %d at %#" PRIx64 " not page-aligned",
				  i, rec.data_off);
		rec.p = NULL;		/* the mapping goes with img_close() */
		recs[nr_recs++] = rec;
		i++;
	}
	img_close(&r);
	if (ret < 0)
		return no("img_next: %s", r.err);
	return i == (int)(sizeof(want) / sizeof(want[0])) ? 0 : no("%d records", i);
}

static int check_proc0(const struct m_proc *mp)
{
	const struct m_thread *t = &mp->threads[0];
	const uint8_t *regs = t->regs;

	if (mp->p->pid[0] != ROOT_PID || mp->p->ppid[0] != 1 || mp->parent != -1 ||
	    strcmp(mp->p->comm, "unit") || mp->p->umask != 022 || mp->p->brk != 0x31000)
		return no("process fields differ");
	if (!mp->exe || strcmp(mp->exe, "/bin/unit") || strcmp(mp->cwd, "/tmp") ||
	    strcmp(mp->root, "/"))
		return no("exe/cwd/root differ");
	if (mp->nr_threads != 2 || t->t->tid[0] != ROOT_PID ||
	    mp->threads[1].t->tid[0] != THREAD2 || strcmp(mp->threads[1].t->comm, "worker"))
		return no("threads differ");
	if (regs[0] != (ROOT_PID & 0xff) || regs[ARCH_REGS_SIZE - 1] != (ROOT_PID & 0xff) ||
	    ((const uint8_t *)t->xstate)[XSTATE_SIZE - 1] != 0xa5 ||
	    t->t->blocked != 1ULL << 9 || t->t->rseq != 0x7f0000001000)
		return no("thread registers or state differ");
	if (mp->nr_sigs != 1 || mp->sigs[0]->tid != THREAD2 || mp->sigs[0]->signo != 10 ||
	    mp->nr_timers != 1 || mp->timers[0]->signo != 14 ||
	    mp->timers[0]->interval_ns != 1000000)
		return no("signals or timers differ");
	return 0;
}

static int check_mem_fds(const struct m_proc *mp)
{
	uint32_t c, i;
	size_t b;

	if (mp->nr_vmas != 3 || mp->vmas[1].v->start != 0x20000 || !mp->vmas[1].path ||
	    strcmp(mp->vmas[1].path, "/lib/x.so") || mp->vmas[0].path ||
	    mp->vmas[2].v->kind != IMG_VMA_HEAP || mp->vmas[1].v->pgoff != 0x1000)
		return no("vmas differ");
	if (mp->nr_chunks != 2 || mp->nr_pages != 4 || mp->pages[0].nr != 3 ||
	    mp->pages[1].vaddrs[0] != 0x30000)
		return no("page chunks differ");
	for (c = 0; c < 2; c++)
		for (i = 0; i < mp->pages[c].nr; i++)
			for (b = 0; b < ps; b++)
				if (mp->pages[c].data[(size_t)i * ps + b] !=
				    page_byte(mp->pages[c].vaddrs[i], b))
					return no("page %#" PRIx64 " byte %zu differs",
						  mp->pages[c].vaddrs[i], b);
	if (mp->nr_fds != 8 || !mp->fds[7].ext || memcmp(mp->fds[7].data, "abc", 3) ||
	    ((const struct img_filedata *)mp->fds[7].ext)->seals != 1 || !mp->fds[5].ext || mp->fds[5].ext->type != IMG_EVENTFD ||
	    ((const struct img_eventfd *)mp->fds[5].ext)->count != 1ULL << 40 ||
	    !mp->fds[6].ext || ((const struct img_epoll_item *)mp->fds[6].data)->data != 42)
		return no("event fds differ");
	if (!mp->fds[4].ext || mp->fds[4].ext->type != IMG_UNIX ||
	    memcmp(mp->fds[4].data + 8, "abcde", 5))
		return no("unix fd differs");
	if (!mp->fds[2].ext || mp->fds[2].ext->type != IMG_PIPE ||
	    ((const struct img_pipe *)mp->fds[2].ext)->data_len != 5 ||
	    memcmp(mp->fds[2].data, "hello", 5) || !mp->fds[3].ext || mp->fds[1].ext)
		return no("pipe fds differ");
	if (mp->fds[1].f->fd != 3 || mp->fds[1].f->pos != 1234 ||
	    strcmp(mp->fds[1].path, "/tmp/data") || !(mp->fds[1].f->flags & IMG_FD_CLOEXEC) ||
	    strcmp(mp->fds[0].path, "/dev/null") || mp->fds[0].f->kind != IMG_FD_CHR)
		return no("fds differ");
	return 0;
}

static int t_round_trip(void)
{
	struct ckpt_image img;
	const struct m_proc *z;
	int ret;

	ret = image_load(good_path, 0, &img);
	if (ret) {
		no("image_load: %s", img.r.err);
		image_free(&img);
		return -1;
	}
	ret = -1;
	if (img.nr_procs != 2 || img.hdr->root_pid != ROOT_PID || img.nr_pages != 4 ||
	    img.hdr->page_size != ps || strcmp(img.hdr->hostname, "unit"))
		no("header or counts differ");
	else if (!check_proc0(&img.procs[0]) && !check_mem_fds(&img.procs[0])) {
		z = &img.procs[1];
		if (!(z->p->flags & IMG_PROC_ZOMBIE) || z->p->exit_code != 0x700 ||
		    z->parent != 0 || z->nr_threads || z->exe)
			no("zombie child differs");
		else if (image_find(&img, ZOMBIE_PID) != 1 || image_find(&img, 4) != -1)
			no("image_find");
		else
			ret = 0;
	}
	image_free(&img);
	return ret;
}

/* ---- rejection ---- */

static const struct img_rec *rec_of(uint32_t type, int nth)
{
	int i;

	for (i = 0; i < nr_recs; i++)
		if (recs[i].type == type && nth-- == 0)
			return &recs[i];
	return NULL;
}

static uint8_t *copy_good(void)
{
	uint8_t *b = malloc(good_len);

	if (b)
		memcpy(b, good, good_len);
	return b;
}

/* a valid tail at the end of @buf: only the record checks can object */
static void reseal(uint8_t *buf, size_t len, uint64_t nr_records)
{
	struct img_tail *t = (void *)(buf + len - sizeof(*t));
	struct img_reader r;
	uint64_t sum;

	t->h.type = IMG_TAIL;
	t->h.len = sizeof(*t);
	t->magic = IMG_TAIL_MAGIC;
	t->nr_records = nr_records;
	t->size = len - sizeof(*t);
	t->checksum = 0;
	/* as the writer sums it: page data left out (framing damage: no sum) */
	if (!write_all(bad_path, buf, len) && !img_open(bad_path, IMG_OPEN_NO_CHECKSUM, &r)) {
		if (!img_checksum(&r, &sum))
			t->checksum = sum;
		img_close(&r);
	}
}

/*
 * image_load of @buf must fail, its message containing @want and, unless
 * NULL, @also (e.g. "offset 0x..."). @what names the damage for the report.
 */
static int rejects(const uint8_t *buf, size_t len, unsigned flags, const char *want,
		   const char *also, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (write_all(bad_path, buf, len))
		return -1;
	ret = image_load(bad_path, flags, &img);
	memcpy(last_err, img.r.err, sizeof(last_err));
	image_free(&img);	/* clears img.r.err */
	if (ret >= 0)
		return no("%s: accepted", what);
	if (!last_err[0])
		return no("%s: rejected without a message", what);
	if ((want && !strstr(last_err, want)) || (also && !strstr(last_err, also)))
		return no("%s: message '%s' does not say '%s'%s%s", what, last_err,
			  want ? want : "", also ? " and " : "", also ? also : "");
	return 0;
}

/* rejects a resealed copy where @size bytes at @field of record @r changed */
static int rejects_at(const struct img_rec *r, size_t field, const void *val,
		      size_t size, const char *want, bool at_offset, const char *what)
{
	uint8_t *b = copy_good();
	char off[40];
	int ret;

	if (!b)
		return no("malloc");
	memcpy(b + r->off + field, val, size);
	reseal(b, good_len, nr_recs + 1);
	snprintf(off, sizeof(off), "offset %#" PRIx64, r->off);
	ret = rejects(b, good_len, 0, want, at_offset ? off : NULL, what);
	free(b);
	return ret;
}

/* the same for the record of @type number @nth */
static int rejects_edit(uint32_t type, int nth, size_t field, const void *val,
			size_t size, const char *want, bool at_offset, const char *what)
{
	const struct img_rec *r = rec_of(type, nth);

	if (!r)
		return no("no record %s #%d", img_type_name(type), nth);
	return rejects_at(r, field, val, size, want, at_offset, what);
}

#define EDIT(type, nth, st, field, v, want, what) ({			\
	__typeof__(((struct st *)0)->field) __v = (v);			\
	rejects_edit(type, nth, offsetof(struct st, field), &__v,	\
		     sizeof(__v), want, true, what); })

static bool says_where(const char *err)
{
	return strstr(err, "offset") || strstr(err, "truncated") || strstr(err, "too short");
}

static int t_truncated(void)
{
	size_t cut;
	int n = 0;

	for (cut = 0; cut < good_len; cut += (cut < 64 || cut > good_len - 64) ? 1 : 8) {
		if (write_all(bad_path, good, cut))
			return -1;
		if (rejects(good, cut, 0, NULL, NULL, "cut"))
			return no("cut at %zu: %s", cut, why);
		if (!says_where(last_err))
			return no("cut at %zu: '%s' says neither offset nor truncation",
				  cut, last_err);
		n++;
	}
	return n > 100 ? 0 : no("only %d cuts tried", n);
}

/* cut, then given a valid tail: the record walk must notice */
static int t_truncated_resealed(void)
{
	size_t cut, tail = sizeof(struct img_tail);
	uint8_t *b = malloc(good_len + tail);
	char what[64];
	int i, whole;

	if (!b)
		return no("malloc");
	for (cut = sizeof(struct img_header); cut < good_len - tail; cut += 8) {
		for (whole = 1, i = 0; i < nr_recs; i++)
			if (recs[i].off + recs[i].len + (recs[i].type == IMG_PAGES ?
			    (recs[i].data_off - recs[i].off - recs[i].len) +
			    (uint64_t)recs[i].nr * ps : 0) <= cut)
				whole++;
		memcpy(b, good, cut);
		reseal(b, cut + tail, whole);
		snprintf(what, sizeof(what), "cut at %zu and resealed", cut);
		if (rejects(b, cut + tail, 0, NULL, NULL, what))
			goto out;
		/* mid-record: where; at a record boundary: what is missing */
		if (!says_where(last_err) && !strstr(last_err, "header says") &&
		    !strstr(last_err, "record says")) {
			no("%s: '%s' says neither where nor what is missing", what,
			   last_err);
			goto out;
		}
	}
	free(b);
	return 0;
out:
	free(b);
	return -1;
}

static int t_bad_length(void)
{
	uint32_t lens[4];
	char what[80];
	int i, j;

	for (i = 0; i < nr_recs; i++) {
		lens[0] = 4;				/* below the header */
		lens[1] = recs[i].len + 4;		/* not a multiple of 8 */
		lens[2] = IMG_REC_MAX + 8;		/* over the limit */
		lens[3] = (uint32_t)(good_len - recs[i].off + 8);	/* past the end */
		for (j = 0; j < 4; j++) {
			snprintf(what, sizeof(what), "%s record %d with length %u",
				 img_type_name(recs[i].type), i, lens[j]);
			if (rejects_at(&recs[i], offsetof(struct ckpt_hdr, len),
				       &lens[j], 4, "bad length", true, what))
				return -1;
		}
	}
	return 0;
}

static int t_wrong_type(void)
{
	static const uint32_t bad[] = { 0, IMG_HEADER, IMG_TAIL, 5, 63, 127, 128, 200,
					0xffffffff };
	static const struct { uint32_t from, to; } swaps[] = {
		{ IMG_THREAD, IMG_VMA }, { IMG_VMA, IMG_THREAD }, { IMG_PROC, IMG_FD },
		{ IMG_PAGES, IMG_VMA }, { IMG_SIGINFO, IMG_TIMER }, { IMG_FD, IMG_PROC },
	};
	char what[80];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "vma record typed %u", bad[i]);
		if (rejects_edit(IMG_VMA, 0, 0, &bad[i], 4, "unknown or misplaced type",
				 true, what))
			return -1;
	}
	for (i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		snprintf(what, sizeof(what), "%s record typed %s",
			 img_type_name(swaps[i].from), img_type_name(swaps[i].to));
		/*
		 * A page chunk typed otherwise leaves its padding where the
		 * next record would be: the framing then objects there.
		 */
		if (rejects_edit(swaps[i].from, 0, 0, &swaps[i].to, 4, NULL,
				 swaps[i].from != IMG_PAGES, what))
			return -1;
	}
	return 0;
}

/* not resealed: the checksum must catch it wherever it is */
static int t_flipped_byte(void)
{
	uint8_t *b = copy_good();
	size_t off;
	char what[64];

	if (!b)
		return no("malloc");
	for (off = 0; off < good_len; off += 37) {
		b[off] ^= 0x10;
		snprintf(what, sizeof(what), "byte %zu flipped", off);
		/* in page data or a record: a sum or the framing objects */
		if (rejects(b, good_len, 0, NULL, NULL, what)) {
			free(b);
			return -1;
		}
		b[off] ^= 0x10;
	}
	free(b);
	return 0;
}

/* IMG_OPEN_NO_CHECKSUM: a flipped page byte then goes through unnoticed */
static int t_no_checksum_flag(void)
{
	const struct img_rec *r = rec_of(IMG_PAGES, 0);
	uint8_t *b = copy_good();
	struct ckpt_image img;
	int ret;

	if (!r || !b)
		return no("setup");
	b[r->data_off + 5] ^= 0xff;
	write_all(bad_path, b, good_len);
	free(b);
	ret = image_load(bad_path, IMG_OPEN_NO_CHECKSUM, &img);
	if (ret)
		no("rejected: %s", img.r.err);
	else if (img.procs[0].pages[0].data[5] == page_byte(chunk1[0], 5))
		ret = no("the flipped byte is not what the model shows");
	image_free(&img);
	return ret;
}

static int t_bad_page_chunks(void)
{
	/* recs[].p pointed into the reader's mapping, long gone: use good[] */
	uint32_t pad = ((const struct img_pages *)(good + rec_of(IMG_PAGES, 0)->off))->pad;
	size_t va = sizeof(struct img_pages);

	if (EDIT(IMG_PAGES, 0, img_pages, pad, pad + 8, "misplaced", "pad + 8") ||
	    EDIT(IMG_PAGES, 0, img_pages, pad, ps, "misplaced", "pad = page size") ||
	    EDIT(IMG_PAGES, 0, img_pages, nr, 0, "page count 0 out of range", "nr 0") ||
	    EDIT(IMG_PAGES, 0, img_pages, nr, IMG_PAGES_MAX + 1, "out of range", "nr huge") ||
	    EDIT(IMG_PAGES, 0, img_pages, nr, 2, "does not fit", "nr 2 for 3 addresses") ||
	    EDIT(IMG_PAGES, 1, img_pages, nr, 3, "does not fit", "nr 3 for 1 address"))
		return -1;
	if (rejects_edit(IMG_PAGES, 0, va + 8, &(uint64_t){ 0x11001 }, 8,
			 "bad page address", true, "unaligned address") ||
	    rejects_edit(IMG_PAGES, 0, va + 8, &(uint64_t){ 0x10000 }, 8,
			 "bad page address", true, "repeated address") ||
	    rejects_edit(IMG_PAGES, 0, va + 16, &(uint64_t){ 0x10000 }, 8,
			 "bad page address", true, "decreasing address") ||
	    rejects_edit(IMG_PAGES, 1, va, &(uint64_t){ 1ULL << 57 }, 8,
			 "bad page address", true, "address beyond 57 bits"))
		return -1;
	return 0;
}

static int t_unterminated_strings(void)
{
	const struct img_proc *pr = (const void *)(good + rec_of(IMG_PROC, 0)->off);
	size_t vs = sizeof(struct img_vma), ps_ = sizeof(struct img_proc);
	char comm[BCK_COMM_LEN], host[72];
	const char x = 'X', z = 0;

	memset(comm, 'c', sizeof(comm));
	memset(host, 'h', sizeof(host));
	if (rejects_edit(IMG_VMA, 1, vs + strlen("/lib/x.so"), &x, 1, "string 1 is malformed",
			 true, "vma path without its NUL") ||
	    rejects_edit(IMG_VMA, 1, vs + 2, &z, 1, "string 1 is malformed", true,
			 "vma path with a NUL inside") ||
	    rejects_edit(IMG_PROC, 0, ps_ + pr->exe_len - 1, &x, 1, "string 1 is malformed",
			 true, "exe without its NUL") ||
	    rejects_edit(IMG_PROC, 0, ps_ + pr->exe_len + pr->cwd_len + pr->root_len - 1,
			 &x, 1, "string 3 is malformed", true, "root without its NUL") ||
	    rejects_edit(IMG_FD, 1, sizeof(struct img_fd) + strlen("/tmp/data"), &x, 1,
			 "string 1 is malformed", true, "fd path without its NUL") ||
	    rejects_edit(IMG_PROC, 0, offsetof(struct img_proc, comm), comm, sizeof(comm),
			 "comm not terminated", true, "process comm without NUL") ||
	    rejects_edit(IMG_THREAD, 1, offsetof(struct img_thread, comm), comm,
			 sizeof(comm), "comm not terminated", true, "thread comm without NUL"))
		return -1;
	/* the header is checked before any record */
	{
		uint8_t *b = copy_good();
		int ret;

		memcpy(b + offsetof(struct img_header, hostname), host, sizeof(host));
		reseal(b, good_len, nr_recs + 1);
		ret = rejects(b, good_len, 0, "header: unterminated string", NULL,
			      "hostname without NUL");
		free(b);
		return ret;
	}
}

static int t_vma_overlap(void)
{
	return EDIT(IMG_VMA, 1, img_vma, start, 0x13000, "overlaps or is out of order",
		    "vma starting inside the previous one") ||
	       EDIT(IMG_VMA, 2, img_vma, start, 0x21000, "overlaps or is out of order",
		    "vma overlapping the previous one") ||
	       EDIT(IMG_VMA, 0, img_vma, end, 0x10000, "invalid", "empty vma") ||
	       EDIT(IMG_VMA, 0, img_vma, start, 0x10800, "invalid", "unaligned vma") ||
	       EDIT(IMG_VMA, 1, img_vma, pgoff, 0x10, "invalid", "unaligned file offset") ||
	       EDIT(IMG_VMA, 1, img_vma, kind, 99, "kind 99", "unknown vma kind") ||
	       EDIT(IMG_VMA, 0, img_vma, prot, 0x10, "prot", "unknown prot bits") ? -1 : 0;
}

static int t_pages_outside_vma(void)
{
	size_t va = sizeof(struct img_pages);

	if (rejects_edit(IMG_PAGES, 0, va + 16, &(uint64_t){ 0x15000 }, 8,
			 "page 0x15000 is outside every vma", true, "page in a gap") ||
	    rejects_edit(IMG_PAGES, 1, va, &(uint64_t){ 0x31000 }, 8,
			 "page 0x31000 is outside every vma", true, "page past the last vma") ||
	    rejects_edit(IMG_PAGES, 0, va, &(uint64_t){ 0x1000 }, 8,
			 "page 0x1000 is outside every vma", true, "page before the first vma"))
		return -1;
	return 0;
}

static int t_reserved_fields(void)
{
	uint8_t *b;
	int ret;

	if (EDIT(IMG_VMA, 0, img_vma, reserved, 1, "reserved", "vma reserved field") ||
	    EDIT(IMG_PROC, 0, img_proc, exit_signal, 99, "exit signal", "process exit signal") ||
	    EDIT(IMG_FD, 0, img_fd, reserved, 1, "fd 0 kind", "fd reserved field") ||
	    EDIT(IMG_PROC, 0, img_proc, flags, IMG_PROC_FLAGS_ALL + 1, "unknown flags",
		 "process flags") ||
	    EDIT(IMG_THREAD, 0, img_thread, flags, 0x80, "unknown flags", "thread flags") ||
	    EDIT(IMG_TIMER, 0, img_timer, reserved, 1, "out of range", "timer reserved field") ||
	    EDIT(IMG_FD, 0, img_fd, flags, 0x80, "flags 0x80", "fd flags"))
		return -1;
	b = copy_good();
	((struct img_header *)b)->flags = 1;
	reseal(b, good_len, nr_recs + 1);
	ret = rejects(b, good_len, 0, "reserved flags", NULL, "header flags");
	free(b);
	if (ret)
		return ret;
	/* records are laid out by these: another value is another format */
	b = copy_good();
	((struct img_header *)b)->nsig = BCK_NSIG + 1;
	reseal(b, good_len, nr_recs + 1);
	ret = rejects(b, good_len, 0, "kernel constants", NULL, "header signal count");
	free(b);
	return ret;
}

/* references between records, checked once everything is read */
static int t_cross_references(void)
{
	uint8_t *b;
	int ret;

	if (EDIT(IMG_PROC, 1, img_proc, pid[0], ROOT_PID, "appears twice", "pid twice") ||
	    EDIT(IMG_THREAD, 0, img_thread, tid[0], THREAD2, "is not the leader",
		 "first thread not the leader") ||
	    EDIT(IMG_FD, 1, img_fd, fd, 0, "out of order", "fd numbers out of order"))
		return -1;
	if (rejects_edit(IMG_PROC, 1, offsetof(struct img_proc, ppid), &(int32_t){ 4242 }, 4,
			 "parent 4242 is not an earlier process", false, "unknown parent") ||
	    rejects_edit(IMG_SIGINFO, 0, offsetof(struct img_siginfo, tid), &(int32_t){ 4242 },
			 4, "unknown thread 4242", false, "signal for an unknown thread") ||
	    rejects_edit(IMG_PROC, 0, offsetof(struct img_proc, nr_threads), &(uint32_t){ 3 },
			 4, "record says 3", false, "thread count"))
		return -1;
	b = copy_good();
	((struct img_header *)b)->nr_procs = 3;
	reseal(b, good_len, nr_recs + 1);
	ret = rejects(b, good_len, 0, "header says 3", NULL, "process count");
	if (!ret) {
		((struct img_header *)b)->nr_procs = 2;
		((struct img_header *)b)->root_pid = ZOMBIE_PID;
		reseal(b, good_len, nr_recs + 1);
		ret = rejects(b, good_len, 0, "is not the root", NULL, "root pid");
	}
	free(b);
	return ret;
}

/* a pipe's record: after its fd, the same inode, its bytes once */
static int t_pipes(void)
{
	if (EDIT(IMG_PIPE, 0, img_pipe, size, 2, "5 bytes in a pipe of 2", "bytes above size") ||
	    EDIT(IMG_PIPE, 1, img_pipe, ino, 78, "inode 78, its fd's is 77", "inode") ||
	    EDIT(IMG_PIPE, 0, img_pipe, flags, 0, "flags 0", "bytes without the flag") ||
	    EDIT(IMG_PIPE, 1, img_pipe, flags, 2, "flags 0x2", "unknown flag") ||
	    EDIT(IMG_PIPE, 1, img_pipe, reserved, 1, "flags", "reserved") ||
	    EDIT(IMG_PIPE, 0, img_pipe, data_len, 9, "does not match 9 bytes", "length") ||
	    rejects_edit(IMG_FD, 3, offsetof(struct img_fd, kind), &(uint32_t){ IMG_FD_REG },
			 4, "not right after the fd record of a pipe", false,
			 "after another kind"))
		return -1;
	return rejects_edit(IMG_PIPE, 1, offsetof(struct img_pipe, flags),
			    &(uint32_t){ IMG_PIPE_DATA }, 4, "in 2 records, not 1", false,
			    "bytes twice");
}

/* a socket's record: its queue adds up, its fields are known */
static int t_unix(void)
{
	if (EDIT(IMG_UNIX, 0, img_unix, data_len, 6, "messages of 5 bytes, 6 in all",
		 "data length") ||
	    EDIT(IMG_UNIX, 0, img_unix, name_len, 200, "name of 200 bytes", "name length") ||
	    EDIT(IMG_UNIX, 0, img_unix, shutdown, 4, "shutdown 4", "shutdown") ||
	    EDIT(IMG_UNIX, 0, img_unix, flags, 1u << 7, "flags 0x80", "unknown flag") ||
	    EDIT(IMG_UNIX, 0, img_unix, ino, 89, "inode 89, its fd's is 88", "inode") ||
	    EDIT(IMG_UNIX, 0, img_unix, reserved, 1, "flags", "reserved") ||
	    EDIT(IMG_UNIX, 0, img_unix, nr_msgs, 1u << 20, "does not match", "message count"))
		return -1;
	/* the lengths add up to 6, not 5: a length inside the data */
	return rejects_edit(IMG_UNIX, 0, sizeof(struct img_unix), &(uint32_t){ 3 }, 4,
			    "messages of 6 bytes, 5 in all", true, "message lengths");
}

static int t_event_fds(void)
{
	if (EDIT(IMG_EVENTFD, 0, img_eventfd, semaphore, 2, "semaphore 2", "semaphore") ||
	    EDIT(IMG_EPOLL, 0, img_epoll, nr_items, 2, "length 48, not 80", "item count") ||
	    EDIT(IMG_EPOLL, 0, img_epoll, reserved, 1, "1 items", "reserved") ||
	    rejects_edit(IMG_FD, 6, offsetof(struct img_fd, kind), &(uint32_t){ IMG_FD_TIMERFD },
			 4, "not right after the fd record of its kind", false, "other kind") ||
	    EDIT(IMG_FILEDATA, 0, img_filedata, size, 9, "does not match 9 bytes", "size") ||
	    EDIT(IMG_FILEDATA, 0, img_filedata, flags, IMG_FILEDATA_TOO_BIG, "flags 0x2",
		 "too big without content") ||
	    EDIT(IMG_FILEDATA, 0, img_filedata, mode, 010000, "mode 10000", "mode") ||
	    rejects_edit(IMG_FILEDATA, 0, offsetof(struct img_filedata, flags),
			 &(uint32_t){ 0 }, 4, "does not match 0 bytes of content", true,
			 "content without the flag"))
		return -1;
	return 0;
}

/* a private anonymous VMA, @vm_flags as iter/task_vma gives them */
static int put_anon(struct img_writer *w, uint64_t start, uint64_t end,
		    uint64_t vm_flags)
{
	struct img_vma v = {
		.h.type = IMG_VMA, .start = start, .end = end, .kind = IMG_VMA_ANON,
		.prot = 3, .map_flags = 2, .vm_flags = vm_flags,
	};

	return img_put(w, &v, sizeof(v), NULL, 0);
}

/*
 * The root and a live child with the same anonymous VMA 0x10000-0x14000;
 * the child shares @cs..@ce of it (IMG_COW), its VMA has @child_flags.
 */
static int build_cow(uint64_t cs, uint64_t ce, uint64_t child_flags)
{
	struct img_cow c = { .h.type = IMG_COW, .start = cs, .end = ce };
	struct img_writer *w;
	int ret;

	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = put_anon(w, 0x10000, 0x14000, KVM_ACCOUNT)) &&
	    !(ret = put_pages(w, chunk1, 3)) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, false)) &&
	    !(ret = put_thread(w, ZOMBIE_PID)) && !(ret = put_thread(w, ZOMBIE_PID + 1)) &&
	    !(ret = put_anon(w, 0x10000, 0x14000, child_flags)) &&
	    !(ret = img_put(w, &c, sizeof(c), NULL, 0)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int cow_rejected(uint64_t cs, uint64_t ce, uint64_t child_flags,
			const char *want, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (build_cow(cs, ce, child_flags))
		return no("%s: writing the image failed", what);
	ret = image_load(bad_path, 0, &img);
	memcpy(last_err, img.r.err, sizeof(last_err));
	image_free(&img);
	if (ret >= 0)
		return no("%s: accepted", what);
	if (!strstr(last_err, want))
		return no("%s: message '%s' does not say '%s'", what, last_err, want);
	return 0;
}

/* IMG_COW: pages a child shares with its parent, in a VMA both have */
static int t_cow_ranges(void)
{
	struct ckpt_image img;
	int ret;

	if (build_cow(0x10000, 0x12000, KVM_ACCOUNT))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret)
		ret = no("a valid image with a shared range: %s", img.r.err);
	else if (img.procs[1].nr_cows != 1 || img.procs[1].nr_cow_pages != 2 ||
		 img.procs[0].nr_cows)
		ret = no("shared ranges: %u in the child (%llu pages), %u in the root",
			 img.procs[1].nr_cows,
			 (unsigned long long)img.procs[1].nr_cow_pages,
			 img.procs[0].nr_cows);
	image_free(&img);
	if (ret)
		return ret;
	return cow_rejected(0x13000, 0x15000, KVM_ACCOUNT, "shared with the parent",
			    "a shared range past the end of the VMA") ||
	       cow_rejected(0x10800, 0x12000, KVM_ACCOUNT, "out of order or unaligned",
			    "an unaligned shared range") ||
	       cow_rejected(0x12000, 0x12000, KVM_ACCOUNT, "out of order or unaligned",
			    "an empty shared range") ||
	       cow_rejected(0x10000, 0x12000, 0, "shared with the parent",
			    "a shared range in memory restore cannot premap") ? -1 : 0;
}

/* ---- SysV IPC records (before the first process) ---- */

#define SHM_ID	5
#define SEM_ID	3
#define MSQ_ID	7

/* one segment with its second page stored, a set of 3, a queue of 2 */
static int put_ipc(struct img_writer *w)
{
	struct img_ipc_ns ns = { .h.type = IMG_IPC_NS, .flags = IMG_NS_IPC_OWN,
				 .nr_shm = 1, .nr_sem = 1, .nr_msq = 1 };
	struct img_shm shm = { .h.type = IMG_SHM, .size = ps + 10, .cpid = 42,
			       .nr_data = 1,
			       .perm = { .key = 0x10, .id = SHM_ID, .mode = 0600 } };
	struct img_shm_data d = { .h.type = IMG_SHM_DATA, .offset = ps, .len = ps };
	struct img_sem sem = { .h.type = IMG_SEM, .nsems = 3,
			       .perm = { .key = 0x10, .id = SEM_ID, .mode = 0640 } };
	struct img_msq q = { .h.type = IMG_MSQ, .qbytes = 16384, .nr_msgs = 2,
			     .perm = { .key = 0, .id = MSQ_ID, .mode = 0600 } };
	struct img_msg m1 = { .h.type = IMG_MSG, .mtype = 2, .len = 2 };
	struct img_msg m2 = { .h.type = IMG_MSG, .mtype = 1, .len = 1 };
	static const uint16_t vals[3] = { 5, 7, 0 };
	uint8_t *page = malloc(ps);
	struct img_part pp = { page, ps }, pv = { vals, sizeof(vals) };
	struct img_part t1 = { "ab", 2 }, t2 = { "c", 1 };
	int ret;

	if (!page)
		return -ENOMEM;
	memset(page, 0x5a, ps);
	strcpy(ns.hostname, "box");
	strcpy(ns.domainname, "(none)");
	if (!(ret = img_put(w, &ns, sizeof(ns), NULL, 0)) &&
	    !(ret = img_put(w, &shm, sizeof(shm), NULL, 0)) &&
	    !(ret = img_put(w, &d, sizeof(d), &pp, 1)) &&
	    !(ret = img_put(w, &sem, sizeof(sem), &pv, 1)) &&
	    !(ret = img_put(w, &q, sizeof(q), NULL, 0)) &&
	    !(ret = img_put(w, &m1, sizeof(m1), &t1, 1)))
		ret = img_put(w, &m2, sizeof(m2), &t2, 1);
	free(page);
	return ret;
}

/* the IPC records after the header, or (@late) after the first process */
static int build_ipc(const char *path, bool late)
{
	struct img_writer *w;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && (late || !(ret = put_ipc(w))) &&
	    !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    (!late || !(ret = put_ipc(w))) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static struct img_rec ipc_recs[MAX_RECS];
static int nr_ipc_recs;
static uint8_t *ipc_good;
static size_t ipc_len;

static int ipc_round_trip(void)
{
	struct ckpt_image img;
	const struct m_ipc *ipc;
	int ret = -1;

	if (image_load(bad_path, 0, &img)) {
		no("a valid image with SysV objects: %s", img.r.err);
		image_free(&img);
		return -1;
	}
	ipc = &img.ipc;
	if (!ipc->ns || strcmp(ipc->ns->hostname, "box") || ipc->nr_shm != 1 ||
	    ipc->nr_sem != 1 || ipc->nr_msq != 1)
		no("namespace or counts differ");
	else if (ipc->shm[0].nr_data != 1 || ipc->shm[0].data[0]->offset != ps ||
		 ((const uint8_t *)(ipc->shm[0].data[0] + 1))[ps - 1] != 0x5a ||
		 image_find_shm(&img, SHM_ID) != &ipc->shm[0] || image_find_shm(&img, 1))
		no("segment data differs");
	else if (ipc->sem[0]->nsems != 3 || ((const uint16_t *)(ipc->sem[0] + 1))[1] != 7)
		no("semaphore values differ");
	else if (ipc->msq[0].nr_msgs != 2 || ipc->msq[0].msgs[0]->mtype != 2 ||
		 ipc->msq[0].msgs[1]->mtype != 1 ||
		 memcmp(ipc->msq[0].msgs[0] + 1, "ab", 2))
		no("messages differ");
	else
		ret = 0;
	image_free(&img);
	return ret;
}

static int ipc_index(void)
{
	struct img_reader r;
	struct img_rec rec;
	int ret;

	nr_ipc_recs = 0;
	ret = img_open(bad_path, 0, &r);
	if (ret)
		return no("img_open: %s", r.err);
	while ((ret = img_next(&r, &rec)) > 0 && nr_ipc_recs < MAX_RECS) {
		rec.p = NULL;
		ipc_recs[nr_ipc_recs++] = rec;
	}
	img_close(&r);
	return ret < 0 ? no("img_next: %s", r.err) : read_all(bad_path, &ipc_good, &ipc_len);
}

/* a resealed copy of the IPC image with @size bytes at @field of @type changed */
static int ipc_rejects(uint32_t type, int nth, size_t field, const void *val,
		       size_t size, const char *want, const char *what)
{
	uint8_t *b = malloc(ipc_len);
	int i, ret;

	if (!b)
		return no("malloc");
	for (i = 0; i < nr_ipc_recs; i++)
		if (ipc_recs[i].type == type && nth-- == 0)
			break;
	if (i == nr_ipc_recs) {
		free(b);
		return no("no record %s", img_type_name(type));
	}
	memcpy(b, ipc_good, ipc_len);
	memcpy(b + ipc_recs[i].off + field, val, size);
	reseal(b, ipc_len, nr_ipc_recs + 1);
	ret = rejects(b, ipc_len, 0, want, NULL, what);
	free(b);
	return ret;
}

#define IPC_EDIT(type, nth, st, field, v, want, what) ({		\
	__typeof__(((struct st *)0)->field) __v = (v);			\
	ipc_rejects(type, nth, offsetof(struct st, field), &__v,	\
		    sizeof(__v), want, what); })

static int t_ipc(void)
{
	char name[IMG_UTS_LEN];
	struct ckpt_image img;
	int ret;

	if (build_ipc(bad_path, false))
		return no("writing the image failed");
	if (ipc_round_trip() || ipc_index())
		return -1;
	memset(name, 'x', sizeof(name));
	ret = IPC_EDIT(IMG_SHM_DATA, 0, img_shm_data, offset, 2 * ps,
		       "beyond", "segment data past the segment's end") ||
	      IPC_EDIT(IMG_SHM_DATA, 0, img_shm_data, offset, 100,
		       "bytes at", "unaligned segment data") ||
	      IPC_EDIT(IMG_SHM_DATA, 0, img_shm_data, reserved, 1,
		       "bytes at", "segment data with a reserved field") ||
	      IPC_EDIT(IMG_SHM, 0, img_shm, perm.mode, 04600, "mode",
		       "a segment with an unknown mode bit") ||
	      IPC_EDIT(IMG_SHM, 0, img_shm, perm.mode, 01600, "removed segment with key",
		       "a removed segment that kept its key") ||
	      IPC_EDIT(IMG_SHM, 0, img_shm, size, 0, "size 0", "an empty segment") ||
	      IPC_EDIT(IMG_SHM, 0, img_shm, nr_data, 2, "data records, it says 2",
		       "a segment missing a data record") ||
	      IPC_EDIT(IMG_SEM, 0, img_sem, nsems, 0, "semaphores", "an empty set") ||
	      IPC_EDIT(IMG_SEM, 0, img_sem, nsems, 5, "does not match 5 values",
		       "a set longer than its values") ||
	      IPC_EDIT(IMG_SEM, 0, img_sem, perm.id, -1, "id -1", "a negative id") ||
	      IPC_EDIT(IMG_MSG, 0, img_msg, mtype, 0, "type 0", "a message of type 0") ||
	      IPC_EDIT(IMG_MSG, 1, img_msg, len, 9, "does not match 9 bytes",
		       "a message longer than its record") ||
	      IPC_EDIT(IMG_MSQ, 0, img_msq, nr_msgs, 3, "2 messages, it says 3",
		       "a queue missing a message") ||
	      IPC_EDIT(IMG_IPC_NS, 0, img_ipc_ns, nr_shm, 2, "namespace record says 2",
		       "a namespace record counting a missing segment") ||
	      IPC_EDIT(IMG_IPC_NS, 0, img_ipc_ns, flags, 4, "unknown flags",
		       "unknown namespace flags") ||
	      ipc_rejects(IMG_IPC_NS, 0, offsetof(struct img_ipc_ns, hostname), name,
			  sizeof(name), "not terminated", "an unterminated hostname");
	free(ipc_good);
	ipc_good = NULL;
	if (ret)
		return ret;
	if (build_ipc(bad_path, true))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	memcpy(last_err, img.r.err, sizeof(last_err));
	image_free(&img);
	if (ret >= 0 || !strstr(last_err, "after the first process"))
		return no("IPC records after a process: %s", ret >= 0 ? "accepted" : last_err);
	return 0;
}

/* ---- IMG_NS: a process's pid and mount namespaces (ns.h) ---- */

enum { NS_PLAIN, NS_TWICE, NS_LATE, NS_ZOMBIE };

static const char ns_mounts[] = "/ / rw,relatime - ext4 /dev/vda rw";	/* and its NUL */

static int put_ns(struct img_writer *w, uint32_t flags)
{
	struct img_ns n = { .h.type = IMG_NS, .flags = flags,
			    .proc_ms = MS_NOSUID_BITS, .nr_mounts = 1,
			    .mounts_len = sizeof(ns_mounts) };
	struct img_part part = { ns_mounts, sizeof(ns_mounts) };

	return img_put(w, &n, sizeof(n), &part, 1);
}

/* the root made a mount namespace and has a pid_for_children of its own */
static int build_ns(const char *path, int how)
{
	uint32_t f = IMG_PNS_MNT_NEW | IMG_PNS_PIDFC_EMPTY;
	struct img_writer *w;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    (how == NS_LATE || !(ret = put_ns(w, f))) &&
	    (how != NS_TWICE || !(ret = put_ns(w, f))) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    (how != NS_LATE || (!(ret = put_vma(w, 0x10000, 0x20000, IMG_VMA_ANON, NULL)) &&
				!(ret = put_ns(w, f)))) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)) &&
	    (how != NS_ZOMBIE || !(ret = put_ns(w, f))))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int ns_loads(int how, const char *want, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (build_ns(bad_path, how))
		return no("%s: writing the image failed", what);
	ret = image_load(bad_path, 0, &img);
	memcpy(last_err, img.r.err, sizeof(last_err));
	if (!want) {
		if (ret < 0)
			ret = no("%s: %s", what, last_err);
		else if (!img.procs[0].ns || img.procs[1].ns ||
			 img.procs[0].ns->flags != (IMG_PNS_MNT_NEW | IMG_PNS_PIDFC_EMPTY) ||
			 img.procs[0].ns->proc_ms != MS_NOSUID_BITS ||
			 img.procs[0].ns->nr_mounts != 1 ||
			 strcmp((const char *)(img.procs[0].ns + 1), ns_mounts))
			ret = no("%s: the namespace record differs", what);
		image_free(&img);
		return ret;
	}
	image_free(&img);
	if (ret >= 0 || !strstr(last_err, want))
		return no("%s: %s", what, ret >= 0 ? "accepted" : last_err);
	return 0;
}

static int t_ns(void)
{
	int ret;

	ret = ns_loads(NS_PLAIN, NULL, "round trip") ||
	      ns_loads(NS_TWICE, "a second one", "two namespace records") ||
	      ns_loads(NS_LATE, "after the process's memory", "a namespace record after a VMA") ||
	      ns_loads(NS_ZOMBIE, "zombie process", "a zombie's namespace record") ||
	      ipc_index();
	free(ipc_good);
	ipc_good = NULL;
	if (ret || build_ns(bad_path, NS_PLAIN) || ipc_index())
		return ret ? ret : no("writing the image failed");
	ret = IPC_EDIT(IMG_NS, 0, img_ns, flags, 0x100, "flags 0x100", "unknown flags") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, proc_ms, 0x40, "mount flags 0x40",
		       "unknown mount flags") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, nr_mounts, 2, "2 mounts in", "a mount missing") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, mounts_len, 4, "length 64 for 4 bytes",
		       "mounts longer than the record") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_PIDFC_EMPTY, "1 mounts in",
		       "mounts without a mount namespace") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_MNT_NEW | IMG_PNS_MNT_SLAVE,
		       "1 mounts in", "a slave namespace with a list of mounts") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_PIDFC_EMPTY | IMG_PNS_MNT_SLAVE,
		       "slave mounts without", "slave mounts without a mount namespace") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_PIDFC_CHILD | IMG_PNS_PIDFC_EMPTY,
		       "both a child's and empty", "two pid_for_children") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_MNT_NEW | IMG_PNS_PROC,
		       "no pid namespace's init", "a proc mounted by a process in our namespace") ||
	      IPC_EDIT(IMG_NS, 0, img_ns, flags, IMG_PNS_PROC_FIRST,
		       "no pid namespace's init", "a proc mounted first by a non-init");
	free(ipc_good);
	ipc_good = NULL;
	return ret;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ps = getpagesize();
	snprintf(good_path, sizeof(good_path), "%s/good.img", dir);
	snprintf(bad_path, sizeof(bad_path), "%s/bad.img", dir);
	if (build(good_path) || read_all(good_path, &good, &good_len)) {
		printf("FAIL img/build: %s\n", why);
		return 1;
	}
	run("writer_leaves_no_temporary_on_abort", t_writer_leaves_no_temp);
	run("writer_refuses_oversized_record", t_writer_refuses_huge_record);
	run("record_stream", t_record_stream);
	if (nr_recs < 15) {
		printf("FAIL img/setup: the record stream is needed by the rest\n");
		return 1;
	}
	run("round_trip", t_round_trip);
	run("truncated", t_truncated);
	run("truncated_and_resealed", t_truncated_resealed);
	run("bad_record_length", t_bad_length);
	run("wrong_record_type", t_wrong_type);
	run("flipped_byte_checksum", t_flipped_byte);
	run("no_checksum_flag", t_no_checksum_flag);
	run("bad_page_chunks", t_bad_page_chunks);
	run("unterminated_strings", t_unterminated_strings);
	run("vma_overlap_and_range", t_vma_overlap);
	run("pages_outside_vmas", t_pages_outside_vma);
	run("reserved_fields", t_reserved_fields);
	run("cross_references", t_cross_references);
	run("pipes", t_pipes);
	run("unix", t_unix);
	run("event_fds", t_event_fds);
	run("cow_ranges", t_cow_ranges);
	run("sysv_ipc", t_ipc);
	run("namespaces", t_ns);
	unlink(good_path);
	unlink(bad_path);
	rmdir(dir);
	free(good);
	printf("# img_test: %d cases, %d failures\n", passed + failed, failed);
	return failed ? 1 : 0;
}
