/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Open files: the ring-buffer record of bpf/files.bpf.c (iter/task_file)
 * and the image record of one file descriptor.
 */
#ifndef BPFCKPT_FILES_H
#define BPFCKPT_FILES_H

#include "bpfckpt/common.h"
#include "bpfckpt/image.h"
#include "bpfckpt/tty.h"

struct rec_file {
	struct rec_hdr h;
	__s32 tgid;		/* reader's namespace */
	__s32 fd;
	__u32 f_flags;		/* O_* as the file holds them */
	__u32 f_mode;		/* FMODE_* */
	__u64 pos;
	__u64 dev;
	__u64 ino;
	__u64 rdev;
	__u64 size;
	__u64 sb_magic;
	__u32 mode;		/* inode mode: S_IFMT and permissions */
	__u32 nlink;
	__u32 cloexec;
	__u32 err;		/* REC_ERR_* */
	__u32 sock_family;
	__u32 sock_type;
	__u32 sock_proto;
	__u32 sock_state;
	__s32 path_len;		/* bpf_d_path's result; 0: not resolved
				 * (collect_file_nopath) */
	__u32 pad;
	__u64 file;		/* struct file address: open file identity */
	/* pipes and fifos (inode->i_pipe), all 0 for the rest */
	__u32 pipe_readers;	/* read ends open anywhere */
	__u32 pipe_writers;
	__u32 pipe_pages;	/* max_usage: F_GETPIPE_SZ in pages */
	__u32 pipe_pad;
	char path[BCK_PATH_MAX];
};

/* ---- image records ---- */

#define IMG_FD_REG	1	/* regular file, reopened by path */
#define IMG_FD_DIR	2
#define IMG_FD_CHR	3	/* character device, reopened by path */
#define IMG_FD_BLK	4
#define IMG_FD_FIFO	5	/* pipe or named fifo: identity = ino */
#define IMG_FD_SOCK	6	/* identity = ino, family/type/proto */
#define IMG_FD_ANON	7	/* anon inode: eventfd, epoll, ... (path says) */
#define IMG_FD_UNIX	8	/* AF_UNIX socket: IMG_UNIX follows */
#define IMG_FD_EVENTFD	9	/* IMG_EVENTFD follows */
#define IMG_FD_TIMERFD	10	/* IMG_TIMERFD follows */
#define IMG_FD_SIGNALFD	11	/* IMG_SIGNALFD follows */
#define IMG_FD_EPOLL	12	/* IMG_EPOLL follows */
#define IMG_FD_MEMFD	13	/* IMG_FILEDATA follows */
#define IMG_FD_GONE	14	/* regular file deleted while open: IMG_FILEDATA */
#define IMG_FD_INET	15	/* TCP or UDP socket, v4 or v6: IMG_INET follows */
/* 16: IMG_FD_TTY (bpfckpt/tty.h) */
#define IMG_FD_INOTIFY	17	/* IMG_INOTIFY follows */
#define IMG_FD_FANOTIFY	18	/* IMG_FANOTIFY follows */
#define IMG_FD_KIND_MAX	18

#define IMG_FD_CLOEXEC	(1u << 0)
#define IMG_FD_DELETED	(1u << 1)	/* the inode has no name left */
#define IMG_FD_FLAGS_ALL 0x3u

/* IMG_FD: one descriptor of the current process. Trailing: path. */
struct img_fd {
	struct ckpt_hdr h;
	__s32 fd;
	__u32 kind;		/* IMG_FD_* */
	__u32 flags;		/* IMG_FD_* flags */
	__u32 open_flags;	/* O_* for reopening */
	__u64 pos;
	__u32 mode;		/* inode mode */
	__u32 sock_family;
	__u64 dev;
	__u64 ino;
	__u64 rdev;
	__u64 size;
	__u32 sock_type;
	__u32 sock_proto;
	__u32 sock_state;
	__u32 path_len;
	__u32 file_id;		/* same id: one open file description */
	__u32 reserved;
};

/*
 * IMG_PIPE: after the IMG_FD of every pipe or fifo end.  Trailing: the
 * bytes buffered in the pipe at snap time, in the first record of its
 * inode only (data_len 0 in the others).
 */
struct img_pipe {
	struct ckpt_hdr h;
	__u64 ino;		/* the IMG_FD before it has the same */
	__u32 size;		/* F_GETPIPE_SZ */
	__u32 readers;		/* read ends open anywhere at snap time */
	__u32 writers;		/* write ends (an O_RDWR fifo counts in both) */
	__u32 data_len;
	__u32 flags;		/* IMG_PIPE_* */
	__u32 reserved;
};

#define IMG_PIPE_DATA	(1u << 0)	/* the record with the inode's bytes */
#define IMG_PIPE_FLAGS_ALL 0x1u

_Static_assert(sizeof(struct img_pipe) == 40, "img_pipe layout");

/*
 * IMG_UNIX: after the IMG_FD of every AF_UNIX socket.  Trailing: the
 * receive queue, nr_msgs __u32 message lengths then their data_len
 * bytes (a stream's chunks are not boundaries; a datagram's are).
 */
struct img_unix {
	struct ckpt_hdr h;
	__u64 ino;		/* the IMG_FD before it has the same */
	__u64 peer;		/* the peer's inode, 0: none or closed */
	__u32 type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	__u32 state;		/* IMG_UNIX_* state */
	__u32 flags;		/* IMG_UNIX_F_* */
	__u32 shutdown;		/* 1: no more receiving, 2: no more sending */
	__u32 backlog;		/* a listener's */
	__u32 sndbuf;		/* SO_SNDBUF as getsockopt gives it */
	__u32 rcvbuf;
	__u32 name_len;		/* bytes of name: 0 unbound; name[0] 0: abstract */
	char name[108];		/* sun_path */
	__u32 nr_msgs;
	__u32 data_len;
	__u32 reserved;
};

#define IMG_UNIX_CLOSE		7	/* TCP_CLOSE: unconnected */
#define IMG_UNIX_ESTABLISHED	1	/* TCP_ESTABLISHED: connected */
#define IMG_UNIX_LISTEN		10	/* TCP_LISTEN */

#define IMG_UNIX_F_PASSCRED	(1u << 0)	/* SO_PASSCRED */
#define IMG_UNIX_F_RIGHTS	(1u << 1)	/* SCM_RIGHTS in its queue */
#define IMG_UNIX_F_PENDING	(1u << 2)	/* connections not accepted yet */
#define IMG_UNIX_F_QUEUED	(1u << 3)	/* this record has the queue */
#define IMG_UNIX_F_ALL		0xfu
#define IMG_UNIX_MSGS_MAX	65536

_Static_assert(sizeof(struct img_unix) == 176, "img_unix layout");

/* IMG_EVENTFD, IMG_TIMERFD, IMG_SIGNALFD: after the fd, from its fdinfo */
struct img_eventfd {
	struct ckpt_hdr h;
	__u64 count;
	__u32 semaphore;	/* EFD_SEMAPHORE */
	__u32 reserved;
};

struct img_timerfd {
	struct ckpt_hdr h;
	__u32 clockid;
	__u32 settime_flags;	/* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	__u64 ticks;		/* expirations not read yet */
	__u64 value_ns;		/* time left until the next one, 0: disarmed */
	__u64 interval_ns;
};

struct img_signalfd {
	struct ckpt_hdr h;
	__u64 sigmask;		/* bit n-1: signal n */
};

/* IMG_EPOLL: after the fd. Trailing: nr_items struct img_epoll_item */
struct img_epoll {
	struct ckpt_hdr h;
	__u32 nr_items;
	__u32 reserved;
};

struct img_epoll_item {
	__s32 tfd;		/* the fd it was added as */
	__u32 events;		/* EPOLLIN ... EPOLLET, EPOLLONESHOT */
	__u64 data;
	__u64 ino;		/* the watched file's inode, s_dev */
	__u64 dev;
};

#define IMG_EPOLL_ITEMS_MAX	65536

/*
 * IMG_FILEDATA: after the IMG_FD of a memfd or of a file deleted while
 * open.  Trailing: its content (size bytes) in the record with
 * IMG_FILEDATA_CONTENT, the first of its inode.  Also after the first
 * IMG_VMA_PRIVATE_GONE VMA of an inode, always IMG_FILEDATA_CONTENT:
 * a private mapping's file pages are the file's, not the image's.
 */
struct img_filedata {
	struct ckpt_hdr h;
	__u64 ino;
	__u64 size;
	__u32 seals;		/* F_GET_SEALS of a memfd */
	__u32 flags;		/* IMG_FILEDATA_* */
	__u32 mode;		/* permission bits */
	__u32 reserved;
};

#define IMG_FILEDATA_CONTENT	(1u << 0)	/* the record with the bytes */
#define IMG_FILEDATA_TOO_BIG	(1u << 1)	/* above snap --file-max: not saved */
#define IMG_FILEDATA_FLAGS_ALL	0x3u
#define IMG_FILEDATA_MAX	(15u << 20)	/* the most one record holds */

_Static_assert(sizeof(struct img_filedata) == 40, "img_filedata layout");

/*
 * IMG_INOTIFY: after the fd.  Trailing: nr_watches struct
 * img_notify_mark, then the paths they name (path_off/path_len into
 * these paths_len bytes, each with its NUL).  Events queued at snap time
 * are not saved.
 */
struct img_inotify {
	struct ckpt_hdr h;
	__u32 nr_watches;
	__u32 paths_len;
};

/*
 * IMG_FANOTIFY: the same, with fanotify_init()'s flags.  A mark is on an
 * inode, a mount or a filesystem (IMG_FAN_MARK_*), named by a path on it.
 */
struct img_fanotify {
	struct ckpt_hdr h;
	__u32 nr_watches;
	__u32 paths_len;
	__u32 init_flags;	/* FAN_CLASS_*, FAN_REPORT_* ... (fdinfo flags) */
	__u32 event_flags;	/* O_* of the event fds (fdinfo event-flags) */
};

#define IMG_FAN_MARK_INODE	0
#define IMG_FAN_MARK_MOUNT	1
#define IMG_FAN_MARK_FS		2

/* one inotify watch or fanotify mark */
struct img_notify_mark {
	__s32 wd;		/* inotify: its watch descriptor; fanotify: 0 */
	__u32 mask;		/* what it reports (inotify: IN_* incl. IN_ONESHOT) */
	__u32 ignored_mask;	/* fanotify only */
	__u32 flags;		/* fanotify: FAN_MARK_* it was added with */
	__u32 type;		/* fanotify: IMG_FAN_MARK_*; inotify: 0 */
	__u32 path_off;
	__u32 path_len;		/* with the NUL */
	__u32 reserved;
	__u64 ino;		/* the inode it is on (the mount's root for a mount) */
	__u64 dev;		/* s_dev, as fdinfo gives it */
};

#define IMG_NOTIFY_MARKS_MAX	65536

_Static_assert(sizeof(struct img_inotify) == 16, "img_inotify layout");
_Static_assert(sizeof(struct img_fanotify) == 24, "img_fanotify layout");
_Static_assert(sizeof(struct img_notify_mark) == 48, "img_notify_mark layout");

/*
 * IMG_INET: after the IMG_FD of every TCP or UDP socket (AF_INET,
 * AF_INET6).  Addresses and ports in network byte order, an AF_INET
 * address in the first 4 bytes.  An established TCP connection also has
 * what TCP_REPAIR gives (seqs, options, window) and trailing: its send
 * queue (outq_len bytes, the last unsent_len of them never sent) then
 * its receive queue (inq_len bytes), in the record with
 * IMG_INET_F_QUEUED, the first of its inode.
 */
struct img_inet {
	struct ckpt_hdr h;
	__u64 ino;		/* the IMG_FD before it has the same */
	__u32 family;		/* AF_INET, AF_INET6 */
	__u32 type;		/* SOCK_STREAM, SOCK_DGRAM */
	__u32 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	__u32 state;		/* TCP_* (a UDP socket: TCP_CLOSE or _ESTABLISHED) */
	__u8 src[16];		/* getsockname */
	__u8 dst[16];		/* getpeername; 0: not connected */
	__u16 sport;
	__u16 dport;
	__u32 flags;		/* IMG_INET_F_* */
	__u32 backlog;		/* a listener's */
	__u32 keepidle;		/* TCP_KEEPIDLE, _KEEPINTVL, _KEEPCNT */
	__u32 keepintvl;
	__u32 keepcnt;
	/* established TCP only (IMG_INET_F_REPAIR), else 0 */
	__u32 snd_seq;		/* TCP_QUEUE_SEQ of the send queue: write_seq */
	__u32 rcv_seq;		/* of the receive queue: rcv_nxt */
	__u32 outq_len;
	__u32 unsent_len;
	__u32 inq_len;
	__u32 mss;		/* TCP_MAXSEG in repair mode: mss_clamp */
	__u32 opts;		/* TCPI_OPT_* of tcp_info */
	__u32 snd_wscale;
	__u32 rcv_wscale;
	__u32 timestamp;	/* TCP_TIMESTAMP */
	__u32 snd_wl1;		/* struct tcp_repair_window */
	__u32 snd_wnd;
	__u32 max_window;
	__u32 rcv_wnd;
	__u32 rcv_wup;
	__u32 sndbuf;		/* SO_SNDBUF, SO_RCVBUF as getsockopt gives them */
	__u32 rcvbuf;
	__u32 reserved;
};

#define IMG_INET_F_REUSEADDR	(1u << 0)
#define IMG_INET_F_REUSEPORT	(1u << 1)
#define IMG_INET_F_KEEPALIVE	(1u << 2)
#define IMG_INET_F_NODELAY	(1u << 3)
#define IMG_INET_F_V6ONLY	(1u << 4)
#define IMG_INET_F_BROADCAST	(1u << 5)
#define IMG_INET_F_REPAIR	(1u << 6)	/* established TCP: the fields below */
#define IMG_INET_F_QUEUED	(1u << 7)	/* this record has the queues */
#define IMG_INET_F_PENDING	(1u << 8)	/* a listener: connections not accepted */
#define IMG_INET_F_NETNS	(1u << 9)	/* not in bpfckpt's network namespace */
#define IMG_INET_F_ALL		0x3ffu
#define IMG_INET_QUEUE_MAX	(8u << 20)	/* per queue */

_Static_assert(sizeof(struct img_inet) == 160, "img_inet layout");

_Static_assert(sizeof(struct img_eventfd) == 24, "img_eventfd layout");
_Static_assert(sizeof(struct img_timerfd) == 40, "img_timerfd layout");
_Static_assert(sizeof(struct img_signalfd) == 16, "img_signalfd layout");
_Static_assert(sizeof(struct img_epoll) == 16, "img_epoll layout");
_Static_assert(sizeof(struct img_epoll_item) == 32, "img_epoll_item layout");

#endif
