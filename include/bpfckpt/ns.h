/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pid and mount namespaces a process lives in: image record IMG_NS,
 * one per process that needs one, after its task records and before its
 * VMAs.  Its pid namespace levels are in IMG_PROC (nr_levels, pid[]); a
 * process whose level count is its parent's plus one is the init of a
 * new pid namespace and is cloned with CLONE_NEWPID.  The flags say what
 * the new process does before it makes its children, in this order:
 * PROC_FIRST, MNT_NEW, PROC; and after them: PIDFC_*.
 * (IPC and UTS namespaces: IMG_IPC_NS in ipc.h.)
 */
#ifndef BPFCKPT_NS_H
#define BPFCKPT_NS_H

#include "bpfckpt/image.h"

#define IMG_NS		72

/* mounts a proc of its own pid namespace on /proc, in the mount
 * namespace it was born in (then makes its own: MNT_NEW) */
#define IMG_PNS_PROC_FIRST	(1u << 0)
/* a mount namespace of its own: unshare(CLONE_NEWNS), all mounts private */
#define IMG_PNS_MNT_NEW		(1u << 1)
/* mounts a proc of its own pid namespace on /proc, in its own mount ns */
#define IMG_PNS_PROC		(1u << 2)
/* its pid_for_children is the pid namespace of one of its children */
#define IMG_PNS_PIDFC_CHILD	(1u << 3)
/* its pid_for_children is a pid namespace nobody of the tree lives in */
#define IMG_PNS_PIDFC_EMPTY	(1u << 4)
/* with MNT_NEW: its mounts are slaves of the restorer's (MS_SLAVE), not
 * private: mounts made out here reach it, and it keeps no list of them */
#define IMG_PNS_MNT_SLAVE	(1u << 5)
#define IMG_PNS_FLAGS_ALL	0x3fu

/* MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY of the /proc mount */
#define IMG_PNS_MS_ALL		(0x1u | 0x2u | 0x4u | 0x8u)

#define IMG_NS_MOUNTS_MAX	4096	/* mounts of one namespace */
#define IMG_NS_MOUNTS_LEN	(1u << 20)	/* bytes of their lines */

/*
 * Trailing (MNT_NEW, not MNT_SLAVE): the mounts of its namespace but the procs the
 * tree mounts itself, nr_mounts NUL-terminated lines of mountinfo's
 * "root point options fstype source super-options", mounts_len bytes in
 * all.  Restore detaches what else the copy of its own namespace has.
 */
struct img_ns {
	struct ckpt_hdr h;
	__u32 flags;		/* IMG_PNS_* */
	__u32 proc_ms;		/* mount flags of its /proc (IMG_PNS_MS_ALL) */
	__u32 nr_mounts;
	__u32 mounts_len;
};
_Static_assert(sizeof(struct img_ns) == 24, "img_ns");

#endif
