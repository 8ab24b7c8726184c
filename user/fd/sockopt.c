// SPDX-License-Identifier: GPL-2.0
/*
 * Socket options read at snap and set again at restore, for the socket
 * kinds (inet.c, unix.c): an int option, and a table of boolean ones,
 * each standing for a flag of the kind's record.
 */
#include <errno.h>
#include <sys/socket.h>
#include "fd.h"

bool sockopt_on(int sk, int level, int name)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	return !getsockopt(sk, level, name, &v, &sl) && v;
}

uint32_t sockopt_val(int sk, int level, int name)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	return getsockopt(sk, level, name, &v, &sl) ? 0 : (uint32_t)v;
}

uint32_t sockopt_flags(int sk, const struct sockopt_flag *opts, size_t n)
{
	uint32_t flags = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (sockopt_on(sk, opts[i].level, opts[i].name))
			flags |= opts[i].flag;
	return flags;
}

int sockopt_set_flags(int sk, const struct sockopt_flag *opts, size_t n, uint32_t flags,
		      const char **what)
{
	int on = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(flags & opts[i].flag))
			continue;
		if (setsockopt(sk, opts[i].level, opts[i].name, &on, sizeof(on))) {
			*what = opts[i].what;
			return -errno;
		}
	}
	return 0;
}
