/*
 * unit.preview: the NFLOG parser and the alert table, over nlmsg bytes
 * recorded from the kernel (tests/data/nflog/, captured with
 * `nflog_dump --record`) and hand-built messages.  No kernel needed.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "pktbuild.h"
#include "preview.h"
#include "testutil.h"

#define NOW_NS ((int64_t) 1700000000 * 1000000000)

/* One datagram of four packets logged by a rule with group 7: TCP 80 and
 * UDP 81 from 10.77.0.1 to 10.77.0.2 (prefix "bh-test ingress x/b") and
 * the same over IPv6 fd77::1 -> fd77::2 (prefix "... v6"). */
static const char *const recorded = "nflog/v4-v6-tcp-udp.nlmsg";

struct collect {
	size_t n;
	struct alert a[16];
};

static int collect_cb(const struct alert *a, void *userdata)
{
	struct collect *c = userdata;

	if (c->n < BH_ARRAY_SIZE(c->a))
		c->a[c->n++] = *a;
	return 0;
}

static const struct alert *find(const struct collect *c, const char *dst, uint8_t proto,
				uint16_t port)
{
	struct addr d = addr_lit(dst);

	for (size_t i = 0; i < c->n; i++)
		if (addr_eq(&c->a[i].dst, &d) && c->a[i].proto == proto && c->a[i].dport == port)
			return &c->a[i];
	return NULL;
}

static void recorded_datagram(void **state)
{
	size_t len;
	char *data = test_read_file(recorded, &len);
	struct preview *p = preview_new(16);
	struct collect c = { .n = 0 };
	const struct alert *a;
	struct addr src = addr_lit("10.77.0.1");

	(void) state;
	assert_non_null(p);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_stats(p)->messages, 4);
	assert_int_equal(preview_stats(p)->malformed, 0);
	assert_int_equal(preview_alert_count(p), 4);
	assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
	assert_int_equal(c.n, 4);

	a = find(&c, "10.77.0.2", IPPROTO_TCP, 80);
	assert_non_null(a);
	assert_true(addr_eq(&a->src, &src));
	assert_string_equal(a->prefix, "bh-test ingress x/b");
	assert_int_equal(a->packets, 1);
	assert_int_equal(a->bytes, 60); /* the SYN with options */
	/* The kernel stamped the packets (NFULA_TIMESTAMP), 2026-11-22. */
	assert_true(a->first_seen_ns > (int64_t) 1795000000 * 1000000000);
	assert_true(a->first_seen_ns != NOW_NS);

	a = find(&c, "10.77.0.2", IPPROTO_UDP, 81);
	assert_non_null(a);
	a = find(&c, "fd77::2", IPPROTO_TCP, 80);
	assert_non_null(a);
	assert_string_equal(a->prefix, "bh-test ingress x/b v6");
	assert_int_equal(a->bytes, 80);
	a = find(&c, "fd77::2", IPPROTO_UDP, 81);
	assert_non_null(a);
	assert_null(find(&c, "10.77.0.2", IPPROTO_TCP, 81));

	/* The same packets again aggregate into the same alerts. */
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_alert_count(p), 4);
	assert_int_equal(preview_stats(p)->alerts, 4);
	c.n = 0;
	assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
	assert_int_equal(find(&c, "fd77::2", IPPROTO_UDP, 81)->packets, 2);
	assert_int_equal(find(&c, "10.77.0.2", IPPROTO_TCP, 80)->bytes, 120);

	preview_reset(p);
	assert_int_equal(preview_alert_count(p), 0);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_alert_count(p), 4);
	preview_free(p);
	free(data);
}

static void full_table_evicts_least_recently_seen(void **state)
{
	size_t len;
	char *data = test_read_file(recorded, &len);
	struct preview *p = preview_new(2);
	struct collect c = { .n = 0 };

	(void) state;
	assert_non_null(p);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_alert_count(p), 2);
	assert_int_equal(preview_stats(p)->evicted, 2);
	assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
	/* The two IPv6 packets came last. */
	assert_int_equal(c.n, 2);
	assert_non_null(find(&c, "fd77::2", IPPROTO_TCP, 80));
	assert_non_null(find(&c, "fd77::2", IPPROTO_UDP, 81));
	preview_free(p);
	free(data);
}

static void truncated_datagrams_never_overread(void **state)
{
	size_t len;
	char *data = test_read_file(recorded, &len);
	uint32_t first_len; /* nlmsg_len of the datagram's first message */

	(void) state;
	assert_true(len >= sizeof(struct nlmsghdr));
	memcpy(&first_len, data + offsetof(struct nlmsghdr, nlmsg_len), sizeof(first_len));
	/* Each prefix in its own exact-size allocation, so ASan sees any
	 * read past the end. */
	for (size_t n = 0; n < len; n++) {
		char *cut = malloc(n ? n : 1);
		struct preview *p = preview_new(4);
		int r;

		assert_non_null(cut);
		assert_non_null(p);
		memcpy(cut, data, n);
		r = preview_feed(p, cut, n, NOW_NS);
		/* Only whole messages count (the last one's alignment
		 * padding may be cut without loss). */
		assert_true(r >= 0 && r <= 4);
		if (n < first_len)
			assert_int_equal(r, 0);
		/* The datagram ends with a 20-byte NLMSG_DONE (the kernel
		 * sends batches as multipart). */
		if (n < len - 20)
			assert_true(r < 4);
		preview_free(p);
		free(cut);
	}
	free(data);
}

/* A hand-built NFULNL_MSG_PACKET with @payload and @prefix (NULL: none). */
static size_t build_msg(uint8_t *buf, const void *payload, size_t plen, const char *prefix)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 2 };

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(7);
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	if (prefix)
		mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
	if (payload)
		mnl_attr_put(nlh, NFULA_PAYLOAD, plen, payload);
	return nlh->nlmsg_len;
}

static const uint8_t v4_udp[28] = {
	0x45, 0, 0,  28, 0, 0, 0x40, 0,	   64,	 IPPROTO_UDP, 0, 0, 10, 0,
	0,    1, 10, 0,	 0, 2, 0x30, 0x39, 0x00, 0x35,	      0, 8, 0,	0, /* 12345 -> 53 */
};

static void hand_built_messages(void **state)
{
	uint8_t buf[1024];
	struct nflog_pkt pkt;
	struct preview *p = preview_new(8);
	uint8_t arp[28] = { 0x00, 0x01, 0x08, 0x00 };
	size_t n;

	(void) state;
	assert_non_null(p);
	n = build_msg(buf, v4_udp, sizeof(v4_udp), "a \"quoted\" prefix");
	assert_int_equal(nflog_msg_parse(buf, n, &pkt), 0);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.sport, 12345);
	assert_int_equal(pkt.dport, 53);
	assert_int_equal(pkt.len, 28);
	assert_int_equal(pkt.ts_ns, 0);
	assert_string_equal(pkt.prefix, "a \"quoted\" prefix");
	/* No timestamp attribute: the alert takes the reader's clock. */
	assert_int_equal(preview_feed(p, buf, n, NOW_NS), 1);

	/* Without payload it is not an alert. */
	n = build_msg(buf, NULL, 0, "x");
	assert_int_equal(nflog_msg_parse(buf, n, &pkt), -EBADMSG);
	assert_int_equal(preview_feed(p, buf, n, NOW_NS), 0);
	assert_int_equal(preview_stats(p)->malformed, 1);

	/* A payload that is not IP. */
	n = build_msg(buf, arp, sizeof(arp), NULL);
	assert_int_equal(nflog_msg_parse(buf, n, &pkt), -EPROTONOSUPPORT);
	assert_int_equal(preview_feed(p, buf, n, NOW_NS), 0);
	assert_int_equal(preview_stats(p)->non_ip, 1);

	/* A prefix attribute without its NUL is rejected, not read past. */
	n = build_msg(buf, v4_udp, sizeof(v4_udp), "abc");
	{
		struct nlattr *at =
			(struct nlattr *) (buf + MNL_NLMSG_HDRLEN +
					   MNL_ALIGN(sizeof(struct nfgenmsg)) + MNL_ATTR_HDRLEN +
					   MNL_ALIGN(sizeof(struct nfulnl_msg_packet_hdr)));

		assert_int_equal(at->nla_type, NFULA_PREFIX);
		memset((uint8_t *) at + MNL_ATTR_HDRLEN, 'x', 4); /* "xxxx", no NUL */
	}
	assert_int_equal(nflog_msg_parse(buf, n, &pkt), -EBADMSG);

	/* An attribute claiming more than the message holds. */
	n = build_msg(buf, v4_udp, sizeof(v4_udp), NULL);
	{
		/* memcpy: the attribute header sits at a byte offset of buf */
		uint16_t bad_len = 200;

		memcpy(buf + n - MNL_ALIGN(sizeof(v4_udp)) - MNL_ATTR_HDRLEN +
			       offsetof(struct nlattr, nla_len),
		       &bad_len, sizeof(bad_len));
	}
	assert_int_equal(nflog_msg_parse(buf, n, &pkt), -EBADMSG);

	/* An ACK in the stream is skipped silently. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct nlmsgerr *e;

		nlh->nlmsg_type = NLMSG_ERROR;
		e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
		e->error = 0;
		assert_int_equal(preview_feed(p, buf, nlh->nlmsg_len, NOW_NS), 0);
		assert_int_equal(preview_stats(p)->malformed, 1);
	}

	{
		struct collect c = { .n = 0 };
		struct buf b;

		assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.a[0].first_seen_ns, NOW_NS);
		buf_init(&b, 4096);
		assert_int_equal(alert_format_json(&c.a[0], &b), 0);
		assert_string_equal(
			b.data, "{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"protocol\":\"UDP\","
				"\"port\":53,\"prefix\":\"a \\\"quoted\\\" prefix\","
				"\"packets\":1,\"bytes\":28,"
				"\"first_seen\":\"2023-11-14T22:13:20.000000Z\","
				"\"last_seen\":\"2023-11-14T22:13:20.000000Z\"}");
		buf_done(&b);
	}
	preview_free(p);
}

/* An alert for TCP 80 from 10.0.0.1 to 10.0.0.2, one packet. */
static struct alert tcp_alert(int64_t first_ns, int64_t last_ns)
{
	return (struct alert){
		.src = addr_lit("10.0.0.1"),
		.dst = addr_lit("10.0.0.2"),
		.proto = IPPROTO_TCP,
		.dport = 80,
		.packets = 1,
		.bytes = 60,
		.first_seen_ns = first_ns,
		.last_seen_ns = last_ns,
	};
}

/* The prefix is escaped by json_escape_append(): UTF-8 (a resolved name)
 * passes through, a byte that is not UTF-8 becomes U+FFFD, controls are
 * escaped.  The old writer escaped each non-ASCII byte as \u00XX, turning
 * "\xc3\xa9" into two Latin-1 characters. */
static void alert_json_prefix_utf8(void **state)
{
	struct alert a = tcp_alert(NOW_NS, NOW_NS);
	struct buf b;

	(void) state;
	snprintf(a.prefix, sizeof(a.prefix), "caf\xc3\xa9 \xff\tx");
	buf_init(&b, 4096);
	assert_int_equal(alert_format_json(&a, &b), 0);
	assert_non_null(strstr(b.data, ",\"prefix\":\"caf\xc3\xa9 \xef\xbf\xbd\\tx\","));
	buf_done(&b);
}

/* Times through rfc3339_format_ns(): before 1970 the fraction counts up
 * from the second before (the old writer printed "00:00:00.-00001Z"). */
static void alert_json_times(void **state)
{
	struct alert a = tcp_alert(-1500, NOW_NS + 123456789);
	struct buf b;

	(void) state;
	buf_init(&b, 4096);
	assert_int_equal(alert_format_json(&a, &b), 0);
	assert_non_null(strstr(b.data, "\"first_seen\":\"1969-12-31T23:59:59.999998Z\","));
	assert_non_null(strstr(b.data, "\"last_seen\":\"2023-11-14T22:13:20.123456Z\"}"));
	buf_done(&b);
}

static void payloads(void **state)
{
	struct nflog_pkt pkt;
	uint8_t b[80];
	struct addr dst = addr_lit("fd00::2");

	(void) state;
	/* IPv4 non-first fragment: no ports. */
	memcpy(b, v4_udp, sizeof(v4_udp));
	b[6] = 0x00;
	b[7] = 0x10;
	assert_int_equal(nflog_payload_parse(b, sizeof(v4_udp), &pkt), 0);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.dport, 0);
	/* IPv4 header length beyond the copy. */
	memcpy(b, v4_udp, sizeof(v4_udp));
	b[0] = 0x4f;
	assert_int_equal(nflog_payload_parse(b, sizeof(v4_udp), &pkt), -EBADMSG);
	assert_int_equal(nflog_payload_parse(b, 10, &pkt), -EBADMSG);

	/* IPv6, hop-by-hop options then TCP 443. */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[5] = 28;
	b[6] = IPPROTO_HOPOPTS;
	b[23] = 1;
	b[24] = 0xfd;
	b[39] = 2;
	b[40] = IPPROTO_TCP; /* next header */
	b[41] = 0; /* 8 bytes */
	b[48] = 0x04;
	b[49] = 0xd2; /* 1234 */
	b[50] = 0x01;
	b[51] = 0xbb; /* 443 */
	assert_int_equal(nflog_payload_parse(b, 52, &pkt), 0);
	assert_int_equal(pkt.proto, IPPROTO_TCP);
	assert_int_equal(pkt.sport, 1234);
	assert_int_equal(pkt.dport, 443);
	assert_int_equal(pkt.len, 68);
	assert_true(addr_eq(&pkt.dst, &dst));
	/* Truncated after the extension header: addresses, no ports. */
	assert_int_equal(nflog_payload_parse(b, 50, &pkt), 0);
	assert_int_equal(pkt.dport, 0);

	/* IPv6 non-first fragment of UDP: no ports. */
	b[6] = IPPROTO_FRAGMENT;
	b[40] = IPPROTO_UDP;
	b[42] = 0x00;
	b[43] = 0x08; /* offset 1 */
	assert_int_equal(nflog_payload_parse(b, 52, &pkt), 0);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.dport, 0);
	/* First fragment (offset 0): ports are there. */
	b[43] = 0x01; /* M flag only */
	assert_int_equal(nflog_payload_parse(b, 52, &pkt), 0);
	assert_int_equal(pkt.dport, 443);

	b[0] = 0x20;
	assert_int_equal(nflog_payload_parse(b, 52, &pkt), -EPROTONOSUPPORT);
	assert_int_equal(nflog_payload_parse(b, 0, &pkt), -EBADMSG);
}

/*
 * The NFLOG reader reads the IP layer with the capture parser's rules
 * (ip_parse.h); each case below is one where its own copy of them
 * disagreed.  @ip goes through a whole NFLOG message and the alert table.
 */
static struct nflog_pkt feed_payload(struct preview *p, const struct pb *ip, int want)
{
	uint8_t buf[PB_MAX + 256];
	struct nflog_pkt pkt = { .proto = 0 };
	size_t n = build_msg(buf, ip->b, ip->n, "chain");

	assert_int_equal(nflog_msg_parse(buf, n, &pkt), want);
	assert_int_equal(preview_feed(p, buf, n, NOW_NS), want == 0 ? 1 : 0);
	return pkt;
}

/* Mobility, HIP and Shim6 are extension headers (RFC 7045), not the L4
 * protocol: the ports after them are read. */
static void extension_chains_as_capture(void **state)
{
	struct pb l4 = pb_tcp(40000, 443, 0x02 /* SYN */), ext = { .n = 0 };
	struct preview *p = preview_new(8);
	struct collect c = { .n = 0 };
	struct nflog_pkt pkt;
	struct pb ip;

	(void) state;
	assert_non_null(p);
	/* Hop-by-hop -> fragment (first, M) -> Shim6 -> TCP. */
	pb_u8(&ext, IPPROTO_FRAGMENT);
	pb_u8(&ext, 0);
	pb_zero(&ext, 6);
	pb_u8(&ext, 140);
	pb_u8(&ext, 0);
	pb_u16(&ext, 0x0001);
	pb_u32(&ext, 7);
	pb_u8(&ext, IPPROTO_TCP);
	pb_u8(&ext, 0);
	pb_zero(&ext, 6);
	ip = pb_ipv6x("fd00::1", "fd00::2", IPPROTO_HOPOPTS, &ext, &l4);
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.proto, IPPROTO_TCP);
	assert_int_equal(pkt.sport, 40000);
	assert_int_equal(pkt.dport, 443);

	/* Mobility (135) and HIP (139) likewise, before UDP. */
	ext.n = 0;
	pb_u8(&ext, 139);
	pb_u8(&ext, 1);
	pb_zero(&ext, 14);
	pb_u8(&ext, IPPROTO_UDP);
	pb_u8(&ext, 0);
	pb_zero(&ext, 6);
	l4 = pb_udp(5353, 53, 4);
	ip = pb_ipv6x("fd00::1", "fd00::3", 135, &ext, &l4);
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.dport, 53);

	assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
	assert_non_null(find(&c, "fd00::2", IPPROTO_TCP, 443));
	assert_non_null(find(&c, "fd00::3", IPPROTO_UDP, 53));
	assert_int_equal(preview_stats(p)->malformed, 0);
	preview_free(p);
}

/* Bytes after the length the IP header claims are not part of the
 * packet: no ports are read from them. */
static void ports_end_at_ip_length(void **state)
{
	struct pb l4 = pb_udp(12345, 53, 0), ext = { .n = 0 };
	struct preview *p = preview_new(8);
	struct nflog_pkt pkt;
	struct pb ip;

	(void) state;
	assert_non_null(p);
	/* IPv4 total length 20: the header alone; UDP-looking bytes follow. */
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0, 0);
	ip.b[2] = 0;
	ip.b[3] = 20;
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.len, 20);
	assert_int_equal(pkt.sport, 0);
	assert_int_equal(pkt.dport, 0);

	/* IPv6 payload length 8: only the hop-by-hop header is inside. */
	pb_u8(&ext, IPPROTO_TCP);
	pb_u8(&ext, 0);
	pb_zero(&ext, 6);
	l4 = pb_tcp(1234, 80, 0x02 /* SYN */);
	ip = pb_ipv6x("fd00::1", "fd00::2", IPPROTO_HOPOPTS, &ext, &l4);
	ip.b[4] = 0;
	ip.b[5] = 8;
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.proto, IPPROTO_TCP);
	assert_int_equal(pkt.len, 48);
	assert_int_equal(pkt.dport, 0);

	/* An extension header running past that length: the flow is known,
	 * its ports are not. */
	ip.b[5] = 4;
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.dport, 0);
	preview_free(p);
}

/* An IPv4 total length below the header length contradicts itself:
 * malformed, as the capture parser says, not an alert. */
static void total_length_below_header(void **state)
{
	struct pb l4 = pb_udp(12345, 53, 0);
	struct preview *p = preview_new(8);
	struct pb ip;

	(void) state;
	assert_non_null(p);
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0, 0);
	ip.b[3] = 16;
	(void) feed_payload(p, &ip, -EBADMSG);
	/* With options: 24 bytes of header, a total length of 20. */
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0, 4);
	ip.b[3] = 20;
	(void) feed_payload(p, &ip, -EBADMSG);
	assert_int_equal(preview_stats(p)->malformed, 2);
	assert_int_equal(preview_alert_count(p), 0);
	preview_free(p);
}

/* A length field of 0 (a TSO or BIG TCP packet logged on output, an IPv6
 * jumbogram) counts the bytes copied, not 0 or a bare header. */
static void length_zero_counts_the_copy(void **state)
{
	struct pb l4 = pb_udp(12345, 53, 12);
	struct preview *p = preview_new(8);
	struct nflog_pkt pkt;
	struct pb ip;

	(void) state;
	assert_non_null(p);
	ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &l4, 0, 0);
	ip.b[2] = ip.b[3] = 0;
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.len, 40);
	assert_int_equal(pkt.dport, 53);
	ip = pb_ipv6("fd00::1", "fd00::2", IPPROTO_UDP, &l4);
	ip.b[4] = ip.b[5] = 0;
	pkt = feed_payload(p, &ip, 0);
	assert_int_equal(pkt.len, 60);
	assert_int_equal(pkt.dport, 53);
	preview_free(p);
}

/* A message whose length is not a multiple of 4 and whose buffer ends
 * there: libmnl would walk (and hand over) attribute bytes up to the
 * aligned length, past the buffer.  Refused instead. */
static void unpadded_last_message(void **state)
{
	uint8_t buf[256];
	struct nflog_pkt pkt;
	struct nlmsghdr *nlh;
	uint8_t *cut;
	size_t n;

	(void) state;
	n = build_msg(buf, v4_udp, sizeof(v4_udp), NULL);
	/* The message ends 2 bytes into its last attribute (the payload),
	 * and so does the buffer. */
	nlh = (struct nlmsghdr *) buf;
	nlh->nlmsg_len = (uint32_t) (n - 2);
	cut = malloc(n - 2); /* exact size, for ASan */
	assert_non_null(cut);
	memcpy(cut, buf, n - 2);
	assert_int_equal(nflog_msg_parse(cut, n - 2, &pkt), -EBADMSG);
	free(cut);
}

/* Resolves only the IPv4 packets: the deciding address becomes the name. */
static int resolve_v4_cb(const char *prefix, const struct addr *src, const struct addr *dst,
			 char *out, size_t len, void *userdata)
{
	char a[ADDR_STR_MAX];

	(*(int *) userdata)++;
	(void) src;
	if (dst->family != AF_INET || strncmp(prefix, "bh-test", 7) != 0)
		return -ENOENT;
	(void) snprintf(out, len, "resolved %s", addr_format(dst, a, sizeof(a)));
	return 0;
}

/* A resolver rewrites each logged packet's prefix before aggregation;
 * what it cannot resolve keeps the logged prefix and is counted. */
static void resolver_names_alerts(void **state)
{
	size_t len;
	char *data = test_read_file(recorded, &len);
	struct preview *p = preview_new(16);
	struct collect c = { .n = 0 };
	const struct alert *a;
	int calls = 0;

	(void) state;
	assert_non_null(p);
	preview_set_resolver(p, resolve_v4_cb, &calls);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(calls, 4);
	assert_int_equal(preview_stats(p)->unresolved, 2);
	assert_int_equal(preview_alert_foreach(p, collect_cb, &c), 0);
	a = find(&c, "10.77.0.2", IPPROTO_TCP, 80);
	assert_non_null(a);
	assert_string_equal(a->prefix, "resolved 10.77.0.2");
	a = find(&c, "fd77::2", IPPROTO_TCP, 80);
	assert_non_null(a);
	assert_string_equal(a->prefix, "bh-test ingress x/b v6");
	/* Resolved packets of the same flow still aggregate. */
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_alert_count(p), 4);
	preview_free(p);
	free(data);
}

struct sunk {
	size_t n;
	struct nflog_pkt pkt[8];
	int64_t ts[8];
};

static void sink_cb(const struct nflog_pkt *pkt, int64_t ts_ns, void *userdata)
{
	struct sunk *k = userdata;

	if (k->n < 8) {
		k->pkt[k->n] = *pkt;
		k->ts[k->n] = ts_ns;
	}
	k->n++;
}

/* With a sink, every parsed packet goes to it (the resolver first), with
 * the kernel's timestamp, and the table stays empty. */
static void sink_takes_every_packet(void **state)
{
	size_t len;
	char *data = test_read_file(recorded, &len);
	struct preview *p = preview_new(16);
	struct sunk k = { .n = 0 };
	int calls = 0;
	size_t v4 = 0;

	(void) state;
	assert_non_null(p);
	preview_set_resolver(p, resolve_v4_cb, &calls);
	preview_set_sink(p, sink_cb, &k);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(k.n, 4);
	assert_int_equal(calls, 4);
	assert_int_equal(preview_alert_count(p), 0);
	assert_int_equal(preview_stats(p)->messages, 4);
	for (size_t i = 0; i < 4; i++) {
		/* NFULA_TIMESTAMP, not the receive time. */
		assert_true(k.ts[i] > (int64_t) 1795000000 * 1000000000);
		assert_int_equal(k.ts[i], k.pkt[i].ts_ns);
		if (k.pkt[i].dst.family == AF_INET) {
			v4++;
			assert_string_equal(k.pkt[i].prefix, "resolved 10.77.0.2");
		}
	}
	assert_int_equal(v4, 2);
	/* Back to the table. */
	preview_set_sink(p, NULL, NULL);
	assert_int_equal(preview_feed(p, data, len, NOW_NS), 4);
	assert_int_equal(preview_alert_count(p), 4);
	assert_int_equal(k.n, 4);
	preview_free(p);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recorded_datagram),
		cmocka_unit_test(resolver_names_alerts),
		cmocka_unit_test(sink_takes_every_packet),
		cmocka_unit_test(full_table_evicts_least_recently_seen),
		cmocka_unit_test(truncated_datagrams_never_overread),
		cmocka_unit_test(hand_built_messages),
		cmocka_unit_test(payloads),
		cmocka_unit_test(extension_chains_as_capture),
		cmocka_unit_test(ports_end_at_ip_length),
		cmocka_unit_test(total_length_below_header),
		cmocka_unit_test(length_zero_counts_the_copy),
		cmocka_unit_test(unpadded_last_message),
		cmocka_unit_test(alert_json_prefix_utf8),
		cmocka_unit_test(alert_json_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
