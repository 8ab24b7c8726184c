/* SPDX-License-Identifier: GPL-2.0 */
/* The pid and mount namespaces of the tree (ns.c) */
#ifndef BPFCKPT_USER_NS_H
#define BPFCKPT_USER_NS_H

#include "restore.h"
#include "snap.h"
#include "verdict.h"

/* a live process, for the checks snap and inspect share */
struct ns_task {
	pid_t pid;
	bool zombie;
	bool init;		/* pid 1 of a pid namespace below the snapper's */
	int32_t parent;		/* index, -1: outside the tree */
	struct img_ns ns;	/* what restore does for it (ns_check_live) */
	char *mounts;		/* its IMG_NS lines (ns.mounts_len bytes) */
};
void ns_free_tasks(struct ns_task *t, uint32_t n);

/* each process's IMG_NS, or refusals naming the cause into @v */
int ns_check_live(struct ns_task *t, uint32_t n, struct verdict *v);
/* snap: ns_check_live() on the frozen tree, first refusal an error */
int ns_collect(struct snap_ctx *ctx);
int ns_write(struct snap_ctx *ctx, struct snap_proc *sp);

/* the image's root is the init of a pid namespace of its own */
bool ns_is_container(const struct ckpt_image *img);
/* process @i's pid namespace can be made again (verdict) */
int ns_check_proc(const struct ckpt_image *img, uint32_t i, struct verdict *v);

/* restore: clone3 flags and set_tid (deepest first; returns the count) */
uint64_t ns_clone_flags(const struct restore_ctx *ctx, uint32_t idx);
uint32_t ns_set_tid(const struct restore_ctx *ctx, const __s32 *ids,
		    uint32_t levels, pid_t *set_tid);
/* a container's processes: their pids in the restorer's namespace */
int ns_resolve_pids(struct restore_ctx *ctx);
/* in the new process: before its fds and children, and after its children */
void ns_restore_child(struct restore_ctx *ctx, uint32_t idx);
void ns_restore_child_late(struct restore_ctx *ctx, uint32_t idx);

#endif
