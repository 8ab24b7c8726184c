#!/usr/bin/env bash
# top --batch -n 4 shows the workload's pid, its threads, and a syscall
# mix whose rates match what it does (2 threads x 1 write + 1 sleep per
# 20 ms); the per-process figures agree with /proc.
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20

"$BPFCKPT" top "$WL_PID" --batch -n 4 -d 0.5 --json >"$T/top.json" 2>"$T/err" ||
	fail "top exited $?: $(cat "$T/err")"
python3 - "$WL_PID" "$T/top.json" <<'PY' || exit 1
import json, os, sys
pid, path = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print(f"FAIL top_batch: {msg}", file=sys.stderr)
    sys.exit(1)

frames = [json.loads(l) for l in open(path) if l.strip()]
if len(frames) != 4:
    fail(f"{len(frames)} refreshes, asked for 4")
tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
nfds = len(os.listdir(f"/proc/{pid}/fd"))
nvmas = sum(1 for l in open(f"/proc/{pid}/maps") if "[vsyscall]" not in l)
rss = int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0].split()[1])
for f in frames:
    if f["root"] != pid or not 0.4 < f["interval_s"] < 0.8:
        fail(f"refresh of root {f['root']} over {f['interval_s']} s")
    procs = [p for p in f["processes"] if p["pid"] == pid]
    if len(procs) != 1:
        fail(f"pid {pid} not shown once: {[p['pid'] for p in f['processes']]}")
    p = procs[0]
    if sorted(t["tid"] for t in p["threads"]) != tids:
        fail(f"threads {[t['tid'] for t in p['threads']]}, /proc says {tids}")
    if p["fds"] != nfds or p["vmas"] != nvmas:
        fail(f"{p['fds']} fds and {p['vmas']} VMAs, /proc says {nfds} and {nvmas}")
    if p["vmas_added"] or p["vmas_removed"]:
        fail(f"VMAs added/removed in a steady workload: {p}")
    if abs(p["rss_kb"] - rss) > rss * 0.25:
        fail(f"rss {p['rss_kb']} kB, VmRSS {rss} kB")
    for t in p["threads"]:
        # 1 write + 1 sleep (+1 wait4 on the main thread) every 20 ms
        if not 60 <= t["syscalls_per_s"] <= 170 or not 0 <= t["cpu_pct"] < 50:
            fail(f"thread {t['tid']}: {t['syscalls_per_s']} syscalls/s, {t['cpu_pct']}% CPU")
        # one sleep per 20 ms
        if not 30 <= t["ctxsw_per_s"] <= 80:
            fail(f"thread {t['tid']}: {t['ctxsw_per_s']} context switches/s")
    mix = {s["name"]: s for s in f["syscalls"]}
    for name in ("write", "clock_nanosleep"):
        if name not in mix or not 70 <= mix[name]["calls_per_s"] <= 130:
            fail(f"{name} rate {mix.get(name)}, expected ~100/s")
    if not 20000 <= mix["clock_nanosleep"]["avg_us"] < 60000:
        fail(f"clock_nanosleep mean latency {mix['clock_nanosleep']['avg_us']} us")
PY

"$BPFCKPT" top "$WL_PID" --batch -n 2 -d 0.3 >"$T/top.txt" 2>"$T/err" ||
	fail "top (text) exited $?: $(cat "$T/err")"
[ "$(grep -c "^bpfckpt top - pid $WL_PID " "$T/top.txt")" = 2 ] ||
	fail "not two refreshes of pid $WL_PID: $(head -3 "$T/top.txt")"
grep -Eq "^ +$WL_PID +[0-9]+ filesleep " "$T/top.txt" || fail "no process line for $WL_PID"
grep -Eq "^write +[0-9]+ " "$T/top.txt" || fail "no write in the syscall mix"
grep -Eq "^clock_nanosleep +[0-9]+ " "$T/top.txt" || fail "no clock_nanosleep in the mix"

# errors: a missing pid, and --json without --batch
missing=$(free_pid)
"$BPFCKPT" top "$missing" --batch -n 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "top of missing pid $missing exited $rc, not 1"
grep -q "^bpfckpt: top: pid $missing: no such process$" "$T/err" ||
	fail "unclear message: $(cat "$T/err")"
"$BPFCKPT" top "$WL_PID" --json >/dev/null 2>&1
[ $? -eq 2 ] || fail "--json without --batch is not a usage error"
kill -0 "$WL_PID" || fail "the workload died under top"
exit 0
