/*
 * bulkhead propose: learned flows + cluster state -> NetworkPolicies.
 *
 *   bulkhead propose --flows FILE [--flows FILE]... --snapshot FILE...
 *                    [-o json|yaml] [--output FILE]
 *                    [--ingress-only | --egress-only]
 *                    [--aggregate-ips N] [--aggregate-prefix4 LEN]
 *                    [--aggregate-prefix6 LEN] [--allow-uncovered]
 *
 * Prints a List of networking.k8s.io/v1 NetworkPolicies on stdout (YAML by
 * default), or writes it atomically to --output.  Before printing, the
 * proposal is evaluated by the policy engine against every learned flow;
 * the coverage and every denied pair go to stderr.  A proposal that would
 * deny a learned flow is a bug: nothing is printed and the exit status is 3,
 * unless --allow-uncovered.  Exit 2 for bad usage or input.
 */
#include <errno.h>
#include <getopt.h>
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

static int propose_parse(int argc, char **argv, struct propose_args *a, struct bh_err *reterr)
{
	enum {
		OPT_FLOWS = 0x100,
		OPT_SNAPSHOT,
		OPT_OUTPUT_FILE,
		OPT_INGRESS_ONLY,
		OPT_EGRESS_ONLY,
		OPT_AGG,
		OPT_AGG4,
		OPT_AGG6,
		OPT_ALLOW_UNCOVERED,
		OPT_KUBECONFIG,
	};
	static const struct option opts[] = {
		{ "flows", required_argument, NULL, OPT_FLOWS },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "skip-unknown", no_argument, NULL, 'U' },
		{ "output", required_argument, NULL, OPT_OUTPUT_FILE },
		{ "ingress-only", no_argument, NULL, OPT_INGRESS_ONLY },
		{ "egress-only", no_argument, NULL, OPT_EGRESS_ONLY },
		{ "aggregate-ips", required_argument, NULL, OPT_AGG },
		{ "aggregate-prefix4", required_argument, NULL, OPT_AGG4 },
		{ "aggregate-prefix6", required_argument, NULL, OPT_AGG6 },
		{ "allow-uncovered", no_argument, NULL, OPT_ALLOW_UNCOVERED },
		{ 0 },
	};
	unsigned long v = 0;
	int c, r;

	propose_opts_init(&a->opts);
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FLOWS:
			if (a->n_flows >= CLI_FILES_MAX)
				return cli_usage_err(reterr, "propose", "--flows: at most %d files",
						     CLI_FILES_MAX);
			a->flows[a->n_flows++] = optarg;
			break;
		case OPT_SNAPSHOT:
			r = cli_cluster_src_add(&a->src, optarg, reterr);
			if (r < 0)
				return r;
			break;
		case 'U':
			a->src.skip_unknown = true;
			break;
		case OPT_KUBECONFIG:
			a->src.kubeconfig = optarg;
			break;
		case 'o':
			if (a->output_format)
				return cli_usage_err(reterr, "propose", "-o given twice");
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "yaml") != 0)
				return cli_usage_err(reterr, "propose",
						     "-o: expected 'json' or 'yaml', got '%s'",
						     optarg);
			a->output_format = optarg;
			break;
		case OPT_OUTPUT_FILE:
			if (a->output_file)
				return cli_usage_err(reterr, "propose", "--output given twice");
			a->output_file = optarg;
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
			r = parse_uint("propose", "--aggregate-ips", optarg, 1000000, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_count = (unsigned) v;
			break;
		case OPT_AGG4:
			r = parse_uint("propose", "--aggregate-prefix4", optarg, 32, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_plen4 = (uint8_t) v;
			break;
		case OPT_AGG6:
			r = parse_uint("propose", "--aggregate-prefix6", optarg, 128, &v, reterr);
			if (r < 0)
				return r;
			a->opts.aggregate_plen6 = (uint8_t) v;
			break;
		default:
			return cli_getopt_err(reterr, "propose", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_err(reterr, "propose", "unexpected argument '%s'", argv[optind]);
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

static void report(const struct proposal *p)
{
	fprintf(stderr, "propose: %zu policies for %zu workloads from %zu flows", p->n,
		p->n_workloads_seen, p->n_flows);
	if (p->n_flows_no_pod)
		fprintf(stderr, " (%zu with no pod at either end)", p->n_flows_no_pod);
	fprintf(stderr, "\npropose: self-check: %zu/%zu learned flows allowed (%.1f%%)\n",
		p->n_allowed, p->n_checked,
		p->n_checked ? 100.0 * (double) p->n_allowed / (double) p->n_checked : 100.0);
	for (size_t i = 0; i < p->n_denials; i++) {
		const struct proposal_denial *d = &p->denials[i];

		fprintf(stderr, "propose: self-check: denied %s -> %s %s/%u (%" PRIu64 " flows)\n",
			d->src, d->dst, proto_name(d->proto), d->port, d->flows);
	}
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
	r = propose_build(&flows, c, &a.opts, &p, reterr);
	if (r < 0)
		goto out;
	r = propose_self_check(&p, &flows, c, reterr);
	if (r < 0)
		goto out;
	report(&p);
	if (p.n_allowed != p.n_checked && !a.allow_uncovered) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EPROTO,
			       "propose: self-check failed: the proposal denies %zu of %zu learned "
			       "flows; nothing written (--allow-uncovered writes it anyway)",
			       p.n_checked - p.n_allowed, p.n_checked);
		goto out;
	}
	r = strcmp(a.output_format, "json") == 0 ? netpol_emit_list_json(&p, &out) :
						   netpol_emit_list_yaml(&p, &out);
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
