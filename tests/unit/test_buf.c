/* tests/unit/test_buf.c: the bounded buffer (lib/buf.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void printf_fits_grows_and_terminates(void **state)
{
	struct buf b;

	(void) state;
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_printf(&b, "%s/%u", "TCP", 80u), 0); /* no storage yet */
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "TCP/80");
	assert_int_equal(buf_printf(&b, ", %s/%u", "UDP", 53u), 0); /* fits */
	assert_string_equal(b.data, "TCP/80, UDP/53");
	assert_int_equal(b.len, strlen(b.data));
	for (int i = 0; i < 100; i++) /* past the first capacity */
		assert_int_equal(buf_printf(&b, "%d", i % 10), 0);
	assert_int_equal(b.len, 14 + 100);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 14, "0123456789", 10);
	buf_done(&b);
}

static void printf_past_the_bound_appends_nothing(void **state)
{
	struct buf b;

	(void) state;
	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "abcd"), 0);
	/* room in the storage, but past the bound */
	assert_int_equal(buf_printf(&b, "%s", "efghi"), -E2BIG);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "abcd");
	assert_int_equal(buf_printf(&b, "%s", "efgh"), 0);
	assert_string_equal(b.data, "abcdefgh");
	assert_int_equal(buf_printf(&b, "%c", 'x'), -E2BIG);
	assert_string_equal(b.data, "abcdefgh");
	buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(printf_fits_grows_and_terminates),
		cmocka_unit_test(printf_past_the_bound_appends_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
