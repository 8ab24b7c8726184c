// SPDX-License-Identifier: GPL-2.0
/* File descriptors of one process, from iter/task_file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "img.h"
#include "log.h"
#include "inject.h"
#include "restore.h"
#include "show.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

int files_fd_path(pid_t pid, const struct rec_file *r, char *buf, size_t size)
{
	char link[32];

	if (r->err & REC_ERR_PATH)
		return r->path_len < 0 ? r->path_len : -ENAMETOOLONG;
	if (r->path_len > 0) {
		if ((size_t)r->path_len > size)
			return -ENAMETOOLONG;
		memcpy(buf, r->path, r->path_len);
		buf[r->path_len - 1] = 0;
		return 0;
	}
	snprintf(link, sizeof(link), "fd/%d", r->fd);
	return proc_link(pid, link, r->dev, r->ino, buf, size);
}

int files_fd_kind(const struct rec_file *r, const char *path, uint32_t *kind,
		  char *why, size_t len)
{
	*kind = 0;
	if (has_prefix(path, "anon_inode:")) {
		/* eventfd, epoll, signalfd, timerfd, ...: their state is
		 * not collected yet, so a snap of them would not restore */
		snprintf(why, len, "fd %d is '%s': not supported", r->fd, path);
		return -ENOTSUP;
	}
	switch (r->mode & S_IFMT) {
	case S_IFREG:
		*kind = IMG_FD_REG;
		break;
	case S_IFDIR:
		*kind = IMG_FD_DIR;
		break;
	case S_IFCHR:
		*kind = IMG_FD_CHR;
		break;
	case S_IFBLK:
		*kind = IMG_FD_BLK;
		break;
	case S_IFIFO:
		*kind = IMG_FD_FIFO;
		break;
	case S_IFSOCK:
		*kind = IMG_FD_SOCK;
		break;
	default:
		snprintf(why, len, "fd %d is '%s' (mode %o): not supported", r->fd,
			 path, r->mode);
		return -ENOTSUP;
	}
	return 0;
}

void files_fill_fd(struct img_fd *f, const struct rec_file *r, uint32_t kind)
{
	memset(f, 0, sizeof(*f));
	f->h.type = IMG_FD;
	f->fd = r->fd;
	f->kind = kind;
	f->flags = (r->cloexec ? IMG_FD_CLOEXEC : 0) |
		   (kind == IMG_FD_REG && r->nlink == 0 ? IMG_FD_DELETED : 0);
	f->open_flags = r->f_flags;
	f->pos = r->pos;
	f->mode = r->mode;
	f->dev = r->dev;
	f->ino = r->ino;
	f->rdev = r->rdev;
	f->size = r->size;
	f->sock_family = r->sock_family;
	f->sock_type = r->sock_type;
	f->sock_proto = r->sock_proto;
	f->sock_state = r->sock_state;
}

static int file_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_file *r = (const void *)h;
	struct snap_fd f = { 0 };
	char why[BCK_PATH_MAX + 128], path[BCK_PATH_MAX];
	uint32_t kind;
	int ret;

	if (h->type != REC_FILE || size < sizeof(*r))
		return 0;
	/* a shared fd table can be shown once per thread */
	if (sp->nr_fds && r->fd <= sp->fds[sp->nr_fds - 1].f.fd)
		return 0;
	ret = files_fd_path(sp->pid, r, path, sizeof(path));
	if (ret) {
		pr_err("pid %d: fd %d: reading its path: %s", sp->pid, r->fd,
		       ret == -ESTALE ? "/proc leads to another inode than the fd's" :
		       errstr(ret));
		return -EIO;
	}
	ret = files_fd_kind(r, path, &kind, why, sizeof(why));
	if (ret) {
		pr_err("pid %d: %s", sp->pid, why);
		return ret;
	}
	files_fill_fd(&f.f, r, kind);
	f.kfile = r->file;
	f.path = strdup(path);
	if (!f.path)
		return -ENOMEM;
	ret = vec_push(sp->fds, sp->nr_fds, sp->cap_fds, f);
	if (ret)
		free(f.path);
	return ret;
}

int files_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	int ret;

	if (sp->zombie)
		return 0;
	ret = collect_proc(&ctx->col, COLLECT_FILES, sp->pid, file_cb, sp);
	if (ret && ret != -ENOTSUP && ret != -EIO)
		pr_err("pid %d: collecting file descriptors: %s", sp->pid, errstr(ret));
	return ret;
}

/*
 * Open file descriptions shared by several fds (dup, fork) get one id, so
 * that restore can share them again (and their offset with them).  The
 * kernel address itself stays out of the image.
 */
static int file_id(struct snap_ctx *ctx, uint64_t kfile, uint32_t *id)
{
	uint32_t i;
	int ret;

	for (i = 0; i < ctx->nr_kfiles; i++) {
		if (ctx->kfiles[i] == kfile) {
			*id = i + 1;
			return 0;
		}
	}
	ret = vec_push(ctx->kfiles, ctx->nr_kfiles, ctx->cap_kfiles, kfile);
	*id = ctx->nr_kfiles;
	return ret;
}

int files_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < sp->nr_fds && !ret; i++) {
		struct snap_fd *f = &sp->fds[i];
		struct img_part part = { f->path, strlen(f->path) + 1 };

		ret = file_id(ctx, f->kfile, &f->f.file_id);
		if (ret)
			break;
		f->f.path_len = part.len;
		ret = img_put(ctx->w, &f->f, sizeof(f->f), &part, 1);
	}
	return ret;
}

void files_free(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_fds; i++)
		free(sp->fds[i].path);
	free(sp->fds);
}

/* ---- restore ---- */

/* the O_* flags reopening honours; creation and truncation never */
#define REOPEN_FLAGS	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | \
			 O_DIRECT | O_LARGEFILE | O_NOATIME | O_PATH | O_DIRECTORY)

/*
 * /proc/PID/... of a process of the image (a process looking at itself
 * or at a child): it exists only once the tree does, so it is opened
 * late (files_restore_late) and not checked before.
 */
static bool is_tree_proc_file(const struct ckpt_image *img, const char *path)
{
	char *end;
	long pid;

	if (strncmp(path, "/proc/", 6))
		return false;
	pid = strtol(path + 6, &end, 10);
	return end != path + 6 && (*end == '/' || !*end) && pid > 0 &&
	       image_find(img, pid) >= 0;
}

static const char *kind_name(uint32_t kind)
{
	return kind == IMG_FD_FIFO ? "a pipe or fifo" :
	       kind == IMG_FD_SOCK ? "a socket" : "an anonymous inode";
}

/*
 * The new process will open it with these flags: try it here, so that a
 * file that stat() finds but open() refuses (EROFS for a writer, EACCES,
 * ETXTBSY) stops the restore before anything exists.  Only regular files
 * and directories: opening a device can have side effects (a tty, a
 * tape), so for those access() checks the mode.
 */
static int check_reopen(struct verdict *v, const struct img_proc *p,
			const struct m_fd *mf)
{
	const struct img_fd *f = mf->f;
	int acc = f->open_flags & O_ACCMODE, fd;

	if (f->open_flags & O_PATH)
		return 0;
	if (f->kind == IMG_FD_REG || f->kind == IMG_FD_DIR) {
		fd = open(mf->path, (f->open_flags & REOPEN_FLAGS) | O_NOCTTY |
			  O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
	} else if (!access(mf->path, acc == O_RDWR ? R_OK | W_OK :
			   acc == O_WRONLY ? W_OK : R_OK)) {
		return 0;
	}
	return verdict_refuse(v, -errno, p->pid[0], "fd", "fd %d: %s: %s", f->fd,
			      mf->path, strerror(errno));
}

static int check_fd(struct verdict *v, const struct ckpt_image *img,
		    const struct img_proc *p, const struct m_fd *mf)
{
	static const mode_t types[] = {
		[IMG_FD_REG] = S_IFREG, [IMG_FD_DIR] = S_IFDIR,
		[IMG_FD_CHR] = S_IFCHR, [IMG_FD_BLK] = S_IFBLK,
	};
	const struct img_fd *f = mf->f;
	struct stat st;

	if (f->kind == IMG_FD_FIFO || f->kind == IMG_FD_SOCK || f->kind == IMG_FD_ANON)
		return verdict_refuse(v, -ENOTSUP, p->pid[0], "fd",
				      "fd %d is %s (%s): restoring it is not "
				      "supported yet", f->fd, kind_name(f->kind),
				      mf->path);
	if (f->flags & IMG_FD_DELETED)
		return verdict_refuse(v, -ENOENT, p->pid[0], "fd",
				      "fd %d: file %s was deleted before the snap",
				      f->fd, mf->path);
	if (is_tree_proc_file(img, mf->path))
		return 0;
	if (stat(mf->path, &st))
		return verdict_refuse(v, -errno, p->pid[0], "fd", "fd %d: %s: %s",
				      f->fd, mf->path, strerror(errno));
	if ((st.st_mode & S_IFMT) != types[f->kind])
		return verdict_refuse(v, -EINVAL, p->pid[0], "fd",
				      "fd %d: %s is no longer a %s", f->fd, mf->path,
				      show_fd_kind(f->kind));
	return check_reopen(v, p, mf);
}

int files_check_image(const struct ckpt_image *img, struct verdict *v)
{
	uint32_t i, j;
	int ret = 0;

	for (i = 0; !ret && i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; !ret && j < mp->nr_fds; j++)
			ret = check_fd(v, img, mp->p, &mp->fds[j]);
	}
	return ret;
}

/* records which file ids every subtree needs, for the fd hand-down */
static int add_fid(struct rst_proc *rp, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < rp->nr_fids; i++)
		if (rp->fids[i] == id)
			return 0;
	return vec_push(rp->fids, rp->nr_fids, rp->cap_fids, id);
}

int files_restore_plan(struct restore_ctx *ctx)
{
	uint32_t i, j, max_id = 0;
	int max_fd = 2, up;
	struct rlimit rl;

	for (i = 0; i < ctx->nr_procs; i++) {
		const struct m_proc *mp = ctx->procs[i].mp;

		for (j = 0; j < mp->nr_fds; j++) {
			const struct img_fd *f = mp->fds[j].f;

			max_fd = MAX(max_fd, f->fd);
			max_id = MAX(max_id, f->file_id);
			/* every ancestor must carry it down */
			for (up = mp->parent; up >= 0; up = ctx->procs[up].mp->parent)
				if (add_fid(&ctx->procs[up], f->file_id))
					return -ENOMEM;
		}
	}
	ctx->fd_base = max_fd + 1;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if ((uint64_t)ctx->fd_base + max_id + 1 > rl.rlim_max) {
		pr_err("fd %d and %u open files need a higher RLIMIT_NOFILE than "
		       "%llu", max_fd, max_id, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return 0;
}

/* in the child from here on: failures go through rst_child_fail() */

static int carrier(struct restore_ctx *ctx, uint32_t file_id)
{
	return ctx->fd_base + file_id;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* opens @mf afresh, positioned, at fd @at */
static void open_at(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		    int at)
{
	const struct img_fd *f = mf->f;
	int fd, flags = (f->open_flags & REOPEN_FLAGS) | O_NOCTTY;

	fd = open(mf->path, flags);
	if (fd < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: open %s", f->fd, mf->path);
	if (f->pos && !(f->open_flags & O_PATH) &&
	    lseek(fd, f->pos, SEEK_SET) < 0 && errno != ESPIPE)
		rst_child_fail(ctx, idx, -errno, "fd %d: lseek %s to %llu", f->fd,
			       mf->path, (unsigned long long)f->pos);
	if (fd != at) {
		if (dup2(fd, at) < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: dup2", f->fd);
		close(fd);
	}
}

static const struct m_fd *find_fid(const struct m_proc *mp, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < mp->nr_fds; i++)
		if (mp->fds[i].f->file_id == id)
			return &mp->fds[i];
	return NULL;
}

/* the parent's fds were inherited at their numbers: move them aside */
static void park_inherited(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp, *pp;
	uint32_t i;

	if (mp->parent < 0) {
		/* the restorer's own fds mean nothing to the tree */
		syscall(SYS_close_range, 0, ~0U, 0);
		return;
	}
	pp = ctx->procs[mp->parent].mp;
	for (i = 0; i < pp->nr_fds; i++) {
		const struct img_fd *f = pp->fds[i].f;
		int c = carrier(ctx, f->file_id);

		/* not open yet in the parent: see files_restore_late() */
		if (is_tree_proc_file(&ctx->img, pp->fds[i].path))
			continue;
		if (!fd_open(c) && dup2(f->fd, c) < 0)
			rst_child_fail(ctx, idx, -errno, "dup2 %d to %d", f->fd, c);
		close(f->fd);
	}
}

int files_restore_child(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp;
	struct rst_proc *rp = &ctx->procs[idx];
	uint32_t i;

	park_inherited(ctx, idx);
	for (i = 0; i < mp->nr_fds; i++) {
		const struct m_fd *mf = &mp->fds[i], *first;
		const struct img_fd *f = mf->f;
		int c = carrier(ctx, f->file_id);

		first = find_fid(mp, f->file_id);
		if (is_tree_proc_file(&ctx->img, mf->path))
			continue;	/* files_restore_late() */
		if (fd_open(c)) {
			if (dup2(c, f->fd) < 0)
				rst_child_fail(ctx, idx, -errno, "fd %d: dup2", f->fd);
		} else if (first != mf) {
			/* a dup of an fd installed just before */
			if (dup2(first->f->fd, f->fd) < 0)
				rst_child_fail(ctx, idx, -errno, "fd %d: dup2", f->fd);
		} else {
			open_at(ctx, idx, mf, f->fd);
		}
		if (fcntl(f->fd, F_SETFD, f->flags & IMG_FD_CLOEXEC ? FD_CLOEXEC : 0))
			rst_child_fail(ctx, idx, -errno, "fd %d: F_SETFD", f->fd);
	}
	/* files our descendants share: open each once, here, for them */
	for (i = 0; i < rp->nr_fids; i++) {
		int c = carrier(ctx, rp->fids[i]);
		const struct m_fd *mf = NULL;
		uint32_t j;

		if (fd_open(c) || find_fid(mp, rp->fids[i]))
			continue;
		for (j = 0; j < ctx->nr_procs && !mf; j++)
			mf = find_fid(ctx->procs[j].mp, rp->fids[i]);
		if (mf && !is_tree_proc_file(&ctx->img, mf->path))
			open_at(ctx, idx, mf, c);
	}
	return 0;
}

/* once every process exists: the /proc files of the tree (each its own) */
void files_restore_late(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp;
	uint32_t i;

	for (i = 0; i < mp->nr_fds; i++) {
		const struct m_fd *mf = &mp->fds[i];

		if (!is_tree_proc_file(&ctx->img, mf->path))
			continue;
		open_at(ctx, idx, mf, mf->f->fd);
		if (fcntl(mf->f->fd, F_SETFD, mf->f->flags & IMG_FD_CLOEXEC ?
			  FD_CLOEXEC : 0))
			rst_child_fail(ctx, idx, -errno, "fd %d: F_SETFD", mf->f->fd);
	}
}

int files_restore_finish(struct restore_ctx *ctx, uint32_t idx)
{
	/* children have their copies: only the image's fds stay */
	syscall(SYS_close_range, ctx->fd_base, ~0U, 0);
	return 0;
}
