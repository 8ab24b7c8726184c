// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt trace PID [--duration S] [-e EVENTS] [--max-rate N] [--json]
 *
 * One line per event of the process tree (syscalls with decoded
 * arguments, return value and latency; fork, exec, exit, signals, page
 * faults), filtered in the kernel; a summary with per-syscall counts and
 * latency percentiles at the end, from the kernel's aggregates: exact
 * even when records are lost or held back by --max-rate.  Stops at --duration, on SIGINT or
 * SIGTERM, or when the whole tree has exited.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arch.h"
#include "cmd.h"
#include "cmdtab.h"
#include "log.h"
#include "print.h"
#include "sysfmt.h"
#include "tracer.h"
#include "util.h"

#define TRACE_USAGE	cmd_synopsis("trace")
/* events per second shown at most: what a reader can still follow */
#define DEFAULT_MAX_RATE 10000
#define POLL_MS		100
#define CHECK_NS	500000000ULL	/* sweep and lost-count period */
#define DEFAULT_EVENTS	"syscalls,task,signal"

/* in the order of the REC_SYSCALL.. record types */
enum { EV_SYSCALL, EV_FORK, EV_EXEC, EV_EXIT, EV_SIGNAL, EV_FAULT, EV_KINDS };
_Static_assert(REC_FAULT - REC_SYSCALL == EV_FAULT, "record types");

static const char *const ev_names[EV_KINDS] = {
	"syscall", "fork", "exec", "exit", "signal", "fault",
};

struct trace_ctx {
	pid_t root;
	double duration;	/* seconds, 0: until stopped */
	bool json;
	bool sc[TRACE_NR_SYSCALLS];	/* syscalls to show */
	uint32_t emit;		/* TRACE_EMIT_* */
	struct tracer tr;
	struct printer p;
	uint64_t start_ns;
	uint64_t seen[EV_KINDS];
	uint64_t lost_seen;	/* lost records already reported */
	uint64_t throttled_seen;	/* records over the rate limit, reported */
	uint64_t max_rate;	/* --max-rate, 0: no limit */
	int sig_fd;
};

static const struct {
	const char *name;
	uint32_t sys_flags;
} classes[] = {
	{ "%file", SYS_FILE }, { "%desc", SYS_DESC }, { "%memory", SYS_MEMORY },
	{ "%process", SYS_PROCESS }, { "%sleep", SYS_SLEEP },
	{ "%signal", SYS_SIGNAL }, { "%net", SYS_NET }, { "%ipc", SYS_IPC },
};

static const struct {
	const char *name;
	uint32_t emit;
} kinds[] = {
	{ "task", TRACE_EMIT_FORK | TRACE_EMIT_EXEC | TRACE_EMIT_EXIT },
	{ "fork", TRACE_EMIT_FORK }, { "exec", TRACE_EMIT_EXEC },
	{ "exit", TRACE_EMIT_EXIT }, { "signal", TRACE_EMIT_SIGNAL },
	{ "fault", TRACE_EMIT_FAULT },
};

/* one -e item: sets or (with !) clears what it names; false if unknown */
static bool select_item(struct trace_ctx *c, const char *item)
{
	bool on = item[0] != '!';
	const struct sys_desc *d;
	const char *name;
	bool found = false;
	size_t i;
	long nr;

	if (!on)
		item++;
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (strcmp(item, kinds[i].name))
			continue;
		c->emit = on ? c->emit | kinds[i].emit : c->emit & ~kinds[i].emit;
		return true;
	}
	for (i = 0; i < ARRAY_SIZE(classes) && strcmp(item, classes[i].name); i++)
		;
	for (nr = 0; nr < TRACE_NR_SYSCALLS; nr++) {
		name = arch_syscall_name(nr);
		d = arch_syscall_desc(nr);
		if (!name)
			continue;
		if (!strcmp(item, "syscalls") || !strcmp(item, name) ||
		    (i < ARRAY_SIZE(classes) && d && d->flags & classes[i].sys_flags)) {
			c->sc[nr] = on;
			found = true;
		}
	}
	return found || i < ARRAY_SIZE(classes);
}

static int parse_events(struct trace_ctx *c, const char *spec)
{
	char *copy = strdup(spec), *item, *save = NULL;
	int ret = 0;
	long nr;

	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!select_item(c, item)) {
			ret = usage_error(TRACE_USAGE, "unknown event '%s' (syscall "
					  "names, syscalls, %%file, %%desc, %%memory, "
					  "%%process, %%sleep, %%signal, %%net, %%ipc, "
					  "task, fork, exec, exit, signal, fault; "
					  "!X removes X)", item);
			break;
		}
	}
	free(copy);
	for (nr = 0; nr < TRACE_NR_SYSCALLS; nr++)
		if (c->sc[nr])
			c->emit |= TRACE_EMIT_SYSCALL;
	return ret;
}

static int parse_args(int argc, char **argv, struct trace_ctx *c)
{
	const char *events = DEFAULT_EVENTS;
	char *end;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--duration")) {
			if (++i == argc)
				return usage_error(TRACE_USAGE, "--duration needs seconds");
			c->duration = strtod(argv[i], &end);
			if (*end || end == argv[i] || !(c->duration > 0))
				return usage_error(TRACE_USAGE, "'%s' is not a duration "
						   "in seconds", argv[i]);
		} else if (!strcmp(argv[i], "-e")) {
			if (++i == argc)
				return usage_error(TRACE_USAGE, "-e needs a list of events");
			events = argv[i];
		} else if (!strcmp(argv[i], "--max-rate")) {
			if (++i == argc)
				return usage_error(TRACE_USAGE, "--max-rate needs events per second");
			if (parse_u64(argv[i], 1000000000, &c->max_rate))
				return usage_error(TRACE_USAGE, "'%s' is not a rate in events "
						   "per second (0: no limit)", argv[i]);
		} else if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if ((ret = pid_operand(TRACE_USAGE, argv[i], &c->root))) {
			return ret;
		}
	}
	if (!c->root)
		return usage_error(TRACE_USAGE, "which PID?");
	return parse_events(c, events);
}

static void print_head(struct trace_ctx *c, const struct rec_ev *e, const char *kind)
{
	int64_t rel = (int64_t)(e->ts - c->start_ns);
	char comm[BCK_COMM_LEN + 1];

	memcpy(comm, e->comm, BCK_COMM_LEN);
	comm[BCK_COMM_LEN] = 0;
	print_open_obj(&c->p, NULL);
	print_dbl(&c->p, "time", "%12.6f ", rel / 1e9);
	print_str(&c->p, "comm", "%s", comm);
	print_s64(&c->p, "tid", "/%" PRId64 " ", e->tid);
	print_s64(&c->p, "pid", NULL, e->tgid);
	print_str(&c->p, "event", NULL, kind);
}

static void print_tail(struct trace_ctx *c)
{
	print_text(&c->p, "\n");
	print_close_obj(&c->p);
	print_record_end(&c->p);
}

static void show_syscall(struct trace_ctx *c, const struct rec_syscall *r,
			 size_t size)
{
	const struct rec_syscall_str *rs = (const void *)r;
	char str[TRACE_STR_MAX + 1];
	const char *s = NULL;

	if (r->nr < 0 || r->nr >= TRACE_NR_SYSCALLS || !c->sc[r->nr])
		return;
	if (size >= sizeof(*rs) && r->str_len > 0) {
		memcpy(str, rs->str, TRACE_STR_MAX);
		str[TRACE_STR_MAX] = 0;
		s = str;
	}
	print_head(c, &r->e, "syscall");
	sysfmt_syscall(&c->p, r, s);
	print_tail(c);
}

static void show_exit(struct trace_ctx *c, const struct rec_exit *r)
{
	char sig[32];
	int st = r->exit_code;

	print_head(c, &r->e, "exit");
	print_text(&c->p, "exit: ");
	if (st & 0x7f) {
		print_str(&c->p, "signal", "killed by %s",
			  sysfmt_signame(st & 0x7f, sig, sizeof(sig)));
	} else {
		print_s64(&c->p, "status", "status %" PRId64, (st >> 8) & 0xff);
	}
	print_bool(&c->p, "process", NULL, r->group_dead);
	print_text(&c->p, r->group_dead ? " (process)" : " (thread)");
	print_tail(c);
}

static void show_signal(struct trace_ctx *c, const struct rec_signal *r)
{
	char buf[32];

	print_head(c, &r->e, "signal");
	print_str(&c->p, "signal", "signal: %s",
		  sysfmt_signame(r->sig, buf, sizeof(buf)));
	print_str(&c->p, "code", " (%s", sysfmt_sicode(r->code, buf, sizeof(buf)));
	/* si_pid is meaningful for signals sent by a process */
	if (r->code <= 0)
		print_s64(&c->p, "sender", " from pid %" PRId64, r->sender);
	print_text(&c->p, ")");
	if (r->handler == 0)
		print_str(&c->p, "handler", " %s", "SIG_DFL");
	else if (r->handler == 1)
		print_str(&c->p, "handler", " %s", "SIG_IGN");
	else
		print_hex(&c->p, "handler", " handler %#" PRIx64, r->handler);
	print_tail(c);
}

static void show_fork(struct trace_ctx *c, const struct rec_fork *r)
{
	bool thread = r->child_tgid == r->e.tgid;

	print_head(c, &r->e, "fork");
	print_bool(&c->p, "thread", NULL, thread);
	print_s64(&c->p, "child", thread ? "fork: new thread %" PRId64 :
		  "fork: new process %" PRId64, thread ? r->child_tid : r->child_tgid);
	print_tail(c);
}

static void show_exec(struct trace_ctx *c, const struct rec_exec *r)
{
	char name[TRACE_STR_MAX + 1];

	memcpy(name, r->filename, TRACE_STR_MAX);
	name[r->len > 0 ? MIN(r->len, TRACE_STR_MAX) : 0] = 0;
	print_head(c, &r->e, "exec");
	print_str(&c->p, "filename", "exec: %s", name);
	if (r->old_tid && r->old_tid != r->e.tid)
		print_s64(&c->p, "old_tid", " (by thread %" PRId64 ")", r->old_tid);
	print_tail(c);
}

static void show_fault(struct trace_ctx *c, const struct rec_fault *r)
{
	/* x86 page fault error code: 1 protection, 2 write, 16 fetch */
	print_head(c, &r->e, "fault");
	print_hex(&c->p, "addr", "fault: %#" PRIx64, r->addr);
	print_hex(&c->p, "ip", " ip %#" PRIx64, r->ip);
	print_str(&c->p, "access", " %s", r->error_code & 16 ? "exec" :
		  r->error_code & 2 ? "write" : "read");
	print_bool(&c->p, "present", NULL, r->error_code & 1);
	print_text(&c->p, "%s", r->error_code & 1 ? " (protection)" : "");
	print_tail(c);
}

/* the size each record type must have at least */
static const size_t rec_sizes[] = {
	[EV_SYSCALL] = sizeof(struct rec_syscall),
	[EV_FORK] = sizeof(struct rec_fork),
	[EV_EXEC] = sizeof(struct rec_exec),
	[EV_EXIT] = sizeof(struct rec_exit),
	[EV_SIGNAL] = sizeof(struct rec_signal),
	[EV_FAULT] = sizeof(struct rec_fault),
};

static int on_record(void *data, void *rec, size_t size)
{
	struct trace_ctx *c = data;
	const struct rec_ev *e = rec;
	uint32_t kind;

	if (size < sizeof(*e) || e->h.size > size)
		return 0;
	kind = e->h.type - REC_SYSCALL;
	if (kind >= EV_KINDS || size < rec_sizes[kind])
		return 0;
	c->seen[kind]++;
	switch (kind) {
	case EV_SYSCALL:
		show_syscall(c, rec, size);
		break;
	case EV_FORK:
		show_fork(c, rec);
		break;
	case EV_EXEC:
		show_exec(c, rec);
		break;
	case EV_EXIT:
		show_exit(c, rec);
		break;
	case EV_SIGNAL:
		show_signal(c, rec);
		break;
	case EV_FAULT:
		show_fault(c, rec);
		break;
	}
	return 0;
}

/* the first line: tracing has started (scripts wait for it) */
static void print_start(struct trace_ctx *c)
{
	print_open_obj(&c->p, NULL);
	print_str(&c->p, "event", NULL, "start");
	print_s64(&c->p, "pid", "# tracing pid %" PRId64, c->root);
	print_u64(&c->p, "processes", ": %" PRIu64, c->tr.nr_procs);
	print_text(&c->p, " process%s", c->tr.nr_procs == 1 ? "" : "es");
	print_bool(&c->p, "follows_children", NULL, c->tr.have_fork);
	print_text(&c->p, "%s\n", c->tr.have_fork ? ", following children" : "");
	print_close_obj(&c->p);
	print_record_end(&c->p);
	fflush(stdout);
}

/*
 * Events over the rate limit go into the stream as a count where they
 * were held back, and once to stderr; the summary still has them all.
 */
static void check_throttled(struct trace_ctx *c, const struct trace_lost *l)
{
	uint64_t n = l->throttled - c->throttled_seen;

	if (!n)
		return;
	if (!c->throttled_seen)
		pr_warn("more than %" PRIu64 " events/s: the rest are counted in the "
			"summary, not shown (--max-rate)", c->max_rate);
	c->throttled_seen = l->throttled;
	print_open_obj(&c->p, NULL);
	print_dbl(&c->p, "time", "%12.6f ", (now_ns() - c->start_ns) / 1e9);
	print_str(&c->p, "event", NULL, "throttled");
	print_u64(&c->p, "count", "THROTTLED %" PRIu64 " events not shown", n);
	print_u64(&c->p, "max_rate", " (over %" PRIu64 "/s)\n", c->max_rate);
	print_close_obj(&c->p);
	print_record_end(&c->p);
}

/* new losses go into the stream where they happened, and to stderr */
static void check_lost(struct trace_ctx *c)
{
	struct trace_lost l;
	uint64_t n;

	if (tracer_read_lost(&c->tr, &l))
		return;
	check_throttled(c, &l);
	if (l.events == c->lost_seen)
		return;
	n = l.events - c->lost_seen;
	c->lost_seen = l.events;
	print_open_obj(&c->p, NULL);
	print_dbl(&c->p, "time", "%12.6f ", (now_ns() - c->start_ns) / 1e9);
	print_str(&c->p, "event", NULL, "lost");
	print_u64(&c->p, "count", "LOST %" PRIu64 " events (ring buffer full)\n", n);
	print_close_obj(&c->p);
	print_record_end(&c->p);
	pr_warn("%" PRIu64 " events lost: the ring buffer was full", n);
}

/* why the loop ended, for the summary */
enum stop { STOP_DURATION, STOP_SIGNAL, STOP_EXITED };

static int run(struct trace_ctx *c, struct ring_buffer *rb, enum stop *why)
{
	uint64_t end = c->duration ? c->start_ns + (uint64_t)(c->duration * 1e9) : 0;
	uint64_t next_check = c->start_ns + CHECK_NS, now;
	struct pollfd pfd[2] = {
		{ ring_buffer__epoll_fd(rb), POLLIN, 0 },
		{ c->sig_fd, POLLIN, 0 },
	};
	int timeout, n;

	for (;;) {
		now = now_ns();
		if (end && now >= end) {
			*why = STOP_DURATION;
			return 0;
		}
		timeout = POLL_MS;
		if (end && (end - now) / 1000000 < POLL_MS)
			timeout = (end - now) / 1000000 + 1;
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (ring_buffer__consume(rb) < 0)
			return -EIO;
		fflush(stdout);
		if (pfd[1].revents & POLLIN) {
			*why = STOP_SIGNAL;
			return 0;
		}
		if (now_ns() >= next_check) {
			next_check = now_ns() + CHECK_NS;
			check_lost(c);
			if (!tracer_sweep(&c->tr)) {
				*why = STOP_EXITED;
				return 0;
			}
		}
	}
}

static int cmp_time(const void *a, const void *b, void *arg)
{
	const struct sc_stat *st = arg;
	uint64_t x = st[*(const uint32_t *)a].total_ns;
	uint64_t y = st[*(const uint32_t *)b].total_ns;

	return x < y ? 1 : x > y ? -1 : 0;
}

static void summary_syscalls(struct trace_ctx *c, const struct sc_stat *st)
{
	uint32_t order[TRACE_NR_SYSCALLS], n = 0, i;
	const char *name;

	for (i = 0; i < TRACE_NR_SYSCALLS; i++)
		if (st[i].count && c->sc[i])
			order[n++] = i;
	qsort_r(order, n, sizeof(order[0]), cmp_time, (void *)st);
	print_text(&c->p, "%-20s %10s %8s %12s %10s %10s %10s %10s %10s\n",
		   "syscall", "calls", "errors", "total_ms", "avg_us", "p50_us",
		   "p90_us", "p99_us", "max_us");
	print_open_arr(&c->p, "syscalls");
	for (i = 0; i < n; i++) {
		const struct sc_stat *s = &st[order[i]];

		name = arch_syscall_name(order[i]);
		print_open_obj(&c->p, NULL);
		print_str(&c->p, "name", "%-20s", name ? name : "?");
		print_u64(&c->p, "nr", NULL, order[i]);
		print_u64(&c->p, "calls", " %10" PRIu64, s->count);
		print_u64(&c->p, "errors", " %8" PRIu64, s->errors);
		print_u64(&c->p, "total_ns", NULL, s->total_ns);
		print_dbl(&c->p, NULL, " %12.3f", s->total_ns / 1e6);
		print_u64(&c->p, "avg_ns", NULL, (uint64_t)sc_avg_ns(s));
		print_dbl(&c->p, NULL, " %10.2f", sc_avg_ns(s) / 1e3);
		print_u64(&c->p, "p50_ns", NULL, sc_percentile(s, 0.50));
		print_dbl(&c->p, NULL, " %10.2f", sc_percentile(s, 0.50) / 1e3);
		print_u64(&c->p, "p90_ns", NULL, sc_percentile(s, 0.90));
		print_dbl(&c->p, NULL, " %10.2f", sc_percentile(s, 0.90) / 1e3);
		print_u64(&c->p, "p99_ns", NULL, sc_percentile(s, 0.99));
		print_dbl(&c->p, NULL, " %10.2f", sc_percentile(s, 0.99) / 1e3);
		print_u64(&c->p, "max_ns", NULL, s->max_ns);
		print_dbl(&c->p, NULL, " %10.2f\n", s->max_ns / 1e3);
		print_close_obj(&c->p);
	}
	print_close_arr(&c->p);
}

static const char *const stop_names[] = {
	[STOP_DURATION] = "duration", [STOP_SIGNAL] = "signal",
	[STOP_EXITED] = "exited",
};

static int summary(struct trace_ctx *c, enum stop why)
{
	struct sc_stat *st = calloc(TRACE_NR_SYSCALLS, sizeof(*st));
	struct trace_lost l = { 0 };
	int i, ret;

	if (!st)
		return -ENOMEM;
	ret = tracer_read_syscalls(&c->tr, st);
	if (!ret)
		ret = tracer_read_lost(&c->tr, &l);
	if (ret) {
		free(st);
		return ret;
	}
	print_open_obj(&c->p, NULL);
	print_str(&c->p, "event", NULL, "summary");
	print_dbl(&c->p, "duration_s", "\nsummary: %.2f s", (now_ns() - c->start_ns) / 1e9);
	print_s64(&c->p, "pid", " of pid %" PRId64, c->root);
	print_str(&c->p, "stopped_by", " (stopped by %s)", stop_names[why]);
	print_open_obj(&c->p, "events");
	for (i = 0; i < EV_KINDS; i++)
		print_u64(&c->p, ev_names[i], i ? ", %" PRIu64 : ": %" PRIu64,
			  c->seen[i]), print_text(&c->p, " %s%s", ev_names[i],
						   c->seen[i] == 1 ? "" : "s");
	print_close_obj(&c->p);
	print_open_obj(&c->p, "lost");
	print_u64(&c->p, "events", "; lost: %" PRIu64 " events", l.events);
	print_u64(&c->p, "processes", ", %" PRIu64 " processes not followed", l.procs);
	print_close_obj(&c->p);
	print_u64(&c->p, "throttled", "; not shown (over --max-rate): %" PRIu64 " events\n",
		  l.throttled);
	summary_syscalls(c, st);
	print_close_obj(&c->p);
	print_record_end(&c->p);
	fflush(stdout);
	if (l.events || l.procs)
		pr_warn("lost %" PRIu64 " events and %" PRIu64 " processes (ring "
			"buffer or process map full)", (uint64_t)l.events,
			(uint64_t)l.procs);
	free(st);
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_ctx *c = calloc(1, sizeof(*c));
	struct tracer_opts o = { 0 };
	struct ring_buffer *rb = NULL;
	enum stop why = STOP_SIGNAL;
	int ret;

	if (!c) {
		pr_err("out of memory");
		return EXIT_RUNTIME;
	}
	c->sig_fd = -1;
	c->max_rate = DEFAULT_MAX_RATE;
	ret = parse_args(argc, argv, c);
	if (ret)
		goto out;
	c->sig_fd = stop_signals_fd();
	if (c->sig_fd < 0) {
		ret = c->sig_fd;
		pr_err("blocking SIGINT and SIGTERM: %s", errstr(ret));
		goto out;
	}
	o.emit = c->emit;
	o.sc_emit = c->sc;
	o.max_rate = c->max_rate;
	ret = tracer_open(&c->tr, c->root, &o);
	if (ret)
		goto out;
	rb = tracer_ringbuf(&c->tr, on_record, c);
	if (!rb) {
		ret = -errno;
		pr_err("opening the ring buffer: %s", errstr(ret));
		goto out;
	}
	print_init(&c->p, stdout, c->json);
	/* time 0: no traced syscall can have started before */
	c->start_ns = c->tr.attach_ns;
	print_start(c);
	ret = run(c, rb, &why);
	if (!ret && ring_buffer__consume(rb) < 0)
		ret = -EIO;
	if (ret) {
		pr_err("pid %d: reading events: %s", c->root, errstr(ret));
		goto out;
	}
	check_lost(c);
	ret = summary(c, why);
	if (ret)
		pr_err("pid %d: reading the summary: %s", c->root, errstr(ret));
out:
	ring_buffer__free(rb);
	if (c->tr.skel)
		tracer_close(&c->tr);
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	free(c);
	if (ret > 0)
		return ret;	/* usage error */
	return ret ? EXIT_RUNTIME : 0;
}
