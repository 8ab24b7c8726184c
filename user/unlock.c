// SPDX-License-Identifier: GPL-2.0
/*
 * bpfckpt unlock IMAGE
 *
 * Releases the network lock that snap --kill took for the image's TCP
 * connections, after a restore that failed or will not happen: their
 * peers then get resets for segments nobody receives, as after any
 * crash.  A restore that succeeds releases it itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmdtab.h"
#include "log.h"
#include "model.h"
#include "netlock.h"

#define UNLOCK_USAGE	cmd_synopsis("unlock")

int cmd_unlock(int argc, char **argv)
{
	const struct img_inet **list = NULL;
	struct ckpt_image img;
	uint32_t i, j, n = 0, released = 0;
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error(UNLOCK_USAGE, "which image?");
	ret = image_load(argv[1], 0, &img);
	if (ret) {
		pr_err("%s: %s", argv[1], img.r.err);
		image_free(&img);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < img.nr_procs; i++) {
		const struct m_proc *mp = &img.procs[i];

		for (j = 0; j < mp->nr_fds; j++) {
			const struct img_inet *in = (const void *)mp->fds[j].ext;
			const struct img_inet **l;

			if (mp->fds[j].f->kind != IMG_FD_INET || !(in->flags & IMG_INET_F_REPAIR))
				continue;
			l = realloc(list, (n + 1) * sizeof(*list));
			if (!l) {
				ret = -ENOMEM;
				goto out;
			}
			list = l;
			list[n++] = in;
		}
	}
	ret = n ? netlock_unlock(list, n, &released) : 0;
	if (!ret)
		printf("%s: %u connection%s released\n", argv[1], released,
		       released == 1 ? "" : "s");
out:
	if (ret)
		pr_err("%s: releasing the network lock: %s", argv[1], errstr(ret));
	free(list);
	image_free(&img);
	return ret ? EXIT_RUNTIME : 0;
}
