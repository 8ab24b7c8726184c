#!/usr/bin/env bash
# The tracer's cost, measured in one run, interleaved, medians of ROUNDS:
#
# 1. A syscall loop (sysloop: getppid() in a loop), alone (baseline) and
#    with each tracer attached:
#      top           top --batch -d 1 (in-kernel aggregation only)
#      trace-filter  trace -e %file (every syscall counted in the kernel,
#                    none sent: getppid is not a file syscall)
#      trace-all     trace -e syscalls (a record per syscall, up to
#                    trace's default --max-rate, printed and thrown away)
#    In the same tracer session, right before the traced loop, an
#    untraced loop runs on the same CPU: the neighbour, whose extra cost
#    is the floor (what the enabled raw_syscalls tracepoints cost every
#    process on the machine).  Each tracer's cost per call is shown next
#    to its session's floor, and as a multiple of it.
# 2. redis-server under redis-benchmark (SET and GET, 10 clients):
#    requests/s untraced and with each tracer attached to the server.
# 3. top of a tree of 200 processes: what one refresh costs (the three
#    iterator passes and the syscall table), from top's own sample_ms.
#
#   bash tests/bench/trace_overhead.sh [SECONDS] [ROUNDS]   (after make bench-deps)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BPFCKPT=$BUILD/bpfckpt
SYSLOOP=$BUILD/tests/workloads/sysloop
SECONDS_PER_RUN=${1:-2}
ROUNDS=${2:-3}
MODES=(${TRACE_MODES:-top trace-filter trace-all})
REDIS_REQUESTS=${REDIS_REQUESTS:-50000}
TREE=200

die() {
	echo "trace_overhead: $*" >&2
	exit 1
}

[ -x "$BPFCKPT" ] || die "$BPFCKPT is missing: run make first"
[ -x "$SYSLOOP" ] || make -s -C "$ROOT" BUILD="$BUILD" "$SYSLOOP" >/dev/null ||
	die "cannot build $SYSLOOP"

T=$(mktemp -d /tmp/bpfckpt-bench.XXXXXX)
KILL=()
cleanup() {
	local p
	for p in "${KILL[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	{ wait; } 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# the workload on one CPU, the tracer and its reader on another
if [ "$(nproc)" -ge 2 ]; then
	PIN_WL=(taskset -c 0)
	PIN_TR=(taskset -c 1)
else
	PIN_WL=()
	PIN_TR=()
fi

wait_file() {
	local i
	for ((i = 0; i < 400; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	die "timed out waiting for $2"
}

# tracer MODE PID: the bpfckpt command line of a mode
tracer() {
	case $1 in
	top) echo top "$2" --batch -d 1 ;;
	trace-filter) echo trace "$2" -e %file ;;
	trace-all) echo trace "$2" -e syscalls ;;
	esac
}

# start_tracer MODE PID: runs it, its output thrown away but for the
# first line (it has attached) and the summary; sets TRACER
start_tracer() {
	rm -f "$T/out" "$T/started" "$T/tr.err" "$T/summary"
	mkfifo "$T/out"
	"${PIN_TR[@]}" bash -c 'IFS= read -r l; echo "$l" >"$1/started"
		exec grep -a "^summary:" >"$1/summary"' - "$T" <"$T/out" &
	READER=$!
	KILL+=("$READER")
	# shellcheck disable=SC2046
	"${PIN_TR[@]}" "$BPFCKPT" $(tracer "$1" "$2") >"$T/out" 2>"$T/tr.err" &
	TRACER=$!
	KILL+=("$TRACER")
	# top's first line comes one interval after it attached
	wait_file "$T/started" "$1 to attach"
}

# stop_tracer: SIGINT, and its status
stop_tracer() {
	kill -INT "$TRACER" 2>/dev/null
	wait "$TRACER" || die "tracer failed: $(cat "$T/tr.err")"
	wait "$READER"
}

rate_of() {
	awk '/calls\/s/ { print $(NF - 1) }' "$1"
}

# sysloop_run OUT: one untraced run, its rate
sysloop_run() {
	"${PIN_WL[@]}" "$SYSLOOP" -t "$SECONDS_PER_RUN" >"$1"
	rate_of "$1"
}

# prog_ids: the ids of every loaded BPF program
prog_ids() {
	bpftool prog show -j 2>/dev/null |
		python3 -c 'import json, sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))'
}

# hook_ns OLD_IDS: runs and run time (ns) of the sys_enter/sys_exit
# programs loaded since OLD_IDS was taken (kernel.bpf_stats_enabled)
hook_ns() {
	bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
old = set(sys.argv[1].split())
runs = ns = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith(("sys_enter", "sys_exit")) and str(p["id"]) not in old:
        runs += p.get("run_cnt", 0)
        ns += p.get("run_time_ns", 0)
print(runs, ns)' "$1"
}

# run_mode MODE: the neighbour's rate then the traced loop's, one session;
# with bpf_stats, also the hooks' own run time per syscall in each
run_mode() {
	local mode=$1 pid ids s0 s1 s2
	rm -f "$T/go" "$T/wl.out"
	mkfifo "$T/go"
	"${PIN_WL[@]}" "$SYSLOOP" -w -t "$SECONDS_PER_RUN" <"$T/go" >"$T/wl.out" &
	pid=$!
	KILL+=("$pid")
	exec 7>"$T/go"
	wait_file "$T/wl.out" "sysloop to start"
	ids=$(prog_ids)
	start_tracer "$mode" "$pid"
	s0=$(hook_ns "$ids")
	sysloop_run "$T/neighbour.out" >>"$T/neighbour.$mode$SUFFIX"
	s1=$(hook_ns "$ids")
	echo go >&7
	exec 7>&-
	wait "$pid" || die "sysloop failed under $mode"
	s2=$(hook_ns "$ids")
	# per syscall: an enter and an exit run
	awk -v a="$s0" -v b="$s1" -v c="$s2" 'BEGIN {
		split(a, x); split(b, y); split(c, z)
		if (y[1] > x[1] && z[1] > y[1])
			printf "%.1f %.1f\n", 2 * (y[2] - x[2]) / (y[1] - x[1]),
			       2 * (z[2] - y[2]) / (z[1] - y[1])
	}' >>"$T/hookns.$mode"
	# top and trace stop by themselves when the tree has exited
	wait "$TRACER" || die "$mode failed: $(cat "$T/tr.err")"
	wait "$READER"
	rate_of "$T/wl.out" >>"$T/rates.$mode$SUFFIX"
	grep -o 'lost: [0-9]* events' "$T/summary" >"$T/lost.$mode" || true
}

median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# ---- 1: the syscall loop ----
SUFFIX=
for ((r = 1; r <= ROUNDS; r++)); do
	sysloop_run "$T/base.out" >>"$T/rates.baseline"
	for m in "${MODES[@]}"; do
		run_mode "$m"
	done
done
# Then the hooks' own run time, in rounds of their own: bpf_stats adds
# two clock reads to every run (several hundred ns per syscall here), the
# same for traced and untraced runs, so only the difference counts, and
# no rate above is measured with it on.
stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
if [ "${TRACE_BPF_STATS:-1}" = 1 ] && echo 1 >/proc/sys/kernel/bpf_stats_enabled; then
	SUFFIX=.stats
	for ((r = 1; r <= ROUNDS; r++)); do
		for m in "${MODES[@]}"; do
			run_mode "$m"
		done
	done
	echo "$stats_was" >/proc/sys/kernel/bpf_stats_enabled
fi
base=$(median "$T/rates.baseline")
echo "trace_overhead: sysloop getppid() loop, ${SECONDS_PER_RUN} s per run," \
	"$ROUNDS interleaved rounds, median rate; floor: an untraced loop in the same session"
awk -v r="$base" 'BEGIN { printf "trace_overhead: %-13s %10.0f calls/s  ratio 1.000\n", "baseline", r }'
for m in "${MODES[@]}"; do
	rate=$(median "$T/rates.$m")
	floor=$(median "$T/neighbour.$m")
	lost=$(cat "$T/lost.$m" 2>/dev/null)
	awk -v m="$m" -v r="$rate" -v f="$floor" -v b="$base" -v lost="$lost" 'BEGIN {
		c = (1 / r - 1 / b) * 1e9; fl = (1 / f - 1 / b) * 1e9
		fmt = "trace_overhead: %-13s %10.0f calls/s  ratio %.3f  %+6.0f ns per call;"
		fmt = fmt " floor %+4.0f ns (neighbour %.0f calls/s): %.2fx the floor%s\n"
		printf fmt, m, r, r / b, c, fl, f, (fl > 0 ? c / fl : 0), (lost ? "  " lost : "")
	}'
	if [ -s "$T/hookns.$m" ]; then
		awk '{ print $1 }' "$T/hookns.$m" >"$T/hu"
		awk '{ print $2 }' "$T/hookns.$m" >"$T/ht"
		awk -v m="$m" -v u="$(median "$T/hu")" -v t="$(median "$T/ht")" 'BEGIN {
			printf "trace_overhead: %-13s BPF hooks (bpf_stats, per syscall): untraced %.1f ns," \
			       " traced %.1f ns: %+.1f ns\n", m, u, t, t - u }'
	fi
done

# ---- 2: redis ----
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	port=$((20000 + $$ % 20000))
	"${PIN_WL[@]}" redis-server --port "$port" --save "" --appendonly no \
		--daemonize no --logfile "$T/redis.log" &
	redis=$!
	KILL+=("$redis")
	for ((i = 0; i < 100; i++)); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.05
	done
	redis_rps() {
		"${PIN_TR[@]}" redis-benchmark -p "$port" -q -n "$REDIS_REQUESTS" -c 10 \
			-t set,get --csv 2>/dev/null |
			awk -F'"' '/^"(SET|GET)"/ { s += $4; n++ } END { if (n) printf "%.0f\n", s / n }'
	}
	for ((r = 1; r <= ROUNDS; r++)); do
		redis_rps >>"$T/redis.untraced"
		for m in "${MODES[@]}"; do
			start_tracer "$m" "$redis"
			redis_rps >>"$T/redis.$m"
			stop_tracer
		done
	done
	rbase=$(median "$T/redis.untraced")
	echo "trace_overhead: redis-server under redis-benchmark (SET, GET; 10 clients," \
		"$REDIS_REQUESTS requests each), median of $ROUNDS"
	for m in untraced "${MODES[@]}"; do
		awk -v m="$m" -v r="$(median "$T/redis.$m")" -v b="$rbase" 'BEGIN {
			printf "trace_overhead: redis %-13s %9.0f requests/s  ratio %.3f\n", m, r, r / b }'
	done
	kill "$redis"
else
	echo "trace_overhead: # redis-server or redis-benchmark missing: make bench-deps"
fi

# ---- 3: top's refresh over a tree of 200 processes ----
bash -c 'for ((i = 1; i < '$TREE'; i++)); do sleep 1000 & done; echo ready; wait' >"$T/tree.out" &
tree=$!
KILL+=("$tree")
wait_file "$T/tree.out" "the tree"
until [ "$(($(pgrep -c -P "$tree") + 1))" -ge "$TREE" ]; do sleep 0.05; done
"$BPFCKPT" top "$tree" --batch -n 5 -d 0.3 --json >"$T/tree.json" || die "top of the tree failed"
python3 - "$T/tree.json" "$TREE" <<'PY'
import json, statistics, sys
f = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ms = statistics.median(x["sample_ms"] for x in f)
print(f"trace_overhead: top of a {sys.argv[2]}-process tree ({f[-1]['nr_processes']} shown): "
      f"{ms:.1f} ms per refresh (median of {len(f)})")
PY
pkill -P "$tree" sleep
