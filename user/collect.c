// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"
#include "log.h"
#include "util.h"
#include "task.skel.h"
#include "mm.skel.h"
#include "files.skel.h"

/* A read() of PACE bytes returns after at most PACE objects (pace()). */
#define PACE 32

/* rows of one skeleton are together; alt counts rows down */
const struct bpf_prog_desc collect_progs[NR_COLLECT_PROGS] = {
	[PROG_LIST_TASKS] = { "list_tasks", "iter/task: the process tree",
			      "tasks", "the tree is listed from /proc", 0 },
	[PROG_TASK] = { "collect_task", "iter/task: thread state", NULL, NULL, 0 },
	[PROG_TIMERS] = { "collect_timers", "iter/task + bpf_loop: POSIX timers",
			  "timers", "a process with POSIX timers cannot be snapped", 0 },
	[PROG_SEM_UNDO] = { "collect_sem_undo", "iter/task + bpf_loop: SEM_UNDO adjustments",
			    "sem_undo", "a process with SEM_UNDO adjustments cannot be "
			    "snapped", 0 },
	[PROG_VMA] = { "collect_vma", "iter/task_vma: memory map", NULL, NULL, 0 },
	[PROG_FILE] = { "collect_file", "iter/task_file + bpf_d_path: fds",
			"fd_path", "fd paths are read from /proc/PID/fd", 1 },
	[PROG_FILE_NOPATH] = { "collect_file_nopath",
			       "iter/task_file: fds, paths from /proc", NULL, NULL, 0 },
};

BPF_SKEL_OPS(task, NULL);
BPF_SKEL_OPS(mm, NULL);
BPF_SKEL_OPS(files, NULL);

struct skel_load {
	const struct bpf_skel_ops *ops;
	int first, n;		/* its rows in collect_progs[] */
	size_t slot;		/* where it goes in struct collector */
	struct collector *c;
	int err;
};

static const struct skel_load skels[] = {
	{ &task_skel_ops, PROG_LIST_TASKS, 4, offsetof(struct collector, task), NULL, 0 },
	{ &mm_skel_ops, PROG_VMA, 1, offsetof(struct collector, mm), NULL, 0 },
	{ &files_skel_ops, PROG_FILE, 2, offsetof(struct collector, files), NULL, 0 },
};

static void *load_one(void *arg)
{
	struct skel_load *l = arg;
	void **slot = (void **)((char *)l->c + l->slot);

	l->err = bpf_load_progs(l->ops, NULL, &collect_progs[l->first],
				&l->c->st[l->first], l->n, slot);
	return NULL;
}

/*
 * Loading a skeleton is mostly libbpf parsing vmlinux BTF and the
 * kernel verifying the programs, one CPU each: the task collector (the
 * largest) loads in this thread while the others load in a second one.
 * libbpf objects are independent; what libbpf shares between them
 * (feature probes) it caches with atomic accesses.
 */
struct side_load {
	struct skel_load *l[2];
	int n;
};

static void *load_side(void *arg)
{
	struct side_load *s = arg;
	int i;

	for (i = 0; i < s->n; i++)
		load_one(s->l[i]);
	return NULL;
}

bool collect_has(const struct collector *c, enum collect_prog p)
{
	return c->st[p].loaded;
}

int collect_load(struct collector *c, unsigned which)
{
	struct skel_load loads[ARRAY_SIZE(skels)];
	struct side_load side = { .n = 0 };
	pthread_t thread;
	bool threaded = false;
	size_t i;
	int err = 0;

	memset(c, 0, sizeof(*c));
	memcpy(loads, skels, sizeof(loads));
	for (i = 0; i < ARRAY_SIZE(loads); i++) {
		loads[i].c = c;
		if ((which & (1u << i)) && i > 0)
			side.l[side.n++] = &loads[i];
	}
	if (side.n)
		threaded = !pthread_create(&thread, NULL, load_side, &side);
	if (which & LOAD_TASK)
		load_one(&loads[0]);
	if (threaded)
		pthread_join(thread, NULL);
	else
		load_side(&side);
	for (i = 0; i < ARRAY_SIZE(loads); i++)
		if ((which & (1u << i)) && loads[i].err == -ENOMEM)
			err = -ENOMEM;
	if (err)
		collect_close(c);
	return err;
}

int collect_need(struct collector *c, unsigned progs, const char *works)
{
	int p, q, ret = 0;

	for (p = 0; p < NR_COLLECT_PROGS; p++) {
		const struct bpf_prog_desc *d = &collect_progs[p];
		const struct bpf_prog_status *st = &c->st[p];

		q = p + d->alt;
		if (!st->tried || st->loaded)
			continue;
		if (d->alt && c->st[q].loaded) {
			if (!st->forced)
				bpf_say_refused(LOG_WARN, d, st, d->instead);
			continue;
		}
		if (!(progs & (1u << p))) {
			if (d->instead && !st->forced && st->err)
				bpf_say_refused(LOG_WARN, d, st, d->instead);
			continue;
		}
		/* needed, and neither it nor its alternative is there */
		if (st->forced && d->alt)
			bpf_say_refused(LOG_ERR, &collect_progs[q], &c->st[q], works);
		else
			bpf_say_refused(LOG_ERR, d, st, works);
		ret = -ENOTSUP;
	}
	return ret;
}

int collect_open_snap(struct collector *c)
{
	int ret = collect_load(c, LOAD_ALL);

	if (!ret)
		ret = collect_need(c, SNAP_PROGS, "snap and inspect cannot work "
				   "here; restore, show, trace and top can");
	if (ret)
		collect_close(c);
	return ret;
}

void collect_close(struct collector *c)
{
	files_bpf__destroy(c->files);
	mm_bpf__destroy(c->mm);
	task_bpf__destroy(c->task);
	c->files = NULL;
	c->mm = NULL;
	c->task = NULL;
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
	if (!c || !collect_has(c, PROG_LIST_TASKS))
		return -ENOTSUP;
	return run_iter(c->task->progs.list_tasks, c->task->maps.records,
			c->task->maps.lost, 0, cb, ctx);
}

int collect_set_nsems(struct collector *c, int32_t semid, uint32_t nsems)
{
	if (!collect_has(c, PROG_SEM_UNDO))
		return -ENOTSUP;
	if (bpf_map__update_elem(c->task->maps.sem_nsems, &semid, sizeof(semid), &nsems,
				 sizeof(nsems), BPF_ANY))
		return -errno;
	return 0;
}

int collect_proc(struct collector *c, enum collect_kind kind, pid_t tgid,
		 collect_cb cb, void *ctx)
{
	switch (kind) {
	case COLLECT_TASKS:
		if (!collect_has(c, PROG_TASK))
			return -ENOTSUP;
		return run_iter(c->task->progs.collect_task, c->task->maps.records,
				c->task->maps.lost, tgid, cb, ctx);
	case COLLECT_TIMERS:
		if (!collect_has(c, PROG_TIMERS))
			return -ENOTSUP;
		return run_iter(c->task->progs.collect_timers, c->task->maps.records,
				c->task->maps.lost, tgid, cb, ctx);
	case COLLECT_SEM_UNDO:
		if (!collect_has(c, PROG_SEM_UNDO))
			return -ENOTSUP;
		return run_iter(c->task->progs.collect_sem_undo, c->task->maps.records,
				c->task->maps.lost, tgid, cb, ctx);
	case COLLECT_VMAS:
		if (!collect_has(c, PROG_VMA))
			return -ENOTSUP;
		return run_iter(c->mm->progs.collect_vma, c->mm->maps.records,
				c->mm->maps.lost, tgid, cb, ctx);
	case COLLECT_FILES:
		if (collect_has(c, PROG_FILE))
			return run_iter(c->files->progs.collect_file, c->files->maps.records,
					c->files->maps.lost, tgid, cb, ctx);
		if (collect_has(c, PROG_FILE_NOPATH))
			return run_iter(c->files->progs.collect_file_nopath,
					c->files->maps.records, c->files->maps.lost,
					tgid, cb, ctx);
		return -ENOTSUP;
	}
	return -EINVAL;
}
