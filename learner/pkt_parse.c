/*
 * Link layer -> IPv4/IPv6 (ip_parse.h: options, extension headers,
 * fragments) -> TCP/UDP/SCTP.
 *
 * Every read goes through a length check against what is left of the
 * captured bytes, and IP payloads are further clipped to the length their
 * header claims, so neither a short capture nor a lying header can make us
 * read past the buffer.  A header cut by the capture is PKT_TRUNCATED; one
 * cut by the packet's own length field (a tiny first fragment, a total
 * length below the header length) is PKT_MALFORMED.
 */
#include <netinet/in.h>
#include <string.h>

#include "ip_parse.h"
#include "pkt_parse.h"
#include "proto.h"

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define SLL_OUTGOING 4 /* PACKET_OUTGOING in the pkttype field */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static bool is_vlan_tpid(uint16_t type)
{
	/* 802.1Q, 802.1ad, and the pre-standard QinQ TPIDs still seen. */
	return type == 0x8100 || type == 0x88a8 || type == 0x9100 || type == 0x9200;
}

/*
 * L4 header at @p, of which @avail bytes are both captured and inside the
 * IP packet; @cut_by_ip says whether the IP length (not the capture) is
 * what limits @avail.
 */
static enum pkt_result parse_l4(uint8_t proto, const uint8_t *p, size_t avail, bool cut_by_ip,
				struct pkt_info *ret)
{
	size_t need;

	switch (proto) {
	case IPPROTO_TCP:
		need = 14; /* through the flags byte */
		break;
	case IPPROTO_UDP:
		need = 8;
		break;
	case IPPROTO_SCTP:
		need = 13; /* common header and the first chunk's type */
		break;
	default:
		return PKT_OTHER_L4;
	}
	if (avail < need)
		return cut_by_ip ? PKT_MALFORMED : PKT_TRUNCATED;

	ret->proto = proto;
	ret->sport = rd16(p);
	ret->dport = rd16(p + 2);
	ret->tcp_flags = 0;
	ret->sctp_chunk = 0;
	switch (proto) {
	case IPPROTO_TCP:
		if ((p[12] >> 4) < 5)
			return PKT_MALFORMED;
		ret->tcp_flags = p[13];
		break;
	case IPPROTO_UDP:
		if (rd16(p + 4) < 8)
			return PKT_MALFORMED;
		break;
	case IPPROTO_SCTP:
		ret->sctp_chunk = p[12];
		break;
	}
	if (ret->sport == 0 || ret->dport == 0)
		return PKT_MALFORMED;
	return PKT_OK;
}

/* The IP layer's verdicts, in the packet parser's terms. */
static const enum pkt_result from_ip[_IP_RESULT_MAX] = {
	[IP_OK] = PKT_OK,
	[IP_NOT_IP] = PKT_NOT_IP,
	[IP_FRAGMENT] = PKT_FRAGMENT,
	[IP_TRUNCATED] = PKT_TRUNCATED,
	[IP_MALFORMED] = PKT_MALFORMED,
};

/*
 * The IP header at @p (ip_parse.h), of IP @version when the link layer
 * says which (0 when it does not), then its L4 header.
 */
static enum pkt_result parse_l3(int version, const uint8_t *p, size_t caplen, struct pkt_info *ret)
{
	struct ip_info ip;
	enum ip_result r;

	switch (version) {
	case 4:
		r = ip_parse_v4(p, caplen, &ip);
		break;
	case 6:
		r = ip_parse_v6(p, caplen, &ip);
		break;
	default:
		r = ip_parse(p, caplen, &ip);
		break;
	}
	if (r != IP_OK)
		return from_ip[r];
	ip_info_addrs(&ip, p, &ret->src, &ret->dst);
	ret->ip_len = ip.len;
	if (ip.flags & IP_F_FIRST_FRAG)
		ret->flags |= PKT_F_FIRST_FRAG;
	return parse_l4(ip.proto, p + ip.l4_off, ip.l4_len, ip.flags & IP_F_CUT_BY_LEN, ret);
}

/* @type is the EtherType read at @off - 2; VLAN tags follow from @off. */
static enum pkt_result parse_ethertype(uint16_t type, const uint8_t *p, size_t caplen, size_t off,
				       struct pkt_info *ret)
{
	for (int tags = 0; is_vlan_tpid(type); tags++) {
		if (tags >= PKT_VLAN_MAX)
			return PKT_MALFORMED;
		if (caplen < off + 4)
			return PKT_TRUNCATED;
		if (!(ret->flags & PKT_F_VLAN)) {
			ret->flags |= PKT_F_VLAN;
			ret->vlan = rd16(p + off) & 0x0fff;
		}
		type = rd16(p + off + 2);
		off += 4;
	}
	switch (type) {
	case ETHERTYPE_IPV4:
		return parse_l3(4, p + off, caplen - off, ret);
	case ETHERTYPE_IPV6:
		return parse_l3(6, p + off, caplen - off, ret);
	default:
		return PKT_NOT_IP;
	}
}

static enum pkt_result parse_af(uint32_t af, const uint8_t *p, size_t caplen, struct pkt_info *ret)
{
	switch (af) {
	case 2: /* AF_INET everywhere */
		return parse_l3(4, p, caplen, ret);
	case 10: /* AF_INET6: Linux */
	case 24: /* NetBSD, OpenBSD */
	case 28: /* FreeBSD */
	case 30: /* macOS */
		return parse_l3(6, p, caplen, ret);
	default:
		return PKT_NOT_IP;
	}
}

enum pkt_result pkt_parse(int dlt, const uint8_t *data, size_t caplen, struct pkt_info *ret)
{
	uint32_t af;

	memset(ret, 0, sizeof(*ret));
	if (!data)
		return PKT_TRUNCATED;

	switch (dlt) {
	case PKT_DLT_EN10MB:
		if (caplen < ETH_HLEN)
			return PKT_TRUNCATED;
		return parse_ethertype(rd16(data + 12), data, caplen, ETH_HLEN, ret);
	case PKT_DLT_LINUX_SLL:
		if (caplen < SLL_HLEN)
			return PKT_TRUNCATED;
		if (rd16(data) == SLL_OUTGOING)
			ret->flags |= PKT_F_OUTGOING;
		return parse_ethertype(rd16(data + 14), data, caplen, SLL_HLEN, ret);
	case PKT_DLT_LINUX_SLL2:
		if (caplen < SLL2_HLEN)
			return PKT_TRUNCATED;
		if (data[10] == SLL_OUTGOING)
			ret->flags |= PKT_F_OUTGOING;
		return parse_ethertype(rd16(data), data, caplen, SLL2_HLEN, ret);
	case PKT_DLT_RAW:
	case PKT_DLT_RAW_BSD:
	case PKT_DLT_LINKTYPE_RAW:
		return parse_l3(0, data, caplen, ret);
	case PKT_DLT_IPV4:
		return parse_l3(4, data, caplen, ret);
	case PKT_DLT_IPV6:
		return parse_l3(6, data, caplen, ret);
	case PKT_DLT_NULL:
		if (caplen < 4)
			return PKT_TRUNCATED;
		/* Host order of the machine that wrote the file, which libpcap
		 * does not swap: an AF value never exceeds 16 bits. */
		memcpy(&af, data, 4);
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		return parse_af(af, data + 4, caplen - 4, ret);
	case PKT_DLT_LOOP:
		if (caplen < 4)
			return PKT_TRUNCATED;
		return parse_af(rd32(data), data + 4, caplen - 4, ret);
	default:
		return PKT_NOT_IP;
	}
}

int pkt_dlt_supported(int dlt)
{
	switch (dlt) {
	case PKT_DLT_NULL:
	case PKT_DLT_EN10MB:
	case PKT_DLT_RAW:
	case PKT_DLT_RAW_BSD:
	case PKT_DLT_LINKTYPE_RAW:
	case PKT_DLT_LOOP:
	case PKT_DLT_LINUX_SLL:
	case PKT_DLT_IPV4:
	case PKT_DLT_IPV6:
	case PKT_DLT_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

const char *pkt_result_name(enum pkt_result r)
{
	static const char *const names[_PKT_RESULT_MAX] = {
		[PKT_OK] = "ok",
		[PKT_NOT_IP] = "not-ip",
		[PKT_OTHER_L4] = "other-l4",
		[PKT_FRAGMENT] = "fragment",
		[PKT_TRUNCATED] = "truncated",
		[PKT_MALFORMED] = "malformed",
	};

	return (unsigned) r < _PKT_RESULT_MAX ? names[r] : NULL;
}
