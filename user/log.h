/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Messages go to stderr as "bpfckpt: <cmd>: <what>: <why>".  Lower layers
 * return -errno and leave the message to the caller that knows the
 * context; only that caller prints.
 */
#ifndef BPFCKPT_LOG_H
#define BPFCKPT_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* the only globals besides `features`: set once by main() */
extern enum log_level log_level;
extern const char *log_cmd;

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#define pr_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/* libbpf's own log, routed into our levels */
void log_setup_libbpf(void);

/* strerror of a negative or positive errno */
const char *errstr(int err);

#endif
