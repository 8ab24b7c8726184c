#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# restore --lazy: the tree runs at once and its private anonymous memory
# comes through userfaultfd, from a pager that serves faults and pulls
# the rest.  BPFCKPT_FAULT=lazy-no-pull turns the pull off, so that the
# workload meets pages nobody has served yet: every one it (or the kernel
# for it, or another process) touches must come from a fault, never as
# zeros.
. "$(dirname "$0")/../lib.sh"

# the pager's pid, from restore's summary
pager_pid() {
	awk '/^lazy pager pid [0-9]+:/ { sub(":", "", $4); print $4 }' "$CKPT_OUT"
}

pager_gone() {
	[ ! -d "/proc/$1" ] || [ "$(proc_state "$1")" = Z ]
}

# no process of the image holds a userfaultfd any more
no_uffd_left() {
	local p
	for p in $(image_pids); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q userfaultfd && return 1
	done
	return 0
}

# restore_lazy [ARGS...]: restore -d --lazy; $PAGER is the pager's pid
restore_lazy() {
	# not restore_d: a child lazymix forked for a moment may be in the
	# image, and be done and gone by the time restore returns
	assert_ckpt 0 restore "$T/img" -d --lazy "$@"
	grep -qE "^restored pid [0-9]+: " "$CKPT_OUT" || fail "no summary line: $(cat "$CKPT_OUT")"
	assert_alive "$WL_PID"
	PAGER=$(pager_pid)
	[ -n "$PAGER" ] || fail "no 'lazy pager pid' line: $(cat "$CKPT_OUT")"
}

# nothing the pager said of pages it could not serve
assert_all_served() {
	grep -q "not served" "$CKPT_ERR" && fail "pager: $(grep -m1 'not served' "$CKPT_ERR")"
	return 0
}

# assert_pager_ends WHAT: the pager goes within 10 s of WHAT happened
assert_pager_ends() {
	wait_until 10 "pager_gone $PAGER" || fail "the pager outlived $1"
}

# lazymix_snapped PAGES: lazymix of PAGES pages a window, ticking, snapped
lazymix_snapped() {
	wl_start lazymix "$1" 10
	assert_ticking "$WL_LOG" 2
	snap_kill_json "$WL_PID"
}

# the pager ends by itself once every page is in, and takes its
# userfaultfds with it, those the restored processes held too
wait_pager_done() {
	wait_until 60 "pager_gone $PAGER" || fail "the pager (pid $PAGER) still runs after 60 s"
	no_uffd_left || fail "a restored process still holds a userfaultfd after the pager ended"
	assert_all_served
}

# a stopped heap: the whole memory equals the image, pulled by the pager
test_heap() {
	wl_start heap 64 50
	assert_ticking "$WL_LOG" 3
	snap_kill_stopped "$WL_PID"
	restore_lazy
	wait_pager_done
	restored_matches
	pagecmp_image
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# nothing pulled: another process reading the memory with
# process_vm_readv (pagecmp --vm) gets each page from a fault, then the
# heap, which checks all of itself every few ticks, goes on.  ps and
# pgrep see the command line (/proc/PID/cmdline cannot wait for a
# fault: its pages are served before the tree runs).
test_heap_faults_only() {
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	snap_kill_stopped "$WL_PID"
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	assert_eq "$WL/heap 32 50" "$(tr '\0' ' ' </proc/$WL_PID/cmdline | sed 's/ $//')" "cmdline"
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" --vm >"$T/pagecmp" 2>&1 ||
		fail "restored memory differs from the image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 10
	# the pager stays while pages are missing, and goes with the tree
	pager_gone "$PAGER" && fail "the pager ended with pages still missing"
	kill -9 "$WL_PID"
	assert_pager_ends "its tree"
}

test_threads_running() {
	wl_start threads 4 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_lazy
	assert_ticking "$WL_LOG" 5
	wait_pager_done
	restored_matches --running
	assert_eq 5 "$(ls /proc/$WL_PID/task | wc -l)" "threads after restore"
}

# four processes, one userfaultfd each
test_forktree() {
	local p
	forktree_start
	snap_kill_json "$WL_PID"
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
	kill -9 $(image_pids)
	assert_pager_ends "its tree"
	forktree_start
	snap_kill_json "$WL_PID"
	restore_lazy
	wait_pager_done
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

# lazymix meets unserved pages in every way it can: 4 threads at once,
# mremap, MADV_DONTNEED, munmap, pread/pwrite, fork, mprotect, THP; 64
# windows of 8 pages, so 70 ticks pass each window at least once
test_lazymix_faults_only() {
	lazymix_snapped 512
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	assert_ticking "$WL_LOG" 70
	assert_all_served
}

test_lazymix() {
	lazymix_snapped 2048
	restore_lazy
	assert_ticking "$WL_LOG" 10
	wait_pager_done
	assert_ticking "$WL_LOG" 5
}

# exec while pages are missing: the old mm goes, the pager with it
test_exec() {
	lazymix_snapped 512
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	assert_ticking "$WL_LOG" 3
	kill -USR1 "$WL_PID"
	wait_until 10 "[ \"\$(cat /proc/$WL_PID/comm 2>/dev/null)\" = sleep ]" ||
		fail "lazymix did not exec sleep: $(cat /proc/$WL_PID/comm 2>/dev/null)"
	assert_pager_ends "the exec"
	assert_all_served
}

# a dead pager leaves faults waiting, never zeros: the tree holds its
# own userfaultfds, and the kernel zero-fills only once all are closed
# the threads of the session of @1 that wait for a page (or for an event
# of theirs to be read): there is one once the pager is gone
waiting_threads() {
	local p
	for p in $(session_pids "$1"); do
		grep -lE 'handle_userfault|userfaultfd_event_wait' /proc/$p/task/*/wchan 2>/dev/null
	done
}

# the pager killed: no page reads as zero, in the tree or in a child it
# forked since (whose userfaultfd only the pager, and its keeper, hold);
# they wait, and the keeper says who does
test_pager_killed() {
	lazymix_snapped 512
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	assert_ticking "$WL_LOG" 2
	kill -9 "$PAGER"
	wait_until 10 "[ -n \"\$(waiting_threads $WL_PID)\" ]" ||
		fail "no thread of lazymix or its children waits for a page after the pager died: $(cat /proc/$WL_PID/task/*/wchan 2>&1 | paste -sd,), $(tail -n 2 "$WL_LOG" | paste -sd,)"
	sleep 1
	grep -m1 '^FAIL' "$WL_LOG" && fail "lazymix read wrong memory after the pager died: $(grep -m1 '^FAIL' "$WL_LOG")"
	assert_alive "$WL_PID"
	wait_until 10 "grep -q 'the lazy pager (pid $PAGER) died' '$CKPT_ERR'" ||
		fail "nothing says the pager died: $(tail -n 3 "$CKPT_ERR")"
	grep -q "wait for them instead of reading zeros: kill" "$CKPT_ERR" ||
		fail "the keeper does not say who waits: $(tail -n 2 "$CKPT_ERR")"
	# the keeper ends once the tree is gone
	kill -9 $(session_pids "$WL_PID")
	wait_until 10 "! pgrep -f 'restore $T/img' >/dev/null" ||
		fail "a bpfckpt restore (keeper?) is left after the tree was killed: $(pgrep -af "restore $T/img")"
}

# a child forked after the restore, before the pager dies, reads lazy
# pages after: they must wait for a pager, not read zeros (the fork's
# userfaultfd is the pager's alone: the keeper keeps it open)
test_pager_killed_fork() {
	wl_start_via py python3 -c 'import os, sys, time, hashlib
os.setsid()
data = bytearray(os.urandom(1 << 16)) * 256      # 16 MiB, known sum
want = hashlib.sha256(data).hexdigest()
print("ready pid=%d" % os.getpid(), flush=True)
while not os.path.exists("go"):
    time.sleep(0.01)
pid = os.fork()
if pid == 0:
    while not os.path.exists("read"):
        time.sleep(0.01)
    got = hashlib.sha256(data).hexdigest()
    print("child read %s" % ("ok" if got == want else "ZEROS or wrong data"), flush=True)
    os._exit(0)
print("forked %d" % pid, flush=True)
while True:
    time.sleep(0.1)
    print("tick", flush=True)
'
	snap_kill_json "$WL_PID"
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	touch go
	wait_for_line "$WL_LOG" '^forked' 20 || fail "python did not fork: $(tail -n 3 "$WL_LOG")"
	kill -9 "$PAGER"
	wait_until 10 "pager_gone $PAGER" || fail "the pager does not die"
	touch read
	sleep 1
	grep -q 'ZEROS' "$WL_LOG" && fail "a child forked after the lazy restore read zeros once the pager died"
	grep -q 'child read ok' "$WL_LOG" && fail "the child read its pages without a pager (were they all in?)"
	[ -n "$(waiting_threads "$WL_PID")" ] || fail "the child does not wait for its pages (it read zeros?): $(grep -v tick "$WL_LOG" | paste -sd,)"
	kill -9 $(session_pids "$WL_PID")
	wait_until 10 "! pgrep -f 'restore $T/img' >/dev/null" ||
		fail "a bpfckpt restore (keeper?) is left after the tree was killed: $(pgrep -af "restore $T/img")"
}

# page data corrupted after the snap: the checksum of its piece fails
# before anything of it is served, and the tree is killed, not fed it
test_corrupted_pages() {
	local off
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	"$TOOLS/imgedit" "$T/img" list >"$T/records" || fail "imgedit list failed"
	# the page data follows its pages record, page-aligned, up to the
	# next record: a byte in the middle of the biggest one (the heap's)
	off=$(python3 -c "
import sys
recs = [(int(l.split()[1], 16), l.split()[2], int(l.split()[3])) for l in open(sys.argv[1])]
gaps = [(n[0] - (o + ln), o + ln) for (o, t, ln), n in zip(recs, recs[1:]) if t == 'pages']
g, at = max(gaps)
print(at + g // 2)" "$T/records")
	[ -n "$off" ] || fail "no pages record: $(head -n 20 "$T/records")"
	python3 -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek($off); b = f.read(1); f.seek($off); f.write(bytes([b[0] ^ 0xff]))" "$T/img"
	# the pager may meet the bad piece, and kill the tree, at once
	assert_ckpt 0 restore "$T/img" -d --lazy
	PAGER=$(pager_pid)
	[ -n "$PAGER" ] || fail "no 'lazy pager pid' line: $(cat "$CKPT_OUT")"
	wait_until 30 "[ ! -d /proc/$WL_PID ] || [ \"\$(proc_state $WL_PID)\" = Z ]" ||
		fail "the tree runs on with corrupted page data"
	wait_until 10 "grep -q 'page data is corrupted' '$CKPT_ERR'" ||
		fail "no message about the corrupted page data: $(tail -n 3 "$CKPT_ERR")"
	assert_pager_ends "its tree"
}

# /proc/PID/mem cannot wait for a userfault (the kernel's remote access
# faults without FAULT_FLAG_ALLOW_RETRY, which handle_userfault()
# answers with SIGBUS, read(2) with EIO): a page not served yet is an
# error there, never zeros; once served (here by process_vm_readv,
# which waits), /proc/PID/mem reads it as it was
test_proc_mem() {
	local bad unreadable
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	snap_kill_stopped "$WL_PID"
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" >"$T/pagecmp" 2>&1 &&
		fail "/proc/PID/mem read every page before the pager served them: $(tail -n 1 "$T/pagecmp")"
	# every page that is not as it was is a read error, none other bytes
	read -r bad unreadable < <(sed -n 's/.* \([0-9]*\) differ (\([0-9]*\) unreadable)$/\1 \2/p' "$T/pagecmp")
	[ -n "$bad" ] && [ "$bad" -gt 0 ] ||
		fail "no unserved page was unreadable through /proc/PID/mem: $(tail -n 1 "$T/pagecmp")"
	assert_eq "$bad" "$unreadable" "pages that differ through /proc/PID/mem, all unreadable (not zeros)"
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" --vm >"$T/pagecmp" 2>&1 ||
		fail "process_vm_readv: restored memory differs from the image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" >"$T/pagecmp" 2>&1 ||
		fail "/proc/PID/mem of served pages differs from the image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# the tree exits (SIGTERM) while the pull goes on: the pager ends with
# it, with nothing to say but its summary, and it had not pulled all
test_exit_during_pull() {
	local copied
	wl_start heap 512 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	assert_ckpt 0 -v restore "$T/img" -d --lazy
	kill -TERM "$WL_PID"
	PAGER=$(pager_pid)
	[ -n "$PAGER" ] || fail "no 'lazy pager pid' line: $(cat "$CKPT_OUT")"
	assert_pager_ends "the exit of its tree"
	wait_until 10 "grep -q 'lazy pager: .* faults' '$CKPT_ERR'" ||
		fail "no pager summary: $(tail -n 3 "$CKPT_ERR")"
	copied=$(sed -n 's/.*), \([0-9]*\) pages copied.*/\1/p' "$CKPT_ERR")
	[ -n "$copied" ] && [ "$copied" -lt 131072 ] ||
		fail "the pager pulled $copied pages of 512 MiB before the exit (was it mid-pull?)"
	grep -vE 'lazy pager: .* faults|times:' "$CKPT_ERR" | grep -q . &&
		fail "restore said more than its summary: $(grep -vE 'faults|times:' "$CKPT_ERR" | head -n 2 | paste -sd';')"
	assert_all_served
}

# a kernel without userfaultfd, or without the events --lazy follows,
# is refused before anything is made: a seccomp filter answers
# userfaultfd(2) with ENOSYS, or its UFFDIO_API with EINVAL as a kernel
# does for features it lacks (fs/userfaultfd.c: features outside
# UFFD_API_FEATURES)
test_uffd_refused() {
	local how
	wl_start heap 8 50
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	for how in syscall api; do
		printf '#!/bin/sh\nexec python3 %s %s %s "$@"\n' "$TESTS_DIR/tools/nouffd.py" "$how" \
			"$BPFCKPT" >"$T/nouffd"
		chmod +x "$T/nouffd"
		BPFCKPT=$T/nouffd assert_ckpt 1 restore "$T/img" -d --lazy
		case $how in
		syscall) assert_err "^bpfckpt: restore: --lazy: userfaultfd: Function not implemented" ;;
		api) assert_err "^bpfckpt: restore: --lazy: this kernel's userfaultfd lacks the fork, remap, remove and unmap events .*: Invalid argument" ;;
		esac
		assert_eq 1 "$(wc -l <"$CKPT_ERR")" "lines of error message"
		assert_no_pids "$WL_PID"
		# check names the feature restore --lazy needs
		BPFCKPT=$T/nouffd assert_ckpt 0 check
		grep -qE '^uffd_lazy +NO ' "$CKPT_OUT" ||
			fail "check does not say uffd_lazy is missing ($how): $(grep uffd "$CKPT_OUT" | paste -sd';')"
	done
	assert_ckpt 0 check
	grep -qE '^uffd_lazy +yes ' "$CKPT_OUT" ||
		fail "check does not list uffd_lazy: $(grep uffd "$CKPT_OUT" | paste -sd';')"
	restore_lazy
	assert_ticking "$WL_LOG" 3
}

# a byte of the image's index changed after the snap (one the loader
# cannot tell from a right one: the snapped host's name): restore --lazy
# computes the checksum while it rebuilds the tree (it reads 8 bytes a
# page), so it finds out after the processes exist: they are killed
# before they run, and nothing is left
test_checksum_deferred() {
	local lines p
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	python3 - "$T/img" "$(uname -n)" <<'PY' || fail "no host name in the image's header"
import sys
f = open(sys.argv[1], "r+b")
head = f.read(4096)
at = head.find(sys.argv[2].encode() + b"\0")
if at < 0:
    sys.exit(1)
f.seek(at)
f.write(bytes([head[at] ^ 0x20]))
PY
	lines=$(wc -l <"$WL_LOG")
	assert_ckpt 1 restore "$T/img" -d --lazy
	assert_err "checksum mismatch .*corrupted"
	assert_eq 1 "$(wc -l <"$CKPT_ERR")" "lines of error message"
	for p in $(image_pids); do
		assert_no_pids "$p"
	done
	sleep 0.3
	assert_eq "$lines" "$(wc -l <"$WL_LOG")" "lines of the heap's log (it ran?)"
	pgrep -f "restore $T/img" >/dev/null &&
		fail "a bpfckpt restore (pager?) is left after the refused restore: $(pgrep -af "restore $T/img")"
	return 0
}

# the image deleted once the tree runs: the pager has it mapped
test_image_deleted() {
	wl_start heap 32 20
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_lazy
	rm -f "$T/img"
	assert_ticking "$WL_LOG" 5
	wait_pager_done
	assert_ticking "$WL_LOG" 5
}

# a program nobody here wrote
test_python() {
	cat >"$T/loop.py" <<'EOF'
import os, time, zlib
data = [i * 7919 % 1000003 for i in range(300000)]
want = zlib.crc32(repr(data).encode())
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    if zlib.crc32(repr(data).encode()) != want:
        print("FAIL: tick %d: list changed" % n, flush=True)
        raise SystemExit(1)
    print("tick %d" % n, flush=True)
    time.sleep(0.05)
EOF
	WL_FAIL_RE='^FAIL|Error' wl_start_via python setsid python3 "$T/loop.py"
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	BPFCKPT_FAULT=lazy-no-pull restore_lazy
	assert_ticking "$WL_LOG" 5
	kill -9 "$WL_PID"
	assert_pager_ends "its tree"
	wl_start_via python setsid python3 "$T/loop.py"
	snap_kill_json "$WL_PID"
	restore_lazy
	wait_pager_done
	assert_ticking "$WL_LOG" 5
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="heap forktree lazymix python"
run_tests "$@"
