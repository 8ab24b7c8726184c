// SPDX-License-Identifier: GPL-2.0
/*
 * The vdso as symbols.  Snap records where each function of the vdso
 * was (IMG_VDSO); a restore on a kernel whose vdso puts them elsewhere
 * (another build of the same release) cannot move its own vdso to the
 * old address and expect the program's saved pointers to work: it keeps
 * its vdso elsewhere and fills the old place with trampolines to it, as
 * CRIU's vdso proxy does.  The vdso of this process is the kernel's,
 * the same for every process: its ELF is read from our own mapping.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "bpfckpt/mm.h"
#include "log.h"
#include "inject.h"
#include "restore.h"
#include "snap.h"
#include "util.h"

/* movabs $target, %rax; jmp *%rax */
#define TRAMP_LEN	12

/* the [vdso] VMA's length, from our own maps */
static uint64_t own_vdso_size(uint64_t base)
{
	char line[256];
	unsigned long s, e;
	uint64_t size = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == base && strstr(line, "[vdso]"))
			size = e - s;
	fclose(f);
	return size;
}

int vdso_self(struct img_vdso *v, struct img_vdso_sym *syms)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)(uintptr_t)base;
	const Elf64_Shdr *sh;
	uint32_t n = 0;
	int i;
	size_t j;

	memset(v, 0, sizeof(*v));
	v->h.type = IMG_VDSO;
	if (!base)
		return -ENOENT;
	v->size = own_vdso_size(base);
	if (!v->size || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(*sh) > v->size)
		return -ENOEXEC;
	sh = (const void *)(uintptr_t)(base + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym = (const void *)(uintptr_t)(base + sh[i].sh_offset);
		const char *str;

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
			continue;
		str = (const char *)(uintptr_t)(base + sh[sh[i].sh_link].sh_offset);
		for (j = 0; j < sh[i].sh_size / sizeof(*sym); j++) {
			if (ELF64_ST_TYPE(sym[j].st_info) != STT_FUNC || !sym[j].st_value ||
			    !sym[j].st_name || n == IMG_VDSO_SYMS_MAX)
				continue;
			syms[n].offset = sym[j].st_value;
			snprintf(syms[n].name, sizeof(syms[n].name), "%s",
				 str + sym[j].st_name);
			n++;
		}
	}
	v->nr_syms = n;
	return 0;
}

int vdso_write(struct snap_ctx *ctx, struct snap_proc *sp)
{
	struct img_vdso_sym syms[IMG_VDSO_SYMS_MAX];
	struct img_vdso v;
	struct img_part part = { syms, 0 };
	uint32_t i;
	int ret;

	for (i = 0; i < sp->nr_vmas && sp->vmas[i].v.kind != IMG_VMA_VDSO; i++)
		;
	if (i == sp->nr_vmas)
		return 0;	/* it unmapped its vdso */
	ret = vdso_self(&v, syms);
	if (ret) {
		pr_err("pid %d: reading the vdso's symbols: %s", sp->pid, errstr(ret));
		return ret;
	}
	part.len = v.nr_syms * sizeof(syms[0]);
	return img_put(ctx->w, &v, sizeof(v), &part, 1);
}

static const struct img_vdso_sym *find_sym(const struct img_vdso_sym *s, uint32_t n,
					   const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return &s[i];
	return NULL;
}

int vdso_compare(const struct m_proc *mp, char *what, size_t len)
{
	struct img_vdso_sym mine[IMG_VDSO_SYMS_MAX];
	struct img_vdso cur;
	const struct img_vdso_sym *m;
	const char *fault = getenv("BPFCKPT_FAULT");
	uint32_t i, moved = 0;
	size_t n = 0;
	int ret;

	what[0] = 0;
	if (!mp->vdso)
		return 0;	/* an older image: the size check alone */
	ret = vdso_self(&cur, mine);
	if (ret)
		return ret;
	/* BPFCKPT_FAULT=vdso-differs: as if every function had moved */
	if (fault && !strcmp(fault, "vdso-differs"))
		for (i = 0; i < cur.nr_syms; i++)
			mine[i].offset += 16;
	if (cur.size != mp->vdso->size)
		n += snprintf(what + n, len - n, "%llu bytes, the image's %llu",
			      (unsigned long long)cur.size,
			      (unsigned long long)mp->vdso->size);
	for (i = 0; i < mp->vdso->nr_syms; i++) {
		m = find_sym(mine, cur.nr_syms, mp->vdso_syms[i].name);
		if (!m)
			return snprintf(what, len, "it has no %s", mp->vdso_syms[i].name),
			       -ENOENT;
		if (m->offset == mp->vdso_syms[i].offset)
			continue;
		/* the first one in full, then a count */
		if (!moved++)
			n += snprintf(what + n, len - n, "%s%s at %#llx, was %#llx",
				      n ? ", " : "", m->name,
				      (unsigned long long)m->offset,
				      (unsigned long long)mp->vdso_syms[i].offset);
	}
	if (moved > 1)
		snprintf(what + n, len - n, " and %u more functions moved", moved - 1);
	return n ? 1 : 0;
}

/*
 * The old vdso's place, made of trampolines: each function the image's
 * vdso had jumps to the same function of ours, now at @base.
 */
int vdso_proxy(struct restore_ctx *ctx, struct rst_proc *rp, uint64_t at,
	       uint64_t base)
{
	const struct m_proc *mp = rp->mp;
	struct img_vdso_sym mine[IMG_VDSO_SYMS_MAX];
	struct img_vdso cur;
	uint64_t size = mp->vdso->size, target;
	uint8_t *page;
	struct iovec l, r;
	uint32_t i, j;
	long ret;
	int err;

	err = vdso_self(&cur, mine);
	if (err)
		return err;
	page = calloc(1, size);
	if (!page)
		return -ENOMEM;
	memset(page, 0xcc, size);	/* int3 wherever no function starts */
	for (i = 0; i < mp->vdso->nr_syms; i++) {
		const struct img_vdso_sym *s = &mp->vdso_syms[i];
		const struct img_vdso_sym *m = find_sym(mine, cur.nr_syms, s->name);

		for (j = 0; j < mp->vdso->nr_syms; j++) {
			uint64_t o = mp->vdso_syms[j].offset;

			if (o > s->offset && o < s->offset + TRAMP_LEN) {
				free(page);
				return -ENOSPC;	/* two functions too close together */
			}
		}
		if (!m || s->offset + TRAMP_LEN > size) {
			free(page);
			return -ENOENT;
		}
		target = base + m->offset;
		page[s->offset] = 0x48;
		page[s->offset + 1] = 0xb8;
		memcpy(page + s->offset + 2, &target, 8);
		page[s->offset + 10] = 0xff;
		page[s->offset + 11] = 0xe0;
	}
	err = rst_syscall(ctx, rp, 0, "mmap of the vdso proxy", SYS_mmap, at, size,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  (uint64_t)-1, 0, &ret);
	l = (struct iovec){ page, size };
	r = (struct iovec){ (void *)(uintptr_t)at, size };
	if (!err && process_vm_writev(rp->pid, &l, 1, &r, 1, 0) != (ssize_t)size)
		err = -errno;
	if (!err)
		err = rst_syscall(ctx, rp, 0, "mprotect of the vdso proxy", SYS_mprotect,
				  at, size, PROT_READ | PROT_EXEC, 0, 0, 0, &ret);
	free(page);
	return err;
}
