#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# The peer outside the snapped tree, for tests/e2e/restore_tcp.sh.  It
# keeps one connection open across snap --kill and restore and checks
# what it gets; prints "FAIL: ..." (and exits 1) on anything else,
# including a reset or an end of stream.
#   lines PORT [HOST]   sends "N\n" every 20 ms, wants "N\n" back in order;
#                       "ok N" every 10
#   redis PORT GO       SET 200 keys, prints "set id=<CLIENT ID>", waits for
#                       file GO, GETs them on the same connection, prints
#                       "get ok id=<CLIENT ID>"
#   http PORT GO        HTTP/1.1 keep-alive: GET /a.txt, prints "first",
#                       waits for file GO, GET /b.txt on the same socket,
#                       prints "second ok"
import os
import socket
import sys
import threading
import time


def fail(msg):
    print("FAIL: %s" % msg, flush=True)
    os._exit(1)


def wait_file(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def lines(port, host):
    # the writer does not wait for answers: while the tree is down the
    # peer keeps sending, as a real client would, and retransmits
    s = socket.create_connection((host, port))
    f = s.makefile("rb")

    def writer():
        n = 0
        try:
            while True:
                n += 1
                s.sendall(b"%d\n" % n)
                time.sleep(0.02)
        except OSError as e:
            fail("send %d: %s" % (n, e))

    threading.Thread(target=writer, daemon=True).start()
    n = 0
    while True:
        n += 1
        got = f.readline()
        if got != b"%d\n" % n:
            fail("wanted %d, got %r" % (n, got))
        if n % 10 == 0:
            print("ok %d" % n, flush=True)


class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        line = self.f.readline()
        if not line:
            fail("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"-":
            fail("redis: %s" % rest.decode())
        return rest


def value(i):
    return b"value-%d-" % i + b"x" * (i % 50)


def redis(port, go):
    r = Resp(port)
    for i in range(200):
        if r.cmd("SET", "key%d" % i, value(i)) != b"OK":
            fail("SET key%d" % i)
    print("set id=%s" % r.cmd("CLIENT", "ID").decode(), flush=True)
    wait_file(go)
    for i in range(200):
        got = r.cmd("GET", "key%d" % i)
        if got != value(i):
            fail("GET key%d gave %r" % (i, got))
    print("get ok id=%s" % r.cmd("CLIENT", "ID").decode(), flush=True)


def http_get(s, f, path):
    s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % path)
    status = f.readline()
    if not status.startswith(b"HTTP/1.1 200"):
        fail("GET /%s: %r" % (path.decode(), status))
    length = None
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
        if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            fail("the server closes the connection")
    if length is None:
        fail("no Content-Length")
    return f.read(length)


def http(port, go):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    if http_get(s, f, b"a.txt") != b"first file\n":
        fail("/a.txt differs")
    print("first", flush=True)
    wait_file(go)
    if http_get(s, f, b"b.txt") != b"second file\n":
        fail("/b.txt differs")
    print("second ok", flush=True)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    try:
        if mode == "lines":
            lines(port, sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1")
        elif mode == "redis":
            redis(port, sys.argv[3])
        elif mode == "http":
            http(port, sys.argv[3])
        else:
            fail("unknown mode %s" % mode)
    except OSError as e:
        fail("%s" % e)


main()
