#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, part 4: the frozen time of the last pre-copy round against
# a plain snap --kill, for several sizes, in the same run.  The workload
# (heap, tests/workloads) rewrites a few words of a few pages every tick
# and checks itself; for each size:
#
#   plain_frozen   snap of the running heap (a fresh one)
#   pre_sec        snap --pre of another: copies while it runs
#   final_frozen   snap --parent PRE a moment later: the freeze covers
#                  only what was written since
#   final_bytes    that last image's size
#
# Frozen times are snap's own figure ("frozen X s": first seize to last
# detach); without --kill, whose wait for the kernel to tear down the
# tree's memory grows with its size either way.  Environment: BUILD, BENCH_PRE_MB ("64 1024"),
# BENCH_PRE_RUNS (3).

set -euo pipefail
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
done

BUILD=${BUILD:-build}
SIZES=${BENCH_PRE_MB:-64 1024}
RUNS=${BENCH_PRE_RUNS:-3}
BIN=$BUILD/bpfckpt
DIR=/dev/shm
TMP=$(mktemp -d)
WL_PID=

die() { echo "bench precopy: $*" >&2; exit 1; }

cleanup() {
	[ -z "$WL_PID" ] || kill -9 "$WL_PID" 2>/dev/null || true
	rm -f "$DIR"/bench-pre-$$-*.img
	rm -rf "$TMP"
}
trap cleanup EXIT

calc() { python3 -c "print('%.4g' % ($1))"; }
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

wait_gone() {
	local i
	for i in $(seq 600); do
		[ -d "/proc/$1" ] || return 0
		sleep 0.1
	done
	return 1
}

start_heap() {
	local i
	setsid "$BUILD/tests/workloads/heap" "$1" 10 </dev/null >"$TMP/heap.out" 2>&1 &
	WL_PID=$!
	for i in $(seq 1200); do
		grep -q '^ready' "$TMP/heap.out" && return 0
		sleep 0.1
	done
	die "heap $1 did not get ready"
}

frozen() { sed -n 's/.*frozen \([0-9.]*\) s.*/\1/p' "$1"; }

for mb in $SIZES; do
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	if [ "$avail" -lt $((mb * 3 + 1024)) ]; then
		echo "# precopy $mb MiB skipped: $avail MiB available"
		continue
	fi
	plain="" pre="" final="" bytes=""
	for r in $(seq "$RUNS"); do
		start_heap "$mb"
		"$BIN" snap "$WL_PID" -o "$DIR/bench-pre-$$-plain.img" >"$TMP/out" 2>&1 ||
			die "snap: $(cat "$TMP/out")"
		plain+=" $(frozen "$TMP/out")"
		kill -9 "$WL_PID"
		wait_gone "$WL_PID"
		rm -f "$DIR/bench-pre-$$-plain.img"
		start_heap "$mb"
		t0=$EPOCHREALTIME
		"$BIN" snap "$WL_PID" --pre -o "$DIR/bench-pre-$$-pre.img" >"$TMP/out" 2>&1 ||
			die "snap --pre: $(cat "$TMP/out")"
		pre+=" $(calc "$EPOCHREALTIME - $t0")"
		sleep 0.5
		"$BIN" snap "$WL_PID" --parent "$DIR/bench-pre-$$-pre.img" \
			-o "$DIR/bench-pre-$$-final.img" >"$TMP/out" 2>&1 ||
			die "snap --parent: $(cat "$TMP/out")"
		final+=" $(frozen "$TMP/out")"
		bytes+=" $(stat -c %s "$DIR/bench-pre-$$-final.img")"
		kill -9 "$WL_PID"
		wait_gone "$WL_PID"
		WL_PID=
		rm -f "$DIR"/bench-pre-$$-*.img
	done
	echo "precopy mb=$mb plain_frozen_sec=$(med "$plain") pre_sec=$(med "$pre")" \
	     "final_frozen_sec=$(med "$final") final_bytes=$(med "$bytes")" \
	     "frozen_ratio=$(calc "$(med "$plain") / $(med "$final")")"
done
