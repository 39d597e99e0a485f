/*
 * The Proposal objects of a namespace (docs/cluster.md, "Proposal"): one
 * bulkhead.io/v1alpha1 Proposal per workload, holding its proposed
 * NetworkPolicies (name, labels, annotations, a standard spec) and, per
 * rule, the learned flows that justify it with the nodes that saw them.
 * The Lease holder builds them from propose_build()'s output and every
 * node's flows; every agent and `bulkhead proposal -o yaml` turn them back
 * into the v1 List of NetworkPolicies that netpol_emit_list_json() writes
 * and proposal_doc_decode() reads.  Implemented in agent/proposal_obj.c.
 */
#ifndef BH_PROPOSAL_OBJ_H
#define BH_PROPOSAL_OBJ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cluster.h"
#include "err.h"
#include "flows_json.h"
#include "propose.h"

/* The flows a rule of a Proposal lists at most (the others are counted in
 * its flowsTruncated); fewer when the object would exceed
 * CLUSTER_OBJECT_MAX. */
#define PROPOSAL_OBJ_RULE_FLOWS 100

/* The flows one node contributed (its NodeFlows object's spec). */
struct proposal_obj_node {
	const char *name; /* the node's name, borrowed */
	const struct flow_set *flows; /* borrowed */
};

/*
 * Builds the Proposal objects of namespace @ns: a new JSON array, sorted by
 * metadata.name, of one object per workload that has a policy of @ns in
 * @p (apiVersion, kind, metadata.name = the policies' name without
 * -ingress/-egress, metadata.namespace, the managed-by label; spec:
 * workload, computedAt (@computed_at, unix ms), window (the span of the
 * flows that justify its rules; absent when none does), nodes (those whose
 * flows justify a rule, sorted), policies[] (name, labels, annotations,
 * spec as netpol_emit_json() writes them; rules[]: one per
 * spec.ingress[i], then one per spec.egress[i], each with its flows: at
 * most PROPOSAL_OBJ_RULE_FLOWS, in (src, dst, protocol, port) order, and
 * fewer while the object's JSON exceeds CLUSTER_OBJECT_MAX, the count of
 * those left out in flowsTruncated, absent when none)).  No status: the
 * holder writes it (proposal_obj_status()).
 *
 * @p is propose_build()'s output over @c (workload indexes valid; a
 * decoded proposal works too, its workload read from the
 * bulkhead.io/workload annotation).  A flow of @nodes justifies a rule as
 * propose_rules_justified() says, with its ends placed in @c (the pod the
 * flow names, else the live pod of its address); flows of one (src, dst,
 * protocol, port) from several nodes are one entry (connections summed,
 * lastSeen the latest, nodes listed).  src and dst are workload ids
 * "NS/KIND/NAME" or addresses "ADDR/BITS".  Everything is borrowed; @c's
 * lazy indexes may be built.  0 or -ENOMEM (system); nothing is returned
 * on failure.
 */
int proposal_obj_build(const struct proposal *p, struct cluster *c, const char *ns,
		       const struct proposal_obj_node *nodes, size_t n_nodes, int64_t computed_at,
		       json_t **ret, struct bh_err *reterr) BH_MUST_CHECK;

/* {"mode": MODE, "observedAt": @observed_at as RFC 3339 ms}: a Proposal's
 * status.  New reference, NULL on allocation failure. */
json_t *proposal_obj_status(const char *mode, int64_t observed_at);

/*
 * Appends to @out the v1 List of every NetworkPolicy of the Proposal
 * objects of @objs (a JSON array, borrowed), sorted by (namespace, name):
 * the bytes netpol_emit_list_json() writes for them, which
 * proposal_doc_decode() reads back.  -EINVAL (input) with one line naming
 * the object (NS/NAME, or its index) and the field at fault; -ENOMEM.  On
 * failure @out is as it was.
 */
int proposal_obj_to_list(const json_t *objs, struct buf *out, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Whether @objs (a JSON array of Proposal objects, borrowed) holds one
 * and the newest spec.computedAt among them (unix ms; an object without a
 * readable one counts as 0): the inputs of cluster_stage_effective().
 */
void proposal_obj_computed_at(const json_t *objs, bool *ret_has, int64_t *ret_newest);
/* qsort() order of objects (json_t *) by metadata.name, a missing name
 * first. */
int proposal_obj_name_cmp(const void *x, const void *y);

/*
 * Marks the objects of one round of the holder (a JSON array, @objs):
 * spec.computation = {"id": @id, "count": the array's size} on each, so
 * that a round cut short (a holder dead between two writes) can be told
 * from a finished one (proposal_obj_complete()).  0 or -ENOMEM (some
 * objects may be marked).
 */
int proposal_obj_mark(json_t *objs, const char *id) BH_MUST_CHECK;

/*
 * Whether the Proposal objects of one namespace (@objs, borrowed) are one
 * whole round: every object carries the same spec.computation.id and
 * there are spec.computation.count of them; objects none of which carries
 * spec.computation (written before it existed) count as whole.  *@ret_id
 * (when not NULL) is the id of the object with the newest computedAt, NULL
 * when it has none (borrowed from @objs).
 */
bool proposal_obj_complete(const json_t *objs, const char **ret_id);

#endif
