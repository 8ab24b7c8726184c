// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "log.h"

enum log_level log_level = LOG_WARN;
const char *log_cmd;

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	if (lvl > log_level)
		return;
	/* on a terminal: over snap's or restore's progress line, if any */
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	fputs("bpfckpt: ", stderr);
	if (log_cmd)
		fprintf(stderr, "%s: ", log_cmd);
	if (lvl == LOG_WARN)
		fputs("warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	/*
	 * -v shows libbpf's warnings and info, -vv its debug output and the
	 * verifier logs.  Its warnings are about loads and attachments that
	 * failed, which our callers report in one line of their own.
	 */
	enum log_level ours = lvl == LIBBPF_DEBUG ? LOG_DEBUG : LOG_INFO;

	if (ours > log_level)
		return 0;
	/* libbpf's messages start with "libbpf: " already */
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

const char *errstr(int err)
{
	return strerror(err < 0 ? -err : err);
}
