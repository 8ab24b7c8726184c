// SPDX-License-Identifier: GPL-2.0
/* File descriptors of one process, from iter/task_file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fd/fd.h"
#include "img.h"
#include "inject.h"
#include "locks.h"
#include "log.h"
#include "restore.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

/* what each IMG_FD_* kind does, in user/fd/ */
static const struct fd_kind *const kinds[IMG_FD_KIND_MAX + 1] = {
	[IMG_FD_REG] = &fd_reg_kind,
	[IMG_FD_DIR] = &fd_dir_kind,
	[IMG_FD_CHR] = &fd_chr_kind,
	[IMG_FD_BLK] = &fd_blk_kind,
	[IMG_FD_FIFO] = &fd_pipe_kind,
	[IMG_FD_SOCK] = &fd_sock_kind,
	[IMG_FD_UNIX] = &fd_unix_kind,
	[IMG_FD_EVENTFD] = &fd_eventfd_kind,
	[IMG_FD_TIMERFD] = &fd_timerfd_kind,
	[IMG_FD_SIGNALFD] = &fd_signalfd_kind,
	[IMG_FD_EPOLL] = &fd_epoll_kind,
	[IMG_FD_MEMFD] = &fd_memfd_kind,
	[IMG_FD_GONE] = &fd_gone_kind,
	[IMG_FD_ANON] = &fd_anon_kind,
	[IMG_FD_INOTIFY] = &fd_inotify_kind,
	[IMG_FD_FANOTIFY] = &fd_fanotify_kind,
	[IMG_FD_TTY] = &fd_tty_kind,
	[IMG_FD_INET] = &fd_inet_kind,
};

/* the model's loader admits only kinds 1..IMG_FD_KIND_MAX */
static const struct fd_kind *kind_of(uint32_t kind)
{
	return kind <= IMG_FD_KIND_MAX ? kinds[kind] : NULL;
}

const char *files_kind_name(uint32_t kind)
{
	return kind_of(kind) ? kind_of(kind)->name : "?";
}

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

/* TCP or UDP over IPv4 or IPv6: user/fd/inet.c */
static bool is_inet(const struct rec_file *r)
{
	return (r->sock_family == AF_INET || r->sock_family == AF_INET6) &&
	       ((r->sock_type == SOCK_STREAM && r->sock_proto == IPPROTO_TCP) ||
		(r->sock_type == SOCK_DGRAM && r->sock_proto == IPPROTO_UDP));
}

#define MQUEUE_MAGIC	0x19800202	/* ipc/mqueue.c: not in the uapi headers */

int files_fd_kind(const struct rec_file *r, const char *path, uint32_t *kind,
		  char *why, size_t len)
{
	static const struct { const char *path; uint32_t kind; } anon[] = {
		{ "anon_inode:[eventfd]", IMG_FD_EVENTFD },
		{ "anon_inode:[timerfd]", IMG_FD_TIMERFD },
		{ "anon_inode:[signalfd]", IMG_FD_SIGNALFD },
		{ "anon_inode:[eventpoll]", IMG_FD_EPOLL },
		/* inotify_init1(): "inotify", no brackets (fs/notify/inotify) */
		{ "anon_inode:inotify", IMG_FD_INOTIFY },
		{ "anon_inode:[fanotify]", IMG_FD_FANOTIFY },
	};
	size_t i;

	*kind = 0;
	for (i = 0; i < ARRAY_SIZE(anon); i++) {
		if (!strcmp(path, anon[i].path)) {
			*kind = anon[i].kind;
			return 0;
		}
	}
	if (has_prefix(path, "anon_inode:")) {
		/* the others' state is not collected, so they would not restore */
		snprintf(why, len, "fd %d is '%s': not supported", r->fd, path);
		return -ENOTSUP;
	}
	if (r->sb_magic == MQUEUE_MAGIC) {
		/* its messages can only be read by taking them off the queue */
		snprintf(why, len, "fd %d is the POSIX message queue %s: restoring "
			 "message queues is not supported", r->fd, path);
		return -ENOTSUP;
	}
	switch (r->mode & S_IFMT) {
	case S_IFREG:
		*kind = has_prefix(path, "/memfd:") ? IMG_FD_MEMFD :
			r->nlink == 0 ? IMG_FD_GONE : IMG_FD_REG;
		break;
	case S_IFDIR:
		*kind = IMG_FD_DIR;
		break;
	case S_IFCHR:
		*kind = tty_is_pty(r->rdev) ? IMG_FD_TTY : IMG_FD_CHR;
		break;
	case S_IFBLK:
		*kind = IMG_FD_BLK;
		break;
	case S_IFIFO:
		*kind = IMG_FD_FIFO;
		break;
	case S_IFSOCK:
		*kind = r->sock_family == AF_UNIX ? IMG_FD_UNIX :
			is_inet(r) ? IMG_FD_INET : IMG_FD_SOCK;
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
		   (kind == IMG_FD_GONE ? IMG_FD_DELETED : 0);
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

int files_fill_ext(union fd_ext *x, uint8_t **data, uint32_t *len,
		   const struct rec_file *r, uint32_t kind)
{
	const struct fd_kind *k = kind_of(kind);

	memset(x, 0, sizeof(*x));
	*data = NULL;
	*len = 0;
	return k && k->fill ? k->fill(x, data, len, r) : 0;
}

/* the fixed part of a kind's record */
static size_t ext_size(const union fd_ext *x)
{
	switch (x->h.type) {
	case IMG_PIPE: return sizeof(x->pipe);
	case IMG_UNIX: return sizeof(x->sk);
	case IMG_EVENTFD: return sizeof(x->efd);
	case IMG_TIMERFD: return sizeof(x->tfd);
	case IMG_SIGNALFD: return sizeof(x->sfd);
	case IMG_EPOLL: return sizeof(x->ep);
	case IMG_FILEDATA: return sizeof(x->fd);
	case IMG_INOTIFY: return sizeof(x->ino);
	case IMG_FANOTIFY: return sizeof(x->fan);
	case IMG_TTY: return sizeof(x->tty);
	case IMG_INET: return sizeof(x->in);
	}
	return 0;
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
	ret = files_fill_ext(&f.x, &f.data, &f.data_len, r, kind);
	if (ret) {
		pr_err("pid %d: fd %d (%s): %s", sp->pid, r->fd, path, errstr(ret));
		return ret;
	}
	f.kfile = r->file;
	f.path = strdup(path);
	ret = f.path ? vec_push(sp->fds, sp->nr_fds, sp->cap_fds, f) : -ENOMEM;
	if (ret) {
		free(f.path);
		free(f.data);
	}
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
	return ret ? ret : locks_collect(ctx, sp);
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

/* the kind's record after the fd's, with its bytes */
static int write_ext(struct snap_ctx *ctx, struct snap_fd *f)
{
	struct img_part part = { f->data, f->data_len };
	if (!f->x.h.type)
		return 0;
	return img_put(ctx->w, &f->x, ext_size(&f->x), &part, part.len ? 1 : 0);
}

int files_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < sp->nr_fds && !ret; i++) {
		struct snap_fd *f = &sp->fds[i];
		struct img_part part = { f->path, strlen(f->path) + 1 };
		const struct fd_kind *k = kind_of(f->f.kind);

		ret = file_id(ctx, f->kfile, &f->f.file_id);
		if (ret)
			break;
		if (k && k->peek) {
			ret = k->peek(ctx, sp, f);
			if (ret) {
				ctx->reported = true;	/* the kind said it */
				break;
			}
		}
		f->f.path_len = part.len;
		ret = img_put(ctx->w, &f->f, sizeof(f->f), &part, 1);
		if (!ret)
			ret = write_ext(ctx, f);
	}
	return ret ? ret : locks_write(ctx, sp);
}

void files_free(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_fds; i++) {
		free(sp->fds[i].path);
		free(sp->fds[i].data);
	}
	free(sp->fds);
	locks_free(sp);
}

/* ---- restorability ---- */

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

/* the restore --inherit-fd that gives @mf, -1 if none */
static int inherited(const struct inherit_fd *inh, uint32_t n, const struct m_fd *mf)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(inh[i].key, mf->path) &&
		    inh[i].acc == (int)(mf->f->open_flags & O_ACCMODE))
			return i;
	return -1;
}

int files_check_image(const struct ckpt_image *img, struct verdict *v)
{
	uint32_t i, j;
	int ret = 0;

	for (i = 0; !ret && i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; !ret && j < mp->nr_fds; j++) {
			const struct m_fd *mf = &mp->fds[j];
			const struct fd_kind *k = kind_of(mf->f->kind);

			/* an fd restore is given stands for the snapped one */
			if (is_tree_proc_file(img, mf->path) ||
			    inherited(v->inh, v->nr_inh, mf) >= 0)
				continue;
			if (!k || !k->check)
				ret = verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "fd",
						     "fd %d: kind %u is not known",
						     mf->f->fd, mf->f->kind);
			else
				ret = k->check(v, img, mp, mf);
		}
	}
	return ret;
}

/* ---- restore ---- */

/* records which file ids every subtree needs, for the fd hand-down */
static int add_fid(struct rst_proc *rp, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < rp->nr_fids; i++)
		if (rp->fids[i] == id)
			return 0;
	return vec_push(rp->fids, rp->nr_fids, rp->cap_fids, id);
}

int files_check_inherit(const struct restore_ctx *ctx)
{
	uint32_t i, j, k;

	for (i = 0; i < ctx->nr_inh; i++) {
		const struct inherit_fd *in = &ctx->inh[i];
		bool used = false;

		for (j = 0; j < ctx->img.nr_procs && !used; j++) {
			const struct m_proc *mp = &ctx->img.procs[j];

			for (k = 0; k < mp->nr_fds && !used; k++)
				used = inherited(in, 1, &mp->fds[k]) == 0;
		}
		if (!used) {
			pr_err("--inherit-fd fd[%d]:%s: no fd of the image is %s "
			       "opened %s", in->fd, in->key, in->key,
			       in->acc == O_RDONLY ? "for reading" :
			       in->acc == O_WRONLY ? "for writing" : "read-write");
			return -EINVAL;
		}
	}
	return 0;
}

/* each --inherit-fd moves above every carrier, out of the root's way */
static int plan_inherit(struct restore_ctx *ctx, int above)
{
	uint32_t i;
	int fd;

	for (i = 0; i < ctx->nr_inh; i++) {
		struct inherit_fd *in = &ctx->inh[i];

		fd = fcntl(in->fd, F_DUPFD_CLOEXEC, above + (int)i);
		if (fd < 0) {
			pr_err("--inherit-fd fd[%d]: %s", in->fd, strerror(errno));
			return -errno;
		}
		in->moved = fd;
	}
	return 0;
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
	if ((uint64_t)ctx->fd_base + max_id + 1 + ctx->nr_inh > rl.rlim_max) {
		pr_err("fd %d and %u open files need a higher RLIMIT_NOFILE than "
		       "%llu", max_fd, max_id, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	ctx->fd_top = ctx->fd_base + max_id + 1;
	return plan_inherit(ctx, ctx->fd_top);
}

/* in the child from here on: failures go through rst_child_fail() */

static const struct m_fd *find_fid(const struct m_proc *mp, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < mp->nr_fds; i++)
		if (mp->fds[i].f->file_id == id)
			return &mp->fds[i];
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * The root: the restorer's own fds mean nothing to the tree, but the
 * ones --inherit-fd gives go to the carriers of the files they stand for.
 */
static void park_root(struct restore_ctx *ctx, uint32_t idx)
{
	int keep[64], n = 0, lo = 0, i;
	uint32_t p, j;

	for (p = 0; p < ctx->nr_procs; p++) {
		const struct m_proc *mp = ctx->procs[p].mp;

		for (j = 0; j < mp->nr_fds; j++) {
			int in = inherited(ctx->inh, ctx->nr_inh, &mp->fds[j]);
			int c = fd_carrier(ctx, mp->fds[j].f->file_id);

			for (i = 0; in >= 0 && i < n; i++)
				if (keep[i] == c)
					in = -1;	/* a dup of one placed already */
			if (in < 0)
				continue;
			if (n == ARRAY_SIZE(keep))
				rst_child_fail(ctx, idx, -EMFILE, "more than %d "
					       "inherited files", n);
			if (dup2(ctx->inh[in].moved, c) < 0)
				rst_child_fail(ctx, idx, -errno, "--inherit-fd fd[%d]: "
					       "dup2", ctx->inh[in].fd);
			keep[n++] = c;
		}
	}
	qsort(keep, n, sizeof(*keep), cmp_int);
	for (i = 0; i < n; lo = keep[i++] + 1)
		if (keep[i] > lo)
			syscall(SYS_close_range, lo, keep[i] - 1, 0);
	syscall(SYS_close_range, lo, ~0U, 0);
}

/* the parent's fds were inherited at their numbers: move them aside */
static void park_inherited(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp, *pp;
	uint32_t i;

	if (mp->parent < 0)
		return park_root(ctx, idx);
	/* every file of the parent is at its carrier too */
	pp = ctx->procs[mp->parent].mp;
	for (i = 0; i < pp->nr_fds; i++)
		if (!is_tree_proc_file(&ctx->img, pp->fds[i].path))
			close(pp->fds[i].f->fd);
}

/* file @mf at its carrier, opened by its kind unless already there */
static void open_carrier(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	const struct fd_kind *k = kind_of(mf->f->kind);
	int c = fd_carrier(ctx, mf->f->file_id);

	if (fd_is_open(c))
		return;
	if (!k || !k->open)
		rst_child_fail(ctx, idx, -ENOTSUP, "fd %d: kind %u cannot be opened",
			       mf->f->fd, mf->f->kind);
	k->open(ctx, idx, mf, c);
}

static void set_cloexec(struct restore_ctx *ctx, uint32_t idx, const struct img_fd *f)
{
	if (fcntl(f->fd, F_SETFD, f->flags & IMG_FD_CLOEXEC ? FD_CLOEXEC : 0))
		rst_child_fail(ctx, idx, -errno, "fd %d: F_SETFD", f->fd);
}

int files_restore_child(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp;
	struct rst_proc *rp = &ctx->procs[idx];
	uint32_t i;

	park_inherited(ctx, idx);
	for (i = 0; i < mp->nr_fds; i++) {
		const struct m_fd *mf = &mp->fds[i];
		const struct img_fd *f = mf->f;

		if (is_tree_proc_file(&ctx->img, mf->path))
			continue;	/* files_restore_late() */
		open_carrier(ctx, idx, mf);
		if (dup2(fd_carrier(ctx, f->file_id), f->fd) < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: dup2", f->fd);
		set_cloexec(ctx, idx, f);
	}
	for (i = 0; i < mp->nr_fds; i++) {
		const struct fd_kind *k = kind_of(mp->fds[i].f->kind);

		if (k && k->install && !is_tree_proc_file(&ctx->img, mp->fds[i].path))
			k->install(ctx, idx, &mp->fds[i]);
	}
	/* files our descendants share: open each once, here, for them */
	for (i = 0; i < rp->nr_fids; i++) {
		const struct m_fd *mf = NULL;
		uint32_t j;

		if (fd_is_open(fd_carrier(ctx, rp->fids[i])))
			continue;
		for (j = 0; j < ctx->nr_procs && !mf; j++)
			mf = find_fid(ctx->procs[j].mp, rp->fids[i]);
		if (mf && !is_tree_proc_file(&ctx->img, mf->path))
			open_carrier(ctx, idx, mf);
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
		const struct fd_kind *k = kind_of(mf->f->kind);

		if (k && k->settle && !is_tree_proc_file(&ctx->img, mf->path))
			k->settle(ctx, idx, mf);
		if (!is_tree_proc_file(&ctx->img, mf->path) || !k || !k->open)
			continue;
		k->open(ctx, idx, mf, mf->f->fd);
		set_cloexec(ctx, idx, mf->f);
	}
}

int files_restore_finish(struct restore_ctx *ctx, uint32_t idx)
{
	/* children have their copies: only the image's fds stay */
	syscall(SYS_close_range, ctx->fd_base, ~0U, 0);
	return 0;
}
