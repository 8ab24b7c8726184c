// SPDX-License-Identifier: GPL-2.0
/* File descriptors of one process, from iter/task_file. */
#include <errno.h>
#include <fcntl.h>
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

static int fd_kind(struct snap_proc *sp, const struct rec_file *r, uint32_t *kind)
{
	if (has_prefix(r->path, "anon_inode:")) {
		/* eventfd, epoll, signalfd, timerfd, ...: their state is
		 * not collected yet, so a snap of them would not restore */
		pr_err("pid %d: fd %d is '%s': not supported", sp->pid, r->fd,
		       r->path);
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
		pr_err("pid %d: fd %d is '%s' (mode %o): not supported", sp->pid,
		       r->fd, r->path, r->mode);
		return -ENOTSUP;
	}
	return 0;
}

static int file_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_file *r = (const void *)h;
	struct snap_fd f = { 0 };
	uint32_t kind;
	int ret;

	if (h->type != REC_FILE || size < sizeof(*r))
		return 0;
	/* a shared fd table can be shown once per thread */
	if (sp->nr_fds && r->fd <= sp->fds[sp->nr_fds - 1].f.fd)
		return 0;
	if (r->err & REC_ERR_PATH) {
		pr_err("pid %d: fd %d: reading its path: %s", sp->pid, r->fd,
		       errstr(r->path_len));
		return -EIO;
	}
	ret = fd_kind(sp, r, &kind);
	if (ret)
		return ret;
	f.f.h.type = IMG_FD;
	f.f.fd = r->fd;
	f.f.kind = kind;
	f.f.flags = (r->cloexec ? IMG_FD_CLOEXEC : 0) |
		    (kind == IMG_FD_REG && r->nlink == 0 ? IMG_FD_DELETED : 0);
	f.f.open_flags = r->f_flags;
	f.f.pos = r->pos;
	f.f.mode = r->mode;
	f.f.dev = r->dev;
	f.f.ino = r->ino;
	f.f.rdev = r->rdev;
	f.f.size = r->size;
	f.f.sock_family = r->sock_family;
	f.f.sock_type = r->sock_type;
	f.f.sock_proto = r->sock_proto;
	f.f.sock_state = r->sock_state;
	f.kfile = r->file;
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
