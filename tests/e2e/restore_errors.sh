#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bpfckpt restore on bad input and failing steps.  Everything that can be
# checked is checked before the first process is created: a refused
# restore exits 1 (usage errors 2), names the pid or file and the reason
# in one line, and never calls clone3 for a pid of the image (the
# restorer runs under strace to show it).  A failure after processes
# exist leaves none of them.  The image restores fine afterwards.
. "$(dirname "$0")/../lib.sh"

# image_pids plus the threads of every process
image_tids() {
	python3 -c "import json
for p in json.load(open('$T/image.json'))['processes']:
    print(' '.join(str(t['tid']) for t in p['threads']) or p['pid'])"
}

# snap_then_kill SID: snap --kill refuses what restore would refuse, so
# snap, then kill the tree by hand; $T/img and $T/image.json as usual
snap_then_kill() {
	local sid=$1 p
	assert_ckpt 1 snap "$sid" -o "$T/img" --kill
	assert_err "^bpfckpt: snap: --kill refused: restore would refuse this image"
	assert_alive "$sid"
	deep_capture "$sid"
	assert_ckpt 0 snap "$sid" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	kill_session "$sid"
	for p in $(image_pids); do
		wait_until 10 "[ ! -d /proc/$p ]" || fail "pid $p survives its kill"
	done
}

# restore_refused RC REGEX ARGS...: bpfckpt restore ARGS exits RC with
# one message line matching REGEX, and created no process of the image
# (no clone3 with one of its pids as set_tid) -- except pids in $TAKEN,
# which other processes hold
restore_refused() {
	local rc=$1 re=$2 p
	shift 2
	# LeakSanitizer cannot run under ptrace (make SANITIZE=1 builds)
	printf '#!/bin/sh\nASAN_OPTIONS=detect_leaks=0 exec strace -qq -e trace=clone,clone3,fork,vfork -e signal=none -o %s %s "$@"\n' \
		"$T/clones.log" "$BPFCKPT" >"$T/traced"
	chmod +x "$T/traced"
	BPFCKPT=$T/traced assert_ckpt "$rc" restore "$@"
	assert_err "^bpfckpt: restore: "
	assert_err "$re"
	assert_eq 1 "$(wc -l <"$CKPT_ERR")" "lines of error message"
	cat "$T/clones.log" >&2
	for p in $(image_tids); do
		grep -q "set_tid=\[$p\]" "$T/clones.log" &&
			fail "the refused restore called clone3 for pid $p"
		[[ " ${TAKEN:-} " == *" $p "* ]] && continue
		assert_no_pids "$p"
	done
	return 0
}

# the image restores after all, and the workload goes on
restores_fine() {
	restore_d "$@"
	restored_matches --running
	assert_ticking "$WL_LOG" 3
}

# take_pid PID: a "sleep" of ours gets exactly PID (via ns_last_pid);
# other processes may fork in between, so try until it works
take_pid() {
	local want=$1 i
	for i in $(seq 50); do
		[ -d "/proc/$want" ] && fail "pid $want is taken by something else"
		echo $((want - 1)) >/proc/sys/kernel/ns_last_pid
		clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &
		[ "$!" = "$want" ] && { on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"; return 0; }
		kill "$!"
		wait "$!" 2>/dev/null
	done
	fail "could not get pid $want for a sleep"
}

test_pid_taken() {
	wl_start heap 8 50
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	TAKEN=$WL_PID restore_refused 1 "pid $WL_PID is in use by 'heap'" "$T/img" -d
	assert_ticking "$WL_LOG" 3
}

# only one pid of a four-process tree is taken: none of the others appears
test_child_pid_taken() {
	local last
	wl_start forktree 100
	wait_until 20 "[ \$(session_pids $WL_PID | wc -l) = 4 ]" || fail "forktree did not start 4 processes"
	snap_kill_json "$WL_PID"
	last=$(image_pids | tr ' ' '\n' | tail -n 1)
	take_pid "$last"
	TAKEN=$last restore_refused 1 "pid $last is in use by 'sleep'" "$T/img" -d
}

test_thread_id_taken() {
	local tid
	wl_start threads 3 50
	snap_kill_json "$WL_PID"
	tid=$(image_tids | tr ' ' '\n' | tail -n 1)
	[ "$tid" != "$WL_PID" ] || fail "no thread in the image"
	take_pid "$tid"
	TAKEN=$tid restore_refused 1 "pid $tid is in use by 'sleep'" "$T/img" -d
}

# the workload runs from a copy in $T/bin, so its binary can go
start_copy() {
	mkdir -p "$T/bin"
	cp "$WL/$1" "$T/bin/$1"
	WL=$T/bin wl_start "$@"
}

test_missing_executable() {
	start_copy heap 8 50
	snap_kill_json "$WL_PID"
	rm "$T/bin/heap"
	restore_refused 1 "pid $WL_PID: executable $T/bin/heap: No such file or directory" "$T/img" -d
	# the same bytes under a new inode: still refused, unless --force
	cp "$WL/heap" "$T/bin/heap"
	restore_refused 1 "pid $WL_PID: backing file $T/bin/heap was replaced since the snap" "$T/img" -d
	# (/proc/PID/maps shows the new inode: restored_matches would differ)
	restore_d --force
	assert_ticking "$WL_LOG" 3
}

test_missing_mapped_file() {
	mkdir "$T/data"
	wl_start mmaps "$T/data" 50
	snap_kill_json "$WL_PID"
	mv "$T/data/mmaps.data" "$T/data/moved"
	restore_refused 1 "backing file $T/data/mmaps.data: No such file or directory" "$T/img" -d
	mv "$T/data/moved" "$T/data/mmaps.data"
	restores_fine
}

test_missing_open_file() {
	mkdir "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	mv "$T/data/in" "$T/data/moved"
	restore_refused 1 "pid $WL_PID: fd [0-9]+: $T/data/in: No such file or directory" "$T/img" -d
	mv "$T/data/moved" "$T/data/in"
	restores_fine
}

# a file the restored process had open for writing now sits on a
# read-only file system: found before anything is created
test_open_file_read_only() {
	mkdir "$T/data"
	mount -t tmpfs -o size=4m tmpfs "$T/data" || fail "cannot mount a tmpfs"
	on_exit umount -l "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	mount -o remount,ro "$T/data" || fail "cannot remount read-only"
	restore_refused 1 "pid $WL_PID: fd [0-9]+: $T/data/(out|rw): Read-only file system" "$T/img" -d
	mount -o remount,rw "$T/data"
	restores_fine
}

test_backing_file_size_changed() {
	local size
	start_copy heap 8 50
	snap_kill_json "$WL_PID"
	size=$(stat -c %s "$T/bin/heap")
	printf 'x' >>"$T/bin/heap"
	restore_refused 1 "pid $WL_PID: backing file $T/bin/heap is $((size + 1)) bytes, the image expects $size \(use --force" "$T/img" -d
	# a byte after the end of every mapped page changes nothing it runs
	restores_fine --force
}

test_truncated() {
	local size cut
	wl_start heap 8 50
	snap_kill_json "$WL_PID"
	size=$(stat -c %s "$T/img")
	for cut in 0 4096 $((size / 2 / 4096 * 4096)) $((size - 4096)) $((size - 8)); do
		head -c "$cut" "$T/img" >"$T/cut.img"
		restore_refused 1 "too short|truncated.*offset|offset 0x[0-9a-f]+.*truncated" "$T/cut.img" -d
	done
	head -c $((size - 3)) "$T/img" >"$T/cut.img"
	restore_refused 1 "not a multiple of 8: truncated" "$T/cut.img" -d
	restores_fine
}

test_corrupted() {
	local off rec
	wl_start heap 8 50
	snap_kill_json "$WL_PID"
	cp "$T/img" "$T/good.img"
	# a flipped byte in the page data: only the checksum can tell
	off=$(( $(stat -c %s "$T/img") / 2 ))
	python3 -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek($off); b = f.read(1); f.seek($off); f.write(bytes([b[0] ^ 0xff]))" "$T/img"
	restore_refused 1 "checksum mismatch .*corrupted" "$T/img" -d
	# a resealed image with a broken record: the loader names the offset
	cp "$T/good.img" "$T/img"
	"$TOOLS/imgedit" "$T/img" list >"$T/records" || fail "imgedit list failed"
	rec=$(awk '$3 == "vma" { print $2; exit }' "$T/records")
	# its type becomes 63, a type no bpfckpt knows
	"$TOOLS/imgedit" "$T/img" poke "$rec" 3f000000 || fail "imgedit poke failed"
	restore_refused 1 "record [0-9]+ at offset $rec: unknown or misplaced type 63" "$T/img" -d
	# a vma whose end is before its start (offset 8+8 in struct img_vma)
	cp "$T/good.img" "$T/img"
	"$TOOLS/imgedit" "$T/img" poke $((rec + 16)) 0000000000000000 || fail "imgedit poke failed"
	restore_refused 1 "record [0-9]+ \(vma\) at offset $rec: range .* invalid" "$T/img" -d
	cp "$T/good.img" "$T/img"
	restores_fine
}

test_other_kernel() {
	local here
	here=$(uname -r)
	wl_start heap 8 50
	snap_kill_json "$WL_PID"
	"$TOOLS/imgedit" "$T/img" set release 5.10.0-99-other || fail "imgedit set failed"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	json_get "j['header']['kernel']" | grep -qx 5.10.0-99-other ||
		fail "imgedit did not change the release: $(json_get "j['header']['kernel']")"
	restore_refused 1 "was snapped on kernel 5.10.0-99-other, this is $here \(--force" "$T/img" -d
	restores_fine --force
}

# BPFCKPT_FAULT=POINT: fails a restore after processes exist; none stays
fault_cycle() {
	local point
	for point in restore-created restore-mm restore-final; do
		BPFCKPT_FAULT=$point ckpt restore "$T/img" -d
		assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=$point"
		assert_err "fault injected at '$point'"
		assert_no_pids $(image_tids)
		BPFCKPT_FAULT=$point ckpt restore "$T/img"
		assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=$point, foreground"
		assert_no_pids $(image_tids)
	done
}

test_fault_forktree() {
	local p
	wl_start forktree 100
	wait_until 20 "[ \$(session_pids $WL_PID | wc -l) = 4 ]" || fail "forktree did not start 4 processes"
	snap_kill_json "$WL_PID"
	fault_cycle
	restore_d
	restored_matches --running
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 2 "$p"
	done
}

test_fault_threads() {
	wl_start threads 4 50
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	fault_cycle
	restores_fine
}

test_fault_zombie_and_stopped() {
	mkdir "$T/data"
	wl_start zombie "$T/data" 50
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	fault_cycle
	restores_fine
}

# a lazy restore that fails leaves no process behind, and no pager
test_lazy_failures() {
	local p point
	wl_start forktree 100
	wait_until 20 "[ \$(session_pids $WL_PID | wc -l) = 4 ]" || fail "forktree did not start 4 processes"
	snap_kill_json "$WL_PID"
	for point in restore-created restore-mm restore-final; do
		BPFCKPT_FAULT=$point ckpt restore "$T/img" -d --lazy
		assert_eq 1 "$CKPT_RC" "exit status with BPFCKPT_FAULT=$point --lazy"
		assert_err "fault injected at '$point'"
		assert_no_pids $(image_tids)
		wait_until 5 "! pgrep -f 'restore $T/img' >/dev/null" ||
			fail "a bpfckpt restore (pager?) is left after a failed lazy restore: $(pgrep -af "restore $T/img")"
	done
	restore_d --lazy
	# the pager ends, and the tree's own userfaultfds go with it
	wait_until 30 "! ls -l /proc/{${WL_PID},$(image_pids | tr ' ' ',')}/fd 2>/dev/null | grep -q userfaultfd" ||
		fail "the restored tree still holds userfaultfds after 30 s"
	restored_matches --running
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 2 "$p"
	done
}

test_lazy_pid_taken() {
	wl_start heap 8 50
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	TAKEN=$WL_PID restore_refused 1 "pid $WL_PID is in use by 'heap'" "$T/img" -d --lazy
	assert_ticking "$WL_LOG" 3
}

test_usage_errors() {
	assert_ckpt 2 restore
	assert_err "which IMAGE"
	assert_err "^usage: bpfckpt restore IMAGE"
	assert_ckpt 2 restore "$T/img" --frobnicate
	assert_err "unknown option '--frobnicate'"
	assert_ckpt 2 restore -x "$T/img"
	assert_ckpt 2 restore "$T/a" "$T/b"
	assert_err "one IMAGE only"
	assert_ckpt 1 restore "$T/missing.img"
	assert_err "^bpfckpt: restore: $T/missing.img: No such file or directory"
	mkdir "$T/dir"
	assert_ckpt 1 restore "$T/dir"
	assert_err "not a regular file"
}

# a process with a session keyring of its own (keyctl join): keys are not
# saved, so restore wants the same keyring or --force; snap --kill
# refuses too (restore would)
test_session_keyring() {
	WL_LOG=$T/py.log
	clean_exec python3 -c 'import ctypes, os, time
os.setsid()
libc = ctypes.CDLL(None, use_errno=True)
# keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous one
ses = libc.syscall(250, 1, None)
if ses < 0:
    raise SystemExit("FAIL: keyctl: %d" % ctypes.get_errno())
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    if libc.syscall(250, 0, -3, 0) != ses:
        print("FAIL: the session keyring changed", flush=True)
    print("tick %d" % n, flush=True)
    time.sleep(0.05)' </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 30 || fail "python did not start: $(cat "$WL_LOG")"
	assert_ticking "$WL_LOG" 2
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "pid $WL_PID: its session keyring is [0-9]+, this restore's is [0-9]+: keys are not saved"
	snap_then_kill "$WL_PID"
	restore_refused 1 "pid $WL_PID: its session keyring is [0-9]+, this restore's is [0-9]+: keys are not saved \(restore from its session, or --force to give it this one\)" "$T/img" -d
	assert_ckpt 0 restore "$T/img" -d --force
	wait_for_line "$WL_LOG" "FAIL: the session keyring changed" 10 ||
		fail "with --force it kept a keyring it cannot have"
}

# heap's stdout is a pipe to a cat outside the tree: restore names the
# fd, the inode and the option (restore_fds.sh uses it)
test_pipe_to_outside() {
	{ clean_exec "$WL/heap" 8 50 </dev/null 2>&1 | cat >"$T/heap.log"; } &
	WL_LOG=$T/heap.log
	wait_for_line "$WL_LOG" '^ready pid=' 30 || fail "heap did not start: $(cat "$WL_LOG")"
	WL_PID=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$WL_LOG")
	echo "$WL_PID" >>"$T/.sessions"
	snap_then_kill "$WL_PID"
	restore_refused 1 "pid $WL_PID: fd 1 is pipe:\[([0-9]+)\] \(inode \1\), whose other end is outside the tree: give restore --inherit-fd fd\[N\]:pipe:\[\1\], N an fd of restore's own on it" "$T/img" -d
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="pid_taken missing_open_file fault_forktree fault_zombie_and_stopped lazy_failures pipe_to_outside"
run_tests "$@"
