/*
 * The NetworkPolicy engine (see include/engine.h for the semantics).
 *
 * engine_new() does the per-pod work once: which policies select each pod
 * per direction (kept as one flat array with offsets, CSR style) and which
 * label set namespace selectors see for the pod.  A verdict then walks only
 * the policies selecting the two ends, so a probe costs O(rules of the
 * policies selecting the source and the destination), independent of the
 * size of the cluster.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "vec.h"

#define ENGINE_NS_NAME_LABEL "kubernetes.io/metadata.name"

struct engine {
	struct cluster *c;
	const struct labels **pod_ns_labels; /* per pod, borrowed or synth[] */
	size_t n_synth;
	struct labels *synth; /* namespaces without a Namespace object */
	size_t *sel_off[_NETPOL_DIR_MAX]; /* n_pods + 1 offsets into sel[] */
	size_t *sel[_NETPOL_DIR_MAX]; /* policy indexes */
	bool *preview[_NETPOL_DIR_MAX]; /* per pod: its policies are proposals in preview */
	/* Addresses of host-network pods and their nodes, sorted by address:
	 * a node known only through its host-network pods (no Node object). */
	size_t n_host;
	struct host_addr *host;
	/* Runs of pods of one namespace ([first, end) into pods[]). */
	size_t n_runs;
	struct ns_run *runs;
};

struct ns_run {
	size_t first, end;
};

struct host_addr {
	struct addr addr;
	const char *node; /* borrowed from the pod */
};

static const struct labels empty_labels;

const char *engine_reason_name(enum engine_reason r)
{
	static const char *const names[_ENGINE_REASON_MAX] = {
		[ENGINE_REASON_NOT_ISOLATED] = "not isolated",
		[ENGINE_REASON_NOT_POD] = "not a pod",
		[ENGINE_REASON_LOCAL_NODE] = "from the local node",
		[ENGINE_REASON_RULE] = "a rule allows it",
		[ENGINE_REASON_NO_RULE] = "no rule allows it",
	};

	return r < _ENGINE_REASON_MAX ? names[r] : NULL;
}

struct engine *engine_free(struct engine *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n_synth; i++)
		labels_done(&e->synth[i]);
	free(e->synth);
	free(e->pod_ns_labels);
	free(e->host);
	free(e->runs);
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		free(e->sel_off[d]);
		free(e->sel[d]);
		free(e->preview[d]);
	}
	free(e);
	return NULL;
}

struct cluster *engine_cluster(const struct engine *e)
{
	return e->c;
}

/*
 * Per namespace: the runs of its pods (pods are sorted by namespace), and
 * the labels namespace selectors see.  A namespace without a Namespace
 * object needs one synthetic label set per run of its pods: count the
 * runs, build the sets, then point every pod at its labels.
 */
static int engine_index_ns(struct engine *e)
{
	const struct cluster *c = e->c;
	size_t n_missing = 0, k = 0;

	e->pod_ns_labels = calloc(c->n_pods ? c->n_pods : 1, sizeof(*e->pod_ns_labels));
	if (!e->pod_ns_labels)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct k8s_ns *ns = cluster_ns_find(c, c->pods[i].ns);

		if (ns)
			e->pod_ns_labels[i] = &ns->labels;
		else if (i == 0 || strcmp(c->pods[i - 1].ns, c->pods[i].ns) != 0)
			n_missing++;
	}
	for (size_t i = 0; i < c->n_pods; i++)
		if (i == 0 || strcmp(c->pods[i - 1].ns, c->pods[i].ns) != 0)
			e->n_runs++;
	e->runs = calloc(e->n_runs ? e->n_runs : 1, sizeof(*e->runs));
	if (!e->runs)
		return -ENOMEM;
	for (size_t i = 0, run = 0; i < c->n_pods; i++) {
		if (i > 0 && strcmp(c->pods[i - 1].ns, c->pods[i].ns) != 0)
			e->runs[++run].first = i;
		e->runs[run].end = i + 1;
	}
	if (!n_missing)
		return 0;
	e->synth = calloc(n_missing, sizeof(*e->synth));
	if (!e->synth)
		return -ENOMEM;
	e->n_synth = n_missing;
	for (size_t i = 0; i < n_missing; i++)
		labels_init(&e->synth[i]);
	for (size_t i = 0; i < c->n_pods; i++) {
		if (e->pod_ns_labels[i])
			continue;
		/* The previous pod of the same namespace has its set already. */
		if (i > 0 && strcmp(c->pods[i - 1].ns, c->pods[i].ns) == 0) {
			e->pod_ns_labels[i] = e->pod_ns_labels[i - 1];
			continue;
		}
		if (labels_set(&e->synth[k], ENGINE_NS_NAME_LABEL, c->pods[i].ns) < 0)
			return -ENOMEM;
		e->pod_ns_labels[i] = &e->synth[k++];
	}
	return 0;
}

static bool selects(const struct netpol *p, enum netpol_dir d, const struct pod *pod)
{
	return p->types[d] && selector_matches(&p->pod_sel, &pod->labels);
}

/*
 * Per pod and direction, the policies that decide (include/engine.h,
 * "Origins"): those selecting it that are the cluster's or proposals in
 * enforce, when there is one; else the proposals in preview selecting it,
 * and the pod is marked preview.
 */
static int engine_index_selected(struct engine *e, enum netpol_dir d)
{
	const struct cluster *c = e->c;
	size_t n = 0, cap = 0, *v = NULL;

	e->sel_off[d] = malloc((c->n_pods + 1) * sizeof(size_t));
	e->preview[d] = calloc(c->n_pods + 1, sizeof(bool));
	if (!e->sel_off[d] || !e->preview[d])
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *pod = &c->pods[i];
		bool enforced = false;
		size_t first, end;

		e->sel_off[d][i] = n;
		if (pod->host_network)
			continue;
		cluster_policies_in_ns(c, pod->ns, &first, &end);
		for (size_t k = first; !enforced && k < end; k++)
			enforced = c->policies[k].origin != NETPOL_ORIGIN_PREVIEW &&
				   selects(&c->policies[k], d, pod);
		for (size_t k = first; k < end; k++) {
			const struct netpol *p = &c->policies[k];

			if (!selects(p, d, pod) || (enforced && p->origin == NETPOL_ORIGIN_PREVIEW))
				continue;
			e->preview[d][i] = !enforced;
			if (n == cap) {
				size_t *nv = vec_grow(v, &cap, n + 1, sizeof(*nv));

				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = k;
		}
	}
	e->sel_off[d][c->n_pods] = n;
	e->sel[d] = v;
	return 0;
}

static int host_addr_cmp(const void *a, const void *b)
{
	return addr_cmp(&((const struct host_addr *) a)->addr,
			&((const struct host_addr *) b)->addr);
}

static int engine_index_host(struct engine *e)
{
	const struct cluster *c = e->c;
	size_t n = 0;

	for (size_t i = 0; i < c->n_pods; i++)
		if (c->pods[i].host_network && c->pods[i].node)
			n += c->pods[i].n_ips;
	if (!n)
		return 0;
	e->host = malloc(n * sizeof(*e->host));
	if (!e->host)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		if (!c->pods[i].host_network || !c->pods[i].node)
			continue;
		for (size_t j = 0; j < c->pods[i].n_ips; j++)
			e->host[e->n_host++] = (struct host_addr){ .addr = c->pods[i].ips[j],
								   .node = c->pods[i].node };
	}
	qsort(e->host, e->n_host, sizeof(*e->host), host_addr_cmp);
	return 0;
}

int engine_new(struct cluster *c, struct engine **ret)
{
	struct engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->c = c;
	r = engine_index_ns(e);
	if (r < 0)
		goto fail;
	r = engine_index_host(e);
	if (r < 0)
		goto fail;
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		r = engine_index_selected(e, d);
		if (r < 0)
			goto fail;
	}
	*ret = e;
	return 0;

fail:
	engine_free(e);
	return r;
}

static size_t pod_index(const struct engine *e, const struct pod *p)
{
	return (size_t) (p - e->c->pods);
}

/* The policies (indexes into cluster->policies, cluster order) that select
 * pod @pod_idx and list @dir in their policyTypes; *ret_n == 0 when the pod
 * is not isolated for @dir (host-network pods never are). */
static const size_t *pod_policies(const struct engine *e, size_t pod_idx, enum netpol_dir dir,
				  size_t *ret_n)
{
	size_t off = e->sel_off[dir][pod_idx];

	*ret_n = e->sel_off[dir][pod_idx + 1] - off;
	return e->sel[dir] ? e->sel[dir] + off : NULL;
}

bool engine_pod_isolated(const struct engine *e, size_t pod_idx, enum netpol_dir dir)
{
	return e->sel_off[dir][pod_idx + 1] > e->sel_off[dir][pod_idx];
}

bool engine_pod_preview(const struct engine *e, size_t pod_idx, enum netpol_dir dir)
{
	return e->preview[dir][pod_idx];
}

const struct labels *engine_pod_ns_labels(const struct engine *e, size_t pod_idx)
{
	return e->pod_ns_labels[pod_idx] ? e->pod_ns_labels[pod_idx] : &empty_labels;
}

void engine_ep_pod(const struct engine *e, const struct pod *p, int family, struct engine_ep *ret)
{
	(void) e;
	*ret = (struct engine_ep){ .pod = p };
	for (size_t i = 0; i < p->n_ips; i++) {
		if (p->ips[i].family == family) {
			ret->addr = p->ips[i];
			break;
		}
	}
	if (p->host_network) {
		ret->pod = NULL;
		ret->node = p->node;
	}
}

void engine_ep_addr(struct engine *e, const struct addr *a, struct engine_ep *ret)
{
	const struct pod *p = cluster_pod_by_addr(e->c, a);
	const struct node *n;

	if (p && pod_finished(p))
		p = NULL; /* no identity (cluster.h) */
	*ret = (struct engine_ep){ .pod = p, .addr = *a };
	if (p)
		return;
	n = cluster_node_by_addr(e->c, a);
	if (n) {
		ret->node = n->name;
		return;
	}
	if (e->n_host) {
		struct host_addr key = { .addr = *a };
		const struct host_addr *h =
			bsearch(&key, e->host, e->n_host, sizeof(*e->host), host_addr_cmp);

		if (h)
			ret->node = h->node;
	}
}

bool engine_ipblock_contains(const struct netpol_peer *peer, const struct addr *ip)
{
	if (!ip->family || !cidr_contains(&peer->cidr, ip))
		return false;
	for (size_t i = 0; i < peer->n_except; i++)
		if (cidr_contains(&peer->except[i], ip))
			return false;
	return true;
}

bool engine_peer_selects_pod(const struct engine *e, const struct netpol *p,
			     const struct netpol_peer *peer, size_t pod_idx)
{
	const struct pod *pod = &e->c->pods[pod_idx];

	if (peer->kind != NETPOL_PEER_SELECTOR || pod->host_network)
		return false;
	if (!peer->pod_sel && !peer->ns_sel)
		return false;
	if (!peer->ns_sel) {
		if (strcmp(pod->ns, p->ns) != 0)
			return false;
	} else if (!selector_matches(peer->ns_sel, engine_pod_ns_labels(e, pod_idx))) {
		return false;
	}
	return !peer->pod_sel || selector_matches(peer->pod_sel, &pod->labels);
}

void engine_peer_for_each_pod(const struct engine *e, const struct netpol *p,
			      const struct netpol_peer *peer, engine_pod_fn *fn, void *userdata)
{
	const struct cluster *c = e->c;

	if (peer->kind != NETPOL_PEER_SELECTOR || (!peer->pod_sel && !peer->ns_sel))
		return;
	for (size_t r = 0; r < e->n_runs; r++) {
		size_t first = e->runs[r].first;

		/* The namespace is decided once per run of its pods. */
		if (!peer->ns_sel ? strcmp(c->pods[first].ns, p->ns) != 0 :
				    !selector_matches(peer->ns_sel, engine_pod_ns_labels(e, first)))
			continue;
		for (size_t i = first; i < e->runs[r].end; i++) {
			const struct pod *pod = &c->pods[i];

			if (pod->host_network ||
			    (peer->pod_sel && !selector_matches(peer->pod_sel, &pod->labels)))
				continue;
			fn(i, userdata);
		}
	}
}

/* Does @peer of @p match endpoint @ep (by identity or by address)? */
static bool peer_matches(const struct engine *e, const struct netpol *p,
			 const struct netpol_peer *peer, const struct engine_ep *ep)
{
	if (peer->kind == NETPOL_PEER_IPBLOCK)
		return engine_ipblock_contains(peer, &ep->addr);
	if (!ep->pod)
		return false;
	return engine_peer_selects_pod(e, p, peer, pod_index(e, ep->pod));
}

bool engine_port_matches(const struct netpol_port *pp, const struct pod *dst, uint8_t proto,
			 uint16_t port)
{
	if (pp->protocol != proto)
		return false;
	switch (pp->kind) {
	case NETPOL_PORT_ANY:
		return true;
	case NETPOL_PORT_NUMBER:
		if (pp->end_port)
			return port >= pp->port && port <= pp->end_port;
		return port == pp->port;
	case NETPOL_PORT_NAME:
		if (!dst || dst->host_network || !pp->name)
			return false;
		for (size_t i = 0; i < dst->n_ports; i++) {
			const struct container_port *cp = &dst->ports[i];

			if (cp->name && cp->protocol == proto && cp->port == port &&
			    strcmp(cp->name, pp->name) == 0)
				return true;
		}
		return false;
	}
	return false;
}

bool engine_rule_allows(const struct engine *e, const struct netpol *p, const struct netpol_rule *r,
			const struct engine_ep *peer_ep, const struct pod *dst, uint8_t proto,
			uint16_t port)
{
	bool ok = r->n_ports == 0;

	for (size_t i = 0; !ok && i < r->n_ports; i++)
		ok = engine_port_matches(&r->ports[i], dst, proto, port);
	if (!ok)
		return false;
	if (r->n_peers == 0)
		return true;
	for (size_t i = 0; i < r->n_peers; i++)
		if (peer_matches(e, p, &r->peers[i], peer_ep))
			return true;
	return false;
}

/* Context of one direction of one connection. */
struct dir_ctx {
	enum netpol_dir dir;
	const struct engine_ep *self; /* the side the policies select */
	const struct engine_ep *peer; /* the other side */
	const struct pod *dst; /* destination pod, for named ports */
};

static void dir_ctx_init(struct dir_ctx *x, enum netpol_dir d, const struct engine_ep *src,
			 const struct engine_ep *dst)
{
	x->dir = d;
	x->self = d == NETPOL_INGRESS ? dst : src;
	x->peer = d == NETPOL_INGRESS ? src : dst;
	x->dst = dst->pod;
}

/*
 * The verdict for one direction before rules are looked at: returns true
 * when the direction is allowed whatever the rules say, with the reason in
 * *ret_reason.
 */
static bool dir_shortcut(const struct engine *e, const struct dir_ctx *x,
			 enum engine_reason *ret_reason)
{
	if (!x->self->pod) {
		*ret_reason = ENGINE_REASON_NOT_POD;
		return true;
	}
	if (!engine_pod_isolated(e, pod_index(e, x->self->pod), x->dir)) {
		*ret_reason = ENGINE_REASON_NOT_ISOLATED;
		return true;
	}
	if (x->dir == NETPOL_INGRESS && x->peer->node && x->self->pod->node && !x->peer->pod &&
	    strcmp(x->peer->node, x->self->pod->node) == 0) {
		*ret_reason = ENGINE_REASON_LOCAL_NODE;
		return true;
	}
	return false;
}

/* Do the rules of the policies deciding for @x allow it (shortcuts
 * first)? */
static bool dir_rules_allow(const struct engine *e, const struct dir_ctx *x, uint8_t proto,
			    uint16_t port)
{
	enum engine_reason reason;
	const size_t *pol;
	size_t n;

	if (dir_shortcut(e, x, &reason))
		return true;
	pol = pod_policies(e, pod_index(e, x->self->pod), x->dir, &n);
	for (size_t i = 0; i < n; i++) {
		const struct netpol *p = &e->c->policies[pol[i]];

		for (size_t k = 0; k < p->n_rules[x->dir]; k++)
			if (engine_rule_allows(e, p, &p->rules[x->dir][k], x->peer, x->dst, proto,
					       port))
				return true;
	}
	return false;
}

static enum engine_verdict dir_verdict(const struct engine *e, const struct dir_ctx *x,
				       uint8_t proto, uint16_t port)
{
	if (dir_rules_allow(e, x, proto, port))
		return ENGINE_VERDICT_ALLOW;
	return engine_pod_preview(e, pod_index(e, x->self->pod), x->dir) ?
		       ENGINE_VERDICT_WOULD_DENY :
		       ENGINE_VERDICT_DENY;
}

/* A direction that denies decides; else one that would deny in preview. */
enum engine_verdict engine_verdict(const struct engine *e, const struct engine_ep *src,
				   const struct engine_ep *dst, uint8_t proto, uint16_t port)
{
	enum engine_verdict v[_NETPOL_DIR_MAX];
	struct dir_ctx x;

	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		dir_ctx_init(&x, d, src, dst);
		v[d] = dir_verdict(e, &x, proto, port);
		if (v[d] == ENGINE_VERDICT_DENY)
			return v[d];
	}
	if (v[NETPOL_EGRESS] == ENGINE_VERDICT_WOULD_DENY ||
	    v[NETPOL_INGRESS] == ENGINE_VERDICT_WOULD_DENY)
		return ENGINE_VERDICT_WOULD_DENY;
	return ENGINE_VERDICT_ALLOW;
}

bool engine_allowed(const struct engine *e, const struct engine_ep *src,
		    const struct engine_ep *dst, uint8_t proto, uint16_t port)
{
	return engine_verdict(e, src, dst, proto, port) != ENGINE_VERDICT_DENY;
}

const char *engine_verdict_name(enum engine_verdict v)
{
	static const char *const names[_ENGINE_VERDICT_MAX] = {
		[ENGINE_VERDICT_ALLOW] = "allowed",
		[ENGINE_VERDICT_DENY] = "denied",
		[ENGINE_VERDICT_WOULD_DENY] = "would be denied (preview)",
	};

	return (unsigned) v < _ENGINE_VERDICT_MAX ? names[v] : NULL;
}

static void dir_result_done(struct engine_dir_result *d)
{
	free(d->isolating);
	free(d->allowing);
	*d = (struct engine_dir_result){ 0 };
}

void engine_result_done(struct engine_result *r)
{
	for (int d = 0; d < _NETPOL_DIR_MAX; d++)
		dir_result_done(&r->dir[d]);
}

static int dir_explain(const struct engine *e, const struct dir_ctx *x, uint8_t proto,
		       uint16_t port, struct engine_dir_result *ret)
{
	const size_t *pol;
	size_t n;

	*ret = (struct engine_dir_result){ .allowed = true };
	if (x->self->pod) {
		pol = pod_policies(e, pod_index(e, x->self->pod), x->dir, &n);
		if (n) {
			ret->isolated = true;
			ret->isolating = malloc(n * sizeof(*ret->isolating));
			if (!ret->isolating)
				return -ENOMEM;
			memcpy(ret->isolating, pol, n * sizeof(*pol));
			ret->n_isolating = n;
		}
	}
	if (dir_shortcut(e, x, &ret->reason))
		return 0;

	for (size_t i = 0; i < ret->n_isolating; i++) {
		const struct netpol *p = &e->c->policies[ret->isolating[i]];

		for (size_t k = 0; k < p->n_rules[x->dir]; k++) {
			struct engine_rule_ref *v;

			if (!engine_rule_allows(e, p, &p->rules[x->dir][k], x->peer, x->dst, proto,
						port))
				continue;
			v = realloc(ret->allowing, (ret->n_allowing + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			ret->allowing = v;
			v[ret->n_allowing++] =
				(struct engine_rule_ref){ .policy = ret->isolating[i], .rule = k };
		}
	}
	ret->allowed = ret->n_allowing > 0;
	ret->reason = ret->allowed ? ENGINE_REASON_RULE : ENGINE_REASON_NO_RULE;
	ret->preview = engine_pod_preview(e, pod_index(e, x->self->pod), x->dir);
	if (!ret->allowed && ret->preview) {
		ret->allowed = true; /* passes, logged */
		ret->would_deny = true;
	}
	return 0;
}

int engine_explain(const struct engine *e, const struct engine_ep *src, const struct engine_ep *dst,
		   uint8_t proto, uint16_t port, struct engine_result *ret)
{
	struct engine_result res = { 0 };
	struct dir_ctx x;
	int r;

	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		dir_ctx_init(&x, d, src, dst);
		r = dir_explain(e, &x, proto, port, &res.dir[d]);
		if (r < 0) {
			engine_result_done(&res);
			return r;
		}
	}
	res.allowed = res.dir[NETPOL_INGRESS].allowed && res.dir[NETPOL_EGRESS].allowed;
	res.would_deny = res.allowed &&
			 (res.dir[NETPOL_INGRESS].would_deny || res.dir[NETPOL_EGRESS].would_deny);
	*ret = res;
	return 0;
}

void engine_matrix(const struct engine *e, const size_t *from, size_t n_from, const size_t *to,
		   size_t n_to, int family, uint8_t proto, uint16_t port, bool *ret)
{
	for (size_t i = 0; i < n_from; i++) {
		struct engine_ep src;

		engine_ep_pod(e, &e->c->pods[from[i]], family, &src);
		for (size_t j = 0; j < n_to; j++) {
			struct engine_ep dst;

			engine_ep_pod(e, &e->c->pods[to[j]], family, &dst);
			ret[i * n_to + j] = engine_allowed(e, &src, &dst, proto, port);
		}
	}
}
