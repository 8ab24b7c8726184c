// SPDX-License-Identifier: GPL-2.0
/* bpfckpt show IMAGE [--json]: decode an image, like crit show. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include "arch.h"
#include "cmd.h"
#include "cmdtab.h"
#include "fd/fd.h"
#include "locks.h"
#include "fd/inet.h"
#include "log.h"
#include "model.h"
#include "print.h"
#include "show.h"
#include "util.h"

#define SHOW_USAGE cmd_synopsis("show")

static const char *const vma_kinds[] = {
	[IMG_VMA_ANON] = "anon", [IMG_VMA_FILE] = "file",
	[IMG_VMA_SHARED_FILE] = "shared-file", [IMG_VMA_SHARED_ANON] = "shared-anon",
	[IMG_VMA_HEAP] = "heap", [IMG_VMA_STACK] = "stack",
	[IMG_VMA_VDSO] = "vdso", [IMG_VMA_VVAR] = "vvar",
	[IMG_VMA_VVAR_VCLOCK] = "vvar_vclock", [IMG_VMA_SYSV_SHM] = "sysv-shm",
	[IMG_VMA_SHARED_GONE] = "shared-deleted",
	[IMG_VMA_PRIVATE_GONE] = "private-deleted",
};


const char *show_vma_kind(uint32_t kind)
{
	return kind <= IMG_VMA_KIND_MAX && vma_kinds[kind] ? vma_kinds[kind] : "?";
}

/* the name /proc/PID/maps shows for a VMA */
const char *show_vma_name(uint32_t kind, const char *path)
{
	switch (kind) {
	case IMG_VMA_HEAP: return "[heap]";
	case IMG_VMA_STACK: return "[stack]";
	case IMG_VMA_VDSO: return "[vdso]";
	case IMG_VMA_VVAR: return "[vvar]";
	case IMG_VMA_VVAR_VCLOCK: return "[vvar_vclock]";
	}
	return path ? path : "";
}

void show_prot(char out[5], uint32_t prot, uint32_t map_flags)
{
	out[0] = prot & PROT_READ ? 'r' : '-';
	out[1] = prot & PROT_WRITE ? 'w' : '-';
	out[2] = prot & PROT_EXEC ? 'x' : '-';
	out[3] = map_flags & MAP_SHARED ? 's' : 'p';
	out[4] = 0;
}

/* snap --compress: how many pages are in IMG_ZPAGES, in how many bytes */
static void show_compressed(struct printer *p, const struct ckpt_image *img)
{
	uint64_t pages = 0, bytes = 0;
	uint32_t i, c, k;

	for (i = 0; i < img->nr_procs; i++)
		for (c = 0; c < img->procs[i].nr_chunks; c++) {
			const struct m_pages *pg = &img->procs[i].pages[c];

			pages += pg->z.nr;
			for (k = 0; k < pg->z.nr_pieces; k++)
				bytes += pg->z.zlen[k];
		}
	if (!pages)
		return;
	print_u64(p, "zpages", "compressed: %" PRIu64 " pages", pages);
	print_u64(p, "zbytes", " in %" PRIu64 " bytes", bytes);
	print_dbl(p, NULL, " (ratio %.2f)\n",
		  bytes ? pages * (double)img->hdr->page_size / bytes : 0.0);
}

static uint64_t inherited(const struct ckpt_image *img)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < img->nr_procs; i++)
		n += img->procs[i].nr_inherited;
	return n;
}

/* pre-copy: this image and the parents it takes pages from, nearest first */
static void show_chain(struct printer *p, const struct ckpt_image *img)
{
	const struct ckpt_image *c;

	if (!img->chain)
		return;
	print_open_arr(p, "chain");
	for (c = img; c && c->chain; c = c->parent) {
		print_open_obj(p, NULL);
		print_hex(p, "id", c == img ? "pre-copy chain: snap %016" PRIx64 :
			  "  <- snap %016" PRIx64, c->chain->id);
		print_bool(p, "pre", (c->chain->flags & IMG_CHAIN_PRE) ?
			   " (a pre-copy image: tracked writes, not restorable alone)" : "",
			   c->chain->flags & IMG_CHAIN_PRE);
		if (c->chain_parent) {
			print_str(p, "parent", ", parent %s", c->chain_parent);
			print_u64(p, "inherited", ", %" PRIu64 " pages taken from it", inherited(c));
		}
		print_text(p, "\n");
		print_close_obj(p);
	}
	print_close_arr(p);
}

static void show_header(struct printer *p, const struct ckpt_image *img,
			const char *path)
{
	const struct img_header *h = img->hdr;
	time_t t = h->time_ns / 1000000000ULL;
	char when[64], kernel[160];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(kernel, sizeof(kernel), "%s %s", h->release, h->kversion);
	print_open_obj(p, "header");
	print_str(p, "image", "image %s", path);
	print_u64(p, "size", " (%" PRIu64 " bytes)", img->r.size);
	print_u64(p, "version", ", format %" PRIu64, h->version);
	print_str(p, "time", ", snapped %s", when);
	print_u64(p, "time_ns", NULL, h->time_ns);
	print_str(p, "hostname", " on %s\n", h->hostname);
	print_str(p, "kernel", "kernel %s", h->release);
	print_str(p, "kernel_version", NULL, kernel);
	print_str(p, "machine", " %s", h->machine);
	print_u64(p, "page_size", ", page size %" PRIu64, h->page_size);
	print_u64(p, "xstate_size", ", xstate %" PRIu64 " bytes", h->xstate_size);
	print_s64(p, "root", ", root pid %" PRId64 "\n", h->root_pid);
	print_u64(p, "nr_processes", NULL, img->nr_procs);
	print_u64(p, "pages", NULL, img->nr_pages);
	show_compressed(p, img);
	show_chain(p, img);
	print_close_obj(p);
}

void show_thread_fields(struct printer *p, const struct img_thread *t,
			const struct show_where *w)
{
	const char *sc = w->syscall >= 0 ? arch_syscall_name(w->syscall) : NULL;

	print_s64(p, "tid", "    thread %" PRId64, t->tid[0]);
	print_str(p, "comm", " (%s)", t->comm);
	if (w->known) {
		print_hex(p, "ip", " ip %#" PRIx64, w->ip);
		print_hex(p, "sp", " sp %#" PRIx64, w->sp);
	}
	print_bool(p, "in_syscall", NULL, t->flags & IMG_THREAD_IN_SYSCALL);
	if (w->syscall >= 0) {
		print_s64(p, "syscall_nr", NULL, w->syscall);
		print_str(p, "syscall", " in %s()", sc ? sc : "?");
		if (w->has_ret)
			print_s64(p, "syscall_ret", NULL, w->ret);
	}
	print_hex(p, "sigmask", " sigmask %#" PRIx64, t->blocked);
	print_hex(p, "pending", NULL, t->pending);
	print_u64(p, "uid", " uid %" PRIu64, t->creds.uid);
	print_u64(p, "gid", " gid %" PRIu64, t->creds.gid);
	print_hex(p, "cap_eff", NULL, t->creds.cap_eff);
	print_hex(p, "rseq", NULL, t->rseq);
	print_hex(p, "sas_sp", NULL, t->sas_sp);
	print_u64(p, "sas_size", NULL, t->sas_size);
	print_u64(p, "policy", NULL, t->policy);
	print_s64(p, "nice", NULL, t->nice);
}

/* "0-3,6": a CPU mask as /proc's *_list fields show it */
static void cpu_list(char *buf, size_t len, const __u64 *mask, uint32_t nr)
{
	uint32_t i, j;
	size_t n = 0;

	buf[0] = 0;
	for (i = 0; i < nr && n + 24 < len; i++) {
		if (!(mask[i / 64] >> (i % 64) & 1))
			continue;
		for (j = i; j + 1 < nr && mask[(j + 1) / 64] >> ((j + 1) % 64) & 1; j++)
			;
		n += snprintf(buf + n, len - n, j > i ? "%s%u-%u" : "%s%u",
			      n ? "," : "", i, j);
		i = j;
	}
}

static void show_thread_ext(struct printer *p, const struct img_thread_ext *e)
{
	char cpus[256];

	cpu_list(cpus, sizeof(cpus), e->affinity, e->nr_cpus);
	print_str(p, "affinity", " cpus %s", cpus);
	print_s64(p, "ioprio", e->ioprio ? " ioprio %#" PRIx64 : NULL, e->ioprio);
	print_u64(p, "seccomp", e->seccomp_mode ? " seccomp mode %" PRIu64 : NULL,
		  e->seccomp_mode);
	print_u64(p, "seccomp_filters", e->nr_filters ? " (%" PRIu64 " filters)" : NULL,
		  e->nr_filters);
}

static void show_thread(struct printer *p, const struct m_thread *mt)
{
	struct show_where w = {
		.known = true,
		.ip = arch_ip(mt->regs),
		.sp = arch_sp(mt->regs),
		.syscall = arch_syscall_nr(mt->regs),
		.has_ret = true,
		.ret = arch_syscall_ret(mt->regs),
	};

	print_open_obj(p, NULL);
	show_thread_fields(p, mt->t, &w);
	if (mt->ext)
		show_thread_ext(p, mt->ext);
	print_text(p, "\n");
	print_close_obj(p);
}

void show_vma_fields(struct printer *p, const struct img_vma *v, const char *path)
{
	char prot[5], dev[32];

	show_prot(prot, v->prot, v->map_flags);
	snprintf(dev, sizeof(dev), "%02x:%02x", (unsigned)(v->dev >> 20),
		 (unsigned)(v->dev & 0xfffff));
	print_hex(p, "start", "    %08" PRIx64, v->start);
	print_hex(p, "end", "-%08" PRIx64, v->end);
	print_str(p, "prot", " %s", prot);
	print_hex(p, "offset", " %08" PRIx64, v->pgoff);
	print_str(p, "dev", " %s", dev);
	print_u64(p, "inode", " %-8" PRIu64, v->ino);
	print_str(p, "kind", " %-11s", show_vma_kind(v->kind));
	print_str(p, "path", " %s", show_vma_name(v->kind, path));
	if (v->seals)
		print_hex(p, "seals", " seals %#" PRIx64, v->seals);
}

static void show_vma(struct printer *p, const struct m_vma *mv)
{
	print_open_obj(p, NULL);
	show_vma_fields(p, mv->v, mv->path);
	if (mv->fdata)
		print_u64(p, "content", mv->fdata->flags & IMG_FILEDATA_TOO_BIG ?
			  ", %" PRIu64 " bytes not saved (above --file-max)" :
			  ", the file's %" PRIu64 " bytes", mv->fdata->size);
	print_text(p, "\n");
	print_close_obj(p);
}

void show_fd_fields(struct printer *p, const struct img_fd *f, const char *path)
{
	print_s64(p, "fd", "    %4" PRId64, f->fd);
	print_str(p, "kind", " %-4s", files_kind_name(f->kind));
	print_u64(p, "pos", " pos %-10" PRIu64, f->pos);
	print_hex(p, "flags", " flags %#o", f->open_flags);
	print_bool(p, "cloexec", NULL, f->flags & IMG_FD_CLOEXEC);
	print_u64(p, "inode", NULL, f->ino);
	print_str(p, "path", " %s", path);
}

static void show_unix(struct printer *p, const struct img_unix *u)
{
	static const char *const types[] = { [SOCK_STREAM] = "stream",
		[SOCK_DGRAM] = "dgram", [SOCK_SEQPACKET] = "seqpacket" };
	char name[sizeof(u->name) + 1];

	print_open_obj(p, "unix");
	print_str(p, "type", " (%s", u->type < ARRAY_SIZE(types) && types[u->type] ?
		  types[u->type] : "?");
	print_str(p, "state", " %s", u->state == IMG_UNIX_LISTEN ? "listening" :
		  u->state == IMG_UNIX_ESTABLISHED ? "connected" : "unconnected");
	if (u->peer)
		print_u64(p, "peer", " to socket:[%" PRIu64 "]", u->peer);
	memcpy(name, u->name, u->name_len);
	name[u->name_len] = 0;
	if (u->name_len && !u->name[0])
		name[0] = '@';	/* abstract, as ss shows it */
	if (u->name_len)
		print_str(p, "name", " name %s", name);
	print_u64(p, "shutdown", NULL, u->shutdown);
	print_u64(p, "messages", ", %" PRIu64 " messages", u->nr_msgs);
	print_u64(p, "queued", " of %" PRIu64 " bytes queued)", u->data_len);
	print_close_obj(p);
}

/* inotify watches and fanotify marks, one line each */
static void show_notify(struct printer *p, const struct m_fd *mf)
{
	static const char *const types[] = { [IMG_FAN_MARK_INODE] = "inode",
		[IMG_FAN_MARK_MOUNT] = "mount", [IMG_FAN_MARK_FS] = "filesystem" };
	const struct img_inotify *in = (const void *)mf->ext;
	const char *paths = (const char *)mf->data +
			    (size_t)in->nr_watches * sizeof(struct img_notify_mark);
	bool fan = mf->ext->type == IMG_FANOTIFY;
	struct img_notify_mark k;
	uint32_t i;

	if (fan) {
		const struct img_fanotify *fa = (const void *)mf->ext;

		print_hex(p, "init_flags", " (init flags %#x", fa->init_flags);
		print_hex(p, "event_flags", ", event flags %#o)", fa->event_flags);
	}
	print_open_arr(p, "marks");
	for (i = 0; i < in->nr_watches; i++) {
		memcpy(&k, mf->data + (size_t)i * sizeof(k), sizeof(k));
		print_open_obj(p, NULL);
		if (!fan)
			print_s64(p, "wd", "\n           watch %" PRId64, k.wd);
		else
			print_str(p, "type", "\n           mark on %s",
				  k.type < ARRAY_SIZE(types) ? types[k.type] : "?");
		print_hex(p, "mask", " mask %#x", k.mask);
		if (fan) {
			print_hex(p, "ignored_mask", " ignored %#x", k.ignored_mask);
			print_hex(p, "flags", " flags %#x", k.flags);
		}
		print_u64(p, "inode", NULL, k.ino);
		print_str(p, "path", " %s", k.path_len ? paths + k.path_off : "(no path)");
		print_close_obj(p);
	}
	print_close_arr(p);
}

static void show_tty(struct printer *p, const struct img_tty *t)
{
	print_open_obj(p, "tty");
	print_str(p, "side", " (pts %s", t->flags & IMG_TTY_MASTER ? "master" : "slave");
	print_u64(p, "index", " %" PRIu64, t->index);
	print_u64(p, "rows", ", %" PRIu64, t->rows);
	print_u64(p, "cols", "x%" PRIu64, t->cols);
	print_hex(p, "lflag", ", lflag %#" PRIx64, t->lflag);
	print_hex(p, "iflag", NULL, t->iflag);
	print_hex(p, "oflag", NULL, t->oflag);
	print_hex(p, "cflag", NULL, t->cflag);
	print_s64(p, "sid", t->sid ? ", session %" PRId64 : NULL, t->sid);
	print_s64(p, "pgrp", t->pgrp ? " fg %" PRId64 : NULL, t->pgrp);
	print_bool(p, "locked", t->flags & IMG_TTY_LOCKED ? ", locked" : NULL,
		   t->flags & IMG_TTY_LOCKED);
	print_bool(p, "packet", t->flags & IMG_TTY_PKT ? ", packet mode" : NULL,
		   t->flags & IMG_TTY_PKT);
	print_u64(p, "pending", t->flags & IMG_TTY_DATA ?
		  ", %" PRIu64 " bytes of output" : NULL, t->data_len);
	print_u64(p, "pending_input", t->flags & IMG_TTY_DATA ?
		  " and %" PRIu64 " of input pending)" : ")", t->in_len);
	print_close_obj(p);
}

void show_inet(struct printer *p, const struct img_inet *in)
{
	static const char *const states[] = { "?", "established", "syn-sent",
		"syn-recv", "fin-wait1", "fin-wait2", "time-wait", "unconnected",
		"close-wait", "last-ack", "listening", "closing", "new-syn-recv" };
	char a[64];

	print_open_obj(p, "inet");
	print_str(p, "proto", " (%s", in->proto == 6 ? "tcp" : "udp");
	print_str(p, "family", "%s", in->family == 2 ? "" : "6");
	print_str(p, "state", " %s", in->state < ARRAY_SIZE(states) ? states[in->state] : "?");
	inet_addr_str(in->family, in->src, in->sport, a, sizeof(a));
	print_str(p, "local", " %s", a);
	if (in->dport) {
		inet_addr_str(in->family, in->dst, in->dport, a, sizeof(a));
		print_str(p, "peer", " peer %s", a);
	}
	if (in->state == 10)
		print_u64(p, "backlog", " backlog %" PRIu64, in->backlog);
	print_hex(p, "flags", NULL, in->flags);
	if (in->flags & IMG_INET_F_REPAIR) {
		print_u64(p, "snd_seq", " seq %" PRIu64, in->snd_seq);
		print_u64(p, "rcv_seq", "/%" PRIu64, in->rcv_seq);
		print_u64(p, "mss", " mss %" PRIu64, in->mss);
		print_u64(p, "outq", ", %" PRIu64 " bytes to send", in->outq_len);
		print_u64(p, "unsent", " (%" PRIu64 " never sent)", in->unsent_len);
		print_u64(p, "inq", ", %" PRIu64 " received", in->inq_len);
	}
	print_text(p, ")");
	print_close_obj(p);
}

static void show_fd(struct printer *p, const struct m_fd *mf)
{
	print_open_obj(p, NULL);
	show_fd_fields(p, mf->f, mf->path);
	if (mf->ext && mf->ext->type == IMG_PIPE) {
		const struct img_pipe *pp = (const void *)mf->ext;

		print_open_obj(p, "pipe");
		print_u64(p, "size", " (pipe of %" PRIu64, pp->size);
		print_u64(p, "readers", " with %" PRIu64 " readers", pp->readers);
		print_u64(p, "writers", ", %" PRIu64 " writers", pp->writers);
		print_u64(p, "queued", ", %" PRIu64 " bytes queued)", pp->data_len);
		print_close_obj(p);
	}
	if (mf->ext && mf->ext->type == IMG_UNIX)
		show_unix(p, (const void *)mf->ext);
	if (mf->ext && mf->ext->type == IMG_INET)
		show_inet(p, (const void *)mf->ext);
	if (mf->ext && (mf->ext->type == IMG_INOTIFY || mf->ext->type == IMG_FANOTIFY))
		show_notify(p, mf);
	if (mf->ext && mf->ext->type == IMG_TTY)
		show_tty(p, (const void *)mf->ext);
	print_text(p, "\n");
	print_close_obj(p);
}

static void show_lock(struct printer *p, const struct img_lock *l)
{
	print_open_obj(p, NULL);
	print_s64(p, "fd", "    lock on fd %" PRId64, l->fd);
	print_str(p, "kind", ": %s", locks_kind_name(l->kind));
	print_str(p, "type", " %s", l->type == IMG_LOCK_WRITE ? "write" : "read");
	print_u64(p, "start", l->kind == IMG_LOCK_FLOCK ? NULL : " from %" PRIu64, l->start);
	print_u64(p, "len", l->kind == IMG_LOCK_FLOCK ? NULL :
		  l->len ? ", %" PRIu64 " bytes" : ", to EOF", l->len);
	print_text(p, "\n");
	print_close_obj(p);
}

static const char *state_name(const struct img_proc *pr)
{
	if (pr->flags & IMG_PROC_ZOMBIE)
		return "zombie";
	if (pr->flags & IMG_PROC_STOPPED)
		return "stopped";
	return "running";
}

void show_proc_fields(struct printer *p, const struct img_proc *pr,
		      const char *exe, const char *cwd, const char *root,
		      uint64_t pages, uint32_t page_size)
{
	uint32_t i;

	print_s64(p, "pid", "process %" PRId64, pr->pid[0]);
	print_str(p, "comm", " (%s)", pr->comm);
	print_s64(p, "ppid", " ppid %" PRId64, pr->ppid[0]);
	print_s64(p, "pgid", " pgid %" PRId64, pr->pgid[0]);
	print_s64(p, "sid", " sid %" PRId64, pr->sid[0]);
	print_str(p, "state", " %s", state_name(pr));
	if (pr->flags & IMG_PROC_ZOMBIE)
		print_s64(p, "exit_code", " status %#" PRIx64, pr->exit_code);
	print_u64(p, "pages", ", %" PRIu64 " pages", pages);
	print_dbl(p, NULL, " (%.1f MiB)\n", pages * (double)page_size / 1048576.0);
	print_u64(p, "ns_levels", NULL, pr->nr_levels);
	print_str(p, "exe", "  exe %s", exe);
	print_str(p, "cwd", " cwd %s", cwd);
	print_str(p, "root", " root %s", root);
	print_hex(p, "umask", " umask %04" PRIo64 "\n", pr->umask);
	print_hex(p, "brk", NULL, pr->brk);
	print_hex(p, "start_stack", NULL, pr->start_stack);
	print_hex(p, "shared_pending", NULL, pr->shared_pending);
	print_hex(p, "coredump_filter", NULL, pr->coredump_filter);
	print_open_arr(p, "itimers");
	for (i = 0; i < 3; i++) {
		static const char *const names[] = { "real", "virtual", "prof" };

		if (!pr->itimer[i].value_ns && !pr->itimer[i].interval_ns)
			continue;
		print_open_obj(p, NULL);
		print_str(p, "which", "  itimer %s", names[i]);
		print_u64(p, "value_ns", " value %" PRIu64 " ns", pr->itimer[i].value_ns);
		print_u64(p, "interval_ns", " interval %" PRIu64 " ns\n",
			  pr->itimer[i].interval_ns);
		print_close_obj(p);
	}
	print_close_arr(p);
}

/* its pids at every level and what restore does for its namespaces (ns.h) */
static void show_ns(struct printer *p, const struct m_proc *mp)
{
	uint32_t i, f = mp->ns ? mp->ns->flags : 0;
	char pids[BCK_NS_LEVELS * 12] = "";

	if (mp->p->nr_levels < 2 && !mp->ns)
		return;
	for (i = 0; i < mp->p->nr_levels; i++)
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
			 i ? " " : "", mp->p->pid[i]);
	/* as NSpid in /proc/PID/status: from the snapper's namespace down */
	print_str(p, "nspid", "  pid namespaces: %s", pids);
	print_bool(p, "mnt_new", f & IMG_PNS_MNT_NEW ? ", own mount namespace" : NULL,
		   f & IMG_PNS_MNT_NEW);
	print_u64(p, "mounts", f & IMG_PNS_MNT_NEW ? " (%" PRIu64 " mounts)" : NULL,
		  mp->ns ? mp->ns->nr_mounts : 0);
	print_bool(p, "mounts_proc", f & (IMG_PNS_PROC | IMG_PNS_PROC_FIRST) ?
		   ", mounts its proc on /proc" : NULL,
		   f & (IMG_PNS_PROC | IMG_PNS_PROC_FIRST));
	print_str(p, "pid_for_children", f & IMG_PNS_PIDFC_CHILD ?
		  ", pid_for_children: %s" : f & IMG_PNS_PIDFC_EMPTY ?
		  ", pid_for_children: %s" : NULL, f & IMG_PNS_PIDFC_CHILD ? "a child's" :
		  f & IMG_PNS_PIDFC_EMPTY ? "empty" : "own");
	print_text(p, "\n");
}

static void show_proc(struct printer *p, const struct m_proc *mp, uint32_t ps)
{
	uint32_t i;

	print_open_obj(p, NULL);
	show_proc_fields(p, mp->p, mp->exe, mp->cwd, mp->root, mp->nr_pages, ps);
	show_ns(p, mp);
	print_u64(p, "cow_pages", mp->nr_cow_pages ? "  %" PRIu64 " more pages "
		  "shared copy-on-write with the parent (stored with it)\n" : NULL,
		  mp->nr_cow_pages);
	if (mp->ext) {
		print_hex(p, "membarrier", mp->ext->membarrier ?
			  "  membarrier registrations %#" PRIx64 "\n" : NULL,
			  mp->ext->membarrier);
		print_u64(p, "loginuid", NULL, mp->ext->loginuid);
		print_s64(p, "session_keyring", NULL, mp->ext->session_keyring);
	}
	print_text(p, "  threads:\n");
	print_open_arr(p, "threads");
	for (i = 0; i < mp->nr_threads; i++)
		show_thread(p, &mp->threads[i]);
	print_close_arr(p);
	print_text(p, "  vmas:\n");
	print_open_arr(p, "vmas");
	for (i = 0; i < mp->nr_vmas; i++)
		show_vma(p, &mp->vmas[i]);
	print_close_arr(p);
	print_text(p, "  fds:\n");
	print_open_arr(p, "fds");
	for (i = 0; i < mp->nr_fds; i++)
		show_fd(p, &mp->fds[i]);
	print_close_arr(p);
	print_open_arr(p, "locks");
	for (i = 0; i < mp->nr_locks; i++)
		show_lock(p, &mp->locks[i]);
	print_close_arr(p);
	print_open_arr(p, "timers");
	for (i = 0; i < mp->nr_timers; i++) {
		const struct img_timer *t = mp->timers[i];

		print_open_obj(p, NULL);
		print_s64(p, "id", "  timer %" PRId64, t->id);
		print_s64(p, "clock", " clock %" PRId64, t->clock);
		print_s64(p, "signo", " signal %" PRId64, t->signo);
		print_u64(p, "value_ns", " value %" PRIu64 " ns", t->value_ns);
		print_u64(p, "interval_ns", " interval %" PRIu64 " ns\n", t->interval_ns);
		print_close_obj(p);
	}
	print_close_arr(p);
	print_open_arr(p, "sem_undo");
	for (i = 0; i < mp->nr_undo; i++) {
		const struct img_sem_undo *u = mp->undo[i];
		char *vals = malloc(u->nsems * 7 + 1);
		size_t n = 0, j;
		int16_t a;

		print_open_obj(p, NULL);
		print_s64(p, "semid", "  SEM_UNDO on sem id %" PRId64, u->semid);
		for (j = 0; vals && j < u->nsems; j++) {
			memcpy(&a, (const uint8_t *)(u + 1) + 2 * j, sizeof(a));
			n += sprintf(vals + n, "%s%d", j ? " " : "", a);
		}
		print_str(p, "semadj", ": semadj %s\n", vals ? vals : "?");
		free(vals);
		print_close_obj(p);
	}
	print_close_arr(p);
	print_open_arr(p, "signals");
	for (i = 0; i < mp->nr_sigs; i++) {
		print_open_obj(p, NULL);
		print_u64(p, "signo", "  queued signal %" PRIu64, mp->sigs[i]->signo);
		print_s64(p, "tid", " for thread %" PRId64 "\n", mp->sigs[i]->tid);
		print_close_obj(p);
	}
	print_close_arr(p);
	print_close_obj(p);
}

static void show_perm(struct printer *p, const struct img_ipc_perm *pm)
{
	print_s64(p, "id", " id %" PRId64, pm->id);
	print_hex(p, "key", " key %#" PRIx64, (uint32_t)pm->key);
	print_u64(p, "mode", " mode %#" PRIo64, pm->mode);
	print_u64(p, "uid", " owner %" PRIu64, pm->uid);
	print_u64(p, "gid", ":%" PRIu64, pm->gid);
	print_u64(p, "cuid", " creator %" PRIu64, pm->cuid);
	print_u64(p, "cgid", ":%" PRIu64, pm->cgid);
}

/* the tree's namespaces and SysV objects */
static void show_ipc(struct printer *p, const struct m_ipc *ipc)
{
	uint32_t i, j, bytes;

	if (!ipc->ns)
		return;
	print_open_obj(p, "ipc");
	print_bool(p, "own_ipc_ns", "own ipc namespace: %s", ipc->ns->flags & IMG_NS_IPC_OWN);
	print_bool(p, "own_uts_ns", ", own uts namespace: %s", ipc->ns->flags & IMG_NS_UTS_OWN);
	print_str(p, "hostname", " (hostname %s", ipc->ns->hostname);
	print_str(p, "domainname", ", domainname %s)\n", ipc->ns->domainname);
	print_open_arr(p, "shm");
	for (i = 0; i < ipc->nr_shm; i++) {
		const struct m_shm *ms = &ipc->shm[i];

		for (j = 0, bytes = 0; j < ms->nr_data; j++)
			bytes += ms->data[j]->len;
		print_open_obj(p, NULL);
		print_text(p, "  shm");
		show_perm(p, &ms->s->perm);
		print_u64(p, "size", " size %" PRIu64, ms->s->size);
		print_s64(p, "cpid", " cpid %" PRId64, ms->s->cpid);
		print_bool(p, "removed", ms->s->perm.mode & IMG_SHM_DEST ? " removed" : NULL,
			   ms->s->perm.mode & IMG_SHM_DEST);
		print_u64(p, "stored", " (%" PRIu64 " bytes stored)\n", bytes);
		print_close_obj(p);
	}
	print_close_arr(p);
	print_open_arr(p, "sem");
	for (i = 0; i < ipc->nr_sem; i++) {
		const struct img_sem *s = ipc->sem[i];
		char *vals;
		size_t n;
		uint16_t v;

		print_open_obj(p, NULL);
		print_text(p, "  sem");
		show_perm(p, &s->perm);
		vals = malloc(s->nsems * 6 + 1);
		for (j = 0, n = 0; vals && j < s->nsems; j++) {
			memcpy(&v, (const uint8_t *)(s + 1) + 2 * j, sizeof(v));
			n += sprintf(vals + n, "%s%u", j ? " " : "", v);
		}
		print_str(p, "values", " values %s\n", vals ? vals : "?");
		free(vals);
		print_close_obj(p);
	}
	print_close_arr(p);
	print_open_arr(p, "msg");
	for (i = 0; i < ipc->nr_msq; i++) {
		const struct m_msq *mq = &ipc->msq[i];

		print_open_obj(p, NULL);
		print_text(p, "  msg");
		show_perm(p, &mq->q->perm);
		print_u64(p, "qbytes", " qbytes %" PRIu64, mq->q->qbytes);
		print_text(p, " messages (type:bytes)");
		print_open_arr(p, "messages");
		for (j = 0; j < mq->nr_msgs; j++) {
			print_open_obj(p, NULL);
			print_s64(p, "type", " %" PRId64, mq->msgs[j]->mtype);
			print_u64(p, "bytes", ":%" PRIu64, mq->msgs[j]->len);
			print_close_obj(p);
		}
		print_close_arr(p);
		print_text(p, "\n");
		print_close_obj(p);
	}
	print_close_arr(p);
	print_close_obj(p);
}

int cmd_show(int argc, char **argv)
{
	struct ckpt_image img;
	struct printer p;
	const char *path = NULL;
	bool json = false;
	uint32_t i;
	int ret;

	for (i = 1; i < (uint32_t)argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' && argv[i][1])	/* "-": stdin */
			return usage_error(SHOW_USAGE, "unknown option '%s'", argv[i]);
		else if (path)
			return usage_error(SHOW_USAGE, "one IMAGE only");
		else
			path = argv[i];
	}
	if (!path)
		return usage_error(SHOW_USAGE, "which IMAGE?");
	ret = image_load(path, 0, &img);
	if (ret) {
		pr_err("%s: %s", path, img.r.err);
		image_free(&img);
		return EXIT_RUNTIME;
	}
	print_init(&p, stdout, json);
	print_open_obj(&p, NULL);
	show_header(&p, &img, path);
	show_ipc(&p, &img.ipc);
	print_open_arr(&p, "processes");
	for (i = 0; i < img.nr_procs; i++)
		show_proc(&p, &img.procs[i], img.hdr->page_size);
	print_close_arr(&p);
	print_close_obj(&p);
	print_end(&p);
	image_free(&img);
	return 0;
}
