/*
 * Where the API configuration is found, in kubectl's order: --kubeconfig,
 * the files of $KUBECONFIG, ~/.kube/config, then the in-cluster
 * configuration; and, when none applies, an error saying where it looked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_config.h"

/* Files of $KUBECONFIG read at most; kubectl has no bound, a user a handful. */
#define KUBE_CONFIG_FILES_MAX 32

int kube_config_from_cluster(struct kube_config **ret, struct bh_err *reterr)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("BULKHEAD_SERVICEACCOUNT_DIR");
	struct kube_config *c = NULL;
	char *server = NULL, *token = NULL, *ca = NULL;
	int r;

	if (!host || !*host)
		return -ENOENT;
	if (!port || !*port)
		port = "443";
	if (!dir || !*dir)
		dir = KUBE_SA_DIR;
	if (asprintf(&server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) <
		    0 ||
	    asprintf(&token, "%s/token", dir) < 0 || asprintf(&ca, "%s/ca.crt", dir) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	/* Not -ENOENT: that means "not in a cluster" to our callers. */
	if (access(token, R_OK) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, errno == ENOENT ? -ENOKEY : -errno,
			       "in-cluster configuration: service account token '%s': %s", token,
			       strerror(errno));
		goto out;
	}
	if (access(ca, R_OK) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, errno == ENOENT ? -ENOKEY : -errno,
			       "in-cluster configuration: CA bundle '%s': %s", ca, strerror(errno));
		goto out;
	}
	r = kube_config_new(server, ca, NULL, token, &c);
	if (r < 0) {
		bh_err_oom(reterr);
		goto out;
	}
	free(c->source);
	c->source = strdup("in-cluster configuration");
	if (!c->source) {
		r = bh_err_oom(reterr);
		goto out;
	}
	*ret = c;
	c = NULL;
out:
	kube_config_free(c);
	free(server);
	free(token);
	free(ca);
	return r;
}

/* Where kube_config_find() looked, for the error when nothing was found. */
struct looked {
	char msg[BH_ERR_MSG_MAX - 64];
	size_t len;
};

static void BH_PRINTF(2, 3) looked_add(struct looked *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->msg))
		return;
	if (l->len) {
		n = snprintf(l->msg + l->len, sizeof(l->msg) - l->len, "; ");
		l->len += n > 0 ? (size_t) n : 0;
		if (l->len >= sizeof(l->msg))
			return;
	}
	va_start(ap, fmt);
	n = vsnprintf(l->msg + l->len, sizeof(l->msg) - l->len, fmt, ap);
	va_end(ap);
	l->len += n > 0 ? (size_t) n : 0;
}

/* Paths of $KUBECONFIG that exist, in order and without repeats, as
 * kubectl reads them (missing files are skipped, not errors). */
static int kubeconfig_env(const char *env, char **ret_copy, const char **paths, size_t *ret_n,
			  struct looked *l, struct bh_err *reterr)
{
	char *copy = strdup(env), *p, *next;
	size_t n = 0;
	struct stat st;

	if (!copy)
		return bh_err_oom(reterr);
	for (p = copy; p; p = next) {
		bool dup = false;

		next = strchr(p, ':');
		if (next)
			*next++ = '\0';
		if (!*p)
			continue;
		for (size_t i = 0; i < n; i++)
			dup |= strcmp(paths[i], p) == 0;
		if (dup)
			continue;
		if (stat(p, &st) < 0) {
			if (errno != ENOENT) {
				int e = errno;

				free(copy);
				return bh_err_set(reterr, BH_ERR_SYSTEM, -e,
						  "kubeconfig '%s' (from $KUBECONFIG): %s", p,
						  strerror(e));
			}
			looked_add(l, "$KUBECONFIG file '%s': not found", p);
			continue;
		}
		if (n == KUBE_CONFIG_FILES_MAX) {
			free(copy);
			return bh_err_set(reterr, BH_ERR_INPUT, -E2BIG,
					  "$KUBECONFIG: more than %d files", KUBE_CONFIG_FILES_MAX);
		}
		paths[n++] = p;
	}
	*ret_copy = copy;
	*ret_n = n;
	return 0;
}

int kube_config_find(const char *kubeconfig, const char *context, struct kube_config **ret,
		     struct bh_err *reterr)
{
	const char *paths[KUBE_CONFIG_FILES_MAX];
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	struct looked l = { .len = 0 };
	char *copy = NULL, *homecfg = NULL;
	size_t n = 0;
	int r;

	if (kubeconfig)
		return kube_config_from_files(&kubeconfig, 1, context, ret, reterr);
	looked_add(&l, "no --kubeconfig");
	if (env && *env) {
		r = kubeconfig_env(env, &copy, paths, &n, &l, reterr);
		if (r < 0)
			return r;
	} else {
		looked_add(&l, "$KUBECONFIG not set");
		if (home && *home) {
			if (asprintf(&homecfg, "%s/.kube/config", home) < 0)
				return bh_err_oom(reterr);
			if (access(homecfg, F_OK) == 0)
				paths[n++] = homecfg;
			else
				looked_add(&l, "'%s': %s", homecfg,
					   errno == ENOENT ? "not found" : strerror(errno));
		} else {
			looked_add(&l, "$HOME not set");
		}
	}
	if (n) {
		r = kube_config_from_files(paths, n, context, ret, reterr);
		goto out;
	}
	if (context) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			       "--context '%s': no kubeconfig file to find it in (%s)", context,
			       l.msg);
		goto out;
	}
	r = kube_config_from_cluster(ret, reterr);
	if (r == -ENOENT) {
		char where[BH_ERR_MSG_MAX];

		(void) snprintf(where, sizeof(where), "%s", l.msg);
		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			       "no Kubernetes API configuration found (%s; not in a cluster: "
			       "KUBERNETES_SERVICE_HOST not set)",
			       where);
	}
out:
	free(copy);
	free(homecfg);
	return r;
}
