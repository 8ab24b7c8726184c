#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP and UDP sockets (user/fd/inet.c) and the network lock (user/netlock.c,
# bpf/netlock.bpf.c): loopback pairs inside the tree, a peer outside it
# that keeps its connection across snap --kill and restore, redis-server
# with a client that stays connected, python3 http.server mid keep-alive.
. "$(dirname "$0")/../lib.sh"

PEER=$TESTS_DIR/tools/tcp_peer.py
PY=/usr/bin/python3
# ports of our own, below the ephemeral range (32768-): 23100 + 10 per
# test, 23600 + for the fallback run
PORT_BASE=23100
[ -n "${TEST_TAG:-}" ] && PORT_BASE=23600

# the lock's filter is on lo (of the namespace $IN_NS enters, if set)
IN_NS=
lock_on() {
	$IN_NS tc filter show dev lo ingress 2>/dev/null | grep -q netlock_drop
}

# peer_start LOG ARGS...: tcp_peer.py outside the tree; sets PEER_PID
peer_start() {
	local log=$1
	shift
	clean_exec "$PY" "$PEER" "$@" </dev/null >"$log" 2>&1 &
	PEER_PID=$!
	on_exit "kill -KILL $PEER_PID 2>/dev/null; wait $PEER_PID 2>/dev/null"
}

# last_ok LOG: the peer's last "ok N"
last_ok() {
	grep -oE '^ok [0-9]+' "$1" | tail -n 1 | awk '{print $2}' | grep . || echo 0
}

# snap_kill_peer SID PEER_LOG [GO]: snap --kill of a tree with a peer
# outside; the lock is released at the end of the test whatever happened.
# Without the lock (BPFCKPT_FALLBACK), checks the refusal instead, that
# the tree and its peer go on (the peer told to by file GO), and returns
# 1: the test ends there
snap_kill_peer() {
	local seen
	on_exit "'$BPFCKPT' unlock '$T/img' >/dev/null 2>&1"
	if fallback_forced netlock; then
		assert_ckpt 1 snap "$1" -o "$T/img" --kill
		assert_err "is a TCP connection to [0-9.]+:[0-9]+, outside the tree, and there is no network lock \(BPFCKPT_FALLBACK=netlock\)"
		[ -e "$T/img" ] && fail "a refused snap --kill left an image"
		assert_alive "$1"
		seen=$(wc -c <"$2")
		[ -n "${3:-}" ] && touch "$3"
		wait_until 20 "[ \$(wc -c <'$2') -gt $seen ]" ||
			fail "the peer gets nothing after the refused snap: $(tail -n 1 "$2")"
		assert_peer_ok "$2"
		return 1
	fi
	snap_kill_json "$1"
	assert_ckpt 0 show "$T/img"
	lock_on || fail "no network lock on lo after snap --kill"
}

assert_peer_ok() {
	grep -q '^FAIL' "$1" && fail "the peer outside the tree: $(grep -m1 '^FAIL' "$1")"
	return 0
}

# the peer's connection to PORT retransmitted: it sent while the tree was down
# (or, before its first retransmission timer fired, has bytes in flight
# that nothing acknowledged): the lock dropped them, or they drew a reset
# the peer reports
peer_retransmits() {
	ss -tni "( dport = :$1 )" | grep -qE 'retrans:[0-9]+/[1-9]|unacked:[1-9]'
}

# both ends in the tree: listeners v4 and v6, a stream with full queues,
# an echo on v6, connected and bound UDP
test_pair() {
	local port=$((PORT_BASE + 10)) from
	wl_start tcp pair $port 30
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 inspect "$WL_PID"
	grep -qE "tcp6 listening \[::1\]:$port backlog 7" "$CKPT_OUT" ||
		fail "inspect lacks the v6 listener: $(grep inet "$CKPT_OUT" | head -3)"
	snap_kill_json "$WL_PID"
	assert_ckpt 0 show "$T/img"
	grep -qE "tcp listening 127\.0\.0\.1:$port backlog 7" "$CKPT_OUT" ||
		fail "show lacks the v4 listener: $(grep inet "$CKPT_OUT" | head -3)"
	grep -qE "tcp6 listening \[::1\]:$port" "$CKPT_OUT" || fail "show lacks the v6 listener"
	grep -qE "tcp established 127\.0\.0\.1:[0-9]+ peer 127\.0\.0\.1:$port .*[1-9][0-9]* bytes to send" \
		"$CKPT_OUT" || fail "the streamer's send queue is not in the image: $(grep established "$CKPT_OUT")"
	grep -qE "udp established 127\.0\.0\.1:[0-9]+ peer 127\.0\.0\.1:$((port + 1))" "$CKPT_OUT" ||
		fail "show lacks the connected UDP socket"
	lock_on && fail "a lock was taken for a tree with no peer outside it"
	from=$(last_tick "$WL_LOG")
	restore_d
	assert_ticking "$WL_LOG" 5
	# each of the three checked something new after the restore
	awk -v f="$from" '$1 == "tick" && $2 == f { split($3, s, "="); split($4, e, "=");
		split($5, u, "="); S = s[2]; E = e[2]; U = u[2] }
		END { if (!S) exit 1 }
		$1 == "tick" && $2 > f + 3 { split($3, s, "="); split($4, e, "="); split($5, u, "=");
			if (s[2] > S && e[2] > E && u[2] > U) ok = 1 }
		END { exit !ok }' "$WL_LOG" ||
		fail "stream, echo or udp did not go on after the restore: $(tail -n 2 "$WL_LOG")"
	restored_matches --running
}

# a snap without --kill: repair mode ends, the tree goes on at once
test_pair_snap_runs_on() {
	local port=$((PORT_BASE + 20))
	wl_start tcp pair $port 30
	assert_ticking "$WL_LOG" 3
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ticking "$WL_LOG" 5
	lock_on && fail "the lock stays after a snap that did not kill"
	return 0
}

# a client outside the tree keeps its connection, no byte lost, no reset
test_peer_outside() {
	local port=$((PORT_BASE + 30)) seen
	wl_start tcp server $port
	peer_start "$T/peer.log" lines $port
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 30 ]" ||
		fail "the peer does not get answers: $(tail -n 2 "$T/peer.log")"
	snap_kill_peer "$WL_PID" "$T/peer.log" || return 0
	grep -qE "tcp established 127\.0\.0\.1:$port peer 127\.0\.0\.1:[0-9]+ seq" "$CKPT_OUT" ||
		fail "show lacks the connection: $(grep inet "$CKPT_OUT")"
	# without the lock the peer's next segment would draw a reset
	wait_until 20 "peer_retransmits $port" ||
		fail "the peer did not send while the tree was down: $(ss -tni "( dport = :$port )" | tail -n 1)"
	assert_peer_ok "$T/peer.log"
	seen=$(last_ok "$T/peer.log")
	restore_d
	lock_on && fail "the lock stays after the restore"
	wait_until 30 "grep -q '^FAIL' '$T/peer.log' || [ \$(last_ok '$T/peer.log') -ge $((seen + 50)) ]" ||
		fail "the peer gets no answers after the restore: $(tail -n 2 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
	assert_ticking "$WL_LOG" 3
}

# the same over IPv6: the lock reads IPv6 headers too
test_peer_outside_v6() {
	local port=$((PORT_BASE + 110)) seen
	wl_start tcp server $port ::1
	peer_start "$T/peer.log" lines $port ::1
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" ||
		fail "the peer does not get answers: $(tail -n 2 "$T/peer.log")"
	on_exit "'$BPFCKPT' unlock '$T/img' >/dev/null 2>&1"
	if fallback_forced netlock; then
		assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
		assert_err "is a TCP connection to \[::1\]:[0-9]+, outside the tree, and there is no network lock"
		return 0
	fi
	snap_kill_json "$WL_PID"
	assert_ckpt 0 show "$T/img"
	grep -qE "tcp6 established \[::1\]:$port peer \[::1\]:[0-9]+ seq" "$CKPT_OUT" ||
		fail "show lacks the connection: $(grep inet "$CKPT_OUT")"
	wait_until 20 "peer_retransmits $port" ||
		fail "the peer did not send while the tree was down: $(ss -tni "( dport = :$port )" | tail -n 1)"
	assert_peer_ok "$T/peer.log"
	seen=$(last_ok "$T/peer.log")
	restore_d
	wait_until 30 "grep -q '^FAIL' '$T/peer.log' || [ \$(last_ok '$T/peer.log') -ge $((seen + 50)) ]" ||
		fail "the peer gets no answers after the restore: $(tail -n 2 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
	lock_on && fail "the lock stays after the restore"
	return 0
}

# a tree in a network namespace of the test's own, its client on the
# host through a veth pair: the lock goes on the veth (an Ethernet
# device) too, and bpfckpt runs in the tree's namespace
test_peer_netns() {
	local port=$((PORT_BASE + 120)) ns=t12b-$$-${TEST_TAG:+f} net seen
	local host=t12bh$$ inner=t12bn$$ sub=$((($$ % 200) + 20))
	ns=${ns%-}
	ip netns add "$ns" || fail "ip netns add $ns"
	on_exit "ip netns del '$ns'"
	ip link add "$host" type veth peer name "$inner" || fail "ip link add veth"
	on_exit "ip link del '$host' 2>/dev/null"
	ip link set "$inner" netns "$ns"
	ip addr add 10.212.$sub.1/24 dev "$host"
	ip link set "$host" up
	ip -n "$ns" addr add 10.212.$sub.2/24 dev "$inner"
	ip -n "$ns" link set "$inner" up
	ip -n "$ns" link set lo up
	net="nsenter --net=/run/netns/$ns"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$net" "$BPFCKPT" >"$T/bpfckpt-ns"
	chmod +x "$T/bpfckpt-ns"
	wl_start_via tcp $net "$WL/tcp" server $port 10.212.$sub.2
	peer_start "$T/peer.log" lines $port 10.212.$sub.2
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" ||
		fail "the peer does not get answers: $(tail -n 2 "$T/peer.log")"
	BPFCKPT=$T/bpfckpt-ns
	IN_NS=$net
	snap_kill_peer "$WL_PID" "$T/peer.log" || return 0
	$net tc filter show dev "$inner" ingress | grep -q netlock_drop ||
		fail "no lock on $inner: $($net tc filter show dev "$inner" ingress)"
	wait_until 20 "peer_retransmits $port" ||
		fail "the peer did not send while the tree was down: $(ss -tni "( dport = :$port )" | tail -n 1)"
	assert_peer_ok "$T/peer.log"
	seen=$(last_ok "$T/peer.log")
	restore_d
	wait_until 30 "grep -q '^FAIL' '$T/peer.log' || [ \$(last_ok '$T/peer.log') -ge $((seen + 50)) ]" ||
		fail "the peer gets no answers after the restore: $(tail -n 2 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
	$net tc filter show dev "$inner" ingress | grep -q netlock_drop &&
		fail "the lock stays on $inner after the restore"
	lock_on && fail "the lock stays on lo after the restore"
	return 0
}

# bpfckpt unlock IMAGE: the lock goes; the peer then meets a reset
test_unlock() {
	local port=$((PORT_BASE + 40))
	wl_start tcp server $port
	peer_start "$T/peer.log" lines $port
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" || fail "the peer does not get answers"
	snap_kill_peer "$WL_PID" "$T/peer.log" || return 0
	assert_ckpt 0 unlock "$T/img"
	grep -q "1 connection released" "$CKPT_OUT" || fail "unlock says: $(cat "$CKPT_OUT")"
	lock_on && fail "the filter stays after unlock"
	wait_until 30 "grep -q '^FAIL' '$T/peer.log'" ||
		fail "the peer saw nothing once the lock was gone"
	grep -qE "^FAIL: .*(reset|Broken pipe)" "$T/peer.log" ||
		fail "the peer failed otherwise: $(grep -m1 '^FAIL' "$T/peer.log")"
	assert_ckpt 0 unlock "$T/img"
	grep -q "0 connections released" "$CKPT_OUT" || fail "a second unlock says: $(cat "$CKPT_OUT")"
}

# BPFCKPT_FALLBACK=netlock: no lock, so a peer outside is refused clearly
# and the tree runs on; a tree with both ends inside needs none
test_fallback() {
	local port=$((PORT_BASE + 50)) seen
	wl_start tcp server $port
	peer_start "$T/peer.log" lines $port
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" || fail "the peer does not get answers"
	BPFCKPT_FALLBACK=netlock assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "fd [0-9]+ is a TCP connection to 127\.0\.0\.1:[0-9]+, outside the tree, and there is no network lock \(BPFCKPT_FALLBACK=netlock\)"
	[ -e "$T/img" ] && fail "a refused snap --kill left an image"
	assert_alive "$WL_PID"
	BPFCKPT_FALLBACK=netlock assert_ckpt 0 inspect "$WL_PID"
	grep -q "no network lock" "$CKPT_OUT" || fail "inspect does not say why: $(tail -n 3 "$CKPT_OUT")"
	# the same when the verifier refuses the program; check says so
	BPFCKPT_FALLBACK= BPFCKPT_FAULT=refuse-netlock_drop assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "there is no network lock \(its BPF program is refused: invalid read from stack"
	BPFCKPT_FALLBACK= BPFCKPT_FAULT=refuse-netlock_drop assert_ckpt 0 check
	grep -qE "^netlock_drop +NO .*snap --kill refuses TCP connections to peers outside" \
		"$CKPT_OUT" || fail "check does not say the lock is refused: $(grep netlock "$CKPT_OUT")"
	seen=$(last_ok "$T/peer.log")
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge $((seen + 20)) ]" ||
		fail "the peer stopped after the refused snap: $(tail -n 1 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
	kill_session "$WL_PID"
	wl_start tcp pair $((port + 2)) 30
	assert_ticking "$WL_LOG" 3
	BPFCKPT_FALLBACK=netlock snap_kill_json "$WL_PID"
	BPFCKPT_FALLBACK=netlock restore_d
	assert_ticking "$WL_LOG" 5
}

# a snap --kill that fails late: the tree runs on, its sockets out of
# repair mode, the lock released, the peer's connection unharmed
test_snap_fails() {
	local port=$((PORT_BASE + 90)) seen
	wl_start tcp server $port
	peer_start "$T/peer.log" lines $port
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" || fail "the peer does not get answers"
	BPFCKPT_FAULT=snap-commit assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	[ -e "$T/img" ] && fail "a failed snap left an image"
	assert_alive "$WL_PID"
	lock_on && fail "the lock stays after a failed snap"
	seen=$(last_ok "$T/peer.log")
	wait_until 20 "grep -q '^FAIL' '$T/peer.log' || [ \$(last_ok '$T/peer.log') -ge $((seen + 20)) ]" ||
		fail "the peer stopped after the failed snap: $(tail -n 1 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
	assert_ticking "$WL_LOG" 2
}

# a restore that fails leaves no process and keeps the lock: the peer
# waits on, and a second restore takes the connection back
test_restore_retry() {
	local port=$((PORT_BASE + 100)) seen
	wl_start tcp server $port
	peer_start "$T/peer.log" lines $port
	wait_until 20 "[ \$(last_ok '$T/peer.log') -ge 10 ]" || fail "the peer does not get answers"
	snap_kill_peer "$WL_PID" "$T/peer.log" || return 0
	BPFCKPT_FAULT=restore-final assert_ckpt 1 restore "$T/img" -d
	[ -d "/proc/$WL_PID" ] && fail "pid $WL_PID is left after a failed restore"
	lock_on || fail "a failed restore released the lock"
	wait_until 20 "peer_retransmits $port" || fail "the peer did not send meanwhile"
	assert_peer_ok "$T/peer.log"
	seen=$(last_ok "$T/peer.log")
	restore_d
	wait_until 30 "grep -q '^FAIL' '$T/peer.log' || [ \$(last_ok '$T/peer.log') -ge $((seen + 30)) ]" ||
		fail "the peer gets no answers after the second restore: $(tail -n 1 "$T/peer.log")"
	assert_peer_ok "$T/peer.log"
}

# a TCP socket in a state restore cannot rebuild is refused at snap --kill
test_refused_state() {
	local port=$((PORT_BASE + 60))
	wl_start tcp server $port
	# the client half-closes: the server's end goes CLOSE_WAIT
	"$PY" -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $port))
s.sendall(b'1\\n')
s.shutdown(socket.SHUT_WR)
time.sleep(60)" &
	on_exit "kill $! 2>/dev/null"
	wait_for_line "$WL_LOG" '^eof after 1$|^FAIL' 10 || fail "the server did not see the end of stream"
	assert_log_ok "$WL_LOG"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "is a TCP socket in state CLOSE_WAIT: only listening, established and unconnected ones are supported"
	assert_alive "$WL_PID"
	[ -e "$T/img" ] && fail "a refused snap --kill left an image"
	assert_ckpt 0 inspect "$WL_PID"
	grep -q "CLOSE_WAIT" "$CKPT_OUT" || fail "inspect does not say why: $(tail -n 3 "$CKPT_OUT")"
}

# server_start NAME READY_RE CMD...: a real server in a session of its
# own, its output straight into $T/NAME.log (a pipe would lead outside
# the tree); waits for READY_RE; sets WL_PID and WL_LOG
server_start() {
	local name=$1 ready=$2
	shift 2
	WL_LOG=$T/$name.log
	clean_exec setsid "$@" </dev/null >"$WL_LOG" 2>&1 &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "$ready" 30 || fail "$name did not start: $(tail -n 3 "$WL_LOG")"
}

# redis-server with a client outside the tree: the same connection (CLIENT
# ID) GETs the values after the restore; the RDB file is unharmed
test_redis() {
	local port=$((PORT_BASE + 70)) sum id
	command -v redis-server >/dev/null || fail "redis-server is not installed (make deps)"
	mkdir "$T/redis"
	server_start redis "Ready to accept connections" redis-server --port $port \
		--bind 127.0.0.1 --dir "$T/redis" --dbfilename dump.rdb --save '' \
		--appendonly no --daemonize no --logfile ''
	peer_start "$T/peer.log" redis $port "$T/go"
	wait_for_line "$T/peer.log" '^set id=|^FAIL' 20 || fail "the client did not SET its keys"
	assert_peer_ok "$T/peer.log"
	id=$(sed -nE 's/^set id=([0-9]+)$/\1/p' "$T/peer.log")
	redis-cli -p $port SAVE | grep -q OK || fail "SAVE failed"
	sum=$(sha256sum <"$T/redis/dump.rdb")
	snap_kill_peer "$WL_PID" "$T/peer.log" "$T/go" || return 0
	restore_d
	touch "$T/go"
	wait_for_line "$T/peer.log" '^get ok|^FAIL' 30 || fail "the client's GETs got no answer"
	assert_peer_ok "$T/peer.log"
	grep -qx "get ok id=$id" "$T/peer.log" ||
		fail "not the same connection: $(grep '^get' "$T/peer.log"), before id=$id"
	assert_eq "$sum" "$(sha256sum <"$T/redis/dump.rdb")" "the RDB file's sha256 after the restore"
	redis-check-rdb "$T/redis/dump.rdb" >"$T/check.log" 2>&1 ||
		fail "redis-check-rdb: $(tail -n 2 "$T/check.log")"
	# the restored server forks and writes its RDB again, all 200 keys in
	redis-cli -p $port SAVE | grep -q OK || fail "SAVE after the restore failed"
	redis-check-rdb "$T/redis/dump.rdb" >"$T/check.log" 2>&1 ||
		fail "the new RDB: $(tail -n 2 "$T/check.log")"
	assert_eq 200 "$(redis-cli -p $port DBSIZE)" "keys after the restore"
}

# python3 http.server (HTTP/1.1) with a keep-alive client mid-session
test_http_server() {
	local port=$((PORT_BASE + 80))
	mkdir "$T/www"
	echo "first file" >"$T/www/a.txt"
	echo "second file" >"$T/www/b.txt"
	server_start http "Serving HTTP on" "$PY" -u -m http.server --bind 127.0.0.1 \
		--protocol HTTP/1.1 --directory "$T/www" $port
	peer_start "$T/peer.log" http $port "$T/go"
	wait_for_line "$T/peer.log" '^first|^FAIL' 20 || fail "the first GET got no answer"
	assert_peer_ok "$T/peer.log"
	snap_kill_peer "$WL_PID" "$T/peer.log" "$T/go" || return 0
	grep -qE "tcp established 127\.0\.0\.1:$port peer" "$CKPT_OUT" ||
		fail "the keep-alive connection is not in the image"
	restore_d
	touch "$T/go"
	wait_for_line "$T/peer.log" '^second ok|^FAIL' 30 || fail "the second GET got no answer"
	assert_peer_ok "$T/peer.log"
	grep -c '"GET /[ab].txt HTTP/1.1" 200' "$WL_LOG" | grep -qx 2 ||
		fail "the server's log lacks the two GETs: $(tail -n 2 "$WL_LOG")"
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="pair peer_netns redis"
run_tests "$@"
