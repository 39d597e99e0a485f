/*
 * Moving the sync object's cluster to another version of it (include/sync.h,
 * sync_cluster_diff()): the differences replayed as the watch events that
 * would have brought them, for `bulkhead apply --incremental-from` and the
 * agent's --snapshot reloads.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "sync.h"

/* One event: the sync object moved the ruleset; its own batch when
 * @each, else queued for the caller's flush. */
static int incr_event(struct sync *s, bool each, int r, struct bh_err *reterr)
{
	return r < 0 ? r : each ? sync_flush(s, reterr) : 0;
}

/* Namespaces added or changed (labels), one event each. */
static int incr_ns(struct sync *s, bool each, struct cluster *work, const struct cluster *new,
		   struct bh_err *reterr)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < new->n_ns; i++) {
		const struct k8s_ns *o = cluster_ns_find(work, new->ns[i].name);
		struct k8s_ns n = { 0 }, old = { 0 };

		if (o && labels_equal(&o->labels, &new->ns[i].labels))
			continue;
		n.name = strdup(new->ns[i].name);
		if (!n.name || labels_copy(&n.labels, &new->ns[i].labels) < 0) {
			k8s_ns_done(&n);
			return bh_err_oom(reterr);
		}
		r = cluster_ns_replace(work, &n, &old);
		if (r < 0)
			return bh_err_oom(reterr);
		r = incr_event(s, each,
			       sync_namespace(s, old.name ? &old : NULL,
					      cluster_ns_find(work, new->ns[i].name), reterr),
			       reterr);
		k8s_ns_done(&old);
	}
	return r < 0 ? r : 0;
}

/* Namespace objects that are gone from @new: one event each. */
static int incr_ns_removed(struct sync *s, bool each, struct cluster *work,
			   const struct cluster *new, struct bh_err *reterr)
{
	int r = 0;

	for (size_t i = work->n_ns; r >= 0 && i-- > 0;) {
		struct k8s_ns old = { 0 };

		if (cluster_ns_find(new, work->ns[i].name))
			continue;
		(void) cluster_ns_take(work, work->ns[i].name, &old);
		r = incr_event(s, each, sync_namespace(s, &old, NULL, reterr), reterr);
		k8s_ns_done(&old);
	}
	return r < 0 ? r : 0;
}

/* Node objects added, changed (addresses) or removed: one event each. */
static int incr_nodes(struct sync *s, bool each, struct cluster *work, const struct cluster *new,
		      struct bh_err *reterr)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < new->n_nodes; i++) {
		const struct node *o = cluster_node_find(work, new->nodes[i].name);
		struct node n, old = { 0 };

		if (o && node_compiled_equal(o, &new->nodes[i]))
			continue;
		if (node_copy(&n, &new->nodes[i]) < 0 || cluster_node_replace(work, &n, &old) < 0)
			return bh_err_oom(reterr);
		r = incr_event(s, each,
			       sync_node(s, old.name ? &old : NULL,
					 cluster_node_find(work, new->nodes[i].name), reterr),
			       reterr);
		node_done(&old);
	}
	for (size_t i = work->n_nodes; r >= 0 && i-- > 0;) {
		struct node old = { 0 };

		if (cluster_node_find(new, work->nodes[i].name))
			continue;
		(void) cluster_node_take(work, work->nodes[i].name, &old);
		r = incr_event(s, each, sync_node(s, &old, NULL, reterr), reterr);
		node_done(&old);
	}
	return r < 0 ? r : 0;
}

/* Policies added or changed in what the compiler reads
 * (netpol_compiled_equal()), then those gone; one event each.  Each is a
 * compile of the whole cluster (ruleset_update_policy()): an unchanged one
 * is skipped, not put again. */
static int incr_policies(struct sync *s, bool each, struct cluster *work, const struct cluster *new,
			 struct bh_err *reterr)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < new->n_policies; i++) {
		const struct netpol *np = &new->policies[i];
		const struct netpol *o = cluster_policy_find(work, np->ns, np->name);
		struct netpol p, old;

		if (o && netpol_compiled_equal(o, np))
			continue;
		netpol_init(&p);
		netpol_init(&old);
		if (netpol_copy(&p, np) < 0) {
			netpol_done(&p);
			return bh_err_oom(reterr);
		}
		/* (takes @p, on failure too) */
		if (cluster_policy_replace(work, &p, &old) < 0)
			return bh_err_oom(reterr);
		r = incr_event(s, each,
			       sync_policy(s, old.name ? &old : NULL,
					   cluster_policy_find(work, np->ns, np->name), reterr),
			       reterr);
		netpol_done(&old);
	}
	for (size_t i = work->n_policies; r >= 0 && i-- > 0;) {
		const struct netpol *p = &work->policies[i];
		struct netpol old;

		if (cluster_policy_find(new, p->ns, p->name))
			continue;
		netpol_init(&old);
		(void) cluster_policy_take(work, p->ns, p->name, &old);
		r = incr_event(s, each, sync_policy(s, &old, NULL, reterr), reterr);
		netpol_done(&old);
	}
	return r < 0 ? r : 0;
}

/* Pods added or changed in a field the compiler reads, then those gone;
 * one event each. */
static int incr_pods(struct sync *s, bool each, struct cluster *work, const struct cluster *new,
		     struct bh_err *reterr)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < new->n_pods; i++) {
		const struct pod *np = &new->pods[i];
		const struct pod *o = cluster_pod_find(work, np->ns, np->name);
		struct pod p, old = { 0 };

		if (o && pod_compiled_equal(o, np))
			continue;
		if (pod_copy(&p, np) < 0 || cluster_pod_replace(work, &p, &old) < 0)
			return bh_err_oom(reterr);
		r = incr_event(s, each,
			       sync_pod(s, old.name ? &old : NULL,
					cluster_pod_find(work, np->ns, np->name), reterr),
			       reterr);
		pod_done(&old);
	}
	for (size_t i = work->n_pods; r >= 0 && i-- > 0;) {
		const struct pod *p = &work->pods[i];
		struct pod old = { 0 };

		if (cluster_pod_find(new, p->ns, p->name))
			continue;
		(void) cluster_pod_take(work, p->ns, p->name, &old);
		r = incr_event(s, each, sync_pod(s, &old, NULL, reterr), reterr);
		pod_done(&old);
	}
	return r < 0 ? r : 0;
}

int sync_cluster_diff(struct sync *s, struct cluster *work, const struct cluster *new, bool each,
		      struct bh_err *reterr)
{
	int r;

	r = incr_ns(s, each, work, new, reterr);
	if (r >= 0)
		r = incr_nodes(s, each, work, new, reterr);
	if (r >= 0)
		r = incr_policies(s, each, work, new, reterr);
	if (r >= 0)
		r = incr_pods(s, each, work, new, reterr);
	if (r >= 0)
		r = incr_ns_removed(s, each, work, new, reterr);
	return r < 0 ? r : 0;
}
