#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow_table.h"
#include "proto.h"
#include "testutil.h"

static struct flow_key key_n(uint32_t n, uint16_t port)
{
	struct flow_key k;
	uint8_t a[4] = { 10, (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };

	memset(&k, 0, sizeof(k));
	addr_from_v4(&k.src, a);
	k.dst = addr_lit("10.255.0.1");
	k.proto = IPPROTO_TCP;
	k.port = port;
	return k;
}

static void add_and_get(void **state)
{
	struct flow_table *t = flow_table_new(10);
	struct flow_key a = key_n(1, 80);
	struct flow_record r;

	(void) state;
	assert_non_null(t);
	assert_int_equal(flow_table_add(t, &a, 1, 60, 1, 1000, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_add(t, &a, 2, 100, 0, 990, FLOW_SEEN_CONNTRACK), 0);
	assert_int_equal(flow_table_add(t, &a, 0, 0, 3, 1010, 0), 0);
	assert_int_equal(flow_table_get(t, &a, &r), 1);
	assert_int_equal(r.packets, 3);
	assert_int_equal(r.bytes, 160);
	assert_int_equal(r.connections, 4);
	assert_int_equal(r.first_seen, 990);
	assert_int_equal(r.last_seen, 1010);
	assert_int_equal(r.seen_by, FLOW_SEEN_PCAP | FLOW_SEEN_CONNTRACK);
	assert_int_equal(r.src_peer.kind, FLOW_PEER_UNKNOWN);
	/* Same addresses, another port: another flow. */
	a.port = 81;
	assert_int_equal(flow_table_get(t, &a, NULL), 0);
	assert_int_equal(flow_table_count(t), 1);
	assert_null(flow_table_new(0));
	assert_null(flow_table_free(t));
}

static void full_table_evicts_least_recent(void **state)
{
	struct flow_table *t = flow_table_new(3);
	struct flow_key k[5];

	(void) state;
	for (int i = 0; i < 5; i++)
		k[i] = key_n((uint32_t) i, 80);
	assert_int_equal(flow_table_add(t, &k[0], 1, 1, 1, 1, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_add(t, &k[1], 1, 1, 1, 2, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_add(t, &k[2], 1, 1, 1, 3, FLOW_SEEN_PCAP), 1);
	/* Touch k0: k1 becomes the least recently seen. */
	assert_int_equal(flow_table_add(t, &k[0], 1, 1, 0, 4, FLOW_SEEN_PCAP), 0);
	assert_int_equal(flow_table_add(t, &k[3], 1, 1, 1, 5, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_stats(t)->evicted, 1);
	assert_int_equal(flow_table_get(t, &k[1], NULL), 0);
	assert_int_equal(flow_table_get(t, &k[0], NULL), 1);
	assert_int_equal(flow_table_add(t, &k[4], 1, 1, 1, 6, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_get(t, &k[2], NULL), 0);
	assert_int_equal(flow_table_count(t), 3);
	assert_int_equal(flow_table_stats(t)->evicted, 2);
	assert_int_equal(flow_table_stats(t)->created, 5);
	flow_table_free(t);
}

/* Many flows through growth and heavy eviction: every surviving flow is
 * found with its own counters, every evicted one is gone. */
static void growth_and_eviction_consistency(void **state)
{
	const uint32_t max = 5000, total = 20000;
	struct flow_table *t = flow_table_new(max);
	struct flow_record *all;
	size_t n;

	(void) state;
	for (uint32_t i = 0; i < total; i++) {
		struct flow_key k = key_n(i, (uint16_t) (1 + i % 3));

		assert_int_equal(flow_table_add(t, &k, i + 1, 0, 1, i, FLOW_SEEN_PCAP), 1);
		/* Re-touch an older survivor now and then. */
		if (i >= max && i % 7 == 0) {
			struct flow_key old =
				key_n(i - max / 2, (uint16_t) (1 + (i - max / 2) % 3));

			assert_int_equal(flow_table_add(t, &old, 0, 0, 0, i, 0), 0);
		}
	}
	assert_int_equal(flow_table_count(t), max);
	assert_int_equal(flow_table_stats(t)->evicted, total - max);
	for (uint32_t i = total - max / 2; i < total; i++) {
		struct flow_key k = key_n(i, (uint16_t) (1 + i % 3));
		struct flow_record r;

		assert_int_equal(flow_table_get(t, &k, &r), 1);
		assert_int_equal(r.packets, i + 1);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		struct flow_key k = key_n(i, (uint16_t) (1 + i % 3));

		assert_int_equal(flow_table_get(t, &k, NULL), 0);
	}
	assert_int_equal(flow_table_export(t, &all, &n), 0);
	assert_int_equal(n, max);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(flow_table_get(t, &all[i].key, NULL), 1);
	free(all);
	/* Compact: entries plus index stay well under 128 bytes a flow. */
	assert_true(flow_table_mem(t) / max <= 128);
	flow_table_free(t);
}

static void take_removes_one(void **state)
{
	struct flow_table *t = flow_table_new(4);
	struct flow_key k[5];
	struct flow_record r;

	(void) state;
	for (int i = 0; i < 4; i++) {
		k[i] = key_n((uint32_t) i, 80);
		assert_int_equal(flow_table_add(t, &k[i], (uint32_t) i + 1, 0, 1, i, 0), 1);
	}
	assert_int_equal(flow_table_take(t, &k[1], &r), 1);
	assert_int_equal(r.packets, 2);
	assert_int_equal(flow_table_take(t, &k[1], NULL), 0);
	assert_int_equal(flow_table_count(t), 3);
	assert_int_equal(flow_table_stats(t)->evicted, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(flow_table_get(t, &k[i], NULL), i != 1);
	/* The LRU list survived: two more flows evict k0, then k2. */
	k[4] = key_n(4, 80);
	assert_int_equal(flow_table_add(t, &k[4], 1, 0, 1, 10, 0), 1);
	assert_int_equal(flow_table_get(t, &k[0], NULL), 1);
	k[1] = key_n(5, 80);
	assert_int_equal(flow_table_add(t, &k[1], 1, 0, 1, 11, 0), 1);
	assert_int_equal(flow_table_get(t, &k[0], NULL), 0);
	assert_int_equal(flow_table_get(t, &k[2], NULL), 1);
	assert_int_equal(flow_table_stats(t)->evicted, 1);
	flow_table_free(t);
}

static void times_are_clamped(void **state)
{
	struct flow_table *t = flow_table_new(4);
	struct flow_key k = key_n(9, 53);
	struct flow_record r;

	(void) state;
	assert_int_equal(flow_table_add(t, &k, 1, 1, 1, -5, 0), 1);
	assert_int_equal(flow_table_add(t, &k, 1, 1, 1, (int64_t) 1 << 40, 0), 0);
	assert_int_equal(flow_table_get(t, &k, &r), 1);
	assert_int_equal(r.first_seen, 0);
	assert_int_equal(r.last_seen, UINT32_MAX);
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_and_get),
		cmocka_unit_test(full_table_evicts_least_recent),
		cmocka_unit_test(growth_and_eviction_consistency),
		cmocka_unit_test(take_removes_one),
		cmocka_unit_test(times_are_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
