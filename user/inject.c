// SPDX-License-Identifier: GPL-2.0
/*
 * Below the kinds (mm.c, task.c, files.c, pstree.c, user/fd/): syscalls
 * injected into a seized process through the stub page (arch.h inj_*),
 * and the new processes' report of their own steps to the restorer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "inject.h"
#include "log.h"
#include "util.h"

uint64_t rst_scratch(struct restore_ctx *ctx, size_t off)
{
	return ctx->stub + INJ_SCRATCH_OFF + off;
}

int rst_put(struct restore_ctx *ctx, struct rst_proc *rp, size_t off,
	    const void *data, size_t len, uint64_t *addr)
{
	struct iovec local = { (void *)data, len }, remote;

	if (off + len > INJ_STUB_SIZE - INJ_SCRATCH_OFF)
		return -E2BIG;
	*addr = rst_scratch(ctx, off);
	if (!len)
		return 0;
	remote = (struct iovec){ (void *)(uintptr_t)*addr, len };
	if (process_vm_writev(rp->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		pr_err("pid %d: writing syscall arguments: %s", rp->pid, strerror(errno));
		return -EFAULT;
	}
	return 0;
}

int rst_call(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t th,
	     const char *what, long nr, const uint64_t a[6], long *ret,
	     pid_t *new_tid)
{
	int err;

	err = inj_syscall(rp->tids[th], rp->tmpl[th], ctx->stub, nr, a, ret,
			  new_tid);
	if (err) {
		pr_err("pid %d: thread %d: injecting %s: %s", rp->pid, rp->tids[th],
		       what, errstr(err));
		return err;
	}
	if (*ret < 0 && *ret > -4096) {
		pr_err("pid %d: %s(%#llx, %#llx, %#llx, ...): %s", rp->pid, what,
		       (unsigned long long)a[0], (unsigned long long)a[1],
		       (unsigned long long)a[2], errstr(*ret));
		return *ret;
	}
	return 0;
}

int rst_syscall(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t th,
		const char *what, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		uint64_t a3, uint64_t a4, uint64_t a5, long *ret)
{
	const uint64_t a[6] = { a0, a1, a2, a3, a4, a5 };

	return rst_call(ctx, rp, th, what, nr, a, ret, NULL);
}

int rst_try(struct restore_ctx *ctx, struct rst_proc *rp, const char *what,
	    long nr, uint64_t a0, uint64_t a1, uint64_t a2, long *ret)
{
	const uint64_t a[6] = { a0, a1, a2, 0, 0, 0 };
	int err;

	err = inj_syscall(rp->tids[0], rp->tmpl[0], ctx->stub, nr, a, ret, NULL);
	if (err)
		pr_err("pid %d: injecting %s: %s", rp->pid, what, errstr(err));
	return err;
}

int rst_open(struct restore_ctx *ctx, struct rst_proc *rp, const char *path,
	     int flags, int *fd)
{
	uint64_t addr;
	long r;
	int ret;

	ret = rst_put(ctx, rp, 1024, path, strlen(path) + 1, &addr);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "openat", SYS_openat, (uint64_t)AT_FDCWD,
				  addr, flags | O_CLOEXEC, 0, 0, 0, &r);
	if (ret) {
		pr_err("pid %d: opening %s failed", rp->pid, path);
		return ret;
	}
	*fd = r;
	return 0;
}

void rst_close(struct restore_ctx *ctx, struct rst_proc *rp, int fd)
{
	long r;

	rst_syscall(ctx, rp, 0, "close", SYS_close, fd, 0, 0, 0, 0, 0, &r);
}

/* ---- in the new processes ---- */

static void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void rst_child_state(struct restore_ctx *ctx, uint32_t idx, enum rst_state st)
{
	atomic_store(&ctx->sh->slots[idx].state, st);
	atomic_fetch_add(&ctx->sh->done, 1);
	futex_wake_all(&ctx->sh->done);
}

void rst_child_fail(struct restore_ctx *ctx, uint32_t idx, int err,
		    const char *fmt, ...)
{
	struct rst_slot *s = &ctx->sh->slots[idx];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->err = err;
	rst_child_state(ctx, idx, RST_FAILED);
	_exit(1);
}
