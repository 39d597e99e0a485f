/*
 * propose: the ends of a flow.  propose_place_end() decides where an end
 * goes (the pod the flow names, its recorded workload, the pod now holding
 * the address, the address, or nowhere); propose_resolve() turns a placed
 * end into an endpoint of the proposal; address ends are described for the
 * rules' notes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "propose_int.h"

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

int propose_ep_cmp(const struct ep *a, const struct ep *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == EP_WL)
		return a->wl < b->wl ? -1 : a->wl > b->wl;
	return addr_cmp(&a->addr, &b->addr);
}

int propose_hostnet_cmp(const void *a, const void *b)
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

bool propose_end_same(const struct addr *a, const struct flow_peer *p, const struct addr *b,
		      const struct flow_peer *q)
{
	return addr_eq(a, b) && p->kind == q->kind && str_same(p->ns, q->ns) &&
	       str_same(p->name, q->name) && str_same(p->workload_kind, q->workload_kind) &&
	       str_same(p->workload_name, q->workload_name);
}

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

void propose_place_end(struct cluster *c, const struct workload_set *ws, struct pod_memo_slot *memo,
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
void propose_resolve(struct ctx *x, const struct addr *a, const struct flow_peer *fp,
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
int propose_ep_describe_addr(const struct ctx *x, const struct ep *ep, const struct edge *e,
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
