/*
 * The agent's HTTP routes (docs/agent-api.md): the built-in /healthz,
 * /readyz and /metrics of the server (include/http_server.h) with the
 * agent's readiness and metrics registry, and GET /status on the control
 * socket for `bulkhead status` (with the enforcement's object,
 * agent_enforce_status()), GET /alerts on the socket, and GET /report
 * (agent_report.c) on both listeners for the dashboard and `bulkhead
 * export`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "alerts.h"
#include "cluster.h"
#include "cluster_propose.h"
#include "dashboard.h"
#include "http_server.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "state_db.h"

#define AGENT_STATUS_VERSION 1

bool agent_ready(struct agent *a, char *reason, size_t len)
{
	const struct state_db_health *h = a->db ? state_db_health(a->db) : NULL;

	if (a->stopping) {
		(void) snprintf(reason, len, "the agent is stopping");
		return false;
	}
	if (!a->synced) {
		(void) snprintf(reason, len, "initial sync of the cluster not done%s%s",
				a->source_err[0] ? ": " : "", a->source_err);
		return false;
	}
	if (a->source_err[0]) {
		(void) snprintf(reason, len, "%s (keeping the last good cluster)", a->source_err);
		return false;
	}
	if (h && !h->ok) {
		(void) snprintf(reason, len, "state database cannot be written: %s", h->msg);
		return false;
	}
	if (a->enf_err[0]) {
		(void) snprintf(reason, len, "enforcement: %s", a->enf_err);
		return false;
	}
	if (agent_alerts_problem(a)) {
		(void) snprintf(reason, len, "preview alerts: %s", agent_alerts_problem(a));
		return false;
	}
	if (a->nio && !a->enf_start) {
		(void) snprintf(reason, len, "enforcement: table inet bulkhead not taken yet");
		return false;
	}
	return true;
}

static bool ready_cb(char *reason, size_t len, void *ud)
{
	return agent_ready(ud, reason, len);
}

/* The pods on this node, and the namespaces in each stage (a namespace
 * without a stored mode is learning). */
static void status_counts(struct agent *a, const struct cluster *c, size_t *ret_pods,
			  size_t stages[_STATE_DB_MODE_MAX], bool *ret_cluster_mode,
			  enum state_db_mode_kind *ret_mode)
{
	*ret_pods = 0;
	*ret_cluster_mode = false;
	for (size_t i = 0; c && i < c->n_pods; i++)
		if (c->pods[i].node && strcmp(c->pods[i].node, a->cfg.node) == 0)
			(*ret_pods)++;
	for (size_t i = 0; c && i < c->n_ns; i++) {
		enum state_db_mode_kind m = STATE_DB_MODE_LEARN;

		for (size_t k = 0; k < a->n_modes; k++)
			if (strcmp(a->modes[k].scope, c->ns[i].name) == 0)
				m = a->modes[k].mode;
		stages[m]++;
	}
	for (size_t k = 0; k < a->n_modes; k++) {
		if (strcmp(a->modes[k].scope, STATE_DB_SCOPE_CLUSTER) == 0) {
			*ret_cluster_mode = true;
			*ret_mode = a->modes[k].mode;
		}
	}
}

/* The node's mode: the cluster's when one is stored, else the one stage
 * every namespace is in, else "mixed". */
static const char *status_mode(const size_t stages[_STATE_DB_MODE_MAX], bool cluster_mode,
			       enum state_db_mode_kind cm)
{
	const char *name = NULL;

	if (cluster_mode)
		return state_db_mode_name(cm);
	for (size_t i = 0; i < _STATE_DB_MODE_MAX; i++) {
		if (!stages[i])
			continue;
		if (name)
			return "mixed";
		name = state_db_mode_name((enum state_db_mode_kind) i);
	}
	return name ? name : "learn";
}

static int status_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	static const char *const stage_keys[_STATE_DB_MODE_MAX] = { "learn", "proposed", "preview",
								    "enforce" };
	struct agent *a = ud;
	const struct cluster *c = agent_source_cluster(a);
	size_t stages[_STATE_DB_MODE_MAX] = { 0 }, pods, cluster_policies = 0;
	enum state_db_mode_kind cm = STATE_DB_MODE_LEARN;
	char reason[BH_ERR_MSG_MAX + 64] = "";
	bool ready, cluster_mode;
	struct json_out w;
	int64_t up, last;

	(void) req;
	status_counts(a, c, &pods, stages, &cluster_mode, &cm);
	/* (the cluster's own: not the proposal policies, agent_stage.c) */
	for (size_t i = 0; c && i < c->n_policies; i++)
		cluster_policies += c->policies[i].origin == NETPOL_ORIGIN_CLUSTER;
	ready = agent_ready(a, reason, sizeof(reason));
	up = (int64_t) time(NULL) - a->started;
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "version");
	json_out_int(&w, AGENT_STATUS_VERSION);
	json_out_key(&w, "node");
	json_out_str(&w, a->cfg.node);
	json_out_key(&w, "mode");
	json_out_str(&w, status_mode(stages, cluster_mode, cm));
	json_out_key(&w, "namespaces");
	json_out_obj_begin(&w);
	for (size_t i = 0; i < _STATE_DB_MODE_MAX; i++) {
		json_out_key(&w, stage_keys[i]);
		json_out_uint(&w, stages[i]);
	}
	json_out_obj_end(&w);
	json_out_key(&w, "counts");
	json_out_obj_begin(&w);
	json_out_key(&w, "pods");
	json_out_uint(&w, pods);
	json_out_key(&w, "policies");
	json_out_uint(&w, cluster_policies);
	json_out_key(&w, "flows");
	json_out_uint(&w, agent_learn_flows(a));
	json_out_key(&w, "alerts");
	json_out_uint(&w, a->alerts ? alerts_count(a->alerts) : 0);
	json_out_obj_end(&w);
	/* Enforcing, the ruleset matched the cluster when the table last
	 * followed it: the cluster's last change while the table is in
	 * step, else the last batch that went in. */
	last = a->nio && (a->enf_err[0] || !a->sync) ? a->enf_last : a->last_sync;
	json_out_key(&w, "last_sync");
	if (last)
		json_out_time(&w, last);
	else
		json_out_null(&w);
	json_out_key(&w, "api");
	if (a->cfg.n_snapshots)
		json_out_str(&w, "snapshot");
	else
		json_out_str(&w, a->synced && !a->api_down ? "connected" : "unreachable");
	json_out_key(&w, "ready");
	json_out_bool(&w, ready);
	json_out_key(&w, "reason");
	if (ready)
		json_out_null(&w);
	else
		json_out_str(&w, reason);
	json_out_key(&w, "enforcement");
	agent_enforce_status(a, &w);
	json_out_key(&w, "policy_mode");
	json_out_str(&w, a->cfg.policy_preview ? "preview" : "enforce");
	json_out_key(&w, "alerts");
	agent_alerts_status(a, &w);
	json_out_key(&w, "proposal");
	agent_propose_status(a, &w);
	json_out_key(&w, "stages");
	agent_stage_status(a, &w);
	if (a->nf_on) {
		/* Cluster mode: the NodeFlows writes (docs/cluster.md). */
		json_out_key(&w, "nodeFlows");
		cluster_nodeflows_status(a, &w);
	}
	if (a->cfg.cluster) {
		json_out_key(&w, "cluster");
		cluster_propose_status(a, &w);
	}
	json_out_key(&w, "uptime_seconds");
	json_out_int(&w, up < 0 ? 0 : up);
	json_out_obj_end(&w);
	json_out_newline(&w);
	return json_out_error(&w);
}

/* GET /report (both listeners): made off the loop, in a child process
 * (agent_report_job.c); the request waits suspended meanwhile. */
static int report_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	(void) resp;
	return agent_report_serve(ud, req);
}

/* GET /alerts (control socket): every alert, as the report writes them. */
static int alerts_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct json_out w;

	(void) req;
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	agent_alerts_json(ud, &w);
	json_out_newline(&w);
	return json_out_error(&w);
}

int agent_http_start(struct agent *a, struct bh_err *reterr)
{
	struct http_server_opts o = {
		.socket_path = a->cfg.socket,
		.listen_addr = a->cfg.listen && a->cfg.listen[0] ? a->cfg.listen : NULL,
		.metrics = a->metrics,
		.ready_cb = ready_cb,
		.ready_ud = a,
	};
	int r;

	r = http_server_new(a->loop, &o, &a->http, reterr);
	if (r < 0)
		return r;
	r = http_server_route(a->http, "GET", "/status", 0, status_cb, a);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: GET /status: %s", strerror(-r));
	r = http_server_route(a->http, "GET", "/report", HTTP_ROUTE_READ_ONLY, report_cb, a);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: GET /report: %s", strerror(-r));
	r = http_server_route(a->http, "GET", "/alerts", 0, alerts_cb, a);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: GET /alerts: %s", strerror(-r));
	r = agent_control_routes(a, reterr);
	if (r < 0)
		return r;
	r = agent_propose_routes(a, reterr);
	if (r < 0)
		return r;
	r = agent_stage_routes(a, reterr);
	if (r < 0)
		return r;
	r = dashboard_routes(a->http, reterr);
	if (r < 0)
		return r;
	log_info("agent: serving on socket '%s'%s%s", a->cfg.socket, o.listen_addr ? " and " : "",
		 o.listen_addr ? o.listen_addr : "");
	return 0;
}

void agent_http_stop(struct agent *a)
{
	a->http = http_server_free(a->http);
}
