// SPDX-License-Identifier: GPL-2.0
/*
 * pipes DIR [TICK_MS]: pipes and a fifo inside one tree, with data in
 * flight, each checked every tick by the process that holds it:
 *   - stream: a child writes a numbered stream of 8-byte words into a
 *     pipe as fast as it can (so the pipe is full, the writer blocked);
 *     the root reads 64 of them a tick and fails on a gap or a repeat.
 *     The read end is shared with the child's fd 100 (a dup, unused),
 *     the write end is at fd 200 in the child;
 *   - stash: 5000 bytes of a known pattern that nobody reads, in a pipe
 *     made 128 KiB, its read end O_NONBLOCK; every tick the root copies
 *     them with tee() (which consumes nothing) and compares, and checks
 *     the size and the flags;
 *   - DIR/fifo: a fifo opened read-write and read-only non-blocking,
 *     holding 3000 bytes, checked the same way.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "wl.h"

#define STASH_LEN	5000
#define FIFO_LEN	3000
#define STASH_SIZE	(128 << 10)

static void pattern(uint8_t *buf, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = wl_mix(seed + i / 8) >> (8 * (i % 8));
}

/* the @len bytes of the pipe behind @fd, as tee() copies them */
static void check_held(int fd, size_t len, uint64_t seed, const char *what)
{
	static uint8_t want[8192], got[8192];
	int tmp[2], n = 0;
	ssize_t r;

	wl_check(pipe(tmp) == 0, "pipe");
	wl_check(ioctl(fd, FIONREAD, &n) == 0, "FIONREAD");
	if ((size_t)n != len)
		wl_fail("%s holds %d bytes, not %zu", what, n, len);
	r = tee(fd, tmp[1], len, SPLICE_F_NONBLOCK);
	if (r != (ssize_t)len)
		wl_fail("%s: tee gave %zd of %zu bytes: %s", what, r, len, strerror(errno));
	r = read(tmp[0], got, len);
	pattern(want, len, seed);
	if (r != (ssize_t)len || memcmp(want, got, len))
		wl_fail("%s: its bytes changed", what);
	close(tmp[0]);
	close(tmp[1]);
}

static void __attribute__((noreturn)) writer(int w)
{
	uint64_t n;

	wl_check(dup2(w, 200) == 200, "dup2");
	close(w);
	for (n = 1;; n++)
		wl_write_all(200, (const char *)&n, sizeof(n));
}

int main(int argc, char **argv)
{
	static uint8_t buf[8192];
	unsigned tick_ms = argc > 2 ? atoi(argv[2]) : 50;
	int stream[2], stash[2], fifo_rw, fifo_rd, i, fl;
	uint64_t next = 1, word;
	char path[4096];
	unsigned long tick;

	if (argc < 2)
		wl_fail("usage: pipes DIR [TICK_MS]");
	wl_setsid();
	wl_check(pipe(stream) == 0, "pipe");
	wl_check(pipe(stash) == 0, "pipe");
	wl_check(fcntl(stash[0], F_SETPIPE_SZ, STASH_SIZE) == STASH_SIZE, "F_SETPIPE_SZ");
	wl_check(fcntl(stash[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL");
	pattern(buf, STASH_LEN, 1);
	wl_write_all(stash[1], (const char *)buf, STASH_LEN);
	close(stash[1]);
	snprintf(path, sizeof(path), "%s/fifo", argv[1]);
	wl_check(mkfifo(path, 0600) == 0, "mkfifo");
	fifo_rw = open(path, O_RDWR);
	wl_check(fifo_rw >= 0, "open fifo");
	fifo_rd = open(path, O_RDONLY | O_NONBLOCK);
	wl_check(fifo_rd >= 0, "open fifo");
	pattern(buf, FIFO_LEN, 2);
	wl_write_all(fifo_rw, (const char *)buf, FIFO_LEN);
	wl_check(dup2(stream[0], 100) == 100, "dup2");
	if (!fork()) {
		close(stream[0]);
		writer(stream[1]);
	}
	close(stream[1]);
	close(100);
	wl_ready();
	for (tick = 1;; tick++) {
		for (i = 0; i < 64; i++) {
			ssize_t r = read(stream[0], &word, sizeof(word));

			if (r != sizeof(word))
				wl_fail("stream: read gave %zd: %s", r, strerror(errno));
			if (word != next)
				wl_fail("stream: word %llu where %llu was due",
					(unsigned long long)word, (unsigned long long)next);
			next++;
		}
		check_held(stash[0], STASH_LEN, 1, "stash");
		if (fcntl(stash[0], F_GETPIPE_SZ) != STASH_SIZE)
			wl_fail("stash: size %d", fcntl(stash[0], F_GETPIPE_SZ));
		fl = fcntl(stash[0], F_GETFL);
		if (!(fl & O_NONBLOCK))
			wl_fail("stash: O_NONBLOCK is gone (flags %#o)", fl);
		check_held(fifo_rd, FIFO_LEN, 2, "fifo");
		wl_print("tick %lu next %llu", tick, (unsigned long long)next);
		wl_sleep_ms(tick_ms);
	}
}
