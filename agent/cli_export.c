/*
 * bulkhead export: the local agent's report (docs/report.md), from GET
 * /report on its control socket, into a file.
 *
 *   bulkhead export -o REPORT.json [--socket PATH]
 *
 * The body is written as it arrives into a temporary file next to
 * REPORT.json, renamed into place once the whole answer came and it is a
 * report (HTTP 200, application/json, opening with schemaVersion): the
 * file appears whole or not at all, and a failed export leaves an older
 * REPORT.json as it was.  "-o -" writes to stdout.  Exit 0 written, 2 bad
 * usage, 3 when no agent answers, its answer is no report, or the file
 * cannot be written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "atomic_file.h"
#include "cli.h"
#include "cli_cluster.h"

/* The agent makes the report from memory (about a second for 10,000 pods
 * and 200,000 flows, docs/figures.md); past this it is hung. */
#define EXPORT_TIMEOUT_MS 60000L
/* The report opens with this (the agent writes its fields in order). */
#define EXPORT_HEAD "{\"schemaVersion\":"

enum {
	/* --socket, --kubeconfig, --context, --cluster: in this order
	 * (cli_target_opt()) */
	OPT_SOCKET = CLI_OPT_BASE,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_CLUSTER,
	OPT_OUTPUT,
};

static const struct cli_flag export_flags[] = {
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "REPORT.json",
	  .id = OPT_OUTPUT,
	  .help = "the file to write (replaced atomically; - for stdout)" },
	CLI_FLAG_SOCKET(OPT_SOCKET),
	CLI_FLAG_CLUSTER_KUBECONFIG(OPT_KUBECONFIG),
	CLI_FLAG_CLUSTER_CONTEXT(OPT_CONTEXT),
	CLI_FLAG_CLUSTER(OPT_CLUSTER),
	CLI_FLAG_HELP,
};

const struct cli_command cli_export_cmd = {
	.name = "export",
	.fn = cli_export,
	.usage = "-o REPORT.json",
	.summary = "write the report (the dashboard's input) of the local agent or the cluster",
	.about = "Asks the agent on this node, through its control socket (GET /report), for\n"
		 "its report (docs/report.md: workloads, flows, alerts, proposals,\n"
		 "enforcement) and writes it to REPORT.json: a temporary file renamed into\n"
		 "place once the whole report came, so the file is whole or untouched.\n"
		 "On a cluster (--kubeconfig, --context, --cluster, $KUBECONFIG or in a\n"
		 "pod, without --socket) the cluster report: every node's flows and alerts\n"
		 "(NodeFlows), the proposals (Proposal), the cluster from the API, in the\n"
		 "same schema, with the nodes listed.\n",
	.exit_status = "0 written, 2 bad usage, 3 system error (no agent answering, no API "
		       "server, no report, "
		       "the file cannot be written)",
	.flags = export_flags,
	.n_flags = BH_ARRAY_SIZE(export_flags),
};

struct sink {
	FILE *f;
	char head[sizeof(EXPORT_HEAD)]; /* the first bytes, to check */
	size_t n_head;
	int write_errno; /* why writing failed (0: it did not) */
};

static size_t write_cb(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = sz * nmemb, k = sizeof(s->head) - 1 - s->n_head;

	if (k > n)
		k = n;
	memcpy(s->head + s->n_head, p, k);
	s->n_head += k;
	s->head[s->n_head] = '\0';
	if (fwrite(p, 1, n, s->f) != n) {
		s->write_errno = errno ? errno : EIO;
		return 0;
	}
	return n;
}

/* GET /report over @sock into @s: 0, or a system error (one line). */
static int report_fetch(const char *sock, const char *out, struct sink *s, struct bh_err *reterr)
{
	const struct cli_agent_req q = { .cmd = "export",
					 .sock = sock,
					 .path = "/report",
					 .timeout_ms = EXPORT_TIMEOUT_MS,
					 .write = write_cb,
					 .ud = s };
	struct cli_agent_answer ans;
	int r = cli_agent_request(&q, &ans, reterr);

	if (r == -ECANCELED) {
		int err = s->write_errno ? s->write_errno : EIO;

		return bh_err_set(reterr, BH_ERR_SYSTEM, -err, "export: writing '%s': %s", out,
				  strerror(err));
	}
	if (r < 0)
		return r;
	if (ans.code != 200)
		return bh_err_set(
			reterr, BH_ERR_SYSTEM, -EPROTO,
			"export: the agent on socket '%s' answered HTTP %ld to GET /report", sock,
			ans.code);
	if (!ans.json || strcmp(s->head, EXPORT_HEAD) != 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
				  "export: the agent on socket '%s' sent no report to GET /report",
				  sock);
	return 0;
}

int cli_export(int argc, char **argv, struct bh_err *reterr)
{
	const char *sock = CLI_AGENT_SOCKET_DEFAULT, *out = NULL;
	struct cli_target t = { 0 };
	struct atomic_file af = { 0 };
	struct sink s = { 0 };
	struct cli_getopt g;
	bool to_stdout;
	int c, r;

	cli_getopt_init(&g, &cli_export_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		switch (c) {
		case OPT_OUTPUT:
			out = g.arg;
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
		sock = t.socket;
	if (!out || !out[0])
		return cli_usage_err(reterr, "export",
				     "-o: expected the file to write (REPORT.json)");
	if (!sock[0])
		return cli_usage_err(reterr, "export", "--socket: expected a path");
	r = cli_cluster_choose(&t, "export", reterr);
	if (r < 0)
		return r;
	if (r == 1)
		return cli_cluster_export(&t, out, reterr);
	to_stdout = strcmp(out, "-") == 0;
	if (to_stdout) {
		s.f = stdout;
	} else {
		r = atomic_file_open(&af, out, reterr);
		if (r < 0)
			return r;
		s.f = af.f;
	}
	r = report_fetch(sock, out, &s, reterr);
	if (to_stdout) {
		if (r == 0 && fflush(stdout) != 0)
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "export: writing stdout: %s",
				       strerror(errno));
		return r;
	}
	if (r < 0) {
		atomic_file_abort(&af);
		return r;
	}
	return atomic_file_commit(&af, reterr);
}
