// SPDX-License-Identifier: GPL-2.0
/*
 * Loading bpf/trace.bpf.c and following a process tree.
 *
 * Start-up order matters.  The processes of the tree go into `traced`
 * and the walk_tree iterator marks their threads (task storage) before
 * the hooks are attached; then the tree is listed and walked again until
 * no new process shows up.  Whatever a traced thread creates after the
 * attach is marked by the fork hook; whatever was created before its
 * parent was marked shows up in the next listing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "arch.h"
#include "collect.h"
#include "log.h"
#include "pstree.h"
#include "snap.h"
#include "tracer.h"
#include "bpfckpt/task.h"
#include "util.h"
#include "trace.skel.h"

#define FOLLOW_ROUNDS	16

/*
 * The tracer's programs; `instead` says what the user loses when one is
 * missing (no hook, refused, or not attached), NULL: the tracer needs it.
 */
const struct bpf_prog_desc tracer_progs[TRACER_NR_PROGS] = {
	{ "sys_enter", "tp_btf/sys_enter: syscall entry", "tp_btf", NULL, 10 },
	{ "sys_exit", "tp_btf/sys_exit: syscall exit", "tp_btf", NULL, 11 },
	{ "task_fork", "tp_btf/sched_process_fork: children", NULL,
	  "no fork events, children born while tracing are not followed", 0 },
	{ "task_exec", "tp_btf/sched_process_exec", NULL, "no exec events", 0 },
	{ "task_exit", "tp_btf/sched_process_exit", NULL, "no exit events", 0 },
	{ "signal_deliver", "tp_btf/signal_deliver", NULL, "no signal events", 0 },
	{ "page_fault_user", "tp_btf/page_fault_user", NULL, "no page fault events", 0 },
	{ "walk_tree", "iter/task: marks and reads the traced threads", NULL, NULL, 0 },
	{ "walk_vmas", "iter/task_vma: VMAs of the traced processes (top)", NULL, NULL, 0 },
	{ "walk_files", "iter/task_file: fds of the traced processes (top)", NULL, NULL, 0 },
	/* the syscall hooks' variants, each tried where the one above is refused */
	{ "sys_enter_raw", "raw_tp/sys_enter: syscall entry", "raw_tp", NULL, 1 },
	{ "sys_enter_tp", "tracepoint/raw_syscalls/sys_enter: syscall entry", NULL,
	  NULL, 0 },
	{ "sys_exit_raw", "raw_tp/sys_exit: syscall exit", "raw_tp", NULL, 1 },
	{ "sys_exit_tp", "tracepoint/raw_syscalls/sys_exit: syscall exit", NULL,
	  NULL, 0 },
};

/* emit and time_mask are read-only data, set between open and load */
static void set_emit(void *skel, const void *opts)
{
	const struct tracer_opts *o = opts;

	((struct trace_bpf *)skel)->rodata->emit = o ? o->emit : 0;
	((struct trace_bpf *)skel)->rodata->time_mask = o ? (1u << o->time_shift) - 1 : 0;
	/* per window, at least one */
	((struct trace_bpf *)skel)->rodata->rate_max = o && o->max_rate ?
		MAX((o->max_rate << TRACE_RATE_SHIFT) / 1000000000, 1) : 0;
}

BPF_SKEL_OPS(trace, set_emit);

/* the first row of @i's chain of variants: the program they stand in for */
static int chain_head(int i)
{
	int k;

	for (k = 0; k < i; k++)
		if (tracer_progs[k].alt && k + tracer_progs[k].alt == i)
			return chain_head(k);
	return i;
}

int tracer_prog_taken_by(const struct bpf_prog_status *st, int i)
{
	int k = chain_head(i);

	for (;;) {
		if (st[k].loaded)
			return k;
		if (!tracer_progs[k].alt || k + tracer_progs[k].alt >= TRACER_NR_PROGS)
			return -1;
		k += tracer_progs[k].alt;
	}
}

static int prog_index(const char *name)
{
	int i;

	for (i = 0; i < TRACER_NR_PROGS; i++)
		if (!strcmp(tracer_progs[i].name, name))
			return i;
	return -1;
}

static const char *hook_loss(const char *prog, bool *known)
{
	int i = prog_index(prog);

	*known = i >= 0;
	return i >= 0 ? tracer_progs[i].instead : NULL;
}

/*
 * BPFCKPT_FAULT=trace-no-<program>: as if the kernel lacked its hook,
 * which its variants attach to as well
 */
static bool hook_hidden(int i, bool *hidden)
{
	char name[128];

	if (chain_head(i) != i)
		return hidden[chain_head(i)];
	snprintf(name, sizeof(name), "trace-no-%s", tracer_progs[i].name);
	return hidden[i] = fault_at(name);
}

/* the kernel has the tracepoint the program attaches to */
static bool has_hook(const struct btf *vmlinux, struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	const char *target = strchr(sec, '/');
	char name[128];

	/* iterators and what we do not know: let the load tell */
	if (!vmlinux || !target ||
	    (strncmp(sec, "tp_btf/", 7) && strncmp(sec, "raw_tp/", 7)))
		return true;
	snprintf(name, sizeof(name), "btf_trace_%s", target + 1);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

static bool wanted(const char *prog, const struct tracer_opts *o)
{
	if (!strcmp(prog, "page_fault_user"))
		return o->emit & TRACE_EMIT_FAULT;
	if (!strcmp(prog, "task_exec"))
		return o->emit & TRACE_EMIT_EXEC;
	if (!strcmp(prog, "signal_deliver"))
		return o->emit & TRACE_EMIT_SIGNAL;
	if (!strcmp(prog, "walk_vmas") || !strcmp(prog, "walk_files"))
		return o->sample;
	return true;
}

/*
 * Skips what is not wanted or whose hook this kernel lacks (the probe
 * needs an opened skeleton to read the sections from).
 */
static void pick_programs(struct bpf_prog_status *st, const struct tracer_opts *o)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool hidden[TRACER_NR_PROGS] = { 0 };
	struct bpf_program *prog;
	struct trace_bpf *skel;
	int i;

	skel = trace_bpf__open();
	for (i = 0; i < TRACER_NR_PROGS; i++) {
		st[i].skip = o && !wanted(tracer_progs[i].name, o);
		prog = skel ? bpf_object__find_program_by_name(skel->obj,
							       tracer_progs[i].name) : NULL;
		if (!st[i].skip && prog &&
		    (hook_hidden(i, hidden) || !has_hook(vmlinux, prog))) {
			st[i].skip = true;
			st[i].err = -ENOENT;
			snprintf(st[i].why, sizeof(st[i].why), "this kernel has no %s hook",
				 bpf_program__section_name(prog));
		}
	}
	trace_bpf__destroy(skel);
	btf__free(vmlinux);
}

int tracer_probe(struct bpf_prog_status *st)
{
	/* every record on: the verifier then walks trace's whole path */
	const struct tracer_opts all = { .emit = ~0u };
	void *skel;
	int ret;

	memset(st, 0, TRACER_NR_PROGS * sizeof(*st));
	pick_programs(st, NULL);
	ret = bpf_load_progs(&trace_skel_ops, &all, tracer_progs, st,
			     TRACER_NR_PROGS, &skel);
	trace_bpf__destroy(skel);
	return ret;
}

/* what a missing required program stops */
static const char *cannot_work(const struct bpf_prog_desc *d)
{
	if (!strcmp(d->name, "walk_vmas") || !strcmp(d->name, "walk_files"))
		return "top cannot work here; trace, snap, restore and show can";
	return "trace and top cannot work here; snap, restore and show can";
}

/* says what is missing; -ENOTSUP if the tracer cannot do without it */
static int report_missing(const struct bpf_prog_status *st)
{
	char then[128];
	int i, k, ret = 0;

	for (i = 0; i < TRACER_NR_PROGS; i++) {
		const struct bpf_prog_desc *d = &tracer_progs[i];
		bool fatal;

		if (st[i].loaded || !st[i].err)
			continue;
		k = tracer_prog_taken_by(st, i);
		fatal = k < 0 && !d->instead;
		if (k >= 0)
			snprintf(then, sizeof(then), "%s takes its place", tracer_progs[k].what);
		else
			snprintf(then, sizeof(then), "%s", d->instead ? d->instead :
				 st[i].skip ? "cannot trace" : cannot_work(d));
		if (st[i].skip)		/* no hook: why says so */
			log_msg(fatal ? LOG_ERR : LOG_WARN, "%s: %s", st[i].why, then);
		else
			bpf_say_refused(fatal ? LOG_ERR : LOG_WARN, d, &st[i], then);
		if (fatal)
			ret = -ENOTSUP;
	}
	return ret;
}

/* reads a tracepoint's id under @root (a tracefs mount); -errno */
static int read_tp_id(const char *root, const char *cat, const char *name)
{
	char path[256], buf[32], *end;
	long id;

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", root, cat, name);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	id = strtol(buf, &end, 10);
	return end == buf || id <= 0 || id > INT_MAX ? -EINVAL : (int)id;
}

/*
 * A classic tracepoint's id is only in tracefs.  Where it is not
 * mounted (as here), a child mounts it in a mount namespace of its own,
 * so that the host never sees the mount, and passes the id back.
 */
static int tracepoint_id(const char *cat, const char *name)
{
	int fds[2], id, st;
	pid_t pid;

	id = read_tp_id("/sys/kernel/tracing", cat, name);
	if (id == -ENOENT)
		id = read_tp_id("/sys/kernel/debug/tracing", cat, name);
	if (id != -ENOENT)
		return id;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		id = -errno;
		close(fds[0]);
		close(fds[1]);
		return id;
	}
	if (pid == 0) {
		id = -ENOENT;
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
			id = -errno;
		else
			id = read_tp_id("/sys/kernel/tracing", cat, name);
		_exit(write(fds[1], &id, sizeof(id)) == sizeof(id) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], &id, sizeof(id)) != sizeof(id))
		id = -EIO;
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return id;
}

/* a classic tracepoint program, through a perf event of the tracepoint */
static struct bpf_link *attach_tracepoint(struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	struct perf_event_attr attr = { 0 };
	char cat[64], name[64];
	struct bpf_link *link;
	int id, pfd;

	link = bpf_program__attach(prog);
	if (link || errno != ENOENT)
		return link;
	if (sscanf(sec, "tracepoint/%63[^/]/%63s", cat, name) != 2) {
		errno = EINVAL;
		return NULL;
	}
	id = tracepoint_id(cat, name);
	if (id < 0) {
		errno = -id;
		return NULL;
	}
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.sample_period = 1;
	/* one event runs the program on every CPU: it hangs off the tracepoint */
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return NULL;
	link = bpf_program__attach_perf_event(prog, pfd);
	if (!link) {
		id = errno;
		close(pfd);
		errno = id;
	}
	return link;
}

static int attach_programs(struct tracer *t)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	const char *name, *loss;
	bool known;
	int err;

	t->attach_ns = now_ns();
	bpf_object__for_each_program(prog, t->skel->obj) {
		/* iterators are not attached to a hook */
		if (!bpf_program__autoload(prog) ||
		    bpf_program__expected_attach_type(prog) == BPF_TRACE_ITER)
			continue;
		name = bpf_program__name(prog);
		if (bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT)
			link = attach_tracepoint(prog);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			loss = hook_loss(name, &known);
			if (known && !loss) {
				pr_err("attaching %s: %s", bpf_program__section_name(prog),
				       errstr(err));
				return err;
			}
			pr_warn("attaching %s: %s: %s", bpf_program__section_name(prog),
				errstr(err), loss ? loss : "");
			continue;
		}
		if (t->nr_links == ARRAY_SIZE(t->links)) {
			bpf_link__destroy(link);
			return -E2BIG;
		}
		t->links[t->nr_links++] = link;
		if (!strcmp(name, "task_fork"))
			t->have_fork = true;
	}
	return 0;
}

static int fill_sc_desc(struct tracer *t, const struct tracer_opts *o)
{
	int fd = bpf_map__fd(t->skel->maps.sc_desc);
	const struct sys_desc *d;
	struct sc_desc v;
	uint32_t nr;
	int i;

	for (nr = 0; nr < TRACE_NR_SYSCALLS; nr++) {
		memset(&v, 0, sizeof(v));
		d = arch_syscall_desc(nr);
		v.emit = o->sc_emit && o->sc_emit[nr];
		for (i = 0; d && i < 6 && d->arg[i].name; i++) {
			if (d->arg[i].val == SV_STR && !v.str_arg)
				v.str_arg = i + 1;
			if (d->arg[i].val == SV_TIMESPEC && !v.mem_arg) {
				v.mem_arg = i + 1;
				v.mem_len = 16;	/* struct __kernel_timespec */
			}
		}
		v.no_return = d && d->flags & SYS_NORETURN;
		if (bpf_map_update_elem(fd, &nr, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* adds the live processes of @tree; returns how many were new */
static int add_tree(struct tracer *t, struct pstree *tree)
{
	int fd = bpf_map__fd(t->skel->maps.traced);
	uint32_t zero = 0;
	uint32_t i;
	int n = 0;

	for (i = 0; i < tree->nr_procs; i++) {
		pid_t pid = tree->procs[i].pid;

		/*
		 * Not ourselves (trace $$ from a shell lists us as its
		 * child): our own syscalls would make more events.
		 */
		if (tree->procs[i].zombie || pid == getpid())
			continue;
		if (!bpf_map_update_elem(fd, &pid, &zero, BPF_NOEXIST))
			n++;
		else if (errno != EEXIST)
			return -errno;
	}
	return n;
}

/* walking the tree marks its threads; their counters are not needed */
static int ignore_counters(void *ctx, const struct rec_thread *r)
{
	return 0;
}

/*
 * Round 0 marks the tree before the hooks are attached; every later
 * round lists and marks again until no new process shows up, so a
 * process or thread born in between is not missed.
 */
static int follow(struct tracer *t)
{
	struct pstree tree;
	int round, ret, added;

	for (round = 0; round < FOLLOW_ROUNDS; round++) {
		ret = pstree_scan(NULL, t->root, &tree);
		if (ret)
			return ret;
		added = ret = add_tree(t, &tree);
		if (round == 0)
			t->nr_procs = MAX(added, 0);
		pstree_free(&tree);
		if (ret >= 0)
			ret = tracer_read_threads(t, ignore_counters, NULL);
		if (ret < 0) {
			pr_err("pid %d: following its processes: %s", t->root,
			       errstr(ret));
			return ret;
		}
		if (round == 0) {
			ret = attach_programs(t);
			if (ret)
				return ret;
		} else if (added == 0) {
			return 0;
		}
	}
	pr_err("pid %d: the tree keeps growing faster than it can be listed",
	       t->root);
	return -EAGAIN;
}

static int load(struct tracer *t, const struct tracer_opts *o)
{
	struct bpf_prog_status st[TRACER_NR_PROGS] = { 0 };
	void *skel;
	int ret;

	pick_programs(st, o);
	ret = bpf_load_progs(&trace_skel_ops, o, tracer_progs, st, TRACER_NR_PROGS,
			     &skel);
	t->skel = skel;
	if (ret) {
		pr_err("loading the tracer: %s (-vv shows why)", errstr(ret));
		return ret;
	}
	ret = report_missing(st);
	if (ret)
		return ret;
	ret = fill_sc_desc(t, o);
	if (ret) {
		pr_err("setting up the syscall table: %s", errstr(ret));
		return ret;
	}
	t->walk = bpf_program__attach_iter(t->skel->progs.walk_tree, NULL);
	if (!t->walk) {
		ret = -errno;
		pr_err("attaching the thread iterator: %s", errstr(ret));
		return ret;
	}
	if (!o->sample)
		return 0;
	t->walk_vmas = bpf_program__attach_iter(t->skel->progs.walk_vmas, NULL);
	t->walk_files = bpf_program__attach_iter(t->skel->progs.walk_files, NULL);
	if (!t->walk_vmas || !t->walk_files) {
		ret = -errno;
		pr_err("attaching the VMA and fd iterators: %s", errstr(ret));
	}
	return ret;
}

int tracer_open(struct tracer *t, pid_t root, const struct tracer_opts *o)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->root = root;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		pr_err("counting CPUs: %s", errstr(t->ncpus));
		return t->ncpus ? t->ncpus : -EINVAL;
	}
	ret = load(t, o);
	if (!ret)
		ret = follow(t);
	if (!ret)
		tracer_sweep(t);
	if (ret)
		tracer_close(t);
	return ret;
}

void tracer_close(struct tracer *t)
{
	while (t->nr_links)
		bpf_link__destroy(t->links[--t->nr_links]);
	bpf_link__destroy(t->walk);
	bpf_link__destroy(t->walk_vmas);
	bpf_link__destroy(t->walk_files);
	t->walk = t->walk_vmas = t->walk_files = NULL;
	trace_bpf__destroy(t->skel);
	t->skel = NULL;
}

struct ring_buffer *tracer_ringbuf(struct tracer *t, ring_buffer_sample_fn fn,
				   void *ctx)
{
	return ring_buffer__new(bpf_map__fd(t->skel->maps.events), fn, ctx, NULL);
}

uint32_t tracer_procs(struct tracer *t, pid_t *out, uint32_t cap)
{
	int fd = bpf_map__fd(t->skel->maps.traced);
	pid_t key, next;
	void *prev = NULL;
	uint32_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n < cap)
			out[n] = next;
		n++;
		key = next;
		prev = &key;
	}
	return n;
}

uint32_t tracer_sweep(struct tracer *t)
{
	int fd = bpf_map__fd(t->skel->maps.traced);
	uint32_t n, i, left;
	pid_t *pids;

	n = tracer_procs(t, NULL, 0);
	pids = calloc(n ? n : 1, sizeof(*pids));
	if (!pids)
		return n;	/* try again next time */
	n = MIN(tracer_procs(t, pids, n), n);
	for (i = 0, left = n; i < n; i++)
		/* gone, or a zombie whose exit the tracer missed (before attach) */
		if (proc_exited(pids[i]) && !bpf_map_delete_elem(fd, &pids[i]))
			left--;
	free(pids);
	return left;
}

static void stat_add(struct sc_stat *out, const struct sc_stat *s)
{
	uint32_t i;

	out->count += s->count;
	out->errors += s->errors;
	out->total_ns += s->total_ns;
	out->timed += s->timed;
	if (s->min_ns && (s->min_ns < out->min_ns || !out->min_ns))
		out->min_ns = s->min_ns;
	out->max_ns = MAX(out->max_ns, s->max_ns);
	for (i = 0; i < TRACE_HIST_SLOTS; i++)
		out->hist[i] += s->hist[i];
}

int tracer_read_syscalls(struct tracer *t, struct sc_stat *out)
{
	int fd = bpf_map__fd(t->skel->maps.sc_stats);
	struct sc_stat *percpu;
	uint32_t nr;
	int cpu, ret = 0;

	/* per-CPU values come as an array of ncpus, each 8-byte aligned */
	_Static_assert(sizeof(struct sc_stat) % 8 == 0, "sc_stat alignment");
	percpu = calloc(t->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(out, 0, TRACE_NR_SYSCALLS * sizeof(*out));
	for (nr = 0; nr < TRACE_NR_SYSCALLS; nr++) {
		if (bpf_map_lookup_elem(fd, &nr, percpu)) {
			ret = -errno;
			break;
		}
		for (cpu = 0; cpu < t->ncpus; cpu++)
			if (percpu[cpu].count)
				stat_add(&out[nr], &percpu[cpu]);
	}
	free(percpu);
	/* the next call of each syscall on each CPU is timed (entry_needed) */
	t->skel->bss->sample_gen++;
	return ret;
}

/* one pass of the iterator behind @link: @cb gets each record of @size bytes */
static int read_iter(struct bpf_link *link, size_t size,
		     int (*cb)(void *ctx, const void *rec), void *ctx)
{
	uint64_t buf[512];
	ssize_t n, i;
	int fd, ret = 0;

	if (!link)
		return -ENOTSUP;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	for (;;) {
		/*
		 * All records have one size, and the seq_file hands out what
		 * its buffer holds from where the last read stopped: reads of
		 * a multiple of the size stay on record boundaries
		 */
		n = read(fd, buf, sizeof(buf) / size * size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		for (i = 0; !ret && i + (ssize_t)size <= n; i += size)
			ret = cb(ctx, (const char *)buf + i);
		if (ret)
			break;
	}
	close(fd);
	return ret;
}

/* the typed callback read_iter's records go to */
struct iter_cb {
	void *ctx;
	int (*thread)(void *ctx, const struct rec_thread *r);
	int (*vma)(void *ctx, const struct rec_tvma *r);
	int (*file)(void *ctx, const struct rec_tfd *r);
};

static int to_thread(void *c, const void *r)
{
	return ((struct iter_cb *)c)->thread(((struct iter_cb *)c)->ctx, r);
}

static int to_vma(void *c, const void *r)
{
	return ((struct iter_cb *)c)->vma(((struct iter_cb *)c)->ctx, r);
}

static int to_file(void *c, const void *r)
{
	return ((struct iter_cb *)c)->file(((struct iter_cb *)c)->ctx, r);
}

int tracer_read_threads(struct tracer *t,
			int (*cb)(void *ctx, const struct rec_thread *r), void *ctx)
{
	struct iter_cb c = { .ctx = ctx, .thread = cb };

	return read_iter(t->walk, sizeof(struct rec_thread), to_thread, &c);
}

int tracer_read_vmas(struct tracer *t,
		     int (*cb)(void *ctx, const struct rec_tvma *r), void *ctx)
{
	struct iter_cb c = { .ctx = ctx, .vma = cb };

	return read_iter(t->walk_vmas, sizeof(struct rec_tvma), to_vma, &c);
}

int tracer_read_files(struct tracer *t,
		      int (*cb)(void *ctx, const struct rec_tfd *r), void *ctx)
{
	struct iter_cb c = { .ctx = ctx, .file = cb };

	return read_iter(t->walk_files, sizeof(struct rec_tfd), to_file, &c);
}

int tracer_read_lost(struct tracer *t, struct trace_lost *out)
{
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.lost), &zero, out))
		return -errno;
	return 0;
}

/* the range [low, high) of a histogram slot, in ns (see TRACE_HIST_SUB) */
static void slot_range(uint32_t slot, uint64_t *low, uint64_t *high)
{
	uint32_t e = slot / TRACE_HIST_SUB, m = slot % TRACE_HIST_SUB;

	if (slot < TRACE_HIST_SUB) {
		*low = slot;
		*high = slot + 1;
		return;
	}
	*low = (uint64_t)(TRACE_HIST_SUB + m) << (e - 3);
	*high = (uint64_t)(TRACE_HIST_SUB + m + 1) << (e - 3);
}

/*
 * Interpolated by rank inside the slot, which is narrowed to the
 * observed minimum and maximum: a tight distribution comes out tight.
 */
uint64_t sc_percentile(const struct sc_stat *s, double q)
{
	uint64_t total = 0, want, seen = 0, low, high;
	uint32_t i;

	for (i = 0; i < TRACE_HIST_SLOTS; i++)
		total += s->hist[i];
	if (!total)
		return 0;
	want = (uint64_t)(q * total + 0.5);
	want = MAX(want, 1);
	for (i = 0; i < TRACE_HIST_SLOTS; i++) {
		if (seen + s->hist[i] < want) {
			seen += s->hist[i];
			continue;
		}
		slot_range(i, &low, &high);
		if (s->min_ns > low && s->min_ns < high)
			low = s->min_ns;
		if (s->max_ns >= low && s->max_ns < high)
			high = s->max_ns;
		return low + (high - low) * (want - seen) / s->hist[i];
	}
	return s->max_ns;
}

void sc_stat_sub(struct sc_stat *out, const struct sc_stat *a,
		 const struct sc_stat *b)
{
	uint32_t i;

	out->count = a->count - b->count;
	out->errors = a->errors - b->errors;
	out->total_ns = a->total_ns - b->total_ns;
	out->timed = a->timed - b->timed;
	/* extremes are not differences: the interval's are unknown */
	out->min_ns = a->min_ns;
	out->max_ns = a->max_ns;
	for (i = 0; i < TRACE_HIST_SLOTS; i++)
		out->hist[i] = a->hist[i] - b->hist[i];
}

double sc_avg_ns(const struct sc_stat *s)
{
	return s->timed ? (double)s->total_ns / s->timed : 0;
}

double sc_total_ns(const struct sc_stat *s)
{
	return sc_avg_ns(s) * s->count;
}
