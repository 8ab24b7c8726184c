// SPDX-License-Identifier: GPL-2.0
/*
 * fanotify: the group's fanotify_init() flags and every mark -- on an
 * inode, a mount or a filesystem -- with its masks, from fdinfo
 * (fs/notify/fdinfo.c fanotify_fdinfo()):
 *   fanotify flags:%x event-flags:%x
 *   fanotify ino:%lx sdev:%x mflags:%x mask:%x ignored_mask:%x <handle>
 *   fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x
 *   fanotify sdev:%x mflags:%x mask:%x ignored_mask:%x
 * An inode mark's path comes from its handle, a mount's or a
 * filesystem's from the target's mountinfo (fsnotify.c).  Events queued
 * at snap time are not saved, nor permission events awaiting an answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

#define FDINFO_MAX	(4u << 20)
/* the mflags fdinfo shows (fanotify_mark_user_flags()) */
#define FAN_MFLAGS	(FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)

static int parse_mark(const char *line, struct img_notify_mark *k, pid_t pid,
		      char *path, size_t size)
{
	unsigned int dev = 0, mflags, mask, ign, id;
	unsigned long long ino = 0;
	struct stat st;
	int ret;

	memset(k, 0, sizeof(*k));
	if (sscanf(line, "fanotify ino:%llx sdev:%x mflags:%x mask:%x ignored_mask:%x",
		   &ino, &dev, &mflags, &mask, &ign) == 5) {
		k->type = IMG_FAN_MARK_INODE;
		ret = notify_inode_path(pid, line, dev, ino, path, size);
	} else if (sscanf(line, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x",
			  &id, &mflags, &mask, &ign) == 4) {
		k->type = IMG_FAN_MARK_MOUNT;
		ret = notify_mount_path(pid, (int)id, 0, path, size);
		if (!ret && !stat(path, &st)) {
			ino = st.st_ino;
			dev = (major(st.st_dev) << 20) | minor(st.st_dev);
		}
	} else if (sscanf(line, "fanotify sdev:%x mflags:%x mask:%x ignored_mask:%x",
			  &dev, &mflags, &mask, &ign) == 4) {
		k->type = IMG_FAN_MARK_FS;
		ret = notify_mount_path(pid, -1, dev, path, size);
	} else {
		return -EPROTO;
	}
	k->ino = ino;
	k->dev = dev;
	k->flags = mflags & FAN_MFLAGS;
	k->mask = mask;
	k->ignored_mask = ign;
	return ret;
}

static int fanotify_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			 const struct rec_file *r)
{
	struct notify_marks m = { 0 };
	struct img_notify_mark k;
	char path[BCK_PATH_MAX];
	unsigned int fl, efl;
	char *buf, *p, *nl;
	bool head = false;
	int ret;

	buf = malloc(FDINFO_MAX);
	if (!buf)
		return -ENOMEM;
	ret = fdinfo_read(r->tgid, r->fd, buf, FDINFO_MAX);
	for (p = buf; !ret && p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;	/* the handle is parsed within its line */
		if (sscanf(p, "fanotify flags:%x event-flags:%x", &fl, &efl) == 2) {
			x->fan.init_flags = fl;
			x->fan.event_flags = efl;
			head = true;
		} else if (!strncmp(p, "fanotify ", 9)) {
			ret = parse_mark(p, &k, r->tgid, path, sizeof(path));
			if (ret == -ENOMEM || ret == -EPROTO)
				break;
			/* no path: recorded without one, and the check refuses it */
			ret = notify_add(&m, &k, ret ? NULL : path);
		}
	}
	free(buf);
	if (!ret && !head)
		ret = -EPROTO;
	return notify_finish(&m, ret, &x->fan.h, IMG_FANOTIFY, &x->fan.nr_watches,
			     &x->fan.paths_len, data, len);
}

static int fanotify_check(struct verdict *v, const struct ckpt_image *img,
			  const struct m_proc *mp, const struct m_fd *mf)
{
	return notify_check(v, mp, mf, "fanotify mark");
}

static unsigned int type_flag(uint32_t type)
{
	return type == IMG_FAN_MARK_MOUNT ? FAN_MARK_MOUNT :
	       type == IMG_FAN_MARK_FS ? FAN_MARK_FILESYSTEM : FAN_MARK_INODE;
}

static void add_mark(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     int fd, const struct img_notify_mark *k, const char *path)
{
	unsigned int base = FAN_MARK_ADD | type_flag(k->type) |
			    (k->flags & FAN_MARK_EVICTABLE), ign;
	struct stat st;

	if (k->type == IMG_FAN_MARK_INODE && !lstat(path, &st) && S_ISLNK(st.st_mode))
		base |= FAN_MARK_DONT_FOLLOW;
	if (k->mask && fanotify_mark(fd, base, k->mask, AT_FDCWD, path))
		rst_child_fail(ctx, idx, -errno, "fd %d: fanotify_mark %s mask %#x",
			       mf->f->fd, path, k->mask);
	if (!k->ignored_mask)
		return;
	/* FAN_MARK_IGNORE (6.0) and the older ignored mask are two kinds */
	ign = base | (k->flags & FAN_MARK_IGNORED_SURV_MODIFY) |
	      (k->flags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK);
	if (fanotify_mark(fd, ign, k->ignored_mask, AT_FDCWD, path))
		rst_child_fail(ctx, idx, -errno, "fd %d: fanotify_mark %s ignored "
			       "mask %#x", mf->f->fd, path, k->ignored_mask);
}

static void fanotify_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			  int at)
{
	const struct img_fanotify *fa = (const void *)mf->ext;
	/* FAN_CLOEXEC as it was: fdinfo shows it (files.c sets the fd's) */
	unsigned int flags = (fa->init_flags & ~FAN_NONBLOCK) |
			     (mf->f->open_flags & O_NONBLOCK ? FAN_NONBLOCK : 0);
	struct img_notify_mark k;
	const char *path;
	uint32_t i;
	int fd;

	fd = fanotify_init(flags, fa->event_flags);
	if (fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: fanotify_init %#x %#x", mf->f->fd,
			       flags, fa->event_flags);
	/* fdinfo lists the newest mark first: added oldest first again */
	for (i = fa->nr_watches; i-- > 0;) {
		notify_mark(mf, i, &k, &path);
		add_mark(ctx, idx, mf, fd, &k, path);
	}
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

const struct fd_kind fd_fanotify_kind = {
	.name = "fanotify",
	.fill = fanotify_fill,
	.check = fanotify_check,
	.open = fanotify_open,
};
