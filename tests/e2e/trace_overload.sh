#!/usr/bin/env bash
# Under overload trace thins its stream and keeps its summary exact: a
# getppid() loop makes about a million syscalls a second; with the
# default rate limit trace shows at most ~10000 events a second, says
# how many it held back (THROTTLED lines, the summary, one warning), and
# the summary's getppid count is exactly the number of calls the loop
# itself counted.  Shown + held back + lost = counted.
. "$(dirname "$0")/../trace_lib.sh"

need_workload sysloop
mkfifo "$T/go"
"$WL/sysloop" -w -t 1 <"$T/go" >"$T/wl.out" &
PIDS+=($!)
wl=$!
exec 7>"$T/go"
wait_for 10 grep -qs "^ready $wl" "$T/wl.out"
start_bg "$T/trace.txt" "$BPFCKPT" trace "$wl" -e getppid
trace=$BG_PID
wait_for 10 grep -qs "^# tracing pid $wl" "$T/trace.txt"
echo go >&7
exec 7>&-
# the trace ends by itself when sysloop exits
wait_for 30 eval '! kill -0 $trace 2>/dev/null'
wait "$trace" || fail "trace exited $?: $(cat "$T/trace.txt.err")"

python3 - "$T/trace.txt" "$T/trace.txt.err" "$T/wl.out" <<'PY' || exit 1
import re, sys
path, errpath, wlpath = sys.argv[1:4]

def fail(msg):
    print(f"FAIL trace_overload: {msg}", file=sys.stderr)
    sys.exit(1)

calls = int(re.search(r"sysloop: (\d+) calls in ([\d.]+) s", open(wlpath).read())[1])
secs = float(re.search(r"sysloop: (\d+) calls in ([\d.]+) s", open(wlpath).read())[2])
shown = held = 0
summary = None
counted = {}
for line in open(path, errors="replace"):
    m = re.match(r" *\d+\.\d+ THROTTLED (\d+) events not shown \(over 10000/s\)", line)
    if m:
        held += int(m[1])
    elif re.match(r" *\d+\.\d+ \S+/\d+ getppid\(", line):
        shown += 1
    elif line.startswith("summary:"):
        summary = line
    elif line.startswith("; not shown") or (summary and "not shown (over --max-rate)" in line):
        pass
    elif summary and re.match(r"\w+ +\d+ ", line):
        name, n = line.split()[:2]
        counted[name] = int(n)
text = open(path).read()
if not summary:
    fail("no summary")
lost = int(re.search(r"lost: (\d+) events", text)[1])
not_shown = int(re.search(r"not shown \(over --max-rate\): (\d+) events", text)[1])
if counted.get("getppid") != calls:
    fail(f"summary counts {counted.get('getppid')} getppid, the loop made {calls}")
if not_shown != held:
    fail(f"summary says {not_shown} held back, the THROTTLED lines {held}")
if shown + held + lost != calls:
    fail(f"{calls} calls, {shown} shown + {held} held back + {lost} lost")
# 10000/s over the loop's run, plus a window's worth at each edge
if not 0 < shown <= 10000 * (secs + 0.5) or held < calls / 2:
    fail(f"{shown} shown and {held} held back of {calls} in {secs} s at 10000/s")
err = open(errpath).read()
if "events/s: the rest are counted in the summary, not shown (--max-rate)" not in err:
    fail(f"no warning on stderr: {err!r}")
print(f"trace_overload: {calls} calls, {shown} shown, {held} held back, {lost} lost")
PY
[ $? = 0 ] || exit 1
"$BPFCKPT" trace "$wl" --max-rate -1 >/dev/null 2>&1
[ $? = 2 ] || fail "--max-rate -1 is not a usage error"
exit 0
