// SPDX-License-Identifier: GPL-2.0
/*
 * Files reopened by their path: regular files, directories, devices.
 * The path, the open flags and the offset are the whole state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fd.h"
#include "inject.h"

/*
 * The new process will open it with these flags: try it here, so that a
 * file that stat() finds but open() refuses (EROFS for a writer, EACCES,
 * ETXTBSY) stops the restore before anything exists.  Only regular files
 * and directories: opening a device can have side effects (a tty, a
 * tape), so for those access() checks the mode.
 */
static int check_reopen(struct verdict *v, const struct img_proc *p,
			const struct m_fd *mf)
{
	const struct img_fd *f = mf->f;
	int acc = f->open_flags & O_ACCMODE, fd;

	if (f->open_flags & O_PATH)
		return 0;
	if (f->kind == IMG_FD_REG || f->kind == IMG_FD_DIR) {
		fd = open(mf->path, (f->open_flags & FD_REOPEN_FLAGS) | O_NOCTTY |
			  O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
	} else if (!access(mf->path, acc == O_RDWR ? R_OK | W_OK :
			   acc == O_WRONLY ? W_OK : R_OK)) {
		return 0;
	}
	return verdict_refuse(v, -errno, p->pid[0], "fd", "fd %d: %s: %s", f->fd,
			      mf->path, strerror(errno));
}

static int path_check(struct verdict *v, const struct ckpt_image *img,
		      const struct m_proc *mp, const struct m_fd *mf)
{
	static const mode_t types[] = {
		[IMG_FD_REG] = S_IFREG, [IMG_FD_DIR] = S_IFDIR,
		[IMG_FD_CHR] = S_IFCHR, [IMG_FD_BLK] = S_IFBLK,
	};
	static const char *const names[] = {
		[IMG_FD_REG] = "regular file", [IMG_FD_DIR] = "directory",
		[IMG_FD_CHR] = "character device", [IMG_FD_BLK] = "block device",
	};
	const struct img_fd *f = mf->f;
	struct stat st;

	if (f->flags & IMG_FD_DELETED)
		return verdict_refuse(v, -ENOENT, mp->p->pid[0], "fd",
				      "fd %d: file %s was deleted before the snap",
				      f->fd, mf->path);
	if (stat(mf->path, &st))
		return verdict_refuse(v, -errno, mp->p->pid[0], "fd", "fd %d: %s: %s",
				      f->fd, mf->path, strerror(errno));
	if ((st.st_mode & S_IFMT) != types[f->kind])
		return verdict_refuse(v, -EINVAL, mp->p->pid[0], "fd",
				      "fd %d: %s is no longer a %s", f->fd, mf->path,
				      names[f->kind]);
	return check_reopen(v, mp->p, mf);
}

static void path_open(struct restore_ctx *ctx, uint32_t idx, const struct m_fd *mf,
		      int at)
{
	const struct img_fd *f = mf->f;
	int fd, flags = (f->open_flags & FD_REOPEN_FLAGS) | O_NOCTTY;

	fd = open(mf->path, flags);
	if (fd < 0)
		rst_child_fail(ctx, idx, -errno, "fd %d: open %s", f->fd, mf->path);
	if (f->pos && !(f->open_flags & O_PATH) &&
	    lseek(fd, f->pos, SEEK_SET) < 0 && errno != ESPIPE)
		rst_child_fail(ctx, idx, -errno, "fd %d: lseek %s to %llu", f->fd,
			       mf->path, (unsigned long long)f->pos);
	if (fd != at) {
		if (dup2(fd, at) < 0)
			rst_child_fail(ctx, idx, -errno, "fd %d: dup2", f->fd);
		close(fd);
	}
}

const struct fd_kind fd_reg_kind = {
	.name = "reg", .check = path_check, .open = path_open,
};
const struct fd_kind fd_dir_kind = {
	.name = "dir", .check = path_check, .open = path_open,
};
const struct fd_kind fd_chr_kind = {
	.name = "chr", .check = path_check, .open = path_open,
};
const struct fd_kind fd_blk_kind = {
	.name = "blk", .check = path_check, .open = path_open,
};
