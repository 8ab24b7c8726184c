/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscall injection into a seized process, below every kind that
 * rebuilds one (mm.c, task.c, files.c, user/fd/); restore.c only
 * orchestrates.  Each helper prints its own message on failure.
 */
#ifndef BPFCKPT_INJECT_H
#define BPFCKPT_INJECT_H

#include "restore.h"

/* the syscall @nr with @a in thread @th of @rp; *ret: its result */
int rst_call(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t th,
	     const char *what, long nr, const uint64_t a[6], long *ret,
	     pid_t *new_tid);
int rst_syscall(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t th,
		const char *what, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		uint64_t a3, uint64_t a4, uint64_t a5, long *ret);
/*
 * The same for a syscall whose failure the caller explains: only a
 * failed injection is reported (and returned); *ret has -errno
 */
int rst_try(struct restore_ctx *ctx, struct rst_proc *rp, const char *what,
	    long nr, uint64_t a0, uint64_t a1, uint64_t a2, long *ret);
/* copies @len bytes into the stub's scratch at @off; *addr: remote address */
int rst_put(struct restore_ctx *ctx, struct rst_proc *rp, size_t off,
	    const void *data, size_t len, uint64_t *addr);
uint64_t rst_scratch(struct restore_ctx *ctx, size_t off);
/* opens @path in the target (O_CLOEXEC added); *fd: its fd there */
int rst_open(struct restore_ctx *ctx, struct rst_proc *rp, const char *path,
	     int flags, int *fd);
void rst_close(struct restore_ctx *ctx, struct rst_proc *rp, int fd);

/* ---- in the new processes (ordinary code, before they stop) ---- */

/* tells the restorer that process @idx reached @st */
void rst_child_state(struct restore_ctx *ctx, uint32_t idx, enum rst_state st);
/* in the child: report a failed step and exit */
void rst_child_fail(struct restore_ctx *ctx, uint32_t idx, int err,
		    const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#endif
