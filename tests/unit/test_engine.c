/*
 * unit.engine: the NetworkPolicy engine against the hand-written cases of
 * tests/data/netpol-cases (every cell of every probe, see
 * docs/netpol-cases.md), plus focused tests for what the e2e model does not
 * reach: host-network pods, node traffic, external addresses, dual stack,
 * named ports, explanations.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
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
#include "proto.h"
#include "snapshot.h"
#include "testutil.h"

#define CASES_DIR BH_TEST_DATA "/netpol-cases"
#define MODEL CASES_DIR "/model.json"
#define N_MODEL 9

static const char *const model_pods[N_MODEL] = { "x/a", "x/b", "x/c", "y/a", "y/b",
						 "y/c", "z/a", "z/b", "z/c" };

static const struct {
	const char *name;
	uint8_t proto;
	uint16_t port;
} probes[] = {
	{ "TCP/80", IPPROTO_TCP, 80 },	 { "TCP/81", IPPROTO_TCP, 81 },
	{ "UDP/80", IPPROTO_UDP, 80 },	 { "UDP/81", IPPROTO_UDP, 81 },
	{ "SCTP/80", IPPROTO_SCTP, 80 }, { "SCTP/81", IPPROTO_SCTP, 81 },
};
#define N_PROBES BH_ARRAY_SIZE(probes)

/* Pattern "x/<any>" against "x/a": either part may be "*". */
static bool pattern_matches(const char *pat, const char *pod)
{
	const char *ps = strchr(pat, '/'), *ds = strchr(pod, '/');

	if (!ps || !ds)
		fail_msg("bad pattern '%s' (want NS/POD, '*' for any)", pat);
	if (!(ps - pat == 1 && pat[0] == '*') &&
	    ((size_t) (ps - pat) != (size_t) (ds - pod) || strncmp(pat, pod, ds - pod) != 0))
		return false;
	return strcmp(ps + 1, "*") == 0 || strcmp(ps + 1, ds + 1) == 0;
}

/* Fills want[from][to] from one expectation entry. */
static void expect_fill(const char *file, json_t *entry, bool want[N_MODEL][N_MODEL])
{
	json_t *def = json_object_get(entry, "default"), *rules = json_object_get(entry, "rules");
	size_t k;
	json_t *rule;

	if (!json_is_boolean(def) || !json_is_array(rules))
		fail_msg("%s: expect entry needs a boolean 'default' and a 'rules' array", file);
	for (size_t i = 0; i < N_MODEL; i++)
		for (size_t j = 0; j < N_MODEL; j++)
			want[i][j] = json_is_true(def);
	json_array_foreach(rules, k, rule) {
		const char *from = json_string_value(json_array_get(rule, 0));
		const char *to = json_string_value(json_array_get(rule, 1));
		json_t *allow = json_array_get(rule, 2);

		if (!from || !to || !json_is_boolean(allow) || json_array_size(rule) != 3)
			fail_msg("%s: rule %zu: want [FROM, TO, BOOL]", file, k);
		for (size_t i = 0; i < N_MODEL; i++)
			for (size_t j = 0; j < N_MODEL; j++)
				if (pattern_matches(from, model_pods[i]) &&
				    pattern_matches(to, model_pods[j]))
					want[i][j] = json_is_true(allow);
	}
}

static size_t probe_lookup(const char *file, const char *name)
{
	for (size_t p = 0; p < N_PROBES; p++)
		if (strcmp(probes[p].name, name) == 0)
			return p;
	fail_msg("%s: unknown probe '%s'", file, name);
	return 0;
}

static bool case_has_ipblock(const struct cluster *c)
{
	for (size_t k = 0; k < c->n_policies; k++)
		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			for (size_t r = 0; r < c->policies[k].n_rules[d]; r++)
				for (size_t q = 0; q < c->policies[k].rules[d][r].n_peers; q++)
					if (c->policies[k].rules[d][r].peers[q].kind ==
					    NETPOL_PEER_IPBLOCK)
						return true;
	return false;
}

/*
 * Checks every cell of one case; returns the number of cells checked.  The
 * expectation is read straight from the file; the engine's answer comes from
 * engine_allowed() per cell and engine_matrix() for the whole table.
 */
static size_t case_check(const char *file)
{
	const char *paths[] = { MODEL, file };
	struct cluster *c = NULL;
	struct engine *e = NULL;
	struct bh_err err = { 0 };
	json_error_t jerr;
	json_t *doc, *expect, *entry;
	size_t idx[N_MODEL], k, cells = 0;
	int covered[2][N_PROBES] = { { 0 } };
	static bool want[2][N_PROBES][N_MODEL][N_MODEL];
	bool got[N_MODEL * N_MODEL];

	if (snapshot_load_files(paths, 2, &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(engine_new(c, &e), 0);
	for (size_t i = 0; i < N_MODEL; i++) {
		char ns[2] = { model_pods[i][0], 0 };
		const struct pod *p = cluster_pod_find(c, ns, model_pods[i] + 2);

		assert_non_null(p);
		idx[i] = (size_t) (p - c->pods);
	}

	doc = json_load_file(file, 0, &jerr);
	if (!doc)
		fail_msg("%s:%d: %s", file, jerr.line, jerr.text);
	expect = json_object_get(doc, "expect");
	if (!json_is_array(expect) || json_array_size(expect) == 0)
		fail_msg("%s: no 'expect' array", file);

	json_array_foreach(expect, k, entry) {
		json_t *jprobes = json_object_get(entry, "probes");
		const char *fam = json_string_value(json_object_get(entry, "family"));
		int f = 0;
		bool table[N_MODEL][N_MODEL];
		size_t sel[N_PROBES], n_sel = 0;

		if (fam && strcmp(fam, "IPv6") == 0)
			f = 1;
		else if (fam && strcmp(fam, "IPv4") != 0)
			fail_msg("%s: family '%s' (want IPv4 or IPv6)", file, fam);
		if (json_is_string(jprobes) && strcmp(json_string_value(jprobes), "*") == 0) {
			for (size_t p = 0; p < N_PROBES; p++)
				sel[n_sel++] = p;
		} else if (json_is_array(jprobes)) {
			size_t q;
			json_t *jp;

			json_array_foreach(jprobes, q, jp) {
				if (!json_is_string(jp) || n_sel >= N_PROBES)
					fail_msg("%s: bad probes list", file);
				sel[n_sel++] = probe_lookup(file, json_string_value(jp));
			}
		} else {
			fail_msg("%s: expect[%zu]: 'probes' must be \"*\" or a list", file, k);
		}
		expect_fill(file, entry, table);
		for (size_t s = 0; s < n_sel; s++) {
			covered[f][sel[s]]++;
			memcpy(want[f][sel[s]], table, sizeof(table));
		}
	}
	/* Every IPv4 probe exactly once; IPv6 probes all once, or none when
	 * the case has no ipBlock: then IPv6 tables are the IPv4 ones. */
	for (size_t p = 0; p < N_PROBES; p++) {
		if (covered[0][p] != 1)
			fail_msg("%s: IPv4 probe %s is covered %d times (want once)", file,
				 probes[p].name, covered[0][p]);
		if (covered[1][p] != covered[1][0] || covered[1][p] > 1)
			fail_msg("%s: IPv6 probes must be covered all once or not at all", file);
	}
	if (!covered[1][0]) {
		if (case_has_ipblock(c))
			fail_msg("%s: a case with an ipBlock needs IPv6 expectations", file);
		memcpy(want[1], want[0], sizeof(want[0]));
	}

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		for (size_t p = 0; p < N_PROBES; p++) {
			engine_matrix(e, idx, N_MODEL, idx, N_MODEL, family, probes[p].proto,
				      probes[p].port, got);
			for (size_t i = 0; i < N_MODEL; i++) {
				for (size_t j = 0; j < N_MODEL; j++) {
					struct engine_ep a, b;
					bool one;

					engine_ep_pod(e, &c->pods[idx[i]], family, &a);
					engine_ep_pod(e, &c->pods[idx[j]], family, &b);
					one = engine_allowed(e, &a, &b, probes[p].proto,
							     probes[p].port);
					if (one != got[i * N_MODEL + j])
						fail_msg("%s: engine_matrix and engine_allowed "
							 "disagree on %s -> %s",
							 file, model_pods[i], model_pods[j]);
					if (one != want[f][p][i][j])
						fail_msg("%s: %s %s: %s -> %s: expected %s, "
							 "engine says %s",
							 file, f ? "IPv6" : "IPv4", probes[p].name,
							 model_pods[i], model_pods[j],
							 want[f][p][i][j] ? "allowed" : "denied",
							 one ? "allowed" : "denied");
					cells++;
				}
			}
		}
	}
	json_decref(doc);
	engine_free(e);
	cluster_free(c);
	return cells;
}

struct pod_set {
	size_t n;
	size_t v[64];
};

static void collect_cb(size_t pod_idx, void *userdata)
{
	struct pod_set *s = userdata;

	assert_true(s->n < BH_ARRAY_SIZE(s->v));
	s->v[s->n++] = pod_idx;
}

/* engine_peer_for_each_pod() lists exactly the pods for which
 * engine_peer_selects_pod() holds, in cluster order. */
static void peer_pods_agree(const char *file)
{
	const char *paths[] = { MODEL, file };
	struct cluster *c = NULL;
	struct engine *e = NULL;
	struct bh_err err = { 0 };

	if (snapshot_load_files(paths, 2, &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(engine_new(c, &e), 0);
	for (size_t k = 0; k < c->n_policies; k++) {
		const struct netpol *p = &c->policies[k];

		for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
			for (size_t r = 0; r < p->n_rules[d]; r++) {
				for (size_t q = 0; q < p->rules[d][r].n_peers; q++) {
					const struct netpol_peer *peer = &p->rules[d][r].peers[q];
					struct pod_set got = { 0 }, want = { 0 };

					engine_peer_for_each_pod(e, p, peer, collect_cb, &got);
					for (size_t i = 0; i < c->n_pods; i++)
						if (engine_peer_selects_pod(e, p, peer, i))
							collect_cb(i, &want);
					if (got.n != want.n ||
					    memcmp(got.v, want.v, got.n * sizeof(size_t)) != 0)
						fail_msg("%s: policy %s/%s rule %zu peer %zu: "
							 "for_each_pod lists %zu pods, "
							 "selects_pod %zu",
							 file, p->ns, p->name, r, q, got.n, want.n);
				}
			}
		}
	}
	engine_free(e);
	cluster_free(c);
}

static void netpol_case(void **state)
{
	size_t cells = case_check(*state);

	assert_int_equal(cells, 2 * N_PROBES * N_MODEL * N_MODEL);
	peer_pods_agree(*state);
}

/* ---- focused tests ------------------------------------------------------ */

/*
 * The model plus @objs (NULL-terminated Kubernetes objects written with
 * single quotes for readability; they become double quotes).
 */
static struct cluster *model_with(const char *const *objs)
{
	const char *paths[] = { MODEL };
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	struct buf b;

	if (snapshot_load_files(paths, 1, &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	if (!objs)
		return c;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_printf(&b, "{'apiVersion':'v1','kind':'List','items':["), 0);
	for (size_t i = 0; objs[i]; i++)
		assert_int_equal(buf_printf(&b, "%s%s", i ? "," : "", objs[i]), 0);
	assert_int_equal(buf_printf(&b, "]}"), 0);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\'')
			b.data[i] = '"';
	if (snapshot_merge_buf(c, b.data, b.len, "extra", NULL, &err) < 0)
		fail_msg("%s", err.msg);
	buf_done(&b);
	return c;
}

static void ep_of(struct engine *e, const char *ns, const char *name, int family,
		  struct engine_ep *ret)
{
	const struct pod *p = cluster_pod_find(engine_cluster(e), ns, name);

	assert_non_null(p);
	engine_ep_pod(e, p, family, ret);
}

static void ep_ip(struct engine *e, const char *ip, struct engine_ep *ret)
{
	struct addr a = addr_lit(ip);

	engine_ep_addr(e, &a, ret);
}

static size_t pod_idx(struct engine *e, const char *ns, const char *name)
{
	struct cluster *c = engine_cluster(e);
	const struct pod *p = cluster_pod_find(c, ns, name);

	assert_non_null(p);
	return (size_t) (p - c->pods);
}

#define POLICY(ns, name, spec)                                         \
	"{'apiVersion':'networking.k8s.io/v1','kind':'NetworkPolicy'," \
	"'metadata':{'name':'" name "','namespace':'" ns "'},'spec':" spec "}"
#define NODE2                                                            \
	"{'apiVersion':'v1','kind':'Node','metadata':{'name':'node-2'}," \
	"'status':{'addresses':[{'type':'InternalIP','address':'10.100.0.2'}]}}"
/* A host-network pod of namespace x. */
#define HOST_POD(name, node, ip)                                                          \
	"{'apiVersion':'v1','kind':'Pod','metadata':{'name':'" name "','namespace':'x',"  \
	"'labels':{'pod':'" name "'}},'spec':{'nodeName':'" node "','hostNetwork':true}," \
	"'status':{'podIP':'" ip "'}}"

static void host_network_pods(void **state)
{
	/* Everything in x is isolated for both directions and allows only the
	 * pods of x (an empty podSelector), which never covers host-network
	 * pods. */
	static const char *const same_ns[] = {
		NODE2,
		HOST_POD("h1", "node-1", "10.100.0.1"),
		HOST_POD("h2", "node-2", "10.100.0.2"),
		POLICY("x", "same-ns",
		       "{'podSelector':{},'ingress':[{'from':[{'podSelector':{}}]}],"
		       "'egress':[{'to':[{'podSelector':{}}]}]}"),
		NULL,
	};
	static const char *const from_node2[] = {
		NODE2,
		HOST_POD("h2", "node-2", "10.100.0.2"),
		POLICY("x", "from-node-2",
		       "{'podSelector':{},'ingress':[{'from':[{'ipBlock':{'cidr':'10.100.0.2/32'}}]}]}"),
		NULL,
	};
	static const char *const no_node[] = {
		HOST_POD("h3", "node-1", "10.100.0.3"),
		POLICY("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress']}"),
		NULL,
	};
	struct cluster *c = model_with(same_ns);
	struct engine *e = NULL;
	struct engine_ep xa, xb, h1, h2;
	struct engine_result res;

	(void) state;
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_of(e, "x", "b", AF_INET, &xb);
	ep_of(e, "x", "h1", AF_INET, &h1);
	ep_of(e, "x", "h2", AF_INET, &h2);
	assert_null(h1.pod);
	assert_string_equal(h1.node, "node-1");

	/* Not isolated although the policy's podSelector is empty. */
	assert_false(engine_pod_isolated(e, pod_idx(e, "x", "h1"), NETPOL_INGRESS));
	assert_false(engine_pod_isolated(e, pod_idx(e, "x", "h2"), NETPOL_EGRESS));
	assert_true(engine_pod_isolated(e, pod_idx(e, "x", "a"), NETPOL_INGRESS));

	assert_true(engine_allowed(e, &xb, &xa, IPPROTO_TCP, 80));
	/* h1 shares the address of x/a's node: local node, always allowed. */
	assert_true(engine_allowed(e, &h1, &xa, IPPROTO_TCP, 80));
	assert_int_equal(engine_explain(e, &h1, &xa, IPPROTO_TCP, 80, &res), 0);
	assert_int_equal(res.dir[NETPOL_INGRESS].reason, ENGINE_REASON_LOCAL_NODE);
	assert_int_equal(res.dir[NETPOL_EGRESS].reason, ENGINE_REASON_NOT_POD);
	engine_result_done(&res);
	/* h2 runs elsewhere and an empty podSelector does not select it. */
	assert_false(engine_allowed(e, &h2, &xa, IPPROTO_TCP, 80));
	/* x/a's egress allows pods of x only; h2 is an address. */
	assert_false(engine_allowed(e, &xa, &h2, IPPROTO_TCP, 80));
	/* Resolving h2's address finds the node, not a pod. */
	ep_ip(e, "10.100.0.2", &h2);
	assert_null(h2.pod);
	assert_string_equal(h2.node, "node-2");
	assert_false(engine_allowed(e, &h2, &xa, IPPROTO_TCP, 80));
	engine_free(e);
	cluster_free(c);

	/* Without Node objects, a host-network pod's address still names its
	 * node: h3 on node-1 at an address no Node object lists. */
	c = model_with(no_node);
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_ip(e, "10.100.0.3", &h1);
	assert_null(h1.pod);
	assert_string_equal(h1.node, "node-1");
	assert_true(engine_allowed(e, &h1, &xa, IPPROTO_TCP, 80));
	ep_ip(e, "10.100.0.4", &h1);
	assert_null(h1.node);
	assert_false(engine_allowed(e, &h1, &xa, IPPROTO_TCP, 80));
	engine_free(e);
	cluster_free(c);

	/* An ipBlock covering node-2 lets h2 in. */
	c = model_with(from_node2);
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_of(e, "x", "h2", AF_INET, &h2);
	assert_true(engine_allowed(e, &h2, &xa, IPPROTO_TCP, 80));
	ep_of(e, "x", "b", AF_INET, &xb);
	assert_false(engine_allowed(e, &xb, &xa, IPPROTO_TCP, 80));
	engine_free(e);
	cluster_free(c);
}

static void node_traffic(void **state)
{
	static const char *const objs[] = {
		NODE2,
		POLICY("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress','Egress']}"),
		NULL,
	};
	struct cluster *c = model_with(objs);
	struct engine *e = NULL;
	struct engine_ep xa, n1, n1v6, n2;

	(void) state;
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_ip(e, "10.100.0.1", &n1);
	ep_ip(e, "fd00:100::1", &n1v6);
	ep_ip(e, "10.100.0.2", &n2);
	assert_string_equal(n1.node, "node-1");
	assert_string_equal(n1v6.node, "node-1");
	/* kubelet probes: the pod's own node always gets in, over both
	 * families, every protocol. */
	assert_true(engine_allowed(e, &n1, &xa, IPPROTO_TCP, 80));
	assert_true(engine_allowed(e, &n1v6, &xa, IPPROTO_SCTP, 81));
	/* Another node does not. */
	assert_false(engine_allowed(e, &n2, &xa, IPPROTO_TCP, 80));
	/* The exception is for ingress only: x/a's egress to its node is
	 * denied like any address. */
	assert_false(engine_allowed(e, &xa, &n1, IPPROTO_TCP, 80));
	engine_free(e);
	cluster_free(c);
}

static void external_addresses(void **state)
{
	static const char *const objs[] = {
		POLICY("x", "a-from-selectors",
		       "{'podSelector':{'matchLabels':{'pod':'a'}},"
		       "'ingress':[{'from':[{'podSelector':{}},{'namespaceSelector':{}}]}]}"),
		POLICY("x", "b-from-net",
		       "{'podSelector':{'matchLabels':{'pod':'b'}},"
		       "'ingress':[{'from':[{'ipBlock':{'cidr':'203.0.113.0/24',"
		       "'except':['203.0.113.128/25']}}]}]}"),
		POLICY("x", "c-from-all",
		       "{'podSelector':{'matchLabels':{'pod':'c'}},'ingress':[{}]}"),
		POLICY("y", "egress-to-all-pods",
		       "{'podSelector':{},'egress':[{'to':[{'namespaceSelector':{}}]}],"
		       "'policyTypes':['Egress']}"),
		NULL,
	};
	struct cluster *c = model_with(objs);
	struct engine *e = NULL;
	struct engine_ep xa, xb, xc, ya, ext, ext2, unknown;

	(void) state;
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_of(e, "x", "b", AF_INET, &xb);
	ep_of(e, "x", "c", AF_INET, &xc);
	ep_of(e, "y", "a", AF_INET, &ya);
	ep_ip(e, "203.0.113.7", &ext);
	ep_ip(e, "203.0.113.200", &ext2);
	ep_ip(e, "198.51.100.1", &unknown);
	assert_null(ext.pod);
	assert_null(ext.node);

	/* Selectors, even empty ones, never match an address. */
	assert_false(engine_allowed(e, &ext, &xa, IPPROTO_TCP, 80));
	assert_true(engine_allowed(e, &ya, &xa, IPPROTO_TCP, 80));
	/* ipBlock with except. */
	assert_true(engine_allowed(e, &ext, &xb, IPPROTO_TCP, 80));
	assert_false(engine_allowed(e, &ext2, &xb, IPPROTO_TCP, 80));
	assert_false(engine_allowed(e, &unknown, &xb, IPPROTO_UDP, 81));
	/* A rule without peers admits addresses too. */
	assert_true(engine_allowed(e, &unknown, &xc, IPPROTO_UDP, 81));
	/* Egress to every pod of every namespace excludes addresses. */
	assert_true(engine_allowed(e, &ya, &xc, IPPROTO_TCP, 80));
	assert_false(engine_allowed(e, &ya, &unknown, IPPROTO_TCP, 80));
	/* An unknown address as destination has no ingress policy. */
	assert_true(engine_allowed(e, &xa, &unknown, IPPROTO_TCP, 80));
	/* A pod address resolves to the pod (and its policies). */
	ep_ip(e, "10.200.0.2", &ext);
	assert_ptr_equal(ext.pod, xb.pod);
	engine_free(e);
	cluster_free(c);
}

static void dual_stack(void **state)
{
	static const char *const objs[] = {
		POLICY("x", "from-y-v6-but-b",
		       "{'podSelector':{},'ingress':[{'from':[{'ipBlock':{'cidr':"
		       "'fd00:200:0:1::/64','except':['fd00:200:0:1::2/128']}}]}]}"),
		NULL,
	};
	struct cluster *c = model_with(objs);
	struct engine *e = NULL;
	struct engine_ep xa6, ya6, yb6, ya4, yb_addr;

	(void) state;
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET6, &xa6);
	ep_of(e, "y", "a", AF_INET6, &ya6);
	ep_of(e, "y", "b", AF_INET6, &yb6);
	ep_of(e, "y", "a", AF_INET, &ya4);
	assert_int_equal(ya6.addr.family, AF_INET6);
	assert_true(engine_allowed(e, &ya6, &xa6, IPPROTO_TCP, 80));
	assert_false(engine_allowed(e, &yb6, &xa6, IPPROTO_TCP, 80));
	/* The same pod over IPv4 is outside an IPv6 block. */
	assert_false(engine_allowed(e, &ya4, &xa6, IPPROTO_TCP, 80));
	/* An IPv6 address resolves to its pod. */
	ep_ip(e, "fd00:200:0:1::2", &yb_addr);
	assert_non_null(yb_addr.pod);
	assert_string_equal(yb_addr.pod->name, "b");
	assert_false(engine_allowed(e, &yb_addr, &xa6, IPPROTO_UDP, 81));
	engine_free(e);
	cluster_free(c);
}

static void named_ports(void **state)
{
	struct cluster *c = model_with(NULL);
	const struct pod *xa = cluster_pod_find(c, "x", "a");
	struct netpol_port pp = {
		.protocol = IPPROTO_TCP,
		.kind = NETPOL_PORT_NAME,
		.name = (char *) "serve-80-tcp",
	};

	(void) state;
	assert_non_null(xa);
	assert_true(engine_port_matches(&pp, xa, IPPROTO_TCP, 80));
	assert_false(engine_port_matches(&pp, xa, IPPROTO_TCP, 81));
	/* The name exists, but as TCP: a UDP port entry does not resolve. */
	pp.protocol = IPPROTO_UDP;
	assert_false(engine_port_matches(&pp, xa, IPPROTO_UDP, 80));
	assert_false(engine_port_matches(&pp, xa, IPPROTO_TCP, 80));
	pp.name = (char *) "serve-80-udp";
	assert_true(engine_port_matches(&pp, xa, IPPROTO_UDP, 80));
	/* No destination pod: named ports never match. */
	assert_false(engine_port_matches(&pp, NULL, IPPROTO_UDP, 80));
	/* Unknown name. */
	pp.name = (char *) "http";
	assert_false(engine_port_matches(&pp, xa, IPPROTO_UDP, 80));

	/* Ranges and protocol-only entries. */
	pp = (struct netpol_port){ .protocol = IPPROTO_SCTP, .kind = NETPOL_PORT_NUMBER };
	pp.port = 80;
	pp.end_port = 81;
	assert_true(engine_port_matches(&pp, NULL, IPPROTO_SCTP, 81));
	assert_false(engine_port_matches(&pp, NULL, IPPROTO_SCTP, 82));
	assert_false(engine_port_matches(&pp, NULL, IPPROTO_TCP, 80));
	pp.kind = NETPOL_PORT_ANY;
	assert_true(engine_port_matches(&pp, NULL, IPPROTO_SCTP, 65535));
	cluster_free(c);
}

static void explain_names_policies_and_rules(void **state)
{
	static const char *const objs[] = {
		POLICY("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress']}"),
		POLICY("x", "a-from-b",
		       "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':["
		       "{'from':[{'podSelector':{'matchLabels':{'pod':'c'}}}]},"
		       "{'from':[{'podSelector':{'matchLabels':{'pod':'b'}}}],'ports':[{'port':80}]}]}"),
		POLICY("y", "egress-y", "{'podSelector':{},'policyTypes':['Egress']}"),
		NULL,
	};
	struct cluster *c = model_with(objs);
	struct engine *e = NULL;
	struct engine_ep xa, xb, ya;
	struct engine_result res;
	const struct netpol *p;

	(void) state;
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "x", "a", AF_INET, &xa);
	ep_of(e, "x", "b", AF_INET, &xb);
	ep_of(e, "y", "a", AF_INET, &ya);

	assert_int_equal(engine_explain(e, &xb, &xa, IPPROTO_TCP, 80, &res), 0);
	assert_true(res.allowed);
	assert_int_equal(res.dir[NETPOL_EGRESS].reason, ENGINE_REASON_NOT_ISOLATED);
	assert_true(res.dir[NETPOL_INGRESS].isolated);
	assert_int_equal(res.dir[NETPOL_INGRESS].n_isolating, 2);
	assert_int_equal(res.dir[NETPOL_INGRESS].reason, ENGINE_REASON_RULE);
	assert_int_equal(res.dir[NETPOL_INGRESS].n_allowing, 1);
	p = &c->policies[res.dir[NETPOL_INGRESS].allowing[0].policy];
	assert_string_equal(p->name, "a-from-b");
	assert_int_equal(res.dir[NETPOL_INGRESS].allowing[0].rule, 1);
	engine_result_done(&res);

	/* Port 81: the same rule does not apply; denied, with both isolating
	 * policies named. */
	assert_int_equal(engine_explain(e, &xb, &xa, IPPROTO_TCP, 81, &res), 0);
	assert_false(res.allowed);
	assert_int_equal(res.dir[NETPOL_INGRESS].reason, ENGINE_REASON_NO_RULE);
	assert_int_equal(res.dir[NETPOL_INGRESS].n_allowing, 0);
	assert_string_equal(c->policies[res.dir[NETPOL_INGRESS].isolating[0]].name, "a-from-b");
	assert_string_equal(c->policies[res.dir[NETPOL_INGRESS].isolating[1]].name, "deny-all");
	engine_result_done(&res);

	/* Denied on both sides. */
	assert_int_equal(engine_explain(e, &ya, &xa, IPPROTO_TCP, 80, &res), 0);
	assert_false(res.allowed);
	assert_false(res.dir[NETPOL_EGRESS].allowed);
	assert_false(res.dir[NETPOL_INGRESS].allowed);
	assert_int_equal(res.dir[NETPOL_EGRESS].n_isolating, 1);
	engine_result_done(&res);
	engine_free(e);
	cluster_free(c);
}

static void missing_namespace_object(void **state)
{
	static const char *const objs[] = {
		"{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a','namespace':'w',"
		"'labels':{'pod':'a'}},'spec':{'nodeName':'node-1'},"
		"'status':{'podIP':'10.200.9.1'}}",
		POLICY("x", "from-w",
		       "{'podSelector':{},'ingress':[{'from':[{'namespaceSelector':"
		       "{'matchLabels':{'kubernetes.io/metadata.name':'w'}}}]}]}"),
		NULL,
	};
	struct cluster *c = model_with(objs);
	struct engine *e = NULL;
	struct engine_ep wa, ya, xa;
	const struct labels *l;

	(void) state;
	assert_null(cluster_ns_find(c, "w"));
	assert_int_equal(engine_new(c, &e), 0);
	ep_of(e, "w", "a", AF_INET, &wa);
	ep_of(e, "y", "a", AF_INET, &ya);
	ep_of(e, "x", "a", AF_INET, &xa);
	l = engine_pod_ns_labels(e, pod_idx(e, "w", "a"));
	assert_string_equal(labels_get(l, "kubernetes.io/metadata.name"), "w");
	assert_true(engine_allowed(e, &wa, &xa, IPPROTO_TCP, 80));
	assert_false(engine_allowed(e, &ya, &xa, IPPROTO_TCP, 80));
	engine_free(e);
	cluster_free(c);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int main(void)
{
	static const struct CMUnitTest focused[] = {
		cmocka_unit_test(host_network_pods),
		cmocka_unit_test(node_traffic),
		cmocka_unit_test(external_addresses),
		cmocka_unit_test(dual_stack),
		cmocka_unit_test(named_ports),
		cmocka_unit_test(explain_names_policies_and_rules),
		cmocka_unit_test(missing_namespace_object),
	};
	struct CMUnitTest *cases = NULL;
	char **files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(CASES_DIR);
	int failed;

	if (!d) {
		fprintf(stderr, "cannot open %s\n", CASES_DIR);
		return 1;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char path[1024];

		if (len < 8 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    strcmp(de->d_name, "model.json") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			files = realloc(files, cap * sizeof(*files));
			if (!files)
				return 1;
		}
		snprintf(path, sizeof(path), "%s/%s", CASES_DIR, de->d_name);
		files[n] = strdup(path);
		if (!files[n])
			return 1;
		n++;
	}
	closedir(d);
	/* The acceptance bar: at least 45 cases with full truth tables. */
	if (n < 45) {
		fprintf(stderr, "only %zu cases in %s (want >= 45)\n", n, CASES_DIR);
		return 1;
	}
	qsort(files, n, sizeof(*files), name_cmp);
	cases = calloc(n, sizeof(*cases));
	if (!cases)
		return 1;
	for (size_t i = 0; i < n; i++)
		cases[i] = (struct CMUnitTest){
			.name = strrchr(files[i], '/') + 1,
			.test_func = netpol_case,
			.initial_state = files[i],
		};
	failed = _cmocka_run_group_tests("netpol-cases", cases, n, NULL, NULL);
	failed += cmocka_run_group_tests(focused, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(cases);
	return failed ? 1 : 0;
}
