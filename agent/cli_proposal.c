/*
 * bulkhead proposal: the local agent's proposed NetworkPolicies.
 *
 *   bulkhead proposal [--compute | --namespace NS] [--socket PATH] [-o yaml|json]
 *
 * GET /proposal on the control socket: the policies as one v1 List, YAML
 * (default) or JSON, what `kubectl apply -f` takes.  --compute first asks
 * the agent for a new proposal from every flow it holds (POST /proposal;
 * it is computed off the agent's loop) and waits for it.  --namespace NS
 * prints the proposal the agent's stages made for NS at the end of its
 * learning window (GET /proposal?namespace=NS), as amended by `allow`.
 *
 * Exit 0 printed, 2 bad usage, 3 no agent answering, no proposal yet, or
 * a computation that failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"

/* A proposal over 200,000 flows takes about a second (docs/figures.md);
 * past this the agent is hung. */
#define PROPOSAL_TIMEOUT_MS 600000L
#define PROPOSAL_BODY_MAX (1024u * 1024u * 1024u)

enum {
	/* --socket, --kubeconfig, --context, --cluster: in this order
	 * (cli_target_opt()) */
	OPT_SOCKET = CLI_OPT_BASE,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_CLUSTER,
	OPT_OUTPUT,
	OPT_COMPUTE,
	OPT_NAMESPACE,
};

/* A namespace name is a DNS label (RFC 1123): it goes into the query as
 * it is. */
#define NAMESPACE_MAX 63

static const struct cli_flag proposal_flags[] = {
	{ .name = "compute",
	  .id = OPT_COMPUTE,
	  .help = "compute a new proposal from every flow the agent holds, and wait for it" },
	{ .name = "namespace",
	  .arg = "NS",
	  .id = OPT_NAMESPACE,
	  .help = "the proposal of namespace NS, made at the end of its learning window" },
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "yaml|json",
	  .id = OPT_OUTPUT,
	  .help = "output format (default: yaml)" },
	CLI_FLAG_SOCKET(OPT_SOCKET),
	CLI_FLAG_CLUSTER_KUBECONFIG(OPT_KUBECONFIG),
	CLI_FLAG_CLUSTER_CONTEXT(OPT_CONTEXT),
	CLI_FLAG_CLUSTER(OPT_CLUSTER),
	CLI_FLAG_HELP,
};

const struct cli_command cli_proposal_cmd = {
	.name = "proposal",
	.fn = cli_proposal,
	.usage = "",
	.summary = "the proposed NetworkPolicies, of the local agent or the cluster",
	.about = "Prints the NetworkPolicies the agent on this node proposes from the flows it\n"
		 "learned (GET /proposal on its control socket), as one List that 'kubectl\n"
		 "apply' takes.  --compute asks it for a new proposal first and waits.\n"
		 "--namespace NS prints the proposal of NS, made at the end of its learning\n"
		 "window and amended by 'bulkhead allow' (the one previewed or enforced).\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket) the plain NetworkPolicies of the Proposal objects\n"
		 "(of namespace NS with --namespace), for any CNI.\n",
	.exit_status = "0 printed, 2 bad usage or a namespace the agent (or the cluster) has no "
		       "proposal of, 3 system error (no agent answering, no API server, no "
		       "proposal yet, the computation failed)",
	.flags = proposal_flags,
	.n_flags = BH_ARRAY_SIZE(proposal_flags),
};

/* One request into @body (reset first): 0 with *@code, or exit 3. */
static int request(struct cli_agent_req *q, struct buf *body, long *code, struct bh_err *reterr)
{
	struct cli_agent_answer ans;
	int r;

	q->timeout_ms = PROPOSAL_TIMEOUT_MS;
	r = cli_agent_request_buf(q, body, &ans, reterr);
	*code = ans.code;
	return r;
}

/* The "error" of a JSON answer, or @dflt. */
static const char *answer_error(const struct buf *body, char *buf, size_t len, const char *dflt)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));

	(void) snprintf(buf, len, "%s", e ? e : dflt);
	json_decref(j);
	return buf;
}

/* /status's proposal.computing and .error: 1 computing, 0 done (error
 * copied into @err, "" when none), or -errno. */
static int computing(const char *sock, struct buf *body, char *err, size_t len,
		     struct bh_err *reterr)
{
	struct cli_agent_req q = { .cmd = "proposal", .sock = sock, .path = "/status" };
	json_t *st, *p;
	long code = 0;
	int r = request(&q, body, &code, reterr);

	if (r < 0)
		return r;
	st = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	p = json_object_get(st, "proposal");
	if (code != 200 || !json_is_object(p)) {
		json_decref(st);
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
				  "proposal: the agent on socket '%s' says nothing of proposals "
				  "(an older agent?)",
				  sock);
	}
	r = json_is_true(json_object_get(p, "computing"));
	(void) snprintf(err, len, "%s",
			json_is_string(json_object_get(p, "error")) ?
				json_string_value(json_object_get(p, "error")) :
				"");
	json_decref(st);
	return r;
}

static int compute(const char *sock, struct buf *body, struct bh_err *reterr)
{
	struct cli_agent_req q = {
		.cmd = "proposal", .sock = sock, .path = "/proposal", .body = "{}", .body_len = 2
	};
	struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
	char err[512];
	long code = 0;
	int r = request(&q, body, &code, reterr);

	if (r < 0)
		return r;
	if (code != 202 && code != 409)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
				  "proposal: the agent on socket '%s' cannot compute one: %s", sock,
				  answer_error(body, err, sizeof(err), "no reason given"));
	for (long waited = 0; waited < PROPOSAL_TIMEOUT_MS; waited += 100) {
		r = computing(sock, body, err, sizeof(err), reterr);
		if (r < 0)
			return r;
		if (r == 0 && err[0])
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "proposal: %s", err);
		if (r == 0)
			return 0;
		(void) nanosleep(&pause, NULL);
	}
	return bh_err_set(reterr, BH_ERR_SYSTEM, -ETIMEDOUT,
			  "proposal: the agent on socket '%s' computed for over %ld s", sock,
			  PROPOSAL_TIMEOUT_MS / 1000);
}

/* Whether @s is a DNS label, as Kubernetes names namespaces. */
static bool namespace_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAMESPACE_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int cli_proposal(int argc, char **argv, struct bh_err *reterr)
{
	struct cli_agent_req q = { .cmd = "proposal", .sock = CLI_AGENT_SOCKET_DEFAULT };
	bool json = false, want_compute = false;
	const char *ns = NULL;
	struct cli_target t = { 0 };
	struct cli_getopt g;
	struct buf body;
	char err[512], path[128];
	long code = 0;
	int c, r;

	cli_getopt_init(&g, &cli_proposal_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		switch (c) {
		case OPT_OUTPUT:
			if (strcmp(g.arg, "yaml") != 0 && strcmp(g.arg, "json") != 0)
				return cli_usage_err(reterr, "proposal",
						     "-o: expected yaml or json, got '%s'", g.arg);
			json = strcmp(g.arg, "json") == 0;
			break;
		case OPT_COMPUTE:
			want_compute = true;
			break;
		case OPT_NAMESPACE:
			if (!namespace_valid(g.arg))
				return cli_usage_err(reterr, "proposal",
						     "--namespace: '%s' is not a namespace name",
						     g.arg);
			ns = g.arg;
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
		return cli_usage_err(reterr, "proposal", "--socket: expected a path");
	if (want_compute && ns)
		return cli_usage_err(reterr, "proposal",
				     "--compute and --namespace: a namespace's proposal is made by "
				     "its stage, expected one of them");
	r = cli_cluster_choose(&t, "proposal", reterr);
	if (r < 0)
		return r;
	if (r == 1 && want_compute)
		return cli_usage_err(reterr, "proposal",
				     "--compute: only on the local agent (--socket); on a cluster "
				     "the Lease holder computes the proposals");
	if (r == 1)
		return cli_cluster_proposal(&t, ns, json, reterr);
	(void) snprintf(path, sizeof(path), "/proposal?format=%s%s%s", json ? "json" : "yaml",
			ns ? "&namespace=" : "", ns ? ns : "");
	q.path = path;
	buf_init(&body, PROPOSAL_BODY_MAX);
	r = want_compute ? compute(q.sock, &body, reterr) : 0;
	if (r == 0)
		r = request(&q, &body, &code, reterr);
	if (r == 0 && code != 200)
		r = bh_err_set(reterr, code == 400 ? BH_ERR_INPUT : BH_ERR_SYSTEM,
			       code == 404 ? -ENOENT :
			       code == 400 ? -EINVAL :
					     -EPROTO,
			       "proposal: the agent on socket '%s': %s", q.sock,
			       answer_error(&body, err, sizeof(err), "no proposal"));
	if (r == 0 && ((body.len && fwrite(body.data, 1, body.len, stdout) != body.len) ||
		       fflush(stdout) != 0))
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "proposal: writing stdout: %s",
			       strerror(errno));
	buf_done(&body);
	return r;
}
