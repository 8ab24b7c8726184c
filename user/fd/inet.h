/* SPDX-License-Identifier: GPL-2.0 */
/* TCP and UDP sockets (inet.c): what snap and restore call besides the ops */
#ifndef BPFCKPT_FD_INET_H
#define BPFCKPT_FD_INET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct snap_ctx;
struct restore_ctx;

/*
 * snap, at its end: the copies of the tree's TCP sockets closed; if the
 * tree was not killed (no --kill, or a failure), repair mode ended and
 * the network lock released first
 */
void inet_snap_done(struct snap_ctx *ctx, bool killed);
/* restore, the whole tree made: the lock released, repair mode ended */
int inet_restore_finish(struct restore_ctx *ctx);
/* the other end of connection @in is in the image too */
bool inet_peer_in_image(const struct ckpt_image *img, const struct img_inet *in);
/* "127.0.0.1:80", "[::1]:80" (@port in network order) */
void inet_addr_str(uint32_t family, const uint8_t *a, uint16_t port, char *buf,
		   size_t len);

#endif
