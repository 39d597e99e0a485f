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

#include <stdbool.h>

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

#endif
