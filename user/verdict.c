// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "util.h"
#include "verdict.h"

int verdict_refuse(struct verdict *v, int err, pid_t pid, const char *what,
		   const char *fmt, ...)
{
	struct verdict_reason r = { pid, what, NULL };
	char why[BCK_PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!v->all) {
		pr_err("pid %d: %s", pid, why);
		return err;
	}
	r.why = strdup(why);
	if (!r.why || vec_push(v->r, v->n, v->cap, r)) {
		free(r.why);
		return -ENOMEM;
	}
	return 0;
}

void verdict_free(struct verdict *v)
{
	uint32_t i;

	for (i = 0; i < v->n; i++)
		free(v->r[i].why);
	free(v->r);
	v->r = NULL;
	v->n = v->cap = 0;
}

bool verdict_same_boot(const struct ckpt_image *img)
{
	char boot_id[sizeof(img->hdr->boot_id)];

	return !read_boot_id(boot_id, sizeof(boot_id)) && boot_id[0] &&
	       !strcmp(boot_id, (const char *)img->hdr->boot_id);
}

int verdict_check_image(const struct ckpt_image *img, struct verdict *v)
{
	int ret;

	ret = pstree_check_image(img, v);
	if (!ret)
		ret = task_check_image(img, v);
	if (!ret)
		ret = mm_check_image(img, v);
	if (!ret)
		ret = files_check_image(img, v);
	if (!ret)
		ret = ipc_check_image(img, v);
	return ret;
}
