/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One call per field for both text and JSON output (the iproute2
 * print_*(PRINT_ANY, ...) model): in JSON mode the key and value are
 * emitted, in text mode the value through the text format (NULL: nothing).
 * A NULL key makes a scalar text-only.
 */
#ifndef BPFCKPT_PRINT_H
#define BPFCKPT_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PRINT_MAX_DEPTH 16

struct printer {
	FILE *f;
	bool json;
	int depth;
	bool need_comma[PRINT_MAX_DEPTH];
};

void print_init(struct printer *p, FILE *f, bool json);
void print_open_obj(struct printer *p, const char *key);
void print_close_obj(struct printer *p);
void print_open_arr(struct printer *p, const char *key);
void print_close_arr(struct printer *p);

void print_u64(struct printer *p, const char *key, const char *fmt, uint64_t v);
void print_s64(struct printer *p, const char *key, const char *fmt, int64_t v);
void print_dbl(struct printer *p, const char *key, const char *fmt, double v);
/* JSON: "0x..." string, as addresses are in show --json */
void print_hex(struct printer *p, const char *key, const char *fmt, uint64_t v);
void print_str(struct printer *p, const char *key, const char *fmt, const char *s);
void print_bool(struct printer *p, const char *key, const char *fmt, bool v);
/* text only */
void print_text(struct printer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* end: a newline after the JSON document */
void print_end(struct printer *p);
/*
 * End of one record of a stream (JSON Lines): a newline in JSON, and the
 * next top-level value starts a new line instead of following a comma.
 * No flush.
 */
void print_record_end(struct printer *p);

#endif
