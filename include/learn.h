/*
 * Learning: turns parsed packets and conntrack entries into flows in the
 * flow table, deciding which side is the client and undoing NAT.
 *
 * Packets (docs/learner.md, "Direction"):
 *  - TCP: a SYN opens a session from its sender; a SYN-ACK answers it.
 *    SCTP: INIT and INIT-ACK likewise.  Other TCP/SCTP packets are ignored.
 *  - UDP: a packet to a client port with an open session is an answer;
 *    otherwise a flow already learned either way round decides (conntrack
 *    knows who spoke first, and turns packets' wrong guesses round);
 *    otherwise the well-known (< 1024), then the non-ephemeral (< 32768)
 *    port is the server, and failing that the receiver of the first
 *    packet seen is the server.
 *  - Sessions are keyed by (client, client port, protocol) in a bounded
 *    set-associative cache.  When the answer comes from another address or
 *    port than the opener was sent to (DNAT, e.g. a Service ClusterIP), the
 *    flow is learned to the answering server: that is NAT undone from
 *    packets alone.  An opener never answered is learned as sent when its
 *    session is expired, evicted or flushed.
 *  - Packets a cooked capture marks as outgoing are ignored: on a node,
 *    every packet a pod sends is seen entering the node on its veth.
 *
 * Conntrack: the original direction's source is the client; the server is
 * the reply tuple's source (NAT undone), which is the original destination
 * when there is no DNAT.
 */
#ifndef BH_LEARN_H
#define BH_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "ctmon.h"
#include "flow_table.h"
#include "pkt_parse.h"

/* Sessions remembered for answer matching: LEARN_SESS_WAYS per bucket. */
#define LEARN_SESS_BUCKETS 4096
#define LEARN_SESS_WAYS 4
/* An opener unanswered for this long is learned as sent (learn_expire). */
#define LEARN_PENDING_TIMEOUT 5

/* The ephemeral port range starts here (Linux ip_local_port_range). */
#define LEARN_EPHEMERAL_MIN 32768

struct learn_stats {
	uint64_t packets; /* handed to learn_packet() */
	uint64_t parse[_PKT_RESULT_MAX]; /* by pkt_parse() result */
	uint64_t ignored; /* parsed but not an opener, or outgoing */
	uint64_t nat_undone; /* packet sessions answered by another server */
	uint64_t ct_entries; /* conntrack entries learned */
	uint64_t ct_nat_undone; /* conntrack entries with DNAT undone */
	uint64_t ct_ignored; /* conntrack entries of other protocols */
	uint64_t ct_redirected; /* UDP guesses from packets turned round */
};

enum learn_ct_kind {
	LEARN_CT_NEW, /* NEW event: one more connection */
	LEARN_CT_DUMP, /* initial dump entry: one connection */
	LEARN_CT_RESYNC, /* resync dump entry: a connection if the flow is new */
	LEARN_CT_DESTROY, /* DESTROY event: times and counters only */
};

struct learn;

/* @max_flows bounds the flow table.  NULL on allocation failure. */
struct learn *learn_new(size_t max_flows);

/*
 * Replaces the session cache's random hash seed, before any packet: which
 * sessions share a bucket decides which are evicted under pressure, so a
 * fixed seed makes the counts from a capture file the same on every run.
 * Live sources keep the random seed (traffic could aim at one bucket).
 */
void learn_seed(struct learn *l, uint64_t seed);
/* NULL-safe; returns NULL. */
struct learn *learn_free(struct learn *l);

/*
 * One captured packet of link type @dlt: @caplen bytes at @data, @ts in
 * unix seconds.  Returns 0 (learned or counted as not learnable), or
 * -ENOMEM when the flow table could not grow.
 */
int learn_packet(struct learn *l, int dlt, const uint8_t *data, size_t caplen, int64_t ts);
/* The same for an already parsed packet. */
int learn_pkt_info(struct learn *l, const struct pkt_info *pi, int64_t ts);

/* One conntrack entry; 0, or -ENOMEM. */
int learn_conntrack(struct learn *l, const struct ct_conn *c, enum learn_ct_kind kind, int64_t ts);

/* Learns openers unanswered since before @now - LEARN_PENDING_TIMEOUT. */
int learn_expire(struct learn *l, int64_t now);
/* Learns every unanswered opener (end of capture). */
int learn_flush(struct learn *l);

struct flow_table *learn_table(struct learn *l);
const struct learn_stats *learn_stats(const struct learn *l);

#endif
