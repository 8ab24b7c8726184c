#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fd kinds beyond files reopened by path (user/fd/): snap --kill, restore,
# and the workload checks its own fds with the data that was in flight.
. "$(dirname "$0")/../lib.sh"

cycle_stopped() {
	snap_kill_stopped "$1"
	restore_d "${@:2}"
	restored_matches
	pagecmp_image
	cont_tree "$1"
}

cycle_running() {
	snap_kill_json "$1"
	restore_d "${@:2}"
	restored_matches --running
}

assert_no_fail() {
	if grep -m1 '^FAIL' "$WL_LOG" >/dev/null; then
		fail "the workload says: $(grep -m1 '^FAIL' "$WL_LOG")"
	fi
	return 0
}

# pipes and a fifo, full, dup'ed, at high fds, with bytes nobody reads
test_pipes_stopped() {
	wl_start pipes "$T" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

test_pipes_running() {
	wl_start pipes "$T" 20
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# show names the pipe and what it held
test_pipes_show() {
	wl_start pipes "$T" 50
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show "$T/img"
	grep -qE "^ +5 fifo .*pipe:\[[0-9]+\] \(pipe of 131072 with 1 readers, 0 writers, 5000 bytes queued\)" "$CKPT_OUT" ||
		fail "show lacks the stash pipe: $(grep fifo "$CKPT_OUT" | head -n 3)"
	assert_ckpt 0 show --json "$T/img"
	python3 - "$CKPT_OUT" <<'PY' || fail "show --json lacks the pipes' state"
import json, sys
fds = [f for p in json.load(open(sys.argv[1]))["processes"] for f in p["fds"]]
q = sorted(f["pipe"]["queued"] for f in fds if "pipe" in f)
sys.exit(0 if 5000 in q and 3000 in q and q[-1] > 5000 else 1)
PY
	cont_tree "$WL_PID"
}

# a pipe between two processes of the tree, in python
test_python_pipe() {
	WL_LOG=$T/py.log
	clean_exec python3 -c 'import os, time
os.setsid()
r, w = os.pipe()
if os.fork() == 0:
    os.close(r)
    n = 0
    while True:
        n += 1
        os.write(w, b"%d\n" % n)
        time.sleep(0.02)
os.close(w)
print("ready pid=%d" % os.getpid(), flush=True)
f = os.fdopen(r)
last = 0
for line in f:
    n = int(line)
    if n != last + 1:
        print("FAIL: got %d after %d" % (n, last), flush=True)
    last = n
    print("tick %d" % n, flush=True)' </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 30 || fail "python did not start: $(cat "$WL_LOG")"
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# producer | slow | sha256sum in bash, with megabytes in the pipes: the
# checksum at the end is the one of what the producer wrote
test_bash_pipeline() {
	local want got
	cat >"$T/produce.py" <<'PY'
import hashlib, sys
for i in range(4096):
    sys.stdout.buffer.write(hashlib.sha256(b"%d" % i).digest() * 128)
PY
	cat >"$T/slow.py" <<'PY'
import os, sys, time
n = 0
while True:
    b = os.read(0, 65536)
    if not b:
        break
    n += len(b)
    # a freeze interrupts a blocked write: the rest is written again
    while b:
        b = b[os.write(1, b):]
    print("moved %d" % n, file=sys.stderr, flush=True)
    time.sleep(0.01)
PY
	want=$(python3 "$T/produce.py" | sha256sum)
	WL_LOG=$T/moved.log
	clean_exec setsid bash -c 'echo "ready pid=$$" >&2; python3 "$1/produce.py" | python3 "$1/slow.py" | sha256sum >"$1/sum"; echo done >&2' \
		bash "$T" </dev/null 2>"$WL_LOG" &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^moved [0-9]{6,}" 30 || fail "the pipeline did not start: $(tail -n 3 "$WL_LOG")"
	snap_kill_json "$WL_PID"
	[ -s "$T/sum" ] && fail "the pipeline ended before the snap"
	# (its producer may be done before restore_d could look for it)
	assert_ckpt 0 restore "$T/img" -d
	wait_for_line "$WL_LOG" "^done" 60 || fail "the restored pipeline did not finish: $(tail -n 2 "$WL_LOG")"
	got=$(cat "$T/sum")
	assert_eq "$want" "$got" "checksum of what went through the pipes"
}

# heap's stdout is a pipe to a cat outside the tree: snap --kill refuses,
# restore refuses without --inherit-fd and with it the ticks reach cat
test_pipe_to_outside_inherited() {
	local cat_pid ino
	{ clean_exec "$WL/heap" 8 50 </dev/null 2>&1 | cat >"$T/heap.log"; } &
	WL_LOG=$T/heap.log
	wait_for_line "$WL_LOG" '^ready pid=' 30 || fail "heap did not start: $(cat "$WL_LOG")"
	WL_PID=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$WL_LOG")
	echo "$WL_PID" >>"$T/.sessions"
	ino=$(readlink "/proc/$WL_PID/fd/1")
	cat_pid=$(pgrep -P "$(ps -o ppid= -p "$WL_PID" | tr -d ' ')" -x cat | head -n 1)
	[ -n "$cat_pid" ] || fail "no cat beside heap"
	# stopped: no tick is printed between the snap and the kill
	stop_tree "$WL_PID"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "fd 1 is $(printf '%s' "$ino" | sed 's/[][]/\\&/g') \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd fd\[N\]:pipe:\[[0-9]+\]"
	assert_alive "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	# a write end of our own keeps cat's pipe open once heap is gone
	exec 7>"/proc/$cat_pid/fd/0"
	kill_session "$WL_PID"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "fd 1 is $(printf '%s' "$ino" | sed 's/[][]/\\&/g') .*--inherit-fd"
	assert_ckpt 2 restore "$T/img" -d --inherit-fd "fd[9]:$ino"
	assert_err "fd 9: Bad file descriptor"
	assert_ckpt 1 restore "$T/img" -d --inherit-fd "fd[7]:pipe:[1]"
	assert_err "no fd of the image is pipe:\[1\] opened for writing"
	restore_d --inherit-fd "fd[7]:$ino"
	exec 7>&-
	[ "$(readlink "/proc/$WL_PID/fd/1")" = "$ino" ] || fail "fd 1 is $(readlink "/proc/$WL_PID/fd/1"), not $ino"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

run_tests "$@"
