#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "kube_object.h"
#include "netpol_emit.h"
#include "snapshot.h"
#include "testutil.h"

static struct cluster *load_ok(const char *json)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	int r = snapshot_load_buf(json, strlen(json), "test", &c, NULL, &err);

	if (r < 0)
		fail_msg("unexpected error: %s", err.msg);
	return c;
}

static void example_app(void **state)
{
	const char *paths[] = { BH_SOURCE_DIR "/examples/shop.json" };
	struct snapshot_stats st = { 0 };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;
	const struct pod *p;
	const struct netpol *np;
	struct addr a = addr_lit("10.244.1.12");

	(void) state;
	assert_int_equal(snapshot_load_files(paths, 1, &c, &st, &err), 0);
	assert_int_equal(c->n_ns, 3);
	assert_int_equal(c->n_pods, 11);
	assert_int_equal(c->n_policies, 7);
	assert_int_equal(c->n_nodes, 2);
	assert_int_equal(st.skipped, 0);

	p = cluster_pod_find(c, "shop", "api-6d4b7c9f8-klmno");
	assert_non_null(p);
	assert_string_equal(p->owner.kind, "ReplicaSet");
	assert_string_equal(p->owner.name, "api-6d4b7c9f8");
	assert_string_equal(p->node, "node-1");
	assert_string_equal(labels_get(&p->labels, "app"), "api");
	assert_int_equal(p->n_ports, 2);
	assert_string_equal(p->ports[1].name, "metrics");
	assert_int_equal(p->ports[1].port, 9090);
	assert_int_equal(p->ports[1].protocol, IPPROTO_TCP);
	assert_int_equal(p->created, 1795165200); /* 2026-11-20T09:00:00Z */

	assert_string_equal(cluster_pod_by_addr(c, &a)->name, "postgres-0");
	assert_string_equal(labels_get(&cluster_ns_find(c, "shop")->labels,
				       "kubernetes.io/metadata.name"),
			    "shop");

	np = cluster_policy_find(c, "shop", "default-deny-ingress");
	assert_non_null(np);
	assert_true(np->types[NETPOL_INGRESS]);
	assert_false(np->types[NETPOL_EGRESS]);
	assert_int_equal(np->n_rules[NETPOL_INGRESS], 0);
	assert_true(selector_is_empty(&np->pod_sel));

	np = cluster_policy_find(c, "shop", "frontend-from-anywhere");
	assert_int_equal(np->n_rules[NETPOL_INGRESS], 1);
	assert_int_equal(np->rules[NETPOL_INGRESS][0].n_peers, 0); /* from absent: all */
	assert_int_equal(np->rules[NETPOL_INGRESS][0].ports[0].kind, NETPOL_PORT_NAME);
	assert_string_equal(np->rules[NETPOL_INGRESS][0].ports[0].name, "http");

	np = cluster_policy_find(c, "shop", "worker-egress");
	assert_false(np->types[NETPOL_INGRESS]);
	assert_true(np->types[NETPOL_EGRESS]);
	assert_int_equal(np->n_rules[NETPOL_EGRESS], 3);
	const struct netpol_peer *ipb = &np->rules[NETPOL_EGRESS][2].peers[0];
	assert_int_equal(ipb->kind, NETPOL_PEER_IPBLOCK);
	assert_int_equal(ipb->cidr.plen, 24);
	assert_int_equal(ipb->n_except, 1);
	assert_int_equal(ipb->except[0].plen, 25);
	const struct netpol_peer *dns = &np->rules[NETPOL_EGRESS][1].peers[0];
	assert_non_null(dns->ns_sel);
	assert_non_null(dns->pod_sel);
	assert_int_equal(np->rules[NETPOL_EGRESS][1].ports[0].protocol, IPPROTO_UDP);

	np = cluster_policy_find(c, "shop", "postgres-from-backend");
	assert_int_equal(np->rules[NETPOL_INGRESS][0].peers[0].pod_sel->n_reqs, 1);
	assert_null(np->rules[NETPOL_INGRESS][0].peers[0].ns_sel);
	cluster_free(c);
}

static void defaulting_and_peers(void **state)
{
	struct cluster *c = load_ok(
		"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		"\"metadata\":{\"name\":\"p\",\"namespace\":\"x\"},"
		"\"spec\":{\"podSelector\":{},"
		"\"egress\":[{\"to\":[{\"namespaceSelector\":{}}],"
		"\"ports\":[{\"protocol\":\"SCTP\",\"port\":80,\"endPort\":90},{\"protocol\":\"UDP\"}]}]}}");
	const struct netpol *np = &c->policies[0];
	const struct netpol_rule *r = &np->rules[NETPOL_EGRESS][0];

	(void) state;
	/* no policyTypes: Ingress always, Egress because egress rules exist */
	assert_true(np->types[NETPOL_INGRESS]);
	assert_true(np->types[NETPOL_EGRESS]);
	assert_int_equal(r->n_peers, 1);
	assert_null(r->peers[0].pod_sel); /* absent */
	assert_non_null(r->peers[0].ns_sel); /* present and empty */
	assert_true(selector_is_empty(r->peers[0].ns_sel));
	assert_int_equal(r->ports[0].protocol, IPPROTO_SCTP);
	assert_int_equal(r->ports[0].port, 80);
	assert_int_equal(r->ports[0].end_port, 90);
	assert_int_equal(r->ports[1].kind, NETPOL_PORT_ANY);
	assert_int_equal(r->ports[1].protocol, IPPROTO_UDP);
	cluster_free(c);

	/* an empty egress list does not turn Egress on (len > 0 in upstream) */
	c = load_ok("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		    "\"metadata\":{\"name\":\"p\",\"namespace\":\"x\"},"
		    "\"spec\":{\"podSelector\":{},\"egress\":[]}}");
	assert_false(c->policies[0].types[NETPOL_EGRESS]);
	cluster_free(c);
}

static void dual_stack_host_network_and_kinds(void **state)
{
	struct snapshot_stats st = { 0 };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;
	const char *json =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},"
		"\"spec\":{\"nodeName\":\"n1\"},"
		"\"status\":{\"podIP\":\"10.0.0.1\",\"podIPs\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"fd00::1\"}]}}\n"
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"h\",\"namespace\":\"x\"},"
		"\"spec\":{\"hostNetwork\":true},\"status\":{\"podIP\":\"192.168.1.5\"}}\n"
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}\n"
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DeploymentList\",\"items\":[]}\n";
	struct addr v6 = addr_lit("fd00::1"), host = addr_lit("192.168.1.5");

	(void) state;
	assert_int_equal(snapshot_load_buf(json, strlen(json), "t", &c, &st, &err), 0);
	assert_int_equal(c->n_pods, 2);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(c->pods[0].n_ips, 2);
	assert_string_equal(cluster_pod_by_addr(c, &v6)->name, "a");
	assert_true(cluster_pod_find(c, "x", "h")->host_network);
	assert_null(cluster_pod_by_addr(c, &host)); /* host-network: not a pod address */
	cluster_free(c);
}

static void later_files_win_and_merge_is_atomic(void **state)
{
	const char *v1 = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
			 "\"metadata\":{\"name\":\"x\",\"labels\":{\"v\":\"1\"}}}";
	const char *v2 = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
			 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
			 "\"metadata\":{\"name\":\"x\",\"labels\":{\"v\":\"2\"}}}]}";
	const char *bad =
		"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"y\"}},"
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{}}]}";
	struct bh_err err = { 0 };
	struct cluster *c = load_ok(v1);

	(void) state;
	assert_int_equal(snapshot_merge_buf(c, v2, strlen(v2), "v2", NULL, &err), 0);
	assert_int_equal(c->n_ns, 1);
	assert_string_equal(labels_get(&c->ns[0].labels, "v"), "2");
	assert_int_equal(snapshot_merge_buf(c, bad, strlen(bad), "bad", NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "snapshot 'bad': items[1]: pod: metadata.name: missing"));
	assert_int_equal(c->n_ns, 1); /* namespace y was not half-added */
	cluster_free(c);
}

struct bad_case {
	const char *json;
	const char *want; /* substring of the one-line error */
};

#define POD(spec_status)                                                                                         \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}," spec_status \
	"}"
#define NP(spec)                                                               \
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\"," \
	"\"metadata\":{\"name\":\"p\",\"namespace\":\"x\"},\"spec\":" spec "}"
#define IN1(rule) NP("{\"podSelector\":{},\"ingress\":[" rule "]}")

static const struct bad_case bad_cases[] = {
	{ "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[", "line 1, column 42" },
	{ "{\"apiVersion\":\"v1\",\n\"kind\":\"List\",\n\"items\": [}", "line 3, column" },
	{ "", "empty" },
	{ "[]", "expected a Kubernetes object or List" },
	{ "{\"apiVersion\":\"v1\"}", "kind: expected a string" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[7]}",
	  "items[0]: expected a Kubernetes object" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}", "pod: metadata: missing" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":[]}",
	  "metadata: expected an object, got an array" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":5}}",
	  "metadata.name: expected a string, got an integer" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":1}}}",
	  "namespace 'x': metadata.labels.a: expected a string" },
	{ POD("\"spec\":{\"hostNetwork\":\"yes\"}"),
	  "pod 'x/a': spec.hostNetwork: expected a boolean" },
	{ POD("\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":70000}]}]}"),
	  "spec.containers[0].ports[0].containerPort: expected an integer 1..65535, got 70000" },
	{ POD("\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":99999999999999999999999}]}]}"),
	  "too big integer" },
	{ POD("\"spec\":{\"containers\":[{\"ports\":[{\"name\":\"http\"}]}]}"),
	  "spec.containers[0].ports[0].containerPort: missing" },
	{ POD("\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":80,\"protocol\":\"tcp\"}]}]}"),
	  "ports[0].protocol: expected TCP, UDP or SCTP, got 'tcp'" },
	{ POD("\"status\":{\"podIP\":\"10.0.0.300\"}"),
	  "status.podIP: expected an IPv4 or IPv6 address, got '10.0.0.300'" },
	{ POD("\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"}]}"),
	  "a second IPv4 address" },
	{ POD("\"status\":{\"podIPs\":[\"10.0.0.1\"]}"),
	  "status.podIPs[0].ip: expected an object" },
	{ POD("\"metadata\":{}"), "duplicate object key" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"yesterday\"}}",
	  "metadata.creationTimestamp: expected an RFC 3339 time, got 'yesterday'" },
	{ NP("{}"), "networkpolicy 'x/p': spec.podSelector: missing" },
	{ NP("{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Equals\",\"values\":[\"b\"]}]}}"),
	  "spec.podSelector.matchExpressions[0].operator: expected In, NotIn, Exists or DoesNotExist, got 'Equals'" },
	{ NP("{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}}"),
	  "matchExpressions[0].values: must be non-empty for In" },
	{ NP("{\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}}"),
	  "must be empty for Exists" },
	{ NP("{\"podSelector\":{\"matchLabels\":[]}}"),
	  "spec.podSelector.matchLabels: expected an object" },
	{ NP("{\"podSelector\":{},\"policyTypes\":[\"Both\"]}"),
	  "spec.policyTypes[0]: expected Ingress or Egress, got 'Both'" },
	{ NP("{\"podSelector\":{},\"ingress\":{}}"),
	  "spec.ingress: expected an array, got an object" },
	{ IN1("{\"from\":[{}]}"),
	  "spec.ingress[0].from[0]: must specify podSelector, namespaceSelector or ipBlock" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/33\"}}]}"),
	  "spec.ingress[0].from[0].ipBlock.cidr: expected a CIDR such as 10.0.0.0/8, got '10.0.0.0/33'" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"banana\"}}]}"),
	  "ipBlock.cidr: expected a CIDR" },
	{ IN1("{\"from\":[{\"ipBlock\":{}}]}"), "ipBlock.cidr: missing" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"11.0.0.0/16\"]}}]}"),
	  "ipBlock.except[0]: '11.0.0.0/16' is not a strict subset of cidr '10.0.0.0/8'" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"10.0.0.0/8\"]}}]}"),
	  "is not a strict subset" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[5]}}]}"),
	  "ipBlock.except[0]: expected a CIDR, got an integer" },
	{ IN1("{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"},\"podSelector\":{}}]}"),
	  "ipBlock may not be combined" },
	{ IN1("{\"ports\":[{\"port\":0}]}"),
	  "spec.ingress[0].ports[0].port: expected an integer 1..65535, got 0" },
	{ IN1("{\"ports\":[{\"port\":80,\"endPort\":79}]}"),
	  "ports[0].endPort: must be >= port (80), got 79" },
	{ IN1("{\"ports\":[{\"endPort\":79}]}"),
	  "ports[0].endPort: may not be set without a numeric port" },
	{ IN1("{\"ports\":[{\"port\":\"http\",\"endPort\":90}]}"),
	  "ports[0].endPort: may not be set when port is a name" },
	{ IN1("{\"ports\":[{\"port\":\"a-very-long-port-name\"}]}"),
	  "port name of 1-15 characters" },
	{ IN1("{\"ports\":[{\"port\":1.5}]}"),
	  "ports[0].port: expected an integer 1..65535, got a number" },
	{ IN1("{\"ports\":[{\"protocol\":\"ICMP\"}]}"),
	  "ports[0].protocol: expected TCP, UDP or SCTP, got 'ICMP'" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},"
	  "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"nope\"}]}}",
	  "node 'n': status.addresses[0]: expected an IPv4 or IPv6 address, got 'nope'" },
	/* A List whose items is not an array is malformed, not empty. */
	{ "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":{\"a\":{}}}",
	  "snapshot 'bad.json': items: expected an array of objects in a List, got an object" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":\"x\"}",
	  "items: expected an array of objects in a PodList, got a string" },
	{ "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\","
	  "\"kind\":\"List\",\"items\":7}]}",
	  "items[0]: items: expected an array of objects in a List, got an integer" },
	/* Policies that cannot be read are refused, not skipped. */
	{ "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":"
	  "\"networking.k8s.io/v1\",\"kind\":\"Networkpolicy\",\"metadata\":{\"name\":\"p\","
	  "\"namespace\":\"x\"},\"spec\":{\"podSelector\":{}}}]}",
	  "snapshot 'bad.json': items[0]: object 'x/p' of kind 'Networkpolicy' (apiVersion "
	  "'networking.k8s.io/v1') cannot be read as a NetworkPolicy" },
	{ "{\"apiVersion\":\"networking.k8s.io/v1beta1\",\"kind\":\"NetworkPolicy\","
	  "\"metadata\":{\"name\":\"p\",\"namespace\":\"x\"},\"spec\":{\"podSelector\":{}}}",
	  "object 'x/p' of kind 'NetworkPolicy' (apiVersion 'networking.k8s.io/v1beta1') cannot "
	  "be read" },
	{ "{\"apiVersion\":\"bulkhead.io/v1\",\"kind\":\"FlowList\",\"version\":1,\"flows\":[]}",
	  "snapshot 'bad.json': kind 'FlowList' (apiVersion 'bulkhead.io/v1') is a flows file" },
	{ "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}}",
	  "object 'x/a' of kind 'Pod' (apiVersion '') is not a Kubernetes object: it has no "
	  "apiVersion" },
};

static void malformed_inputs(void **state)
{
	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct bh_err err = { 0 };
		struct cluster *c = NULL;
		int r = snapshot_load_buf(bc->json, strlen(bc->json), "bad.json", &c, NULL, &err);

		if (r >= 0 || !strstr(err.msg, bc->want) || err.kind != BH_ERR_INPUT ||
		    strchr(err.msg, '\n') || strncmp(err.msg, "snapshot 'bad.json': ", 21) != 0)
			fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, err.msg, bc->want);
		assert_null(c);
		assert_true(r == -EINVAL || r == -EBADMSG || r == -ENOMSG);
	}
}

/*
 * The fast reader against the reference reader (snapshot.c): the same
 * cluster, or the same error message, for every input below and for
 * every one-byte deletion, replacement and insertion in them.
 */
static void dump_labels(struct buf *b, const struct labels *l)
{
	for (size_t i = 0; i < l->n; i++)
		assert_int_equal(buf_printf(b, " %s=%s", l->v[i].key, l->v[i].value), 0);
}

static void dump_cluster(struct buf *b, const struct cluster *c)
{
	char a[64];

	for (size_t i = 0; i < c->n_ns; i++) {
		assert_int_equal(buf_printf(b, "ns %s", c->ns[i].name), 0);
		dump_labels(b, &c->ns[i].labels);
		assert_int_equal(buf_append(b, "\n", 1), 0);
	}
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		assert_int_equal(buf_printf(b,
					    "pod %s/%s uid=%s node=%s hn=%d phase=%s owner=%s/%s "
					    "created=%lld deleted=%lld",
					    p->ns, p->name, p->uid ? p->uid : "-",
					    p->node ? p->node : "-", p->host_network,
					    p->phase ? p->phase : "-",
					    p->owner.kind ? p->owner.kind : "-",
					    p->owner.name ? p->owner.name : "-",
					    (long long) p->created, (long long) p->deleted),
				 0);
		for (size_t j = 0; j < p->n_ips; j++) {
			addr_format(&p->ips[j], a, sizeof(a));
			assert_int_equal(buf_printf(b, " ip=%s", a), 0);
		}
		for (size_t j = 0; j < p->n_ports; j++)
			assert_int_equal(buf_printf(b, " port=%s/%u/%u",
						    p->ports[j].name ? p->ports[j].name : "-",
						    p->ports[j].protocol, p->ports[j].port),
					 0);
		dump_labels(b, &p->labels);
		assert_int_equal(buf_append(b, "\n", 1), 0);
	}
	for (size_t i = 0; i < c->n_policies; i++) {
		json_t *j = netpol_emit_json(&c->policies[i], NULL, NULL);
		char *text;

		assert_non_null(j);
		text = json_dumps(j, JSON_COMPACT);
		assert_non_null(text);
		assert_int_equal(buf_printf(b, "policy uid=%s %s\n",
					    c->policies[i].uid ? c->policies[i].uid : "-", text),
				 0);
		free(text);
		json_decref(j);
	}
	for (size_t i = 0; i < c->n_nodes; i++) {
		assert_int_equal(buf_printf(b, "node %s", c->nodes[i].name), 0);
		for (size_t j = 0; j < c->nodes[i].n_addrs; j++) {
			addr_format(&c->nodes[i].addrs[j], a, sizeof(a));
			assert_int_equal(buf_printf(b, " %s", a), 0);
		}
		assert_int_equal(buf_append(b, "\n", 1), 0);
	}
}

/* Returns false (with a message) when the two readers disagree. */
static bool readers_agree(const char *data, size_t len, char *why, size_t why_len)
{
	struct snapshot_stats st[2] = { { 0 } };
	struct bh_err err[2] = { { 0 } };
	struct cluster *c[2] = { NULL };
	struct buf d[2];
	int r[2];
	bool same;

	r[0] = snapshot_load_buf(data, len, "t.json", &c[0], &st[0], &err[0]);
	r[1] = snapshot_load_buf_reference(data, len, "t.json", &c[1], &st[1], &err[1]);
	if (r[0] != r[1] ||
	    (r[0] < 0 && (strcmp(err[0].msg, err[1].msg) != 0 || err[0].kind != err[1].kind))) {
		snprintf(why, why_len, "fast r=%d '%s', reference r=%d '%s'", r[0], err[0].msg,
			 r[1], err[1].msg);
		cluster_free(c[0]);
		cluster_free(c[1]);
		return false;
	}
	if (r[0] < 0) {
		assert_null(c[0]);
		assert_null(c[1]);
		return true;
	}
	for (int k = 0; k < 2; k++) {
		buf_init(&d[k], 1 << 24);
		dump_cluster(&d[k], c[k]);
		cluster_free(c[k]);
	}
	same = st[0].skipped == st[1].skipped && d[0].len == d[1].len &&
	       (d[0].len == 0 || memcmp(d[0].data, d[1].data, d[0].len) == 0);
	if (!same)
		snprintf(why, why_len, "clusters differ: fast\n%s\nreference\n%s",
			 d[0].data ? d[0].data : "", d[1].data ? d[1].data : "");
	buf_done(&d[0]);
	buf_done(&d[1]);
	return same;
}

static const char diff_doc[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},\"items\":[\n"
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\",\"labels\":{\"t\":\"a\\\"b\\\\c\\u00e9\"}}},\n"
	" {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\",\"uid\":\"u1\","
	"\"labels\":{\"app\":\"web\",\"v\":\"1\"},\"creationTimestamp\":\"2026-11-20T09:00:00Z\","
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-1\",\"controller\":true}]},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
	"\"containerPort\":8080,\"protocol\":\"TCP\"},{\"containerPort\":53,\"protocol\":\"UDP\"}]}]},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"podIPs\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"fd00::1\"}]}} ,\n"
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\","
	"\"namespace\":\"x\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"ingress\":[{"
	"\"ports\":[{\"port\":80,\"endPort\":90},{\"port\":\"http\"}],\"from\":[{\"podSelector\":{"
	"\"matchExpressions\":[{\"key\":\"v\",\"operator\":\"In\",\"values\":[\"1\",\"2\"]}]}},"
	"{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"10.1.0.0/16\"]}}]}],\"policyTypes\":[\"Ingress\",\"Egress\"]}},\n"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},\"data\":{\"k\":[1,2.5,true,null]}},\n"
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\","
	"\"metadata\":{\"name\":\"n1\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.0.1\"}]}}]}\n"
	"]}\n"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"},\"status\":{\"podIP\":\"10.0.0.2\"}}"
	"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[],\"metadata\":{}}\n";

static void fast_reader_matches_reference(void **state)
{
	static const char extra[] = "\"\\{}[],: x0\x80";
	const char *inputs[BH_ARRAY_SIZE(bad_cases) + 12];
	size_t n_inputs = 0, len = sizeof(diff_doc) - 1, checked = 0;
	char *m = malloc(len + 2);
	char why[4096];

	(void) state;
	assert_non_null(m);
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad_cases); i++)
		inputs[n_inputs++] = bad_cases[i].json;
	inputs[n_inputs++] = diff_doc;
	inputs[n_inputs++] = "{\"items\":[{\"kind\":\"Pod\"}],\"kind\":\"List\",\"items\":[]}";
	inputs[n_inputs++] = "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"items\":[1],"
			     "\"metadata\":{\"name\":\"q\"}}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"it\\u0065ms\":[{\"kind\":\"Pod\",\"apiVersion\":"
			     "\"v1\",\"metadata\":{\"name\":\"e\"}}]}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"items\":[[],{}]}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"items\":[\"a\\\\\",\"]\"]}";
	inputs[n_inputs++] =
		"{\"kind\":\"List\",\"items\":[{\"kind\":\"List\",\"items\":[{\"kind\":"
		"\"List\",\"items\":[{\"kind\":\"List\",\"items\":[{\"kind\":\"List\","
		"\"items\":[]}]}]}]}]}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"items\":[{\"a\":1,\"a\":2}]}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"items\":[{\"s\":\"\\u0000\"}]}";
	inputs[n_inputs++] = "{\"kind\":\"List\",\"items\":[1 2]}";
	inputs[n_inputs++] = "  \n{\"kind\":\"List\",\"items\":[]} \n {} ";
	inputs[n_inputs++] =
		"{\"kind\":\"List\",\"items\":[{\"kind\":\"Namespace\",\"apiVersion\":\"v1\","
		"\"metadata\":{\"name\":\"\xff\"}}]}";
	assert_true(n_inputs <= BH_ARRAY_SIZE(inputs));
	for (size_t i = 0; i < n_inputs; i++)
		if (!readers_agree(inputs[i], strlen(inputs[i]), why, sizeof(why)))
			fail_msg("input %zu '%s': %s", i, inputs[i], why);

	for (size_t i = 0; i < len; i++) {
		/* Deleted. */
		memcpy(m, diff_doc, i);
		memcpy(m + i, diff_doc + i + 1, len - i - 1);
		if (!readers_agree(m, len - 1, why, sizeof(why)))
			fail_msg("byte %zu deleted: %s", i, why);
		for (size_t k = 0; k < sizeof(extra) - 1; k++) {
			/* Replaced. */
			memcpy(m, diff_doc, len);
			m[i] = extra[k];
			if (!readers_agree(m, len, why, sizeof(why)))
				fail_msg("byte %zu replaced by 0x%02x: %s", i,
					 (unsigned char) extra[k], why);
			/* Inserted. */
			memcpy(m, diff_doc, i);
			m[i] = extra[k];
			memcpy(m + i + 1, diff_doc + i, len - i);
			if (!readers_agree(m, len + 1, why, sizeof(why)))
				fail_msg("0x%02x inserted at %zu: %s", (unsigned char) extra[k], i,
					 why);
			checked += 2;
		}
		checked++;
	}
	assert_true(checked > 20000);
	free(m);
}

/* ---- YAML ---- */

static int load_yaml(const char *yaml, struct cluster **c, struct snapshot_stats *st,
		     struct bh_err *err)
{
	return snapshot_load_buf(yaml, strlen(yaml), "t.yaml", c, st, err);
}

static struct cluster *yaml_ok(const char *yaml)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	if (load_yaml(yaml, &c, NULL, &err) < 0)
		fail_msg("unexpected error: %s", err.msg);
	return c;
}

/* The example as kubectl prints it in YAML is the same cluster as the
 * example in JSON, object for object and field for field. */
static void yaml_equals_json(void **state)
{
	const char *json[] = { BH_SOURCE_DIR "/examples/shop.json" };
	const char *yaml[] = { BH_TEST_DATA "/snapshot/shop.yaml" };
	struct snapshot_stats st = { 0 };
	struct bh_err err = { 0 };
	struct cluster *c[2] = { NULL };
	struct buf d[2];

	(void) state;
	assert_int_equal(snapshot_load_files(json, 1, &c[0], NULL, &err), 0);
	if (snapshot_load_files(yaml, 1, &c[1], &st, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(c[1]->n_pods, 11);
	assert_int_equal(c[1]->n_policies, 7);
	for (int k = 0; k < 2; k++) {
		buf_init(&d[k], 1 << 24);
		dump_cluster(&d[k], c[k]);
		cluster_free(c[k]);
	}
	assert_int_equal(d[0].len, d[1].len);
	assert_memory_equal(d[0].data, d[1].data, d[0].len);
	buf_done(&d[0]);
	buf_done(&d[1]);
}

/* Scalars typed as kubectl (sigs.k8s.io/yaml) types them. */
static void yaml_scalars(void **state)
{
	static const char *const ports[] = { "80",  "0x50", "0o120", "0120",
					     "8_0", "80.0", "8e1",   "+80" };
	struct cluster *c;
	char doc[512];

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(ports); i++) {
		snprintf(doc, sizeof(doc),
			 "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n"
			 "spec:\n  containers:\n  - ports:\n    - containerPort: %s\n",
			 ports[i]);
		c = yaml_ok(doc);
		if (c->pods[0].n_ports != 1 || c->pods[0].ports[0].port != 80)
			fail_msg("containerPort: %s", ports[i]);
		cluster_free(c);
	}
	/* Quoted "true" and "80" stay strings; plain yes/on are booleans. */
	c = yaml_ok("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: x\n"
		    "  labels: {t: \"true\", num: '80', e: '', s: plain text, d: 2026-11-20}\n"
		    "spec: {hostNetwork: yes}\n");
	assert_string_equal(labels_get(&c->pods[0].labels, "t"), "true");
	assert_string_equal(labels_get(&c->pods[0].labels, "num"), "80");
	assert_string_equal(labels_get(&c->pods[0].labels, "e"), "");
	assert_string_equal(labels_get(&c->pods[0].labels, "s"), "plain text");
	assert_string_equal(labels_get(&c->pods[0].labels, "d"), "2026-11-20");
	assert_true(c->pods[0].host_network);
	cluster_free(c);
	c = yaml_ok("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n"
		    "spec: {hostNetwork: !!bool \"on\", nodeName: !!str 123}\n");
	assert_true(c->pods[0].host_network);
	assert_string_equal(c->pods[0].node, "123");
	cluster_free(c);
	/* A key that reads as a boolean is named as JSON names it. */
	c = yaml_ok("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
		    "  labels: {on: a, 7: b}\n");
	assert_string_equal(labels_get(&c->ns[0].labels, "true"), "a");
	assert_string_equal(labels_get(&c->ns[0].labels, "7"), "b");
	cluster_free(c);
}

/* `---` streams, empty documents, comments, a List and single objects. */
static void yaml_streams(void **state)
{
	struct snapshot_stats st = { 0 };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;
	const char *yaml =
		"# leading comment\n"
		"---\n"
		"---\n"
		"# only a comment\n"
		"---\n"
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"
		"...\n"
		"---\n"
		"apiVersion: v1\n"
		"items:\n"
		"- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: x}\n"
		"  status: {podIP: 10.0.0.1}\n"
		"- apiVersion: v1\n  kind: Service\n  metadata: {name: s, namespace: x}\n"
		"kind: List\n"
		"metadata: {resourceVersion: \"\"}\n"
		"--- {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": "
		"{\"name\": \"b\", \"namespace\": \"x\"}}\n"
		"---\n"
		"apiVersion: v1\nkind: List\nitems:\n";

	(void) state;
	if (load_yaml(yaml, &c, &st, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c->n_ns, 1);
	assert_int_equal(c->n_pods, 2);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.skipped_unreadable, 0);
	cluster_free(c);
}

static const struct bad_case yaml_bad_cases[] = {
	{ "# nothing\n---\n...\n", "snapshot 'bad.yaml': empty" },
	{ "apiVersion: v1\nkind: List\nitems:\n- &a {kind: Pod}\n- *a\n",
	  "line 5, column 3: YAML aliases (*a) are not supported" },
	{ "apiVersion: v1\nkind: Pod\nmetadata:\n  <<: {name: a}\n",
	  "line 4, column 3: YAML merge keys ('<<') are not supported" },
	{ "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  apiVersion: v1\n"
	  "  metadata: {name: a\n",
	  "line 7, column 1: invalid YAML: did not find expected ',' or '}' (while parsing a "
	  "flow mapping at line 6, column 13)" },
	{ "apiVersion: v1\nkind: Pod\n  metadata: x\n", "line 3, column 11: invalid YAML" },
	{ "apiVersion: v1\nkind: Pod\nkind: Pod\n",
	  "line 3, column 1: duplicate mapping key 'kind'" },
	{ "apiVersion: v1\nkind: Pod\n? [a]\n: b\n",
	  "line 3, column 3: mapping keys must be strings" },
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: !!binary YQ==}\n",
	  "line 3, column 18: unsupported YAML tag 'tag:yaml.org,2002:binary'" },
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: !!int a}\n",
	  "line 3, column 18: not an integer (!!int)" },
	{ "apiVersion: v1\nkind: Pod\nx: .inf\n", "line 3, column 4: not a number JSON can hold" },
	{ "apiVersion: v1\nkind: Pod\nmetadata: {name: \"a\\0b\"}\n",
	  "line 3, column 18: NUL character in a string" },
	{ "apiVersion: v1\nkind: Pod\nx: \"\xff\"\n", "invalid YAML: invalid" },
	{ "just a string\n", "line 1, column 1: expected a Kubernetes object or List" },
	{ "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n- 1\n",
	  "line 5, column 1: document 2: expected a Kubernetes object or List" },
	/* The object at fault is named with its line. */
	{ "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n"
	  "  metadata: {name: x}\n- apiVersion: v1\n  kind: Pod\n"
	  "  metadata: {name: a, namespace: x}\n"
	  "  spec: {containers: [{ports: [{containerPort: \"80\"}]}]}\n",
	  "snapshot 'bad.yaml': line 7, column 3: items[1]: pod 'x/a': "
	  "spec.containers[0].ports[0].containerPort: expected an integer 1..65535, got a string" },
	/* Plain true is a boolean, as kubectl reads it: not a label value. */
	{ "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {a: true}}\n",
	  "line 1, column 1: namespace 'x': metadata.labels.a: expected a string" },
	{ "apiVersion: v1\nkind: List\nitems: {a: 1}\n",
	  "line 1, column 1: items: expected an array of objects in a List, got an object" },
	{ "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n"
	  "spec: {podSelector: {}, ingress: [{ports: [{port: 80, protocol: tcp}]}]}\n",
	  "networkpolicy 'x/p': spec.ingress[0].ports[0].protocol: expected TCP, UDP or SCTP" },
	{ "apiVersion: v1\nkind: List\nitems:\n- apiVersion: extensions/v1beta1\n"
	  "  kind: NetworkPolicy\n  metadata: {name: p, namespace: x}\n",
	  "line 4, column 3: items[0]: object 'x/p' of kind 'NetworkPolicy' (apiVersion "
	  "'extensions/v1beta1') cannot be read as a NetworkPolicy" },
};

static void yaml_malformed(void **state)
{
	char deep[2048];
	size_t n = 0;

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(yaml_bad_cases); i++) {
		const struct bad_case *bc = &yaml_bad_cases[i];
		struct bh_err err = { 0 };
		struct cluster *c = NULL;
		int r = snapshot_load_buf(bc->json, strlen(bc->json), "bad.yaml", &c, NULL, &err);

		if (r >= 0 || !strstr(err.msg, bc->want) || err.kind != BH_ERR_INPUT ||
		    strchr(err.msg, '\n') || strncmp(err.msg, "snapshot 'bad.yaml': ", 21) != 0)
			fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, err.msg, bc->want);
		assert_null(c);
	}
	/* Nesting is bounded before the tree is. */
	n = (size_t) snprintf(deep, sizeof(deep), "apiVersion: v1\nkind: Pod\nx: ");
	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	{
		struct bh_err err = { 0 };
		struct cluster *c = NULL;

		assert_int_equal(snapshot_load_buf(deep, n, "deep.yaml", &c, NULL, &err), -EBADMSG);
		assert_non_null(strstr(err.msg, "snapshot 'deep.yaml': line 3, column 131: nested "
						"more than 128 levels deep"));
	}
}

/* Kinds we do not read: skipped and counted, refused when they look like
 * policies or are not Kubernetes objects, unless skip_unknown. */
static void unknown_kinds(void **state)
{
	const char *snap =
		"apiVersion: v1\nkind: List\nitems:\n"
		"- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n"
		"  metadata: {name: good, namespace: x}\n  spec: {podSelector: {}}\n"
		"- apiVersion: networking.k8s.io/v1\n  kind: Networkpolicy\n"
		"  metadata: {name: typo, namespace: x}\n  spec: {podSelector: {}}\n"
		"- apiVersion: networking.k8s.io/v1beta1\n  kind: NetworkPolicy\n"
		"  metadata: {name: old, namespace: x}\n  spec: {podSelector: {}}\n"
		"- apiVersion: v1\n  kind: Service\n  metadata: {name: s, namespace: x}\n"
		"- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d, namespace: x}\n"
		"---\n"
		"apiVersion: bulkhead.io/v1\nkind: FlowList\nversion: 1\nflows: []\n";
	const struct snapshot_opts skip = { .skip_unknown = true };
	struct snapshot_stats st = { 0 };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;

	(void) state;
	assert_int_equal(load_yaml(snap, &c, &st, &err), -ENOMSG);
	assert_string_equal(err.msg, "snapshot 't.yaml': line 8, column 3: items[1]: object "
				     "'x/typo' of kind 'Networkpolicy' (apiVersion "
				     "'networking.k8s.io/v1') cannot be read as a NetworkPolicy "
				     "(kind NetworkPolicy, apiVersion networking.k8s.io/v1)");
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_null(c);

	assert_int_equal(snapshot_load_buf_opts(snap, strlen(snap), "t.yaml", &skip, &c, &st, &err),
			 0);
	assert_int_equal(c->n_policies, 1);
	assert_string_equal(c->policies[0].name, "good");
	assert_int_equal(st.skipped, 5);
	assert_int_equal(st.skipped_unreadable, 3);
	cluster_free(c);
	c = NULL;

	/* Kinds that are not policies are skipped and counted by default. */
	st = (struct snapshot_stats){ 0 };
	assert_int_equal(load_yaml("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n"
				   "apiVersion: v2\nkind: Pod\nmetadata: {name: p}\n",
				   &c, &st, &err),
			 0);
	assert_int_equal(c->n_pods, 0);
	assert_int_equal(st.skipped, 2);
	assert_int_equal(st.skipped_unreadable, 0);
	cluster_free(c);
}

/* What propose prints as YAML reads back as the policies it printed. */
static void yaml_of_propose_reads_back(void **state)
{
	const char *paths[] = { BH_SOURCE_DIR "/tests/golden/propose/app.json",
				BH_SOURCE_DIR "/tests/golden/propose/app.yaml" };
	struct bh_err err = { 0 };
	struct cluster *c[2] = { NULL };
	struct buf d[2];

	(void) state;
	for (int k = 0; k < 2; k++) {
		if (snapshot_load_files(&paths[k], 1, &c[k], NULL, &err) < 0)
			fail_msg("%s", err.msg);
		buf_init(&d[k], 1 << 24);
		dump_cluster(&d[k], c[k]);
	}
	assert_true(c[1]->n_policies > 0);
	assert_int_equal(c[0]->n_policies, c[1]->n_policies);
	assert_int_equal(d[0].len, d[1].len);
	assert_memory_equal(d[0].data, d[1].data, d[0].len);
	for (int k = 0; k < 2; k++) {
		cluster_free(c[k]);
		buf_done(&d[k]);
	}
}

static void files_errors(void **state)
{
	const char *missing[] = { "/nonexistent/snap.json" };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;

	(void) state;
	assert_int_equal(snapshot_load_files(missing, 1, &c, NULL, &err), -ENOENT);
	assert_string_equal(err.msg,
			    "snapshot '/nonexistent/snap.json': No such file or directory");
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_null(c);
}

static void times(void **state)
{
	int64_t t;

	(void) state;
	assert_int_equal(kube_time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(kube_time_parse("2026-11-22T06:33:59.123456Z", &t), 0);
	assert_int_equal(t, 1795329239);
	assert_int_equal(kube_time_parse("2026-11-22T08:33:59+02:00", &t), 0);
	assert_int_equal(t, 1795329239);
	assert_int_equal(kube_time_parse("2026-11-22", &t), -EINVAL);
	assert_int_equal(kube_time_parse("2026-11-22T06:33:59Zjunk", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_app),
		cmocka_unit_test(defaulting_and_peers),
		cmocka_unit_test(dual_stack_host_network_and_kinds),
		cmocka_unit_test(later_files_win_and_merge_is_atomic),
		cmocka_unit_test(malformed_inputs),
		cmocka_unit_test(fast_reader_matches_reference),
		cmocka_unit_test(yaml_equals_json),
		cmocka_unit_test(yaml_scalars),
		cmocka_unit_test(yaml_streams),
		cmocka_unit_test(yaml_malformed),
		cmocka_unit_test(unknown_kinds),
		cmocka_unit_test(yaml_of_propose_reads_back),
		cmocka_unit_test(files_errors),
		cmocka_unit_test(times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
