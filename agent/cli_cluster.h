/*
 * The verbs that act on the whole cluster from a workstation
 * (docs/cluster.md, "Commands from a workstation"): enforce, preview,
 * relearn, alerts, allow, proposal and export read and write Bulkhead's
 * objects (NodeFlows, Proposal, PolicyMode) through the API server only.
 *
 * Which target a verb acts on (cli_cluster_choose()):
 *   - --socket PATH: the local agent, as on a node (today's behaviour);
 *   - --kubeconfig FILE, --context NAME or --cluster: the cluster;
 *   - none of them: the cluster when $KUBECONFIG is set or in a pod
 *     (KUBERNETES_SERVICE_HOST), else the local agent at its default
 *     socket.  ~/.kube/config alone does not switch a node's command to
 *     the cluster; --cluster uses it.
 * --socket together with one of the cluster flags is a usage error.
 *
 * agent-private; blocking (CLI only).
 */
#ifndef BH_AGENT_CLI_CLUSTER_H
#define BH_AGENT_CLI_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "kube_client.h"
#include "kube_config.h"

/* The flags of the cluster form; each command gives them ids of its own. */
#define CLI_FLAG_CLUSTER_KUBECONFIG(ID)                                                \
	{                                                                              \
		.name = "kubeconfig", .arg = "FILE", .id = (ID),                       \
		.help = "act on the cluster through the API server of this kubeconfig" \
	}
#define CLI_FLAG_CLUSTER_CONTEXT(ID)                                               \
	{                                                                          \
		.name = "context", .arg = "NAME", .id = (ID),                      \
		.help = "the kubeconfig context to use (default: current-context)" \
	}
#define CLI_FLAG_CLUSTER(ID)                                                                  \
	{                                                                                     \
		.name = "cluster", .id = (ID),                                                \
		.help = "act on the cluster, configured as kubectl is (without --kubeconfig)" \
	}

/* The target flags as parsed; every string is borrowed from argv. */
struct cli_target {
	const char *socket; /* --socket, NULL when not given */
	const char *kubeconfig; /* --kubeconfig */
	const char *context; /* --context */
	bool cluster; /* --cluster */
};

/*
 * The target's flags, for a command whose ids for --socket, --kubeconfig,
 * --context and --cluster are @first and the three after it: 1 when @id
 * is one of them (@t now says so, @arg its value), else 0.
 */
int cli_target_opt(struct cli_target *t, int first, int id, const char *arg);

/*
 * Decides the target as the header says: 1 for the cluster, 0 for the
 * local agent, or a usage error (-EINVAL) naming @cmd when --socket comes
 * with a cluster flag.
 */
int cli_cluster_choose(const struct cli_target *t, const char *cmd, struct bh_err *reterr);

/* A connection to the API server for one command. */
struct cli_kube {
	const char *cmd; /* for messages */
	struct kube_config *cfg;
	struct kube_client *client;
};

/*
 * Finds the configuration (kube_config_find() with @t's --kubeconfig and
 * --context) and makes a client.  Input error when none is found or the
 * kubeconfig is wrong.  Release with cli_kube_done() (also after a
 * failure).
 */
int cli_kube_open(struct cli_kube *k, const char *cmd, const struct cli_target *t,
		  struct bh_err *reterr);
void cli_kube_done(struct cli_kube *k);

/*
 * GET @path, a JSON object, into *@ret (new reference).  -ENOENT on 404
 * (nothing filled), a system error naming the server on a transport
 * failure or any other status (the server's message), -EBADMSG when the
 * answer is no JSON object.
 */
int cli_kube_get(struct cli_kube *k, const char *path, json_t **ret, struct bh_err *reterr);

/*
 * The items (new reference, an array) of Bulkhead's @resource
 * (CLUSTER_*_RESOURCE) in every namespace.  A resource the server does
 * not know (404: its CustomResourceDefinition is not installed, or no
 * object was ever made in the test server) is an empty list.
 */
int cli_kube_list(struct cli_kube *k, const char *resource, json_t **ret, struct bh_err *reterr);

/* Bulkhead's collection @resource (cluster-scoped when @ns is NULL). */
struct kube_ref;
void cli_kube_ref(struct kube_ref *ref, const char *resource, const char *ns);

/* The string at @key of object @o, or "" (never NULL). */
const char *cli_json_str(json_t *o, const char *key);

/*
 * The effective stage of namespace @ns (docs/cluster.md): "learn",
 * "preview" or "enforce", from the Proposal items @proposals and the
 * PolicyMode items @modes (arrays of objects).  When @ret_mode is not NULL
 * it receives the deciding PolicyMode (borrowed, NULL when none).
 */
const char *cli_cluster_stage(json_t *proposals, json_t *modes, const char *ns, json_t **ret_mode);

/* An RFC 3339 time as milliseconds since the epoch (the fraction kept to
 * the millisecond); -1 when empty or malformed. */
int64_t cli_cluster_time_ms(const char *s);

/* Whether namespace @ns has a Proposal object among @proposals. */
bool cli_cluster_has_proposal(json_t *proposals, const char *ns);
/* The item of @items (a JSON array of objects) whose metadata.name is
 * @name (the first), or NULL. */
json_t *cli_item_find(json_t *items, const char *name);

/* Runs a cluster verb (agent/cli_cluster_stage.c): enforce, preview or
 * relearn, with the namespaces @ns (@n of them) or @all. */
struct cli_stage_req {
	const char *cmd; /* "enforce", "preview", "relearn" */
	const char *stage; /* "enforce", "preview", "learn" */
	const char *const *ns;
	size_t n;
	bool all, force;
	unsigned timeout_s;
	const struct cli_target *target;
};
int cli_cluster_stage_run(const struct cli_stage_req *q, struct bh_err *reterr);

/* The cluster forms of proposal (agent/cli_cluster_proposal.c: @ns NULL
 * for every namespace, @json the output format) and allow
 * (agent/cli_cluster_allow.c: the alert ids @ids).  alerts' is in
 * agent/cli_alerts.c, next to its printer. */
int cli_cluster_proposal(const struct cli_target *t, const char *ns, bool json,
			 struct bh_err *reterr);
int cli_cluster_allow(const struct cli_target *t, char *const *ids, size_t n,
		      struct bh_err *reterr);
/* The cluster report into file @out ("-": stdout), replaced atomically
 * (agent/cli_cluster_export.c). */
int cli_cluster_export(const struct cli_target *t, const char *out, struct bh_err *reterr);

#endif
