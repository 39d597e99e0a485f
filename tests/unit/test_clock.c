/*
 * unit.clock: clock_mono_ns/us/ms() read one monotonic clock: the three
 * agree with each other and with CLOCK_MONOTONIC, and never go back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static void units_agree(void **state)
{
	struct timespec ts;
	uint64_t ns, us, ms, ref;

	(void) state;
	ns = clock_mono_ns();
	us = clock_mono_us();
	ms = clock_mono_ms();
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	ref = (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
	assert_true(ns <= us * 1000 + 999);
	assert_true(us <= ms * 1000 + 999);
	assert_true(ms * 1000000 <= ref);
	/* Read within a second of each other. */
	assert_true(ref - ns < 1000000000);
}

static void never_goes_back(void **state)
{
	uint64_t prev = clock_mono_ns();

	(void) state;
	for (int i = 0; i < 100000; i++) {
		uint64_t now = clock_mono_ns();

		assert_true(now >= prev);
		prev = now;
	}
}

static void sleeps_are_seen(void **state)
{
	struct timespec d = { .tv_nsec = 20 * 1000000 };
	uint64_t t0 = clock_mono_ms();

	(void) state;
	assert_int_equal(nanosleep(&d, NULL), 0);
	assert_true(clock_mono_ms() - t0 >= 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(units_agree),
		cmocka_unit_test(never_goes_back),
		cmocka_unit_test(sleeps_are_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
