// SPDX-License-Identifier: GPL-2.0
/*
 * The network lock: a tc classifier (direct action) on the devices of
 * locked connections drops every TCP segment whose addresses and ports
 * are in locked_conns.  While the tree is down its sockets are gone, and
 * the kernel answers a segment for a socket it does not know with a
 * reset (tcp_v4_rcv -> tcp_v4_send_reset): dropped, the peer only
 * retransmits until restore has the socket back.  No kernel structure
 * is read: packet bytes only, through bpf_skb_load_bytes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpfckpt/netlock.h"
#include "refuse.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define PROTO_TCP	6

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETLOCK_MAX);
	__type(key, struct netlock_key);
	__type(value, __u64);
} locked_conns SEC(".maps");

/*
 * lo and Ethernet devices only (user/netlock.c attaches to no other):
 * at tc, ingress and egress, the data starts at the 14-byte MAC header
 */
#define L3	14

static __always_inline int load_v4(struct __sk_buff *skb, struct netlock_key *k,
				   __u32 *l4)
{
	__u8 vihl, proto;

	if (bpf_skb_load_bytes(skb, L3, &vihl, 1) ||
	    bpf_skb_load_bytes(skb, L3 + 9, &proto, 1))
		return -1;
	if (proto != PROTO_TCP || (vihl >> 4) != 4)
		return -1;
	if (bpf_skb_load_bytes(skb, L3 + 12, k->saddr, 4) ||
	    bpf_skb_load_bytes(skb, L3 + 16, k->daddr, 4))
		return -1;
	k->family = 2;
	*l4 = L3 + (vihl & 0xf) * 4;
	return 0;
}

/* only a TCP header right after the IPv6 one: we never lock others */
static __always_inline int load_v6(struct __sk_buff *skb, struct netlock_key *k,
				   __u32 *l4)
{
	__u8 next;

	if (bpf_skb_load_bytes(skb, L3 + 6, &next, 1) || next != PROTO_TCP)
		return -1;
	if (bpf_skb_load_bytes(skb, L3 + 8, k->saddr, 16) ||
	    bpf_skb_load_bytes(skb, L3 + 24, k->daddr, 16))
		return -1;
	k->family = 10;
	*l4 = L3 + 40;
	return 0;
}

SEC("tc")
int netlock_drop(struct __sk_buff *skb)
{
	struct netlock_key k = {};
	__u32 l4 = 0;
	__u16 ports[2];
	int ret;

	REFUSE_IF(0);
	if (skb->protocol == bpf_htons(ETH_P_IP))
		ret = load_v4(skb, &k, &l4);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		ret = load_v6(skb, &k, &l4);
	else
		return TC_ACT_OK;
	/* the verifier wants the offset bounded: an IPv4 header is at most 60 */
	if (ret || l4 > L3 + 60 || bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
		return TC_ACT_OK;
	k.sport = ports[0];
	k.dport = ports[1];
	return bpf_map_lookup_elem(&locked_conns, &k) ? TC_ACT_SHOT : TC_ACT_OK;
}
