// SPDX-License-Identifier: GPL-2.0
/*
 * filesleep FILE [INTERVAL_MS]: two threads ("filesleep" and "fs-worker")
 * each append a line to FILE (kept open as fd 3 or above) and nanosleep
 * INTERVAL_MS (default 10) in a loop.  On SIGUSR1 the main thread forks
 * a child ("fs-child") that does 20 more rounds and exits; it is reaped.
 * Prints "ready PID" once both threads run, and on SIGTERM "filesleep:
 * N writes" before exiting 0.  For trace, top and inspect tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static long interval_ms = 10;
static atomic_long writes;
static volatile sig_atomic_t want_child, stop;

static void on_usr1(int sig)
{
	(void)sig;
	want_child = 1;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void round_once(const char *line)
{
	struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };

	if (write(fd, line, strlen(line)) < 0) {
		perror("filesleep: write");
		exit(1);
	}
	atomic_fetch_add(&writes, 1);
	nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "fs-worker");
	for (;;)
		round_once("worker\n");
	return NULL;
}

static void spawn_child(void)
{
	pid_t pid = fork();
	int i;

	if (pid < 0) {
		perror("filesleep: fork");
		return;
	}
	if (pid == 0) {
		prctl(PR_SET_NAME, "fs-child");
		for (i = 0; i < 20; i++)
			round_once("child\n");
		_exit(0);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	pthread_t th;
	int st;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: filesleep FILE [INTERVAL_MS]\n");
		return 2;
	}
	if (argc == 3)
		interval_ms = atol(argv[2]);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror("filesleep: open");
		return 1;
	}
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_NAME, "filesleep");
	if (pthread_create(&th, NULL, worker, NULL)) {
		fprintf(stderr, "filesleep: pthread_create failed\n");
		return 1;
	}
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (!stop) {
		if (want_child) {
			want_child = 0;
			spawn_child();
		}
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
		round_once("main\n");
	}
	printf("filesleep: %ld writes\n", atomic_load(&writes));
	return 0;
}
