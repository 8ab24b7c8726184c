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
#include <arpa/inet.h>
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
#include "bpfckpt/compat.h"
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

/* a page chunk of page_byte() ^ @salt, filled a page at a time */
static int put_pages_salt(struct img_writer *w, const uint64_t *va, uint32_t nr,
			  uint8_t salt)
{
	uint8_t *data;
	uint32_t i;
	size_t b, room;
	int ret;

	ret = img_pages_begin(w, nr, va);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		data = img_pages_dst(w, &room);
		if (room < ps) {
			img_pages_end(w);
			return -ENOSPC;
		}
		for (b = 0; b < ps; b++)
			data[b] = page_byte(va[i], b) ^ salt;
		img_pages_filled(w, ps);
	}
	return img_pages_end(w);
}

static int put_pages(struct img_writer *w, const uint64_t *va, uint32_t nr)
{
	return put_pages_salt(w, va, nr, 0);
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

/*
 * fd 10: a TCP listener on [::1]:80; fd 11: a connection 127.0.0.1:80 to
 * :5000 with "xyz" to send (the "z" never sent) and "hello!" received
 */
static int put_inet(struct img_writer *w)
{
	struct img_fd f = {
		.h.type = IMG_FD, .fd = 10, .kind = IMG_FD_INET, .open_flags = 2,
		.ino = 120, .path_len = sizeof("socket:[120]"), .file_id = 11,
	};
	struct img_part part = { "socket:[120]", f.path_len }, q = { "xyzhello!", 9 };
	struct img_inet l = {
		.h.type = IMG_INET, .ino = 120, .family = 10, .type = 1, .proto = 6,
		.state = 10, .src[15] = 1, .sport = htons(80), .backlog = 7,
		.flags = IMG_INET_F_REUSEADDR | IMG_INET_F_V6ONLY,
	};
	struct img_inet c = {
		.h.type = IMG_INET, .ino = 121, .family = 2, .type = 1, .proto = 6,
		.state = 1, .src = { 127, 0, 0, 1 }, .dst = { 127, 0, 0, 1 },
		.sport = htons(80), .dport = htons(5000),
		.flags = IMG_INET_F_REPAIR | IMG_INET_F_QUEUED, .snd_seq = 1000,
		.rcv_seq = 2000, .outq_len = 3, .unsent_len = 1, .inq_len = 6,
		.mss = 65483, .opts = 7, .snd_wscale = 7, .rcv_wscale = 7,
	};
	int ret;

	ret = img_put(w, &f, sizeof(f), &part, 1) ?: img_put(w, &l, sizeof(l), NULL, 0);
	if (ret)
		return ret;
	f.fd = 11;
	f.ino = 121;
	f.file_id = 12;
	return img_put(w, &f, sizeof(f), &part, 1) ?: img_put(w, &c, sizeof(c), &q, 1);
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
	    (ret = put_inet(w)) ||
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
		IMG_FD, IMG_EVENTFD, IMG_FD, IMG_EPOLL, IMG_FD, IMG_FILEDATA,
		IMG_FD, IMG_INET, IMG_FD, IMG_INET, IMG_PROC,
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
	if (mp->nr_fds != 10 || !mp->fds[9].ext || mp->fds[9].ext->type != IMG_INET ||
	    memcmp(mp->fds[9].data, "xyzhello!", 9) ||
	    ((const struct img_inet *)mp->fds[9].ext)->rcv_seq != 2000 ||
	    ((const struct img_inet *)mp->fds[8].ext)->backlog != 7)
		return no("inet fds differ");
	if (!mp->fds[7].ext || memcmp(mp->fds[7].data, "abc", 3) ||
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

/*
 * A file that is no image says so, whatever its size (show /etc/passwd
 * once said "size 1271 is not a multiple of 8: truncated"); an image's
 * first bytes alone are an image cut short.
 */
static int t_not_an_image(void)
{
	static const size_t sizes[] = { 1, 4, 7, 8, 15, 16, 17, 1271, 4096, 65537 };
	static const char line[] = "root:x:0:0:root:/root:/bin/bash\n";
	uint8_t *buf = malloc(65537);
	size_t i, k;
	int ret = 0;

	if (!buf)
		return no("malloc");
	for (k = 0; k < 65537; k++)
		buf[k] = line[k % (sizeof(line) - 1)];
	for (i = 0; !ret && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ret = rejects(buf, sizes[i], 0, "not a bpfckpt image", NULL, "text");
		if (!ret && (strstr(last_err, "multiple of 8") || strstr(last_err, "truncated")))
			ret = no("%zu bytes of text: '%s' blames the size", sizes[i], last_err);
	}
	/* zeros: not an image either, even 16 of them */
	memset(buf, 0, 64);
	if (!ret)
		ret = rejects(buf, 64, 0, "not a bpfckpt image", NULL, "zeros");
	/* the header's own first bytes, cut: too short, truncated */
	for (k = 1; !ret && k < 16; k++)
		ret = rejects(good, k, 0, "truncated", NULL, "header cut");
	if (!ret)
		ret = rejects(good, 0, 0, "empty file", NULL, "empty");
	free(buf);
	return ret;
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

	if (EDIT(IMG_VMA, 0, img_vma, seals, 2, "seals 0x2 on a vma of kind 1",
		 "seals on an anonymous vma") ||
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

/* a TCP or UDP socket's record: known fields, queues that add up, once */
static int t_inet(void)
{
	if (EDIT(IMG_INET, 1, img_inet, inq_len, 20, "does not match queues of 3 (1 unsent) "
		 "and 20", "queue length") ||
	    EDIT(IMG_INET, 1, img_inet, unsent_len, 4, "(4 unsent)", "unsent above queue") ||
	    EDIT(IMG_INET, 1, img_inet, outq_len, 1u << 30, "does not match", "huge queue") ||
	    EDIT(IMG_INET, 0, img_inet, ino, 119, "inode 119, its fd's is 120", "inode") ||
	    EDIT(IMG_INET, 0, img_inet, family, 1, "family 1", "family") ||
	    EDIT(IMG_INET, 0, img_inet, proto, 17, "protocol 17", "TCP type, UDP protocol") ||
	    EDIT(IMG_INET, 0, img_inet, state, 13, "state 13", "state") ||
	    EDIT(IMG_INET, 1, img_inet, src[5], 1, "family 2", "IPv4 address past 4 bytes") ||
	    EDIT(IMG_INET, 0, img_inet, flags, 1u << 10, "flags 0x400", "unknown flag") ||
	    EDIT(IMG_INET, 0, img_inet, flags, IMG_INET_F_REPAIR, "flags 0x40 in state 10",
		 "repair state of a listener") ||
	    EDIT(IMG_INET, 0, img_inet, reserved, 1, "flags", "reserved") ||
	    EDIT(IMG_INET, 1, img_inet, mss, 0, "mss 0", "mss") ||
	    EDIT(IMG_INET, 1, img_inet, snd_wscale, 15, "window scales 15", "window scale") ||
	    rejects_edit(IMG_FD, 8, offsetof(struct img_fd, kind), &(uint32_t){ IMG_FD_UNIX },
			 4, "not right after the fd record of a TCP or UDP socket", false,
			 "after another kind"))
		return -1;
	/* a connection whose inode has no record with its queues */
	return rejects_edit(IMG_INET, 0, offsetof(struct img_inet, state), &(uint32_t){ 1 }, 4,
			    "has its queues in 0 records, not 1", false, "queues missing");
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

/*
 * IMG_VMA_SHARED_GONE: the root and a child map one memfd MAP_SHARED,
 * its page stored by the root only; @path NULL, or @kind another; the
 * file had @seals
 */
static int build_gone(const char *path, uint32_t kind, uint32_t seals)
{
	static const uint64_t va[] = { 0x40000 };
	struct img_vma v = {
		.h.type = IMG_VMA, .start = 0x40000, .end = 0x42000, .kind = kind,
		.prot = 3, .map_flags = 1, .vm_flags = KVM_MAYSHARE | KVM_SHARED,
		.dev = 7, .ino = 99, .size = 0x1800, .mode = 0100600,
		.path_len = path ? strlen(path) + 1 : 0, .seals = seals,
	};
	struct img_part part = { path, v.path_len };
	struct img_writer *w;
	int ret;

	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = img_put(w, &v, sizeof(v), &part, path ? 1 : 0)) &&
	    !(ret = put_pages(w, va, 1)) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, false)) &&
	    !(ret = put_thread(w, ZOMBIE_PID)) && !(ret = put_thread(w, ZOMBIE_PID + 1)) &&
	    !(ret = img_put(w, &v, sizeof(v), &part, path ? 1 : 0)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int gone_rejected(const char *path, uint32_t kind, uint32_t seals,
			 const char *want, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (build_gone(path, kind, seals))
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

static int t_shared_gone(void)
{
	const char *name = "/memfd:q (deleted)";
	const struct m_vma *a, *b;
	struct ckpt_image img;
	int ret;

	if (build_gone(name, IMG_VMA_SHARED_GONE, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret) {
		ret = no("a valid image with a shared memfd: %s", img.r.err);
		goto out;
	}
	a = &img.procs[0].vmas[0];
	b = &img.procs[1].vmas[0];
	if (img.procs[0].nr_vmas != 1 || img.procs[1].nr_vmas != 1 ||
	    a->v->kind != IMG_VMA_SHARED_GONE || b->v->kind != IMG_VMA_SHARED_GONE ||
	    !a->path || strcmp(a->path, name) || a->v->size != 0x1800 ||
	    a->v->ino != 99 || img.procs[0].nr_pages != 1 || img.procs[1].nr_pages ||
	    a->v->seals != (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) ||
	    b->v->seals != a->v->seals)
		ret = no("the shared memfd mappings came back different");
out:
	image_free(&img);
	if (ret)
		return ret;
	return gone_rejected(NULL, IMG_VMA_SHARED_GONE, 0, "file mapping without a path",
			     "a shared memfd mapping without its name") ||
	       gone_rejected(name, IMG_VMA_KIND_MAX + 1, 0, "kind 13",
			     "a vma kind past the last") ||
	       gone_rejected(name, IMG_VMA_SHARED_GONE, F_SEAL_EXEC << 1,
			     "seals 0x40 on a vma of kind 11", "an unknown seal") ||
	       gone_rejected(name, IMG_VMA_SHARED_FILE, F_SEAL_GROW,
			     "seals 0x4 on a vma of kind 3",
			     "seals on a mapping of a file that has a name") ? -1 : 0;
}

/* ---- inotify and fanotify marks (IMG_INOTIFY, IMG_FANOTIFY) ---- */

#define NOTIFY_PATHS	"/tmp/w\0/tmp/w/f"	/* two paths, 7 + 9 bytes */

struct notify_case {
	uint32_t fd_kind, type;		/* of the fd, of the record after it */
	struct img_notify_mark m[2];
	uint32_t nr, paths_len, reserved;
};

static struct notify_case notify_good(uint32_t kind)
{
	struct notify_case c = {
		.fd_kind = kind, .nr = 2, .paths_len = 16,
		.type = kind == IMG_FD_INOTIFY ? IMG_INOTIFY : IMG_FANOTIFY,
		.m = { { .wd = 1, .mask = 0x300, .path_off = 0, .path_len = 7, .ino = 5, .dev = 9 },
		       { .wd = 3, .mask = 0x2, .path_off = 7, .path_len = 9, .ino = 6, .dev = 9 } },
	};

	if (kind == IMG_FD_FANOTIFY) {
		c.m[0].wd = c.m[1].wd = 0;
		c.m[0].type = IMG_FAN_MARK_MOUNT;
		c.m[1].ignored_mask = 0x20;
		c.m[1].flags = 0x40;
	}
	return c;
}

static int build_notify(const struct notify_case *c)
{
	const char *path = c->fd_kind == IMG_FD_INOTIFY ? "anon_inode:inotify" :
			   "anon_inode:[fanotify]";
	struct img_fd f = {
		.h.type = IMG_FD, .fd = 3, .kind = c->fd_kind, .ino = 77,
		.path_len = strlen(path) + 1, .file_id = 1,
	};
	struct img_fanotify fa = { .h.type = c->type, .nr_watches = c->nr,
				   .paths_len = c->paths_len, .init_flags = 2,
				   .event_flags = 0x8000 };
	size_t head = c->type == IMG_FANOTIFY ? sizeof(fa) : sizeof(struct img_inotify);
	struct img_part fpart = { path, f.path_len };
	struct img_part parts[2] = { { c->m, sizeof(c->m) }, { NOTIFY_PATHS, 16 } };
	struct img_writer *w;
	int ret;

	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = img_put(w, &f, sizeof(f), &fpart, 1)) &&
	    !(ret = img_put(w, &fa, head, parts, 2)) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int notify_rejected(const struct notify_case *c, const char *want, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (build_notify(c))
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

static int notify_round_trip(uint32_t kind)
{
	struct notify_case c = notify_good(kind);
	struct img_notify_mark k;
	const struct m_fd *mf;
	struct ckpt_image img;
	const char *path;
	int ret;

	if (build_notify(&c))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret) {
		ret = no("a valid image with a %s fd: %s", (kind == IMG_FD_INOTIFY ? "inotify" : "fanotify"), img.r.err);
		goto out;
	}
	mf = &img.procs[0].fds[0];
	if (img.procs[0].nr_fds != 1 || mf->f->kind != kind || !mf->ext ||
	    mf->ext->type != c.type) {
		ret = no("the %s fd came back without its record", (kind == IMG_FD_INOTIFY ? "inotify" : "fanotify"));
		goto out;
	}
	memcpy(&k, mf->data + sizeof(k), sizeof(k));
	path = k.path_len ? (const char *)mf->data + 2 * sizeof(k) + k.path_off : NULL;
	if (!path || strcmp(path, "/tmp/w/f") || k.mask != 0x2 || k.ino != 6 ||
	    k.wd != c.m[1].wd || k.ignored_mask != c.m[1].ignored_mask)
		ret = no("%s mark 1 came back different: %s", (kind == IMG_FD_INOTIFY ? "inotify" : "fanotify"),
			 path ? path : "(no path)");
out:
	image_free(&img);
	return ret;
}

static int t_notify(void)
{
	struct notify_case c;

	if (notify_round_trip(IMG_FD_INOTIFY) || notify_round_trip(IMG_FD_FANOTIFY))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.nr = 3;
	if (notify_rejected(&c, "does not match 3 marks", "a mark count past the data"))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.m[1].path_len = 10;
	if (notify_rejected(&c, "mark 1: path at 7 of 10 bytes is malformed",
			    "a path past the paths"))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.m[0].path_len = 6;
	if (notify_rejected(&c, "mark 0: path at 0 of 6 bytes is malformed",
			    "a path without its NUL"))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.m[0].path_len = 16;
	if (notify_rejected(&c, "mark 0: path at 0 of 16 bytes is malformed",
			    "a path with a NUL inside"))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.m[0].wd = 0;
	if (notify_rejected(&c, "mark 0: wd 0", "an inotify watch with wd 0"))
		return -1;
	c = notify_good(IMG_FD_INOTIFY);
	c.m[1].type = IMG_FAN_MARK_MOUNT;
	if (notify_rejected(&c, "mark 1: wd 3, type 1", "an inotify watch on a mount"))
		return -1;
	c = notify_good(IMG_FD_FANOTIFY);
	c.m[0].type = 7;
	if (notify_rejected(&c, "mark 0: wd 0, type 7", "a fanotify mark of type 7"))
		return -1;
	c = notify_good(IMG_FD_FANOTIFY);
	c.m[1].reserved = 1;
	if (notify_rejected(&c, "mark 1", "a mark's reserved field"))
		return -1;
	c = notify_good(IMG_FD_FANOTIFY);
	c.type = IMG_INOTIFY;
	c.m[0].wd = 1;
	c.m[1].wd = 2;
	c.m[0].type = c.m[1].type = c.m[1].flags = c.m[1].ignored_mask = 0;
	if (notify_rejected(&c, "not right after the fd record of its kind",
			    "an inotify record after a fanotify fd"))
		return -1;
	c = notify_good(IMG_FD_EVENTFD);
	c.type = IMG_INOTIFY;
	c.m[0].wd = 1;
	c.m[1].wd = 2;
	return notify_rejected(&c, "not right after the fd record of its kind",
			       "an inotify record after an eventfd");
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

/* the root's SEM_UNDO adjustments on the set: +2 0 -32767 (@twice: two records) */
static int put_undo(struct img_writer *w, bool twice)
{
	struct img_sem_undo u = { .h.type = IMG_SEM_UNDO, .semid = SEM_ID, .nsems = 3 };
	static const int16_t adj[3] = { 2, 0, -32767 };
	struct img_part part = { adj, sizeof(adj) };
	int ret = img_put(w, &u, sizeof(u), &part, 1);

	return ret || !twice ? ret : img_put(w, &u, sizeof(u), &part, 1);
}

/* the IPC records after the header, or (@late) after the first process */
static int build_ipc_undo(const char *path, bool late, bool twice)
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
	    (late || !(ret = put_undo(w, twice))) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int build_ipc(const char *path, bool late)
{
	return build_ipc_undo(path, late, false);
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
	else if (img.procs[0].nr_undo != 1 || img.procs[0].undo[0]->semid != SEM_ID ||
		 ((const int16_t *)(img.procs[0].undo[0] + 1))[2] != -32767 ||
		 img.procs[1].nr_undo)
		no("SEM_UNDO adjustments differ");
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
			  sizeof(name), "not terminated", "an unterminated hostname") ||
	      IPC_EDIT(IMG_SEM_UNDO, 0, img_sem_undo, semid, SEM_ID + 1,
		       "is not in the image", "adjustments on a set the image lacks") ||
	      IPC_EDIT(IMG_SEM_UNDO, 0, img_sem_undo, nsems, 2,
		       "2 adjustments for a set of 3", "adjustments for fewer semaphores") ||
	      IPC_EDIT(IMG_SEM_UNDO, 0, img_sem_undo, nsems, 9,
		       "does not match 9 values", "adjustments longer than the record") ||
	      IPC_EDIT(IMG_SEM_UNDO, 0, img_sem_undo, nsems, 0,
		       "does not match 0 values", "no adjustments") ||
	      ipc_rejects(IMG_SEM_UNDO, 0, sizeof(struct img_sem_undo) + 6, "\1", 1,
			  "padding not zero", "adjustments with dirty padding");
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
	if (build_ipc_undo(bad_path, false, true))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	memcpy(last_err, img.r.err, sizeof(last_err));
	image_free(&img);
	if (ret >= 0 || !strstr(last_err, "a second undo record"))
		return no("two undo records for one set: %s", ret >= 0 ? "accepted" : last_err);
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

/* ---- IMG_LOCKS: a process's file locks, after its fds ---- */

/*
 * The root with fd 3 (read-write) and fd 4 (read-only), then an IMG_LOCKS
 * of @n locks (@len_delta added to its length: a damaged count), twice
 * if @twice
 */
static int build_locks(const struct img_lock *l, uint32_t n, int len_delta, bool twice)
{
	struct img_locks r = { .h.type = IMG_LOCKS, .nr_locks = n + len_delta };
	struct img_part part = { l, n * sizeof(*l) };
	struct img_fd ro = {
		.h.type = IMG_FD, .fd = 4, .kind = IMG_FD_REG, .open_flags = O_RDONLY,
		.path_len = sizeof("/tmp/b"), .file_id = 5,
	};
	struct img_part ro_path = { "/tmp/b", sizeof("/tmp/b") };
	struct img_writer *w;
	int ret;

	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = put_fd(w, 3, IMG_FD_REG, 0, "/tmp/a")) &&
	    !(ret = img_put(w, &ro, sizeof(ro), &ro_path, 1)) &&
	    !(ret = img_put(w, &r, sizeof(r), &part, 1)) &&
	    !(ret = twice ? img_put(w, &r, sizeof(r), &part, 1) : 0) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static const struct img_lock good_locks[] = {
	{ .fd = 3, .kind = IMG_LOCK_FLOCK, .type = IMG_LOCK_WRITE },
	{ .fd = 3, .kind = IMG_LOCK_POSIX, .type = IMG_LOCK_WRITE, .start = 10, .len = 10 },
	{ .fd = 4, .kind = IMG_LOCK_OFD, .type = IMG_LOCK_READ, .start = 100 },
};

/* good_locks with lock @i's field at @off set to @val (@size bytes) */
static int locks_rejected(uint32_t i, size_t off, uint64_t val, size_t size,
			  int len_delta, bool twice, const char *want, const char *what)
{
	struct img_lock l[3];
	struct ckpt_image img;
	int ret;

	memcpy(l, good_locks, sizeof(l));
	memcpy((uint8_t *)&l[i] + off, &val, size);
	if (build_locks(l, 3, len_delta, twice))
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

#define LOCK_EDIT(i, field, val, want, what)					\
	locks_rejected(i, offsetof(struct img_lock, field), val,		\
		       sizeof(((struct img_lock *)0)->field), 0, false, want, what)

static int t_locks(void)
{
	struct ckpt_image img;
	int ret;

	if (build_locks(good_locks, 3, 0, false))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret)
		ret = no("a valid image with locks: %s", img.r.err);
	else if (img.procs[0].nr_locks != 3 || img.procs[1].nr_locks ||
		 img.procs[0].locks[1].start != 10 || img.procs[0].locks[1].len != 10 ||
		 img.procs[0].locks[2].kind != IMG_LOCK_OFD || img.procs[0].locks[2].fd != 4)
		ret = no("locks differ: %u in the root", img.procs[0].nr_locks);
	image_free(&img);
	if (ret)
		return ret;
	return LOCK_EDIT(0, kind, 4, "kind 4 type 2", "unknown kind") ||
	       LOCK_EDIT(1, type, 3, "kind 2 type 3", "unknown type") ||
	       LOCK_EDIT(1, reserved, 1, "kind 2 type 2", "reserved field") ||
	       LOCK_EDIT(0, start, 5, "0 bytes from 5", "a flock with a range") ||
	       LOCK_EDIT(1, start, IMG_LOCK_OFF_MAX, "10 bytes from", "a range past OFFSET_MAX") ||
	       LOCK_EDIT(1, fd, 9, "fd 9, which the process does not have", "unknown fd") ||
	       LOCK_EDIT(2, type, IMG_LOCK_WRITE, "a write lock on a file open read-only",
			 "a write lock the kernel would not grant") ||
	       LOCK_EDIT(2, fd, 2, "out of order", "fds out of order") ||
	       locks_rejected(0, 0, 3, 4, 1, false, "does not match 4 locks", "count") ||
	       locks_rejected(0, 0, 3, 4, 0, true, "a second locks record", "twice") ? -1 : 0;
}

/*
 * ---- IMG_VMA_PRIVATE_GONE: a private mapping of a deleted file, its
 * content in the IMG_FILEDATA right after the VMA ----
 */

enum pg_how { PG_GOOD, PG_AFTER_ANON, PG_SIZE, PG_NO_CONTENT, PG_INODE };

static int build_private_gone(enum pg_how how)
{
	static const char path[] = "/tmp/lib.so (deleted)";
	struct img_vma v = {
		.h.type = IMG_VMA, .start = 0x20000, .end = 0x22000,
		.kind = IMG_VMA_PRIVATE_GONE, .prot = 5, .map_flags = 2,
		.path_len = sizeof(path), .ino = 42, .size = 3, .mode = 0100755,
	};
	struct img_filedata d = { .h.type = IMG_FILEDATA, .ino = 42, .size = 3,
				  .flags = IMG_FILEDATA_CONTENT, .mode = 0755 };
	struct img_part part = { path, sizeof(path) }, data = { "abc", 3 };
	struct img_writer *w;
	int ret;

	if (how == PG_SIZE)
		v.size = 4;
	if (how == PG_NO_CONTENT) {
		d.flags = 0;
		data.len = 0;
	}
	if (how == PG_INODE)
		d.ino = 43;
	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	ret = put_header(w) ?: put_proc(w, ROOT_PID, 1, false) ?: put_thread(w, ROOT_PID) ?:
	      put_thread(w, THREAD2) ?: put_vma(w, 0x10000, 0x14000, IMG_VMA_ANON, NULL);
	if (!ret && how == PG_AFTER_ANON)
		ret = img_put(w, &d, sizeof(d), &data, 1);
	if (!ret)
		ret = img_put(w, &v, sizeof(v), &part, 1);
	if (!ret && how != PG_AFTER_ANON)
		ret = img_put(w, &d, sizeof(d), &data, data.len ? 1 : 0);
	if (!ret)
		ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true) ?: img_commit(w);
	img_abort(w);
	return ret;
}

static int pg_rejected(enum pg_how how, const char *want, const char *what)
{
	uint8_t *b;
	size_t len;
	int ret;

	if (build_private_gone(how) || read_all(bad_path, &b, &len))
		return no("%s: writing the image failed", what);
	ret = rejects(b, len, 0, want, "filedata", what);
	free(b);
	return ret;
}

static int t_private_gone(void)
{
	const struct m_vma *mv;
	struct ckpt_image img;
	int ret;

	if (build_private_gone(PG_GOOD))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret)
		return no("a valid image with a private deleted mapping: %s", img.r.err);
	mv = img.procs[0].nr_vmas == 2 ? &img.procs[0].vmas[1] : NULL;
	if (!mv || mv->v->kind != IMG_VMA_PRIVATE_GONE || !mv->fdata ||
	    mv->fdata->size != 3 || memcmp(mv->data, "abc", 3) || img.procs[0].vmas[0].fdata)
		ret = no("the vma's content record is not where it belongs");
	image_free(&img);
	if (ret)
		return ret;
	return pg_rejected(PG_AFTER_ANON, "after a vma of kind 1", "after an anonymous vma") ||
	       pg_rejected(PG_SIZE, "inode 42 of 3 bytes, its vma's is 42 of 4",
			   "a size other than the vma's") ||
	       pg_rejected(PG_NO_CONTENT, "flags 0", "without its content") ||
	       pg_rejected(PG_INODE, "inode 43 of 3 bytes", "another inode") ? -1 : 0;
}

/* ---- IMG_TTY: a pty pair, master fd 3 with its pending bytes, slave fd 4 ---- */

static const struct img_tty good_master = {
	.h.type = IMG_TTY, .index = 7, .flags = IMG_TTY_MASTER | IMG_TTY_DATA,
	.sid = ROOT_PID, .pgrp = ROOT_PID, .lflag = 0x8a3b, .rows = 24, .cols = 80,
	.data_len = 5, .in_len = 3,
};

static const struct img_tty good_slave = {
	.h.type = IMG_TTY, .index = 7, .lflag = 0x8a3b, .rows = 24, .cols = 80,
};

/* @m after fd 3 (with @len bytes), @s after fd 4, a second master if @twice */
static int build_tty(const struct img_tty *m, uint32_t len, const struct img_tty *s,
		     bool twice)
{
	struct img_part data = { "outin123", len };
	struct img_tty mc = *m, sc = *s;
	struct img_writer *w;
	int ret;

	ret = img_create(bad_path, &w);
	if (ret)
		return ret;
	if (!(ret = put_header(w)) && !(ret = put_proc(w, ROOT_PID, 1, false)) &&
	    !(ret = put_thread(w, ROOT_PID)) && !(ret = put_thread(w, THREAD2)) &&
	    !(ret = put_fd(w, 3, IMG_FD_TTY, 0, "/dev/ptmx")) &&
	    !(ret = img_put(w, &mc, sizeof(mc), &data, 1)) &&
	    !(ret = put_fd(w, 4, IMG_FD_TTY, 0, "/dev/pts/7")) &&
	    !(ret = img_put(w, &sc, sizeof(sc), NULL, 0)) &&
	    !(ret = twice ? put_fd(w, 5, IMG_FD_TTY, 0, "/dev/ptmx") : 0) &&
	    !(ret = twice ? img_put(w, &mc, sizeof(mc), &data, 1) : 0) &&
	    !(ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true)))
		ret = img_commit(w);
	img_abort(w);
	return ret;
}

static int tty_rejected(const struct img_tty *m, uint32_t len, const struct img_tty *s,
			bool twice, const char *want, const char *what)
{
	struct ckpt_image img;
	int ret;

	if (build_tty(m, len, s, twice))
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

static int t_tty(void)
{
	struct img_tty m = good_master, s = good_slave;
	struct ckpt_image img;
	const struct img_tty *t;
	int ret;

	if (build_tty(&m, 8, &s, false))
		return no("writing the image failed");
	ret = image_load(bad_path, 0, &img);
	if (ret)
		ret = no("a valid image with a pty pair: %s", img.r.err);
	else if (img.procs[0].nr_fds != 2 || !(t = (const void *)img.procs[0].fds[0].ext) ||
		 t->index != 7 || t->cols != 80 || t->sid != ROOT_PID ||
		 memcmp(img.procs[0].fds[0].data, "outin123", 8) ||
		 !img.procs[0].fds[1].ext || img.procs[0].fds[1].ext->type != IMG_TTY)
		ret = no("the pty pair differs");
	image_free(&img);
	if (ret)
		return ret;
	m.flags |= 1u << 6;
	ret = tty_rejected(&m, 8, &s, false, "flags 0x49", "unknown flag");
	m = good_master;
	m.flags = IMG_TTY_MASTER;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "flags 0x1, 5 bytes", "bytes without the flag");
	m = good_master;
	m.data_len = 6;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "does not match 6 + 3 bytes", "length");
	m = good_master;
	m.in_len = IMG_TTY_DATA_MAX + 1;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "does not match", "input too long");
	m = good_master;
	m.pad[3] = 1;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "padding byte 3", "padding");
	m = good_master;
	m.sid = -2;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "session -2", "negative session");
	m = good_master;
	s.flags = IMG_TTY_DATA;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "flags 0x8", "a slave with the bytes");
	s = good_slave;
	s.flags = IMG_TTY_PKT;
	ret = ret ?: tty_rejected(&m, 8, &s, false, "flags 0x4", "a slave in packet mode");
	s = good_slave;
	ret = ret ?: tty_rejected(&m, 8, &s, true, "a second record with the output of pts 7",
				  "the bytes twice");
	return ret ?: rejects_edit(IMG_FD, 1, offsetof(struct img_fd, kind),
				   &(uint32_t){ IMG_FD_TTY }, 4, "no record of its state",
				   false, "a tty fd without its record");
}

/* ---- compressed pages (IMG_ZPAGES) and streams ---- */

#define BIG_VA		0x1000000ULL
#define BIG_PAGES	(IMG_ZPAGES_PIECES_MAX * IMG_PIECE_PAGES + 100)	/* 2 records */

static char z_path[300], zbig_path[300];
static uint8_t *zgood;
static size_t zgood_len;

/* put_records() compressed, or one process with BIG_PAGES pages in a row */
static int build_z(const char *path, bool big)
{
	struct img_writer *w;
	uint64_t *va = NULL;
	uint32_t i;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return no("img_create: %s", strerror(-ret));
	img_set_compress(w, 1);
	if (!big) {
		ret = put_records(w);
	} else {
		va = malloc(BIG_PAGES * sizeof(*va));
		for (i = 0; va && i < BIG_PAGES; i++)
			va[i] = BIG_VA + (uint64_t)i * ps;
		ret = !va ? -ENOMEM : put_header(w) ?: put_proc(w, ROOT_PID, 1, false) ?:
		      put_thread(w, ROOT_PID) ?: put_thread(w, THREAD2) ?:
		      put_vma(w, BIG_VA, BIG_VA + (uint64_t)BIG_PAGES * ps, IMG_VMA_ANON, NULL) ?:
		      put_pages(w, va, BIG_PAGES) ?: put_proc(w, ZOMBIE_PID, ROOT_PID, true);
	}
	if (!ret)
		ret = img_commit(w);
	img_abort(w);
	free(va);
	return ret ? no("writing: %s", strerror(-ret)) : 0;
}

/* ---- page data bounced through pwrite() or written into a mapping ---- */

/* crosses bounce buffers (4 pieces) and ends inside a piece */
#define COPY_PAGES	(2 * 4 * IMG_PIECE_PAGES + 37)
#define COPY_FILLED	10	/* the second chunk: pages the caller fills */

/* one process, a chunk filled whole and one of which the caller fills
 * COPY_FILLED pages only (img_pages_end() zeroes the rest) */
static int build_copy(const char *path, bool bounce, uint64_t *va)
{
	struct img_writer *w;
	uint8_t *data;
	size_t room, b;
	uint32_t i;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return no("img_create: %s", strerror(-ret));
	img_set_bounce(w, bounce);
	ret = put_header(w) ?: put_proc(w, ROOT_PID, 1, false) ?: put_thread(w, ROOT_PID) ?:
	      put_thread(w, THREAD2) ?:
	      put_vma(w, BIG_VA, BIG_VA + 2ULL * COPY_PAGES * ps, IMG_VMA_ANON, NULL) ?:
	      put_pages(w, va, COPY_PAGES) ?: img_pages_begin(w, COPY_PAGES, va + COPY_PAGES);
	for (i = 0; !ret && i < COPY_FILLED; i++) {
		data = img_pages_dst(w, &room);
		for (b = 0; b < ps; b++)
			data[b] = page_byte(va[COPY_PAGES + i], b);
		img_pages_filled(w, ps);
	}
	if (!ret)
		ret = img_pages_end(w) ?: put_proc(w, ZOMBIE_PID, ROOT_PID, true) ?: img_commit(w);
	img_abort(w);
	return ret ? (why[0] ? -1 : no("writing (%s): %s", bounce ? "bounce" : "map",
				       strerror(-ret))) : 0;
}

static int t_copy_modes_agree(void)
{
	char bpath[300], mpath[300];
	uint8_t *bimg = NULL, *mimg = NULL;
	size_t blen = 0, mlen = 0, b;
	uint64_t va[2 * COPY_PAGES];
	struct ckpt_image img;
	const struct m_pages *pg;
	uint32_t c, i;
	int ret;

	for (i = 0; i < 2 * COPY_PAGES; i++)
		va[i] = BIG_VA + (uint64_t)i * ps;
	snprintf(bpath, sizeof(bpath), "%s/bounce.img", dir);
	snprintf(mpath, sizeof(mpath), "%s/map.img", dir);
	if (build_copy(bpath, true, va) || build_copy(mpath, false, va) ||
	    read_all(bpath, &bimg, &blen) || read_all(mpath, &mimg, &mlen))
		ret = -1;
	else if (blen != mlen || memcmp(bimg, mimg, blen))
		ret = no("the bounced image (%zu bytes) differs from the mapped one (%zu)",
			 blen, mlen);
	else
		ret = 0;
	free(bimg);
	free(mimg);
	unlink(mpath);
	if (ret) {
		unlink(bpath);
		return ret;
	}
	ret = image_load(bpath, 0, &img);
	unlink(bpath);
	if (ret) {
		no("image_load: %s", img.r.err);
		image_free(&img);
		return -1;
	}
	pg = img.procs[0].pages;
	if (img.procs[0].nr_chunks != 2)
		ret = no("%u chunks", img.procs[0].nr_chunks);
	for (c = 0; !ret && c < 2; c++)
		for (i = 0; !ret && i < img_pieces(pg[c].nr); i++)
			if (!img_piece_ok(ps, pg[c].data, pg[c].nr, pg[c].sums, i))
				ret = no("chunk %u piece %u: its sum does not match", c, i);
	for (c = 0; !ret && c < 2; c++)
		for (i = 0; !ret && i < pg[c].nr; i++)
			for (b = 0; b < ps; b += 255) {
				uint8_t want = c && i >= COPY_FILLED ? 0 : page_byte(pg[c].vaddrs[i], b);

				if (pg[c].data[(size_t)i * ps + b] != want) {
					ret = no("chunk %u page %u byte %zu differs", c, i, b);
					break;
				}
			}
	image_free(&img);
	return ret;
}

/* the offsets of the IMG_ZPAGES records of @path */
static int zrecs(const char *path, uint64_t *off, int max)
{
	struct img_reader r;
	struct img_rec rec;
	int n = 0, ret;

	if (img_open(path, 0, &r))
		return no("img_open: %s", r.err);
	while ((ret = img_next(&r, &rec)) > 0) {
		if (rec.type == IMG_PAGES || rec.type == IMG_PAGE_SUMS) {
			img_close(&r);
			return no("a compressed image holds %s records", img_type_name(rec.type));
		}
		if (rec.type == IMG_ZPAGES && n < max)
			off[n++] = rec.off;
	}
	img_close(&r);
	return ret < 0 ? no("img_next: %s", r.err) : n;
}

static int t_zpages_round_trip(void)
{
	struct ckpt_image img;
	uint64_t off[4];
	int ret;

	if (build_z(z_path, false) || read_all(z_path, &zgood, &zgood_len))
		return -1;
	if (zrecs(z_path, off, 4) != 2)
		return no("%s: not 2 zpages records", why[0] ? why : "chunks");
	ret = image_load(z_path, 0, &img);
	if (ret) {
		no("image_load: %s", img.r.err);
		image_free(&img);
		return -1;
	}
	ret = check_proc0(&img.procs[0]) ?: check_mem_fds(&img.procs[0]);
	if (!ret && (!img.procs[0].pages[0].z.nr || img.procs[0].pages[1].z.nr != 1))
		ret = no("the chunks are not marked compressed");
	image_free(&img);
	return ret;
}

/* 2 records of 48 and 2 pieces; lazily loaded, pages come piece by piece */
static int t_zpages_split_and_lazy(void)
{
	struct ckpt_image img;
	const struct m_pages *pg;
	uint64_t off[4];
	uint32_t c, i, b;
	int ret;

	if (build_z(zbig_path, true))
		return -1;
	if (zrecs(zbig_path, off, 4) != 2)
		return no("%s: %d pages not in 2 zpages records", why, BIG_PAGES);
	ret = image_load(zbig_path, IMG_OPEN_LAZY, &img);
	if (ret) {
		no("image_load: %s", img.r.err);
		image_free(&img);
		return -1;
	}
	ret = -1;
	pg = img.procs[0].pages;
	if (img.procs[0].nr_chunks != 2 || pg[0].nr != IMG_ZPAGES_PIECES_MAX * IMG_PIECE_PAGES ||
	    pg[1].nr != 100 || pg[1].z.nr_pieces != 2 || img.nr_pages != BIG_PAGES)
		no("chunks of %u and %u pages", pg[0].nr, img.procs[0].nr_chunks > 1 ? pg[1].nr : 0);
	else if (pg[1].data[5] != 0)
		no("a lazy load decompressed pages before they were asked for");
	else if (img_zpiece(&pg[1].z, ps, 1, pg[1].zbuf, NULL) ||
		 pg[1].data[(size_t)IMG_PIECE_PAGES * ps + 5] !=
		 page_byte(pg[1].vaddrs[IMG_PIECE_PAGES], 5) || pg[1].data[5] != 0)
		no("piece 1 alone did not decompress to its pages alone");
	else if (img_zpiece(&pg[1].z, ps, 2, pg[1].zbuf, NULL) != -EINVAL)
		no("piece 2 of 2 accepted");
	else if (image_zfill(&img, NULL))
		no("image_zfill: %s", img.r.err);
	else
		ret = 0;
	for (c = 0; !ret && c < 2; c++)
		for (i = 0; i < pg[c].nr; i++)
			for (b = 0; b < ps; b += 511)
				if (pg[c].data[(size_t)i * ps + b] != page_byte(pg[c].vaddrs[i], b)) {
					ret = no("page %#" PRIx64 " byte %u differs", pg[c].vaddrs[i], b);
					break;
				}
	image_free(&img);
	return ret;
}

/* an edit of @size bytes at @field of the first zpages record, resealed */
static int zrejects(size_t field, const void *val, size_t size, unsigned flags,
		    const char *want, const char *what)
{
	uint64_t off[4];
	uint8_t *b;
	int ret, n;

	n = zrecs(z_path, off, 4);
	if (n < 1)
		return -1;
	b = malloc(zgood_len);
	if (!b)
		return no("malloc");
	memcpy(b, zgood, zgood_len);
	memcpy(b + off[0] + field, val, size);
	/* no tail edit: the checksum must catch it unless resealed */
	if (flags != ~0u)
		reseal(b, zgood_len, ((struct img_tail *)(b + zgood_len) - 1)->nr_records);
	ret = rejects(b, zgood_len, flags == ~0u ? 0 : flags, want, NULL, what);
	free(b);
	return ret;
}

static int t_zpages_damaged(void)
{
	size_t fixed = sizeof(struct img_zpages), zl = fixed + 3 * 8;
	size_t frame = zl + 8;	/* 3 vaddrs, 1 zlen padded to 8 */
	uint32_t big = 1u << 20, bad_magic = 0x12345678;

	if (!zgood)
		return no("no compressed image (zpages_round_trip failed)");
	if (zrejects(frame + 40, &(uint8_t){ 0x5a }, 1, ~0u, "checksum mismatch",
		     "a frame byte flipped") ||
	    zrejects(frame, &bad_magic, 4, 0, "does not decompress", "frame magic") ||
	    zrejects(zl, &(uint32_t){ 7 }, 4, 0, "frames of", "zlen shorter") ||
	    zrejects(zl, &big, 4, 0, "frames of", "zlen past the record") ||
	    zrejects(offsetof(struct img_zpages, nr), &(uint32_t){ 0 }, 4, 0, "pages in",
		     "nr 0") ||
	    zrejects(offsetof(struct img_zpages, nr), &(uint32_t){ 65 }, 4, 0, "pieces",
		     "nr 65 for one piece") ||
	    zrejects(offsetof(struct img_zpages, nr_pieces), &(uint32_t){ 2 }, 4, 0,
		     "pieces", "2 pieces for 3 pages") ||
	    zrejects(offsetof(struct img_zpages, piece_pages), &(uint32_t){ 32 }, 4, 0,
		     "pieces of 32", "piece_pages 32") ||
	    zrejects(offsetof(struct img_zpages, reserved), &(uint32_t){ 1 }, 4, 0,
		     "reserved 1", "reserved set") ||
	    zrejects(fixed + 8, &(uint64_t){ 0x11001 }, 8, 0, "bad page address",
		     "unaligned address") ||
	    zrejects(fixed + 16, &(uint64_t){ 0x10000 }, 8, 0, "bad page address",
		     "decreasing address") ||
	    zrejects(fixed + 16, &(uint64_t){ 0x50000 }, 8, 0, "outside every vma",
		     "page outside the vmas"))
		return -1;
	return 0;
}

/* a frame that does not decompress, found when a lazy load asks for it */
static int t_zpages_damaged_lazy(void)
{
	size_t frame = sizeof(struct img_zpages) + 3 * 8 + 8;
	struct ckpt_image img;
	uint64_t off[4];
	uint8_t *b;
	int ret = -1;

	if (!zgood || zrecs(z_path, off, 4) < 1)
		return no("no compressed image");
	b = malloc(zgood_len);
	if (!b)
		return no("malloc");
	memcpy(b, zgood, zgood_len);
	memset(b + off[0] + frame, 0, 4);
	reseal(b, zgood_len, ((struct img_tail *)(b + zgood_len) - 1)->nr_records);
	if (write_all(bad_path, b, zgood_len))
		goto out;
	if (image_load(bad_path, IMG_OPEN_LAZY, &img))
		no("the lazy load refused it already: %s", img.r.err);
	else if (image_zfill(&img, NULL) != -EBADMSG || !strstr(img.r.err, "decompress"))
		no("image_zfill of a broken frame: '%s'", img.r.err);
	else
		ret = 0;
	image_free(&img);
out:
	free(b);
	return ret;
}

/* "-": the writer spools to a memfd and sends it; the reader takes stdin */
static int t_stream(void)
{
	char path[300];
	struct img_writer *w;
	struct ckpt_image img;
	int fd, in, ret;

	snprintf(path, sizeof(path), "%s/stream.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return no("%s: %s", path, strerror(errno));
	ret = img_create("-", &w);
	if (!ret && !img_read_path(w))
		ret = -EINVAL;
	if (!ret && img_send(w, fd) != -EINVAL)
		ret = no("img_send before the commit");
	if (!ret)
		ret = put_records(w) ?: img_commit(w) ?: img_send(w, fd);
	img_abort(w);
	close(fd);
	if (ret)
		return why[0] ? -1 : no("streaming: %s", strerror(-ret));
	in = dup(STDIN_FILENO);
	fd = open(path, O_RDONLY);
	if (fd < 0 || in < 0 || dup2(fd, STDIN_FILENO) < 0)
		return no("stdin: %s", strerror(errno));
	close(fd);
	ret = image_load("-", 0, &img);
	dup2(in, STDIN_FILENO);
	close(in);
	unlink(path);
	if (ret)
		no("image_load(\"-\"): %s", img.r.err);
	else if (img.r.size != good_len || check_mem_fds(&img.procs[0]))
		ret = no("%s", why[0] ? why : "the streamed image differs in size");
	image_free(&img);
	return ret ? -1 : 0;
}

/* ---- pre-copy chains (IMG_CHAIN, IMG_INHERIT) ---- */

#define CHAIN_ID	0x1234567890abcdefULL
#define CHAIN_START	777		/* start time of ROOT_PID */

static char par_path[300], kid_path[300];
static uint8_t *kid_good;
static size_t kid_len;

/* the parent: chunk1 and chunk2's pages; the child: 0x11000 of its own */
static const uint64_t kid_own[] = { 0x11000 };
static const struct img_range kid_inh[] = {
	{ 0x10000, 0x11000 }, { 0x13000, 0x14000 }, { 0x30000, 0x31000 },
};

static int put_chain(struct img_writer *w, uint64_t id, uint64_t parent_id,
		     uint64_t parent_sum, uint64_t start)
{
	static const char parent[] = "parent.img";
	struct img_chain c = {
		.h.type = IMG_CHAIN, .id = id, .parent_id = parent_id,
		.parent_sum = parent_sum, .flags = parent_id ? 0 : IMG_CHAIN_PRE,
		.nr_procs = 2, .parent_len = parent_id ? sizeof(parent) : 0,
	};
	struct img_chain_proc cp[2] = {
		{ .pid = ROOT_PID, .tracked = 1, .start_time = start },
		{ .pid = ZOMBIE_PID, .start_time = 1 },
	};
	struct img_part parts[2] = { { cp, sizeof(cp) }, { parent, c.parent_len } };

	return img_put(w, &c, sizeof(c), parts, 2);
}

/* pages whose bytes are page_byte() ^ 0x5a: the child's own content */
static int put_salted(struct img_writer *w, const uint64_t *va, uint32_t nr)
{
	return put_pages_salt(w, va, nr, 0x5a);
}

static int build_link(const char *path, bool kid, uint64_t parent_sum, uint64_t start)
{
	struct img_inherit in = { .h.type = IMG_INHERIT, .nr = 3 };
	struct img_part part = { kid_inh, sizeof(kid_inh) };
	struct img_writer *w;
	int ret;

	ret = img_create(path, &w);
	if (ret)
		return no("img_create: %s", strerror(-ret));
	ret = put_header(w) ?:
	      put_chain(w, kid ? CHAIN_ID + 1 : CHAIN_ID, kid ? CHAIN_ID : 0, parent_sum, start) ?:
	      put_proc(w, ROOT_PID, 1, false) ?: put_thread(w, ROOT_PID) ?:
	      put_thread(w, THREAD2) ?:
	      put_vma(w, 0x10000, 0x14000, IMG_VMA_ANON, NULL) ?:
	      put_vma(w, 0x20000, 0x22000, IMG_VMA_FILE, "/lib/x.so") ?:
	      put_vma(w, 0x30000, 0x31000, IMG_VMA_HEAP, NULL);
	if (!ret && kid)
		ret = put_salted(w, kid_own, 1) ?: img_put(w, &in, sizeof(in), &part, 1);
	else if (!ret)
		ret = put_pages(w, chunk1, 3) ?: put_pages(w, chunk2, 1);
	if (!ret)
		ret = put_proc(w, ZOMBIE_PID, ROOT_PID, true) ?: img_commit(w);
	img_abort(w);
	return ret ? no("writing %s: %s", path, strerror(-ret)) : 0;
}

static uint64_t tail_sum(const char *path)
{
	uint8_t *b;
	size_t len;
	uint64_t sum = 0;

	if (!read_all(path, &b, &len)) {
		sum = ((const struct img_tail *)(b + len) - 1)->checksum;
		free(b);
	}
	return sum;
}

/* the parent and a child that stores 0x11000 and inherits the other pages */
static int build_chain(void)
{
	return build_link(par_path, false, 0, CHAIN_START) ?:
	       build_link(kid_path, true, tail_sum(par_path), CHAIN_START);
}

static int t_chain_round_trip(void)
{
	struct ckpt_image img;
	const struct m_proc *mp;
	uint32_t c, i, n = 0;
	int ret = -1;

	if (build_chain() || read_all(kid_path, &kid_good, &kid_len))
		return -1;
	if (image_load(kid_path, 0, &img)) {
		no("image_load: %s", img.r.err);
		goto out;
	}
	mp = &img.procs[0];
	if (!img.chain || img.chain->parent_id != CHAIN_ID || !img.parent ||
	    strcmp(img.chain_parent, "parent.img") || !(img.parent->chain->flags & IMG_CHAIN_PRE) ||
	    mp->nr_inherited != 3 || mp->nr_pages != 4 || img.nr_pages != 4) {
		no("chain fields or counts differ");
		goto out;
	}
	for (c = 0; c < mp->nr_chunks; c++)
		for (i = 0; i < mp->pages[c].nr; i++, n++) {
			uint64_t va = mp->pages[c].vaddrs[i];
			uint8_t want = page_byte(va, 9) ^ (va == 0x11000 ? 0x5a : 0);
			static const uint64_t order[] = { 0x10000, 0x11000, 0x13000, 0x30000 };

			if (n >= 4 || va != order[n] || mp->pages[c].data[(size_t)i * ps + 9] != want) {
				no("merged page %u: %#" PRIx64 " (byte %#x)", n, va,
				   mp->pages[c].data[(size_t)i * ps + 9]);
				goto out;
			}
		}
	ret = n == 4 ? 0 : no("%u merged pages", n);
	image_free(&img);
	/* snap --kill's read-back does not load the parent */
	if (!ret && (image_load(kid_path, IMG_OPEN_NO_CHECKSUM, &img) || img.parent))
		ret = no("IMG_OPEN_NO_CHECKSUM: %s", img.parent ? "parent loaded" : img.r.err);
out:
	image_free(&img);
	return ret;
}

/* the data offset of the parent's first IMG_PAGES record, 0 if none */
static uint64_t par_data_off(void)
{
	struct img_reader r;
	struct img_rec rec;
	uint64_t off = 0;

	if (img_open(par_path, IMG_OPEN_NO_CHECKSUM, &r))
		return 0;
	while (!off && img_next(&r, &rec) > 0)
		if (rec.type == IMG_PAGES)
			off = rec.data_off;
	img_close(&r);
	return off;
}

/*
 * IMG_OPEN_INDEX (snap --parent's parent): the chain resolved and merged
 * as in a full load; a flipped page byte of the parent goes through (no
 * data hashed: restore's full load refuses it), a parent cut short not
 * (the framing is checked all the same)
 */
static int t_chain_index(void)
{
	struct ckpt_image img;
	uint64_t off = par_data_off();
	uint8_t *par = NULL;
	size_t len;
	int ret;

	if (!off || read_all(par_path, &par, &len))
		return no("setup");
	ret = image_load(kid_path, IMG_OPEN_INDEX, &img);
	if (ret)
		no("IMG_OPEN_INDEX: %s", img.r.err);
	else if (!img.parent || img.procs[0].nr_pages != 4 || img.procs[0].nr_inherited != 3)
		ret = no("IMG_OPEN_INDEX: the chain is not merged");
	image_free(&img);
	par[off + 7] ^= 0xff;
	if (!ret && !write_all(par_path, par, len)) {
		if (image_load(kid_path, IMG_OPEN_INDEX, &img))
			ret = no("IMG_OPEN_INDEX refused a flipped page byte: %s", img.r.err);
		image_free(&img);
		if (!ret && !image_load(kid_path, 0, &img))
			ret = no("a full load took a flipped page byte of the parent");
		image_free(&img);
	}
	par[off + 7] ^= 0xff;
	if (!ret && !write_all(par_path, par, len - 64)) {
		if (!image_load(kid_path, IMG_OPEN_INDEX, &img))
			ret = no("IMG_OPEN_INDEX took a parent cut short");
		else if (!strstr(img.r.err, "parent"))
			ret = no("the message does not name the parent: %s", img.r.err);
		image_free(&img);
	}
	if (write_all(par_path, par, len))
		ret = -1;
	free(par);
	return ret;
}

/* the child edited at @field of its @type record, resealed, must be refused */
static int kid_rejects(uint32_t type, size_t field, const void *val, size_t size,
		       const char *want, const char *what)
{
	struct img_reader r;
	struct img_rec rec;
	uint64_t off = 0;
	uint8_t *b;
	int ret;

	if (img_open(kid_path, 0, &r))
		return no("img_open: %s", r.err);
	while (img_next(&r, &rec) > 0)
		if (rec.type == type && !off)
			off = rec.off;
	img_close(&r);
	b = malloc(kid_len);
	if (!off || !b) {
		free(b);
		return no("no %s record", img_type_name(type));
	}
	memcpy(b, kid_good, kid_len);
	memcpy(b + off + field, val, size);
	reseal(b, kid_len, ((struct img_tail *)(b + kid_len) - 1)->nr_records);
	ret = rejects(b, kid_len, 0, want, NULL, what);
	free(b);
	return ret;
}

static int t_chain_damaged(void)
{
	size_t cf = sizeof(struct img_chain), r0 = sizeof(struct img_inherit);
	uint64_t big = 1ULL << 57;

	if (!kid_good)
		return no("no chain (chain_round_trip failed)");
	/* the damaged copy (bad_path) finds parent.img next to it */
	return kid_rejects(IMG_CHAIN, offsetof(struct img_chain, reserved), &(uint32_t){ 1 }, 4,
			  "flags", "chain reserved") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, flags), &(uint32_t){ 8 }, 4,
			  "flags 0x8", "unknown chain flag") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, id), &(uint64_t){ 0 }, 8,
			  "id 0", "id 0") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, nr_procs), &(uint32_t){ 3 }, 4,
			  "3 processes", "nr_procs") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, parent_id), &(uint64_t){ 0 }, 8,
			  "without a path", "parent path, no id") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, parent_id), &(uint64_t){ 99 }, 8,
			  "not the image this one was snapped against", "another parent id") ?:
	      kid_rejects(IMG_CHAIN, offsetof(struct img_chain, parent_sum), &(uint64_t){ 99 }, 8,
			  "not the image this one was snapped against", "parent changed since") ?:
	      kid_rejects(IMG_CHAIN, cf + offsetof(struct img_chain_proc, start_time),
			  &(uint64_t){ 1 }, 8, "another process of that pid", "pid reused") ?:
	      kid_rejects(IMG_CHAIN, cf + 2 * sizeof(struct img_chain_proc) + 10, "X", 1,
			  "not terminated", "parent path unterminated") ?:
	      kid_rejects(IMG_INHERIT, offsetof(struct img_inherit, reserved), &(uint32_t){ 1 },
			  4, "ranges", "inherit reserved") ?:
	      kid_rejects(IMG_INHERIT, offsetof(struct img_inherit, nr), &(uint32_t){ 2 }, 4,
			  "ranges", "nr 2 for 3") ?:
	      kid_rejects(IMG_INHERIT, r0, &(uint64_t){ 0x10001 }, 8, "range 0", "unaligned") ?:
	      kid_rejects(IMG_INHERIT, r0 + 8, &(uint64_t){ 0x10000 }, 8, "range 0", "empty") ?:
	      kid_rejects(IMG_INHERIT, r0 + 16, &(uint64_t){ 0x10000 }, 8, "range 1",
			  "overlapping") ?:
	      kid_rejects(IMG_INHERIT, r0 + 16 + 8, &big, 8, "range 1", "past 57 bits") ?:
	      kid_rejects(IMG_INHERIT, r0 + 16, &(uint64_t){ 0x12000 }, 8,
			  "parent holds 3 of them", "a page the parent lacks") ?:
	      kid_rejects(IMG_INHERIT, r0 + 32 + 8, &(uint64_t){ 0x32000 }, 8, "outside every vma",
			  "outside the vmas") ?:
	      kid_rejects(IMG_INHERIT, r0 + 8, &(uint64_t){ 0x12000 }, 8, "both stored and inherited",
			  "a stored page inherited too");
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
	run("not_an_image", t_not_an_image);
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
	run("inet", t_inet);
	run("cow_ranges", t_cow_ranges);
	run("shared_gone", t_shared_gone);
	run("notify", t_notify);
	run("sysv_ipc", t_ipc);
	run("namespaces", t_ns);
	run("locks", t_locks);
	run("private_gone", t_private_gone);
	run("tty", t_tty);
	snprintf(z_path, sizeof(z_path), "%s/z.img", dir);
	snprintf(zbig_path, sizeof(zbig_path), "%s/zbig.img", dir);
	run("copy_modes_agree", t_copy_modes_agree);
	run("zpages_round_trip", t_zpages_round_trip);
	run("zpages_split_and_lazy", t_zpages_split_and_lazy);
	run("zpages_damaged", t_zpages_damaged);
	run("zpages_damaged_lazy", t_zpages_damaged_lazy);
	run("stream", t_stream);
	snprintf(par_path, sizeof(par_path), "%s/parent.img", dir);
	snprintf(kid_path, sizeof(kid_path), "%s/kid.img", dir);
	run("chain_round_trip", t_chain_round_trip);
	run("chain_index", t_chain_index);
	run("chain_damaged", t_chain_damaged);
	unlink(par_path);
	unlink(kid_path);
	free(kid_good);
	unlink(z_path);
	unlink(zbig_path);
	free(zgood);
	unlink(good_path);
	unlink(bad_path);
	rmdir(dir);
	free(good);
	printf("# img_test: %d cases, %d failures\n", passed + failed, failed);
	return failed ? 1 : 0;
}
