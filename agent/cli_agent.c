/*
 * bulkhead agent --node NAME [--kubeconfig FILE | --snapshot FILE...]
 *                [--state-dir DIR] [--socket PATH] [--listen ADDR:PORT]
 *                [--interface GLOB]... [--conntrack] [--nflog-group N]
 *                [--config FILE] [--learn-duration D] [--preview-window D]
 *                [--no-enforce] [--policy-mode enforce|preview]
 *                [--cluster] [--namespace NS] [--cluster-interval D]
 *
 * The node daemon (include/agent.h).  Settings come from the defaults,
 * then the --config file, then the command line (include/agent_config.h);
 * the command line's stay through a SIGHUP reload.  Runs until SIGTERM or
 * SIGINT, then exits 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_config.h"
#include "cli.h"
#include "log.h"

enum {
	OPT_NODE = CLI_OPT_BASE,
	OPT_STATE_DIR,
	OPT_SOCKET,
	OPT_LISTEN,
	OPT_INTERFACE,
	OPT_CONNTRACK,
	OPT_NFLOG_GROUP,
	OPT_CONFIG,
	OPT_LEARN_DURATION,
	OPT_PREVIEW_WINDOW,
	OPT_NO_ENFORCE,
	OPT_POLICY_MODE,
	OPT_CLUSTER,
	OPT_NAMESPACE,
	OPT_CLUSTER_INTERVAL,
};

static const struct cli_flag agent_flags[] = {
	{ .name = "node", .arg = "NAME", .id = OPT_NODE, .help = "this node's name (required)" },
	CLI_FLAG_KUBECONFIG,
	CLI_FLAG_CONTEXT,
	{ .name = "snapshot",
	  .arg = "FILE",
	  .id = CLI_OPT_SNAPSHOT,
	  .help = "run on cluster state files instead of the API, reloaded on change (repeatable)" },
	{ .name = "state-dir",
	  .arg = "DIR",
	  .id = OPT_STATE_DIR,
	  .help = "where the state database lives (default: " AGENT_STATE_DIR_DEFAULT ")" },
	{ .name = "socket",
	  .arg = "PATH",
	  .id = OPT_SOCKET,
	  .help = "the control socket, owner-only (default: " AGENT_SOCKET_DEFAULT ")" },
	{ .name = "listen",
	  .arg = "ADDR:PORT",
	  .id = OPT_LISTEN,
	  .help = "the read-only HTTP listener, \"\" for none (default: " AGENT_LISTEN_DEFAULT
		  ")" },
	{ .name = "interface",
	  .arg = "GLOB",
	  .id = OPT_INTERFACE,
	  .help = "learn by capture on the pod interfaces matching this glob (repeatable)" },
	{ .name = "conntrack",
	  .id = OPT_CONNTRACK,
	  .help = "learn from the kernel's conntrack events (NAT undone)" },
	{ .name = "nflog-group",
	  .arg = "N",
	  .id = OPT_NFLOG_GROUP,
	  .help = "the NFLOG group of preview alerts (1..65535)" },
	{ .name = "config",
	  .arg = "FILE",
	  .id = OPT_CONFIG,
	  .help = "settings file (YAML or JSON), read again on SIGHUP" },
	{ .name = "learn-duration",
	  .arg = "DURATION",
	  .id = OPT_LEARN_DURATION,
	  .help = "how long a namespace learns before a proposal (e.g. 24h)" },
	{ .name = "preview-window",
	  .arg = "DURATION",
	  .id = OPT_PREVIEW_WINDOW,
	  .help = "how long a namespace previews before it may enforce (e.g. 48h)" },
	{ .name = "no-enforce",
	  .id = OPT_NO_ENFORCE,
	  .help = "never touch nftables: learn and serve only (config: enforce: false)" },
	{ .name = "policy-mode",
	  .arg = "enforce|preview",
	  .id = OPT_POLICY_MODE,
	  .help = "preview: what the policies deny is logged as an alert and passes "
		  "(default enforce)" },
	{ .name = "cluster",
	  .id = OPT_CLUSTER,
	  .help = "act with the other nodes' agents through the API server: NodeFlows, "
		  "Proposals, PolicyMode (docs/cluster.md)" },
	{ .name = "namespace",
	  .arg = "NS",
	  .id = OPT_NAMESPACE,
	  .help = "the agent's own namespace, where its Lease lives (default: $POD_NAMESPACE, "
		  "else " AGENT_NAMESPACE_DEFAULT ")" },
	{ .name = "cluster-interval",
	  .arg = "DURATION",
	  .id = OPT_CLUSTER_INTERVAL,
	  .help = "with --cluster, write the node's NodeFlows at most this often (default 60s)" },
	CLI_FLAG_HELP,
};

const struct cli_command cli_agent_cmd = {
	.name = "agent",
	.fn = cli_agent,
	.usage = "--node NAME",
	.summary = "the node daemon: enforces the cluster's policies, learns flows",
	.about = "Runs on every node (the DaemonSet): follows the cluster (the API server, or\n"
		 "--snapshot files reloaded when they change), keeps the table inet bulkhead\n"
		 "in step with every NetworkPolicy for the node's pods (needs CAP_NET_ADMIN;\n"
		 "--no-enforce leaves nftables alone), learns flows from the pod interfaces\n"
		 "and conntrack into its state database, and serves /healthz, /readyz,\n"
		 "/metrics and, on the control socket, /status and /alerts. With\n"
		 "--policy-mode preview what the policies would deny passes and becomes a\n"
		 "preview alert (NFLOG, deduplicated per workload pair, port and protocol).\n"
		 "SIGHUP reloads --config; SIGTERM stops it and leaves the table.\n",
	.exit_status = "0 stopped by SIGTERM or SIGINT, 2 bad usage or input, 3 system error",
	.flags = agent_flags,
	.n_flags = BH_ARRAY_SIZE(agent_flags),
};

static int set_str(char **field, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/* Appends @v to a list the command line gives; the list of the defaults
 * (or of an earlier flag) is replaced at the first one. */
static int add_str(char ***v, size_t *n, bool *fresh, const char *s)
{
	char **nv;
	char *d;

	if (!*fresh) {
		for (size_t i = 0; i < *n; i++)
			free((*v)[i]);
		*n = 0;
		*fresh = true;
	}
	d = strdup(s);
	nv = d ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
	if (!nv) {
		free(d);
		return -ENOMEM;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

static int parse_flags(struct agent_config *c, int argc, char **argv, const char **ret_config,
		       struct bh_err *reterr)
{
	bool snaps = false, ifaces = false;
	struct cli_getopt g;
	uint64_t v;
	int id, r = 0;

	cli_getopt_init(&g, &cli_agent_cmd, argc, argv);
	while ((id = cli_getopt_next(&g, reterr)) > 0) {
		switch (id) {
		case OPT_NODE:
			r = set_str(&c->node, g.arg);
			agent_config_mark(c, AGENT_SET_NODE);
			break;
		case CLI_OPT_KUBECONFIG:
			r = set_str(&c->kubeconfig, g.arg);
			agent_config_mark(c, AGENT_SET_KUBECONFIG);
			break;
		case CLI_OPT_CONTEXT:
			r = set_str(&c->context, g.arg);
			agent_config_mark(c, AGENT_SET_CONTEXT);
			break;
		case CLI_OPT_SNAPSHOT:
			r = add_str(&c->snapshots, &c->n_snapshots, &snaps, g.arg);
			agent_config_mark(c, AGENT_SET_SNAPSHOTS);
			break;
		case OPT_STATE_DIR:
			r = set_str(&c->state_dir, g.arg);
			agent_config_mark(c, AGENT_SET_STATE_DIR);
			break;
		case OPT_SOCKET:
			r = set_str(&c->socket, g.arg);
			agent_config_mark(c, AGENT_SET_SOCKET);
			break;
		case OPT_LISTEN:
			if (g.arg[0] && agent_listen_parse(g.arg, NULL, NULL) < 0)
				return cli_usage_err(reterr, "agent",
						     "--listen: expected ADDR:PORT, :PORT or "
						     "[V6]:PORT, got '%s'",
						     g.arg);
			r = set_str(&c->listen, g.arg);
			agent_config_mark(c, AGENT_SET_LISTEN);
			break;
		case OPT_INTERFACE:
			r = add_str(&c->interfaces, &c->n_interfaces, &ifaces, g.arg);
			agent_config_mark(c, AGENT_SET_INTERFACES);
			break;
		case OPT_CONNTRACK:
			c->conntrack = true;
			agent_config_mark(c, AGENT_SET_CONNTRACK);
			break;
		case OPT_NFLOG_GROUP:
			if (cli_parse_u64(g.arg, 1, UINT16_MAX, &v) < 0)
				return cli_usage_err(reterr, "agent",
						     "--nflog-group: expected 1..65535, got '%s'",
						     g.arg);
			c->nflog_group = (uint16_t) v;
			agent_config_mark(c, AGENT_SET_NFLOG_GROUP);
			break;
		case OPT_NO_ENFORCE:
			c->enforce = false;
			agent_config_mark(c, AGENT_SET_ENFORCE);
			break;
		case OPT_POLICY_MODE:
			if (strcmp(g.arg, "enforce") != 0 && strcmp(g.arg, "preview") != 0)
				return cli_usage_err(reterr, "agent",
						     "--policy-mode: expected enforce or preview, "
						     "got '%s'",
						     g.arg);
			c->policy_preview = strcmp(g.arg, "preview") == 0;
			agent_config_mark(c, AGENT_SET_POLICY_MODE);
			break;
		case OPT_CLUSTER:
			c->cluster = true;
			agent_config_mark(c, AGENT_SET_CLUSTER);
			break;
		case OPT_NAMESPACE:
			if (!g.arg[0])
				return cli_usage_err(reterr, "agent",
						     "--namespace: expected a name");
			r = set_str(&c->ns, g.arg);
			agent_config_mark(c, AGENT_SET_NAMESPACE);
			break;
		case OPT_CLUSTER_INTERVAL:
			r = cli_parse_duration("agent", "--cluster-interval", g.arg, 1, 86400ULL,
					       &c->cluster_interval_s, reterr);
			if (r < 0)
				return r;
			agent_config_mark(c, AGENT_SET_CLUSTER_INTERVAL);
			break;
		case OPT_CONFIG:
			*ret_config = g.arg;
			break;
		case OPT_LEARN_DURATION:
			r = cli_parse_duration("agent", "--learn-duration", g.arg, 1,
					       366 * 86400ULL, &c->learn_duration_s, reterr);
			if (r < 0)
				return r;
			agent_config_mark(c, AGENT_SET_LEARN_DURATION);
			break;
		case OPT_PREVIEW_WINDOW:
			r = cli_parse_duration("agent", "--preview-window", g.arg, 1,
					       366 * 86400ULL, &c->preview_window_s, reterr);
			if (r < 0)
				return r;
			agent_config_mark(c, AGENT_SET_PREVIEW_WINDOW);
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
		if (r < 0)
			return bh_err_oom(reterr);
	}
	return id;
}

int cli_agent(int argc, char **argv, struct bh_err *reterr)
{
	const char *config = NULL;
	struct agent_config c;
	struct agent *a = NULL;
	int r;

	log_set_component("agent");
	if (agent_config_init(&c) < 0)
		return bh_err_oom(reterr);
	/* The global --log-level wins over the file, as a flag does. */
	if (log_max_level != LOG_NOTICE) {
		c.log_level = log_max_level;
		agent_config_mark(&c, AGENT_SET_LOG_LEVEL);
	}
	r = parse_flags(&c, argc, argv, &config, reterr);
	if (r == 0 && config)
		r = agent_config_load(&c, config, reterr);
	if (r == 0 && !c.node)
		r = cli_usage_err(reterr, "agent", "--node: expected this node's name");
	if (r == 0 && c.cluster && c.n_snapshots)
		r = cli_usage_err(reterr, "agent",
				  "--cluster: needs the API server, not --snapshot files");
	if (r == 0)
		r = agent_new(&c, config, &a, reterr);
	if (r == 0)
		r = agent_run(a, reterr);
	agent_free(a);
	agent_config_done(&c);
	return r < 0 ? r : BH_EXIT_OK;
}
