#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Terminals (user/fd/tty.c): a pty pair inside the tree comes back as a
# pair, with its session, termios, window size and the bytes pending both
# ways; a terminal outside the tree needs --shell-job.
. "$(dirname "$0")/../lib.sh"

# the second pair's stashes survived: the workload reads them on SIGUSR1
assert_stash() {
	kill -USR1 "$WL_PID"
	wait_for_line "$WL_LOG" '^stash ok|^FAIL' 10 || fail "the workload did not check its stash: $(tail -n 2 "$WL_LOG")"
	assert_log_ok "$WL_LOG"
}

test_pty_running() {
	wl_start pty 50
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	[ "$(json_get '[f["tty"]["side"] for f in j["processes"][0]["fds"] if "tty" in f]')" = "['master', 'slave', 'master', 'slave']" ] ||
		fail "the root's ttys in the image: $(json_get '[f.get("tty") for f in j["processes"][0]["fds"]]')"
	restore_d
	assert_ticking "$WL_LOG" 5
	# and again, from the restored pair
	snap_kill_json "$WL_PID"
	restore_d
	assert_ticking "$WL_LOG" 5
	assert_stash
}

# the workload's root and its child (which leads a session of its own)
pty_pids() {
	echo "$WL_PID" $(cat "/proc/$WL_PID/task/$WL_PID/children")
}

test_pty_stopped() {
	local pids p
	wl_start pty 20
	assert_ticking "$WL_LOG" 3
	pids=$(pty_pids)
	kill -STOP $pids
	for p in $pids; do
		wait_until 10 "[ \"\$(proc_state $p)\" = T ]" || fail "pid $p did not stop"
	done
	snap_kill_json "$WL_PID"
	# the stashes are in the image, the root's pair's way
	[ "$(json_get '[(f["tty"]["pending"], f["tty"]["pending_input"]) for f in j["processes"][0]["fds"] if f["fd"] == 5][0]')" = "(25, 20)" ] ||
		fail "the second pair's pending bytes in the image: $(json_get '[f.get("tty") for f in j["processes"][0]["fds"] if f["fd"] == 5]')"
	restore_d
	kill -CONT $pids
	assert_ticking "$WL_LOG" 5
	assert_stash
}

# a snap that does not kill leaves the pair as it was: bytes included
test_pty_snap_leaves_it() {
	wl_start pty 20
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ticking "$WL_LOG" 5
	assert_stash
	assert_ticking "$WL_LOG" 3
}

# a real program that holds ptys: a tmux server with a python3 REPL in
# its pane; a new client after the restore finds the variable and types
test_tmux_server() {
	local sock=$T/tmux.sock srv py
	# clean_exec: the server keeps none of our fds
	(clean_exec env -i PATH="$PATH" HOME="$T" TERM=screen tmux -S "$sock" new-session -d -x 90 -y 20 "python3 -q")
	on_exit "tmux -S '$sock' kill-server 2>/dev/null"
	srv=$(tmux -S "$sock" display -p '#{pid}')
	py=$(tmux -S "$sock" display -p '#{pane_pid}')
	wait_until 10 "tmux -S '$sock' capture-pane -p | grep -q '^>>>'" || fail "no python prompt in tmux: $(tmux -S "$sock" capture-pane -p 2>&1 | head -n 3 | paste -sd"|")"
	tmux -S "$sock" send-keys 'x = 31337; print("set", x)' Enter
	wait_until 10 "tmux -S '$sock' capture-pane -p | grep -q '^set 31337'" || fail "python did not run the line"
	echo "$srv" >>"$T/.sessions"
	echo "$py" >>"$T/.sessions"
	snap_kill_json "$srv"
	[ -d "/proc/$py" ] && fail "the pane's python survived snap --kill"
	restore_d
	[ -d "/proc/$py" ] || fail "the pane's python $py is not back"
	tmux -S "$sock" send-keys 'print("after", x + 1)' Enter
	wait_until 10 "tmux -S '$sock' capture-pane -p | grep -q '^after 31338'" ||
		fail "the restored pane does not answer: $(tmux -S "$sock" capture-pane -p | grep -v '^$' | tail -n 3 | paste -sd'|')"
	tmux -S "$sock" send-keys 'exit()' Enter
	wait_until 10 "[ ! -d /proc/$srv ]" || fail "tmux did not end with its last pane"
}

# the user's terminal is refused without --shell-job, by snap and inspect
test_outside_terminal_refused() {
	local pts holder
	# a pair held outside the tree, as a terminal emulator holds it
	python3 -c 'import os, sys, time
m, s = os.openpty()
open(sys.argv[1] + ".tmp", "w").write(os.ttyname(s))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$T/ptsname" &
	holder=$!
	on_exit "kill $holder"
	wait_until 10 "[ -s '$T/ptsname' ]" || fail "the pty holder did not start"
	pts=$(cat "$T/ptsname")
	WL_FAIL_RE='^FAIL|Error' wl_start_via sh python3 -c 'import os, sys, time
os.setsid()
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
print("ready pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(1)' "$pts"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img"
	assert_err "pid $WL_PID: fd 3 is $pts, a terminal whose other side is outside the tree: snap --shell-job"
	[ -e "$T/img" ] && fail "a refused snap left an image"
	assert_ckpt 0 inspect "$WL_PID"
	grep -qF "fd 3 is $pts, a terminal whose other side is outside the tree: --shell-job" "$CKPT_OUT" ||
		fail "inspect does not say why: $(grep -A3 -i verdict "$CKPT_OUT" | paste -sd';')"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_alive "$WL_PID"
	# taken as a shell job, but it leads its own session: restore refuses
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill --shell-job
	assert_err "leads its own session on the user's terminal $pts: a shell job is a job of a shell"
	assert_alive "$WL_PID"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="pty_running tmux_server"
run_tests "$@"
