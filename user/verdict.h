/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What restore would refuse in an image, checked the same way by restore
 * itself (before it creates anything), by snap --kill (on the image it
 * just wrote, before it kills anything) and by inspect (on a model of
 * the live tree).  Each kind checks its own records (pstree.c, task.c,
 * mm.c, files.c); a verdict either stops at the first reason, printing
 * it (restore), or lists them all (snap --kill, inspect).
 */
#ifndef BPFCKPT_VERDICT_H
#define BPFCKPT_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"

struct verdict_reason {
	int32_t pid;
	const char *what;	/* tree, task, vma, fd */
	char *why;
};

/* restore --inherit-fd fd[N]:KEY: restore's fd N stands for the files
 * of the image whose /proc link reads KEY, opened with N's access mode */
struct inherit_fd {
	int fd;
	int acc;		/* O_ACCMODE of fd */
	const char *key;	/* pipe:[INO], socket:[INO], a path */
	int moved;		/* where restore keeps it meanwhile */
};

struct verdict {
	bool all;		/* list every reason; false: print the first, stop */
	bool force;		/* restore --force: sizes and inodes may differ */
	bool live;		/* the tree runs (inspect): it is here, on this boot */
	bool shell_job;		/* --shell-job: a terminal outside the tree is the user's */
	const struct inherit_fd *inh;	/* fds restore is given: not checked */
	uint32_t nr_inh;
	struct verdict_reason *r;
	uint32_t n, cap;
};

/*
 * A reason to refuse, about process @pid.  Stopping at the first: prints
 * "pid N: <why>" and returns @err.  Listing all: records it and returns
 * 0 so that the check goes on (-ENOMEM if it cannot).
 */
int verdict_refuse(struct verdict *v, int err, pid_t pid, const char *what,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void verdict_free(struct verdict *v);

/* every check restore makes of the image's own content; 0 or the first -errno */
int verdict_check_image(const struct ckpt_image *img, struct verdict *v);
/* the image was written on this boot of this machine (inodes can be compared) */
bool verdict_same_boot(const struct ckpt_image *img);

/* the kinds' checks, called by verdict_check_image() */
int pstree_check_image(const struct ckpt_image *img, struct verdict *v);
int task_check_image(const struct ckpt_image *img, struct verdict *v);
int mm_check_image(const struct ckpt_image *img, struct verdict *v);
/* mm_gone.c: a MAP_SHARED VMA of a memfd or deleted file can be made again */
int mm_gone_check(struct verdict *vd, const struct ckpt_image *img,
		  const struct img_proc *p, const struct m_vma *mv);
/* every byte of @size of inode @dev/@ino is in some MAP_SHARED VMA of it */
bool mm_gone_covers(const struct ckpt_image *img, uint64_t dev, uint64_t ino,
		    uint64_t size);
int files_check_image(const struct ckpt_image *img, struct verdict *v);
int ipc_check_image(const struct ckpt_image *img, struct verdict *v);

#endif
