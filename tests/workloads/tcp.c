// SPDX-License-Identifier: GPL-2.0
/*
 * tcp pair PORT [TICK_MS]: TCP and UDP over loopback, both ends in the
 * tree, checked by the process that holds each end:
 *   - the root listens on 127.0.0.1:PORT (SO_REUSEADDR, backlog 7) and
 *     [::1]:PORT (IPV6_V6ONLY), and checks every tick that both still
 *     listen with their options;
 *   - stream: child A writes a numbered stream of 8-byte words into a v4
 *     connection as fast as it can (both queues full, A blocked); the
 *     root reads 64 words a tick and fails on a gap or a repeat;
 *   - echo: child B sends its tick number on a v6 connection (TCP_NODELAY,
 *     SO_KEEPALIVE) and wants it back from the root, which echoes it;
 *   - udp: B's connected UDP socket sends its tick number to the root's
 *     bound one (127.0.0.1:PORT+1); the root wants them increasing.
 *   The root prints "tick N stream=W echo=E udp=U".
 * tcp server PORT [ADDR]: listens on ADDR:PORT (127.0.0.1 by default;
 * SO_REUSEADDR cleared after listen(), at fd 20
 * once it has accepted, above the connection) and serves one client from
 * outside the tree: each line "N" it gets must be the one after the last,
 * and it answers "N". Prints "tick N" every 10 lines; at the client's
 * end of stream "eof after N", and keeps its end open (CLOSE_WAIT).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "wl.h"

#define WORDS	64

static int opt(int sk, int level, int name)
{
	int v = -1;
	socklen_t sl = sizeof(v);

	wl_check(getsockopt(sk, level, name, &v, &sl) == 0, "getsockopt");
	return v;
}

static void set_opt(int sk, int level, int name, int v)
{
	wl_check(setsockopt(sk, level, name, &v, sizeof(v)) == 0, "setsockopt");
}

/* on @addr (NULL: loopback) */
static int listen_at(int family, const char *addr, int port, int reuse)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int sk = socket(family, SOCK_STREAM, 0);

	if (addr && inet_pton(family, addr, family == AF_INET ? (void *)&a4.sin_addr :
			      (void *)&a6.sin6_addr) != 1)
		wl_fail("bad address %s", addr);

	wl_check(sk >= 0, "socket");
	/* !reuse: cleared once listening (a rerun's TIME_WAIT holds the port) */
	set_opt(sk, SOL_SOCKET, SO_REUSEADDR, 1);
	if (family == AF_INET6)
		set_opt(sk, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	wl_check(bind(sk, family == AF_INET ? (void *)&a4 : (void *)&a6,
		      family == AF_INET ? sizeof(a4) : sizeof(a6)) == 0, "bind");
	wl_check(listen(sk, 7) == 0, "listen");
	if (!reuse)
		set_opt(sk, SOL_SOCKET, SO_REUSEADDR, 0);
	return sk;
}

static int listen_on(int family, int port, int reuse)
{
	return listen_at(family, NULL, port, reuse);
}

static int connect_to(int family, int type, int port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int sk = socket(family, type, 0);

	wl_check(sk >= 0, "socket");
	wl_check(connect(sk, family == AF_INET ? (void *)&a4 : (void *)&a6,
			 family == AF_INET ? sizeof(a4) : sizeof(a6)) == 0, "connect");
	return sk;
}

static void read_all(int fd, void *buf, size_t len, const char *what)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			wl_fail("%s: read: %s", what, n ? strerror(errno) : "end of stream");
		p += n;
		len -= n;
	}
}

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			wl_fail("%s: write: %s", what, strerror(errno));
		p += n;
		len -= n;
	}
}

static void __attribute__((noreturn)) streamer(int port)
{
	int sk = connect_to(AF_INET, SOCK_STREAM, port);
	uint64_t buf[WORDS], n = 0;
	int i;

	for (;;) {
		for (i = 0; i < WORDS; i++)
			buf[i] = wl_mix(n++);
		write_all(sk, buf, sizeof(buf), "stream");
	}
}

static void __attribute__((noreturn)) echoer(int port, unsigned tick_ms)
{
	int sk = connect_to(AF_INET6, SOCK_STREAM, port);
	int u = connect_to(AF_INET, SOCK_DGRAM, port + 1);
	uint64_t n, back;

	set_opt(sk, IPPROTO_TCP, TCP_NODELAY, 1);
	set_opt(sk, SOL_SOCKET, SO_KEEPALIVE, 1);
	for (n = 1;; n++) {
		write_all(sk, &n, sizeof(n), "echo");
		read_all(sk, &back, sizeof(back), "echo");
		if (back != n)
			wl_fail("echo: sent %llu, got %llu back", (unsigned long long)n,
				(unsigned long long)back);
		if (opt(sk, IPPROTO_TCP, TCP_NODELAY) != 1 ||
		    opt(sk, SOL_SOCKET, SO_KEEPALIVE) != 1)
			wl_fail("echo: TCP_NODELAY or SO_KEEPALIVE lost");
		/* ECONNREFUSED: an earlier datagram met no socket */
		if (send(u, &n, sizeof(n), 0) != sizeof(n) && errno != ECONNREFUSED)
			wl_fail("udp: send: %s", strerror(errno));
		wl_sleep_ms(tick_ms);
	}
}

static void check_listener(int sk, int family, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint16_t p;

	wl_check(getsockname(sk, (void *)&ss, &sl) == 0, "getsockname");
	p = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		  ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family != family || p != port)
		wl_fail("listener: family %d port %u, not %d %d", ss.ss_family, p, family, port);
	if (opt(sk, SOL_SOCKET, SO_ACCEPTCONN) != 1 || opt(sk, SOL_SOCKET, SO_REUSEADDR) != 1)
		wl_fail("listener %d: not listening or no SO_REUSEADDR", family);
	if (family == AF_INET6 && opt(sk, IPPROTO_IPV6, IPV6_V6ONLY) != 1)
		wl_fail("v6 listener: IPV6_V6ONLY lost");
}

static void pair(int port, unsigned tick_ms)
{
	int l4 = listen_on(AF_INET, port, 1), l6 = listen_on(AF_INET6, port, 1);
	struct sockaddr_in ua = { .sin_family = AF_INET, .sin_port = htons(port + 1),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint64_t buf[WORDS], want = 0, echo = 0, udp = 0, v, tick;
	int u, s, e, i;
	pid_t a, b;

	u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	wl_check(u >= 0 && bind(u, (void *)&ua, sizeof(ua)) == 0, "udp bind");
	a = fork();
	wl_check(a >= 0, "fork");
	if (!a)
		streamer(port);
	s = accept(l4, NULL, NULL);
	wl_check(s >= 0, "accept");
	b = fork();
	wl_check(b >= 0, "fork");
	if (!b)
		echoer(port, tick_ms);
	e = accept(l6, NULL, NULL);
	wl_check(e >= 0, "accept");
	wl_ready();
	for (tick = 1;; tick++) {
		struct pollfd pf = { e, POLLIN, 0 };

		read_all(s, buf, sizeof(buf), "stream");
		for (i = 0; i < WORDS; i++, want++)
			if (buf[i] != wl_mix(want))
				wl_fail("stream: word %llu is wrong", (unsigned long long)want);
		while (poll(&pf, 1, 0) == 1) {
			read_all(e, &v, sizeof(v), "echo");
			if (v != echo + 1)
				wl_fail("echo: got %llu after %llu", (unsigned long long)v,
					(unsigned long long)echo);
			echo = v;
			write_all(e, &v, sizeof(v), "echo");
		}
		while (recv(u, &v, sizeof(v), 0) == sizeof(v)) {
			if (v <= udp)
				wl_fail("udp: %llu after %llu", (unsigned long long)v,
					(unsigned long long)udp);
			udp = v;
		}
		check_listener(l4, AF_INET, port);
		check_listener(l6, AF_INET6, port);
		wl_print("tick %llu stream=%llu echo=%llu udp=%llu", (unsigned long long)tick,
			 (unsigned long long)want, (unsigned long long)echo,
			 (unsigned long long)udp);
		wl_sleep_ms(tick_ms);
	}
}

static void server(int port, const char *addr)
{
	int l = listen_at(strchr(addr, ':') ? AF_INET6 : AF_INET, addr, port, 0), c;
	char line[64];
	unsigned long n, last = 0;
	size_t len = 0;
	ssize_t r;

	wl_ready();
	c = accept(l, NULL, NULL);
	wl_check(c >= 0, "accept");
	/* the listener after its connection, so that restore makes it last */
	wl_check(dup2(l, 20) == 20 && close(l) == 0, "dup2");
	for (;;) {
		r = read(c, line + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			wl_fail("server: read: %s", strerror(errno));
		if (!r)
			break;
		if (line[len] != '\n') {
			if (++len == sizeof(line))
				wl_fail("server: line too long");
			continue;
		}
		line[len] = 0;
		len = 0;
		n = strtoul(line, NULL, 10);
		if (n != last + 1)
			wl_fail("server: got %lu after %lu", n, last);
		last = n;
		snprintf(line, sizeof(line), "%lu\n", n);
		write_all(c, line, strlen(line), "server");
		if (n % 10 == 0)
			wl_print("tick %lu", n / 10);
	}
	/* the client shut its side: ours stays open, in CLOSE_WAIT */
	wl_print("eof after %lu", last);
	for (;;)
		wl_sleep_ms(1000);
}

int main(int argc, char **argv)
{
	int port = wl_arg(argc, argv, 2, 0);

	wl_setsid();
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3 || !port)
		wl_fail("usage: tcp pair|server PORT [TICK_MS]");
	if (!strcmp(argv[1], "pair"))
		pair(port, wl_arg(argc, argv, 3, 50));
	else if (!strcmp(argv[1], "server"))
		server(port, argc > 3 ? argv[3] : "127.0.0.1");
	wl_fail("unknown mode %s", argv[1]);
}
