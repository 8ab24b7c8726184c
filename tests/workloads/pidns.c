// SPDX-License-Identifier: GPL-2.0
/*
 * pidns TICK_MS [DEPTH [private]]: a tree in DEPTH nested pid namespaces,
 * each made as `unshare --pid --fork --mount-proc --propagation slave`
 * makes one (private: unshare's default propagation), by a process that
 * is itself the init of the one above:
 *   R  the root, in our namespace; unshares pid + mount, forks
 *   I1 pid 1 of level 1: mounts its proc on /proc; unshares again, forks
 *   ...
 *   In pid 1 of level DEPTH; forks
 *   W  pid 2 of level DEPTH: every tick, an orphan (fork, fork, exit)
 *      that In must adopt (its getppid() becomes 1) and reap; and a
 *      SIGTERM to its init, which a pid 1 ignores without a handler.
 * Every process remembers its pid at level 0 (read once through a
 * /proc of that level) and ticks as "pid <that> tick N", checking that
 * getpid() is what it was, that its /proc (its own namespace's) agrees,
 * and that its child's pid in /proc (NSpid) is what fork() gave.
 * R prints "ready pid=R inits=I1,..,In worker=W" (level-0 pids).
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "wl.h"

#define MAX_DEPTH	6

struct hello {
	int level;
	int top_pid;
};

static int own_pid;		/* getpid() at start */
static int top_pid;		/* our pid at level 0 */
static int child_pid;		/* as fork() gave it, 0: none */
static int child_inner;		/* the child's pid in its own namespace */
static bool proc_own;		/* /proc is our own namespace's */
static unsigned long propagation = MS_SLAVE;

static int proc_self(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atoi(buf);
}

/* NSpid of @pid in our /proc: its first and last numbers */
static int nspid(int pid, int *first, int *last)
{
	char path[64], buf[4096], *s, *end;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	s = strstr(buf, "\nNSpid:");
	if (!s)
		return -1;
	s += 7;
	*first = strtol(s, &end, 10);
	for (*last = *first; end != s;) {
		long v;

		s = end;
		v = strtol(s, &end, 10);
		if (end != s)
			*last = v;
	}
	return 0;
}

/*
 * /proc is our namespace's proc (the deepest init and the worker), or,
 * as after `unshare --pid --fork --mount-proc`, the proc that our child,
 * the init below, mounted: we are not in it, its pid 1 is that child.
 */
static void check_self(void)
{
	int first, last, self = proc_self();

	if (getpid() != own_pid)
		wl_fail("getpid() %d, was %d", (int)getpid(), own_pid);
	if (!proc_own) {
		if (!child_pid)
			return;	/* the init below is gone, and its proc with it */
		if (self > 0)
			wl_fail("/proc shows us as %d: it should be the proc of the "
				"namespace below", self);
		if (nspid(1, &first, &last) || first != 1 || last != 1)
			wl_fail("/proc/1 of the namespace below: NSpid is not 1");
		return;
	}
	if (self != own_pid)
		wl_fail("/proc/self is %d, getpid() %d: not our namespace's proc",
			self, own_pid);
	if (nspid(own_pid, &first, &last) || first != own_pid || last != own_pid)
		wl_fail("/proc/%d/status NSpid does not start and end with %d",
			own_pid, own_pid);
	if (child_pid && (nspid(child_pid, &first, &last) || first != child_pid ||
			  last != child_inner))
		wl_fail("child %d: NSpid in our /proc is not %d..%d", child_pid,
			child_pid, child_inner);
}

/* a pid namespace and a mount namespace with its proc, as unshare(1) */
static void unshare_pidns(void)
{
	wl_check(!unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare");
	wl_check(!mount(NULL, "/", NULL, MS_REC | propagation, NULL), "mount propagation");
}

static void mount_proc(void)
{
	wl_check(!mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
		 "mount proc");
}

/* the worker: an orphan per tick for its init to reap */
static void orphan(void)
{
	int p[2], st, i;
	pid_t x, y = 0;

	wl_check(!pipe(p), "pipe");
	x = fork();
	wl_check(x >= 0, "fork");
	if (x == 0) {
		y = fork();
		if (y == 0) {
			close(p[0]);
			/* adopted once X is gone: by pid 1, the init */
			for (i = 0; i < 5000 && getppid() != 1; i++)
				wl_sleep_ms(1);
			if (getppid() != 1)
				wl_fail("orphan %d: parent %d, not the init", (int)getpid(),
					(int)getppid());
			_exit(0);
		}
		if (write(p[1], &y, sizeof(y)) != sizeof(y))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &y, sizeof(y)) != sizeof(y))
		wl_fail("orphan's pid not told");
	close(p[0]);
	while (waitpid(x, &st, 0) < 0 && errno == EINTR)
		;
	for (i = 0; i < 5000 && kill(y, 0) == 0; i++)
		wl_sleep_ms(1);
	if (kill(y, 0) == 0)
		wl_fail("orphan %d was not reaped by the init", (int)y);
	/* a pid 1 ignores what it has no handler for */
	kill(1, SIGTERM);
}

static void __attribute__((noreturn)) tick_loop(unsigned ms, bool root, bool init,
						 bool worker)
{
	unsigned long n, orphans = 0;
	int st;
	pid_t r;

	for (n = 1;; n++) {
		wl_sleep_ms(ms);
		while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
			if (r == child_pid && root) {
				/* snap --kill of the init below: not ours to judge */
				wl_print("pid %d child ended", top_pid);
				child_pid = 0;
				continue;
			}
			if (r == child_pid)
				wl_fail("child %d ended (status %#x)", child_pid, st);
			orphans++;
		}
		check_self();
		if (worker)
			orphan();
		if (init)
			wl_print("pid %d tick %lu init orphans=%lu", top_pid, n, orphans);
		else
			wl_print("pid %d tick %lu", top_pid, n);
	}
}

/* our pid at level 0: /proc/self of that level's proc, through @top */
static int top_self(int top)
{
	char buf[32];
	ssize_t n = readlinkat(top, "self", buf, sizeof(buf) - 1);

	if (n <= 0)
		wl_fail("readlink /proc/self of level 0: %s", strerror(errno));
	buf[n] = 0;
	return atoi(buf);
}

static void say_hello(int fd, int level)
{
	struct hello h = { level, top_pid };

	if (write(fd, &h, sizeof(h)) != sizeof(h))
		wl_fail("telling the root");
	close(fd);
}

static void __attribute__((noreturn)) worker(unsigned ms, int depth, int top, int hello)
{
	top_pid = top_self(top);
	close(top);
	own_pid = getpid();
	proc_own = true;
	if (own_pid != 2)
		wl_fail("worker is pid %d, not 2", own_pid);
	say_hello(hello, depth + 1);
	tick_loop(ms, false, false, true);
}

/* pid 1 of level @level (1..@depth); @top: the proc of level 0 */
static void __attribute__((noreturn)) init_proc(unsigned ms, int level, int depth,
						 int top, int hello)
{
	pid_t pid;

	top_pid = top_self(top);
	own_pid = getpid();
	if (own_pid != 1)
		wl_fail("init of level %d is pid %d", level, own_pid);
	mount_proc();
	if (level < depth)
		unshare_pidns();
	pid = fork();
	wl_check(pid >= 0, "fork");
	if (pid == 0 && level < depth)
		init_proc(ms, level + 1, depth, top, hello);
	if (pid == 0)
		worker(ms, depth, top, hello);
	child_pid = pid;
	child_inner = level < depth ? 1 : 2;
	proc_own = level == depth;
	close(top);
	say_hello(hello, level);
	tick_loop(ms, false, true, false);
}

int main(int argc, char **argv)
{
	unsigned ms = wl_arg(argc, argv, 1, 100);
	int depth = wl_arg(argc, argv, 2, 2), top, p[2], i, got = 0;
	int pids[MAX_DEPTH + 2] = { 0 };
	char inits[128] = "";
	struct hello h;
	pid_t pid;

	if (depth > MAX_DEPTH)
		wl_fail("depth %d: at most %d", depth, MAX_DEPTH);
	if (argc > 3 && !strcmp(argv[3], "private"))
		propagation = MS_PRIVATE;
	wl_setsid();
	top = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	wl_check(top >= 0, "open /proc");
	wl_check(!pipe(p), "pipe");
	unshare_pidns();
	pid = fork();
	wl_check(pid >= 0, "fork");
	if (pid == 0) {
		close(p[0]);
		init_proc(ms, 1, depth, top, p[1]);
	}
	close(p[1]);
	close(top);
	while (got < depth + 1 && read(p[0], &h, sizeof(h)) == sizeof(h)) {
		if (h.level < 1 || h.level > depth + 1)
			wl_fail("hello from level %d", h.level);
		pids[h.level] = h.top_pid;
		got++;
	}
	close(p[0]);
	if (got != depth + 1)
		wl_fail("%d of %d processes set up", got, depth + 1);
	for (i = 1; i <= depth; i++)
		snprintf(inits + strlen(inits), sizeof(inits) - strlen(inits), "%s%d",
			 i > 1 ? "," : "", pids[i]);
	own_pid = top_pid = getpid();
	child_pid = pid;
	child_inner = 1;
	wl_print("ready pid=%d inits=%s worker=%d", own_pid, inits, pids[depth + 1]);
	tick_loop(ms, true, false, false);
}
