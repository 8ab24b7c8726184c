// SPDX-License-Identifier: GPL-2.0
/*
 * zheap MB text|random: the compression benchmark's workload.  Maps MB
 * MiB of private anonymous memory and fills every page with numbered
 * lines of text (compressible, like a heap of strings) or with
 * pseudo-random bytes (incompressible, like encrypted or compressed
 * data), prints "ready pid=PID pages=N" and sleeps until killed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fill_text(char *p, size_t len)
{
	size_t off = 0;
	unsigned long n = 0;
	char line[96];
	int k;

	while (off < len) {
		k = snprintf(line, sizeof(line), "%lu: key=%lu value=%lx state=ok\n",
			     n, n * 7, n * 0x9e3779b1UL);
		n++;
		if ((size_t)k > len - off)
			k = len - off;
		memcpy(p + off, line, k);
		off += k;
	}
}

static void fill_random(uint64_t *p, size_t len)
{
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t i;

	/* xorshift64*: no byte pattern zstd could find */
	for (i = 0; i < len / 8; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = x * 0x2545f4914f6cdd1dULL;
	}
}

int main(int argc, char **argv)
{
	size_t ps = sysconf(_SC_PAGESIZE), len;
	unsigned long mb;
	char *end;
	void *p;

	if (argc != 3 || (strcmp(argv[2], "text") && strcmp(argv[2], "random"))) {
		fprintf(stderr, "usage: zheap MB text|random\n");
		return 2;
	}
	errno = 0;
	mb = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || !mb) {
		fprintf(stderr, "zheap: '%s' is not a size in MiB\n", argv[1]);
		return 2;
	}
	len = mb << 20;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("zheap: mmap");
		return 1;
	}
	if (!strcmp(argv[2], "text"))
		fill_text(p, len);
	else
		fill_random(p, len);
	printf("ready pid=%d pages=%zu\n", getpid(), len / ps);
	fflush(stdout);
	for (;;)
		pause();
}
