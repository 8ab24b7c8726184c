#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# MAP_SHARED mappings of memfds and of files deleted while mapped
# (user/mm_gone.c): snap --kill, restore, and the processes that shared
# the object share it again, with its content; python's multiprocessing
# Queue and Pool, whose semaphores are such files in /dev/shm.
. "$(dirname "$0")/../lib.sh"

# the shared objects' VMAs of process $1: "inode path" lines, sorted
shared_inodes() {
	awk '$2 ~ /s$/ && / \(deleted\)$/ { print $5, $6 }' "/proc/$1/maps" | sort -u
}

# parent and child map the same objects (one inode each, in both)
assert_same_objects() {
	local pids p first=""
	pids=$(image_pids)
	for p in $pids; do
		[ -n "$first" ] || first=$(shared_inodes "$p")
		assert_eq "$first" "$(shared_inodes "$p")" "pid $p: inodes of its shared memfd/deleted mappings (those of pid ${pids%% *})"
	done
	echo "$first" | grep -q "/memfd:shmgone" || fail "no memfd mapping after the restore: $first"
	echo "$first" | grep -q "/gone.dat" || fail "no deleted-file mapping after the restore: $first"
}

# the 1 MiB of the memfd is stored once, by the parent: the child's
# pages are far fewer
assert_stored_once() {
	local parent child
	parent=$(json_get "j['processes'][0]['pages']")
	child=$(json_get "j['processes'][1]['pages']")
	[ "$parent" -gt 256 ] || fail "the parent stored $parent pages, not the memfd's 256 and more"
	[ "$child" -lt 200 ] || fail "the child stored $child pages: the memfd's were stored again"
}

# the seals of the memfds no fd holds are in the image (F_GET_SEALS on
# /proc/PID/map_files); the workload checks they hold after the restore
assert_seals_in_image() {
	python3 - "$T/image.json" <<'PY' || fail "the image lacks the memfds' seals: $(grep -o '"path":"/memfd:[a-z]*[^}]*' "$T/image.json" | head -n 4)"
import json, sys
want = {"sealed": "0x6", "wsealed": "0x8", "fsealed": "0x10", "plain": "0x1", "shmgone": "0x6"}
seen = set()
for p in json.load(open(sys.argv[1]))["processes"]:
    for v in p["vmas"]:
        name = v["path"][len("/memfd:"):].split(" ")[0] if v["path"].startswith("/memfd:") else None
        if name in want:
            seen.add(name)
            if v.get("seals") != want[name]:
                sys.exit(1)
sys.exit(0 if seen == set(want) else 1)
PY
}

test_shmgone_running() {
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_seals_in_image
	assert_stored_once
	assert_same_objects
	assert_ticking "$WL_LOG" 5
	[ ! -e "$T/gone.dat" ] || fail "gone.dat has a name again after the restore"
}

test_shmgone_stopped() {
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_same_objects
	assert_ticking "$WL_LOG" 5
}

# memfd_secret() memory is shared-mapped and deleted too, but nobody
# can read it: snap refuses it, naming the mapping, and the tree runs on
test_secretmem_refused() {
	wl_start_via secret python3 -c 'import ctypes, mmap, os, time
os.setsid()
fd = ctypes.CDLL(None, use_errno=True).syscall(447, 0)	# memfd_secret(0)
if fd < 0: raise SystemExit("FAIL: memfd_secret: errno %d" % ctypes.get_errno())
os.ftruncate(fd, 4096)
m = mmap.mmap(fd, 4096)
m[0] = 1
os.close(fd)
print("ready pid=%d" % os.getpid(), flush=True)
while True:
    time.sleep(0.05)'
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "pid $WL_PID: vma [0-9a-f]+-[0-9a-f]+: shared mapping of '/secretmem \(deleted\)' \(mode 100[0-7]+\): not a file restore can make again"
	assert_alive "$WL_PID"
	[ ! -e "$T/img" ] || fail "a refused snap left an image"
}

# restore --lazy: shared memory is written before the tree runs, from
# page data whose pieces are checked first (a lazy load checks none)
test_shmgone_lazy() {
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID" --lazy
	assert_same_objects
	assert_ticking "$WL_LOG" 5
}

# a page of the memfd corrupted after the snap: restore --lazy (which
# loads no page data up front) checks the piece before the memfd is
# filled from it, and fails with nothing left behind
test_shmgone_lazy_corrupted() {
	local off pids
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 3
	snap_kill_json "$WL_PID"
	pids=$(image_pids)
	"$TOOLS/imgedit" "$T/img" list >"$T/records" || fail "imgedit list failed"
	off=$(python3 - "$T/records" "$T/img" "$T/image.json" <<'PY'
import json, struct, sys
recs = [(int(l.split()[1], 16), l.split()[2]) for l in open(sys.argv[1])]
img = open(sys.argv[2], "rb").read()
root = json.load(open(sys.argv[3]))["processes"][0]
vma = [v for v in root["vmas"] if v["path"].startswith("/memfd:shmgone")][0]
want = int(vma["start"], 16) + 5 * 4096
for off, t in recs:
    if t != "pages":
        continue
    typ, ln, nr = struct.unpack_from("<III", img, off)
    vaddrs = struct.unpack_from("<%dQ" % nr, img, off + 16)
    if want in vaddrs:
        data = (off + ln + 4095) // 4096 * 4096
        print(data + vaddrs.index(want) * 4096 + 100)
        break
PY
)
	[ -n "$off" ] || fail "no stored page of the memfd at 5 pages in"
	python3 -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek($off); b = f.read(1); f.seek($off); f.write(bytes([b[0] ^ 0xff]))" "$T/img"
	assert_ckpt 1 restore "$T/img" -d --lazy
	assert_err "/memfd:shmgone \(deleted\) back: page data is corrupted"
	assert_no_pids $pids
}

# a write-sealed memfd whose mapping says it may write (no kernel makes
# that: F_SEAL_WRITE is EBUSY then, mm/memfd.c): restore refuses,
# naming it, and leaves no process
test_shmgone_seal_write_maywrite_refused() {
	local pids off
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 2
	pids=$(session_pids "$WL_PID")
	snap_kill_json "$WL_PID"
	"$TOOLS/imgedit" "$T/img" list >"$T/records" || fail "imgedit list failed"
	# the first vma record of /memfd:wsealed (its path at 88, vm_flags at 32)
	off=$(python3 - "$T/img" "$T/records" <<'PY'
import sys
img = open(sys.argv[1], "rb").read()
for line in open(sys.argv[2]):
    i, off, typ, ln = line.split()
    off = int(off, 16)
    if typ == "vma" and img[off + 88:off + 88 + 15] == b"/memfd:wsealed ":
        print(off + 32)
        break
PY
)
	[ -n "$off" ] || fail "no vma of /memfd:wsealed in the image"
	# VM_READ|VM_SHARED|VM_MAYREAD|VM_MAYWRITE|VM_MAYSHARE ...
	"$TOOLS/imgedit" "$T/img" poke "$off" "$(python3 -c "import struct, sys
v = struct.unpack_from('<Q', open(sys.argv[1], 'rb').read(), $off)[0] | 0x20
print(struct.pack('<Q', v).hex())" "$T/img")" || fail "imgedit poke failed"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "/memfd:wsealed \(deleted\): sealed F_SEAL_WRITE but mapped shared with VM_MAYWRITE"
	assert_no_pids $pids
}

# the deleted file's name is taken again: snap --kill refuses (the tree
# runs on), and so does restore of an image snapped before, leaving no
# process behind; the same image restores once the name is free
test_shmgone_name_taken() {
	local pids
	wl_start shmgone "$T" 30
	assert_ticking "$WL_LOG" 2
	echo other >"$T/gone.dat"
	assert_ckpt 1 snap "$WL_PID" -o "$T/img" --kill
	assert_err "deleted file $T/gone.dat \(deleted\): a file has its name again"
	assert_alive "$WL_PID"
	[ ! -e "$T/img" ] || fail "a refused snap --kill left an image"
	assert_ckpt 0 inspect "$WL_PID" --json
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["verdict"]
sys.exit(not (v["restorable"] is False and
              any("a file has its name again" in r["reason"] for r in v["reasons"])))' "$CKPT_OUT" ||
		fail "inspect's verdict does not refuse for the taken name: $(head -c 300 "$CKPT_OUT")"
	rm "$T/gone.dat"
	snap_kill_json "$WL_PID"
	pids=$(image_pids)
	echo other >"$T/gone.dat"
	assert_ckpt 1 restore "$T/img" -d
	assert_err "a file has its name again"
	assert_no_pids $pids
	rm "$T/gone.dat"
	restore_d
	assert_ticking "$WL_LOG" 3
}

# a Queue each way between the parent and a worker process, work in
# flight at the snap: every answer comes back, in order
test_python_multiprocessing_queue() {
	wl_start_via mpq python3 -c 'import multiprocessing as mp, os, time
def work(q, r):
    while True:
        x = q.get()
        time.sleep(0.002)
        r.put((x, x * x))
if __name__ == "__main__":
    os.setsid()
    q, r = mp.Queue(), mp.Queue()
    mp.Process(target=work, args=(q, r), daemon=True).start()
    print("ready pid=%d" % os.getpid(), flush=True)
    n = 0
    while True:
        n += 1
        for k in range(10):
            q.put(n * 10 + k)
        for k in range(10):
            x, y = r.get(timeout=30)
            if (x, y) != (n * 10 + k, (n * 10 + k) ** 2):
                print("FAIL: tick %d: answer %r" % (n, (x, y)), flush=True)
                raise SystemExit(1)
        print("tick %d" % n, flush=True)'
	assert_ticking "$WL_LOG" 3
	grep -q '/dev/shm/sem\..* (deleted)' "/proc/$WL_PID/maps" ||
		fail "python's Queue maps no deleted semaphore file here: test premise broken"
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# multiprocessing.Value and Array live in a deleted /dev/shm file that
# python keeps open as an fd and maps (multiprocessing.heap): a worker
# adds to them under a Lock, the parent checks every sum
test_python_multiprocessing_shared_values() {
	wl_start_via mpv python3 -c 'import multiprocessing as mp, os, time
def work(lock, n, arr, go, done):
    while True:
        go.wait(); go.clear()
        with lock:
            n.value += 1
            for i in range(len(arr)):
                arr[i] += i
        done.set()
if __name__ == "__main__":
    os.setsid()
    lock, go, done = mp.Lock(), mp.Event(), mp.Event()
    n, arr = mp.Value("q", 0, lock=False), mp.Array("q", 1000, lock=False)
    mp.Process(target=work, args=(lock, n, arr, go, done), daemon=True).start()
    print("ready pid=%d" % os.getpid(), flush=True)
    t = 0
    while True:
        t += 1
        go.set()
        if not done.wait(30):
            print("FAIL: tick %d: the worker did not answer" % t, flush=True); raise SystemExit(1)
        done.clear()
        with lock:
            if n.value != t or any(arr[i] != i * t for i in range(len(arr))):
                print("FAIL: tick %d: value %d, arr[999] %d" % (t, n.value, arr[999]), flush=True); raise SystemExit(1)
        print("tick %d" % t, flush=True)
        time.sleep(0.02)'
	assert_ticking "$WL_LOG" 3
	grep -q '/dev/shm/pym-.* (deleted)' "/proc/$WL_PID/maps" ||
		fail "python maps no deleted /dev/shm heap here: test premise broken"
	cycle_running "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# a Pool of 3 workers (3 more threads in the parent), snapped with maps
# in flight: each map's results are right after the restore
write_pool() {
	cat >"$T/pool.py" <<'EOF'
import multiprocessing as mp, os, time
def f(x):
    time.sleep(0.005)
    return x * x + 1
if __name__ == "__main__":
    os.setsid()
    with mp.Pool(3) as pool:
        print("ready pid=%d" % os.getpid(), flush=True)
        n = 0
        while True:
            n += 1
            xs = range(n * 20, n * 20 + 20)
            got = pool.map(f, xs, chunksize=2)
            if got != [x * x + 1 for x in xs]:
                print("FAIL: tick %d: results %r" % (n, got), flush=True)
                raise SystemExit(1)
            print("tick %d" % n, flush=True)
EOF
}

test_python_multiprocessing_pool() {
	write_pool
	wl_start_via pool python3 "$T/pool.py"
	wait_until 20 "[ \$(session_pids $WL_PID | wc -l) = 4 ]" || fail "the pool did not start 3 workers"
	assert_ticking "$WL_LOG" 3
	cycle_running "$WL_PID"
	assert_eq 4 "$(session_pids "$WL_PID" | wc -l)" "processes of the pool after the restore"
	assert_ticking "$WL_LOG" 5
}

test_python_multiprocessing_pool_stopped() {
	write_pool
	wl_start_via pool python3 "$T/pool.py"
	wait_until 20 "[ \$(session_pids $WL_PID | wc -l) = 4 ]" || fail "the pool did not start 3 workers"
	assert_ticking "$WL_LOG" 3
	cycle_stopped "$WL_PID"
	assert_ticking "$WL_LOG" 5
}

# the fallback pass (tests/run) runs these only: see run_tests
FALLBACK_CASES="shmgone_running python_multiprocessing_pool"
run_tests "$@"
