// SPDX-License-Identifier: GPL-2.0
/*
 * sysloop [-t SECONDS] [-w]: calls getppid() (a real syscall every time)
 * in a loop for SECONDS (default 2) and prints
 *   sysloop: N calls in T s: R calls/s
 * With -w it prints "ready PID" and waits for a line on stdin before it
 * starts, so a tracer can attach first.  For the tracer overhead bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = 2, start, end, t;
	unsigned long n = 0, i;
	char line[64];
	int wait = 0, a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-t") && a + 1 < argc) {
			seconds = atof(argv[++a]);
		} else if (!strcmp(argv[a], "-w")) {
			wait = 1;
		} else {
			fprintf(stderr, "usage: sysloop [-t SECONDS] [-w]\n");
			return 2;
		}
	}
	if (wait) {
		printf("ready %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	start = now();
	end = start + seconds;
	do {
		/* the clock (vDSO, no syscall) only every 1024 calls */
		for (i = 0; i < 1024; i++)
			syscall(SYS_getppid);
		n += 1024;
		t = now();
	} while (t < end);
	printf("sysloop: %lu calls in %.3f s: %.0f calls/s\n", n, t - start,
	       n / (t - start));
	return 0;
}
