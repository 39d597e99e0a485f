/* tests/unit/test_vec.c: the growable array (lib/vec.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vec.h"

struct pair {
	uint32_t a;
	uint64_t b;
};

/* Pushes keep every element, zero the new one and grow by doubling. */
static void push_append_keep_elements(void **state)
{
	struct vec v;
	size_t grows = 0, cap = 0;

	(void) state;
	vec_init(&v, sizeof(struct pair));
	for (uint32_t i = 0; i < 10000; i++) {
		struct pair *p = vec_push(&v);

		assert_non_null(p);
		assert_int_equal(p->a, 0);
		assert_int_equal(p->b, 0);
		p->a = i;
		p->b = (uint64_t) i * 3;
		if (v.cap != cap) {
			grows++;
			cap = v.cap;
		}
	}
	assert_int_equal(v.len, 10000);
	assert_true(grows <= 12); /* 8, 16, ... 16384 */
	for (uint32_t i = 0; i < 10000; i++) {
		const struct pair *p = vec_at(&v, i);

		assert_int_equal(p->a, i);
		assert_int_equal(p->b, (uint64_t) i * 3);
	}
	struct pair x = { .a = 7, .b = 9 };
	assert_int_equal(vec_append(&v, &x), 0);
	assert_int_equal(((struct pair *) vec_at(&v, 10000))->b, 9);
	vec_free(&v);
	assert_null(v.data);
	assert_int_equal(v.len, 0);
	assert_int_equal(v.size, sizeof(struct pair)); /* reusable */
	assert_non_null(vec_push(&v));
	vec_free(&v);
}

static void reserve_then_no_growth(void **state)
{
	struct vec v = VEC_INIT(sizeof(int));
	void *data;

	(void) state;
	assert_int_equal(vec_reserve(&v, 100), 0);
	assert_true(v.cap >= 100);
	data = v.data;
	for (int i = 0; i < 100; i++)
		assert_int_equal(vec_append(&v, &i), 0);
	assert_ptr_equal(v.data, data);
	assert_int_equal(vec_reserve(&v, 0), 0);
	int *p = vec_steal(&v);
	assert_ptr_equal(p, data);
	assert_int_equal(p[99], 99);
	assert_null(v.data);
	assert_int_equal(v.len, 0);
	free(p);
}

/* Sizes that do not fit a size_t are -EOVERFLOW without an allocation;
 * sizes that fit but cannot be allocated are -ENOMEM; the vector is
 * unchanged either way and still usable. */
static void overflow_and_allocation_failure(void **state)
{
	struct vec v = VEC_INIT(16);
	size_t cap;
	void *p;

	(void) state;
	assert_int_equal(vec_append(&v, "0123456789abcdef"), 0);
	p = v.data;
	cap = v.cap;
	assert_int_equal(vec_reserve(&v, SIZE_MAX), -EOVERFLOW); /* len + extra */
	assert_int_equal(vec_reserve(&v, SIZE_MAX / 16), -EOVERFLOW); /* bytes */
	assert_int_equal(vec_reserve(&v, SIZE_MAX / 64), -ENOMEM); /* 2^58 bytes */
	assert_ptr_equal(v.data, p);
	assert_int_equal(v.cap, cap);
	assert_int_equal(v.len, 1);
	assert_memory_equal(v.data, "0123456789abcdef", 16);
	assert_non_null(vec_push(&v));
	vec_free(&v);

	/* The typed form: NULL, errno, and the array untouched. */
	long *a = NULL;
	long *na;
	size_t acap = 0;

	na = vec_grow(a, &acap, 3, sizeof(*a));
	assert_non_null(na);
	assert_true(acap >= 3);
	a = na;
	a[2] = 42;
	cap = acap;
	errno = 0;
	assert_null(vec_grow(a, &acap, SIZE_MAX / 4, sizeof(*a)));
	assert_int_equal(errno, EOVERFLOW);
	errno = 0;
	assert_null(vec_grow(a, &acap, SIZE_MAX / 64, sizeof(*a)));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(acap, cap);
	assert_int_equal(a[2], 42);
	/* Enough already: the same array. */
	assert_ptr_equal(vec_grow(a, &acap, acap, sizeof(*a)), a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(push_append_keep_elements),
		cmocka_unit_test(reserve_then_no_growth),
		cmocka_unit_test(overflow_and_allocation_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
