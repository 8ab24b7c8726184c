// SPDX-License-Identifier: GPL-2.0
/*
 * Task state of one process: what iter/task saw, plus what only ptrace
 * gives (registers, xstate, queued siginfo).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <linux/ptrace.h>
#include "img.h"
#include "log.h"
#include "snap.h"
#include "util.h"

#define SIGNAL_STOP_STOPPED	0x00000001	/* kernel signal->flags */
#define MMF_DUMPABLE_MASK	0x3ULL		/* low bits of mm->flags */
#define EXIT_ZOMBIE		0x20
#define TASK_IDLE		0x402	/* TASK_UNINTERRUPTIBLE | TASK_NOLOAD */

static struct snap_thread *find_thread(struct snap_proc *sp, pid_t tid)
{
	uint32_t i;

	for (i = 0; i < sp->nr_threads; i++)
		if (sp->threads[i].tid == tid)
			return &sp->threads[i];
	return NULL;
}

static int add_timer(struct snap_proc *sp, const struct rec_timer *t)
{
	return vec_push(sp->timers, sp->nr_timers, sp->cap_timers, *t);
}

static int add_path(struct snap_proc *sp, const struct rec_path *p)
{
	if (p->which > REC_PATH_ROOT)
		return 0;
	if (p->len <= 0 || p->len > BCK_PATH_MAX) {
		pr_err("pid %d: reading its %s path: %s", sp->pid,
		       p->which == REC_PATH_EXE ? "exe" :
		       p->which == REC_PATH_CWD ? "cwd" : "root",
		       p->len < 0 ? errstr(p->len) : "bad length");
		return -EIO;
	}
	free(sp->paths[p->which]);
	sp->paths[p->which] = strndup(p->path, BCK_PATH_MAX);
	return sp->paths[p->which] ? 0 : -ENOMEM;
}

static int task_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_task *r = (const void *)h;
	struct snap_thread *th, nt = { 0 };
	pid_t tid;
	int ret;

	switch (h->type) {
	case REC_TIMER:
		return size < sizeof(struct rec_timer) ? -EIO :
		       add_timer(sp, (const void *)h);
	case REC_PATH:
		return size < sizeof(struct rec_path) ? -EIO :
		       add_path(sp, (const void *)h);
	case REC_TASK:
		break;
	default:
		return 0;
	}
	if (size < sizeof(*r) || r->self_level >= BCK_NS_LEVELS)
		return -EIO;
	tid = r->tid[r->self_level];
	th = find_thread(sp, tid);
	if (!th) {
		/*
		 * Live threads were all frozen and are listed already; of the
		 * others only a zombie's leader is kept (for its exit status).
		 */
		if (!sp->zombie || tid != sp->pid)
			return 0;
		nt.tid = tid;
		ret = vec_push(sp->threads, sp->nr_threads, sp->cap_threads, nt);
		if (ret)
			return ret;
		th = &sp->threads[sp->nr_threads - 1];
	}
	if (!th->rec) {
		th->rec = malloc(sizeof(*r));
		if (!th->rec)
			return -ENOMEM;
	}
	memcpy(th->rec, r, sizeof(*r));
	return 0;
}

static int peek_siginfo(pid_t tid, bool shared, struct img_siginfo **out,
			uint32_t *n, uint32_t *cap)
{
	struct ptrace_peeksiginfo_args args = {
		.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
		.nr = 32,
	};
	siginfo_t si[32];
	long got, i;
	int ret;

	for (;;) {
		got = ptrace(PTRACE_PEEKSIGINFO, tid, &args, si);
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		for (i = 0; i < got; i++) {
			struct img_siginfo rec = {
				.h.type = IMG_SIGINFO,
				.tid = shared ? 0 : tid,
				.signo = si[i].si_signo,
			};

			_Static_assert(sizeof(siginfo_t) == sizeof(rec.info),
				       "siginfo_t size");
			memcpy(rec.info, &si[i], sizeof(rec.info));
			ret = vec_push(*out, *n, *cap, rec);
			if (ret)
				return ret;
		}
		args.off += got;
	}
}

static int read_thread(struct snap_ctx *ctx, struct snap_proc *sp,
		       struct snap_thread *th)
{
	uint8_t *buf;
	size_t len;
	int ret;

	ret = arch_get_regs(th->tid, th->regs);
	if (ret) {
		pr_err("pid %d: thread %d: reading registers: %s", sp->pid,
		       th->tid, errstr(ret));
		return ret;
	}
	buf = malloc(ARCH_XSTATE_MAX);
	if (!buf)
		return -ENOMEM;
	ret = arch_get_xstate(th->tid, buf, ARCH_XSTATE_MAX, &len);
	if (ret) {
		free(buf);
		pr_err("pid %d: thread %d: reading xstate: %s", sp->pid,
		       th->tid, errstr(ret));
		return ret;
	}
	th->xstate = realloc(buf, len) ?: buf;
	th->xstate_len = len;
	if (!ctx->xstate_size)
		ctx->xstate_size = len;
	ret = peek_siginfo(th->tid, false, &th->sigs, &th->nr_sigs, &th->cap_sigs);
	if (ret) {
		pr_err("pid %d: thread %d: reading queued signals: %s", sp->pid,
		       th->tid, errstr(ret));
		return ret;
	}
	return 0;
}

int task_check(const struct rec_task *r, char *why, size_t len)
{
	if (r->err & REC_ERR_LEVELS)
		snprintf(why, len, "pid namespace nesting deeper than %d levels: "
			 "not supported", BCK_NS_LEVELS);
	else if (r->err & REC_ERR_GROUPS)
		snprintf(why, len, "%u supplementary groups, at most %d supported",
			 r->ngroups, BCK_NGROUPS);
	else if (r->err & REC_ERR_TIMERS)
		snprintf(why, len, "too many POSIX timers");
	else if (r->seccomp_mode)
		snprintf(why, len, "thread %d runs under seccomp (mode %u): not "
			 "supported", r->tid[r->self_level], r->seccomp_mode);
	else if (r->level < r->self_level)
		snprintf(why, len, "lives outside our pid namespace");
	else
		return 0;
	return -ENOTSUP;
}

static int check_supported(struct snap_proc *sp, const struct rec_task *r)
{
	char why[160];
	int ret = task_check(r, why, sizeof(why));

	if (ret)
		pr_err("pid %d: %s", sp->pid, why);
	return ret;
}

char task_state_char(const struct rec_task *r)
{
	/* fs/proc/array.c task_state_array[], by the highest TASK_REPORT bit */
	static const char letters[] = "RSDTtXZP";
	uint32_t report = (r->state | r->exit_state) & 0x7f;
	int bit = 0;

	if ((r->state & 0x47f) == TASK_IDLE)
		return 'I';
	while (report >> bit)
		bit++;
	return letters[bit];
}

/* THP_enabled in /proc/PID/status: the mm->flags bit moved in 6.18 */
static int read_thp(struct snap_proc *sp)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", sp->pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	p = strstr(buf, "THP_enabled:");
	sp->thp_disabled = p && atoi(p + 12) == 0;
	return 0;
}

int task_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret;

	for (i = 0; i < sp->ps->nr_threads; i++) {
		struct snap_thread th = { .tid = sp->ps->threads[i].tid };

		ret = vec_push(sp->threads, sp->nr_threads, sp->cap_threads, th);
		if (ret)
			return ret;
	}
	ret = collect_proc(&ctx->col, COLLECT_TASKS, sp->pid, task_cb, sp);
	if (ret) {
		pr_err("pid %d: collecting task state: %s", sp->pid, errstr(ret));
		return ret;
	}
	if (!sp->nr_threads || !sp->threads[0].rec) {
		pr_err("pid %d: not found by the task iterator", sp->pid);
		return -ESRCH;
	}
	for (i = 0; i < sp->nr_threads; i++) {
		struct snap_thread *th = &sp->threads[i];

		if (!th->rec) {
			pr_err("pid %d: thread %d: not found by the task iterator",
			       sp->pid, th->tid);
			return -ESRCH;
		}
		ret = check_supported(sp, th->rec);
		if (ret)
			return ret;
		if (sp->zombie)
			continue;
		ret = read_thread(ctx, sp, th);
		if (ret)
			return ret;
	}
	if (sp->zombie)
		return 0;
	ret = peek_siginfo(sp->pid, true, &sp->sigs, &sp->nr_sigs, &sp->cap_sigs);
	if (ret) {
		pr_err("pid %d: reading queued signals: %s", sp->pid, errstr(ret));
		return ret;
	}
	return read_thp(sp);
}

/* ids at the levels from ours down to the task's own namespace */
static void copy_levels(__s32 *dst, const __s32 *src, const struct rec_task *r)
{
	uint32_t i;

	for (i = 0; i + r->self_level <= r->level && i < BCK_NS_LEVELS; i++)
		dst[i] = src[i + r->self_level];
}

static uint64_t sub_or_one(uint64_t exp, uint64_t now)
{
	if (!exp)
		return 0;
	return exp > now ? exp - now : 1;
}

static void fill_timers(struct img_proc *p, struct snap_proc *sp)
{
	const struct rec_task *r = sp->threads[0].rec;
	uint64_t prof = r->dead_cpu_ns, virt = 0;
	uint32_t i;

	for (i = 0; i < sp->nr_threads; i++) {
		prof += sp->threads[i].rec->sum_exec_ns;
		virt += sp->threads[i].rec->utime;
	}
	if (r->real_timer_armed)
		p->itimer[0].value_ns = r->real_timer_rem_ns;
	p->itimer[0].interval_ns = r->real_timer_incr_ns;
	/* it[0] is CPUCLOCK_PROF, it[1] CPUCLOCK_VIRT: absolute CPU times */
	p->itimer[1].value_ns = sub_or_one(r->cpu_timer_exp[1], virt);
	p->itimer[1].interval_ns = r->cpu_timer_incr[1];
	p->itimer[2].value_ns = sub_or_one(r->cpu_timer_exp[0], prof);
	p->itimer[2].interval_ns = r->cpu_timer_incr[0];
}

void task_fill_proc(struct img_proc *p, const struct rec_task *r)
{
	memset(p, 0, sizeof(*p));
	p->h.type = IMG_PROC;
	p->nr_levels = r->level - r->self_level + 1;
	copy_levels(p->pid, r->tgid, r);
	copy_levels(p->ppid, r->ppid, r);
	copy_levels(p->pgid, r->pgid, r);
	copy_levels(p->sid, r->sid, r);
	if (r->sig_flags & SIGNAL_STOP_STOPPED)
		p->flags |= IMG_PROC_STOPPED;
	if (r->is_subreaper)
		p->flags |= IMG_PROC_SUBREAPER;
	p->nr_threads = r->nr_threads;
	memcpy(p->comm, r->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = 0;
	p->umask = r->umask;
	p->personality = r->personality;
	p->dumpable = r->mm_flags & MMF_DUMPABLE_MASK;
	p->oom_score_adj = r->oom_score_adj;
	p->start_code = r->start_code;
	p->end_code = r->end_code;
	p->start_data = r->start_data;
	p->end_data = r->end_data;
	p->start_brk = r->start_brk;
	p->brk = r->brk;
	p->start_stack = r->start_stack;
	p->arg_start = r->arg_start;
	p->arg_end = r->arg_end;
	p->env_start = r->env_start;
	p->env_end = r->env_end;
	p->vdso = r->vdso;
	p->auxv_words = MIN(r->auxv_words, BCK_AUXV_WORDS);
	memcpy(p->auxv, r->auxv, sizeof(p->auxv));
	p->nr_rlimits = BCK_NRLIMITS;
	_Static_assert(sizeof(p->rlim) == sizeof(r->rlim), "rlimits");
	_Static_assert(sizeof(p->sigact) == sizeof(r->sigact), "sigactions");
	memcpy(p->rlim, r->rlim, sizeof(p->rlim));
	memcpy(p->sigact, r->sigact, sizeof(p->sigact));
	p->shared_pending = r->shared_pending;
}

static int write_proc(struct snap_ctx *ctx, struct snap_proc *sp)
{
	const struct rec_task *r = sp->threads[0].rec;
	struct img_proc p;
	struct img_part parts[3];
	int i, n = 0;

	task_fill_proc(&p, r);
	if (sp->zombie) {
		p.flags |= IMG_PROC_ZOMBIE;
		p.exit_code = r->exit_code;
	}
	if (sp->thp_disabled)
		p.flags |= IMG_PROC_THP_DISABLE;
	p.nr_threads = sp->zombie ? 0 : sp->nr_threads;
	fill_timers(&p, sp);
	for (i = 0; i < 3; i++) {
		const char *s = sp->paths[i];
		uint32_t len = s ? strlen(s) + 1 : 0;

		if (i == 0)
			p.exe_len = len;
		else if (i == 1)
			p.cwd_len = len;
		else
			p.root_len = len;
		if (len)
			parts[n++] = (struct img_part){ s, len };
	}
	return img_put(ctx->w, &p, sizeof(p), parts, n);
}

static void fill_creds(struct img_creds *c, const struct rec_task *r)
{
	c->uid = r->uid;
	c->euid = r->euid;
	c->suid = r->suid;
	c->fsuid = r->fsuid;
	c->gid = r->gid;
	c->egid = r->egid;
	c->sgid = r->sgid;
	c->fsgid = r->fsgid;
	c->securebits = r->securebits;
	c->ngroups = MIN(r->ngroups, BCK_NGROUPS);
	c->cap_inh = r->cap_inh;
	c->cap_prm = r->cap_prm;
	c->cap_eff = r->cap_eff;
	c->cap_bnd = r->cap_bnd;
	c->cap_amb = r->cap_amb;
	memcpy(c->groups, r->groups, c->ngroups * sizeof(c->groups[0]));
}

void task_fill_thread(struct img_thread *t, const struct rec_task *r)
{
	memset(t, 0, sizeof(*t));
	t->h.type = IMG_THREAD;
	copy_levels(t->tid, r->tid, r);
	if (r->no_new_privs)
		t->flags |= IMG_THREAD_NO_NEW_PRIVS;
	t->pdeath_sig = r->pdeath_sig;
	memcpy(t->comm, r->comm, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = 0;
	fill_creds(&t->creds, r);
	t->blocked = r->blocked;
	t->pending = r->pending;
	t->sas_sp = r->sas_sp;
	t->sas_size = r->sas_size;
	t->sas_flags = r->sas_flags;
	t->policy = r->policy;
	t->rt_priority = r->rt_priority;
	t->nice = r->nice;
	t->clear_child_tid = r->clear_child_tid;
	t->robust_list = r->robust_list;
	t->rseq = r->rseq;
	t->rseq_len = r->rseq_len;
	t->rseq_sig = r->rseq_sig;
}

static int write_thread(struct snap_ctx *ctx, struct snap_thread *th)
{
	struct img_thread t;
	struct img_part parts[2] = {
		{ th->regs, ARCH_REGS_SIZE },
		{ th->xstate, th->xstate_len },
	};

	task_fill_thread(&t, th->rec);
	if (arch_syscall_nr(th->regs) >= 0)
		t.flags |= IMG_THREAD_IN_SYSCALL;
	t.regs_size = ARCH_REGS_SIZE;
	t.xstate_size = th->xstate_len;
	return img_put(ctx->w, &t, sizeof(t), parts, 2);
}

static int write_timer(struct snap_ctx *ctx, const struct rec_timer *rt)
{
	struct img_timer t = {
		.h.type = IMG_TIMER,
		.id = rt->id,
		.clock = rt->clock,
		.notify = rt->notify,
		.signo = rt->signo,
		.target = rt->target,
		.value = rt->value,
		.interval_ns = rt->interval_ns,
		.value_ns = rt->armed == 1 ? rt->rem_ns : 0,
		.overrun = rt->overrun,
	};

	return img_put(ctx->w, &t, sizeof(t), NULL, 0);
}

int task_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i, j;
	int ret;

	ret = write_proc(ctx, sp);
	for (i = 0; !ret && !sp->zombie && i < sp->nr_threads; i++)
		ret = write_thread(ctx, &sp->threads[i]);
	for (i = 0; !ret && i < sp->nr_sigs; i++)
		ret = img_put(ctx->w, &sp->sigs[i], sizeof(sp->sigs[i]), NULL, 0);
	for (i = 0; !ret && i < sp->nr_threads; i++)
		for (j = 0; !ret && j < sp->threads[i].nr_sigs; j++)
			ret = img_put(ctx->w, &sp->threads[i].sigs[j],
				      sizeof(sp->threads[i].sigs[j]), NULL, 0);
	for (i = 0; !ret && i < sp->nr_timers; i++)
		ret = write_timer(ctx, &sp->timers[i]);
	return ret;
}

void task_free(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_threads; i++) {
		free(sp->threads[i].rec);
		free(sp->threads[i].xstate);
		free(sp->threads[i].sigs);
	}
	free(sp->threads);
	for (i = 0; i < 3; i++)
		free(sp->paths[i]);
	free(sp->timers);
	free(sp->sigs);
}
