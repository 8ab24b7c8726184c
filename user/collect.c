// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"
#include "log.h"
#include "task.skel.h"
#include "mm.skel.h"
#include "files.skel.h"

/* A read() of PACE bytes returns after at most PACE objects (pace()). */
#define PACE 32

/*
 * Loading a skeleton is mostly libbpf parsing vmlinux BTF and the
 * kernel verifying the programs, one CPU each: the mm and files
 * collectors load in a second thread while this one loads the task
 * collector (the largest).  libbpf objects are independent; what libbpf
 * shares between them (feature probes) it caches with atomic accesses.
 */
struct side_load {
	struct collector *c;
	int err;
};

static void *load_side(void *arg)
{
	struct side_load *s = arg;

	s->c->mm = mm_bpf__open_and_load();
	if (s->c->mm)
		s->c->files = files_bpf__open_and_load();
	s->err = s->c->files ? 0 : (errno ? -errno : -ENOTSUP);
	return NULL;
}

int collect_open_quiet(struct collector *c)
{
	struct side_load side = { c, 0 };
	pthread_t thread;
	int err = 0, ret;

	memset(c, 0, sizeof(*c));
	ret = pthread_create(&thread, NULL, load_side, &side);
	if (ret)
		load_side(&side);
	c->task = task_bpf__open_and_load();
	if (!c->task)
		err = errno ? -errno : -ENOTSUP;
	if (!ret)
		pthread_join(thread, NULL);
	if (!err)
		err = side.err;
	if (err)
		collect_close(c);
	return err;
}

int collect_open(struct collector *c)
{
	int ret = collect_open_quiet(c);

	if (ret)
		pr_err("loading the BPF collectors: %s (run as root on a kernel "
		       "with BTF and BPF iterators; 'bpfckpt check' tells)",
		       errstr(ret));
	return ret;
}

void collect_close(struct collector *c)
{
	files_bpf__destroy(c->files);
	mm_bpf__destroy(c->mm);
	task_bpf__destroy(c->task);
	memset(c, 0, sizeof(*c));
}

struct rb_ctx {
	collect_cb cb;
	void *ctx;
	int err;
};

static int rb_record(void *ctx, void *data, size_t size)
{
	struct rb_ctx *r = ctx;
	const struct rec_hdr *h = data;
	int ret;

	if (size < sizeof(*h) || h->size > size)
		return 0;
	ret = r->cb(r->ctx, h, h->size);
	if (ret < 0) {
		r->err = ret;
		return ret;
	}
	return 0;
}

static int read_lost(struct bpf_map *lost, __u64 *n)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(lost), &zero, n))
		return -errno;
	return 0;
}

/*
 * Runs @prog (optionally filtered to process @tgid) and delivers every
 * record of @rb.  Lossless: the ring buffer is drained after every
 * paced read(), and any reservation the BPF side could not make fails
 * the whole collection.
 */
static int run_iter(struct bpf_program *prog, struct bpf_map *rb_map,
		    struct bpf_map *lost, pid_t tgid, collect_cb cb, void *ctx)
{
	union bpf_iter_link_info linfo;
	struct bpf_iter_attach_opts opts;
	struct rb_ctx rc = { cb, ctx, 0 };
	struct ring_buffer *rb = NULL;
	struct bpf_link *link;
	__u64 lost_before = 0, lost_after = 0;
	char buf[PACE];
	int fd = -1, ret = 0;
	ssize_t n;

	/* libbpf 1.1's DECLARE_LIBBPF_OPTS may leave padding dirty */
	memset(&linfo, 0, sizeof(linfo));
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	if (tgid > 0) {
		linfo.task.pid = tgid;
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
	}
	link = bpf_program__attach_iter(prog, &opts);
	if (!link)
		return -errno;
	rb = ring_buffer__new(bpf_map__fd(rb_map), rb_record, &rc, NULL);
	if (!rb) {
		ret = -errno;
		goto out;
	}
	ret = read_lost(lost, &lost_before);
	if (ret)
		goto out;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (ring_buffer__consume(rb) < 0 && rc.err) {
			ret = rc.err;
			break;
		}
		if (n == 0)
			break;
	}
	if (!ret)
		ret = read_lost(lost, &lost_after);
	if (!ret && lost_after != lost_before)
		ret = -ENOBUFS;
out:
	if (fd >= 0)
		close(fd);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	return ret;
}

int collect_all_tasks(struct collector *c, collect_cb cb, void *ctx)
{
	return run_iter(c->task->progs.list_tasks, c->task->maps.records,
			c->task->maps.lost, 0, cb, ctx);
}

int collect_proc(struct collector *c, enum collect_kind kind, pid_t tgid,
		 collect_cb cb, void *ctx)
{
	switch (kind) {
	case COLLECT_TASKS:
		return run_iter(c->task->progs.collect_task, c->task->maps.records,
				c->task->maps.lost, tgid, cb, ctx);
	case COLLECT_VMAS:
		return run_iter(c->mm->progs.collect_vma, c->mm->maps.records,
				c->mm->maps.lost, tgid, cb, ctx);
	case COLLECT_FILES:
		return run_iter(c->files->progs.collect_file, c->files->maps.records,
				c->files->maps.lost, tgid, cb, ctx);
	}
	return -EINVAL;
}
