// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt restore IMAGE [-d] [--force]
 *
 * 1. Load and check the image, the kernel, every pid and file, before
 *    anything is created.
 * 2. Create the tree: clone3 with set_tid from here for the root, from
 *    each new process for its children (pstree.c); each installs its fds
 *    (files.c), joins its session and group, and waits.
 * 3. Seize every process and rebuild it by syscall injection: memory
 *    (mm.c), threads, signals, timers, credentials (task.c).
 * 4. Set the final registers and let everything go at once.
 * Any failure before that kills every process made so far.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"
#include "cmdtab.h"
#include "log.h"
#include "print.h"
#include "inject.h"
#include "ipc.h"
#include "ns.h"
#include "restore.h"
#include "fd/inet.h"
#include "lazy.h"
#include "pgsrv.h"
#include "locks.h"
#include "util.h"
#include "verdict.h"

#define RESTORE_USAGE	cmd_synopsis("restore")
#define STEP_TIMEOUT_MS	30000

/*
 * --inherit-fd fd[N]:KEY, as CRIU has it: our fd N (open when restore
 * starts) stands for the image's files whose /proc link reads KEY (what
 * show prints as their path: pipe:[INO], socket:[INO], /a/fifo) and that
 * were opened with N's access mode.
 */
static int parse_inherit(struct restore_ctx *ctx, const char *arg)
{
	struct inherit_fd in = { .moved = -1 };
	int fd, n = 0, fl;

	if (sscanf(arg, "fd[%d]:%n", &fd, &n) != 1 || !n || !arg[n] || fd < 0)
		return usage_error(RESTORE_USAGE, "--inherit-fd '%s': not fd[N]:KEY", arg);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0) {
		pr_err("--inherit-fd '%s': fd %d: %s", arg, fd, strerror(errno));
		return EXIT_USAGE;
	}
	in.fd = fd;
	in.acc = fl & O_ACCMODE;
	in.key = arg + n;
	if (vec_push(ctx->inh, ctx->nr_inh, ctx->cap_inh, in))
		return EXIT_RUNTIME;
	return 0;
}

static int parse_args(int argc, char **argv, struct restore_ctx *ctx)
{
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inherit-fd")) {
			if (++i == argc)
				return usage_error(RESTORE_USAGE, "--inherit-fd needs fd[N]:KEY");
			ret = parse_inherit(ctx, argv[i]);
			if (ret)
				return ret;
		} else if (!strcmp(argv[i], "-d"))
			ctx->detach = true;
		else if (!strcmp(argv[i], "--force"))
			ctx->force = true;
		else if (!strcmp(argv[i], "--shell-job"))
			ctx->shell_job = true;
		else if (!strcmp(argv[i], "--lazy"))
			ctx->lazy = true;
		else if (!strcmp(argv[i], "--from")) {
			if (++i == argc)
				return usage_error(RESTORE_USAGE, "--from needs ADDR:PORT");
			ctx->from = argv[i];
			if (!pgs_addr_ok(ctx->from))
				return usage_error(RESTORE_USAGE, "--from '%s': not ADDR:PORT",
						   ctx->from);
		}
		else if (!strcmp(argv[i], "--quiet"))
			ctx->quiet = true;
		else if (!strcmp(argv[i], "--json"))
			ctx->json = true;
		else if (argv[i][0] == '-' && argv[i][1])	/* "-": stdin */
			return usage_error(RESTORE_USAGE, "unknown option '%s'", argv[i]);
		else if (ctx->path)
			return usage_error(RESTORE_USAGE, "one IMAGE only");
		else
			ctx->path = argv[i];
	}
	if (ctx->from && ctx->path)
		return usage_error(RESTORE_USAGE, "IMAGE or --from, not both");
	if (ctx->from && !ctx->lazy)
		return usage_error(RESTORE_USAGE, "--from needs --lazy");
	if (ctx->from)
		ctx->path = ctx->from;	/* what the messages call the image */
	if (!ctx->path)
		return usage_error(RESTORE_USAGE, "which IMAGE?");
	return 0;
}

static int check_kernel(struct restore_ctx *ctx)
{
	struct utsname u;

	if (uname(&u))
		return -errno;
	if (strcmp(u.release, ctx->img.hdr->release) && !ctx->force) {
		pr_err("%s was snapped on kernel %s, this is %s (--force to try anyway)",
		       ctx->path, ctx->img.hdr->release, u.release);
		return -EINVAL;
	}
	return 0;
}

static int check_pid_free(pid_t pid)
{
	char path[64], comm[64] = "?";

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (access(path, F_OK))
		return 0;
	if (read_file(path, comm, sizeof(comm)) > 0)
		comm[strcspn(comm, "\n")] = 0;
	pr_err("pid %d is in use by '%s'", pid, comm);
	return -EEXIST;
}

/*
 * every pid and tid must be free: clone3 would fail with EEXIST later.
 * A container's are all in a pid namespace still to be made.
 */
static int check_pids(struct restore_ctx *ctx)
{
	uint32_t i, j;
	int ret;

	if (ctx->root_levels > 1)
		return 0;
	for (i = 0; i < ctx->nr_procs; i++) {
		const struct m_proc *mp = ctx->procs[i].mp;

		ret = check_pid_free(mp->p->pid[0]);
		for (j = 1; !ret && j < mp->nr_threads; j++)
			ret = check_pid_free(mp->threads[j].t->tid[0]);
		if (ret)
			return ret;
	}
	return 0;
}

static int build_procs(struct restore_ctx *ctx)
{
	uint32_t i;
	int ret;

	ctx->nr_procs = ctx->img.nr_procs;
	ctx->procs = calloc(ctx->nr_procs, sizeof(*ctx->procs));
	if (!ctx->procs)
		return -ENOMEM;
	ctx->root_levels = ns_is_container(&ctx->img) ? ctx->img.procs[0].p->nr_levels : 1;
	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];
		uint32_t n;

		rp->mp = &ctx->img.procs[i];
		/* a container's: known once it exists (create_tree) */
		rp->pid = ctx->root_levels > 1 ? 0 : rp->mp->p->pid[0];
		rp->zombie = rp->mp->p->flags & IMG_PROC_ZOMBIE;
		n = rp->mp->nr_threads ? rp->mp->nr_threads : 1;
		rp->tids = calloc(n, sizeof(*rp->tids));
		rp->tmpl = calloc(n, sizeof(*rp->tmpl));
		if (!rp->tids || !rp->tmpl)
			return -ENOMEM;
		rp->tids[0] = rp->pid;
		if (rp->mp->parent >= 0) {
			struct rst_proc *pp = &ctx->procs[rp->mp->parent];

			ret = vec_push(pp->children, pp->nr_children, pp->cap_children,
				       (int32_t)i);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int preflight(struct restore_ctx *ctx)
{
	int ret;

	if (ctx->img.chain && (ctx->img.chain->flags & IMG_CHAIN_PRE)) {
		pr_err("%s is a pre-copy image (its memory was copied while the tree ran): "
		       "restore the last image of its chain, snapped with --parent",
		       ctx->path);
		return -EINVAL;
	}
	ret = ctx->lazy ? lazy_check() : 0;
	if (!ret)
		ret = check_kernel(ctx);
	if (!ret)
		ret = build_procs(ctx);
	if (!ret)
		ret = check_pids(ctx);
	if (!ret)
		ret = files_check_inherit(ctx);
	if (!ret) {
		struct verdict v = { .force = ctx->force, .inh = ctx->inh,
				     .nr_inh = ctx->nr_inh, .shell_job = ctx->shell_job };

		ret = verdict_check_image(&ctx->img, &v);
	}
	if (!ret)
		ret = files_restore_plan(ctx);
	if (!ret)
		ret = tty_restore_plan(ctx);
	return ret;
}

static int setup(struct restore_ctx *ctx)
{
	void *stub;
	int ret;

	ctx->sh_len = sizeof(*ctx->sh) + ctx->nr_procs * sizeof(ctx->sh->slots[0]);
	ctx->sh = mmap(NULL, ctx->sh_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx->sh == MAP_FAILED) {
		ctx->sh = NULL;
		return -errno;
	}
	ret = mm_pick_stub(ctx);
	if (ret) {
		pr_err("no address is free for the injection page in every process");
		return ret;
	}
	/* every new process inherits it at this address */
	stub = mmap((void *)(uintptr_t)ctx->stub, INJ_STUB_SIZE,
		    PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (stub == MAP_FAILED)
		return -errno;
	inj_write_stub(stub);
	ret = mm_premap_plan(ctx);
	if (!ret)
		ret = mm_gone_make(ctx);
	if (ret)
		return ret;
	/* orphans of a failed restore come back to us to be reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		return -errno;
	return 0;
}

static bool interrupted(void)
{
	sigset_t set;

	sigpending(&set);
	return sigismember(&set, SIGINT) || sigismember(&set, SIGTERM) ||
	       sigismember(&set, SIGHUP);
}

/* waits until every process reached @state (zombies: RST_EXITED) */
static int wait_state(struct restore_ctx *ctx, enum rst_state state)
{
	uint64_t deadline = now_ns() + STEP_TIMEOUT_MS * 1000000ULL;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	uint32_t i, seen, ok;

	for (;;) {
		progress_update(&ctx->prog, atomic_load(&ctx->sh->pages_done));
		seen = atomic_load(&ctx->sh->done);
		for (i = 0, ok = 0; i < ctx->nr_procs; i++) {
			struct rst_slot *s = &ctx->sh->slots[i];
			uint32_t st = atomic_load(&s->state);

			if (st == RST_FAILED) {
				pr_err("pid %d: %s: %s", ctx->procs[i].pid, s->msg,
				       errstr(s->err));
				return s->err ? s->err : -EIO;
			}
			if (st == state || st == RST_EXITED)
				ok++;
		}
		if (ok == ctx->nr_procs)
			return 0;
		if (interrupted()) {
			pr_err("interrupted");
			return -EINTR;
		}
		if (now_ns() > deadline) {
			pr_err("the new processes did not get ready in %d s",
			       STEP_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		syscall(SYS_futex, &ctx->sh->done, FUTEX_WAIT, seen, &tick, NULL, 0);
	}
}

static int create_tree(struct restore_ctx *ctx)
{
	pid_t root;
	int ret;

	root = pstree_clone(ctx, 0);
	if (root < 0) {
		pr_err("pid %d: clone3: %s", ctx->img.procs[0].p->pid[0], errstr(root));
		return root;
	}
	ctx->procs[0].pid = root;
	ctx->procs[0].tids[0] = root;
	ret = wait_state(ctx, RST_CREATED);
	if (!ret)
		ret = ns_resolve_pids(ctx);
	if (!ret)
		ret = fault_at("restore-created");
	if (ret)
		return ret;
	atomic_store(&ctx->sh->phase, RST_PHASE_GROUPS);
	syscall(SYS_futex, &ctx->sh->phase, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	return wait_state(ctx, RST_READY);
}

static int seize(struct rst_proc *rp)
{
	int st;

	/*
	 * EXITKILL: should the restorer die mid-way, a half-rebuilt
	 * process must not run on from inside the stub.
	 */
	if (ptrace(PTRACE_SEIZE, rp->pid, 0, PTRACE_O_TRACECLONE |
		   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) ||
	    ptrace(PTRACE_INTERRUPT, rp->pid, 0, 0)) {
		pr_err("pid %d: seizing it: %s", rp->pid, strerror(errno));
		return -errno;
	}
	rp->seized = true;
	for (;;) {
		if (waitpid(rp->pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!WIFSTOPPED(st)) {
			pr_err("pid %d: died before it could be restored", rp->pid);
			rp->seized = false;
			return -ESRCH;
		}
		if ((st >> 16) == PTRACE_EVENT_STOP)
			break;
		/* everything is blocked: nothing else should stop it */
		ptrace(PTRACE_CONT, rp->pid, 0, 0);
	}
	return arch_get_regs(rp->pid, rp->tmpl[0]);
}

static int restore_procs(struct restore_ctx *ctx)
{
	uint32_t i;
	int ret;

	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		if (rp->zombie)
			continue;
		ret = seize(rp);
		if (!ret)
			ret = mm_restore(ctx, rp);
		if (!ret && ctx->lazy)
			ret = lazy_attach(ctx, rp);
		if (!ret)
			ret = fault_at("restore-mm");
		if (!ret)
			ret = locks_restore(ctx, rp);
		if (!ret)
			ret = ipc_restore_undo(ctx, rp);
		if (!ret)
			ret = task_restore_threads(ctx, rp);
		if (!ret)
			ret = task_restore_state(ctx, rp);
		if (ret)
			return ret;
	}
	ret = mm_gone_seal(ctx);
	if (ret)
		return ret;
	/* children first: see restore_sigactions() */
	for (i = ctx->nr_procs; i-- > 0;) {
		if (ctx->procs[i].zombie)
			continue;
		ret = task_restore_finish(ctx, &ctx->procs[i]);
		if (ret)
			return ret;
	}
	ret = fault_at("restore-final");
	if (!ret)
		ret = tty_restore_shell(ctx);
	if (!ret)
		ret = ipc_restore_finish(ctx);
	return ret ? ret : inet_restore_finish(ctx);
}

/* the point of no return: everyone runs from here */
static void release_all(struct restore_ctx *ctx)
{
	uint32_t i, j;

	for (i = 0; i < ctx->nr_procs; i++) {
		struct rst_proc *rp = &ctx->procs[i];

		if (!rp->seized)
			continue;
		/* a job-stopped one is in its group stop: it stays there */
		for (j = rp->mp->nr_threads; j-- > 0;)
			ptrace(PTRACE_DETACH, rp->tids[j], 0, 0);
		rp->seized = false;
	}
}

/* is @pid one of ours: the restorer's or a new process's child */
static bool is_ours(struct restore_ctx *ctx, pid_t pid)
{
	char path[64], buf[1024], *p;
	pid_t ppid;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "PPid:")))
		return false;
	ppid = atoi(p + 5);
	return ppid == getpid() || image_find(&ctx->img, ppid) >= 0;
}

/* a failed restore leaves no process behind */
static void kill_all(struct restore_ctx *ctx)
{
	uint64_t deadline = now_ns() + 10ULL * 1000000000ULL;
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	uint32_t i;
	int st;

	/* 0: a container's process not found yet (its init takes it along) */
	for (i = 0; i < ctx->nr_procs; i++)
		if (ctx->procs[i].pid > 0 && is_ours(ctx, ctx->procs[i].pid))
			kill(ctx->procs[i].pid, SIGKILL);
	pgc_abort(ctx->remote);
	lazy_abort(ctx);
	/* as subreaper and tracer, everything comes back to us */
	while (now_ns() < deadline) {
		pid_t p = waitpid(-1, &st, __WALL | WNOHANG);

		if (p < 0 && errno == ECHILD)
			break;
		if (p <= 0)
			nanosleep(&tick, NULL);
	}
}

static void block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, old);
}

/* foreground: forward the usual signals, exit as the root does */
static int wait_root(struct restore_ctx *ctx)
{
	pid_t root = ctx->procs[0].pid;
	siginfo_t si;
	sigset_t set;
	int st, pfd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
	if (ctx->shell_job)
		sigaddset(&set, SIGTSTP);
	/*
	 * The root's exit seen through a pidfd before it is waited for: a
	 * tracer in our own thread group (the lazy pager's close_in()) makes
	 * the kernel report the root's ptrace stops to our waitpid() too
	 * (ptrace_reparented() is false within one thread group), and one
	 * taken here is lost to the pager and read as a death (255).
	 */
	pfd = syscall(SYS_pidfd_open, root, 0);
	for (;;) {
		struct pollfd gone = { pfd, POLLIN, 0 };
		/* __WNOTHREAD: the lazy pager thread's tracees are its own */
		pid_t p = pfd >= 0 && poll(&gone, 1, 0) != 1 ? 0 :
			  waitpid(root, &st, (pfd >= 0 ? 0 : WNOHANG) | __WNOTHREAD);

		if (p == root && (WIFEXITED(st) || WIFSIGNALED(st)))
			break;
		if (p == root)
			continue;	/* a stop, without a pidfd to tell */
		if (p < 0 && errno != EINTR)
			return EXIT_RUNTIME;
		if (sigwaitinfo(&set, &si) <= 0 || si.si_signo == SIGCHLD)
			continue;
		/*
		 * A shell job shares our group: what the terminal sends (^C,
		 * ^Z) reached it too.  On ^Z we stop as well, for the shell to
		 * see the job stopped; its fg continues the whole group.
		 */
		if (ctx->shell_job && si.si_code != SI_KERNEL)
			kill(root, si.si_signo);
		if (ctx->shell_job && si.si_signo == SIGTSTP)
			raise(SIGSTOP);
		else if (!ctx->shell_job)
			kill(root, si.si_signo);
	}
	if (pfd >= 0)
		close(pfd);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/*
 * restore --lazy: the image's checksum reads its whole index, 8 bytes a
 * page (16 MiB for 8 GiB), which the tree must not wait for.  A thread
 * computes it while the tree is rebuilt; the tree runs only once it
 * matches (sum_join() before release_all()).  The thread allocates
 * nothing and holds no lock while it hashes, as the restorer clones
 * meanwhile, and it ends only when joined.
 */
struct sum_check {
	pthread_t thread;
	sem_t go;
	struct img_reader r;	/* a copy: its own err */
	int ret;
};

static void *sum_main(void *arg)
{
	struct sum_check *s = arg;

	s->ret = img_check_sum(&s->r);
	while (sem_wait(&s->go) && errno == EINTR)
		;
	return NULL;
}

static int sum_start(struct restore_ctx *ctx)
{
	struct sum_check *s;
	int ret;

	if (!ctx->img.r.sum_pending)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->r = ctx->img.r;
	if (sem_init(&s->go, 0, 0)) {
		free(s);
		return -errno;
	}
	ret = pthread_create(&s->thread, NULL, sum_main, s);
	if (ret) {
		sem_destroy(&s->go);
		free(s);
		return -ret;
	}
	ctx->sum = s;
	return 0;
}

/* the checksum's answer (0 if there was none to compute) */
static int sum_join(struct restore_ctx *ctx)
{
	struct sum_check *s = ctx->sum;
	int ret;

	if (!s)
		return 0;
	sem_post(&s->go);
	pthread_join(s->thread, NULL);
	ret = s->ret;
	if (ret)
		pr_err("%s: %s", ctx->path, s->r.err);
	sem_destroy(&s->go);
	free(s);
	ctx->sum = NULL;
	ctx->img.r.sum_pending = !!ret;
	return ret;
}

static void free_ctx(struct restore_ctx *ctx)
{
	uint32_t i;

	for (i = 0; ctx->procs && i < ctx->nr_procs; i++) {
		free(ctx->procs[i].tids);
		free(ctx->procs[i].tmpl);
		free(ctx->procs[i].children);
		free(ctx->procs[i].fids);
	}
	sum_join(ctx);
	mm_premap_free(ctx);
	mm_gone_free(ctx);
	free(ctx->procs);
	for (i = 0; i < ctx->nr_inh; i++)
		if (ctx->inh[i].moved >= 0)
			close(ctx->inh[i].moved);
	free(ctx->inh);
	free(ctx->shm);
	ipc_restore_free(ctx);
	if (ctx->sh)
		munmap(ctx->sh, ctx->sh_len);
	if (ctx->stub)
		munmap((void *)(uintptr_t)ctx->stub, INJ_STUB_SIZE);
	image_free(&ctx->img);
	pgc_close(ctx->remote);
}

/* --json: the summary's figures, one object */
static void print_json_summary(struct restore_ctx *ctx, uint32_t threads)
{
	struct printer p;

	print_init(&p, stdout, true);
	print_open_obj(&p, NULL);
	print_s64(&p, "pid", NULL, ctx->procs[0].pid);
	print_str(&p, "image", NULL, ctx->path);
	print_u64(&p, "processes", NULL, ctx->nr_procs);
	print_u64(&p, "threads", NULL, threads);
	print_u64(&p, "pages", NULL, ctx->img.nr_pages);
	print_u64(&p, "page_size", NULL, ctx->img.hdr->page_size);
	print_dbl(&p, "seconds", NULL, (ctx->t_done - ctx->t_start) / 1e9);
	print_bool(&p, "detached", NULL, ctx->detach);
	print_bool(&p, "lazy", NULL, ctx->lazy);
	if (ctx->pager) {
		print_s64(&p, "pager_pid", NULL, getpid());
		print_u64(&p, "pages_to_pull", NULL, lazy_left(ctx));
	}
	print_close_obj(&p);
	print_end(&p);
	fflush(stdout);
}

static void print_summary(struct restore_ctx *ctx)
{
	uint32_t i, threads = 0;

	for (i = 0; i < ctx->nr_procs; i++)
		threads += ctx->procs[i].mp->nr_threads;
	if (ctx->json || ctx->quiet) {
		if (ctx->json)
			print_json_summary(ctx, threads);
		return;
	}
	printf("restored pid %d: %u process%s, %u thread%s, %llu pages in %.3f s\n",
	       ctx->procs[0].pid, ctx->nr_procs, ctx->nr_procs == 1 ? "" : "es",
	       threads, threads == 1 ? "" : "s",
	       (unsigned long long)ctx->img.nr_pages,
	       (ctx->t_done - ctx->t_start) / 1e9);
	if (ctx->pager)
		printf("lazy pager pid %d: %llu pages to pull%s\n", (int)getpid(),
		       (unsigned long long)lazy_left(ctx),
		       ctx->detach ? ", in the background" : "");
	fflush(stdout);
}

/*
 * restore --lazy -d: the command returns once the tree runs, but its
 * pager goes on.  So the restore happens in a child from here on; this
 * process waits for the child's word that the tree runs (or for its
 * end) and exits with that.  The child must not take a pid of the image
 * (clone3 would then fail with EEXIST): it tries again if it did.
 */
static int detach_early(struct restore_ctx *ctx, int *report)
{
	int p[2], st, tries;
	char c;
	pid_t kid;

	for (tries = 0; tries < 8; tries++) {
		if (pipe2(p, O_CLOEXEC))
			return -errno;
		kid = fork();
		if (kid < 0)
			return -errno;
		if (kid == 0) {
			close(p[0]);
			if (image_find(&ctx->img, getpid()) >= 0)
				_exit(EXIT_RUNTIME + 100);
			*report = p[1];
			return 0;
		}
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);	/* the tree runs; the child pulls on */
		close(p[0]);
		while (waitpid(kid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != EXIT_RUNTIME + 100)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_RUNTIME);
	}
	return -EEXIST;
}

/* the tree runs: the waiting parent may go; stdout is not ours any more */
static void detach_done(int *report)
{
	int fd;

	if (*report < 0)
		return;
	fflush(stdout);
	if (write(*report, "1", 1) != 1)
		pr_debug("telling the waiting parent: %s", strerror(errno));
	close(*report);
	*report = -1;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

int cmd_restore(int argc, char **argv)
{
	struct restore_ctx ctx = { 0 };
	int report = -1;
	sigset_t old;
	int ret;

	ret = parse_args(argc, argv, &ctx);
	if (ret) {
		free(ctx.inh);
		return ret;
	}
	ctx.t_start = now_ns();
	ctx.t[0] = ctx.t_start;
	/* --from: the records now, the pages from the server as they come */
	if (ctx.from && pgc_open(ctx.from, &ctx.remote)) {
		free(ctx.inh);
		return EXIT_RUNTIME;
	}
	/*
	 * A lazy restore reads page data when it serves it (img.c verify()),
	 * and a local one checks the tail's checksum while it restores; one
	 * --from a server checks the records it fetched first.
	 */
	ret = image_load(ctx.remote ? pgc_path(ctx.remote) : ctx.path,
			 !ctx.lazy ? 0 : ctx.remote ? IMG_OPEN_LAZY :
			 IMG_OPEN_LAZY | IMG_OPEN_SUM_LATER, &ctx.img);
	/* compressed pages the pager does not serve are written as usual */
	if (!ret && ctx.lazy)
		ret = image_zfill(&ctx.img, lazy_vma);
	if (ret) {
		pr_err("%s: %s", ctx.path, ctx.img.r.err);
		image_free(&ctx.img);
		pgc_close(ctx.remote);
		return EXIT_RUNTIME;
	}
	ctx.t[1] = now_ns();
	/* a lazy restore copies little: its pager says how it goes (-v) */
	progress_init(&ctx.prog, "restore", ctx.img.hdr->page_size, ctx.t_start,
		      ctx.quiet || ctx.lazy);
	progress_total(&ctx.prog, ctx.img.nr_pages);
	ret = preflight(&ctx);
	if (!ret && ctx.lazy && ctx.detach && (ret = detach_early(&ctx, &report)))
		pr_err("starting the pager: %s", errstr(ret));
	/* after the fork: threads do not survive it */
	if (!ret && ctx.remote && (ret = pgc_start(ctx.remote, ctx.img.r.base)))
		pr_err("--from %s: starting the pull: %s", ctx.from, errstr(ret));
	if (ret)
		goto out;
	block_signals(&old);
	/* after detach_early(): the thread must be in the process that restores */
	ret = sum_start(&ctx);
	if (ret) {
		pr_err("checking the image: %s", errstr(ret));
		goto out;
	}
	ctx.t[2] = now_ns();
	/* namespaces and SysV objects first: the tree inherits them (ipc.c says why it fails) */
	ret = ipc_restore_ns(&ctx);
	if (!ret)
		ret = ipc_restore_objects(&ctx);
	if (ret)
		goto out;
	ret = setup(&ctx);
	if (ret) {
		pr_err("preparing: %s", errstr(ret));
		goto out;
	}
	/* pages restore writes itself must be here before it does */
	if (pgc_fetch_eager(&ctx))
		goto out;
	ctx.t[3] = now_ns();
	ret = create_tree(&ctx);
	ctx.t[4] = now_ns();
	if (!ret)
		ret = restore_procs(&ctx);
	/* every VMA and fd on them holds its own reference now */
	mm_gone_free(&ctx);
	ctx.t[5] = now_ns();
	progress_end(&ctx.prog);
	/* nothing of a corrupted image runs */
	if (!ret && sum_join(&ctx))
		ret = -EBADMSG;
	if (ret) {
		kill_all(&ctx);
		goto out;
	}
	release_all(&ctx);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	ctx.t[6] = now_ns();
	lazy_start(&ctx);
	ctx.t_done = now_ns();
	pr_info("times: load %.4f s, checks %.4f s, setup %.4f s, create %.4f s, "
		"procs %.4f s, release %.4f s, pager %.4f s",
		(ctx.t[1] - ctx.t[0]) / 1e9, (ctx.t[2] - ctx.t[1]) / 1e9,
		(ctx.t[3] - ctx.t[2]) / 1e9, (ctx.t[4] - ctx.t[3]) / 1e9,
		(ctx.t[5] - ctx.t[4]) / 1e9, (ctx.t[6] - ctx.t[5]) / 1e9,
		(ctx.t_done - ctx.t[6]) / 1e9);
	print_summary(&ctx);
	detach_done(&report);
	if (!ctx.detach)
		ret = wait_root(&ctx);
	/* the pager serves the tree until every page is in */
	if (lazy_finish(&ctx))
		ret = EXIT_RUNTIME;
	free_ctx(&ctx);
	return ret;
out:
	pgc_abort(ctx.remote);
	free_ctx(&ctx);
	return EXIT_RUNTIME;
}
