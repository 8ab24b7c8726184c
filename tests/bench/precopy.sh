#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, part 4: the frozen time of the last pre-copy round against
# a plain snap, for several sizes, in the same run.  The workload (heap,
# tests/workloads) rewrites BENCH_PRE_EDITS words (26) on as many pages
# every 10 ms tick, 10 MiB/s, and checks itself; for each size:
#
#   plain_frozen   snap of the running heap (a fresh one)
#   pre_sec        snap --pre of another: copies while it runs
#   final_frozen   snap --parent PRE half a second later: the freeze
#                  covers only what was written since; while more than
#                  --dirty-max (8 MiB) was, a round (--pre --parent)
#                  copies it first, while the tree runs
#   rounds         those rounds, and round_frozen their freezes in all
#   final_bytes    that last image's size
#
# and the final freeze of the largest size over that of the smallest
# (flat: 1).  Frozen times are snap's own figure ("frozen X s": first
# seize to last detach); without --kill, whose wait for the kernel to
# tear down the tree's memory grows with its size either way.
# Environment: BUILD, BENCH_PRE_MB ("64 1024 4096"), BENCH_PRE_RUNS (3),
# BENCH_PRE_EDITS (26).  A size is skipped without twice its memory and
# 2 GiB more available (/proc/meminfo).

set -euo pipefail
BENCH_NAME=precopy
. "$(dirname "$0")/lib.sh"

SIZES=${BENCH_PRE_MB:-64 1024 4096}
EDITS=${BENCH_PRE_EDITS:-26}
RUNS=${BENCH_PRE_RUNS:-3}
BIN=$BUILD/bpfckpt
DIR=/dev/shm
TMP=$(mktemp -d)
WL_PID=

cleanup() {
	[ -z "$WL_PID" ] || kill -9 "$WL_PID" 2>/dev/null || true
	rm -f "$DIR"/bench-pre-$$-*
	rm -rf "$TMP"
}
trap cleanup EXIT


stop_heap() { kill_gone "$WL_PID"; }

start_heap() {
	local i
	setsid "$BUILD/tests/workloads/heap" "$1" 10 "$EDITS" </dev/null >"$TMP/heap.out" 2>&1 &
	WL_PID=$!
	for i in $(seq 1200); do
		grep -q '^ready' "$TMP/heap.out" && return 0
		sleep 0.1
	done
	die "heap $1 did not get ready"
}

frozen() { sed -n 's/.*, frozen \([0-9.]*\) s$/\1/p' "$1"; }

# field $2 of snap's "N pre-copy round(s) first (...), frozen X s in all" line
rounds() { sed -n 's/.* \([0-9]*\) pre-copy rounds* first.*frozen \([0-9.]*\) s in all.*/\1 \2/p' "$1"; }

first="" last="" first_mb="" last_mb=""
for mb in $SIZES; do
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	if [ "$avail" -lt $((mb * 2 + 2048)) ]; then
		echo "# precopy $mb MiB skipped: $avail MiB available"
		continue
	fi
	plain="" pre="" final="" bytes="" nr="" rfrozen=""
	for r in $(seq "$RUNS"); do
		start_heap "$mb"
		"$BIN" snap "$WL_PID" -o "$DIR/bench-pre-$$-plain.img" >"$TMP/out" 2>&1 ||
			die "snap: $(cat "$TMP/out")"
		plain+=" $(frozen "$TMP/out")"
		stop_heap
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
		read -r n f <<<"$(rounds "$TMP/out") "
		nr+=" ${n:-0}"
		rfrozen+=" ${f:-0}"
		grep -q '^FAIL' "$TMP/heap.out" && die "heap $mb: $(grep -m1 '^FAIL' "$TMP/heap.out")"
		stop_heap
		WL_PID=
		rm -f "$DIR"/bench-pre-$$-*
	done
	echo "precopy mb=$mb writer_mib_s=$(calc "$EDITS * 4096 * 100 / 1048576")" \
	     "plain_frozen_sec=$(med "$plain") pre_sec=$(med "$pre")" \
	     "final_frozen_sec=$(med "$final") rounds=$(med "$nr")" \
	     "round_frozen_sec=$(med "$rfrozen") final_bytes=$(med "$bytes")" \
	     "frozen_ratio=$(calc "$(med "$plain") / $(med "$final")")"
	[ -n "$first" ] || { first=$(med "$final"); first_mb=$mb; }
	last=$(med "$final") last_mb=$mb
done
if [ -n "$first" ] && [ "$last_mb" != "$first_mb" ]; then
	echo "precopy final_frozen_${last_mb}mb_over_${first_mb}mb=$(calc "$last / $first")"
fi
