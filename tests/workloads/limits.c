// SPDX-License-Identifier: GPL-2.0
/*
 * limits [TICK_MS]: limits, credentials and per-task settings that a
 * restore must give back exactly, whatever the test started us under
 * (prlimit, setpriv, nice, chrt, ...).  At start it raises its
 * oom_score_adj to 500, sets a timer slack of 123456 ns, makes itself
 * a child subreaper, turns transparent huge pages off and sets
 * memory-deny-write-execute (PR_SET_MDWE) and KSM merging of all its
 * memory (PR_SET_MEMORY_MERGE) where the kernel has them, forks a
 * child (which captures what it inherited of these as its own) that
 * sets PR_SET_PDEATHSIG (SIGHUP, default action) and PR_SET_DUMPABLE 0
 * and a timer slack of its own.  Both capture, and check every tick:
 *   every getrlimit(); getresuid, getresgid, getgroups; capget(); the
 *   Cap*, NoNewPrivs and Seccomp lines of /proc/self/status; securebits,
 *   keepcaps, dumpable, pdeathsig, timer slack, no_new_privs, child
 *   subreaper, THP disable, MDWE, memory merge (prctl); nice; scheduling
 *   policy; oom_score_adj.
 * The child also checks its parent.  When the parent dies the child
 * must die of SIGHUP (its death signal) without a word.
 * Lines: "pid P tick N" from both.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "wl.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE	65
#define PR_GET_MDWE	66
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define NR_RLIMITS	16
#define MAX_GROUPS	64

struct state {
	struct rlimit rl[NR_RLIMITS];
	uid_t uid[3];
	gid_t gid[3];
	int ngroups;
	gid_t groups[MAX_GROUPS];
	struct __user_cap_data_struct caps[2];
	char status[1024];	/* Cap*, NoNewPrivs, Seccomp lines */
	int securebits, keepcaps, dumpable, pdeathsig, nnp, subreaper, thp_off, mdwe;
	int merge;
	long slack;
	int nice, policy;
	char oom[16];
};

static void read_status(char *out, size_t cap)
{
	static const char *const keys[] = {
		"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
		"NoNewPrivs:", "Seccomp:",
	};
	char buf[4096], *p;
	size_t used = 0, i;
	ssize_t n;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	wl_check(fd >= 0, "open /proc/self/status");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	wl_check(n > 0, "read /proc/self/status");
	buf[n] = 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		p = strstr(buf, keys[i]);
		if (!p)
			wl_fail("/proc/self/status has no %s", keys[i]);
		used += snprintf(out + used, cap - used, "%.*s;", (int)strcspn(p, "\n"), p);
	}
}

static void read_oom(char *out, size_t cap)
{
	ssize_t n;
	int fd;

	fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	wl_check(fd >= 0, "open oom_score_adj");
	n = read(fd, out, cap - 1);
	close(fd);
	wl_check(n > 0, "read oom_score_adj");
	out[n] = 0;
}

static void capture(struct state *s)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NR_RLIMITS; i++)
		wl_check(getrlimit(i, &s->rl[i]) == 0, "getrlimit");
	wl_check(getresuid(&s->uid[0], &s->uid[1], &s->uid[2]) == 0, "getresuid");
	wl_check(getresgid(&s->gid[0], &s->gid[1], &s->gid[2]) == 0, "getresgid");
	s->ngroups = getgroups(MAX_GROUPS, s->groups);
	wl_check(s->ngroups >= 0, "getgroups");
	wl_check(syscall(SYS_capget, &h, s->caps) == 0, "capget");
	read_status(s->status, sizeof(s->status));
	s->securebits = prctl(PR_GET_SECUREBITS);
	s->keepcaps = prctl(PR_GET_KEEPCAPS);
	s->dumpable = prctl(PR_GET_DUMPABLE);
	wl_check(prctl(PR_GET_PDEATHSIG, &s->pdeathsig) == 0, "PR_GET_PDEATHSIG");
	s->nnp = prctl(PR_GET_NO_NEW_PRIVS);
	wl_check(prctl(PR_GET_CHILD_SUBREAPER, &s->subreaper) == 0, "PR_GET_CHILD_SUBREAPER");
	s->thp_off = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	s->mdwe = prctl(PR_GET_MDWE, 0, 0, 0, 0);
	s->merge = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	s->slack = prctl(PR_GET_TIMERSLACK);
	errno = 0;
	s->nice = getpriority(PRIO_PROCESS, 0);
	wl_check(errno == 0, "getpriority");
	s->policy = sched_getscheduler(0);
	read_oom(s->oom, sizeof(s->oom));
}

static void compare(const struct state *a, const struct state *b, unsigned long tick)
{
	int i;

	for (i = 0; i < NR_RLIMITS; i++)
		if (a->rl[i].rlim_cur != b->rl[i].rlim_cur ||
		    a->rl[i].rlim_max != b->rl[i].rlim_max)
			wl_fail("pid %d tick %lu: rlimit %d is %llu/%llu, was %llu/%llu",
				(int)getpid(), tick, i,
				(unsigned long long)b->rl[i].rlim_cur,
				(unsigned long long)b->rl[i].rlim_max,
				(unsigned long long)a->rl[i].rlim_cur,
				(unsigned long long)a->rl[i].rlim_max);
	if (memcmp(a->uid, b->uid, sizeof(a->uid)) || memcmp(a->gid, b->gid, sizeof(a->gid)))
		wl_fail("pid %d tick %lu: uids %u/%u/%u gids %u/%u/%u, were %u/%u/%u %u/%u/%u",
			(int)getpid(), tick, b->uid[0], b->uid[1], b->uid[2], b->gid[0],
			b->gid[1], b->gid[2], a->uid[0], a->uid[1], a->uid[2], a->gid[0],
			a->gid[1], a->gid[2]);
	if (a->ngroups != b->ngroups ||
	    memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)))
		wl_fail("pid %d tick %lu: %d supplementary groups, were %d (or they changed)",
			(int)getpid(), tick, b->ngroups, a->ngroups);
	if (memcmp(a->caps, b->caps, sizeof(a->caps)))
		wl_fail("pid %d tick %lu: capget: eff %08x%08x prm %08x%08x inh %08x%08x, "
			"were %08x%08x %08x%08x %08x%08x", (int)getpid(), tick,
			b->caps[1].effective, b->caps[0].effective, b->caps[1].permitted,
			b->caps[0].permitted, b->caps[1].inheritable, b->caps[0].inheritable,
			a->caps[1].effective, a->caps[0].effective, a->caps[1].permitted,
			a->caps[0].permitted, a->caps[1].inheritable, a->caps[0].inheritable);
	if (strcmp(a->status, b->status))
		wl_fail("pid %d tick %lu: /proc/self/status says '%s', said '%s'",
			(int)getpid(), tick, b->status, a->status);
#define SAME(f, what)							\
	if (a->f != b->f)						\
		wl_fail("pid %d tick %lu: %s is %ld, was %ld", (int)getpid(),	\
			tick, what, (long)b->f, (long)a->f)
	SAME(securebits, "securebits");
	SAME(keepcaps, "keepcaps");
	SAME(dumpable, "dumpable");
	SAME(pdeathsig, "pdeathsig");
	SAME(nnp, "no_new_privs");
	SAME(subreaper, "child subreaper");
	SAME(thp_off, "THP disable");
	SAME(mdwe, "memory-deny-write-execute (PR_GET_MDWE)");
	SAME(merge, "KSM memory merge (PR_GET_MEMORY_MERGE)");
	SAME(slack, "timer slack");
	SAME(nice, "nice");
	SAME(policy, "scheduling policy");
#undef SAME
	if (strcmp(a->oom, b->oom))
		wl_fail("pid %d tick %lu: oom_score_adj %.*s, was %.*s", (int)getpid(),
			tick, (int)strcspn(b->oom, "\n"), b->oom,
			(int)strcspn(a->oom, "\n"), a->oom);
}

static void __attribute__((noreturn)) loop(unsigned tick_ms, pid_t parent)
{
	static struct state start, now;
	unsigned long tick;

	capture(&start);
	if (!parent)
		wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (parent && getppid() != parent)
			wl_fail("pid %d: parent changed from %d to %d, and no death "
				"signal came", (int)getpid(), (int)parent, (int)getppid());
		capture(&now);
		compare(&start, &now, tick);
		wl_print("pid %d tick %lu", (int)getpid(), tick);
	}
}

int main(int argc, char **argv)
{
	unsigned tick_ms;
	pid_t parent, child;
	int fd;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	wl_check(fd >= 0 && write(fd, "500", 3) == 3, "raising oom_score_adj");
	close(fd);
	wl_check(prctl(PR_SET_TIMERSLACK, 123456UL) == 0, "PR_SET_TIMERSLACK");
	wl_check(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER");
	wl_check(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0, "PR_SET_THP_DISABLE");
	/* EINVAL: a kernel without it (before 6.3); both sides then agree */
	wl_check(prctl(PR_SET_MDWE, 1UL, 0, 0, 0) == 0 || errno == EINVAL, "PR_SET_MDWE");
	wl_check(prctl(PR_SET_MEMORY_MERGE, 1UL, 0, 0, 0) == 0 || errno == EINVAL,
		 "PR_SET_MEMORY_MERGE");
	parent = getpid();
	child = fork();
	wl_check(child >= 0, "fork");
	if (child == 0) {
		wl_check(prctl(PR_SET_PDEATHSIG, SIGHUP) == 0, "PR_SET_PDEATHSIG");
		if (getppid() != parent)
			_exit(0);
		wl_check(prctl(PR_SET_DUMPABLE, 0) == 0, "PR_SET_DUMPABLE");
		wl_check(prctl(PR_SET_TIMERSLACK, 654321UL) == 0, "PR_SET_TIMERSLACK");
		loop(tick_ms, parent);
	}
	loop(tick_ms, 0);
}
