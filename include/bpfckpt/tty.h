/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Terminals: IMG_TTY after the IMG_FD of a pty master (/dev/ptmx) or a
 * pty slave (/dev/pts/N).  A slave whose master no process of the tree
 * holds is the user's terminal: a shell job's (snap/restore --shell-job).
 */
#ifndef BPFCKPT_TTY_H
#define BPFCKPT_TTY_H

#include "bpfckpt/image.h"

#define IMG_FD_TTY	16	/* IMG_TTY follows */

#define IMG_TTY_MASTER	(1u << 0)	/* the fd is the ptmx side */
#define IMG_TTY_LOCKED	(1u << 1)	/* TIOCSPTLCK still set: unlockpt() not called */
#define IMG_TTY_PKT	(1u << 2)	/* TIOCPKT packet mode (a master's) */
#define IMG_TTY_DATA	(1u << 3)	/* this record has the pair's pending output */
#define IMG_TTY_FLAGS_ALL 0xfu

#define IMG_TTY_CC	32		/* c_cc bytes kept (the kernel has 19) */
#define IMG_TTY_DATA_MAX (1u << 17)	/* more than a pty buffers either way */

/*
 * Trailing: data_len bytes the slave side wrote that the master had not
 * read yet, then in_len bytes written into the master (typed) that the
 * slave side had not read, as its line discipline holds them (in one
 * master record of the pair only).
 */
struct img_tty {
	struct ckpt_hdr h;
	__u32 index;		/* N of /dev/pts/N */
	__u32 flags;		/* IMG_TTY_* */
	__s32 sid;		/* session the pty is the terminal of, 0: none known */
	__s32 pgrp;		/* its foreground process group, 0: none known */
	/* the termios of the pair (the slave's: a master's ioctls act on it) */
	__u32 iflag;
	__u32 oflag;
	__u32 cflag;
	__u32 lflag;
	__u32 ispeed;
	__u32 ospeed;
	__u16 rows;		/* TIOCGWINSZ */
	__u16 cols;
	__u16 xpixel;
	__u16 ypixel;
	__u32 data_len;
	__u32 in_len;
	__u8 line;		/* line discipline: only N_TTY (0) is restored */
	__u8 pad[7];
	__u8 cc[IMG_TTY_CC];
};

_Static_assert(sizeof(struct img_tty) == 104, "img_tty layout");

#endif
