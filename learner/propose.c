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
#include <stdlib.h>
#include <string.h>

#include "propose.h"
#include "propose_int.h"

void propose_opts_init(struct propose_opts *o)
{
	*o = (struct propose_opts){
		.dir = { [NETPOL_INGRESS] = true, [NETPOL_EGRESS] = true },
		.aggregate_count = 0,
		.aggregate_plen4 = 24,
		.aggregate_plen6 = 64,
	};
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
		propose_unplaced_done(&p->unplaced[i]);
	free(p->unplaced);
	workload_set_done(&p->ws);
	*p = (struct proposal){ 0 };
}

/*
 * Does an existing policy of the cluster (NETPOL_ORIGIN_CLUSTER; policies
 * of other origins are as if absent) isolate every pod of @w in direction
 * @d?  A workload whose pods are all gone is not isolated: nothing says
 * what its next pods will carry.
 */
static bool existing_isolates(const struct cluster *c, const struct workload *w, enum netpol_dir d)
{
	if (!w->n_pods)
		return false;
	for (size_t i = 0; i < w->n_pods; i++) {
		const struct pod *pod = &c->pods[w->pods[i]];
		size_t first, end;
		bool isolated = false;

		cluster_policies_in_ns(c, pod->ns, &first, &end);
		for (size_t k = first; k < end && !isolated; k++) {
			const struct netpol *np = &c->policies[k];

			isolated = np->origin == NETPOL_ORIGIN_CLUSTER && np->types[d] &&
				   selector_matches(&np->pod_sel, &pod->labels);
		}
		if (!isolated)
			return false;
	}
	return true;
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
		qsort(x->edges, x->n_edges, sizeof(*x->edges),
		      in ? propose_edge_cmp_dst : propose_edge_cmp_src);
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
		/* A NetworkPolicy only widens what another allows: where an
		 * existing policy isolates the workload, a proposed one would
		 * change nothing that is enforced. */
		if (existing_isolates(x->c, &x->ws->v[w], d)) {
			p->n_existing_isolated++;
			i = j;
			continue;
		}
		v = realloc(p->v, (p->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		r = propose_policy_build(x, w, d, &x->edges[i], j - i, &p->v[p->n]);
		if (r == 0)
			r = propose_policy_name(x->ws, w, (enum name_level) level[w], d,
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
	r = propose_name_levels(&p.ws, level, reterr);
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
	qsort(x.hostnet, x.n_hostnet, sizeof(*x.hostnet), propose_hostnet_cmp);

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
		    propose_end_same(&f->key.src, &f->src_peer, &flows->flows[i - 1].key.src,
				     &flows->flows[i - 1].src_peer) &&
		    (!prev_sp.timed || f->last_seen == flows->flows[i - 1].last_seen)) {
			e.src = prev_src;
			sp = prev_sp;
		} else {
			propose_place_end(c, &p.ws, x.pod_memo, &f->key.src, &f->src_peer,
					  f->last_seen, &sp);
			if (sp.kind != PLACE_NONE)
				propose_resolve(&x, &f->key.src, &f->src_peer, &sp, &e.src);
		}
		prev_src = e.src;
		prev_sp = sp;
		propose_place_end(c, &p.ws, x.pod_memo, &f->key.dst, &f->dst_peer, f->last_seen,
				  &dp);
		if (dp.kind != PLACE_NONE)
			propose_resolve(&x, &f->key.dst, &f->dst_peer, &dp, &e.dst);
		p.n_flows++;
		if (sp.kind == PLACE_NONE || dp.kind == PLACE_NONE) {
			/* No rule and no "seen" from it: the end it names is
			 * not in the cluster, and guessing (its old address)
			 * would grant that address's next owner. */
			p.n_flows_unplaced++;
			r = propose_unplaced_add(&p, &cap_unplaced, f, &sp, &dp);
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
		r = propose_edge_add(&x, &e);
		if (r < 0)
			goto out;
	}
	propose_unplaced_merge(&p);
	for (size_t w = 0; w < p.ws.n; w++)
		p.n_workloads_seen += seen[w];
	propose_edges_merge(&x);
	r = propose_add_dns_edges(&x);
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
		qsort(p.v, p.n, sizeof(*p.v), propose_policy_name_cmp);
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

size_t proposal_uncovered(const struct proposal *p)
{
	return p->n_checked - p->n_allowed - p->n_existing_denied + p->n_flows_unplaced;
}

int proposal_ns_view(const struct proposal *p, const char *ns, struct proposal *ret)
{
	*ret = *p;
	ret->v = calloc(p->n ? p->n : 1, sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	ret->n = 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].np.ns, ns) == 0)
			ret->v[ret->n++] = p->v[i];
	return 0;
}

void proposal_ns_view_done(struct proposal *view)
{
	free(view->v);
	view->v = NULL;
	view->n = 0;
}
