/*
 * The flow table: learned flows keyed by (client, server, protocol, server
 * port), with packet, byte and connection counts, first and last seen, and
 * which sources saw them.  Bounded: at most max_flows entries; when full,
 * the least recently seen flow is evicted and counted.
 *
 * Open addressing over a dense entry array with 32-bit indices and an LRU
 * list threaded through the entries: about 100 bytes per flow
 * (docs/learner.md has the figures).  Single-threaded.
 */
#ifndef BH_FLOW_TABLE_H
#define BH_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* The largest table we agree to build (32-bit indices, with headroom). */
#define FLOW_TABLE_MAX (1u << 30)

struct flow_table;

struct flow_table_stats {
	uint64_t created; /* flows ever created */
	uint64_t evicted; /* flows dropped to stay within max_flows */
	uint64_t gone_unrecorded; /* keys gone that the gone record could not hold */
};

/* A table of at most @max_flows (1 .. FLOW_TABLE_MAX) flows; NULL on
 * allocation failure or a bad size.  Memory grows with use. */
struct flow_table *flow_table_new(size_t max_flows);
/* NULL-safe; returns NULL. */
struct flow_table *flow_table_free(struct flow_table *t);

/*
 * Adds @packets, @bytes and @connections to the flow @key (copied; its pad
 * byte must be zero), widens its first/last seen to @ts (unix seconds) and
 * ORs @seen_by (enum flow_seen_by).  Creates the flow when absent, evicting
 * the least recently seen one when the table is full.  Returns 1 when
 * created, 0 when updated, -ENOMEM when the table could not grow.
 */
int flow_table_add(struct flow_table *t, const struct flow_key *key, uint32_t packets,
		   uint64_t bytes, uint32_t connections, int64_t ts, uint8_t seen_by);

/* Fills @ret's key, counters, times and seen_by (peers zeroed) when @key
 * is present: returns 1, else 0. */
int flow_table_get(const struct flow_table *t, const struct flow_key *key, struct flow_record *ret);

/* Like flow_table_get(), and removes the flow (not counted as evicted):
 * returns 1 when it was there, else 0. */
int flow_table_take(struct flow_table *t, const struct flow_key *key, struct flow_record *ret);

size_t flow_table_count(const struct flow_table *t);
const struct flow_table_stats *flow_table_stats(const struct flow_table *t);
/* Bytes allocated by the table (entries, index and gone record). */
size_t flow_table_mem(const struct flow_table *t);

/*
 * The flow at position @i (< flow_table_count()) of the table's own order:
 * the order flows were created in, except that evicting a flow moves the
 * last one into its place.  Peers are left unresolved.  Walking 0..count
 * reads every flow without copying the table (flow_table_export() does).
 */
void flow_table_record_at(const struct flow_table *t, size_t i, struct flow_record *ret);

/*
 * Whether the flow at position @i changed (was created or added to) since
 * flow_table_clean_at(@i): a store writes the dirty flows and cleans them.
 * A flow keeps its flag when eviction moves it to another position.
 * Flows are created dirty.
 */
bool flow_table_dirty_at(const struct flow_table *t, size_t i);
void flow_table_clean_at(struct flow_table *t, size_t i);

/*
 * The gone record: the keys of the flows that left the table (evicted, or
 * removed by flow_table_take()) since it was last cleared, so that a store
 * of the table's flows can delete them.  Off until flow_table_gone_record()
 * turns it on; it then holds up to @max keys (allocated as they come) and
 * counts those it could not hold.  A caller told of overflow cannot know
 * every key that left: it rewrites its store whole.
 */
struct flow_table_gone {
	const struct flow_key *keys; /* borrowed: valid until the table changes */
	size_t n;
	uint64_t overflow; /* keys gone but not held since the last clear */
};

/* Turns the record on, holding at most @max keys (0: off, the record
 * emptied).  Returns 0; -EINVAL for @max above FLOW_TABLE_MAX. */
int flow_table_gone_record(struct flow_table *t, size_t max);

/*
 * Fills @ret with the record, first dropping from it the keys that are in
 * the table again (created anew since they left): every key reported is
 * absent from the table.  A key that left twice may be listed twice.
 */
void flow_table_gone(struct flow_table *t, struct flow_table_gone *ret);

/* Empties the record and its overflow count: what it reported is stored,
 * and is not reported again. */
void flow_table_gone_clear(struct flow_table *t);

/*
 * Copies every flow into a new array of flow_record (peers zeroed, kind
 * FLOW_PEER_UNKNOWN), in no particular order.  The caller frees *ret with
 * free().  -ENOMEM.
 */
int flow_table_export(const struct flow_table *t, struct flow_record **ret, size_t *ret_n);

#endif
