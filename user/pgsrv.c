// SPDX-License-Identifier: GPL-2.0
/*
 * snap --serve ADDR:PORT: the source side of the page server (the
 * protocol is in pgsrv.h).  The image is the snap's spool (a memfd);
 * a thread streams it down the bulk connection with sendfile(), records
 * first, then the page data, while this thread answers the destination's
 * requests for pages its faults wait on.  The tree stays frozen
 * throughout; the caller kills it once the destination has every page,
 * and thaws it on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "img.h"
#include "log.h"
#include "pgsrv.h"
#include "util.h"

#define ACCEPT_MS	120000	/* for the destination to come */
#define IDLE_S		30	/* a connection silent this long is broken */
#define SEND_STEP	(4u << 20)
#define SLOW_STEP	(64u << 10)	/* BPFCKPT_FAULT=serve-slow: a step... */
#define SLOW_US		10000		/* ...every 10 ms, ~6 MiB/s */

struct pgs_server {
	char name[128];		/* ADDR:PORT as given */
	int lfd, bulk, req, img, done_ev;
	uint64_t size, token, data_bytes;
	uint32_t page_size;
	struct pgs_seg *segs, *gaps;
	uint32_t nr_segs, cap_segs, nr_gaps, cap_gaps;
	pthread_t thread;
	bool started, slow;
	_Atomic int bulk_err;	/* 1: running */
	char bulk_why[192];	/* set before bulk_err */
	uint64_t nr_get, get_bytes;
};

int pgs_parse_addr(const char *s, struct sockaddr_storage *sa, unsigned *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	char host[128];
	const char *colon = strrchr(s, ':'), *h = host;
	struct addrinfo *ai;
	size_t n;

	if (!colon || colon == s || !colon[1] || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	n = colon - s;
	memcpy(host, s, n);
	host[n] = 0;
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = 0;
		h = host + 1;
	}
	if (getaddrinfo(h, colon + 1, &hints, &ai) || !ai)
		return -EINVAL;
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

bool pgs_addr_ok(const char *s)
{
	struct sockaddr_storage sa;
	unsigned len;

	return !pgs_parse_addr(s, &sa, &len);
}

int pgs_listen(const char *addr, struct pgs_server **out)
{
	struct sockaddr_storage sa;
	struct pgs_server *s;
	unsigned len;
	int one = 1;

	if (pgs_parse_addr(addr, &sa, &len)) {
		pr_err("--serve %s: not ADDR:PORT", addr);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", addr);
	s->bulk = s->req = s->img = s->done_ev = -1;
	s->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s->lfd, (struct sockaddr *)&sa, len) || listen(s->lfd, 4)) {
		int err = -errno;

		pr_err("--serve %s: %s: %s", addr, s->lfd < 0 ? "socket" : "listening",
		       strerror(errno));
		pgs_close(s, false);
		return err;
	}
	*out = s;
	return 0;
}

int pgs_send_all(int fd, const void *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -EIO;
		p = (const uint8_t *)p + n;
		len -= n;
	}
	return 0;
}

int pgs_recv_all(int fd, void *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;	/* the peer hung up */
		p = (uint8_t *)p + n;
		len -= n;
	}
	return 0;
}

static int send_file(struct pgs_server *s, int fd, uint64_t off, uint64_t len, bool pace)
{
	off_t o = off;
	ssize_t n;

	while (len) {
		size_t step = MIN(len, pace ? SLOW_STEP : SEND_STEP);

		n = sendfile(fd, s->img, &o, step);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -EIO;
		len -= n;
		if (pace)
			usleep(SLOW_US);
	}
	return 0;
}

static int push_seg(struct pgs_seg **v, uint32_t *nr, uint32_t *cap, uint64_t off,
		    uint64_t len)
{
	struct pgs_seg sg = { off, len };

	if (!len)
		return 0;
	return vec_push(*v, *nr, *cap, sg);
}

/* records and page data: the layout the destination is told */
static int plan(struct pgs_server *s, const char *path)
{
	struct img_reader r;
	struct img_rec rec;
	uint64_t at = 0;
	int ret;

	ret = img_open(path, IMG_OPEN_NO_CHECKSUM, &r);
	if (ret) {
		pr_err("--serve: reading the image back: %s", r.err);
		return ret;
	}
	s->page_size = r.page_size;
	s->size = r.size;
	while ((ret = img_next(&r, &rec)) > 0) {
		uint64_t len = (uint64_t)rec.nr * r.page_size;

		if (rec.type != IMG_PAGES)
			continue;
		ret = push_seg(&s->segs, &s->nr_segs, &s->cap_segs, at, rec.data_off - at);
		if (!ret)
			ret = push_seg(&s->gaps, &s->nr_gaps, &s->cap_gaps, rec.data_off, len);
		if (ret)
			break;
		s->data_bytes += len;
		at = rec.data_off + len;
	}
	if (!ret)
		ret = push_seg(&s->segs, &s->nr_segs, &s->cap_segs, at, r.size - at);
	if (ret < 0)
		pr_err("--serve: reading the image back: %s", r.err[0] ? r.err : errstr(ret));
	img_close(&r);
	return ret < 0 ? ret : 0;
}

static void *bulk_main(void *arg)
{
	struct pgs_server *s = arg;
	struct pgs_info info = { .magic = PGS_MAGIC, .version = PGS_VERSION,
				 .page_size = s->page_size, .size = s->size,
				 .token = s->token, .nr_segs = s->nr_segs };
	struct pgs_msg m;
	const char *what = "sending the image";
	uint64_t one = 1;
	uint32_t i;
	int ret;

	ret = pgs_send_all(s->bulk, &info, sizeof(info));
	if (!ret)
		ret = pgs_send_all(s->bulk, s->segs, s->nr_segs * sizeof(*s->segs));
	for (i = 0; !ret && i < s->nr_segs; i++)
		ret = send_file(s, s->bulk, s->segs[i].off, s->segs[i].len, false);
	for (i = 0; !ret && i < s->nr_gaps; i++)
		ret = send_file(s, s->bulk, s->gaps[i].off, s->gaps[i].len, s->slow);
	if (!ret) {
		what = "waiting for the destination's word that every page arrived";
		ret = pgs_recv_all(s->bulk, &m, sizeof(m));
		if (!ret && (m.type != PGS_DONE || m.reserved))
			ret = -EPROTO;
	}
	if (ret)
		snprintf(s->bulk_why, sizeof(s->bulk_why), "%s: %s", what,
			 ret == -ECONNRESET || ret == -EPIPE ?
			 "the destination hung up before every page arrived" :
			 ret == -ETIMEDOUT ? "no progress in 30 s" :
			 ret == -EPROTO ? "not a bpfckpt page client" : errstr(ret));
	atomic_store(&s->bulk_err, ret);
	if (write(s->done_ev, &one, sizeof(one)) != sizeof(one))
		atomic_store(&s->bulk_err, -EIO);
	return NULL;
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (!getpeername(fd, (struct sockaddr *)&sa, &sl)) {
		if (sa.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host,
				  sizeof(host));
			port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host,
				  sizeof(host));
			port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		}
	}
	snprintf(buf, len, "%s:%d", host, port);
}

/*
 * A connection of @role, its hello checked; -EAGAIN for a peer that is
 * not ours (it is told nothing and closed: a port scan does not end the
 * migration).
 */
static int accept_one(struct pgs_server *s, uint32_t role, int *out)
{
	struct timeval tv = { IDLE_S, 0 };
	struct pgs_hello h;
	char peer[80];
	int fd, one = 1, ret;

	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EINTR || errno == ECONNABORTED ? -EAGAIN : -errno;
	peer_name(fd, peer, sizeof(peer));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = pgs_recv_all(fd, &h, sizeof(h));
	if (!ret && (h.magic != PGS_MAGIC || h.version != PGS_VERSION || h.role != role ||
		     (role == PGS_REQ && h.token != s->token) ||
		     (role == PGS_BULK && h.token)))
		ret = -EPROTO;
	if (ret) {
		pr_warn("--serve %s: a connection from %s: %s; closed", s->name, peer,
			ret == -EPROTO ? "not a bpfckpt page client (or not this one)" :
			errstr(ret));
		close(fd);
		return -EAGAIN;
	}
	*out = fd;
	return 0;
}

/* one PGS_GET, answered; -errno: the request connection is done for */
static int answer(struct pgs_server *s)
{
	struct pgs_msg m;
	int ret = pgs_recv_all(s->req, &m, sizeof(m));

	if (ret)
		return ret;
	if (m.type != PGS_GET || m.reserved || !m.len || m.len > PGS_GET_MAX ||
	    m.off % s->page_size || m.len % s->page_size || m.off > s->size ||
	    m.len > s->size - m.off)
		return -EPROTO;
	if (s->slow)
		usleep(5 * SLOW_US);	/* a far destination: 50 ms a request */
	m.type = PGS_DATA;
	ret = pgs_send_all(s->req, &m, sizeof(m));
	if (!ret)
		ret = send_file(s, s->req, m.off, m.len, false);
	s->nr_get++;
	s->get_bytes += m.len;
	return ret;
}

static int wait_bulk(struct pgs_server *s)
{
	int ret;
	struct pollfd p = { s->lfd, POLLIN, 0 };

	for (;;) {
		ret = poll(&p, 1, ACCEPT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (!ret) {
			pr_err("--serve %s: no destination came in %d s", s->name,
			       ACCEPT_MS / 1000);
			return -ETIMEDOUT;
		}
		ret = accept_one(s, PGS_BULK, &s->bulk);
		if (ret != -EAGAIN)
			return ret;
	}
}

/* requests until the bulk thread ends */
static int serve_loop(struct pgs_server *s)
{
	struct pollfd p[3];
	uint64_t v;
	int ret;

	for (;;) {
		p[0] = (struct pollfd){ s->done_ev, POLLIN, 0 };
		p[1] = (struct pollfd){ s->req >= 0 ? s->req : s->lfd, POLLIN, 0 };
		ret = poll(p, 2, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (p[0].revents) {
			if (read(s->done_ev, &v, sizeof(v)) < 0)
				return -errno;
			ret = atomic_load(&s->bulk_err);
			if (ret)
				pr_err("--serve %s: %s", s->name, s->bulk_why);
			return ret;
		}
		if (!p[1].revents)
			continue;
		if (s->req < 0) {
			ret = accept_one(s, PGS_REQ, &s->req);
			if (ret && ret != -EAGAIN)
				return ret;
			continue;
		}
		ret = answer(s);
		if (ret) {
			pr_err("--serve %s: a request for pages: %s", s->name,
			       ret == -ECONNRESET ? "the destination hung up before every "
			       "page arrived" : ret == -EPROTO ? "a bad request" : errstr(ret));
			return ret;
		}
	}
}

int pgs_serve(struct pgs_server *s, const char *path, int root, bool quiet)
{
	const char *fault = getenv("BPFCKPT_FAULT");
	uint64_t t0;
	char peer[80];
	int ret;

	s->slow = fault && !strcmp(fault, "serve-slow");
	s->img = open(path, O_RDONLY | O_CLOEXEC);
	s->done_ev = eventfd(0, EFD_CLOEXEC);
	if (s->img < 0 || s->done_ev < 0) {
		ret = -errno;
		pr_err("--serve: %s", strerror(errno));
		return ret;
	}
	ret = plan(s, path);
	if (!ret && getrandom(&s->token, sizeof(s->token), 0) != sizeof(s->token))
		ret = -errno;
	if (ret)
		return ret;
	if (!quiet) {
		printf("pid %d: serving %.1f MiB (%.1f MiB of pages) on %s\n", root,
		       s->size / 1048576.0, s->data_bytes / 1048576.0, s->name);
		fflush(stdout);
	}
	ret = wait_bulk(s);
	if (ret)
		return ret;
	t0 = now_ns();
	atomic_store(&s->bulk_err, 1);
	ret = pthread_create(&s->thread, NULL, bulk_main, s);
	if (ret)
		return -ret;
	s->started = true;
	ret = serve_loop(s);
	if (!ret && !quiet) {
		peer_name(s->bulk, peer, sizeof(peer));
		printf("pid %d: %s has every page: %.1f MiB in %.3f s, %llu on demand "
		       "(%.1f MiB)\n", root, peer, s->size / 1048576.0,
		       (now_ns() - t0) / 1e9, (unsigned long long)s->nr_get,
		       s->get_bytes / 1048576.0);
		fflush(stdout);
	}
	return ret;
}

void pgs_close(struct pgs_server *s, bool killed)
{
	struct pgs_msg m = { .type = PGS_KILLED };

	if (!s)
		return;
	if (s->bulk >= 0 && killed && !atomic_load(&s->bulk_err))
		pgs_send_all(s->bulk, &m, sizeof(m));
	/* a bulk thread still sending stops at once */
	if (s->bulk >= 0)
		shutdown(s->bulk, SHUT_RDWR);
	if (s->started)
		pthread_join(s->thread, NULL);
	if (s->bulk >= 0)
		close(s->bulk);
	if (s->req >= 0)
		close(s->req);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->img >= 0)
		close(s->img);
	if (s->done_ev >= 0)
		close(s->done_ev);
	free(s->segs);
	free(s->gaps);
	free(s);
}
