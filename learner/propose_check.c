/*
 * propose: the self-check, the proposal evaluated against the flows it came
 * from, through the engine memo (include/engine_memo.h): the same flows,
 * placed the same way, each asked once per class of pods.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_memo.h"
#include "propose_int.h"

/*
 * The pod standing for an end placed as @pl (propose_place_end() on the checked
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
 * The policies checked: the cluster's existing ones (origin cluster) and
 * the proposed ones, renamed with NETPOL_PROPOSAL_PREFIX so that none
 * replaces an existing policy of the same name in the memo's copy, and of
 * origin enforce so that the two are joined as NetworkPolicies are.  The
 * renamed copies are shallow: only @names is owned.
 */
struct checked {
	const struct netpol **v;
	size_t n, n_existing;
	struct netpol *renamed;
	char **names;
};

static void checked_done(struct checked *k, size_t n_proposed)
{
	for (size_t i = 0; k->names && i < n_proposed; i++)
		free(k->names[i]);
	free(k->names);
	free(k->renamed);
	free(k->v);
}

static int checked_init(struct checked *k, const struct proposal *p, const struct cluster *c)
{
	size_t n_ex = 0;

	*k = (struct checked){ 0 };
	for (size_t i = 0; i < c->n_policies; i++)
		n_ex += c->policies[i].origin == NETPOL_ORIGIN_CLUSTER;
	k->v = calloc(n_ex + p->n + 1, sizeof(*k->v));
	k->renamed = calloc(p->n + 1, sizeof(*k->renamed));
	k->names = calloc(p->n + 1, sizeof(*k->names));
	if (!k->v || !k->renamed || !k->names)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_policies; i++)
		if (c->policies[i].origin == NETPOL_ORIGIN_CLUSTER)
			k->v[k->n++] = &c->policies[i];
	k->n_existing = k->n;
	for (size_t i = 0; i < p->n; i++) {
		k->renamed[i] = p->v[i].np;
		if (k->n_existing) {
			if (asprintf(&k->names[i], NETPOL_PROPOSAL_PREFIX "%s", p->v[i].np.name) <
			    0) {
				k->names[i] = NULL;
				return -ENOMEM;
			}
			k->renamed[i].name = k->names[i];
			k->renamed[i].origin = NETPOL_ORIGIN_ENFORCE;
		}
		k->v[k->n++] = &k->renamed[i];
	}
	return 0;
}

/* The endpoint of @pl (placed on @from) for an engine over @to, a copy of
 * @from with the same pods in the same order. */
static void ep_on(struct engine *e, const struct cluster *from, const struct cluster *to,
		  const struct pod *pod, const struct addr *a, struct engine_ep *ret)
{
	if (pod)
		engine_ep_pod(e, &to->pods[pod - from->pods], a->family, ret);
	else
		engine_ep_addr(e, a, ret);
}

int propose_self_check(struct proposal *p, const struct flow_set *flows, const struct cluster *c,
		       struct bh_err *reterr)
{
	struct engine_memo *m = NULL, *mx = NULL;
	struct engine *e, *ex = NULL;
	struct cluster *cc, *cx = NULL;
	const struct pod *sp = NULL;
	struct engine_ep src = { 0 }, xsrc = { 0 };
	struct place spl = { 0 };
	struct checked k;
	/* Without memory for it, lookups are simply not remembered. */
	struct pod_memo_slot *pod_memo = calloc(POD_MEMO_SLOTS, sizeof(*pod_memo));
	int r;

	p->n_checked = p->n_allowed = 0;
	p->n_existing_allowed = p->n_existing_denied = 0;
	r = checked_init(&k, p, c);
	if (r < 0)
		goto out;
	/* The existing policies and the proposal together, as they would be
	 * enforced; without existing policies, the proposal alone.  The memo
	 * asks the engine once per class of pods, port and protocol
	 * (include/engine_memo.h). */
	r = engine_memo_new((struct cluster *) c,
			    &(struct engine_memo_policies){ .n = k.n, .v = k.v }, &m);
	if (r < 0)
		goto out;
	e = engine_memo_engine(m);
	cc = engine_memo_cluster(m);
	/* And the existing policies alone: which flows they decide. */
	if (k.n_existing) {
		r = engine_memo_new((struct cluster *) c,
				    &(struct engine_memo_policies){ .n = k.n_existing, .v = k.v },
				    &mx);
		if (r < 0)
			goto out;
		ex = engine_memo_engine(mx);
		cx = engine_memo_cluster(mx);
	}

	for (size_t i = 0; i < flows->n; i++) {
		const struct flow_record *f = &flows->flows[i];
		const struct pod *dp;
		struct place dpl;
		struct engine_ep dst;
		struct proposal_denial d = { .proto = f->key.proto, .port = f->key.port };

		/* The source end depends only on its address and peer (and
		 * on the time, when timed), as in propose_build(). */
		if (i == 0 ||
		    !propose_end_same(&f->key.src, &f->src_peer, &flows->flows[i - 1].key.src,
				      &flows->flows[i - 1].src_peer) ||
		    (spl.timed && f->last_seen != flows->flows[i - 1].last_seen)) {
			propose_place_end(cc, &p->ws, pod_memo, &f->key.src, &f->src_peer,
					  f->last_seen, &spl);
			sp = check_pod(cc, &spl);
			ep_on(e, cc, cc, sp, &f->key.src, &src);
			if (ex)
				ep_on(ex, cc, cx, sp, &f->key.src, &xsrc);
		}
		propose_place_end(cc, &p->ws, pod_memo, &f->key.dst, &f->dst_peer, f->last_seen,
				  &dpl);
		/* Not placed: propose_build() counted it, nothing to check. */
		if (spl.kind == PLACE_NONE || dpl.kind == PLACE_NONE)
			continue;
		dp = check_pod(cc, &dpl);
		ep_on(e, cc, cc, dp, &f->key.dst, &dst);
		p->n_checked++;
		if (ex) {
			struct engine_memo_explanation why;
			struct engine_ep xdst;

			ep_on(ex, cc, cx, dp, &f->key.dst, &xdst);
			r = engine_memo_explain(mx, &xsrc, &xdst, f->key.proto, f->key.port, &why);
			if (r < 0)
				goto out;
			/* Denied by what exists: the proposal cannot widen it. */
			if (!why.allowed) {
				p->n_existing_denied++;
				continue;
			}
			if (why.reason == ENGINE_REASON_RULE &&
			    engine_memo_allowed(m, &src, &dst, f->key.proto, f->key.port)) {
				p->n_existing_allowed++;
				p->n_allowed++;
				continue;
			}
		}
		if (engine_memo_allowed(m, &src, &dst, f->key.proto, f->key.port)) {
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
	engine_memo_free(mx);
	engine_memo_free(m);
	free(pod_memo);
	checked_done(&k, p->n);
	return r;
}
