#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Shell jobs (snap/restore --shell-job, user/fd/tty.c): an interactive
# python3 REPL, a job of bash in a tmux pane, is snapped with --kill and
# restored from that bash: the variable it had is there, the terminal
# works (its termios back, ^C, ^Z and fg), and it exits to the shell.
. "$(dirname "$0")/../lib.sh"

tm() {
	tmux -S "$T/tmux.sock" "$@"
}

screen() {
	tm capture-pane -p -J -t t
}

# wait_screen REGEX [TIMEOUT_S]: a line of the pane matches
wait_screen() {
	wait_until "${2:-10}" "screen | grep -qE -- '$1'" ||
		fail "the terminal never showed /$1/: $(screen | grep -v '^$' | tail -n 4 | paste -sd'|')"
}

# type LINE: typed into the pane, then Enter
type_line() {
	tm send-keys -t t -l "$1"
	tm send-keys -t t Enter
}

# field N of /proc/PID/stat (after the comm): 5 pgrp, 6 session, 8 tpgid
stat_field() {
	local rest n=$(($2 - 2))
	read -r rest <"/proc/$1/stat" || return 1
	rest=${rest##*) }
	set -- $rest
	echo "${!n}"
}

# a bash in a tmux pane, its pid in SH_PID, its terminal in SH_TTY
start_shell() {
	tm new-session -d -s t -x 120 -y 40 \
		"env -i PATH=$PATH HOME=$T TERM=screen bash --norc --noprofile -i"
	on_exit "tmux -S '$T/tmux.sock' kill-server"
	SH_PID=$(tm list-panes -t t -F '#{pane_pid}')
	SH_TTY=$(tm list-panes -t t -F '#{pane_tty}')
	type_line 'PS1="sh\$ "'
	wait_screen '^sh\$ '
}

# the one child of the pane's shell
job_pid() {
	cat "/proc/$SH_PID/task/$SH_PID/children" | awk '{print $1}'
}

test_python_repl() {
	local py before after
	start_shell
	type_line "python3 -q"
	wait_screen '^>>> '
	type_line 'x = 4242; print("defined", x)'
	wait_screen '^defined 4242'
	py=$(job_pid)
	[ -n "$py" ] || fail "no python under the shell"
	[ "$(stat_field "$py" 6)" = "$SH_PID" ] || fail "python is not in the shell's session"
	# inspect says what snap would: refused, unless as a shell job
	assert_ckpt 0 inspect "$py"
	grep -qE "fd 0 is /dev/pts/[0-9]+, a terminal whose other side is outside the tree: --shell-job" "$CKPT_OUT" ||
		fail "inspect does not refuse the user's terminal: $(grep -i verdict "$CKPT_OUT")"
	assert_ckpt 0 inspect "$py" --shell-job
	grep -q "^verdict: checkpointable and restorable" "$CKPT_OUT" ||
		fail "inspect --shell-job: $(grep -i -A2 verdict "$CKPT_OUT" | paste -sd'|')"
	before=$(stty -g -F "$SH_TTY")
	assert_ckpt 0 snap "$py" -o "$T/img" --kill --shell-job
	wait_screen '^sh\$ $'
	# the terminal is outside the tree: restore needs --shell-job, and a terminal
	assert_ckpt 1 restore "$T/img" -d
	assert_err "fd 0 is /dev/pts/[0-9]+, a terminal whose other side is outside the tree: --shell-job"
	assert_ckpt 1 restore "$T/img" -d --shell-job
	assert_err "none of restore's stdin, stdout and stderr is a terminal"
	assert_no_pids "$py"
	type_line "$BPFCKPT restore --shell-job $T/img"
	wait_screen "^restored pid $py: "
	wait_until 5 "[ -d /proc/$py ]" || fail "pid $py is not back"
	# python waits in readline's read(): the raw mode it set is back
	after=$(stty -g -F "$SH_TTY")
	assert_eq "$before" "$after" "termios of the terminal after restore"
	[ "$(stat_field "$py" 6)" = "$SH_PID" ] || fail "the restored python is not in the shell's session"
	[ "$(stat_field "$py" 8)" = "$(stat_field "$py" 5)" ] ||
		fail "the restored python's group $(stat_field "$py" 5) is not the terminal's foreground group $(stat_field "$py" 8)"
	type_line 'print("after", x + 1)'
	wait_screen '^after 4243'
	# ^C: python's SIGINT handler runs (SA_ONSTACK: on its own stack only)
	tm send-keys -t t C-c
	wait_screen '^KeyboardInterrupt'
	type_line 'print("still", x)'
	wait_screen '^still 4242'
	# ^Z stops the job, fg brings it back
	tm send-keys -t t C-z
	wait_screen 'Stopped +.*restore --shell-job'
	type_line "fg"
	type_line 'print("back", x * 2)'
	wait_screen '^back 8484'
	type_line 'exit()'
	wait_until 10 "[ ! -d /proc/$py ]" || fail "python did not exit"
	type_line 'echo "restore said $?"'
	wait_screen '^restore said 0'
}

run_tests "$@"
