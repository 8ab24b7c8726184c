/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pre-copy chains (snap --pre, snap --parent): an image may take the
 * pages its tree did not write since an earlier image of the same tree,
 * its parent, from that parent instead of storing them again.
 *
 * IMG_CHAIN, right after the header of every image of a chain: who this
 * snap is, which image it takes pages from (checked at restore by id and
 * tail checksum), and each process's identity (pid, start time) at snap.
 * IMG_INHERIT, after a process's pages: the address ranges whose pages
 * come from the parent (which holds them itself or inherits them in
 * turn); every other page is stored in this image or is not stored
 * (zero, or from its file) as in any image.
 */
#ifndef BPFCKPT_CHAIN_H
#define BPFCKPT_CHAIN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "bpfckpt/image.h"

/* taken with --pre: memory copied while the tree ran, not restorable alone */
#define IMG_CHAIN_PRE		(1u << 0)
#define IMG_CHAIN_FLAGS_ALL	IMG_CHAIN_PRE
#define IMG_CHAIN_DEPTH_MAX	64	/* images in a chain */

struct img_chain_proc {
	__s32 pid;
	__u32 tracked;		/* 1: its writes are tracked from this snap on */
	__u64 start_time;	/* /proc/PID/stat field 22, clock ticks */
};

struct img_chain {
	struct ckpt_hdr h;
	__u64 id;		/* this snap's, random, not 0 */
	__u64 parent_id;	/* 0: no parent */
	__u64 parent_sum;	/* the parent's tail checksum */
	__u32 flags;		/* IMG_CHAIN_* */
	__u32 nr_procs;		/* img_chain_proc entries after the fixed part */
	__u32 parent_len;	/* then the parent's path with its NUL (0: none) */
	__u32 reserved;
};

struct img_range {
	__u64 start, end;	/* page-aligned, start < end */
};

struct img_inherit {
	struct ckpt_hdr h;
	__u32 nr;		/* img_range entries, increasing, apart */
	__u32 reserved;
};

_Static_assert(sizeof(struct img_chain_proc) == 16, "img_chain_proc layout");
_Static_assert(sizeof(struct img_chain) == 48, "img_chain layout");
_Static_assert(sizeof(struct img_inherit) == 16, "img_inherit layout");

#endif
