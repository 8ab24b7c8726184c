// SPDX-License-Identifier: GPL-2.0
/*
 * pty [TICK_MS]: a pty pair inside the tree, as script(1) makes one.
 * The root holds the master (fd 3) and a slave (fd 4); a child leads a
 * session whose controlling terminal the pty is, with it as fds 0-2:
 *   - every 5 ms the child writes "ping N\n" (the tty makes it
 *     "ping N\r\n": ONLCR), and reads "pong N" lines the root types;
 *   - every tick the root reads what the master has (fails on a gap, a
 *     repeat or a changed byte: output left unread at a snap must come
 *     back once and as it was), types "pong N\n", and checks that fd 4
 *     is the slave of fd 3;
 *   - both check the termios (canonical, no echo, ONLCR, VINTR ^X), the
 *     window size 33x101, and the child that the pty is its controlling
 *     terminal with its group in the foreground;
 *   - a second pair, master fd 5 (in packet mode) and slave fd 6, both
 *     the root's: the slave wrote OUT_STASH and the master typed IN_STASH
 *     (a line and a half), and nobody reads them.  Every tick the root checks how much
 *     each side holds; on SIGUSR1 it reads them and says "stash ok".
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include "wl.h"

#define ROWS	33
#define COLS	101
#define INTR	('X' & 0x1f)
#define OUT_STASH	"output nobody read\nyet\n"
#define OUT_SEEN	"output nobody read\r\nyet\r\n"	/* after ONLCR */
#define IN_LINE		"typed line\n"
#define IN_PART		"half a li"
#define IN_STASH	IN_LINE IN_PART

static volatile sig_atomic_t usr1;

static void on_usr1(int sig __attribute__((unused)))
{
	usr1 = 1;
}

/* the second pair holds its stashes (FIONREAD: whole lines only on the slave) */
static void check_held(void)
{
	struct pollfd p[2] = { { .fd = 5, .events = POLLIN }, { .fd = 6, .events = POLLIN } };
	int out = -1, in = -1, tries, pkt = 0;

	/*
	 * A pty write reaches the other side's line discipline from a work
	 * item, later: a short count may be bytes on their way (1 s at most)
	 */
	for (tries = 0; tries < 200; tries++) {
		poll(p, 2, 0);
		wl_check(ioctl(5, FIONREAD, &out) == 0 && ioctl(6, FIONREAD, &in) == 0,
			 "FIONREAD");
		if (out == (int)strlen(OUT_SEEN) && in == (int)strlen(IN_LINE))
			break;
		wl_sleep_ms(5);
	}
	wl_check(ioctl(5, TIOCGPKT, &pkt) == 0, "TIOCGPKT");
	if (!pkt)
		wl_fail("the second pair's master left packet mode");
	if (out != (int)strlen(OUT_SEEN) || in != (int)strlen(IN_LINE))
		wl_fail("the second pair holds %d bytes of output and %d of input, "
			"not %zu and %zu", out, in, strlen(OUT_SEEN), strlen(IN_LINE));
}

static void read_exact(int fd, const char *want, const char *what)
{
	char buf[128];
	size_t len = strlen(want) + (want[0] ? 0 : 1 + strlen(want + 1));
	ssize_t n;

	n = read(fd, buf, sizeof(buf) - 1);
	wl_check(n >= 0, what);
	buf[n] = 0;
	if ((size_t)n != len || memcmp(buf, want, len))
		wl_fail("%s: read %zd bytes '%s', not '%s'", what, n, buf + !buf[0],
			want + !want[0]);
}

static void check_stash(void)
{
	struct termios t;

	/* packet mode: a status byte first, TIOCPKT_DATA (0) */
	read_exact(5, "\0" OUT_SEEN, "output stash");
	read_exact(6, IN_LINE, "input stash line");
	wl_check(tcgetattr(6, &t) == 0, "tcgetattr");
	t.c_lflag &= ~ICANON;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	wl_check(tcsetattr(6, TCSANOW, &t) == 0, "tcsetattr");
	read_exact(6, IN_PART, "input stash half line");
	wl_print("stash ok");
}

static void check_tty(int fd, const char *who)
{
	struct termios t;
	struct winsize ws;

	wl_check(tcgetattr(fd, &t) == 0, "tcgetattr");
	if (!(t.c_lflag & ICANON) || t.c_lflag & ECHO || !(t.c_oflag & ONLCR) ||
	    t.c_cc[VINTR] != INTR)
		wl_fail("%s: termios lflag %#x oflag %#x VINTR %#x changed", who,
			t.c_lflag, t.c_oflag, t.c_cc[VINTR]);
	wl_check(ioctl(fd, TIOCGWINSZ, &ws) == 0, "TIOCGWINSZ");
	if (ws.ws_row != ROWS || ws.ws_col != COLS)
		wl_fail("%s: window %ux%u, not %ux%u", who, ws.ws_row, ws.ws_col, ROWS, COLS);
}

static void __attribute__((noreturn)) child(void)
{
	char line[128], want[64];
	long ping = 0, pong = 0;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	wl_check(setsid() > 0, "setsid");
	wl_check(ioctl(4, TIOCSCTTY, 0) == 0, "TIOCSCTTY");
	for (fd = 0; fd < 3; fd++)
		wl_check(dup2(4, fd) == fd, "dup2");
	close(3);
	close(4);
	close(5);
	close(6);
	for (;;) {
		if (getsid(0) != getpid() || tcgetpgrp(0) != getpid())
			wl_fail("child: session %d, foreground group %d of the pty",
				getsid(0), tcgetpgrp(0));
		fd = open("/dev/tty", O_RDWR);
		if (fd < 0)
			wl_fail("child: no controlling terminal: %s", strerror(errno));
		close(fd);
		check_tty(0, "child");
		snprintf(line, sizeof(line), "ping %ld\n", ++ping);
		wl_write_all(1, line, strlen(line));
		while (poll(&p, 1, 0) == 1) {
			ssize_t n = read(0, line, sizeof(line) - 1);

			if (n <= 0)
				wl_fail("child: reading its terminal: %s", strerror(errno));
			line[n] = 0;
			snprintf(want, sizeof(want), "pong %ld\n", pong + 1);
			if (strcmp(line, want))
				wl_fail("child: read '%.40s', not pong %ld", line, pong + 1);
			pong++;
		}
		wl_sleep_ms(5);
	}
}

/* the pings the master has: whole "ping N\r\n" lines, N following on */
static void read_pings(int m, long *ping, char *part, size_t *plen)
{
	struct pollfd p = { .fd = m, .events = POLLIN };
	char buf[4096 + 64], want[64], *s, *nl;
	ssize_t n;

	while (poll(&p, 1, 0) == 1 && p.revents & POLLIN) {
		memcpy(buf, part, *plen);
		n = read(m, buf + *plen, 4096);
		if (n <= 0)
			wl_fail("reading the master: %s", n ? strerror(errno) : "EOF");
		n += *plen;
		buf[n] = 0;
		for (s = buf; (nl = strchr(s, '\n')); s = nl + 1) {
			snprintf(want, sizeof(want), "ping %ld\r", *ping + 1);
			*nl = 0;
			if (strcmp(s, want))
				wl_fail("master read '%.160s', not ping %ld", s, *ping + 1);
			(*ping)++;
		}
		*plen = strlen(s);
		if (*plen > 32)
			wl_fail("master: no line end in '%.40s'", s);
		memmove(part, s, *plen);
	}
}

int main(int argc, char **argv)
{
	long tick_ms = wl_arg(argc, argv, 1, 50), n, ping = 0;
	struct winsize ws = { ROWS, COLS, 0, 0 };
	char part[64], line[64];
	size_t plen = 0;
	struct termios t;
	unsigned int ptn;
	struct stat st;
	pid_t kid;
	int m;

	wl_setsid();
	m = posix_openpt(O_RDWR | O_NOCTTY);
	wl_check(m >= 0 && dup2(m, 3) == 3, "posix_openpt");
	if (m != 3)
		close(m);
	wl_check(grantpt(3) == 0 && unlockpt(3) == 0, "unlockpt");
	wl_check(open(ptsname(3), O_RDWR | O_NOCTTY) == 4, "opening the slave as fd 4");
	wl_check(tcgetattr(4, &t) == 0, "tcgetattr");
	t.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON;
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VINTR] = INTR;
	wl_check(tcsetattr(4, TCSANOW, &t) == 0, "tcsetattr");
	wl_check(ioctl(3, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");
	m = posix_openpt(O_RDWR | O_NOCTTY);
	wl_check(m == 5 && grantpt(5) == 0 && unlockpt(5) == 0, "a second pty at fd 5");
	wl_check(open(ptsname(5), O_RDWR | O_NOCTTY) == 6, "its slave as fd 6");
	wl_check(tcsetattr(6, TCSANOW, &t) == 0, "tcsetattr");
	wl_write_all(6, OUT_STASH, strlen(OUT_STASH));
	wl_write_all(5, IN_STASH, strlen(IN_STASH));
	wl_check(ioctl(5, TIOCPKT, &(int){ 1 }) == 0, "TIOCPKT");
	signal(SIGUSR1, on_usr1);
	kid = fork();
	wl_check(kid >= 0, "fork");
	if (kid == 0)
		child();
	wl_ready();
	for (n = 1;; n++) {
		int st_kid;

		read_pings(3, &ping, part, &plen);
		if (usr1 == 1) {
			check_stash();
			usr1 = 2;
		} else if (!usr1) {
			check_held();
		}
		snprintf(line, sizeof(line), "pong %ld\n", n);
		wl_write_all(3, line, strlen(line));
		check_tty(3, "root");
		wl_check(ioctl(3, TIOCGPTN, &ptn) == 0 && fstat(4, &st) == 0, "TIOCGPTN");
		if (!S_ISCHR(st.st_mode) || minor(st.st_rdev) != ptn)
			wl_fail("fd 4 is not the slave of fd 3 (pts %u)", ptn);
		if (waitpid(kid, &st_kid, WNOHANG) == kid)
			wl_fail("the child ended (status %#x)", st_kid);
		wl_print("tick %ld pings %ld", n, ping);
		wl_sleep_ms(tick_ms);
	}
}
