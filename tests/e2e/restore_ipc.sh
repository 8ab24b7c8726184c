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

# a removed segment that a process outside the tree also has attached
# outlives snap --kill: restore takes it as it is (Linux lets shmat()
# attach a segment marked for removal) and it stays removed
test_removed_held_outside() {
	local c holder nattch
	sysvipc_start
	set -- $IPC_SHM
	c=$3
	python3 -c '
import ctypes, sys, time; libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
assert libc.shmat(int(sys.argv[1]), None, 0o10000) not in (None, 2**64 - 1)
print("attached", flush=True); time.sleep(600)' "$c" >"$T/holder.log" 2>&1 &
	holder=$!
	on_exit "kill $holder 2>/dev/null"
	wait_for_line "$T/holder.log" '^attached' 10 || fail "the holder did not attach: $(cat "$T/holder.log")"
	nattch=$(ipc_line shm "$c" | awk '{print $7}')
	snap_kill_json "$WL_PID"
	[ -n "$(ipc_line shm "$c")" ] || fail "test bug: segment $c went with the tree"
	restore_d
	assert_both_tick
	ipc_line shm "$c" | awk -v n="$nattch" '{ exit !($3 >= 1000 && $7 == n) }' ||
		fail "segment $c is not the removed one, attached $nattch times: $(ipc_line shm "$c")"
}

# restore makes the removed segment again through shm_next_id: where it
# cannot be written (a read-only bind mount here), snap --kill refuses
test_next_id_needed() {
	sysvipc_start
	set -- $IPC_SHM
	# unshare(1) makes the new mount namespace's propagation private
	cat >"$T/ro-next-id" <<SH
#!/bin/sh
exec unshare -m sh -c 'f=/proc/sys/kernel/shm_next_id; mount --bind \$f \$f &&
	mount -o remount,bind,ro \$f && exec "\$0" "\$@"' "$BPFCKPT" "\$@"
SH
	chmod +x "$T/ro-next-id"
	BPFCKPT=$T/ro-next-id \
		assert_kill_refused "$WL_PID" "pid $WL_PID: shm id $3 was removed \(IPC_RMID\) and goes with its last process: restore makes it again with its id, which needs /proc/sys/kernel/shm_next_id: Read-only file system"
	assert_err "\-\-kill refused"
	assert_both_tick
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

# ---- SEM_UNDO adjustments (collect_sem_undo, ipc_restore_undo) ----

# semundo_start CMD...: the semundo workload, both processes ticking;
# SEM_PID (parent), SEM_KID, SEM_ID
semundo_start() {
	wl_start_via semundo "$@"
	local ready
	ready=$(grep -m1 '^ready pid=' "$WL_LOG")
	SEM_PID=$WL_PID
	SEM_KID=$(sed -E 's/.* child=([0-9]+) .*/\1/' <<<"$ready")
	SEM_ID=$(sed -E 's/.* sem=([0-9]+) .*/\1/' <<<"$ready")
	[ "${NSENTER:-}" ] || on_exit "ipcrm -s $SEM_ID 2>/dev/null"
	assert_ticking "$WL_LOG" 2 "$SEM_KID"
}

# sem_vals ID: the set's values, "a b c" (GETVAL), in our IPC namespace
sem_vals() {
	python3 -c '
import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); i = int(sys.argv[1])
v = [libc.semctl(i, n, 12) for n in range(3)]
print(" ".join(map(str, v)))' "$1"
}

# sem_val0 ID: the first semaphore's value
sem_val0() {
	sem_vals "$1" | cut -d' ' -f1
}

# without collect_sem_undo (BPFCKPT_FALLBACK): refused as it says, tree on
assert_undo_refused() {
	assert_kill_refused "$1" "pid $1: thread $1 did semop with SEM_UNDO, and BPF program collect_sem_undo, which reads the adjustments, is not loaded \(BPFCKPT_FALLBACK\)"
	assert_ticking "$WL_LOG" 2 "$1"
}

# the child dies: the kernel adds its semadj (+1 0 -4); then the parent
# (+2 -3 0): the values say that both came back exactly
assert_exits_apply() {
	local from
	[ "$(sem_vals "$SEM_ID")" = "7 13 4" ] || fail "restored values $(sem_vals "$SEM_ID"), expected 7 13 4"
	from=$(grep -c '^child gone' "$WL_LOG")
	kill -TERM "$SEM_KID"
	wait_until 10 "[ \$(grep -c '^child gone' '$WL_LOG') -gt $from ]" ||
		fail "the parent did not see its child go: $(tail -n 2 "$WL_LOG")"
	assert_ticking "$WL_LOG" 2 "$SEM_PID"
	assert_eq "8 13 0" "$(sem_vals "$SEM_ID")" "values after the child's exit (its semadj 1 0 -4)"
	kill -TERM "$SEM_PID"
	wait_until 10 "[ ! -d /proc/$SEM_PID ]" || fail "the parent did not exit"
	assert_eq "10 10 0" "$(sem_vals "$SEM_ID")" "values after the parent's exit (its semadj 2 -3 0)"
}

# the set stays after snap --kill (exit_sem() added the adjustments):
# taken as it is, each process's semop takes its adjustment back
test_sem_undo_kept() {
	semundo_start "$WL/semundo" 50
	if fallback_forced sem_undo; then
		assert_undo_refused "$SEM_PID"
		return
	fi
	assert_ckpt 0 inspect "$SEM_PID"
	grep -q '\[ipc\]' "$CKPT_OUT" && fail "inspect refuses: $(grep '\[ipc\]' "$CKPT_OUT")"
	snap_kill_json "$SEM_PID"
	assert_ckpt 0 show "$T/img"
	grep -q "^  SEM_UNDO on sem id $SEM_ID: semadj 2 -3 0$" "$CKPT_OUT" ||
		fail "show lacks the parent's adjustments: $(grep -i undo "$CKPT_OUT")"
	grep -q "^  SEM_UNDO on sem id $SEM_ID: semadj 1 0 -4$" "$CKPT_OUT" ||
		fail "show lacks the child's adjustments: $(grep -i undo "$CKPT_OUT")"
	assert_eq "10 10 0" "$(sem_vals "$SEM_ID")" "values once the kill applied the adjustments"
	restore_d
	assert_both_tick
	assert_exits_apply
}

# the set is gone: made again with the snapped values, then the pairs
test_sem_undo_made() {
	semundo_start "$WL/semundo" 50
	fallback_forced sem_undo && return
	snap_kill_json "$SEM_PID"
	ipcrm -s "$SEM_ID"
	restore_d
	assert_both_tick
	assert_exits_apply
}

# in the tree's own IPC namespace: the parent checks 8 13 0 itself
test_sem_undo_own_ns() {
	NSENTER=1 semundo_start unshare --ipc "$WL/semundo" 50
	fallback_forced sem_undo && return
	snap_kill_json "$SEM_PID"
	restore_d
	assert_both_tick
	kill -TERM "$SEM_KID"
	wait_until 10 "grep -q '^child gone' '$WL_LOG'" ||
		fail "the parent did not see its child go: $(tail -n 2 "$WL_LOG")"
	assert_ticking "$WL_LOG" 3 "$SEM_PID"
}

# sysvipc's parent holds -1 on #0 (an up with SEM_UNDO, a down without)
test_sem_undo_sysvipc() {
	wl_start sysvipc 50 undo
	ipc_ids
	assert_ticking "$WL_LOG" 2
	if fallback_forced sem_undo; then
		assert_undo_refused "$WL_PID"
		assert_ckpt 0 inspect "$WL_PID"
		grep -q "SEM_UNDO" "$CKPT_OUT" || fail "inspect does not say why: $(grep -i restor "$CKPT_OUT" | head -n 3)"
		return
	fi
	snap_kill_json "$WL_PID"
	assert_eq "[[{'semid': $IPC_SEM, 'semadj': '-1 0 0'}], []]" \
		"$(json_get "[p['sem_undo'] for p in j['processes']]")" "adjustments in the image"
	restore_d
	assert_both_tick
}

# undo_py MODE [PREFIX...]: python3 (ctypes) with a private set of one
# semaphore, which it checks every tick.  zero: an up and a down, both
# SEM_UNDO: an entry of zeros.  clamp: an up with SEM_UNDO, a down
# without: value 0, semadj -1.  high: 32766, then an up with SEM_UNDO:
# 32767, semadj -1.  wide: +17000 with SEM_UNDO, -1000 without: 16000,
# semadj -17000.  "ready pid=P sem=S"
undo_py() {
	cat >"$T/undo.py" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class sembuf(ctypes.Structure):
	_fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
os.setsid()
sid = libc.semget(0, 1, 0o1600)
assert sid >= 0
U = 0x1000	# SEM_UNDO
start, ops, want = {"zero": (0, ((1, U), (-1, U)), 0), "clamp": (0, ((1, U), (-1, 0)), 0),
		    "high": (32766, ((1, U),), 32767),
		    "wide": (0, ((17000, U), (-1000, 0)), 16000)}[sys.argv[1]]
assert libc.semctl(sid, 0, 16, ctypes.c_int(start)) == 0	# SETVAL
for op, flg in ops:
	assert libc.semop(sid, ctypes.byref(sembuf(0, op, flg)), 1) == 0
print("ready pid=%d sem=%d" % (os.getpid(), sid), flush=True)
n = 0
while True:
	time.sleep(0.05); n += 1
	v = libc.semctl(sid, 0, 12)
	if v != want:
		print("FAIL: value %d, expected %d" % (v, want), flush=True); sys.exit(1)
	print("pid %d tick %d" % (os.getpid(), n), flush=True)
PY
	local mode=$1
	shift
	wl_start_via python3 "$@" python3 "$T/undo.py" "$mode"
	PY_SEM=$(grep -m1 -oE 'sem=[0-9]+' "$WL_LOG" | cut -d= -f2)
	[ $# -gt 0 ] || on_exit "ipcrm -s $PY_SEM 2>/dev/null"
	assert_ticking "$WL_LOG" 2
}

# 32767 with semadj -1, the set made again: +1 with SEM_UNDO first
# would pass SEMVMX, so the decrease goes first; the exit then takes
# the value to 32766
test_sem_undo_high() {
	undo_py high
	fallback_forced sem_undo && return
	snap_kill_json "$WL_PID"
	assert_eq 32766 "$(sem_val0 "$PY_SEM")" "the value once the kill applied semadj -1"
	ipcrm -s "$PY_SEM"
	restore_d
	assert_ticking "$WL_LOG" 3
	kill -TERM "$WL_PID"
	wait_until 10 "[ ! -d /proc/$WL_PID ]" || fail "python did not exit"
	assert_eq 32766 "$(sem_val0 "$PY_SEM")" "the value after the exit (semadj -1)"
}

# 16000 with semadj -17000: either order passes 0 or SEMVMX: refused
test_sem_undo_out_of_range() {
	undo_py wide unshare --ipc
	fallback_forced sem_undo && return
	assert_kill_refused "$WL_PID" "pid $WL_PID: sem id $PY_SEM semaphore 0: value 16000 with a SEM_UNDO adjustment of -17000 cannot be made \(SEMVMX 32767\)"
	assert_ticking "$WL_LOG" 2
	assert_inspect_says "$WL_PID" "\[ipc\] restore: sem id $PY_SEM semaphore 0: value 16000 with a SEM_UNDO adjustment of -17000 cannot be made"
}

# an entry of zeros: BPF reads it, nothing to keep; without BPF only
# "an entry" is known: refused
test_sem_undo_zero() {
	undo_py zero
	if fallback_forced sem_undo; then
		assert_undo_refused "$WL_PID"
		return
	fi
	snap_kill_json "$WL_PID"
	assert_eq "[[]]" "$(json_get "[p['sem_undo'] for p in j['processes']]")" \
		"adjustments in the image"
	restore_d
	assert_ticking "$WL_LOG" 3
}

# BPFCKPT_FALLBACK=sem_undo: a tree with adjustments is refused (snap,
# --kill, inspect), one without them is not
test_sem_undo_fallback() {
	semundo_start "$WL/semundo" 50
	BPFCKPT_FALLBACK=sem_undo assert_undo_refused "$SEM_PID"
	BPFCKPT_FALLBACK=sem_undo assert_ckpt 0 inspect "$SEM_PID"
	grep -q "did semop with SEM_UNDO" "$CKPT_OUT" ||
		fail "inspect does not say why: $(grep -i restor "$CKPT_OUT" | head -n 3)"
	sysvipc_start
	BPFCKPT_FALLBACK=sem_undo assert_ckpt 0 snap "$WL_PID" -o "$T/img"
}

# a thread cloned without CLONE_SYSVSEM has an undo list of its own:
# restore makes threads with CLONE_SYSVSEM, so it is refused
test_sem_undo_thread_own_list() {
	semundo_start "$WL/semundo" 50 thread
	if fallback_forced sem_undo; then
		assert_undo_refused "$SEM_PID"
		return
	fi
	local tid
	tid=$(ls /proc/$SEM_PID/task | grep -vx "$SEM_PID")
	assert_kill_refused "$SEM_PID" "^bpfckpt: snap: pid $SEM_PID: thread $tid has a SEM_UNDO list of its own \(cloned without CLONE_SYSVSEM\): not supported$"
	assert_ticking "$WL_LOG" 2 "$SEM_PID"
	assert_inspect_says "$SEM_PID" "^  pid $SEM_PID \[ipc\] snap: thread $tid has a SEM_UNDO list of its own"
}

# more undo entries than collect_sem_undo's bound (8192 steps): refused,
# saying so; in a private IPC namespace, which goes with the process
test_sem_undo_too_many() {
	cat >"$T/many.py" <<'PY'
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
class sembuf(ctypes.Structure):
	_fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
os.setsid()
up = sembuf(0, 1, 0x1000)	# SEM_UNDO
for i in range(8200):
	sid = libc.semget(0, 1, 0o1600)
	assert sid >= 0 and libc.semop(sid, ctypes.byref(up), 1) == 0
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
	time.sleep(0.05); n += 1
	print("pid %d tick %d" % (os.getpid(), n), flush=True)
PY
	wl_start_via python3 unshare --ipc python3 "$T/many.py"
	assert_ticking "$WL_LOG" 2
	if fallback_forced sem_undo; then
		assert_undo_refused "$WL_PID"
		return
	fi
	assert_kill_refused "$WL_PID" "^bpfckpt: snap: pid $WL_PID: SEM_UNDO adjustments on more semaphores than the walk reads \(8192 steps, one per 64 semaphores of a set\): not supported$"
	assert_ticking "$WL_LOG" 2 "$WL_PID"
	assert_inspect_says "$WL_PID" "\[ipc\] snap: SEM_UNDO adjustments on more semaphores than the walk reads"
}

# semadj -1 on a value 0: the kill's exit_sem() clamps 0 - 1 to 0, so
# no restore could give the value back: snap --kill refuses it
test_sem_undo_clamped() {
	undo_py clamp
	if fallback_forced sem_undo; then
		assert_undo_refused "$WL_PID"
		return
	fi
	assert_kill_refused "$WL_PID" "pid $WL_PID: sem id $PY_SEM semaphore 0: value 0, and the tree's SEM_UNDO adjustments take it to -1..0 when its processes exit; the kernel clamps that to 0..32767"
	assert_err "\-\-kill refused"
	assert_ticking "$WL_LOG" 2
	assert_inspect_says "$WL_PID" "\[ipc\] restore: sem id $PY_SEM semaphore 0: value 0, and the tree's SEM_UNDO adjustments take it to -1..0"
}

# a POSIX message queue (python3 through librt's mq_open) is refused
# clearly by snap, inspect and snap --kill: its messages could only be
# read by taking them off the queue; the program runs on, no image
test_posix_mqueue_refused() {
	local name=/bpfckpt-test-mq-$$
	cat >"$T/mq.py" <<PY
import ctypes, os, sys, time
rt = ctypes.CDLL("librt.so.1", use_errno=True)
fd = rt.mq_open(b"$name", os.O_CREAT | os.O_RDWR, 0o600, None)
if fd < 0:
    print("FAIL: mq_open: " + os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
os.setsid()
print("ready pid=%d fd=%d" % (os.getpid(), fd), flush=True)
n = 0
while True:
    n += 1
    print("tick %d" % n, flush=True)
    time.sleep(0.05)
PY
	on_exit "python3 -c 'import ctypes; ctypes.CDLL(\"librt.so.1\").mq_unlink(b\"$name\")'"
	wl_start_via mq python3 "$T/mq.py"
	assert_ticking "$WL_LOG" 2
	mkdir "$T/out"
	local fd args
	fd=$(grep -m1 -oE 'fd=[0-9]+' "$WL_LOG" | cut -d= -f2)
	for args in "" "--kill"; do
		assert_ckpt 1 snap "$WL_PID" -o "$T/out/img" $args
		assert_err "fd $fd is the POSIX message queue $name: restoring message queues is not supported"
		assert_untouched "$T/out"
	done
	assert_inspect_says "$WL_PID" "fd $fd is the POSIX message queue $name"
	assert_ticking "$WL_LOG" 2
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
FALLBACK_CASES="objects_kept own_namespaces perl sem_undo_kept removed_held_outside"
run_tests "$@"
