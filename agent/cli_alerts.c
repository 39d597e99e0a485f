/*
 * The local agent's preview alerts: list them, allow or dismiss some.
 *
 *   bulkhead alerts [--state open|allowed|dismissed|all] [--socket PATH]
 *                   [-o text|json]
 *   bulkhead allow ALERT... [--socket PATH]
 *   bulkhead dismiss ALERT... [--socket PATH]
 *
 * `alerts` asks GET /alerts on the control socket: text is one line per
 * alert (id, state, source, destination, port, deciding policy, count,
 * last seen) under a header; json is the agent's array as it sent it
 * (docs/report.md, "alerts"), filtered by --state.  `allow` amends the
 * proposal so that it takes each flow in (POST /alerts/allow); `dismiss`
 * keeps each flow denied and closes its alert (POST /alerts/dismiss).
 * Both change all the alerts named, or none when one is unknown.
 *
 * Exit 0 done, 2 bad usage, an unknown alert or an id that is not one,
 * 3 no agent answering (or an answer that is not what the route gives).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alerts.h"
#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"
#include "cluster_api.h"

/* The agent answers from memory: past this it is hung. */
#define ALERTS_TIMEOUT_MS 10000L
/* maxAlerts (at most 1,000,000) alerts of about 1 KiB each. */
#define ALERTS_BODY_MAX (1024u * 1024u * 1024u)

enum {
	/* --socket, --kubeconfig, --context, --cluster: in this order
	 * (cli_target_opt()) */
	OPT_SOCKET = CLI_OPT_BASE,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_CLUSTER,
	OPT_OUTPUT,
	OPT_STATE,
};

#define FLAGS_CLUSTER                                                                       \
	CLI_FLAG_CLUSTER_KUBECONFIG(OPT_KUBECONFIG), CLI_FLAG_CLUSTER_CONTEXT(OPT_CONTEXT), \
		CLI_FLAG_CLUSTER(OPT_CLUSTER)

static const struct cli_flag alerts_flags[] = {
	{ .name = "state",
	  .arg = "open|allowed|dismissed|all",
	  .id = OPT_STATE,
	  .help = "only the alerts in this state (default: all)" },
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "text|json",
	  .id = OPT_OUTPUT,
	  .help = "output format (default: text)" },
	CLI_FLAG_SOCKET(OPT_SOCKET),
	FLAGS_CLUSTER,
	CLI_FLAG_HELP,
};

const struct cli_command cli_alerts_cmd = {
	.name = "alerts",
	.fn = cli_alerts,
	.usage = "",
	.summary = "the preview alerts of the local agent, or of every node",
	.about = "Asks the agent on this node, through its control socket (GET /alerts),\n"
		 "for its preview alerts: the flows its previewed policies would deny, one\n"
		 "per (source workload, destination workload, port, protocol), with the\n"
		 "deciding policy, the count, first and last seen, and the state (open,\n"
		 "allowed, dismissed).  The ID is what 'bulkhead dismiss' takes.\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket) every node's alerts, from the NodeFlows objects,\n"
		 "each with its node.\n",
	.exit_status = "0 listed, 2 bad usage, 3 system error (no agent answering, no API "
		       "server)",
	.flags = alerts_flags,
	.n_flags = BH_ARRAY_SIZE(alerts_flags),
};

static const struct cli_flag verb_flags[] = {
	CLI_FLAG_SOCKET(OPT_SOCKET),
	CLI_FLAG_HELP,
};

static const struct cli_flag allow_flags[] = {
	CLI_FLAG_SOCKET(OPT_SOCKET),
	FLAGS_CLUSTER,
	CLI_FLAG_HELP,
};

const struct cli_command cli_allow_cmd = {
	.name = "allow",
	.fn = cli_allow,
	.usage = "ALERT...",
	.summary = "take alerted flows into the proposal, of the local agent or the cluster",
	.about = "Allows each ALERT (an ID from 'bulkhead alerts') on the agent of this node:\n"
		 "the proposal of the deciding pod's namespace gets the rule 'bulkhead\n"
		 "propose' would have written for the flow (the peer's workload selector,\n"
		 "or an ipBlock for an address; the port and protocol), as a new\n"
		 "generation, and the kernel's ruleset takes it at once.  The alert's state\n"
		 "becomes 'allowed'.  All the alerts named are allowed, or none when one\n"
		 "is unknown or was not decided by a proposal.\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket) the alerts are found in the NodeFlows objects and\n"
		 "the Proposal objects are amended (written with their resourceVersion).\n",
	.exit_status = "0 allowed, 2 bad usage, an unknown alert or one no proposal decided, 3 "
		       "system error (no agent answering, no API server, Proposal objects changing "
		       "under every attempt)",
	.operands = true,
	.flags = allow_flags,
	.n_flags = BH_ARRAY_SIZE(allow_flags),
};

const struct cli_command cli_dismiss_cmd = {
	.name = "dismiss",
	.fn = cli_dismiss,
	.usage = "ALERT...",
	.summary = "close alerts of the local agent, keeping their flows denied",
	.about = "Closes each ALERT (an ID from 'bulkhead alerts') on the agent of this node:\n"
		 "its flow stays denied by the policies, the alert's state becomes\n"
		 "'dismissed' (kept across restarts).  All the alerts named are dismissed,\n"
		 "or none when one is unknown or was allowed (its flow is in the proposal).\n",
	.exit_status = "0 dismissed, 2 bad usage, an unknown alert or an allowed one, 3 system "
		       "error (no agent answering)",
	.operands = true,
	.flags = verb_flags,
	.n_flags = BH_ARRAY_SIZE(verb_flags),
};

/* @q over the socket into @body; the answer parsed into *@ret.  0, or
 * an error: the agent's own {"error"} for a 400, 404 or 409 (an alert it
 * does not hold, or cannot change so: exit 2), else exit 3. */
static int request_json(struct cli_agent_req *q, struct buf *body, json_t **ret,
			struct bh_err *reterr)
{
	struct cli_agent_answer ans;
	json_error_t jerr;
	int r;

	q->timeout_ms = ALERTS_TIMEOUT_MS;
	r = cli_agent_request_buf(q, body, &ans, reterr);
	if (r < 0)
		return r;
	*ret = ans.json ? json_loadb(body->data ? body->data : "", body->len, 0, &jerr) : NULL;
	if (ans.code == 404 || ans.code == 400 || ans.code == 409) {
		const char *e = json_string_value(json_object_get(*ret, "error"));

		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT, "%s: %s (socket '%s')", q->cmd,
			       e ? e : "refused by the agent", q->sock);
	} else if (ans.code != 200 || !*ret) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
			       "%s: the agent on socket '%s' answered HTTP %ld to %s %s%s", q->cmd,
			       q->sock, ans.code, q->body ? "POST" : "GET", q->path,
			       *ret ? "" : " without JSON");
	}
	if (r < 0) {
		json_decref(*ret);
		*ret = NULL;
	}
	return r;
}

static const char *field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

/* A peer as one word: the workload (and pod), or the address. */
static void peer_text(json_t *p, char *buf, size_t len)
{
	const char *wl = json_string_value(json_object_get(p, "workload"));
	const char *pod = json_string_value(json_object_get(p, "pod"));

	if (wl)
		(void) snprintf(buf, len, "%s%s%s%s", wl, pod ? " (" : "", pod ? pod : "",
				pod ? ")" : "");
	else
		(void) snprintf(buf, len, "%s", field(p, "cidr"));
}

struct widths {
	int src, dst, pol;
	int node; /* 0: no NODE column (the local agent's alerts) */
};

static const char *policy_text(json_t *a)
{
	const char *pol = json_string_value(json_object_get(a, "policy"));

	return pol ? pol : "(deleted)";
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static void alert_line(json_t *a, const struct widths *w)
{
	char src[1024], dst[1024], port[32];

	if (w->node)
		printf("%-*s  ", w->node, field(a, "node"));

	peer_text(json_object_get(a, "src"), src, sizeof(src));
	peer_text(json_object_get(a, "dst"), dst, sizeof(dst));
	(void) snprintf(port, sizeof(port), "%s/%" JSON_INTEGER_FORMAT, field(a, "protocol"),
			json_integer_value(json_object_get(a, "port")));
	printf("%-16s  %-9s  %-*s  %-*s  %-11s  %-*s  %-9s  %7" JSON_INTEGER_FORMAT "  %s\n",
	       field(a, "id"), field(a, "state"), w->src, src, w->dst, dst, port, w->pol,
	       policy_text(a), field(a, "direction"),
	       json_integer_value(json_object_get(a, "count")), field(a, "lastSeen"));
}

static void alerts_print_text(json_t *list)
{
	struct widths w = { .src = 6, .dst = 11, .pol = 6 };
	char buf[1024];
	size_t i, open = 0;
	json_t *a;

	json_array_foreach(list, i, a) {
		peer_text(json_object_get(a, "src"), buf, sizeof(buf));
		w.src = max_int(w.src, (int) strlen(buf));
		peer_text(json_object_get(a, "dst"), buf, sizeof(buf));
		w.dst = max_int(w.dst, (int) strlen(buf));
		w.pol = max_int(w.pol, (int) strlen(policy_text(a)));
		open += strcmp(field(a, "state"), "open") == 0;
		if (json_object_get(a, "node"))
			w.node = max_int(max_int(w.node, 4), (int) strlen(field(a, "node")));
	}
	if (json_array_size(list)) {
		if (w.node)
			printf("%-*s  ", w.node, "NODE");
		printf("%-16s  %-9s  %-*s  %-*s  %-11s  %-*s  %-9s  %7s  %s\n", "ID", "STATE",
		       w.src, "SOURCE", w.dst, "DESTINATION", "PORT", w.pol, "POLICY", "DIRECTION",
		       "COUNT", "LAST SEEN");
		json_array_foreach(list, i, a)
			alert_line(a, &w);
	}
	printf("%zu alert%s, %zu open\n", json_array_size(list),
	       json_array_size(list) == 1 ? "" : "s", open);
}

/* Every node's alerts from the NodeFlows objects, each with "node": its
 * node, into *@ret (a new array). */
static int cluster_alerts(const struct cli_target *t, json_t **ret, struct bh_err *reterr)
{
	json_t *nodeflows = NULL, *list = json_array(), *nf, *a;
	struct cli_kube k;
	size_t i, j;
	int r;

	r = cli_kube_open(&k, "alerts", t, reterr);
	if (r == 0)
		r = cli_kube_list(&k, CLUSTER_NODEFLOWS_RESOURCE, &nodeflows, reterr);
	if (r < 0)
		goto out;
	if (!list) {
		r = bh_err_oom(reterr);
		goto out;
	}
	json_array_foreach(nodeflows, i, nf) {
		json_t *node = json_object_get(json_object_get(nf, "metadata"), "name");

		json_array_foreach(json_object_get(json_object_get(nf, "status"), "alerts"), j, a) {
			json_t *c = json_is_object(a) ? json_copy(a) : NULL;

			if (!c || json_object_set(c, "node", node ? node : json_null()) < 0 ||
			    json_array_append_new(list, c) < 0) {
				r = bh_err_oom(reterr);
				goto out;
			}
		}
	}
	*ret = list;
	list = NULL;
out:
	json_decref(list);
	json_decref(nodeflows);
	cli_kube_done(&k);
	return r;
}

int cli_alerts(int argc, char **argv, struct bh_err *reterr)
{
	struct cli_target t = { 0 };
	const char *format = "text", *state = "all";
	struct cli_agent_req q = { .cmd = "alerts",
				   .sock = CLI_AGENT_SOCKET_DEFAULT,
				   .path = "/alerts" };
	json_t *list = NULL, *keep = NULL, *a;
	enum alert_state want = ALERT_OPEN;
	struct cli_getopt g;
	struct buf body;
	size_t i;
	int c, r;

	cli_getopt_init(&g, &cli_alerts_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		switch (c) {
		case OPT_OUTPUT:
			if (strcmp(g.arg, "text") != 0 && strcmp(g.arg, "json") != 0)
				return cli_usage_err(reterr, "alerts",
						     "-o: expected text or json, got '%s'", g.arg);
			format = g.arg;
			break;
		case OPT_STATE:
			if (strcmp(g.arg, "all") != 0 && alert_state_parse(g.arg, &want) < 0)
				return cli_usage_err(
					reterr, "alerts",
					"--state: expected open, allowed, dismissed or "
					"all, got '%s'",
					g.arg);
			state = g.arg;
			break;
		default:
			if (cli_target_opt(&t, OPT_SOCKET, c, g.arg))
				break;
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (c < 0)
		return c;
	if (t.socket)
		q.sock = t.socket;
	if (!q.sock[0])
		return cli_usage_err(reterr, "alerts", "--socket: expected a path");
	r = cli_cluster_choose(&t, "alerts", reterr);
	if (r < 0)
		return r;
	buf_init(&body, ALERTS_BODY_MAX);
	r = r == 1 ? cluster_alerts(&t, &list, reterr) : request_json(&q, &body, &list, reterr);
	if (r < 0)
		goto out;
	if (!json_is_array(list)) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
			       "alerts: the agent on socket '%s' sent no array of alerts", q.sock);
		goto out;
	}
	keep = json_array();
	if (!keep) {
		r = bh_err_oom(reterr);
		goto out;
	}
	json_array_foreach(list, i, a) {
		if (strcmp(state, "all") == 0 || strcmp(field(a, "state"), state) == 0)
			(void) json_array_append(keep, a);
	}
	if (strcmp(format, "json") == 0) {
		r = json_dumpf(keep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (r == 0)
			r = putchar('\n') == EOF ? -1 : 0;
	} else {
		alerts_print_text(keep);
		r = 0;
	}
	if (r < 0 || fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "alerts: writing stdout: %s",
			       strerror(errno));
out:
	json_decref(keep);
	json_decref(list);
	buf_done(&body);
	return r;
}

/* One verb on alerts: POST @path {"ids": [...]}, one line per alert
 * changed, "ID: @done, SRC -> DST PROTO/PORT @what". */
static int alerts_verb(const struct cli_command *cmd, const char *path, const char *done,
		       const char *what, int argc, char **argv, struct bh_err *reterr)
{
	struct cli_agent_req q = { .cmd = cmd->name,
				   .sock = CLI_AGENT_SOCKET_DEFAULT,
				   .path = path };
	json_t *ids = NULL, *req = NULL, *ans = NULL, *a;
	struct cli_target t = { 0 };
	struct cli_getopt g;
	struct buf body;
	char *text = NULL;
	size_t i;
	int c, r;

	cli_getopt_init(&g, cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		switch (c) {
		default:
			if (cli_target_opt(&t, OPT_SOCKET, c, g.arg))
				break;
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (c < 0)
		return c;
	if (t.socket)
		q.sock = t.socket;
	if (g.optind >= argc)
		return cli_usage_err(reterr, cmd->name,
				     "expected the alerts to %s (IDs from 'bulkhead alerts')",
				     cmd->name);
	if (!q.sock[0])
		return cli_usage_err(reterr, cmd->name, "--socket: expected a path");
	for (int k = g.optind; k < argc; k++)
		if (!alert_id_valid(argv[k]))
			return cli_usage_err(reterr, cmd->name,
					     "'%s' is no alert ID (16 hex digits, from 'bulkhead "
					     "alerts')",
					     argv[k]);
	/* dismiss stays on the node that saw the flow: its alert is that
	 * agent's (docs/cluster.md). */
	r = cmd == &cli_allow_cmd ? cli_cluster_choose(&t, cmd->name, reterr) : 0;
	if (r < 0)
		return r;
	if (r == 1)
		return cli_cluster_allow(&t, argv + g.optind, (size_t) (argc - g.optind), reterr);
	buf_init(&body, ALERTS_BODY_MAX);
	ids = json_array();
	req = json_pack("{s:o}", "ids", ids);
	for (int k = g.optind; ids && k < argc; k++)
		if (json_array_append_new(ids, json_string(argv[k])) < 0)
			ids = NULL;
	text = req && ids ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!text) {
		r = bh_err_oom(reterr);
		goto out;
	}
	q.body = text;
	q.body_len = strlen(text);
	r = request_json(&q, &body, &ans, reterr);
	if (r < 0)
		goto out;
	json_array_foreach(json_object_get(ans, "alerts"), i, a) {
		char src[1024], dst[1024];

		peer_text(json_object_get(a, "src"), src, sizeof(src));
		peer_text(json_object_get(a, "dst"), dst, sizeof(dst));
		printf("%s: %s, %s -> %s %s/%" JSON_INTEGER_FORMAT " %s\n", field(a, "id"), done,
		       src, dst, field(a, "protocol"),
		       json_integer_value(json_object_get(a, "port")), what);
	}
	if (fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "%s: writing stdout: %s", cmd->name,
			       strerror(errno));
out:
	free(text);
	json_decref(req);
	json_decref(ans);
	buf_done(&body);
	return r;
}

int cli_allow(int argc, char **argv, struct bh_err *reterr)
{
	return alerts_verb(&cli_allow_cmd, "/alerts/allow", "allowed", "is allowed by the proposal",
			   argc, argv, reterr);
}

int cli_dismiss(int argc, char **argv, struct bh_err *reterr)
{
	return alerts_verb(&cli_dismiss_cmd, "/alerts/dismiss", "dismissed", "stays denied", argc,
			   argv, reterr);
}
