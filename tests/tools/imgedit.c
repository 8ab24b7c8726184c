// SPDX-License-Identifier: GPL-2.0
/*
 * imgedit: makes images a restore must refuse for a reason other than
 * their checksum, by editing them and sealing them again.
 *   imgedit IMAGE list
 *       one line per record: "INDEX OFFSET TYPE LEN" (offset in hex)
 *   imgedit IMAGE set FIELD VALUE
 *       sets a header string (sysname, release, kversion, machine,
 *       hostname, boot_id), then re-seals
 *   imgedit IMAGE poke OFFSET HEXBYTES
 *       overwrites bytes at OFFSET (before the tail), then re-seals
 * Re-sealing recomputes the tail's checksum: XXH3-64 of every byte
 * before the tail record (user/img.c).  The image must be well framed
 * to start with (its checksum may already be wrong).
 * Exit 0 done, 1 on error, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "img.h"
#include "bpfckpt/mm.h"

#define USAGE "usage: imgedit IMAGE list | set FIELD VALUE | poke OFFSET HEXBYTES\n"

static const struct {
	const char *name;
	size_t off, len;
} fields[] = {
	{ "sysname", offsetof(struct img_header, sysname), sizeof(((struct img_header *)0)->sysname) },
	{ "release", offsetof(struct img_header, release), sizeof(((struct img_header *)0)->release) },
	{ "kversion", offsetof(struct img_header, kversion), sizeof(((struct img_header *)0)->kversion) },
	{ "machine", offsetof(struct img_header, machine), sizeof(((struct img_header *)0)->machine) },
	{ "hostname", offsetof(struct img_header, hostname), sizeof(((struct img_header *)0)->hostname) },
	{ "boot_id", offsetof(struct img_header, boot_id), sizeof(((struct img_header *)0)->boot_id) },
};

static int list(const char *path)
{
	struct img_reader r;
	struct img_rec rec;
	int ret;

	if (img_open(path, IMG_OPEN_NO_CHECKSUM, &r)) {
		fprintf(stderr, "imgedit: %s: %s\n", path, r.err);
		return 1;
	}
	printf("0 0x0 header %u\n", r.hdr->h.len);
	while ((ret = img_next(&r, &rec)) > 0)
		printf("%" PRIu64 " %#" PRIx64 " %s %u\n", rec.index, rec.off,
		       img_type_name(rec.type), rec.len);
	if (ret < 0)
		fprintf(stderr, "imgedit: %s: %s\n", path, r.err);
	img_close(&r);
	return ret < 0 ? 1 : 0;
}

/* a writable mapping of the image and the offset of its tail */
static int map_rw(const char *path, uint8_t **base, size_t *size, uint64_t *tail)
{
	struct img_reader r;
	struct stat st;
	void *m;
	int fd;

	if (img_open(path, IMG_OPEN_NO_CHECKSUM, &r)) {
		fprintf(stderr, "imgedit: %s: %s\n", path, r.err);
		return -EINVAL;
	}
	*tail = r.end;
	img_close(&r);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "imgedit: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "imgedit: %s: mmap: %s\n", path, strerror(errno));
		return -errno;
	}
	*base = m;
	*size = st.st_size;
	return 0;
}

/* each chunk's page sums, then the tail's checksum, as snap writes them */
static int seal(const char *path, uint8_t *base, size_t size, uint64_t tail)
{
	struct img_tail *t = (struct img_tail *)(base + tail);
	uint64_t sum, i;
	struct img_rec rec, pages = { 0 };
	struct img_reader r;
	uint64_t *sums;
	int ret;

	if (img_open(path, IMG_OPEN_NO_CHECKSUM, &r))
		goto bad;
	/* a record made unknown on purpose is still framed and sealed */
	r.any_type = true;
	while ((ret = img_next(&r, &rec)) > 0) {
		if (rec.type == IMG_PAGES)
			pages = rec;
		if (rec.type != IMG_PAGE_SUMS || !pages.nr)
			continue;
		sums = (uint64_t *)(base + rec.off + sizeof(struct img_page_sums));
		for (i = 0; i < img_pieces(pages.nr); i++)
			sums[i] = img_piece_sum(r.page_size, base + pages.data_off,
						pages.nr, i);
	}
	if (ret < 0 || img_checksum(&r, &sum))
		goto bad;
	img_close(&r);
	t->checksum = sum;
	if (msync(base, size, MS_SYNC))
		return -errno;
	return munmap(base, size) ? -errno : 0;
bad:
	fprintf(stderr, "imgedit: %s: %s\n", path, r.err);
	img_close(&r);
	munmap(base, size);
	return -EINVAL;
}

static int set_field(const char *path, const char *name, const char *value)
{
	uint8_t *base;
	uint64_t tail;
	size_t size, i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].name, name))
			break;
	if (i == sizeof(fields) / sizeof(fields[0])) {
		fprintf(stderr, "imgedit: no header field '%s'\n", name);
		return 2;
	}
	if (strlen(value) >= fields[i].len) {
		fprintf(stderr, "imgedit: '%s' does not fit %s (%zu bytes)\n", value,
			name, fields[i].len);
		return 2;
	}
	if (map_rw(path, &base, &size, &tail))
		return 1;
	memset(base + fields[i].off, 0, fields[i].len);
	memcpy(base + fields[i].off, value, strlen(value));
	return seal(path, base, size, tail) ? 1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int poke(const char *path, const char *offs, const char *hex)
{
	size_t n = strlen(hex) / 2, size, i;
	uint64_t tail, off;
	uint8_t *base;
	char *end;

	errno = 0;
	off = strtoull(offs, &end, 0);
	if (errno || *end || !n || strlen(hex) % 2) {
		fprintf(stderr, USAGE);
		return 2;
	}
	for (i = 0; i < 2 * n; i++) {
		if (hexval(hex[i]) < 0) {
			fprintf(stderr, "imgedit: '%s' is not hex\n", hex);
			return 2;
		}
	}
	if (map_rw(path, &base, &size, &tail))
		return 1;
	if (off >= tail || n > tail - off) {
		fprintf(stderr, "imgedit: offset %#" PRIx64 " + %zu is not before the "
			"tail at %#" PRIx64 "\n", off, n, tail);
		munmap(base, size);
		return 1;
	}
	for (i = 0; i < n; i++)
		base[off + i] = hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]);
	return seal(path, base, size, tail) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[2], "list"))
		return list(argv[1]);
	if (argc == 5 && !strcmp(argv[2], "set"))
		return set_field(argv[1], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[2], "poke"))
		return poke(argv[1], argv[3], argv[4]);
	fprintf(stderr, USAGE);
	return 2;
}
