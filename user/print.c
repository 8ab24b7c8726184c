// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdarg.h>
#include "print.h"

void print_init(struct printer *p, FILE *f, bool json)
{
	p->f = f;
	p->json = json;
	p->depth = 0;
	p->need_comma[0] = false;
}

static void json_escape(FILE *f, const char *s)
{
	const unsigned char *c;

	fputc('"', f);
	for (c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*c < 0x20)
				fprintf(f, "\\u%04x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}

/*
 * Comma and key before a JSON value; false in text mode.  A scalar
 * printed with a NULL key is text-only: callers skip it in JSON.
 */
static bool json_key(struct printer *p, const char *key)
{
	if (!p->json)
		return false;
	if (p->need_comma[p->depth])
		fputc(',', p->f);
	p->need_comma[p->depth] = true;
	if (key) {
		json_escape(p->f, key);
		fputc(':', p->f);
	}
	return true;
}

static void open_any(struct printer *p, const char *key, char c)
{
	if (!json_key(p, key))
		return;
	fputc(c, p->f);
	if (p->depth + 1 < PRINT_MAX_DEPTH)
		p->depth++;
	p->need_comma[p->depth] = false;
}

static void close_any(struct printer *p, char c)
{
	if (!p->json)
		return;
	if (p->depth > 0)
		p->depth--;
	fputc(c, p->f);
}

void print_open_obj(struct printer *p, const char *key)
{
	open_any(p, key, '{');
}

void print_close_obj(struct printer *p)
{
	close_any(p, '}');
}

void print_open_arr(struct printer *p, const char *key)
{
	open_any(p, key, '[');
}

void print_close_arr(struct printer *p)
{
	close_any(p, ']');
}

void print_u64(struct printer *p, const char *key, const char *fmt, uint64_t v)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		fprintf(p->f, "%" PRIu64, v);
	else if (fmt)
		fprintf(p->f, fmt, v);
}

void print_s64(struct printer *p, const char *key, const char *fmt, int64_t v)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		fprintf(p->f, "%" PRId64, v);
	else if (fmt)
		fprintf(p->f, fmt, v);
}

void print_dbl(struct printer *p, const char *key, const char *fmt, double v)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		fprintf(p->f, "%.6g", v);
	else if (fmt)
		fprintf(p->f, fmt, v);
}

void print_hex(struct printer *p, const char *key, const char *fmt, uint64_t v)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		fprintf(p->f, "\"0x%" PRIx64 "\"", v);
	else if (fmt)
		fprintf(p->f, fmt, v);
}

void print_str(struct printer *p, const char *key, const char *fmt, const char *s)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		json_escape(p->f, s ? s : "");
	else if (fmt)
		fprintf(p->f, fmt, s ? s : "");
}

void print_bool(struct printer *p, const char *key, const char *fmt, bool v)
{
	if (p->json && !key)
		return;
	if (json_key(p, key))
		fputs(v ? "true" : "false", p->f);
	else if (fmt)
		fprintf(p->f, fmt, v ? "yes" : "no");
}

void print_text(struct printer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
}

void print_end(struct printer *p)
{
	if (p->json)
		fputc('\n', p->f);
	fflush(p->f);
}

void print_record_end(struct printer *p)
{
	if (!p->json)
		return;
	fputc('\n', p->f);
	p->depth = 0;
	p->need_comma[0] = false;
}
