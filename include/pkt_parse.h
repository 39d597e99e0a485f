/*
 * The packet parser: a link-layer header type (pcap DLT_* value) and the
 * captured bytes of one packet give the addresses, L4 protocol, ports and
 * TCP flags or SCTP chunk needed to learn a flow.  Pure: no allocation, no
 * state, never reads past the captured length.
 */
#ifndef BH_PKT_PARSE_H
#define BH_PKT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Link types, by their pcap DLT_* values (pcap/dlt.h). */
#define PKT_DLT_NULL 0 /* BSD loopback: 4-byte AF in host order */
#define PKT_DLT_EN10MB 1 /* Ethernet, with 802.1Q / 802.1ad tags */
#define PKT_DLT_RAW 12 /* raw IPv4/IPv6 (Linux and most systems) */
#define PKT_DLT_RAW_BSD 14 /* raw IP on OpenBSD */
#define PKT_DLT_LINKTYPE_RAW 101 /* LINKTYPE_RAW in files (pcap maps it to 12) */
#define PKT_DLT_LOOP 108 /* OpenBSD loopback: 4-byte AF in network order */
#define PKT_DLT_LINUX_SLL 113 /* Linux cooked capture v1 */
#define PKT_DLT_IPV4 228
#define PKT_DLT_IPV6 229
#define PKT_DLT_LINUX_SLL2 276 /* Linux cooked capture v2 */

/* Most 802.1Q/802.1ad tags followed before giving up (QinQ is 2).  The IP
 * layer's limits are ip_parse.h's. */
#define PKT_VLAN_MAX 4

enum pkt_result {
	PKT_OK, /* *ret filled: addresses, protocol, ports and flags */
	PKT_NOT_IP, /* ARP, LLDP, an unknown link type, ... */
	PKT_OTHER_L4, /* IP, but not TCP, UDP or SCTP (ICMP, ESP, ...) */
	PKT_FRAGMENT, /* a non-first fragment: no L4 header to read */
	PKT_TRUNCATED, /* the capture ended before the needed headers */
	PKT_MALFORMED, /* a header contradicts itself */
	_PKT_RESULT_MAX,
};

/* TCP flags (byte 13 of the header). */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_ACK 0x10

/* SCTP chunk types of the first chunk that matter to learning. */
#define PKT_SCTP_INIT 1
#define PKT_SCTP_INIT_ACK 2

enum pkt_flags {
	PKT_F_FIRST_FRAG = 1u << 0, /* first fragment of a fragmented datagram */
	PKT_F_OUTGOING = 1u << 1, /* cooked capture: sent by this host */
	PKT_F_VLAN = 1u << 2, /* carried at least one 802.1Q/ad tag */
};

struct pkt_info {
	struct addr src, dst;
	uint16_t sport, dport; /* host order */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP */
	uint8_t tcp_flags; /* TCP only */
	uint8_t sctp_chunk; /* SCTP only: type of the first chunk */
	uint8_t flags; /* enum pkt_flags */
	uint16_t vlan; /* outermost VLAN id, when PKT_F_VLAN */
	uint32_t ip_len; /* length of the IP packet on the wire (header) */
};

/*
 * Parses one packet of link type @dlt from @data, of which @caplen bytes
 * were captured.  Returns PKT_OK with @ret filled, or another enum
 * pkt_result saying why nothing can be learned from it (then @ret is
 * unspecified).  Reads only data[0 .. caplen-1].
 */
enum pkt_result pkt_parse(int dlt, const uint8_t *data, size_t caplen, struct pkt_info *ret);

/* "ok", "not-ip", ... for counters and debug output. */
const char *pkt_result_name(enum pkt_result r);

/* True when @dlt is a link type pkt_parse() understands. */
int pkt_dlt_supported(int dlt);

#endif
