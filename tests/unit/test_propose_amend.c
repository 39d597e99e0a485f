/*
 * propose_amend(): one flow's rule added to a proposal, as propose writes
 * it; and a stored proposal read back (proposal_doc_decode()) and written
 * again byte for byte.
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

#include "flows_json.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
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

static void app_load(struct app *a)
{
	const char *snap = APP "snapshot.json";
	struct propose_opts o;
	struct bh_err err = { 0 };

	memset(a, 0, sizeof(*a));
	flow_set_init(&a->flows);
	assert_int_equal(snapshot_load_files(&snap, 1, &a->c, NULL, &err), 0);
	assert_int_equal(flows_json_load(&a->flows, APP "flows-node-1.json", &err), 0);
	assert_int_equal(flows_json_load(&a->flows, APP "flows-node-2.json", &err), 0);
	propose_opts_init(&o);
	assert_int_equal(propose_build(&a->flows, a->c, &o, &a->p, &err), 0);
}

static void app_done(struct app *a)
{
	proposal_done(&a->p);
	flow_set_done(&a->flows);
	cluster_free(a->c);
}

static char *emit(const struct proposal *p)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	assert_int_equal(netpol_emit_list_json(p, &b), 0);
	return buf_steal(&b);
}

/* The proposal as stored, read back. */
static void reload(const struct proposal *p, struct proposal *ret)
{
	struct bh_err err = { 0 };
	char *s = emit(p);

	assert_int_equal(proposal_doc_decode(s, strlen(s), ret, &err), 0);
	free(s);
}

static struct proposal_policy *find(struct proposal *p, const char *ns, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].np.ns, ns) == 0 && strcmp(p->v[i].np.name, name) == 0)
			return &p->v[i];
	return NULL;
}

static void decode_round_trip(void **state)
{
	struct app a;
	struct proposal q;
	struct bh_err err = { 0 };
	char *s1, *s2;

	(void) state;
	app_load(&a);
	s1 = emit(&a.p);
	assert_int_equal(proposal_doc_decode(s1, strlen(s1), &q, &err), 0);
	assert_int_equal(q.n, a.p.n);
	/* (a named port keeps its number in propose's model, not in the
	 * List: compared as text) */
	for (size_t i = 0; i < q.n; i++)
		assert_int_equal(q.v[i].dir, a.p.v[i].dir);
	s2 = emit(&q);
	assert_string_equal(s1, s2);
	proposal_done(&q);
	free(s2);

	assert_int_equal(proposal_doc_decode("{", 1, &q, &err), -EBADMSG);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	s2 = strstr(s1, "NetworkPolicy");
	memcpy(s2, "NetworkPolicx", 13);
	assert_int_equal(proposal_doc_decode(s1, strlen(s1), &q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "items[0]"));
	free(s1);
	app_done(&a);
}

/*
 * The rule added for a flow is the rule propose writes for that flow when
 * it is learned: worker -> redis on 6379 is in the application; taken out
 * of the flows and allowed afterwards, the same rule comes back.
 */
static void amend_writes_what_propose_writes(void **state)
{
	static const struct {
		enum netpol_dir dir;
		const char *policy, *src, *dst;
		uint16_t port;
	} cases[] = {
		{ NETPOL_INGRESS, "bulkhead-redis-ingress", "shop/Deployment/worker",
		  "data/Deployment/redis", 6379 },
		{ NETPOL_EGRESS, "bulkhead-worker-egress", "shop/Deployment/worker",
		  "data/Deployment/redis", 6379 },
	};
	struct app a, b;
	struct bh_err err = { 0 };

	(void) state;
	app_load(&a);
	for (size_t k = 0; k < BH_ARRAY_SIZE(cases); k++) {
		const char *ns = cases[k].dir == NETPOL_INGRESS ? "data" : "shop";
		const struct propose_amend_flow f = { .dir = cases[k].dir,
						      .src = cases[k].src,
						      .dst = cases[k].dst,
						      .port = cases[k].port,
						      .proto = IPPROTO_TCP };
		struct proposal_policy *want, *got;
		struct proposal q;
		size_t n_rules, kept = 0;
		struct propose_opts o;
		bool changed = true;
		struct netpol one_want, one_got;

		/* the same flows without worker -> redis */
		memset(&b, 0, sizeof(b));
		flow_set_init(&b.flows);
		b.c = a.c;
		for (size_t i = 0; i < a.flows.n; i++) {
			const struct flow_record *r = &a.flows.flows[i];

			if (r->key.port == 6379 && r->src_peer.workload_name &&
			    strcmp(r->src_peer.workload_name, "worker") == 0)
				continue;
			kept++;
		}
		assert_true(kept < a.flows.n);
		b.flows.flows = calloc(kept, sizeof(*b.flows.flows));
		assert_non_null(b.flows.flows);
		for (size_t i = 0; i < a.flows.n; i++) {
			const struct flow_record *r = &a.flows.flows[i];

			if (r->key.port == 6379 && r->src_peer.workload_name &&
			    strcmp(r->src_peer.workload_name, "worker") == 0)
				continue;
			b.flows.flows[b.flows.n++] = *r;
		}
		propose_opts_init(&o);
		assert_int_equal(propose_build(&b.flows, a.c, &o, &b.p, &err), 0);
		reload(&b.p, &q);
		got = find(&q, ns, cases[k].policy);
		assert_non_null(got);
		n_rules = got->np.n_rules[cases[k].dir];

		assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), 0);
		assert_true(changed);
		assert_int_equal(got->np.n_rules[cases[k].dir], n_rules + 1);
		assert_non_null(strstr(labels_get(&got->annotations, "bulkhead.io/peers"),
				       "(allowed from an alert)"));
		/* the rule propose wrote when it learned the flow */
		want = find(&a.p, ns, cases[k].policy);
		assert_non_null(want);
		one_got = got->np;
		one_got.n_rules[cases[k].dir] = 1;
		one_got.rules[cases[k].dir] = &got->np.rules[cases[k].dir][n_rules];
		one_want = want->np;
		one_want.n_rules[cases[k].dir] = 0;
		for (size_t i = 0; i < want->np.n_rules[cases[k].dir]; i++) {
			one_want.n_rules[cases[k].dir] = 1;
			one_want.rules[cases[k].dir] = &want->np.rules[cases[k].dir][i];
			if (netpol_compiled_equal(&one_want, &one_got))
				break;
			one_want.n_rules[cases[k].dir] = 0;
		}
		assert_int_equal(one_want.n_rules[cases[k].dir], 1);

		/* idempotent */
		assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), 0);
		assert_false(changed);
		assert_int_equal(got->np.n_rules[cases[k].dir], n_rules + 1);
		proposal_done(&q);
		proposal_done(&b.p);
		free(b.flows.flows);
	}
	app_done(&a);
}

/* An address peer becomes a /32 ipBlock; a flow already allowed (by a
 * rule with more ports) changes nothing. */
static void amend_address_and_already_allowed(void **state)
{
	struct app a;
	struct proposal q;
	struct bh_err err = { 0 };
	struct proposal_policy *pp;
	const struct netpol_rule *r;
	bool changed;
	struct propose_amend_flow f = { .dir = NETPOL_EGRESS,
					.src = "shop/Deployment/api",
					.dst = "192.0.2.77",
					.port = 443,
					.proto = IPPROTO_TCP };
	char s[64];

	(void) state;
	app_load(&a);
	reload(&a.p, &q);
	pp = find(&q, "shop", "bulkhead-api-egress");
	assert_non_null(pp);
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), 0);
	assert_true(changed);
	r = &pp->np.rules[NETPOL_EGRESS][pp->np.n_rules[NETPOL_EGRESS] - 1];
	assert_int_equal(r->n_peers, 1);
	assert_int_equal(r->peers[0].kind, NETPOL_PEER_IPBLOCK);
	assert_string_equal(cidr_format(&r->peers[0].cidr, s, sizeof(s)), "192.0.2.77/32");
	assert_int_equal(r->n_ports, 1);
	assert_int_equal(r->ports[0].port, 443);
	/* written as a CIDR, the same peer */
	f.dst = "192.0.2.77/32";
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), 0);
	assert_false(changed);
	/* worker -> api on 9001: learned (ports 9000-9002 in one rule) */
	f = (struct propose_amend_flow){ .dir = NETPOL_INGRESS,
					 .src = "shop/Deployment/worker",
					 .dst = "shop/Deployment/api",
					 .port = 9001,
					 .proto = IPPROTO_TCP };
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), 0);
	assert_false(changed);
	proposal_done(&q);
	app_done(&a);
}

static void amend_errors_name_the_peer(void **state)
{
	struct app a;
	struct proposal q;
	struct bh_err err = { 0 };
	bool changed = true;
	struct propose_amend_flow f = { .dir = NETPOL_INGRESS,
					.src = "shop/Deployment/frontend",
					.dst = "shop/Deployment/nosuch",
					.port = 80,
					.proto = IPPROTO_TCP };

	(void) state;
	app_load(&a);
	reload(&a.p, &q);
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), -ENOENT);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "shop/Deployment/nosuch"));
	assert_true(changed);

	/* the deciding side is an address */
	f.dst = "192.0.2.1";
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "192.0.2.1"));

	/* not a peer at all */
	f.dst = "not a peer";
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);

	/* a workload without a proposed policy: debug was never seen */
	f.dst = "shop/Pod/debug";
	assert_int_equal(propose_amend(&q, a.c, &f, &changed, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no proposed ingress policy for shop/Pod/debug"));
	proposal_done(&q);
	app_done(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_round_trip),
		cmocka_unit_test(amend_writes_what_propose_writes),
		cmocka_unit_test(amend_address_and_already_allowed),
		cmocka_unit_test(amend_errors_name_the_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
