// SPDX-License-Identifier: GPL-2.0
/* bpfckpt: command line parsing and dispatch, nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "log.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
};

static const struct command commands[] = {
	{ "snap", cmd_snap, "snap PID [-o IMAGE|-] [--kill] [--compress] [--pre] [--parent IMAGE]" },
	{ "restore", cmd_restore, "restore IMAGE|- [-d] [--force]" },
	{ "show", cmd_show, "show IMAGE [--json]" },
	{ "inspect", cmd_inspect, "inspect PID [--json]" },
	{ "trace", cmd_trace, "trace PID [--duration S] [-e EVENTS] [--json]" },
	{ "top", cmd_top, "top PID [--batch] [-n N] [-d SECONDS] [--json]" },
	{ "check", cmd_check, "check [--json]" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: bpfckpt [-v|-vv] COMMAND [ARGS]\n\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  bpfckpt %s\n", commands[i].synopsis);
}

int main(int argc, char **argv)
{
	int i = 1;
	size_t c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v")) {
			log_level = LOG_INFO;
		} else if (!strcmp(argv[i], "-vv")) {
			log_level = LOG_DEBUG;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bpfckpt: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name))
			continue;
		log_cmd = commands[c].name;
		log_setup_libbpf();
		return commands[c].fn(argc - i, argv + i);
	}
	fprintf(stderr, "bpfckpt: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
