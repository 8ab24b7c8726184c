// SPDX-License-Identifier: GPL-2.0
/*
 * vdso [TICK_MS] [move|unmap]: bursts of clock_gettime()/gettimeofday()
 * calls (served by the vDSO) between sleeps.  CLOCK_MONOTONIC, _RAW and
 * _BOOTTIME must never go back, across ticks too (the last values live
 * in memory, so a restore is checked against the time before the snap),
 * and gettimeofday() must agree with CLOCK_REALTIME read just before it.
 * With "move" the program first mremaps its vdso and vvar elsewhere (all
 * by the same distance) and calls the vdso where it now is, found in its
 * ELF symbols; with "unmap" it unmaps them and makes the syscalls.
 */
#include <elf.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include "wl.h"

typedef int (*gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);

static gettime_fn my_gettime;		/* NULL: the syscall */
static gettimeofday_fn my_gettimeofday;
static int mode_unmap;

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	if (my_gettime)
		my_gettime(clk, &ts);
	else if (mode_unmap)
		syscall(SYS_clock_gettime, clk, &ts);
	else
		clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void time_of_day(struct timeval *tv)
{
	if (my_gettimeofday)
		my_gettimeofday(tv, NULL);
	else if (mode_unmap)
		syscall(SYS_gettimeofday, tv, NULL);
	else
		gettimeofday(tv, NULL);
}

struct special {
	unsigned long start, end;
	int is_vdso;
};

/* [vvar], [vvar_vclock] and [vdso] from /proc/self/maps */
static int specials(struct special *sp, int max)
{
	char line[512], name[64];
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0;

	wl_check(f != NULL, "/proc/self/maps");
	while (n < max && fgets(line, sizeof(line), f)) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &sp[n].start,
			   &sp[n].end, name) < 2)
			continue;
		if (strcmp(name, "[vdso]") && strncmp(name, "[vvar", 5))
			continue;
		sp[n].is_vdso = !strcmp(name, "[vdso]");
		n++;
	}
	fclose(f);
	return n;
}

/* @name in the vdso at @base: its section headers are mapped too */
static void *vdso_sym(unsigned long base, const char *name)
{
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Shdr *sh = (const void *)(base + eh->e_shoff);
	int i;
	size_t j;

	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym = (const void *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		for (j = 0; j < sh[i].sh_size / sizeof(*sym); j++)
			if (sym[j].st_name && !strcmp(str + sym[j].st_name, name))
				return (void *)(base + sym[j].st_value);
	}
	return NULL;
}

static void move_or_unmap(int unmap)
{
	struct special sp[8];
	unsigned long lo = ~0UL, hi = 0, base = 0;
	char *to;
	int n = specials(sp, 8), i;

	wl_check(n > 0, "no [vdso] in /proc/self/maps");
	for (i = 0; i < n; i++) {
		lo = sp[i].start < lo ? sp[i].start : lo;
		hi = sp[i].end > hi ? sp[i].end : hi;
	}
	if (unmap) {
		for (i = 0; i < n; i++)
			wl_check(munmap((void *)sp[i].start, sp[i].end - sp[i].start) == 0,
				 "munmap vdso/vvar");
		mode_unmap = 1;
		return;
	}
	/* a place of the same size, 16 MiB away from anything we chose */
	to = mmap(NULL, hi - lo + (32 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	wl_check(to != MAP_FAILED, "mmap");
	to += 16 << 20;
	for (i = 0; i < n; i++) {
		void *p = mremap((void *)sp[i].start, sp[i].end - sp[i].start,
				 sp[i].end - sp[i].start, MREMAP_MAYMOVE | MREMAP_FIXED,
				 to + (sp[i].start - lo));

		wl_check(p != MAP_FAILED, "mremap vdso/vvar");
		if (sp[i].is_vdso)
			base = (unsigned long)p;
	}
	my_gettime = vdso_sym(base, "__vdso_clock_gettime");
	my_gettimeofday = vdso_sym(base, "__vdso_gettimeofday");
	if (!my_gettime || !my_gettimeofday)
		wl_fail("no __vdso_clock_gettime or __vdso_gettimeofday in the moved vdso");
}

#define BURST	20000

static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
				    CLOCK_BOOTTIME };
#define NCLOCKS	(sizeof(clocks) / sizeof(clocks[0]))

static void check_realtime(unsigned long tick)
{
	long long rt_us, tv_us;
	struct timeval tv;

	rt_us = now_ns(CLOCK_REALTIME) / 1000;
	time_of_day(&tv);
	tv_us = tv.tv_sec * 1000000LL + tv.tv_usec;
	if (tv_us < rt_us || tv_us - rt_us > 1000000)
		wl_fail("tick %lu: gettimeofday %lld us, CLOCK_REALTIME %lld us",
			tick, tv_us, rt_us);
}

static unsigned long burst(uint64_t last[NCLOCKS], unsigned long tick)
{
	unsigned long calls = 0;
	unsigned i, c;
	uint64_t now;

	for (i = 0; i < BURST; i++) {
		for (c = 0; c < NCLOCKS; c++, calls++) {
			now = now_ns(clocks[c]);
			if (now < last[c])
				wl_fail("tick %lu: clock %d went back from %llu to %llu",
					tick, (int)clocks[c], (unsigned long long)last[c],
					(unsigned long long)now);
			last[c] = now;
		}
		if (i % 64 == 0) {
			check_realtime(tick);
			calls += 2;
		}
	}
	return calls;
}

int main(int argc, char **argv)
{
	uint64_t last[NCLOCKS] = { 0 };
	unsigned long tick, calls = 0;
	unsigned tick_ms;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	if (!getauxval(AT_SYSINFO_EHDR))
		wl_fail("no vDSO in the auxiliary vector");
	if (argc > 2 && (!strcmp(argv[2], "move") || !strcmp(argv[2], "unmap")))
		move_or_unmap(!strcmp(argv[2], "unmap"));
	wl_ready();
	for (tick = 1;; tick++) {
		calls += burst(last, tick);
		wl_print("tick %lu calls=%lu mono=%llu", tick, calls,
			 (unsigned long long)last[0]);
		wl_sleep_ms(tick_ms);
	}
}
