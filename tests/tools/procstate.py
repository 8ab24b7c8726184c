#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What /proc says about a (stopped) process tree, and whether an image agrees.

  procstate.py capture PID... > state.json
      pids, ppid/pgid/sid, comm, threads (tid, comm), VMAs as in
      /proc/PID/maps ([vsyscall] left out: it is not a VMA), fds with the
      path of /proc/PID/fd/N and the pos of /proc/PID/fdinfo/N.
  procstate.py compare state.json image.json
      image.json is `bpfckpt show --json`; prints one line per difference
      and exits 1 if there is any.
  procstate.py deep PID... > deep.json
      what a process can observe about itself, for a before/after
      comparison: every /proc/PID/status and task status field, stat
      flags, personality, timer slack, loginuid, each thread's comm,
      scheduling policy, nice, affinity and ioprio, each VMA's smaps
      VmFlags, each fd's fdinfo.
  procstate.py deepdiff before.json after.json [--running]
      one line per field that a restore should have kept and did not;
      VOLATILE says, with a reason each, what may differ.
  procstate.py restored image.json state.json [--running]
      state.json was captured after `bpfckpt restore` of image.json: the
      same comparison, except what a restore cannot keep: the root's
      parent is the restorer and a shared anonymous mapping is a new
      shmem inode.  --running: the tree ran since, fd offsets moved on.
"""
import json
import os
import re
import sys

# an object with no name: a restore makes a new inode for it
OBJ = re.compile(r"^(pipe|socket|file):\[(\d+)\]$")


class Renamed:
    """pipe:[N] and socket:[N] name a new inode after a restore: the
    same new one wherever the old one was, and another for each other"""

    def __init__(self):
        self.fwd, self.back = {}, {}

    def same(self, old, new):
        a, b = OBJ.match(old), OBJ.match(new)
        if not a or not b or a.group(1) != b.group(1):
            return old == new
        if old in self.fwd:
            return self.fwd[old] == new
        if new in self.back:
            return False
        self.fwd[old], self.back[new] = new, old
        return True


def read(path):
    with open(path) as f:
        return f.read()


def stat_fields(pid):
    s = read(f"/proc/{pid}/stat")
    rest = s[s.rindex(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgid": int(rest[2]),
            "sid": int(rest[3])}


def maps(pid):
    vmas = []
    for line in read(f"/proc/{pid}/maps").splitlines():
        parts = line.split(None, 5)
        path = parts[5] if len(parts) > 5 else ""
        if path == "[vsyscall]":
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        vmas.append({"start": start, "end": end, "prot": parts[1],
                     "offset": int(parts[2], 16), "dev": parts[3],
                     "inode": int(parts[4]), "path": path})
    return vmas


def fds(pid):
    out = []
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            path = os.readlink(f"/proc/{pid}/fd/{name}")
            info = read(f"/proc/{pid}/fdinfo/{name}")
        except FileNotFoundError:
            continue
        pos = int(info.split("pos:")[1].split()[0])
        out.append({"fd": int(name), "path": path, "pos": pos})
    return out


def capture(pids):
    procs = []
    for pid in pids:
        p = {"pid": pid, "comm": read(f"/proc/{pid}/comm").rstrip("\n")}
        p.update(stat_fields(pid))
        if p["state"] == "Z":
            # nothing but its exit status is left, and the image says so
            p.update(threads=[], vmas=[], fds=[])
            procs.append(p)
            continue
        p["threads"] = [
            {"tid": int(t),
             "comm": read(f"/proc/{pid}/task/{t}/comm").rstrip("\n")}
            for t in sorted(os.listdir(f"/proc/{pid}/task"), key=int)]
        p["vmas"] = maps(pid)
        p["fds"] = fds(pid)
        procs.append(p)
    return procs


# ---- before and after, field by field ----

# status fields that may differ after a restore, and why
VOLATILE = {
    "State": "a running tree may be in another state at each look",
    "PPid": "the root's parent is the restorer (compared for the others)",
    "TracerPid": "snap and restore trace the tree for a moment",
    "FDSize": "the fd table grows by what the restore opened on the way",
    "VmPeak": "a high-water mark: it includes restore's own mappings",
    "VmHWM": "a high-water mark of resident memory",
    "VmRSS": "resident pages: restore brings in only the stored ones",
    "RssAnon": "resident pages", "RssFile": "resident pages",
    "RssShmem": "resident pages",
    "VmPTE": "page tables follow what is resident",
    "VmSwap": "what the kernel swapped out is its own choice",
    "SigQ": "the user's queued signals: other processes count too",
    "voluntary_ctxt_switches": "a counter",
    "nonvoluntary_ctxt_switches": "a counter",
    "Ngid": "NUMA balancing's choice",
}
# stat flags (PF_*) that may differ, and why
PF_VOLATILE = {
    0x00000040: "PF_FORKNOEXEC: cleared only by execve(); a restored "
                "process never ran one",
    0x00000100: "PF_SUPERPRIV: accounting, set by whoever used a capability",
    0x00000004: "PF_EXITING", 0x00000002: "PF_IDLE",
    0x00400000: "PF_RANDOMIZE: set by execve() from the ASLR sysctl",
    0x00000001: "PF_VCPU", 0x00000008: "PF_POSTCOREDUMP",
    0x00000010: "PF_IO_WORKER", 0x00000020: "PF_WQ_WORKER",
    0x00001000: "PF_NPROC_EXCEEDED", 0x00000800: "PF_MEMALLOC",
    0x10000000: "PF_MEMALLOC_PIN", 0x00004000: "PF_FREEZER_SKIP?",
}
PF_MASK = ~sum(PF_VOLATILE) & 0xffffffff


def status(path):
    out = {}
    for line in read(path).splitlines():
        k, _, v = line.partition(":")
        out[k] = " ".join(v.split())
    return out


def ioprio(tid):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    # ioprio_get(IOPRIO_WHO_PROCESS, tid): syscall 252 on x86_64
    return libc.syscall(252, 1, tid)


def read_or(path, default=""):
    try:
        return read(path).strip()
    except OSError:
        return default


def smaps_flags(pid):
    out, cur = {}, None
    for line in read(f"/proc/{pid}/smaps").splitlines():
        head = line.split(None, 1)[0]
        if "-" in head and not head.endswith(":"):
            cur = head
        elif head == "VmFlags:" and cur:
            out[cur] = " ".join(sorted(line.split()[1:]))
    return out


# fdinfo fields that change by themselves, with why
FDINFO_VOLATILE = {
    "eventfd-id": "an id the kernel hands out to each new eventfd",
    "it_value": "a timerfd's time left runs on",
    "ticks": "a timerfd's expirations go on while the tree is stopped",
}


def epoll_items(text):
    """an epoll's items as 'tfd events data', in no kernel order; the
    watched file's ino/sdev are left to the fd they name"""
    items = []
    for line in text.splitlines():
        if line.startswith("tfd:"):
            f = line.split()
            items.append(f"{f[1]} {f[3]} {f[5]}")
    return " | ".join(sorted(items))


def fdinfo(pid):
    out = {}
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            info = status(f"/proc/{pid}/fdinfo/{name}")
            text = read(f"/proc/{pid}/fdinfo/{name}")
            path = os.readlink(f"/proc/{pid}/fd/{name}")
        except FileNotFoundError:
            continue
        info.pop("mnt_id", None)
        for k in FDINFO_VOLATILE:
            info.pop(k, None)
        if "tfd" in info:
            info["tfd"] = epoll_items(text)
        info["path"] = path
        out[name] = info
    return out


def deep(pids):
    procs = {}
    for pid in pids:
        try:
            p = deep_proc(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue    # gone meanwhile (a shell's short-lived child)
        if p:
            procs[str(pid)] = p
    return procs


def deep_proc(pid):
    if True:
        st = stat_fields(pid)
        if st["state"] == "Z":
            return None
        s = read(f"/proc/{pid}/stat")
        flags = int(s[s.rindex(")") + 2:].split()[6])
        p = {"status": status(f"/proc/{pid}/status"),
             "pf_flags": flags,
             "personality": read_or(f"/proc/{pid}/personality"),
             "timerslack_ns": read_or(f"/proc/{pid}/timerslack_ns"),
             "loginuid": read_or(f"/proc/{pid}/loginuid"),
             "oom_score_adj": read_or(f"/proc/{pid}/oom_score_adj"),
             "coredump_filter": read_or(f"/proc/{pid}/coredump_filter"),
             "vmflags": smaps_flags(pid), "fds": fdinfo(pid), "threads": {}}
        for t in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            tid = int(t)
            try:
                ts = status(f"/proc/{pid}/task/{t}/status")
                th = {"comm": read(f"/proc/{pid}/task/{t}/comm").rstrip("\n"),
                      "policy": os.sched_getscheduler(tid),
                      "priority": os.sched_getparam(tid).sched_priority,
                      "nice": os.getpriority(os.PRIO_PROCESS, tid),
                      "affinity": sorted(os.sched_getaffinity(tid)),
                      "ioprio": ioprio(tid)}
            except (OSError, ProcessLookupError):
                continue
            for k in ("SigBlk", "SigPnd", "Cpus_allowed_list", "Seccomp",
                      "Seccomp_filters", "NoNewPrivs", "CapEff", "CapPrm",
                      "CapInh", "CapBnd", "CapAmb", "Uid", "Gid", "Groups",
                      "x86_Thread_features", "x86_Thread_features_locked"):
                if k in ts:
                    th[k] = ts[k]
            p["threads"][t] = th
        return p


def deepdiff(before_path, after_path, running):
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    diffs = []
    # fields a test says its workload changes by itself (DEEP_VOLATILE)
    own = set(os.environ.get("DEEP_VOLATILE", "").split())
    # the one whose parent is not in the tree (not the lowest pid: pids
    # wrap, and a child may get a lower one than its parent)
    root = next((p for p, b in before.items() if b["status"].get("PPid") not in before),
                min(before, key=int) if before else None)
    renamed = Renamed()
    for pid, a in after.items():
        # only what the image holds was restored ('restored' checks that
        # it all came back); one born after the capture has no before
        b = before.get(pid)
        if b is None:
            continue
        for k, v in b["status"].items():
            if k in own or (k in VOLATILE and not (k == "PPid" and pid != root)):
                continue
            # a running tree's timer (forktree's ITIMER_REAL) may have
            # queued a signal not yet taken at the moment of the look
            if running and k == "ShdPnd":
                continue
            if a["status"].get(k) != v:
                diffs.append(f"pid {pid}: status {k} was {v!r}, is "
                             f"{a['status'].get(k)!r}")
        if (b["pf_flags"] ^ a["pf_flags"]) & PF_MASK:
            diffs.append(f"pid {pid}: stat flags were {b['pf_flags']:#x}, are "
                         f"{a['pf_flags']:#x}")
        for k in ("personality", "timerslack_ns", "loginuid", "oom_score_adj",
                  "coredump_filter"):
            if a[k] != b[k]:
                diffs.append(f"pid {pid}: {k} was {b[k]!r}, is {a[k]!r}")
        for vma, fl in b["vmflags"].items():
            if a["vmflags"].get(vma) != fl:
                diffs.append(f"pid {pid}: vma {vma}: VmFlags were '{fl}', are "
                             f"'{a['vmflags'].get(vma)}'")
        for fd, info in b["fds"].items():
            ai = a["fds"].get(fd)
            if ai is None:
                diffs.append(f"pid {pid}: fd {fd} ({info['path']}) is gone")
                continue
            if not renamed.same(info["path"], ai["path"]):
                diffs.append(f"pid {pid}: fd {fd}: {ai['path']} is not the "
                             f"one {info['path']} became")
            for k, v in info.items():
                if running and k == "pos":
                    continue
                # a pipe's or socket's new inode: Renamed checked it
                if k in ("path", "ino") and OBJ.match(info["path"]):
                    continue
                # a memfd or deleted file is made again: one new inode
                # for each old one
                if k == "ino" and info["path"].endswith(" (deleted)"):
                    if not renamed.same(f"file:[{v}]", f"file:[{ai.get(k)}]"):
                        diffs.append(f"pid {pid}: fd {fd}: inode {ai.get(k)} is "
                                     f"not the one inode {v} became")
                    continue
                # procfs makes its inodes per process: a new one is new
                if k == "ino" and info["path"].startswith("/proc/"):
                    continue
                if ai.get(k) != v:
                    diffs.append(f"pid {pid}: fd {fd}: fdinfo {k} was {v!r}, "
                                 f"is {ai.get(k)!r}")
        for tid, bt in b["threads"].items():
            at = a["threads"].get(tid)
            if at is None:
                diffs.append(f"pid {pid}: thread {tid} is gone")
                continue
            for k, v in bt.items():
                if k in own or (running and k == "SigPnd"):
                    continue
                if at.get(k) != v:
                    diffs.append(f"pid {pid}: thread {tid}: {k} was {v!r}, is "
                                 f"{at.get(k)!r}")
    for d in diffs[:40]:
        print(d)
    return 1 if diffs else 0


VMA_INODES = Renamed()


def vma_key(v):
    return (v["start"], v["end"])


def image_vma(v):
    return {"start": int(v["start"], 16), "end": int(v["end"], 16),
            "prot": v["prot"], "offset": int(v["offset"], 16),
            "dev": v["dev"], "inode": v["inode"], "path": v["path"]}


def compare_vmas(pid, want, got, diffs, restored=False):
    got = [image_vma(v) for v in got]
    wk = {vma_key(v): v for v in want}
    gk = {vma_key(v): v for v in got}
    for k in sorted(set(wk) - set(gk)):
        diffs.append(f"pid {pid}: vma {k[0]:x}-{k[1]:x} ({wk[k]['path']}) "
                     "is in /proc/PID/maps, not in the image")
    for k in sorted(set(gk) - set(wk)):
        diffs.append(f"pid {pid}: vma {k[0]:x}-{k[1]:x} ({gk[k]['path']}) "
                     "is in the image, not in /proc/PID/maps")
    for k in sorted(set(wk) & set(gk)):
        w, g = wk[k], gk[k]
        for f in ("prot", "offset", "dev", "inode", "path"):
            if restored and f == "inode" and w["path"] == "/dev/zero (deleted)":
                continue
            # a memfd or deleted file mapped shared is made again: one
            # new inode for each old one, in every process
            if restored and f == "inode" and w["path"].endswith(" (deleted)"):
                if not VMA_INODES.same(f"file:[{g[f]}]", f"file:[{w[f]}]"):
                    diffs.append(f"pid {pid}: vma {k[0]:x}-{k[1]:x}: inode "
                                 f"{w[f]} is not the one inode {g[f]} became")
                continue
            if w[f] != g[f]:
                diffs.append(f"pid {pid}: vma {k[0]:x}-{k[1]:x}: {f} is "
                             f"{w[f]!r} in /proc, {g[f]!r} in the image")


def compare_fds(pid, want, got, diffs, check_pos=True, renamed=None):
    wk = {f["fd"]: f for f in want}
    gk = {f["fd"]: f for f in got}
    if set(wk) != set(gk):
        diffs.append(f"pid {pid}: fds {sorted(wk)} in /proc, {sorted(gk)} "
                     "in the image")
    for fd in sorted(set(wk) & set(gk)):
        if renamed and not renamed.same(gk[fd]["path"], wk[fd]["path"]):
            diffs.append(f"pid {pid}: fd {fd}: {wk[fd]['path']} in /proc is "
                         f"not the one {gk[fd]['path']} of the image became")
        for f in ("path", "pos") if check_pos else ("path",):
            if renamed and f == "path":
                continue
            if wk[fd][f] != gk[fd][f]:
                diffs.append(f"pid {pid}: fd {fd}: {f} is {wk[fd][f]!r} in "
                             f"/proc, {gk[fd][f]!r} in the image")


STATES = {"Z": "zombie", "T": "stopped"}


def compare_proc(w, g, diffs, restored=False, running=False, renamed=None):
    pid = w["pid"]
    want_state = STATES.get(w["state"], "running")
    if want_state != g["state"]:
        diffs.append(f"pid {pid}: state {w['state']} in /proc, {g['state']!r} "
                     "in the image")
    for f in ("ppid", "pgid", "sid", "comm"):
        if restored and f == "ppid" and g.get("root"):
            continue
        if w[f] != g[f]:
            diffs.append(f"pid {pid}: {f} is {w[f]!r} in /proc, {g[f]!r} in "
                         "the image")
    wt = [(t["tid"], t["comm"]) for t in w["threads"]]
    gt = sorted((t["tid"], t["comm"]) for t in g["threads"])
    if wt != gt:
        diffs.append(f"pid {pid}: threads {wt} in /proc, {gt} in the image")
    if g["threads"] and g["threads"][0]["tid"] != pid:
        diffs.append(f"pid {pid}: the image's first thread is not the leader")
    compare_vmas(pid, w["vmas"], g["vmas"], diffs, restored)
    compare_fds(pid, w["fds"], g["fds"], diffs, not running, renamed)


def compare(state_path, image_path):
    with open(state_path) as f:
        want = json.load(f)
    with open(image_path) as f:
        image = json.load(f)
    got = {p["pid"]: p for p in image["processes"]}
    diffs = []
    wp = sorted(p["pid"] for p in want)
    if wp != sorted(got):
        diffs.append(f"processes {wp} in /proc, {sorted(got)} in the image")
    if image["header"]["nr_processes"] != len(image["processes"]):
        diffs.append("header's process count differs from the processes listed")
    for w in want:
        if w["pid"] in got:
            compare_proc(w, got[w["pid"]], diffs)
    for d in diffs[:40]:
        print(d)
    return 1 if diffs else 0


def restored(image_path, state_path, running):
    """/proc after a restore (state_path) against the image it came from"""
    with open(state_path) as f:
        have = json.load(f)
    with open(image_path) as f:
        image = json.load(f)
    root = image["processes"][0]["pid"]
    diffs = []
    hp = {p["pid"]: p for p in have}
    renamed = Renamed()
    for g in image["processes"]:
        if g["pid"] not in hp:
            diffs.append(f"pid {g['pid']} of the image is not running")
            continue
        g = dict(g, root=g["pid"] == root)
        w = hp[g["pid"]]
        if running and w["state"] == "T" and g["state"] == "running":
            w = dict(w, state="S")
        compare_proc(w, g, diffs, restored=True, running=running,
                     renamed=renamed)
    for d in diffs[:40]:
        print(d)
    return 1 if diffs else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "capture":
        json.dump(capture([int(p) for p in sys.argv[2:]]), sys.stdout)
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 3 and sys.argv[1] == "deep":
        json.dump(deep([int(p) for p in sys.argv[2:]]), sys.stdout)
        return 0
    if len(sys.argv) in (4, 5) and sys.argv[1] == "deepdiff":
        return deepdiff(sys.argv[2], sys.argv[3], "--running" in sys.argv[4:])
    if len(sys.argv) in (4, 5) and sys.argv[1] == "restored":
        return restored(sys.argv[2], sys.argv[3], "--running" in sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
