// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "util.h"

int vec_reserve(void *arr, uint32_t *cap, uint32_t want, size_t size)
{
	void **p = arr;
	uint32_t ncap;
	void *n;

	if (want <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < want)
		ncap *= 2;
	n = realloc(*p, (size_t)ncap * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = ncap;
	return 0;
}

int open_noatime(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);

	return fd >= 0 ? fd : open(path, O_RDONLY | O_CLOEXEC);
}

int read_whole(int fd, uint64_t size, uint8_t **data, uint64_t *got)
{
	ssize_t n;

	*got = 0;
	*data = malloc(size ? size : 1);
	if (!*data)
		return -ENOMEM;
	while (*got < size && (n = pread(fd, *data + *got, size - *got, *got)) > 0)
		*got += n;
	return *got == size ? 0 : -EIO;
}

int read_file(const char *path, char *buf, size_t size)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done + 1 < size) {
		n = read(fd, buf + done, size - 1 - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		done += n;
	}
	buf[done] = 0;
	close(fd);
	return done;
}

int read_boot_id(char *buf, size_t size)
{
	int n = read_file("/proc/sys/kernel/random/boot_id", buf, size);

	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

char proc_state(pid_t tid)
{
	char path[64], stat[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	if (read_file(path, stat, sizeof(stat)) <= 0)
		return 0;
	/* comm may hold anything, ')' included: the last one ends it */
	p = strrchr(stat, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : 0;
}

bool proc_exited(pid_t tid)
{
	char st = proc_state(tid);

	return !st || st == 'Z' || st == 'X';
}

int fault_at(const char *point)
{
	const char *f = getenv("BPFCKPT_FAULT");

	if (f && !strcmp(f, point)) {
		pr_err("fault injected at '%s'", point);
		return -EIO;
	}
	return 0;
}

int stop_signals_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

bool path_is_deleted(const char *path)
{
	size_t n = strlen(path), s = strlen(DELETED_SUFFIX);

	return n > s && !strcmp(path + n - s, DELETED_SUFFIX);
}

int deleted_base_name(const char *path, char *buf, size_t size)
{
	size_t n = strlen(path);

	if (path_is_deleted(path))
		n -= strlen(DELETED_SUFFIX);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, path, n);
	buf[n] = 0;
	return 0;
}

bool kdev_is(uint64_t kdev, dev_t dev)
{
	return major(dev) == (kdev >> 20) && minor(dev) == (kdev & 0xfffff);
}

int proc_link(pid_t pid, const char *link, uint64_t kdev, uint64_t ino,
	      char *buf, size_t size)
{
	char path[96];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, link);
	n = readlink(path, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = 0;
	/*
	 * stat() follows the magic link to the inode itself, deleted or
	 * not.  A superblock with an anonymous dev (major 0: btrfs,
	 * overlayfs, tmpfs, pipefs, ...) may report another one to
	 * stat() (a btrfs subvolume's, overlayfs's own): the inode number
	 * has to do there.
	 */
	if (stat(path, &st))
		return -errno;
	if (st.st_ino != ino || ((kdev >> 20) && !kdev_is(kdev, st.st_dev)))
		return -ESTALE;
	return 0;
}
