/*
 * unit.cluster_propose_round: the holder's record of the rounds it wrote
 * (agent/cluster_propose_round.h): the names of a namespace's last round,
 * replaced by the next, marked failed, forgotten; the namespaces a
 * computation completes and the round each keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_propose_round.h"

static json_t *objs_of(const char *a, const char *b)
{
	json_t *v = json_array();

	assert_non_null(v);
	assert_int_equal(json_array_append_new(v, json_pack("{s:{s:s}}", "metadata", "name", a)),
			 0);
	if (b)
		assert_int_equal(
			json_array_append_new(v, json_pack("{s:{s:s}}", "metadata", "name", b)), 0);
	return v;
}

static void rounds(void **state)
{
	struct pround_set s = { 0 };
	json_t *r1 = objs_of("bulkhead-api", "bulkhead-worker"),
	       *r2 = objs_of("bulkhead-api", NULL);
	struct pround *r;

	(void) state;
	assert_null(pround_find(&s, "shop"));
	assert_int_equal(pround_set(&s, "shop", "1-node-1", r1), 0);
	assert_int_equal(pround_set(&s, "data", "1-node-1", r2), 0);
	r = pround_find(&s, "shop");
	assert_non_null(r);
	assert_true(r->whole);
	assert_string_equal(r->id, "1-node-1");
	assert_int_equal(r->n, 2);
	assert_string_equal(r->names[1], "bulkhead-worker");
	/* a write failed */
	pround_failed(&s, "shop");
	assert_false(pround_find(&s, "shop")->whole);
	assert_true(pround_find(&s, "data")->whole);
	/* the next round replaces it, whole again */
	assert_int_equal(pround_set(&s, "shop", "2-node-1", r2), 0);
	r = pround_find(&s, "shop");
	assert_int_equal(s.n, 2);
	assert_true(r->whole);
	assert_string_equal(r->id, "2-node-1");
	assert_int_equal(r->n, 1);
	pround_clear(&s);
	assert_null(pround_find(&s, "shop"));
	json_decref(r1);
	json_decref(r2);
}

static void keep(void **state)
{
	struct pkeep_set k = { 0 };

	(void) state;
	assert_null(pkeep_get(&k, "shop"));
	assert_int_equal(pkeep_add(&k, "shop", "1-node-1"), 0);
	assert_int_equal(pkeep_add(&k, "data", "2-node-2"), 0);
	assert_string_equal(pkeep_get(&k, "shop"), "1-node-1");
	assert_string_equal(pkeep_get(&k, "data"), "2-node-2");
	assert_null(pkeep_get(&k, "ghost"));
	pkeep_clear(&k);
	assert_null(pkeep_get(&k, "shop"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rounds),
		cmocka_unit_test(keep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
