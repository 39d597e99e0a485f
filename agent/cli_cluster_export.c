/*
 * export on the cluster (docs/cluster.md, "Commands from a workstation"):
 * the cluster report, in the node report's schema (docs/report.md), made
 * by the node report's writer (report_write()) from the API objects:
 *
 *   - the cluster (pods, namespaces, nodes, NetworkPolicies) as the other
 *     commands read it (cli_cluster_load());
 *   - every node's flows: each NodeFlows spec read as the flows.json
 *     document it is (nodeflows_read(), records of one key merged);
 *   - every node's alerts (status.alerts), one per id;
 *   - each namespace's effective stage (cluster_stage.h) as its mode;
 *   - the proposals: each namespace's Proposal objects as the List they
 *     hold (proposal_obj_to_list()).
 *
 * The head says node "*" and lists the nodes whose NodeFlows it read in
 * the optional "nodes".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_report.h"
#include "alerts.h"
#include "atomic_file.h"
#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"
#include "cluster.h"
#include "cluster_api.h"
#include "flows_json.h"
#include "json_out.h"
#include "nodeflows_doc.h"
#include "proposal_obj.h"

/* As the agent's default maxAlerts. */
#define EXPORT_ALERTS_MAX 1000000
/* The node name of a cluster report: no Kubernetes node is named so. */
#define EXPORT_NODE_ALL "*"

struct export_run {
	struct cli_kube k;
	struct cluster *c;
	json_t *nodeflows, *props, *modes;
	struct flow_set set;
	struct alerts *alerts;
	struct state_db_mode *mv;
	size_t n_mv;
	const char **nodes;
	size_t n_nodes;
	struct report_stored stored;
};

/* Every NodeFlows spec into x->set (nodeflows_read()), and the nodes'
 * names. */
static int flows_read(struct export_run *x, struct bh_err *reterr)
{
	size_t i;
	json_t *nf;

	x->nodes = calloc(json_array_size(x->nodeflows) + 1, sizeof(*x->nodes));
	if (!x->nodes)
		return bh_err_oom(reterr);
	json_array_foreach(x->nodeflows, i, nf) {
		x->nodes[x->n_nodes++] = cli_json_str(json_object_get(nf, "metadata"), "name");
		if (nodeflows_read(nf, &x->set, reterr) < 0)
			return bh_err_prefix(reterr, "export: ");
	}
	return 0;
}

/* The end of an alert as the alert table keys it. */
static const char *end_of(json_t *a, const char *key)
{
	json_t *p = json_object_get(a, key);
	const char *wl = cli_json_str(p, "workload");

	return wl[0] ? wl : cli_json_str(p, "cidr");
}

/* Every node's alerts into x->alerts; one the table cannot take (another
 * node's of the same flow, a malformed one) is left out with a warning. */
static int alerts_read(struct export_run *x, struct bh_err *reterr)
{
	size_t i, j;
	json_t *nf, *a;

	x->alerts = alerts_new(EXPORT_ALERTS_MAX);
	if (!x->alerts)
		return bh_err_oom(reterr);
	json_array_foreach(x->nodeflows, i, nf) {
		const char *node = cli_json_str(json_object_get(nf, "metadata"), "name");

		json_array_foreach(json_object_get(json_object_get(nf, "status"), "alerts"), j, a) {
			const struct alert_key key = {
				.src = end_of(a, "src"),
				.dst = end_of(a, "dst"),
				.port = (uint16_t) json_integer_value(json_object_get(a, "port")),
			};
			struct alert_key k = key;
			const struct alert_info info = {
				.direction = strcmp(cli_json_str(a, "direction"), "egress") == 0 ?
						     ALERT_EGRESS :
						     ALERT_INGRESS,
				.policy = cli_json_str(a, "policy"),
				.explanation = cli_json_str(a, "explanation"),
				.src_pod = cli_json_str(json_object_get(a, "src"), "pod"),
				.dst_pod = cli_json_str(json_object_get(a, "dst"), "pod"),
			};
			struct alert_saved s = {
				.id = cli_json_str(a, "id"),
				.count = (uint64_t) json_integer_value(json_object_get(a, "count")),
				.first_seen = cli_cluster_time_ms(cli_json_str(a, "firstSeen")),
				.last_seen = cli_cluster_time_ms(cli_json_str(a, "lastSeen")),
			};
			int r = -EINVAL;

			if (cli_parse_protocol(cli_json_str(a, "protocol"), &k.proto) == 0 &&
			    alert_state_parse(cli_json_str(a, "state"), &s.state) == 0)
				r = alerts_restore(x->alerts, &k, &info, &s);
			if (r == -ENOMEM)
				return bh_err_oom(reterr);
			if (r < 0 && r != -EEXIST)
				fprintf(stderr,
					"bulkhead: export: warning: NodeFlows '%s': alert '%s': %s, "
					"ignoring\n",
					node, s.id, strerror(-r));
		}
	}
	return 0;
}

/* Each namespace with Proposal objects: its effective stage, and the
 * List its objects hold. */
static int proposals_read(struct export_run *x, struct bh_err *reterr)
{
	size_t n = json_array_size(x->props), i;
	json_t *p;
	int r;

	x->mv = calloc(n + 1, sizeof(*x->mv));
	x->stored.scope = calloc(n + 1, sizeof(*x->stored.scope));
	x->stored.json = calloc(n + 1, sizeof(*x->stored.json));
	if (!x->mv || !x->stored.scope || !x->stored.json)
		return bh_err_oom(reterr);
	json_array_foreach(x->props, i, p) {
		const char *ns = cli_json_str(json_object_get(p, "metadata"), "namespace");
		const char *stage;
		json_t *mine, *q, *m = NULL;
		struct buf text;
		size_t k;
		bool seen = false;

		for (k = 0; k < x->n_mv && !seen; k++)
			seen = strcmp(x->mv[k].scope, ns) == 0;
		if (seen || !ns[0])
			continue;
		mine = json_array();
		if (!mine)
			return bh_err_oom(reterr);
		json_array_foreach(x->props, k, q) {
			if (strcmp(cli_json_str(json_object_get(q, "metadata"), "namespace"), ns) ==
			    0)
				(void) json_array_append(mine, q);
		}
		buf_init(&text, SIZE_MAX);
		r = proposal_obj_to_list(mine, &text, reterr);
		if (r == 0)
			r = buf_append(&text, "", 1);
		json_decref(mine);
		if (r < 0) {
			buf_done(&text);
			return bh_err_prefix(reterr, "export: the Proposal objects of '%s': ", ns);
		}
		x->stored.scope[x->stored.n] = strdup(ns);
		x->stored.json[x->stored.n++] = text.data; /* the buffer's, now ours */
		stage = cli_cluster_stage(x->props, x->modes, ns, &m);
		x->mv[x->n_mv] = (struct state_db_mode){
			.scope = x->stored.scope[x->stored.n - 1],
			.mode = strcmp(stage, "enforce") == 0 ? STATE_DB_MODE_ENFORCE :
				strcmp(stage, "preview") == 0 ? STATE_DB_MODE_PREVIEW :
								STATE_DB_MODE_LEARN,
			.since = m ? cli_cluster_time_ms(cli_json_str(json_object_get(m, "spec"),
								      "switchedAt")) /
						 1000 :
				     0,
		};
		if (!x->mv[x->n_mv].scope)
			return bh_err_oom(reterr);
		x->n_mv++;
	}
	return 0;
}

static void run_done(struct export_run *x)
{
	json_decref(x->nodeflows);
	json_decref(x->props);
	json_decref(x->modes);
	flow_set_done(&x->set);
	alerts_free(x->alerts);
	free(x->mv);
	free(x->nodes);
	report_stored_done(&x->stored);
	cluster_free(x->c);
	cli_kube_done(&x->k);
}

int cli_cluster_export(const struct cli_target *t, const char *out, struct bh_err *reterr)
{
	const struct cli_cluster_src csrc = { .kubeconfig = t->kubeconfig, .context = t->context };
	struct export_run x = { 0 };
	struct atomic_file af = { 0 };
	struct report_src src;
	struct json_out w;
	struct buf body;
	int64_t now = (int64_t) time(NULL);
	bool to_stdout = strcmp(out, "-") == 0;
	int r;

	flow_set_init(&x.set);
	buf_init(&body, SIZE_MAX);
	r = cli_kube_open(&x.k, "export", t, reterr);
	if (r < 0)
		goto out;
	r = cli_cluster_load(&csrc, &x.c, reterr);
	if (r < 0) {
		r = bh_err_prefix(reterr, "export: ");
		goto out;
	}
	r = cli_kube_list(&x.k, CLUSTER_NODEFLOWS_RESOURCE, &x.nodeflows, reterr);
	if (r == 0)
		r = cli_kube_list(&x.k, CLUSTER_PROPOSAL_RESOURCE, &x.props, reterr);
	if (r == 0)
		r = cli_kube_list(&x.k, CLUSTER_POLICYMODE_RESOURCE, &x.modes, reterr);
	if (r == 0)
		r = flows_read(&x, reterr);
	if (r == 0)
		r = alerts_read(&x, reterr);
	if (r == 0)
		r = proposals_read(&x, reterr);
	if (r < 0)
		goto out;
	src = (struct report_src){
		.c = x.c,
		.set = &x.set,
		.alerts = x.alerts,
		.modes = x.mv,
		.n_modes = x.n_mv,
		.cluster_name = x.k.cfg->context ? x.k.cfg->context : "",
		.api_connected = true,
		.last_sync = now,
		.node = EXPORT_NODE_ALL,
		.nodes = x.nodes,
		.n_nodes = x.n_nodes,
		.started = now,
		.enf_digest = "",
		.enf_err = "",
	};
	json_out_init(&w, &body);
	r = report_write(&src, &x.stored, now, &w);
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "export: making the report: %s",
			       strerror(-r));
		goto out;
	}
	if (to_stdout) {
		if ((body.len && fwrite(body.data, 1, body.len, stdout) != body.len) ||
		    fflush(stdout) != 0)
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "export: writing stdout: %s",
				       strerror(errno));
		goto out;
	}
	r = atomic_file_open(&af, out, reterr);
	if (r < 0)
		goto out;
	if (body.len && fwrite(body.data, 1, body.len, af.f) != body.len) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "export: writing '%s': %s", out,
			       strerror(errno));
		atomic_file_abort(&af);
		goto out;
	}
	r = atomic_file_commit(&af, reterr);
out:
	buf_done(&body);
	run_done(&x);
	return r;
}
