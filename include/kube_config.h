/*
 * Where the Kubernetes API is and how to authenticate to it, found as kubectl
 * finds it: --kubeconfig FILE, else the files of $KUBECONFIG (a
 * colon-separated list, merged: the first file to name a cluster, user or
 * context wins, current-context comes from the first file that sets it),
 * else ~/.kube/config, else the in-cluster configuration
 * (KUBERNETES_SERVICE_HOST/_PORT, the service account token, re-read when it
 * rotates, and its CA bundle).  A context (the current one, or one named by
 * --context) gives server, certificate-authority[-data], token, tokenFile,
 * client-certificate[-data], client-key[-data] or an exec credential plugin
 * (kube_exec.h).  TLS is always verified: insecure-skip-tls-verify is
 * refused.  Token values never appear in error messages or logs.
 */
#ifndef BH_KUBE_CONFIG_H
#define BH_KUBE_CONFIG_H

#include <stddef.h>

#include "err.h"

/* The service account directory of a pod; BULKHEAD_SERVICEACCOUNT_DIR
 * overrides it (tests). */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * A user's exec credential plugin (client.authentication.k8s.io/v1 or
 * v1beta1), run by kube_exec.h.  Every string is owned.
 */
struct kube_exec {
	char *command; /* resolved against the kubeconfig's directory when relative with a '/' */
	char **args; /* n_args strings */
	size_t n_args;
	char **env; /* n_env "NAME=value" strings added to the plugin's environment */
	size_t n_env;
	char *api_version; /* "client.authentication.k8s.io/v1" or ".../v1beta1" */
	char *install_hint; /* or NULL */
	char *exec_info; /* the KUBERNETES_EXEC_INFO JSON (ExecCredential with spec) */
};

struct kube_config {
	char *server; /* owned, "https://host:port" without a trailing '/' */
	char *ca_file; /* owned PEM bundle path, or NULL */
	char *ca_data; /* owned decoded PEM, or NULL */
	size_t ca_data_len;
	char *token; /* owned static bearer token, or NULL */
	char *token_file; /* owned, re-read whenever it changes, or NULL */
	char *cert_file, *key_file; /* owned client certificate paths, or NULL */
	char *cert_data, *key_data; /* owned decoded PEM, or NULL */
	size_t cert_data_len, key_data_len;
	struct kube_exec *exec; /* owned exec credential plugin, or NULL */
	char *context; /* owned name of the context used, or NULL (in-cluster) */
	char *namespace; /* owned default namespace of the context, or NULL */
	char *source; /* owned, "kubeconfig 'FILE'" or "in-cluster", for messages */
};

/*
 * Reads the current context of kubeconfig @path.  Relative file names in it
 * are relative to the file's directory.  Input error naming the file and
 * field on failure (-EINVAL, -EBADMSG), system error for I/O.
 */
int kube_config_from_kubeconfig(const char *path, struct kube_config **ret, struct bh_err *reterr);

/*
 * Merges the kubeconfig files @paths (all must exist) as kubectl merges
 * $KUBECONFIG: the first file that names a cluster, user or context wins,
 * current-context is the first non-empty one.  Uses context @context when
 * not NULL, else current-context.  Relative file names are relative to the
 * directory of the file that holds the entry.  Input error naming the
 * file(s) and field; an unknown context is -ENOENT naming it and the files.
 */
int kube_config_from_files(const char *const *paths, size_t n, const char *context,
			   struct kube_config **ret, struct bh_err *reterr);

/*
 * The in-cluster configuration.  -ENOENT (no error detail filled) when
 * KUBERNETES_SERVICE_HOST is not set; an error naming the file when the
 * service account token is missing.
 */
int kube_config_from_cluster(struct kube_config **ret, struct bh_err *reterr);

/*
 * Finds the configuration as kubectl does: @kubeconfig when not NULL, else
 * the existing files of $KUBECONFIG, else $HOME/.kube/config when it
 * exists, else the in-cluster configuration.  @context (may be NULL) picks
 * a context instead of current-context; it is an input error without a
 * kubeconfig.  When nothing is found: -ENOENT, input error saying every
 * place looked at.
 */
int kube_config_find(const char *kubeconfig, const char *context, struct kube_config **ret,
		     struct bh_err *reterr);

/* Builds a configuration by hand (tests, tools): copies every string. */
int kube_config_new(const char *server, const char *ca_file, const char *token,
		    const char *token_file, struct kube_config **ret);

/* A deep copy of @c, or NULL when out of memory. */
struct kube_config *kube_config_dup(const struct kube_config *c);

/* NULL-safe; returns NULL. */
struct kube_exec *kube_exec_free(struct kube_exec *x);

/* NULL-safe; returns NULL. */
struct kube_config *kube_config_free(struct kube_config *c);

#endif
