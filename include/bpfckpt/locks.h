/* SPDX-License-Identifier: GPL-2.0 */
/*
 * File locks a process holds (flock, POSIX fcntl, OFD), as
 * /proc/PID/fdinfo/N shows them: the image record, after the process's
 * last IMG_FD.
 */
#ifndef BPFCKPT_LOCKS_H
#define BPFCKPT_LOCKS_H

#include "bpfckpt/image.h"

#define IMG_LOCK_FLOCK	1	/* flock(2): owned by the open file */
#define IMG_LOCK_POSIX	2	/* fcntl F_SETLK: owned by the process */
#define IMG_LOCK_OFD	3	/* fcntl F_OFD_SETLK: owned by the open file */
#define IMG_LOCK_KIND_MAX 3

#define IMG_LOCK_READ	1	/* F_RDLCK, LOCK_SH */
#define IMG_LOCK_WRITE	2	/* F_WRLCK, LOCK_EX */

struct img_lock {
	__s32 fd;		/* an fd of the process on the locked file */
	__u32 kind;		/* IMG_LOCK_* */
	__u32 type;		/* IMG_LOCK_READ, IMG_LOCK_WRITE */
	__u32 reserved;
	__u64 start;		/* first byte; 0 for flock */
	__u64 len;		/* bytes, 0: to the end of file (and for flock) */
};

/* IMG_LOCKS: trailing nr_locks struct img_lock, ordered by fd */
struct img_locks {
	struct ckpt_hdr h;
	__u32 nr_locks;
	__u32 reserved;
};

#define IMG_LOCKS_MAX	65536
/* the kernel's OFFSET_MAX: no lock starts or ends beyond it */
#define IMG_LOCK_OFF_MAX 0x7fffffffffffffffULL

_Static_assert(sizeof(struct img_lock) == 32, "img_lock layout");
_Static_assert(sizeof(struct img_locks) == 16, "img_locks layout");

#endif
