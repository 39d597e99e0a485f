/*
 * Policies: one chain per (policy, direction) that isolates a local pod,
 * with its shared peer sets, port sets and named-port sets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "proto.h"
#include "ruleset_interval.h"
#include "ruleset_names.h"
#include "ruleset_policy.h"
#include "str.h"
#include "vec.h"

/*
 * The numeric ports of a rule as one set, named into @name: a hash set of
 * single proto . port elements ("ports") when they number at most
 * RULESET_PORTS_EXPAND_MAX with ranges expanded, else an interval set of
 * the merged ranges ("ranges").  An interval concatenation is a pipapo set
 * in the kernel, whose lookup costs a first packet far more than a hash
 * lookup (docs/enforcer.md, "Port sets").  The two kinds have different
 * names, so a policy edit that moves a rule from one to the other is a new
 * set, new rules and the old set deleted, not a table replace.
 */
static int port_set(struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
		    const struct netpol_rule *rule, char *name, size_t name_len)
{
	struct rs_set *ranges = calloc(1, sizeof(*ranges)), *s;
	uint32_t n_ports = 0;
	bool expand;
	int r;

	if (!ranges)
		return -ENOMEM;
	ranges->key = RS_KEY_PROTO_PORT;
	ranges->flags = RS_SET_INTERVAL;
	r = rs_port_intervals(rule, ranges);
	for (size_t i = 0; !r && i < ranges->n_elems; i++)
		n_ports += (uint32_t) (ranges->elems[i].port_end - ranges->elems[i].port) + 1;
	expand = n_ports <= RULESET_PORTS_EXPAND_MAX;
	if (!r)
		r = rs_policy_set_name(name, name_len, pol, d, ri, expand ? "ports" : "ranges");
	if (!r)
		r = rs_new_set(b, name, RS_KEY_PROTO_PORT, expand ? 0 : RS_SET_INTERVAL, &s);
	for (size_t i = 0; !r && i < ranges->n_elems; i++) {
		struct rs_elem e = ranges->elems[i];
		const uint32_t first = e.port, last = e.port_end;

		if (!expand) {
			r = rs_set_push(s, &e);
			continue;
		}
		for (uint32_t p = first; !r && p <= last; p++) {
			e.port = e.port_end = (uint16_t) p;
			r = rs_set_push(s, &e);
		}
	}
	if (!r)
		rs_set_finish(s);
	rs_set_free(ranges);
	return r;
}

bool rs_rule_has(const struct netpol_rule *r, enum netpol_peer_kind pk, int family)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		if (r->peers[i].kind != pk)
			continue;
		if (pk == NETPOL_PEER_SELECTOR || r->peers[i].cidr.addr.family == family)
			return true;
	}
	return false;
}

bool rs_rule_has_port(const struct netpol_rule *r, bool named)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if ((r->ports[i].kind == NETPOL_PORT_NAME) == named)
			return true;
	return false;
}

/* Elements pod @p contributes to a named-port set of rule @r: its address
 * of @family with every named port entry that resolves on it. */
int rs_named_elems(const struct netpol_rule *r, const struct pod *p, const struct addr *a,
		   struct rs_set *s, bool sorted)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct netpol_port *pp = &r->ports[i];

		if (pp->kind != NETPOL_PORT_NAME)
			continue;
		for (size_t k = 0; k < p->n_ports; k++) {
			const struct container_port *cp = &p->ports[k];
			struct rs_elem e;
			int ret;

			if (!cp->name || strcmp(cp->name, pp->name) != 0 ||
			    cp->protocol != pp->protocol)
				continue;
			elem_addr(&e, a);
			e.proto = cp->protocol;
			e.port = cp->port;
			e.port_end = cp->port;
			ret = sorted ? rs_set_elem_add(s, &e) : rs_set_push(s, &e);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/*
 * Elements pod @p contributes to the pod-dependent sets of rule @ri of
 * policy @pol, direction @d: "pods4/6" (selector peers select it) and,
 * for egress, "named4/6" (its named ports, when a peer matches it).
 * Calls @emit for each (set kind, element).
 */

int rs_pod_contrib(const struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
		   const struct pod *p, contrib_fn *emit, void *ud)
{
	const struct netpol_rule *r = &pol->rules[d][ri];
	bool selected = false;
	int ret;

	if (!pod_known(p))
		return 0;
	for (size_t i = 0; i < r->n_peers && !selected; i++)
		selected = peer_selects(b, pol, &r->peers[i], p);
	for (size_t k = 0; k < p->n_ips; k++) {
		const struct addr *a = &p->ips[k];
		static const char *const pods[] = { "pods4", "pods6" };
		static const char *const named[] = { "named4", "named6" };
		bool match = selected;

		if (!pod_owns_ip(b, p, k))
			continue;
		if (selected) {
			struct rs_elem e;

			elem_addr(&e, a);
			ret = emit(ud, pods[fam_idx(a->family)], &e);
			if (ret < 0)
				return ret;
		}
		if (d != NETPOL_EGRESS || !rs_rule_has_port(r, true))
			continue;
		if (r->n_peers == 0)
			match = true;
		for (size_t i = 0; i < r->n_peers && !match; i++)
			match = ipblock_contains(&r->peers[i], a);
		if (match) {
			struct rs_set tmp = { 0 };

			ret = rs_named_elems(r, p, a, &tmp, false);
			for (size_t i = 0; ret >= 0 && i < tmp.n_elems; i++)
				ret = emit(ud, named[fam_idx(a->family)], &tmp.elems[i]);
			for (size_t i = 0; i < tmp.n_elems; i++)
				rs_elem_done(&tmp.elems[i]);
			free(tmp.elems);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

struct fill_ctx {
	struct rs_set *sets[4]; /* pods4, pods6, named4, named6 */
};

static int fill_cb(void *ud, const char *kind, const struct rs_elem *e)
{
	struct fill_ctx *f = ud;
	int i = strcmp(kind, "pods4") == 0  ? 0 :
		strcmp(kind, "pods6") == 0  ? 1 :
		strcmp(kind, "named4") == 0 ? 2 :
					      3;

	return f->sets[i] ? rs_set_push(f->sets[i], e) : 0;
}

/* The addresses of the pods of namespace @ni that a selector peer of @r
 * selects, into f->sets[0..1]; what rs_pod_contrib() does for "pods4/6".
 * 0, 1 when the rule has too many peers for this path (nothing added), or
 * -ENOMEM. */
static int fill_pods_ns(struct bctx *b, const struct netpol *pol, const struct netpol_rule *r,
			const struct ns_info *ni, struct fill_ctx *f)
{
	const struct netpol_peer *peers[64];
	size_t n = 0;

	for (size_t i = 0; i < r->n_peers; i++) {
		const struct netpol_peer *pe = &r->peers[i];
		bool ok;

		if (pe->kind != NETPOL_PEER_SELECTOR || (!pe->pod_sel && !pe->ns_sel))
			continue;
		ok = pe->ns_sel ? selector_matches(pe->ns_sel, ni->labels) :
				  strcmp(ni->name, pol->ns) == 0;
		if (!ok)
			continue;
		if (n == BH_ARRAY_SIZE(peers))
			return 1; /* that many peers: the per-pod path below */
		peers[n++] = pe;
	}
	for (size_t i = ni->first; n && i < ni->end; i++) {
		const struct pod *p = &b->c->pods[i];
		bool sel = false;

		if (!pod_known(p))
			continue;
		for (size_t k = 0; k < n && !sel; k++)
			sel = !peers[k]->pod_sel || selector_matches(peers[k]->pod_sel, &p->labels);
		for (size_t k = 0; sel && k < p->n_ips; k++) {
			struct rs_set *s = f->sets[fam_idx(p->ips[k].family)];
			struct rs_elem e;
			int r2;

			if (!s || !pod_owns_ip(b, p, k))
				continue;
			elem_addr(&e, &p->ips[k]);
			r2 = rs_set_push(s, &e);
			if (r2 < 0)
				return r2;
		}
	}
	return 0;
}

/* Scans the pods a rule's peers can match (per-namespace ranges when every
 * peer is a selector peer, all pods otherwise). */
static int rule_fill_pods(struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
			  struct fill_ctx *f)
{
	const struct netpol_rule *r = &pol->rules[d][ri];
	bool all = r->n_peers == 0 || (d == NETPOL_EGRESS && rs_rule_has_port(r, true) &&
				       (rs_rule_has(r, NETPOL_PEER_IPBLOCK, AF_INET) ||
					rs_rule_has(r, NETPOL_PEER_IPBLOCK, AF_INET6)));
	int ret;

	if (!f->sets[0] && !f->sets[1] && !f->sets[2] && !f->sets[3])
		return 0;
	for (size_t n = 0; n < b->n_ns; n++) {
		const struct ns_info *ni = &b->ns[n];
		bool want = all;

		for (size_t i = 0; i < r->n_peers && !want; i++) {
			const struct netpol_peer *pe = &r->peers[i];

			if (pe->kind != NETPOL_PEER_SELECTOR || (!pe->pod_sel && !pe->ns_sel))
				continue;
			if (pe->ns_sel)
				want = selector_matches(pe->ns_sel, ni->labels);
			else
				want = strcmp(ni->name, pol->ns) == 0;
		}
		if (!want)
			continue;
		/* Pod-address sets only (the common case): the namespace half
		 * of each peer is decided once per namespace, not per pod. */
		if (!f->sets[2] && !f->sets[3]) {
			ret = fill_pods_ns(b, pol, r, ni, f);
			if (ret < 0)
				return ret;
			if (ret == 0)
				continue;
		}
		for (size_t i = ni->first; i < ni->end; i++) {
			ret = rs_pod_contrib(b, pol, d, ri, &b->c->pods[i], fill_cb, f);
			if (ret < 0)
				return ret;
		}
	}
	for (int i = 0; i < 4; i++)
		if (f->sets[i])
			rs_set_finish(f->sets[i]);
	return 0;
}

static int sel_key(struct buf *o, const struct selector *s)
{
	int r = buf_printf(o, "{");

	for (size_t i = 0; !r && i < s->match_labels.n; i++)
		r = buf_printf(o, "%s=%s,", s->match_labels.v[i].key, s->match_labels.v[i].value);
	for (size_t i = 0; !r && i < s->n_reqs; i++) {
		r = buf_printf(o, ";%s %s", s->reqs[i].key, selector_op_name(s->reqs[i].op));
		for (size_t k = 0; !r && k < s->reqs[i].n_values; k++)
			r = buf_printf(o, " %s", s->reqs[i].values[k]);
	}
	return r ? r : buf_printf(o, "}");
}

/*
 * Names of the shared pod-address sets (or, @named, egress named-port
 * sets) of a rule: a hash of the rule's peers in its namespace (and named
 * ports), so every rule selecting the same pods uses one set.
 */
int rs_shared_names(const struct netpol *pol, const struct netpol_rule *r, bool named,
		    char names[2][RULESET_NAME_MAX])
{
	struct buf k;
	int ret;
	unsigned long long h;

	buf_init(&k, 1 << 20);
	ret = buf_printf(&k, "%s|", named ? "named" : "pods");
	for (size_t i = 0; !ret && i < r->n_peers; i++) {
		const struct netpol_peer *pe = &r->peers[i];
		char c[ADDR_STR_MAX];

		if (pe->kind == NETPOL_PEER_SELECTOR) {
			if (!pe->pod_sel && !pe->ns_sel) {
				ret = buf_printf(&k, "S:none|");
				continue;
			}
			ret = pe->ns_sel ? sel_key(&k, pe->ns_sel) :
					   buf_printf(&k, "ns=%s", pol->ns);
			if (!ret)
				ret = pe->pod_sel ? sel_key(&k, pe->pod_sel) : buf_printf(&k, "*");
			if (!ret)
				ret = buf_printf(&k, "|");
		} else if (named) {
			ret = buf_printf(&k, "B:%s", cidr_format(&pe->cidr, c, sizeof(c)));
			for (size_t x = 0; !ret && x < pe->n_except; x++)
				ret = buf_printf(&k, "-%s",
						 cidr_format(&pe->except[x], c, sizeof(c)));
			if (!ret)
				ret = buf_printf(&k, "|");
		}
	}
	if (!ret && named) {
		ret = buf_printf(&k, r->n_peers ? "#" : "ALL#");
		for (size_t i = 0; !ret && i < r->n_ports; i++)
			if (r->ports[i].kind == NETPOL_PORT_NAME)
				ret = buf_printf(&k, "%s/%u,", r->ports[i].name,
						 r->ports[i].protocol);
	}
	if (ret) {
		buf_done(&k);
		return ret;
	}
	h = (unsigned long long) hash_bytes(k.data, k.len, 0x73657473);
	buf_done(&k);
	(void) snprintf(names[0], RULESET_NAME_MAX, "s/%016llx/%s", h, named ? "named4" : "pods4");
	(void) snprintf(names[1], RULESET_NAME_MAX, "s/%016llx/%s", h, named ? "named6" : "pods6");
	return 0;
}

/* Counts one more rule using the shared sets @names, recording their
 * definition the first time. */
int rs_def_use(struct rs_desc *d, char names[2][RULESET_NAME_MAX], bool named,
	       const struct netpol *pol, enum netpol_dir dir, size_t rule)
{
	struct rs_setdef *def;
	size_t i;

	if (rs_name_map_get(&d->def_idx, names[0], &i)) {
		d->defs[i].refs++;
		return 0;
	}
	if (d->n_defs == d->cap_defs) {
		struct rs_setdef *v = vec_grow(d->defs, &d->cap_defs, d->n_defs + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->defs = v;
		/* The map borrows the names, which do not move. */
	}
	def = &d->defs[d->n_defs];
	*def = (struct rs_setdef){ .named = named, .dir = dir, .rule = rule, .refs = 1 };
	def->name[0] = strdup(names[0]);
	def->name[1] = strdup(names[1]);
	def->pns = strdup(pol->ns);
	def->pname = strdup(pol->name);
	if (!def->name[0] || !def->name[1] || !def->pns || !def->pname ||
	    rs_name_map_put(&d->def_idx, def->name[0], d->n_defs) < 0) {
		free(def->name[0]);
		free(def->name[1]);
		free(def->pns);
		free(def->pname);
		return -ENOMEM;
	}
	d->n_defs++;
	return 0;
}

/*
 * The chain and sets of policy @pol for direction @d.  @local lists the
 * local pods it isolates (for ingress named ports).
 */
int rs_build_policy(struct bctx *b, const struct netpol *pol, enum netpol_dir d,
		    const struct pod *const *local, size_t n_local)
{
	char cname[RULESET_NAME_MAX];
	const enum rs_verdict v = d == NETPOL_INGRESS ? RS_VERDICT_ACCEPT : RS_VERDICT_GOTO;
	const char *target = d == NETPOL_INGRESS ? NULL : "ingress";
	const bool peer_daddr = d == NETPOL_EGRESS;
	struct rs_chain *ch;
	int r;

	r = ruleset_policy_chain_name(cname, sizeof(cname), pol->ns, pol->name, d);
	if (r < 0)
		return r;
	r = rs_new_chain(b, cname, NULL, &ch);
	if (r < 0)
		return r;
	for (size_t ri = 0; ri < pol->n_rules[d]; ri++) {
		const struct netpol_rule *rule = &pol->rules[d][ri];
		bool has_num = rs_rule_has_port(rule, false),
		     has_named = rs_rule_has_port(rule, true);
		/* Egress rules with only named ports match through the named
		 * sets alone: no peer set is needed. */
		bool peers_used = d == NETPOL_INGRESS || has_num || rule->n_ports == 0;
		bool has_sel = peers_used && rs_rule_has(rule, NETPOL_PEER_SELECTOR, 0);
		char ports[RULESET_NAME_MAX] = "";
		char shpods[2][RULESET_NAME_MAX], shnamed[2][RULESET_NAME_MAX];
		struct fill_ctx f = { 0 };

		if (has_sel) {
			r = rs_shared_names(pol, rule, false, shpods);
			if (!r)
				r = rs_def_use(b->d, shpods, false, pol, d, ri);
			if (r < 0)
				return r;
		}
		if (has_named && d == NETPOL_EGRESS) {
			r = rs_shared_names(pol, rule, true, shnamed);
			if (!r)
				r = rs_def_use(b->d, shnamed, true, pol, d, ri);
			if (r < 0)
				return r;
		}

		if (has_num) {
			r = port_set(b, pol, d, ri, rule, ports, sizeof(ports));
			if (r < 0)
				return r;
		}
		for (int fam = 0; fam < 2; fam++) {
			const int family = fam ? AF_INET6 : AF_INET;
			const char *srcs[2];
			char pods[RULESET_NAME_MAX], cidr[RULESET_NAME_MAX],
				named[RULESET_NAME_MAX];
			size_t n_src = 0;

			if (has_named && d == NETPOL_EGRESS) {
				struct rs_set *s;

				memcpy(named, shnamed[fam], sizeof(named));
				if (!rs_desc_set(b->d, named) &&
				    !(b->existing && rs_desc_set(b->existing, named))) {
					r = rs_new_set(b, named,
						       fam ? RS_KEY_ADDR6_PROTO_PORT :
							     RS_KEY_ADDR4_PROTO_PORT,
						       0, &s);
					if (r < 0)
						return r;
					f.sets[2 + fam] = s;
				}
			} else if (has_named) {
				struct rs_set *s;

				r = rs_policy_set_name(named, sizeof(named), pol, d, ri,
						       fam ? "named6" : "named4");
				if (r < 0)
					return r;
				r = rs_new_set(b, named,
					       fam ? RS_KEY_ADDR6_PROTO_PORT :
						     RS_KEY_ADDR4_PROTO_PORT,
					       0, &s);
				if (r < 0)
					return r;
				if (d == NETPOL_INGRESS) {
					for (size_t k = 0; k < n_local; k++) {
						const struct pod *p = local[k];

						for (size_t j = 0; j < p->n_ips; j++) {
							if (p->ips[j].family != family ||
							    !pod_owns_ip(b, p, j))
								continue;
							r = rs_named_elems(rule, p, &p->ips[j], s,
									   false);
							if (r < 0)
								return r;
						}
					}
					rs_set_finish(s);
				} else {
					f.sets[2 + fam] = s;
				}
			}
			if (has_sel) {
				struct rs_set *s;

				memcpy(pods, shpods[fam], sizeof(pods));
				if (!rs_desc_set(b->d, pods) &&
				    !(b->existing && rs_desc_set(b->existing, pods))) {
					r = rs_new_set(b, pods, fam ? RS_KEY_ADDR6 : RS_KEY_ADDR4,
						       0, &s);
					if (r < 0)
						return r;
					f.sets[fam] = s;
				}
				srcs[n_src++] = pods;
			}
			if (peers_used && rs_rule_has(rule, NETPOL_PEER_IPBLOCK, family)) {
				struct rs_set *s;

				r = rs_policy_set_name(cidr, sizeof(cidr), pol, d, ri,
						       fam ? "cidr6" : "cidr4");
				if (r < 0)
					return r;
				r = rs_new_set(b, cidr, fam ? RS_KEY_ADDR6 : RS_KEY_ADDR4,
					       RS_SET_INTERVAL, &s);
				if (r < 0)
					return r;
				r = rs_cidr_intervals(rule, family, s);
				if (r < 0)
					return r;
				srcs[n_src++] = cidr;
			}
			if (rule->n_peers == 0) {
				/* Any peer: family matters only for named ports. */
				if (fam == 0 && (has_num || rule->n_ports == 0)) {
					r = rs_add_rule(ch, RS_RULE_ALLOW, 0, peer_daddr, NULL,
							has_num ? ports : NULL, NULL, v, target);
					if (r < 0)
						return r;
				}
				if (has_named) {
					r = rs_add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, NULL,
							NULL, named, v, target);
					if (r < 0)
						return r;
				}
				continue;
			}
			for (size_t k = 0; k < n_src; k++) {
				if (has_num || rule->n_ports == 0) {
					r = rs_add_rule(ch, RS_RULE_ALLOW, family, peer_daddr,
							srcs[k], has_num ? ports : NULL, NULL, v,
							target);
					if (r < 0)
						return r;
				}
				if (has_named && d == NETPOL_INGRESS) {
					r = rs_add_rule(ch, RS_RULE_ALLOW, family, peer_daddr,
							srcs[k], NULL, named, v, target);
					if (r < 0)
						return r;
				}
			}
			/* Egress named ports: the set holds only the peer pods'
			 * resolved ports, so it is the whole match. */
			if (has_named && d == NETPOL_EGRESS) {
				r = rs_add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, NULL, NULL,
						named, v, target);
				if (r < 0)
					return r;
			}
		}
		r = rule_fill_pods(b, pol, d, ri, &f);
		if (r < 0)
			return r;
	}
	return 0;
}

int rs_final_verdict(const struct ruleset *rs, struct rs_chain *ch, const char *prefix,
		     enum netpol_dir d, bool preview)
{
	/*
	 * What passes in preview is accepted, except what an egress class
	 * passes while the ruleset enforces (a proposal in preview): the
	 * destination's ingress, which may be a cluster policy's, decides
	 * it next, as an allow rule of an egress policy chain does.  The
	 * last rule passes what the log limit leaves.
	 */
	bool to_ingress = d == NETPOL_EGRESS && rs->mode == BH_MODE_ENFORCE;
	enum rs_verdict pass = to_ingress ? RS_VERDICT_GOTO : RS_VERDICT_ACCEPT;
	char *target = to_ingress ? (char *) "ingress" : NULL;
	int r;

	/* What reaches the verdict: the deciding policy's dropped (or
	 * would-deny) packets, read by nftio_counters(). */
	r = rs_add_rule(ch, RS_RULE_COUNTER, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT, NULL);
	if (r < 0)
		return r;
	if (rs->mode == BH_MODE_ENFORCE && !preview)
		return rs_add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_DROP,
				   NULL);
	for (int fam = 0; fam < 2; fam++) {
		struct rs_rule rr = {
			.kind = RS_RULE_SEEN_SKIP,
			.family = fam ? AF_INET6 : AF_INET,
			.peer_set = (char *) (fam ? "seen6" : "seen4"),
			.verdict = pass,
			.target = target,
		};

		r = rs_chain_add_rule(ch, &rr);
		if (r < 0)
			return r;
	}
	for (int fam = 0; fam < 2; fam++) {
		struct rs_rule rr = {
			.kind = RS_RULE_SEEN_LOG,
			.family = fam ? AF_INET6 : AF_INET,
			.peer_set = (char *) (fam ? "seen6" : "seen4"),
			.prefix = (char *) prefix,
			.group = rs->group,
			.verdict = pass,
			.target = target,
		};

		r = rs_chain_add_rule(ch, &rr);
		if (r < 0)
			return r;
	}
	{
		/* A full seen set makes the `add` above fail, which ends
		 * its rule before the log: without this rule a scan that
		 * fills it would blind preview for a minute. */
		struct rs_rule rr = {
			.kind = RS_RULE_LOG_LIMIT,
			.prefix = (char *) prefix,
			.group = rs->group,
			.verdict = pass,
			.target = target,
		};

		r = rs_chain_add_rule(ch, &rr);
	}
	if (!r && to_ingress)
		r = rs_add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, pass, target);
	return r;
}

int rs_active_mark(struct bctx *b, const struct netpol *pol, enum netpol_dir d)
{
	for (size_t i = 0; i < b->n_active; i++) {
		if (strcmp(b->active[i].ns, pol->ns) == 0 &&
		    strcmp(b->active[i].name, pol->name) == 0) {
			b->active[i].dir[d] = true;
			return 0;
		}
	}
	if (b->n_active == b->cap_active) {
		struct rs_active *v =
			vec_grow(b->active, &b->cap_active, b->n_active + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->active = v;
	}
	b->active[b->n_active] = (struct rs_active){ 0 };
	b->active[b->n_active].ns = strdup(pol->ns);
	b->active[b->n_active].name = strdup(pol->name);
	if (!b->active[b->n_active].ns || !b->active[b->n_active].name) {
		free(b->active[b->n_active].ns);
		free(b->active[b->n_active].name);
		return -ENOMEM;
	}
	b->active[b->n_active++].dir[d] = true;
	return 0;
}
