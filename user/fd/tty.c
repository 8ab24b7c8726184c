// SPDX-License-Identifier: GPL-2.0
/*
 * Terminals: pty masters (/dev/ptmx) and slaves (/dev/pts/N).
 *
 * A pair inside the tree (a program holding both sides, as script or
 * tmux do) comes back as a new pair: the master from /dev/ptmx, every
 * slave fd from it by TIOCGPTPEER (so no path, which would name the old
 * index, is involved), with the pair's termios, window size, lock and
 * packet mode, and the output the slave side wrote that the master had
 * not read yet.  The session whose terminal it was gets it back as its
 * controlling terminal (TIOCSCTTY), with its foreground group.
 *
 * A slave whose master is outside the tree is the user's terminal: a
 * shell job.  With snap/restore --shell-job it becomes the terminal
 * restore runs on, in restore's session and process group (as CRIU's
 * --shell-job), with the termios it had.
 *
 * The state is read through a copy of the fd (pidfd_getfd) with the
 * tty's own ioctls rather than from BPF: tty_struct hangs off
 * file->private_data (an untrusted walk for the verifier), and the bytes
 * n_tty holds can only be had by reading them.
 *
 * Not kept: the pts number (a new pair gets the lowest free one), and
 * where a canonical line's editing stood (the bytes come back, typed
 * again, as the line discipline had kept them).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"
#include "log.h"

#define PTMX_MAJOR	5
#define PTMX_MINOR	2
#define PTS_MAJOR	136	/* UNIX98_PTY_SLAVE_MAJOR: every index fits its minors */

/* the kernel's dev_t (inode->i_rdev): 12 bits of major, 20 of minor */
static unsigned int k_major(uint64_t rdev)
{
	return rdev >> 20;
}

static unsigned int k_minor(uint64_t rdev)
{
	return rdev & 0xfffff;
}

bool tty_is_pty(uint64_t rdev)
{
	return (k_major(rdev) == PTMX_MAJOR && k_minor(rdev) == PTMX_MINOR) ||
	       k_major(rdev) == PTS_MAJOR;
}

static const struct img_tty *tty_of(const struct m_fd *mf)
{
	return (const struct img_tty *)mf->ext;
}

/* the fd @fd of @pid, ours (pidfd_getfd); -errno */
static int grab(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), ret;

	if (pidfd < 0)
		return -errno;
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	ret = ret < 0 ? -errno : ret;
	close(pidfd);
	return ret;
}

static void termios_to_img(struct img_tty *t, const struct termios *tio)
{
	t->iflag = tio->c_iflag;
	t->oflag = tio->c_oflag;
	t->cflag = tio->c_cflag;
	t->lflag = tio->c_lflag;
	t->line = tio->c_line;
	t->ispeed = cfgetispeed(tio);
	t->ospeed = cfgetospeed(tio);
	memcpy(t->cc, tio->c_cc, MIN(sizeof(t->cc), sizeof(tio->c_cc)));
}

static void img_to_termios(struct termios *tio, const struct img_tty *t)
{
	memset(tio, 0, sizeof(*tio));
	tio->c_iflag = t->iflag;
	tio->c_oflag = t->oflag;
	tio->c_cflag = t->cflag;
	tio->c_lflag = t->lflag;
	tio->c_line = t->line;
	memcpy(tio->c_cc, t->cc, MIN(sizeof(t->cc), sizeof(tio->c_cc)));
	cfsetispeed(tio, t->ispeed);
	cfsetospeed(tio, t->ospeed);
}

/* what the kernel says of the pair, through our copy of the fd */
static int read_state(int fd, struct img_tty *t, bool master, uint64_t rdev)
{
	struct termios tio;
	struct winsize ws;
	int v = 0;
	pid_t id;

	if (tcgetattr(fd, &tio) || ioctl(fd, TIOCGWINSZ, &ws))
		return -errno;
	termios_to_img(t, &tio);
	t->rows = ws.ws_row;
	t->cols = ws.ws_col;
	t->xpixel = ws.ws_xpixel;
	t->ypixel = ws.ws_ypixel;
	if (master) {
		unsigned int n;

		t->flags |= IMG_TTY_MASTER;
		if (ioctl(fd, TIOCGPTN, &n))
			return -errno;
		t->index = n;
		if (!ioctl(fd, TIOCGPTLCK, &v) && v)
			t->flags |= IMG_TTY_LOCKED;
		if (!ioctl(fd, TIOCGPKT, &v) && v)
			t->flags |= IMG_TTY_PKT;
	} else {
		t->index = k_minor(rdev);
	}
	/* a slave answers these only to its own session (tiocgsid()) */
	if (!ioctl(fd, TIOCGSID, &id))
		t->sid = id;
	if (t->sid && !ioctl(fd, TIOCGPGRP, &id))
		t->pgrp = id;
	return 0;
}

static int tty_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
		    const struct rec_file *r)
{
	struct img_tty *t = &x->tty;
	int fd, ret;

	fd = grab(r->tgid, r->fd);
	if (fd < 0)
		return fd;
	ret = read_state(fd, t, k_major(r->rdev) == PTMX_MAJOR, r->rdev);
	close(fd);
	if (!ret)
		t->h.type = IMG_TTY;
	return ret;
}

/* ---- snap: the pair's pending output, the tree frozen ---- */

/* a master of pts @index among the tree's fds */
static bool snap_has_master(const struct snap_ctx *ctx, uint32_t index)
{
	uint32_t i, j;

	for (i = 0; i < ctx->nr_procs; i++)
		for (j = 0; j < ctx->procs[i].nr_fds; j++) {
			const struct snap_fd *f = &ctx->procs[i].fds[j];

			if (f->f.kind == IMG_FD_TTY && f->x.h.type == IMG_TTY &&
			    f->x.tty.flags & IMG_TTY_MASTER && f->x.tty.index == index)
				return true;
		}
	return false;
}

/*
 * Bytes that went through a line discipline once must not again: output
 * written back without OPOST, input typed again without echo, signals,
 * flow control or CR/NL mapping (but in the same canonical mode, which
 * rebuilds the lines as they were).
 */
static void quiet_termios(struct termios *t, bool input)
{
	if (!input) {
		t->c_oflag &= ~OPOST;
		return;
	}
	t->c_iflag &= ~(ICRNL | INLCR | IGNCR | ISTRIP | IXON | IUCLC | BRKINT);
	t->c_lflag &= ~(ECHO | ECHONL | ECHOE | ECHOK | ISIG | IEXTEN);
}

/*
 * A pty write reaches the other side's line discipline later, from a
 * work item (tty_flip_buffer_push()); n_tty_poll() waits for it
 * (tty_buffer_flush_work()) when nothing is readable yet.  So a poll of
 * the receiving side settles what was written before.
 */
static void settle_flips(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	poll(&p, 1, 0);
}

/*
 * What of @buf a reader of a tty with termios @t sees counted by
 * FIONREAD once it is in: in canonical mode whole lines only
 */
static int visible(const struct termios *t, const uint8_t *buf, size_t n)
{
	size_t i;

	if (!(t->c_lflag & ICANON))
		return n;
	for (i = n; i > 0; i--)
		if (buf[i - 1] == '\n' || (t->c_cc[VEOL] && buf[i - 1] == t->c_cc[VEOL]) ||
		    (t->c_cc[VEOL2] && buf[i - 1] == t->c_cc[VEOL2]))
			break;
	return i;
}

/*
 * Until @want bytes are readable on @fd.  Under load the flip work can
 * lag even behind settle_flips() (seen here: a poll that found nothing
 * and returned before the bytes were in); the termios must not change
 * under bytes still on their way.  1 s at most.
 */
static int wait_in(int fd, int want)
{
	struct timespec ms = { 0, 1000 * 1000 };
	int n = 0, i;

	for (i = 0; i < 1000; i++) {
		settle_flips(fd);
		if (ioctl(fd, FIONREAD, &n))
			return -errno;
		if (n >= want)
			return 0;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

/*
 * @n bytes written into @to, @tty's termios quieted (quiet_termios)
 * until the receiving side @from has taken them
 */
static int put_back(int to, int from, int tty, const uint8_t *buf, size_t n,
		    bool input)
{
	/* the master's own termios is raw: everything counts */
	struct termios tio, quiet, raw_master = { 0 };
	ssize_t w;
	int ret = 0, want;

	if (tcgetattr(tty, &tio))
		return -errno;
	quiet = tio;
	quiet_termios(&quiet, input);
	if (tcsetattr(tty, TCSANOW, &quiet))
		return -errno;
	want = visible(input ? &quiet : &raw_master, buf, n);
	while (n && !ret) {
		w = write(to, buf, n);
		if (w <= 0)
			ret = w < 0 ? -errno : -EIO;
		else {
			buf += w;
			n -= w;
		}
	}
	if (!ret)
		ret = wait_in(from, want);
	if (tcsetattr(tty, TCSANOW, &tio) && !ret)
		ret = -errno;
	return ret;
}

/*
 * All @fd has to read, without blocking: FIONREAD says how much is in
 * the line discipline, poll() that it is there; once it is empty a poll
 * brings in what was still on its way (settle_flips).
 */
static int drain(int fd, uint8_t **data, uint32_t *len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t *buf = NULL, *nb;
	size_t got = 0;
	int n = 0;
	ssize_t r;

	for (;;) {
		settle_flips(fd);
		if (ioctl(fd, FIONREAD, &n)) {
			free(buf);
			return -errno;
		}
		if (n <= 0 || poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			break;
		if (got + n > IMG_TTY_DATA_MAX || !(nb = realloc(buf, got + n))) {
			free(buf);
			return got + n > IMG_TTY_DATA_MAX ? -E2BIG : -ENOMEM;
		}
		buf = nb;
		r = read(fd, buf + got, n);
		if (r <= 0)
			break;
		got += r;
	}
	*data = buf;
	*len = got;
	return 0;
}

/*
 * The input the slave side has not read: in canonical mode n_tty shows
 * only whole lines, so for a moment the slave reads raw, which makes all
 * of it readable.
 */
static int drain_input(int s, uint8_t **data, uint32_t *len)
{
	struct termios tio, raw;
	int ret;

	if (tcgetattr(s, &tio))
		return -errno;
	raw = tio;
	raw.c_lflag &= ~ICANON;
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(s, TCSANOW, &raw))
		return -errno;
	ret = drain(s, data, len);
	if (tcsetattr(s, TCSANOW, &tio) && !ret)
		ret = -errno;
	return ret;
}

/*
 * Both ways of the pair, taken (a tty cannot be peeked at) and written
 * back at once, for the tree to read them should it run on: the master's
 * unread output into the slave, the slave's unread input into the master.
 */
static int take_pending(int m, bool pkt, uint8_t **data, uint32_t *out_len,
			uint32_t *in_len)
{
	uint8_t *out = NULL, *in = NULL;
	int s, ret, off = 0, on = 1;

	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s < 0)
		return errno == EIO ? 0 : -errno;	/* no slave was ever open */
	/*
	 * In packet mode every read of the master starts with a status
	 * byte: off while we read (turning it on again drops a status
	 * change not read yet, pty_set_pktmode())
	 */
	if (pkt && ioctl(m, TIOCPKT, &off)) {
		close(s);
		return -errno;
	}
	ret = drain(m, &out, out_len);
	if (!ret && *out_len)
		ret = put_back(s, m, s, out, *out_len, false);
	if (!ret)
		ret = drain_input(s, &in, in_len);
	if (!ret && *in_len)
		ret = put_back(m, s, s, in, *in_len, true);
	if (pkt && ioctl(m, TIOCPKT, &on) && !ret)
		ret = -errno;
	close(s);
	if (!ret && (*data = malloc(*out_len + *in_len + 1))) {
		memcpy(*data, out ? out : (uint8_t *)"", *out_len);
		memcpy(*data + *out_len, in ? in : (uint8_t *)"", *in_len);
	} else if (!ret) {
		ret = -ENOMEM;
	}
	free(out);
	free(in);
	return ret;
}

static int tty_peek(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f)
{
	struct img_tty *t = &f->x.tty;
	int m, ret = 0;

	if (!(t->flags & IMG_TTY_MASTER)) {
		if (ctx->shell_job || snap_has_master(ctx, t->index))
			return 0;
		pr_err("pid %d: fd %d is %s, a terminal whose other side is outside "
		       "the tree: snap --shell-job takes it as the user's terminal "
		       "(restore --shell-job gives it the one restore runs on)",
		       sp->pid, f->f.fd, f->path);
		return -ENOTSUP;
	}
	/* the pair's bytes once: the first fd of its master has them */
	if (snap_obj_seen(&ctx->objs, f->f.rdev | 1ULL << 63, t->index, &ret) || ret ||
	    t->flags & IMG_TTY_LOCKED)
		return ret;
	m = grab(sp->pid, f->f.fd);
	if (m < 0) {
		pr_err("pid %d: fd %d: pidfd_getfd: %s", sp->pid, f->f.fd, errstr(m));
		return m;
	}
	ret = take_pending(m, t->flags & IMG_TTY_PKT, &f->data, &t->data_len, &t->in_len);
	close(m);
	if (ret) {
		pr_err("pid %d: fd %d: the bytes pending on pts %u: %s", sp->pid,
		       f->f.fd, t->index, errstr(ret));
		return ret;
	}
	t->flags |= IMG_TTY_DATA;
	f->data_len = t->data_len + t->in_len;
	return 0;
}

/* ---- restorability ---- */

/* the master of pts @index in the image, NULL if the tree holds none */
static const struct m_fd *img_master(const struct ckpt_image *img, uint32_t index)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind == IMG_FD_TTY && tty_of(mf)->flags & IMG_TTY_MASTER &&
			    tty_of(mf)->index == index)
				return mf;
		}
	return NULL;
}

/* the record of pts @index with the pair's pending bytes, NULL if none */
static const struct m_fd *img_pending(const struct ckpt_image *img, uint32_t index)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind == IMG_FD_TTY && tty_of(mf)->flags & IMG_TTY_DATA &&
			    tty_of(mf)->index == index)
				return mf;
		}
	return NULL;
}

/* process @pid of the image holds a slave of pts @index */
static bool holds_slave(const struct ckpt_image *img, int32_t pid, uint32_t index)
{
	int i = image_find(img, pid);
	uint32_t j;

	for (j = 0; i >= 0 && j < img->procs[i].nr_fds; j++) {
		const struct m_fd *mf = &img->procs[i].fds[j];

		if (mf->f->kind == IMG_FD_TTY && !(tty_of(mf)->flags & IMG_TTY_MASTER) &&
		    tty_of(mf)->index == index)
			return true;
	}
	return false;
}

static int tty_check(struct verdict *v, const struct ckpt_image *img,
		     const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_tty *t = tty_of(mf);
	const struct img_proc *p = mp->p;

	if (t->line)
		return verdict_refuse(v, -ENOTSUP, p->pid[0], "fd", "fd %d: %s has line "
				      "discipline %u: only N_TTY is restored",
				      mf->f->fd, mf->path, t->line);
	if (!(t->flags & IMG_TTY_MASTER) && !img_master(img, t->index)) {
		if (!v->shell_job)
			return verdict_refuse(v, -ENOTSUP, p->pid[0], "fd",
					      "fd %d is %s, a terminal whose other side is "
					      "outside the tree: --shell-job (snap and "
					      "restore) gives it the terminal restore runs on",
					      mf->f->fd, mf->path);
		if (mp->parent < 0 && p->sid[0] == p->pid[0])
			return verdict_refuse(v, -ENOTSUP, p->pid[0], "tree",
					      "leads its own session on the user's terminal "
					      "%s: a shell job is a job of a shell, in the "
					      "shell's session", mf->path);
		return 0;
	}
	/* the session of the pair takes it back as its terminal, by a slave */
	if (t->sid && !holds_slave(img, t->sid, t->index))
		return verdict_refuse(v, -ENOTSUP, p->pid[0], "fd", "fd %d: pts %u is the "
				      "terminal of session %d, whose leader %s",
				      mf->f->fd, t->index, t->sid,
				      image_find(img, t->sid) < 0 ? "is not in the tree" :
				      "holds no fd of its slave");
	if (t->pgrp && image_find(img, t->pgrp) < 0)
		return verdict_refuse(v, -ENOTSUP, p->pid[0], "fd", "fd %d: the foreground "
				      "group %d of pts %u has no leader in the tree",
				      mf->f->fd, t->pgrp, t->index);
	if ((t->flags & IMG_TTY_MASTER) && access("/dev/ptmx", R_OK | W_OK))
		return verdict_refuse(v, -errno, p->pid[0], "fd", "fd %d: /dev/ptmx: %s",
				      mf->f->fd, strerror(errno));
	return 0;
}

/* ---- restore (in the new process) ---- */

static void set_pair(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     int m)
{
	const struct img_tty *t = tty_of(mf);
	struct winsize ws = { t->rows, t->cols, t->xpixel, t->ypixel };
	/* any fd of the master may be the one opened: the bytes are in one */
	const struct m_fd *pm = img_pending(&ctx->img, t->index);
	const struct img_tty *pt = pm ? tty_of(pm) : NULL;
	struct termios tio, quiet;
	int s, one = 1;

	img_to_termios(&tio, t);
	if (ioctl(m, TIOCSWINSZ, &ws))
		rst_child_fail(ctx, idx, -errno, "fd %d: TIOCSWINSZ", mf->f->fd);
	if (pt && (pt->data_len || pt->in_len)) {
		s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s < 0 || (s = fd_above_carriers(ctx, s)) < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: TIOCGPTPEER", mf->f->fd);
		/* the bytes went through the line discipline once already */
		quiet = tio;
		quiet_termios(&quiet, false);
		if (tcsetattr(m, TCSANOW, &quiet) ||
		    write(s, pm->data, pt->data_len) != (ssize_t)pt->data_len)
			rst_child_fail(ctx, idx, errno ? -errno : -EIO, "fd %d: writing "
				       "%u bytes of pending output", mf->f->fd, pt->data_len);
		if (wait_in(m, pt->data_len))
			rst_child_fail(ctx, idx, -ETIMEDOUT, "fd %d: the pending output "
				       "does not come through", mf->f->fd);
		quiet = tio;
		quiet_termios(&quiet, true);
		if (tcsetattr(m, TCSANOW, &quiet) ||
		    write(m, pm->data + pt->data_len, pt->in_len) != (ssize_t)pt->in_len)
			rst_child_fail(ctx, idx, errno ? -errno : -EIO, "fd %d: writing "
				       "%u bytes of pending input", mf->f->fd, pt->in_len);
		if (wait_in(s, visible(&quiet, pm->data + pt->data_len, pt->in_len)))
			rst_child_fail(ctx, idx, -ETIMEDOUT, "fd %d: the pending input "
				       "does not come through", mf->f->fd);
		close(s);
	}
	if (tcsetattr(m, TCSANOW, &tio))
		rst_child_fail(ctx, idx, -errno, "fd %d: tcsetattr", mf->f->fd);
	if (t->flags & IMG_TTY_PKT && ioctl(m, TIOCPKT, &one))
		rst_child_fail(ctx, idx, -errno, "fd %d: TIOCPKT", mf->f->fd);
}

static void open_master(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			int at)
{
	int m, unlock = 0;

	m = open("/dev/ptmx", (mf->f->open_flags & FD_REOPEN_FLAGS) | O_NOCTTY |
		 O_CLOEXEC);
	if (m < 0 || (m = fd_above_carriers(ctx, m)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: opening /dev/ptmx", mf->f->fd);
	if (!(tty_of(mf)->flags & IMG_TTY_LOCKED) && ioctl(m, TIOCSPTLCK, &unlock))
		rst_child_fail(ctx, idx, -errno, "fd %d: unlockpt", mf->f->fd);
	set_pair(ctx, idx, mf, m);
	if (dup2(m, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(m);
}

static void open_slave(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		       int at)
{
	const struct m_fd *mm = img_master(&ctx->img, tty_of(mf)->index);
	int flags = (mf->f->open_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_NOCTTY |
		    O_CLOEXEC;
	int c, s;

	if (!mm) {
		/* a shell job's terminal: restore's own */
		s = open(ctx->shell_tty, flags);
		if (s < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: opening the terminal %s",
				       mf->f->fd, ctx->shell_tty);
	} else {
		/* its master at its carrier: opened here if nobody above did */
		c = fd_carrier(ctx, mm->f->file_id);
		if (!fd_is_open(c))
			open_master(ctx, idx, mm, c);
		s = ioctl(c, TIOCGPTPEER, flags);
		if (s < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: TIOCGPTPEER", mf->f->fd);
	}
	if ((s = fd_above_carriers(ctx, s)) < 0 || dup2(s, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(s);
}

static void tty_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     int at)
{
	if (tty_of(mf)->flags & IMG_TTY_MASTER)
		open_master(ctx, idx, mf, at);
	else
		open_slave(ctx, idx, mf, at);
}

/*
 * The session leader (setsid() done) takes its pty back as its
 * controlling terminal, through its first slave fd of it.
 */
/* the pair's session and group, which only its master could tell at snap */
static const struct img_tty *pair_of(const struct restore_ctx *ctx, const struct m_fd *mf)
{
	const struct m_fd *mm;

	if (tty_of(mf)->flags & IMG_TTY_MASTER)
		return NULL;
	mm = img_master(&ctx->img, tty_of(mf)->index);
	return mm ? tty_of(mm) : NULL;
}

static void tty_install(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	const struct img_tty *t = pair_of(ctx, mf);
	pid_t sid;

	if (!t || !t->sid || t->sid != getpid())
		return;
	if (!ioctl(mf->f->fd, TIOCGSID, &sid) && sid == getpid())
		return;		/* an earlier fd made it so */
	if (ioctl(mf->f->fd, TIOCSCTTY, 0))
		rst_child_fail(ctx, idx, -errno, "fd %d: TIOCSCTTY", mf->f->fd);
}

/*
 * Once every process exists (so its group does): the foreground group.
 * SIGTTOU cannot stop us: every signal is blocked until the end.
 */
static void tty_settle(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf)
{
	const struct img_tty *t = pair_of(ctx, mf);

	if (!t || !t->pgrp || t->sid != getpid() || tcgetpgrp(mf->f->fd) == t->pgrp)
		return;
	if (tcsetpgrp(mf->f->fd, t->pgrp))
		rst_child_fail(ctx, idx, -errno, "fd %d: tcsetpgrp %d", mf->f->fd, t->pgrp);
}

const struct fd_kind fd_tty_kind = {
	.name = "tty",
	.fill = tty_fill,
	.peek = tty_peek,
	.check = tty_check,
	.open = tty_open,
	.install = tty_install,
	.settle = tty_settle,
};

/* ---- shell jobs, in the restorer ---- */

/* the first shell-job terminal fd of the image, NULL if none */
static const struct m_fd *shell_fd(const struct ckpt_image *img)
{
	uint32_t i, j;

	for (i = 0; i < img->nr_procs; i++)
		for (j = 0; j < img->procs[i].nr_fds; j++) {
			const struct m_fd *mf = &img->procs[i].fds[j];

			if (mf->f->kind == IMG_FD_TTY && !(tty_of(mf)->flags & IMG_TTY_MASTER) &&
			    !img_master(img, tty_of(mf)->index))
				return mf;
		}
	return NULL;
}

int tty_restore_plan(struct restore_ctx *ctx)
{
	int fd;

	if (!ctx->shell_job || !shell_fd(&ctx->img))
		return 0;
	for (fd = 0; fd < 3; fd++)
		if (isatty(fd) && !ttyname_r(fd, ctx->shell_tty, sizeof(ctx->shell_tty)))
			return 0;
	pr_err("--shell-job: none of restore's stdin, stdout and stderr is a terminal "
	       "to give the job");
	return -ENOTTY;
}

int tty_restore_shell(struct restore_ctx *ctx)
{
	const struct m_fd *mf = shell_fd(&ctx->img);
	struct termios tio;
	int fd, ret = 0;

	if (!ctx->shell_job || !mf)
		return 0;
	fd = open(ctx->shell_tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	img_to_termios(&tio, tty_of(mf));
	/* the job is in our group, the terminal's foreground one: no SIGTTOU */
	if (fd < 0 || tcsetattr(fd, TCSANOW, &tio)) {
		ret = -errno;
		pr_err("--shell-job: setting the termios of %s: %s", ctx->shell_tty,
		       strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}
