#include <time.h>

#include "clock.h"

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	/* Cannot fail with a valid clock id and address. */
	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

uint64_t clock_mono_us(void)
{
	return clock_mono_ns() / 1000;
}

uint64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}
