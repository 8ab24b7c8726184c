// SPDX-License-Identifier: GPL-2.0
/* bpfckpt: command line parsing and dispatch, nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmdtab.h"
#include "log.h"

static int cmd_help(int argc, char **argv);

/* what runs each command; what it takes is in cmdtab.c */
static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "snap", cmd_snap },
	{ "restore", cmd_restore },
	{ "show", cmd_show },
	{ "inspect", cmd_inspect },
	{ "trace", cmd_trace },
	{ "top", cmd_top },
	{ "check", cmd_check },
	{ "unlock", cmd_unlock },
	{ "help", cmd_help },
};

static int cmd_help(int argc, char **argv)
{
	const struct cmd_desc *d;

	if (argc == 1) {
		cmd_print_usage(stdout);
		return 0;
	}
	if (argc > 2)
		return usage_error(cmd_synopsis("help"), "one COMMAND only");
	d = cmd_find(argv[1]);
	if (!d)
		return usage_error(cmd_synopsis("help"), "unknown command '%s'", argv[1]);
	cmd_print_help(stdout, d);
	return 0;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help");
}

/*
 * Before the command runs: --help anywhere among its options prints its
 * help (1), an option it does not have is a usage error (2).  An
 * option's argument is skipped, so "-o -" or "-n -1" reach the command.
 */
static int scan_options(const struct cmd_desc *d, int argc, char **argv)
{
	const struct cmd_opt *o;
	int i;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || !argv[i][1])
			continue;	/* an operand; "-" alone too */
		if (is_help(argv[i]))
			return 1;
		o = cmd_find_opt(d, argv[i]);
		if (!o)
			return usage_error(cmd_synopsis(d->name), "unknown option '%s'", argv[i]);
		if (o->arg && !cmd_opt_attached(o))
			i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd_desc *d;
	int i = 1, ret;
	size_t c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v")) {
			log_level = LOG_INFO;
		} else if (!strcmp(argv[i], "-vv")) {
			log_level = LOG_DEBUG;
		} else if (is_help(argv[i])) {
			cmd_print_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bpfckpt: unknown option '%s'\n", argv[i]);
			cmd_print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cmd_print_usage(stderr);
		return EXIT_USAGE;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name))
			continue;
		log_cmd = commands[c].name;
		d = cmd_find(commands[c].name);
		if (d && (ret = scan_options(d, argc - i, argv + i))) {
			if (ret == 1)
				cmd_print_help(stdout, d);
			return ret == 1 ? 0 : ret;
		}
		log_setup_libbpf();
		return commands[c].fn(argc - i, argv + i);
	}
	fprintf(stderr, "bpfckpt: unknown command '%s'\n", argv[i]);
	cmd_print_usage(stderr);
	return EXIT_USAGE;
}
