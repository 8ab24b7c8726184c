/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault injection for the loader's fallbacks (BPFCKPT_FAULT=refuse-<prog>):
 * the user side sets refuse_prog to a program's row in its table plus
 * one (user/bpfload.c), and that program then reads above its stack
 * frame, which every verifier refuses.  The tests get a real refusal,
 * with its log, on a kernel that takes our programs.  Read-only data:
 * the verifier drops the branch when refuse_prog is 0.
 */
#ifndef BPFCKPT_REFUSE_BPF_H
#define BPFCKPT_REFUSE_BPF_H

const volatile __u32 refuse_prog;

#define REFUSE_IF(row) do {						\
	if (refuse_prog == (row) + 1) {					\
		long __v;						\
		asm volatile("%0 = *(u64 *)(r10 + 8)" : "=r"(__v));	\
		return __v;						\
	}								\
} while (0)

#endif
