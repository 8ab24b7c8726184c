// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt snap PID [-o IMAGE] [--kill]
 *
 * Freeze the tree, collect everything into memory (BPF records, ptrace),
 * then write the image: header, per process its task, VMA, fd and page
 * records, tail.  The image only appears once it is complete; on any
 * failure the tree is resumed and nothing is left behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"
#include "cmdtab.h"
#include "fd/inet.h"
#include "img.h"
#include "ipc.h"
#include "ns.h"
#include "log.h"
#include "snap.h"
#include "model.h"
#include "pgsrv.h"
#include "precopy.h"
#include "print.h"
#include "util.h"
#include "verdict.h"

#define SNAP_USAGE	cmd_synopsis("snap")
#define KILL_TIMEOUT_MS	10000

static int parse_args(int argc, char **argv, struct snap_ctx *ctx)
{
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o")) {
			if (++i == argc)
				return usage_error(SNAP_USAGE, "-o needs a file name");
			ctx->out = argv[i];
		} else if (!strcmp(argv[i], "--kill")) {
			ctx->kill = true;
		} else if (!strcmp(argv[i], "--quiet")) {
			ctx->quiet = true;
		} else if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "--shell-job")) {
			ctx->shell_job = true;
		} else if (!strcmp(argv[i], "--serve")) {
			if (++i == argc)
				return usage_error(SNAP_USAGE, "--serve needs ADDR:PORT");
			ctx->serve = argv[i];
			if (!pgs_addr_ok(ctx->serve))
				return usage_error(SNAP_USAGE, "--serve '%s': not ADDR:PORT",
						   ctx->serve);
		} else if (!strcmp(argv[i], "--pre")) {
			ctx->pre = true;
		} else if (!strcmp(argv[i], "--parent")) {
			if (++i == argc)
				return usage_error(SNAP_USAGE, "--parent needs an image");
			ctx->parent = argv[i];
		} else if (!strcmp(argv[i], "--compress")) {
			ctx->zlevel = 1;	/* zstd's fastest: ~0.5 GB/s a core */
		} else if (!strncmp(argv[i], "--compress=", 11)) {
			char *end;

			ctx->zlevel = strtol(argv[i] + 11, &end, 10);
			if (end == argv[i] + 11 || *end || ctx->zlevel < 1 || ctx->zlevel > 19)
				return usage_error(SNAP_USAGE, "--compress=%s: a level from 1 to 19",
						   argv[i] + 11);
		} else if (!strcmp(argv[i], "--dirty-max")) {
			if (++i == argc)
				return usage_error(SNAP_USAGE, "--dirty-max needs a size in bytes");
			if (parse_u64(argv[i], UINT64_MAX, &ctx->dirty_max))
				return usage_error(SNAP_USAGE, "--dirty-max '%s': bytes", argv[i]);
		} else if (!strcmp(argv[i], "--file-max")) {
			if (++i == argc)
				return usage_error(SNAP_USAGE, "--file-max needs a size in bytes");
			if (parse_u64(argv[i], IMG_FILEDATA_MAX, &ctx->file_max))
				return usage_error(SNAP_USAGE, "--file-max '%s': bytes, at most %u",
						   argv[i], IMG_FILEDATA_MAX);
		} else if ((ret = pid_operand(SNAP_USAGE, argv[i], &ctx->root))) {
			return ret;
		}
	}
	if (!ctx->root)
		return usage_error(SNAP_USAGE, "which PID?");
	if (ctx->pre && ctx->kill)
		return usage_error(SNAP_USAGE, "--pre leaves the tree running: not with --kill");
	if (ctx->serve && (ctx->out || ctx->pre || ctx->parent || ctx->kill))
		return usage_error(SNAP_USAGE, "--serve sends the image and kills the tree "
				   "itself: not with -o, --kill, --pre or --parent");
	if (ctx->out && !strcmp(ctx->out, "-") && isatty(STDOUT_FILENO))
		return usage_error(SNAP_USAGE, "-o -: standard output is a terminal");
	return 0;
}

static int collect_all(struct snap_ctx *ctx)
{
	uint32_t i;
	int ret;

	ctx->procs = calloc(ctx->tree.nr_procs, sizeof(*ctx->procs));
	if (!ctx->procs)
		return -ENOMEM;
	ctx->nr_procs = ctx->tree.nr_procs;
	for (i = 0; i < ctx->nr_procs; i++) {
		struct snap_proc *sp = &ctx->procs[i];

		sp->ps = &ctx->tree.procs[i];
		sp->pid = sp->ps->pid;
		sp->zombie = sp->ps->zombie;
		ret = task_collect(ctx, sp);
		if (!ret)
			ret = mm_collect(ctx, sp);
		if (!ret)
			ret = files_collect(ctx, sp);
		if (ret)
			return ret;
		ctx->st.threads += sp->zombie ? 0 : sp->nr_threads;
	}
	ret = ipc_collect(ctx);
	if (!ret)
		ret = ns_collect(ctx);
	if (ret)
		return ret;
	ctx->st.collected_ns = now_ns();
	return fault_at("snap-collect");
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static int write_header(struct snap_ctx *ctx)
{
	struct img_header h = {
		.h.type = IMG_HEADER,
		.magic = IMG_MAGIC,
		.version = IMG_VERSION,
		.arch = IMG_ARCH_X86_64,
		.page_size = getpagesize(),
		.task_comm_len = BCK_COMM_LEN,
		.nsig = BCK_NSIG,
		.nr_rlimits = BCK_NRLIMITS,
		.auxv_words = BCK_AUXV_WORDS,
		.ns_levels = BCK_NS_LEVELS,
		.xstate_size = ctx->xstate_size,
		.nr_procs = ctx->nr_procs,
		.root_pid = ctx->root,
	};
	struct timespec ts;
	struct utsname u;

	clock_gettime(CLOCK_REALTIME, &ts);
	h.time_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	h.mono_ns = now_ns();
	if (uname(&u))
		return -errno;
	copy_str(h.sysname, sizeof(h.sysname), u.sysname);
	copy_str(h.release, sizeof(h.release), u.release);
	copy_str(h.kversion, sizeof(h.kversion), u.version);
	copy_str(h.machine, sizeof(h.machine), u.machine);
	copy_str(h.hostname, sizeof(h.hostname), u.nodename);
	/* optional: without it a restore cannot tell it is on the same boot */
	read_boot_id((char *)h.boot_id, sizeof(h.boot_id));
	return img_put(ctx->w, &h, sizeof(h), NULL, 0);
}

/*
 * How page data goes into the image: make bench measures both side by
 * side (BPFCKPT_SNAP_COPY names one); the default is the faster there.
 */
static int snap_copy_bounce(bool *bounce)
{
	const char *e = getenv("BPFCKPT_SNAP_COPY");

	*bounce = !e || !strcmp(e, "bounce");
	if (*bounce || !strcmp(e, "map"))
		return 0;
	pr_err("BPFCKPT_SNAP_COPY=%s: not one of bounce, map", e);
	return -EINVAL;
}

static int write_image(struct snap_ctx *ctx)
{
	bool bounce;
	uint32_t i;
	int ret;

	ret = snap_copy_bounce(&bounce);
	if (ret)
		return ret;
	ret = img_create(ctx->out, &ctx->w);
	if (ret) {
		pr_err("creating %s: %s", ctx->out, errstr(ret));
		return ret;
	}
	img_set_compress(ctx->w, ctx->zlevel);
	img_set_bounce(ctx->w, bounce);
	ret = write_header(ctx);
	if (!ret && ctx->ps)
		ret = pre_write_chain(ctx);
	if (!ret)
		ret = ipc_write(ctx);
	for (i = 0; !ret && i < ctx->nr_procs; i++) {
		struct snap_proc *sp = &ctx->procs[i];

		ret = task_write(ctx, sp);
		if (!ret)
			ret = ns_write(ctx, sp);
		if (!ret)
			ret = mm_write(ctx, sp);
		if (!ret)
			ret = files_write(ctx, sp);
		if (!ret)
			ret = ipc_write_proc(ctx, sp);
		if (!ret && (ret = fault_at("snap-write")))
			ctx->reported = true;	/* fault_at said it */
	}
	if (ret && !ctx->reported)
		pr_err("writing %s: %s", ctx->out, errstr(ret));
	return ret;
}

/* tail, fsync, rename: the image exists once this returns 0 */
static int commit_image(struct snap_ctx *ctx)
{
	int ret;

	ctx->st.commit_start_ns = now_ns();
	ret = fault_at("snap-commit");
	if (!ret)
		ret = img_commit(ctx->w);
	ctx->st.committed_ns = now_ns();
	if (ret)
		pr_err("writing %s: %s", ctx->out, errstr(ret));
	return ret;
}

/*
 * snap --kill: the tree dies only if restore would take the image.  The
 * image just written is read back and put through restore's own checks
 * (verdict.c), all of them listed; pids are left out, the tree still
 * holds them.  On refusal the tree runs on and no image is kept.
 */
static int check_restorable(struct snap_ctx *ctx)
{
	struct verdict v = { .all = true, .live = true, .shell_job = ctx->shell_job };
	struct ckpt_image img;
	uint32_t i;
	int ret;

	ret = image_load(img_read_path(ctx->w) ?: ctx->out, IMG_OPEN_NO_CHECKSUM, &img);
	if (ret) {
		pr_err("reading back %s: %s", ctx->out, img.r.err);
		return ret;
	}
	ret = verdict_check_image(&img, &v);
	for (i = 0; i < v.n; i++)
		pr_err("pid %d: %s", v.r[i].pid, v.r[i].why);
	if (!ret && v.n) {
		pr_err("--kill refused: restore would refuse this image (%u reason%s "
		       "above); pid %d runs on and no image is kept", v.n,
		       v.n == 1 ? "" : "s", ctx->root);
		ret = -ENOTSUP;
	}
	verdict_free(&v);
	image_free(&img);
	return ret;
}

static void free_all(struct snap_ctx *ctx)
{
	uint32_t i;

	for (i = 0; i < ctx->nr_procs; i++) {
		task_free(&ctx->procs[i]);
		free(ctx->procs[i].ns_mounts);
		mm_free(&ctx->procs[i]);
		files_free(&ctx->procs[i]);
	}
	ipc_free(ctx);
	pre_free(ctx);
	free(ctx->procs);
	free(ctx->kfiles);
	free(ctx->objs.v);
	free(ctx->spans);
	free(ctx->privs.v);
	pstree_free(&ctx->tree);
	collect_close(&ctx->col);
}

static double secs(uint64_t from, uint64_t to)
{
	return (to - from) / 1e9;
}

/* --json: the summary's figures, one object */
static void print_json_summary(struct snap_ctx *ctx, FILE *f, uint64_t size)
{
	const struct snap_stats *st = &ctx->st;
	struct printer p;

	print_init(&p, f, true);
	print_open_obj(&p, NULL);
	print_s64(&p, "pid", NULL, ctx->root);
	print_str(&p, "image", NULL, ctx->out);
	print_u64(&p, "image_bytes", NULL, size);
	print_u64(&p, "processes", NULL, ctx->nr_procs);
	print_u64(&p, "threads", NULL, st->threads);
	print_u64(&p, "pages", NULL, st->pages);
	print_u64(&p, "page_size", NULL, getpagesize());
	print_dbl(&p, "seconds", NULL, secs(st->start_ns, st->end_ns));
	print_dbl(&p, "frozen_seconds", NULL, secs(st->freeze_start_ns, st->freeze_end_ns));
	print_dbl(&p, "pages_seconds", NULL, st->mem_ns / 1e9);
	print_bool(&p, "killed", NULL, ctx->kill);
	print_close_obj(&p);
	print_end(&p);
}

static void print_summary(struct snap_ctx *ctx, uint64_t size)
{
	const struct snap_stats *st = &ctx->st;
	uint64_t bytes = st->pages * getpagesize();
	/* a streamed image has stdout */
	FILE *f = strcmp(ctx->out, "-") ? stdout : stderr;

	if (ctx->json)
		print_json_summary(ctx, f, size);
	else if (!ctx->quiet)
		fprintf(f, "pid %d: %u process%s, %llu thread%s, %llu pages (%.1f MiB) -> %s "
			"(%.1f MiB) in %.3f s, frozen %.3f s\n", ctx->root, ctx->nr_procs,
			ctx->nr_procs == 1 ? "" : "es", (unsigned long long)st->threads,
			st->threads == 1 ? "" : "s", (unsigned long long)st->pages,
			bytes / 1048576.0, ctx->out, size / 1048576.0,
			secs(st->start_ns, st->end_ns),
			secs(st->freeze_start_ns, st->freeze_end_ns));
	if (ctx->rounds && !ctx->quiet && !ctx->json)
		fprintf(f, "pid %d: %u pre-copy round%s first (%s.r1%s), frozen %.3f s in all\n",
			ctx->root, ctx->rounds, ctx->rounds == 1 ? "" : "s", ctx->out,
			ctx->rounds == 1 ? "" : ctx->rounds == 2 ? ", .r2" : " to .r3",
			st->round_frozen_ns / 1e9);
	if (st->inherited && !ctx->quiet && !ctx->json)
		fprintf(f, "pid %d: %llu pages (%.1f MiB) not written since %s, left to it\n",
			ctx->root, (unsigned long long)st->inherited,
			st->inherited * getpagesize() / 1048576.0, ctx->parent);
	pr_info("times: bpf load %.4f s, freeze %.4f s, collect %.4f s, "
		"write %.4f s (pages %.4f s, %.2f GiB/s), commit %.4f s, "
		"end %.4f s", secs(st->start_ns, st->freeze_start_ns),
		secs(st->freeze_start_ns, st->frozen_ns),
		secs(st->frozen_ns, st->collected_ns),
		secs(st->collected_ns, st->commit_start_ns), st->mem_ns / 1e9,
		st->mem_ns ? bytes / (st->mem_ns / 1e9) / (1 << 30) : 0.0,
		secs(st->commit_start_ns, st->committed_ns),
		secs(st->committed_ns, st->end_ns));
	pr_info("frozen: stop %.4f s, collect %.4f s, written pages %.4f s, "
		"pages to store %.4f s, inherited split %.4f s, cow %.4f s, "
		"page copy %.4f s, other %.4f s (total %.4f s)",
		secs(st->freeze_start_ns, st->frozen_ns),
		secs(st->frozen_ns, st->collected_ns), st->written_ns / 1e9,
		ctx->pre ? 0.0 : st->find_ns / 1e9, ctx->pre ? 0.0 : st->filter_ns / 1e9,
		ctx->pre ? 0.0 : st->cow_ns / 1e9, ctx->pre ? 0.0 : st->mem_ns / 1e9,
		secs(st->collected_ns, st->freeze_end_ns) - st->written_ns / 1e9 -
		(ctx->pre ? 0 : (st->find_ns + st->filter_ns + st->cow_ns + st->mem_ns) / 1e9),
		secs(st->freeze_start_ns, st->freeze_end_ns));
}

/* one snap: freeze, collect, write, thaw (or kill); 0 or EXIT_RUNTIME */
static int snap_round(struct snap_ctx *ctx0)
{
	struct snap_ctx ctx = *ctx0;
	uint64_t size;
	uint32_t i;
	int ret;

	progress_init(&ctx.prog, "snap", getpagesize(), ctx.st.start_ns, ctx.quiet);
	if (!ctx.ready && collect_open_snap(&ctx.col))
		return EXIT_RUNTIME;
	if ((ctx.pre || ctx.parent) && pre_open(&ctx)) {
		free_all(&ctx);
		return EXIT_RUNTIME;
	}
	/* before the freeze: it makes two short-lived processes of its own */
	if (!ctx.ready)
		ctx.landlock_word = task_landlock_word(&ctx.col);
	ctx.st.freeze_start_ns = now_ns();
	ret = pstree_freeze(&ctx.col, ctx.root, &ctx.tree);
	if (ret)
		goto out;
	ctx.st.frozen_ns = now_ns();
	ret = collect_all(&ctx);
	if (!ret && ctx.ps)
		ret = pre_track(&ctx);
	/* after pre_track: where writes are tracked, only written ranges are scanned */
	for (i = 0; !ret && i < ctx.nr_procs; i++)
		ret = mm_guard_collect(&ctx, &ctx.procs[i]);
	if (!ret && ctx.pre) {
		/* writes are tracked now: the memory is copied while the tree runs */
		pstree_thaw(&ctx.tree);
		ctx.st.freeze_end_ns = now_ns();
	}
	if (!ret)
		ret = write_image(&ctx);
	progress_end(&ctx.prog);
	if (!ret && !ctx.kill) {
		/*
		 * Everything is copied into the image's page cache: the tree
		 * may run on while the image is made durable.  A failing
		 * commit still removes the image.
		 */
		inet_snap_done(&ctx, false);
		pstree_thaw(&ctx.tree);
		/* --pre thawed it before the copy: that was its freeze's end */
		if (!ctx.pre)
			ctx.st.freeze_end_ns = now_ns();
	}
	if (!ret)
		ret = commit_image(&ctx);
	if (ret) {
		img_abort(ctx.w);
		inet_snap_done(&ctx, false);
		pstree_thaw(&ctx.tree);
		goto out;
	}
	size = img_size(ctx.w);	/* committed: the tail is counted */
	if (ctx.kill && (ret = check_restorable(&ctx))) {
		if (!img_read_path(ctx.w))
			unlink(ctx.out);
		img_abort(ctx.w);
		inet_snap_done(&ctx, false);
		pstree_thaw(&ctx.tree);
		goto out;
	}
	/* --pre: a keeper holds the write tracking until the next round */
	ret = pre_keep(&ctx);
	if (ret && !img_read_path(ctx.w))
		unlink(ctx.out);
	/* a stream leaves only now: checked, and (--kill) the tree still frozen */
	if (!ret && ctx.srv && (ret = pgs_serve(ctx.srv, img_read_path(ctx.w), ctx.root,
					       ctx.quiet)))
		pr_err("pid %d is thawed and runs on", ctx.root);
	else if (!ret && !ctx.srv && img_read_path(ctx.w) &&
		 (ret = img_send(ctx.w, STDOUT_FILENO)))
		pr_err("writing the image to standard output: %s", errstr(ret));
	img_abort(ctx.w);	/* committed: only frees */
	if (ret) {
		inet_snap_done(&ctx, false);
		pstree_thaw(&ctx.tree);
		goto out;
	}
	if (ctx.kill) {
		/* killed only once the image is durable */
		ret = pstree_kill(&ctx.tree, KILL_TIMEOUT_MS);
		inet_snap_done(&ctx, !ret);
		ctx.st.freeze_end_ns = now_ns();
		/* the destination is told the source is gone */
		pgs_close(ctx.srv, !ret);
		ctx.srv = NULL;
	}
	ctx.st.end_ns = now_ns();
	if (!ret)
		print_summary(&ctx, size);
out:
	/* done above before any thaw; what is left here is an early failure */
	inet_snap_done(&ctx, false);
	pgs_close(ctx.srv, false);
	free_all(&ctx);
	ctx0->st = ctx.st;
	ctx0->kept_id = ctx.kept_id;
	return ret ? EXIT_RUNTIME : 0;
}

#define ROUNDS_MAX	3	/* pre-copy rounds --dirty-max may add */

static void drop_rounds(char **aux, int n, uint64_t kept_id)
{
	pre_drop(kept_id);
	while (n > 0) {
		unlink(aux[--n]);
		free(aux[n]);
	}
}

/*
 * snap --parent: while the tree wrote more than --dirty-max since the
 * parent, a pre-copy round (snap --pre --parent) copies that while it
 * runs, in a freeze that does not grow with memory either; the final
 * round then takes its parent from the last of them, and copies only
 * what was written since.  A failure removes the rounds' images.
 */
static int converge(struct snap_ctx *ctx, char **aux, int *n, uint64_t *kept)
{
	uint64_t dirty, ps = getpagesize();
	int ret;

	for (*n = 0; *n < ROUNDS_MAX; (*n)++) {
		struct snap_ctx r = {
			.root = ctx->root, .parent = ctx->parent, .pre = true,
			.quiet = true, .file_max = ctx->file_max, .zlevel = ctx->zlevel,
			.shell_job = ctx->shell_job,
		};

		ret = pre_dirty(ctx->parent, ctx->root, &dirty);
		if (ret)
			break;
		if (dirty * ps <= ctx->dirty_max)
			return 0;
		if (asprintf(&aux[*n], "%s.r%d", ctx->out, *n + 1) < 0) {
			aux[*n] = NULL;
			ret = -ENOMEM;
			pr_err("%s", errstr(ret));
			break;
		}
		pr_info("%llu pages written since %s: a pre-copy round first, to %s",
			(unsigned long long)dirty, ctx->parent, aux[*n]);
		r.out = aux[*n];
		r.st.start_ns = now_ns();
		ret = snap_round(&r);
		if (ret) {
			free(aux[*n]);
			break;
		}
		ctx->parent = aux[*n];
		ctx->st.round_frozen_ns += r.st.freeze_end_ns - r.st.freeze_start_ns;
		*kept = r.kept_id;
	}
	if (ret)
		drop_rounds(aux, *n, *kept);
	return ret;
}

int cmd_snap(int argc, char **argv)
{
	/* memfds and deleted files: their content, up to 1 MiB each */
	struct snap_ctx ctx = { .file_max = 1 << 20, .dirty_max = 8 << 20 };
	char def_out[64], *aux[ROUNDS_MAX];
	uint64_t kept = 0;
	int ret, n = 0;

	ctx.st.start_ns = now_ns();
	ret = parse_args(argc, argv, &ctx);
	if (ret)
		return ret;
	/*
	 * --serve: spooled in a memfd as a stream is, and the tree kept
	 * frozen as for --kill; the port is taken before anything is frozen
	 */
	if (ctx.serve) {
		ctx.out = "-";
		ctx.kill = true;
		if (pgs_listen(ctx.serve, &ctx.srv))
			return EXIT_RUNTIME;
	}
	/* a reader that goes away is an error to report, not a signal to die of */
	if (ctx.out && !strcmp(ctx.out, "-"))
		signal(SIGPIPE, SIG_IGN);
	if (!ctx.out) {
		snprintf(def_out, sizeof(def_out), "bpfckpt-%d.img", ctx.root);
		ctx.out = def_out;
	}
	/*
	 * The rounds' images go next to the final one: not with a stream.
	 * What the final round needs that takes time (BPF loaded: 0.2 s) is
	 * ready before them: the tree writes on between the last round's
	 * freeze and the final one, and that much the final freeze copies.
	 */
	if (ctx.parent && !ctx.pre && ctx.dirty_max && strcmp(ctx.out, "-")) {
		if (collect_open_snap(&ctx.col))
			return EXIT_RUNTIME;
		ctx.landlock_word = task_landlock_word(&ctx.col);
		ctx.ready = true;
		if (converge(&ctx, aux, &n, &kept)) {
			collect_close(&ctx.col);
			return EXIT_RUNTIME;
		}
	}
	ctx.rounds = n;
	ret = n ? fault_at("snap-rounds") : 0;
	if (!ret)
		ret = snap_round(&ctx);
	if (ret) {
		/* the final round took the last keeper over, or it still runs */
		drop_rounds(aux, n, kept);
		return EXIT_RUNTIME;
	}
	while (n > 0)
		free(aux[--n]);
	return 0;
}
