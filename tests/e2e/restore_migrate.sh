#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lazy migration: snap --serve in one network namespace, restore --lazy
# --from in another, the two joined by a veth pair this script makes
# (and removes).  nsenter --net, not ip netns exec: that one also makes a
# mount namespace (for /sys), and snap refuses a tree whose mounts are
# not the snapper's.  The destination also gets a pid namespace of its own
# (unshare -pf): the source tree keeps its pids, frozen, until every
# page has arrived.  The heap workload checks its memory itself, each
# tick and in full every few ticks, and its log goes on across the move.
. "$(dirname "$0")/../lib.sh"

PFX=${MIG_PREFIX:-t13b}
NS_A=$PFX-src-$$
NS_B=$PFX-dst-$$
VETH_A=${PFX}a$$
VETH_B=${PFX}b$$
ADDR_A=10.213.0.1
ADDR_B=10.213.0.2
PORT=7130

net_down() {
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	ip link del "$VETH_A" 2>/dev/null
	return 0
}

net_up() {
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
		ip link add "$VETH_A" type veth peer name "$VETH_B" &&
		ip link set "$VETH_A" netns "$NS_A" && ip link set "$VETH_B" netns "$NS_B" &&
		ip -n "$NS_A" addr add "$ADDR_A/24" dev "$VETH_A" &&
		ip -n "$NS_B" addr add "$ADDR_B/24" dev "$VETH_B" &&
		ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
		ip -n "$NS_A" link set "$VETH_A" up && ip -n "$NS_B" link set "$VETH_B" up
}

# serve SID [ENV...]: snap --serve in the source namespace, in the
# background; $SRV is its pid, $T/srv.{out,err,rc} what it said
serve() {
	local sid=$1
	shift
	# env and nsenter exec: $SRV is bpfckpt itself (the tests kill it)
	env "$@" nsenter --net="/run/netns/$NS_A" \
		"$BPFCKPT" snap "$sid" --serve "$ADDR_A:$PORT" \
		>"$T/srv.out" 2>"$T/srv.err" </dev/null &
	SRV=$!
	on_exit "kill -KILL $SRV 2>/dev/null; wait $SRV 2>/dev/null"
	wait_for_line "$T/srv.out" '^pid [0-9]+: serving ' 30 ||
		fail "snap --serve is not serving: $(cat "$T/srv.err")"
}

# srv_wait: snap --serve's exit status in $SRV_RC, once it ended (30 s at most)
srv_wait() {
	SRV_RC=0
	wait_until 30 "! kill -0 $SRV 2>/dev/null" || fail "snap --serve still runs after 30 s"
	wait "$SRV" || SRV_RC=$?
}

# pull [ADDR:PORT]: restore --lazy --from in the destination namespaces,
# in a session of its own ($DST); $T/dst.{out,err} and $T/dst.rc
pull() {
	local from=${1:-$ADDR_A:$PORT}
	setsid bash -c 'nsenter --net="/run/netns/$1" unshare -pf --mount-proc timeout -k 5 "$2" \
		"$3" -v restore --lazy --from "$4" >"$5/dst.out" 2>"$5/dst.err" </dev/null
		echo $? >"$5/dst.rc"' _ "$NS_B" "$CKPT_TIMEOUT" "$BPFCKPT" "$from" "$T" &
	DST=$!
	echo "$DST" >>"$T/.sessions"
}

# the destination's restore ended; its exit status in $DST_RC
dst_wait() {
	wait_until 60 "[ -s '$T/dst.rc' ]" ||
		fail "restore --from still runs after 60 s: $(tail -n 3 "$T/dst.err")"
	DST_RC=$(cat "$T/dst.rc")
}

# nothing of the destination is left (its pid namespace went with restore)
assert_dst_gone() {
	wait_until 10 "! session_alive $DST" ||
		fail "the destination left processes: $(session_pids "$DST" | paste -sd' ')"
}

# the source tree, never killed, runs untraced (not frozen) with its ticks
assert_source_runs() {
	local tracer
	assert_alive "$WL_PID" "the source tree"
	# its tracer's exit detaches it (exit_ptrace), a moment after the kill
	wait_until 10 "awk '/^TracerPid:/ { exit \$2 != 0 }' /proc/$WL_PID/status" ||
		fail "the source tree is still traced: $(grep TracerPid "/proc/$WL_PID/status")"
}

# a heap of 64 MiB moves: the counter goes on at the destination, its
# sums hold, and the source tree is gone once every page is in
test_migrate() {
	local from rc
	wl_start heap 64 50
	assert_ticking "$WL_LOG" 3
	serve "$WL_PID"
	from=$(last_tick "$WL_LOG")
	pull
	srv_wait
	[ "$SRV_RC" = 0 ] || fail "snap --serve exited $SRV_RC: $(cat "$T/srv.err")"
	grep -q 'has every page' "$T/srv.out" || fail "snap --serve: $(cat "$T/srv.out")"
	wait_until 10 "! session_alive $WL_PID" || fail "the source tree survived the pull"
	# past the frozen tick, with full checks of the heap on the way
	wait_until 30 "grep -q '^FAIL' '$WL_LOG' || [ \$(last_tick '$WL_LOG') -ge $((from + 40)) ]" ||
		fail "the moved heap does not tick past $from: $(tail -n 2 "$WL_LOG"; cat "$T/dst.err")"
	assert_log_ok "$WL_LOG"
	[ -s "$T/dst.rc" ] && fail "restore --from ended: $(cat "$T/dst.err")"
	grep -q "^restored pid $WL_PID: " "$T/dst.out" || fail "no summary: $(cat "$T/dst.out")"
	kill_session "$DST"
}

# restore -d: the pull goes on in the detached pager (its threads start
# after the fork); restore returns once the tree runs
test_migrate_detached() {
	local from
	wl_start heap 32 50
	assert_ticking "$WL_LOG" 3
	serve "$WL_PID"
	from=$(last_tick "$WL_LOG")
	# the namespace's init must outlive restore: a shell that waits
	setsid bash -c 'nsenter --net="/run/netns/$1" unshare -pf --mount-proc bash -c "
		timeout -k 5 \$1 \$2 -v restore --lazy --from \$3 -d >\$4/dst.out 2>\$4/dst.err </dev/null
		echo \$? >\$4/dst.rc; exec sleep 600" _ "$2" "$3" "$4" "$5"' \
		_ "$NS_B" "$CKPT_TIMEOUT" "$BPFCKPT" "$ADDR_A:$PORT" "$T" &
	DST=$!
	echo "$DST" >>"$T/.sessions"
	dst_wait
	[ "$DST_RC" = 0 ] || fail "restore -d --from exited $DST_RC: $(cat "$T/dst.err")"
	grep -q 'in the background' "$T/dst.out" || fail "no pager line: $(cat "$T/dst.out")"
	srv_wait
	[ "$SRV_RC" = 0 ] || fail "snap --serve exited $SRV_RC: $(cat "$T/srv.err")"
	wait_until 10 "! session_alive $WL_PID" || fail "the source tree survived the pull"
	wait_until 30 "grep -q '^FAIL' '$WL_LOG' || [ \$(last_tick '$WL_LOG') -ge $((from + 20)) ]" ||
		fail "the moved heap does not tick past $from: $(cat "$T/dst.err")"
	assert_log_ok "$WL_LOG"
	kill_session "$DST"
}

# the server killed mid-pull (paced by serve-slow) as soon as the tree
# runs at the destination: the destination tree is killed, saying how
# many pages never came, and the source tree, thawed by the kernel as its
# tracer died, runs on
test_server_killed() {
	local mid
	wl_start heap 64 50
	assert_ticking "$WL_LOG" 3
	serve "$WL_PID" BPFCKPT_FAULT=serve-slow
	pull
	wait_for_line "$T/dst.out" "^restored pid $WL_PID: " 30 ||
		fail "restore --from did not restore: $(cat "$T/dst.err")"
	kill -KILL "$SRV"
	dst_wait
	[ "$DST_RC" != 0 ] || fail "restore --from exited 0 with the server killed"
	grep -q 'never arrived' "$T/dst.err" ||
		fail "restore --from does not say what was lost: $(cat "$T/dst.err")"
	assert_dst_gone
	assert_source_runs
	mid=$(last_tick "$WL_LOG")
	wait_until 30 "grep -q '^FAIL' '$WL_LOG' || [ \$(last_tick '$WL_LOG') -ge $((mid + 5)) ]" ||
		fail "the source tree does not tick past $mid"
	assert_log_ok "$WL_LOG"
}

# the destination cannot take the tree (its pids are the source's, in
# the same pid namespace): the source is thawed and runs on
test_restore_refused() {
	local rc
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	serve "$WL_PID"
	nsenter --net="/run/netns/$NS_B" timeout -k 5 "$CKPT_TIMEOUT" "$BPFCKPT" restore --lazy \
		--from "$ADDR_A:$PORT" >"$T/dst.out" 2>"$T/dst.err" </dev/null && rc=0 || rc=$?
	[ "$rc" = 1 ] || fail "restore --from exited $rc: $(cat "$T/dst.err")"
	grep -q "pid $WL_PID is in use" "$T/dst.err" || fail "restore: $(cat "$T/dst.err")"
	srv_wait
	[ "$SRV_RC" = 1 ] || fail "snap --serve exited $SRV_RC after the destination failed"
	grep -q 'hung up before every page arrived' "$T/srv.err" ||
		fail "snap --serve: $(cat "$T/srv.err")"
	assert_source_runs
	assert_ticking "$WL_LOG" 5
}

# what the options do not take is a usage error, before anything happens
test_usage() {
	assert_ckpt 2 restore --lazy --from nonsense
	grep -q "not ADDR:PORT" "$CKPT_ERR" || fail "restore: $(cat "$CKPT_ERR")"
	assert_ckpt 2 restore --from "$ADDR_A:$PORT"
	grep -q "needs --lazy" "$CKPT_ERR" || fail "restore: $(cat "$CKPT_ERR")"
	assert_ckpt 2 restore "$T/x.img" --lazy --from "$ADDR_A:$PORT"
	assert_ckpt 2 snap $$ --serve "$ADDR_A"
	assert_ckpt 2 snap $$ --serve "$ADDR_A:$PORT" -o "$T/x.img"
	assert_ckpt 2 snap $$ --serve "$ADDR_A:$PORT" --kill
	[ ! -e "$T/x.img" ] || fail "an image was left"
}

# nobody listens: a clear error, nothing left behind
test_refused() {
	local rc
	pull "$ADDR_A:$((PORT + 1))"
	dst_wait
	[ "$DST_RC" = 1 ] || fail "restore --from exited $DST_RC: $(cat "$T/dst.err")"
	grep -q 'connecting: Connection refused' "$T/dst.err" || fail "restore: $(cat "$T/dst.err")"
	assert_dst_gone
}

# a peer that sends garbage, either way: refused with a clear error
test_garbage() {
	local from
	ip netns exec "$NS_A" python3 -c '
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("up", flush=True)
c, _ = s.accept(); c.sendall(os.urandom(1 << 16)); c.recv(64); c.close()' \
		"$ADDR_A" "$((PORT + 2))" >"$T/fake.out" 2>&1 &
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
	wait_for_line "$T/fake.out" '^up' 10 || fail "the fake server did not start"
	pull "$ADDR_A:$((PORT + 2))"
	dst_wait
	[ "$DST_RC" = 1 ] || fail "restore --from a garbage peer exited $DST_RC: $(cat "$T/dst.err")"
	grep -q 'not a bpfckpt page server' "$T/dst.err" || fail "restore: $(cat "$T/dst.err")"
	assert_dst_gone
	# the right greeting, then a layout whose parts overlap
	ip netns exec "$NS_A" python3 -c '
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); print("up", flush=True)
c, _ = s.accept(); c.recv(24)
c.sendall(struct.pack("<QIIQQII", 0x31565347504b4342, 1, 4096, 1 << 20, 7, 2, 0))
c.sendall(struct.pack("<QQQQ", 0, 8192, 4096, 8192)); c.recv(64); c.close()' \
		"$ADDR_A" "$((PORT + 3))" >"$T/fake2.out" 2>&1 &
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
	wait_for_line "$T/fake2.out" '^up' 10 || fail "the second fake server did not start"
	rm -f "$T/dst.rc"
	pull "$ADDR_A:$((PORT + 3))"
	dst_wait
	[ "$DST_RC" = 1 ] || fail "restore --from a bad layout exited $DST_RC: $(cat "$T/dst.err")"
	grep -q 'does not hold together' "$T/dst.err" || fail "restore: $(cat "$T/dst.err")"
	assert_dst_gone
	# and to the server: it says so, and still serves the real destination
	wl_start heap 16 50
	assert_ticking "$WL_LOG" 3
	serve "$WL_PID"
	ip netns exec "$NS_B" python3 -c '
import os, socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.sendall(os.urandom(24)); c.recv(64)' "$ADDR_A" "$PORT" >/dev/null 2>&1
	wait_for_line "$T/srv.err" 'not a bpfckpt page client' 10 ||
		fail "snap --serve said nothing of the garbage: $(cat "$T/srv.err")"
	rm -f "$T/dst.rc"
	pull
	srv_wait
	[ "$SRV_RC" = 0 ] || fail "snap --serve exited $SRV_RC after the garbage: $(cat "$T/srv.err")"
	from=$(last_tick "$WL_LOG")
	wait_until 30 "grep -q '^FAIL' '$WL_LOG' || [ \$(last_tick '$WL_LOG') -ge $((from + 5)) ]" ||
		fail "the moved heap does not tick past $from: $(cat "$T/dst.err" "$T/dst.rc" 2>&1 | paste -sd';')"
	assert_log_ok "$WL_LOG"
	kill_session "$DST"
}

command -v unshare >/dev/null || { echo "SKIP restore_migrate: no unshare"; exit 0; }
net_down
trap net_down EXIT
net_up || { echo "FAIL restore_migrate: cannot make the namespaces and the veth pair"; exit 1; }
run_tests "$@"
