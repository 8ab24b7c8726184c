/* SPDX-License-Identifier: GPL-2.0 */
/* SysV IPC objects and the tree's IPC and UTS namespaces (ipc.c) */
#ifndef BPFCKPT_USER_IPC_H
#define BPFCKPT_USER_IPC_H

#include "restore.h"
#include "snap.h"
#include "verdict.h"

/* snap: the objects of the tree's IPC namespace, read while it is frozen */
int ipc_collect(struct snap_ctx *ctx);
/* right after the header, before the first process */
int ipc_write(struct snap_ctx *ctx);
/* among @sp's records: its SEM_UNDO adjustments (IMG_SEM_UNDO) */
int ipc_write_proc(struct snap_ctx *ctx, struct snap_proc *sp);
void ipc_free(struct snap_ctx *ctx);

/*
 * inspect: reads the SEM_UNDO lists of @pids (processes of the tree of
 * @root that have one) as snap does and puts them through restore's
 * checks; what snap refuses goes to @snap_v, what restore does to @v
 */
int ipc_check_live_undo(struct collector *col, pid_t root, const pid_t *pids,
			uint32_t n, struct verdict *snap_v, struct verdict *v);

/* restore, in the restorer before the tree exists: new namespaces */
int ipc_restore_ns(struct restore_ctx *ctx);
/* every object with its id (after the checks of all of them) */
int ipc_restore_objects(struct restore_ctx *ctx);
/* in @rp, seized: its SEM_UNDO adjustments (after the objects are made) */
int ipc_restore_undo(struct restore_ctx *ctx, struct rst_proc *rp);
/* after every process attached its segments: IPC_RMID the removed ones */
int ipc_restore_finish(struct restore_ctx *ctx);
/* unless finished: removes the objects made */
void ipc_restore_free(struct restore_ctx *ctx);

#endif
