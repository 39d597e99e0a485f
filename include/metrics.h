/*
 * A small Prometheus registry: counters, gauges and histograms (fixed
 * buckets), each a family with up to METRICS_LABELS_MAX label names and one
 * series per combination of label values, rendered in the text exposition
 * format 0.0.4 (HELP and TYPE lines, label values escaped).
 *
 * The hot path is an update of a series the caller already holds: a series
 * is found (or created) once with metrics_series_get() and its pointer
 * stays valid until metrics_series_remove() or the registry is freed, so
 * counting a packet is one addition, no lookup and no formatting.
 *
 * Bounded: at most @series_max series in the registry.  Past it
 * metrics_series_get() fails with -E2BIG and the refusal is counted in
 * bulkhead_metrics_series_dropped_total, which every rendering ends with.
 *
 * The agent's families are a declared table (enum metrics_agent_id,
 * metrics_agent_defs[], docs/metrics.md), so their names are fixed before
 * the daemon updates them.
 *
 * Not thread-safe: loop thread only.
 */
#ifndef BH_METRICS_H
#define BH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define METRICS_LABELS_MAX 4
#define METRICS_BUCKETS_MAX 24
#define METRICS_SERIES_MAX_DEFAULT 20000

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
	_METRICS_TYPE_MAX,
};

/*
 * A family's definition.  @name: [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in
 * "_total".  @labels: the label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting
 * with "__"; a histogram's may not be "le"), NULL-terminated or
 * METRICS_LABELS_MAX of them.  @buckets: a histogram's upper bounds,
 * strictly increasing and finite (+Inf is implicit), @n_buckets of them.
 * The strings are borrowed for the registry's life (static tables).
 */
struct metrics_family_def {
	const char *name;
	const char *help;
	enum metrics_type type;
	const char *labels[METRICS_LABELS_MAX];
	const double *buckets;
	size_t n_buckets;
};

struct metrics_registry;
struct metrics_family;
struct metrics_series;

/* A registry of at most @series_max series (0: the default).  NULL only on
 * allocation failure. */
struct metrics_registry *metrics_registry_new(size_t series_max);
/* Frees every family and series.  NULL-safe; returns NULL. */
struct metrics_registry *metrics_registry_free(struct metrics_registry *r);

/*
 * Adds a family defined by @def (borrowed for the registry's life).  A
 * family without labels gets its one series at once (so it renders 0
 * before its first update).  -EINVAL (input error naming the family and
 * what is wrong) for a bad name, label or bucket list, -EEXIST for a name
 * taken, -ENOMEM.
 */
int metrics_family_add(struct metrics_registry *r, const struct metrics_family_def *def,
		       struct metrics_family **ret, struct bh_err *reterr);

/*
 * The series of @f for @values (one per label name, in the definition's
 * order; copied), created on first use.  NULL @values for a family
 * without labels.  -EINVAL for a NULL value, -E2BIG past the registry's
 * bound (counted, see above), -ENOMEM.
 */
int metrics_series_get(struct metrics_family *f, const char *const *values,
		       struct metrics_series **ret);
/* Drops a series (a deleted policy, a removed interface); the pointer is
 * invalid afterwards.  NULL-safe. */
void metrics_series_remove(struct metrics_series *s);

/* Counters: add @n, or mirror a monotonic count kept elsewhere (an
 * nftables counter) with _set. */
void metrics_counter_add(struct metrics_series *s, uint64_t n);
void metrics_counter_set(struct metrics_series *s, uint64_t v);
void metrics_gauge_set(struct metrics_series *s, double v);
void metrics_gauge_add(struct metrics_series *s, double v);
/* Counts @v in the first bucket whose bound is >= @v (or +Inf). */
void metrics_histogram_observe(struct metrics_series *s, double v);

/* The current value of a counter or gauge, a histogram's count (tests). */
double metrics_series_value(const struct metrics_series *s);

/*
 * Appends the text exposition (format 0.0.4) of every family, in
 * registration order, series in creation order, to @out.  0, or -ENOMEM /
 * -E2BIG from the buffer (@out then holds a partial rendering the caller
 * discards).
 */
int metrics_render(const struct metrics_registry *r, struct buf *out);

/* The Content-Type of that rendering. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* --- the agent's families (docs/metrics.md) --- */

enum metrics_agent_id {
	METRICS_FLOWS_LEARNED, /* counter {source}: pcap, conntrack */
	METRICS_FLOWS_EVICTED, /* counter */
	METRICS_FLOWS, /* gauge: flows in the table */
	METRICS_CAPTURE_DROPS, /* counter {interface} */
	METRICS_CONNTRACK_OVERRUNS, /* counter */
	METRICS_ALERTS, /* counter: new alerts recorded */
	METRICS_ALERTS_DROPPED, /* counter: NFLOG messages not recorded (flood) */
	METRICS_NFLOG_OVERRUNS, /* counter: NFLOG socket overflows */
	METRICS_POLICY_PACKETS, /* counter {namespace, policy, verdict} */
	METRICS_RULESET_PROGRAM_SECONDS, /* histogram {kind}: full, incremental */
	METRICS_RULESET_BATCHES, /* counter {kind}: full, incremental */
	METRICS_RULESET_RESYNCS, /* counter: full replaces after a failed batch */
	METRICS_RULESET_ERRORS, /* counter: batches or updates that failed */
	METRICS_RULESET_LAST_SYNC, /* gauge: unix time of the last good batch */
	METRICS_RULESET_INFO, /* gauge {digest} = 1: the table's digest comment */
	METRICS_WATCH_RESTARTS, /* counter {resource} */
	METRICS_WATCH_RELISTS, /* counter {resource} */
	METRICS_API_ERRORS, /* counter {resource} */
	METRICS_STATE_DB_WRITE_SECONDS, /* histogram */
	METRICS_STATE_DB_FULL_CHECKPOINTS, /* counter: flow checkpoints written whole */
	METRICS_CAPTURE_INTERFACES, /* gauge: interfaces captured now */
	_METRICS_AGENT_MAX,
};

extern const struct metrics_family_def metrics_agent_defs[_METRICS_AGENT_MAX];

/* Registers every family of metrics_agent_defs[] in @r, @ret[id] being the
 * family of each id.  The errors of metrics_family_add(). */
int metrics_agent_register(struct metrics_registry *r,
			   struct metrics_family *ret[_METRICS_AGENT_MAX], struct bh_err *reterr);

#endif
