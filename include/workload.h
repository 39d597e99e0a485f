/*
 * Workloads: pods grouped by their controller (a ReplicaSet-owned pod
 * belongs to its Deployment, a CronJob-created Job's pod to the CronJob),
 * StatefulSet, DaemonSet, Job, or, for bare pods, by their stable labels.
 * Also the minimal stable-label selector of each workload.  Implemented in
 * learner/workload.c; used by identity (learn) and propose.  workload_of_pod()
 * is the only copy of the naming rule: identity_workload() records its
 * answer in flows and propose looks workloads up by it.
 */
#ifndef BH_WORKLOAD_H
#define BH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster.h"
#include "selector.h"

/* Kind given to bare pods grouped by their stable labels. */
#define WORKLOAD_KIND_POD "Pod"

/*
 * True for labels that controllers set per revision, per pod or per run:
 * pod-template-hash, controller-revision-hash,
 * statefulset.kubernetes.io/pod-name, pod-template-generation, the Job
 * labels (controller-uid, job-name and their batch.kubernetes.io/ forms),
 * apps.kubernetes.io/pod-index, batch.kubernetes.io/job-completion-index.
 * They never appear in a generated selector.
 */
bool workload_label_is_volatile(const char *key);

/* Copies the stable labels of @src into an initialised, empty @dst.
 * 0 or -ENOMEM. */
int workload_stable_labels(const struct labels *src, struct labels *dst) BH_MUST_CHECK;

/*
 * The workload of @p as (kind, name), newly allocated strings:
 *  - owner ReplicaSet "D-HASH" whose HASH is the pod's pod-template-hash
 *    label, or, for a pod without that label, looks like one (5 to 10
 *    characters of the alphabet Kubernetes' SafeEncodeString uses, no
 *    vowels, no 0, 1 or 3): Deployment D; otherwise ReplicaSet;
 *  - owner Job "C-N" with N all digits (8 or more, the scheduled minute
 *    a CronJob appends): CronJob C; otherwise Job;
 *  - any other controller: its kind and name;
 *  - no controller: "Pod" and, for the name, the value of the first of
 *    app.kubernetes.io/name, app, k8s-app, name that is set, else the pod's
 *    own name.
 * 0 or -ENOMEM; nothing is returned on failure.
 */
int workload_of_pod(const struct pod *p, char **ret_kind, char **ret_name) BH_MUST_CHECK;

struct workload {
	char *ns; /* owned */
	char *kind; /* owned */
	char *name; /* owned; unique within (ns, kind) */
	size_t n_pods;
	size_t *pods; /* owned; indexes into cluster->pods, ascending */
	/* Stable labels carrying the same value on every pod of the workload. */
	struct labels common;
	/* The smallest set of stable labels selecting exactly these pods and no
	 * other pod of the namespace; DoesNotExist expressions are added only
	 * when no label set can tell the pods apart. */
	struct selector sel;
	/* False when even that is not enough: @sel then selects other pods too
	 * (those carrying all of our labels). */
	bool exact;
	bool host_network; /* every pod uses the node's network */
};

struct workload_set {
	size_t n;
	struct workload *v; /* owned, sorted by (ns, kind, name) */
	size_t n_pods;
	size_t *by_pod; /* owned; cluster pod index -> workload index */
};

/*
 * Groups the pods of @c into workloads and computes their selectors.  The
 * cluster must not change while the set is in use.  0 or -ENOMEM.
 */
int workload_set_build(const struct cluster *c, struct workload_set *ret) BH_MUST_CHECK;
void workload_set_done(struct workload_set *ws);
/* Borrowed; NULL when absent. */
const struct workload *workload_set_find(const struct workload_set *ws, const char *ns,
					 const char *kind, const char *name);
/* Index of the workload of the pod at @pod_index of the cluster. */
size_t workload_set_of_pod(const struct workload_set *ws, size_t pod_index);

/*
 * Minimal selector over @n_others distinct label sets of other pods: the
 * smallest subset of @cand (stable labels common to the workload) that every
 * other set mismatches at least once, ties broken by a preference for the
 * keys people expect (app.kubernetes.io/name, app, k8s-app, ...), and at
 * least one label when @cand has any.  The labels are added to @ret.
 * Returns 1 when exact, 0 when some other set carries all of @cand (then
 * every candidate is used), -ENOMEM.
 */
int workload_selector_minimise(const struct labels *cand, const struct labels *const *others,
			       size_t n_others, struct labels *ret);

#endif
