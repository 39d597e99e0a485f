/*
 * The Lease holder's work in cluster mode (docs/cluster.md, "The Lease and
 * the proposer"): while this agent holds the Lease (cluster_lease.h) it
 * watches every NodeFlows, Proposal and PolicyMode object and, every
 * lease_renew_s, decides per namespace whether to compute its proposals:
 * when it has no Proposal object and its earliest flow is learnDuration
 * old, or when its effective stage (cluster_stage.h) is learn after a
 * PolicyMode learn written learnDuration ago.  The computation runs off the
 * loop from the union of every NodeFlows object's flows and the cluster the
 * agent's cache holds (propose_build() and its self-check); its Proposal
 * objects (proposal_obj.h) are then created or updated with the read
 * resourceVersion, those no longer proposed deleted, and every Proposal's
 * status.mode kept equal to its namespace's effective stage.  All its
 * inputs are API objects: a new holder picks up where the last one
 * stopped.  Implemented in agent/cluster_propose.c.  Loop thread only.
 */
#ifndef BH_CLUSTER_PROPOSE_H
#define BH_CLUSTER_PROPOSE_H

#include "err.h"

struct agent;
struct json_out;

/* Starts the proposer's timer (a->cfg.cluster and a->kube needed; it acts
 * only while the Lease is held).  0 or -ENOMEM (system). */
int cluster_propose_start(struct agent *a, struct bh_err *reterr);
/* Stops the watches and writes, waits for a computation under way. */
void cluster_propose_stop(struct agent *a);
/* /status's "cluster" object (the Lease's fields, then the proposer's). */
void cluster_propose_status(const struct agent *a, struct json_out *w);

#endif
