/*
 * propose: flows + cluster -> NetworkPolicies (include/propose.h,
 * docs/propose.md).
 *
 * Each flow's ends are resolved to an endpoint (place_end()): a workload
 * (through the pod named in the flow, else the workload it recorded, else
 * the pod now holding the address if that pod is of that workload or
 * existed when the flow was last seen), a node address (a Node's address or
 * a host-network pod's), or an external address; an end recorded as a pod
 * that none of these finds, or an address reused by a pod created after
 * the flow, is not placed, and its flow is counted and listed instead.
 * Flows become edges (source, destination, protocol, port) with
 * counters; each workload seen as a destination gets one ingress policy
 * with one rule per source peer, each workload seen as a source one egress
 * policy with one rule per destination peer.  Address peers with the same
 * ports share a rule.  Everything is sorted, so the output depends only on
 * the set of flows and the cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "engine.h"
#include "hash.h"
#include "propose.h"
#include "proto.h"
#include "rfc3339.h"

#define DNS_PORT 53
#define DNS_NAMESPACE "kube-system"

enum ep_kind {
	EP_WL, /* a workload */
	EP_NODE, /* a node address (Node object or host-network pod) */
	EP_EXT, /* anything else */
};

struct ep {
	enum ep_kind kind;
	size_t wl; /* EP_WL */
	struct addr addr; /* EP_NODE, EP_EXT */
};

struct edge {
	struct ep src, dst;
	uint8_t proto;
	uint16_t port;
	uint64_t flows; /* learned flow records; 0 for edges added for DNS */
	uint64_t conns;
	int64_t first, last;
};

/* A host-network pod's address: the node it names. */
struct hostnet_ref {
	struct addr addr;
	size_t pod;
};

struct ctx {
	struct cluster *c;
	const struct workload_set *ws;
	const struct propose_opts *o;
	struct hostnet_ref *hostnet;
	size_t n_hostnet;
	struct edge *edges;
	size_t n_edges, cap_edges;
	bool *dns_wl; /* per workload: a cluster DNS server */
	struct pod_memo_slot *pod_memo; /* NULL without memory for it */
};

void propose_opts_init(struct propose_opts *o)
{
	*o = (struct propose_opts){
		.dir = { [NETPOL_INGRESS] = true, [NETPOL_EGRESS] = true },
		.aggregate_count = 0,
		.aggregate_plen4 = 24,
		.aggregate_plen6 = 64,
	};
}

/* ---- endpoints ---- */

/*
 * cluster_pod_find() remembered by the addresses of the names asked for.
 * Records read from flows.json share their peers' strings
 * (flow_peer.borrowed), so the same pod is asked for with the same
 * pointers, flow after flow; equal pointers mean equal names, and a
 * lookup depends on nothing else.  Direct-mapped: a clash only costs a
 * lookup.
 */
#define POD_MEMO_BITS 12
#define POD_MEMO_SLOTS (1u << POD_MEMO_BITS)

struct pod_memo_slot {
	const char *ns, *name;
	const struct pod *pod;
};

static const struct pod *pod_find_memo(struct pod_memo_slot *memo, const struct cluster *c,
				       const char *ns, const char *name)
{
	struct pod_memo_slot *m;

	if (!memo)
		return cluster_pod_find(c, ns, name);
	m = &memo[(((uintptr_t) name >> 3) * 0x9e3779b97f4a7c15ULL) >> (64 - POD_MEMO_BITS)];
	if (m->name != name || m->ns != ns)
		*m = (struct pod_memo_slot){ .ns = ns,
					     .name = name,
					     .pod = cluster_pod_find(c, ns, name) };
	return m->pod;
}

static int ep_cmp(const struct ep *a, const struct ep *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == EP_WL)
		return a->wl < b->wl ? -1 : a->wl > b->wl;
	return addr_cmp(&a->addr, &b->addr);
}

static int hostnet_cmp(const void *a, const void *b)
{
	const struct hostnet_ref *x = a, *y = b;
	int c = addr_cmp(&x->addr, &y->addr);

	if (c)
		return c;
	return x->pod < y->pod ? -1 : x->pod > y->pod;
}

static const struct hostnet_ref *hostnet_find(const struct ctx *x, const struct addr *a)
{
	size_t lo = 0, hi = x->n_hostnet;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = addr_cmp(&x->hostnet[mid].addr, a);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->n_hostnet && addr_eq(&x->hostnet[lo].addr, a))
		return &x->hostnet[lo];
	return NULL;
}

/* Whether two flow ends describe the same address and peer: flows come
 * sorted by source, so consecutive flows mostly share one. */
static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool end_same(const struct addr *a, const struct flow_peer *p, const struct addr *b,
		     const struct flow_peer *q)
{
	return addr_eq(a, b) && p->kind == q->kind && str_same(p->ns, q->ns) &&
	       str_same(p->name, q->name) && str_same(p->workload_kind, q->workload_kind) &&
	       str_same(p->workload_name, q->workload_name);
}

/*
 * Where one end of a flow goes: the pod the flow names if the cluster still
 * has it; else the workload the flow recorded (the pod was replaced, e.g.
 * by a rollout); else the pod now holding the address, but only if it is
 * of the recorded workload or existed when the flow was last seen (a pod
 * created later cannot have been the peer: the address was reused); else,
 * for an end recorded as a pod, nothing (its pod and workload are gone, and
 * an ipBlock of its old address would go to whoever holds it next); else
 * the address itself.  Both propose_build() and the self-check place ends
 * through this one function.
 */
enum place_kind {
	PLACE_POD, /* @pod (perhaps on the host network) */
	PLACE_WORKLOAD, /* @w: the recorded workload, its pod gone */
	PLACE_ADDR, /* no pod: a node or an external address */
	PLACE_NONE, /* cannot be placed; @pod: the address's later owner */
};

struct place {
	enum place_kind kind;
	const struct pod *pod;
	const struct workload *w;
	bool timed; /* the answer depends on the flow's last_seen */
};

static bool pod_of_workload(const struct cluster *c, const struct workload_set *ws,
			    const struct pod *p, const struct flow_peer *fp)
{
	const struct workload *w;

	if (!fp->ns || !fp->workload_kind || !fp->workload_name)
		return false;
	w = &ws->v[workload_set_of_pod(ws, (size_t) (p - c->pods))];
	return strcmp(w->ns, fp->ns) == 0 && strcmp(w->kind, fp->workload_kind) == 0 &&
	       strcmp(w->name, fp->workload_name) == 0;
}

static void place_end(struct cluster *c, const struct workload_set *ws, struct pod_memo_slot *memo,
		      const struct addr *a, const struct flow_peer *fp, int64_t last_seen,
		      struct place *ret)
{
	const bool is_pod = fp->kind == FLOW_PEER_POD && fp->ns;
	const struct workload *w;
	const struct pod *p = NULL;

	*ret = (struct place){ .kind = PLACE_ADDR };
	if (is_pod && fp->name)
		p = pod_find_memo(memo, c, fp->ns, fp->name);
	if (p) {
		*ret = (struct place){ .kind = PLACE_POD, .pod = p };
		return;
	}
	if (is_pod && fp->workload_kind && fp->workload_name) {
		w = workload_set_find(ws, fp->ns, fp->workload_kind, fp->workload_name);
		if (w && !w->host_network) {
			*ret = (struct place){ .kind = PLACE_WORKLOAD, .w = w };
			return;
		}
	}
	p = cluster_pod_by_addr(c, a);
	if (p) {
		/* Unknown times count as always, as in identity_resolve(). */
		ret->timed = p->created != 0;
		ret->pod = p;
		if (p->created == 0 || last_seen == 0 || p->created <= last_seen ||
		    pod_of_workload(c, ws, p, fp))
			ret->kind = PLACE_POD;
		else
			ret->kind = PLACE_NONE;
		return;
	}
	if (is_pod)
		ret->kind = PLACE_NONE;
}

/* @ret for a placed end (not PLACE_NONE). */
static void resolve(struct ctx *x, const struct addr *a, const struct flow_peer *fp,
		    const struct place *pl, struct ep *ret)
{
	*ret = (struct ep){ .kind = EP_EXT, .addr = *a };
	if (pl->kind == PLACE_POD && !pl->pod->host_network) {
		ret->kind = EP_WL;
		ret->wl = workload_set_of_pod(x->ws, (size_t) (pl->pod - x->c->pods));
	} else if (pl->kind == PLACE_WORKLOAD) {
		ret->kind = EP_WL;
		ret->wl = (size_t) (pl->w - x->ws->v);
	} else if (pl->kind == PLACE_POD || cluster_node_by_addr(x->c, a) || hostnet_find(x, a) ||
		   fp->kind == FLOW_PEER_NODE) {
		ret->kind = EP_NODE;
	}
}

static bool pod_declares(const struct pod *p, const struct edge *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < p->n_ports; k++)
			if (p->ports[k].port == e[i].port && p->ports[k].protocol == e[i].proto)
				return true;
	return false;
}

/*
 * A short human name for an address peer, for annotations: "external",
 * "node NAME", and the host-network pod on that address serving one of
 * the ports used (@e, @n), if any.
 */
static int ep_describe_addr(const struct ctx *x, const struct ep *ep, const struct edge *e,
			    size_t n, struct buf *b)
{
	const struct hostnet_ref *h, *end = x->hostnet + x->n_hostnet;
	const struct pod *hp = NULL;
	const struct node *nd;
	int r;

	if (ep->kind == EP_EXT)
		return buf_printf(b, "external");
	nd = cluster_node_by_addr(x->c, &ep->addr);
	h = hostnet_find(x, &ep->addr);
	for (const struct hostnet_ref *q = h; q && q < end && addr_eq(&q->addr, &ep->addr); q++)
		if (!hp || pod_declares(&x->c->pods[q->pod], e, n))
			hp = &x->c->pods[q->pod];
	if (hp && !pod_declares(hp, e, n) && nd)
		hp = NULL;
	if (nd)
		r = buf_printf(b, "node %s", nd->name);
	else if (hp && hp->node)
		r = buf_printf(b, "node %s", hp->node);
	else
		r = buf_printf(b, "node address");
	if (r == 0 && hp)
		r = buf_printf(b, ", host-network pod %s/%s", hp->ns, hp->name);
	return r;
}

/* ---- flows that cannot be placed ---- */

/* An end as the flow recorded it: "ADDR NS/POD (NS/KIND/NAME)", "ADDR
 * NS/POD" or "ADDR". */
static int flow_end_text(const struct addr *a, const struct flow_peer *fp, char **ret)
{
	char s[ADDR_STR_MAX];
	int r;

	(void) addr_format(a, s, sizeof(s));
	if (fp->kind == FLOW_PEER_POD && fp->ns && fp->name && fp->workload_kind &&
	    fp->workload_name)
		r = asprintf(ret, "%s %s/%s (%s/%s/%s)", s, fp->ns, fp->name, fp->ns,
			     fp->workload_kind, fp->workload_name);
	else if (fp->kind == FLOW_PEER_POD && fp->ns && fp->name)
		r = asprintf(ret, "%s %s/%s", s, fp->ns, fp->name);
	else
		r = asprintf(ret, "%s", s);
	return r < 0 ? -ENOMEM : 0;
}

/* Why the end placed as @pl (PLACE_NONE) cannot be placed, appended to @b. */
static int why_text(const struct addr *a, const struct flow_peer *fp, const struct place *pl,
		    struct buf *b)
{
	char s[ADDR_STR_MAX];
	int r = 0;

	(void) addr_format(a, s, sizeof(s));
	if (b->len)
		r = buf_printf(b, "; ");
	if (r == 0 && fp->kind == FLOW_PEER_POD && fp->ns && fp->workload_kind && fp->workload_name)
		r = buf_printf(b, "%s/%s/%s has no pod in the cluster and ", fp->ns,
			       fp->workload_kind, fp->workload_name);
	else if (r == 0 && fp->kind == FLOW_PEER_POD && fp->ns && fp->name)
		r = buf_printf(b, "pod %s/%s is gone and ", fp->ns, fp->name);
	if (r == 0 && pl->pod)
		r = buf_printf(b, "%s is now %s/%s, created after the flow was last seen", s,
			       pl->pod->ns, pl->pod->name);
	else if (r == 0)
		r = buf_printf(b, "no pod holds %s now", s);
	return r;
}

static int unplaced_cmp(const void *a, const void *b)
{
	const struct proposal_unplaced *x = a, *y = b;
	int c;

	if ((c = strcmp(x->src, y->src)) || (c = strcmp(x->dst, y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return strcmp(x->why, y->why);
}

static void unplaced_done(struct proposal_unplaced *u)
{
	free(u->src);
	free(u->dst);
	free(u->why);
}

/* Counts flow @f, whose ends were placed as @sp and @dp, in @p's list of
 * unplaced pairs. */
static int unplaced_add(struct proposal *p, size_t *cap, const struct flow_record *f,
			const struct place *sp, const struct place *dp)
{
	struct proposal_unplaced u = { .proto = f->key.proto, .port = f->key.port, .flows = 1 };
	struct buf why;
	int r;

	buf_init(&why, SIZE_MAX);
	r = flow_end_text(&f->key.src, &f->src_peer, &u.src);
	if (r == 0)
		r = flow_end_text(&f->key.dst, &f->dst_peer, &u.dst);
	if (r == 0 && sp->kind == PLACE_NONE)
		r = why_text(&f->key.src, &f->src_peer, sp, &why);
	if (r == 0 && dp->kind == PLACE_NONE)
		r = why_text(&f->key.dst, &f->dst_peer, dp, &why);
	if (r == 0 && !(u.why = buf_steal(&why)))
		r = -ENOMEM;
	if (r < 0)
		goto fail;
	/* Flows come sorted by source: most repeats are the last pair. */
	if (p->n_unplaced && unplaced_cmp(&p->unplaced[p->n_unplaced - 1], &u) == 0) {
		p->unplaced[p->n_unplaced - 1].flows++;
		unplaced_done(&u);
		return 0;
	}
	if (p->n_unplaced == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct proposal_unplaced *v = realloc(p->unplaced, nc * sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto fail;
		}
		p->unplaced = v;
		*cap = nc;
	}
	p->unplaced[p->n_unplaced++] = u;
	return 0;

fail:
	buf_done(&why);
	unplaced_done(&u);
	return r;
}

/* Sorts the unplaced pairs and merges equal ones. */
static void unplaced_merge(struct proposal *p)
{
	size_t out = 0;

	if (!p->n_unplaced)
		return;
	qsort(p->unplaced, p->n_unplaced, sizeof(*p->unplaced), unplaced_cmp);
	for (size_t i = 1; i < p->n_unplaced; i++) {
		if (unplaced_cmp(&p->unplaced[out], &p->unplaced[i]) == 0) {
			p->unplaced[out].flows += p->unplaced[i].flows;
			unplaced_done(&p->unplaced[i]);
		} else {
			p->unplaced[++out] = p->unplaced[i];
		}
	}
	p->n_unplaced = out + 1;
}

/* ---- edges ---- */

static int edge_cmp_src(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	int c = ep_cmp(&x->src, &y->src);

	if (c || (c = ep_cmp(&x->dst, &y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int edge_cmp_dst(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	int c = ep_cmp(&x->dst, &y->dst);

	if (c || (c = ep_cmp(&x->src, &y->src)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int edge_add(struct ctx *x, const struct edge *e)
{
	if (x->n_edges == x->cap_edges) {
		size_t cap = x->cap_edges ? x->cap_edges * 2 : 256;
		struct edge *v = realloc(x->edges, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->edges = v;
		x->cap_edges = cap;
	}
	x->edges[x->n_edges++] = *e;
	return 0;
}

/* Sorts by source and merges equal edges. */
static void edges_merge(struct ctx *x)
{
	size_t out = 0;

	if (!x->n_edges)
		return;
	qsort(x->edges, x->n_edges, sizeof(*x->edges), edge_cmp_src);
	for (size_t i = 1; i < x->n_edges; i++) {
		struct edge *o = &x->edges[out], *e = &x->edges[i];

		if (edge_cmp_src(o, e) == 0) {
			o->flows += e->flows;
			o->conns += e->conns;
			if (e->first < o->first)
				o->first = e->first;
			if (e->last > o->last)
				o->last = e->last;
		} else {
			x->edges[++out] = *e;
		}
	}
	x->n_edges = out + 1;
}

static bool workload_declares_dns(const struct ctx *x, const struct workload *w)
{
	for (size_t i = 0; i < w->n_pods; i++) {
		const struct pod *p = &x->c->pods[w->pods[i]];

		for (size_t k = 0; k < p->n_ports; k++)
			if (p->ports[k].port == DNS_PORT && p->ports[k].protocol == IPPROTO_UDP)
				return true;
	}
	return false;
}

static bool is_dns(uint8_t proto, uint16_t port)
{
	return port == DNS_PORT && (proto == IPPROTO_UDP || proto == IPPROTO_TCP);
}

/*
 * DNS: a workload seen resolving names keeps egress to the cluster DNS
 * pods on 53/UDP and 53/TCP (TCP carries truncated answers and zone
 * transfers; a policy allowing only UDP breaks large answers).  "Seen
 * resolving" is a flow to port 53 of a DNS server pod, or of an address
 * that is no pod (a Service address whose translation was not seen): the
 * latter is also routed to the cluster DNS pods, identified by the
 * containerPort 53/UDP they declare, never by guessed labels.
 */
static int add_dns_edges(struct ctx *x)
{
	size_t n = x->n_edges;
	bool have_cluster_dns = false;
	int r;

	for (size_t w = 0; w < x->ws->n; w++) {
		x->dns_wl[w] = !x->ws->v[w].host_network &&
			       workload_declares_dns(x, &x->ws->v[w]) &&
			       strcmp(x->ws->v[w].ns, DNS_NAMESPACE) == 0;
		have_cluster_dns |= x->dns_wl[w];
	}
	for (size_t i = 0; i < n; i++)
		if (x->edges[i].dst.kind == EP_WL && is_dns(x->edges[i].proto, x->edges[i].port) &&
		    workload_declares_dns(x, &x->ws->v[x->edges[i].dst.wl]))
			x->dns_wl[x->edges[i].dst.wl] = true;

	for (size_t i = 0; i < n; i++) {
		struct edge e = x->edges[i];

		if (e.src.kind != EP_WL || !is_dns(e.proto, e.port))
			continue;
		e.flows = 0;
		e.conns = 0;
		if (e.dst.kind == EP_WL && x->dns_wl[e.dst.wl]) {
			e.proto = e.proto == IPPROTO_UDP ? IPPROTO_TCP : IPPROTO_UDP;
			r = edge_add(x, &e);
			if (r < 0)
				return r;
			continue;
		}
		if (e.dst.kind == EP_WL || !have_cluster_dns)
			continue;
		for (size_t w = 0; w < x->ws->n; w++) {
			if (!x->dns_wl[w] || strcmp(x->ws->v[w].ns, DNS_NAMESPACE) != 0)
				continue;
			e.dst = (struct ep){ .kind = EP_WL, .wl = w };
			e.proto = IPPROTO_UDP;
			if ((r = edge_add(x, &e)) < 0)
				return r;
			e.proto = IPPROTO_TCP;
			if ((r = edge_add(x, &e)) < 0)
				return r;
		}
	}
	edges_merge(x);
	return 0;
}

/* ---- rules ---- */

/* The name every pod of @w gives container port @proto/@port, or NULL. */
static const char *port_name(const struct ctx *x, const struct workload *w, uint8_t proto,
			     uint16_t port)
{
	const char *name = NULL;

	for (size_t i = 0; i < w->n_pods; i++) {
		const struct pod *p = &x->c->pods[w->pods[i]];
		const char *here = NULL;

		for (size_t k = 0; k < p->n_ports && !here; k++)
			if (p->ports[k].port == port && p->ports[k].protocol == proto)
				here = p->ports[k].name;
		if (!here || (name && strcmp(name, here) != 0))
			return NULL;
		name = here;
	}
	/* A name that also means another port on some pod (a rollout that
	 * moved it) would allow more than was seen. */
	for (size_t i = 0; name && i < w->n_pods; i++) {
		const struct pod *p = &x->c->pods[w->pods[i]];

		for (size_t k = 0; k < p->n_ports; k++)
			if (p->ports[k].name && strcmp(p->ports[k].name, name) == 0 &&
			    (p->ports[k].port != port || p->ports[k].protocol != proto))
				return NULL;
	}
	return name;
}

/*
 * Ports of the edges [e, e + n) (sorted by protocol then port, unique):
 * named where every pod of @named_on declares a name, contiguous numbers
 * merged into port..endPort.
 */
static int build_ports(const struct ctx *x, const struct edge *e, size_t n,
		       const struct workload *named_on, struct netpol_rule *rule)
{
	rule->ports = calloc(n ? n : 1, sizeof(*rule->ports));
	if (!rule->ports)
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		struct netpol_port *pp = &rule->ports[rule->n_ports];
		const char *name = named_on && e[i].port ?
					   port_name(x, named_on, e[i].proto, e[i].port) :
					   NULL;
		size_t j = i + 1;

		*pp = (struct netpol_port){ .protocol = e[i].proto,
					    .kind = NETPOL_PORT_NUMBER,
					    .port = e[i].port };
		if (e[i].port == 0) {
			pp->kind = NETPOL_PORT_ANY;
		} else if (name) {
			pp->kind = NETPOL_PORT_NAME;
			pp->name = strdup(name);
			if (!pp->name)
				return -ENOMEM;
		} else {
			while (j < n && e[j].proto == e[i].proto &&
			       e[j].port == e[j - 1].port + 1 &&
			       !(named_on && port_name(x, named_on, e[j].proto, e[j].port)))
				j++;
			if (j - i > 1)
				pp->end_port = e[j - 1].port;
		}
		rule->n_ports++;
		i = j;
	}
	return 0;
}

static int peer_workload(const struct workload *w, struct netpol_peer *peer)
{
	*peer = (struct netpol_peer){ .kind = NETPOL_PEER_SELECTOR };
	peer->pod_sel = malloc(sizeof(*peer->pod_sel));
	peer->ns_sel = malloc(sizeof(*peer->ns_sel));
	if (!peer->pod_sel || !peer->ns_sel)
		goto oom;
	selector_init(peer->ns_sel);
	if (selector_copy(peer->pod_sel, &w->sel) < 0) {
		free(peer->pod_sel);
		peer->pod_sel = NULL;
		goto oom;
	}
	if (labels_set(&peer->ns_sel->match_labels, "kubernetes.io/metadata.name", w->ns) < 0)
		goto oom;
	return 0;
oom:
	netpol_peer_done(peer);
	return -ENOMEM;
}

/* An address peer of a policy, with the ports it used. */
struct ip_peer {
	struct ep ep;
	const struct edge *e; /* its edges, sorted by protocol, port */
	size_t n;
	uint64_t flows;
};

static int ports_cmp(const struct ip_peer *a, const struct ip_peer *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		if (a->e[i].proto != b->e[i].proto)
			return a->e[i].proto < b->e[i].proto ? -1 : 1;
		if (a->e[i].port != b->e[i].port)
			return a->e[i].port < b->e[i].port ? -1 : 1;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

static int ip_peer_cmp(const void *a, const void *b)
{
	const struct ip_peer *x = a, *y = b;
	int c = ports_cmp(x, y);

	return c ? c : ep_cmp(&x->ep, &y->ep);
}

static int ports_text(const struct edge *e, size_t n, struct buf *b)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_printf(b, "%s%s/%u", i ? ", " : "", proto_name(e[i].proto), e[i].port);
	return r;
}

/* Why a rule has DNS ports nobody used: say so to the reviewer. */
static const char *dns_note(const struct ctx *x, size_t self, size_t peer, enum netpol_dir d,
			    const struct edge *e, size_t n)
{
	size_t server = d == NETPOL_INGRESS ? self : peer;

	if (self == peer || !x->dns_wl[server])
		return "";
	for (size_t i = 0; i < n; i++)
		if (is_dns(e[i].proto, e[i].port))
			return ", DNS: 53/UDP and 53/TCP kept";
	return "";
}

/* Appends a rule to @np for direction @d; returns a pointer to it. */
static struct netpol_rule *rule_new(struct netpol *np, enum netpol_dir d)
{
	struct netpol_rule *v = realloc(np->rules[d], (np->n_rules[d] + 1) * sizeof(*v));

	if (!v)
		return NULL;
	np->rules[d] = v;
	v[np->n_rules[d]] = (struct netpol_rule){ 0 };
	return &v[np->n_rules[d]++];
}

/* Address peers with equal ports share one rule; externals past the
 * configured count per prefix become the prefix. */
static int ip_rules(const struct ctx *x, struct netpol *np, enum netpol_dir d, struct ip_peer *ips,
		    size_t n_ips, struct buf *notes)
{
	int r = 0;

	qsort(ips, n_ips, sizeof(*ips), ip_peer_cmp);
	for (size_t i = 0; i < n_ips;) {
		size_t j = i + 1;
		struct netpol_rule *rule;

		while (j < n_ips && ports_cmp(&ips[i], &ips[j]) == 0)
			j++;
		rule = rule_new(np, d);
		if (!rule)
			return -ENOMEM;
		r = build_ports(x, ips[i].e, ips[i].n, NULL, rule);
		if (r < 0)
			return r;
		rule->peers = calloc(j - i, sizeof(*rule->peers));
		if (!rule->peers)
			return -ENOMEM;
		for (size_t k = i; k < j;) {
			struct netpol_peer *pp = &rule->peers[rule->n_peers++];
			size_t m = k + 1;
			uint64_t flows = ips[k].flows;

			*pp = (struct netpol_peer){ .kind = NETPOL_PEER_IPBLOCK };
			cidr_from_addr(&pp->cidr, &ips[k].ep.addr);
			if (x->o->aggregate_count && ips[k].ep.kind == EP_EXT) {
				struct cidr wide;
				uint8_t plen = ips[k].ep.addr.family == AF_INET ?
						       x->o->aggregate_plen4 :
						       x->o->aggregate_plen6;
				char a[ADDR_STR_MAX], s[ADDR_STR_MAX + 8];

				(void) snprintf(s, sizeof(s), "%s/%u",
						addr_format(&ips[k].ep.addr, a, sizeof(a)), plen);
				if (cidr_parse(s, &wide) == 0) {
					while (m < j && ips[m].ep.kind == EP_EXT &&
					       cidr_contains(&wide, &ips[m].ep.addr))
						m++;
					if (m - k > x->o->aggregate_count)
						pp->cidr = wide;
					else
						m = k + 1;
				}
			}
			for (size_t q = k + 1; q < m; q++)
				flows += ips[q].flows;
			{
				char cs[ADDR_STR_MAX];

				r = buf_printf(notes,
					       "%s %s: ", d == NETPOL_INGRESS ? "from" : "to",
					       cidr_format(&pp->cidr, cs, sizeof(cs)));
				if (r == 0 && m - k > 1)
					r = buf_printf(notes, "external, %zu addresses", m - k);
				else if (r == 0)
					r = ep_describe_addr(x, &ips[k].ep, ips[k].e, ips[k].n,
							     notes);
				if (r == 0)
					r = buf_printf(notes, "; ");
				if (r == 0)
					r = ports_text(ips[k].e, ips[k].n, notes);
				if (r == 0)
					r = buf_printf(notes, " (%" PRIu64 " flow%s)\n", flows,
						       flows == 1 ? "" : "s");
				if (r < 0)
					return r;
			}
			k = m;
		}
		i = j;
	}
	return 0;
}

static int annotate(struct labels *a, const char *key, const char *fmt, ...) BH_PRINTF(3, 4);

static int annotate(struct labels *a, const char *key, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = labels_set(a, key, s);
	free(s);
	return r;
}

/*
 * One policy for workload @wi in direction @d from its edges [e, e + n),
 * sorted by peer then protocol and port.
 */
static int policy_build(struct ctx *x, size_t wi, enum netpol_dir d, const struct edge *e, size_t n,
			struct proposal_policy *pp)
{
	const struct workload *w = &x->ws->v[wi];
	struct ip_peer *ips = NULL;
	size_t n_ips = 0;
	uint64_t flows = 0, conns = 0;
	int64_t first = INT64_MAX, last = INT64_MIN;
	struct buf notes;
	char t1[32], t2[32];
	const char *text;
	int r;

	buf_init(&notes, SIZE_MAX);
	netpol_init(&pp->np);
	labels_init(&pp->labels);
	labels_init(&pp->annotations);
	pp->dir = d;
	pp->workload = wi;
	pp->denies_all = NULL;
	pp->np.types[d] = true;
	r = -ENOMEM;
	pp->np.ns = strdup(w->ns);
	if (!pp->np.ns || selector_copy(&pp->np.pod_sel, &w->sel) < 0)
		goto out;
	ips = calloc(n ? n : 1, sizeof(*ips));
	if (!ips)
		goto out;

	for (size_t i = 0; i < n;) {
		const struct ep *peer = d == NETPOL_INGRESS ? &e[i].src : &e[i].dst;
		size_t j = i + 1;
		uint64_t pf = e[i].flows;

		while (j < n && ep_cmp(peer, d == NETPOL_INGRESS ? &e[j].src : &e[j].dst) == 0) {
			pf += e[j].flows;
			j++;
		}
		for (size_t k = i; k < j; k++) {
			conns += e[k].conns;
			if (e[k].first < first)
				first = e[k].first;
			if (e[k].last > last)
				last = e[k].last;
		}
		flows += pf;
		if (peer->kind == EP_WL) {
			const struct workload *pw = &x->ws->v[peer->wl];
			struct netpol_rule *rule = rule_new(&pp->np, d);

			if (!rule)
				goto out;
			r = build_ports(x, &e[i], j - i, d == NETPOL_INGRESS ? w : pw, rule);
			if (r < 0)
				goto out;
			r = -ENOMEM;
			rule->peers = calloc(1, sizeof(*rule->peers));
			if (!rule->peers)
				goto out;
			r = peer_workload(pw, &rule->peers[0]);
			if (r < 0)
				goto out;
			rule->n_peers = 1;
			r = buf_printf(&notes, "%s %s/%s/%s: ", d == NETPOL_INGRESS ? "from" : "to",
				       pw->ns, pw->kind, pw->name);
			if (r == 0)
				r = ports_text(&e[i], j - i, &notes);
			if (r == 0)
				r = buf_printf(&notes, " (%" PRIu64 " flow%s%s%s)\n", pf,
					       pf == 1 ? "" : "s",
					       dns_note(x, wi, peer->wl, d, &e[i], j - i),
					       pw->exact ? "" : ", selector not exact");
			if (r < 0)
				goto out;
		} else {
			ips[n_ips++] = (struct ip_peer){
				.ep = *peer, .e = &e[i], .n = j - i, .flows = pf
			};
		}
		i = j;
	}
	r = ip_rules(x, &pp->np, d, ips, n_ips, &notes);
	if (r < 0)
		goto out;

	r = -ENOMEM;
	if (labels_set(&pp->labels, "app.kubernetes.io/managed-by", "bulkhead") < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/generated-by", "bulkhead propose") < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/workload", "%s/%s", w->kind, w->name) < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/flows", "%" PRIu64, flows) < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/connections", "%" PRIu64, conns) < 0)
		goto out;
	if (n && (annotate(&pp->annotations, "bulkhead.io/first-seen", "%s",
			   rfc3339_format(first, t1, sizeof(t1))) < 0 ||
		  annotate(&pp->annotations, "bulkhead.io/last-seen", "%s",
			   rfc3339_format(last, t2, sizeof(t2))) < 0))
		goto out;
	if (!w->exact && annotate(&pp->annotations, "bulkhead.io/selector",
				  "not exact: other pods of the namespace carry every label of "
				  "this workload") < 0)
		goto out;
	r = 0;
	/* Policies are written for workloads seen at either end of a flow, so
	 * a direction without a rule is one it was never seen in. */
	if (!pp->np.n_rules[d])
		pp->denies_all = d == NETPOL_INGRESS ?
					 "it was only seen as a client (nothing connected to it "
					 "while learning)" :
					 "it was only seen as a server (it opened no connection "
					 "while learning)";
	if (!notes.len)
		r = buf_printf(&notes, "none seen: all %s of this workload is denied",
			       netpol_dir_name(d));
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (notes.len && notes.data[notes.len - 1] == '\n')
		notes.data[--notes.len] = '\0';
	text = notes.data ? notes.data : "";
	if (labels_set(&pp->annotations, "bulkhead.io/peers", text) < 0)
		goto out;
	r = 0;

out:
	free(ips);
	buf_done(&notes);
	return r;
}

/* ---- the proposal ---- */

static void proposal_policy_done(struct proposal_policy *pp)
{
	netpol_done(&pp->np);
	labels_done(&pp->labels);
	labels_done(&pp->annotations);
}

void proposal_done(struct proposal *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		proposal_policy_done(&p->v[i]);
	free(p->v);
	for (size_t i = 0; i < p->n_denials; i++) {
		free(p->denials[i].src);
		free(p->denials[i].dst);
	}
	free(p->denials);
	for (size_t i = 0; i < p->n_unplaced; i++)
		unplaced_done(&p->unplaced[i]);
	free(p->unplaced);
	workload_set_done(&p->ws);
	*p = (struct proposal){ 0 };
}

static int policy_name_cmp(const void *a, const void *b)
{
	const struct proposal_policy *x = a, *y = b;
	int c = strcmp(x->np.ns, y->np.ns);

	return c ? c : strcmp(x->np.name, y->np.name);
}

/* Object names are DNS-1123 subdomains of at most 253 characters. */
#define POLICY_NAME_MAX 253

/* Appends @s to @b as [a-z0-9-]: a bare pod's workload is named after a
 * label value, which may hold upper case, '_' and '.'. */
static int name_part(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		char ch = *s;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char) (ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		r = buf_append(b, &ch, 1);
	}
	return r;
}

/*
 * How much a workload's policy names carry besides its name: its kind when
 * another workload of the namespace would get the same name without it,
 * then a hash of its kind and name when even that is not enough (names
 * and kinds that read alike once mapped to [a-z0-9-] or cut).
 */
enum name_level {
	NAME_PLAIN,
	NAME_KIND,
	NAME_HASH,
	_NAME_LEVEL_MAX,
};

/* FNV-1a of "KIND/NAME": fixed, so a workload's policy names are the same
 * on every run. */
static uint32_t name_hash(const struct workload *w)
{
	uint32_t h = 2166136261u;

	for (const char *s = w->kind; *s; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	h = (h ^ (uint8_t) '/') * 16777619u;
	for (const char *s = w->name; *s; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

/* bulkhead-NAME-DIR, bulkhead-NAME-KIND-DIR or bulkhead-NAME-KIND-HASH-DIR
 * by @level; NAME is cut to keep the whole within POLICY_NAME_MAX. */
static int policy_name(const struct workload_set *ws, size_t wi, enum name_level level,
		       enum netpol_dir d, char **ret)
{
	const struct workload *w = &ws->v[wi];
	const char *dir = netpol_dir_name(d);
	struct buf b, tail;
	size_t keep;
	int r;

	buf_init(&b, SIZE_MAX);
	buf_init(&tail, SIZE_MAX);
	r = buf_printf(&b, "bulkhead-");
	if (r == 0)
		r = name_part(&b, w->name);
	if (r == 0 && level >= NAME_KIND)
		r = buf_printf(&tail, "-");
	if (r == 0 && level >= NAME_KIND)
		r = name_part(&tail, w->kind);
	if (r == 0 && level >= NAME_HASH)
		r = buf_printf(&tail, "-%08" PRIx32, name_hash(w));
	if (r == 0)
		r = buf_printf(&tail, "-%s", dir);
	if (r == 0) {
		keep = POLICY_NAME_MAX - tail.len;
		if (b.len > keep)
			b.len = keep;
		r = buf_append(&b, tail.data, tail.len);
	}
	buf_done(&tail);
	if (r < 0) {
		buf_done(&b);
		return -ENOMEM;
	}
	*ret = buf_steal(&b);
	return 0;
}

struct name_ref {
	const char *ns;
	char *name; /* owned */
	size_t wl;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

/*
 * Per workload the least name level that gives every workload of a
 * namespace policy names of its own, in both directions.  Raising one
 * workload's level can make its names meet another's, so this repeats
 * until no two meet; (ns, kind, name) is unique, so only a hash collision
 * on top of names and kinds that read alike leaves two the same: an error.
 */
static int name_levels(const struct workload_set *ws, uint8_t *level, struct bh_err *reterr)
{
	struct name_ref *v = calloc(ws->n ? ws->n : 1, sizeof(*v));
	bool again = true;
	int r = 0;

	if (!v)
		return bh_err_oom(reterr);
	while (again && r == 0) {
		again = false;
		for (int d = 0; d < _NETPOL_DIR_MAX && r == 0; d++) {
			for (size_t i = 0; i < ws->n && r == 0; i++) {
				free(v[i].name);
				v[i] = (struct name_ref){ .ns = ws->v[i].ns, .wl = i };
				r = policy_name(ws, i, (enum name_level) level[i],
						(enum netpol_dir) d, &v[i].name);
			}
			if (r < 0) {
				r = bh_err_oom(reterr);
				break;
			}
			qsort(v, ws->n, sizeof(*v), name_ref_cmp);
			for (size_t i = 0, j; i < ws->n; i = j) {
				bool raised = false;

				for (j = i + 1; j < ws->n && name_ref_cmp(&v[i], &v[j]) == 0; j++)
					;
				if (j - i == 1)
					continue;
				for (size_t k = i; k < j; k++) {
					if (level[v[k].wl] + 1 < _NAME_LEVEL_MAX) {
						level[v[k].wl]++;
						raised = again = true;
					}
				}
				if (!raised) {
					const struct workload *a = &ws->v[v[i].wl],
							      *b = &ws->v[v[i + 1].wl];

					r = bh_err_set(reterr, BH_ERR_INPUT, -EEXIST,
						       "propose: workloads %s/%s/%s and %s/%s/%s "
						       "get the same policy name '%s'",
						       a->ns, a->kind, a->name, b->ns, b->kind,
						       b->name, v[i].name);
					break;
				}
			}
			if (again)
				break;
		}
	}
	for (size_t i = 0; i < ws->n; i++)
		free(v[i].name);
	free(v);
	return r;
}

/*
 * Policies of direction @d: one per workload seen at either end of a flow,
 * so a workload seen only as a client is isolated for ingress too (nothing
 * connected to it while learning).  A host-network workload is never
 * isolated by a policy and gets none; a cluster DNS server seen only as a
 * server keeps its egress open (its upstream resolvers may not have been
 * asked while learning, and a DNS server that cannot resolve breaks the
 * cluster).
 */
static int policies_for(struct ctx *x, enum netpol_dir d, const bool *seen, const uint8_t *level,
			struct proposal *p)
{
	const bool in = d == NETPOL_INGRESS;
	size_t i = 0;
	int r;

	if (x->n_edges)
		qsort(x->edges, x->n_edges, sizeof(*x->edges), in ? edge_cmp_dst : edge_cmp_src);
	/* edges of address endpoints sort after every workload */
	for (size_t w = 0; w < x->ws->n; w++) {
		struct proposal_policy *v;
		size_t j;

		while (i < x->n_edges) {
			const struct ep *self = in ? &x->edges[i].dst : &x->edges[i].src;

			if (self->kind == EP_WL && self->wl >= w)
				break;
			i++;
		}
		for (j = i; j < x->n_edges; j++) {
			const struct ep *self = in ? &x->edges[j].dst : &x->edges[j].src;

			if (self->kind != EP_WL || self->wl != w)
				break;
		}
		if (!seen[w] || x->ws->v[w].host_network || (!in && j == i && x->dns_wl[w])) {
			i = j;
			continue;
		}
		v = realloc(p->v, (p->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		r = policy_build(x, w, d, &x->edges[i], j - i, &p->v[p->n]);
		if (r == 0)
			r = policy_name(x->ws, w, (enum name_level) level[w], d,
					&p->v[p->n].np.name);
		p->n++;
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

int propose_build(const struct flow_set *flows, struct cluster *c, const struct propose_opts *o,
		  struct proposal *ret, struct bh_err *reterr)
{
	struct proposal p = { 0 };
	struct ctx x = { .c = c, .o = o };
	struct ep prev_src = { 0 };
	struct place prev_sp = { 0 };
	size_t cap_unplaced = 0;
	bool *seen = NULL;
	uint8_t *level = NULL;
	int r = -ENOMEM;

	*ret = (struct proposal){ 0 };
	/* Every flow end names its pod: look them up by hash, not by binary
	 * search (without memory for the index, by binary search). */
	(void) cluster_pod_index(c);
	x.pod_memo = calloc(POD_MEMO_SLOTS, sizeof(*x.pod_memo));
	r = workload_set_build(c, &p.ws);
	if (r < 0)
		goto out;
	x.ws = &p.ws;
	r = -ENOMEM;
	x.dns_wl = calloc(p.ws.n ? p.ws.n : 1, sizeof(*x.dns_wl));
	seen = calloc(p.ws.n ? p.ws.n : 1, sizeof(*seen));
	level = calloc(p.ws.n ? p.ws.n : 1, sizeof(*level));
	if (!x.dns_wl || !seen || !level)
		goto out;
	r = name_levels(&p.ws, level, reterr);
	if (r < 0)
		goto out_err;
	r = -ENOMEM;

	for (size_t i = 0; i < c->n_pods; i++)
		if (c->pods[i].host_network)
			x.n_hostnet += c->pods[i].n_ips;
	x.hostnet = calloc(x.n_hostnet ? x.n_hostnet : 1, sizeof(*x.hostnet));
	if (!x.hostnet)
		goto out;
	x.n_hostnet = 0;
	for (size_t i = 0; i < c->n_pods; i++)
		for (size_t k = 0; c->pods[i].host_network && k < c->pods[i].n_ips; k++)
			x.hostnet[x.n_hostnet++] =
				(struct hostnet_ref){ .addr = c->pods[i].ips[k], .pod = i };
	qsort(x.hostnet, x.n_hostnet, sizeof(*x.hostnet), hostnet_cmp);

	for (size_t i = 0; i < flows->n; i++) {
		const struct flow_record *f = &flows->flows[i];
		struct edge e = {
			.proto = f->key.proto,
			.port = f->key.port,
			.flows = 1,
			.conns = f->connections,
			.first = f->first_seen,
			.last = f->last_seen,
		};

		struct place sp, dp;

		/* An end's place depends only on its address and peer, and on
		 * the time the flow was last seen when it is "timed". */
		if (i > 0 &&
		    end_same(&f->key.src, &f->src_peer, &flows->flows[i - 1].key.src,
			     &flows->flows[i - 1].src_peer) &&
		    (!prev_sp.timed || f->last_seen == flows->flows[i - 1].last_seen)) {
			e.src = prev_src;
			sp = prev_sp;
		} else {
			place_end(c, &p.ws, x.pod_memo, &f->key.src, &f->src_peer, f->last_seen,
				  &sp);
			if (sp.kind != PLACE_NONE)
				resolve(&x, &f->key.src, &f->src_peer, &sp, &e.src);
		}
		prev_src = e.src;
		prev_sp = sp;
		place_end(c, &p.ws, x.pod_memo, &f->key.dst, &f->dst_peer, f->last_seen, &dp);
		if (dp.kind != PLACE_NONE)
			resolve(&x, &f->key.dst, &f->dst_peer, &dp, &e.dst);
		p.n_flows++;
		if (sp.kind == PLACE_NONE || dp.kind == PLACE_NONE) {
			/* No rule and no "seen" from it: the end it names is
			 * not in the cluster, and guessing (its old address)
			 * would grant that address's next owner. */
			p.n_flows_unplaced++;
			r = unplaced_add(&p, &cap_unplaced, f, &sp, &dp);
			if (r < 0)
				goto out;
			continue;
		}
		if (e.src.kind != EP_WL && e.dst.kind != EP_WL) {
			p.n_flows_no_pod++;
			continue;
		}
		if (e.src.kind == EP_WL)
			seen[e.src.wl] = true;
		if (e.dst.kind == EP_WL)
			seen[e.dst.wl] = true;
		r = edge_add(&x, &e);
		if (r < 0)
			goto out;
	}
	unplaced_merge(&p);
	for (size_t w = 0; w < p.ws.n; w++)
		p.n_workloads_seen += seen[w];
	edges_merge(&x);
	r = add_dns_edges(&x);
	if (r < 0)
		goto out;

	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		if (!o->dir[d])
			continue;
		r = policies_for(&x, (enum netpol_dir) d, seen, level, &p);
		if (r < 0)
			goto out;
	}
	if (p.n)
		qsort(p.v, p.n, sizeof(*p.v), policy_name_cmp);
	*ret = p;
	p = (struct proposal){ 0 };
	r = 0;

out:
	if (r < 0)
		bh_err_oom(reterr);
out_err:
	proposal_done(&p);
	free(x.edges);
	free(x.hostnet);
	free(x.dns_wl);
	free(x.pod_memo);
	free(seen);
	free(level);
	return r;
}

/* ---- self-check ---- */

/*
 * The pod standing for an end placed as @pl (place_end() on the checked
 * cluster @cc): the pod, or the first pod of a workload whose flow pod is
 * gone.  NULL for an address.
 */
static const struct pod *check_pod(const struct cluster *cc, const struct place *pl)
{
	if (pl->kind == PLACE_POD)
		return pl->pod->host_network ? NULL : pl->pod;
	if (pl->kind == PLACE_WORKLOAD && pl->w->n_pods)
		return &cc->pods[pl->w->pods[0]];
	return NULL;
}

static int describe_end(const struct workload_set *ws, const struct cluster *cc,
			const struct pod *p, const struct addr *a, char **ret)
{
	char s[ADDR_STR_MAX];

	if (p) {
		const struct workload *w = &ws->v[workload_set_of_pod(ws, (size_t) (p - cc->pods))];

		return asprintf(ret, "%s/%s/%s", w->ns, w->kind, w->name) < 0 ? -ENOMEM : 0;
	}
	*ret = strdup(addr_format(a, s, sizeof(s)));
	return *ret ? 0 : -ENOMEM;
}

static int denial_cmp(const void *a, const void *b)
{
	const struct proposal_denial *x = a, *y = b;
	int c = strcmp(x->src, y->src);

	if (c || (c = strcmp(x->dst, y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int denial_add(struct proposal *p, struct proposal_denial *d)
{
	struct proposal_denial *v;

	for (size_t i = 0; i < p->n_denials; i++)
		if (denial_cmp(&p->denials[i], d) == 0) {
			p->denials[i].flows++;
			free(d->src);
			free(d->dst);
			return 0;
		}
	v = realloc(p->denials, (p->n_denials + 1) * sizeof(*v));
	if (!v) {
		free(d->src);
		free(d->dst);
		return -ENOMEM;
	}
	p->denials = v;
	d->flows = 1;
	p->denials[p->n_denials++] = *d;
	return 0;
}

/*
 * Verdicts between pods, remembered per class of pods.  200,000 flows
 * over 5,000 pods are mostly the same few thousand workload pairs on the
 * same ports, and asking the engine again for each was most of the
 * self-check.  What the engine looks at for a pod (include/engine.h) is
 * its namespace (and that namespace's labels), its labels, its container
 * ports (named ports), whether it uses the host network, its node (only
 * for traffic from a node address, which is not a pod) and its address
 * (only through ipBlocks); of its labels, selectors see only the keys they
 * name.  So two pods are in one class when their namespace, ports and
 * values for every key a selector of the checked policies names are
 * equal (pods of a Deployment mid-rollout differ only in
 * pod-template-hash, which no selector names); a pod on the host network, or
 * with an address inside any ipBlock of the checked policies (excepts
 * ignored), is in none, and its flows go to the engine every time.
 * An end that is no pod (an external address, a node) is what the engine
 * makes of its address alone, so each distinct address is a class of its
 * own (numbered from CHECK_ADDR_ID up).  Verdicts are remembered per
 * (source class, destination class, family, protocol, port); counting
 * stays per flow.
 */
#define CHECK_ADDR_ID (UINT32_C(1) << 31)

struct memo_slot {
	uint32_t src, dst; /* class + 1 or address id; 0: empty slot */
	uint16_t port;
	uint8_t proto, family;
	bool allowed;
};

struct addr_slot {
	struct addr a;
	uint32_t id; /* CHECK_ADDR_ID + index; 0: empty slot */
};

struct check_memo {
	uint32_t *cls; /* per pod of the checked cluster: class + 1, 0 none */
	struct memo_slot *slots;
	size_t n, n_slots; /* a power of two */
	struct addr_slot *addrs; /* address ids */
	size_t n_addrs, n_addr_slots; /* a power of two */
	uint64_t seed;
};

static void check_memo_done(struct check_memo *m)
{
	free(m->cls);
	free(m->slots);
	free(m->addrs);
	*m = (struct check_memo){ 0 };
}

static struct addr_slot *addr_slot_of(const struct check_memo *m, const struct addr *a)
{
	size_t i = hash_bytes(a, sizeof(*a), m->seed) & (m->n_addr_slots - 1);

	while (m->addrs[i].id && !addr_eq(&m->addrs[i].a, a))
		i = (i + 1) & (m->n_addr_slots - 1);
	return &m->addrs[i];
}

/* The id of address @a, or 0 (not remembered) without memory. */
static uint32_t memo_addr_id(struct check_memo *m, const struct addr *a)
{
	struct addr_slot *s;

	if (m->n_addr_slots) {
		s = addr_slot_of(m, a);
		if (s->id)
			return s->id;
	}
	if (m->n_addrs >= CHECK_ADDR_ID - 1)
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
				*addr_slot_of(m, &old[i].a) = old[i];
		free(old);
	}
	s = addr_slot_of(m, a);
	*s = (struct addr_slot){ .a = *a, .id = CHECK_ADDR_ID + (uint32_t) m->n_addrs++ };
	return s->id;
}

static int cidr_group_cmp(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return memcmp(x->addr.b, y->addr.b, sizeof(x->addr.b));
}

/* Every ipBlock cidr of @cc's policies, sorted by (family, length, prefix). */
static int ipblocks_collect(const struct cluster *cc, struct cidr **ret, size_t *ret_n)
{
	struct cidr *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < cc->n_policies; i++) {
		const struct netpol *np = &cc->policies[i];

		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			for (size_t k = 0; k < np->n_rules[d]; k++)
				for (size_t j = 0; j < np->rules[d][k].n_peers; j++) {
					const struct netpol_peer *pe = &np->rules[d][k].peers[j];

					if (pe->kind != NETPOL_PEER_IPBLOCK)
						continue;
					if (n == cap) {
						size_t nc = cap ? 2 * cap : 64;
						struct cidr *nv = realloc(v, nc * sizeof(*nv));

						if (!nv) {
							free(v);
							return -ENOMEM;
						}
						v = nv;
						cap = nc;
					}
					v[n++] = pe->cidr;
				}
	}
	if (n)
		qsort(v, n, sizeof(*v), cidr_group_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Is @a inside one of @v (sorted by cidr_group_cmp; @groups holds the
 * start of each run of one family and length, and @n)? */
static bool ipblocks_contain(const struct cidr *v, const size_t *groups, size_t n_groups,
			     const struct addr *a)
{
	for (size_t g = 0; g < n_groups; g++) {
		const struct cidr *first = &v[groups[g]];
		struct cidr key = { .addr = { .family = first->addr.family }, .plen = first->plen };

		if (first->addr.family != a->family)
			continue;
		for (unsigned b = 0; b < first->plen && b < 128; b += 8) {
			unsigned bits = first->plen - b < 8 ? first->plen - b : 8;

			key.addr.b[b / 8] = (uint8_t) (a->b[b / 8] & (0xff00u >> bits));
		}
		if (bsearch(&key, first, groups[g + 1] - groups[g], sizeof(*v), cidr_group_cmp))
			return true;
	}
	return false;
}

/* The label keys any selector of @cc's policies looks at: no selector can
 * tell apart two pods whose labels agree on these. */
static int selector_keys_add(const struct selector *sel, const char ***v, size_t *n, size_t *cap)
{
	size_t want = sel ? sel->match_labels.n + sel->n_reqs : 0;

	if (!want)
		return 0;
	if (*n + want > *cap) {
		size_t nc = 2 * (*n + want);
		const char **nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	for (size_t i = 0; i < sel->match_labels.n; i++)
		(*v)[(*n)++] = sel->match_labels.v[i].key;
	for (size_t i = 0; i < sel->n_reqs; i++)
		(*v)[(*n)++] = sel->reqs[i].key;
	return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int selector_keys_collect(const struct cluster *cc, const char ***ret, size_t *ret_n)
{
	const char **v = NULL;
	size_t n = 0, cap = 0, out = 0;
	int r = 0;

	for (size_t i = 0; i < cc->n_policies && r == 0; i++) {
		const struct netpol *np = &cc->policies[i];

		r = selector_keys_add(&np->pod_sel, &v, &n, &cap);
		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			for (size_t k = 0; k < np->n_rules[d]; k++)
				for (size_t j = 0; j < np->rules[d][k].n_peers && r == 0; j++)
					r = selector_keys_add(np->rules[d][k].peers[j].pod_sel, &v,
							      &n, &cap);
	}
	if (r < 0) {
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), str_ptr_cmp);
	for (size_t i = 0; i < n; i++)
		if (!out || strcmp(v[out - 1], v[i]) != 0)
			v[out++] = v[i];
	*ret = v;
	*ret_n = out;
	return 0;
}

struct class_keys {
	const char **v; /* borrowed from the policies */
	size_t n;
	uint64_t seed;
};

static uint64_t pod_class_hash(const struct class_keys *ck, const struct pod *p)
{
	uint64_t h = hash_str(p->ns, ck->seed);

	for (size_t i = 0; i < ck->n; i++) {
		const char *v = labels_get(&p->labels, ck->v[i]);

		h = v ? hash_str(v, h + 1) : h + 2;
	}
	for (size_t i = 0; i < p->n_ports; i++)
		h = hash_bytes(&p->ports[i].port, sizeof(p->ports[i].port),
			       h + p->ports[i].protocol);
	return h;
}

static bool pod_class_eq(const struct class_keys *ck, const struct pod *a, const struct pod *b)
{
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

static int check_memo_init(struct check_memo *m, const struct cluster *cc)
{
	struct cidr *blocks = NULL;
	struct class_keys ck = { 0 };
	size_t n_blocks = 0, n_tab = 16, *groups = NULL, n_groups = 0;
	uint32_t *tab = NULL, n_cls = 0; /* class representatives: pod index + 1 */
	int r;

	*m = (struct check_memo){ .seed = hash_seed_random() };
	ck.seed = m->seed;
	r = ipblocks_collect(cc, &blocks, &n_blocks);
	if (r == 0)
		r = selector_keys_collect(cc, &ck.v, &ck.n);
	if (r < 0)
		goto out;
	while (n_tab < 2 * cc->n_pods)
		n_tab *= 2;
	m->cls = calloc(cc->n_pods ? cc->n_pods : 1, sizeof(*m->cls));
	tab = calloc(n_tab, sizeof(*tab));
	groups = calloc(n_blocks + 1, sizeof(*groups));
	if (!m->cls || !tab || !groups) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_blocks; i++)
		if (!i || blocks[i].addr.family != blocks[i - 1].addr.family ||
		    blocks[i].plen != blocks[i - 1].plen)
			groups[n_groups++] = i;
	groups[n_groups] = n_blocks;
	for (size_t i = 0; i < cc->n_pods; i++) {
		const struct pod *p = &cc->pods[i];
		bool covered = false;
		size_t k;

		for (size_t a = 0; a < p->n_ips && !covered; a++)
			covered = ipblocks_contain(blocks, groups, n_groups, &p->ips[a]);
		if (p->host_network || covered)
			continue;
		for (k = pod_class_hash(&ck, p) & (n_tab - 1); tab[k]; k = (k + 1) & (n_tab - 1))
			if (pod_class_eq(&ck, p, &cc->pods[tab[k] - 1])) {
				m->cls[i] = m->cls[tab[k] - 1];
				break;
			}
		if (!tab[k]) {
			tab[k] = (uint32_t) i + 1;
			m->cls[i] = ++n_cls;
		}
	}
	r = 0;
out:
	free(ck.v);
	free(groups);
	free(tab);
	free(blocks);
	return r;
}

static uint64_t memo_hash(const struct check_memo *m, const struct memo_slot *k)
{
	uint64_t w[2] = { (uint64_t) k->src << 32 | k->dst,
			  (uint64_t) k->port << 16 | (uint64_t) k->proto << 8 | k->family };

	return hash_bytes(w, sizeof(w), m->seed);
}

static bool memo_key_eq(const struct memo_slot *a, const struct memo_slot *b)
{
	return a->src == b->src && a->dst == b->dst && a->port == b->port && a->proto == b->proto &&
	       a->family == b->family;
}

/* The slot of @k: the one remembering it, or the empty one to fill. */
static struct memo_slot *memo_slot_of(const struct check_memo *m, const struct memo_slot *k)
{
	size_t i = memo_hash(m, k) & (m->n_slots - 1);

	while (m->slots[i].src && !memo_key_eq(&m->slots[i], k))
		i = (i + 1) & (m->n_slots - 1);
	return &m->slots[i];
}

/* Remembers a verdict; without memory it is simply not remembered. */
static void memo_put(struct check_memo *m, const struct memo_slot *k)
{
	if ((m->n + 1) * 2 > m->n_slots) {
		size_t ns = m->n_slots ? 2 * m->n_slots : 1024;
		struct memo_slot *old = m->slots;
		size_t n_old = m->n_slots;

		m->slots = calloc(ns, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			return;
		}
		m->n_slots = ns;
		for (size_t i = 0; i < n_old; i++)
			if (old[i].src)
				*memo_slot_of(m, &old[i]) = old[i];
		free(old);
	}
	*memo_slot_of(m, k) = *k;
	m->n++;
}

int propose_self_check(struct proposal *p, const struct flow_set *flows, const struct cluster *c,
		       struct bh_err *reterr)
{
	struct cluster *cc = NULL;
	struct engine *e = NULL;
	const struct pod *sp = NULL;
	struct engine_ep src = { 0 };
	struct place spl = { 0 };
	struct check_memo memo = { 0 };
	uint32_t src_id = 0;
	/* Without memory for it, lookups are simply not remembered. */
	struct pod_memo_slot *pod_memo = calloc(POD_MEMO_SLOTS, sizeof(*pod_memo));
	int r;

	p->n_checked = p->n_allowed = 0;
	r = cluster_copy(c, &cc);
	if (r < 0)
		goto out;
	/* The proposal alone: policies already in the cluster are not part
	 * of what is being checked. */
	while (cc->n_policies) {
		char *ns = strdup(cc->policies[0].ns), *name = strdup(cc->policies[0].name);

		if (!ns || !name) {
			free(ns);
			free(name);
			r = -ENOMEM;
			goto out;
		}
		(void) cluster_policy_remove(cc, ns, name);
		free(ns);
		free(name);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct netpol np;

		netpol_init(&np);
		r = netpol_copy(&np, &p->v[i].np);
		if (r < 0) {
			netpol_done(&np);
			goto out;
		}
		r = cluster_policy_put(cc, &np);
		if (r < 0)
			goto out;
	}
	r = engine_new(cc, &e);
	if (r < 0)
		goto out;
	r = check_memo_init(&memo, cc);
	if (r < 0)
		goto out;

	for (size_t i = 0; i < flows->n; i++) {
		const struct flow_record *f = &flows->flows[i];
		const struct pod *dp;
		struct place dpl;
		struct engine_ep dst;
		struct proposal_denial d = { .proto = f->key.proto, .port = f->key.port };
		struct memo_slot key = { .port = f->key.port,
					 .proto = f->key.proto,
					 .family = f->key.src.family };
		struct memo_slot *slot = NULL;
		bool allowed;

		/* The source end depends only on its address and peer (and
		 * on the time, when timed), as in propose_build(). */
		if (i == 0 ||
		    !end_same(&f->key.src, &f->src_peer, &flows->flows[i - 1].key.src,
			      &flows->flows[i - 1].src_peer) ||
		    (spl.timed && f->last_seen != flows->flows[i - 1].last_seen)) {
			place_end(cc, &p->ws, pod_memo, &f->key.src, &f->src_peer, f->last_seen,
				  &spl);
			sp = check_pod(cc, &spl);
			if (sp)
				engine_ep_pod(e, sp, f->key.src.family, &src);
			else
				engine_ep_addr(e, &f->key.src, &src);
			src_id = sp ? memo.cls[sp - cc->pods] : memo_addr_id(&memo, &f->key.src);
		}
		place_end(cc, &p->ws, pod_memo, &f->key.dst, &f->dst_peer, f->last_seen, &dpl);
		/* Not placed: propose_build() counted it, nothing to check. */
		if (spl.kind == PLACE_NONE || dpl.kind == PLACE_NONE)
			continue;
		dp = check_pod(cc, &dpl);
		key.src = src_id;
		key.dst = dp ? memo.cls[dp - cc->pods] : memo_addr_id(&memo, &f->key.dst);
		if (key.src && key.dst && memo.n_slots) {
			slot = memo_slot_of(&memo, &key);
			if (!slot->src)
				slot = NULL;
		}
		if (slot) {
			allowed = slot->allowed;
		} else {
			if (dp)
				engine_ep_pod(e, dp, f->key.dst.family, &dst);
			else
				engine_ep_addr(e, &f->key.dst, &dst);
			allowed = engine_allowed(e, &src, &dst, f->key.proto, f->key.port);
			if (key.src && key.dst) {
				key.allowed = allowed;
				memo_put(&memo, &key);
			}
		}
		p->n_checked++;
		if (allowed) {
			p->n_allowed++;
			continue;
		}
		r = describe_end(&p->ws, cc, sp, &f->key.src, &d.src);
		if (r == 0)
			r = describe_end(&p->ws, cc, dp, &f->key.dst, &d.dst);
		if (r == 0)
			r = denial_add(p, &d);
		else {
			free(d.src);
			free(d.dst);
		}
		if (r < 0)
			goto out;
	}
	if (p->n_denials)
		qsort(p->denials, p->n_denials, sizeof(*p->denials), denial_cmp);
	r = 0;

out:
	if (r < 0)
		bh_err_oom(reterr);
	check_memo_done(&memo);
	free(pod_memo);
	engine_free(e);
	cluster_free(cc);
	return r;
}

size_t proposal_uncovered(const struct proposal *p)
{
	return p->n_checked - p->n_allowed + p->n_flows_unplaced;
}
