/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscalls, signals and errnos as trace shows them: decoded arguments
 * (the descriptions come from arch_syscall_desc), strace-like in text,
 * named fields in JSON.
 */
#ifndef BPFCKPT_SYSFMT_H
#define BPFCKPT_SYSFMT_H

#include <stddef.h>
#include "print.h"
#include "bpfckpt/trace.h"

/* name(args) = ret <latency>; @str: the string argument read at entry */
void sysfmt_syscall(struct printer *p, const struct rec_syscall *r, const char *str);

/* "SIGINT", "SIGRTMIN+2", "SIG99" */
const char *sysfmt_signame(int sig, char *buf, size_t len);
/* "ENOENT", "ERESTARTSYS", "E999" for a positive errno */
const char *sysfmt_errname(int err, char *buf, size_t len);
/* "SI_USER", "SI_TKILL", "code 1" */
const char *sysfmt_sicode(int code, char *buf, size_t len);

#endif
