// SPDX-License-Identifier: GPL-2.0
/*
 * TCP and UDP sockets, IPv4 and IPv6.  What a socket tells without
 * stopping anyone (its addresses, options, a listener's backlog) is read
 * on a copy of its fd taken with pidfd_getfd().  An established TCP
 * connection is read at snap time, the tree frozen, in repair mode
 * (TCP_REPAIR, kernel Documentation/networking/ip-sysctl and tcp.c's
 * do_tcp_setsockopt): the sequence numbers of both queues, the queues
 * themselves (MSG_PEEK), MSS, window scales, timestamp and window.
 *
 * snap --kill leaves the sockets in repair mode, so that their close when
 * the tree dies sends neither FIN nor RST (tcp_disconnect() with
 * tp->repair), and the connections whose peer is outside the tree go
 * under the network lock (netlock.c) first, so that the peer's segments
 * meanwhile draw no reset either.  Any other snap turns repair off again.
 *
 * Restore makes each connection again in repair mode: bind, both queue
 * sequences, connect (no SYN in repair mode), options, window, queues.
 * Its repair mode ends in the restorer, once the whole tree is back
 * (inet_restore_finish): the lock is released first, so that the window
 * probe that leaving repair sends reaches the peer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "fd.h"
#include "inet.h"
#include "inject.h"
#include "log.h"
#include "netlock.h"

#define READ_TRIES	20	/* a connection still moving after the lock */

/* snap: connections in repair mode, on copies of their fds */
struct snap_inet {
	int *fds;
	const struct img_inet **recs;	/* reuseaddr to give back */
	uint32_t nr, cap, cap_recs, nr_recs;
	const struct img_inet **locked;	/* under the lock until restore */
	uint32_t nr_locked, cap_locked;
	const struct img_inet **held;	/* both ends in the tree: until snap ends */
	uint32_t nr_held, cap_held;
};

static int fd_of(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), sk;

	if (pidfd < 0)
		return -errno;
	sk = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (sk < 0)
		sk = -errno;
	close(pidfd);
	return sk;
}

static const char *state_name(uint32_t st)
{
	static const char *const names[] = {
		"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
		"NEW_SYN_RECV",
	};

	return st < ARRAY_SIZE(names) ? names[st] : "?";
}

/* "127.0.0.1:80" or "[::1]:80" */
void inet_addr_str(uint32_t family, const uint8_t *a, uint16_t port, char *buf,
		   size_t len)
{
	char s[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, a, s, sizeof(s)))
		snprintf(s, sizeof(s), "?");
	snprintf(buf, len, family == AF_INET ? "%s:%u" : "[%s]:%u", s, ntohs(port));
}

/* ---- snap and inspect ---- */

static void get_addr(int sk, bool peer, struct img_inet *in, uint8_t *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if ((peer ? getpeername : getsockname)(sk, (struct sockaddr *)&ss, &sl))
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;

		memcpy(a, &s4->sin_addr, 4);
		*port = s4->sin_port;
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		memcpy(a, &s6->sin6_addr, 16);
		*port = s6->sin6_port;
	}
}

/*
 * The boolean options kept, read and set again in this order; the last,
 * TCP_NODELAY, only for TCP
 */
static const struct sockopt_flag inet_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, IMG_INET_F_REUSEADDR, "SO_REUSEADDR" },
	{ SOL_SOCKET, SO_REUSEPORT, IMG_INET_F_REUSEPORT, "SO_REUSEPORT" },
	{ SOL_SOCKET, SO_KEEPALIVE, IMG_INET_F_KEEPALIVE, "SO_KEEPALIVE" },
	{ SOL_SOCKET, SO_BROADCAST, IMG_INET_F_BROADCAST, "SO_BROADCAST" },
	{ IPPROTO_TCP, TCP_NODELAY, IMG_INET_F_NODELAY, "TCP_NODELAY" },
};

static bool other_netns(int sk)
{
	struct stat a, b;
	int ns = ioctl(sk, SIOCGSKNS);
	bool other;

	if (ns < 0)
		return false;
	other = !fstat(ns, &a) && !stat("/proc/self/ns/net", &b) &&
		(a.st_ino != b.st_ino || a.st_dev != b.st_dev);
	close(ns);
	return other;
}

static void read_options(int sk, struct img_inet *in)
{
	in->flags |= sockopt_flags(sk, inet_opts, ARRAY_SIZE(inet_opts) -
				   (in->proto != IPPROTO_TCP));
	if (in->family == AF_INET6 && sockopt_on(sk, IPPROTO_IPV6, IPV6_V6ONLY))
		in->flags |= IMG_INET_F_V6ONLY;
	if (in->proto != IPPROTO_TCP)
		return;
	in->keepidle = sockopt_val(sk, IPPROTO_TCP, TCP_KEEPIDLE);
	in->keepintvl = sockopt_val(sk, IPPROTO_TCP, TCP_KEEPINTVL);
	in->keepcnt = sockopt_val(sk, IPPROTO_TCP, TCP_KEEPCNT);
	in->sndbuf = sockopt_val(sk, SOL_SOCKET, SO_SNDBUF);
	in->rcvbuf = sockopt_val(sk, SOL_SOCKET, SO_RCVBUF);
}

static int inet_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
		     const struct rec_file *r)
{
	struct img_inet *in = &x->in;
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int sk;

	memset(in, 0, sizeof(*in));
	in->h.type = IMG_INET;
	in->ino = r->ino;
	in->family = r->sock_family;
	in->type = r->sock_type;
	in->proto = r->sock_proto;
	in->state = r->sock_state;
	sk = fd_of(r->tgid, r->fd);
	if (sk < 0)
		return sk;
	if (other_netns(sk))
		in->flags |= IMG_INET_F_NETNS;
	get_addr(sk, false, in, in->src, &in->sport);
	if (in->state != TCP_LISTEN && in->state != TCP_CLOSE)
		get_addr(sk, true, in, in->dst, &in->dport);
	read_options(sk, in);
	memset(&ti, 0, sizeof(ti));
	if (in->proto == IPPROTO_TCP && !getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &sl)) {
		/* tcp_get_info(): a listener's accept queue in unacked/sacked */
		if (ti.tcpi_state == TCP_LISTEN) {
			in->backlog = ti.tcpi_sacked;
			if (ti.tcpi_unacked)
				in->flags |= IMG_INET_F_PENDING;
		}
		in->opts = ti.tcpi_options;
		in->snd_wscale = ti.tcpi_snd_wscale;
		in->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	close(sk);
	return 0;
}

static bool same_addr(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, 16);
}

/* @b is the other end of connection @a */
static bool is_peer(const struct img_inet *a, const struct img_inet *b)
{
	return a->family == b->family && a->proto == IPPROTO_TCP && b->proto == IPPROTO_TCP &&
	       a->sport == b->dport && a->dport == b->sport &&
	       same_addr(a->src, b->dst) && same_addr(a->dst, b->src);
}

static bool peer_in_snap(struct snap_ctx *ctx, const struct img_inet *in)
{
	uint32_t i, j;

	for (i = 0; i < ctx->nr_procs; i++)
		for (j = 0; j < ctx->procs[i].nr_fds; j++) {
			const struct snap_fd *f = &ctx->procs[i].fds[j];

			if (f->f.kind == IMG_FD_INET && is_peer(in, &f->x.in))
				return true;
		}
	return false;
}

static int snap_state(struct snap_ctx *ctx, struct snap_inet **s)
{
	if (!ctx->inet && !(ctx->inet = calloc(1, sizeof(*ctx->inet))))
		return -ENOMEM;
	*s = ctx->inet;
	return 0;
}

/* @n bytes of queue @q, peeked in repair mode */
static int peek_queue(int sk, int q, uint8_t *buf, uint32_t n)
{
	ssize_t got;

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
		return -errno;
	if (!n)
		return 0;
	got = recv(sk, buf, n, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0)
		return -errno;
	return (uint32_t)got == n ? 0 : -EAGAIN;
}

static int queue_seq(int sk, int q, uint32_t *seq)
{
	socklen_t sl = sizeof(*seq);

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &sl))
		return -errno;
	return 0;
}

/*
 * One look at both queues, their lengths and sequence numbers.  -EAGAIN
 * if they moved meanwhile: a segment or an ACK came in (rcv_nxt,
 * snd_una: the tree is frozen, its kernel is not).
 */
static int read_queues(int sk, struct img_inet *in, struct snap_fd *f)
{
	uint32_t rcv_after;
	int outq, unsent, inq, outq_after, ret;

	if ((ret = queue_seq(sk, TCP_SEND_QUEUE, &in->snd_seq)) ||
	    (ret = queue_seq(sk, TCP_RECV_QUEUE, &in->rcv_seq)))
		return ret;
	if (ioctl(sk, SIOCOUTQ, &outq) || ioctl(sk, SIOCOUTQNSD, &unsent) ||
	    ioctl(sk, SIOCINQ, &inq))
		return -errno;
	if (outq < 0 || inq < 0 || unsent < 0 || unsent > outq ||
	    (uint32_t)outq > IMG_INET_QUEUE_MAX || (uint32_t)inq > IMG_INET_QUEUE_MAX)
		return -EFBIG;
	in->outq_len = outq;
	in->unsent_len = unsent;
	in->inq_len = inq;
	free(f->data);
	f->data_len = outq + inq;
	f->data = malloc(f->data_len ? f->data_len : 1);
	if (!f->data)
		return -ENOMEM;
	if ((ret = peek_queue(sk, TCP_SEND_QUEUE, f->data, outq)) ||
	    (ret = peek_queue(sk, TCP_RECV_QUEUE, f->data + outq, inq)) ||
	    (ret = queue_seq(sk, TCP_RECV_QUEUE, &rcv_after)))
		return ret;
	if (ioctl(sk, SIOCOUTQ, &outq_after))
		return -errno;
	return rcv_after == in->rcv_seq && outq_after == outq ? 0 : -EAGAIN;
}

/* everything TCP_REPAIR tells of established @sk into @in and f->data */
static int read_repair(int sk, struct img_inet *in, struct snap_fd *f, const char **what)
{
	struct timespec pause = { 0, 1000000 };
	struct tcp_repair_window w;
	socklen_t sl = sizeof(w);
	int ret, i;

	*what = "its queues";
	for (i = 0; (ret = read_queues(sk, in, f)) == -EAGAIN && i < READ_TRIES; i++)
		nanosleep(&pause, NULL);
	if (ret == -EAGAIN)
		*what = "its queues, which kept changing";
	if (ret)
		return ret;
	*what = "its options";
	/* in repair mode TCP_MAXSEG is mss_clamp, what the peer announced */
	in->mss = sockopt_val(sk, IPPROTO_TCP, TCP_MAXSEG);
	if (in->opts & TCPI_OPT_TIMESTAMPS)
		in->timestamp = sockopt_val(sk, IPPROTO_TCP, TCP_TIMESTAMP);
	*what = "its window";
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &sl))
		return -errno;
	in->snd_wl1 = w.snd_wl1;
	in->snd_wnd = w.snd_wnd;
	in->max_window = w.max_window;
	in->rcv_wnd = w.rcv_wnd;
	in->rcv_wup = w.rcv_wup;
	in->flags |= IMG_INET_F_REPAIR | IMG_INET_F_QUEUED;
	return 0;
}

/*
 * The connection goes under the lock before it is read, so that neither
 * end's kernel moves it meanwhile.  With its peer outside the tree it
 * stays locked until restore (snap --kill); with both ends inside, until
 * the snap ends: both die in repair mode and nobody is left to send.
 */
static int lock_conn(struct snap_ctx *ctx, struct snap_inet *s, struct img_inet *in)
{
	bool outside = !peer_in_snap(ctx, in);
	const struct img_inet ***list = outside ? &s->locked : &s->held;
	uint32_t *nr = outside ? &s->nr_locked : &s->nr_held;
	uint32_t *cap = outside ? &s->cap_locked : &s->cap_held;
	char why[256];
	int ret;

	ret = vec_reserve(list, cap, *nr + 1, sizeof(**list));
	if (ret)
		return ret;
	(*list)[*nr] = in;
	/* the program is loaded here the first time: no probe before */
	ret = netlock_lock(&(*list)[*nr], 1);
	if (!ret)
		(*nr)++;
	/* no lock here: snap --kill's check refuses a peer outside */
	return ret && !netlock_usable(why, sizeof(why)) ? 0 : ret;
}

static int inet_peek(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f)
{
	struct img_inet *in = &f->x.in;
	const char *what = "the network lock";
	struct snap_inet *s;
	int sk = -1, on = TCP_REPAIR_ON, ret = 0;

	if (in->proto != IPPROTO_TCP || in->state != TCP_ESTABLISHED ||
	    in->flags & IMG_INET_F_NETNS || snap_obj_seen(&ctx->objs, f->f.dev, f->f.ino, &ret) || ret)
		return ret;
	ret = snap_state(ctx, &s);
	if (!ret)
		ret = lock_conn(ctx, s, in);
	if (ret)
		goto fail;
	what = "pidfd_getfd";
	sk = fd_of(sp->pid, f->f.fd);
	if (sk < 0) {
		ret = sk;
		goto fail;
	}
	what = "TCP_REPAIR";
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on))) {
		ret = -errno;
		goto fail;
	}
	/* from here the copy is in the list: inet_snap_done() ends repair */
	if ((ret = vec_push(s->fds, s->nr, s->cap, sk)) ||
	    (ret = vec_push(s->recs, s->nr_recs, s->cap_recs, (const struct img_inet *)in))) {
		if (s->nr > s->nr_recs)
			s->nr--;
		goto fail;
	}
	sk = -1;
	ret = read_repair(s->fds[s->nr - 1], in, f, &what);
	if (!ret)
		return 0;
fail:
	if (sk >= 0)
		close(sk);
	pr_err("pid %d: fd %d (%s): %s: %s", sp->pid, f->f.fd, f->path, what,
	       ret == -EFBIG ? "a queue above 8 MiB" : errstr(ret));
	return ret;
}

void inet_snap_done(struct snap_ctx *ctx, bool killed)
{
	struct snap_inet *s = ctx->inet;
	int off = TCP_REPAIR_OFF_NO_WP, one = 1, ret;
	uint32_t i, n;

	if (!s)
		return;
	for (i = 0; i < s->nr; i++) {
		/*
		 * killed: the tree's copies are gone, this is the last one and
		 * its close in repair mode is silent.  Else the tree runs on:
		 * leaving repair also clears sk_reuse (do_tcp_setsockopt)
		 */
		if (!killed && (setsockopt(s->fds[i], IPPROTO_TCP, TCP_REPAIR, &off,
					   sizeof(off)) ||
				(s->recs[i]->flags & IMG_INET_F_REUSEADDR &&
				 setsockopt(s->fds[i], SOL_SOCKET, SO_REUSEADDR, &one,
					    sizeof(one)))))
			pr_warn("a TCP socket of the tree stays in repair mode: %s",
				strerror(errno));
		close(s->fds[i]);
	}
	ret = !killed && s->nr_locked ? netlock_unlock(s->locked, s->nr_locked, &n) : 0;
	if (s->nr_held && netlock_unlock(s->held, s->nr_held, &n))
		ret = -EIO;
	if (ret)
		pr_warn("the network lock stays: bpfckpt unlock %s releases it", ctx->out);
	free(s->fds);
	free(s->recs);
	free(s->locked);
	free(s->held);
	free(s);
	ctx->inet = NULL;
}

/* ---- restorability ---- */

static const struct img_inet *in_of(const struct m_fd *mf)
{
	return (const void *)mf->ext;
}

bool inet_peer_in_image(const struct ckpt_image *img, const struct img_inet *in)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind == IMG_FD_INET && is_peer(in, in_of(mf)))
				return true;
		}
	return false;
}

static int inet_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_inet *in = in_of(mf);
	pid_t pid = mp->p->pid[0];
	char why[256], peer[64];
	bool tcp = in->proto == IPPROTO_TCP;

	if (in->flags & IMG_INET_F_NETNS)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is %s in another "
				      "network namespace than bpfckpt's: run bpfckpt "
				      "in it", mf->f->fd, mf->path);
	if (tcp && in->flags & IMG_INET_F_PENDING)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is a TCP listener "
				      "with connections not accepted yet: not supported",
				      mf->f->fd);
	if (tcp && in->state != TCP_LISTEN && in->state != TCP_ESTABLISHED &&
	    in->state != TCP_CLOSE)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is a TCP socket in "
				      "state %s: only listening, established and "
				      "unconnected ones are supported", mf->f->fd,
				      state_name(in->state));
	if (!tcp && in->state != TCP_ESTABLISHED && in->state != TCP_CLOSE)
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is a UDP socket in "
				      "state %u: not supported", mf->f->fd, in->state);
	if (tcp && in->state == TCP_ESTABLISHED && v->live &&
	    !inet_peer_in_image(img, in) && !netlock_usable(why, sizeof(why))) {
		inet_addr_str(in->family, in->dst, in->dport, peer, sizeof(peer));
		return verdict_refuse(v, -ENOTSUP, pid, "fd", "fd %d is a TCP connection "
				      "to %s, outside the tree, and there is no network "
				      "lock (%s): the peer would see a reset",
				      mf->f->fd, peer, why);
	}
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

static socklen_t sockaddr_of(const struct img_inet *in, bool peer,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (in->family == AF_INET) {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, peer ? in->dst : in->src, 4);
		s4->sin_port = peer ? in->dport : in->sport;
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, peer ? in->dst : in->src, 16);
		s6->sin6_port = peer ? in->dport : in->sport;
		return sizeof(*s6);
	}
}

static void set_int(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		    int sk, int level, int name, int val, const char *what)
{
	if (setsockopt(sk, level, name, &val, sizeof(val)))
		fail(ctx, idx, mf, what);
}

static void set_options(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			int sk)
{
	const struct img_inet *in = in_of(mf);
	const char *what;

	if (sockopt_set_flags(sk, inet_opts, ARRAY_SIZE(inet_opts), in->flags, &what))
		fail(ctx, idx, mf, what);
	/* before bind: it decides which addresses the socket takes */
	if (in->family == AF_INET6)
		set_int(ctx, idx, mf, sk, IPPROTO_IPV6, IPV6_V6ONLY,
			!!(in->flags & IMG_INET_F_V6ONLY), "IPV6_V6ONLY");
	if (in->proto != IPPROTO_TCP)
		return;
	if (in->keepidle)
		set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_KEEPIDLE, in->keepidle,
			"TCP_KEEPIDLE");
	if (in->keepintvl)
		set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_KEEPINTVL, in->keepintvl,
			"TCP_KEEPINTVL");
	if (in->keepcnt)
		set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_KEEPCNT, in->keepcnt,
			"TCP_KEEPCNT");
}

/* the queue of @q in repair mode: sent again, as data the kernel had */
static void fill_queue(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		       int sk, int q, const uint8_t *bytes, uint32_t n)
{
	ssize_t done;

	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, q, "TCP_REPAIR_QUEUE");
	while (n) {
		done = send(sk, bytes, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (done <= 0)
			fail(ctx, idx, mf, q == TCP_RECV_QUEUE ? "refilling its receive "
			     "queue" : "refilling its send queue");
		bytes += done;
		n -= done;
	}
}

static void repair_options(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			   int sk)
{
	const struct img_inet *in = in_of(mf);
	struct tcp_repair_opt o[4];
	int n = 0;

	o[n].opt_code = TCPOPT_MAXSEG;
	o[n++].opt_val = in->mss;
	if (in->opts & TCPI_OPT_WSCALE) {
		o[n].opt_code = TCPOPT_WINDOW;
		o[n++].opt_val = in->snd_wscale | in->rcv_wscale << 16;
	}
	if (in->opts & TCPI_OPT_TIMESTAMPS) {
		o[n].opt_code = TCPOPT_TIMESTAMP;
		o[n++].opt_val = 0;
	}
	if (in->opts & TCPI_OPT_SACK) {
		o[n].opt_code = TCPOPT_SACK_PERMITTED;
		o[n++].opt_val = 0;
	}
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0])))
		fail(ctx, idx, mf, "TCP_REPAIR_OPTIONS");
	if (in->opts & TCPI_OPT_TIMESTAMPS)
		set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_TIMESTAMP, in->timestamp,
			"TCP_TIMESTAMP");
}

/* after the receive queue: tcp_repair_set_window() wants rcv_wup <= rcv_nxt */
static void repair_window(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			  int sk)
{
	const struct img_inet *in = in_of(mf);
	struct tcp_repair_window w = {
		in->snd_wl1, in->snd_wnd, in->max_window, in->rcv_wnd, in->rcv_wup,
	};

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)))
		fail(ctx, idx, mf, "TCP_REPAIR_WINDOW");
}

/*
 * An established connection, left in repair mode (inet_restore_finish
 * ends it).  Order as the kernel wants it: the queue sequences before
 * connect (tcp_connect_init takes write_seq from them), options after.
 */
static void open_repaired(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			  int sk)
{
	const struct img_inet *in = in_of(mf);
	struct sockaddr_storage ss;
	socklen_t len;

	/*
	 * Queued bytes take buffer space in repair mode too
	 * (sk_stream_memory_free, tcp_try_rmem_schedule): room for them,
	 * twice over for the skbs' overhead.  Setting a size ends its
	 * autotuning, so only where there is a queue.  The kernel doubles
	 * what it is given (socket(7)).
	 */
	if (in->outq_len)
		set_int(ctx, idx, mf, sk, SOL_SOCKET, SO_SNDBUFFORCE,
			MAX(in->sndbuf / 2, in->outq_len) + (64 << 10), "SO_SNDBUFFORCE");
	if (in->inq_len)
		set_int(ctx, idx, mf, sk, SOL_SOCKET, SO_RCVBUFFORCE,
			MAX(in->rcvbuf / 2, in->inq_len) + (64 << 10), "SO_RCVBUFFORCE");
	/* repair mode binds with SK_FORCE_REUSE: the listener's port is fine */
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR");
	len = sockaddr_of(in, false, &ss);
	if (bind(sk, (struct sockaddr *)&ss, len))
		fail(ctx, idx, mf, "bind");
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE,
		"TCP_REPAIR_QUEUE");
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_QUEUE_SEQ, in->rcv_seq - in->inq_len,
		"TCP_QUEUE_SEQ");
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE,
		"TCP_REPAIR_QUEUE");
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_QUEUE_SEQ,
		in->snd_seq - in->outq_len, "TCP_QUEUE_SEQ");
	len = sockaddr_of(in, true, &ss);
	if (connect(sk, (struct sockaddr *)&ss, len))
		fail(ctx, idx, mf, "connect in repair mode");
	repair_options(ctx, idx, mf, sk);
	fill_queue(ctx, idx, mf, sk, TCP_RECV_QUEUE, mf->data + in->outq_len, in->inq_len);
	repair_window(ctx, idx, mf, sk);
	/* what was sent and not acked; the never sent rest goes at the end */
	fill_queue(ctx, idx, mf, sk, TCP_SEND_QUEUE, mf->data,
		   in->outq_len - in->unsent_len);
	set_int(ctx, idx, mf, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE,
		"TCP_REPAIR_QUEUE");
}

/* the record of socket @mf with its queues, @mf if none has */
static const struct m_fd *queued_of(const struct ckpt_image *img, const struct m_fd *mf)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *o = &img->procs[i].fds[j];

			if (o->f->kind == IMG_FD_INET && o->f->ino == mf->f->ino &&
			    in_of(o)->flags & IMG_INET_F_QUEUED)
				return o;
		}
	return mf;
}

static void inet_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *fd,
		      int at)
{
	const struct m_fd *mf = queued_of(&ctx->img, fd);
	const struct img_inet *in = in_of(mf);
	struct sockaddr_storage ss;
	socklen_t len;
	int sk;

	sk = socket(in->family, in->type | SOCK_CLOEXEC, in->proto);
	if (sk < 0 || (sk = fd_above_carriers(ctx, sk)) < 0)
		fail(ctx, idx, mf, "socket");
	set_options(ctx, idx, mf, sk);
	if (in->flags & IMG_INET_F_REPAIR) {
		open_repaired(ctx, idx, mf, sk);
	} else {
		/*
		 * Its accepted connections may be back already, on its port:
		 * without reuse, bind and listen would see them in the way
		 * (inet_csk_bind_conflict); the snapped value after
		 */
		if (in->state == TCP_LISTEN && !(in->flags & IMG_INET_F_REUSEADDR))
			set_int(ctx, idx, mf, sk, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
		len = sockaddr_of(in, false, &ss);
		if (in->sport && bind(sk, (struct sockaddr *)&ss, len))
			fail(ctx, idx, mf, "bind");
		if (in->state == TCP_LISTEN && listen(sk, in->backlog))
			fail(ctx, idx, mf, "listen");
		if (in->state == TCP_LISTEN && !(in->flags & IMG_INET_F_REUSEADDR))
			set_int(ctx, idx, mf, sk, SOL_SOCKET, SO_REUSEADDR, 0, "SO_REUSEADDR");
		len = sockaddr_of(in, true, &ss);
		if (in->proto == IPPROTO_UDP && in->dport &&
		    connect(sk, (struct sockaddr *)&ss, len))
			fail(ctx, idx, mf, "connect");
	}
	if (dup2(sk, at) < 0)
		fail(ctx, idx, mf, "dup2");
	close(sk);
	if (fcntl(at, F_SETFL, fd->f->open_flags & FD_SETFL_FLAGS))
		fail(ctx, idx, fd, "F_SETFL");
}

/* ---- restore (in the restorer, the whole tree made) ---- */

static int end_repair(pid_t pid, const struct m_fd *mf)
{
	const struct img_inet *in = in_of(mf);
	uint32_t unsent = in->unsent_len;
	const uint8_t *bytes = mf->data + in->outq_len - unsent;
	int sk = fd_of(pid, mf->f->fd), off = TCP_REPAIR_OFF, one = 1, ret = 0;
	ssize_t n;

	if (sk < 0)
		return sk;
	/* leaving repair clears sk_reuse (do_tcp_setsockopt): set it after */
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) ||
	    (in->flags & IMG_INET_F_REUSEADDR &&
	     setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))))
		ret = -errno;
	/* never sent: an ordinary send, before the process runs again */
	while (!ret && unsent) {
		n = send(sk, bytes, unsent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			ret = n ? -errno : -EIO;
		else
			bytes += n, unsent -= n;
	}
	close(sk);
	return ret;
}

static int for_each_repaired(struct restore_ctx *ctx, const struct img_inet **list,
			     uint32_t *nr)
{
	uint32_t i, j;
	int ret;

	*nr = 0;
	for (i = 0; i < ctx->nr_procs; i++) {
		const struct m_proc *mp = ctx->procs[i].mp;

		for (j = 0; j < mp->nr_fds; j++) {
			const struct m_fd *mf = &mp->fds[j];

			if (mf->f->kind != IMG_FD_INET || !(in_of(mf)->flags & IMG_INET_F_REPAIR))
				continue;
			if (list) {
				list[(*nr)++] = in_of(mf);
				continue;
			}
			ret = end_repair(ctx->procs[i].pid, mf);
			if (ret) {
				pr_err("pid %d: fd %d: ending TCP repair: %s",
				       ctx->procs[i].pid, mf->f->fd, errstr(ret));
				return ret;
			}
		}
	}
	return 0;
}

/* the lock released, then repair mode ended: the peer hears from us */
int inet_restore_finish(struct restore_ctx *ctx)
{
	const struct img_inet **list;
	uint32_t n = 0, i, j, released;
	int ret;

	for (i = 0; i < ctx->nr_procs; i++)
		for (j = 0; j < ctx->procs[i].mp->nr_fds; j++)
			n += ctx->procs[i].mp->fds[j].f->kind == IMG_FD_INET;
	if (!n)
		return 0;
	list = calloc(n, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for_each_repaired(ctx, list, &n);
	ret = n ? netlock_unlock(list, n, &released) : 0;
	free(list);
	if (ret) {
		pr_err("releasing the network lock: %s", errstr(ret));
		return ret;
	}
	return for_each_repaired(ctx, NULL, &n);
}

const struct fd_kind fd_inet_kind = {
	.name = "inet",
	.fill = inet_fill,
	.peek = inet_peek,
	.check = inet_check,
	.open = inet_open,
};
