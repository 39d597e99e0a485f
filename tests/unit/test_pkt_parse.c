#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pkt_parse.h"
#include "pktbuild.h"
#include "proto.h"
#include "testutil.h"

static void assert_addr(const struct addr *a, const char *lit)
{
	struct addr e = addr_lit(lit);

	assert_true(addr_eq(a, &e));
}

/*
 * Parses @p at every captured length from 0 to its full length, each in a
 * buffer of exactly that size (so ASan catches any read past it).  The
 * full length must give @want; a shorter one TRUNCATED (or NOT_IP before
 * the EtherType), or, once every header needed is in, the same result as
 * the full packet (the parser never needs more than it uses).
 */
static struct pkt_info parse_all_lengths(int dlt, const struct pb *p, enum pkt_result want)
{
	struct pkt_info full, pi;
	uint8_t *copy = malloc(p->n);
	bool ok_seen = false;

	memcpy(copy, p->b, p->n);
	assert_int_equal(pkt_parse(dlt, copy, p->n, &full), want);
	free(copy);
	for (size_t n = 0; n < p->n; n++) {
		enum pkt_result r;

		copy = malloc(n ? n : 1);
		memcpy(copy, p->b, n);
		r = pkt_parse(dlt, copy, n, &pi);
		free(copy);
		if (want != PKT_OK)
			continue;
		if (r == PKT_OK) {
			assert_true(addr_eq(&pi.src, &full.src) && addr_eq(&pi.dst, &full.dst));
			assert_int_equal(pi.sport, full.sport);
			assert_int_equal(pi.dport, full.dport);
			assert_int_equal(pi.tcp_flags, full.tcp_flags);
			assert_int_equal(pi.sctp_chunk, full.sctp_chunk);
			ok_seen = true;
		} else if (ok_seen || (r != PKT_TRUNCATED && r != PKT_NOT_IP)) {
			fail_msg("length %zu of %zu: %s", n, p->n, pkt_result_name(r));
		}
	}
	return full;
}

static void ethernet_tcp_syn(void **state)
{
	struct pb l4 = pb_tcp(40000, 80, PKT_TCP_SYN);
	struct pb ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &l4, 0, 0);
	struct pb f = pb_eth(&ip, 4, 0);
	struct pkt_info pi = parse_all_lengths(PKT_DLT_EN10MB, &f, PKT_OK);

	(void) state;
	assert_addr(&pi.src, "10.0.0.1");
	assert_addr(&pi.dst, "10.0.0.2");
	assert_int_equal(pi.proto, IPPROTO_TCP);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 80);
	assert_int_equal(pi.tcp_flags, PKT_TCP_SYN);
	assert_int_equal(pi.ip_len, 40);
	assert_int_equal(pi.flags, 0);
}

static void vlan_and_qinq(void **state)
{
	struct pb l4 = pb_udp(5353, 53, 10);
	struct pb ip = pb_ipv6("fd00::1", "fd00::2", IPPROTO_UDP, &l4);
	struct pb f1 = pb_eth(&ip, 6, 1), f2 = pb_eth(&ip, 6, 2), f5 = pb_eth(&ip, 6, 5);
	struct pkt_info pi;

	(void) state;
	pi = parse_all_lengths(PKT_DLT_EN10MB, &f1, PKT_OK);
	assert_true(pi.flags & PKT_F_VLAN);
	assert_int_equal(pi.vlan, 100);
	assert_int_equal(pi.proto, IPPROTO_UDP);
	assert_addr(&pi.dst, "fd00::2");
	pi = parse_all_lengths(PKT_DLT_EN10MB, &f2, PKT_OK);
	assert_int_equal(pi.vlan, 100);
	assert_int_equal(pi.dport, 53);
	/* More tags than any real network stacks: refused, not looped on. */
	assert_int_equal(pkt_parse(PKT_DLT_EN10MB, f5.b, f5.n, &pi), PKT_MALFORMED);
}

static void cooked_v1_v2(void **state)
{
	struct pb l4 = pb_sctp(5000, 3868, PKT_SCTP_INIT);
	struct pb ip = pb_ipv4("192.0.2.1", "192.0.2.2", IPPROTO_SCTP, &l4, 0, 0);
	struct pb s1 = pb_sll(&ip, 4, 0), s1o = pb_sll(&ip, 4, 4);
	struct pb s2 = pb_sll2(&ip, 4, 0), s2o = pb_sll2(&ip, 4, 4);
	struct pkt_info pi;

	(void) state;
	pi = parse_all_lengths(PKT_DLT_LINUX_SLL, &s1, PKT_OK);
	assert_int_equal(pi.proto, IPPROTO_SCTP);
	assert_int_equal(pi.sctp_chunk, PKT_SCTP_INIT);
	assert_int_equal(pi.dport, 3868);
	assert_false(pi.flags & PKT_F_OUTGOING);
	pi = parse_all_lengths(PKT_DLT_LINUX_SLL, &s1o, PKT_OK);
	assert_true(pi.flags & PKT_F_OUTGOING);
	pi = parse_all_lengths(PKT_DLT_LINUX_SLL2, &s2, PKT_OK);
	assert_int_equal(pi.sport, 5000);
	assert_false(pi.flags & PKT_F_OUTGOING);
	pi = parse_all_lengths(PKT_DLT_LINUX_SLL2, &s2o, PKT_OK);
	assert_true(pi.flags & PKT_F_OUTGOING);
}

static void raw_ip_and_loopback(void **state)
{
	struct pb l4 = pb_tcp(443, 50000, PKT_TCP_SYN | PKT_TCP_ACK);
	struct pb ip4 = pb_ipv4("10.1.0.1", "10.2.0.1", IPPROTO_TCP, &l4, 0, 8);
	struct pb ip6 = pb_ipv6("2001:db8::1", "2001:db8::2", IPPROTO_TCP, &l4);
	struct pb lo = { .n = 0 }, null = { .n = 0 };
	uint32_t af = 30; /* AF_INET6 on macOS, host order */
	struct pkt_info pi;

	(void) state;
	pi = parse_all_lengths(PKT_DLT_RAW, &ip4, PKT_OK);
	assert_int_equal(pi.tcp_flags, PKT_TCP_SYN | PKT_TCP_ACK);
	assert_int_equal(pi.sport, 443); /* after 8 bytes of options */
	pi = parse_all_lengths(PKT_DLT_LINKTYPE_RAW, &ip6, PKT_OK);
	assert_addr(&pi.src, "2001:db8::1");
	pi = parse_all_lengths(PKT_DLT_IPV4, &ip4, PKT_OK);
	assert_int_equal(pi.dport, 50000);
	pi = parse_all_lengths(PKT_DLT_IPV6, &ip6, PKT_OK);
	assert_int_equal(pi.dport, 50000);
	/* IPv6 where IPv4 is promised, and the reverse. */
	assert_int_equal(pkt_parse(PKT_DLT_IPV4, ip6.b, ip6.n, &pi), PKT_MALFORMED);
	assert_int_equal(pkt_parse(PKT_DLT_IPV6, ip4.b, ip4.n, &pi), PKT_MALFORMED);

	pb_u32(&lo, 2);
	pb_put(&lo, ip4.b, ip4.n);
	pi = parse_all_lengths(PKT_DLT_LOOP, &lo, PKT_OK);
	assert_addr(&pi.dst, "10.2.0.1");
	pb_put(&null, &af, 4);
	pb_put(&null, ip6.b, ip6.n);
	pi = parse_all_lengths(PKT_DLT_NULL, &null, PKT_OK);
	assert_addr(&pi.dst, "2001:db8::2");
	/* The same header byte-swapped (written on the other endianness). */
	af = __builtin_bswap32(af);
	memcpy(null.b, &af, 4);
	parse_all_lengths(PKT_DLT_NULL, &null, PKT_OK);
}

static void ipv6_extension_headers(void **state)
{
	struct pb l4 = pb_tcp(33000, 8080, PKT_TCP_SYN);
	struct pb ext = { .n = 0 };
	struct pkt_info pi;
	struct pb ip, f;

	(void) state;
	/* Hop-by-hop (8) -> routing (24) -> destination options (16) -> TCP. */
	pb_u8(&ext, IPPROTO_ROUTING);
	pb_u8(&ext, 0);
	pb_zero(&ext, 6);
	pb_u8(&ext, IPPROTO_DSTOPTS);
	pb_u8(&ext, 2);
	pb_zero(&ext, 22);
	pb_u8(&ext, IPPROTO_TCP);
	pb_u8(&ext, 1);
	pb_zero(&ext, 14);
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_HOPOPTS, &ext, &l4);
	f = pb_eth(&ip, 6, 0);
	pi = parse_all_lengths(PKT_DLT_EN10MB, &f, PKT_OK);
	assert_int_equal(pi.proto, IPPROTO_TCP);
	assert_int_equal(pi.dport, 8080);
	assert_int_equal(pi.tcp_flags, PKT_TCP_SYN);

	/* AH counts its length in 4-byte units plus 2. */
	ext.n = 0;
	pb_u8(&ext, IPPROTO_UDP);
	pb_u8(&ext, 4); /* (4 + 2) * 4 = 24 bytes */
	pb_zero(&ext, 22);
	l4 = pb_udp(1000, 2000, 0);
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_AH, &ext, &l4);
	pi = parse_all_lengths(PKT_DLT_RAW, &ip, PKT_OK);
	assert_int_equal(pi.dport, 2000);

	/* ESP hides the rest; no next header means nothing follows. */
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_ESP, &ext, &l4);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_OTHER_L4);
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_NONE, &ext, &l4);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_OTHER_L4);
}

static void hostile_extension_chain(void **state)
{
	struct pb l4 = pb_udp(1, 2, 0), ext = { .n = 0 };
	struct pkt_info pi;
	struct pb ip;

	(void) state;
	/* 100 destination-options headers pointing at each other. */
	for (int i = 0; i < 100; i++) {
		pb_u8(&ext, IPPROTO_DSTOPTS);
		pb_u8(&ext, 0);
		pb_zero(&ext, 6);
	}
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_DSTOPTS, &ext, &l4);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_MALFORMED);

	/* An extension header claiming more than the packet holds. */
	ext.n = 0;
	pb_u8(&ext, IPPROTO_UDP);
	pb_u8(&ext, 255);
	pb_zero(&ext, 6);
	ip = pb_ipv6x("fd00::a", "fd00::b", IPPROTO_DSTOPTS, &ext, &l4);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_MALFORMED);
	/* ... and the same with a capture cut short: truncated. */
	ip.b[4] = 0x08; /* payload length 2048 > what was captured */
	ip.b[5] = 0x00;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_TRUNCATED);
}

static void fragments(void **state)
{
	struct pb l4 = pb_udp(5000, 6000, 100), frag6 = { .n = 0 };
	struct pkt_info pi;
	struct pb ip;

	(void) state;
	/* IPv4 first fragment (MF set, offset 0): ports are there. */
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0x2000, 0);
	pi = parse_all_lengths(PKT_DLT_RAW, &ip, PKT_OK);
	assert_true(pi.flags & PKT_F_FIRST_FRAG);
	assert_int_equal(pi.dport, 6000);
	/* A later fragment has no L4 header, whatever its bytes look like. */
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0x0010, 0);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_FRAGMENT);
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0x2010, 0);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_FRAGMENT);

	/* IPv6 fragment header, first and later. */
	pb_u8(&frag6, IPPROTO_UDP);
	pb_u8(&frag6, 0);
	pb_u16(&frag6, 0x0001); /* offset 0, M */
	pb_u32(&frag6, 42);
	ip = pb_ipv6x("fd00::1", "fd00::2", IPPROTO_FRAGMENT, &frag6, &l4);
	pi = parse_all_lengths(PKT_DLT_RAW, &ip, PKT_OK);
	assert_true(pi.flags & PKT_F_FIRST_FRAG);
	assert_int_equal(pi.sport, 5000);
	frag6.b[2] = 0x05; /* offset 160 */
	frag6.b[3] = 0x00;
	ip = pb_ipv6x("fd00::1", "fd00::2", IPPROTO_FRAGMENT, &frag6, &l4);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_FRAGMENT);

	/* A tiny first fragment that cuts the TCP header before the flags:
	 * the packet itself is short, not the capture. */
	l4 = pb_tcp(1234, 80, PKT_TCP_SYN);
	l4.n = 8;
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &l4, 0x2000, 0);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_MALFORMED);
}

static void malformed_ipv4(void **state)
{
	struct pb l4 = pb_tcp(1234, 80, PKT_TCP_SYN);
	struct pb ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &l4, 0, 0);
	struct pkt_info pi;
	struct pb bad;

	(void) state;
	bad = ip;
	bad.b[0] = 0x44; /* IHL 4 < 5 */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
	bad = ip;
	bad.b[0] = 0x4f; /* IHL 15 = 60 bytes > total length 40 */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
	bad = ip;
	bad.b[2] = 0;
	bad.b[3] = 10; /* total length below the header */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
	bad = ip;
	bad.b[32] = 0x30; /* TCP data offset 3 */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
	bad = ip;
	bad.b[22] = bad.b[23] = 0; /* destination port 0 */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
	/* Total length larger than captured: truncated only if the headers
	 * we need are missing; here they are all there. */
	bad = ip;
	bad.b[2] = 0x05;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_OK);
	assert_int_equal(pi.ip_len, 0x0500 + 40);
	/* Total length 0 (TSO on output): the capture length is used. */
	bad = ip;
	bad.b[2] = bad.b[3] = 0;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_OK);
	/* A version nibble that is neither 4 nor 6. */
	bad = ip;
	bad.b[0] = 0x55;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_NOT_IP);
	/* UDP length below its header. */
	l4 = pb_udp(1, 2, 0);
	l4.b[5] = 4;
	bad = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0, 0);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, bad.b, bad.n, &pi), PKT_MALFORMED);
}

/*
 * A length field of 0 (TSO or BIG TCP on output, an IPv6 jumbogram) says
 * nothing about where the packet ends: a header the capture cut is
 * truncated, as with any other short capture, not malformed.
 */
static void unknown_length_cut_by_capture(void **state)
{
	struct pb l4 = pb_tcp(1234, 80, PKT_TCP_SYN), ext = { .n = 0 };
	struct pkt_info pi;
	struct pb ip;

	(void) state;
	/* IPv4, the TCP header cut before its flags. */
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &l4, 0, 8);
	ip.b[2] = ip.b[3] = 0;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, 28 + 10, &pi), PKT_TRUNCATED);
	/* ... and the options cut. */
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, 24, &pi), PKT_TRUNCATED);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_OK);
	assert_int_equal(pi.ip_len, ip.n);

	/* IPv6, an extension header cut, then the TCP header. */
	pb_u8(&ext, IPPROTO_TCP);
	pb_u8(&ext, 1);
	pb_zero(&ext, 14);
	ip = pb_ipv6x("fd00::1", "fd00::2", IPPROTO_DSTOPTS, &ext, &l4);
	ip.b[4] = ip.b[5] = 0;
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, 40 + 10, &pi), PKT_TRUNCATED);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, 40 + 16 + 10, &pi), PKT_TRUNCATED);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_OK);
	assert_int_equal(pi.ip_len, ip.n);
}

static void not_ip_and_other_l4(void **state)
{
	struct pb arp = { .n = 0 }, icmp = { .n = 0 };
	struct pkt_info pi;
	struct pb ip;

	(void) state;
	pb_zero(&arp, 12);
	pb_u16(&arp, 0x0806);
	pb_zero(&arp, 28);
	assert_int_equal(pkt_parse(PKT_DLT_EN10MB, arp.b, arp.n, &pi), PKT_NOT_IP);
	pb_zero(&icmp, 8);
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_ICMP, &icmp, 0, 0);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, ip.b, ip.n, &pi), PKT_OTHER_L4);
	assert_int_equal(pkt_parse(147 /* DLT_USER0 */, ip.b, ip.n, &pi), PKT_NOT_IP);
	assert_int_equal(pkt_parse(PKT_DLT_RAW, NULL, 0, &pi), PKT_TRUNCATED);
	assert_false(pkt_dlt_supported(147));
	assert_true(pkt_dlt_supported(PKT_DLT_LINUX_SLL2));
	assert_string_equal(pkt_result_name(PKT_FRAGMENT), "fragment");
	assert_null(pkt_result_name(_PKT_RESULT_MAX));
}

/* Random bytes of random lengths on every link type: no crash, no read
 * past the end (ASan), and a valid result. */
static void random_garbage(void **state)
{
	static const int dlts[] = { PKT_DLT_NULL, PKT_DLT_EN10MB,    PKT_DLT_RAW,
				    PKT_DLT_LOOP, PKT_DLT_LINUX_SLL, PKT_DLT_LINUX_SLL2,
				    PKT_DLT_IPV4, PKT_DLT_IPV6 };
	uint32_t x = 12345;
	struct pkt_info pi;

	(void) state;
	for (int i = 0; i < 20000; i++) {
		size_t n = (x = x * 1103515245 + 12345) % 200;
		uint8_t *b = malloc(n ? n : 1);
		enum pkt_result r;

		for (size_t k = 0; k < n; k++)
			b[k] = (uint8_t) ((x = x * 1103515245 + 12345) >> 16);
		/* Steer some inputs into the IP parsers. */
		if (n > 0 && i % 2)
			b[0] = (uint8_t) (i % 4 ? 0x45 : 0x60);
		r = pkt_parse(dlts[i % BH_ARRAY_SIZE(dlts)], b, n, &pi);
		assert_true(r < _PKT_RESULT_MAX);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ethernet_tcp_syn),
		cmocka_unit_test(vlan_and_qinq),
		cmocka_unit_test(cooked_v1_v2),
		cmocka_unit_test(raw_ip_and_loopback),
		cmocka_unit_test(ipv6_extension_headers),
		cmocka_unit_test(hostile_extension_chain),
		cmocka_unit_test(fragments),
		cmocka_unit_test(malformed_ipv4),
		cmocka_unit_test(unknown_length_cut_by_capture),
		cmocka_unit_test(not_ip_and_other_l4),
		cmocka_unit_test(random_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
