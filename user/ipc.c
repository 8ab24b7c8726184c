// SPDX-License-Identifier: GPL-2.0
/*
 * SysV IPC objects (shared memory, semaphore sets, message queues) and
 * the tree's IPC and UTS namespaces.
 *
 * Snap: every process of the tree must share one IPC and one UTS
 * namespace.  The snapper enters the tree's IPC namespace (setns) to
 * list the objects in /proc/sysvipc/ (which shows the reader's
 * namespace).  A namespace of the tree's own is taken whole; in the
 * snapper's (the host's) only the objects the tree uses: segments it
 * has attached, created or last attached (cpid, lpid), semaphore sets
 * it last changed (GETPID of any member), queues it last sent to or
 * received from (lspid, lrpid) -- SysV objects name no owner process,
 * and a queue the tree made but never used is left out.  It reads each segment through a read-only shmat of its own,
 * semaphore values with GETALL and messages with msgrcv(MSG_COPY),
 * which copies without consuming (CONFIG_CHECKPOINT_RESTORE).
 *
 * Restore: a tree whose namespace was not the snapper's gets a new one
 * (the restorer unshares before it creates the tree, which inherits it);
 * hostname and domainname are set in a new UTS namespace.  Each object
 * is created with its id through /proc/sys/kernel/{shm,sem,msg}_next_id,
 * which the next get of that kind consumes (ipc_idr_alloc(),
 * ipc/util.c).  In the restorer's own namespace an object that still has
 * the id (snap --kill on this host: SysV objects outlive processes) is
 * taken as it is when key, mode, size and creator match; anything else
 * holding the id or the key is refused before any object is made.
 * mm.c attaches the segments in each process; removed (IPC_RMID)
 * segments are removed once everyone is attached.
 *
 * SEM_UNDO adjustments: the kernel keeps them in task->sysvsem.undo_list,
 * which no /proc file, semctl or ptrace request shows; BPF reads them
 * (collect_sem_undo, bpf/task.bpf.c) and each process's come in
 * IMG_SEM_UNDO records.  Restore gives them back with a semop() in the
 * process that makes semadj what it was (ipc_restore_undo()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "arch.h"
#include "collect.h"
#include "img.h"
#include "inject.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* ---- snap ---- */

struct shm_piece {
	uint64_t off;
	uint32_t len;
};

struct snap_shm {
	struct img_shm s;
	uint8_t *map;		/* our read-only attachment */
	uint64_t map_len;
	struct shm_piece *pieces;
	uint32_t nr_pieces, cap_pieces;
};

struct snap_sem {
	struct img_sem s;
	uint16_t *vals;
};

struct snap_msg {
	struct img_msg m;
	uint8_t *text;
};

struct snap_msq {
	struct img_msq q;
	struct snap_msg *msgs;
	uint32_t nr_msgs, cap_msgs;
};

/* one process's adjustments on one set */
struct snap_undo {
	pid_t pid;
	struct img_sem_undo u;
	int16_t *vals;
	uint32_t got;		/* values received so far */
};

struct snap_ipc {
	struct img_ipc_ns ns;
	struct snap_ctx *ctx;		/* NULL for inspect's SEM_UNDO walk */
	struct collector *col;
	bool all;		/* the tree's own namespace: every object */
	struct snap_shm *shm;
	uint32_t nr_shm, cap_shm;
	struct snap_sem *sem;
	uint32_t nr_sem, cap_sem;
	struct snap_msq *msq;
	uint32_t nr_msq, cap_msq;
	struct snap_undo *undo;
	uint32_t nr_undo, cap_undo;
};

static int ns_ino(pid_t pid, const char *ns, uint64_t *ino)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* every live process of the tree is in the root's namespace @ns */
static int same_ns(struct snap_ctx *ctx, const char *ns, bool *own)
{
	uint64_t root, self, ino;
	uint32_t i;
	int ret;

	if ((ret = ns_ino(ctx->root, ns, &root)) || (ret = ns_ino(0, ns, &self))) {
		pr_err("pid %d: its %s namespace: %s", ctx->root, ns, errstr(ret));
		return ret;
	}
	for (i = 0; i < ctx->nr_procs; i++) {
		if (ctx->procs[i].zombie)
			continue;
		ret = ns_ino(ctx->procs[i].pid, ns, &ino);
		if (ret) {
			pr_err("pid %d: its %s namespace: %s", ctx->procs[i].pid, ns,
			       errstr(ret));
			return ret;
		}
		if (ino != root) {
			pr_err("pid %d: %s namespace differs from the root %d's: "
			       "not supported", ctx->procs[i].pid, ns, ctx->root);
			return -ENOTSUP;
		}
	}
	*own = root != self;
	return 0;
}

/* runs @fn in the namespace @ns of @pid, then comes back */
static int in_ns(pid_t pid, const char *ns, int type, int (*fn)(void *), void *arg)
{
	char path[64];
	int self, tgt, ret;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	self = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	tgt = open(path, O_RDONLY | O_CLOEXEC);
	if (tgt < 0 || setns(tgt, type)) {
		ret = -errno;
		pr_err("pid %d: entering its %s namespace: %s", pid, ns, errstr(ret));
		goto out;
	}
	ret = fn(arg);
	if (setns(self, type)) {
		/* we would read the wrong objects from here on */
		ret = -errno;
		pr_err("leaving the %s namespace of pid %d: %s", ns, pid, errstr(ret));
	}
out:
	if (tgt >= 0)
		close(tgt);
	close(self);
	return ret;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static int read_uts(void *arg)
{
	struct img_ipc_ns *ns = arg;
	struct utsname u;

	if (uname(&u))
		return -errno;
	copy_name(ns->hostname, sizeof(ns->hostname), u.nodename);
	copy_name(ns->domainname, sizeof(ns->domainname), u.domainname);
	return 0;
}

static bool swap_on(void)
{
	char buf[256];
	ssize_t n = read_file("/proc/swaps", buf, sizeof(buf));

	/* the header line alone: no swap */
	return n <= 0 || strchr(buf, '\n') != buf + n - 1;
}

static bool is_zero(const uint8_t *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

static int add_piece(struct snap_shm *sh, uint64_t off, uint64_t ps)
{
	struct shm_piece *last = sh->nr_pieces ? &sh->pieces[sh->nr_pieces - 1] : NULL;
	struct shm_piece p = { off, ps };

	if (last && last->off + last->len == off && last->len + ps <= IMG_SHM_DATA_MAX) {
		last->len += ps;
		return 0;
	}
	return vec_push(sh->pieces, sh->nr_pieces, sh->cap_pieces, p);
}

/*
 * Which pages of a segment hold data.  A read fault on a hole of shmem
 * allocates a page (shmem_fault()), so holes are found with mincore()
 * first; mincore() does not see shmem pages out on swap, so with swap
 * on every page is read.  SEEK_DATA does not work here: the SysV file
 * has noop_llseek (shm_file_operations, ipc/shm.c).
 */
static int find_data(struct snap_shm *sh)
{
	uint64_t ps = getpagesize(), n = sh->map_len / ps, i;
	bool all = swap_on();
	unsigned char *vec = NULL;
	int ret = 0;

	if (!all) {
		vec = malloc(n);
		if (!vec)
			return -ENOMEM;
		if (mincore(sh->map, sh->map_len, vec)) {
			ret = -errno;
			goto out;
		}
	}
	for (i = 0; i < n && !ret; i++) {
		if (vec && !(vec[i] & 1))
			continue;
		if (is_zero(sh->map + i * ps, ps))
			continue;
		ret = add_piece(sh, i * ps, ps);
	}
	sh->s.nr_data = sh->nr_pieces;
out:
	free(vec);
	return ret;
}

static void fill_perm(struct img_ipc_perm *p, int key, int id, unsigned mode,
		      unsigned uid, unsigned gid, unsigned cuid, unsigned cgid)
{
	*p = (struct img_ipc_perm){ key, id, uid, gid, cuid, cgid, mode, 0 };
}

static bool in_tree(const struct snap_ctx *ctx, int pid)
{
	uint32_t i;

	for (i = 0; pid > 0 && i < ctx->nr_procs; i++)
		if (ctx->procs[i].pid == pid)
			return true;
	return false;
}

static bool attached_in_tree(const struct snap_ctx *ctx, int id)
{
	uint32_t i, j;

	for (i = 0; i < ctx->nr_procs; i++)
		for (j = 0; j < ctx->procs[i].nr_vmas; j++)
			if (ctx->procs[i].vmas[j].v.kind == IMG_VMA_SYSV_SHM &&
			    ctx->procs[i].vmas[j].v.ino == (uint64_t)id)
				return true;
	return false;
}

/* some semaphore of the set was last changed by the tree (GETPID) */
static bool sem_used_by_tree(const struct snap_ctx *ctx, int id, unsigned long nsems)
{
	unsigned long i;

	for (i = 0; i < nsems; i++)
		if (in_tree(ctx, semctl(id, i, GETPID)))
			return true;
	return false;
}

static bool undo_uses(const struct snap_ipc *ipc, int id)
{
	uint32_t i;

	for (i = 0; i < ipc->nr_undo; i++)
		if (ipc->undo[i].u.semid == id)
			return true;
	return false;
}

/*
 * Each object line of /proc/sysvipc/@kind (after the header) to @fn,
 * which returns 0 to go on or -errno to stop; -EIO is a line it could
 * not parse, said here once for all readers.
 */
static int sysvipc_each(const char *kind, int (*fn)(void *arg, const char *line),
			void *arg)
{
	char path[64], line[512];
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sysvipc/%s", kind);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fgets(line, sizeof(line), f))
		while (!ret && fgets(line, sizeof(line), f))
			ret = fn(arg, line);
	fclose(f);
	if (ret == -EIO)
		pr_err("%s: unexpected line", path);
	return ret;
}

/* ---- SEM_UNDO adjustments, through collect_sem_undo ---- */

/* collect_sem_undo learns each set's size here: an undo entry lacks it */
static int put_nsems_line(void *arg, const char *line)
{
	struct snap_ipc *ipc = arg;
	unsigned long nsems;
	int key, id;

	if (sscanf(line, "%d %d %*o %lu", &key, &id, &nsems) != 3 || !nsems ||
	    nsems > IMG_SEM_MAX)
		return -EIO;
	return collect_set_nsems(ipc->col, id, nsems);
}

struct undo_walk {
	struct snap_ipc *ipc;
	pid_t pid;
	bool complete;			/* the leader's end record came */
	struct rec_sem_undo_end end;	/* the leader's */
	pid_t own_list;			/* a thread with a list of its own */
};

static int undo_chunk(struct undo_walk *uw, const struct rec_sem_undo *r)
{
	struct snap_ipc *ipc = uw->ipc;
	struct snap_undo *su = ipc->nr_undo ? &ipc->undo[ipc->nr_undo - 1] : NULL;
	struct snap_undo n = { .pid = uw->pid };
	int ret;

	if (!r->nsems || r->nsems > IMG_SEM_MAX || r->n > BCK_UNDO_CHUNK ||
	    r->first + r->n > r->nsems)
		return -EIO;
	if (r->first == 0) {
		n.u = (struct img_sem_undo){ .h.type = IMG_SEM_UNDO, .semid = r->semid,
					     .nsems = r->nsems };
		n.vals = calloc(r->nsems, sizeof(*n.vals));
		if (!n.vals)
			return -ENOMEM;
		ret = vec_push(ipc->undo, ipc->nr_undo, ipc->cap_undo, n);
		if (ret) {
			free(n.vals);
			return ret;
		}
		su = &ipc->undo[ipc->nr_undo - 1];
	}
	/* chunks come in order, each set whole before the next */
	if (!su || su->pid != uw->pid || su->u.semid != r->semid ||
	    su->u.nsems != r->nsems || su->got != r->first)
		return -EIO;
	memcpy(su->vals + r->first, r->vals, r->n * sizeof(*su->vals));
	su->got += r->n;
	return 0;
}

static int undo_cb(void *data, const struct rec_hdr *h, size_t size)
{
	struct undo_walk *uw = data;
	const struct rec_sem_undo_end *e;

	if (h->type == REC_SEM_UNDO && size >= sizeof(struct rec_sem_undo))
		return undo_chunk(uw, (const struct rec_sem_undo *)h);
	if (h->type != REC_SEM_UNDO_END || size < sizeof(uw->end))
		return 0;
	e = (const struct rec_sem_undo_end *)h;
	if (e->err & REC_ERR_UNDO_THREAD) {
		uw->own_list = e->tid;
		return 0;
	}
	uw->end = *e;
	uw->complete = true;
	return 0;
}

static bool has_undo_list(const struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_threads; i++)
		if (sp->threads[i].rec && sp->threads[i].rec->sem_undo)
			return true;
	return false;
}

/* drops the sets whose every adjustment is 0: exit_sem() changes nothing */
static void drop_zero_undo(struct snap_ipc *ipc, uint32_t from)
{
	uint32_t i, j, k = from;

	for (i = from; i < ipc->nr_undo; i++) {
		struct snap_undo *su = &ipc->undo[i];

		for (j = 0; j < su->u.nsems && !su->vals[j]; j++)
			;
		if (j == su->u.nsems) {
			free(su->vals);
			continue;
		}
		ipc->undo[k++] = *su;
	}
	ipc->nr_undo = k;
}

/* @pid's adjustments, appended to ipc->undo; or the reason in @why */
static int undo_of_proc(struct snap_ipc *ipc, pid_t pid, char *why, size_t len)
{
	struct undo_walk uw = { .ipc = ipc, .pid = pid };
	uint32_t from = ipc->nr_undo, i;
	int ret;

	ret = collect_proc(ipc->col, COLLECT_SEM_UNDO, pid, undo_cb, &uw);
	for (i = from; !ret && i < ipc->nr_undo && uw.complete; i++)
		uw.complete = ipc->undo[i].got == ipc->undo[i].u.nsems;
	if (ret)
		snprintf(why, len, "reading its SEM_UNDO adjustments: %s",
			 ret == -EIO ? "records out of order" : errstr(ret));
	else if (uw.own_list)
		snprintf(why, len, "thread %d has a SEM_UNDO list of its own (cloned "
			 "without CLONE_SYSVSEM): not supported", uw.own_list);
	else if (uw.end.err & REC_ERR_UNDO_SET)
		snprintf(why, len, "SEM_UNDO adjustments on sem id %d, which "
			 "/proc/sysvipc/sem does not list", uw.end.semid);
	else if (uw.end.err & REC_ERR_UNDO_LONG)
		snprintf(why, len, "SEM_UNDO adjustments on more semaphores than the "
			 "walk reads (%d steps, one per %d semaphores of a set): not "
			 "supported", BCK_UNDO_STEPS, BCK_UNDO_CHUNK);
	else if (!uw.complete || uw.end.nr != ipc->nr_undo - from)
		snprintf(why, len, "its SEM_UNDO list was cut short (%u sets of %u)",
			 ipc->nr_undo - from, uw.end.nr);
	else {
		drop_zero_undo(ipc, from);
		return 0;
	}
	/* none of its entries stays */
	for (i = from; i < ipc->nr_undo; i++)
		free(ipc->undo[i].vals);
	ipc->nr_undo = from;
	return ret ? ret : uw.end.err || uw.own_list ? -ENOTSUP : -EIO;
}

static int put_nsems_said(struct snap_ipc *ipc)
{
	int ret = sysvipc_each("sem", put_nsems_line, ipc);

	if (ret && ret != -EIO)
		pr_err("telling collect_sem_undo the set sizes: %s", errstr(ret));
	return ret;
}

/* every live process's adjustments (the tree is frozen: the lists hold) */
static int collect_undo(struct snap_ipc *ipc)
{
	struct snap_ctx *ctx = ipc->ctx;
	char why[256];
	bool any = false;
	uint32_t i;
	int ret;

	for (i = 0; i < ctx->nr_procs; i++)
		any = any || (!ctx->procs[i].zombie && has_undo_list(&ctx->procs[i]));
	/* without collect_sem_undo, task_check_sem_undo() refused them */
	if (!any || !collect_has(ipc->col, PROG_SEM_UNDO))
		return 0;
	ret = put_nsems_said(ipc);
	for (i = 0; !ret && i < ctx->nr_procs; i++) {
		if (ctx->procs[i].zombie || !has_undo_list(&ctx->procs[i]))
			continue;
		ret = undo_of_proc(ipc, ctx->procs[i].pid, why, sizeof(why));
		if (ret)
			pr_err("pid %d: %s", ctx->procs[i].pid, why);
	}
	return ret;
}

static int shm_line(void *arg, const char *line)
{
	struct snap_ipc *ipc = arg;
	struct snap_shm sh = { .s.h.type = IMG_SHM };
	unsigned mode, uid, gid, cuid, cgid;
	unsigned long size, nattch;
	int key, id, cpid, lpid, ret;
	void *m;

	if (sscanf(line, "%d %d %o %lu %d %d %lu %u %u %u %u", &key, &id,
		   &mode, &size, &cpid, &lpid, &nattch, &uid, &gid, &cuid,
		   &cgid) != 11)
		return -EIO;
	if (!ipc->all && !attached_in_tree(ipc->ctx, id) &&
	    !in_tree(ipc->ctx, cpid) && !in_tree(ipc->ctx, lpid))
		return 0;
	fill_perm(&sh.s.perm, key, id, mode & IMG_SHM_MODE_ALL, uid, gid,
		  cuid, cgid);
	sh.s.size = size;
	sh.s.cpid = cpid;
	sh.map_len = (size + getpagesize() - 1) / getpagesize() * getpagesize();
	m = shmat(id, NULL, SHM_RDONLY);
	if (m == (void *)-1) {
		ret = -errno;
		pr_err("shm id %d: attaching it to read it: %s", id, errstr(ret));
		return ret;
	}
	sh.map = m;
	ret = find_data(&sh);
	if (!ret)
		ret = vec_push(ipc->shm, ipc->nr_shm, ipc->cap_shm, sh);
	if (ret) {
		shmdt(sh.map);
		free(sh.pieces);
	}
	return ret;
}

static int sem_line(void *arg, const char *line)
{
	struct snap_ipc *ipc = arg;
	struct snap_sem se = { .s.h.type = IMG_SEM };
	unsigned mode, uid, gid, cuid, cgid;
	unsigned long nsems;
	int key, id, ret = 0;

	if (sscanf(line, "%d %d %o %lu %u %u %u %u", &key, &id, &mode, &nsems,
		   &uid, &gid, &cuid, &cgid) != 8 || !nsems || nsems > IMG_SEM_MAX)
		return -EIO;
	if (!ipc->all && !sem_used_by_tree(ipc->ctx, id, nsems) && !undo_uses(ipc, id))
		return 0;
	fill_perm(&se.s.perm, key, id, mode & 0777, uid, gid, cuid, cgid);
	se.s.nsems = nsems;
	se.vals = calloc(nsems, sizeof(*se.vals));
	if (!se.vals)
		return -ENOMEM;
	if (semctl(id, 0, GETALL, (union semun){ .array = se.vals })) {
		ret = -errno;
		pr_err("sem id %d: GETALL: %s", id, errstr(ret));
	}
	if (!ret)
		ret = vec_push(ipc->sem, ipc->nr_sem, ipc->cap_sem, se);
	if (ret)
		free(se.vals);
	return ret;
}

struct msgbuf_hdr {
	long mtype;
	char text[];
};

/* the queue's messages, oldest first, left in it (MSG_COPY) */
static int copy_msgs(struct snap_msq *q, unsigned long qnum)
{
	size_t cap = q->q.qbytes ? q->q.qbytes : 1;
	struct msgbuf_hdr *buf = malloc(sizeof(*buf) + cap);
	unsigned long i;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < qnum && !ret; i++) {
		struct snap_msg m = { .m.h.type = IMG_MSG };
		ssize_t n = msgrcv(q->q.perm.id, buf, cap, i, IPC_NOWAIT | MSG_COPY);

		if (n < 0) {
			ret = -errno;
			pr_err("msg id %d: copying message %lu: %s%s", q->q.perm.id, i,
			       errstr(ret), ret == -ENOSYS ? " (MSG_COPY needs "
			       "CONFIG_CHECKPOINT_RESTORE)" : "");
			break;
		}
		if ((size_t)n > IMG_MSG_MAX) {
			pr_err("msg id %d: message %lu of %zd bytes: above %u", q->q.perm.id,
			       i, n, IMG_MSG_MAX);
			ret = -ENOTSUP;
			break;
		}
		m.m.mtype = buf->mtype;
		m.m.len = n;
		m.text = malloc(n ? n : 1);
		if (!m.text) {
			ret = -ENOMEM;
			break;
		}
		memcpy(m.text, buf->text, n);
		ret = vec_push(q->msgs, q->nr_msgs, q->cap_msgs, m);
		if (ret)
			free(m.text);
	}
	q->q.nr_msgs = q->nr_msgs;
	free(buf);
	return ret;
}

static void free_msq(struct snap_msq *q)
{
	uint32_t i;

	for (i = 0; i < q->nr_msgs; i++)
		free(q->msgs[i].text);
	free(q->msgs);
}

static int msq_line(void *arg, const char *line)
{
	struct snap_ipc *ipc = arg;
	struct snap_msq q = { .q.h.type = IMG_MSQ };
	unsigned mode, uid, gid, cuid, cgid;
	unsigned long cbytes, qnum;
	int key, id, lspid, lrpid, ret;
	struct msqid_ds ds;

	if (sscanf(line, "%d %d %o %lu %lu %d %d %u %u %u %u", &key, &id,
		   &mode, &cbytes, &qnum, &lspid, &lrpid, &uid, &gid, &cuid,
		   &cgid) != 11)
		return -EIO;
	if (!ipc->all && !in_tree(ipc->ctx, lspid) && !in_tree(ipc->ctx, lrpid))
		return 0;
	fill_perm(&q.q.perm, key, id, mode & 0777, uid, gid, cuid, cgid);
	/* msg_qbytes is not in /proc/sysvipc/msg */
	if (msgctl(id, IPC_STAT, &ds)) {
		ret = -errno;
		pr_err("msg id %d: IPC_STAT: %s", id, errstr(ret));
		return ret;
	}
	q.q.qbytes = ds.msg_qbytes;
	ret = copy_msgs(&q, qnum);
	if (!ret)
		ret = vec_push(ipc->msq, ipc->nr_msq, ipc->cap_msq, q);
	if (ret)
		free_msq(&q);
	return ret;
}

static int collect_objects(void *arg)
{
	struct snap_ipc *ipc = arg;
	int ret;

	ret = sysvipc_each("shm", shm_line, ipc);
	if (!ret)
		ret = collect_undo(ipc);
	if (!ret)
		ret = sysvipc_each("sem", sem_line, ipc);
	if (!ret)
		ret = sysvipc_each("msg", msq_line, ipc);
	return ret;
}

int ipc_collect(struct snap_ctx *ctx)
{
	struct snap_ipc *ipc = calloc(1, sizeof(*ipc));
	bool ipc_own, uts_own;
	int ret;

	if (!ipc)
		return -ENOMEM;
	ctx->ipc = ipc;
	ipc->ns.h.type = IMG_IPC_NS;
	if ((ret = same_ns(ctx, "ipc", &ipc_own)) || (ret = same_ns(ctx, "uts", &uts_own)))
		return ret;
	ipc->ns.flags = (ipc_own ? IMG_NS_IPC_OWN : 0) | (uts_own ? IMG_NS_UTS_OWN : 0);
	ipc->ctx = ctx;
	ipc->col = &ctx->col;
	ipc->all = ipc_own;
	ret = in_ns(ctx->root, "uts", CLONE_NEWUTS, read_uts, &ipc->ns);
	if (!ret)
		ret = ipc_own ? in_ns(ctx->root, "ipc", CLONE_NEWIPC, collect_objects, ipc) :
				collect_objects(ipc);
	if (ret)
		return ret;
	ipc->ns.nr_shm = ipc->nr_shm;
	ipc->ns.nr_sem = ipc->nr_sem;
	ipc->ns.nr_msq = ipc->nr_msq;
	pr_info("SysV IPC: %u segments, %u semaphore sets, %u message queues, "
		"%u SEM_UNDO adjustment sets%s", ipc->nr_shm, ipc->nr_sem, ipc->nr_msq,
		ipc->nr_undo,
		ipc_own ? " in the tree's own namespace" : "");
	return 0;
}

static int write_shm(struct img_writer *w, struct snap_shm *sh)
{
	uint32_t i;
	int ret;

	ret = img_put(w, &sh->s, sizeof(sh->s), NULL, 0);
	for (i = 0; !ret && i < sh->nr_pieces; i++) {
		struct img_shm_data d = { .h.type = IMG_SHM_DATA,
					  .offset = sh->pieces[i].off,
					  .len = sh->pieces[i].len };
		struct img_part part = { sh->map + d.offset, d.len };

		ret = img_put(w, &d, sizeof(d), &part, 1);
	}
	return ret;
}

int ipc_write(struct snap_ctx *ctx)
{
	struct snap_ipc *ipc = ctx->ipc;
	uint32_t i, j;
	int ret;

	ret = img_put(ctx->w, &ipc->ns, sizeof(ipc->ns), NULL, 0);
	for (i = 0; !ret && i < ipc->nr_shm; i++)
		ret = write_shm(ctx->w, &ipc->shm[i]);
	for (i = 0; !ret && i < ipc->nr_sem; i++) {
		struct snap_sem *se = &ipc->sem[i];
		struct img_part part = { se->vals, se->s.nsems * sizeof(*se->vals) };

		ret = img_put(ctx->w, &se->s, sizeof(se->s), &part, 1);
	}
	for (i = 0; !ret && i < ipc->nr_msq; i++) {
		struct snap_msq *q = &ipc->msq[i];

		ret = img_put(ctx->w, &q->q, sizeof(q->q), NULL, 0);
		for (j = 0; !ret && j < q->nr_msgs; j++) {
			struct img_part part = { q->msgs[j].text, q->msgs[j].m.len };

			ret = img_put(ctx->w, &q->msgs[j].m, sizeof(q->msgs[j].m),
				      &part, 1);
		}
	}
	return ret;
}

int ipc_write_proc(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct snap_ipc *ipc = ctx->ipc;
	uint32_t i;
	int ret = 0;

	for (i = 0; !ret && ipc && i < ipc->nr_undo; i++) {
		struct snap_undo *su = &ipc->undo[i];
		struct img_part part = { su->vals, su->u.nsems * sizeof(*su->vals) };

		if (su->pid == sp->pid)
			ret = img_put(ctx->w, &su->u, sizeof(su->u), &part, 1);
	}
	return ret;
}

void ipc_free(struct snap_ctx *ctx)
{
	struct snap_ipc *ipc = ctx->ipc;
	uint32_t i;

	if (!ipc)
		return;
	for (i = 0; i < ipc->nr_shm; i++) {
		shmdt(ipc->shm[i].map);
		free(ipc->shm[i].pieces);
	}
	for (i = 0; i < ipc->nr_sem; i++)
		free(ipc->sem[i].vals);
	for (i = 0; i < ipc->nr_msq; i++)
		free_msq(&ipc->msq[i]);
	for (i = 0; i < ipc->nr_undo; i++)
		free(ipc->undo[i].vals);
	free(ipc->undo);
	free(ipc->shm);
	free(ipc->sem);
	free(ipc->msq);
	free(ipc);
	ctx->ipc = NULL;
}

/* ---- restorability ---- */

#define SEMVMX_VAL	32767	/* SEMVMX: the largest semval, and |semadj| */

static const struct img_sem *find_sem(const struct ckpt_image *img, int32_t id)
{
	uint32_t i;

	for (i = 0; i < img->ipc.nr_sem; i++)
		if (img->ipc.sem[i]->perm.id == id)
			return img->ipc.sem[i];
	return NULL;
}

static uint16_t sem_val(const struct img_sem *s, uint32_t i)
{
	uint16_t v;

	memcpy(&v, (const uint8_t *)(s + 1) + 2 * i, sizeof(v));
	return v;
}

static int16_t undo_val(const struct img_sem_undo *u, uint32_t i)
{
	int16_t v;

	memcpy(&v, (const uint8_t *)(u + 1) + 2 * i, sizeof(v));
	return v;
}

/*
 * Restore makes adjustment A on semaphore i with one semop of -A
 * with SEM_UNDO (ipc_restore_undo()): |A| must fit a sem_op, and on a
 * set made again, where +A without SEM_UNDO goes with it, the value
 * passes v + |A| (the increase first) or v - |A| (the decrease first):
 * one of them must stay within 0..SEMVMX (try_atomic_semop(): ERANGE
 * above, EAGAIN below).
 */
static bool increase_first(int v, int a)
{
	return v + abs(a) <= SEMVMX_VAL;
}
static int check_undo_proc(const struct ckpt_image *img, const struct m_proc *mp,
			   struct verdict *vd)
{
	uint32_t i, j;

	for (i = 0; i < mp->nr_undo; i++) {
		const struct img_sem_undo *u = mp->undo[i];
		const struct img_sem *s = find_sem(img, u->semid);

		for (j = 0; s && j < u->nsems; j++) {
			int a = undo_val(u, j), v = sem_val(s, j);

			if (a < -SEMVMX_VAL || (!increase_first(v, a) && v < abs(a)))
				return verdict_refuse(vd, -ERANGE, mp->p->pid[0], "ipc",
						      "sem id %d semaphore %u: value %d "
						      "with a SEM_UNDO adjustment of %d "
						      "cannot be made (SEMVMX %d)",
						      u->semid, j, v, a, SEMVMX_VAL);
		}
	}
	return 0;
}

/*
 * In the snapper's namespace a set outlives the tree: when its
 * processes exit (snap --kill, or their own end), exit_sem() adds each
 * one's adjustments to the values, clamped to 0..SEMVMX.  Restore takes
 * the set as it is then, and gives each process its adjustment back
 * with a semop of -A, which also takes back what exit_sem() added: the
 * values come back only if nothing was clamped, in whatever order the
 * processes exit.  A clamped one (a SEM_UNDO up that someone else
 * consumed, say) cannot be told apart afterwards, so it is refused.
 */
static int check_undo_exits(const struct ckpt_image *img, struct verdict *vd)
{
	uint32_t i, j, k, m;
	int ret = 0;

	if (!img->ipc.ns || img->ipc.ns->flags & IMG_NS_IPC_OWN)
		return 0;
	for (i = 0; i < img->ipc.nr_sem && !ret; i++) {
		const struct img_sem *s = img->ipc.sem[i];

		for (j = 0; j < s->nsems && !ret; j++) {
			long lo = sem_val(s, j), hi = lo;
			pid_t who = 0;

			for (k = 0; k < img->nr_procs; k++)
				for (m = 0; m < img->procs[k].nr_undo; m++) {
					const struct img_sem_undo *u = img->procs[k].undo[m];
					int a;

					if (u->semid != s->perm.id)
						continue;
					a = undo_val(u, j);
					lo += a < 0 ? a : 0;
					hi += a > 0 ? a : 0;
					who = a ? img->procs[k].p->pid[0] : who;
				}
			if (lo < 0 || hi > SEMVMX_VAL)
				ret = verdict_refuse(vd, -ERANGE, who, "ipc",
						     "sem id %d semaphore %u: value %u, and "
						     "the tree's SEM_UNDO adjustments take it to "
						     "%ld..%ld when its processes exit; the kernel "
						     "clamps that to 0..%d, and a restore could "
						     "not tell the value back",
						     s->perm.id, j, sem_val(s, j), lo, hi,
						     SEMVMX_VAL);
		}
	}
	return ret;
}

/*
 * An object restore makes again gets its id through
 * /proc/sys/kernel/<kind>_next_id (CONFIG_CHECKPOINT_RESTORE; a write
 * needs CAP_CHECKPOINT_RESTORE over the namespace's user namespace).  In
 * a namespace of the tree's own that is every object; in the snapper's,
 * the removed segments, which go with their last process (snap --kill)
 * while the other objects stay and are taken as they are.
 */
static int check_next_id(const struct ckpt_image *img, struct verdict *vd)
{
	const struct m_ipc *ipc = &img->ipc;
	bool own = ipc->ns && ipc->ns->flags & IMG_NS_IPC_OWN;
	char path[64];
	uint32_t i;
	int id = -1;

	if (!ipc->ns)
		return 0;
	for (i = 0; i < ipc->nr_shm && id < 0; i++)
		if (own || ipc->shm[i].s->perm.mode & IMG_SHM_DEST)
			id = ipc->shm[i].s->perm.id;
	snprintf(path, sizeof(path), "/proc/sys/kernel/shm_next_id");
	if (id >= 0 && access(path, W_OK))
		return verdict_refuse(vd, -errno, img->procs[0].p->pid[0], "ipc",
				      "shm id %d %s: restore makes it again with its "
				      "id, which needs %s: %s", id, own ? "is in the "
				      "tree's own IPC namespace" : "was removed "
				      "(IPC_RMID) and goes with its last process",
				      path, strerror(errno));
	if (!own)
		return 0;
	for (i = 0; i < 2; i++) {
		uint32_t n = i ? ipc->nr_msq : ipc->nr_sem;

		snprintf(path, sizeof(path), "/proc/sys/kernel/%s_next_id",
			 i ? "msg" : "sem");
		if (n && access(path, W_OK))
			return verdict_refuse(vd, -errno, img->procs[0].p->pid[0], "ipc",
					      "%u %s in the tree's own IPC namespace: "
					      "restore makes them again with their ids, "
					      "which needs %s: %s", n, i ? "message queues" :
					      "semaphore sets", path, strerror(errno));
	}
	return 0;
}

int ipc_check_image(const struct ckpt_image *img, struct verdict *vd)
{
	uint64_t ps = img->hdr->page_size;
	uint32_t i, j;
	int ret = 0;

	for (i = 0; i < img->nr_procs; i++) {
		const struct m_proc *mp = &img->procs[i];

		for (j = 0; j < mp->nr_vmas && !ret; j++) {
			const struct img_vma *v = mp->vmas[j].v;
			const struct m_shm *ms;

			if (v->kind != IMG_VMA_SYSV_SHM)
				continue;
			/* inspect's model of a live tree: the objects are read at snap */
			if (!img->ipc.ns && vd->live)
				continue;
			ms = image_find_shm(img, (int32_t)v->ino);
			if (!img->ipc.ns)
				ret = verdict_refuse(vd, -EINVAL, mp->p->pid[0], "vma",
						     "vma %llx-%llx: SysV segment id %llu, "
						     "but the image has no SysV IPC records",
						     (unsigned long long)v->start,
						     (unsigned long long)v->end,
						     (unsigned long long)v->ino);
			else if (!ms || v->ino > INT32_MAX)
				ret = verdict_refuse(vd, -EINVAL, mp->p->pid[0], "vma",
						     "vma %llx-%llx: SysV segment id %llu "
						     "is not in the image",
						     (unsigned long long)v->start,
						     (unsigned long long)v->end,
						     (unsigned long long)v->ino);
			else if (v->pgoff || v->end - v->start !=
				 (ms->s->size + ps - 1) / ps * ps)
				ret = verdict_refuse(vd, -ENOTSUP, mp->p->pid[0], "vma",
						     "vma %llx-%llx: part of SysV segment "
						     "id %d (%llu bytes, offset %llu): "
						     "not supported",
						     (unsigned long long)v->start,
						     (unsigned long long)v->end,
						     ms->s->perm.id,
						     (unsigned long long)ms->s->size,
						     (unsigned long long)v->pgoff);
		}
		if (!ret)
			ret = check_undo_proc(img, mp, vd);
		if (ret)
			return ret;
	}
	ret = check_undo_exits(img, vd);
	return ret ? ret : check_next_id(img, vd);
}

/* ---- inspect: the SEM_UNDO walk and its checks, on the live tree ---- */

struct live_undo {
	struct snap_ipc ipc;
	const pid_t *pids;
	uint32_t n;
	struct verdict *snap_v;		/* what snap refuses */
	struct verdict *v;		/* what restore refuses */
	const struct img_sem **sets;	/* each with its values */
	uint32_t nr_sets, cap_sets;
};

static int add_live_set(struct live_undo *lu, int id, uint32_t nsems)
{
	struct img_sem *s = calloc(1, sizeof(*s) + 2 * (size_t)nsems);
	int ret;

	if (!s)
		return -ENOMEM;
	s->perm.id = id;
	s->nsems = nsems;
	/* gone since the walk: nothing to check */
	if (semctl(id, 0, GETALL, (union semun){ .array = (uint16_t *)(s + 1) })) {
		free(s);
		return 0;
	}
	ret = vec_push(lu->sets, lu->nr_sets, lu->cap_sets, s);
	if (ret)
		free(s);
	return ret;
}

/* in the tree's IPC namespace: each list, then the values of its sets */
static int walk_live_undo(void *arg)
{
	struct live_undo *lu = arg;
	char why[256];
	uint32_t i, j;
	int ret;

	ret = put_nsems_said(&lu->ipc);
	for (i = 0; !ret && i < lu->n; i++) {
		ret = undo_of_proc(&lu->ipc, lu->pids[i], why, sizeof(why));
		if (ret)
			ret = verdict_refuse(lu->snap_v, ret, lu->pids[i], "ipc", "%s", why);
	}
	for (i = 0; !ret && i < lu->ipc.nr_undo; i++) {
		for (j = 0; j < lu->nr_sets; j++)
			if (lu->sets[j]->perm.id == lu->ipc.undo[i].u.semid)
				break;
		if (j == lu->nr_sets)
			ret = add_live_set(lu, lu->ipc.undo[i].u.semid,
					   lu->ipc.undo[i].u.nsems);
	}
	return ret;
}

/* the walk's entries of @pid as image records, for the checks */
static int model_undo(struct live_undo *lu, pid_t pid, struct m_proc *mp)
{
	uint32_t i;
	int ret;

	for (i = 0; i < lu->ipc.nr_undo; i++) {
		const struct snap_undo *su = &lu->ipc.undo[i];
		size_t len = 2 * (size_t)su->u.nsems;
		struct img_sem_undo *u;

		if (su->pid != pid)
			continue;
		u = malloc(sizeof(*u) + len);
		if (!u)
			return -ENOMEM;
		*u = su->u;
		memcpy(u + 1, su->vals, len);
		ret = vec_push(mp->undo, mp->nr_undo, mp->cap_undo, u);
		if (ret) {
			free(u);
			return ret;
		}
	}
	return 0;
}

static int check_live_undo(struct live_undo *lu)
{
	struct ckpt_image img = { .r.fd = -1 };
	struct m_proc *mp = calloc(lu->n, sizeof(*mp));
	struct img_proc *p = calloc(lu->n, sizeof(*p));
	uint32_t i, j;
	int ret = -ENOMEM;

	if (!mp || !p)
		goto out;
	img.ipc.ns = &lu->ipc.ns;
	img.ipc.sem = lu->sets;
	img.ipc.nr_sem = lu->nr_sets;
	img.procs = mp;
	img.nr_procs = lu->n;
	ret = 0;
	for (i = 0; !ret && i < lu->n; i++) {
		p[i].pid[0] = lu->pids[i];
		mp[i].p = &p[i];
		ret = model_undo(lu, lu->pids[i], &mp[i]);
		if (!ret)
			ret = check_undo_proc(&img, &mp[i], lu->v);
	}
	if (!ret)
		ret = check_undo_exits(&img, lu->v);
out:
	for (i = 0; mp && i < lu->n; i++) {
		for (j = 0; j < mp[i].nr_undo; j++)
			free((void *)mp[i].undo[j]);
		free(mp[i].undo);
	}
	free(mp);
	free(p);
	return ret;
}

int ipc_check_live_undo(struct collector *col, pid_t root, const pid_t *pids,
			uint32_t n, struct verdict *snap_v, struct verdict *v)
{
	struct live_undo lu = { .ipc.col = col, .pids = pids, .n = n, .snap_v = snap_v,
				.v = v };
	uint64_t tree = 0, self = 0;
	uint32_t i;
	int ret;

	if (!n || !collect_has(col, PROG_SEM_UNDO))
		return 0;
	if ((ret = ns_ino(root, "ipc", &tree)) || (ret = ns_ino(0, "ipc", &self)))
		return ret;
	lu.ipc.ns.flags = tree != self ? IMG_NS_IPC_OWN : 0;
	ret = tree != self ? in_ns(root, "ipc", CLONE_NEWIPC, walk_live_undo, &lu) :
			     walk_live_undo(&lu);
	if (!ret)
		ret = check_live_undo(&lu);
	for (i = 0; i < lu.ipc.nr_undo; i++)
		free(lu.ipc.undo[i].vals);
	free(lu.ipc.undo);
	for (i = 0; i < lu.nr_sets; i++)
		free((void *)lu.sets[i]);
	free(lu.sets);
	return ret;
}

/* ---- restore ---- */

int ipc_restore_ns(struct restore_ctx *ctx)
{
	const struct img_ipc_ns *ns = ctx->img.ipc.ns;

	if (!ns)
		return 0;
	/* the tree is created from here: it inherits both */
	if (ns->flags & IMG_NS_IPC_OWN && unshare(CLONE_NEWIPC)) {
		pr_err("a new IPC namespace: unshare: %s", strerror(errno));
		return -errno;
	}
	if (!(ns->flags & IMG_NS_UTS_OWN))
		return 0;
	if (unshare(CLONE_NEWUTS) ||
	    sethostname(ns->hostname, strlen(ns->hostname)) ||
	    setdomainname(ns->domainname, strlen(ns->domainname))) {
		pr_err("a new UTS namespace with host name '%s': %s", ns->hostname,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

/* an object as /proc/sysvipc shows it in the restorer's namespace */
struct live_obj {
	struct img_ipc_perm perm;
	uint64_t size;		/* shm: bytes, sem: nsems */
	int32_t cpid;		/* shm only */
};

struct live_set {
	struct live_obj *o;
	uint32_t n, cap;
};

struct live_read {
	const char *kind;
	struct live_set *s;
};

static int live_line(void *arg, const char *line)
{
	struct live_read *lr = arg;
	const char *kind = lr->kind;
	struct live_obj o = { 0 };
	unsigned mode, uid, gid, cuid, cgid;
	unsigned long size, a;
	int key, id, cpid = 0, b, c, n;

	if (kind[1] == 'h')
		n = sscanf(line, "%d %d %o %lu %d %d %lu %u %u %u %u", &key, &id,
			   &mode, &size, &cpid, &b, &a, &uid, &gid, &cuid,
			   &cgid) == 11;
	else if (kind[1] == 'e')
		n = sscanf(line, "%d %d %o %lu %u %u %u %u", &key, &id, &mode,
			   &size, &uid, &gid, &cuid, &cgid) == 8;
	else
		n = sscanf(line, "%d %d %o %lu %lu %d %d %u %u %u %u", &key, &id,
			   &mode, &a, &size, &b, &c, &uid, &gid, &cuid,
			   &cgid) == 11;
	if (!n)
		return -EIO;
	fill_perm(&o.perm, key, id, mode, uid, gid, cuid, cgid);
	o.size = kind[1] == 'h' || kind[1] == 'e' ? size : 0;
	o.cpid = cpid;
	return vec_push(lr->s->o, lr->s->n, lr->s->cap, o);
}

static int read_live(const char *kind, struct live_set *s)
{
	struct live_read lr = { kind, s };

	return sysvipc_each(kind, live_line, &lr);
}

enum { K_SHM, K_SEM, K_MSG };
static const char *const kind_name[] = { "shm", "sem", "msg" };

/* what the image says of one object, for the checks */
struct want {
	int kind;
	const struct img_ipc_perm *perm;
	uint64_t size;
	int32_t cpid;
	bool removed;
};

static void describe(char *buf, size_t len, int kind, const struct img_ipc_perm *p,
		     uint64_t size, int32_t cpid)
{
	int n = snprintf(buf, len, "%s id %d key %#x mode %o owner %u:%u creator %u:%u",
			 kind_name[kind], p->id, (unsigned)p->key, p->mode & 0777,
			 p->uid, p->gid, p->cuid, p->cgid);

	if (kind == K_SHM && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " size %llu cpid %d%s",
			 (unsigned long long)size, cpid,
			 p->mode & IMG_SHM_DEST ? " removed" : "");
	else if (kind == K_SEM && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " nsems %llu", (unsigned long long)size);
}

/*
 * A removed (IPC_RMID) segment is the image's when it is removed too:
 * one that a process outside the tree also had attached outlives
 * snap --kill, and shmat() attaches a segment marked for removal
 * (Linux only: do_shmat() does not look at SHM_DEST).
 */
static bool same_obj(const struct want *w, const struct live_obj *o)
{
	const struct img_ipc_perm *p = w->perm;

	return o->perm.key == p->key && (o->perm.mode & 0777) ==
	       (p->mode & 0777) && o->perm.cuid == p->cuid && o->perm.cgid == p->cgid &&
	       (w->kind == K_MSG || o->size == w->size) &&
	       (w->kind != K_SHM || (o->cpid == w->cpid &&
				     !!(o->perm.mode & IMG_SHM_DEST) == w->removed));
}

/*
 * 1: the object with the id is the image's own (left by snap --kill):
 * taken as it is; 0: id and key are free; -EEXIST: something else holds
 * them, said naming both
 */
static int check_free(const struct want *w, const struct live_set *s)
{
	char a[192], b[192];
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		const struct live_obj *o = &s->o[i];

		if (o->perm.id == w->perm->id && same_obj(w, o))
			return 1;
		if (o->perm.id != w->perm->id && (!w->perm->key || o->perm.key != w->perm->key))
			continue;
		describe(a, sizeof(a), w->kind, w->perm, w->size, w->cpid);
		describe(b, sizeof(b), w->kind, &o->perm, o->size, o->cpid);
		pr_err("%s: its %s is held by another object in this IPC namespace: %s",
		       a, o->perm.id == w->perm->id ? "id" : "key", b);
		return -EEXIST;
	}
	return 0;
}

static int set_next_id(int kind, int id)
{
	char path[64], val[16];
	int fd, n, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s_next_id", kind_name[kind]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(val, sizeof(val), "%d", id);
	if (write(fd, val, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static int remember(struct restore_ctx *ctx, int kind, int id)
{
	struct ipc_made m = { kind, id };

	return vec_push(ctx->ipc_made, ctx->nr_ipc_made, ctx->cap_ipc_made, m);
}

/*
 * Creates the object of @w with @get (IPC_CREAT | IPC_EXCL): the id
 * comes from <kind>_next_id, which is reset should the get fail.
 */
static int create(struct restore_ctx *ctx, const struct want *w, uint64_t size)
{
	const struct img_ipc_perm *p = w->perm;
	int flags = IPC_CREAT | IPC_EXCL | (p->mode & 0777);
	int ret, id;

	ret = set_next_id(w->kind, p->id);
	if (ret) {
		pr_err("%s id %d: setting /proc/sys/kernel/%s_next_id: %s",
		       kind_name[w->kind], p->id, kind_name[w->kind], errstr(ret));
		return ret;
	}
	if (w->kind == K_SHM)
		id = shmget(p->key, size, flags);
	else if (w->kind == K_SEM)
		id = semget(p->key, size, flags);
	else
		id = msgget(p->key, flags);
	if (id < 0) {
		ret = -errno;
		set_next_id(w->kind, -1);
		pr_err("%s id %d key %#x: creating it: %s", kind_name[w->kind], p->id,
		       (unsigned)p->key, errstr(ret));
		return ret;
	}
	ret = remember(ctx, w->kind, id);
	if (!ret && id != p->id) {
		pr_err("%s id %d key %#x: the kernel gave id %d", kind_name[w->kind],
		       p->id, (unsigned)p->key, id);
		ret = -EEXIST;
	}
	return ret;
}

static int fill_shm(const struct m_shm *ms)
{
	int id = ms->s->perm.id;
	uint8_t *m = shmat(id, NULL, 0);
	uint32_t i;

	if (m == (void *)-1) {
		pr_err("shm id %d: attaching it to fill it: %s", id, strerror(errno));
		return -errno;
	}
	for (i = 0; i < ms->nr_data; i++)
		memcpy(m + ms->data[i]->offset, ms->data[i] + 1, ms->data[i]->len);
	shmdt(m);
	return 0;
}

static int make_shm(struct restore_ctx *ctx, const struct m_shm *ms, const struct want *w)
{
	const struct img_ipc_perm *p = &ms->s->perm;
	struct shmid_ds ds = { 0 };
	int ret;

	ret = create(ctx, w, ms->s->size);
	if (ret)
		return ret;
	ds.shm_perm.uid = p->uid;
	ds.shm_perm.gid = p->gid;
	ds.shm_perm.mode = p->mode & 0777;
	if (shmctl(p->id, IPC_SET, &ds) ||
	    (p->mode & IMG_SHM_LOCKED && shmctl(p->id, SHM_LOCK, NULL))) {
		ret = -errno;
		pr_err("shm id %d: setting owner %u:%u, mode %o%s: %s", p->id, p->uid,
		       p->gid, p->mode & 0777, p->mode & IMG_SHM_LOCKED ? ", locked" : "",
		       errstr(ret));
		return ret;
	}
	return fill_shm(ms);
}

static int make_sem(struct restore_ctx *ctx, const struct img_sem *s, const struct want *w)
{
	const struct img_ipc_perm *p = &s->perm;
	struct semid_ds ds = { 0 };
	uint16_t *vals;
	int ret;

	ret = create(ctx, w, s->nsems);
	if (ret)
		return ret;
	vals = malloc(s->nsems * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	/* the image's values are not aligned for an array of u16 */
	memcpy(vals, s + 1, s->nsems * sizeof(*vals));
	ds.sem_perm.uid = p->uid;
	ds.sem_perm.gid = p->gid;
	ds.sem_perm.mode = p->mode & 0777;
	if (semctl(p->id, 0, SETALL, (union semun){ .array = vals }) ||
	    semctl(p->id, 0, IPC_SET, (union semun){ .buf = &ds })) {
		ret = -errno;
		pr_err("sem id %d: setting values, owner %u:%u, mode %o: %s", p->id,
		       p->uid, p->gid, p->mode & 0777, errstr(ret));
	}
	free(vals);
	return ret;
}

static int make_msq(struct restore_ctx *ctx, const struct m_msq *mq, const struct want *w)
{
	const struct img_ipc_perm *p = &mq->q->perm;
	struct msgbuf_hdr *buf = NULL;
	struct msqid_ds ds = { 0 };
	uint32_t i;
	int ret;

	ret = create(ctx, w, 0);
	if (ret)
		return ret;
	ds.msg_perm.uid = p->uid;
	ds.msg_perm.gid = p->gid;
	ds.msg_perm.mode = p->mode & 0777;
	ds.msg_qbytes = mq->q->qbytes;
	/* above msgmnb, msg_qbytes needs CAP_SYS_RESOURCE (msgctl_down()) */
	if (msgctl(p->id, IPC_SET, &ds)) {
		ret = -errno;
		pr_err("msg id %d: setting owner %u:%u, mode %o, qbytes %llu: %s", p->id,
		       p->uid, p->gid, p->mode & 0777,
		       (unsigned long long)mq->q->qbytes, errstr(ret));
		return ret;
	}
	buf = malloc(sizeof(*buf) + IMG_MSG_MAX);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < mq->nr_msgs && !ret; i++) {
		const struct img_msg *m = mq->msgs[i];

		buf->mtype = m->mtype;
		memcpy(buf->text, m + 1, m->len);
		if (msgsnd(p->id, buf, m->len, IPC_NOWAIT)) {
			ret = -errno;
			pr_err("msg id %d: message %u (type %lld, %u bytes): %s", p->id, i,
			       (long long)m->mtype, m->len, errstr(ret));
		}
	}
	free(buf);
	return ret;
}

struct plan {
	struct live_set live[3];
	bool *keep[3];		/* per image object: the live one is it */
};

static int plan_kind(struct plan *pl, int kind, const struct want *w, uint32_t n)
{
	uint32_t i;
	int ret;

	pl->keep[kind] = calloc(n + 1, sizeof(bool));
	if (!pl->keep[kind])
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = check_free(&w[i], &pl->live[kind]);
		if (ret < 0)
			return ret;
		pl->keep[kind][i] = ret;
		if (ret)
			pr_info("%s id %d: the snapped object is still here, taken as "
				"it is", kind_name[kind], w[i].perm->id);
	}
	return 0;
}

static void free_plan(struct plan *pl)
{
	int k;

	for (k = 0; k < 3; k++) {
		free(pl->live[k].o);
		free(pl->keep[k]);
	}
}

static int wants(const struct m_ipc *ipc, struct want *w[3])
{
	uint32_t i;

	w[K_SHM] = calloc(ipc->nr_shm + 1, sizeof(**w));
	w[K_SEM] = calloc(ipc->nr_sem + 1, sizeof(**w));
	w[K_MSG] = calloc(ipc->nr_msq + 1, sizeof(**w));
	if (!w[K_SHM] || !w[K_SEM] || !w[K_MSG])
		return -ENOMEM;
	for (i = 0; i < ipc->nr_shm; i++)
		w[K_SHM][i] = (struct want){ K_SHM, &ipc->shm[i].s->perm,
					     ipc->shm[i].s->size, ipc->shm[i].s->cpid,
					     ipc->shm[i].s->perm.mode & IMG_SHM_DEST };
	for (i = 0; i < ipc->nr_sem; i++)
		w[K_SEM][i] = (struct want){ K_SEM, &ipc->sem[i]->perm,
					     ipc->sem[i]->nsems, 0, false };
	for (i = 0; i < ipc->nr_msq; i++)
		w[K_MSG][i] = (struct want){ K_MSG, &ipc->msq[i].q->perm, 0, 0, false };
	return 0;
}

int ipc_restore_objects(struct restore_ctx *ctx)
{
	const struct m_ipc *ipc = &ctx->img.ipc;
	struct want *w[3] = { NULL, NULL, NULL };
	struct plan pl = { 0 };
	uint32_t i;
	int k, ret;

	if (!ipc->ns || !(ipc->nr_shm + ipc->nr_sem + ipc->nr_msq))
		return 0;
	ret = wants(ipc, w);
	/* every id and key is checked before anything is made */
	for (k = 0; !ret && k < 3; k++)
		ret = read_live(kind_name[k], &pl.live[k]);
	if (!ret)
		ret = plan_kind(&pl, K_SHM, w[K_SHM], ipc->nr_shm);
	if (!ret)
		ret = plan_kind(&pl, K_SEM, w[K_SEM], ipc->nr_sem);
	if (!ret)
		ret = plan_kind(&pl, K_MSG, w[K_MSG], ipc->nr_msq);
	if (!ret)
		ret = fault_at("restore-ipc");
	for (i = 0; !ret && i < ipc->nr_shm; i++)
		if (!pl.keep[K_SHM][i])
			ret = make_shm(ctx, &ipc->shm[i], &w[K_SHM][i]);
	for (i = 0; !ret && i < ipc->nr_sem; i++)
		if (!pl.keep[K_SEM][i])
			ret = make_sem(ctx, ipc->sem[i], &w[K_SEM][i]);
	for (i = 0; !ret && i < ipc->nr_msq; i++)
		if (!pl.keep[K_MSG][i])
			ret = make_msq(ctx, &ipc->msq[i], &w[K_MSG][i]);
	free_plan(&pl);
	for (k = 0; k < 3; k++)
		free(w[k]);
	return ret;
}

static bool sem_made(const struct restore_ctx *ctx, int id)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_ipc_made; i++)
		if (ctx->ipc_made[i].kind == K_SEM && ctx->ipc_made[i].id == id)
			return true;
	return false;
}

/* the ops that fit the stub's scratch: whole pairs */
#define UNDO_OPS_MAX	((INJ_STUB_SIZE - INJ_SCRATCH_OFF) / sizeof(struct sembuf) & ~1ul)

static int undo_semop(struct restore_ctx *ctx, struct rst_proc *rp, int id,
		      const struct sembuf *ops, size_t n, bool made)
{
	uint64_t addr;
	long r;
	int ret;

	ret = rst_put(ctx, rp, 0, ops, n * sizeof(*ops), &addr);
	if (!ret)
		ret = rst_try(ctx, rp, "semop", SYS_semop, id, addr, n, &r);
	if (ret)
		return ret;
	if (r >= 0)
		return 0;
	pr_err("pid %d: sem id %d: giving back its SEM_UNDO adjustments: semop: %s%s",
	       rp->pid, id, errstr(r), r == -EAGAIN && !made ? " (the set was taken "
	       "as it is, and its values are below what the process held: changed "
	       "since the snap)" : r == -ERANGE ? " (a value would pass SEMVMX)" : "");
	return (int)r;
}

/*
 * The process's adjustments come back from its own semop(): an op of
 * -A with SEM_UNDO makes semadj A (do_semtimedop(): semadj -= sem_op)
 * and changes the value by -A.  On a set made here, with the image's
 * values, +A without SEM_UNDO goes with it in the same call (atomic),
 * the increase first so that no value goes below 0.  On a set taken as
 * it is, the tree's exit added A (exit_sem()): -A alone takes it back.
 * Made sets were SETALL'd before the tree existed, and nothing sets
 * values after this (SETALL and SETVAL clear every process's semadj).
 * Injected before the creds are set: root may alter any set.
 */
int ipc_restore_undo(struct restore_ctx *ctx, struct rst_proc *rp)
{
	struct sembuf ops[UNDO_OPS_MAX];
	uint32_t i, j;
	size_t n;
	int ret = 0;

	for (i = 0; !ret && i < rp->mp->nr_undo; i++) {
		const struct img_sem_undo *u = rp->mp->undo[i];
		const struct img_sem *s = find_sem(&ctx->img, u->semid);
		bool made = sem_made(ctx, u->semid);

		n = 0;
		for (j = 0; !ret && s && j < u->nsems; j++) {
			short a = undo_val(u, j);
			struct sembuf with = { j, -a, SEM_UNDO | IPC_NOWAIT };
			struct sembuf back = { j, a, IPC_NOWAIT };

			if (!a)
				continue;
			if (!made) {
				ops[n++] = with;
			} else if ((a > 0) == increase_first(sem_val(s, j), a)) {
				/* +A first: the increase, or the decrease that must come first */
				ops[n++] = back;
				ops[n++] = with;
			} else {
				ops[n++] = with;
				ops[n++] = back;
			}
			if (n + 2 > UNDO_OPS_MAX) {
				ret = undo_semop(ctx, rp, u->semid, ops, n, made);
				n = 0;
			}
		}
		if (!ret && n)
			ret = undo_semop(ctx, rp, u->semid, ops, n, made);
	}
	return ret;
}

/* every process is attached: the removed segments are removed again */
int ipc_restore_finish(struct restore_ctx *ctx)
{
	const struct m_ipc *ipc = &ctx->img.ipc;
	uint32_t i;

	for (i = 0; i < ipc->nr_shm; i++) {
		const struct img_shm *s = ipc->shm[i].s;

		if (s->perm.mode & IMG_SHM_DEST && shmctl(s->perm.id, IPC_RMID, NULL)) {
			pr_err("shm id %d: IPC_RMID: %s", s->perm.id, strerror(errno));
			return -errno;
		}
	}
	ctx->ipc_keep = true;
	return 0;
}

/* a failed restore leaves no object of its own behind */
void ipc_restore_free(struct restore_ctx *ctx)
{
	uint32_t i;

	for (i = 0; !ctx->ipc_keep && i < ctx->nr_ipc_made; i++) {
		int id = ctx->ipc_made[i].id, r;

		if (ctx->ipc_made[i].kind == K_SHM)
			r = shmctl(id, IPC_RMID, NULL);
		else if (ctx->ipc_made[i].kind == K_SEM)
			r = semctl(id, 0, IPC_RMID);
		else
			r = msgctl(id, IPC_RMID, NULL);
		if (r)
			pr_warn("%s id %d: removing it: %s", kind_name[ctx->ipc_made[i].kind],
				id, strerror(errno));
	}
	free(ctx->ipc_made);
	ctx->ipc_made = NULL;
	ctx->nr_ipc_made = ctx->cap_ipc_made = 0;
}
