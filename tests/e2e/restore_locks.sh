#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# File locks (user/locks.c): flock, POSIX and OFD locks come back with
# the tree, the workload finds them in its own fdinfo, and a process
# outside the tree is still kept out of them.
. "$(dirname "$0")/../lib.sh"

# try_lock KIND FILE START LEN: 0 if a process outside the tree gets the
# lock at once (it lets it go), 1 if someone holds it
try_lock() {
	python3 - "$@" <<'PY'
import fcntl, os, struct, sys
kind, path, start, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_RDWR)
try:
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        cmd = {"posix": fcntl.F_SETLK, "ofd": 37}[kind]	# F_OFD_SETLK
        fcntl.fcntl(fd, cmd, struct.pack("hhqqi", fcntl.F_WRLCK, 0, start, length, 0))
except (BlockingIOError, PermissionError):
    sys.exit(1)
sys.exit(0)
PY
}

# assert_excluded: the locks keep others out, and only where they are
assert_excluded() {
	try_lock flock "$T/flock" 0 0 && fail "flock of $T/flock was free: nobody holds it"
	try_lock posix "$T/posix" 12 2 && fail "bytes 12-13 of $T/posix were free: the POSIX lock is gone"
	try_lock posix "$T/posix" 500 1 && fail "byte 500 of $T/posix was free: the read lock to EOF is gone"
	try_lock posix "$T/posix" 45 1 && fail "byte 45 of $T/posix was free: the child's POSIX lock is gone"
	try_lock ofd "$T/ofd" 5 1 && fail "byte 5 of $T/ofd was free: the OFD lock is gone"
	try_lock posix "$T/posix" 60 10 || fail "bytes 60-69 of $T/posix are held, but no lock of the tree covers them"
	try_lock ofd "$T/ofd" 20 5 || fail "bytes 20-24 of $T/ofd are held, but no lock of the tree covers them"
	return 0
}

test_locks_stopped() {
	wl_start locks "$T" 50
	assert_ticking "$WL_LOG" 3
	assert_excluded
	snap_kill_stopped "$WL_PID"
	[ "$(json_get 'len(j["processes"][0]["locks"])')" = 5 ] ||
		fail "the image has $(json_get 'len(j["processes"][0]["locks"])') locks of the root, not 5: $(grep lock "$CKPT_OUT")"
	# nobody holds them while the tree is down
	try_lock posix "$T/posix" 12 2 || fail "the POSIX lock outlived snap --kill"
	restore_d
	restored_matches
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_excluded
}

test_locks_running() {
	wl_start locks "$T" 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_d
	assert_ticking "$WL_LOG" 5
	assert_excluded
	# and once more, from the restored tree
	snap_kill_json "$WL_PID"
	restore_d
	assert_ticking "$WL_LOG" 5
	assert_excluded
}

# show names every lock
test_locks_show() {
	wl_start locks "$T" 50
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	cont_tree "$WL_PID"
	assert_ckpt 0 show "$T/img"
	for l in "lock on fd 3: flock write" "lock on fd 4: posix write from 10, 10 bytes" \
		 "lock on fd 4: posix read from 100, to EOF" "lock on fd 5: ofd write from 0, 10 bytes" \
		 "lock on fd 6: ofd read from 0, 5 bytes" "lock on fd 8: posix write from 40, 10 bytes"; do
		grep -qF "$l" "$CKPT_OUT" || fail "show lacks '$l': $(grep 'lock on' "$CKPT_OUT" | paste -sd';')"
	done
}

# someone took a lock while the tree was down: restore says who, leaves nothing
test_locks_taken_meanwhile() {
	local pids holder
	wl_start locks "$T" 50
	assert_ticking "$WL_LOG" 2
	pids=$(session_pids "$WL_PID")
	snap_kill_json "$WL_PID"
	python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 15)
print("held", flush=True)
time.sleep(120)' "$T/posix" >"$T/holder.log" &
	holder=$!
	on_exit "kill $holder"
	wait_for_line "$T/holder.log" '^held' || fail "the outside holder did not take its lock"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "fd 4 \($T/posix\): its posix write lock on bytes 10-19 is held by pid $holder now"
	assert_no_pids $pids
	kill "$holder"
	wait "$holder" 2>/dev/null
	restore_d
	assert_ticking "$WL_LOG" 3
	assert_excluded
}

# a lease is refused by snap, and inspect says so too
test_lease_refused() {
	WL_FAIL_RE='^FAIL|Error' wl_start_via lease python3 -c 'import fcntl, os, sys, time
os.setsid()
fd = os.open(sys.argv[1] + "/leased", os.O_RDONLY | os.O_CREAT)
fcntl.fcntl(fd, 1024, fcntl.F_RDLCK)	# F_SETLEASE
print("ready pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(1)' "$T"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "pid $WL_PID: fd 3 \($T/leased\): holds a lease \(F_SETLEASE\): not supported"
	[ -e "$T/img" ] && fail "a failed snap left an image"
	assert_alive "$WL_PID"
	assert_ckpt 0 inspect "$WL_PID"
	grep -qE "fd 3 \($T/leased\): holds a lease" "$CKPT_OUT" ||
		fail "inspect does not name the lease: $(grep -i -A3 verdict "$CKPT_OUT" | paste -sd';')"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="locks_running"
run_tests "$@"
