// SPDX-License-Identifier: GPL-2.0
/*
 * selfset DIR [TICK_MS] [SECCOMP]: a process that sets on itself what a
 * restore must give back, and checks all of it every tick:
 *   - personality UNAME26 (uname() says 2.6.x) | ADDR_NO_RANDOMIZE;
 *   - the child subreaper bit;
 *   - two threads, each with its own name, CPU affinity and ioprio;
 *   - membarrier registrations: private expedited, global expedited,
 *     sync-core and rseq (each command works only when registered);
 *   - its loginuid (set once, from unset);
 *   - a cwd it removed (DIR/gone): /proc/self/cwd says "(deleted)",
 *     getcwd() fails with ENOENT, and "." keeps its mode 0750;
 *   - with SECCOMP=1, seccomp filters: the main thread and thread A make
 *     syslog() fail with ENOTTY, thread A also getcpu() with EPERM (two
 *     filters), each checked in the thread that has them.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/ioprio.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include "wl.h"

#define LOGINUID	4242
#define MB_CMDS		(MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_GLOBAL_EXPEDITED | \
			 MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE | \
			 MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)

struct thread_spec {
	const char *name;
	int cpu;		/* -1: every CPU */
	int ioprio;
	int filters;		/* 0, 1 (syslog) or 2 (syslog, getcpu) */
	pthread_t th;
	_Atomic int ready;
};

static int use_seccomp;
static unsigned tick_ms;

/* a filter: @nr returns -@err, every other syscall is allowed */
static void add_filter(int nr, int err)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(insns) / sizeof(insns[0]), insns };

	wl_check(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0,
		 "seccomp");
}

static void install_filters(int n)
{
	if (n >= 1)
		add_filter(SYS_syslog, ENOTTY);
	if (n >= 2)
		add_filter(SYS_getcpu, EPERM);
}

static void check_filters(const char *who, int n)
{
	unsigned cpu;
	long r;

	errno = 0;
	r = syscall(SYS_syslog, 10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	if (n >= 1 && (r != -1 || errno != ENOTTY))
		wl_fail("%s: syslog() gave %ld (%s), its filter says ENOTTY", who, r,
			strerror(errno));
	if (n == 0 && r < 0)
		wl_fail("%s: syslog() failed without a filter: %s", who, strerror(errno));
	errno = 0;
	r = syscall(SYS_getcpu, &cpu, NULL, NULL);
	if ((n >= 2) != (r == -1 && errno == EPERM))
		wl_fail("%s: getcpu() gave %ld (%s) with %d filters", who, r,
			strerror(errno), n);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	wl_check(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity");
}

static void check_thread(const struct thread_spec *s)
{
	char name[16];
	cpu_set_t set;
	int prio;

	wl_check(prctl(PR_GET_NAME, name) == 0, "PR_GET_NAME");
	if (strcmp(name, s->name))
		wl_fail("thread %s is now named '%s'", s->name, name);
	wl_check(sched_getaffinity(0, sizeof(set), &set) == 0, "sched_getaffinity");
	if (s->cpu >= 0 && (CPU_COUNT(&set) != 1 || !CPU_ISSET(s->cpu, &set)))
		wl_fail("thread %s: affinity is %d CPUs, not CPU %d only", s->name,
			CPU_COUNT(&set), s->cpu);
	prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	if (prio != s->ioprio)
		wl_fail("thread %s: ioprio %#x, set %#x", s->name, prio, s->ioprio);
	if (use_seccomp)
		check_filters(s->name, s->filters);
}

static void *thread_main(void *arg)
{
	struct thread_spec *s = arg;

	wl_check(prctl(PR_SET_NAME, s->name) == 0, "PR_SET_NAME");
	if (s->cpu >= 0)
		pin(s->cpu);
	wl_check(syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, s->ioprio) == 0,
		 "ioprio_set");
	if (use_seccomp)
		install_filters(s->filters);
	s->ready = 1;
	for (;;) {
		check_thread(s);
		wl_sleep_ms(tick_ms);
	}
	return NULL;
}

static void set_loginuid(void)
{
	char buf[32];
	int fd = open("/proc/self/loginuid", O_RDWR);
	ssize_t n;

	wl_check(fd >= 0, "open /proc/self/loginuid");
	n = snprintf(buf, sizeof(buf), "%u", LOGINUID);
	wl_check(write(fd, buf, n) == n, "write /proc/self/loginuid");
	close(fd);
}

static void check_process(const char *cwd)
{
	char buf[4200], want[4200];
	struct utsname u;
	struct stat st;
	ssize_t n;
	int sub = 0, fd;

	if (personality(0xffffffff) != (UNAME26 | ADDR_NO_RANDOMIZE))
		wl_fail("personality %#x", personality(0xffffffff));
	wl_check(uname(&u) == 0, "uname");
	if (strncmp(u.release, "2.6.", 4))
		wl_fail("UNAME26, but uname says %s", u.release);
	wl_check(prctl(PR_GET_CHILD_SUBREAPER, &sub) == 0, "PR_GET_CHILD_SUBREAPER");
	if (sub != 1)
		wl_fail("not a child subreaper any more");
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0))
		wl_fail("a membarrier command it registered for: %s", strerror(errno));
	fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	wl_check(fd >= 0, "open /proc/self/loginuid");
	n = read(fd, buf, 31);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	if (strtoul(buf, NULL, 10) != LOGINUID)
		wl_fail("loginuid is %s, not %u", buf, LOGINUID);
	snprintf(want, sizeof(want), "%s (deleted)", cwd);
	n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	wl_check(n > 0, "readlink /proc/self/cwd");
	buf[n] = 0;
	if (strcmp(buf, want))
		wl_fail("cwd is '%s', not '%s'", buf, want);
	if (getcwd(buf, sizeof(buf)) || errno != ENOENT)
		wl_fail("getcwd() of a deleted cwd did not fail with ENOENT");
	wl_check(stat(".", &st) == 0, "stat .");
	if ((st.st_mode & 07777) != 0750)
		wl_fail("cwd mode %o, not 750", st.st_mode & 07777);
}

int main(int argc, char **argv)
{
	static struct thread_spec threads[2] = {
		{ .name = "selfset-a", .cpu = 0, .filters = 2 },
		{ .name = "selfset-b", .cpu = -1, .filters = 0 },
	};
	struct thread_spec self = { .name = "selfset", .cpu = -1, .filters = 1 };
	char cwd[4096];
	unsigned long tick;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: selfset DIR [TICK_MS] [SECCOMP]\n");
		return 2;
	}
	tick_ms = wl_arg(argc, argv, 2, 100);
	threads[0].ioprio = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3);
	threads[1].ioprio = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0);
	self.ioprio = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6);
	use_seccomp = wl_arg(argc, argv, 3, 0);
	wl_setsid();
	/* the second CPU where there is one */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		threads[1].cpu = 1;
	wl_check(personality(UNAME26 | ADDR_NO_RANDOMIZE) >= 0, "personality");
	wl_check(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER");
	wl_check(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
		 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 &&
		 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0 &&
		 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) == 0,
		 "membarrier register");
	set_loginuid();
	snprintf(cwd, sizeof(cwd), "%s/gone", argv[1]);
	wl_check(mkdir(cwd, 0750) == 0 && chmod(cwd, 0750) == 0, "mkdir");
	wl_check(chdir(cwd) == 0 && rmdir(cwd) == 0, "chdir/rmdir");
	wl_check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS");
	for (i = 0; i < 2; i++)
		wl_check(pthread_create(&threads[i].th, NULL, thread_main, &threads[i]) == 0,
			 "pthread_create");
	for (i = 0; i < 2; i++)
		while (!threads[i].ready)
			wl_sleep_ms(1);
	wl_check(syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, self.ioprio) == 0,
		 "ioprio_set");
	if (use_seccomp)
		install_filters(self.filters);
	wl_ready();
	for (tick = 1;; tick++) {
		check_process(cwd);
		check_thread(&self);
		wl_print("tick %lu", tick);
		wl_sleep_ms(tick_ms);
	}
}
