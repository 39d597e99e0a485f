/*
 * The proposer Lease of cluster mode (docs/cluster.md, "The Lease and the
 * proposer"): coordination.k8s.io/v1 Lease CLUSTER_LEASE_NAME in the
 * agent's namespace, holderIdentity = the node name.  Every agent in
 * cluster mode campaigns: it acquires the Lease when absent (create) or
 * expired (renewTime + leaseDurationSeconds past: an update carrying the
 * read resourceVersion, so that of two agents at once one wins and the
 * other's 409 re-reads a Lease someone holds), renews it every lease_renew_s
 * while it holds it, and stops holding it (stops proposing) when it could
 * not renew within two thirds of lease_duration_s (the rest is the clock
 * skew between nodes it tolerates).  Implemented in agent/cluster_lease.c
 * over the asynchronous writes of kube_write.h.  Loop thread only.
 */
#ifndef BH_CLUSTER_LEASE_H
#define BH_CLUSTER_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct agent;
struct json_out;

/* Starts campaigning (a->kube and a->cfg.cluster needed): a first attempt
 * now, then every lease_renew_s.  0 or -ENOMEM (system). */
int cluster_lease_start(struct agent *a, struct bh_err *reterr);
/* Stops (a write in flight is cancelled; the Lease is left to expire).
 * NULL-safe on an agent that never started. */
void cluster_lease_stop(struct agent *a);
/* Whether this agent holds the Lease now (renewed within two thirds of
 * the duration). */
bool cluster_lease_held(const struct agent *a);
/* The Lease's members of /status's "cluster" object (between the braces
 * cluster_propose_status() writes): lease, namespace, leaseHolder, holder,
 * transitions, leaseError. */
void cluster_lease_status(const struct agent *a, struct json_out *w);

/* A Lease object as read (its spec, coordination.k8s.io/v1). */
struct cluster_lease_view {
	const char *holder; /* spec.holderIdentity, borrowed; NULL when not a string */
	/* A holder ("" is none) whose renewTime + leaseDurationSeconds is after
	 * the time given; a Lease without a readable renewTime is not live:
	 * nobody can say it is being renewed. */
	bool live;
	int64_t expires; /* unix ms renewTime + leaseDurationSeconds; 0 unreadable */
	/* spec.leaseTransitions; 0 when absent, not an integer or negative. The
	 * Lease's fields are int32: leaseDurationSeconds is taken in
	 * [0, INT32_MAX] and leaseTransitions in [0, INT32_MAX - 1], so that
	 * adding one stays in range. */
	int64_t transitions;
};

/* Reads Lease @obj (borrowed, any JSON) as of unix ms @now_ms.  Pure: no
 * allocation, no clock. */
void cluster_lease_read(const json_t *obj, int64_t now_ms, struct cluster_lease_view *ret);

#endif
