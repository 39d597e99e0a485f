/* unit.alerts: the preview alert table (include/alerts.h). */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "alerts.h"
#include "buf.h"
#include "cluster.h"
#include "json_out.h"
#include "netpol.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define WEB "shop/Deployment/web"
#define API "shop/Deployment/api"
#define DB "shop/StatefulSet/db"
#define T0 1796362408123LL /* 2026-12-04T05:33:28.123Z */

static struct alert_key key(const char *src, const char *dst, uint16_t port, uint8_t proto)
{
	return (struct alert_key){ .src = src, .dst = dst, .port = port, .proto = proto };
}

static const struct alert_info info_api = {
	.direction = ALERT_INGRESS,
	.policy = "shop/api-allow",
	.explanation = "shop/api-allow isolates api-1 for ingress; no rule allows web on 9090",
	.src_pod = "web-1",
	.dst_pod = "api-1",
};

static void dedup(void **state)
{
	struct alerts *t = alerts_new(16);
	struct alert_key k = key(WEB, API, 9090, IPPROTO_TCP);
	struct alert_info later = info_api;
	const struct alert_entry *a;

	(void) state;
	assert_non_null(t);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 10), 0);
	/* A clock stepped back does not move last seen back. */
	assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 5), 0);
	assert_int_equal(alerts_count(t), 1);
	a = alerts_at(t, 0);
	assert_int_equal(a->count, 3);
	assert_int_equal(a->first_seen, T0);
	assert_int_equal(a->last_seen, T0 + 10);
	assert_string_equal(a->src, WEB);
	assert_string_equal(a->dst, API);
	assert_int_equal(a->port, 9090);
	assert_int_equal(a->proto, IPPROTO_TCP);
	assert_int_equal(a->direction, ALERT_INGRESS);
	assert_string_equal(a->policy, "shop/api-allow");
	assert_string_equal(a->explanation, info_api.explanation);
	assert_string_equal(a->src_pod, "web-1");
	assert_string_equal(a->dst_pod, "api-1");
	assert_int_equal(a->state, ALERT_OPEN);

	/* The newest info replaces the old; the state stays. */
	assert_int_equal(alerts_set_state(t, a->id, ALERT_DISMISSED), 0);
	later.policy = "shop/api-strict";
	later.explanation = NULL;
	later.src_pod = "web-2";
	later.dst_pod = NULL;
	assert_int_equal(alerts_observe(t, &k, &later, T0 + 20), 0);
	a = alerts_at(t, 0);
	assert_int_equal(a->count, 4);
	assert_string_equal(a->policy, "shop/api-strict");
	assert_string_equal(a->explanation, "");
	assert_string_equal(a->src_pod, "web-2");
	assert_null(a->dst_pod);
	assert_int_equal(a->state, ALERT_DISMISSED);

	/* Each part of the key makes another alert. */
	k.port = 9091;
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	k.proto = IPPROTO_UDP;
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	k = key(API, WEB, 9090, IPPROTO_TCP);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	assert_int_equal(alerts_count(t), 4);

	/* One external peer written three ways is one key. */
	k = key("192.0.2.1", API, 80, IPPROTO_TCP);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	k.src = "192.0.2.1/32";
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 0);
	k = key("2001:DB8:0:0::1", "10.1.2.3/8", 53, IPPROTO_UDP);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	k = key("2001:db8::1/128", "10.0.0.0/8", 53, IPPROTO_UDP);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 0);
	a = alerts_lookup(t, &k);
	assert_non_null(a);
	assert_string_equal(a->src, "2001:db8::1/128");
	assert_string_equal(a->dst, "10.0.0.0/8");
	assert_int_equal(a->count, 2);
	assert_string_equal(alerts_lookup(t, &(struct alert_key){ "192.0.2.1", API, 80, 6 })->src,
			    "192.0.2.1/32");
	assert_null(alerts_lookup(t, &(struct alert_key){ "192.0.2.2", API, 80, 6 }));

	assert_int_equal(alerts_count(t), 6);
	assert_int_equal(alerts_stats(t)->observed, 11);
	assert_int_equal(alerts_stats(t)->created, 6);
	assert_int_equal(alerts_stats(t)->dropped, 0);
	alerts_free(t);
	assert_null(alerts_free(NULL));
}

static void refuses_bad_input(void **state)
{
	struct alerts *t = alerts_new(4);
	struct alert_key k = key(WEB, API, 80, IPPROTO_TCP);
	struct alert_info in = info_api;
	char pod[ALERT_POD_MAX + 2], peer[ALERT_PEER_MAX + 2];
	static const char *const bad_peers[] = {
		"",
		"shop",
		"shop/web",
		"shop//web",
		"/shop/Deployment/web",
		"shop/Deployment/web/",
		"a/b/c/d",
		"192.0.2.1/33",
		"192.0.2.300",
		"not an address",
		"::1/129",
	};

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad_peers); i++) {
		k.src = bad_peers[i];
		assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
		k.src = WEB;
		k.dst = bad_peers[i];
		assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
		k.dst = API;
	}
	k.src = NULL;
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	k.src = WEB;
	memset(peer, 'a', sizeof(peer) - 1);
	peer[sizeof(peer) - 1] = '\0';
	memcpy(peer, "ns/Deployment/", 14);
	k.src = peer; /* one byte past ALERT_PEER_MAX */
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	peer[ALERT_PEER_MAX] = '\0'; /* exactly ALERT_PEER_MAX: taken */
	assert_int_equal(alerts_observe(t, &k, &in, T0), 1);
	k.src = WEB;

	in.policy = NULL;
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	in.policy = "api-allow";
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	in.policy = "shop/api/allow";
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	in.policy = info_api.policy;
	in.direction = _ALERT_DIRECTION_MAX;
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	in.direction = ALERT_EGRESS;
	in.src_pod = "shop/web-1";
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	memset(pod, 'p', sizeof(pod) - 1);
	pod[sizeof(pod) - 1] = '\0';
	in.src_pod = pod;
	assert_int_equal(alerts_observe(t, &k, &in, T0), -EINVAL);
	in.src_pod = NULL;
	assert_int_equal(alerts_observe(t, &k, &in, -1), -EINVAL);
	assert_int_equal(alerts_observe(t, &k, &in, INT64_MAX), -EINVAL);

	assert_int_equal(alerts_count(t), 1);
	assert_int_equal(alerts_stats(t)->observed, 1);
	assert_int_equal(alerts_stats(t)->invalid, 2 * BH_ARRAY_SIZE(bad_peers) + 10);
	assert_int_equal(alerts_observe(t, &k, &in, T0), 1);
	assert_int_equal(alerts_at(t, 1)->direction, ALERT_EGRESS);
	alerts_free(t);
}

static void ordering(void **state)
{
	static const char *const peers[] = { WEB, API, DB, "198.51.100.0/24", "2001:db8::/64" };
	struct alerts *t = alerts_new(100);
	struct alert_key k;

	(void) state;
	/* Observed first in this order, with a clock that goes back and forth:
	 * the order is that of first observation, whatever comes later. */
	for (size_t i = 0; i < BH_ARRAY_SIZE(peers); i++) {
		k = key(peers[i], API, (uint16_t) (1000 + i), IPPROTO_TCP);
		assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 100 * (int64_t) i), 1);
	}
	for (size_t r = 0; r < 3; r++)
		for (size_t i = BH_ARRAY_SIZE(peers); i-- > 0;) {
			k = key(peers[i], API, (uint16_t) (1000 + i), IPPROTO_TCP);
			assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 1000), 0);
		}
	assert_int_equal(alerts_count(t), BH_ARRAY_SIZE(peers));
	for (size_t i = 0; i < BH_ARRAY_SIZE(peers); i++) {
		const struct alert_entry *a = alerts_at(t, i);

		assert_int_equal(a->port, 1000 + i);
		assert_int_equal(a->count, 4);
		assert_int_equal(a->first_seen, T0 + 100 * (int64_t) i);
		assert_ptr_equal(alerts_find(t, a->id), a);
	}
	assert_null(alerts_at(t, BH_ARRAY_SIZE(peers)));

	/* A restored alert takes its place by first seen; ties keep the
	 * order they came in. */
	k = key(WEB, DB, 5432, IPPROTO_TCP);
	assert_int_equal(alerts_restore(t, &k, &info_api,
					&(struct alert_saved){ .count = 7,
							       .first_seen = T0 + 150,
							       .last_seen = T0 + 5000,
							       .state = ALERT_ALLOWED }),
			 0);
	k.port = 5433;
	assert_int_equal(alerts_restore(t, &k, &info_api,
					&(struct alert_saved){ .count = 1,
							       .first_seen = T0 + 100,
							       .last_seen = T0 + 100,
							       .state = ALERT_OPEN }),
			 0);
	assert_int_equal(alerts_at(t, 0)->port, 1000);
	assert_int_equal(alerts_at(t, 1)->port, 1001);
	assert_int_equal(alerts_at(t, 2)->port, 5433);
	assert_int_equal(alerts_at(t, 3)->port, 5432);
	assert_int_equal(alerts_at(t, 3)->count, 7);
	assert_int_equal(alerts_at(t, 3)->last_seen, T0 + 5000);
	assert_int_equal(alerts_at(t, 3)->state, ALERT_ALLOWED);
	assert_int_equal(alerts_at(t, 4)->port, 1002);
	/* A new key observed after the clock went back is placed likewise. */
	k.port = 5434;
	assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 150), 1);
	assert_int_equal(alerts_at(t, 4)->port, 5434);
	assert_int_equal(alerts_at(t, 5)->port, 1002);
	assert_int_equal(alerts_count(t), BH_ARRAY_SIZE(peers) + 3);
	assert_int_equal(alerts_set_state(t, alerts_at(t, 4)->id, ALERT_DISMISSED), 0);
	assert_int_equal(alerts_open(t), BH_ARRAY_SIZE(peers) + 1);
	assert_int_equal(alerts_stats(t)->restored, 2);
	assert_int_equal(alerts_stats(t)->created, BH_ARRAY_SIZE(peers) + 1);
	/* Observing a restored alert counts on from where it was. */
	k.port = 5432;
	assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 6000), 0);
	assert_int_equal(alerts_at(t, 3)->count, 8);
	assert_int_equal(alerts_at(t, 3)->last_seen, T0 + 6000);
	alerts_free(t);
}

static void state_changes(void **state)
{
	struct alerts *t = alerts_new(8);
	char ids[3][ALERT_ID_SIZE];
	enum alert_state st;

	(void) state;
	for (uint16_t p = 0; p < 3; p++) {
		struct alert_key k = key(WEB, API, (uint16_t) (80 + p), IPPROTO_TCP);

		assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
		memcpy(ids[p], alerts_at(t, p)->id, ALERT_ID_SIZE);
	}
	assert_int_equal(alerts_open(t), 3);
	assert_int_equal(alerts_set_state(t, ids[0], ALERT_ALLOWED), 0);
	assert_int_equal(alerts_open(t), 2);
	assert_int_equal(alerts_set_state(t, ids[1], ALERT_DISMISSED), 0);
	assert_int_equal(alerts_open(t), 1);
	/* Setting the same state again changes nothing. */
	assert_int_equal(alerts_set_state(t, ids[1], ALERT_DISMISSED), 0);
	assert_int_equal(alerts_open(t), 1);
	assert_int_equal(alerts_set_state(t, ids[0], ALERT_DISMISSED), 0);
	assert_int_equal(alerts_open(t), 1);
	assert_int_equal(alerts_set_state(t, ids[0], ALERT_OPEN), 0);
	assert_int_equal(alerts_open(t), 2);
	assert_int_equal(alerts_find(t, ids[0])->state, ALERT_OPEN);
	assert_int_equal(alerts_find(t, ids[1])->state, ALERT_DISMISSED);
	assert_int_equal(alerts_find(t, ids[2])->state, ALERT_OPEN);

	assert_int_equal(alerts_set_state(t, "0000000000000000", ALERT_ALLOWED), -ENOENT);
	assert_int_equal(alerts_set_state(t, "nope", ALERT_ALLOWED), -ENOENT);
	assert_int_equal(alerts_set_state(t, NULL, ALERT_ALLOWED), -ENOENT);
	assert_int_equal(alerts_set_state(t, ids[2], _ALERT_STATE_MAX), -EINVAL);
	assert_int_equal(alerts_open(t), 2);
	assert_null(alerts_find(t, "0000000000000000"));
	assert_null(alerts_find(t, NULL));

	assert_string_equal(alert_state_name(ALERT_OPEN), "open");
	assert_string_equal(alert_state_name(ALERT_ALLOWED), "allowed");
	assert_string_equal(alert_state_name(ALERT_DISMISSED), "dismissed");
	assert_null(alert_state_name(_ALERT_STATE_MAX));
	assert_int_equal(alert_state_parse("dismissed", &st), 0);
	assert_int_equal(st, ALERT_DISMISSED);
	assert_int_equal(alert_state_parse("Open", &st), -EINVAL);
	assert_int_equal(alert_state_parse(NULL, &st), -EINVAL);
	assert_string_equal(alert_direction_name(ALERT_EGRESS), "egress");
	assert_null(alert_direction_name(_ALERT_DIRECTION_MAX));
	alerts_free(t);
}

static void id_stability(void **state)
{
	struct alerts *a = alerts_new(8), *b = alerts_new(8);
	struct alert_key k = key(WEB, API, 8080, IPPROTO_TCP);
	struct alert_key ext = key("203.0.113.7", DB, 5432, IPPROTO_TCP);
	struct alert_key others[] = {
		key(WEB, API, 8081, IPPROTO_TCP),
		key(WEB, API, 8080, IPPROTO_UDP),
		key(API, WEB, 8080, IPPROTO_TCP),
		key(WEB, DB, 8080, IPPROTO_TCP),
		/* The separator keeps "a/b/c" + "d/e/f" apart from "a/b/cd" + "/e/f". */
		key("a/b/cd", "e/f/g", 8080, IPPROTO_TCP),
	};
	char id[ALERT_ID_SIZE], seen[BH_ARRAY_SIZE(others) + 1][ALERT_ID_SIZE];

	(void) state;
	/* The id's definition never changes: these were computed from the
	 * report's definition with Python's hashlib, e.g.
	 * sha256(b"shop/Deployment/web\nshop/Deployment/api\n8080\nTCP"). */
	alert_id_make(&k, id);
	assert_string_equal(id, "672cbe7c872f64f3");
	alert_id_make(&(struct alert_key){ "203.0.113.7/32", DB, 5432, IPPROTO_TCP }, id);
	assert_string_equal(id, "441ac3db36fb379c");

	/* Two tables, filled in different orders, agree. */
	assert_int_equal(alerts_observe(a, &k, &info_api, T0), 1);
	assert_int_equal(alerts_observe(a, &ext, &info_api, T0), 1);
	assert_int_equal(alerts_observe(b, &ext, &info_api, T0 + 1), 1);
	assert_int_equal(alerts_observe(b, &k, &info_api, T0 + 1), 1);
	assert_string_equal(alerts_at(a, 0)->id, "672cbe7c872f64f3");
	assert_string_equal(alerts_at(b, 1)->id, "672cbe7c872f64f3");
	/* The id is that of the canonical key. */
	assert_string_equal(alerts_at(a, 1)->id, "441ac3db36fb379c");
	assert_string_equal(alerts_at(b, 0)->id, "441ac3db36fb379c");

	memcpy(seen[0], "672cbe7c872f64f3", ALERT_ID_SIZE);
	for (size_t i = 0; i < BH_ARRAY_SIZE(others); i++) {
		alert_id_make(&others[i], seen[i + 1]);
		assert_true(alert_id_valid(seen[i + 1]));
		for (size_t j = 0; j <= i; j++)
			assert_string_not_equal(seen[i + 1], seen[j]);
	}
	alert_id_make(&(struct alert_key){ "a/b/c", "de/f/g", 8080, IPPROTO_TCP }, id);
	assert_string_not_equal(id, seen[BH_ARRAY_SIZE(others)]);

	assert_true(alert_id_valid("0123456789abcdef"));
	assert_false(alert_id_valid("0123456789ABCDEF"));
	assert_false(alert_id_valid("0123456789abcde"));
	assert_false(alert_id_valid("0123456789abcdef0"));
	assert_false(alert_id_valid("0123456789abcdeg"));
	assert_false(alert_id_valid(NULL));
	alerts_free(a);
	alerts_free(b);
}

/* Two keys of one table with the same id: the later takes the next id of
 * its salted sequence.  A real collision takes 2^32 keys to find, so the
 * test makes one: it restores an alert of another key under @k's id. */
static void id_collision(void **state)
{
	struct alerts *t = alerts_new(8);
	struct alert_key k = key(WEB, API, 8080, IPPROTO_TCP);
	struct alert_key other = key(WEB, DB, 1, IPPROTO_TCP);
	const struct alert_entry *a;

	(void) state;
	assert_int_equal(alerts_restore(t, &other, &info_api,
					&(struct alert_saved){ .id = "672cbe7c872f64f3",
							       .count = 1,
							       .first_seen = T0,
							       .last_seen = T0 }),
			 0);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0 + 1), 1);
	a = alerts_lookup(t, &k);
	/* Salt 1: the key followed by "\n1", computed the same way. */
	assert_string_equal(a->id, "f49616da1077e3f8");
	assert_ptr_equal(alerts_find(t, "f49616da1077e3f8"), a);
	assert_int_equal(alerts_find(t, "672cbe7c872f64f3")->port, 1);
	/* Saved with its salted id, it comes back with it. */
	alerts_free(t);
	t = alerts_new(8);
	assert_int_equal(alerts_restore(t, &k, &info_api,
					&(struct alert_saved){ .id = "f49616da1077e3f8",
							       .count = 1,
							       .first_seen = T0,
							       .last_seen = T0 }),
			 0);
	assert_string_equal(alerts_at(t, 0)->id, "f49616da1077e3f8");
	alerts_free(t);
}

static void restore_refusals(void **state)
{
	struct alerts *t = alerts_new(2);
	struct alert_key k = key(WEB, API, 80, IPPROTO_TCP);
	struct alert_saved s = { .count = 1, .first_seen = T0, .last_seen = T0 };

	(void) state;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), 0);
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EEXIST);
	k.port = 81;
	s.id = alerts_at(t, 0)->id; /* another key with an id in use */
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EEXIST);
	s.id = "ABCDEF0123456789";
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EINVAL);
	s.id = NULL;
	s.count = 0;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EINVAL);
	s.count = 1;
	s.last_seen = T0 - 1;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EINVAL);
	s.last_seen = T0;
	s.state = _ALERT_STATE_MAX;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -EINVAL);
	s.state = ALERT_OPEN;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), 0);
	k.port = 82;
	assert_int_equal(alerts_restore(t, &k, &info_api, &s), -ENOBUFS);
	assert_int_equal(alerts_count(t), 2);
	assert_int_equal(alerts_stats(t)->dropped, 0);
	alerts_free(t);

	/* A table of 0 keeps nothing and counts every new key dropped. */
	t = alerts_new(0);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), -ENOBUFS);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), -ENOBUFS);
	assert_int_equal(alerts_count(t), 0);
	assert_int_equal(alerts_stats(t)->dropped, 2);
	alerts_free(t);
}

static size_t heap_in_use(void)
{
#ifdef UNDER_ASAN
	return 0; /* AddressSanitizer's allocator does not report it */
#else
	return mallinfo2().uordblks;
#endif
}

/*
 * A port scan in preview: one external source sweeps 50,000 ports of a
 * pod over TCP and UDP (100,000 distinct keys), ten times over, 1,000,000
 * observations, into a table of 10,000.  The first 10,000 keys are alerts
 * and every later observation of them counts; each observation of one of
 * the other 90,000 keys is dropped and counted; the table's memory stops
 * growing when it is full.
 */
#define FLOOD_LIMIT 10000
#define FLOOD_PORTS 50000
#define FLOOD_ROUNDS 10

static void flood(void **state)
{
	struct alerts *t = alerts_new(FLOOD_LIMIT);
	const struct alerts_stats *st = alerts_stats(t);
	size_t mem_full = 0, heap_full = 0, mem_end, heap_end;
	uint64_t total = 0;

	(void) state;
	for (int r = 0; r < FLOOD_ROUNDS; r++)
		for (int p = 0; p < FLOOD_PORTS; p++)
			for (int u = 0; u < 2; u++) {
				struct alert_key k = key("203.0.113.7", API, (uint16_t) (p + 1),
							 u ? IPPROTO_UDP : IPPROTO_TCP);
				int ret = alerts_observe(t, &k, &info_api, T0 + r);

				assert_true(ret == 0 || ret == 1 || ret == -ENOBUFS);
				if (r == 0 && alerts_count(t) == FLOOD_LIMIT && !mem_full) {
					mem_full = alerts_mem(t);
					heap_full = heap_in_use();
				}
			}
	mem_end = alerts_mem(t);
	heap_end = heap_in_use();
	assert_int_equal(alerts_count(t), FLOOD_LIMIT);
	assert_int_equal(st->observed, FLOOD_ROUNDS * FLOOD_PORTS * 2);
	assert_int_equal(st->created, FLOOD_LIMIT);
	assert_int_equal(st->dropped, (uint64_t) FLOOD_ROUNDS * (2 * FLOOD_PORTS - FLOOD_LIMIT));
	assert_int_equal(alerts_open(t), FLOOD_LIMIT);
	for (size_t i = 0; i < alerts_count(t); i++) {
		const struct alert_entry *a = alerts_at(t, i);

		/* The first 10,000 keys of the sweep: ports 1..5000, TCP then UDP. */
		assert_int_equal(a->port, i / 2 + 1);
		assert_int_equal(a->proto, i % 2 ? IPPROTO_UDP : IPPROTO_TCP);
		assert_int_equal(a->count, FLOOD_ROUNDS);
		assert_int_equal(a->last_seen, T0 + FLOOD_ROUNDS - 1);
		total += a->count;
	}
	assert_int_equal(total + st->dropped, st->observed);
	/* A new key the caller does not describe once the table is full
	 * (the agent's flood path) counts as alerts_observe() would. */
	assert_true(alerts_full(t));
	alerts_drop(t);
	assert_int_equal(st->dropped,
			 (uint64_t) FLOOD_ROUNDS * (2 * FLOOD_PORTS - FLOOD_LIMIT) + 1);
	assert_int_equal(st->observed, FLOOD_ROUNDS * FLOOD_PORTS * 2 + 1);
	assert_int_equal(alerts_count(t), FLOOD_LIMIT);
	/* Bounded: nothing grows once full, and an alert costs its node and
	 * index slots (the strings are shared). */
	assert_int_equal(mem_end, mem_full);
	assert_true(mem_end < FLOOD_LIMIT * 512);
	assert_true(heap_end <= heap_full + 4096);
	print_message("flood: %d observations, %zu alerts, %llu dropped, table %zu bytes "
		      "(%zu per alert)\n",
		      FLOOD_ROUNDS * FLOOD_PORTS * 2, alerts_count(t),
		      (unsigned long long) st->dropped, mem_end, mem_end / FLOOD_LIMIT);
	alerts_free(t);
}

/* ---- JSON ---- */

static json_t *to_json_in(const struct alert_entry *a, const struct cluster *c)
{
	struct json_out w;
	struct buf b;
	json_error_t jerr;
	json_t *j;

	buf_init(&b, 1 << 20);
	json_out_init(&w, &b);
	alert_json(a, c, &w);
	assert_int_equal(json_out_error(&w), 0);
	j = json_loadb(b.data, b.len, 0, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, b.data);
	buf_done(&b);
	return j;
}

static json_t *to_json(const struct alert_entry *a)
{
	return to_json_in(a, NULL);
}

static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	assert_true(json_is_object(o));
	if (json_object_size(o) != n) {
		char *text = json_dumps(o, 0);

		fail_msg("%s: %zu members, wanted %zu", text, json_object_size(o), n);
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(o, keys[i]))
			fail_msg("no '%s'", keys[i]);
}

static void json_shape(void **state)
{
	/* docs/report.schema.json, $defs/alert: every member required, no
	 * other. */
	static const char *const keys[] = { "id",	"src",	     "dst",	 "port",
					    "protocol", "direction", "policy",	 "explanation",
					    "count",	"firstSeen", "lastSeen", "state" };
	static const char *const wl_pod[] = { "workload", "pod" };
	static const char *const cidr[] = { "cidr" };
	struct alerts *t = alerts_new(8);
	struct alert_key k = key(WEB, "2001:db8::7", 53, IPPROTO_UDP);
	struct alert_info in = info_api;
	const struct alert_entry *a;
	json_t *j, *src, *dst;

	(void) state;
	in.direction = ALERT_EGRESS;
	in.policy = "shop/web-egress";
	in.explanation = "shop/web-egress isolates web-1 for egress;\n\"no\" rule allows it";
	in.dst_pod = NULL;
	assert_int_equal(alerts_observe(t, &k, &in, T0), 1);
	assert_int_equal(alerts_observe(t, &k, &in, T0 + 93881), 0);
	a = alerts_at(t, 0);
	assert_int_equal(alerts_set_state(t, a->id, ALERT_ALLOWED), 0);
	j = to_json(a);
	assert_keys(j, keys, BH_ARRAY_SIZE(keys));
	assert_string_equal(json_string_value(json_object_get(j, "id")), a->id);
	src = json_object_get(j, "src");
	dst = json_object_get(j, "dst");
	assert_keys(src, wl_pod, 2);
	assert_string_equal(json_string_value(json_object_get(src, "workload")), WEB);
	assert_string_equal(json_string_value(json_object_get(src, "pod")), "web-1");
	assert_keys(dst, cidr, 1);
	assert_string_equal(json_string_value(json_object_get(dst, "cidr")), "2001:db8::7/128");
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 53);
	assert_string_equal(json_string_value(json_object_get(j, "protocol")), "UDP");
	assert_string_equal(json_string_value(json_object_get(j, "direction")), "egress");
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "shop/web-egress");
	assert_string_equal(json_string_value(json_object_get(j, "explanation")), in.explanation);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "firstSeen")),
			    "2026-12-04T05:33:28.123Z");
	assert_string_equal(json_string_value(json_object_get(j, "lastSeen")),
			    "2026-12-04T05:35:02.004Z");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "allowed");
	json_decref(j);

	/* No pods, no explanation, and a protocol Kubernetes has no name for. */
	k = key("198.51.100.0/24", DB, 0, IPPROTO_ICMP);
	in = (struct alert_info){ .direction = ALERT_INGRESS, .policy = "shop/db" };
	assert_int_equal(alerts_observe(t, &k, &in, 0), 1);
	/* First seen at 0: the first of the table. */
	assert_ptr_equal(alerts_at(t, 0), alerts_lookup(t, &k));
	j = to_json(alerts_at(t, 0));
	assert_keys(j, keys, BH_ARRAY_SIZE(keys));
	assert_keys(json_object_get(j, "src"), cidr, 1);
	assert_keys(json_object_get(j, "dst"), wl_pod, 1);
	assert_string_equal(json_string_value(json_object_get(j, "protocol")), "ICMP");
	assert_string_equal(json_string_value(json_object_get(j, "explanation")), "");
	assert_string_equal(json_string_value(json_object_get(j, "firstSeen")),
			    "1970-01-01T00:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "open");
	json_decref(j);
	alerts_free(t);
}

/* An explanation past ALERT_EXPLANATION_MAX is cut before the character
 * the limit falls in. */
static void explanation_cut(void **state)
{
	static char expl[ALERT_EXPLANATION_MAX + 64];
	struct alerts *t = alerts_new(2);
	struct alert_key k = key(WEB, API, 80, IPPROTO_TCP);
	struct alert_info in = info_api;
	const struct alert_entry *a;
	json_t *j;

	(void) state;
	/* "é" is 2 bytes: one ends at byte ALERT_EXPLANATION_MAX - 1 + 2. */
	memset(expl, 'x', ALERT_EXPLANATION_MAX - 1);
	memcpy(expl + ALERT_EXPLANATION_MAX - 1, "\xc3\xa9 and more", 12);
	in.explanation = expl;
	assert_int_equal(alerts_observe(t, &k, &in, T0), 1);
	a = alerts_at(t, 0);
	assert_int_equal(strlen(a->explanation), ALERT_EXPLANATION_MAX - 1);
	j = to_json(a);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "explanation"))),
			 ALERT_EXPLANATION_MAX - 1);
	json_decref(j);
	/* The same text again is the same explanation: nothing changes. */
	assert_int_equal(alerts_observe(t, &k, &in, T0), 0);
	assert_ptr_equal(alerts_at(t, 0)->explanation, a->explanation);
	alerts_free(t);
}

/* With a cluster, a deciding policy the cluster no longer holds is
 * written as null (the report's references stay valid); one it holds is
 * written by name. */
static void json_policy_deleted(void **state)
{
	struct alerts *t = alerts_new(2);
	struct alert_key k = key(WEB, API, 80, IPPROTO_TCP);
	struct cluster *c = cluster_new();
	struct netpol p;
	json_t *j;

	(void) state;
	assert_non_null(c);
	assert_int_equal(alerts_observe(t, &k, &info_api, T0), 1);
	netpol_init(&p);
	p.ns = strdup("shop");
	p.name = strdup("api-allow-other");
	assert_int_equal(cluster_policy_put(c, &p), 1);
	j = to_json_in(alerts_at(t, 0), c);
	assert_true(json_is_null(json_object_get(j, "policy")));
	assert_string_equal(json_string_value(json_object_get(j, "explanation")),
			    alerts_at(t, 0)->explanation);
	json_decref(j);
	netpol_init(&p);
	p.ns = strdup("shop");
	p.name = strdup("api-allow");
	assert_int_equal(cluster_policy_put(c, &p), 1);
	j = to_json_in(alerts_at(t, 0), c);
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "shop/api-allow");
	json_decref(j);
	cluster_free(c);
	alerts_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dedup),
		cmocka_unit_test(refuses_bad_input),
		cmocka_unit_test(ordering),
		cmocka_unit_test(state_changes),
		cmocka_unit_test(id_stability),
		cmocka_unit_test(id_collision),
		cmocka_unit_test(restore_refusals),
		cmocka_unit_test(flood),
		cmocka_unit_test(json_shape),
		cmocka_unit_test(explanation_cut),
		cmocka_unit_test(json_policy_deleted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
