#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fd kinds beyond files reopened by path (user/fd/): snap --kill, restore,
# and the workload checks its own fds with the data that was in flight.
. "$(dirname "$0")/../lib.sh"

assert_no_fail() {
	if grep -m1 '^FAIL' "$WL_LOG" >/dev/null; then
		fail "the workload says: $(grep -m1 '^FAIL' "$WL_LOG")"
	fi
	return 0
}

# pipes and a fifo, full, dup'ed, at high fds, with bytes nobody reads
test_pipes_stopped() {
	wl_start pipes "$T" 50
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

test_pipes_running() {
	wl_start pipes "$T" 20
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# show names the pipe and what it held
test_pipes_show() {
	wl_start pipes "$T" 50
	assert_ticking "$WL_LOG" 2
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show "$T/img"
	grep -qE "^ +5 fifo .*pipe:\[[0-9]+\] \(pipe of 131072 with 1 readers, 0 writers, 5000 bytes queued\)" "$CKPT_OUT" ||
		fail "show lacks the stash pipe: $(grep fifo "$CKPT_OUT" | head -n 3)"
	assert_ckpt 0 show --json "$T/img"
	python3 - "$CKPT_OUT" <<'PY' || fail "show --json lacks the pipes' state"
import json, sys
fds = [f for p in json.load(open(sys.argv[1]))["processes"] for f in p["fds"]]
q = sorted(f["pipe"]["queued"] for f in fds if "pipe" in f)
sys.exit(0 if 5000 in q and 3000 in q and q[-1] > 5000 else 1)
PY
	cont_tree "$WL_PID"
}

# a pipe between two processes of the tree, in python
test_python_pipe() {
	wl_start_via py python3 -c 'import os, time
os.setsid()
r, w = os.pipe()
if os.fork() == 0:
    os.close(r)
    n = 0
    while True:
        n += 1
        os.write(w, b"%d\n" % n)
        time.sleep(0.02)
os.close(w)
print("ready pid=%d" % os.getpid(), flush=True)
f = os.fdopen(r)
last = 0
for line in f:
    n = int(line)
    if n != last + 1:
        print("FAIL: got %d after %d" % (n, last), flush=True)
    last = n
    print("tick %d" % n, flush=True)'
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# producer | slow | sha256sum in bash, with megabytes in the pipes: the
# checksum at the end is the one of what the producer wrote
test_bash_pipeline() {
	local want got
	cat >"$T/produce.py" <<'PY'
import hashlib, sys
for i in range(4096):
    sys.stdout.buffer.write(hashlib.sha256(b"%d" % i).digest() * 128)
PY
	cat >"$T/slow.py" <<'PY'
import os, sys, time
n = 0
while True:
    b = os.read(0, 65536)
    if not b:
        break
    n += len(b)
    # a freeze interrupts a blocked write: the rest is written again
    while b:
        b = b[os.write(1, b):]
    print("moved %d" % n, file=sys.stderr, flush=True)
    time.sleep(0.01)
PY
	want=$(python3 "$T/produce.py" | sha256sum)
	WL_LOG=$T/moved.log
	clean_exec setsid bash -c 'echo "ready pid=$$" >&2; python3 "$1/produce.py" | python3 "$1/slow.py" | sha256sum >"$1/sum"; echo done >&2' \
		bash "$T" </dev/null 2>"$WL_LOG" &
	WL_PID=$!
	echo "$WL_PID" >>"$T/.sessions"
	wait_for_line "$WL_LOG" "^moved [0-9]{6,}" 30 || fail "the pipeline did not start: $(tail -n 3 "$WL_LOG")"
	snap_kill_json "$WL_PID"
	[ -s "$T/sum" ] && fail "the pipeline ended before the snap"
	# (its producer may be done before restore_d could look for it)
	assert_ckpt 0 restore "$T/img" -d
	wait_for_line "$WL_LOG" "^done" 60 || fail "the restored pipeline did not finish: $(tail -n 2 "$WL_LOG")"
	got=$(cat "$T/sum")
	assert_eq "$want" "$got" "checksum of what went through the pipes"
}

# heap's stdout is a pipe to a cat outside the tree: snap --kill refuses,
# restore refuses without --inherit-fd and with it the ticks reach cat
test_pipe_to_outside_inherited() {
	local cat_pid ino
	{ clean_exec "$WL/heap" 8 50 </dev/null 2>&1 | cat >"$T/heap.log"; } &
	WL_LOG=$T/heap.log
	wait_for_line "$WL_LOG" '^ready pid=' 30 || fail "heap did not start: $(cat "$WL_LOG")"
	WL_PID=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$WL_LOG")
	echo "$WL_PID" >>"$T/.sessions"
	ino=$(readlink "/proc/$WL_PID/fd/1")
	cat_pid=$(pgrep -P "$(ps -o ppid= -p "$WL_PID" | tr -d ' ')" -x cat | head -n 1)
	[ -n "$cat_pid" ] || fail "no cat beside heap"
	# stopped: no tick is printed between the snap and the kill
	stop_tree "$WL_PID"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "fd 1 is $(printf '%s' "$ino" | sed 's/[][]/\\&/g') \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd fd\[N\]:pipe:\[[0-9]+\]"
	assert_alive "$WL_PID"
	assert_fd_verdict "fd 1 is $(printf '%s' "$ino" | sed 's/[][]/\\&/g') \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	# a write end of our own keeps cat's pipe open once heap is gone
	exec 7>"/proc/$cat_pid/fd/0"
	kill_session "$WL_PID"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "fd 1 is $(printf '%s' "$ino" | sed 's/[][]/\\&/g') .*--inherit-fd"
	assert_ckpt 2 restore "$T/img" -d --inherit-fd "fd[9]:$ino"
	assert_err "fd 9: Bad file descriptor"
	assert_ckpt 1 restore "$T/img" -d --inherit-fd "fd[7]:pipe:[1]"
	assert_err "no fd of the image is pipe:\[1\] opened for writing"
	restore_d --inherit-fd "fd[7]:$ino"
	exec 7>&-
	[ "$(readlink "/proc/$WL_PID/fd/1")" = "$ino" ] || fail "fd 1 is $(readlink "/proc/$WL_PID/fd/1"), not $ino"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# unix sockets with queued data in both directions, of every type, with
# options, bound, abstract and listening; on SIGUSR1 the workload reads
# every queue and says whether all came back as it was sent
start_sockets() {
	wl_start_via sk python3 -c 'import os, signal, socket, sys, time
os.setsid()
d = sys.argv[1]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
c, e = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
s1, s2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
h1, h2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
a.sendall(b"x" * 100000)
b.sendall(b"hello from b")
for i in range(5):
    c.send(b"dgram %d" % i)
s1.send(b"p1"); s1.send(b"packet two")
e.send(b"back"); e.send(b"again back")
s2.send(b"reply")
h1.send(b"last words"); h1.shutdown(socket.SHUT_WR)
a.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
e.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 300000)
rcvbuf = e.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
os.dup2(b.fileno(), 50)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(d + "/srv.sock"); srv.listen(7)
ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ab.bind(b"\0bpfckpt-test-%d" % os.getpid())
tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
tx.sendto(b"to the abstract one", b"\0bpfckpt-test-%d" % os.getpid())
check = []
signal.signal(signal.SIGUSR1, lambda *a: check.append(1))
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while not check:
    n += 1
    print("tick %d" % n, flush=True)
    time.sleep(0.05)
got = b""
while len(got) < 100000:
    got += b.recv(65536)
bad = []
if got != b"x" * 100000: bad.append("stream a->b")
if a.recv(100) != b"hello from b": bad.append("stream b->a")
if [e.recv(100) for i in range(5)] != [b"dgram %d" % i for i in range(5)]: bad.append("dgrams")
if s2.recv(100) != b"p1" or s2.recv(100) != b"packet two": bad.append("seqpackets")
if c.recv(100) != b"back" or c.recv(100) != b"again back": bad.append("dgrams back")
if s1.recv(100) != b"reply": bad.append("seqpacket back")
if h2.recv(100) != b"last words" or h2.recv(100) != b"": bad.append("shutdown")
if ab.recv(100) != b"to the abstract one": bad.append("abstract")
if a.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED) != 1: bad.append("SO_PASSCRED")
if e.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) != rcvbuf: bad.append("SO_RCVBUF")
if os.fstat(50).st_ino != os.fstat(b.fileno()).st_ino: bad.append("dup")
cl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); cl.connect(d + "/srv.sock")
x, _ = srv.accept(); cl.send(b"hi")
if x.recv(10) != b"hi": bad.append("listener")
print("RESULT " + (" ".join(bad) if bad else "ok"), flush=True)
time.sleep(60)' "$T"
	assert_ticking "$WL_LOG" 2
}

test_unix_sockets() {
	start_sockets
	snap_kill_json "$WL_PID"
	assert_ckpt 0 show "$T/img"
	grep -qE " unix .*\(stream connected to socket:\[[0-9]+\], 1 messages of 100000 bytes queued\)" "$CKPT_OUT" ||
		fail "show does not say what the stream held: $(grep unix "$CKPT_OUT" | head -n 3)"
	grep -qE " unix .*\(stream listening name $T/srv.sock," "$CKPT_OUT" || fail "show lacks the listener"
	# a listener's missing socket file is made again (restore_accepted
	# has one left in place, replaced)
	rm "$T/srv.sock"
	restore_d
	[ -S "$T/srv.sock" ] || fail "the listener's socket file was not made again"
	restored_matches --running
	assert_ticking "$WL_LOG" 3
	kill -USR1 "$WL_PID"
	wait_for_line "$WL_LOG" "^RESULT" 10 || fail "no RESULT after SIGUSR1: $(tail -n 3 "$WL_LOG")"
	assert_eq "RESULT ok" "$(grep -m1 '^RESULT' "$WL_LOG")" "what the sockets held"
}

# fds in flight in a unix socket cannot be restored: snap --kill refuses
test_unix_scm_rights_refused() {
	wl_start_via py python3 -c 'import os, socket, time
os.setsid()
a, b = socket.socketpair()
socket.send_fds(a, [b"here"], [0])
print("ready pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(0.05)'
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "pid $WL_PID: fd 4 is socket:\[[0-9]+\]: file descriptors in flight \(SCM_RIGHTS\) are in its queue: not supported"
	assert_alive "$WL_PID"
	assert_fd_verdict "fd 4 is socket:\[[0-9]+\]: file descriptors in flight \(SCM_RIGHTS\) are in its queue: not supported"
}

# assert_fd_verdict REGEX: inspect's verdict on $WL_PID refuses for
# REGEX, as snap --kill did (the fd kinds' one check serves both)
assert_fd_verdict() {
	assert_ckpt 0 inspect "$WL_PID" --json
	python3 - "$CKPT_OUT" "$WL_PID" "$1" <<'PY' || fail "inspect's verdict does not say '$1': $(head -c 600 "$CKPT_OUT")"
import json, re, sys
v = json.load(open(sys.argv[1]))["verdict"]
why = [r["reason"] for r in v["reasons"] if r["what"] == "fd" and r["pid"] == int(sys.argv[2])]
sys.exit(0 if not v["restorable"] and any(re.search(sys.argv[3], w) for w in why) else 1)
PY
}

# a socket connected to a process outside the tree: refused, naming the option
test_unix_peer_outside_refused() {
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); time.sleep(120)' "$T/daemon.sock" </dev/null >/dev/null 2>&1 &
	on_exit "kill $!"
	wait_until 10 "[ -S '$T/daemon.sock' ]" || fail "no daemon socket"
	wl_start_via py python3 -c 'import os, socket, sys, time
os.setsid()
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
print("ready pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(0.05)' "$T/daemon.sock"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "pid $WL_PID: fd 3 is socket:\[[0-9]+\] \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd fd\[N\]:socket:\[[0-9]+\]"
	assert_alive "$WL_PID"
	assert_fd_verdict "fd 3 is socket:\[[0-9]+\] \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd"
}

# a socket connected to a daemon outside the tree: restore refuses
# without --inherit-fd, and with the socket given (taken from the
# workload with pidfd_getfd before it was killed) the workload goes on
# talking to the daemon through it
test_unix_peer_outside_inherited() {
	local key
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
while True:
    b = c.recv(64)
    if not b:
        break
    c.sendall(b)' "$T/daemon.sock" </dev/null >/dev/null 2>&1 &
	on_exit "kill $!"
	wait_until 10 "[ -S '$T/daemon.sock' ]" || fail "no daemon socket"
	wl_start_via py python3 -c 'import os, socket, sys, time
os.setsid()
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    s.sendall(b"%d\n" % n)
    if s.recv(64) != b"%d\n" % n:
        print("FAIL: no echo of %d" % n, flush=True)
        raise SystemExit(1)
    print("tick %d" % n, flush=True)
    time.sleep(0.03)' "$T/daemon.sock"
	assert_ticking "$WL_LOG" 3
	key=$(readlink "/proc/$WL_PID/fd/3")
	stop_tree "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	# holds the workload's end while it is killed, then restores with it
	python3 - "$WL_PID" "$T/go" "$BPFCKPT" "$T/img" "$key" >"$T/inh.out" 2>&1 <<'PY' &
import ctypes, os, sys, time
pid, go, bpfckpt, img, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
fd = ctypes.CDLL(None, use_errno=True).syscall(438, os.pidfd_open(pid), 3, 0)	# pidfd_getfd
if fd < 0:
    sys.exit("pidfd_getfd: errno %d" % ctypes.get_errno())
print("held", flush=True)
t0 = time.monotonic()
while not os.path.exists(go) and time.monotonic() - t0 < 60:
    time.sleep(0.02)
os.set_inheritable(fd, True)
os.execv(bpfckpt, [bpfckpt, "restore", img, "-d", "--inherit-fd", "fd[%d]:%s" % (fd, key)])
PY
	local holder=$!
	on_exit "kill $holder 2>/dev/null"
	wait_for_line "$T/inh.out" "^held" 10 || fail "could not take the workload's socket: $(cat "$T/inh.out")"
	kill_session "$WL_PID"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "fd 3 is $(printf '%s' "$key" | sed 's/[][]/\\&/g') \(inode [0-9]+\), whose other end is outside the tree: give restore --inherit-fd"
	assert_no_pids "$WL_PID"
	touch "$T/go"
	wait "$holder" || fail "restore --inherit-fd failed: $(cat "$T/inh.out")"
	[ "$(readlink "/proc/$WL_PID/fd/3")" = "$key" ] || fail "fd 3 is $(readlink "/proc/$WL_PID/fd/3"), not $key"
	cont_tree "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# python's multiprocessing: a duplex Pipe (a socketpair) and a one-way
# one (a pipe) to a Process
test_python_multiprocessing_pipe() {
	wl_start_via mp python3 -c 'import multiprocessing as mp, os, time
def echo(conn, w):
    while True:
        x = conn.recv()
        conn.send(x * 2)
        w.send(x)
if __name__ == "__main__":
    os.setsid()
    a, b = mp.Pipe()
    r, w = mp.Pipe(duplex=False)
    mp.Process(target=echo, args=(b, w), daemon=True).start()
    print("ready pid=%d" % os.getpid(), flush=True)
    n = 0
    while True:
        n += 1
        a.send(n)
        if a.recv() != 2 * n or r.recv() != n:
            print("FAIL: answer %d" % n, flush=True)
        print("tick %d" % n, flush=True)
        time.sleep(0.03)'
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
	assert_no_fail
}

# eventfd, timerfd, signalfd and epoll (epoll in epoll too): on
# SIGUSR1 the workload checks that each holds what it held
start_event_fds() {
	wl_start_via ev python3 -c 'import ctypes, os, select, signal, struct, time
libc = ctypes.CDLL(None, use_errno=True)
os.setsid()
e = os.eventfd(7, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
e2 = os.eventfd(0)
os.eventfd_write(e2, 1 << 40)
tfd = libc.timerfd_create(1, os.O_NONBLOCK)	# CLOCK_MONOTONIC, 100 ms period
libc.timerfd_settime(tfd, 0, struct.pack("qqqq", 0, 100000000, 0, 100000000), None)
stale = libc.timerfd_create(1, 0)		# fired once, never read
libc.timerfd_settime(stale, 0, struct.pack("qqqq", 0, 0, 0, 1000000), None)
sigs = {signal.SIGUSR2, signal.SIGHUP}
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
mask = struct.pack("Q", (1 << (signal.SIGUSR2 - 1)) | (1 << (signal.SIGHUP - 1)))
sfd = libc.signalfd(-1, mask, os.O_NONBLOCK)
if sfd < 0: raise SystemExit("FAIL: signalfd")
r, w = os.pipe()
os.write(w, b"ready data")
ep = select.epoll()
ep.register(r, select.EPOLLIN | select.EPOLLET)
ep.register(e, select.EPOLLIN)
ep.register(stale, select.EPOLLIN | select.EPOLLONESHOT)
inner = select.epoll()
inner.register(e2, select.EPOLLIN)
ep.register(inner.fileno(), select.EPOLLIN)
time.sleep(0.02)
ep.poll(0)		# the edge and the one-shot are reported: not again
before = sorted(ep.poll(0))
check = []
signal.signal(signal.SIGUSR1, lambda *a: check.append(1))
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while not check:
    n += 1
    print("tick %d" % n, flush=True)
    time.sleep(0.05)
bad = []
# a restored edge-triggered item may say its edge once more
ready = sorted(x for x in ep.poll(0) if x[0] != r)
if ready != before: bad.append("epoll says %s, said %s" % (ready, before))
if os.eventfd_read(e) != 1 or os.eventfd_read(e) != 1: bad.append("eventfd semaphore")
if os.eventfd_read(e2) != 1 << 40: bad.append("eventfd count")
if os.read(stale, 8) != struct.pack("Q", 1): bad.append("timerfd ticks")
buf = ctypes.create_string_buffer(8)
libc.read(tfd, buf, 8)				# whatever is due now
t0 = time.monotonic(); got = 0
while got < 5 and time.monotonic() - t0 < 2:
    if libc.read(tfd, buf, 8) == 8:
        got += struct.unpack("Q", buf.raw)[0]
    time.sleep(0.005)
took = time.monotonic() - t0
if got < 5 or not 0.35 < took < 0.8: bad.append("timerfd: %d expirations in %.2f s" % (got, took))
os.kill(os.getpid(), signal.SIGUSR2)
si = os.read(sfd, 128)
if len(si) != 128 or struct.unpack("I", si[:4])[0] != signal.SIGUSR2: bad.append("signalfd")
print("RESULT " + ("; ".join(bad) if bad else "ok"), flush=True)
time.sleep(60)'
	assert_ticking "$WL_LOG" 2
}

test_event_fds() {
	start_event_fds
	# an eventfd's id and a timer's time left change by themselves
	DEEP_VOLATILE="" snap_kill_json "$WL_PID"
	assert_ckpt 0 show "$T/img"
	for k in eventfd timerfd signalfd epoll; do
		grep -qE "^ +[0-9]+ $k " "$CKPT_OUT" || fail "show lists no $k"
	done
	restore_d
	restored_matches --running
	assert_ticking "$WL_LOG" 3
	kill -USR1 "$WL_PID"
	wait_for_line "$WL_LOG" "^RESULT" 10 || fail "no RESULT after SIGUSR1: $(tail -n 3 "$WL_LOG")"
	assert_eq "RESULT ok" "$(grep -m1 '^RESULT' "$WL_LOG")" "what the event fds held"
}

# memfds (content, offset, seals, name) and a file deleted while open
start_content_fds() {
	wl_start_via mf python3 -c 'import os, fcntl, time, signal, sys
os.setsid()
d = sys.argv[1]
m = os.memfd_create("bpfckpt-test", os.MFD_ALLOW_SEALING)
os.write(m, b"memfd content " * 1000)
os.lseek(m, 7, 0)
fcntl.fcntl(m, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
m2 = os.memfd_create("plain")
os.write(m2, b"x")
g = os.open(d + "/gone.txt", os.O_RDWR | os.O_CREAT, 0o640)
os.write(g, b"deleted but open")
os.unlink(d + "/gone.txt")
g2 = os.open("/proc/self/fd/%d" % g, os.O_RDONLY)
check = []
signal.signal(signal.SIGUSR1, lambda *a: check.append(1))
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while not check:
    n += 1; print("tick %d" % n, flush=True); time.sleep(0.05)
bad = []
if os.pread(m, 14000, 0) != b"memfd content " * 1000: bad.append("memfd content")
if os.lseek(m, 0, 1) != 7: bad.append("memfd offset")
if fcntl.fcntl(m, fcntl.F_GET_SEALS) != fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW: bad.append("seals")
try:
    os.ftruncate(m, 10); bad.append("shrink seal does not hold")
except PermissionError: pass
if fcntl.fcntl(m2, fcntl.F_GET_SEALS) != fcntl.F_SEAL_SEAL: bad.append("plain memfd seals")
if os.readlink("/proc/self/fd/%d" % m) != "/memfd:bpfckpt-test (deleted)": bad.append("memfd name")
if os.pread(g, 100, 0) != b"deleted but open" or os.fstat(g).st_nlink: bad.append("deleted file")
if os.fstat(g).st_ino != os.fstat(g2).st_ino or os.fstat(g).st_mode & 0o777 != 0o640: bad.append("deleted file shared")
if os.readlink("/proc/self/fd/%d" % g) != d + "/gone.txt (deleted)": bad.append("deleted name")
print("RESULT " + ("; ".join(bad) if bad else "ok"), flush=True)
time.sleep(60)
' "$T"
	assert_ticking "$WL_LOG" 2
}

test_memfd_and_deleted_file() {
	start_content_fds
	snap_kill_json "$WL_PID"
	restore_d
	restored_matches --running
	[ -e "$T/gone.txt" ] && fail "the deleted file has a name again"
	kill -USR1 "$WL_PID"
	wait_for_line "$WL_LOG" "^RESULT" 10 || fail "no RESULT after SIGUSR1: $(tail -n 3 "$WL_LOG")"
	assert_eq "RESULT ok" "$(grep -m1 '^RESULT' "$WL_LOG")" "what the memfds and the deleted file held"
}

# past snap --file-max a content is not saved, and restore would refuse
test_file_max_refused() {
	start_content_fds
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill --file-max 100
	assert_err "pid $WL_PID: fd 3: /memfd:bpfckpt-test \(deleted\): its 14000 bytes were not saved \(snap --file-max BYTES saves up to [0-9]+\)"
	assert_alive "$WL_PID"
	assert_ckpt 2 snap "$WL_PID" --file-max 1x
	assert_err "--file-max '1x': bytes"
	# an image snapped so (without --kill): restore refuses, and leaves
	# no process
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --file-max 100
	kill_session "$WL_PID"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "pid $WL_PID: fd 3: /memfd:bpfckpt-test \(deleted\): its 14000 bytes were not saved \(snap --file-max BYTES saves up to [0-9]+\)"
	assert_no_pids "$WL_PID"
}

run_tests "$@"
