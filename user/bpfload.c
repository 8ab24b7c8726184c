// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "bpfload.h"
#include "log.h"
#include "util.h"

/* the kernel keeps the tail of a longer verifier log: the part we show */
#define VLOG_SIZE (64u << 10)

bool fallback_forced(const char *feature)
{
	const char *env = getenv("BPFCKPT_FALLBACK"), *p;
	size_t n = strlen(feature);

	if (!env || !*env)
		return false;
	if (!strcmp(env, "all") || !strcmp(env, "1"))
		return true;
	for (p = env; (p = strstr(p, feature)); p += n)
		if ((p == env || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return true;
	return false;
}

/* the verifier's reason: its last line that is not a statistic */
static void last_line(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *s;
	size_t n;

	snprintf(out, len, "refused without a message");
	while (end > log) {
		while (end > log && end[-1] == '\n')
			end--;
		for (s = end; s > log && s[-1] != '\n'; s--)
			;
		n = end - s;
		if (n && strncmp(s, "processed ", 10) && strncmp(s, "verification time", 17) &&
		    strncmp(s, "stack depth", 11) && strncmp(s, "-- END", 6)) {
			snprintf(out, len, "%.*s", (int)MIN(n, len - 1), s);
			return;
		}
		end = s;
	}
}

struct loading {
	const struct bpf_skel_ops *ops;
	const void *arg;
	const struct bpf_prog_desc *d;
	struct bpf_prog_status *st;
	int n;
	bool *off;
	char **log;
};

/* BPFCKPT_FAULT=refuse-<program>: its row + 1 (bpf/refuse.bpf.h), or 0 */
static unsigned refused_row(const struct bpf_prog_desc *d, int n)
{
	const char *f = getenv("BPFCKPT_FAULT");
	int i;

	if (!f || strncmp(f, "refuse-", 7))
		return 0;
	for (i = 0; i < n; i++)
		if (!strcmp(f + 7, d[i].name))
			return i + 1;
	return 0;
}

/* opens the skeleton with exactly the programs not off[] enabled, loads it */
static int try_load(struct loading *l, void **out)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	void *s;
	int i, ret;

	*out = NULL;
	s = l->ops->open();
	if (!s)
		return errno ? -errno : -ENOMEM;
	if (l->ops->prepare)
		l->ops->prepare(s, l->arg);
	l->ops->set_refuse(s, refused_row(l->d, l->n));
	obj = l->ops->obj(s);
	for (i = 0; i < l->n; i++) {
		prog = bpf_object__find_program_by_name(obj, l->d[i].name);
		if (!prog) {
			l->ops->destroy(s);
			return -ENOENT;
		}
		bpf_program__set_autoload(prog, !l->off[i]);
		if (!l->off[i]) {
			l->log[i][0] = 0;
			bpf_program__set_log_buf(prog, l->log[i], VLOG_SIZE);
		}
	}
	ret = l->ops->load(s);
	if (ret) {
		l->ops->destroy(s);
		return ret;
	}
	*out = s;
	return 0;
}


/*
 * After a failed load, each program alone: which of them this verifier
 * refuses, and why.  A refused program's alternative takes its place
 * (and is tried alone too).  Leaves off[] at what loads.
 */
static void probe_each(struct loading *l, bool *want, bool *probed)
{
	void *s;
	int i, j, ret;

	for (i = 0; i < l->n; i++) {
		want[i] = !l->off[i];
		probed[i] = false;
	}
	for (i = 0; i < l->n; i++) {
		if (!want[i] || probed[i])
			continue;
		probed[i] = true;
		for (j = 0; j < l->n; j++)
			l->off[j] = j != i;
		ret = try_load(l, &s);
		if (!ret) {
			l->ops->destroy(s);
			continue;
		}
		l->st[i].err = ret;
		last_line(l->log[i], l->st[i].why, sizeof(l->st[i].why));
		if (l->log[i][0])
			pr_debug("verifier log of %s:\n%s", l->d[i].name, l->log[i]);
		want[i] = false;
		/* the next of its chain that is not left out */
		for (j = i; l->d[j].alt && j + l->d[j].alt < l->n;) {
			j += l->d[j].alt;
			if (!l->st[j].forced && !l->st[j].skip)
				break;
		}
		if (j != i && !l->st[j].forced && !l->st[j].skip && !want[j] &&
		    !probed[j]) {
			want[j] = true;
			i = -1;		/* again: the alternative may come first */
		}
	}
	for (i = 0; i < l->n; i++)
		l->off[i] = !want[i];
}

int bpf_load_progs(const struct bpf_skel_ops *ops, const void *arg,
		   const struct bpf_prog_desc *d, struct bpf_prog_status *st, int n,
		   void **skel)
{
	struct loading l = { ops, arg, d, st, n, NULL, NULL };
	bool *want = NULL, *probed = NULL, *done = NULL;
	int i, ret = -ENOMEM;

	*skel = NULL;
	l.off = calloc(n, sizeof(*l.off));
	l.log = calloc(n, sizeof(*l.log));
	want = calloc(n, sizeof(*want));
	probed = calloc(n, sizeof(*probed));
	done = calloc(n, sizeof(*done));
	if (!l.off || !l.log || !want || !probed || !done)
		goto out;
	for (i = 0; i < n; i++) {
		l.log[i] = malloc(VLOG_SIZE);
		if (!l.log[i])
			goto out;
		st[i].tried = true;
		st[i].loaded = false;
		if (!st[i].skip) {	/* a skipped one keeps the caller's reason */
			st[i].err = 0;
			st[i].why[0] = 0;
		}
		st[i].forced = d[i].feature && fallback_forced(d[i].feature);
		l.off[i] = st[i].skip || st[i].forced;
	}
	/*
	 * An alternative is loaded only in place of the program it
	 * replaces; in a chain (A, its alternative B, B's C) the first
	 * one not left out is: done[] marks the rest of a chain whose
	 * job is taken.
	 */
	for (i = 0; i < n; i++) {
		int j = i + d[i].alt;

		if (!d[i].alt || j >= n || st[j].skip)
			continue;
		if (!l.off[i] || done[i]) {
			l.off[j] = true;
			done[j] = true;
		}
	}
	ret = try_load(&l, skel);
	if (ret) {
		probe_each(&l, want, probed);
		ret = try_load(&l, skel);
	}
	for (i = 0; i < n; i++) {
		st[i].loaded = !ret && !l.off[i];
		if (ret && !st[i].err && !l.off[i])
			st[i].err = ret;
	}
out:
	for (i = 0; l.log && i < n; i++)
		free(l.log[i]);
	free(l.log);
	free(l.off);
	free(want);
	free(probed);
	free(done);
	return ret;
}

void bpf_say_refused(enum log_level lvl, const struct bpf_prog_desc *d,
		     const struct bpf_prog_status *st, const char *then)
{
	struct utsname u;

	log_msg(lvl, "BPF program %s (%s) is refused on %s: %s; %s", d->name,
		d->what, uname(&u) ? "this kernel" : u.release,
		st->why[0] ? st->why : errstr(st->err), then);
}
