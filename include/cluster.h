/*
 * Cluster state: namespaces, pods, nodes and NetworkPolicies.  The snapshot
 * reader and the Kubernetes client both produce a struct cluster; the
 * engine, the enforcer, identity and propose read it.
 *
 * Arrays are kept sorted (namespaces by name, pods and policies by
 * namespace then name, nodes by name) so lookups are binary searches and
 * every consumer sees a deterministic order.  Pointers into the arrays are
 * valid only until the next mutation.
 */
#ifndef BH_CLUSTER_H
#define BH_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "hmap.h"
#include "labels.h"
#include "netpol.h"

#define POD_IPS_MAX 2 /* status.podIPs: at most one per family */

struct k8s_ns {
	char *name; /* owned */
	struct labels labels; /* includes kubernetes.io/metadata.name */
};

struct owner_ref {
	char *kind; /* owned, NULL when the pod has no controller */
	char *name; /* owned */
};

struct container_port {
	char *name; /* owned, may be NULL */
	uint8_t protocol; /* IPPROTO_TCP when not given */
	uint16_t port;
};

struct pod {
	char *ns; /* owned */
	char *name; /* owned */
	char *uid; /* owned, may be NULL */
	struct labels labels;
	char *node; /* owned spec.nodeName, may be NULL */
	bool host_network;
	char *phase; /* owned status.phase, may be NULL */
	size_t n_ips;
	struct addr ips[POD_IPS_MAX]; /* status.podIPs (or podIP) */
	struct owner_ref owner; /* the controller ownerReference */
	size_t n_ports;
	struct container_port *ports; /* owned; every container's ports */
	int64_t created; /* creationTimestamp, unix seconds, 0 unknown */
	int64_t deleted; /* deletionTimestamp, unix seconds, 0 none */
};

struct node {
	char *name; /* owned */
	size_t n_addrs;
	struct addr *addrs; /* owned: InternalIP and ExternalIP */
};

struct cluster {
	size_t n_ns, n_pods, n_policies, n_nodes;
	struct k8s_ns *ns; /* owned */
	struct pod *pods; /* owned */
	struct netpol *policies; /* owned */
	struct node *nodes; /* owned */
	/* Allocated lengths of the four arrays, grown geometrically by the
	 * _put functions (a cap below its count means "exactly the count":
	 * code assembling a cluster by hand may leave them 0). */
	size_t cap_ns, cap_pods, cap_policies, cap_nodes;
	/* Address index: pods by IP (sorted); rebuilt lazily. */
	size_t n_by_addr;
	struct cluster_addr_ref *by_addr;
	bool by_addr_stale;
	/* Name index: pods by (namespace, name), a hash map keyed by
	 * "ns\0name" (include/hmap.h); used by cluster_pod_find() while valid
	 * (built by cluster_pod_index(), dropped by every pod mutation). */
	struct hmap by_name; /* "ns\0name" -> the pod in pods[] */
	char *by_name_keys; /* owned: the keys, one after another */
	size_t by_name_pods; /* n_pods when built */
	bool by_name_valid;
	/* Bumped when a namespace may have appeared or gone: a Namespace
	 * object added or removed, or the first pod of a namespace (a
	 * namespace deleted and another created leave n_ns as it was; this
	 * changes). */
	uint64_t ns_gen;
};

struct cluster_addr_ref {
	struct addr addr;
	size_t pod; /* index into pods[] */
};

struct cluster *cluster_new(void);
/* NULL-safe; returns NULL. */
struct cluster *cluster_free(struct cluster *c);

void k8s_ns_done(struct k8s_ns *ns);
void pod_done(struct pod *p);
void node_done(struct node *n);
/* Deep copy of @src into @dst (overwritten); on -ENOMEM @dst is left
 * empty (pod_done'd, node_done'd).  @src is borrowed. */
int pod_copy(struct pod *dst, const struct pod *src) BH_MUST_CHECK;
int node_copy(struct node *dst, const struct node *src) BH_MUST_CHECK;

/*
 * Insert or replace by name.  Takes ownership of the object's contents
 * (the struct is copied, the caller must not free what it pointed to), on
 * failure too.  Returns 1 when added, 0 when replaced, -ENOMEM.
 */
int cluster_ns_put(struct cluster *c, struct k8s_ns *ns);
int cluster_pod_put(struct cluster *c, struct pod *p);
int cluster_policy_put(struct cluster *c, struct netpol *p);
int cluster_node_put(struct cluster *c, struct node *n);

/* Remove by name; 1 when removed, 0 when absent. */
int cluster_ns_remove(struct cluster *c, const char *name);
int cluster_pod_remove(struct cluster *c, const char *ns, const char *name);
int cluster_policy_remove(struct cluster *c, const char *ns, const char *name);
int cluster_node_remove(struct cluster *c, const char *name);

/*
 * As the _put functions, but the object replaced (when 0 is returned) is
 * moved into @ret_old instead of freed: the caller owns it then (release
 * it with its _done function).  @ret_old is zeroed when nothing was
 * replaced.  For a cache that hands its subscribers the old and the new
 * version of an object without copying either.
 */
int cluster_ns_replace(struct cluster *c, struct k8s_ns *ns, struct k8s_ns *ret_old);
int cluster_pod_replace(struct cluster *c, struct pod *p, struct pod *ret_old);
int cluster_policy_replace(struct cluster *c, struct netpol *p, struct netpol *ret_old);
int cluster_node_replace(struct cluster *c, struct node *n, struct node *ret_old);

/* As the _remove functions, but the object removed (when 1 is returned) is
 * moved into @ret, owned by the caller; @ret is zeroed when absent. */
int cluster_ns_take(struct cluster *c, const char *name, struct k8s_ns *ret);
int cluster_pod_take(struct cluster *c, const char *ns, const char *name, struct pod *ret);
int cluster_policy_take(struct cluster *c, const char *ns, const char *name, struct netpol *ret);
int cluster_node_take(struct cluster *c, const char *name, struct node *ret);

/* Lookups; borrowed results, NULL when absent. */
const struct k8s_ns *cluster_ns_find(const struct cluster *c, const char *name);
const struct pod *cluster_pod_find(const struct cluster *c, const char *ns, const char *name);
const struct netpol *cluster_policy_find(const struct cluster *c, const char *ns, const char *name);
const struct node *cluster_node_find(const struct cluster *c, const char *name);
/* The node owning @a as one of its addresses, or NULL. */
const struct node *cluster_node_by_addr(const struct cluster *c, const struct addr *a);

/*
 * A pod in phase Succeeded or Failed: its containers have stopped and its
 * address went back to the node's pool, where another pod may get it.
 * The compiler and engine_ep_addr() give it no identity: its address is
 * an address like any outside the cluster (matched by ipBlock rules,
 * never by a selector), and it is not isolated.  A pod being deleted still runs
 * (graceful shutdown) and keeps its identity.  Inline: the compiler asks
 * it for every pod in its loops.
 */
static inline bool pod_finished(const struct pod *p)
{
	const char *s = p->phase;

	return s && ((s[0] == 'S' && strcmp(s, "Succeeded") == 0) ||
		     (s[0] == 'F' && strcmp(s, "Failed") == 0));
}

/*
 * The pod using @a, or NULL.  Host-network pods share their node's address
 * and are never returned.  When several pods claim an address (a reused IP
 * in a snapshot), a pod not finished wins over a finished one, then one
 * not being deleted, then the one created last.  Builds the address index
 * on first use after a mutation, hence not const.
 */
const struct pod *cluster_pod_by_addr(struct cluster *c, const struct addr *a);

/*
 * Builds the name index cluster_pod_find() then uses instead of a binary
 * search (one hash and one comparison instead of about 2 log2(n_pods)
 * string comparisons), until the next pod put or remove.  Optional: without
 * it, or after -ENOMEM, lookups stay binary searches.  cluster_copy()
 * builds it for the copy.  Returns 0 or -ENOMEM.
 */
int cluster_pod_index(struct cluster *c);

/*
 * Equal in every field the compiler reads, so a change between the two
 * versions changes no ruleset: for a pod the phase (whether it has an
 * identity at all, pod_finished()), phase, deletion and creation time
 * (which pod owns an address several pods claim, cluster_pod_by_addr()),
 * the node, hostNetwork, addresses, labels and container ports (what it
 * selects and is selected by); for a node its addresses.  Names are not
 * compared: the caller compares two versions of one object.
 */
bool pod_compiled_equal(const struct pod *a, const struct pod *b);
bool node_compiled_equal(const struct node *a, const struct node *b);

/* Index range [*ret_first, *ret_end) of the policies in @ns. */
void cluster_policies_in_ns(const struct cluster *c, const char *ns, size_t *ret_first,
			    size_t *ret_end);

/* Deep copy. */
int cluster_copy(const struct cluster *src, struct cluster **ret);
/*
 * The same in steps, for an event loop that must not stop for the whole
 * copy (10,000 pods take over 100 ms): cluster_copy_begin() copies the
 * namespaces, policies and nodes into a new *@ret; each
 * cluster_copy_pods() appends up to @max more pods, those of @src that
 * sort after the last pod @dst holds.  @src may change between the steps:
 * a pod put or removed behind that point is not seen, one changed ahead
 * of it is copied as it is then (the caller that lets it change catches
 * up afterwards, e.g. sync_cluster_diff()).  0 more to copy, 1 done (the
 * name index built, as cluster_copy() does), -ENOMEM (@dst holds part;
 * free it).
 */
int cluster_copy_begin(const struct cluster *src, struct cluster **ret);
int cluster_copy_pods(struct cluster *dst, const struct cluster *src, size_t max);

#endif
