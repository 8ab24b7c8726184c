// SPDX-License-Identifier: GPL-2.0
/*
 * Live tracer behind `trace` and `top`: syscall entry/exit, fork, exec,
 * exit, signal delivery and user page faults of one process tree.
 *
 * Every hook runs for every task on the machine, so the first test is
 * the cheapest there is: one bit of tgid_bits, indexed by the kernel-wide
 * tgid, a load from this object's memory (no map lookup).
 * A thread of a marked process is traced when it has `thread` task
 * storage.  The user side gives storage to the threads of the tree
 * through the walk_tree iterator, which also sets their bits;
 * sched_process_fork gives it to every child and thread a traced thread
 * creates, and adds new processes to `traced`, the set of followed
 * thread groups (in the reader's pid numbers).  Storage dies with its
 * task; a bit left behind by a process gone unseen costs a storage
 * lookup to whoever gets its tgid, nothing more.
 *
 * Syscalls are always aggregated in the kernel (sc_stats per syscall,
 * per CPU, and counters in the thread's storage, read back by
 * walk_tree); records go to the ring buffer only for what `emit` and
 * sc_desc ask for.  A record the ring buffer has no room for is counted
 * in `lost`, never dropped silently.
 *
 * The clock is what a traced syscall costs most here: bpf_ktime_get_ns()
 * is a serialised TSC read, ~25 ns in this VM, twice per syscall.  trace
 * times every call (time_mask 0); top (time_mask 2^k - 1) counts every
 * call and times one in 2^k, drawn at random (a xorshift per CPU), so
 * that no periodic pattern of syscalls biases which are timed, and any
 * syscall that has fallen behind that share; time_mask applies only
 * when no records are sent.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "bpfckpt/trace.h"
#include "pid.bpf.h"
#include "refuse.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#ifdef __TARGET_ARCH_x86
/* libbpf 1.1 knows five syscall arguments; the sixth is in r9 */
#define SYSCALL_ARG6(regs)	((regs)->r9)
#else
#error "SYSCALL_ARG6: name this architecture's sixth syscall argument register"
#endif

#define MAX_ERRNO	4095

/* set before load */
const volatile __u32 emit;	/* TRACE_EMIT_* */
const volatile __u32 time_mask;	/* without records: time a call when rnd & mask == 0 */
const volatile __u64 rate_max;	/* records per TRACE_RATE_SHIFT window, 0: no limit */
/*
 * Bumped by the reader after each read of sc_stats (top's refresh): the
 * first call of each syscall on each CPU after it is timed, so that a
 * call made a few dozen times a refresh always has a latency in the
 * refresh's difference.  A draw of one in 2^k alone left such a call
 * untimed in a few percent of refreshes (mean latency 0).
 */
__u32 sample_gen;

#define TGID_WORDS	(TRACE_PID_LIMIT / 64)
__u64 tgid_bits[TGID_WORDS];
/*
 * The pid namespace level of the reader, which only the kernel knows
 * for sure (/proc shows levels from its own namespace down): walk_tree
 * runs in the reader's context and sets it on its first run, before
 * the user side attaches anything else.
 */
__u32 ns_level;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TRACE_MAX_PROCS);
	__type(key, __s32);
	__type(value, __u32);	/* unused */
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TRACE_NR_SYSCALLS);
	__type(key, __u32);
	__type(value, struct sc_desc);
} sc_desc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACE_NR_SYSCALLS);
	__type(key, __u32);
	__type(value, struct sc_stat);
} sc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_lost);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TRACE_RINGBUF_SIZE);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} entry_rnd SEC(".maps");

/* a traced thread: its counters and the syscall it is in */
struct thread {
	__u64 syscalls;
	__u64 syscall_ns;	/* of the timed ones */
	__u64 errors;
	__u64 timed;
	__u64 ts;		/* syscall entry time, 0: not timed */
	__u32 in;		/* entered the syscall while traced */
	__u32 pad;
	__s64 nr;
	__u64 args[6];
	__u64 mem[TRACE_MEM_WORDS];
	__u32 mem_len;
	__s32 str_len;
	char str[TRACE_STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread);
} thread SEC(".maps");


struct ids {
	__s32 tgid;
	__s32 tid;
};

static __always_inline void task_ids(struct task_struct *t, struct ids *id)
{
	if (ns_level == 0) {
		id->tid = BPF_CORE_READ(t, pid);
		id->tgid = BPF_CORE_READ(t, tgid);
		return;
	}
	id->tid = pid_nr_at(BPF_CORE_READ(t, thread_pid), ns_level);
	id->tgid = pid_nr_at(BPF_CORE_READ(t, group_leader, thread_pid), ns_level);
}

static __always_inline void current_ids(struct ids *id)
{
	__u64 pt;

	if (ns_level == 0) {
		pt = bpf_get_current_pid_tgid();
		id->tgid = pt >> 32;
		id->tid = (__u32)pt;
	} else {
		task_ids(bpf_get_current_task_btf(), id);
	}
}

static __always_inline bool tgid_marked(__u32 tgid)
{
	return tgid_bits[(tgid / 64) & (TGID_WORDS - 1)] & (1ull << (tgid & 63));
}

static __always_inline void tgid_mark(__u32 tgid, bool on)
{
	__u64 *w = &tgid_bits[(tgid / 64) & (TGID_WORDS - 1)];
	__u64 bit = 1ull << (tgid & 63);

	if (on) {
		if (!(*w & bit))
			__sync_fetch_and_or(w, bit);
	} else {
		__sync_fetch_and_and(w, ~bit);
	}
}

/*
 * The current thread's storage, NULL if it is not traced.  Helper calls
 * are what the hot path costs beyond the hook itself (each return goes
 * through this AMD host's SRSO "safe RET"): one for the task, which
 * also gives the tgid, and the storage lookup only for a marked one.
 */
static __always_inline struct thread *current_thread(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (!tgid_marked(task->tgid))
		return NULL;
	return bpf_task_storage_get(&thread, task, 0, 0);
}


static __always_inline void count_lost(bool proc)
{
	__u32 zero = 0;
	struct trace_lost *l = bpf_map_lookup_elem(&lost, &zero);

	if (!l)
		return;
	if (proc)
		__sync_fetch_and_add(&l->procs, 1);
	else
		__sync_fetch_and_add(&l->events, 1);
}

/*
 * Under overload the stream thins out instead of overflowing: past
 * rate_max records in a window, records are counted in `throttled` and
 * not sent (the aggregates still have every event).  The window is
 * shared by all CPUs; two CPUs starting a window at once may let a few
 * more through, which is all a display rate needs.
 */
static __always_inline bool rate_ok(__u64 now)
{
	__u32 zero = 0;
	struct trace_lost *l;
	__u64 w = now >> TRACE_RATE_SHIFT;

	if (!rate_max)
		return true;
	l = bpf_map_lookup_elem(&lost, &zero);
	if (!l)
		return true;
	if (l->window != w) {
		l->window = w;
		l->sent = 0;
	}
	if (__sync_fetch_and_add(&l->sent, 1) < rate_max)
		return true;
	__sync_fetch_and_add(&l->throttled, 1);
	return false;
}

/* a record of @size bytes with its common head filled, NULL if no room */
static __always_inline void *ev_reserve(__u32 size, __u32 type, struct ids *id)
{
	__u64 now = bpf_ktime_get_ns();
	struct rec_ev *e;

	if (!rate_ok(now))
		return NULL;
	e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		count_lost(false);
		return NULL;
	}
	e->h.type = type;
	e->h.size = size;
	e->ts = now;
	e->tgid = id->tgid;
	e->tid = id->tid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xffff) << 4;
	v >>= r;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 hist_slot(__u64 v)
{
	__u32 hi = v >> 32, e;

	if (v < TRACE_HIST_SUB)
		return v;
	e = hi ? log2_u32(hi) + 32 : log2_u32(v);
	return (e * TRACE_HIST_SUB + ((v >> (e - 3)) & (TRACE_HIST_SUB - 1))) &
	       (TRACE_HIST_SLOTS - 1);
}

static __always_inline void account(struct thread *t, __s64 nr, __u64 lat, long ret,
				    bool timed)
{
	bool err = ret < 0 && ret >= -MAX_ERRNO;
	__u32 key = nr;
	struct sc_stat *s;

	/* only this thread writes its storage */
	t->syscalls++;
	t->errors += err;
	if (timed) {
		t->timed++;
		t->syscall_ns += lat;
	}
	if (nr < 0 || nr >= TRACE_NR_SYSCALLS)
		return;
	/* per CPU: no atomics needed */
	s = bpf_map_lookup_elem(&sc_stats, &key);
	if (!s)
		return;
	s->count++;
	s->errors += err;
	if (!timed)
		return;
	s->timed++;
	s->total_ns += lat;
	if (lat < s->min_ns || !s->min_ns)
		s->min_ns = lat;
	if (lat > s->max_ns)
		s->max_ns = lat;
	s->hist[hist_slot(lat)]++;
}

/*
 * Where a hook variant finds the syscall's registers: tp_btf has a
 * trusted pt_regs (plain loads), raw_tp an untyped one (probe reads),
 * the classic tracepoint a copy of the arguments in its record.
 */
enum hook_kind { HOOK_BTF, HOOK_RAW, HOOK_CLASSIC };

static __always_inline void fetch_args(struct thread *f, struct pt_regs *regs,
				       struct trace_event_raw_sys_enter *tp,
				       enum hook_kind k)
{
	if (k == HOOK_BTF) {
		f->args[0] = PT_REGS_PARM1_SYSCALL(regs);
		f->args[1] = PT_REGS_PARM2_SYSCALL(regs);
		f->args[2] = PT_REGS_PARM3_SYSCALL(regs);
		f->args[3] = PT_REGS_PARM4_SYSCALL(regs);
		f->args[4] = PT_REGS_PARM5_SYSCALL(regs);
		f->args[5] = SYSCALL_ARG6(regs);
	} else if (k == HOOK_RAW) {
		f->args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
		f->args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
		f->args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
		f->args[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
		f->args[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
		f->args[5] = BPF_CORE_READ(regs, r9);
	} else {
		/* ctx loads at constant offsets only: no pointer into ctx */
		f->args[0] = tp->args[0];
		f->args[1] = tp->args[1];
		f->args[2] = tp->args[2];
		f->args[3] = tp->args[3];
		f->args[4] = tp->args[4];
		f->args[5] = tp->args[5];
	}
}

static __always_inline void read_entry(struct thread *f, const struct sc_desc *d)
{
	__u64 ptr;

	f->str_len = 0;
	f->mem_len = 0;
	if (d->str_arg >= 1 && d->str_arg <= 6) {
		ptr = f->args[(d->str_arg - 1) & 7];
		f->str_len = bpf_probe_read_user_str(f->str, sizeof(f->str),
						     (void *)ptr);
	}
	if (d->mem_arg >= 1 && d->mem_arg <= 6 && d->mem_len) {
		ptr = f->args[(d->mem_arg - 1) & 7];
		if (ptr && !bpf_probe_read_user(f->mem, sizeof(f->mem), (void *)ptr))
			f->mem_len = d->mem_len < sizeof(f->mem) ? d->mem_len :
				     sizeof(f->mem);
	}
}

static __always_inline void send_syscall(struct thread *f, long ret, __u64 lat,
					 bool no_return)
{
	struct rec_syscall_str *rs;
	struct rec_syscall *r;
	struct ids id;

	current_ids(&id);
	if (f->str_len > 0) {
		rs = ev_reserve(sizeof(*rs), REC_SYSCALL, &id);
		if (!rs)
			return;
		bpf_probe_read_kernel(rs->str, sizeof(rs->str), f->str);
		r = &rs->s;
	} else {
		r = ev_reserve(sizeof(*r), REC_SYSCALL, &id);
		if (!r)
			return;
	}
	if (f->ts)
		r->e.ts = f->ts;	/* the call's start, not its end */
	r->nr = f->nr;
	r->ret = ret;
	r->lat_ns = lat;
	__builtin_memcpy(r->args, f->args, sizeof(r->args));
	__builtin_memcpy(r->mem, f->mem, sizeof(r->mem));
	r->mem_len = f->mem_len;
	r->str_len = f->str_len;
	r->no_return = no_return;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
}

/*
 * The hooks' bodies, shared by each attach-type variant.  When only
 * aggregates are wanted and calls are sampled for timing (top), an
 * entry matters only if it is timed: the exit counts the call (its
 * number from the exit's own registers) and the thread's storage is not
 * looked up at entry at all for the others.
 */
static __always_inline bool entry_needed(long nr)
{
	__u32 zero = 0, key = nr, *rnd, x;
	struct sc_stat *st;

	if ((emit & TRACE_EMIT_SYSCALL) || !time_mask)
		return true;
	if (!tgid_marked(bpf_get_current_task_btf()->tgid))
		return false;
	/* a per-CPU xorshift: the lookup is inlined, no helper call */
	rnd = bpf_map_lookup_elem(&entry_rnd, &zero);
	if (!rnd)
		return true;
	x = *rnd;
	if (!x)
		x = bpf_get_prandom_u32() | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*rnd = x;
	if (!(x & time_mask))
		return true;
	/*
	 * A syscall this CPU has timed less than one in 2^k of is timed
	 * now: the first call of each is, and a rare one (a sleep a few
	 * times a refresh) is not left without a latency by the draw.
	 */
	st = bpf_map_lookup_elem(&sc_stats, &key);
	if (!st)
		return true;
	if (st->gen != sample_gen) {
		st->gen = sample_gen;
		return true;
	}
	return st->timed * (time_mask + 1) <= st->count;
}

static __always_inline void on_sys_enter(struct pt_regs *regs,
					 struct trace_event_raw_sys_enter *tp, long nr,
					 enum hook_kind k)
{
	struct sc_desc *d = NULL;
	struct thread *f;
	__u32 key = nr;

	if (!entry_needed(nr))
		return;
	f = current_thread();
	if (!f)
		return;
	f->nr = nr;
	f->in = 1;
	if (emit & TRACE_EMIT_SYSCALL) {
		d = bpf_map_lookup_elem(&sc_desc, &key);
		if (d && d->emit) {
			fetch_args(f, regs, tp, k);
			read_entry(f, d);
		}
	}
	/* after reading the arguments: the latency is the syscall's own */
	f->ts = bpf_ktime_get_ns();
	if (d && d->no_return) {
		account(f, nr, 0, 0, f->ts);
		if (d->emit)
			send_syscall(f, 0, 0, true);
		f->in = 0;
	}
}

/* @nr: the exit's own idea of it, -1 after rt_sigreturn */
static __always_inline void on_sys_exit(long nr, long ret)
{
	struct thread *f = current_thread();
	struct sc_desc *d;
	__u64 lat = 0;
	__u32 key;

	if (!f)
		return;
	if (f->in) {
		nr = f->nr;
		if (f->ts)
			lat = bpf_ktime_get_ns() - f->ts;
	} else if ((emit & TRACE_EMIT_SYSCALL) || !time_mask) {
		/* it was in this syscall before it was traced */
		return;
	}
	account(f, nr, lat, ret, f->in && f->ts);
	if (f->in && (emit & TRACE_EMIT_SYSCALL)) {
		key = f->nr;
		d = bpf_map_lookup_elem(&sc_desc, &key);
		if (d && d->emit)
			send_syscall(f, ret, lat, false);
	}
	f->in = 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	REFUSE_IF(0);
	on_sys_enter(regs, NULL, nr, HOOK_BTF);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	REFUSE_IF(1);
	on_sys_exit(regs->orig_ax, ret);
	return 0;
}

/*
 * The same on kernels whose verifier refuses tp_btf here: a raw
 * tracepoint costs the same (BTF only types its arguments), a classic
 * one copies its record first (perf's trace event buffer).
 */
SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter_raw, struct pt_regs *regs, long nr)
{
	REFUSE_IF(10);
	on_sys_enter(regs, NULL, nr, HOOK_RAW);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_tp(struct trace_event_raw_sys_enter *ctx)
{
	REFUSE_IF(11);
	on_sys_enter(NULL, ctx, ctx->id, HOOK_CLASSIC);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
	REFUSE_IF(12);
	on_sys_exit(BPF_CORE_READ(regs, orig_ax), ret);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	REFUSE_IF(13);
	on_sys_exit(ctx->id, ctx->ret);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(task_fork, struct task_struct *parent, struct task_struct *child)
{
	REFUSE_IF(2);
	struct rec_fork *r;
	struct ids id, cid;
	__u32 zero = 0;

	if (!current_thread())
		return 0;
	/* the child is traced from its first syscall on */
	bpf_task_storage_get(&thread, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	tgid_mark(BPF_CORE_READ(child, tgid), true);
	task_ids(child, &cid);
	current_ids(&id);
	/* a new thread group (not CLONE_THREAD): follow it */
	if (BPF_CORE_READ(child, tgid) != BPF_CORE_READ(parent, tgid) &&
	    bpf_map_update_elem(&traced, &cid.tgid, &zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&traced, &cid.tgid))
		count_lost(true);
	if (!(emit & TRACE_EMIT_FORK))
		return 0;
	r = ev_reserve(sizeof(*r), REC_FORK, &id);
	if (!r)
		return 0;
	r->child_tgid = cid.tgid;
	r->child_tid = cid.tid;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(task_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	REFUSE_IF(3);
	struct rec_exec *r;
	struct ids id;

	if (!(emit & TRACE_EMIT_EXEC) || !current_thread())
		return 0;
	current_ids(&id);
	r = ev_reserve(sizeof(*r), REC_EXEC, &id);
	if (!r)
		return 0;
	/* old_pid is in the exec'ing task's namespace; ours only at level 0 */
	r->old_tid = ns_level == 0 ? old_pid : 0;
	r->len = bpf_probe_read_kernel_str(r->filename, sizeof(r->filename),
					   BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(task_exit, struct task_struct *p, bool group_dead)
{
	REFUSE_IF(4);
	struct rec_exit *r;
	struct ids id;

	if (!current_thread())
		return 0;
	current_ids(&id);
	r = emit & TRACE_EMIT_EXIT ? ev_reserve(sizeof(*r), REC_EXIT, &id) : NULL;
	if (r) {
		r->exit_code = BPF_CORE_READ(p, exit_code);
		r->group_dead = group_dead;
		bpf_ringbuf_submit(r, 0);
	}
	if (group_dead) {
		bpf_map_delete_elem(&traced, &id.tgid);
		tgid_mark(BPF_CORE_READ(p, tgid), false);
	}
	return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(signal_deliver, int sig, struct kernel_siginfo *info,
	     struct k_sigaction *ka)
{
	REFUSE_IF(5);
	struct rec_signal *r;
	struct ids id;

	if (!(emit & TRACE_EMIT_SIGNAL) || !current_thread())
		return 0;
	current_ids(&id);
	r = ev_reserve(sizeof(*r), REC_SIGNAL, &id);
	if (!r)
		return 0;
	r->sig = sig;
	r->code = BPF_CORE_READ(info, si_code);
	r->sender = BPF_CORE_READ(info, _sifields._kill._pid);
	r->pad = 0;
	r->handler = (__u64)BPF_CORE_READ(ka, sa.sa_handler);
	r->sa_flags = BPF_CORE_READ(ka, sa.sa_flags);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* loaded only when trace asks for faults: it runs on every user fault */
SEC("tp_btf/page_fault_user")
int BPF_PROG(page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	REFUSE_IF(6);
	struct rec_fault *r;
	struct ids id;

	if (!current_thread())
		return 0;
	current_ids(&id);
	r = ev_reserve(sizeof(*r), REC_FAULT, &id);
	if (!r)
		return 0;
	r->addr = address;
	r->ip = PT_REGS_IP(regs);
	r->error_code = error_code;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* what walk_tree reports of a thread besides its syscall counters */
static __always_inline void read_sample(struct rec_thread *r, struct task_struct *task)
{
	struct task_struct *parent = task->real_parent;
	struct mm_struct *mm = task->mm;
	struct ids pid;

	r->ppid = 0;
	if (parent) {
		task_ids(parent, &pid);
		r->ppid = pid.tgid;
	}
	r->state = task->__state;
	r->cpu = task->thread_info.cpu;
	r->pad = 0;
	r->exec_ns = task->se.sum_exec_runtime;
	r->nvcsw = task->nvcsw;
	r->nivcsw = task->nivcsw;
	r->min_flt = task->min_flt;
	r->maj_flt = task->maj_flt;
	/* the percpu_counters' shared part: what /proc's VmRSS shows too */
	r->rss_pages = 0;
	if (mm)
		r->rss_pages = BPF_CORE_READ(mm, rss_stat[0].count) +
			       BPF_CORE_READ(mm, rss_stat[1].count) +
			       BPF_CORE_READ(mm, rss_stat[3].count);
	bpf_probe_read_kernel(r->comm, sizeof(r->comm), task->comm);
}

/*
 * Run by the user side, one pass over every task for the whole tree:
 * gives storage to every thread of the followed processes that has none
 * yet (the tree as it was before the fork hook was attached), and
 * reports each one's counters and state.
 */
SEC("iter/task")
int walk_tree(struct bpf_iter__task *ctx)
{
	REFUSE_IF(7);
	struct task_struct *task = ctx->task;
	struct rec_thread r;
	struct thread *f;
	struct ids id;

	ns_level = reader_level();
	if (!task || task->exit_state)
		return 0;
	task_ids(task, &id);
	if (!bpf_map_lookup_elem(&traced, &id.tgid))
		return 0;
	f = bpf_task_storage_get(&thread, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!f)
		return 0;
	tgid_mark(task->tgid, true);
	r.tgid = id.tgid;
	r.tid = id.tid;
	r.syscalls = f->syscalls;
	r.syscall_ns = f->syscall_ns;
	r.errors = f->errors;
	r.timed = f->timed;
	read_sample(&r, task);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * walk_vmas and walk_files are called once per VMA or fd of every
 * process on the machine, in task order: the verdict on the last task
 * is kept, so that the traced map is looked up once per task, not once
 * per VMA.  Only the reader's read() runs them, one at a time.  Between
 * two reads the iterator lets go of the task, whose memory may then be
 * reused: the kernel-wide pid goes with the address (struct last_task
 * is in trace.h for the skeleton's .bss, not for the user side).
 */
struct last_task last_vma_task, last_file_task;

static __always_inline bool followed(struct last_task *l, struct task_struct *task)
{
	struct ids id;

	if (l->task != (__u64)task || l->pid != task->pid) {
		task_ids(task, &id);
		l->task = (__u64)task;
		l->pid = task->pid;
		l->tgid = id.tgid;
		l->traced = bpf_map_lookup_elem(&traced, &id.tgid) != NULL;
	}
	return l->traced;
}

/* the VMAs of the followed processes, for top */
SEC("iter/task_vma")
int walk_vmas(struct bpf_iter__task_vma *ctx)
{
	REFUSE_IF(8);
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct rec_tvma r;

	if (!task || !vma || !followed(&last_vma_task, task))
		return 0;
	r.tgid = last_vma_task.tgid;
	r.pad = 0;
	r.start = vma->vm_start;
	r.end = vma->vm_end;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* the fds of the followed processes, for top */
SEC("iter/task_file")
int walk_files(struct bpf_iter__task_file *ctx)
{
	REFUSE_IF(9);
	struct task_struct *task = ctx->task;
	struct rec_tfd r;

	if (!task || !ctx->file || !followed(&last_file_task, task))
		return 0;
	r.tgid = last_file_task.tgid;
	r.fd = ctx->fd;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
