/*
 * The report's sections written with the streaming writer (the struct
 * report agent_report.c gathered; docs/report.md, schema version 1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "agent_int.h"
#include "agent_report.h"
#include "cluster.h"
#include "json_out.h"
#include "netpol_emit.h"
#include "proto.h"
#include "selector.h"

#ifndef BH_VERSION
#define BH_VERSION "0.1.0"
#endif

#define REPORT_SCHEMA_VERSION 1
/* A policy's YAML, at most (the schema's maxLength). */
#define REPORT_YAML_MAX (1024 * 1024)

/* @e->id: the key's id, or after a collision in the array the first free
 * one of its salted sequence (docs/report.md, "Ids"). */
static void write_window(struct json_out *w, int64_t start, uint64_t len, int64_t now)
{
	int64_t end = start + (int64_t) len;

	json_out_obj_begin(w);
	json_out_key(w, "start");
	json_out_time(w, start);
	json_out_key(w, "end");
	json_out_time(w, end);
	json_out_key(w, "secondsLeft");
	json_out_int(w, end > now ? end - now : 0);
	json_out_obj_end(w);
}

void report_write_namespaces(struct report *rp, struct json_out *w)
{
	static const char *const modes[_STATE_DB_MODE_MAX] = { "learning", "proposed", "preview",
							       "enforce" };
	const struct report_src *a = rp->src;
	char cmd[300];

	json_out_arr_begin(w);
	for (size_t i = 0; i < rp->n_ns; i++) {
		const struct rns *ns = &rp->ns[i];
		const struct state_db_mode *m = ns->stored;

		json_out_newline(w);
		json_out_obj_begin(w);
		json_out_key(w, "name");
		json_out_str(w, ns->name);
		json_out_key(w, "mode");
		json_out_str(w, modes[ns->mode]);
		json_out_key(w, "autoPromote");
		json_out_bool(w, a->auto_promote);
		/* Learning since its mode was stored, else since the agent
		 * started; the preview window from its start. */
		json_out_key(w, "learning");
		if (ns->mode == STATE_DB_MODE_LEARN)
			write_window(w, m && m->since ? m->since : a->started,
				     m && m->learn_window > 0 ? (uint64_t) m->learn_window :
								a->learn_duration_s,
				     rp->now);
		else
			json_out_null(w);
		json_out_key(w, "preview");
		if (ns->mode == STATE_DB_MODE_PREVIEW && m)
			write_window(w, m->since,
				     m->preview_window > 0 ? (uint64_t) m->preview_window :
							     a->preview_window_s,
				     rp->now);
		else
			json_out_null(w);
		json_out_key(w, "counts");
		json_out_obj_begin(w);
		json_out_key(w, "workloads");
		json_out_uint(w, ns->workloads);
		json_out_key(w, "flows");
		json_out_uint(w, ns->flows);
		json_out_key(w, "uncoveredFlows");
		json_out_uint(w, ns->uncovered);
		json_out_key(w, "alerts");
		json_out_uint(w, ns->alerts);
		json_out_key(w, "openAlerts");
		json_out_uint(w, ns->open);
		json_out_obj_end(w);
		json_out_key(w, "enforceCommand");
		(void) snprintf(cmd, sizeof(cmd), "bulkhead enforce --namespace %s", ns->name);
		json_out_str(w, cmd);
		json_out_obj_end(w);
	}
	json_out_arr_end(w);
}

static void write_labels(struct json_out *w, const struct labels *l)
{
	json_out_obj_begin(w);
	for (size_t i = 0; i < l->n; i++) {
		json_out_key(w, l->v[i].key);
		json_out_str(w, l->v[i].value);
	}
	json_out_obj_end(w);
}

void report_write_workloads(struct report *rp, struct json_out *w)
{
	char a[ADDR_STR_MAX];

	json_out_arr_begin(w);
	for (size_t i = 0; i < rp->n_wl; i++) {
		const struct rwl *wl = &rp->wl[i];

		json_out_newline(w);
		json_out_obj_begin(w);
		json_out_key(w, "id");
		json_out_str(w, wl->id);
		json_out_key(w, "namespace");
		json_out_str(w, wl->ns);
		json_out_key(w, "kind");
		json_out_str(w, wl->kind);
		json_out_key(w, "name");
		json_out_str(w, wl->name);
		json_out_key(w, "labels");
		write_labels(w, &wl->labels);
		json_out_key(w, "pods");
		json_out_arr_begin(w);
		for (size_t k = 0; k < wl->n_pods; k++) {
			const struct pod *p = &rp->c->pods[wl->pods[k]];

			json_out_obj_begin(w);
			json_out_key(w, "name");
			json_out_str(w, p->name);
			if (p->n_ips) {
				json_out_key(w, "ip");
				json_out_str(w, addr_format(&p->ips[0], a, sizeof(a)));
			}
			if (p->node) {
				json_out_key(w, "node");
				json_out_str(w, p->node);
			}
			json_out_obj_end(w);
		}
		json_out_arr_end(w);
		json_out_obj_end(w);
	}
	json_out_arr_end(w);
}

static void write_peer(struct json_out *w, const char *peer, bool wl, const char *pod)
{
	json_out_obj_begin(w);
	json_out_key(w, wl ? "workload" : "cidr");
	json_out_str(w, peer);
	if (wl && pod && pod[0]) {
		json_out_key(w, "pod");
		json_out_str(w, pod);
	}
	json_out_obj_end(w);
}

void report_write_flows(struct report *rp, struct json_out *w)
{
	char ref[600];

	json_out_arr_begin(w);
	for (size_t i = 0; i < rp->n_e; i++) {
		const struct redge *e = &rp->e[i];

		json_out_newline(w);
		json_out_obj_begin(w);
		json_out_key(w, "id");
		json_out_str(w, e->id);
		json_out_key(w, "src");
		write_peer(w, e->src, e->src_wl, e->src_pod);
		json_out_key(w, "dst");
		write_peer(w, e->dst, e->dst_wl, e->dst_pod);
		json_out_key(w, "port");
		json_out_uint(w, e->port);
		json_out_key(w, "protocol");
		json_out_str(w, proto_name(e->proto));
		json_out_key(w, "count");
		json_out_uint(w, e->count);
		json_out_key(w, "firstSeen");
		json_out_time(w, e->first);
		json_out_key(w, "lastSeen");
		json_out_time(w, e->last);
		json_out_key(w, "state");
		json_out_str(w, e->state);
		json_out_key(w, "allowedBy");
		if (e->by) {
			json_out_obj_begin(w);
			json_out_key(w, "policy");
			(void) snprintf(ref, sizeof(ref), "%s/%s", e->by->ns, e->by->name);
			json_out_str(w, ref);
			json_out_key(w, "origin");
			json_out_str(w, e->by_proposal ? "proposal" : "existing");
			json_out_key(w, "direction");
			json_out_str(w, netpol_dir_name(e->by_dir));
			json_out_key(w, "rule");
			json_out_uint(w, e->by_rule);
			json_out_obj_end(w);
		} else {
			json_out_null(w);
		}
		json_out_obj_end(w);
	}
	json_out_arr_end(w);
}

void report_write_alerts(struct report *rp, struct json_out *w)
{
	const struct alerts *t = rp->src->alerts;
	size_t n = t ? alerts_count(t) : 0;

	json_out_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		json_out_newline(w);
		alert_json(alerts_at(t, i), rp->c, w);
	}
	json_out_arr_end(w);
}

/* The cluster's NetworkPolicies: the workloads each selects, its YAML. */
int report_write_policies(struct report *rp, struct json_out *w)
{
	const struct cluster *c = rp->c;
	size_t *mark = NULL, first = 0;
	struct buf yaml;
	int r = 0;

	json_out_arr_begin(w);
	if (!c || !c->n_policies) {
		json_out_arr_end(w);
		return 0;
	}
	mark = calloc(rp->n_wl ? rp->n_wl : 1, sizeof(*mark));
	if (!mark)
		return -ENOMEM;
	buf_init(&yaml, REPORT_YAML_MAX);
	for (size_t i = 0; i < c->n_policies && r == 0; i++) {
		const struct netpol *np = &c->policies[i];
		json_t *doc;

		/* a proposal compiled into the cluster model is no existing
		 * policy: proposals[] shows it */
		if (np->origin != NETPOL_ORIGIN_CLUSTER)
			continue;
		json_out_newline(w);
		json_out_obj_begin(w);
		json_out_key(w, "name");
		json_out_str(w, np->name);
		json_out_key(w, "namespace");
		json_out_str(w, np->ns);
		json_out_key(w, "selects");
		json_out_arr_begin(w);
		/* Pods are sorted by namespace: find the policy's. */
		while (first < c->n_pods && strcmp(c->pods[first].ns, np->ns) < 0)
			first++;
		for (size_t k = first; k < c->n_pods && strcmp(c->pods[k].ns, np->ns) == 0; k++) {
			size_t wi = rp->wl_of_pod[k];

			if (mark[wi] == i + 1 ||
			    !selector_matches(&np->pod_sel, &c->pods[k].labels))
				continue;
			mark[wi] = i + 1;
			json_out_str(w, rp->wl[wi].id);
		}
		json_out_arr_end(w);
		json_out_key(w, "yaml");
		buf_reset(&yaml);
		doc = netpol_emit_json(np, NULL, NULL);
		r = doc ? netpol_emit_yaml(doc, &yaml) : -ENOMEM;
		json_decref(doc);
		json_out_strn(w, yaml.data ? yaml.data : "", yaml.len);
		json_out_obj_end(w);
	}
	json_out_arr_end(w);
	buf_done(&yaml);
	free(mark);
	return r;
}

/* "bulkhead:v1:" and 16 lowercase hex digits: a comment the agent wrote
 * (another one, of a table someone else made, is not reported). */
static bool digest_ok(const char *s)
{
	return strncmp(s, "bulkhead:v1:", 12) == 0 && alert_id_valid(s + 12);
}

void report_write_head(struct report *rp, struct json_out *w)
{
	const struct report_src *a = rp->src;
	const struct node *node = rp->c && a->node[0] ? cluster_node_find(rp->c, a->node) : NULL;
	char buf[ADDR_STR_MAX];
	struct utsname u;

	json_out_key(w, "schemaVersion");
	json_out_int(w, REPORT_SCHEMA_VERSION);
	json_out_key(w, "generatedAt");
	json_out_time(w, rp->now);
	json_out_key(w, "agent");
	json_out_obj_begin(w);
	json_out_key(w, "version");
	json_out_str(w, BH_VERSION);
	json_out_obj_end(w);

	json_out_key(w, "cluster");
	json_out_obj_begin(w);
	json_out_key(w, "name");
	json_out_str(w, a->cluster_name);
	json_out_key(w, "source");
	json_out_str(w, a->from_snapshot ? "snapshot" : "api");
	if (!a->from_snapshot) {
		json_out_key(w, "api");
		json_out_str(w, a->api_connected ? "connected" : "unreachable");
	}
	json_out_key(w, "lastSync");
	if (a->last_sync)
		json_out_time(w, a->last_sync);
	else
		json_out_null(w);
	json_out_obj_end(w);

	json_out_key(w, "node");
	json_out_obj_begin(w);
	json_out_key(w, "name");
	json_out_str(w, a->node);
	json_out_key(w, "addresses");
	json_out_arr_begin(w);
	for (size_t i = 0; node && i < node->n_addrs; i++)
		json_out_str(w, addr_format(&node->addrs[i], buf, sizeof(buf)));
	json_out_arr_end(w);
	if (!a->nodes && uname(&u) == 0) {
		json_out_key(w, "kernel");
		json_out_strn(w, u.release, strnlen(u.release, 128));
	}
	json_out_obj_end(w);

	/* The cluster report: the nodes whose NodeFlows it was made from. */
	if (a->nodes) {
		json_out_key(w, "nodes");
		json_out_arr_begin(w);
		for (size_t i = 0; i < a->n_nodes; i++)
			json_out_str(w, a->nodes[i]);
		json_out_arr_end(w);
	}

	/* The table's comment as the kernel holds it (docs/report.md). */
	json_out_key(w, "enforcement");
	json_out_obj_begin(w);
	json_out_key(w, "rulesetDigest");
	if (a->enf_digest && digest_ok(a->enf_digest))
		json_out_str(w, a->enf_digest);
	else
		json_out_null(w);
	json_out_key(w, "lastProgrammed");
	if (a->enf_last)
		json_out_time(w, a->enf_last);
	else
		json_out_null(w);
	json_out_key(w, "errors");
	json_out_arr_begin(w);
	if (a->enf_err && a->enf_err[0])
		json_out_str(w, a->enf_err);
	json_out_arr_end(w);
	json_out_obj_end(w);
}
