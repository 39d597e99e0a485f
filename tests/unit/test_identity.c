#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster.h"
#include "flow_table.h"
#include "flows_json.h"
#include "identity.h"
#include "learn_export.h"
#include "tombstones.h"
#include "testutil.h"
#include "workload.h"

static void put_pod(struct cluster *c, const char *ns, const char *name, const char *ip,
		    int64_t created, int64_t deleted, const char *owner_kind,
		    const char *owner_name, const char *labels, bool host_network)
{
	struct pod p = {
		.ns = strdup(ns),
		.name = strdup(name),
		.created = created,
		.deleted = deleted,
		.host_network = host_network,
		.node = strdup("node-1"),
	};

	labels_lit(&p.labels, labels);
	if (ip) {
		p.ips[0] = addr_lit(ip);
		p.n_ips = 1;
	}
	if (owner_kind) {
		p.owner.kind = strdup(owner_kind);
		p.owner.name = strdup(owner_name);
	}
	assert_true(cluster_pod_put(c, &p) >= 0);
}

static void put_node(struct cluster *c, const char *name, const char *ip)
{
	struct node n = { .name = strdup(name), .n_addrs = 1 };

	n.addrs = calloc(1, sizeof(*n.addrs));
	n.addrs[0] = addr_lit(ip);
	assert_true(cluster_node_put(c, &n) >= 0);
}

static struct cluster *fixture(void)
{
	struct cluster *c = cluster_new();

	/* 10.0.0.5 was "old" until t=100, then "new" from t=150. */
	put_pod(c, "shop", "old", "10.0.0.5", 10, 100, "ReplicaSet", "cart-7d9c5b8f6d",
		"app=cart,pod-template-hash=7d9c5b8f6d", false);
	put_pod(c, "shop", "new", "10.0.0.5", 150, 0, "StatefulSet", "db", "app=db", false);
	put_pod(c, "ops", "backup-28990000-x1", "10.0.0.6", 0, 0, "Job", "backup-28990000", "",
		false);
	put_pod(c, "kube-system", "proxy", "192.168.1.10", 0, 0, "DaemonSet", "kube-proxy", "",
		true);
	put_pod(c, "ops", "bare", "10.0.0.7", 0, 0, NULL, NULL, "run=bare", false);
	put_node(c, "node-2", "192.168.1.20");
	return c;
}

static void pod_lifetimes(void **state)
{
	struct cluster *c = fixture();
	struct addr a = addr_lit("10.0.0.5");
	struct identity *id;
	struct flow_peer p;

	(void) state;
	assert_int_equal(identity_new(c, &id), 0);
	assert_int_equal(identity_resolve(id, &a, 50, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_POD);
	assert_string_equal(p.name, "old");
	assert_string_equal(p.ns, "shop");
	assert_string_equal(p.workload_kind, "Deployment");
	assert_string_equal(p.workload_name, "cart");
	assert_string_equal(labels_get(&p.labels, "app"), "cart");
	flow_peer_done(&p);

	assert_int_equal(identity_resolve(id, &a, 200, &p), 0);
	assert_string_equal(p.name, "new");
	assert_string_equal(p.workload_kind, "StatefulSet");
	assert_string_equal(p.workload_name, "db");
	flow_peer_done(&p);

	/* Between the two lifetimes (and on the old pod's deletion time),
	 * the address belonged to nobody we know. */
	assert_int_equal(identity_resolve(id, &a, 100, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_UNKNOWN);
	assert_null(p.name);
	flow_peer_done(&p);
	assert_int_equal(identity_resolve(id, &a, 5, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_UNKNOWN);
	flow_peer_done(&p);
	identity_free(id);
	cluster_free(c);
}

static void nodes_and_external(void **state)
{
	struct cluster *c = fixture();
	struct addr host = addr_lit("192.168.1.10"), node = addr_lit("192.168.1.20");
	struct addr ext = addr_lit("203.0.113.1"), bare = addr_lit("10.0.0.7");
	struct addr job = addr_lit("10.0.0.6");
	struct identity *id;
	struct flow_peer p;

	(void) state;
	assert_int_equal(identity_new(c, &id), 0);
	assert_int_equal(identity_resolve(id, &host, 1, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_NODE);
	assert_string_equal(p.name, "node-1"); /* the host-network pod's node */
	flow_peer_done(&p);
	assert_int_equal(identity_resolve(id, &node, 1, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_NODE);
	assert_string_equal(p.name, "node-2");
	flow_peer_done(&p);
	assert_int_equal(identity_resolve(id, &ext, 1, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_EXTERNAL);
	flow_peer_done(&p);
	assert_int_equal(identity_resolve(id, &bare, 1, &p), 0);
	assert_int_equal(p.kind, FLOW_PEER_POD);
	assert_null(p.workload_kind);
	assert_string_equal(labels_get(&p.labels, "run"), "bare");
	flow_peer_done(&p);
	assert_int_equal(identity_resolve(id, &job, 1, &p), 0);
	assert_string_equal(p.workload_kind, "CronJob");
	assert_string_equal(p.workload_name, "backup");
	flow_peer_done(&p);
	identity_free(id);
	cluster_free(c);
}

static void workload_names(void **state)
{
	struct pod p = { 0 };
	char *k, *n;

	(void) state;
	labels_init(&p.labels);
	/* No pod-template-hash label: a ReplicaSet-like suffix still goes. */
	p.owner.kind = (char *) "ReplicaSet";
	p.owner.name = (char *) "web-frontend-5f6d8c9b7";
	assert_int_equal(identity_workload(&p, &k, &n), 0);
	assert_string_equal(k, "Deployment");
	assert_string_equal(n, "web-frontend");
	free(k);
	free(n);
	/* A ReplicaSet not made by a Deployment keeps its own name. */
	p.owner.name = (char *) "standalone";
	assert_int_equal(identity_workload(&p, &k, &n), 0);
	assert_string_equal(k, "ReplicaSet");
	assert_string_equal(n, "standalone");
	free(k);
	free(n);
	/* A Job not made by a CronJob. */
	p.owner.kind = (char *) "Job";
	p.owner.name = (char *) "migrate-v2";
	assert_int_equal(identity_workload(&p, &k, &n), 0);
	assert_string_equal(k, "Job");
	assert_string_equal(n, "migrate-v2");
	free(k);
	free(n);
	p.owner.kind = NULL;
	assert_int_equal(identity_workload(&p, &k, &n), 0);
	assert_null(k);
	assert_null(n);
}

/*
 * Issue 13, "workload naming": learn (identity) and propose (workload)
 * must name a pod's controller workload the same way, or propose cannot
 * find the workload a flow recorded.  They used to disagree on whether a
 * ReplicaSet name without a pod-template-hash label ends in a hash.
 */
static void workload_name_is_the_workload_set_name(void **state)
{
	static const struct {
		const char *kind, *name, *labels;
	} cases[] = {
		{ "ReplicaSet", "api-7d9c4b8f6", "pod-template-hash=7d9c4b8f6" },
		{ "ReplicaSet", "api-7d9c4b8f6", "pod-template-hash=other" },
		{ "ReplicaSet", "web-api-5f6d7c9b8", "" },
		/* lowercase alphanumeric, but not the hash alphabet (vowels, 1, 3) */
		{ "ReplicaSet", "api-abcde", "" },
		{ "ReplicaSet", "web-frontend", "app=web" },
		{ "ReplicaSet", "cache-1234567", "" },
		{ "ReplicaSet", "legacy-one", "app=x" },
		{ "ReplicaSet", "-bcdfg", "" },
		{ "ReplicaSet", "standalone", "" },
		{ "Job", "backup-29381760", "" },
		{ "Job", "backup-2938176", "" },
		{ "Job", "migrate-v2", "" },
		{ "StatefulSet", "db", "" },
		{ "DaemonSet", "agent", "" },
	};

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(cases); i++) {
		struct pod p = { .ns = (char *) "ns", .name = (char *) "pod-1" };
		char *ik, *in, *wk, *wn;

		labels_lit(&p.labels, cases[i].labels);
		p.owner.kind = (char *) cases[i].kind;
		p.owner.name = (char *) cases[i].name;
		assert_int_equal(identity_workload(&p, &ik, &in), 0);
		assert_int_equal(workload_of_pod(&p, &wk, &wn), 0);
		if (strcmp(ik, wk) != 0 || strcmp(in, wn) != 0)
			fail_msg("%s %s {%s}: identity says %s/%s, workload says %s/%s",
				 cases[i].kind, cases[i].name, cases[i].labels, ik, in, wk, wn);
		free(ik);
		free(in);
		free(wk);
		free(wn);
		labels_done(&p.labels);
	}
}

/* Pod @name with @ip, created at 10, deleted at unix time @gone_s, into @t. */
static void entomb(struct tombstones *t, const char *name, const char *ip, int64_t gone_s)
{
	struct pod p = {
		.ns = strdup("shop"),
		.name = strdup(name),
		.created = 10,
		.n_ips = 1,
		.ips = { addr_lit(ip) },
		.owner = { .kind = strdup("ReplicaSet"), .name = strdup("cart-7d9c5b8f6d") },
	};

	labels_lit(&p.labels, "app=cart,pod-template-hash=7d9c5b8f6d");
	assert_int_equal(tombstones_add(t, &p, 0, gone_s), 0);
}

static void resolve(const struct identity *id, const char *ip, int64_t first, int64_t last,
		    struct flow_peer *ret)
{
	struct flow_record f = { .first_seen = first, .last_seen = last };
	struct addr a = addr_lit(ip);

	assert_int_equal(learn_resolve_peer(id, &a, &f, ret), 0);
}

/*
 * A flow seen a second before its pod was deleted, resolved after the
 * deletion: the live cluster no longer has the pod, the tombstone does.
 * Without tombstones (the cluster alone, as before) it was external.
 */
static void deleted_pod_resolves_from_tombstone(void **state)
{
	struct cluster *c = fixture();
	struct tombstones *t = tombstones_new(0, 0);
	struct identity *id, *plain;
	struct flow_peer p;

	(void) state;
	entomb(t, "cart-1", "10.0.0.9", 1000);
	assert_int_equal(identity_new_with_tombstones(c, t, &id), 0);
	resolve(id, "10.0.0.9", 990, 999, &p);
	assert_int_equal(p.kind, FLOW_PEER_POD);
	assert_string_equal(p.ns, "shop");
	assert_string_equal(p.name, "cart-1");
	assert_string_equal(p.workload_kind, "Deployment");
	assert_string_equal(p.workload_name, "cart");
	assert_string_equal(labels_get(&p.labels, "app"), "cart");
	flow_peer_done(&p);
	/* In the second of the deletion still; after it, nobody we know. */
	resolve(id, "10.0.0.9", 1000, 1000, &p);
	assert_int_equal(p.kind, FLOW_PEER_POD);
	flow_peer_done(&p);
	resolve(id, "10.0.0.9", 1001, 1005, &p);
	assert_int_equal(p.kind, FLOW_PEER_UNKNOWN);
	flow_peer_done(&p);

	assert_int_equal(identity_new(c, &plain), 0);
	resolve(plain, "10.0.0.9", 990, 999, &p);
	assert_int_equal(p.kind, FLOW_PEER_EXTERNAL);
	flow_peer_done(&p);
	identity_free(plain);
	identity_free(id);
	tombstones_free(t);
	cluster_free(c);
}

/* The address reused by a new pod: the live pod wins whenever it lived;
 * the tombstone answers only for the time before the new pod. */
static void live_pod_wins_over_tombstone(void **state)
{
	struct cluster *c = fixture();
	struct tombstones *t = tombstones_new(0, 0);
	struct identity *id;
	struct flow_peer p;

	(void) state;
	/* 10.0.0.6 is the live Job pod (created at an unknown time: always). */
	entomb(t, "cart-2", "10.0.0.6", 1000);
	/* 10.0.0.8: deleted at 1000, a new pod has it from 1002. */
	entomb(t, "cart-3", "10.0.0.8", 1000);
	put_pod(c, "shop", "reuser", "10.0.0.8", 1002, 0, "StatefulSet", "db", "app=db", false);
	assert_int_equal(identity_new_with_tombstones(c, t, &id), 0);

	resolve(id, "10.0.0.6", 990, 999, &p);
	assert_string_equal(p.name, "backup-28990000-x1");
	flow_peer_done(&p);
	resolve(id, "10.0.0.8", 1003, 1004, &p);
	assert_string_equal(p.name, "reuser");
	flow_peer_done(&p);
	resolve(id, "10.0.0.8", 990, 999, &p);
	assert_string_equal(p.name, "cart-3");
	flow_peer_done(&p);
	/* First seen under the old pod, last seen under the new one: the
	 * last time wins, as without tombstones. */
	resolve(id, "10.0.0.8", 999, 1003, &p);
	assert_string_equal(p.name, "reuser");
	flow_peer_done(&p);
	identity_free(id);
	tombstones_free(t);
	cluster_free(c);
}

/*
 * learn_export_write() resolves through a cache keyed by address and time;
 * what it writes is what resolving every flow's ends one by one
 * (learn_resolve_peer()) writes, byte for byte: addresses that changed
 * owner (10.0.0.5), a tombstone, a node, host network, external, and
 * enough distinct (address, time) pairs to evict.
 */
static void export_cache_matches_per_flow(void **state)
{
	static const char *const ips[] = { "10.0.0.5",	   "10.0.0.6",	   "10.0.0.7",	 "10.0.0.9",
					   "192.168.1.10", "192.168.1.20", "203.0.113.1" };
	struct cluster *c = fixture();
	struct tombstones *tb = tombstones_new(0, 0);
	struct flow_table *t = flow_table_new(1 << 20);
	const struct flows_header h = { .node = "node-1", .generated = 1700000000 };
	char a[] = "/tmp/bh-test-export-XXXXXX", b[64];
	struct bh_err err = { 0 };
	struct flows_writer *w;
	struct identity *id;
	size_t na = 0, nb = 0, n;
	char *da, *db;
	int fd;

	(void) state;
	entomb(tb, "cart-1", "10.0.0.9", 1000);
	assert_int_equal(identity_new_with_tombstones(c, tb, &id), 0);
	assert_non_null(t);
	for (int i = 0; i < 40000; i++) {
		struct flow_key k = { .proto = IPPROTO_TCP, .port = (uint16_t) (80 + i % 3) };
		int64_t first = (i * 7) % 1200, last = first + (i % 5 ? 0 : (i / 5) % 300);

		k.src = addr_lit(ips[i % BH_ARRAY_SIZE(ips)]);
		k.dst = addr_lit(ips[(i / 7) % BH_ARRAY_SIZE(ips)]);
		k.port = (uint16_t) (1 + i);
		assert_true(flow_table_add(t, &k, 1, 60, 1, first, FLOW_SEEN_PCAP) >= 0);
		assert_true(flow_table_add(t, &k, 0, 0, 0, last, FLOW_SEEN_PCAP) >= 0);
	}
	fd = mkstemp(a);
	assert_true(fd >= 0);
	close(fd);
	snprintf(b, sizeof(b), "%s.ref", a);
	assert_int_equal(learn_export_write(t, id, &h, a, &err), 0);
	n = flow_table_count(t);
	assert_int_equal(flows_writer_open(b, &h, &w, &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct flow_record f;

		flow_table_record_at(t, i, &f);
		assert_int_equal(learn_resolve_peer(id, &f.key.src, &f, &f.src_peer), 0);
		assert_int_equal(learn_resolve_peer(id, &f.key.dst, &f, &f.dst_peer), 0);
		assert_int_equal(flows_writer_add(w, &f), 0);
		flow_peer_done(&f.src_peer);
		flow_peer_done(&f.dst_peer);
	}
	assert_int_equal(flows_writer_commit(w, &err), 0);
	da = test_read_file(a, &na);
	db = test_read_file(b, &nb);
	assert_non_null(da);
	assert_non_null(db);
	assert_true(na == nb && memcmp(da, db, na) == 0);
	assert_non_null(strstr(da, "\"name\":\"old\""));
	assert_non_null(strstr(da, "\"name\":\"new\""));
	assert_non_null(strstr(da, "\"name\":\"cart-1\""));
	assert_non_null(strstr(da, "\"kind\":\"external\""));
	free(da);
	free(db);
	unlink(a);
	unlink(b);
	flow_table_free(t);
	identity_free(id);
	tombstones_free(tb);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pod_lifetimes),
		cmocka_unit_test(deleted_pod_resolves_from_tombstone),
		cmocka_unit_test(live_pod_wins_over_tombstone),
		cmocka_unit_test(nodes_and_external),
		cmocka_unit_test(workload_names),
		cmocka_unit_test(workload_name_is_the_workload_set_name),
		cmocka_unit_test(export_cache_matches_per_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
