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
	r = kube_config_find(s->kubeconfig, &cfg, reterr);
	if (r == -ENOENT && !s->kubeconfig)
		return bh_err_set(
			reterr, BH_ERR_INPUT, -EINVAL,
			"--snapshot FILE is required (no Kubernetes API configuration was found)");
	if (r < 0)
		return r;
	r = kube_cluster_list(cfg, CLI_KUBE_TIMEOUT_MS, ret, reterr);
	kube_config_free(cfg);
	return r;
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
