// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy (snap --pre, snap --parent): write tracking without
 * soft-dirty.  Each process of the tree gets a userfaultfd, made by an
 * injected userfaultfd() and taken over with pidfd_getfd (the target's
 * own fd is closed again), whose ioctls act on the target's mm wherever
 * they are called from.  Its private anonymous VMAs are registered in
 * WP_ASYNC mode and write-protected: the kernel then resolves every
 * write fault by itself and clears the page's uffd-wp bit, which
 * PAGEMAP_SCAN reports as PAGE_IS_WRITTEN.  A page not written since is
 * the parent's, which the next image inherits (IMG_INHERIT) instead of
 * storing it again; VMAs that cannot be registered (private file
 * mappings, new ones) read as written throughout.
 *
 * A userfaultfd's registrations end with its last fd, so between two
 * snaps a keeper process (forked by snap --pre, outside the tree) holds
 * them and hands them over, through an abstract unix socket named after
 * the image's snap id, to the next snap --parent of that image, once:
 * a second snap against the same parent finds no keeper and is refused.
 * The keeper ends when it hands them over or when every tracked process
 * has exited.
 *
 * What a later round does frozen must not grow with memory: one walk
 * finds the written pages (and, --pre, write-protects them again:
 * PM_SCAN_WP_MATCHING); the parent's page index is made ranges before
 * the freeze; where every emptied page reads as written too
 * (features_wp_holes()), a tracked VMA's pages and guard regions are
 * taken from the parent and from the written ranges, with no walk of
 * their own.  What is left is the copy of the written pages, which
 * snap.c's --dirty-max rounds keep small.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>
#include <unistd.h>
#include "arch.h"
#include "bpfckpt/chain.h"
#include "bpfckpt/compat.h"
#include "features.h"
#include "img.h"
#include "log.h"
#include "model.h"
#include "precopy.h"
#include "snap.h"
#include "util.h"

#define KEEP_MAX	250	/* fds in one SCM_RIGHTS message (SCM_MAX_FD 253) */
#define SCAN_REGIONS	1024
/*
 * Written ranges closer than this many pages are scanned as one: an
 * ioctl costs about what a walk over 200 pages does (2 us, 11 ns a PTE)
 */
#define SCAN_GAP	128

struct keep_proc {
	int32_t pid;
	uint32_t pad;
	uint64_t start;
};

struct keep_msg {
	uint64_t id;
	uint32_t n;
	uint32_t pad;
	struct keep_proc p[KEEP_MAX];
};

struct pre_proc {
	int ufd;		/* -1: writes not tracked */
	bool tracked_before;	/* ufd came from the parent's keeper */
	const struct m_proc *pmp;	/* the parent's process, if it inherits */
	uint64_t start;
	struct range_list written;	/* since the parent */
	struct range_list scan;		/* written, gaps under SCAN_GAP closed */
	bool *reg;			/* with pmp: VMAs our userfaultfd had registered */
};

struct pre_state {
	struct ckpt_image parent;
	bool have_parent;
	char *parent_rec;		/* the parent's path as IMG_CHAIN says it */
	uint64_t id;
	struct keep_msg got;		/* from the parent's keeper */
	int got_fds[KEEP_MAX];
	struct pre_proc *procs;		/* as ctx->procs */
	uint32_t nr;
	struct range_list *par_pages;	/* as parent.procs: the pages each holds */
};

static void keep_addr(uint64_t id, struct sockaddr_un *a, socklen_t *len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* abstract: nothing in the file system to clean up */
	*len = offsetof(struct sockaddr_un, sun_path) + 1 +
	       snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "bpfckpt-pre-%016llx",
			(unsigned long long)id);
}

/* ---- before the freeze: the parent and its tracking ---- */

/*
 * The uffds the keeper of snap @id holds, with whose they are: -ESRCH if
 * no keeper answers, -EPROTO if it answers for another snap.
 */
static int take_over(uint64_t id, struct keep_msg *got, int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * KEEP_MAX)];
	struct iovec iov = { got, sizeof(*got) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct sockaddr_un a;
	struct cmsghdr *c;
	socklen_t len;
	ssize_t n;
	int s, nfds = 0;

	keep_addr(id, &a, &len);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, len)) {
		close(s);
		return -ESRCH;
	}
	n = recvmsg(s, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	close(s);
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
	}
	if (n != (ssize_t)sizeof(*got) || got->id != id || got->n > KEEP_MAX ||
	    (uint32_t)nfds != got->n) {
		while (nfds > 0)
			close(fds[--nfds]);
		got->n = 0;
		return -EPROTO;
	}
	return 0;
}

static int claim(struct pre_state *ps, const char *parent)
{
	int ret = take_over(ps->parent.chain->id, &ps->got, ps->got_fds);

	if (ret == -ESRCH)
		pr_err("--parent %s: its write tracking is gone (no keeper for snap %016llx: "
		       "a later snap took it, or the tree exited): snap --pre again",
		       parent, (unsigned long long)ps->parent.chain->id);
	else if (ret == -EPROTO)
		pr_err("--parent %s: its keeper answered for another snap", parent);
	return ret;
}

/* how IMG_CHAIN names the parent: by name if the images share a directory */
static int parent_rec(struct snap_ctx *ctx, const char *parent, char **out)
{
	char *rp = realpath(parent, NULL), *od = NULL, *slash;
	int ret = 0;

	if (!rp)
		return -errno;
	slash = strrchr(rp, '/');
	if (strcmp(ctx->out, "-")) {
		char *o = strdup(ctx->out), *s2;

		if (!o) {
			free(rp);
			return -ENOMEM;
		}
		s2 = strrchr(o, '/');
		if (s2)
			*s2 = 0;
		od = realpath(s2 ? (o[0] ? o : "/") : ".", NULL);
		free(o);
	}
	if (od && slash && (size_t)(slash - rp) == strlen(od) && !strncmp(rp, od, slash - rp))
		*out = strdup(slash + 1);
	else
		*out = strdup(rp);
	if (!*out)
		ret = -ENOMEM;
	free(od);
	free(rp);
	return ret;
}

/*
 * The parent's page index (an address a page, through its own parents)
 * as address ranges, before the freeze: the split of the final round's
 * pages then costs per range, not per page of the tree.
 */
static int parent_ranges(struct pre_state *ps)
{
	uint64_t pgsz = ps->parent.hdr->page_size;
	uint32_t i, c, k;
	int ret = 0;

	ps->par_pages = calloc(ps->parent.nr_procs ?: 1, sizeof(*ps->par_pages));
	if (!ps->par_pages)
		return -ENOMEM;
	for (i = 0; i < ps->parent.nr_procs && !ret; i++) {
		const struct m_proc *mp = &ps->parent.procs[i];

		for (c = 0; c < mp->nr_chunks && !ret; c++)
			for (k = 0; k < mp->pages[c].nr && !ret; k++) {
				uint64_t va = mp->pages[c].vaddrs[k];

				ret = mm_add_range(&ps->par_pages[i], va, va + pgsz, false);
			}
	}
	return ret;
}

int pre_open(struct snap_ctx *ctx)
{
	struct pre_state *ps;
	int ret;

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ctx->ps = ps;
	if (getrandom(&ps->id, sizeof(ps->id), 0) != sizeof(ps->id))
		return -errno;
	ps->id |= 1;	/* never 0 */
	if (!ctx->parent)
		return 0;
	/* its page index, not its data: 4 GiB hashed would take 0.5 s */
	ret = image_load(ctx->parent, IMG_OPEN_INDEX, &ps->parent);
	if (ret) {
		pr_err("--parent %s: %s", ctx->parent, ps->parent.r.err);
		return ret;
	}
	ps->have_parent = true;
	/* probed now: it maps and empties 6 MiB, not a thing to do frozen */
	features_wp_holes();
	if (!ps->parent.chain || !(ps->parent.chain->flags & IMG_CHAIN_PRE)) {
		pr_err("--parent %s: not a pre-copy image (snap --pre): it tracks no writes",
		       ctx->parent);
		return -EINVAL;
	}
	if (ps->parent.hdr->root_pid != ctx->root) {
		pr_err("--parent %s: an image of another tree (root pid %d, not %d)",
		       ctx->parent, ps->parent.hdr->root_pid, ctx->root);
		return -EINVAL;
	}
	ret = parent_ranges(ps);
	if (ret) {
		pr_err("--parent %s: %s", ctx->parent, errstr(ret));
		return ret;
	}
	ret = parent_rec(ctx, ctx->parent, &ps->parent_rec);
	if (ret) {
		pr_err("--parent %s: %s", ctx->parent, errstr(ret));
		return ret;
	}
	return claim(ps, ctx->parent);
}

/* ---- while frozen ---- */

static int start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	p = strrchr(buf, ')');
	/* field 22; the ')' ends field 2 */
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

/*
 * userfaultfd() run in @pid's stopped leader, the fd taken into ours and
 * closed there; the thread gets its registers back as lazy.c's close_in
 * leaves them (a syscall it was in restarts).
 */
static int make_uffd(pid_t pid, int *ufd)
{
	uint8_t regs[ARCH_REGS_SIZE], back[ARCH_REGS_SIZE];
	uint64_t a[6] = { O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY }, ip;
	long fd = -1, r;
	int pidfd, ret;

	/* inj_syscall_at() waits for syscall stops marked SIGTRAP | 0x80 */
	if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD))
		return -errno;
	ret = arch_get_regs(pid, regs);
	if (!ret)
		ret = inj_find_syscall_insn(pid, &ip);
	if (!ret)
		ret = inj_syscall_at(pid, regs, ip, SYS_userfaultfd, a, &fd);
	if (!ret && fd < 0)
		ret = (int)fd;
	if (!ret) {
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		*ufd = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
		if (*ufd < 0)
			ret = -errno;
		if (pidfd >= 0)
			close(pidfd);
		a[0] = fd;
		if (!inj_syscall_at(pid, regs, ip, SYS_close, a, &r) && r < 0 && !ret)
			ret = (int)r;
	}
	memcpy(back, regs, sizeof(back));
	arch_apply_restart(back, RESTART_NO_HANDLER);
	if (arch_set_regs(pid, back) && !ret)
		ret = -EIO;
	ptrace(PTRACE_SETOPTIONS, pid, 0, 0);
	return ret;
}

static int uffd_api(int ufd)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};

	return ioctl(ufd, UFFDIO_API, &api) ? -errno : 0;
}

static bool trackable_vma(const struct img_vma *v)
{
	uint32_t k = v->kind;

	return (k == IMG_VMA_ANON || k == IMG_VMA_HEAP || k == IMG_VMA_STACK) &&
	       !(v->map_flags & MAP_SHARED);
}

static bool trackable(const struct snap_vma *v)
{
	return trackable_vma(&v->v);
}

/* every private anonymous VMA registered and write-protected (but @skip's) */
static int arm(struct snap_proc *sp, int ufd, const bool *skip)
{
	uint32_t i;

	for (i = 0; i < sp->nr_vmas; i++) {
		const struct snap_vma *v = &sp->vmas[i];
		struct uffdio_register reg = {
			.range = { v->v.start, v->v.end - v->v.start },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct uffdio_writeprotect wp = {
			.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		if (!trackable(v) || (skip && skip[i]))
			continue;
		/* an already registered VMA (an earlier round) takes it again */
		if (ioctl(ufd, UFFDIO_REGISTER, &reg)) {
			/* left out, it reads as written throughout: correct, only bigger */
			pr_debug("pid %d: vma %llx-%llx: UFFDIO_REGISTER: %s", sp->pid,
				 (unsigned long long)v->v.start, (unsigned long long)v->v.end,
				 strerror(errno));
			continue;
		}
		if (ioctl(ufd, UFFDIO_WRITEPROTECT, &wp))
			return -errno;
	}
	return 0;
}

/*
 * The pages of @sp written since the parent's snap (all, where not
 * tracked).  With @rearm, the VMAs it marks (registered already) are
 * write-protected again by the same walk (PM_SCAN_WP_MATCHING), page by
 * written page: UFFDIO_WRITEPROTECT of the whole VMA would go through
 * every PTE again (22 ms a GiB here, against 0.6 ms for this walk).
 */
static int scan_written(struct snap_proc *sp, struct range_list *l, const bool *rearm)
{
	struct page_region regs[SCAN_REGIONS];
	char path[64];
	uint32_t i;
	long n, k;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", sp->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < sp->nr_vmas && !ret; i++) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = sp->vmas[i].v.start,
			.end = sp->vmas[i].v.end,
			.vec = (uint64_t)(uintptr_t)regs,
			.vec_len = SCAN_REGIONS,
			/*
			 * No other category asked, so that an emptied PTE or
			 * range reads as written too (features_wp_holes()).
			 * PAGE_IS_PRESENT comes back only to keep the walk off
			 * pagemap_scan_pmd_entry()'s fast path for exactly
			 * WRITTEN, which read the uffd-wp bit of a swapped or
			 * marker PTE where a present one has it until a 2025
			 * stable fix ("fs/proc/task_mmu: fix uffd-wp confusion
			 * in pagemap_scan_pmd_entry"): 1 ms a GiB, not 0.4.
			 */
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT,
		};

		/* only a WP_ASYNC VMA (-EPERM else): a write then clears the bit again */
		if (rearm && rearm[i])
			arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;

		while (arg.start < arg.end && !ret) {
			n = ioctl(fd, PAGEMAP_SCAN, &arg);
			if (n < 0) {
				ret = -errno;
				break;
			}
			for (k = 0; k < n && !ret; k++)
				ret = mm_add_range(l, regs[k].start, regs[k].end, false);
			if (arg.walk_end <= arg.start)
				break;
			arg.start = arg.walk_end;
		}
	}
	close(fd);
	return ret;
}

static int got_ufd(struct pre_state *ps, pid_t pid, uint64_t start)
{
	uint32_t i;
	int fd;

	for (i = 0; i < ps->got.n; i++) {
		if (ps->got.p[i].pid != pid || ps->got.p[i].start != start ||
		    ps->got_fds[i] < 0)
			continue;
		fd = ps->got_fds[i];
		ps->got_fds[i] = -1;
		return fd;
	}
	return -1;
}

/* the parent's process @pid if it is this one and was tracked there */
static const struct m_proc *parent_proc(struct pre_state *ps, pid_t pid, uint64_t start)
{
	uint32_t i;
	int k;

	if (!ps->have_parent)
		return NULL;
	for (i = 0; i < ps->parent.chain->nr_procs; i++) {
		const struct img_chain_proc *c = &ps->parent.chain_procs[i];

		if (c->pid == pid && c->start_time == start && c->tracked) {
			k = image_find(&ps->parent, pid);
			return k < 0 ? NULL : &ps->parent.procs[k];
		}
	}
	return NULL;
}

/*
 * VM_UFFD_WP on the VMAs of a tracked process is ours, not the tree's
 * (a userfaultfd of its own would be refused at snap): not recorded.
 */
static void unmark(struct snap_proc *sp)
{
	uint32_t i;

	for (i = 0; i < sp->nr_vmas; i++)
		sp->vmas[i].v.vm_flags &= ~KVM_UFFD_WP;
}

/* @in with the gaps under SCAN_GAP pages between its ranges closed, to @out */
static int close_gaps(const struct range_list *in, struct range_list *out)
{
	uint64_t gap = (uint64_t)SCAN_GAP * getpagesize();
	uint32_t i;
	int ret = 0;

	for (i = 0; i < in->n && !ret; i++) {
		struct page_range *last = out->n ? &out->r[out->n - 1] : NULL;

		if (last && in->r[i].start - last->end < gap) {
			out->pages += (in->r[i].end - last->end) / getpagesize();
			last->end = in->r[i].end;
		} else {
			ret = mm_add_range(out, in->r[i].start, in->r[i].end, false);
		}
	}
	return ret;
}

/*
 * --pre after a tracked round: which VMAs our userfaultfd has registered
 * already (VM_UFFD_WP, read before unmark()), to re-protect only their
 * written pages.  NULL: every VMA is armed whole.
 */
static int registered(const struct snap_proc *sp, bool **out)
{
	uint32_t i;

	*out = calloc(sp->nr_vmas ?: 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < sp->nr_vmas; i++)
		(*out)[i] = trackable(&sp->vmas[i]) && (sp->vmas[i].v.vm_flags & KVM_UFFD_WP);
	return 0;
}

static int track_one(struct snap_ctx *ctx, struct snap_proc *sp, struct pre_proc *pp)
{
	int ret;

	pp->ufd = got_ufd(ctx->ps, sp->pid, pp->start);
	pp->tracked_before = pp->ufd >= 0;
	if (pp->tracked_before)
		pp->pmp = parent_proc(ctx->ps, sp->pid, pp->start);
	if (pp->pmp && (ret = registered(sp, &pp->reg)))
		return ret;
	if (pp->ufd >= 0 || ctx->pre)
		unmark(sp);
	if (pp->pmp) {
		uint64_t t0 = now_ns();

		ret = scan_written(sp, &pp->written, ctx->pre ? pp->reg : NULL);
		if (!ret)
			ret = close_gaps(&pp->written, &pp->scan);
		ctx->st.written_ns += now_ns() - t0;
		if (ret) {
			pr_err("pid %d: PAGEMAP_SCAN for written pages: %s", sp->pid, errstr(ret));
			return ret;
		}
	}
	if (!ctx->pre)
		return 0;
	if (pp->ufd < 0) {
		ret = make_uffd(sp->pid, &pp->ufd);
		if (!ret)
			ret = uffd_api(pp->ufd);
		if (ret) {
			pr_err("pid %d: a userfaultfd for write tracking: %s", sp->pid,
			       errstr(ret));
			return ret;
		}
	}
	ret = arm(sp, pp->ufd, pp->reg);
	if (ret)
		pr_err("pid %d: write-protecting for tracking: %s", sp->pid, errstr(ret));
	return ret;
}

int pre_track(struct snap_ctx *ctx)
{
	struct pre_state *ps = ctx->ps;
	uint32_t i;
	int ret;

	if (ctx->pre && ctx->nr_procs > KEEP_MAX) {
		pr_err("--pre: %u processes, a keeper holds at most %d", ctx->nr_procs, KEEP_MAX);
		return -E2BIG;
	}
	ps->procs = calloc(ctx->nr_procs, sizeof(*ps->procs));
	if (!ps->procs)
		return -ENOMEM;
	ps->nr = ctx->nr_procs;
	for (i = 0; i < ps->nr; i++)
		ps->procs[i].ufd = -1;
	for (i = 0; i < ps->nr; i++) {
		struct snap_proc *sp = &ctx->procs[i];

		ret = start_time(sp->pid, &ps->procs[i].start);
		if (ret) {
			pr_err("pid %d: reading its start time: %s", sp->pid, errstr(ret));
			return ret;
		}
		if (!sp->zombie && (ret = track_one(ctx, sp, &ps->procs[i])))
			return ret;
	}
	return fault_at("pre-track");
}

/* ---- before the freeze: how much is written since a parent ---- */

/* present pages of [start, end) written since the tracking was armed there */
static int count_written(int pagemap, uint64_t start, uint64_t end, uint64_t *pages)
{
	struct page_region regs[SCAN_REGIONS];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		/* a VMA no longer tracked (-EPERM) adds nothing another round can take */
		.flags = PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)regs,
		.vec_len = SCAN_REGIONS,
		.category_mask = PAGE_IS_WRITTEN,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long n, k;

	while (arg.start < arg.end) {
		n = ioctl(pagemap, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return errno == EPERM ? 0 : -errno;
		for (k = 0; k < n; k++)
			*pages += (regs[k].end - regs[k].start) / getpagesize();
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
}

/* the tracked VMAs of @mp, if process @pid is still the one snapped */
static int proc_written(const struct m_proc *mp, const struct img_chain_proc *c,
			uint64_t *pages)
{
	char path[64];
	uint64_t start;
	uint32_t i;
	int fd, ret = 0;

	if (start_time(c->pid, &start) || start != c->start_time)
		return 0;	/* gone, or another process: the snap itself says so */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", c->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	for (i = 0; i < mp->nr_vmas && !ret; i++)
		if (trackable_vma(mp->vmas[i].v))
			ret = count_written(fd, mp->vmas[i].v->start, mp->vmas[i].v->end, pages);
	close(fd);
	return ret;
}

int pre_dirty(const char *parent, pid_t root, uint64_t *pages)
{
	struct ckpt_image img;
	uint32_t i;
	int k, ret;

	*pages = 0;
	/* its processes and VMAs only: the snap that follows checks it whole */
	ret = image_load(parent, IMG_OPEN_NO_CHECKSUM, &img);
	if (ret) {
		pr_err("--parent %s: %s", parent, img.r.err);
		return ret;
	}
	/* another tree's image: the snap refuses it, not this */
	for (i = 0; img.chain && img.hdr->root_pid == root && i < img.chain->nr_procs && !ret;
	     i++) {
		const struct img_chain_proc *c = &img.chain_procs[i];

		k = c->tracked ? image_find(&img, c->pid) : -1;
		if (k >= 0)
			ret = proc_written(&img.procs[k], c, pages);
	}
	if (ret)
		pr_err("--parent %s: counting the pages written since: %s", parent, errstr(ret));
	image_free(&img);
	return ret;
}

/* ---- writing ---- */

int pre_write_chain(struct snap_ctx *ctx)
{
	struct pre_state *ps = ctx->ps;
	struct img_chain c = {
		.h.type = IMG_CHAIN, .id = ps->id, .nr_procs = ps->nr,
		.flags = ctx->pre ? IMG_CHAIN_PRE : 0,
	};
	struct img_chain_proc *cp = calloc(ps->nr + 1, sizeof(*cp));
	struct img_part parts[2];
	uint32_t i;
	int ret;

	if (!cp)
		return -ENOMEM;
	for (i = 0; i < ps->nr; i++) {
		cp[i].pid = ctx->procs[i].pid;
		cp[i].start_time = ps->procs[i].start;
		cp[i].tracked = ps->procs[i].ufd >= 0;
	}
	if (ps->have_parent) {
		const struct img_tail *t = (const void *)(ps->parent.r.base + ps->parent.r.end);

		c.parent_id = ps->parent.chain->id;
		c.parent_sum = t->checksum;
		c.parent_len = strlen(ps->parent_rec) + 1;
	}
	parts[0] = (struct img_part){ cp, ps->nr * sizeof(*cp) };
	parts[1] = (struct img_part){ ps->parent_rec, c.parent_len };
	ret = img_put(ctx->w, &c, sizeof(c), parts, 2);
	free(cp);
	return ret;
}

/* where the parts of @r (in @wr or not, in @par or not) next change, from @va */
static uint64_t next_edge(uint64_t va, uint64_t end, const struct range_list *l, uint32_t i)
{
	if (i < l->n)
		end = MIN(end, l->r[i].start <= va ? l->r[i].end : l->r[i].start);
	return end;
}

static bool in_list(uint64_t va, const struct range_list *l, uint32_t *i)
{
	while (*i < l->n && l->r[*i].end <= va)
		(*i)++;
	return *i < l->n && l->r[*i].start <= va;
}

/*
 * @r cut where the written ranges @wr or the parent's @par begin or end:
 * what is not written and the parent holds is inherited, the rest kept.
 * The cursors *w, *p only move on: @r comes in address order.
 */
static int split_range(const struct page_range *r, const struct range_list *wr, uint32_t *w,
		       const struct range_list *par, uint32_t *p, struct range_list *keep,
		       struct range_list *inh)
{
	uint64_t va = r->start, end;
	int ret = 0;

	while (va < r->end && !ret) {
		bool written = in_list(va, wr, w), has = in_list(va, par, p);

		end = next_edge(va, next_edge(va, r->end, wr, *w), par, *p);
		if (!written && has)
			ret = mm_add_range(inh, va, end, false);
		else
			ret = mm_add_range(keep, va, end, r->force);
		va = end;
	}
	return ret;
}

/* the first range of @l that ends after @va */
static uint32_t first_after(const struct range_list *l, uint64_t va)
{
	uint32_t lo = 0, hi = l->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->r[mid].end <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool pre_knows_vma(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi)
{
	const struct pre_proc *pp = ctx->ps ? &ctx->ps->procs[sp - ctx->procs] : NULL;

	return pp && pp->pmp && pp->reg && pp->reg[vi] && features_wp_holes();
}

/*
 * A VMA our userfaultfd has kept write-protected since the parent's snap:
 * every page of it that was written, or emptied (a zapped PTE, a freed
 * page table or huge page: features_wp_holes()), reads as written, so
 * each page not written is one the parent holds, or one the tree never
 * touched.  The scan of its pages then covers only the written ranges
 * (pp->scan: with the small gaps between them, whose scan finds what
 * is there all the same): the walk over every PTE of the VMA (3 ms a
 * GiB) leaves the freeze.
 */
int pre_vma_pages(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi, int pagemap,
		  struct range_list *l)
{
	const struct pre_proc *pp = &ctx->ps->procs[sp - ctx->procs];
	const struct range_list *wr = &pp->scan;
	const struct range_list *par = &ctx->ps->par_pages[pp->pmp - ctx->ps->parent.procs];
	const struct snap_vma *v = &sp->vmas[vi];
	uint32_t w = first_after(wr, v->v.start), p = first_after(par, v->v.start);
	uint64_t va = v->v.start, end;
	int ret = 0;

	while (va < v->v.end && !ret) {
		bool written = in_list(va, wr, &w), has = in_list(va, par, &p);

		end = next_edge(va, next_edge(va, v->v.end, wr, w), par, p);
		if (written)
			ret = mm_scan_private(pagemap, v, va, end, l);
		else if (has)
			ret = mm_add_range(l, va, end, !(v->v.prot & PROT_READ));
		va = end;
	}
	return ret;
}

const struct range_list *pre_written(struct snap_ctx *ctx, struct snap_proc *sp)
{
	return &ctx->ps->procs[sp - ctx->procs].scan;
}

/* [start, end) less the written ranges, as guard regions of @sp */
static int guard_unwritten(struct snap_proc *sp, const struct range_list *wr, uint64_t start,
			   uint64_t end)
{
	uint32_t w = first_after(wr, start);
	uint64_t va = start, to;
	int ret = 0;

	while (va < end && !ret) {
		bool written = in_list(va, wr, &w);

		to = next_edge(va, end, wr, w);
		if (!written) {
			struct img_guard g = { .h.type = IMG_GUARD, .start = va, .end = to };

			ret = vec_push(sp->guards, sp->nr_guards, sp->cap_guards, g);
		}
		va = to;
	}
	return ret;
}

int pre_parent_guards(struct snap_ctx *ctx, struct snap_proc *sp, uint32_t vi)
{
	const struct pre_proc *pp = &ctx->ps->procs[sp - ctx->procs];
	const struct img_vma *v = &sp->vmas[vi].v;
	uint32_t k;
	int ret = 0;

	for (k = 0; k < pp->pmp->nr_guards && !ret; k++) {
		const struct img_guard *g = pp->pmp->guards[k];

		if (g->end > v->start && g->start < v->end)
			ret = guard_unwritten(sp, &pp->scan, MAX(g->start, v->start),
					      MIN(g->end, v->end));
	}
	return ret;
}

int pre_filter(struct snap_ctx *ctx, struct snap_proc *sp, struct range_list *l,
	       struct range_list *inh)
{
	struct pre_proc *pp = ctx->ps ? &ctx->ps->procs[sp - ctx->procs] : NULL;
	struct range_list keep = { 0 };
	const struct range_list *par;
	uint32_t r, w = 0, p = 0;
	int ret = 0;

	if (!pp || !pp->pmp)
		return 0;
	par = &ctx->ps->par_pages[pp->pmp - ctx->ps->parent.procs];
	for (r = 0; r < l->n && !ret; r++)
		ret = split_range(&l->r[r], &pp->written, &w, par, &p, &keep, inh);
	if (ret) {
		free(keep.r);
		return ret;
	}
	free(l->r);
	*l = keep;
	ctx->st.inherited += inh->pages;
	return 0;
}

int pre_write_inherit(struct snap_ctx *ctx, const struct range_list *inh)
{
	const uint32_t per = (IMG_REC_MAX - sizeof(struct img_inherit)) / sizeof(struct img_range);
	struct img_range *rs;
	uint32_t i, n, k;
	int ret = 0;

	if (!inh->n)
		return 0;
	rs = malloc(sizeof(*rs) * MIN(inh->n, per));
	if (!rs)
		return -ENOMEM;
	for (i = 0; i < inh->n && !ret; i += n) {
		struct img_inherit in = { .h.type = IMG_INHERIT };
		struct img_part part;

		n = MIN(inh->n - i, per);
		for (k = 0; k < n; k++)
			rs[k] = (struct img_range){ inh->r[i + k].start, inh->r[i + k].end };
		in.nr = n;
		part = (struct img_part){ rs, n * sizeof(*rs) };
		ret = img_put(ctx->w, &in, sizeof(in), &part, 1);
	}
	free(rs);
	return ret;
}

/* ---- after the commit: the keeper ---- */

static void keeper_main(int lfd, const struct keep_msg *msg, const int *fds, const int *pidfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * KEEP_MAX)];
	struct pollfd p[KEEP_MAX + 1];
	uint32_t i, n = msg->n, alive;

	memset(cbuf, 0, sizeof(cbuf));
	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (;;) {
		for (i = 0, alive = 0; i < n; i++) {
			p[i + 1] = (struct pollfd){ .fd = pidfds[i], .events = POLLIN };
			alive += pidfds[i] >= 0;
		}
		if (!alive)
			_exit(0);
		if (poll(p, n + 1, -1) < 0)
			continue;
		/* a pidfd reads as ready once its process has exited */
		for (i = 0; i < n; i++)
			if (p[i + 1].revents && pidfds[i] >= 0) {
				close(pidfds[i]);
				((int *)pidfds)[i] = -1;
			}
		if (p[0].revents & POLLIN) {
			struct iovec iov = { (void *)msg, sizeof(*msg) };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
					    .msg_control = cbuf,
					    .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			struct ucred cr;
			socklen_t len = sizeof(cr);
			int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (s < 0)
				continue;
			/* only a snap of the same user takes the tracking over */
			if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) ||
			    cr.uid != getuid()) {
				close(s);
				continue;
			}
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * n);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
			if (sendmsg(s, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(*msg))
				_exit(0);
			close(s);
		}
	}
}

/* keeps only @keep open (they are below KEEP_MAX * 2 + 8 entries) */
static void close_others(const int *keep, uint32_t n)
{
	int fd, max = sysconf(_SC_OPEN_MAX);
	uint32_t i;

	for (fd = 0; fd < max && fd < 65536; fd++) {
		for (i = 0; i < n && keep[i] != fd; i++)
			;
		if (i == n)
			close(fd);
	}
}

int pre_keep(struct snap_ctx *ctx)
{
	struct pre_state *ps = ctx->ps;
	struct keep_msg msg = { .id = ps ? ps->id : 0 };
	int fds[KEEP_MAX], pidfds[KEEP_MAX], keep[KEEP_MAX * 2 + 1];
	struct sockaddr_un a;
	socklen_t len;
	uint32_t i, n = 0;
	pid_t child;
	int lfd, st, ret = 0;

	if (!ctx->pre)
		return 0;
	for (i = 0; i < ps->nr; i++) {
		if (ps->procs[i].ufd < 0)
			continue;
		msg.p[n] = (struct keep_proc){ ctx->procs[i].pid, 0, ps->procs[i].start };
		fds[n] = ps->procs[i].ufd;
		pidfds[n] = syscall(SYS_pidfd_open, ctx->procs[i].pid, 0);
		if (pidfds[n] < 0)
			ret = -errno;
		n++;
	}
	msg.n = n;
	if (!n)
		return ret;	/* nothing tracked (zombies only): no keeper */
	keep_addr(ps->id, &a, &len);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, len) || listen(lfd, 4))
		ret = -errno;
	if (!ret) {
		child = fork();
		if (child < 0)
			ret = -errno;
		if (child == 0) {
			/* a grandchild, in a session of its own: nobody waits for it */
			setsid();
			signal(SIGHUP, SIG_IGN);
			signal(SIGPIPE, SIG_IGN);
			if (fork())
				_exit(0);
			for (i = 0; i < n; i++) {
				keep[i] = fds[i];
				keep[n + i] = pidfds[i];
			}
			keep[2 * n] = lfd;
			close_others(keep, 2 * n + 1);
			keeper_main(lfd, &msg, fds, pidfds);
		}
		while (child > 0 && waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
	}
	for (i = 0; i < n; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	if (lfd >= 0)
		close(lfd);
	if (ret)
		pr_err("starting the keeper of the write tracking: %s", errstr(ret));
	else
		ctx->kept_id = ps->id;
	return ret;
}

void pre_drop(uint64_t id)
{
	struct keep_msg got;
	int fds[KEEP_MAX];
	uint32_t i;

	/* taken over and closed: the tracking ends, and the keeper with it */
	if (id && !take_over(id, &got, fds))
		for (i = 0; i < got.n; i++)
			close(fds[i]);
}

void pre_free(struct snap_ctx *ctx)
{
	struct pre_state *ps = ctx->ps;
	uint32_t i;

	if (!ps)
		return;
	for (i = 0; i < ps->nr; i++) {
		if (ps->procs[i].ufd >= 0)
			close(ps->procs[i].ufd);
		free(ps->procs[i].written.r);
		free(ps->procs[i].scan.r);
		free(ps->procs[i].reg);
	}
	for (i = 0; i < ps->got.n; i++)
		if (ps->got_fds[i] >= 0)
			close(ps->got_fds[i]);
	free(ps->procs);
	for (i = 0; ps->par_pages && i < ps->parent.nr_procs; i++)
		free(ps->par_pages[i].r);
	free(ps->par_pages);
	if (ps->have_parent)
		image_free(&ps->parent);
	free(ps->parent_rec);
	free(ps);
	ctx->ps = NULL;
}
