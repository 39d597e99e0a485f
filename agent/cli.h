/*
 * The subcommands of the `bulkhead` binary (agent-private).  Each returns an
 * exit status (enum bh_exit, >= 0) when it ran to a verdict, or a negative
 * errno with @reterr filled; main() prints the error and maps its kind to
 * exit status 2 (input) or 3 (system).  getopt state is reset by main()
 * before each call; argv[0] is the subcommand name.
 */
#ifndef BH_AGENT_CLI_H
#define BH_AGENT_CLI_H

#include <stdbool.h>
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

/* Where a command reads cluster state from: --snapshot FILE (repeatable)
 * or the Kubernetes API (--kubeconfig FILE or in-cluster).  skip_unknown
 * (--skip-unknown) skips snapshot objects that look like NetworkPolicies
 * but cannot be read, and documents that are not Kubernetes objects,
 * instead of refusing them (snapshot.h). */
struct cli_cluster_src {
	const char *snapshots[CLI_FILES_MAX];
	size_t n_snapshots;
	const char *kubeconfig;
	bool skip_unknown;
};

/* Appends a --snapshot value; -E2BIG (input error) past CLI_FILES_MAX. */
int cli_cluster_src_add(struct cli_cluster_src *s, const char *path, struct bh_err *reterr);
/*
 * Loads the cluster from the snapshots, or from the API when none was
 * given: --kubeconfig FILE (s->kubeconfig) or else the in-cluster
 * configuration, listing namespaces, pods, NetworkPolicies and nodes once
 * (kube_cluster_list, at most 60 s).  Input error naming the missing flag
 * when neither is possible; system error naming the API server when it
 * cannot be read (TLS, token, timeout).
 *
 * A command that needs cluster state parses "--kubeconfig FILE" into
 * s->kubeconfig next to its --snapshot option and calls this.
 */
int cli_cluster_load(const struct cli_cluster_src *s, struct cluster **ret, struct bh_err *reterr);

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
