/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading a skeleton so that a program the verifier refuses costs what
 * that program provides, not the whole object: the collectors
 * (collect.c) and the tracer (tracer.c) both load through here.
 *
 * A program may have a feature name: BPFCKPT_FALLBACK=all (or a comma
 * list of names) leaves it out, so that the userspace step or the
 * variant that replaces it runs even where BPF could do the work, and
 * the tests can run both ways.  A program may also have an alternative,
 * loaded only in its place.
 */
#ifndef BPFCKPT_BPFLOAD_H
#define BPFCKPT_BPFLOAD_H

#include <stdbool.h>
#include <bpf/libbpf.h>
#include "log.h"

struct bpf_skel_ops {
	const char *name;
	void *(*open)(void);
	int (*load)(void *skel);
	void (*destroy)(void *skel);
	struct bpf_object *(*obj)(void *skel);
	/* after each open, before the load: sets read-only data; may be NULL */
	void (*prepare)(void *skel, const void *arg);
	/* sets bpf/refuse.bpf.h's refuse_prog (BPFCKPT_FAULT=refuse-<prog>) */
	void (*set_refuse)(void *skel, unsigned row_plus_one);
};

/* wrappers of the generated NAME_bpf__* functions, as a bpf_skel_ops */
#define BPF_SKEL_OPS(n, prepare)						\
static void *n##_skel_open(void) { return n##_bpf__open(); }		\
static int n##_skel_load(void *s) { return n##_bpf__load(s); }		\
static void n##_skel_destroy(void *s) { n##_bpf__destroy(s); }		\
static struct bpf_object *n##_skel_obj(void *s)				\
{ return ((struct n##_bpf *)s)->obj; }					\
static void n##_skel_refuse(void *s, unsigned r)			\
{ ((struct n##_bpf *)s)->rodata->refuse_prog = r; }			\
static const struct bpf_skel_ops n##_skel_ops = {			\
	#n, n##_skel_open, n##_skel_load, n##_skel_destroy, n##_skel_obj, \
	prepare, n##_skel_refuse }

struct bpf_prog_desc {
	const char *name;	/* the BPF program */
	const char *what;	/* what it does, for check and messages */
	const char *feature;	/* BPFCKPT_FALLBACK name; NULL: none */
	const char *instead;	/* what does its job when it is not loaded */
	int alt;		/* its alternative is this many rows below; 0: none */
};

struct bpf_prog_status {
	bool skip;		/* set by the caller: not wanted this time */
	bool tried;		/* its skeleton was loaded */
	bool loaded;
	bool forced;		/* left out by BPFCKPT_FALLBACK */
	int err;		/* why it did not load, 0 if it did or was not tried */
	char why[192];		/* the verifier's last line */
};

/* BPFCKPT_FALLBACK names @feature (or is "all") */
bool fallback_forced(const char *feature);

/*
 * Opens the skeleton through @ops (prepare() gets @arg) and loads the @n programs of @d that
 * are not skipped or forced off, leaving out (and recording in @st)
 * each one the kernel refuses, with its alternative loaded instead.
 * *skel is NULL (and -errno returned) only if the object itself cannot
 * be opened or loaded.  Prints nothing but the verifier logs at -vv.
 */
int bpf_load_progs(const struct bpf_skel_ops *ops, const void *arg,
		   const struct bpf_prog_desc *d, struct bpf_prog_status *st, int n,
		   void **skel);

/* one line: the program, the kernel release, the verifier's reason, @then */
void bpf_say_refused(enum log_level lvl, const struct bpf_prog_desc *d,
		     const struct bpf_prog_status *st, const char *then);

#endif
