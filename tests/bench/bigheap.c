// SPDX-License-Identifier: GPL-2.0
/*
 * bigheap MB [tick]: the snap benchmark's workload.  Maps MB MiB of
 * private anonymous memory, writes non-zero data into every page (so
 * none is the zero page or left out of the image), prints "ready pid=PID
 * pages=N" and then sleeps until killed.
 *
 * With "tick" it runs instead: every millisecond it checks one page
 * (the next of a pseudo-random walk over all of them) and prints
 * "tick N t=SECONDS ns=NS" (CLOCK_REALTIME, so the lazy bench can tell
 * when the restored heap first ran; NS: how long reading the page took,
 * a fault's latency as the heap sees it); a page that is not what it
 * wrote prints "FAIL" and exits 1.
 *
 * Kept apart from tests/workloads/ so the bench does not depend on a
 * workload that changes for other reasons.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t word(size_t i)
{
	return (i * 0x9e3779b97f4a7c15ULL) | 1;
}

static int tick(const uint64_t *p, size_t len, size_t ps)
{
	size_t pages = len / ps, words = ps / sizeof(*p), pg = 0, i;
	struct timespec t, t1, nap = { 0, 1000 * 1000 };
	unsigned long n;

	for (n = 1;; n++) {
		/* an odd step over a power-of-two count visits every page */
		pg = (pg + 0x9e3779b1UL) % pages;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (i = pg * words; i < (pg + 1) * words; i++)
			if (p[i] != word(i)) {
				printf("FAIL tick %lu: page %zu word %zu is %#llx\n", n, pg,
				       i, (unsigned long long)p[i]);
				return 1;
			}
		clock_gettime(CLOCK_MONOTONIC, &t);
		/* how long the page took: a lazy one comes from a fault */
		t1.tv_nsec = (t.tv_sec - t1.tv_sec) * 1000000000L + t.tv_nsec - t1.tv_nsec;
		clock_gettime(CLOCK_REALTIME, &t);
		printf("tick %lu t=%lld.%06ld ns=%ld\n", n, (long long)t.tv_sec,
		       t.tv_nsec / 1000, t1.tv_nsec);
		fflush(stdout);
		nanosleep(&nap, NULL);
	}
}

int main(int argc, char **argv)
{
	size_t ps = sysconf(_SC_PAGESIZE), len, i;
	unsigned long mb;
	uint64_t *p;
	char *end;

	if (argc != 2 && (argc != 3 || strcmp(argv[2], "tick"))) {
		fprintf(stderr, "usage: bigheap MB [tick]\n");
		return 2;
	}
	errno = 0;
	mb = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || !mb) {
		fprintf(stderr, "bigheap: '%s' is not a size in MiB\n", argv[1]);
		return 2;
	}
	len = mb << 20;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("bigheap: mmap");
		return 1;
	}
	/* a different, never-zero word everywhere */
	for (i = 0; i < len / sizeof(*p); i++)
		p[i] = word(i);
	printf("ready pid=%d pages=%zu\n", getpid(), len / ps);
	fflush(stdout);
	if (argc == 3)
		return tick(p, len, ps);
	for (;;)
		pause();
}
