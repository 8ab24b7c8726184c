// SPDX-License-Identifier: GPL-2.0
/*
 * Pipes and fifos.  A pipe is its inode: every end of it in the tree
 * (one file id each, however many fds share it) is made at once from
 * one new pipe, sized as it was, with the bytes it held put back in.
 * Those bytes are read at snap time without consuming them: tee() from
 * an end of our own into a pipe of our own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"
#include "log.h"
#include "util.h"

static bool is_anon(const char *path)
{
	return !strncmp(path, "pipe:[", 6);
}

static bool can_read(uint32_t open_flags)
{
	return (open_flags & O_ACCMODE) != O_WRONLY;
}

static bool can_write(uint32_t open_flags)
{
	return (open_flags & O_ACCMODE) != O_RDONLY;
}

static int pipe_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	memset(&x->pipe, 0, sizeof(x->pipe));
	x->pipe.h.type = IMG_PIPE;
	x->pipe.ino = r->ino;
	x->pipe.size = r->pipe_pages * getpagesize();
	x->pipe.readers = r->pipe_readers;
	x->pipe.writers = r->pipe_writers;
	return 0;
}

/* ---- snap ---- */

/* the open files of the tree on inode @dev/@ino that read and that write */
static void snap_ends(const struct snap_ctx *ctx, uint64_t dev, uint64_t ino,
		      uint32_t *readers, uint32_t *writers)
{
	uint64_t seen[64];
	uint32_t i, j, k, n = 0;

	*readers = *writers = 0;
	for (i = 0; i < ctx->nr_procs; i++) {
		const struct snap_proc *sp = &ctx->procs[i];

		for (j = 0; j < sp->nr_fds; j++) {
			const struct snap_fd *f = &sp->fds[j];

			if (f->f.kind != IMG_FD_FIFO || f->f.ino != ino || f->f.dev != dev)
				continue;
			for (k = 0; k < n && seen[k] != f->kfile; k++)
				;
			if (k < n)
				continue;
			if (n < ARRAY_SIZE(seen))
				seen[n++] = f->kfile;
			*readers += can_read(f->f.open_flags);
			*writers += can_write(f->f.open_flags);
		}
	}
}

/* the @len bytes in the pipe behind @src, left where they are */
static int tee_out(int src, uint32_t size, uint8_t *buf, uint32_t len)
{
	int tmp[2], ret = 0;
	ssize_t n;
	uint32_t got = 0;

	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	/* as many slots as the pipe it copies: tee() moves whole buffers */
	if (fcntl(tmp[1], F_SETPIPE_SZ, size) < 0) {
		ret = -errno;
		goto out;
	}
	n = tee(src, tmp[1], len, SPLICE_F_NONBLOCK);
	if (n != (ssize_t)len) {
		ret = n < 0 ? -errno : -EAGAIN;
		goto out;
	}
	while (got < len) {
		n = read(tmp[0], buf + got, len - got);
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += n;
	}
out:
	close(tmp[0]);
	close(tmp[1]);
	return ret;
}

static int pipe_peek(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f)
{
	struct img_pipe *p = &f->x.pipe;
	uint32_t readers, writers;
	char link[64];
	int src, len, ret = 0;

	if (snap_obj_seen(&ctx->objs, f->f.dev, f->f.ino, &ret) || ret)
		return ret;
	p->flags = IMG_PIPE_DATA;
	snap_ends(ctx, f->f.dev, f->f.ino, &readers, &writers);
	/*
	 * With an end outside the tree the bytes are not the tree's to keep
	 * (restore --inherit-fd gives back that very pipe, and its other
	 * side may read or write meanwhile); with no reader, nobody ever
	 * reads them.
	 */
	if (readers < p->readers || writers < p->writers || !p->readers)
		return 0;
	/* a read end of our own (a fifo_open() of the same inode) */
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", sp->pid, f->f.fd);
	src = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		pr_err("pid %d: fd %d: opening %s to read the pipe: %s", sp->pid,
		       f->f.fd, f->path, errstr(ret));
		return ret;
	}
	if (ioctl(src, FIONREAD, &len)) {
		ret = -errno;
		pr_err("pid %d: fd %d: FIONREAD: %s", sp->pid, f->f.fd, errstr(ret));
		goto out;
	}
	if (len <= 0)
		goto out;
	f->data = malloc(len);
	if (!f->data) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tee_out(src, p->size, f->data, len);
	if (ret) {
		pr_err("pid %d: fd %d: copying the %d bytes in %s: %s", sp->pid,
		       f->f.fd, len, f->path, errstr(ret));
		goto out;
	}
	p->data_len = f->data_len = len;
out:
	close(src);
	return ret;
}

/* ---- restorability ---- */

/* the files (one per file id) of the image on the pipe of @mf */
static uint32_t image_ends(const struct ckpt_image *img, const struct m_fd *mf,
			   const struct m_fd **ends, uint32_t cap,
			   uint32_t *readers, uint32_t *writers)
{
	uint32_t i, j, k, n = 0;

	*readers = *writers = 0;
	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_fds; j++) {
			const struct img_fd *f = mp->fds[j].f;

			if (f->kind != IMG_FD_FIFO || f->ino != mf->f->ino ||
			    f->dev != mf->f->dev)
				continue;
			for (k = 0; k < n && ends[k]->f->file_id != f->file_id; k++)
				;
			if (k < n)
				continue;
			if (n == cap)
				return cap + 1;
			ends[n++] = &mp->fds[j];
			*readers += can_read(f->open_flags);
			*writers += can_write(f->open_flags);
		}
	}
	return n;
}

#define MAX_ENDS	64

static long pipe_max_size(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
	long v = -1;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

static int pipe_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_pipe *p = (const void *)mf->ext;
	const struct m_fd *ends[MAX_ENDS];
	uint32_t n, readers, writers;
	pid_t pid = mp->p->pid[0];
	struct stat st;
	long max;

	/* an O_PATH fd holds no end (fifo_open() never ran for it) */
	if (mf->f->open_flags & O_PATH)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d: an O_PATH fd on "
				      "fifo %s: not supported", mf->f->fd, mf->path);
	n = image_ends(img, mf, ends, MAX_ENDS, &readers, &writers);
	if (n > MAX_ENDS)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s: more than "
				      "%d open files on one pipe", mf->f->fd,
				      mf->path, MAX_ENDS);
	if (readers < p->readers || writers < p->writers)
		return verdict_refuse(v, -ENOTSUP, pid, "fd",
				      "fd %d is %s (inode %llu), whose other end is "
				      "outside the tree: give restore --inherit-fd "
				      "fd[N]:%s, N an fd of restore's own on it",
				      mf->f->fd, mf->path,
				      (unsigned long long)mf->f->ino, mf->path);
	if (!is_anon(mf->path) && (stat(mf->path, &st) || !S_ISFIFO(st.st_mode)))
		return verdict_refuse(v, errno ? -errno : -EINVAL, pid, "fd",
				      "fd %d: fifo %s: %s", mf->f->fd, mf->path,
				      errno ? strerror(errno) : "no longer a fifo");
	max = pipe_max_size();
	if (p->size > (uint32_t)getpagesize() * 16 && max > 0 && p->size > max)
		return verdict_refuse(v, -EPERM, pid, "fd", "fd %d is %s of %u bytes, "
				      "above fs.pipe-max-size (%ld)", mf->f->fd,
				      mf->path, p->size, max);
	return 0;
}

/* ---- restore (in the new process) ---- */

static const struct m_fd *data_of(const struct m_fd **ends, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (((const struct img_pipe *)ends[i]->ext)->flags & IMG_PIPE_DATA)
			return ends[i];
	return NULL;
}

static void put_back(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     int wfd, const struct m_fd *d)
{
	const struct img_pipe *p = (const void *)mf->ext;
	const struct img_pipe *dp = d ? (const void *)d->ext : NULL;
	uint32_t done = 0;
	ssize_t n;

	if (p->size && fcntl(wfd, F_SETPIPE_SZ, p->size) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: %s: F_SETPIPE_SZ %u",
			       mf->f->fd, mf->path, p->size);
	/* non-blocking: the bytes fit in the size just set, or it fails */
	if (fcntl(wfd, F_SETFL, O_NONBLOCK))
		rst_child_fail(ctx, idx, -errno, "fd %d: F_SETFL", mf->f->fd);
	while (dp && done < dp->data_len) {
		n = write(wfd, d->data + done, dp->data_len - done);
		if (n <= 0)
			rst_child_fail(ctx, idx, n ? -errno : -EIO, "fd %d: %s: "
				       "writing back %u bytes", mf->f->fd, mf->path,
				       dp->data_len);
		done += n;
	}
}

/* end @e at its carrier: a dup of @src, or @path reopened if @src < 0 */
static void place(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *e,
		  int src, const char *path)
{
	int c = fd_carrier(ctx, e->f->file_id), fd = src;

	if (src < 0) {
		fd = open(path, (e->f->open_flags & FD_REOPEN_FLAGS) | O_CLOEXEC);
		if (fd < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: reopening %s",
				       e->f->fd, e->path);
	}
	if (dup2(fd, c) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", e->f->fd);
	if (src < 0)
		close(fd);
	if (fcntl(c, F_SETFL, e->f->open_flags & FD_SETFL_FLAGS))
		rst_child_fail(ctx, idx, -errno, "fd %d: %s: F_SETFL %#o", e->f->fd,
			       e->path, e->f->open_flags & FD_SETFL_FLAGS);
}

static void pipe_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int at)
{
	const struct m_fd *ends[MAX_ENDS], *rd = NULL, *wr = NULL;
	uint32_t i, n, readers, writers;
	int p[2] = { -1, -1 }, keeper;
	char link[64];
	const char *path = mf->path;

	n = image_ends(&ctx->img, mf, ends, MAX_ENDS, &readers, &writers);
	if (n > MAX_ENDS)
		rst_child_fail(ctx, idx, -ENOTSUP, "fd %d: too many ends", mf->f->fd);
	if (is_anon(mf->path)) {
		if (pipe2(p, O_CLOEXEC))
			rst_child_fail(ctx, idx, -errno, "fd %d: pipe", mf->f->fd);
		p[0] = fd_above_carriers(ctx, p[0]);
		p[1] = fd_above_carriers(ctx, p[1]);
		if (p[0] < 0 || p[1] < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: moving a new pipe",
				       mf->f->fd);
		keeper = p[1];
		/* more ends than two: opening the pipe again, as /proc allows */
		snprintf(link, sizeof(link), "/proc/self/fd/%d", p[0]);
		path = link;
	} else {
		/* O_RDWR: a fifo open that waits for no other side (fifo(7)) */
		keeper = open(mf->path, O_RDWR | O_CLOEXEC);
		if (keeper >= 0)
			keeper = fd_above_carriers(ctx, keeper);
		if (keeper < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: open fifo %s",
				       mf->f->fd, mf->path);
	}
	put_back(ctx, idx, mf, keeper, data_of(ends, n));
	/* the new pipe's own two ends serve the first reader and writer */
	for (i = 0; i < n; i++) {
		const struct m_fd *e = ends[i];
		int acc = e->f->open_flags & O_ACCMODE;

		if (acc == O_RDONLY && !rd && p[0] >= 0) {
			rd = e;
			place(ctx, idx, e, p[0], NULL);
		} else if (acc == O_WRONLY && !wr && p[1] >= 0) {
			wr = e;
			place(ctx, idx, e, p[1], NULL);
		}
	}
	for (i = 0; i < n; i++)
		if (ends[i] != rd && ends[i] != wr)
			place(ctx, idx, ends[i], -1, path);
	if (p[0] >= 0)
		close(p[0]);
	close(keeper);
}

const struct fd_kind fd_pipe_kind = {
	.name = "fifo",
	.fill = pipe_fill,
	.peek = pipe_peek,
	.check = pipe_check,
	.open = pipe_open,
};
