/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The network lock (bpf/netlock.bpf.c): while a tree is down between
 * snap --kill and restore, the segments of its TCP connections to peers
 * outside it are dropped, so that the peer sees no reset.  The lock
 * outlives the command that takes it (a tc filter holds the program, the
 * program its map); the image says what to release (its IMG_INET
 * records), so that restore or `bpfckpt unlock IMAGE` can.
 */
#ifndef BPFCKPT_NETLOCK_USER_H
#define BPFCKPT_NETLOCK_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpfckpt/files.h"

/*
 * whether the lock can be taken here: false with the reason in @why if
 * BPFCKPT_FALLBACK=netlock or the program does not load (probed once)
 */
bool netlock_usable(char *why, size_t len);
/* drops the segments of connections @c[0..n-1] (established TCP); -errno */
int netlock_lock(const struct img_inet *const *c, uint32_t n);
/*
 * lets them through again; the filters go with the last connection
 * locked on the host.  *released: how many were locked.  -errno
 */
int netlock_unlock(const struct img_inet *const *c, uint32_t n, uint32_t *released);

/* the lock's BPF program, for bpfckpt check */
struct bpf_prog_desc;
struct bpf_prog_status;
extern const struct bpf_prog_desc netlock_prog;
void netlock_probe_status(struct bpf_prog_status *st);

#endif
