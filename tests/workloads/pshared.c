// SPDX-License-Identifier: GPL-2.0
/*
 * pshared DIR [TICK_MS]: futexes between processes.  A parent and its
 * child share (MAP_SHARED|MAP_ANONYMOUS) a PTHREAD_PROCESS_SHARED mutex
 * and condition variable and play ping-pong with them: each tick the
 * parent hands the child a value and waits for the answer; the child
 * spends its life blocked in pthread_cond_wait().  The child also holds
 * a process-shared robust mutex from the start.
 * Once DIR/die exists the parent tells the child to exit still holding
 * the robust mutex: the kernel, walking the child's robust list (so
 * set_robust_list must have been restored), marks it owner-died, and
 * the parent's pthread_mutex_trylock() must say EOWNERDEAD.  The parent
 * then ticks alone.
 * Lines: "pid P tick N value=V" from the parent, "robust: EOWNERDEAD".
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "wl.h"

#define STALL_WAITS	30	/* 1 s waits without an answer */

struct shared {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pthread_mutex_t robust;
	uint64_t turn;		/* 1: the child's, 0: the parent's */
	uint64_t value;		/* the parent's ball */
	uint64_t answer;	/* the child's: value * 3 + 1 */
	uint64_t die;
	uint64_t holding;	/* the child holds the robust mutex */
};

static void init_shared(struct shared *s)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;

	wl_check(!pthread_mutexattr_init(&ma), "mutexattr");
	wl_check(!pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED), "setpshared");
	wl_check(!pthread_mutex_init(&s->lock, &ma), "mutex_init");
	wl_check(!pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST), "setrobust");
	wl_check(!pthread_mutex_init(&s->robust, &ma), "robust mutex_init");
	wl_check(!pthread_condattr_init(&ca), "condattr");
	wl_check(!pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), "cond setpshared");
	wl_check(!pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "setclock");
	wl_check(!pthread_cond_init(&s->cv, &ca), "cond_init");
}

static void __attribute__((noreturn)) child(struct shared *s)
{
	uint64_t expect = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	wl_check(!pthread_mutex_lock(&s->robust), "locking the robust mutex");
	pthread_mutex_lock(&s->lock);
	s->holding = 1;
	pthread_cond_broadcast(&s->cv);
	for (;;) {
		while (s->turn != 1)
			pthread_cond_wait(&s->cv, &s->lock);
		if (s->die)
			_exit(0);	/* still holding s->robust */
		if (s->value != expect)
			wl_fail("child: got value %llu, expected %llu",
				(unsigned long long)s->value, (unsigned long long)expect);
		s->answer = s->value * 3 + 1;
		expect++;
		s->turn = 0;
		pthread_cond_broadcast(&s->cv);
	}
}

/* waits on the condition variable until @done holds; FAILs on a stall */
static void wait_for(struct shared *s, int (*done)(struct shared *), const char *what)
{
	struct timespec ts;
	int waits = 0;

	while (!done(s)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		if (pthread_cond_timedwait(&s->cv, &s->lock, &ts) == ETIMEDOUT &&
		    ++waits > STALL_WAITS)
			wl_fail("parent: no %s after %d waits of 1 s", what, waits);
	}
}

static int answered(struct shared *s)
{
	return s->turn == 0;
}

static int holding(struct shared *s)
{
	return s->holding != 0;
}

static void play(struct shared *s, unsigned long tick)
{
	int r;

	pthread_mutex_lock(&s->lock);
	s->value = tick;
	s->turn = 1;
	pthread_cond_broadcast(&s->cv);
	wait_for(s, answered, "answer from the child");
	if (s->answer != tick * 3 + 1)
		wl_fail("tick %lu: the child answered %llu", tick,
			(unsigned long long)s->answer);
	pthread_mutex_unlock(&s->lock);
	r = pthread_mutex_trylock(&s->robust);
	if (r != EBUSY)
		wl_fail("tick %lu: trylock of the child's robust mutex: %s", tick,
			r ? strerror(r) : "got it");
}

/* the child exits holding the robust mutex: we must get EOWNERDEAD */
static void end_child(struct shared *s, pid_t pid)
{
	int st, r;

	pthread_mutex_lock(&s->lock);
	s->die = 1;
	s->turn = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->lock);
	wl_check(waitpid(pid, &st, 0) == pid, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		wl_fail("the child ended with status %#x", st);
	r = pthread_mutex_trylock(&s->robust);
	if (r != EOWNERDEAD)
		wl_fail("trylock of the dead child's robust mutex: %s, expected EOWNERDEAD "
			"(its robust list was not walked)", r ? strerror(r) : "success");
	wl_check(!pthread_mutex_consistent(&s->robust), "pthread_mutex_consistent");
	wl_check(!pthread_mutex_unlock(&s->robust), "unlock");
	wl_print("robust: EOWNERDEAD");
}

int main(int argc, char **argv)
{
	struct shared *s;
	char trigger[4096];
	unsigned long tick;
	unsigned tick_ms;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: pshared DIR [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	snprintf(trigger, sizeof(trigger), "%s/die", argv[1]);
	tick_ms = wl_arg(argc, argv, 2, 100);
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	wl_check(s != MAP_FAILED, "mmap");
	init_shared(s);
	pid = fork();
	wl_check(pid >= 0, "fork");
	if (pid == 0)
		child(s);
	pthread_mutex_lock(&s->lock);
	wait_for(s, holding, "robust mutex held by the child");
	pthread_mutex_unlock(&s->lock);
	wl_ready();
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (pid && access(trigger, F_OK) == 0) {
			end_child(s, pid);
			pid = 0;
		}
		if (pid)
			play(s, tick);
		wl_print("pid %d tick %lu value=%llu", (int)getpid(), tick,
			 (unsigned long long)s->value);
	}
}
