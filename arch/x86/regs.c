// SPDX-License-Identifier: GPL-2.0
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include "arch.h"

_Static_assert(sizeof(struct user_regs_struct) == ARCH_REGS_SIZE,
	       "user_regs_struct size");

/* include/linux/errno.h: never seen by user space */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

int arch_get_regs(pid_t tid, void *regs)
{
	struct iovec iov = { regs, ARCH_REGS_SIZE };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov))
		return -errno;
	return iov.iov_len == ARCH_REGS_SIZE ? 0 : -EIO;
}

int arch_set_regs(pid_t tid, const void *regs)
{
	struct iovec iov = { (void *)regs, ARCH_REGS_SIZE };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov))
		return -errno;
	return 0;
}

int arch_get_xstate(pid_t tid, void *buf, size_t cap, size_t *len)
{
	struct iovec iov = { buf, cap };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov))
		return -errno;
	*len = iov.iov_len;
	return 0;
}

int arch_set_xstate(pid_t tid, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov))
		return -errno;
	return 0;
}

uint64_t arch_ip(const void *regs)
{
	return ((const struct user_regs_struct *)regs)->rip;
}

uint64_t arch_sp(const void *regs)
{
	return ((const struct user_regs_struct *)regs)->rsp;
}

long arch_syscall_nr(const void *regs)
{
	return (long)((const struct user_regs_struct *)regs)->orig_rax;
}

long arch_syscall_ret(const void *regs)
{
	return (long)((const struct user_regs_struct *)regs)->rax;
}

bool arch_syscall_restartable(const void *regs)
{
	long ret = arch_syscall_ret(regs);

	if (arch_syscall_nr(regs) < 0)
		return false;
	return ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
	       ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

void arch_apply_restart(void *regs, enum restart_how how)
{
	struct user_regs_struct *r = regs;
	long ret = arch_syscall_ret(regs);
	bool eintr = false;

	if (!arch_syscall_restartable(regs))
		goto out;
	switch (ret) {
	case -ERESTARTSYS:
		eintr = how == RESTART_HANDLER;
		break;
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		eintr = how != RESTART_NO_HANDLER;
		break;
	}
	if (eintr) {
		r->rax = (unsigned long long)-EINTR;
	} else {
		/* back over the 2-byte syscall instruction, original nr */
		r->rax = r->orig_rax;
		r->rip -= 2;
	}
out:
	r->orig_rax = (unsigned long long)-1;
}
