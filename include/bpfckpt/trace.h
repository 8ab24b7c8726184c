/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Live tracing (trace, top): the ring-buffer records of bpf/trace.bpf.c
 * and the values of the maps it aggregates into, read by user/tracer.c.
 * Pids are numbers in the reader's pid namespace.
 */
#ifndef BPFCKPT_TRACE_H
#define BPFCKPT_TRACE_H

#include "bpfckpt/common.h"

#define TRACE_NR_SYSCALLS	512	/* syscall numbers aggregated: 0..511 */
#define TRACE_STR_MAX		256	/* path argument or exec filename */
#define TRACE_MEM_WORDS		2	/* struct argument read at entry */
#define TRACE_MAX_PROCS		8192	/* processes followed */
#define TRACE_PID_LIMIT		(1 << 22)	/* PID_MAX_LIMIT on 64-bit */
#define TRACE_RINGBUF_SIZE	(16 << 20)

/*
 * Latency histogram: values below 8 ns have a slot each; above, slot
 * 8 * floor(log2(v)) + the next three bits, so a slot spans 1/8 of its
 * power of two (at most 12.5% of the value).
 */
#define TRACE_HIST_SUB		8
#define TRACE_HIST_SLOTS	(64 * TRACE_HIST_SUB)

/* rodata `emit`: which records the BPF side sends */
#define TRACE_EMIT_SYSCALL	(1u << 0)
#define TRACE_EMIT_FORK		(1u << 1)
#define TRACE_EMIT_EXEC		(1u << 2)
#define TRACE_EMIT_EXIT		(1u << 3)
#define TRACE_EMIT_SIGNAL	(1u << 4)
#define TRACE_EMIT_FAULT	(1u << 5)

/* record types of the trace ring buffer, apart from the collectors' */
#define REC_SYSCALL	32	/* struct rec_syscall or rec_syscall_str */
#define REC_FORK	33
#define REC_EXEC	34
#define REC_EXIT	35
#define REC_SIGNAL	36
#define REC_FAULT	37

/* what every trace record starts with */
struct rec_ev {
	struct rec_hdr h;
	__u64 ts;		/* CLOCK_MONOTONIC ns */
	__s32 tgid;
	__s32 tid;
	char comm[BCK_COMM_LEN];
};

/* one syscall, sent at its exit (or at entry for those that never return) */
struct rec_syscall {
	struct rec_ev e;
	__s64 nr;
	__s64 ret;
	__u64 lat_ns;
	__u64 args[6];
	__u64 mem[TRACE_MEM_WORDS];	/* sc_desc.mem_arg's target, read at entry */
	__u32 mem_len;		/* bytes of mem valid */
	__u32 no_return;	/* sent at entry: exit, exit_group */
	__s32 str_len;		/* sc_desc.str_arg read at entry: bytes with NUL,
				 * 0 none, -errno (rec_syscall_str only) */
	__u32 pad;
};

struct rec_syscall_str {
	struct rec_syscall s;
	char str[TRACE_STR_MAX];
};

/* sched_process_fork; the parent is the record's task */
struct rec_fork {
	struct rec_ev e;
	__s32 child_tgid;
	__s32 child_tid;
};

struct rec_exec {
	struct rec_ev e;
	__s32 old_tid;		/* the exec'ing thread before it took the leader's */
	__s32 len;		/* filename bytes with NUL, or -errno */
	char filename[TRACE_STR_MAX];
};

struct rec_exit {
	struct rec_ev e;
	__s32 exit_code;	/* wait status */
	__u32 group_dead;	/* the last thread: the process is gone */
};

struct rec_signal {
	struct rec_ev e;
	__s32 sig;
	__s32 code;		/* si_code */
	__s32 sender;		/* si_pid, meaningful for SI_USER/SI_QUEUE/SI_TKILL */
	__u32 pad;
	__u64 handler;		/* 0 SIG_DFL, 1 SIG_IGN, else the handler */
	__u64 sa_flags;
};

struct rec_fault {
	struct rec_ev e;
	__u64 addr;
	__u64 ip;
	__u64 error_code;	/* x86 PF_* bits: 1 present, 2 write, 16 fetch */
};

/* ---- maps ---- */

/* sc_desc[nr], set by the user side: what to read and send for a syscall */
struct sc_desc {
	__u32 emit;		/* send a record for it */
	__u32 str_arg;		/* 1..6: that argument is a string to read at entry */
	__u32 mem_arg;		/* 1..6: that argument points at mem_len bytes */
	__u32 mem_len;		/* <= 8 * TRACE_MEM_WORDS */
	__u32 no_return;	/* send at entry */
	__u32 pad;
};

/*
 * sc_stats[nr], per CPU: every syscall of the tree, sent or not.  The
 * latency fields cover the calls that were timed: all of them unless
 * rodata time_mask samples (top), see bpf/trace.bpf.c.
 */
struct sc_stat {
	__u64 count;
	__u64 errors;		/* returned -4095..-1 */
	__u64 total_ns;		/* of the timed calls */
	__u64 min_ns;		/* 0: no call timed yet */
	__u64 max_ns;
	__u64 timed;		/* calls whose latency is in total_ns and hist */
	__u64 gen;		/* BPF side only: sample_gen at this CPU's last forced timing */
	__u64 hist[TRACE_HIST_SLOTS];
};

/*
 * The sampling iterators' output (seq_file, not the ring buffer), one
 * pass each per refresh for the whole followed tree.  walk_tree: one per
 * live thread, with its syscall counters and what top shows of it.
 */
struct rec_thread {
	__s32 tgid;
	__s32 tid;
	__u64 syscalls;
	__u64 syscall_ns;
	__u64 errors;		/* returned -4095..-1 */
	__u64 timed;		/* syscalls whose latency is in syscall_ns */
	__s32 ppid;		/* of the process (real parent) */
	__u32 state;		/* task->__state */
	__u32 cpu;		/* the CPU it last ran on */
	__u32 pad;
	__u64 exec_ns;		/* se.sum_exec_runtime */
	__u64 nvcsw;
	__u64 nivcsw;
	__u64 min_flt;
	__u64 maj_flt;
	__s64 rss_pages;	/* file + anon + shmem of its mm; 0: none */
	char comm[BCK_COMM_LEN];
};

/* walk_vmas: one per VMA of a followed process (once per mm) */
struct rec_tvma {
	__s32 tgid;
	__u32 pad;
	__u64 start;
	__u64 end;
};

/* walk_files: one per fd of a followed process (once per fd table) */
struct rec_tfd {
	__s32 tgid;
	__s32 fd;
};

/* bpf/trace.bpf.c's memory of the task its last iterator call saw */
struct last_task {
	__u64 task;
	__s32 pid;
	__s32 tgid;
	__u32 traced;
	__u32 pad;
};

/* lost[0]: what the BPF side could not record */
struct trace_lost {
	__u64 events;		/* ring buffer full */
	__u64 procs;		/* traced full: a new process is not followed */
	__u64 throttled;	/* not sent: over the rate limit (rate_max) */
	__u64 window;		/* the rate limit's current window */
	__u64 sent;		/* records sent in that window */
};

/* the rate limit counts records per window of 2^24 ns (16.8 ms) */
#define TRACE_RATE_SHIFT	24

#endif
