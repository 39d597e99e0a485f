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
#include "state_db.h"

struct agent;
struct cluster;

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
	enum netpol_dir by_dir;
	size_t by_rule;
};

struct rns {
	const char *name; /* borrowed */
	enum state_db_mode_kind mode;
	const struct state_db_mode *stored; /* its own or the cluster's */
	size_t workloads, flows, uncovered, alerts, open;
};

struct report {
	struct agent *a;
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
};

/* agent_report_json.c: the sections, in the schema's order. */
void report_write_head(struct report *rp, struct json_out *w);
void report_write_namespaces(struct report *rp, struct json_out *w);
void report_write_workloads(struct report *rp, struct json_out *w);
void report_write_flows(struct report *rp, struct json_out *w);
void report_write_alerts(struct report *rp, struct json_out *w);
/* 0, or -ENOMEM (a policy's YAML). */
int report_write_policies(struct report *rp, struct json_out *w);

#endif
