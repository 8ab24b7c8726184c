// SPDX-License-Identifier: GPL-2.0
/*
 * What inotify.c and fanotify.c share: the marks of a group as fdinfo
 * shows them (fs/notify/fdinfo.c), each with a path found for it, and
 * the check that those paths still lead somewhere at restore.
 *
 * fdinfo names an inode mark by its inode and a file handle
 * (show_mark_fhandle()); open_by_handle_at() on a mount of that
 * filesystem opens the inode again and /proc/self/fd gives its path,
 * kept only if stat() of it leads to the same inode.  A mount mark
 * names its mount by id, a filesystem mark its s_dev: the target's
 * mountinfo gives a mount point for each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fd.h"

#define HANDLE_MAX	128	/* MAX_HANDLE_SZ */

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

/*
 * The next mount point of @pid's mountinfo from *@f on that has mount id
 * @mnt_id (>= 0) or device @kdev (@mnt_id < 0), into @buf; 0 if one is
 * found, -ENOENT at the end
 */
static int next_mount(FILE *f, int mnt_id, uint64_t kdev, char *buf, size_t size)
{
	char line[BCK_PATH_MAX * 2 + 256], root[BCK_PATH_MAX], point[BCK_PATH_MAX];
	unsigned int maj, min;
	int id, parent;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d %d %u:%u %4095s %4095s", &id, &parent, &maj, &min,
			   root, point) != 6)
			continue;
		if (mnt_id >= 0 ? id != mnt_id :
		    (kdev >> 20) != maj || (kdev & 0xfffff) != min)
			continue;
		unescape(point);
		if (strlen(point) >= size)
			continue;
		strcpy(buf, point);
		return 0;
	}
	return -ENOENT;
}

static FILE *open_mountinfo(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	return fopen(path, "re");
}

int notify_mount_path(pid_t pid, int mnt_id, uint64_t kdev, char *buf, size_t size)
{
	FILE *f = open_mountinfo(pid);
	int ret;

	if (!f)
		return -errno;
	ret = next_mount(f, mnt_id, kdev, buf, size);
	fclose(f);
	return ret;
}

/* "fhandle-bytes:%x fhandle-type:%x f_handle:HEX" after @p */
static int parse_handle(const char *p, struct file_handle *fh)
{
	unsigned int bytes, type, i, b;
	const char *hex;

	p = strstr(p, "fhandle-bytes:");
	if (!p || sscanf(p, "fhandle-bytes:%x fhandle-type:%x", &bytes, &type) != 2 ||
	    bytes > HANDLE_MAX || !(hex = strstr(p, "f_handle:")))
		return -EPROTO;
	hex += strlen("f_handle:");
	for (i = 0; i < bytes; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -EPROTO;
		fh->f_handle[i] = (unsigned char)b;
	}
	fh->handle_bytes = bytes;
	fh->handle_type = (int)type;
	return 0;
}

/* the inode of @fh through mount point @point, if it is @kdev/@ino */
static int path_through(const char *point, struct file_handle *fh, uint64_t kdev,
			uint64_t ino, char *buf, size_t size)
{
	char link[64];
	struct stat st;
	int mfd, fd, ret = -ENOENT;
	ssize_t n;

	/* not O_PATH: open_by_handle_at() takes it with fdget(), EBADF */
	mfd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	/* CAP_DAC_READ_SEARCH (fs/fhandle.c); O_PATH: no open of a device or fifo */
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size);
	if (n > 0 && (size_t)n < size) {
		buf[n] = 0;
		/* a disconnected dentry gives "/" or a name no lookup finds */
		if (buf[0] == '/' && !lstat(buf, &st) && st.st_ino == ino &&
		    ((kdev >> 20) == 0 || kdev_is(kdev, st.st_dev)))
			ret = 0;
	}
	close(fd);
	return ret;
}

int notify_inode_path(pid_t pid, const char *line, uint64_t kdev, uint64_t ino,
		      char *buf, size_t size)
{
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	char point[BCK_PATH_MAX];
	FILE *f;
	int ret;

	ret = parse_handle(line, &h.fh);
	if (ret)
		return ret;
	f = open_mountinfo(pid);
	if (!f)
		return -errno;
	ret = -ENOENT;
	while (ret && !next_mount(f, -1, kdev, point, sizeof(point)))
		ret = path_through(point, &h.fh, kdev, ino, buf, size);
	fclose(f);
	return ret ? -ENOENT : 0;
}

int notify_add(struct notify_marks *m, const struct img_notify_mark *mark,
	       const char *path)
{
	struct img_notify_mark k = *mark;
	size_t len = path ? strlen(path) + 1 : 0;
	char *p;
	int ret;

	if (m->n == IMG_NOTIFY_MARKS_MAX || m->paths_len + len > IMG_REC_MAX / 2)
		return -EFBIG;
	k.path_off = m->paths_len;
	k.path_len = len;
	if (len) {
		p = realloc(m->paths, m->paths_len + len);
		if (!p)
			return -ENOMEM;
		m->paths = p;
		memcpy(p + m->paths_len, path, len);
		m->paths_len += len;
	}
	ret = vec_push(m->marks, m->n, m->cap, k);
	return ret;
}

static void notify_free(struct notify_marks *m)
{
	free(m->marks);
	free(m->paths);
	memset(m, 0, sizeof(*m));
}

int notify_finish(struct notify_marks *m, int err, struct ckpt_hdr *h, uint32_t type,
		  __u32 *nr, __u32 *paths_len, uint8_t **data, uint32_t *len)
{
	size_t marks = (size_t)m->n * sizeof(*m->marks);
	uint8_t *d = err ? NULL : malloc(marks + m->paths_len + 1);

	if (!d) {
		notify_free(m);
		return err ? err : -ENOMEM;
	}
	if (marks)
		memcpy(d, m->marks, marks);
	if (m->paths_len)
		memcpy(d + marks, m->paths, m->paths_len);
	h->type = type;
	*nr = m->n;
	*paths_len = m->paths_len;
	*data = d;
	*len = marks + m->paths_len;
	notify_free(m);
	return 0;
}

void notify_mark(const struct m_fd *mf, uint32_t i, struct img_notify_mark *out,
		 const char **path)
{
	uint32_t nr = ((const struct img_inotify *)mf->ext)->nr_watches;
	const char *paths = (const char *)mf->data + (size_t)nr * sizeof(*out);

	memcpy(out, mf->data + (size_t)i * sizeof(*out), sizeof(*out));
	*path = out->path_len ? paths + out->path_off : NULL;
}

int notify_check(struct verdict *v, const struct m_proc *mp, const struct m_fd *mf,
		 const char *what)
{
	uint32_t nr = ((const struct img_inotify *)mf->ext)->nr_watches, i;
	struct img_notify_mark k;
	const char *path;
	struct stat st;
	int ret;

	for (i = 0; i < nr; i++) {
		notify_mark(mf, i, &k, &path);
		if (!path)
			ret = verdict_refuse(v, -ENOENT, mp->p->pid[0], "fd", "fd %d: %s "
					     "on inode %llu (device %llu:%llu): no path "
					     "leads to it (deleted?)", mf->f->fd, what,
					     (unsigned long long)k.ino,
					     (unsigned long long)k.dev >> 20,
					     (unsigned long long)k.dev & 0xfffff);
		else if (lstat(path, &st))
			ret = verdict_refuse(v, -errno, mp->p->pid[0], "fd", "fd %d: %s "
					     "on %s: %s", mf->f->fd, what, path,
					     strerror(errno));
		else
			ret = 0;
		if (ret)
			return ret;
	}
	return 0;
}
