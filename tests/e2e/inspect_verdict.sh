#!/usr/bin/env bash
# inspect's verdict names what snap would refuse (a userfaultfd), with
# snap's own wording; and a missing pid is a clear runtime error.
. "$(dirname "$0")/../trace_lib.sh"

python3 -c '
import ctypes, os, sys, time
fd = ctypes.CDLL(None).syscall(323, 0)	# userfaultfd(0)
print("ready", os.getpid(), flush=True)
time.sleep(60)' >"$T/py.out" &
PIDS+=($!)
py=$!
wait_for 10 grep -qs "^ready $py" "$T/py.out"

"$BPFCKPT" inspect "$py" --json >"$T/inspect.json" 2>"$T/err" ||
	fail "inspect exited $?: $(cat "$T/err")"
python3 - "$py" "$T/inspect.json" <<'PY' || exit 1
import json, sys
pid, path = int(sys.argv[1]), sys.argv[2]
v = json.load(open(path))["verdict"]
why = [r for r in v["reasons"] if r["what"] == "fd" and r["pid"] == pid]
if v["checkpointable"] is not False or not why or "userfaultfd" not in why[0]["reason"]:
    print(f"FAIL inspect_verdict: verdict {v}", file=sys.stderr)
    sys.exit(1)
PY

# snap refuses it for the same reason
"$BPFCKPT" snap "$py" -o "$T/x.img" >/dev/null 2>"$T/snap.err" &&
	fail "snap accepted what inspect says it refuses"
grep -q "userfaultfd" "$T/snap.err" || fail "snap refused for another reason: $(cat "$T/snap.err")"

missing=$(free_pid)
"$BPFCKPT" inspect "$missing" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "inspect of missing pid $missing exited $rc, not 1"
grep -q "^bpfckpt: inspect: pid $missing: no such process$" "$T/err" ||
	fail "unclear message: $(cat "$T/err")"
"$BPFCKPT" inspect notapid >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad pid argument is not a usage error"
exit 0
