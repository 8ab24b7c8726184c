// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include "arch.h"

/* 0f 05: syscall; cc: int3 (the tracer sees the SIGTRAP) */
static const uint8_t stub_code[] = { 0x0f, 0x05, 0xcc };

void inj_write_stub(void *page)
{
	memset(page, 0xcc, INJ_SCRATCH_OFF);
	memcpy(page, stub_code, sizeof(stub_code));
}

static void load_call(struct user_regs_struct *r, const void *tmpl,
		      uint64_t ip, long nr, const uint64_t a[6])
{
	memcpy(r, tmpl, sizeof(*r));
	r->rip = ip;
	r->rax = nr;
	/* no restart handling on the way out of the current stop */
	r->orig_rax = (unsigned long long)-1;
	r->rdi = a[0];
	r->rsi = a[1];
	r->rdx = a[2];
	r->r10 = a[3];
	r->r8 = a[4];
	r->r9 = a[5];
}

/* one waitpid on @tid; -ESRCH if it died, else its status */
static int wait_tid(pid_t tid, int *st)
{
	for (;;) {
		if (waitpid(tid, st, __WALL) >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(*st) || WIFSIGNALED(*st))
		return -ESRCH;
	return 0;
}

int inj_syscall(pid_t tid, const void *tmpl, uint64_t stub, long nr,
		const uint64_t args[6], long *ret, pid_t *new_tid)
{
	struct user_regs_struct r;
	unsigned long msg;
	int st, err;

	load_call(&r, tmpl, stub, nr, args);
	err = arch_set_regs(tid, &r);
	if (err)
		return err;
	if (ptrace(PTRACE_CONT, tid, 0, 0))
		return -errno;
	for (;;) {
		err = wait_tid(tid, &st);
		if (err)
			return err;
		if (!WIFSTOPPED(st))
			continue;
		if ((st >> 16) == PTRACE_EVENT_CLONE) {
			if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg))
				return -errno;
			if (new_tid)
				*new_tid = msg;
			if (ptrace(PTRACE_CONT, tid, 0, 0))
				return -errno;
			continue;
		}
		break;
	}
	err = arch_get_regs(tid, &r);
	if (err)
		return err;
	/* anything but our int3 right after the syscall is a fault */
	if (WSTOPSIG(st) != SIGTRAP || (st >> 16) || r.rip != stub + 3)
		return -EFAULT;
	*ret = (long)r.rax;
	return 0;
}

/* resumes @tid to its next syscall stop (entry or exit) */
static int syscall_stop(pid_t tid)
{
	int st, err;

	do {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0))
			return -errno;
		err = wait_tid(tid, &st);
		if (err)
			return err;
		/*
		 * A trap stop (PTRACE_EVENT_STOP) comes before anything runs:
		 * a task seized while in a group stop traps once for the
		 * seize and once more for PTRACE_INTERRUPT.  Go on past it.
		 */
	} while (WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_STOP);
	/* PTRACE_O_TRACESYSGOOD marks syscall stops with 0x80 */
	if (!WIFSTOPPED(st) || WSTOPSIG(st) != (SIGTRAP | 0x80))
		return -EFAULT;
	return 0;
}

int inj_syscall_at(pid_t tid, const void *tmpl, uint64_t ip, long nr,
		   const uint64_t args[6], long *ret)
{
	struct user_regs_struct r;
	uint64_t mask, all = ~0ULL;
	int err;

	/*
	 * A signal pending in the tracee (a forktree's SIGALRM, a child's
	 * SIGCHLD) stops it in signal-delivery-stop before the syscall's
	 * entry, which syscall_stop() takes for a fault.  Blocked for the
	 * injection, it stays pending and is delivered once the tree runs
	 * (SIGKILL and SIGSTOP cannot be blocked, and end it anyway).
	 */
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask) ||
	    ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all))
		return -errno;
	load_call(&r, tmpl, ip, nr, args);
	err = arch_set_regs(tid, &r);
	if (!err)
		err = syscall_stop(tid);	/* entry */
	if (!err)
		err = syscall_stop(tid);	/* exit */
	if (!err)
		err = arch_get_regs(tid, &r);
	if (!err)
		*ret = (long)r.rax;
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) && !err)
		err = -errno;
	return err;
}

int inj_unmap_stub(pid_t tid, const void *tmpl, uint64_t stub)
{
	const uint64_t args[6] = { stub, INJ_STUB_SIZE };
	long ret;
	int err;

	/* stopped at the exit of the munmap: the stub is gone */
	err = inj_syscall_at(tid, tmpl, stub, SYS_munmap, args, &ret);
	if (!err && ret != 0)
		err = ret < 0 ? ret : -EFAULT;
	return err;
}

bool inj_is_syscall_insn(const uint8_t *p)
{
	return p[0] == 0x0f && p[1] == 0x05;
}

int inj_find_syscall_insn(pid_t pid, uint64_t *ip)
{
	/* read in steps that overlap by one byte less than an instruction */
	uint8_t buf[65536 + INJ_SYSCALL_INSN_LEN - 1];
	char path[64], line[512], perms[8];
	unsigned long s, e, a;
	ssize_t n, k;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3 || perms[0] != 'r' ||
		    perms[2] != 'x')
			continue;
		for (a = s; a < e; a += 65536) {
			struct iovec l = { buf, e - a < sizeof(buf) ? e - a : sizeof(buf) };
			struct iovec r = { (void *)a, l.iov_len };

			n = process_vm_readv(pid, &l, 1, &r, 1, 0);
			for (k = 0; k + INJ_SYSCALL_INSN_LEN <= n; k++) {
				if (inj_is_syscall_insn(buf + k)) {
					*ip = a + k;
					fclose(f);
					return 0;
				}
			}
		}
	}
	fclose(f);
	return -ENOENT;
}
