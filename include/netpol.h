/*
 * networking.k8s.io/v1 NetworkPolicy, decoded.  Absent and empty lists mean
 * the same in the API ("all") and are both stored as n == 0; absent and
 * empty selectors differ in a peer, so peer selectors are pointers.
 */
#ifndef BH_NETPOL_H
#define BH_NETPOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "selector.h"

enum netpol_dir {
	NETPOL_INGRESS,
	NETPOL_EGRESS,
	_NETPOL_DIR_MAX,
};

enum netpol_port_kind {
	NETPOL_PORT_ANY, /* protocol only: every port */
	NETPOL_PORT_NUMBER, /* port, or port..end_port */
	NETPOL_PORT_NAME, /* a named container port of the destination */
};

struct netpol_port {
	uint8_t protocol; /* IPPROTO_TCP when not given */
	enum netpol_port_kind kind;
	uint16_t port;
	uint16_t end_port; /* 0 when absent, else >= port */
	char *name; /* owned; NETPOL_PORT_NAME only */
};

enum netpol_peer_kind {
	NETPOL_PEER_SELECTOR, /* podSelector and/or namespaceSelector */
	NETPOL_PEER_IPBLOCK,
};

struct netpol_peer {
	enum netpol_peer_kind kind;
	/* NETPOL_PEER_SELECTOR: NULL means absent.  Absent pod_sel with a
	 * ns_sel means every pod of the selected namespaces; absent ns_sel
	 * means the policy's own namespace. */
	struct selector *pod_sel; /* owned */
	struct selector *ns_sel; /* owned */
	/* NETPOL_PEER_IPBLOCK */
	struct cidr cidr;
	size_t n_except;
	struct cidr *except; /* owned */
};

struct netpol_rule {
	size_t n_ports;
	struct netpol_port *ports; /* owned; 0 = every port */
	size_t n_peers;
	struct netpol_peer *peers; /* owned; 0 = every peer */
};

/*
 * Where a policy comes from (docs/lifecycle.md, "The ruleset: two origins
 * of policy").  A cluster policy is one of the cluster's own
 * NetworkPolicies: always enforced.  A proposal policy is one Bulkhead
 * proposed for its namespace, compiled in the namespace's stage: in
 * preview what it would deny is logged and passes, in enforce it is
 * dropped.  Proposal policies are named NETPOL_PROPOSAL_PREFIX + the
 * proposed name in the cluster model, so that they never collide with a
 * cluster policy (a Kubernetes name cannot hold ':').
 */
enum netpol_origin {
	NETPOL_ORIGIN_CLUSTER,
	NETPOL_ORIGIN_PREVIEW, /* a proposal policy, namespace in preview */
	NETPOL_ORIGIN_ENFORCE, /* a proposal policy, namespace in enforce */
	_NETPOL_ORIGIN_MAX,
};

#define NETPOL_PROPOSAL_PREFIX "proposal:"

struct netpol {
	char *ns; /* owned */
	char *name; /* owned */
	char *uid; /* owned, may be NULL */
	struct selector pod_sel; /* spec.podSelector (required) */
	/* spec.policyTypes after defaulting: Ingress always unless listed
	 * otherwise, Egress when listed or when spec.egress is present. */
	bool types[_NETPOL_DIR_MAX];
	size_t n_rules[_NETPOL_DIR_MAX];
	struct netpol_rule *rules[_NETPOL_DIR_MAX]; /* owned */
	enum netpol_origin origin;
};

void netpol_init(struct netpol *p);
void netpol_done(struct netpol *p);
void netpol_rule_done(struct netpol_rule *r);
void netpol_peer_done(struct netpol_peer *p);
/* Deep copy into an initialised @dst. */
int netpol_copy(struct netpol *dst, const struct netpol *src) BH_MUST_CHECK;
/*
 * Equal in every field the compiler reads: the origin, the pod selector,
 * the policy types and every rule (ports, peers, selectors, ipBlocks) in order.  The
 * namespace, name and uid are not compared (two versions of one policy).
 * Lists in another order are not equal (a false "changed" only costs an
 * update that yields an empty delta).
 */
bool netpol_compiled_equal(const struct netpol *a, const struct netpol *b);
const char *netpol_dir_name(enum netpol_dir d); /* "ingress"/"egress" */
/* "cluster", "preview", "enforce"; NULL when out of range. */
const char *netpol_origin_name(enum netpol_origin o);

#endif
