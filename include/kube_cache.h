/*
 * The cluster cache: namespaces, pods, NetworkPolicies and nodes listed and
 * watched from the API server and decoded with the snapshot reader's
 * decoders (kube_object.h), so that the cache equals what the snapshot
 * reader produces for the same objects.  Further resource types (the
 * agent's custom resources) are watched by group, version and plural and
 * kept as JSON.
 *
 * Subscribers (the enforcer, the learner) receive every change, in the
 * order the server sent it, after the cache was updated, with the old and
 * the new version of the object (so none of them needs a copy of the
 * cluster to learn what changed).  Deleted pods are kept for a while as
 * tombstones (tombstones.h), for identity.  Objects the
 * decoders refuse are counted, logged (rate-limited) and left out of the
 * cache (an older version of them is removed), never half-stored.
 * Loop thread only.
 */
#ifndef BH_KUBE_CACHE_H
#define BH_KUBE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "err.h"
#include "kube_client.h"
#include "kube_object.h"
#include "kube_watch.h"
#include "tombstones.h"

#define KUBE_CACHE_SUBS_MAX 16
#define KUBE_CACHE_EXTRA_MAX 16

struct kube_cache;

/* A model object of the kind of the event (pod, ns, node or policy). */
union kube_cache_obj {
	const void *any; /* NULL: none */
	const struct pod *pod; /* KUBE_KIND_POD */
	const struct k8s_ns *ns; /* KUBE_KIND_NAMESPACE */
	const struct node *node; /* KUBE_KIND_NODE */
	const struct netpol *policy; /* KUBE_KIND_NETPOL */
};

struct kube_cache_event {
	enum kube_event_type type;
	enum kube_kind kind; /* KUBE_KIND_UNKNOWN for an added resource type */
	const char *group, *version, *resource; /* "", "v1", "pods" */
	const char *ns; /* NULL for cluster-scoped objects */
	const char *name;
	json_t *object; /* borrowed for the call */
	/*
	 * The decoded object before and after the event (typed kinds only;
	 * both NULL for an added resource type).  @old is NULL when the
	 * cache did not hold the object (ADDED, or a MODIFIED of one it had
	 * refused); @new is NULL when the object is not in the cache after
	 * the event (DELETED, or a version the decoders refused).  @new
	 * points into the cache's cluster; @old is owned by the cache and
	 * valid only for the duration of the callback (copy what you keep).
	 */
	union kube_cache_obj old, new;
};

/* Called after the cache applied @ev; @c is the cache's cluster (borrowed,
 * valid until the next event).  Must not free the cache. */
typedef void kube_cache_event_fn(void *ud, const struct kube_cache_event *ev, struct cluster *c);

struct kube_cache_opts {
	bool no_nodes; /* do not watch nodes */
	bool list_only; /* list once, no watches (the CLI) */
	unsigned page_limit, timeout_s, idle_s, backoff_min_ms, backoff_max_ms; /* kube_watch */
	/* Deleted pods are kept this long (0: TOMBSTONES_TTL_MS_DEFAULT,
	 * 60 s), at most tombstone_max of them (0: TOMBSTONES_MAX_DEFAULT,
	 * 4096), the oldest evicted first; no_tombstones keeps none. */
	unsigned tombstone_ttl_ms;
	size_t tombstone_max;
	bool no_tombstones;
};

struct kube_cache_stats {
	uint64_t events; /* delivered to subscribers */
	uint64_t decode_errors; /* objects the decoders refused */
	uint64_t tombstones_added, tombstones_expired, tombstones_evicted;
};

/* A cache on @client (borrowed, outlives the cache); @o may be NULL. */
int kube_cache_new(struct kube_client *client, const struct kube_cache_opts *o,
		   struct kube_cache **ret);
/* NULL-safe; stops every watch; returns NULL. */
struct kube_cache *kube_cache_free(struct kube_cache *c);

/* Watches one more resource type, before kube_cache_start(); its objects
 * are kept as JSON (kube_cache_watch()).  -E2BIG past KUBE_CACHE_EXTRA_MAX. */
int kube_cache_add_resource(struct kube_cache *c, const char *group, const char *version,
			    const char *resource, bool cluster_scoped);

/* Registers @fn; returns a subscription id (>= 0) or -E2BIG. */
int kube_cache_subscribe(struct kube_cache *c, kube_cache_event_fn *fn, void *ud);
void kube_cache_unsubscribe(struct kube_cache *c, int id);

/* Starts the lists and watches. */
int kube_cache_start(struct kube_cache *c);
/* Every watch has completed its list (and is not re-listing). */
bool kube_cache_synced(const struct kube_cache *c);
/* The cache's cluster, borrowed; changes with every event. */
struct cluster *kube_cache_cluster(struct kube_cache *c);
/* The watch of @resource ("pods", or an added plural), borrowed, or NULL. */
struct kube_watch *kube_cache_watch(struct kube_cache *c, const char *resource);
const struct kube_cache_stats *kube_cache_stats(const struct kube_cache *c);
/*
 * The pods deleted within the time to live (borrowed; NULL with
 * no_tombstones), for identity_new_with_tombstones().  Changes with every
 * pod deletion and when the cache's expiry timer runs (from inside
 * kube_client_process()).
 */
const struct tombstones *kube_cache_tombstones(const struct kube_cache *c);

/*
 * Blocking: runs the client until the cache is synced, at most @timeout_ms.
 * -ETIMEDOUT (system error naming the server and the last failure), or the
 * error that stopped a list (wrong CA: -EPROTO; 401/403: -EACCES).
 */
int kube_cache_wait_synced(struct kube_cache *c, struct kube_client *client, int timeout_ms,
			   struct bh_err *reterr);

/*
 * The CLI's "list everything once": connects with @cfg, lists namespaces,
 * pods, NetworkPolicies and nodes, and returns the cluster (owned by the
 * caller).  System error naming the server on failure.
 */
int kube_cluster_list(const struct kube_config *cfg, int timeout_ms, struct cluster **ret,
		      struct bh_err *reterr);

#endif
