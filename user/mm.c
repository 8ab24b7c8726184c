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
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/prctl.h>
#include <linux/ptrace.h>
#include <linux/rseq.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bpfckpt/compat.h"
#include "features.h"
#include "img.h"
#include "log.h"
#include "inject.h"
#include "lazy.h"
#include "precopy.h"
#include "restore.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

#define TMPFS_MAGIC	0x01021994
#define SECRETMEM_MAGIC	0x5345434d	/* include/uapi/linux/magic.h */
#define CHUNK_PAGES	(1u << 16)	/* pages per IMG_PAGES record */
#define COPY_BYTES	(256u << 10)	/* per process_vm_readv: stays in cache */
#define SCAN_REGIONS	1024

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

static bool is_deleted(const struct rec_vma *r, const char *path)
{
	size_t n = strlen(path), s = strlen(" (deleted)");

	return r->nlink == 0 || (n > s && !strcmp(path + n - s, " (deleted)"));
}

/* kind of a VMA backed by a file */
static int file_kind(const struct rec_vma *r, const char *path, uint32_t *kind,
		     char *why, size_t len)
{
	bool shared = r->vm_flags & KVM_MAYSHARE;

	if (!shared && !is_deleted(r, path)) {
		*kind = IMG_VMA_FILE;
		return 0;
	}
	if (shared && r->sb_magic == TMPFS_MAGIC && !strncmp(path, "/dev/zero", 9)) {
		*kind = IMG_VMA_SHARED_ANON;
		return 0;
	}
	if (shared && r->sb_magic == TMPFS_MAGIC && !strncmp(path, "/SYSV", 5)) {
		*kind = IMG_VMA_SYSV_SHM;
		return 0;
	}
	/*
	 * A memfd or unlinked file: its content is stored (mm_gone.c).  Not
	 * memfd_secret()'s, whose pages nobody else can read, nor an inode
	 * that is no regular file: neither could be made again.
	 */
	if (is_deleted(r, path) && (!S_ISREG(r->mode) || r->sb_magic == SECRETMEM_MAGIC ||
				    path[0] != '/')) {
		snprintf(why, len, "vma %llx-%llx: %s mapping of '%s' (mode %o): "
			 "not a file restore can make again", r->start, r->end,
			 shared ? "shared" : "private", path, r->mode);
		return -ENOTSUP;
	}
	if (!shared)
		*kind = IMG_VMA_PRIVATE_GONE;
	else
		*kind = is_deleted(r, path) ? IMG_VMA_SHARED_GONE : IMG_VMA_SHARED_FILE;
	return 0;
}

static int classify(const struct rec_vma *r, const char *path,
		    const struct rec_task *t, uint32_t *kind, char *why, size_t len)
{
	if (r->vm_flags & KVM_HUGETLB) {
		snprintf(why, len, "vma %llx-%llx: hugetlb mapping: not supported",
			 r->start, r->end);
		return -ENOTSUP;
	}
	if (r->has_file) {
		if (r->vm_flags & (KVM_IO | KVM_PFNMAP | KVM_MIXEDMAP)) {
			snprintf(why, len, "vma %llx-%llx: device mapping of '%s': "
				 "not supported", r->start, r->end, path);
			return -ENOTSUP;
		}
		return file_kind(r, path, kind, why, len);
	}
	if (r->has_ops) {
		if (special_kind(r->special, kind))
			return 0;
		snprintf(why, len, "vma %llx-%llx: special mapping '%s': not "
			 "supported", r->start, r->end, r->special);
		return -ENOTSUP;
	}
	/*
	 * As /proc/PID/maps names them: vma_is_initial_heap() and
	 * vma_is_initial_stack() (include/linux/mm.h).  The heap test is
	 * strict: a VMA that only touches start_brk is not the heap -- the
	 * anonymous end of a large .bss ends exactly at start_brk, and with
	 * no brk allocation yet (or under setarch -R) nothing else is there.
	 */
	if (r->start < t->brk && r->end > t->start_brk)
		*kind = IMG_VMA_HEAP;
	else if (r->start <= t->start_stack && r->end >= t->start_stack)
		*kind = IMG_VMA_STACK;
	else
		*kind = IMG_VMA_ANON;
	return 0;
}

int mm_vma_path(pid_t pid, const struct rec_vma *r, char *buf, size_t size)
{
	char link[64];

	snprintf(link, sizeof(link), "map_files/%llx-%llx", r->start, r->end);
	return proc_link(pid, link, r->dev, r->ino, buf, size);
}

int mm_vma_kind(const struct rec_vma *r, const char *path,
		const struct rec_task *leader, uint32_t *kind, char *why, size_t len)
{
	*kind = 0;
	/* the kernel recreates it */
	if (r->has_ops && !r->has_file && !strcmp(r->special, "[uprobes]"))
		return 1;
	return classify(r, path, leader, kind, why, len);
}

void mm_fill_vma(struct img_vma *v, const struct rec_vma *r, uint32_t kind)
{
	memset(v, 0, sizeof(*v));
	v->h.type = IMG_VMA;
	v->start = r->start;
	v->end = r->end;
	v->vm_flags = r->vm_flags;
	v->kind = kind;
	v->prot = (r->vm_flags & KVM_READ ? PROT_READ : 0) |
		  (r->vm_flags & KVM_WRITE ? PROT_WRITE : 0) |
		  (r->vm_flags & KVM_EXEC ? PROT_EXEC : 0);
	v->map_flags = (r->vm_flags & KVM_MAYSHARE ? MAP_SHARED : MAP_PRIVATE) |
		       (r->vm_flags & KVM_GROWSDOWN ? MAP_GROWSDOWN : 0) |
		       (r->vm_flags & KVM_NORESERVE ? MAP_NORESERVE : 0);
	if (r->has_file) {
		v->pgoff = r->pgoff * (uint64_t)getpagesize();
		v->mode = r->mode;
		v->dev = r->dev;
		v->ino = r->ino;
		v->size = r->size;
	}
}

static int vma_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_vma *r = (const void *)h;
	struct snap_vma v = { 0 };
	char why[BCK_PATH_MAX + 128], path[BCK_PATH_MAX] = "";
	uint32_t kind;
	int ret;

	if (h->type != REC_VMA || size < sizeof(*r))
		return 0;
	/* threads share the mm: the iterator may show it more than once */
	if (sp->nr_vmas && r->start < sp->vmas[sp->nr_vmas - 1].v.end)
		return 0;
	if (r->has_file) {
		ret = mm_vma_path(sp->pid, r, path, sizeof(path));
		if (ret) {
			pr_err("pid %d: vma %llx-%llx: reading the backing file's path "
			       "(/proc/%d/map_files): %s", sp->pid, r->start, r->end,
			       sp->pid, ret == -ESTALE ? "it leads to another inode "
			       "than the VMA's" : errstr(ret));
			return -EIO;
		}
	}
	ret = mm_vma_kind(r, path, sp->threads[0].rec, &kind, why, sizeof(why));
	if (ret < 0)
		pr_err("pid %d: %s", sp->pid, why);
	if (ret == 1)
		pr_info("pid %d: skipping the [uprobes] area (the kernel "
			"recreates it)", sp->pid);
	if (ret)
		return ret < 0 ? ret : 0;
	mm_fill_vma(&v.v, r, kind);
	if ((kind == IMG_VMA_SHARED_GONE || kind == IMG_VMA_PRIVATE_GONE) &&
	    (ret = mm_gone_seals(sp->pid, &v.v))) {
		pr_err("pid %d: vma %llx-%llx: reading the seals of %s: %s", sp->pid,
		       r->start, r->end, path, errstr(ret));
		return ret;
	}
	if (r->has_file) {
		v.path = strdup(path);
		if (!v.path)
			return -ENOMEM;
	}
	ret = vec_push(sp->vmas, sp->nr_vmas, sp->cap_vmas, v);
	if (ret)
		free(v.path);
	return ret;
}

/*
 * The content of the file a private VMA maps, which nothing else holds
 * (a deleted file, a memfd), for the first such VMA of its inode: read
 * while the tree is frozen, through /proc/PID/map_files, which opens the
 * file and not the process's view of it.  Above snap --file-max, the
 * record says so and restore refuses.
 */
static int read_private_gone(struct snap_ctx *ctx, struct snap_proc *sp,
			     struct snap_vma *v)
{
	struct img_filedata *d = &v->fdata;
	char link[80];
	struct stat st;
	uint64_t got;
	int fd, ret = 0;

	if (snap_obj_seen(&ctx->privs, v->v.dev, v->v.ino, &ret) || ret)
		return ret;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", sp->pid,
		 (unsigned long long)v->v.start, (unsigned long long)v->v.end);
	fd = open_noatime(link);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (st.st_ino != v->v.ino || !kdev_is(v->v.dev, st.st_dev)) {
		ret = -ESTALE;
		goto out;
	}
	d->h.type = IMG_FILEDATA;
	d->ino = v->v.ino;
	/* the VMA's record says the size the restored file gets: this one */
	d->size = v->v.size = st.st_size;
	d->seals = v->v.seals;
	d->mode = st.st_mode & 07777;
	d->flags = IMG_FILEDATA_CONTENT;
	if (d->size > ctx->file_max) {
		d->flags |= IMG_FILEDATA_TOO_BIG;
		goto out;
	}
	ret = read_whole(fd, d->size, &v->data, &got);
out:
	if (ret)
		pr_err("pid %d: vma %llx-%llx: reading the content of %s: %s", sp->pid,
		       (unsigned long long)v->v.start, (unsigned long long)v->v.end,
		       v->path, ret == -ESTALE ? "it leads to another inode than the "
		       "VMA's" : ret == -EIO ? "short read" : errstr(ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

int mm_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret;

	if (sp->zombie)
		return 0;
	ret = collect_proc(&ctx->col, COLLECT_VMAS, sp->pid, vma_cb, sp);
	if (ret && ret != -ENOTSUP && ret != -EIO)
		pr_err("pid %d: collecting VMAs: %s", sp->pid, errstr(ret));
	for (i = 0; !ret && i < sp->nr_vmas; i++)
		if (sp->vmas[i].v.kind == IMG_VMA_PRIVATE_GONE)
			ret = read_private_gone(ctx, sp, &sp->vmas[i]);
	return ret;
}

int mm_add_range(struct range_list *l, uint64_t start, uint64_t end, bool force)
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

/* PAGE_IS_GUARD where PAGEMAP_SCAN knows it (6.14), else 0 */
static uint64_t guard_bit(void)
{
	return features_pagemap_guard() ? PAGE_IS_GUARD : 0;
}

/*
 * Asking for PAGE_IS_FILE costs a look at each present page's struct page
 * (vm_normal_page() and PageAnon() in pagemap_page_category(): a cache
 * miss a page, 13 ms a GiB here against 3 ms for the page table alone).
 * A VMA with no file (nor special ops) holds no page cache page: only its
 * anonymous pages and the zero page, so the question is left out there.
 */
static uint64_t file_bit(const struct snap_vma *v)
{
	uint32_t k = v->v.kind;

	return k == IMG_VMA_ANON || k == IMG_VMA_HEAP || k == IMG_VMA_STACK ? 0 : PAGE_IS_FILE;
}

/* present or swapped anonymous pages of [start, end) in a private VMA, zero page excluded */
int mm_scan_private(int pagemap, const struct snap_vma *v, uint64_t start, uint64_t end,
		    struct range_list *l)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)regs,
		.vec_len = SCAN_REGIONS,
		/* a guard marker is a non-present PTE that counts as swapped */
		.category_inverted = file_bit(v) | PAGE_IS_PFNZERO | guard_bit(),
		.category_mask = file_bit(v) | PAGE_IS_PFNZERO | guard_bit(),
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
			ret = mm_add_range(l, regs[i].start, regs[i].end, force);
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
		ret = mm_add_range(l, v->v.start + (data - base),
				v->v.start + (hole - base), !(v->v.prot & PROT_READ));
		if (ret)
			break;
		off = hole;
	}
	close(fd);
	return ret;
}

/* a SysV segment's content is stored once, with the segment (ipc.c) */
static bool has_content(uint32_t kind)
{
	return kind == IMG_VMA_ANON || kind == IMG_VMA_HEAP ||
	       kind == IMG_VMA_STACK || kind == IMG_VMA_FILE ||
	       kind == IMG_VMA_SHARED_ANON || kind == IMG_VMA_SHARED_GONE ||
	       kind == IMG_VMA_PRIVATE_GONE;
}

/*
 * Processes that share a memfd or deleted file map the same range of it
 * (a fork, or each its sem_open()): its pages are stored once, by the
 * first of them; restore fills the object from all (mm_gone.c)
 */
static int gone_stored(struct snap_ctx *ctx, const struct snap_vma *v, bool *seen)
{
	struct snap_span s = { v->v.dev, v->v.ino, v->v.pgoff,
			       v->v.pgoff + (v->v.end - v->v.start) };
	uint32_t i;

	for (i = 0; i < ctx->nr_spans; i++) {
		const struct snap_span *o = &ctx->spans[i];

		if (o->dev == s.dev && o->ino == s.ino && o->start <= s.start &&
		    o->end >= s.end) {
			*seen = true;
			return 0;
		}
	}
	*seen = false;
	return vec_push(ctx->spans, ctx->nr_spans, ctx->cap_spans, s);
}

static int find_pages(struct snap_ctx *ctx, struct snap_proc *sp, struct range_list *l)
{
	char path[64];
	uint32_t i;
	int pagemap, ret = 0;
	bool seen;

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
		if (v->v.kind == IMG_VMA_SHARED_GONE) {
			ret = gone_stored(ctx, v, &seen);
			if (!ret && !seen)
				ret = scan_shared(sp->pid, v, l);
		} else if (v->v.kind == IMG_VMA_SHARED_ANON)
			ret = scan_shared(sp->pid, v, l);
		else if (pre_knows_vma(ctx, sp, i))
			ret = pre_vma_pages(ctx, sp, i, pagemap, l);
		else
			ret = mm_scan_private(pagemap, v, v->v.start, v->v.end, l);
		if (ret)
			pr_err("pid %d: vma %llx-%llx: finding its pages: %s", sp->pid,
			       (unsigned long long)v->v.start,
			       (unsigned long long)v->v.end, errstr(ret));
	}
	close(pagemap);
	return ret;
}

int mm_count_pages(int pagemap, const struct img_vma *v, uint64_t *resident,
		   uint64_t *stored)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = v->start,
		.end = v->end,
		.vec = (uint64_t)(uintptr_t)regs,
		.vec_len = SCAN_REGIONS,
		.category_inverted = guard_bit(),
		.category_mask = guard_bit(),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE |
			       PAGE_IS_PFNZERO,
	};
	bool shared = v->kind == IMG_VMA_SHARED_ANON || v->kind == IMG_VMA_SYSV_SHM ||
		      v->kind == IMG_VMA_SHARED_GONE;
	uint64_t ps = getpagesize(), n, cat;
	long got, i;

	*resident = *stored = 0;
	while (arg.start < arg.end) {
		got = ioctl(pagemap, PAGEMAP_SCAN, &arg);
		if (got < 0)
			return -errno;
		for (i = 0; i < got; i++) {
			n = (regs[i].end - regs[i].start) / ps;
			cat = regs[i].categories;
			/* the zero page is not counted in Rss (smaps) */
			if (cat & PAGE_IS_PRESENT && !(cat & PAGE_IS_PFNZERO))
				*resident += n;
			/* what write_pages would store: see scan_private */
			if (has_content(v->kind) && !(cat & PAGE_IS_PFNZERO) &&
			    (shared || !(cat & PAGE_IS_FILE)))
				*stored += n;
		}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
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
	size_t room;
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
	ret = img_pages_begin(ctx->w, nr, vaddrs);
	if (ret)
		return ret;
	while (done < total) {
		data = img_pages_dst(ctx->w, &room);
		ret = copy_piece(c, data, MIN(COPY_BYTES, room));
		if (ret < 0) {
			pr_err("pid %d: reading memory at %llx: %s", c->pid,
			       (unsigned long long)c->addr, errstr(ret));
			ctx->reported = true;
			img_pages_end(ctx->w);
			return ret;
		}
		img_pages_filled(ctx->w, ret);
		done += ret;
		progress_update(&ctx->prog, ctx->prog.done + ret / ps);
	}
	return img_pages_end(ctx->w);
}

static int write_pages(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct range_list l = { 0 }, inh = { 0 };
	struct copier c = { .pid = sp->pid, .mem_fd = -1, .l = &l };
	uint64_t *vaddrs = NULL, left, t0;
	char path[64];
	int ret;

	t0 = now_ns();
	ret = find_pages(ctx, sp, &l);
	ctx->st.find_ns += now_ns() - t0;
	t0 = now_ns();
	/*
	 * snap --parent: what the tree did not write since is the parent's.
	 * Before the copy-on-write split, which reads the page map of every
	 * page it is given: the last round's freeze then reads only the
	 * written ones (an inherited page comes back unshared).
	 */
	if (!ret)
		ret = pre_filter(ctx, sp, &l, &inh);
	if (!ret)
		ret = pre_write_inherit(ctx, &inh);
	ctx->st.filter_ns += now_ns() - t0;
	t0 = now_ns();
	if (!ret)
		ret = mm_cow_write(ctx, sp, &l);
	ctx->st.cow_ns += now_ns() - t0;
	progress_total(&ctx->prog, l.pages);
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
	free(inh.r);
	return ret;
}

int mm_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	/* a zombie has no mm: nothing was collected, nothing to scan */
	if (sp->zombie)
		return 0;
	for (i = 0; i < sp->nr_vmas && !ret; i++) {
		struct snap_vma *v = &sp->vmas[i];
		struct img_part part = { v->path, v->path ? strlen(v->path) + 1 : 0 };

		v->v.path_len = part.len;
		ret = img_put(ctx->w, &v->v, sizeof(v->v), &part, part.len ? 1 : 0);
		if (!ret && v->fdata.h.type) {
			struct img_part data = { v->data, v->data ? v->fdata.size : 0 };

			ret = img_put(ctx->w, &v->fdata, sizeof(v->fdata), &data,
				      data.len ? 1 : 0);
		}
	}
	if (!ret)
		ret = mm_guard_write(ctx, sp);
	if (!ret)
		ret = vdso_write(ctx, sp);
	return ret ? ret : write_pages(ctx, sp);
}

void mm_free(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_vmas; i++) {
		free(sp->vmas[i].path);
		free(sp->vmas[i].data);
	}
	free(sp->vmas);
	free(sp->guards);
}

/* ---- restore ---- */

#define PAGES_IOV	1024	/* IOV_MAX */

/* how map_one() opens the file of a file mapping */
static int vma_open_flags(const struct img_vma *v)
{
	return (v->map_flags & MAP_SHARED) && (v->vm_flags & KVM_WRITE) ?
	       O_RDWR : O_RDONLY;
}

/*
 * Opened here as the target will open it: a file that is there but that
 * open() refuses (EROFS for a shared writable mapping, EACCES) stops the
 * restore before anything exists.  @v NULL: the executable.
 */
static int check_open(struct verdict *vd, const struct img_proc *p,
		      const char *path, int flags, const struct img_vma *v)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (v)
		return verdict_refuse(vd, -errno, p->pid[0], "vma",
				      "vma %llx-%llx: backing file %s: %s",
				      (unsigned long long)v->start,
				      (unsigned long long)v->end, path, strerror(errno));
	return verdict_refuse(vd, -errno, p->pid[0], "task", "executable %s: %s",
			      path, strerror(errno));
}

static int check_backing(struct verdict *vd, const struct img_proc *p,
			 const struct m_vma *mv, bool here)
{
	const struct img_vma *v = mv->v;
	unsigned long long start = v->start, end = v->end;
	struct stat st;
	int ret;

	if (strstr(mv->path, " (deleted)"))
		return verdict_refuse(vd, -ENOENT, p->pid[0], "vma",
				      "vma %llx-%llx: backing file %s is gone",
				      start, end, mv->path);
	if (stat(mv->path, &st))
		return verdict_refuse(vd, -errno, p->pid[0], "vma",
				      "vma %llx-%llx: backing file %s: %s", start,
				      end, mv->path, strerror(errno));
	ret = check_open(vd, p, mv->path, vma_open_flags(v), v);
	if (ret || vd->force || !S_ISREG(st.st_mode))
		return ret;
	if ((uint64_t)st.st_size != v->size)
		return verdict_refuse(vd, -ESTALE, p->pid[0], "vma",
				      "backing file %s is %lld bytes, the image "
				      "expects %llu (use --force to restore anyway)",
				      mv->path, (long long)st.st_size,
				      (unsigned long long)v->size);
	/* on the snapping host the same file must still be the same inode */
	if (here && (st.st_ino != v->ino || !kdev_is(v->dev, st.st_dev)))
		return verdict_refuse(vd, -ESTALE, p->pid[0], "vma",
				      "backing file %s was replaced since the snap "
				      "(use --force to restore anyway)", mv->path);
	return 0;
}

/*
 * A deleted executable (a binary replaced while it ran) that the process
 * still maps: the VMA whose object restore makes (mm_gone.c), which is
 * then its exe_file too.  NULL if the executable is not such a file.
 */
static const struct m_vma *gone_exe(const struct m_proc *mp)
{
	uint32_t i;

	if (!mp->exe)
		return NULL;
	for (i = 0; i < mp->nr_vmas; i++)
		if (mp->vmas[i].v->kind == IMG_VMA_PRIVATE_GONE &&
		    !strcmp(mp->vmas[i].path, mp->exe))
			return &mp->vmas[i];
	return NULL;
}

int mm_check_image(const struct ckpt_image *img, struct verdict *vd)
{
	bool here = vd->live || verdict_same_boot(img);
	char why[256];
	uint32_t i, j;
	int ret;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		if (mp->p->flags & IMG_PROC_ZOMBIE)
			continue;
		if (vdso_compare(mp, why, sizeof(why)) < 0 &&
		    (ret = verdict_refuse(vd, -ENOENT, mp->p->pid[0], "vma",
					  "this kernel's vdso differs from the "
					  "image's: %s", why)))
			return ret;
		if (!mp->exe) {
			ret = verdict_refuse(vd, -EINVAL, mp->p->pid[0], "task",
					     "no executable recorded");
			if (ret)
				return ret;
		} else if (!gone_exe(mp) &&
			   (ret = check_open(vd, mp->p, mp->exe, O_RDONLY, NULL))) {
			return ret;
		}
		for (j = 0; j < mp->nr_vmas; j++) {
			const struct m_vma *mv = &mp->vmas[j];

			/* SysV segments: ipc_check_image() */
			if (mv->v->kind == IMG_VMA_FILE ||
				 mv->v->kind == IMG_VMA_SHARED_FILE)
				ret = check_backing(vd, mp->p, mv, here);
			else if (mv->v->kind == IMG_VMA_SHARED_GONE ||
				 mv->v->kind == IMG_VMA_PRIVATE_GONE)
				ret = mm_gone_check(vd, img, mp->p, mv);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct cur_vma {
	uint64_t start, end;
	char name[24];
};

struct cur_maps {
	struct cur_vma *v;
	uint32_t n, cap;
};

static int read_maps(pid_t pid, struct cur_maps *m)
{
	char path[64], line[4096 + 128];
	struct cur_vma v;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char *name = strchr(line, '[');

		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		v.start = s;
		v.end = e;
		v.name[0] = 0;
		if (name)
			snprintf(v.name, sizeof(v.name), "%.*s",
				 (int)strcspn(name, "\n"), name);
		ret = vec_push(m->v, m->n, m->cap, v);
	}
	fclose(f);
	return ret;
}

static uint32_t special_of(const char *name)
{
	uint32_t kind = 0;

	return special_kind(name, &kind) ? kind : 0;
}

/* unmaps everything of ours but the stub and the vdso/vvar areas */
static int unmap_helper(struct restore_ctx *ctx, struct rst_proc *rp,
			struct cur_maps *m)
{
	uint64_t run_start = 0, run_end = 0;
	uint32_t i;
	long r;
	int ret;

	for (i = 0; i <= m->n; i++) {
		struct cur_vma *v = i < m->n ? &m->v[i] : NULL;
		bool keep = !v || v->start == ctx->stub || special_of(v->name) ||
			    mm_is_slot(rp, v->start) ||
			    v->start >= (1ULL << 47);	/* [vsyscall] */

		if (!keep) {
			/* one munmap for a run of VMAs and the holes between */
			if (run_start == run_end)
				run_start = v->start;
			run_end = v->end;
			continue;
		}
		if (run_start < run_end) {
			ret = rst_syscall(ctx, rp, 0, "munmap", SYS_munmap, run_start,
					  run_end - run_start, 0, 0, 0, 0, &r);
			if (ret)
				return ret;
		}
		run_start = run_end = 0;
	}
	return 0;
}

static const struct img_vma *target_special(const struct m_proc *mp, uint32_t kind)
{
	uint32_t i;

	for (i = 0; i < mp->nr_vmas; i++)
		if (mp->vmas[i].v->kind == kind)
			return mp->vmas[i].v;
	return NULL;
}

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* a free range of @len in the target's layout away from @s..@e and the stub */
static uint64_t temp_area(struct restore_ctx *ctx, const struct rst_proc *rp,
			  uint64_t len, uint64_t s, uint64_t e)
{
	const struct m_proc *mp = rp->mp;
	uint64_t a;
	uint32_t i;

	for (a = 0x100000000ULL; a < (1ULL << 46); a += 1ULL << 32) {
		bool ok = !overlaps(a, a + len, s, e) &&
			  !overlaps(a, a + len, ctx->stub, ctx->stub + INJ_STUB_SIZE) &&
			  !overlaps(a, a + len, rp->kept_start, rp->kept_end) &&
			  !overlaps(a, a + len, ctx->premap_base,
				    ctx->premap_base + ctx->premap_len);

		for (i = 0; ok && i < mp->nr_vmas; i++)
			ok = !overlaps(a, a + len, mp->vmas[i].v->start,
				       mp->vmas[i].v->end);
		if (ok)
			return a;
	}
	return 0;
}

/*
 * The vdso and vvar pages are the kernel's: move ours to where the
 * image had them (vdso_mremap keeps mm->context.vdso right), each on
 * its own, since a program may have moved one without the other; and
 * unmap what the program had unmapped.  Moves go through a temporary
 * place first, since the old and new positions may overlap.  A size
 * that differs is a real difference of the kernels: said, and refused.
 */
/*
 * This kernel's vdso has its functions elsewhere than the image's: ours
 * (with its vvar, at the same distance) goes to a place free in the
 * image's layout, and the image's vdso address gets trampolines to it.
 */
static int proxy_specials(struct restore_ctx *ctx, struct rst_proc *rp,
			  struct cur_maps *m, const char *what)
{
	const struct img_vma *old = target_special(rp->mp, IMG_VMA_VDSO);
	uint64_t lo = UINT64_MAX, hi = 0, tmp, base = 0, len;
	uint32_t i;
	long r;
	int ret;

	for (i = 0; i < m->n; i++) {
		if (!special_of(m->v[i].name))
			continue;
		lo = MIN(lo, m->v[i].start);
		hi = MAX(hi, m->v[i].end);
	}
	tmp = temp_area(ctx, rp, hi - lo, lo, hi);
	if (!tmp || !old)
		return -ENOMEM;
	/* here to stay: no later temporary mapping may go there */
	rp->kept_start = tmp;
	rp->kept_end = tmp + (hi - lo);
	for (i = 0; i < m->n; i++) {
		if (!special_of(m->v[i].name))
			continue;
		len = m->v[i].end - m->v[i].start;
		ret = rst_syscall(ctx, rp, 0, "mremap vdso/vvar", SYS_mremap,
				  m->v[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				  tmp + (m->v[i].start - lo), 0, &r);
		if (ret)
			return ret;
		if (special_of(m->v[i].name) == IMG_VMA_VDSO)
			base = tmp + (m->v[i].start - lo);
	}
	ret = vdso_proxy(ctx, rp, old->start, base);
	if (ret)
		pr_err("pid %d: making trampolines to this kernel's vdso: %s",
		       rp->pid, errstr(ret));
	else
		pr_warn("pid %d: this kernel's vdso differs from the image's (%s): "
			"its functions are reached through trampolines at %#llx, the "
			"vdso itself is at %#llx", rp->pid, what,
			(unsigned long long)old->start, (unsigned long long)base);
	return ret;
}

static int move_specials(struct restore_ctx *ctx, struct rst_proc *rp,
			 struct cur_maps *m)
{
	const struct m_proc *mp = rp->mp;
	uint64_t lo = UINT64_MAX, hi = 0, tmp = 0, from, to, len;
	char what[256];
	bool moves = false;
	uint32_t i, pass;
	long r;
	int ret;

	ret = vdso_compare(mp, what, sizeof(what));
	if (ret < 0) {
		pr_err("pid %d: this kernel's vdso differs from the image's: %s",
		       rp->pid, what);
		return ret;
	}
	if (ret)
		return proxy_specials(ctx, rp, m, what);

	for (i = 0; i < m->n; i++) {
		const struct img_vma *t;
		uint32_t kind = special_of(m->v[i].name);

		if (!kind)
			continue;
		t = target_special(mp, kind);
		len = m->v[i].end - m->v[i].start;
		if (!t) {
			ret = rst_syscall(ctx, rp, 0, "munmap of an unmapped special",
					  SYS_munmap, m->v[i].start, len, 0, 0, 0, 0, &r);
			if (ret)
				return ret;
			m->v[i].name[0] = 0;	/* gone */
			continue;
		}
		if (t->end - t->start != len) {
			pr_err("pid %d: its %s has %llu pages, this kernel's %llu: the "
			       "kernels differ", rp->pid, m->v[i].name,
			       (unsigned long long)(t->end - t->start) / getpagesize(),
			       (unsigned long long)len / getpagesize());
			return -EINVAL;
		}
		moves |= t->start != m->v[i].start;
		lo = MIN(lo, MIN(m->v[i].start, t->start));
		hi = MAX(hi, MAX(m->v[i].end, t->end));
	}
	if (!moves)
		return 0;
	tmp = temp_area(ctx, rp, hi - lo, lo, hi);
	if (!tmp)
		return -ENOMEM;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->n; i++) {
			const struct img_vma *t;
			uint32_t kind = special_of(m->v[i].name);

			if (!kind || !(t = target_special(mp, kind)) ||
			    t->start == m->v[i].start)
				continue;
			len = m->v[i].end - m->v[i].start;
			from = pass ? tmp + (m->v[i].start - lo) : m->v[i].start;
			to = pass ? t->start : tmp + (m->v[i].start - lo);
			ret = rst_syscall(ctx, rp, 0, "mremap vdso/vvar", SYS_mremap,
					  from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					  to, 0, &r);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static struct shm_owner *find_owner(struct restore_ctx *ctx, const struct img_vma *v)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_shm; i++)
		if (ctx->shm[i].dev == v->dev && ctx->shm[i].ino == v->ino)
			return &ctx->shm[i];
	return NULL;
}

struct map_state {
	bool *has_pages;	/* per VMA */
	bool *skip_pages;	/* per VMA: shared memory someone else filled */
	int fd;			/* in the target, for path */
	const char *path;
	int flags;
};

static int map_file(struct restore_ctx *ctx, struct rst_proc *rp,
		    struct map_state *ms, const char *path, int flags, int *fd)
{
	int ret;

	if (ms->fd >= 0 && ms->flags == flags && !strcmp(ms->path, path)) {
		*fd = ms->fd;
		return 0;
	}
	if (ms->fd >= 0)
		rst_close(ctx, rp, ms->fd);
	ms->fd = -1;
	ret = rst_open(ctx, rp, path, flags, &ms->fd);
	if (ret)
		return ret;
	ms->path = path;
	ms->flags = flags;
	*fd = ms->fd;
	return 0;
}

static int map_shared_anon(struct restore_ctx *ctx, struct rst_proc *rp,
			   struct map_state *ms, uint32_t vi, int *fd, int *flags)
{
	const struct img_vma *v = rp->mp->vmas[vi].v;
	struct shm_owner o = { v->dev, v->ino, rp->pid, v->start, v->end, v->pgoff };
	struct shm_owner *own = find_owner(ctx, v);
	char path[96];

	if (!own) {
		/* the first mapping of it creates the shmem object */
		if (v->pgoff) {
			pr_err("pid %d: vma %llx-%llx: shared anonymous memory at "
			       "offset %llu: not supported", rp->pid,
			       (unsigned long long)v->start, (unsigned long long)v->end,
			       (unsigned long long)v->pgoff);
			return -ENOTSUP;
		}
		*flags |= MAP_ANONYMOUS;
		*fd = -1;
		return vec_push(ctx->shm, ctx->nr_shm, ctx->cap_shm, o);
	}
	/* the others map the same object, found through the first one */
	ms->skip_pages[vi] = true;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", own->pid,
		 (unsigned long long)own->start, (unsigned long long)own->end);
	return map_file(ctx, rp, ms, path, O_RDWR, fd);
}

/*
 * The object is the restorer's (mm_gone_make()), its pages in already.
 * Opened for writing only if the VMA may write (VM_MAYWRITE): a VMA
 * without it (an O_RDONLY fd, or a memfd sealed F_SEAL_WRITE) cannot
 * get PROT_WRITE later, so neither can this one.  But a VMA that was
 * VM_SHARED without VM_MAYWRITE was mapped from a writable file of a
 * write-sealed memfd: so is this one, once the seal is on (mm_gone.c),
 * and the kernel drops VM_MAYWRITE itself (memfd_check_seals_mmap());
 * from an O_RDONLY file it would not be VM_SHARED (do_mmap()).
 */
static int map_gone(struct restore_ctx *ctx, struct rst_proc *rp,
		    struct map_state *ms, const struct img_vma *v, int *fd)
{
	const struct gone_obj *o = mm_gone_find(ctx, v->dev, v->ino);
	int seals, flags = O_RDONLY;

	if (!o) {
		pr_err("pid %d: vma %llx-%llx: its file was not made", rp->pid,
		       (unsigned long long)v->start, (unsigned long long)v->end);
		return -ENOENT;
	}
	seals = fcntl(o->fd, F_GET_SEALS);
	/* a private mapping is VM_MAYWRITE from an O_RDONLY file too */
	if (v->kind == IMG_VMA_SHARED_GONE &&
	    (v->vm_flags & KVM_MAYWRITE ||
	     (v->vm_flags & KVM_SHARED && seals > 0 &&
	      seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))))
		flags = O_RDWR;
	return map_file(ctx, rp, ms, o->link, flags, fd);
}

/*
 * A SysV segment is attached again with shmat(): the segment exists by
 * now with its id (ipc.c), which is the inode number the VMA recorded
 * (newseg(), ipc/shm.c).  The VMA covers the whole segment
 * (ipc_check_image()).  shmat decides VM_MAYWRITE/VM_MAYEXEC from its
 * flags; mprotect then gives the snapped protections.
 */
static int map_sysv(struct restore_ctx *ctx, struct rst_proc *rp,
		    const struct img_vma *v)
{
	int flags = 0, prot = PROT_READ;
	long r;
	int ret;

	if (v->vm_flags & KVM_MAYWRITE)
		prot |= PROT_WRITE;
	else
		flags |= SHM_RDONLY;
	if (v->vm_flags & KVM_MAYEXEC) {
		flags |= SHM_EXEC;
		prot |= PROT_EXEC;
	}
	ret = rst_syscall(ctx, rp, 0, "shmat", SYS_shmat, v->ino, v->start, flags,
			  0, 0, 0, &r);
	if (!ret && (uint64_t)r != v->start) {
		pr_err("pid %d: shmat of segment %llu at %llx landed at %lx", rp->pid,
		       (unsigned long long)v->ino, (unsigned long long)v->start, r);
		ret = -EFAULT;
	}
	if (!ret && prot != (int)v->prot)
		ret = rst_syscall(ctx, rp, 0, "mprotect", SYS_mprotect, v->start,
				  v->end - v->start, v->prot, 0, 0, 0, &r);
	return ret;
}

/*
 * Two adjacent anonymous VMAs were apart at snap time (the kernel would
 * have merged them otherwise), but fresh mmaps get contiguous page
 * offsets (address >> PAGE_SHIFT) and merge.  Made elsewhere and moved
 * in, a VMA keeps its own offset -- provided it has an anon_vma, that
 * is a page was touched: copy_vma() gives an untouched one the offset
 * of its new address again.  The touched page is dropped after the move.
 */
/*
 * VM_ACCOUNT is given at mmap (or mprotect) time to a private mapping
 * that is writable, and stays once given: a VMA that never was writable
 * (a thread stack's guard page) must not be mapped writable here, or
 * smaps shows "ac" that it did not have.  Its one touched page is then
 * written through /proc/PID/mem, whose FOLL_FORCE writes to a private
 * mapping without PROT_WRITE (check_vma_flags(), mm/gup.c).
 */
static int touch_page(pid_t pid, uint64_t addr, bool writable)
{
	struct iovec local = { &(uint64_t){ 0 }, sizeof(uint64_t) };
	struct iovec remote = { (void *)(uintptr_t)addr, sizeof(uint64_t) };
	char path[64];
	int fd, ret = 0;

	if (writable)
		return process_vm_writev(pid, &local, 1, &remote, 1, 0) < 0 ? -errno : 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pwrite(fd, local.iov_base, local.iov_len, addr) != (ssize_t)local.iov_len)
		ret = -errno;
	close(fd);
	return ret;
}

static int map_apart(struct restore_ctx *ctx, struct rst_proc *rp,
		     const struct img_vma *v, int prot, int flags)
{
	uint64_t len = v->end - v->start;
	uint64_t tmp = temp_area(ctx, rp, len, 0, 0);
	bool account = (v->vm_flags & KVM_ACCOUNT) || (prot & PROT_WRITE);
	int rw = account ? prot | PROT_READ | PROT_WRITE : prot;
	long r;
	int ret;

	if (!tmp)
		return -ENOMEM;
	ret = rst_syscall(ctx, rp, 0, "mmap", SYS_mmap, tmp, len, rw, flags, -1,
			  0, &r);
	if (!ret)
		ret = touch_page(rp->pid, tmp, rw & PROT_WRITE);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "mremap", SYS_mremap, tmp, len, len,
				  MREMAP_MAYMOVE | MREMAP_FIXED, v->start, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "madvise", SYS_madvise, v->start,
				  getpagesize(), MADV_DONTNEED, 0, 0, 0, &r);
	if (!ret && rw != prot)
		ret = rst_syscall(ctx, rp, 0, "mprotect", SYS_mprotect, v->start,
				  len, prot, 0, 0, 0, &r);
	return ret;
}

static int map_one(struct restore_ctx *ctx, struct rst_proc *rp,
		   struct map_state *ms, uint32_t vi)
{
	const struct img_vma *v = rp->mp->vmas[vi].v;
	int prot = v->prot, flags = v->map_flags | MAP_FIXED, fd = -1, oflags;
	long r;
	int ret;

	/* in place already, with its pages (mm_premap_move) */
	if (mm_premapped(rp, vi))
		return 0;
	if (ms->has_pages[vi])
		prot |= PROT_READ | PROT_WRITE;
	switch (v->kind) {
	case IMG_VMA_ANON:
	case IMG_VMA_HEAP:
	case IMG_VMA_STACK:
		flags |= MAP_ANONYMOUS;
		break;
	case IMG_VMA_FILE:
	case IMG_VMA_SHARED_FILE:
		oflags = vma_open_flags(v);
		ret = map_file(ctx, rp, ms, rp->mp->vmas[vi].path, oflags, &fd);
		if (ret)
			return ret;
		break;
	case IMG_VMA_SHARED_ANON:
		ret = map_shared_anon(ctx, rp, ms, vi, &fd, &flags);
		if (ret)
			return ret;
		break;
	case IMG_VMA_SHARED_GONE:
	case IMG_VMA_PRIVATE_GONE:
		ret = map_gone(ctx, rp, ms, v, &fd);
		if (ret)
			return ret;
		break;
	case IMG_VMA_SYSV_SHM:
		return map_sysv(ctx, rp, v);
	default:
		return 0;
	}
	if (v->kind == IMG_VMA_ANON && vi && rp->mp->vmas[vi - 1].v->end == v->start)
		return map_apart(ctx, rp, v, prot, flags);
	ret = rst_syscall(ctx, rp, 0, "mmap", SYS_mmap, v->start, v->end - v->start,
			  prot, flags, (uint64_t)(int64_t)fd,
			  flags & MAP_ANONYMOUS ? 0 : v->pgoff, &r);
	if (!ret && (uint64_t)r != v->start) {
		pr_err("pid %d: mmap %llx-%llx landed at %lx", rp->pid,
		       (unsigned long long)v->start, (unsigned long long)v->end, r);
		ret = -EFAULT;
	}
	return ret;
}

/*
 * which VMAs receive page contents (they are mapped writable first); a
 * lazy restore leaves the pages of lazy VMAs to the pager (lazy.c)
 */
static int mark_pages(struct restore_ctx *ctx, struct rst_proc *rp,
		      struct map_state *ms)
{
	const struct m_proc *mp = rp->mp;
	uint32_t c, i, vi;

	ms->has_pages = calloc(mp->nr_vmas + 1, sizeof(bool));
	ms->skip_pages = calloc(mp->nr_vmas + 1, sizeof(bool));
	if (!ms->has_pages || !ms->skip_pages)
		return -ENOMEM;
	/* by VMA, not by page: a lazy restore's resume waits for this */
	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *pg = &mp->pages[c];

		for (i = 0, vi = 0; i < pg->nr; vi++) {
			while (mp->vmas[vi].v->end <= pg->vaddrs[i])
				vi++;
			ms->has_pages[vi] = true;
			i = m_pages_lower(pg->vaddrs, pg->nr, i, mp->vmas[vi].v->end);
		}
	}
	for (vi = 0; ctx->lazy && vi < mp->nr_vmas; vi++)
		if (lazy_vma(mp->vmas[vi].v))
			ms->skip_pages[vi] = true;
	/* the object has its pages (mm_gone.c): mapped as it was, no write */
	for (vi = 0; vi < mp->nr_vmas; vi++)
		if (mp->vmas[vi].v->kind == IMG_VMA_SHARED_GONE) {
			ms->has_pages[vi] = false;
			ms->skip_pages[vi] = true;
		}
	/* mapped read-write with its pages in: only the protections to set */
	for (vi = 0; vi < mp->nr_vmas; vi++)
		if (mm_premapped(rp, vi))
			ms->has_pages[vi] = ms->skip_pages[vi] = true;
	return 0;
}

static int write_batch(struct rst_proc *rp, struct iovec *local,
		       struct iovec *remote, int n, size_t bytes)
{
	ssize_t done = process_vm_writev(rp->pid, local, n, remote, n, 0);

	if (done == (ssize_t)bytes)
		return 0;
	pr_err("pid %d: writing memory at %p: %s", rp->pid, remote[0].iov_base,
	       done < 0 ? strerror(errno) : "short write");
	return done < 0 ? -errno : -EFAULT;
}

/* the restorer's share of the progress line's pages */
static void count_pages(struct restore_ctx *ctx, size_t bytes)
{
	uint64_t n = bytes / ctx->img.hdr->page_size;

	n += atomic_fetch_add_explicit(&ctx->sh->pages_done, n, memory_order_relaxed);
	progress_update(&ctx->prog, n);
}

/* page contents from the mapped image, in runs of contiguous pages */
static int write_pages_to(struct restore_ctx *ctx, struct rst_proc *rp,
			  struct map_state *ms)
{
	struct iovec local[PAGES_IOV], remote[PAGES_IOV];	/* 32 KiB of stack */
	const struct m_proc *mp = rp->mp;
	uint64_t ps = ctx->img.hdr->page_size;
	uint32_t c, i, vi;
	size_t bytes = 0;
	int n = 0, ret;

	for (c = 0; c < mp->nr_chunks; c++) {
		const struct m_pages *pg = &mp->pages[c];

		for (i = 0, vi = 0; i < pg->nr; i++) {
			uint64_t va = pg->vaddrs[i];

			while (mp->vmas[vi].v->end <= va)
				vi++;
			/* past the VMA's pages at once (lazy: most of them) */
			if (ms->skip_pages[vi]) {
				i = m_pages_lower(pg->vaddrs, pg->nr, i, mp->vmas[vi].v->end) - 1;
				continue;
			}
			if (n && (uint64_t)(uintptr_t)remote[n - 1].iov_base +
				 remote[n - 1].iov_len == va &&
			    (uint8_t *)local[n - 1].iov_base + local[n - 1].iov_len ==
			    pg->data + i * ps) {
				remote[n - 1].iov_len += ps;
				local[n - 1].iov_len += ps;
				bytes += ps;
				continue;
			}
			if (n == PAGES_IOV) {
				ret = write_batch(rp, local, remote, n, bytes);
				if (ret)
					return ret;
				count_pages(ctx, bytes);
				n = 0;
				bytes = 0;
			}
			local[n] = (struct iovec){ (void *)(pg->data + i * ps), ps };
			remote[n] = (struct iovec){ (void *)(uintptr_t)va, ps };
			n++;
			bytes += ps;
		}
	}
	ret = n ? write_batch(rp, local, remote, n, bytes) : 0;
	if (!ret)
		count_pages(ctx, bytes);
	return ret;
}

static const struct { uint64_t vm; int advice; } advices[] = {
	{ KVM_DONTCOPY, MADV_DONTFORK },
	{ KVM_DONTDUMP, MADV_DONTDUMP },
	{ KVM_WIPEONFORK, MADV_WIPEONFORK },
	{ KVM_HUGEPAGE, MADV_HUGEPAGE },
	{ KVM_NOHUGEPAGE, MADV_NOHUGEPAGE },
	{ KVM_MERGEABLE, MADV_MERGEABLE },
	{ KVM_SEQ_READ, MADV_SEQUENTIAL },
	{ KVM_RAND_READ, MADV_RANDOM },
};

/* final protections, advice and locks */
static int finish_vma(struct restore_ctx *ctx, struct rst_proc *rp,
		      struct map_state *ms, uint32_t vi)
{
	const struct img_vma *v = rp->mp->vmas[vi].v;
	uint64_t len = v->end - v->start;
	size_t i;
	long r;
	int ret = 0;

	/* the kernel's own: their flags are its, and a vdso proxy has no vvar */
	if (v->kind == IMG_VMA_VDSO || v->kind == IMG_VMA_VVAR ||
	    v->kind == IMG_VMA_VVAR_VCLOCK)
		return 0;
	if (ms->has_pages[vi] && v->prot != (PROT_READ | PROT_WRITE | (v->prot & PROT_EXEC)))
		ret = rst_syscall(ctx, rp, 0, "mprotect", SYS_mprotect, v->start,
				  len, v->prot, 0, 0, 0, &r);
	for (i = 0; !ret && i < ARRAY_SIZE(advices); i++)
		if (v->vm_flags & advices[i].vm)
			ret = rst_syscall(ctx, rp, 0, "madvise", SYS_madvise,
					  v->start, len, advices[i].advice, 0, 0, 0, &r);
	if (!ret && v->vm_flags & KVM_LOCKED)
		ret = rst_syscall(ctx, rp, 0, "mlock2", SYS_mlock2, v->start, len,
				  v->vm_flags & KVM_LOCKONFAULT ? MLOCK_ONFAULT : 0,
				  0, 0, 0, &r);
	return ret;
}

static int set_mm_map(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct img_proc *p = rp->mp->p;
	struct prctl_mm_map map = {
		.start_code = p->start_code, .end_code = p->end_code,
		.start_data = p->start_data, .end_data = p->end_data,
		.start_brk = p->start_brk, .brk = p->brk,
		.start_stack = p->start_stack,
		.arg_start = p->arg_start, .arg_end = p->arg_end,
		.env_start = p->env_start, .env_end = p->env_end,
		.auxv_size = p->auxv_words * sizeof(uint64_t),
	};
	const struct m_vma *gone = gone_exe(rp->mp);
	const struct gone_obj *o = gone ? mm_gone_find(ctx, gone->v->dev, gone->v->ino) : NULL;
	uint64_t auxv_addr, map_addr;
	int exe_fd, ret;
	long r;

	/*
	 * A deleted executable is the object its VMAs map: prctl_set_mm_exe_file()
	 * (kernel/sys.c) wants a regular file it may execute, which the object
	 * is, with the executable's mode (mm_gone.c)
	 */
	ret = rst_open(ctx, rp, o ? o->link : rp->mp->exe, O_RDONLY, &exe_fd);
	if (ret)
		return ret;
	map.exe_fd = exe_fd;
	ret = rst_put(ctx, rp, 512, p->auxv, map.auxv_size, &auxv_addr);
	if (!ret) {
		map.auxv = (__u64 *)(uintptr_t)auxv_addr;
		ret = rst_put(ctx, rp, 0, &map, sizeof(map), &map_addr);
	}
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "prctl(PR_SET_MM_MAP)", SYS_prctl,
				  PR_SET_MM, PR_SET_MM_MAP, map_addr, sizeof(map),
				  0, 0, &r);
	rst_close(ctx, rp, exe_fd);
	return ret;
}

/*
 * mlockall(MCL_FUTURE) lives in mm->def_flags: every later mapping is
 * locked.  Set last, so that no mapping of ours is locked by it; without
 * MCL_CURRENT apply_mlockall_flags() (mm/mlock.c) touches no VMA, so the
 * locks of the image's VMAs stay as finish_vma() set them.
 */
static int set_def_flags(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t flags = rp->mp->p->flags;
	long r;

	if (!(flags & IMG_PROC_MLOCK_FUTURE))
		return 0;
	return rst_syscall(ctx, rp, 0, "mlockall", SYS_mlockall,
			   MCL_FUTURE | (flags & IMG_PROC_MLOCK_ONFAULT ? MCL_ONFAULT : 0),
			   0, 0, 0, 0, 0, &r);
}

/* the helper's glibc registered rseq on memory that is about to go */
static int drop_helper_rseq(struct restore_ctx *ctx, struct rst_proc *rp)
{
	struct ptrace_rseq_configuration conf;
	long r;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, rp->pid, sizeof(conf), &conf) !=
	    sizeof(conf) || !conf.rseq_abi_pointer)
		return 0;
	return rst_syscall(ctx, rp, 0, "rseq unregister", SYS_rseq,
			   conf.rseq_abi_pointer, conf.rseq_abi_size,
			   RSEQ_FLAG_UNREGISTER, conf.signature, 0, 0, &r);
}

int mm_restore(struct restore_ctx *ctx, struct rst_proc *rp)
{
	struct map_state ms = { .fd = -1 };
	struct cur_maps m = { 0 };
	uint32_t i;
	int ret;

	ret = drop_helper_rseq(ctx, rp);
	if (!ret)
		ret = read_maps(rp->pid, &m);
	if (!ret)
		ret = unmap_helper(ctx, rp, &m);
	if (!ret)
		ret = move_specials(ctx, rp, &m);
	if (!ret)
		ret = mark_pages(ctx, rp, &ms);
	if (!ret)
		ret = mm_premap_move(ctx, rp);
	for (i = 0; !ret && i < rp->mp->nr_vmas; i++)
		ret = map_one(ctx, rp, &ms, i);
	if (ms.fd >= 0)
		rst_close(ctx, rp, ms.fd);
	if (!ret)
		ret = write_pages_to(ctx, rp, &ms);
	for (i = 0; !ret && i < rp->mp->nr_vmas; i++)
		ret = finish_vma(ctx, rp, &ms, i);
	if (!ret)
		ret = mm_guard_restore(ctx, rp);
	if (!ret)
		ret = set_mm_map(ctx, rp);
	if (!ret)
		ret = set_def_flags(ctx, rp);
	free(ms.has_pages);
	free(ms.skip_pages);
	free(m.v);
	return ret;
}

struct span {
	uint64_t start, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int mm_find_gap(struct restore_ctx *ctx, uint64_t len, uint64_t *found)
{
	const uint64_t margin = 4ULL << 20, low = 1ULL << 32, top = 1ULL << 46;
	struct cur_maps self = { 0 };
	struct span *s = NULL, sp;
	uint32_t n = 0, cap = 0, i, j;
	uint64_t at = low;
	int ret;

	*found = 0;
	ret = read_maps(getpid(), &self);
	if (!ret && ctx->stub) {
		sp = (struct span){ ctx->stub, ctx->stub + INJ_STUB_SIZE };
		ret = vec_push(s, n, cap, sp);
	}
	for (i = 0; !ret && i < self.n; i++) {
		sp = (struct span){ self.v[i].start, self.v[i].end };
		ret = vec_push(s, n, cap, sp);
	}
	for (i = 0; !ret && i < ctx->nr_procs; i++) {
		const struct m_proc *mp = ctx->procs[i].mp;

		for (j = 0; !ret && j < mp->nr_vmas; j++) {
			sp = (struct span){ mp->vmas[j].v->start, mp->vmas[j].v->end };
			ret = vec_push(s, n, cap, sp);
		}
	}
	if (ret)
		goto out;
	qsort(s, n, sizeof(*s), cmp_span);
	/* the first gap with room to spare around the page */
	for (i = 0; i <= n; i++) {
		uint64_t next = i < n ? s[i].start : top;

		if (next >= at + 2 * margin + len) {
			*found = at + margin;
			break;
		}
		if (i < n)
			at = MAX(at, s[i].end);
	}
	ret = *found ? 0 : -ENOMEM;
out:
	free(s);
	free(self.v);
	return ret;
}

int mm_pick_stub(struct restore_ctx *ctx)
{
	return mm_find_gap(ctx, INJ_STUB_SIZE, &ctx->stub);
}
