/*
 * The report's proposals (docs/report.md, "proposals[] and
 * existingPolicies[]"): the stored proposals, read on the loop
 * (report_stored_load(), before the fork: agent_report_job.c), decoded in
 * the report's child, each rule with the learned flows that justify it,
 * and the flows a proposal allows.
 *
 * A flow (an edge of the report) justifies a rule when the rule's policy
 * selects the edge's own side for the rule's direction (the destination
 * for ingress, the source for egress) and the rule allows the other side
 * on the edge's port (engine_rule_allows(), for one flow of the edge).  An
 * edge no existing policy allows and no alert names is
 * "allowed-by-proposal" when a proposed policy isolates one of its sides
 * and, for each side a proposed policy isolates, a rule allows it; its
 * allowedBy is the first such rule, ingress before egress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "agent_report.h"
#include "cluster.h"
#include "engine.h"
#include "log.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
#include "propose.h"
#include "proto.h"
#include "selector.h"
#include "state_db.h"

/* The YAML of one policy: at most this long (as existingPolicies). */
#define PROPOSAL_YAML_MAX (1024 * 1024)

static int stored_add(struct report_stored *s, const char *scope, char *json)
{
	char **sc = realloc(s->scope, (s->n + 1) * sizeof(*sc)), **js;

	if (sc)
		s->scope = sc;
	js = sc ? realloc(s->json, (s->n + 1) * sizeof(*js)) : NULL;
	if (js)
		s->json = js;
	if (!sc || !js || !(s->scope[s->n] = strdup(scope))) {
		free(json);
		return -ENOMEM;
	}
	s->json[s->n++] = json;
	return 0;
}

/* The proposal of @scope, when it has one and it is not in @s yet. */
static int stored_get(struct agent *a, struct report_stored *s, const char *scope)
{
	struct bh_err err = { 0 };
	char *json = NULL;
	int r;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->scope[i], scope) == 0)
			return 0;
	r = state_db_proposal_get(a->db, scope, &json, NULL, NULL, &err);
	if (r <= 0)
		return r;
	return stored_add(s, scope, json);
}

int report_stored_load(struct agent *a, struct report_stored *ret)
{
	const struct cluster *c = agent_source_cluster(a);
	struct report_stored s = { 0 };
	int r = 0;

	if (!a->db) {
		*ret = s;
		return 0;
	}
	for (size_t i = 0; c && i < c->n_ns && r == 0; i++)
		r = stored_get(a, &s, c->ns[i].name);
	for (size_t i = 0; i < a->n_modes && r == 0; i++)
		if (a->modes[i].scope[0])
			r = stored_get(a, &s, a->modes[i].scope);
	if (r == 0)
		r = stored_get(a, &s, STATE_DB_SCOPE_CLUSTER);
	if (r < 0) {
		report_stored_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void report_stored_done(struct report_stored *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->scope[i]);
		free(s->json[i]);
	}
	free(s->scope);
	free(s->json);
	*s = (struct report_stored){ 0 };
}

static int rpol_cmp(const void *x, const void *y)
{
	const struct rpol *a = x, *b = y;
	int c = strcmp(a->pp->np.ns, b->pp->np.ns);

	return c ? c : strcmp(a->pp->np.name, b->pp->np.name);
}

/* Does a namespace-scope proposal (the first @n_ns of rp->props) hold
 * policies of @ns? */
static bool ns_has_own(const struct report *rp, size_t n_ns, const char *ns)
{
	for (size_t i = 0; i < n_ns; i++)
		if (strcmp(rp->stored->scope[i], ns) == 0)
			return true;
	return false;
}

int report_proposals_gather(struct report *rp)
{
	const struct report_stored *s = rp->stored;
	size_t n_ns = 0, total = 0;

	if (!s || !s->n)
		return 0;
	rp->props = calloc(s->n, sizeof(*rp->props));
	if (!rp->props)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		struct bh_err err = { 0 };
		int r = proposal_doc_decode(s->json[i], strlen(s->json[i]), &rp->props[i], &err);

		if (r == -ENOMEM)
			return r;
		if (r < 0)
			log_debug("agent: report: the proposal of '%s' is left out: %s",
				  s->scope[i], err.msg);
		total += rp->props[i].n;
		n_ns += s->scope[i][0] != '\0';
	}
	rp->n_props = s->n;
	rp->pol = calloc(total + 1, sizeof(*rp->pol));
	if (!rp->pol)
		return -ENOMEM;
	for (size_t i = 0; i < rp->n_props; i++) {
		const bool cluster_scope = s->scope[i][0] == '\0';

		for (size_t k = 0; k < rp->props[i].n; k++) {
			const struct proposal_policy *pp = &rp->props[i].v[k];
			struct rpol *rpl = &rp->pol[rp->n_pol];

			/* a namespace's own proposal replaces the cluster's */
			if ((cluster_scope && ns_has_own(rp, n_ns, pp->np.ns)) ||
			    (!cluster_scope && strcmp(pp->np.ns, s->scope[i]) != 0))
				continue;
			rpl->pp = pp;
			rp->n_pol++;
			for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
				rpl->rules[d] =
					calloc(pp->np.n_rules[d] + 1, sizeof(*rpl->rules[d]));
				if (!rpl->rules[d])
					return -ENOMEM;
			}
		}
	}
	if (rp->n_pol)
		qsort(rp->pol, rp->n_pol, sizeof(*rp->pol), rpol_cmp);
	return 0;
}

void report_proposals_done(struct report *rp)
{
	for (size_t i = 0; i < rp->n_pol; i++)
		for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
			for (size_t k = 0; rp->pol[i].rules[d] && k < rp->pol[i].pp->np.n_rules[d];
			     k++)
				free(rp->pol[i].rules[d][k].edges);
			free(rp->pol[i].rules[d]);
		}
	free(rp->pol);
	for (size_t i = 0; i < rp->n_props; i++)
		proposal_done(&rp->props[i]);
	free(rp->props);
	rp->pol = NULL;
	rp->props = NULL;
	rp->n_pol = rp->n_props = 0;
}

/* The first of rp->pol in namespace @ns (sorted), or rp->n_pol. */
static size_t pol_first(const struct report *rp, const char *ns)
{
	size_t lo = 0, hi = rp->n_pol;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(rp->pol[mid].pp->np.ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int rule_add_edge(struct rrule *rr, size_t i)
{
	if (rr->n && rr->edges[rr->n - 1] == i)
		return 0;
	if (rr->n == rr->cap) {
		size_t cap = rr->cap ? 2 * rr->cap : 4;
		size_t *v = realloc(rr->edges, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rr->edges = v;
		rr->cap = cap;
	}
	rr->edges[rr->n++] = i;
	return 0;
}

/* One rule of a proposed policy that edge @i justifies. */
struct judge {
	struct rpol *rpl;
	enum netpol_dir dir;
	size_t i;
	bool allowed;
	const struct netpol *by;
	enum netpol_dir by_dir;
	size_t by_rule;
};

static int judge_rule_cb(size_t rule, void *userdata)
{
	struct judge *j = userdata;
	int r = rule_add_edge(&j->rpl->rules[j->dir][rule], j->i);

	if (r < 0)
		return r;
	j->allowed = true;
	if (!j->by) {
		j->by = &j->rpl->pp->np;
		j->by_dir = j->dir;
		j->by_rule = rule;
	}
	return 0;
}

int report_proposals_judge(struct report *rp, struct engine *eng, size_t i,
			   const struct engine_ep *s, const struct engine_ep *d)
{
	struct redge *e = &rp->e[i];
	struct judge j = { .i = i };
	const struct netpol *by;
	enum netpol_dir by_dir;
	size_t by_rule;
	bool isolated[_NETPOL_DIR_MAX] = { false }, allowed[_NETPOL_DIR_MAX] = { false };
	const struct pod *dpod = e->dst_pidx != REPORT_NONE ? &rp->c->pods[e->dst_pidx] : NULL;
	int r;

	if (!rp->n_pol)
		return 0;
	for (int dir = NETPOL_INGRESS; dir < _NETPOL_DIR_MAX; dir++) {
		size_t self = dir == NETPOL_INGRESS ? e->dst_pidx : e->src_pidx;
		const struct pod *sp;

		if (self == REPORT_NONE)
			continue;
		sp = &rp->c->pods[self];
		j.dir = (enum netpol_dir) dir;
		for (size_t k = pol_first(rp, sp->ns);
		     k < rp->n_pol && strcmp(rp->pol[k].pp->np.ns, sp->ns) == 0; k++) {
			j.rpl = &rp->pol[k];
			j.allowed = false;
			r = propose_rules_justified(eng, &rp->pol[k].pp->np, j.dir, sp,
						    dir == NETPOL_INGRESS ? s : d, dpod, e->proto,
						    e->port, judge_rule_cb, &j);
			if (r < 0)
				return r;
			isolated[dir] |= r > 0;
			allowed[dir] |= j.allowed;
		}
	}
	by = j.by;
	by_dir = j.by_dir;
	by_rule = j.by_rule;
	if (strcmp(e->state, "uncovered") != 0 || !by || (isolated[0] && !allowed[0]) ||
	    (isolated[1] && !allowed[1]))
		return 0;
	{
		const char *ns = e->dst_wl ? e->dst : e->src;
		const char *slash = strchr(ns, '/');
		void *v = NULL;
		char name[256];

		if (slash) {
			(void) snprintf(name, sizeof(name), "%.*s", (int) (slash - ns), ns);
			v = hmap_get_str(&rp->ns_by_name, name);
		}
		e->state = v && rp->ns[(size_t) (uintptr_t) v - 1].mode == STATE_DB_MODE_ENFORCE ?
				   "enforced" :
				   "allowed-by-proposal";
	}
	e->by = by;
	e->by_proposal = true;
	e->by_dir = by_dir;
	e->by_rule = by_rule;
	return 0;
}

static bool sel_empty(const struct selector *sel)
{
	return !sel || (!sel->match_labels.n && !sel->n_reqs);
}

/* "k=v,k2=v2,k3 Exists" */
static int sel_text(const struct selector *sel, struct buf *b)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sel->match_labels.n; i++)
		r = buf_printf(b, "%s%s=%s", i ? "," : "", sel->match_labels.v[i].key,
			       sel->match_labels.v[i].value);
	for (size_t i = 0; r == 0 && i < sel->n_reqs; i++)
		r = buf_printf(b, "%s%s %s", i || sel->match_labels.n ? "," : "", sel->reqs[i].key,
			       selector_op_name(sel->reqs[i].op));
	return r;
}

/* A short text for @peer of policy @np: "shop pods app=api", "all
 * namespaces all pods", "ipBlock 192.0.2.1/32". */
static int peer_text(const struct netpol *np, const struct netpol_peer *peer, struct buf *b)
{
	const struct selector *ns = peer->ns_sel;
	char cs[ADDR_STR_MAX + 8];
	int r = 0;

	if (peer->kind == NETPOL_PEER_IPBLOCK) {
		r = buf_printf(b, "ipBlock %s", cidr_format(&peer->cidr, cs, sizeof(cs)));
		for (size_t i = 0; r == 0 && i < peer->n_except; i++)
			r = buf_printf(b, "%s%s", i ? "," : " except ",
				       cidr_format(&peer->except[i], cs, sizeof(cs)));
		return r;
	}
	if (!ns)
		r = buf_printf(b, "%s", np->ns);
	else if (ns->match_labels.n == 1 && !ns->n_reqs &&
		 labels_get(&ns->match_labels, "kubernetes.io/metadata.name"))
		r = buf_printf(b, "%s",
			       labels_get(&ns->match_labels, "kubernetes.io/metadata.name"));
	else if (sel_empty(ns))
		r = buf_printf(b, "all namespaces");
	else if ((r = buf_printf(b, "namespaces ")) == 0)
		r = sel_text(ns, b);
	if (r == 0 && sel_empty(peer->pod_sel))
		r = buf_printf(b, " all pods");
	else if (r == 0 && (r = buf_printf(b, " pods ")) == 0)
		r = sel_text(peer->pod_sel, b);
	return r;
}

/* Ports of a rule as the schema has them: a number (each of a short
 * range), 0 for every port or a named port. */
#define PORT_RANGE_LISTED 64

static void ports_write(const struct netpol_rule *rule, struct json_out *w)
{
	json_out_arr_begin(w);
	for (size_t i = 0; i < rule->n_ports; i++) {
		const struct netpol_port *pp = &rule->ports[i];
		uint32_t lo = pp->kind == NETPOL_PORT_NUMBER ? pp->port : 0, hi = lo;
		const char *proto = proto_name(pp->protocol);

		if (pp->kind == NETPOL_PORT_NUMBER && pp->end_port > pp->port &&
		    pp->end_port - pp->port < PORT_RANGE_LISTED)
			hi = pp->end_port;
		for (uint32_t p = lo; p <= hi; p++) {
			json_out_obj_begin(w);
			json_out_key(w, "port");
			json_out_uint(w, p);
			json_out_key(w, "protocol");
			json_out_str(w, proto);
			json_out_obj_end(w);
		}
	}
	json_out_arr_end(w);
}

int report_write_proposals(struct report *rp, struct json_out *w)
{
	const struct cluster *c = rp->c;
	struct buf text;
	int r = 0;

	json_out_arr_begin(w);
	buf_init(&text, PROPOSAL_YAML_MAX);
	for (size_t i = 0; i < rp->n_pol && r == 0; i++) {
		const struct rpol *rpl = &rp->pol[i];
		const struct netpol *np = &rpl->pp->np;
		json_t *doc;

		json_out_newline(w);
		json_out_obj_begin(w);
		json_out_key(w, "name");
		json_out_str(w, np->name);
		json_out_key(w, "namespace");
		json_out_str(w, np->ns);
		json_out_key(w, "selects");
		json_out_arr_begin(w);
		for (size_t k = 0; k < rp->n_wl; k++) {
			const struct rwl *wl = &rp->wl[k];
			bool sel = false;

			if (strcmp(wl->ns, np->ns) != 0)
				continue;
			for (size_t q = 0; c && q < wl->n_pods && !sel; q++)
				sel = selector_matches(&np->pod_sel, &c->pods[wl->pods[q]].labels);
			if (!wl->n_pods)
				sel = selector_matches(&np->pod_sel, &wl->labels);
			if (sel)
				json_out_str(w, wl->id);
		}
		json_out_arr_end(w);
		json_out_key(w, "yaml");
		buf_reset(&text);
		doc = netpol_emit_json(np, &rpl->pp->labels, &rpl->pp->annotations);
		r = doc ? netpol_emit_yaml(doc, &text) : -ENOMEM;
		json_decref(doc);
		json_out_strn(w, text.data ? text.data : "", text.len);
		json_out_key(w, "rules");
		json_out_arr_begin(w);
		for (int d = 0; d < _NETPOL_DIR_MAX && r == 0; d++)
			for (size_t k = 0; k < np->n_rules[d] && r == 0; k++) {
				const struct netpol_rule *rule = &np->rules[d][k];
				const struct rrule *rr = &rpl->rules[d][k];

				json_out_obj_begin(w);
				json_out_key(w, "direction");
				json_out_str(w, netpol_dir_name((enum netpol_dir) d));
				json_out_key(w, "index");
				json_out_uint(w, k);
				json_out_key(w, "peers");
				json_out_arr_begin(w);
				for (size_t q = 0; q < rule->n_peers && r == 0; q++) {
					buf_reset(&text);
					r = peer_text(np, &rule->peers[q], &text);
					json_out_strn(w, text.data ? text.data : "", text.len);
				}
				json_out_arr_end(w);
				json_out_key(w, "ports");
				ports_write(rule, w);
				json_out_key(w, "flows");
				json_out_arr_begin(w);
				for (size_t q = 0; q < rr->n; q++)
					json_out_str(w, rp->e[rr->edges[q]].id);
				json_out_arr_end(w);
				json_out_obj_end(w);
			}
		json_out_arr_end(w);
		json_out_obj_end(w);
	}
	json_out_arr_end(w);
	buf_done(&text);
	return r;
}
