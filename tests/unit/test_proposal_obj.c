#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster_api.h"
#include "flows_json.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
#include "proposal_obj.h"
#include "propose.h"
#include "snapshot.h"
#include "testutil.h"

#define APP BH_TEST_DATA "/propose/"
#define COMPUTED_AT 1796378700123LL /* 2026-12-04T10:05:00.123Z */

/* The application of tests/data/propose: two nodes' flows, their union,
 * the proposal over it and every namespace's Proposal objects. */
struct app {
	struct cluster *c;
	struct flow_set node[2], all;
	struct proposal p;
	json_t *objs; /* every namespace's, one array */
};

static void app_load(struct app *a)
{
	const char *snap = APP "snapshot.json";
	const char *files[2] = { APP "flows-node-1.json", APP "flows-node-2.json" };
	const struct proposal_obj_node nodes[2] = {
		/* given in reverse: the objects list nodes by name */
		{ .name = "node-2", .flows = &a->node[1] },
		{ .name = "node-1", .flows = &a->node[0] },
	};
	struct propose_opts o;
	struct bh_err err = { 0 };

	memset(a, 0, sizeof(*a));
	propose_opts_init(&o);
	flow_set_init(&a->all);
	assert_int_equal(snapshot_load_files(&snap, 1, &a->c, NULL, &err), 0);
	for (size_t i = 0; i < 2; i++) {
		flow_set_init(&a->node[i]);
		assert_int_equal(flows_json_load(&a->node[i], files[i], &err), 0);
		assert_int_equal(flows_json_load(&a->all, files[i], &err), 0);
	}
	assert_int_equal(propose_build(&a->all, a->c, &o, &a->p, &err), 0);
	assert_int_equal(propose_self_check(&a->p, &a->all, a->c, &err), 0);
	a->objs = json_array();
	assert_non_null(a->objs);
	for (size_t i = 0; i < a->p.n; i++) {
		json_t *v = NULL;

		if (i && strcmp(a->p.v[i].np.ns, a->p.v[i - 1].np.ns) == 0)
			continue;
		assert_int_equal(proposal_obj_build(&a->p, a->c, a->p.v[i].np.ns, nodes, 2,
						    COMPUTED_AT, &v, &err),
				 0);
		assert_int_equal(json_array_extend(a->objs, v), 0);
		json_decref(v);
	}
}

static void app_done(struct app *a)
{
	json_decref(a->objs);
	proposal_done(&a->p);
	for (size_t i = 0; i < 2; i++)
		flow_set_done(&a->node[i]);
	flow_set_done(&a->all);
	cluster_free(a->c);
}

static const json_t *obj_find(const json_t *objs, const char *ns, const char *name)
{
	for (size_t i = 0; i < json_array_size(objs); i++) {
		const json_t *md = json_object_get(json_array_get(objs, i), "metadata");

		if (strcmp(json_string_value(json_object_get(md, "namespace")), ns) == 0 &&
		    strcmp(json_string_value(json_object_get(md, "name")), name) == 0)
			return json_array_get(objs, i);
	}
	return NULL;
}

/* propose -> objects -> List -> proposal_doc_decode: the policies propose
 * made, byte for byte as the agent stores them. */
static void round_trip(void **state)
{
	struct app a;
	struct buf want, got;
	struct proposal back = { 0 }, direct = { 0 };
	struct bh_err err = { 0 };

	(void) state;
	app_load(&a);
	assert_true(a.p.n > 4);
	buf_init(&want, SIZE_MAX);
	buf_init(&got, SIZE_MAX);
	assert_int_equal(netpol_emit_list_json(&a.p, &want), 0);
	assert_int_equal(proposal_obj_to_list(a.objs, &got, &err), 0);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_int_equal(proposal_doc_decode(got.data, got.len, &back, &err), 0);
	assert_int_equal(proposal_doc_decode(want.data, want.len, &direct, &err), 0);
	assert_int_equal(back.n, a.p.n);
	for (size_t i = 0; i < back.n; i++) {
		assert_string_equal(back.v[i].np.ns, a.p.v[i].np.ns);
		assert_string_equal(back.v[i].np.name, a.p.v[i].np.name);
		/* equal to what the stored List decodes to (propose's own
		 * selectors may hold the same rule in another form) */
		assert_true(netpol_compiled_equal(&back.v[i].np, &direct.v[i].np));
		assert_int_equal(back.v[i].annotations.n, a.p.v[i].annotations.n);
		assert_int_equal(back.v[i].labels.n, a.p.v[i].labels.n);
	}
	/* objects in another order: the same List */
	{
		json_t *rev = json_array();

		for (size_t i = json_array_size(a.objs); i-- > 0;)
			assert_int_equal(json_array_append(rev, json_array_get(a.objs, i)), 0);
		buf_reset(&got);
		assert_int_equal(proposal_obj_to_list(rev, &got, &err), 0);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
		json_decref(rev);
	}
	proposal_done(&back);
	proposal_done(&direct);
	buf_done(&want);
	buf_done(&got);
	app_done(&a);
}

/* One object per workload, its policies and the flows of both nodes. */
static void objects(void **state)
{
	const json_t *api, *spec, *pols, *rules, *fl = NULL;
	struct app a;
	size_t n_policies = 0;

	(void) state;
	app_load(&a);
	for (size_t i = 0; i < json_array_size(a.objs); i++) {
		const json_t *o = json_array_get(a.objs, i);

		assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
				    CLUSTER_API_GROUP_VERSION);
		assert_string_equal(json_string_value(json_object_get(o, "kind")),
				    CLUSTER_PROPOSAL_KIND);
		n_policies +=
			json_array_size(json_object_get(json_object_get(o, "spec"), "policies"));
	}
	assert_int_equal(n_policies, a.p.n);
	assert_true(json_array_size(a.objs) < a.p.n); /* grouped by workload */

	api = obj_find(a.objs, "shop", "bulkhead-api");
	assert_non_null(api);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(api, "metadata"), "labels"),
				    CLUSTER_MANAGED_BY_LABEL)),
			    CLUSTER_MANAGED_BY);
	spec = json_object_get(api, "spec");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "workload"), "kind")),
		"Deployment");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "workload"), "name")),
		"api");
	assert_string_equal(json_string_value(json_object_get(spec, "computedAt")),
			    "2026-12-04T10:05:00.123Z");
	assert_int_equal(json_array_size(json_object_get(spec, "nodes")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "nodes"), 0)),
			    "node-1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "nodes"), 1)),
			    "node-2");
	assert_non_null(json_object_get(json_object_get(spec, "window"), "learnedFrom"));
	pols = json_object_get(spec, "policies");
	assert_int_equal(json_array_size(pols), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pols, 0), "name")),
			    "bulkhead-api-egress");
	assert_string_equal(json_string_value(json_object_get(json_array_get(pols, 1), "name")),
			    "bulkhead-api-ingress");
	/* one rule entry per spec.ingress[i] */
	rules = json_object_get(json_array_get(pols, 1), "rules");
	assert_int_equal(json_array_size(rules),
			 json_array_size(json_object_get(
				 json_object_get(json_array_get(pols, 1), "spec"), "ingress")));
	for (size_t i = 0; i < json_array_size(rules) && !fl; i++) {
		const json_t *flows = json_object_get(json_array_get(rules, i), "flows");

		for (size_t k = 0; k < json_array_size(flows); k++) {
			const json_t *f = json_array_get(flows, k);

			if (strcmp(json_string_value(json_object_get(f, "src")),
				   "shop/Deployment/frontend") == 0)
				fl = f;
		}
	}
	assert_non_null(fl);
	assert_string_equal(json_string_value(json_object_get(fl, "dst")), "shop/Deployment/api");
	assert_string_equal(json_string_value(json_object_get(fl, "protocol")), "TCP");
	assert_int_equal(json_integer_value(json_object_get(fl, "port")), 8080);
	/* the flows files' records frontend -> api:8080, both nodes summed */
	assert_int_equal(json_integer_value(json_object_get(fl, "connections")), 61);
	assert_string_equal(json_string_value(json_object_get(fl, "lastSeen")),
			    "2026-11-22T06:51:00Z");
	assert_int_equal(json_array_size(json_object_get(fl, "nodes")), 2);
	app_done(&a);
}

static void computed_at(void **state)
{
	struct app a;
	bool has = false;
	int64_t t = 0;
	json_t *none = json_array();

	(void) state;
	app_load(&a);
	proposal_obj_computed_at(a.objs, &has, &t);
	assert_true(has);
	assert_int_equal(t, COMPUTED_AT);
	proposal_obj_computed_at(none, &has, &t);
	assert_false(has);
	json_decref(none);
	app_done(&a);
}

static void list_error(const json_t *objs, const char *want)
{
	struct bh_err err = { 0 };
	struct buf out;

	buf_init(&out, SIZE_MAX);
	assert_int_equal(proposal_obj_to_list(objs, &out, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_string_equal(err.msg, want);
	assert_int_equal(out.len, 0);
	buf_done(&out);
}

/* A malformed object: one line naming it and the field. */
static void malformed(void **state)
{
	struct app a;
	json_t *objs, *o, *pol;

	(void) state;
	app_load(&a);
	objs = json_deep_copy(a.objs);
	o = json_array_get(objs, 0);
	pol = json_array_get(json_object_get(json_object_get(o, "spec"), "policies"), 0);
	json_object_set_new(json_object_get(json_object_get(pol, "spec"), "podSelector"),
			    "matchLabels", json_string("x"));
	list_error(objs, "Proposal 'data/bulkhead-postgres': spec.policies[0] "
			 "('bulkhead-postgres-egress'): spec.podSelector.matchLabels: expected an "
			 "object, got a string");
	json_object_del(pol, "spec");
	list_error(objs, "Proposal 'data/bulkhead-postgres': spec.policies[0].spec: "
			 "missing or not an object");
	json_object_set_new(pol, "name", json_integer(3));
	list_error(objs, "Proposal 'data/bulkhead-postgres': spec.policies[0].name: "
			 "missing or not a string");
	json_object_del(json_object_get(o, "spec"), "policies");
	list_error(objs, "Proposal 'data/bulkhead-postgres': spec.policies: missing or "
			 "not an array");
	json_object_del(json_object_get(o, "metadata"), "namespace");
	list_error(objs, "Proposal '[0]': metadata.namespace: missing or not a string");
	json_decref(objs);
	app_done(&a);
}

/* A workload many external clients reach: the rule that admits them lists
 * PROPOSAL_OBJ_RULE_FLOWS flows at most, counts the others, and the object
 * stays under the API server's limit (12,000 clients listed would be
 * about 2 MB). */
static void many_flows(void **state)
{
	const char *snap = APP "snapshot.json";
	enum { CLIENTS = 12000 };
	struct cluster *c = NULL;
	struct flow_set fs;
	struct proposal p = { 0 };
	struct propose_opts o;
	struct bh_err err = { 0 };
	const struct proposal_obj_node node = { .name = "node-1", .flows = &fs };
	json_t *doc, *flows, *objs = NULL;
	const json_t *fe, *pols, *rules;
	size_t listed = 0, left = 0;
	char *text;

	(void) state;
	propose_opts_init(&o);
	flow_set_init(&fs);
	assert_int_equal(snapshot_load_files(&snap, 1, &c, NULL, &err), 0);
	flows = json_array();
	assert_non_null(flows);
	for (int i = 0; i < CLIENTS; i++) {
		char ip[32];

		(void) snprintf(ip, sizeof(ip), "198.18.%d.%d", i / 250, 1 + i % 250);
		assert_int_equal(
			json_array_append_new(
				flows,
				json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s}, "
					  "s:{s:s}}, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:[s]}",
					  "src", "ip", ip, "kind", "external", "dst", "ip",
					  "10.1.1.10", "kind", "pod", "namespace", "shop", "name",
					  "frontend-6b7f8c9d5-aaaaa", "workload", "kind",
					  "Deployment", "name", "frontend", "labels", "app",
					  "frontend", "protocol", "TCP", "port", 8080, "packets",
					  10, "bytes", 1000, "connections", 1, "first_seen",
					  "2026-11-22T06:00:00Z", "last_seen",
					  "2026-11-22T06:59:00Z", "seen_by", "conntrack")),
			0);
	}
	doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:{s:i, s:i, s:i}, s:o}", "apiVersion",
			FLOWS_JSON_API_VERSION, "kind", FLOWS_JSON_KIND, "version",
			FLOWS_JSON_VERSION, "node", "node-1", "generated", "2026-11-22T07:05:00Z",
			"stats", "packets", 1000, "evicted", 0, "overruns", 0, "flows", flows);
	text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(text);
	assert_int_equal(flows_json_load_buf(&fs, text, strlen(text), "many", &err), 0);
	assert_int_equal(propose_build(&fs, c, &o, &p, &err), 0);
	assert_int_equal(proposal_obj_build(&p, c, "shop", &node, 1, COMPUTED_AT, &objs, &err), 0);
	fe = obj_find(objs, "shop", "bulkhead-frontend");
	assert_non_null(fe);
	assert_true(json_dumpb(fe, NULL, 0, JSON_COMPACT) <= CLUSTER_OBJECT_MAX);
	pols = json_object_get(json_object_get(fe, "spec"), "policies");
	for (size_t k = 0; k < json_array_size(pols); k++) {
		rules = json_object_get(json_array_get(pols, k), "rules");
		for (size_t i = 0; i < json_array_size(rules); i++) {
			const json_t *r = json_array_get(rules, i);
			const json_t *fl = json_object_get(r, "flows");

			assert_true(json_array_size(fl) <= PROPOSAL_OBJ_RULE_FLOWS);
			for (size_t f = 0; f < json_array_size(fl); f++)
				listed += strncmp(json_string_value(json_object_get(
							  json_array_get(fl, f), "src")),
						  "198.18.", 7) == 0;
			left += (size_t) json_integer_value(json_object_get(r, "flowsTruncated"));
		}
	}
	assert_int_equal(listed + left, CLIENTS);
	assert_true(left > 0);
	free(text);
	json_decref(doc);
	json_decref(objs);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),  cmocka_unit_test(objects),
		cmocka_unit_test(computed_at), cmocka_unit_test(malformed),
		cmocka_unit_test(many_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
