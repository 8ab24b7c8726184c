// SPDX-License-Identifier: GPL-2.0
/*
 * Syscall descriptions and their decoding for trace: every description
 * names its syscall as arch_syscall_name does, and records come out as
 * strace-like text and named JSON fields.  No root, no BPF.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "arch.h"
#include "print.h"
#include "sysfmt.h"

static int failed;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "FAIL sysfmt: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		failed = 1;						\
	}								\
} while (0)

static void check_descs(void)
{
	const struct sys_desc *d;
	const char *name;
	long nr;
	int i, strs;

	for (nr = 0; nr < ARCH_NR_SYSCALLS; nr++) {
		d = arch_syscall_desc(nr);
		if (!d)
			continue;
		name = arch_syscall_name(nr);
		CHECK(name && !strcmp(name, d->name), "syscall %ld is %s, described as %s",
		      nr, name ? name : "?", d->name);
		for (i = 0, strs = 0; i < 6 && d->arg[i].name; i++)
			strs += d->arg[i].val == SV_STR;
		for (; i < 6; i++)
			CHECK(!d->arg[i].name, "%s: argument %d after the last", d->name, i);
		/* the BPF side reads one string argument per syscall */
		CHECK(strs <= 1, "%s: %d string arguments", d->name, strs);
	}
	CHECK(arch_syscall_desc(-1) == NULL && arch_syscall_desc(ARCH_NR_SYSCALLS) == NULL,
	      "descriptions out of range");
}

/* the text or JSON of one syscall record */
static char *render(const struct rec_syscall *r, const char *str, bool json)
{
	struct printer p;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		exit(2);
	print_init(&p, f, json);
	print_open_obj(&p, NULL);
	sysfmt_syscall(&p, r, str);
	print_close_obj(&p);
	fclose(f);
	return buf;
}

static void expect(const struct rec_syscall *r, const char *str, const char *text,
		   const char *json)
{
	char *got = render(r, str, false);

	CHECK(!strcmp(got, text), "text\n  got  %s\n  want %s", got, text);
	free(got);
	got = render(r, str, true);
	CHECK(!strcmp(got, json), "json\n  got  %s\n  want %s", got, json);
	free(got);
}

static void check_decoding(void)
{
	struct rec_syscall r = { .nr = 257, .ret = 3, .lat_ns = 12000,
		.args = { (uint32_t)AT_FDCWD, 0x1000, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644 },
		.str_len = 7 };

	expect(&r, "/tmp/x",
	       "openat(AT_FDCWD, \"/tmp/x\", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0644) = 3 <0.000012>",
	       "{\"name\":\"openat\",\"nr\":257,\"args\":{\"dfd\":\"AT_FDCWD\",\"filename\":\"/tmp/x\","
	       "\"flags\":\"O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC\",\"mode\":\"0644\"},\"ret\":3,"
	       "\"latency_ns\":12000}");

	memset(&r, 0, sizeof(r));
	r.nr = 9;
	r.ret = 0x7f0000000000;
	r.args[1] = 4096;
	r.args[2] = PROT_READ | PROT_WRITE;
	r.args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	r.args[4] = (uint32_t)-1;
	r.lat_ns = 2000;
	expect(&r, NULL,
	       "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000 <0.000002>",
	       "{\"name\":\"mmap\",\"nr\":9,\"args\":{\"addr\":\"0x0\",\"len\":4096,"
	       "\"prot\":\"PROT_READ|PROT_WRITE\",\"flags\":\"MAP_PRIVATE|MAP_ANONYMOUS\","
	       "\"fd\":-1,\"off\":\"0x0\"},\"ret\":139637976727552,\"latency_ns\":2000}");

	/* an error, and a timespec read at entry */
	memset(&r, 0, sizeof(r));
	r.nr = 230;
	r.ret = -4;
	r.args[2] = 0x7ffd0000;
	r.mem[0] = 0;
	r.mem[1] = 20000000;
	r.mem_len = 16;
	r.lat_ns = 1500000;
	expect(&r, NULL,
	       "clock_nanosleep(CLOCK_REALTIME, 0, 0.020000000, NULL) = -4 EINTR (Interrupted system call) <0.001500>",
	       "{\"name\":\"clock_nanosleep\",\"nr\":230,\"args\":{\"which_clock\":\"CLOCK_REALTIME\","
	       "\"flags\":0,\"rqtp\":0.02,\"rmtp\":\"0x0\"},\"ret\":-4,\"error\":\"EINTR\","
	       "\"latency_ns\":1500000}");

	/* no return, and a syscall without a description */
	memset(&r, 0, sizeof(r));
	r.nr = 231;
	r.no_return = 1;
	r.args[0] = 3;
	expect(&r, NULL, "exit_group(3) = ?",
	       "{\"name\":\"exit_group\",\"nr\":231,\"args\":{\"error_code\":3},\"latency_ns\":0}");
	memset(&r, 0, sizeof(r));
	r.nr = 100;	/* times */
	r.args[0] = 0x10;
	expect(&r, NULL, "times(0x10, 0, 0, 0, 0, 0) = 0 <0.000000>",
	       "{\"name\":\"times\",\"nr\":100,\"args\":{\"arg0\":\"0x10\",\"arg1\":\"0x0\","
	       "\"arg2\":\"0x0\",\"arg3\":\"0x0\",\"arg4\":\"0x0\",\"arg5\":\"0x0\"},\"ret\":0,"
	       "\"latency_ns\":0}");
}

int main(void)
{
	char buf[32];

	check_descs();
	check_decoding();
	CHECK(!strcmp(sysfmt_errname(512, buf, sizeof(buf)), "ERESTARTSYS"), "%s", buf);
	CHECK(!strcmp(sysfmt_signame(9, buf, sizeof(buf)), "SIGKILL"), "%s", buf);
	CHECK(!strcmp(sysfmt_signame(35, buf, sizeof(buf)), "SIGRTMIN+1") ||
	      !strcmp(buf, "SIGRTMIN+0"), "%s", buf);
	if (!failed)
		printf("PASS sysfmt/all\n");
	return failed;
}
