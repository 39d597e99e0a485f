/*
 * The stages of the namespaces (docs/lifecycle.md, "Stages"): learn ->
 * proposed -> preview -> enforce, one per namespace, kept in a->modes and
 * in the state database (each switch is written there first).
 *
 * Every namespace of the cluster has a stage, not only those with pods on
 * this node: a namespace first seen (a Namespace object, or a pod's
 * namespace) starts learning then, with the windows of the configuration
 * (learnDuration, previewWindow).  The stage timer fires at the earliest
 * window end: a learning window over makes the namespace "proposed", and
 * its proposal is computed off the loop (agent_propose_start(), one worker
 * at a time: the proposed namespaces wait their turn), stored as the
 * namespace's next generation, and the namespace goes on to preview.  With
 * autoPromote, a preview window over with no open alert of the namespace
 * switches it to enforce (logged); with alerts open it stays, and is
 * looked at again every STAGE_PROMOTE_RECHECK_S.
 *
 * Injection.  The stored proposals of the namespaces in preview and
 * enforce are policies of the cluster the enforcement follows, named
 * NETPOL_PROPOSAL_PREFIX + the proposed name, of origin
 * NETPOL_ORIGIN_PREVIEW or NETPOL_ORIGIN_ENFORCE (include/netpol.h), so
 * the compiler reads them next to the cluster's own.  inject() computes
 * the wanted set and applies the differences to the source cluster (the
 * cache's, or a->snap with --snapshot): with the API, each as an event of
 * the enforcement (old and new) flushed as one batch; with --snapshot the
 * enforcement diffs its copy against a->snap, one batch.  A --snapshot
 * reload gets them before the enforcement diffs (they are not deleted and
 * put back), and the start gets them before the first build, so a restart
 * compiles the ruleset it left in the kernel and adopts it.
 *
 * POST /stage {"stage": "enforce"|"preview"|"learn",
 *              "namespaces": [NS...] | "all": true, "force": bool}
 *   200 {"stage": S, "switched": [{"namespace", "from", "to"}...],
 *        "unchanged": [NS...], "skipped": [{"namespace", "why"}...]}
 *   404 a namespace the agent does not know; 400 a body it does not take;
 *   409 enforce while alerts of those namespaces are open ("alerts": the
 *   ids, unless force), or preview/enforce of a namespace with no
 *   proposal yet, or still learning without force ("all" skips those
 *   instead).  stage "learn" is relearn: learning starts again, the
 *   proposal policies leave the kernel; the stored proposal stays (GET
 *   /proposal?namespace=NS serves it) until the next one replaces it, and
 *   --force can still preview or enforce it meanwhile.
 * {"stage": ..., "workloads": [NS/KIND/NAME...], "force": bool} switches
 *   workloads on their own (agent_stage_workload.c); a namespace's own
 *   switch (mode_set()) clears the overrides of its workloads.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "alerts.h"
#include "cluster.h"
#include "http_server.h"
#include "json_out.h"
#include "kube_cache.h"
#include "kube_object.h"
#include "log.h"
#include "rfc3339.h"
#include "state_db.h"

/* A namespace whose preview window is over with alerts open is looked at
 * again this often (autoPromote). */
#define STAGE_PROMOTE_RECHECK_S 10
/* A failed proposal computation is tried again this long after. */
#define STAGE_RETRY_S 30
/* At most this many namespaces in one POST /stage. */
#define STAGE_NAMESPACES_MAX 100000

/* The cluster the enforcement follows (agent_source_cluster(), which this
 * file may not call: agent_source.c calls it). */
static struct cluster *source_cluster(struct agent *a)
{
	if (a->cache)
		return a->synced ? kube_cache_cluster(a->cache) : NULL;
	return a->snap;
}

static struct state_db_mode *mode_find(struct agent *a, const char *ns)
{
	for (size_t k = 0; k < a->n_modes; k++)
		if (strcmp(a->modes[k].scope, ns) == 0)
			return &a->modes[k];
	return NULL;
}

static int64_t learn_window(const struct agent *a, const struct state_db_mode *m)
{
	return m->learn_window > 0 ? m->learn_window : (int64_t) a->cfg.learn_duration_s;
}

static int64_t preview_window(const struct agent *a, const struct state_db_mode *m)
{
	return m->preview_window > 0 ? m->preview_window : (int64_t) a->cfg.preview_window_s;
}

/* Stores @m (its scope borrowed): the database first, then a->modes. */
static int mode_put(struct agent *a, const struct state_db_mode *m, struct bh_err *reterr)
{
	struct state_db_mode *cur = mode_find(a, m->scope), *v;
	char *scope;
	int r;

	r = state_db_mode_set(a->db, m, reterr);
	if (r < 0)
		return r;
	if (cur) {
		scope = cur->scope;
		*cur = *m;
		cur->scope = scope;
	} else {
		v = realloc(a->modes, (a->n_modes + 1) * sizeof(*v));
		if (!v)
			return bh_err_oom(reterr);
		a->modes = v;
		scope = strdup(m->scope);
		if (!scope)
			return bh_err_oom(reterr);
		a->modes[a->n_modes] = *m;
		a->modes[a->n_modes++].scope = scope;
	}
	if (m->mode == STATE_DB_MODE_PREVIEW || m->mode == STATE_DB_MODE_ENFORCE || cur)
		a->stage_dirty = true;
	return 0;
}

/* Sets the stage of @ns at @now, with the windows of the configuration. */
static int mode_set(struct agent *a, const char *ns, enum state_db_mode_kind kind, int64_t now,
		    struct bh_err *reterr)
{
	const struct state_db_mode m = {
		.scope = (char *) ns,
		.mode = kind,
		.since = now,
		.learn_window = (int64_t) a->cfg.learn_duration_s,
		.preview_window = (int64_t) a->cfg.preview_window_s,
	};
	int r;

	/* (a namespace's own switch clears its workloads' overrides, before
	 * the batch like the stage) */
	r = agent_stage_workload_clear(a, ns, reterr);
	if (r < 0)
		return r;
	return mode_put(a, &m, reterr);
}

/* Gives a stage to a namespace first seen: the cluster scope's when one
 * is stored (STATE_DB_SCOPE_CLUSTER: the default of the namespaces), its
 * start and windows included, else learn from now. */
static void ns_seen(struct agent *a, const char *ns, int64_t now)
{
	const struct state_db_mode *cm;
	struct state_db_mode m;
	struct bh_err err = { 0 };

	if (!ns || !ns[0] || mode_find(a, ns))
		return;
	cm = mode_find(a, STATE_DB_SCOPE_CLUSTER);
	m = cm ? *cm :
		 (struct state_db_mode){
			 .mode = STATE_DB_MODE_LEARN,
			 .since = now,
			 .learn_window = (int64_t) a->cfg.learn_duration_s,
			 .preview_window = (int64_t) a->cfg.preview_window_s,
		 };
	m.scope = (char *) ns;
	if (mode_put(a, &m, &err) < 0) {
		log_err("agent: stages: namespace '%s': %s", ns, err.msg);
		return;
	}
	log_info("agent: stages: namespace '%s' first seen: %s", ns, state_db_mode_name(m.mode));
	/* Cluster mode: its stage comes from the API's objects
	 * (cluster_follow.c looks at it at the next turn). */
	if (a->cf_on)
		(void) loop_timer_arm_in(&a->cf_timer, 0);
}

/*
 * A namespace the API server deleted forgets its stage: back to learn
 * from now, its proposal out of the kernel (the caller's next batch).  A
 * namespace created again under the same name is a new application: it
 * must not be enforced at once by the proposal of the one deleted.  Not
 * with --snapshot, whose files may hold pods without Namespace objects.
 */
static void ns_gone(struct agent *a, const struct cluster *c, int64_t now)
{
	struct bh_err err = { 0 };

	for (size_t k = 0; a->cache && k < a->n_modes; k++) {
		const char *ns = a->modes[k].scope;

		if (!ns[0] || strchr(ns, '/') || a->modes[k].mode == STATE_DB_MODE_LEARN ||
		    cluster_ns_find(c, ns))
			continue;
		if (mode_set(a, ns, STATE_DB_MODE_LEARN, now, &err) < 0) {
			log_err("agent: stages: namespace '%s': %s", ns, err.msg);
			continue;
		}
		a->stage_dirty = true;
		log_notice("agent: stages: namespace '%s' was deleted: its proposal leaves the "
			   "kernel, and it learns again if it comes back",
			   ns);
	}
}

/* Every namespace of @c (its Namespace objects and its pods'), and those
 * gone from it. */
static void ns_scan(struct agent *a, const struct cluster *c)
{
	int64_t now = time(NULL);

	ns_gone(a, c, now);
	for (size_t i = 0; i < c->n_ns; i++)
		ns_seen(a, c->ns[i].name, now);
	/* (pods are sorted by namespace) */
	for (size_t i = 0; i < c->n_pods; i++)
		if (i == 0 || strcmp(c->pods[i].ns, c->pods[i - 1].ns) != 0)
			ns_seen(a, c->pods[i].ns, now);
}

static void wanted_free(struct agent *a)
{
	for (size_t i = 0; i < a->n_stage_pols; i++) {
		netpol_done(&a->stage_pols[i]);
		free(a->stage_pol_wl[i]);
	}
	free(a->stage_pols);
	free(a->stage_pol_wl);
	a->stage_pols = NULL;
	a->stage_pol_wl = NULL;
	a->n_stage_pols = 0;
}

/* Appends the policies of the stored proposal of @m's namespace (of the
 * origin of its workload's override, agent_stage_workload.c). */
static int wanted_add(struct agent *a, const struct state_db_mode *m, struct bh_err *reterr)
{
	enum netpol_origin origin = m->mode == STATE_DB_MODE_ENFORCE ? NETPOL_ORIGIN_ENFORCE :
								       NETPOL_ORIGIN_PREVIEW;
	char *json = NULL, *name;
	json_error_t jerr;
	json_t *doc, *items, *it;
	size_t i, n0 = a->n_stage_pols;
	int r;

	r = state_db_proposal_get(a->db, m->scope, &json, NULL, NULL, reterr);
	if (r <= 0)
		return r;
	doc = json_loads(json, 0, &jerr);
	free(json);
	items = json_object_get(doc, "items");
	if (!json_is_array(items)) {
		json_decref(doc);
		return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
				  "the stored proposal of namespace '%s' is no List", m->scope);
	}
	json_array_foreach(items, i, it) {
		enum netpol_origin o = origin;
		struct netpol np, *v;
		char **vw, *wl = NULL;

		netpol_init(&np);
		r = kube_netpol_decode(it, &np, reterr);
		if (r < 0)
			break;
		if (strcmp(np.ns, m->scope) != 0) {
			netpol_done(&np);
			continue;
		}
		if (asprintf(&name, "%s%s", NETPOL_PROPOSAL_PREFIX, np.name) < 0) {
			netpol_done(&np);
			r = bh_err_oom(reterr);
			break;
		}
		free(np.name);
		np.name = name;
		v = realloc(a->stage_pols, (a->n_stage_pols + 1) * sizeof(*v));
		if (v)
			a->stage_pols = v;
		vw = realloc(a->stage_pol_wl, (a->n_stage_pols + 1) * sizeof(*vw));
		if (vw)
			a->stage_pol_wl = vw;
		if (!v || !vw || agent_stage_workload_of(a, m->scope, it, &o, &wl) < 0) {
			netpol_done(&np);
			r = bh_err_oom(reterr);
			break;
		}
		np.origin = o;
		a->stage_pol_wl[a->n_stage_pols] = wl;
		a->stage_pols[a->n_stage_pols++] = np;
	}
	json_decref(doc);
	if (r < 0) {
		/* The whole proposal left out, not the policies before the
		 * error: half a proposal would be compiled. */
		while (a->n_stage_pols > n0) {
			netpol_done(&a->stage_pols[--a->n_stage_pols]);
			free(a->stage_pol_wl[a->n_stage_pols]);
		}
		return r;
	}
	return 0;
}

/* The wanted proposal policies again from the stored proposals. */
static void wanted_build(struct agent *a)
{
	struct bh_err err = { 0 };

	wanted_free(a);
	a->stage_dirty = false;
	for (size_t k = 0; k < a->n_modes; k++) {
		const struct state_db_mode *m = &a->modes[k];

		if ((m->mode != STATE_DB_MODE_PREVIEW && m->mode != STATE_DB_MODE_ENFORCE) ||
		    agent_stage_is_workload(m->scope))
			continue;
		if (wanted_add(a, m, &err) < 0)
			log_err("agent: stages: the proposal of namespace '%s' is left out: %s",
				m->scope, err.msg);
	}
}

static const struct netpol *wanted_find(const struct agent *a, const char *ns, const char *name)
{
	for (size_t i = 0; i < a->n_stage_pols; i++)
		if (strcmp(a->stage_pols[i].ns, ns) == 0 &&
		    strcmp(a->stage_pols[i].name, name) == 0)
			return &a->stage_pols[i];
	return NULL;
}

/* With the API: the change goes to the enforcement as the cache's would. */
static void tell(struct agent *a, const char *ns, const char *name, const struct netpol *old,
		 const struct netpol *new)
{
	struct kube_cache_event ev = {
		.type = !old ? KUBE_EVENT_ADDED :
			!new ? KUBE_EVENT_DELETED :
			       KUBE_EVENT_MODIFIED,
		.kind = KUBE_KIND_NETPOL,
		.group = "networking.k8s.io",
		.version = "v1",
		.resource = "networkpolicies",
		.ns = ns,
		.name = name,
	};

	ev.old.policy = old;
	ev.new.policy = new;
	if (a->cache)
		agent_enforce_event(a, &ev);
}

/*
 * Applies the wanted proposal policies to @c: those not wanted any more
 * out, the new and changed ones in.  With @send the enforcement sends the
 * change as one batch now; without, the caller's next step does (or the
 * first build reads it).  The number of policies changed.
 */
static size_t inject(struct agent *a, struct cluster *c, bool send)
{
	size_t changed = 0;

	if (a->stage_dirty)
		wanted_build(a);
	for (size_t i = c->n_policies; i-- > 0;) {
		struct netpol *p = &c->policies[i], old;
		char *ns, *name;

		if (p->origin == NETPOL_ORIGIN_CLUSTER || wanted_find(a, p->ns, p->name))
			continue;
		ns = strdup(p->ns);
		name = strdup(p->name);
		if (ns && name && cluster_policy_take(c, ns, name, &old) == 1) {
			tell(a, ns, name, &old, NULL);
			netpol_done(&old);
			changed++;
		}
		free(ns);
		free(name);
	}
	for (size_t i = 0; i < a->n_stage_pols; i++) {
		const struct netpol *w = &a->stage_pols[i];
		const struct netpol *cur = cluster_policy_find(c, w->ns, w->name);
		struct netpol np, old;

		if (cur && netpol_compiled_equal(cur, w))
			continue;
		netpol_init(&np);
		if (netpol_copy(&np, w) < 0) {
			netpol_done(&np);
			log_err("agent: stages: policy '%s/%s': %s", w->ns, w->name,
				strerror(ENOMEM));
			continue;
		}
		if (cluster_policy_replace(c, &np, &old) < 0) {
			log_err("agent: stages: policy '%s/%s': %s", w->ns, w->name,
				strerror(ENOMEM));
			continue;
		}
		tell(a, w->ns, w->name, cur ? &old : NULL, cluster_policy_find(c, w->ns, w->name));
		netpol_done(&old);
		changed++;
	}
	if (!changed)
		return 0;
	a->cluster_gen++;
	if (send) {
		if (a->cache)
			agent_enforce_step(a);
		else
			agent_enforce_reload(a);
	}
	return changed;
}

/* The stages changed (@send: now, in one batch): the proposal policies
 * follow. */
static void stages_apply(struct agent *a, bool send)
{
	struct cluster *c = source_cluster(a);

	if (c)
		(void) inject(a, c, send);
}

/* An open alert that a policy of namespace @ns's proposal, as compiled
 * now, decided (the alerts of a proposal gone, after a relearn or a new
 * generation, are about policies that are not there to enforce). */
static bool alert_of(struct agent *a, const struct alert_entry *e, const char *ns)
{
	size_t n = strlen(ns);

	return e->state == ALERT_OPEN && e->policy && strncmp(e->policy, ns, n) == 0 &&
	       e->policy[n] == '/' && agent_stage_is_proposal(a, ns, e->policy + n + 1);
}

static size_t alerts_open_in(struct agent *a, const char *ns)
{
	size_t n = 0;

	for (size_t i = 0; a->alerts && i < alerts_count(a->alerts); i++)
		n += alert_of(a, alerts_at(a->alerts, i), ns);
	return n;
}

static void stage_arm(struct agent *a, int64_t due, int64_t now);
static void proposal_done_cb(struct agent *a, const char *scope, int r);

/*
 * The windows: learning over -> proposed; a proposed namespace's proposal
 * computed (one at a time); with autoPromote a preview window over with
 * no open alert -> enforce.  The timer armed at the next window end.
 */
static void stage_tick(struct agent *a)
{
	int64_t now = time(NULL), next = INT64_MAX;
	const char *pending = NULL;
	struct bh_err err = { 0 };
	bool promoted = false;

	/* In cluster mode the stages follow the API's objects
	 * (cluster_follow.c): no window of this node's moves them. */
	if (a->cfg.cluster) {
		loop_timer_disarm(&a->stage_timer);
		return;
	}
	for (size_t k = 0; k < a->n_modes; k++) {
		struct state_db_mode *m = &a->modes[k];
		int64_t due;

		if (!m->scope[0] || agent_stage_is_workload(m->scope))
			continue;
		switch (m->mode) {
		case STATE_DB_MODE_LEARN:
			due = m->since + learn_window(a, m);
			if (now < due) {
				next = due < next ? due : next;
				break;
			}
			if (mode_set(a, m->scope, STATE_DB_MODE_PROPOSED, now, &err) < 0) {
				log_err("agent: stages: namespace '%s': %s", m->scope, err.msg);
				next = now + STAGE_RETRY_S < next ? now + STAGE_RETRY_S : next;
				break;
			}
			log_notice("agent: stages: namespace '%s': learning window over, "
				   "computing its proposal",
				   m->scope);
			/* fall through */
		case STATE_DB_MODE_PROPOSED:
			if (!pending)
				pending = m->scope;
			break;
		case STATE_DB_MODE_PREVIEW:
			if (!a->cfg.auto_promote)
				break;
			due = m->since + preview_window(a, m);
			if (now < due) {
				next = due < next ? due : next;
				break;
			}
			if (alerts_open_in(a, m->scope)) {
				next = now + STAGE_PROMOTE_RECHECK_S < next ?
					       now + STAGE_PROMOTE_RECHECK_S :
					       next;
				break;
			}
			if (mode_set(a, m->scope, STATE_DB_MODE_ENFORCE, now, &err) < 0) {
				log_err("agent: stages: namespace '%s': %s", m->scope, err.msg);
				break;
			}
			log_notice("agent: stages: namespace '%s': preview window over with no "
				   "open alert, enforcing (autoPromote)",
				   m->scope);
			promoted = true;
			break;
		default:
			break;
		}
	}
	if (promoted)
		stages_apply(a, true);
	if (pending && !a->prop_job && now >= a->stage_retry) {
		int r = agent_propose_start(a, pending, proposal_done_cb, &err);

		if (r < 0 && r != -EBUSY && r != -EAGAIN) {
			log_err("agent: stages: the proposal of namespace '%s': %s", pending,
				err.msg);
			a->stage_retry = now + STAGE_RETRY_S;
		}
	}
	/* A proposed namespace waiting for the worker: looked at each second
	 * (the worker tells when it is done, this covers POST /proposal's). */
	if (pending && (a->prop_job || now < a->stage_retry))
		next = a->prop_job ? now + 1 : a->stage_retry < next ? a->stage_retry : next;
	else if (pending)
		next = now + 1;
	stage_arm(a, next, now);
}

static void stage_arm(struct agent *a, int64_t due, int64_t now)
{
	if (due == INT64_MAX) {
		loop_timer_disarm(&a->stage_timer);
		return;
	}
	if (loop_timer_arm_in(&a->stage_timer, due > now ? (uint64_t) (due - now) * 1000 : 0) < 0)
		log_warning("agent: stages: cannot arm the timer: %s", strerror(ENOMEM));
}

static void stage_timer_cb(struct loop_timer *t)
{
	stage_tick(LOOP_CONTAINER_OF(t, struct agent, stage_timer));
}

/* A namespace's proposal is stored (@r 0): it goes on to preview. */
static void proposal_done_cb(struct agent *a, const char *scope, int r)
{
	struct state_db_mode *m = mode_find(a, scope);
	struct bh_err err = { 0 };

	if (r < 0) {
		a->stage_retry = time(NULL) + STAGE_RETRY_S;
	} else if (m && (m->mode == STATE_DB_MODE_PREVIEW || m->mode == STATE_DB_MODE_ENFORCE)) {
		/* Forced to preview or enforce (its last proposal) while this
		 * one was computed: the stored proposal is this one now, and
		 * the kernel follows it (a restart would compile it). */
		log_notice("agent: stages: namespace '%s': its new proposal replaces the one "
			   "in %s",
			   scope, state_db_mode_name(m->mode));
		agent_stage_proposals_changed(a);
	} else if (m && m->mode == STATE_DB_MODE_PROPOSED) {
		if (mode_set(a, scope, STATE_DB_MODE_PREVIEW, time(NULL), &err) < 0) {
			log_err("agent: stages: namespace '%s': %s", scope, err.msg);
		} else {
			log_notice("agent: stages: namespace '%s': its proposal is previewed",
				   scope);
			stages_apply(a, true);
		}
	}
	stage_tick(a);
}

int agent_stage_start(struct agent *a, struct bh_err *reterr)
{
	struct cluster *c = source_cluster(a);

	(void) reterr;
	loop_timer_init(&a->stage_timer, a->loop, stage_timer_cb);
	a->stage_dirty = true;
	if (c) {
		ns_scan(a, c);
		(void) inject(a, c, false);
		a->stage_src = c;
		a->stage_ns_gen = c->ns_gen;
	}
	stage_tick(a);
	return 0;
}

void agent_stage_step(struct agent *a)
{
	struct cluster *c = source_cluster(a);

	/* (each turn of the API client comes here: only a new cluster, or
	 * one where a namespace may have appeared, costs a scan) */
	if (!c || (c == a->stage_src && c->ns_gen == a->stage_ns_gen))
		return;
	ns_scan(a, c);
	if (c != a->stage_src || a->stage_dirty)
		(void) inject(a, c, false);
	a->stage_src = c;
	a->stage_ns_gen = c->ns_gen;
	stage_tick(a);
}

void agent_stage_reloaded(struct agent *a)
{
	agent_stage_step(a);
}

void agent_stage_stop(struct agent *a)
{
	if (a->loop)
		loop_timer_disarm(&a->stage_timer);
	wanted_free(a);
}

void agent_stage_status(struct agent *a, struct json_out *w)
{
	json_out_arr_begin(w);
	for (size_t k = 0; k < a->n_modes; k++) {
		const struct state_db_mode *m = &a->modes[k];

		if (!m->scope[0] || agent_stage_is_workload(m->scope))
			continue;
		json_out_obj_begin(w);
		json_out_key(w, "namespace");
		json_out_str(w, m->scope);
		json_out_key(w, "stage");
		json_out_str(w, state_db_mode_name(m->mode));
		json_out_key(w, "since");
		json_out_time(w, m->since);
		json_out_key(w, "until");
		if (m->mode == STATE_DB_MODE_LEARN)
			json_out_time(w, m->since + learn_window(a, m));
		else if (m->mode == STATE_DB_MODE_PREVIEW)
			json_out_time(w, m->since + preview_window(a, m));
		else
			json_out_null(w);
		json_out_obj_end(w);
	}
	agent_stage_workload_status(a, w);
	json_out_arr_end(w);
}

void agent_stage_wanted_sync(struct agent *a)
{
	if (a->stage_dirty)
		wanted_build(a);
}

/* ---- POST /stage ---- */

/* 409 naming the open alerts of the namespaces @v. */
static int answer_alerts(struct agent *a, struct http_response *resp, const char *const *v,
			 size_t n, size_t open)
{
	struct json_out w;
	char first[256] = "";

	for (size_t i = 0; a->alerts && i < alerts_count(a->alerts) && !first[0]; i++) {
		const struct alert_entry *e = alerts_at(a->alerts, i);

		for (size_t k = 0; k < n && !first[0]; k++)
			if (alert_of(a, e, v[k]))
				(void) snprintf(first, sizeof(first), "%s (%.80s -> %.80s port %u)",
						e->id, e->src, e->dst, (unsigned) e->port);
	}
	resp->status = 409;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "error");
	{
		char msg[512];

		(void) snprintf(msg, sizeof(msg),
				"%zu open alert%s: %s%s; dismiss them ('bulkhead dismiss') or "
				"--force",
				open, open == 1 ? "" : "s", first, open > 1 ? ", ..." : "");
		json_out_str(&w, msg);
	}
	json_out_key(&w, "alerts");
	json_out_arr_begin(&w);
	for (size_t i = 0; a->alerts && i < alerts_count(a->alerts); i++) {
		const struct alert_entry *e = alerts_at(a->alerts, i);

		for (size_t k = 0; k < n; k++) {
			if (alert_of(a, e, v[k])) {
				json_out_str(&w, e->id);
				break;
			}
		}
	}
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	json_out_newline(&w);
	return json_out_error(&w);
}

static int stage_parse(const char *s, enum state_db_mode_kind *ret)
{
	if (strcmp(s, "learn") == 0)
		*ret = STATE_DB_MODE_LEARN;
	else if (strcmp(s, "preview") == 0)
		*ret = STATE_DB_MODE_PREVIEW;
	else if (strcmp(s, "enforce") == 0)
		*ret = STATE_DB_MODE_ENFORCE;
	else
		return -EINVAL;
	return 0;
}

/* Whether @ns has a stored proposal: 1, 0, -errno. */
static int has_proposal(struct agent *a, const char *ns)
{
	struct bh_err err = { 0 };
	char *json = NULL;
	int r = state_db_proposal_get(a->db, ns, &json, NULL, NULL, &err);

	free(json);
	return r;
}

/* What stops @m from going to @to: 0 none, or an answer written (409),
 * or with @all a reason in @why (skipped). */
static int check_one(struct agent *a, const struct state_db_mode *m, enum state_db_mode_kind to,
		     bool force, char *why, size_t len)
{
	char until[64];
	int r;

	if (to == STATE_DB_MODE_LEARN || m->mode == STATE_DB_MODE_PREVIEW ||
	    m->mode == STATE_DB_MODE_ENFORCE)
		return 0;
	r = has_proposal(a, m->scope);
	if (r < 0)
		return r;
	if (r == 1 && force)
		return 0;
	(void) rfc3339_format(m->since + learn_window(a, m), until, sizeof(until));
	if (r == 0)
		(void) snprintf(why, len,
				"namespace '%s' is still learning until %s: it has no proposal yet",
				m->scope,
				m->mode == STATE_DB_MODE_LEARN ? until : "its proposal is made");
	else
		(void) snprintf(why, len,
				"namespace '%s' is learning again until %s (--force takes its last "
				"proposal)",
				m->scope, until);
	return 1;
}

/* Whether a namespace in @from switches to @to: learn is relearn, which
 * starts the window again from any stage. */
static bool moves(enum state_db_mode_kind from, enum state_db_mode_kind to, bool skip)
{
	return !skip && (from != to || to == STATE_DB_MODE_LEARN);
}

static int stage_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct agent *a = ud;
	size_t len, n = 0, open = 0;
	const char *body = http_request_body(req, &len), **v = NULL;
	enum state_db_mode_kind to, *from = NULL;
	json_t *doc, *list, *jall, *jforce;
	bool all, force, *skip = NULL;
	struct bh_err err = { 0 };
	int64_t now = time(NULL);
	json_error_t jerr;
	struct json_out w;
	char why[512];
	int r = 0;

	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return agent_control_error(resp, 400, "the body is not JSON: %s", jerr.text) < 0 ?
			       -ENOMEM :
			       0;
	list = json_object_get(doc, "namespaces");
	jall = json_object_get(doc, "all");
	jforce = json_object_get(doc, "force");
	all = json_is_true(jall);
	force = json_is_true(jforce);
	if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "stage")) ||
	    stage_parse(json_string_value(json_object_get(doc, "stage")), &to) < 0) {
		r = agent_control_error(resp, 400, "\"stage\": expected enforce, preview or learn");
		goto out;
	}
	if (json_object_get(doc, "workloads")) {
		if (list || jall) {
			r = agent_control_error(
				resp, 400,
				"\"workloads\" goes with neither \"namespaces\" nor "
				"\"all\"");
			goto out;
		}
		r = agent_stage_workload_post(a, json_object_get(doc, "workloads"), to, force,
					      resp);
		if (r == 1)
			stages_apply(a, true);
		goto out;
	}
	if ((jall && !json_is_boolean(jall)) || (jforce && !json_is_boolean(jforce)) ||
	    (list && !json_is_array(list)) || (!all && json_array_size(list) == 0) ||
	    (all && list) || json_array_size(list) > STAGE_NAMESPACES_MAX) {
		r = agent_control_error(
			resp, 400, "expected \"namespaces\": a non-empty array, or \"all\": true");
		goto out;
	}
	n = all ? a->n_modes : json_array_size(list);
	v = calloc(n ? n : 1, sizeof(*v));
	from = calloc(n ? n : 1, sizeof(*from));
	skip = calloc(n ? n : 1, sizeof(*skip));
	if (!v || !from || !skip) {
		r = -ENOMEM;
		goto out;
	}
	if (all) {
		n = 0;
		for (size_t k = 0; k < a->n_modes; k++)
			if (a->modes[k].scope[0] && !agent_stage_is_workload(a->modes[k].scope))
				v[n++] = a->modes[k].scope;
	}
	for (size_t i = 0; i < n; i++) {
		const struct state_db_mode *m;

		if (!all) {
			v[i] = json_string_value(json_array_get(list, i));
			if (!v[i] || !v[i][0]) {
				r = agent_control_error(resp, 400,
							"\"namespaces\"[%zu]: not a name", i);
				goto out;
			}
		}
		m = agent_stage_is_workload(v[i]) ? NULL : mode_find(a, v[i]);
		if (!m) {
			r = agent_control_error(resp, 404, "no namespace '%.253s' on this agent",
						v[i]);
			goto out;
		}
		from[i] = m->mode;
		r = check_one(a, m, to, force, why, sizeof(why));
		if (r < 0)
			goto out;
		if (r == 1 && !all) {
			r = agent_control_error(resp, 409, "%s", why);
			goto out;
		}
		skip[i] = r == 1;
		r = 0;
		if (to == STATE_DB_MODE_ENFORCE && moves(from[i], to, skip[i]))
			open += alerts_open_in(a, v[i]);
	}
	if (open && !force) {
		r = answer_alerts(a, resp, v, n, open);
		goto out;
	}
	/* The database first, then the one batch. */
	for (size_t i = 0; i < n; i++) {
		if (!moves(from[i], to, skip[i]))
			continue;
		r = mode_set(a, v[i], to, now, &err);
		if (r < 0) {
			/* (those before are switched: the batch below sends them) */
			stages_apply(a, true);
			r = agent_control_error(resp, 500, "%s", err.msg);
			goto out;
		}
		log_notice("agent: stages: namespace '%s': %s -> %s%s", v[i],
			   state_db_mode_name(from[i]), state_db_mode_name(to),
			   force ? " (forced)" : "");
	}
	stages_apply(a, true);
	stage_tick(a);
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "stage");
	json_out_str(&w, state_db_mode_name(to));
	json_out_key(&w, "switched");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		if (!moves(from[i], to, skip[i]))
			continue;
		json_out_obj_begin(&w);
		json_out_key(&w, "namespace");
		json_out_str(&w, v[i]);
		json_out_key(&w, "from");
		json_out_str(&w, state_db_mode_name(from[i]));
		json_out_key(&w, "to");
		json_out_str(&w, state_db_mode_name(to));
		json_out_obj_end(&w);
	}
	json_out_arr_end(&w);
	json_out_key(&w, "unchanged");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		if (!skip[i] && !moves(from[i], to, false))
			json_out_str(&w, v[i]);
	json_out_arr_end(&w);
	json_out_key(&w, "skipped");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		const struct state_db_mode *m = mode_find(a, v[i]);

		if (!skip[i] || !m)
			continue;
		(void) check_one(a, m, to, force, why, sizeof(why));
		json_out_obj_begin(&w);
		json_out_key(&w, "namespace");
		json_out_str(&w, v[i]);
		json_out_key(&w, "why");
		json_out_str(&w, why);
		json_out_obj_end(&w);
	}
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	json_out_newline(&w);
	r = json_out_error(&w);
out:
	free(v);
	free(from);
	free(skip);
	json_decref(doc);
	return r < 0 ? r : 0;
}

bool agent_stage_known(struct agent *a, const char *ns)
{
	return ns[0] && !strchr(ns, '/') && mode_find(a, ns);
}

bool agent_stage_is_proposal(struct agent *a, const char *ns, const char *name)
{
	char full[512];

	if (a->stage_dirty)
		wanted_build(a);
	(void) snprintf(full, sizeof(full), "%s%s", NETPOL_PROPOSAL_PREFIX, name);
	return wanted_find(a, ns, full) != NULL;
}

int agent_stage_set(struct agent *a, const char *ns, enum state_db_mode_kind kind,
		    struct bh_err *reterr)
{
	const struct state_db_mode *m = mode_find(a, ns);
	int r;

	if (m && m->mode == kind)
		return 0;
	r = mode_set(a, ns, kind, time(NULL), reterr);
	return r < 0 ? r : 1;
}

void agent_stage_proposals_changed(struct agent *a)
{
	a->stage_dirty = true;
	stages_apply(a, true);
}

int agent_stage_routes(struct agent *a, struct bh_err *reterr)
{
	int r = http_server_route(a->http, "POST", "/stage", 0, stage_cb, a);

	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: POST /stage: %s", strerror(-r));
	return 0;
}
