/*
 * The agent's proposal (docs/lifecycle.md, "The proposal"): least-
 * privilege NetworkPolicies computed from every flow the state database
 * holds and the cluster as it is, off the loop.
 *
 * POST /proposal starts a computation: the loop copies the cluster and
 * starts one worker thread, which opens its own connection to the state
 * database (WAL lets it read while the loop writes), loads the flows as
 * of the last checkpoint (checkpointInterval), runs propose_build() and
 * its self-check, and formats the policies as a v1 List.  Its eventfd
 * wakes the loop, which stores the List as the cluster scope's next
 * proposal generation (state_db_proposal_put()).  The stages
 * (agent_stage.c) compute each namespace's the same way
 * (agent_propose_start()), keeping that namespace's policies only.  GET
 * /proposal[?namespace=NS] serves the stored proposal of the cluster (or
 * of NS), as JSON or (?format=yaml) YAML; both are what
 * `kubectl apply -f` takes.  A proposal that leaves learned flows
 * uncovered is stored (the log and /status say how many): the lifecycle
 * previews it, and the alerts show what it would deny.
 *
 * Loop thread, except job_main() and what it calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent_int.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "flows_json.h"
#include "http_server.h"
#include "kube_cache.h"
#include "json_out.h"
#include "log.h"
#include "netpol_emit.h"
#include "propose.h"
#include "state_db.h"
#include "worker_done.h"

struct agent_propose_job {
	pthread_t th;
	int efd;
	atomic_bool done; /* set by the worker last, before the eventfd */
	/* In: set before pthread_create(), the worker's while it runs. */
	char *state_dir;
	struct cluster *c;
	char *scope; /* STATE_DB_SCOPE_CLUSTER, or the namespace kept */
	agent_propose_done_fn *done_cb; /* NULL for POST /proposal */
	/* Out: written by the worker, read after pthread_join(). */
	int r;
	struct bh_err err;
	char *json;
	size_t n_policies, n_flows, n_uncovered;
	uint64_t us;
};

static void job_free(struct agent_propose_job *j)
{
	if (!j)
		return;
	if (j->efd >= 0)
		(void) close(j->efd);
	cluster_free(j->c);
	free(j->state_dir);
	free(j->scope);
	free(j->json);
	free(j);
}

/* Formats the policies of @p into @out: all of them, or those of namespace
 * @ns only (proposal_ns_view()), as `bulkhead propose --namespace` writes
 * them. */
static int emit_scope(const struct proposal *p, const char *ns, struct buf *out, size_t *ret_n)
{
	struct proposal q;
	int r;

	*ret_n = p->n;
	if (!ns[0])
		return netpol_emit_list_json(p, out);
	r = proposal_ns_view(p, ns, &q);
	if (r < 0)
		return r;
	*ret_n = q.n;
	r = netpol_emit_list_json(&q, out);
	proposal_ns_view_done(&q);
	return r;
}

static int job_run(struct agent_propose_job *j)
{
	struct state_db *db = NULL;
	struct proposal p = { 0 };
	struct propose_opts o;
	struct flow_set fs;
	struct buf out;
	int r;

	flow_set_init(&fs);
	buf_init(&out, SIZE_MAX);
	propose_opts_init(&o);
	r = state_db_open(j->state_dir, &db, &j->err);
	if (r >= 0)
		r = state_db_flows_load(db, &fs, &j->err);
	(void) state_db_free(db);
	if (r >= 0)
		r = propose_build(&fs, j->c, &o, &p, &j->err);
	if (r >= 0)
		r = propose_self_check(&p, &fs, j->c, &j->err);
	if (r >= 0) {
		r = emit_scope(&p, j->scope, &out, &j->n_policies);
		if (r < 0)
			(void) bh_err_set(&j->err, BH_ERR_SYSTEM, r,
					  "proposal: cannot format the policies: %s", strerror(-r));
	}
	if (r >= 0) {
		j->json = strndup(out.data ? out.data : "", out.len);
		if (!j->json)
			r = bh_err_oom(&j->err);
		j->n_flows = p.n_flows;
		j->n_uncovered = proposal_uncovered(&p);
	}
	buf_done(&out);
	proposal_done(&p);
	flow_set_done(&fs);
	return r;
}

static void *job_main(void *arg)
{
	struct agent_propose_job *j = arg;
	uint64_t t0 = clock_mono_us();

	j->r = job_run(j);
	j->us = clock_mono_us() - t0;
	worker_done(&j->done, j->efd);
	return NULL;
}

/* The worker is done: its proposal stored, or its error kept; the caller
 * that asked for it told. */
static void job_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, prop_io);
	struct agent_propose_job *j = a->prop_job;
	struct bh_err err = { 0 };
	int64_t gen = 0;
	int r;

	(void) revents;
	if (!atomic_load(&j->done))
		return;
	loop_io_remove(&a->prop_io);
	(void) pthread_join(j->th, NULL);
	a->prop_job = NULL;
	r = j->r;
	if (r >= 0)
		r = state_db_proposal_put(a->db, j->scope, j->json, (int64_t) time(NULL), &gen,
					  &err);
	else
		err = j->err;
	if (r < 0) {
		(void) snprintf(a->prop_err, sizeof(a->prop_err), "%s", err.msg);
		log_err("agent: proposal%s%s: %s", j->scope[0] ? " of namespace " : "", j->scope,
			err.msg);
	} else {
		a->prop_err[0] = '\0';
		a->prop_uncovered = j->n_uncovered;
		log_info("agent: proposal %" PRId64 "%s%s: %zu policies from %zu flows (%zu not "
			 "covered) in %.2f s, off the loop",
			 gen, j->scope[0] ? " of namespace " : "", j->scope, j->n_policies,
			 j->n_flows, j->n_uncovered, (double) j->us / 1e6);
	}
	if (j->done_cb)
		j->done_cb(a, j->scope, r);
	job_free(j);
}

/* Drops the proposal policies the cluster holds (docs/lifecycle.md): a
 * proposal is made over the cluster's own policies only. */
static void drop_proposal_policies(struct cluster *c)
{
	for (size_t i = c->n_policies; i-- > 0;)
		if (c->policies[i].origin != NETPOL_ORIGIN_CLUSTER)
			(void) cluster_policy_remove(c, c->policies[i].ns, c->policies[i].name);
}

int agent_propose_start(struct agent *a, const char *scope, agent_propose_done_fn *done_cb,
			struct bh_err *reterr)
{
	struct cluster *c = a->cache ? (a->synced ? kube_cache_cluster(a->cache) : NULL) : a->snap;
	struct agent_propose_job *j;
	int r;

	if (a->prop_job)
		return -EBUSY;
	if (!c || !a->db)
		return -EAGAIN;
	j = calloc(1, sizeof(*j));
	if (!j)
		return bh_err_oom(reterr);
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	j->state_dir = strdup(a->cfg.state_dir);
	j->scope = strdup(scope);
	j->done_cb = done_cb;
	atomic_init(&j->done, false);
	if (j->efd < 0 || !j->state_dir || !j->scope || cluster_copy(c, &j->c) < 0) {
		job_free(j);
		return bh_err_oom(reterr);
	}
	drop_proposal_policies(j->c);
	r = loop_io_add(a->loop, &a->prop_io, j->efd, EPOLLIN, job_cb);
	if (r < 0) {
		job_free(j);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "proposal: %s", strerror(-r));
	}
	r = -pthread_create(&j->th, NULL, job_main, j);
	if (r < 0) {
		loop_io_remove(&a->prop_io);
		job_free(j);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "proposal: a thread: %s", strerror(-r));
	}
	a->prop_job = j;
	return 0;
}

static void answer(struct http_response *resp, unsigned status, const char *key, const char *val)
{
	struct json_out w;

	resp->status = status;
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, key);
	json_out_str(&w, val);
	json_out_obj_end(&w);
	json_out_newline(&w);
}

/* POST /proposal: 202 {"state": "computing"}; 409 while one runs; 503
 * before the cluster is known. */
static int post_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct agent *a = ud;
	struct bh_err err = { 0 };
	int r;

	(void) req;
	r = agent_propose_start(a, STATE_DB_SCOPE_CLUSTER, NULL, &err);
	if (r == -EBUSY)
		answer(resp, 409, "error", "a proposal is being computed");
	else if (r == -EAGAIN)
		answer(resp, 503, "error", "the cluster is not known yet");
	else if (r < 0)
		answer(resp, 500, "error", err.msg);
	else
		answer(resp, 202, "state", "computing");
	return 0;
}

/* GET /proposal[?format=yaml][&namespace=NS]: the stored proposal; 404
 * when none, 400 for a namespace the agent has no stage of. */
static int get_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct agent *a = ud;
	const char *format = http_request_arg(req, "format");
	const char *ns = http_request_arg(req, "namespace");
	struct bh_err err = { 0 };
	char *json = NULL;
	json_t *doc;
	int r;

	if (format && strcmp(format, "json") != 0 && strcmp(format, "yaml") != 0) {
		answer(resp, 400, "error", "format: expected json or yaml");
		return 0;
	}
	if (ns && !agent_stage_known(a, ns)) {
		char msg[320];

		(void) snprintf(msg, sizeof(msg), "no namespace '%.253s' on this agent", ns);
		answer(resp, 400, "error", msg);
		return 0;
	}
	r = state_db_proposal_get(a->db, ns ? ns : STATE_DB_SCOPE_CLUSTER, &json, NULL, NULL, &err);
	if (r < 0) {
		answer(resp, 500, "error", err.msg);
		return 0;
	}
	if (r == 0) {
		answer(resp, 404, "error",
		       ns	   ? "no proposal of that namespace yet (it is still learning)" :
		       a->prop_job ? "no proposal yet: one is being computed" :
				     "no proposal yet (POST /proposal computes one)");
		return 0;
	}
	if (!format || strcmp(format, "json") == 0) {
		resp->content_type = "application/json";
		r = buf_append(&resp->body, json, strlen(json));
		free(json);
		return r;
	}
	doc = json_loads(json, 0, NULL);
	free(json);
	if (!doc)
		return -EBADMSG;
	resp->content_type = "application/yaml";
	r = netpol_emit_yaml(doc, &resp->body);
	json_decref(doc);
	return r;
}

int agent_propose_routes(struct agent *a, struct bh_err *reterr)
{
	int r = http_server_route(a->http, "POST", "/proposal", 0, post_cb, a);

	if (r >= 0)
		r = http_server_route(a->http, "GET", "/proposal", 0, get_cb, a);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: /proposal: %s", strerror(-r));
	return 0;
}

void agent_propose_status(struct agent *a, struct json_out *w)
{
	json_out_obj_begin(w);
	json_out_key(w, "computing");
	json_out_bool(w, a->prop_job != NULL);
	json_out_key(w, "uncovered");
	json_out_uint(w, a->prop_uncovered);
	json_out_key(w, "error");
	if (a->prop_err[0])
		json_out_str(w, a->prop_err);
	else
		json_out_null(w);
	json_out_obj_end(w);
}

void agent_propose_stop(struct agent *a)
{
	struct agent_propose_job *j = a->prop_job;

	if (!j)
		return;
	/* The worker reads a copy and a connection of its own: wait for it
	 * (a proposal takes seconds at most). */
	loop_io_remove(&a->prop_io);
	(void) pthread_join(j->th, NULL);
	a->prop_job = NULL;
	job_free(j);
}
