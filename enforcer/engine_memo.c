/*
 * The engine memo (see include/engine_memo.h for what makes two endpoints
 * one class).  Classes of pods are found once, in engine_memo_new(); ends
 * that are no pod get an id per (address, node) as they are asked for;
 * verdicts live in an open-addressing table keyed by the pair of classes.
 * Both tables are on the hot path (one lookup per flow of propose's
 * self-check, per cell of check's tables) and keyed by small fixed structs,
 * so they are kept here rather than in lib/hmap.c's byte-keyed map.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_memo.h"
#include "hash.h"
#include "vec.h"

/* Ids of ends that are no pod start here; pod classes stay below. */
#define MEMO_ADDR_ID (UINT32_C(1) << 31)

struct memo_key {
	uint32_t src, dst; /* class or address id; src 0: empty slot */
	uint16_t port;
	uint8_t proto;
	uint8_t family[2]; /* of the source's and the destination's address
			      (a pod's class holds what ipBlocks see per family) */
	bool local; /* the source is a node address on the destination's node */
};

struct memo_slot {
	struct memo_key k;
	bool allowed;
	bool explained; /* the fields below are set */
	uint8_t dir, reason;
	size_t policy;
};

struct addr_slot {
	struct addr a;
	const char *node; /* borrowed from the cluster */
	uint32_t id; /* MEMO_ADDR_ID + index; 0: empty slot */
};

struct engine_memo {
	struct cluster *c;
	struct cluster *own; /* the copy, when policies were given */
	struct engine *e;
	uint32_t *cls; /* per pod: class, 0 none */
	size_t n_cls;
	struct memo_slot *slots;
	size_t n, n_slots; /* a power of two */
	struct addr_slot *addrs;
	size_t n_addrs, n_addr_slots; /* a power of two */
	uint64_t seed;
	uint64_t hits, misses;
};

struct engine_memo *engine_memo_free(struct engine_memo *m)
{
	if (!m)
		return NULL;
	engine_free(m->e);
	cluster_free(m->own);
	free(m->cls);
	free(m->slots);
	free(m->addrs);
	free(m);
	return NULL;
}

struct engine *engine_memo_engine(const struct engine_memo *m)
{
	return m->e;
}

struct cluster *engine_memo_cluster(const struct engine_memo *m)
{
	return m->c;
}

uint32_t engine_memo_pod_class(const struct engine_memo *m, size_t pod_idx)
{
	return m->cls[pod_idx];
}

void engine_memo_stats(const struct engine_memo *m, struct engine_memo_stats *ret)
{
	*ret = (struct engine_memo_stats){
		.hits = m->hits, .misses = m->misses, .n_classes = m->n_cls, .n_entries = m->n
	};
}

/* ---- classes of pods ---- */

static int cidr_group_cmp(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return memcmp(x->addr.b, y->addr.b, sizeof(x->addr.b));
}

struct ipblocks {
	struct cidr *cidrs; /* sorted by cidr_group_cmp */
	size_t n;
	const struct netpol_peer **peers; /* the ipBlock peers, n of them */
	size_t *groups; /* start of each run of one family and length, and n */
	size_t n_groups;
};

static void ipblocks_done(struct ipblocks *b)
{
	free(b->cidrs);
	free(b->peers);
	free(b->groups);
}

typedef void peer_fn(const struct netpol_peer *pe, void *userdata);

static void peers_for_each(const struct cluster *c, peer_fn *fn, void *userdata)
{
	for (size_t i = 0; i < c->n_policies; i++) {
		const struct netpol *np = &c->policies[i];

		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			for (size_t k = 0; k < np->n_rules[d]; k++)
				for (size_t j = 0; j < np->rules[d][k].n_peers; j++)
					fn(&np->rules[d][k].peers[j], userdata);
	}
}

static void ipblock_count_cb(const struct netpol_peer *pe, void *userdata)
{
	*(size_t *) userdata += pe->kind == NETPOL_PEER_IPBLOCK;
}

static void ipblock_add_cb(const struct netpol_peer *pe, void *userdata)
{
	struct ipblocks *b = userdata;

	if (pe->kind != NETPOL_PEER_IPBLOCK)
		return;
	b->peers[b->n] = pe;
	b->cidrs[b->n++] = pe->cidr;
}

/* Every ipBlock peer of @c's policies. */
static int ipblocks_collect(const struct cluster *c, struct ipblocks *ret)
{
	struct ipblocks b = { 0 };
	size_t n = 0;

	peers_for_each(c, ipblock_count_cb, &n);
	b.cidrs = calloc(n + 1, sizeof(*b.cidrs));
	b.peers = calloc(n + 1, sizeof(*b.peers));
	b.groups = calloc(n + 1, sizeof(*b.groups));
	if (!b.cidrs || !b.peers || !b.groups) {
		ipblocks_done(&b);
		return -ENOMEM;
	}
	peers_for_each(c, ipblock_add_cb, &b);
	if (b.n)
		qsort(b.cidrs, b.n, sizeof(*b.cidrs), cidr_group_cmp);
	for (size_t i = 0; i < b.n; i++)
		if (!i || b.cidrs[i].addr.family != b.cidrs[i - 1].addr.family ||
		    b.cidrs[i].plen != b.cidrs[i - 1].plen)
			b.groups[b.n_groups++] = i;
	b.groups[b.n_groups] = b.n;
	*ret = b;
	return 0;
}

/* Is @a inside the cidr of an ipBlock of @b?  Each prefix length is one
 * binary search of @a's prefix of that length. */
static bool ipblocks_contain(const struct ipblocks *b, const struct addr *a)
{
	for (size_t g = 0; g < b->n_groups; g++) {
		const struct cidr *first = &b->cidrs[b->groups[g]];
		struct cidr key = { .addr = { .family = first->addr.family }, .plen = first->plen };

		if (first->addr.family != a->family)
			continue;
		for (unsigned k = 0; k < first->plen && k < 128; k += 8) {
			unsigned bits = first->plen - k < 8 ? first->plen - k : 8;

			key.addr.b[k / 8] = (uint8_t) (a->b[k / 8] & (0xff00u >> bits));
		}
		if (bsearch(&key, first, b->groups[g + 1] - b->groups[g], sizeof(key),
			    cidr_group_cmp))
			return true;
	}
	return false;
}

/*
 * What the ipBlocks see of a pod: per family, the ipBlock peers (indexes
 * into b->peers) matching its address of that family.  Pods with equal
 * lists are alike to every ipBlock, whichever of their addresses an
 * endpoint carries.
 */
struct ipsig {
	size_t off, n[2]; /* into the flat list: n[0] IPv4 matches, then n[1] IPv6 */
	uint64_t hash;
	bool mixed; /* two addresses of one family match differently: no class */
};

static int ipsig_of(const struct ipblocks *b, const struct pod *p, uint32_t **flat, size_t *n_flat,
		    size_t *cap, uint64_t seed, struct ipsig *ret)
{
	struct ipsig sg = { .off = *n_flat, .hash = seed };

	for (int f = 0; f < 2; f++) {
		const int family = f ? AF_INET6 : AF_INET;
		bool seen = false;
		size_t first = 0; /* where the family's first list starts */

		for (size_t a = 0; a < p->n_ips; a++) {
			const struct addr *ip = &p->ips[a];
			size_t start = *n_flat, n = 0;

			if (ip->family != family)
				continue;
			if (ipblocks_contain(b, ip))
				for (size_t j = 0; j < b->n; j++) {
					if (!engine_ipblock_contains(b->peers[j], ip))
						continue;
					if (*n_flat == *cap) {
						uint32_t *v = vec_grow(*flat, cap, *n_flat + 1,
								       sizeof(*v));

						if (!v)
							return -ENOMEM;
						*flat = v;
					}
					(*flat)[(*n_flat)++] = (uint32_t) j;
					n++;
				}
			if (!seen) {
				sg.n[f] = n;
				first = start;
				seen = true;
				continue;
			}
			/* A second address of the family: the same list, or no class. */
			if (n != sg.n[f] ||
			    (n && memcmp(*flat + start, *flat + first, n * sizeof(**flat)) != 0))
				sg.mixed = true;
			*n_flat = start;
		}
	}
	sg.hash = sg.n[0] + sg.n[1] ?
			  hash_bytes(*flat + sg.off, (sg.n[0] + sg.n[1]) * sizeof(**flat),
				     seed + sg.n[0]) :
			  hash_bytes(NULL, 0, seed);
	*ret = sg;
	return 0;
}

struct keys {
	const char **v;
	size_t n;
};

static void selector_keys_add(const struct selector *sel, struct keys *k)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		if (k->v)
			k->v[k->n] = sel->match_labels.v[i].key;
		k->n++;
	}
	for (size_t i = 0; i < sel->n_reqs; i++) {
		if (k->v)
			k->v[k->n] = sel->reqs[i].key;
		k->n++;
	}
}

static void peer_keys_cb(const struct netpol_peer *pe, void *userdata)
{
	selector_keys_add(pe->pod_sel, userdata);
}

/* Counts the keys into k->n, or stores them too when k->v is set. */
static void selector_keys_walk(const struct cluster *c, struct keys *k)
{
	for (size_t i = 0; i < c->n_policies; i++)
		selector_keys_add(&c->policies[i].pod_sel, k);
	peers_for_each(c, peer_keys_cb, k);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The label keys any pod selector of @c's policies looks at (borrowed,
 * sorted, unique): no selector can tell apart pods that agree on these. */
static int selector_keys_collect(const struct cluster *c, const char ***ret, size_t *ret_n)
{
	struct keys k = { 0 };
	size_t out = 0;

	selector_keys_walk(c, &k);
	k.v = calloc(k.n + 1, sizeof(*k.v));
	if (!k.v)
		return -ENOMEM;
	k.n = 0;
	selector_keys_walk(c, &k);
	if (k.n)
		qsort(k.v, k.n, sizeof(*k.v), str_ptr_cmp);
	for (size_t i = 0; i < k.n; i++)
		if (!out || strcmp(k.v[out - 1], k.v[i]) != 0)
			k.v[out++] = k.v[i];
	*ret = k.v;
	*ret_n = out;
	return 0;
}

struct class_keys {
	const char **v; /* borrowed from the policies */
	size_t n;
	uint64_t seed;
	const struct ipsig *sig; /* per pod */
	const uint32_t *flat; /* the signatures' lists */
};

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static uint64_t pod_class_hash(const struct class_keys *ck, size_t idx, const struct pod *p)
{
	uint64_t h = hash_str(p->ns, ck->seed ^ ck->sig[idx].hash);

	for (size_t i = 0; i < ck->n; i++) {
		const char *v = labels_get(&p->labels, ck->v[i]);

		h = v ? hash_str(v, h + 1) : h + 2;
	}
	for (size_t i = 0; i < p->n_ports; i++)
		h = hash_bytes(&p->ports[i].port, sizeof(p->ports[i].port),
			       h + p->ports[i].protocol);
	return h;
}

static bool pod_class_eq(const struct class_keys *ck, size_t ia, const struct pod *a, size_t ib,
			 const struct pod *b)
{
	const struct ipsig *x = &ck->sig[ia], *y = &ck->sig[ib];

	/* No ipBlock matched either pod: the lists are empty (and the flat
	 * array may be NULL). */
	if (x->n[0] != y->n[0] || x->n[1] != y->n[1] ||
	    (x->n[0] + x->n[1] &&
	     memcmp(ck->flat + x->off, ck->flat + y->off, (x->n[0] + x->n[1]) * sizeof(*ck->flat))))
		return false;
	if (strcmp(a->ns, b->ns) != 0 || a->n_ports != b->n_ports)
		return false;
	for (size_t i = 0; i < ck->n; i++)
		if (!str_same(labels_get(&a->labels, ck->v[i]), labels_get(&b->labels, ck->v[i])))
			return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].port != b->ports[i].port ||
		    a->ports[i].protocol != b->ports[i].protocol ||
		    !str_same(a->ports[i].name, b->ports[i].name))
			return false;
	return true;
}

static int memo_classes(struct engine_memo *m)
{
	const struct cluster *c = m->c;
	struct ipblocks blocks = { 0 };
	struct class_keys ck = { .seed = m->seed };
	size_t n_tab = 16;
	uint32_t *tab = NULL; /* class representatives: pod index + 1 */
	struct ipsig *sig = NULL;
	uint32_t *flat = NULL;
	size_t n_flat = 0, cap_flat = 0;
	int r;

	r = ipblocks_collect(c, &blocks);
	if (r == 0)
		r = selector_keys_collect(c, &ck.v, &ck.n);
	if (r < 0)
		goto out;
	while (n_tab < 2 * c->n_pods)
		n_tab *= 2;
	m->cls = calloc(c->n_pods ? c->n_pods : 1, sizeof(*m->cls));
	tab = calloc(n_tab, sizeof(*tab));
	sig = calloc(c->n_pods ? c->n_pods : 1, sizeof(*sig));
	if (!m->cls || !tab || !sig) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_pods; i++) {
		r = ipsig_of(&blocks, &c->pods[i], &flat, &n_flat, &cap_flat, m->seed, &sig[i]);
		if (r < 0)
			goto out;
	}
	ck.sig = sig;
	ck.flat = flat;
	for (size_t i = 0; i < c->n_pods && m->n_cls < MEMO_ADDR_ID - 1; i++) {
		const struct pod *p = &c->pods[i];
		size_t k;

		if (p->host_network || sig[i].mixed)
			continue;
		for (k = pod_class_hash(&ck, i, p) & (n_tab - 1); tab[k]; k = (k + 1) & (n_tab - 1))
			if (pod_class_eq(&ck, i, p, tab[k] - 1, &c->pods[tab[k] - 1])) {
				m->cls[i] = m->cls[tab[k] - 1];
				break;
			}
		if (!tab[k]) {
			tab[k] = (uint32_t) i + 1;
			m->cls[i] = (uint32_t) ++m->n_cls;
		}
	}
	r = 0;
out:
	free(ck.v);
	free(tab);
	free(sig);
	free(flat);
	ipblocks_done(&blocks);
	return r;
}

/* A copy of @c whose policies are @pol's alone. */
static int cluster_with_policies(const struct cluster *c, const struct engine_memo_policies *pol,
				 struct cluster **ret)
{
	struct cluster *cc = NULL;
	int r = cluster_copy(c, &cc);

	if (r < 0)
		return r;
	for (size_t i = 0; i < cc->n_policies; i++)
		netpol_done(&cc->policies[i]);
	cc->n_policies = 0;
	for (size_t i = 0; i < pol->n; i++) {
		struct netpol np;

		netpol_init(&np);
		r = netpol_copy(&np, pol->v[i]);
		if (r < 0) {
			netpol_done(&np);
			goto fail;
		}
		r = cluster_policy_put(cc, &np);
		if (r < 0)
			goto fail;
	}
	*ret = cc;
	return 0;
fail:
	cluster_free(cc);
	return r;
}

int engine_memo_new(struct cluster *c, const struct engine_memo_policies *pol,
		    struct engine_memo **ret)
{
	struct engine_memo *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->seed = hash_seed_random();
	m->c = c;
	if (pol) {
		r = cluster_with_policies(c, pol, &m->own);
		if (r < 0)
			goto fail;
		m->c = m->own;
	}
	r = engine_new(m->c, &m->e);
	if (r == 0)
		r = memo_classes(m);
	if (r < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	engine_memo_free(m);
	return r;
}

/* ---- ids of ends ---- */

static uint64_t addr_hash(const struct engine_memo *m, const struct addr *a, const char *node)
{
	uint64_t h = hash_bytes(a, sizeof(*a), m->seed);

	return node ? hash_str(node, h) : h;
}

static struct addr_slot *addr_slot_of(const struct engine_memo *m, const struct addr *a,
				      const char *node)
{
	size_t i = addr_hash(m, a, node) & (m->n_addr_slots - 1);

	while (m->addrs[i].id && !(addr_eq(&m->addrs[i].a, a) && str_same(m->addrs[i].node, node)))
		i = (i + 1) & (m->n_addr_slots - 1);
	return &m->addrs[i];
}

/* The id of an end that is no pod, or 0 (not remembered) without memory. */
static uint32_t memo_addr_id(struct engine_memo *m, const struct addr *a, const char *node)
{
	struct addr_slot *s;

	if (m->n_addr_slots) {
		s = addr_slot_of(m, a, node);
		if (s->id)
			return s->id;
	}
	if (m->n_addrs >= MEMO_ADDR_ID - 1)
		return 0;
	if ((m->n_addrs + 1) * 2 > m->n_addr_slots) {
		size_t ns = m->n_addr_slots ? 2 * m->n_addr_slots : 256;
		struct addr_slot *old = m->addrs;
		size_t n_old = m->n_addr_slots;

		m->addrs = calloc(ns, sizeof(*m->addrs));
		if (!m->addrs) {
			m->addrs = old;
			return 0;
		}
		m->n_addr_slots = ns;
		for (size_t i = 0; i < n_old; i++)
			if (old[i].id)
				*addr_slot_of(m, &old[i].a, old[i].node) = old[i];
		free(old);
	}
	s = addr_slot_of(m, a, node);
	*s = (struct addr_slot){ .a = *a,
				 .node = node,
				 .id = MEMO_ADDR_ID + (uint32_t) m->n_addrs++ };
	return s->id;
}

/* The id of endpoint @ep: its pod's class, or its address's id; 0 when it
 * must be asked of the engine every time. */
static uint32_t memo_ep_id(struct engine_memo *m, const struct engine_ep *ep)
{
	if (ep->pod)
		return m->cls[(size_t) (ep->pod - m->c->pods)];
	return memo_addr_id(m, &ep->addr, ep->node);
}

/* Ingress from a node address into a pod of that node is always allowed
 * (engine.h): the one thing of a pod's node a verdict depends on. */
static bool memo_local(const struct engine_ep *src, const struct engine_ep *dst)
{
	return !src->pod && src->node && dst->pod && dst->pod->node &&
	       strcmp(src->node, dst->pod->node) == 0;
}

static bool memo_key_of(struct engine_memo *m, const struct engine_ep *src,
			const struct engine_ep *dst, uint8_t proto, uint16_t port,
			struct memo_key *ret)
{
	*ret = (struct memo_key){ .src = memo_ep_id(m, src),
				  .port = port,
				  .proto = proto,
				  .family = { src->addr.family, dst->addr.family },
				  .local = memo_local(src, dst) };
	if (ret->src)
		ret->dst = memo_ep_id(m, dst);
	return ret->src && ret->dst;
}

/* ---- verdicts ---- */

static uint64_t memo_hash(const struct engine_memo *m, const struct memo_key *k)
{
	uint64_t w[2] = { (uint64_t) k->src << 32 | k->dst,
			  (uint64_t) k->port << 24 | (uint64_t) k->proto << 16 |
				  (uint64_t) k->family[0] << 40 | (uint64_t) k->family[1] << 8 |
				  k->local };

	return hash_bytes(w, sizeof(w), m->seed);
}

static bool memo_key_eq(const struct memo_key *a, const struct memo_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->port == b->port && a->proto == b->proto &&
	       a->family[0] == b->family[0] && a->family[1] == b->family[1] && a->local == b->local;
}

/* The slot of @k: the one remembering it, or the empty one to fill. */
static struct memo_slot *memo_slot_of(const struct engine_memo *m, const struct memo_key *k)
{
	size_t i = memo_hash(m, k) & (m->n_slots - 1);

	while (m->slots[i].k.src && !memo_key_eq(&m->slots[i].k, k))
		i = (i + 1) & (m->n_slots - 1);
	return &m->slots[i];
}

static struct memo_slot *memo_find(const struct engine_memo *m, const struct memo_key *k)
{
	struct memo_slot *s;

	if (!m->n_slots)
		return NULL;
	s = memo_slot_of(m, k);
	return s->k.src ? s : NULL;
}

/* Remembers @s (not yet remembered); without memory it is simply not
 * remembered and NULL is returned. */
static struct memo_slot *memo_put(struct engine_memo *m, const struct memo_slot *s)
{
	struct memo_slot *slot;

	if ((m->n + 1) * 2 > m->n_slots) {
		size_t ns = m->n_slots ? 2 * m->n_slots : 1024;
		struct memo_slot *old = m->slots;
		size_t n_old = m->n_slots;

		m->slots = calloc(ns, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			return NULL;
		}
		m->n_slots = ns;
		for (size_t i = 0; i < n_old; i++)
			if (old[i].k.src)
				*memo_slot_of(m, &old[i].k) = old[i];
		free(old);
	}
	slot = memo_slot_of(m, &s->k);
	*slot = *s;
	m->n++;
	return slot;
}

bool engine_memo_allowed(struct engine_memo *m, const struct engine_ep *src,
			 const struct engine_ep *dst, uint8_t proto, uint16_t port)
{
	struct memo_slot s = { 0 };
	const struct memo_slot *hit;
	bool keyed = memo_key_of(m, src, dst, proto, port, &s.k);

	if (keyed && (hit = memo_find(m, &s.k))) {
		m->hits++;
		return hit->allowed;
	}
	m->misses++;
	s.allowed = engine_allowed(m->e, src, dst, proto, port);
	if (keyed)
		(void) memo_put(m, &s);
	return s.allowed;
}

static void explanation_of(const struct engine_result *res, struct memo_slot *s)
{
	enum netpol_dir d;

	s->allowed = res->allowed;
	s->explained = true;
	if (!res->allowed) {
		d = !res->dir[NETPOL_EGRESS].allowed ? NETPOL_EGRESS : NETPOL_INGRESS;
		s->policy = res->dir[d].n_isolating ? res->dir[d].isolating[0] :
						      ENGINE_MEMO_NO_POLICY;
	} else {
		d = res->dir[NETPOL_INGRESS].reason != ENGINE_REASON_RULE &&
				    res->dir[NETPOL_EGRESS].reason == ENGINE_REASON_RULE ?
			    NETPOL_EGRESS :
			    NETPOL_INGRESS;
		s->policy = res->dir[d].reason == ENGINE_REASON_RULE ?
				    res->dir[d].allowing[0].policy :
				    ENGINE_MEMO_NO_POLICY;
	}
	s->dir = (uint8_t) d;
	s->reason = (uint8_t) res->dir[d].reason;
}

int engine_memo_explain(struct engine_memo *m, const struct engine_ep *src,
			const struct engine_ep *dst, uint8_t proto, uint16_t port,
			struct engine_memo_explanation *ret)
{
	struct memo_slot s = { 0 }, *hit = NULL;
	struct engine_result res;
	bool keyed = memo_key_of(m, src, dst, proto, port, &s.k);
	int r;

	if (keyed)
		hit = memo_find(m, &s.k);
	if (hit && hit->explained) {
		m->hits++;
		s = *hit;
	} else {
		m->misses++;
		r = engine_explain(m->e, src, dst, proto, port, &res);
		if (r < 0)
			return r;
		explanation_of(&res, &s);
		engine_result_done(&res);
		if (hit)
			*hit = s;
		else if (keyed)
			(void) memo_put(m, &s);
	}
	*ret = (struct engine_memo_explanation){ .allowed = s.allowed,
						 .dir = (enum netpol_dir) s.dir,
						 .reason = (enum engine_reason) s.reason,
						 .policy = s.policy };
	return 0;
}

/* ---- truth tables ---- */

struct ep_ref {
	uint32_t id;
	uint8_t family; /* a pod's class holds what ipBlocks see per family */
	size_t i;
};

static int ep_ref_cmp(const void *a, const void *b)
{
	const struct ep_ref *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Maps each of @v to a dense index (ret_dense[i]) shared by endpoints of one
 * id; endpoints of id 0 get one of their own. */
static int dense_ids(struct engine_memo *m, const struct engine_ep *v, size_t n, size_t *ret_dense,
		     size_t *ret_n)
{
	struct ep_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	size_t k = 0;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct ep_ref){ .id = memo_ep_id(m, &v[i]),
					   .family = v[i].addr.family,
					   .i = i };
	qsort(refs, n, sizeof(*refs), ep_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && (!refs[i].id || refs[i].id != refs[i - 1].id ||
			  refs[i].family != refs[i - 1].family))
			k++;
		ret_dense[refs[i].i] = k;
	}
	free(refs);
	*ret_n = n ? k + 1 : 0;
	return 0;
}

int engine_memo_matrix(struct engine_memo *m, const struct engine_ep *from, size_t n_from,
		       const struct engine_ep *to, size_t n_to, uint8_t proto, uint16_t port,
		       bool *ret)
{
	size_t *row = malloc((n_from ? n_from : 1) * sizeof(*row));
	size_t *col = malloc((n_to ? n_to : 1) * sizeof(*col));
	size_t n_rows = 0, n_cols = 0;
	int8_t *tab = NULL; /* per (row, column) class pair: -1 unknown */
	int r;

	if (!row || !col) {
		r = -ENOMEM;
		goto out;
	}
	r = dense_ids(m, from, n_from, row, &n_rows);
	if (r == 0)
		r = dense_ids(m, to, n_to, col, &n_cols);
	if (r < 0)
		goto out;
	if (n_rows && n_cols > SIZE_MAX / n_rows) {
		r = -ENOMEM;
		goto out;
	}
	tab = malloc(n_rows * n_cols + 1);
	if (!tab) {
		r = -ENOMEM;
		goto out;
	}
	memset(tab, -1, n_rows * n_cols);
	for (size_t i = 0; i < n_from; i++) {
		/* From a node address, a pod's node decides too: cell by cell. */
		bool by_cell = !from[i].pod && from[i].node;

		for (size_t j = 0; j < n_to; j++) {
			int8_t *t = &tab[row[i] * n_cols + col[j]];

			if (by_cell) {
				ret[i * n_to + j] =
					engine_memo_allowed(m, &from[i], &to[j], proto, port);
				continue;
			}
			/* The table is the memo here: a class pair is asked
			 * of the engine directly, once, without going through
			 * the memo's hash table (cache misses that cost more
			 * than the engine's answer). */
			if (*t < 0) {
				m->misses++;
				*t = engine_allowed(m->e, &from[i], &to[j], proto, port);
			} else {
				m->hits++;
			}
			ret[i * n_to + j] = *t;
		}
	}
	r = 0;
out:
	free(tab);
	free(row);
	free(col);
	return r;
}
