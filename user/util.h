/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BPFCKPT_UTIL_H
#define BPFCKPT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* grow *arr (of *cap elements of @size) to hold at least @want; -ENOMEM */
int vec_reserve(void *arr, uint32_t *cap, uint32_t want, size_t size);

/* append *val to *arr[*n], growing it; -ENOMEM */
#define vec_push(arr, n, cap, val) ({					\
	int __r = vec_reserve(&(arr), &(cap), (n) + 1, sizeof(*(arr)));	\
	if (!__r)							\
		(arr)[(n)++] = (val);					\
	__r; })

/* read a small /proc file into buf (NUL-terminated); bytes or -errno */
int read_file(const char *path, char *buf, size_t size);
/*
 * Snap reads a file's content (a memfd's, a deleted file's) through
 * /proc without touching its atime where it may (O_NOATIME is EPERM on a
 * file we do not own without CAP_FOWNER).  An fd, or -1 with errno.
 */
int open_noatime(const char *path);
/*
 * The first @size bytes of @fd into a new buffer *data (freed by the
 * caller); *got says how many came.  -ENOMEM, or -EIO if fewer came.
 */
int read_whole(int fd, uint64_t size, uint8_t **data, uint64_t *got);
/* the state letter of task @tid in /proc (R, S, T, Z, X...), 0 if gone */
char proc_state(pid_t tid);
/* gone, or a zombie */
bool proc_exited(pid_t tid);
/* BPFCKPT_FAULT=<point>: -EIO at that point, to exercise cleanup paths */
int fault_at(const char *point);
/* this boot's id (/proc/sys/kernel/random/boot_id, no newline); -errno */
int read_boot_id(char *buf, size_t size);
/* monotonic clock in ns */
uint64_t now_ns(void);
/*
 * SIGINT and SIGTERM blocked and readable from the returned fd instead:
 * a long-running command polls it with its other fds (no global flag).
 */
int stop_signals_fd(void);

#define DELETED_SUFFIX	" (deleted)"
/* @path ends as d_path() marks an unlinked dentry */
bool path_is_deleted(const char *path);
/* @path without that mark into @buf; -ENAMETOOLONG if it does not fit */
int deleted_base_name(const char *path, char *buf, size_t size);

/* a kernel dev_t (MAJOR << 20 | MINOR, as BPF reads it) is stat()'s @dev */
bool kdev_is(uint64_t kdev, dev_t dev);
/*
 * The path that /proc/PID/@link (exe, cwd, root, fd/N, map_files/S-E)
 * names, as readlink gives it (" (deleted)" included), into @buf;
 * checked to lead to the inode @kdev/@ino that BPF recorded: -ESTALE if
 * it leads elsewhere, -ENAMETOOLONG if it does not fit.
 */
int proc_link(pid_t pid, const char *link, uint64_t kdev, uint64_t ino,
	      char *buf, size_t size);

#endif
