#!/usr/bin/env bash
# trace --duration 2 of a two-thread workload shows its writes (fd, count,
# return value) and its sleeps (requested time, latency close to it) for
# both threads, and a summary whose counts and percentiles agree.
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20

"$BPFCKPT" trace "$WL_PID" --duration 2 --json >"$T/trace.json" 2>"$T/err" ||
	fail "trace exited $?: $(cat "$T/err")"
python3 - "$WL_PID" "$T/trace.json" <<'PY' || exit 1
import json, os, sys

pid, path = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print(f"FAIL trace_writes_sleeps: {msg}", file=sys.stderr)
    sys.exit(1)

ev = [json.loads(l) for l in open(path)]
if ev[0].get("event") != "start" or ev[0].get("pid") != pid:
    fail(f"first record is not the start: {ev[0]}")
if ev[-1].get("event") != "summary" or ev[-1].get("stopped_by") != "duration":
    fail(f"last record is not a summary stopped by the duration: {ev[-1]}")
sc = [e for e in ev if e.get("event") == "syscall"]
tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
for e in sc:
    if e["pid"] != pid or e["tid"] not in tids:
        fail(f"event of another process or thread: {e}")

writes = [e for e in sc if e["name"] == "write"]
sleeps = [e for e in sc if e["name"] == "clock_nanosleep"]
# 2 threads x 2 s / 20 ms = 200 of each, less the start and CPU jitter
if len(writes) < 100 or len(sleeps) < 100:
    fail(f"{len(writes)} writes and {len(sleeps)} sleeps in 2 s, expected ~200")
if {e["tid"] for e in writes} != set(tids) or {e["tid"] for e in sleeps} != set(tids):
    fail("not every thread's writes and sleeps are there")
for e in writes:
    a = e["args"]
    if a["fd"] != 3 or a["count"] not in (5, 7) or e["ret"] != a["count"]:
        fail(f"write not as the workload does it: {e}")
    if not 0 < e["latency_ns"] < 50e6:
        fail(f"write latency {e['latency_ns']} ns")
for e in sleeps:
    a = e["args"]
    if abs(a["rqtp"] - 0.020) > 1e-9:
        fail(f"sleep request {a['rqtp']} s, not 0.020: {e}")
    # at least what was asked; a loaded 2-CPU VM may add a few ms
    if not 20e6 <= e["latency_ns"] < 200e6 or e["ret"] != 0:
        fail(f"sleep of 20 ms took {e['latency_ns']} ns, returned {e['ret']}")

s = ev[-1]
by = {x["name"]: x for x in s["syscalls"]}
for name, seen in (("write", writes), ("clock_nanosleep", sleeps)):
    x = by.get(name)
    if not x or x["calls"] < len(seen):
        fail(f"summary counts {x and x['calls']} {name}, the stream {len(seen)}")
    if not x["p50_ns"] <= x["p90_ns"] <= x["p99_ns"] <= x["max_ns"]:
        fail(f"{name} percentiles out of order: {x}")
p50 = by["clock_nanosleep"]["p50_ns"]
if not 20e6 <= p50 < 40e6:
    fail(f"clock_nanosleep p50 {p50} ns for 20 ms sleeps")
if s["lost"]["events"]:
    fail(f"events lost at this low rate: {s['lost']}")
PY

# the text form: strace-like lines with comm/tid and latency
"$BPFCKPT" trace "$WL_PID" --duration 0.5 -e write,clock_nanosleep >"$T/trace.txt" 2>"$T/err" ||
	fail "trace (text) exited $?: $(cat "$T/err")"
grep -Eq "^ +[0-9]+\.[0-9]{6} filesleep/$WL_PID write\(3, 0x[0-9a-f]+, 5\) = 5 <0\.[0-9]{6}>$" "$T/trace.txt" ||
	fail "no write line like strace's: $(head -3 "$T/trace.txt")"
grep -Eq "fs-worker/[0-9]+ clock_nanosleep\(CLOCK_REALTIME, 0, 0\.020000000, NULL\) = 0 <0\.0[2-9][0-9]{4}>$" "$T/trace.txt" ||
	fail "no sleep line of the worker: $(grep nanosleep "$T/trace.txt" | head -2)"
grep -q "wait4" "$T/trace.txt" && fail "-e write,clock_nanosleep let wait4 through"
kill -0 "$WL_PID" || fail "the workload died under trace"
exit 0
