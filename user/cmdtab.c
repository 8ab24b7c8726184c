// SPDX-License-Identifier: GPL-2.0
/*
 * The command line, described once (cmdtab.h).  To add an option: one
 * row in its command's *_opts[] (before the { NULL }); to add a command:
 * its opts[], one entry in cmd_descs[] and its function in main.c's
 * dispatch table.  `make` regenerates the man page and the completion;
 * tests/e2e/docs.sh then wants the option in the README's synopsis too.
 */
#include <stdio.h>
#include <string.h>
#include "cmdtab.h"

static const struct cmd_opt snap_opts[] = {
	{ "-o", "IMAGE", ARG_FILE, false,
	  "Write the image to IMAGE (default bpfckpt-PID.img in the current directory); "
	  "- writes it to standard output.", NULL },
	{ "--kill", NULL, ARG_NONE, false,
	  "Kill the tree once the image is durable, and only if restore would take it.", NULL },
	{ "--compress", "[=LEVEL]", ARG_TEXT, false,
	  "Compress the pages with zstd (level 1, or LEVEL from 1 to 19), in chunks a "
	  "lazy restore can read one by one.", NULL },
	{ "--pre", NULL, ARG_NONE, false,
	  "Pre-copy: copy memory while the tree runs on and track its writes for the "
	  "next round (snap --parent).", NULL },
	{ "--parent", "IMAGE", ARG_IMAGE, false,
	  "Store only the pages written since the pre-copy image IMAGE, which this "
	  "image then refers to.", NULL },
	{ "--dirty-max", "BYTES", ARG_TEXT, false,
	  "With --parent (not --pre): while more than BYTES were written since the "
	  "parent (default 8 MiB), run a pre-copy round first, written next to IMAGE "
	  "as IMAGE.r1, IMAGE.r2 (at most 3), so that the final freeze copies little; "
	  "0: never.", NULL },
	{ "--serve", "ADDR:PORT", ARG_TEXT, false,
	  "Keep the tree frozen and serve its image to one restore --lazy --from on "
	  "ADDR:PORT; kill the tree once every page has arrived, thaw it if the "
	  "connection breaks first.", NULL },
	{ "--file-max", "BYTES", ARG_TEXT, false,
	  "Store the content of memfds and deleted files, open or mapped privately, up to BYTES each "
	  "(default 1 MiB, at most 15 MiB).", NULL },
	{ "--shell-job", NULL, ARG_NONE, false,
	  "The tree's stdio is the user's terminal: allow it, restore puts it on restore's terminal.", NULL },
	{ "--quiet", NULL, ARG_NONE, false,
	  "Print no progress line and no summary; errors only.", NULL },
	{ "--json", NULL, ARG_NONE, false,
	  "Print the final summary as one JSON object.", NULL },
	{ NULL },
};

static const struct cmd_opt restore_opts[] = {
	{ "-d", NULL, ARG_NONE, false,
	  "Detach: return once the whole tree runs, instead of waiting for its root.", NULL },
	{ "--force", NULL, ARG_NONE, false,
	  "Restore on another kernel release, or with the restorer's keyring.", NULL },
	{ "--lazy", NULL, ARG_NONE, false,
	  "Resume at once and serve private anonymous memory on demand (userfaultfd).", NULL },
	{ "--from", "ADDR:PORT", ARG_TEXT, false,
	  "With --lazy: take the image from snap --serve at ADDR:PORT, resume at once "
	  "and pull the pages over TCP.", NULL },
	{ "--inherit-fd", "fd[N]:KEY", ARG_TEXT, true,
	  "Give the tree restore's own fd N for every file whose /proc link reads KEY "
	  "(pipe:[INO], socket:[INO], a path).", NULL },
	{ "--shell-job", NULL, ARG_NONE, false,
	  "Put a shell job on restore's own terminal, in its session, as the foreground group.", NULL },
	{ "--quiet", NULL, ARG_NONE, false,
	  "Print no progress line and no summary; errors only.", NULL },
	{ "--json", NULL, ARG_NONE, false,
	  "Print the final summary as one JSON object.", NULL },
	{ NULL },
};

static const struct cmd_opt json_opts[] = {
	{ "--json", NULL, ARG_NONE, false, "Print JSON instead of text.", NULL },
	{ NULL },
};

static const struct cmd_opt inspect_opts[] = {
	{ "--json", NULL, ARG_NONE, false, "Print JSON instead of text.", NULL },
	{ "--shell-job", NULL, ARG_NONE, false,
	  "Judge the tree as snap --shell-job would: stdio on the user's terminal is allowed.",
	  NULL },
	{ NULL },
};

static const struct cmd_opt trace_opts[] = {
	{ "--duration", "S", ARG_TEXT, false,
	  "Stop after S seconds (default: at Ctrl-C or when the tree is gone).", NULL },
	{ "-e", "EVENTS", ARG_WORDS, false,
	  "Comma-separated events to show: syscall names, classes, event kinds; !X removes X.",
	  "syscalls %file %desc %memory %process %sleep %signal %net %ipc "
	  "task fork exec exit signal fault" },
	{ "--max-rate", "N", ARG_TEXT, false,
	  "Send at most N events a second, count the rest (default 10000, 0: no limit).", NULL },
	{ "--json", NULL, ARG_NONE, false, "Print events and summary as JSON.", NULL },
	{ NULL },
};

static const struct cmd_opt top_opts[] = {
	{ "--batch", NULL, ARG_NONE, false, "Print refreshes as text, not a screen.", NULL },
	{ "-n", "N", ARG_TEXT, false, "Stop after N refreshes.", NULL },
	{ "-d", "SECONDS", ARG_TEXT, false, "Refresh every SECONDS (default 1).", NULL },
	{ "--json", NULL, ARG_NONE, false, "Print each refresh as JSON (needs --batch).", NULL },
	{ NULL },
};

static const struct cmd_opt no_opts[] = {
	{ NULL },
};

const struct cmd_opt cmd_global_opts[] = {
	{ "-v", NULL, ARG_NONE, false, "More detail: timings, what each step did.", NULL },
	{ "-vv", NULL, ARG_NONE, false, "Debug output, libbpf's and the verifier's logs.", NULL },
	{ "--help", NULL, ARG_NONE, false,
	  "The commands; after a command, that command's help (also -h).", NULL },
	{ NULL },
};

const struct cmd_desc cmd_descs[] = {
	{ "snap", "PID", ARG_PID, "checkpoint a process and all its descendants",
	  "Freeze the tree of PID with ptrace (no signal is sent), read it through "
	  "BPF iterators and write one image file, then resume the tree, or kill it "
	  "with --kill. The image is written to a temporary name and renamed once it "
	  "is complete and fsynced: a failed snap leaves the tree running and no image.\n\n"
	  "--kill never kills what restore would refuse: the image is read back and put "
	  "through restore's checks first. When stderr is a terminal and the copy takes "
	  "more than a second, a progress line shows pages done/total, MiB/s and ETA.",
	  snap_opts, "bpfckpt snap 4711 -o job.img --kill" },
	{ "restore", "IMAGE|-", ARG_IMAGE, "bring a snapped tree back, with the same pids",
	  "Check the image fully (magic, version, checksum, every length), the kernel, "
	  "every pid and backing file, then rebuild the tree with clone3 set_tid and "
	  "syscall injection. Without -d restore stays the parent of the restored root, "
	  "passes SIGINT, SIGTERM, SIGHUP and SIGQUIT on and exits with its status. "
	  "A failure after processes exist kills all of them.\n\n"
	  "When stderr is a terminal and the page copy takes more than a second, a "
	  "progress line shows pages done/total, MiB/s and ETA.",
	  restore_opts, "bpfckpt restore job.img -d" },
	{ "show", "IMAGE|-", ARG_IMAGE, "decode an image",
	  "Print every record of IMAGE: header, processes, threads, VMAs, fds, IPC "
	  "objects. The image is checked as restore checks it.",
	  json_opts, "bpfckpt show job.img --json" },
	{ "inspect", "PID", ARG_PID, "state of a live tree, and what a snap would refuse",
	  "Run the snap collectors without freezing and without memory: threads, VMAs "
	  "with resident and stored pages, fds, and a verdict naming what snap --kill "
	  "and restore would refuse, and why.",
	  inspect_opts, "bpfckpt inspect 4711" },
	{ "trace", "PID", ARG_PID, "strace-like event stream of a tree, with a summary",
	  "One line per syscall (decoded arguments, return value, latency), fork, exec, "
	  "exit, signal and page-fault event of the tree, children included, filtered in "
	  "the kernel; at the end per-syscall counts and latency percentiles. Lost and "
	  "throttled events are counted and reported.",
	  trace_opts, "bpfckpt trace 4711 --duration 5 -e %file,!close" },
	{ "top", "PID", ARG_PID, "perf-top-like live view of a tree",
	  "Per-thread CPU, syscall rate and latency, faults, context switches, RSS, VMA "
	  "and fd changes, and the tree's syscall mix, refreshed every -d seconds.",
	  top_opts, "bpfckpt top 4711 --batch -n 3 -d 2" },
	{ "check", NULL, ARG_NONE, "which kernel features and BPF programs this host has",
	  "Probe the kernel features bpfckpt uses and load every BPF program; exit "
	  "status 1 if a required one is missing.",
	  json_opts, "bpfckpt check" },
	{ "unlock", "IMAGE", ARG_IMAGE, "release the network lock a snap --kill left",
	  "Release the network lock that snap --kill put on IMAGE's TCP connections to "
	  "peers outside the tree, after a failed or abandoned restore (a restore "
	  "releases it itself). The connections' peers then see their resets.",
	  no_opts, "bpfckpt unlock redis.img" },
	{ "help", "[COMMAND]", ARG_COMMAND, "the commands, or one command's help",
	  "Print the command list, or COMMAND's synopsis, description and options "
	  "(as COMMAND --help does).",
	  no_opts, "bpfckpt help snap" },
	{ NULL },
};

const struct cmd_note cmd_exit[] = {
	{ "0", "Success (restore without -d: the restored root's exit status; "
	  "128+N if a signal N ended it)." },
	{ "1", "A runtime error, or a refusal: one line on stderr says what and why." },
	{ "2", "A usage error: unknown command or option, a missing or bad argument." },
	{ NULL },
};

const struct cmd_note cmd_env[] = {
	{ "BPFCKPT_FAULT", "For the tests: make one step fail, to exercise the cleanup "
	  "paths. Points: snap-collect, snap-write, snap-commit, restore-created, "
	  "restore-ipc, restore-mm, restore-final, pre-track (once snap --pre has armed "
	  "write tracking), snap-rounds (after snap --parent's --dirty-max rounds), vdso-differs (act as if the vdso moved), lazy-no-pull (the lazy pager serves faults only), serve-slow (snap --serve streams pages at ~6 MiB/s, answers a fault in 50 ms), refuse-PROGRAM "
	  "(the verifier refuses that BPF program), trace-no-PROGRAM (hide a tracer hook)." },
	{ "BPFCKPT_FALLBACK", "Force userspace fallbacks where BPF could do the work: "
	  "all, or a comma list of tasks, timers, sem_undo, fd_path, rseq, netlock (no network lock: "
	  "snap --kill refuses connections to peers outside the tree), wp_holes (snap "
	  "--parent scans every page of a tracked VMA in the freeze); tp_btf and tp_btf,raw_tp "
	  "make the tracer use its raw_tp or classic tracepoint variants." },
	{ "BPFCKPT_PROGRESS_AFTER_MS", "Show the progress line of snap and restore "
	  "once they have run this many milliseconds (default 1000); for the tests." },
	{ "BPFCKPT_RESTORE_COPY", "How restore copies pages: populate (default), "
	  "memcpy or inject (process_vm_writev from the restorer); for make bench." },
	{ "BPFCKPT_SNAP_COPY", "How snap writes pages into the image: bounce (default: "
	  "through a small buffer and pwrite) or map (into a shared mapping of the "
	  "image file); for make bench." },
	{ NULL },
};

const struct cmd_note cmd_examples[] = {
	{ "bpfckpt inspect 4711", "Before a snap: what it would store, and what snap "
	  "--kill or restore would refuse, and why." },
	{ "bpfckpt snap 4711 -o job.img --kill", "Checkpoint process 4711 and all its "
	  "descendants into job.img, then kill them (only if restore would take the image)." },
	{ "bpfckpt restore job.img -d", "Bring the tree back with the same pids, and "
	  "return once it runs." },
	{ "bpfckpt restore job.img -d --lazy", "The same, resuming at once; memory comes in "
	  "on demand and in the background." },
	{ "bpfckpt snap 4711 -o job.img --json --quiet", "For scripts: no progress line, "
	  "the summary as one JSON object." },
	{ "bpfckpt show job.img --json", "Decode an image, as JSON." },
	{ "bpfckpt trace 4711 --duration 5 -e %file,!close", "Five seconds of the tree's "
	  "file syscalls but close, then per-syscall counts and latencies." },
	{ "bpfckpt top 4711 --batch -n 3 -d 2", "Three refreshes of the live view, two "
	  "seconds apart, as text." },
	{ NULL },
};

const char *const cmd_unsupported[] = {
	"Sockets other than AF_UNIX, TCP and UDP (netlink, raw, SCTP) are refused at restore, "
	"as are TCP connections in states other than listening and established; "
	"queued UDP datagrams are not kept.",
	"File descriptors in flight (SCM_RIGHTS) and unix connections not yet accepted are refused.",
	"userfaultfd, io_uring, pidfd and other anonymous-inode fds, and POSIX message "
	"queues, are refused at snap, naming the fd.",
	"inotify and fanotify events queued at snap time are not saved.",
	"A process that joined a pid namespace with setns(2) and mounts of a tree's own "
	"other than a proc on /proc are refused, as is a process in a network, user, "
	"cgroup or time namespace of its own (one neither its parent nor bpfckpt is in); a tree restored "
	"from another network namespace comes back in the restorer's.",
	"hugetlb and device mappings are refused.",
	"CPU-time and alarm POSIX timers, Landlock-confined processes, and a process "
	"whose main thread exited while others run are refused at snap.",
	"restore --lazy serves private anonymous memory only; shared memory is copied eagerly.",
	"Keys are not saved (restore --force gives the restorer's keyring).",
	"x86-64 only; the restore host needs the same page size and a compatible kernel.",
	NULL,
};

const struct cmd_desc *cmd_find(const char *name)
{
	const struct cmd_desc *d;

	for (d = cmd_descs; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

const struct cmd_opt *cmd_find_opt(const struct cmd_desc *d, const char *name)
{
	const struct cmd_opt *o;

	size_t n;

	for (o = d->opts; o->name; o++) {
		n = strlen(o->name);
		if (!strcmp(o->name, name) ||
		    (cmd_opt_attached(o) && !strncmp(o->name, name, n) && name[n] == '='))
			return o;
	}
	return NULL;
}

const char *cmd_synopsis(const char *name)
{
	/* one buffer per command: a caller may hold two */
	static char bufs[16][512];
	const struct cmd_desc *d = cmd_find(name);
	const struct cmd_opt *o;
	char *b;
	size_t n;

	if (!d || d - cmd_descs >= 16)
		return name;
	b = bufs[d - cmd_descs];
	n = snprintf(b, sizeof(bufs[0]), "%s%s%s", d->name, d->operand ? " " : "",
		     d->operand ? d->operand : "");
	for (o = d->opts; o->name && n < sizeof(bufs[0]); o++)
		n += snprintf(b + n, sizeof(bufs[0]) - n, " [%s%s%s]%s", o->name,
			      cmd_opt_sep(o), o->arg ? o->arg : "",
			      o->repeat ? "..." : "");
	return b;
}

void cmd_print_usage(FILE *f)
{
	const struct cmd_desc *d;
	const struct cmd_opt *o;

	fprintf(f, "usage: bpfckpt [-v|-vv] COMMAND [ARGS]\n\n");
	for (d = cmd_descs; d->name; d++)
		fprintf(f, "  bpfckpt %s\n", cmd_synopsis(d->name));
	fprintf(f, "\ncommands:\n");
	for (d = cmd_descs; d->name; d++)
		fprintf(f, "  %-10s %s\n", d->name, d->summary);
	fprintf(f, "\noptions before the command:\n");
	for (o = cmd_global_opts; o->name; o++)
		fprintf(f, "  %-10s %s\n", o->name, o->help);
	fprintf(f, "\n'bpfckpt help COMMAND' or 'bpfckpt COMMAND --help' for one command.\n");
}

/* @text wrapped at 76 columns with @indent, paragraphs kept */
static void print_wrapped(FILE *f, const char *text, int indent)
{
	const char *p = text;
	int col = 0;

	while (*p) {
		size_t w = strcspn(p, " \n");

		if (col && col + 1 + (int)w > 76) {
			fputc('\n', f);
			col = 0;
		}
		if (!col)
			col = fprintf(f, "%*s", indent, "");
		else
			col += fprintf(f, " ");
		col += fprintf(f, "%.*s", (int)w, p);
		p += w;
		if (!strncmp(p, "\n\n", 2)) {
			fprintf(f, "\n\n");
			col = 0;
			p += 2;
		} else if (*p) {
			p++;
		}
	}
	if (col)
		fputc('\n', f);
}

void cmd_print_help(FILE *f, const struct cmd_desc *d)
{
	const struct cmd_opt *o;
	char left[64];

	fprintf(f, "usage: bpfckpt %s\n\n", cmd_synopsis(d->name));
	fprintf(f, "%s: %s.\n\n", d->name, d->summary);
	print_wrapped(f, d->text, 2);
	if (d->opts[0].name)
		fprintf(f, "\noptions:\n");
	for (o = d->opts; o->name; o++) {
		snprintf(left, sizeof(left), "%s%s%s", o->name, cmd_opt_sep(o),
			 o->arg ? o->arg : "");
		fprintf(f, "  %-18s %s\n", left, o->help);
	}
	if (d->example)
		fprintf(f, "\nexample:\n  # %s\n", d->example);
}
