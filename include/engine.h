/*
 * The NetworkPolicy engine: networking.k8s.io/v1 semantics over a struct
 * cluster, answering "is this connection allowed, and which policies and
 * rules decided it".  The nftables enforcer compiles the same semantics
 * (see "The engine's steps" below for what it shares), and the differential
 * tests (unit.ruleset's interpreter, golden.check_differential) hold its
 * kernel verdicts to these.
 *
 * Semantics (Kubernetes documentation and the upstream e2e suite):
 *  - A pod is isolated for a direction when at least one policy of its
 *    namespace selects it (spec.podSelector) and lists that direction in
 *    its (defaulted) policyTypes.  A pod not isolated for a direction
 *    allows everything in that direction.
 *  - An isolated pod allows what the union of the rules of its selecting
 *    policies allows; a rule allows a peer when one of its ports matches
 *    (no ports: every port) and one of its peers matches (no peers: every
 *    peer, addresses included).
 *  - A connection is allowed only when the source's egress and the
 *    destination's ingress both allow it.
 *  - A peer with only podSelector means pods of the policy's namespace; with
 *    only namespaceSelector every pod of the selected namespaces; with both
 *    the selected pods of the selected namespaces.  An empty selector
 *    selects everything, an absent one is as above.  Selector peers match
 *    pods only, never bare addresses.
 *  - ipBlock matches by address only: any address inside cidr and outside
 *    every except, pod addresses included (as the upstream e2e suite
 *    tests it).
 *  - A port matches when the protocol matches and the port is equal, inside
 *    port..endPort, or (a named port) a container port of the destination
 *    pod with that name, protocol and number.
 *
 * Choices where Kubernetes leaves the behaviour to the implementation:
 *  - Host-network pods are endpoints by their node's address: no policy
 *    isolates them, selector peers never match them, ipBlock matches their
 *    address, and named ports never resolve against them (several pods
 *    share the address).
 *  - Traffic from the node a destination pod runs on (the node's address
 *    or a host-network pod of that node) is always allowed into that pod,
 *    as kubelet probes need.  Egress from a pod to any node is subject to
 *    policy like any address.
 *  - A pod talking to itself is evaluated like any other connection (the
 *    upstream e2e suite ignores loopback; the kernel never sees it).
 *  - A peer with neither selector (rejected by the API server) matches
 *    nothing.
 *  - A pod whose Namespace object is missing is matched by namespace
 *    selectors as if its namespace had only the label
 *    kubernetes.io/metadata.name.
 *
 * Origins (include/netpol.h; docs/enforcer.md, "Two origins of policy"),
 * as the enforcer compiles them.  For a pod and a direction, the deciding
 * policies are those selecting it that are cluster policies or proposal
 * policies in enforce, when there is one (proposal policies in preview are
 * then left out: they could only widen it); else the proposal policies in
 * preview selecting it, and what they do not allow passes, logged: it
 * "would be denied" (ENGINE_VERDICT_WOULD_DENY).  A connection is denied
 * when a direction denies; else it would be denied when a direction would
 * be; else allowed.  engine_allowed() is the kernel's verdict: a
 * would-deny passes.  Without proposal policies everything is as above.
 *
 * An engine borrows its cluster: it is valid until the cluster changes, and
 * must then be rebuilt.  Not thread-safe (address lookups build an index in
 * the cluster lazily).
 */
#ifndef BH_ENGINE_H
#define BH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bh.h"
#include "cluster.h"
#include "labels.h"
#include "netpol.h"

struct engine; /* opaque */

/*
 * One end of a connection: a pod, or a bare address (a node, a host-network
 * pod, something outside the cluster).  Build with engine_ep_pod() or
 * engine_ep_addr(); pointers are borrowed from the cluster.
 */
struct engine_ep {
	const struct pod *pod; /* NULL for a bare address */
	struct addr addr; /* the address used; unset (family 0) when a pod has
			     no address of the family asked for */
	const char *node; /* the node name when the address is a node's, or
			     the host-network pod's node; else NULL */
};

enum engine_reason {
	ENGINE_REASON_NOT_ISOLATED, /* no policy isolates this side */
	ENGINE_REASON_NOT_POD, /* an address, a node or a host-network pod */
	ENGINE_REASON_LOCAL_NODE, /* ingress from the destination's own node */
	ENGINE_REASON_RULE, /* a rule allowed it */
	ENGINE_REASON_NO_RULE, /* isolated and no rule allowed it: denied */
	_ENGINE_REASON_MAX,
};

/* Index of a rule: policy index into cluster->policies, rule index into
 * policy->rules[dir]. */
struct engine_rule_ref {
	size_t policy;
	size_t rule;
};

struct engine_dir_result {
	bool allowed; /* the kernel's verdict: true for a would-deny */
	bool preview; /* the deciding policies are proposal policies in preview */
	bool would_deny; /* preview, and no rule allowed it (reason NO_RULE) */
	bool isolated;
	enum engine_reason reason;
	size_t n_isolating;
	size_t *isolating; /* owned: the deciding policies' indexes, cluster order */
	size_t n_allowing;
	struct engine_rule_ref *allowing; /* owned: every rule that allowed it */
};

/* Result of engine_explain(): released by engine_result_done(). */
struct engine_result {
	bool allowed; /* both directions allow (a would-deny passes) */
	bool would_deny; /* allowed, and a direction would deny in preview */
	struct engine_dir_result dir[_NETPOL_DIR_MAX]; /* egress of the source,
							 ingress of the destination */
};

/*
 * Builds an engine over @c (borrowed; it must outlive the engine and not
 * change): which policies select each pod per direction, each pod's
 * namespace labels.  0 or -ENOMEM.
 */
int engine_new(struct cluster *c, struct engine **ret) BH_MUST_CHECK;
/* NULL-safe; returns NULL. */
struct engine *engine_free(struct engine *e);
/* The cluster the engine was built over (borrowed). */
struct cluster *engine_cluster(const struct engine *e);

/*
 * The endpoint of pod @p (a pod of the engine's cluster) using its address
 * of @family (AF_INET or AF_INET6).  A host-network pod becomes an address
 * endpoint on its node.  A finished pod (pod_finished()) stays a pod here:
 * the caller named it (propose's self-check of flows learned while it ran);
 * a packet from its address is engine_ep_addr()'s.
 */
void engine_ep_pod(const struct engine *e, const struct pod *p, int family, struct engine_ep *ret);
/*
 * The endpoint of address @a: the pod using it if any (not a finished
 * one), else a node owning it
 * (a Node object's address, or the address of a host-network pod, whose
 * spec.nodeName names the node), else an external address.
 */
void engine_ep_addr(struct engine *e, const struct addr *a, struct engine_ep *ret);

enum engine_verdict {
	ENGINE_VERDICT_ALLOW,
	ENGINE_VERDICT_DENY,
	ENGINE_VERDICT_WOULD_DENY, /* passes: proposal policies in preview deny it */
	_ENGINE_VERDICT_MAX,
};

/*
 * The verdict on a connection from @src to @dst, @proto
 * (IPPROTO_TCP/UDP/SCTP) port @port, by origin (see "Origins" above).  No
 * allocation.
 */
enum engine_verdict engine_verdict(const struct engine *e, const struct engine_ep *src,
				   const struct engine_ep *dst, uint8_t proto, uint16_t port);
/* "allowed", "denied", "would be denied (preview)"; NULL out of range. */
const char *engine_verdict_name(enum engine_verdict v);

/*
 * Is a connection from @src to @dst, @proto (IPPROTO_TCP/UDP/SCTP) port
 * @port, allowed?  engine_verdict() != ENGINE_VERDICT_DENY: what the
 * kernel does.  No allocation; the fast path for matrices.
 */
bool engine_allowed(const struct engine *e, const struct engine_ep *src,
		    const struct engine_ep *dst, uint8_t proto, uint16_t port);

/*
 * The same with the reasons: which policies isolate each side, which rules
 * allowed each direction.  @ret is filled in full (release it with
 * engine_result_done()) and only on success.  0 or -ENOMEM.
 */
int engine_explain(const struct engine *e, const struct engine_ep *src, const struct engine_ep *dst,
		   uint8_t proto, uint16_t port, struct engine_result *ret) BH_MUST_CHECK;
void engine_result_done(struct engine_result *r);

/*
 * A truth table: ret[i * n_to + j] tells whether pod @from[i] may connect
 * to pod @to[j] (indexes into cluster->pods) over @family, @proto, @port.
 */
void engine_matrix(const struct engine *e, const size_t *from, size_t n_from, const size_t *to,
		   size_t n_to, int family, uint8_t proto, uint16_t port, bool *ret);

/* "not isolated", "not a pod", ... for explanations. */
const char *engine_reason_name(enum engine_reason r);

/*
 * The engine's steps, exported for the tests that pin them down, the
 * benchmark's naive baseline and the memo.  @pod_idx indexes cluster->pods.
 *
 * The enforcer's compiler shares engine_ipblock_contains() only.  It keeps
 * its own selector predicates (peer_selects() and policy_isolates() in
 * enforcer/ruleset_bctx.h) on purpose: the kernel matches addresses, so the
 * compiler's pods are those that own one (not finished, not host-network,
 * with an address: pod_known()), where the engine's are identities (a
 * finished pod named by the caller is still a pod here); and its pod-event
 * path evaluates a changed pod that is at no index of an engine, with the
 * namespace labels of its own build context, without building an engine
 * per event.  Where the two can be compared, the differential tests do.
 */

bool engine_pod_isolated(const struct engine *e, size_t pod_idx, enum netpol_dir dir);
/* The policies deciding for pod @pod_idx and @dir are proposal policies
 * in preview (false when it is not isolated). */
bool engine_pod_preview(const struct engine *e, size_t pod_idx, enum netpol_dir dir);
/* The labels namespace selectors see for pod @pod_idx's namespace. */
const struct labels *engine_pod_ns_labels(const struct engine *e, size_t pod_idx);

/* Does @peer of policy @p select pod @pod_idx?  Selector peers only; an
 * ipBlock peer never selects a pod by identity (engine_ipblock_contains()
 * matches it by address). */
bool engine_peer_selects_pod(const struct engine *e, const struct netpol *p,
			     const struct netpol_peer *peer, size_t pod_idx);
typedef void engine_pod_fn(size_t pod_idx, void *userdata);
/*
 * Calls @fn for every pod selector peer @peer of @p selects (the pods for
 * which engine_peer_selects_pod() holds), in cluster order.  Namespace
 * selectors are evaluated once per namespace, so the cost is the number of
 * namespaces plus the pods of the selected ones.  Nothing for an ipBlock
 * peer.
 */
void engine_peer_for_each_pod(const struct engine *e, const struct netpol *p,
			      const struct netpol_peer *peer, engine_pod_fn *fn, void *userdata);
/* Does @ip lie in the ipBlock @peer (inside cidr, outside every except)? */
bool engine_ipblock_contains(const struct netpol_peer *peer, const struct addr *ip);
/*
 * Does port entry @pp match @proto/@port towards @dst (the destination
 * pod, NULL for an address or host-network pod, against which named ports
 * never match)?
 */
bool engine_port_matches(const struct netpol_port *pp, const struct pod *dst, uint8_t proto,
			 uint16_t port);
/* Does rule @r of policy @p (direction @dir) allow @peer_ep, where @dst is
 * the destination pod for named ports (see engine_port_matches)? */
bool engine_rule_allows(const struct engine *e, const struct netpol *p, const struct netpol_rule *r,
			const struct engine_ep *peer_ep, const struct pod *dst, uint8_t proto,
			uint16_t port);

#endif
