/*
 * Direction inference and NAT undoing for packets, and the conntrack
 * mapping; see include/learn.h for the rules and docs/learner.md for why.
 *
 * The session cache is set-associative (LEARN_SESS_WAYS entries per bucket,
 * bucket chosen by client address, client port and protocol), so it is
 * bounded, O(1) per packet and needs no deletion logic: a new session takes
 * a free way or the least recently used one, and an unanswered opener that
 * loses its way is learned as sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "learn.h"
#include "proto.h"

enum sess_state {
	SESS_EMPTY,
	SESS_PENDING, /* opener seen, no answer yet: counters held here */
	SESS_RESOLVED, /* answered: packets go to client -> server */
};

/* What sess_is() reads comes first: one cache line per way scanned. */
struct sess {
	uint8_t state, proto;
	uint16_t cport;
	struct addr client;
	uint16_t oport, sport;
	struct addr orig, server;
	uint32_t first, last; /* unix seconds */
	uint32_t packets, connections;
	uint64_t bytes;
};

struct learn {
	struct flow_table *t;
	struct sess *sess; /* LEARN_SESS_BUCKETS * LEARN_SESS_WAYS */
	uint64_t seed;
	struct learn_stats stats;
};

struct learn *learn_new(size_t max_flows)
{
	struct learn *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->t = flow_table_new(max_flows);
	l->sess = calloc((size_t) LEARN_SESS_BUCKETS * LEARN_SESS_WAYS, sizeof(*l->sess));
	l->seed = hash_seed_random();
	if (!l->t || !l->sess)
		return learn_free(l);
	return l;
}

void learn_seed(struct learn *l, uint64_t seed)
{
	l->seed = seed;
}

struct learn *learn_free(struct learn *l)
{
	if (!l)
		return NULL;
	flow_table_free(l->t);
	free(l->sess);
	free(l);
	return NULL;
}

struct flow_table *learn_table(struct learn *l)
{
	return l->t;
}

const struct learn_stats *learn_stats(const struct learn *l)
{
	return &l->stats;
}

static uint32_t ts32(int64_t ts)
{
	return ts < 0 ? 0 : ts > (int64_t) UINT32_MAX ? UINT32_MAX : (uint32_t) ts;
}

static void key_make(struct flow_key *k, const struct addr *client, const struct addr *server,
		     uint8_t proto, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->src = *client;
	k->dst = *server;
	k->proto = proto;
	k->port = port;
}

static int flow_add(struct learn *l, const struct addr *client, const struct addr *server,
		    uint8_t proto, uint16_t port, uint32_t packets, uint64_t bytes, uint32_t conns,
		    int64_t ts)
{
	struct flow_key k;
	int r;

	key_make(&k, client, server, proto, port);
	r = flow_table_add(l->t, &k, packets, bytes, conns, ts, FLOW_SEEN_PCAP);
	return r < 0 ? r : 0;
}

static struct sess *bucket(struct learn *l, const struct addr *client, uint16_t cport,
			   uint8_t proto)
{
	struct {
		struct addr a;
		uint16_t port;
		uint8_t proto, pad;
	} k = { .a = *client, .port = cport, .proto = proto };
	uint64_t h = hash_bytes(&k, sizeof(k), l->seed);

	return &l->sess[(h & (LEARN_SESS_BUCKETS - 1)) * LEARN_SESS_WAYS];
}

static bool sess_is(const struct sess *s, const struct addr *client, uint16_t cport, uint8_t proto)
{
	return s->state != SESS_EMPTY && s->cport == cport && s->proto == proto &&
	       addr_eq(&s->client, client);
}

/* Learns a pending session's opener as sent and frees the way. */
static int sess_commit(struct learn *l, struct sess *s)
{
	int r = 0;

	if (s->state == SESS_PENDING) {
		r = flow_add(l, &s->client, &s->orig, s->proto, s->oport, s->packets, s->bytes,
			     s->connections, s->first);
		if (r == 0 && s->last != s->first)
			r = flow_add(l, &s->client, &s->orig, s->proto, s->oport, 0, 0, 0, s->last);
	}
	s->state = SESS_EMPTY;
	return r;
}

/* A way for a new session in bucket @b: a free one, else the LRU one. */
static int sess_alloc(struct learn *l, struct sess *b, struct sess **ret)
{
	struct sess *victim = &b[0];

	for (int w = 0; w < LEARN_SESS_WAYS; w++) {
		if (b[w].state == SESS_EMPTY) {
			*ret = &b[w];
			return 0;
		}
		if (b[w].last < victim->last)
			victim = &b[w];
	}
	*ret = victim;
	return sess_commit(l, victim);
}

/* A packet from client @pi->src to server @pi->dst; @b is the client's
 * bucket when the caller has it. */
static int on_request(struct learn *l, const struct pkt_info *pi, struct sess *b, bool opener,
		      uint32_t now)
{
	const struct addr *c = &pi->src, *d = &pi->dst;
	uint16_t cport = pi->sport, dport = pi->dport;
	struct sess *s = NULL;
	int r;

	if (!b)
		b = bucket(l, c, cport, pi->proto);

	for (int w = 0; w < LEARN_SESS_WAYS; w++) {
		if (sess_is(&b[w], c, cport, pi->proto) && b[w].oport == dport &&
		    addr_eq(&b[w].orig, d)) {
			s = &b[w];
			break;
		}
	}
	if (s && s->state == SESS_RESOLVED) {
		s->last = now;
		return flow_add(l, c, &s->server, pi->proto, s->sport, 1, pi->ip_len, 0, now);
	}
	if (s) { /* a retransmitted opener, or more UDP before any answer */
		s->packets++;
		s->bytes += pi->ip_len;
		s->last = now;
		return 0;
	}
	r = sess_alloc(l, b, &s);
	if (r < 0)
		return r;
	*s = (struct sess){
		.client = *c,
		.orig = *d,
		.cport = cport,
		.oport = dport,
		.proto = pi->proto,
		.state = SESS_PENDING,
		.first = now,
		.last = now,
		.packets = 1,
		.connections = opener ? 1 : 0,
		.bytes = pi->ip_len,
	};
	return 0;
}

/* The session of client @c:@cport that an answer from @srv:@sport belongs
 * to: one addressed to or resolved to that server, else the most recent
 * pending one (DNAT: the answer comes from the real server). */
static struct sess *answer_match(struct sess *b, const struct addr *c, uint16_t cport,
				 uint8_t proto, const struct addr *srv, uint16_t sport)
{
	struct sess *pending = NULL;

	for (int w = 0; w < LEARN_SESS_WAYS; w++) {
		struct sess *s = &b[w];

		if (!sess_is(s, c, cport, proto))
			continue;
		if (s->state == SESS_RESOLVED && s->sport == sport && addr_eq(&s->server, srv))
			return s;
		if (s->state == SESS_PENDING && s->oport == sport && addr_eq(&s->orig, srv))
			return s;
		if (s->state == SESS_PENDING && (!pending || s->last > pending->last))
			pending = s;
	}
	return pending;
}

/* A packet from server @pi->src to client @pi->dst; @b is the client's
 * bucket when the caller has it. */
static int on_answer(struct learn *l, const struct pkt_info *pi, struct sess *b, uint32_t now)
{
	struct sess *s;
	int r;

	if (!b)
		b = bucket(l, &pi->dst, pi->dport, pi->proto);
	s = answer_match(b, &pi->dst, pi->dport, pi->proto, &pi->src, pi->sport);
	if (s && s->state == SESS_PENDING) {
		if (s->oport != pi->sport || !addr_eq(&s->orig, &pi->src))
			l->stats.nat_undone++;
		s->state = SESS_RESOLVED;
		s->server = pi->src;
		s->sport = pi->sport;
		s->last = now;
		/* The opener's counters and this answer in one update. */
		r = flow_add(l, &pi->dst, &pi->src, pi->proto, pi->sport, s->packets + 1,
			     s->bytes + pi->ip_len, s->connections, s->first);
		if (r < 0 || now == s->first)
			return r;
		return flow_add(l, &pi->dst, &pi->src, pi->proto, pi->sport, 0, 0, 0, now);
	} else if (!s) {
		/* An answer to an opener we did not see: it still names both
		 * sides.  Remember it so later packets are not recounted as
		 * new connections. */
		r = flow_add(l, &pi->dst, &pi->src, pi->proto, pi->sport, 0, 0, 1, now);
		if (r < 0)
			return r;
		r = sess_alloc(l, b, &s);
		if (r < 0)
			return r;
		*s = (struct sess){
			.client = pi->dst,
			.orig = pi->src,
			.server = pi->src,
			.cport = pi->dport,
			.oport = pi->sport,
			.sport = pi->sport,
			.proto = pi->proto,
			.state = SESS_RESOLVED,
			.first = now,
		};
	}
	s->last = now;
	return flow_add(l, &pi->dst, &pi->src, pi->proto, pi->sport, 1, pi->ip_len, 0, now);
}

static bool has_session(struct sess *b, const struct addr *c, uint16_t cport, uint8_t proto)
{
	for (int w = 0; w < LEARN_SESS_WAYS; w++)
		if (sess_is(&b[w], c, cport, proto))
			return true;
	return false;
}

/* UDP: is this packet sent by the client (true) or by the server?  Leaves
 * the buckets of the sender and the receiver in @ret_src and @ret_dst. */
static bool udp_is_request(struct learn *l, const struct pkt_info *pi, struct sess **ret_src,
			   struct sess **ret_dst)
{
	struct flow_key k;

	/* Sessions first: they remember who spoke first. */
	*ret_dst = bucket(l, &pi->dst, pi->dport, pi->proto);
	if (has_session(*ret_dst, &pi->dst, pi->dport, pi->proto))
		return false;
	*ret_src = bucket(l, &pi->src, pi->sport, pi->proto);
	if (has_session(*ret_src, &pi->src, pi->sport, pi->proto))
		return true;
	/* A flow already learned decides, whoever learned it: conntrack
	 * knows who spoke first. */
	key_make(&k, &pi->dst, &pi->src, pi->proto, pi->sport);
	if (flow_table_get(l->t, &k, NULL))
		return false;
	key_make(&k, &pi->src, &pi->dst, pi->proto, pi->dport);
	if (flow_table_get(l->t, &k, NULL))
		return true;
	/* Well-known ports are servers; then non-ephemeral ones; else the
	 * receiver of the first packet seen is the server. */
	if ((pi->dport < 1024) != (pi->sport < 1024))
		return pi->dport < 1024;
	if ((pi->dport < LEARN_EPHEMERAL_MIN) != (pi->sport < LEARN_EPHEMERAL_MIN))
		return pi->dport < LEARN_EPHEMERAL_MIN;
	return true;
}

int learn_pkt_info(struct learn *l, const struct pkt_info *pi, int64_t ts)
{
	struct sess *bsrc = NULL, *bdst = NULL;
	uint32_t now = ts32(ts);
	uint8_t f;

	if (pi->flags & PKT_F_OUTGOING) {
		l->stats.ignored++;
		return 0;
	}
	switch (pi->proto) {
	case IPPROTO_TCP:
		f = pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK | PKT_TCP_RST | PKT_TCP_FIN);
		if (f == PKT_TCP_SYN)
			return on_request(l, pi, NULL, true, now);
		if (f == (PKT_TCP_SYN | PKT_TCP_ACK))
			return on_answer(l, pi, NULL, now);
		break;
	case IPPROTO_SCTP:
		if (pi->sctp_chunk == PKT_SCTP_INIT)
			return on_request(l, pi, NULL, true, now);
		if (pi->sctp_chunk == PKT_SCTP_INIT_ACK)
			return on_answer(l, pi, NULL, now);
		break;
	case IPPROTO_UDP:
		if (udp_is_request(l, pi, &bsrc, &bdst))
			return on_request(l, pi, bsrc, true, now);
		return on_answer(l, pi, bdst, now);
	}
	l->stats.ignored++;
	return 0;
}

int learn_packet(struct learn *l, int dlt, const uint8_t *data, size_t caplen, int64_t ts)
{
	struct pkt_info pi;
	enum pkt_result pr = pkt_parse(dlt, data, caplen, &pi);

	l->stats.packets++;
	l->stats.parse[pr]++;
	if (pr != PKT_OK)
		return 0;
	return learn_pkt_info(l, &pi, ts);
}

static int expire(struct learn *l, bool all, uint32_t before)
{
	size_t n = (size_t) LEARN_SESS_BUCKETS * LEARN_SESS_WAYS;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct sess *s = &l->sess[i];

		if (s->state == SESS_EMPTY || (!all && s->last >= before))
			continue;
		r = sess_commit(l, s);
		if (r < 0)
			return r;
	}
	return 0;
}

int learn_expire(struct learn *l, int64_t now)
{
	return expire(l, false, ts32(now - LEARN_PENDING_TIMEOUT));
}

int learn_flush(struct learn *l)
{
	return expire(l, true, 0);
}

/*
 * Conntrack knows which side of a UDP conversation spoke first; packets
 * alone may have guessed the other way (both ports high, the answer seen
 * first).  Moves what packets learned as @ck's reverse (server -> client
 * port @cport) into @ck, pending or learned, and forgets that session.
 */
static int udp_redirect(struct learn *l, const struct flow_key *ck, uint16_t cport)
{
	struct sess *b = bucket(l, &ck->dst, ck->port, ck->proto);
	struct flow_record rev;
	struct flow_key rk;
	int r;

	for (int w = 0; w < LEARN_SESS_WAYS; w++) {
		struct sess *s = &b[w];

		if (!sess_is(s, &ck->dst, ck->port, ck->proto) || s->oport != cport ||
		    !addr_eq(&s->orig, &ck->src))
			continue;
		if (s->state == SESS_PENDING) {
			r = flow_add(l, &ck->src, &ck->dst, ck->proto, ck->port, s->packets,
				     s->bytes, 0, s->first);
			if (r < 0)
				return r;
		}
		s->state = SESS_EMPTY;
		l->stats.ct_redirected++;
	}
	key_make(&rk, &ck->dst, &ck->src, ck->proto, cport);
	if (flow_table_get(l->t, &rk, &rev) && rev.seen_by == FLOW_SEEN_PCAP) {
		(void) flow_table_take(l->t, &rk, NULL);
		l->stats.ct_redirected++;
		r = flow_add(l, &ck->src, &ck->dst, ck->proto, ck->port, (uint32_t) rev.packets,
			     rev.bytes, (uint32_t) rev.connections, rev.first_seen);
		if (r == 0)
			r = flow_add(l, &ck->src, &ck->dst, ck->proto, ck->port, 0, 0, 0,
				     rev.last_seen);
		if (r < 0)
			return r;
	}
	return 0;
}

int learn_conntrack(struct learn *l, const struct ct_conn *c, enum learn_ct_kind kind, int64_t ts)
{
	const struct ct_tuple *o = &c->orig, *rp = &c->reply;
	const struct addr *server = &o->dst;
	uint16_t port = o->dport;
	struct flow_key k;
	uint32_t conns = 0;
	int r;

	if (o->proto != IPPROTO_TCP && o->proto != IPPROTO_UDP && o->proto != IPPROTO_SCTP) {
		l->stats.ct_ignored++;
		return 0;
	}
	/* DNAT rewrote the destination: the reply comes from the real
	 * server, which is what a policy must allow. */
	if (rp->src.family && (!addr_eq(&rp->src, &o->dst) || rp->sport != o->dport)) {
		server = &rp->src;
		port = rp->sport;
		l->stats.ct_nat_undone++;
	}
	key_make(&k, &o->src, server, o->proto, port);
	if (o->proto == IPPROTO_UDP) {
		r = udp_redirect(l, &k, o->sport);
		if (r < 0)
			return r;
	}
	switch (kind) {
	case LEARN_CT_NEW:
	case LEARN_CT_DUMP:
		conns = 1;
		break;
	case LEARN_CT_RESYNC:
	case LEARN_CT_DESTROY:
		/* Seen before (or its NEW event was lost in an overrun). */
		conns = flow_table_get(l->t, &k, NULL) ? 0 : 1;
		break;
	}
	l->stats.ct_entries++;
	r = flow_table_add(l->t, &k, (uint32_t) (c->packets > UINT32_MAX ? UINT32_MAX : c->packets),
			   c->bytes, conns, ts, FLOW_SEEN_CONNTRACK);
	return r < 0 ? r : 0;
}
