# SPDX-License-Identifier: GPL-2.0
# What the bench scripts (lazy, compress, precopy, migrate) share.  Set
# BENCH_NAME before sourcing it: die() names the bench.

# fds the caller left open (a harness's pipes) would be the workload's,
# and snap --kill refuses a pipe to outside the tree
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
done

BUILD=${BUILD:-build}

die() { echo "bench $BENCH_NAME: $*" >&2; exit 1; }

calc() { python3 -c "print('%.4g' % ($1))"; }
# the median of the numbers in $1 (the upper one of an even count)
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# wait_gone PID: not even a zombie left (its pid is free), 60 s at most
wait_gone() {
	local i
	for i in $(seq 600); do
		[ -d "/proc/$1" ] || return 0
		sleep 0.1
	done
	return 1
}

# kill_gone PID: SIGKILL, reaped if it is our child (no "Killed" from
# the shell), and gone
kill_gone() {
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	wait_gone "$1" || die "pid $1 does not go away"
}
