// SPDX-License-Identifier: GPL-2.0
/* demo: counts, one line every 500 ms (make demo). */
#include "wl.h"

int main(void)
{
	unsigned long counter;

	wl_setsid();
	wl_ready();
	for (counter = 1;; counter++) {
		wl_sleep_ms(500);
		wl_print("counter %lu", counter);
	}
}
