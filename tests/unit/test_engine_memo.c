/*
 * unit.engine_memo: the engine memo answers what the engine answers.
 * Differential: randomized clusters (namespaces with and without objects,
 * pods sharing labels on different nodes, host-network pods, named ports,
 * Node objects, policies with selectors, ipBlocks with excepts, port
 * ranges), every pair of endpoints (pods over both families, node, pod and
 * external addresses) asked twice (a miss, then a hit), by verdict, by
 * explanation and by truth table.  Focused: the local-node exception, which
 * the self-check memo of propose keyed wrongly, and explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "engine.h"
#include "engine_memo.h"
#include "snapshot.h"
#include "testutil.h"

/* ---- random clusters ---- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned) (rng_state % n);
}

static const char *const nss[] = { "a", "b", "c", "kube-system" };
static const char *const apps[] = { "web", "db", "cache" };

static void gen_selector(struct buf *b)
{
	switch (rnd(5)) {
	case 0:
		assert_int_equal(buf_printf(b, "{}"), 0);
		break;
	case 1:
	case 2:
		assert_int_equal(buf_printf(b, "{\"matchLabels\":{\"app\":\"%s\"}}", apps[rnd(3)]),
				 0);
		break;
	case 3:
		assert_int_equal(buf_printf(b,
					    "{\"matchExpressions\":[{\"key\":\"tier\","
					    "\"operator\":\"%s\"}]}",
					    rnd(2) ? "Exists" : "DoesNotExist"),
				 0);
		break;
	default:
		assert_int_equal(buf_printf(b,
					    "{\"matchExpressions\":[{\"key\":\"app\","
					    "\"operator\":\"NotIn\",\"values\":[\"%s\"]}]}",
					    apps[rnd(3)]),
				 0);
	}
}

static void gen_peer(struct buf *b)
{
	static const char *const blocks[] = {
		"{\"cidr\":\"10.0.1.0/24\",\"except\":[\"10.0.1.8/29\"]}",
		"{\"cidr\":\"10.100.0.0/16\"}",
		"{\"cidr\":\"0.0.0.0/0\",\"except\":[\"10.0.0.0/8\"]}",
		"{\"cidr\":\"fd00::/16\",\"except\":[\"fd00:0:1::/48\",\"fd00:0:2::/48\"]}",
		"{\"cidr\":\"203.0.113.0/24\"}",
	};
	unsigned k = rnd(6);

	assert_int_equal(buf_printf(b, "{"), 0);
	if (k == 0) {
		assert_int_equal(buf_printf(b, "\"ipBlock\":%s", blocks[rnd(5)]), 0);
	} else {
		if (k != 2) {
			assert_int_equal(buf_printf(b, "\"podSelector\":"), 0);
			gen_selector(b);
		}
		if (k >= 2) {
			assert_int_equal(
				buf_printf(b, "%s\"namespaceSelector\":", k != 2 ? "," : ""), 0);
			if (rnd(2))
				assert_int_equal(buf_printf(b, "{}"), 0);
			else
				assert_int_equal(buf_printf(b,
							    "{\"matchLabels\":{\"team\":\"%s\"}}",
							    rnd(2) ? "red" : "blue"),
						 0);
		}
	}
	assert_int_equal(buf_printf(b, "}"), 0);
}

static void gen_rules(struct buf *b, const char *dir)
{
	unsigned n = rnd(3);

	assert_int_equal(buf_printf(b, ",\"%s\":[", dir), 0);
	for (unsigned i = 0; i < n; i++) {
		unsigned np = rnd(3), nports = rnd(3);

		assert_int_equal(buf_printf(b, "%s{", i ? "," : ""), 0);
		if (np) {
			assert_int_equal(buf_printf(b, "\"%s\":[",
						    strcmp(dir, "ingress") == 0 ? "from" : "to"),
					 0);
			for (unsigned j = 0; j < np; j++) {
				assert_int_equal(buf_printf(b, "%s", j ? "," : ""), 0);
				gen_peer(b);
			}
			assert_int_equal(buf_printf(b, "]%s", nports ? "," : ""), 0);
		}
		if (nports) {
			assert_int_equal(buf_printf(b, "\"ports\":["), 0);
			for (unsigned j = 0; j < nports; j++) {
				static const char *const ports[] = {
					"{\"port\":80}",
					"{\"port\":\"http\"}",
					"{\"port\":8000,\"endPort\":8100}",
					"{\"protocol\":\"UDP\",\"port\":53}",
					"{\"protocol\":\"TCP\"}",
				};

				assert_int_equal(buf_printf(b, "%s%s", j ? "," : "", ports[rnd(5)]),
						 0);
			}
			assert_int_equal(buf_printf(b, "]"), 0);
		}
		assert_int_equal(buf_printf(b, "}"), 0);
	}
	assert_int_equal(buf_printf(b, "]"), 0);
}

static struct cluster *gen_cluster(unsigned n_pods, unsigned n_pol)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	struct buf b;
	bool first = true;

	buf_init(&b, 1 << 22);
	assert_int_equal(buf_printf(&b, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["), 0);
	/* Namespace objects for some namespaces only. */
	for (size_t i = 0; i < BH_ARRAY_SIZE(nss); i++) {
		if (!rnd(3))
			continue;
		assert_int_equal(
			buf_printf(&b,
				   "%s{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
				   "\"metadata\":{\"name\":\"%s\",\"labels\":{"
				   "\"kubernetes.io/metadata.name\":\"%s\",\"team\":\"%s\"}}}",
				   first ? "" : ",", nss[i], nss[i], rnd(2) ? "red" : "blue"),
			0);
		first = false;
	}
	for (unsigned i = 1; i <= 2; i++) {
		assert_int_equal(
			buf_printf(&b,
				   "%s{\"apiVersion\":\"v1\",\"kind\":\"Node\","
				   "\"metadata\":{\"name\":\"node-%u\"},\"status\":{\"addresses\":"
				   "[{\"type\":\"InternalIP\",\"address\":\"10.100.0.%u\"}]}}",
				   first ? "" : ",", i, i),
			0);
		first = false;
	}
	for (unsigned i = 0; i < n_pods; i++) {
		bool host = rnd(10) == 0;
		unsigned node = 1 + rnd(3); /* node-3 has no Node object */

		assert_int_equal(
			buf_printf(&b,
				   ",{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
				   "\"name\":\"p%u\",\"namespace\":\"%s\",\"labels\":{"
				   "\"app\":\"%s\",\"pod-template-hash\":\"h%u\"%s}},"
				   "\"spec\":{\"nodeName\":\"node-%u\"%s,\"containers\":[{"
				   "\"name\":\"c\",\"ports\":[{\"name\":\"%s\","
				   "\"containerPort\":%u}]}]},\"status\":{\"phase\":\"Running\"",
				   i, nss[rnd(BH_ARRAY_SIZE(nss))], apps[rnd(3)], rnd(50),
				   rnd(2) ? ",\"tier\":\"front\"" : "", node,
				   host ? ",\"hostNetwork\":true" : "", rnd(2) ? "http" : "web",
				   rnd(2) ? 80 : 8080),
			0);
		if (host)
			assert_int_equal(buf_printf(&b, ",\"podIP\":\"10.100.0.%u\"}}", node), 0);
		else
			assert_int_equal(buf_printf(&b,
						    ",\"podIPs\":[{\"ip\":\"10.0.%u.%u\"},"
						    "{\"ip\":\"fd00:0:%u::%u\"}]}}",
						    rnd(3), 1 + i, rnd(3), 1 + i),
					 0);
	}
	for (unsigned i = 0; i < n_pol; i++) {
		static const char *const types[] = { "[\"Ingress\"]", "[\"Egress\"]",
						     "[\"Ingress\",\"Egress\"]" };
		unsigned t = rnd(3);

		assert_int_equal(
			buf_printf(&b,
				   ",{\"apiVersion\":\"networking.k8s.io/v1\","
				   "\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"np%u\","
				   "\"namespace\":\"%s\"},\"spec\":{\"podSelector\":",
				   i, nss[rnd(BH_ARRAY_SIZE(nss))]),
			0);
		gen_selector(&b);
		assert_int_equal(buf_printf(&b, ",\"policyTypes\":%s", types[t]), 0);
		if (t != 1)
			gen_rules(&b, "ingress");
		if (t != 0)
			gen_rules(&b, "egress");
		assert_int_equal(buf_printf(&b, "}}"), 0);
	}
	assert_int_equal(buf_printf(&b, "]}"), 0);
	if (snapshot_load_buf(b.data, b.len, "random", &c, NULL, &err) < 0)
		fail_msg("%s\n%.*s", err.msg, (int) b.len, b.data);
	buf_done(&b);
	return c;
}

/* Every kind of endpoint of the memo's cluster. */
static struct engine_ep *gen_eps(struct engine *e, size_t *ret_n)
{
	static const char *const addrs[] = { "10.100.0.1",   "10.100.0.2",  "10.100.0.3",
					     "10.0.1.9",     "10.0.2.7",    "203.0.113.5",
					     "198.51.100.1", "fd00:0:1::1", "2001:db8::1" };
	struct cluster *c = engine_cluster(e);
	size_t n = 0, cap = 2 * c->n_pods + BH_ARRAY_SIZE(addrs) + c->n_pods;
	struct engine_ep *v = calloc(cap, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < c->n_pods; i++) {
		engine_ep_pod(e, &c->pods[i], AF_INET, &v[n++]);
		engine_ep_pod(e, &c->pods[i], AF_INET6, &v[n++]);
		if (c->pods[i].n_ips)
			engine_ep_addr(e, &c->pods[i].ips[0], &v[n++]);
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(addrs); i++) {
		struct addr a = addr_lit(addrs[i]);

		engine_ep_addr(e, &a, &v[n++]);
	}
	*ret_n = n;
	return v;
}

static const struct {
	uint8_t proto;
	uint16_t port;
} probes[] = { { IPPROTO_TCP, 80 }, { IPPROTO_TCP, 8080 }, { IPPROTO_UDP, 53 } };

/* The explanation engine_memo_explain() must give, from engine_explain(). */
static void expect_explanation(const struct engine_result *res,
			       const struct engine_memo_explanation *x)
{
	enum netpol_dir d;

	assert_int_equal(x->allowed, res->allowed);
	if (!res->allowed) {
		d = res->dir[NETPOL_EGRESS].allowed ? NETPOL_INGRESS : NETPOL_EGRESS;
		assert_int_equal(x->dir, d);
		assert_false(res->dir[d].allowed);
		assert_int_equal(x->reason, ENGINE_REASON_NO_RULE);
		assert_true(res->dir[d].n_isolating > 0);
		assert_int_equal(x->policy, res->dir[d].isolating[0]);
		return;
	}
	d = x->dir;
	assert_int_equal(x->reason, res->dir[d].reason);
	if (x->reason == ENGINE_REASON_RULE) {
		assert_int_equal(x->policy, res->dir[d].allowing[0].policy);
	} else {
		assert_int_equal(x->policy, ENGINE_MEMO_NO_POLICY);
		/* Ingress is named unless only egress was allowed by a rule. */
		assert_true(d == NETPOL_INGRESS);
		assert_int_not_equal(res->dir[NETPOL_EGRESS].reason, ENGINE_REASON_RULE);
	}
}

static void differential_one(struct cluster *c, const struct engine_memo_policies *pol)
{
	struct engine_memo *m = NULL;
	struct engine *e;
	struct engine_ep *eps;
	struct engine_memo_stats st;
	size_t n;
	bool *tab;

	assert_int_equal(engine_memo_new(c, pol, &m), 0);
	e = engine_memo_engine(m);
	eps = gen_eps(e, &n);
	tab = calloc(n * n, sizeof(*tab));
	assert_non_null(tab);
	for (size_t p = 0; p < BH_ARRAY_SIZE(probes); p++) {
		assert_int_equal(engine_memo_matrix(m, eps, n, eps, n, probes[p].proto,
						    probes[p].port, tab),
				 0);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++) {
				bool want = engine_allowed(e, &eps[i], &eps[j], probes[p].proto,
							   probes[p].port);
				struct engine_memo_explanation x;
				struct engine_result res;

				if (engine_memo_allowed(m, &eps[i], &eps[j], probes[p].proto,
							probes[p].port) != want ||
				    tab[i * n + j] != want)
					fail_msg("pair %zu -> %zu, %u/%u: memo disagrees", i, j,
						 probes[p].proto, probes[p].port);
				assert_int_equal(engine_explain(e, &eps[i], &eps[j],
								probes[p].proto, probes[p].port,
								&res),
						 0);
				for (int twice = 0; twice < 2; twice++) {
					assert_int_equal(engine_memo_explain(m, &eps[i], &eps[j],
									     probes[p].proto,
									     probes[p].port, &x),
							 0);
					expect_explanation(&res, &x);
				}
				engine_result_done(&res);
			}
	}
	engine_memo_stats(m, &st);
	/* Asked four times, each pair of classes was answered once. */
	assert_true(st.hits > 0);
	assert_true(st.n_entries > 0);
	free(tab);
	free(eps);
	engine_memo_free(m);
}

static void differential(void **state)
{
	(void) state;
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 40; round++) {
		struct cluster *c = gen_cluster(10 + rnd(30), rnd(8));

		differential_one(c, NULL);
		cluster_free(c);
	}
}

/* With policies given: the memo evaluates them alone, on a copy. */
static void given_policies(void **state)
{
	(void) state;
	rng_state = 12345;
	for (int round = 0; round < 10; round++) {
		struct cluster *c = gen_cluster(20, 6);
		const struct netpol *v[6];
		struct engine_memo_policies pol = { .n = 0, .v = v };
		struct engine_memo *m = NULL;
		struct cluster *mc;

		for (size_t i = 0; i < c->n_policies; i += 2)
			v[pol.n++] = &c->policies[i];
		assert_int_equal(engine_memo_new(c, &pol, &m), 0);
		mc = engine_memo_cluster(m);
		assert_true(mc != c);
		assert_int_equal(mc->n_pods, c->n_pods);
		assert_int_equal(mc->n_policies, pol.n);
		for (size_t i = 0; i < pol.n; i++)
			assert_non_null(cluster_policy_find(mc, v[i]->ns, v[i]->name));
		engine_memo_free(m);
		differential_one(c, &pol);
		cluster_free(c);
	}
}

#define POD_ON(name, node, ip)                                                                  \
	",{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\","         \
	"\"namespace\":\"x\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"" name "\"}}," \
	"\"spec\":{\"nodeName\":\"" node "\"},\"status\":{\"podIP\":\"" ip "\"}}"

/*
 * Two pods of one class on two nodes; ingress to both is denied but from
 * their own node (kubelet probes).  The self-check memo of propose kept no
 * node in its key: whichever pod was asked first decided for the other.
 */
static void local_node(void **state)
{
	static const char snap[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
		"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\"},"
		"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.100.0.1\"}]}}"
		",{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-2\"},"
		"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.100.0.2\"}]}}" POD_ON(
			"w1", "node-1", "10.0.0.1")
			POD_ON("w2", "node-2",
			       "10.0.0.2") ",{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
					   "\"metadata\":{\"name\":\"deny\",\"namespace\":\"x\"},"
					   "\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}}]}";
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	struct engine_memo *m = NULL;
	struct engine_memo_explanation x;
	struct engine_ep n1, w1, w2;
	struct addr a = addr_lit("10.100.0.1");
	bool tab[2];

	(void) state;
	if (snapshot_load_buf(snap, sizeof(snap) - 1, "local", &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(engine_memo_new(c, NULL, &m), 0);
	assert_ptr_equal(engine_memo_cluster(m), c);
	engine_ep_addr(engine_memo_engine(m), &a, &n1);
	engine_ep_pod(engine_memo_engine(m), cluster_pod_find(c, "x", "w1"), AF_INET, &w1);
	engine_ep_pod(engine_memo_engine(m), cluster_pod_find(c, "x", "w2"), AF_INET, &w2);
	assert_string_equal(n1.node, "node-1");
	/* One class: the pods differ only in a label no selector names. */
	assert_int_not_equal(engine_memo_pod_class(m, 0), 0);
	assert_int_equal(engine_memo_pod_class(m, 0), engine_memo_pod_class(m, 1));
	assert_true(engine_memo_allowed(m, &n1, &w1, IPPROTO_TCP, 80));
	assert_false(engine_memo_allowed(m, &n1, &w2, IPPROTO_TCP, 80));
	assert_true(engine_memo_allowed(m, &n1, &w1, IPPROTO_TCP, 80));
	/* In the other order too, and in a table. */
	engine_memo_free(m);
	assert_int_equal(engine_memo_new(c, NULL, &m), 0);
	assert_false(engine_memo_allowed(m, &n1, &w2, IPPROTO_TCP, 80));
	assert_true(engine_memo_allowed(m, &n1, &w1, IPPROTO_TCP, 80));
	assert_int_equal(engine_memo_matrix(m, &n1, 1, (struct engine_ep[]){ w2, w1 }, 2,
					    IPPROTO_TCP, 80, tab),
			 0);
	assert_false(tab[0]);
	assert_true(tab[1]);
	/* Explained: the local node allows; the other is denied by ingress,
	 * the deny policy deciding. */
	assert_int_equal(engine_memo_explain(m, &n1, &w1, IPPROTO_TCP, 80, &x), 0);
	assert_true(x.allowed);
	assert_int_equal(x.dir, NETPOL_INGRESS);
	assert_int_equal(x.reason, ENGINE_REASON_LOCAL_NODE);
	assert_int_equal(x.policy, ENGINE_MEMO_NO_POLICY);
	assert_int_equal(engine_memo_explain(m, &n1, &w2, IPPROTO_TCP, 80, &x), 0);
	assert_false(x.allowed);
	assert_int_equal(x.dir, NETPOL_INGRESS);
	assert_int_equal(x.reason, ENGINE_REASON_NO_RULE);
	assert_string_equal(c->policies[x.policy].name, "deny");
	/* Pod to pod: one class pair, one question. */
	{
		struct engine_memo_stats before, after;

		engine_memo_stats(m, &before);
		assert_false(engine_memo_allowed(m, &w1, &w2, IPPROTO_TCP, 80));
		assert_false(engine_memo_allowed(m, &w2, &w1, IPPROTO_TCP, 80));
		assert_false(engine_memo_allowed(m, &w1, &w1, IPPROTO_TCP, 80));
		engine_memo_stats(m, &after);
		assert_int_equal(after.misses - before.misses, 1);
		assert_int_equal(after.hits - before.hits, 2);
	}
	engine_memo_free(m);
	cluster_free(c);
}

/* Pods alike but for an ipBlock matching one of them are two classes; a
 * host-network pod is in none; a third pod alike to the first shares its
 * class. */
static void ipblock_classes(void **state)
{
	static const char snap[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\","
		"\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}" POD_ON(
			"w1", "node-1", "10.0.0.1") POD_ON("w3", "node-2", "10.0.0.3")
			POD_ON("w2", "node-1",
			       "10.0.9.2") ",{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"h\","
					   "\"namespace\":\"x\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":"
					   "\"node-1\",\"hostNetwork\":true},\"status\":{\"podIP\":\"10.100.0.1\"}}"
					   ",{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
					   "\"metadata\":{\"name\":\"blk\",\"namespace\":\"x\"},"
					   "\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{"
					   "\"cidr\":\"10.0.9.0/24\"}}]}]}}]}";
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	struct engine_memo *m = NULL;
	struct engine_memo_stats st;

	(void) state;
	if (snapshot_load_buf(snap, sizeof(snap) - 1, "noclass", &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(engine_memo_new(c, NULL, &m), 0);
	for (size_t i = 0; i < c->n_pods; i++)
		assert_int_equal(engine_memo_pod_class(m, i) != 0,
				 strcmp(c->pods[i].name, "h") != 0);
	assert_int_not_equal(
		engine_memo_pod_class(m, (size_t) (cluster_pod_find(c, "x", "w1") - c->pods)),
		engine_memo_pod_class(m, (size_t) (cluster_pod_find(c, "x", "w2") - c->pods)));
	assert_int_equal(
		engine_memo_pod_class(m, (size_t) (cluster_pod_find(c, "x", "w1") - c->pods)),
		engine_memo_pod_class(m, (size_t) (cluster_pod_find(c, "x", "w3") - c->pods)));
	engine_memo_stats(m, &st);
	assert_int_equal(st.n_classes, 2);
	engine_memo_free(m);
	cluster_free(c);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_node),
		cmocka_unit_test(ipblock_classes),
		cmocka_unit_test(differential),
		cmocka_unit_test(given_policies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
