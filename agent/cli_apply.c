/*
 * bulkhead apply / bulkhead reset: the node's NetworkPolicies as one
 * nftables table (docs/enforcer.md).
 *
 *   bulkhead apply --snapshot FILE... --node NAME --mode preview|enforce
 *                  [--nflog-group N] [--dry-run [-o nft|payload]]
 *                  [--incremental-from FILE...] [--datapath auto|routed|bridged=...]
 *                  [--proposal FILE [--proposal-mode preview|enforce]]
 *   bulkhead reset
 *
 * The flags are apply_flags[] below (bulkhead apply --help).
 *
 * --datapath: how the node carries its local pods' traffic (routed,
 * bridged with or without br_netfilter; include/datapath.h).  auto (the
 * default without --dry-run) reads it from the node's network namespace;
 * --dry-run compiles offline (routed) unless told.
 *
 * --dry-run prints the ruleset (nft syntax, loadable by `nft -f`; or the
 * libnftnl objects with -o payload) and needs no privileges.
 * --incremental-from OLD: the kernel holds the ruleset of OLD (a full
 * apply of it, for this node and mode, and nothing since: checked by the
 * table's digest, else an input error and nothing sent); move it to
 * --snapshot through the sync object (include/sync.h) the agent calls on
 * watch events, flushed after each changed pod, policy, namespace or
 * node: one batch each (not one transaction: an error leaves the kernel
 * at the last event committed), then the verdict-map refill.
 * --proposal FILE: its NetworkPolicies are compiled as a proposal in
 * --proposal-mode (cli_proposal_merge(); docs/enforcer.md, "Two origins
 * of policy"), next to --snapshot's (not --incremental-from's).
 * BULKHEAD_FAULT_INJECT=commit appends an object the kernel rejects to
 * every batch (tests: a failed batch must change nothing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "datapath.h"
#include "log.h"
#include "nftio.h"
#include "ruleset.h"
#include "str.h"
#include "sync.h"

struct apply_args {
	struct cli_cluster_src src;
	struct cli_cluster_src from;
	const char *node, *mode, *output, *group, *datapath;
	const char *proposal, *proposal_mode;
	bool dry_run;
};

enum {
	OPT_NODE = CLI_OPT_BASE,
	OPT_MODE,
	OPT_DRY_RUN,
	OPT_GROUP,
	OPT_FROM,
	OPT_OUTPUT,
	OPT_DATAPATH,
	OPT_PROPOSAL,
	OPT_PROPOSAL_MODE,
};

static const struct cli_flag apply_flags[] = {
	CLI_FLAG_SNAPSHOT,
	CLI_FLAG_KUBECONFIG,
	CLI_FLAG_CONTEXT,
	CLI_FLAG_SKIP_UNKNOWN,
	{ .name = "node",
	  .arg = "NAME",
	  .id = OPT_NODE,
	  .help = "compile the policies of the pods on this node (required)" },
	{ .name = "mode",
	  .arg = "preview|enforce",
	  .id = OPT_MODE,
	  .help = "log what would be dropped and accept it, or drop it (required)" },
	{ .name = "nflog-group",
	  .arg = "N",
	  .id = OPT_GROUP,
	  .help = "NFLOG group of preview's logs (default: 16968)" },
	{ .name = "dry-run",
	  .id = OPT_DRY_RUN,
	  .help = "print the ruleset instead of loading it (no privileges needed)" },
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "nft|payload",
	  .id = OPT_OUTPUT,
	  .help = "format of --dry-run: nft, or libnftnl objects (default: nft)" },
	{ .name = "incremental-from",
	  .arg = "FILE",
	  .id = OPT_FROM,
	  .help = "the kernel holds this snapshot's rules: update them per event" },
	{ .name = "datapath",
	  .arg = "auto|routed|bridged=MAC,PREFIX...",
	  .id = OPT_DATAPATH,
	  .help = "how pod traffic crosses the node (default: auto; routed for --dry-run)" },
	CLI_FLAG_PROPOSAL(OPT_PROPOSAL),
	CLI_FLAG_PROPOSAL_MODE(OPT_PROPOSAL_MODE),
	CLI_FLAG_HELP,
};

const struct cli_command cli_apply_cmd = {
	.name = "apply",
	.fn = cli_apply,
	.usage = "--snapshot FILE... --node NAME --mode preview|enforce",
	.summary = "enforce the NetworkPolicies of one node with nftables",
	.about = "Compiles the policies for the pods of --node into the nftables table\n"
		 "'inet bulkhead' and loads it in one atomic netlink batch (needs\n"
		 "CAP_NET_ADMIN).  preview logs to NFLOG what enforce would drop, and\n"
		 "accepts it.  Applying the same input twice changes nothing.\n",
	.exit_status = "0 applied, 2 bad usage or input, 3 system error (netlink, permission)",
	.flags = apply_flags,
	.n_flags = BH_ARRAY_SIZE(apply_flags),
};

static const struct cli_flag reset_flags[] = {
	CLI_FLAG_HELP,
};

const struct cli_command cli_reset_cmd = {
	.name = "reset",
	.fn = cli_reset,
	.usage = "",
	.summary = "delete the nftables table of bulkhead",
	.about = "Deletes the table 'inet bulkhead' (needs CAP_NET_ADMIN); nothing else in\n"
		 "the ruleset is touched.  No table is not an error.\n",
	.exit_status = "0 deleted or absent, 2 bad usage, 3 system error (netlink, permission)",
	.flags = reset_flags,
	.n_flags = BH_ARRAY_SIZE(reset_flags),
};

static int apply_parse(int argc, char **argv, struct apply_args *a, struct bh_err *reterr)
{
	struct cli_getopt g;
	const char **once = NULL;
	const char *name = NULL;
	int c, r;

	cli_getopt_init(&g, &cli_apply_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		r = cli_cluster_src_opt(&a->src, c, g.arg, reterr);
		if (r < 0)
			return r;
		if (r) {
			a->from.skip_unknown = a->src.skip_unknown;
			continue;
		}
		switch (c) {
		case OPT_FROM:
			r = cli_cluster_src_add(&a->from, g.arg, reterr);
			if (r < 0)
				return r;
			continue;
		case OPT_DRY_RUN:
			a->dry_run = true;
			continue;
		case OPT_NODE:
			once = &a->node, name = "--node";
			break;
		case OPT_MODE:
			once = &a->mode, name = "--mode";
			break;
		case OPT_GROUP:
			once = &a->group, name = "--nflog-group";
			break;
		case OPT_OUTPUT:
			once = &a->output, name = "-o";
			break;
		case OPT_DATAPATH:
			once = &a->datapath, name = "--datapath";
			break;
		case OPT_PROPOSAL:
			once = &a->proposal, name = "--proposal";
			break;
		case OPT_PROPOSAL_MODE:
			once = &a->proposal_mode, name = "--proposal-mode";
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
		if (*once)
			return cli_usage_err(reterr, "apply", "%s given twice", name);
		*once = g.arg;
	}
	if (c < 0)
		return c;
	if (!a->node)
		return cli_usage_err(reterr, "apply", "--node NAME is required");
	if (!a->mode)
		return cli_usage_err(reterr, "apply", "--mode preview|enforce is required");
	if (a->output && !a->dry_run)
		return cli_usage_err(reterr, "apply", "-o needs --dry-run");
	if (a->output && strcmp(a->output, "nft") != 0 && strcmp(a->output, "payload") != 0)
		return cli_usage_err(reterr, "apply", "-o: expected nft or payload, got '%s'",
				     a->output);
	if (a->dry_run && a->from.n_snapshots)
		return cli_usage_err(reterr, "apply",
				     "--incremental-from needs the kernel, "
				     "not --dry-run");
	return 0;
}

/*
 * Whether the cluster knows node @name: a Node object, or a pod scheduled
 * there (snapshots often carry pods but no Node objects).  A mistyped
 * --node would otherwise compile an empty ruleset and apply it.
 */
static bool node_known(const struct cluster *c, const char *name)
{
	if (cluster_node_find(c, name))
		return true;
	for (size_t i = 0; i < c->n_pods; i++)
		if (str_eq_opt(c->pods[i].node, name))
			return true;
	return false;
}

/*
 * Replays the differences between @work (a copy of what the kernel holds)
 * and @new as watch events through the sync object, one batch each
 * (sync_cluster_diff()).  @work ends equal to @new.  The burst is over
 * then: the pods that joined a class go back in the verdict maps, one
 * batch more (include/ruleset.h).
 */
static int apply_incremental(struct sync *s, struct cluster *work, const struct cluster *new,
			     struct bh_err *reterr)
{
	int r;

	r = sync_cluster_diff(s, work, new, true, reterr);
	if (r >= 0)
		r = sync_refill(s, reterr);
	if (r >= 0)
		r = sync_flush(s, reterr);
	return r < 0 ? r : 0;
}

/*
 * The deltas are computed from @from's ruleset @rs: refuse (input error,
 * nothing sent) unless the kernel holds exactly what a full apply of it
 * put there.  Not a full apply instead: this hook exists to drive the
 * incremental path, and a run that quietly replaced the table would
 * measure and test something else; the full apply is the same command
 * without --incremental-from.
 */
static int incr_check_base(struct nftio *nio, const struct ruleset *rs,
			   const struct cli_cluster_src *from, struct bh_err *reterr)
{
	char files[BH_ERR_MSG_MAX / 2], why[BH_ERR_MSG_MAX];
	size_t len = 0;
	int r;

	r = nftio_table_holds(nio, rs, reterr);
	if (r != -ESTALE)
		return r;
	files[0] = '\0';
	for (size_t i = 0; i < from->n_snapshots && len < sizeof(files); i++) {
		int n = snprintf(files + len, sizeof(files) - len, "%s'%s'", i ? " " : "",
				 from->snapshots[i]);

		if (n < 0)
			break;
		len += (size_t) n;
	}
	(void) snprintf(why, sizeof(why), "%s", reterr->msg);
	return bh_err_set(reterr, BH_ERR_INPUT, r,
			  "apply: --incremental-from %s: not what the kernel holds: %s; "
			  "nothing sent (apply without --incremental-from replaces the table)",
			  files, why);
}

/*
 * The datapath for --datapath @spec: *@ret NULL for routed (the inet
 * table alone), else @dp filled.  auto reads the node's namespace; the
 * caller warns, in one line once the ruleset is applied, when it cannot
 * see some pod traffic.
 */
static int apply_datapath(const char *spec, const struct cluster *c, const char *node,
			  struct datapath *dp, const struct datapath **ret, struct bh_err *reterr)
{
	struct datapath_facts f;
	struct addr *pods = NULL;
	size_t n = 0;
	int r;

	*ret = NULL;
	if (strcmp(spec, "routed") == 0)
		return 0;
	if (strcmp(spec, "auto") != 0) {
		r = datapath_parse_bridged(spec, dp, reterr);
		if (r == 0)
			*ret = dp;
		return r;
	}
	for (size_t i = 0; i < c->n_pods; i++)
		if (str_eq_opt(c->pods[i].node, node) && !c->pods[i].host_network &&
		    !pod_finished(&c->pods[i]))
			n += c->pods[i].n_ips;
	pods = calloc(n ? n : 1, sizeof(*pods));
	if (!pods)
		return bh_err_oom(reterr);
	n = 0;
	for (size_t i = 0; i < c->n_pods; i++)
		if (str_eq_opt(c->pods[i].node, node) && !c->pods[i].host_network &&
		    !pod_finished(&c->pods[i]))
			for (size_t k = 0; k < c->pods[i].n_ips; k++)
				pods[n++] = c->pods[i].ips[k];
	r = datapath_gather(&f, reterr);
	if (r == 0)
		datapath_detect(&f, pods, n, dp);
	datapath_facts_done(&f);
	free(pods);
	if (r < 0)
		return r;
	*ret = dp;
	return 0;
}

/* Tests: BULKHEAD_FAULT_INJECT=commit|batch makes the kernel refuse every
 * batch (include/nftio.h). */
static void fault_inject(struct nftio *nio)
{
	const char *f = getenv("BULKHEAD_FAULT_INJECT");

	if (f && strcmp(f, "commit") == 0)
		nftio_inject_fault(nio, NFTIO_FAULT_MESSAGE);
	else if (f && strcmp(f, "batch") == 0)
		nftio_inject_fault(nio, NFTIO_FAULT_BATCH);
}

int cli_apply(int argc, char **argv, struct bh_err *reterr)
{
	struct apply_args a = { 0 };
	struct ruleset_opts o = { 0 };
	struct datapath dp = { 0 };
	char dpline[512];
	struct cluster *c = NULL, *old = NULL;
	struct ruleset *rs = NULL;
	struct nftio *nio = NULL;
	struct sync *sync = NULL;
	struct buf out;
	int r;

	buf_init(&out, (size_t) 1 << 31);
	r = apply_parse(argc, argv, &a, reterr);
	if (r < 0)
		goto out;
	r = bh_mode_parse(a.mode, &o.mode);
	if (r < 0) {
		r = cli_usage_err(reterr, "apply", "--mode: expected preview or enforce, got '%s'",
				  a.mode);
		goto out;
	}
	if (a.group) {
		char *end;
		unsigned long g = strtoul(a.group, &end, 10);

		if (*end || end == a.group || g > 65535) {
			r = cli_usage_err(reterr, "apply",
					  "--nflog-group: expected 0..65535, "
					  "got '%s'",
					  a.group);
			goto out;
		}
		o.nflog_group = (uint16_t) g;
		o.nflog_group_set = true;
	}
	o.node = a.node;
	/* Everything that can fail on bad input happens before the kernel
	 * is touched: a bad snapshot leaves the ruleset as it was. */
	r = cli_cluster_load(&a.src, &c, reterr);
	if (r < 0)
		goto out;
	r = cli_proposal_merge(c, "apply", a.proposal, a.proposal_mode, reterr);
	if (r < 0)
		goto out;
	if (!node_known(c, a.node)) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			       "apply: --node '%s': no Node object of that name and no pod "
			       "with that spec.nodeName in the cluster",
			       a.node);
		goto out;
	}
	if (a.from.n_snapshots) {
		r = cli_cluster_load(&a.from, &old, reterr);
		if (r < 0)
			goto out;
	}
	r = apply_datapath(a.datapath ? a.datapath :
			   a.dry_run  ? "routed" :
					"auto",
			   c, a.node, &dp, &o.datapath, reterr);
	if (r < 0)
		goto out;
	r = ruleset_build(old ? old : c, &o, &rs, reterr);
	if (r < 0) {
		(void) bh_err_prefix(reterr, old ? "apply: --incremental-from: " : "apply: ");
		goto out;
	}
	if (a.dry_run) {
		if (a.output && strcmp(a.output, "payload") == 0)
			r = ruleset_payload(rs, &out);
		else
			r = ruleset_text(rs, &out);
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "apply: rendering the ruleset");
			goto out;
		}
		if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "apply: writing stdout");
			goto out;
		}
		r = 0;
		goto out;
	}
	r = nftio_open(&nio, reterr);
	if (r < 0)
		goto out;
	fault_inject(nio);
	if (old) {
		const struct sync_stats *st;

		r = incr_check_base(nio, rs, &a.from, reterr);
		if (r == -EPERM && !strstr(reterr->msg, "CAP_NET_ADMIN"))
			(void) bh_err_prefix(reterr, "needs root (CAP_NET_ADMIN): ");
		if (r < 0)
			goto out;
		r = sync_new(rs, old, nio, NULL, &sync);
		if (r < 0) {
			r = bh_err_oom(reterr);
			goto out;
		}
		r = apply_incremental(sync, old, c, reterr);
		if (r < 0)
			goto out;
		st = sync_stats(sync);
		printf("updated: %zu events, %zu batches, %zu objects; table replaced: %zu "
		       "planned, %zu after the kernel found a set full; verdict maps refilled: "
		       "%zu addresses\n",
		       st->events, st->batches, st->objects, st->full, st->full_fallbacks,
		       st->refilled);
		r = 0;
		goto out;
	}
	r = nftio_apply(nio, rs, reterr);
	if (r < 0) {
		if (r == -EPERM && !strstr(reterr->msg, "CAP_NET_ADMIN"))
			(void) bh_err_prefix(reterr, "needs root (CAP_NET_ADMIN) or --dry-run: ");
		goto out;
	}
	if (r == 0) {
		printf("unchanged: table inet %s already holds this ruleset\n", RULESET_TABLE);
	} else {
		const struct nftio_stats *st = nftio_stats(nio);

		printf("applied: table inet %s, mode %s, %zu sets, %zu chains, one batch of %zu "
		       "messages (%zu bytes)\n",
		       RULESET_TABLE, bh_mode_name(o.mode), ruleset_n_sets(rs),
		       ruleset_n_chains(rs), st->messages, st->bytes);
	}
	if (o.datapath) {
		/* Said once the ruleset is in, so a refused input stays one
		 * line; a datapath the ruleset cannot see is a warning. */
		(void) datapath_describe(o.datapath, dpline, sizeof(dpline));
		if (datapath_blind(o.datapath))
			log_warning("apply: %s", dpline);
		else
			printf("%s\n", dpline);
	}
	r = 0;
out:
	buf_done(&out);
	sync_free(sync);
	nftio_free(nio);
	ruleset_free(rs);
	cluster_free(c);
	cluster_free(old);
	return r;
}

int cli_reset(int argc, char **argv, struct bh_err *reterr)
{
	struct cli_getopt g;
	struct nftio *nio = NULL;
	int r;

	cli_getopt_init(&g, &cli_reset_cmd, argc, argv);
	r = cli_getopt_next(&g, reterr); /* only -h/--help, which main() handles */
	if (r > 0)
		r = cli_flag_unhandled(reterr, &g);
	if (r < 0)
		return r;
	r = nftio_open(&nio, reterr);
	if (r < 0)
		return r;
	fault_inject(nio);
	r = nftio_reset(nio, reterr);
	nftio_free(nio);
	if (r == -EPERM)
		(void) bh_err_prefix(reterr, "needs root (CAP_NET_ADMIN): ");
	if (r < 0)
		return r;
	printf(r ? "reset: table inet %s deleted\n" : "reset: no table inet %s\n", RULESET_TABLE);
	return 0;
}
