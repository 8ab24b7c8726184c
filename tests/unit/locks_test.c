// SPDX-License-Identifier: GPL-2.0
/*
 * The fdinfo "lock:" lines user/locks.c reads (fs/locks.c
 * lock_get_status()), every kind the kernel prints.  No root, no BPF.
 */
#include <stdio.h>
#include <string.h>
#include "locks.h"

static int failed;

static void expect(const char *line, int ret, uint32_t kind, uint32_t type,
		   uint64_t start, uint64_t len, const char *why_has)
{
	struct img_lock l;
	char why[160] = "";
	int got = locks_parse_line(line, &l, why, sizeof(why));

	if (got != ret || (ret == 1 && (l.kind != kind || l.type != type ||
					l.start != start || l.len != len)) ||
	    (why_has && !strstr(why, why_has))) {
		printf("FAIL locks/parse: '%s': %d kind %u type %u %llu+%llu '%s'\n", line,
		       got, l.kind, l.type, (unsigned long long)l.start,
		       (unsigned long long)l.len, why);
		failed = 1;
	}
}

int main(void)
{
	expect("1: POSIX  ADVISORY  WRITE 8814 fe:00:10953521 5 14", 1, IMG_LOCK_POSIX,
	       IMG_LOCK_WRITE, 5, 10, NULL);
	expect("2: POSIX  ADVISORY  READ 8814 fe:00:10953521 50 EOF", 1, IMG_LOCK_POSIX,
	       IMG_LOCK_READ, 50, 0, NULL);
	expect("1: OFDLCK ADVISORY  WRITE -1 fe:00:10953523 3 6", 1, IMG_LOCK_OFD,
	       IMG_LOCK_WRITE, 3, 4, NULL);
	expect("4: FLOCK  ADVISORY  READ 8814 fe:00:10953522 0 EOF", 1, IMG_LOCK_FLOCK,
	       IMG_LOCK_READ, 0, 0, NULL);
	expect("1: ACCESS ADVISORY  READ 8814 fe:00:1 0 EOF", 0, 0, 0, 0, 0, NULL);
	expect("1: LEASE  ACTIVE    READ 8814 fe:00:10953524 0 EOF", -95, 0, 0, 0, 0,
	       "holds a lease (F_SETLEASE): not supported");
	expect("1: DELEG  ACTIVE    READ 8814 fe:00:10953524 0 EOF", -95, 0, 0, 0, 0,
	       "delegation");
	expect("1: POSIX  ADVISORY  UNLCK 8814 fe:00:1 0 EOF", -95, 0, 0, 0, 0, "UNLCK");
	expect("1: POSIX  ADVISORY  WRITE 8814 fe:00:1 9 3", -71, 0, 0, 0, 0, "cannot read");
	expect("1: POSIX  ADVISORY  WRITE 8814 fe:00:1 -1 3", -71, 0, 0, 0, 0, "cannot read");
	expect("1: POSIX  ADVISORY", -71, 0, 0, 0, 0, "cannot read");
	expect("1: POSIX  ADVISORY  WRITE 8814 fe:00:1 5 14x", -71, 0, 0, 0, 0, "cannot read");
	if (!failed)
		printf("PASS locks/parse\n");
	return failed;
}
