#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# MAP_PRIVATE mappings of memfds and of files deleted while mapped
# (IMG_VMA_PRIVATE_GONE, user/mm_gone.c): a program whose binary and
# library were replaced under it, code loaded from a memfd.  The file's
# content is stored once (up to snap --file-max), the file made again
# and mapped privately, and the process's own copies of its pages put
# back over it.
. "$(dirname "$0")/../lib.sh"

# the private deleted mappings of process $1: "inode path" lines, sorted
private_gone() {
	awk '$2 ~ /p$/ && / \(deleted\)$/ { print $6 }' "/proc/$1/maps" | sort -u
}

# every process of the image maps lib.dat and the memfd again
assert_maps_gone() {
	local p got
	for p in $(image_pids); do
		got=$(private_gone "$p")
		grep -qx "$T/lib.dat" <<<"$got" && grep -qx /memfd:jit <<<"$got" ||
			fail "pid $p: private deleted mappings after the restore: $(paste -sd' ' <<<"$got")"
	done
	[ ! -e "$T/lib.dat" ] || fail "lib.dat has a name again after the restore"
}

# the file's content is stored once, in the first VMA of each inode
assert_content_once() {
	local n
	n=$(grep -c "the file's [0-9]* bytes" "$T/show.txt")
	assert_eq 2 "$n" "VMAs with the content of a privately mapped deleted file (lib.dat and jit)"
	grep -q "private-deleted /memfd:jit (deleted) seals 0xe, the file's 8192 bytes" "$T/show.txt" ||
		fail "show does not give the memfd's seals and content: $(grep jit "$T/show.txt" | head -n 2)"
}

test_privgone_running() {
	wl_start privgone "$T" 30
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	assert_ckpt 0 show "$T/img"
	cp "$CKPT_OUT" "$T/show.txt"
	assert_content_once
	restore_d
	restored_matches --running
	assert_maps_gone
	assert_ticking "$WL_LOG" 5
}

test_privgone_stopped() {
	wl_start privgone "$T" 30
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

test_privgone_lazy() {
	wl_start privgone "$T" 30
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_d --lazy
	assert_maps_gone
	assert_ticking "$WL_LOG" 5
}

# above snap --file-max the content is not saved: snap --kill refuses
# naming the mapping and the option, and the tree runs on; an image
# snapped without --kill is refused by restore the same way, leaving no
# process; inspect says so too
test_privgone_file_max() {
	local pids
	wl_start privgone "$T" 30
	assert_ticking "$WL_LOG" 2
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill --file-max 10000
	assert_err "private mapping of $T/lib.dat \(deleted\): its 12411 bytes were not saved \(snap --file-max BYTES saves up to 15728640\)"
	[ ! -e "$T/img" ] || fail "a refused snap --kill left an image"
	assert_alive "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --file-max 10000
	pids=$(session_pids "$WL_PID")
	kill_session "$WL_PID"
	assert_no_pids $pids
	assert_ckpt 1 restore "$T/img" -d
	assert_err "private mapping of $T/lib.dat \(deleted\): its 12411 bytes were not saved"
	assert_no_pids $pids
}

# the deleted file's name is taken again: snap --kill refuses, naming it
test_privgone_name_taken() {
	wl_start privgone "$T" 30
	assert_ticking "$WL_LOG" 2
	echo other >"$T/lib.dat"
	assert_kill_refused "$WL_PID" "deleted file $T/lib.dat \(deleted\): a file has its name again"
	assert_inspect_says "$WL_PID" "a file has its name again"
	rm "$T/lib.dat"
	assert_ticking "$WL_LOG" 2
}

# a python3 whose binary and libz were deleted while it ran, as a
# package upgrade leaves a service: refused below the binary's size,
# then snapped with --file-max and restored, its exe the deleted binary,
# zlib (in the deleted libz) still right
test_python_deleted_binary() {
	local py
	# Debian's (make deps): a python3 on PATH may be a pyenv shim script
	py=$(readlink -f /usr/bin/python3)
	mkdir -p "$T/bin" "$T/lib"
	cp "$py" "$T/bin/python3"
	cp "$(ldd "$py" | awk '$1 == "libz.so.1" { print $3 }')" "$T/lib/libz.so.1" ||
		fail "python3 links no libz.so.1 to copy: $(ldd "$py" | paste -sd' ')"
	cat >"$T/loop.py" <<'EOF'
import os, sys, time, zlib
blob = bytes(range(256)) * 4096
want = zlib.crc32(blob)
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    if zlib.crc32(blob) != want or zlib.decompress(zlib.compress(blob)) != blob:
        print("FAIL: tick %d: zlib is wrong" % n, flush=True)
        raise SystemExit(1)
    print("tick %d" % n, flush=True)
    time.sleep(0.03)
EOF
	WL_FAIL_RE='^FAIL|Error' wl_start_via python env LD_LIBRARY_PATH="$T/lib" setsid \
		"$T/bin/python3" "$T/loop.py"
	assert_ticking "$WL_LOG" 3
	grep -q "$T/lib/libz.so.1" "/proc/$WL_PID/maps" || fail "python3 does not map the copied libz"
	rm "$T/bin/python3" "$T/lib/libz.so.1"
	assert_kill_refused "$WL_PID" "private mapping of $T/bin/python3 \(deleted\): its [0-9]+ bytes were not saved"
	snap_kill_json "$WL_PID" --file-max 15000000
	restore_d
	assert_eq "$T/bin/python3 (deleted)" "$(readlink "/proc/$WL_PID/exe")" "the restored exe"
	grep -q "$T/lib/libz.so.1 (deleted)" "/proc/$WL_PID/maps" ||
		fail "the restored python3 does not map the deleted libz"
	assert_ticking "$WL_LOG" 5
	[ ! -e "$T/bin/python3" ] || fail "python3 has a name again after the restore"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="privgone_running"
run_tests "$@"
