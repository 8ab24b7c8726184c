#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: lazy migration over a veth pair between two network
# namespaces (made here, removed at the end).  A bigheap is served by
# snap --serve in one; restore --lazy --from pulls it in the other, in a
# pid namespace of its own (the source keeps the pids until the end):
#
#   resume   restore's own figure: from its start (the records fetched
#            first) until the tree runs
#   arrive   the destination's figure: from its connect until every
#            page of the image has arrived (the bulk pull, sendfile on
#            one side, recv into a memfd on the other)
#   pull     from restore's start until the pager has every page in the
#            tree (its userfaultfd closed), polled every 10 ms
#   served   the source's figure, from its accept to the destination's
#            word that everything arrived
#
# Target (issue 13): pull of 2 GiB <= 2 s (CRIU's lazy migration took
# 13.1 s here), resume as for a local lazy restore.
#
# Environment: BUILD, BENCH_MIGRATE_MB (sizes in MiB, "2048"),
# BENCH_MIGRATE_RUNS (rounds, 3), BENCH_MIGRATE_DEBUG (non-empty: print
# the last round's restore -v and snap --serve output).

set -euo pipefail
BENCH_NAME=migrate
. "$(dirname "$0")/lib.sh"

SIZES=${BENCH_MIGRATE_MB:-2048}
RUNS=${BENCH_MIGRATE_RUNS:-3}
BIN=$(realpath "$BUILD/bpfckpt")
PFX=${MIG_PREFIX:-bmig}
NS_A=$PFX-a-$$
NS_B=$PFX-b-$$
VETH_A=${PFX}a$$
VETH_B=${PFX}b$$
TMP=$(mktemp -d)
WL_PID= SRV= DST=

cleanup() {
	set +e
	for p in $DST $SRV $WL_PID; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT


ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip link add "$VETH_A" type veth peer name "$VETH_B" &&
	ip link set "$VETH_A" netns "$NS_A" && ip link set "$VETH_B" netns "$NS_B" &&
	ip -n "$NS_A" addr add 10.214.0.1/24 dev "$VETH_A" &&
	ip -n "$NS_B" addr add 10.214.0.2/24 dev "$VETH_B" &&
	ip -n "$NS_A" link set "$VETH_A" up && ip -n "$NS_B" link set "$VETH_B" up ||
	die "cannot make the namespaces and the veth pair"

# the pid of @parent's child named @comm, waiting for it (5 s)
child_of() {
	local i p
	for i in $(seq 500); do
		for p in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && { echo "$p"; return 0; }
		done
		sleep 0.01
	done
	return 1
}

holds_uffd() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q userfaultfd; }

for mb in $SIZES; do
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	# the heap, both memfds, the restored heap
	if [ "$avail" -lt $((mb * 4 + 2048)) ]; then
		echo "# migrate $mb MiB skipped: $avail MiB available, needs $((mb * 4 + 2048))"
		continue
	fi
	resume="" arrive="" pull="" served=""
	for r in $(seq "$RUNS"); do
		setsid "$BUILD/tests/bench/bigheap" "$mb" </dev/null >"$TMP/heap.out" 2>&1 &
		WL_PID=$!
		for i in $(seq 1200); do grep -q '^ready' "$TMP/heap.out" && break; sleep 0.1; done
		grep -q '^ready' "$TMP/heap.out" || die "bigheap $mb did not get ready"
		nsenter --net="/run/netns/$NS_A" "$BIN" snap "$WL_PID" --serve 10.214.0.1:7140 \
			>"$TMP/srv.out" 2>"$TMP/srv.err" </dev/null &
		SRV=$!
		for i in $(seq 1200); do grep -q 'serving' "$TMP/srv.out" && break; sleep 0.05; done
		grep -q 'serving' "$TMP/srv.out" || die "snap --serve: $(cat "$TMP/srv.err")"
		t0=$EPOCHREALTIME
		nsenter --net="/run/netns/$NS_B" unshare -pf --mount-proc "$BIN" -v restore \
			--lazy --from 10.214.0.1:7140 >"$TMP/dst.out" 2>"$TMP/dst.err" </dev/null &
		DST=$!
		rst=$(child_of "$DST" bpfckpt) || die "no restore: $(cat "$TMP/dst.err")"
		heap=$(child_of "$rst" bigheap) || die "no restored heap: $(cat "$TMP/dst.err")"
		for i in $(seq 6000); do holds_uffd "$heap" || break; sleep 0.01; done
		holds_uffd "$heap" && die "the pager did not finish in 60 s"
		pull+=" $(calc "$EPOCHREALTIME - $t0")"
		wait "$SRV" || die "snap --serve failed: $(cat "$TMP/srv.err")"
		SRV=
		kill -9 "$heap"
		wait "$DST" 2>/dev/null || true
		resume+=" $(sed -n 's/^restored pid .* in \([0-9.]*\) s$/\1/p' "$TMP/dst.out")"
		arrive+=" $(sed -n 's/.*--from [^ ]*: [0-9.]* MiB in \([0-9.]*\) s.*/\1/p' "$TMP/dst.err")"
		served+=" $(sed -n 's/.* has every page: [0-9.]* MiB in \([0-9.]*\) s.*/\1/p' "$TMP/srv.out")"
		DST= WL_PID=
	done
	[ -n "${BENCH_MIGRATE_DEBUG:-}" ] && cat "$TMP/dst.err" "$TMP/srv.out" >&2
	echo "migrate mb=$mb resume_sec=$(med "$resume") arrive_sec=$(med "$arrive")" \
	     "pull_sec=$(med "$pull") served_sec=$(med "$served")" \
	     "pull_gib_per_sec=$(calc "$mb / 1024 / $(med "$pull")")"
done
