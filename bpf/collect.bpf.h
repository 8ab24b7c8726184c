/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the snap collectors (task, mm, files): one ring buffer per
 * skeleton, a counter of records the ring buffer refused, and pacing.
 *
 * Collection must be lossless.  An iterator runs inside the reader's
 * read() on the iterator fd, so nothing drains the ring buffer while it
 * runs.  Each object therefore also writes one byte to the seq file: a
 * read() of N bytes returns after N objects, and the reader drains the
 * ring buffer between reads (see user/collect.c).  Should a reservation
 * still fail, `lost` counts it and the snap fails.
 */
#ifndef BPFCKPT_COLLECT_BPF_H
#define BPFCKPT_COLLECT_BPF_H

#include "pid.bpf.h"
#include "refuse.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Reserve a record of the type of *ptr; sets the header. */
#define rec_reserve(ptr, rec_type) ({					\
	ptr = bpf_ringbuf_reserve(&records, sizeof(*ptr), 0);		\
	if (!ptr) {							\
		count_lost();						\
	} else {							\
		ptr->h.type = (rec_type);				\
		ptr->h.size = sizeof(*ptr);				\
	}								\
	ptr; })

/*
 * Ring-buffer memory is not zeroed and large records cannot be memset
 * inline: copy from a zero-filled global of the same type instead.
 */
#define rec_zero(ptr, zero) ({						\
	struct rec_hdr __h = (ptr)->h;					\
	bpf_probe_read_kernel(ptr, sizeof(*(ptr)), zero);		\
	(ptr)->h = __h; })

static __always_inline void pace(struct seq_file *seq)
{
	__u8 one = 1;

	bpf_seq_write(seq, &one, sizeof(one));
}

static __always_inline __u64 kcap(kernel_cap_t c)
{
	return c.val;
}

#endif
