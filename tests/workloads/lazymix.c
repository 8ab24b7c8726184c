// SPDX-License-Identifier: GPL-2.0
/*
 * lazymix PAGES [TICK_MS]: what a program does with memory a lazy restore
 * has not filled yet.  Eight regions of PAGES pages each hold a known
 * pattern; every tick works on the next window of WIN pages of each, so
 * that after a restore it meets pages the pager has not served (the
 * tests turn the background pull off):
 *   A  read in place, by every thread at once (4 threads)
 *   M  mremap()ed elsewhere, checked there, unmapped
 *   D  madvise(MADV_DONTNEED): must read zero, then is written again
 *   U  munmap()ed and mapped again: zero, then written again
 *   R  pread() from a file into it (the kernel writes the lazy page)
 *   W  pwrite() from it into a file (the kernel reads it), read back
 *   F  a child forked now checks it and exits with the result
 *   P  mprotect(PROT_READ), checked, made writable again
 *   H  like A, in a MADV_HUGEPAGE region
 * SIGUSR1 makes it exec sleep(1) on the spot (exec while pages are
 * still being pulled).  "ready pid=P A=0x... PAGES=N" gives A's address
 * for outside readers (/proc/PID/mem).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "wl.h"

#define PG	4096ul
#define WIN	8
#define NREG	9
#define THREADS	4

enum { A, M, D, U, R, W, F, P, H };
static const char names[] = "AMDURWFPH";

static char *reg[NREG];
static unsigned long pages;
static _Atomic unsigned long window = ~0ul;
static _Atomic int readers_done;

static uint64_t want(int r, unsigned long page, unsigned w)
{
	return wl_mix((uint64_t)r << 40 | page << 9 | w);
}

static void fill(int r, unsigned long page)
{
	uint64_t *p = (uint64_t *)(reg[r] + page * PG);
	unsigned w;

	for (w = 0; w < PG / 8; w++)
		p[w] = want(r, page, w);
}

static void check_at(const char *at, int r, unsigned long page, const char *what)
{
	const uint64_t *p = (const uint64_t *)at;
	unsigned w;

	for (w = 0; w < PG / 8; w++)
		if (p[w] != want(r, page, w))
			wl_fail("region %c page %lu word %u: %#llx, want %#llx (%s)",
				names[r], page, w, (unsigned long long)p[w],
				(unsigned long long)want(r, page, w), what);
}

static void check_zero(const char *at, int r, unsigned long page)
{
	const uint64_t *p = (const uint64_t *)at;
	unsigned w;

	for (w = 0; w < PG / 8; w++)
		if (p[w])
			wl_fail("region %c page %lu: not zero after it was dropped",
				names[r], page);
}

static void *reader(void *arg)
{
	unsigned long seen = ~0ul, win, i;

	(void)arg;
	for (;;) {
		while ((win = window) == seen)
			wl_sleep_ms(1);
		seen = win;
		for (i = 0; i < WIN; i++) {
			check_at(reg[A] + (win + i) * PG, A, win + i, "threads");
			check_at(reg[H] + (win + i) * PG, H, win + i, "huge");
		}
		readers_done++;
	}
	return NULL;
}

static void do_mremap(unsigned long base)
{
	char *to = mmap(NULL, WIN * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	unsigned long i;

	wl_check(to != MAP_FAILED, "mmap");
	p = mremap(reg[M] + base * PG, WIN * PG, WIN * PG, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	wl_check(p == to, "mremap");
	for (i = 0; i < WIN; i++)
		check_at(p + i * PG, M, base + i, "moved");
	/* put it back for the next round, refilled */
	p = mremap(p, WIN * PG, WIN * PG, MREMAP_MAYMOVE | MREMAP_FIXED, reg[M] + base * PG);
	wl_check(p == reg[M] + base * PG, "mremap back");
}

static void do_dropped(int r, unsigned long base)
{
	char *at = reg[r] + base * PG;
	unsigned long i;

	if (r == D) {
		wl_check(madvise(at, WIN * PG, MADV_DONTNEED) == 0, "madvise");
	} else {
		wl_check(munmap(at, WIN * PG) == 0, "munmap");
		wl_check(mmap(at, WIN * PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == at, "mmap");
	}
	for (i = 0; i < WIN; i++) {
		check_zero(at + i * PG, r, base + i);
		fill(r, base + i);
	}
}

/* through the file lazymix.io in the cwd (pipes are not restored yet) */
static void do_io(int fd, unsigned long base)
{
	static char buf[PG];
	unsigned long i;

	for (i = 0; i < WIN; i++) {
		/* R: the kernel writes into the lazy page */
		uint64_t *src = (uint64_t *)buf;
		unsigned w;

		for (w = 0; w < PG / 8; w++)
			src[w] = want(R, base + i, w);
		wl_check(pwrite(fd, buf, PG, 0) == (ssize_t)PG, "pwrite");
		wl_check(pread(fd, reg[R] + (base + i) * PG, PG, 0) == (ssize_t)PG, "pread into R");
		check_at(reg[R] + (base + i) * PG, R, base + i, "read()");
		/* W: the kernel reads the lazy page */
		wl_check(pwrite(fd, reg[W] + (base + i) * PG, PG, 0) == (ssize_t)PG, "pwrite from W");
		wl_check(pread(fd, buf, PG, 0) == (ssize_t)PG, "pread back");
		check_at(buf, W, base + i, "write()");
	}
}

static void do_fork(unsigned long base)
{
	unsigned long i;
	pid_t kid = fork();
	int st;

	wl_check(kid >= 0, "fork");
	if (!kid) {
		for (i = 0; i < WIN; i++)
			check_at(reg[F] + (base + i) * PG, F, base + i, "in a child");
		_exit(0);
	}
	wl_check(waitpid(kid, &st, 0) == kid, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		wl_fail("the child checking region F failed (status %#x)", st);
}

static void do_mprotect(unsigned long base)
{
	char *at = reg[P] + base * PG;
	unsigned long i;

	wl_check(mprotect(at, WIN * PG, PROT_READ) == 0, "mprotect");
	for (i = 0; i < WIN; i++)
		check_at(at + i * PG, P, base + i, "read-only");
	wl_check(mprotect(at, WIN * PG, PROT_READ | PROT_WRITE) == 0, "mprotect back");
}

static void on_usr1(int sig)
{
	(void)sig;
	execl("/bin/sleep", "sleep", "1", (char *)NULL);
	_exit(127);
}

int main(int argc, char **argv)
{
	unsigned tick_ms;
	unsigned long tick, base, i, r;
	pthread_t th;
	int io;

	pages = wl_arg(argc, argv, 1, 4096);
	tick_ms = wl_arg(argc, argv, 2, 20);
	wl_setsid();
	pages -= pages % WIN;
	for (r = 0; r < NREG; r++) {
		size_t len = pages * PG + (r == H ? 2 << 20 : 0);
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		wl_check(p != MAP_FAILED, "mmap");
		if (r == H) {
			/* 2 MiB aligned, so that huge pages can back it */
			p = (char *)(((uintptr_t)p + (2 << 20) - 1) & ~((2ul << 20) - 1));
			madvise(p, pages * PG, MADV_HUGEPAGE);
		}
		reg[r] = p;
		for (i = 0; i < pages; i++)
			fill(r, i);
	}
	io = open("lazymix.io", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	wl_check(io >= 0, "open lazymix.io");
	signal(SIGUSR1, on_usr1);
	for (i = 0; i < THREADS; i++)
		wl_check(pthread_create(&th, NULL, reader, NULL) == 0, "pthread_create");
	wl_print("ready pid=%d A=%p PAGES=%lu", (int)getpid(), (void *)reg[A], pages);
	for (tick = 1;; tick++) {
		base = (tick * WIN) % pages;
		readers_done = 0;
		window = base;
		do_mremap(base);
		do_dropped(D, base);
		do_dropped(U, base);
		do_io(io, base);
		do_fork(base);
		do_mprotect(base);
		while (readers_done < THREADS)
			wl_sleep_ms(1);
		wl_print("tick %lu window %lu", tick, base);
		wl_sleep_ms(tick_ms);
	}
}
