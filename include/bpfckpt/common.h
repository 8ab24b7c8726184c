/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Definitions shared by the BPF programs and the user side: ring-buffer
 * record framing and the limits both sides agree on.  No libc here.
 */
#ifndef BPFCKPT_COMMON_H
#define BPFCKPT_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BCK_NS_LEVELS	8	/* pid namespace depth we record */
#define BCK_PATH_MAX	4096	/* as the kernel's PATH_MAX */
#define BCK_COMM_LEN	16	/* TASK_COMM_LEN */
#define BCK_NSIG	64	/* _NSIG on x86_64 */
#define BCK_NRLIMITS	16	/* RLIM_NLIMITS */
#define BCK_AUXV_WORDS	64	/* >= AT_VECTOR_SIZE (56 on 6.x x86_64) */
#define BCK_NGROUPS	64	/* supplementary groups we record */
#define BCK_SPECIAL_LEN	32	/* "[vdso]", "[vvar_vclock]", ... */
#define BCK_CRED_BLOB_WORDS 16	/* of cred->security (LSM blobs) */

/* Every ring-buffer record starts with this. */
struct rec_hdr {
	__u32 type;		/* enum-like REC_* below */
	__u32 size;		/* bytes including this header */
};

#define REC_TASK	1	/* struct rec_task, one per thread */
/* 2 was REC_PATH (bpf_d_path of exe/cwd/root): retired, never reused */
#define REC_TIMER	3	/* struct rec_timer: one POSIX timer */
#define REC_VMA		4	/* struct rec_vma */
#define REC_FILE	5	/* struct rec_file */
#define REC_PID		6	/* struct rec_pid: tree discovery */
#define REC_TIMERS_END	7	/* struct rec_timers_end: a process's timer list is complete */
#define REC_SEM_UNDO	70	/* struct rec_sem_undo: SEM_UNDO adjustments, a chunk of one set */
#define REC_SEM_UNDO_END 71	/* struct rec_sem_undo_end: a process's undo list is complete */

/* rec_*.err: what the BPF side could not read (the snap fails on it) */
#define REC_ERR_PATH	(1u << 0)	/* bpf_d_path failed or too long */
#define REC_ERR_LEVELS	(1u << 1)	/* pid namespace deeper than recorded */
#define REC_ERR_GROUPS	(1u << 2)	/* more supplementary groups than recorded */
#define REC_ERR_TIMERS	(1u << 3)	/* too many POSIX timers to walk */
#define REC_ERR_UNDO_LONG (1u << 4)	/* more SEM_UNDO chunks than the walk takes */
#define REC_ERR_UNDO_SET (1u << 5)	/* an undo entry's set is not in sem_nsems */
#define REC_ERR_UNDO_THREAD (1u << 6)	/* a thread with an undo list of its own */

/*
 * rec_*.missing: fields this kernel's layout does not have where the BPF
 * side looks for them (CO-RE said so at load time); the user side reads
 * them another way.
 */
#define REC_MISS_RSEQ	(1u << 0)	/* rseq, rseq_len, rseq_sig: ask ptrace */
#define REC_MISS_MEMBARRIER (1u << 1)	/* mm->membarrier_state: unknown */
#define REC_MISS_KEYRING (1u << 2)	/* cred->session_keyring: unknown */

#endif
