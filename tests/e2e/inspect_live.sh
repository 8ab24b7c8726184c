#!/usr/bin/env bash
# inspect --json of a running two-thread workload lists the threads, fds
# and VMAs that /proc shows, with smaps' Rss per VMA, says it is
# checkpointable, and leaves the workload running.
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20
wait_for 5 test -s "$T/data"

"$BPFCKPT" inspect "$WL_PID" --json >"$T/inspect.json" 2>"$T/err" ||
	fail "inspect exited $?: $(cat "$T/err")"
"$BPFCKPT" inspect "$WL_PID" >"$T/inspect.txt" 2>"$T/err" ||
	fail "inspect (text) exited $?: $(cat "$T/err")"
grep -q "^process $WL_PID (filesleep)" "$T/inspect.txt" ||
	fail "text output does not show process $WL_PID"

python3 - "$WL_PID" "$T" <<'PY' || exit 1
import json, os, re, sys

pid, tmp = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print(f"FAIL inspect_live: {msg}", file=sys.stderr)
    sys.exit(1)

d = json.load(open(f"{tmp}/inspect.json"))
procs = d.get("processes", [])
if len(procs) != 1 or procs[0]["pid"] != pid:
    fail(f"expected one process {pid}, got {[p.get('pid') for p in procs]}")
p = procs[0]
for key in ("comm", "ppid", "pgid", "sid", "state", "exe", "cwd", "threads", "vmas", "fds"):
    if key not in p:
        fail(f"process has no '{key}' (show --json's schema)")

# threads: the same tids, comms and states as /proc
tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
got = sorted(t["tid"] for t in p["threads"])
if got != tids:
    fail(f"threads {got}, /proc says {tids}")
for t in p["threads"]:
    comm = open(f"/proc/{pid}/task/{t['tid']}/comm").read().strip()
    if t["comm"] != comm:
        fail(f"thread {t['tid']} comm {t['comm']!r}, /proc says {comm!r}")
    if t["state"] not in "RS":
        fail(f"thread {t['tid']} state {t['state']}")
    # they sleep 20 ms at a time: mostly inside clock_nanosleep
    if t.get("in_syscall") and t.get("syscall") not in ("clock_nanosleep", "write", "wait4"):
        fail(f"thread {t['tid']} in unexpected syscall {t.get('syscall')}")
if {t["comm"] for t in p["threads"]} != {"filesleep", "fs-worker"}:
    fail(f"thread names {[t['comm'] for t in p['threads']]}")

# fds: the numbers /proc/PID/fd lists, and the data file with its path
fds = sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
got = sorted(f["fd"] for f in p["fds"])
if got != fds:
    fail(f"fds {got}, /proc says {fds}")
for f in p["fds"]:
    link = os.readlink(f"/proc/{pid}/fd/{f['fd']}")
    if f["kind"] == "reg" and f["path"] != link:
        fail(f"fd {f['fd']} path {f['path']!r}, /proc says {link!r}")
data = [f for f in p["fds"] if f["path"] == f"{tmp}/data"]
if len(data) != 1 or data[0]["kind"] != "reg" or not data[0]["cloexec"]:
    fail(f"the data file is not one cloexec regular fd: {data}")

# VMAs: the ranges of /proc/PID/maps ([vsyscall] is not a VMA), each
# with smaps' Rss
rss, order = {}, []
for line in open(f"/proc/{pid}/smaps"):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)", line)
    if m:
        cur = (int(m[1], 16), int(m[2], 16))
        if m[3] != "[vsyscall]":
            order.append((cur, m[3]))
    elif line.startswith("Rss:"):
        rss[cur] = int(line.split()[1])
got = [((int(v["start"], 16), int(v["end"], 16)), v["path"]) for v in p["vmas"]]
if [g[0] for g in got] != [o[0] for o in order]:
    fail(f"{len(got)} VMAs differ from the {len(order)} of /proc/{pid}/maps")
for (rng, path), (_, mpath) in zip(got, order):
    if path != mpath:
        fail(f"VMA {rng[0]:x}: path {path!r}, maps says {mpath!r}")
mismatch = [v for v in p["vmas"]
            if v.get("rss_kb") != rss[(int(v["start"], 16), int(v["end"], 16))]]
# a VMA may grow a page between the two reads: allow one
if len(mismatch) > 1:
    fail(f"rss_kb differs from smaps for {len(mismatch)} VMAs: {mismatch[:2]}")
kinds = {v["kind"] for v in p["vmas"]}
for k in ("file", "heap", "stack", "vdso", "anon"):
    if k not in kinds:
        fail(f"no VMA of kind {k}: {kinds}")

v = d.get("verdict", {})
if v.get("checkpointable") is not True or v.get("reasons"):
    fail(f"verdict {v}")
PY
kill -0 "$WL_PID" 2>/dev/null || fail "the workload died under inspect"
exit 0
