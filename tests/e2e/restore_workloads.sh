#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# snap --kill then restore, on every workload: same pids, the same tree,
# /proc agreeing with the image, the same memory, and the workload going
# on from its last tick with no reset (its own checks run every tick).
. "$(dirname "$0")/../lib.sh"

test_heap() {
	wl_start heap 64 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_heap_running() {
	wl_start heap 32 20
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_threads() {
	wl_start threads 4 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_eq 5 "$(ls /proc/$WL_PID/task | wc -l)" "threads after restore"
	assert_ticking "$WL_LOG" 8
}

test_forktree() {
	local p
	forktree_start
	cycle_running "$WL_PID"
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

test_forktree_stopped() {
	local p
	forktree_start
	cycle_stopped "$WL_PID"
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

test_files() {
	mkdir "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 8
}

test_signals() {
	wl_start signals 50 10
	assert_ticking "$WL_LOG" 4
	cycle_running "$WL_PID"
	# the held RT signals are released and checked after 10 ticks
	assert_ticking "$WL_LOG" 25
}

test_timers() {
	wl_start timers 50
	assert_ticking "$WL_LOG" 3
	if fallback_forced timers; then
		# snap --kill refuses without collect_timers, and kills nothing
		assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
		assert_err "pid $WL_PID: has 1 POSIX timer"
		assert_ticking "$WL_LOG" 3
		return
	fi
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 10
}

test_fpu() {
	wl_start fpu 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_mmaps() {
	mkdir "$T/data"
	wl_start mmaps "$T/data" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# advice and mapping flags (smaps VmFlags, compared VMA by VMA by
# restored_matches) and a guard region (the workload checks it traps)
advice_flags_seen() {
	local want="dc dd wf sr rr hg nh lo lf nr gd"
	[ -d /sys/kernel/mm/ksm ] && want="$want mg"
	python3 - "$T/deep.before.json" $want <<'PY' || fail "advice's mappings lack VmFlags: $(cat "$T/missing")"
import json, sys
seen = set()
for p in json.load(open(sys.argv[1])).values():
    for f in p["vmflags"].values():
        seen |= set(f.split())
missing = [f for f in sys.argv[2:] if f not in seen]
open(sys.argv[1].rsplit("/", 1)[0] + "/missing", "w").write(" ".join(missing))
sys.exit(1 if missing else 0)
PY
}

test_advice() {
	wl_start advice 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	advice_flags_seen
	assert_ticking "$WL_LOG" 5
}

test_advice_running() {
	wl_start advice 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	advice_flags_seen
	assert_ticking "$WL_LOG" 5
}

# a program that moved its vdso and vvar (by the same distance) or
# unmapped them: the same layout comes back, the moved vdso still works
test_vdso_moved() {
	wl_start vdso 50 move
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_vdso_unmapped() {
	wl_start vdso 50 unmap
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	grep -q '"\[vdso\]"' "$T/image.json" && fail "the image has a vdso the program unmapped"
	[ -z "$(grep -E '\[(vdso|vvar)' "/proc/$WL_PID/maps")" ] ||
		fail "the restored process has a vdso again: $(grep -E '\[(vdso|vvar)' "/proc/$WL_PID/maps")"
	assert_ticking "$WL_LOG" 5
}

# another build's vdso (simulated: every function moved by 16 bytes):
# the program's saved vdso pointers reach it through trampolines
test_vdso_proxy() {
	wl_start vdso 50
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	BPFCKPT_FAULT=vdso-differs assert_ckpt 0 restore "$T/img" -d
	assert_err "pid $WL_PID: this kernel's vdso differs from the image's \([a-z_]+ at 0x[0-9a-f]+, was 0x[0-9a-f]+.*\): its functions are reached through trampolines at 0x[0-9a-f]+, the vdso itself is at 0x[0-9a-f]+$"
	assert_ticking "$WL_LOG" 10
}

# files of the tree's own /proc held open (itself, a child): they exist
# only once the tree does, and are opened then
test_proc_files() {
	WL_LOG=$T/py.log
	clean_exec python3 -c 'import os, time
os.setsid()
kid = os.fork()
if kid == 0:
    while True:
        time.sleep(1)
me = open("/proc/self/status")
his = open("/proc/%d/stat" % kid)
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    me.seek(0); his.seek(0)
    if "Pid:\t%d\n" % os.getpid() not in me.read() or not his.read().startswith("%d " % kid):
        print("FAIL: /proc files read wrong", flush=True)
    print("tick %d" % n, flush=True)
    time.sleep(0.05)' </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 30 || fail "python did not start: $(cat "$WL_LOG")"
	assert_ticking "$WL_LOG" 2
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_vdso() {
	wl_start vdso 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_rseq() {
	wl_start rseq 50
	assert_ticking "$WL_LOG" 3
	# it moves itself from CPU to CPU: its affinity at the snap is
	# whatever it was then (the workload checks rseq's cpu_id against it)
	DEEP_VOLATILE="affinity Cpus_allowed Cpus_allowed_list" cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_zombie_and_stopped() {
	mkdir "$T/data"
	wl_start zombie "$T/data" 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 3
	touch "$T/data/reap"
	assert_ticking "$WL_LOG" 5
}

test_demo() {
	wl_start demo
	assert_ticking "$WL_LOG" 2
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 2
}

# filesleep's two threads append to a file (O_APPEND) and count their
# writes; it forks a child on SIGUSR1, prints the count and exits 0 on
# SIGTERM.  Restored in the foreground, whose exit status is its own.
test_filesleep() {
	local rp rc=0 lines n before
	WL_LOG=$T/filesleep.log
	clean_exec setsid "$WL/filesleep" "$T/out" 20 </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready $WL_PID\$" 10 || fail "filesleep did not start: $(cat "$WL_LOG")"
	wait_until 10 "[ \$(grep -c worker '$T/out') -gt 5 ]" || fail "filesleep's worker does not write"
	snap_kill_json "$WL_PID"
	before=$(wc -l <"$T/out")
	"$BPFCKPT" restore "$T/img" >"$T/fg.out" 2>&1 &
	rp=$!
	wait_until 20 "grep -q '^restored' '$T/fg.out'" || fail "restore did not report: $(cat "$T/fg.out")"
	restored_matches --running
	wait_until 10 "[ \$(grep -c worker '$T/out') -gt \$(head -n $before '$T/out' | grep -c worker) ]" ||
		fail "the worker thread writes no more after the restore"
	kill -USR1 "$WL_PID"
	wait_until 10 "[ \$(grep -c child '$T/out') = 20 ]" ||
		fail "the child forked after the restore wrote $(grep -c child "$T/out") of 20 lines"
	kill -TERM "$WL_PID"
	wait "$rp" || rc=$?
	cat "$T/fg.out" >&2
	assert_eq 0 "$rc" "exit status of the foreground restore (filesleep's)"
	n=$(sed -n 's/^filesleep: \([0-9]*\) writes$/\1/p' "$WL_LOG")
	[ -n "$n" ] || fail "filesleep printed no count: $(tail -n 2 "$WL_LOG")"
	lines=$(grep -cE '^(main|worker)$' "$T/out")
	# the worker may have written once more after main counted
	[ "$lines" -ge "$n" ] && [ "$lines" -le $((n + 1)) ] ||
		fail "filesleep counted $n writes, the file holds $lines lines of its threads"
}

test_restore_twice() {
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_d
	assert_ticking "$WL_LOG" 3
	kill -KILL "$WL_PID"
	wait_until 10 "[ ! -d /proc/$WL_PID ]" || fail "pid $WL_PID did not go"
	restore_d
	assert_alive "$WL_PID"
	# the second copy starts again from the snap: the log repeats ticks
	wait_until 20 "[ \$(grep -c '^tick' '$WL_LOG') -gt 0 ]"
}

# a tree of four processes restored three times from one image; each
# copy reopens the log at the snap's offset and writes the same ticks on
test_restore_tree_again_and_again() {
	local round p
	forktree_start 50
	snap_kill_json "$WL_PID"
	for round in 1 2 3; do
		restore_d
		restored_matches --running
		for p in $(image_pids); do
			assert_ticking "$WL_LOG" 2 "$p"
		done
		kill_session "$WL_PID"
		assert_no_pids $(image_pids)
	done
}

test_foreground_forwards_signals() {
	local rp rc=0
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	"$BPFCKPT" restore "$T/img" >"$T/fg.out" 2>&1 &
	rp=$!
	wait_until 20 "[ -d /proc/$WL_PID ] && grep -q '^restored' '$T/fg.out'" ||
		fail "foreground restore did not bring pid $WL_PID back: $(cat "$T/fg.out")"
	assert_ticking "$WL_LOG" 2
	kill -TERM "$rp"
	wait "$rp" || rc=$?
	assert_eq 143 "$rc" "restore's exit status after SIGTERM killed the root"
	[ -d "/proc/$WL_PID" ] && fail "pid $WL_PID survives its restorer's SIGTERM"
	return 0
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="heap_running threads forktree forktree_stopped files signals timers mmaps proc_files rseq zombie_and_stopped filesleep"
run_tests "$@"
