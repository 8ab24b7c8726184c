// SPDX-License-Identifier: GPL-2.0
/*
 * iter/task collectors, each with the pid filter of the iterator link:
 * tree discovery (list_tasks), the full state of every thread of one
 * process (collect_task) and its POSIX timers (collect_timers: the only
 * one that needs bpf_loop, so that a verifier refusing it costs timers
 * alone).  Paths are not resolved here: bpf_d_path takes only trusted
 * pointers, and task->mm->exe_file and task->fs are reached by walking
 * untrusted ones.  The records carry the dev/ino of exe, cwd and root
 * instead, and the user side checks the paths it reads from /proc
 * against them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "bpfckpt/task.h"
#include "collect.bpf.h"
#include "core.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define HRTIMER_STATE_ENQUEUED	0x01
#define PFA_NO_NEW_PRIVS	0
#define SCHED_RESET_ON_FORK	0x40000000
#define MAX_TIMERS		512

static const struct rec_task zero_task;

/*
 * Pointer fields are read with BPF_CORE_READ, not loaded from the
 * trusted ctx->task: for each pointer loaded from a trusted pointer the
 * verifier looks for a "<struct>__safe_trusted" type by name, a linear
 * walk of the kernel's BTF (btf_nested_type_is_trusted(), some ms
 * each).  list_tasks took 11 ms to load that way, 0.5 ms this way.
 */
SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u32 lvl = reader_level();
	struct rec_pid *r;

	REFUSE_IF(0);
	if (!task)
		return 0;
	if (!rec_reserve(r, REC_PID))
		return 0;
	r->tid = pid_nr_at(BPF_CORE_READ(task, thread_pid), lvl);
	r->tgid = pid_nr_at(BPF_CORE_READ(task, group_leader, thread_pid), lvl);
	r->ppid = pid_nr_at(BPF_CORE_READ(task, real_parent, group_leader, thread_pid), lvl);
	r->pf_flags = task->flags;
	r->exit_state = task->exit_state;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	pace(ctx->meta->seq);
	return 0;
}

static __always_inline void read_ids(struct rec_task *r, struct task_struct *t)
{
	struct pid *tid = t->thread_pid;
	struct pid *tgid = t->group_leader->thread_pid;
	struct pid *ppid = t->real_parent->group_leader->thread_pid;
	struct pid *pgid = t->signal->pids[PIDTYPE_PGID];
	struct pid *sid = t->signal->pids[PIDTYPE_SID];
	__u32 i;

	r->level = BPF_CORE_READ(tid, level);
	if (r->level >= BCK_NS_LEVELS)
		r->err |= REC_ERR_LEVELS;
	for (i = 0; i < BCK_NS_LEVELS; i++) {
		r->tid[i] = pid_nr_at(tid, i);
		r->tgid[i] = pid_nr_at(tgid, i);
		r->ppid[i] = pid_nr_at(ppid, i);
		r->pgid[i] = pid_nr_at(pgid, i);
		r->sid[i] = pid_nr_at(sid, i);
	}
}

static __always_inline void read_creds(struct rec_task *r, struct task_struct *t)
{
	const struct cred *c = t->real_cred;
	struct group_info *gi;
	__u32 n;

	r->uid = c->uid.val;
	r->euid = c->euid.val;
	r->suid = c->suid.val;
	r->fsuid = c->fsuid.val;
	r->gid = c->gid.val;
	r->egid = c->egid.val;
	r->sgid = c->sgid.val;
	r->fsgid = c->fsgid.val;
	r->securebits = c->securebits;
	r->cap_inh = c->cap_inheritable.val;
	r->cap_prm = c->cap_permitted.val;
	r->cap_eff = c->cap_effective.val;
	r->cap_bnd = c->cap_bset.val;
	r->cap_amb = c->cap_ambient.val;
	/* CONFIG_SECURITY: the LSM blobs, read as raw words */
	if (bpf_core_field_exists(c->security) && c->security)
		bpf_probe_read_kernel(r->cred_blob, sizeof(r->cred_blob), c->security);
	/* CONFIG_KEYS */
	if (bpf_core_field_exists(c->session_keyring))
		r->session_keyring = BPF_CORE_READ(c, session_keyring, serial);
	else
		r->missing |= REC_MISS_KEYRING;
	gi = c->group_info;
	n = BPF_CORE_READ(gi, ngroups);
	r->ngroups = n;
	if (n > BCK_NGROUPS) {
		r->err |= REC_ERR_GROUPS;
		n = BCK_NGROUPS;
	}
	if (n)
		bpf_probe_read_kernel(r->groups, n * sizeof(__u32), &gi->gid);
}


/*
 * SEM_UNDO: each set a task did a SEM_UNDO semop on has a struct
 * sem_undo in its undo list (ipc/sem.c find_alloc_undo()), which nothing
 * in /proc shows.  The list itself exists in every multithreaded
 * process: CLONE_SYSVSEM allocates it to share it (copy_semundo()), so
 * only a non-empty list_proc counts.
 */
static __always_inline __u32 has_sem_undo(struct task_struct *t)
{
	struct sem_undo_list *ulp;
	void *next;

	if (!bpf_core_field_exists(t->sysvsem))
		return 0;
	ulp = BPF_CORE_READ(t, sysvsem.undo_list);
	if (!ulp)
		return 0;
	next = BPF_CORE_READ(ulp, list_proc.next);
	return next != (void *)ulp + bpf_core_field_offset(struct sem_undo_list, list_proc);
}

static __always_inline void read_signals(struct rec_task *r, struct task_struct *t)
{
	struct signal_struct *sig = t->signal;
	struct hrtimer *rt = &sig->real_timer;
	__s64 rem;

	r->blocked = t->blocked.sig[0];
	r->pending = t->pending.signal.sig[0];
	r->shared_pending = sig->shared_pending.signal.sig[0];
	r->sig_flags = sig->flags;
	r->group_exit_code = sig->group_exit_code;
	r->sas_sp = t->sas_ss_sp;
	r->sas_size = t->sas_ss_size;
	r->sas_flags = t->sas_ss_flags;
	r->pdeath_sig = t->pdeath_signal;
	r->nr_threads = sig->nr_threads;
	r->oom_score_adj = sig->oom_score_adj;
	r->is_subreaper = BPF_CORE_READ_BITFIELD_PROBED(sig, is_child_subreaper);
	r->dead_cpu_ns = sig->sum_sched_runtime;
	r->sem_undo = has_sem_undo(t);
	bpf_probe_read_kernel(r->rlim, sizeof(r->rlim), &sig->rlim);
	bpf_probe_read_kernel(r->sigact, sizeof(r->sigact), &t->sighand->action);

	/* ITIMER_REAL: an hrtimer on CLOCK_MONOTONIC (base offset 0) */
	if (BPF_CORE_READ(rt, state) & HRTIMER_STATE_ENQUEUED) {
		rem = BPF_CORE_READ(rt, node.expires) - bpf_ktime_get_ns();
		r->real_timer_armed = 1;
		r->real_timer_rem_ns = rem > 0 ? rem : 1;
	}
	r->real_timer_incr_ns = sig->it_real_incr;
	r->cpu_timer_exp[0] = sig->it[0].expires;
	r->cpu_timer_incr[0] = sig->it[0].incr;
	r->cpu_timer_exp[1] = sig->it[1].expires;
	r->cpu_timer_incr[1] = sig->it[1].incr;
}

static __always_inline void read_mm(struct rec_task *r, struct mm_struct *mm)
{
	__u32 auxv_size = bpf_core_field_size(mm->saved_auxv);

	r->has_mm = 1;
	r->start_code = mm->start_code;
	r->end_code = mm->end_code;
	r->start_data = mm->start_data;
	r->end_data = mm->end_data;
	r->start_brk = mm->start_brk;
	r->brk = mm->brk;
	r->start_stack = mm->start_stack;
	r->arg_start = mm->arg_start;
	r->arg_end = mm->arg_end;
	r->env_start = mm->env_start;
	r->env_end = mm->env_end;
	r->vdso = (__u64)mm->context.vdso;
	r->map_count = mm->map_count;
	r->total_vm = mm->total_vm;
	r->mm_flags = mm_flags_word(mm);
	r->mm_def_flags = mm->def_flags;
	r->rss_file = BPF_CORE_READ(mm, rss_stat[0].count);
	r->rss_anon = BPF_CORE_READ(mm, rss_stat[1].count);
	r->rss_swap = BPF_CORE_READ(mm, rss_stat[2].count);
	r->rss_shmem = BPF_CORE_READ(mm, rss_stat[3].count);
	if (auxv_size > sizeof(r->auxv))
		auxv_size = sizeof(r->auxv);
	r->auxv_words = auxv_size / sizeof(__u64);
	bpf_probe_read_kernel(r->auxv, auxv_size, &mm->saved_auxv);
	/* CONFIG_MEMBARRIER: the registrations are only here */
	if (bpf_core_field_exists(mm->membarrier_state))
		r->membarrier = BPF_CORE_READ(mm, membarrier_state.counter);
	else
		r->missing |= REC_MISS_MEMBARRIER;
}

struct timer_walk {
	struct list_head *head;		/* the list itself: the end of a list_head */
	struct hlist_node *node;	/* next entry: ->next is first in both kinds */
	__s32 tgid;
	__u32 ignored;
	__u32 lvl;
	__u32 count;
};

static __always_inline void emit_timer(struct timer_walk *w, struct k_itimer *t)
{
	struct hrtimer *ht = &t->it.real.timer;
	struct kernel_siginfo *info = timer_info(t);
	struct rec_timer *r;
	__s64 rem, now;
	__s32 clock;

	if (!rec_reserve(r, REC_TIMER))
		return;
	clock = BPF_CORE_READ(t, it_clock);
	r->tgid = w->tgid;
	r->id = BPF_CORE_READ(t, it_id);
	r->clock = clock;
	r->notify = BPF_CORE_READ(t, it_sigev_notify);
	r->signo = BPF_CORE_READ(info, si_signo);
	r->value = (__u64)BPF_CORE_READ(info, _sifields._timer._sigval.sival_ptr);
	r->target = pid_nr_at(BPF_CORE_READ(t, it_pid), w->lvl);
	r->interval_ns = BPF_CORE_READ(t, it_interval);
	r->overrun = BPF_CORE_READ(t, it_overrun);
	r->ignored = w->ignored;
	r->armed = 0;
	r->rem_ns = 0;
	/*
	 * CLOCK_REALTIME/MONOTONIC/BOOTTIME/TAI timers are hrtimers whose
	 * expiry is in their base's time: ktime_get() + base->offset.
	 * CPU-time and alarm timers are recorded with armed 2 ("not
	 * readable"), which restore refuses.
	 */
	if (clock == 0 || clock == 1 || clock == 7 || clock == 11) {
		if ((BPF_CORE_READ(ht, state) & HRTIMER_STATE_ENQUEUED) ||
		    r->interval_ns) {
			now = bpf_ktime_get_ns() + BPF_CORE_READ(ht, base, offset);
			rem = BPF_CORE_READ(ht, node.expires) - now;
			r->armed = 1;
			r->rem_ns = rem > 0 ? rem : 1;
		}
	} else {
		r->armed = 2;
	}
	bpf_ringbuf_submit(r, 0);
}

/*
 * One list entry per call: bpf_loop keeps the verifier from walking
 * every iteration.  Timer records are not paced; MAX_TIMERS of them fit
 * the ring buffer many times over.  signal->posix_timers was a circular
 * list_head before 6.13 and is a NULL-terminated hlist now: the walk
 * ends at either end.
 */
static long timer_step(__u32 i, void *ctx)
{
	struct timer_walk *w = ctx;
	struct hlist_node *n = w->node;
	struct k_itimer *t;

	if (!n || (void *)n == (void *)w->head) {
		w->node = 0;
		return 1;
	}
	if (w->ignored)
		t = (void *)n - bpf_core_field_offset(struct k_itimer, ignored_list);
	else
		t = (void *)n - bpf_core_field_offset(struct k_itimer, list);
	emit_timer(w, t);
	w->node = BPF_CORE_READ(n, next);
	w->count++;
	return 0;
}

/* number of timers on the list at @head, or -1 if longer than MAX_TIMERS */
static __always_inline int walk_timers(__s32 tgid, void *head, __u32 ignored,
				       __u32 lvl)
{
	struct timer_walk w = {
		.head = head, .tgid = tgid, .ignored = ignored, .lvl = lvl,
	};

	/* ->first of an hlist_head and ->next of a list_head: both at 0 */
	bpf_probe_read_kernel(&w.node, sizeof(w.node), head);
	bpf_loop(MAX_TIMERS, timer_step, &w, 0);
	return w.node ? -1 : (int)w.count;
}

/*
 * The POSIX timers of one process, from its leader: one rec_timer each,
 * then a rec_timers_end that says the list is complete.
 */
SEC("iter/task")
int collect_timers(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct signal_struct *sig;
	struct rec_timers_end *e;
	__u32 lvl = reader_level();
	__s32 vtgid;
	int n1, n2 = 0;

	REFUSE_IF(2);
	if (!task || task->pid != task->tgid)
		return 0;
	sig = BPF_CORE_READ(task, signal);
	if (!sig)
		return 0;
	vtgid = pid_nr_at(BPF_CORE_READ(task, group_leader, thread_pid), lvl);
	n1 = walk_timers(vtgid, &sig->posix_timers, 0, lvl);
	/* timers whose signal is ignored have their own list since 6.13 */
	if (bpf_core_field_exists(sig->ignored_posix_timers))
		n2 = walk_timers(vtgid, &sig->ignored_posix_timers, 1, lvl);
	if (!rec_reserve(e, REC_TIMERS_END))
		return 0;
	e->tgid = vtgid;
	e->nr = n1 < 0 || n2 < 0 ? 0 : n1 + n2;
	e->err = n1 < 0 || n2 < 0 ? REC_ERR_TIMERS : 0;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	pace(ctx->meta->seq);
	return 0;
}

/*
 * SEM_UNDO adjustments: task->sysvsem.undo_list->list_proc holds one
 * struct sem_undo per set the process did a SEM_UNDO semop on
 * (find_alloc_undo(), ipc/sem.c), with semadj[] of the set's nsems.
 * The entry does not say nsems: the user side puts each set's nsems in
 * sem_nsems (from /proc/sysvipc/sem) before it runs the walk.  An entry
 * whose set was removed has semid -1 (freeary()): nothing to keep.
 * Only the leader walks: threads share the list (CLONE_SYSVSEM); a
 * thread with a list of its own is reported, restore could not make it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);	/* IPCMNI sets in one namespace */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __s32);
	__type(value, __u32);
} sem_nsems SEC(".maps");

/* struct sem_undo's semadj was a pointer until it became a flexible array */
struct sem_undo___ptr {
	short *semadj;
} __attribute__((preserve_access_index));

static const struct rec_sem_undo zero_undo;

struct undo_walk {
	struct list_head *head;		/* &ulp->list_proc */
	struct list_head *node;		/* the entry being read */
	short *adj;
	__s32 tgid;
	__s32 semid;
	__u32 nsems;			/* 0: the entry is not started */
	__u32 off;
	__u32 count;
	__u32 err;
	__s32 bad_semid;
	__u32 done;
};

static __always_inline short *undo_adj(struct sem_undo *un)
{
	if (bpf_core_field_exists(((struct sem_undo___ptr *)un)->semadj))
		return BPF_CORE_READ((struct sem_undo___ptr *)un, semadj);
	return (void *)un + bpf_core_field_offset(struct sem_undo, semadj);
}

/* one step: start the next entry, or emit one chunk of its semadj[] */
static long undo_step(__u32 i, void *ctx)
{
	struct undo_walk *w = ctx;
	struct list_head *node = w->node;	/* a local: CO-RE reads go through it */
	struct rec_sem_undo *r;
	struct sem_undo *un;
	__u32 *nsems, n;

	if (!w->nsems) {
		if (!node || node == w->head) {
			w->done = 1;
			return 1;
		}
		un = (void *)node - bpf_core_field_offset(struct sem_undo, list_proc);
		w->semid = BPF_CORE_READ(un, semid);
		if (w->semid < 0) {
			w->node = BPF_CORE_READ(node, next);
			return 0;
		}
		nsems = bpf_map_lookup_elem(&sem_nsems, &w->semid);
		if (!nsems || !*nsems) {
			w->err |= REC_ERR_UNDO_SET;
			w->bad_semid = w->semid;
			w->done = 1;
			return 1;
		}
		w->nsems = *nsems;
		w->off = 0;
		w->adj = undo_adj(un);
		w->count++;
	}
	n = w->nsems - w->off;
	if (n > BCK_UNDO_CHUNK)
		n = BCK_UNDO_CHUNK;
	if (rec_reserve(r, REC_SEM_UNDO)) {
		rec_zero(r, &zero_undo);
		r->tgid = w->tgid;
		r->semid = w->semid;
		r->nsems = w->nsems;
		r->first = w->off;
		r->n = n;
		/* a whole chunk, or a masked part the verifier can bound */
		if (n >= BCK_UNDO_CHUNK)
			bpf_probe_read_kernel(r->vals, sizeof(r->vals), w->adj + w->off);
		else
			bpf_probe_read_kernel(r->vals, (n & (BCK_UNDO_CHUNK - 1)) *
					      sizeof(short), w->adj + w->off);
		bpf_ringbuf_submit(r, 0);
	}
	w->off += n;
	if (w->off >= w->nsems) {
		w->nsems = 0;
		w->node = BPF_CORE_READ(node, next);
	}
	return 0;
}

static __always_inline void undo_end(__s32 tgid, __s32 tid, __u32 nr, __u32 err,
				     __s32 semid)
{
	struct rec_sem_undo_end *e;

	if (!rec_reserve(e, REC_SEM_UNDO_END))
		return;
	e->tgid = tgid;
	e->tid = tid;
	e->nr = nr;
	e->err = err;
	e->semid = semid;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("iter/task")
int collect_sem_undo(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct sem_undo_list *ulp, *lead_ulp;
	struct undo_walk w = { 0 };
	__u32 lvl = reader_level();
	__s32 vtgid;

	REFUSE_IF(3);
	if (!task)
		return 0;
	vtgid = pid_nr_at(task->group_leader->thread_pid, lvl);
	ulp = BPF_CORE_READ(task, sysvsem.undo_list);
	if (task->pid != task->tgid) {
		lead_ulp = BPF_CORE_READ(task, group_leader, sysvsem.undo_list);
		if (ulp && ulp != lead_ulp) {
			undo_end(vtgid, pid_nr_at(task->thread_pid, lvl), 0,
				 REC_ERR_UNDO_THREAD, 0);
			pace(ctx->meta->seq);
		}
		return 0;
	}
	w.tgid = vtgid;
	if (ulp) {
		w.head = (void *)ulp + bpf_core_field_offset(struct sem_undo_list, list_proc);
		w.node = BPF_CORE_READ(ulp, list_proc.next);
		bpf_loop(BCK_UNDO_STEPS, undo_step, &w, 0);
	} else {
		w.done = 1;
	}
	if (!w.done)
		w.err |= REC_ERR_UNDO_LONG;
	undo_end(vtgid, vtgid, w.count, w.err, w.bad_semid);
	pace(ctx->meta->seq);
	return 0;
}

/* dev/ino of the inode behind @p, 0/0 if none */
static __always_inline void path_id(struct path *p, __u64 *dev, __u64 *ino)
{
	struct inode *inode = BPF_CORE_READ(p, dentry, d_inode);

	if (!inode)
		return;
	*dev = BPF_CORE_READ(inode, i_sb, s_dev);
	*ino = BPF_CORE_READ(inode, i_ino);
}

/*
 * rseq moved into a struct of its own after 6.18: where task->rseq is
 * no longer the user pointer, the record says so and the user side asks
 * ptrace (PTRACE_GET_RSEQ_CONFIGURATION) instead.
 */
static __always_inline void read_rseq(struct rec_task *r, struct task_struct *t)
{
	if (bpf_core_field_size(t->rseq) != sizeof(void *) ||
	    !bpf_core_field_exists(t->rseq_len) ||
	    !bpf_core_field_exists(t->rseq_sig)) {
		r->missing |= REC_MISS_RSEQ;
		return;
	}
	r->rseq = (__u64)BPF_CORE_READ(t, rseq);
	r->rseq_len = BPF_CORE_READ(t, rseq_len);
	r->rseq_sig = BPF_CORE_READ(t, rseq_sig);
}

SEC("iter/task")
int collect_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct mm_struct *mm;
	struct fs_struct *fs;
	struct file *exe;
	struct rec_task *r;
	__u32 lvl = reader_level();

	REFUSE_IF(1);
	if (!task)
		return 0;
	if (!rec_reserve(r, REC_TASK))
		return 0;
	rec_zero(r, &zero_task);
	r->self_level = lvl;
	read_ids(r, task);
	bpf_probe_read_kernel(r->comm, sizeof(r->comm), task->comm);
	r->state = task->__state;
	r->exit_state = task->exit_state;
	r->exit_code = task->exit_code;
	r->pf_flags = task->flags;
	r->jobctl = task->jobctl;
	read_creds(r, task);
	r->clear_child_tid = (__u64)task->clear_child_tid;
	r->robust_list = (__u64)task->robust_list;
	read_rseq(r, task);
	r->policy = task->policy;
	r->rt_priority = task->rt_priority;
	r->nice = task->static_prio - 120;
	r->personality = task->personality;
	r->exit_signal = task->exit_signal;
	r->no_new_privs = (task->atomic_flags >> PFA_NO_NEW_PRIVS) & 1;
	r->seccomp_mode = task->seccomp.mode;
	r->cpu = task->thread_info.cpu;
	r->on_cpu = task->on_cpu;
	r->sum_exec_ns = task->se.sum_exec_runtime;
	r->timer_slack_ns = task->timer_slack_ns;
	r->default_timer_slack_ns = task->default_timer_slack_ns;
	r->utime = task->utime;
	r->stime = task->stime;
	r->start_time = task->start_time;
	r->nvcsw = task->nvcsw;
	r->nivcsw = task->nivcsw;
	r->min_flt = task->min_flt;
	r->maj_flt = task->maj_flt;
	read_signals(r, task);
	/*
	 * Stopped inside sigsuspend/ppoll/pselect/epoll_pwait, `blocked`
	 * holds the syscall's temporary mask; the one to restore is
	 * saved_sigmask, which the kernel puts back on the way out.
	 */
	if (BPF_CORE_READ_BITFIELD_PROBED(task, restore_sigmask))
		r->blocked = task->saved_sigmask.sig[0];
	if (BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork))
		r->policy |= SCHED_RESET_ON_FORK;
	mm = task->mm;
	if (mm) {
		read_mm(r, mm);
		exe = mm->exe_file;
		if (exe) {
			r->has_exe = 1;
			r->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
			r->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		}
	}
	fs = task->fs;
	if (fs) {
		r->has_fs = 1;
		r->umask = fs->umask;
		path_id(&fs->pwd, &r->cwd_dev, &r->cwd_ino);
		path_id(&fs->root, &r->root_dev, &r->root_ino);
	}
	bpf_ringbuf_submit(r, 0);
	pace(seq);
	return 0;
}
