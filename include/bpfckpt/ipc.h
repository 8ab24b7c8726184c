/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SysV IPC objects and the tree's IPC and UTS namespaces: image records.
 * They come after the header and before the first IMG_PROC: IMG_IPC_NS
 * first, then each IMG_SHM with its IMG_SHM_DATA records, each IMG_SEM,
 * each IMG_MSQ with its IMG_MSG records, in that order.
 */
#ifndef BPFCKPT_IPC_H
#define BPFCKPT_IPC_H

#include "bpfckpt/image.h"

#define IMG_IPC_NS	64
#define IMG_SHM		65
#define IMG_SHM_DATA	66
#define IMG_SEM		67
#define IMG_MSQ		68
#define IMG_MSG		69
#define IMG_SEM_UNDO	70	/* among a process's records, not here */

/* the tree's namespace was not the snapper's: restore makes a new one */
#define IMG_NS_IPC_OWN	(1u << 0)
#define IMG_NS_UTS_OWN	(1u << 1)
#define IMG_NS_FLAGS_ALL (IMG_NS_IPC_OWN | IMG_NS_UTS_OWN)

#define IMG_UTS_LEN	72	/* __NEW_UTS_LEN + 1, rounded up to 8 */
#define IMG_IPC_MAX	32768	/* objects of one kind (IPCMNI) */

struct img_ipc_ns {
	struct ckpt_hdr h;
	__u32 flags;		/* IMG_NS_* */
	__u32 nr_shm;
	__u32 nr_sem;
	__u32 nr_msq;
	char hostname[IMG_UTS_LEN];	/* of the tree's UTS namespace, NUL */
	char domainname[IMG_UTS_LEN];
};
_Static_assert(sizeof(struct img_ipc_ns) == 168, "img_ipc_ns");

/* struct ipc64_perm as IPC_STAT and /proc/sysvipc give it */
struct img_ipc_perm {
	__s32 key;
	__s32 id;
	__u32 uid, gid;
	__u32 cuid, cgid;
	__u32 mode;		/* 0777 bits, and SHM_DEST/SHM_LOCKED for shm */
	__u32 reserved;
};
_Static_assert(sizeof(struct img_ipc_perm) == 32, "img_ipc_perm");

#define IMG_SHM_DEST	01000	/* IPC_RMID'd, still attached */
#define IMG_SHM_LOCKED	02000	/* SHM_LOCK */
#define IMG_SHM_MODE_ALL (0777 | IMG_SHM_DEST | IMG_SHM_LOCKED)
#define IMG_SHM_SIZE_MAX (1ULL << 40)

/* IMG_SHM: one segment; its non-zero pages follow in IMG_SHM_DATA */
struct img_shm {
	struct ckpt_hdr h;
	struct img_ipc_perm perm;
	__u64 size;		/* bytes, as shmget got it */
	__s32 cpid;		/* creator, snapper's pid namespace */
	__u32 nr_data;		/* IMG_SHM_DATA records after it */
};
_Static_assert(sizeof(struct img_shm) == 56, "img_shm");

#define IMG_SHM_DATA_MAX (4u << 20)	/* bytes per IMG_SHM_DATA */

/* IMG_SHM_DATA: @len bytes at @offset of the segment before. Trailing: data */
struct img_shm_data {
	struct ckpt_hdr h;
	__u64 offset;		/* page-aligned, increasing */
	__u32 len;		/* whole pages, at most IMG_SHM_DATA_MAX */
	__u32 reserved;
};
_Static_assert(sizeof(struct img_shm_data) == 24, "img_shm_data");

#define IMG_SEM_MAX	32000	/* SEMMSL */

/* IMG_SEM: one set. Trailing: nsems __u16 values (semctl GETALL) */
struct img_sem {
	struct ckpt_hdr h;
	struct img_ipc_perm perm;
	__u32 nsems;
	__u32 reserved;
};
_Static_assert(sizeof(struct img_sem) == 48, "img_sem");

/* IMG_MSQ: one queue; its messages follow in IMG_MSG, oldest first */
struct img_msq {
	struct ckpt_hdr h;
	struct img_ipc_perm perm;
	__u64 qbytes;		/* msg_qbytes: the queue's byte limit */
	__u32 nr_msgs;
	__u32 reserved;
};
_Static_assert(sizeof(struct img_msq) == 56, "img_msq");

#define IMG_MSG_MAX	(1u << 20)	/* bytes of one message */

/* IMG_MSG: one message of the queue before. Trailing: len bytes of text */
struct img_msg {
	struct ckpt_hdr h;
	__s64 mtype;		/* > 0 */
	__u32 len;
	__u32 reserved;
};
_Static_assert(sizeof(struct img_msg) == 24, "img_msg");

/*
 * IMG_SEM_UNDO: one process's SEM_UNDO adjustments (semadj) on one set,
 * among that process's records, after its IMG_PROC: what the kernel adds
 * to each semaphore when the process exits (exit_sem(), ipc/sem.c).
 * The set is an IMG_SEM of the image with as many semaphores; each set
 * at most once per process.  Trailing: nsems __s16 values, zero-padded.
 */
struct img_sem_undo {
	struct ckpt_hdr h;
	__s32 semid;
	__u32 nsems;
};
_Static_assert(sizeof(struct img_sem_undo) == 16, "img_sem_undo");

#endif
