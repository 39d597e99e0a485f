/* unit.tombstones: expiry, bounds and the lifetime a tombstone gives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tombstones.h"
#include "testutil.h"

static struct pod pod(const char *name, const char *ip, int64_t deleted)
{
	struct pod p = {
		.ns = strdup("x"),
		.name = strdup(name),
		.n_ips = 1,
		.ips = { addr_lit(ip) },
		.created = 10,
		.deleted = deleted,
	};

	labels_init(&p.labels);
	return p;
}

static void add(struct tombstones *t, const char *name, uint64_t now_ms)
{
	struct pod p = pod(name, "10.0.0.1", 0);

	assert_int_equal(tombstones_add(t, &p, now_ms, 1000), 0);
	assert_null(p.name); /* moved */
}

static void expire_after_ttl(void **state)
{
	struct tombstones *t = tombstones_new(100, 0);

	(void) state;
	assert_non_null(t);
	assert_int_equal(tombstones_next_expiry(t), UINT64_MAX);
	add(t, "a", 0);
	add(t, "b", 10);
	add(t, "c", 20);
	assert_int_equal(tombstones_next_expiry(t), 100);
	tombstones_expire(t, 99);
	assert_int_equal(tombstones_count(t), 3);
	tombstones_expire(t, 100);
	assert_int_equal(tombstones_count(t), 2);
	assert_string_equal(tombstones_pod(t, 0)->name, "b");
	assert_int_equal(tombstones_next_expiry(t), 110);
	tombstones_expire(t, 1000);
	assert_int_equal(tombstones_count(t), 0);
	assert_null(tombstones_pod(t, 0));
	assert_int_equal(tombstones_stats(t)->added, 3);
	assert_int_equal(tombstones_stats(t)->expired, 3);
	assert_int_equal(tombstones_stats(t)->evicted, 0);
	tombstones_free(t);
}

static void bounded_oldest_evicted(void **state)
{
	struct tombstones *t = tombstones_new(0, 40);
	char name[16];

	(void) state;
	assert_non_null(t);
	/* Through the ring's growth (16, 32, 40) and around it. */
	for (int i = 0; i < 100; i++) {
		(void) snprintf(name, sizeof(name), "p%d", i);
		add(t, name, (uint64_t) i);
		if (i == 20)
			tombstones_expire(t, 5 + TOMBSTONES_TTL_MS_DEFAULT); /* p0..p5 */
	}
	assert_int_equal(tombstones_count(t), 40);
	assert_int_equal(tombstones_stats(t)->added, 100);
	assert_int_equal(tombstones_stats(t)->expired, 6);
	assert_int_equal(tombstones_stats(t)->evicted, 100 - 40 - 6);
	for (size_t i = 0; i < 40; i++) {
		(void) snprintf(name, sizeof(name), "p%zu", 60 + i);
		assert_string_equal(tombstones_pod(t, i)->name, name);
	}
	tombstones_free(t);
}

static void lifetime_ends_at_deletion(void **state)
{
	struct tombstones *t = tombstones_new(0, 0);
	struct pod a = pod("seen-gone", "10.0.0.1", 0);
	struct pod b = pod("graceful", "10.0.0.2", 990);
	struct pod c = pod("long-grace", "10.0.0.3", 5000);
	struct pod h = pod("host", "192.168.0.1", 0);

	(void) state;
	h.host_network = true;
	assert_int_equal(tombstones_add(t, &a, 0, 1000), 0);
	assert_int_equal(tombstones_add(t, &b, 0, 1000), 0);
	assert_int_equal(tombstones_add(t, &c, 0, 1000), 0);
	assert_int_equal(tombstones_add(t, &h, 0, 1000), 0);
	assert_int_equal(tombstones_count(t), 3); /* not the host-network pod */
	/* Alive through the second it was seen gone, never after. */
	assert_int_equal(tombstones_pod(t, 0)->deleted, 1001);
	/* A deletionTimestamp already past stays the end. */
	assert_int_equal(tombstones_pod(t, 1)->deleted, 990);
	/* One still in the future: the pod is gone now all the same. */
	assert_int_equal(tombstones_pod(t, 2)->deleted, 1001);
	tombstones_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(expire_after_ttl),
		cmocka_unit_test(bounded_oldest_evicted),
		cmocka_unit_test(lifetime_ends_at_deletion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
