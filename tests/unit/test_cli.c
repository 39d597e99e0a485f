/*
 * unit.cli: the command-line helpers of agent/cli_common.c: durations,
 * protocols, and the flag tables (getopt from the table, -o/--output one
 * flag, --help from the table).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "cli_cluster.h"
#include "testutil.h"

static const struct cli_command *const commands[] = {
	&cli_check_cmd, &cli_apply_cmd, &cli_reset_cmd, &cli_learn_cmd, &cli_propose_cmd,
};

static uint64_t duration_ok(const char *s)
{
	struct bh_err err = { 0 };
	uint64_t v = 0;

	assert_int_equal(cli_parse_duration("learn", "--duration", s, 1, 366u * 86400, &v, &err),
			 0);
	return v;
}

static void duration_good(void **state)
{
	(void) state;
	assert_int_equal(duration_ok("90"), 90);
	assert_int_equal(duration_ok("90s"), 90);
	assert_int_equal(duration_ok("10m"), 600);
	assert_int_equal(duration_ok("24h"), 86400);
	assert_int_equal(duration_ok("1h30m"), 5400);
	assert_int_equal(duration_ok("1h30m15s"), 5415);
	assert_int_equal(duration_ok("7d"), 7 * 86400);
	assert_int_equal(duration_ok("366d"), 366 * 86400);
	assert_int_equal(duration_ok("1s"), 1);
}

static void duration_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"10x",
		"-5s",
		"+5s",
		" 5",
		"5 ",
		"1.5h",
		"1h30",
		"h",
		"s5",
		"5ss",
		"367d",
		"0",
		"0s",
		"99999999999999999999",
		"18446744073709551615s",
		"213503982334601d", /* * 86400 overflows 64 bits */
		"9223372036854775807s1s", /* within 64 bits, past the maximum */
		"18446744073709551615s1s", /* the sum overflows */
	};

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad); i++) {
		struct bh_err err = { 0 };
		uint64_t v = 12345;
		int r = cli_parse_duration("learn", "--duration", bad[i], 1, 366u * 86400, &v,
					   &err);

		if (r != -EINVAL)
			fail_msg("'%s' parsed (%d, %lu)", bad[i], r, (unsigned long) v);
		assert_int_equal(v, 12345);
		assert_int_equal(err.kind, BH_ERR_INPUT);
		assert_non_null(strstr(err.msg, "learn: --duration: "));
		assert_null(strchr(err.msg, '\n'));
		if (*bad[i])
			assert_non_null(strstr(err.msg, bad[i]));
	}
	{
		struct bh_err err = { 0 };
		uint64_t v;

		assert_int_equal(cli_parse_duration("agent", "--preview-window", NULL, 1, 60, &v,
						    &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "agent: --preview-window: "));
		assert_non_null(strstr(err.msg, "(1s..1m)"));
	}
}

static void protocol_any_case(void **state)
{
	static const struct {
		const char *s;
		uint8_t proto;
	} good[] = {
		{ "TCP", IPPROTO_TCP },	  { "tcp", IPPROTO_TCP },   { "Tcp", IPPROTO_TCP },
		{ "udp", IPPROTO_UDP },	  { "UDP", IPPROTO_UDP },   { "sctp", IPPROTO_SCTP },
		{ "SCTP", IPPROTO_SCTP }, { "sCtP", IPPROTO_SCTP },
	};
	static const char *const bad[] = { "", "tc", "tcpx", "icmp", "6", " tcp" };
	uint8_t p = 0;

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(good); i++) {
		assert_int_equal(cli_parse_protocol(good[i].s, &p), 0);
		assert_int_equal(p, good[i].proto);
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(bad); i++)
		assert_int_equal(cli_parse_protocol(bad[i], &p), -EINVAL);
	assert_int_equal(cli_parse_protocol(NULL, &p), -EINVAL);
}

/* Every table: within CLI_FLAGS_MAX, names, letters and ids unique, a
 * one-line help, and -h/--help in it. */
static void tables_consistent(void **state)
{
	(void) state;
	for (size_t c = 0; c < BH_ARRAY_SIZE(commands); c++) {
		const struct cli_command *cmd = commands[c];
		bool help = false;

		assert_true(cmd->n_flags <= CLI_FLAGS_MAX);
		assert_non_null(cmd->fn);
		for (size_t i = 0; i < cmd->n_flags; i++) {
			const struct cli_flag *f = &cmd->flags[i];

			assert_true(f->id > 0);
			assert_non_null(f->help);
			assert_null(strchr(f->help, '\n'));
			help |= f->id == CLI_OPT_HELP && f->short_name == 'h' &&
				strcmp(f->name, "help") == 0;
			for (size_t j = i + 1; j < cmd->n_flags; j++) {
				const struct cli_flag *g = &cmd->flags[j];

				if (strcmp(f->name, g->name) == 0 || f->id == g->id ||
				    (f->short_name && f->short_name == g->short_name))
					fail_msg("%s: --%s and --%s collide", cmd->name, f->name,
						 g->name);
			}
		}
		assert_true(help);
	}
}

/* getopt wants char **: copies of the NULL-terminated @v, for argv_free(). */
static char **argv_new(const char *const *v, int *ret_argc)
{
	int n = 0;
	char **argv;

	while (v[n])
		n++;
	argv = calloc((size_t) n + 1, sizeof(*argv));
	assert_non_null(argv);
	for (int i = 0; i < n; i++) {
		argv[i] = strdup(v[i]);
		assert_non_null(argv[i]);
	}
	*ret_argc = n;
	return argv;
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

struct parsed {
	int ids[8];
	const char *args[8];
	bool long_form[8];
	size_t n;
	int r;
	struct bh_err err;
};

/* p->args point into argv: valid until the next parse(). */
static char **parsed_argv;

static void parse(const struct cli_command *cmd, struct parsed *p, const char *const *v)
{
	struct cli_getopt g;
	char **argv;
	int argc, c;

	if (parsed_argv)
		argv_free(parsed_argv);
	argv = parsed_argv = argv_new(v, &argc);
	*p = (struct parsed){ 0 };
	cli_getopt_init(&g, cmd, argc, argv);
	while ((c = cli_getopt_next(&g, &p->err)) > 0 && p->n < 8) {
		p->ids[p->n] = c;
		p->args[p->n] = g.arg;
		p->long_form[p->n++] = g.long_form;
	}
	p->r = c;
}

static void output_one_flag(void **state)
{
	const char *const argv[] = { "propose",	 "-o",	   "json",
				     "--output", "yaml",   "--output=json",
				     "-ojson",	 "--help", "--out-file",
				     "f.json",	 NULL };
	struct parsed p;
	char buf[32];
	struct cli_getopt g;

	(void) state;
	parse(&cli_propose_cmd, &p, argv);
	assert_int_equal(p.r, 0);
	/* --help is main()'s: the command never sees it. */
	assert_int_equal(p.n, 5);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(p.ids[i], p.ids[0]);
	assert_string_equal(p.args[0], "json");
	assert_string_equal(p.args[1], "yaml");
	assert_string_equal(p.args[2], "json");
	assert_string_equal(p.args[3], "json");
	assert_false(p.long_form[0]);
	assert_true(p.long_form[1]);
	assert_true(p.long_form[2]);
	assert_false(p.long_form[3]);
	assert_int_not_equal(p.ids[4], p.ids[0]);
	assert_string_equal(p.args[4], "f.json");

	/* The spelling used, for error messages. */
	{
		const char *const a2[] = { "propose", "--output", "x", NULL };
		int n;
		char **v = argv_new(a2, &n);

		cli_getopt_init(&g, &cli_propose_cmd, n, v);
		assert_true(cli_getopt_next(&g, NULL) > 0);
		assert_string_equal(cli_getopt_spelling(&g, buf, sizeof(buf)), "--output");
		argv_free(v);
	}
	{
		const char *const a3[] = { "check", "-o", "x", NULL };
		int n;
		char **v = argv_new(a3, &n);

		cli_getopt_init(&g, &cli_check_cmd, n, v);
		assert_true(cli_getopt_next(&g, NULL) > 0);
		assert_string_equal(cli_getopt_spelling(&g, buf, sizeof(buf)), "-o");
		argv_free(v);
	}
}

static void getopt_errors(void **state)
{
	const char *const unknown[] = { "learn", "--pcap", "a", "--bogus", NULL };
	const char *const missing[] = { "learn", "--pcap", NULL };
	const char *const stray[] = { "learn", "--pcap", "a", "stray", NULL };
	const char *const reset_bad[] = { "reset", "-o", "json", NULL };
	struct parsed p;

	(void) state;
	parse(&cli_learn_cmd, &p, unknown);
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.err.msg, "learn: unknown option '--bogus' (see 'bulkhead help')");
	parse(&cli_learn_cmd, &p, missing);
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.err.msg, "learn: '--pcap' needs a value (see 'bulkhead help')");
	parse(&cli_learn_cmd, &p, stray);
	assert_int_equal(p.r, -EINVAL);
	assert_string_equal(p.err.msg, "learn: unexpected argument 'stray' (see 'bulkhead help')");
	parse(&cli_reset_cmd, &p, reset_bad);
	assert_int_equal(p.r, -EINVAL);
	assert_non_null(strstr(p.err.msg, "reset: unknown option '-o'"));
}

static void help_asked(void **state)
{
	static const struct {
		const char *argv[5];
		bool asked;
	} cases[] = {
		{ { "check", "--port", "80", "-h" }, true },
		{ { "check", "--bogus", "--help" }, true },
		{ { "check", "--from", "--help" }, false }, /* --from's value */
		{ { "check", "--port", "80" }, false },
		{ { "reset", "-h" }, true },
	};

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(cases); i++) {
		const struct cli_command *cmd =
			strcmp(cases[i].argv[0], "reset") == 0 ? &cli_reset_cmd : &cli_check_cmd;
		int n;
		char **v = argv_new(cases[i].argv, &n);

		assert_int_equal(cli_help_asked(cmd, n, v), cases[i].asked);
		argv_free(v);
	}
}

/* --help prints every flag of the table, each on its own line, and the
 * exit status. */
static void help_lists_every_flag(void **state)
{
	(void) state;
	for (size_t c = 0; c < BH_ARRAY_SIZE(commands); c++) {
		const struct cli_command *cmd = commands[c];
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		assert_non_null(f);
		cli_help_print(cmd, f);
		assert_int_equal(fclose(f), 0);
		assert_non_null(strstr(text, "exit status: 0 "));
		for (size_t i = 0; i < cmd->n_flags; i++) {
			const struct cli_flag *fl = &cmd->flags[i];
			char want[128];

			(void) snprintf(want, sizeof(want), "--%s%s%s ", fl->name,
					fl->arg ? " " : "", fl->arg ? fl->arg : "");
			if (!strstr(text, want))
				fail_msg("%s --help: no '%s' in\n%s", cmd->name, want, text);
			if (!strstr(text, fl->help))
				fail_msg("%s --help: no '%s'", cmd->name, fl->help);
		}
		free(text);
	}
}

/* The target of the verbs (cli_cluster.h): --socket the local agent, a
 * cluster flag the cluster, else $KUBECONFIG or a pod; both: usage. */
static void target_choice(void **state)
{
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(unsetenv("KUBECONFIG"), 0);
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
	assert_int_equal(cli_cluster_choose(&(struct cli_target){ 0 }, "enforce", &err), 0);
	assert_int_equal(
		cli_cluster_choose(&(struct cli_target){ .kubeconfig = "k" }, "enforce", &err), 1);
	assert_int_equal(
		cli_cluster_choose(&(struct cli_target){ .context = "c" }, "enforce", &err), 1);
	assert_int_equal(
		cli_cluster_choose(&(struct cli_target){ .cluster = true }, "enforce", &err), 1);
	assert_int_equal(cli_cluster_choose(&(struct cli_target){ .socket = "/s", .cluster = true },
					    "enforce", &err),
			 -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_int_equal(setenv("KUBECONFIG", "/k", 1), 0);
	assert_int_equal(cli_cluster_choose(&(struct cli_target){ 0 }, "enforce", &err), 1);
	assert_int_equal(
		cli_cluster_choose(&(struct cli_target){ .socket = "/s" }, "enforce", &err), 0);
	assert_int_equal(setenv("KUBECONFIG", "", 1), 0);
	assert_int_equal(cli_cluster_choose(&(struct cli_target){ 0 }, "enforce", &err), 0);
	assert_int_equal(setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1), 0);
	assert_int_equal(cli_cluster_choose(&(struct cli_target){ 0 }, "enforce", &err), 1);
	assert_int_equal(unsetenv("KUBECONFIG"), 0);
	assert_int_equal(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_good),     cmocka_unit_test(duration_bad),
		cmocka_unit_test(protocol_any_case), cmocka_unit_test(tables_consistent),
		cmocka_unit_test(output_one_flag),   cmocka_unit_test(getopt_errors),
		cmocka_unit_test(help_asked),	     cmocka_unit_test(help_lists_every_flag),
		cmocka_unit_test(target_choice),
	};

	int r = cmocka_run_group_tests(tests, NULL, NULL);

	if (parsed_argv)
		argv_free(parsed_argv);
	return r;
}
