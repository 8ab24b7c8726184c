// SPDX-License-Identifier: GPL-2.0
/*
 * subreaper CMD [ARG...]: becomes a child subreaper (PR_SET_CHILD_SUBREAPER,
 * which execve keeps) and execs CMD.  tests/run starts itself this way:
 * the orphans of the tests (detached restored trees, the trees of a snap
 * --kill) are then reparented to the runner's bash, which reaps any child
 * at once, where this machine's pid 1 reaps only every 2 s and every test
 * that waits for a killed tree's pids to be free waited for it.
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: subreaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		fprintf(stderr, "subreaper: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "subreaper: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
