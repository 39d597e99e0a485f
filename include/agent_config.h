/*
 * The agent's settings (`bulkhead agent`): the defaults, then a
 * configuration file (`--config FILE`), then the command line, each
 * overriding the one before.
 *
 * The file is one YAML (or JSON) mapping, typed as kubectl types YAML, so a
 * ConfigMap's data can be mounted as it is:
 *
 *     apiVersion: bulkhead.io/v1alpha1     # optional; checked when given
 *     kind: AgentConfig                    # optional; checked when given
 *     node: node-1
 *     kubeconfig: /etc/bulkhead/kubeconfig # or snapshots: [a.yaml, b.yaml]
 *     stateDir: /var/lib/bulkhead
 *     socket: /run/bulkhead/agent.sock
 *     listen: ":9464"                      # "" turns the TCP listener off
 *     interfaces: ["cali*", "veth*"]
 *     conntrack: true
 *     nflogGroup: 16968
 *     enforce: true                        # false: learn only, no nftables
 *     policyMode: enforce                  # preview: what the policies deny
 *                                          # is logged as an alert and passes
 *     learnDuration: 24h                   # seconds, or 90s, 10m, 24h, 1h30m
 *     previewWindow: 48h
 *     autoPromote: false
 *     maxFlows: 1000000
 *     maxAlerts: 10000
 *     checkpointInterval: 60s
 *     logLevel: info                       # debug, info, notice, warning, err
 *     logFormat: text                      # text or json
 *     cluster: false                       # true: coordinate through the API
 *                                          # server (docs/cluster.md)
 *     namespace: bulkhead-system           # the agent's own (the Lease);
 *                                          # default $POD_NAMESPACE
 *     clusterInterval: 60s                 # NodeFlows written at most this often
 *     leaseDuration: 15s
 *     leaseRenew: 5s
 *
 * A key that is not one of these is an error naming it (a typo must not
 * leave a setting at its default unnoticed), as is a value of the wrong
 * type; nothing is changed then.  SIGHUP reads the file again
 * (agent_config_reload()): settings given on the command line keep their
 * value, and the caller learns which settings changed and which of those
 * need a restart to take effect.
 */
#ifndef BH_AGENT_CONFIG_H
#define BH_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

#define AGENT_STATE_DIR_DEFAULT "/var/lib/bulkhead"
#define AGENT_SOCKET_DEFAULT "/run/bulkhead/agent.sock"
#define AGENT_LISTEN_DEFAULT ":9464"
#define AGENT_NAMESPACE_DEFAULT "bulkhead-system"
#define AGENT_CONFIG_MAX (1u << 20) /* bytes of a configuration file */

/* One bit per setting, for agent_config_mark() and the reload's report. */
enum agent_setting {
	AGENT_SET_NODE,
	AGENT_SET_KUBECONFIG,
	AGENT_SET_CONTEXT,
	AGENT_SET_SNAPSHOTS,
	AGENT_SET_STATE_DIR,
	AGENT_SET_SOCKET,
	AGENT_SET_LISTEN,
	AGENT_SET_INTERFACES,
	AGENT_SET_CONNTRACK,
	AGENT_SET_NFLOG_GROUP,
	AGENT_SET_LEARN_DURATION,
	AGENT_SET_PREVIEW_WINDOW,
	AGENT_SET_AUTO_PROMOTE,
	AGENT_SET_MAX_FLOWS,
	AGENT_SET_MAX_ALERTS,
	AGENT_SET_CHECKPOINT_INTERVAL,
	AGENT_SET_LOG_LEVEL,
	AGENT_SET_LOG_FORMAT,
	AGENT_SET_ENFORCE,
	AGENT_SET_POLICY_MODE,
	AGENT_SET_CLUSTER,
	AGENT_SET_NAMESPACE,
	AGENT_SET_CLUSTER_INTERVAL,
	AGENT_SET_LEASE_DURATION,
	AGENT_SET_LEASE_RENEW,
	AGENT_SET_COUNT,
};

struct agent_config {
	char *node;
	char *kubeconfig; /* NULL: in-cluster, unless snapshots are given */
	char *context;
	char **snapshots;
	size_t n_snapshots;
	char *state_dir;
	char *socket;
	char *listen; /* "ADDR:PORT", ":PORT", "[V6]:PORT", or "" for none */
	char **interfaces; /* globs */
	size_t n_interfaces;
	bool conntrack;
	uint16_t nflog_group;
	/* Keep table inet bulkhead in step with the cluster (the default);
	 * false: the agent never touches nftables (learning only). */
	bool enforce;
	/* policyMode: how the cluster's NetworkPolicies are applied: false
	 * "enforce" (what they deny is dropped, the default), true "preview"
	 * (it is logged to NFLOG, becomes an alert, and passes). */
	bool policy_preview;
	uint64_t learn_duration_s;
	uint64_t preview_window_s;
	bool auto_promote;
	uint64_t max_flows;
	uint64_t max_alerts;
	uint64_t checkpoint_interval_s;
	/* cluster: coordinate with the other nodes' agents through the API
	 * server (NodeFlows, the proposer Lease, PolicyMode and Proposal
	 * objects: docs/cluster.md) instead of the node-local lifecycle. */
	bool cluster;
	char *ns; /* the agent's own namespace (the Lease); never NULL */
	uint64_t cluster_interval_s; /* NodeFlows written at most this often */
	uint64_t lease_duration_s, lease_renew_s;
	int log_level; /* LOG_ERR .. LOG_DEBUG */
	bool log_json;
	/* Settings given on the command line (bits of enum agent_setting):
	 * a reload keeps them. */
	uint32_t from_cli;
};

/* The defaults: 0 or -ENOMEM. */
int agent_config_init(struct agent_config *c) BH_MUST_CHECK;
/* NULL-safe; frees every string and list, leaves @c empty. */
void agent_config_done(struct agent_config *c);
/* A deep copy; 0 or -ENOMEM (@dst untouched then). */
int agent_config_copy(struct agent_config *dst, const struct agent_config *src) BH_MUST_CHECK;

/*
 * Applies the settings of configuration text @data (@len bytes; @name, the
 * file, for messages) onto @c, except those marked in c->from_cli.  Input
 * error naming the file and key ("config 'F': learnDuration: expected ...",
 * or the line and column for malformed YAML); @c is unchanged on error.
 */
int agent_config_parse(struct agent_config *c, const char *data, size_t len, const char *name,
		       struct bh_err *reterr) BH_MUST_CHECK;
/* agent_config_parse() of file @path (at most AGENT_CONFIG_MAX bytes). */
int agent_config_load(struct agent_config *c, const char *path,
		      struct bh_err *reterr) BH_MUST_CHECK;

/* Records that the command line set @s (a reload keeps its value). */
void agent_config_mark(struct agent_config *c, enum agent_setting s);

/*
 * Checks the whole: a node name; --kubeconfig/--context and snapshots
 * exclusive; a listen address that parses; paths absolute where a daemon
 * needs them.  Input error naming the setting.
 */
int agent_config_check(const struct agent_config *c, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * SIGHUP: the defaults, the file @path, then every setting of @cur that
 * the command line gave, into @ret; @ret_changed gets the settings whose
 * value differs from @cur's.  On error @ret is untouched and @cur stays in
 * force.
 */
int agent_config_reload(const struct agent_config *cur, const char *path, struct agent_config *ret,
			uint32_t *ret_changed, struct bh_err *reterr) BH_MUST_CHECK;

/* Parses a listen address ("ADDR:PORT", ":PORT" for every address,
 * "[V6]:PORT"; numeric only) into @ret (may be NULL to only check);
 * -EINVAL when malformed. */
int agent_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* The settings that only take effect at a restart (the node, where state,
 * socket and listener live, the cluster source). */
uint32_t agent_config_restart_needed(uint32_t changed);
/* The file's key for setting @s ("learnDuration"). */
const char *agent_setting_key(enum agent_setting s);

#endif
