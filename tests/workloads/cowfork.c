// SPDX-License-Identifier: GPL-2.0
/*
 * cowfork DIR [MB] [TICK_MS]: private memory shared copy-on-write
 * between a parent and its child.  The parent fills two private
 * anonymous regions A and B of MB MiB each with known patterns, then
 * forks; until DIR/write exists neither writes them, and both check
 * every word of both every tick.  Then the child rewrites A and the
 * parent rewrites B, each with a pattern of its own: each must see its
 * own new pattern and the other region unchanged -- a write must never
 * show through to the other process.
 * Lines: "pid P tick N a=SEED b=SEED" from both processes.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "wl.h"

struct region {
	uint64_t *w;
	size_t words;
	uint64_t seed;		/* the pattern it must hold */
	char name;
};

static uint64_t word_of(uint64_t seed, size_t i)
{
	return wl_mix(seed << 40 ^ i);
}

static void fill(struct region *r, uint64_t seed)
{
	size_t i;

	for (i = 0; i < r->words; i++)
		r->w[i] = word_of(seed, i);
	r->seed = seed;
}

static void check(const struct region *r, unsigned long tick)
{
	size_t i;

	for (i = 0; i < r->words; i++)
		if (r->w[i] != word_of(r->seed, i))
			wl_fail("pid %d tick %lu: region %c word %zu at %p is %016llx, "
				"pattern %llu wants %016llx", (int)getpid(), tick,
				r->name, i, (void *)&r->w[i], (unsigned long long)r->w[i],
				(unsigned long long)r->seed,
				(unsigned long long)word_of(r->seed, i));
}

static void map_region(struct region *r, char name, size_t bytes)
{
	r->w = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	wl_check(r->w != MAP_FAILED, "mmap");
	r->words = bytes / 8;
	r->name = name;
}

/* both processes: check, and once DIR/write exists, rewrite @mine */
static void __attribute__((noreturn)) loop(struct region *a, struct region *b,
					   struct region *mine, uint64_t new_seed,
					   const char *trigger, unsigned tick_ms,
					   pid_t parent)
{
	unsigned long tick;
	int wrote = 0;

	for (tick = 1;; tick++) {
		wl_sleep_ms(tick_ms);
		if (parent && getppid() != parent)
			wl_fail("pid %d: parent changed from %d to %d", (int)getpid(),
				(int)parent, (int)getppid());
		if (!wrote && access(trigger, F_OK) == 0) {
			fill(mine, new_seed);
			wrote = 1;
			wl_print("pid %d wrote %c", (int)getpid(), mine->name);
		}
		check(a, tick);
		check(b, tick);
		wl_print("pid %d tick %lu a=%llu b=%llu", (int)getpid(), tick,
			 (unsigned long long)a->seed, (unsigned long long)b->seed);
	}
}

int main(int argc, char **argv)
{
	struct region a, b;
	char trigger[4096];
	unsigned tick_ms;
	size_t bytes;
	pid_t parent, child;

	if (argc < 2) {
		fprintf(stderr, "usage: cowfork DIR [MB] [TICK_MS]\n");
		return 2;
	}
	wl_setsid();
	snprintf(trigger, sizeof(trigger), "%s/write", argv[1]);
	bytes = (size_t)wl_arg(argc, argv, 2, 8) << 20;
	tick_ms = wl_arg(argc, argv, 3, 100);
	map_region(&a, 'A', bytes);
	map_region(&b, 'B', bytes);
	fill(&a, 1);
	fill(&b, 2);
	parent = getpid();
	child = fork();
	wl_check(child >= 0, "fork");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		loop(&a, &b, &a, 3, trigger, tick_ms, parent);
	}
	wl_ready();
	loop(&a, &b, &b, 4, trigger, tick_ms, 0);
}
