#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bpfckpt snap of the workloads written for the restore tests: the image
# agrees with /proc, holds the exact memory, records the state restore
# will need (queued signals, masks, the alternate stack, timers, rseq,
# odd mappings, zombies, stopped children), and the workload goes on.
. "$(dirname "$0")/../lib.sh"

# snap_workload NAME ARGS...: start, snap while stopped, compare, resume
snap_workload() {
	wl_start "$@"
	assert_ticking "$WL_LOG" 3
	snap_checked "$WL_PID"
	pagecmp_tree "$WL_PID"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# py_check 'CONDITION' MESSAGE: a python condition on the image JSON (j,
# p = first process, t = its first thread)
py_check() {
	python3 -c "
import json, sys
j = json.load(open('$T/image.json'))
p = j['processes'][0]
t = p['threads'][0]
sys.exit(0 if ($1) else 1)" || fail "$2"
}

test_signals() {
	snap_workload signals 50 1000
	# SIGRTMIN+1 (35 with glibc) blocked, two values queued on the process
	py_check 'int(t["sigmask"], 16) & (1 << 34)' "SIGRTMIN+1 is not blocked in the image's sigmask"
	py_check 'sorted(s["signo"] for s in p["signals"]) == [35, 35]' \
		"the image does not hold the two queued SIGRTMIN+1: $(json_get 'p["signals"]' 2>/dev/null)"
	py_check 'int(p["shared_pending"], 16) & (1 << 34)' "SIGRTMIN+1 is not pending in the image"
	py_check 't["sas_size"] == 65536 and int(t["sas_sp"], 16) != 0' "the alternate signal stack is not in the image"
}

test_timers() {
	if fallback_forced timers; then
		# without collect_timers nothing reads a timer's expiry: refused
		wl_start timers 100
		assert_ckpt 1 snap "$WL_PID" -o "$T/img"
		assert_err "^bpfckpt: snap: pid $WL_PID: has 1 POSIX timer, and BPF program collect_timers, which reads their expiry, is not loaded \(BPFCKPT_FALLBACK\)$"
		[ -e "$T/img" ] && fail "a refused snap left an image"
		assert_ticking "$WL_LOG" 3
		return
	fi
	snap_workload timers 100
	py_check 'len(p["timers"]) == 1' "the image holds $(json_get 'len(j["processes"][0]["timers"])') POSIX timers, expected 1"
	py_check 'p["timers"][0]["interval_ns"] == 30000000 and 0 < p["timers"][0]["value_ns"] <= 30000000' \
		"POSIX timer interval/value wrong: $(json_get 'j["processes"][0]["timers"]')"
	py_check 'p["timers"][0]["signo"] == 36' "POSIX timer signal is not SIGRTMIN+2"
}

test_fpu() {
	snap_workload fpu 50
	py_check 'j["header"]["xstate_size"] >= 512' "no xstate in the image"
	py_check 't["in_syscall"] and t["syscall"] == "nanosleep"' \
		"fpu's thread was not snapped inside nanosleep: $(json_get 'j["processes"][0]["threads"][0].get("syscall")')"
}

test_vdso() {
	snap_workload vdso 50
	py_check '[v["kind"] for v in p["vmas"]].count("vdso") == 1' "no vdso VMA in the image"
}

test_rseq() {
	snap_workload rseq 50
	py_check 'int(t["rseq"], 16) != 0' "the thread's rseq area is not in the image"
}

test_mmaps() {
	mkdir "$T/data"
	snap_workload mmaps "$T/data" 50
	assert_eq 2 "$(json_get 'len(j["processes"])')" "processes (mmaps and its child)"
	py_check 'any(v["kind"] == "shared-anon" for v in p["vmas"])' "no shared anonymous VMA in the image"
	py_check 'any(v["kind"] == "file" and v["path"].endswith("/mmaps.data") and v["prot"] == "rw-p" for v in p["vmas"])' \
		"no private writable mapping of mmaps.data in the image"
	py_check 'any(v["prot"] == "---p" for v in p["vmas"])' "no PROT_NONE VMA in the image"
}

# The zombie's and the stopped child's states must survive the snap: the
# root is stopped alone (SIGCONT to the tree would wake the stopped child).
test_zombie() {
	local pids
	mkdir "$T/data"
	wl_start zombie "$T/data" 50
	assert_ticking "$WL_LOG" 3
	kill -STOP "$WL_PID"
	wait_until 10 "[ \"\$(proc_state $WL_PID)\" = T ]" || fail "zombie's root did not stop"
	pids=$(session_pids "$WL_PID" | sort -n)
	python3 "$PROCSTATE" capture $pids >"$T/proc.json" || fail "reading /proc failed"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	python3 "$PROCSTATE" compare "$T/proc.json" "$T/image.json" >"$T/diff" ||
		fail "image and /proc differ: $(head -n 4 "$T/diff" | paste -sd';')"
	assert_eq "zombie:1792 stopped stopped" \
		"$(json_get '" ".join(x["state"] + (":%d" % x["exit_code"] if x["state"] == "zombie" else "") for x in j["processes"][1:]) + " " + j["processes"][0]["state"]')" \
		"states of the children (zombie with exit status 7<<8, stopped) and of the (SIGSTOPped) root"
	pagecmp_tree "$WL_PID"
	kill -CONT "$WL_PID"
	assert_ticking "$WL_LOG" 2
	touch "$T/data/reap"
	wait_for_line "$WL_LOG" '^reaped|^FAIL' 10 || fail "the root did not reap its children"
	assert_log_ok "$WL_LOG"
	assert_ticking "$WL_LOG" 2
}

run_tests "$@"
