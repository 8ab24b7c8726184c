// SPDX-License-Identifier: GPL-2.0
/*
 * mmaps [DIR] [TICK_MS]: memory layouts a restore must rebuild.
 *   grown    4 anonymous pages grown to 8 with mremap(MREMAP_MAYMOVE);
 *   shrunk   16 pages shrunk to 8 with mremap;
 *   holed    3 pages whose middle one is PROT_NONE (three VMAs), read
 *            through /proc/self/mem;
 *   shared   MAP_SHARED|MAP_ANONYMOUS, shared with a forked child: the
 *            child publishes a counter and a page derived from it
 *            (seqlock), the parent publishes its tick and a fixed page;
 *   cow      MAP_PRIVATE of DIR/mmaps.data (created here), two of its four
 *            pages written (copy-on-write), the file itself unchanged;
 *   sfile    MAP_SHARED of pages 1-2 of DIR/mmaps.shared (three pages,
 *            created here): the tick is written into it through the
 *            mapping and must be in the file (read back with pread);
 *   ro       anonymous, written, then mprotect()ed read-only;
 *   locked   two anonymous pages mlock()ed; after the fork the parent
 *            also calls mlockall(MCL_FUTURE|MCL_ONFAULT): every tick a
 *            fresh mapping must be locked (VmLck grows by its size).
 * Every tick rewrites a word of "grown" and checks all of them.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "wl.h"

#define PG		4096
#define STALL_TICKS	50

struct shm {
	uint64_t child_count;	/* written by the child */
	uint64_t seq;		/* odd while the child rewrites page 1 */
	uint64_t parent_tick;	/* written by the parent */
	uint64_t pad[PG / 8 - 3];
	uint8_t child_page[PG];
	uint8_t parent_page[PG];
};

struct maps {
	uint8_t *grown, *shadow, *shrunk, *holed, *cow, *sfile, *ro, *locked;
	struct shm *shm;
	int file;
	pid_t child;
};

/* byte @off of a region filled with @seed, 8 at a time */
static uint64_t word_at(uint64_t seed, size_t off)
{
	return wl_mix(seed * 1000003 + off);
}

static void pattern(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = word_at(seed, i);

		memcpy(p + i, &v, 8);
	}
}

/* @p holds bytes [@off, @off + @len) of a region filled with @seed */
static int same_at(const uint8_t *p, size_t len, uint64_t seed, size_t off)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = word_at(seed, off + i);

		if (memcmp(p + i, &v, 8))
			return 0;
	}
	return 1;
}

static int same(const uint8_t *p, size_t len, uint64_t seed)
{
	return same_at(p, len, seed, 0);
}

static void *map_anon(size_t pages, int flags)
{
	void *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS,
		       -1, 0);

	wl_check(p != MAP_FAILED, "mmap");
	return p;
}

static void __attribute__((noreturn)) child(struct shm *s, pid_t parent)
{
	uint64_t n, last_parent = 0;

	for (n = 1;; n++) {
		wl_sleep_ms(50);
		if (getppid() != parent)
			wl_fail("mmaps child: parent changed from %d", (int)parent);
		if (!same(s->parent_page, PG, 77))
			wl_fail("mmaps child: the parent's shared page changed");
		if (__atomic_load_n(&s->parent_tick, __ATOMIC_ACQUIRE) < last_parent)
			wl_fail("mmaps child: the parent's tick went back");
		last_parent = s->parent_tick;
		__atomic_store_n(&s->seq, 2 * n - 1, __ATOMIC_RELEASE);
		pattern(s->child_page, PG, n);
		__atomic_store_n(&s->seq, 2 * n, __ATOMIC_RELEASE);
		__atomic_store_n(&s->child_count, n, __ATOMIC_RELEASE);
	}
}

static void setup_cow(struct maps *m, const char *dir)
{
	uint8_t buf[4 * PG];
	char path[4096];

	snprintf(path, sizeof(path), "%s/mmaps.data", dir);
	m->file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	wl_check(m->file >= 0, path);
	pattern(buf, sizeof(buf), 1);
	wl_check(pwrite(m->file, buf, sizeof(buf), 0) == sizeof(buf), "pwrite");
	m->cow = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, m->file, 0);
	wl_check(m->cow != MAP_FAILED, "mmap file");
	pattern(m->cow + PG, 2 * PG, 2);	/* pages 1 and 2: private copies */
	close(m->file);
}

/* pages 1 and 2 of a three-page file, shared: pgoff is one page */
static void setup_sfile(struct maps *m, const char *dir)
{
	uint8_t buf[3 * PG];
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/mmaps.shared", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	wl_check(fd >= 0, path);
	pattern(buf, sizeof(buf), 20);
	wl_check(pwrite(fd, buf, sizeof(buf), 0) == sizeof(buf), "pwrite");
	m->sfile = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
	wl_check(m->sfile != MAP_FAILED, "mmap shared file");
	close(fd);
}

static void setup(struct maps *m, const char *dir)
{
	uint8_t *p;

	p = map_anon(4, MAP_PRIVATE);
	pattern(p, 4 * PG, 10);
	m->grown = mremap(p, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
	wl_check(m->grown != MAP_FAILED, "mremap grow");
	pattern(m->grown + 4 * PG, 4 * PG, 11);
	m->shadow = malloc(8 * PG);
	wl_check(m->shadow != NULL, "malloc");
	memcpy(m->shadow, m->grown, 8 * PG);
	m->shrunk = map_anon(16, MAP_PRIVATE);
	pattern(m->shrunk, 16 * PG, 12);
	wl_check(mremap(m->shrunk, 16 * PG, 8 * PG, 0) == m->shrunk, "mremap shrink");
	m->holed = map_anon(3, MAP_PRIVATE);
	pattern(m->holed, 3 * PG, 13);
	wl_check(mprotect(m->holed + PG, PG, PROT_NONE) == 0, "mprotect");
	m->shm = map_anon(sizeof(struct shm) / PG, MAP_SHARED);
	pattern(m->shm->parent_page, PG, 77);
	setup_cow(m, dir);
	setup_sfile(m, dir);
	m->ro = map_anon(2, MAP_PRIVATE);
	pattern(m->ro, 2 * PG, 14);
	wl_check(mprotect(m->ro, 2 * PG, PROT_READ) == 0, "mprotect read-only");
	m->locked = map_anon(2, MAP_PRIVATE);
	pattern(m->locked, 2 * PG, 15);
	wl_check(mlock(m->locked, 2 * PG) == 0, "mlock");
	m->child = fork();
	wl_check(m->child >= 0, "fork");
	if (m->child == 0)
		child(m->shm, getppid());
	wl_check(mlockall(MCL_FUTURE | MCL_ONFAULT) == 0, "mlockall");
}

/* VmLck of /proc/self/status, in kB */
static long vm_locked(void)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY);

	wl_check(fd >= 0, "/proc/self/status");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	wl_check(n > 0, "read /proc/self/status");
	buf[n] = 0;
	p = strstr(buf, "VmLck:");
	if (!p)
		wl_fail("no VmLck in /proc/self/status");
	return atol(p + 6);
}

/* the mlock()ed pages, and mlockall(MCL_FUTURE) for a new mapping */
static void check_locked(struct maps *m, unsigned long tick)
{
	long before = vm_locked(), with;
	void *p;

	if (before < 8)
		wl_fail("tick %lu: VmLck is %ld kB, the two mlock()ed pages are 8", tick,
			before);
	if (!same(m->locked, 2 * PG, 15))
		wl_fail("tick %lu: the locked mapping changed", tick);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	wl_check(p != MAP_FAILED, "mmap");
	with = vm_locked();
	munmap(p, PG);
	if (with != before + PG / 1024)
		wl_fail("tick %lu: a new page made VmLck %ld kB from %ld: "
			"mlockall(MCL_FUTURE) is gone", tick, with, before);
}

static void check_holed(struct maps *m, unsigned long tick)
{
	uint8_t buf[PG];
	int fd = open("/proc/self/mem", O_RDONLY);

	wl_check(fd >= 0, "/proc/self/mem");
	if (pread(fd, buf, PG, (off_t)(uintptr_t)(m->holed + PG)) != PG)
		wl_fail("tick %lu: reading the PROT_NONE page: %s", tick, strerror(errno));
	close(fd);
	if (!same_at(m->holed, PG, 13, 0) || !same_at(buf, PG, 13, PG) ||
	    !same_at(m->holed + 2 * PG, PG, 13, 2 * PG))
		wl_fail("tick %lu: the mapping with a PROT_NONE hole changed", tick);
}

static void check_cow(struct maps *m, unsigned long tick)
{
	uint8_t buf[4 * PG];
	char path[64];
	int fd;

	if (!same_at(m->cow, PG, 1, 0) || !same_at(m->cow + 3 * PG, PG, 1, 3 * PG))
		wl_fail("tick %lu: unwritten pages of the file mapping differ "
			"from the file", tick);
	if (!same(m->cow + PG, 2 * PG, 2))
		wl_fail("tick %lu: written (copied) pages of the file mapping changed",
			tick);
	/* through the mapping's own file: it must be unchanged underneath */
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)(uintptr_t)m->cow, (unsigned long)(uintptr_t)m->cow + 4 * PG);
	fd = open(path, O_RDONLY);
	wl_check(fd >= 0, path);
	if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf) || !same(buf, sizeof(buf), 1))
		wl_fail("tick %lu: the mapped file changed", tick);
	close(fd);
}

/* the tick goes into the file through the shared mapping */
static void check_sfile(struct maps *m, unsigned long tick)
{
	uint64_t t = tick, got = 0;
	char path[64];
	int fd;

	if (tick > 1) {
		memcpy(&got, m->sfile, 8);
		if (got != tick - 1)
			wl_fail("tick %lu: the shared file mapping holds tick %llu", tick,
				(unsigned long long)got);
	} else if (!same_at(m->sfile, PG, 20, PG)) {
		wl_fail("tick %lu: the shared file mapping does not show the file", tick);
	}
	if (!same_at(m->sfile + PG, PG, 20, 2 * PG))
		wl_fail("tick %lu: page 2 of the shared file mapping changed", tick);
	memcpy(m->sfile, &t, 8);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)(uintptr_t)m->sfile,
		 (unsigned long)(uintptr_t)m->sfile + 2 * PG);
	fd = open(path, O_RDONLY);
	wl_check(fd >= 0, path);
	if (pread(fd, &got, 8, PG) != 8 || got != tick)
		wl_fail("tick %lu: the file under the shared mapping holds %llu", tick,
			(unsigned long long)got);
	close(fd);
	if (!same(m->ro, 2 * PG, 14))
		wl_fail("tick %lu: the read-only mapping changed", tick);
}

/* the child's page, consistent with its sequence number */
static uint64_t check_shared(struct maps *m, unsigned long tick)
{
	static uint8_t copy[PG];
	uint64_t s1, s2;
	int tries;

	if (!same(m->shm->parent_page, PG, 77))
		wl_fail("tick %lu: the parent's shared page changed", tick);
	for (tries = 0; tries < 1000; tries++) {
		s1 = __atomic_load_n(&m->shm->seq, __ATOMIC_ACQUIRE);
		memcpy(copy, m->shm->child_page, PG);
		s2 = __atomic_load_n(&m->shm->seq, __ATOMIC_ACQUIRE);
		if (s1 == s2 && !(s1 & 1))
			break;
	}
	if (tries == 1000)
		return 0;	/* the child keeps rewriting it: next tick */
	if (s1 && !same(copy, PG, s1 / 2))
		wl_fail("tick %lu: the child's shared page does not match its "
			"sequence %llu", tick, (unsigned long long)s1);
	return __atomic_load_n(&m->shm->child_count, __ATOMIC_ACQUIRE);
}

static void tick_once(struct maps *m, unsigned long tick, uint64_t *child_seen,
		      unsigned long *stall)
{
	size_t off = (wl_mix(tick) % (8 * PG / 8)) * 8;
	uint64_t v = wl_mix(~tick), n;
	int st;

	memcpy(m->grown + off, &v, 8);
	memcpy(m->shadow + off, &v, 8);
	if (memcmp(m->grown, m->shadow, 8 * PG))
		wl_fail("tick %lu: the grown mapping differs from its copy", tick);
	if (!same(m->shrunk, 8 * PG, 12))
		wl_fail("tick %lu: the shrunk mapping changed", tick);
	check_holed(m, tick);
	check_cow(m, tick);
	check_sfile(m, tick);
	check_locked(m, tick);
	__atomic_store_n(&m->shm->parent_tick, tick, __ATOMIC_RELEASE);
	n = check_shared(m, tick);
	*stall = n > *child_seen ? 0 : *stall + 1;
	if (n > *child_seen)
		*child_seen = n;
	if (*stall > STALL_TICKS)
		wl_fail("tick %lu: the child's counter is stuck at %llu", tick,
			(unsigned long long)*child_seen);
	if (waitpid(m->child, &st, WNOHANG) != 0)
		wl_fail("tick %lu: the child %d ended", tick, (int)m->child);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	unsigned long tick, stall = 0;
	uint64_t child_seen = 0;
	struct maps m;
	unsigned tick_ms;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 2, 100);
	setup(&m, dir);
	wl_print("ready pid=%d child=%d", (int)getpid(), (int)m.child);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		tick_once(&m, tick, &child_seen, &stall);
		wl_print("tick %lu child=%llu", tick, (unsigned long long)child_seen);
	}
}
