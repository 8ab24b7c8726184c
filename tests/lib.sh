# SPDX-License-Identifier: GPL-2.0
# Helpers for the end-to-end tests (tests/e2e/*.sh) and tests/demo.sh.
#
# A test script defines functions named test_*, then calls run_tests.
# Each test runs in its own subshell, in a fresh temporary directory $T,
# and prints exactly one line: "PASS <script>/<name>" or
# "FAIL <script>/<name>: <what differed>" (its log follows, indented).
# Everything a test starts with wl_start, and every cleanup it registers
# with on_exit, is undone when it ends, pass or fail.
# No fixed sleeps: wait_* helpers poll a condition with a timeout.

set -u

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$TESTS_DIR")
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT_DIR/$BUILD ;; esac
BPFCKPT=$BUILD/bpfckpt
WL=$BUILD/tests/workloads
TOOLS=$BUILD/tests/tools
PROCSTATE=$TESTS_DIR/tools/procstate.py
# no bpfckpt run may hang the suite
CKPT_TIMEOUT=${CKPT_TIMEOUT:-120}

T=
SCRIPT_NAME=$(basename "${0%.sh}")

# ---- failing and cleaning up ----

# fail MESSAGE: ends the current test with MESSAGE as its reason
fail() {
	printf '%s\n' "$*" >"$T/.reason"
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# on_exit COMMAND...: run when the test ends (last registered first)
on_exit() {
	printf '%s\n' "$*" >>"$T/.cleanup"
}

# pids of every process of session @sid (workloads are session leaders)
session_pids() {
	local sid=$1 stat rest p
	for stat in /proc/[0-9]*/stat; do
		read -r rest 2>/dev/null <"$stat" || continue
		p=${rest%% *}
		rest=${rest##*) }
		set -- $rest
		[ "${4:-}" = "$sid" ] && echo "$p"
	done
	return 0
}

# state letter of @pid, empty if gone
proc_state() {
	local rest
	read -r rest 2>/dev/null <"/proc/$1/stat" || return 0
	rest=${rest##*) }
	echo "${rest%% *}"
}

# true while some process of session @sid is not dead (zombies are dead)
session_alive() {
	local p s
	for p in $(session_pids "$1"); do
		s=$(proc_state "$p")
		[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] && return 0
	done
	return 1
}

kill_session() {
	local sid=$1 p
	kill -KILL -- "-$sid" 2>/dev/null
	for p in $sid $(session_pids "$sid"); do
		kill -KILL "$p" 2>/dev/null
	done
	wait_until 10 "! session_alive $sid" || echo "cleanup: session $sid survives" >&2
	wait "$sid" 2>/dev/null
	return 0
}

_cleanup() {
	local line sid
	set +e
	if [ -f "$T/.cleanup" ]; then
		tac "$T/.cleanup" | while read -r line; do eval "$line"; done
	fi
	if [ -f "$T/.sessions" ]; then
		while read -r sid; do kill_session "$sid"; done <"$T/.sessions"
	fi
}

# ---- waiting ----

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# wait_until TIMEOUT_S 'SHELL CONDITION': polls until it holds; 1 on timeout
wait_until() {
	local deadline=$(($(now_ms) + $1 * 1000))
	while ! eval "$2"; do
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
	return 0
}

# wait_for_line FILE REGEX [TIMEOUT_S]
wait_for_line() {
	wait_until "${3:-10}" "grep -qE -- '$2' '$1' 2>/dev/null"
}

# ---- workloads ----

# clean_exec CMD...: exec CMD with nothing but stdin, stdout and stderr
# open: whatever the caller inherited (a harness's pipe, say) is not the
# workload's, and a restore would be right to refuse a pipe
clean_exec() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
	done
	exec "$@"
}

# wl_start NAME ARGS...: starts a workload in $T with its log $T/NAME.log,
# waits for "ready"; sets WL_PID (its pid = pgid = sid) and WL_LOG
wl_start() {
	local name=$1
	shift
	wl_start_via "$name" "$WL/$name" "$@"
}

# wl_start_via NAME CMD...: the same for a command line that ends up
# exec()ing workload NAME (prlimit ... setpriv ... nice ... "$WL/NAME");
# WL_FAIL_RE (default ^FAIL) is what in its log means it failed
wl_start_via() {
	local name=$1 bad=${WL_FAIL_RE:-^FAIL}
	shift
	WL_LOG=$T/$name.log
	clean_exec "$@" </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID( |\$)|$bad" 30 ||
		fail "$name did not print 'ready pid=$WL_PID' within 30 s: $(tail -n 3 "$WL_LOG")"
	grep -qE "$bad" "$WL_LOG" && fail "$name: $(grep -m1 -E "$bad" "$WL_LOG")"
	return 0
}

# forktree_up: all 4 processes of the forktree workload tick
forktree_up() {
	[ "$(grep -oE '^pid [0-9]+ tick' "$WL_LOG" | sort -u | wc -l)" -ge 4 ]
}

# forktree_start [TICK_MS]: the forktree workload, its 4 processes ticking
forktree_start() {
	wl_start forktree "${1:-100}"
	wait_until 20 forktree_up || fail "forktree: not all 4 processes tick: $(tail -n 4 "$WL_LOG")"
}

# last_tick LOG [PID]: the last tick (or demo counter) number, of PID in
# "pid P tick N" logs
last_tick() {
	local re='^((pid [0-9]+ )?tick|counter) [0-9]+'
	[ $# -gt 1 ] && re="^pid $2 tick [0-9]+"
	grep -oE "$re" "$1" | tail -n 1 | awk '{print $NF}' | grep . || echo 0
}

# assert_ticking LOG [N] [PID]: N more ticks come, and no FAIL
assert_ticking() {
	local log=$1 n=${2:-3} pid=${3:-} from
	from=$(last_tick "$log" $pid)
	wait_until 30 "grep -q '^FAIL' '$log' || [ \$(last_tick '$log' $pid) -ge $((from + n)) ]" ||
		fail "$(basename "$log"): no progress past tick $from${pid:+ of pid $pid} within 30 s"
	assert_log_ok "$log"
}

# assert_log_ok LOG: no FAIL line; each process's ticks go 1, 2, 3, ...
assert_log_ok() {
	local log=$1 bad
	grep -q '^FAIL' "$log" && fail "$(basename "$log"): $(grep -m1 '^FAIL' "$log")"
	bad=$(awk '
		/^tick [0-9]+/ { k = ""; n = $2 }
		/^pid [0-9]+ tick [0-9]+/ { k = $2; n = $4 }
		/^(pid [0-9]+ )?tick [0-9]+/ {
			if (n != last[k] + 1) { print "tick " n " after " last[k] (k == "" ? "" : " for pid " k); exit }
			last[k] = n
		}' "$log")
	[ -z "$bad" ] || fail "$(basename "$log"): ticks out of sequence: $bad"
	return 0
}

# stop_tree SID: SIGSTOP every process of the session, wait until stopped
stop_tree() {
	local p
	for p in $(session_pids "$1"); do
		kill -STOP "$p" 2>/dev/null
	done
	for p in $(session_pids "$1"); do
		wait_until 10 "[[ \$(proc_state $p) =~ ^[TZX]?\$ ]]" ||
			fail "pid $p did not stop (state $(proc_state "$p"))"
	done
}

cont_tree() {
	local p
	for p in $(session_pids "$1"); do
		kill -CONT "$p" 2>/dev/null
	done
	return 0
}

assert_stopped_tree() {
	local p s
	for p in $(session_pids "$1"); do
		s=$(proc_state "$p")
		[[ $s =~ ^[TZ]$ ]] || fail "pid $p is in state '$s' after the snap, expected stopped (T)"
	done
}

# ---- running bpfckpt ----

# ckpt ARGS...: bpfckpt with a timeout; sets CKPT_RC, output in $CKPT_OUT
# and $CKPT_ERR
ckpt() {
	local rc=0
	CKPT_OUT=$T/ckpt.out
	CKPT_ERR=$T/ckpt.err
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" "$@" >"$CKPT_OUT" 2>"$CKPT_ERR" || rc=$?
	CKPT_RC=$rc
	{ echo "+ bpfckpt $* -> $rc"; sed 's/^/  /' "$CKPT_ERR"; head -n 5 "$CKPT_OUT" | cut -c 1-200 | sed 's/^/  /'; } >&2
	return 0
}

# assert_ckpt RC ARGS...: bpfckpt exits with RC (never a signal or timeout)
assert_ckpt() {
	local want=$1
	shift
	ckpt "$@"
	[ "$CKPT_RC" = "$want" ] ||
		fail "bpfckpt $* exited $CKPT_RC, expected $want: $(head -c 300 "$CKPT_ERR")"
}

# assert_err REGEX: bpfckpt's stderr matches
assert_err() {
	grep -qE -- "$1" "$CKPT_ERR" ||
		fail "bpfckpt's message does not match /$1/: '$(head -c 300 "$CKPT_ERR")'"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_alive() {
	local s
	s=$(proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ] || fail "pid $1 (${2:-target}) is gone"
}

# assert_kill_refused PID REGEX: snap --kill refuses the tree of PID with
# a message matching REGEX, keeps no image, and PID runs on
assert_kill_refused() {
	assert_ckpt 1 snap "$1" -o "$T/img" --kill
	assert_err "$2"
	[ ! -e "$T/img" ] || fail "a refused snap --kill left an image"
	assert_alive "$1"
}

# assert_inspect_says PID REGEX: inspect's verdict on PID matches REGEX
assert_inspect_says() {
	assert_ckpt 0 inspect "$1"
	grep -qE -- "$2" "$CKPT_OUT" ||
		fail "inspect's verdict lacks /$2/: $(sed -n '/^verdict/,$p' "$CKPT_OUT" | head -n 4)"
}

# assert_empty_dir DIR: DIR holds no entry at all (no image, no temporary)
assert_empty_dir() {
	local left
	left=$(ls -A "$1")
	[ -z "$left" ] || fail "left behind in $1: $left"
}

# ---- snapping ----

# snap_checked SID: stops the tree, records /proc, snaps it to $T/img,
# checks the tree is still stopped and /proc unchanged, and that the
# image (show --json) agrees with /proc.  Leaves the tree stopped.
snap_checked() {
	local sid=$1 pids
	stop_tree "$sid"
	pids=$(session_pids "$sid" | sort -n)
	python3 "$PROCSTATE" capture $pids >"$T/proc.json" || fail "reading /proc of $pids failed"
	assert_ckpt 0 snap "$sid" -o "$T/img"
	[ -f "$T/img" ] || fail "snap exited 0 but wrote no image"
	grep -qE "^pid $sid: [0-9]+ process" "$CKPT_OUT" || fail "no summary line: $(cat "$CKPT_OUT")"
	assert_stopped_tree "$sid"
	python3 "$PROCSTATE" capture $pids >"$T/proc.after.json"
	cmp -s "$T/proc.json" "$T/proc.after.json" ||
		fail "the snap changed what /proc shows: $(python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print([ (x["pid"], k) for x,y in zip(a,b) for k in x if x[k]!=y[k]][:5])' "$T/proc.json" "$T/proc.after.json")"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	python3 "$PROCSTATE" compare "$T/proc.json" "$T/image.json" >"$T/diff" ||
		fail "image and /proc differ: $(head -n 4 "$T/diff" | paste -sd';')"
	assert_ckpt 0 show "$T/img"
}

# json_get EXPR: a python expression on the image's JSON (variable j)
json_get() {
	python3 -c "import json; j = json.load(open('$T/image.json')); print($1)"
}

# snap_kill SID [ARGS...]: snap --kill; every pid of the tree is gone
# when it returns
snap_kill() {
	local sid=$1 pids p
	pids=$(session_pids "$sid")
	deep_capture "$sid"
	assert_ckpt 0 snap "$sid" -o "$T/img" --kill "${@:2}"
	for p in $pids; do
		[ -d "/proc/$p" ] && fail "pid $p still exists (state $(proc_state "$p")) after snap --kill returned"
	done
	[ -f "$T/img" ] || fail "snap --kill wrote no image"
	assert_ckpt 0 show "$T/img"
}

# pagecmp_tree SID: the image's pages equal the memory of every live process
pagecmp_tree() {
	local p
	for p in $(session_pids "$1"); do
		[ "$(proc_state "$p")" = Z ] && continue
		"$TOOLS/pagecmp" "$T/img" "$p" >"$T/pagecmp" 2>&1 ||
			fail "pid $p: image memory differs from the process: $(head -n 3 "$T/pagecmp" | paste -sd';')"
		cat "$T/pagecmp" >&2
	done
}

# fallback_forced FEATURE: BPFCKPT_FALLBACK leaves out the BPF program
# for FEATURE (as user/bpfload.c reads it)
fallback_forced() {
	case ",${BPFCKPT_FALLBACK:-}," in
	,all,|,1,|*",$1,"*) return 0 ;;
	esac
	return 1
}

# ---- running tests ----

_run_one() {
	local fn=$1 name=${1#test_} dir rc reason t0=$SECONDS
	dir=$(mktemp -d /tmp/bpfckpt-test.XXXXXX)
	(
		T=$dir
		trap _cleanup EXIT
		cd "$T" || exit 1
		"$fn"
	) >"$dir.log" 2>&1 </dev/null
	rc=$?
	if [ $rc = 0 ]; then
		echo "PASS ${TEST_TAG:-}$SCRIPT_NAME/$name${TEST_TIMES:+ ($((SECONDS - t0)) s)}"
	else
		reason=$(head -n 1 "$dir/.reason" 2>/dev/null)
		echo "FAIL ${TEST_TAG:-}$SCRIPT_NAME/$name: ${reason:-exited with status $rc}"
		tail -n 25 "$dir.log" | sed 's/^/    | /'
	fi
	rm -rf "$dir" "$dir.log"
	return $rc
}

# run_tests [NAME...]: every test_* function (or those named), in order.
# In tests/run's fallback pass (TEST_TAG=fallback:), a script that sets
# FALLBACK_CASES runs only those: the cases that reach what the fallback
# changes (task listing, fd paths, rseq and timers read from /proc, not
# BPF), where the others test restore-side logic the first pass ran.
run_tests() {
	local fn failed=0 only="${*:-}"
	if [ -z "$only" ] && [ "${TEST_TAG:-}" = fallback: ] && [ -n "${FALLBACK_CASES:-}" ]; then
		only=$FALLBACK_CASES
		for fn in $only; do
			declare -F "test_$fn" >/dev/null ||
				{ echo "FAIL ${TEST_TAG}$SCRIPT_NAME: FALLBACK_CASES names $fn, which is no test"; failed=1; }
		done
	fi
	for fn in $(declare -F | awk '{print $3}' | grep '^test_'); do
		if [ -n "$only" ] && [[ " $only " != *" ${fn#test_} "* ]]; then
			continue
		fi
		_run_one "$fn" || failed=1
	done
	exit $failed
}

# ---- restoring ----

# image_pids: the pids an image holds (from $T/image.json)
image_pids() {
	python3 -c "import json; print(' '.join(str(p['pid']) for p in json.load(open('$T/image.json'))['processes']))"
}

# snap_kill_stopped SID: stops the tree, snap --kill, checks the image
# against /proc; $T/img and $T/image.json hold the result
snap_kill_stopped() {
	local sid=$1 pids
	stop_tree "$sid"
	pids=$(session_pids "$sid" | sort -n)
	python3 "$PROCSTATE" capture $pids >"$T/proc.json" || fail "reading /proc of $pids failed"
	snap_kill "$sid"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	python3 "$PROCSTATE" compare "$T/proc.json" "$T/image.json" >"$T/diff" ||
		fail "image and /proc differ: $(head -n 4 "$T/diff" | paste -sd';')"
}

# snap_kill_json SID [ARGS...]: snap --kill of the running tree, $T/image.json
snap_kill_json() {
	snap_kill "$@"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
}

# restore_d [ARGS...]: restore -d $T/img; every pid of the image is back
restore_d() {
	local p
	assert_ckpt 0 restore "$T/img" -d "$@"
	grep -qE "^restored pid [0-9]+: " "$CKPT_OUT" || fail "no summary line: $(cat "$CKPT_OUT")"
	for p in $(image_pids); do
		[ -d "/proc/$p" ] || fail "pid $p of the image is not back after restore"
	done
}

# deep_capture SID: what the tree's processes observe about themselves,
# before a snap, for restored_matches (procstate.py deep)
deep_capture() {
	python3 "$PROCSTATE" deep $(session_pids "$1" | sort -n) >"$T/deep.before.json" ||
		fail "reading /proc of session $1 failed"
}

# restored_matches [--running]: /proc of the restored tree agrees with
# the image (exactly for a stopped tree; fd offsets aside if it ran),
# and with what deep_capture saw before the snap, field by field
restored_matches() {
	[ -f "$T/deep.before.json" ] || fail "test bug: no deep_capture before the snap"
	python3 "$PROCSTATE" deep $(image_pids) >"$T/deep.after.json" ||
		fail "reading /proc of the restored tree failed$(_wl_said)"
	python3 "$PROCSTATE" deepdiff "$T/deep.before.json" "$T/deep.after.json" "$@" >"$T/deepdiff" ||
		fail "the restored tree differs: $(head -n 4 "$T/deepdiff" | paste -sd';')"
	python3 "$PROCSTATE" capture $(image_pids) >"$T/proc.restored.json" ||
		fail "reading /proc of the restored tree failed$(_wl_said)"
	python3 "$PROCSTATE" restored "$T/image.json" "$T/proc.restored.json" "$@" >"$T/diff" ||
		fail "restored tree differs from the image: $(head -n 4 "$T/diff" | paste -sd';')$(_wl_said)"
}

# cycle_running SID [RESTORE_ARGS...]: snap --kill of the running tree,
# restore -d, and /proc agrees with the image (fd offsets aside)
cycle_running() {
	snap_kill_json "$1"
	restore_d "${@:2}"
	restored_matches --running
}

# cycle_stopped SID [RESTORE_ARGS...]: the same for a stopped tree, with
# exact /proc and memory; then the tree is continued
cycle_stopped() {
	snap_kill_stopped "$1"
	restore_d "${@:2}"
	restored_matches
	pagecmp_image
	cont_tree "$1"
}

# what the workload said last, or of its failure, for a failure message
_wl_said() {
	[ -n "${WL_LOG:-}" ] && [ -f "$WL_LOG" ] || return 0
	if grep -q '^FAIL' "$WL_LOG"; then
		grep -m1 '^FAIL' "$WL_LOG" | sed 's/^/ -- the workload said: /'
	else
		tail -n 2 "$WL_LOG" | paste -sd';' | sed 's/^/ -- the workload last said: /'
	fi
}

# pagecmp_image: the memory of every restored process is the image's
pagecmp_image() {
	local p
	for p in $(image_pids); do
		[ "$(proc_state "$p")" = Z ] && continue
		"$TOOLS/pagecmp" "$T/img" "$p" >"$T/pagecmp" 2>&1 ||
			fail "pid $p: restored memory differs from the image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	done
}

# assert_no_pids PIDS...: none of them exists (a failed restore left nothing)
assert_no_pids() {
	local p
	for p in "$@"; do
		wait_until 5 "[ ! -d /proc/$p ]" ||
			fail "pid $p exists after a failed restore (state $(proc_state "$p"), $(cat /proc/$p/comm 2>/dev/null))"
	done
}
