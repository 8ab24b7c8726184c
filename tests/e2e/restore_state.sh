#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Restore conformance: the kinds of process state checkpoint/restore
# suites check, one self-checking workload each (tests/workloads/), snap
# --kill then restore.  Each workload compares its own state every tick
# with what it captured at start and prints FAIL on any difference; the
# test also compares /proc from outside and drives what comes after the
# restore (a write to copy-on-write memory, a death of a lock owner, of
# a parent).
. "$(dirname "$0")/../lib.sh"

# every process of the image ticks N more times
all_ticking() {
	local p
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" "$1" "$p"
	done
}

two_ticking() {
	wait_until 20 "[ \$(grep -oE '^pid [0-9]+ tick' '$WL_LOG' | sort -u | wc -l) = 2 ]" ||
		fail "$(basename "$WL_LOG"): not both processes tick: $(tail -n 3 "$WL_LOG")"
}

# ---- copy-on-write memory between a parent and its child ----

cow_after() {
	local p
	all_ticking 3
	touch "$T/data/write"
	for p in $(image_pids); do
		wait_for_line "$WL_LOG" "^pid $p wrote" 20 || fail "pid $p did not write its region"
	done
	# each checks its own new pattern and the other's old one every tick
	all_ticking 5
}

test_cow_fork() {
	mkdir "$T/data"
	wl_start cowfork "$T/data" 16 50
	two_ticking
	cycle_stopped "$WL_PID"
	cow_after
}

test_cow_fork_running() {
	mkdir "$T/data"
	wl_start cowfork "$T/data" 16 50
	two_ticking
	cycle_running "$WL_PID"
	cow_after
}

# summed Pss (kB) of PIDS: pages shared by n processes count 1/n in each
pss_sum() {
	local p sum=0 kb
	for p in "$@"; do
		kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup") ||
			fail "reading /proc/$p/smaps_rollup"
		sum=$((sum + kb))
	done
	echo "$sum"
}

# a parent fills 256 MiB and forks 4 readers: the image holds the pages
# once, and they come back shared (summed Pss at most 1.05x the snap's)
test_cow_readers() {
	local pids before after stored cow p
	wl_start cowreaders 256 4 50
	wait_until 30 "[ \$(grep -oE '^pid [0-9]+ tick' '$WL_LOG' | sort -u | wc -l) = 5 ]" ||
		fail "not all 5 processes tick: $(tail -n 3 "$WL_LOG")"
	pids=$(session_pids "$WL_PID")
	before=$(pss_sum $pids)
	cycle_running "$WL_PID"
	stored=$(json_get "j['header']['pages']")
	cow=$(json_get "sum(p.get('cow_pages', 0) for p in j['processes'])")
	# 65536 pages of region, a few hundred of stacks and libc data each
	[ "$stored" -lt $((65536 + 5000)) ] ||
		fail "the image stores $stored pages: the shared 256 MiB is in it more than once"
	[ "$cow" -ge $((4 * 65536)) ] ||
		fail "the image marks $cow pages as shared with a parent, the 4 readers share 4 x 65536"
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 2 "$p"
	done
	after=$(pss_sum $(image_pids))
	echo "# cow_readers: summed Pss $before kB before the snap, $after kB after the restore" \
	     "($(awk "BEGIN { printf \"%.3f\", $after / $before }")x); image $stored pages, $cow shared"
	[ "$after" -le $((before * 105 / 100)) ] ||
		fail "summed Pss $after kB after the restore, $before kB before: the shared pages came back as copies"
}

# ---- exe, cmdline, environ, cwd, umask, personality ----

proc_identity() {
	local p=$1
	{
		readlink "/proc/$p/exe"
		readlink "/proc/$p/cwd"
		tr '\0' '\n' <"/proc/$p/cmdline"
		echo --
		tr '\0' '\n' <"/proc/$p/environ"
		cat "/proc/$p/personality" "/proc/$p/comm"
		grep Umask "/proc/$p/status"
	} 2>&1
}

test_identity() {
	mkdir -p "$T/work dir"
	cd "$T/work dir" || fail "cd"
	umask 027
	wl_start_via identity env -i PATH=/usr/bin:/bin "LONG=$(printf 'x%.0s' {1..3000})" \
		'ODD=a b	c' setarch -R "$WL/identity" 50 first 'with space' last
	umask 022
	cd "$T" || fail "cd"
	assert_ticking "$WL_LOG" 3
	grep -q "^ready pid=$WL_PID personality=0x40000 Umask:.0027" "$WL_LOG" ||
		fail "identity did not start under setarch -R and umask 027: $(head -n 1 "$WL_LOG")"
	proc_identity "$WL_PID" >"$T/before"
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	proc_identity "$WL_PID" >"$T/after"
	cmp -s "$T/before" "$T/after" ||
		fail "/proc/$WL_PID differs after the restore: $(diff "$T/before" "$T/after" | head -n 4 | paste -sd';')"
}

# ---- rlimits, credentials, capabilities, scheduling policy, nice,
#      oom_score_adj, timer slack, pdeathsig, dumpable ----

# after the restore: kill the root, its child must die of its death
# signal (SIGHUP) and say nothing
parent_death() {
	local child
	child=$(image_pids | tr ' ' '\n' | grep -vx "$WL_PID")
	[ -n "$child" ] || fail "limits has no child in the image"
	kill -KILL "$WL_PID"
	wait_until 10 "[ ! -d /proc/$child ] || [ \"\$(proc_state $child)\" = Z ]" ||
		fail "pid $child lives on after its parent died: its death signal is gone"
	assert_log_ok "$WL_LOG"
}

RLIMITS=(--nofile=100:200 --stack=4194304:16777216 --core=0:1048576
	 --memlock=65536:131072 --locks=500:1000 --sigpending=1000:2000
	 --msgqueue=100000:200000 --nproc=5000:6000)

test_limits_root() {
	wl_start_via limits prlimit "${RLIMITS[@]}" chrt --batch 0 setpriv \
		--bounding-set=-net_raw,-sys_ptrace --inh-caps=-all nice -n 5 "$WL/limits" 50
	two_ticking
	assert_eq 3 "$(awk '{ print $41 }' "/proc/$WL_PID/stat")" "scheduling policy (SCHED_BATCH)"
	cycle_running "$WL_PID"
	all_ticking 5
	parent_death
}

test_limits_user() {
	wl_start_via limits prlimit "${RLIMITS[@]}" chrt --idle 0 setpriv --reuid=1000 --regid=1000 \
		--clear-groups --inh-caps=-all --bounding-set=-net_raw nice -n 5 "$WL/limits" 50
	two_ticking
	assert_eq 1000 "$(awk '/^Uid:/ { print $2 }' "/proc/$WL_PID/status")" "uid of the workload"
	cycle_stopped "$WL_PID"
	all_ticking 5
	parent_death
}

test_limits_ambient_caps() {
	wl_start_via limits chrt --reset-on-fork --rr 5 setpriv --reuid=1000 --regid=1000 --groups=4,24,100 \
		--inh-caps=+net_bind_service,+sys_nice --ambient-caps=+net_bind_service,+sys_nice \
		--bounding-set=-net_raw,-sys_admin --nnp "$WL/limits" 50
	two_ticking
	grep -q '^CapAmb:.*0000000000800400' "/proc/$WL_PID/status" ||
		fail "setpriv did not give ambient capabilities: $(grep Cap "/proc/$WL_PID/status" | paste -sd' ')"
	cycle_running "$WL_PID"
	all_ticking 5
	parent_death
}

# The root's own death signal belongs to its parent outside the image.
# In the foreground the restorer stands in for that parent: its death
# sends the signal.  With -d the restorer exits at once, so the signal
# is left out (with a warning) rather than killing what was restored.
test_root_pdeathsig_detached() {
	wl_start_via demo setpriv --pdeathsig TERM "$WL/demo"
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	restore_d
	assert_err "pid $WL_PID: thread $WL_PID: its parent death signal 15 is not restored"
	assert_ticking "$WL_LOG" 3
}

test_root_pdeathsig_foreground() {
	local rp
	wl_start_via demo setpriv --pdeathsig TERM "$WL/demo"
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	"$BPFCKPT" restore "$T/img" >"$T/fg.out" 2>&1 &
	rp=$!
	wait_until 20 "grep -q '^restored' '$T/fg.out'" || fail "restore did not report: $(cat "$T/fg.out")"
	assert_ticking "$WL_LOG" 2
	grep -q 'death signal' "$T/fg.out" && fail "foreground restore dropped the death signal: $(cat "$T/fg.out")"
	kill -KILL "$rp"
	wait "$rp" 2>/dev/null
	wait_until 10 "[ ! -d /proc/$WL_PID ] || [ \"\$(proc_state $WL_PID)\" = Z ]" ||
		fail "pid $WL_PID lives on after its parent, the restorer, died: no death signal"
}

# ---- futexes between processes, robust mutexes ----

robust_after() {
	touch "$T/data/die"
	wait_for_line "$WL_LOG" '^robust: EOWNERDEAD' 20 ||
		fail "the parent did not get EOWNERDEAD: $(grep -m1 FAIL "$WL_LOG")"
	assert_ticking "$WL_LOG" 3 "$WL_PID"
}

test_pshared() {
	mkdir "$T/data"
	wl_start pshared "$T/data" 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	robust_after
}

test_pshared_stopped() {
	mkdir "$T/data"
	wl_start pshared "$T/data" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
	robust_after
}

# ---- blocked and pending signals, temporary masks ----

test_sigmask() {
	wl_start sigmask 50 10
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	# past two release cycles of the held signals
	assert_ticking "$WL_LOG" 25
}

test_sigmask_stopped() {
	wl_start sigmask 50 10
	assert_ticking "$WL_LOG" 3
	# stopped inside sigsuspend/ppoll, /proc shows the syscall's own mask;
	# restored (to re-enter the call when continued) the thread shows
	# the mask it goes back to, which the kernel saved (saved_sigmask)
	DEEP_VOLATILE=SigBlk cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 25
}

# ---- threads blocked in poll, select, futex, pause, clock_nanosleep ----

# what a process set on itself (tests/workloads/selfset.c): personality,
# subreaper, thread names, affinity, ioprio, membarrier, loginuid, a
# deleted cwd; and seccomp filters in the main thread and another
test_selfset() {
	mkdir "$T/dir"
	wl_start selfset "$T/dir" 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_selfset_stopped() {
	mkdir "$T/dir"
	wl_start selfset "$T/dir" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_selfset_seccomp() {
	mkdir "$T/dir"
	wl_start selfset "$T/dir" 50 1
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if any(t.get("seccomp_filters") == 2 for t in j["processes"][0]["threads"]) else 1)' \
		"$T/image.json" || fail "the image has no thread with 2 seccomp filters"
}

# the deleted cwd's name is taken again: restore refuses, naming it
test_deleted_cwd_taken() {
	mkdir "$T/dir"
	wl_start selfset "$T/dir" 50
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
	mkdir "$T/dir/gone"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "pid $WL_PID: its cwd $T/dir/gone was deleted, and that path exists again"
	[ -d "/proc/$WL_PID" ] && fail "a refused restore left pid $WL_PID"
	return 0
}

# chroot into a directory that is then removed: the root comes back as a
# deleted directory of that name (and a plain chroot as itself)
chrooted_py() {
	WL_LOG=$T/py.log
	clean_exec python3 -c 'import os, sys, time
os.setsid()
os.chroot(sys.argv[1])
os.chdir("/")
print("ready pid=%d" % os.getpid(), flush=True)
n = gone = 0
while True:
    n += 1
    st = os.stat("/")
    # deleted (once the test removed it) stays deleted; else never deleted
    gone = gone or (sys.argv[2] == "1" and st.st_nlink == 0)
    if os.listdir("/") != [] or (st.st_nlink == 0) != bool(gone):
        print("FAIL: root has %d links, %s" % (st.st_nlink, os.listdir("/")), flush=True)
    print("tick %d" % n, flush=True)
    time.sleep(0.05)' "$@" </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^ready pid=$WL_PID" 30 || fail "python did not start: $(cat "$WL_LOG")"
}

test_chroot() {
	mkdir "$T/jail"
	chrooted_py "$T/jail" 0
	assert_ticking "$WL_LOG" 2
	cycle_running "$WL_PID"
	[ "$(readlink "/proc/$WL_PID/root")" = "$T/jail" ] || fail "root is $(readlink "/proc/$WL_PID/root")"
	assert_ticking "$WL_LOG" 5
}

test_deleted_root() {
	mkdir "$T/jail"
	chrooted_py "$T/jail" 1
	rmdir "$T/jail"
	assert_ticking "$WL_LOG" 2
	grep -q "(deleted)" <<<"$(readlink "/proc/$WL_PID/root")" || fail "the root was not removed"
	cycle_running "$WL_PID"
	[ "$(readlink "/proc/$WL_PID/root")" = "$T/jail (deleted)" ] ||
		fail "root is $(readlink "/proc/$WL_PID/root")"
	[ -e "$T/jail" ] && fail "the recreated root was left behind"
	assert_ticking "$WL_LOG" 5
}

test_sleepers() {
	wl_start sleepers 50
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_eq 6 "$(ls /proc/$WL_PID/task | wc -l)" "threads after the restore"
	assert_ticking "$WL_LOG" 10
}

test_sleepers_stopped() {
	wl_start sleepers 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 10
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="identity sleepers selfset chroot deleted_root pshared"
run_tests "$@"
