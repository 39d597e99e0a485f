/*
 * The control socket's routes that change the agent's state (the socket
 * is owner-only: the only way to change anything on a node).  Each takes
 * a JSON body and answers JSON: 200 with what changed, 400 for a body
 * that is not what the route takes, 404 for an object the agent does not
 * hold.  Every error answer is {"error": "one line"}, which the CLI
 * prints as it is.
 *
 *   POST /alerts/dismiss  {"ids": ["3f0c...", ...]}
 *       the alerts dismissed (all or none): {"changed": N, "alerts": [...]}
 *       with each alert as GET /alerts writes it.  409 for an alert that
 *       was allowed: its flow is in the proposal, not denied.
 *   POST /alerts/allow  {"ids": [...]}
 *       each alert's flow taken into the proposal of the namespace whose
 *       proposal policy decided it (propose_amend(): the rule `bulkhead
 *       propose` would have written), and into the other end's proposal
 *       too where one of its policies isolates that end (an egress alert's
 *       destination ingress policy: else the flow, allowed on one side,
 *       is still dropped on the other once enforced), stored as those
 *       namespaces' next generation, and the proposal policies sent to the
 *       kernel as one batch; then the alerts are "allowed".  All or none: 404 for an
 *       alert the agent does not hold, 409 for one that no proposal
 *       decided (a cluster policy's: Bulkhead never edits those) or that
 *       the proposal cannot take (its workload gone), before anything is
 *       stored; 503 before the cluster is read.  Answered as dismiss is.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "alerts.h"
#include "buf.h"
#include "cluster.h"
#include "http_server.h"
#include "json_out.h"
#include "log.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
#include "propose.h"
#include "state_db.h"

/* At most this many ids in one request (the table's own bound is
 * maxAlerts; a request past it is a client's mistake). */
#define CONTROL_IDS_MAX 100000

int agent_control_error(struct http_response *resp, unsigned status, const char *fmt, ...)
{
	char msg[512];
	struct json_out w;
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "error");
	json_out_str(&w, msg);
	json_out_obj_end(&w);
	json_out_newline(&w);
	return json_out_error(&w) < 0 ? json_out_error(&w) : 1;
}

/* The body's "ids": an array of strings, borrowed from @doc into a new
 * array (*@ret, freed by the caller).  0, or an answer written: 1. */
static int body_ids(const struct http_request *req, struct http_response *resp, json_t **doc,
		    const char ***ret, size_t *ret_n)
{
	size_t len, n;
	const char *body = http_request_body(req, &len);
	json_error_t jerr;
	json_t *ids;

	*doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*doc)
		return agent_control_error(resp, 400, "the body is not JSON: %s", jerr.text);
	ids = json_object_get(*doc, "ids");
	if (!json_is_object(*doc) || !json_is_array(ids) || json_array_size(ids) == 0)
		return agent_control_error(resp, 400, "the body has no \"ids\": a non-empty array");
	n = json_array_size(ids);
	if (n > CONTROL_IDS_MAX)
		return agent_control_error(resp, 400, "\"ids\": more than %d", CONTROL_IDS_MAX);
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = json_string_value(json_array_get(ids, i));
		if (!(*ret)[i])
			return agent_control_error(resp, 400, "\"ids\"[%zu]: not a string", i);
	}
	*ret_n = n;
	return 0;
}

/* One namespace's stored proposal, decoded, while `allow` amends it. */
struct allow_ns {
	char ns[254]; /* a Kubernetes name, NUL */
	struct proposal p;
	bool loaded, changed;
};

/* The namespace and name of the policy that decided @e ("NS/NAME"). */
static bool alert_policy_split(const struct alert_entry *e, char *ns, size_t len,
			       const char **ret_name)
{
	const char *slash = e->policy ? strchr(e->policy, '/') : NULL;

	if (!slash || (size_t) (slash - e->policy) >= len)
		return false;
	memcpy(ns, e->policy, (size_t) (slash - e->policy));
	ns[slash - e->policy] = '\0';
	*ret_name = slash + 1;
	return true;
}

static struct allow_ns *allow_ns_get(struct allow_ns **v, size_t *n, const char *ns)
{
	struct allow_ns *t;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].ns, ns) == 0)
			return &(*v)[i];
	t = realloc(*v, (*n + 1) * sizeof(**v));
	if (!t)
		return NULL;
	*v = t;
	t[*n] = (struct allow_ns){ 0 };
	(void) snprintf(t[*n].ns, sizeof(t[*n].ns), "%s", ns);
	return &t[(*n)++];
}

/* Loads @t's stored proposal once: 1 loaded, 0 none stored, -errno
 * (@reterr set). */
static int allow_ns_load(struct agent *a, struct allow_ns *t, struct bh_err *reterr)
{
	char *json = NULL;
	int r;

	if (t->loaded)
		return 1;
	r = state_db_proposal_get(a->db, t->ns, &json, NULL, NULL, reterr);
	if (r > 0)
		r = proposal_doc_decode(json, strlen(json), &t->p, reterr);
	free(json);
	if (r < 0 || !json)
		return r;
	t->loaded = true;
	return 1;
}

/* The namespace of the workload @end ("NAMESPACE/KIND/NAME") into @ns;
 * false for an address. */
static bool workload_ns(const char *end, char *ns, size_t len)
{
	const char *slash = end ? strchr(end, '/') : NULL;

	if (!slash || !strchr(slash + 1, '/') || strchr(slash + 1, '/')[1] == '\0' ||
	    (size_t) (slash - end) >= len)
		return false;
	memcpy(ns, end, (size_t) (slash - end));
	ns[slash - end] = '\0';
	return true;
}

/*
 * The other end of @f's flow, when a proposal isolates it too (an egress
 * alert's destination, an ingress alert's source): the rule goes into that
 * end's policy as well.  Nothing for an address, a namespace with no
 * stored proposal, or a workload whose proposal has no policy of that
 * direction (not isolated by it).  0, or an answer written (1), or -errno.
 */
static int allow_other_end(struct agent *a, struct cluster *c, struct allow_ns **nsv, size_t *n_ns,
			   const struct alert_entry *e, const struct propose_amend_flow *f,
			   struct http_response *resp)
{
	struct propose_amend_flow o = *f;
	char ns[sizeof((*nsv)->ns)];
	struct bh_err err = { 0 };
	struct allow_ns *t;
	bool changed = false;
	int r;

	o.dir = f->dir == NETPOL_EGRESS ? NETPOL_INGRESS : NETPOL_EGRESS;
	if (!workload_ns(o.dir == NETPOL_INGRESS ? f->dst : f->src, ns, sizeof(ns)))
		return 0;
	t = allow_ns_get(nsv, n_ns, ns);
	if (!t)
		return -ENOMEM;
	r = allow_ns_load(a, t, &err);
	if (r == 0)
		return 0;
	if (r > 0) {
		r = propose_amend(&t->p, c, &o, &changed, &err);
		if (r == -ENOENT)
			return 0;
	}
	if (r < 0)
		return r == -ENOMEM ?
			       r :
			       agent_control_error(resp, 409, "alert %s: the proposal of '%s': %s",
						   e->id, ns, err.msg);
	t->changed |= changed;
	return 0;
}

/*
 * The amendments of `allow` for the alerts @ids: every one checked and
 * applied to the decoded proposals first, then each changed proposal
 * stored and the proposal policies sent as one batch.  0 (the alerts'
 * state is the caller's to set), or an answer written (1), or -errno.
 */
static int allow(struct agent *a, const char *const *ids, size_t n, struct http_response *resp)
{
	struct allow_ns *nsv = NULL;
	size_t n_ns = 0, stored = 0;
	struct bh_err err = { 0 };
	char nsbuf[sizeof(nsv->ns)];
	/* The enforcement's cluster; without one (--no-enforce, or before
	 * its first build: the alerts restored from the database) the
	 * cluster it will follow. */
	struct cluster *c = a->enf_cluster ? a->enf_cluster : agent_source_cluster(a);
	int r = 0;

	if (!c)
		return agent_control_error(
			resp, 503, "the cluster is not read yet: allow needs its workloads");
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct alert_entry *e = a->alerts ? alerts_find(a->alerts, ids[i]) : NULL;
		struct propose_amend_flow f;
		struct allow_ns *t;
		const char *name = NULL;
		bool changed = false;

		if (!e) {
			r = agent_control_error(resp, 404, "no alert '%.64s' on this agent",
						ids[i]);
			break;
		}
		if (!alert_policy_split(e, nsbuf, sizeof(nsbuf), &name) ||
		    !agent_stage_is_proposal(a, nsbuf, name)) {
			const struct netpol *cp =
				e->policy && name ? cluster_policy_find(c, nsbuf, name) : NULL;

			if (cp && cp->origin == NETPOL_ORIGIN_CLUSTER)
				r = agent_control_error(
					resp, 409,
					"alert %s was decided by the cluster's policy '%.300s', "
					"not by a proposal: Bulkhead does not edit the "
					"cluster's policies",
					e->id, e->policy);
			else
				/* (a proposal policy no more compiled: its
				 * namespace learns again, or its proposal
				 * changed) */
				r = agent_control_error(
					resp, 409,
					"alert %s: its policy '%.300s' is no policy of a "
					"proposal in preview or enforce now",
					e->id, e->policy ? e->policy : "?");
			break;
		}
		t = allow_ns_get(&nsv, &n_ns, nsbuf);
		if (!t) {
			r = -ENOMEM;
			break;
		}
		r = allow_ns_load(a, t, &err);
		if (r == 0)
			r = bh_err_set(&err, BH_ERR_INPUT, -ENOENT,
				       "namespace '%s' has no stored proposal", nsbuf);
		if (r < 0) {
			r = agent_control_error(resp, 409, "alert %s: %s", e->id, err.msg);
			break;
		}
		r = 0;
		f = (struct propose_amend_flow){
			.dir = e->direction == ALERT_INGRESS ? NETPOL_INGRESS : NETPOL_EGRESS,
			.src = e->src,
			.dst = e->dst,
			.port = e->port,
			.proto = e->proto,
		};
		r = propose_amend(&t->p, c, &f, &changed, &err);
		if (r < 0) {
			r = r == -ENOMEM ?
				    r :
				    agent_control_error(resp, 409, "alert %s: %s", e->id, err.msg);
			break;
		}
		t->changed |= changed;
		r = allow_other_end(a, c, &nsv, &n_ns, e, &f, resp);
	}
	for (size_t k = 0; r == 0 && k < n_ns; k++) {
		const char *ns = nsv[k].ns;
		struct buf out;

		if (!nsv[k].changed)
			continue;
		buf_init(&out, SIZE_MAX);
		r = netpol_emit_list_json(&nsv[k].p, &out);
		if (r == 0)
			r = buf_append(&out, "", 1); /* the NUL state_db takes */
		if (r == 0)
			r = state_db_proposal_put(a->db, ns, out.data, (int64_t) time(NULL), NULL,
						  &err);
		buf_done(&out);
		if (r < 0) {
			/* Stored ones stay: they are what the alerts asked. */
			log_err("agent: allow: the proposal of namespace '%s': %s", ns,
				err.msg[0] ? err.msg : strerror(-r));
			r = agent_control_error(resp, 500, "the proposal of namespace '%s': %s", ns,
						err.msg[0] ? err.msg : strerror(-r));
			break;
		}
		log_notice("agent: allow: the proposal of namespace '%s' takes %s", ns,
			   n == 1 ? "one more flow" : "more flows");
		stored++;
	}
	if (stored)
		agent_stage_proposals_changed(a);
	for (size_t k = 0; k < n_ns; k++)
		proposal_done(&nsv[k].p);
	free(nsv);
	return r;
}

static int set_state(struct agent *a, const struct http_request *req, struct http_response *resp,
		     enum alert_state state)
{
	const char **ids = NULL, *unknown;
	json_t *doc = NULL;
	struct json_out w;
	size_t n = 0;
	int r;

	r = body_ids(req, resp, &doc, &ids, &n);
	if (r != 0)
		goto out;
	if (state == ALERT_ALLOWED) {
		r = allow(a, ids, n, resp);
		if (r != 0)
			goto out;
	}
	for (size_t i = 0; state == ALERT_DISMISSED && i < n; i++) {
		const struct alert_entry *e = a->alerts ? alerts_find(a->alerts, ids[i]) : NULL;

		if (e && e->state == ALERT_ALLOWED) {
			r = agent_control_error(
				resp, 409,
				"alert %s is allowed: its rule is in the proposal, so "
				"its flow is not denied; 'bulkhead relearn' makes the "
				"proposal again from what is learned",
				e->id);
			goto out;
		}
	}
	r = agent_alerts_set_state(a, ids, n, state, &unknown);
	if (r == -ENOENT) {
		r = agent_control_error(resp, 404, "no alert '%.64s' on this agent", unknown);
		goto out;
	}
	if (r < 0)
		goto out;
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "changed");
	json_out_uint(&w, (unsigned) r);
	json_out_key(&w, "alerts");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		alert_json(alerts_find(a->alerts, ids[i]), a->enf_cluster, &w);
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	json_out_newline(&w);
	r = json_out_error(&w);
out:
	free(ids);
	json_decref(doc);
	return r < 0 ? r : 0;
}

static int dismiss_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	return set_state(ud, req, resp, ALERT_DISMISSED);
}

static int allow_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	return set_state(ud, req, resp, ALERT_ALLOWED);
}

int agent_control_routes(struct agent *a, struct bh_err *reterr)
{
	int r = http_server_route(a->http, "POST", "/alerts/dismiss", 0, dismiss_cb, a);

	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: POST /alerts/dismiss: %s",
				  strerror(-r));
	r = http_server_route(a->http, "POST", "/alerts/allow", 0, allow_cb, a);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: POST /alerts/allow: %s",
				  strerror(-r));
	return 0;
}
