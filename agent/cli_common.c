#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "duration.h"
#include "kube_cache.h"
#include "kube_config.h"
#include "proto.h"
#include "snapshot.h"

int cli_usage_err(struct bh_err *reterr, const char *cmd, const char *fmt, ...)
{
	char msg[BH_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: %s (see 'bulkhead help')", cmd, msg);
}

int cli_getopt_err(struct bh_err *reterr, const char *cmd, int c, char *const *argv)
{
	if (c == ':')
		return cli_usage_err(reterr, cmd, "'%s' needs a value", argv[optind - 1]);
	return cli_usage_err(reterr, cmd, "unknown option '%s'", argv[optind - 1]);
}

int cli_cluster_src_add(struct cli_cluster_src *s, const char *path, struct bh_err *reterr)
{
	if (s->n_snapshots >= CLI_FILES_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -E2BIG, "--snapshot: at most %d files",
				  CLI_FILES_MAX);
	s->snapshots[s->n_snapshots++] = path;
	return 0;
}

int cli_cluster_src_opt(struct cli_cluster_src *s, int id, const char *arg, struct bh_err *reterr)
{
	int r;

	switch (id) {
	case CLI_OPT_SNAPSHOT:
		r = cli_cluster_src_add(s, arg, reterr);
		return r < 0 ? r : 1;
	case CLI_OPT_KUBECONFIG:
		s->kubeconfig = arg;
		return 1;
	case CLI_OPT_CONTEXT:
		s->context = arg;
		return 1;
	case CLI_OPT_NAMESPACE:
		s->namespace = arg;
		return 1;
	case CLI_OPT_SKIP_UNKNOWN:
		s->skip_unknown = true;
		return 1;
	default:
		return 0;
	}
}

/* How long a command waits for the API server's complete lists. */
#define CLI_KUBE_TIMEOUT_MS 60000

int cli_cluster_load(const struct cli_cluster_src *s, struct cluster **ret, struct bh_err *reterr)
{
	struct kube_config *cfg = NULL;
	int r;

	/* Not a silent choice: the user meant one of them. */
	if (s->n_snapshots && (s->kubeconfig || s->context))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "--snapshot and %s exclude each other (cluster state comes "
				  "from files or from the API, not both)",
				  s->kubeconfig ? "--kubeconfig" : "--context");
	if (s->n_snapshots) {
		const struct snapshot_opts o = { .skip_unknown = s->skip_unknown, .warn = true };
		char msg[BH_ERR_MSG_MAX];

		r = snapshot_load(s->snapshots, s->n_snapshots, &o, ret, NULL, reterr);
		if (r == -ENOMSG && reterr) {
			memcpy(msg, reterr->msg, sizeof(msg));
			(void) bh_err_set(reterr, BH_ERR_INPUT, r, "%s; --skip-unknown skips it",
					  msg);
		}
		return r;
	}
	r = kube_config_find(s->kubeconfig, s->context, &cfg, reterr);
	if (r == -ENOENT && !s->kubeconfig && !s->context)
		return bh_err_prefix(reterr, "--snapshot FILE is required: ");
	if (r < 0)
		return r;
	r = kube_cluster_list(cfg, CLI_KUBE_TIMEOUT_MS, ret, reterr);
	kube_config_free(cfg);
	return r;
}

int cli_namespace_check(const struct cluster *c, const char *ns, struct bh_err *reterr)
{
	if (!ns || cluster_ns_find(c, ns))
		return 0;
	for (size_t i = 0; i < c->n_pods; i++)
		if (strcmp(c->pods[i].ns, ns) == 0)
			return 0;
	return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			  "--namespace '%s': no such namespace in the cluster state", ns);
}

int cli_parse_ns_pod(const char *s, char *buf, size_t len, const char **ret_ns,
		     const char **ret_pod)
{
	const char *slash = strchr(s, '/');
	size_t n = strlen(s);

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || n >= len)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	buf[slash - s] = '\0';
	*ret_ns = buf;
	*ret_pod = buf + (slash - s) + 1;
	return 0;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* getopt_long() returns this plus the flag's index for a long option. */
#define CLI_VAL_LONG 0x1000

void cli_getopt_init(struct cli_getopt *g, const struct cli_command *cmd, int argc, char **argv)
{
	size_t n = cmd->n_flags < CLI_FLAGS_MAX ? cmd->n_flags : CLI_FLAGS_MAX;
	char *p;

	*g = (struct cli_getopt){ .cmd = cmd, .argc = argc, .argv = argv };
	p = g->shortopts;
	/* ':' first: a missing value is reported as ':', not printed. */
	*p++ = ':';
	for (size_t i = 0; i < n; i++) {
		const struct cli_flag *f = &cmd->flags[i];

		g->longopts[i] =
			(struct option){ .name = f->name,
					 .has_arg = f->arg ? required_argument : no_argument,
					 .val = CLI_VAL_LONG + (int) i };
		if (f->short_name) {
			*p++ = f->short_name;
			if (f->arg)
				*p++ = ':';
		}
	}
	*p = '\0';
	/* 0, not 1: glibc then also forgets a half-read "-abc" cluster of
	 * the previous scan. */
	optind = 0;
	opterr = 0;
}

/* The table index of what getopt_long() returned, or n_flags. */
static size_t flag_index(const struct cli_command *cmd, int c)
{
	size_t i;

	if (c >= CLI_VAL_LONG)
		return (size_t) (c - CLI_VAL_LONG);
	for (i = 0; i < cmd->n_flags; i++)
		if (cmd->flags[i].short_name == c)
			break;
	return i;
}

int cli_getopt_next(struct cli_getopt *g, struct bh_err *reterr)
{
	const struct cli_command *cmd = g->cmd;
	int c;

	while ((c = getopt_long(g->argc, g->argv, g->shortopts, g->longopts, NULL)) != -1) {
		size_t i;

		if (c == ':' || c == '?')
			return cli_getopt_err(reterr, cmd->name, c, g->argv);
		i = flag_index(cmd, c);
		if (i >= cmd->n_flags)
			return cli_getopt_err(reterr, cmd->name, '?', g->argv);
		if (cmd->flags[i].id == CLI_OPT_HELP)
			continue;
		g->flag = &cmd->flags[i];
		g->arg = g->flag->arg ? optarg : NULL;
		g->long_form = c >= CLI_VAL_LONG;
		return g->flag->id;
	}
	g->optind = optind;
	if (optind < g->argc && !cmd->operands)
		return cli_usage_err(reterr, cmd->name, "unexpected argument '%s'",
				     g->argv[optind]);
	return 0;
}

int cli_flag_unhandled(struct bh_err *reterr, const struct cli_getopt *g)
{
	return bh_err_set(reterr, BH_ERR_SYSTEM, -ENOSYS, "%s: --%s is not implemented",
			  g->cmd->name, g->flag->name);
}

const char *cli_getopt_spelling(const struct cli_getopt *g, char *buf, size_t len)
{
	if (g->long_form || !g->flag->short_name)
		(void) snprintf(buf, len, "--%s", g->flag->name);
	else
		(void) snprintf(buf, len, "-%c", g->flag->short_name);
	return buf;
}

bool cli_help_asked(const struct cli_command *cmd, int argc, char **argv)
{
	struct cli_getopt g;
	bool asked = false;
	int c;

	cli_getopt_init(&g, cmd, argc, argv);
	/* Errors do not stop the scan: "--bogus --help" still asks for help. */
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		size_t i = c == ':' || c == '?' ? cmd->n_flags : flag_index(cmd, c);

		if (i < cmd->n_flags && cmd->flags[i].id == CLI_OPT_HELP)
			asked = true;
	}
	optind = 0;
	return asked;
}

/* Flags and their values are aligned up to this column. */
#define CLI_HELP_COLUMN 32

void cli_help_print(const struct cli_command *cmd, FILE *f)
{
	fprintf(f, "usage: bulkhead %s%s%s%s\n", cmd->name, *cmd->usage ? " " : "", cmd->usage,
		cmd->n_flags > 1 ? " [FLAG]..." : "");
	if (cmd->about && *cmd->about)
		fprintf(f, "\n%s", cmd->about);
	fprintf(f, "\nflags:\n");
	for (size_t i = 0; i < cmd->n_flags; i++) {
		const struct cli_flag *fl = &cmd->flags[i];
		char head[128];
		int n;

		if (fl->short_name)
			n = snprintf(head, sizeof(head), "  -%c, --%s%s%s", fl->short_name,
				     fl->name, fl->arg ? " " : "", fl->arg ? fl->arg : "");
		else
			n = snprintf(head, sizeof(head), "      --%s%s%s", fl->name,
				     fl->arg ? " " : "", fl->arg ? fl->arg : "");
		if (n < CLI_HELP_COLUMN)
			fprintf(f, "%-*s%s\n", CLI_HELP_COLUMN, head, fl->help);
		else
			fprintf(f, "%s  %s\n", head, fl->help);
	}
	fprintf(f, "\nexit status: %s\n", cmd->exit_status);
}

int cli_parse_duration(const char *cmd, const char *flag, const char *s, uint64_t min, uint64_t max,
		       uint64_t *ret, struct bh_err *reterr)
{
	char lo[32], hi[32];
	uint64_t v = 0;

	if (!s || duration_parse(s, &v) < 0 || v < min || v > max)
		return cli_usage_err(
			reterr, cmd,
			"%s: expected seconds or a duration like 90s, 10m, 24h or 1h30m "
			"(%s..%s), got '%s'",
			flag, duration_format(min, lo, sizeof(lo)),
			duration_format(max, hi, sizeof(hi)), s ? s : "");
	*ret = v;
	return 0;
}

int cli_parse_protocol(const char *s, uint8_t *ret)
{
	static const char *const names[] = { "TCP", "UDP", "SCTP" };

	for (size_t i = 0; s && i < BH_ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return proto_parse(names[i], ret);
	return -EINVAL;
}
