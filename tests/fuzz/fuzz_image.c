// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the image reader: any byte string given to
 * image_load() must be refused with a message or loaded, never crash,
 * hang or read out of bounds (built with ASan/UBSan by make fuzz).
 * Seeds: the images the end-to-end tests make, or none at all.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ckpt_image img;
	char path[64];
	int fd;

	fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		/* the checksum would reject nearly every input before the
		 * record checks: fuzz those, as a resealed image would */
		if (!image_load(path, IMG_OPEN_NO_CHECKSUM, &img) && img.r.err[0])
			__builtin_trap();
		image_free(&img);
	}
	close(fd);
	return 0;
}
