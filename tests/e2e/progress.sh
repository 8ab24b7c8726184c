#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# snap and restore on a terminal (script(1) gives them one): the progress
# line, redrawn in place, then gone before the summary; none when stderr
# is not a terminal or with --quiet; --json's summary.
# BPFCKPT_PROGRESS_AFTER_MS=0 shows the line at once: a 256 MiB heap
# takes well under the default second on a quiet machine.
. "$(dirname "$0")/../lib.sh"

HEAP_MB=256

# on_tty FILE CMD...: CMD with stdin, stdout and stderr on a pseudo-
# terminal, its output (both) in FILE; returns CMD's exit status
on_tty() {
	local out=$1 cmd
	shift
	cmd=$(printf '%q ' "$@")
	timeout -k 5 "$CKPT_TIMEOUT" script -qfec "$cmd" /dev/null </dev/null >"$out" 2>&1
}

# progress_lines FILE WHAT: each drawn line as "DONE TOTAL", one a line
progress_lines() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -E "^$2: [0-9]+/[0-9]+ pages " |
		sed -E "s|^$2: ([0-9]+)/([0-9]+) pages .*|\\1 \\2|"
}

# assert_progress FILE WHAT PAGES: lines drawn in place, well formed,
# counting up to at most PAGES, and erased before what follows
assert_progress() {
	local f=$1 what=$2 pages=$3 n bad
	n=$(progress_lines "$f" "$what" | wc -l)
	[ "$n" -ge 1 ] || fail "no '$what: N/M pages' progress line on the terminal: $(head -c 300 "$f" | cat -v)"
	# redrawn in place: every line starts with \r and erase-line, none ends with \n
	grep -aqE "$what: [0-9]+/[0-9]+ pages \([0-9]+%\), [0-9.]+ MiB/s, ETA ([0-9.]+ s|\?)"$'\r'"?\$" "$f" &&
		fail "a progress line ends with a newline instead of being redrawn: $(cat -v "$f" | head -c 300)"
	tr '\r' '\n' <"$f" | grep -aE "$what: [0-9]+/" | grep -avqE \
		"^"$'\x1b'"\[K$what: [0-9]+/[0-9]+ pages \([0-9]+%\), [0-9.]+ MiB/s, ETA ([0-9.]+ s|\?)\$" &&
		fail "a malformed progress line: $(tr '\r' '\n' <"$f" | grep -aE "$what: [0-9]+/" | grep -avE 'MiB/s, ETA' | head -n 1 | cat -v)"
	bad=$(progress_lines "$f" "$what" | awk -v max="$pages" '
		$1 < last { print "done went back from " last " to " $1; exit }
		$2 > max { print "total " $2 " above the image'"'"'s " max " pages"; exit }
		$1 > $2 { print "done " $1 " above total " $2; exit }
		{ last = $1 }')
	[ -z "$bad" ] || fail "$what progress: $bad"
	# erased: the last one is followed by \r and erase-line
	tr '\r' '\n' <"$f" | sed 's/\x1b\[K/<EL>/g' | grep -aE '^<EL>' | tail -n 1 | grep -q "^<EL>$what: " &&
		fail "the last progress line is not erased: $(tail -c 200 "$f" | cat -v)"
	return 0
}

test_snap_progress_on_a_terminal() {
	local pages
	wl_start heap "$HEAP_MB" 50
	BPFCKPT_PROGRESS_AFTER_MS=0 on_tty "$T/tty" "$BPFCKPT" snap "$WL_PID" -o "$T/img" ||
		fail "snap on a terminal failed: $(tr '\r' '\n' <"$T/tty" | tail -n 3)"
	pages=$(grep -aoE "pid $WL_PID: 1 process, 1 thread, [0-9]+ pages" "$T/tty" | awk '{print $(NF-1)}')
	[ -n "$pages" ] || fail "no summary after the progress line: $(tail -c 300 "$T/tty" | cat -v)"
	assert_progress "$T/tty" snap "$pages"
	progress_lines "$T/tty" snap | tail -n 1 | awk -v p="$pages" '$2 != p { exit 1 }' ||
		fail "the progress total $(progress_lines "$T/tty" snap | tail -n 1) is not the $pages pages written"
	assert_alive "$WL_PID" heap
	assert_ticking "$WL_LOG" 3
}

test_restore_progress_on_a_terminal() {
	local pages
	wl_start heap "$HEAP_MB" 50
	deep_capture "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --kill --quiet
	[ -s "$CKPT_OUT" ] && fail "snap --quiet printed: $(head -c 200 "$CKPT_OUT")"
	BPFCKPT_PROGRESS_AFTER_MS=0 on_tty "$T/tty" "$BPFCKPT" restore "$T/img" -d ||
		fail "restore on a terminal failed: $(tr '\r' '\n' <"$T/tty" | tail -n 3)"
	pages=$(grep -aoE "restored pid $WL_PID: 1 process, 1 thread, [0-9]+ pages" "$T/tty" | awk '{print $(NF-1)}')
	[ -n "$pages" ] || fail "no restore summary after the progress line: $(tail -c 300 "$T/tty" | cat -v)"
	assert_progress "$T/tty" restore "$pages"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	restored_matches --running
	assert_ticking "$WL_LOG" 3
}

# the default threshold: a second; a short run draws nothing
test_no_progress_before_the_threshold() {
	wl_start heap 8 50
	BPFCKPT_PROGRESS_AFTER_MS=600000 on_tty "$T/tty" "$BPFCKPT" snap "$WL_PID" -o "$T/img" ||
		fail "snap on a terminal failed: $(tr '\r' '\n' <"$T/tty" | tail -n 3)"
	grep -aqE "snap: [0-9]+/[0-9]+ pages" "$T/tty" &&
		fail "a progress line before the threshold: $(cat -v "$T/tty" | head -c 300)"
	grep -aqE "^pid $WL_PID: 1 process" "$T/tty" || fail "no summary: $(cat -v "$T/tty" | head -c 300)"
}

test_no_progress_off_a_terminal() {
	wl_start heap "$HEAP_MB" 50
	BPFCKPT_PROGRESS_AFTER_MS=0 assert_ckpt 0 snap "$WL_PID" -o "$T/img"
	[ -s "$CKPT_ERR" ] && fail "snap wrote to a stderr that is no terminal: $(head -c 200 "$CKPT_ERR" | cat -v)"
	grep -qE "^pid $WL_PID: 1 process" "$CKPT_OUT" || fail "no summary: $(cat "$CKPT_OUT")"
}

test_quiet_on_a_terminal() {
	wl_start heap "$HEAP_MB" 50
	BPFCKPT_PROGRESS_AFTER_MS=0 on_tty "$T/tty" "$BPFCKPT" snap "$WL_PID" -o "$T/img" --quiet ||
		fail "snap --quiet failed: $(tr '\r' '\n' <"$T/tty" | tail -n 3)"
	[ -s "$T/tty" ] && fail "snap --quiet printed on the terminal: $(head -c 300 "$T/tty" | cat -v)"
	[ -f "$T/img" ] || fail "snap --quiet wrote no image"
	assert_ckpt 0 show "$T/img"
}

# --json: one object whose figures are the image's
test_json_summaries() {
	wl_start heap 16 50
	deep_capture "$WL_PID"
	assert_ckpt 0 snap "$WL_PID" -o "$T/img" --kill --json
	python3 - "$CKPT_OUT" "$WL_PID" "$T/img" <<-'EOF' || fail "snap --json: $(cat "$T/why")"
		import json, os, sys
		j = json.load(open(sys.argv[1]))
		want = {"pid": int(sys.argv[2]), "image": sys.argv[3], "processes": 1,
		    "threads": 1, "killed": True, "page_size": os.sysconf("SC_PAGE_SIZE")}
		bad = {k: (j.get(k), v) for k, v in want.items() if j.get(k) != v}
		if j.get("image_bytes") != os.path.getsize(sys.argv[3]):
		    bad["image_bytes"] = (j.get("image_bytes"), os.path.getsize(sys.argv[3]))
		if not j.get("pages", 0) >= 16 * 256 or not j.get("seconds", 0) > 0:
		    bad["pages/seconds"] = (j.get("pages"), j.get("seconds"))
		if bad:
		    open(os.path.dirname(sys.argv[1]) + "/why", "w").write(str(bad))
		    sys.exit(1)
	EOF
	cp "$CKPT_OUT" "$T/snap.json"
	assert_ckpt 0 show --json "$T/img"
	cp "$CKPT_OUT" "$T/image.json"
	assert_ckpt 0 restore "$T/img" -d --json
	python3 - "$CKPT_OUT" "$T/snap.json" <<-'EOF' || fail "restore --json: $(cat "$T/why")"
		import json, os, sys
		j, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
		bad = {k: (j.get(k), s[k]) for k in ("pid", "image", "processes", "threads", "pages")
		       if j.get(k) != s[k]}
		if j.get("detached") is not True or j.get("lazy") is not False:
		    bad["detached/lazy"] = (j.get("detached"), j.get("lazy"))
		if bad:
		    open(os.path.dirname(sys.argv[1]) + "/why", "w").write(str(bad))
		    sys.exit(1)
	EOF
	restored_matches --running
	assert_ticking "$WL_LOG" 3
}

run_tests "$@"
