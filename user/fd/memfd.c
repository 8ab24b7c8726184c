// SPDX-License-Identifier: GPL-2.0
/*
 * Files whose content only the open file holds: memfds (content, size,
 * seals, name) and regular files deleted while open (content and name).
 * The content is read at snap time through /proc/PID/fd/N, up to snap
 * --file-max bytes; past it the image says so and restore refuses.
 * Restore makes the file again (a memfd by memfd_create(), a deleted
 * file under its old name, unlinked at once), reopens it through
 * /proc/self/fd for every open file of the image on it, then seals it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"
#include "log.h"
#include "util.h"


static const struct img_filedata *fdata(const struct m_fd *mf)
{
	return (const void *)mf->ext;
}

static int content_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	x->fd.h.type = IMG_FILEDATA;
	x->fd.ino = r->ino;
	x->fd.size = r->size;
	x->fd.mode = r->mode & 07777;
	return 0;
}

static int content_peek(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f)
{
	struct img_filedata *d = &f->x.fd;
	char link[64];
	struct stat st;
	int fd, seals, ret = 0;
	uint64_t got;

	if (snap_obj_seen(&ctx->objs, f->f.dev, f->f.ino, &ret) || ret)
		return ret;
	d->flags = IMG_FILEDATA_CONTENT;
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", sp->pid, f->f.fd);
	fd = open_noatime(link);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		pr_err("pid %d: fd %d: reading %s: %s", sp->pid, f->f.fd, f->path,
		       errstr(ret));
		goto out;
	}
	d->size = st.st_size;
	seals = fcntl(fd, F_GET_SEALS);
	d->seals = seals > 0 ? seals : 0;
	if (d->size > ctx->file_max) {
		d->flags |= IMG_FILEDATA_TOO_BIG;
		goto out;
	}
	ret = read_whole(fd, d->size, &f->data, &got);
	if (ret == -EIO)
		pr_err("pid %d: fd %d: %s: %llu of %llu bytes read", sp->pid, f->f.fd,
		       f->path, (unsigned long long)got, (unsigned long long)d->size);
	if (!ret)
		f->data_len = d->size;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* the record of @mf's inode with the content */
static const struct m_fd *content_of(const struct ckpt_image *img, const struct m_fd *mf)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *o = &img->procs[i].fds[j];

			if (o->f->kind == mf->f->kind && o->f->ino == mf->f->ino &&
			    o->f->dev == mf->f->dev &&
			    fdata(o)->flags & IMG_FILEDATA_CONTENT)
				return o;
		}
	return NULL;
}

static int content_check(struct verdict *v, const struct ckpt_image *img,
			 const struct m_proc *mp, const struct m_fd *mf)
{
	const struct m_fd *c = content_of(img, mf);
	pid_t pid = mp->p->pid[0];
	char name[BCK_PATH_MAX], dir[BCK_PATH_MAX];
	struct stat st;

	/* inspect's model has no content: it knows only the size */
	if (!c && !v->live)
		return verdict_refuse(v, -EINVAL, pid, "fd", "fd %d: %s: no content "
				      "recorded", mf->f->fd, mf->path);
	/* mapped whole, the pages of its mappings are its content (mm_gone.c) */
	if (c && fdata(c)->flags & IMG_FILEDATA_TOO_BIG &&
	    !mm_gone_covers(img, mf->f->dev, mf->f->ino, fdata(c)->size))
		return verdict_refuse(v, -EFBIG, pid, "fd", "fd %d: %s: its %llu bytes "
				      "were not saved (snap --file-max BYTES saves up "
				      "to %u)", mf->f->fd, mf->path,
				      (unsigned long long)fdata(c)->size, IMG_FILEDATA_MAX);
	if (mf->f->kind == IMG_FD_MEMFD)
		return 0;
	if (deleted_base_name(mf->path, name, sizeof(name)))
		return verdict_refuse(v, -ENAMETOOLONG, pid, "fd", "fd %d: %s: name too "
				      "long", mf->f->fd, mf->path);
	if (!lstat(name, &st))
		return verdict_refuse(v, -EEXIST, pid, "fd", "fd %d: %s: a file has its "
				      "name again, so it cannot be made there",
				      mf->f->fd, mf->path);
	snprintf(dir, sizeof(dir), "%s", name);
	if (stat(dirname(dir), &st) || !S_ISDIR(st.st_mode))
		return verdict_refuse(v, -ENOENT, pid, "fd", "fd %d: %s: its directory "
				      "is gone", mf->f->fd, mf->path);
	return 0;
}

/* ---- restore (in the new process) ---- */

/* a memfd, or a deleted file under its name (in @name, unlinked later) */
static int make_file(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     char *name, size_t size)
{
	int fd;

	if (deleted_base_name(mf->path, name, size))
		rst_child_fail(ctx, idx, -ENAMETOOLONG, "fd %d: name", mf->f->fd);
	if (mf->f->kind == IMG_FD_MEMFD) {
		/* "/memfd:NAME": memfd_create() puts the prefix back */
		fd = memfd_create(name + strlen("/memfd:"), MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: memfd_create", mf->f->fd);
		name[0] = 0;
		return fd;
	}
	fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, fdata(mf)->mode);
	if (fd < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: creating %s again", mf->f->fd,
			       name);
	return fd;
}

/* fails through rst_child_fail(), the file made under @name removed first */
static void fail_unnamed(struct restore_ctx *ctx, uint32_t idx, const char *name,
			 int err, const struct m_fd *e, const char *what)
	__attribute__((noreturn));

static void fail_unnamed(struct restore_ctx *ctx, uint32_t idx, const char *name,
			 int err, const struct m_fd *e, const char *what)
{
	if (name[0])
		unlink(name);
	rst_child_fail(ctx, idx, err, "fd %d: %s %s", e->f->fd, what, e->path);
}

/*
 * Another open file of the inode: taken from the restorer if it made the
 * object (with the flags it opened it with), opened by name while the
 * deleted file has one again (O_NOFOLLOW kept: no reopening through
 * /proc/self/fd takes it), else reopened through /proc/self/fd/@fd.
 */
static int reopen(const struct gone_obj *obj, int *pidfd, const char *name, int fd,
		  const struct img_fd *f)
{
	char link[64];
	uint32_t i;

	for (i = 0; obj && i < obj->nr_ofds; i++) {
		if (obj->ofds[i].file_id != f->file_id)
			continue;
		if (*pidfd < 0 && (*pidfd = syscall(SYS_pidfd_open, obj->pid, 0)) < 0)
			return -1;
		return syscall(SYS_pidfd_getfd, *pidfd, obj->ofds[i].fd, 0);
	}
	if (name[0])
		return open(name, (f->open_flags & (FD_REOPEN_FLAGS | O_NOFOLLOW)) | O_CLOEXEC);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return open(link, (f->open_flags & FD_REOPEN_FLAGS) | O_CLOEXEC);
}

static void content_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			 int at)
{
	const struct m_fd *c = content_of(&ctx->img, mf);
	const struct img_filedata *d = fdata(c ? c : mf);
	const struct gone_obj *obj;
	char name[BCK_PATH_MAX] = "";
	int fd, seals, pidfd = -1;
	uint64_t done = 0;
	uint32_t i, j;
	ssize_t n;

	/* also mapped MAP_SHARED: the restorer made it, with its content */
	if ((obj = mm_gone_find(ctx, mf->f->dev, mf->f->ino))) {
		fd = open(obj->link, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: opening %s", mf->f->fd,
				       obj->link);
	} else {
		fd = make_file(ctx, idx, mf, name, sizeof(name));
	}
	if ((fd = fd_above_carriers(ctx, fd)) < 0)
		fail_unnamed(ctx, idx, name, -errno, mf, "moving");
	while (!obj && c && done < d->size &&
	       (n = pwrite(fd, c->data + done, d->size - done, done)) > 0)
		done += n;
	if (!obj && (done != d->size || ftruncate(fd, d->size) ||
		   fchmod(fd, d->mode)))
		fail_unnamed(ctx, idx, name, -errno, mf, "writing the content of");
	for (i = 0; i < ctx->img.nr_procs; i++)
		for (j = 0; j < ctx->img.procs[i].nr_fds; j++) {
			const struct m_fd *e = &ctx->img.procs[i].fds[j];
			int cr = fd_carrier(ctx, e->f->file_id), o;

			if (e->f->kind != mf->f->kind || e->f->ino != mf->f->ino ||
			    e->f->dev != mf->f->dev || fd_is_open(cr))
				continue;
			o = reopen(obj, &pidfd, name, fd, e->f);
			if (o < 0 || dup2(o, cr) < 0)
				fail_unnamed(ctx, idx, name, -errno, e, "reopening");
			close(o);
			if (e->f->pos && lseek(cr, e->f->pos, SEEK_SET) < 0)
				fail_unnamed(ctx, idx, name, -errno, e, "lseek of");
		}
	if (pidfd >= 0)
		close(pidfd);
	/* a deleted file again, now that every open file of it is there */
	if (name[0] && unlink(name))
		rst_child_fail(ctx, idx, -errno, "fd %d: unlinking %s", mf->f->fd, name);
	/*
	 * Only the seals it lacks: a tmpfs file not made by memfd_create()
	 * (a deleted /dev/shm file) is born with F_SEAL_SEAL, and adding
	 * any seal once F_SEAL_SEAL is set is EPERM (memfd_add_seals()).
	 * A mapped one the restorer seals (mm_gone.c), in the order its
	 * mappings need: F_SEAL_FUTURE_WRITE now would forbid them.
	 */
	seals = fcntl(fd, F_GET_SEALS);
	seals = d->seals & ~(seals > 0 ? (uint32_t)seals : 0);
	if (seals && !obj && fcntl(fd, F_ADD_SEALS, seals))
		rst_child_fail(ctx, idx, -errno, "fd %d: F_ADD_SEALS %#x", mf->f->fd,
			       seals);
	close(fd);
	if (!fd_is_open(at))
		rst_child_fail(ctx, idx, -EBADF, "fd %d: not reopened", mf->f->fd);
}

const struct fd_kind fd_memfd_kind = {
	.name = "memfd",
	.fill = content_fill,
	.peek = content_peek,
	.check = content_check,
	.open = content_open,
};

const struct fd_kind fd_gone_kind = {
	.name = "gone",
	.fill = content_fill,
	.peek = content_peek,
	.check = content_check,
	.open = content_open,
};
