/* Crafting ctnetlink conntrack messages (as the kernel sends them) for the
 * learner's tests.  Header-only; needs libmnl. */
#ifndef BH_TEST_CTBUILD_H
#define BH_TEST_CTBUILD_H

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <string.h>

static inline void ctb_tuple(struct nlmsghdr *nlh, int type, const char *src, const char *dst,
			     uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, (uint16_t) type), *ip, *pr;
	uint8_t a[16];

	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (strchr(src, ':')) {
		inet_pton(AF_INET6, src, a);
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, a);
		inet_pton(AF_INET6, dst, a);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, a);
	} else {
		inet_pton(AF_INET, src, a);
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, a);
		inet_pton(AF_INET, dst, a);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, a);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, proto);
	if (sport || dport) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	}
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, t);
}

/* One conntrack message in @buf (>= 512 bytes, 4-aligned); returns its
 * length.  @rs/@rsp: the reply source (the real server after DNAT). */
static inline size_t ctb_msg(void *buf, int msg_type, uint16_t flags, const char *os,
			     const char *od, uint16_t osp, uint16_t odp, const char *rs,
			     uint16_t rsp, uint8_t proto, uint32_t id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_CTNETLINK << 8) | msg_type);
	nlh->nlmsg_flags = flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = strchr(os, ':') ? AF_INET6 : AF_INET;
	nfg->version = NFNETLINK_V0;
	ctb_tuple(nlh, CTA_TUPLE_ORIG, os, od, proto, osp, odp);
	ctb_tuple(nlh, CTA_TUPLE_REPLY, rs, os, proto, rsp, osp);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(id));
	return nlh->nlmsg_len;
}

#endif
