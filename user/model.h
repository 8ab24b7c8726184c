/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An image loaded and validated: processes with their threads, VMAs, fds,
 * signals, timers and page chunks, all pointing into the mapped file.
 * Used by show and restore; nothing here trusts the file.
 */
#ifndef BPFCKPT_MODEL_H
#define BPFCKPT_MODEL_H

#include "img.h"
#include "bpfckpt/chain.h"
#include "bpfckpt/files.h"
#include "bpfckpt/ipc.h"
#include "bpfckpt/locks.h"
#include "bpfckpt/mm.h"
#include "bpfckpt/ns.h"
#include "bpfckpt/task.h"

struct m_filter {
	const struct img_seccomp *s;
	const void *insns;	/* s->nr_insns struct sock_filter */
};

struct m_thread {
	const struct img_thread *t;
	const void *regs;
	const void *xstate;
	const struct img_thread_ext *ext;	/* NULL in older images */
	struct m_filter *filters;		/* ext->nr_filters, oldest first */
	uint32_t nr_filters;
};

struct m_vma {
	const struct img_vma *v;
	const char *path;	/* NULL if none */
	/* IMG_VMA_PRIVATE_GONE: the IMG_FILEDATA after it, if any */
	const struct img_filedata *fdata;
	const uint8_t *data;	/* its content */
	uint32_t index;		/* of the record */
};

struct m_fd {
	const struct img_fd *f;
	const char *path;
	const struct ckpt_hdr *ext;	/* the kind's record after it (IMG_PIPE) */
	const uint8_t *data;		/* its trailing bytes */
};

struct m_pages {
	uint32_t nr;
	const uint64_t *vaddrs;
	const uint8_t *data;
	uint64_t data_off;	/* in the file */
	const struct img_page_sums *sums;	/* the record after the data */
	uint64_t index;		/* its record number */
	/*
	 * IMG_ZPAGES (z.nr != 0): data is an anonymous mapping of ours,
	 * decompressed at load, or piece by piece with img_zpiece() when
	 * the image was loaded IMG_OPEN_LAZY or IMG_OPEN_NO_CHECKSUM.
	 */
	struct img_zview z;
	uint8_t *zbuf;
};

struct m_proc {
	const struct img_proc *p;
	const struct img_proc_ext *ext;		/* NULL in older images */
	const struct img_ns *ns;		/* NULL: its parent's namespaces */
	const char *exe, *cwd, *root;	/* NULL if none */
	struct m_thread *threads;
	uint32_t nr_threads, cap_threads;
	struct m_vma *vmas;
	uint32_t nr_vmas, cap_vmas;
	struct m_fd *fds;
	uint32_t nr_fds, cap_fds;
	const struct img_lock *locks;	/* IMG_LOCKS: nr_locks, by fd */
	uint32_t nr_locks;
	bool has_locks;
	const struct img_siginfo **sigs;
	uint32_t nr_sigs, cap_sigs;
	const struct img_timer **timers;
	uint32_t nr_timers, cap_timers;
	const struct img_sem_undo **undo;	/* SEM_UNDO adjustments, per set */
	uint32_t nr_undo, cap_undo;
	const struct img_vdso *vdso;		/* NULL: none recorded */
	const struct img_vdso_sym *vdso_syms;
	const struct img_guard **guards;
	uint32_t nr_guards, cap_guards;
	const struct img_cow **cows;	/* shared with the parent, in order */
	uint32_t nr_cows, cap_cows;
	uint64_t nr_cow_pages;
	struct m_pages *pages;
	uint32_t nr_chunks, cap_chunks;
	uint64_t nr_pages;
	/* IMG_INHERIT: once the chain is resolved, pages[] holds those too */
	const struct img_inherit **inh;
	uint32_t nr_inh, cap_inh;
	uint64_t nr_inherited;		/* pages taken from the parent */
	struct m_pages *own;		/* this image's chunks, if pages[] is merged */
	uint32_t nr_own;
	int32_t parent;		/* index of the parent in procs[], -1: none */
};

struct m_shm {
	const struct img_shm *s;
	const struct img_shm_data **data;	/* offsets increasing */
	uint32_t nr_data, cap_data;
};

struct m_msq {
	const struct img_msq *q;
	const struct img_msg **msgs;		/* oldest first */
	uint32_t nr_msgs, cap_msgs;
};

/* the tree's SysV IPC objects (ipc.c); ns NULL: the image has none */
struct m_ipc {
	const struct img_ipc_ns *ns;
	struct m_shm *shm;
	uint32_t nr_shm, cap_shm;
	const struct img_sem **sem;
	uint32_t nr_sem, cap_sem;
	struct m_msq *msq;
	uint32_t nr_msq, cap_msq;
};

struct ckpt_image {
	struct img_reader r;
	const struct img_header *hdr;
	struct m_proc *procs;
	uint32_t nr_procs, cap_procs;
	uint64_t nr_pages;
	struct m_ipc ipc;
	/* IMG_CHAIN (pre-copy), NULL if none */
	const struct img_chain *chain;
	const struct img_chain_proc *chain_procs;
	const char *chain_parent;	/* the parent's path as recorded */
	struct ckpt_image *parent;	/* loaded, unless IMG_OPEN_NO_CHECKSUM */
};

/* the segment with id @id, NULL if none */
const struct m_shm *image_find_shm(const struct ckpt_image *img, int32_t id);

/*
 * Private anonymous memory whose pages can be shared with a child
 * copy-on-write (and come back shared: mm_cow.c)
 */
bool mm_cow_eligible(const struct img_vma *v);
/* -EINVAL with @err if an IMG_COW range is not inside such memory of both */
int mm_cow_check_model(const struct ckpt_image *img, char *err, size_t len);
/* the index of @mp's VMA holding start..end, -1 if none */
int m_vma_within(const struct m_proc *mp, uint64_t start, uint64_t end);
/* whether an IMG_COW range of @mp lies in @v */
bool m_has_cows(const struct m_proc *mp, const struct img_vma *v);

/*
 * chain.c: loads the parent of @img (recorded relative to @path's
 * directory) with its own parents, checks it is the one @img was snapped
 * against, and merges into each process's pages[] those it inherits.
 */
int chain_resolve(struct ckpt_image *img, const char *path, unsigned flags, int depth);
/* image_load() for chain.c: @depth images below the one asked for */
int image_load_at(const char *path, unsigned flags, struct ckpt_image *img, int depth);

/* -errno with img->r.err saying what and where */
int image_load(const char *path, unsigned flags, struct ckpt_image *img);
void image_free(struct ckpt_image *img);
/*
 * Decompresses the IMG_ZPAGES pieces that hold a page of a VMA @skip
 * does not skip (NULL: every piece), for an image loaded IMG_OPEN_LAZY.
 */
int image_zfill(struct ckpt_image *img, bool (*skip)(const struct img_vma *v));
/* index of the process with level-0 pid @pid, -1 if none */
int image_find(const struct ckpt_image *img, int32_t pid);
/* the first of the increasing addresses @va[from..nr) at or above @at (nr: none) */
uint32_t m_pages_lower(const uint64_t *va, uint32_t nr, uint32_t from, uint64_t at);

#endif
