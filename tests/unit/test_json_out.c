/* tests/unit/test_json_out.c: the streaming JSON writer and escaper
 * (lib/json_out.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json_out.h"
#include "rfc3339.h"

static void nesting_puts_the_commas(void **state)
{
	struct json_out w;
	struct buf b;

	(void) state;
	buf_init(&b, SIZE_MAX);
	json_out_init(&w, &b);
	json_out_obj_begin(&w);
	json_out_key(&w, "a");
	json_out_arr_begin(&w);
	json_out_int(&w, 1);
	json_out_obj_begin(&w);
	json_out_obj_end(&w);
	json_out_arr_begin(&w);
	json_out_arr_end(&w);
	json_out_str(&w, "x");
	json_out_arr_end(&w);
	json_out_key(&w, "b");
	json_out_bool(&w, true);
	json_out_key(&w, "c");
	json_out_null(&w);
	json_out_key(&w, "t");
	json_out_time(&w, 1795683600);
	json_out_obj_end(&w);
	assert_int_equal(json_out_error(&w), 0);
	assert_string_equal(
		b.data,
		"{\"a\":[1,{},[],\"x\"],\"b\":true,\"c\":null,\"t\":\"2026-11-26T09:00:00Z\"}");
	buf_done(&b);
}

static void integers_at_the_limits(void **state)
{
	struct json_out w;
	struct buf b;

	(void) state;
	buf_init(&b, SIZE_MAX);
	json_out_init(&w, &b);
	json_out_arr_begin(&w);
	json_out_int(&w, INT64_MIN);
	json_out_int(&w, -1);
	json_out_int(&w, 0);
	json_out_uint(&w, UINT64_MAX);
	json_out_arr_end(&w);
	assert_int_equal(json_out_error(&w), 0);
	assert_string_equal(b.data, "[-9223372036854775808,-1,0,18446744073709551615]");
	buf_done(&b);
}

static void escape(const char *in, size_t n, const char *want)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	assert_int_equal(json_escape_append(&b, in, n), 0);
	assert_string_equal(b.data, want);
	buf_done(&b);
}

static void strings_are_escaped_and_utf8_kept(void **state)
{
	(void) state;
	escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	escape("\n\t\r\b\f\x01\x1f", 7, "\"\\n\\t\\r\\b\\f\\u0001\\u001f\"");
	/* Valid UTF-8 passes through as it is (the check escaper once wrote
	 * each byte of "é" as \u00c3\u00a9, another text). */
	escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* Bytes that are not UTF-8 become U+FFFD: a lone continuation byte,
	 * a truncated sequence, an overlong '/', a surrogate, past U+10FFFF. */
	escape("\x80", 1, "\"\xef\xbf\xbd\"");
	escape("a\xc3", 2, "\"a\xef\xbf\xbd\"");
	escape("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	escape("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	escape("\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	/* An embedded NUL is data, not the end. */
	escape("a\0b", 3, "\"a\\u0000b\"");
}

/* Whatever the bytes, the output is JSON that jansson reads back; for
 * valid UTF-8 the string read back is the input. */
static void output_always_parses(void **state)
{
	uint64_t rng = 88172645463325252ULL;

	(void) state;
	for (int round = 0; round < 2000; round++) {
		unsigned char in[24];
		json_error_t jerr;
		struct buf b;
		json_t *v;

		for (size_t i = 0; i < sizeof(in); i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			in[i] = (unsigned char) rng;
		}
		buf_init(&b, SIZE_MAX);
		assert_int_equal(json_escape_append(&b, (const char *) in, sizeof(in)), 0);
		v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		assert_non_null(v);
		assert_true(json_is_string(v));
		json_decref(v);
		buf_done(&b);
	}
}

/* rfc3339_format_ns(): digits truncated, floor before 1970, NULL when
 * the buffer is short. */
static void rfc3339_with_fractions(void **state)
{
	char s[RFC3339_STR_MAX];

	(void) state;
	assert_string_equal(rfc3339_format_ns(1700000000123456789, 9, s, sizeof(s)),
			    "2023-11-14T22:13:20.123456789Z");
	assert_string_equal(rfc3339_format_ns(1700000000123456789, 3, s, sizeof(s)),
			    "2023-11-14T22:13:20.123Z");
	assert_string_equal(rfc3339_format_ns(1700000000123456789, 0, s, sizeof(s)),
			    "2023-11-14T22:13:20Z");
	assert_string_equal(rfc3339_format_ns(-1, 6, s, sizeof(s)), "1969-12-31T23:59:59.999999Z");
	assert_null(rfc3339_format_ns(0, 6, s, 20));
	assert_string_equal(rfc3339_format(1700000000, s, sizeof(s)), "2023-11-14T22:13:20Z");
}

static void errors_are_sticky(void **state)
{
	struct json_out w;
	struct buf b;

	(void) state;
	buf_init(&b, 8);
	json_out_init(&w, &b);
	json_out_arr_begin(&w);
	json_out_str(&w, "too long for eight bytes");
	assert_int_equal(json_out_error(&w), -E2BIG);
	json_out_str(&w, "x");
	json_out_arr_end(&w);
	assert_int_equal(json_out_error(&w), -E2BIG);
	assert_string_equal(b.data, "[");
	buf_done(&b);

	buf_init(&b, SIZE_MAX);
	json_out_init(&w, &b);
	json_out_arr_end(&w); /* nothing open */
	assert_int_equal(json_out_error(&w), -EINVAL);
	buf_done(&b);

	buf_init(&b, SIZE_MAX);
	json_out_init(&w, &b);
	for (int i = 0; i <= JSON_OUT_DEPTH_MAX; i++)
		json_out_arr_begin(&w);
	assert_int_equal(json_out_error(&w), -EINVAL);
	buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nesting_puts_the_commas),
		cmocka_unit_test(rfc3339_with_fractions),
		cmocka_unit_test(integers_at_the_limits),
		cmocka_unit_test(strings_are_escaped_and_utf8_kept),
		cmocka_unit_test(output_always_parses),
		cmocka_unit_test(errors_are_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
