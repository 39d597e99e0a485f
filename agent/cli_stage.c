/*
 * The lifecycle's switches on the local agent (docs/lifecycle.md):
 *
 *   bulkhead enforce [--namespace NS... | --all | --workload NS/KIND/NAME...]
 *                    [--force] [--socket PATH]
 *   bulkhead preview [--namespace NS... | --all | --workload NS/KIND/NAME...]
 *                    [--socket PATH]
 *   bulkhead relearn --namespace NS... [--socket PATH]
 *
 * With --kubeconfig FILE, --context NAME or --cluster (or $KUBECONFIG set,
 * or in a pod) and no --socket, each acts on the cluster instead
 * (agent/cli_cluster_stage.c; the choice: cli_cluster.h), waiting at most
 * --timeout D (default 60s) for every agent.
 *
 * Each is one POST /stage on the control socket; the agent writes the
 * stages to its state database, then changes the kernel in one batch.
 * What switched is printed, one line per namespace ("namespace shop:
 * preview -> enforce", or "workload shop/Deployment/api: preview ->
 * enforce" with --workload: one workload's override of its namespace's
 * stage), then those already there and those --all skipped (still
 * learning).
 *
 * Exit 0 done, 2 bad usage, an unknown namespace or workload, open alerts
 * (named) or a namespace with no proposal yet (or, with --workload, not in
 * preview or enforce), 3 no agent answering.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"

/* The agent answers from memory and one batch: past this it is hung. */
#define STAGE_TIMEOUT_MS 30000L
#define STAGE_BODY_MAX (64u * 1024u * 1024u)
/* At most this many --namespace flags. */
#define STAGE_NS_MAX 256

enum {
	/* --socket, --kubeconfig, --context, --cluster: in this order
	 * (cli_target_opt()) */
	OPT_SOCKET = CLI_OPT_BASE,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_CLUSTER,
	OPT_NAMESPACE,
	OPT_ALL,
	OPT_FORCE,
	OPT_WORKLOAD,
	OPT_TIMEOUT,
};

/* The cluster form waits this long for every agent by default. */
#define STAGE_CLUSTER_TIMEOUT_S 60
#define FLAG_TIMEOUT                                                                    \
	{                                                                               \
		.name = "timeout", .arg = "D", .id = OPT_TIMEOUT,                       \
		.help = "on a cluster: how long to wait for every agent (default: 60s)" \
	}
#define FLAGS_CLUSTER                                                                       \
	CLI_FLAG_CLUSTER_KUBECONFIG(OPT_KUBECONFIG), CLI_FLAG_CLUSTER_CONTEXT(OPT_CONTEXT), \
		CLI_FLAG_CLUSTER(OPT_CLUSTER), FLAG_TIMEOUT

#define FLAG_NAMESPACE(HELP)                                                        \
	{                                                                           \
		.name = "namespace", .arg = "NS", .id = OPT_NAMESPACE, .help = HELP \
	}
#define FLAG_WORKLOAD(HELP)                                                                 \
	{                                                                                   \
		.name = "workload", .arg = "NS/KIND/NAME", .id = OPT_WORKLOAD, .help = HELP \
	}
#define FLAG_ALL(HELP)                                     \
	{                                                  \
		.name = "all", .id = OPT_ALL, .help = HELP \
	}

static const struct cli_flag enforce_flags[] = {
	FLAG_NAMESPACE("switch this namespace to enforce (repeatable)"),
	FLAG_ALL("switch every namespace with a proposal to enforce"),
	FLAG_WORKLOAD("switch only this workload's proposal policies to enforce (repeatable)"),
	{ .name = "force",
	  .id = OPT_FORCE,
	  .help = "switch even with open alerts, or a namespace learning again" },
	CLI_FLAG_SOCKET(OPT_SOCKET),
	FLAGS_CLUSTER,
	CLI_FLAG_HELP,
};

static const struct cli_flag preview_flags[] = {
	FLAG_NAMESPACE("switch this namespace back to preview (repeatable)"),
	FLAG_ALL("switch every namespace with a proposal to preview"),
	FLAG_WORKLOAD("switch only this workload's proposal policies back to preview "
		      "(repeatable)"),
	CLI_FLAG_SOCKET(OPT_SOCKET),
	FLAGS_CLUSTER,
	CLI_FLAG_HELP,
};

static const struct cli_flag relearn_flags[] = {
	FLAG_NAMESPACE("start this namespace's learning again (repeatable)"),
	CLI_FLAG_SOCKET(OPT_SOCKET),
	FLAGS_CLUSTER,
	CLI_FLAG_HELP,
};

static int cli_stage(int argc, char **argv, struct bh_err *reterr);

const struct cli_command cli_enforce_cmd = {
	.name = "enforce",
	.fn = cli_stage,
	.usage = "(--namespace NS | --all | --workload NS/KIND/NAME)",
	.summary = "switch namespaces to enforce (drop), on this node or the cluster",
	.about = "Switches namespaces on the agent of this node from preview to enforce: what\n"
		 "their proposal denies is dropped from now on.  Refused while alerts of\n"
		 "those namespaces are open (it names them: 'bulkhead dismiss' them, or\n"
		 "--force), and for a namespace with no proposal yet; --all skips those\n"
		 "still learning.  Prints each namespace switched and from what.\n"
		 "--workload switches one workload of a namespace in preview or enforce\n"
		 "(its proposal policies, those propose wrote for it) on its own, until\n"
		 "the namespace itself switches.\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket: docs/cluster.md) it writes the PolicyMode of the\n"
		 "namespace (or 'all') once and waits, up to --timeout, until every node's\n"
		 "agent reports the new stage in its NodeFlows.\n",
	.exit_status = "0 switched, 2 bad usage, an unknown namespace, open alerts or no "
		       "proposal yet, 3 system error (no agent answering, no API server), 4 "
		       "timed out (names the nodes whose agent did not report)",
	.flags = enforce_flags,
	.n_flags = BH_ARRAY_SIZE(enforce_flags),
};

const struct cli_command cli_preview_cmd = {
	.name = "preview",
	.fn = cli_stage,
	.usage = "(--namespace NS | --all | --workload NS/KIND/NAME)",
	.summary = "switch namespaces back to preview (the rollback), here or on the cluster",
	.about = "Switches namespaces on the agent of this node to preview: what their\n"
		 "proposal would deny passes again and becomes an alert.  Refused for a\n"
		 "namespace with no proposal yet; --all skips those still learning.\n"
		 "Prints each namespace switched and from what.  --workload switches one\n"
		 "workload of a namespace in preview or enforce on its own.\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket: docs/cluster.md) it writes the PolicyMode of the\n"
		 "namespace (or 'all') once and waits, up to --timeout, until every node's\n"
		 "agent reports the new stage in its NodeFlows.\n",
	.exit_status = "0 switched, 2 bad usage, an unknown namespace or no proposal yet, 3 "
		       "system error (no agent answering, no API server), 4 timed out (names "
		       "the nodes whose agent did not report)",
	.flags = preview_flags,
	.n_flags = BH_ARRAY_SIZE(preview_flags),
};

const struct cli_command cli_relearn_cmd = {
	.name = "relearn",
	.fn = cli_stage,
	.usage = "--namespace NS",
	.summary = "start a namespace's learning again, locally or on the cluster",
	.about = "Starts the learning window of each namespace again on the agent of this\n"
		 "node: its proposal policies leave the kernel at once, and a new proposal\n"
		 "is made from every flow learned when the window ends.  The last proposal\n"
		 "is kept until then (a forced 'bulkhead enforce' can still take it).\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket: docs/cluster.md) it writes the PolicyMode of the\n"
		 "namespace (or 'all') once and waits, up to --timeout, until every node's\n"
		 "agent reports the new stage in its NodeFlows.\n",
	.exit_status = "0 switched, 2 bad usage or an unknown namespace, 3 system error (no "
		       "agent answering, no API server), 4 timed out (names the nodes whose "
		       "agent did not report)",
	.flags = relearn_flags,
	.n_flags = BH_ARRAY_SIZE(relearn_flags),
};

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "?";
}

/* The agent's answer to POST /stage, printed (@what: "namespace" or
 * "workload", what was asked for). */
static void print_answer(json_t *ans, const char *what)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(ans, "switched"), i, e)
		printf("%s %s: %s -> %s\n", what, str(e, what), str(e, "from"), str(e, "to"));
	json_array_foreach(json_object_get(ans, "unchanged"), i, e)
		printf("%s %s: already in %s\n", what, json_string_value(e), str(ans, "stage"));
	json_array_foreach(json_object_get(ans, "skipped"), i, e)
		printf("namespace %s: skipped: %s\n", str(e, "namespace"), str(e, "why"));
}

static int cli_stage(int argc, char **argv, struct bh_err *reterr)
{
	const char *cmd = argv[0], *ns[STAGE_NS_MAX];
	const struct cli_command *c = strcmp(cmd, "enforce") == 0 ? &cli_enforce_cmd :
				      strcmp(cmd, "preview") == 0 ? &cli_preview_cmd :
								    &cli_relearn_cmd;
	const char *stage = strcmp(cmd, "relearn") == 0 ? "learn" : cmd;
	struct cli_agent_req q = {
		.cmd = cmd,
		.sock = CLI_AGENT_SOCKET_DEFAULT,
		.path = "/stage",
		.timeout_ms = STAGE_TIMEOUT_MS,
	};
	json_t *req = NULL, *list = NULL, *ans = NULL;
	struct cli_agent_answer res;
	struct cli_target t = { 0 };
	uint64_t timeout_s = STAGE_CLUSTER_TIMEOUT_S;
	struct cli_getopt g;
	bool all = false, force = false, wl = false, timeout_set = false;
	char *text = NULL;
	size_t n = 0, nwl = 0;
	json_error_t jerr;
	struct buf body;
	int o, r;

	cli_getopt_init(&g, c, argc, argv);
	while ((o = cli_getopt_next(&g, reterr)) > 0) {
		switch (o) {
		case OPT_TIMEOUT:
			r = cli_parse_duration(cmd, "--timeout", g.arg, 1, 86400, &timeout_s,
					       reterr);
			if (r < 0)
				return r;
			timeout_set = true;
			break;
		case OPT_NAMESPACE:
			if (n == STAGE_NS_MAX)
				return cli_usage_err(reterr, cmd, "--namespace: more than %d",
						     STAGE_NS_MAX);
			if (!g.arg[0])
				return cli_usage_err(reterr, cmd, "--namespace: expected a name");
			ns[n++] = g.arg;
			break;
		case OPT_WORKLOAD:
			if (n == STAGE_NS_MAX)
				return cli_usage_err(reterr, cmd, "--workload: more than %d",
						     STAGE_NS_MAX);
			if (!g.arg[0])
				return cli_usage_err(reterr, cmd,
						     "--workload: expected NS/KIND/NAME");
			ns[n++] = g.arg;
			nwl++;
			wl = true;
			break;
		case OPT_ALL:
			all = true;
			break;
		case OPT_FORCE:
			force = true;
			break;
		default:
			if (cli_target_opt(&t, OPT_SOCKET, o, g.arg))
				break;
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (o < 0)
		return o;
	if (t.socket)
		q.sock = t.socket;
	if (!n && !all)
		return cli_usage_err(reterr, cmd, "expected --namespace NS%s",
				     c == &cli_relearn_cmd ? "" : " or --all");
	if (n && all)
		return cli_usage_err(reterr, cmd, "--%s and --all: expected one of them",
				     wl ? "workload" : "namespace");
	if (wl && n != nwl)
		return cli_usage_err(reterr, cmd,
				     "--workload and --namespace: expected one of them");
	if (!q.sock[0])
		return cli_usage_err(reterr, cmd, "--socket: expected a path");
	r = cli_cluster_choose(&t, cmd, reterr);
	if (r < 0)
		return r;
	if (r == 1) {
		const struct cli_stage_req cq = { .cmd = cmd,
						  .stage = stage,
						  .ns = ns,
						  .n = n,
						  .all = all,
						  .force = force,
						  .timeout_s = (unsigned) timeout_s,
						  .target = &t };

		if (wl)
			return cli_usage_err(reterr, cmd,
					     "--workload: only on the local agent (--socket)");
		return cli_cluster_stage_run(&cq, reterr);
	}
	if (timeout_set)
		return cli_usage_err(reterr, cmd, "--timeout: only on a cluster (--kubeconfig)");
	buf_init(&body, STAGE_BODY_MAX);
	list = json_array();
	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, json_string(ns[i])) < 0)
			break;
	req = list ? json_pack("{s:s, s:b}", "stage", stage, "force", force) : NULL;
	if (req && (all ? json_object_set_new(req, "all", json_true()) :
			  json_object_set(req, wl ? "workloads" : "namespaces", list)) == 0)
		text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		r = bh_err_oom(reterr);
		goto out;
	}
	q.body = text;
	q.body_len = strlen(text);
	r = cli_agent_request_buf(&q, &body, &res, reterr);
	if (r < 0)
		goto out;
	ans = res.json ? json_loadb(body.data ? body.data : "", body.len, 0, &jerr) : NULL;
	if (res.code == 400 || res.code == 404 || res.code == 409) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		r = bh_err_set(reterr, BH_ERR_INPUT, res.code == 404 ? -ENOENT : -EBUSY, "%s: %s",
			       cmd, e ? e : "refused by the agent");
		goto out;
	}
	if (res.code != 200 || !ans) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
			       "%s: the agent on socket '%s' answered HTTP %ld to POST /stage%s%s",
			       cmd, q.sock, res.code, e ? ": " : "", e ? e : "");
		goto out;
	}
	print_answer(ans, wl ? "workload" : "namespace");
	if (fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "%s: writing stdout: %s", cmd,
			       strerror(errno));
out:
	free(text);
	json_decref(list);
	json_decref(req);
	json_decref(ans);
	buf_done(&body);
	return r;
}
