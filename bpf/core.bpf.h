/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel fields that moved or changed type between 6.7 and 6.18+, read
 * through CO-RE so that one object loads on all of them.  Each old
 * layout is a "___flavour" struct that libbpf matches by the name before
 * the triple underscore; bpf_core_field_exists()/bpf_core_field_size()
 * resolve at load time, and the verifier drops the branch that does not
 * apply (its relocation, unresolvable on this kernel, is never reached).
 */
#ifndef BPFCKPT_CORE_BPF_H
#define BPFCKPT_CORE_BPF_H

/* struct file's path was f_path until it became __f_path (6.18) */
struct file___fpath {
	struct path f_path;
} __attribute__((preserve_access_index));

/* mm->flags was an unsigned long until it became the mm_flags_t bitmap (6.18) */
struct mm_struct___ulflags {
	unsigned long flags;
} __attribute__((preserve_access_index));

/* k_itimer.sigq was a pointer until it was embedded (6.13) */
struct k_itimer___sigqptr {
	struct sigqueue *sigq;
} __attribute__((preserve_access_index));

static __always_inline struct path *file_path(struct file *f)
{
	if (bpf_core_field_exists(f->__f_path))
		return &f->__f_path;
	return &((struct file___fpath *)f)->f_path;
}

/* the first word of mm->flags: dumpable, MMF_* bits below 64 */
static __always_inline __u64 mm_flags_word(struct mm_struct *mm)
{
	if (bpf_core_type_exists(mm_flags_t))
		return BPF_CORE_READ(mm, flags.__mm_flags[0]);
	return BPF_CORE_READ((struct mm_struct___ulflags *)mm, flags);
}

/* a POSIX timer's queued siginfo, embedded or behind a pointer */
static __always_inline struct kernel_siginfo *timer_info(struct k_itimer *t)
{
	struct sigqueue *q;

	if (bpf_core_field_size(t->sigq) == sizeof(void *)) {
		q = BPF_CORE_READ((struct k_itimer___sigqptr *)t, sigq);
		return q ? &q->info : 0;
	}
	return &t->sigq.info;
}

#endif
