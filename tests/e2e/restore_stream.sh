#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Streamed images (snap -o -, restore -) and zstd compression
# (snap --compress): the tree comes back through a pipe or a socket, from
# a compressed file, lazily; a damaged or truncated stream is refused
# before anything of the tree runs; a reader that goes away fails the
# snap and leaves the tree running.
. "$(dirname "$0")/../lib.sh"

# stream SNAP_ARGS RESTORE_ARGS: snap -o - | tee $T/img | restore -;
# SNAP_RC and RESTORE_RC, messages in $T/snap.err and $T/restore.err
stream() {
	local rcs
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap $1 -o - 2>"$T/snap.err" |
		tee "$T/img" |
		timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" restore - $2 >"$T/restore.out" 2>"$T/restore.err"
	rcs=("${PIPESTATUS[@]}")
	SNAP_RC=${rcs[0]}
	RESTORE_RC=${rcs[2]}
	{ echo "+ snap $1 -o - -> $SNAP_RC | restore - $2 -> $RESTORE_RC"
	  sed 's/^/  /' "$T/snap.err" "$T/restore.err" "$T/restore.out"; } >&2
}

# the streamed round trip went through, and the image's pids are back
assert_streamed() {
	[ "$SNAP_RC" = 0 ] || fail "snap -o - exited $SNAP_RC: $(head -c 300 "$T/snap.err")"
	[ "$RESTORE_RC" = 0 ] || fail "restore - exited $RESTORE_RC: $(head -c 300 "$T/restore.err")"
	grep -qE "^pid [0-9]+: .* -> - " "$T/snap.err" ||
		fail "snap -o - printed no summary on stderr: $(head -c 200 "$T/snap.err")"
	grep -qE "^restored pid [0-9]+: " "$T/restore.out" ||
		fail "no restore summary: $(cat "$T/restore.out")"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	local p
	for p in $(image_pids); do
		[ -d "/proc/$p" ] || fail "pid $p of the image is not back after restore -"
	done
}

# a stopped heap through a pipe: memory equal to the image, then it goes on
test_pipe_round_trip() {
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	stop_tree "$WL_PID"
	deep_capture "$WL_PID"
	stream "$WL_PID --kill" "-d"
	assert_streamed
	restored_matches
	pagecmp_image
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# --compress on a stream, a tree of four processes, running throughout
test_compressed_pipe() {
	local p
	forktree_start
	deep_capture "$WL_PID"
	stream "$WL_PID --kill --compress" "-d"
	assert_streamed
	[ "$(json_get "j['header'].get('zpages', 0)")" -gt 0 ] ||
		fail "show --json of the stream counts no compressed pages"
	for p in $(image_pids); do
		assert_ticking "$WL_LOG" 3 "$p"
	done
	restored_matches --running
}

# textheap MB: python3 holding MB MiB of text, which it hashes every tick
textheap_start() {
	cat >"$T/textheap.py" <<'EOF'
import hashlib, os, sys, time
n = int(sys.argv[1]) << 20
buf = bytearray(b"".join(b"line %d of a text that compresses well\n" % i
                         for i in range(n // 30))[:n])
want = hashlib.sha256(buf).hexdigest()
print("ready pid=%d" % os.getpid(), flush=True)
i = 0
while True:
    i += 1
    if hashlib.sha256(buf).hexdigest() != want:
        print("FAIL its text changed", flush=True)
        sys.exit(1)
    print("tick %d" % i, flush=True)
    time.sleep(0.05)
EOF
	wl_start_via textheap python3 "$T/textheap.py" "$1"
}

# a compressed file of a stopped heap: restored equal to it and to the
# plain image of the same tree
test_compressed_file() {
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/plain.img"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --compress --kill
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	[ "$(json_get "j['header']['zpages']")" = "$(json_get "j['header']['pages']")" ] ||
		fail "not every page is compressed: $(json_get "j['header']")"
	restore_d
	pagecmp_image
	"$TOOLS/pagecmp" "$T/plain.img" "$WL_PID" >"$T/pagecmp" 2>&1 ||
		fail "restored memory differs from the plain image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# python3 with 16 MiB of text: the image shrinks at least 4:1, and the
# text hashes the same after restore
test_compressed_ratio() {
	local plain packed
	textheap_start 16
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" -o "$T/plain.img"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --compress=3 --kill
	plain=$(stat -c %s "$T/plain.img")
	packed=$(stat -c %s "$T/img")
	[ $((packed * 4)) -lt "$plain" ] ||
		fail "compressed image of $packed bytes, plain $plain: not compressed"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restore_d
	assert_ticking "$WL_LOG" 5
}

# a lazy restore of a compressed image that serves faults only: each
# page comes from its own piece, decompressed when first asked for
test_compressed_lazy_faults() {
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --compress --kill
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	BPFCKPT_FAULT=lazy-no-pull assert_ckpt 0 restore "$T/img" -d --lazy
	assert_alive "$WL_PID"
	"$TOOLS/pagecmp" "$T/img" "$WL_PID" --vm >"$T/pagecmp" 2>&1 ||
		fail "restored memory differs from the image: $(head -n 3 "$T/pagecmp" | paste -sd';')"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 10
}

# restore - --lazy from a compressed stream: it runs, and the pager ends
test_compressed_pipe_lazy() {
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	deep_capture "$WL_PID"
	stream "$WL_PID --kill --compress" "-d --lazy"
	assert_streamed
	assert_ticking "$WL_LOG" 5
	pager=$(awk '/^lazy pager pid [0-9]+:/ { sub(":", "", $4); print $4 }' "$T/restore.out")
	[ -n "$pager" ] || fail "no 'lazy pager pid' line: $(cat "$T/restore.out")"
	wait_until 60 "[ ! -d /proc/$pager ] || [ \"\$(proc_state $pager)\" = Z ]" ||
		fail "the pager (pid $pager) still runs after 60 s"
	assert_ticking "$WL_LOG" 3
}

# through a socket pair instead of a pipe
test_socket_round_trip() {
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	deep_capture "$WL_PID"
	python3 - "$BPFCKPT" "$WL_PID" "$T" <<'EOF' >&2 || fail "socket round trip: $(tail -n 3 "$T/sock.err")"
import socket, subprocess, sys
ckpt, pid, t = sys.argv[1:]
a, b = socket.socketpair()
err = open(t + "/sock.err", "w")
snap = subprocess.Popen([ckpt, "snap", pid, "-o", "-", "--kill", "--compress"],
                        stdout=a.fileno(), stderr=err)
rst = subprocess.Popen([ckpt, "restore", "-", "-d"], stdin=b.fileno(),
                       stdout=open(t + "/restore.out", "w"), stderr=err)
a.close()
b.close()
rs, rr = snap.wait(timeout=120), rst.wait(timeout=120)
print("snap", rs, "restore", rr, file=err, flush=True)
sys.exit(rs or rr)
EOF
	grep -qE "^restored pid $WL_PID: " "$T/restore.out" || fail "no restore summary: $(cat "$T/restore.out")"
	assert_ticking "$WL_LOG" 5
}

# show - decodes a stream as it comes
test_show_stream() {
	local rc
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 2
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap "$WL_PID" -o - --compress 2>"$T/snap.err" |
		timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" show --json - >"$T/show.json" 2>"$T/show.err"
	rc=("${PIPESTATUS[@]}")
	[ "${rc[0]}" = 0 ] && [ "${rc[1]}" = 0 ] ||
		fail "snap -o - | show - exited ${rc[*]}: $(cat "$T/snap.err" "$T/show.err" | head -c 300)"
	[ "$(python3 -c "import json; j = json.load(open('$T/show.json')); print(j['processes'][0]['pid'])")" = "$WL_PID" ] ||
		fail "show - does not show pid $WL_PID: $(head -c 300 "$T/show.json")"
	assert_ticking "$WL_LOG" 2
}

# a flipped byte anywhere in a stream: refused, nothing of the tree runs;
# the undamaged stream then restores
test_damaged_stream() {
	local size off
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap "$WL_PID" -o - >"$T/img" 2>"$T/snap.err" ||
		fail "snap -o - failed: $(cat "$T/snap.err")"
	assert_alive "$WL_PID"
	kill_session "$WL_PID"
	size=$(stat -c %s "$T/img")
	for off in $((size / 3)) $((size / 2)) $((size - 100)); do
		cp "$T/img" "$T/bad.img"
		printf '\xa5' | dd of="$T/bad.img" bs=1 seek="$off" conv=notrunc status=none
		ckpt restore - -d <"$T/bad.img"
		[ "$CKPT_RC" = 1 ] || fail "a stream damaged at byte $off: restore - exited $CKPT_RC"
		assert_err "checksum|corrupted|bad|unknown"
		assert_no_pids "$WL_PID"
	done
	ckpt restore - -d <"$T/img"
	[ "$CKPT_RC" = 0 ] || fail "the undamaged stream: restore - exited $CKPT_RC: $(head -c 300 "$CKPT_ERR")"
	assert_ticking "$WL_LOG" 3
}

# a stream cut short (the sender died): refused as truncated
test_truncated_stream() {
	local size
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap "$WL_PID" -o - --compress >"$T/img" 2>"$T/snap.err" ||
		fail "snap -o - failed: $(cat "$T/snap.err")"
	kill_session "$WL_PID"
	size=$(stat -c %s "$T/img")
	head -c $((size / 2 / 8 * 8)) "$T/img" >"$T/half.img"
	ckpt restore - -d <"$T/half.img"
	[ "$CKPT_RC" = 1 ] || fail "half a stream: restore - exited $CKPT_RC"
	assert_err "truncated|not completed"
	assert_no_pids "$WL_PID"
}

# nobody reads the stream: snap fails, --kill or not, and the tree runs on
test_reader_gone() {
	local rc
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	for kill in "" --kill; do
		timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" snap "$WL_PID" -o - $kill --compress \
			2>"$T/snap.err" | true
		rc=${PIPESTATUS[0]}
		cat "$T/snap.err" >&2
		[ "$rc" = 1 ] || fail "snap -o - $kill into a closed pipe exited $rc, expected 1"
		grep -q "standard output" "$T/snap.err" ||
			fail "snap's message does not say the output failed: $(head -c 200 "$T/snap.err")"
		assert_alive "$WL_PID"
		assert_ticking "$WL_LOG" 3
	done
	# a terminal is no place for an image
	if [ -e /dev/ptmx ] && command -v script >/dev/null; then
		script -qec "$BPFCKPT snap $WL_PID -o -" /dev/null >"$T/tty.out" 2>&1
		grep -q "terminal" "$T/tty.out" || fail "snap -o - to a terminal: $(head -c 200 "$T/tty.out")"
		assert_ticking "$WL_LOG" 2
	fi
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="pipe_round_trip compressed_lazy_faults"
run_tests "$@"
