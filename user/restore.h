/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Restore: the restorer (this process) creates the tree with clone3
 * set_tid; each new process first runs our own C code (sessions, fds,
 * children), then stops; the restorer seizes it and rebuilds memory,
 * threads and the rest by injecting syscalls (inject.h).
 *
 * This header holds the restore contexts and the kinds' entry points:
 * it sits below restore.c (the command, which only orchestrates) and the
 * kinds (pstree.c, files.c, mm.c, task.c, user/fd/), and no kind calls
 * into restore.c.
 */
#ifndef BPFCKPT_RESTORE_H
#define BPFCKPT_RESTORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "progress.h"
#include "arch.h"
#include "model.h"
#include "verdict.h"

/* ---- state shared with the new processes (MAP_SHARED memory) ---- */

enum rst_state {
	RST_NONE,
	RST_CREATED,	/* exists with its fds and children */
	RST_READY,	/* waiting to be seized */
	RST_EXITED,	/* a zombie: exited as it should */
	RST_FAILED,
};

struct rst_slot {
	_Atomic uint32_t state;
	int32_t err;		/* -errno */
	char msg[224];		/* the step that failed */
};

struct rst_shared {
	_Atomic uint32_t phase;		/* the restorer moves everyone on */
	_Atomic uint32_t done;		/* bumped by every state change */
	_Atomic uint64_t pages_done;	/* pages copied, for the progress line */
	struct rst_slot slots[];
};

#define RST_PHASE_CREATE	0	/* make processes, fds, children */
#define RST_PHASE_GROUPS	1	/* join process groups, zombies exit */

/* ---- the restorer's view ---- */

enum {
	RST_COPY_INJECT,
	RST_COPY_MEMCPY,
	RST_COPY_POPULATE,
};
#define RST_COPY_DEFAULT	RST_COPY_POPULATE	/* make bench: the fastest */

struct rst_proc {
	struct m_proc *mp;
	pid_t pid;
	bool zombie;
	bool seized;
	pid_t *tids;		/* [i]: thread i of mp->threads, 0 until made */
	uint8_t (*tmpl)[ARCH_REGS_SIZE];	/* per thread, for injection */
	int32_t *children;	/* indices into procs[] */
	uint32_t nr_children;
	uint32_t cap_children;
	uint64_t kept_start;	/* a range restore placed for good (vdso proxy) */
	uint64_t kept_end;
	uint64_t *slots;	/* per VMA: its premapped place, 0: none (mm_cow.c) */
	uint64_t *fids;		/* file ids this process's subtree holds */
	uint32_t nr_fids;
	uint32_t cap_fids;
};

struct shm_owner {
	uint64_t dev, ino;
	pid_t pid;
	uint64_t start, end, pgoff;
};

/*
 * A memfd or deleted file that some VMA maps MAP_SHARED (mm_gone.c):
 * made by the restorer before the tree, which maps it (and opens it as
 * an fd) through @link
 */
struct gone_ofd {
	uint32_t file_id;	/* the image's open file */
	int fd;			/* the restorer's, opened by name as it was */
};

struct gone_obj {
	uint64_t dev, ino;
	int fd;			/* the restorer's */
	pid_t pid;		/* the restorer */
	uint32_t seals_late;	/* added once every VMA is mapped (mm_gone.c) */
	char link[48];		/* /proc/RESTORER/fd/FD */
	/*
	 * a deleted file's open files, each opened by its name before it
	 * went, with its flags (O_NOFOLLOW too, which no reopening through
	 * /proc keeps); the new processes take them with pidfd_getfd()
	 */
	struct gone_ofd *ofds;
	uint32_t nr_ofds, cap_ofds;
};

/* a SysV object the restore made (ipc.c), removed if it fails */
struct ipc_made {
	int kind;
	int id;
};

struct restore_ctx {
	const char *path;
	bool lazy, detach, force;
	bool shell_job;		/* --shell-job: the job gets our terminal, session, group */
	char shell_tty[64];	/* that terminal (tty.c) */
	struct ckpt_image img;
	struct rst_proc *procs;
	uint32_t nr_procs;
	struct rst_shared *sh;
	size_t sh_len;
	uint64_t stub;		/* injection page, same address everywhere */
	uint64_t premap_base;	/* window of the premapped VMAs (mm_cow.c) */
	uint64_t premap_len;
	uint32_t copy;		/* RST_COPY_*: how private pages come in */
	int fd_base;		/* fds >= this carry files down the tree */
	int fd_top;		/* above the carriers: free for scratch fds */
	struct inherit_fd *inh;	/* --inherit-fd */
	uint32_t nr_inh, cap_inh;
	struct shm_owner *shm;
	uint32_t nr_shm, cap_shm;
	struct gone_obj *gone;	/* mm_gone.c */
	uint32_t nr_gone, cap_gone;
	struct ipc_made *ipc_made;
	uint32_t nr_ipc_made, cap_ipc_made;
	bool ipc_keep;		/* the restore succeeded: the objects stay */
	uint32_t root_levels;	/* > 1: the root is a pid namespace's init (ns.c) */
	uint64_t t_start, t_created, t_done;
	uint64_t t[7];		/* phase starts, for -v (cmd_restore) */
	struct pager *pager;	/* restore --lazy: lazy.c */
	const char *from;	/* --from ADDR:PORT */
	struct pgc *remote;	/* its image (pgfetch.c) */
	struct sum_check *sum;	/* restore --lazy: the image's checksum, meanwhile */
	bool quiet, json;	/* --quiet, --json */
	struct progress prog;	/* sh->pages_done, drawn by the restorer */
};

/* pstree.c: the new processes' own code (runs in the child) */
void pstree_restore_child(struct restore_ctx *ctx, uint32_t idx)
	__attribute__((noreturn));
pid_t pstree_clone(struct restore_ctx *ctx, uint32_t idx);

/* files.c */
/* every --inherit-fd stands for some fd of the image (it says which not) */
int files_check_inherit(const struct restore_ctx *ctx);
/* fd numbers and the files each subtree carries down (after the checks) */
int files_restore_plan(struct restore_ctx *ctx);
int files_restore_child(struct restore_ctx *ctx, uint32_t idx);
int files_restore_finish(struct restore_ctx *ctx, uint32_t idx);
void files_restore_late(struct restore_ctx *ctx, uint32_t idx);

/* fd/tty.c: --shell-job's terminal (before anything exists), its termios (last) */
int tty_restore_plan(struct restore_ctx *ctx);
int tty_restore_shell(struct restore_ctx *ctx);

/* mm.c */
/* the stub's address: free in this process and in every target */
int mm_pick_stub(struct restore_ctx *ctx);
int mm_restore(struct restore_ctx *ctx, struct rst_proc *rp);
/* a range of @len free in this process, in every target and off the stub */
int mm_find_gap(struct restore_ctx *ctx, uint64_t len, uint64_t *at);
/*
 * mm_cow.c: memory shared copy-on-write comes back shared.  The plan
 * (slots of the VMAs involved, in the restorer, before the tree exists),
 * then each helper fills its slots before it forks its children, then
 * mm_restore() moves them into place.
 */
int mm_premap_plan(struct restore_ctx *ctx);
void mm_premap_free(struct restore_ctx *ctx);
int mm_premap_child(struct restore_ctx *ctx, uint32_t idx);
bool mm_premapped(const struct rst_proc *rp, uint32_t vi);
bool mm_is_slot(const struct rst_proc *rp, uint64_t start);
int mm_premap_move(struct restore_ctx *ctx, struct rst_proc *rp);
/*
 * vdso.c: 0 if this kernel's vdso has the image's functions where the
 * image had them, 1 if they moved (@what says how), -errno if one is
 * missing (@what names it)
 */
int vdso_compare(const struct m_proc *mp, char *what, size_t len);
/* trampolines at @at to the functions of this kernel's vdso at @base */
int vdso_proxy(struct restore_ctx *ctx, struct rst_proc *rp, uint64_t at,
	       uint64_t base);
/*
 * mm_gone.c: memfds and deleted files mapped MAP_SHARED are made again
 * by the restorer, filled with the pages every process stored of them
 * (and an fd's saved content), before the tree exists; every VMA and
 * every fd on one maps or opens that one object.
 */
int mm_gone_make(struct restore_ctx *ctx);
/* the object made for inode @dev/@ino, NULL: none */
const struct gone_obj *mm_gone_find(const struct restore_ctx *ctx, uint64_t dev,
				    uint64_t ino);
/*
 * The seals that wait until every VMA is mapped: F_SEAL_FUTURE_WRITE
 * forbids writable shared mappings made after it
 */
int mm_gone_seal(struct restore_ctx *ctx);
void mm_gone_free(struct restore_ctx *ctx);
/* mm_guard.c: the guard regions, once the pages are in */
int mm_guard_restore(struct restore_ctx *ctx, struct rst_proc *rp);

/* task.c */
int task_restore_threads(struct restore_ctx *ctx, struct rst_proc *rp);
int task_restore_state(struct restore_ctx *ctx, struct rst_proc *rp);
int task_restore_finish(struct restore_ctx *ctx, struct rst_proc *rp);

#endif
