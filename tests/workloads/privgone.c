// SPDX-License-Identifier: GPL-2.0
/*
 * privgone DIR [TICK_MS]: MAP_PRIVATE mappings of files nothing else
 * holds, the way a program maps a library replaced under it or code it
 * loaded from a memfd.
 *   - DIR/lib.dat, 3 pages and 123 bytes of a pattern (mode 0750),
 *     mapped privately read-write whole and its page 2 a second time
 *     read-only, then unlinked and closed.  Page 1 of the first mapping
 *     is written (the process's own copy, with a counter in its first
 *     8 bytes); pages 0, 2 and 3 stay the file's.
 *   - a memfd "jit" of 2 pages, sealed against writing, growing and
 *     shrinking, mapped privately read+exec, its fd closed.
 * A child made after all that checks the file pages and its inherited
 * copy of page 1 every tick.  Each tick the parent checks:
 *   - the pattern of the file pages, its copy of page 1 and that the
 *     counter there went on from where it was (restore kept the page);
 *   - through /proc/self/map_files, that the file itself still holds
 *     the pattern on page 1 (the copy did not leak into it), its size
 *     and mode; and that the memfd's seals hold;
 *   - that a written page 3 dropped with MADV_DONTNEED reads the file
 *     again: the mapping maps the file, not anonymous memory.
 * Lines: "pid P tick N count=C".
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "wl.h"

#define PS		4096
#define LIB_SIZE	(3 * PS + 123)
#define LIB_LEN		(4 * PS)
#define LIB_MODE	0750
#define JIT_LEN		(2 * PS)
#define JIT_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

static uint8_t pattern(uint64_t i, uint64_t salt)
{
	return wl_mix(i ^ (salt << 32)) & 0xff;
}

static void check_fill(const uint8_t *p, uint64_t off, uint64_t len, uint64_t salt,
		       const char *what)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(off + i, salt))
			wl_fail("%s: byte %llu is %#x, expected %#x", what,
				(unsigned long long)(off + i), p[i], pattern(off + i, salt));
}

/* the file pages of the mapping, and the tail of page 3 past the end */
static void check_file_pages(const uint8_t *lib, const uint8_t *alias, const uint8_t *jit)
{
	uint64_t i;

	check_fill(lib, 0, PS, 1, "lib.dat page 0");
	check_fill(lib + 2 * PS, 2 * PS, PS, 1, "lib.dat page 2");
	check_fill(lib + 3 * PS, 3 * PS, 123, 1, "lib.dat page 3");
	for (i = LIB_SIZE; i < LIB_LEN; i++)
		if (lib[i])
			wl_fail("lib.dat: byte %llu past its end is %#x", (unsigned long long)i,
				lib[i]);
	check_fill(alias, 2 * PS, PS, 1, "lib.dat page 2, second mapping");
	check_fill(jit, 0, JIT_LEN, 2, "memfd jit");
	/* the copy of page 1, past its counter */
	check_fill(lib + PS + 8, PS + 8, PS - 8, 9, "lib.dat page 1 (its own copy)");
}

/* the file behind @map, opened through /proc/self/map_files */
static int map_file(const void *map, uint64_t len)
{
	char link[64];
	int fd;

	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)map,
		 (unsigned long)map + (unsigned long)len);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wl_fail("open %s: %s", link, strerror(errno));
	return fd;
}

static void check_files(const uint8_t *lib, const uint8_t *jit)
{
	uint8_t page[PS];
	struct stat st;
	int fd, seals;

	fd = map_file(lib, LIB_LEN);
	if (pread(fd, page, PS, PS) != PS)
		wl_fail("pread of lib.dat page 1: %s", strerror(errno));
	check_fill(page, PS, PS, 1, "lib.dat page 1 in the file");
	if (fstat(fd, &st) || st.st_size != LIB_SIZE || (st.st_mode & 07777) != LIB_MODE ||
	    st.st_nlink)
		wl_fail("lib.dat: size %lld mode %o links %ld, expected %d %o 0",
			(long long)st.st_size, st.st_mode & 07777, (long)st.st_nlink,
			LIB_SIZE, LIB_MODE);
	close(fd);
	fd = map_file(jit, JIT_LEN);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals != JIT_SEALS)
		wl_fail("memfd jit: seals %#x, expected %#x", seals, JIT_SEALS);
	if (pwrite(fd, page, 1, 0) == 1 || ftruncate(fd, PS) == 0)
		wl_fail("memfd jit: a write or truncate got through its seals");
	close(fd);
}

/* page 3 written and dropped reads the file again */
static void check_dontneed(uint8_t *lib)
{
	lib[3 * PS] ^= 0xff;
	if (madvise(lib + 3 * PS, PS, MADV_DONTNEED))
		wl_fail("madvise(MADV_DONTNEED): %s", strerror(errno));
	check_fill(lib + 3 * PS, 3 * PS, 123, 1, "lib.dat page 3 after MADV_DONTNEED");
}

static void __attribute__((noreturn)) child(const uint8_t *lib, const uint8_t *alias,
					    const uint8_t *jit, unsigned tick_ms)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		check_file_pages(lib, alias, jit);
		wl_sleep_ms(tick_ms);
	}
}

int main(int argc, char **argv)
{
	uint8_t *lib, *alias, *jit, buf[LIB_SIZE];
	volatile uint64_t *count;
	char path[4096];
	unsigned long tick;
	unsigned tick_ms;
	pid_t pid;
	int fd, st;
	uint64_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: privgone DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	tick_ms = wl_arg(argc, argv, 2, 100);

	snprintf(path, sizeof(path), "%s/lib.dat", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	wl_check(fd >= 0, "creating lib.dat");
	for (i = 0; i < LIB_SIZE; i++)
		buf[i] = pattern(i, 1);
	wl_check(pwrite(fd, buf, LIB_SIZE, 0) == LIB_SIZE, "writing lib.dat");
	wl_check(fchmod(fd, LIB_MODE) == 0, "fchmod lib.dat");
	lib = mmap(NULL, LIB_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	wl_check(lib != MAP_FAILED, "mmap lib.dat");
	alias = mmap(NULL, PS, PROT_READ, MAP_PRIVATE, fd, 2 * PS);
	wl_check(alias != MAP_FAILED, "mmap lib.dat page 2");
	close(fd);
	wl_check(unlink(path) == 0, "unlinking lib.dat");
	for (i = 0; i < PS; i++)
		lib[PS + i] = pattern(PS + i, 9);
	count = (volatile uint64_t *)(lib + PS);
	*count = 0;

	fd = memfd_create("jit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	wl_check(fd >= 0, "memfd_create");
	for (i = 0; i < JIT_LEN; i++)
		buf[i] = pattern(i, 2);
	wl_check(pwrite(fd, buf, JIT_LEN, 0) == JIT_LEN, "writing jit");
	wl_check(fcntl(fd, F_ADD_SEALS, JIT_SEALS) == 0, "F_ADD_SEALS");
	jit = mmap(NULL, JIT_LEN, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	wl_check(jit != MAP_FAILED, "mmap jit");
	close(fd);

	pid = fork();
	wl_check(pid >= 0, "fork");
	if (pid == 0)
		child(lib, alias, jit, tick_ms);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (waitpid(pid, &st, WNOHANG) == pid)
			wl_fail("the child ended (status %#x): see its message above", st);
		if (*count != tick - 1)
			wl_fail("tick %lu: the counter in its copy of page 1 is %llu, expected "
				"%lu", tick, (unsigned long long)*count, tick - 1);
		*count = tick;
		check_file_pages(lib, alias, jit);
		check_files(lib, jit);
		check_dontneed(lib);
		wl_print("pid %d tick %lu count=%llu", (int)getpid(), tick,
			 (unsigned long long)*count);
	}
}
