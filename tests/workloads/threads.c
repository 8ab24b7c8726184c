// SPDX-License-Identifier: GPL-2.0
/*
 * threads NTHREADS [TICK_MS]: NTHREADS workers, each incrementing its own
 * counter once per round.  The main thread opens a round per tick under
 * a mutex and wakes them with a condition variable; workers also keep a
 * private copy of their counter (on their own stack) and a round they
 * last saw, and check both against the shared state.  A worker that has
 * not caught up within STALL_TICKS of the main thread's ticks fails the
 * run: progress is measured in ticks, never in wall-clock time.
 */
#include <pthread.h>
#include <sys/syscall.h>
#include "wl.h"

#define MAX_THREADS	64
#define STALL_TICKS	50

struct shared {
	pthread_mutex_t lock;
	pthread_cond_t round_cv;
	unsigned long round;		/* opened by main, under lock */
	unsigned long count[MAX_THREADS];	/* under lock */
	pid_t tid[MAX_THREADS];
	unsigned nthreads;
};

struct worker {
	struct shared *s;
	unsigned idx;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	unsigned long mine = 0, seen = 0;

	pthread_mutex_lock(&s->lock);
	s->tid[w->idx] = syscall(SYS_gettid);
	for (;;) {
		while (s->round == seen)
			pthread_cond_wait(&s->round_cv, &s->lock);
		if (s->round < seen)
			wl_fail("thread %u: round went back from %lu to %lu",
				w->idx, seen, s->round);
		if (s->count[w->idx] != mine)
			wl_fail("thread %u: counter %lu, its own copy %lu",
				w->idx, s->count[w->idx], mine);
		seen = s->round;
		s->count[w->idx] = ++mine;
	}
	return NULL;
}

static void report(struct shared *s, unsigned long tick)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "tick %lu", tick);
	unsigned i;

	for (i = 0; i < s->nthreads && n < (int)sizeof(line) - 32; i++)
		n += snprintf(line + n, sizeof(line) - n, " t%u=%lu", i, s->count[i]);
	wl_print("%s", line);
}

/* each worker has counted one per round it saw: it may lag, not run ahead */
static void check(struct shared *s, unsigned long tick)
{
	unsigned i;

	for (i = 0; i < s->nthreads; i++) {
		if (s->count[i] > s->round)
			wl_fail("tick %lu: thread %u counted %lu in %lu rounds", tick,
				i, s->count[i], s->round);
		if (s->round - s->count[i] > STALL_TICKS)
			wl_fail("tick %lu: thread %u (tid %d) stuck at %lu for %lu ticks",
				tick, i, s->tid[i], s->count[i],
				s->round - s->count[i]);
	}
}

int main(int argc, char **argv)
{
	static struct shared s = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.round_cv = PTHREAD_COND_INITIALIZER,
	};
	static struct worker w[MAX_THREADS];
	unsigned tick_ms, i;
	unsigned long tick;
	pthread_t pt;

	if (argc < 2) {
		fprintf(stderr, "usage: threads NTHREADS [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	s.nthreads = wl_arg(argc, argv, 1, 4);
	tick_ms = wl_arg(argc, argv, 2, 100);
	if (s.nthreads > MAX_THREADS)
		wl_fail("at most %d threads", MAX_THREADS);
	for (i = 0; i < s.nthreads; i++) {
		w[i] = (struct worker){ &s, i };
		errno = pthread_create(&pt, NULL, work, &w[i]);
		wl_check(errno == 0, "pthread_create");
	}
	/* every worker is known by tid before "ready" */
	for (;;) {
		pthread_mutex_lock(&s.lock);
		for (i = 0; i < s.nthreads && s.tid[i]; i++)
			;
		pthread_mutex_unlock(&s.lock);
		if (i == s.nthreads)
			break;
		wl_sleep_ms(1);
	}
	wl_ready();
	for (tick = 1;; tick++) {
		pthread_mutex_lock(&s.lock);
		s.round++;
		pthread_cond_broadcast(&s.round_cv);
		pthread_mutex_unlock(&s.lock);
		wl_sleep_ms(tick_ms);
		pthread_mutex_lock(&s.lock);
		check(&s, tick);
		report(&s, tick);
		pthread_mutex_unlock(&s.lock);
	}
}
