/*
 * bulkhead: the one binary.  Dispatches to a subcommand, prints its error
 * (one line) and maps it to the exit status contract of shared/design.md.
 * The only place allowed to call exit().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh.h"
#include "cli.h"
#include "err.h"
#include "log.h"

struct command {
	const char *name;
	cli_main_fn *fn;
	const char *usage;
};

static const struct command commands[] = {
	{ "check", cli_check,
	  "(--snapshot FILE... | --kubeconfig FILE) [--from NS/POD|IP] [--to NS/POD|IP] "
	  "[--port N] [--protocol TCP|UDP|SCTP] [--family ipv4|ipv6] [-o text|json] [--explain]" },
	{ "apply", cli_apply,
	  "(--snapshot FILE... | --kubeconfig FILE) --node NAME --mode preview|enforce "
	  "[--nflog-group N] [--dry-run [-o nft|payload]] [--incremental-from FILE]" },
	{ "reset", cli_reset, "" },
	{ "learn", cli_learn,
	  "(--pcap FILE | --interface GLOB | --conntrack)... [--snapshot FILE... | --kubeconfig FILE] "
	  "[--duration SECONDS] [--max-flows N] [--node NAME] [--conntrack-rcvbuf BYTES] "
	  "-o FLOWS.json" },
	{ "propose", cli_propose,
	  "--flows FILE [--flows FILE]... (--snapshot FILE... | --kubeconfig FILE) "
	  "[-o json|yaml] [--output FILE] [--ingress-only | --egress-only] [--aggregate-ips N] "
	  "[--aggregate-prefix4 LEN] [--aggregate-prefix6 LEN] [--allow-uncovered]" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead [--log-level LEVEL] [--log-json] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < BH_ARRAY_SIZE(commands); i++)
		fprintf(f, "  bulkhead %-8s %s\n", commands[i].name, commands[i].usage);
	fprintf(f, "\nexit status: 0 ok, 1 check denied, 2 bad usage or input, "
		   "3 system error\n");
}

int main(int argc, char **argv)
{
	struct bh_err err = { 0 };
	int i, r, level;

	log_set_component("cli");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(BH_EXIT_OK);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("bulkhead 0.1.0\n");
			exit(BH_EXIT_OK);
		} else if (strcmp(argv[i], "--log-json") == 0) {
			log_set_json(true);
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (log_level_parse(argv[++i], &level) < 0) {
				fprintf(stderr,
					"bulkhead: --log-level: expected debug, info, "
					"notice, warning or err, got '%s'\n",
					argv[i]);
				exit(BH_EXIT_INPUT);
			}
			log_max_level = level;
		} else {
			fprintf(stderr, "bulkhead: unknown option '%s'\n", argv[i]);
			usage(stderr);
			exit(BH_EXIT_INPUT);
		}
	}
	if (i >= argc) {
		usage(stderr);
		exit(BH_EXIT_INPUT);
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		exit(BH_EXIT_OK);
	}
	for (size_t c = 0; c < BH_ARRAY_SIZE(commands); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		/* check has a longer help of its own; the others print their
		 * usage line. */
		if (i + 1 < argc && commands[c].fn != cli_check &&
		    (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
			printf("usage: bulkhead %s %s\n", commands[c].name, commands[c].usage);
			exit(BH_EXIT_OK);
		}
		/* Commands report bad options themselves, in one line. */
		opterr = 0;
		optind = 1;
		r = commands[c].fn(argc - i, argv + i, &err);
		if (r < 0) {
			if (err.kind == BH_ERR_NONE)
				bh_err_set(&err, BH_ERR_SYSTEM, r, "%s: %s", argv[i], strerror(-r));
			fprintf(stderr, "bulkhead: %s\n", err.msg);
			exit(bh_err_exit_code(&err));
		}
		exit(r);
	}
	fprintf(stderr, "bulkhead: unknown command '%s'\n", argv[i]);
	usage(stderr);
	exit(BH_EXIT_INPUT);
}
