/* SPDX-License-Identifier: GPL-2.0 */
/* Names for image values, shared by show and inspect. */
#ifndef BPFCKPT_SHOW_H
#define BPFCKPT_SHOW_H

#include <stdint.h>

const char *show_vma_kind(uint32_t kind);
const char *show_fd_kind(uint32_t kind);
const char *show_vma_name(uint32_t kind, const char *path);
void show_prot(char out[5], uint32_t prot, uint32_t map_flags);

#endif
