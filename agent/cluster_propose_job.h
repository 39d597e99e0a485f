/*
 * One computation of the Lease holder's proposals (agent/cluster_propose.c),
 * off the loop: the union of every node's NodeFlows (each spec read as the
 * flows.json document it is) through propose_build() over the cluster as
 * the agent's cache holds it (its own policies left out), and the Proposal
 * objects of each namespace asked for (proposal_obj_build()).  The inputs
 * are copied on the loop before the thread starts; the thread touches
 * nothing else.  Implemented in agent/cluster_propose_job.c.
 */
#ifndef BH_CLUSTER_PROPOSE_JOB_H
#define BH_CLUSTER_PROPOSE_JOB_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cluster;
struct kube_watch;

struct cluster_pjob {
	pthread_t th;
	bool started; /* th runs (or ran) and is not joined yet */
	int efd; /* an eventfd, readable once done */
	atomic_bool done;
	/* in */
	struct cluster *c;
	char **docs; /* each NodeFlows as a flows.json document */
	char **nodes; /* its node */
	size_t n_docs;
	char **ns; /* the namespaces to compute */
	size_t n_ns;
	int64_t computed_at; /* unix ms */
	/* out, once done */
	int r;
	struct bh_err err;
	json_t **objs; /* per namespace: its Proposal objects (an array) */
	size_t n_flows, n_uncovered;
	uint64_t us; /* how long it took */
};

/*
 * Copies the inputs (@c, every object of @nodeflows, a watch keeping its
 * objects, and the @n_ns namespaces @ns) and starts the computation on a
 * thread; @computed_at is the Proposals' spec.computedAt.  0, or -ENOMEM
 * or a pthread error with nothing started.
 */
int cluster_pjob_start(const struct cluster *c, struct kube_watch *nodeflows, const char *const *ns,
		       size_t n_ns, int64_t computed_at, struct cluster_pjob **ret);

/* Joins the thread (waiting for it when not done) and frees.  NULL-safe. */
void cluster_pjob_free(struct cluster_pjob *j);

#endif
