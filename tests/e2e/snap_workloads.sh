#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bpfckpt snap against the workloads: the image must say what /proc says
# about the stopped tree, hold the process's exact memory, leave the tree
# as it was (running or job-stopped) and, with --kill, leave nothing.
. "$(dirname "$0")/../lib.sh"

test_heap() {
	wl_start heap 64 50
	assert_ticking "$WL_LOG" 3
	snap_checked "$WL_PID"
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" >"$T/pagecmp" 2>&1 ||
		fail "image memory differs from the process: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cat "$T/pagecmp" >&2
	# 64 MiB of heap was written: all of it must be in the image
	[ "$(json_get 'j["processes"][0]["pages"]')" -ge 16384 ] ||
		fail "only $(json_get 'j["processes"][0]["pages"]') pages stored for a 64 MiB heap"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_heap_running() {
	wl_start heap 32 20
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_alive "$WL_PID"
	assert_ckpt 0 show "$T/img"
	grep -q "^process $WL_PID (heap)" "$CKPT_OUT" || fail "show does not list process $WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_threads() {
	wl_start threads 4 50
	assert_ticking "$WL_LOG" 3
	snap_checked "$WL_PID"
	assert_eq 5 "$(json_get 'len(j["processes"][0]["threads"])')" "threads in the image"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_forktree() {
	local p
	forktree_start
	assert_eq 4 "$(session_pids "$WL_PID" | wc -l)" "processes in the session"
	snap_checked "$WL_PID"
	assert_eq 4 "$(json_get 'len(j["processes"])')" "processes in the image"
	assert_eq "$WL_PID" "$(json_get 'j["processes"][0]["pid"]')" "first process of the image"
	cont_tree "$WL_PID"
	for p in $(session_pids "$WL_PID"); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

test_files() {
	mkdir "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 3
	snap_checked "$WL_PID"
	local kinds
	kinds=$(json_get '" ".join(f["kind"] + ":" + f["path"].rsplit("/", 1)[-1] for f in j["processes"][0]["fds"] if f["path"].startswith("'"$T"'/data"))')
	[[ " $kinds " == *" dir:data "* && " $kinds " == *" reg:in "* &&
		" $kinds " == *" reg:out "* && " $kinds " == *" reg:rw "* ]] ||
		fail "fds of DIR, in, out, rw not all in the image: $kinds"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_job_stopped_stays_stopped() {
	wl_start threads 2 50
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	local before
	before=$(last_tick "$WL_LOG")
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_stopped_tree "$WL_PID"
	json_state=$(timeout 30 "$BPFCKPT" show --json "$T/img" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["processes"][0]["state"])')
	assert_eq stopped "$json_state" "state of the job-stopped process in the image"
	assert_eq "$before" "$(last_tick "$WL_LOG")" "ticks while stopped"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 3
}

test_kill_heap() {
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 2
	snap_kill "$WL_PID"
}

test_kill_threads() {
	wl_start threads 8 50
	assert_ticking "$WL_LOG" 2
	snap_kill "$WL_PID"
}

test_kill_forktree() {
	forktree_start
	snap_kill "$WL_PID"
}

test_kill_files() {
	mkdir "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 2
	snap_kill "$WL_PID"
}

run_tests "$@"
