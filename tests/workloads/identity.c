// SPDX-License-Identifier: GPL-2.0
/*
 * identity [TICK_MS] [ARGS...]: what a process is and where it runs.
 * At start it rewrites its last argument in place (as setproctitle()
 * does: /proc/PID/cmdline shows the memory, not what exec was given),
 * names itself with PR_SET_NAME, then captures, and checks every tick:
 *   /proc/self/exe (path, and the device and inode of the file),
 *   /proc/self/cmdline and /proc/self/environ (against argv and envp),
 *   the mm's layout fields of /proc/self/stat (code, data, brk, stack,
 *   args, env), /proc/self/auxv and getauxval() of the main entries,
 *   the cwd (path, device and inode), the umask, the personality and
 *   the comm.
 * Each tick it also grows the heap by a page with sbrk, writes it, and
 * shrinks it back: brk must be where the kernel thinks it is.
 * "ready pid=P personality=0xN umask=0NNN" then "tick N" lines.
 */
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "wl.h"

#define BIG	8192

extern char **environ;

struct ident {
	char exe[BIG];
	dev_t exe_dev;
	ino_t exe_ino;
	char cmdline[BIG];
	ssize_t cmdline_len;
	char environ[BIG * 4];
	ssize_t environ_len;
	char layout[1024];	/* fields 26-28 and 45-51 of /proc/self/stat */
	char auxv[1024];
	ssize_t auxv_len;
	unsigned long at[6];
	char cwd[BIG];
	dev_t cwd_dev;
	ino_t cwd_ino;
	char umask[32];
	int personality;
	char comm[32];
	void *brk;
};

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += n;
	close(fd);
	if ((size_t)got == cap)
		wl_fail("%s is larger than %zu bytes", path, cap);
	return got;
}

/* the mm layout: startcode endcode startstack, start_data .. env_end */
static void layout(char *out, size_t cap)
{
	char buf[2048], *p, *tok, *save;
	size_t used = 0;
	ssize_t n;
	int field;

	n = slurp("/proc/self/stat", buf, sizeof(buf) - 1);
	wl_check(n > 0, "/proc/self/stat");
	buf[n] = 0;
	p = strrchr(buf, ')');
	wl_check(p != NULL, "/proc/self/stat format");
	/* field 3 is the state, right after ") " */
	for (field = 3, tok = strtok_r(p + 2, " \n", &save); tok;
	     field++, tok = strtok_r(NULL, " \n", &save)) {
		if ((field >= 26 && field <= 28) || (field >= 45 && field <= 51))
			used += snprintf(out + used, cap - used, "%d=%s ", field, tok);
	}
}

static void status_field(const char *name, char *out, size_t cap)
{
	char buf[4096], *p;
	ssize_t n;

	n = slurp("/proc/self/status", buf, sizeof(buf) - 1);
	wl_check(n > 0, "/proc/self/status");
	buf[n] = 0;
	p = strstr(buf, name);
	if (!p)
		wl_fail("/proc/self/status has no %s", name);
	snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

static ssize_t join(char **v, char *out, size_t cap)
{
	size_t used = 0, n;

	for (; *v; v++) {
		n = strlen(*v) + 1;
		if (used + n > cap)
			wl_fail("argument or environment larger than %zu bytes", cap);
		memcpy(out + used, *v, n);
		used += n;
	}
	return used;
}

static void capture(struct ident *id)
{
	static const unsigned long types[6] = {
		AT_PHDR, AT_ENTRY, AT_RANDOM, AT_EXECFN, AT_SYSINFO_EHDR, AT_BASE,
	};
	struct stat st;
	ssize_t n;
	int i;

	memset(id, 0, sizeof(*id));
	n = readlink("/proc/self/exe", id->exe, sizeof(id->exe) - 1);
	wl_check(n > 0, "readlink /proc/self/exe");
	wl_check(stat("/proc/self/exe", &st) == 0, "stat /proc/self/exe");
	id->exe_dev = st.st_dev;
	id->exe_ino = st.st_ino;
	id->cmdline_len = slurp("/proc/self/cmdline", id->cmdline, sizeof(id->cmdline));
	id->environ_len = slurp("/proc/self/environ", id->environ, sizeof(id->environ));
	wl_check(id->cmdline_len > 0 && id->environ_len >= 0, "cmdline/environ");
	layout(id->layout, sizeof(id->layout));
	id->auxv_len = slurp("/proc/self/auxv", id->auxv, sizeof(id->auxv));
	for (i = 0; i < 6; i++)
		id->at[i] = getauxval(types[i]);
	wl_check(getcwd(id->cwd, sizeof(id->cwd)) != NULL, "getcwd");
	wl_check(stat(".", &st) == 0, "stat .");
	id->cwd_dev = st.st_dev;
	id->cwd_ino = st.st_ino;
	status_field("Umask:", id->umask, sizeof(id->umask));
	id->personality = personality(0xffffffff);
	wl_check(prctl(PR_GET_NAME, id->comm) == 0, "PR_GET_NAME");
	id->brk = sbrk(0);
}

#define SAME(field, what)						\
	do {								\
		if (memcmp(&now->field, &start->field, sizeof(now->field)))\
			wl_fail("tick %lu: %s changed", tick, what);	\
	} while (0)

static void compare(const struct ident *start, const struct ident *now,
		    unsigned long tick)
{
	if (strcmp(now->exe, start->exe) || now->exe_dev != start->exe_dev ||
	    now->exe_ino != start->exe_ino)
		wl_fail("tick %lu: /proc/self/exe is %s (%lx:%lu), was %s (%lx:%lu)",
			tick, now->exe, (long)now->exe_dev, (unsigned long)now->exe_ino,
			start->exe, (long)start->exe_dev, (unsigned long)start->exe_ino);
	if (now->cmdline_len != start->cmdline_len ||
	    memcmp(now->cmdline, start->cmdline, now->cmdline_len))
		wl_fail("tick %lu: /proc/self/cmdline changed (%zd bytes, was %zd)",
			tick, now->cmdline_len, start->cmdline_len);
	if (now->environ_len != start->environ_len ||
	    memcmp(now->environ, start->environ, now->environ_len))
		wl_fail("tick %lu: /proc/self/environ changed (%zd bytes, was %zd)",
			tick, now->environ_len, start->environ_len);
	if (strcmp(now->layout, start->layout))
		wl_fail("tick %lu: mm layout in /proc/self/stat is '%s', was '%s'",
			tick, now->layout, start->layout);
	if (now->auxv_len != start->auxv_len ||
	    memcmp(now->auxv, start->auxv, now->auxv_len))
		wl_fail("tick %lu: /proc/self/auxv changed", tick);
	SAME(at, "getauxval() of AT_PHDR/ENTRY/RANDOM/EXECFN/SYSINFO_EHDR/BASE");
	if (strcmp(now->cwd, start->cwd) || now->cwd_dev != start->cwd_dev ||
	    now->cwd_ino != start->cwd_ino)
		wl_fail("tick %lu: cwd is %s, was %s", tick, now->cwd, start->cwd);
	if (strcmp(now->umask, start->umask))
		wl_fail("tick %lu: '%s', was '%s'", tick, now->umask, start->umask);
	if (now->personality != start->personality)
		wl_fail("tick %lu: personality %#x, was %#x", tick, now->personality,
			start->personality);
	if (strcmp(now->comm, start->comm))
		wl_fail("tick %lu: comm '%s', was '%s'", tick, now->comm, start->comm);
	if (now->brk != start->brk)
		wl_fail("tick %lu: brk %p, was %p", tick, now->brk, start->brk);
}

/* the argv and envp that exec gave, as they are in memory now */
static void check_args(char **argv, const struct ident *id, unsigned long tick)
{
	static char buf[BIG * 4];
	ssize_t n;

	n = join(argv, buf, sizeof(buf));
	if (n != id->cmdline_len || memcmp(buf, id->cmdline, n))
		wl_fail("tick %lu: /proc/self/cmdline differs from argv", tick);
	n = join(environ, buf, sizeof(buf));
	if (n != id->environ_len || memcmp(buf, id->environ, n))
		wl_fail("tick %lu: /proc/self/environ differs from envp", tick);
}

static void use_brk(const struct ident *id, unsigned long tick)
{
	char *p = sbrk(4096);

	if (p == (void *)-1 || p != id->brk)
		wl_fail("tick %lu: sbrk(4096) gave %p, brk was %p: %s", tick, (void *)p,
			id->brk, strerror(errno));
	memset(p, (int)tick, 4096);
	if (p[4095] != (char)tick)
		wl_fail("tick %lu: the new heap page does not hold what was written", tick);
	if (sbrk(-4096) == (void *)-1)
		wl_fail("tick %lu: sbrk(-4096): %s", tick, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct ident start, now;
	unsigned long tick;
	unsigned tick_ms;
	char *last;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	/* as setproctitle() does: the same length, in place */
	last = argv[argc - 1];
	if (argc > 2 && strlen(last) > 0)
		last[0] = last[0] == '@' ? '#' : '@';
	wl_check(prctl(PR_SET_NAME, "ident-worker") == 0, "PR_SET_NAME");
	capture(&start);
	check_args(argv, &start, 0);
	wl_print("ready pid=%d personality=%#x %s", (int)getpid(), start.personality,
		 start.umask);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		use_brk(&start, tick);
		capture(&now);
		compare(&start, &now, tick);
		check_args(argv, &start, tick);
		wl_print("tick %lu", tick);
	}
}
