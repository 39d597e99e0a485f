/*
 * A namespace's Proposal objects (include/proposal_obj.h, docs/cluster.md
 * "Proposal"): built from a proposal and every node's flows, and turned
 * back into the List of NetworkPolicies the agent stores.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_api.h"
#include "cluster_stage.h"
#include "engine.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
#include "proposal_obj.h"
#include "proto.h"
#include "rfc3339.h"
#include "vec.h"
#include "workload.h"

#define WORKLOAD_ANNOTATION "bulkhead.io/workload"

/* One flow of one node under one rule it justifies. */
struct jflow {
	size_t pol; /* index into p->v */
	int dir;
	size_t rule;
	char *src, *dst; /* owned */
	uint8_t proto;
	uint16_t port;
	size_t node; /* index into the nodes sorted by name */
	uint64_t conns;
	int64_t first, last;
};

struct build {
	const struct proposal *p;
	struct cluster *c;
	struct engine *eng;
	const char *ns;
	size_t lo, hi; /* p->v[lo..hi): the policies of @ns */
	char **pod_id; /* per cluster pod: its workload id, lazily */
	struct jflow *v;
	size_t n, cap;
	/* the flow being looked at */
	const struct flow_record *f;
	const char *src, *dst;
	size_t node;
	size_t pol;
	int dir;
};

static void jflows_free(struct build *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].src);
		free(b->v[i].dst);
	}
	free(b->v);
	if (b->pod_id)
		for (size_t i = 0; i < b->c->n_pods; i++)
			free(b->pod_id[i]);
	free(b->pod_id);
}

static int jflow_cb(size_t rule, void *userdata)
{
	struct build *b = userdata;
	struct jflow *j;

	if (b->n == b->cap) {
		struct jflow *v = vec_grow(b->v, &b->cap, b->n + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
	}
	j = &b->v[b->n];
	*j = (struct jflow){ .pol = b->pol,
			     .dir = b->dir,
			     .rule = rule,
			     .src = strdup(b->src),
			     .dst = strdup(b->dst),
			     .proto = b->f->key.proto,
			     .port = b->f->key.port,
			     .node = b->node,
			     .conns = b->f->connections,
			     .first = b->f->first_seen,
			     .last = b->f->last_seen };
	if (!j->src || !j->dst) {
		free(j->src);
		free(j->dst);
		return -ENOMEM;
	}
	b->n++;
	return 0;
}

static int jflow_cmp(const void *x, const void *y)
{
	const struct jflow *a = x, *b = y;
	int c;

	if (a->pol != b->pol)
		return a->pol < b->pol ? -1 : 1;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	if ((c = strcmp(a->src, b->src)) || (c = strcmp(a->dst, b->dst)))
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* The workload of @ws named (@ns, @kind, @name), or NULL. */
static const struct workload *ws_find(const struct workload_set *ws, const char *ns,
				      const char *kind, const char *name)
{
	size_t lo = 0, hi = ws->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct workload *w = &ws->v[mid];
		int c = strcmp(w->ns, ns);

		if (!c)
			c = strcmp(w->kind, kind);
		if (!c)
			c = strcmp(w->name, name);
		if (!c)
			return w;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The pod an end of @f stands for now: the pod the flow names; else, the
 * pod gone (a rollout), a pod of the workload it recorded; else, for an
 * end not recorded as a pod, the live pod of its address that existed
 * when the flow began.  NULL: an address.
 */
static const struct pod *end_pod(struct build *b, const struct flow_record *f, const struct addr *a,
				 const struct flow_peer *fp)
{
	const struct pod *pod = NULL;

	if (fp->kind == FLOW_PEER_POD && fp->ns && fp->name) {
		const struct workload *w;

		pod = cluster_pod_find(b->c, fp->ns, fp->name);
		if (pod || !fp->workload_kind || !fp->workload_name)
			return pod;
		w = ws_find(&b->p->ws, fp->ns, fp->workload_kind, fp->workload_name);
		return w && w->n_pods && w->pods[0] < b->c->n_pods ? &b->c->pods[w->pods[0]] : NULL;
	}
	pod = cluster_pod_by_addr(b->c, a);
	if (pod && (pod_finished(pod) || pod->deleted || pod->created > f->first_seen))
		return NULL;
	return pod;
}

/* The name of an end: its pod's workload id, the workload the flow
 * recorded, or "ADDR/BITS".  Borrowed from @b or written into @buf. */
static int end_name(struct build *b, const struct pod *pod, const struct addr *a,
		    const struct flow_peer *fp, char *buf, size_t len, const char **ret)
{
	char s[ADDR_STR_MAX];

	if (pod) {
		size_t i = (size_t) (pod - b->c->pods);

		if (!b->pod_id[i]) {
			char *kind = NULL, *name = NULL;
			int n;

			if (workload_of_pod(pod, &kind, &name) < 0)
				return -ENOMEM;
			n = asprintf(&b->pod_id[i], "%s/%s/%s", pod->ns, kind, name);
			free(kind);
			free(name);
			if (n < 0) {
				b->pod_id[i] = NULL;
				return -ENOMEM;
			}
		}
		*ret = b->pod_id[i];
		return 0;
	}
	if (fp->kind == FLOW_PEER_POD && fp->ns && fp->workload_kind && fp->workload_name)
		(void) snprintf(buf, len, "%s/%s/%s", fp->ns, fp->workload_kind, fp->workload_name);
	else
		(void) snprintf(buf, len, "%s/%u", addr_format(a, s, sizeof(s)), addr_bits(a));
	*ret = buf;
	return 0;
}

static void ep_of(struct build *b, const struct pod *pod, const struct addr *a,
		  struct engine_ep *ret)
{
	if (pod)
		engine_ep_pod(b->eng, pod, a->family, ret);
	else
		engine_ep_addr(b->eng, a, ret);
}

/* The rules of the namespace's policies flow @f of node @node justifies. */
static int flow_judge(struct build *b, const struct flow_record *f, size_t node)
{
	char sbuf[ADDR_STR_MAX + 512], dbuf[ADDR_STR_MAX + 512];
	const struct pod *sp = end_pod(b, f, &f->key.src, &f->src_peer);
	const struct pod *dp = end_pod(b, f, &f->key.dst, &f->dst_peer);
	struct engine_ep s, d;
	int r;

	if (!proto_name(f->key.proto) ||
	    !((sp && strcmp(sp->ns, b->ns) == 0) || (dp && strcmp(dp->ns, b->ns) == 0)))
		return 0;
	r = end_name(b, sp, &f->key.src, &f->src_peer, sbuf, sizeof(sbuf), &b->src);
	if (r == 0)
		r = end_name(b, dp, &f->key.dst, &f->dst_peer, dbuf, sizeof(dbuf), &b->dst);
	if (r < 0)
		return r;
	ep_of(b, sp, &f->key.src, &s);
	ep_of(b, dp, &f->key.dst, &d);
	b->f = f;
	b->node = node;
	for (int dir = NETPOL_INGRESS; dir < _NETPOL_DIR_MAX; dir++) {
		b->dir = dir;
		for (size_t k = b->lo; k < b->hi; k++) {
			b->pol = k;
			r = propose_rules_justified(b->eng, &b->p->v[k].np, (enum netpol_dir) dir,
						    dir == NETPOL_INGRESS ? dp : sp,
						    dir == NETPOL_INGRESS ? &s : &d, dp,
						    f->key.proto, f->key.port, jflow_cb, b);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int node_name_cmp(const void *x, const void *y)
{
	const struct proposal_obj_node *a = *(const struct proposal_obj_node *const *) x;
	const struct proposal_obj_node *b = *(const struct proposal_obj_node *const *) y;

	return strcmp(a->name, b->name);
}

/* The policy's name without -ingress/-egress: the Proposal's name. */
static size_t stem_len(const char *name)
{
	static const char *const suffix[] = { "-ingress", "-egress" };
	size_t n = strlen(name);

	for (size_t i = 0; i < 2; i++) {
		size_t k = strlen(suffix[i]);

		if (n > k && strcmp(name + n - k, suffix[i]) == 0)
			return n - k;
	}
	return n;
}

static int set_new(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int time_set(json_t *o, const char *key, int64_t sec)
{
	char t[RFC3339_STR_MAX];

	return set_new(o, key, json_string(rfc3339_format(sec, t, sizeof(t))));
}

/* The first of b->v at or after (pol, dir, rule). */
static size_t jflow_first(const struct build *b, size_t pol, int dir, size_t rule)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct jflow *j = &b->v[mid];

		if (j->pol < pol ||
		    (j->pol == pol && (j->dir < dir || (j->dir == dir && j->rule < rule))))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct group {
	bool *nodes; /* per sorted node: a flow of it justifies a rule */
	int64_t first, last; /* the span of those flows, first > last: none */
};

/* The flows of rule (@k, @dir, @rule), merged across nodes: the first
 * @max of them listed, the count of the others in *@ret_left (all of them
 * count in @g). */
static int rule_flows(const struct build *b, const struct proposal_obj_node *const *nodes, size_t k,
		      int dir, size_t rule, size_t max, struct group *g, json_t **ret,
		      size_t *ret_left)
{
	json_t *flows = json_array();
	size_t i = jflow_first(b, k, dir, rule);

	if (!flows)
		return -ENOMEM;
	*ret_left = 0;
	while (i < b->n && b->v[i].pol == k && b->v[i].dir == dir && b->v[i].rule == rule) {
		const struct jflow *j = &b->v[i];
		json_t *fl = json_object(), *ns = json_array();
		uint64_t conns = 0;
		int64_t last = j->last;
		size_t prev = SIZE_MAX;
		char t[RFC3339_STR_MAX];
		int r = fl && ns ? 0 : -ENOMEM;

		for (; i < b->n && b->v[i].pol == k && b->v[i].dir == dir && b->v[i].rule == rule &&
		       strcmp(b->v[i].src, j->src) == 0 && strcmp(b->v[i].dst, j->dst) == 0 &&
		       b->v[i].proto == j->proto && b->v[i].port == j->port;
		     i++) {
			const struct jflow *q = &b->v[i];

			conns += q->conns;
			if (q->last > last)
				last = q->last;
			if (q->first < g->first)
				g->first = q->first;
			if (q->last > g->last)
				g->last = q->last;
			g->nodes[q->node] = true;
			/* sorted by node last: a node's flows are adjacent */
			if (r == 0 && q->node != prev)
				r = json_array_append_new(ns, json_string(nodes[q->node]->name));
			prev = q->node;
		}
		if (json_array_size(flows) == max) {
			(*ret_left)++;
			json_decref(ns);
			json_decref(fl);
			continue;
		}
		if (r == 0)
			r = set_new(fl, "src", json_string(j->src));
		if (r == 0)
			r = set_new(fl, "dst", json_string(j->dst));
		if (r == 0)
			r = set_new(fl, "protocol", json_string(proto_name(j->proto)));
		if (r == 0)
			r = set_new(fl, "port", json_integer(j->port));
		if (r == 0)
			r = set_new(fl, "connections", json_integer((json_int_t) conns));
		if (r == 0)
			r = set_new(fl, "lastSeen",
				    json_string(rfc3339_format(last, t, sizeof(t))));
		if (r == 0) {
			r = set_new(fl, "nodes", ns);
			ns = NULL;
		}
		if (r == 0) {
			r = json_array_append_new(flows, fl) ? -ENOMEM : 0;
			fl = NULL;
		}
		json_decref(ns);
		json_decref(fl);
		if (r < 0) {
			json_decref(flows);
			return -ENOMEM;
		}
	}
	*ret = flows;
	return 0;
}

/* spec.policies[] item of policy @k, at most @max flows a rule. */
static int policy_obj(const struct build *b, const struct proposal_obj_node *const *nodes, size_t k,
		      size_t max, struct group *g, json_t **ret)
{
	const struct proposal_policy *pp = &b->p->v[k];
	json_t *np = netpol_emit_json(&pp->np, &pp->labels, &pp->annotations);
	json_t *o = json_object(), *rules = json_array(), *md;
	int r = np && o && rules ? 0 : -ENOMEM;

	md = json_object_get(np, "metadata");
	if (r == 0)
		r = set_new(o, "name", json_string(pp->np.name));
	if (r == 0)
		r = set_new(o, "labels", json_object());
	if (r == 0)
		r = set_new(o, "annotations", json_object());
	if (r == 0 && json_object_get(md, "labels"))
		r = json_object_set(o, "labels", json_object_get(md, "labels"));
	if (r == 0 && json_object_get(md, "annotations"))
		r = json_object_set(o, "annotations", json_object_get(md, "annotations"));
	if (r == 0)
		r = json_object_set(o, "spec", json_object_get(np, "spec"));
	for (int d = 0; d < _NETPOL_DIR_MAX && r == 0; d++)
		for (size_t ri = 0; ri < pp->np.n_rules[d] && r == 0; ri++) {
			json_t *flows = NULL, *rule;
			size_t left = 0;

			r = rule_flows(b, nodes, k, d, ri, max, g, &flows, &left);
			if (r < 0)
				break;
			rule = left ? json_pack("{s:o, s:I}", "flows", flows, "flowsTruncated",
						(json_int_t) left) :
				      json_pack("{s:o}", "flows", flows);
			r = rule && json_array_append_new(rules, rule) == 0 ? 0 : -ENOMEM;
		}
	if (r == 0) {
		r = set_new(o, "rules", rules);
		rules = NULL;
	}
	json_decref(rules);
	json_decref(np);
	if (r < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

/* The workload's kind and name: from the workload set, else from the
 * bulkhead.io/workload annotation ("KIND/NAME"). */
static json_t *workload_obj(const struct proposal *p, const struct proposal_policy *pp)
{
	const char *a, *slash;

	if (pp->workload < p->ws.n)
		return json_pack("{s:s, s:s}", "kind", p->ws.v[pp->workload].kind, "name",
				 p->ws.v[pp->workload].name);
	a = labels_get(&pp->annotations, WORKLOAD_ANNOTATION);
	slash = a ? strchr(a, '/') : NULL;
	if (!slash)
		return json_pack("{s:s, s:s}", "kind", "", "name", "");
	return json_pack("{s:s%, s:s}", "kind", a, (size_t) (slash - a), "name", slash + 1);
}

/* One Proposal: the policies @ks[0..n) of one workload (stem @stem), at
 * most @max flows a rule. */
static int proposal_one(const struct build *b, const struct proposal_obj_node *const *nodes,
			size_t n_nodes, const size_t *ks, size_t n, const char *stem,
			int64_t computed_at, size_t max, json_t **ret)
{
	struct group g = { .first = INT64_MAX, .last = INT64_MIN };
	json_t *obj = NULL, *pols = json_array(), *spec = NULL, *nl = json_array();
	char t[RFC3339_STR_MAX];
	int r = -ENOMEM;

	g.nodes = calloc(n_nodes + 1, sizeof(*g.nodes));
	if (!g.nodes || !pols || !nl)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *po = NULL;

		if (policy_obj(b, nodes, ks[i], max, &g, &po) < 0 ||
		    json_array_append_new(pols, po))
			goto out;
	}
	for (size_t i = 0; i < n_nodes; i++)
		if (g.nodes[i] && json_array_append_new(nl, json_string(nodes[i]->name)))
			goto out;
	spec = json_pack("{s:o, s:s, s:{}, s:o, s:o}", "workload",
			 workload_obj(b->p, &b->p->v[ks[0]]), "computedAt",
			 cluster_time_format_ms(computed_at, t, sizeof(t)), "window", "nodes", nl,
			 "policies", pols);
	nl = pols = NULL;
	if (!spec)
		goto out;
	if (g.first <= g.last &&
	    (time_set(json_object_get(spec, "window"), "learnedFrom", g.first) < 0 ||
	     time_set(json_object_get(spec, "window"), "learnedUntil", g.last) < 0))
		goto out;
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:O}", "apiVersion",
			CLUSTER_API_GROUP_VERSION, "kind", CLUSTER_PROPOSAL_KIND, "metadata",
			"name", stem, "namespace", b->ns, "labels", CLUSTER_MANAGED_BY_LABEL,
			CLUSTER_MANAGED_BY, "spec", spec);
	if (!obj)
		goto out;
	*ret = obj;
	r = 0;
out:
	free(g.nodes);
	json_decref(spec);
	json_decref(pols);
	json_decref(nl);
	return r;
}

/* One Proposal under the API server's object limit: first with at most
 * PROPOSAL_OBJ_RULE_FLOWS flows a rule, then, while its JSON is longer
 * than CLUSTER_OBJECT_MAX, with a quarter as many (down to none; the
 * rules keep flowsTruncated). */
static int proposal_fitted(const struct build *b, const struct proposal_obj_node *const *nodes,
			   size_t n_nodes, const size_t *ks, size_t n, const char *stem,
			   int64_t computed_at, json_t **ret)
{
	size_t max = PROPOSAL_OBJ_RULE_FLOWS;

	for (;;) {
		json_t *obj = NULL;
		int r = proposal_one(b, nodes, n_nodes, ks, n, stem, computed_at, max, &obj);

		if (r < 0)
			return r;
		if (!max || json_dumpb(obj, NULL, 0, JSON_COMPACT) <= CLUSTER_OBJECT_MAX) {
			*ret = obj;
			return 0;
		}
		json_decref(obj);
		max /= 4;
	}
}

int proposal_obj_name_cmp(const void *x, const void *y)
{
	const char *a = json_string_value(
		json_object_get(json_object_get(*(json_t *const *) x, "metadata"), "name"));
	const char *b = json_string_value(
		json_object_get(json_object_get(*(json_t *const *) y, "metadata"), "name"));

	return strcmp(a ? a : "", b ? b : "");
}

int proposal_obj_build(const struct proposal *p, struct cluster *c, const char *ns,
		       const struct proposal_obj_node *nodes, size_t n_nodes, int64_t computed_at,
		       json_t **ret, struct bh_err *reterr)
{
	struct build b = { .p = p, .c = c, .ns = ns };
	const struct proposal_obj_node **sorted = calloc(n_nodes + 1, sizeof(*sorted));
	json_t **objs = NULL, *arr = NULL;
	size_t *ks = NULL, n_objs = 0;
	bool *done = NULL;
	int r = -ENOMEM;

	if (!sorted)
		goto out;
	for (size_t i = 0; i < n_nodes; i++)
		sorted[i] = &nodes[i];
	if (n_nodes)
		qsort(sorted, n_nodes, sizeof(*sorted), node_name_cmp);
	while (b.lo < p->n && strcmp(p->v[b.lo].np.ns, ns) != 0)
		b.lo++;
	for (b.hi = b.lo; b.hi < p->n && strcmp(p->v[b.hi].np.ns, ns) == 0;)
		b.hi++;
	b.pod_id = calloc(c->n_pods + 1, sizeof(*b.pod_id));
	if (!b.pod_id || (b.hi > b.lo && engine_new(c, &b.eng) < 0))
		goto out;
	for (size_t i = 0; i < n_nodes && b.hi > b.lo; i++)
		for (size_t k = 0; sorted[i]->flows && k < sorted[i]->flows->n; k++) {
			r = flow_judge(&b, &sorted[i]->flows->flows[k], i);
			if (r < 0)
				goto out;
		}
	r = -ENOMEM;
	if (b.n)
		qsort(b.v, b.n, sizeof(*b.v), jflow_cmp);

	/* One Proposal per stem, its policies in name order. */
	ks = calloc(b.hi - b.lo + 1, sizeof(*ks));
	done = calloc(b.hi - b.lo + 1, sizeof(*done));
	objs = calloc(b.hi - b.lo + 1, sizeof(*objs));
	arr = json_array();
	if (!ks || !done || !objs || !arr)
		goto out;
	for (size_t i = b.lo; i < b.hi; i++) {
		const char *name = p->v[i].np.name;
		size_t len = stem_len(name), n = 0;
		char *stem;

		if (done[i - b.lo])
			continue;
		for (size_t k = i; k < b.hi; k++) {
			const char *other = p->v[k].np.name;

			if (!done[k - b.lo] && stem_len(other) == len &&
			    strncmp(other, name, len) == 0) {
				done[k - b.lo] = true;
				ks[n++] = k;
			}
		}
		stem = strndup(name, len);
		if (!stem)
			goto out;
		r = proposal_fitted(&b, sorted, n_nodes, ks, n, stem, computed_at, &objs[n_objs]);
		free(stem);
		if (r < 0)
			goto out;
		n_objs++;
	}
	r = -ENOMEM;
	if (n_objs)
		qsort(objs, n_objs, sizeof(*objs), proposal_obj_name_cmp);
	for (size_t i = 0; i < n_objs; i++) {
		if (json_array_append_new(arr, objs[i]))
			goto out;
		objs[i] = NULL;
	}
	*ret = arr;
	arr = NULL;
	r = 0;
out:
	for (size_t i = 0; objs && i < n_objs; i++)
		json_decref(objs[i]);
	free(objs);
	free(ks);
	free(done);
	json_decref(arr);
	engine_free(b.eng);
	jflows_free(&b);
	free(sorted);
	return r < 0 ? bh_err_oom(reterr) : 0;
}

json_t *proposal_obj_status(const char *mode, int64_t observed_at)
{
	char t[RFC3339_STR_MAX];

	return json_pack("{s:s, s:s}", "mode", mode, "observedAt",
			 cluster_time_format_ms(observed_at, t, sizeof(t)));
}

void proposal_obj_computed_at(const json_t *objs, bool *ret_has, int64_t *ret_newest)
{
	int64_t newest = 0;

	for (size_t i = 0; i < json_array_size(objs); i++) {
		const json_t *spec = json_object_get(json_array_get(objs, i), "spec");
		int64_t t;

		if (cluster_time_parse_ms(json_string_value(json_object_get(spec, "computedAt")),
					  &t) == 0 &&
		    t > newest)
			newest = t;
	}
	*ret_has = json_array_size(objs) > 0;
	*ret_newest = newest;
}

int proposal_obj_mark(json_t *objs, const char *id)
{
	for (size_t i = 0; i < json_array_size(objs); i++) {
		json_t *spec = json_object_get(json_array_get(objs, i), "spec");

		if (!json_is_object(spec) ||
		    json_object_set_new(spec, "computation",
					json_pack("{s:s, s:I}", "id", id, "count",
						  (json_int_t) json_array_size(objs))) < 0)
			return -ENOMEM;
	}
	return 0;
}

bool proposal_obj_complete(const json_t *objs, const char **ret_id)
{
	const char *id = NULL, *newest_id = NULL;
	int64_t newest = INT64_MIN;
	size_t marked = 0;
	json_int_t count = 0;
	bool same = true;

	for (size_t i = 0; i < json_array_size(objs); i++) {
		const json_t *spec = json_object_get(json_array_get(objs, i), "spec");
		const json_t *c = json_object_get(spec, "computation");
		const char *cid = json_string_value(json_object_get(c, "id"));
		int64_t t;

		if (cluster_time_parse_ms(json_string_value(json_object_get(spec, "computedAt")),
					  &t) < 0)
			t = 0;
		if (t > newest) {
			newest = t;
			newest_id = cid;
		}
		if (!cid) {
			same = false;
			continue;
		}
		marked++;
		if (id && strcmp(id, cid) != 0)
			same = false;
		id = cid;
		count = json_integer_value(json_object_get(c, "count"));
	}
	if (ret_id)
		*ret_id = newest_id;
	if (!marked)
		return true;
	return same && (json_int_t) marked >= count;
}

/* --- Proposal objects -> the List --- */

static int policy_cmp(const void *x, const void *y)
{
	const struct proposal_policy *a = x, *b = y;
	int c = strcmp(a->np.ns, b->np.ns);

	return c ? c : strcmp(a->np.name, b->np.name);
}

/* Policy @i of object @who (@obj) decoded and appended to @acc. */
static int policy_decode(const char *who, const char *ns, const json_t *pol, size_t i,
			 struct proposal *acc, struct bh_err *reterr)
{
	const json_t *name = json_object_get(pol, "name"), *spec = json_object_get(pol, "spec");
	struct proposal one = { 0 };
	struct bh_err err = { 0 };
	json_t *list = NULL, *md;
	char *text = NULL;
	int r;

	if (!json_is_object(pol))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "Proposal '%s': spec.policies[%zu]: not an object", who, i);
	if (!json_is_string(name))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "Proposal '%s': spec.policies[%zu].name: missing or not a string",
				  who, i);
	if (!json_is_object(spec))
		return bh_err_set(
			reterr, BH_ERR_INPUT, -EINVAL,
			"Proposal '%s': spec.policies[%zu].spec: missing or not an object", who, i);
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "annotations" : "labels";
		const json_t *l = json_object_get(pol, key), *v;
		const char *lk;

		if (l && !json_is_object(l))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "Proposal '%s': spec.policies[%zu].%s: not an object",
					  who, i, key);
		json_object_foreach((json_t *) l, lk, v)
			if (!json_is_string(v))
				return bh_err_set(
					reterr, BH_ERR_INPUT, -EINVAL,
					"Proposal '%s': spec.policies[%zu].%s.%s: not a string",
					who, i, key, lk);
	}
	list = json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:O, s:s}, s:O}]}", "apiVersion", "v1",
			 "kind", "List", "items", "apiVersion", "networking.k8s.io/v1", "kind",
			 "NetworkPolicy", "metadata", "name", name, "namespace", ns, "spec", spec);
	if (!list)
		return bh_err_oom(reterr);
	md = json_object_get(json_array_get(json_object_get(list, "items"), 0), "metadata");
	if ((json_object_get(pol, "labels") &&
	     json_object_set(md, "labels", json_object_get(pol, "labels"))) ||
	    (json_object_get(pol, "annotations") &&
	     json_object_set(md, "annotations", json_object_get(pol, "annotations"))) ||
	    !(text = json_dumps(list, JSON_COMPACT))) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = proposal_doc_decode(text, strlen(text), &one, &err);
	if (r == -ENOMEM) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (r < 0) {
		/* "networkpolicy 'NS/NAME': FIELD: why": the object names it */
		const char *m = err.msg;

		if (strncmp(m, "networkpolicy '", 15) == 0 && strstr(m, "': "))
			m = strstr(m, "': ") + 3;
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			       "Proposal '%s': spec.policies[%zu] ('%s'): %s", who, i,
			       json_string_value(name), m);
		goto out;
	}
	{
		struct proposal_policy *v = realloc(acc->v, (acc->n + 1) * sizeof(*v));

		if (!v) {
			r = bh_err_oom(reterr);
			goto out;
		}
		acc->v = v;
		acc->v[acc->n++] = one.v[0];
		one.n = 0;
	}
	r = 0;
out:
	proposal_done(&one);
	free(text);
	json_decref(list);
	return r;
}

int proposal_obj_to_list(const json_t *objs, struct buf *out, struct bh_err *reterr)
{
	struct proposal acc = { 0 };
	int r = 0;

	if (!json_is_array(objs))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "Proposal objects: not an array");
	for (size_t i = 0; i < json_array_size(objs) && r == 0; i++) {
		const json_t *o = json_array_get(objs, i);
		const json_t *md = json_object_get(o, "metadata"),
			     *spec = json_object_get(o, "spec");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *ns = json_string_value(json_object_get(md, "namespace"));
		const json_t *pols = json_object_get(spec, "policies");
		char who[512];

		if (name && ns)
			(void) snprintf(who, sizeof(who), "%s/%s", ns, name);
		else
			(void) snprintf(who, sizeof(who), "[%zu]", i);
		if (!name || !ns)
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "Proposal '%s': metadata.%s: missing or not a string", who,
				       name ? "namespace" : "name");
		else if (!json_is_object(spec))
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "Proposal '%s': spec: missing or not an object", who);
		else if (!json_is_array(pols))
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "Proposal '%s': spec.policies: missing or not an array",
				       who);
		for (size_t k = 0; r == 0 && k < json_array_size(pols); k++)
			r = policy_decode(who, ns, json_array_get(pols, k), k, &acc, reterr);
	}
	if (r == 0 && acc.n)
		qsort(acc.v, acc.n, sizeof(*acc.v), policy_cmp);
	if (r == 0) {
		r = netpol_emit_list_json(&acc, out);
		if (r < 0)
			r = bh_err_oom(reterr);
	}
	proposal_done(&acc);
	return r;
}
