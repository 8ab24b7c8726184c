// SPDX-License-Identifier: GPL-2.0
/*
 * locks DIR [TICK_MS]: file locks of every kind, held across a snap and
 * checked every tick in /proc/self/fdinfo (a process cannot test its own
 * locks with F_GETLK: they never conflict with it):
 *   - DIR/flock: flock LOCK_EX on fd 3, an open file shared with a child
 *     (its fd 3 too) that also checks it;
 *   - DIR/posix: POSIX write lock on bytes 10-19 and read lock from byte
 *     100 to EOF, taken through fd 4 (its dup at fd 7 must not drop them);
 *   - DIR/ofd: OFD write lock on bytes 0-9 on fd 5, a read lock on
 *     bytes 0-4 on fd 6 (another open of DIR/flock: flock ignores them);
 *   - the child: its own POSIX write lock on bytes 40-49 of DIR/posix
 *     through fd 8.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "wl.h"

struct want {
	int fd;
	const char *line;	/* what fdinfo shows after "lock:\tN: " up to the pid */
	const char *range;	/* after the dev:ino */
};

static int open_at(const char *dir, const char *name, int flags, int at)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0644);
	wl_check(fd >= 0, path);
	if (fd != at) {
		wl_check(dup2(fd, at) == at, "dup2");
		close(fd);
	}
	return at;
}

static void posix(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	wl_check(fcntl(fd, cmd, &fl) == 0, "fcntl lock");
}

/* "lock:\t1: POSIX  ADVISORY  WRITE 123 fe:00:456 10 19" has @w */
static int has_lock(const char *info, const struct want *w)
{
	const char *p;

	for (p = info; (p = strstr(p, "lock:\t")); p++) {
		const char *kind = strchr(p, ' ');
		char suffix[64];
		size_t n, m;

		if (!kind)
			break;
		kind++;
		n = strcspn(kind, "\n");
		m = (size_t)snprintf(suffix, sizeof(suffix), " %s", w->range);
		if (!strncmp(kind, w->line, strlen(w->line)) && n > m &&
		    !strncmp(kind + n - m, suffix, m))
			return 1;
	}
	return 0;
}

static void check(const struct want *ws, int n)
{
	char path[64], info[4096];
	int i, fd;
	ssize_t r;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ws[i].fd);
		fd = open(path, O_RDONLY);
		wl_check(fd >= 0, path);
		r = read(fd, info, sizeof(info) - 1);
		close(fd);
		wl_check(r > 0, "reading fdinfo");
		info[r] = 0;
		if (!has_lock(info, &ws[i]))
			wl_fail("fd %d lost its lock '%s ... %s'", ws[i].fd, ws[i].line,
				ws[i].range);
	}
}

static const struct want root_wants[] = {
	{ 3, "FLOCK  ADVISORY  WRITE", "0 EOF" },
	{ 4, "POSIX  ADVISORY  WRITE", "10 19" },
	{ 4, "POSIX  ADVISORY  READ", "100 EOF" },
	{ 7, "POSIX  ADVISORY  WRITE", "10 19" },
	{ 5, "OFDLCK ADVISORY  WRITE", "0 9" },
	{ 6, "OFDLCK ADVISORY  READ", "0 4" },
};

static const struct want child_wants[] = {
	{ 3, "FLOCK  ADVISORY  WRITE", "0 EOF" },
	{ 8, "POSIX  ADVISORY  WRITE", "40 49" },
};

int main(int argc, char **argv)
{
	long tick_ms = wl_arg(argc, argv, 2, 50), n;
	const char *dir = argc > 1 ? argv[1] : ".";
	pid_t child;

	wl_setsid();
	open_at(dir, "flock", O_RDWR, 3);
	wl_check(flock(3, LOCK_EX | LOCK_NB) == 0, "flock");
	open_at(dir, "posix", O_RDWR, 4);
	posix(4, F_SETLK, F_WRLCK, 10, 10);
	posix(4, F_SETLK, F_RDLCK, 100, 0);
	wl_check(dup2(4, 7) == 7, "dup2");
	open_at(dir, "ofd", O_RDWR, 5);
	posix(5, F_OFD_SETLK, F_WRLCK, 0, 10);
	open_at(dir, "flock", O_RDONLY, 6);
	posix(6, F_OFD_SETLK, F_RDLCK, 0, 5);
	child = fork();
	wl_check(child >= 0, "fork");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(4);
		close(5);
		close(6);
		close(7);
		open_at(dir, "posix", O_RDWR, 8);
		posix(8, F_SETLK, F_WRLCK, 40, 10);
		for (;;) {
			check(child_wants, (int)(sizeof(child_wants) / sizeof(child_wants[0])));
			wl_sleep_ms(tick_ms);
		}
	}
	wl_ready();
	for (n = 1;; n++) {
		int st;

		check(root_wants, (int)(sizeof(root_wants) / sizeof(root_wants[0])));
		if (waitpid(child, &st, WNOHANG) == child)
			wl_fail("the child ended (status %#x)", st);
		wl_print("tick %ld", n);
		wl_sleep_ms(tick_ms);
	}
}
