#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "learn.h"
#include "pktbuild.h"
#include "proto.h"
#include "testutil.h"

static void send4(struct learn *l, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		  uint16_t dport, uint8_t flags_or_chunk, int64_t ts)
{
	struct pb l4 = proto == IPPROTO_TCP ? pb_tcp(sport, dport, flags_or_chunk) :
		       proto == IPPROTO_UDP ? pb_udp(sport, dport, 20) :
					      pb_sctp(sport, dport, flags_or_chunk);
	struct pb ip = pb_ipv4(src, dst, proto, &l4, 0, 0);
	struct pb f = pb_eth(&ip, 4, 0);

	assert_int_equal(learn_packet(l, PKT_DLT_EN10MB, f.b, f.n, ts), 0);
}

static struct flow_key key(const char *c, const char *s, uint8_t proto, uint16_t port)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.src = addr_lit(c);
	k.dst = addr_lit(s);
	k.proto = proto;
	k.port = port;
	return k;
}

static bool has(struct learn *l, const char *c, const char *s, uint8_t proto, uint16_t port,
		struct flow_record *r)
{
	struct flow_key k = key(c, s, proto, port);

	return flow_table_get(learn_table(l), &k, r) == 1;
}

static void tcp_syn_synack(void **state)
{
	struct learn *l = learn_new(100);
	struct flow_record r;

	(void) state;
	send4(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, PKT_TCP_SYN, 100);
	send4(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, PKT_TCP_SYN, 101); /* again */
	send4(l, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 80, 40000, PKT_TCP_SYN | PKT_TCP_ACK, 101);
	/* The rest of the connection teaches nothing. */
	send4(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, PKT_TCP_ACK, 101);
	send4(l, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 80, 40000, PKT_TCP_RST, 102);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, &r));
	assert_int_equal(r.packets, 3);
	assert_int_equal(r.connections, 1);
	assert_int_equal(r.first_seen, 100);
	assert_int_equal(r.last_seen, 101);
	assert_int_equal(r.seen_by, FLOW_SEEN_PCAP);
	assert_int_equal(learn_stats(l)->ignored, 2);
	assert_int_equal(learn_stats(l)->nat_undone, 0);
	learn_free(l);
}

/* A SYN to a Service address answered by the backend (what a node sees on
 * pod veths): one flow, to the backend and its target port. */
static void tcp_dnat_undone(void **state)
{
	struct learn *l = learn_new(100);
	struct flow_record r;

	(void) state;
	send4(l, "10.0.0.1", "10.96.0.10", IPPROTO_TCP, 40001, 80, PKT_TCP_SYN, 100);
	send4(l, "10.0.0.3", "10.0.0.1", IPPROTO_TCP, 8080, 40001, PKT_TCP_SYN | PKT_TCP_ACK, 100);
	/* A second connection through the same Service. */
	send4(l, "10.0.0.1", "10.96.0.10", IPPROTO_TCP, 40002, 80, PKT_TCP_SYN, 101);
	send4(l, "10.0.0.3", "10.0.0.1", IPPROTO_TCP, 8080, 40002, PKT_TCP_SYN | PKT_TCP_ACK, 101);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.3", IPPROTO_TCP, 8080, &r));
	assert_int_equal(r.connections, 2);
	assert_int_equal(r.packets, 4);
	assert_false(has(l, "10.0.0.1", "10.96.0.10", IPPROTO_TCP, 80, NULL));
	assert_int_equal(learn_stats(l)->nat_undone, 2);
	learn_free(l);
}

/* An opener never answered is learned as sent, at flush or expiry. */
static void unanswered_openers(void **state)
{
	struct learn *l = learn_new(100);

	(void) state;
	send4(l, "10.0.0.1", "203.0.113.9", IPPROTO_TCP, 40000, 443, PKT_TCP_SYN, 100);
	send4(l, "10.0.0.1", "10.0.0.9", IPPROTO_TCP, 40001, 22, PKT_TCP_SYN, 200);
	assert_int_equal(flow_table_count(learn_table(l)), 0);
	assert_int_equal(learn_expire(l, 100 + LEARN_PENDING_TIMEOUT + 1), 0);
	assert_true(has(l, "10.0.0.1", "203.0.113.9", IPPROTO_TCP, 443, NULL));
	assert_false(has(l, "10.0.0.1", "10.0.0.9", IPPROTO_TCP, 22, NULL));
	assert_int_equal(learn_flush(l), 0);
	assert_true(has(l, "10.0.0.1", "10.0.0.9", IPPROTO_TCP, 22, NULL));
	learn_free(l);
}

/* A SYN-ACK without its SYN (capture started late, or only the server's
 * side seen) still names client and server. */
static void synack_alone(void **state)
{
	struct learn *l = learn_new(100);
	struct flow_record r;

	(void) state;
	send4(l, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 443, 51000, PKT_TCP_SYN | PKT_TCP_ACK, 7);
	send4(l, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 443, 51000, PKT_TCP_SYN | PKT_TCP_ACK, 8);
	assert_int_equal(learn_flush(l), 0);
	assert_true(has(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 443, &r));
	assert_int_equal(r.connections, 1); /* a retransmission is not another */
	assert_int_equal(r.packets, 2);
	learn_free(l);
}

static void sctp_init(void **state)
{
	struct learn *l = learn_new(100);

	(void) state;
	send4(l, "10.0.0.1", "10.0.0.2", IPPROTO_SCTP, 5000, 3868, PKT_SCTP_INIT, 1);
	send4(l, "10.0.0.2", "10.0.0.1", IPPROTO_SCTP, 3868, 5000, PKT_SCTP_INIT_ACK, 1);
	send4(l, "10.0.0.1", "10.0.0.2", IPPROTO_SCTP, 5000, 3868, 0 /* DATA */, 1);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.2", IPPROTO_SCTP, 3868, NULL));
	learn_free(l);
}

static void udp_direction(void **state)
{
	struct learn *l = learn_new(100);
	struct flow_record r;

	(void) state;
	/* Well-known port: the answer seen first still points to the server. */
	send4(l, "10.0.0.53", "10.0.0.1", IPPROTO_UDP, 53, 40000, 0, 1);
	/* Non-ephemeral against ephemeral. */
	send4(l, "10.0.0.1", "10.0.0.7", IPPROTO_UDP, 45000, 8125, 0, 1);
	send4(l, "10.0.0.7", "10.0.0.1", IPPROTO_UDP, 8125, 45000, 0, 1);
	/* Both ephemeral: the receiver of the first packet is the server,
	 * and the answer joins the same flow. */
	send4(l, "10.0.0.1", "10.0.0.8", IPPROTO_UDP, 50000, 60000, 0, 1);
	send4(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 60000, 50000, 0, 2);
	assert_int_equal(learn_flush(l), 0);
	assert_true(has(l, "10.0.0.1", "10.0.0.53", IPPROTO_UDP, 53, NULL));
	assert_true(has(l, "10.0.0.1", "10.0.0.7", IPPROTO_UDP, 8125, &r));
	assert_int_equal(r.packets, 2);
	assert_int_equal(r.connections, 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.8", IPPROTO_UDP, 60000, &r));
	assert_int_equal(r.packets, 2);
	assert_int_equal(flow_table_count(learn_table(l)), 3);
	learn_free(l);
}

/* DNS to a Service ClusterIP answered by the backend pod. */
static void udp_dnat_undone(void **state)
{
	struct learn *l = learn_new(100);
	struct flow_record r;

	(void) state;
	send4(l, "10.0.0.1", "10.96.0.10", IPPROTO_UDP, 41000, 53, 0, 1);
	send4(l, "10.0.0.5", "10.0.0.1", IPPROTO_UDP, 53, 41000, 0, 1);
	send4(l, "10.0.0.1", "10.96.0.10", IPPROTO_UDP, 41000, 53, 0, 2); /* more */
	send4(l, "10.0.0.5", "10.0.0.1", IPPROTO_UDP, 53, 41000, 0, 2);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.5", IPPROTO_UDP, 53, &r));
	assert_int_equal(r.packets, 4);
	assert_int_equal(learn_stats(l)->nat_undone, 1);
	learn_free(l);
}

static void cooked_outgoing_ignored(void **state)
{
	struct learn *l = learn_new(100);
	struct pb l4 = pb_tcp(40000, 80, PKT_TCP_SYN);
	struct pb ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &l4, 0, 0);
	struct pb out = pb_sll(&ip, 4, 4), in = pb_sll2(&ip, 4, 0);

	(void) state;
	assert_int_equal(learn_packet(l, PKT_DLT_LINUX_SLL, out.b, out.n, 1), 0);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 0);
	assert_int_equal(learn_packet(l, PKT_DLT_LINUX_SLL2, in.b, in.n, 1), 0);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_int_equal(learn_stats(l)->packets, 2);
	assert_int_equal(learn_stats(l)->parse[PKT_OK], 2);
	learn_free(l);
}

static struct ct_conn ct(const char *os, const char *od, uint16_t osp, uint16_t odp, const char *rs,
			 const char *rd, uint16_t rsp, uint16_t rdp, uint8_t proto)
{
	struct ct_conn c = { 0 };

	c.orig = (struct ct_tuple){ addr_lit(os), addr_lit(od), osp, odp, proto };
	c.reply = (struct ct_tuple){ addr_lit(rs), addr_lit(rd), rsp, rdp, proto };
	return c;
}

static void conntrack_mapping(void **state)
{
	struct learn *l = learn_new(100);
	struct ct_conn plain = ct("10.0.0.1", "10.0.0.2", 40000, 80, "10.0.0.2", "10.0.0.1", 80,
				  40000, IPPROTO_TCP);
	struct ct_conn dnat = ct("10.0.0.1", "10.96.0.10", 40001, 80, "10.0.0.3", "10.0.0.1", 8080,
				 40001, IPPROTO_TCP);
	/* SNAT (masquerade) changes the reply destination, not the server. */
	struct ct_conn snat = ct("10.0.0.1", "198.51.100.1", 40002, 443, "198.51.100.1",
				 "192.0.2.1", 443, 61000, IPPROTO_TCP);
	struct ct_conn icmp =
		ct("10.0.0.1", "10.0.0.2", 0, 0, "10.0.0.2", "10.0.0.1", 0, 0, IPPROTO_ICMP);
	struct flow_record r;

	(void) state;
	assert_int_equal(learn_conntrack(l, &plain, LEARN_CT_DUMP, 10), 0);
	assert_int_equal(learn_conntrack(l, &plain, LEARN_CT_NEW, 11), 0);
	assert_int_equal(learn_conntrack(l, &plain, LEARN_CT_DESTROY, 12), 0);
	assert_int_equal(learn_conntrack(l, &dnat, LEARN_CT_NEW, 11), 0);
	assert_int_equal(learn_conntrack(l, &snat, LEARN_CT_NEW, 11), 0);
	assert_int_equal(learn_conntrack(l, &icmp, LEARN_CT_NEW, 11), 0);
	/* A resync dump does not recount what we already know ... */
	assert_int_equal(learn_conntrack(l, &plain, LEARN_CT_RESYNC, 13), 0);
	assert_true(has(l, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, &r));
	assert_int_equal(r.connections, 2);
	assert_int_equal(r.first_seen, 10);
	assert_int_equal(r.last_seen, 13);
	assert_int_equal(r.seen_by, FLOW_SEEN_CONNTRACK);
	assert_true(has(l, "10.0.0.1", "10.0.0.3", IPPROTO_TCP, 8080, NULL));
	assert_false(has(l, "10.0.0.1", "10.96.0.10", IPPROTO_TCP, 80, NULL));
	assert_true(has(l, "10.0.0.1", "198.51.100.1", IPPROTO_TCP, 443, NULL));
	assert_int_equal(flow_table_count(learn_table(l)), 3);
	/* ... but counts a connection whose NEW event was lost. */
	dnat.orig.sport = 40005;
	dnat.reply.dport = 40005;
	dnat.reply.src = addr_lit("10.0.0.4");
	assert_int_equal(learn_conntrack(l, &dnat, LEARN_CT_RESYNC, 14), 0);
	assert_true(has(l, "10.0.0.1", "10.0.0.4", IPPROTO_TCP, 8080, &r));
	assert_int_equal(r.connections, 1);
	assert_int_equal(learn_stats(l)->ct_nat_undone, 2);
	assert_int_equal(learn_stats(l)->ct_ignored, 1);
	learn_free(l);
}

/* Both ports high and the answer seen first: packets guess wrong; the
 * conntrack entry turns the guess round, pending or already learned, and
 * later packets follow the corrected flow. */
static void conntrack_turns_udp_guess(void **state)
{
	struct learn *l = learn_new(100);
	struct ct_conn c = ct("10.0.0.1", "10.0.0.8", 50000, 60000, "10.0.0.8", "10.0.0.1", 60000,
			      50000, IPPROTO_UDP);
	struct flow_record r;

	(void) state;
	/* Pending: the first packet seen is the answer. */
	send4(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 60000, 50000, 0, 5);
	assert_int_equal(learn_conntrack(l, &c, LEARN_CT_NEW, 6), 0);
	send4(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 60000, 50000, 0, 7);
	send4(l, "10.0.0.1", "10.0.0.8", IPPROTO_UDP, 50000, 60000, 0, 7);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_true(has(l, "10.0.0.1", "10.0.0.8", IPPROTO_UDP, 60000, &r));
	assert_int_equal(r.packets, 3);
	assert_int_equal(r.seen_by, FLOW_SEEN_PCAP | FLOW_SEEN_CONNTRACK);
	assert_int_equal(r.first_seen, 5);

	/* With that flow known, a new session's answer seen first is
	 * recognised as an answer. */
	send4(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 60000, 50002, 0, 8);
	assert_int_equal(learn_flush(l), 0);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_int_equal(learn_stats(l)->ct_redirected, 1);
	learn_free(l);

	/* Already learned the wrong way round (flushed) before conntrack. */
	l = learn_new(100);
	send4(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 60000, 50000, 0, 8);
	assert_int_equal(learn_flush(l), 0);
	assert_true(has(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 50000, NULL));
	assert_int_equal(learn_conntrack(l, &c, LEARN_CT_DESTROY, 9), 0);
	assert_false(has(l, "10.0.0.8", "10.0.0.1", IPPROTO_UDP, 50000, NULL));
	assert_true(has(l, "10.0.0.1", "10.0.0.8", IPPROTO_UDP, 60000, &r));
	assert_int_equal(r.packets, 1);
	assert_int_equal(r.first_seen, 8);
	assert_int_equal(r.last_seen, 9);
	assert_int_equal(flow_table_count(learn_table(l)), 1);
	assert_int_equal(learn_stats(l)->ct_redirected, 1); /* the flush ended the session */
	learn_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_syn_synack),     cmocka_unit_test(tcp_dnat_undone),
		cmocka_unit_test(unanswered_openers), cmocka_unit_test(synack_alone),
		cmocka_unit_test(sctp_init),	      cmocka_unit_test(udp_direction),
		cmocka_unit_test(udp_dnat_undone),    cmocka_unit_test(cooked_outgoing_ignored),
		cmocka_unit_test(conntrack_mapping),  cmocka_unit_test(conntrack_turns_udp_guess),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
