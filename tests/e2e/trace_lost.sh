#!/usr/bin/env bash
# Lost events are counted and reported, never silent: on a syscall loop
# traced without a rate limit (--max-rate 0)
# into a reader that stalls for a second (so the ring buffer
# overflows), every syscall the kernel counted is either in the stream or
# in the lost count, the summary and the LOST lines agree, and losses are
# also reported on stderr.
. "$(dirname "$0")/../trace_lib.sh"

need_workload sysloop
mkfifo "$T/go"
"$WL/sysloop" -w -t 1 <"$T/go" >"$T/wl.out" &
PIDS+=($!)
wl=$!
exec 7>"$T/go"
wait_for 10 grep -qs "^ready $wl" "$T/wl.out"
"$BPFCKPT" trace "$wl" -e syscalls --max-rate 0 2>"$T/trace.txt.err" |
	{ IFS= read -r first; echo "$first"; : >"$T/started"; sleep 1; cat; } >"$T/trace.txt" &
PIDS+=($!)
trace=$!
wait_for 10 test -e "$T/started"
grep -qs "^# tracing pid $wl" "$T/trace.txt" || fail "trace did not start: $(cat "$T/trace.txt.err")"
echo go >&7
exec 7>&-
# the trace ends by itself when sysloop exits
wait_for 30 eval '! kill -0 $trace 2>/dev/null'
wait "$trace" || fail "trace exited $?: $(cat "$T/trace.txt.err")"

python3 - "$T/trace.txt" "$T/trace.txt.err" <<'PY' || exit 1
import re, sys
path, errpath = sys.argv[1], sys.argv[2]

def fail(msg):
    print(f"FAIL trace_lost: {msg}", file=sys.stderr)
    sys.exit(1)

seen = lost_lines = 0
summary = None
calls = {}
for line in open(path, errors="replace"):
    m = re.match(r" *\d+\.\d+ LOST (\d+) events", line)
    if m:
        lost_lines += int(m[1])
    elif re.match(r" *\d+\.\d+ \S+/\d+ \w+\(", line):
        seen += 1
    elif line.startswith("summary:"):
        summary = line
    elif summary and re.match(r"\w+ +\d+ ", line):
        name, n = line.split()[:2]
        calls[name] = int(n)
if not summary or "(stopped by exited)" not in summary:
    fail(f"no summary of a tree that exited: {summary}")
lost = int(re.search(r"lost: (\d+) events", summary)[1])
if lost != lost_lines:
    fail(f"summary says {lost} lost, the stream's LOST lines {lost_lines}")
total = sum(calls.values())
if calls.get("getppid", 0) < 100000:
    fail(f"only {calls.get('getppid')} getppid calls counted")
if seen + lost != total:
    fail(f"{total} syscalls counted, {seen} shown + {lost} lost")
err = open(errpath).read()
if not lost:
    fail("a reader stalled for 1 s lost nothing: the test did not test")
if "events lost" not in err:
    fail(f"{lost} events lost and nothing on stderr: {err!r}")
print(f"trace_lost: {total} syscalls, {seen} shown, {lost} lost")
PY
exit 0
