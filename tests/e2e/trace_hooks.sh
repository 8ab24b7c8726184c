#!/usr/bin/env bash
# Each variant of the syscall hooks traces the same: tp_btf (the
# default), raw_tp (BPFCKPT_FALLBACK=tp_btf) and the classic tracepoint
# (BPFCKPT_FALLBACK=tp_btf,raw_tp).  For each, check says which variant
# is loaded, and trace_writes_sleeps (decoded arguments, latencies,
# summary) and top_batch (rates, per-thread counters) pass.  A refused
# variant gives way to the next one with one warning, the loss of every
# variant stops trace with one line per variant.
. "$(dirname "$0")/../trace_lib.sh"

E2E=$(dirname "$0")

# variant FALLBACK NAME: runs the trace and top tests with the hooks of NAME
variant() {
	local fallback=$1 name=$2 s rc
	BPFCKPT_FALLBACK=$fallback "$BPFCKPT" check >"$T/check" 2>&1
	for s in sys_enter sys_exit; do
		grep -qE "^${s}${name:+_$name} +yes " "$T/check" ||
			fail "with BPFCKPT_FALLBACK=$fallback, check does not load ${s}${name:+_$name}: $(grep "^$s" "$T/check")"
	done
	for s in trace_writes_sleeps top_batch; do
		BPFCKPT_FALLBACK=$fallback bash "$E2E/$s.sh" >"$T/out" 2>&1
		rc=$?
		sed -E "s/^(PASS|FAIL) /\\1 trace_hooks:${name:-btf}:/" "$T/out"
		[ $rc = 0 ] || exit 1
	done
}

variant "" ""
variant tp_btf raw
variant tp_btf,raw_tp tp

start_workload filesleep "$T/wl.out" "$T/data" 20
# raw_tp refused too: the classic tracepoint, with a warning
BPFCKPT_FALLBACK=tp_btf BPFCKPT_FAULT=refuse-sys_enter_raw "$BPFCKPT" trace "$WL_PID" \
	-e write --duration 0.5 >"$T/out" 2>"$T/err" || fail "trace exited $?: $(cat "$T/err")"
grep -q "^bpfckpt: trace: warning: BPF program sys_enter_raw (raw_tp/sys_enter: syscall entry) is refused on $(uname -r): .*; tracepoint/raw_syscalls/sys_enter: syscall entry takes its place$" \
	"$T/err" || fail "no warning for the refused variant: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
grep -q "write(3, " "$T/out" || fail "no writes traced through the classic tracepoint"

# no sys_enter hook at all: trace and top stop, saying so for each variant
BPFCKPT_FAULT=trace-no-sys_enter "$BPFCKPT" trace "$WL_PID" --duration 0.3 >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "trace without any sys_enter hook exited $rc, not 1"
for h in tp_btf/sys_enter raw_tp/sys_enter tracepoint/raw_syscalls/sys_enter; do
	grep -q "^bpfckpt: trace: this kernel has no $h hook: cannot trace$" "$T/err" ||
		fail "no line for $h: $(cat "$T/err")"
done
kill -0 "$WL_PID" || fail "the workload died"
exit 0
