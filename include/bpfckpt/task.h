/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Task state: the ring-buffer records of bpf/task.bpf.c (iter/task) and
 * the image records of processes, threads, queued signals and timers.
 */
#ifndef BPFCKPT_TASK_H
#define BPFCKPT_TASK_H

#include "bpfckpt/common.h"
#include "bpfckpt/image.h"

/* ---- ring-buffer records (BPF -> user) ---- */

/* tree discovery: every task visible to the reader, cheap */
struct rec_pid {
	struct rec_hdr h;
	__s32 tid;		/* numbers in the reader's pid namespace */
	__s32 tgid;
	__s32 ppid;		/* real_parent's tgid, 0 if not visible */
	__u32 pf_flags;		/* PF_KTHREAD, PF_EXITING, ... */
	__u32 exit_state;
	__u32 pad;
};

struct rec_sigaction {
	__u64 handler;
	__u64 flags;
	__u64 restorer;
	__u64 mask;
};

struct rec_rlimit {
	__u64 cur;
	__u64 max;
};

/*
 * One per thread.  The process-wide part (mm, signal, fs) is repeated in
 * every thread's record; the user side takes it from the leader's.
 */
struct rec_task {
	struct rec_hdr h;
	__u32 err;		/* REC_ERR_* */
	__u32 level;		/* pid namespace level of the task */
	__u32 self_level;	/* pid namespace level of the reader */
	__u32 nr_threads;
	__s32 tid[BCK_NS_LEVELS];	/* [i] = number at level i */
	__s32 tgid[BCK_NS_LEVELS];
	__s32 ppid[BCK_NS_LEVELS];
	__s32 pgid[BCK_NS_LEVELS];
	__s32 sid[BCK_NS_LEVELS];
	char comm[BCK_COMM_LEN];
	__u32 state;		/* task->__state */
	__u32 exit_state;
	__s32 exit_code;
	__u32 pf_flags;
	__u64 jobctl;
	__u32 sig_flags;	/* signal->flags (SIGNAL_STOP_STOPPED, ...) */
	__s32 group_exit_code;
	/* credentials (global ids) */
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 securebits;
	__u32 ngroups;
	__u64 cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	__u32 groups[BCK_NGROUPS];
	/* per thread */
	__u64 blocked;
	__u64 pending;
	__u64 shared_pending;
	__u64 sas_sp;
	__u64 sas_size;
	__u32 sas_flags;
	__s32 pdeath_sig;
	__u64 clear_child_tid;
	__u64 robust_list;
	__u64 rseq;
	__u32 rseq_len;
	__u32 rseq_sig;
	__u32 policy;
	__u32 rt_priority;
	__s32 nice;
	__u32 personality;
	__u32 no_new_privs;
	__u32 seccomp_mode;
	__u32 cpu;
	__u32 on_cpu;
	__u64 sum_exec_ns;	/* this thread's CPU time */
	__u64 timer_slack_ns;
	__u64 default_timer_slack_ns;
	__u64 utime, stime, start_time;
	__u64 nvcsw, nivcsw, min_flt, maj_flt;
	/* per process */
	__u32 umask;
	__s32 oom_score_adj;
	__u32 is_subreaper;
	__u32 has_mm;
	__u64 mm_flags;		/* low word of mm->flags: dumpable, THP off */
	__u32 sem_undo;		/* has a SysV semaphore undo list */
	__u32 real_timer_armed;
	__u64 real_timer_rem_ns;	/* ITIMER_REAL, from now */
	__u64 real_timer_incr_ns;
	__u64 cpu_timer_exp[2];		/* ITIMER_PROF, ITIMER_VIRTUAL: */
	__u64 cpu_timer_incr[2];	/* absolute process CPU time, ns */
	__u64 dead_cpu_ns;		/* signal->sum_sched_runtime */
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
	__u64 vdso;
	__u64 map_count, total_vm;
	__u64 rss_file, rss_anon, rss_swap, rss_shmem;	/* pages */
	__u32 auxv_words;
	__s32 exit_signal;	/* sent to the parent at exit */
	__u64 auxv[BCK_AUXV_WORDS];
	__u64 mm_def_flags;	/* mm->def_flags: mlockall(MCL_FUTURE) */
	/* identity of exe (mm->exe_file), cwd and root: their paths come
	 * from /proc/PID/{exe,cwd,root} and are checked against these */
	__u32 has_exe;
	__u32 has_fs;
	__u64 exe_dev, exe_ino;		/* kernel dev_t (MAJOR << 20 | MINOR) */
	__u64 cwd_dev, cwd_ino;
	__u64 root_dev, root_ino;
	__u32 missing;			/* REC_MISS_* */
	__u32 membarrier;		/* mm->membarrier_state: MEMBARRIER_STATE_* */
	__s32 session_keyring;		/* cred->session_keyring's serial, 0: none */
	__u32 pad3;
	/*
	 * The start of cred->security, the LSMs' blobs: where Landlock
	 * keeps its domain pointer the kernel does not say (the offset is
	 * set at boot), so the user side finds it by comparing with a
	 * process it put in a domain itself (task.c landlock_offset()).
	 */
	__u64 cred_blob[BCK_CRED_BLOB_WORDS];
	struct rec_rlimit rlim[BCK_NRLIMITS];
	struct rec_sigaction sigact[BCK_NSIG];
};

/* the end of a process's timers (collect_timers): nr of them, or err */
struct rec_timers_end {
	struct rec_hdr h;
	__s32 tgid;		/* reader's namespace */
	__u32 nr;
	__u32 err;		/* REC_ERR_TIMERS: more than the walk takes */
	__u32 pad;
};

/*
 * SEM_UNDO adjustments of one process (collect_sem_undo): for each set
 * in task->sysvsem.undo_list, its semadj[] in chunks of BCK_UNDO_CHUNK
 * values, then one rec_sem_undo_end.  The walk takes at most
 * BCK_UNDO_STEPS steps (one per chunk or skipped entry).
 */
#define BCK_UNDO_CHUNK	64
#define BCK_UNDO_STEPS	8192

struct rec_sem_undo {
	struct rec_hdr h;
	__s32 tgid;		/* reader's namespace */
	__s32 semid;
	__u32 nsems;		/* of the set (from the sem_nsems map) */
	__u32 first;		/* index of vals[0] */
	__u32 n;		/* values in this chunk */
	__u32 pad;
	__s16 vals[BCK_UNDO_CHUNK];
};

struct rec_sem_undo_end {
	struct rec_hdr h;
	__s32 tgid;		/* reader's namespace */
	__s32 tid;		/* REC_ERR_UNDO_THREAD: that thread; else the leader */
	__u32 nr;		/* sets walked */
	__u32 err;		/* REC_ERR_UNDO_* */
	__s32 semid;		/* REC_ERR_UNDO_SET: that set */
	__u32 pad;
};

struct rec_timer {
	struct rec_hdr h;
	__s32 tgid;
	__s32 id;
	__s32 clock;
	__s32 notify;		/* SIGEV_* (| SIGEV_THREAD_ID) */
	__s32 signo;
	__s32 target;		/* SIGEV_THREAD_ID target, reader's ns */
	__u64 value;		/* sigev_value */
	__u64 interval_ns;
	__u64 rem_ns;		/* 0 = disarmed */
	__s64 overrun;
	__u32 armed;
	__u32 ignored;		/* on signal->ignored_posix_timers */
};

/* ---- image records ---- */

struct img_sigaction {
	__u64 handler;
	__u64 flags;
	__u64 restorer;
	__u64 mask;
};

struct img_rlimit {
	__u64 cur;
	__u64 max;
};

struct img_itimer {
	__u64 value_ns;		/* time left, 0 = disarmed */
	__u64 interval_ns;
};

#define IMG_PROC_ZOMBIE		(1u << 0)	/* exit_code holds its status */
#define IMG_PROC_STOPPED	(1u << 1)	/* job-control stopped */
#define IMG_PROC_SUBREAPER	(1u << 2)
#define IMG_PROC_THP_DISABLE	(1u << 3)
#define IMG_PROC_MDWE		(1u << 4)	/* PR_SET_MDWE: no exec gain */
#define IMG_PROC_MDWE_NO_INHERIT (1u << 5)	/* ... and not for children */
#define IMG_PROC_MERGE_ANY	(1u << 6)	/* PR_SET_MEMORY_MERGE: KSM */
#define IMG_PROC_MLOCK_FUTURE	(1u << 7)	/* mlockall(MCL_FUTURE) */
#define IMG_PROC_MLOCK_ONFAULT	(1u << 8)	/* ... | MCL_ONFAULT */
#define IMG_PROC_FLAGS_ALL	0x1ffu

/*
 * IMG_PROC starts a process: every following record up to the next
 * IMG_PROC belongs to it.  Trailing strings: exe, cwd, root.
 */
struct img_proc {
	struct ckpt_hdr h;
	__u32 nr_levels;	/* pid namespace levels recorded, >= 1 */
	__u32 flags;		/* IMG_PROC_* */
	__s32 pid[BCK_NS_LEVELS];	/* [0] in the snapper's namespace */
	__s32 ppid[BCK_NS_LEVELS];
	__s32 pgid[BCK_NS_LEVELS];
	__s32 sid[BCK_NS_LEVELS];
	__s32 exit_code;	/* wait status of a zombie */
	__u32 nr_threads;
	char comm[BCK_COMM_LEN];
	__u32 umask;
	__u32 personality;
	__u32 dumpable;
	__s32 oom_score_adj;
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
	__u64 vdso;
	__u32 auxv_words;	/* used words of auxv[] */
	__u32 nr_rlimits;
	__u64 auxv[BCK_AUXV_WORDS];
	struct img_rlimit rlim[BCK_NRLIMITS];
	struct img_sigaction sigact[BCK_NSIG];
	__u64 shared_pending;	/* signal numbers pending on the process */
	struct img_itimer itimer[3];	/* ITIMER_REAL, _VIRTUAL, _PROF */
	__u32 coredump_filter;	/* /proc/PID/coredump_filter */
	__u32 reserved;
	__u32 exe_len;		/* trailing strings, each with its NUL */
	__u32 cwd_len;
	__u32 root_len;
	__s32 exit_signal;	/* signal the parent gets at exit */
	/* char exe[exe_len], cwd[cwd_len], root[root_len]; padded to 8 */
};

#define IMG_THREAD_IN_SYSCALL	(1u << 0)	/* stopped inside a syscall */
#define IMG_THREAD_NO_NEW_PRIVS	(1u << 1)
#define IMG_THREAD_FLAGS_ALL	0x3u

struct img_creds {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 securebits;
	__u32 ngroups;
	__u64 cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	__u32 groups[BCK_NGROUPS];
};

/*
 * IMG_THREAD: one per thread, leader first.  Trailing: the arch's
 * register blob (regs_size bytes) then its xstate (xstate_size bytes).
 */
struct img_thread {
	struct ckpt_hdr h;
	__s32 tid[BCK_NS_LEVELS];
	__u32 flags;		/* IMG_THREAD_* */
	__s32 pdeath_sig;
	char comm[BCK_COMM_LEN];
	struct img_creds creds;
	__u64 blocked;
	__u64 pending;		/* signal numbers pending on this thread */
	__u64 sas_sp;
	__u64 sas_size;
	__u32 sas_flags;
	__u32 policy;
	__u32 rt_priority;
	__s32 nice;
	__u64 clear_child_tid;
	__u64 robust_list;
	__u64 rseq;
	__u32 rseq_len;
	__u32 rseq_sig;
	__u32 regs_size;
	__u32 xstate_size;
	__u64 timer_slack_ns;	/* 0: the default */
};

/*
 * IMG_THREAD_EXT: what a thread set on itself beyond img_thread, right
 * after the IMG_THREAD it belongs to (optional: older images lack it).
 * IMG_SECCOMP records for its filters follow it.
 */
#define IMG_CPU_WORDS	16	/* 1024 CPUs */
struct img_thread_ext {
	struct ckpt_hdr h;
	__s32 tid;		/* level 0, the thread's */
	__s32 ioprio;		/* ioprio_get(IOPRIO_WHO_PROCESS); 0: never set */
	__u32 nr_cpus;		/* bits of affinity[] that count, <= 64 * IMG_CPU_WORDS */
	__u32 seccomp_mode;	/* 0, 1 (strict) or 2 (filters) */
	__u32 nr_filters;	/* IMG_SECCOMP records that follow, mode 2 */
	__u32 reserved;
	__u64 affinity[IMG_CPU_WORDS];	/* sched_getaffinity() */
};

#define IMG_SECCOMP_MAX_INSNS	4096	/* BPF_MAXINSNS of classic BPF */

/*
 * IMG_SECCOMP: one seccomp filter of a thread, oldest first (the order
 * they are installed in).  Trailing: nr_insns struct sock_filter (8
 * bytes each), as PTRACE_SECCOMP_GET_FILTER gave them.
 */
struct img_seccomp {
	struct ckpt_hdr h;
	__s32 tid;		/* level 0 */
	__u32 flags;		/* SECCOMP_FILTER_FLAG_LOG, ... (metadata) */
	__u32 nr_insns;
	__u32 reserved;
};

/* img_proc_ext.membarrier: registrations (membarrier(2) commands) */
#define IMG_MB_PRIVATE_EXPEDITED	(1u << 0)
#define IMG_MB_GLOBAL_EXPEDITED		(1u << 1)
#define IMG_MB_SYNC_CORE		(1u << 2)
#define IMG_MB_RSEQ			(1u << 3)
#define IMG_MB_ALL			0xfu

/* IMG_PROC_EXT: process state beyond img_proc, right after it (optional) */
struct img_proc_ext {
	struct ckpt_hdr h;
	__u32 membarrier;	/* IMG_MB_* */
	__u32 loginuid;		/* /proc/PID/loginuid; (__u32)-1: unset */
	__s32 session_keyring;	/* its serial; 0: none */
	__u32 reserved;
	/* the cwd's inode, for a cwd deleted before the snap */
	__u32 cwd_mode;
	__u32 cwd_uid;
	__u32 cwd_gid;
	__u32 reserved2;
};

/* IMG_SIGINFO: one queued signal, with the kernel's siginfo */
struct img_siginfo {
	struct ckpt_hdr h;
	__s32 tid;		/* 0: the process's shared queue */
	__u32 signo;
	__u8 info[128];		/* siginfo_t as PTRACE_PEEKSIGINFO gave it */
};

/* IMG_TIMER: a POSIX timer of the process (timer_create) */
struct img_timer {
	struct ckpt_hdr h;
	__s32 id;
	__s32 clock;
	__s32 notify;
	__s32 signo;
	__s32 target;		/* thread for SIGEV_THREAD_ID, level-0 tid */
	__u32 reserved;
	__u64 value;
	__u64 interval_ns;
	__u64 value_ns;		/* time left, 0 = disarmed */
	__s64 overrun;
};

#endif
