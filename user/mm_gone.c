// SPDX-License-Identifier: GPL-2.0
/*
 * Shared mappings (MAP_SHARED) of memfds and of files deleted while
 * mapped: python's multiprocessing semaphores (sem_open() files in
 * /dev/shm, unlinked at once), its shared heaps, a memfd handed to a
 * child.  Nothing but the mappings (and maybe an fd) holds the content,
 * so the pages are stored like shared anonymous memory (SEEK_DATA on
 * map_files, once per range of the file: see mm.c), and at restore this
 * process makes the object again before the tree exists -- a memfd by
 * memfd_create(), a deleted file under its old name, unlinked at once --
 * writes into it every page any process stored of it (and the content an
 * fd of it saved), and keeps it open.  Each VMA then maps, and each fd
 * on it (fd/memfd.c) opens, /proc/RESTORER/fd/N: one object for every
 * process that shared it, at the same addresses.
 *
 * A private mapping (MAP_PRIVATE) of such a file -- a program whose
 * binary or library was replaced while it ran, code loaded from a
 * memfd -- is the same object under the process's own pages: its file
 * pages are the file's, which its VMA's pages are not (they are the
 * copies it wrote, as for any private file mapping).  So the file's
 * content is stored once per inode, in an IMG_FILEDATA after its first
 * such VMA (up to snap --file-max, like an fd's), the object is made
 * from it, and each such VMA maps it MAP_PRIVATE before its own pages go
 * in.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bpfckpt/compat.h"
#include "bpfckpt/files.h"
#include "bpfckpt/mm.h"
#include "img.h"
#include "log.h"
#include "restore.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

#define MEMFD_PREFIX	"/memfd:"
/* a file larger than this is no file a program mapped: a damaged image */
#define GONE_SIZE_MAX	(1ULL << 46)

static bool is_memfd(const char *path)
{
	return !strncmp(path, MEMFD_PREFIX, strlen(MEMFD_PREFIX));
}

static bool is_gone(const struct img_vma *v)
{
	return v->kind == IMG_VMA_SHARED_GONE || v->kind == IMG_VMA_PRIVATE_GONE;
}

/* the content record of a private mapping of @dev/@ino, if any */
static const struct m_vma *private_content(const struct ckpt_image *img, uint64_t dev,
					   uint64_t ino)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_vmas; j++) {
			const struct m_vma *o = &img->procs[i].vmas[j];

			if (o->fdata && o->v->dev == dev && o->v->ino == ino)
				return o;
		}
	return NULL;
}

/* the first VMA of the image on @dev/@ino (it names the object) */
static bool first_of(const struct ckpt_image *img, const struct m_vma *mv)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_vmas; j++) {
			const struct m_vma *o = &img->procs[i].vmas[j];

			if (is_gone(o->v) && o->v->dev == mv->v->dev &&
			    o->v->ino == mv->v->ino)
				return o == mv;
		}
	return false;
}

int mm_gone_seals(pid_t pid, struct img_vma *v)
{
	char link[64];
	struct stat st;
	int fd, seals, ret = 0;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)v->start, (unsigned long long)v->end);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		ret = -errno;
	else if (st.st_ino != v->ino || !kdev_is(v->dev, st.st_dev))
		ret = -ESTALE;
	/* EINVAL: a file no seals are kept for (not shmem or hugetlbfs) */
	else if ((seals = fcntl(fd, F_GET_SEALS)) >= 0)
		v->seals = seals & IMG_VMA_SEALS;
	else if (errno != EINVAL)
		ret = -errno;
	close(fd);
	return ret;
}

int mm_gone_check(struct verdict *vd, const struct ckpt_image *img,
		  const struct img_proc *p, const struct m_vma *mv)
{
	unsigned long long start = mv->v->start, end = mv->v->end;
	char name[BCK_PATH_MAX], dir[BCK_PATH_MAX];
	struct stat st;

	if (mv->v->size > GONE_SIZE_MAX || mv->v->pgoff > GONE_SIZE_MAX)
		return verdict_refuse(vd, -EINVAL, p->pid[0], "vma", "vma %llx-%llx: "
				      "%s: size %llu or offset %llu out of range",
				      start, end, mv->path,
				      (unsigned long long)mv->v->size,
				      (unsigned long long)mv->v->pgoff);
	if (deleted_base_name(mv->path, name, sizeof(name)))
		return verdict_refuse(vd, -ENAMETOOLONG, p->pid[0], "vma",
				      "vma %llx-%llx: %s: name too long", start, end,
				      mv->path);
	/*
	 * F_SEAL_WRITE is EBUSY while any shared VMA of the file may write
	 * (memfd_add_seals(): mapping_deny_writable(), mm/memfd.c), and a
	 * write-sealed file maps shared without VM_MAYWRITE: no kernel made
	 * this image
	 */
	if (mv->v->kind == IMG_VMA_SHARED_GONE && mv->v->seals & F_SEAL_WRITE &&
	    mv->v->vm_flags & KVM_MAYWRITE)
		return verdict_refuse(vd, -EINVAL, p->pid[0], "vma", "vma %llx-%llx: "
				      "%s: sealed F_SEAL_WRITE but mapped shared "
				      "with VM_MAYWRITE, which the kernel forbids",
				      start, end, mv->path);
	if (mv->v->kind == IMG_VMA_PRIVATE_GONE &&
	    !mm_gone_covers(img, mv->v->dev, mv->v->ino, mv->v->size)) {
		const struct m_vma *c = private_content(img, mv->v->dev, mv->v->ino);

		/* inspect's model has no content, only the size */
		if (c || !vd->live || mv->v->size > IMG_FILEDATA_MAX)
			return verdict_refuse(vd, c ? -EFBIG : -EINVAL, p->pid[0], "vma",
					      "vma %llx-%llx: private mapping of %s: %s%llu "
					      "bytes %s (snap --file-max BYTES saves up to %u)",
					      start, end, mv->path, c ? "its " : "",
					      (unsigned long long)mv->v->size,
					      c ? "were not saved" : "of content not recorded",
					      IMG_FILEDATA_MAX);
	}
	/* the same tests as fd/memfd.c's for an fd on a deleted file */
	if (is_memfd(mv->path) || !first_of(img, mv))
		return 0;
	if (!lstat(name, &st))
		return verdict_refuse(vd, -EEXIST, p->pid[0], "vma", "vma %llx-%llx: "
				      "deleted file %s: a file has its name again, so "
				      "it cannot be made there", start, end, mv->path);
	snprintf(dir, sizeof(dir), "%s", name);
	if (stat(dirname(dir), &st) || !S_ISDIR(st.st_mode))
		return verdict_refuse(vd, -ENOENT, p->pid[0], "vma", "vma %llx-%llx: "
				      "deleted file %s: its directory is gone", start,
				      end, mv->path);
	return 0;
}

bool mm_gone_covers(const struct ckpt_image *img, uint64_t dev, uint64_t ino,
		    uint64_t size)
{
	const struct m_vma *c = private_content(img, dev, ino);
	uint64_t at = 0;
	bool moved = true;
	uint32_t i, j;

	/* a private mapping's record holds it whole */
	if (c && !(c->fdata->flags & IMG_FILEDATA_TOO_BIG) && c->fdata->size >= size)
		return true;
	/* grow [0, at) by any VMA that starts inside it, until none does */
	while (at < size && moved) {
		moved = false;
		for (i = 0; i < img->nr_procs; i++)
			for (j = 0; j < img->procs[i].nr_vmas; j++) {
				const struct img_vma *v = img->procs[i].vmas[j].v;
				uint64_t end = v->pgoff + (v->end - v->start);

				if (v->kind == IMG_VMA_SHARED_GONE && v->dev == dev &&
				    v->ino == ino && v->pgoff <= at && end > at) {
					at = end;
					moved = true;
				}
			}
	}
	return at >= size;
}

const struct gone_obj *mm_gone_find(const struct restore_ctx *ctx, uint64_t dev,
				    uint64_t ino)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_gone; i++)
		if (ctx->gone[i].dev == dev && ctx->gone[i].ino == ino)
			return &ctx->gone[i];
	return NULL;
}

/* flags an open file is opened with again; creation and truncation never */
#define OFD_FLAGS	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | \
			 O_LARGEFILE | O_NOATIME | O_NOFOLLOW)

/* @fd above the carriers and the --inherit-fd fds (files.c), or -errno */
static int move_up(const struct restore_ctx *ctx, int fd)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, ctx->fd_top + (int)ctx->nr_inh);

	close(fd);
	return moved < 0 ? -errno : moved;
}

/* every open file of the image on @o's inode, opened by @name */
static int open_ofds(const struct restore_ctx *ctx, struct gone_obj *o, const char *name)
{
	struct gone_ofd g;
	uint32_t i, j, k;
	int ret;

	for (i = 0; i < ctx->img.nr_procs; i++)
		for (j = 0; j < ctx->img.procs[i].nr_fds; j++) {
			const struct img_fd *f = ctx->img.procs[i].fds[j].f;

			if (f->kind != IMG_FD_GONE || f->ino != o->ino || f->dev != o->dev)
				continue;
			for (k = 0; k < o->nr_ofds && o->ofds[k].file_id != f->file_id; k++)
				;
			if (k < o->nr_ofds)
				continue;
			g.file_id = f->file_id;
			g.fd = open(name, (f->open_flags & OFD_FLAGS) | O_CLOEXEC);
			if (g.fd < 0)
				return -errno;
			g.fd = move_up(ctx, g.fd);
			if (g.fd < 0)
				return g.fd;
			ret = vec_push(o->ofds, o->nr_ofds, o->cap_ofds, g);
			if (ret) {
				close(g.fd);
				return ret;
			}
		}
	return 0;
}

static int make_object(const struct restore_ctx *ctx, const struct m_vma *mv,
		       struct gone_obj *o)
{
	char name[BCK_PATH_MAX];
	int fd, ret;

	if (deleted_base_name(mv->path, name, sizeof(name)))
		return -ENAMETOOLONG;
	if (is_memfd(mv->path)) {
		/* "/memfd:NAME": memfd_create() puts the prefix back */
		fd = memfd_create(name + strlen(MEMFD_PREFIX),
				  MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
	} else {
		fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			  mv->v->mode & 07777);
		if (fd < 0)
			return -errno;
	}
	/*
	 * Above the carriers and the --inherit-fd fds: the new processes
	 * inherit our fds, and one at a carrier's number would be taken
	 * for that carrier (files.c)
	 */
	o->fd = move_up(ctx, fd);
	ret = o->fd < 0 ? o->fd : 0;
	if (!ret && !is_memfd(mv->path))
		ret = open_ofds(ctx, o, name);
	if (!is_memfd(mv->path) && unlink(name) && !ret)
		ret = -errno;
	return ret;
}

static int write_all(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, buf + done, len - done, off + done);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* the content an fd on the object saved (fd/memfd.c), written first */
static int write_fd_content(const struct ckpt_image *img, const struct gone_obj *o)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];
			const struct img_filedata *d = (const void *)mf->ext;

			if ((mf->f->kind != IMG_FD_MEMFD && mf->f->kind != IMG_FD_GONE) ||
			    mf->f->ino != o->ino || mf->f->dev != o->dev || !d ||
			    !(d->flags & IMG_FILEDATA_CONTENT) ||
			    d->flags & IMG_FILEDATA_TOO_BIG)
				continue;
			return write_all(o->fd, mf->data, d->size, 0);
		}
	return 0;
}

/* the content a private mapping's record holds */
static int write_vma_content(const struct ckpt_image *img, const struct gone_obj *o)
{
	const struct m_vma *c = private_content(img, o->dev, o->ino);

	if (!c || c->fdata->flags & IMG_FILEDATA_TOO_BIG)
		return 0;
	return write_all(o->fd, c->data, c->fdata->size, 0);
}

/* the VMA of @mp that holds @va, from *vi on (pages are in address order) */
static const struct img_vma *vma_at(const struct m_proc *mp, uint32_t *vi, uint64_t va)
{
	while (*vi < mp->nr_vmas && mp->vmas[*vi].v->end <= va)
		(*vi)++;
	return *vi < mp->nr_vmas && mp->vmas[*vi].v->start <= va ? mp->vmas[*vi].v : NULL;
}

/* every page any process stored of the object, at its offset in the file */
static int write_pages(const struct restore_ctx *ctx, const struct gone_obj *o,
		       uint64_t size)
{
	const struct ckpt_image *img = &ctx->img;
	uint64_t ps = img->hdr->page_size;
	uint32_t p, c, i, vi;
	int ret;

	for (p = 0; p < img->nr_procs; p++) {
		const struct m_proc *mp = &img->procs[p];

		for (c = 0; c < mp->nr_chunks; c++) {
			const struct m_pages *pg = &mp->pages[c];

			for (i = 0, vi = 0; i < pg->nr; i++) {
				const struct img_vma *v = vma_at(mp, &vi, pg->vaddrs[i]);
				uint64_t off;

				if (!v || v->kind != IMG_VMA_SHARED_GONE ||
				    v->dev != o->dev || v->ino != o->ino)
					continue;
				/* a lazy load checked no page data yet */
				if (ctx->lazy && !img_piece_ok(ps, pg->data, pg->nr, pg->sums,
							       i / IMG_PIECE_PAGES))
					return -EBADMSG;
				off = v->pgoff + (pg->vaddrs[i] - v->start);
				if (off >= size)	/* past the end: SIGBUS there */
					continue;
				ret = write_all(o->fd, pg->data + i * ps,
						MIN(ps, size - off), off);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

/*
 * The seals the image gives @o, its VMAs' and its fds' (fd/memfd.c);
 * *maywrite if a VMA of it may write (shared, VM_MAYWRITE)
 */
static uint32_t seals_of(const struct ckpt_image *img, const struct gone_obj *o,
			 bool *maywrite)
{
	uint32_t i, j, seals = 0;

	*maywrite = false;
	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_vmas; j++) {
			const struct img_vma *v = mp->vmas[j].v;

			if (!is_gone(v) || v->dev != o->dev || v->ino != o->ino)
				continue;
			seals |= v->seals;
			/* a private mapping never writes to the file */
			*maywrite |= v->kind == IMG_VMA_SHARED_GONE &&
				     v->vm_flags & KVM_MAYWRITE;
		}
		for (j = 0; j < mp->nr_fds; j++) {
			const struct m_fd *mf = &mp->fds[j];
			const struct img_filedata *d = (const void *)mf->ext;

			if ((mf->f->kind == IMG_FD_MEMFD || mf->f->kind == IMG_FD_GONE) &&
			    mf->f->dev == o->dev && mf->f->ino == o->ino && d)
				seals |= d->seals;
		}
	}
	return seals;
}

/*
 * Adds to @o's file the seals of @seals it lacks: a deleted /dev/shm
 * file made again is born with F_SEAL_SEAL (shmem_get_inode()), and any
 * seal added after that one is EPERM
 */
static int add_seals(const struct gone_obj *o, pid_t pid, const struct m_vma *mv,
		     uint32_t seals)
{
	int have, err;

	if (!seals)
		return 0;
	have = fcntl(o->fd, F_GET_SEALS);
	if (have >= 0 && (!(seals &= ~(uint32_t)have) || !fcntl(o->fd, F_ADD_SEALS, seals)))
		return 0;
	err = errno;
	pr_err("pid %d: vma %llx-%llx: %s: %s %#x: %s%s", pid,
	       (unsigned long long)mv->v->start, (unsigned long long)mv->v->end,
	       mv->path, have < 0 ? "F_GET_SEALS, to add" : "F_ADD_SEALS", seals,
	       strerror(err), err == EBUSY ? " (a shared mapping of it may write: "
	       "F_SEAL_WRITE waits for none, mm/memfd.c)" : "");
	return -err;
}

/*
 * The seals go on once the content and size are in, before any VMA is
 * mapped: a VMA mapped MAP_SHARED from an O_RDWR file of a write-sealed
 * memfd is VM_SHARED without VM_MAYWRITE (memfd_check_seals_mmap()), as
 * it was.  But F_SEAL_FUTURE_WRITE forbids writable shared mappings made
 * after it, so when a VMA of the object may write, it (and F_SEAL_SEAL,
 * which forbids adding it) waits until every VMA is mapped
 * (mm_gone_seal()).  F_SEAL_WRITE never has to wait: no VMA may write
 * with it (mm_gone_check()).
 */
static int seal_early(const struct restore_ctx *ctx, pid_t pid, const struct m_vma *mv,
		      struct gone_obj *o)
{
	bool maywrite;
	uint32_t seals = seals_of(&ctx->img, o, &maywrite);

	o->seals_late = maywrite ? seals & (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) : 0;
	return add_seals(o, pid, mv, seals & ~o->seals_late);
}

/*
 * Once its content and seals are in, the object is kept open read-only
 * unless seals wait for it (F_ADD_SEALS wants a writable file): a
 * deleted executable made again becomes its process's exe_file, and
 * replace_mm_exe_file() (kernel/fork.c) takes deny_write_access() on it,
 * EACCES from PR_SET_MM_MAP while any file of it is open for writing.
 * Every VMA and fd reopens it through o->link with its own mode.
 */
static int drop_write(struct gone_obj *o, pid_t pid, const struct m_vma *mv)
{
	int fd, ret = 0;

	if (o->seals_late)
		return 0;
	fd = open(o->link, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup3(fd, o->fd, O_CLOEXEC) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		pr_err("pid %d: vma %llx-%llx: reopening %s read-only: %s", pid,
		       (unsigned long long)mv->v->start, (unsigned long long)mv->v->end,
		       mv->path, errstr(ret));
	return ret;
}

static int make_one(struct restore_ctx *ctx, const struct m_proc *mp,
		    const struct m_vma *mv)
{
	struct gone_obj o = { .dev = mv->v->dev, .ino = mv->v->ino, .fd = -1,
			      .pid = getpid() };
	uint32_t i;
	int ret;

	ret = make_object(ctx, mv, &o);
	if (!ret)
		ret = vec_push(ctx->gone, ctx->nr_gone, ctx->cap_gone, o);
	if (ret) {
		pr_err("pid %d: vma %llx-%llx: making %s again: %s", mp->p->pid[0],
		       (unsigned long long)mv->v->start, (unsigned long long)mv->v->end,
		       mv->path, errstr(ret));
		for (i = 0; i < o.nr_ofds; i++)
			close(o.ofds[i].fd);
		free(o.ofds);
		if (o.fd >= 0)
			close(o.fd);
		return ret;
	}
	snprintf(ctx->gone[ctx->nr_gone - 1].link, sizeof(o.link), "/proc/%d/fd/%d",
		 (int)o.pid, o.fd);
	ret = write_fd_content(&ctx->img, &o);
	if (!ret)
		ret = write_vma_content(&ctx->img, &o);
	if (!ret)
		ret = write_pages(ctx, &o, mv->v->size);
	/* the size last: pwrite of a partial last page may have grown it */
	if (!ret && ftruncate(o.fd, mv->v->size))
		ret = -errno;
	if (!ret && fchmod(o.fd, mv->v->mode & 07777))
		ret = -errno;
	if (ret) {
		pr_err("pid %d: vma %llx-%llx: writing %s back: %s", mp->p->pid[0],
		       (unsigned long long)mv->v->start, (unsigned long long)mv->v->end,
		       mv->path, ret == -EBADMSG ? "page data is corrupted" : errstr(ret));
		return ret;
	}
	ret = seal_early(ctx, mp->p->pid[0], mv, &ctx->gone[ctx->nr_gone - 1]);
	return ret ? ret : drop_write(&ctx->gone[ctx->nr_gone - 1], mp->p->pid[0], mv);
}

int mm_gone_make(struct restore_ctx *ctx)
{
	uint32_t i, j;
	int ret;

	for (i = 0; i < ctx->img.nr_procs; i++) {
		const struct m_proc *mp = &ctx->img.procs[i];

		for (j = 0; j < mp->nr_vmas; j++) {
			const struct m_vma *mv = &mp->vmas[j];

			if (!is_gone(mv->v) || mm_gone_find(ctx, mv->v->dev, mv->v->ino))
				continue;
			ret = make_one(ctx, mp, mv);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* the first VMA of the image that maps @o, and its process's pid */
static const struct m_vma *vma_of(const struct ckpt_image *img, const struct gone_obj *o,
				  pid_t *pid)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_vmas; j++) {
			const struct m_vma *mv = &img->procs[i].vmas[j];

			if (is_gone(mv->v) && mv->v->dev == o->dev && mv->v->ino == o->ino) {
				*pid = img->procs[i].p->pid[0];
				return mv;
			}
		}
	return NULL;
}

int mm_gone_seal(struct restore_ctx *ctx)
{
	const struct m_vma *mv;
	uint32_t i;
	pid_t pid;
	int ret;

	for (i = 0; i < ctx->nr_gone; i++) {
		if (!ctx->gone[i].seals_late ||
		    !(mv = vma_of(&ctx->img, &ctx->gone[i], &pid)))
			continue;
		ret = add_seals(&ctx->gone[i], pid, mv, ctx->gone[i].seals_late);
		if (ret)
			return ret;
	}
	return 0;
}

void mm_gone_free(struct restore_ctx *ctx)
{
	uint32_t i, j;

	for (i = 0; i < ctx->nr_gone; i++) {
		if (ctx->gone[i].fd >= 0)
			close(ctx->gone[i].fd);
		for (j = 0; j < ctx->gone[i].nr_ofds; j++)
			close(ctx->gone[i].ofds[j].fd);
		free(ctx->gone[i].ofds);
	}
	free(ctx->gone);
	ctx->gone = NULL;
	ctx->nr_gone = ctx->cap_gone = 0;
}
