/*
 * Address -> identity with pod lifetimes.  The index is a sorted array of
 * (address, pod) for every pod address, so the pods that ever used an
 * address are one binary search away; host-network pods share their
 * node's address and are indexed separately.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "workload.h"

struct id_ref {
	struct addr addr;
	const struct pod *pod;
};

struct identity {
	const struct cluster *c;
	size_t n, n_host, n_tomb;
	struct id_ref *refs; /* pods, sorted by address */
	struct id_ref *host; /* host-network pods, sorted by address */
	struct id_ref *tomb; /* deleted pods (tombstones), sorted by address */
};

static int ref_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct id_ref *) a)->addr, &((const struct id_ref *) b)->addr);
}

int identity_new_with_tombstones(const struct cluster *c, const struct tombstones *tombs,
				 struct identity **ret)
{
	struct identity *id = calloc(1, sizeof(*id));
	size_t total = 0, n_tombs = tombs ? tombstones_count(tombs) : 0;

	if (!id)
		return -ENOMEM;
	id->c = c;
	for (size_t i = 0; i < c->n_pods; i++)
		total += c->pods[i].n_ips;
	id->refs = calloc(total ? total : 1, sizeof(*id->refs));
	id->host = calloc(total ? total : 1, sizeof(*id->host));
	id->tomb = calloc(n_tombs ? n_tombs * POD_IPS_MAX : 1, sizeof(*id->tomb));
	if (!id->refs || !id->host || !id->tomb) {
		identity_free(id);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		for (size_t j = 0; j < p->n_ips && j < POD_IPS_MAX; j++) {
			if (p->host_network)
				id->host[id->n_host++] = (struct id_ref){ p->ips[j], p };
			else
				id->refs[id->n++] = (struct id_ref){ p->ips[j], p };
		}
	}
	for (size_t i = 0; i < n_tombs; i++) {
		const struct pod *p = tombstones_pod(tombs, i);

		for (size_t j = 0; j < p->n_ips && j < POD_IPS_MAX; j++)
			id->tomb[id->n_tomb++] = (struct id_ref){ p->ips[j], p };
	}
	/* qsort() with a NULL base is undefined even for zero elements. */
	if (id->n)
		qsort(id->refs, id->n, sizeof(*id->refs), ref_cmp);
	if (id->n_host)
		qsort(id->host, id->n_host, sizeof(*id->host), ref_cmp);
	if (id->n_tomb)
		qsort(id->tomb, id->n_tomb, sizeof(*id->tomb), ref_cmp);
	*ret = id;
	return 0;
}

int identity_new(const struct cluster *c, struct identity **ret)
{
	return identity_new_with_tombstones(c, NULL, ret);
}

struct identity *identity_free(struct identity *id)
{
	if (!id)
		return NULL;
	free(id->refs);
	free(id->host);
	free(id->tomb);
	free(id);
	return NULL;
}

/* [*first, *end) of the refs with address @a. */
static void ref_range(const struct id_ref *v, size_t n, const struct addr *a, size_t *first,
		      size_t *end)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&v[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo < n && addr_eq(&v[lo].addr, a))
		lo++;
	*end = lo;
}

static bool pod_alive(const struct pod *p, int64_t t)
{
	return (p->created == 0 || p->created <= t) && (p->deleted == 0 || t < p->deleted);
}

int identity_workload(const struct pod *p, char **ret_kind, char **ret_name)
{
	*ret_kind = *ret_name = NULL;
	/* A bare pod has no controller to record; propose groups bare pods
	 * by their labels over the whole namespace, which one pod cannot
	 * tell. */
	if (!p->owner.kind || !p->owner.name)
		return 0;
	return workload_of_pod(p, ret_kind, ret_name);
}

static int peer_pod(const struct pod *p, struct flow_peer *ret)
{
	ret->kind = FLOW_PEER_POD;
	ret->ns = strdup(p->ns);
	ret->name = strdup(p->name);
	if (!ret->ns || !ret->name)
		return -ENOMEM;
	if (labels_copy(&ret->labels, &p->labels) < 0)
		return -ENOMEM;
	return identity_workload(p, &ret->workload_kind, &ret->workload_name);
}

static int peer_node(const char *name, struct flow_peer *ret)
{
	ret->kind = FLOW_PEER_NODE;
	if (!name)
		return 0;
	ret->name = strdup(name);
	return ret->name ? 0 : -ENOMEM;
}

/* Of the pods of refs [first, end), the one created last that lived at @t. */
static const struct pod *alive_newest(const struct id_ref *v, size_t first, size_t end, int64_t t)
{
	const struct pod *best = NULL;

	for (size_t i = first; i < end; i++) {
		const struct pod *p = v[i].pod;

		if (!pod_alive(p, t))
			continue;
		if (!best || p->created > best->created)
			best = p;
	}
	return best;
}

int identity_resolve(const struct identity *id, const struct addr *a, int64_t t,
		     struct flow_peer *ret)
{
	const struct pod *best;
	const struct node *node;
	size_t first, end, tf, te;
	int r;

	*ret = (struct flow_peer){ .kind = FLOW_PEER_EXTERNAL };
	labels_init(&ret->labels);
	ref_range(id->refs, id->n, a, &first, &end);
	ref_range(id->tomb, id->n_tomb, a, &tf, &te);
	/* A live pod first: a tombstone of an address since given to a new
	 * pod never shadows it.  A tombstone only answers for a time its
	 * pod lived and no live pod did. */
	best = alive_newest(id->refs, first, end, t);
	if (!best)
		best = alive_newest(id->tomb, tf, te, t);
	if (best) {
		r = peer_pod(best, ret);
	} else if ((node = cluster_node_by_addr(id->c, a))) {
		r = peer_node(node->name, ret);
	} else {
		size_t hf, he;

		ref_range(id->host, id->n_host, a, &hf, &he);
		r = 0;
		if (hf < he)
			r = peer_node(id->host[hf].pod->node, ret);
		else if (first < end || tf < te)
			ret->kind = FLOW_PEER_UNKNOWN;
	}
	if (r < 0)
		flow_peer_done(ret);
	return r;
}
