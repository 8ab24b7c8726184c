/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live tracer shared by trace and top: loads bpf/trace.bpf.c, starts
 * following a process tree (in the kernel, through the `traced` map that
 * fork extends) and reads what the BPF side aggregated.
 */
#ifndef BPFCKPT_TRACER_H
#define BPFCKPT_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <bpf/libbpf.h>
#include "bpfckpt/trace.h"

#include "bpfload.h"

struct trace_bpf;

#define TRACER_NR_PROGS	14
extern const struct bpf_prog_desc tracer_progs[TRACER_NR_PROGS];
/* loads every program (for check); st[i] says how tracer_progs[i] fared */
int tracer_probe(struct bpf_prog_status *st);
/* the loaded row among @i and its variants (the `alt` chain), or -1 */
int tracer_prog_taken_by(const struct bpf_prog_status *st, int i);

struct tracer_opts {
	uint32_t emit;		/* TRACE_EMIT_* */
	const bool *sc_emit;	/* [TRACE_NR_SYSCALLS]: syscalls to send; NULL: none */
	bool sample;		/* top: VMAs and fds too (walk_vmas, walk_files) */
	uint32_t time_shift;	/* time one syscall in 2^time_shift; 0: all */
	uint64_t max_rate;	/* records per second at most; 0: no limit */
};

struct tracer {
	struct trace_bpf *skel;
	struct bpf_link *links[16];
	uint32_t nr_links;
	struct bpf_link *walk;	/* the walk_tree iterator */
	struct bpf_link *walk_vmas;	/* with tracer_opts.sample */
	struct bpf_link *walk_files;
	pid_t root;
	int ncpus;
	uint32_t nr_procs;	/* processes followed at the start */
	uint64_t attach_ns;	/* CLOCK_MONOTONIC before the hooks were attached */
	bool have_fork;		/* children are followed */
};

/*
 * Loads and attaches the tracer and starts following @root and its
 * descendants, listed from /proc (no snap collector is needed).  Prints
 * what failed (or which optional hook is missing).
 */
int tracer_open(struct tracer *t, pid_t root, const struct tracer_opts *o);
void tracer_close(struct tracer *t);

/* the ring buffer of records; @fn gets each one */
struct ring_buffer *tracer_ringbuf(struct tracer *t, ring_buffer_sample_fn fn,
				   void *ctx);

/* drops processes that are gone or zombies; returns how many are left */
uint32_t tracer_sweep(struct tracer *t);
/* the followed processes, up to @cap */
uint32_t tracer_procs(struct tracer *t, pid_t *out, uint32_t cap);

/* all syscalls, summed over CPUs: @out has TRACE_NR_SYSCALLS entries;
 * starts the next sampling generation */
int tracer_read_syscalls(struct tracer *t, struct sc_stat *out);
/*
 * One iterator pass each over the whole tree.  Threads: marks those not
 * traced yet and hands each one's counters and state to @cb.  VMAs and
 * fds (with tracer_opts.sample): each once per mm or fd table, grouped
 * by process, ascending.  @cb returns 0, or -errno to stop.
 */
int tracer_read_threads(struct tracer *t,
			int (*cb)(void *ctx, const struct rec_thread *r), void *ctx);
int tracer_read_vmas(struct tracer *t,
		     int (*cb)(void *ctx, const struct rec_tvma *r), void *ctx);
int tracer_read_files(struct tracer *t,
		      int (*cb)(void *ctx, const struct rec_tfd *r), void *ctx);
int tracer_read_lost(struct tracer *t, struct trace_lost *out);

/* latency in ns below which @q (0..1) of the calls in @s fall, estimated */
uint64_t sc_percentile(const struct sc_stat *s, double q);
/* mean latency of the timed calls, and the time all calls took (exact
 * when every call is timed, else estimated from the timed ones) */
double sc_avg_ns(const struct sc_stat *s);
double sc_total_ns(const struct sc_stat *s);
/* *out = *a - *b, field by field (b older) */
void sc_stat_sub(struct sc_stat *out, const struct sc_stat *a,
		 const struct sc_stat *b);

#endif
