// SPDX-License-Identifier: GPL-2.0
/* /proc/PID/fdinfo/N: where the kernel shows an anon inode's state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fd.h"

int fdinfo_read(pid_t pid, int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n = 0, got = 0;
	int f, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	while ((size_t)got < size - 1 && (n = read(f, buf + got, size - 1 - got)) > 0)
		got += n;
	if (n < 0)
		ret = -errno;
	else if ((size_t)got == size - 1)
		ret = -EFBIG;
	buf[got] = 0;
	close(f);
	return ret;
}

const char *fdinfo_field(const char *buf, const char *key)
{
	size_t len = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, len) && p[len] == ':')
			return p + len + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}
