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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* what the user loses when a hook is missing; NULL: the tracer needs it */
static const struct {
	const char *prog;
	const char *loss;
} hooks[] = {
	{ "sys_enter", NULL },
	{ "sys_exit", NULL },
	{ "task_fork", "no fork events, children born while tracing are not followed" },
	{ "task_exec", "no exec events" },
	{ "task_exit", "no exit events" },
	{ "signal_deliver", "no signal events" },
	{ "page_fault_user", "no page fault events" },
};

static const char *hook_loss(const char *prog, bool *known)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hooks); i++) {
		if (!strcmp(hooks[i].prog, prog)) {
			*known = true;
			return hooks[i].loss;
		}
	}
	*known = false;
	return NULL;
}

/* the kernel has the tracepoint the program attaches to */
static bool has_hook(const struct btf *vmlinux, struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);
	const char *target = strchr(sec, '/');
	char name[128];

	/* BPFCKPT_FAULT=trace-no-<program>: as if the kernel lacked it */
	snprintf(name, sizeof(name), "trace-no-%s", bpf_program__name(prog));
	if (fault_at(name))
		return false;

	/* iterators and what we do not know: let the load tell */
	if (!vmlinux || !target || strncmp(sec, "tp_btf/", 7))
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
	return true;
}

/* unloads what is not wanted or not in this kernel; -ENOTSUP if vital */
static int pick_programs(struct tracer *t, const struct tracer_opts *o)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	struct bpf_program *prog;
	const char *name, *loss;
	bool known;

	bpf_object__for_each_program(prog, t->skel->obj) {
		name = bpf_program__name(prog);
		loss = hook_loss(name, &known);
		if (!wanted(name, o)) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		if (has_hook(vmlinux, prog))
			continue;
		if (known && !loss) {
			pr_err("this kernel has no %s hook: cannot trace",
			       bpf_program__section_name(prog));
			btf__free(vmlinux);
			return -ENOTSUP;
		}
		pr_warn("this kernel has no %s hook: %s",
			bpf_program__section_name(prog), loss ? loss : "");
		bpf_program__set_autoload(prog, false);
	}
	btf__free(vmlinux);
	return 0;
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
		if (!bpf_program__autoload(prog) || prog == t->skel->progs.walk_tree)
			continue;
		name = bpf_program__name(prog);
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

struct level_ctx {
	pid_t self;
	int level;
};

static int level_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct level_ctx *l = data;
	const struct rec_task *r = (const void *)h;

	if (h->type == REC_TASK && size >= sizeof(*r) && r->self_level < BCK_NS_LEVELS)
		l->level = r->self_level;
	return 0;
}

/* our pid namespace level, as the kernel counts it */
static int reader_level(struct collector *c, int *level)
{
	struct level_ctx l = { getpid(), -1 };
	int ret;

	ret = collect_proc(c, COLLECT_TASKS, l.self, level_cb, &l);
	if (ret)
		return ret;
	if (l.level < 0)
		return -ESRCH;
	*level = l.level;
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
static int follow(struct tracer *t, struct collector *c)
{
	struct pstree tree;
	int round, ret, added;

	for (round = 0; round < FOLLOW_ROUNDS; round++) {
		ret = pstree_scan(c, t->root, &tree);
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

static int load(struct tracer *t, const struct tracer_opts *o, int level)
{
	int ret;

	t->skel = trace_bpf__open();
	if (!t->skel) {
		ret = -errno;
		pr_err("opening the tracer: %s", errstr(ret));
		return ret;
	}
	t->skel->rodata->ns_level = level;
	t->skel->rodata->emit = o->emit;
	ret = pick_programs(t, o);
	if (ret)
		return ret;
	ret = trace_bpf__load(t->skel);
	if (ret) {
		pr_err("loading the tracer: %s (-vv shows the verifier's log)",
		       errstr(ret));
		return ret;
	}
	ret = fill_sc_desc(t, o);
	if (ret) {
		pr_err("setting up the syscall table: %s", errstr(ret));
		return ret;
	}
	t->walk = bpf_program__attach_iter(t->skel->progs.walk_tree, NULL);
	if (!t->walk) {
		ret = -errno;
		pr_err("attaching the thread iterator: %s", errstr(ret));
	}
	return ret;
}

int tracer_open(struct tracer *t, struct collector *c, pid_t root,
		const struct tracer_opts *o)
{
	int level, ret;

	memset(t, 0, sizeof(*t));
	t->root = root;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		pr_err("counting CPUs: %s", errstr(t->ncpus));
		return t->ncpus ? t->ncpus : -EINVAL;
	}
	ret = reader_level(c, &level);
	if (ret) {
		pr_err("finding our pid namespace level: %s", errstr(ret));
		return ret;
	}
	ret = load(t, o, level);
	if (!ret)
		ret = follow(t, c);
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
	t->walk = NULL;
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

/* gone, or a zombie whose exit the tracer missed (before attach) */
static bool is_gone(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return true;
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
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
		if (is_gone(pids[i]) && !bpf_map_delete_elem(fd, &pids[i]))
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
	return ret;
}

int tracer_read_threads(struct tracer *t,
			int (*cb)(void *ctx, const struct rec_thread *r), void *ctx)
{
	struct rec_thread recs[64];
	ssize_t n, i;
	int fd, ret = 0;

	fd = bpf_iter_create(bpf_link__fd(t->walk));
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, recs, sizeof(recs));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		for (i = 0; !ret && i < n / (ssize_t)sizeof(recs[0]); i++)
			ret = cb(ctx, &recs[i]);
		if (ret)
			break;
	}
	close(fd);
	return ret;
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
	/* extremes are not differences: the interval's are unknown */
	out->min_ns = a->min_ns;
	out->max_ns = a->max_ns;
	for (i = 0; i < TRACE_HIST_SLOTS; i++)
		out->hist[i] = a->hist[i] - b->hist[i];
}
