/*
 * exec credential plugins (client.authentication.k8s.io/v1 and v1beta1
 * ExecCredential), the default way to log in to EKS, GKE and AKS: the
 * kubeconfig names a command; we run it without a shell and without a
 * terminal (stdin is /dev/null, stderr is passed through so its prompts and
 * errors reach the user), with KUBERNETES_EXEC_INFO in its environment, read
 * at most KUBE_EXEC_OUTPUT_MAX bytes of JSON from its stdout within a
 * timeout, and take status.token (or status.clientCertificateData and
 * clientKeyData) from it.  The credential is cached for the process until
 * status.expirationTimestamp, or until the API server answers 401.
 *
 * Errors name the plugin's command and what went wrong (not found, exit
 * status, timeout, bad JSON, no token); never a token or key.
 */
#ifndef BH_KUBE_EXEC_H
#define BH_KUBE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kube_config.h"

/* The most a plugin may print; real ones print a few KB. */
#define KUBE_EXEC_OUTPUT_MAX (1u << 20)
/* How long a plugin may run: a cloud CLI that refreshes its own login
 * takes a few seconds; one waiting for a browser never finishes. */
#define KUBE_EXEC_TIMEOUT_MS 60000

struct kube_exec_cred {
	char *token; /* owned bearer token, or NULL */
	char *cert_data, *key_data; /* owned PEM client certificate and key, or NULL */
	size_t cert_data_len, key_data_len;
	int64_t expires; /* unix seconds; 0 when the plugin gave no expiry */
};

/* Wipes and frees what @c holds; @c may be reused. */
void kube_exec_cred_done(struct kube_exec_cred *c);

/*
 * Parses a plugin's output @data (@len bytes, not NUL-terminated): an
 * ExecCredential of @api_version with a status holding a token or a client
 * certificate and key.  @command names the plugin in errors.  Input error
 * (-EBADMSG for JSON, -EINVAL for a field) naming the field; the message
 * never quotes the output.
 */
int kube_exec_cred_parse(const char *data, size_t len, const char *api_version, const char *command,
			 struct kube_exec_cred *ret, struct bh_err *reterr);

/*
 * Runs the plugin of @x once (blocking, at most @timeout_ms) and parses its
 * output into @ret.  System error when it cannot be started, fails, is
 * killed or times out (-ENOENT, -ECHILD, -ETIMEDOUT), input error when its
 * output is not a credential.
 */
int kube_exec_run(const struct kube_exec *x, int timeout_ms, struct kube_exec_cred *ret,
		  struct bh_err *reterr);

/*
 * The credential of @x from the process-wide cache, running the plugin when
 * there is none, when it expired, or when @refresh.  @ret points into the
 * cache (valid until the next kube_exec_* call); @ret_gen identifies it for
 * kube_exec_invalidate().  Errors as kube_exec_run().  Not thread-safe:
 * the agent's one thread only.
 */
int kube_exec_get(const struct kube_exec *x, bool refresh, const struct kube_exec_cred **ret,
		  uint64_t *ret_gen, struct bh_err *reterr);

/* Forgets the cached credential of @x when it is still generation @gen
 * (the API server refused it with 401), so that the next get runs the
 * plugin again; requests that failed with the same credential at once
 * cause one run, not one each. */
void kube_exec_invalidate(const struct kube_exec *x, uint64_t gen);

/* Empties the cache (tests). */
void kube_exec_cache_clear(void);

#endif
