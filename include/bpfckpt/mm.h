/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory: the ring-buffer record of bpf/mm.bpf.c (iter/task_vma) and the
 * image records of VMAs and page chunks.
 */
#ifndef BPFCKPT_MM_H
#define BPFCKPT_MM_H

#include "bpfckpt/common.h"
#include "bpfckpt/image.h"

struct rec_vma {
	struct rec_hdr h;
	__s32 tgid;		/* reader's namespace */
	__u32 err;		/* REC_ERR_* */
	__u64 start;
	__u64 end;
	__u64 vm_flags;		/* kernel VM_* bits */
	__u64 pgoff;		/* in pages */
	__u32 has_file;
	__u32 has_ops;		/* file-less with vm_ops: a special mapping */
	__u64 dev;		/* backing inode, if has_file */
	__u64 ino;
	__u64 size;
	__u64 sb_magic;
	__u32 mode;
	__u32 nlink;
	char special[BCK_SPECIAL_LEN];
	/*
	 * No path: bpf_d_path refuses vma->vm_file (an untrusted pointer
	 * on this verifier); the user side reads /proc/PID/map_files/
	 * START-END and checks it leads to dev/ino.
	 */
};

/* Kernel VM_* flags we interpret (include/linux/mm.h, stable for years). */
#define KVM_READ	0x00000001ULL
#define KVM_WRITE	0x00000002ULL
#define KVM_EXEC	0x00000004ULL
#define KVM_SHARED	0x00000008ULL
#define KVM_MAYWRITE	0x00000020ULL
#define KVM_MAYEXEC	0x00000040ULL
#define KVM_MAYSHARE	0x00000080ULL
#define KVM_GROWSDOWN	0x00000100ULL
#define KVM_UFFD_MISSING 0x00000200ULL
#define KVM_PFNMAP	0x00000400ULL
#define KVM_UFFD_WP	0x00001000ULL
#define KVM_LOCKED	0x00002000ULL
#define KVM_IO		0x00004000ULL
#define KVM_SEQ_READ	0x00008000ULL
#define KVM_RAND_READ	0x00010000ULL
#define KVM_DONTCOPY	0x00020000ULL
#define KVM_DONTEXPAND	0x00040000ULL
#define KVM_LOCKONFAULT	0x00080000ULL
#define KVM_ACCOUNT	0x00100000ULL
#define KVM_NORESERVE	0x00200000ULL
#define KVM_HUGETLB	0x00400000ULL
#define KVM_SYNC	0x00800000ULL
#define KVM_WIPEONFORK	0x02000000ULL
#define KVM_DONTDUMP	0x04000000ULL
#define KVM_MIXEDMAP	0x10000000ULL
#define KVM_HUGEPAGE	0x20000000ULL
#define KVM_NOHUGEPAGE	0x40000000ULL
#define KVM_MERGEABLE	0x80000000ULL

/* ---- image records ---- */

#define IMG_VMA_ANON		1	/* private anonymous */
#define IMG_VMA_FILE		2	/* private file mapping */
#define IMG_VMA_SHARED_FILE	3	/* MAP_SHARED of a file */
#define IMG_VMA_SHARED_ANON	4	/* MAP_SHARED|MAP_ANONYMOUS (shmem) */
#define IMG_VMA_HEAP		5	/* [heap]: anon covering start_brk..brk */
#define IMG_VMA_STACK		6	/* [stack]: anon holding start_stack */
#define IMG_VMA_VDSO		7
#define IMG_VMA_VVAR		8
#define IMG_VMA_VVAR_VCLOCK	9
#define IMG_VMA_SYSV_SHM	10	/* shmat() of a SysV segment */
#define IMG_VMA_SHARED_GONE	11	/* MAP_SHARED of a memfd or deleted file:
					 * its pages are the file's content */
#define IMG_VMA_PRIVATE_GONE	12	/* MAP_PRIVATE of a memfd or deleted file:
					 * its pages are its private ones, as
					 * IMG_VMA_FILE's; the file's content is
					 * in the IMG_FILEDATA right after the
					 * first such VMA of its inode */
#define IMG_VMA_KIND_MAX	12

/* the F_SEAL_* bits an img_vma's seals may hold: SEAL..EXEC */
#define IMG_VMA_SEALS		0x3fu

/* IMG_VMA: one VMA of the current process. Trailing: path (with NUL). */
struct img_vma {
	struct ckpt_hdr h;
	__u64 start;
	__u64 end;
	__u64 pgoff;		/* file offset in bytes */
	__u64 vm_flags;		/* kernel VM_* as snapped */
	__u32 kind;		/* IMG_VMA_* */
	__u32 prot;		/* PROT_* */
	__u32 map_flags;	/* MAP_PRIVATE/SHARED/GROWSDOWN/NORESERVE */
	__u32 mode;		/* backing inode mode, 0 if none */
	__u64 dev;		/* backing inode identity */
	__u64 ino;
	__u64 size;		/* backing file size at snap */
	__u32 path_len;		/* 0 if no path */
	__u32 seals;		/* IMG_VMA_*_GONE: F_GET_SEALS of the
				 * file (0 in images from before it was read) */
};

/*
 * IMG_PAGES: a chunk of page contents for the current process,
 * <nr, vaddrs[nr], pages[nr]> as in linux-cr's v5 format.  After the
 * record (h.len bytes) come `pad` zero bytes so that the page data
 * starts page-aligned in the file; nr * page_size bytes of data follow
 * and the next record starts right after them.
 */
struct img_pages {
	struct ckpt_hdr h;
	__u32 nr;
	__u32 pad;
	/* __u64 vaddr[nr], strictly increasing, page-aligned */
};

#define IMG_PAGES_MAX	(1u << 18)	/* pages per chunk (1 GiB) */

/*
 * IMG_PAGE_SUMS: right after each IMG_PAGES chunk's data, the XXH3-64 of
 * each piece of IMG_PIECE_PAGES pages of it (the last piece may be
 * shorter).  The tail's checksum covers every byte but page data, these
 * sums included: page data is checked piece by piece, so that a lazy
 * restore checks what it serves without reading the whole image first.
 */
#define IMG_PIECE_PAGES	64

struct img_page_sums {
	struct ckpt_hdr h;
	__u32 piece_pages;	/* IMG_PIECE_PAGES */
	__u32 nr;		/* pieces of the chunk before */
	/* __u64 sum[nr] */
};

/*
 * IMG_ZPAGES (snap --compress): a chunk of page contents for the current
 * process, compressed with zstd piece by piece: each piece of
 * piece_pages pages (the last may be shorter) is one independent zstd
 * frame, so that one page is had by decompressing its piece alone.
 * After the fixed part: __u64 vaddr[nr] (as in IMG_PAGES), __u32
 * zlen[nr_pieces] padded to 8 bytes, then the frames back to back.
 * The record is ordinary data: the tail's checksum covers all of it,
 * so no IMG_PAGE_SUMS follows.
 */
struct img_zpages {
	struct ckpt_hdr h;
	__u32 nr;		/* pages */
	__u32 nr_pieces;	/* (nr + piece_pages - 1) / piece_pages */
	__u32 piece_pages;	/* IMG_PIECE_PAGES */
	__u32 reserved;		/* 0 */
};

_Static_assert(sizeof(struct img_zpages) == 24, "img_zpages layout");

/* pieces per record: their zstd bound stays below IMG_REC_MAX */
#define IMG_ZPAGES_PIECES_MAX	48

#define IMG_VDSO_SYMS_MAX	64
#define IMG_VDSO_NAME_LEN	32

struct img_vdso_sym {
	__u64 offset;			/* from the vdso's start */
	char name[IMG_VDSO_NAME_LEN];	/* NUL-terminated */
};

/*
 * IMG_VDSO: the vdso the process had, as its symbols: a restore on a
 * kernel whose vdso differs knows where the program's code expects
 * each function.  Trailing: nr_syms struct img_vdso_sym.
 */
struct img_vdso {
	struct ckpt_hdr h;
	__u64 size;			/* bytes of the [vdso] VMA */
	__u32 nr_syms;
	__u32 reserved;
};

/* IMG_GUARD: a guard region (MADV_GUARD_INSTALL) inside a VMA */
struct img_guard {
	struct ckpt_hdr h;
	__u64 start;
	__u64 end;
};

/*
 * IMG_COW: the pages of start..end that this process shares copy-on-write
 * with its parent (the same physical pages at the same addresses, as
 * fork left them): not stored again, they are the parent's pages there.
 * Inside one VMA of the process that its parent has too (same range).
 */
struct img_cow {
	struct ckpt_hdr h;
	__u64 start;
	__u64 end;
};

#endif
