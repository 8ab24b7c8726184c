/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The image file: a stream of 8-byte aligned, little-endian records,
 * each starting with struct ckpt_hdr.  First IMG_HEADER, last IMG_TAIL
 * (checksum of every byte before it but page data, which IMG_PAGE_SUMS
 * records check piece by piece).  Type numbers are never reused.
 * Most records carry trailing data (strings, registers) right after their
 * fixed part, so a record cannot grow without moving it: the reader takes
 * exact lengths, and any change of a record's layout bumps IMG_VERSION.
 * Reserved fields are written as 0 and rejected when not 0.  Images are
 * untrusted input: see user/img.c and user/model.c for the checks.
 *
 * Per-kind records live in task.h, mm.h, files.h.  Records 49..63
 * (and 80..95) are the fd kinds' state, each right after its IMG_FD.
 */
#ifndef BPFCKPT_IMAGE_H
#define BPFCKPT_IMAGE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct ckpt_hdr {
	__u32 type;		/* IMG_* */
	__u32 len;		/* bytes including this header, multiple of 8 */
};

#define IMG_HEADER	1
#define IMG_TAIL	2
#define IMG_ERROR	3
#define IMG_PROC	16
#define IMG_THREAD	17
#define IMG_SIGINFO	18
#define IMG_TIMER	19
#define IMG_THREAD_EXT	20
#define IMG_SECCOMP	21
#define IMG_PROC_EXT	22
#define IMG_VMA		32
#define IMG_PAGES	33
#define IMG_COW		34
#define IMG_GUARD	40
#define IMG_VDSO	41
#define IMG_PAGE_SUMS	42
#define IMG_FD		48
#define IMG_PIPE	49	/* after the IMG_FD of a pipe or fifo (files.h) */
#define IMG_UNIX	50	/* after the IMG_FD of an AF_UNIX socket */
#define IMG_EVENTFD	51
#define IMG_TIMERFD	52
#define IMG_SIGNALFD	53
#define IMG_EPOLL	54
#define IMG_FILEDATA	55	/* a memfd's or deleted file's content */
#define IMG_INOTIFY	80	/* after the IMG_FD of an inotify fd */
#define IMG_FANOTIFY	81	/* after the IMG_FD of a fanotify fd */
#define IMG_LOCKS	56	/* file locks of a process (locks.h) */
#define IMG_TTY		57	/* after the IMG_FD of a terminal (tty.h) */
#define IMG_INET	60	/* after the IMG_FD of a TCP or UDP socket */
#define IMG_ZPAGES	96	/* compressed IMG_PAGES (mm.h) */
#define IMG_CHAIN	97	/* pre-copy: this snap and its parent (chain.h) */
#define IMG_INHERIT	98	/* pre-copy: pages taken from the parent */
#define IMG_TYPE_MAX	128	/* types are below this */

#define IMG_MAGIC	0x3154504b43465042ULL	/* "BPFCKPT1" in file order */
#define IMG_TAIL_MAGIC	0x444e4554504b4342ULL	/* "BCKPTEND" */
#define IMG_VERSION	2	/* 2: page data checked by IMG_PAGE_SUMS */
#define IMG_ARCH_X86_64	62		/* EM_X86_64 */
#define IMG_REC_MAX	(1u << 24)	/* no record is larger (16 MiB) */
#define IMG_STR_MAX	4096

struct img_header {
	struct ckpt_hdr h;
	__u64 magic;		/* IMG_MAGIC */
	__u32 version;		/* IMG_VERSION */
	__u32 arch;		/* IMG_ARCH_* */
	/* kernel constants restore depends on */
	__u32 page_size;
	__u32 task_comm_len;
	__u32 nsig;
	__u32 nr_rlimits;
	__u32 auxv_words;
	__u32 ns_levels;	/* BCK_NS_LEVELS of the writer */
	__u32 xstate_size;	/* bytes of NT_X86_XSTATE per thread */
	__u32 nr_procs;
	__u64 time_ns;		/* CLOCK_REALTIME at snap */
	__u64 mono_ns;		/* CLOCK_MONOTONIC at snap */
	__s32 root_pid;		/* level 0 in the snapper's namespace */
	__u32 flags;		/* reserved, 0 */
	__u8 boot_id[40];	/* /proc/sys/kernel/random/boot_id, NUL */
	char sysname[72];	/* uname(2), each NUL-terminated */
	char release[72];
	char kversion[72];
	char machine[72];
	char hostname[72];
};

struct img_tail {
	struct ckpt_hdr h;
	__u64 magic;		/* IMG_TAIL_MAGIC */
	__u64 nr_records;	/* before the tail */
	__u64 size;		/* bytes before the tail */
	__u64 checksum;		/* XXH3-64 of those bytes, page data left out */
};

struct img_error {
	struct ckpt_hdr h;
	__s32 err;		/* positive errno */
	__u32 msg_len;		/* trailing message with its NUL */
};

#endif
