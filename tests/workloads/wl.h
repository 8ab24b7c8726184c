/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the workload programs.  The protocol the tests rely on:
 *   - setsid() first, so the tree is self-contained (sid = pgid = root pid);
 *   - "ready pid=PID" once set up, then "tick N ..." lines, N = 1, 2, ...;
 *   - every line is one write(2), so lines of several processes sharing
 *     stdout never interleave;
 *   - on any inconsistency "FAIL: <what differed>" and exit status 1.
 * Workloads may be frozen, snapped, killed and restored at any point:
 * they pace themselves with relative sleeps and never treat a late
 * wake-up as an error.
 */
#ifndef WL_H
#define WL_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void wl_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);	/* our log is gone: nobody to tell */
		buf += n;
		len -= n;
	}
}

/* one line, one write(2) */
static inline void wl_vprint(const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	wl_write_all(STDOUT_FILENO, buf, n);
}

static inline void __attribute__((format(printf, 1, 2))) wl_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wl_vprint(fmt, ap);
	va_end(ap);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
wl_fail(const char *fmt, ...)
{
	char buf[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	wl_print("FAIL: %s", buf);
	exit(1);
}

/* a setup step that must work: FAIL with its errno otherwise */
#define wl_check(cond, what)						\
	do {								\
		if (!(cond))						\
			wl_fail("%s: %s (%s:%d)", what, strerror(errno),\
				__FILE__, __LINE__);			\
	} while (0)

/*
 * A process group leader cannot setsid(): started from a shell with job
 * control, we go on in a child (the "ready pid=" line gives its pid).
 * The tests start workloads with & from a script, so there the pid
 * stays the one the shell knows.
 */
static inline void wl_setsid(void)
{
	pid_t pid;

	if (setsid() >= 0 || getsid(0) == getpid())
		return;
	if (errno != EPERM)
		wl_fail("setsid: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		wl_fail("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		wl_fail("setsid: %s", strerror(errno));
}

static inline void wl_ready(void)
{
	wl_print("ready pid=%d", (int)getpid());
}

static inline uint64_t wl_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* sleeps @ms, resuming after signal handlers; never fails on lateness */
static inline void wl_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* splitmix64: the deterministic patterns of every workload */
static inline uint64_t wl_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* a positive integer argument, with a default */
static inline long wl_arg(int argc, char **argv, int i, long def)
{
	char *end;
	long v;

	if (i >= argc)
		return def;
	errno = 0;
	v = strtol(argv[i], &end, 10);
	if (errno || end == argv[i] || *end || v <= 0) {
		fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
		exit(2);
	}
	return v;
}

#endif
