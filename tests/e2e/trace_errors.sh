#!/usr/bin/env bash
# trace's errors: a missing pid is a runtime error (1) with a clear
# message, bad options are usage errors (2), and SIGINT ends a trace
# with its summary.
. "$(dirname "$0")/../trace_lib.sh"

missing=$(free_pid)
"$BPFCKPT" trace "$missing" --duration 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "trace of missing pid $missing exited $rc, not 1"
grep -q "^bpfckpt: trace: pid $missing: no such process$" "$T/err" ||
	fail "unclear message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "trace of a missing pid printed results: $(head -2 "$T/out")"

start_workload filesleep "$T/wl.out" "$T/data" 20
for args in "-e nosuchcall" "-e" "--duration 0" "--duration x" "$WL_PID $WL_PID" "--bogus"; do
	# shellcheck disable=SC2086
	"$BPFCKPT" trace "$WL_PID" $args >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -eq 2 ] || fail "trace $WL_PID $args exited $rc, not 2"
	grep -q "^usage: bpfckpt trace PID" "$T/err" || fail "no usage for '$args'"
done

# SIGINT (Ctrl-C) stops it with a summary and status 0
start_bg "$T/trace.txt" "$BPFCKPT" trace "$WL_PID"
trace=$BG_PID
wait_for 10 grep -qs "^# tracing pid $WL_PID" "$T/trace.txt"
wait_for 5 grep -qs "write(3, " "$T/trace.txt"
kill -INT "$trace"
wait "$trace" || fail "trace exited $? on SIGINT: $(cat "$T/trace.txt.err")"
grep -q "^summary: .* (stopped by signal)" "$T/trace.txt" || fail "no summary after SIGINT"
exit 0
