#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "flows_json.h"
#include "identity.h"
#include "netpol_emit.h"
#include "propose.h"
#include "proto.h"
#include "snapshot.h"
#include "testutil.h"

#define APP BH_TEST_DATA "/propose/"

struct app {
	struct cluster *c;
	struct flow_set flows;
	struct proposal p;
};

static void app_load(struct app *a, bool reverse, const struct propose_opts *o)
{
	const char *snap = APP "snapshot.json";
	const char *files[2] = { APP "flows-node-1.json", APP "flows-node-2.json" };
	struct propose_opts def;
	struct bh_err err = { 0 };

	if (!o) {
		propose_opts_init(&def);
		o = &def;
	}
	memset(a, 0, sizeof(*a));
	flow_set_init(&a->flows);
	assert_int_equal(snapshot_load_files(&snap, 1, &a->c, NULL, &err), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(flows_json_load(&a->flows, files[reverse ? 1 - i : i], &err), 0);
	assert_int_equal(propose_build(&a->flows, a->c, o, &a->p, &err), 0);
}

static void app_done(struct app *a)
{
	proposal_done(&a->p);
	flow_set_done(&a->flows);
	cluster_free(a->c);
}

/* The List as JSON text; the text written without a tree (JSON and YAML)
 * must be the tree's, byte for byte. */
static char *emit_json(const struct proposal *p)
{
	json_t *doc = netpol_emit_list(p);
	struct buf b, s;

	assert_non_null(doc);
	buf_init(&b, SIZE_MAX);
	buf_init(&s, SIZE_MAX);
	assert_int_equal(netpol_emit_json_text(doc, &b), 0);
	assert_int_equal(netpol_emit_list_json(p, &s), 0);
	assert_int_equal(s.len, b.len);
	assert_memory_equal(s.data, b.data, b.len);
	buf_reset(&b);
	buf_reset(&s);
	assert_int_equal(netpol_emit_yaml(doc, &b), 0);
	assert_int_equal(netpol_emit_list_yaml(p, &s), 0);
	assert_int_equal(s.len, b.len);
	assert_memory_equal(s.data, b.data, b.len);
	buf_reset(&b);
	assert_int_equal(netpol_emit_json_text(doc, &b), 0);
	buf_done(&s);
	json_decref(doc);
	return buf_steal(&b);
}

/* The application's design (tests/data/propose/gen.py), independent of
 * the flows: which workload may talk to which on what. */
struct allow {
	const char *src, *dst;
	uint8_t proto;
	uint16_t port;
};

static const struct allow app_allowed[] = {
	{ "frontend", "api", IPPROTO_TCP, 8080 },
	{ "worker", "api", IPPROTO_TCP, 9000 },
	{ "worker", "api", IPPROTO_TCP, 9001 },
	{ "worker", "api", IPPROTO_TCP, 9002 },
	{ "api", "postgres", IPPROTO_TCP, 5432 },
	{ "report", "postgres", IPPROTO_TCP, 5432 },
	{ "postgres", "postgres", IPPROTO_TCP, 5432 },
	{ "api", "redis", IPPROTO_TCP, 6379 },
	{ "worker", "redis", IPPROTO_TCP, 6379 },
	/* DNS: UDP seen, TCP kept too */
	{ "frontend", "coredns", IPPROTO_UDP, 53 },
	{ "frontend", "coredns", IPPROTO_TCP, 53 },
	{ "api", "coredns", IPPROTO_UDP, 53 },
	{ "api", "coredns", IPPROTO_TCP, 53 },
	{ "worker", "coredns", IPPROTO_UDP, 53 },
	{ "worker", "coredns", IPPROTO_TCP, 53 },
	/* report resolved through the Service address: still the DNS pods */
	{ "report", "coredns", IPPROTO_UDP, 53 },
	{ "report", "coredns", IPPROTO_TCP, 53 },
};

static bool expected(const char *src, const char *dst, uint8_t proto, uint16_t port)
{
	/* Outside the proposal: 'debug' was never seen, so nothing isolates
	 * it; the DNS servers keep their egress open (see docs/propose.md). */
	if (strcmp(dst, "debug") == 0 && (strcmp(src, "debug") == 0 || strcmp(src, "coredns") == 0))
		return true;
	for (size_t i = 0; i < BH_ARRAY_SIZE(app_allowed); i++)
		if (strcmp(app_allowed[i].src, src) == 0 && strcmp(app_allowed[i].dst, dst) == 0 &&
		    app_allowed[i].proto == proto && app_allowed[i].port == port)
			return true;
	return false;
}

/* A copy of the cluster with the proposal as its only policies. */
static struct cluster *with_proposal(const struct cluster *c, const struct proposal *p)
{
	struct cluster *cc;

	assert_int_equal(cluster_copy(c, &cc), 0);
	assert_int_equal(cc->n_policies, 0);
	for (size_t i = 0; i < p->n; i++) {
		struct netpol np;

		netpol_init(&np);
		assert_int_equal(netpol_copy(&np, &p->v[i].np), 0);
		assert_true(cluster_policy_put(cc, &np) >= 0);
	}
	return cc;
}

static void allows_observed_denies_the_rest(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t port;
	} probes[] = {
		{ IPPROTO_TCP, 8080 },	{ IPPROTO_TCP, 9000 }, { IPPROTO_TCP, 9001 },
		{ IPPROTO_TCP, 9002 },	{ IPPROTO_TCP, 9003 }, { IPPROTO_TCP, 8999 },
		{ IPPROTO_TCP, 5432 },	{ IPPROTO_TCP, 6379 }, { IPPROTO_TCP, 53 },
		{ IPPROTO_UDP, 53 },	{ IPPROTO_TCP, 9153 }, { IPPROTO_TCP, 443 },
		{ IPPROTO_TCP, 80 },	{ IPPROTO_UDP, 8080 }, { IPPROTO_UDP, 5432 },
		{ IPPROTO_SCTP, 5432 },
	};
	struct app a;
	struct cluster *cc;
	struct engine *e;
	struct bh_err err = { 0 };
	size_t n_allowed = 0, n_denied = 0;

	(void) state;
	app_load(&a, false, NULL);
	assert_int_equal(propose_self_check(&a.p, &a.flows, a.c, &err), 0);
	assert_int_equal(a.p.n_checked, a.flows.n);
	assert_int_equal(a.p.n_allowed, a.flows.n);
	assert_int_equal(a.p.n_denials, 0);
	assert_int_equal(a.p.n_workloads_seen, 7);

	cc = with_proposal(a.c, &a.p);
	assert_int_equal(engine_new(cc, &e), 0);
	for (size_t i = 0; i < cc->n_pods; i++) {
		const struct pod *sp = &cc->pods[i];
		const struct workload *sw = &a.p.ws.v[workload_set_of_pod(&a.p.ws, i)];

		if (sp->host_network)
			continue;
		for (size_t j = 0; j < cc->n_pods; j++) {
			const struct pod *dp = &cc->pods[j];
			const struct workload *dw = &a.p.ws.v[workload_set_of_pod(&a.p.ws, j)];
			struct engine_ep src, dst;

			if (dp->host_network)
				continue;
			engine_ep_pod(e, sp, AF_INET, &src);
			engine_ep_pod(e, dp, AF_INET, &dst);
			for (size_t k = 0; k < BH_ARRAY_SIZE(probes); k++) {
				bool want = expected(sw->name, dw->name, probes[k].proto,
						     probes[k].port);
				bool got = engine_allowed(e, &src, &dst, probes[k].proto,
							  probes[k].port);

				if (want != got)
					fail_msg("%s/%s -> %s/%s %s/%u: expected %s, got %s",
						 sp->ns, sp->name, dp->ns, dp->name,
						 proto_name(probes[k].proto), probes[k].port,
						 want ? "allow" : "deny", got ? "allow" : "deny");
				if (got)
					n_allowed++;
				else
					n_denied++;
			}
		}
	}
	/* The connection the application never made. */
	{
		struct engine_ep src, dst;

		engine_ep_pod(e, cluster_pod_find(cc, "shop", "frontend-6b7f8c9d5-aaaaa"), AF_INET,
			      &src);
		engine_ep_pod(e, cluster_pod_find(cc, "data", "postgres-0"), AF_INET, &dst);
		assert_false(engine_allowed(e, &src, &dst, IPPROTO_TCP, 5432));
	}
	print_message("propose: %zu pod pairs x ports allowed, %zu denied\n", n_allowed, n_denied);
	assert_true(n_denied > 10 * n_allowed);
	engine_free(e);
	cluster_free(cc);
	app_done(&a);
}

static void order_independent(void **state)
{
	struct app a, b;
	char *ja, *jb;

	(void) state;
	app_load(&a, false, NULL);
	app_load(&b, true, NULL);
	ja = emit_json(&a.p);
	jb = emit_json(&b.p);
	assert_string_equal(ja, jb);
	/* and idempotent: building again gives the same */
	proposal_done(&b.p);
	{
		struct propose_opts o;
		struct bh_err err = { 0 };

		propose_opts_init(&o);
		assert_int_equal(propose_build(&a.flows, a.c, &o, &b.p, &err), 0);
	}
	free(jb);
	jb = emit_json(&b.p);
	assert_string_equal(ja, jb);
	free(ja);
	free(jb);
	app_done(&a);
	app_done(&b);
}

static const struct proposal_policy *find(const struct proposal *p, const char *ns,
					  const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].np.ns, ns) == 0 && strcmp(p->v[i].np.name, name) == 0)
			return &p->v[i];
	return NULL;
}

static void shape_of_rules(void **state)
{
	const struct proposal_policy *pp;
	const struct netpol_rule *r;
	struct app a;

	(void) state;
	app_load(&a, false, NULL);
	/* names sorted by namespace then name, ingress and egress */
	for (size_t i = 1; i < a.p.n; i++) {
		int c = strcmp(a.p.v[i - 1].np.ns, a.p.v[i].np.ns);

		assert_true(c < 0 ||
			    (c == 0 && strcmp(a.p.v[i - 1].np.name, a.p.v[i].np.name) < 0));
	}
	/* worker -> api on 9000..9002: one port entry with endPort */
	pp = find(&a.p, "shop", "bulkhead-api-ingress");
	assert_non_null(pp);
	assert_true(pp->np.types[NETPOL_INGRESS]);
	assert_false(pp->np.types[NETPOL_EGRESS]);
	assert_int_equal(pp->np.n_rules[NETPOL_INGRESS], 2);
	r = &pp->np.rules[NETPOL_INGRESS][1];
	assert_int_equal(r->n_ports, 1);
	assert_int_equal(r->ports[0].port, 9000);
	assert_int_equal(r->ports[0].end_port, 9002);
	/* frontend -> api 8080: the name the api pods give it */
	r = &pp->np.rules[NETPOL_INGRESS][0];
	assert_int_equal(r->ports[0].kind, NETPOL_PORT_NAME);
	assert_string_equal(r->ports[0].name, "http");
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "frontend");
	assert_string_equal(labels_get(&r->peers[0].ns_sel->match_labels,
				       "kubernetes.io/metadata.name"),
			    "shop");

	/* the DNS rule selects what the DNS pods carry */
	pp = find(&a.p, "shop", "bulkhead-report-egress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 3);
	r = &pp->np.rules[NETPOL_EGRESS][1];
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "k8s-app"), "kube-dns");
	assert_int_equal(r->peers[0].pod_sel->match_labels.n, 1);
	assert_int_equal(r->n_ports, 2);
	/* the Service address it was seen using stays as a /32 */
	r = &pp->np.rules[NETPOL_EGRESS][2];
	assert_int_equal(r->peers[0].kind, NETPOL_PEER_IPBLOCK);
	assert_int_equal(r->peers[0].cidr.plen, 32);

	/* a workload seen only as a client is isolated for ingress too */
	pp = find(&a.p, "shop", "bulkhead-worker-ingress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_INGRESS], 0);
	assert_true(pp->np.types[NETPOL_INGRESS]);
	/* the DNS servers keep their egress, the bare pod gets nothing */
	assert_null(find(&a.p, "kube-system", "bulkhead-coredns-egress"));
	assert_null(find(&a.p, "shop", "bulkhead-debug-ingress"));
	/* the node peer is named as such */
	pp = find(&a.p, "shop", "bulkhead-api-egress");
	assert_non_null(strstr(labels_get(&pp->annotations, "bulkhead.io/peers"),
			       "10.0.0.12/32: node node-2, host-network pod "
			       "kube-system/node-exporter-qqqqq"));
	app_done(&a);
}

static void one_direction(void **state)
{
	struct propose_opts o;
	struct app a;

	(void) state;
	propose_opts_init(&o);
	o.dir[NETPOL_EGRESS] = false;
	app_load(&a, false, &o);
	assert_true(a.p.n > 0);
	for (size_t i = 0; i < a.p.n; i++) {
		assert_true(a.p.v[i].np.types[NETPOL_INGRESS]);
		assert_false(a.p.v[i].np.types[NETPOL_EGRESS]);
		assert_non_null(strstr(a.p.v[i].np.name, "-ingress"));
	}
	app_done(&a);
}

static void self_check_reports_denials(void **state)
{
	struct proposal_policy *pp = NULL;
	struct bh_err err = { 0 };
	struct app a;

	(void) state;
	app_load(&a, false, NULL);
	/* drop the rule letting api reach redis: the check must notice */
	for (size_t i = 0; i < a.p.n; i++)
		if (strcmp(a.p.v[i].np.name, "bulkhead-redis-ingress") == 0)
			pp = &a.p.v[i];
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_INGRESS], 2);
	netpol_rule_done(&pp->np.rules[NETPOL_INGRESS][0]);
	pp->np.rules[NETPOL_INGRESS][0] = pp->np.rules[NETPOL_INGRESS][1];
	pp->np.n_rules[NETPOL_INGRESS] = 1;
	assert_int_equal(propose_self_check(&a.p, &a.flows, a.c, &err), 0);
	assert_int_equal(a.p.n_checked, a.flows.n);
	assert_int_equal(a.p.n_allowed, a.flows.n - 3);
	assert_int_equal(a.p.n_denials, 1);
	assert_string_equal(a.p.denials[0].src, "shop/Deployment/api");
	assert_string_equal(a.p.denials[0].dst, "data/Deployment/redis");
	assert_int_equal(a.p.denials[0].port, 6379);
	assert_int_equal(a.p.denials[0].flows, 3);
	app_done(&a);
}

static void aggregation_is_opt_in(void **state)
{
	struct app a;
	struct flow_set fs;
	struct propose_opts o;
	struct bh_err err = { 0 };
	struct proposal p;
	const char *snap = APP "snapshot.json";
	const struct netpol_rule *r;

	(void) state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(snapshot_load_files(&snap, 1, &a.c, NULL, &err), 0);
	flow_set_init(&fs);
	fs.flows = calloc(21, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 21; i++) {
		struct flow_record *f = &fs.flows[fs.n++];
		char ip[32];

		(void) snprintf(ip, sizeof(ip), i < 20 ? "198.51.100.%d" : "203.0.113.%d", i + 1);
		f->key = (struct flow_key){ .src = addr_lit("10.1.1.30"),
					    .dst = addr_lit(ip),
					    .proto = IPPROTO_TCP,
					    .port = 443 };
		f->first_seen = f->last_seen = 1795329000;
		f->connections = 1;
		f->src_peer.kind = FLOW_PEER_UNKNOWN;
		f->dst_peer.kind = FLOW_PEER_EXTERNAL;
	}
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, a.c, &o, &p, &err), 0);
	assert_non_null(find(&p, "shop", "bulkhead-worker-egress"));
	r = &find(&p, "shop", "bulkhead-worker-egress")->np.rules[NETPOL_EGRESS][0];
	assert_int_equal(r->n_peers, 21); /* one rule, every address a /32 */
	proposal_done(&p);

	o.aggregate_count = 16;
	assert_int_equal(propose_build(&fs, a.c, &o, &p, &err), 0);
	assert_int_equal(find(&p, "shop", "bulkhead-worker-egress")->np.n_rules[NETPOL_EGRESS], 1);
	r = &find(&p, "shop", "bulkhead-worker-egress")->np.rules[NETPOL_EGRESS][0];
	assert_int_equal(r->n_peers, 2);
	assert_int_equal(r->peers[0].cidr.plen, 24);
	assert_int_equal(r->peers[1].cidr.plen, 32);
	assert_int_equal(propose_self_check(&p, &fs, a.c, &err), 0);
	assert_int_equal(p.n_allowed, 21);
	proposal_done(&p);

	o.aggregate_count = 20; /* "past" the count: 20 is not enough */
	assert_int_equal(propose_build(&fs, a.c, &o, &p, &err), 0);
	r = &find(&p, "shop", "bulkhead-worker-egress")->np.rules[NETPOL_EGRESS][0];
	assert_int_equal(r->n_peers, 21);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(a.c);
}

static void put_pod(struct cluster *c, const char *name, const char *ip, const char *app,
		    uint16_t port, const char *port_name)
{
	struct pod p = { .ns = strdup("ns"), .name = strdup(name), .n_ips = 1 };

	labels_lit(&p.labels, app);
	p.ips[0] = addr_lit(ip);
	if (port) {
		p.ports = calloc(1, sizeof(*p.ports));
		assert_non_null(p.ports);
		p.ports[0] = (struct container_port){ .name = strdup(port_name),
						      .protocol = IPPROTO_TCP,
						      .port = port };
		p.n_ports = 1;
	}
	assert_true(cluster_pod_put(c, &p) >= 0);
}

static void named_port_only_when_unambiguous(void **state)
{
	struct cluster *c = cluster_new();
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	const struct netpol_port *pp;

	(void) state;
	put_pod(c, "client", "10.0.0.1", "app=client", 0, NULL);
	put_pod(c, "api-1", "10.0.0.2", "app=api", 8080, "http");
	put_pod(c, "api-2", "10.0.0.3", "app=api", 8080, "http");
	flow_set_init(&fs);
	fs.flows = calloc(1, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	fs.n = 1;
	fs.flows[0].key = (struct flow_key){ .src = addr_lit("10.0.0.1"),
					     .dst = addr_lit("10.0.0.2"),
					     .proto = IPPROTO_TCP,
					     .port = 8080 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	pp = &find(&p, "ns", "bulkhead-api-ingress")->np.rules[NETPOL_INGRESS][0].ports[0];
	assert_int_equal(pp->kind, NETPOL_PORT_NAME);
	assert_string_equal(pp->name, "http");
	proposal_done(&p);

	/* mid-rollout: the same name now means another port on one pod */
	((struct pod *) cluster_pod_find(c, "ns", "api-2"))->ports[0].port = 9090;
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	pp = &find(&p, "ns", "bulkhead-api-ingress")->np.rules[NETPOL_INGRESS][0].ports[0];
	assert_int_equal(pp->kind, NETPOL_PORT_NUMBER);
	assert_int_equal(pp->port, 8080);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 1);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

static void policy_names_are_dns_names(void **state)
{
	struct cluster *c = cluster_new();
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	char long_app[300];

	(void) state;
	memset(long_app, 'x', sizeof(long_app) - 1);
	long_app[sizeof(long_app) - 1] = '\0';
	memcpy(long_app, "app=", 4);
	put_pod(c, "client", "10.0.0.1", "app=My_App.v2", 0, NULL);
	put_pod(c, "server", "10.0.0.2", long_app, 80, "http");
	flow_set_init(&fs);
	fs.flows = calloc(1, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	fs.n = 1;
	fs.flows[0].key = (struct flow_key){ .src = addr_lit("10.0.0.1"),
					     .dst = addr_lit("10.0.0.2"),
					     .proto = IPPROTO_TCP,
					     .port = 80 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(p.n, 4);
	assert_non_null(find(&p, "ns", "bulkhead-my-app-v2-egress"));
	for (size_t i = 0; i < p.n; i++) {
		const char *n = p.v[i].np.name;

		assert_true(strlen(n) <= 253);
		assert_int_equal(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(n));
		assert_true(strstr(n, "-ingress") || strstr(n, "-egress"));
	}
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* The self-check remembers verdicts per class of equal pods; a pod whose
 * address an ipBlock names must not share its neighbours' verdicts. */
static void self_check_memo_respects_addresses(void **state)
{
	struct cluster *c = cluster_new();
	struct proposal_policy *pp;
	struct netpol_rule *rule;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	struct addr a2 = addr_lit("10.0.0.2");

	(void) state;
	put_pod(c, "client", "10.0.0.1", "app=client", 0, NULL);
	put_pod(c, "api-1", "10.0.0.2", "app=api", 8080, "http");
	put_pod(c, "api-2", "10.0.0.3", "app=api", 8080, "http");
	flow_set_init(&fs);
	fs.flows = calloc(2, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 2; i++)
		fs.flows[fs.n++].key =
			(struct flow_key){ .src = addr_lit("10.0.0.1"),
					   .dst = addr_lit(i ? "10.0.0.3" : "10.0.0.2"),
					   .proto = IPPROTO_TCP,
					   .port = 8080 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 2);

	/* client's egress now reaches api-1 by address only */
	pp = NULL;
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(p.v[i].np.name, "bulkhead-client-egress") == 0)
			pp = &p.v[i];
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 1);
	rule = &pp->np.rules[NETPOL_EGRESS][0];
	assert_int_equal(rule->n_peers, 1);
	netpol_peer_done(&rule->peers[0]);
	rule->peers[0] = (struct netpol_peer){ .kind = NETPOL_PEER_IPBLOCK };
	cidr_from_addr(&rule->peers[0].cidr, &a2);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_checked, 2);
	assert_int_equal(p.n_allowed, 1);
	assert_int_equal(p.n_denials, 1);
	assert_string_equal(p.denials[0].dst, "ns/Pod/api");
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* Pods in one class agree on every label key a selector names, those of
 * expressions included. */
static void self_check_memo_respects_selectors(void **state)
{
	struct cluster *c = cluster_new();
	struct proposal_policy *pp = NULL;
	struct netpol_rule *rule;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	put_pod(c, "client", "10.0.0.1", "app=client", 0, NULL);
	/* one workload: its selector names 'app' only */
	put_pod(c, "b-1", "10.0.0.2", "app=b,pod-template-hash=abc", 80, "http");
	put_pod(c, "b-2", "10.0.0.3", "app=b", 80, "http");
	flow_set_init(&fs);
	fs.flows = calloc(2, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 2; i++)
		fs.flows[fs.n++].key =
			(struct flow_key){ .src = addr_lit("10.0.0.1"),
					   .dst = addr_lit(i ? "10.0.0.3" : "10.0.0.2"),
					   .proto = IPPROTO_TCP,
					   .port = 80 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 2);

	/* client's egress now reaches pods with a 'pod-template-hash' label
	 * only, a key no other selector names */
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(p.v[i].np.name, "bulkhead-client-egress") == 0)
			pp = &p.v[i];
	assert_non_null(pp);
	for (size_t i = 0; i < pp->np.n_rules[NETPOL_EGRESS]; i++)
		netpol_rule_done(&pp->np.rules[NETPOL_EGRESS][i]);
	pp->np.n_rules[NETPOL_EGRESS] = 1;
	rule = &pp->np.rules[NETPOL_EGRESS][0];
	*rule = (struct netpol_rule){ .n_peers = 1 };
	rule->peers = calloc(1, sizeof(*rule->peers));
	assert_non_null(rule->peers);
	rule->peers[0].pod_sel = calloc(1, sizeof(*rule->peers[0].pod_sel));
	assert_non_null(rule->peers[0].pod_sel);
	selector_init(rule->peers[0].pod_sel);
	assert_int_equal(selector_req_add(rule->peers[0].pod_sel, "pod-template-hash",
					  SELECTOR_OP_EXISTS, NULL, 0),
			 0);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_checked, 2);
	assert_int_equal(p.n_allowed, 1);
	assert_int_equal(p.n_denials, 1);
	assert_int_equal(p.denials[0].flows, 1);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* Ingress from a node address into a pod of that node is always allowed
 * (kubelet probes), so two pods of one class on two nodes answer the node
 * differently.  The self-check memo once kept no node in its key: the first
 * pod asked decided for the other, and the denial was lost. */
static void self_check_memo_respects_nodes(void **state)
{
	struct cluster *c = cluster_new();
	struct node n1 = { .name = strdup("node-1"), .n_addrs = 1 };
	struct proposal_policy *pp = NULL;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	n1.addrs = calloc(1, sizeof(*n1.addrs));
	assert_non_null(n1.addrs);
	n1.addrs[0] = addr_lit("10.100.0.1");
	assert_true(cluster_node_put(c, &n1) >= 0);
	for (int i = 0; i < 2; i++) {
		struct pod pod = { .ns = strdup("ns"),
				   .name = strdup(i ? "api-2" : "api-1"),
				   .node = strdup(i ? "node-2" : "node-1"),
				   .n_ips = 1 };

		labels_lit(&pod.labels, "app=api");
		pod.ips[0] = addr_lit(i ? "10.0.0.3" : "10.0.0.2");
		assert_true(cluster_pod_put(c, &pod) >= 0);
	}
	flow_set_init(&fs);
	fs.flows = calloc(2, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 2; i++)
		fs.flows[fs.n++].key =
			(struct flow_key){ .src = addr_lit("10.100.0.1"),
					   .dst = addr_lit(i ? "10.0.0.3" : "10.0.0.2"),
					   .proto = IPPROTO_TCP,
					   .port = 8080 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 2);

	/* api's ingress now denies everything: only node-1's own pod still
	 * lets node-1 in. */
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(p.v[i].np.name, "bulkhead-api-ingress") == 0)
			pp = &p.v[i];
	assert_non_null(pp);
	for (size_t i = 0; i < pp->np.n_rules[NETPOL_INGRESS]; i++)
		netpol_rule_done(&pp->np.rules[NETPOL_INGRESS][i]);
	pp->np.n_rules[NETPOL_INGRESS] = 0;
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_checked, 2);
	assert_int_equal(p.n_allowed, 1);
	assert_int_equal(p.n_denials, 1);
	assert_string_equal(p.denials[0].dst, "ns/Pod/api");
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* Two workloads of a namespace with one name: both names carry the kind. */
static void policy_names_tell_clashing_workloads_apart(void **state)
{
	struct cluster *c = cluster_new();
	struct pod dep = { .ns = strdup("ns"), .name = strdup("web-5d9f8b7c6d-abcde"), .n_ips = 1 };
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	put_pod(c, "web", "10.0.0.1", "app=web", 0, NULL); /* bare: Pod/web */
	labels_lit(&dep.labels, "app=web,tier=front,pod-template-hash=5d9f8b7c6d");
	dep.ips[0] = addr_lit("10.0.0.2");
	dep.owner = (struct owner_ref){ .kind = strdup("ReplicaSet"),
					.name = strdup("web-5d9f8b7c6d") };
	assert_true(cluster_pod_put(c, &dep) >= 0); /* Deployment/web */
	put_pod(c, "other", "10.0.0.3", "app=other", 80, "http");
	flow_set_init(&fs);
	fs.flows = calloc(2, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 2; i++)
		fs.flows[fs.n++].key =
			(struct flow_key){ .src = addr_lit(i ? "10.0.0.2" : "10.0.0.1"),
					   .dst = addr_lit("10.0.0.3"),
					   .proto = IPPROTO_TCP,
					   .port = 80 };
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(p.n, 6);
	assert_non_null(find(&p, "ns", "bulkhead-web-pod-egress"));
	assert_non_null(find(&p, "ns", "bulkhead-web-deployment-egress"));
	assert_non_null(find(&p, "ns", "bulkhead-other-ingress"));
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* Workload names that read alike once mapped to [a-z0-9-] (bare pods
 * app=a.b and app=a_b), and one that reads like their names with the kind
 * (app=a-b-pod): every policy name is its own, and the self-check allows
 * every flow.  (Two with one name used to replace each other: found by
 * fuzz.propose with owner kinds ReplicaSet and RepLicaSet.) */
static void policy_names_never_collide(void **state)
{
	static const char *const apps[] = { "app=a.b", "app=a_b", "app=a-b-pod" };
	struct cluster *c = cluster_new();
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	size_t hashed = 0;

	(void) state;
	put_pod(c, "p1", "10.0.0.1", apps[0], 0, NULL);
	put_pod(c, "p2", "10.0.0.2", apps[1], 0, NULL);
	put_pod(c, "p3", "10.0.0.3", apps[2], 0, NULL);
	put_pod(c, "srv", "10.0.0.4", "app=srv", 80, "http");
	flow_set_init(&fs);
	fs.flows = calloc(3, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	for (int i = 0; i < 3; i++) {
		char src[16];

		snprintf(src, sizeof(src), "10.0.0.%d", i + 1);
		fs.flows[fs.n++].key = (struct flow_key){ .src = addr_lit(src),
							  .dst = addr_lit("10.0.0.4"),
							  .proto = IPPROTO_TCP,
							  .port = 80 };
	}
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(p.n, 8);
	for (size_t i = 1; i < p.n; i++)
		assert_true(strcmp(p.v[i - 1].np.name, p.v[i].np.name) < 0);
	assert_non_null(find(&p, "ns", "bulkhead-a-b-pod-pod-egress"));
	assert_non_null(find(&p, "ns", "bulkhead-srv-ingress"));
	/* a.b and a_b: bulkhead-a-b-pod-HASH-DIR, HASH 8 hex digits */
	for (size_t i = 0; i < p.n; i++) {
		const char *n = p.v[i].np.name, *h = n + strlen("bulkhead-a-b-pod-");

		if (strncmp(n, "bulkhead-a-b-pod-", strlen("bulkhead-a-b-pod-")) != 0 ||
		    strncmp(h, "pod-", 4) == 0)
			continue;
		assert_int_equal(strspn(h, "0123456789abcdef"), 8);
		assert_true(strcmp(h + 8, "-ingress") == 0 || strcmp(h + 8, "-egress") == 0);
		hashed++;
	}
	assert_int_equal(hashed, 4);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_checked, 3);
	assert_int_equal(p.n_allowed, 3);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/*
 * Issue 18: flows learned before a rollout that gave the old api pod's
 * address (10.1.1.20) to a redis pod created after the flows
 * (tests/golden/propose/rollout-*.json, also golden.propose_rollout).  A
 * flow end belongs to the workload the flow recorded, never to today's
 * owner of its address.
 */
#define ROLLOUT BH_SOURCE_DIR "/tests/golden/propose/rollout-"
#define ROLLOUT_FE "frontend-6b7f8c9d5-aaaaa"
#define ROLLOUT_API "api-7c9d8f6b4-bbbbb"
#define ROLLOUT_REDIS "redis-8f6d5c4b7-ccccc"

static void rollout_load(struct app *a)
{
	const char *snap = ROLLOUT "snapshot.json";
	struct bh_err err = { 0 };

	memset(a, 0, sizeof(*a));
	flow_set_init(&a->flows);
	assert_int_equal(snapshot_load_files(&snap, 1, &a->c, NULL, &err), 0);
	assert_int_equal(flows_json_load(&a->flows, ROLLOUT "flows.json", &err), 0);
	assert_int_equal(a->flows.n, 2);
}

/* The engine's verdict on @src_pod -> @dst_pod with the proposal alone. */
static bool proposal_allows(const struct cluster *c, const struct proposal *p, const char *src_ns,
			    const char *src_pod, const char *dst_ns, const char *dst_pod,
			    uint16_t port)
{
	struct cluster *cc = with_proposal(c, p);
	struct engine_ep src, dst;
	struct engine *e;
	bool allowed;

	assert_int_equal(engine_new(cc, &e), 0);
	assert_non_null(cluster_pod_find(cc, src_ns, src_pod));
	assert_non_null(cluster_pod_find(cc, dst_ns, dst_pod));
	engine_ep_pod(e, cluster_pod_find(cc, src_ns, src_pod), AF_INET, &src);
	engine_ep_pod(e, cluster_pod_find(cc, dst_ns, dst_pod), AF_INET, &dst);
	allowed = engine_allowed(e, &src, &dst, IPPROTO_TCP, port);
	engine_free(e);
	cluster_free(cc);
	return allowed;
}

static void rollout_reused_address(void **state)
{
	const struct proposal_policy *pp;
	const struct netpol_rule *r;
	struct propose_opts o;
	struct bh_err err = { 0 };
	struct app a;

	(void) state;
	rollout_load(&a);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&a.flows, a.c, &o, &a.p, &err), 0);

	/* api, the recorded workload, gets the flows: frontend in, redis out */
	pp = find(&a.p, "shop", "bulkhead-api-ingress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_INGRESS], 1);
	r = &pp->np.rules[NETPOL_INGRESS][0];
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "frontend");
	pp = find(&a.p, "shop", "bulkhead-api-egress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 1);
	r = &pp->np.rules[NETPOL_EGRESS][0];
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "redis");
	assert_int_equal(r->ports[0].port, 6379);
	/* frontend's egress goes to api, not to the address's new owner */
	pp = find(&a.p, "shop", "bulkhead-frontend-egress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 1);
	r = &pp->np.rules[NETPOL_EGRESS][0];
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "api");
	/* redis is reached by api only, and reaches nobody */
	pp = find(&a.p, "data", "bulkhead-redis-ingress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_INGRESS], 1);
	r = &pp->np.rules[NETPOL_INGRESS][0];
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "api");
	pp = find(&a.p, "data", "bulkhead-redis-egress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 0);
	assert_int_equal(a.p.n, 6);

	/* what the engine makes of it */
	assert_true(proposal_allows(a.c, &a.p, "shop", ROLLOUT_FE, "shop", ROLLOUT_API, 8080));
	assert_true(proposal_allows(a.c, &a.p, "shop", ROLLOUT_API, "data", ROLLOUT_REDIS, 6379));
	assert_false(proposal_allows(a.c, &a.p, "shop", ROLLOUT_FE, "data", ROLLOUT_REDIS, 8080));

	assert_int_equal(propose_self_check(&a.p, &a.flows, a.c, &err), 0);
	assert_int_equal(a.p.n_checked, 2);
	assert_int_equal(a.p.n_allowed, 2);
	assert_int_equal(a.p.n_flows_unplaced, 0);
	assert_int_equal(proposal_uncovered(&a.p), 0);
	app_done(&a);
}

/* The api Deployment is gone: no workload can take its flows, and the
 * address's owner came later.  They are counted, not given to redis, and
 * the self-check cannot call the proposal complete. */
static void rollout_workload_gone_not_placed(void **state)
{
	struct propose_opts o;
	struct bh_err err = { 0 };
	struct app a;

	(void) state;
	rollout_load(&a);
	assert_int_equal(cluster_pod_remove(a.c, "shop", ROLLOUT_API), 1);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&a.flows, a.c, &o, &a.p, &err), 0);
	assert_null(find(&a.p, "data", "bulkhead-redis-ingress"));
	assert_null(find(&a.p, "shop", "bulkhead-frontend-egress"));
	assert_int_equal(a.p.n, 0);
	assert_int_equal(a.p.n_flows, 2);
	assert_int_equal(a.p.n_flows_unplaced, 2);
	assert_int_equal(a.p.n_unplaced, 2);
	/* sorted by source */
	assert_string_equal(a.p.unplaced[0].src,
			    "10.1.1.10 shop/" ROLLOUT_FE " (shop/Deployment/frontend)");
	assert_string_equal(a.p.unplaced[0].dst, "10.1.1.20 shop/api-5d4c8b7f9-aaaaa "
						 "(shop/Deployment/api)");
	assert_int_equal(a.p.unplaced[0].port, 8080);
	assert_int_equal(a.p.unplaced[0].flows, 1);
	assert_non_null(strstr(a.p.unplaced[0].why,
			       "10.1.1.20 is now data/" ROLLOUT_REDIS ", created after the flow"));
	assert_string_equal(a.p.unplaced[1].dst, "10.2.1.40 data/redis-6d5c4b7f8-aaaaa "
						 "(data/Deployment/redis)");
	assert_int_equal(propose_self_check(&a.p, &a.flows, a.c, &err), 0);
	assert_int_equal(a.p.n_checked, 0);
	assert_int_equal(a.p.n_allowed, 0);
	assert_int_equal(proposal_uncovered(&a.p), 2);
	app_done(&a);
}

/* A flow learned without cluster state names addresses only: the address's
 * owner takes it only if it existed when the flow was last seen. */
static void unresolved_flow_needs_an_owner_as_old_as_the_flow(void **state)
{
	struct propose_opts o;
	struct bh_err err = { 0 };
	struct flow_set fs;
	struct app a;

	(void) state;
	rollout_load(&a);
	flow_set_init(&fs);
	fs.flows = calloc(1, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	fs.n = 1;
	fs.flows[0].key = (struct flow_key){ .src = addr_lit("10.1.1.10"),
					     .dst = addr_lit("10.1.1.20"),
					     .proto = IPPROTO_TCP,
					     .port = 8080 };
	fs.flows[0].first_seen = 1795329000; /* 2026-11-22T06:30:00Z */
	fs.flows[0].last_seen = 1795330200; /* before redis was created */
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, a.c, &o, &a.p, &err), 0);
	assert_null(find(&a.p, "data", "bulkhead-redis-ingress"));
	assert_int_equal(a.p.n, 0);
	assert_int_equal(a.p.n_flows_unplaced, 1);
	assert_int_equal(propose_self_check(&a.p, &fs, a.c, &err), 0);
	assert_int_equal(proposal_uncovered(&a.p), 1);
	proposal_done(&a.p);

	fs.flows[0].last_seen = 1795428000; /* 2026-11-23T10:00:00Z: redis's */
	assert_int_equal(propose_build(&fs, a.c, &o, &a.p, &err), 0);
	assert_non_null(find(&a.p, "data", "bulkhead-redis-ingress"));
	assert_int_equal(a.p.n_flows_unplaced, 0);
	assert_int_equal(propose_self_check(&a.p, &fs, a.c, &err), 0);
	assert_int_equal(a.p.n_allowed, 1);
	assert_int_equal(proposal_uncovered(&a.p), 0);
	flow_set_done(&fs);
	app_done(&a);
}

/* A policy without a rule denies all of its direction; the proposal says
 * which and why, and only for those. */
static void deny_all_policies_say_why(void **state)
{
	const struct proposal_policy *pp;
	size_t n = 0;
	struct app a;

	(void) state;
	app_load(&a, false, NULL);
	for (size_t i = 0; i < a.p.n; i++) {
		pp = &a.p.v[i];
		assert_int_equal(pp->denies_all != NULL, pp->np.n_rules[pp->dir] == 0);
		n += pp->denies_all != NULL;
	}
	/* worker and report only connect; redis only answers */
	pp = find(&a.p, "shop", "bulkhead-worker-ingress");
	assert_non_null(pp->denies_all);
	assert_non_null(strstr(pp->denies_all, "only seen as a client"));
	pp = find(&a.p, "data", "bulkhead-redis-egress");
	assert_non_null(pp->denies_all);
	assert_non_null(strstr(pp->denies_all, "only seen as a server"));
	assert_null(find(&a.p, "shop", "bulkhead-api-ingress")->denies_all);
	assert_null(find(&a.p, "shop", "bulkhead-api-egress")->denies_all);
	assert_true(n >= 3);
	app_done(&a);
}

/*
 * Issue 13, "workload naming": a flow learned (identity) to a pod of a
 * ReplicaSet whose name ends in something that is not a
 * pod-template-hash, with no such label, and the pod replaced since:
 * propose must find the workload learn recorded, and write a workload rule
 * (it used to get nothing, or an ipBlock of the old address).
 */
static void learned_workload_is_found_after_replacement(void **state)
{
	struct cluster *learned = cluster_new(), *now = cluster_new();
	const struct proposal_policy *pp;
	const struct netpol_rule *r;
	struct identity *id;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	struct pod old = { .ns = strdup("ns"), .name = strdup("api-abcde-xxxxx"), .n_ips = 1 };
	struct pod repl = { .ns = strdup("ns"), .name = strdup("api-abcde-yyyyy"), .n_ips = 1 };

	(void) state;
	put_pod(learned, "client", "10.0.0.1", "app=client", 0, NULL);
	put_pod(now, "client", "10.0.0.1", "app=client", 0, NULL);
	labels_lit(&old.labels, "app=api");
	labels_lit(&repl.labels, "app=api");
	old.ips[0] = addr_lit("10.0.0.2");
	repl.ips[0] = addr_lit("10.0.0.3");
	old.owner = (struct owner_ref){ .kind = strdup("ReplicaSet"), .name = strdup("api-abcde") };
	repl.owner =
		(struct owner_ref){ .kind = strdup("ReplicaSet"), .name = strdup("api-abcde") };
	assert_true(cluster_pod_put(learned, &old) >= 0);
	assert_true(cluster_pod_put(now, &repl) >= 0);

	/* learn: the flow's ends resolved against the cluster of then */
	flow_set_init(&fs);
	fs.flows = calloc(1, sizeof(*fs.flows));
	assert_non_null(fs.flows);
	fs.n = 1;
	fs.flows[0].key = (struct flow_key){ .src = addr_lit("10.0.0.1"),
					     .dst = addr_lit("10.0.0.2"),
					     .proto = IPPROTO_TCP,
					     .port = 8080 };
	assert_int_equal(identity_new(learned, &id), 0);
	assert_int_equal(identity_resolve(id, &fs.flows[0].key.src, 1, &fs.flows[0].src_peer), 0);
	assert_int_equal(identity_resolve(id, &fs.flows[0].key.dst, 1, &fs.flows[0].dst_peer), 0);
	identity_free(id);
	assert_int_equal(fs.flows[0].dst_peer.kind, FLOW_PEER_POD);

	/* propose, after the pod was replaced */
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, now, &o, &p, &err), 0);
	assert_int_equal(p.n_flows_unplaced, 0);
	pp = find(&p, "ns", "bulkhead-client-egress");
	assert_non_null(pp);
	assert_int_equal(pp->np.n_rules[NETPOL_EGRESS], 1);
	r = &pp->np.rules[NETPOL_EGRESS][0];
	assert_int_equal(r->peers[0].kind, NETPOL_PEER_SELECTOR);
	assert_string_equal(labels_get(&r->peers[0].pod_sel->match_labels, "app"), "api");
	assert_non_null(find(&p, "ns", "bulkhead-api-abcde-ingress"));
	assert_int_equal(propose_self_check(&p, &fs, now, &err), 0);
	assert_int_equal(proposal_uncovered(&p), 0);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(learned);
	cluster_free(now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allows_observed_denies_the_rest),
		cmocka_unit_test(order_independent),
		cmocka_unit_test(shape_of_rules),
		cmocka_unit_test(one_direction),
		cmocka_unit_test(self_check_reports_denials),
		cmocka_unit_test(self_check_memo_respects_addresses),
		cmocka_unit_test(self_check_memo_respects_selectors),
		cmocka_unit_test(aggregation_is_opt_in),
		cmocka_unit_test(named_port_only_when_unambiguous),
		cmocka_unit_test(policy_names_are_dns_names),
		cmocka_unit_test(policy_names_tell_clashing_workloads_apart),
		cmocka_unit_test(policy_names_never_collide),
		cmocka_unit_test(rollout_reused_address),
		cmocka_unit_test(rollout_workload_gone_not_placed),
		cmocka_unit_test(unresolved_flow_needs_an_owner_as_old_as_the_flow),
		cmocka_unit_test(deny_all_policies_say_why),
		cmocka_unit_test(learned_workload_is_found_after_replacement),
		cmocka_unit_test(self_check_memo_respects_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
