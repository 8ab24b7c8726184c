#!/usr/bin/env bash
# The interactive screen on a terminal: it draws the workload, quits on
# q and on Ctrl-C, and gives the terminal back (main screen, cursor,
# canonical mode with echo).
. "$(dirname "$0")/../trace_lib.sh"

start_workload filesleep "$T/wl.out" "$T/data" 20

python3 - "$BPFCKPT" "$WL_PID" <<'PY' || exit 1
import os, pty, select, sys, termios, time
bpfckpt, pid = sys.argv[1], sys.argv[2]

def fail(msg):
    print(f"FAIL top_interactive: {msg}", file=sys.stderr)
    sys.exit(1)

def run(key):
    child, fd = pty.fork()
    if child == 0:
        os.execv(bpfckpt, [bpfckpt, "top", pid, "-d", "0.2"])
    out, sent, deadline = b"", False, time.time() + 15
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out += data
        if not sent and out.count(b"bpfckpt top - pid") >= 2:
            os.write(fd, key)
            sent = True
    else:
        os.kill(child, 9)
        fail(f"top did not quit on {key!r}: {out[-300:]!r}")
    _, status = os.waitpid(child, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fail(f"top exited with status {status:#x} on {key!r}")
    if b"\x1b[?1049h" not in out or not out.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l"):
        fail(f"the alternate screen was not left last: {out[-80:]!r}")
    if f"{pid} ".encode() not in out or b"clock_nanosleep" not in out:
        fail("the screen does not show the workload")
    return fd

for key in (b"q", b"\x03"):  # q, then Ctrl-C (SIGINT from the tty)
    fd = run(key)
    try:
        lflag = termios.tcgetattr(fd)[3]
        if not lflag & termios.ICANON or not lflag & termios.ECHO:
            fail(f"terminal left without ICANON/ECHO after {key!r}")
    except termios.error:
        pass  # the pty is gone with its only user: nothing was left behind
    os.close(fd)
PY
exit 0
