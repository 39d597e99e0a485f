/* tests/unit/test_buf.c: the bounded buffer (lib/buf.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"

/* A file of @n bytes (a repeating pattern) in a fresh temporary path. */
static void write_tmp(char *path, size_t n)
{
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(fputc('a' + (int) (i % 26), f), EOF);
	assert_int_equal(fclose(f), 0);
}

/* Every size around the chunk and around the bound: exactly the bound fits,
 * one byte more is -E2BIG (and nothing past the bound is ever stored). */
static void read_file_whole_and_bounded(void **state)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 200000 };
	char path[] = "/tmp/bh-test-buf.XXXXXX";
	struct buf b;

	(void) state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		strcpy(path, "/tmp/bh-test-buf.XXXXXX");
		write_tmp(path, n);
		buf_init(&b, n); /* exactly fits */
		assert_int_equal(buf_read_file(&b, path), 0);
		assert_int_equal(b.len, n);
		if (n) {
			assert_int_equal(b.data[n - 1], 'a' + (int) ((n - 1) % 26));
			assert_int_equal(b.data[n], '\0');
		}
		buf_done(&b);
		if (n) {
			buf_init(&b, n - 1); /* one byte short */
			assert_int_equal(buf_read_file(&b, path), -E2BIG);
			assert_true(b.len <= n - 1);
			buf_done(&b);
		}
		buf_init(&b, SIZE_MAX);
		assert_int_equal(buf_append(&b, "x", 1), 0); /* appends after */
		assert_int_equal(buf_read_file(&b, path), 0);
		assert_int_equal(b.len, n + 1);
		buf_done(&b);
		assert_int_equal(unlink(path), 0);
	}
	buf_init(&b, 100);
	assert_int_equal(buf_read_file(&b, "/nonexistent/bh-test"), -ENOENT);
	assert_int_equal(buf_read_file(&b, "/tmp"), -EISDIR);
	buf_done(&b);
}

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
		cmocka_unit_test(read_file_whole_and_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
