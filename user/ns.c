// SPDX-License-Identifier: GPL-2.0
/*
 * The pid and mount namespaces of the tree (IMG_NS, bpfckpt/ns.h).
 *
 * Pid namespaces: IMG_PROC has every process's pid at each level from
 * the snapper's namespace down to its own.  A process with one level
 * more than its parent is the init of a new namespace: restore clones it
 * with CLONE_NEWPID and set_tid lists its pids deepest first (1 there).
 * When the root itself is such an init (a container), only the levels
 * from its namespace down are given: its pid out here is any free one.
 * The restorer then finds the new processes' outer pids through
 * /proc/PID/task/PID/children and NSpid, since every pid a new process
 * sees of itself is an inner one.
 *
 * Mount namespaces: a tree process whose mount namespace is not its
 * parent's (the root: not the snapper's) made one.  It may have no mount
 * of its own but procs on /proc (unshare --mount-proc, up to two stacked
 * when that runs inside another), which the init of each proc's pid
 * namespace mounts again at restore; any other mount is refused, naming
 * it.  Restore makes a copy of the restorer's namespace, private or (as
 * `unshare --propagation slave` leaves it) slave of the restorer's, so
 * that nothing the tree mounts reaches the restorer.  A private one
 * follows the image's list of its mounts (IMG_NS lines): what the image
 * lacks (mounted out here since the tree made its namespace) is
 * detached, what the copy lacks fails the restore, naming it.  A slave
 * one follows the restorer's, as it did the snapper's.
 *
 * Read from /proc, not BPF: mountinfo and the proc mount's pid namespace
 * have no iterator, and /proc/PID/ns/ gives the inodes beside them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "inject.h"
#include "log.h"
#include "ns.h"
#include "util.h"

/* ---- snap ---- */

/* namespaces restore does not make again (foreign_ns()); 0: no such kind */
static const char *const other_ns[][2] = {
	{ "net", "network" }, { "user", "user" }, { "cgroup", "cgroup" }, { "time", "time" },
};
#define NR_OTHER_NS	4

struct ns_ids {
	uint64_t pid, pidfc, mnt;
	uint64_t other[NR_OTHER_NS];	/* other_ns[] */
};

struct mnt_line {
	uint32_t id, parent;	/* mount ids: the namespace's own */
	char *key;		/* what a copied mount keeps: root, point, fs, options */
	char *point;
	char *fstype;
	char *source;
	uint32_t ms;		/* IMG_PNS_MS_ALL bits of its mount options */
	bool super_rw;		/* super options are plain "rw" */
	bool slave;		/* optional fields: master:N, a slave of a peer group */
};

struct mnt_table {
	struct mnt_line *l;
	uint32_t n, cap;
};

static int ns_ino_path(const char *path, uint64_t *ino)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

static int ns_ino(pid_t pid, const char *ns, uint64_t *ino)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	return ns_ino_path(path, ino);
}

/* the process is still there (its ns directory is) */
static int access_ns(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns", pid);
	return access(path, F_OK) ? -errno : 0;
}

static int read_ids_quiet(pid_t pid, struct ns_ids *ids)
{
	int ret = ns_ino(pid, "pid", &ids->pid);
	uint32_t k;

	if (!ret)
		ret = ns_ino(pid, "mnt", &ids->mnt);
	/*
	 * ENOENT for a namespace whose init is yet to come: the link shows
	 * none until it has a child_reaper (pidns_for_children_get()).
	 */
	if (!ret && ns_ino(pid, "pid_for_children", &ids->pidfc) == -ENOENT &&
	    !access_ns(pid))
		ids->pidfc = 0;
	/* a kind this kernel lacks has no link: 0, which nothing differs from */
	for (k = 0; !ret && k < NR_OTHER_NS; k++)
		if (ns_ino(pid, other_ns[k][0], &ids->other[k]))
			ids->other[k] = 0;
	return ret;
}

static int read_ids(pid_t pid, struct ns_ids *ids)
{
	int ret = read_ids_quiet(pid, ids);

	/* ENOENT: it exited (inspect does not freeze), as a zombie or gone */
	if (ret && ret != -ENOENT)
		pr_err("pid %d: its namespaces (/proc/%d/ns): %s", pid, pid, errstr(ret));
	return ret;
}

static uint32_t parse_ms(const char *opts)
{
	char buf[256], *tok, *save;
	uint32_t ms = 0;

	snprintf(buf, sizeof(buf), "%s", opts);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro"))
			ms |= MS_RDONLY;
		else if (!strcmp(tok, "nosuid"))
			ms |= MS_NOSUID;
		else if (!strcmp(tok, "nodev"))
			ms |= MS_NODEV;
		else if (!strcmp(tok, "noexec"))
			ms |= MS_NOEXEC;
	}
	return ms;
}

static void free_table(struct mnt_table *t)
{
	uint32_t i;

	for (i = 0; i < t->n; i++) {
		free(t->l[i].key);
		free(t->l[i].point);
		free(t->l[i].fstype);
		free(t->l[i].source);
	}
	free(t->l);
	memset(t, 0, sizeof(*t));
}

/*
 * One mountinfo line: ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] -
 * FSTYPE SOURCE SUPER.  IDs and the optional fields (peer groups) are
 * the namespace's own; the rest is what a copy of the mount keeps.
 */
static int parse_line(char *s, struct mnt_line *m)
{
	char dev[32], root[1024], point[1024], opts[256];
	char fstype[64], source[1024], super[512];
	char *dash = strstr(s, " - ");

	if (!dash || sscanf(s, "%u %u %31s %1023s %1023s %255s", &m->id, &m->parent,
			    dev, root, point, opts) != 6 ||
	    sscanf(dash + 3, "%63s %1023s %511s", fstype, source, super) != 3)
		return -EIO;
	m->ms = parse_ms(opts);
	m->super_rw = !strcmp(super, "rw");
	*dash = 0;
	m->slave = strstr(s, " master:") != NULL;
	/* no device: an anonymous one (tmpfs, proc) is another after a reboot */
	if (asprintf(&m->key, "%s %s %s %s %s %s", root, point, opts, fstype,
		     source, super) < 0)
		return -ENOMEM;
	m->point = strdup(point);
	m->fstype = strdup(fstype);
	m->source = strdup(source);
	return m->point && m->fstype && m->source ? 0 : -ENOMEM;
}

static int read_table(const char *path, struct mnt_table *t)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0) {
		struct mnt_line m = { 0 };

		ret = parse_line(line, &m);
		if (!ret)
			ret = vec_push(t->l, t->n, t->cap, m);
		if (ret) {
			free(m.key);
			free(m.point);
			free(m.fstype);
			free(m.source);
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static bool is_proc_on_proc(const struct mnt_line *m)
{
	return !strcmp(m->point, "/proc") && !strcmp(m->fstype, "proc");
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct mnt_line *)a)->key, ((const struct mnt_line *)b)->key);
}

#define MAX_EXTRA	2

/*
 * @in (a process's mounts) against @base (the namespace it came from):
 * no mount of its own (a copied namespace lists them in another order,
 * with its own peer groups), but for procs on /proc, at most MAX_EXTRA
 * of them, returned in @extra, the one on top first (@nr: how many).
 * Else a refusal naming the mount.
 */
static int diff_tables(struct verdict *v, pid_t pid, struct mnt_table *base,
		       struct mnt_table *in, const struct mnt_line **extra,
		       uint32_t *nr)
{
	uint32_t i = 0, j = 0;
	int c;

	*nr = 0;
	qsort(base->l, base->n, sizeof(*base->l), cmp_line);
	qsort(in->l, in->n, sizeof(*in->l), cmp_line);
	while (i < base->n || j < in->n) {
		c = i == base->n ? 1 : j == in->n ? -1 : strcmp(base->l[i].key, in->l[j].key);
		if (!c) {
			i++, j++;
			continue;
		}
		if (c > 0 && is_proc_on_proc(&in->l[j]) && *nr < MAX_EXTRA) {
			extra[(*nr)++] = &in->l[j++];
			continue;
		}
		if (c > 0)
			return verdict_refuse(v, -ENOTSUP, pid, "ns",
					      "its mount namespace has %s on %s (%s), which "
					      "the snapper's has not: only a proc on /proc of "
					      "its own pid namespace may differ: not supported",
					      in->l[j].source, in->l[j].point, in->l[j].fstype) ?: 1;
		/* one it lacks (mounted out here since): restore detaches it */
		i++;
	}
	for (i = 0; i < *nr; i++)
		if (!extra[i]->super_rw)
			return verdict_refuse(v, -ENOTSUP, pid, "ns",
					      "its proc on /proc has options beyond rw "
					      "(hidepid=, subset=): not supported") ?: 1;
	/* the one on top is mounted on the other (its parent) */
	if (*nr == 2 && extra[0]->parent != extra[1]->id) {
		const struct mnt_line *t = extra[0];

		extra[0] = extra[1];
		extra[1] = t;
	}
	if (*nr == 2 && extra[0]->parent != extra[1]->id)
		return verdict_refuse(v, -ENOTSUP, pid, "ns",
				      "two new procs on /proc, not one on the other: "
				      "not supported") ?: 1;
	return 0;
}

struct ns_scan {
	struct ns_task *t;
	uint32_t n;
	struct ns_ids *ids;
	struct verdict *v;
};

/* the tree process that is the init of pid namespace @pidns, -1 if none */
static int find_init(const struct ns_scan *s, uint64_t pidns)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (!s->t[i].zombie && s->t[i].init && s->ids[i].pid == pidns)
			return i;
	return -1;
}

/*
 * Who mounts the procs by which process @i's mount namespace differs
 * from @base's.  Returns 0, -errno, or (a refusal listed) 1.
 */
static int assign_procs(struct ns_scan *s, uint32_t i, const struct mnt_line **extra,
			uint32_t nr)
{
	struct ns_task *t = &s->t[i];
	char path[64];
	uint64_t pidns = 0;
	int m, pi;

	/*
	 * A proc covered by another cannot be reached to read its pid
	 * namespace, nor by the tree: it is taken as the creator's own, as
	 * `unshare --pid --fork --mount-proc` run in another such namespace
	 * leaves it, and mounted by the creator, below its children's.
	 */
	if (nr == 2) {
		if (!t->init)
			return verdict_refuse(s->v, -ENOTSUP, t->pid, "ns",
					      "its mount namespace has two procs on /proc, "
					      "and it is no pid namespace's init: not "
					      "supported") ?: 1;
		t->ns.flags |= IMG_PNS_PROC;
		t->ns.proc_ms = extra[1]->ms;
	}
	/* /proc/1 of that proc is its pid namespace's init */
	snprintf(path, sizeof(path), "/proc/%d/root/proc/1/ns/pid", t->pid);
	m = ns_ino_path(path, &pidns) ? -1 : find_init(s, pidns);
	if (m < 0)
		return verdict_refuse(s->v, -ENOTSUP, t->pid, "ns",
				      "its /proc is the proc of a pid namespace whose "
				      "init is not in the tree: not supported") ?: 1;
	if (nr == 2 && m == (int)i)
		return verdict_refuse(s->v, -ENOTSUP, t->pid, "ns",
				      "two procs of its pid namespace on /proc: not "
				      "supported") ?: 1;
	pi = s->t[m].parent;
	if (s->ids[m].mnt == s->ids[i].mnt && !(s->t[m].ns.flags & IMG_PNS_PROC)) {
		s->t[m].ns.flags |= IMG_PNS_PROC;
	} else if (pi >= 0 && s->ids[pi].mnt == s->ids[i].mnt &&
		   !(s->t[m].ns.flags & IMG_PNS_PROC_FIRST)) {
		/* it mounted it in the namespace it was born in, then left */
		s->t[m].ns.flags |= IMG_PNS_PROC_FIRST;
	} else {
		return verdict_refuse(s->v, -ENOTSUP, t->pid, "ns",
				      "the proc on /proc of its mount namespace was "
				      "mounted by pid %d from another mount namespace: "
				      "not supported", s->t[m].pid) ?: 1;
	}
	s->t[m].ns.proc_ms = extra[0]->ms;
	return 0;
}

/*
 * made with MS_SLAVE: its copies of shared mounts receive from them.
 * (MS_PRIVATE leaves no mount a slave; the restorer's private mounts
 * stay private either way.)
 */
static bool is_slave(const struct mnt_table *t)
{
	uint32_t i;

	for (i = 0; i < t->n; i++)
		if (t->l[i].slave)
			return true;
	return false;
}

/* the mounts of @t's namespace restore keeps: all but the procs it mounts */
static int keep_table(struct ns_task *t, const struct mnt_table *in,
		      const struct mnt_line **extra, uint32_t nr)
{
	size_t len = 0, n;
	uint32_t i, k;
	char *buf;

	for (i = 0; i < in->n; i++)
		len += strlen(in->l[i].key) + 1;
	if (len > IMG_NS_MOUNTS_LEN || in->n > IMG_NS_MOUNTS_MAX) {
		pr_err("pid %d: %u mounts: more than an image holds", t->pid, in->n);
		return -E2BIG;
	}
	buf = malloc(len ?: 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0, len = 0; i < in->n; i++) {
		for (k = 0; k < nr && extra[k] != &in->l[i]; k++)
			;
		if (k < nr)
			continue;
		n = strlen(in->l[i].key) + 1;
		memcpy(buf + len, in->l[i].key, n);
		len += n;
		t->ns.nr_mounts++;
	}
	free(t->mounts);
	t->mounts = buf;
	t->ns.mounts_len = len;
	return 0;
}

/* process @i made mount namespace ids[i].mnt out of @base_path's */
static int mount_ns(struct ns_scan *s, uint32_t i, const char *base_path)
{
	struct mnt_table base = { 0 }, in = { 0 };
	const struct mnt_line *extra[MAX_EXTRA];
	pid_t pid = s->t[i].pid;
	char path[64];
	uint32_t nr;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	ret = read_table(base_path, &base);
	if (!ret)
		ret = read_table(path, &in);
	if (ret)
		pr_err("pid %d: reading %s and %s: %s", pid, base_path, path, errstr(ret));
	if (!ret)
		ret = diff_tables(s->v, pid, &base, &in, extra, &nr);
	if (!ret && nr)
		ret = assign_procs(s, i, extra, nr);
	if (!ret && is_slave(&in))
		s->t[i].ns.flags |= IMG_PNS_MNT_SLAVE;
	else if (!ret)
		ret = keep_table(&s->t[i], &in, extra, nr);
	free_table(&base);
	free_table(&in);
	return ret;
}

static int pid_for_children(struct ns_scan *s, uint32_t i)
{
	struct ns_task *t = &s->t[i];
	uint32_t j;

	if (s->ids[i].pidfc == s->ids[i].pid)
		return 0;
	for (j = 0; j < s->n; j++) {
		if (s->t[j].zombie || s->ids[j].pid != s->ids[i].pidfc)
			continue;
		if (s->t[j].parent == (int)i && find_init(s, s->ids[j].pid) == (int)j) {
			t->ns.flags |= IMG_PNS_PIDFC_CHILD;
			return 0;
		}
		return verdict_refuse(s->v, -ENOTSUP, t->pid, "ns",
				      "its pid_for_children namespace is that of pid "
				      "%d, not one of its children's: not supported",
				      s->t[j].pid) ?: 1;
	}
	/* no tree process lives there (0: none can, it has no init yet) */
	t->ns.flags |= IMG_PNS_PIDFC_EMPTY;
	return 0;
}

/* the parent of @pid as /proc/PID/status says, 0 if unknown */
static pid_t status_ppid(pid_t pid)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nPPid:")))
		return 0;
	return atoi(p + 6);
}

/*
 * Namespaces restore does not recreate: one that a process of the tree
 * made for itself (it differs from its parent's; for the root, from
 * the parent it has outside the tree) would come back as the
 * restorer's, silently elsewhere (another network, other ids), so it
 * is refused, naming it, unless bpfckpt runs in it too (restore is then
 * expected there).  One the whole tree shares with its parent is where
 * the restorer puts it: a migration to another network namespace is
 * made that way.  1 if it listed a refusal.
 */
static int foreign_ns(struct verdict *v, pid_t pid, const struct ns_ids *ids,
		      const struct ns_ids *parent, const struct ns_ids *self)
{
	uint32_t k;
	int ret, refused = 0;

	for (k = 0; k < NR_OTHER_NS; k++) {
		if (ids->other[k] == parent->other[k] || ids->other[k] == self->other[k])
			continue;
		ret = verdict_refuse(v, -ENOTSUP, pid, "ns",
				     "it lives in a %s namespace of its own (%s:[%llu]), "
				     "which restore does not recreate: not supported",
				     other_ns[k][1], other_ns[k][0],
				     (unsigned long long)ids->other[k]);
		if (ret)
			return ret;
		refused = 1;
	}
	return refused;
}

int ns_check_live(struct ns_task *t, uint32_t n, struct verdict *v)
{
	struct ns_scan s = { t, n, NULL, v };
	struct ns_ids self, outside = { 0 };
	bool have_outside = false;
	char base_path[64];
	uint32_t i;
	int pi, ret;

	s.ids = calloc(n, sizeof(*s.ids));
	if (!s.ids)
		return -ENOMEM;
	ret = read_ids(getpid(), &self);
	for (i = 0; !ret && i < n; i++) {
		free(t[i].mounts);
		t[i].mounts = NULL;
		memset(&t[i].ns, 0, sizeof(t[i].ns));
		t[i].ns.h.type = IMG_NS;
		t[i].ns.h.len = sizeof(t[i].ns);
		if (!t[i].zombie)
			ret = read_ids(t[i].pid, &s.ids[i]);
		if (ret == -ENOENT) {
			t[i].zombie = true;
			ret = 0;
		}
	}
	for (i = 0; ret >= 0 && i < n; i++) {
		if (t[i].zombie)
			continue;
		pi = t[i].parent;
		if (s.ids[i].mnt != (pi >= 0 ? s.ids[pi].mnt : self.mnt)) {
			if (pi >= 0)
				snprintf(base_path, sizeof(base_path), "/proc/%d/mountinfo",
					 t[pi].pid);
			else
				snprintf(base_path, sizeof(base_path), "/proc/self/mountinfo");
			t[i].ns.flags |= IMG_PNS_MNT_NEW;
			ret = mount_ns(&s, i, base_path);
		}
		if (ret < 0)
			break;
		/* 1: a refusal was listed; the check goes on with the next */
		ret = pid_for_children(&s, i);
		/*
		 * The root's parent is outside the tree: ours stands in if it
		 * is gone, or if we may not read its links (EACCES from
		 * ptrace_may_access(), a pid 1 of a sandbox).
		 */
		if (pi < 0 && !have_outside) {
			if (read_ids_quiet(status_ppid(t[i].pid), &outside))
				outside = self;
			have_outside = true;
		}
		if (ret >= 0) {
			int f = foreign_ns(v, t[i].pid, &s.ids[i],
					   pi >= 0 ? &s.ids[pi] : &outside, &self);

			ret = f < 0 ? f : ret | f;
		}
	}
	free(s.ids);
	return ret < 0 ? ret : 0;
}

int ns_collect(struct snap_ctx *ctx)
{
	struct verdict v = { .all = false };
	struct ns_task *t;
	uint32_t i, j;
	int ret;

	t = calloc(ctx->nr_procs, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < ctx->nr_procs; i++) {
		const struct snap_proc *sp = &ctx->procs[i];

		t[i].pid = sp->pid;
		t[i].zombie = sp->zombie;
		t[i].parent = -1;
		for (j = 0; j < i; j++)
			if (ctx->procs[j].pid == sp->ps->ppid)
				t[i].parent = j;
		if (!sp->zombie) {
			const struct rec_task *r = sp->threads[0].rec;

			t[i].init = r->level > r->self_level && r->tgid[r->level] == 1;
		}
	}
	ret = ns_check_live(t, ctx->nr_procs, &v);
	for (i = 0; !ret && i < ctx->nr_procs; i++) {
		ctx->procs[i].ns = t[i].ns;
		ctx->procs[i].ns_mounts = t[i].mounts;
		t[i].mounts = NULL;
	}
	ns_free_tasks(t, ctx->nr_procs);
	return ret;
}

void ns_free_tasks(struct ns_task *t, uint32_t n)
{
	uint32_t i;

	for (i = 0; t && i < n; i++)
		free(t[i].mounts);
	free(t);
}

int ns_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct img_part part = { sp->ns_mounts, sp->ns.mounts_len };

	if (sp->zombie || !sp->ns.flags)
		return 0;
	return img_put(ctx->w, &sp->ns, sizeof(sp->ns), &part, part.len ? 1 : 0);
}

/* ---- restore: checks (restore, inspect's verdict, snap --kill) ---- */

/* the root is the init of a pid namespace of its own: a container */
bool ns_is_container(const struct ckpt_image *img)
{
	const struct img_proc *p = img->procs[0].p;

	return p->nr_levels > 1 && p->pid[p->nr_levels - 1] == 1;
}

int ns_check_proc(const struct ckpt_image *img, uint32_t i, struct verdict *v)
{
	const struct m_proc *mp = &img->procs[i];
	const struct img_proc *p = mp->p, *pp;
	uint32_t f = mp->ns ? mp->ns->flags : 0, j;

	if (mp->parent < 0) {
		if (p->nr_levels > 1 && !ns_is_container(img))
			return verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
					      "lives in a pid namespace (as pid %d) whose "
					      "init is not in the tree: not supported",
					      p->pid[p->nr_levels - 1]);
	} else {
		pp = img->procs[mp->parent].p;
		if (p->nr_levels != pp->nr_levels &&
		    (p->nr_levels != pp->nr_levels + 1 || p->pid[p->nr_levels - 1] != 1))
			return verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
					      "is in a pid namespace its parent %d joined "
					      "(setns) or left: not supported", pp->pid[0]);
	}
	if (!(f & (IMG_PNS_PIDFC_CHILD | IMG_PNS_PIDFC_EMPTY)))
		return 0;
	/* copy_process(): CLONE_THREAD fails while pid_for_children differs */
	if (p->nr_threads > 1)
		return verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
				      "has %u threads and a pid_for_children namespace "
				      "of its own: its threads could not be made again",
				      p->nr_threads);
	if (!(f & IMG_PNS_PIDFC_CHILD))
		return 0;
	for (j = i + 1; j < img->nr_procs; j++)
		if (img->procs[j].parent == (int32_t)i &&
		    img->procs[j].p->nr_levels == p->nr_levels + 1)
			return 0;
	return verdict_refuse(v, -EINVAL, p->pid[0], "tree",
			      "its pid_for_children is a child's namespace, and no "
			      "child is the init of one");
}

/* ---- restore: in the restorer ---- */

/* set_tid entries for process @idx (deepest first); returns how many */
uint32_t ns_set_tid(const struct restore_ctx *ctx, const __s32 *ids,
		    uint32_t levels, pid_t *set_tid)
{
	uint32_t n = levels, k;

	if (ctx->root_levels > 1)
		n = levels - ctx->root_levels + 1;
	for (k = 0; k < n; k++)
		set_tid[k] = ids[levels - 1 - k];
	return n;
}

uint64_t ns_clone_flags(const struct restore_ctx *ctx, uint32_t idx)
{
	const struct m_proc *mp = ctx->procs[idx].mp;

	if (mp->parent < 0)
		return ctx->root_levels > 1 ? CLONE_NEWPID : 0;
	return mp->p->nr_levels > ctx->img.procs[mp->parent].p->nr_levels ?
	       CLONE_NEWPID : 0;
}

/* NSpid of @pid: its pids from the reader's namespace down */
static int read_nspid(pid_t pid, pid_t *ids, uint32_t *n)
{
	char path[64], buf[2048], *s, *end;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	s = strstr(buf, "\nNSpid:");
	if (!s)
		return -ENOTSUP;
	s += 7;
	for (*n = 0; *n < BCK_NS_LEVELS + 1; (*n)++) {
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		ids[*n] = v;
		s = end;
	}
	return 0;
}

/* the child of @pp whose inner pids are those of image process @c */
static int find_child(struct restore_ctx *ctx, const struct rst_proc *pp,
		      struct rst_proc *c)
{
	const struct img_proc *p = c->mp->p;
	uint32_t want = p->nr_levels - ctx->root_levels + 1, n, k;
	char path[64], buf[4096], *s, *end;
	pid_t ids[BCK_NS_LEVELS + 1];
	int ret;

	/* CONFIG_PROC_CHILDREN: the children its main thread made, our numbers */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pp->pid, pp->pid);
	ret = read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	for (s = buf;; s = end) {
		long q = strtol(s, &end, 10);

		if (end == s)
			return -ESRCH;
		if (read_nspid(q, ids, &n) || n != want + 1)
			continue;
		for (k = 0; k < want; k++)
			if (ids[1 + k] != p->pid[ctx->root_levels - 1 + k])
				break;
		if (k == want) {
			c->pid = q;
			c->tids[0] = q;
			return 0;
		}
	}
}

int ns_resolve_pids(struct restore_ctx *ctx)
{
	uint32_t i, j;
	int ret;

	if (ctx->root_levels < 2)
		return 0;
	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		for (j = 0; j < rp->nr_children; j++) {
			struct rst_proc *c = &ctx->procs[rp->children[j]];

			ret = find_child(ctx, rp, c);
			if (ret) {
				pr_err("pid %d (in its namespace): its pid here, as a "
				       "child of pid %d: %s", c->mp->p->pid[c->mp->p->nr_levels - 1],
				       rp->pid, errstr(ret));
				return ret;
			}
		}
	}
	return 0;
}

/* ---- restore: in the new process ---- */

/*
 * The copy of the namespace it came from against the image's: what the
 * image lacks is detached (mounted on the host after the snap, say),
 * what the copy lacks fails the restore, naming it.
 */
static void match_mounts(struct restore_ctx *ctx, uint32_t idx, const struct img_ns *n)
{
	const char *img = (const char *)(n + 1), *s;
	struct mnt_table cur = { 0 };
	uint32_t i, k;
	bool *used;
	int ret;

	used = calloc(n->nr_mounts + 1, sizeof(*used));
	ret = used ? read_table("/proc/self/mountinfo", &cur) : -ENOMEM;
	if (ret)
		rst_child_fail(ctx, idx, ret, "reading its mounts");
	/* last first: a mount on top of another goes before it */
	for (i = cur.n; i-- > 0;) {
		for (s = img, k = 0; k < n->nr_mounts; s += strlen(s) + 1, k++)
			if (!used[k] && !strcmp(s, cur.l[i].key))
				break;
		if (k < n->nr_mounts) {
			used[k] = true;
			continue;
		}
		/* EINVAL: gone with one below it, detached already */
		if (umount2(cur.l[i].point, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
			rst_child_fail(ctx, idx, -errno, "detaching %s on %s (%s), which its "
				       "mount namespace did not have", cur.l[i].source,
				       cur.l[i].point, cur.l[i].fstype);
	}
	for (s = img, k = 0; k < n->nr_mounts; s += strlen(s) + 1, k++)
		if (!used[k])
			rst_child_fail(ctx, idx, -ENOENT, "its mount namespace had a mount "
				       "the restorer's has not: %s", s);
	free(used);
	free_table(&cur);
}

static void mount_proc(struct restore_ctx *ctx, uint32_t idx, uint32_t ms)
{
	if (mount("proc", "/proc", "proc", ms, NULL))
		rst_child_fail(ctx, idx, -errno, "mounting a proc of its pid "
			       "namespace on /proc");
}

void ns_restore_child(struct restore_ctx *ctx, uint32_t idx)
{
	const struct img_ns *n = ctx->procs[idx].mp->ns;

	if (!n)
		return;
	if (n->flags & IMG_PNS_PROC_FIRST)
		mount_proc(ctx, idx, n->proc_ms);
	if (n->flags & IMG_PNS_MNT_NEW) {
		if (unshare(CLONE_NEWNS))
			rst_child_fail(ctx, idx, -errno, "a mount namespace of its own");
		/* nothing mounted here reaches the restorer */
		if (n->flags & IMG_PNS_MNT_SLAVE) {
			if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
				rst_child_fail(ctx, idx, -errno, "making its mounts slaves");
		} else {
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
				rst_child_fail(ctx, idx, -errno, "making its mounts private");
			match_mounts(ctx, idx, n);
		}
	}
	if (n->flags & IMG_PNS_PROC)
		mount_proc(ctx, idx, n->proc_ms);
}

/* after its children exist: CLONE_NEWPID children first, then this */
void ns_restore_child_late(struct restore_ctx *ctx, uint32_t idx)
{
	const struct rst_proc *rp = &ctx->procs[idx];
	const struct img_ns *n = rp->mp->ns;
	uint32_t levels = rp->mp->p->nr_levels, i;
	int fd;

	if (!n || !(n->flags & (IMG_PNS_PIDFC_CHILD | IMG_PNS_PIDFC_EMPTY)))
		return;
	if (n->flags & IMG_PNS_PIDFC_EMPTY) {
		if (unshare(CLONE_NEWPID))
			rst_child_fail(ctx, idx, -errno, "a pid_for_children namespace");
		return;
	}
	for (i = 0; i < rp->nr_children; i++) {
		const struct img_proc *c = ctx->procs[rp->children[i]].mp->p;

		if (c->nr_levels != levels + 1)
			continue;
		/* setns(CLONE_NEWPID) on a pidfd: the child's namespace for our next ones */
		fd = syscall(SYS_pidfd_open, c->pid[levels - 1], 0);
		if (fd < 0 || setns(fd, CLONE_NEWPID))
			rst_child_fail(ctx, idx, -errno, "entering the pid namespace of "
				       "its child %d for its next children", c->pid[levels - 1]);
		close(fd);
		return;
	}
}
