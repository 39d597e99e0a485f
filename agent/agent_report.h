/*
 * The report's parts (agent-private): agent_report.c gathers what the
 * agent holds into a struct report (the sections, each namespace's
 * counts), agent_report_json.c writes it with the streaming writer.
 * agent_report.c calls agent_report_json.c, never the other way.
 */
#ifndef BH_AGENT_REPORT_H
#define BH_AGENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "alerts.h"
#include "hmap.h"
#include "json_out.h"
#include "labels.h"
#include "netpol.h"
#include "propose.h"
#include "state_db.h"

struct agent;
struct cluster;
struct engine;
struct engine_ep;
struct flow_set;
struct flow_table;
struct identity;

/*
 * What a report is made of, whoever holds it: the agent fills it from
 * itself (agent_report_write()), `bulkhead export` on a cluster from the
 * API objects (agent/cli_cluster_export.c).  Everything is borrowed.
 */
struct report_src {
	struct cluster *c; /* NULL before the first sync */
	/* The flows: the learner's table, each end resolved through @id as
	 * the checkpoints resolve it, and the records of @set, each end
	 * named by its own peer (flows.json).  Either may be NULL. */
	const struct flow_table *table;
	const struct identity *id;
	const struct flow_set *set;
	const struct alerts *alerts; /* may be NULL */
	/* The stages, by scope ("" the cluster's, a namespace, or a
	 * workload "NS/KIND/NAME", left out of the namespaces). */
	const struct state_db_mode *modes;
	size_t n_modes;
	/* The head (docs/report.md) */
	const char *cluster_name;
	bool from_snapshot; /* cluster.source "snapshot", else "api" */
	bool api_connected; /* cluster.api */
	int64_t last_sync; /* 0: null */
	const char *node; /* node.name */
	const char *const *nodes; /* the cluster report's nodes, NULL: none */
	size_t n_nodes;
	int64_t started; /* a learning window's start without a stored one */
	uint64_t learn_duration_s, preview_window_s;
	bool auto_promote;
	const char *enf_digest; /* "" none */
	int64_t enf_last; /* 0: null */
	const char *enf_err; /* "" none */
};

#define REPORT_NONE ((size_t) -1)

struct rwl {
	char *id, *ns, *kind, *name; /* owned */
	struct labels labels; /* the stable labels every pod carries */
	size_t *pods, n_pods, cap_pods; /* cluster pod indexes */
};

struct redge {
	char *key; /* "SRC\nDST\nPORT\nPROTO", owned: the map's key */
	char *src, *dst; /* peers: workload ids or CIDRs, owned */
	bool src_wl, dst_wl;
	char *src_pod, *dst_pod; /* of the first flow, owned, NULL none */
	uint16_t port;
	uint8_t proto;
	uint64_t count;
	int64_t first, last;
	struct addr src_addr, dst_addr; /* a flow of the edge */
	size_t src_pidx, dst_pidx; /* its pods in the cluster, REPORT_NONE */
	char id[ALERT_ID_SIZE];
	const char *state;
	/* allowedBy, when a policy allows it */
	const struct netpol *by;
	bool by_proposal; /* @by is a proposed policy, not an existing one */
	enum netpol_dir by_dir;
	size_t by_rule;
};

/*
 * The stored proposals a report shows (docs/report.md, "proposals[]"),
 * read on the loop before the report's child is forked: the child must
 * not use the loop's database connection (SQLite connections do not
 * survive fork()), and the proposals are small next to what the child
 * reads.  The JSON texts as stored (the List propose writes), namespace
 * scopes first, the cluster scope last.
 */
struct report_stored {
	size_t n;
	char **scope; /* owned */
	char **json; /* owned */
};

/* One rule of a proposed policy: the edges (indexes) that justify it. */
struct rrule {
	size_t *edges, n, cap;
};

/* One proposed policy the report shows, with its rules' flows. */
struct rpol {
	const struct proposal_policy *pp; /* borrowed from report->props */
	struct rrule *rules[_NETPOL_DIR_MAX]; /* owned, one per rule */
};

struct rns {
	const char *name; /* borrowed */
	enum state_db_mode_kind mode;
	const struct state_db_mode *stored; /* its own or the cluster's */
	size_t workloads, flows, uncovered, alerts, open;
};

struct report {
	const struct report_src *src;
	struct cluster *c; /* NULL before the first sync */
	int64_t now;
	struct rwl *wl;
	size_t n_wl, cap_wl;
	struct hmap wl_by_id;
	size_t *wl_of_pod; /* cluster pod index -> workload */
	struct redge *e;
	size_t n_e, cap_e;
	struct hmap e_by_key, e_by_id;
	struct rns *ns;
	size_t n_ns, cap_ns;
	struct hmap ns_by_name;
	/* proposals (agent_report_proposals.c) */
	const struct report_stored *stored; /* borrowed, may be NULL */
	struct proposal *props; /* owned: each stored proposal decoded */
	size_t n_props;
	struct rpol *pol; /* owned, sorted by (namespace, name) */
	size_t n_pol;
};

/*
 * Writes the report of @src (docs/report.md, schema version 1) into @w:
 * 0, or -ENOMEM.  @stored: the proposals to show (may be NULL).
 */
int report_write(const struct report_src *src, const struct report_stored *stored, int64_t now,
		 struct json_out *w);

/* agent_report_json.c: the sections, in the schema's order. */
void report_write_head(struct report *rp, struct json_out *w);
void report_write_namespaces(struct report *rp, struct json_out *w);
void report_write_workloads(struct report *rp, struct json_out *w);
void report_write_flows(struct report *rp, struct json_out *w);
void report_write_alerts(struct report *rp, struct json_out *w);
/* 0, or -ENOMEM (a policy's YAML). */
int report_write_policies(struct report *rp, struct json_out *w);

/* agent_report_proposals.c.  On the loop: the stored proposals of every
 * scope that has one (the cluster's, each namespace of the cluster or of
 * a stored mode).  0, -ENOMEM or the database's -errno. */
int report_stored_load(struct agent *a, struct report_stored *ret);
void report_stored_done(struct report_stored *s);
/* In the report: rp->stored decoded into rp->props and rp->pol (a
 * namespace's own proposal before the cluster scope's policies of that
 * namespace).  A proposal that does not decode is left out, logged at
 * debug.  0 or -ENOMEM. */
int report_proposals_gather(struct report *rp);
/* Edge @i with its endpoints @s and @d (of @eng, over rp->c): the rules
 * that allow it get it as a justifying flow, and an "uncovered" edge the
 * proposal allows (every isolated side allowed by a rule) becomes
 * "allowed-by-proposal" ("enforced" in a namespace in enforce).  0 or
 * -ENOMEM. */
int report_proposals_judge(struct report *rp, struct engine *eng, size_t i,
			   const struct engine_ep *s, const struct engine_ep *d);
/* The proposals[] section.  0 or -ENOMEM. */
int report_write_proposals(struct report *rp, struct json_out *w);
void report_proposals_done(struct report *rp);

#endif
