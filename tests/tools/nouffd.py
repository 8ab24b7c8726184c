#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nouffd.py syscall|api CMD...: runs CMD as on a kernel whose userfaultfd
is missing (syscall: userfaultfd(2) fails with ENOSYS) or lacks the
features asked for (api: the UFFDIO_API ioctl fails with EINVAL, what
the kernel answers for a feature it does not know).  A seccomp filter,
x86-64 only; every other call goes through."""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
NR_USERFAULTFD = 323
NR_IOCTL = 16
UFFDIO_API = 0xC018AA3F        # _IOWR(0xAA, 0x3F, struct uffdio_api)
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL = 0x80000000
ENOSYS, EINVAL = 38, 22
# BPF: ld w abs, jeq k, ret k
LD, JEQ, RET = 0x20, 0x15, 0x06


def ins(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def program(how):
    p = [ins(LD, 0, 0, 4),                       # arch
         ins(JEQ, 1, 0, AUDIT_ARCH_X86_64),
         ins(RET, 0, 0, RET_KILL),
         ins(LD, 0, 0, 0)]                       # syscall number
    if how == "syscall":
        p += [ins(JEQ, 0, 1, NR_USERFAULTFD),
              ins(RET, 0, 0, RET_ERRNO | ENOSYS)]
    else:
        p += [ins(JEQ, 0, 3, NR_IOCTL),
              ins(LD, 0, 0, 24),                 # args[1], low half
              ins(JEQ, 0, 1, UFFDIO_API),
              ins(RET, 0, 0, RET_ERRNO | EINVAL)]
    p.append(ins(RET, 0, 0, RET_ALLOW))
    return b"".join(p)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("syscall", "api"):
        sys.stderr.write("usage: nouffd.py syscall|api CMD...\n")
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    code = program(sys.argv[1])
    buf = ctypes.create_string_buffer(code)
    fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or \
       libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0):
        sys.stderr.write("nouffd: seccomp: %s\n" % os.strerror(ctypes.get_errno()))
        return 1
    os.execvp(sys.argv[2], sys.argv[2:])


sys.exit(main())
