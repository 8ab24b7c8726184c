// SPDX-License-Identifier: GPL-2.0
/* signalfd: its mask, from fdinfo (fs/signalfd.c). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

static int signalfd_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			 const struct rec_file *r)
{
	char buf[512];
	const char *m;
	unsigned long long mask;
	int ret;

	ret = fdinfo_read(r->tgid, r->fd, buf, sizeof(buf));
	if (ret)
		return ret;
	m = fdinfo_field(buf, "sigmask");
	if (!m || sscanf(m, "%llx", &mask) != 1)
		return -EPROTO;
	x->sfd.sigmask = mask;
	x->sfd.h.type = IMG_SIGNALFD;
	return 0;
}

static int signalfd_check(struct verdict *v, const struct ckpt_image *img,
			  const struct m_proc *mp, const struct m_fd *mf)
{
	return 0;
}

static void signalfd_open(struct restore_ctx *ctx, uint32_t idx,
			  const struct m_fd *mf, int at)
{
	const struct img_signalfd *s = (const void *)mf->ext;
	int flags = SFD_CLOEXEC | (mf->f->open_flags & O_NONBLOCK ? SFD_NONBLOCK : 0);
	uint64_t mask = s->sigmask;
	int fd;

	/* the kernel's sigset, 8 bytes, as fdinfo shows it */
	fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask), flags);
	if (fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: signalfd", mf->f->fd);
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

const struct fd_kind fd_signalfd_kind = {
	.name = "signalfd",
	.fill = signalfd_fill,
	.check = signalfd_check,
	.open = signalfd_open,
};
