#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pre-copy: snap --pre copies memory while the tree runs and leaves its
# writes tracked (userfaultfd WP_ASYNC + PAGEMAP_SCAN); snap --parent
# stores only what was written since and takes the rest from its parent.
# Rounds are chained; restore (eager and --lazy) reads through the chain;
# show shows it; a parent that does not match is refused.
. "$(dirname "$0")/../lib.sh"

# the keepers of pre-copy tracking listening now (abstract unix sockets
# named after their snap ids), one per line
keepers() {
	grep -o '@bpfckpt-pre-[0-9a-f]*' /proc/net/unix | sort -u
	return 0
}

# the keepers that run now and did not in $1 (keepers' output before):
# one of an earlier case may end meanwhile, which is no new one
new_keepers() {
	comm -13 <(echo "$1") <(keepers) | grep .
	return 0
}

# the snap id of image $1, from show --json
snap_id() {
	"$BPFCKPT" show --json "$1" | python3 -c "import json, sys; print('%016x' % json.load(sys.stdin)['header']['chain'][0]['id'])"
}

# a running heap: pre, two more rounds, a final --kill round; restored
# through the chain of four, its checksums hold
test_rounds_then_restore() {
	wl_start heap 64 20
	assert_ticking "$WL_LOG" 3
	# before any tracking: its VMAs show userfaultfd-wp ("uw") while armed
	deep_capture "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre1.img"
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre --parent "$T/pre1.img" -o "$T/pre2.img"
	grep -q "left to it" "$CKPT_OUT" || fail "round 2 stored every page again: $(cat "$CKPT_OUT")"
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre --parent "$T/pre2.img" -o "$T/pre3.img"
	assert_ticking "$WL_LOG" 3
	# the last round of a stopped tree: the chain of four is its memory
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre3.img" -o "$T/img"
	grep -q "left to it" "$CKPT_OUT" || fail "the last round inherits nothing: $(cat "$CKPT_OUT")"
	pagecmp_tree "$WL_PID"
	kill_session "$WL_PID"
	assert_no_pids "$WL_PID"
	[ "$(stat -c %s "$T/img")" -lt $(( $(stat -c %s "$T/pre1.img") / 4 )) ] ||
		fail "the last image ($(stat -c %s "$T/img") bytes) is not much smaller than the first ($(stat -c %s "$T/pre1.img"))"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	pagecmp_image
	restored_matches --running
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a failed --pre leaves the tree as it was: no image, no userfaultfd in
# it, no VMA write-protected, no keeper
test_failed_pre_leaves_nothing() {
	local before
	mkdir "$T/img"
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	before=$(keepers)
	for point in pre-track snap-write snap-commit; do
		BPFCKPT_FAULT=$point assert_ckpt 1 snap "$WL_PID" --pre -o "$T/img/pre.img"
		assert_alive "$WL_PID"
		[ -e "$T/img/pre.img" ] && fail "$point: a failed --pre left its image"
		ls -l /proc/$WL_PID/fd | grep -q userfaultfd && fail "$point: the tree holds a userfaultfd"
		grep -q '^VmFlags:.* uw' /proc/$WL_PID/smaps && fail "$point: VMAs are still write-protected"
		[ -z "$(new_keepers "$before")" ] || fail "$point: a keeper runs: $(new_keepers "$before")"
		assert_ticking "$WL_LOG" 2
	done
}

# a stopped tree: what is restored through the chain equals its memory
test_chain_pages_equal() {
	wl_start heap 32 20
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_ticking "$WL_LOG" 5
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img"
	pagecmp_tree "$WL_PID"
	kill_session "$WL_PID"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	pagecmp_image
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# restore --lazy through the chain, faults only, then the pull
test_chain_lazy() {
	wl_start heap 32 20
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img" --compress
	assert_ticking "$WL_LOG" 5
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img" --kill
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	BPFCKPT_FAULT=lazy-no-pull assert_ckpt 0 restore "$T/img" -d --lazy
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" --vm >"$T/pagecmp" 2>&1 ||
		fail "restored memory differs from the chain: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
	kill_session "$WL_PID"
	assert_no_pids "$WL_PID"
	# the tree was stopped when snapped: it comes back stopped
	restore_d --lazy
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a job-stopped tree stays stopped through both rounds (the injected
# userfaultfd() resumes its leader for a moment under ptrace)
test_stopped_tree() {
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_stopped_tree "$WL_PID"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img"
	assert_stopped_tree "$WL_PID"
	pagecmp_tree "$WL_PID"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# four processes, each tracked with its own userfaultfd, restored
# through the chain, each ticking on
test_forktree_rounds() {
	local p
	forktree_start 50
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	for p in $(session_pids "$WL_PID"); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img" --kill
	grep -q "left to it" "$CKPT_OUT" || fail "nothing inherited: $(cat "$CKPT_OUT")"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
}

# show names the chain, text and JSON
test_show_chain() {
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img"
	assert_ckpt 0 show "$T/img"
	grep -q "parent pre.img" "$CKPT_OUT" || fail "show does not name the parent: $(head -n 5 "$CKPT_OUT")"
	assert_ckpt 0 show --json "$T/img"
	[ "$(python3 -c "import json; j = json.load(open('$CKPT_OUT')); print(j['header']['chain'][0]['parent'])")" = pre.img ] ||
		fail "show --json: no chain: $(head -c 300 "$CKPT_OUT")"
	assert_ckpt 0 show "$T/pre.img"
	grep -q "a pre-copy image: .*not restorable alone" "$CKPT_OUT" || fail "show does not say pre.img is a pre-copy image: $(head -n 3 "$CKPT_OUT")"
}

# refused: a pre-copy image alone, a parent of another tree, a parent
# used twice, a parent changed since, a parent not taken with --pre
test_parent_refused() {
	local other
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	other=$WL_PID
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	assert_ckpt 0 snap "$other" --pre -o "$T/other.img"
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_ckpt 1 snap "$WL_PID" --parent "$T/other.img" -o "$T/x.img"
	assert_err "another tree"
	[ -e "$T/x.img" ] && fail "a refused snap left an image"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/next.img" --pre
	assert_ckpt 1 snap "$WL_PID" --parent "$T/pre.img" -o "$T/x.img"
	assert_err "tracking is gone"
	assert_ckpt 0 snap "$other" -o "$T/plain.img"
	assert_ckpt 1 snap "$other" --parent "$T/plain.img" -o "$T/x.img"
	assert_err "not a pre-copy image"
	assert_alive "$WL_PID"
	assert_alive "$other"
	assert_ckpt 1 restore "$T/pre.img" -d
	assert_err "pre-copy image"
	# a final image whose parent changed since: refused at restore
	assert_ckpt 0 snap "$WL_PID" --parent "$T/next.img" -o "$T/img" --kill
	cp "$T/next.img" "$T/next.keep"
	printf '\xa5' | dd of="$T/next.img" bs=1 seek=300 conv=notrunc status=none
	assert_ckpt 1 restore "$T/img" -d
	assert_err "parent"
	assert_no_pids "$WL_PID"
	cp "$T/pre.img" "$T/next.img"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "not the image this one was snapped against"
	assert_no_pids "$WL_PID"
	cp "$T/next.keep" "$T/next.img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	assert_ticking "$WL_LOG" 3
}

# the image names of --dirty-max's rounds that exist, on one line
rounds_of() {
	ls "$1".r* 2>/dev/null | paste -sd' '
	return 0
}

# --dirty-max: a tree writing 25 MiB/s, stopped once written to: one
# round copies what it wrote since pre.img, the final round only what
# follows (nothing); the chain of three is its memory, restored
test_dirty_round_stopped() {
	wl_start heap 32 10 64
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_ticking "$WL_LOG" 5
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img" --dirty-max 4096
	grep -q "1 pre-copy round first ($T/img.r1)" "$CKPT_OUT" ||
		fail "no round before the final one: $(cat "$CKPT_OUT")"
	assert_eq "$T/img.r1" "$(rounds_of "$T/img")" "the rounds' images"
	grep -q "not written since $T/img.r1" "$CKPT_OUT" ||
		fail "the final round does not inherit from the round: $(cat "$CKPT_OUT")"
	assert_ckpt 0 show --json "$T/img"
	[ "$(python3 -c "import json; j = json.load(open('$CKPT_OUT')); print(j['header']['chain'][0]['parent'])")" = img.r1 ] ||
		fail "show --json: the parent is not img.r1: $(head -c 300 "$CKPT_OUT")"
	cp "$CKPT_OUT" "$T/image.json"
	pagecmp_tree "$WL_PID"
	kill_session "$WL_PID"
	assert_no_pids "$WL_PID"
	restore_d
	pagecmp_image
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 30
}

# --dirty-max: a tree that keeps writing never gets below one page:
# three rounds, then the final one, --kill; restored, the heap checks
# its every page again and again
test_dirty_rounds_running() {
	wl_start heap 32 10 64
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	assert_ticking "$WL_LOG" 5
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img" --dirty-max 4096 --kill
	grep -q "3 pre-copy rounds first" "$CKPT_OUT" || fail "not three rounds: $(cat "$CKPT_OUT")"
	assert_eq "$T/img.r1 $T/img.r2 $T/img.r3" "$(rounds_of "$T/img")" "the rounds' images"
	assert_no_pids "$WL_PID"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	assert_ticking "$WL_LOG" 30
}

# a failed round, or a final round failing after them: no image, no
# round's image, the tracking ended (no keeper, no VMA write-protected)
test_dirty_rounds_failed() {
	local before point
	wl_start heap 16 10 64
	assert_ticking "$WL_LOG" 2
	before=$(keepers)
	for point in snap-commit snap-rounds; do
		assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
		BPFCKPT_FAULT=$point assert_ckpt 1 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img" \
			--dirty-max 4096
		assert_err "fault injected at '$point'"
		assert_alive "$WL_PID"
		[ -e "$T/img" ] && fail "$point: a failed snap left its image"
		[ -z "$(rounds_of "$T/img")" ] || fail "$point: a failed snap left $(rounds_of "$T/img")"
		wait_until 10 "[ -z \"\$(new_keepers '$before')\" ]" ||
			fail "$point: a keeper runs: $(new_keepers "$before")"
		wait_until 10 "! grep -q '^VmFlags:.* uw' /proc/$WL_PID/smaps" ||
			fail "$point: VMAs are still write-protected"
		assert_ticking "$WL_LOG" 2
		rm -f "$T/pre.img"
	done
}

# pages emptied since the parent (MADV_DONTNEED of a page, of a page
# table's worth, of a huge page) are not taken from the parent: the
# chain reads zero there, as the tree does, before and after restore
test_zapped_since_parent() {
	wl_start zapper 20
	assert_ticking "$WL_LOG" 2
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	kill -USR1 "$WL_PID"
	wait_until 10 "grep -q '^zapped' '$WL_LOG'" || fail "the workload did not empty its pages"
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre.img" -o "$T/img"
	grep -q "left to it" "$CKPT_OUT" || fail "nothing inherited: $(cat "$CKPT_OUT")"
	pagecmp_tree "$WL_PID"
	kill_session "$WL_PID"
	assert_no_pids "$WL_PID"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	pagecmp_image
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a guard region (advice: MADV_GUARD_INSTALL in the middle of a mapping)
# through two tracked rounds (the second re-protects what was written:
# the guard then no longer reads as written) and the last: it is in the
# final image, restored, and the workload finds it still traps
test_guards_through_rounds() {
	wl_start advice 50
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre1.img"
	assert_ckpt 0 snap "$WL_PID" --pre --parent "$T/pre1.img" -o "$T/pre2.img"
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" --parent "$T/pre2.img" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	kill_session "$WL_PID"
	assert_no_pids "$WL_PID"
	restore_d
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# the keeper goes when its tree does
test_keeper_ends_with_tree() {
	wl_start heap 16 20
	assert_ticking "$WL_LOG" 2
	local id
	assert_ckpt 0 snap "$WL_PID" --pre -o "$T/pre.img"
	id=$(snap_id "$T/pre.img")
	keepers | grep -q "$id" || fail "no keeper listens for snap $id after snap --pre: $(keepers)"
	kill_session "$WL_PID"
	wait_until 10 "! keepers | grep -q $id" || fail "the keeper of snap $id outlived its tree"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="rounds_then_restore forktree_rounds zapped_since_parent dirty_rounds_running guards_through_rounds"
run_tests "$@"
