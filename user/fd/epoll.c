// SPDX-License-Identifier: GPL-2.0
/*
 * epoll: every watched fd with its events and data, from fdinfo
 * (fs/eventpoll.c ep_show_fdinfo).  An item names its file by the fd it
 * was added as, in whichever process added it: restore adds the items
 * again in the first process of the image whose fds at those numbers are
 * those files, once all its fds are in place.  An edge already reported
 * may be reported once more.
 *
 * A EPOLLONESHOT item that fired has no events left, and epoll_ctl()
 * always adds EPOLLERR | EPOLLHUP (do_epoll_ctl()): such an item is made
 * to fire once more, alone in the epoll, which disables it again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

static int epoll_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
		      const struct rec_file *r)
{
	struct img_epoll_item *items = NULL, it;
	uint32_t n = 0, cap = 0;
	const char *p;
	char *buf;
	int ret;

	buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	ret = fdinfo_read(r->tgid, r->fd, buf, 1 << 20);
	for (p = buf; !ret && (p = strstr(p, "tfd:")); p++) {
		unsigned long long ino, udata;
		unsigned int dev;

		memset(&it, 0, sizeof(it));
		/* "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x" */
		if (sscanf(p, "tfd: %d events: %x data: %llx pos:%*d ino:%llx sdev:%x",
			   &it.tfd, &it.events, &udata, &ino, &dev) != 5) {
			ret = -EPROTO;
			break;
		}
		it.ino = ino;
		it.data = udata;
		it.dev = dev;
		if (n == IMG_EPOLL_ITEMS_MAX)
			ret = -EFBIG;
		else
			ret = vec_push(items, n, cap, it);
	}
	free(buf);
	if (ret) {
		free(items);
		return ret;
	}
	x->ep.h.type = IMG_EPOLL;
	x->ep.nr_items = n;
	*data = (uint8_t *)items;
	*len = n * sizeof(*items);
	return 0;
}

static const struct img_epoll_item *item(const struct m_fd *mf, uint32_t i,
					 struct img_epoll_item *buf)
{
	memcpy(buf, mf->data + i * sizeof(*buf), sizeof(*buf));
	return buf;
}

/* fd @fd of @mp is the file @it watches */
static bool holds(const struct m_proc *mp, const struct img_epoll_item *it)
{
	uint32_t i;

	for (i = 0; i < mp->nr_fds; i++)
		if (mp->fds[i].f->fd == it->tfd)
			return mp->fds[i].f->ino == it->ino && mp->fds[i].f->dev == it->dev;
	return false;
}

/* the first process holding @mf's epoll whose fds are all its items; -1 */
static int holder(const struct ckpt_image *img, const struct m_fd *mf)
{
	const struct img_epoll *ep = (const void *)mf->ext;
	struct img_epoll_item buf;
	uint32_t p, i, k;

	for (p = 0; p < img->nr_procs; p++) {
		const struct m_proc *mp = &img->procs[p];
		bool has = false, all = true;

		for (k = 0; k < mp->nr_fds && !has; k++)
			has = mp->fds[k].f->file_id == mf->f->file_id;
		for (i = 0; has && all && i < ep->nr_items; i++)
			all = holds(mp, item(mf, i, &buf));
		if (has && all)
			return p;
	}
	return -1;
}

static int epoll_check(struct verdict *v, const struct ckpt_image *img,
		       const struct m_proc *mp, const struct m_fd *mf)
{
	if (holder(img, mf) < 0)
		return verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "fd", "fd %d: an "
				      "epoll watching files no process of the tree "
				      "holds at the fds they were added as", mf->f->fd);
	return 0;
}

static void epoll_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		       int at)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: epoll_create1", mf->f->fd);
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

#define EPOLL_PRIVATE	(EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define EPOLL_ANY	(EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLERR | EPOLLHUP)

static bool disabled(const struct img_epoll_item *it)
{
	return it->events & EPOLLONESHOT && !(it->events & ~EPOLL_PRIVATE);
}

static void ctl(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		int op, const struct img_epoll_item *it, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.u64 = it->data };

	if (epoll_ctl(mf->f->fd, op, it->tfd, &e))
		rst_child_fail(ctx, idx, -errno, "fd %d: epoll_ctl %s fd %d events %#x",
			       mf->f->fd, op == EPOLL_CTL_ADD ? "add" : "mod", it->tfd,
			       events);
}

/*
 * The fired one-shot items first, each made to fire again alone (the
 * ones before it are disabled): one not ready for anything now gets as
 * close as epoll_ctl() allows.
 */
static void add_disabled(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	const struct img_epoll *ep = (const void *)mf->ext;
	struct img_epoll_item buf;
	struct epoll_event ev;
	uint32_t i;
	int got;

	for (i = 0; i < ep->nr_items; i++) {
		if (!disabled(item(mf, i, &buf)))
			continue;
		ctl(ctx, idx, mf, EPOLL_CTL_ADD, &buf, EPOLLONESHOT | EPOLL_ANY);
		got = epoll_wait(mf->f->fd, &ev, 1, 0);
		if (got < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: epoll_wait", mf->f->fd);
		if (!got)
			ctl(ctx, idx, mf, EPOLL_CTL_MOD, &buf, buf.events);
	}
}

static void epoll_install(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	const struct img_epoll *ep = (const void *)mf->ext;
	const struct m_proc *mp = ctx->procs[idx].mp;
	struct img_epoll_item buf;
	uint32_t i;

	if (holder(&ctx->img, mf) != (int)idx)
		return;
	for (i = 0; i < mp->nr_fds; i++)
		if (mp->fds[i].f->file_id == mf->f->file_id)
			break;
	if (&mp->fds[i] != mf)
		return;		/* a dup: once is enough */
	add_disabled(ctx, idx, mf);
	for (i = 0; i < ep->nr_items; i++)
		if (!disabled(item(mf, i, &buf)))
			ctl(ctx, idx, mf, EPOLL_CTL_ADD, &buf, buf.events);
}

const struct fd_kind fd_epoll_kind = {
	.name = "epoll",
	.fill = epoll_fill,
	.check = epoll_check,
	.open = epoll_open,
	.install = epoll_install,
};
