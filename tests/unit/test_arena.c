#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "arena.h"

static void alloc_aligned_until_full(void **state)
{
	struct arena *a = arena_new(1000);
	size_t n = 0;
	void *p;

	(void) state;
	assert_non_null(a);
	while ((p = arena_alloc(a, 24)) != NULL) {
		assert_true(arena_owns(a, p));
		assert_int_equal((uintptr_t) p % _Alignof(max_align_t), 0);
		memset(p, 0xa5, 24);
		n++;
	}
	/* 1000 rounds up to a multiple of the alignment; each 24-byte
	 * allocation takes one aligned slot. */
	assert_true(n >= 1000 / 32);
	assert_true(arena_used(a) <= 1024);
	assert_null(arena_alloc(a, SIZE_MAX));
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	assert_non_null(arena_alloc(a, 24));
	assert_null(arena_free(a));
	assert_null(arena_free(NULL));
}

static void owns_only_its_memory(void **state)
{
	struct arena *a = arena_new(256);
	char *heap = malloc(16);

	(void) state;
	assert_non_null(a);
	assert_non_null(heap);
	assert_false(arena_owns(a, heap));
	assert_false(arena_owns(a, NULL));
	free(heap);
	arena_free(a);
}

/* While bound and active, jansson's trees come from the arena. */
static void json_from_arena_when_active(void **state)
{
	struct arena *a = arena_new(64 * 1024), *prev;
	json_t *outside, *inside, *inactive;

	(void) state;
	assert_non_null(a);
	outside = json_pack("{s:s}", "made", "before the arena");
	assert_non_null(outside);

	prev = arena_json_bind(a);
	assert_ptr_equal(arena_json_current(), a);
	assert_false(arena_set_active(a, true));
	inside = json_loads("{\"a\": [1, 2, {\"b\": \"text\"}], \"c\": \"more text\"}", 0, NULL);
	assert_non_null(inside);
	assert_true(arena_owns(a, inside));
	assert_true(arena_used(a) > 0);
	/* Memory from before the arena is still freed with free() (ASan
	 * would report a leak or a bad free otherwise). */
	json_decref(outside);
	json_decref(inside);
	arena_reset(a);

	assert_true(arena_set_active(a, false));
	inactive = json_string("not from the arena");
	assert_non_null(inactive);
	assert_false(arena_owns(a, inactive));
	assert_int_equal(arena_used(a), 0);
	assert_ptr_equal(arena_json_bind(prev), a);
	assert_ptr_equal(arena_json_current(), prev);
	json_decref(inactive);
	arena_free(a);
}

/* What does not fit is malloc()ed and freed again with free(). */
static void json_overflow_falls_back(void **state)
{
	struct arena *a = arena_new(256), *prev;
	char big[4096];
	json_t *s;

	(void) state;
	assert_non_null(a);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	prev = arena_json_bind(a);
	(void) arena_set_active(a, true);
	s = json_string(big);
	assert_non_null(s);
	assert_string_equal(json_string_value(s), big);
	assert_false(arena_owns(a, json_string_value(s)));
	json_decref(s);
	(void) arena_set_active(a, false);
	arena_reset(a);
	(void) arena_json_bind(prev);
	arena_free(a);
}

static void set_active_null_safe(void **state)
{
	(void) state;
	assert_false(arena_set_active(NULL, true));
	arena_reset(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_aligned_until_full),
		cmocka_unit_test(owns_only_its_memory),
		cmocka_unit_test(json_from_arena_when_active),
		cmocka_unit_test(json_overflow_falls_back),
		cmocka_unit_test(set_active_null_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
