// SPDX-License-Identifier: GPL-2.0
/*
 * inotify: every watch with its path, mask and watch descriptor, from
 * fdinfo ("inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:0 " and
 * a file handle, fs/notify/fdinfo.c); the path comes from the handle
 * (fsnotify.c).  Events queued at snap time are not saved.
 *
 * A program knows its watches by wd, so each comes back with its own:
 * the kernel hands out wds in increasing order from the last one given
 * (idr_alloc_cyclic() in inotify_add_to_idr(), starting at 1), so the
 * watches are added in order of wd, and each gap is stepped over by
 * adding and removing a watch on a memfd of ours; the IN_IGNORED events
 * that leaves are read away before the program runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

#define FDINFO_MAX	(4u << 20)
#define WD_MAX		(1 << 20)	/* watches stepped over, at most */
/* what inotify_mark_user_mask() shows, all of which inotify_add_watch() takes */
#define IN_USER_MASK	(IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK)

/* one "inotify wd:" line into @m */
static int add_watch(struct notify_marks *m, pid_t pid, const char *line)
{
	struct img_notify_mark k = { 0 };
	unsigned int wd, mask, dev;
	unsigned long long ino;
	char path[BCK_PATH_MAX];
	int ret;

	if (sscanf(line, "inotify wd:%x ino:%llx sdev:%x mask:%x", &wd, &ino, &dev,
		   &mask) != 4)
		return -EPROTO;
	k.wd = (int32_t)wd;
	k.ino = ino;
	k.dev = dev;
	k.mask = mask;
	ret = notify_inode_path(pid, line, dev, ino, path, sizeof(path));
	if (ret == -ENOMEM)
		return ret;
	/* no path: recorded without one, and the check refuses it */
	return notify_add(m, &k, ret ? NULL : path);
}

static int inotify_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	struct notify_marks m = { 0 };
	char *buf, *p, *nl;
	int ret;

	buf = malloc(FDINFO_MAX);
	if (!buf)
		return -ENOMEM;
	ret = fdinfo_read(r->tgid, r->fd, buf, FDINFO_MAX);
	for (p = buf; !ret && p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;	/* the handle is parsed within its line */
		if (!strncmp(p, "inotify wd:", 11))
			ret = add_watch(&m, r->tgid, p);
	}
	free(buf);
	return notify_finish(&m, ret, &x->ino.h, IMG_INOTIFY, &x->ino.nr_watches,
			     &x->ino.paths_len, data, len);
}

static int inotify_check(struct verdict *v, const struct ckpt_image *img,
			 const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_inotify *in = (const void *)mf->ext;
	struct img_notify_mark k;
	const char *path;
	uint32_t i;

	/* each wd below the highest is a watch added and removed at restore */
	for (i = 0; i < in->nr_watches; i++) {
		notify_mark(mf, i, &k, &path);
		if (k.wd > WD_MAX)
			return verdict_refuse(v, -E2BIG, mp->p->pid[0], "fd", "fd %d: "
					      "inotify watch %d: wds above %d cannot "
					      "be given back", mf->f->fd, k.wd, WD_MAX);
	}
	return notify_check(v, mp, mf, "inotify watch");
}

struct watch {
	struct img_notify_mark k;
	const char *path;
};

static int cmp_wd(const void *a, const void *b)
{
	const struct watch *x = a, *y = b;

	return x->k.wd < y->k.wd ? -1 : x->k.wd > y->k.wd;
}

/* wds up to @wd - 1 handed out and given back: the next one is @wd */
static int step_to(int fd, int32_t *next, int32_t wd, int *spacer)
{
	char link[64];
	int got;

	if (*next >= wd)
		return 0;
	if (*spacer < 0) {
		*spacer = memfd_create("bpfckpt-wd", MFD_CLOEXEC);
		if (*spacer < 0)
			return -errno;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", *spacer);
	while (*next < wd) {
		got = inotify_add_watch(fd, link, IN_ATTRIB);
		if (got < 0)
			return -errno;
		if (inotify_rm_watch(fd, got))
			return -errno;
		*next = got + 1;
	}
	return 0;
}

/* the IN_IGNORED events of the spacer watches: the program never saw them */
static int drain(int fd)
{
	char buf[4096];
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (errno != EAGAIN || fcntl(fd, F_SETFL, fl))
		return -errno;
	return 0;
}

static void inotify_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			 int at)
{
	const struct img_inotify *in = (const void *)mf->ext;
	struct watch *w = calloc(in->nr_watches + 1, sizeof(*w));
	int fd, spacer = -1, got, ret;
	int32_t next = 1;
	struct stat st;
	uint32_t i;

	fd = inotify_init1(IN_CLOEXEC | (mf->f->open_flags & O_NONBLOCK ? IN_NONBLOCK : 0));
	if (!w || fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, w ? -errno : -ENOMEM, "fd %d: inotify_init1",
			       mf->f->fd);
	for (i = 0; i < in->nr_watches; i++)
		notify_mark(mf, i, &w[i].k, &w[i].path);
	qsort(w, in->nr_watches, sizeof(*w), cmp_wd);
	for (i = 0; i < in->nr_watches; i++) {
		uint32_t mask = w[i].k.mask & IN_USER_MASK;

		ret = step_to(fd, &next, w[i].k.wd, &spacer);
		if (ret)
			rst_child_fail(ctx, idx, ret, "fd %d: stepping to watch %d",
				       mf->f->fd, w[i].k.wd);
		/* a watch on a symlink itself was added with IN_DONT_FOLLOW */
		if (!lstat(w[i].path, &st) && S_ISLNK(st.st_mode))
			mask |= IN_DONT_FOLLOW;
		got = inotify_add_watch(fd, w[i].path, mask);
		if (got < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: watching %s", mf->f->fd,
				       w[i].path);
		if (got != w[i].k.wd)
			rst_child_fail(ctx, idx, -EEXIST, "fd %d: the watch on %s came "
				       "back as %d, not %d", mf->f->fd, w[i].path, got,
				       w[i].k.wd);
		next = got + 1;
	}
	free(w);
	if (spacer >= 0) {
		close(spacer);
		ret = drain(fd);
		if (ret)
			rst_child_fail(ctx, idx, ret, "fd %d: reading inotify events",
				       mf->f->fd);
	}
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

const struct fd_kind fd_inotify_kind = {
	.name = "inotify",
	.fill = inotify_fill,
	.check = inotify_check,
	.open = inotify_open,
};
