#!/usr/bin/env bash
# A kernel without one of the optional hooks still traces, and says what
# is missing; without sys_enter it refuses clearly.  The missing hook is
# simulated with BPFCKPT_FAULT=trace-no-<program>.
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20

BPFCKPT_FAULT=trace-no-task_fork "$BPFCKPT" trace "$WL_PID" --duration 0.5 \
	>"$T/out" 2>"$T/err" || fail "trace without the fork hook exited $?: $(cat "$T/err")"
grep -q "^bpfckpt: trace: warning: this kernel has no tp_btf/sched_process_fork hook: no fork events, children born while tracing are not followed$" "$T/err" ||
	fail "no clear warning: $(cat "$T/err")"
grep -q "^# tracing pid $WL_PID: 1 process$" "$T/out" || fail "start line: $(head -1 "$T/out")"
grep -q "write(3, " "$T/out" || fail "no syscalls traced without the fork hook"

BPFCKPT_FAULT=trace-no-page_fault_user "$BPFCKPT" trace "$WL_PID" --duration 0.3 -e fault,write \
	>"$T/out" 2>"$T/err" || fail "trace without the fault hook exited $?"
grep -q "no tp_btf/page_fault_user hook: no page fault events" "$T/err" || fail "$(cat "$T/err")"

BPFCKPT_FAULT=trace-no-sys_enter "$BPFCKPT" top "$WL_PID" --batch -n 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "top without sys_enter exited $rc, not 1"
grep -q "^bpfckpt: top: this kernel has no tp_btf/sys_enter hook: cannot trace$" "$T/err" ||
	fail "unclear refusal: $(cat "$T/err")"
exit 0
