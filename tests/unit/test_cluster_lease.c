/*
 * cluster_lease_read(): the Lease as every agent reads it before deciding
 * to renew, take or leave it (docs/cluster.md, "The Lease and the
 * proposer").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster_lease.h"

#define NOW 1796378700000LL /* 2026-12-04T10:05:00.000Z */

static json_t *lease(const char *holder, const char *renew, json_int_t dur, json_int_t trans)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:I, s:I}}", "spec", "holderIdentity", holder,
			      "renewTime", renew, "leaseDurationSeconds", dur, "leaseTransitions",
			      trans);

	assert_non_null(o);
	return o;
}

static void live_and_expired(void **state)
{
	struct cluster_lease_view v;
	json_t *o = lease("node-1", "2026-12-04T10:04:58.250000Z", 15, 3);

	(void) state;
	cluster_lease_read(o, NOW, &v);
	assert_string_equal(v.holder, "node-1");
	assert_true(v.live);
	assert_int_equal(v.expires, NOW - 1750 + 15000);
	assert_int_equal(v.transitions, 3);
	cluster_lease_read(o, NOW + 13250, &v);
	assert_false(v.live);
	json_decref(o);

	/* No holder, or no readable renewTime: nobody is renewing it. */
	o = lease("", "2026-12-04T10:04:58Z", 15, 0);
	cluster_lease_read(o, NOW, &v);
	assert_false(v.live);
	json_decref(o);
	o = lease("node-1", "yesterday", 15, 0);
	cluster_lease_read(o, NOW, &v);
	assert_false(v.live);
	assert_int_equal(v.expires, 0);
	json_decref(o);
	cluster_lease_read(NULL, NOW, &v);
	assert_null(v.holder);
	assert_false(v.live);
}

/* Numbers out of the Lease's int32 fields are taken at its bounds, so that
 * expiry and leaseTransitions + 1 cannot overflow. */
static void numbers_in_range(void **state)
{
	struct cluster_lease_view v;
	json_t *o = lease("node-1", "2026-12-04T10:04:58Z", INT64_MAX, INT64_MAX);

	(void) state;
	cluster_lease_read(o, NOW, &v);
	assert_true(v.live);
	assert_int_equal(v.expires, NOW - 2000 + (int64_t) INT32_MAX * 1000);
	assert_int_equal(v.transitions, INT32_MAX - 1);
	json_decref(o);
	o = lease("node-1", "2026-12-04T10:04:58Z", -5, -7);
	cluster_lease_read(o, NOW, &v);
	assert_false(v.live);
	assert_int_equal(v.transitions, 0);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(live_and_expired),
		cmocka_unit_test(numbers_in_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
