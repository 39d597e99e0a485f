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

/* Whether @k is among the record's keys, and how many times. */
static size_t gone_count(const struct flow_table_gone *g, const struct flow_key *k)
{
	size_t c = 0;

	for (size_t i = 0; i < g->n; i++)
		c += memcmp(&g->keys[i], k, sizeof(*k)) == 0;
	return c;
}

/* The gone record: each eviction reported once, in order, then cleared;
 * off by default; bounded with overflow counted; keys created again are
 * not reported; flow_table_take() reports too. */
static void gone_record(void **state)
{
	struct flow_table *t = flow_table_new(4);
	struct flow_table_gone g;
	struct flow_key k[12];

	(void) state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 12; i++)
		k[i] = key_n(i, 80);
	/* Off: evictions are counted but not recorded. */
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(flow_table_add(t, &k[i], 1, 60, 1, 1000 + i, FLOW_SEEN_PCAP), 1);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.overflow, 0);
	assert_int_equal(flow_table_stats(t)->evicted, 2);

	/* On, 3 keys: k2, k3 evicted by k6, k7 (least recent first). */
	assert_int_equal(flow_table_gone_record(t, 3), 0);
	assert_int_equal(flow_table_add(t, &k[6], 1, 60, 1, 1006, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_add(t, &k[7], 1, 60, 1, 1007, FLOW_SEEN_PCAP), 1);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.overflow, 0);
	assert_memory_equal(&g.keys[0], &k[2], sizeof(k[2]));
	assert_memory_equal(&g.keys[1], &k[3], sizeof(k[3]));
	/* Reading does not consume; clearing does: reported exactly once. */
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 2);
	flow_table_gone_clear(t);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.overflow, 0);

	/* A key evicted and created again before the caller reads is not
	 * gone: k4 is evicted by k8, then comes back (evicting k5). */
	assert_int_equal(flow_table_add(t, &k[8], 1, 60, 1, 1008, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_add(t, &k[4], 1, 60, 1, 1009, FLOW_SEEN_PCAP), 1);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(gone_count(&g, &k[5]), 1);
	assert_int_equal(gone_count(&g, &k[4]), 0);
	flow_table_gone_clear(t);

	/* Taken flows leave too (not counted as evicted). */
	assert_int_equal(flow_table_take(t, &k[7], NULL), 1);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 1);
	assert_memory_equal(&g.keys[0], &k[7], sizeof(k[7]));
	flow_table_gone_clear(t);

	/* Bounded: of 5 keys that leave a table of 4, a record of 3 holds
	 * the first 3 and counts 2. */
	flow_table_free(t);
	t = flow_table_new(4);
	assert_non_null(t);
	assert_int_equal(flow_table_gone_record(t, 3), 0);
	for (uint32_t i = 0; i < 9; i++)
		assert_int_equal(flow_table_add(t, &k[i], 1, 60, 1, 1100 + i, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_count(t), 4);
	assert_int_equal(flow_table_stats(t)->evicted, 5);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.overflow, 2);
	assert_int_equal(flow_table_stats(t)->gone_unrecorded, 2);
	for (size_t i = 0; i < g.n; i++)
		assert_memory_equal(&g.keys[i], &k[i], sizeof(k[i]));
	flow_table_gone_clear(t);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(g.overflow, 0);
	assert_int_equal(flow_table_stats(t)->gone_unrecorded, 2);

	/* Off again: emptied, and nothing recorded. */
	assert_int_equal(flow_table_add(t, &k[9], 1, 60, 1, 1200, FLOW_SEEN_PCAP), 1);
	assert_int_equal(flow_table_gone_record(t, 0), 0);
	assert_int_equal(flow_table_add(t, &k[10], 1, 60, 1, 1201, FLOW_SEEN_PCAP), 1);
	flow_table_gone(t, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(flow_table_gone_record(t, (size_t) FLOW_TABLE_MAX + 1), -EINVAL);
	flow_table_free(t);
}

/* At scale, with growth of the record: every key that left is reported
 * exactly once across rounds, and the table plus the reported keys are
 * every key ever added. */
static void gone_record_rounds(void **state)
{
	enum { MAX = 1000, N = 20000, ROUND = 700 };
	struct flow_table *t = flow_table_new(MAX);
	uint8_t *seen = calloc(N, 1);
	struct flow_table_gone g;
	size_t reported = 0;

	(void) state;
	assert_non_null(t);
	assert_non_null(seen);
	assert_int_equal(flow_table_gone_record(t, MAX), 0);
	for (uint32_t i = 0; i < N; i++) {
		struct flow_key k = key_n(i, 443);

		assert_true(flow_table_add(t, &k, 1, 60, 1, 2000 + i / 100, FLOW_SEEN_PCAP) >= 0);
		if ((i + 1) % ROUND && i + 1 != N)
			continue;
		flow_table_gone(t, &g);
		assert_int_equal(g.overflow, 0);
		for (size_t j = 0; j < g.n; j++) {
			const uint8_t *b = g.keys[j].src.b;
			uint32_t n = ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) | b[3];

			assert_true(n < N);
			assert_int_equal(seen[n], 0);
			seen[n] = 1;
		}
		reported += g.n;
		flow_table_gone_clear(t);
	}
	assert_int_equal(reported, N - MAX);
	assert_int_equal(flow_table_stats(t)->evicted, N - MAX);
	for (uint32_t i = 0; i < N; i++) {
		struct flow_key k = key_n(i, 443);

		assert_int_equal(seen[i] + flow_table_get(t, &k, NULL), 1);
	}
	free(seen);
	flow_table_free(t);
}

/* Dirty flags: set on create and on every add, cleared by clean_at, and
 * carried when eviction moves a flow to another position. */
static void dirty_flags(void **state)
{
	struct flow_table *t = flow_table_new(3);
	struct flow_key k[4];
	struct flow_record r;

	(void) state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 4; i++)
		k[i] = key_n(i, 80);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(flow_table_add(t, &k[i], 1, 60, 1, 1000 + i, FLOW_SEEN_PCAP), 1);
	for (size_t i = 0; i < 3; i++) {
		assert_true(flow_table_dirty_at(t, i));
		flow_table_clean_at(t, i);
		assert_false(flow_table_dirty_at(t, i));
	}
	/* An older time still makes it dirty: times do not say what changed. */
	assert_int_equal(flow_table_add(t, &k[2], 1, 60, 0, 900, FLOW_SEEN_PCAP), 0);
	flow_table_record_at(t, 2, &r);
	assert_memory_equal(&r.key, &k[2], sizeof(k[2]));
	assert_true(flow_table_dirty_at(t, 2));
	assert_false(flow_table_dirty_at(t, 0));
	/* k3 evicts k0 (position 0): k2, dirty, moves from 2 to 0 and stays
	 * dirty; k3 is created dirty at 2; k1 stays clean. */
	assert_int_equal(flow_table_add(t, &k[3], 1, 60, 1, 1010, FLOW_SEEN_PCAP), 1);
	flow_table_record_at(t, 0, &r);
	assert_memory_equal(&r.key, &k[2], sizeof(k[2]));
	assert_true(flow_table_dirty_at(t, 0));
	flow_table_record_at(t, 1, &r);
	assert_memory_equal(&r.key, &k[1], sizeof(k[1]));
	assert_false(flow_table_dirty_at(t, 1));
	flow_table_record_at(t, 2, &r);
	assert_memory_equal(&r.key, &k[3], sizeof(k[3]));
	assert_true(flow_table_dirty_at(t, 2));
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
		cmocka_unit_test(gone_record),
		cmocka_unit_test(gone_record_rounds),
		cmocka_unit_test(dirty_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
