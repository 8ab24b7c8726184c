#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# inotify and fanotify fds (user/fd/inotify.c, fanotify.c): snap --kill,
# restore, and the workload sees the events of its watches and marks
# again, with the same wds; a watched path gone at restore is refused.
# The workload's directory is a tmpfs of the test's own, so that its
# filesystem and mount marks see nobody else's files.
. "$(dirname "$0")/../lib.sh"

notify_start() {
	mkdir "$T/d"
	mount -t tmpfs -o size=1m bpfckpt-notify "$T/d" || fail "mounting a tmpfs on $T/d"
	on_exit "umount -l '$T/d'"
	wl_start notify "$T/d" 30
	assert_ticking "$WL_LOG" 3
}

# the watches as fdinfo lists them, for the message of a difference
watches() {
	grep -h '^\(inotify wd\|fanotify\)' "/proc/$WL_PID/fdinfo/3" "/proc/$WL_PID/fdinfo/4" |
		sed 's/ fhandle.*//' | paste -sd';'
}

# restored_matches compares every fdinfo field: masks, flags, wds
test_notify_running() {
	local before
	notify_start
	before=$(watches)
	snap_kill_json "$WL_PID"
	restore_d
	restored_matches --running
	assert_eq "$before" "$(watches)" "inotify watches and fanotify marks"
	assert_ticking "$WL_LOG" 5
}

test_notify_stopped() {
	notify_start
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a watched file renamed away after the snap: restore names the watch
# and leaves no process; back in place, the same image restores
test_notify_path_gone() {
	notify_start
	snap_kill_json "$WL_PID"
	mv "$T/d/f" "$T/d/moved"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "pid $WL_PID: fd 3: inotify watch on $T/d/f: No such file or directory"
	assert_no_pids "$WL_PID"
	mv "$T/d/moved" "$T/d/f"
	restore_d
	assert_ticking "$WL_LOG" 3
}

# show decodes every watch and mark with its path
test_notify_show() {
	notify_start
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	python3 - "$CKPT_OUT" "$T/d" <<'PY' || fail "show --json: watches or marks differ: $(head -c 600 "$CKPT_OUT")"
import json, sys
j, d = json.load(open(sys.argv[1])), sys.argv[2]
fds = {f["kind"]: f for f in j["processes"][0]["fds"]}
w = sorted((m["wd"], int(m["mask"], 16), m["path"]) for m in fds["inotify"]["marks"])
want = [(1, 0x300, d), (3, 0x2, d + "/f"), (4, 0x4, d + "/link")]
f = sorted((m["type"], int(m["mask"], 16), int(m["ignored_mask"], 16), m["path"])
           for m in fds["fanotify"]["marks"])
fwant = [("filesystem", 0x20, 0, d), ("inode", 0x2, 0x20, d + "/f"), ("mount", 0x8, 0, d)]
sys.exit(not (w == want and f == fwant))
PY
	assert_ckpt 0 show "$T/img"
	grep -q "watch 3 mask 0x2 $T/d/f" "$CKPT_OUT" || fail "show: no line for watch 3: $(grep -A4 inotify "$CKPT_OUT")"
}

# inspect lists the watches' kind and shows them as restorable
test_notify_inspect() {
	notify_start
	assert_ckpt 0 inspect "$WL_PID" --json
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
kinds = sorted(f["kind"] for p in j["processes"] for f in p["fds"])
sys.exit(not ("inotify" in kinds and "fanotify" in kinds and j["verdict"]["restorable"]))' "$CKPT_OUT" ||
		fail "inspect: no inotify and fanotify fd, or not restorable: $(head -c 300 "$CKPT_OUT")"
}

run_tests "$@"
