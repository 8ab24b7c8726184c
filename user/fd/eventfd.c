// SPDX-License-Identifier: GPL-2.0
/* eventfd: its count and EFD_SEMAPHORE, from fdinfo (fs/eventfd.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

static int eventfd_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	struct img_eventfd *e = &x->efd;
	char buf[512];
	const char *c, *s;
	unsigned long long count;
	int ret;

	ret = fdinfo_read(r->tgid, r->fd, buf, sizeof(buf));
	if (ret)
		return ret;
	c = fdinfo_field(buf, "eventfd-count");
	s = fdinfo_field(buf, "eventfd-semaphore");
	/* the count is in hex ("%16llx") */
	if (!c || sscanf(c, "%llx", &count) != 1)
		return -EPROTO;
	e->count = count;
	e->semaphore = s && s[strspn(s, " \t")] == '1';
	e->h.type = IMG_EVENTFD;
	return 0;
}

static int eventfd_check(struct verdict *v, const struct ckpt_image *img,
			 const struct m_proc *mp, const struct m_fd *mf)
{
	return 0;
}

static void eventfd_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			 int at)
{
	const struct img_eventfd *e = (const void *)mf->ext;
	int flags = EFD_CLOEXEC | (e->semaphore ? EFD_SEMAPHORE : 0) |
		    (mf->f->open_flags & O_NONBLOCK ? EFD_NONBLOCK : 0);
	int fd = eventfd(0, flags);

	if (fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: eventfd", mf->f->fd);
	/* the initial value is an unsigned int; a write adds all 64 bits */
	if (e->count && write(fd, &e->count, sizeof(e->count)) != sizeof(e->count))
		rst_child_fail(ctx, idx, -errno, "fd %d: eventfd count %llu", mf->f->fd,
			       (unsigned long long)e->count);
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

const struct fd_kind fd_eventfd_kind = {
	.name = "eventfd",
	.fill = eventfd_fill,
	.check = eventfd_check,
	.open = eventfd_open,
};
