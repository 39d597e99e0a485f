/*
 * Identity: what an address was at a time, from cluster state (a snapshot
 * now, the live API cache later): a pod (namespace, name, labels,
 * workload), a node, or external.  Time-aware: a pod owns its addresses
 * only during its lifetime [created, deleted), so an IP reused by a new
 * pod after the old one died belongs to each pod for its own lifetime.
 */
#ifndef BH_IDENTITY_H
#define BH_IDENTITY_H

#include <stdint.h>

#include "cluster.h"
#include "flow.h"
#include "tombstones.h"

struct identity;

/*
 * Indexes the pods and nodes of @c (borrowed: it must outlive the index and
 * not change; build a new index after a change).  -ENOMEM.
 */
int identity_new(const struct cluster *c, struct identity **ret);
/*
 * The same, with the pods of @tombs (borrowed likewise, may be NULL) as
 * the pods deleted a moment ago: the live cache's view
 * (kube_cache_tombstones()).
 */
int identity_new_with_tombstones(const struct cluster *c, const struct tombstones *tombs,
				 struct identity **ret);
/* NULL-safe; returns NULL. */
struct identity *identity_free(struct identity *id);

/*
 * Resolves @a at unix time @t into @ret (owned strings; release with
 * flow_peer_done()):
 *  - a pod whose address it is and that lived at @t (created at or before
 *    @t, not deleted by @t; unknown times count as always); of several, the
 *    one created last;
 *  - else, the same among the tombstones (pods deleted a moment ago): a
 *    flow seen just before its pod was deleted still resolves to it, and
 *    a live pod that had the address at @t always wins over a tombstone;
 *  - else a node with that address, or the node of a host-network pod
 *    using it;
 *  - else FLOW_PEER_UNKNOWN when some pod (or tombstone) used the address
 *    at another time (nothing can be said about who it was), FLOW_PEER_EXTERNAL
 *    otherwise.
 * Returns 0, or -ENOMEM (then @ret is empty).
 */
int identity_resolve(const struct identity *id, const struct addr *a, int64_t t,
		     struct flow_peer *ret);

/*
 * The workload of @p from its controller ownerReference, named by
 * workload_of_pod() (include/workload.h), the one rule propose groups pods
 * by, so that propose finds the workload a flow recorded: a ReplicaSet
 * named "<deploy>-<pod-template-hash>" is Deployment <deploy>, a Job
 * named "<cronjob>-<scheduled minute>" is CronJob <cronjob>, StatefulSet,
 * DaemonSet and others as they are.  Both NULL for a pod without a
 * controller.  -ENOMEM.
 */
int identity_workload(const struct pod *p, char **ret_kind, char **ret_name);

#endif
