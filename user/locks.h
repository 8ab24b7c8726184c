/* SPDX-License-Identifier: GPL-2.0 */
/* File locks (locks.c): snap from fdinfo, restore by injection. */
#ifndef BPFCKPT_USER_LOCKS_H
#define BPFCKPT_USER_LOCKS_H

#include <stddef.h>
#include "bpfckpt/locks.h"
#include "restore.h"
#include "snap.h"

/* "flock", "posix", "ofd" */
const char *locks_kind_name(uint32_t kind);
/*
 * One lock of an fdinfo "lock:" line (after the tab) into @l: 1, 0 for
 * one that is no lock to keep, -ENOTSUP/-EPROTO with the reason in @why
 */
int locks_parse_line(const char *line, struct img_lock *l, char *why, size_t len);
/* inspect: -ENOTSUP with @why if fd @fd of @pid holds a lock snap refuses */
int locks_check_fd(pid_t pid, int fd, char *why, size_t len);
/* snap: the locks of every fd of @sp (after files_collect) */
int locks_collect(struct snap_ctx *ctx, struct snap_proc *sp);
int locks_write(struct snap_ctx *ctx, struct snap_proc *sp);
void locks_free(struct snap_proc *sp);
/* restore: @rp takes its locks again, once its memory is back */
int locks_restore(struct restore_ctx *ctx, struct rst_proc *rp);

#endif
