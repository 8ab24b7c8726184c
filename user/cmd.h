/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands: each gets argc/argv after its name; returns the exit code. */
#ifndef BPFCKPT_CMD_H
#define BPFCKPT_CMD_H

#include <stdint.h>

#define EXIT_RUNTIME	1
#define EXIT_USAGE	2

int cmd_snap(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_unlock(int argc, char **argv);

/* usage error: prints the message and the command's synopsis, returns 2 */
int usage_error(const char *synopsis, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* parses a pid argument; 0 or -EINVAL */
int parse_pid(const char *s, int *pid);
/* a decimal number up to @max, digits only; -EINVAL otherwise */
int parse_u64(const char *s, uint64_t max, uint64_t *v);
/*
 * An argument that is no known option of a command taking one PID: the
 * PID itself (0), or a usage error (its exit code).
 */
int pid_operand(const char *synopsis, const char *arg, int *pid);

#endif
