/*
 * The subcommands of the `bulkhead` binary (agent-private).  Each returns an
 * exit status (enum bh_exit, >= 0) when it ran to a verdict, or a negative
 * errno with @reterr filled; main() prints the error and maps its kind to
 * exit status 2 (input) or 3 (system).  argv[0] is the subcommand name;
 * a command reads its flags with cli_getopt_init()/cli_getopt_next() over
 * the table of its struct cli_command, and main() has already answered
 * -h/--help from that table.
 */
#ifndef BH_AGENT_CLI_H
#define BH_AGENT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent_config.h"
#include "cluster.h"
#include "err.h"

typedef int cli_main_fn(int argc, char **argv, struct bh_err *reterr);

cli_main_fn cli_check;
cli_main_fn cli_apply;
cli_main_fn cli_reset;
cli_main_fn cli_learn;
cli_main_fn cli_propose;
cli_main_fn cli_status;
cli_main_fn cli_export;
cli_main_fn cli_alerts;
cli_main_fn cli_dismiss;
cli_main_fn cli_allow;
cli_main_fn cli_proposal;
cli_main_fn cli_agent;

/*
 * One flag of a command: the single source of truth for getopt_long()'s
 * option array, the --help text, and (through --help) the README's command
 * summaries, which golden.cli_readme_flags compares with --help.
 *
 * @id is what cli_getopt_next() returns for the flag, whichever spelling was
 * used: a command's own ids start at CLI_OPT_BASE; the shared ones are below.
 * @short_name (0 for none) is a one-letter synonym of the long name, so "-o"
 * and "--output" are one flag.  @arg is the value's metavariable as --help
 * shows it ("FILE", "json|yaml"), NULL for a switch.
 */
struct cli_flag {
	const char *name;
	char short_name;
	const char *arg;
	int id;
	const char *help; /* one line */
};

enum {
	CLI_OPT_HELP = 1,
	CLI_OPT_SNAPSHOT,
	CLI_OPT_KUBECONFIG,
	CLI_OPT_CONTEXT,
	CLI_OPT_NAMESPACE,
	CLI_OPT_SKIP_UNKNOWN,
	CLI_OPT_BASE = 0x100,
};

/* Every command takes -h/--help; main() prints the help before the command
 * runs, so commands never see CLI_OPT_HELP. */
#define CLI_FLAG_HELP                                                  \
	{                                                              \
		.name = "help", .short_name = 'h', .id = CLI_OPT_HELP, \
		.help = "print this help and exit"                     \
	}
/* The local agent's control socket (bulkhead agent --socket). */
#define CLI_AGENT_SOCKET_DEFAULT AGENT_SOCKET_DEFAULT
#define CLI_FLAG_SOCKET(ID)                                                                  \
	{                                                                                    \
		.name = "socket", .arg = "PATH", .id = (ID),                                 \
		.help = "the agent's control socket (default: " CLI_AGENT_SOCKET_DEFAULT ")" \
	}
/* Cluster state, for the commands that read it (cli_cluster_src). */
#define CLI_FLAG_SNAPSHOT                                                              \
	{                                                                              \
		.name = "snapshot", .arg = "FILE", .id = CLI_OPT_SNAPSHOT,             \
		.help = "cluster state, as kubectl get -o json prints it (repeatable)" \
	}
#define CLI_FLAG_KUBECONFIG                                                             \
	{                                                                               \
		.name = "kubeconfig", .arg = "FILE", .id = CLI_OPT_KUBECONFIG,          \
		.help = "read the cluster state from the API server of this kubeconfig" \
	}
#define CLI_FLAG_CONTEXT                                                           \
	{                                                                          \
		.name = "context", .arg = "NAME", .id = CLI_OPT_CONTEXT,           \
		.help = "the kubeconfig context to use (default: current-context)" \
	}
#define CLI_FLAG_SKIP_UNKNOWN                                                       \
	{                                                                           \
		.name = "skip-unknown", .id = CLI_OPT_SKIP_UNKNOWN,                 \
		.help = "skip snapshot objects that cannot be read, with a warning" \
	}
#define CLI_FLAG_NAMESPACE                                                 \
	{                                                                  \
		.name = "namespace", .arg = "NS", .id = CLI_OPT_NAMESPACE, \
		.help = "narrow the output to this namespace"              \
	}

/* At most this many flags in one command's table. */
#define CLI_FLAGS_MAX 40

/*
 * A command: what main() dispatches to and what --help prints.  @usage is
 * the shape of a call after "bulkhead NAME" (its required flags; "[FLAG]..."
 * is appended); @about a few lines on what it does; @exit_status one line.
 */
struct cli_command {
	const char *name;
	cli_main_fn *fn;
	const char *usage;
	const char *summary; /* one line for 'bulkhead help' */
	const char *about;
	const char *exit_status;
	/* It takes operands (arguments that are not flags, e.g. alert IDs):
	 * cli_getopt_next() leaves them to it, from g->optind on. */
	bool operands;
	const struct cli_flag *flags;
	size_t n_flags;
};

extern const struct cli_command cli_check_cmd;
extern const struct cli_command cli_apply_cmd;
extern const struct cli_command cli_reset_cmd;
extern const struct cli_command cli_learn_cmd;
extern const struct cli_command cli_propose_cmd;
extern const struct cli_command cli_status_cmd;
extern const struct cli_command cli_export_cmd;
extern const struct cli_command cli_alerts_cmd;
extern const struct cli_command cli_dismiss_cmd;
extern const struct cli_command cli_allow_cmd;
extern const struct cli_command cli_proposal_cmd;
extern const struct cli_command cli_agent_cmd;

/* Prints the help of @cmd: usage, about, one line per flag, exit status. */
void cli_help_print(const struct cli_command *cmd, FILE *f);

/* Whether argv holds -h or --help as an option of @cmd (not as the value
 * of another flag).  Resets getopt's state; prints nothing. */
bool cli_help_asked(const struct cli_command *cmd, int argc, char **argv);

/* Iterates over the flags of argv (argv[0] is the command name) with the
 * table of @cmd, through getopt_long(). */
struct cli_getopt {
	const struct cli_command *cmd;
	int argc;
	char **argv;
	const struct cli_flag *flag; /* the flag just returned */
	const char *arg; /* its value, NULL for a switch */
	bool long_form; /* it was spelled --NAME, not -X */
	int optind; /* with cmd->operands: the first operand, once 0 came */
	struct option longopts[CLI_FLAGS_MAX + 1];
	char shortopts[3 * CLI_FLAGS_MAX + 2];
};

/* Resets getopt's global state (optind) for a new scan of @argv. */
void cli_getopt_init(struct cli_getopt *g, const struct cli_command *cmd, int argc, char **argv);

/*
 * The id of the next flag (> 0; g->flag, g->arg and g->long_form describe
 * it), 0 when all of argv was read, or a usage error (-EINVAL, @reterr
 * naming the command and the unknown flag, the flag missing its value, or
 * the argument that is not a flag, unless the command takes operands).
 * -h/--help are skipped.
 */
int cli_getopt_next(struct cli_getopt *g, struct bh_err *reterr);

/* The error for a flag of the table that the command's switch misses: a
 * bug, reported as a system error (-ENOSYS) naming the flag. */
int cli_flag_unhandled(struct bh_err *reterr, const struct cli_getopt *g);

/* How the flag just returned was spelled: "--output" or "-o". */
const char *cli_getopt_spelling(const struct cli_getopt *g, char *buf, size_t len);

#define CLI_FILES_MAX 64

/* Where a command reads cluster state from: --snapshot FILE (repeatable)
 * or the Kubernetes API (--kubeconfig FILE, $KUBECONFIG, ~/.kube/config or
 * in-cluster; --context NAME).  skip_unknown (--skip-unknown) skips
 * snapshot objects that look like NetworkPolicies but cannot be read, and
 * documents that are not Kubernetes objects, instead of refusing them
 * (snapshot.h). */
struct cli_cluster_src {
	const char *snapshots[CLI_FILES_MAX];
	size_t n_snapshots;
	const char *kubeconfig;
	const char *context;
	/* --namespace NS of the commands that narrow their output to one
	 * namespace (check, propose); the cluster is still read whole. */
	const char *namespace;
	bool skip_unknown;
};

/* Appends a --snapshot value; -E2BIG (input error) past CLI_FILES_MAX. */
int cli_cluster_src_add(struct cli_cluster_src *s, const char *path, struct bh_err *reterr);
/*
 * Takes the shared cluster-source flags (--snapshot, --kubeconfig,
 * --context, --namespace, --skip-unknown: CLI_FLAG_*) into @s: 1 when @id
 * was one of them, 0 when it is the command's own, or the error of
 * cli_cluster_src_add().  @arg is borrowed for the command's run.
 */
int cli_cluster_src_opt(struct cli_cluster_src *s, int id, const char *arg, struct bh_err *reterr);
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

/*
 * Parses a duration for @flag of command @cmd into seconds: plain seconds
 * ("90") or numbers with units d, h, m, s, summed ("90s", "10m", "24h",
 * "1h30m").  Within [@min, @max] seconds.  A usage error (-EINVAL) naming
 * the flag otherwise: no sign, no fraction, no number without a unit after
 * a unit, no overflow.
 */
int cli_parse_duration(const char *cmd, const char *flag, const char *s, uint64_t min, uint64_t max,
		       uint64_t *ret, struct bh_err *reterr);

/* Parses an L4 protocol given on the command line, in any case ("tcp",
 * "TCP", "Udp", "sctp"); -EINVAL for anything else. */
int cli_parse_protocol(const char *s, uint8_t *ret);

/* Parses "NS/POD" into two pointers into a copy held by the caller's
 * buffer @buf of @len bytes; -EINVAL when malformed. */
int cli_parse_ns_pod(const char *s, char *buf, size_t len, const char **ret_ns,
		     const char **ret_pod);

/*
 * One HTTP request to the local agent over its control socket
 * (agent/cli_agent_client.c).  @cmd names the command in errors; @path
 * is the request's path ("/status"); a non-NULL @body is POSTed as JSON.
 * The answer's body goes to @write(@ud) as it arrives (libcurl's write
 * callback: return less than given to stop).
 */
struct cli_agent_req {
	const char *cmd;
	const char *sock;
	const char *path;
	const char *body;
	size_t body_len;
	long timeout_ms;
	size_t (*write)(char *p, size_t sz, size_t nmemb, void *ud);
	void *ud;
};
struct cli_agent_answer {
	long code; /* the HTTP status */
	bool json; /* Content-Type application/json */
};
/*
 * 0 with @ret filled when the agent answered (any HTTP status: the
 * caller judges it); -ECANCELED, @reterr untouched, when @write stopped
 * the transfer; else a system error (exit 3) naming the command and the
 * socket: no agent answering, or a timeout.
 */
int cli_agent_request(const struct cli_agent_req *q, struct cli_agent_answer *ret,
		      struct bh_err *reterr) BH_MUST_CHECK;
struct buf;
/*
 * cli_agent_request() with the answer's body into @body (reset first, at
 * most its bound): @q's @write and @ud are set here.  An answer past the
 * bound is a system error naming the command and the socket.
 */
int cli_agent_request_buf(struct cli_agent_req *q, struct buf *body, struct cli_agent_answer *ret,
			  struct bh_err *reterr) BH_MUST_CHECK;

#endif
