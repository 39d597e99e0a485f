/*
 * Preview alerts in the agent: the NFLOG group of the ruleset's preview
 * verdicts read on the loop (include/preview.h), each logged packet
 * resolved to the pods and workloads of its two ends, the deciding
 * direction and policy, and an explanation, then counted in the bounded
 * alert table (include/alerts.h), deduplicated per (source workload,
 * destination workload, port, protocol).  The table is saved to the state
 * database a moment after it changes and put back at start, so alerts
 * survive a restart (a kill -9 loses at most the last AGENT_ALERTS_SAVE_MS).
 *
 * Resolution.  The ruleset logs a class prefix; ruleset_alert_pod() maps
 * it and the packet's addresses to the local pod whose policies decided,
 * and the direction (the destination's ingress or the source's egress).
 * The other end is the pod of its address, else the address itself (an
 * external peer, a node).  A workload is NAMESPACE/KIND/NAME
 * (workload_of_pod(), the learner's and propose's rule).  A packet that
 * resolves to nothing (a prefix of a ruleset since replaced, a pod gone
 * meanwhile) is counted, not guessed.
 *
 * The deciding policy and the explanation come from the engine
 * (include/engine.h) over the enforcement's cluster, asked only for a key
 * the table does not hold yet: a known key's observation is a count and a
 * time.  When the table is full, a new key is counted as dropped before
 * any of that work (alerts_drop()), so a flood (a port scan in preview:
 * one new key per port) costs a lookup and a counter per message, never
 * memory.  The kernel side is bounded too: one log per flow per minute,
 * then a rate limit per class chain (include/ruleset.h).
 *
 * The engine borrows the cluster and is rebuilt (lazily, at the next new
 * key) when cluster_gen says the cluster changed.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "alerts.h"
#include "cluster.h"
#include "engine.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "preview.h"
#include "proto.h"
#include "ruleset.h"
#include "state_db.h"
#include "workload.h"

/* One end of a logged packet, resolved. */
struct end {
	const struct pod *pod; /* NULL for an address */
	char id[ALERT_PEER_MAX + 1]; /* the workload id, or the address */
};

static void end_resolve(struct agent *a, const struct addr *ad, const struct pod *known,
			struct end *e)
{
	char *kind = NULL, *name = NULL;
	char buf[64];

	e->pod = known ? known : cluster_pod_by_addr(a->enf_cluster, ad);
	if (e->pod && !e->pod->host_network && workload_of_pod(e->pod, &kind, &name) == 0 && kind &&
	    name &&
	    (size_t) snprintf(e->id, sizeof(e->id), "%s/%s/%s", e->pod->ns, kind, name) <
		    sizeof(e->id)) {
		free(kind);
		free(name);
		return;
	}
	free(kind);
	free(name);
	e->pod = NULL;
	(void) snprintf(e->id, sizeof(e->id), "%s", addr_format(ad, buf, sizeof(buf)));
}

/* "NS/NAME" of policy @i into @buf.  A proposal policy (agent_stage.c)
 * is named as its proposal names it (the report's proposals), without
 * NETPOL_PROPOSAL_PREFIX. */
static const char *policy_ref(const struct cluster *c, size_t i, char *buf, size_t len)
{
	const struct netpol *p;
	const char *name;

	if (i >= c->n_policies)
		return NULL;
	p = &c->policies[i];
	name = p->name;
	if (p->origin != NETPOL_ORIGIN_CLUSTER &&
	    strncmp(name, NETPOL_PROPOSAL_PREFIX, strlen(NETPOL_PROPOSAL_PREFIX)) == 0)
		name += strlen(NETPOL_PROPOSAL_PREFIX);
	if ((size_t) snprintf(buf, len, "%s/%s", p->ns, name) >= len)
		return NULL;
	return buf;
}

/* The engine over the enforcement's cluster as it is now. */
static struct engine *alerts_engine(struct agent *a)
{
	if (a->alerts_engine && a->alerts_engine_gen == a->cluster_gen &&
	    engine_cluster(a->alerts_engine) == a->enf_cluster)
		return a->alerts_engine;
	a->alerts_engine = engine_free(a->alerts_engine);
	if (engine_new(a->enf_cluster, &a->alerts_engine) < 0)
		return NULL;
	a->alerts_engine_gen = a->cluster_gen;
	return a->alerts_engine;
}

/*
 * The deciding policy of direction @d and the explanation, from the
 * engine: "ingress of shop/db-0 is isolated by shop/db-only and
 * shop/deny-all; no rule of theirs allows TCP port 5432 from
 * shop/Deployment/web (pod web-1)".  -ENOENT when the engine, asked now,
 * allows it (the cluster changed since the packet was logged).
 */
static int explain(struct agent *a, const struct end *src, const struct end *dst,
		   const struct addr *sa, const struct addr *da, uint8_t proto, uint16_t port,
		   enum netpol_dir d, char *policy, size_t plen, char *expl, size_t elen)
{
	struct engine *e = alerts_engine(a);
	const struct cluster *c = a->enf_cluster;
	struct engine_ep s, t;
	struct engine_result res;
	const struct engine_dir_result *dr;
	const struct end *self = d == NETPOL_INGRESS ? dst : src;
	const struct end *peer = d == NETPOL_INGRESS ? src : dst;
	char pb[ALERT_POLICY_MAX + 1];
	const char *pname;
	size_t off;
	int r;

	if (!e)
		return -ENOMEM;
	if (src->pod)
		engine_ep_pod(e, src->pod, sa->family, &s);
	else
		engine_ep_addr(e, sa, &s);
	if (dst->pod)
		engine_ep_pod(e, dst->pod, da->family, &t);
	else
		engine_ep_addr(e, da, &t);
	r = engine_explain(e, &s, &t, proto, port, &res);
	if (r < 0)
		return r;
	dr = &res.dir[d];
	/* (a would-deny passes, logged: a previewed proposal's, an alert) */
	if (((res.allowed || dr->allowed) && !dr->would_deny) || !dr->n_isolating ||
	    !policy_ref(c, dr->isolating[0], policy, plen)) {
		engine_result_done(&res);
		return -ENOENT;
	}
	off = (size_t) snprintf(expl, elen, "%s of %s/%s is isolated by ",
				d == NETPOL_INGRESS ? "ingress" : "egress",
				self->pod ? self->pod->ns : "?", self->pod ? self->pod->name : "?");
	for (size_t i = 0; i < dr->n_isolating && off < elen; i++) {
		const char *p = policy_ref(c, dr->isolating[i], pb, sizeof(pb));

		if (i == 8) {
			off += (size_t) snprintf(expl + off, elen - off, " and %zu more",
						 dr->n_isolating - i);
			break;
		}
		off += (size_t) snprintf(expl + off, elen - off, "%s%s",
					 i == 0			  ? "" :
					 i + 1 == dr->n_isolating ? " and " :
								    ", ",
					 p ? p : "?");
	}
	pname = proto_name(proto);
	if (!pname)
		pname = proto == IPPROTO_ICMP ? "ICMP" : proto == IPPROTO_ICMPV6 ? "ICMPv6" : "IP";
	if (off < elen)
		(void) snprintf(expl + off, elen - off,
				"; no rule of %s allows %s port %u %s %s%s%s%s",
				dr->n_isolating > 1 ? "theirs" : "it", pname, (unsigned) port,
				d == NETPOL_INGRESS ? "from" : "to", peer->id,
				peer->pod ? " (pod " : "", peer->pod ? peer->pod->name : "",
				peer->pod ? ")" : "");
	engine_result_done(&res);
	return 0;
}

static void alerts_save_soon(struct agent *a, int64_t ts)
{
	if (ts < a->alerts_dirty)
		a->alerts_dirty = ts;
	if (!loop_timer_armed(&a->alerts_timer))
		(void) loop_timer_arm_in(&a->alerts_timer, AGENT_ALERTS_SAVE_MS);
}

/* One logged packet (preview's sink). */
static void nflog_pkt_cb(const struct nflog_pkt *pkt, int64_t ts_ns, void *ud)
{
	struct agent *a = ud;
	enum netpol_dir d;
	const char *ns, *podname;
	const struct pod *deciding;
	struct end src, dst;
	struct alert_key key;
	const struct alert_entry *old;
	struct alert_info info;
	char policy[ALERT_POLICY_MAX + 1], expl[1024];
	int64_t ts = ts_ns / 1000000;
	int r;

	if (!a->rs || !a->enf_cluster ||
	    ruleset_alert_pod(a->rs, a->enf_cluster, pkt->prefix, &pkt->src, &pkt->dst, &d, &ns,
			      &podname) < 0 ||
	    !(deciding = cluster_pod_find(a->enf_cluster, ns, podname))) {
		a->alerts_unresolved++;
		return;
	}
	end_resolve(a, &pkt->src, d == NETPOL_EGRESS ? deciding : NULL, &src);
	end_resolve(a, &pkt->dst, d == NETPOL_INGRESS ? deciding : NULL, &dst);
	key = (struct alert_key){
		.src = src.id, .dst = dst.id, .port = pkt->dport, .proto = pkt->proto
	};
	old = alerts_lookup(a->alerts, &key);
	if (!old && alerts_full(a->alerts)) {
		alerts_drop(a->alerts);
		return;
	}
	info = (struct alert_info){
		.direction = d == NETPOL_INGRESS ? ALERT_INGRESS : ALERT_EGRESS,
		.src_pod = src.pod ? src.pod->name : NULL,
		.dst_pod = dst.pod ? dst.pod->name : NULL,
	};
	if (old) {
		info.policy = old->policy;
		info.explanation = old->explanation;
		/* The kernel's direction decides; a known alert keeps its
		 * explanation, which names that direction. */
		info.direction = old->direction;
	} else {
		r = explain(a, &src, &dst, &pkt->src, &pkt->dst, pkt->proto, pkt->dport, d, policy,
			    sizeof(policy), expl, sizeof(expl));
		if (r < 0) {
			a->alerts_stale++;
			return;
		}
		info.policy = policy;
		info.explanation = expl;
	}
	r = alerts_observe(a->alerts, &key, &info, ts);
	if (r >= 0)
		alerts_save_soon(a, ts);
	else if (r == -ENOMEM)
		log_err("agent: alerts: out of memory");
}

static void nflog_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, nflog_io);
	struct bh_err err = { 0 };

	(void) revents;
	if (preview_process(a->nflog, &err) < 0 && !a->nflog_err[0]) {
		(void) snprintf(a->nflog_err, sizeof(a->nflog_err), "%s", err.msg);
		log_err("agent: alerts: %s", err.msg);
	}
}

/* ---- the state database ---- */

static enum state_db_alert_state db_state(enum alert_state s)
{
	return s == ALERT_ALLOWED   ? STATE_DB_ALERT_ALLOWED :
	       s == ALERT_DISMISSED ? STATE_DB_ALERT_DISMISSED :
				      STATE_DB_ALERT_OPEN;
}

static enum alert_state table_state(enum state_db_alert_state s)
{
	return s == STATE_DB_ALERT_ALLOWED   ? ALERT_ALLOWED :
	       s == STATE_DB_ALERT_DISMISSED ? ALERT_DISMISSED :
					       ALERT_OPEN;
}

/* Saves the alerts observed since the oldest unsaved observation, in one
 * transaction; on failure they stay unsaved (the next round tries). */
static int alerts_save(struct agent *a)
{
	struct state_db_alert *v;
	struct bh_err err = { 0 };
	size_t n = 0, total = alerts_count(a->alerts);
	int r;

	if (a->alerts_dirty == INT64_MAX || !a->db)
		return 0;
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		const struct alert_entry *e = alerts_at(a->alerts, i);

		if (e->last_seen < a->alerts_dirty)
			continue;
		memcpy(v[n].id, e->id, sizeof(v[n].id));
		v[n].src_workload = (char *) e->src;
		v[n].dst_workload = (char *) e->dst;
		v[n].port = e->port;
		v[n].proto = e->proto;
		v[n].src_pod = (char *) e->src_pod;
		v[n].dst_pod = (char *) e->dst_pod;
		v[n].direction = e->direction == ALERT_EGRESS ? STATE_DB_DIR_EGRESS :
								STATE_DB_DIR_INGRESS;
		v[n].policy = (char *) e->policy;
		v[n].explanation = e->explanation[0] ? (char *) e->explanation : NULL;
		v[n].count = e->count;
		v[n].first_seen = e->first_seen;
		v[n].last_seen = e->last_seen;
		v[n].state = db_state(e->state);
		n++;
	}
	r = n ? state_db_alerts_save(a->db, v, n, &err) : 0;
	free(v);
	if (r < 0) {
		if (!a->alerts_save_failed)
			log_err("agent: alerts: saving: %s (kept; tried again)", err.msg);
		a->alerts_save_failed = true;
		return r;
	}
	if (a->alerts_save_failed)
		log_notice("agent: alerts: saved again");
	a->alerts_save_failed = false;
	a->alerts_saved += n;
	a->alerts_dirty = INT64_MAX;
	return 0;
}

static void save_timer_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, alerts_timer);

	if (alerts_save(a) < 0)
		(void) loop_timer_arm_in(t, AGENT_ALERTS_SAVE_MS);
}

/* The saved alerts into the table; one that does not fit the rules or
 * the limit any more is logged and left in the database. */
static int alerts_load(struct agent *a, struct bh_err *reterr)
{
	struct state_db_alert *v = NULL;
	size_t n = 0, skipped = 0;
	int r;

	r = state_db_alerts_load(a->db, &v, &n, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct alert_key k = { .src = v[i].src_workload,
					     .dst = v[i].dst_workload,
					     .port = v[i].port,
					     .proto = v[i].proto };
		const struct alert_info info = {
			.direction = v[i].direction == STATE_DB_DIR_EGRESS ? ALERT_EGRESS :
									     ALERT_INGRESS,
			.policy = v[i].policy ? v[i].policy : "?/?",
			.explanation = v[i].explanation,
			.src_pod = v[i].src_pod,
			.dst_pod = v[i].dst_pod,
		};
		const struct alert_saved s = { .id = v[i].id,
					       .count = v[i].count,
					       .first_seen = v[i].first_seen,
					       .last_seen = v[i].last_seen,
					       .state = table_state(v[i].state) };

		r = alerts_restore(a->alerts, &k, &info, &s);
		if (r == -ENOMEM) {
			state_db_alerts_free(v, n);
			return bh_err_oom(reterr);
		}
		if (r < 0)
			skipped++;
	}
	if (skipped)
		log_warning("agent: alerts: %zu of the %zu saved alerts not restored (over "
			    "maxAlerts, or not valid any more)",
			    skipped, n);
	state_db_alerts_free(v, n);
	return 0;
}

/* ---- the agent's part ---- */

int agent_alerts_start(struct agent *a, struct bh_err *reterr)
{
	struct bh_err err = { 0 };
	int r;

	a->alerts_dirty = INT64_MAX;
	loop_timer_init(&a->alerts_timer, a->loop, save_timer_cb);
	a->alerts = alerts_new(a->cfg.max_alerts);
	if (!a->alerts)
		return bh_err_oom(reterr);
	r = alerts_load(a, reterr);
	if (r < 0)
		return r;
	if (alerts_count(a->alerts))
		log_info("agent: alerts: %zu restored from the state database",
			 alerts_count(a->alerts));
	if (!a->nio)
		return 0; /* no ruleset: nothing logs */
	r = preview_open(a->cfg.nflog_group, 1, &a->nflog, &err);
	if (r < 0) {
		/* Enforcement goes on; /readyz names it in preview. */
		(void) snprintf(a->nflog_err, sizeof(a->nflog_err), "%s", err.msg);
		log_err("agent: alerts: %s", err.msg);
		return 0;
	}
	preview_set_sink(a->nflog, nflog_pkt_cb, a);
	r = loop_io_add(a->loop, &a->nflog_io, preview_fd(a->nflog), EPOLLIN, nflog_cb);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: alerts: NFLOG on the loop: %s",
				  strerror(-r));
	log_info("agent: alerts: reading NFLOG group %u (policy mode %s)",
		 (unsigned) a->cfg.nflog_group, a->cfg.policy_preview ? "preview" : "enforce");
	return 0;
}

void agent_alerts_stop(struct agent *a)
{
	loop_io_remove(&a->nflog_io);
	a->nflog = preview_free(a->nflog);
	if (a->alerts)
		(void) alerts_save(a);
	loop_timer_disarm(&a->alerts_timer);
	a->alerts_engine = engine_free(a->alerts_engine);
	a->alerts = alerts_free(a->alerts);
}

void agent_alerts_stats(struct agent *a)
{
	const struct alerts_stats *s;

	if (!a->alerts)
		return;
	s = alerts_stats(a->alerts);
	metrics_counter_set(a->m_alerts, s->created);
	metrics_counter_set(a->m_alerts_dropped, s->dropped);
	if (a->nflog)
		metrics_counter_set(a->m_nflog_overruns, preview_stats(a->nflog)->overruns);
}

const char *agent_alerts_problem(const struct agent *a)
{
	return a->cfg.policy_preview && a->nio && a->nflog_err[0] ? a->nflog_err : NULL;
}

void agent_alerts_status(struct agent *a, struct json_out *w)
{
	const struct alerts_stats *s = a->alerts ? alerts_stats(a->alerts) : NULL;
	const struct preview_stats *p = a->nflog ? preview_stats(a->nflog) : NULL;

	json_out_obj_begin(w);
	json_out_key(w, "held");
	json_out_uint(w, a->alerts ? alerts_count(a->alerts) : 0);
	json_out_key(w, "open");
	json_out_uint(w, a->alerts ? alerts_open(a->alerts) : 0);
	json_out_key(w, "limit");
	json_out_uint(w, a->cfg.max_alerts);
	json_out_key(w, "memory_bytes");
	json_out_uint(w, a->alerts ? alerts_mem(a->alerts) : 0);
	json_out_key(w, "observed");
	json_out_uint(w, s ? s->observed : 0);
	json_out_key(w, "dropped");
	json_out_uint(w, s ? s->dropped : 0);
	json_out_key(w, "unresolved");
	json_out_uint(w, a->alerts_unresolved);
	json_out_key(w, "stale");
	json_out_uint(w, a->alerts_stale);
	json_out_key(w, "saved");
	json_out_uint(w, a->alerts_saved);
	json_out_key(w, "unsaved");
	json_out_bool(w, a->alerts_dirty != INT64_MAX);
	json_out_key(w, "nflog");
	json_out_obj_begin(w);
	json_out_key(w, "group");
	json_out_uint(w, a->cfg.nflog_group);
	json_out_key(w, "bound");
	json_out_bool(w, a->nflog != NULL);
	json_out_key(w, "messages");
	json_out_uint(w, p ? p->messages : 0);
	json_out_key(w, "malformed");
	json_out_uint(w, p ? p->malformed + p->non_ip : 0);
	json_out_key(w, "overruns");
	json_out_uint(w, p ? p->overruns : 0);
	json_out_key(w, "error");
	if (a->nflog_err[0])
		json_out_str(w, a->nflog_err);
	else
		json_out_null(w);
	json_out_obj_end(w);
	json_out_obj_end(w);
}

int agent_alerts_set_state(struct agent *a, const char *const *ids, size_t n,
			   enum alert_state state, const char **ret_unknown)
{
	size_t changed = 0;

	*ret_unknown = NULL;
	/* All or nothing: every id is checked before any changes. */
	for (size_t i = 0; i < n; i++) {
		if (!a->alerts || !alerts_find(a->alerts, ids[i])) {
			*ret_unknown = ids[i];
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct alert_entry *e = alerts_find(a->alerts, ids[i]);

		if (e->state == state)
			continue;
		if (alerts_set_state(a->alerts, ids[i], state) < 0)
			return -EINVAL;
		log_info("agent: alerts: %s %s -> %s port %u: %s", ids[i], e->src, e->dst,
			 (unsigned) e->port, alert_state_name(state));
		changed++;
	}
	if (changed)
		/* A state is no observation: every alert is saved again. */
		alerts_save_soon(a, INT64_MIN);
	return (int) changed;
}

/* An alert's end: its pod in the enforcement's cluster (@ns the
 * namespace of its workload id), else its address; -ENOENT when neither. */
static int end_of(struct agent *a, const char *id, const char *pod, struct end *e, struct addr *ret)
{
	const char *slash = strchr(id, '/');
	char ns[256];

	if (pod && slash && (size_t) (slash - id) < sizeof(ns)) {
		memcpy(ns, id, (size_t) (slash - id));
		ns[slash - id] = '\0';
		e->pod = cluster_pod_find(a->enf_cluster, ns, pod);
		if (!e->pod || !e->pod->n_ips)
			return -ENOENT;
		*ret = e->pod->ips[0];
	} else {
		char b[ADDR_STR_MAX + 8], *cut;

		(void) snprintf(b, sizeof(b), "%s", id);
		cut = strchr(b, '/');
		if (cut)
			*cut = '\0';
		if (addr_parse(b, ret) < 0)
			return -ENOENT;
		e->pod = NULL;
	}
	(void) snprintf(e->id, sizeof(e->id), "%s", id);
	return 0;
}

size_t agent_alerts_recheck(struct agent *a, agent_alerts_pick_fn *pick)
{
	size_t n = a->alerts && a->enf_cluster ? alerts_count(a->alerts) : 0, changed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct alert_entry *e = alerts_at(a->alerts, i);
		char policy[ALERT_POLICY_MAX + 1], expl[512], id[ALERT_ID_SIZE];
		struct end s, d;
		struct addr sa, da;

		if (e->state != ALERT_OPEN || !pick(a, e) ||
		    end_of(a, e->src, e->src_pod, &s, &sa) < 0 ||
		    end_of(a, e->dst, e->dst_pod, &d, &da) < 0 || sa.family != da.family)
			continue;
		if (explain(a, &s, &d, &sa, &da, e->proto, e->port,
			    e->direction == ALERT_INGRESS ? NETPOL_INGRESS : NETPOL_EGRESS, policy,
			    sizeof(policy), expl, sizeof(expl)) != -ENOENT)
			continue;
		(void) snprintf(id, sizeof(id), "%s", e->id);
		if (alerts_set_state(a->alerts, id, ALERT_ALLOWED) < 0)
			continue;
		log_info("agent: alerts: %s %s -> %s port %u: allowed by the proposal now", id,
			 e->src, e->dst, (unsigned) e->port);
		changed++;
	}
	if (changed)
		alerts_save_soon(a, INT64_MIN);
	return changed;
}

void agent_alerts_json(struct agent *a, struct json_out *w)
{
	size_t n = a->alerts ? alerts_count(a->alerts) : 0;

	json_out_arr_begin(w);
	for (size_t i = 0; i < n; i++)
		alert_json(alerts_at(a->alerts, i), a->enf_cluster, w);
	json_out_arr_end(w);
}
