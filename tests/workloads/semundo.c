// SPDX-License-Identifier: GPL-2.0
/*
 * semundo [TICK_MS] [thread]: SEM_UNDO adjustments that must come back.
 * A set of 3 semaphores starts at 10 10 0.  The parent does, with
 * SEM_UNDO, -2 on #0 and +3 on #1 (semadj +2 -3 0); its child -1 on #0
 * and +4 on #2 (semadj +1 0 -4): the values are 7 13 4.  Both check
 * them every tick.  When the child dies, the kernel adds its semadj:
 * the parent sees 8 13 0 and says "child gone, values 8 13 0" once;
 * after the parent too, the set is back at 10 10 0 -- which the test
 * checks, so that semadj, not only the values, is shown restored.
 * With "thread", the parent also has a thread cloned without
 * CLONE_SYSVSEM, whose own undo list holds an up and a down on #2.
 * "ready pid=P child=C sem=S key=K".
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/ipc.h>
#include <sys/syscall.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include "wl.h"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int ids;
static _Atomic int thread_done;
static char thread_stack[64 << 10] __attribute__((aligned(16)));

/* raw syscalls only: the thread shares the leader's TLS (no CLONE_SETTLS) */
static int own_list_thread(void *arg)
{
	struct sembuf ops[2] = { { 2, 1, SEM_UNDO }, { 2, -1, SEM_UNDO } };

	(void)arg;
	atomic_store(&thread_done, syscall(SYS_semop, ids, ops, 2) == 0 ? 1 : -1);
	for (;;)
		syscall(SYS_pause);
	return 0;
}

static bool values_are(unsigned a, unsigned b, unsigned c, unsigned short v[3])
{
	if (semctl(ids, 0, GETALL, (union semun){ .array = v }))
		wl_fail("sem id %d: GETALL: %s", ids, strerror(errno));
	return v[0] == a && v[1] == b && v[2] == c;
}

static void check(unsigned a, unsigned b, unsigned c, const char *who)
{
	unsigned short v[3];

	if (!values_are(a, b, c, v))
		wl_fail("%s: sem id %d: values %u %u %u, expected %u %u %u", who, ids,
			v[0], v[1], v[2], a, b, c);
}

int main(int argc, char **argv)
{
	long tick_ms = wl_arg(argc, argv, 1, 100), tick;
	struct sembuf mine[2] = { { 0, -2, SEM_UNDO }, { 1, 3, SEM_UNDO } };
	struct sembuf kids[2] = { { 0, -1, SEM_UNDO }, { 2, 4, SEM_UNDO } };
	unsigned short init[3] = { 10, 10, 0 }, v[3];
	bool gone = false;
	key_t key;
	pid_t kid;

	wl_setsid();
	key = 0x5f000000 | (getpid() & 0xffffff);
	ids = semget(key, 3, IPC_CREAT | IPC_EXCL | 0640);
	wl_check(ids >= 0, "semget");
	wl_check(semctl(ids, 0, SETALL, (union semun){ .array = init }) == 0, "SETALL");
	wl_check(semop(ids, mine, 2) == 0, "semop");
	if (argc > 2 && !strcmp(argv[2], "thread")) {
		wl_check(clone(own_list_thread, thread_stack + sizeof(thread_stack),
			       CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			       CLONE_THREAD, NULL) > 0, "clone");
		while (!atomic_load(&thread_done))
			wl_sleep_ms(1);
		wl_check(atomic_load(&thread_done) == 1, "semop in the thread");
	}
	kid = fork();
	wl_check(kid >= 0, "fork");
	if (kid == 0) {
		wl_check(semop(ids, kids, 2) == 0, "semop");
		for (tick = 1;; tick++) {
			wl_sleep_ms(tick_ms);
			check(7, 13, 4, "child");
			wl_print("pid %d tick %ld", (int)getpid(), tick);
		}
	}
	while (!values_are(7, 13, 4, v))
		wl_sleep_ms(1);
	wl_print("ready pid=%d child=%d sem=%d key=%#x", (int)getpid(), (int)kid, ids,
		 (unsigned)key);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (!gone && waitpid(kid, NULL, WNOHANG) == kid) {
			gone = true;
			check(8, 13, 0, "parent, the child gone");
			wl_print("child gone, values 8 13 0");
		}
		if (gone)
			check(8, 13, 0, "parent, the child gone");
		else
			check(7, 13, 4, "parent");
		wl_print("pid %d tick %ld", (int)getpid(), tick);
	}
}
