/*
 * Cluster mode: the stages of this node's namespaces follow the API
 * server's PolicyMode and Proposal objects (docs/cluster.md, "The
 * effective stage of namespace NS").
 *
 * Two watches (include/kube_watch.h, objects kept): policymodes
 * (cluster-scoped) and proposals (all namespaces).  Once both have their
 * first list, every turn with events (coalesced by a zero-delay timer, so
 * a relist or a burst is one batch) looks at each namespace that has
 * Proposal objects or a stage:
 *
 *   - its Proposal objects, as the v1 List of NetworkPolicies the state
 *     database stores (proposal_obj_to_list(): the bytes propose stores
 *     on a node), are stored as
 *     the namespace's next generation when they differ from the stored
 *     one (an amended proposal, `bulkhead allow` from a workstation, is
 *     such a change);
 *   - its effective stage (cluster_stage_effective()) becomes its stage in
 *     a->modes (agent_stage_set(), the database first);
 *   - then one batch: the proposal policies follow (agent_stage.c injects
 *     them, as for a switch on the node), and status.applied of the
 *     NodeFlows object records, per namespace, the stage, the PolicyMode
 *     followed (switchedAt), the proposals' computedAt, when the batch was
 *     sent and the enforcement's error, written at once
 *     (cluster_nodeflows_applied_changed()).
 *
 * Nothing changes before both lists are complete: a restarting agent
 * keeps the stages and proposals of its state database (compiled before
 * the API answers) until the API says otherwise.  In cluster mode
 * agent_stage.c runs no learning timer, no local proposal computation and
 * no autoPromote: the Lease holder computes the proposals.
 * Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "alerts.h"
#include "buf.h"
#include "cluster_api.h"
#include "cluster_stage.h"
#include "hmap.h"
#include "kube_watch.h"
#include "log.h"
#include "proposal_obj.h"
#include "state_db.h"
#include "vec.h"

/* ---- a namespace's Proposal objects ---- */

struct ns_props {
	const char *ns; /* borrowed from the watch's objects */
	json_t *objs; /* its Proposal objects, sorted by name */
};

struct follow_scan {
	struct agent *a;
	struct ns_props *v;
	size_t n, cap;
	struct hmap by_ns;
};

static int scan_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct follow_scan *s = ud;
	json_t *obj = kube_watch_get(s->a->cf_props, ns, name);
	void *v;
	size_t k;

	(void) rv;
	if (!obj || !ns[0])
		return 0;
	v = hmap_get_str(&s->by_ns, ns);
	if (v) {
		k = (size_t) (uintptr_t) v - 1;
	} else {
		if (s->n == s->cap) {
			struct ns_props *nv = vec_grow(s->v, &s->cap, s->n + 1, sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			s->v = nv;
		}
		k = s->n;
		s->v[k] =
			(struct ns_props){ .ns = json_string_value(json_object_get(
						   json_object_get(obj, "metadata"), "namespace")),
					   .objs = json_array() };
		if (!s->v[k].ns)
			s->v[k].ns = ns;
		s->n++;
		if (!s->v[k].objs ||
		    hmap_put_str(&s->by_ns, s->v[k].ns, (void *) (uintptr_t) s->n) < 0)
			return -ENOMEM;
	}
	return json_array_append(s->v[k].objs, obj) < 0 ? -ENOMEM : 0;
}

/* @objs sorted by metadata.name (the watch gives them in its order). */
static int sort_objs(json_t *objs)
{
	size_t n = json_array_size(objs);
	json_t **v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(objs, i));
	qsort(v, n, sizeof(*v), proposal_obj_name_cmp);
	(void) json_array_clear(objs);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(objs, v[i]) < 0) {
			while (++i < n)
				json_decref(v[i]);
			free(v);
			return -ENOMEM;
		}
	free(v);
	return 0;
}

/* ---- applied ---- */

static struct cluster_applied *applied_get(struct agent *a, const char *ns)
{
	struct cluster_applied *v;

	for (size_t i = 0; i < a->n_cl_applied; i++)
		if (strcmp(a->cl_applied[i].ns, ns) == 0)
			return &a->cl_applied[i];
	v = realloc(a->cl_applied, (a->n_cl_applied + 1) * sizeof(*v));
	if (!v)
		return NULL;
	a->cl_applied = v;
	v = &a->cl_applied[a->n_cl_applied];
	*v = (struct cluster_applied){ .ns = strdup(ns) };
	if (!v->ns)
		return NULL;
	a->n_cl_applied++;
	return v;
}

/* ---- following ---- */

static int mode_of(struct agent *a, const char *name, struct cluster_mode *ret)
{
	json_t *obj = kube_watch_get(a->cf_modes, "", name);
	struct bh_err err = { 0 };

	*ret = (struct cluster_mode){ 0 };
	if (!obj)
		return 0;
	if (cluster_mode_parse(obj, ret, &err) < 0) {
		log_warning("agent: cluster: %s", err.msg);
		*ret = (struct cluster_mode){ 0 };
		return -EINVAL;
	}
	return 0;
}

/* One namespace: its proposal stored when it changed, its stage set.
 * 1 when either changed (the batch to send), 0, or -errno with @err. */
static int follow_ns(struct agent *a, const char *ns, const json_t *objs,
		     const struct cluster_mode *all, struct cluster_applied *ap, char *err,
		     size_t errlen)
{
	struct cluster_stage_input in = { .all = *all };
	struct cluster_stage st;
	struct bh_err e = { 0 };
	char *list = NULL, *stored = NULL;
	int changed = 0, r;

	(void) mode_of(a, ns, &in.ns);
	proposal_obj_computed_at(objs, &in.has_proposals, &in.computed_at);
	cluster_stage_effective(&in, &st);
	if (in.has_proposals) {
		struct buf b;

		buf_init(&b, SIZE_MAX);
		r = proposal_obj_to_list(objs, &b, &e);
		list = r == 0 ? buf_steal(&b) : NULL;
		buf_done(&b);
		if (!list) {
			(void) snprintf(err, errlen, "%s", r < 0 ? e.msg : strerror(ENOMEM));
			return r < 0 ? r : -ENOMEM;
		}
		r = state_db_proposal_get(a->db, ns, &stored, NULL, NULL, &e);
		if (r >= 0 && (r == 0 || strcmp(stored, list) != 0)) {
			int64_t gen = 0;

			r = state_db_proposal_put(a->db, ns, list, in.computed_at / 1000, &gen, &e);
			if (r == 0) {
				log_notice(
					"agent: cluster: namespace '%s': proposal generation %lld "
					"from %zu Proposal object%s",
					ns, (long long) gen, json_array_size(objs),
					json_array_size(objs) == 1 ? "" : "s");
				changed = 1;
			}
		}
		free(stored);
		free(list);
		if (r < 0) {
			(void) snprintf(err, errlen, "%s", e.msg);
			return r;
		}
	}
	r = agent_stage_set(a, ns, st.mode, &e);
	if (r < 0) {
		(void) snprintf(err, errlen, "%s", e.msg);
		return r;
	}
	if (r == 1)
		log_notice("agent: cluster: namespace '%s': %s (%s)", ns,
			   state_db_mode_name(st.mode),
			   st.switched_at ? (st.from_all ? "PolicyMode all" : "its PolicyMode") :
					    "no PolicyMode");
	changed |= r;
	if (ap->stage != st.mode || ap->switched_at != st.switched_at ||
	    ap->computed_at != in.computed_at || ap->err[0] || !ap->applied_at)
		changed = 1;
	ap->stage = st.mode;
	ap->switched_at = st.switched_at;
	ap->computed_at = in.computed_at;
	return changed;
}

/* An alert decided by a policy of a proposal compiled now (preview or
 * enforce): one the amended proposal may allow.  Alerts of a namespace
 * back in learn stay as they are (nothing isolates: "allowed" would be
 * false). */
static bool alert_of_proposal(struct agent *a, const struct alert_entry *e)
{
	const char *slash = e->policy ? strchr(e->policy, '/') : NULL;
	char ns[256];

	if (!slash || (size_t) (slash - e->policy) >= sizeof(ns))
		return false;
	memcpy(ns, e->policy, (size_t) (slash - e->policy));
	ns[slash - e->policy] = '\0';
	return agent_stage_is_proposal(a, ns, slash + 1);
}

static void follow_apply(struct agent *a)
{
	struct follow_scan s = { .a = a };
	struct cluster_mode all;
	bool *touched = NULL, any = false;
	size_t n_ns;
	char **names = NULL;
	struct timespec ts;
	int64_t now_ms;

	if (!kube_watch_synced(a->cf_modes) || !kube_watch_synced(a->cf_props))
		return;
	hmap_init(&s.by_ns, 0);
	if (kube_watch_foreach(a->cf_props, scan_cb, &s) < 0)
		goto oom;
	/* The namespaces with a stage and no Proposal object follow too (a
	 * proposal deleted: learn). */
	for (size_t k = 0; k < a->n_modes; k++) {
		const char *ns = a->modes[k].scope;

		if (!ns[0] || agent_stage_is_workload(ns) || hmap_get_str(&s.by_ns, ns))
			continue;
		if (s.n == s.cap) {
			size_t cap = s.cap ? 2 * s.cap : 16;
			struct ns_props *nv = realloc(s.v, cap * sizeof(*nv));

			if (!nv)
				goto oom;
			s.v = nv;
			s.cap = cap;
		}
		s.v[s.n] = (struct ns_props){ .ns = ns, .objs = json_array() };
		if (!s.v[s.n++].objs || hmap_put_str(&s.by_ns, ns, (void *) (uintptr_t) s.n) < 0)
			goto oom;
	}
	n_ns = s.n;
	/* (the names copied: setting a stage may move a->modes) */
	names = calloc(n_ns ? n_ns : 1, sizeof(*names));
	touched = calloc(n_ns ? n_ns : 1, sizeof(*touched));
	if (!names || !touched)
		goto oom;
	for (size_t i = 0; i < n_ns; i++)
		if (!(names[i] = strdup(s.v[i].ns)))
			goto oom;
	(void) mode_of(a, CLUSTER_POLICYMODE_ALL, &all);
	for (size_t i = 0; i < n_ns; i++) {
		struct cluster_applied *ap = applied_get(a, names[i]);
		char err[BH_ERR_MSG_MAX] = "";
		int r;

		if (!ap)
			goto oom;
		if (sort_objs(s.v[i].objs) < 0)
			goto oom;
		r = follow_ns(a, names[i], s.v[i].objs, &all, ap, err, sizeof(err));
		if (r < 0) {
			if (strcmp(ap->err, err) != 0) {
				log_err("agent: cluster: namespace '%s': %s", names[i], err);
				(void) snprintf(ap->err, sizeof(ap->err), "%s", err);
				touched[i] = any = true;
			}
			continue;
		}
		if (r == 1)
			touched[i] = any = true;
	}
	if (any) {
		/* One batch for every namespace of this turn. */
		agent_stage_proposals_changed(a);
		a->cf_batches++;
		/* (an amended proposal may allow what an open alert saw) */
		(void) agent_alerts_recheck(a, alert_of_proposal);
		(void) clock_gettime(CLOCK_REALTIME, &ts);
		now_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		for (size_t i = 0; i < n_ns; i++) {
			struct cluster_applied *ap = applied_get(a, names[i]);

			if (!touched[i] || !ap)
				continue;
			ap->applied_at = now_ms;
			if (a->enf_err[0])
				(void) snprintf(ap->err, sizeof(ap->err), "%s", a->enf_err);
			else if (!strstr(ap->err, "Proposal"))
				ap->err[0] = '\0';
		}
		cluster_nodeflows_applied_changed(a);
	}
	goto out;
oom:
	log_err("agent: cluster: following the PolicyMode and Proposal objects: %s",
		strerror(ENOMEM));
out:
	for (size_t i = 0; i < s.n; i++)
		json_decref(s.v[i].objs);
	for (size_t i = 0; names && i < s.n; i++)
		free(names[i]);
	free(names);
	free(touched);
	free(s.v);
	hmap_free(&s.by_ns);
}

static void cf_timer_cb(struct loop_timer *t)
{
	follow_apply(LOOP_CONTAINER_OF(t, struct agent, cf_timer));
}

static void changed(struct agent *a)
{
	if (loop_timer_arm_in(&a->cf_timer, 0) < 0)
		log_warning("agent: cluster: cannot arm a timer: %s", strerror(ENOMEM));
}

static void event_cb(void *ud, struct kube_watch *w, enum kube_event_type t, json_t *obj)
{
	(void) w;
	(void) t;
	(void) obj;
	changed(ud);
}

static void synced_cb(void *ud, struct kube_watch *w)
{
	(void) w;
	changed(ud);
}

int cluster_follow_start(struct agent *a, struct bh_err *reterr)
{
	const struct kube_watch_opts mo = {
		.group = CLUSTER_API_GROUP,
		.version = CLUSTER_API_VERSION,
		.resource = CLUSTER_POLICYMODE_RESOURCE,
		.cluster_scoped = true,
		.keep_objects = true,
		.event_cb = event_cb,
		.synced_cb = synced_cb,
		.ud = a,
	};
	const struct kube_watch_opts po = {
		.group = CLUSTER_API_GROUP,
		.version = CLUSTER_API_VERSION,
		.resource = CLUSTER_PROPOSAL_RESOURCE,
		.keep_objects = true,
		.event_cb = event_cb,
		.synced_cb = synced_cb,
		.ud = a,
	};
	int r;

	if (!a->cfg.cluster || !a->kube)
		return 0;
	loop_timer_init(&a->cf_timer, a->loop, cf_timer_cb);
	a->cf_on = true;
	r = kube_watch_new(a->kube, &mo, &a->cf_modes);
	if (r == 0)
		r = kube_watch_new(a->kube, &po, &a->cf_props);
	if (r == 0)
		r = kube_watch_start(a->cf_modes);
	if (r == 0)
		r = kube_watch_start(a->cf_props);
	if (r < 0)
		return bh_err_set(
			reterr, BH_ERR_SYSTEM, r,
			"agent: cluster: watching the PolicyMode and Proposal objects: %s",
			strerror(-r));
	if (loop_timer_arm_in(&a->kube_timer, 0) < 0)
		return bh_err_oom(reterr);
	return 0;
}

void cluster_follow_stop(struct agent *a)
{
	if (!a->cf_on)
		return;
	loop_timer_disarm(&a->cf_timer);
	a->cf_modes = kube_watch_free(a->cf_modes);
	a->cf_props = kube_watch_free(a->cf_props);
	for (size_t i = 0; i < a->n_cl_applied; i++)
		free(a->cl_applied[i].ns);
	free(a->cl_applied);
	a->cl_applied = NULL;
	a->n_cl_applied = 0;
	a->cf_on = false;
}
