/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architecture interface: the only place that knows register
 * layouts, xstate, syscall numbers and the injection stub.  Generic code
 * treats a thread's registers as an opaque blob of ARCH_REGS_SIZE bytes.
 */
#ifndef BPFCKPT_ARCH_H
#define BPFCKPT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARCH_REGS_SIZE		216	/* struct user_regs_struct */
#define ARCH_XSTATE_MAX		(64 * 1024)

/* ptrace readers: 0 or -errno */
int arch_get_regs(pid_t tid, void *regs);
int arch_get_xstate(pid_t tid, void *buf, size_t cap, size_t *len);
int arch_set_regs(pid_t tid, const void *regs);
int arch_set_xstate(pid_t tid, const void *buf, size_t len);

/* what a register blob says */
uint64_t arch_ip(const void *regs);
uint64_t arch_sp(const void *regs);
/* syscall the thread was in or had just left, -1 if none */
long arch_syscall_nr(const void *regs);
long arch_syscall_ret(const void *regs);
/* the thread was stopped inside a syscall that the kernel would restart */
bool arch_syscall_restartable(const void *regs);
/* what the thread does first when it runs again (for arch_apply_restart) */
enum restart_how {
	RESTART_NO_HANDLER,	/* no signal handler runs first */
	RESTART_HANDLER,	/* a handler without SA_RESTART runs first */
	RESTART_HANDLER_SA,	/* a handler with SA_RESTART runs first */
};

/*
 * Applies the kernel's restart rules (arch/x86/kernel/signal.c) to a
 * thread stopped inside a syscall, in user space: the kernel would only
 * apply them on a signal path the restored thread may not take.
 * -ERESTARTNOINTR always re-executes the syscall; -ERESTARTSYS unless a
 * handler without SA_RESTART runs first (then -EINTR); -ERESTARTNOHAND
 * and -ERESTART_RESTARTBLOCK give -EINTR to a handler and otherwise
 * re-execute -- the restart block stayed in the old kernel task, so the
 * original syscall runs again (a relative sleep starts over: no spurious
 * EINTR).  Clears orig_ax so the kernel does not apply them again.
 */
void arch_apply_restart(void *regs, enum restart_how how);

const char *arch_syscall_name(long nr);

/*
 * Syscall descriptions for trace: how to show each argument and the
 * return value (user/sysfmt.c decodes), and the classes that
 * `trace -e %file` and friends select.  Syscalls without a description
 * are shown by name with raw arguments.
 */
enum sys_val {
	SV_NONE,	/* no such argument */
	SV_INT,		/* int, signed decimal */
	SV_UINT,	/* unsigned int */
	SV_LONG,	/* long, loff_t */
	SV_HEX,		/* bits not decoded, addresses that are not pointers */
	SV_PTR,		/* a pointer: NULL when 0 */
	SV_OCT,
	SV_SIZE,
	SV_FD,		/* AT_FDCWD by name */
	SV_PID,
	SV_STR,		/* user string, read at syscall entry */
	SV_TIMESPEC,	/* struct timespec *, read at syscall entry */
	SV_OFLAGS,	/* O_* */
	SV_MODE,	/* file mode, octal */
	SV_PROT,	/* PROT_* */
	SV_MMAP,	/* MAP_* */
	SV_MREMAP,	/* MREMAP_* */
	SV_MADV,	/* MADV_* */
	SV_SIG,		/* signal number */
	SV_SIGHOW,	/* SIG_BLOCK, ... */
	SV_CLOCK,	/* clockid_t */
	SV_WHENCE,	/* SEEK_* */
	SV_ATFLAGS,	/* AT_* */
	SV_CLONE,	/* CLONE_* with the exit signal */
	SV_FUTEX,	/* FUTEX_* op */
	SV_FCNTL,	/* F_* command */
};

#define SYS_FILE	(1u << 0)	/* takes a file name */
#define SYS_DESC	(1u << 1)	/* works on a file descriptor */
#define SYS_MEMORY	(1u << 2)	/* changes or reads the memory map */
#define SYS_PROCESS	(1u << 3)	/* process lifecycle */
#define SYS_SLEEP	(1u << 4)	/* sleeps or waits with a timeout */
#define SYS_SIGNAL	(1u << 5)
#define SYS_NET		(1u << 6)
#define SYS_IPC		(1u << 7)
#define SYS_NORETURN	(1u << 8)	/* never returns (exit, exit_group) */

struct sys_arg {
	const char *name;	/* NULL: no more arguments */
	uint8_t val;		/* enum sys_val */
};

struct sys_desc {
	const char *name;
	uint32_t flags;		/* SYS_* */
	uint8_t ret;		/* enum sys_val of the return value */
	struct sys_arg arg[6];
};

/* highest syscall number + 1 */
#define ARCH_NR_SYSCALLS	470

/* NULL if @nr is not described */
const struct sys_desc *arch_syscall_desc(long nr);

#endif

/*
 * Syscall injection through a one-page stub: `syscall; int3` at the start
 * of the page, the rest is scratch memory for arguments.  The thread must
 * be ptrace-stopped; its registers are replaced for each call and the
 * caller sets the final ones at the end.
 */
#define INJ_STUB_SIZE		4096
#define INJ_SCRATCH_OFF		64

/* writes the stub code into a local page (before it is inherited) */
void inj_write_stub(void *page);
/*
 * Runs syscall @nr with @args in stopped thread @tid, whose register set
 * @tmpl is used for everything but ip, the syscall number and arguments.
 * *ret gets the kernel's return value (-errno on failure).  If the call
 * created a thread (clone3 under PTRACE_O_TRACECLONE), *new_tid gets it.
 */
int inj_syscall(pid_t tid, const void *tmpl, uint64_t stub, long nr,
		const uint64_t args[6], long *ret, pid_t *new_tid);
/*
 * Unmaps the stub itself: runs munmap(stub) under PTRACE_SYSCALL and
 * returns with the thread stopped at the syscall's exit, where the final
 * registers can be set.
 */
int inj_unmap_stub(pid_t tid, const void *tmpl, uint64_t stub);
/*
 * One syscall through a syscall instruction of the target's own at @ip
 * (after the stub is gone), stepped with PTRACE_SYSCALL: @tid ends at
 * the syscall's exit stop, with its result in *ret.  Its signals are
 * blocked meanwhile and its mask is as it was after.
 */
int inj_syscall_at(pid_t tid, const void *tmpl, uint64_t ip, long nr,
		   const uint64_t args[6], long *ret);
/* the 2 bytes at @p are a syscall instruction */
bool inj_is_syscall_insn(const uint8_t *p);
#define INJ_SYSCALL_INSN_LEN	2
/* a syscall instruction in a readable, executable mapping of @pid, now */
int inj_find_syscall_insn(pid_t pid, uint64_t *ip);
