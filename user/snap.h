/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a snap holds between collection and writing.  Data flows one way:
 * collect (BPF records, ptrace) -> snap_* structs -> image records.
 */
#ifndef BPFCKPT_SNAP_H
#define BPFCKPT_SNAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "arch.h"
#include "collect.h"
#include "progress.h"
#include "pstree.h"
#include "util.h"
#include "bpfckpt/files.h"
#include "bpfckpt/locks.h"
#include "bpfckpt/mm.h"
#include "bpfckpt/ns.h"
#include "bpfckpt/task.h"

struct img_writer;
struct snap_ipc;

#define TASK_PATH_EXE	0
#define TASK_PATH_CWD	1
#define TASK_PATH_ROOT	2

struct snap_thread {
	pid_t tid;
	struct rec_task *rec;		/* from iter/task */
	uint8_t regs[ARCH_REGS_SIZE];
	uint8_t *xstate;
	uint32_t xstate_len;
	struct img_siginfo *sigs;	/* this thread's queue */
	uint32_t nr_sigs;
	uint32_t cap_sigs;
	struct img_thread_ext ext;	/* affinity, ioprio, seccomp mode */
	struct snap_filter *filters;	/* seccomp, oldest first */
};

struct snap_filter {
	struct img_seccomp s;
	void *insns;			/* s.nr_insns struct sock_filter */
};

struct snap_vma {
	struct img_vma v;		/* h.len and path_len set at write */
	char *path;
	/* IMG_VMA_PRIVATE_GONE, the first of its inode: the file's content */
	struct img_filedata fdata;	/* h.type 0: none */
	uint8_t *data;
};

/* the record an fd kind writes after the fd's IMG_FD (user/fd/) */
union fd_ext {
	struct ckpt_hdr h;		/* h.type 0: none */
	struct img_pipe pipe;
	struct img_unix sk;
	struct img_eventfd efd;
	struct img_timerfd tfd;
	struct img_signalfd sfd;
	struct img_epoll ep;
	struct img_filedata fd;
	struct img_inotify ino;
	struct img_fanotify fan;
	struct img_tty tty;
	struct img_inet in;
};

/* pages to store: runs of whole pages */
struct page_range {
	uint64_t start;
	uint64_t end;
	bool force;		/* not readable: go through /proc/PID/mem */
};

struct range_list {
	struct page_range *r;
	uint32_t n;
	uint32_t cap;
	uint64_t pages;
};

struct snap_fd {
	struct img_fd f;
	char *path;
	uint64_t kfile;			/* struct file address */
	union fd_ext x;
	uint8_t *data;			/* the kind's trailing bytes, if any */
	uint32_t data_len;
};

/* an inode whose content is in the image already (a pipe's bytes) */
struct snap_obj {
	uint64_t dev, ino;
};

struct snap_objs {
	struct snap_obj *v;
	uint32_t n, cap;
};

/*
 * true if inode @dev/@ino is in @s; else it is put there (*err: -ENOMEM
 * if it cannot be)
 */
static inline bool snap_obj_seen(struct snap_objs *s, uint64_t dev, uint64_t ino,
				 int *err)
{
	struct snap_obj o = { dev, ino };
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].dev == dev && s->v[i].ino == ino)
			return true;
	*err = vec_push(s->v, s->n, s->cap, o);
	return false;
}

/* a range of a memfd or deleted file whose pages are stored (mm.c) */
struct snap_span {
	uint64_t dev, ino;
	uint64_t start, end;	/* file offsets */
};

struct snap_proc {
	struct ps_proc *ps;
	pid_t pid;
	bool zombie;
	struct snap_thread *threads;	/* leader first */
	uint32_t nr_threads;
	uint32_t cap_threads;
	char *paths[3];			/* TASK_PATH_* */
	struct rec_timer *timers;
	uint32_t nr_timers;
	uint32_t cap_timers;
	struct img_siginfo *sigs;	/* the process's shared queue */
	uint32_t nr_sigs;
	uint32_t cap_sigs;
	struct snap_vma *vmas;
	uint32_t nr_vmas;
	uint32_t cap_vmas;
	struct img_guard *guards;	/* MADV_GUARD_INSTALL regions */
	uint32_t nr_guards;
	uint32_t cap_guards;
	struct snap_fd *fds;
	uint32_t nr_fds;
	uint32_t cap_fds;
	struct img_lock *locks;		/* file locks it holds (locks.c) */
	uint32_t nr_locks;
	uint32_t cap_locks;
	bool thp_disabled;
	uint32_t coredump_filter;
	struct img_proc_ext ext;	/* membarrier, loginuid, keyring */
	struct img_ns ns;		/* its pid and mount namespaces (ns.c) */
	char *ns_mounts;		/* ns.mounts_len bytes: the mounts restore keeps */
	uint64_t nr_pages;		/* written to the image */
	uint64_t nr_cow_pages;		/* shared with the parent, not written */
};

/* CLOCK_MONOTONIC ns at each step, for the summary and -v */
struct snap_stats {
	uint64_t start_ns;		/* command started */
	uint64_t freeze_start_ns;	/* before the first seize */
	uint64_t frozen_ns;		/* every thread stopped */
	uint64_t collected_ns;		/* BPF records and registers in */
	uint64_t commit_start_ns;	/* everything written but the tail */
	uint64_t committed_ns;		/* fsynced and renamed */
	uint64_t freeze_end_ns;		/* after the last detach (or kill) */
	uint64_t end_ns;
	uint64_t mem_ns;		/* spent copying pages (mm_write) */
	/* frozen phases that may grow with memory (snap -v prints them) */
	uint64_t written_ns;		/* finding the pages written (--parent) */
	uint64_t find_ns;		/* finding the pages to store (mm_write) */
	uint64_t filter_ns;		/* splitting them from the inherited ones */
	uint64_t cow_ns;		/* finding those shared copy-on-write */
	uint64_t round_frozen_ns;	/* the freezes of the --dirty-max rounds */
	uint64_t pages;
	uint64_t threads;
	uint64_t inherited;		/* pages left to the parent (--parent) */
};

struct snap_ctx {
	pid_t root;
	const char *out;
	bool kill;
	const char *serve;		/* --serve ADDR:PORT */
	struct pgs_server *srv;		/* pgsrv.c */
	bool shell_job;			/* --shell-job: the user's terminal is taken */
	uint64_t file_max;		/* --file-max: content saved up to this */
	int zlevel;			/* --compress: zstd level, 0: off */
	bool pre;			/* --pre: track writes, copy while running */
	const char *parent;		/* --parent IMAGE */
	uint64_t dirty_max;		/* --dirty-max: more written runs a round first */
	uint64_t kept_id;		/* --pre: the snap id its keeper answers for */
	uint32_t rounds;		/* pre-copy rounds --dirty-max ran first */
	struct pre_state *ps;		/* precopy.c, with --pre or --parent */
	struct collector col;
	struct pstree tree;
	struct snap_proc *procs;
	uint32_t nr_procs;
	uint32_t xstate_size;
	int landlock_word;		/* task_landlock_word(), -1: none */
	bool ready;			/* col and landlock_word set up already */
	uint64_t *kfiles;		/* file_id - 1 -> struct file address */
	uint32_t nr_kfiles;
	uint32_t cap_kfiles;
	struct snap_objs objs;		/* inodes an fd kind met (snap_obj_seen) */
	struct snap_ipc *ipc;		/* SysV objects (ipc.c) */
	struct snap_span *spans;	/* shared memfd/deleted ranges stored */
	uint32_t nr_spans, cap_spans;
	struct snap_objs privs;		/* privately mapped ones whose content is read */
	struct snap_inet *inet;		/* TCP in repair mode (fd/inet.c) */
	struct img_writer *w;
	bool reported;		/* a module printed the write error */
	struct snap_stats st;
	bool quiet;		/* --quiet: no progress, no summary */
	bool json;		/* --json: the summary as JSON */
	struct progress prog;	/* pages written (mm.c) */
};

/* task.c: threads, creds, signals, timers of one process */
int task_collect(struct snap_ctx *ctx, struct snap_proc *sp);
/*
 * exe, cwd and root of process @pid into @paths (TASK_PATH_*), from
 * /proc/PID/{exe,cwd,root} checked against the inodes in @r (bpf_d_path
 * cannot take them: see bpf/task.bpf.c).  -EIO with the reason in @why.
 */
int task_read_paths(pid_t pid, const struct rec_task *r, char *paths[3],
		    char *why, size_t len);
/*
 * Which word of rec_task.cred_blob holds Landlock's domain pointer: the
 * one set in a process this function puts in a Landlock domain and
 * clear in its twin outside one.  -1 if the kernel has no Landlock (or
 * the word is not found, which it says).
 */
int task_landlock_word(struct collector *c);
/* -ENOTSUP with the reason if thread @r is in a Landlock domain */
int task_check_landlock(const struct rec_task *r, int word, char *why, size_t len);
/* the letter ps shows for a task's state: R, S, D, T, t, X, Z, P, I */
char task_state_char(const struct rec_task *r);
/* the same from task->__state and task->exit_state */
char task_state_letter(uint32_t state, uint32_t exit_state);

/*
 * What snap would do with a record, shared with inspect: 0, or
 * -ENOTSUP/-EIO with the reason in @why (no "pid N: " prefix).
 */
int task_check(const struct rec_task *r, char *why, size_t len);
/* a SEM_UNDO list that only a BPF program not loaded could read */
int task_check_sem_undo(const struct collector *c, const struct rec_task *r,
			char *why, size_t len);
/* image records as snap writes them, from iterator records alone */
void task_fill_proc(struct img_proc *p, const struct rec_task *r);
void task_fill_thread(struct img_thread *t, const struct rec_task *r);
void task_fill_timer(struct img_timer *t, const struct rec_timer *r);
/*
 * The POSIX timers of process @pid, appended to *t (collect_timers, or
 * /proc/PID/timers to learn there are none); -ENOTSUP with the reason
 * in @why for what a snap refuses.
 */
int task_collect_timers(struct collector *c, pid_t pid, struct rec_timer **t,
			uint32_t *n, uint32_t *cap, char *why, size_t len);
int task_write(struct snap_ctx *ctx, struct snap_proc *sp);
void task_free(struct snap_proc *sp);

/* mm.c: VMAs and page contents */
int mm_collect(struct snap_ctx *ctx, struct snap_proc *sp);
/*
 * The path of a file-backed VMA of process @pid: readlink of
 * /proc/PID/map_files/START-END, checked against the VMA's dev/ino
 * (bpf_d_path cannot take vma->vm_file: see bpf/mm.bpf.c).
 */
int mm_vma_path(pid_t pid, const struct rec_vma *r, char *buf, size_t size);
/*
 * The kind snap gives a VMA (0), 1 if snap leaves it out ([uprobes]),
 * or -ENOTSUP with the reason in @why; @path is the backing file's
 * (mm_vma_path, "" if none), @leader gives brk and stack.
 */
int mm_vma_kind(const struct rec_vma *r, const char *path,
		const struct rec_task *leader, uint32_t *kind, char *why, size_t len);
void mm_fill_vma(struct img_vma *v, const struct rec_vma *r, uint32_t kind);
/*
 * mm_gone.c: the seals of the memfd (or deleted tmpfs file) an
 * IMG_VMA_SHARED_GONE VMA of @pid maps, into v->seals: no fd of it
 * may be left, so they are read through /proc/PID/map_files
 */
int mm_gone_seals(pid_t pid, struct img_vma *v);
/*
 * Pages of @v resident now and the pages a snap would store, from the
 * page tables alone (PAGEMAP_SCAN on /proc/PID/pagemap); for shared
 * memory the resident ones stand in for what SEEK_DATA would find.
 */
int mm_count_pages(int pagemap, const struct img_vma *v, uint64_t *resident,
		   uint64_t *stored);
int mm_write(struct snap_ctx *ctx, struct snap_proc *sp);
void mm_free(struct snap_proc *sp);
/* vdso.c: this kernel's vdso as symbols, into the image (IMG_VDSO) */
int vdso_self(struct img_vdso *v, struct img_vdso_sym *syms);
int vdso_write(struct snap_ctx *ctx, struct snap_proc *sp);
/* mm.c: appends start..end to @l, merged with the last range if it touches */
int mm_add_range(struct range_list *l, uint64_t start, uint64_t end, bool force);
/* the present or swapped anonymous pages of [@start, @end) in @v to @l (PAGEMAP_SCAN) */
int mm_scan_private(int pagemap, const struct snap_vma *v, uint64_t start, uint64_t end,
		    struct range_list *l);
/*
 * mm_cow.c: takes out of @l the pages @sp shares copy-on-write with its
 * parent in the tree and writes them as IMG_COW ranges instead
 */
int mm_cow_write(struct snap_ctx *ctx, struct snap_proc *sp, struct range_list *l);
/* mm_guard.c: guard regions, found after the VMAs, written after them */
int mm_guard_collect(struct snap_ctx *ctx, struct snap_proc *sp);
int mm_guard_write(struct snap_ctx *ctx, struct snap_proc *sp);

/* files.c: file descriptors */
int files_collect(struct snap_ctx *ctx, struct snap_proc *sp);
/*
 * The path of fd r->fd of process @pid: bpf_d_path's if collect_file
 * gave one, else readlink of /proc/PID/fd/N checked against dev/ino.
 */
int files_fd_path(pid_t pid, const struct rec_file *r, char *buf, size_t size);
/* the kind snap gives an fd, or -ENOTSUP with the reason in @why */
int files_fd_kind(const struct rec_file *r, const char *path, uint32_t *kind,
		  char *why, size_t len);
void files_fill_fd(struct img_fd *f, const struct rec_file *r, uint32_t kind);
/* the kind's own record for the fd (union fd_ext), from @r alone */
int files_fill_ext(union fd_ext *x, uint8_t **data, uint32_t *len,
		   const struct rec_file *r, uint32_t kind);

int files_write(struct snap_ctx *ctx, struct snap_proc *sp);
void files_free(struct snap_proc *sp);

#endif
