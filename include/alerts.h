/*
 * The preview alert table: what the previewed policy set would deny,
 * deduplicated per (source workload, destination workload, port, protocol),
 * with counts, first and last seen, the deciding direction and policy, an
 * explanation and a state the user changes (open, allowed, dismissed).
 *
 * The table is bounded: it holds at most the limit given to alerts_new().
 * Once full, an observation of a new key is dropped and counted
 * (stats.dropped), so a flood (a port scan in preview: one new key per
 * port) costs a counter, never memory; observations of keys already held
 * are still counted.  Nothing is evicted: an alert the user has not seen
 * yet is worth more than a new one of the same flood.
 *
 * Alert ids are 16 lowercase hex characters derived from the key alone
 * (alert_id_make()), so the same key has the same id in every table, in
 * the state database and in the report, across restarts.  Should two keys
 * of one table hash to the same id (chance: about n^2 / 2^65; or an
 * attacker choosing external addresses), the later one takes the next id
 * of a salted sequence, so ids stay unique within the table; such an id
 * survives a restart through the state database and alerts_restore().
 *
 * Loop thread only; nothing here is thread-safe.  Strings are copied in;
 * an alert's strings are owned by the table.
 */
#ifndef BH_ALERTS_H
#define BH_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bh.h"
#include "json_out.h"

struct cluster;

/* An alert id: 16 lowercase hex characters, and the NUL. */
#define ALERT_ID_LEN 16
#define ALERT_ID_SIZE (ALERT_ID_LEN + 1)
/* Longest peer (NAMESPACE/KIND/NAME or a CIDR) and policy (NAMESPACE/NAME),
 * in bytes: the report's schema allows 600 characters. */
#define ALERT_PEER_MAX 600
#define ALERT_POLICY_MAX 600
/* Longest pod name (a Kubernetes object name). */
#define ALERT_POD_MAX 253
/* Longer explanations are cut, at a UTF-8 character boundary. */
#define ALERT_EXPLANATION_MAX 4096

enum alert_direction {
	ALERT_INGRESS, /* a policy isolating the destination denied it */
	ALERT_EGRESS, /* a policy isolating the source denied it */
	_ALERT_DIRECTION_MAX,
};

enum alert_state {
	ALERT_OPEN, /* not looked at yet */
	ALERT_ALLOWED, /* `bulkhead allow`: the proposal takes the flow in */
	ALERT_DISMISSED, /* `bulkhead dismiss`: the flow stays denied */
	_ALERT_STATE_MAX,
};

/*
 * The key.  A peer is a workload, "NAMESPACE/KIND/NAME" (three non-empty
 * parts), or, for a peer that is no pod, an address ("192.0.2.1") or a CIDR
 * ("192.0.2.0/24"), which the table writes in canonical form
 * ("192.0.2.1/32", host bits cleared, IPv6 compressed) before anything
 * else, so one peer written two ways is one key.  Borrowed.
 */
struct alert_key {
	const char *src, *dst;
	uint16_t port; /* destination port; 0 for protocols without ports */
	uint8_t proto; /* IPPROTO_* */
};

/*
 * What decided, as of an observation.  Borrowed; the table copies it.  An
 * observation of a key already held replaces the alert's info with the
 * newer one (the policies may have changed since it was first seen).
 */
struct alert_info {
	enum alert_direction direction;
	const char *policy; /* the deciding policy, "NAMESPACE/NAME"; required */
	const char *explanation; /* NULL or "" for none */
	const char *src_pod, *dst_pod; /* pod names seen (the namespace is the
					* workload's); NULL or "" for none */
};

/* An alert as the table holds it: read-only for callers, valid until the
 * next call that changes the table. */
struct alert_entry {
	char id[ALERT_ID_SIZE];
	const char *src, *dst; /* canonical peers */
	uint16_t port;
	uint8_t proto;
	enum alert_direction direction;
	const char *policy;
	const char *explanation; /* "" when none */
	const char *src_pod, *dst_pod; /* NULL when none */
	uint64_t count; /* observations */
	int64_t first_seen, last_seen; /* unix milliseconds (wall clock) */
	enum alert_state state;
};

/* What a state database saved of an alert, for alerts_restore(). */
struct alert_saved {
	const char *id; /* as saved; NULL or "" to derive it from the key */
	uint64_t count;
	int64_t first_seen, last_seen; /* unix milliseconds */
	enum alert_state state;
};

struct alerts_stats {
	uint64_t observed; /* alerts_observe() calls with a valid key */
	uint64_t created; /* new alerts (new keys taken in) */
	uint64_t dropped; /* observations of new keys while the table was full */
	uint64_t invalid; /* alerts_observe() calls refused with -EINVAL */
	uint64_t restored; /* alerts taken in by alerts_restore() */
};

struct alerts;

/* A table of at most @limit alerts (0: every observation is dropped).
 * NULL on allocation failure. */
struct alerts *alerts_new(size_t limit);
/* Frees the table and every alert; NULL-safe; returns NULL. */
struct alerts *alerts_free(struct alerts *t);

/*
 * Counts one would-deny observation of @key at @now (unix milliseconds):
 * - 0: the key's alert was there; its count grows, its last seen becomes
 *   @now (unless the clock went back), its info is @info's and its state
 *   stays what it was (an allowed or dismissed alert is not reopened);
 * - 1: a new alert, open, count 1, first and last seen @now;
 * - -ENOBUFS: the table is full; the observation is dropped and counted
 *   in stats.dropped;
 * - -EINVAL: a peer that is neither a workload nor an address or CIDR, a
 *   string too long, no policy or a policy not "NAMESPACE/NAME", an
 *   unknown direction, or @now negative or past year 2262 (counted in
 *   stats.invalid; nothing changes);
 * - -ENOMEM: nothing changes.
 */
int alerts_observe(struct alerts *t, const struct alert_key *key, const struct alert_info *info,
		   int64_t now);

/*
 * Takes in an alert the state database saved (on start, before any
 * observation): @key and @info as for alerts_observe(), with @s's id,
 * counts, times and state.
 * 0; -EEXIST when the key or the id is already in the table; -ENOBUFS
 * when the table is full; -EINVAL as for alerts_observe(), for an id that
 * is not 16 lowercase hex characters, a count of 0, last seen before first
 * seen or an unknown state; -ENOMEM.  Nothing changes on failure.
 */
int alerts_restore(struct alerts *t, const struct alert_key *key, const struct alert_info *info,
		   const struct alert_saved *s);

/* True when a new key would be dropped (the table holds its limit). */
bool alerts_full(const struct alerts *t);
/*
 * Counts an observation of a new key that the caller did not describe
 * because the table is full (alerts_full(), and alerts_lookup() found no
 * alert of the key): stats.observed and stats.dropped, as alerts_observe()
 * would, without the cost of describing it (a flood's explanation).
 */
void alerts_drop(struct alerts *t);

/* Number of alerts held. */
size_t alerts_count(const struct alerts *t);
/* The @i-th alert (@i < alerts_count()), or NULL past the end.  Alerts are
 * ordered by first seen, those with equal first seen in the order they
 * came in: a new alert goes last unless the clock went back, a restored
 * one at its place, so a table restored from its saved alerts iterates in
 * the order it did. */
const struct alert_entry *alerts_at(const struct alerts *t, size_t i);
/* The alert of @id, or NULL. */
const struct alert_entry *alerts_find(const struct alerts *t, const char *id);
/* The alert of @key (canonicalised as alerts_observe() does), or NULL. */
const struct alert_entry *alerts_lookup(const struct alerts *t, const struct alert_key *key);
/* Sets the state of the alert @id: 0; -ENOENT for no such alert; -EINVAL
 * for an unknown state. */
int alerts_set_state(struct alerts *t, const char *id, enum alert_state state);
/* Number of alerts in state ALERT_OPEN. */
size_t alerts_open(const struct alerts *t);
/* Counters since alerts_new() (borrowed). */
const struct alerts_stats *alerts_stats(const struct alerts *t);
/* Bytes of memory the table holds (alerts, their strings, its indexes). */
size_t alerts_mem(const struct alerts *t);

/*
 * The id of @key, computed as given (no canonicalisation: pass the peers
 * alerts_observe() keeps, as alert_entry and the state database hold
 * them): the report's definition (docs/report.md, "Ids"), the first 16
 * lowercase hex digits of SHA-256 of "SRC\nDST\nPORT\nPROTOCOL", the port
 * in decimal, the protocol as the report writes it ("TCP", "UDP", "SCTP",
 * "ICMP", "ICMPv6" or its number), into @out.  Its definition never
 * changes: ids are saved, and anyone reading the report can compute them.
 */
void alert_id_make(const struct alert_key *key, char out[ALERT_ID_SIZE]);
/* True for 16 lowercase hex characters and nothing else. */
bool alert_id_valid(const char *id);

/*
 * Writes @in in canonical form into @out (@len bytes; ALERT_PEER_MAX + 1
 * is always enough): a workload as it is, an address as a /32 or /128
 * CIDR, a CIDR with its host bits cleared.  1 for a workload, 0 for an
 * address or CIDR, -EINVAL for anything else (or a result that does not
 * fit).
 */
int alert_peer_canon(const char *in, char *out, size_t len);

/* "open", "allowed", "dismissed"; NULL when out of range. */
const char *alert_state_name(enum alert_state s);
/* Parses exactly those names; -EINVAL otherwise. */
int alert_state_parse(const char *s, enum alert_state *ret);
/* "ingress", "egress"; NULL when out of range. */
const char *alert_direction_name(enum alert_direction d);

/*
 * Writes @a as one object of the report (docs/report.schema.json,
 * $defs/alert) with @w:
 *   {"id":"3f0c...","src":{"workload":"shop/Deployment/web","pod":"web-1"},
 *    "dst":{"cidr":"192.0.2.1/32"},"port":80,"protocol":"TCP",
 *    "direction":"egress","policy":"shop/web-egress","explanation":"...",
 *    "count":3,"firstSeen":"2026-12-04T05:33:28.123Z",
 *    "lastSeen":"2026-12-04T05:35:01.004Z","state":"open"}
 * A protocol other than TCP, UDP and SCTP is written by its name ("ICMP",
 * "ICMPv6") or its number.  With @c (may be NULL), a deciding policy
 * that @c no longer holds (deleted since the alert) is written as null:
 * the explanation still names it.  Errors are the writer's
 * (json_out_error()).
 */
void alert_json(const struct alert_entry *a, const struct cluster *c, struct json_out *w);

#endif
