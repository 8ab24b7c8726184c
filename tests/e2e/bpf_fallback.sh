#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A BPF program this kernel's verifier refuses costs what it provides and
# no more: BPFCKPT_FAULT=refuse-<program> makes the verifier really refuse
# it (bpf/refuse.bpf.h).  An optional program gives way to its variant or
# userspace step with one warning; a required one stops snap with one
# line (program, kernel release, the verifier's reason, what still works)
# and leaves restore, show, trace and top working; check says which.
. "$(dirname "$0")/../lib.sh"

REL=$(uname -r)
REFUSAL='invalid read from stack R10 off=8 size=8'

# refused_re PROGRAM WHAT THEN [warning]: the one line a refused
# program gives, as a regex
refused_re() {
	local prog=$1 what=$2 then=$3 level=${4:+$4: }
	printf '^bpfckpt: [a-z]+: %sBPF program %s \\(%s\\) is refused on %s: %s; %s$' \
		"$level" "$prog" "$what" "${REL//./\\.}" "$REFUSAL" "$then"
}

test_fd_paths_from_proc() {
	mkdir "$T/data"
	wl_start files "$T/data" 50
	assert_ticking "$WL_LOG" 3
	deep_capture "$WL_PID"
	BPFCKPT_FAULT=refuse-collect_file assert_ckpt 0 snap "$WL_PID" -o "$T/img" --kill
	assert_err "$(refused_re collect_file 'iter/task_file \+ bpf_d_path: fds' \
		'fd paths are read from /proc/PID/fd' warning)"
	[ "$(wc -l <"$CKPT_ERR")" = 1 ] || fail "more than one line: $(cat "$CKPT_ERR")"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	grep -q "$T/data" "$T/image.json" || fail "the image lost the fd paths"
	restore_d
	restored_matches --running
	assert_ticking "$WL_LOG" 5
}

test_tree_listed_from_proc() {
	wl_start forktree 100
	assert_ticking "$WL_LOG" 3
	deep_capture "$WL_PID"
	BPFCKPT_FAULT=refuse-list_tasks assert_ckpt 0 snap "$WL_PID" -o "$T/img" --kill
	assert_err "BPF program list_tasks .* is refused on .*; the tree is listed from /proc$"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	[ "$(image_pids | wc -w)" = 4 ] || fail "the tree listed from /proc has $(image_pids | wc -w) processes, not 4"
	restore_d
	restored_matches --running
}

test_timers_refused_alone() {
	wl_start timers 50
	BPFCKPT_FAULT=refuse-collect_timers assert_kill_refused "$WL_PID" "^bpfckpt: snap: pid $WL_PID: has 1 POSIX timer, and BPF program collect_timers, which reads their expiry, is not loaded \(refused by this kernel's verifier: 'bpfckpt check' tells\)$"
	assert_ticking "$WL_LOG" 3
	# a process without timers loses nothing
	local timers_pid=$WL_PID
	wl_start demo
	BPFCKPT_FAULT=refuse-collect_timers assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_alive "$timers_pid" timers
}

test_sem_undo_refused_alone() {
	wl_start semundo 50
	on_exit "ipcrm -s $(grep -m1 -oE 'sem=[0-9]+' "$WL_LOG" | cut -d= -f2) 2>/dev/null"
	BPFCKPT_FAULT=refuse-collect_sem_undo assert_kill_refused "$WL_PID" "^bpfckpt: snap: pid $WL_PID: thread $WL_PID did semop with SEM_UNDO, and BPF program collect_sem_undo, which reads the adjustments, is not loaded \(refused by this kernel's verifier: 'bpfckpt check' tells\)$"
	assert_ticking "$WL_LOG" 3
	# a process without SEM_UNDO loses nothing
	local undo_pid=$WL_PID
	wl_start demo
	BPFCKPT_FAULT=refuse-collect_sem_undo assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_alive "$undo_pid" semundo
}

test_required_program_refused() {
	wl_start demo
	BPFCKPT_FAULT=refuse-collect_task assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "$(refused_re collect_task 'iter/task: thread state' \
		'snap and inspect cannot work here; restore, show, trace and top can' '')"
	[ "$(wc -l <"$CKPT_ERR")" = 1 ] || fail "not one line: $(cat "$CKPT_ERR")"
	[ -e "$T/img" ] && fail "a refused snap left an image"
	assert_alive "$WL_PID" demo
	BPFCKPT_FAULT=refuse-collect_vma assert_ckpt 1 inspect "$WL_PID"
	assert_err "BPF program collect_vma \(iter/task_vma: memory map\) is refused on"
	# the verifier's log only with -vv
	BPFCKPT_FAULT=refuse-collect_task assert_ckpt 1 -vv snap "$WL_PID" -o "$T/img"
	assert_err "verifier log of collect_task"
	# what still works: trace, show and check's listing
	BPFCKPT_FAULT=refuse-collect_task assert_ckpt 0 trace "$WL_PID" --duration 0.3
	BPFCKPT_FAULT=refuse-collect_task assert_ckpt 1 check
	grep -qE "^collect_task +NO +iter/task: thread state: $REFUSAL; snap and inspect cannot work here$" \
		"$CKPT_OUT" || fail "check does not say collect_task is refused: $(grep collect_task "$CKPT_OUT")"
	grep -qE "^collect_vma +yes " "$CKPT_OUT" || fail "check lost collect_vma"
}

test_both_fd_variants_refused() {
	wl_start demo
	BPFCKPT_FAULT=refuse-collect_file_nopath BPFCKPT_FALLBACK=fd_path \
		assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "BPF program collect_file_nopath \(iter/task_file: fds, paths from /proc\) is refused on"
	assert_alive "$WL_PID" demo
}

test_tracer_refusals() {
	wl_start demo
	BPFCKPT_FAULT=refuse-task_exec assert_ckpt 0 trace "$WL_PID" --duration 0.3
	assert_err "$(refused_re task_exec 'tp_btf/sched_process_exec' 'no exec events' warning)"
	# a refused syscall hook gives way to its raw_tp variant
	BPFCKPT_FAULT=refuse-sys_enter assert_ckpt 0 top "$WL_PID" --batch -n 1
	assert_err "$(refused_re sys_enter 'tp_btf/sys_enter: syscall entry' \
		'raw_tp/sys_enter: syscall entry takes its place' warning)"
	BPFCKPT_FAULT=refuse-walk_tree assert_ckpt 1 top "$WL_PID" --batch -n 1
	assert_err "BPF program walk_tree \(iter/task: marks and reads the traced threads\) is refused on .*; trace and top cannot work here; snap, restore and show can$"
	# and snap does not need the tracer
	BPFCKPT_FAULT=refuse-walk_tree assert_ckpt 0 snap "$WL_PID" -o "$T/img"
}

run_tests "$@"
