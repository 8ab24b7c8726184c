#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The command line as a user meets it: help for every command, unknown
# options, the man page, the README and --help listing the same options
# (all from user/cmdtab.c), the bash completion, make install/uninstall
# and the .deb installed into a scratch root.
. "$(dirname "$0")/../lib.sh"

MAN=$BUILD/doc/bpfckpt.8
COMPLETION=$BUILD/doc/bpfckpt.bash

# the commands, from bpfckpt --help's command list
commands() {
	"$BPFCKPT" --help | awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }'
}

# options in a synopsis line on stdin: "[-o IMAGE]" -> -o, one a line, sorted
synopsis_opts() {
	grep -oE '\[-[-a-z]+' | tr -d '[' | sort -u
}

test_help_every_command() {
	local c n=0
	for c in $(commands); do
		n=$((n + 1))
		assert_ckpt 0 help "$c"
		cp "$CKPT_OUT" "$T/help.$c"
		head -n 1 "$T/help.$c" | grep -qE "^usage: bpfckpt $c( |\$)" ||
			fail "help $c does not start with its synopsis: $(head -n 1 "$T/help.$c")"
		grep -q '^example:' "$T/help.$c" || fail "help $c has no example"
		assert_ckpt 0 "$c" --help
		cmp -s "$CKPT_OUT" "$T/help.$c" || fail "'$c --help' and 'help $c' differ"
		[ -s "$CKPT_ERR" ] && fail "$c --help wrote to stderr: $(head -c 200 "$CKPT_ERR")"
		# --help among other arguments still wins, before any work
		[ "$c" != help ] && { assert_ckpt 0 "$c" 12345 -h; cmp -s "$CKPT_OUT" "$T/help.$c" ||
			fail "'$c 12345 -h' is not $c's help"; }
		assert_ckpt 2 "$c" --no-such-option
		assert_err "^bpfckpt: $c: unknown option '--no-such-option'"
		assert_err "^usage: bpfckpt $c"
	done
	[ "$n" -ge 8 ] || fail "--help lists $n commands, expected at least 8"
	assert_ckpt 2 help no-such-command
	assert_err "unknown command 'no-such-command'"
	assert_ckpt 2 help snap restore
	assert_ckpt 0 help
	grep -q '^  bpfckpt snap PID' "$CKPT_OUT" || fail "help lists no snap synopsis"
	# an option's argument is not taken for an option: top's -n -1 reaches top
	assert_ckpt 2 top 1 -n -1
	assert_err "'-1' is not a number"
	# restore's -d is a flag, top's -d takes seconds: per command
	assert_ckpt 2 top 1 -d
	assert_err "-d needs seconds"
}

# the options of @cmd in README's synopsis, --help's synopsis and option
# list, and the man page's synopsis and COMMANDS subsection
test_options_agree() {
	local c readme help list man mansec
	MANWIDTH=1000 man -l "$MAN" 2>"$T/man.err" | col -b >"$T/man.txt"
	[ -s "$T/man.err" ] && fail "man -l $MAN warns: $(head -n 3 "$T/man.err")"
	for c in $(commands); do
		readme=$(grep -E "^    bpfckpt $c( |\$)" "$ROOT_DIR/README.md" | head -n 1)
		[ -n "$readme" ] || fail "README has no synopsis line '    bpfckpt $c ...'"
		readme=$(synopsis_opts <<<"$readme" | paste -sd' ')
		help=$("$BPFCKPT" "$c" --help | head -n 1 | synopsis_opts | paste -sd' ')
		list=$("$BPFCKPT" "$c" --help | awk '/^options:/ { on = 1; next } /^$/ { on = 0 } on { sub(/\[=.*/, "", $1); print $1 }' |
			sort -u | paste -sd' ')
		man=$(grep -E "^ +bpfckpt \[OPTIONS\] $c( |\$)" "$T/man.txt" | synopsis_opts | paste -sd' ')
		mansec=$(awk -v c="$c" '
			/^COMMANDS/ { on = 1; next } /^[A-Z]/ { on = 0 }
			on && /^   [a-z]/ { sec = ($1 == c) ; next }
			on && sec && /^       -/ { sub(/\[=.*/, "", $1); print $1 }' "$T/man.txt" | sort -u | paste -sd' ')
		[ "$readme" = "$help" ] || fail "$c: README lists '$readme', --help '$help'"
		[ "$list" = "$help" ] || fail "$c: --help's synopsis has '$help', its option list '$list'"
		[ "$man" = "$help" ] || fail "$c: the man page's synopsis lists '$man', --help '$help'"
		[ "$mansec" = "$help" ] || fail "$c: the man page's $c section lists '$mansec', --help '$help'"
	done
}

# the man page names every environment variable the code reads, every
# fault point and every forced fallback
test_man_covers_environment() {
	local v p src=$ROOT_DIR/user
	MANWIDTH=1000 man -l "$MAN" 2>/dev/null | col -b >"$T/man.txt"
	for v in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS "EXIT STATUS" ENVIRONMENT EXAMPLES \
		"NOT SUPPORTED" "SEE ALSO"; do
		grep -q "^$v" "$T/man.txt" || fail "the man page has no $v section"
	done
	for v in $(grep -rhoE 'getenv\("[A-Z_]+"\)' "$src" | grep -oE 'BPFCKPT_[A-Z_]+' | sort -u); do
		grep -q "^       $v" "$T/man.txt" || fail "the man page's ENVIRONMENT lacks $v (read by the code)"
	done
	for p in $(grep -rhoE 'fault_at\("[a-z-]+"\)' "$src" | grep -oE '"[a-z-]+"' | tr -d '"' | sort -u) \
		$(grep -rhoE 'strcmp\(fault, "[a-z-]+"\)' "$src" | grep -oE '"[a-z-]+"' | tr -d '"') \
		refuse-PROGRAM trace-no-PROGRAM; do
		grep -q -- "$p" "$T/man.txt" || fail "the man page does not name the fault point $p"
	done
	# BPFCKPT_FALLBACK names: the feature column of the program tables
	for p in $(python3 -c 'import re, sys
for f in sys.argv[1:]:
    for m in re.finditer(r"\{\s*\"\w+\",\s*\"[^\"]*\",\s*\"(\w+)\"", open(f).read()):
        print(m.group(1))' "$src/collect.c" "$src/tracer.c") \
		$(grep -rhoE 'fallback_forced\("[a-z_]+"\)' "$src" | grep -oE '"[a-z_]+"' | tr -d '"'); do
		grep -qw -- "$p" <(sed -n '/^ENVIRONMENT/,/^EXAMPLES/p' "$T/man.txt") ||
			fail "the man page's ENVIRONMENT does not name the fallback $p"
	done
	grep -q "bpfckpt snap 4711 -o job.img --kill" "$T/man.txt" || fail "the man page has no snap example"
	# every example's options are its command's
	sed -n '/^EXAMPLES/,/^NOT SUPPORTED/p' "$T/man.txt" | grep -E '^ +# bpfckpt ' >"$T/examples"
	[ "$(wc -l <"$T/examples")" -ge 5 ] || fail "the man page has fewer than 5 examples"
	while read -r _ _ c args; do
		for p in $args; do
			[[ $p == -* ]] || continue
			"$BPFCKPT" "$c" --help | grep -qE -- "^  $p( |\$)" ||
				fail "the example 'bpfckpt $c $args' uses $p, which $c does not have"
		done
	done <"$T/examples"
}

# complete WORDS...: COMPREPLY for the command line WORDS (the last one
# being completed), one a line, from the generated completion
complete_line() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _bpfckpt; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$COMPLETION" "$@"
}

# want_completion WORD... -- EXPECTED...: each EXPECTED is offered
want_completion() {
	local words=() w out
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	out=$(complete_line "${words[@]}" | sort)
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$out" ||
			fail "completing '${words[*]}' does not offer '$w': $(paste -sd' ' <<<"$out")"
	done
}

test_completion() {
	local c want got
	[ -f "$COMPLETION" ] || fail "no $COMPLETION"
	bash -n "$COMPLETION" || fail "$COMPLETION is not valid bash"
	want_completion bpfckpt "" -- snap restore show inspect trace top check help
	want_completion bpfckpt sn -- snap
	want_completion bpfckpt -v re -- restore
	want_completion bpfckpt - -- -v -vv --help
	want_completion bpfckpt help "" -- snap top
	# every option --help lists, for every command
	for c in $(commands); do
		want=$("$BPFCKPT" "$c" --help | head -n 1 | synopsis_opts | paste -sd' ')
		got=$(complete_line bpfckpt "$c" - | sort -u | grep -v '^--help$' | paste -sd' ')
		[ "$want" = "$got" ] || fail "completing '$c -' offers '$got', --help lists '$want'"
	done
	# pids for snap, inspect, trace, top; not for show
	sleep 60 &
	local p=$!
	on_exit "kill $p"
	for c in snap inspect trace top; do
		want_completion bpfckpt "$c" "$p" -- "$p"
	done
	# image files (and directories) for show and restore
	mkdir -p "$T/imgs/sub"
	: >"$T/imgs/job.img"
	: >"$T/imgs/notes.txt"
	for c in show restore; do
		got=$(cd "$T/imgs" && complete_line bpfckpt "$c" "" | sort | paste -sd' ')
		[ "$got" = "job.img sub/" ] || fail "completing '$c ' in a dir of job.img, notes.txt, sub/ offers '$got'"
	done
	got=$(cd "$T/imgs" && complete_line bpfckpt snap 1 -o "" | sort | paste -sd' ')
	[[ $got == *notes.txt* ]] || fail "snap -o does not complete file names: '$got'"
	# trace -e: event names, after a comma too
	want_completion bpfckpt trace 1 -e %fi -- %file
	want_completion bpfckpt trace 1 -e read,%me -- read,%memory
	got=$(complete_line bpfckpt top 1 -n "")
	[ -z "$got" ] || fail "top -n (a number) completes to '$got'"
}

test_install_uninstall() {
	local root=$T/root f
	make -s -C "$ROOT_DIR" BUILD="$BUILD" install DESTDIR="$root" PREFIX=/usr >"$T/make.log" 2>&1 ||
		fail "make install failed: $(tail -n 5 "$T/make.log")"
	for f in usr/sbin/bpfckpt usr/share/man/man8/bpfckpt.8 \
		usr/share/bash-completion/completions/bpfckpt; do
		[ -f "$root/$f" ] || fail "make install did not install /$f"
	done
	[ -x "$root/usr/sbin/bpfckpt" ] || fail "installed bpfckpt is not executable"
	# nothing through the build tree: from elsewhere, BPF objects built in
	(cd / && timeout 60 "$root/usr/sbin/bpfckpt" check >"$T/check.out" 2>&1) ||
		fail "the installed bpfckpt check failed: $(grep -E ' NO |bpfckpt:' "$T/check.out" | head -n 3)"
	MANWIDTH=80 man -l "$root/usr/share/man/man8/bpfckpt.8" 2>/dev/null | grep -q '^NAME' ||
		fail "the installed man page does not render"
	make -s -C "$ROOT_DIR" BUILD="$BUILD" install DESTDIR="$root" PREFIX=/opt/x SBINDIR=/opt/x/bin \
		>"$T/make.log" 2>&1 || fail "make install PREFIX=/opt/x failed"
	[ -f "$root/opt/x/bin/bpfckpt" ] || fail "SBINDIR= is not honoured"
	make -s -C "$ROOT_DIR" BUILD="$BUILD" uninstall DESTDIR="$root" PREFIX=/usr >"$T/make.log" 2>&1 ||
		fail "make uninstall failed: $(tail -n 5 "$T/make.log")"
	f=$(cd "$root" && find usr -type f)
	[ -z "$f" ] || fail "make uninstall left: $f"
}

# the .deb: built with dpkg-buildpackage when the build has none newer
# than its binary (a full build in a copy of the tree: minutes)
test_deb() {
	local deb dep root=$T/root l p f
	deb=$(ls -t "$BUILD"/deb/bpfckpt_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ] || [ "$deb" -ot "$BPFCKPT" ] || [ "$deb" -ot "$ROOT_DIR/debian/rules" ]; then
		timeout 900 make -s -C "$ROOT_DIR" BUILD="$BUILD" deb >"$T/deb.log" 2>&1 ||
			fail "make deb failed: $(tail -n 8 "$T/deb.log" | paste -sd';')"
		deb=$(ls -t "$BUILD"/deb/bpfckpt_*.deb 2>/dev/null | head -n 1)
	fi
	[ -n "$deb" ] || fail "make deb made no .deb in $BUILD/deb"
	dpkg-deb -f "$deb" Package | grep -qx bpfckpt || fail "$deb: Package is not bpfckpt"
	dep=$(dpkg-deb -f "$deb" Depends)
	# the package of every library the binary links (dpkg-shlibdeps' job)
	for l in $(readelf -d "$BPFCKPT" | grep -oE 'NEEDED.*\[[^]]+\]' | grep -oE '\[[^]]+' | tr -d '['); do
		p=$(dpkg -S "*/$l" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1)
		[ -n "$p" ] || fail "no package has $l, which bpfckpt links"
		grep -qE "(^|, )$p( |,|\$)" <<<"$dep" || fail "Depends lacks $p (for $l): '$dep'"
	done
	# every dependency exists in this (Debian) archive: a fresh machine gets them
	for p in $(tr ',' '\n' <<<"$dep" | awk '{print $1}'); do
		dpkg -s "$p" >/dev/null 2>&1 || apt-cache show "$p" >/dev/null 2>&1 ||
			fail "dependency $p is not a package here"
	done
	dpkg-deb -c "$deb" >"$T/contents"
	for f in ./usr/sbin/bpfckpt ./usr/share/man/man8/bpfckpt.8.gz \
		./usr/share/bash-completion/completions/bpfckpt ./usr/share/doc/bpfckpt/copyright; do
		grep -q " $f\$" "$T/contents" || fail "$deb lacks $f"
	done
	grep -E ' \./usr/sbin/bpfckpt$' "$T/contents" | grep -q '^-rwxr-xr-x root/root' ||
		fail "bpfckpt is not root-owned 0755 in the .deb: $(grep sbin/bpfckpt "$T/contents")"
	# installed by dpkg into a scratch root with a database of its own
	mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
	: >"$root/var/lib/dpkg/status"
	dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >"$T/dpkg.log" 2>&1 ||
		fail "dpkg --root -i failed: $(tail -n 5 "$T/dpkg.log")"
	grep -qE '^Status: install ok installed' "$root/var/lib/dpkg/status" ||
		fail "dpkg does not list bpfckpt as installed in the scratch root"
	(cd / && timeout 60 "$root/usr/sbin/bpfckpt" check >"$T/check.out" 2>&1) ||
		fail "bpfckpt check from the .deb failed: $(grep -E ' NO |bpfckpt:' "$T/check.out" | head -n 3)"
	"$root/usr/sbin/bpfckpt" help snap | grep -q '^usage: bpfckpt snap PID' ||
		fail "the packaged bpfckpt has no help"
	zcat "$root/usr/share/man/man8/bpfckpt.8.gz" | cmp -s - "$MAN" ||
		fail "the packaged man page is not the generated one"
	dpkg --root="$root" --force-script-chrootless -r bpfckpt >"$T/dpkg.log" 2>&1 ||
		fail "dpkg --root -r failed: $(tail -n 5 "$T/dpkg.log")"
	[ ! -e "$root/usr/sbin/bpfckpt" ] || fail "dpkg -r left /usr/sbin/bpfckpt"
}

run_tests "$@"
