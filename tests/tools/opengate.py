#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""opengate.py DIR ARMED BLOCKED RELEASE [TIMEOUT_S]

Holds the first open() of the directory DIR in the kernel (a fanotify
FAN_OPEN_PERM mark) until the file RELEASE exists, then allows it.
Writes the file ARMED once the mark is in place and BLOCKED (holding the
opener's pid) while an open is held.  This stops a program at an exact
point -- bpfckpt snap opens the image's directory only once it has frozen
and collected the tree -- so that a test can act there deterministically.
"""
import ctypes
import os
import struct
import sys
import time

FAN_CLOEXEC = 0x1
FAN_CLASS_CONTENT = 0x4
FAN_MARK_ADD = 0x1
FAN_OPEN_PERM = 0x10000
FAN_ONDIR = 0x40000000
FAN_ALLOW = 0x1
AT_FDCWD = -100
META = struct.Struct("=IBBHQii")     # struct fanotify_event_metadata


def write_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        return 2
    dirpath, armed, blocked, release = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) == 6 else 60
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64,
                                   ctypes.c_int, ctypes.c_char_p]
    fan = libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, os.O_RDONLY)
    if fan < 0:
        print(f"fanotify_init: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    if libc.fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR,
                          AT_FDCWD, dirpath.encode()):
        print(f"fanotify_mark: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    write_file(armed, "")
    data = os.read(fan, 4096)
    _, _, _, _, mask, fd, pid = META.unpack_from(data)
    write_file(blocked, f"{pid}\n")
    deadline = time.monotonic() + timeout
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(fan, struct.pack("=iI", fd, FAN_ALLOW))
    os.close(fd)
    # closing the group allows whatever else is pending and drops the mark
    return 0


if __name__ == "__main__":
    sys.exit(main())
