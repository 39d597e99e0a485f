/*
 * What the files of propose (learner/propose*.c) share: the endpoints flows
 * are resolved to, the edges between them, the context of one build, and
 * the functions one file calls in another.  Private to learner/;
 * include/propose.h is the interface.
 *
 *   propose.c           propose_build(): flows -> edges -> policies
 *   propose_ends.c      where each end of a flow goes
 *   propose_unplaced.c  flows that could not be placed
 *   propose_edges.c     edges and DNS edges
 *   propose_rules.c     the rules of one policy
 *   propose_names.c     policy names
 *   propose_amend.c     one flow's rule added to a proposal
 *   propose_check.c     the self-check through the engine memo
 */
#ifndef BH_PROPOSE_INT_H
#define BH_PROPOSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cluster.h"
#include "flows_json.h"
#include "propose.h"
#include "workload.h"

#define DNS_PORT 53
#define DNS_NAMESPACE "kube-system"

enum ep_kind {
	EP_WL, /* a workload */
	EP_NODE, /* a node address (Node object or host-network pod) */
	EP_EXT, /* anything else */
};

struct ep {
	enum ep_kind kind;
	size_t wl; /* EP_WL */
	struct addr addr; /* EP_NODE, EP_EXT */
};

struct edge {
	struct ep src, dst;
	uint8_t proto;
	uint16_t port;
	uint64_t flows; /* learned flow records; 0 for edges added for DNS */
	uint64_t conns;
	int64_t first, last;
};

/* A host-network pod's address: the node it names. */
struct hostnet_ref {
	struct addr addr;
	size_t pod;
};

struct ctx {
	struct cluster *c;
	const struct workload_set *ws;
	const struct propose_opts *o;
	struct hostnet_ref *hostnet;
	size_t n_hostnet;
	struct edge *edges;
	size_t n_edges, cap_edges;
	bool *dns_wl; /* per workload: a cluster DNS server */
	struct pod_memo_slot *pod_memo; /* NULL without memory for it */
};

/*
 * cluster_pod_find() remembered by the addresses of the names asked for.
 * Records read from flows.json share their peers' strings
 * (flow_peer.borrowed), so the same pod is asked for with the same
 * pointers, flow after flow; equal pointers mean equal names, and a
 * lookup depends on nothing else.  Direct-mapped: a clash only costs a
 * lookup.
 */
#define POD_MEMO_BITS 12
#define POD_MEMO_SLOTS (1u << POD_MEMO_BITS)

struct pod_memo_slot {
	const char *ns, *name;
	const struct pod *pod;
};

/*
 * Where one end of a flow goes: the pod the flow names if the cluster still
 * has it; else the workload the flow recorded (the pod was replaced, e.g.
 * by a rollout); else the pod now holding the address, but only if it is
 * of the recorded workload or existed when the flow was last seen (a pod
 * created later cannot have been the peer: the address was reused); else,
 * for an end recorded as a pod, nothing (its pod and workload are gone, and
 * an ipBlock of its old address would go to whoever holds it next); else
 * the address itself.  Both propose_build() and the self-check place ends
 * through this one function.
 */
enum place_kind {
	PLACE_POD, /* @pod (perhaps on the host network) */
	PLACE_WORKLOAD, /* @w: the recorded workload, its pod gone */
	PLACE_ADDR, /* no pod: a node or an external address */
	PLACE_NONE, /* cannot be placed; @pod: the address's later owner */
};

struct place {
	enum place_kind kind;
	const struct pod *pod;
	const struct workload *w;
	bool timed; /* the answer depends on the flow's last_seen */
};

/*
 * How much a workload's policy names carry besides its name: its kind when
 * another workload of the namespace would get the same name without it,
 * then a hash of its kind and name when even that is not enough (names
 * and kinds that read alike once mapped to [a-z0-9-] or cut).
 */
enum name_level {
	NAME_PLAIN,
	NAME_KIND,
	NAME_HASH,
	_NAME_LEVEL_MAX,
};

/* propose_ends.c */
int propose_ep_cmp(const struct ep *a, const struct ep *b);
int propose_hostnet_cmp(const void *a, const void *b);
bool propose_end_same(const struct addr *a, const struct flow_peer *p, const struct addr *b,
		      const struct flow_peer *q);
void propose_place_end(struct cluster *c, const struct workload_set *ws, struct pod_memo_slot *memo,
		       const struct addr *a, const struct flow_peer *fp, int64_t last_seen,
		       struct place *ret);
void propose_resolve(struct ctx *x, const struct addr *a, const struct flow_peer *fp,
		     const struct place *pl, struct ep *ret);
int propose_ep_describe_addr(const struct ctx *x, const struct ep *ep, const struct edge *e,
			     size_t n, struct buf *b);

/* propose_unplaced.c */
void propose_unplaced_done(struct proposal_unplaced *u);
int propose_unplaced_add(struct proposal *p, size_t *cap, const struct flow_record *f,
			 const struct place *sp, const struct place *dp);
void propose_unplaced_merge(struct proposal *p);

/* propose_edges.c */
int propose_edge_cmp_src(const void *a, const void *b);
int propose_edge_cmp_dst(const void *a, const void *b);
int propose_edge_add(struct ctx *x, const struct edge *e);
void propose_edges_merge(struct ctx *x);
bool propose_is_dns(uint8_t proto, uint16_t port);
int propose_add_dns_edges(struct ctx *x);

/* propose_rules.c */
int propose_policy_build(struct ctx *x, size_t wi, enum netpol_dir d, const struct edge *e,
			 size_t n, struct proposal_policy *pp);
/*
 * The rule propose writes in the policy of workload @wi, direction @d, for
 * the single edge @e (its peer on its port): the peer workload's selector
 * with its namespace's, or the /32 or /128 ipBlock of an address; the port
 * named where every pod of the destination workload names it.  No
 * aggregation.  0 or -ENOMEM; *@ret is the caller's to release
 * (netpol_rule_done()).
 */
int propose_rule_build(const struct ctx *x, size_t wi, enum netpol_dir d, const struct edge *e,
		       struct netpol_rule *ret);

/* propose_names.c */
int propose_policy_name_cmp(const void *a, const void *b);
int propose_policy_name(const struct workload_set *ws, size_t wi, enum name_level level,
			enum netpol_dir d, char **ret);
int propose_name_levels(const struct workload_set *ws, uint8_t *level, struct bh_err *reterr);

#endif
