/*
 * `table bridge bulkhead`: on a bridged node without br_netfilter, frames
 * between two pods of one bridge never reach the inet hooks.  Its one
 * chain hands them to the node's IP stack instead: destination MAC set to
 * the bridge's own (a local FDB entry, so the bridge delivers the frame
 * up) and packet type host (else IP drops it as not for us).  The node
 * then routes the packet back out of the bridge to the destination pod,
 * through the forward hook: conntrack, the policy chains, preview's log,
 * exactly as on a routed node.  Only IPv4/IPv6 unicast to the pod
 * subnets of the bridge is diverted (pkttype other: not to the bridge,
 * not broadcast or multicast), never neighbour discovery, which must keep
 * its hop limit of 255 (RFC 4861 7.1.1) and is not policy's business.
 * Why not filter in the bridge family itself: `ct state` there needs
 * nf_conntrack_bridge (CONFIG_NF_CONNTRACK_BRIDGE), which kernels do not
 * always have (the CI kernel does not), and without it replies would be
 * judged as new connections.  The table does not depend on the pods, so
 * incremental updates never touch it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers */
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "buf.h"
#include "hash.h"
#include "ruleset_int.h"

#define BRIDGE_CHAIN "prerouting"
/* NF_BR_PRI_FILTER_BRIDGED: nft's "priority filter" in the bridge family. */
#define BRIDGE_PRIO (-200)
#define ND_TYPE_LO 133 /* router solicitation ... */
#define ND_TYPE_HI 137 /* ... redirect */

static bool has_v6(const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n_bridges; i++)
		for (size_t k = 0; k < rs->bridges[i].n_prefixes; k++)
			if (rs->bridges[i].prefixes[k].addr.family == AF_INET6)
				return true;
	return false;
}

/* Rule @i >= the ND rule: bridge and prefix. */
static bool divert_at(const struct ruleset *rs, size_t i, const struct datapath_bridge **rb,
		      const struct cidr **rp)
{
	if (has_v6(rs)) {
		if (i == 0)
			return false;
		i--;
	}
	for (size_t b = 0; b < rs->n_bridges; b++) {
		if (i < rs->bridges[b].n_prefixes) {
			*rb = &rs->bridges[b];
			*rp = &rs->bridges[b].prefixes[i];
			return true;
		}
		i -= rs->bridges[b].n_prefixes;
	}
	return false;
}

size_t rs_bridge_n_rules(const struct ruleset *rs)
{
	size_t n = has_v6(rs);

	for (size_t b = 0; b < rs->n_bridges; b++)
		n += rs->bridges[b].n_prefixes;
	return n;
}

uint64_t rs_bridge_digest(const struct ruleset *rs, uint64_t h)
{
	/* Nothing added for a routed node: its digest stays what it was. */
	for (size_t b = 0; b < rs->n_bridges; b++) {
		h = hash_bytes(rs->bridges[b].mac, sizeof(rs->bridges[b].mac), h);
		for (size_t k = 0; k < rs->bridges[b].n_prefixes; k++)
			h = hash_bytes(&rs->bridges[b].prefixes[k],
				       sizeof(rs->bridges[b].prefixes[k]), h);
	}
	return h;
}

/* --- text ----------------------------------------------------------------- */

int rs_bridge_text(const struct ruleset *rs, struct buf *out)
{
	int r;

	if (!rs_bridge_n_rules(rs))
		return 0;
	r = buf_printf(out,
		       "table bridge %s\n"
		       "delete table bridge %s\n"
		       "table bridge %s {\n"
		       "\tchain %s {\n"
		       "\t\ttype filter hook prerouting priority filter; policy accept;\n",
		       RULESET_TABLE, RULESET_TABLE, RULESET_TABLE, BRIDGE_CHAIN);
	if (!r && has_v6(rs))
		r = buf_printf(out, "\t\ticmpv6 type %d-%d accept\n", ND_TYPE_LO, ND_TYPE_HI);
	for (size_t b = 0; !r && b < rs->n_bridges; b++) {
		const uint8_t *m = rs->bridges[b].mac;

		for (size_t k = 0; !r && k < rs->bridges[b].n_prefixes; k++) {
			const struct cidr *p = &rs->bridges[b].prefixes[k];
			char c[ADDR_STR_MAX];

			r = buf_printf(out,
				       "\t\tmeta pkttype other %s daddr %s ether daddr set "
				       "%02x:%02x:%02x:%02x:%02x:%02x meta pkttype set host\n",
				       p->addr.family == AF_INET6 ? "ip6" : "ip",
				       cidr_format(p, c, sizeof(c)), m[0], m[1], m[2], m[3], m[4],
				       m[5]);
		}
	}
	if (!r)
		r = buf_printf(out, "\t}\n}\n");
	return r;
}

/* --- libnftnl ------------------------------------------------------------- */

struct nftnl_table *rs_bridge_nl_table(void)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULESET_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_BRIDGE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	return t;
}

struct nftnl_chain *rs_bridge_nl_chain(void)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return NULL;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, RULESET_TABLE);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_BRIDGE);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, BRIDGE_CHAIN);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, NF_BR_PRE_ROUTING);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, BRIDGE_PRIO);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return ch;
}

static int add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int x_meta(struct nftnl_rule *r, uint32_t key, bool set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, set ? NFTNL_EXPR_META_SREG : NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add(r, e);
}

static int x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add(r, e);
}

static int x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, bool write)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		if (write) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE, NFT_PAYLOAD_CSUM_NONE);
		} else {
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		}
	}
	return add(r, e);
}

static int x_imm(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	}
	return add(r, e);
}

static int x_accept(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	}
	return add(r, e);
}

/* icmpv6 type 133-137 accept (the ether type as nft's dependency). */
static int nd_exprs(struct nftnl_rule *r)
{
	uint16_t et = htons(ETH_P_IPV6);
	uint8_t l4 = IPPROTO_ICMPV6, lo = ND_TYPE_LO, hi = ND_TYPE_HI;
	int ret = x_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, false);

	if (!ret)
		ret = x_cmp(r, NFT_CMP_EQ, &et, sizeof(et));
	if (!ret)
		ret = x_meta(r, NFT_META_L4PROTO, false);
	if (!ret)
		ret = x_cmp(r, NFT_CMP_EQ, &l4, sizeof(l4));
	if (!ret)
		ret = x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, false);
	if (!ret)
		ret = x_cmp(r, NFT_CMP_GTE, &lo, sizeof(lo));
	if (!ret)
		ret = x_cmp(r, NFT_CMP_LTE, &hi, sizeof(hi));
	return ret ? ret : x_accept(r);
}

/* meta pkttype other ip[6] daddr PREFIX ether daddr set MAC meta pkttype set host */
static int divert_exprs(struct nftnl_rule *r, const struct datapath_bridge *b, const struct cidr *p)
{
	bool v6 = p->addr.family == AF_INET6;
	uint8_t other = PACKET_OTHERHOST, host = PACKET_HOST;
	uint16_t proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	uint32_t nbytes = (p->plen + 7u) / 8;
	uint8_t mask[16] = { 0 }, xor[16] = {
		0
	};
	int ret;

	ret = x_meta(r, NFT_META_PKTTYPE, false);
	if (!ret)
		ret = x_cmp(r, NFT_CMP_EQ, &other, sizeof(other));
	if (!ret)
		ret = x_meta(r, NFT_META_PROTOCOL, false);
	if (!ret)
		ret = x_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
	if (!ret && nbytes) {
		/* The prefix's whole bytes, the last one masked (as nft
		 * does for a prefix that ends inside a byte). */
		ret = x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, nbytes, false);
		if (!ret && p->plen % 8) {
			struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

			memset(mask, 0xff, nbytes);
			mask[nbytes - 1] = (uint8_t) (0xff << (8 - p->plen % 8));
			if (e) {
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, nbytes);
				nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, nbytes);
				nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, nbytes);
			}
			ret = add(r, e);
		}
		if (!ret)
			ret = x_cmp(r, NFT_CMP_EQ, p->addr.b, nbytes);
	}
	if (!ret)
		ret = x_imm(r, b->mac, sizeof(b->mac));
	if (!ret)
		ret = x_payload(r, NFT_PAYLOAD_LL_HEADER, 0, sizeof(b->mac), true);
	if (!ret)
		ret = x_imm(r, &host, sizeof(host));
	return ret ? ret : x_meta(r, NFT_META_PKTTYPE, true);
}

struct nftnl_rule *rs_bridge_nl_rule(const struct ruleset *rs, size_t i)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();
	const struct datapath_bridge *b;
	const struct cidr *p;
	int r;

	if (!nr)
		return NULL;
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, RULESET_TABLE);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, BRIDGE_CHAIN);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_BRIDGE);
	r = divert_at(rs, i, &b, &p) ? divert_exprs(nr, b, p) : nd_exprs(nr);
	if (r < 0) {
		nftnl_rule_free(nr);
		return NULL;
	}
	return nr;
}
