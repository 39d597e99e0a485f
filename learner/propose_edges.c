/*
 * propose: edges, the learned flows merged per (source, destination,
 * protocol, port) with their counters, and the DNS edges every workload
 * gets towards the cluster's DNS servers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "propose_int.h"
#include "vec.h"

int propose_edge_cmp_src(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	int c = propose_ep_cmp(&x->src, &y->src);

	if (c || (c = propose_ep_cmp(&x->dst, &y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

int propose_edge_cmp_dst(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	int c = propose_ep_cmp(&x->dst, &y->dst);

	if (c || (c = propose_ep_cmp(&x->src, &y->src)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

int propose_edge_add(struct ctx *x, const struct edge *e)
{
	if (x->n_edges == x->cap_edges) {
		struct edge *v = vec_grow(x->edges, &x->cap_edges, x->n_edges + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->edges = v;
	}
	x->edges[x->n_edges++] = *e;
	return 0;
}

/* Sorts by source and merges equal edges. */
void propose_edges_merge(struct ctx *x)
{
	size_t out = 0;

	if (!x->n_edges)
		return;
	qsort(x->edges, x->n_edges, sizeof(*x->edges), propose_edge_cmp_src);
	for (size_t i = 1; i < x->n_edges; i++) {
		struct edge *o = &x->edges[out], *e = &x->edges[i];

		if (propose_edge_cmp_src(o, e) == 0) {
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

bool propose_is_dns(uint8_t proto, uint16_t port)
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
int propose_add_dns_edges(struct ctx *x)
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
		if (x->edges[i].dst.kind == EP_WL &&
		    propose_is_dns(x->edges[i].proto, x->edges[i].port) &&
		    workload_declares_dns(x, &x->ws->v[x->edges[i].dst.wl]))
			x->dns_wl[x->edges[i].dst.wl] = true;

	for (size_t i = 0; i < n; i++) {
		struct edge e = x->edges[i];

		if (e.src.kind != EP_WL || !propose_is_dns(e.proto, e.port))
			continue;
		e.flows = 0;
		e.conns = 0;
		if (e.dst.kind == EP_WL && x->dns_wl[e.dst.wl]) {
			e.proto = e.proto == IPPROTO_UDP ? IPPROTO_TCP : IPPROTO_UDP;
			r = propose_edge_add(x, &e);
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
			if ((r = propose_edge_add(x, &e)) < 0)
				return r;
			e.proto = IPPROTO_TCP;
			if ((r = propose_edge_add(x, &e)) < 0)
				return r;
		}
	}
	propose_edges_merge(x);
	return 0;
}
