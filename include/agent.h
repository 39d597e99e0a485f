/*
 * The node daemon (`bulkhead agent`): one process, one event loop
 * (include/loop.h) over the cluster source (snapshot files watched with
 * inotify, or the Kubernetes API cache), the live learning sources (pod
 * interfaces followed as they come and go, conntrack), the HTTP server on
 * the control socket and the TCP listener, timers and signals.
 *
 * What it does at this stage: keeps table inet bulkhead in step with
 * every NetworkPolicy of the cluster for the node's pods (enforce mode;
 * the table already in the kernel adopted at start; off with
 * --no-enforce), learns flows into a bounded flow table, resolves their
 * ends to pods and workloads, checkpoints them into the state database
 * (DIR/state.db) and restores them at start, and serves /healthz,
 * /readyz, /status and /metrics (docs/agent-api.md).
 *
 * Signals: SIGTERM and SIGINT stop it (a last checkpoint is written; the
 * kernel's table is left as it is); SIGHUP reads the --config file again.
 */
#ifndef BH_AGENT_H
#define BH_AGENT_H

#include "agent_config.h"
#include "err.h"

struct agent;

/*
 * Builds the agent from @cfg (checked with agent_config_check(); moved
 * into the agent: @cfg is left empty) and @config_path (the --config file
 * for SIGHUP, copied; may be NULL): opens the state database, loads the
 * cluster, starts learning and the HTTP listeners.  Errors name what
 * failed (input: the configuration or a snapshot file; system: the state
 * directory, the socket, the port).
 */
int agent_new(struct agent_config *cfg, const char *config_path, struct agent **ret,
	      struct bh_err *reterr);
/*
 * Runs the loop until SIGTERM or SIGINT (0) or a fatal failure (-errno
 * with @reterr).
 */
int agent_run(struct agent *a, struct bh_err *reterr);
/* Stops everything, writing a last checkpoint.  NULL-safe; returns NULL. */
struct agent *agent_free(struct agent *a);

/* The TCP port the listener bound (--listen with port 0), 0 without. */
unsigned agent_tcp_port(const struct agent *a);

#endif
