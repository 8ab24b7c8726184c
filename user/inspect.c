// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt inspect PID [--json] [--shell-job]
 *
 * The state of a live tree as snap would see it, without freezing it and
 * without reading its memory: the same iterators (iter/task,
 * iter/task_vma, iter/task_file), the same conversions into image
 * records and the same printers as show, so --json has show's keys.
 * Added: thread state, CPU and time, resident and storable pages per VMA
 * (PAGEMAP_SCAN), and a verdict: what a snap would refuse today, with
 * snap's own checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"
#include "cmdtab.h"
#include "collect.h"
#include "ipc.h"
#include "locks.h"
#include "log.h"
#include "print.h"
#include "pstree.h"
#include "show.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"
#include "ns.h"

#define INSPECT_USAGE	cmd_synopsis("inspect")
#define WHY_MAX		(BCK_PATH_MAX + 128)

struct i_thread {
	struct rec_task *rec;
	struct show_where where;
};

struct i_vma {
	struct img_vma v;
	char *path;
	bool counted;		/* PAGEMAP_SCAN worked for it */
	uint64_t resident;	/* pages */
	uint64_t stored;	/* pages a snap would store */
};

struct i_fd {
	struct img_fd f;
	char *path;
	union fd_ext x;		/* the kind's record, as snap writes it */
	uint8_t *data;
	uint32_t data_len;
};

struct i_proc {
	const struct ps_proc *ps;
	struct rec_timer *timers;
	uint32_t nr_timers, cap_timers;
	struct i_thread *threads;
	uint32_t nr_threads, cap_threads;
	char *paths[3];		/* TASK_PATH_* */
	struct i_vma *vmas;
	uint32_t nr_vmas, cap_vmas;
	struct i_fd *fds;
	uint32_t nr_fds, cap_fds;
	uint64_t resident, stored;
};

struct reason {
	pid_t pid;
	const char *what;	/* tree, task, vma, fd */
	char *why;
	bool restore;		/* restore's refusal, not snap's */
};

struct inspect_ctx {
	pid_t root;
	bool json;
	bool shell_job;		/* the verdict of snap --shell-job */
	struct collector col;
	struct pstree tree;
	struct i_proc *procs;
	uint32_t nr_procs;
	struct reason *reasons;
	uint32_t nr_reasons, cap_reasons;
	uint64_t *kfiles;	/* file id - 1 -> struct file address */
	uint32_t nr_kfiles, cap_kfiles;
	int landlock_word;	/* task_landlock_word() */
};

static int refuse(struct inspect_ctx *c, pid_t pid, const char *what,
		  const char *why)
{
	struct reason r = { pid, what, strdup(why), false };
	int ret;

	if (!r.why)
		return -ENOMEM;
	ret = vec_push(c->reasons, c->nr_reasons, c->cap_reasons, r);
	if (ret)
		free(r.why);
	return ret;
}

/* the inspect context and the process a callback fills */
struct cb_ctx {
	struct inspect_ctx *c;
	struct i_proc *p;
};

static int task_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct cb_ctx *cc = data;
	struct i_proc *p = cc->p;
	struct i_thread th = { 0 };
	int ret;

	if (h->type != REC_TASK || size < sizeof(struct rec_task))
		return 0;
	th.rec = malloc(sizeof(*th.rec));
	if (!th.rec)
		return -ENOMEM;
	memcpy(th.rec, h, sizeof(*th.rec));
	if (th.rec->self_level >= BCK_NS_LEVELS) {
		free(th.rec);
		return -EIO;
	}
	ret = vec_push(p->threads, p->nr_threads, p->cap_threads, th);
	if (ret)
		free(th.rec);
	return ret;
}

static int vma_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct cb_ctx *cc = data;
	struct i_proc *p = cc->p;
	const struct rec_vma *r = (const void *)h;
	struct i_vma v = { 0 };
	char why[WHY_MAX], path[BCK_PATH_MAX] = "";
	bool known = true;
	uint32_t kind;
	int ret;

	if (h->type != REC_VMA || size < sizeof(*r))
		return 0;
	/* threads share the mm: the iterator may show it more than once */
	if (p->nr_vmas && r->start < p->vmas[p->nr_vmas - 1].v.end)
		return 0;
	/* the tree runs on: a VMA may be gone or changed by now */
	if (r->has_file && mm_vma_path(p->ps->pid, r, path, sizeof(path))) {
		snprintf(path, sizeof(path), "?");
		known = false;
	}
	ret = mm_vma_kind(r, path, p->threads[0].rec, &kind, why, sizeof(why));
	if (ret == 1)
		return 0;
	if (ret < 0) {
		ret = refuse(cc->c, p->ps->pid, "vma", why);
		if (ret)
			return ret;
	}
	mm_fill_vma(&v.v, r, kind);
	if (r->has_file && known) {
		v.path = strdup(path);
		if (!v.path)
			return -ENOMEM;
	}
	ret = vec_push(p->vmas, p->nr_vmas, p->cap_vmas, v);
	if (ret)
		free(v.path);
	return ret;
}

/* one id per open file description, as snap gives them */
static int file_id(struct inspect_ctx *c, uint64_t kfile, uint32_t *id)
{
	uint32_t i;
	int ret;

	for (i = 0; i < c->nr_kfiles; i++) {
		if (c->kfiles[i] == kfile) {
			*id = i + 1;
			return 0;
		}
	}
	ret = vec_push(c->kfiles, c->nr_kfiles, c->cap_kfiles, kfile);
	*id = c->nr_kfiles;
	return ret;
}

static int file_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct cb_ctx *cc = data;
	struct i_proc *p = cc->p;
	const struct rec_file *r = (const void *)h;
	struct i_fd f = { 0 };
	char why[WHY_MAX], path[BCK_PATH_MAX];
	uint32_t kind;
	int ret;

	if (h->type != REC_FILE || size < sizeof(*r))
		return 0;
	/* a shared fd table can be shown once per thread */
	if (p->nr_fds && r->fd <= p->fds[p->nr_fds - 1].f.fd)
		return 0;
	/* the tree runs on: the fd may be closed or reused by now */
	if (files_fd_path(p->ps->pid, r, path, sizeof(path)))
		snprintf(path, sizeof(path), "?");
	ret = files_fd_kind(r, path, &kind, why, sizeof(why));
	if (ret) {
		ret = refuse(cc->c, p->ps->pid, "fd", why);
		if (ret)
			return ret;
	}
	if (locks_check_fd(p->ps->pid, r->fd, why, sizeof(why))) {
		char full[WHY_MAX + BCK_PATH_MAX + 32];

		snprintf(full, sizeof(full), "fd %d (%s): %s", r->fd, path, why);
		ret = refuse(cc->c, p->ps->pid, "fd", full);
		if (ret)
			return ret;
	}
	files_fill_fd(&f.f, r, kind);
	/* the tree runs on: the socket may be gone, its state unknown */
	if (files_fill_ext(&f.x, &f.data, &f.data_len, r, kind))
		memset(&f.x, 0, sizeof(f.x));
	ret = file_id(cc->c, r->file, &f.f.file_id);
	if (ret)
		return ret;
	f.path = strdup(path);
	ret = f.path ? vec_push(p->fds, p->nr_fds, p->cap_fds, f) : -ENOMEM;
	if (ret) {
		free(f.path);
		free(f.data);
	}
	return ret;
}

/*
 * Where a thread is, from /proc/PID/task/TID/syscall: the kernel reads
 * the registers only while the thread stays off the CPU, which an
 * iterator cannot ensure.  "running", "-1 sp pc" or "nr args*6 sp pc".
 */
static void read_where(pid_t pid, struct i_thread *th)
{
	const struct rec_task *r = th->rec;
	char path[96], buf[256], *s;
	long nr;
	int i;

	th->where.syscall = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid,
		 r->tid[r->self_level]);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !strncmp(buf, "running", 7))
		return;
	nr = strtol(buf, &s, 10);
	if (s == buf)
		return;
	for (i = 0; nr >= 0 && i < 6; i++)
		strtoull(s, &s, 16);
	th->where.sp = strtoull(s, &s, 16);
	th->where.ip = strtoull(s, &s, 16);
	th->where.known = true;
	th->where.syscall = nr;
}

/* a second tracer makes snap's PTRACE_SEIZE fail */
static int check_tracer(struct inspect_ctx *c, pid_t pid, pid_t tid)
{
	char path[96], buf[2048], why[96], *s;
	int tracer;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	s = strstr(buf, "TracerPid:");
	tracer = s ? atoi(s + 10) : 0;
	if (!tracer)
		return 0;
	snprintf(why, sizeof(why), "thread %d is already traced by pid %d", tid,
		 tracer);
	return refuse(c, pid, "tree", why);
}

static int check_proc(struct inspect_ctx *c, struct i_proc *p)
{
	char why[256];
	uint32_t i;
	int ret = 0;

	if (p->ps->kthread)
		return refuse(c, p->ps->pid, "tree", "is a kernel thread");
	if (p->ps->zombie && p->nr_threads > 1)
		ret = refuse(c, p->ps->pid, "tree", "its main thread has exited "
			     "while others run: not supported");
	for (i = 0; !ret && i < p->nr_threads; i++) {
		if (task_check(p->threads[i].rec, why, sizeof(why)) ||
		    task_check_landlock(p->threads[i].rec, c->landlock_word, why,
					sizeof(why)) ||
		    task_check_sem_undo(&c->col, p->threads[i].rec, why, sizeof(why)))
			ret = refuse(c, p->ps->pid, "task", why);
		if (!ret)
			ret = check_tracer(c, p->ps->pid,
					   p->threads[i].rec->tid[p->threads[i].rec->self_level]);
	}
	return ret;
}

static void count_pages(struct i_proc *p)
{
	char path[64];
	uint32_t i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", p->ps->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < p->nr_vmas; i++) {
		struct i_vma *v = &p->vmas[i];

		v->counted = !mm_count_pages(fd, &v->v, &v->resident, &v->stored);
		p->resident += v->resident;
		p->stored += v->stored;
	}
	close(fd);
}

/* leader first, as in the image */
static void leader_first(struct i_proc *p)
{
	struct i_thread tmp;
	uint32_t i;

	for (i = 1; i < p->nr_threads; i++) {
		const struct rec_task *r = p->threads[i].rec;

		if (r->tid[r->self_level] != p->ps->pid)
			continue;
		tmp = p->threads[0];
		p->threads[0] = p->threads[i];
		p->threads[i] = tmp;
	}
}

static int collect_one(struct inspect_ctx *c, struct i_proc *p)
{
	struct cb_ctx cc = { c, p };
	char why[256];
	uint32_t i;
	int ret;

	/* what the kernel keeps from us: the reason, and nothing collected */
	if (!p->ps->kthread && !pstree_may_trace(p->ps->pid, why, sizeof(why)))
		return refuse(c, p->ps->pid, "tree", why);
	ret = collect_proc(&c->col, COLLECT_TASKS, p->ps->pid, task_cb, &cc);
	if (ret)
		return ret;
	if (!p->nr_threads)
		return -ESRCH;
	leader_first(p);
	for (i = 0; i < p->nr_threads; i++)
		read_where(p->ps->pid, &p->threads[i]);
	ret = check_proc(c, p);
	if (ret || p->ps->zombie)
		return ret;
	/* the tree runs on: a path that cannot be read now stays unknown */
	task_read_paths(p->ps->pid, p->threads[0].rec, p->paths, why, sizeof(why));
	ret = task_collect_timers(&c->col, p->ps->pid, &p->timers, &p->nr_timers,
				  &p->cap_timers, why, sizeof(why));
	if (ret == -ENOTSUP)
		ret = refuse(c, p->ps->pid, "task", why);
	if (ret)
		return ret;
	ret = collect_proc(&c->col, COLLECT_VMAS, p->ps->pid, vma_cb, &cc);
	if (!ret)
		ret = collect_proc(&c->col, COLLECT_FILES, p->ps->pid, file_cb, &cc);
	if (!ret)
		count_pages(p);
	return ret;
}

static int collect_all(struct inspect_ctx *c)
{
	uint32_t i;
	int ret;

	c->procs = calloc(c->tree.nr_procs, sizeof(*c->procs));
	if (!c->procs)
		return -ENOMEM;
	c->nr_procs = c->tree.nr_procs;
	for (i = 0; i < c->nr_procs; i++) {
		c->procs[i].ps = &c->tree.procs[i];
		ret = collect_one(c, &c->procs[i]);
		/* one that exits meanwhile is reported as gone, not an error */
		if (ret == -ESRCH && i > 0)
			continue;
		if (ret) {
			pr_err("pid %d: collecting its state: %s", c->tree.procs[i].pid,
			       errstr(ret));
			return ret;
		}
	}
	return 0;
}

/* ---- what restore would refuse ---- */

/*
 * The live tree as restore's checks see an image (model.h), built from
 * the same records a snap writes, pointing into the inspect context.
 * VMAs and fds whose file could not be named (the tree runs on) are
 * left out.
 */
struct i_model {
	struct ckpt_image img;
	struct img_header hdr;
	struct img_proc *p;
	struct img_thread **t;
	struct img_timer **tm;
};

static int model_proc(struct i_model *m, struct i_proc *ip, uint32_t k)
{
	struct m_proc *mp = &m->img.procs[k];
	const struct rec_task *r = ip->threads[0].rec;
	uint32_t j;

	task_fill_proc(&m->p[k], r);
	if (ip->ps->zombie) {
		m->p[k].flags |= IMG_PROC_ZOMBIE;
		m->p[k].exit_code = r->exit_code;
	}
	mp->p = &m->p[k];
	mp->parent = -1;
	mp->exe = ip->paths[TASK_PATH_EXE];
	mp->cwd = ip->paths[TASK_PATH_CWD];
	mp->root = ip->paths[TASK_PATH_ROOT];
	m->t[k] = calloc(ip->nr_threads, sizeof(**m->t));
	m->tm[k] = calloc(ip->nr_timers + 1, sizeof(**m->tm));
	mp->threads = calloc(ip->nr_threads, sizeof(*mp->threads));
	mp->vmas = calloc(ip->nr_vmas + 1, sizeof(*mp->vmas));
	mp->fds = calloc(ip->nr_fds + 1, sizeof(*mp->fds));
	mp->timers = calloc(ip->nr_timers + 1, sizeof(*mp->timers));
	if (!m->t[k] || !m->tm[k] || !mp->threads || !mp->vmas || !mp->fds ||
	    !mp->timers)
		return -ENOMEM;
	for (j = 0; j < ip->nr_threads; j++) {
		task_fill_thread(&m->t[k][j], ip->threads[j].rec);
		mp->threads[mp->nr_threads++].t = &m->t[k][j];
	}
	/* what snap refuses (kind 0) is in the verdict already */
	for (j = 0; j < ip->nr_vmas; j++)
		if (ip->vmas[j].v.kind && (ip->vmas[j].path || !ip->vmas[j].v.mode))
			mp->vmas[mp->nr_vmas++] = (struct m_vma){
				.v = &ip->vmas[j].v, .path = ip->vmas[j].path };
	for (j = 0; j < ip->nr_fds; j++)
		if (ip->fds[j].f.kind && strcmp(ip->fds[j].path, "?"))
			mp->fds[mp->nr_fds++] = (struct m_fd){
				&ip->fds[j].f, ip->fds[j].path,
				ip->fds[j].x.h.type ? &ip->fds[j].x.h : NULL,
				ip->fds[j].data };
	for (j = 0; j < ip->nr_timers; j++) {
		task_fill_timer(&m->tm[k][j], &ip->timers[j]);
		mp->timers[mp->nr_timers++] = &m->tm[k][j];
	}
	return 0;
}

static void model_free(struct i_model *m, uint32_t n)
{
	uint32_t i;

	for (i = 0; m->t && i < n; i++) {
		free(m->t[i]);
		free(m->tm[i]);
	}
	free(m->t);
	free(m->tm);
	free(m->p);
	image_free(&m->img);
}

/* the namespaces snap would refuse (ns.c: the check snap makes) */
static int check_ns(struct inspect_ctx *c, struct verdict *v)
{
	struct ns_task *t = calloc(c->nr_procs, sizeof(*t));
	uint32_t i, j;
	int ret;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < c->nr_procs; i++) {
		const struct i_proc *ip = &c->procs[i];

		t[i].pid = ip->ps->pid;
		t[i].zombie = ip->ps->zombie || !ip->nr_threads;
		t[i].parent = -1;
		for (j = 0; j < i; j++)
			if (c->procs[j].ps->pid == ip->ps->ppid)
				t[i].parent = j;
		if (!t[i].zombie) {
			const struct rec_task *r = ip->threads[0].rec;

			t[i].init = r->level > r->self_level && r->tgid[r->level] == 1;
		}
	}
	ret = ns_check_live(t, c->nr_procs, v);
	ns_free_tasks(t, c->nr_procs);
	return ret;
}

/* SEM_UNDO adjustments as snap reads them, with restore's checks of them */
static int check_undo(struct inspect_ctx *c, struct verdict *v)
{
	struct verdict sv = { .all = true, .live = true };
	pid_t *pids = calloc(c->nr_procs + 1, sizeof(*pids));
	uint32_t i, j, n = 0;
	bool has;
	int ret;

	if (!pids)
		return -ENOMEM;
	for (i = 0; i < c->nr_procs; i++) {
		const struct i_proc *ip = &c->procs[i];

		if (ip->ps->zombie)
			continue;
		for (j = 0, has = false; j < ip->nr_threads; j++)
			has = has || ip->threads[j].rec->sem_undo;
		if (has)
			pids[n++] = ip->ps->pid;
	}
	ret = ipc_check_live_undo(&c->col, c->root, pids, n, &sv, v);
	for (i = 0; !ret && i < sv.n; i++)
		ret = refuse(c, sv.r[i].pid, sv.r[i].what, sv.r[i].why);
	verdict_free(&sv);
	free(pids);
	return ret;
}

static int check_restore(struct inspect_ctx *c)
{
	struct verdict v = { .all = true, .live = true, .shell_job = c->shell_job };
	struct i_model m = { .img.r.fd = -1 };
	uint32_t i, k = 0;
	int ret = -ENOMEM;

	m.img.hdr = &m.hdr;
	m.img.procs = calloc(c->nr_procs, sizeof(*m.img.procs));
	m.p = calloc(c->nr_procs, sizeof(*m.p));
	m.t = calloc(c->nr_procs, sizeof(*m.t));
	m.tm = calloc(c->nr_procs, sizeof(*m.tm));
	if (!m.img.procs || !m.p || !m.t || !m.tm)
		goto out;
	for (i = 0; i < c->nr_procs; i++) {
		if (!c->procs[i].nr_threads)
			continue;
		ret = model_proc(&m, &c->procs[i], k);
		m.img.nr_procs = ++k;
		if (ret)
			goto out;
	}
	for (i = 0; i < m.img.nr_procs; i++)
		m.img.procs[i].parent = image_find(&m.img, m.img.procs[i].p->ppid[0]);
	ret = verdict_check_image(&m.img, &v);
	if (!ret)
		ret = check_ns(c, &v);
	if (!ret)
		ret = check_undo(c, &v);
	for (i = 0; !ret && i < v.n; i++) {
		struct reason r = { v.r[i].pid, v.r[i].what, v.r[i].why, true };

		ret = vec_push(c->reasons, c->nr_reasons, c->cap_reasons, r);
		if (!ret)
			v.r[i].why = NULL;
	}
out:
	verdict_free(&v);
	model_free(&m, c->nr_procs);
	return ret;
}

/* ---- output ---- */

static void print_thread(struct printer *pr, const struct i_thread *th)
{
	const struct rec_task *r = th->rec;
	char state[2] = { task_state_char(r), 0 };
	struct img_thread t;

	task_fill_thread(&t, r);
	if (th->where.syscall >= 0)
		t.flags |= IMG_THREAD_IN_SYSCALL;
	print_open_obj(pr, NULL);
	show_thread_fields(pr, &t, &th->where);
	print_str(pr, "state", " state %s", state);
	print_u64(pr, "cpu", " cpu %" PRIu64, r->cpu);
	print_u64(pr, "cpu_ns", NULL, r->sum_exec_ns);
	print_dbl(pr, NULL, " cpu_time %.3f s", r->sum_exec_ns / 1e9);
	print_u64(pr, "nvcsw", NULL, r->nvcsw);
	print_u64(pr, "nivcsw", NULL, r->nivcsw);
	print_u64(pr, "min_flt", NULL, r->min_flt);
	print_u64(pr, "maj_flt", NULL, r->maj_flt);
	print_text(pr, "\n");
	print_close_obj(pr);
}

static void print_vma(struct printer *pr, const struct i_vma *v, uint32_t kb_per_page)
{
	print_open_obj(pr, NULL);
	show_vma_fields(pr, &v->v, v->path);
	if (v->counted) {
		print_u64(pr, "rss_kb", "  [rss %" PRIu64 " kB", v->resident * kb_per_page);
		print_u64(pr, "pages", ", %" PRIu64 " to store]", v->stored);
	}
	print_text(pr, "\n");
	print_close_obj(pr);
}

static void print_proc(struct printer *pr, const struct i_proc *p)
{
	const struct rec_task *r = p->threads[0].rec;
	uint32_t kb = getpagesize() / 1024, i;
	struct img_proc ip;

	task_fill_proc(&ip, r);
	if (p->ps->zombie) {
		ip.flags |= IMG_PROC_ZOMBIE;
		ip.exit_code = r->exit_code;
	}
	print_open_obj(pr, NULL);
	show_proc_fields(pr, &ip, p->paths[TASK_PATH_EXE], p->paths[TASK_PATH_CWD],
			 p->paths[TASK_PATH_ROOT], p->stored, getpagesize());
	print_u64(pr, "rss_kb", "  rss %" PRIu64 " kB", p->resident * kb);
	print_u64(pr, "nr_threads", ", %" PRIu64 " threads", p->nr_threads);
	print_u64(pr, "nr_vmas", ", %" PRIu64 " vmas", p->nr_vmas);
	print_u64(pr, "nr_fds", ", %" PRIu64 " fds\n", p->nr_fds);
	print_text(pr, "  threads:\n");
	print_open_arr(pr, "threads");
	for (i = 0; i < p->nr_threads; i++)
		if (!p->threads[i].rec->exit_state)
			print_thread(pr, &p->threads[i]);
	print_close_arr(pr);
	print_text(pr, "  vmas:\n");
	print_open_arr(pr, "vmas");
	for (i = 0; i < p->nr_vmas; i++)
		print_vma(pr, &p->vmas[i], kb);
	print_close_arr(pr);
	print_text(pr, "  fds:\n");
	print_open_arr(pr, "fds");
	for (i = 0; i < p->nr_fds; i++) {
		print_open_obj(pr, NULL);
		show_fd_fields(pr, &p->fds[i].f, p->fds[i].path);
		if (p->fds[i].x.h.type == IMG_INET)
			show_inet(pr, &p->fds[i].x.in);
		print_text(pr, "\n");
		print_close_obj(pr);
	}
	print_close_arr(pr);
	print_close_obj(pr);
}

static void print_header(struct printer *pr, const struct inspect_ctx *c)
{
	struct timespec ts;
	struct utsname u;
	uint64_t pages = 0;
	uint32_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	for (i = 0; i < c->nr_procs; i++)
		pages += c->procs[i].stored;
	print_open_obj(pr, "header");
	print_s64(pr, "root", "live tree of pid %" PRId64, c->root);
	print_u64(pr, "time_ns", NULL, ts.tv_sec * 1000000000ULL + ts.tv_nsec);
	print_str(pr, "hostname", " on %s", u.nodename);
	print_str(pr, "kernel", ", kernel %s", u.release);
	print_str(pr, "machine", " %s", u.machine);
	print_u64(pr, "page_size", ", page size %" PRIu64, getpagesize());
	print_u64(pr, "nr_processes", ": %" PRIu64, c->nr_procs);
	print_text(pr, " process%s", c->nr_procs == 1 ? "" : "es");
	print_u64(pr, "pages", ", a snap would store about %" PRIu64 " pages\n", pages);
	print_close_obj(pr);
}

static void print_verdict(struct printer *pr, const struct inspect_ctx *c)
{
	uint32_t i, snap = 0;

	for (i = 0; i < c->nr_reasons; i++)
		snap += !c->reasons[i].restore;
	print_open_obj(pr, "verdict");
	print_bool(pr, "checkpointable", NULL, snap == 0);
	print_bool(pr, "restorable", NULL, c->nr_reasons == 0);
	print_text(pr, "%s", snap ? "verdict: a snap would refuse this tree:\n" :
		   c->nr_reasons ? "verdict: a snap would work, but restore (and so "
		   "snap --kill) would refuse it:\n" :
		   "verdict: checkpointable and restorable\n");
	print_open_arr(pr, "reasons");
	for (i = 0; i < c->nr_reasons; i++) {
		print_open_obj(pr, NULL);
		print_s64(pr, "pid", "  pid %" PRId64, c->reasons[i].pid);
		print_str(pr, "what", " [%s]", c->reasons[i].what);
		print_str(pr, "stage", " %s:", c->reasons[i].restore ? "restore" : "snap");
		print_str(pr, "reason", " %s\n", c->reasons[i].why);
		print_close_obj(pr);
	}
	print_close_arr(pr);
	print_close_obj(pr);
}

static void print_all(const struct inspect_ctx *c)
{
	struct printer pr;
	uint32_t i;

	print_init(&pr, stdout, c->json);
	print_open_obj(&pr, NULL);
	print_header(&pr, c);
	print_open_arr(&pr, "processes");
	for (i = 0; i < c->nr_procs; i++)
		if (c->procs[i].nr_threads)
			print_proc(&pr, &c->procs[i]);
	print_close_arr(&pr);
	print_verdict(&pr, c);
	print_close_obj(&pr);
	print_end(&pr);
}

static void free_all(struct inspect_ctx *c)
{
	uint32_t i, j;

	for (i = 0; i < c->nr_procs; i++) {
		struct i_proc *p = &c->procs[i];

		for (j = 0; j < p->nr_threads; j++)
			free(p->threads[j].rec);
		for (j = 0; j < p->nr_vmas; j++)
			free(p->vmas[j].path);
		for (j = 0; j < p->nr_fds; j++) {
			free(p->fds[j].path);
			free(p->fds[j].data);
		}
		for (j = 0; j < 3; j++)
			free(p->paths[j]);
		free(p->threads);
		free(p->vmas);
		free(p->fds);
		free(p->timers);
	}
	free(c->procs);
	for (i = 0; i < c->nr_reasons; i++)
		free(c->reasons[i].why);
	free(c->reasons);
	free(c->kfiles);
	pstree_free(&c->tree);
	collect_close(&c->col);
}

int cmd_inspect(int argc, char **argv)
{
	struct inspect_ctx c = { 0 };
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			c.json = true;
		else if (!strcmp(argv[i], "--shell-job"))
			c.shell_job = true;
		else if ((ret = pid_operand(INSPECT_USAGE, argv[i], &c.root)))
			return ret;
	}
	if (!c.root)
		return usage_error(INSPECT_USAGE, "which PID?");
	if (collect_open_snap(&c.col))
		return EXIT_RUNTIME;
	c.landlock_word = task_landlock_word(&c.col);
	ret = pstree_scan(&c.col, c.root, &c.tree);
	if (!ret)
		ret = collect_all(&c);
	if (!ret)
		ret = check_restore(&c);
	if (!ret)
		print_all(&c);
	free_all(&c);
	return ret ? EXIT_RUNTIME : 0;
}
