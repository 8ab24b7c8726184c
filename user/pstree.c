// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include "collect.h"
#include "log.h"
#include "pstree.h"
#include "inject.h"
#include "ns.h"
#include "restore.h"
#include "util.h"
#include "verdict.h"
#include "bpfckpt/task.h"

#define PF_KTHREAD	0x00200000
#define FREEZE_ROUNDS	64
#define STOP_TIMEOUT_MS	5000	/* a seized thread stops in microseconds */

struct task_list {
	struct rec_pid *t;
	uint32_t n;
	uint32_t cap;
};

static int list_cb(void *ctx, const struct rec_hdr *h, size_t size)
{
	struct task_list *l = ctx;

	if (h->type != REC_PID || size < sizeof(struct rec_pid))
		return 0;
	return vec_push(l->t, l->n, l->cap, *(const struct rec_pid *)h);
}

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* one task from /proc/TGID/task/TID/stat: ppid is field 4, flags 9 */
static int list_proc_task(struct task_list *l, pid_t tgid, pid_t tid)
{
	char path[64], buf[1024], *s, state;
	struct rec_pid r = { .tid = tid, .tgid = tgid };
	unsigned int flags;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;	/* gone meanwhile */
	/* comm may hold anything, ')' included: the last one ends it */
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 1, " %c %d %*d %*d %*d %*d %u", &state, &ppid, &flags) != 3)
		return -EIO;
	r.ppid = ppid;
	r.pf_flags = flags;
	r.exit_state = state == 'Z' ? 0x20 : state == 'X' ? 0x10 : 0;
	return vec_push(l->t, l->n, l->cap, r);
}

/*
 * The listing list_tasks gives, from /proc: for trace and top, which
 * load no collector, and for snap when list_tasks is not loaded.
 */
static int list_proc(struct task_list *l)
{
	struct dirent *e, *te;
	char path[64];
	DIR *d, *td;
	int ret = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while (!ret && (e = readdir(d))) {
		if (!is_pid_name(e->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", atoi(e->d_name));
		td = opendir(path);
		if (!td)
			continue;
		while (!ret && (te = readdir(td)))
			if (is_pid_name(te->d_name))
				ret = list_proc_task(l, atoi(e->d_name), atoi(te->d_name));
		closedir(td);
	}
	closedir(d);
	return ret;
}

static int list_tasks(struct collector *c, struct task_list *l)
{
	int ret = collect_all_tasks(c, list_cb, l);

	return ret == -ENOTSUP ? list_proc(l) : ret;
}

struct ps_proc *pstree_find(struct pstree *t, pid_t pid)
{
	uint32_t i;

	for (i = 0; i < t->nr_procs; i++)
		if (t->procs[i].pid == pid)
			return &t->procs[i];
	return NULL;
}

static struct ps_thread *find_thread(struct ps_proc *p, pid_t tid)
{
	uint32_t i;

	for (i = 0; i < p->nr_threads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	return NULL;
}

static int add_proc(struct pstree *t, pid_t pid, pid_t ppid)
{
	struct ps_proc p = { .pid = pid, .ppid = ppid };

	return vec_push(t->procs, t->nr_procs, t->cap_procs, p);
}

/*
 * Adds every process whose parent is already in the tree, in an order
 * where parents come first.  Returns the number of processes added.
 */
static int grow_tree(struct pstree *t, struct task_list *l)
{
	uint32_t i;
	int added = 0, ret;
	bool more = true;

	while (more) {
		more = false;
		for (i = 0; i < l->n; i++) {
			struct rec_pid *r = &l->t[i];

			if (r->tid != r->tgid || pstree_find(t, r->tgid) ||
			    !pstree_find(t, r->ppid))
				continue;
			ret = add_proc(t, r->tgid, r->ppid);
			if (ret)
				return ret;
			added++;
			more = true;
		}
	}
	return added;
}

/* CAP_SYS_PTRACE in our effective set (/proc/self/status CapEff) */
static bool has_cap_ptrace(void)
{
	char buf[2048], *p;
	unsigned long long eff;

	if (read_file("/proc/self/status", buf, sizeof(buf)) <= 0 ||
	    !(p = strstr(buf, "CapEff:")) || sscanf(p + 7, "%llx", &eff) != 1)
		return false;
	return eff & (1ULL << CAP_SYS_PTRACE);
}

/*
 * Why the kernel's ptrace access check (ptrace_may_access(),
 * kernel/ptrace.c) refuses @pid to us: PTRACE_SEIZE then fails with
 * EPERM, readlink of /proc/PID/exe with EACCES.  Without CAP_SYS_PTRACE
 * a process of other credentials or not dumpable is refused; with it,
 * only a security module or a user namespace we hold no capability in.
 */
static const char *access_refusal(void)
{
	return has_cap_ptrace() ?
		"the kernel's ptrace access check refuses it although bpfckpt has "
		"CAP_SYS_PTRACE (a security module, or a user namespace bpfckpt has "
		"no capabilities in)" :
		"the kernel's ptrace access check refuses it: bpfckpt lacks "
		"CAP_SYS_PTRACE, and the process has other credentials or is not dumpable";
}

bool pstree_may_trace(pid_t pid, char *why, size_t len)
{
	char c;
	struct iovec local = { &c, 1 }, remote = { NULL, 1 };

	/*
	 * process_vm_readv checks PTRACE_MODE_ATTACH_REALCREDS first, as
	 * PTRACE_SEIZE does (mm_access(), mm/process_vm_access.c), and
	 * fails with EPERM there; past it, address 0 gives EFAULT.  Nothing
	 * is read and the process does not notice.
	 */
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) >= 0 || errno != EPERM)
		return true;
	snprintf(why, len, "may not be traced: %s", access_refusal());
	return false;
}

/*
 * @root is not in the BPF listing: gone, or there and refused to us (a
 * pid that exists must not read "no such process").
 */
static void root_missing_error(pid_t root)
{
	char path[64], exe[256];

	snprintf(path, sizeof(path), "/proc/%d", root);
	if (access(path, F_OK)) {
		pr_err("pid %d: no such process", root);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", root);
	if (readlink(path, exe, sizeof(exe)) < 0 && (errno == EACCES || errno == EPERM))
		pr_err("pid %d exists, but bpfckpt may not access it (readlink %s: %s): %s",
		       root, path, strerror(errno), access_refusal());
	else
		pr_err("pid %d exists (/proc/%d), but the kernel's task iterator does not "
		       "list it: not a task bpfckpt can see", root, root);
}

/* starts the tree with @root, found in the listing; prints why not */
static int add_root(struct pstree *t, struct task_list *l, pid_t root)
{
	uint32_t i;

	for (i = 0; i < l->n && l->t[i].tid != root; i++)
		;
	if (i == l->n) {
		root_missing_error(root);
		return -ESRCH;
	}
	if (l->t[i].tgid != root) {
		pr_err("pid %d: is a thread, not a process: give its thread group id", root);
		return -ESRCH;
	}
	if (add_proc(t, root, l->t[i].ppid)) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

/*
 * waitpid(@tid) that gives up at @deadline with -ETIMEDOUT.  A thread in
 * a killable-only sleep never takes the interrupt: a vfork() parent
 * waits for its child's exec or exit in TASK_KILLABLE (kernel_clone ->
 * wait_for_vfork_done), and a plain waitpid would wait with it.
 */
static int wait_tid_until(pid_t tid, int *st, uint64_t deadline)
{
	struct timespec ts = { 0, 20 * 1000 };
	pid_t r;

	for (;;) {
		r = waitpid(tid, st, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 10 * 1000 * 1000)
			ts.tv_nsec *= 2;
	}
}

/* waits for the stop PTRACE_INTERRUPT asked for */
static int wait_stop(pid_t tid, int *stop_sig)
{
	uint64_t deadline = now_ns() + STOP_TIMEOUT_MS * 1000000ULL;
	int st, sig, ret;

	for (;;) {
		ret = wait_tid_until(tid, &st, deadline);
		if (ret)
			return ret;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if ((st >> 16) == PTRACE_EVENT_STOP) {
			*stop_sig = sig;
			return 0;
		}
		/*
		 * A signal-delivery-stop came first: hand the signal back so
		 * the program sees it as if we were not there; the pending
		 * interrupt then stops it.
		 */
		if (ptrace(PTRACE_CONT, tid, 0, (st >> 16) ? 0 : sig) && errno != ESRCH)
			return -errno;
	}
}

static int seize(struct ps_thread *th)
{
	int ret;

	if (ptrace(PTRACE_SEIZE, th->tid, 0, 0))
		return -errno;
	th->seized = true;
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0))
		return -errno;
	ret = wait_stop(th->tid, &th->stop_sig);
	if (ret == -ESRCH)
		th->seized = false;	/* it is gone: nothing to detach */
	return ret;
}

/* why thread @tid did not stop: its state and where it sleeps */
static void stop_timeout_error(pid_t pid, pid_t tid)
{
	char path[64], wchan[64] = "?";
	char state = proc_state(tid) ?: '?';

	snprintf(path, sizeof(path), "/proc/%d/wchan", tid);
	if (read_file(path, wchan, sizeof(wchan)) <= 0)
		strcpy(wchan, "?");
	if (!strcmp(wchan, "kernel_clone"))
		pr_err("pid %d: thread %d is in vfork(), waiting for its child to exec "
		       "or exit, and cannot be frozen until then: not supported",
		       pid, tid);
	else
		pr_err("pid %d: thread %d did not stop within %d s (state %c, in %s)",
		       pid, tid, STOP_TIMEOUT_MS / 1000, state, wchan);
}

static void seize_error(pid_t pid, pid_t tid, int err)
{
	char path[64], buf[512], *tp;

	if (err == -EPERM) {
		snprintf(path, sizeof(path), "/proc/%d/status", tid);
		if (read_file(path, buf, sizeof(buf)) > 0 &&
		    (tp = strstr(buf, "TracerPid:")) && atoi(tp + 10) > 0) {
			pr_err("pid %d: thread %d is already traced by pid %d",
			       pid, tid, atoi(tp + 10));
			return;
		}
		pr_err("pid %d: freezing thread %d: PTRACE_SEIZE: %s: %s", pid, tid,
		       errstr(err), access_refusal());
		return;
	}
	if (err == -ETIMEDOUT)
		stop_timeout_error(pid, tid);
	else if (err == -ESRCH)
		pr_err("pid %d: thread %d exited while the tree was frozen", pid, tid);
	else
		pr_err("pid %d: freezing thread %d: %s", pid, tid, errstr(err));
}

/* a listed task is a live thread of @p; a zombie leader marks @p a zombie */
static bool live_thread(struct ps_proc *p, const struct rec_pid *r)
{
	if (!r->exit_state)
		return true;
	/* a zombie has nothing left to freeze or save but its status */
	if (r->tid == r->tgid)
		p->zombie = true;
	return false;
}

/* seizes every thread of the tree not yet seized; returns how many */
static int freeze_round(struct pstree *t, struct task_list *l)
{
	uint32_t i;
	int n = 0, ret;

	for (i = 0; i < l->n; i++) {
		struct rec_pid *r = &l->t[i];
		struct ps_thread th = { .tid = r->tid };
		struct ps_proc *p = pstree_find(t, r->tgid);

		if (!p || find_thread(p, r->tid))
			continue;
		if (r->pf_flags & PF_KTHREAD) {
			pr_err("pid %d is a kernel thread", r->tgid);
			return -EPERM;
		}
		if (!live_thread(p, r))
			continue;
		ret = vec_push(p->threads, p->nr_threads, p->cap_threads, th);
		if (ret)
			return ret;
		ret = seize(&p->threads[p->nr_threads - 1]);
		/*
		 * PTRACE_SEIZE says EPERM, not ESRCH, for a task that exited
		 * after it was listed (ptrace_attach refuses any task with
		 * exit_state set): it is a zombie now, or gone.
		 */
		if (ret == -EPERM && !p->threads[p->nr_threads - 1].seized &&
		    proc_exited(r->tid))
			ret = -ESRCH;
		if (ret == -ESRCH) {
			/* it exited before it could be frozen: not part of the
			 * snapshot; list again to see what became of it */
			p->nr_threads--;
			n++;
			continue;
		}
		if (ret) {
			seize_error(p->pid, r->tid, ret);
			return ret;
		}
		n++;
	}
	return n;
}

/* the leader first: ptrace and the image both expect it there */
static void leader_first(struct ps_proc *p)
{
	struct ps_thread tmp;
	uint32_t i;

	for (i = 1; i < p->nr_threads; i++) {
		if (p->threads[i].tid != p->pid)
			continue;
		tmp = p->threads[0];
		p->threads[0] = p->threads[i];
		p->threads[i] = tmp;
	}
}

/*
 * A child listed before its parent was frozen may be reaped by that
 * parent before the freeze reaches it: it is in the tree, as a zombie or
 * with no thread, and is missing from the last listing, which was taken
 * with every parent frozen.  It is not part of the snapshot.  One with
 * children of its own in the tree is left for the caller to refuse.
 * Parents are taken from the last listing first: a process that exited
 * before it was frozen (an orphan maker's fork, fork, exit) had its
 * children reparented to their reaper (an ancestor, so earlier in the
 * tree), and its stale link to them must not keep it in the tree as a
 * process without threads.
 */
static void drop_vanished(struct pstree *t, const struct task_list *l)
{
	struct ps_proc *p;
	uint32_t i, j;

	for (j = 0; j < l->n; j++)
		if (l->t[j].tid == l->t[j].tgid && l->t[j].ppid &&
		    l->t[j].tgid != t->root && pstree_find(t, l->t[j].ppid) &&
		    (p = pstree_find(t, l->t[j].tgid)))
			p->ppid = l->t[j].ppid;
	for (i = 1; i < t->nr_procs;) {
		bool keep = false;

		p = &t->procs[i];
		for (j = 0; j < l->n && !keep; j++)
			keep = l->t[j].tid == p->pid;
		for (j = i + 1; j < t->nr_procs && !keep; j++)
			keep = t->procs[j].ppid == p->pid;
		if (keep) {
			i++;
			continue;
		}
		free(p->threads);
		memmove(p, p + 1, (t->nr_procs - i - 1) * sizeof(*p));
		t->nr_procs--;
	}
}

int pstree_freeze(struct collector *c, pid_t root, struct pstree *t)
{
	struct task_list l = { 0 };
	char path[32], why[256];
	uint32_t i;
	int round, ret, n;

	memset(t, 0, sizeof(*t));
	t->root = root;
	snprintf(path, sizeof(path), "/proc/%d", root);
	if (access(path, F_OK)) {
		pr_err("pid %d: no such process", root);
		return -ESRCH;
	}
	if (!pstree_may_trace(root, why, sizeof(why))) {
		pr_err("pid %d: %s", root, why);
		return -EPERM;
	}
	for (round = 0; round < FREEZE_ROUNDS; round++) {
		l.n = 0;
		ret = list_tasks(c, &l);
		if (ret) {
			pr_err("listing tasks: %s", errstr(ret));
			goto err;
		}
		if (!t->nr_procs) {
			ret = add_root(t, &l, root);
			if (ret)
				goto err;
		}
		ret = grow_tree(t, &l);
		if (ret < 0)
			goto err_nomem;
		n = freeze_round(t, &l);
		if (n < 0) {
			ret = n;
			goto err;
		}
		if (n == 0)
			break;
	}
	if (round == FREEZE_ROUNDS) {
		pr_err("pid %d: the tree keeps growing faster than it can be frozen", root);
		ret = -EAGAIN;
		goto err;
	}
	drop_vanished(t, &l);
	if (!t->procs[0].nr_threads && !t->procs[0].zombie) {
		pr_err("pid %d exited while the tree was frozen", root);
		ret = -ESRCH;
		goto err;
	}
	for (i = 0; i < t->nr_procs; i++) {
		leader_first(&t->procs[i]);
		if (!t->procs[i].zombie && (!t->procs[i].nr_threads ||
					    t->procs[i].threads[0].tid != t->procs[i].pid)) {
			pr_err("pid %d: its main thread has exited while others run: "
			       "not supported", t->procs[i].pid);
			ret = -ENOTSUP;
			goto err;
		}
	}
	free(l.t);
	return 0;
err_nomem:
	pr_err("out of memory");
err:
	free(l.t);
	pstree_thaw(t);
	pstree_free(t);
	return ret;
}

/* threads of the listed processes, without stopping anything */
static int add_threads(struct pstree *t, struct task_list *l)
{
	uint32_t i;
	int ret;

	for (i = 0; i < l->n; i++) {
		struct rec_pid *r = &l->t[i];
		struct ps_thread th = { .tid = r->tid };
		struct ps_proc *p = pstree_find(t, r->tgid);

		if (!p)
			continue;
		if (r->pf_flags & PF_KTHREAD)
			p->kthread = true;
		if (!live_thread(p, r))
			continue;
		ret = vec_push(p->threads, p->nr_threads, p->cap_threads, th);
		if (ret)
			return ret;
	}
	for (i = 0; i < t->nr_procs; i++)
		leader_first(&t->procs[i]);
	return 0;
}

int pstree_scan(struct collector *c, pid_t root, struct pstree *t)
{
	struct task_list l = { 0 };
	int ret;

	memset(t, 0, sizeof(*t));
	t->root = root;
	ret = list_tasks(c, &l);
	if (ret) {
		pr_err("listing tasks: %s", errstr(ret));
		goto out;
	}
	ret = add_root(t, &l, root);
	if (ret)
		goto out;
	ret = grow_tree(t, &l);
	if (ret >= 0)
		ret = add_threads(t, &l);
	if (ret < 0)
		pr_err("out of memory");
out:
	free(l.t);
	if (ret < 0)
		pstree_free(t);
	return ret < 0 ? ret : 0;
}

void pstree_thaw(struct pstree *t)
{
	uint32_t i, j;

	for (i = 0; i < t->nr_procs; i++) {
		for (j = 0; j < t->procs[i].nr_threads; j++) {
			struct ps_thread *th = &t->procs[i].threads[j];

			if (th->seized)
				ptrace(PTRACE_DETACH, th->tid, 0, 0);
			th->seized = false;
		}
	}
}

/* reaps, as their tracer, the seized threads that exited; true if none is left */
static bool reap_traced(struct pstree *t)
{
	bool left = false;
	uint32_t i, j;
	int st;
	pid_t r;

	for (i = 0; i < t->nr_procs; i++) {
		for (j = 0; j < t->procs[i].nr_threads; j++) {
			struct ps_thread *th = &t->procs[i].threads[j];

			while (th->seized) {
				r = waitpid(th->tid, &st, __WALL | WNOHANG);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 || (r == th->tid && (WIFEXITED(st) || WIFSIGNALED(st))))
					th->seized = false;
				else if (r == 0)
					left = true;
				if (r <= 0)
					break;
			}
		}
	}
	return !left;
}

int pstree_kill(struct pstree *t, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	char path[32];
	uint32_t i;

	for (i = 0; i < t->nr_procs; i++)
		kill(t->procs[i].pid, SIGKILL);
	/*
	 * Reaping them as their tracer hands each zombie to its real
	 * parent; pid 1 reaps the orphans, which here takes up to a second.
	 * In no fixed order: a pid namespace's init ends its exit only once
	 * its children are reaped (zap_pid_ns_processes()), and those
	 * children are ours to reap first.
	 */
	while (!reap_traced(t)) {
		if (now_ns() > deadline) {
			pr_err("pid %d: the killed tree did not exit", t->root);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < t->nr_procs; i++) {
		snprintf(path, sizeof(path), "/proc/%d", t->procs[i].pid);
		while (!access(path, F_OK)) {
			if (now_ns() > deadline) {
				pr_err("pid %d was killed but its parent has not reaped it",
				       t->procs[i].pid);
				return -ETIMEDOUT;
			}
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

void pstree_free(struct pstree *t)
{
	uint32_t i;

	for (i = 0; i < t->nr_procs; i++)
		free(t->procs[i].threads);
	free(t->procs);
	t->procs = NULL;
	t->nr_procs = 0;
	t->cap_procs = 0;
}

/* ---- restore: the tree's own code, run by each new process ---- */

static void futex_wait_val(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}

/*
 * clone3 with set_tid: the child gets the pid it had, or the call fails
 * with EEXIST.  set_tid lists the pid of the innermost namespace first;
 * the init of a new pid namespace comes with CLONE_NEWPID (ns.c).
 */
pid_t pstree_clone(struct restore_ctx *ctx, uint32_t idx)
{
	const struct img_proc *p = ctx->procs[idx].mp->p;
	pid_t set_tid[BCK_NS_LEVELS];
	struct clone_args args;
	pid_t pid;

	memset(&args, 0, sizeof(args));
	args.flags = ns_clone_flags(ctx, idx);
	args.exit_signal = p->exit_signal;
	args.set_tid = (uint64_t)(uintptr_t)set_tid;
	args.set_tid_size = ns_set_tid(ctx, p->pid, p->nr_levels, set_tid);
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		pstree_restore_child(ctx, idx);
	return pid < 0 ? -errno : pid;
}

/*
 * Handlers come from the image later; until then none of ours.  Through
 * the syscall: glibc's sigaction() refuses (EINVAL) the two signals it
 * keeps for itself, SIGCANCEL (32) and SIGSETXID (33), and the restorer
 * has a SIGSETXID handler once it changed credentials while a thread of
 * its own ran (__nptl_setxid(), a lazy restore's checksum thread): the
 * new process inherited it, and /proc/PID/status showed it caught.
 */
static void reset_signals(void)
{
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; }
		dfl = { SIG_DFL, 0, NULL, 0 };
	int sig;

	for (sig = 1; sig <= BCK_NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
}

/*
 * restore --shell-job: the job's group is restore's own, the terminal's
 * foreground group, which the shell stops and continues as one job (as
 * CRIU's --shell-job: the root inherits restore's session and group)
 */
static bool in_shell_group(const struct restore_ctx *ctx, const struct img_proc *p)
{
	return ctx->shell_job && p->sid[0] != p->pid[0] &&
	       p->pgid[0] == ctx->procs[0].mp->p->pgid[0] &&
	       p->sid[0] == ctx->procs[0].mp->p->sid[0];
}

static void join_session(struct restore_ctx *ctx, uint32_t idx)
{
	const struct img_proc *p = ctx->procs[idx].mp->p;

	if (in_shell_group(ctx, p))
		return;
	if (p->sid[0] == p->pid[0]) {
		if (setsid() < 0)
			rst_child_fail(ctx, idx, -errno, "setsid");
	} else if (p->pgid[0] == p->pid[0]) {
		if (setpgid(0, 0))
			rst_child_fail(ctx, idx, -errno, "setpgid");
	}
}

/*
 * pgids of other processes: all of them exist once everyone is created.
 * setpgid() takes the number in our own pid namespace; a group outside
 * it (0 there) can only have come with the clone, from the parent.
 */
static void join_group(struct restore_ctx *ctx, uint32_t idx)
{
	const struct img_proc *p = ctx->procs[idx].mp->p;
	pid_t own = p->pgid[p->nr_levels - 1];

	if (p->pgid[0] == p->pid[0] || !own || getpgid(0) == own ||
	    image_find(&ctx->img, p->pgid[0]) < 0 || in_shell_group(ctx, p))
		return;
	if (setpgid(0, own))
		rst_child_fail(ctx, idx, -errno, "setpgid %d", own);
}

static void wait_phase(struct restore_ctx *ctx, uint32_t phase)
{
	uint32_t cur;

	while ((cur = atomic_load(&ctx->sh->phase)) < phase)
		futex_wait_val(&ctx->sh->phase, cur);
}

/* exits with the recorded wait status: exit code or killing signal */
static void __attribute__((noreturn)) become_zombie(struct restore_ctx *ctx,
						      uint32_t idx)
{
	int status = ctx->procs[idx].mp->p->exit_code, sig = status & 0x7f;
	struct rlimit no_core = { 0, 0 };
	sigset_t set;

	prctl(PR_SET_NAME, ctx->procs[idx].mp->p->comm);
	rst_child_state(ctx, idx, RST_EXITED);
	if (!sig)
		_exit((status >> 8) & 0xff);
	setrlimit(RLIMIT_CORE, &no_core);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	syscall(SYS_kill, getpid(), sig);
	_exit(128 + sig);
}

/*
 * Zombie children exit in this phase too; once they have (waitid with
 * WNOWAIT leaves them unreaped), drop the SIGCHLDs their exits queued:
 * the image says which signals were pending.
 */
static void settle_children(struct restore_ctx *ctx, uint32_t idx)
{
	struct rst_proc *rp = &ctx->procs[idx];
	uint32_t i, own = rp->mp->p->nr_levels - 1;
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t all;

	for (i = 0; i < rp->nr_children; i++) {
		struct rst_proc *c = &ctx->procs[rp->children[i]];

		if (!c->zombie)
			continue;
		/* its pid in our namespace */
		while (waitid(P_PID, c->mp->p->pid[own], &si, WEXITED | WNOWAIT) &&
		       errno == EINTR)
			;
	}
	sigfillset(&all);
	while (sigtimedwait(&all, &si, &zero) > 0)
		;
}

/*
 * A cwd removed before the snap ("/x/dir (deleted)"): the directory is
 * made again with its mode and owner, entered, and removed, so that the
 * process is in a deleted directory of that name, as it was.
 */
static void enter_deleted_cwd(struct restore_ctx *ctx, uint32_t idx, const char *cwd)
{
	const struct img_proc_ext *e = ctx->procs[idx].mp->ext;
	size_t n = strlen(cwd) - strlen(DELETED_SUFFIX);
	char path[BCK_PATH_MAX];

	snprintf(path, sizeof(path), "%.*s", (int)n, cwd);
	if (mkdir(path, 0700))
		rst_child_fail(ctx, idx, -errno, "recreating its deleted cwd %s", path);
	if ((e && (chown(path, e->cwd_uid, e->cwd_gid) ||
		   chmod(path, e->cwd_mode))) || chdir(path)) {
		rmdir(path);
		rst_child_fail(ctx, idx, -errno, "entering its recreated cwd %s", path);
	}
	if (rmdir(path))
		rst_child_fail(ctx, idx, -errno, "removing its recreated cwd %s", path);
}

/* /proc/self/loginuid: only the process itself may write it */
static void set_loginuid(struct restore_ctx *ctx, uint32_t idx)
{
	const struct img_proc_ext *e = ctx->procs[idx].mp->ext;
	char buf[32] = "";
	int fd;

	if (!e || read_file("/proc/self/loginuid", buf, sizeof(buf)) <= 0 ||
	    strtoul(buf, NULL, 10) == e->loginuid)
		return;
	snprintf(buf, sizeof(buf), "%u", e->loginuid);
	fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		rst_child_fail(ctx, idx, -errno, "setting its loginuid to %u%s",
			       e->loginuid, errno == EPERM ? " (needs CAP_AUDIT_CONTROL, "
			       "and an immutable loginuid cannot change)" : "");
	close(fd);
}

static void prepare_task(struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp;

	set_loginuid(ctx, idx);
	if (mp->cwd && path_is_deleted(mp->cwd))
		enter_deleted_cwd(ctx, idx, mp->cwd);
	else if (mp->cwd && chdir(mp->cwd))
		rst_child_fail(ctx, idx, -errno, "chdir %s", mp->cwd);
	umask(mp->p->umask);
	if (personality(mp->p->personality) < 0)
		rst_child_fail(ctx, idx, -errno, "personality %#x",
			       mp->p->personality);
}

void pstree_restore_child(struct restore_ctx *ctx, uint32_t idx)
{
	struct rst_proc *rp = &ctx->procs[idx];
	static _Atomic uint32_t never;
	uint32_t i;
	pid_t pid;
	int ret;

	/* a helper whose parent dies mid-restore goes with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	reset_signals();
	ns_restore_child(ctx, idx);
	join_session(ctx, idx);
	ret = files_restore_child(ctx, idx);
	if (ret)
		_exit(1);
	/* before the children: they inherit the pages shared with them */
	ret = mm_premap_child(ctx, idx);
	if (ret)
		rst_child_fail(ctx, idx, ret, "premapping the memory it shares "
			       "copy-on-write");
	for (i = 0; i < rp->nr_children; i++) {
		pid = pstree_clone(ctx, rp->children[i]);
		if (pid < 0)
			rst_child_fail(ctx, idx, pid, "clone3 of pid %d",
				       ctx->procs[rp->children[i]].mp->p->pid[0]);
	}
	ns_restore_child_late(ctx, idx);
	files_restore_finish(ctx, idx);
	rst_child_state(ctx, idx, RST_CREATED);
	wait_phase(ctx, RST_PHASE_GROUPS);
	files_restore_late(ctx, idx);
	join_group(ctx, idx);
	if (rp->zombie)
		become_zombie(ctx, idx);
	settle_children(ctx, idx);
	prepare_task(ctx, idx);
	rst_child_state(ctx, idx, RST_READY);
	/* the restorer seizes us here and takes over */
	for (;;)
		futex_wait_val(&never, 0);
}

/* a deleted cwd or root can be made again only where nothing has its name */
static int check_deleted_dir(const struct m_proc *mp, const char *what,
			     const char *dir, struct verdict *v)
{
	char path[BCK_PATH_MAX], *slash;
	struct stat st;

	if (!dir || !path_is_deleted(dir))
		return 0;
	snprintf(path, sizeof(path), "%.*s",
		 (int)(strlen(dir) - strlen(DELETED_SUFFIX)), dir);
	if (!lstat(path, &st))
		return verdict_refuse(v, -EEXIST, mp->p->pid[0], "task",
				      "its %s %s was deleted, and that path exists "
				      "again: it cannot be made a deleted directory "
				      "of that name", what, path);
	slash = strrchr(path, '/');
	if (slash && slash != path)
		*slash = 0;
	else if (slash)
		slash[1] = 0;
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return verdict_refuse(v, -ENOENT, mp->p->pid[0], "task",
				      "its %s was deleted, and so was %s, where it "
				      "would be made again", what, path);
	return 0;
}

/* sessions and groups must be rebuildable by setsid/setpgid from inside */
int pstree_check_image(const struct ckpt_image *img, struct verdict *v)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; !ret && i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];
		const struct img_proc *p = mp->p, *pp;
		int g;

		ret = check_deleted_dir(mp, "cwd", mp->cwd, v);
		if (!ret)
			ret = check_deleted_dir(mp, "root", mp->root, v);
		if (ret)
			continue;
		ret = ns_check_proc(img, i, v);
		if (ret)
			continue;
		if (mp->parent < 0) {
			if (p->sid[0] != p->pid[0] && !v->all)
				pr_info("pid %d: session %d is outside the image: it joins "
					"the restorer's session", p->pid[0], p->sid[0]);
			continue;
		}
		pp = img->procs[mp->parent].p;
		if (p->sid[0] != p->pid[0] && p->sid[0] != pp->sid[0]) {
			ret = verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
					     "session %d is neither its own nor its "
					     "parent's: not supported", p->sid[0]);
			continue;
		}
		g = image_find(img, p->pgid[0]);
		if (p->pgid[0] != p->pid[0] && p->pgid[0] != pp->pgid[0] &&
		    (g < 0 || img->procs[g].p->sid[0] != p->sid[0]))
			ret = verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
					     "process group %d cannot be rebuilt (its "
					     "leader is not in the image): not supported",
					     p->pgid[0]);
	}
	return ret;
}
