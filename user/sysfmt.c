// SPDX-License-Identifier: GPL-2.0
/* Decoding syscall arguments for trace: flags by name, strace-like text. */
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include "arch.h"
#include "sysfmt.h"
#include "util.h"

#define MAX_ERRNO	4095

struct name {
	uint64_t val;
	const char *name;
};

#define N(x)	{ x, #x }

static const struct name oflags[] = {
	N(O_CREAT), N(O_EXCL), N(O_NOCTTY), N(O_TRUNC), N(O_APPEND),
	N(O_NONBLOCK), N(O_SYNC), N(O_DSYNC), N(O_ASYNC), N(O_DIRECT),
	N(O_LARGEFILE), N(O_TMPFILE), N(O_DIRECTORY), N(O_NOFOLLOW),
	N(O_NOATIME), N(O_CLOEXEC), N(O_PATH),
};

static const struct name prots[] = {
	N(PROT_READ), N(PROT_WRITE), N(PROT_EXEC), { 0x8, "PROT_SEM" },
	N(PROT_GROWSDOWN), N(PROT_GROWSUP),
};

static const struct name mmaps[] = {
	N(MAP_FIXED), N(MAP_ANONYMOUS), N(MAP_32BIT), N(MAP_GROWSDOWN),
	N(MAP_DENYWRITE), N(MAP_EXECUTABLE), N(MAP_LOCKED), N(MAP_NORESERVE),
	N(MAP_POPULATE), N(MAP_NONBLOCK), N(MAP_STACK), N(MAP_HUGETLB),
	N(MAP_SYNC), N(MAP_FIXED_NOREPLACE),
};

static const struct name mremaps[] = {
	{ 1, "MREMAP_MAYMOVE" }, { 2, "MREMAP_FIXED" }, { 4, "MREMAP_DONTUNMAP" },
};

static const struct name atflags[] = {
	N(AT_SYMLINK_NOFOLLOW), N(AT_REMOVEDIR), N(AT_SYMLINK_FOLLOW),
	N(AT_NO_AUTOMOUNT), N(AT_EMPTY_PATH), { 0x2000, "AT_STATX_FORCE_SYNC" },
	{ 0x4000, "AT_STATX_DONT_SYNC" }, { 0x8000, "AT_RECURSIVE" },
};

static const struct name clones[] = {
	N(CLONE_VM), N(CLONE_FS), N(CLONE_FILES), N(CLONE_SIGHAND),
	N(CLONE_PIDFD), N(CLONE_PTRACE), N(CLONE_VFORK), N(CLONE_PARENT),
	N(CLONE_THREAD), N(CLONE_NEWNS), N(CLONE_SYSVSEM), N(CLONE_SETTLS),
	N(CLONE_PARENT_SETTID), N(CLONE_CHILD_CLEARTID), N(CLONE_DETACHED),
	N(CLONE_UNTRACED), N(CLONE_CHILD_SETTID), N(CLONE_NEWCGROUP),
	N(CLONE_NEWUTS), N(CLONE_NEWIPC), N(CLONE_NEWUSER), N(CLONE_NEWPID),
	N(CLONE_NEWNET), N(CLONE_IO), N(CLONE_NEWTIME),
};

/* asm-generic/mman-common.h; some are newer than the build host's libc */
static const struct name madvs[] = {
	{ 0, "MADV_NORMAL" }, { 1, "MADV_RANDOM" }, { 2, "MADV_SEQUENTIAL" },
	{ 3, "MADV_WILLNEED" }, { 4, "MADV_DONTNEED" }, { 8, "MADV_FREE" },
	{ 9, "MADV_REMOVE" }, { 10, "MADV_DONTFORK" }, { 11, "MADV_DOFORK" },
	{ 12, "MADV_MERGEABLE" }, { 13, "MADV_UNMERGEABLE" },
	{ 14, "MADV_HUGEPAGE" }, { 15, "MADV_NOHUGEPAGE" },
	{ 16, "MADV_DONTDUMP" }, { 17, "MADV_DODUMP" }, { 18, "MADV_WIPEONFORK" },
	{ 19, "MADV_KEEPONFORK" }, { 20, "MADV_COLD" }, { 21, "MADV_PAGEOUT" },
	{ 22, "MADV_POPULATE_READ" }, { 23, "MADV_POPULATE_WRITE" },
	{ 24, "MADV_DONTNEED_LOCKED" }, { 25, "MADV_COLLAPSE" },
	{ 100, "MADV_HWPOISON" }, { 102, "MADV_GUARD_INSTALL" },
	{ 103, "MADV_GUARD_REMOVE" },
};

static const struct name clocks[] = {
	N(CLOCK_REALTIME), N(CLOCK_MONOTONIC), N(CLOCK_PROCESS_CPUTIME_ID),
	N(CLOCK_THREAD_CPUTIME_ID), N(CLOCK_MONOTONIC_RAW),
	N(CLOCK_REALTIME_COARSE), N(CLOCK_MONOTONIC_COARSE), N(CLOCK_BOOTTIME),
	N(CLOCK_REALTIME_ALARM), N(CLOCK_BOOTTIME_ALARM), N(CLOCK_TAI),
};

static const struct name whences[] = {
	N(SEEK_SET), N(SEEK_CUR), N(SEEK_END), N(SEEK_DATA), N(SEEK_HOLE),
};

static const struct name sighows[] = {
	N(SIG_BLOCK), N(SIG_UNBLOCK), N(SIG_SETMASK),
};

static const struct name futexes[] = {
	N(FUTEX_WAIT), N(FUTEX_WAKE), N(FUTEX_FD), N(FUTEX_REQUEUE),
	N(FUTEX_CMP_REQUEUE), N(FUTEX_WAKE_OP), N(FUTEX_LOCK_PI),
	N(FUTEX_UNLOCK_PI), N(FUTEX_TRYLOCK_PI), N(FUTEX_WAIT_BITSET),
	N(FUTEX_WAKE_BITSET), N(FUTEX_WAIT_REQUEUE_PI), N(FUTEX_CMP_REQUEUE_PI),
	{ 13, "FUTEX_LOCK_PI2" },
};

static const struct name fcntls[] = {
	N(F_DUPFD), N(F_GETFD), N(F_SETFD), N(F_GETFL), N(F_SETFL), N(F_GETLK),
	N(F_SETLK), N(F_SETLKW), N(F_SETOWN), N(F_GETOWN), N(F_SETSIG),
	N(F_GETSIG), N(F_SETOWN_EX), N(F_GETOWN_EX), N(F_OFD_GETLK),
	N(F_OFD_SETLK), N(F_OFD_SETLKW), N(F_SETLEASE), N(F_GETLEASE),
	N(F_NOTIFY), N(F_DUPFD_CLOEXEC), N(F_SETPIPE_SZ), N(F_GETPIPE_SZ),
	N(F_ADD_SEALS), N(F_GET_SEALS),
};

static const struct name sicodes[] = {
	N(SI_USER), N(SI_KERNEL), N(SI_QUEUE), N(SI_TIMER), N(SI_MESGQ),
	N(SI_ASYNCIO), N(SI_SIGIO), N(SI_TKILL),
};

/* include/linux/errno.h: seen at syscall exit, never by user space */
static const struct name kernel_errnos[] = {
	{ 512, "ERESTARTSYS" }, { 513, "ERESTARTNOINTR" },
	{ 514, "ERESTARTNOHAND" }, { 515, "ENOIOCTLCMD" },
	{ 516, "ERESTART_RESTARTBLOCK" },
};

static const char *lookup(const struct name *t, size_t n, uint64_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].val == v)
			return t[i].name;
	return NULL;
}

/* appends to buf[*at]; output stays NUL-terminated when it does not fit */
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += n;
}

/* A|B|0x40; @base is a value already shown (access mode, map type) */
static void flags(char *buf, size_t len, uint64_t v, const struct name *t,
		  size_t n, const char *base)
{
	size_t at = 0, i;

	buf[0] = 0;
	if (base)
		put(buf, len, &at, "%s", base);
	for (i = 0; i < n; i++) {
		if ((v & t[i].val) != t[i].val || !t[i].val)
			continue;
		put(buf, len, &at, "%s%s", at ? "|" : "", t[i].name);
		v &= ~t[i].val;
	}
	if (v || !at)
		put(buf, len, &at, "%s%#" PRIx64, at ? "|" : "", v);
}

static void enum_name(char *buf, size_t len, uint64_t v, const struct name *t,
		      size_t n)
{
	const char *s = lookup(t, n, v);

	if (s)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%" PRId64, (int64_t)v);
}

static void decode_open(char *buf, size_t len, uint64_t v)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

	/* O_SYNC includes O_DSYNC, O_TMPFILE O_DIRECTORY: names first */
	flags(buf, len, v & ~(uint64_t)O_ACCMODE, oflags, ARRAY_SIZE(oflags),
	      acc[v & O_ACCMODE]);
}

static void decode_mmap(char *buf, size_t len, uint64_t v)
{
	static const char *const types[] = {
		[MAP_SHARED] = "MAP_SHARED", [MAP_PRIVATE] = "MAP_PRIVATE",
		[MAP_SHARED_VALIDATE] = "MAP_SHARED_VALIDATE",
	};
	uint64_t type = v & MAP_TYPE;
	char tbuf[16];

	if (type < ARRAY_SIZE(types) && types[type])
		snprintf(tbuf, sizeof(tbuf), "%s", types[type]);
	else
		snprintf(tbuf, sizeof(tbuf), "%#" PRIx64, type);
	flags(buf, len, v & ~(uint64_t)MAP_TYPE, mmaps, ARRAY_SIZE(mmaps), tbuf);
}

static void decode_clone(char *buf, size_t len, uint64_t v)
{
	char sig[32] = "";

	if (v & CSIGNAL)
		sysfmt_signame(v & CSIGNAL, sig, sizeof(sig));
	flags(buf, len, v & ~(uint64_t)CSIGNAL, clones, ARRAY_SIZE(clones),
	      sig[0] ? sig : NULL);
}

static void decode_futex(char *buf, size_t len, uint64_t v)
{
	const char *s = lookup(futexes, ARRAY_SIZE(futexes), v & FUTEX_CMD_MASK);

	if (s)
		snprintf(buf, len, "%s%s%s", s, v & FUTEX_PRIVATE_FLAG ? "_PRIVATE" : "",
			 v & FUTEX_CLOCK_REALTIME ? "|FUTEX_CLOCK_REALTIME" : "");
	else
		snprintf(buf, len, "%#" PRIx64, v);
}

const char *sysfmt_signame(int sig, char *buf, size_t len)
{
	const char *abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}

const char *sysfmt_errname(int err, char *buf, size_t len)
{
	const char *s = strerrorname_np(err);

	if (!s)
		s = lookup(kernel_errnos, ARRAY_SIZE(kernel_errnos), err);
	if (s)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "E%d", err);
	return buf;
}

const char *sysfmt_sicode(int code, char *buf, size_t len)
{
	const char *s = lookup(sicodes, ARRAY_SIZE(sicodes), (uint64_t)(int64_t)code);

	if (s)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "code %d", code);
	return buf;
}

/* C-style escapes, so a path always stays on its line */
static void escape(char *out, size_t len, const char *s, bool truncated)
{
	size_t at = 0;
	const unsigned char *c;

	for (c = (const unsigned char *)s; *c && at + 5 < len; c++) {
		if (*c == '"' || *c == '\\')
			at += snprintf(out + at, len - at, "\\%c", *c);
		else if (*c == '\n')
			at += snprintf(out + at, len - at, "\\n");
		else if (*c < 0x20 || *c == 0x7f)
			at += snprintf(out + at, len - at, "\\x%02x", *c);
		else
			out[at++] = *c;
	}
	out[at] = 0;
	if (truncated && at + 4 < len)
		snprintf(out + at, len - at, "...");
}

static bool decode_flags(char *buf, size_t len, uint8_t val, uint64_t v)
{
	switch (val) {
	case SV_OFLAGS:
		decode_open(buf, len, v);
		return true;
	case SV_PROT:
		if (!v)
			snprintf(buf, len, "PROT_NONE");
		else
			flags(buf, len, v, prots, ARRAY_SIZE(prots), NULL);
		return true;
	case SV_MMAP:
		decode_mmap(buf, len, v);
		return true;
	case SV_MREMAP:
		flags(buf, len, v, mremaps, ARRAY_SIZE(mremaps), NULL);
		return true;
	case SV_ATFLAGS:
		flags(buf, len, v, atflags, ARRAY_SIZE(atflags), NULL);
		return true;
	case SV_CLONE:
		decode_clone(buf, len, v);
		return true;
	case SV_MADV:
		enum_name(buf, len, v, madvs, ARRAY_SIZE(madvs));
		return true;
	case SV_CLOCK:
		enum_name(buf, len, (uint32_t)v, clocks, ARRAY_SIZE(clocks));
		return true;
	case SV_WHENCE:
		enum_name(buf, len, (uint32_t)v, whences, ARRAY_SIZE(whences));
		return true;
	case SV_SIGHOW:
		enum_name(buf, len, (uint32_t)v, sighows, ARRAY_SIZE(sighows));
		return true;
	case SV_FCNTL:
		enum_name(buf, len, (uint32_t)v, fcntls, ARRAY_SIZE(fcntls));
		return true;
	case SV_FUTEX:
		decode_futex(buf, len, (uint32_t)v);
		return true;
	case SV_SIG:
		sysfmt_signame((int)v, buf, len);
		return true;
	case SV_MODE:
	case SV_OCT:
		snprintf(buf, len, v ? "0%" PRIo64 : "0", v);
		return true;
	}
	return false;
}

struct arg_ctx {
	const struct rec_syscall *r;
	const char *str;
	bool first;
};

static void print_arg(struct printer *p, struct arg_ctx *a, const char *key,
		      uint8_t val, uint64_t v)
{
	const char *sep = a->first ? "" : ", ";
	const struct rec_syscall *r = a->r;
	char fmt[32], buf[TRACE_STR_MAX * 4 + 8];
	struct timespec ts;

	a->first = false;
	if (val == SV_STR && a->str) {
		escape(buf, sizeof(buf), a->str, r->str_len == TRACE_STR_MAX);
		snprintf(fmt, sizeof(fmt), "%s\"%%s\"", sep);
		print_str(p, key, fmt, buf);
		return;
	}
	if (val == SV_TIMESPEC && v && r->mem_len >= sizeof(ts)) {
		memcpy(&ts, r->mem, sizeof(ts));
		snprintf(fmt, sizeof(fmt), "%s%%.9f", sep);
		print_dbl(p, key, fmt, ts.tv_sec + ts.tv_nsec / 1e9);
		return;
	}
	if (decode_flags(buf, sizeof(buf), val, v)) {
		snprintf(fmt, sizeof(fmt), "%s%%s", sep);
		print_str(p, key, fmt, buf);
		return;
	}
	switch (val) {
	case SV_FD:
		if ((int)v == AT_FDCWD) {
			snprintf(fmt, sizeof(fmt), "%s%%s", sep);
			print_str(p, key, fmt, "AT_FDCWD");
			return;
		}
		/* fall through */
	case SV_INT:
	case SV_PID:
		snprintf(fmt, sizeof(fmt), "%s%%" PRId64, sep);
		print_s64(p, key, fmt, (int32_t)v);
		return;
	case SV_UINT:
		snprintf(fmt, sizeof(fmt), "%s%%" PRIu64, sep);
		print_u64(p, key, fmt, (uint32_t)v);
		return;
	case SV_LONG:
		snprintf(fmt, sizeof(fmt), "%s%%" PRId64, sep);
		print_s64(p, key, fmt, (int64_t)v);
		return;
	case SV_SIZE:
		snprintf(fmt, sizeof(fmt), "%s%%" PRIu64, sep);
		print_u64(p, key, fmt, v);
		return;
	}
	/* pointers (and strings we could not read), raw values */
	if (!v)
		snprintf(fmt, sizeof(fmt), "%s%s", sep,
			 val == SV_PTR || val == SV_STR || val == SV_TIMESPEC ? "NULL" : "0");
	else
		snprintf(fmt, sizeof(fmt), "%s%%#" PRIx64, sep);
	print_hex(p, key, fmt, v);
}

static void print_ret(struct printer *p, const struct rec_syscall *r, uint8_t val)
{
	char err[32];

	if (r->no_return) {
		print_text(p, " = ?");
		return;
	}
	if (r->ret < 0 && r->ret >= -MAX_ERRNO && val != SV_HEX) {
		sysfmt_errname(-r->ret, err, sizeof(err));
		print_s64(p, "ret", " = %" PRId64, r->ret);
		print_str(p, "error", " %s", err);
		if (-r->ret < 512)
			print_text(p, " (%s)", strerror(-r->ret));
		return;
	}
	switch (val) {
	case SV_HEX:
		print_s64(p, "ret", " = %#" PRIx64, r->ret);
		break;
	case SV_OCT:
		print_s64(p, "ret", " = 0%" PRIo64, r->ret);
		break;
	default:
		print_s64(p, "ret", " = %" PRId64, r->ret);
	}
}

void sysfmt_syscall(struct printer *p, const struct rec_syscall *r, const char *str)
{
	const struct sys_desc *d = arch_syscall_desc(r->nr);
	const char *name = arch_syscall_name(r->nr);
	struct arg_ctx a = { r, str, true };
	char raw[24], key[8];
	int i;

	if (!name) {
		snprintf(raw, sizeof(raw), "syscall_%" PRId64, (int64_t)r->nr);
		name = raw;
	}
	print_str(p, "name", "%s(", name);
	print_s64(p, "nr", NULL, r->nr);
	print_open_obj(p, "args");
	for (i = 0; i < 6; i++) {
		if (d && !d->arg[i].name)
			break;
		if (d) {
			print_arg(p, &a, d->arg[i].name, d->arg[i].val, r->args[i]);
		} else {
			snprintf(key, sizeof(key), "arg%d", i);
			print_arg(p, &a, key, SV_HEX, r->args[i]);
		}
	}
	print_close_obj(p);
	print_text(p, ")");
	print_ret(p, r, d ? d->ret : SV_INT);
	if (!r->no_return)
		print_dbl(p, NULL, " <%.6f>", r->lat_ns / 1e9);
	print_u64(p, "latency_ns", NULL, r->lat_ns);
}
