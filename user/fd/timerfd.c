// SPDX-License-Identifier: GPL-2.0
/*
 * timerfd: clock, flags, interval, time left and the expirations not
 * read yet, from fdinfo (fs/timerfd.c).  The time left counts from the
 * restore on, as for the process's other timers; the unread expirations
 * go back with TFD_IOC_SET_TICKS (CONFIG_CHECKPOINT_RESTORE).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

/* include/uapi/linux/timerfd.h, which clashes with <sys/timerfd.h> */
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, __u64)
#endif
#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET	(1 << 1)
#endif

static int pair_ns(const char *s, uint64_t *ns)
{
	unsigned long long sec, nsec;

	if (!s || sscanf(s, " (%llu, %llu)", &sec, &nsec) != 2)
		return -EPROTO;
	*ns = sec * 1000000000ULL + nsec;
	return 0;
}

static int timerfd_fill(union fd_ext *x, uint8_t **data, uint32_t *len,
			const struct rec_file *r)
{
	struct img_timerfd *t = &x->tfd;
	const char *c, *k, *f;
	unsigned long long ticks;
	uint64_t value = 0, interval = 0;
	char buf[512];
	int ret;

	ret = fdinfo_read(r->tgid, r->fd, buf, sizeof(buf));
	if (ret)
		return ret;
	c = fdinfo_field(buf, "clockid");
	k = fdinfo_field(buf, "ticks");
	f = fdinfo_field(buf, "settime flags");
	if (!c || !k || !f || sscanf(c, "%u", &t->clockid) != 1 ||
	    sscanf(k, "%llu", &ticks) != 1 || sscanf(f, "%o", &t->settime_flags) != 1)
		return -EPROTO;
	ret = pair_ns(fdinfo_field(buf, "it_value"), &value);
	if (!ret)
		ret = pair_ns(fdinfo_field(buf, "it_interval"), &interval);
	t->value_ns = value;
	t->interval_ns = interval;
	t->ticks = ticks;
	t->h.type = IMG_TIMERFD;
	return ret;
}

static int timerfd_check(struct verdict *v, const struct ckpt_image *img,
			 const struct m_proc *mp, const struct m_fd *mf)
{
	const struct img_timerfd *t = (const void *)mf->ext;

	if (t->settime_flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		return verdict_refuse(v, -ENOTSUP, mp->p->pid[0], "fd", "fd %d: "
				      "timerfd settime flags %#o", mf->f->fd,
				      t->settime_flags);
	return 0;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ ns / 1000000000ULL, ns % 1000000000ULL };
}

static void timerfd_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
			 int at)
{
	const struct img_timerfd *t = (const void *)mf->ext;
	struct itimerspec its = { ts_of(t->interval_ns), ts_of(t->value_ns) };
	int flags = TFD_CLOEXEC | (mf->f->open_flags & O_NONBLOCK ? TFD_NONBLOCK : 0);
	int fd, how = 0;
	struct timespec now;

	fd = timerfd_create(t->clockid, flags);
	if (fd < 0 || (fd = fd_above_carriers(ctx, fd)) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: timerfd_create(%u)", mf->f->fd,
			       t->clockid);
	/*
	 * A periodic timer that fired is not queued again until its ticks
	 * are read (timerfd_read() forwards it): fdinfo says 0 left, but it
	 * still runs, the next expiry an interval away.
	 */
	if (!t->value_ns && t->interval_ns) {
		its.it_value = its.it_interval;
		how = 0;
	}
	/* fdinfo gives the time left: an absolute timer is now + that */
	if (t->value_ns && t->settime_flags & TFD_TIMER_ABSTIME &&
	    !clock_gettime(t->clockid, &now)) {
		its.it_value = ts_of(now.tv_sec * 1000000000ULL + now.tv_nsec + t->value_ns);
		how = t->settime_flags;
	}
	if ((t->value_ns || t->interval_ns) && timerfd_settime(fd, how, &its, NULL))
		rst_child_fail(ctx, idx, -errno, "fd %d: timerfd_settime", mf->f->fd);
	if (t->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &t->ticks))
		rst_child_fail(ctx, idx, -errno, "fd %d: TFD_IOC_SET_TICKS %llu",
			       mf->f->fd, (unsigned long long)t->ticks);
	if (dup2(fd, at) < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: dup2", mf->f->fd);
	close(fd);
}

const struct fd_kind fd_timerfd_kind = {
	.name = "timerfd",
	.fill = timerfd_fill,
	.check = timerfd_check,
	.open = timerfd_open,
};
