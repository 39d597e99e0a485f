/*
 * The IP layer of a packet: an IPv4 or IPv6 header (options, extension
 * headers, fragments) in a buffer that may be cut short, and where its L4
 * header starts.  The one copy of these rules: the capture parser
 * (pkt_parse.h) puts the link layer under it and reads the L4 fields it
 * learns from; the NFLOG reader (preview.h) reads the ports.  Pure: no
 * allocation, no state, never reads past the captured length.
 *
 * The fixed headers are parsed inline: the capture path runs this for
 * every packet, and as calls into lib/ they made pkt_parse() a quarter
 * more instructions a packet (callgrind over bench/gen_pcap.c's mix: 168
 * against 134).  The IPv6 extension-header walk, which few packets need,
 * is out of line in lib/ip_parse.c.
 */
#ifndef BH_IP_PARSE_H
#define BH_IP_PARSE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Most IPv6 extension headers followed before calling a chain hostile. */
#define IP_EXTHDR_MAX 8

enum ip_result {
	IP_OK, /* the L4 header of ret->proto starts at ret->l4_off */
	IP_NOT_IP, /* version neither 4 nor 6 (ip_parse() only) */
	IP_FRAGMENT, /* a non-first fragment: no L4 header to read */
	IP_TRUNCATED, /* the capture ended inside the IP headers */
	IP_MALFORMED, /* a header contradicts itself or the packet's length */
	_IP_RESULT_MAX,
};

enum ip_flags {
	/* The fixed header is valid: version, len and the addresses
	 * (ip_info_addrs()) can be used, whatever the result. */
	IP_F_HEADER = 1u << 0,
	IP_F_FIRST_FRAG = 1u << 1, /* first fragment of a fragmented datagram */
	/* The packet's own length, not the capture, ends the bytes parsed:
	 * a header short of it is malformed, not truncated. */
	IP_F_CUT_BY_LEN = 1u << 2,
};

struct ip_info {
	uint8_t flags; /* enum ip_flags; always set */
	uint8_t version; /* 4 or 6, with IP_F_HEADER */
	/*
	 * IP_OK: the L4 protocol.  IP_FRAGMENT: the protocol of the
	 * fragmented datagram.  IP_TRUNCATED or IP_MALFORMED with IP_F_HEADER:
	 * the next-header value where the walk stopped.
	 */
	uint8_t proto;
	uint16_t l4_off; /* IP_OK: offset of the L4 header from the IP header */
	/* With IP_F_HEADER: the length of the IP packet on the wire, as its
	 * header claims; the captured length when the header says 0 (a TSO
	 * or BIG TCP packet captured on output, an IPv6 jumbogram). */
	uint32_t len;
	/* IP_OK: bytes from l4_off that are both captured and inside the
	 * packet (0 when none are). */
	size_t l4_len;
};

#define IP_V4_HLEN 20
#define IP_V6_HLEN 40

static inline uint16_t ip_rd16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

/* True for the IPv6 next-header values that are extension headers (RFC
 * 7045's list: Mobility 135, HIP 139 and Shim6 140 have no IPPROTO_ name). */
static inline bool ip_v6_is_exthdr(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_AH:
	case IPPROTO_DSTOPTS:
	case 135:
	case 139:
	case 140:
		return true;
	default:
		return false;
	}
}

/*
 * The extension-header chain of the IPv6 packet at @p, from offset 40 up
 * to @end (what is both captured and inside the packet); ret->proto holds
 * the fixed header's next header, ret->flags its IP_F_CUT_BY_LEN.  Sets
 * the rest of @ret and returns as ip_parse_v6() does.  Out of line (lib/):
 * only for ip_parse_v6().
 */
enum ip_result ip_parse_v6_chain(const uint8_t *p, size_t end, struct ip_info *ret);

/*
 * Parses the IPv4 header at @p, of which @caplen bytes were captured, where
 * the link layer promised IPv4 (an EtherType, an address family): another
 * version nibble is IP_MALFORMED.  Every field read is inside
 * p[0 .. caplen-1], and the L4 range is clipped to the length the header
 * claims, so neither a short capture nor a lying header makes anyone read
 * past the packet.  A header cut by the capture is IP_TRUNCATED; one cut
 * by the packet's own length, a total length below the header length or
 * a bad IHL is IP_MALFORMED.  ret->flags is always written, the other
 * fields where struct ip_info says they mean something.
 */
static inline enum ip_result ip_parse_v4(const uint8_t *p, size_t caplen, struct ip_info *ret)
{
	size_t hlen, tot;
	uint16_t frag;
	uint8_t flags = IP_F_HEADER;

	ret->flags = 0;
	if (caplen < IP_V4_HLEN)
		return IP_TRUNCATED;
	if ((p[0] >> 4) != 4)
		return IP_MALFORMED;
	hlen = (size_t) (p[0] & 0x0f) * 4;
	tot = ip_rd16(p + 2);
	if (hlen < IP_V4_HLEN)
		return IP_MALFORMED;
	if (tot == 0) {
		/* What Linux shows for TSO (and BIG TCP) super-packets captured
		 * on output: the length is unknown, so the capture is what
		 * ends the bytes we have. */
		tot = caplen;
	} else {
		if (tot < hlen)
			return IP_MALFORMED;
		if (tot <= caplen)
			flags |= IP_F_CUT_BY_LEN;
	}
	if (caplen < hlen)
		return IP_TRUNCATED;

	ret->version = 4;
	ret->len = (uint32_t) tot;
	ret->proto = p[9];
	frag = ip_rd16(p + 6);
	if (frag & 0x1fff) {
		ret->flags = flags;
		return IP_FRAGMENT;
	}
	if (frag & 0x2000)
		flags |= IP_F_FIRST_FRAG;
	ret->flags = flags;
	ret->l4_off = (uint16_t) hlen;
	ret->l4_len = (tot < caplen ? tot : caplen) - hlen;
	return IP_OK;
}

/* The same for IPv6, through its extension headers; more than
 * IP_EXTHDR_MAX of them is IP_MALFORMED. */
static inline enum ip_result ip_parse_v6(const uint8_t *p, size_t caplen, struct ip_info *ret)
{
	size_t plen, end;

	ret->flags = 0;
	if (caplen < IP_V6_HLEN)
		return IP_TRUNCATED;
	if ((p[0] >> 4) != 6)
		return IP_MALFORMED;
	plen = ip_rd16(p + 4);
	ret->flags = IP_F_HEADER;
	if (plen == 0) {
		/* A jumbogram (or a TSO capture): the length is unknown. */
		end = caplen;
	} else if (plen + IP_V6_HLEN <= caplen) {
		end = plen + IP_V6_HLEN;
		ret->flags |= IP_F_CUT_BY_LEN;
	} else {
		end = caplen;
	}
	ret->version = 6;
	ret->len = (uint32_t) (plen ? plen + IP_V6_HLEN : caplen);
	ret->proto = p[6];
	if (ip_v6_is_exthdr(ret->proto))
		return ip_parse_v6_chain(p, end, ret);
	ret->l4_off = IP_V6_HLEN;
	ret->l4_len = end - IP_V6_HLEN;
	return IP_OK;
}

/* The same by the version nibble; IP_NOT_IP when it is neither 4 nor 6. */
static inline enum ip_result ip_parse(const uint8_t *p, size_t caplen, struct ip_info *ret)
{
	ret->flags = 0;
	if (caplen < 1)
		return IP_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return ip_parse_v4(p, caplen, ret);
	case 6:
		return ip_parse_v6(p, caplen, ret);
	default:
		return IP_NOT_IP;
	}
}

/* The source and destination of the header at @p that @ip (IP_F_HEADER
 * set) describes. */
static inline void ip_info_addrs(const struct ip_info *ip, const uint8_t *p, struct addr *src,
				 struct addr *dst)
{
	if (ip->version == 4) {
		addr_from_v4(src, p + 12);
		addr_from_v4(dst, p + 16);
	} else {
		addr_from_v6(src, p + 8);
		addr_from_v6(dst, p + 24);
	}
}

#endif
