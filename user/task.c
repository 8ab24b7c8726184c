// SPDX-License-Identifier: GPL-2.0
/*
 * Task state of one process: what iter/task saw, plus what only ptrace
 * gives (registers, xstate, queued siginfo).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/landlock.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/ptrace.h>
#include "bpfckpt/compat.h"
#include "features.h"
#include "img.h"
#include "log.h"
#include "inject.h"
#include "ns.h"
#include "restore.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

#define SIGNAL_STOP_STOPPED	0x00000001	/* kernel signal->flags */
#define MMF_DUMPABLE_MASK	0x3ULL		/* low bits of mm->flags */
/*
 * Process-wide prctl bits of mm->flags (include/linux/mm_types.h):
 * PR_SET_MDWE's and PR_SET_MEMORY_MERGE's.  MDWE has been bit 28 since
 * it came (6.3); NO_INHERIT and MERGE_ANY swapped places (30, 29) when
 * MMF_TOPDOWN took 31, and are 29 and 30 on the kernels this reads.
 */
#define MMF_HAS_MDWE		28
#define MMF_HAS_MDWE_NO_INHERIT	29
#define MMF_VM_MERGE_ANY	30
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

struct timer_list {
	struct rec_timer **t;
	uint32_t *n, *cap;
	bool complete;
	uint32_t nr;
	uint32_t err;
};

static int timer_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct timer_list *tl = data;
	const struct rec_timers_end *e = (const void *)h;

	if (h->type == REC_TIMER) {
		if (size < sizeof(struct rec_timer))
			return -EIO;
		return vec_push(*tl->t, *tl->n, *tl->cap, *(const struct rec_timer *)h);
	}
	if (h->type != REC_TIMERS_END || size < sizeof(*e))
		return 0;
	tl->complete = true;
	tl->nr = e->nr;
	tl->err = e->err;
	return 0;
}

/* the number of POSIX timers /proc/PID/timers lists, or -errno */
static int count_proc_timers(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "ID:", 3);
	fclose(f);
	return n;
}

int task_collect_timers(struct collector *c, pid_t pid, struct rec_timer **t,
			uint32_t *n, uint32_t *cap, char *why, size_t len)
{
	struct timer_list tl = { t, n, cap, false, 0, 0 };
	uint32_t i;
	int ret, count;

	ret = collect_proc(c, COLLECT_TIMERS, pid, timer_cb, &tl);
	if (ret == -ENOTSUP) {
		count = count_proc_timers(pid);
		if (count < 0) {
			snprintf(why, len, "reading /proc/%d/timers: %s", pid,
				 errstr(count));
			return count;
		}
		if (!count)
			return 0;
		snprintf(why, len, "has %d POSIX timer%s, and BPF program %s, which "
			 "reads their expiry, is not loaded (%s)", count,
			 count == 1 ? "" : "s", collect_progs[PROG_TIMERS].name,
			 c->st[PROG_TIMERS].forced ? "BPFCKPT_FALLBACK" :
			 "refused by this kernel's verifier: 'bpfckpt check' tells");
		return -ENOTSUP;
	}
	if (ret) {
		snprintf(why, len, "collecting POSIX timers: %s", errstr(ret));
		return ret;
	}
	if (!tl.complete || tl.err || tl.nr != *n) {
		snprintf(why, len, "%s", tl.err & REC_ERR_TIMERS ?
			 "too many POSIX timers" : "the timer list was cut short");
		return -ENOTSUP;
	}
	for (i = 0; i < *n; i++) {
		if ((*t)[i].armed == 2) {
			snprintf(why, len, "POSIX timer %d on clock %d (CPU time or "
				 "alarm): not supported", (*t)[i].id, (*t)[i].clock);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int collect_timers(struct snap_ctx *ctx, struct snap_proc *sp)
{
	char why[256];
	int ret = task_collect_timers(&ctx->col, sp->pid, &sp->timers,
				      &sp->nr_timers, &sp->cap_timers, why,
				      sizeof(why));

	if (ret)
		pr_err("pid %d: %s", sp->pid, why);
	return ret;
}

int task_read_paths(pid_t pid, const struct rec_task *r, char *paths[3],
		    char *why, size_t len)
{
	static const char *const names[3] = { "exe", "cwd", "root" };
	const uint64_t ids[3][2] = {
		{ r->exe_dev, r->exe_ino }, { r->cwd_dev, r->cwd_ino },
		{ r->root_dev, r->root_ino },
	};
	char buf[BCK_PATH_MAX];
	int i, ret;

	for (i = 0; i < 3; i++) {
		if (i == 0 ? !r->has_exe : !r->has_fs)
			continue;
		ret = proc_link(pid, names[i], ids[i][0], ids[i][1], buf, sizeof(buf));
		if (ret) {
			snprintf(why, len, "reading its %s path: %s", names[i],
				 ret == -ESTALE ? "/proc leads to another inode than "
				 "the kernel's" : errstr(ret));
			return -EIO;
		}
		free(paths[i]);
		paths[i] = strdup(buf);
		if (!paths[i])
			return -ENOMEM;
	}
	return 0;
}

static int read_paths(struct snap_proc *sp)
{
	char why[160];
	int ret = task_read_paths(sp->pid, sp->threads[0].rec, sp->paths, why,
				  sizeof(why));

	if (ret == -EIO)
		pr_err("pid %d: %s", sp->pid, why);
	return ret;
}

/*
 * rseq from ptrace where the BPF side could not read it from this
 * kernel's task_struct (or BPFCKPT_FALLBACK=rseq asks for it).
 */
static int read_rseq(struct snap_proc *sp, struct snap_thread *th, bool forced)
{
	struct ptrace_rseq_configuration conf;

	if (!(th->rec->missing & REC_MISS_RSEQ) && !forced)
		return 0;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, th->tid, sizeof(conf), &conf) !=
	    sizeof(conf)) {
		pr_err("pid %d: thread %d: PTRACE_GET_RSEQ_CONFIGURATION: %s",
		       sp->pid, th->tid, strerror(errno));
		return -errno;
	}
	th->rec->rseq = conf.rseq_abi_pointer;
	th->rec->rseq_len = conf.rseq_abi_size;
	th->rec->rseq_sig = conf.signature;
	return 0;
}

static int task_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct snap_proc *sp = data;
	const struct rec_task *r = (const void *)h;
	struct snap_thread *th, nt = { 0 };
	pid_t tid;
	int ret;

	if (h->type != REC_TASK)
		return 0;
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

/*
 * A thread's seccomp filters, newest first for PTRACE_SECCOMP_GET_FILTER
 * (index 0 is the last installed), stored oldest first: the order
 * restore installs them in.  PTRACE_SECCOMP_GET_METADATA gives each
 * filter's flags (SECCOMP_FILTER_FLAG_LOG).
 */
static int read_filters(struct snap_thread *th)
{
	struct seccomp_metadata meta;
	uint32_t n, i;
	long len;

	for (n = 0; ptrace(PTRACE_SECCOMP_GET_FILTER, th->tid, n, NULL) > 0; n++)
		;
	if (errno != ENOENT)
		return -errno;
	th->filters = calloc(n + 1, sizeof(*th->filters));
	if (!th->filters)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct snap_filter *f = &th->filters[n - 1 - i];

		len = ptrace(PTRACE_SECCOMP_GET_FILTER, th->tid, i, NULL);
		if (len <= 0 || len > IMG_SECCOMP_MAX_INSNS)
			return len < 0 ? -errno : -E2BIG;
		f->insns = calloc(len, 8);
		if (!f->insns)
			return -ENOMEM;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, th->tid, i, f->insns) != len)
			return -errno;
		meta.filter_off = i;
		meta.flags = 0;
		if (ptrace(PTRACE_SECCOMP_GET_METADATA, th->tid, sizeof(meta), &meta) < 0)
			return -errno;
		f->s.h.type = IMG_SECCOMP;
		f->s.tid = th->tid;
		f->s.flags = meta.flags;
		f->s.nr_insns = len;
	}
	th->ext.nr_filters = n;
	return 0;
}

/* what a thread set on itself that only it can read (or ptrace) */
static int read_thread_ext(struct snap_proc *sp, struct snap_thread *th)
{
	struct img_thread_ext *e = &th->ext;
	cpu_set_t set;
	int i, ret;

	e->h.type = IMG_THREAD_EXT;
	e->tid = th->tid;
	e->seccomp_mode = th->rec->seccomp_mode;
	if (sched_getaffinity(th->tid, sizeof(set), &set)) {
		pr_err("pid %d: thread %d: sched_getaffinity: %s", sp->pid, th->tid,
		       strerror(errno));
		return -errno;
	}
	_Static_assert(sizeof(set) == sizeof(e->affinity), "cpu_set_t");
	memcpy(e->affinity, &set, sizeof(e->affinity));
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			e->nr_cpus = i + 1;
	e->ioprio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, th->tid);
	if (e->ioprio < 0) {
		pr_err("pid %d: thread %d: ioprio_get: %s", sp->pid, th->tid,
		       strerror(errno));
		return -errno;
	}
	if (e->seccomp_mode != 2)
		return 0;
	ret = read_filters(th);
	if (ret)
		pr_err("pid %d: thread %d: reading its seccomp filters: %s", sp->pid,
		       th->tid, errstr(ret));
	return ret;
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
	return read_thread_ext(sp, th);
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
	else if (r->seccomp_mode > 2)
		snprintf(why, len, "thread %d runs under seccomp mode %u: not "
			 "supported", r->tid[r->self_level], r->seccomp_mode);
	else if (r->level < r->self_level)
		snprintf(why, len, "lives outside our pid namespace");
	else
		return 0;
	return -ENOTSUP;
}

/*
 * SEM_UNDO adjustments live in task->sysvsem.undo_list, which no /proc
 * file, semctl or ptrace request shows: only collect_sem_undo reads
 * them.  Without it, collect_task still tells whether the list has an
 * entry (r->sem_undo) but not what it holds -- an entry may even be
 * all zeros after an up and a down -- so any entry refuses the process,
 * and a process without one loses nothing.
 */
int task_check_sem_undo(const struct collector *c, const struct rec_task *r,
			char *why, size_t len)
{
	if (!r->sem_undo || collect_has(c, PROG_SEM_UNDO))
		return 0;
	snprintf(why, len, "thread %d did semop with SEM_UNDO, and BPF program %s, "
		 "which reads the adjustments, is not loaded (%s)", r->tid[r->self_level],
		 collect_progs[PROG_SEM_UNDO].name, c->st[PROG_SEM_UNDO].forced ?
		 "BPFCKPT_FALLBACK" : "refused by this kernel's verifier: 'bpfckpt "
		 "check' tells");
	return -ENOTSUP;
}

/* a child for task_landlock_word(): in a domain or not, then it waits */
static pid_t landlock_twin(bool confine, int ready)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE,
	};
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (confine) {
		fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
		if (fd < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_landlock_restrict_self, fd, 0))
			_exit(1);
	}
	if (write(ready, "x", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

struct blob_ctx {
	uint64_t blob[BCK_CRED_BLOB_WORDS];
	bool found;
};

static int blob_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct blob_ctx *b = data;

	if (h->type != REC_TASK || size < sizeof(struct rec_task))
		return 0;
	memcpy(b->blob, ((const struct rec_task *)h)->cred_blob, sizeof(b->blob));
	b->found = true;
	return 0;
}

int task_landlock_word(struct collector *c)
{
	struct blob_ctx b[2] = { 0 };
	int p[2], i, word = -1;
	pid_t kid[2] = { -1, -1 };
	char x;

	/* no Landlock here (ENOSYS, or EOPNOTSUPP when not enabled): nothing to find */
	if (syscall(SYS_landlock_create_ruleset, NULL, 0,
		    LANDLOCK_CREATE_RULESET_VERSION) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	for (i = 0; i < 2; i++) {
		kid[i] = landlock_twin(i, p[1]);
		if (kid[i] < 0 || read(p[0], &x, 1) != 1 ||
		    collect_proc(c, COLLECT_TASKS, kid[i], blob_cb, &b[i]) || !b[i].found)
			goto out;
	}
	/*
	 * The blob is as long as the LSMs want (Landlock alone here: its
	 * domain pointer, then domain_exec): what follows it in the slab is
	 * anything.  The first word clear in the twin and holding a kernel
	 * pointer in the confined one is the domain.
	 */
	for (i = 0; i < BCK_CRED_BLOB_WORDS && word < 0; i++)
		if (!b[0].blob[i] && b[1].blob[i] >= 0xffff800000000000ULL)
			word = i;
out:
	for (i = 0; i < 2; i++) {
		if (kid[i] > 0) {
			kill(kid[i], SIGKILL);
			waitpid(kid[i], NULL, 0);
		}
	}
	close(p[0]);
	close(p[1]);
	if (word < 0)
		pr_warn("cannot tell where Landlock keeps a task's domain: a process "
			"in a Landlock domain would not be refused, and loses it at "
			"restore");
	return word;
}

int task_check_landlock(const struct rec_task *r, int word, char *why, size_t len)
{
	if (word < 0 || word >= BCK_CRED_BLOB_WORDS || !r->cred_blob[word])
		return 0;
	snprintf(why, len, "thread %d is confined by Landlock, whose rules cannot be "
		 "read from outside the process to be made again: not supported",
		 r->tid[r->self_level]);
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

char task_state_letter(uint32_t state, uint32_t exit_state)
{
	/* fs/proc/array.c task_state_array[], by the highest TASK_REPORT bit */
	static const char letters[] = "RSDTtXZP";
	uint32_t report = (state | exit_state) & 0x7f;
	int bit = 0;

	if ((state & 0x47f) == TASK_IDLE)
		return 'I';
	while (report >> bit)
		bit++;
	return letters[bit];
}

char task_state_char(const struct rec_task *r)
{
	return task_state_letter(r->state, r->exit_state);
}

/*
 * THP_enabled in /proc/PID/status and /proc/PID/coredump_filter: both
 * live in mm->flags bits that are #defines, not BTF, and moved in 6.18;
 * /proc is their stable interface.
 */
/*
 * mm->membarrier_state (include/linux/sched/mm.h): each registration
 * sets its _READY bit once it is complete; the bits have not moved
 * since membarrier's sync-core and rseq commands came (4.16, 5.10).
 */
static const struct { uint32_t kernel, img; } membarrier_bits[] = {
	{ 1u << 0, IMG_MB_PRIVATE_EXPEDITED },
	{ 1u << 2, IMG_MB_GLOBAL_EXPEDITED },
	{ 1u << 4, IMG_MB_SYNC_CORE },
	{ 1u << 6, IMG_MB_RSEQ },
};

static int read_proc_ext(struct snap_proc *sp)
{
	const struct rec_task *r = sp->threads[0].rec;
	char path[64], buf[32];
	struct stat st;
	size_t i;

	sp->ext.h.type = IMG_PROC_EXT;
	/* no membarrier_state: a kernel without CONFIG_MEMBARRIER, none */
	for (i = 0; i < ARRAY_SIZE(membarrier_bits); i++)
		if (r->membarrier & membarrier_bits[i].kernel)
			sp->ext.membarrier |= membarrier_bits[i].img;
	sp->ext.session_keyring = r->session_keyring;
	snprintf(path, sizeof(path), "/proc/%d/loginuid", sp->pid);
	/* no file: a kernel without audit, nothing to keep */
	sp->ext.loginuid = read_file(path, buf, sizeof(buf)) > 0 ?
			   strtoul(buf, NULL, 10) : (uint32_t)-1;
	/* a deleted cwd is recreated like this (the magic link still stats) */
	snprintf(path, sizeof(path), "/proc/%d/cwd", sp->pid);
	if (!stat(path, &st)) {
		sp->ext.cwd_mode = st.st_mode & 07777;
		sp->ext.cwd_uid = st.st_uid;
		sp->ext.cwd_gid = st.st_gid;
	}
	return 0;
}

static int read_mm_extras(struct snap_proc *sp)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", sp->pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	p = strstr(buf, "THP_enabled:");
	sp->thp_disabled = p && atoi(p + 12) == 0;
	snprintf(path, sizeof(path), "/proc/%d/coredump_filter", sp->pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	sp->coredump_filter = strtoul(buf, NULL, 16);
	return read_proc_ext(sp);
}

int task_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	char why[256];
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
		if (!ret && (task_check_landlock(th->rec, ctx->landlock_word, why,
						 sizeof(why)) ||
			     task_check_sem_undo(&ctx->col, th->rec, why, sizeof(why)))) {
			pr_err("pid %d: %s", sp->pid, why);
			ret = -ENOTSUP;
		}
		if (ret)
			return ret;
		if (sp->zombie)
			continue;
		ret = read_thread(ctx, sp, th);
		if (!ret)
			ret = read_rseq(sp, th, fallback_forced("rseq"));
		if (ret)
			return ret;
	}
	if (!sp->zombie) {
		ret = read_paths(sp);
		if (!ret)
			ret = collect_timers(ctx, sp);
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
	return read_mm_extras(sp);
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
	if (r->mm_flags & (1ULL << MMF_HAS_MDWE))
		p->flags |= IMG_PROC_MDWE;
	if (r->mm_flags & (1ULL << MMF_HAS_MDWE_NO_INHERIT))
		p->flags |= IMG_PROC_MDWE_NO_INHERIT;
	if (r->mm_flags & (1ULL << MMF_VM_MERGE_ANY))
		p->flags |= IMG_PROC_MERGE_ANY;
	if (r->mm_def_flags & KVM_LOCKED)
		p->flags |= IMG_PROC_MLOCK_FUTURE;
	if (r->mm_def_flags & KVM_LOCKONFAULT)
		p->flags |= IMG_PROC_MLOCK_ONFAULT;
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
	p->exit_signal = r->exit_signal;
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
	p.coredump_filter = sp->coredump_filter;
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
	if (r->timer_slack_ns != r->default_timer_slack_ns)
		t->timer_slack_ns = r->timer_slack_ns;
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

/* right after the thread: its IMG_THREAD_EXT, then its filters */
static int write_thread_ext(struct snap_ctx *ctx, struct snap_thread *th)
{
	uint32_t i;
	int ret;

	ret = img_put(ctx->w, &th->ext, sizeof(th->ext), NULL, 0);
	for (i = 0; !ret && i < th->ext.nr_filters; i++) {
		struct snap_filter *f = &th->filters[i];
		struct img_part part = { f->insns, f->s.nr_insns * 8ul };

		ret = img_put(ctx->w, &f->s, sizeof(f->s), &part, 1);
	}
	return ret;
}

void task_fill_timer(struct img_timer *t, const struct rec_timer *rt)
{
	memset(t, 0, sizeof(*t));
	t->h.type = IMG_TIMER;
	t->id = rt->id;
	t->clock = rt->clock;
	t->notify = rt->notify;
	t->signo = rt->signo;
	t->target = rt->target;
	t->value = rt->value;
	t->interval_ns = rt->interval_ns;
	t->value_ns = rt->armed == 1 ? rt->rem_ns : 0;
	t->overrun = rt->overrun;
}

static int write_timer(struct snap_ctx *ctx, const struct rec_timer *rt)
{
	struct img_timer t;

	task_fill_timer(&t, rt);
	return img_put(ctx->w, &t, sizeof(t), NULL, 0);
}

int task_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i, j;
	int ret;

	ret = write_proc(ctx, sp);
	if (!ret && !sp->zombie)
		ret = img_put(ctx->w, &sp->ext, sizeof(sp->ext), NULL, 0);
	for (i = 0; !ret && !sp->zombie && i < sp->nr_threads; i++) {
		ret = write_thread(ctx, &sp->threads[i]);
		if (!ret)
			ret = write_thread_ext(ctx, &sp->threads[i]);
	}
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
		struct snap_thread *th = &sp->threads[i];
		uint32_t j;

		for (j = 0; th->filters && j < th->ext.nr_filters; j++)
			free(th->filters[j].insns);
		free(th->filters);
		free(th->rec);
		free(th->xstate);
		free(th->sigs);
	}
	free(sp->threads);
	for (i = 0; i < 3; i++)
		free(sp->paths[i]);
	free(sp->timers);
	free(sp->sigs);
}

/* ---- restore ---- */

#define THREAD_FLAGS	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
			 CLONE_THREAD | CLONE_SYSVSEM)
#define ROBUST_LIST_LEN	24	/* sizeof(struct robust_list_head) */
#define CAP_LAST	63

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE	6
#endif

/*
 * sched_setscheduler() takes every policy but SCHED_DEADLINE, whose
 * runtime, deadline and period (sched_setattr) the image does not hold;
 * POSIX timers come back on the hrtimer clocks, with their ids only
 * through PR_TIMER_CREATE_RESTORE_IDS.
 */
static int check_proc(const struct m_proc *mp, struct verdict *v)
{
	uint32_t i, policy;
	int ret = 0;

	for (i = 0; !ret && i < mp->nr_threads; i++) {
		policy = mp->threads[i].t->policy & ~SCHED_RESET_ON_FORK;
		if (policy == SCHED_DEADLINE)
			ret = verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "task",
					     "thread %d runs under SCHED_DEADLINE: not "
					     "supported", mp->threads[i].t->tid[0]);
	}
	for (i = 0; !ret && i < mp->nr_timers; i++) {
		const struct img_timer *t = mp->timers[i];

		if (t->clock != CLOCK_REALTIME && t->clock != CLOCK_MONOTONIC &&
		    t->clock != CLOCK_BOOTTIME && t->clock != CLOCK_TAI)
			ret = verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "task",
					     "POSIX timer %d on clock %d: not supported",
					     t->id, t->clock);
	}
	if (!ret && mp->nr_timers && !probe_timer_ids())
		ret = verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "task",
				     "POSIX timers need PR_TIMER_CREATE_RESTORE_IDS "
				     "(Linux 6.16) to get their ids back");
	return ret;
}

/*
 * seccomp(SECCOMP_SET_MODE_FILTER) needs no_new_privs or CAP_SYS_ADMIN;
 * an affinity mask must name a CPU this machine has (else EINVAL).
 */
static int check_thread_ext(const struct m_proc *mp, const struct m_thread *mt,
			    struct verdict *v)
{
	const struct img_thread_ext *e = mt->ext;
	cpu_set_t set, here;
	int ret = 0;

	if (!e)
		return 0;
	if (e->nr_filters && !(mt->t->flags & IMG_THREAD_NO_NEW_PRIVS) &&
	    !(mt->t->creds.cap_eff & (1ULL << CAP_SYS_ADMIN)))
		ret = verdict_refuse(v, -EPERM, mp->p->pid[0], "task",
				     "thread %d has seccomp filters but neither "
				     "no_new_privs nor CAP_SYS_ADMIN: they cannot "
				     "be installed again", mt->t->tid[0]);
	memcpy(&set, e->affinity, sizeof(set));
	if (!ret && e->nr_cpus && !sched_getaffinity(0, sizeof(here), &here)) {
		CPU_AND(&here, &here, &set);
		if (!CPU_COUNT(&here))
			ret = verdict_refuse(v, -EINVAL, mp->p->pid[0], "task",
					     "thread %d may run only on CPUs this "
					     "machine does not offer", mt->t->tid[0]);
	}
	return ret;
}

/*
 * KEY_SPEC_SESSION_KEYRING without creating one; 0: none of its own.
 * @user_ses: the user-session keyring.
 */
static int32_t my_session_keyring(int32_t *user_ses)
{
	long ses = syscall(SYS_keyctl, 0, -3, 0);	/* KEYCTL_GET_KEYRING_ID */
	long us = syscall(SYS_keyctl, 0, -5, 0);

	*user_ses = us < 0 ? 0 : (int32_t)us;
	/* a process without one falls back on its user-session keyring */
	return ses < 0 || ses == us ? 0 : (int32_t)ses;
}

/*
 * Keys are not saved: a process comes back with the session keyring of
 * its restorer, which must be the one it had (restore from the same
 * login session), or --force.
 */
static int check_keyring(const struct m_proc *mp, struct verdict *v)
{
	int32_t mine, user_ses;

	if (!mp->ext || v->force)
		return 0;
	mine = my_session_keyring(&user_ses);
	/*
	 * Looking up KEY_SPEC_SESSION_KEYRING installs the user-session
	 * keyring as the session keyring of a process that has none
	 * (lookup_user_key(), security/keys/process_keys.c): our own
	 * lookup above did it to the restorer, so the processes it restores
	 * have that one, and a later snap records it.  It is the same
	 * keyring as "none of its own".
	 */
	if (mp->ext->session_keyring == mine ||
	    (!mine && mp->ext->session_keyring == user_ses))
		return 0;
	return verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "task",
			      "its session keyring is %d, this restore's is %d: keys "
			      "are not saved (restore from its session, or --force "
			      "to give it this one)", mp->ext->session_keyring, mine);
}

int task_check_image(const struct ckpt_image *img, struct verdict *v)
{
	uint32_t i, j;
	int ret = 0;

	for (i = 0; !ret && i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		ret = check_proc(mp, v);
		for (j = 0; !ret && j < mp->nr_threads; j++)
			ret = check_thread_ext(mp, &mp->threads[j], v);
		if (!ret)
			ret = check_keyring(mp, v);
	}
	return ret;
}

static int make_thread(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t i)
{
	const struct img_thread *t = rp->mp->threads[i].t;
	uint32_t levels = rp->mp->p->nr_levels;
	struct {
		struct clone_args a;
		pid_t set_tid[BCK_NS_LEVELS];
	} buf;
	uint64_t addr, args[6] = { 0 };
	pid_t new_tid = 0;
	long ret;
	int err, st;

	memset(&buf, 0, sizeof(buf));
	buf.a.flags = THREAD_FLAGS;
	buf.a.set_tid = rst_scratch(ctx, offsetof(typeof(buf), set_tid));
	buf.a.set_tid_size = ns_set_tid(ctx, t->tid, levels, buf.set_tid);
	err = rst_put(ctx, rp, 0, &buf, sizeof(buf), &addr);
	if (err)
		return err;
	args[0] = addr;
	args[1] = sizeof(buf.a);
	err = rst_call(ctx, rp, 0, "clone3 of a thread", SYS_clone3, args, &ret,
		       &new_tid);
	if (err)
		return err;
	/* @ret is its tid in its own namespace, @new_tid ours (a container's: any) */
	if (ret != t->tid[levels - 1] ||
	    (ctx->root_levels < 2 && new_tid != t->tid[0])) {
		pr_err("pid %d: thread %d came back as %ld", rp->pid, t->tid[0], ret);
		return -EEXIST;
	}
	/* auto-attached (PTRACE_O_TRACECLONE): it starts in a stop */
	while (waitpid(new_tid, &st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	rp->tids[i] = new_tid;
	return arch_get_regs(new_tid, rp->tmpl[i]);
}

int task_restore_threads(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t i;
	int ret;

	for (i = 1; i < rp->mp->nr_threads; i++) {
		ret = make_thread(ctx, rp, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* a child of @rp goes back into a job-control stop at the end of the restore */
static bool has_stopped_child(const struct restore_ctx *ctx, const struct rst_proc *rp)
{
	uint32_t i;

	for (i = 0; i < rp->nr_children; i++)
		if (ctx->procs[rp->children[i]].mp->p->flags & IMG_PROC_STOPPED)
			return true;
	return false;
}

static int set_sigaction(struct restore_ctx *ctx, struct rst_proc *rp, int sig,
			 const struct img_sigaction *sa)
{
	uint64_t addr;
	long r;
	int ret;

	/* struct kernel_sigaction has the image's layout */
	ret = rst_put(ctx, rp, 0, sa, sizeof(*sa), &addr);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "rt_sigaction", SYS_rt_sigaction,
				  sig, addr, 0, sizeof(uint64_t), 0, 0, &r);
	return ret;
}

/*
 * A child that re-enters its group stop notifies its parent (SIGCHLD,
 * CLD_STOPPED) -- a notification the parent had long ago -- and the
 * parent, traced by us, gets it queued even where SIGCHLD is ignored
 * (sig_ignored() keeps every signal for a traced task).  So until its
 * children have stopped, a parent has SA_NOCLDSTOP on its SIGCHLD
 * (do_notify_parent_cldstop() then sends nothing); task_restore_finish()
 * puts the real action back, after the children's finish (they go
 * first).
 */
static int restore_sigactions(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct img_proc *p = rp->mp->p;
	struct img_sigaction quiet;
	int sig, ret;

	for (sig = 1; sig <= BCK_NSIG; sig++) {
		const struct img_sigaction *sa = &p->sigact[sig - 1];

		if (sig == SIGCHLD && has_stopped_child(ctx, rp)) {
			quiet = *sa;
			quiet.flags |= SA_NOCLDSTOP;
			sa = &quiet;
		}
		if (sig == SIGKILL || sig == SIGSTOP ||
		    (!sa->handler && !sa->flags && !sa->mask))
			continue;
		ret = set_sigaction(ctx, rp, sig, sa);
		if (ret)
			return ret;
	}
	return 0;
}

static struct timeval ns_to_tv(uint64_t ns)
{
	return (struct timeval){ ns / 1000000000ULL, ns % 1000000000ULL / 1000 };
}

static struct timespec ns_to_ts(uint64_t ns)
{
	return (struct timespec){ ns / 1000000000ULL, ns % 1000000000ULL };
}

static int restore_itimers(struct restore_ctx *ctx, struct rst_proc *rp)
{
	static const int which[3] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };
	const struct img_proc *p = rp->mp->p;
	struct itimerval itv;
	uint64_t addr;
	long r;
	int i, ret;

	for (i = 0; i < 3; i++) {
		uint64_t value = p->itimer[i].value_ns;

		/*
		 * Not armed but with an interval: a periodic ITIMER_REAL whose
		 * SIGALRM is pending; the kernel re-arms it when the signal is
		 * dequeued.  setitimer() cannot make that state (a zero value
		 * clears the interval too), so it runs again one interval on.
		 */
		if (!value)
			value = p->itimer[i].interval_ns;
		if (!value)
			continue;
		itv.it_value = ns_to_tv(value);
		if (!itv.it_value.tv_sec && !itv.it_value.tv_usec)
			itv.it_value.tv_usec = 1;
		itv.it_interval = ns_to_tv(p->itimer[i].interval_ns);
		ret = rst_put(ctx, rp, 0, &itv, sizeof(itv), &addr);
		if (!ret)
			ret = rst_syscall(ctx, rp, 0, "setitimer", SYS_setitimer,
					  which[i], addr, 0, 0, 0, 0, &r);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Injected syscalls name pids as the target sees them: the numbers of
 * its own pid namespace, not the image's level 0 (@tid: a level-0 tid).
 */
static pid_t own_pid(const struct rst_proc *rp)
{
	return rp->mp->p->pid[rp->mp->p->nr_levels - 1];
}

static pid_t own_tid(const struct rst_proc *rp, int32_t tid)
{
	uint32_t i, top = rp->mp->p->nr_levels - 1;

	for (i = 0; i < rp->mp->nr_threads; i++)
		if (rp->mp->threads[i].t->tid[0] == tid)
			return rp->mp->threads[i].t->tid[top];
	return tid;
}

static int restore_timer(struct restore_ctx *ctx, struct rst_proc *rp,
			 const struct img_timer *t)
{
	struct sigevent sev;
	struct itimerspec its;
	uint64_t sev_addr, id_addr, its_addr;
	int32_t id = t->id;
	long r;
	int ret;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)t->value;
	sev.sigev_signo = t->signo;
	sev.sigev_notify = t->notify;
	sev._sigev_un._tid = t->target ? own_tid(rp, t->target) : 0;
	its.it_value = ns_to_ts(t->value_ns);
	its.it_interval = ns_to_ts(t->interval_ns);
	ret = rst_put(ctx, rp, 0, &sev, sizeof(sev), &sev_addr);
	if (!ret)
		ret = rst_put(ctx, rp, 128, &id, sizeof(id), &id_addr);
	if (!ret)
		ret = rst_put(ctx, rp, 256, &its, sizeof(its), &its_addr);
	/* with PR_TIMER_CREATE_RESTORE_IDS on, the id is read from *id_addr */
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "timer_create", SYS_timer_create,
				  t->clock, sev_addr, id_addr, 0, 0, 0, &r);
	if (!ret && t->value_ns)
		ret = rst_syscall(ctx, rp, 0, "timer_settime", SYS_timer_settime,
				  t->id, 0, its_addr, 0, 0, 0, &r);
	return ret;
}

static int restore_timers(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t i;
	long r;
	int ret;

	if (!rp->mp->nr_timers)
		return 0;
	ret = rst_syscall(ctx, rp, 0, "prctl(PR_TIMER_CREATE_RESTORE_IDS)",
			  SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
			  PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0, &r);
	for (i = 0; !ret && i < rp->mp->nr_timers; i++)
		ret = restore_timer(ctx, rp, rp->mp->timers[i]);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "prctl(PR_TIMER_CREATE_RESTORE_IDS)",
				  SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
				  PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0, &r);
	return ret;
}

/* robust futex list, clear_child_tid, alternate stack, rseq */
static int restore_thread_regs_state(struct restore_ctx *ctx, struct rst_proc *rp,
				     uint32_t i)
{
	const struct img_thread *t = rp->mp->threads[i].t;
	stack_t ss;
	uint64_t addr;
	long r;
	int ret = 0;

	if (t->robust_list)
		ret = rst_syscall(ctx, rp, i, "set_robust_list", SYS_set_robust_list,
				  t->robust_list, ROBUST_LIST_LEN, 0, 0, 0, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "set_tid_address", SYS_set_tid_address,
				  t->clear_child_tid, 0, 0, 0, 0, 0, &r);
	/*
	 * Always, SS_DISABLE if it had none: the leader inherited the
	 * restorer's alternate stack through clone (copy_process() resets
	 * it only for CLONE_VM), and under ASan the restorer has one.  An
	 * SA_ONSTACK handler (python sets SA_ONSTACK on all of its) would
	 * then run on memory the image does not have.
	 */
	if (!ret) {
		ss.ss_sp = (void *)(uintptr_t)t->sas_sp;
		ss.ss_size = t->sas_size;
		ss.ss_flags = t->sas_size ? t->sas_flags : SS_DISABLE;
		ret = rst_put(ctx, rp, 0, &ss, sizeof(ss), &addr);
		if (!ret)
			ret = rst_syscall(ctx, rp, i, "sigaltstack", SYS_sigaltstack,
					  addr, 0, 0, 0, 0, 0, &r);
	}
	if (!ret && t->rseq)
		ret = rst_syscall(ctx, rp, i, "rseq", SYS_rseq, t->rseq, t->rseq_len,
				  0, t->rseq_sig, 0, 0, &r);
	/* /proc/PID/task/TID/comm takes writes from the thread group only */
	if (!ret)
		ret = rst_put(ctx, rp, 0, t->comm, sizeof(t->comm), &addr);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "PR_SET_NAME", SYS_prctl, PR_SET_NAME,
				  addr, 0, 0, 0, 0, &r);
	return ret;
}

static uint64_t queued_mask(const struct m_proc *mp, int32_t tid)
{
	uint64_t m = 0;
	uint32_t i;

	for (i = 0; i < mp->nr_sigs; i++)
		if (mp->sigs[i]->tid == tid)
			m |= 1ULL << (mp->sigs[i]->signo - 1);
	return m;
}

/* signals without a queued siginfo (SI_USER ones the queue dropped) */
static int raise_bits(struct restore_ctx *ctx, struct rst_proc *rp, int32_t tid,
		      uint64_t bits)
{
	int sig, ret;
	long r;

	tid = tid ? own_tid(rp, tid) : 0;
	bits &= ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	for (sig = 1; sig <= BCK_NSIG; sig++) {
		if (!(bits & (1ULL << (sig - 1))))
			continue;
		ret = tid ? rst_syscall(ctx, rp, 0, "tgkill", SYS_tgkill, own_pid(rp),
					tid, sig, 0, 0, 0, &r) :
			    rst_syscall(ctx, rp, 0, "kill", SYS_kill, own_pid(rp), sig,
					0, 0, 0, 0, &r);
		if (ret)
			return ret;
	}
	return 0;
}

/* index of thread @tid in the image's threads, 0 if none */
static uint32_t thread_index(const struct m_proc *mp, int32_t tid)
{
	uint32_t i;

	for (i = 0; i < mp->nr_threads; i++)
		if (mp->threads[i].t->tid[0] == tid)
			return i;
	return 0;
}

/*
 * Queued from inside the process itself.  do_rt_sigqueueinfo() and
 * do_rt_tgsigqueueinfo() (kernel/signal.c) refuse with EPERM a siginfo
 * that claims si_code >= 0 (kill()'s SI_USER, the kernel's) or SI_TKILL
 * (tgkill()'s) unless task_pid_vnr(current) is the target pid: so a
 * process's queue is filled from its main thread (tid == pid), and a
 * thread's own queue from that very thread.  Every thread still blocks
 * everything.
 */
static int restore_pending(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct m_proc *mp = rp->mp;
	uint64_t addr;
	uint32_t i;
	long r;
	int ret;

	for (i = 0; i < mp->nr_sigs; i++) {
		const struct img_siginfo *s = mp->sigs[i];

		ret = rst_put(ctx, rp, 0, s->info, sizeof(s->info), &addr);
		if (ret)
			return ret;
		ret = s->tid ?
		      rst_syscall(ctx, rp, thread_index(mp, s->tid), "rt_tgsigqueueinfo",
				  SYS_rt_tgsigqueueinfo, own_pid(rp), own_tid(rp, s->tid),
				  s->signo, addr, 0, 0, &r) :
		      rst_syscall(ctx, rp, 0, "rt_sigqueueinfo", SYS_rt_sigqueueinfo,
				  own_pid(rp), s->signo, addr, 0, 0, 0, &r);
		if (ret)
			return ret;
	}
	ret = raise_bits(ctx, rp, 0, mp->p->shared_pending & ~queued_mask(mp, 0));
	for (i = 0; !ret && i < mp->nr_threads; i++) {
		const struct img_thread *t = mp->threads[i].t;

		ret = raise_bits(ctx, rp, t->tid[0],
				 t->pending & ~queued_mask(mp, t->tid[0]));
	}
	return ret;
}

static bool creds_are_ours(const struct img_creds *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uid_t r, e, s;
	gid_t gr, ge, gs;

	if (getresuid(&r, &e, &s) || getresgid(&gr, &ge, &gs) ||
	    syscall(SYS_capget, &h, d))
		return false;
	return c->uid == r && c->euid == e && c->suid == s && c->fsuid == e &&
	       c->gid == gr && c->egid == ge && c->sgid == gs && c->fsgid == ge &&
	       c->ngroups == (uint32_t)getgroups(0, NULL) && c->ngroups == 0 &&
	       c->securebits == (uint32_t)prctl(PR_GET_SECUREBITS) &&
	       c->cap_eff == (d[0].effective | (uint64_t)d[1].effective << 32) &&
	       c->cap_prm == (d[0].permitted | (uint64_t)d[1].permitted << 32) &&
	       c->cap_inh == (d[0].inheritable | (uint64_t)d[1].inheritable << 32) &&
	       !c->cap_amb;
}

/*
 * Credentials last, thread by thread (they are per thread in the
 * kernel): groups and gids, the bounding set (needs CAP_SETPCAP), uids
 * with SECBIT_KEEP_CAPS so the capabilities survive, then the
 * capability sets themselves and the ambient set.
 */
static int restore_creds(struct restore_ctx *ctx, struct rst_proc *rp, uint32_t i)
{
	const struct img_creds *c = &rp->mp->threads[i].t->creds;
	struct {
		struct __user_cap_header_struct h;
		struct __user_cap_data_struct d[2];
	} caps = { { _LINUX_CAPABILITY_VERSION_3, 0 }, {
		{ c->cap_eff, c->cap_prm, c->cap_inh },
		{ c->cap_eff >> 32, c->cap_prm >> 32, c->cap_inh >> 32 } } };
	uint64_t addr, haddr;
	long r;
	int cap, ret;

	if (creds_are_ours(c))
		return 0;
	ret = rst_put(ctx, rp, 0, c->groups, c->ngroups * sizeof(c->groups[0]), &addr);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "setgroups", SYS_setgroups, c->ngroups,
				  addr, 0, 0, 0, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "setresgid", SYS_setresgid, c->gid,
				  c->egid, c->sgid, 0, 0, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "setfsgid", SYS_setfsgid, c->fsgid,
				  0, 0, 0, 0, 0, &r);
	for (cap = 0; !ret && cap <= CAP_LAST; cap++) {
		if (c->cap_bnd & (1ULL << cap) || prctl(PR_CAPBSET_READ, cap) != 1)
			continue;
		ret = rst_syscall(ctx, rp, i, "PR_CAPBSET_DROP", SYS_prctl,
				  PR_CAPBSET_DROP, cap, 0, 0, 0, 0, &r);
	}
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "PR_SET_SECUREBITS", SYS_prctl,
				  PR_SET_SECUREBITS, c->securebits | SECBIT_KEEP_CAPS,
				  0, 0, 0, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "setresuid", SYS_setresuid, c->uid,
				  c->euid, c->suid, 0, 0, 0, &r);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "setfsuid", SYS_setfsuid, c->fsuid,
				  0, 0, 0, 0, 0, &r);
	if (!ret)
		ret = rst_put(ctx, rp, 0, &caps, sizeof(caps), &haddr);
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "capset", SYS_capset, haddr,
				  haddr + sizeof(caps.h), 0, 0, 0, 0, &r);
	for (cap = 0; !ret && cap <= CAP_LAST; cap++)
		if (c->cap_amb & (1ULL << cap))
			ret = rst_syscall(ctx, rp, i, "PR_CAP_AMBIENT_RAISE", SYS_prctl,
					  PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap,
					  0, 0, 0, &r);
	/* PR_SET_KEEPCAPS needs no capability, unlike PR_SET_SECUREBITS */
	if (!ret && !(c->securebits & SECBIT_KEEP_CAPS))
		ret = rst_syscall(ctx, rp, i, "PR_SET_KEEPCAPS", SYS_prctl,
				  PR_SET_KEEPCAPS, 0, 0, 0, 0, 0, &r);
	return ret;
}

static int restore_thread_prctls(struct restore_ctx *ctx, struct rst_proc *rp,
				 uint32_t i)
{
	const struct img_thread *t = rp->mp->threads[i].t;
	int32_t pdeath = t->pdeath_sig;
	long r;
	int ret = 0;

	/*
	 * The root's death signal was tied to its parent outside the image;
	 * its parent now is the restorer, which -d makes exit at once: the
	 * signal would kill (or wake) the process as soon as it is back.
	 */
	if (pdeath && rp->mp->parent < 0 && ctx->detach) {
		pr_warn("pid %d: thread %d: its parent death signal %d is not restored: "
			"with -d its parent, the restorer, exits now", rp->pid,
			rp->tids[i], pdeath);
		pdeath = 0;
	}
	if (t->flags & IMG_THREAD_NO_NEW_PRIVS)
		ret = rst_syscall(ctx, rp, i, "PR_SET_NO_NEW_PRIVS", SYS_prctl,
				  PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0, &r);
	if (!ret && t->timer_slack_ns)
		ret = rst_syscall(ctx, rp, i, "PR_SET_TIMERSLACK", SYS_prctl,
				  PR_SET_TIMERSLACK, t->timer_slack_ns, 0, 0, 0, 0, &r);
	/* after the credentials: changing them clears the death signal */
	if (!ret)
		ret = rst_syscall(ctx, rp, i, "PR_SET_PDEATHSIG", SYS_prctl,
				  PR_SET_PDEATHSIG, pdeath, 0, 0, 0, 0, &r);
	return ret;
}

/* membarrier(2) registrations, with the commands that made them */
static int restore_membarrier(struct restore_ctx *ctx, struct rst_proc *rp)
{
	static const struct { uint32_t img; int cmd; const char *what; } cmds[] = {
		{ IMG_MB_PRIVATE_EXPEDITED, 1 << 4, "REGISTER_PRIVATE_EXPEDITED" },
		{ IMG_MB_GLOBAL_EXPEDITED, 1 << 2, "REGISTER_GLOBAL_EXPEDITED" },
		{ IMG_MB_SYNC_CORE, 1 << 6, "REGISTER_PRIVATE_EXPEDITED_SYNC_CORE" },
		{ IMG_MB_RSEQ, 1 << 8, "REGISTER_PRIVATE_EXPEDITED_RSEQ" },
	};
	const struct img_proc_ext *e = rp->mp->ext;
	size_t i;
	long r;
	int ret;

	for (i = 0; e && i < ARRAY_SIZE(cmds); i++) {
		if (!(e->membarrier & cmds[i].img))
			continue;
		ret = rst_syscall(ctx, rp, 0, cmds[i].what, SYS_membarrier, cmds[i].cmd,
				  0, 0, 0, 0, 0, &r);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * chroot() in the target; a root removed before the snap is made again
 * under its name, entered and removed, as a deleted cwd is (pstree.c).
 */
static int restore_root(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const char *root = rp->mp->root;
	char path[BCK_PATH_MAX];
	bool deleted = path_is_deleted(root);
	uint64_t addr;
	long r;
	int ret;

	snprintf(path, sizeof(path), "%.*s", (int)(strlen(root) -
		 (deleted ? strlen(DELETED_SUFFIX) : 0)), root);
	if (deleted && mkdir(path, 0755)) {
		pr_err("pid %d: recreating its deleted root %s: %s", rp->pid, path,
		       strerror(errno));
		return -errno;
	}
	ret = rst_put(ctx, rp, 0, path, strlen(path) + 1, &addr);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "chroot", SYS_chroot, addr, 0, 0, 0, 0, 0, &r);
	if (deleted && rmdir(path) && !ret) {
		pr_err("pid %d: removing its recreated root %s: %s", rp->pid, path,
		       strerror(errno));
		ret = -errno;
	}
	return ret;
}

static int restore_proc_prctls(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct img_proc *p = rp->mp->p;
	long r;
	int ret = 0;

	if (p->flags & IMG_PROC_THP_DISABLE)
		ret = rst_syscall(ctx, rp, 0, "PR_SET_THP_DISABLE", SYS_prctl,
				  PR_SET_THP_DISABLE, 1, 0, 0, 0, 0, &r);
	/*
	 * Memory-deny-write-execute, once all memory is in place (it can
	 * never be turned off).  Without it the restored process would be
	 * silently allowed to map memory writable and executable.
	 */
	if (!ret && p->flags & IMG_PROC_MDWE)
		ret = rst_syscall(ctx, rp, 0, "PR_SET_MDWE", SYS_prctl, PR_SET_MDWE,
				  PR_MDWE_REFUSE_EXEC_GAIN |
				  (p->flags & IMG_PROC_MDWE_NO_INHERIT ?
				   PR_MDWE_NO_INHERIT : 0), 0, 0, 0, 0, &r);
	/* KSM for the whole process, new mappings included */
	if (!ret && p->flags & IMG_PROC_MERGE_ANY)
		ret = rst_syscall(ctx, rp, 0, "PR_SET_MEMORY_MERGE", SYS_prctl,
				  PR_SET_MEMORY_MERGE, 1, 0, 0, 0, 0, &r);
	if (!ret && p->flags & IMG_PROC_SUBREAPER)
		ret = rst_syscall(ctx, rp, 0, "PR_SET_CHILD_SUBREAPER", SYS_prctl,
				  PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0, &r);
	if (!ret && rp->mp->root && strcmp(rp->mp->root, "/"))
		ret = restore_root(ctx, rp);
	return ret;
}

static int set_proc_file(pid_t pid, const char *name, const char *val)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		pr_err("pid %d: setting %s to %s: %s", pid, name, val, errstr(ret));
	return ret;
}

/* from the outside: limits, OOM score, core dump filter, scheduling */
/* affinity and I/O priority: set from outside, per thread */
static int restore_thread_sched(struct rst_proc *rp, uint32_t i)
{
	const struct img_thread_ext *e = rp->mp->threads[i].ext;
	pid_t tid = rp->tids[i];
	cpu_set_t set;

	if (!e)
		return 0;
	memcpy(&set, e->affinity, sizeof(set));
	/* CPUs this machine lacks are dropped by the kernel; none at all: EINVAL */
	if (e->nr_cpus && sched_setaffinity(tid, sizeof(set), &set)) {
		pr_err("pid %d: thread %d: sched_setaffinity: %s", rp->pid, tid,
		       strerror(errno));
		return -errno;
	}
	/* 0: never set (IOPRIO_CLASS_NONE, from the nice value) */
	if (e->ioprio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, e->ioprio)) {
		pr_err("pid %d: thread %d: ioprio_set %#x: %s", rp->pid, tid,
		       e->ioprio, strerror(errno));
		return -errno;
	}
	return 0;
}

static int restore_from_outside(struct rst_proc *rp)
{
	const struct m_proc *mp = rp->mp;
	char buf[32];
	struct rlimit rl;
	uint32_t i;
	int res, ret;

	for (res = 0; res < BCK_NRLIMITS; res++) {
		rl.rlim_cur = mp->p->rlim[res].cur;
		rl.rlim_max = mp->p->rlim[res].max;
		if (prlimit(rp->pid, res, &rl, NULL)) {
			pr_err("pid %d: setting rlimit %d to %llu/%llu: %s%s", rp->pid,
			       res, (unsigned long long)rl.rlim_cur,
			       (unsigned long long)rl.rlim_max, strerror(errno),
			       errno == EPERM ? " (raising a hard limit needs "
			       "CAP_SYS_RESOURCE)" : "");
			return -errno;
		}
	}
	snprintf(buf, sizeof(buf), "%d", mp->p->oom_score_adj);
	ret = set_proc_file(rp->pid, "oom_score_adj", buf);
	if (!ret && mp->p->coredump_filter) {
		snprintf(buf, sizeof(buf), "%#x", mp->p->coredump_filter);
		ret = set_proc_file(rp->pid, "coredump_filter", buf);
	}
	if (ret)
		return ret;
	for (i = 0; i < mp->nr_threads; i++) {
		const struct img_thread *t = mp->threads[i].t;
		struct sched_param sp = { .sched_priority = t->rt_priority };
		pid_t tid = rp->tids[i];

		/* the policy word carries SCHED_RESET_ON_FORK as the kernel takes it */
		if (sched_setscheduler(tid, t->policy, &sp)) {
			pr_err("pid %d: thread %d: scheduling policy %u: %s", rp->pid,
			       tid, t->policy, strerror(errno));
			return -errno;
		}
		/*
		 * Every policy has a nice value: set_user_nice() stores
		 * static_prio for SCHED_BATCH and SCHED_IDLE as for
		 * SCHED_OTHER, and even for RT and deadline tasks (for when
		 * they return to a fair policy); getpriority() shows it.
		 */
		ret = restore_thread_sched(rp, i);
		if (ret)
			return ret;
		if (setpriority(PRIO_PROCESS, tid, t->nice)) {
			pr_err("pid %d: thread %d: nice %d: %s", rp->pid, tid, t->nice,
			       strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int task_restore_state(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct m_proc *mp = rp->mp;
	uint32_t i;
	int ret;

	ret = restore_sigactions(ctx, rp);
	if (!ret)
		ret = restore_itimers(ctx, rp);
	if (!ret)
		ret = restore_timers(ctx, rp);
	for (i = 0; !ret && i < mp->nr_threads; i++)
		ret = restore_thread_regs_state(ctx, rp, i);
	if (!ret)
		ret = restore_pending(ctx, rp);
	if (!ret)
		ret = restore_from_outside(rp);
	if (!ret)
		ret = restore_proc_prctls(ctx, rp);
	if (!ret)
		ret = restore_membarrier(ctx, rp);
	for (i = 0; !ret && i < mp->nr_threads; i++)
		ret = restore_creds(ctx, rp, i);
	for (i = 0; !ret && i < mp->nr_threads; i++)
		ret = restore_thread_prctls(ctx, rp, i);
	if (!ret)
		ret = rst_syscall(ctx, rp, 0, "PR_SET_DUMPABLE", SYS_prctl,
				  PR_SET_DUMPABLE, mp->p->dumpable ? 1 : 0, 0, 0, 0,
				  0, &(long){ 0 });
	return ret;
}

static int set_sigmask(struct rst_proc *rp, uint32_t i)
{
	uint64_t mask = rp->mp->threads[i].t->blocked;

	if (ptrace(PTRACE_SETSIGMASK, rp->tids[i], sizeof(mask), &mask))
		return -errno;
	return 0;
}

/* resumes thread @tid until it reports its group stop */
static int group_stop_one(pid_t tid)
{
	int st;

	if (ptrace(PTRACE_CONT, tid, 0, 0))
		return -errno;
	for (;;) {
		if (waitpid(tid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!WIFSTOPPED(st))
			return -ESRCH;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* the SIGSTOP's signal-delivery-stop: let it through */
		if (ptrace(PTRACE_CONT, tid, 0, (st >> 16) ? 0 : WSTOPSIG(st)))
			return -errno;
	}
}

/*
 * A job-stopped process enters its group stop before it is let go, so
 * that nothing of it runs before SIGCONT: with every signal still
 * blocked SIGSTOP is the only one it can take.  The main thread alone
 * is resumed first and takes it (do_signal_stop() then marks the other
 * threads); only then do the others run, into the group stop.  The real
 * masks go in afterwards.
 */
static int enter_group_stop(struct rst_proc *rp)
{
	uint32_t i;
	int ret;

	if (kill(rp->pid, SIGSTOP))
		return -errno;
	for (i = 0, ret = 0; !ret && i < rp->mp->nr_threads; i++)
		ret = group_stop_one(rp->tids[i]);
	for (i = 0; !ret && i < rp->mp->nr_threads; i++)
		ret = set_sigmask(rp, i);
	return ret;
}

#define SYNC_SIGNALS	((1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | \
			 (1ULL << (SIGILL - 1)) | (1ULL << (SIGTRAP - 1)) | \
			 (1ULL << (SIGFPE - 1)) | (1ULL << (SIGSYS - 1)))

/* the one dequeue_signal() takes first: synchronous ones, then lowest */
static int next_signal(uint64_t set)
{
	uint64_t sync = set & SYNC_SIGNALS;

	if (sync)
		set = sync;
	return set ? __builtin_ctzll(set) + 1 : 0;
}

/*
 * Whether thread @i meets a signal handler first when it runs again:
 * its own pending signals, else the process's (which the kernel gives to
 * the first thread that does not block them).
 */
static enum restart_how first_handler(const struct m_proc *mp, uint32_t i)
{
	const struct img_thread *t = mp->threads[i].t;
	uint64_t mine = (t->pending | queued_mask(mp, t->tid[0])) & ~t->blocked;
	uint64_t shared = (mp->p->shared_pending | queued_mask(mp, 0)) & ~t->blocked;
	const struct img_sigaction *sa;
	uint32_t j;
	int sig;

	for (j = 0; j < i && shared; j++)
		shared &= mp->threads[j].t->blocked;
	sig = next_signal(mine);
	if (!sig)
		sig = next_signal(shared);
	if (!sig)
		return RESTART_NO_HANDLER;
	sa = &mp->p->sigact[sig - 1];
	if (sa->handler == (uint64_t)(uintptr_t)SIG_DFL ||
	    sa->handler == (uint64_t)(uintptr_t)SIG_IGN)
		return RESTART_NO_HANDLER;
	return sa->flags & SA_RESTART ? RESTART_HANDLER_SA : RESTART_HANDLER;
}

/* registers as they were, the kernel's restart rules applied */
/*
 * Seccomp goes in last: a filter sees every later syscall, our injected
 * ones too.  The other threads take theirs through the stub just before
 * their final registers (nothing is injected into them after); the main
 * thread once the stub is gone, through a syscall instruction of its own
 * text.  Each filter's program is put below the thread's stack pointer
 * (past the red zone), memory the thread does not use.
 */
#define SECCOMP_SET_MODE_STRICT	0
#define SECCOMP_SET_MODE_FILTER	1

static int put_filter(struct rst_proc *rp, uint32_t i, const struct m_filter *f,
		      uint64_t *addr)
{
	struct { uint16_t len; uint16_t pad[3]; uint64_t filter; } prog;
	uint64_t sp = arch_sp(rp->mp->threads[i].regs), len = f->s->nr_insns * 8ul;
	uint64_t at = (sp - 128 - len - sizeof(prog)) & ~15ULL;
	struct iovec local[2] = { { &prog, sizeof(prog) }, { (void *)f->insns, len } };
	struct iovec remote = { (void *)(uintptr_t)at, sizeof(prog) + len };

	memset(&prog, 0, sizeof(prog));
	prog.len = f->s->nr_insns;
	prog.filter = at + sizeof(prog);
	if (process_vm_writev(rp->pid, local, 2, &remote, 1, 0) != (ssize_t)remote.iov_len)
		return -errno;
	*addr = at;
	return 0;
}

/* thread @i's seccomp state; @ip: 0 through the stub, else a syscall insn there */
static int restore_seccomp(struct restore_ctx *ctx, struct rst_proc *rp,
			   uint32_t i, uint64_t ip)
{
	const struct m_thread *mt = &rp->mp->threads[i];
	uint64_t a[6] = { 0 };
	uint32_t k;
	long r;
	int ret = 0;

	if (!mt->ext || !mt->ext->seccomp_mode)
		return 0;
	for (k = 0; !ret && k <= mt->nr_filters; k++) {
		if (k < mt->nr_filters) {
			a[0] = SECCOMP_SET_MODE_FILTER;
			a[1] = mt->filters[k].s->flags;
			ret = put_filter(rp, i, &mt->filters[k], &a[2]);
		} else if (mt->ext->seccomp_mode == 1) {
			a[0] = SECCOMP_SET_MODE_STRICT;
			a[1] = a[2] = 0;
		} else {
			break;
		}
		if (ret)
			break;
		if (ip) {
			ret = inj_syscall_at(rp->tids[i], rp->tmpl[i], ip, SYS_seccomp, a, &r);
			if (!ret && r < 0)
				ret = r;
		} else {
			ret = rst_call(ctx, rp, i, "seccomp", SYS_seccomp, a, &r, NULL);
		}
	}
	if (ret)
		pr_err("pid %d: thread %d: reinstalling its seccomp %s: %s", rp->pid,
		       rp->tids[i], mt->nr_filters ? "filters" : "mode", errstr(ret));
	return ret;
}

static int final_regs(struct rst_proc *rp, uint32_t i)
{
	const struct m_thread *mt = &rp->mp->threads[i];
	bool stopped = rp->mp->p->flags & IMG_PROC_STOPPED;
	uint8_t regs[ARCH_REGS_SIZE];
	pid_t tid = rp->tids[i];
	int ret;

	memcpy(regs, mt->regs, sizeof(regs));
	arch_apply_restart(regs, first_handler(rp->mp, i));
	ret = arch_set_regs(tid, regs);
	if (!ret && mt->t->xstate_size)
		ret = arch_set_xstate(tid, mt->xstate, mt->t->xstate_size);
	if (!ret && !stopped)
		ret = set_sigmask(rp, i);
	if (ret)
		pr_err("pid %d: thread %d: setting its registers: %s", rp->pid, tid,
		       errstr(ret));
	return ret;
}

int task_restore_finish(struct restore_ctx *ctx, struct rst_proc *rp)
{
	uint32_t i;
	int ret;

	for (i = 1; i < rp->mp->nr_threads; i++) {
		ret = restore_seccomp(ctx, rp, i, 0);
		if (!ret)
			ret = final_regs(rp, i);
		if (ret)
			return ret;
	}
	/* its children are in their stops: the real SIGCHLD action now */
	if (has_stopped_child(ctx, rp)) {
		ret = set_sigaction(ctx, rp, SIGCHLD, &rp->mp->p->sigact[SIGCHLD - 1]);
		if (ret)
			return ret;
	}
	ret = inj_unmap_stub(rp->pid, rp->tmpl[0], ctx->stub);
	if (ret) {
		pr_err("pid %d: unmapping the injection page: %s", rp->pid, errstr(ret));
		return ret;
	}
	if (rp->mp->threads[0].ext && rp->mp->threads[0].ext->seccomp_mode) {
		uint64_t ip;

		ret = inj_find_syscall_insn(rp->pid, &ip);
		if (ret) {
			pr_err("pid %d: no syscall instruction in its code to install "
			       "its seccomp state with", rp->pid);
			return ret;
		}
		ret = restore_seccomp(ctx, rp, 0, ip);
		if (ret)
			return ret;
	}
	ret = final_regs(rp, 0);
	if (ret || !(rp->mp->p->flags & IMG_PROC_STOPPED))
		return ret;
	ret = enter_group_stop(rp);
	if (ret)
		pr_err("pid %d: putting it back into its job-control stop: %s",
		       rp->pid, errstr(ret));
	return ret;
}
