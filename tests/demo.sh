#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: start a counting process, snap --kill it, restore it and show
# that it goes on counting from where it stopped, with the same pid.
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
disown "$WL_PID" 2>/dev/null	# no "Killed" notice from bash at snap --kill
echo "pid $WL_PID, log $WL_LOG"
wait_until 10 "grep -q '^counter 3' '$WL_LOG'" || fail "the demo does not count: $(tail -n 3 "$WL_LOG")"
tail -n 3 "$WL_LOG"

step "bpfckpt snap $WL_PID -o $T/demo.img --kill"
"$BPFCKPT" snap "$WL_PID" -o "$T/demo.img" --kill || fail "snap failed"
last=$(last_tick "$WL_LOG")
[ -d "/proc/$WL_PID" ] && fail "pid $WL_PID still exists after snap --kill"
echo "pid $WL_PID is gone; its last line was: counter $last"

step "bpfckpt show $T/demo.img"
"$BPFCKPT" show "$T/demo.img" | head -n 12 || fail "show failed"
echo "    ..."

step "bpfckpt restore $T/demo.img -d"
"$BPFCKPT" restore "$T/demo.img" -d || fail "restore failed"
[ -d "/proc/$WL_PID" ] || fail "pid $WL_PID did not come back"
ps -o pid,ppid,pgid,sid,stat,comm -p "$WL_PID"

step "it goes on counting from counter $last, same pid"
assert_ticking "$WL_LOG" 4
grep -A 4 "^counter $last\$" "$WL_LOG"
assert_log_ok "$WL_LOG"

step "done: the process and the image are removed"
