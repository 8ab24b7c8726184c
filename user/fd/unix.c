// SPDX-License-Identifier: GPL-2.0
/*
 * AF_UNIX sockets.  What the kernel tells about a socket without
 * stopping anyone comes from sock_diag (its peer, name, state, shutdown,
 * buffer sizes, pending connections); its receive queue is read at snap
 * time with MSG_PEEK, walked with SO_PEEK_OFF, on a copy of the fd taken
 * with pidfd_getfd() (the original peek offset is put back).
 *
 * Restore: a connected pair inside the tree whose one end has a name (an
 * accepted socket has its listener's) is connected and accepted again,
 * from the image's listener if this process opens it, or from one bound
 * to that name for the moment if the image has no listener of it; else,
 * and for a pair without names, a socketpair (names lost).  A socket
 * connected to a named one connects to it again, bound
 * and listening sockets bind (a stale socket file is replaced) and
 * listen; each queue is refilled by sending its messages again, one
 * send per datagram, then the shutdown state is applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"
#include "log.h"

#define PEEK_BUF	(256 << 10)	/* above the largest unix datagram */

static const struct sockopt_flag unix_opts[] = {
	{ SOL_SOCKET, SO_PASSCRED, IMG_UNIX_F_PASSCRED, "SO_PASSCRED" },
};
#define QUEUE_MAX	(8 << 20)	/* bytes of queue an image takes */

/* ---- snap and inspect: sock_diag ---- */

static void diag_attrs(struct img_unix *u, const struct unix_diag_msg *m, int len)
{
	const struct rtattr *a = (const void *)(m + 1);
	const uint32_t *mem;

	len -= NLMSG_ALIGN(sizeof(*m));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		const void *d = RTA_DATA(a);
		size_t n = RTA_PAYLOAD(a);

		switch (a->rta_type) {
		case UNIX_DIAG_NAME:
			u->name_len = n < sizeof(u->name) ? n : sizeof(u->name);
			memcpy(u->name, d, u->name_len);
			break;
		case UNIX_DIAG_PEER:
			if (n >= 4)
				u->peer = *(const uint32_t *)d;
			break;
		case UNIX_DIAG_RQLEN:
			/* a listener's: connections waiting, its backlog */
			if (n >= sizeof(struct unix_diag_rqlen) && m->udiag_state == IMG_UNIX_LISTEN) {
				const struct unix_diag_rqlen *q = d;

				u->backlog = q->udiag_wqueue;
				if (q->udiag_rqueue)
					u->flags |= IMG_UNIX_F_PENDING;
			}
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (n >= 1)
				u->shutdown = *(const uint8_t *)d;
			break;
		case UNIX_DIAG_MEMINFO:
			mem = d;
			if (n >= (SK_MEMINFO_SNDBUF + 1) * 4) {
				u->rcvbuf = mem[SK_MEMINFO_RCVBUF];
				u->sndbuf = mem[SK_MEMINFO_SNDBUF];
			}
			break;
		}
	}
}

/* the state of socket inode @ino, from NETLINK_SOCK_DIAG */
static int diag(struct img_unix *u, uint64_t ino)
{
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u,
		       .udiag_ino = ino,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER |
				     UDIAG_SHOW_RQLEN | UDIAG_SHOW_MEMINFO,
		       .udiag_cookie = { ~0u, ~0u } },
	};
	union {
		struct nlmsghdr nh;
		char b[8192];
	} buf;
	const struct nlmsghdr *nh = &buf.nh;
	int sk, ret = -ENOENT;
	ssize_t n;

	sk = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (sk < 0)
		return -errno;
	if (send(sk, &req, sizeof(req), 0) != sizeof(req)) {
		ret = -errno;
		goto out;
	}
	n = recv(sk, buf.b, sizeof(buf.b), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	if (!NLMSG_OK(nh, n))
		goto out;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		ret = e->error ? e->error : -ENOENT;
		goto out;
	}
	if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct unix_diag_msg))) {
		const struct unix_diag_msg *m = NLMSG_DATA(nh);

		u->type = m->udiag_type;
		u->state = m->udiag_state;
		diag_attrs(u, m, nh->nlmsg_len - NLMSG_HDRLEN);
		ret = 0;
	}
out:
	close(sk);
	return ret;
}

static int unix_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	struct img_unix *u = &x->sk;
	const char *scm;
	char buf[512];

	memset(u, 0, sizeof(*u));
	u->h.type = IMG_UNIX;
	u->ino = r->ino;
	/*
	 * fds in flight in its receive queue, counted in fdinfo
	 * (unix_show_fdinfo()): inspect, which peeks at no queue, sees
	 * them there (snap's peek sees them too, where fdinfo lacks it)
	 */
	if (!fdinfo_read(r->tgid, r->fd, buf, sizeof(buf)) &&
	    (scm = fdinfo_field(buf, "scm_fds")) && strtoul(scm, NULL, 10) > 0)
		u->flags |= IMG_UNIX_F_RIGHTS;
	/* sock_diag knows an inode only in its network namespace */
	return diag(u, r->ino);
}

/* ---- snap: the queue ---- */

struct queue {
	uint32_t *lens;
	uint32_t nr, cap;
	uint8_t *bytes;
	size_t len;
};

/* closes what an SCM_RIGHTS peek installed here; true if there was any */
static bool drop_rights(struct msghdr *mh)
{
	struct cmsghdr *c;
	bool any = false;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		any = true;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++)
			close(((int *)CMSG_DATA(c))[i]);
	}
	return any;
}

static int peek_all(int sk, struct img_unix *u, struct queue *q, uint8_t *buf)
{
	char ctl[CMSG_SPACE(253 * sizeof(int)) + CMSG_SPACE(64)];
	struct iovec iov = { buf, PEEK_BUF };
	struct msghdr mh;
	ssize_t n;
	int ret;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (drop_rights(&mh) || mh.msg_flags & MSG_CTRUNC)
			u->flags |= IMG_UNIX_F_RIGHTS;
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* a stream's end after shutdown; an empty datagram stops the walk */
		if (!n)
			return 0;
		if (q->len + n > QUEUE_MAX || q->nr == IMG_UNIX_MSGS_MAX)
			return -EFBIG;
		ret = vec_push(q->lens, q->nr, q->cap, (uint32_t)n);
		if (ret)
			return ret;
		q->bytes = realloc(q->bytes, q->len + n);
		if (!q->bytes)
			return -ENOMEM;
		memcpy(q->bytes + q->len, buf, n);
		q->len += n;
	}
}

/* the queue of @sk left as it was: SO_PEEK_OFF moves the peeks on */
static int read_queue(int sk, struct img_unix *u, struct queue *q)
{
	int off = -1, zero = 0, ret;
	socklen_t sl = sizeof(off);
	uint8_t *buf;

	buf = malloc(PEEK_BUF);
	if (!buf)
		return -ENOMEM;
	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, &sl) ||
	    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		free(buf);
		return -errno;
	}
	ret = peek_all(sk, u, q, buf);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) && !ret)
		ret = -errno;
	free(buf);
	return ret;
}

static int unix_peek(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f)
{
	struct img_unix *u = &f->x.sk;
	struct queue q = { 0 };
	int pidfd, sk, ret = 0;

	if (snap_obj_seen(&ctx->objs, f->f.dev, f->f.ino, &ret) || ret)
		return ret;
	pidfd = syscall(SYS_pidfd_open, sp->pid, 0);
	sk = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, f->f.fd, 0);
	if (sk < 0) {
		ret = -errno;
		pr_err("pid %d: fd %d: pidfd_getfd: %s", sp->pid, f->f.fd, errstr(ret));
		goto out;
	}
	u->flags |= sockopt_flags(sk, unix_opts, ARRAY_SIZE(unix_opts)) | IMG_UNIX_F_QUEUED;
	if (u->state != IMG_UNIX_LISTEN)
		ret = read_queue(sk, u, &q);
	if (ret) {
		pr_err("pid %d: fd %d: reading the queue of %s: %s", sp->pid, f->f.fd,
		       f->path, errstr(ret));
		goto out;
	}
	f->data_len = q.nr * sizeof(uint32_t) + q.len;
	f->data = malloc(f->data_len ? f->data_len : 1);
	if (!f->data) {
		ret = -ENOMEM;
		goto out;
	}
	if (q.nr) {
		memcpy(f->data, q.lens, q.nr * sizeof(uint32_t));
		memcpy(f->data + q.nr * sizeof(uint32_t), q.bytes, q.len);
	}
	u->nr_msgs = q.nr;
	u->data_len = q.len;
out:
	free(q.lens);
	free(q.bytes);
	if (sk >= 0)
		close(sk);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

/* ---- restorability ---- */

static const struct img_unix *sk_of(const struct m_fd *mf)
{
	return (const void *)mf->ext;
}

/* the fd of the image on socket inode @ino, NULL if none */
static const struct m_fd *find_sock(const struct ckpt_image *img, uint64_t ino)
{
	uint32_t i, j;

	for (i = 0; ino && i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++)
			if (img->procs[i].fds[j].f->kind == IMG_FD_UNIX &&
			    img->procs[i].fds[j].f->ino == ino)
				return &img->procs[i].fds[j];
	return NULL;
}

/* the record of @ino that holds its queue */
static const struct m_fd *queued_of(const struct ckpt_image *img, uint64_t ino)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind == IMG_FD_UNIX && mf->f->ino == ino &&
			    sk_of(mf)->flags & IMG_UNIX_F_QUEUED)
				return mf;
		}
	return NULL;
}

static bool is_pair(const struct ckpt_image *img, const struct img_unix *u,
		    const struct m_fd **peer)
{
	*peer = find_sock(img, u->peer);
	return *peer && sk_of(*peer)->peer == u->ino;
}

static int unix_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_unix *u = sk_of(mf), *qu;
	const struct m_fd *peer, *q = queued_of(img, mf->f->ino);
	pid_t pid = mp->p->pid[0];
	struct stat st;

	qu = q ? sk_of(q) : u;
	if (qu->flags & IMG_UNIX_F_RIGHTS)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s: file "
				      "descriptors in flight (SCM_RIGHTS) are in its "
				      "queue: not supported", mf->f->fd, mf->path);
	if (u->flags & IMG_UNIX_F_PENDING)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s: it has "
				      "connections not accepted yet: not supported",
				      mf->f->fd, mf->path);
	if (u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s of type %u: "
				      "not supported", mf->f->fd, mf->path, u->type);
	if (u->state == IMG_UNIX_ESTABLISHED && u->peer && !find_sock(img, u->peer))
		return verdict_refuse(v, -ENOTSUP, pid, "fd",
				      "fd %d is %s (inode %llu), whose other end is "
				      "outside the tree: give restore --inherit-fd "
				      "fd[N]:%s, N an fd of restore's own on it",
				      mf->f->fd, mf->path,
				      (unsigned long long)mf->f->ino, mf->path);
	if (u->state == IMG_UNIX_ESTABLISHED && u->peer && !is_pair(img, u, &peer) &&
	    !sk_of(peer)->name_len)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s, connected "
				      "to an unnamed socket that is not its peer: not "
				      "supported", mf->f->fd, mf->path);
	if (u->state != IMG_UNIX_ESTABLISHED && qu->nr_msgs && !u->name_len)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s: an unbound "
				      "socket with a queue cannot be sent to again",
				      mf->f->fd, mf->path);
	if (u->name_len && u->name[0] && u->state != IMG_UNIX_ESTABLISHED &&
	    !lstat(u->name, &st) && !S_ISSOCK(st.st_mode))
		return verdict_refuse(v, -EEXIST, pid, "fd", "fd %d: socket %.*s: the "
				      "path is no longer a socket", mf->f->fd,
				      (int)u->name_len, u->name);
	return 0;
}

/* ---- restore (in the new process) ---- */

static void fail(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		 const char *what)
	__attribute__((noreturn));

static void fail(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		 const char *what)
{
	rst_child_fail(ctx, idx, -errno, "fd %d: %s: %s", mf->f->fd, mf->path, what);
}

static socklen_t addr_of(const struct img_unix *u, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, u->name, u->name_len);
	return offsetof(struct sockaddr_un, sun_path) + u->name_len;
}

static void set_options(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			int sk)
{
	const struct img_unix *u = sk_of(mf);
	int snd = u->sndbuf / 2, rcv = u->rcvbuf / 2;
	const char *what;

	/* the kernel doubles what it is given (socket(7)) */
	if ((snd && setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd))) ||
	    (rcv && setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv))))
		fail(ctx, idx, mf, "setting its buffer sizes");
	if (sockopt_set_flags(sk, unix_opts, ARRAY_SIZE(unix_opts), u->flags, &what))
		fail(ctx, idx, mf, what);
}

/* sends the queue of @mf again, from @from (to @to if not connected) */
static void refill(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		   int from, const struct sockaddr_un *to, socklen_t tolen)
{
	const struct m_fd *q = queued_of(&ctx->img, mf->f->ino);
	const struct img_unix *u = q ? sk_of(q) : NULL;
	const uint8_t *bytes;
	uint32_t i, len;

	if (!u || !u->nr_msgs)
		return;
	bytes = q->data + u->nr_msgs * sizeof(uint32_t);
	for (i = 0; i < u->nr_msgs; i++, bytes += len) {
		memcpy(&len, q->data + i * sizeof(uint32_t), sizeof(len));
		if (sendto(from, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, to ? tolen : 0) != (ssize_t)len)
			fail(ctx, idx, mf, "sending its queue again");
	}
}

static void place_all(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int sk)
{
	uint32_t i, j;

	for (i = 0; i < ctx->img.nr_procs; i++)
		for (j = 0; j < ctx->img.procs[i].nr_fds; j++) {
			const struct m_fd *e = &ctx->img.procs[i].fds[j];
			int c = fd_carrier(ctx, e->f->file_id);

			if (e->f->kind != IMG_FD_UNIX || e->f->ino != mf->f->ino ||
			    fd_is_open(c))
				continue;
			if (dup2(sk, c) < 0)
				fail(ctx, idx, e, "dup2");
			if (fcntl(c, F_SETFL, e->f->open_flags & FD_SETFL_FLAGS))
				fail(ctx, idx, e, "F_SETFL");
		}
}

static void shut(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf, int sk)
{
	uint32_t how = sk_of(mf)->shutdown & 3;

	/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2: SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 */
	if (how && shutdown(sk, how - 1) && errno != ENOTCONN)
		fail(ctx, idx, mf, "shutdown");
}

static int new_socket(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	int sk = socket(AF_UNIX, sk_of(mf)->type | SOCK_CLOEXEC, 0);

	if (sk < 0 || (sk = fd_above_carriers(ctx, sk)) < 0)
		fail(ctx, idx, mf, "socket");
	set_options(ctx, idx, mf, sk);
	return sk;
}

static void bind_name(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int sk)
{
	const struct img_unix *u = sk_of(mf);
	struct sockaddr_un sa;
	socklen_t len = addr_of(u, &sa);
	struct stat st;

	if (!u->name_len)
		return;
	/* the dead process's socket file is in the way (unix(7)) */
	if (u->name[0] && !lstat(sa.sun_path, &st) && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	if (bind(sk, (struct sockaddr *)&sa, len))
		fail(ctx, idx, mf, "bind");
}

static void unix_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int at);

static void open_pair(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      const struct m_fd *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, sk_of(mf)->type | SOCK_CLOEXEC, 0, sv))
		fail(ctx, idx, mf, "socketpair");
	sv[0] = fd_above_carriers(ctx, sv[0]);
	sv[1] = fd_above_carriers(ctx, sv[1]);
	if (sv[0] < 0 || sv[1] < 0)
		fail(ctx, idx, mf, "moving a socketpair");
	set_options(ctx, idx, mf, sv[0]);
	if (peer)
		set_options(ctx, idx, peer, sv[1]);
	refill(ctx, idx, mf, sv[1], NULL, 0);
	if (peer) {
		refill(ctx, idx, peer, sv[0], NULL, 0);
		shut(ctx, idx, peer, sv[1]);
		place_all(ctx, idx, peer, sv[1]);
	}
	/* no peer: it was closed; closing ours now does the same to @mf */
	close(sv[1]);
	if (peer)
		shut(ctx, idx, mf, sv[0]);
	place_all(ctx, idx, mf, sv[0]);
	close(sv[0]);
}

/* the listener of the image bound to @u's name, NULL if none */
static const struct m_fd *listener_of(const struct ckpt_image *img,
				      const struct img_unix *u)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];
			const struct img_unix *l;

			if (mf->f->kind != IMG_FD_UNIX)
				continue;
			l = sk_of(mf);
			if (l->state == IMG_UNIX_LISTEN && l->name_len == u->name_len &&
			    !memcmp(l->name, u->name, u->name_len))
				return mf;
		}
	return NULL;
}

/* process @idx opens file @id for itself or its subtree */
static bool opens_here(const struct restore_ctx *ctx, uint32_t idx, uint32_t id)
{
	const struct rst_proc *rp = &ctx->procs[idx];
	uint32_t i;

	for (i = 0; i < rp->mp->nr_fds; i++)
		if (rp->mp->fds[i].f->file_id == id)
			return true;
	for (i = 0; i < rp->nr_fids; i++)
		if (rp->fids[i] == id)
			return true;
	return false;
}

/*
 * A listening socket for the accepted end @acc's name: the image's
 * listener if this process opens it (opened now if need be), else, if
 * the image has no listener of that name, one of our own bound to it for
 * the moment (*own); -1 if neither (another process binds the name: a
 * socket of ours there would race with it)
 */
static int listener_for(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *acc,
			bool *own)
{
	const struct img_unix *a = sk_of(acc);
	const struct m_fd *l = listener_of(&ctx->img, a);
	struct sockaddr_un sa;
	socklen_t len;
	struct stat st;
	int sk;

	*own = false;
	if (l) {
		int c = fd_carrier(ctx, l->f->file_id);

		if (!fd_is_open(c) && !opens_here(ctx, idx, l->f->file_id))
			return -1;
		if (!fd_is_open(c))
			unix_open(ctx, idx, l, c);
		return c;
	}
	/* a path of that name is someone's: no socket file of ours on it */
	if (a->name[0] && !lstat(a->name, &st))
		return -1;
	sk = socket(AF_UNIX, a->type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return -1;
	len = addr_of(a, &sa);
	if (bind(sk, (struct sockaddr *)&sa, len) || listen(sk, 1)) {
		close(sk);
		return -1;
	}
	*own = true;
	return sk;
}

/*
 * Which end of the pair @mf, @peer (NULL: closed) was accept()ed: the
 * one with a listener's name, else the only one with a name; NULL if
 * neither has one
 */
static const struct m_fd *accepted_end(const struct ckpt_image *img,
				       const struct m_fd *mf, const struct m_fd *peer)
{
	bool named = sk_of(mf)->name_len, peer_named = peer && sk_of(peer)->name_len;

	if (named && listener_of(img, sk_of(mf)))
		return mf;
	if (peer_named && listener_of(img, sk_of(peer)))
		return peer;
	if (named && !peer_named)
		return mf;
	return peer_named && !named ? peer : NULL;
}

/*
 * A pair made by connect() and accept(): made the same way again, so
 * that the accepted end @acc has the listener's name (getsockname) and
 * the connecting end @con its own name, if bound, and the peer's
 * (getpeername).  false if no listener can be had here: a socketpair
 * then (the names are lost).
 */
static bool open_accepted(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *acc,
			  const struct m_fd *con)
{
	const struct img_unix *a = sk_of(acc);
	struct sockaddr_un sa;
	socklen_t len = addr_of(a, &sa);
	bool own;
	int lsk, c, s;

	if (a->type == SOCK_DGRAM || !a->name_len || (con && sk_of(con)->peer != a->ino))
		return false;
	lsk = listener_for(ctx, idx, acc, &own);
	if (lsk < 0)
		return false;
	c = con ? new_socket(ctx, idx, con) : socket(AF_UNIX, a->type | SOCK_CLOEXEC, 0);
	if (c < 0 || (!con && (c = fd_above_carriers(ctx, c)) < 0))
		fail(ctx, idx, acc, "socket");
	if (con)
		bind_name(ctx, idx, con, c);
	/* the connection is queued on the listener before connect() returns */
	if (connect(c, (struct sockaddr *)&sa, len))
		fail(ctx, idx, acc, "connecting to its listener again");
	s = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || (s = fd_above_carriers(ctx, s)) < 0)
		fail(ctx, idx, acc, "accepting its connection again");
	if (own) {
		close(lsk);
		if (a->name[0])
			unlink(a->name);
	}
	set_options(ctx, idx, acc, s);
	refill(ctx, idx, acc, c, NULL, 0);
	if (con) {
		refill(ctx, idx, con, s, NULL, 0);
		shut(ctx, idx, con, c);
		place_all(ctx, idx, con, c);
	}
	/* no peer: it was closed; closing ours now does the same to @acc */
	close(c);
	if (con)
		shut(ctx, idx, acc, s);
	place_all(ctx, idx, acc, s);
	close(s);
	return true;
}

static void unix_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int at)
{
	const struct img_unix *u = sk_of(mf);
	const struct m_fd *peer = NULL;
	struct sockaddr_un sa;
	socklen_t len;
	int sk, tmp;

	if (u->state == IMG_UNIX_ESTABLISHED && (!u->peer || is_pair(&ctx->img, u, &peer))) {
		const struct m_fd *acc = accepted_end(&ctx->img, mf, peer);

		if (acc && open_accepted(ctx, idx, acc, acc == mf ? peer : mf))
			return;
		return open_pair(ctx, idx, mf, peer);
	}
	sk = new_socket(ctx, idx, mf);
	bind_name(ctx, idx, mf, sk);
	if (u->state == IMG_UNIX_LISTEN && listen(sk, u->backlog))
		fail(ctx, idx, mf, "listen");
	if (u->state == IMG_UNIX_ESTABLISHED) {
		/* connected to a named socket that is not connected back */
		peer = find_sock(&ctx->img, u->peer);
		if (!fd_is_open(fd_carrier(ctx, peer->f->file_id)))
			unix_open(ctx, idx, peer, fd_carrier(ctx, peer->f->file_id));
		len = addr_of(sk_of(peer), &sa);
		if (connect(sk, (struct sockaddr *)&sa, len))
			fail(ctx, idx, mf, "connect");
	}
	if (u->name_len) {
		tmp = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
		if (tmp < 0)
			fail(ctx, idx, mf, "socket");
		len = addr_of(u, &sa);
		refill(ctx, idx, mf, tmp, &sa, len);
		close(tmp);
	}
	place_all(ctx, idx, mf, sk);
	close(sk);
}

const struct fd_kind fd_unix_kind = {
	.name = "unix",
	.fill = unix_fill,
	.peek = unix_peek,
	.check = unix_check,
	.open = unix_open,
};
