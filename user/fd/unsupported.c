// SPDX-License-Identifier: GPL-2.0
/* Sockets and anonymous inodes: listed in the image, refused by restore. */
#include <errno.h>
#include "fd.h"

static int sock_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	return verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "fd",
			      "fd %d is a socket (%s): restoring it is not "
			      "supported yet", mf->f->fd, mf->path);
}

static int anon_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	return verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "fd",
			      "fd %d is an anonymous inode (%s): restoring it "
			      "is not supported yet", mf->f->fd, mf->path);
}

const struct fd_kind fd_sock_kind = { .name = "sock", .check = sock_check };
const struct fd_kind fd_anon_kind = { .name = "anon", .check = anon_check };
