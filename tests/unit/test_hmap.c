/* tests/unit/test_hmap.c: the hash map (lib/hmap.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hmap.h"

#define N 5000

static char keys[N][16];

static void make_keys(void)
{
	for (int i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
}

/* Insert, find, replace, remove and find again, over growth. */
static void put_find_remove(void **state)
{
	struct hmap m;

	(void) state;
	make_keys();
	hmap_init(&m, 0);
	assert_null(hmap_find_str(&m, "absent"));
	for (int i = 0; i < N; i++)
		assert_int_equal(hmap_put_str(&m, keys[i], &keys[i]), 0);
	assert_int_equal(m.n, N);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(hmap_get_str(&m, keys[i]), &keys[i]);
	assert_null(hmap_get_str(&m, "key-5000"));
	/* Replace: same count, new value, key compared by bytes not pointer. */
	char copy[16];
	strcpy(copy, "key-17");
	assert_int_equal(hmap_put_str(&m, copy, &keys[0]), 1);
	assert_int_equal(m.n, N);
	assert_ptr_equal(hmap_get_str(&m, "key-17"), &keys[0]);
	assert_int_equal(hmap_put_str(&m, keys[17], &keys[17]), 1);
	/* Remove the even ones. */
	for (int i = 0; i < N; i += 2) {
		void *v = NULL;

		assert_true(hmap_remove_str(&m, keys[i], &v));
		assert_ptr_equal(v, &keys[i]);
		assert_false(hmap_remove_str(&m, keys[i], NULL));
	}
	assert_int_equal(m.n, N / 2);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(hmap_get_str(&m, keys[i]), i % 2 ? &keys[i] : NULL);
	/* Re-adding reuses tombstones or rebuilds: everything is still found. */
	for (int i = 0; i < N; i += 2)
		assert_int_equal(hmap_put_str(&m, keys[i], &keys[i]), 0);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(hmap_get_str(&m, keys[i]), &keys[i]);
	hmap_free(&m);
	assert_int_equal(m.n, 0);
	assert_null(hmap_get_str(&m, keys[1]));
}

/* Keys are bytes: embedded NULs, the empty key, equal hashes of unequal
 * lengths. */
static void byte_keys(void **state)
{
	struct hmap m;
	static const char a[] = { 'x', 0, 'y' }, b[] = { 'x', 0, 'z' };
	int va, vb, ve;

	(void) state;
	hmap_init(&m, 12345);
	assert_int_equal(hmap_put(&m, a, sizeof(a), &va), 0);
	assert_int_equal(hmap_put(&m, b, sizeof(b), &vb), 0);
	assert_int_equal(hmap_put(&m, "", 0, &ve), 0);
	assert_ptr_equal(hmap_get(&m, a, sizeof(a)), &va);
	assert_ptr_equal(hmap_get(&m, b, sizeof(b)), &vb);
	assert_ptr_equal(hmap_get(&m, "x", 1), NULL);
	assert_ptr_equal(hmap_get_str(&m, ""), &ve);
	assert_int_equal(m.n, 3);
	hmap_free(&m);
}

/* Iteration visits each live entry once, also while it removes them. */
static void iterate_and_remove(void **state)
{
	struct hmap m;
	static bool seen[N];
	struct hmap_slot *s;
	size_t it = 0, count = 0;

	(void) state;
	make_keys();
	hmap_init(&m, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(hmap_put_str(&m, keys[i], &keys[i]), 0);
	while ((s = hmap_next(&m, &it))) {
		size_t i = (size_t) ((char(*)[16]) s->val - keys);

		assert_false(seen[i]);
		seen[i] = true;
		count++;
		if (i % 3 == 0)
			hmap_remove_slot(&m, s);
	}
	assert_int_equal(count, N);
	assert_int_equal(m.n, N - (N + 2) / 3);
	it = 0;
	count = 0;
	while ((s = hmap_next(&m, &it))) {
		assert_int_not_equal(((char(*)[16]) s->val - keys) % 3, 0);
		count++;
	}
	assert_int_equal(count, m.n);
	hmap_free(&m);
}

/* Churn at a constant size does not grow the table without bound (the
 * tombstones are dropped by rebuilds). */
static void churn_bounded(void **state)
{
	struct hmap m;
	size_t maxcap = 0;

	(void) state;
	make_keys();
	hmap_init(&m, 0);
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < N; i++) {
			int k = (round * 97 + i) % N;

			if (i >= 100)
				assert_true(hmap_remove_str(&m, keys[(round * 97 + i - 100) % N],
							    NULL));
			if (!hmap_find_str(&m, keys[k]))
				assert_int_equal(hmap_put_str(&m, keys[k], &keys[k]), 0);
			if (m.cap > maxcap)
				maxcap = m.cap;
		}
	assert_true(maxcap <= 1024);
	hmap_free(&m);
}

/* Reserving more than a size_t can hold is -EOVERFLOW, more than memory
 * is -ENOMEM; the map is unchanged and usable. */
static void overflow_and_allocation_failure(void **state)
{
	struct hmap m;
	int v;

	(void) state;
	hmap_init(&m, 0);
	assert_int_equal(hmap_put_str(&m, "a", &v), 0);
	assert_int_equal(hmap_reserve(&m, SIZE_MAX / 2), -EOVERFLOW);
	assert_int_equal(hmap_reserve(&m, SIZE_MAX / 64), -EOVERFLOW); /* slots * size */
	assert_int_equal(hmap_reserve(&m, (size_t) 1 << 50), -ENOMEM);
	assert_int_equal(m.n, 1);
	assert_ptr_equal(hmap_get_str(&m, "a"), &v);
	assert_int_equal(hmap_reserve(&m, 1000), 0);
	assert_true(m.cap >= 2000);
	assert_ptr_equal(hmap_get_str(&m, "a"), &v);
	hmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_find_remove),
		cmocka_unit_test(byte_keys),
		cmocka_unit_test(iterate_and_remove),
		cmocka_unit_test(churn_bounded),
		cmocka_unit_test(overflow_and_allocation_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
