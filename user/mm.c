// SPDX-License-Identifier: GPL-2.0
/*
 * Memory of one process: VMAs from iter/task_vma, page contents found
 * with PAGEMAP_SCAN (private memory) or SEEK_DATA (shared anonymous
 * memory) and copied by process_vm_readv straight into the image's page
 * cache.  Never-written file pages and zero pages are not stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bpfckpt/compat.h"
#include "img.h"
#include "log.h"
#include "snap.h"
#include "util.h"

#define TMPFS_MAGIC	0x01021994
#define CHUNK_PAGES	(1u << 16)	/* pages per IMG_PAGES record */
#define COPY_BYTES	(256u << 10)	/* per process_vm_readv: stays in cache */
#define SCAN_REGIONS	1024

struct page_range {
	uint64_t start;
	uint64_t end;
	bool force;		/* not readable: go through /proc/PID/mem */
};

struct range_list {
	struct page_range *r;
	uint32_t n;
	uint32_t cap;
	uint64_t pages;
};

static const char *special_kind(const char *name, uint32_t *kind)
{
	static const struct { const char *name; uint32_t kind; } tab[] = {
		{ "[vdso]", IMG_VMA_VDSO },
		{ "[vvar]", IMG_VMA_VVAR },
		{ "[vvar_vclock]", IMG_VMA_VVAR_VCLOCK },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tab); i++) {
		if (!strcmp(name, tab[i].name)) {
			*kind = tab[i].kind;
			return tab[i].name;
		}
	}
	return NULL;
}

static bool is_deleted(const struct rec_vma *r)
{
	size_t n = strnlen(r->path, sizeof(r->path)), s = strlen(" (deleted)");

	return r->nlink == 0 || (n > s && !strcmp(r->path + n - s, " (deleted)"));
}

/* kind of a VMA backed by a file */
static int file_kind(struct snap_proc *sp, const struct rec_vma *r, uint32_t *kind)
{
	bool shared = r->vm_flags & KVM_MAYSHARE;

	if (!shared) {
		*kind = IMG_VMA_FILE;
		return 0;
	}
	if (r->sb_magic == TMPFS_MAGIC && !strncmp(r->path, "/dev/zero", 9)) {
		*kind = IMG_VMA_SHARED_ANON;
		return 0;
	}
	if (r->sb_magic == TMPFS_MAGIC && !strncmp(r->path, "/SYSV", 5)) {
		*kind = IMG_VMA_SYSV_SHM;
		return 0;
	}
	if (is_deleted(r)) {
		pr_err("pid %d: vma %llx-%llx: shared mapping of deleted file "
		       "'%s' (memfd or unlinked): not supported", sp->pid,
		       r->start, r->end, r->path);
		return -ENOTSUP;
	}
	*kind = IMG_VMA_SHARED_FILE;
	return 0;
}

static int classify(struct snap_proc *sp, const struct rec_vma *r, uint32_t *kind)
{
	const struct rec_task *t = sp->threads[0].rec;

	if (r->vm_flags & KVM_HUGETLB) {
		pr_err("pid %d: vma %llx-%llx: hugetlb mapping: not supported",
		       sp->pid, r->start, r->end);
		return -ENOTSUP;
	}
	if (r->has_file) {
		if (r->vm_flags & (KVM_IO | KVM_PFNMAP | KVM_MIXEDMAP)) {
			pr_err("pid %d: vma %llx-%llx: device mapping of '%s': "
			       "not supported", sp->pid, r->start, r->end, r->path);
			return -ENOTSUP;
		}
		return file_kind(sp, r, kind);
	}
	if (r->has_ops) {
		if (special_kind(r->special, kind))
			return 0;
		pr_err("pid %d: vma %llx-%llx: special mapping '%s': not supported",
		       sp->pid, r->start, r->end, r->special);
		return -ENOTSUP;
	}
	/* as /proc/PID/maps names them (fs/proc/task_mmu.c) */
	if (r->start <= t->brk && r->end >= t->start_brk)
		*kind = IMG_VMA_HEAP;
	else if (r->start <= t->start_stack && r->end >= t->start_stack)
		*kind = IMG_VMA_STACK;
	else
		*kind = IMG_VMA_ANON;
	return 0;
}

static int vma_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_vma *r = (const void *)h;
	struct snap_vma v = { 0 };
	uint32_t kind;
	int ret;

	if (h->type != REC_VMA || size < sizeof(*r))
		return 0;
	/* threads share the mm: the iterator may show it more than once */
	if (sp->nr_vmas && r->start < sp->vmas[sp->nr_vmas - 1].v.end)
		return 0;
	if (r->err & REC_ERR_PATH) {
		pr_err("pid %d: vma %llx-%llx: reading the backing file's path: %s",
		       sp->pid, r->start, r->end, errstr(r->path_len));
		return -EIO;
	}
	if (r->has_ops && !r->has_file && !strcmp(r->special, "[uprobes]")) {
		pr_info("pid %d: skipping the [uprobes] area (the kernel "
			"recreates it)", sp->pid);
		return 0;
	}
	ret = classify(sp, r, &kind);
	if (ret)
		return ret;
	v.v.h.type = IMG_VMA;
	v.v.start = r->start;
	v.v.end = r->end;
	v.v.vm_flags = r->vm_flags;
	v.v.kind = kind;
	v.v.prot = (r->vm_flags & KVM_READ ? PROT_READ : 0) |
		   (r->vm_flags & KVM_WRITE ? PROT_WRITE : 0) |
		   (r->vm_flags & KVM_EXEC ? PROT_EXEC : 0);
	v.v.map_flags = (r->vm_flags & KVM_MAYSHARE ? MAP_SHARED : MAP_PRIVATE) |
			(r->vm_flags & KVM_GROWSDOWN ? MAP_GROWSDOWN : 0) |
			(r->vm_flags & KVM_NORESERVE ? MAP_NORESERVE : 0);
	if (r->has_file) {
		v.v.pgoff = r->pgoff * (uint64_t)getpagesize();
		v.v.mode = r->mode;
		v.v.dev = r->dev;
		v.v.ino = r->ino;
		v.v.size = r->size;
		v.path = strndup(r->path, sizeof(r->path));
		if (!v.path)
			return -ENOMEM;
	}
	ret = vec_push(sp->vmas, sp->nr_vmas, sp->cap_vmas, v);
	if (ret)
		free(v.path);
	return ret;
}

int mm_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	int ret;

	if (sp->zombie)
		return 0;
	ret = collect_proc(&ctx->col, COLLECT_VMAS, sp->pid, vma_cb, sp);
	if (ret && ret != -ENOTSUP && ret != -EIO)
		pr_err("pid %d: collecting VMAs: %s", sp->pid, errstr(ret));
	return ret;
}

static int add_range(struct range_list *l, uint64_t start, uint64_t end, bool force)
{
	struct page_range *last = l->n ? &l->r[l->n - 1] : NULL;
	struct page_range r = { start, end, force };

	l->pages += (end - start) / getpagesize();
	if (last && last->end == start && last->force == force) {
		last->end = end;
		return 0;
	}
	return vec_push(l->r, l->n, l->cap, r);
}

/* present or swapped anonymous pages of a private VMA, zero page excluded */
static int scan_private(int pagemap, const struct snap_vma *v, struct range_list *l)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = v->v.start,
		.end = v->v.end,
		.vec = (uint64_t)(uintptr_t)regs,
		.vec_len = SCAN_REGIONS,
		.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	bool force = !(v->v.prot & PROT_READ);
	long n, i;
	int ret;

	while (arg.start < arg.end) {
		n = ioctl(pagemap, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			ret = add_range(l, regs[i].start, regs[i].end, force);
			if (ret)
				return ret;
		}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
}

/*
 * Shared anonymous memory lives in a shmem file that pagemap does not
 * see unless this process touched the page: ask the file itself which
 * ranges hold data (SEEK_DATA), through /proc/PID/map_files.
 */
static int scan_shared(pid_t pid, const struct snap_vma *v, struct range_list *l)
{
	uint64_t ps = getpagesize(), len = v->v.end - v->v.start;
	uint64_t base = v->v.pgoff, off = base, data, hole;
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)v->v.start, (unsigned long long)v->v.end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < base + len) {
		off_t d = lseek(fd, off, SEEK_DATA);

		if (d < 0) {
			if (errno != ENXIO)
				ret = -errno;
			break;
		}
		data = d / ps * ps;
		if (data >= base + len)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if ((off_t)hole < 0) {
			ret = -errno;
			break;
		}
		hole = MIN((hole + ps - 1) / ps * ps, base + len);
		ret = add_range(l, v->v.start + (data - base),
				v->v.start + (hole - base), !(v->v.prot & PROT_READ));
		if (ret)
			break;
		off = hole;
	}
	close(fd);
	return ret;
}

static bool has_content(uint32_t kind)
{
	return kind == IMG_VMA_ANON || kind == IMG_VMA_HEAP ||
	       kind == IMG_VMA_STACK || kind == IMG_VMA_FILE ||
	       kind == IMG_VMA_SHARED_ANON || kind == IMG_VMA_SYSV_SHM;
}

static int find_pages(struct snap_proc *sp, struct range_list *l)
{
	char path[64];
	uint32_t i;
	int pagemap, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", sp->pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap < 0) {
		ret = -errno;
		pr_err("pid %d: opening %s: %s", sp->pid, path, errstr(ret));
		return ret;
	}
	for (i = 0; i < sp->nr_vmas && !ret; i++) {
		struct snap_vma *v = &sp->vmas[i];

		if (!has_content(v->v.kind))
			continue;
		if (v->v.kind == IMG_VMA_SHARED_ANON || v->v.kind == IMG_VMA_SYSV_SHM)
			ret = scan_shared(sp->pid, v, l);
		else
			ret = scan_private(pagemap, v, l);
		if (ret)
			pr_err("pid %d: vma %llx-%llx: finding its pages: %s", sp->pid,
			       (unsigned long long)v->v.start,
			       (unsigned long long)v->v.end, errstr(ret));
	}
	close(pagemap);
	return ret;
}

struct copier {
	pid_t pid;
	int mem_fd;		/* /proc/PID/mem, for unreadable VMAs */
	struct range_list *l;
	uint32_t ri;		/* range being copied */
	uint64_t addr;		/* next address in it */
};

/* copies @len bytes (whole pages) of the next ranges into @dst */
static int copy_piece(struct copier *c, uint8_t *dst, size_t len)
{
	struct iovec local = { dst, len }, remote[64];
	size_t want = 0;
	ssize_t n;
	int nr = 0;
	bool force = c->l->r[c->ri].force;

	while (want < len && nr < 64 && c->ri < c->l->n &&
	       c->l->r[c->ri].force == force) {
		struct page_range *r = &c->l->r[c->ri];
		size_t take = MIN(r->end - c->addr, len - want);

		remote[nr].iov_base = (void *)(uintptr_t)c->addr;
		remote[nr].iov_len = take;
		nr++;
		want += take;
		c->addr += take;
		if (c->addr == r->end && ++c->ri < c->l->n)
			c->addr = c->l->r[c->ri].start;
	}
	local.iov_len = want;
	if (force) {
		/* /proc/PID/mem reads through PROT_NONE (FOLL_FORCE) */
		size_t done = 0;
		int i;

		for (i = 0; i < nr; i++) {
			n = pread(c->mem_fd, dst + done, remote[i].iov_len,
				  (off_t)(uintptr_t)remote[i].iov_base);
			if (n != (ssize_t)remote[i].iov_len)
				return n < 0 ? -errno : -EFAULT;
			done += n;
		}
		return want;
	}
	n = process_vm_readv(c->pid, &local, 1, remote, nr, 0);
	if (n < 0)
		return -errno;
	if ((size_t)n != want)
		return -EFAULT;
	return want;
}

static int write_chunk(struct snap_ctx *ctx, struct copier *c, uint32_t nr,
		       uint64_t *vaddrs)
{
	uint64_t ps = getpagesize(), total = (uint64_t)nr * ps, done = 0;
	struct copier save = *c;
	uint8_t *data;
	uint32_t i = 0;
	int ret;

	/* the addresses of the next @nr pages */
	while (i < nr) {
		vaddrs[i++] = c->addr;
		c->addr += ps;
		if (c->addr == c->l->r[c->ri].end && ++c->ri < c->l->n)
			c->addr = c->l->r[c->ri].start;
	}
	*c = save;
	ret = img_pages_begin(ctx->w, nr, vaddrs, &data);
	if (ret)
		return ret;
	while (done < total) {
		ret = copy_piece(c, data + done, MIN(COPY_BYTES, total - done));
		if (ret < 0) {
			pr_err("pid %d: reading memory at %llx: %s", c->pid,
			       (unsigned long long)c->addr, errstr(ret));
			ctx->reported = true;
			img_pages_end(ctx->w);
			return ret;
		}
		img_pages_filled(ctx->w, ret);
		done += ret;
	}
	return img_pages_end(ctx->w);
}

static int write_pages(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct range_list l = { 0 };
	struct copier c = { .pid = sp->pid, .mem_fd = -1, .l = &l };
	uint64_t *vaddrs = NULL, left, t0;
	char path[64];
	int ret;

	ret = find_pages(sp, &l);
	ctx->reported = ret != 0;
	if (ret || !l.n)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/mem", sp->pid);
	c.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	vaddrs = malloc(sizeof(*vaddrs) * MIN(l.pages, CHUNK_PAGES));
	if (c.mem_fd < 0 || !vaddrs) {
		ret = c.mem_fd < 0 ? -errno : -ENOMEM;
		pr_err("pid %d: preparing to read memory: %s", sp->pid, errstr(ret));
		ctx->reported = true;
		goto out;
	}
	c.addr = l.r[0].start;
	t0 = now_ns();
	for (left = l.pages; left && !ret; left -= MIN(left, CHUNK_PAGES))
		ret = write_chunk(ctx, &c, MIN(left, CHUNK_PAGES), vaddrs);
	ctx->st.mem_ns += now_ns() - t0;
	if (!ret) {
		sp->nr_pages = l.pages;
		ctx->st.pages += l.pages;
	}
out:
	if (c.mem_fd >= 0)
		close(c.mem_fd);
	free(vaddrs);
	free(l.r);
	return ret;
}

int mm_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < sp->nr_vmas && !ret; i++) {
		struct snap_vma *v = &sp->vmas[i];
		struct img_part part = { v->path, v->path ? strlen(v->path) + 1 : 0 };

		v->v.path_len = part.len;
		ret = img_put(ctx->w, &v->v, sizeof(v->v), &part, part.len ? 1 : 0);
	}
	if (ret)
		return ret;
	return write_pages(ctx, sp);
}

void mm_free(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_vmas; i++)
		free(sp->vmas[i].path);
	free(sp->vmas);
}
