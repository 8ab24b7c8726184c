// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt top PID [--batch] [-n N] [-d SECONDS] [--json]
 *
 * A live view of a process tree, refreshed every -d seconds: per process
 * RSS and its change, VMAs added and removed, fds; per thread CPU%,
 * syscall rate, page faults and context switches; the tree's syscall mix
 * with rates and latencies.  Everything comes from the tracer
 * (bpf/trace.bpf.c), no snap collector: thread, VMA and fd state from
 * its iterators (walk_tree, walk_vmas, walk_files, one pass each per
 * refresh for the whole tree), syscalls from its in-kernel counters.  --batch prints N refreshes as
 * plain text (or JSON Lines) like top -b; the interactive screen quits
 * on q or Ctrl-C and gives the terminal back as it was.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "arch.h"
#include "cmd.h"
#include "cmdtab.h"
#include "log.h"
#include "print.h"
#include "snap.h"
#include "tracer.h"
#include "util.h"

#define TOP_USAGE	cmd_synopsis("top")
#define SC_ROWS		12	/* syscalls shown on the interactive screen */
/*
 * top counts every syscall and times one in 16 (bpf/trace.bpf.c): the
 * clock is most of what a traced syscall costs, and a rate or a mean
 * needs no more.
 */
#define TOP_TIME_SHIFT	4

struct t_thread {
	pid_t tid;
	char comm[BCK_COMM_LEN];
	char state;
	uint32_t cpu;
	uint64_t exec_ns;
	uint64_t csw;		/* voluntary + involuntary */
	uint64_t faults;	/* minor + major */
	uint64_t syscalls;
	uint64_t syscall_ns;	/* of the timed ones */
	uint64_t timed;
};

struct t_vma {
	uint64_t start;
	uint64_t end;
};

struct t_proc {
	pid_t pid;
	pid_t ppid;
	char comm[BCK_COMM_LEN];
	uint64_t rss_kb;
	struct t_vma *vmas;	/* ascending */
	uint32_t nr_vmas;
	uint32_t cap_vmas;
	uint32_t fds;
	int last_fd;
	struct t_thread *threads;
	uint32_t nr_threads;
	uint32_t cap_threads;
};

struct sample {
	uint64_t ns;
	uint64_t cost_ns;	/* what taking it took: the refresh's own cost */
	struct t_proc *procs;
	uint32_t nr_procs;
	uint32_t cap_procs;
	struct sc_stat *sc;	/* TRACE_NR_SYSCALLS */
};

struct top_ctx {
	pid_t root;
	double interval;
	long iterations;	/* 0: until quit */
	bool batch;
	bool json;
	struct tracer tr;
	struct sample s[2];
	struct sc_stat *delta;	/* TRACE_NR_SYSCALLS, for one refresh */
	int sig_fd;
	bool raw_tty;
	struct termios saved_tty;
};

static int parse_args(int argc, char **argv, struct top_ctx *c)
{
	char *end;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--batch")) {
			c->batch = true;
		} else if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "-n")) {
			if (++i == argc)
				return usage_error(TOP_USAGE, "-n needs a number");
			c->iterations = strtol(argv[i], &end, 10);
			if (*end || end == argv[i] || c->iterations < 1)
				return usage_error(TOP_USAGE, "'%s' is not a number of "
						   "refreshes", argv[i]);
		} else if (!strcmp(argv[i], "-d")) {
			if (++i == argc)
				return usage_error(TOP_USAGE, "-d needs seconds");
			c->interval = strtod(argv[i], &end);
			if (*end || end == argv[i] || !(c->interval >= 0.1))
				return usage_error(TOP_USAGE, "'%s' is not an interval "
						   "of at least 0.1 s", argv[i]);
		} else if ((ret = pid_operand(TOP_USAGE, argv[i], &c->root))) {
			return ret;
		}
	}
	if (!c->root)
		return usage_error(TOP_USAGE, "which PID?");
	if (c->json && !c->batch)
		return usage_error(TOP_USAGE, "--json needs --batch");
	return 0;
}

/* ---- sampling ---- */

static void sample_clear(struct sample *s)
{
	uint32_t i;

	for (i = 0; i < s->nr_procs; i++) {
		free(s->procs[i].threads);
		free(s->procs[i].vmas);
	}
	s->nr_procs = 0;
}

static void sample_free(struct sample *s)
{
	sample_clear(s);
	free(s->procs);
	free(s->sc);
}

/* records of one process mostly come in a row: the last one found is kept */
struct sampling {
	struct sample *s;
	struct t_proc *last;
	uint64_t kb_per_page;
};

static struct t_proc *find_proc(const struct sample *s, pid_t pid)
{
	uint32_t i;

	for (i = 0; i < s->nr_procs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

static struct t_thread *find_thread(const struct t_proc *p, pid_t tid)
{
	uint32_t i;

	for (i = 0; p && i < p->nr_threads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	return NULL;
}

static struct t_proc *proc_of(struct sampling *w, pid_t tgid)
{
	if (!w->last || w->last->pid != tgid)
		w->last = find_proc(w->s, tgid);
	return w->last;
}

static int thread_cb(void *ctx, const struct rec_thread *r)
{
	struct sampling *w = ctx;
	struct t_proc *p = proc_of(w, r->tgid);
	struct t_thread t = { 0 };
	int ret;

	if (!p) {
		struct t_proc np = { .pid = r->tgid, .last_fd = -1 };

		ret = vec_push(w->s->procs, w->s->nr_procs, w->s->cap_procs, np);
		if (ret)
			return ret;
		p = w->last = &w->s->procs[w->s->nr_procs - 1];
	}
	t.tid = r->tid;
	memcpy(t.comm, r->comm, sizeof(t.comm));
	t.comm[sizeof(t.comm) - 1] = 0;
	t.state = task_state_letter(r->state, 0);
	t.cpu = r->cpu;
	t.exec_ns = r->exec_ns;
	t.csw = r->nvcsw + r->nivcsw;
	t.faults = r->min_flt + r->maj_flt;
	t.syscalls = r->syscalls;
	t.syscall_ns = r->syscall_ns;
	t.timed = r->timed;
	/* the leader's name (else the first thread's); the rest is shared */
	if (!p->nr_threads || t.tid == p->pid)
		memcpy(p->comm, t.comm, sizeof(p->comm));
	p->ppid = r->ppid;
	p->rss_kb = r->rss_pages > 0 ? r->rss_pages * w->kb_per_page : 0;
	return vec_push(p->threads, p->nr_threads, p->cap_threads, t);
}

static int vma_cb(void *ctx, const struct rec_tvma *r)
{
	struct t_proc *p = proc_of(ctx, r->tgid);
	struct t_vma v = { r->start, r->end };

	/* born after the thread pass: the next refresh shows it */
	if (!p)
		return 0;
	/* an mm shown again (by another thread) starts again from the bottom */
	if (p->nr_vmas && r->start < p->vmas[p->nr_vmas - 1].end)
		return 0;
	return vec_push(p->vmas, p->nr_vmas, p->cap_vmas, v);
}

static int file_cb(void *ctx, const struct rec_tfd *r)
{
	struct t_proc *p = proc_of(ctx, r->tgid);

	/* likewise a shared fd table: fds ascend */
	if (!p || r->fd <= p->last_fd)
		return 0;
	p->last_fd = r->fd;
	p->fds++;
	return 0;
}

static int cmp_proc(const void *a, const void *b, void *root)
{
	pid_t x = ((const struct t_proc *)a)->pid, y = ((const struct t_proc *)b)->pid;
	pid_t r = *(pid_t *)root;

	/* the root first, then by pid */
	if (x == r || y == r)
		return x == r ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * One pass of each iterator for the whole tree (threads, then VMAs,
 * then fds), then the syscall table.
 */
static int take_sample(struct top_ctx *c, struct sample *s)
{
	struct sampling w = { s, NULL, getpagesize() / 1024 };
	int ret;

	sample_clear(s);
	s->ns = now_ns();
	ret = tracer_read_threads(&c->tr, thread_cb, &w);
	if (ret)
		return ret;
	qsort_r(s->procs, s->nr_procs, sizeof(s->procs[0]), cmp_proc, &c->root);
	w.last = NULL;
	ret = tracer_read_vmas(&c->tr, vma_cb, &w);
	if (!ret)
		ret = tracer_read_files(&c->tr, file_cb, &w);
	if (!ret)
		ret = tracer_read_syscalls(&c->tr, s->sc);
	s->cost_ns = now_ns() - s->ns;
	return ret;
}

/* ---- display ---- */

/* per second over the interval; counters that went back (reuse) count 0 */
static double rate(uint64_t now, uint64_t before, double secs)
{
	return now >= before ? (now - before) / secs : 0;
}

static void show_thread(struct printer *p, const struct t_thread *t,
			const struct t_thread *o, double secs)
{
	struct t_thread zero = { 0 };
	char state[2] = { t->state, 0 };
	double calls;

	if (!o)
		o = &zero;
	calls = rate(t->syscalls, o->syscalls, secs);
	print_open_obj(p, NULL);
	print_s64(p, "tid", "  %7" PRId64, t->tid);
	print_str(p, "comm", " %-15s", t->comm);
	print_str(p, "state", " %s", state);
	print_dbl(p, "cpu_pct", " %6.1f", rate(t->exec_ns, o->exec_ns, secs) / 1e7);
	print_dbl(p, "syscalls_per_s", " %9.0f", calls);
	print_dbl(p, "syscall_avg_us", " %9.2f", t->timed > o->timed ?
		  (t->syscall_ns - o->syscall_ns) / 1e3 / (t->timed - o->timed) : 0.0);
	print_dbl(p, "faults_per_s", " %8.0f", rate(t->faults, o->faults, secs));
	print_dbl(p, "ctxsw_per_s", " %8.0f", rate(t->csw, o->csw, secs));
	print_u64(p, "cpu", " %3" PRIu64 "\n", t->cpu);
	print_close_obj(p);
}

/* VMAs in @now and not in @before (exact start and end), and the reverse */
static void vma_diff(const struct t_proc *now, const struct t_proc *before,
		     uint32_t *added, uint32_t *removed)
{
	uint32_t i = 0, j = 0;

	*added = *removed = 0;
	while (i < now->nr_vmas || j < before->nr_vmas) {
		const struct t_vma *a = i < now->nr_vmas ? &now->vmas[i] : NULL;
		const struct t_vma *b = j < before->nr_vmas ? &before->vmas[j] : NULL;

		if (a && b && a->start == b->start && a->end == b->end) {
			i++;
			j++;
		} else if (a && (!b || a->start < b->start ||
				 (a->start == b->start && a->end < b->end))) {
			(*added)++;
			i++;
		} else {
			(*removed)++;
			j++;
		}
	}
}

static void show_proc(struct printer *p, const struct t_proc *pr,
		      const struct t_proc *o, double secs)
{
	int64_t grow = o ? (int64_t)pr->rss_kb - (int64_t)o->rss_kb : 0;
	uint32_t i, added = 0, removed = 0;

	if (o)
		vma_diff(pr, o, &added, &removed);
	print_open_obj(p, NULL);
	print_s64(p, "pid", "%7" PRId64, pr->pid);
	print_s64(p, "ppid", " %7" PRId64, pr->ppid);
	print_str(p, "comm", " %-15s", pr->comm);
	print_u64(p, "rss_kb", " %10" PRIu64, pr->rss_kb);
	print_s64(p, "rss_delta_kb", " %+9" PRId64, grow);
	print_u64(p, "vmas", " %6" PRIu64, pr->nr_vmas);
	print_u64(p, "vmas_added", "  +%-4" PRIu64, added);
	print_u64(p, "vmas_removed", " -%-4" PRIu64, removed);
	print_u64(p, "fds", " %5" PRIu64, pr->fds);
	print_u64(p, "nr_threads", " %4" PRIu64 "\n", pr->nr_threads);
	print_text(p, "  %7s %-15s S %6s %9s %9s %8s %8s %3s\n", "TID", "COMM",
		   "CPU%", "SYSC/s", "SYS_us", "FLT/s", "CSW/s", "CPU");
	print_open_arr(p, "threads");
	for (i = 0; i < pr->nr_threads; i++)
		show_thread(p, &pr->threads[i], find_thread(o, pr->threads[i].tid), secs);
	print_close_arr(p);
	print_close_obj(p);
}

static int cmp_calls(const void *a, const void *b, void *arg)
{
	const struct sc_stat *d = arg;
	uint64_t x = d[*(const uint32_t *)a].count, y = d[*(const uint32_t *)b].count;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void show_syscalls(struct top_ctx *c, struct printer *p,
			  const struct sample *s, const struct sample *o,
			  double secs, uint32_t max_rows)
{
	struct sc_stat *d = c->delta;
	uint32_t order[TRACE_NR_SYSCALLS], n = 0, i;
	const char *name;

	for (i = 0; i < TRACE_NR_SYSCALLS; i++) {
		sc_stat_sub(&d[i], &s->sc[i], &o->sc[i]);
		if (d[i].count)
			order[n++] = i;
	}
	qsort_r(order, n, sizeof(order[0]), cmp_calls, d);
	if (max_rows && n > max_rows)
		n = max_rows;
	print_text(p, "\n%-20s %10s %9s %10s %10s %7s\n", "SYSCALL", "CALLS/s",
		   "ERRORS/s", "AVG_us", "P99_us", "TIME%");
	print_open_arr(p, "syscalls");
	for (i = 0; i < n; i++) {
		const struct sc_stat *x = &d[order[i]];

		name = arch_syscall_name(order[i]);
		print_open_obj(p, NULL);
		print_str(p, "name", "%-20s", name ? name : "?");
		print_u64(p, "nr", NULL, order[i]);
		print_dbl(p, "calls_per_s", " %10.0f", x->count / secs);
		print_dbl(p, "errors_per_s", " %9.0f", x->errors / secs);
		print_dbl(p, "avg_us", " %10.2f", sc_avg_ns(x) / 1e3);
		print_dbl(p, "p99_us", " %10.2f", sc_percentile(x, 0.99) / 1e3);
		/* share of wall time the tree spent in it, over all threads */
		print_dbl(p, "time_pct", " %7.1f\n", sc_total_ns(x) / 1e7 / secs);
		print_close_obj(p);
	}
	print_close_arr(p);
}

static void show(struct top_ctx *c, struct printer *p, const struct sample *s,
		 const struct sample *o, uint32_t sc_rows)
{
	double secs = (s->ns - o->ns) / 1e9;
	uint32_t i, threads = 0;
	struct trace_lost l = { 0 };
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	for (i = 0; i < s->nr_procs; i++)
		threads += s->procs[i].nr_threads;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	tracer_read_lost(&c->tr, &l);
	print_open_obj(p, NULL);
	print_s64(p, "root", "bpfckpt top - pid %" PRId64, c->root);
	print_s64(p, "time", NULL, (int64_t)now);
	print_text(p, " - %s", when);
	print_dbl(p, "interval_s", " - every %.1f s", secs);
	print_u64(p, "nr_processes", " - %" PRIu64, s->nr_procs);
	print_text(p, " process%s", s->nr_procs == 1 ? "" : "es");
	print_u64(p, "nr_threads", ", %" PRIu64 " threads", threads);
	print_dbl(p, "sample_ms", ", sampled in %.1f ms", s->cost_ns / 1e6);
	if (l.procs) {
		print_open_obj(p, "lost");
		print_u64(p, "processes", " - %" PRIu64 " processes not followed "
			  "(too many)", l.procs);
		print_close_obj(p);
	}
	print_text(p, "\n\n%7s %7s %-15s %10s %9s %6s %5s %5s %5s %4s\n", "PID",
		   "PPID", "COMM", "RSS_KB", "dRSS_KB", "VMAS", "+VMA", "-VMA",
		   "FDS", "THR");
	print_open_arr(p, "processes");
	for (i = 0; i < s->nr_procs; i++)
		show_proc(p, &s->procs[i], find_proc(o, s->procs[i].pid), secs);
	print_close_arr(p);
	show_syscalls(c, p, s, o, secs, sc_rows);
	print_close_obj(p);
}

/* ---- terminal and main loop ---- */

static int tty_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || ws.ws_row < 5)
		return 24;
	return ws.ws_row;
}

static int tty_enter(struct top_ctx *c)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &c->saved_tty))
		return -errno;
	t = c->saved_tty;
	/* keys without Enter, no echo; ISIG stays: Ctrl-C reaches the signalfd */
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return -errno;
	c->raw_tty = true;
	/* the alternate screen, cursor hidden */
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
	return 0;
}

static void tty_leave(struct top_ctx *c)
{
	if (!c->raw_tty)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
	c->raw_tty = false;
}

/* the screen is drawn off-line and written at once, cut to its height */
static void draw(struct top_ctx *c, const struct sample *s, const struct sample *o)
{
	struct printer p;
	char *buf = NULL, *line;
	size_t len = 0;
	int rows = tty_rows(), n = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	print_init(&p, f, false);
	show(c, &p, s, o, SC_ROWS);
	print_text(&p, "\n(q to quit)\n");
	fclose(f);
	fputs("\033[H\033[2J", stdout);
	for (line = buf; line && *line && n < rows - 1; n++) {
		char *nl = strchr(line, '\n');

		fwrite(line, 1, nl ? (size_t)(nl - line + 1) : strlen(line), stdout);
		line = nl ? nl + 1 : NULL;
	}
	fflush(stdout);
	free(buf);
}

enum wake { WAKE_TICK, WAKE_QUIT };

/* sleeps until @deadline; WAKE_QUIT on q, Ctrl-C or SIGTERM */
static enum wake wait_until(struct top_ctx *c, uint64_t deadline)
{
	struct pollfd pfd[2] = {
		{ c->sig_fd, POLLIN, 0 },
		{ STDIN_FILENO, POLLIN, 0 },
	};
	uint64_t now;
	char key;

	while ((now = now_ns()) < deadline) {
		int n = poll(pfd, c->raw_tty ? 2 : 1, (deadline - now) / 1000000 + 1);

		if (n < 0 && errno != EINTR)
			return WAKE_QUIT;
		if (pfd[0].revents & POLLIN)
			return WAKE_QUIT;
		if (c->raw_tty && pfd[1].revents & POLLIN &&
		    read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
			return WAKE_QUIT;
	}
	return WAKE_TICK;
}

static int loop(struct top_ctx *c)
{
	uint64_t step = (uint64_t)(c->interval * 1e9), next;
	struct printer p;
	long shown = 0;
	int cur = 0, ret;

	ret = take_sample(c, &c->s[cur]);
	if (ret)
		return ret;
	next = c->s[cur].ns + step;
	print_init(&p, stdout, c->json);
	while (!c->iterations || shown < c->iterations) {
		if (wait_until(c, next) == WAKE_QUIT)
			return 0;
		next += step;
		cur ^= 1;
		ret = take_sample(c, &c->s[cur]);
		if (ret)
			return ret;
		if (!c->s[cur].nr_procs && !tracer_sweep(&c->tr)) {
			tty_leave(c);
			pr_info("pid %d: the process tree has exited", c->root);
			return 0;
		}
		if (c->raw_tty) {
			draw(c, &c->s[cur], &c->s[cur ^ 1]);
		} else {
			show(c, &p, &c->s[cur], &c->s[cur ^ 1], 0);
			print_text(&p, "\n");
			print_record_end(&p);
			fflush(stdout);
		}
		shown++;
		tracer_sweep(&c->tr);
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct top_ctx *c = calloc(1, sizeof(*c));
	struct tracer_opts o = { 0 };
	int ret, i;

	if (!c) {
		pr_err("out of memory");
		return EXIT_RUNTIME;
	}
	c->sig_fd = -1;
	c->interval = 1.0;
	ret = parse_args(argc, argv, c);
	if (ret)
		goto out;
	c->s[0].sc = calloc(TRACE_NR_SYSCALLS, sizeof(struct sc_stat));
	c->s[1].sc = calloc(TRACE_NR_SYSCALLS, sizeof(struct sc_stat));
	c->delta = calloc(TRACE_NR_SYSCALLS, sizeof(struct sc_stat));
	if (!c->s[0].sc || !c->s[1].sc || !c->delta) {
		ret = -ENOMEM;
		pr_err("out of memory");
		goto out;
	}
	c->sig_fd = stop_signals_fd();
	if (c->sig_fd < 0) {
		ret = c->sig_fd;
		pr_err("blocking SIGINT and SIGTERM: %s", errstr(ret));
		goto out;
	}
	o.sample = true;
	o.time_shift = TOP_TIME_SHIFT;
	ret = tracer_open(&c->tr, c->root, &o);
	if (ret)
		goto out;
	if (!c->batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		pr_info("not a terminal: batch mode");
		c->batch = true;
	}
	if (!c->batch) {
		ret = tty_enter(c);
		if (ret) {
			pr_err("setting up the terminal: %s", errstr(ret));
			goto out;
		}
	}
	ret = loop(c);
	tty_leave(c);
	if (ret)
		pr_err("pid %d: sampling: %s", c->root, errstr(ret));
out:
	tty_leave(c);
	if (c->tr.skel)
		tracer_close(&c->tr);
	for (i = 0; i < 2; i++)
		sample_free(&c->s[i]);
	free(c->delta);
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	free(c);
	if (ret > 0)
		return ret;
	return ret ? EXIT_RUNTIME : 0;
}
