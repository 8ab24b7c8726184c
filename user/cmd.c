// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers the subcommands share (cmd.h).  Not in main.c: the unit tests
 * and tools link every object but main.o.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "cmd.h"
#include "log.h"

int usage_error(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: bpfckpt %s\n", synopsis);
	return EXIT_USAGE;
}

int pid_operand(const char *synopsis, const char *arg, int *pid)
{
	if (arg[0] == '-')
		return usage_error(synopsis, "unknown option '%s'", arg);
	if (*pid)
		return usage_error(synopsis, "one PID only");
	if (parse_pid(arg, pid))
		return usage_error(synopsis, "'%s' is not a pid", arg);
	return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	char *end;

	/* strtoull() takes "-1" (as ULLONG_MAX) and leading blanks */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

int parse_pid(const char *s, int *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*pid = v;
	return 0;
}
