// SPDX-License-Identifier: GPL-2.0
/*
 * bigheap MB: the snap benchmark's workload.  Maps MB MiB of private
 * anonymous memory, writes non-zero data into every page (so none is
 * the zero page or left out of the image), prints "ready pid=PID
 * pages=N" and then sleeps until killed.
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
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t ps = sysconf(_SC_PAGESIZE), len, i;
	unsigned long mb;
	uint64_t *p;
	char *end;

	if (argc != 2) {
		fprintf(stderr, "usage: bigheap MB\n");
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
		p[i] = (i * 0x9e3779b97f4a7c15ULL) | 1;
	printf("ready pid=%d pages=%zu\n", getpid(), len / ps);
	fflush(stdout);
	for (;;)
		pause();
}
