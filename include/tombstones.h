/*
 * Tombstones: pods deleted a moment ago, kept for a while so that what was
 * seen just before a deletion (a flow whose last packet came a second
 * before its pod went away, reported later) still resolves to the pod.
 * The live cache (kube_cache.h) keeps them; identity (identity.h)
 * consults them when no live pod had the address at the time.
 *
 * Bounded twice: a tombstone expires @ttl_ms after its pod was deleted,
 * and past @max tombstones the oldest is evicted (counted).  Not
 * thread-safe; the owner's thread only.
 */
#ifndef BH_TOMBSTONES_H
#define BH_TOMBSTONES_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

#define TOMBSTONES_TTL_MS_DEFAULT 60000u
#define TOMBSTONES_MAX_DEFAULT 4096u

struct tombstones;

struct tombstones_stats {
	uint64_t added;
	uint64_t expired; /* dropped after their time to live */
	uint64_t evicted; /* dropped early: more than max tombstones */
};

/* An empty set; 0 for @ttl_ms or @max takes the default.  NULL on
 * allocation failure. */
struct tombstones *tombstones_new(uint64_t ttl_ms, size_t max);
/* NULL-safe; returns NULL. */
struct tombstones *tombstones_free(struct tombstones *t);

/*
 * Keeps pod @p, deleted now: takes ownership of its contents (moved, *@p
 * is zeroed), on failure too.  @now_ms is CLOCK_MONOTONIC (expiry),
 * @now_s the unix time of the deletion: the pod's lifetime ends then
 * (p->deleted becomes @now_s + 1, the end of the second it was seen gone,
 * or its deletionTimestamp when that came earlier), so a tombstone never
 * claims an address after its pod left.  Host-network pods are not kept
 * (their address is their node's).  Evicts the oldest tombstone when full.
 * 0, or -ENOMEM.
 */
int tombstones_add(struct tombstones *t, struct pod *p, uint64_t now_ms, int64_t now_s);

/* Drops the tombstones older than the time to live at @now_ms. */
void tombstones_expire(struct tombstones *t, uint64_t now_ms);
/* When the next tombstone expires (CLOCK_MONOTONIC ms), or UINT64_MAX. */
uint64_t tombstones_next_expiry(const struct tombstones *t);

/* The tombstones, oldest first: [0, tombstones_count()).  Borrowed, valid
 * until the next add or expire. */
size_t tombstones_count(const struct tombstones *t);
const struct pod *tombstones_pod(const struct tombstones *t, size_t i);

const struct tombstones_stats *tombstones_stats(const struct tombstones *t);

#endif
