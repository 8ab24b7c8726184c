// SPDX-License-Identifier: GPL-2.0
/*
 * notify DIR [TICK_MS]: inotify and fanotify, checked by the events
 * they report.
 *   - inotify (non-blocking): wd 1 on DIR (IN_CREATE | IN_DELETE), wd 2
 *     added and removed (a gap), wd 3 on DIR/f (IN_MODIFY), wd 4 on the
 *     symlink DIR/link itself (IN_DONT_FOLLOW, IN_ATTRIB);
 *   - fanotify (FAN_CLASS_NOTIF, non-blocking): an inode mark on DIR/f
 *     (FAN_MODIFY, FAN_OPEN ignored), a mount mark on DIR's mount
 *     (FAN_CLOSE_WRITE), a filesystem mark (FAN_OPEN: seen for the new
 *     file, never for DIR/f, whose mark ignores it).
 * Each tick the workload creates and removes DIR/c.N, appends to DIR/f
 * and touches the symlink, then waits for each event with the wd it must
 * carry (and, for fanotify, its own pid and the path of DIR/f).  Events
 * queued when a snap happens are not saved: a round whose events do not
 * all come is tried again, and three failed rounds in a row FAIL.
 * Lines: "tick N inotify=A fanotify=B" (events seen so far).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include "wl.h"

#define WAIT_MS		3000
#define TRIES		3

enum { GOT_CREATE = 1, GOT_DELETE = 2, GOT_MODIFY = 4, GOT_ATTRIB = 8,
       GOT_FAN_MODIFY = 16, GOT_FAN_CLOSE = 32, GOT_FAN_OPEN = 64, GOT_ALL = 127 };

struct state {
	const char *dir;
	char f[PATH_MAX], link[PATH_MAX], created[PATH_MAX];
	int in, fan;
	int wd_dir, wd_f, wd_link;
	unsigned long n_in, n_fan;
};

static void setup_inotify(struct state *s)
{
	char sub[PATH_MAX + 8];
	int gap;

	s->in = inotify_init1(IN_NONBLOCK);
	wl_check(s->in >= 0, "inotify_init1");
	s->wd_dir = inotify_add_watch(s->in, s->dir, IN_CREATE | IN_DELETE);
	snprintf(sub, sizeof(sub), "%s/sub", s->dir);
	wl_check(mkdir(sub, 0755) == 0 || errno == EEXIST, "mkdir sub");
	gap = inotify_add_watch(s->in, sub, IN_ALL_EVENTS);
	wl_check(gap >= 0 && inotify_rm_watch(s->in, gap) == 0, "watch of sub");
	s->wd_f = inotify_add_watch(s->in, s->f, IN_MODIFY);
	s->wd_link = inotify_add_watch(s->in, s->link, IN_ATTRIB | IN_DONT_FOLLOW);
	if (s->wd_dir != 1 || s->wd_f != 3 || s->wd_link != 4)
		wl_fail("wds %d %d %d, expected 1 3 4", s->wd_dir, s->wd_f, s->wd_link);
}

static void setup_fanotify(struct state *s)
{
	s->fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	wl_check(s->fan >= 0, "fanotify_init");
	wl_check(!fanotify_mark(s->fan, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, s->f),
		 "fanotify_mark inode");
	wl_check(!fanotify_mark(s->fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK |
				FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, AT_FDCWD, s->f),
		 "fanotify_mark ignored");
	wl_check(!fanotify_mark(s->fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE,
				AT_FDCWD, s->dir), "fanotify_mark mount");
	wl_check(!fanotify_mark(s->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN,
				AT_FDCWD, s->dir), "fanotify_mark filesystem");
}

static unsigned read_inotify(struct state *s, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	unsigned got = 0;
	ssize_t n, i;

	while ((n = read(s->in, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n;) {
			const struct inotify_event *e = (const void *)(buf + i);

			if (e->wd == s->wd_dir && e->len && !strcmp(e->name, name))
				got |= e->mask & IN_CREATE ? GOT_CREATE :
				       e->mask & IN_DELETE ? GOT_DELETE : 0;
			else if (e->wd == s->wd_f && e->mask & IN_MODIFY)
				got |= GOT_MODIFY;
			else if (e->wd == s->wd_link && e->mask & IN_ATTRIB)
				got |= GOT_ATTRIB;
			s->n_in++;
			i += sizeof(*e) + e->len;
		}
	}
	return got;
}

static unsigned read_fanotify(struct state *s)
{
	char buf[8192] __attribute__((aligned(8))), link[64], path[PATH_MAX];
	struct fanotify_event_metadata *m;
	unsigned got = 0;
	ssize_t n, len;

	while ((n = read(s->fan, buf, sizeof(buf))) > 0) {
		for (m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->fd < 0)
				continue;
			snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
			len = readlink(link, path, sizeof(path) - 1);
			close(m->fd);
			/* the marks on the mount and filesystem see everyone */
			if (m->pid != getpid() || len <= 0)
				continue;
			path[len] = 0;
			if (!strncmp(path, s->created, strlen(s->created))) {
				/* the filesystem mark */
				got |= m->mask & FAN_OPEN ? GOT_FAN_OPEN : 0;
				s->n_fan++;
				continue;
			}
			if (strcmp(path, s->f))
				continue;
			s->n_fan++;
			/* the inode mark's ignored mask holds for every mark */
			if (m->mask & FAN_OPEN)
				wl_fail("fanotify reported FAN_OPEN of %s, which its "
					"inode mark ignores", s->f);
			got |= (m->mask & FAN_MODIFY ? GOT_FAN_MODIFY : 0) |
			       (m->mask & FAN_CLOSE_WRITE ? GOT_FAN_CLOSE : 0);
		}
	}
	return got;
}

/* one round of events; the bits of those seen */
static unsigned round_of(struct state *s, unsigned long tick, int try)
{
	char name[64], path[PATH_MAX + 64];
	uint64_t t0 = wl_now_ns(CLOCK_MONOTONIC);
	struct pollfd p[2] = { { s->in, POLLIN, 0 }, { s->fan, POLLIN, 0 } };
	unsigned got = 0;
	int fd;

	snprintf(name, sizeof(name), "c.%lu.%d", tick, try);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	wl_check(fd >= 0 && close(fd) == 0 && unlink(path) == 0, "creating and removing a file");
	fd = open(s->f, O_WRONLY | O_APPEND | O_CLOEXEC);
	wl_check(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0, "appending to f");
	/* IN_ATTRIB on the link itself, not on f */
	wl_check(lchown(s->link, getuid(), getgid()) == 0, "lchown of the link");
	while (got != GOT_ALL &&
	       wl_now_ns(CLOCK_MONOTONIC) - t0 < WAIT_MS * 1000000ULL) {
		poll(p, 2, 100);
		got |= read_inotify(s, name) | read_fanotify(s);
	}
	return got;
}

int main(int argc, char **argv)
{
	struct state s = { 0 };
	unsigned long tick;
	unsigned tick_ms, got;
	int fd, try;

	if (argc < 2) {
		fprintf(stderr, "usage: notify DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	s.dir = argv[1];
	tick_ms = wl_arg(argc, argv, 2, 100);
	snprintf(s.f, sizeof(s.f), "%s/f", s.dir);
	snprintf(s.link, sizeof(s.link), "%s/link", s.dir);
	snprintf(s.created, sizeof(s.created), "%s/c.", s.dir);
	fd = open(s.f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	wl_check(fd >= 0 && close(fd) == 0, "creating f");
	wl_check(symlink("f", s.link) == 0 || errno == EEXIST, "symlink");
	setup_inotify(&s);
	setup_fanotify(&s);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		for (try = 0, got = 0; try < TRIES && got != GOT_ALL; try++)
			got = round_of(&s, tick, try);
		if (got != GOT_ALL)
			wl_fail("tick %lu: events missing in %d rounds (seen %#x of %#x)",
				tick, TRIES, got, GOT_ALL);
		wl_print("tick %lu inotify=%lu fanotify=%lu", tick, s.n_in, s.n_fan);
	}
}
