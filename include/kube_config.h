/*
 * Where the Kubernetes API is and how to authenticate to it: a kubeconfig
 * file (current context: server, certificate-authority[-data], token,
 * tokenFile, client-certificate[-data], client-key[-data]) or the in-cluster
 * configuration (KUBERNETES_SERVICE_HOST/_PORT, the service account token,
 * re-read when it rotates, and its CA bundle).  TLS is always verified:
 * insecure-skip-tls-verify is refused.  Token values never appear in error
 * messages or logs.
 */
#ifndef BH_KUBE_CONFIG_H
#define BH_KUBE_CONFIG_H

#include <stddef.h>

#include "err.h"

/* The service account directory of a pod; BULKHEAD_SERVICEACCOUNT_DIR
 * overrides it (tests). */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

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
	char *source; /* owned, "kubeconfig 'FILE'" or "in-cluster", for messages */
};

/*
 * Reads the current context of kubeconfig @path.  Relative file names in it
 * are relative to the file's directory.  Input error naming the file and
 * field on failure (-EINVAL, -EBADMSG), system error for I/O.
 */
int kube_config_from_kubeconfig(const char *path, struct kube_config **ret, struct bh_err *reterr);

/*
 * The in-cluster configuration.  -ENOENT (no error detail filled) when
 * KUBERNETES_SERVICE_HOST is not set; an error naming the file when the
 * service account token is missing.
 */
int kube_config_from_cluster(struct kube_config **ret, struct bh_err *reterr);

/*
 * @kubeconfig when not NULL, else the in-cluster configuration.  -ENOENT
 * (no detail) when neither applies.
 */
int kube_config_find(const char *kubeconfig, struct kube_config **ret, struct bh_err *reterr);

/* Builds a configuration by hand (tests, tools): copies every string. */
int kube_config_new(const char *server, const char *ca_file, const char *token,
		    const char *token_file, struct kube_config **ret);

/* NULL-safe; returns NULL. */
struct kube_config *kube_config_free(struct kube_config *c);

/*
 * Parses a YAML document into jansson values (mappings become objects,
 * sequences arrays, every scalar a string).  Exported for tests.  New
 * reference; -EBADMSG with the line and column in @reterr.
 */
struct json_t;
int kube_yaml_load(const char *data, size_t len, const char *name, struct json_t **ret,
		   struct bh_err *reterr);

#endif
