// SPDX-License-Identifier: GPL-2.0
/*
 * rseq [TICK_MS]: glibc's rseq registration must survive.  At start:
 * glibc registered an area (__rseq_size > 0) and the kernel advertises
 * rseq in the auxiliary vector.  Every tick the thread pins itself to
 * the next allowed CPU and checks that the kernel updated cpu_id and
 * cpu_id_start of the area, that sched_getcpu() (which reads the area)
 * and the getcpu syscall agree, and that the kernel still holds this
 * very registration: registering it again must fail with EBUSY.
 */
#include <sched.h>
#include <sys/auxv.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include "wl.h"

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif
#ifndef RSEQ_SIG
#define RSEQ_SIG		0x53053053
#endif

static struct rseq *area(void)
{
	char *tp;

	__asm__("movq %%fs:0, %0" : "=r"(tp));	/* x86-64 TCB self pointer */
	return (struct rseq *)(tp + __rseq_offset);
}

/* EBUSY: registered with exactly this area, length and signature */
static int still_registered(struct rseq *rs)
{
	unsigned lens[2] = { 32, __rseq_size };
	int i;

	for (i = 0; i < 2; i++) {
		if (syscall(SYS_rseq, rs, lens[i], 0, RSEQ_SIG) == 0)
			wl_fail("rseq was not registered any more (now it is)");
		if (errno == EBUSY)
			return 1;
	}
	return 0;
}

static void check_cpu(struct rseq *rs, int cpu, unsigned long tick)
{
	cpu_set_t set;
	unsigned got;
	int id, start, glibc;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* migrates us before it returns */
	wl_check(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity");
	id = (int)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
	start = (int)__atomic_load_n(&rs->cpu_id_start, __ATOMIC_RELAXED);
	glibc = sched_getcpu();
	wl_check(syscall(SYS_getcpu, &got, NULL, NULL) == 0, "getcpu");
	if (id != cpu || start != cpu || glibc != cpu || (int)got != cpu)
		wl_fail("tick %lu: pinned to cpu %d: rseq cpu_id %d cpu_id_start %d, "
			"sched_getcpu %d, getcpu %u", tick, cpu, id, start, glibc, got);
}

int main(int argc, char **argv)
{
	int cpus[CPU_SETSIZE], ncpus = 0, i;
	unsigned long tick;
	unsigned tick_ms;
	struct rseq *rs;
	cpu_set_t set;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	if (__rseq_size == 0)
		wl_fail("glibc did not register rseq (__rseq_size 0)");
	if (getauxval(AT_RSEQ_FEATURE_SIZE) == 0)
		wl_fail("the kernel does not advertise rseq (AT_RSEQ_FEATURE_SIZE)");
	rs = area();
	if (!still_registered(rs))
		wl_fail("the kernel does not hold glibc's rseq area %p", (void *)rs);
	wl_check(sched_getaffinity(0, sizeof(set), &set) == 0, "sched_getaffinity");
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	wl_print("ready pid=%d rseq=%p cpus=%d", (int)getpid(), (void *)rs, ncpus);
	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		check_cpu(rs, cpus[tick % ncpus], tick);
		if ((int)rs->cpu_id < 0)
			wl_fail("tick %lu: rseq cpu_id %d", tick, (int)rs->cpu_id);
		if (!still_registered(rs))
			wl_fail("tick %lu: rseq area %p is no longer registered", tick,
				(void *)rs);
		wl_print("tick %lu cpu=%u", tick, rs->cpu_id);
	}
}
