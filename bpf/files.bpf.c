// SPDX-License-Identifier: GPL-2.0
/*
 * iter/task_file collector: every fd of one process (pid-filtered link),
 * in two variants chosen at load time (user/collect.c):
 *   collect_file         also resolves the path with bpf_d_path, which
 *                        takes ctx->file because the iterator marks it
 *                        trusted (bpf_iter__task_file's ctx fields);
 *   collect_file_nopath  for a verifier that refuses that (or when
 *                        BPFCKPT_FALLBACK asks for it): the user side
 *                        reads /proc/PID/fd/N and checks dev/ino.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "bpfckpt/files.h"
#include "collect.bpf.h"
#include "core.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define S_IFIFO		0010000

static const struct rec_file zero_file;

static __always_inline __u32 is_cloexec(struct task_struct *task, __u32 fd)
{
	unsigned long *bits = BPF_CORE_READ(task, files, fdt, close_on_exec);
	unsigned long word = 0;

	if (!bits)
		return 0;
	bpf_probe_read_kernel(&word, sizeof(word), bits + fd / 64);
	return (word >> (fd % 64)) & 1;
}

static __always_inline void read_socket(struct rec_file *r, struct file *file)
{
	struct socket *sock = file->private_data;
	struct sock *sk = BPF_CORE_READ(sock, sk);

	r->sock_type = BPF_CORE_READ(sock, type);
	if (!sk)
		return;
	r->sock_family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->sock_state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r->sock_proto = BPF_CORE_READ(sk, sk_protocol);
}

/*
 * A pipe's counts of open ends say whether the tree holds all of them
 * (struct pipe_inode_info, include/linux/pipe_fs_i.h); max_usage is what
 * F_GETPIPE_SZ reports, in pages.  An O_PATH fifo has no i_pipe.
 */
static __always_inline void read_pipe(struct rec_file *r, struct inode *inode)
{
	struct pipe_inode_info *pipe = BPF_CORE_READ(inode, i_pipe);

	if (!pipe)
		return;
	r->pipe_readers = BPF_CORE_READ(pipe, readers);
	r->pipe_writers = BPF_CORE_READ(pipe, writers);
	r->pipe_pages = BPF_CORE_READ(pipe, max_usage);
}

static __always_inline int emit_file(struct bpf_iter__task_file *ctx, bool with_path)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct inode *inode;
	struct rec_file *r;

	if (!task || !file)
		return 0;
	if (!rec_reserve(r, REC_FILE))
		return 0;
	rec_zero(r, &zero_file);
	r->tgid = pid_nr_at(task->group_leader->thread_pid, reader_level());
	r->fd = ctx->fd;
	r->f_flags = file->f_flags;
	r->f_mode = file->f_mode;
	r->pos = file->f_pos;
	inode = file->f_inode;
	r->dev = inode->i_sb->s_dev;
	r->ino = inode->i_ino;
	r->rdev = inode->i_rdev;
	r->size = inode->i_size;
	r->mode = inode->i_mode;
	r->nlink = inode->__i_nlink;
	r->sb_magic = inode->i_sb->s_magic;
	r->cloexec = is_cloexec(task, ctx->fd);
	r->file = (__u64)file;
	if ((r->mode & S_IFMT) == S_IFSOCK)
		read_socket(r, file);
	if ((r->mode & S_IFMT) == S_IFIFO)
		read_pipe(r, inode);
	if (with_path) {
		r->path_len = bpf_d_path(file_path(file), r->path, sizeof(r->path));
		if (r->path_len < 0)
			r->err |= REC_ERR_PATH;
	}
	bpf_ringbuf_submit(r, 0);
	pace(ctx->meta->seq);
	return 0;
}

SEC("iter/task_file")
int collect_file(struct bpf_iter__task_file *ctx)
{
	REFUSE_IF(0);
	return emit_file(ctx, true);
}

SEC("iter/task_file")
int collect_file_nopath(struct bpf_iter__task_file *ctx)
{
	REFUSE_IF(1);
	return emit_file(ctx, false);
}
