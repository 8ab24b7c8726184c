# shellcheck shell=bash
# Helpers for the inspect/trace/top end-to-end tests.  Each test sources
# this, starts its workloads with start_workload, and calls fail on the
# first thing that differs.  Everything started is killed on exit.
#
# BUILD (default build/) is where make put bpfckpt and the workloads.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BPFCKPT=$BUILD/bpfckpt
WL=$BUILD/tests/workloads
TEST=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/bpfckpt-$TEST.XXXXXX")
PIDS=()

cleanup() {
	local rc=$? p
	# the runner (tests/run) counts one verdict line per script
	[ "$rc" = 0 ] && echo "PASS $TEST"
	# bash reports each killed job on stderr: nothing to say here
	exec 2>/dev/null
	for p in "${PIDS[@]}"; do
		kill -KILL "$p"
	done
	wait
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL $TEST: $*" >&2
	exit 1
}

[ -x "$BPFCKPT" ] || fail "$BPFCKPT is missing: run make first"

# builds a workload if make has not yet
need_workload() {
	[ -x "$WL/$1" ] && return 0
	make -s -C "$ROOT" BUILD="$BUILD" "$WL/$1" >/dev/null ||
		fail "cannot build workload $1"
}

# wait_for SECONDS CMD...: until CMD succeeds, or fail
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	fail "timed out after ${limit}s waiting for: $*"
}

# start_workload NAME OUT ARGS...: runs it in the background with stdout
# in OUT; waits for its "ready PID" line and sets WL_PID
start_workload() {
	local name=$1 out=$2
	shift 2
	need_workload "$name"
	"$WL/$name" "$@" >"$out" 2>&1 &
	PIDS+=($!)
	WL_PID=$!
	wait_for 10 grep -qs '^ready' "$out"
	[ "$(awk '/^ready/ { print $2; exit }' "$out")" = "$WL_PID" ] ||
		fail "$name did not report its pid"
}

# start_bg OUT CMD...: runs a command in the background, output in OUT
start_bg() {
	local out=$1
	shift
	"$@" >"$out" 2>"$out.err" &
	PIDS+=($!)
	BG_PID=$!
}

# a pid that is certainly not running
free_pid() {
	local p=$((($(cat /proc/sys/kernel/pid_max) - 7)))
	while kill -0 "$p" 2>/dev/null; do
		p=$((p - 1))
	done
	echo "$p"
}
