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

/* The commands, in the order 'bulkhead help' lists them; each one's flags
 * are its table (struct cli_command, agent/cli.h). */
static const struct cli_command *const commands[] = {
	&cli_check_cmd,	  &cli_apply_cmd,   &cli_reset_cmd,    &cli_learn_cmd,
	&cli_propose_cmd, &cli_agent_cmd,   &cli_status_cmd,   &cli_alerts_cmd,
	&cli_allow_cmd,	  &cli_dismiss_cmd, &cli_proposal_cmd, &cli_export_cmd,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead [--log-level LEVEL] [--log-json] COMMAND [FLAG]...\n\n"
		   "commands:\n");
	for (size_t i = 0; i < BH_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\nglobal flags (before COMMAND):\n"
		   "  --log-level LEVEL   debug, info, notice, warning or err\n"
		   "  --log-json          log lines as JSON, not logfmt\n"
		   "  -h, --help          print this help and exit\n"
		   "  --version           print the version and exit\n"
		   "\n'bulkhead help COMMAND' or 'bulkhead COMMAND --help' describes a command.\n"
		   "\nexit status: 0 ok, 1 check denied, 2 bad usage or input, "
		   "3 system error\n");
}

static const struct cli_command *command_find(const char *name)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i]->name) == 0)
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
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
			fprintf(stderr, "bulkhead: unknown option '%s' (see 'bulkhead help')\n",
				argv[i]);
			exit(BH_EXIT_INPUT);
		}
	}
	if (i >= argc) {
		fprintf(stderr, "bulkhead: expected a command (see 'bulkhead help')\n");
		exit(BH_EXIT_INPUT);
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 >= argc) {
			usage(stdout);
			exit(BH_EXIT_OK);
		}
		cmd = command_find(argv[i + 1]);
		if (!cmd || i + 2 < argc) {
			fprintf(stderr, "bulkhead: help: %s '%s' (see 'bulkhead help')\n",
				cmd ? "unexpected argument" : "unknown command",
				argv[cmd ? i + 2 : i + 1]);
			exit(BH_EXIT_INPUT);
		}
		cli_help_print(cmd, stdout);
		exit(BH_EXIT_OK);
	}
	cmd = command_find(argv[i]);
	if (!cmd) {
		fprintf(stderr, "bulkhead: unknown command '%s' (see 'bulkhead help')\n", argv[i]);
		exit(BH_EXIT_INPUT);
	}
	/* -h/--help anywhere among the command's flags wins over what else
	 * is wrong with them, as in kubectl. */
	if (cli_help_asked(cmd, argc - i, argv + i)) {
		cli_help_print(cmd, stdout);
		exit(fflush(stdout) == 0 ? BH_EXIT_OK : BH_EXIT_SYSTEM);
	}
	r = cmd->fn(argc - i, argv + i, &err);
	if (r < 0) {
		if (err.kind == BH_ERR_NONE)
			bh_err_set(&err, BH_ERR_SYSTEM, r, "%s: %s", argv[i], strerror(-r));
		fprintf(stderr, "bulkhead: %s\n", err.msg);
		exit(bh_err_exit_code(&err));
	}
	exit(r);
}
