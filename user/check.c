// SPDX-License-Identifier: GPL-2.0
/* bpfckpt check: the kernel features bpfckpt relies on, like criu check. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "netlock.h"
#include "bpfckpt/compat.h"
#include "bpfload.h"
#include "cmd.h"
#include "cmdtab.h"
#include "collect.h"
#include "features.h"
#include "lazy.h"
#include "log.h"
#include "print.h"
#include "tracer.h"
#include "util.h"

struct features features;

static bool probe_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

static bool probe_pagemap_scan(void)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.vec = (uint64_t)(uintptr_t)&r,
		.vec_len = 1,
		.category_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd;
	bool ok;

	if (page == MAP_FAILED)
		return false;
	page[0] = 1;
	arg.start = (uint64_t)(uintptr_t)page;
	arg.end = arg.start + 4096;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && ioctl(fd, PAGEMAP_SCAN, &arg) == 1;
	if (fd >= 0)
		close(fd);
	munmap(page, 4096);
	return ok;
}

/* PAGE_IS_GUARD in a category mask: EINVAL before 6.14 */
bool features_pagemap_guard(void)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.vec = (uint64_t)(uintptr_t)&r,
		.vec_len = 1,
		.category_mask = PAGE_IS_GUARD,
		.return_mask = PAGE_IS_GUARD,
	};
	int fd;

	if (features.pagemap_guard)
		return features.pagemap_guard > 0;
	arg.start = (uint64_t)(uintptr_t)&r & ~4095ULL;
	arg.end = arg.start + 4096;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	features.pagemap_guard = fd >= 0 && ioctl(fd, PAGEMAP_SCAN, &arg) >= 0 ? 1 : -1;
	if (fd >= 0)
		close(fd);
	return features.pagemap_guard > 0;
}

#define HOLE_SZ		(2u << 20)	/* a PMD's worth */

/* pages of [start, start + len) PAGEMAP_SCAN reports written, asked as precopy.c asks */
static long written_pages(int pm, char *start, size_t len)
{
	struct page_region r[16];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uint64_t)(uintptr_t)start,
		.end = (uint64_t)(uintptr_t)start + len,
		.vec = (uint64_t)(uintptr_t)r,
		.vec_len = 16,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT,
	};
	long n, i, pages = 0;

	n = ioctl(pm, PAGEMAP_SCAN, &arg);
	for (i = 0; i < n; i++)
		pages += (r[i].end - r[i].start) / 4096;
	return n < 0 || arg.walk_end != arg.end ? -1 : pages;
}

/*
 * Three PMD-sized pieces of a WP_ASYNC VMA, populated and write-protected,
 * then emptied with MADV_DONTNEED: one page of the first, all of the
 * second (its page table goes where CONFIG_PT_RECLAIM frees empty ones),
 * all of the third (a huge page where THP gives one: it leaves no page
 * table at all).  Each must read as written, or a snap --parent would
 * take a page the tree dropped for the parent's (fs/proc/task_mmu.c:
 * pagemap_page_category() for pte_none, pagemap_scan_pte_hole() for the
 * holes, 2026's "report PMD holes in uffd-wp VMAs as written").
 */
static bool probe_wp_holes(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	size_t len = 4 * HOLE_SZ;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a = m == MAP_FAILED ? NULL :
		  (char *)(((uintptr_t)m + HOLE_SZ - 1) & ~(uintptr_t)(HOLE_SZ - 1));
	int ufd = -1, pm = -1;
	bool ok = false;

	if (!a)
		return false;
	madvise(a, 2 * HOLE_SZ, MADV_NOHUGEPAGE);
	madvise(a + 2 * HOLE_SZ, HOLE_SZ, MADV_HUGEPAGE);
	memset(a, 1, 3 * HOLE_SZ);
	ufd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (ufd >= 0 && pm >= 0 && !ioctl(ufd, UFFDIO_API, &api)) {
		struct uffdio_register reg = {
			.range = { (uint64_t)(uintptr_t)a, 3 * HOLE_SZ },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct uffdio_writeprotect wp = {
			.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		ok = !ioctl(ufd, UFFDIO_REGISTER, &reg) && !ioctl(ufd, UFFDIO_WRITEPROTECT, &wp) &&
		     written_pages(pm, a, 3 * HOLE_SZ) == 0 &&
		     !madvise(a + 4096, 4096, MADV_DONTNEED) &&
		     !madvise(a + HOLE_SZ, 2 * HOLE_SZ, MADV_DONTNEED) &&
		     written_pages(pm, a, HOLE_SZ) == 1 &&
		     written_pages(pm, a + HOLE_SZ, 2 * HOLE_SZ) == 2 * HOLE_SZ / 4096;
	}
	if (pm >= 0)
		close(pm);
	if (ufd >= 0)
		close(ufd);
	munmap(m, len);
	return ok;
}

bool features_wp_holes(void)
{
	if (!features.wp_holes)
		features.wp_holes = !fallback_forced("wp_holes") && probe_wp_holes() ? 1 : -1;
	return features.wp_holes > 0;
}

static bool probe_uffd(bool *wp_async, bool *lazy)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return false;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return false;
	}
	*wp_async = api.features & UFFD_FEATURE_WP_ASYNC;
	*lazy = (api.features & LAZY_FEATURES) == LAZY_FEATURES;
	close(fd);
	return true;
}

/*
 * clone3 with set_tid of a free pid: needs CAP_CHECKPOINT_RESTORE.  The
 * pid tried must be below pid_max (else EINVAL), and may be taken
 * between the check and the call (EEXIST): then try another.
 */
static bool probe_set_tid(void)
{
	struct clone_args args = { .exit_signal = SIGCHLD };
	char buf[32];
	pid_t want, got, max = 32768;
	int st, tries;

	if (read_file("/proc/sys/kernel/pid_max", buf, sizeof(buf)) > 0)
		max = atoi(buf);
	want = getpid();
	for (tries = 0; tries < 32; tries++) {
		do {
			want = want + 97 < max ? want + 97 : 301 + tries;
		} while (kill(want, 0) == 0 || errno != ESRCH);
		args.set_tid = (uint64_t)(uintptr_t)&want;
		args.set_tid_size = 1;
		got = syscall(__NR_clone3, &args, sizeof(args));
		if (got == 0)
			_exit(0);
		if (got > 0) {
			waitpid(got, &st, 0);
			return got == want;
		}
		if (errno != EEXIST)
			return false;
	}
	return false;
}

static bool probe_sysctl(const char *path)
{
	return access(path, W_OK) == 0;
}

bool probe_timer_ids(void)
{
	int v = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0);

	return v >= 0;
}

void features_probe(void)
{
	if (features.probed)
		return;
	features.probed = true;
	features.btf = probe_btf();
	features.pagemap_scan = probe_pagemap_scan();
	features.uffd = probe_uffd(&features.uffd_wp_async, &features.uffd_lazy);
	features.set_tid = probe_set_tid();
	features.ns_last_pid = probe_sysctl("/proc/sys/kernel/ns_last_pid");
	features.ipc_next_id = probe_sysctl("/proc/sys/kernel/msg_next_id") &&
			       probe_sysctl("/proc/sys/kernel/sem_next_id") &&
			       probe_sysctl("/proc/sys/kernel/shm_next_id");
	features.map_files = access("/proc/self/map_files", R_OK) == 0;
	features.timer_ids = probe_timer_ids();
}

/* one line per BPF program: loaded, left out, refused (and what then) */
static void print_prog(struct printer *p, const struct bpf_prog_desc *d,
		       const struct bpf_prog_status *st, const char *note)
{
	const char *state = st->loaded ? "yes" : st->forced ? "off" :
			    st->err ? "NO" : "-";

	print_open_obj(p, NULL);
	print_str(p, "name", "%-20s", d->name);
	print_str(p, "state", " %-4s", state);
	print_str(p, "what", " %s", d->what);
	print_bool(p, "loaded", NULL, st->loaded);
	if (st->err) {
		print_str(p, "refused", ": %s", st->why[0] ? st->why : errstr(st->err));
		print_str(p, "instead", "; %s", d->instead ? d->instead : note);
	} else if (st->forced) {
		print_str(p, "instead", " (BPFCKPT_FALLBACK: %s)", d->instead ? d->instead :
			  "its variant below takes its place");
	} else if (!st->loaded) {
		print_str(p, "note", " (%s)", "not needed: what it replaces is loaded");
	}
	print_text(p, "\n");
	print_close_obj(p);
}

/*
 * Every program of every skeleton, each loaded as the commands load it;
 * false if one that snap or the tracer cannot do without is refused.
 */
static bool print_programs(struct printer *p)
{
	struct bpf_prog_status tst[TRACER_NR_PROGS], nst;
	struct collector c;
	bool ok = true;
	int i, q;

	collect_load(&c, LOAD_ALL);
	tracer_probe(tst);
	print_text(p, "BPF programs (snap, inspect):\n");
	print_open_arr(p, "programs");
	for (i = 0; i < NR_COLLECT_PROGS; i++) {
		q = i + collect_progs[i].alt;
		print_prog(p, &collect_progs[i], &c.st[i],
			   "snap and inspect cannot work here");
		if (!c.st[i].loaded && (SNAP_PROGS & (1u << i)) &&
		    !(collect_progs[i].alt && c.st[q].loaded))
			ok = false;
	}
	print_text(p, "BPF programs (trace, top):\n");
	for (i = 0; i < TRACER_NR_PROGS; i++) {
		q = tracer_prog_taken_by(tst, i);
		if (tst[i].skip && !tst[i].err)
			continue;
		print_prog(p, &tracer_progs[i], &tst[i], q >= 0 ?
			   "its variant below takes its place" : "trace and top cannot work here");
		if (q < 0 && !tracer_progs[i].instead)
			ok = false;
	}
	/* optional: without it snap --kill refuses peers outside the tree */
	print_text(p, "BPF programs (network lock):\n");
	netlock_probe_status(&nst);
	print_prog(p, &netlock_prog, &nst, netlock_prog.instead);
	print_close_arr(p);
	collect_close(&c);
	features.bpf_iter = c.st[PROG_TASK].loaded && c.st[PROG_VMA].loaded &&
			    (c.st[PROG_FILE].loaded || c.st[PROG_FILE_NOPATH].loaded);
	features.ringbuf = c.st[PROG_TASK].loaded;
	return ok;
}

int cmd_check(int argc, char **argv)
{
	bool wp_holes = features_wp_holes();
	const struct {
		const char *key, *what;
		bool *have;
		bool needed;
	} tab[] = {
		{ "btf", "kernel BTF (/sys/kernel/btf/vmlinux)", &features.btf, true },
		{ "bpf_iter", "BPF iterators task, task_vma, task_file", &features.bpf_iter, true },
		{ "ringbuf", "BPF ring buffer", &features.ringbuf, true },
		{ "pagemap_scan", "PAGEMAP_SCAN ioctl (6.7)", &features.pagemap_scan, true },
		{ "map_files", "/proc/PID/map_files", &features.map_files, true },
		{ "clone3_set_tid", "clone3 with set_tid", &features.set_tid, true },
		{ "ns_last_pid", "CHECKPOINT_RESTORE sysctl ns_last_pid", &features.ns_last_pid, false },
		{ "ipc_next_id", "SysV IPC {msg,sem,shm}_next_id", &features.ipc_next_id, false },
		{ "userfaultfd", "userfaultfd", &features.uffd, false },
		{ "uffd_lazy", "userfaultfd fork/remap/remove/unmap events (restore --lazy)",
		  &features.uffd_lazy, false },
		{ "uffd_wp_async", "userfaultfd WP_ASYNC", &features.uffd_wp_async, false },
		{ "timer_restore_ids", "PR_TIMER_CREATE_RESTORE_IDS", &features.timer_ids, false },
		{ "uffd_wp_holes", "PAGEMAP_SCAN: emptied WP_ASYNC pages read written "
		  "(snap --parent skips the page scan)", &wp_holes, false },
	};
	struct printer p;
	bool json = false, missing = false, progs_ok;
	size_t i;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json")))
		return usage_error(cmd_synopsis("check"), "unknown argument '%s'", argv[1]);
	json = argc == 2;
	features_probe();
	print_init(&p, stdout, json);
	print_open_obj(&p, NULL);
	progs_ok = print_programs(&p);
	print_text(&p, "kernel features:\n");
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		print_text(&p, "%-20s %-4s %s%s\n", tab[i].key,
			   *tab[i].have ? "yes" : "NO", tab[i].what,
			   tab[i].needed ? "" : " (optional)");
		print_bool(&p, tab[i].key, NULL, *tab[i].have);
		if (tab[i].needed && !*tab[i].have)
			missing = true;
	}
	missing |= !progs_ok;
	print_bool(&p, "ok", NULL, !missing);
	print_close_obj(&p);
	print_end(&p);
	if (missing && !json)
		pr_err("this host lacks features that snap, restore or trace need");
	return missing ? EXIT_RUNTIME : 0;
}
