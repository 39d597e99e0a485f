/*
 * The compiler: cluster model -> the description of one node's table
 * (sets with elements, chains with rules).  Semantics follow engine.h: a
 * pod is isolated for a direction by the policies of its namespace that
 * select it and list the direction; selector peers match known pods,
 * ipBlock peers match addresses (pod addresses included); named ports
 * resolve against the destination pod.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "proto.h"
#include "ruleset_class.h"
#include "ruleset_compile.h"
#include "ruleset_interval.h"
#include "ruleset_owner.h"
#include "ruleset_policy.h"
#include "str.h"

/*
 * The node-local part: classes with their sets and chains, the dispatch
 * tries (entries into @roots), which policies are active.  Policy chains
 * and sets are built by the caller from b->active.
 */
static int build_local(struct bctx *b, const struct rs_desc *prev,
		       char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX])
{
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		int r = rs_build_classes(b, d, prev);

		if (!r)
			r = rs_trie_build_all(b, d, &b->d->cls[d], roots[d]);
		if (r)
			return r;
	}
	return 0;
}

static int build_policies(struct bctx *b)
{
	struct cluster *c = b->c;
	const struct pod **local = NULL;
	int r = 0;

	for (size_t a = 0; a < b->n_active; a++) {
		const struct netpol *pol =
			cluster_policy_find(c, b->active[a].ns, b->active[a].name);
		size_t n_local = 0;

		if (!pol)
			continue;
		for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
			if (!b->active[a].dir[d])
				continue;
			if (d == NETPOL_INGRESS) {
				const struct ns_info *ni = bctx_ns(b, pol->ns);

				free(local);
				local = calloc(ni ? ni->end - ni->first + 1 : 1, sizeof(*local));
				if (!local)
					return -ENOMEM;
				n_local = 0;
				for (size_t i = ni ? ni->first : 0; ni && i < ni->end; i++)
					if (pod_is_local(b, &c->pods[i]) &&
					    rs_class_has_policy(b, pol, d, &c->pods[i]))
						local[n_local++] = &c->pods[i];
			}
			r = rs_build_policy(b, pol, d, local, n_local);
			if (r < 0)
				goto out;
		}
	}
out:
	free(local);
	return r;
}

/*
 * A pod's IPv6 neighbour discovery and multicast listener reports go to its
 * node (input hook) whatever its egress policies say; without them an
 * egress-isolated pod has no IPv6 at all, replies included.  ICMPv6 types
 * 130-136 (MLD, router and neighbour discovery) and 143 (MLDv2).
 */
static int add_icmpv6(struct rs_chain *c, uint8_t lo, uint8_t hi)
{
	struct rs_rule r = {
		.kind = RS_RULE_ICMPV6_ACCEPT,
		.family = AF_INET6,
		.icmp_lo = lo,
		.icmp_hi = hi,
		.verdict = RS_VERDICT_ACCEPT,
	};

	return rs_chain_add_rule(c, &r);
}

/*
 * The cluster holds a proposal policy in preview.  Its classes log: the
 * seen sets then exist whatever the mode.  Asked of the policies, not of
 * the classes, so that a pod event (which never changes policies) never
 * needs a set that is not there.
 */
static bool any_preview(const struct cluster *c)
{
	for (size_t i = 0; i < c->n_policies; i++)
		if (c->policies[i].origin == NETPOL_ORIGIN_PREVIEW)
			return true;
	return false;
}

static int build_base_sets(struct bctx *b)
{
	const struct node *node = cluster_node_find(b->c, b->rs->node);
	struct rs_set *n4, *n6;
	int r;

	r = rs_new_set(b, "node4", RS_KEY_ADDR4, 0, &n4);
	if (r < 0)
		return r;
	r = rs_new_set(b, "node6", RS_KEY_ADDR6, 0, &n6);
	if (r < 0)
		return r;
	for (size_t i = 0; node && i < node->n_addrs; i++) {
		struct rs_elem e;

		elem_addr(&e, &node->addrs[i]);
		r = rs_set_push(node->addrs[i].family == AF_INET ? n4 : n6, &e);
		if (r < 0)
			return r;
	}
	rs_set_finish(n4);
	rs_set_finish(n6);
	if (b->rs->mode == BH_MODE_PREVIEW || any_preview(b->c)) {
		struct rs_set *s;

		r = rs_new_set(b, "seen4", RS_KEY_FLOW4, RS_SET_DYNAMIC, &s);
		if (r < 0)
			return r;
		r = rs_new_set(b, "seen6", RS_KEY_FLOW6, RS_SET_DYNAMIC, &s);
		if (r < 0)
			return r;
	}
	return 0;
}

/* `ip saddr vmap @eg4/vmap` then `ip saddr @eg4 goto ROOT` (+ IPv6), or
 * nothing without a class. */
static int add_dispatch(struct rs_chain *ch, enum netpol_dir d, const char *root)
{
	int r = 0;

	for (int f = 0; !r && *root && f < 2; f++)
		r = rs_add_rule(ch, RS_RULE_VMAP, f ? AF_INET6 : AF_INET, d == NETPOL_INGRESS,
				vmap_sets[d][f], NULL, NULL, RS_VERDICT_GOTO, NULL);
	for (int f = 0; !r && *root && f < 2; f++)
		r = rs_add_rule(ch, RS_RULE_ADDR, f ? AF_INET6 : AF_INET, d == NETPOL_INGRESS,
				iso_sets[d][f], NULL, NULL, RS_VERDICT_GOTO, root);
	return r;
}

/* forward, input and ingress, entering the tries at @roots. */
int rs_build_base_chains(struct bctx *b, char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX])
{
	struct rs_chain *fw, *in, *ing;
	int r;

	r = rs_new_chain(b, "forward", "forward", &fw);
	if (r < 0)
		return r;
	r = rs_new_chain(b, "input", "input", &in);
	if (r < 0)
		return r;
	r = rs_new_chain(b, "ingress", NULL, &ing);
	if (r < 0)
		return r;
	/* The egress dispatch before the node's own traffic: a local pod's
	 * address is never the node's, and a pod's first packet then skips
	 * the fib lookup. */
	if (rs_add_rule(fw, RS_RULE_CT_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT,
			NULL) < 0 ||
	    (b->rs->nd_forward && (add_icmpv6(fw, 130, 136) < 0 || add_icmpv6(fw, 143, 143) < 0)) ||
	    add_dispatch(fw, NETPOL_EGRESS, roots[NETPOL_EGRESS]) < 0 ||
	    rs_add_rule(fw, RS_RULE_FIB_LOCAL_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT,
			NULL) < 0 ||
	    rs_add_rule(fw, RS_RULE_ADDR, AF_INET, false, "node4", NULL, NULL, RS_VERDICT_ACCEPT,
			NULL) < 0 ||
	    rs_add_rule(fw, RS_RULE_ADDR, AF_INET6, false, "node6", NULL, NULL, RS_VERDICT_ACCEPT,
			NULL) < 0 ||
	    rs_add_rule(fw, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_GOTO,
			"ingress") < 0 ||
	    rs_add_rule(in, RS_RULE_CT_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT,
			NULL) < 0 ||
	    add_icmpv6(in, 130, 136) < 0 || add_icmpv6(in, 143, 143) < 0 ||
	    add_dispatch(in, NETPOL_EGRESS, roots[NETPOL_EGRESS]) < 0 ||
	    add_dispatch(ing, NETPOL_INGRESS, roots[NETPOL_INGRESS]) < 0 ||
	    rs_add_rule(ing, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT, NULL) <
		    0)
		return -ENOMEM;
	return 0;
}

int ruleset_compile(struct ruleset *rs, struct cluster *c, const struct rs_desc *prev,
		    bool fill_maps, struct rs_desc *d)
{
	char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX];
	struct bctx b = { 0 };
	int r;

	r = rs_bctx_init(&b, rs, c, d);
	if (r < 0)
		goto out;
	b.fill_maps = fill_maps; /* (without @prev every element goes in anyway) */
	r = build_base_sets(&b);
	if (r < 0)
		goto out;
	r = build_local(&b, prev, roots);
	if (r < 0)
		goto out;
	r = rs_build_base_chains(&b, roots);
	if (r < 0)
		goto out;
	r = build_policies(&b);
	if (r == 0)
		rs_desc_fit_sizes(d);
out:
	rs_bctx_done(&b);
	return r;
}

int ruleset_build(struct cluster *c, const struct ruleset_opts *o, struct ruleset **ret,
		  struct bh_err *reterr)
{
	struct ruleset *rs;
	int r;

	if (!o->node || !*o->node)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "ruleset options: node: no node name given");
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return bh_err_oom(reterr);
	rs->mode = o->mode;
	rs->group = o->nflog_group_set ? o->nflog_group : RULESET_NFLOG_GROUP;
	if (o->datapath) {
		/* br_netfilter shows bridged IPv6 to the forward hook, pods'
		 * neighbour discovery between each other included. */
		rs->nd_forward = o->datapath->n_bridged && o->datapath->nf_call[1];
		rs->n_bridges = o->datapath->n_bridges;
		memcpy(rs->bridges, o->datapath->bridges, sizeof(rs->bridges));
	}
	rs->node = strdup(o->node);
	if (!rs->node) {
		r = -ENOMEM;
		goto fail;
	}
	r = ruleset_compile(rs, c, NULL, true, &rs->d);
	if (r < 0)
		goto fail;
	r = rs_owners_build(&rs->owners, c);
	if (r < 0)
		goto fail;
	*ret = rs;
	return 0;
fail:
	r = rs_compile_err(o->node, r, "compiling the ruleset", reterr);
	ruleset_free(rs);
	return r;
}

int rs_compile_err(const char *node, int r, const char *what, struct bh_err *reterr)
{
	switch (r) {
	case -ENOMEM:
		return bh_err_oom(reterr);
	case -ERANGE:
		return bh_err_set(reterr, BH_ERR_INPUT, r,
				  "node '%s': %s: more than %u classes of local pods (the pods of "
				  "one namespace that the same policies isolate) in one direction, "
				  "the most the dispatch trie numbers",
				  node, what, RS_CLASSES_MAX);
	case -E2BIG:
		return bh_err_set(reterr, BH_ERR_INPUT, r,
				  "node '%s': %s: the policies isolating one pod, or the peers of "
				  "one rule, make a key past the compiler's 1 MiB bound",
				  node, what);
	default:
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "node '%s': %s: %s", node, what,
				  strerror(-r));
	}
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	rs_desc_done(&rs->d);
	rs_owners_done(&rs->owners);
	free(rs->node);
	free(rs);
	return NULL;
}

size_t ruleset_n_sets(const struct ruleset *rs)
{
	return rs->d.n_sets;
}

const struct rs_set *ruleset_set(const struct ruleset *rs, size_t i)
{
	return i < rs->d.n_sets ? rs->d.sets[i] : NULL;
}

size_t ruleset_n_chains(const struct ruleset *rs)
{
	return rs->d.n_chains;
}

const struct rs_chain *ruleset_chain(const struct ruleset *rs, size_t i)
{
	return i < rs->d.n_chains ? rs->d.chains[i] : NULL;
}

const struct rs_set *ruleset_set_find(const struct ruleset *rs, const char *name)
{
	return rs_desc_set(&rs->d, name);
}

const struct rs_chain *ruleset_chain_find(const struct ruleset *rs, const char *name)
{
	return rs_desc_chain(&rs->d, name);
}

enum bh_mode ruleset_mode(const struct ruleset *rs)
{
	return rs->mode;
}

static uint64_t hash_str0(const char *s, uint64_t h)
{
	return s ? hash_bytes(s, strlen(s) + 1, h) : hash_bytes("", 0, h ^ 0x5a);
}

static uint64_t hash_u64(uint64_t v, uint64_t h)
{
	return hash_bytes(&v, sizeof(v), h);
}

/*
 * The elements of @s, packed (family, address bytes, the end address,
 * protocol, ports) into a buffer hashed a few kilobytes at a time: one
 * hash_bytes() call per field and element cost 50 ms for a million
 * elements, most of it finalising short keys.
 */
static uint64_t digest_elems(const struct rs_set *s, uint64_t h)
{
	uint8_t buf[4096];
	size_t n = 0;

	for (size_t k = 0; k < s->n_elems; k++) {
		const struct rs_elem *e = &s->elems[k];
		size_t la = addr_len(&e->addr), le = addr_len(&e->addr_end);

		if (n + 2 * (1 + 16) + 5 > sizeof(buf)) {
			h = hash_bytes(buf, n, h);
			n = 0;
		}
		buf[n++] = e->addr.family;
		memcpy(&buf[n], e->addr.b, la);
		n += la;
		buf[n++] = e->addr_end.family;
		memcpy(&buf[n], e->addr_end.b, le);
		n += le;
		buf[n++] = e->proto;
		buf[n++] = (uint8_t) (e->port >> 8);
		buf[n++] = (uint8_t) e->port;
		buf[n++] = (uint8_t) (e->port_end >> 8);
		buf[n++] = (uint8_t) e->port_end;
		if (e->target) {
			h = hash_bytes(buf, n, h);
			n = 0;
			h = hash_str0(e->target, h);
		}
	}
	return n ? hash_bytes(buf, n, h) : h;
}

/* A hash of the description in name order (not of its text: rendering a
 * million elements costs more than hashing them). */
uint64_t ruleset_digest(const struct ruleset *rs)
{
	const struct rs_set **sets;
	const struct rs_chain **chains;
	uint64_t h = 0x62756c6b68656164ULL;

	if (rs_desc_sorted(&rs->d, &sets, &chains) < 0)
		return 0;
	h = hash_u64(rs->mode, h);
	for (size_t i = 0; i < rs->d.n_sets; i++) {
		const struct rs_set *s = sets[i];

		h = hash_str0(s->name, h);
		h = hash_u64((uint64_t) s->key << 32 | s->flags, h);
		h = hash_u64(s->size, h);
		h = digest_elems(s, h);
	}
	for (size_t i = 0; i < rs->d.n_chains; i++) {
		const struct rs_chain *c = chains[i];

		h = hash_str0(c->name, h);
		h = hash_str0(c->hook, h);
		for (size_t k = 0; k < c->n_rules; k++) {
			const struct rs_rule *r = &c->rules[k];

			h = hash_u64((uint64_t) r->kind << 48 | (uint64_t) r->family << 40 |
					     (uint64_t) r->peer_is_daddr << 32 |
					     (uint64_t) r->group << 8 | r->verdict,
				     h);
			h = hash_u64((uint64_t) r->icmp_lo << 8 | r->icmp_hi, h);
			h = hash_str0(r->peer_set, h);
			h = hash_str0(r->port_set, h);
			h = hash_str0(r->named_set, h);
			h = hash_str0(r->prefix, h);
			h = hash_str0(r->target, h);
		}
	}
	free(sets);
	free(chains);
	return rs_bridge_digest(rs, h);
}

int ruleset_alert_pod(const struct ruleset *rs, struct cluster *c, const char *prefix,
		      const struct addr *src, const struct addr *dst, enum netpol_dir *ret_dir,
		      const char **ret_ns, const char **ret_pod)
{
	struct bctx b = { .rs = (struct ruleset *) rs, .c = c, .assume_owned = true };
	char want[RULESET_PREFIX_MAX];
	const struct rs_class *cl;
	const struct pod *p;
	enum netpol_dir d;
	struct buf k;
	int r;

	if (strncmp(prefix, "bh:", 3) != 0 || (prefix[3] != 'i' && prefix[3] != 'e') ||
	    prefix[4] != ':')
		return -ENOENT;
	d = prefix[3] == 'i' ? NETPOL_INGRESS : NETPOL_EGRESS;
	p = cluster_pod_by_addr(c, d == NETPOL_INGRESS ? dst : src);
	if (!p)
		return -ENOENT;
	buf_init(&k, 1 << 20);
	r = rs_class_key(&b, p, d, &k, false);
	cl = !r && k.len ? rs_class_find(&rs->d.cls[d], k.data) : NULL;
	r = cl && strcmp(rs_class_prefix(d, cl->key, want, sizeof(want)), prefix) == 0 ? 0 :
											 -ENOENT;
	buf_done(&k);
	if (r)
		return r;
	*ret_dir = d;
	*ret_ns = p->ns;
	*ret_pod = p->name;
	return 0;
}
