#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kube_cache.h"
#include "kube_config.h"
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
	if (s->n_snapshots)
		return snapshot_load_files(s->snapshots, s->n_snapshots, ret, NULL, reterr);
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
