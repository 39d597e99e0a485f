/*
 * Description -> libnftnl objects.  Expressions, register allocation, set
 * key types and set userdata follow what nft 1.0.6 generates for the same
 * text (nft --debug=netlink), so that `nft list` prints a table loaded
 * through netlink exactly as one loaded from `apply --dry-run -o nft`.
 */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "ruleset_int.h"
#include "ruleset_nl.h"

/* nft datatype ids (nftables include/datatype.h), used in set key types:
 * a concatenation is the ids shifted by 6 bits each. */
#define DT_IPADDR 7
#define DT_IP6ADDR 8
#define DT_INET_PROTOCOL 12
#define DT_INET_SERVICE 13
#define DT_BITS 6

static uint32_t key_type(enum rs_key k)
{
	switch (k) {
	case RS_KEY_ADDR4:
		return DT_IPADDR;
	case RS_KEY_ADDR6:
		return DT_IP6ADDR;
	case RS_KEY_PROTO_PORT:
		return DT_INET_PROTOCOL << DT_BITS | DT_INET_SERVICE;
	case RS_KEY_ADDR4_PROTO_PORT:
		return (DT_IPADDR << DT_BITS | DT_INET_PROTOCOL) << DT_BITS | DT_INET_SERVICE;
	case RS_KEY_ADDR6_PROTO_PORT:
		return (DT_IP6ADDR << DT_BITS | DT_INET_PROTOCOL) << DT_BITS | DT_INET_SERVICE;
	case RS_KEY_FLOW4:
		return ((DT_IPADDR << DT_BITS | DT_IPADDR) << DT_BITS | DT_INET_PROTOCOL)
			       << DT_BITS |
		       DT_INET_SERVICE;
	case RS_KEY_FLOW6:
		return ((DT_IP6ADDR << DT_BITS | DT_IP6ADDR) << DT_BITS | DT_INET_PROTOCOL)
			       << DT_BITS |
		       DT_INET_SERVICE;
	default:
		return 0;
	}
}

/* Key length: every concatenated field takes whole 32-bit registers. */
static uint32_t key_len(enum rs_key k)
{
	static const uint32_t len[_RS_KEY_MAX] = {
		[RS_KEY_ADDR4] = 4,
		[RS_KEY_ADDR6] = 16,
		[RS_KEY_PROTO_PORT] = 8,
		[RS_KEY_ADDR4_PROTO_PORT] = 12,
		[RS_KEY_ADDR6_PROTO_PORT] = 24,
		[RS_KEY_FLOW4] = 16,
		[RS_KEY_FLOW6] = 40,
	};

	return len[k];
}

static bool key_is_concat(enum rs_key k)
{
	return k != RS_KEY_ADDR4 && k != RS_KEY_ADDR6;
}

struct nftnl_table *rs_nl_table(const char *comment)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULESET_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	if (comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_TABLE_COMMENT, comment)) {
			nftnl_udata_buf_free(u);
			nftnl_table_free(t);
			return NULL;
		}
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(u),
				     nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	return t;
}

struct nftnl_chain *rs_nl_chain(const struct rs_chain *c)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();

	if (!ch)
		return NULL;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, RULESET_TABLE);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	if (c->hook) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM,
				    strcmp(c->hook, "input") == 0 ? NF_INET_LOCAL_IN :
								    NF_INET_FORWARD);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	return ch;
}

/* Set userdata as nft 1.0.6 writes it (key byte order and friends). */
static int set_udata(struct nftnl_set *s, const struct rs_set *rs)
{
	static const uint8_t plain[] = { 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
	static const uint8_t vmap[] = { 0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00,
					0x00, 0x00, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t concat[] = { 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08,
					  0x00, 0x04, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00 };

	if (rs->flags & RS_SET_VMAP)
		return nftnl_set_set_data(s, NFTNL_SET_USERDATA, vmap, sizeof(vmap));
	if (key_is_concat(rs->key))
		return nftnl_set_set_data(s, NFTNL_SET_USERDATA, concat, sizeof(concat));
	return nftnl_set_set_data(s, NFTNL_SET_USERDATA, plain, sizeof(plain));
}

struct nftnl_set *rs_nl_set(const struct rs_set *rs, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();
	uint32_t flags = 0;

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_NAME, rs->name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type(rs->key));
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len(rs->key));
	if (rs->flags & RS_SET_INTERVAL)
		flags |= NFT_SET_INTERVAL;
	if (rs->flags & RS_SET_VMAP) {
		flags |= NFT_SET_MAP;
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 16 /* struct nft_verdict data */);
	}
	if (rs->flags & RS_SET_DYNAMIC) {
		flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, RULESET_SEEN_TIMEOUT_MS);
	}
	if (rs->size)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, rs->size);
	/* Interval concatenations are pipapo sets: the kernel needs the
	 * field lengths (inet_proto 1 byte, inet_service 2). */
	if ((rs->flags & RS_SET_INTERVAL) && key_is_concat(rs->key)) {
		static const uint8_t fields[] = { 1, 2 };

		flags |= NFT_SET_CONCAT;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields, sizeof(fields));
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	if (set_udata(s, rs) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

/* The key bytes of an element: fields padded to 32-bit registers. */
static size_t elem_key(const struct rs_set *s, const struct rs_elem *e, bool end, uint8_t *k)
{
	const struct addr *a = end ? &e->addr_end : &e->addr;
	uint16_t port = end ? e->port_end : e->port;
	size_t n = 0;

	memset(k, 0, 64);
	switch (s->key) {
	case RS_KEY_ADDR4:
	case RS_KEY_ADDR6:
		memcpy(k, a->b, addr_len(a));
		return addr_len(a);
	case RS_KEY_ADDR4_PROTO_PORT:
	case RS_KEY_ADDR6_PROTO_PORT:
		memcpy(k, e->addr.b, addr_len(&e->addr));
		n = addr_len(&e->addr);
		/* fall through */
	case RS_KEY_PROTO_PORT:
		k[n] = e->proto;
		k[n + 4] = (uint8_t) (port >> 8);
		k[n + 5] = (uint8_t) port;
		return n + 8;
	default:
		return 0;
	}
}

static bool addr_all_ones(const struct addr *a)
{
	for (unsigned i = 0; i < addr_len(a); i++)
		if (a->b[i] != 0xff)
			return false;
	return true;
}

/*
 * Appends the kernel elements of @e to @s.  An address interval is a start
 * element and an end element one past its last address (flagged
 * INTERVAL_END), as the rbtree set type expects; interval concatenations
 * (pipapo) carry KEY and KEY_END in one element.
 */
int rs_nl_elem_add(struct nftnl_set *s, const struct rs_set *rs, const struct rs_elem *e)
{
	uint8_t k[64];
	size_t n = elem_key(rs, e, false, k);
	struct nftnl_set_elem *el = nftnl_set_elem_alloc();

	if (!el)
		return -ENOMEM;
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, k, (uint32_t) n);
	if (rs->flags & RS_SET_VMAP) {
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, (uint32_t) NFT_GOTO);
		nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, e->target);
	}
	if ((rs->flags & RS_SET_INTERVAL) && key_is_concat(rs->key)) {
		n = elem_key(rs, e, true, k);
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY_END, k, (uint32_t) n);
	}
	nftnl_set_elem_add(s, el);
	if ((rs->flags & RS_SET_INTERVAL) && !key_is_concat(rs->key) &&
	    !addr_all_ones(&e->addr_end)) {
		struct addr end = e->addr_end;

		for (int i = (int) addr_len(&end) - 1; i >= 0; i--)
			if (++end.b[i] != 0)
				break;
		el = nftnl_set_elem_alloc();
		if (!el)
			return -ENOMEM;
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, end.b, addr_len(&end));
		nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(s, el);
	}
	return 0;
}

size_t rs_nl_elem_size(const struct rs_set *rs, const struct rs_elem *e)
{
	/* The list element nest, the key nest and its value attribute. */
	size_t key = 4 + 4 + 4 + NLA_ALIGN(key_len(rs->key));
	size_t n = key;

	if ((rs->flags & RS_SET_VMAP) && e->target) /* data, verdict, code, chain */
		n += 4 + 4 + 8 + 4 + NLA_ALIGN(strlen(e->target) + 1);
	if ((rs->flags & RS_SET_INTERVAL) && key_is_concat(rs->key))
		n += 4 + 4 + NLA_ALIGN(key_len(rs->key)); /* KEY_END */
	else if (rs->flags & RS_SET_INTERVAL)
		n += key + 8; /* the end element and its flags */
	return n + 16; /* slack: an upper bound, not an estimate */
}

/* --- expressions ------------------------------------------------------- */

/* Register of the 32-bit slot @slot, in nft's numbering: the 128-bit name
 * when the slot starts one. */
static uint32_t reg32(unsigned slot)
{
	return slot % 4 == 0 ? NFT_REG_1 + slot / 4 : NFT_REG32_00 + slot;
}

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add_expr(r, e);
}

static int e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

static int e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return add_expr(r, e);
}

static int e_lookup(struct nftnl_rule *r, const char *set, bool vmap)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (vmap)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	}
	return add_expr(r, e);
}

static int e_nfproto(struct nftnl_rule *r, uint8_t family)
{
	uint8_t v = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	int ret = e_meta(r, NFT_META_NFPROTO, NFT_REG_1);

	return ret ? ret : e_cmp(r, NFT_CMP_EQ, &v, 1);
}

/* ip saddr/daddr into slot @slot; returns the slots used. */
static int e_addr(struct nftnl_rule *r, uint8_t family, bool daddr, unsigned slot)
{
	uint32_t off, len = family == AF_INET6 ? 16 : 4;

	if (family == AF_INET6)
		off = daddr ? 24 : 8;
	else
		off = daddr ? 16 : 12;
	return e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, len, reg32(slot));
}

/* meta l4proto . th dport into slots @slot, @slot + 1. */
static int e_proto_port(struct nftnl_rule *r, unsigned slot, bool byteorder)
{
	int ret = e_meta(r, NFT_META_L4PROTO, reg32(slot));

	/* nft 1.0.6 emits this (no-op) byteorder for the host-endian
	 * l4proto field of an interval concatenation; kept so listings of
	 * both load paths are identical. */
	if (!ret && byteorder) {
		struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg32(slot));
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg32(slot));
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
		}
		ret = add_expr(r, e);
	}
	return ret ? ret : e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(slot + 1));
}

static int e_flow(struct nftnl_rule *r, uint8_t family)
{
	unsigned w = family == AF_INET6 ? 4 : 1;
	int ret = e_addr(r, family, false, 0);

	if (!ret)
		ret = e_addr(r, family, true, w);
	return ret ? ret : e_proto_port(r, 2 * w, false);
}

/* log prefix P group G (NFLOG) */
static int e_log(struct nftnl_rule *nr, const struct rs_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, r->prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, r->group);
	}
	return add_expr(nr, e);
}

static int e_verdict(struct nftnl_rule *r, enum rs_verdict v, const char *target)
{
	static const int code[_RS_VERDICT_MAX] = {
		[RS_VERDICT_ACCEPT] = NF_ACCEPT,  [RS_VERDICT_DROP] = NF_DROP,
		[RS_VERDICT_RETURN] = NFT_RETURN, [RS_VERDICT_JUMP] = NFT_JUMP,
		[RS_VERDICT_GOTO] = NFT_GOTO,
	};
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) code[v]);
		if (target)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, target);
	}
	return add_expr(r, e);
}

static int rule_exprs(struct nftnl_rule *nr, const struct rs_rule *r)
{
	int ret = 0;

	switch (r->kind) {
	case RS_RULE_CT_ACCEPT: {
		uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
		uint32_t zero = 0;
		struct nftnl_expr *e = nftnl_expr_alloc("ct");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		ret = add_expr(nr, e);
		if (!ret) {
			e = nftnl_expr_alloc("bitwise");
			if (e) {
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
				nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
				nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
				nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
			}
			ret = add_expr(nr, e);
		}
		if (!ret)
			ret = e_cmp(nr, NFT_CMP_NEQ, &zero, 4);
		break;
	}
	case RS_RULE_FIB_LOCAL_ACCEPT: {
		uint32_t local = RTN_LOCAL;
		struct nftnl_expr *e = nftnl_expr_alloc("fib");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
		}
		ret = add_expr(nr, e);
		if (!ret)
			ret = e_cmp(nr, NFT_CMP_EQ, &local, 4);
		break;
	}
	case RS_RULE_ADDR:
	case RS_RULE_VMAP:
		ret = e_nfproto(nr, r->family);
		if (!ret)
			ret = e_addr(nr, r->family, r->peer_is_daddr, 0);
		if (!ret)
			ret = e_lookup(nr, r->peer_set, r->kind == RS_RULE_VMAP);
		if (ret || r->kind == RS_RULE_VMAP)
			return ret;
		break;
	case RS_RULE_VERDICT:
		break;
	case RS_RULE_ICMPV6_ACCEPT: {
		uint8_t icmpv6 = IPPROTO_ICMPV6;

		ret = e_nfproto(nr, AF_INET6);
		if (!ret)
			ret = e_meta(nr, NFT_META_L4PROTO, NFT_REG_1);
		if (!ret)
			ret = e_cmp(nr, NFT_CMP_EQ, &icmpv6, 1);
		if (!ret)
			ret = e_payload(nr, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		if (!ret && r->icmp_lo == r->icmp_hi)
			ret = e_cmp(nr, NFT_CMP_EQ, &r->icmp_lo, 1);
		else if (!ret)
			ret = e_cmp(nr, NFT_CMP_GTE, &r->icmp_lo, 1);
		if (!ret && r->icmp_lo != r->icmp_hi)
			ret = e_cmp(nr, NFT_CMP_LTE, &r->icmp_hi, 1);
		break;
	}
	case RS_RULE_SEEN_SKIP:
		ret = e_nfproto(nr, r->family);
		if (!ret)
			ret = e_flow(nr, r->family);
		if (!ret)
			ret = e_lookup(nr, r->peer_set, false);
		break;
	case RS_RULE_SEEN_LOG: {
		struct nftnl_expr *e;

		ret = e_nfproto(nr, r->family);
		if (!ret)
			ret = e_flow(nr, r->family);
		if (ret)
			return ret;
		e = nftnl_expr_alloc("dynset");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
			nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, r->peer_set);
		}
		ret = add_expr(nr, e);
		if (!ret)
			ret = e_log(nr, r);
		break;
	}
	case RS_RULE_LOG_LIMIT: {
		struct nftnl_expr *e = nftnl_expr_alloc("limit");

		if (e) {
			nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, RULESET_ALERT_LIMIT);
			nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1); /* per second */
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, RULESET_ALERT_LIMIT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
			nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
		}
		ret = add_expr(nr, e);
		if (!ret)
			ret = e_log(nr, r);
		break;
	}
	case RS_RULE_COUNTER:
		return add_expr(nr, nftnl_expr_alloc("counter"));
	case RS_RULE_ALLOW:
		if (r->family)
			ret = e_nfproto(nr, r->family);
		if (!ret && r->peer_set) {
			ret = e_addr(nr, r->family, r->peer_is_daddr, 0);
			if (!ret)
				ret = e_lookup(nr, r->peer_set, false);
		}
		if (!ret && r->port_set) {
			ret = e_proto_port(nr, 0, true);
			if (!ret)
				ret = e_lookup(nr, r->port_set, false);
		}
		if (!ret && r->named_set) {
			ret = e_addr(nr, r->family, true, 0);
			if (!ret)
				ret = e_proto_port(nr, r->family == AF_INET6 ? 4 : 1, false);
			if (!ret)
				ret = e_lookup(nr, r->named_set, false);
		}
		if (!ret)
			ret = add_expr(nr, nftnl_expr_alloc("counter"));
		break;
	default:
		return -EINVAL;
	}
	return ret ? ret : e_verdict(nr, r->verdict, r->target);
}

struct nftnl_rule *rs_nl_rule(const char *chain, const struct rs_rule *r)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();

	if (!nr)
		return NULL;
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, RULESET_TABLE);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (rule_exprs(nr, r) < 0) {
		nftnl_rule_free(nr);
		return NULL;
	}
	return nr;
}

/* --- golden dump ------------------------------------------------------- */

static int snprintf_append(struct buf *out,
			   int (*fn)(char *, size_t, const void *, uint32_t, uint32_t),
			   const void *obj)
{
	char tmp[8192];
	int n = fn(tmp, sizeof(tmp), obj, NFTNL_OUTPUT_DEFAULT, 0);

	if (n < 0)
		return -EIO;
	if ((size_t) n >= sizeof(tmp)) {
		char *big = malloc((size_t) n + 1);
		int r;

		if (!big)
			return -ENOMEM;
		(void) fn(big, (size_t) n + 1, obj, NFTNL_OUTPUT_DEFAULT, 0);
		r = buf_printf(out, "%s\n", big);
		free(big);
		return r;
	}
	return buf_printf(out, "%s\n", tmp);
}

static int table_snprintf_cb(char *b, size_t n, const void *o, uint32_t t, uint32_t f)
{
	return nftnl_table_snprintf(b, n, o, t, f);
}

static int chain_snprintf_cb(char *b, size_t n, const void *o, uint32_t t, uint32_t f)
{
	return nftnl_chain_snprintf(b, n, o, t, f);
}

static int set_snprintf_cb(char *b, size_t n, const void *o, uint32_t t, uint32_t f)
{
	return nftnl_set_snprintf(b, n, o, t, f);
}

static int rule_snprintf_cb(char *b, size_t n, const void *o, uint32_t t, uint32_t f)
{
	return nftnl_rule_snprintf(b, n, o, t, f);
}

/* The bridge table's objects (none on a routed node). */
static int bridge_payload(const struct ruleset *rs, struct buf *out)
{
	size_t n = rs_bridge_n_rules(rs);
	struct nftnl_table *t;
	struct nftnl_chain *c;
	int r;

	if (!n)
		return 0;
	t = rs_bridge_nl_table();
	if (!t)
		return -ENOMEM;
	r = snprintf_append(out, table_snprintf_cb, t);
	nftnl_table_free(t);
	c = r ? NULL : rs_bridge_nl_chain();
	if (!r && !c)
		return -ENOMEM;
	if (!r)
		r = snprintf_append(out, chain_snprintf_cb, c);
	nftnl_chain_free(c);
	for (size_t i = 0; !r && i < n; i++) {
		struct nftnl_rule *nr = rs_bridge_nl_rule(rs, i);

		if (!nr)
			return -ENOMEM;
		r = snprintf_append(out, rule_snprintf_cb, nr);
		nftnl_rule_free(nr);
	}
	return r;
}

int ruleset_payload(const struct ruleset *rs, struct buf *out)
{
	const struct rs_set **sets = NULL;
	const struct rs_chain **chains = NULL;
	char comment[64];
	struct nftnl_table *t;
	int r;

	r = rs_table_comment(rs, comment, sizeof(comment));
	if (r < 0)
		return r;
	t = rs_nl_table(comment);
	if (!t)
		return -ENOMEM;
	r = snprintf_append(out, table_snprintf_cb, t);
	nftnl_table_free(t);
	if (r < 0)
		return r;
	r = rs_desc_sorted(&rs->d, &sets, &chains);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < rs->d.n_chains; i++) {
		struct nftnl_chain *c = rs_nl_chain(chains[i]);

		if (!c) {
			r = -ENOMEM;
			break;
		}
		r = snprintf_append(out, chain_snprintf_cb, c);
		nftnl_chain_free(c);
	}
	for (size_t i = 0; r == 0 && i < rs->d.n_sets; i++) {
		struct nftnl_set *s = rs_nl_set(sets[i], 0);

		if (!s) {
			r = -ENOMEM;
			break;
		}
		for (size_t k = 0; r == 0 && k < sets[i]->n_elems; k++)
			r = rs_nl_elem_add(s, sets[i], &sets[i]->elems[k]);
		if (r == 0)
			r = snprintf_append(out, set_snprintf_cb, s);
		nftnl_set_free(s);
	}
	for (size_t i = 0; r == 0 && i < rs->d.n_chains; i++) {
		for (size_t k = 0; r == 0 && k < chains[i]->n_rules; k++) {
			struct nftnl_rule *nr = rs_nl_rule(chains[i]->name, &chains[i]->rules[k]);

			if (!nr) {
				r = -ENOMEM;
				break;
			}
			r = snprintf_append(out, rule_snprintf_cb, nr);
			nftnl_rule_free(nr);
		}
	}
	free(sets);
	free(chains);
	return r ? r : bridge_payload(rs, out);
}
