/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process tree under snap: discovery through iter/task, freezing
 * with PTRACE_SEIZE + PTRACE_INTERRUPT, then resume or kill.
 */
#ifndef BPFCKPT_PSTREE_H
#define BPFCKPT_PSTREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct collector;

struct ps_thread {
	pid_t tid;
	bool seized;
	int stop_sig;		/* WSTOPSIG of the PTRACE_EVENT_STOP */
};

struct ps_proc {
	pid_t pid;		/* in our pid namespace */
	pid_t ppid;
	bool zombie;		/* exited, not reaped: nothing to freeze */
	bool kthread;		/* a kernel thread (set by pstree_scan) */
	struct ps_thread *threads;	/* leader first */
	uint32_t nr_threads;
	uint32_t cap_threads;
};

struct pstree {
	pid_t root;
	struct ps_proc *procs;	/* root first, every parent before its children */
	uint32_t nr_procs;
	uint32_t cap_procs;
};

/*
 * Both list the tasks with @c's list_tasks, or from /proc where @c is
 * NULL or has no list_tasks loaded.
 *
 * Freezes @root and all its descendants, looping until no new task
 * appears.  On failure prints the reason, resumes whatever it froze and
 * returns -errno.
 */
int pstree_freeze(struct collector *c, pid_t root, struct pstree *t);
/*
 * Lists @root, its descendants and their threads as they are now,
 * without stopping anything (inspect, trace, top).  Prints why not.
 */
int pstree_scan(struct collector *c, pid_t root, struct pstree *t);
/*
 * Whether the kernel's ptrace access check lets us trace @pid, probed
 * without touching it; if not, @why says why (snap and inspect).
 */
bool pstree_may_trace(pid_t pid, char *why, size_t len);
/* detaches every frozen thread: the tree runs on */
void pstree_thaw(struct pstree *t);
/*
 * Kills the frozen tree and waits until every pid of it is gone from
 * /proc (pid 1 may take a while to reap orphans); -ETIMEDOUT otherwise.
 */
int pstree_kill(struct pstree *t, int timeout_ms);
void pstree_free(struct pstree *t);
struct ps_proc *pstree_find(struct pstree *t, pid_t pid);

#endif
