/*
 * bulkhead status: what the local agent is doing, from GET /status on its
 * control socket (docs/agent-api.md defines the object).
 *
 *   bulkhead status [--socket PATH] [-o|--output text|json]
 *
 * Text: one "name: value" line per field (mode, namespaces per stage,
 * counts, last sync, API, health).  JSON: the agent's object as it sent
 * it, re-indented.  Exit 0 when the agent answered (ready or not: the
 * health line says which), 3 when no agent answers on the socket or its
 * answer is not a status object, 2 for bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"

/* The agent answers from memory: anything slower than this is a hung
 * agent, and the user is told so instead of waiting. */
#define STATUS_TIMEOUT_MS 5000L
#define STATUS_BODY_MAX (1024 * 1024)
#define STATUS_VERSION 1

enum {
	OPT_SOCKET = CLI_OPT_BASE,
	OPT_OUTPUT,
};

static const struct cli_flag status_flags[] = {
	CLI_FLAG_SOCKET(OPT_SOCKET),
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "text|json",
	  .id = OPT_OUTPUT,
	  .help = "output format (default: text)" },
	CLI_FLAG_HELP,
};

const struct cli_command cli_status_cmd = {
	.name = "status",
	.fn = cli_status,
	.usage = "",
	.summary = "mode, counts, last sync and health of the local agent",
	.about = "Asks the agent on this node, through its control socket (GET /status), for\n"
		 "its mode, the namespaces in each stage, its counts (pods, policies, flows,\n"
		 "alerts), the last sync with the API server and its health.\n",
	.exit_status = "0 the agent answered, 2 bad usage, 3 system error (no agent answering)",
	.flags = status_flags,
	.n_flags = BH_ARRAY_SIZE(status_flags),
};

/* GET /status over @sock into @body: 0, or a system error naming the
 * socket. */
static int status_fetch(const char *sock, struct buf *body, struct bh_err *reterr)
{
	struct cli_agent_req q = {
		.cmd = "status", .sock = sock, .path = "/status", .timeout_ms = STATUS_TIMEOUT_MS
	};
	struct cli_agent_answer ans;
	int r = cli_agent_request_buf(&q, body, &ans, reterr);

	if (r < 0)
		return r;
	if (ans.code != 200) {
		buf_reset(body);
		return bh_err_set(
			reterr, BH_ERR_SYSTEM, -EPROTO,
			"status: the agent on socket '%s' answered HTTP %ld to GET /status", sock,
			ans.code);
	}
	return 0;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static void count_print(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		printf("-");
}

static void status_print_text(json_t *st)
{
	static const char *const stages[] = { "learn", "proposed", "preview", "enforce" };
	json_t *ns = json_object_get(st, "namespaces");
	json_t *counts = json_object_get(st, "counts");
	json_t *ready = json_object_get(st, "ready");
	json_t *v;

	printf("node:        %s\n", str_or(st, "node", "-"));
	printf("mode:        %s\n", str_or(st, "mode", "-"));
	printf("namespaces: ");
	for (size_t i = 0; i < BH_ARRAY_SIZE(stages); i++) {
		printf(" ");
		count_print(ns, stages[i]);
		printf(" %s%s", stages[i], i + 1 < BH_ARRAY_SIZE(stages) ? "," : "\n");
	}
	printf("pods:        ");
	count_print(counts, "pods");
	printf(" on this node\npolicies:    ");
	count_print(counts, "policies");
	printf("\nflows:       ");
	count_print(counts, "flows");
	printf("\nalerts:      ");
	count_print(counts, "alerts");
	printf("\nlast sync:   %s\n", str_or(st, "last_sync", "never"));
	printf("api:         %s\n", str_or(st, "api", "-"));
	v = json_object_get(st, "enforcement");
	if (json_is_object(v)) {
		/* (an agent older than the field: no line) */
		printf("table:       %s", str_or(v, "table", "-"));
		if (json_is_string(json_object_get(v, "digest")))
			printf(" %s", str_or(v, "digest", "-"));
		printf(", ");
		count_print(v, "batches");
		printf(" batches, ");
		count_print(v, "full_replaces");
		printf(" full\n");
	}
	v = json_object_get(st, "uptime_seconds");
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		json_int_t t = json_integer_value(v);

		printf("uptime:      %" JSON_INTEGER_FORMAT "h%02dm%02ds\n", t / 3600,
		       (int) (t / 60 % 60), (int) (t % 60));
	} else {
		printf("uptime:      -\n");
	}
	if (json_is_true(ready))
		printf("health:      ready\n");
	else
		printf("health:      not ready: %s\n", str_or(st, "reason", "(no reason given)"));
}

int cli_status(int argc, char **argv, struct bh_err *reterr)
{
	const char *sock = CLI_AGENT_SOCKET_DEFAULT, *format = "text";
	json_t *st = NULL, *ver;
	struct cli_getopt g;
	json_error_t jerr;
	struct buf body;
	int c, r;

	cli_getopt_init(&g, &cli_status_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		switch (c) {
		case OPT_SOCKET:
			sock = g.arg;
			break;
		case OPT_OUTPUT:
			if (strcmp(g.arg, "text") != 0 && strcmp(g.arg, "json") != 0)
				return cli_usage_err(reterr, "status",
						     "-o: expected text or json, got '%s'", g.arg);
			format = g.arg;
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (c < 0)
		return c;
	if (!sock[0])
		return cli_usage_err(reterr, "status", "--socket: expected a path");
	buf_init(&body, STATUS_BODY_MAX);
	r = status_fetch(sock, &body, reterr);
	if (r < 0)
		goto out;
	st = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
	ver = json_object_get(st, "version");
	if (!json_is_object(st) || !json_is_integer(ver) ||
	    json_integer_value(ver) != STATUS_VERSION) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
			       "status: the agent on socket '%s' sent no status object of "
			       "version %d%s%s",
			       sock, STATUS_VERSION, st ? "" : ": ", st ? "" : jerr.text);
		goto out;
	}
	if (strcmp(format, "json") == 0) {
		r = json_dumpf(st, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (r == 0)
			r = putchar('\n') == EOF ? -1 : 0;
	} else {
		status_print_text(st);
	}
	if (r < 0 || fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "status: writing stdout: %s",
			       strerror(errno));
out:
	json_decref(st);
	buf_done(&body);
	return r;
}
