// SPDX-License-Identifier: GPL-2.0
/*
 * File locks: flock, POSIX (fcntl F_SETLK) and OFD (F_OFD_SETLK) locks,
 * read from /proc/PID/fdinfo/N "lock:" lines at snap and taken again by
 * the restored process itself (injected), so that they still exclude
 * everyone else.
 *
 * fdinfo is the one place that tells which of an inode's locks belong to
 * this fd: fs/locks.c show_fd_locks() lists the locks of the fd's open
 * file whose owner is that file (flock, OFD) or the process's files_struct
 * (POSIX).  /proc/locks only has the inode and a pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fd/fd.h"
#include "img.h"
#include "inject.h"
#include "locks.h"
#include "log.h"
#include "util.h"

static const char *const kind_names[] = {
	[IMG_LOCK_FLOCK] = "flock", [IMG_LOCK_POSIX] = "posix",
	[IMG_LOCK_OFD] = "ofd",
};

const char *locks_kind_name(uint32_t kind)
{
	return kind && kind <= IMG_LOCK_KIND_MAX ? kind_names[kind] : "?";
}

/*
 * One "lock:" line (fs/locks.c lock_get_status()):
 *   1: POSIX  ADVISORY  WRITE 8814 fe:00:10953521 5 14
 *   1: OFDLCK ADVISORY  READ -1 fe:00:10953523 3 EOF
 *   1: FLOCK  ADVISORY  WRITE 8814 fe:00:10953522 0 EOF
 * 1 if it is a lock, 0 if it is one to leave out, -ENOTSUP with @why.
 */
int locks_parse_line(const char *line, struct img_lock *l, char *why, size_t len)
{
	char kind[16], adv[16], type[16], dev[64], end[32];
	long long id, start;
	int pid;

	memset(l, 0, sizeof(*l));
	if (sscanf(line, "%lld: %15s %15s %15s %d %63s %lld %31s", &id, kind, adv,
		   type, &pid, dev, &start, end) != 8 || start < 0) {
		snprintf(why, len, "cannot read the lock '%.60s'", line);
		return -EPROTO;
	}
	if (!strcmp(kind, "ACCESS"))
		return 0;	/* FL_ACCESS: a transient test, not a lock */
	if (!strcmp(kind, "FLOCK"))
		l->kind = IMG_LOCK_FLOCK;
	else if (!strcmp(kind, "POSIX"))
		l->kind = IMG_LOCK_POSIX;
	else if (!strcmp(kind, "OFDLCK"))
		l->kind = IMG_LOCK_OFD;
	if (!strcmp(kind, "LEASE") || !strcmp(kind, "DELEG")) {
		/* the kernel breaks them for other openers: not a lock to retake */
		snprintf(why, len, "holds a %s (F_SETLEASE): not supported",
			 kind[0] == 'L' ? "lease" : "delegation");
		return -ENOTSUP;
	}
	if (!l->kind || strcmp(adv, "ADVISORY")) {
		snprintf(why, len, "holds a %s %s lock: not supported", kind, adv);
		return -ENOTSUP;
	}
	if (!strcmp(type, "READ"))
		l->type = IMG_LOCK_READ;
	else if (!strcmp(type, "WRITE"))
		l->type = IMG_LOCK_WRITE;
	else {
		snprintf(why, len, "holds a %s lock of type %s: not supported", kind,
			 type);
		return -ENOTSUP;
	}
	if (l->kind == IMG_LOCK_FLOCK)
		return 1;
	l->start = start;
	if (strcmp(end, "EOF")) {
		char *e;
		long long last = strtoll(end, &e, 10);

		if (*e || last < start) {
			snprintf(why, len, "cannot read the lock '%.60s'", line);
			return -EPROTO;
		}
		l->len = (uint64_t)last - start + 1;
	}
	return 1;
}

/* an fd of the same open file listed the same lock already */
static bool is_dup(const struct snap_proc *sp, uint32_t upto, uint64_t kfile,
		   const struct img_lock *l)
{
	uint32_t i, j;

	for (i = 0; i < upto; i++) {
		if (sp->fds[i].kfile != kfile)
			continue;
		for (j = 0; j < sp->nr_locks; j++) {
			const struct img_lock *o = &sp->locks[j];

			if (o->fd == sp->fds[i].f.fd && o->kind == l->kind &&
			    o->type == l->type && o->start == l->start && o->len == l->len)
				return true;
		}
	}
	return false;
}

static int collect_fd(struct snap_proc *sp, uint32_t i)
{
	const struct snap_fd *f = &sp->fds[i];
	char buf[16384], why[160];
	const char *p;
	struct img_lock l;
	int ret;

	ret = fdinfo_read(sp->pid, f->f.fd, buf, sizeof(buf));
	if (ret) {
		pr_err("pid %d: fd %d: reading its fdinfo for locks: %s", sp->pid,
		       f->f.fd, ret == -EFBIG ? "more locks than fit" : errstr(ret));
		return ret;
	}
	for (p = buf; (p = strstr(p, "\nlock:\t")); p++) {
		ret = locks_parse_line(p + 7, &l, why, sizeof(why));
		if (ret < 0) {
			pr_err("pid %d: fd %d (%s): %s", sp->pid, f->f.fd, f->path, why);
			return ret;
		}
		if (!ret || is_dup(sp, i, f->kfile, &l))
			continue;
		l.fd = f->f.fd;
		if (sp->nr_locks >= IMG_LOCKS_MAX) {
			pr_err("pid %d: more than %u file locks", sp->pid, IMG_LOCKS_MAX);
			return -E2BIG;
		}
		ret = vec_push(sp->locks, sp->nr_locks, sp->cap_locks, l);
		if (ret)
			return ret;
	}
	return 0;
}

int locks_check_fd(pid_t pid, int fd, char *why, size_t len)
{
	char buf[16384];
	struct img_lock l;
	const char *p;
	int ret;

	if (fdinfo_read(pid, fd, buf, sizeof(buf)))
		return 0;	/* closed meanwhile: nothing to say */
	for (p = buf; (p = strstr(p, "\nlock:\t")); p++) {
		ret = locks_parse_line(p + 7, &l, why, len);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int locks_collect(struct snap_ctx *ctx, struct snap_proc *sp)
{
	uint32_t i;
	int ret;

	for (i = 0; i < sp->nr_fds; i++) {
		ret = collect_fd(sp, i);
		if (ret)
			return ret;
	}
	return 0;
}

int locks_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct img_locks r = { .h.type = IMG_LOCKS, .nr_locks = sp->nr_locks };
	struct img_part part = { sp->locks, sp->nr_locks * sizeof(*sp->locks) };

	if (!sp->nr_locks)
		return 0;
	return img_put(ctx->w, &r, sizeof(r), &part, 1);
}

void locks_free(struct snap_proc *sp)
{
	free(sp->locks);
	sp->locks = NULL;
	sp->nr_locks = sp->cap_locks = 0;
}

/* ---- restore: the process takes its locks again ---- */

static const struct m_fd *fd_of(const struct m_proc *mp, int32_t fd)
{
	uint32_t i;

	for (i = 0; i < mp->nr_fds; i++)
		if (mp->fds[i].f->fd == fd)
			return &mp->fds[i];
	return NULL;
}

/* who holds what keeps @l from us now, for the message */
static void holder(const struct rst_proc *rp, const struct img_lock *l, char *buf,
		   size_t len)
{
	struct flock fl = {
		.l_type = l->type == IMG_LOCK_WRITE ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET, .l_start = l->start, .l_len = l->len,
	};
	char path[64];
	int fd;

	snprintf(buf, len, "another process");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", rp->pid, l->fd);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (l->kind == IMG_LOCK_FLOCK)
		fl.l_start = fl.l_len = 0;
	/* an OFD query reports POSIX holders by pid and OFD ones as -1 */
	if (!fcntl(fd, F_OFD_GETLK, &fl) && fl.l_type != F_UNLCK && fl.l_pid > 0)
		snprintf(buf, len, "pid %d", fl.l_pid);
	close(fd);
}

static int take(struct restore_ctx *ctx, struct rst_proc *rp, const struct img_lock *l,
		long *r)
{
	struct flock fl = {
		.l_type = l->type == IMG_LOCK_WRITE ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET, .l_start = l->start, .l_len = l->len,
	};
	uint64_t addr;
	int ret;

	if (l->kind == IMG_LOCK_FLOCK)
		return rst_try(ctx, rp, "flock", SYS_flock, l->fd, LOCK_NB |
			       (l->type == IMG_LOCK_WRITE ? LOCK_EX : LOCK_SH), 0, r);
	ret = rst_put(ctx, rp, 0, &fl, sizeof(fl), &addr);
	if (ret)
		return ret;
	/* never F_SETLKW: a held lock fails the restore, it does not hang it */
	return rst_try(ctx, rp, "fcntl", SYS_fcntl, l->fd,
		       l->kind == IMG_LOCK_OFD ? F_OFD_SETLK : F_SETLK, addr, r);
}

/*
 * After the memory: mm.c opens and closes files in the target to map
 * them, and closing any fd of a file drops the process's POSIX locks on
 * it (fs/locks.c locks_remove_posix() from filp_flush()).
 */
int locks_restore(struct restore_ctx *ctx, struct rst_proc *rp)
{
	const struct m_proc *mp = rp->mp;
	char who[64];
	uint32_t i;
	long r;
	int ret;

	for (i = 0; i < mp->nr_locks; i++) {
		const struct img_lock *l = &mp->locks[i];
		const struct m_fd *mf = fd_of(mp, l->fd);

		ret = take(ctx, rp, l, &r);
		if (ret)
			return ret;
		if (r >= 0)
			continue;
		if (r == -EAGAIN || r == -EACCES) {
			char range[64] = "";

			if (l->kind != IMG_LOCK_FLOCK && l->len)
				snprintf(range, sizeof(range), " on bytes %llu-%llu",
					 (unsigned long long)l->start,
					 (unsigned long long)(l->start + l->len - 1));
			else if (l->kind != IMG_LOCK_FLOCK)
				snprintf(range, sizeof(range), " from byte %llu on",
					 (unsigned long long)l->start);
			holder(rp, l, who, sizeof(who));
			pr_err("pid %d: fd %d (%s): its %s %s lock%s is held by %s now",
			       rp->pid, l->fd, mf ? mf->path : "?", locks_kind_name(l->kind),
			       l->type == IMG_LOCK_WRITE ? "write" : "read", range, who);
			return -EAGAIN;
		}
		pr_err("pid %d: fd %d (%s): taking its %s lock again: %s", rp->pid,
		       l->fd, mf ? mf->path : "?", locks_kind_name(l->kind), errstr(r));
		return r;
	}
	return 0;
}
