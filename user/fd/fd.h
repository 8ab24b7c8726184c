/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fd kinds: each user/fd/<kind>.c exports one table of what files.c
 * dispatches to, in the way of the kernel's file_operations.  Adding a
 * kind is one file here and one entry in files.c's kinds[].
 */
#ifndef BPFCKPT_FD_H
#define BPFCKPT_FD_H

#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include "model.h"
#include "restore.h"
#include "snap.h"
#include "util.h"
#include "verdict.h"

struct fd_kind {
	const char *name;	/* as show prints it */
	/*
	 * snap and inspect: the kind's record (@x, h.type 0 for none)
	 * from the iterator's record and what the kernel tells without
	 * stopping the tree (sock_diag, fdinfo), and trailing bytes in
	 * *data (malloc'd, *len bytes); -errno, printing nothing
	 */
	int (*fill)(union fd_ext *x, uint8_t **data, uint32_t *len,
		    const struct rec_file *r);
	/*
	 * snap only, once every fd of the tree is listed, the tree frozen:
	 * what only a look inside gives (the bytes in a pipe), into
	 * f->data (f->data_len bytes); prints its own message
	 */
	int (*peek)(struct snap_ctx *ctx, struct snap_proc *sp, struct snap_fd *f);
	/*
	 * whether restore can bring fd @mf of @mp back (verdict.h): restore,
	 * snap --kill and inspect all ask this
	 */
	int (*check)(struct verdict *v, const struct ckpt_image *img,
		     const struct m_proc *mp, const struct m_fd *mf);
	/*
	 * restore, in new process @idx: opens @mf's file at fd @at (its
	 * carrier), and the other files of the same object at theirs;
	 * fails through rst_child_fail()
	 */
	void (*open)(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		     int at);
	/*
	 * restore, in new process @idx once all its fds are at their
	 * numbers, for each of them (an epoll adds its items); optional
	 */
	void (*install)(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf);
	/*
	 * restore, in new process @idx once every process exists (its
	 * groups do), for each of its fds (a tty's foreground group);
	 * optional
	 */
	void (*settle)(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf);
};

/* files.c: the word show uses for an IMG_FD_* kind */
const char *files_kind_name(uint32_t kind);

extern const struct fd_kind fd_reg_kind, fd_dir_kind, fd_chr_kind, fd_blk_kind;
extern const struct fd_kind fd_pipe_kind;
extern const struct fd_kind fd_unix_kind;
extern const struct fd_kind fd_eventfd_kind, fd_timerfd_kind, fd_signalfd_kind;
extern const struct fd_kind fd_epoll_kind;
extern const struct fd_kind fd_memfd_kind, fd_gone_kind;
extern const struct fd_kind fd_inotify_kind, fd_fanotify_kind;
extern const struct fd_kind fd_tty_kind;

/* tty.c: a pty master or slave, by its inode's i_rdev */
bool tty_is_pty(uint64_t rdev);
extern const struct fd_kind fd_inet_kind;

/*
 * fdinfo.c: /proc/@pid/fdinfo/@fd into @buf; the value after "@key:"
 * in it (NULL if none)
 */
int fdinfo_read(pid_t pid, int fd, char *buf, size_t size);
const char *fdinfo_field(const char *buf, const char *key);
extern const struct fd_kind fd_sock_kind, fd_anon_kind;

/* fsnotify.c: the marks of an inotify or fanotify group, while filling */
struct notify_marks {
	struct img_notify_mark *marks;
	uint32_t n, cap;
	char *paths;
	uint32_t paths_len;
};

/* @mark with @path (NULL: none found) appended to @m */
int notify_add(struct notify_marks *m, const struct img_notify_mark *mark,
	       const char *path);
/*
 * The end of a fill: unless @err, @h gets @type, *@nr and *@paths_len
 * the counts, and @m becomes the record's trailing bytes (marks, then
 * paths); @m is freed either way.  Returns @err, or -errno.
 */
int notify_finish(struct notify_marks *m, int err, struct ckpt_hdr *h, uint32_t type,
		  __u32 *nr, __u32 *paths_len, uint8_t **data, uint32_t *len);
/*
 * the path of the inode @kdev/@ino whose fdinfo line @line has a file
 * handle, through a mount of its filesystem in @pid's mountinfo; -ENOENT
 * if none leads to it
 */
int notify_inode_path(pid_t pid, const char *line, uint64_t kdev, uint64_t ino,
		      char *buf, size_t size);
/* a mount point of mount @mnt_id (>= 0), or of device @kdev (@mnt_id -1) */
int notify_mount_path(pid_t pid, int mnt_id, uint64_t kdev, char *buf, size_t size);
/* mark @i of the IMG_INOTIFY or IMG_FANOTIFY after @mf, and its path */
void notify_mark(const struct m_fd *mf, uint32_t i, struct img_notify_mark *out,
		 const char **path);
/* every mark of @mf has a path that is there (@what: "inotify watch") */
int notify_check(struct verdict *v, const struct m_proc *mp, const struct m_fd *mf,
		 const char *what);

/* sockopt.c: boolean socket options, each for a flag of a kind's record */
struct sockopt_flag {
	int level, name;
	uint32_t flag;		/* IMG_INET_F_*, IMG_UNIX_F_* */
	const char *what;	/* the option's name, for messages */
};

/* an int option of @sk is non-zero; its value (0 if unreadable) */
bool sockopt_on(int sk, int level, int name);
uint32_t sockopt_val(int sk, int level, int name);
/* the flags of @opts[0..@n) whose option is on in @sk */
uint32_t sockopt_flags(int sk, const struct sockopt_flag *opts, size_t n);
/* sets on each option of @opts[0..@n) whose flag @flags has; -errno, *@what */
int sockopt_set_flags(int sk, const struct sockopt_flag *opts, size_t n, uint32_t flags,
		      const char **what);

/* the O_* flags reopening honours; creation and truncation never */
#define FD_REOPEN_FLAGS	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | \
			 O_DIRECT | O_LARGEFILE | O_NOATIME | O_PATH | O_DIRECTORY)
/* what F_SETFL changes on an open file */
#define FD_SETFL_FLAGS	(O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT | O_ASYNC)

/* the fd at which restore keeps file @file_id for the subtree below */
static inline int fd_carrier(const struct restore_ctx *ctx, uint32_t file_id)
{
	return ctx->fd_base + file_id;
}

/*
 * @fd moved above every carrier (the lowest free fd a syscall hands out
 * may be the carrier of a file opened later); -1 with errno on failure
 */
static inline int fd_above_carriers(const struct restore_ctx *ctx, int fd)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, ctx->fd_top);

	close(fd);
	return moved;
}

static inline bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

#endif
