/*
 * Keeping the kernel's table in step with the cluster: the object the
 * agent calls on every watch event.  Each change is given the old and the
 * new version of the object (what the Kubernetes cache hands its
 * subscribers, include/kube_cache.h): old NULL for an added object, new
 * NULL for a deleted one.  The change moves the ruleset at once and its
 * kernel side is queued; sync_flush() sends everything queued as ONE
 * netlink batch, applied whole or not at all.
 *
 * The verdict maps in front of the dispatch tries are refilled by a
 * debounced step (include/ruleset.h, ruleset_update_maps()): a flush that
 * leaves pods out of the maps arms it, every later flush pushes it out,
 * and sync_tick() runs it once the events have paused.  An event loop
 * arms a timer at sync_next_due_ms() and calls sync_tick() when it fires.
 *
 * Recovery is decided here, not in nftio: a delta the kernel refuses
 * because a set is full (ENFILE: the kernel holds sets smaller than the
 * ruleset says) is sent again as a full replace with every set fitted to
 * what it holds (counted in full_fallbacks); any other failed commit or
 * update makes the next flush replace the table in full from the cluster
 * (counted in resyncs).
 *
 * Ownership: the ruleset, the cluster and the nftio socket are borrowed
 * for the life of the sync object.  The cluster is the caller's (the
 * cache's): each call expects @new already in it and @old already out of
 * it (@old must not point into the cluster).  Objects passed to the calls
 * are borrowed for the call.
 */
#ifndef BH_SYNC_H
#define BH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bh.h"
#include "cluster.h"
#include "err.h"
#include "netpol.h"

struct nftio;
struct rs_delta;
struct ruleset;
struct sync; /* opaque */

/* Defaults of struct sync_opts. */
#define SYNC_REFILL_DELAY_MS 2000 /* events paused this long: refill */
#define SYNC_REFILL_MAX_MS 30000 /* a refill waits at most this long */

struct sync_opts {
	/* The refill runs @refill_delay_ms after the last flush that left
	 * pods out of the verdict maps, and at most @refill_max_ms after
	 * the first one (a steady stream of events does not starve it).
	 * 0: the defaults above. */
	uint64_t refill_delay_ms;
	uint64_t refill_max_ms;
	/* The caller replaces the table in full, not the sync object: a
	 * flush that would send a full replace (after a failed update or
	 * commit, a delta that is full, a delta refused with ENFILE) sends
	 * nothing and returns SYNC_FLUSH_FULL.  For a caller that builds
	 * the ruleset anew off its thread (include/sync_build.h). */
	bool full_by_caller;
};

/* sync_flush() and sync_tick() with @full_by_caller: nothing was sent,
 * the table must be replaced in full from the cluster; the sync object
 * and its ruleset are then of no more use (free them). */
#define SYNC_FLUSH_FULL 2

struct sync_stats {
	size_t events; /* changes that reached the ruleset */
	size_t batches; /* batches committed */
	size_t objects; /* kernel objects in them (rs_delta_size()) */
	size_t full; /* batches that replaced the table as planned */
	size_t full_fallbacks; /* deltas refused for a full set, sent as full */
	size_t resyncs; /* full replaces after a failed update or commit */
	size_t refills; /* verdict-map refills run */
	size_t refilled; /* addresses the last refill put back */
};

/* @o may be NULL (defaults).  0 or -ENOMEM. */
int sync_new(struct ruleset *rs, struct cluster *c, struct nftio *nio, const struct sync_opts *o,
	     struct sync **ret) BH_MUST_CHECK;
/* NULL-safe; returns NULL.  What is queued is dropped. */
struct sync *sync_free(struct sync *s);

/*
 * One change each; the kernel side is queued for sync_flush().  A pod,
 * namespace or node equal in every field the compiler reads
 * (pod_compiled_equal(), node_compiled_equal(), the labels of a
 * namespace) changes nothing and is not counted.  0, or -errno with
 * @reterr filled (the ruleset's kinds, include/ruleset.h); after an error
 * the next flush replaces the table in full.
 */
int sync_pod(struct sync *s, const struct pod *old, const struct pod *new,
	     struct bh_err *reterr) BH_MUST_CHECK;
int sync_namespace(struct sync *s, const struct k8s_ns *old, const struct k8s_ns *new,
		   struct bh_err *reterr) BH_MUST_CHECK;
int sync_node(struct sync *s, const struct node *old, const struct node *new,
	      struct bh_err *reterr) BH_MUST_CHECK;
int sync_policy(struct sync *s, const struct netpol *old, const struct netpol *new,
		struct bh_err *reterr) BH_MUST_CHECK;

/*
 * A change computed off the caller's thread: @d (taken, freed on failure
 * too; NULL: nothing changed) moved the ruleset @s was made with, already
 * (ruleset_update_all() in a worker, include/sync_build.h), from what
 * the kernel holds to what it should.  Queued like an event's, counted
 * as one.  0, or -ENOMEM with @reterr filled (the next flush replaces the
 * table in full).
 */
int sync_delta(struct sync *s, struct rs_delta *d, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Sends everything queued as one batch.  1 sent, 0 nothing to send,
 * SYNC_FLUSH_FULL (only with @full_by_caller, see above), -errno with
 * @reterr filled (the kernel keeps what it had; the next flush replaces
 * the table in full, or returns SYNC_FLUSH_FULL).
 */
int sync_flush(struct sync *s, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * When the verdict-map refill is due, in the caller's monotonic
 * milliseconds: -1 when none is wanted.  Call it after each flush with
 * the loop's cached now: the debounce starts from the first call after a
 * flush.
 */
int64_t sync_next_due_ms(struct sync *s, uint64_t now_ms);
/*
 * Runs the refill when it is due at @now_ms, with whatever else is
 * queued, as one batch.  1 sent, 0 not due or nothing to send, -errno.
 */
int sync_tick(struct sync *s, uint64_t now_ms, struct bh_err *reterr) BH_MUST_CHECK;
/* Queues the refill now, due or not (a CLI that knows the burst is over
 * calls it before its last flush).  0 or -errno. */
int sync_refill(struct sync *s, struct bh_err *reterr) BH_MUST_CHECK;
/* Whether a refill is wanted (queued by a flush, not yet run). */
bool sync_refill_wanted(const struct sync *s);

const struct sync_stats *sync_stats(const struct sync *s);

/*
 * Follows @c (borrowed from now on) instead of the cluster @s was made
 * with.  @c must be equal to that one in every field the compiler reads
 * (e.g. sync_cluster_diff() just moved that one to @c): the ruleset is
 * not looked at again.  For a caller whose ruleset was built from a copy
 * (include/sync_build.h) and that then follows the live cluster.
 */
void sync_rebind(struct sync *s, struct cluster *c);

/*
 * Moves @work, the cluster @s was made with, to @new (borrowed for the
 * call) as the watch events that turn one into the other: namespaces
 * added or changed, nodes, policies added or changed
 * (netpol_compiled_equal(); each costs a compile of the cluster), pods, then namespaces removed.  With
 * @each every event is flushed as its own batch (one transaction each: an
 * error leaves the kernel at the last event committed); without, they are
 * queued for the caller's sync_flush(), one batch for the whole.  @work
 * ends equal to @new in every field the compiler reads (a pod or node
 * equal in those is left as it was).  0, or -errno with @reterr filled
 * (@work then holds part of the way; the next flush replaces the table in
 * full from it).
 */
int sync_cluster_diff(struct sync *s, struct cluster *work, const struct cluster *new, bool each,
		      struct bh_err *reterr) BH_MUST_CHECK;

#endif
