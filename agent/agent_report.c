/*
 * The report (docs/report.md, schema version 1 of docs/report.schema.json)
 * of what the agent holds, for GET /report and `bulkhead export`: the
 * cluster source, the node, the enforcement's table, per namespace its
 * stored mode and windows, the cluster's workloads (named as the learner
 * names them, workload_of_pod()), the learned flows aggregated to workload
 * edges, the preview alerts, the cluster's NetworkPolicies.
 *
 * Made in one pass, in the child process agent_report_job.c forks (off the
 * loop, on a copy-on-write copy of the agent): the sections are gathered
 * in memory first (every workload a flow or an alert names, the counts of
 * each namespace), then written with the streaming writer into the
 * response body.  Flows: each end is resolved as the checkpoints resolve it
 * (what the address was when the flow was seen, learn_resolve_peer()); a
 * pod's workload is the one it has in the cluster now, or the one recorded
 * when it is gone, listed without pods.  An edge's verdict is the engine's
 * over the cluster now, for one flow of the edge: the existing policy and
 * rule that allow it (the destination's ingress rule before the source's
 * egress rule), "allowed-by-existing-policy" (or "enforced" in a namespace
 * in enforce mode); an edge with an alert not allowed is "alerted"; an
 * edge the stored proposal allows is "allowed-by-proposal"
 * (agent_report_proposals.c); anything else is "uncovered".  Policies of
 * the cluster model that are no existing policy (a proposal compiled in,
 * origin preview or enforce) are not existing policies here: the
 * proposals section shows them as stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "agent_int.h"
#include "agent_report.h"
#include "alerts.h"
#include "clock.h"
#include "cluster.h"
#include "engine.h"
#include "flow_table.h"
#include "hmap.h"
#include "identity.h"
#include "json_out.h"
#include "learn.h"
#include "learn_export.h"
#include "log.h"
#include "proto.h"
#include "state_db.h"
#include "workload.h"

#define NONE REPORT_NONE

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 64;
	p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

/* --- namespaces --- */

/* The namespace @name (borrowed: it must outlive the report), added when
 * new.  Its index, or NONE on -ENOMEM. */
static size_t ns_get(struct report *rp, const char *name)
{
	void *v = hmap_get_str(&rp->ns_by_name, name);

	if (v)
		return (size_t) (uintptr_t) v - 1;
	if (grow((void **) &rp->ns, &rp->cap_ns, rp->n_ns, sizeof(*rp->ns)) < 0)
		return NONE;
	rp->ns[rp->n_ns] = (struct rns){ .name = name };
	if (hmap_put_str(&rp->ns_by_name, name, (void *) (uintptr_t) (rp->n_ns + 1)) < 0)
		return NONE;
	return rp->n_ns++;
}

/* A stored mode of @scope, or NULL. */
static const struct state_db_mode *mode_of(const struct report_src *src, const char *scope)
{
	for (size_t k = 0; k < src->n_modes; k++)
		if (strcmp(src->modes[k].scope, scope) == 0)
			return &src->modes[k];
	return NULL;
}

static int ns_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rns *) x)->name, ((const struct rns *) y)->name);
}

/* Sorted by name, each with its mode (its own, else the cluster's, else
 * learning), the index rebuilt. */
static int ns_finish(struct report *rp)
{
	const struct state_db_mode *cm = mode_of(rp->src, STATE_DB_SCOPE_CLUSTER);

	if (rp->n_ns)
		qsort(rp->ns, rp->n_ns, sizeof(*rp->ns), ns_cmp);
	for (size_t i = 0; i < rp->n_ns; i++) {
		const struct state_db_mode *m = mode_of(rp->src, rp->ns[i].name);

		rp->ns[i].stored = m ? m : cm;
		rp->ns[i].mode = rp->ns[i].stored ? rp->ns[i].stored->mode : STATE_DB_MODE_LEARN;
		if (hmap_put_str(&rp->ns_by_name, rp->ns[i].name, (void *) (uintptr_t) (i + 1)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* --- workloads --- */

/* The workload @ns/@kind/@name, added (without pods) when new: its index,
 * or NONE on -ENOMEM. */
static size_t wl_get(struct report *rp, const char *ns, const char *kind, const char *name)
{
	size_t len = strlen(ns) + strlen(kind) + strlen(name) + 3;
	char *id = malloc(len);
	struct rwl *w;
	void *v;

	if (!id)
		return NONE;
	(void) snprintf(id, len, "%s/%s/%s", ns, kind, name);
	v = hmap_get_str(&rp->wl_by_id, id);
	if (v) {
		free(id);
		return (size_t) (uintptr_t) v - 1;
	}
	if (grow((void **) &rp->wl, &rp->cap_wl, rp->n_wl, sizeof(*rp->wl)) < 0) {
		free(id);
		return NONE;
	}
	w = &rp->wl[rp->n_wl];
	*w = (struct rwl){ .id = id, .ns = strdup(ns), .kind = strdup(kind), .name = strdup(name) };
	labels_init(&w->labels);
	rp->n_wl++;
	if (!w->ns || !w->kind || !w->name ||
	    hmap_put_str(&rp->wl_by_id, id, (void *) (uintptr_t) rp->n_wl) < 0 ||
	    ns_get(rp, w->ns) == NONE)
		return NONE;
	return rp->n_wl - 1;
}

/* A workload id "NS/KIND/NAME" (an alert's peer): its index, NONE when it
 * is no workload id or on -ENOMEM. */
static size_t wl_of_id(struct report *rp, const char *id)
{
	const char *s1 = strchr(id, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	char ns[ALERT_PEER_MAX + 1], kind[ALERT_PEER_MAX + 1];
	void *v = hmap_get_str(&rp->wl_by_id, id);

	if (v)
		return (size_t) (uintptr_t) v - 1;
	if (!s2 || strchr(s2 + 1, '/') || s1 == id || s2 == s1 + 1 || !s2[1] ||
	    (size_t) (s1 - id) > ALERT_PEER_MAX || (size_t) (s2 - s1) > ALERT_PEER_MAX)
		return NONE;
	(void) snprintf(ns, sizeof(ns), "%.*s", (int) (s1 - id), id);
	(void) snprintf(kind, sizeof(kind), "%.*s", (int) (s2 - s1 - 1), s1 + 1);
	return wl_get(rp, ns, kind, s2 + 1);
}

/* Keeps of @w's labels those @l carries with the same value. */
static void labels_intersect(struct labels *w, const struct labels *l)
{
	for (size_t i = 0; i < w->n;) {
		const char *v = labels_get(l, w->v[i].key);

		if (v && strcmp(v, w->v[i].value) == 0)
			i++;
		else
			(void) labels_unset(w, w->v[i].key);
	}
}

/* Every pod of the cluster into its workload. */
static int workloads_gather(struct report *rp)
{
	const struct cluster *c = rp->c;

	for (size_t i = 0; c && i < c->n_ns; i++)
		if (ns_get(rp, c->ns[i].name) == NONE)
			return -ENOMEM;
	if (!c || !c->n_pods)
		return 0;
	rp->wl_of_pod = malloc(c->n_pods * sizeof(*rp->wl_of_pod));
	if (!rp->wl_of_pod)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];
		char *kind = NULL, *name = NULL;
		struct rwl *w;
		size_t k;

		if (workload_of_pod(p, &kind, &name) < 0)
			return -ENOMEM;
		k = wl_get(rp, p->ns, kind, name);
		free(kind);
		free(name);
		if (k == NONE)
			return -ENOMEM;
		rp->wl_of_pod[i] = k;
		w = &rp->wl[k];
		if (grow((void **) &w->pods, &w->cap_pods, w->n_pods, sizeof(*w->pods)) < 0)
			return -ENOMEM;
		w->pods[w->n_pods++] = i;
		if (w->n_pods > 1) {
			labels_intersect(&w->labels, &p->labels);
			continue;
		}
		if (workload_stable_labels(&p->labels, &w->labels) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* --- flows --- */

/* A live pod that had @addr for the whole flow @f: what identity would
 * say, without its copies (the cluster's pod of the address, not finished,
 * not being deleted, created before the flow was first seen, is the pod
 * created last among those alive then).  NULL when that cannot be said. */
static const struct pod *pod_fast(struct report *rp, const struct addr *addr,
				  const struct flow_record *f)
{
	const struct pod *p = rp->c ? cluster_pod_by_addr(rp->c, addr) : NULL;

	if (!p || pod_finished(p) || p->deleted || p->created > f->first_seen)
		return NULL;
	return p;
}

/* An end of the flow @f, at @addr: @ret gets the workload id or the CIDR,
 * @pod the pod's name ("" none), @ret_pidx the pod in the cluster now
 * (NONE).  1 for a workload, 0 for an address, -ENOMEM. */
static int flow_end(struct report *rp, const struct identity *id, const struct flow_record *f,
		    const struct addr *addr, char *ret, size_t len, char pod[ALERT_POD_MAX + 1],
		    size_t *ret_pidx)
{
	const struct pod *p = pod_fast(rp, addr, f);
	struct flow_peer peer = { 0 };
	char a[ADDR_STR_MAX];
	size_t k = NONE;

	pod[0] = '\0';
	*ret_pidx = NONE;
	if (!p && id && learn_resolve_peer(id, addr, f, &peer) < 0)
		return -ENOMEM;
	/* A record of a flows.json document names its ends itself. */
	if (!p && !id) {
		peer = addr == &f->key.src ? f->src_peer : f->dst_peer;
		peer.borrowed = true;
	}
	if (!p && peer.kind == FLOW_PEER_POD && peer.ns && peer.name)
		p = cluster_pod_find(rp->c, peer.ns, peer.name);
	if (p) {
		*ret_pidx = (size_t) (p - rp->c->pods);
		k = rp->wl_of_pod[*ret_pidx];
		(void) snprintf(pod, ALERT_POD_MAX + 1, "%s", p->name);
	} else if (peer.kind == FLOW_PEER_POD && peer.ns && peer.name) {
		/* Gone: the workload recorded, or the bare pod by name. */
		k = wl_get(rp, peer.ns, peer.workload_kind ? peer.workload_kind : WORKLOAD_KIND_POD,
			   peer.workload_kind && peer.workload_name ? peer.workload_name :
								      peer.name);
		(void) snprintf(pod, ALERT_POD_MAX + 1, "%s", peer.name);
		if (k == NONE) {
			flow_peer_done(&peer);
			return -ENOMEM;
		}
	}
	flow_peer_done(&peer);
	if (k == NONE) {
		(void) snprintf(ret, len, "%s/%u", addr_format(addr, a, sizeof(a)),
				addr_bits(addr));
		return 0;
	}
	(void) snprintf(ret, len, "%s", rp->wl[k].id);
	return 1;
}

static int edge_id(struct report *rp, struct redge *e, size_t idx)
{
	const struct alert_key k = {
		.src = e->src, .dst = e->dst, .port = e->port, .proto = e->proto
	};

	alert_id_make(&k, e->id);
	for (unsigned salt = 1; hmap_get(&rp->e_by_id, e->id, ALERT_ID_LEN); salt++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char buf[2 * ALERT_PEER_MAX + 64];
		int n = snprintf(buf, sizeof(buf), "%s\n%u", e->key, salt);

		if (n < 0 || (size_t) n >= sizeof(buf) ||
		    !EVP_Digest(buf, (size_t) n, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8)
			return -ENOMEM;
		for (int i = 0; i < 8; i++)
			(void) snprintf(e->id + 2 * i, 3, "%02x", md[i]);
	}
	return hmap_put(&rp->e_by_id, e->id, ALERT_ID_LEN, (void *) (uintptr_t) (idx + 1));
}

/* One flow into its edge. */
static int flow_add(struct report *rp, const struct identity *id, const struct flow_record *f)
{
	char src[ALERT_PEER_MAX + 1], dst[ALERT_PEER_MAX + 1], key[2 * ALERT_PEER_MAX + 32];
	char spod[ALERT_POD_MAX + 1], dpod[ALERT_POD_MAX + 1];
	const char *proto = proto_name(f->key.proto);
	size_t spidx, dpidx;
	int sw, dw, n;
	struct redge *e;
	void *v;

	if (!proto)
		return 0;
	sw = flow_end(rp, id, f, &f->key.src, src, sizeof(src), spod, &spidx);
	dw = flow_end(rp, id, f, &f->key.dst, dst, sizeof(dst), dpod, &dpidx);
	if (sw < 0 || dw < 0)
		return -ENOMEM;
	if (!sw && !dw)
		return 0; /* between addresses: no workload edge */
	n = snprintf(key, sizeof(key), "%s\n%s\n%u\n%s", src, dst, f->key.port, proto);
	if (n < 0 || (size_t) n >= sizeof(key))
		return 0;
	v = hmap_get(&rp->e_by_key, key, (size_t) n);
	if (v) {
		e = &rp->e[(size_t) (uintptr_t) v - 1];
		e->count += f->connections;
		if (f->first_seen < e->first)
			e->first = f->first_seen;
		if (f->last_seen > e->last)
			e->last = f->last_seen;
		return 0;
	}
	if (grow((void **) &rp->e, &rp->cap_e, rp->n_e, sizeof(*rp->e)) < 0)
		return -ENOMEM;
	e = &rp->e[rp->n_e];
	*e = (struct redge){ .key = strdup(key),
			     .src = strdup(src),
			     .dst = strdup(dst),
			     .src_wl = sw,
			     .dst_wl = dw,
			     .src_pod = spod[0] ? strdup(spod) : NULL,
			     .dst_pod = dpod[0] ? strdup(dpod) : NULL,
			     .port = f->key.port,
			     .proto = f->key.proto,
			     .count = f->connections,
			     .first = f->first_seen,
			     .last = f->last_seen,
			     .src_addr = f->key.src,
			     .dst_addr = f->key.dst,
			     .src_pidx = spidx,
			     .dst_pidx = dpidx };
	rp->n_e++;
	if (!e->key || !e->src || !e->dst || (spod[0] && !e->src_pod) || (dpod[0] && !e->dst_pod) ||
	    hmap_put(&rp->e_by_key, e->key, (size_t) n, (void *) (uintptr_t) rp->n_e) < 0)
		return -ENOMEM;
	return edge_id(rp, e, rp->n_e - 1);
}

/* Every flow of the table, resolved, into edges (without a cluster,
 * nothing resolves: no edge). */
static int flows_gather(struct report *rp)
{
	const struct flow_table *t = rp->src->table;
	const struct flow_set *set = rp->src->set;
	size_t n = t && rp->c ? flow_table_count(t) : 0;
	struct flow_record f;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		flow_table_record_at(t, i, &f);
		r = flow_add(rp, rp->src->id, &f);
	}
	for (size_t i = 0; set && rp->c && i < set->n && r == 0; i++)
		r = flow_add(rp, NULL, &set->flows[i]);
	return r;
}

/* The namespace a flow or alert counts in: its destination's, or its
 * source's when the destination is an address. */
static struct rns *home(struct report *rp, const char *src, bool src_wl, const char *dst,
			bool dst_wl)
{
	const char *id = dst_wl ? dst : src_wl ? src : NULL;
	char ns[ALERT_PEER_MAX + 1];
	const char *slash;
	void *v;

	if (!id || !(slash = strchr(id, '/')))
		return NULL;
	(void) snprintf(ns, sizeof(ns), "%.*s", (int) (slash - id), id);
	v = hmap_get_str(&rp->ns_by_name, ns);
	return v ? &rp->ns[(size_t) (uintptr_t) v - 1] : NULL;
}

static void edge_ep(struct report *rp, struct engine *eng, size_t pidx, const struct addr *a,
		    struct engine_ep *ret)
{
	if (pidx != NONE)
		engine_ep_pod(eng, &rp->c->pods[pidx], a->family, ret);
	else
		engine_ep_addr(eng, a, ret);
}

/* Each edge's state and the rule that allows it (see the top). */
static int edges_judge(struct report *rp)
{
	struct engine *eng = NULL;

	if (rp->c && rp->n_e && engine_new(rp->c, &eng) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < rp->n_e; i++) {
		struct redge *e = &rp->e[i];
		struct rns *h = home(rp, e->src, e->src_wl, e->dst, e->dst_wl);
		const struct alert_entry *al = NULL;
		struct engine_ep s, d;
		struct engine_result res;

		e->state = "uncovered";
		if (eng) {
			edge_ep(rp, eng, e->src_pidx, &e->src_addr, &s);
			edge_ep(rp, eng, e->dst_pidx, &e->dst_addr, &d);
		}
		if (rp->src->alerts) {
			const struct alert_key k = {
				.src = e->src, .dst = e->dst, .port = e->port, .proto = e->proto
			};

			al = alerts_lookup(rp->src->alerts, &k);
		}
		if (al && al->state != ALERT_ALLOWED) {
			e->state = "alerted";
		} else if (eng) {
			if (engine_explain(eng, &s, &d, e->proto, e->port, &res) < 0) {
				engine_free(eng);
				return -ENOMEM;
			}
			for (int k = NETPOL_INGRESS; res.allowed && k < _NETPOL_DIR_MAX && !e->by;
			     k++) {
				const struct engine_dir_result *dr = &res.dir[k];

				if (!dr->isolated || dr->reason != ENGINE_REASON_RULE)
					continue;
				/* An existing policy's rule; the proposal
				 * policies the stages put in the cluster
				 * (agent_stage.c) are the proposals', not
				 * named here. */
				for (size_t j = 0; j < dr->n_allowing && !e->by; j++) {
					const struct netpol *p =
						&rp->c->policies[dr->allowing[j].policy];

					if (p->origin != NETPOL_ORIGIN_CLUSTER)
						continue;
					e->by = p;
					e->by_dir = (enum netpol_dir) k;
					e->by_rule = dr->allowing[j].rule;
				}
			}
			engine_result_done(&res);
			if (e->by)
				e->state = h && h->mode == STATE_DB_MODE_ENFORCE ?
						   "enforced" :
						   "allowed-by-existing-policy";
		}
		if (eng && report_proposals_judge(rp, eng, i, &s, &d) < 0) {
			engine_free(eng);
			return -ENOMEM;
		}
		if (h) {
			h->flows++;
			h->uncovered += strcmp(e->state, "uncovered") == 0;
		}
	}
	engine_free(eng);
	return 0;
}

/* The alerts' workloads (an alert may name one the cluster no longer
 * has) and their counts. */
static int alerts_gather(struct report *rp)
{
	const struct alerts *t = rp->src->alerts;
	size_t n = t ? alerts_count(t) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct alert_entry *al = alerts_at(t, i);
		bool sw = strchr(al->src, '/') != strrchr(al->src, '/');
		bool dw = strchr(al->dst, '/') != strrchr(al->dst, '/');

		if ((sw && wl_of_id(rp, al->src) == NONE) || (dw && wl_of_id(rp, al->dst) == NONE))
			return -ENOMEM;
	}
	return 0;
}

static void alerts_count_ns(struct report *rp)
{
	const struct alerts *t = rp->src->alerts;
	size_t n = t ? alerts_count(t) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct alert_entry *al = alerts_at(t, i);
		struct rns *h = home(rp, al->src, strchr(al->src, '/') != strrchr(al->src, '/'),
				     al->dst, strchr(al->dst, '/') != strrchr(al->dst, '/'));

		if (h) {
			h->alerts++;
			h->open += al->state == ALERT_OPEN;
		}
	}
}

static void report_done(struct report *rp)
{
	for (size_t i = 0; i < rp->n_wl; i++) {
		free(rp->wl[i].id);
		free(rp->wl[i].ns);
		free(rp->wl[i].kind);
		free(rp->wl[i].name);
		labels_done(&rp->wl[i].labels);
		free(rp->wl[i].pods);
	}
	for (size_t i = 0; i < rp->n_e; i++) {
		free(rp->e[i].key);
		free(rp->e[i].src);
		free(rp->e[i].dst);
		free(rp->e[i].src_pod);
		free(rp->e[i].dst_pod);
	}
	report_proposals_done(rp);
	free(rp->wl);
	free(rp->e);
	free(rp->ns);
	free(rp->wl_of_pod);
	hmap_free(&rp->wl_by_id);
	hmap_free(&rp->e_by_key);
	hmap_free(&rp->e_by_id);
	hmap_free(&rp->ns_by_name);
}

int report_write(const struct report_src *src, const struct report_stored *stored, int64_t now,
		 struct json_out *w)
{
	struct report rp = { .src = src, .c = src->c, .now = now, .stored = stored };
	uint64_t t0 = clock_mono_us(), t[5] = { 0 };
	int r;

	hmap_init(&rp.wl_by_id, 0);
	hmap_init(&rp.e_by_key, 0);
	hmap_init(&rp.e_by_id, 0);
	hmap_init(&rp.ns_by_name, 0);
	for (size_t k = 0; k < src->n_modes; k++)
		if (src->modes[k].scope[0] && !strchr(src->modes[k].scope, '/') &&
		    ns_get(&rp, src->modes[k].scope) == NONE) {
			r = -ENOMEM;
			goto out;
		}
	t[0] = clock_mono_us();
	r = workloads_gather(&rp);
	t[1] = clock_mono_us();
	if (r == 0)
		r = flows_gather(&rp);
	t[2] = clock_mono_us();
	if (r == 0)
		r = alerts_gather(&rp);
	if (r == 0)
		r = ns_finish(&rp);
	if (r == 0)
		r = report_proposals_gather(&rp);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rp.n_wl; i++) {
		void *v = hmap_get_str(&rp.ns_by_name, rp.wl[i].ns);

		rp.ns[(size_t) (uintptr_t) v - 1].workloads++;
	}
	alerts_count_ns(&rp);
	t[3] = clock_mono_us();
	r = edges_judge(&rp);
	t[4] = clock_mono_us();
	if (r < 0)
		goto out;

	/* One allocation for most of it: growing 20 MB by doubling copies
	 * it again and again. */
	if (buf_reserve(w->b, 4096 + rp.n_ns * 400 + rp.n_wl * 200 + rp.n_e * 330 +
				      (rp.c ? rp.c->n_pods * 100 + rp.c->n_policies * 700 : 0) +
				      (src->alerts ? alerts_count(src->alerts) * 600 : 0)) < 0)
		log_debug("agent: report: no room reserved, growing as it goes");
	json_out_obj_begin(w);
	report_write_head(&rp, w);
	json_out_key(w, "namespaces");
	report_write_namespaces(&rp, w);
	json_out_key(w, "workloads");
	report_write_workloads(&rp, w);
	json_out_key(w, "flows");
	report_write_flows(&rp, w);
	json_out_key(w, "alerts");
	report_write_alerts(&rp, w);
	json_out_key(w, "proposals");
	r = report_write_proposals(&rp, w);
	json_out_key(w, "existingPolicies");
	if (r == 0)
		r = report_write_policies(&rp, w);
	json_out_obj_end(w);
	json_out_newline(w);
	if (r == 0)
		r = json_out_error(w);
	log_debug(
		"agent: report: identity %.1f ms, workloads %.1f ms, flows %.1f ms, verdicts %.1f ms, "
		"writing %.1f ms",
		(double) (t[0] - t0) / 1000.0, (double) (t[1] - t[0]) / 1000.0,
		(double) (t[2] - t[1]) / 1000.0, (double) (t[4] - t[3]) / 1000.0,
		(double) (clock_mono_us() - t[4]) / 1000.0);
out:
	report_done(&rp);
	return r;
}

int agent_report_write(struct agent *a, const struct report_stored *stored, int64_t now,
		       struct json_out *w)
{
	const struct report_src src = {
		.c = agent_source_cluster(a),
		.table = a->learn ? learn_table(a->learn) : NULL,
		/* Built here when the cluster changed since the last
		 * checkpoint: in the report's child, a copy the agent does
		 * not keep. */
		.id = agent_learn_identity(a),
		.alerts = a->alerts,
		.modes = a->modes,
		.n_modes = a->n_modes,
		.cluster_name = a->cfg.context ? a->cfg.context : "",
		.from_snapshot = a->cfg.n_snapshots > 0,
		.api_connected = a->synced && !a->api_down,
		.last_sync = a->last_sync,
		.node = a->cfg.node,
		.started = a->started,
		.learn_duration_s = a->cfg.learn_duration_s,
		.preview_window_s = a->cfg.preview_window_s,
		.auto_promote = a->cfg.auto_promote,
		.enf_digest = a->enf_digest,
		.enf_last = a->nio ? a->enf_last : 0,
		.enf_err = a->enf_err,
	};

	return report_write(&src, stored, now, w);
}
