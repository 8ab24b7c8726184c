#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# SysV IPC objects with the same ids (user/ipc.c): shared memory attached
# in two processes (read-only, removed), semaphores, a message queue;
# in the restorer's namespace and in the tree's own IPC/UTS namespaces.
. "$(dirname "$0")/../lib.sh"

# ids the workload printed: IPC_SHM (A B C), IPC_SEM, IPC_MSG, IPC_KEY
ipc_ids() {
	local ready
	ready=$(grep -m1 '^ready pid=' "$WL_LOG")
	IPC_SHM=$(sed -E 's/.* shm=([0-9,]+) .*/\1/' <<<"$ready" | tr , ' ')
	IPC_SEM=$(sed -E 's/.* sem=([0-9]+) .*/\1/' <<<"$ready")
	IPC_MSG=$(sed -E 's/.* msg=([0-9]+) .*/\1/' <<<"$ready")
	IPC_KEY=$(sed -E 's/.* key=(0x[0-9a-f]+).*/\1/' <<<"$ready")
	local id
	for id in $IPC_SHM; do on_exit "ipcrm -m $id 2>/dev/null"; done
	on_exit "ipcrm -s $IPC_SEM 2>/dev/null"
	on_exit "ipcrm -q $IPC_MSG 2>/dev/null"
}

# sysvipc_start: the workload in this IPC namespace, both processes ticking
sysvipc_start() {
	wl_start sysvipc 50
	ipc_ids
	assert_ticking "$WL_LOG" 3
}

# ipc_line KIND ID: the line of /proc/sysvipc/KIND for ID (in our namespace)
ipc_line() {
	awk -v id="$2" 'NR > 1 && $2 == id' "/proc/sysvipc/$1"
}

# both processes tick on, checking their objects themselves
assert_both_tick() {
	local p
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

# the snapped objects are still here after snap --kill: taken as they are
# (but the removed segment, which went with its last process)
test_objects_kept() {
	local other
	sysvipc_start
	# not the tree's: left out of the image (the host's namespace)
	other=$(ipcmk -M 4096 | grep -oE '[0-9]+$')
	on_exit "ipcrm -m $other 2>/dev/null"
	snap_kill_json "$WL_PID"
	json_get "[s['id'] for s in j['ipc']['shm']]" | grep -qE "[[ ]$other[],]" &&
		fail "the image holds segment $other, which the tree never used"
	set -- $IPC_SHM
	[ -z "$(ipc_line shm "$3")" ] || fail "removed segment $3 outlived its processes"
	assert_ckpt 0 show "$T/img"
	grep -qE "^  shm id $3 key 0 mode 01640 .* removed \(4096 bytes stored\)" "$CKPT_OUT" ||
		fail "show lacks the removed segment $3: $(grep shm "$CKPT_OUT")"
	grep -qE "^  msg id $IPC_MSG key $IPC_KEY .* messages \(type:bytes\) 3:20 1:20 2:20$" "$CKPT_OUT" ||
		fail "show lacks the queue's messages: $(grep msg "$CKPT_OUT")"
	json_get "j['ipc']['sem'][0]['values']" | grep -qE '^5 7 [0-2]$' ||
		fail "show --json lacks the semaphore values: $(json_get "j['ipc']")"
	restore_d
	assert_both_tick
	[ -n "$(ipc_line shm "$1")" ] || fail "segment $1 is gone"
	ipc_line shm "$3" | awk '{ exit !($3 >= 1000) }' ||
		fail "segment $3 is not back removed: $(ipc_line shm "$3")"
}

# everything gone after snap --kill: made again with ids, keys, content
test_objects_made() {
	local id
	sysvipc_start
	snap_kill_json "$WL_PID"
	for id in $IPC_SHM; do ipcrm -m "$id" 2>/dev/null; done
	ipcrm -s "$IPC_SEM" -q "$IPC_MSG"
	[ -z "$(ipc_line shm "${IPC_SHM%% *}")$(ipc_line sem "$IPC_SEM")" ] ||
		fail "test bug: ipcrm left objects"
	restore_d
	assert_both_tick
	assert_eq "$IPC_KEY" "$(printf '%#x' "$(ipc_line shm "${IPC_SHM%% *}" | awk '{print $1}')")" \
		"key of segment ${IPC_SHM%% *}"
	assert_eq 3 "$(ipc_line msg "$IPC_MSG" | awk '{print $5}')" "messages in queue $IPC_MSG"
	# attached in both processes, at the image's addresses
	assert_eq 2 "$(ipc_line shm "${IPC_SHM%% *}" | awk '{print $7}')" "attachments of A"
}

# the tree's own IPC and UTS namespaces come back new, hostname kept
test_own_namespaces() {
	wl_start_via sysvipc unshare --ipc --uts sh -c "hostname wl-ipc-ns && exec '$WL/sysvipc' 50"
	assert_ticking "$WL_LOG" 3
	[ "$(readlink /proc/$WL_PID/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ] ||
		fail "test bug: the workload shares our IPC namespace"
	snap_kill_json "$WL_PID"
	restore_d
	assert_both_tick
	assert_eq wl-ipc-ns "$(nsenter -t "$WL_PID" -u hostname)" "hostname of the restored tree"
	[ "$(readlink /proc/$WL_PID/ns/ipc)" != "$(readlink /proc/self/ns/ipc)" ] ||
		fail "restored into our IPC namespace"
	[ "$(readlink /proc/$WL_PID/ns/uts)" != "$(readlink /proc/self/ns/uts)" ] ||
		fail "restored into our UTS namespace"
	assert_eq "$(hostname)" "$(uname -n)" "our own hostname"
}

# two restores of one namespaced image would need the same pids: one
# after the other, each in its own namespace, the objects are the image's
test_own_namespace_twice() {
	wl_start_via sysvipc unshare --ipc --uts sh -c "hostname wl-ipc-2 && exec '$WL/sysvipc' 50"
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_d
	assert_both_tick
	kill_session "$WL_PID"
	wait_until 10 "[ ! -d /proc/$WL_PID ]" || fail "the first restore's tree did not die"
	restore_d
	assert_both_tick
	assert_eq wl-ipc-2 "$(nsenter -t "$WL_PID" -u hostname)" "hostname"
}

# an id held by another segment: a clear error naming both, nothing left
test_id_taken() {
	local a other
	sysvipc_start
	snap_kill_json "$WL_PID"
	set -- $IPC_SHM
	a=$1
	ipcrm -m "$a"
	echo "$a" >/proc/sys/kernel/shm_next_id
	other=$(python3 -c '
import ctypes; libc = ctypes.CDLL(None)
print(libc.shmget(0x7e57, 8192, 0o1600))')
	on_exit "ipcrm -m $other 2>/dev/null"
	assert_eq "$a" "$other" "test bug: the intruder's id"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "shm id $a key $IPC_KEY .*its id is held by another object in this IPC namespace: shm id $a key 0x7e57 mode 600"
	assert_no_pids $(image_pids)
	# nothing made: the removed segment C is not there
	[ -z "$(ipc_line shm "$3")" ] || fail "a failed restore left segment $3"
	assert_eq 8192 "$(ipc_line shm "$a" | awk '{print $4}')" "size of the intruder"
}

# a failure after the objects were made removes them again
test_fault_removes() {
	sysvipc_start
	snap_kill_json "$WL_PID"
	set -- $IPC_SHM
	ipcrm -m "$1" -s "$IPC_SEM"
	BPFCKPT_FAULT=restore-final assert_ckpt 1 restore "$T/img" -d
	assert_no_pids $(image_pids)
	[ -z "$(ipc_line shm "$1")$(ipc_line shm "$3")$(ipc_line sem "$IPC_SEM")" ] ||
		fail "a failed restore left objects: $(cat /proc/sysvipc/shm /proc/sysvipc/sem)"
	[ -n "$(ipc_line shm "$2")" ] || fail "the failed restore removed segment $2, which it did not make"
}

# SEM_UNDO adjustments cannot be read: snap says so, the tree runs on
test_sem_undo_refused() {
	wl_start sysvipc 50 undo
	ipc_ids
	assert_ticking "$WL_LOG" 2
	assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "pid $WL_PID: thread $WL_PID did semop with SEM_UNDO: its semaphore adjustments cannot be read"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "SEM_UNDO"
	[ ! -e "$T/img" ] || fail "a refused snap left an image"
	assert_ticking "$WL_LOG" 3 "$WL_PID"
	assert_ckpt 0 inspect "$WL_PID"
	grep -q "SEM_UNDO" "$CKPT_OUT" || fail "inspect does not say why: $(grep -i restor "$CKPT_OUT" | head -n 3)"
}

# a program nobody here wrote: perl's IPC::SysV, a segment and a semaphore
test_perl() {
	cat >"$T/ipc.pl" <<'PL'
use strict; use IPC::SysV qw(IPC_PRIVATE IPC_CREAT S_IRWXU); use IPC::SharedMem; use IPC::Semaphore;
use POSIX qw(setsid); setsid();
my $shm = IPC::SharedMem->new(IPC_PRIVATE, 8192, S_IRWXU) or die "shm: $!";
my $sem = IPC::Semaphore->new(IPC_PRIVATE, 1, S_IRWXU | IPC_CREAT) or die "sem: $!";
$shm->write("hello from perl", 0, 15); $sem->setval(0, 4);
$| = 1; print "ready pid=$$ shm=", $shm->id, " sem=", $sem->id, "\n";
for (my $n = 1; ; $n++) {
	select(undef, undef, undef, 0.05);
	my $s = $shm->read(0, 15);
	my $v = $sem->getval(0);
	if ($s ne "hello from perl" || $v != 4) { print "FAIL: shm '$s' sem $v\n"; exit 1; }
	print "tick $n\n";
}
PL
	wl_start_via perl perl "$T/ipc.pl"
	local shm sem
	shm=$(grep -m1 -oE 'shm=[0-9]+' "$WL_LOG" | cut -d= -f2)
	sem=$(grep -m1 -oE 'sem=[0-9]+' "$WL_LOG" | cut -d= -f2)
	on_exit "ipcrm -m $shm -s $sem 2>/dev/null"
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	ipcrm -m "$shm" -s "$sem"
	restore_d
	assert_ticking "$WL_LOG" 5
	[ -n "$(ipc_line shm "$shm")" ] && [ -n "$(ipc_line sem "$sem")" ] ||
		fail "perl's objects are not back with ids $shm, $sem"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="objects_kept own_namespaces perl"
run_tests "$@"
