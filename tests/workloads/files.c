// SPDX-License-Identifier: GPL-2.0
/*
 * files DIR [TICK_MS]: file descriptors whose offsets matter.
 *   DIR/in   written at setup with NREC known records, reopened O_RDONLY
 *            and read sequentially, one record per tick (from the start
 *            again at the end);
 *   DIR/out  O_WRONLY|O_CREAT|O_TRUNC, one record appended per tick;
 *   DIR/rw   O_RDWR, a record written per tick at a slot chosen by the
 *            tick number, its whole contents checked against a copy in
 *            memory;
 *   DIR      itself, kept open (O_DIRECTORY) and used with fstatat().
 * Each tick checks every record and lseek(fd, 0, SEEK_CUR) of each fd.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include "wl.h"

#define REC	64		/* bytes per record */
#define NREC	1000		/* records in DIR/in */
#define SLOTS	64		/* records in DIR/rw */

struct files {
	int in, out, rw, dir;
	char rw_copy[SLOTS * REC];
	ino_t in_ino;
};

static void record(char buf[REC], const char *what, unsigned long n)
{
	int len = snprintf(buf, REC, "%s %012lu %016llx", what, n,
			   (unsigned long long)wl_mix(n));

	memset(buf + len, '.', REC - 1 - len);
	buf[REC - 1] = '\n';
}

static void write_exact(int fd, const void *buf, size_t len, const char *what)
{
	ssize_t n = write(fd, buf, len);

	if (n != (ssize_t)len)
		wl_fail("write %s: %zd of %zu bytes: %s", what, n, len, strerror(errno));
}

static int open_at(const char *dir, const char *name, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags, 0644);
	wl_check(fd >= 0, path);
	return fd;
}

static void setup(struct files *f, const char *dir)
{
	char buf[REC];
	struct stat st;
	unsigned long i;
	int fd;

	f->dir = open(dir, O_RDONLY | O_DIRECTORY);
	wl_check(f->dir >= 0, dir);
	fd = open_at(dir, "in", O_WRONLY | O_CREAT | O_TRUNC);
	for (i = 0; i < NREC; i++) {
		record(buf, "in", i);
		write_exact(fd, buf, REC, "in");
	}
	close(fd);
	f->in = open_at(dir, "in", O_RDONLY);
	f->out = open_at(dir, "out", O_WRONLY | O_CREAT | O_TRUNC);
	f->rw = open_at(dir, "rw", O_RDWR | O_CREAT | O_TRUNC);
	for (i = 0; i < SLOTS; i++)
		record(f->rw_copy + i * REC, "rw", i);
	write_exact(f->rw, f->rw_copy, sizeof(f->rw_copy), "rw");
	wl_check(fstat(f->in, &st) == 0, "fstat in");
	f->in_ino = st.st_ino;
}

static void check_pos(int fd, off_t want, const char *what, unsigned long tick)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (pos != want)
		wl_fail("tick %lu: %s offset %lld, expected %lld", tick, what,
			(long long)pos, (long long)want);
}

static void tick_in(struct files *f, unsigned long tick)
{
	unsigned long n = (tick - 1) % NREC;
	char want[REC], got[REC];
	ssize_t r;

	check_pos(f->in, (off_t)n * REC, "in", tick);
	r = read(f->in, got, REC);
	if (r != REC)
		wl_fail("tick %lu: read in at record %lu: %zd bytes", tick, n, r);
	record(want, "in", n);
	if (memcmp(want, got, REC))
		wl_fail("tick %lu: in record %lu is '%.40s'", tick, n, got);
	if (n == NREC - 1 && lseek(f->in, 0, SEEK_SET) != 0)
		wl_fail("tick %lu: rewinding in: %s", tick, strerror(errno));
}

static void tick_out(struct files *f, unsigned long tick)
{
	char buf[REC];
	struct stat st;

	check_pos(f->out, (off_t)(tick - 1) * REC, "out", tick);
	record(buf, "out", tick);
	write_exact(f->out, buf, REC, "out");
	wl_check(fstat(f->out, &st) == 0, "fstat out");
	if (st.st_size != (off_t)tick * REC)
		wl_fail("tick %lu: out is %lld bytes, expected %lld", tick,
			(long long)st.st_size, (long long)tick * REC);
}

/* slot written at @tick: every slot, in a scrambled order */
static unsigned slot_of(unsigned long tick)
{
	return (tick * 37) % SLOTS;
}

static void tick_rw(struct files *f, unsigned long tick)
{
	char got[SLOTS * REC];
	unsigned slot = slot_of(tick);

	/* left after last tick's record */
	if (tick > 1)
		check_pos(f->rw, (off_t)(slot_of(tick - 1) + 1) * REC, "rw", tick);
	if (pread(f->rw, got, sizeof(got), 0) != (ssize_t)sizeof(got))
		wl_fail("tick %lu: pread rw: %s", tick, strerror(errno));
	if (memcmp(got, f->rw_copy, sizeof(got)))
		wl_fail("tick %lu: rw contents differ from what was written", tick);
	record(f->rw_copy + slot * REC, "rw", tick + SLOTS);
	if (lseek(f->rw, (off_t)slot * REC, SEEK_SET) != (off_t)slot * REC)
		wl_fail("tick %lu: lseek rw: %s", tick, strerror(errno));
	write_exact(f->rw, f->rw_copy + slot * REC, REC, "rw");
}

static void tick_dir(struct files *f, unsigned long tick)
{
	struct stat st;

	if (fstatat(f->dir, "in", &st, 0))
		wl_fail("tick %lu: fstatat(dir, in): %s", tick, strerror(errno));
	if (st.st_ino != f->in_ino || st.st_size != NREC * REC)
		wl_fail("tick %lu: DIR/in is not the file we wrote", tick);
}

int main(int argc, char **argv)
{
	struct files f;
	unsigned long tick;
	unsigned tick_ms;

	if (argc < 2) {
		fprintf(stderr, "usage: files DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	tick_ms = wl_arg(argc, argv, 2, 100);
	setup(&f, argv[1]);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		tick_in(&f, tick);
		tick_out(&f, tick);
		tick_rw(&f, tick);
		tick_dir(&f, tick);
		wl_print("tick %lu in=%lld out=%lld", tick,
			 (long long)lseek(f.in, 0, SEEK_CUR),
			 (long long)lseek(f.out, 0, SEEK_CUR));
	}
}
