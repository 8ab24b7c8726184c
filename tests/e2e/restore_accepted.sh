#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unix connections made by connect() and accept() inside the tree come
# back connected and accepted again (user/fd/unix.c), so that the names
# each end sees hold: getsockname of the accepted end is the listener's
# path or abstract name, getpeername of the connecting end too, and a
# client bound to a name of its own keeps it.
. "$(dirname "$0")/../lib.sh"

# a server and a forked client; three connections:
#   P: to a path listener that stays open (the client unbound);
#   A: to an abstract listener closed after accept();
#   B: from a client bound to a path of its own, to the path listener.
# Each tick the client sends on each and the server echoes it back,
# checking every name of every end.
write_accepted() {
	cat >"$T/acc.py" <<'EOF'
import os, socket, sys, time
d = sys.argv[1]
os.setsid()
path, cli, abstract = d + "/srv", d + "/cli", b"\0bpfckpt-acc-%d" % os.getpid()
lp = socket.socket(socket.AF_UNIX); lp.bind(path); lp.listen(4)
la = socket.socket(socket.AF_UNIX); la.bind(abstract); la.listen(4)
pid = os.fork()
if pid == 0:
    p = socket.socket(socket.AF_UNIX); p.connect(path)
    a = socket.socket(socket.AF_UNIX); a.connect(abstract)
    b = socket.socket(socket.AF_UNIX); b.bind(cli); b.connect(path)
    n = 0
    while True:
        n += 1
        for name, s, peer in (("P", p, path), ("A", a, abstract), ("B", b, path)):
            if s.getpeername() != peer or (name == "B" and s.getsockname() != cli):
                print("FAIL: client %s: names %r %r" % (name, s.getsockname(), s.getpeername()), flush=True)
                os._exit(1)
            s.sendall(b"%s %d\n" % (name.encode(), n))
            if s.recv(64) != b"%s %d\n" % (name.encode(), n):
                print("FAIL: client %s: no echo of %d" % (name, n), flush=True)
                os._exit(1)
        time.sleep(0.03)
conns = [("P", lp.accept()[0], path, ""), ("A", la.accept()[0], abstract, ""),
         ("B", lp.accept()[0], path, cli)]
la.close()
print("ready pid=%d" % os.getpid(), flush=True)
n = 0
while True:
    n += 1
    for name, s, me, peer in conns:
        if s.getsockname() != me or s.getpeername() != peer:
            print("FAIL: server %s: names %r %r, expected %r %r" % (name, s.getsockname(), s.getpeername(), me, peer), flush=True)
            raise SystemExit(1)
        got = s.recv(64)
        if got != b"%s %d\n" % (name.encode(), n):
            print("FAIL: server %s: got %r at %d" % (name, got, n), flush=True)
            raise SystemExit(1)
        s.sendall(got)
    print("tick %d" % n, flush=True)
EOF
}

test_accepted_running() {
	write_accepted
	wl_start_via acc python3 "$T/acc.py" "$T"
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	restore_d
	restored_matches --running
	assert_ticking "$WL_LOG" 5
}

test_accepted_stopped() {
	write_accepted
	wl_start_via acc python3 "$T/acc.py" "$T"
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

run_tests "$@"
