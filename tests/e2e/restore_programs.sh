#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# snap --kill then restore of real programs that nobody here wrote:
# python3, bash, perl, sleep.  Each runs in its own session with nothing
# open but stdin (/dev/null) and stdout/stderr (its log), prints
# "ready pid=P" and then "tick N" lines with N = 1, 2, 3, ... and checks
# what it can of its own state ("FAIL: ..." otherwise).  After the
# restore it has the same pid, the same /proc/PID/maps, and its ticks
# go on from the last one: no reset, no gap, no repeat.
. "$(dirname "$0")/../lib.sh"

# prog_start NAME CMD...: like wl_start, for a command of the system;
# a Python traceback or a perl error counts as a failure too
prog_start() {
	local name=$1
	shift
	WL_FAIL_RE='^FAIL|Error' wl_start_via "$name" setsid "$@"
}

# cycle_running or cycle_stopped (lib.sh) of the program, ticking before
# and after: no reset, no gap, no repeat
ticking_cycle() {
	assert_ticking "$WL_LOG" 3
	"cycle_$1" "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a counter, a list of 300k ints and a dict of 100k strings whose sums
# are kept up to date and checked in full every tick
write_py_loop() {
	cat >"$T/loop.py" <<'EOF'
import os, time, zlib
data = [i * 7919 % 1000003 for i in range(300000)]
table = {i: str(i * 31) for i in range(100000)}
want_sum = sum(data)
want_crc = zlib.crc32("".join(table[i] for i in range(100000)).encode())
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    i = n * 104729 % len(data)
    data[i] += n
    want_sum += n
    if sum(data) != want_sum:
        print("FAIL: tick %d: list sum %d, expected %d" % (n, sum(data), want_sum), flush=True)
        raise SystemExit(1)
    if n % 5 == 0:
        crc = zlib.crc32("".join(table[i] for i in range(100000)).encode())
        if crc != want_crc:
            print("FAIL: tick %d: dict crc %x, expected %x" % (n, crc, want_crc), flush=True)
            raise SystemExit(1)
    print("tick %d sum=%d" % (n, want_sum), flush=True)
    time.sleep(0.05)
EOF
}

test_python_loop() {
	write_py_loop
	prog_start python python3 "$T/loop.py"
	ticking_cycle running
}

test_python_loop_stopped() {
	write_py_loop
	prog_start python python3 "$T/loop.py"
	ticking_cycle stopped
}

# threads of the threading module: each counts under a lock and sleeps;
# the main thread checks they all move on and the total adds up
write_py_threads() {
	cat >"$T/threads.py" <<'EOF'
import os, threading, time
N = 4
lock = threading.Lock()
counts = [0] * N
total = [0]
def work(k):
    while True:
        with lock:
            counts[k] += 1
            total[0] += 1
        time.sleep(0.01)
for k in range(N):
    threading.Thread(target=work, args=(k,), daemon=True).start()
print("ready pid=%d" % os.getpid(), flush=True)
last = [0] * N
stalled = [0] * N
n = 0
while True:
    time.sleep(0.1)
    n += 1
    with lock:
        now = list(counts)
        if sum(now) != total[0]:
            print("FAIL: tick %d: counts %s do not add up to %d" % (n, now, total[0]), flush=True)
            os._exit(1)
    for k in range(N):
        stalled[k] = stalled[k] + 1 if now[k] == last[k] else 0
        if stalled[k] > 50:
            print("FAIL: tick %d: thread %d stopped at %d" % (n, k, now[k]), flush=True)
            os._exit(1)
    last = now
    print("tick %d counts=%s" % (n, now), flush=True)
EOF
	prog_start python python3 "$T/threads.py"
	wait_until 10 "[ \$(ls /proc/$WL_PID/task | wc -l) = 5 ]" || fail "python did not start 4 threads"
}

# each thread counted on since the restore
threads_counted_on() {
	local before after
	assert_eq 5 "$(ls /proc/$WL_PID/task | wc -l)" "python threads after the restore"
	before=$(grep -oE 'counts=\[[0-9, ]*\]' "$WL_LOG" | tail -n 1)
	assert_ticking "$WL_LOG" 3
	after=$(grep -oE 'counts=\[[0-9, ]*\]' "$WL_LOG" | tail -n 1)
	python3 -c "import sys; a, b = eval(sys.argv[1][7:]), eval(sys.argv[2][7:]); sys.exit(not all(y > x for x, y in zip(a, b)))" "$before" "$after" ||
		fail "not every python thread counted on: $before, then $after"
}

test_python_threads() {
	write_py_threads
	ticking_cycle running
	threads_counted_on
}

test_python_threads_stopped() {
	write_py_threads
	ticking_cycle stopped
	threads_counted_on
}

# bash runs a child every round: sleep, date, and cat of a file bash
# wrote (which prints the number); no command substitution, no pipe
write_bash_loop() {
	cat >"$T/loop.sh" <<'EOF'
echo "ready pid=$$"
n=0
while :; do
	n=$((n + 1))
	sleep 0.05 || { echo "FAIL: tick $n: sleep exited $?"; exit 1; }
	date +%s.%N >>"$DIR/dates" || { echo "FAIL: tick $n: date exited $?"; exit 1; }
	echo "$n" >"$DIR/n"
	printf 'tick '
	cat "$DIR/n" || { echo "FAIL: tick $n: cat exited $?"; exit 1; }
done
EOF
}

# the running loop: its children come and go, so only the root is
# compared (the stopped test compares the whole tree)
cycle_running_root() {
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	assert_ckpt 0 restore "$T/img" -d
	assert_alive "$WL_PID" bash
	python3 -c "import json; j = json.load(open('$T/image.json')); j['processes'] = j['processes'][:1]; json.dump(j, open('$T/image.json', 'w'))"
	restored_matches --running
	assert_ticking "$WL_LOG" 5
}

# each tick's date is written before the tick: read the ticks first
check_dates() {
	local ticks dates
	ticks=$(last_tick "$WL_LOG")
	dates=$(wc -l <"$T/dates")
	[ "$dates" -ge "$ticks" ] || fail "date ran $dates times for $ticks ticks"
}

test_bash_loop() {
	write_bash_loop
	DIR=$T prog_start bash bash "$T/loop.sh"
	# bash blocks SIGCHLD and sets SIGINT's handler around each child it
	# runs: its masks at the capture and at the snap may differ
	DEEP_VOLATILE="SigBlk SigCgt" cycle_running_root
	check_dates
}

# bash runs /bin/true as fast as it can: children are forked, exit and
# are reaped while the freeze walks the tree (one listed before bash was
# frozen may be a zombie, or gone, by the time the freeze reaches it)
test_bash_fork_storm() {
	local i
	prog_start bash bash -c 'echo "ready pid=$$"; n=0
		while :; do /bin/true || exit 1; n=$((n + 1)); [ $((n % 100)) = 0 ] && echo "tick $((n / 100))"; done'
	assert_ticking "$WL_LOG" 2
	for i in $(seq 30); do
		assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	done
	snap_kill_json "$WL_PID"
	# a /bin/true in the image may be done and reaped before restore_d
	# could see it: only the root must be there
	assert_ckpt 0 restore "$T/img" -d
	assert_alive "$WL_PID" bash
	assert_ticking "$WL_LOG" 3
}

test_bash_loop_stopped() {
	write_bash_loop
	DIR=$T prog_start bash bash "$T/loop.sh"
	ticking_cycle stopped
	check_dates
}

test_perl_loop() {
	prog_start perl perl -e '
		$| = 1;
		my %h = map { $_ => $_ * 3 } 1 .. 50000;
		my @a = map { $_ * 7 } 1 .. 100000;
		my ($hs, $as) = (0, 0);
		$hs += $_ for values %h;
		$as += $_ for @a;
		print "ready pid=$$\n";
		for (my $n = 1; ; $n++) {
			$a[$n % @a] += $n;
			$as += $n;
			my ($s, $t) = (0, 0);
			$s += $_ for values %h;
			$t += $_ for @a;
			if ($s != $hs || $t != $as) {
				print "FAIL: tick $n: sums $s $t, expected $hs $as\n";
				exit 1;
			}
			print "tick $n\n";
			select(undef, undef, undef, 0.05);
		}'
	ticking_cycle running
}

# a process doing nothing but sleeping: back, asleep, and killable
test_sleep() {
	WL_LOG=$T/sleep.log
	clean_exec setsid sleep 1000 </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_until 10 "[ \"\$(cat /proc/$WL_PID/comm 2>/dev/null)\" = sleep ]" || fail "sleep did not start"
	# a core dump filter of its own (default 0x33) comes back too
	echo 0x5f >"/proc/$WL_PID/coredump_filter"
	snap_kill_json "$WL_PID"
	restore_d
	restored_matches --running
	assert_eq 0000005f "$(cat "/proc/$WL_PID/coredump_filter")" "coredump_filter"
	wait_until 10 "[ \"\$(proc_state $WL_PID)\" = S ]" ||
		fail "restored sleep is in state '$(proc_state "$WL_PID")', not sleeping"
	kill -TERM "$WL_PID"
	wait_until 10 "[ ! -d /proc/$WL_PID ]" || fail "the restored sleep survived SIGTERM (state $(proc_state "$WL_PID"))"
}

# restore in the foreground exits as the restored root does: a shell
# that sleeps a little then exits 7
test_foreground_exit_status() {
	local rc=0
	WL_LOG=$T/sh.log
	clean_exec setsid sh -c 'echo "ready pid=$$"; sleep 2; echo done; exit 7' </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 10 || fail "sh did not start"
	wait_until 10 "[ \$(session_pids $WL_PID | wc -l) = 2 ]" || fail "sh did not start its sleep"
	snap_kill_json "$WL_PID"
	timeout 60 "$BPFCKPT" restore "$T/img" >"$T/fg.out" 2>&1 || rc=$?
	cat "$T/fg.out" >&2
	assert_eq 7 "$rc" "exit status of the foreground restore (the shell's)"
	grep -q '^done$' "$WL_LOG" || fail "the shell did not go on after its sleep: $(cat "$WL_LOG")"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="python_threads bash_fork_storm perl_loop"
run_tests "$@"
