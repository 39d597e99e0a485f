/*
 * propose: learned flows + cluster state -> a least-privilege set of
 * networking.k8s.io/v1 NetworkPolicies (docs/propose.md).  Implemented in
 * learner/propose.c; printed by learner/netpol_emit.c; checked against the
 * flows with the policy engine before anything is printed.
 */
#ifndef BH_PROPOSE_H
#define BH_PROPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "err.h"
#include "flows_json.h"
#include "labels.h"
#include "netpol.h"
#include "workload.h"

struct propose_opts {
	bool dir[_NETPOL_DIR_MAX]; /* which policies to write (both by default) */
	/* External addresses become /32 and /128 ipBlocks; when more than
	 * this many addresses with the same ports fall in one prefix of the
	 * lengths below, they are replaced by that prefix.  0 = never (the
	 * default: no rule wider than what was seen). */
	unsigned aggregate_count;
	uint8_t aggregate_plen4; /* 24 by default */
	uint8_t aggregate_plen6; /* 64 by default */
};

void propose_opts_init(struct propose_opts *o);

struct proposal_policy {
	struct netpol np; /* namespace, name, podSelector, rules */
	struct labels labels; /* metadata.labels */
	struct labels annotations; /* metadata.annotations */
	enum netpol_dir dir;
	size_t workload; /* index into proposal->ws */
	/* NULL, or why the policy has no rule and so denies all of its
	 * direction (static text, e.g. "it was only seen as a client"). */
	const char *denies_all;
};

/* One pair of endpoints the self-check found denied. */
struct proposal_denial {
	char *src; /* owned: "ns/Kind/name" or an address */
	char *dst; /* owned */
	uint8_t proto;
	uint16_t port;
	uint64_t flows;
};

/*
 * Learned flows that could not be placed, per pair of ends as the flows
 * recorded them: an end whose pod and workload are no longer in the
 * cluster, or whose address now belongs to a pod created after the flow
 * was last seen (docs/propose.md, "Flows to endpoints").
 */
struct proposal_unplaced {
	char *src; /* owned: "ADDR NS/POD (NS/KIND/NAME)", "ADDR NS/POD" or "ADDR" */
	char *dst; /* owned */
	char *why; /* owned: one sentence per end that could not be placed */
	uint8_t proto;
	uint16_t port;
	uint64_t flows;
};

struct proposal {
	size_t n;
	struct proposal_policy *v; /* owned, sorted by (namespace, name) */
	struct workload_set ws;
	/* Flows considered, flows that had no pod at either end (no
	 * NetworkPolicy can concern them, they are still self-checked), and
	 * flows that could not be placed (no rule comes from them, they are
	 * not self-checked: n_checked + n_flows_unplaced == n_flows). */
	size_t n_flows, n_flows_no_pod, n_flows_unplaced;
	size_t n_unplaced;
	struct proposal_unplaced *unplaced; /* owned, sorted by (src, dst, proto, port) */
	size_t n_workloads_seen;
	/* Directions of workloads that got no policy because an existing
	 * policy of the cluster (NETPOL_ORIGIN_CLUSTER) isolates every one of
	 * their pods in that direction: a proposed policy could only widen
	 * what the existing ones allow (docs/propose.md, "Existing
	 * policies"). */
	size_t n_existing_isolated;
	/* Filled by propose_self_check().  n_allowed counts the flows that
	 * the existing policies and the proposal together allow; of those,
	 * n_existing_allowed were allowed by a rule of an existing policy
	 * isolating one of their ends.  n_existing_denied flows are denied by
	 * the existing policies alone: they are no failure of the proposal
	 * (it cannot widen an existing policy) and are not in the denials. */
	size_t n_checked, n_allowed;
	size_t n_existing_allowed, n_existing_denied;
	size_t n_denials;
	struct proposal_denial *denials; /* owned */
};

/*
 * Builds the proposal for @flows over @c (borrowed; the proposal keeps
 * indexes into it, so it must not change while the proposal is used).
 * Deterministic: the same flows (in any order, from any number of files)
 * and the same cluster give the same proposal.  0 or -ENOMEM (system).
 */
int propose_build(const struct flow_set *flows, struct cluster *c, const struct propose_opts *o,
		  struct proposal *ret, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Evaluates the proposal with the policy engine, on a copy of @c whose
 * policies are its existing ones (NETPOL_ORIGIN_CLUSTER; policies of other
 * origins are left out) and the proposed ones, against every flow of
 * @flows that propose_build() could place (the same flows, resolved the
 * same way): fills n_checked, n_allowed, n_existing_allowed,
 * n_existing_denied and the endpoint pairs the proposal denies (sorted).
 * Returns 0 (whatever the coverage) or -ENOMEM.
 */
int propose_self_check(struct proposal *p, const struct flow_set *flows, const struct cluster *c,
		       struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Learned flows the proposal does not cover once self-checked: those the
 * self-check found denied (not those an existing policy denies) plus those
 * that could not be placed.  0 means every learned flow is allowed, or
 * denied by an existing policy.
 */
size_t proposal_uncovered(const struct proposal *p);

/*
 * A shallow view of @p holding only the policies of namespace @ns, in
 * order (`propose --namespace`, a namespace's proposal in the agent): the
 * view shares everything with @p, which must outlive it; release it with
 * proposal_ns_view_done(), never proposal_done().  The self-check ran on
 * the whole proposal, and a subset by namespace allows at least as much
 * (a policy isolates only pods of its own namespace, and the subset keeps
 * every policy of those pods), so its verdict still holds.  0 or -ENOMEM.
 */
int proposal_ns_view(const struct proposal *p, const char *ns, struct proposal *ret) BH_MUST_CHECK;
void proposal_ns_view_done(struct proposal *view);

void proposal_done(struct proposal *p);

struct engine;
struct engine_ep;

typedef int propose_justified_fn(size_t rule, void *userdata);
/*
 * The rules of a proposed policy @np, direction @dir, that one learned flow
 * justifies (learner/propose_justify.c; the report's proposals[].rules and
 * the Proposal objects' rules[].flows use it): @np lists @dir and selects
 * the flow's own side for it (@self: the destination's pod for ingress,
 * the source's for egress; NULL, a pod of another namespace or one on the
 * host network: never), and the rule allows the flow's other side @peer
 * on @proto/@port (engine_rule_allows(), named ports against @dst, the
 * destination's pod or NULL).  Calls @fn with the index of each such rule,
 * in order.  Returns 1 when @np isolates @self for @dir (whether or not a
 * rule allowed the flow), 0 when not, or the first negative return of
 * @fn.  Everything is borrowed; no allocation.
 */
int propose_rules_justified(const struct engine *e, const struct netpol *np, enum netpol_dir dir,
			    const struct pod *self, const struct engine_ep *peer,
			    const struct pod *dst, uint8_t proto, uint16_t port,
			    propose_justified_fn *fn, void *userdata);

/* One flow, as an alert names it (include/alerts.h). */
struct propose_amend_flow {
	/* The deciding direction: ingress amends the destination's policy,
	 * egress the source's. */
	enum netpol_dir dir;
	/* "NAMESPACE/KIND/NAME" of a workload, or an address (or a /32 or
	 * /128 CIDR).  Borrowed. */
	const char *src, *dst;
	uint16_t port; /* 0: every port of @proto */
	uint8_t proto; /* IPPROTO_* */
};

/*
 * Adds to the proposal @p the rule propose would have written for the flow
 * @f (learner/propose_amend.c): in the policy of direction @f->dir of the
 * deciding side's workload (of its namespace, of that policy type, whose
 * bulkhead.io/workload annotation names the workload, or without one whose
 * podSelector is the workload's), a rule whose peer is what propose writes
 * for the other end (the workload's selector with its namespace's, or a
 * /32 or /128 ipBlock) and whose port is written as propose writes it (named
 * where every pod of the destination names it).  The policy's
 * bulkhead.io/peers annotation gets a line for it.  Idempotent: when a rule
 * of that policy already allows the flow nothing changes.
 *
 * @p needs only n and v[] (np, annotations): a proposal decoded from the
 * List propose writes will do.  @c is borrowed (its indexes may be built)
 * and is the cluster the workloads are looked up in.  *@ret_changed: true
 * when a rule was added.  Errors, with the peer or policy named in @reterr:
 * -EINVAL (input) for a peer that is neither a workload nor one address;
 * -ENOENT (input) for a workload the cluster does not have, a deciding side
 * that is an address, or no proposed policy for the workload in that
 * direction; -ENOMEM.  On failure @p is as it was.
 */
int propose_amend(struct proposal *p, struct cluster *c, const struct propose_amend_flow *f,
		  bool *ret_changed, struct bh_err *reterr) BH_MUST_CHECK;

#endif
