// SPDX-License-Identifier: GPL-2.0
/*
 * iter/task_vma collector: every VMA of one process (pid-filtered link).
 * vma->vm_file is an untrusted pointer to the verifier (no
 * vm_area_struct__safe_trusted type lists it, not even for the
 * open-coded VMA iterator), so bpf_d_path cannot take it: the backing
 * inode's identity is recorded and the user side resolves the path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "bpfckpt/mm.h"
#include "collect.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static const struct rec_vma zero_vma;

SEC("iter/task_vma")
int collect_vma(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct vm_special_mapping *sm;
	struct inode *inode;
	struct file *file;
	struct rec_vma *r;
	const char *name;

	REFUSE_IF(0);
	if (!task || !vma)
		return 0;
	if (!rec_reserve(r, REC_VMA))
		return 0;
	rec_zero(r, &zero_vma);
	r->tgid = pid_nr_at(task->group_leader->thread_pid, reader_level());
	r->start = vma->vm_start;
	r->end = vma->vm_end;
	r->vm_flags = vma->vm_flags;
	r->pgoff = vma->vm_pgoff;
	file = vma->vm_file;
	if (file) {
		inode = file->f_inode;
		r->has_file = 1;
		r->dev = inode->i_sb->s_dev;
		r->ino = inode->i_ino;
		r->size = inode->i_size;
		r->mode = inode->i_mode;
		r->nlink = inode->__i_nlink;
		r->sb_magic = inode->i_sb->s_magic;
	} else if (vma->vm_ops) {
		/*
		 * A file-less VMA with vm_ops is a special mapping
		 * (_install_special_mapping): vm_private_data points to its
		 * struct vm_special_mapping, whose name /proc/PID/maps shows.
		 */
		r->has_ops = 1;
		sm = vma->vm_private_data;
		name = BPF_CORE_READ(sm, name);
		if (name)
			bpf_probe_read_kernel_str(r->special, sizeof(r->special), name);
	}
	bpf_ringbuf_submit(r, 0);
	pace(ctx->meta->seq);
	return 0;
}
