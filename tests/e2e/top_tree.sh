#!/usr/bin/env bash
# top samples a tree of 200 processes with one pass of each of the
# tracer's iterators, and needs no snap collector: with collect_task or
# collect_vma refused, top still works and says nothing (it never loads
# them).  Every process of the tree is shown once, with the fd and VMA
# counts /proc gives.  Without its VMA iterator, top stops with one line
# while trace goes on.
. "$(dirname "$0")/../trace_lib.sh"

NPROC=200

# a shell and its 199 sleeping children; "ready PID" once all exist
start_bg "$T/tree.out" bash -c '
	for ((i = 1; i < '$NPROC'; i++)); do sleep 1000 & done
	echo "ready $$"
	wait'
tree=$BG_PID
wait_for 20 grep -qs "^ready $tree" "$T/tree.out"
# ps counts the tree: the shell and its children
count_tree() {
	[ "$(($(pgrep -c -P "$tree") + 1))" = "$NPROC" ]
}
wait_for 20 count_tree

for fault in refuse-collect_task refuse-collect_vma; do
	BPFCKPT_FAULT=$fault "$BPFCKPT" top "$tree" --batch -n 1 -d 0.3 --json \
		>"$T/top.json" 2>"$T/err" || fail "top with $fault exited $?: $(cat "$T/err")"
	[ -s "$T/err" ] && fail "top with $fault loaded a snap collector: $(cat "$T/err")"
done

python3 - "$tree" "$NPROC" "$T/top.json" <<'PY' || exit 1
import json, os, sys
root, nproc, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def fail(msg):
    print(f"FAIL top_tree: {msg}", file=sys.stderr)
    sys.exit(1)

frames = [json.loads(l) for l in open(path) if l.strip()]
if len(frames) != 1:
    fail(f"{len(frames)} refreshes, asked for 1")
f = frames[0]
pids = [p["pid"] for p in f["processes"]]
if len(pids) != nproc or len(set(pids)) != nproc or pids[0] != root:
    fail(f"{len(pids)} processes shown ({len(set(pids))} distinct, first {pids[:1]}), "
         f"the tree has {nproc} with {root} first")
if f["nr_processes"] != nproc or f["nr_threads"] != nproc:
    fail(f"header says {f['nr_processes']} processes, {f['nr_threads']} threads")
for p in f["processes"]:
    pid = p["pid"]
    want_ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    nfds = len(os.listdir(f"/proc/{pid}/fd"))
    nvmas = sum(1 for l in open(f"/proc/{pid}/maps") if "[vsyscall]" not in l)
    if p["ppid"] != want_ppid:
        fail(f"pid {pid}: ppid {p['ppid']}, /proc says {want_ppid}")
    if p["fds"] != nfds or p["vmas"] != nvmas:
        fail(f"pid {pid}: {p['fds']} fds and {p['vmas']} VMAs, /proc says {nfds} and {nvmas}")
    if p["comm"] != ("bash" if pid == root else "sleep"):
        fail(f"pid {pid}: comm {p['comm']}")
    if p["rss_kb"] <= 0 or [t["tid"] for t in p["threads"]] != [pid]:
        fail(f"pid {pid}: rss {p['rss_kb']} kB, threads {p['threads']}")
print(f"top_tree: {nproc} processes sampled in {f['sample_ms']:.1f} ms")
PY
[ $? = 0 ] || exit 1

# without the VMA iterator: top stops with one line, trace goes on
BPFCKPT_FAULT=refuse-walk_vmas "$BPFCKPT" top "$tree" --batch -n 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "top without walk_vmas exited $rc, not 1"
grep -q "^bpfckpt: top: BPF program walk_vmas (iter/task_vma: VMAs of the traced processes (top)) is refused on $(uname -r): .*; top cannot work here; trace, snap, restore and show can$" \
	"$T/err" || fail "unclear refusal: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
BPFCKPT_FAULT=refuse-walk_vmas "$BPFCKPT" trace "$tree" --duration 0.2 >"$T/out" 2>"$T/err" ||
	fail "trace needs walk_vmas: $(cat "$T/err")"
[ -s "$T/err" ] && fail "trace loaded walk_vmas: $(cat "$T/err")"
exit 0
