/*
 * The monotonic clock (CLOCK_MONOTONIC): the one place that reads it, for
 * timeouts, deadlines and durations.  Never wall time: it does not jump
 * when the clock is set.
 */
#ifndef BH_CLOCK_H
#define BH_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ns(void);
uint64_t clock_mono_us(void);
uint64_t clock_mono_ms(void);

#endif
