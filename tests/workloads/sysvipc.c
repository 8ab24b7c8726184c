// SPDX-License-Identifier: GPL-2.0
/*
 * sysvipc [TICK_MS] [undo]: SysV objects that must come back with their ids.
 *   A: 5 pages + 100 bytes, key K, attached read-write in parent and
 *      child (inherited over fork); the parent writes its tick into it,
 *      the child reads it there;
 *   B: 2 pages, private key, attached SHM_RDONLY in the parent;
 *   C: 1 page, IPC_RMID'd while attached in the parent;
 *   S: a set of 3 semaphores, values 5 7 tick%3 (semop without SEM_UNDO);
 *   Q: a queue with messages of types 3, 1, 2 in that order, read
 *      without consuming them (MSG_COPY).
 * Every tick each process checks ids, keys, sizes, contents, values and
 * the messages' order.  With "undo" the parent holds a SEM_UNDO
 * adjustment of -1 on the first semaphore (its value stays 5).  "ready pid=P shm=A,B,C sem=S msg=Q key=K".
 */
#include <stdbool.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include "wl.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msg {
	long mtype;
	char text[64];
};

static int ida, idb, idc, ids, idq;
static key_t key;
static uint8_t *a, *b, *c;
static long ps;

#define A_SIZE	(5 * ps + 100)

static void fill(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = wl_mix(seed + i / 8) >> (8 * (i % 8));
}

static void check_fill(const uint8_t *p, size_t off, size_t len, uint64_t seed,
		       const char *what)
{
	size_t i;

	for (i = off; i < off + len; i++)
		if (p[i] != (uint8_t)(wl_mix(seed + i / 8) >> (8 * (i % 8))))
			wl_fail("%s: byte %zu differs", what, i);
}

static void check_seg(int id, key_t k, size_t size, bool dest, const char *what)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		wl_fail("%s: shm id %d: IPC_STAT: %s", what, id, strerror(errno));
	if (ds.shm_perm.__key != k || ds.shm_segsz != size ||
	    (ds.shm_perm.mode & 0777) != 0640 || !!(ds.shm_perm.mode & SHM_DEST) != dest)
		wl_fail("%s: shm id %d: key %#x size %zu mode %o, expected %#x %zu 0640%s",
			what, id, ds.shm_perm.__key, (size_t)ds.shm_segsz,
			ds.shm_perm.mode, k, size, dest ? " removed" : "");
}

static void check_maps(void)
{
	char line[512], want[64];
	FILE *f = fopen("/proc/self/maps", "r");
	bool ok = false;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)b);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			ok = !strncmp(strchr(line, ' ') + 1, "r--s", 4);
	if (f)
		fclose(f);
	if (!ok)
		wl_fail("B at %p is not mapped r--s", (void *)b);
}

static void check_sem(long tick)
{
	unsigned short v[3];

	if (semctl(ids, 0, GETALL, (union semun){ .array = v }))
		wl_fail("sem id %d: GETALL: %s", ids, strerror(errno));
	if (v[0] != 5 || v[1] != 7 || v[2] != tick % 3)
		wl_fail("sem id %d: values %u %u %u, expected 5 7 %ld", ids, v[0], v[1],
			v[2], tick % 3);
}

static void check_msgs(void)
{
	static const long types[] = { 3, 1, 2 };
	struct msg m;
	int i;

	for (i = 0; i < 3; i++) {
		ssize_t n = msgrcv(idq, &m, sizeof(m.text), i, IPC_NOWAIT | MSG_COPY);
		char want[64];

		snprintf(want, sizeof(want), "message %d of type %ld", i, types[i]);
		if (n < 0)
			wl_fail("msg id %d: message %d: %s", idq, i, strerror(errno));
		if (m.mtype != types[i] || (size_t)n != strlen(want) + 1 ||
		    strcmp(m.text, want))
			wl_fail("msg id %d: message %d is type %ld '%.*s'", idq, i, m.mtype,
				(int)n, m.text);
	}
	if (msgrcv(idq, &m, sizeof(m.text), 3, IPC_NOWAIT | MSG_COPY) >= 0)
		wl_fail("msg id %d: a fourth message", idq);
}

static void send(long type, int i)
{
	struct msg m = { .mtype = type };
	int n = snprintf(m.text, sizeof(m.text), "message %d of type %ld", i, type);

	wl_check(msgsnd(idq, &m, n + 1, 0) == 0, "msgsnd");
}

static void setup(void)
{
	struct sembuf op[2] = { { 0, 5, 0 }, { 1, 7, 0 } };
	uint8_t *w;

	ps = sysconf(_SC_PAGESIZE);
	key = 0x5e000000 | (getpid() & 0xffffff);
	ida = shmget(key, A_SIZE, IPC_CREAT | IPC_EXCL | 0640);
	idb = shmget(IPC_PRIVATE, 2 * ps, IPC_CREAT | 0640);
	idc = shmget(IPC_PRIVATE, ps, IPC_CREAT | 0640);
	ids = semget(key, 3, IPC_CREAT | IPC_EXCL | 0640);
	idq = msgget(key, IPC_CREAT | IPC_EXCL | 0640);
	wl_check(ida >= 0 && idb >= 0 && idc >= 0 && ids >= 0 && idq >= 0, "get");
	a = shmat(ida, NULL, 0);
	w = shmat(idb, NULL, 0);
	wl_check(a != (void *)-1 && w != (void *)-1, "shmat");
	fill(a, A_SIZE, 1);
	fill(w, 2 * ps, 2);
	shmdt(w);
	b = shmat(idb, NULL, SHM_RDONLY);
	c = shmat(idc, NULL, 0);
	wl_check(b != (void *)-1 && c != (void *)-1, "shmat");
	fill(c, ps, 3);
	wl_check(shmctl(idc, IPC_RMID, NULL) == 0, "IPC_RMID");
	wl_check(semop(ids, op, 2) == 0, "semop");
	send(3, 0);
	send(1, 1);
	send(2, 2);
}

int main(int argc, char **argv)
{
	long tick_ms = wl_arg(argc, argv, 1, 100), tick;
	uint32_t *counter;
	pid_t parent, kid;

	wl_setsid();
	setup();
	if (argc > 2 && !strcmp(argv[2], "undo")) {
		struct sembuf up = { 0, 1, SEM_UNDO }, down = { 0, -1, 0 };

		wl_check(semop(ids, &up, 1) == 0 && semop(ids, &down, 1) == 0, "semop");
	}
	parent = getpid();
	counter = (uint32_t *)(a + 2 * ps);	/* the parent's tick, in A */
	*counter = 0;
	kid = fork();
	wl_check(kid >= 0, "fork");
	if (kid == 0) {
		uint32_t seen = 0;

		for (tick = 1;; tick++) {
			wl_sleep_ms(tick_ms);
			check_seg(ida, key, A_SIZE, false, "child");
			check_fill(a, 0, 2 * ps, 1, "child: A");
			if (*counter < seen)
				wl_fail("child: A's counter went back from %u to %u", seen,
					*counter);
			seen = *counter;
			check_msgs();
			wl_print("pid %d tick %ld counter %u", (int)getpid(), tick, seen);
			if (getppid() != parent)
				wl_fail("child: parent gone");
		}
	}
	wl_print("ready pid=%d shm=%d,%d,%d sem=%d msg=%d key=%#x", (int)getpid(), ida,
		 idb, idc, ids, idq, (unsigned)key);
	for (tick = 1;; tick++) {
		struct sembuf op = { 2, 1, 0 };

		wl_sleep_ms(tick_ms);
		check_seg(ida, key, A_SIZE, false, "parent");
		check_seg(idb, IPC_PRIVATE, 2 * ps, false, "parent");
		check_seg(idc, IPC_PRIVATE, ps, true, "parent");
		check_fill(a, 0, 2 * ps, 1, "A");
		check_fill(a, 2 * ps + 4, A_SIZE - 2 * ps - 4, 1, "A");
		check_fill(b, 0, 2 * ps, 2, "B");
		check_fill(c, 0, ps, 3, "C");
		check_maps();
		check_sem(tick - 1);
		check_msgs();
		/* the third value goes 0 1 2 0 ... */
		if (tick % 3 == 0) {
			op.sem_op = -2;
		}
		wl_check(semop(ids, &op, 1) == 0, "semop");
		*counter = tick;
		wl_print("pid %d tick %ld", (int)getpid(), tick);
		if (waitpid(kid, NULL, WNOHANG) != 0)
			wl_fail("child gone");
	}
}
