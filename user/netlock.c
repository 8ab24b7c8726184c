// SPDX-License-Identifier: GPL-2.0
/*
 * The network lock, user side.  One program, attached with a fixed
 * handle and priority to tc ingress and egress of lo and of the device
 * that holds a locked connection's local address, and one map of
 * locked (addresses, ports) pairs, one entry per direction.  Each
 * command finds the attached program again through tc (bpf_tc_query),
 * and its map through the program's info: nothing is pinned.  A lock
 * file serialises the snaps and restores that change it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpfckpt/netlock.h"
#include "bpfload.h"
#include "features.h"
#include "log.h"
#include "netlock.h"
#include "util.h"
#include "netlock.skel.h"

#define LOCK_FILE	"/run/bpfckpt-netlock.lock"

BPF_SKEL_OPS(netlock, NULL);

const struct bpf_prog_desc netlock_prog = {
	"netlock_drop", "drops the TCP segments of connections down for a snap --kill",
	"netlock", "none: snap --kill refuses TCP connections to peers outside the tree",
	0,
};

/* the outcome of the first load is what netlock_usable() says after */
static void note(int ret, const struct bpf_prog_status *st)
{
	if (features.netlock)
		return;
	features.netlock = ret ? -1 : 1;
	if (st->forced)
		snprintf(features.netlock_why, sizeof(features.netlock_why),
			 "BPFCKPT_FALLBACK=netlock");
	else if (ret)
		snprintf(features.netlock_why, sizeof(features.netlock_why),
			 "its BPF program is refused: %s", st->why[0] ? st->why : errstr(st->err));
}

static int load(struct netlock_bpf **skel, struct bpf_prog_status *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = bpf_load_progs(&netlock_skel_ops, NULL, &netlock_prog, st, 1,
			     (void **)skel);
	if (!ret && !st->loaded) {
		netlock_bpf__destroy(*skel);
		*skel = NULL;
		ret = st->err ? st->err : -ENOTSUP;
	}
	note(ret, st);
	return ret;
}

void netlock_probe_status(struct bpf_prog_status *st)
{
	struct netlock_bpf *skel = NULL;

	if (!load(&skel, st))
		netlock_bpf__destroy(skel);
}

bool netlock_usable(char *why, size_t len)
{
	struct bpf_prog_status st;
	struct netlock_bpf *skel = NULL;

	if (!features.netlock && !load(&skel, &st))
		netlock_bpf__destroy(skel);
	if (features.netlock < 0)
		snprintf(why, len, "%s", features.netlock_why);
	return features.netlock > 0;
}

/* ---- keys ---- */

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, pfx, sizeof(pfx));
}

/* the packets of @c as the wire has them: a v4-mapped address is IPv4 */
static void key_of(const struct img_inet *c, bool reverse, struct netlock_key *k)
{
	const uint8_t *s = reverse ? c->dst : c->src, *d = reverse ? c->src : c->dst;
	bool v4 = c->family == AF_INET || is_v4_mapped(c->src);

	memset(k, 0, sizeof(*k));
	k->family = v4 ? AF_INET : AF_INET6;
	memcpy(k->saddr, s + (v4 && c->family == AF_INET6 ? 12 : 0), v4 ? 4 : 16);
	memcpy(k->daddr, d + (v4 && c->family == AF_INET6 ? 12 : 0), v4 ? 4 : 16);
	k->sport = reverse ? c->dport : c->sport;
	k->dport = reverse ? c->sport : c->dport;
}

/* ---- devices ---- */

/* from the device itself: /sys/class/net is the namespace sysfs was mounted in */
static bool is_ether_or_lo(const char *name)
{
	struct ifreq ifr;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (sk < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = !ioctl(sk, SIOCGIFHWADDR, &ifr) &&
	     (ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER ||
	      ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK);
	close(sk);
	return ok;
}

/* the device with the local address of @k (as a sender), 0 if none */
static int dev_of(const struct netlock_key *k)
{
	struct ifaddrs *ifa, *i;
	int idx = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i && !idx; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || sa->sa_family != k->family || !is_ether_or_lo(i->ifa_name))
			continue;
		if ((k->family == AF_INET &&
		     !memcmp(&((const struct sockaddr_in *)sa)->sin_addr, k->saddr, 4)) ||
		    (k->family == AF_INET6 &&
		     !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, k->saddr, 16)))
			idx = if_nametoindex(i->ifa_name);
	}
	freeifaddrs(ifa);
	return idx;
}

static void hook_of(struct bpf_tc_hook *h, int ifindex, bool egress)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

static void opts_of(struct bpf_tc_opts *o, int prog_fd)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->handle = NETLOCK_HANDLE;
	o->priority = NETLOCK_PRIO;
	o->prog_fd = prog_fd;
}

/* the id of our program on @ifindex ingress, 0 if none */
static uint32_t attached_id(int ifindex)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;

	hook_of(&h, ifindex, false);
	opts_of(&o, 0);
	return bpf_tc_query(&h, &o) ? 0 : o.prog_id;
}

static int attach(int ifindex, int prog_fd)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int i, ret;

	for (i = 0; i < 2; i++) {
		hook_of(&h, ifindex, i);
		ret = bpf_tc_hook_create(&h);
		if (ret && ret != -EEXIST)
			return ret;
		opts_of(&o, prog_fd);
		ret = bpf_tc_attach(&h, &o);
		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

static void detach_all(void)
{
	struct if_nameindex *ni = if_nameindex(), *i;
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int e;

	for (i = ni; i && i->if_index; i++)
		for (e = 0; e < 2; e++) {
			hook_of(&h, i->if_index, e);
			opts_of(&o, 0);
			bpf_tc_detach(&h, &o);
		}
	if (ni)
		if_freenameindex(ni);
}

/* ---- the attached program and its map ---- */

/* the program's hash of locked connections (its .rodata is a map too) */
static int map_of_prog(int prog_fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), ids[8], i;
	int fd;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = ARRAY_SIZE(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	for (i = 0; i < MIN(info.nr_map_ids, ARRAY_SIZE(ids)); i++) {
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi);

		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			return -errno;
		memset(&mi, 0, sizeof(mi));
		if (!bpf_obj_get_info_by_fd(fd, &mi, &ml) && mi.type == BPF_MAP_TYPE_HASH &&
		    mi.key_size == sizeof(struct netlock_key))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* the attached program (*prog_fd, -1 if none) and its map (-1 if none) */
static int find(int lo, int *prog_fd, int *map_fd)
{
	uint32_t id = attached_id(lo);

	*prog_fd = *map_fd = -1;
	if (!id)
		return 0;
	*prog_fd = bpf_prog_get_fd_by_id(id);
	if (*prog_fd < 0)
		return -errno;
	*map_fd = map_of_prog(*prog_fd);
	return *map_fd < 0 ? *map_fd : 0;
}

static int take_file_lock(void)
{
	int fd = open(LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* the program attached already, or loaded now */
static int get_prog(int lo, int *prog_fd, int *map_fd)
{
	struct bpf_prog_status st = { .forced = true };
	struct netlock_bpf *skel = NULL;
	int ret;

	/* the one attached by another snap is not to be used either */
	if (fallback_forced(netlock_prog.feature)) {
		note(-ENOTSUP, &st);
		return -ENOTSUP;
	}
	ret = find(lo, prog_fd, map_fd);
	if (ret || *prog_fd >= 0) {
		st.forced = false;
		note(ret, &st);
		return ret;
	}
	ret = load(&skel, &st);
	if (ret)
		return ret;
	*prog_fd = dup(bpf_program__fd(skel->progs.netlock_drop));
	*map_fd = dup(bpf_map__fd(skel->maps.locked_conns));
	netlock_bpf__destroy(skel);
	return *prog_fd < 0 || *map_fd < 0 ? -errno : 0;
}

int netlock_lock(const struct img_inet *const *c, uint32_t n)
{
	int lo = if_nametoindex("lo"), lockfd, prog_fd = -1, map_fd = -1, ret, dev;
	struct netlock_key k;
	uint64_t one = 1;
	uint32_t i, r;

	if (!n)
		return 0;
	if (!lo)
		return -ENODEV;
	if (features.netlock < 0)
		return -ENOTSUP;	/* refused once: netlock_usable() says why */
	lockfd = take_file_lock();
	if (lockfd < 0)
		return lockfd;
	ret = get_prog(lo, &prog_fd, &map_fd);
	for (i = 0; !ret && i < n; i++)
		for (r = 0; !ret && r < 2; r++) {
			key_of(c[i], r, &k);
			if (bpf_map_update_elem(map_fd, &k, &one, BPF_ANY))
				ret = -errno;
		}
	if (!ret)
		ret = attach(lo, prog_fd);
	for (i = 0; !ret && i < n; i++) {
		key_of(c[i], false, &k);
		dev = dev_of(&k);
		if (dev && dev != lo)
			ret = attach(dev, prog_fd);
	}
	if (prog_fd >= 0)
		close(prog_fd);
	if (map_fd >= 0)
		close(map_fd);
	close(lockfd);
	return ret;
}

int netlock_unlock(const struct img_inet *const *c, uint32_t n, uint32_t *released)
{
	int lo = if_nametoindex("lo"), lockfd, prog_fd, map_fd, ret;
	struct netlock_key k, next;
	uint32_t i, r;

	*released = 0;
	if (!lo)
		return -ENODEV;
	lockfd = take_file_lock();
	if (lockfd < 0)
		return lockfd;
	ret = find(lo, &prog_fd, &map_fd);
	for (i = 0; !ret && map_fd >= 0 && i < n; i++) {
		bool was = false;

		for (r = 0; r < 2; r++) {
			key_of(c[i], r, &k);
			was |= !bpf_map_delete_elem(map_fd, &k);
		}
		*released += was;
	}
	/* the last lock on this host: nothing left to filter */
	if (!ret && map_fd >= 0 && bpf_map_get_next_key(map_fd, NULL, &next) &&
	    errno == ENOENT)
		detach_all();
	if (prog_fd >= 0)
		close(prog_fd);
	if (map_fd >= 0)
		close(map_fd);
	close(lockfd);
	return ret;
}
