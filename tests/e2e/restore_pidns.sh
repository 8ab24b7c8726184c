#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Trees in nested pid namespaces (user/ns.c): the pidns workload makes
# them as `unshare --pid --fork --mount-proc` run inside another one
# does, and checks getpid(), its /proc and its orphans itself.
. "$(dirname "$0")/../lib.sh"

# In a mount namespace of our own: the trees copy ours when they make
# theirs, and mounts that other tests on this machine make and remove
# meanwhile would otherwise be in theirs and no more in ours.
if [ -z "${PIDNS_TEST_MNTNS:-}" ]; then
	PIDNS_TEST_MNTNS=1 exec unshare -m --propagation private "$0" "$@"
fi

# pidns_start DEPTH [private]: the pids the workload printed (level 0):
# PN_ROOT, PN_INITS, PN_WORKER
pidns_start() {
	wl_start pidns 50 "$@"
	local ready
	ready=$(grep -m1 '^ready pid=' "$WL_LOG")
	PN_ROOT=$WL_PID
	PN_INITS=$(sed -E 's/.* inits=([0-9,]+) .*/\1/' <<<"$ready" | tr , ' ')
	PN_WORKER=$(sed -E 's/.* worker=([0-9]+).*/\1/' <<<"$ready")
	local p
	for p in $PN_ROOT $PN_INITS $PN_WORKER; do
		assert_ticking "$WL_LOG" 2 "$p"
	done
}

# NSpid of every pid given, one line each: "PID: N1 N2 ..."
nspids() {
	local p
	for p in "$@"; do
		echo "$p: $(awk '$1 == "NSpid:" { $1 = ""; print }' "/proc/$p/status" 2>/dev/null)"
	done
}

# the orphans the deepest init reaped so far (its last tick says)
orphans() {
	local init=${PN_INITS##* }
	grep -E "^pid $init tick [0-9]+ init orphans=" "$1" | tail -n 1 | sed -E 's/.*orphans=//'
}

# three levels deep, snapped from outside: every pid at every level back
test_nested() {
	local before after p o1 wpids
	mkdir "$T/shared"
	mount -t tmpfs t11b-shared "$T/shared" && mount --make-shared "$T/shared" ||
		fail "test bug: a shared mount"
	on_exit "umount -R -l '$T/shared' 2>/dev/null"
	pidns_start 3
	before=$(nspids $PN_ROOT $PN_INITS $PN_WORKER)
	assert_eq 5 "$(nspids $PN_WORKER | wc -w)" "test bug: worker levels ($before)"
	wpids=$(nspids $PN_WORKER | cut -d: -f2 | xargs)
	snap_kill_json "$PN_ROOT"
	assert_eq "$wpids" \
		"$(json_get "[p['nspid'] for p in j['processes'] if p['pid'] == $PN_WORKER][0]")" \
		"the worker's pids in show --json"
	o1=$(orphans "$WL_LOG")
	# not restore_d: a passing orphan in the image is reaped at once
	assert_ckpt 0 restore "$T/img" -d
	after=$(nspids $PN_ROOT $PN_INITS $PN_WORKER)
	assert_eq "$before" "$after" "NSpid of the tree at every level"
	for p in $PN_ROOT $PN_INITS $PN_WORKER; do
		assert_ticking "$WL_LOG" 3 "$p"
	done
	# the inits adopt and reap the worker's orphans (the worker checks it)
	wait_until 10 "[ \$(orphans '$WL_LOG') -gt $((o1 + 2)) ]" ||
		fail "the deepest init reaped no orphans after restore (still $(orphans "$WL_LOG"))"
	# a pid 1 ignores SIGTERM without a handler, from out here too
	for p in $PN_INITS; do
		kill -TERM "$p"
	done
	for p in $PN_INITS $PN_WORKER; do
		assert_ticking "$WL_LOG" 3 "$p"
	done
	# its namespaces are its own: a mount namespace, not ours
	[ "$(readlink /proc/$PN_WORKER/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] ||
		fail "the restored worker is in our mount namespace"
	# whose mounts are slaves of ours, as they were: a mount here reaches it
	mkdir "$T/shared/after"
	mount -t tmpfs t11b-after "$T/shared/after" || fail "test bug: mount"
	wait_until 5 "has_mount $PN_WORKER '$T/shared/after'" ||
		fail "a mount made here after the restore does not reach the worker's (slave) namespace"
	[ "$(readlink /proc/$PN_WORKER/ns/pid)" != "$(readlink /proc/$PN_ROOT/ns/pid)" ] ||
		fail "the restored worker is in the root's pid namespace"
}

# copy_ticking LOG PID: a copy's log (it starts mid-count) gets 3 more
# ticks of PID, one after the other, and no FAIL
copy_ticking() {
	local log=$1 re="^pid $2 tick [0-9]+" from
	wait_until 20 "grep -qE '$re' '$log'" || fail "$(basename "$log"): no tick of pid $2"
	from=$(grep -oE "$re" "$log" | tail -n 1 | awk '{print $NF}')
	wait_until 30 "grep -q '^FAIL' '$log' || [ \$(grep -oE '$re' '$log' | tail -n 1 | awk '{print \$NF}') -ge $((from + 3)) ]" ||
		fail "$(basename "$log"): pid $2 makes no progress past tick $from"
	grep -q '^FAIL' "$log" && fail "$(basename "$log"): $(grep -m1 '^FAIL' "$log")"
	grep -oE "$re" "$log" | awk -v f="$from" '$NF >= f { if (l && $NF != l + 1) { print "tick " $NF " after " l; exit 1 } l = $NF }' >/dev/null ||
		fail "$(basename "$log"): ticks of pid $2 out of sequence"
	return 0
}

# restore_copy LOG [ARGS...]: one restore -d of the container image,
# writing to LOG; sets COPY (its pid here)
restore_copy() {
	local log=$1
	shift
	assert_ckpt 0 restore "$T/img" -d "$@" --inherit-fd "fd[3]:$WL_LOG" 3>>"$log"
	COPY=$(sed -nE 's/^restored pid ([0-9]+): .*/\1/p' "$CKPT_OUT")
	[ -n "$COPY" ] || fail "no summary line: $(cat "$CKPT_OUT")"
	on_exit "kill -KILL $COPY 2>/dev/null"
}

# the init of a namespace snapped alone: only its own pids matter, so
# one image comes back twice, side by side
test_container_twice() {
	local init c1 c2 w
	pidns_start 1
	init=$PN_INITS
	assert_ckpt 0 snap "$init" -o "$T/img" --kill
	wait_until 10 "[ ! -d /proc/$init ]" || fail "snap --kill left pid $init"
	restore_copy "$T/c1.log"
	c1=$COPY
	restore_copy "$T/c2.log"
	c2=$COPY
	[ "$c1" != "$c2" ] || fail "both copies are pid $c1"
	for c in $c1 $c2; do
		assert_eq "$c 1" "$(awk '$1 == "NSpid:" { print $2, $3 }' /proc/$c/status)" \
			"NSpid of copy $c"
		w=$(cat /proc/$c/task/$c/children)
		assert_eq "2" "$(awk '$1 == "NSpid:" { print $3 }' /proc/${w%% *}/status)" \
			"pid of copy $c's worker in its namespace"
	done
	copy_ticking "$T/c1.log" "$init"
	copy_ticking "$T/c2.log" "$init"
	copy_ticking "$T/c1.log" "$PN_WORKER"
	copy_ticking "$T/c2.log" "$PN_WORKER"
	# one copy's end is not the other's
	kill -KILL "$c1"
	wait_until 10 "[ ! -d /proc/$c1 ]" || fail "copy $c1 did not die"
	copy_ticking "$T/c2.log" "$PN_WORKER"
}

# restore --lazy of a container: its pages come from the pager
test_container_lazy() {
	pidns_start 1
	assert_ckpt 0 snap "$PN_INITS" -o "$T/img" --kill
	restore_copy "$T/c1.log" --lazy
	grep -q "^lazy pager pid" "$CKPT_OUT" || fail "no pager line: $(cat "$CKPT_OUT")"
	copy_ticking "$T/c1.log" "$PN_INITS"
	copy_ticking "$T/c1.log" "$PN_WORKER"
}

# snap --kill of a namespace init (with a namespace inside) returns,
# with everything gone; the image comes back as a nested container
test_kill_init() {
	local p i2
	pidns_start 2
	CKPT_TIMEOUT=30 assert_ckpt 0 snap "${PN_INITS%% *}" -o "$T/img" --kill
	for p in $PN_INITS $PN_WORKER; do
		wait_until 10 "[ ! -d /proc/$p ]" || fail "pid $p is left after snap --kill"
	done
	assert_ticking "$WL_LOG" 2 "$PN_ROOT"
	restore_copy "$T/c1.log"
	assert_eq "$COPY 1" "$(awk '$1 == "NSpid:" { print $2, $3 }' /proc/$COPY/status)" "NSpid of the copy"
	i2=$(cat /proc/$COPY/task/$COPY/children)
	assert_eq "2 1" "$(awk '$1 == "NSpid:" { print $3, $4 }' /proc/${i2%% *}/status)" \
		"NSpid of the inner init, below the outer one"
	for p in $PN_INITS $PN_WORKER; do
		copy_ticking "$T/c1.log" "$p"
	done
}

# a mount of its own other than its proc: refused, naming it; runs on
test_mount_refused() {
	mkdir "$T/mnt"
	wl_start_via forktree unshare -m --propagation private \
		sh -c "mount -t tmpfs t11b-tmp '$T/mnt' && exec '$WL/forktree' 50"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "pid $WL_PID: its mount namespace has t11b-tmp on $T/mnt \\(tmpfs\\), which the snapper's has not"
	[ ! -e "$T/img" ] || fail "a refused snap left an image"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "t11b-tmp on $T/mnt"
	[ ! -e "$T/img" ] || fail "a refused snap --kill left an image"
	assert_ticking "$WL_LOG" 3
	assert_inspect_says "$WL_PID" "its mount namespace has t11b-tmp on $T/mnt \\(tmpfs\\)"
}

# a network, user, cgroup or time namespace of its own is refused, named
# (restore would bring the tree back in the restorer's); the tree runs on
test_other_ns_refused() {
	local kind flag
	for kind in network:--net user:--user cgroup:--cgroup time:--time; do
		flag=${kind#*:}
		kind=${kind%%:*}
		wl_start_via heap unshare $flag "$WL/heap" 4 50
		assert_ticking "$WL_LOG" 2
		assert_kill_refused "$WL_PID" "pid $WL_PID: it lives in a $kind namespace of its own \\([a-z]+:\\[[0-9]+\\]\\), which restore does not recreate: not supported"
		assert_inspect_says "$WL_PID" "it lives in a $kind namespace of its own"
		assert_ticking "$WL_LOG" 2
		kill_session "$WL_PID"
	done
}

# `unshare --pid` without --fork: a pid_for_children namespace nobody
# lives in yet; it comes back as one of its own (a next fork is its pid 1)
test_pid_for_children_empty() {
	wl_start_via heap unshare --pid "$WL/heap" 4 50
	assert_ticking "$WL_LOG" 2
	# the link shows no namespace until it has an init (ENOENT)
	readlink "/proc/$WL_PID/ns/pid_for_children" &&
		fail "test bug: no pid_for_children of its own"
	snap_kill_json "$WL_PID"
	assert_eq "empty" "$(json_get "j['processes'][0]['pid_for_children']")" "show --json"
	restore_d
	assert_ticking "$WL_LOG" 3
	readlink "/proc/$WL_PID/ns/pid_for_children" &&
		fail "its pid_for_children is its own pid namespace again"
	[ "$(readlink /proc/$WL_PID/ns/pid)" = "$(readlink /proc/self/ns/pid)" ] ||
		fail "it left our pid namespace"
}

# a process inside a namespace whose init is left out: refused, it runs on
test_init_left_out() {
	pidns_start 1
	assert_kill_refused "$PN_WORKER" "pid $PN_WORKER: its /proc is the proc of a pid namespace whose init is not in the tree"
	assert_inspect_says "$PN_WORKER" "lives in a pid namespace \\(as pid 2\\) whose init is not in the tree"
	assert_ticking "$WL_LOG" 3 "$PN_WORKER"
}

# has_mount PID DIR: DIR is a mount point in PID's mount namespace
has_mount() {
	awk -v d="$2" '$5 == d { f = 1 } END { exit !f }' "/proc/$1/mountinfo"
}

# mounts made out here since the tree made its namespace are not its;
# one it had that is gone from here fails the restore, naming it
test_mounts_since() {
	local p
	mkdir "$T/early" "$T/late"
	mount -t tmpfs t11b-early "$T/early" || fail "test bug: mount"
	on_exit "umount -l '$T/early' 2>/dev/null"
	pidns_start 1 private
	mount -t tmpfs t11b-late "$T/late" || fail "test bug: mount"
	on_exit "umount -l '$T/late' 2>/dev/null"
	has_mount "$PN_WORKER" "$T/late" && fail "test bug: the tree sees $T/late"
	snap_kill_json "$PN_ROOT"
	assert_ckpt 0 restore "$T/img" -d
	for p in $PN_ROOT $PN_INITS $PN_WORKER; do
		has_mount "$p" "$T/late" && fail "pid $p has $T/late, mounted out here after its namespace was made"
		has_mount "$p" "$T/early" || fail "pid $p lacks $T/early, which its namespace had"
	done
	assert_ticking "$WL_LOG" 3 "$PN_WORKER"
	kill_session "$PN_ROOT"
	wait_until 10 "[ ! -d /proc/$PN_ROOT ]" || fail "the restored tree did not die"
	umount "$T/early"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "its mount namespace had a mount the restorer's has not: / $T/early .*tmpfs t11b-early"
	assert_no_pids $PN_ROOT $PN_INITS $PN_WORKER
}

# a container with its own UTS and IPC namespaces too (ipc.c makes them
# again), restored in the foreground: restore exits as its init does
test_container_uts_ipc() {
	local rpid
	wl_start_via pidns unshare --uts --ipc sh -c "hostname t11b-box && exec '$WL/pidns' 50 1"
	PN_INITS=$(grep -m1 -oE 'inits=[0-9]+' "$WL_LOG" | cut -d= -f2)
	PN_WORKER=$(grep -m1 -oE 'worker=[0-9]+' "$WL_LOG" | cut -d= -f2)
	assert_ticking "$WL_LOG" 2 "$PN_WORKER"
	assert_ckpt 0 snap "$PN_INITS" -o "$T/img" --kill
	timeout -k 5 60 "$BPFCKPT" restore "$T/img" --inherit-fd "fd[3]:$WL_LOG" \
		3>>"$T/c1.log" >"$T/fg.out" 2>&1 &
	rpid=$!
	on_exit "kill -KILL $rpid 2>/dev/null"
	wait_for_line "$T/fg.out" '^restored pid [0-9]+' 30 || fail "no summary: $(cat "$T/fg.out")"
	COPY=$(sed -nE 's/^restored pid ([0-9]+): .*/\1/p' "$T/fg.out")
	copy_ticking "$T/c1.log" "$PN_WORKER"
	assert_eq t11b-box "$(nsenter -t "$COPY" -u hostname)" "hostname of the restored container"
	[ "$(readlink /proc/$COPY/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ] ||
		fail "restored into our IPC namespace"
	kill -KILL "$COPY"
	wait "$rpid"
	assert_eq 137 "$?" "restore's exit status (its root was killed)"
}

# pids of every pidns workload process but those given
pidns_procs() {
	local p e
	for p in /proc/[0-9]*; do
		e=$(readlink "$p/exe" 2>/dev/null) || continue
		[ "$e" = "$WL/pidns" ] || continue
		[[ " $* " == *" ${p#/proc/} "* ]] || echo "${p#/proc/}"
	done
	return 0
}

# a restore failing at any step leaves no process behind, in any namespace
test_fault_leaves_nothing() {
	local point others
	others=$(pidns_procs)
	pidns_start 2
	snap_kill_json "$PN_ROOT"
	for point in restore-created restore-mm restore-final; do
		BPFCKPT_FAULT=$point assert_ckpt 1 restore "$T/img" -d
		assert_no_pids $PN_ROOT $PN_INITS $PN_WORKER
	done
	# the same for a container, whose pids out here are anyone's
	assert_ckpt 0 restore "$T/img" -d
	assert_ticking "$WL_LOG" 2 "$PN_WORKER"
	assert_ckpt 0 snap "${PN_INITS%% *}" -o "$T/img2" --kill
	for point in restore-created restore-mm restore-final; do
		BPFCKPT_FAULT=$point assert_ckpt 1 restore "$T/img2" -d
		wait_until 10 "[ -z \"\$(pidns_procs $PN_ROOT $others)\" ]" ||
			fail "a restore failing at $point left $(pidns_procs $PN_ROOT $others)"
	done
}

# pending and queued signals of a process inside a pid namespace are
# queued again by its own pid there (si_pid checked by the workload)
test_signals_inside() {
	WL_LOG=$T/signals.log
	clean_exec setsid unshare --pid --fork --mount-proc --propagation slave \
		"$WL/signals" 50 10 </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" '^ready|^FAIL' 30 || fail "signals did not start: $(tail -n 3 "$WL_LOG")"
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	# the workload is a session of its own, pid 1 in there
	on_exit "kill -KILL $(image_pids) 2>/dev/null"
	restore_d
	assert_ticking "$WL_LOG" 12
}

# programs nobody here wrote: unshare(1) run in another unshare(1), and
# python3 as the inner init, with a child; snapped from the outer one
test_unshare_python() {
	local before kid
	cat >"$T/init.py" <<'PY'
import os, sys, time
def say(line):	# one line, one write(2): the processes share the log
	os.write(1, (line + "\n").encode())
def check(who):
	if os.getpid() != who or os.readlink("/proc/self") != str(who):
		say(f"FAIL: getpid {os.getpid()}, /proc/self {os.readlink('/proc/self')}, expected {who}")
		sys.exit(1)
if os.getpid() != 1:
	say(f"FAIL: python is pid {os.getpid()}, not 1")
	sys.exit(1)
kid = os.fork()
who = os.getpid()
n = 0
if kid != 0:
	say(f"ready pid={sys.argv[1]} child={kid}")
while True:
	time.sleep(0.05)
	n += 1
	check(who)
	if kid == 0 and os.getppid() != 1:
		say(f"FAIL: parent {os.getppid()}")
		sys.exit(1)
	say(f"pid {who} tick {n}")
PY
	WL_LOG=$T/unshare.log
	clean_exec setsid unshare --pid --fork --mount-proc --propagation slave \
		unshare --pid --fork --mount-proc --propagation slave python3 "$T/init.py" x </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" '^ready|^FAIL' 30 || fail "python did not start: $(tail -n 3 "$WL_LOG")"
	assert_log_ok "$WL_LOG"
	kid=$(grep -m1 -oE 'child=[0-9]+' "$WL_LOG" | cut -d= -f2)
	assert_ticking "$WL_LOG" 3 1
	assert_ticking "$WL_LOG" 3 "$kid"
	assert_eq 4 "$(session_pids "$WL_PID" | wc -l)" "test bug: processes of the tree"
	before=$(nspids $(session_pids "$WL_PID" | sort -n))
	snap_kill_json "$WL_PID"
	restore_d
	assert_eq "$before" "$(nspids $(session_pids "$WL_PID" | sort -n))" "NSpid of the tree at every level"
	assert_ticking "$WL_LOG" 3 1
	assert_ticking "$WL_LOG" 3 "$kid"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="nested container_twice signals_inside unshare_python"
run_tests "$@"
