#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: start a counting process, snap it, show the image, clean up.
set -u
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d /tmp/bpfckpt-demo.XXXXXX)
cleanup() {
	_cleanup 2>/dev/null	# not bash's "Killed" notice for the demo
	rm -rf "$T"
}
trap cleanup EXIT
# lib.sh's fail() ends a test; here it ends the demo with its message
fail() {
	echo "demo failed: $*" >&2
	exit 1
}

step() {
	if [ -t 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}

step "start the demo workload (prints 'counter N' every 500 ms)"
wl_start demo
echo "pid $WL_PID, log $WL_LOG"
wait_until 10 "grep -q '^counter 3' '$WL_LOG'" || fail "the demo does not count: $(tail -n 3 "$WL_LOG")"
tail -n 3 "$WL_LOG"

step "bpfckpt snap $WL_PID -o $T/demo.img"
"$BPFCKPT" snap "$WL_PID" -o "$T/demo.img" || fail "snap failed"

step "it keeps counting after the snap"
assert_ticking "$WL_LOG" 2
tail -n 2 "$WL_LOG"

step "bpfckpt show $T/demo.img"
"$BPFCKPT" show "$T/demo.img" || fail "show failed"

step "done: the process and the image are removed"
