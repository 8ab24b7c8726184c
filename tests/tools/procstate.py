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
  procstate.py restored image.json state.json [--running]
      state.json was captured after `bpfckpt restore` of image.json: the
      same comparison, except what a restore cannot keep: the root's
      parent is the restorer and a shared anonymous mapping is a new
      shmem inode.  --running: the tree ran since, fd offsets moved on.
"""
import json
import os
import sys


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
            if w[f] != g[f]:
                diffs.append(f"pid {pid}: vma {k[0]:x}-{k[1]:x}: {f} is "
                             f"{w[f]!r} in /proc, {g[f]!r} in the image")


def compare_fds(pid, want, got, diffs, check_pos=True):
    wk = {f["fd"]: f for f in want}
    gk = {f["fd"]: f for f in got}
    if set(wk) != set(gk):
        diffs.append(f"pid {pid}: fds {sorted(wk)} in /proc, {sorted(gk)} "
                     "in the image")
    for fd in sorted(set(wk) & set(gk)):
        for f in ("path", "pos") if check_pos else ("path",):
            if wk[fd][f] != gk[fd][f]:
                diffs.append(f"pid {pid}: fd {fd}: {f} is {wk[fd][f]!r} in "
                             f"/proc, {gk[fd][f]!r} in the image")


STATES = {"Z": "zombie", "T": "stopped"}


def compare_proc(w, g, diffs, restored=False, running=False):
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
    compare_fds(pid, w["fds"], g["fds"], diffs, not running)


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
    for g in image["processes"]:
        if g["pid"] not in hp:
            diffs.append(f"pid {g['pid']} of the image is not running")
            continue
        g = dict(g, root=g["pid"] == root)
        w = hp[g["pid"]]
        if running and w["state"] == "T" and g["state"] == "running":
            w = dict(w, state="S")
        compare_proc(w, g, diffs, restored=True, running=running)
    for d in diffs[:40]:
        print(d)
    return 1 if diffs else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "capture":
        json.dump(capture([int(p) for p in sys.argv[2:]]), sys.stdout)
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    if len(sys.argv) in (4, 5) and sys.argv[1] == "restored":
        return restored(sys.argv[2], sys.argv[3], "--running" in sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
