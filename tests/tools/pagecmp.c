// SPDX-License-Identifier: GPL-2.0
/*
 * pagecmp IMAGE PID: compares the memory an image holds for PID with the
 * live (stopped) process, through /proc/PID/mem, or with --vm through
 * process_vm_readv() (which, unlike /proc/PID/mem, can wait for a page
 * a userfaultfd has still to serve).
 *   - every stored page must equal the process's page;
 *   - every page of a private anonymous or shared anonymous VMA that is
 *     not stored must read as zeros (the image says "zero page");
 *   - every page of a private file VMA that is not stored must equal the
 *     file's contents at that offset (the image says "from the file");
 *   - every page the process shares copy-on-write with its parent (an
 *     IMG_COW range) must equal the page its parent has there, which is
 *     stored with the parent or, shared in turn, with an ancestor.
 * The rseq areas of the process's threads are left out: the kernel
 * rewrites their cpu_id fields whenever a thread returns to user space,
 * so after a restore they say where the thread runs now.
 * Exit 0 if all agree, 1 with the first differences listed, 2 on error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "model.h"

#define MAX_REPORT	10

struct cmp {
	const struct ckpt_image *img;
	const struct m_proc *mp;
	int mem;
	int pid;
	bool vm;	/* process_vm_readv, not /proc/PID/mem */
	uint32_t ps;
	uint64_t equal, bad, zero_ok, file_ok, skipped, guard_ok, cow_ok;
	uint64_t unreadable;	/* of the bad: a read error, not other bytes */
	uint8_t *buf, *ref;
};

static void report(struct cmp *c, uint64_t va, const char *what)
{
	if (strstr(what, "unreadable"))
		c->unreadable++;
	if (c->bad++ < MAX_REPORT)
		printf("page %#" PRIx64 ": %s\n", va, what);
}

/* overwrite the kernel-owned bytes of the page at @va with @ref's */
static void mask_rseq(struct cmp *c, uint64_t va, const uint8_t *ref)
{
	uint32_t i;

	for (i = 0; i < c->mp->nr_threads; i++) {
		const struct img_thread *t = c->mp->threads[i].t;
		uint64_t s = t->rseq, e = t->rseq + t->rseq_len;

		if (!t->rseq || e <= va || s >= va + c->ps)
			continue;
		s = s < va ? va : s;
		e = e > va + c->ps ? va + c->ps : e;
		memcpy(c->buf + (s - va), ref + (s - va), e - s);
	}
}

static int read_page(struct cmp *c, uint64_t va)
{
	struct iovec l = { c->buf, c->ps }, r = { (void *)(uintptr_t)va, c->ps };

	if (c->vm)
		return process_vm_readv(c->pid, &l, 1, &r, 1, 0) == (ssize_t)c->ps ? 0 : -errno;
	return pread(c->mem, c->buf, c->ps, (off_t)va) == (ssize_t)c->ps ? 0 : -errno;
}

static int check_stored(struct cmp *c, const struct m_proc *mp)
{
	uint32_t i, j;

	for (i = 0; i < mp->nr_chunks; i++) {
		const struct m_pages *pg = &mp->pages[i];

		for (j = 0; j < pg->nr; j++) {
			if (read_page(c, pg->vaddrs[j])) {
				report(c, pg->vaddrs[j], "stored, but unreadable in the process");
				continue;
			}
			mask_rseq(c, pg->vaddrs[j], pg->data + (uint64_t)j * c->ps);
			if (memcmp(c->buf, pg->data + (uint64_t)j * c->ps, c->ps))
				report(c, pg->vaddrs[j], "stored bytes differ from the process's");
			else
				c->equal++;
		}
	}
	return 0;
}

/* every stored address of the process, in increasing order */
static uint64_t *stored_list(const struct m_proc *mp)
{
	uint64_t *all = malloc((mp->nr_pages + 1) * sizeof(*all)), n = 0;
	uint32_t i, j;

	if (!all)
		return NULL;
	for (i = 0; i < mp->nr_chunks; i++)
		for (j = 0; j < mp->pages[i].nr; j++)
			all[n++] = mp->pages[i].vaddrs[j];
	all[n] = UINT64_MAX;
	return all;
}

static int is_zero(const uint8_t *p, size_t n)
{
	return p[0] == 0 && !memcmp(p, p + 1, n - 1);
}

/* an unstored page of a private file mapping: the file's bytes there */
static void check_file_page(struct cmp *c, const struct img_vma *v, int fd,
			    uint64_t va)
{
	ssize_t n = pread(fd, c->ref, c->ps, (off_t)(v->pgoff + (va - v->start)));

	if (n <= 0) {
		c->skipped++;	/* beyond the end of the file: not readable */
		return;
	}
	memset(c->ref + n, 0, c->ps - n);
	if (read_page(c, va))
		report(c, va, "unreadable in the process");
	else if (mask_rseq(c, va, c->ref), memcmp(c->buf, c->ref, c->ps))
		report(c, va, "not stored, yet differs from the file");
	else
		c->file_ok++;
}

static bool in_guard(const struct m_proc *mp, uint64_t va)
{
	uint32_t i;

	for (i = 0; i < mp->nr_guards; i++)
		if (mp->guards[i]->start <= va && va < mp->guards[i]->end)
			return true;
	return false;
}

static bool in_cow(const struct m_proc *mp, uint64_t va)
{
	uint32_t i;

	for (i = 0; i < mp->nr_cows; i++)
		if (mp->cows[i]->start <= va && va < mp->cows[i]->end)
			return true;
	return false;
}

static const uint8_t *stored_at(const struct m_proc *mp, uint64_t va, uint32_t ps)
{
	uint32_t i, j;

	/* vaddrs increase within a chunk (the loader checked) */
	for (i = 0; i < mp->nr_chunks; i++) {
		uint32_t lo = 0, hi = mp->pages[i].nr;

		while (lo < hi) {
			j = lo + (hi - lo) / 2;
			if (mp->pages[i].vaddrs[j] < va)
				lo = j + 1;
			else
				hi = j;
		}
		if (lo < mp->pages[i].nr && mp->pages[i].vaddrs[lo] == va)
			return mp->pages[i].data + (uint64_t)lo * ps;
	}
	return NULL;
}

/* the parent's page at @va, from whichever ancestor stored it; zeros if none */
static void inherited(struct cmp *c, uint64_t va)
{
	const struct m_proc *mp = c->mp;
	const uint8_t *p = NULL;

	while (!p && mp->parent >= 0 && in_cow(mp, va)) {
		mp = &c->img->procs[mp->parent];
		p = stored_at(mp, va, c->ps);
	}
	if (p)
		memcpy(c->ref, p, c->ps);
	else
		memset(c->ref, 0, c->ps);
}

static void check_unstored(struct cmp *c, const struct m_vma *mv, const uint64_t **next)
{
	const struct img_vma *v = mv->v;
	bool file = v->kind == IMG_VMA_FILE;
	uint64_t va;
	int fd = -1;

	if (file) {
		fd = open(mv->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			c->skipped += (v->end - v->start) / c->ps;
			return;
		}
	}
	for (va = v->start; va < v->end; va += c->ps) {
		while (**next < va)
			(*next)++;
		if (**next == va)
			continue;
		/* a guard page must still fault: /proc/PID/mem cannot read it */
		if (in_guard(c->mp, va)) {
			if (read_page(c, va))
				c->guard_ok++;
			else
				report(c, va, "a guard page, yet readable in the process");
			continue;
		}
		if (in_cow(c->mp, va)) {
			inherited(c, va);
			if (read_page(c, va))
				report(c, va, "shared with the parent, yet unreadable");
			else if (mask_rseq(c, va, c->ref), memcmp(c->buf, c->ref, c->ps))
				report(c, va, "shared with the parent, yet differs from "
				       "the parent's page in the image");
			else
				c->cow_ok++;
		} else if (file) {
			check_file_page(c, v, fd, va);
		} else if (read_page(c, va)) {
			report(c, va, "unreadable in the process");
		} else if (memset(c->ref, 0, c->ps), mask_rseq(c, va, c->ref),
			   !is_zero(c->buf, c->ps)) {
			report(c, va, "not stored, yet not zero in the process");
		} else {
			c->zero_ok++;
		}
	}
	if (fd >= 0)
		close(fd);
}

static int compare(struct cmp *c, const struct m_proc *mp)
{
	const uint64_t *all = stored_list(mp), *next = all;
	uint32_t i;

	if (!all)
		return -ENOMEM;
	check_stored(c, mp);
	for (i = 0; i < mp->nr_vmas; i++) {
		uint32_t k = mp->vmas[i].v->kind;

		if (k == IMG_VMA_ANON || k == IMG_VMA_HEAP || k == IMG_VMA_STACK ||
		    k == IMG_VMA_SHARED_ANON || k == IMG_VMA_FILE)
			check_unstored(c, &mp->vmas[i], &next);
	}
	free((void *)all);
	return 0;
}

int main(int argc, char **argv)
{
	struct ckpt_image img;
	struct cmp c = { .img = &img, .mem = -1 };
	char path[64];
	int idx, pid, ret;

	c.vm = argc == 4 && !strcmp(argv[3], "--vm");
	if ((argc != 3 && !c.vm) || (pid = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: pagecmp IMAGE PID [--vm]\n");
		return 2;
	}
	ret = image_load(argv[1], 0, &img);
	if (ret) {
		fprintf(stderr, "pagecmp: %s: %s\n", argv[1], img.r.err);
		image_free(&img);
		return 2;
	}
	idx = image_find(&img, pid);
	c.mp = idx >= 0 ? &img.procs[idx] : NULL;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	c.ps = img.hdr->page_size;
	c.pid = pid;
	c.mem = open(path, O_RDONLY | O_CLOEXEC);
	c.buf = malloc(c.ps);
	c.ref = malloc(c.ps);
	if (idx < 0 || c.mem < 0 || !c.buf || !c.ref ||
	    compare(&c, &img.procs[idx])) {
		fprintf(stderr, "pagecmp: pid %d: %s\n", pid,
			idx < 0 ? "not in the image" : strerror(errno));
		return 2;
	}
	printf("pid %d: %" PRIu64 " stored pages equal, %" PRIu64 " unstored pages "
	       "zero, %" PRIu64 " equal to their file, %" PRIu64 " equal to the "
	       "parent's, %" PRIu64 " guard pages, %" PRIu64 " skipped, %" PRIu64
	       " differ (%" PRIu64 " unreadable)\n", pid, c.equal, c.zero_ok, c.file_ok,
	       c.cow_ok, c.guard_ok, c.skipped, c.bad, c.unreadable);
	free(c.buf);
	free(c.ref);
	close(c.mem);
	image_free(&img);
	return c.bad ? 1 : 0;
}
