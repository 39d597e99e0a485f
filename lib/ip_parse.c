/*
 * The IPv6 extension-header walk of ip_parse_v6() (ip_parse.h): hop-by-hop,
 * routing, destination options, Mobility, HIP, Shim6 and AH are skipped by
 * their length fields, the fragment header tells a first fragment from a
 * later one.  Every read is checked against @end, which the caller clipped
 * to both the capture and the packet's own length.
 */
#include "ip_parse.h"

enum ip_result ip_parse_v6_chain(const uint8_t *p, size_t end, struct ip_info *ret)
{
	/* A header cut at the packet's own end is the packet's fault. */
	enum ip_result cut = ret->flags & IP_F_CUT_BY_LEN ? IP_MALFORMED : IP_TRUNCATED;
	size_t off = IP_V6_HLEN;
	uint8_t nh = ret->proto;

	for (int i = 0; ip_v6_is_exthdr(nh); i++) {
		size_t len;

		if (i >= IP_EXTHDR_MAX)
			return IP_MALFORMED;
		if (nh == IPPROTO_FRAGMENT) {
			if (end < off + 8)
				return cut;
			nh = p[off];
			if (ip_rd16(p + off + 2) & 0xfff8) {
				ret->proto = nh;
				return IP_FRAGMENT;
			}
			if (p[off + 3] & 1)
				ret->flags |= IP_F_FIRST_FRAG;
			len = 8;
		} else {
			if (end < off + 2)
				return cut;
			if (nh == IPPROTO_AH)
				len = ((size_t) p[off + 1] + 2) * 4;
			else
				len = ((size_t) p[off + 1] + 1) * 8;
			if (end < off + len)
				return cut;
			nh = p[off];
		}
		off += len;
		ret->proto = nh;
	}
	ret->l4_off = (uint16_t) off;
	ret->l4_len = end - off;
	return IP_OK;
}
