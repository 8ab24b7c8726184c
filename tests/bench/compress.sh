#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, part 3: snap --compress (zstd, level 1 unless
# BENCH_Z_LEVEL) against a plain snap of the same tree, on compressible
# (text) and incompressible (random) memory, in the same run.  For each
# kind one zheap of BENCH_Z_MB MiB runs; each round snaps it plain and
# compressed to /dev/shm (the tree runs on), then restores both images
# eagerly, alternating, and streams it once (snap -o - | restore -):
#
#   ratio        plain image bytes / compressed image bytes
#   snap_*_sec   wall clock of the snap command
#   z_mibps      MiB of memory per second through snap --compress
#   restore_*    wall clock of restore -d from each image
#   stream_sec   snap --kill -o - --compress | restore - -d, end to end
#
# Environment: BUILD, BENCH_Z_MB (256), BENCH_Z_RUNS (3), BENCH_Z_LEVEL (1).

set -euo pipefail
BENCH_NAME=compress
. "$(dirname "$0")/lib.sh"

MB=${BENCH_Z_MB:-256}
RUNS=${BENCH_Z_RUNS:-3}
LEVEL=${BENCH_Z_LEVEL:-1}
BIN=$BUILD/bpfckpt
DIR=/dev/shm
TMP=$(mktemp -d)
WL_PID=
PLAIN=$DIR/bench-z-$$-plain.img
PACKED=$DIR/bench-z-$$-packed.img

cleanup() {
	[ -z "$WL_PID" ] || kill -9 "$WL_PID" 2>/dev/null || true
	rm -f "$PLAIN" "$PACKED"
	rm -rf "$TMP"
}
trap cleanup EXIT


kill_tree() { kill_gone "$WL_PID"; }

start_heap() {
	local i
	setsid "$BUILD/tests/bench/zheap" "$MB" "$1" </dev/null >"$TMP/heap.out" 2>&1 &
	WL_PID=$!
	for i in $(seq 1200); do
		grep -q '^ready' "$TMP/heap.out" && return 0
		sleep 0.1
	done
	die "zheap $MB $1 did not get ready"
}

# timed VAR CMD...: appends CMD's wall-clock seconds to VAR
timed() {
	local var=$1 t0
	shift
	t0=$EPOCHREALTIME
	"$@" >"$TMP/out" 2>&1 || die "$* failed: $(tail -n 3 "$TMP/out")"
	printf -v "$var" '%s %s' "${!var}" "$(calc "$EPOCHREALTIME - $t0")"
}

stream_trip() {
	"$BIN" snap "$WL_PID" --kill -o - --compress="$LEVEL" 2>"$TMP/snap.err" |
		"$BIN" restore - -d >"$TMP/restore.out" 2>&1 &&
		grep -q '^restored pid' "$TMP/restore.out"
}

avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -ge $((MB * 4 + 1024)) ] || { echo "# compress skipped: $avail MiB available"; exit 0; }
for kind in text random; do
	start_heap "$kind"
	sp="" sz="" rp="" rz="" st=""
	for r in $(seq "$RUNS"); do
		timed sp "$BIN" snap "$WL_PID" -o "$PLAIN"
		timed sz "$BIN" snap "$WL_PID" -o "$PACKED" --compress="$LEVEL"
	done
	kill_tree
	for r in $(seq "$RUNS"); do
		timed rp "$BIN" restore "$PLAIN" -d
		kill_tree
		timed rz "$BIN" restore "$PACKED" -d
		[ "$r" = "$RUNS" ] || kill_tree
	done
	timed st stream_trip
	kill_tree
	WL_PID=
	plain=$(stat -c %s "$PLAIN")
	packed=$(stat -c %s "$PACKED")
	echo "compress kind=$kind mb=$MB level=$LEVEL plain_bytes=$plain z_bytes=$packed" \
	     "ratio=$(calc "$plain / $packed")" \
	     "snap_plain_sec=$(med "$sp") snap_z_sec=$(med "$sz")" \
	     "z_mibps=$(calc "$MB / $(med "$sz")")" \
	     "restore_plain_sec=$(med "$rp") restore_z_sec=$(med "$rz")" \
	     "stream_sec=$(med "$st")"
	rm -f "$PLAIN" "$PACKED"
done
