// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy [-m MiB] [DIR...]: the yardsticks for snap throughput, all
 * measured in one run so they share the machine's state.  The source is
 * touched private memory, like a workload's heap; the destinations:
 *
 *   anon_fresh    a fresh anonymous mapping: every page is faulted in
 *   anon_touched  the same mapping again: a pure copy
 *   file_first    per DIR, a fresh MAP_SHARED mapping of a new file there,
 *                 sized with fallocate() as the image writer does (timed
 *                 with the copy, and alone as falloc_sec: on tmpfs it
 *                 allocates and zeroes every page); fsync timed apart
 *   file_reuse    the same once more, into a second file created after the
 *                 first was deleted
 *
 * Why two file passes: in this VM, memory the host has taken back (free
 * page reporting) is several times slower to touch the first time, and
 * the page cache's large folios come from exactly such free blocks.  The
 * second pass gets the folios the first one freed, as a snap gets those
 * of the image deleted before it in the bench.
 *
 * One line per measurement, "memcpy KIND [dir=DIR] key=value...", seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void report(const char *kind, const char *dir, size_t len, double sec,
		   double fsync_sec)
{
	printf("memcpy %s", kind);
	if (dir)
		printf(" dir=%s", dir);
	printf(" bytes=%zu sec=%.4f gibps=%.3f", len, sec,
	       len / sec / (1 << 30));
	if (fsync_sec >= 0)
		printf(" fsync_sec=%.4f", fsync_sec);
	printf("\n");
	fflush(stdout);
}

static int copy_to_file(const char *kind, const char *dir, const void *src,
			size_t len)
{
	char path[4096];
	double t0, t1, t2, tf;
	void *dst;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "%s/.bench-memcpy.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "memcpy: creating a file in %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	unlink(path);
	/* as img_pages_begin() does: blocks first, then the mapping */
	t0 = now();
	if (fallocate(fd, 0, 0, len) && (errno != EOPNOTSUPP || ftruncate(fd, len))) {
		fprintf(stderr, "memcpy: sizing a file in %s: %s\n", dir,
			strerror(errno));
		goto out;
	}
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (dst == MAP_FAILED) {
		fprintf(stderr, "memcpy: mmap of a file in %s: %s\n", dir,
			strerror(errno));
		goto out;
	}
	tf = now();
	memcpy(dst, src, len);
	t1 = now();
	if (fsync(fd)) {
		fprintf(stderr, "memcpy: fsync in %s: %s\n", dir, strerror(errno));
		munmap(dst, len);
		goto out;
	}
	t2 = now();
	munmap(dst, len);
	report(kind, dir, len, t1 - t0, t2 - t1);
	printf("memcpy %s_falloc dir=%s sec=%.4f\n", kind, dir, tf - t0);
	ret = 0;
out:
	close(fd);	/* the last reference: the page cache is freed */
	return ret;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)1024 << 20, i;
	uint64_t *src;
	char *dst, *end;
	double t0;
	int opt, ret = 0;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt != 'm') {
			fprintf(stderr, "usage: memcpy [-m MiB] [DIR...]\n");
			return 2;
		}
		len = strtoull(optarg, &end, 10) << 20;
		if (*end || !len) {
			fprintf(stderr, "memcpy: '%s' is not a size in MiB\n", optarg);
			return 2;
		}
	}
	src = map_anon(len);
	dst = map_anon(len);
	if (!src || !dst) {
		fprintf(stderr, "memcpy: mmap: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < len / sizeof(*src); i++)
		src[i] = (i * 0x9e3779b97f4a7c15ULL) | 1;

	t0 = now();
	memcpy(dst, src, len);
	report("anon_fresh", NULL, len, now() - t0, -1);
	t0 = now();
	memcpy(dst, src, len);
	report("anon_touched", NULL, len, now() - t0, -1);
	munmap(dst, len);

	for (; optind < argc; optind++) {
		if (copy_to_file("file_first", argv[optind], src, len) ||
		    copy_to_file("file_reuse", argv[optind], src, len))
			ret = 1;
	}
	return ret;
}
