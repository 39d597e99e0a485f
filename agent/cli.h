/*
 * The subcommands of the `bulkhead` binary (agent-private).  Each returns an
 * exit status (enum bh_exit, >= 0) when it ran to a verdict, or a negative
 * errno with @reterr filled; main() prints the error and maps its kind to
 * exit status 2 (input) or 3 (system).  getopt state is reset by main()
 * before each call; argv[0] is the subcommand name.
 */
#ifndef BH_AGENT_CLI_H
#define BH_AGENT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "err.h"

typedef int cli_main_fn(int argc, char **argv, struct bh_err *reterr);

cli_main_fn cli_check;
cli_main_fn cli_apply;
cli_main_fn cli_reset;
cli_main_fn cli_learn;
cli_main_fn cli_propose;

#define CLI_FILES_MAX 64

/* getopt_long values of the options every command that reads the API
 * shares, clear of the commands' own (0x100...). */
#define CLI_OPT_CONTEXT 0x200
#define CLI_OPT_NAMESPACE 0x201

/* Where a command reads cluster state from: --snapshot FILE (repeatable)
 * or the Kubernetes API (--kubeconfig FILE, $KUBECONFIG, ~/.kube/config or
 * in-cluster; --context NAME). */
struct cli_cluster_src {
	const char *snapshots[CLI_FILES_MAX];
	size_t n_snapshots;
	const char *kubeconfig;
	const char *context;
	/* --namespace NS of the commands that narrow their output to one
	 * namespace (check, propose); the cluster is still read whole. */
	const char *namespace;
};

/* Appends a --snapshot value; -E2BIG (input error) past CLI_FILES_MAX. */
int cli_cluster_src_add(struct cli_cluster_src *s, const char *path, struct bh_err *reterr);
/*
 * Loads the cluster from the snapshots, or from the API when none was
 * given, configured as kubectl is (kube_config_find(): --kubeconfig FILE,
 * $KUBECONFIG, ~/.kube/config, in-cluster; --context NAME), listing
 * namespaces, pods, NetworkPolicies and nodes once (kube_cluster_list, at
 * most 60 s).  Always cluster-wide: a context's default namespace does not
 * narrow it (like kubectl -A).  Input error when --snapshot comes with
 * --kubeconfig or --context, when the context is unknown, or when no
 * configuration is found (saying where it looked); system error naming the
 * API server when it cannot be read (TLS, token, exec plugin, timeout).
 *
 * A command that needs cluster state parses "--kubeconfig FILE" and
 * "--context NAME" into @s next to its --snapshot option and calls this.
 */
int cli_cluster_load(const struct cli_cluster_src *s, struct cluster **ret, struct bh_err *reterr);

/*
 * For --namespace NS: -ENOENT (input error naming @ns) when @c has neither
 * a Namespace object nor a pod of that name, so that a typo does not give
 * an empty but successful answer.  0 when @ns is NULL.
 */
int cli_namespace_check(const struct cluster *c, const char *ns, struct bh_err *reterr);

/* A usage error naming the command and what was expected: -EINVAL. */
int cli_usage_err(struct bh_err *reterr, const char *cmd, const char *fmt, ...) BH_PRINTF(3, 4);

/*
 * The usage error for what getopt_long() returned instead of an option,
 * its optstring starting with ':' (main() sets opterr = 0): ':' names the
 * option missing its value, anything else the unknown option.  -EINVAL.
 */
int cli_getopt_err(struct bh_err *reterr, const char *cmd, int c, char *const *argv);

/* Parses a decimal integer in [@min, @max]: no sign, no trailing text;
 * -EINVAL otherwise. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Parses "NS/POD" into two pointers into a copy held by the caller's
 * buffer @buf of @len bytes; -EINVAL when malformed. */
int cli_parse_ns_pod(const char *s, char *buf, size_t len, const char **ret_ns,
		     const char **ret_pod);

#endif
