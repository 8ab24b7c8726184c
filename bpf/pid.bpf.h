/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pid numbers as the reader sees them: a task's number at the pid
 * namespace level of the bpfckpt process, shared by the collectors and
 * the tracer.
 */
#ifndef BPFCKPT_PID_BPF_H
#define BPFCKPT_PID_BPF_H

/* pid number of @pid at namespace @level, 0 when not visible there */
static __always_inline __s32 pid_nr_at(struct pid *pid, __u32 level)
{
	struct upid up = {};
	__u32 max;

	if (!pid)
		return 0;
	max = BPF_CORE_READ(pid, level);
	if (level > max)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level]);
	return up.nr;
}

static __always_inline __u32 reader_level(void)
{
	struct task_struct *me = bpf_get_current_task_btf();

	return BPF_CORE_READ(me, thread_pid, level);
}

#endif
