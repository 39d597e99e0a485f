/*
 * unit.json_scan: the top-level array walker the snapshot and flows
 * readers share (include/json_scan.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json_scan.h"

#define MAX_SPANS 16

struct spans {
	size_t n;
	char text[MAX_SPANS][64];
};

/* Walks the array @s with json_scan_value() per element: 0, 1 when an
 * element does not end, or -EBADMSG from json_scan_arr_next(). */
static int walk(const char *s, struct spans *ret, size_t *ret_pos)
{
	struct json_scan sc = { .s = s, .len = strlen(s) };
	int r;

	ret->n = 0;
	json_scan_ws(&sc);
	assert_true(json_scan_is(&sc, '['));
	for (r = json_scan_arr_open(&sc); r > 0; r = json_scan_arr_next(&sc)) {
		size_t start = sc.pos;

		if (!json_scan_value(&sc))
			return 1;
		assert_true(ret->n < MAX_SPANS);
		assert_true(sc.pos - start < sizeof(ret->text[0]));
		memcpy(ret->text[ret->n], s + start, sc.pos - start);
		ret->text[ret->n++][sc.pos - start] = '\0';
	}
	*ret_pos = sc.pos;
	return r;
}

static void elements_are_found(void **state)
{
	const char *s = " [ {\"a\": [1, {\"b\": \"]}\"}]} ,\"x\\\"y\\\\\",\n\t-1.5e3 , true,[],"
			"{\"k\":\"\\\\\\\"}\"} ] tail";
	struct spans sp;
	size_t pos;

	(void) state;
	assert_int_equal(walk(s, &sp, &pos), 0);
	assert_int_equal(sp.n, 6);
	assert_string_equal(sp.text[0], "{\"a\": [1, {\"b\": \"]}\"}]}");
	assert_string_equal(sp.text[1], "\"x\\\"y\\\\\"");
	assert_string_equal(sp.text[2], "-1.5e3");
	assert_string_equal(sp.text[3], "true");
	assert_string_equal(sp.text[4], "[]");
	assert_string_equal(sp.text[5], "{\"k\":\"\\\\\\\"}\"}");
	assert_string_equal(s + pos, " tail");
}

static void empty_array(void **state)
{
	struct spans sp;
	size_t pos;

	(void) state;
	assert_int_equal(walk("[ \n ]x", &sp, &pos), 0);
	assert_int_equal(sp.n, 0);
	assert_int_equal(pos, 5);
}

static void bad_arrays(void **state)
{
	struct spans sp;
	size_t pos;

	(void) state;
	/* Neither ',' nor ']' after an element. */
	assert_int_equal(walk("[1 2]", &sp, &pos), -EBADMSG);
	assert_int_equal(walk("[{\"a\":1}", &sp, &pos), -EBADMSG);
	/* Elements that do not end. */
	assert_int_equal(walk("[\"abc", &sp, &pos), 1);
	assert_int_equal(walk("[\"abc\\\"]", &sp, &pos), 1);
	assert_int_equal(walk("[{\"a\":[1]", &sp, &pos), 1);
	assert_int_equal(walk("[1,", &sp, &pos), 1);
	assert_int_equal(walk("[1,]", &sp, &pos), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(elements_are_found),
		cmocka_unit_test(empty_array),
		cmocka_unit_test(bad_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
