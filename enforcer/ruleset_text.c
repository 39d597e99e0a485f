/*
 * The ruleset in nft syntax (apply --dry-run -o nft).  The output is
 * loadable by `nft -f` and, loaded so, gives the same kernel objects as the
 * netlink path (tests/integration/enforcer_apply.sh compares both).
 * Objects are printed sorted by name so that the text depends only on the
 * description, not on the order updates built it in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "ruleset_int.h"

static const char *const key_type[_RS_KEY_MAX] = {
	[RS_KEY_ADDR4] = "ipv4_addr",
	[RS_KEY_ADDR6] = "ipv6_addr",
	[RS_KEY_PROTO_PORT] = "inet_proto . inet_service",
	[RS_KEY_ADDR4_PROTO_PORT] = "ipv4_addr . inet_proto . inet_service",
	[RS_KEY_ADDR6_PROTO_PORT] = "ipv6_addr . inet_proto . inet_service",
	[RS_KEY_FLOW4] = "ipv4_addr . ipv4_addr . inet_proto . inet_service",
	[RS_KEY_FLOW6] = "ipv6_addr . ipv6_addr . inet_proto . inet_service",
};

static int proto_text(uint8_t p, struct buf *out)
{
	const char *n = p == IPPROTO_TCP  ? "tcp" :
			p == IPPROTO_UDP  ? "udp" :
			p == IPPROTO_SCTP ? "sctp" :
					    NULL;

	return n ? buf_printf(out, "%s", n) : buf_printf(out, "%u", p);
}

/* The prefix length when [lo, hi] is exactly one prefix, else -1. */
static int interval_plen(const struct addr *lo, const struct addr *hi)
{
	unsigned bits = addr_bits(lo), plen = bits;

	/* The longest run of trailing bits that are 0 in lo and 1 in hi. */
	while (plen > 0) {
		unsigned bit = plen - 1, byte = bit / 8, mask = 0x80u >> (bit % 8);

		if ((lo->b[byte] & mask) || !(hi->b[byte] & mask))
			break;
		plen--;
	}
	for (unsigned bit = 0; bit < plen; bit++) {
		unsigned byte = bit / 8, mask = 0x80u >> (bit % 8);

		if ((lo->b[byte] & mask) != (hi->b[byte] & mask))
			return -1;
	}
	return (int) plen;
}

int rs_elem_text(const struct rs_set *s, const struct rs_elem *e, struct buf *out)
{
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX];
	int r = 0;

	switch (s->key) {
	case RS_KEY_ADDR4:
	case RS_KEY_ADDR6:
		addr_format(&e->addr, a, sizeof(a));
		if (!(s->flags & RS_SET_INTERVAL) || addr_eq(&e->addr, &e->addr_end)) {
			r = buf_printf(out, "%s", a);
		} else {
			int plen = interval_plen(&e->addr, &e->addr_end);

			if (plen >= 0) {
				r = buf_printf(out, "%s/%d", a, plen);
			} else {
				addr_format(&e->addr_end, b, sizeof(b));
				r = buf_printf(out, "%s-%s", a, b);
			}
		}
		if (r == 0 && (s->flags & RS_SET_VMAP))
			r = buf_printf(out, " : goto %s", e->target);
		return r;
	case RS_KEY_PROTO_PORT:
		r = proto_text(e->proto, out);
		if (r < 0)
			return r;
		if (e->port == e->port_end)
			return buf_printf(out, " . %u", e->port);
		return buf_printf(out, " . %u-%u", e->port, e->port_end);
	case RS_KEY_ADDR4_PROTO_PORT:
	case RS_KEY_ADDR6_PROTO_PORT:
		addr_format(&e->addr, a, sizeof(a));
		r = buf_printf(out, "%s . ", a);
		if (r == 0)
			r = proto_text(e->proto, out);
		if (r == 0)
			r = buf_printf(out, " . %u", e->port);
		return r;
	default:
		return -EINVAL;
	}
}

/* @sizes: print a hash set's size (the canonical form leaves it out: it
 * depends on the count a set was created with, not on what it enforces). */
static int set_text(const struct rs_set *s, struct buf *out, const char *in, bool sizes)
{
	int r;

	r = buf_printf(out, "%s%s %s {\n%s\ttype %s%s\n", in,
		       (s->flags & RS_SET_VMAP) ? "map" : "set", s->name, in, key_type[s->key],
		       (s->flags & RS_SET_VMAP) ? " : verdict" : "");
	if (r == 0 && s->size && (sizes || (s->flags & RS_SET_DYNAMIC)))
		r = buf_printf(out, "%s\tsize %u\n", in, s->size);
	if (r == 0 && (s->flags & RS_SET_DYNAMIC))
		r = buf_printf(out, "%s\tflags dynamic,timeout\n%s\ttimeout %us\n", in, in,
			       RULESET_SEEN_TIMEOUT_MS / 1000);
	if (r == 0 && (s->flags & RS_SET_INTERVAL))
		r = buf_printf(out, "%s\tflags interval\n", in);
	if (r == 0 && s->n_elems) {
		r = buf_printf(out, "%s\telements = { ", in);
		for (size_t i = 0; r == 0 && i < s->n_elems; i++) {
			if (i)
				r = buf_printf(out, ",\n%s\t\t     ", in);
			if (r == 0)
				r = rs_elem_text(s, &s->elems[i], out);
		}
		if (r == 0)
			r = buf_printf(out, " }\n");
	}
	if (r == 0)
		r = buf_printf(out, "%s}\n", in);
	return r;
}

int rs_set_text(const struct rs_set *s, struct buf *out, const char *in)
{
	return set_text(s, out, in, true);
}

static const char *ip_kw(uint8_t family)
{
	return family == AF_INET6 ? "ip6" : "ip";
}

static int verdict_text(const struct rs_rule *r, struct buf *out)
{
	switch (r->verdict) {
	case RS_VERDICT_ACCEPT:
		return buf_printf(out, "accept");
	case RS_VERDICT_DROP:
		return buf_printf(out, "drop");
	case RS_VERDICT_RETURN:
		return buf_printf(out, "return");
	case RS_VERDICT_JUMP:
		return buf_printf(out, "jump %s", r->target);
	case RS_VERDICT_GOTO:
		return buf_printf(out, "goto %s", r->target);
	default:
		return -EINVAL;
	}
}

int rs_rule_text(const struct rs_rule *r, struct buf *out)
{
	const char *ip = ip_kw(r->family);
	const char *dir = r->peer_is_daddr ? "daddr" : "saddr";
	int ret = 0;

	switch (r->kind) {
	case RS_RULE_CT_ACCEPT:
		return buf_printf(out, "ct state established,related accept");
	case RS_RULE_FIB_LOCAL_ACCEPT:
		return buf_printf(out, "fib saddr type local accept");
	case RS_RULE_ICMPV6_ACCEPT:
		if (r->icmp_lo == r->icmp_hi)
			return buf_printf(out, "icmpv6 type %u accept", r->icmp_lo);
		return buf_printf(out, "icmpv6 type %u-%u accept", r->icmp_lo, r->icmp_hi);
	case RS_RULE_ADDR:
		ret = buf_printf(out, "%s %s @%s ", ip, dir, r->peer_set);
		return ret ? ret : verdict_text(r, out);
	case RS_RULE_VMAP:
		return buf_printf(out, "%s %s vmap @%s", ip, dir, r->peer_set);
	case RS_RULE_VERDICT:
		return verdict_text(r, out);
	case RS_RULE_SEEN_SKIP:
		ret = buf_printf(out, "%s saddr . %s daddr . meta l4proto . th dport @%s ", ip, ip,
				 r->peer_set);
		return ret ? ret : verdict_text(r, out);
	case RS_RULE_SEEN_LOG:
		ret = buf_printf(out,
				 "meta nfproto %s add @%s { %s saddr . %s daddr . meta l4proto . "
				 "th dport } log prefix \"%s\" group %u ",
				 r->family == AF_INET6 ? "ipv6" : "ipv4", r->peer_set, ip, ip,
				 r->prefix, r->group);
		return ret ? ret : verdict_text(r, out);
	case RS_RULE_LOG_LIMIT:
		ret = buf_printf(
			out, "limit rate %u/second burst %u packets log prefix \"%s\" group %u ",
			RULESET_ALERT_LIMIT, RULESET_ALERT_LIMIT, r->prefix, r->group);
		return ret ? ret : verdict_text(r, out);
	case RS_RULE_COUNTER:
		return buf_printf(out, "counter packets 0 bytes 0");
	case RS_RULE_ALLOW:
		if (r->family && !r->peer_set && !r->named_set)
			ret = buf_printf(out, "meta nfproto %s ",
					 r->family == AF_INET6 ? "ipv6" : "ipv4");
		if (ret == 0 && r->peer_set)
			ret = buf_printf(out, "%s %s @%s ", ip, dir, r->peer_set);
		if (ret == 0 && r->port_set)
			ret = buf_printf(out, "meta l4proto . th dport @%s ", r->port_set);
		if (ret == 0 && r->named_set)
			ret = buf_printf(out, "%s daddr . meta l4proto . th dport @%s ", ip,
					 r->named_set);
		if (ret == 0)
			ret = buf_printf(out, "counter packets 0 bytes 0 ");
		return ret ? ret : verdict_text(r, out);
	default:
		return -EINVAL;
	}
}

int rs_desc_text_body(const struct rs_desc *d, struct buf *out)
{
	const struct rs_set **sets;
	const struct rs_chain **chains;
	int r;

	r = rs_desc_sorted(d, &sets, &chains);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < d->n_sets; i++)
		r = rs_set_text(sets[i], out, "\t");
	for (size_t i = 0; r == 0 && i < d->n_chains; i++) {
		const struct rs_chain *c = chains[i];

		r = buf_printf(out, "\tchain %s {\n", c->name);
		if (r == 0 && c->hook)
			r = buf_printf(out,
				       "\t\ttype filter hook %s priority filter; policy accept;\n",
				       c->hook);
		for (size_t k = 0; r == 0 && k < c->n_rules; k++) {
			r = buf_printf(out, "\t\t");
			if (r == 0)
				r = rs_rule_text(&c->rules[k], out);
			if (r == 0)
				r = buf_printf(out, "\n");
		}
		if (r == 0)
			r = buf_printf(out, "\t}\n");
	}
	free(sets);
	free(chains);
	return r;
}

/* --- canonical text --------------------------------------------------- */

static bool set_has_addr(const struct rs_set *s, const struct addr *a)
{
	size_t lo = 0, hi = s ? s->n_elems : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = addr_cmp(&s->elems[mid].addr, a);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Dispatch rules: a base chain's `ip saddr|daddr @in4 goto ...`. */
static bool rule_is_dispatch(const struct rs_rule *r)
{
	static const char *const iso[] = { "in4", "in6", "eg4", "eg6" };

	if (r->kind != RS_RULE_ADDR || r->verdict != RS_VERDICT_GOTO)
		return false;
	for (size_t i = 0; i < BH_ARRAY_SIZE(iso); i++)
		if (strcmp(r->peer_set, iso[i]) == 0)
			return true;
	return false;
}

/*
 * Follows address @a of isolation set @iso from @entry through the trie
 * as the kernel would (first matching rule of the packet's family, or
 * the unconditional goto) to the chain that is no trie chain.
 */
static const char *trie_walk(const struct rs_desc *d, const char *entry, const struct addr *a)
{
	const char *cur = entry;

	for (int depth = 0; cur && rs_chain_is_trie(cur) && depth < 40; depth++) {
		const struct rs_chain *c = rs_desc_chain(d, cur);
		const char *next = NULL;

		for (size_t i = 0; c && !next && i < c->n_rules; i++) {
			const struct rs_rule *r = &c->rules[i];

			if (r->verdict != RS_VERDICT_GOTO)
				continue;
			if (r->kind == RS_RULE_VERDICT)
				next = r->target;
			else if (r->kind == RS_RULE_ADDR && r->family == a->family &&
				 set_has_addr(rs_desc_set(d, r->peer_set), a))
				next = r->target;
		}
		cur = next;
	}
	return cur && !rs_chain_is_trie(cur) ? cur : "(lost in the trie)";
}

/* The dispatch rule of @c for @vm's family and direction: its trie entry. */
static const struct rs_rule *dispatch_of(const struct rs_chain *c, const struct rs_rule *vm)
{
	for (size_t k = 0; k < c->n_rules; k++)
		if (rule_is_dispatch(&c->rules[k]) && c->rules[k].family == vm->family &&
		    c->rules[k].peer_is_daddr == vm->peer_is_daddr)
			return &c->rules[k];
	return NULL;
}

/*
 * The verdict map elements of vmap rule @vm (in base chain @c) that do
 * not lead where the trie does: printed, as they would misdirect packets.
 * Which pods have an element is left out (a fresh build has them all, an
 * updated ruleset those not changed since).
 */
static int vmap_check_text(const struct rs_desc *d, const struct rs_chain *c,
			   const struct rs_rule *vm, struct buf *out)
{
	const struct rs_rule *dr = dispatch_of(c, vm);
	const struct rs_set *s = rs_desc_set(d, vm->peer_set);
	int r = 0;

	for (size_t e = 0; !r && s && e < s->n_elems; e++) {
		const struct addr *a = &s->elems[e].addr;
		const char *want = "(not isolated)";
		char as[ADDR_STR_MAX];

		if (dr && set_has_addr(rs_desc_set(d, dr->peer_set), a))
			want = trie_walk(d, dr->target, a);
		if (strcmp(want, s->elems[e].target) != 0)
			r = buf_printf(out, "	# %s %s @%s -> %s, the trie says %s\n", c->name,
				       addr_format(a, as, sizeof(as)), vm->peer_set,
				       s->elems[e].target, want);
	}
	return r;
}

static int dispatch_text(const struct rs_desc *d, const struct rs_chain *const *chains,
			 size_t n_chains, struct buf *out)
{
	int r = 0;

	for (size_t i = 0; !r && i < n_chains; i++) {
		const struct rs_chain *c = chains[i];

		if (!c->hook && strcmp(c->name, "ingress") != 0)
			continue;
		for (size_t k = 0; !r && k < c->n_rules; k++) {
			const struct rs_rule *rr = &c->rules[k];
			const struct rs_set *s;

			if (rr->kind == RS_RULE_VMAP)
				r = vmap_check_text(d, c, rr, out);
			if (r || !rule_is_dispatch(rr))
				continue;
			s = rs_desc_set(d, rr->peer_set);
			for (size_t e = 0; !r && s && e < s->n_elems; e++) {
				char a[ADDR_STR_MAX];

				if (s->elems[e].addr.family != rr->family)
					continue;
				r = buf_printf(out, "\t# %s %s @%s -> %s\n", c->name,
					       addr_format(&s->elems[e].addr, a, sizeof(a)),
					       rr->peer_set,
					       trie_walk(d, rr->target, &s->elems[e].addr));
			}
		}
	}
	return r;
}

int ruleset_text_canonical(const struct ruleset *rs, struct buf *out)
{
	const struct rs_desc *d = &rs->d;
	const struct rs_set **sets;
	const struct rs_chain **chains;
	int r;

	r = rs_desc_sorted(d, &sets, &chains);
	if (r < 0)
		return r;
	r = buf_printf(out, "table inet %s {\n", RULESET_TABLE);
	for (size_t i = 0; r == 0 && i < d->n_sets; i++)
		if (!rs_set_is_digits(sets[i]->name) && !rs_set_is_vmap(sets[i]->name))
			r = set_text(sets[i], out, "\t", false);
	for (size_t i = 0; r == 0 && i < d->n_chains; i++) {
		const struct rs_chain *c = chains[i];

		if (rs_chain_is_trie(c->name))
			continue;
		r = buf_printf(out, "\tchain %s {\n", c->name);
		if (r == 0 && c->hook)
			r = buf_printf(out,
				       "\t\ttype filter hook %s priority filter; policy accept;\n",
				       c->hook);
		for (size_t k = 0; r == 0 && k < c->n_rules; k++) {
			const struct rs_rule *rr = &c->rules[k];

			if (rule_is_dispatch(rr))
				r = buf_printf(out, "\t\t%s %s @%s goto <dispatch>\n",
					       ip_kw(rr->family),
					       rr->peer_is_daddr ? "daddr" : "saddr", rr->peer_set);
			else
				r = buf_printf(out, "\t\t");
			if (r == 0 && !rule_is_dispatch(rr))
				r = rs_rule_text(rr, out);
			if (r == 0 && !rule_is_dispatch(rr))
				r = buf_printf(out, "\n");
		}
		if (r == 0)
			r = buf_printf(out, "\t}\n");
	}
	if (r == 0)
		r = dispatch_text(d, chains, d->n_chains, out);
	if (r == 0)
		r = buf_printf(out, "}\n");
	free(sets);
	free(chains);
	return r;
}

int rs_table_comment(const struct ruleset *rs, char *buf, size_t len)
{
	int n = snprintf(buf, len, "bulkhead:v1:%016llx", (unsigned long long) ruleset_digest(rs));

	return n < 0 || (size_t) n >= len ? -ENOSPC : 0;
}

int ruleset_text_table(const struct ruleset *rs, struct buf *out)
{
	char comment[64];
	int r;

	r = rs_table_comment(rs, comment, sizeof(comment));
	if (r < 0)
		return r;
	r = buf_printf(out, "table inet %s {\n\tcomment \"%s\"\n", RULESET_TABLE, comment);
	if (r == 0)
		r = rs_desc_text_body(&rs->d, out);
	if (r == 0)
		r = buf_printf(out, "}\n");
	return r;
}

int ruleset_text(const struct ruleset *rs, struct buf *out)
{
	int r;

	r = buf_printf(out,
		       "# bulkhead ruleset: node '%s', mode %s\n"
		       "table inet %s\n"
		       "delete table inet %s\n",
		       rs->node, bh_mode_name(rs->mode), RULESET_TABLE, RULESET_TABLE);
	if (!r)
		r = ruleset_text_table(rs, out);
	return r ? r : rs_bridge_text(rs, out);
}
