/*
 * bulkhead check: truth tables of the policy engine over a snapshot.
 *
 *   bulkhead check (--snapshot FILE... | --kubeconfig FILE) [FLAG]...
 *
 * The flags are check_flags[] below (bulkhead check --help).
 *
 * Probes: --port and --protocol give one; --port alone means TCP (the
 * Kubernetes default); --protocol alone means ports 80 and 81; neither
 * means ports 80 and 81 over TCP, UDP and SCTP (shared/design.md).  Rows and
 * columns are every pod unless --from / --to narrow them.  --explain needs
 * exactly one --from, one --to and --port.
 *
 * Exit status: 0 when every asked connection is allowed, 1 when one is
 * denied, 2 for bad usage or input.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "engine.h"
#include "engine_memo.h"
#include "json_out.h"
#include "proto.h"

enum check_output {
	CHECK_OUTPUT_TEXT,
	CHECK_OUTPUT_JSON,
};

struct check_probe {
	uint8_t proto;
	uint16_t port;
};

/* One row or column of the table. */
struct check_end {
	char *key; /* owned: "ns/name" or the address */
	const struct pod *pod; /* NULL for an address */
	struct addr addr; /* for an address */
};

struct check_args {
	struct cli_cluster_src src;
	const char *from, *to;
	const char *port, *protocol, *family, *output;
	const char *proposal, *proposal_mode;
	bool explain;
};

enum {
	OPT_FROM = CLI_OPT_BASE,
	OPT_TO,
	OPT_PORT,
	OPT_PROTOCOL,
	OPT_FAMILY,
	OPT_OUTPUT,
	OPT_EXPLAIN,
	OPT_PROPOSAL,
	OPT_PROPOSAL_MODE,
};

static const struct cli_flag check_flags[] = {
	CLI_FLAG_SNAPSHOT,
	CLI_FLAG_KUBECONFIG,
	CLI_FLAG_CONTEXT,
	CLI_FLAG_SKIP_UNKNOWN,
	CLI_FLAG_NAMESPACE,
	{ .name = "from",
	  .arg = "NS/POD|IP",
	  .id = OPT_FROM,
	  .help = "rows: this pod or address only (default: every pod)" },
	{ .name = "to",
	  .arg = "NS/POD|IP",
	  .id = OPT_TO,
	  .help = "columns: this pod or address only (default: every pod)" },
	{ .name = "port",
	  .arg = "N",
	  .id = OPT_PORT,
	  .help = "probe this port only (default: 80 and 81)" },
	{ .name = "protocol",
	  .arg = "TCP|UDP|SCTP",
	  .id = OPT_PROTOCOL,
	  .help = "probe this protocol only, any case (default: TCP if --port)" },
	{ .name = "family",
	  .arg = "ipv4|ipv6",
	  .id = OPT_FAMILY,
	  .help = "the pods' address family (default: ipv4, or that of --from/--to)" },
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "text|json",
	  .id = OPT_OUTPUT,
	  .help = "output format (default: text)" },
	{ .name = "explain",
	  .id = OPT_EXPLAIN,
	  .help = "say which policies isolate each side and which rules allow it" },
	CLI_FLAG_PROPOSAL(OPT_PROPOSAL),
	CLI_FLAG_PROPOSAL_MODE(OPT_PROPOSAL_MODE),
	CLI_FLAG_HELP,
};

const struct cli_command cli_check_cmd = {
	.name = "check",
	.fn = cli_check,
	.usage = "(--snapshot FILE... | --kubeconfig FILE)",
	.summary = "which connections the NetworkPolicies of the cluster allow",
	.about = "Which connections do the NetworkPolicies of the snapshot allow?  Rows and\n"
		 "columns are every pod unless --from/--to name one pod or address.  Probes:\n"
		 "--port and --protocol give one (--protocol defaults to TCP); --protocol\n"
		 "alone means ports 80 and 81; neither means ports 80 and 81 over TCP, UDP\n"
		 "and SCTP.  --explain (needs --from, --to and --port) names the policies\n"
		 "isolating each side and the rules allowing each direction.\n",
	.exit_status = "0 all allowed, 1 some denied, 2 bad usage or input, 3 system error",
	.flags = check_flags,
	.n_flags = BH_ARRAY_SIZE(check_flags),
};

#define CHECK_PROBES_MAX 6
/* Text tables name their columns up to this length, else number them. */
#define CHECK_COLUMN_NAME_MAX 12

static int check_parse(int argc, char **argv, struct check_args *a, struct bh_err *reterr)
{
	struct cli_getopt g;
	const char **once = NULL;
	const char *name = NULL;
	int c, r;

	cli_getopt_init(&g, &cli_check_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		r = cli_cluster_src_opt(&a->src, c, g.arg, reterr);
		if (r < 0)
			return r;
		if (r)
			continue;
		switch (c) {
		case OPT_EXPLAIN:
			a->explain = true;
			continue;
		case OPT_FROM:
			once = &a->from, name = "--from";
			break;
		case OPT_TO:
			once = &a->to, name = "--to";
			break;
		case OPT_PORT:
			once = &a->port, name = "--port";
			break;
		case OPT_PROTOCOL:
			once = &a->protocol, name = "--protocol";
			break;
		case OPT_FAMILY:
			once = &a->family, name = "--family";
			break;
		case OPT_OUTPUT:
			once = &a->output, name = "-o";
			break;
		case OPT_PROPOSAL:
			once = &a->proposal, name = "--proposal";
			break;
		case OPT_PROPOSAL_MODE:
			once = &a->proposal_mode, name = "--proposal-mode";
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
		if (*once)
			return cli_usage_err(reterr, "check", "%s given twice", name);
		*once = g.arg;
	}
	return c;
}

static int check_probes(const struct check_args *a, struct check_probe *ret, size_t *ret_n,
			struct bh_err *reterr)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	static const uint16_t ports[] = { 80, 81 };
	uint8_t proto = IPPROTO_TCP;
	uint16_t port = 0;
	size_t n = 0;

	if (a->port && port_parse(a->port, &port) < 0)
		return cli_usage_err(reterr, "check", "--port: expected 1..65535, got '%s'",
				     a->port);
	if (a->protocol && cli_parse_protocol(a->protocol, &proto) < 0)
		return cli_usage_err(reterr, "check",
				     "--protocol: expected TCP, UDP or SCTP, got '%s'",
				     a->protocol);
	for (size_t i = 0; i < BH_ARRAY_SIZE(protos); i++) {
		if ((a->protocol || a->port) && protos[i] != proto)
			continue;
		for (size_t j = 0; j < BH_ARRAY_SIZE(ports); j++) {
			if (a->port && j > 0)
				break;
			ret[n++] = (struct check_probe){ .proto = protos[i],
							 .port = a->port ? port : ports[j] };
		}
	}
	*ret_n = n;
	return 0;
}

static void ends_free(struct check_end *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].key);
	free(v);
}

static char *pod_key(const struct pod *p)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", p->ns, p->name) < 0)
		return NULL;
	return s;
}

static int check_end_syntax(const char *flag, const char *spec, struct bh_err *reterr)
{
	char buf[512];
	const char *ns, *name;
	struct addr a;

	if (!spec || addr_parse(spec, &a) == 0 ||
	    cli_parse_ns_pod(spec, buf, sizeof(buf), &ns, &name) == 0)
		return 0;
	return cli_usage_err(reterr, "check", "%s: expected NS/POD or an IP address, got '%s'",
			     flag, spec);
}

/*
 * The rows (or columns): every pod (of namespace @only_ns when not NULL), or the
 * one named by @spec (NS/POD or an address).  *@family is set from an
 * address and must agree with it.
 */
static int check_ends(const struct cluster *c, const char *flag, const char *spec,
		      const char *only_ns, int *family, struct check_end **ret, size_t *ret_n,
		      struct bh_err *reterr)
{
	struct check_end *v;
	size_t n = spec ? 1 : c->n_pods, k = 0;

	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return bh_err_oom(reterr);
	if (spec) {
		char buf[512];
		const char *ns, *name;
		struct addr a;

		if (addr_parse(spec, &a) == 0) {
			if (*family && *family != a.family) {
				ends_free(v, n);
				return cli_usage_err(reterr, "check",
						     "%s '%s': the other address or --family "
						     "is of another IP family",
						     flag, spec);
			}
			*family = a.family;
			v[0].addr = a;
			v[0].key = strdup(spec);
		} else if (cli_parse_ns_pod(spec, buf, sizeof(buf), &ns, &name) == 0) {
			v[0].pod = cluster_pod_find(c, ns, name);
			if (!v[0].pod) {
				ends_free(v, n);
				return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
						  "check: %s '%s': no such pod in the snapshot",
						  flag, spec);
			}
			v[0].key = strdup(spec);
		} else {
			ends_free(v, n);
			return cli_usage_err(reterr, "check",
					     "%s: expected NS/POD or an IP address, got '%s'", flag,
					     spec);
		}
		if (!v[0].key) {
			ends_free(v, n);
			return bh_err_oom(reterr);
		}
	}
	for (size_t i = 0; !spec && i < n; i++) {
		if (only_ns && strcmp(c->pods[i].ns, only_ns) != 0)
			continue;
		v[k].pod = &c->pods[i];
		v[k].key = pod_key(v[k].pod);
		if (!v[k].key) {
			ends_free(v, n);
			return bh_err_oom(reterr);
		}
		k++;
	}
	*ret = v;
	*ret_n = spec ? n : k;
	return 0;
}

static void end_ep(struct engine *e, const struct check_end *end, int family, struct engine_ep *ret)
{
	if (end->pod)
		engine_ep_pod(e, end->pod, family, ret);
	else
		engine_ep_addr(e, &end->addr, ret);
}

/* Writes @s as a JSON string (json_escape_append()): keys are Kubernetes
 * names or addresses, UTF-8 passes through. */
static int json_str_write(FILE *f, const char *s)
{
	struct buf b;
	int r;

	buf_init(&b, SIZE_MAX / 2);
	r = json_escape_append(&b, s, strlen(s));
	if (r == 0 && fwrite(b.data, 1, b.len, f) != b.len)
		r = -EIO;
	buf_done(&b);
	return r;
}

struct check_table {
	struct engine *e; /* the memo's, or its own (owned) without a memo */
	struct engine_memo *m; /* NULL for a table too small to pay for it */
	bool *cells; /* n_from * n_to verdicts of the probe printed */
	int family;
	struct check_end *from, *to;
	size_t n_from, n_to;
	struct engine_ep *from_ep, *to_ep;
};

/* Width of column @j of a text table: its name, or the widest number. */
static int col_width(const struct check_table *t, bool numbered, size_t j)
{
	int n = 1;

	if (!numbered)
		return (int) strlen(t->to[j].key);
	for (size_t v = t->n_to; v >= 10; v /= 10)
		n++;
	return n;
}

/* Prints one probe; adds the number of denied cells to @denied.  0, or
 * -ENOMEM. */
static int check_print_probe(const struct check_table *t, const struct check_probe *p,
			     enum check_output out, FILE *f, size_t *ret_denied)
{
	size_t denied = 0, w = 0;
	int r = 0;
	const char *pname = proto_name(p->proto);
	bool numbered = false;

	/* The table through the memo: each pair of classes of pods is asked
	 * of the engine once (include/engine_memo.h). */
	if (t->m) {
		r = engine_memo_matrix(t->m, t->from_ep, t->n_from, t->to_ep, t->n_to, p->proto,
				       p->port, t->cells);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < t->n_from; i++)
			for (size_t j = 0; j < t->n_to; j++)
				t->cells[i * t->n_to + j] = engine_allowed(
					t->e, &t->from_ep[i], &t->to_ep[j], p->proto, p->port);
	}
	if (out == CHECK_OUTPUT_JSON) {
		fprintf(f, "{\"port\": %u, \"protocol\": \"%s\", \"matrix\": {", p->port, pname);
		for (size_t i = 0; i < t->n_from; i++) {
			fputs(i ? ", " : "", f);
			if (r == 0)
				r = json_str_write(f, t->from[i].key);
			fputs(": {", f);
			for (size_t j = 0; j < t->n_to; j++) {
				bool ok = t->cells[i * t->n_to + j];

				denied += !ok;
				fputs(j ? ", " : "", f);
				if (r == 0)
					r = json_str_write(f, t->to[j].key);
				fputs(ok ? ": true" : ": false", f);
			}
			fputc('}', f);
		}
		fputs("}}\n", f);
		*ret_denied += denied;
		return r;
	}

	if (t->n_from == 1 && t->n_to == 1) {
		bool ok = t->cells[0];

		fprintf(f, "%s/%u %s -> %s: %s\n", pname, p->port, t->from[0].key, t->to[0].key,
			ok ? "allowed" : "denied");
		*ret_denied += !ok;
		return 0;
	}
	for (size_t i = 0; i < t->n_from; i++)
		if (strlen(t->from[i].key) > w)
			w = strlen(t->from[i].key);
	fprintf(f, "%s/%u (%s; rows: from, columns: to; . allowed, X denied)\n", pname, p->port,
		t->family == AF_INET6 ? "IPv6" : "IPv4");
	/* Long names (real pods) would make columns unreadably wide: number
	 * the columns then, and list the numbers under the table. */
	for (size_t j = 0; j < t->n_to; j++)
		if (strlen(t->to[j].key) > CHECK_COLUMN_NAME_MAX)
			numbered = true;
	fprintf(f, "%-*s", (int) w, "");
	for (size_t j = 0; j < t->n_to; j++) {
		if (numbered)
			fprintf(f, " %*zu", col_width(t, true, j), j + 1);
		else
			fprintf(f, " %s", t->to[j].key);
	}
	fputc('\n', f);
	for (size_t i = 0; i < t->n_from; i++) {
		fprintf(f, "%-*s", (int) w, t->from[i].key);
		for (size_t j = 0; j < t->n_to; j++) {
			bool ok = t->cells[i * t->n_to + j];

			denied += !ok;
			/* Pad to the column's width, but no trailing blanks. */
			fprintf(f, " %*s%s", numbered ? col_width(t, true, j) - 1 : 0, "",
				ok ? "." : "X");
			if (!numbered && j + 1 < t->n_to)
				fprintf(f, "%*s", col_width(t, false, j) - 1, "");
		}
		fputc('\n', f);
	}
	for (size_t j = 0; numbered && j < t->n_to; j++)
		fprintf(f, "%*zu: %s\n", col_width(t, true, 0), j + 1, t->to[j].key);
	fputc('\n', f);
	*ret_denied += denied;
	return 0;
}

static const char *policy_key(const struct cluster *c, size_t idx, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", c->policies[idx].ns, c->policies[idx].name);
	return buf;
}

static json_t *explain_dir_json(const struct cluster *c, const struct engine_dir_result *d)
{
	json_t *o = json_pack("{s:b, s:b, s:s, s:[], s:[]}", "allowed", (int) d->allowed,
			      "isolated", (int) d->isolated, "reason",
			      engine_reason_name(d->reason), "policies", "rules");
	json_t *pols = json_object_get(o, "policies"), *rules = json_object_get(o, "rules");
	char buf[512];

	if (!o)
		return NULL;
	/* Only with a proposal in preview: the output without one is as it was. */
	if (d->would_deny && json_object_set_new(o, "would_deny", json_true()) < 0)
		goto fail;
	for (size_t i = 0; i < d->n_isolating; i++) {
		policy_key(c, d->isolating[i], buf, sizeof(buf));
		if (json_array_append_new(pols, json_string(buf)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < d->n_allowing; i++) {
		policy_key(c, d->allowing[i].policy, buf, sizeof(buf));
		if (json_array_append_new(rules, json_pack("{s:s, s:I}", "policy", buf, "rule",
							   (json_int_t) d->allowing[i].rule)) < 0)
			goto fail;
	}
	return o;

fail:
	json_decref(o);
	return NULL;
}

static void explain_dir_text(const struct cluster *c, const struct engine_dir_result *d,
			     const char *what, const char *key, FILE *f)
{
	char buf[512];

	fprintf(f, "%s of %s: %s (%s)\n", what, key,
		d->would_deny ? "would be denied (preview)" :
		d->allowed    ? "allowed" :
				"denied",
		engine_reason_name(d->reason));
	if (d->n_isolating) {
		fprintf(f, "  isolated by:");
		for (size_t i = 0; i < d->n_isolating; i++)
			fprintf(f, " %s", policy_key(c, d->isolating[i], buf, sizeof(buf)));
		fputc('\n', f);
	} else {
		fprintf(f, "  isolated by: none\n");
	}
	if (d->reason == ENGINE_REASON_RULE || d->reason == ENGINE_REASON_NO_RULE) {
		fprintf(f, "  allowed by:");
		for (size_t i = 0; i < d->n_allowing; i++)
			fprintf(f, " %s %s rule %zu",
				policy_key(c, d->allowing[i].policy, buf, sizeof(buf)), what,
				d->allowing[i].rule);
		fprintf(f, "%s\n", d->n_allowing ? "" : " no rule");
	}
}

static int check_explain(const struct check_table *t, const struct check_probe *p,
			 enum check_output out, FILE *f, struct bh_err *reterr)
{
	const struct cluster *c = engine_cluster(t->e);
	struct engine_result res;
	const char *pname = proto_name(p->proto);
	int r;

	r = engine_explain(t->e, &t->from_ep[0], &t->to_ep[0], p->proto, p->port, &res);
	if (r < 0)
		return bh_err_oom(reterr);
	if (out == CHECK_OUTPUT_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "from", t->from[0].key,
				      "to", t->to[0].key, "port", (int) p->port, "protocol", pname,
				      "family", t->family == AF_INET6 ? "IPv6" : "IPv4", "allowed",
				      (int) res.allowed);
		json_t *eg = explain_dir_json(c, &res.dir[NETPOL_EGRESS]);
		json_t *in = explain_dir_json(c, &res.dir[NETPOL_INGRESS]);

		if (!o || !eg || !in || json_object_set_new(o, "egress", eg) < 0) {
			json_decref(o);
			json_decref(eg);
			json_decref(in);
			engine_result_done(&res);
			return bh_err_oom(reterr);
		}
		if (json_object_set_new(o, "ingress", in) < 0 ||
		    (res.would_deny && json_object_set_new(o, "would_deny", json_true()) < 0) ||
		    json_dumpf(o, f, JSON_PRESERVE_ORDER) < 0) {
			json_decref(o);
			engine_result_done(&res);
			return bh_err_oom(reterr);
		}
		fputc('\n', f);
		json_decref(o);
	} else {
		fprintf(f, "%s/%u %s -> %s (%s): %s\n", pname, p->port, t->from[0].key,
			t->to[0].key, t->family == AF_INET6 ? "IPv6" : "IPv4",
			engine_verdict_name(res.would_deny ? ENGINE_VERDICT_WOULD_DENY :
					    res.allowed	   ? ENGINE_VERDICT_ALLOW :
							     ENGINE_VERDICT_DENY));
		explain_dir_text(c, &res.dir[NETPOL_EGRESS], "egress", t->from[0].key, f);
		explain_dir_text(c, &res.dir[NETPOL_INGRESS], "ingress", t->to[0].key, f);
	}
	r = res.allowed ? BH_EXIT_OK : BH_EXIT_DENY;
	engine_result_done(&res);
	return r;
}

int cli_check(int argc, char **argv, struct bh_err *reterr)
{
	struct check_args a = { 0 };
	struct check_probe probes[CHECK_PROBES_MAX];
	struct check_table t = { 0 };
	enum check_output out = CHECK_OUTPUT_TEXT;
	struct cluster *c = NULL;
	size_t n_probes = 0, denied = 0;
	int r;

	r = check_parse(argc, argv, &a, reterr);
	if (r < 0)
		return r;
	if (a.output && strcmp(a.output, "json") == 0)
		out = CHECK_OUTPUT_JSON;
	else if (a.output && strcmp(a.output, "text") != 0)
		return cli_usage_err(reterr, "check", "-o: expected text or json, got '%s'",
				     a.output);
	if (a.family && strcmp(a.family, "ipv4") == 0)
		t.family = AF_INET;
	else if (a.family && strcmp(a.family, "ipv6") == 0)
		t.family = AF_INET6;
	else if (a.family)
		return cli_usage_err(reterr, "check", "--family: expected ipv4 or ipv6, got '%s'",
				     a.family);
	r = check_probes(&a, probes, &n_probes, reterr);
	if (r < 0)
		return r;
	if (a.explain && (!a.from || !a.to || !a.port))
		return cli_usage_err(reterr, "check",
				     "--explain needs --from, --to and --port "
				     "(--protocol defaults to TCP)");

	/* Reject a malformed --from/--to before reading a large snapshot. */
	r = check_end_syntax("--from", a.from, reterr);
	if (r < 0)
		return r;
	r = check_end_syntax("--to", a.to, reterr);
	if (r < 0)
		return r;

	r = cli_cluster_load(&a.src, &c, reterr);
	if (r < 0)
		return r;
	r = cli_proposal_merge(c, "check", a.proposal, a.proposal_mode, reterr);
	if (r < 0)
		goto out;
	r = cli_namespace_check(c, a.src.namespace, reterr);
	if (r < 0)
		goto out;
	r = check_ends(c, "--from", a.from, a.src.namespace, &t.family, &t.from, &t.n_from, reterr);
	if (r < 0)
		goto out;
	r = check_ends(c, "--to", a.to, a.src.namespace, &t.family, &t.to, &t.n_to, reterr);
	if (r < 0)
		goto out;
	if (!t.family)
		t.family = AF_INET;
	/* Finding the classes of pods costs about one engine question per
	 * pod: a table with fewer cells than the cluster has pods (one probe,
	 * --explain) asks the engine directly. */
	if (t.n_from > 1 && t.n_to <= SIZE_MAX / t.n_from && t.n_from * t.n_to >= c->n_pods)
		r = engine_memo_new(c, NULL, &t.m);
	else
		r = engine_new(c, &t.e);
	if (r < 0) {
		bh_err_oom(reterr);
		goto out;
	}
	if (t.m)
		t.e = engine_memo_engine(t.m);
	t.from_ep = calloc(t.n_from ? t.n_from : 1, sizeof(*t.from_ep));
	t.to_ep = calloc(t.n_to ? t.n_to : 1, sizeof(*t.to_ep));
	if (t.n_from && t.n_to > SIZE_MAX / t.n_from) {
		r = bh_err_oom(reterr);
		goto out;
	}
	t.cells = calloc(t.n_from * t.n_to + 1, sizeof(*t.cells));
	if (!t.from_ep || !t.to_ep || !t.cells) {
		r = bh_err_oom(reterr);
		goto out;
	}
	for (size_t i = 0; i < t.n_from; i++)
		end_ep(t.e, &t.from[i], t.family, &t.from_ep[i]);
	for (size_t j = 0; j < t.n_to; j++)
		end_ep(t.e, &t.to[j], t.family, &t.to_ep[j]);

	if (a.explain) {
		r = check_explain(&t, &probes[0], out, stdout, reterr);
		goto flush;
	}
	for (size_t i = 0; i < n_probes; i++) {
		r = check_print_probe(&t, &probes[i], out, stdout, &denied);
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "check: writing the output: %s",
				       strerror(-r));
			goto out;
		}
	}
	r = denied ? BH_EXIT_DENY : BH_EXIT_OK;

flush:
	if (r >= 0 && (fflush(stdout) != 0 || ferror(stdout)))
		r = bh_err_set(reterr, BH_ERR_SYSTEM, errno ? -errno : -EIO,
			       "check: writing the output: %s", strerror(errno ? errno : EIO));
out:
	free(t.from_ep);
	free(t.to_ep);
	free(t.cells);
	if (t.m)
		engine_memo_free(t.m);
	else
		engine_free(t.e);
	ends_free(t.from, t.n_from);
	ends_free(t.to, t.n_to);
	cluster_free(c);
	return r;
}
