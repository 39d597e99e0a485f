/*
 * bulkhead propose: learned flows + cluster state -> NetworkPolicies.
 *
 *   bulkhead propose --flows FILE [--flows FILE]... --snapshot FILE...
 *                    [-o|--output json|yaml] [--out-file FILE]
 *                    [--ingress-only | --egress-only]
 *                    [--aggregate-ips N] [--aggregate-prefix4 LEN]
 *                    [--aggregate-prefix6 LEN] [--allow-uncovered]
 *
 * The flags are propose_flags[] below (bulkhead propose --help).
 *
 * Prints a List of networking.k8s.io/v1 NetworkPolicies on stdout (YAML by
 * default), or writes it atomically to --out-file.  Before printing, the
 * proposal is evaluated by the policy engine against every learned flow;
 * the coverage and every denied pair go to stderr.  A proposal that would
 * deny a learned flow is a bug: nothing is printed and the exit status is 3,
 * unless --allow-uncovered.  Exit 2 for bad usage or input.
 */
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cli.h"
#include "flows_json.h"
#include "netpol_emit.h"
#include "propose.h"
#include "proto.h"

struct propose_args {
	struct cli_cluster_src src;
	const char *flows[CLI_FILES_MAX];
	size_t n_flows;
	const char *output_format;
	const char *output_file;
	bool ingress_only, egress_only, allow_uncovered;
	struct propose_opts opts;
};

static int parse_uint(const char *cmd, const char *flag, const char *s, unsigned long max,
		      unsigned long *ret, struct bh_err *reterr)
{
	uint64_t v;

	if (cli_parse_u64(s, 0, max, &v) < 0)
		return cli_usage_err(reterr, cmd, "%s: expected an integer 0..%lu, got '%s'", flag,
				     max, s);
	*ret = (unsigned long) v;
	return 0;
}

enum {
	OPT_FLOWS = CLI_OPT_BASE,
	OPT_OUTPUT,
	OPT_OUT_FILE,
	OPT_INGRESS_ONLY,
	OPT_EGRESS_ONLY,
	OPT_AGG,
	OPT_AGG4,
	OPT_AGG6,
	OPT_ALLOW_UNCOVERED,
};

static const struct cli_flag propose_flags[] = {
	{ .name = "flows",
	  .arg = "FILE",
	  .id = OPT_FLOWS,
	  .help = "flows.json written by 'bulkhead learn' (required; repeatable)" },
	CLI_FLAG_SNAPSHOT,
	CLI_FLAG_KUBECONFIG,
	CLI_FLAG_CONTEXT,
	CLI_FLAG_SKIP_UNKNOWN,
	CLI_FLAG_NAMESPACE,
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "json|yaml",
	  .id = OPT_OUTPUT,
	  .help = "output format (default: yaml)" },
	{ .name = "out-file",
	  .arg = "FILE",
	  .id = OPT_OUT_FILE,
	  .help = "write the policies to this file, atomically (default: stdout)" },
	{ .name = "ingress-only", .id = OPT_INGRESS_ONLY, .help = "propose ingress policies only" },
	{ .name = "egress-only", .id = OPT_EGRESS_ONLY, .help = "propose egress policies only" },
	{ .name = "aggregate-ips",
	  .arg = "N",
	  .id = OPT_AGG,
	  .help = "merge over N non-pod peers of a prefix into it (default 0: never)" },
	{ .name = "aggregate-prefix4",
	  .arg = "LEN",
	  .id = OPT_AGG4,
	  .help = "length of the prefix IPv4 peers are merged into (default: 24)" },
	{ .name = "aggregate-prefix6",
	  .arg = "LEN",
	  .id = OPT_AGG6,
	  .help = "length of the prefix IPv6 peers are merged into (default: 64)" },
	{ .name = "allow-uncovered",
	  .id = OPT_ALLOW_UNCOVERED,
	  .help = "write the proposal even when it denies a learned flow" },
	CLI_FLAG_HELP,
};

const struct cli_command cli_propose_cmd = {
	.name = "propose",
	.fn = cli_propose,
	.usage = "--flows FILE... (--snapshot FILE... | --kubeconfig FILE)",
	.summary = "least-privilege NetworkPolicies from learned flows",
	.about = "Prints a List of networking.k8s.io/v1 NetworkPolicies, one ingress and one\n"
		 "egress policy per workload seen, allowing exactly the learned flows.  The\n"
		 "proposal is checked against every learned flow first; coverage goes to\n"
		 "stderr, and a proposal that denies a learned flow is not written.\n",
	.exit_status = "0 written, 2 bad usage or input, 3 system error or a failed self-check",
	.flags = propose_flags,
	.n_flags = BH_ARRAY_SIZE(propose_flags),
};

static int propose_parse(int argc, char **argv, struct propose_args *a, struct bh_err *reterr)
{
	struct cli_getopt g;
	unsigned long v = 0;
	char spelling[64];
	int c, r;

	propose_opts_init(&a->opts);
	cli_getopt_init(&g, &cli_propose_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		r = cli_cluster_src_opt(&a->src, c, g.arg, reterr);
		if (r < 0)
			return r;
		if (r)
			continue;
		switch (c) {
		case OPT_FLOWS:
			if (a->n_flows >= CLI_FILES_MAX)
				return cli_usage_err(reterr, "propose", "--flows: at most %d files",
						     CLI_FILES_MAX);
			a->flows[a->n_flows++] = g.arg;
			break;
		case OPT_OUTPUT:
			cli_getopt_spelling(&g, spelling, sizeof(spelling));
			/* --output named the file before (so 'propose --output
			 * json' wrote ./json): a value that is no format is
			 * refused, naming the flag that writes a file now. */
			if (strcmp(g.arg, "json") != 0 && strcmp(g.arg, "yaml") != 0 && g.long_form)
				return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
						  "propose: --output is the format now ('json' or "
						  "'yaml'); write to a file with --out-file %s",
						  g.arg);
			if (strcmp(g.arg, "json") != 0 && strcmp(g.arg, "yaml") != 0)
				return cli_usage_err(reterr, "propose",
						     "%s: expected 'json' or 'yaml', got '%s'",
						     spelling, g.arg);
			if (a->output_format)
				return cli_usage_err(reterr, "propose", "%s given twice", spelling);
			a->output_format = g.arg;
			break;
		case OPT_OUT_FILE:
			if (a->output_file)
				return cli_usage_err(reterr, "propose", "--out-file given twice");
			a->output_file = g.arg;
			break;
		case OPT_INGRESS_ONLY:
			a->ingress_only = true;
			break;
		case OPT_EGRESS_ONLY:
			a->egress_only = true;
			break;
		case OPT_ALLOW_UNCOVERED:
			a->allow_uncovered = true;
			break;
		case OPT_AGG:
			r = parse_uint("propose", "--aggregate-ips", g.arg, 1000000, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_count = (unsigned) v;
			break;
		case OPT_AGG4:
			r = parse_uint("propose", "--aggregate-prefix4", g.arg, 32, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_plen4 = (uint8_t) v;
			break;
		case OPT_AGG6:
			r = parse_uint("propose", "--aggregate-prefix6", g.arg, 128, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_plen6 = (uint8_t) v;
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (c < 0)
		return c;
	if (a->ingress_only && a->egress_only)
		return cli_usage_err(reterr, "propose",
				     "--ingress-only and --egress-only exclude each other");
	if (!a->n_flows)
		return cli_usage_err(reterr, "propose", "--flows FILE is required");
	if (a->ingress_only)
		a->opts.dir[NETPOL_EGRESS] = false;
	if (a->egress_only)
		a->opts.dir[NETPOL_INGRESS] = false;
	if (!a->output_format)
		a->output_format = "yaml";
	return 0;
}

/*
 * propose allocates and frees a few large blocks in turn: the flows file
 * (91 MB for 200,000 flows), its records and their sorted copy (45 MB
 * each), the output (37 MB).  With glibc's defaults each is a fresh mmap()
 * whose every page faults in zeroed, then goes back to the kernel.  Kept
 * in the heap instead, a freed block's pages serve the next one: 82,000
 * page faults become 54,000 and the kernel time drops by about a third
 * (docs/propose.md, Performance).  Only the memory of this one-shot
 * command is concerned; without the settings it works the same.
 */
#define PROPOSE_MALLOC_THRESHOLD (1024 * 1024 * 1024)

static void malloc_tune(void)
{
	(void) mallopt(M_MMAP_THRESHOLD, PROPOSE_MALLOC_THRESHOLD);
	(void) mallopt(M_TRIM_THRESHOLD, PROPOSE_MALLOC_THRESHOLD);
}

/* The learned flows the proposal answers for: all but those an existing
 * policy denies. */
static size_t answered(const struct proposal *p)
{
	return p->n_checked + p->n_flows_unplaced - p->n_existing_denied;
}

/* The share of learned flows allowed, never rounded up to 100.0% while
 * one is not covered. */
static double coverage(const struct proposal *p)
{
	size_t total = answered(p);
	double pct = total ? 100.0 * (double) p->n_allowed / (double) total : 100.0;

	return proposal_uncovered(p) && pct > 99.9 ? 99.9 : pct;
}

static void report(const struct proposal *p)
{
	fprintf(stderr, "propose: %zu policies for %zu workloads from %zu flows", p->n,
		p->n_workloads_seen, p->n_flows);
	if (p->n_flows_no_pod && p->n_flows_unplaced)
		fprintf(stderr, " (%zu with no pod at either end, %zu not placed)",
			p->n_flows_no_pod, p->n_flows_unplaced);
	else if (p->n_flows_no_pod)
		fprintf(stderr, " (%zu with no pod at either end)", p->n_flows_no_pod);
	else if (p->n_flows_unplaced)
		fprintf(stderr, " (%zu not placed)", p->n_flows_unplaced);
	fprintf(stderr, "\npropose: self-check: %zu/%zu learned flows allowed (%.1f%%)\n",
		p->n_allowed, answered(p), coverage(p));
	/* Only where the cluster has policies of its own: the output for a
	 * cluster without any stays as it was. */
	if (p->n_existing_isolated)
		fprintf(stderr,
			"propose: existing policies: %zu workload direction%s already isolated, "
			"no policy proposed there\n",
			p->n_existing_isolated, p->n_existing_isolated == 1 ? "" : "s");
	if (p->n_existing_allowed || p->n_existing_denied)
		fprintf(stderr,
			"propose: existing policies: %zu learned flows allowed by an existing "
			"policy, %zu denied by one (not counted as the proposal's failures: a "
			"proposal cannot widen an existing policy)\n",
			p->n_existing_allowed, p->n_existing_denied);
	for (size_t i = 0; i < p->n_denials; i++) {
		const struct proposal_denial *d = &p->denials[i];

		fprintf(stderr, "propose: self-check: denied %s -> %s %s/%u (%" PRIu64 " flows)\n",
			d->src, d->dst, proto_name(d->proto), d->port, d->flows);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct proposal_policy *pp = &p->v[i];
		const struct workload *w = &p->ws.v[pp->workload];

		if (pp->denies_all)
			fprintf(stderr, "propose: %s/%s denies all %s %s %s/%s/%s: %s\n", pp->np.ns,
				pp->np.name, netpol_dir_name(pp->dir),
				pp->dir == NETPOL_INGRESS ? "to" : "from", w->ns, w->kind, w->name,
				pp->denies_all);
	}
	for (size_t i = 0; i < p->n_unplaced; i++) {
		const struct proposal_unplaced *u = &p->unplaced[i];

		fprintf(stderr, "propose: not placed: %s -> %s %s/%u (%" PRIu64 " flow%s): %s\n",
			u->src, u->dst, proto_name(u->proto), u->port, u->flows,
			u->flows == 1 ? "" : "s", u->why);
	}
}

/* The policies of namespace @ns only (--namespace; proposal_ns_view()), or
 * all of them, into @out. */
static int emit(const struct proposal *p, const char *ns, bool json, struct buf *out)
{
	struct proposal q = *p;
	int r;

	if (ns) {
		r = proposal_ns_view(p, ns, &q);
		if (r < 0)
			return r;
		fprintf(stderr, "propose: --namespace '%s': writing %zu of %zu policies\n", ns, q.n,
			p->n);
	}
	r = json ? netpol_emit_list_json(&q, out) : netpol_emit_list_yaml(&q, out);
	if (ns)
		proposal_ns_view_done(&q);
	return r;
}

static int write_output(const struct propose_args *a, const struct buf *out, struct bh_err *reterr)
{
	if (a->output_file && strcmp(a->output_file, "-") != 0)
		return atomic_file_write(a->output_file, out->data, out->len, reterr);
	if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "propose: write error on stdout");
	if (fflush(stdout) != 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "propose: write error on stdout");
	return 0;
}

int cli_propose(int argc, char **argv, struct bh_err *reterr)
{
	struct propose_args a = { 0 };
	struct flow_set flows;
	struct cluster *c = NULL;
	struct proposal p = { 0 };
	struct buf out;
	int r;

	flow_set_init(&flows);
	buf_init(&out, SIZE_MAX);
	malloc_tune();
	r = propose_parse(argc, argv, &a, reterr);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < a.n_flows; i++) {
		r = flows_json_load(&flows, a.flows[i], reterr);
		if (r < 0)
			goto out;
	}
	r = cli_cluster_load(&a.src, &c, reterr);
	if (r < 0)
		goto out;
	r = cli_namespace_check(c, a.src.namespace, reterr);
	if (r < 0)
		goto out;
	r = propose_build(&flows, c, &a.opts, &p, reterr);
	if (r < 0)
		goto out;
	r = propose_self_check(&p, &flows, c, reterr);
	if (r < 0)
		goto out;
	report(&p);
	if (proposal_uncovered(&p) && !a.allow_uncovered) {
		size_t total = answered(&p),
		       denied = p.n_checked - p.n_allowed - p.n_existing_denied;

		if (!p.n_flows_unplaced)
			r = bh_err_set(
				reterr, BH_ERR_SYSTEM, -EPROTO,
				"propose: self-check failed: the proposal denies %zu of %zu "
				"learned flows; nothing written (--allow-uncovered writes it "
				"anyway)",
				denied, total);
		else
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
				       "propose: self-check failed: %zu of %zu learned flows could "
				       "not be placed%s; nothing written (--allow-uncovered writes "
				       "it anyway)",
				       p.n_flows_unplaced, total,
				       denied ? " and the proposal denies more" : "");
		goto out;
	}
	r = emit(&p, a.src.namespace, strcmp(a.output_format, "json") == 0, &out);
	if (r == -ENOMEM) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "propose: cannot format the output: %s",
			       strerror(-r));
		goto out;
	}
	r = write_output(&a, &out, reterr);
	if (r == 0)
		r = BH_EXIT_OK;

out:
	buf_done(&out);
	proposal_done(&p);
	cluster_free(c);
	flow_set_done(&flows);
	return r;
}
