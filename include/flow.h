/*
 * A learned flow: client address, server address, L4 protocol and server
 * port, with counters, times and which capture sources saw it.  The
 * destination is always the server side (shared/design.md, "flow").
 * The on-disk form is flows.json (docs/flows-format.md, learner/flows_json.c).
 * The destructors are learner/flow.c.
 */
#ifndef BH_FLOW_H
#define BH_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "labels.h"

enum flow_seen_by {
	FLOW_SEEN_PCAP = 1u << 0,
	FLOW_SEEN_CONNTRACK = 1u << 1,
};

struct flow_key {
	struct addr src; /* client */
	struct addr dst; /* server (after NAT is undone) */
	uint16_t port; /* server port, host order; 0 for port-less */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP */
	uint8_t pad; /* zero, so keys hash and compare as bytes */
};

_Static_assert(sizeof(struct flow_key) == 44, "flow_key is hashed as bytes");

/* The order of flows in a flows file: source, destination, protocol, port. */
static inline int flow_key_cmp(const struct flow_key *a, const struct flow_key *b)
{
	int c = addr_cmp(&a->src, &b->src);

	if (c)
		return c;
	c = addr_cmp(&a->dst, &b->dst);
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

enum flow_peer_kind {
	FLOW_PEER_UNKNOWN, /* not resolved (no cluster state given) */
	FLOW_PEER_POD,
	FLOW_PEER_NODE,
	FLOW_PEER_EXTERNAL,
};

/* What an address was when the flow was learned (identity, resolved). */
struct flow_peer {
	enum flow_peer_kind kind;
	char *ns; /* owned; pods */
	char *name; /* owned; pod or node name */
	char *workload_kind; /* owned; pods, e.g. "Deployment", may be NULL */
	char *workload_name; /* owned */
	struct labels labels; /* pods */
	/* The strings and labels above belong to someone else (a struct
	 * flow_set's peer pool, include/flows_json.h) and outlive this peer:
	 * flow_peer_done() only clears it. */
	bool borrowed;
};

struct flow_record {
	struct flow_key key;
	uint64_t packets;
	uint64_t bytes;
	uint64_t connections;
	int64_t first_seen; /* unix seconds */
	int64_t last_seen;
	uint8_t seen_by; /* enum flow_seen_by bits */
	struct flow_peer src_peer;
	struct flow_peer dst_peer;
};

/* The one destructor of a peer: frees its owned strings and labels, or only
 * clears a borrowed peer.  NULL-safe; the peer is left zeroed. */
void flow_peer_done(struct flow_peer *p);
/* The kind's name in flows files and reports: "unknown", "pod", "node",
 * "external". */
const char *flow_peer_kind_name(enum flow_peer_kind k);
/* The kind named @s (flow_peer_kind_name()) into @ret: 0, or -EINVAL. */
int flow_peer_kind_parse(const char *s, enum flow_peer_kind *ret);
/* Both peers of @r (flow_peer_done()). */
void flow_record_done(struct flow_record *r);

#endif
