#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, part 2: restore --lazy against an eager restore of the same
# image, in the same run, for several sizes.  For each size one ticking
# bigheap (it checks a page and prints "tick N t=SECONDS" every ms) is
# snapped (--kill) to /dev/shm, then restored RUNS times each way,
# alternating, the tree killed in between:
#
#   resume   restore --lazy -d: from the command's start to the heap's
#            next tick line (its own clock), when the tree runs again
#   cmd      restore --lazy -d: from the command's start to its return
#   pull     from the tree's release until the pager has every page in
#            and ends (the pager's own figure)
#   fault    the pager's time to serve a fault: mean, and the p50 and
#            p99 as upper bounds of its log2 histogram (the heap's
#            ticks fault while the pull goes on)
#   touch    the heap's own time to read the page of a tick, p50 and
#            p99 over the ticks while the pull goes on: a fault as the
#            program sees it, waiting behind the pull's copy included
#   eager    restore -d of the same image (wall clock)
#
# "resume_vs_eager" is how much sooner the tree runs; "pull_vs_eager" is
# the background pull's time over the eager restore's (above 1: the pull
# is slower than an eager copy, the price of running meanwhile).  The
# last line compares the resume of the largest size with the smallest's
# (the target: flat, at most 1.2).
#
# Sizes above BENCH_LAZY_FULL_MB (1024) measure resume and cmd only: no
# eager restore, and the tree is killed at its first tick, so that the
# pull does not fill a second copy (after the snap only the image then
# takes memory: on a shared machine 8 GiB twice over is too much).
#
# Environment: BUILD, BENCH_LAZY_MB (sizes in MiB, "64 1024 8192"; each
# needs twice its size and 2 GiB more available, or it is skipped),
# BENCH_LAZY_RUNS (rounds per size, 3 here), BENCH_LAZY_FULL_MB.

set -euo pipefail
BENCH_NAME=lazy
. "$(dirname "$0")/lib.sh"

SIZES=${BENCH_LAZY_MB:-64 1024 8192}
RUNS=${BENCH_LAZY_RUNS:-3}
FULL_MB=${BENCH_LAZY_FULL_MB:-1024}
BIN=$BUILD/bpfckpt
DIR=/dev/shm
TMP=$(mktemp -d)
WL_PID=
IMG=

cleanup() {
	[ -z "$WL_PID" ] || kill -9 "$WL_PID" 2>/dev/null || true
	[ -z "$IMG" ] || rm -f "$IMG"
	rm -rf "$TMP"
}
trap cleanup EXIT

# times are $EPOCHREALTIME: no fork (a date(1) would be in the time measured)

gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# wait_dead PID: dead, a zombie at least (lib.sh's wait_gone: not even that)
wait_dead() {
	local i
	for i in $(seq 600); do
		gone "$1" && return 0
		sleep 0.1
	done
	return 1
}

kill_tree() { kill_gone "$WL_PID"; }

start_heap() {
	local mb=$1 i
	setsid "$BUILD/tests/bench/bigheap" "$mb" tick </dev/null >"$TMP/heap.out" 2>&1 &
	WL_PID=$!
	for i in $(seq 1200); do
		grep -q '^ready' "$TMP/heap.out" && return 0
		sleep 0.1
	done
	die "bigheap $mb did not get ready"
}

# the time of the heap's first tick line after $1 (an $EPOCHREALTIME)
first_tick_after() {
	local i t
	for i in $(seq 1000); do
		! grep -q '^FAIL' "$TMP/heap.out" || die "the heap failed: $(grep -m1 '^FAIL' "$TMP/heap.out")"
		t=$(awk -v t0="$1" '/^tick / { sub("t=", "", $3); if ($3 + 0 > t0 + 0) { print $3; exit } }' "$TMP/heap.out")
		[ -z "$t" ] || { echo "$t"; return 0; }
		sleep 0.01
	done
	die "the heap did not tick within 10 s of its restore"
}

first_resume=
last_resume=
for mb in $SIZES; do
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	# at most two copies at once: the heap and its image at snap, the
	# image and the restored heap after (snap --kill)
	if [ "$avail" -lt $((mb * 2 + 2048)) ]; then
		echo "# lazy $mb MiB skipped: $avail MiB available, needs $((mb * 2 + 2048))"
		continue
	fi
	start_heap "$mb"
	IMG=$DIR/bench-lazy-$$.img
	"$BIN" snap "$WL_PID" -o "$IMG" --kill >"$TMP/snap.out" 2>&1 ||
		die "snap failed: $(cat "$TMP/snap.out")"
	resume="" cmd="" pull="" fault="" eager="" p50="" p99=""
	: >"$TMP/touch"
	for r in $(seq "$RUNS"); do
		if [ "$mb" -le "$FULL_MB" ]; then
			t0=$EPOCHREALTIME
			"$BIN" restore "$IMG" -d >"$TMP/eager.out" 2>&1 ||
				die "restore failed: $(cat "$TMP/eager.out")"
			eager+=" $(calc "$EPOCHREALTIME - $t0")"
			kill_tree
		fi
		t0=$EPOCHREALTIME
		"$BIN" -v restore "$IMG" -d --lazy >"$TMP/lazy.out" 2>"$TMP/lazy.err" ||
			die "restore --lazy failed: $(cat "$TMP/lazy.err")"
		cmd+=" $(calc "$EPOCHREALTIME - $t0")"
		resume+=" $(calc "$(first_tick_after "$t0") - $t0")"
		pager=$(awk '/^lazy pager pid/ { sub(":", "", $4); print $4 }' "$TMP/lazy.out")
		[ -n "$pager" ] || die "no pager line: $(cat "$TMP/lazy.out")"
		if [ "$mb" -gt "$FULL_MB" ]; then
			kill_tree
			wait_gone "$pager" || die "the pager did not end with its tree"
			continue
		fi
		wait_dead "$pager" || die "the pager did not end in 60 s"
		line=$(grep 'lazy pager: .* faults' "$TMP/lazy.err") || die "no pager summary: $(cat "$TMP/lazy.err")"
		pull+=" $(sed -n 's/.* done \([0-9.]*\) s after.*/\1/p' <<<"$line")"
		fault+=" $(sed -n 's/.*(mean \([0-9.]*\) ms.*/\1/p' <<<"$line")"
		p50+=" $(sed -n 's/.* p50 < \([0-9.]*\) ms.*/\1/p' <<<"$line")"
		p99+=" $(sed -n 's/.* p99 < \([0-9.]*\) ms.*/\1/p' <<<"$line")"
		! grep -q '^FAIL' "$TMP/heap.out" || die "the heap failed: $(grep -m1 '^FAIL' "$TMP/heap.out")"
		# the ticks from the release to the pull's end (t0 + resume ~ release)
		awk -v a="$t0" -v d="$(sed -n 's/.* done \([0-9.]*\) s after.*/\1/p' <<<"$line")" \
			'/^tick / { t = substr($3, 3) + 0; if (t > a + 0 && t <= a + d) print substr($4, 4) }' \
			"$TMP/heap.out" >>"$TMP/touch"
		kill_tree
	done
	rm -f "$IMG"
	IMG=
	first_resume=${first_resume:-$mb:$(med "$resume")}
	last_resume=$mb:$(med "$resume")
	if [ "$mb" -gt "$FULL_MB" ]; then
		echo "lazy mb=$mb resume_sec=$(med "$resume") cmd_sec=$(med "$cmd")" \
		     "(resume only: above BENCH_LAZY_FULL_MB=$FULL_MB)"
		continue
	fi
	touch50=$(sort -n "$TMP/touch" | awk '{ a[NR] = $1 } END { if (NR) printf "%.3f", a[int((NR + 1) / 2)] / 1e6 }')
	touch99=$(sort -n "$TMP/touch" | awk '{ a[NR] = $1 } END { if (NR) { i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; printf "%.3f", a[i] / 1e6 } }')
	ticks=$(wc -l <"$TMP/touch")
	echo "lazy mb=$mb resume_sec=$(med "$resume") cmd_sec=$(med "$cmd") pull_sec=$(med "$pull")" \
	     "fault_mean_ms=$(med "$fault") fault_p50_ms=$(med "$p50") fault_p99_ms=$(med "$p99")" \
	     "touch_p50_ms=${touch50:-} touch_p99_ms=${touch99:-} (${ticks:-0} ticks)" \
	     "eager_sec=$(med "$eager")" \
	     "resume_vs_eager=$(calc "$(med "$eager") / $(med "$resume")")" \
	     "pull_vs_eager=$(calc "$(med "$pull") / $(med "$eager")")"
done
if [ -n "$first_resume" ] && [ "${first_resume%%:*}" != "${last_resume%%:*}" ]; then
	echo "lazy resume mb=${last_resume%%:*} over mb=${first_resume%%:*}:" \
	     "$(calc "${last_resume#*:} / ${first_resume#*:}") (target <= 1.2)"
fi
