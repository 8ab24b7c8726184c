// SPDX-License-Identifier: GPL-2.0
/* File descriptors of one process, from iter/task_file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "img.h"
#include "log.h"
#include "snap.h"
#include "util.h"

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

int files_fd_kind(const struct rec_file *r, uint32_t *kind, char *why, size_t len)
{
	*kind = 0;
	if (r->err & REC_ERR_PATH) {
		snprintf(why, len, "fd %d: reading its path: %s", r->fd,
			 errstr(r->path_len));
		return -EIO;
	}
	if (has_prefix(r->path, "anon_inode:")) {
		/* eventfd, epoll, signalfd, timerfd, ...: their state is
		 * not collected yet, so a snap of them would not restore */
		snprintf(why, len, "fd %d is '%s': not supported", r->fd, r->path);
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
			 r->path, r->mode);
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
	char why[BCK_PATH_MAX + 128];
	uint32_t kind;
	int ret;

	if (h->type != REC_FILE || size < sizeof(*r))
		return 0;
	/* a shared fd table can be shown once per thread */
	if (sp->nr_fds && r->fd <= sp->fds[sp->nr_fds - 1].f.fd)
		return 0;
	ret = files_fd_kind(r, &kind, why, sizeof(why));
	if (ret) {
		pr_err("pid %d: %s", sp->pid, why);
		return ret;
	}
	files_fill_fd(&f.f, r, kind);
	f.path = strndup(r->path, sizeof(r->path));
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

int files_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < sp->nr_fds && !ret; i++) {
		struct snap_fd *f = &sp->fds[i];
		struct img_part part = { f->path, strlen(f->path) + 1 };

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
