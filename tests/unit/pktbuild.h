/*
 * Crafting packets for the learner's unit tests: L4 headers, IPv4/IPv6
 * (with extension headers and fragments), and every link-layer header
 * pkt_parse() knows.  Header-only (static functions) so each test that
 * needs it includes it; no checksums (the parser never looks at them).
 */
#ifndef BH_TEST_PKTBUILD_H
#define BH_TEST_PKTBUILD_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PB_MAX 2048

struct pb {
	uint8_t b[PB_MAX];
	size_t n;
};

static inline void pb_put(struct pb *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static inline void pb_u8(struct pb *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static inline void pb_u16(struct pb *p, uint16_t v)
{
	pb_u8(p, (uint8_t) (v >> 8));
	pb_u8(p, (uint8_t) v);
}

static inline void pb_u32(struct pb *p, uint32_t v)
{
	pb_u16(p, (uint16_t) (v >> 16));
	pb_u16(p, (uint16_t) v);
}

static inline void pb_zero(struct pb *p, size_t n)
{
	memset(p->b + p->n, 0, n);
	p->n += n;
}

/* L4 headers into @l4: TCP 20 bytes, UDP 8, SCTP 12 + a 4-byte chunk. */
static inline struct pb pb_tcp(uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pb p = { .n = 0 };

	pb_u16(&p, sport);
	pb_u16(&p, dport);
	pb_u32(&p, 1000); /* seq */
	pb_u32(&p, 0); /* ack */
	pb_u8(&p, 5 << 4);
	pb_u8(&p, flags);
	pb_u16(&p, 65535);
	pb_u32(&p, 0);
	return p;
}

static inline struct pb pb_udp(uint16_t sport, uint16_t dport, size_t payload)
{
	struct pb p = { .n = 0 };

	pb_u16(&p, sport);
	pb_u16(&p, dport);
	pb_u16(&p, (uint16_t) (8 + payload));
	pb_u16(&p, 0);
	pb_zero(&p, payload);
	return p;
}

static inline struct pb pb_sctp(uint16_t sport, uint16_t dport, uint8_t chunk)
{
	struct pb p = { .n = 0 };

	pb_u16(&p, sport);
	pb_u16(&p, dport);
	pb_u32(&p, 0); /* verification tag */
	pb_u32(&p, 0); /* checksum */
	pb_u8(&p, chunk);
	pb_u8(&p, 0);
	pb_u16(&p, 4);
	return p;
}

/* IPv4 header (20 bytes, or @opts extra bytes of options) + @l4. */
static inline struct pb pb_ipv4(const char *src, const char *dst, uint8_t proto,
				const struct pb *l4, uint16_t frag, size_t opts)
{
	struct pb p = { .n = 0 };
	uint8_t a[4];

	pb_u8(&p, (uint8_t) (0x40 | (5 + opts / 4)));
	pb_u8(&p, 0);
	pb_u16(&p, (uint16_t) (20 + opts + l4->n));
	pb_u16(&p, 1);
	pb_u16(&p, frag);
	pb_u8(&p, 64);
	pb_u8(&p, proto);
	pb_u16(&p, 0);
	inet_pton(AF_INET, src, a);
	pb_put(&p, a, 4);
	inet_pton(AF_INET, dst, a);
	pb_put(&p, a, 4);
	memset(p.b + p.n, 1, opts); /* NOPs */
	p.n += opts;
	pb_put(&p, l4->b, l4->n);
	return p;
}

/* IPv6 header + @ext (already chained: @first_nh names its first header,
 * the last one names @proto) + @l4. */
static inline struct pb pb_ipv6x(const char *src, const char *dst, uint8_t first_nh,
				 const struct pb *ext, const struct pb *l4)
{
	struct pb p = { .n = 0 };
	uint8_t a[16];

	pb_u32(&p, 0x60000000);
	pb_u16(&p, (uint16_t) (ext->n + l4->n));
	pb_u8(&p, first_nh);
	pb_u8(&p, 64);
	inet_pton(AF_INET6, src, a);
	pb_put(&p, a, 16);
	inet_pton(AF_INET6, dst, a);
	pb_put(&p, a, 16);
	pb_put(&p, ext->b, ext->n);
	pb_put(&p, l4->b, l4->n);
	return p;
}

static inline struct pb pb_ipv6(const char *src, const char *dst, uint8_t proto,
				const struct pb *l4)
{
	struct pb none = { .n = 0 };

	return pb_ipv6x(src, dst, proto, &none, l4);
}

/* Link layers around an IP packet @ip of version @v (4 or 6). */
static inline struct pb pb_eth(const struct pb *ip, int v, int vlans)
{
	struct pb p = { .n = 0 };

	pb_zero(&p, 12); /* MACs */
	for (int i = 0; i < vlans; i++) {
		pb_u16(&p, i == 0 && vlans > 1 ? 0x88a8 : 0x8100);
		pb_u16(&p, (uint16_t) (100 + i));
	}
	pb_u16(&p, v == 4 ? 0x0800 : 0x86dd);
	pb_put(&p, ip->b, ip->n);
	return p;
}

static inline struct pb pb_sll(const struct pb *ip, int v, uint16_t pkttype)
{
	struct pb p = { .n = 0 };

	pb_u16(&p, pkttype);
	pb_u16(&p, 1); /* ARPHRD_ETHER */
	pb_u16(&p, 6);
	pb_zero(&p, 8);
	pb_u16(&p, v == 4 ? 0x0800 : 0x86dd);
	pb_put(&p, ip->b, ip->n);
	return p;
}

static inline struct pb pb_sll2(const struct pb *ip, int v, uint8_t pkttype)
{
	struct pb p = { .n = 0 };

	pb_u16(&p, v == 4 ? 0x0800 : 0x86dd);
	pb_u16(&p, 0);
	pb_u32(&p, 7); /* ifindex */
	pb_u16(&p, 1);
	pb_u8(&p, pkttype);
	pb_u8(&p, 6);
	pb_zero(&p, 8);
	pb_put(&p, ip->b, ip->n);
	return p;
}

#endif
