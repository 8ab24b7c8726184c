/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The network lock (bpf/netlock.bpf.c, user/netlock.c): TCP connections
 * whose process is down between snap --kill and restore, one map entry
 * per direction.  Shared with BPF: fixed-width fields only.
 */
#ifndef BPFCKPT_NETLOCK_H
#define BPFCKPT_NETLOCK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* a packet's addresses and ports as on the wire (network byte order) */
struct netlock_key {
	__u8 saddr[16];		/* an IPv4 address in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;		/* AF_INET 2, AF_INET6 10 */
	__u16 pad;
};

#define NETLOCK_MAX	4096
/* the tc filter's handle and priority on each device (ingress, egress) */
#define NETLOCK_HANDLE	0x12b
#define NETLOCK_PRIO	0x12b

#endif
