/* The build context of one compile and the predicates it answers
 * (ruleset_bctx.c); private to the compiler. */
#ifndef BH_RULESET_BCTX_H
#define BH_RULESET_BCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "ruleset_int.h"

struct ns_info {
	const char *name;
	size_t first, end; /* pod index range */
	const struct labels *labels;
	struct labels synth; /* when the Namespace object is missing */
};

struct bctx {
	struct ruleset *rs;
	struct cluster *c;
	size_t n_ns;
	struct ns_info *ns;
	struct rs_desc *d; /* where objects go */
	size_t n_active, cap_active;
	struct rs_active *active;
	bool assume_owned; /* incremental: address conflicts ruled out */
	const struct rs_desc *existing; /* shared sets already there */
	bool fill_maps; /* verdict maps get every member, as in a fresh build */
};

void rs_bctx_done(struct bctx *b);

/* A pod that owns addresses: not host-network, with an address, not
 * finished (cluster.h). */
static inline bool pod_known(const struct pod *p)
{
	return !p->host_network && p->n_ips > 0 && !pod_finished(p);
}

int rs_bctx_init(struct bctx *b, struct ruleset *rs, struct cluster *c, struct rs_desc *d);

static inline const struct ns_info *bctx_ns(const struct bctx *b, const char *name)
{
	size_t lo = 0, hi = b->n_ns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(b->ns[mid].name, name);
		if (r == 0)
			return &b->ns[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Address @i of @p is really @p's (a reused address belongs to the pod
 * cluster_pod_by_addr() prefers, as in the engine). */
static inline bool pod_owns_ip(const struct bctx *b, const struct pod *p, size_t i)
{
	const struct pod *o;
	if (b->assume_owned)
		return true;
	o = cluster_pod_by_addr(b->c, &p->ips[i]);
	return o && strcmp(o->ns, p->ns) == 0 && strcmp(o->name, p->name) == 0;
}

static inline bool pod_is_local(const struct bctx *b, const struct pod *p)
{
	return pod_known(p) && p->node && strcmp(p->node, b->rs->node) == 0;
}

/* The compiler's own, over pods that own an address (pod_known()); the
 * engine's engine_peer_selects_pod() is over identities (include/engine.h). */
static inline bool peer_selects(const struct bctx *b, const struct netpol *pol,
				const struct netpol_peer *peer, const struct pod *p)
{
	if (peer->kind != NETPOL_PEER_SELECTOR || !pod_known(p))
		return false;
	if (!peer->pod_sel && !peer->ns_sel)
		return false;
	if (peer->ns_sel) {
		const struct ns_info *ni = bctx_ns(b, p->ns);
		if (!ni || !selector_matches(peer->ns_sel, ni->labels))
			return false;
	} else if (strcmp(p->ns, pol->ns) != 0) {
		return false;
	}
	return !peer->pod_sel || selector_matches(peer->pod_sel, &p->labels);
}

static inline bool policy_isolates(const struct netpol *pol, enum netpol_dir dir,
				   const struct pod *p)
{
	return pol->types[dir] && pod_known(p) && strcmp(pol->ns, p->ns) == 0 &&
	       selector_matches(&pol->pod_sel, &p->labels);
}

/* The engine's ipBlock predicate (include/engine.h says why the selector
 * predicates above stay the compiler's own). */
static inline bool ipblock_contains(const struct netpol_peer *peer, const struct addr *a)
{
	return peer->kind == NETPOL_PEER_IPBLOCK && engine_ipblock_contains(peer, a);
}

int rs_new_set(struct bctx *b, const char *name, enum rs_key key, unsigned flags,
	       struct rs_set **ret);
int rs_new_chain(struct bctx *b, const char *name, const char *hook, struct rs_chain **ret);
int rs_add_rule(struct rs_chain *c, enum rs_rule_kind kind, uint8_t family, bool daddr,
		const char *peer, const char *ports, const char *named, enum rs_verdict v,
		const char *target);

#endif
