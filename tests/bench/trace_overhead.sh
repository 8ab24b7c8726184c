#!/usr/bin/env bash
# Tracer overhead on a syscall-heavy process: sysloop (getppid() in a
# loop) runs ROUNDS times alone and with each tracer attached, in the
# same run and interleaved, and the rates are compared:
#   baseline      nothing attached
#   top           top --batch -d 1 (in-kernel aggregation only)
#   trace-filter  trace -e %file (every syscall counted in the kernel,
#                 none sent: getppid is not a file syscall)
#   trace-all     trace -e syscalls (a record per syscall, printed and
#                 thrown away)
#   neighbour     trace of another, idle process: what every untraced
#                 process on the machine pays while a trace runs
# Prints one line per mode: the median rate, its ratio to baseline and
# the time each syscall gained.
#
#   bash tests/bench/trace_overhead.sh [SECONDS] [ROUNDS]   (after make)
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BPFCKPT=$BUILD/bpfckpt
SYSLOOP=$BUILD/tests/workloads/sysloop
SECONDS_PER_RUN=${1:-2}
ROUNDS=${2:-3}
MODES=(${TRACE_MODES:-baseline top trace-filter trace-all neighbour})

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
	neighbour) echo trace "$IDLE" -e syscalls ;;
	esac
}

# run_one MODE: prints sysloop's rate with MODE attached
run_one() {
	local mode=$1 pid tracer= reader=
	rm -f "$T/go" "$T/out" "$T/wl.out" "$T/started" "$T/tr.err" "$T/summary"
	mkfifo "$T/go" "$T/out"
	"${PIN_WL[@]}" "$SYSLOOP" -w -t "$SECONDS_PER_RUN" <"$T/go" >"$T/wl.out" &
	pid=$!
	KILL+=("$pid")
	exec 7>"$T/go"
	wait_file "$T/wl.out" "sysloop to start"
	if [ "$mode" != baseline ]; then
		# the reader keeps the summary line and throws the rest away
		"${PIN_TR[@]}" bash -c 'IFS= read -r l; echo "$l" >"$1/started"
			exec grep -a "^summary:" >"$1/summary"' - "$T" <"$T/out" &
		reader=$!
		# shellcheck disable=SC2046
		"${PIN_TR[@]}" "$BPFCKPT" $(tracer "$mode" "$pid") >"$T/out" 2>"$T/tr.err" &
		tracer=$!
		KILL+=("$tracer" "$reader")
		# top's first line comes one interval after it attached
		wait_file "$T/started" "$mode to attach"
	fi
	echo go >&7
	exec 7>&-
	wait "$pid" || die "sysloop failed under $mode"
	# the others stop by themselves when sysloop has exited
	[ "$mode" = neighbour ] && kill -INT "$tracer"
	if [ -n "$tracer" ]; then
		wait "$tracer" || die "$mode failed: $(cat "$T/tr.err")"
		wait "$reader"
	fi
	if [ "$mode" = trace-all ]; then
		grep -o 'lost: [0-9]* events' "$T/summary" >"$T/lost.$mode" || true
	fi
	awk '/calls\/s/ { print $(NF - 1) }' "$T/wl.out"
}

# the neighbour: a process that only sleeps
sleep 3600 &
IDLE=$!
KILL+=("$IDLE")

for ((r = 1; r <= ROUNDS; r++)); do
	for m in "${MODES[@]}"; do
		rate=$(run_one "$m") || exit 1
		[ -n "$rate" ] || die "no rate from sysloop under $m: $(cat "$T/tr.err")"
		echo "$rate" >>"$T/rates.$m"
	done
done

median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

base=$(median "$T/rates.baseline")
echo "trace_overhead: sysloop getppid() loop, ${SECONDS_PER_RUN} s per run," \
	"$ROUNDS interleaved rounds, median rate"
for m in "${MODES[@]}"; do
	rate=$(median "$T/rates.$m")
	lost=$(cat "$T/lost.$m" 2>/dev/null)
	awk -v m="$m" -v r="$rate" -v b="$base" -v lost="$lost" 'BEGIN {
		printf "trace_overhead: %-13s %10.0f calls/s  ratio %.3f  %+6.0f ns per call%s\n",
		       m, r, r / b, (1 / r - 1 / b) * 1e9, lost ? "  " lost : ""
	}'
done
