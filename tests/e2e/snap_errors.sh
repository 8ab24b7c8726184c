#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bpfckpt snap/show/check on bad input and failing steps: the exit status
# is 1 (runtime) or 2 (usage), never a signal; the message says what;
# the target keeps running; no image or temporary file is left behind.
. "$(dirname "$0")/../lib.sh"

# a pid that no process has: one that just exited (and was reaped)
free_pid() {
	local p
	sleep 0 &
	p=$!
	wait "$p"
	while [ -d "/proc/$p" ]; do p=$((p + 7919)); done
	echo "$p"
}

# after a failed snap: target ticking, nothing left in DIR
assert_untouched() {
	local dir=$1
	assert_alive "$WL_PID"
	assert_empty_dir "$dir"
	assert_ticking "$WL_LOG" 3
}

test_missing_pid() {
	local p
	p=$(free_pid)
	mkdir "$T/out"
	assert_ckpt 1 snap "$p" -o "$T/out/img"
	assert_err "pid $p: no such process"
	assert_err "^bpfckpt: snap: "
	assert_empty_dir "$T/out"
}

test_usage_errors() {
	assert_ckpt 2 snap abc
	assert_err "'abc' is not a pid"
	assert_err "^usage: bpfckpt snap PID"
	assert_ckpt 2 snap 12x
	assert_ckpt 2 snap 0
	assert_ckpt 2 snap
	assert_ckpt 2 snap 1 2
	assert_ckpt 2 snap 1 --frobnicate
	assert_err "unknown option '--frobnicate'"
	assert_ckpt 2 snap 1 -o
	# sizes are digits only: strtoull would take -1 as 2^64 - 1
	assert_ckpt 2 snap 1 --file-max -1
	assert_err "^bpfckpt: snap: --file-max '-1': bytes, at most [0-9]+$"
	assert_ckpt 2 snap 1 --dirty-max -1
	assert_err "^bpfckpt: snap: --dirty-max '-1': bytes$"
	assert_ckpt 2 snap 1 --dirty-max ' 5'
	assert_ckpt 2 --bogus check
	assert_ckpt 2 frobnicate
	assert_err "unknown command 'frobnicate'"
	assert_ckpt 2 show
	assert_ckpt 2 show --yaml x.img
	assert_ckpt 2
	assert_ckpt 0 --help
	grep -q 'bpfckpt snap PID' "$CKPT_OUT" || fail "--help does not list snap"
}

# a process the kernel's ptrace access check refuses (not dumpable, and
# bpfckpt without CAP_SYS_PTRACE): snap and the freeze name that check,
# not "no such process" nor a bare EPERM; the process runs on
test_ptrace_access_refused() {
	local pycode='import ctypes, os, sys, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    print("tick %d" % n, flush=True)
    time.sleep(0.05)'
	wl_start_via pyticker python3 -c "$pycode"
	mkdir "$T/out"
	# as a root without CAP_SYS_PTRACE in its bounding set
	CKPT_RC=0 CKPT_OUT=$T/ckpt.out CKPT_ERR=$T/ckpt.err
	timeout -k 5 "$CKPT_TIMEOUT" setpriv --bounding-set -sys_ptrace --inh-caps -sys_ptrace \
		"$BPFCKPT" snap "$WL_PID" -o "$T/out/img" >"$CKPT_OUT" 2>"$CKPT_ERR" || CKPT_RC=$?
	assert_eq 1 "$CKPT_RC" "snap's exit status"
	assert_err "pid $WL_PID: may not be traced: the kernel's ptrace access check refuses it: bpfckpt lacks CAP_SYS_PTRACE"
	assert_untouched "$T/out"
	# inspect's verdict says the same
	timeout -k 5 "$CKPT_TIMEOUT" setpriv --bounding-set -sys_ptrace --inh-caps -sys_ptrace \
		"$BPFCKPT" inspect "$WL_PID" >"$CKPT_OUT" 2>"$CKPT_ERR" ||
		fail "inspect failed: $(head -c 300 "$CKPT_ERR")"
	grep -q "^verdict: a snap would refuse this tree" "$CKPT_OUT" ||
		fail "inspect's verdict: $(grep -A2 '^verdict' "$CKPT_OUT")"
	grep -q "pid $WL_PID \[tree\] snap: may not be traced: the kernel's ptrace access check" "$CKPT_OUT" ||
		fail "inspect does not name the ptrace access check: $(grep -A3 '^verdict' "$CKPT_OUT")"
	# with CAP_SYS_PTRACE the same process can be snapped
	assert_ckpt 0 snap "$WL_PID" -o "$T/out/img"
}

test_kernel_thread_refused() {
	assert_ckpt 1 snap 2 -o "$T/img"
	assert_err "pid 2 is a kernel thread"
	[ ! -e "$T/img" ] || fail "an image was written for a kernel thread"
}

test_thread_id_refused() {
	wl_start threads 2 50
	local tid
	tid=$(ls "/proc/$WL_PID/task" | grep -v "^$WL_PID\$" | head -n 1)
	mkdir "$T/out"
	assert_ckpt 1 snap "$tid" -o "$T/out/img"
	assert_err "pid $tid: is a thread, not a process"
	assert_untouched "$T/out"
}

test_output_dir_missing() {
	wl_start heap 8 50
	assert_ckpt 1 snap "$WL_PID" -o "$T/nodir/img"
	assert_err "$T/nodir/img: No such file or directory"
	[ ! -e "$T/nodir" ] || fail "the missing directory was created"
	assert_alive "$WL_PID"
	assert_ticking "$WL_LOG" 3
}

test_output_dir_readonly() {
	mkdir "$T/ro"
	mount -t tmpfs -o size=1m,ro tmpfs "$T/ro" || fail "cannot mount a read-only tmpfs"
	on_exit umount "$T/ro"
	wl_start heap 8 50
	assert_ckpt 1 snap "$WL_PID" -o "$T/ro/img"
	assert_err "Read-only file system"
	assert_untouched "$T/ro"
}

# either way of writing pages (BPFCKPT_SNAP_COPY): pwrite gives ENOSPC,
# the mapping's fallocate does
test_disk_full() {
	local mode
	mkdir "$T/full"
	mount -t tmpfs -o size=256k tmpfs "$T/full" || fail "cannot mount a small tmpfs"
	on_exit umount "$T/full"
	wl_start heap 8 50
	assert_ticking "$WL_LOG" 2
	for mode in bounce map; do
		BPFCKPT_SNAP_COPY=$mode assert_ckpt 1 snap "$WL_PID" -o "$T/full/img"
		assert_err "No space left on device"
		assert_err "writing $T/full/img|$T/full/img"
		assert_untouched "$T/full"
	done
	BPFCKPT_SNAP_COPY=mmap assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "^bpfckpt: snap: BPFCKPT_SNAP_COPY=mmap: not one of bounce, map$"
	[ -e "$T/img" ] && fail "an image after a bad BPFCKPT_SNAP_COPY"
	assert_ticking "$WL_LOG" 2
}

test_fault_collect() {
	mkdir "$T/out"
	wl_start threads 2 50
	BPFCKPT_FAULT=snap-collect ckpt snap "$WL_PID" -o "$T/out/img"
	assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=snap-collect"
	assert_err "fault injected at 'snap-collect'"
	assert_untouched "$T/out"
}

test_fault_write() {
	mkdir "$T/out"
	wl_start heap 8 50
	BPFCKPT_FAULT=snap-write ckpt snap "$WL_PID" -o "$T/out/img"
	assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=snap-write"
	assert_err "fault injected at 'snap-write'"
	assert_eq 1 "$(wc -l <"$CKPT_ERR")" "lines of error message (one message per failure)"
	assert_untouched "$T/out"
}

test_fault_write_kill() {
	# --kill must not kill when the image could not be written
	mkdir "$T/out"
	wl_start forktree 100
	BPFCKPT_FAULT=snap-write ckpt snap "$WL_PID" -o "$T/out/img" --kill
	assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=snap-write --kill"
	assert_untouched "$T/out"
	assert_eq 4 "$(session_pids "$WL_PID" | wc -l)" "forktree processes after a failed snap --kill"
}

# gated_snap PID: starts "bpfckpt snap PID -o $T/out/img" in the background
# and returns once it is held (opengate.py) at its open() of $T/out, which
# it does only after the tree is frozen and collected; sets SNAP_PID (the
# timeout wrapper, to wait for; $T/blocked holds bpfckpt's own pid).
# "touch $T/release" lets it go on.
gated_snap() {
	local gate
	mkdir -p "$T/out"
	python3 "$TESTS_DIR/tools/opengate.py" "$T/out" "$T/armed" "$T/blocked" "$T/release" 60 &
	gate=$!
	on_exit "touch '$T/release'; kill $gate 2>/dev/null; wait $gate 2>/dev/null"
	wait_until 10 "[ -f '$T/armed' ]" || fail "opengate.py did not start"
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap "$1" -o "$T/out/img" >"$T/snap.out" 2>"$T/snap.err" &
	SNAP_PID=$!
	wait_until 30 "[ -f '$T/blocked' ]" || fail "bpfckpt never opened the output directory"
	[ "$(proc_state "$1")" = t ] || fail "the target is not frozen by bpfckpt (state $(proc_state "$1"))"
}

# The target is killed while bpfckpt holds it frozen, between collection
# and writing.
test_target_dies_mid_snap() {
	local rc=0
	wl_start heap 16 50
	gated_snap "$WL_PID"
	kill -KILL "$WL_PID"
	wait_until 10 "[[ \$(proc_state $WL_PID) =~ ^Z?\$ ]]" || fail "the target did not die"
	touch "$T/release"
	wait "$SNAP_PID" || rc=$?
	cat "$T/snap.out" "$T/snap.err" >&2
	CKPT_ERR=$T/snap.err
	assert_eq 1 "$rc" "exit status of a snap whose target died"
	assert_err "pid $WL_PID"
	assert_empty_dir "$T/out"
}

# A second snap of a tree that a first one holds frozen is refused, and
# leaves the first one to finish.
test_concurrent_snap_refused() {
	local rc=0
	wl_start threads 2 50
	gated_snap "$WL_PID"
	assert_ckpt 1 snap "$WL_PID" -o "$T/second.img"
	assert_err "pid $WL_PID: thread [0-9]+ is already traced by pid $(cat "$T/blocked")"
	[ ! -e "$T/second.img" ] || fail "the refused snap wrote an image"
	touch "$T/release"
	wait "$SNAP_PID" || rc=$?
	cat "$T/snap.out" "$T/snap.err" >&2
	assert_eq 0 "$rc" "exit status of the first snap"
	[ -f "$T/out/img" ] || fail "the first snap wrote no image"
	assert_ticking "$WL_LOG" 3
}

test_output_is_a_directory() {
	mkdir "$T/dir"
	wl_start heap 8 50
	assert_ckpt 1 snap "$WL_PID" -o "$T/dir"
	assert_err "$T/dir: Is a directory"
	assert_empty_dir "$T/dir"
	[ -z "$(ls -A "$T" | grep '^\.dir\.')" ] || fail "a temporary file was left: $(ls -A "$T")"
	assert_ticking "$WL_LOG" 3
}

# an fd kind snap does not know (userfaultfd)
test_userfaultfd_refused() {
	mkdir "$T/out"
	python3 -c 'import ctypes, os, time
os.setsid()
fd = ctypes.CDLL(None).syscall(323, 0)	# userfaultfd(0)
if fd != 3: raise SystemExit("userfaultfd: %d" % fd)
print("ready pid=%d" % os.getpid(), flush=True)
time.sleep(600)' >"$T/py.log" 2>&1 </dev/null &
	WL_PID=$!
	WL_LOG=$T/py.log
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$T/py.log" '^ready' 10 || fail "python did not start: $(cat "$T/py.log")"
	assert_ckpt 1 snap "$WL_PID" -o "$T/out/img"
	assert_err "fd 3 is .anon_inode:\[userfaultfd\].: not supported"
	assert_alive "$WL_PID"
	assert_empty_dir "$T/out"
	[ "$(proc_state "$WL_PID")" = S ] || fail "python is in state $(proc_state "$WL_PID") after the refused snap"
}

# A vfork() parent sleeps until its child execs or exits, in a state
# that only a fatal signal ends: ptrace cannot stop it.  The snap gives
# up with a message instead of waiting with it, and leaves the tree as
# it was; once the child is gone the same tree snaps and restores.
test_vfork_parent_refused() {
	local child
	mkdir -p "$T/data" "$T/out"
	wl_start vforker "$T/data" 50
	wait_until 10 "grep -qE '^pid [0-9]+ tick 2\$' '$WL_LOG'" || fail "the vfork child does not tick"
	child=$(grep -m1 -oE '^pid [0-9]+ tick' "$WL_LOG" | awk '{ print $2 }')
	assert_ckpt 1 snap "$WL_PID" -o "$T/out/img"
	assert_err "pid $WL_PID: thread $WL_PID is in vfork\(\), waiting for its child to exec or exit"
	assert_empty_dir "$T/out"
	assert_ticking "$WL_LOG" 3 "$child"
	[ "$(proc_state "$WL_PID")" = D ] || fail "the vfork parent is in state $(proc_state "$WL_PID")"
	touch "$T/data/exit"
	wait_for_line "$WL_LOG" "^pid $WL_PID resumed after child $child" 10 ||
		fail "the parent did not resume after its vfork child exited"
	assert_ticking "$WL_LOG" 2 "$WL_PID"
	snap_kill_json "$WL_PID"
	restore_d
	assert_ticking "$WL_LOG" 3 "$WL_PID"
}

# a small valid image to damage
make_image() {
	wl_start demo
	assert_ckpt 0 snap "$WL_PID" -o "$T/good.img"
	assert_ckpt 0 show "$T/good.img"
}

# assert_show_rejects FILE REGEX: show exits 1 (not a signal) and says REGEX
assert_show_rejects() {
	assert_ckpt 1 show "$1"
	assert_err "^bpfckpt: show: "
	assert_err "$2"
	assert_ckpt 1 show --json "$1"
}

test_show_truncated() {
	local size cut
	make_image
	size=$(stat -c %s "$T/good.img")
	for cut in 0 7 8 100 1000 $((size / 2)) $((size - 8)) $((size - 1)); do
		head -c "$cut" "$T/good.img" >"$T/cut.img"
		assert_show_rejects "$T/cut.img" "truncated|too short|offset"
	done
}

test_show_corrupted() {
	local size off
	make_image
	size=$(stat -c %s "$T/good.img")
	for off in 600 $((size / 3)) $((size / 2)) $((size - 100)); do
		cp "$T/good.img" "$T/bad.img"
		# flip every bit of one byte
		python3 -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek($off); b = f.read(1); f.seek($off); f.write(bytes([b[0] ^ 0xff]))" "$T/bad.img"
		assert_show_rejects "$T/bad.img" "checksum mismatch|offset"
	done
}

test_show_not_an_image() {
	printf 'hello\n' >"$T/text"
	: >"$T/empty"
	head -c 65536 /dev/urandom >"$T/random"
	mkdir "$T/dir"
	# the magic comes before any size rule: a text file of any size is no image
	for n in 1 6 15 16 17 1221 70001; do
		python3 -c "import sys; sys.stdout.write(('root:x:0:0:root:/root:/bin/bash\n' * 3000)[:$n])" >"$T/text$n"
		assert_show_rejects "$T/text$n" "not a bpfckpt image"
		grep -qE "multiple of 8|too short|truncated" "$CKPT_ERR" &&
			fail "a $n-byte text file: '$(cat "$CKPT_ERR")' blames its size"
		assert_ckpt 1 restore "$T/text$n" -d
		assert_err "not a bpfckpt image"
	done
	assert_show_rejects "$T/text" "not a bpfckpt image"
	assert_show_rejects "$T/empty" "empty file: too short"
	assert_show_rejects "$T/random" "not a bpfckpt image"
	assert_show_rejects "$T/dir" "not a regular file"
	assert_show_rejects "$T/missing" "No such file"
	assert_show_rejects /dev/null "not a regular file"
}

# a workload whose stdout is a pipe to a process outside its tree (cat)
start_piped_demo() {
	( clean_exec "$WL/demo" 2>"$T/piped.err" | cat >"$T/piped.log" ) &
	wait_for_line "$T/piped.log" '^ready pid=[0-9]+' 30 || fail "demo did not start"
	WL_PID=$(grep -m1 -oE '^ready pid=[0-9]+' "$T/piped.log" | cut -d= -f2)
	WL_LOG=$T/piped.log
	echo "$WL_PID" >>"$T/.sessions"
}

test_kill_refuses_pipe_outside_tree() {
	start_piped_demo
	mkdir "$T/out"
	assert_ckpt 1 snap "$WL_PID" -o "$T/out/img" --kill
	assert_err "^bpfckpt: snap: pid $WL_PID: fd 1 is pipe:\[[0-9]+\] \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd fd\[N\]:pipe:\[[0-9]+\], N an fd of restore's own on it$"
	assert_err "^bpfckpt: snap: --kill refused: restore would refuse this image \(1 reason above\); pid $WL_PID runs on and no image is kept$"
	assert_untouched "$T/out"
	# inspect gives the same verdict, with the same words
	assert_ckpt 0 inspect "$WL_PID" --json
	python3 - "$CKPT_OUT" "$WL_PID" <<'PY' || fail "inspect's verdict differs: $(head -c 400 "$CKPT_OUT")"
import json, sys
v = json.load(open(sys.argv[1]))["verdict"]
pid = int(sys.argv[2])
r = [x for x in v["reasons"] if x["pid"] == pid and x["stage"] == "restore"]
ok = v["checkpointable"] and not v["restorable"] and len(r) == 1 and \
     r[0]["what"] == "fd" and r[0]["reason"].startswith("fd 1 is pipe:[")
sys.exit(0 if ok else 1)
PY
	# without --kill the snap is taken, and the tree runs on
	assert_ckpt 0 snap "$WL_PID" -o "$T/out/img"
	assert_ticking "$WL_LOG" 2
}

# a process confined by Landlock: its rules cannot be read from outside,
# so snap refuses it (and inspect says so) instead of losing them
test_landlock_refused() {
	WL_LOG=$T/py.log
	clean_exec python3 -c 'import ctypes, os, struct, time
os.setsid()
libc = ctypes.CDLL(None, use_errno=True)
attr = struct.pack("QQQ", 1, 0, 0)	# handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE
fd = libc.syscall(444, attr, 8, 0)
if fd < 0 or libc.prctl(38, 1, 0, 0, 0) or libc.syscall(446, fd, 0):
    raise SystemExit("FAIL: landlock: %d" % ctypes.get_errno())
os.close(fd)
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    print("tick %d" % n, flush=True)
    time.sleep(0.05)' </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 30 || fail "python did not start: $(cat "$WL_LOG")"
	mkdir "$T/out"
	assert_ckpt 1 snap "$WL_PID" -o "$T/out/img" --kill
	assert_err "^bpfckpt: snap: pid $WL_PID: thread $WL_PID is confined by Landlock, whose rules cannot be read from outside the process to be made again: not supported$"
	assert_untouched "$T/out"
	assert_ckpt 0 inspect "$WL_PID"
	grep -q "is confined by Landlock" "$CKPT_OUT" || fail "inspect's verdict misses Landlock"
}

test_check() {
	local p
	assert_ckpt 0 check
	grep -qE '^bpf_iter +yes' "$CKPT_OUT" || fail "check does not report BPF iterators: $(cat "$CKPT_OUT")"
	for p in list_tasks collect_task collect_timers collect_sem_undo collect_vma \
		 collect_file sys_enter sys_exit walk_tree; do
		case $p in
		list_tasks) fallback_forced tasks && continue ;;
		collect_timers) fallback_forced timers && continue ;;
		collect_sem_undo) fallback_forced sem_undo && continue ;;
		collect_file) fallback_forced fd_path && p=collect_file_nopath ;;
		sys_enter | sys_exit)
			if fallback_forced raw_tp && fallback_forced tp_btf; then
				p=${p}_tp
			elif fallback_forced tp_btf; then
				p=${p}_raw
			fi ;;
		esac
		grep -qE "^$p +yes " "$CKPT_OUT" || fail "check does not say $p loads: $(grep "^$p " "$CKPT_OUT")"
	done
	if fallback_forced tasks; then
		grep -qE "^list_tasks +off .*\(BPFCKPT_FALLBACK: the tree is listed from /proc\)$" \
			"$CKPT_OUT" || fail "check does not say list_tasks is left out: $(grep "^list_tasks " "$CKPT_OUT")"
	fi
	assert_ckpt 0 check --json
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$CKPT_OUT" ||
		fail "check --json is not JSON: $(head -c 200 "$CKPT_OUT")"
}

run_tests "$@"
