// SPDX-License-Identifier: GPL-2.0
/*
 * shmgone DIR [TICK_MS]: MAP_SHARED mappings of objects nothing else
 * holds, shared by a parent and its child.
 *   - a memfd of 258 pages and 100 bytes (sealed against growing and
 *     shrinking), from page 2 on a pattern, mapped whole, its page 1 mapped a second time (offset
 *     4096) elsewhere, and kept open as fd 40;
 *   - a file DIR/gone.dat of 2 pages, mapped, then unlinked and closed;
 *   - three memfds with no fd left, only mapped, each with a pattern:
 *     "sealed" (F_SEAL_SHRINK|F_SEAL_GROW, 2 pages and 50 bytes, mapped
 *     read-write), "wsealed" (F_SEAL_WRITE, mapped read-only after it)
 *     "fsealed" (F_SEAL_FUTURE_WRITE added while it was mapped
 *     read-write, which the mapping keeps) and "plain" (made without
 *     MFD_ALLOW_SEALING: F_SEAL_SEAL).
 * Each tick the parent throws a ball through the deleted file and the
 * child answers through the memfd (ball * 3 + 1): both must still map
 * the same objects.  The parent also checks that the memfd's pattern
 * and size hold, that the second mapping is the same page as the first,
 * that fd 40 reads what the mapping holds, and that the deleted file's
 * pattern holds; for the fd-less memfds, through its own
 * /proc/self/map_files entry, that F_GET_SEALS says what it sealed and
 * that each seal holds.
 * Lines: "pid P tick N answer=A".
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "wl.h"

#define PS		4096
#define MEMFD_PAGES	259	/* 256 of them full of a pattern: 1 MiB */
#define MEMFD_SIZE	((MEMFD_PAGES - 1) * PS + 100)
#define GONE_SIZE	(2 * PS)
#define MEMFD_FD	40
#define SEALS		(F_SEAL_SHRINK | F_SEAL_GROW)
#define SEALED_SIZE	(2 * PS + 50)

/* a memfd that only its mapping holds */
struct lone {
	const char *name;
	uint8_t *map;
	uint64_t size, salt;
	int seals;
};

struct slots {
	volatile uint64_t ball;		/* in the deleted file: the parent's */
	volatile uint64_t answer;	/* in the memfd: the child's */
};

static uint8_t pattern(uint64_t i, uint64_t salt)
{
	return wl_mix(i ^ salt) & 0xff;
}

static void fill(uint8_t *p, uint64_t len, uint64_t salt)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(i, salt);
}

static void check_fill(const uint8_t *p, uint64_t len, uint64_t salt, const char *what)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(i, salt))
			wl_fail("%s: byte %llu is %#x, expected %#x", what,
				(unsigned long long)i, p[i], pattern(i, salt));
}

static void __attribute__((noreturn)) child(uint8_t *mem, uint8_t *gone)
{
	struct slots *g = (void *)gone, *m = (void *)mem;
	uint64_t seen = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		uint64_t b = __atomic_load_n(&g->ball, __ATOMIC_ACQUIRE);

		if (b != seen) {
			seen = b;
			__atomic_store_n(&m->answer, b * 3 + 1, __ATOMIC_RELEASE);
		}
		wl_sleep_ms(1);
	}
}

static void play(uint8_t *mem, uint8_t *gone, unsigned long tick)
{
	struct slots *g = (void *)gone, *m = (void *)mem;
	uint64_t want = tick * 3 + 1, t0 = wl_now_ns(CLOCK_MONOTONIC);

	__atomic_store_n(&g->ball, tick, __ATOMIC_RELEASE);
	while (__atomic_load_n(&m->answer, __ATOMIC_ACQUIRE) != want) {
		if (wl_now_ns(CLOCK_MONOTONIC) - t0 > 30ULL * 1000000000ULL)
			wl_fail("tick %lu: no answer from the child in 30 s (answer %llu): "
				"the two do not share the files", tick,
				(unsigned long long)m->answer);
		wl_sleep_ms(1);
	}
}

static void check(uint8_t *mem, uint8_t *alias, uint8_t *gone, unsigned long tick)
{
	struct slots *m = (void *)mem;
	uint64_t answer = 0;
	struct stat st;
	int seals;

	check_fill(mem + 2 * PS, MEMFD_SIZE - 2 * PS, 2, "memfd from page 2");
	check_fill(gone + PS, PS, 3, "deleted file page 1");
	/* the second mapping is the same page */
	((volatile uint64_t *)alias)[8] = tick;
	if (((volatile uint64_t *)(mem + PS))[8] != tick)
		wl_fail("tick %lu: a write through the mapping at offset 4096 is not "
			"seen through the first mapping", tick);
	if (pread(MEMFD_FD, &answer, sizeof(answer), offsetof(struct slots, answer)) !=
	    sizeof(answer))
		wl_fail("pread of fd %d: %s", MEMFD_FD, strerror(errno));
	if (answer != m->answer)
		wl_fail("tick %lu: fd %d reads answer %llu, the mapping holds %llu", tick,
			MEMFD_FD, (unsigned long long)answer, (unsigned long long)m->answer);
	if (fstat(MEMFD_FD, &st) || st.st_size != MEMFD_SIZE)
		wl_fail("fd %d: size %lld, expected %d", MEMFD_FD, (long long)st.st_size,
			MEMFD_SIZE);
	seals = fcntl(MEMFD_FD, F_GET_SEALS);
	if (seals != SEALS)
		wl_fail("fd %d: seals %#x, expected %#x", MEMFD_FD, seals, SEALS);
	if (ftruncate(MEMFD_FD, PS) == 0 || errno != EPERM)
		wl_fail("fd %d: shrinking a memfd sealed F_SEAL_SHRINK did not fail "
			"with EPERM", MEMFD_FD);
}

/* @l->map through /proc/self/map_files: its seals, and that they hold */
static void check_lone(const struct lone *l, unsigned long tick)
{
	char link[64];
	uint8_t b = 0;
	int fd, seals;
	void *m;

	check_fill(l->map, l->size, l->salt, l->name);
	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)l->map,
		 (unsigned long)(l->map + ((l->size + PS - 1) & ~(uint64_t)(PS - 1))));
	fd = open(link, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		wl_fail("tick %lu: %s: open %s: %s", tick, l->name, link, strerror(errno));
	seals = fcntl(fd, F_GET_SEALS);
	if (seals != l->seals)
		wl_fail("tick %lu: %s: seals %#x, expected %#x", tick, l->name, seals,
			l->seals);
	if (l->seals & F_SEAL_SEAL && (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0 ||
				       errno != EPERM))
		wl_fail("%s: adding a seal did not fail with EPERM", l->name);
	if (l->seals & F_SEAL_SHRINK && (ftruncate(fd, PS) == 0 || errno != EPERM))
		wl_fail("%s: shrinking it did not fail with EPERM", l->name);
	if (l->seals & F_SEAL_GROW && (ftruncate(fd, 4 * PS) == 0 || errno != EPERM))
		wl_fail("%s: growing it did not fail with EPERM", l->name);
	if (l->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) &&
	    (pwrite(fd, &b, 1, 0) == 1 || errno != EPERM))
		wl_fail("%s: pwrite did not fail with EPERM", l->name);
	if (l->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		m = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED || errno != EPERM)
			wl_fail("%s: a new writable shared mapping did not fail with EPERM",
				l->name);
	}
	/* F_SEAL_WRITE left the mapping without VM_MAYWRITE: it stays read-only */
	if (l->seals & F_SEAL_WRITE && (mprotect(l->map, PS, PROT_READ | PROT_WRITE) == 0 ||
					errno != EACCES))
		wl_fail("%s: mprotect(PROT_WRITE) did not fail with EACCES", l->name);
	/* F_SEAL_FUTURE_WRITE left the older mapping writable */
	if (l->seals & F_SEAL_FUTURE_WRITE) {
		l->map[PS - 1] = (uint8_t)tick;
		if (l->map[PS - 1] != (uint8_t)tick)
			wl_fail("%s: a write through its mapping is lost", l->name);
		l->map[PS - 1] = pattern(PS - 1, l->salt);
	}
	close(fd);
}

/* a memfd of @l->size bytes with a pattern, mapped, sealed, its fd closed */
static void make_lone(struct lone *l, bool seal_first)
{
	uint64_t len = (l->size + PS - 1) & ~(uint64_t)(PS - 1);
	int prot = l->seals & F_SEAL_WRITE ? PROT_READ : PROT_READ | PROT_WRITE;
	int fd = memfd_create(l->name, MFD_CLOEXEC |
			      (l->seals == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING));
	uint8_t *buf;

	wl_check(fd >= 0, "memfd_create");
	buf = malloc(l->size);
	wl_check(buf != NULL, "malloc");
	fill(buf, l->size, l->salt);
	wl_check(pwrite(fd, buf, l->size, 0) == (ssize_t)l->size, "pwrite memfd");
	free(buf);
	/* F_SEAL_WRITE is EBUSY once a shared mapping may write (mm/memfd.c) */
	if (seal_first && l->seals != F_SEAL_SEAL)
		wl_check(fcntl(fd, F_ADD_SEALS, l->seals) == 0, "F_ADD_SEALS");
	l->map = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
	wl_check(l->map != MAP_FAILED, "mmap memfd");
	if (!seal_first && l->seals != F_SEAL_SEAL)
		wl_check(fcntl(fd, F_ADD_SEALS, l->seals) == 0, "F_ADD_SEALS");
	close(fd);
}

int main(int argc, char **argv)
{
	struct lone lone[] = {
		{ "sealed", NULL, SEALED_SIZE, 4, F_SEAL_SHRINK | F_SEAL_GROW },
		{ "wsealed", NULL, PS, 5, F_SEAL_WRITE },
		{ "fsealed", NULL, PS, 6, F_SEAL_FUTURE_WRITE },
		{ "plain", NULL, PS, 7, F_SEAL_SEAL },
	};
	unsigned i;
	uint8_t *mem, *alias, *gone;
	char path[4096];
	unsigned long tick;
	unsigned tick_ms;
	pid_t pid;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: shmgone DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	tick_ms = wl_arg(argc, argv, 2, 100);

	fd = memfd_create("shmgone", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	wl_check(fd >= 0, "memfd_create");
	wl_check(ftruncate(fd, MEMFD_SIZE) == 0, "ftruncate memfd");
	mem = mmap(NULL, MEMFD_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	wl_check(mem != MAP_FAILED, "mmap memfd");
	alias = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PS);
	wl_check(alias != MAP_FAILED, "mmap memfd page 1");
	fill(mem + 2 * PS, MEMFD_SIZE - 2 * PS, 2);
	wl_check(fcntl(fd, F_ADD_SEALS, SEALS) == 0, "F_ADD_SEALS");
	wl_check(dup2(fd, MEMFD_FD) == MEMFD_FD, "dup2");
	close(fd);

	snprintf(path, sizeof(path), "%s/gone.dat", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	wl_check(fd >= 0, "creating gone.dat");
	wl_check(ftruncate(fd, GONE_SIZE) == 0, "ftruncate gone.dat");
	gone = mmap(NULL, GONE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	wl_check(gone != MAP_FAILED, "mmap gone.dat");
	close(fd);
	wl_check(unlink(path) == 0, "unlinking gone.dat");
	fill(gone + PS, PS, 3);
	make_lone(&lone[0], false);
	make_lone(&lone[1], true);
	make_lone(&lone[2], false);
	make_lone(&lone[3], false);

	pid = fork();
	wl_check(pid >= 0, "fork");
	if (pid == 0)
		child(mem, gone);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		play(mem, gone, tick);
		check(mem, alias, gone, tick);
		for (i = 0; i < sizeof(lone) / sizeof(lone[0]); i++)
			check_lone(&lone[i], tick);
		wl_print("pid %d tick %lu answer=%llu", (int)getpid(), tick,
			 (unsigned long long)((struct slots *)mem)->answer);
	}
}
