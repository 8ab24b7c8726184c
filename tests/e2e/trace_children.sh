#!/usr/bin/env bash
# Children born while tracing are followed: a fork of the workload after
# trace started shows up (fork event, its syscalls, its exit), and so do
# an exec and its exit status in a second tree; trace ends by itself
# once the whole traced tree has exited.
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20
start_bg "$T/trace.json" "$BPFCKPT" trace "$WL_PID" --duration 3 --json
trace=$BG_PID
wait_for 10 grep -qs '"event":"start"' "$T/trace.json"
kill -USR1 "$WL_PID"
wait "$trace" || fail "trace exited $?: $(cat "$T/trace.json.err")"

python3 - "$WL_PID" "$T/trace.json" <<'PY' || exit 1
import json, sys
pid, path = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print(f"FAIL trace_children: {msg}", file=sys.stderr)
    sys.exit(1)

ev = [json.loads(l) for l in open(path)]
forks = [e for e in ev if e.get("event") == "fork" and e["pid"] == pid and not e["thread"]]
if len(forks) != 1:
    fail(f"{len(forks)} process forks of {pid}, expected 1")
child = forks[0]["child"]
mine = [e for e in ev if e.get("pid") == child]
writes = [e for e in mine if e.get("name") == "write" and e["args"]["count"] == 6]
if len(writes) < 15:
    fail(f"{len(writes)} writes of child {child}, it makes 20")
if not any(e.get("comm") == "fs-child" for e in mine):
    fail("the child's events do not carry its comm")
ex = [e for e in mine if e.get("event") == "exit" and e["process"]]
if len(ex) != 1 or ex[0].get("status") != 0:
    fail(f"child exit events {ex}")
PY

# fork + exec + exit status, and the end of the tree ends the trace
python3 -c '
import os, subprocess, sys, time
print("ready", os.getpid(), flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
subprocess.run(["/bin/sh", "-c", "exit 3"])' "$T/go" >"$T/py.out" 2>&1 &
PIDS+=($!)
py=$!
wait_for 10 grep -qs "^ready $py" "$T/py.out"
start_bg "$T/trace2.json" "$BPFCKPT" trace "$py" --json
trace=$BG_PID
wait_for 10 grep -qs '"event":"start"' "$T/trace2.json"
touch "$T/go"
wait_for 10 eval '! kill -0 $trace 2>/dev/null'
wait "$trace" || fail "trace exited $?: $(cat "$T/trace2.json.err")"

python3 - "$py" "$T/trace2.json" <<'PY' || exit 1
import json, sys
pid, path = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print(f"FAIL trace_children: {msg}", file=sys.stderr)
    sys.exit(1)

ev = [json.loads(l) for l in open(path)]
forks = [e for e in ev if e.get("event") == "fork" and e["pid"] == pid and not e["thread"]]
if len(forks) != 1:
    fail(f"python forked {len(forks)} processes, expected 1")
child = forks[0]["child"]
execs = [e for e in ev if e.get("event") == "exec" and e["pid"] == child]
if [e["filename"] for e in execs] != ["/bin/sh"]:
    fail(f"exec events of the child: {execs}")
execve = [e for e in ev if e.get("name") == "execve" and e["pid"] == child]
if not execve or execve[0]["args"]["filename"] != "/bin/sh" or execve[0]["ret"] != 0:
    fail(f"execve syscall of the child: {execve}")
exits = {e["pid"]: e for e in ev if e.get("event") == "exit" and e["process"]}
if exits.get(child, {}).get("status") != 3:
    fail(f"child exit {exits.get(child)}, expected status 3")
if pid not in exits:
    fail("the root's exit is missing")
if ev[-1].get("stopped_by") != "exited":
    fail(f"trace did not stop because the tree exited: {ev[-1]}")
PY
exit 0
