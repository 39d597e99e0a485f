/*
 * propose and the cluster's existing NetworkPolicies (docs/propose.md,
 * "Existing policies"): a pod an existing policy isolates in a direction
 * gets no proposed policy for it, and the self-check evaluates existing and
 * proposed policies together.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "propose.h"
#include "proto.h"
#include "testutil.h"

static void put_pod(struct cluster *c, const char *name, const char *ip, const char *app)
{
	struct pod p = { .ns = strdup("ns"), .name = strdup(name), .n_ips = 1 };

	labels_lit(&p.labels, app);
	p.ips[0] = addr_lit(ip);
	assert_true(cluster_pod_put(c, &p) >= 0);
}

/* Policy @name of namespace "ns" isolating the ingress of the pods labelled
 * @self, allowing @from_app (NULL: nobody) on TCP @port. */
static void put_ingress_policy(struct cluster *c, const char *name, const char *self,
			       const char *from, uint16_t port, enum netpol_origin origin)
{
	struct netpol np;
	struct netpol_rule *r;

	netpol_init(&np);
	np.ns = strdup("ns");
	np.name = strdup(name);
	np.origin = origin;
	labels_lit(&np.pod_sel.match_labels, self);
	np.types[NETPOL_INGRESS] = true;
	if (from) {
		r = calloc(1, sizeof(*r));
		assert_non_null(r);
		r->ports = calloc(1, sizeof(*r->ports));
		r->peers = calloc(1, sizeof(*r->peers));
		assert_non_null(r->ports);
		assert_non_null(r->peers);
		r->ports[0] = (struct netpol_port){ .protocol = IPPROTO_TCP,
						    .kind = NETPOL_PORT_NUMBER,
						    .port = port };
		r->n_ports = 1;
		r->peers[0] = (struct netpol_peer){ .kind = NETPOL_PEER_SELECTOR };
		r->peers[0].pod_sel = malloc(sizeof(*r->peers[0].pod_sel));
		assert_non_null(r->peers[0].pod_sel);
		selector_init(r->peers[0].pod_sel);
		labels_lit(&r->peers[0].pod_sel->match_labels, from);
		r->n_peers = 1;
		np.rules[NETPOL_INGRESS] = r;
		np.n_rules[NETPOL_INGRESS] = 1;
	}
	assert_true(cluster_policy_put(c, &np) >= 0);
}

static void add_flow(struct flow_set *fs, const char *src, const char *dst, uint16_t port)
{
	struct flow_record *v = realloc(fs->flows, (fs->n + 1) * sizeof(*v));

	assert_non_null(v);
	fs->flows = v;
	v[fs->n++] = (struct flow_record){ .key = { .src = addr_lit(src),
						    .dst = addr_lit(dst),
						    .proto = IPPROTO_TCP,
						    .port = port } };
}

static const struct proposal_policy *find(const struct proposal *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].np.name, name) == 0)
			return &p->v[i];
	return NULL;
}

/* client -> api:8080, api -> db:5432, client -> db:5432; db's ingress is
 * isolated by an existing policy that lets api in only. */
static void app_named(struct cluster **ret_c, struct flow_set *fs, const char *policy)
{
	struct cluster *c = cluster_new();

	assert_non_null(c);
	put_pod(c, "client", "10.0.0.1", "app=client");
	put_pod(c, "api", "10.0.0.2", "app=api");
	put_pod(c, "db", "10.0.0.3", "app=db");
	put_ingress_policy(c, policy, "app=db", "app=api", 5432, NETPOL_ORIGIN_CLUSTER);
	flow_set_init(fs);
	add_flow(fs, "10.0.0.1", "10.0.0.2", 8080);
	add_flow(fs, "10.0.0.2", "10.0.0.3", 5432);
	add_flow(fs, "10.0.0.1", "10.0.0.3", 5432);
	*ret_c = c;
}

static void app(struct cluster **ret_c, struct flow_set *fs)
{
	app_named(ret_c, fs, "db-from-api");
}

static void isolated_pod_gets_no_policy(void **state)
{
	struct cluster *c;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	app(&c, &fs);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_null(find(&p, "bulkhead-db-ingress"));
	assert_non_null(find(&p, "bulkhead-db-egress"));
	assert_non_null(find(&p, "bulkhead-api-ingress"));
	assert_non_null(find(&p, "bulkhead-client-egress"));
	assert_int_equal(p.n, 5);
	assert_int_equal(p.n_existing_isolated, 1);

	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_checked, 3);
	/* client -> api by the proposal, api -> db by the existing policy */
	assert_int_equal(p.n_allowed, 2);
	assert_int_equal(p.n_existing_allowed, 1);
	/* client -> db: the existing policy denies it, not the proposal */
	assert_int_equal(p.n_existing_denied, 1);
	assert_int_equal(p.n_denials, 0);
	assert_int_equal(proposal_uncovered(&p), 0);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* Policies of another origin (a proposal compiled into the cluster model)
 * are as if absent: they neither isolate nor take part in the self-check. */
static void other_origins_are_ignored(void **state)
{
	struct cluster *c;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	app(&c, &fs);
	put_ingress_policy(c, NETPOL_PROPOSAL_PREFIX "api-deny", "app=api", NULL, 0,
			   NETPOL_ORIGIN_PREVIEW);
	put_ingress_policy(c, NETPOL_PROPOSAL_PREFIX "client-deny", "app=client", NULL, 0,
			   NETPOL_ORIGIN_ENFORCE);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_non_null(find(&p, "bulkhead-api-ingress"));
	assert_non_null(find(&p, "bulkhead-client-ingress"));
	assert_int_equal(p.n_existing_isolated, 1);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 2);
	assert_int_equal(p.n_existing_denied, 1);
	assert_int_equal(p.n_denials, 0);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* A proposed policy named like an existing one replaces nothing in the
 * self-check: both are evaluated. */
static void same_name_is_no_replacement(void **state)
{
	struct cluster *c;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };

	(void) state;
	/* db's existing allow is named as propose names api's egress, and
	 * another existing policy isolates db too: were the allow replaced,
	 * api -> db would be denied */
	app_named(&c, &fs, "bulkhead-api-egress");
	put_ingress_policy(c, "db-deny", "app=db", NULL, 0, NETPOL_ORIGIN_CLUSTER);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_null(find(&p, "bulkhead-db-ingress"));
	assert_non_null(find(&p, "bulkhead-api-egress"));
	assert_int_equal(p.n_existing_isolated, 1);
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 2);
	assert_int_equal(p.n_existing_allowed, 1);
	assert_int_equal(p.n_denials, 0);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

/* What the existing policies alone allow does not hide a denial of the
 * proposal: a proposal policy narrowed by hand is still caught. */
static void proposal_denials_still_count(void **state)
{
	struct cluster *c;
	struct flow_set fs;
	struct propose_opts o;
	struct proposal p;
	struct bh_err err = { 0 };
	struct proposal_policy *pp;

	(void) state;
	app(&c, &fs);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	pp = (struct proposal_policy *) find(&p, "bulkhead-api-ingress");
	assert_non_null(pp);
	for (size_t i = 0; i < pp->np.n_rules[NETPOL_INGRESS]; i++)
		netpol_rule_done(&pp->np.rules[NETPOL_INGRESS][i]);
	pp->np.n_rules[NETPOL_INGRESS] = 0;
	assert_int_equal(propose_self_check(&p, &fs, c, &err), 0);
	assert_int_equal(p.n_allowed, 1);
	assert_int_equal(p.n_existing_denied, 1);
	assert_int_equal(p.n_denials, 1);
	assert_string_equal(p.denials[0].dst, "ns/Pod/api");
	assert_int_equal(proposal_uncovered(&p), 1);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(isolated_pod_gets_no_policy),
		cmocka_unit_test(other_origins_are_ignored),
		cmocka_unit_test(same_name_is_no_replacement),
		cmocka_unit_test(proposal_denials_still_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
