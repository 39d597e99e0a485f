/* tests/unit/test_agent_config.c: the agent's settings (agent/agent_config.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_config.h"
#include "ruleset.h"

static int parse(struct agent_config *c, const char *text, struct bh_err *err)
{
	return agent_config_parse(c, text, strlen(text), "agent.yaml", err);
}

static void defaults(void **state)
{
	struct agent_config c;

	(void) state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_string_equal(c.state_dir, "/var/lib/bulkhead");
	assert_string_equal(c.socket, "/run/bulkhead/agent.sock");
	assert_string_equal(c.listen, ":9464");
	assert_int_equal(c.nflog_group, RULESET_NFLOG_GROUP);
	assert_null(c.node);
	assert_int_equal(c.n_interfaces, 0);
	agent_config_done(&c);
}

static void every_key_read(void **state)
{
	static const char text[] = "apiVersion: bulkhead.io/v1alpha1\n"
				   "kind: AgentConfig\n"
				   "node: node-1\n"
				   "kubeconfig: /etc/bh/kubeconfig\n"
				   "context: prod\n"
				   "stateDir: /srv/bh\n"
				   "socket: /tmp/bh.sock\n"
				   "listen: '127.0.0.1:9000'\n"
				   "interfaces: ['cali*', 'veth*']\n"
				   "conntrack: yes\n"
				   "nflogGroup: 0x10\n"
				   "learnDuration: 1h30m\n"
				   "previewWindow: 7200\n"
				   "autoPromote: true\n"
				   "maxFlows: 2000\n"
				   "maxAlerts: 50\n"
				   "checkpointInterval: 5m\n"
				   "logLevel: debug\n"
				   "logFormat: json\n"
				   "enforce: false\n"
				   "policyMode: preview\n";
	struct agent_config c;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_true(c.enforce); /* the default: enforce */
	assert_false(c.policy_preview); /* policies enforced by default */
	assert_int_equal(parse(&c, text, &err), 0);
	assert_false(c.enforce);
	assert_true(c.policy_preview);
	assert_string_equal(c.node, "node-1");
	assert_string_equal(c.kubeconfig, "/etc/bh/kubeconfig");
	assert_string_equal(c.context, "prod");
	assert_string_equal(c.state_dir, "/srv/bh");
	assert_string_equal(c.socket, "/tmp/bh.sock");
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.n_interfaces, 2);
	assert_string_equal(c.interfaces[1], "veth*");
	assert_true(c.conntrack);
	assert_int_equal(c.nflog_group, 16);
	assert_int_equal(c.learn_duration_s, 5400);
	assert_int_equal(c.preview_window_s, 7200);
	assert_true(c.auto_promote);
	assert_int_equal(c.max_flows, 2000);
	assert_int_equal(c.max_alerts, 50);
	assert_int_equal(c.checkpoint_interval_s, 300);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_true(c.log_json);
	assert_int_equal(agent_config_check(&c, &err), 0);
	agent_config_done(&c);
}

/* Each bad file is one error naming the file and the key, and leaves the
 * settings as they were. */
static void errors_name_the_key_and_change_nothing(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "node: a\nlernDuration: 1h\n",
		  "config 'agent.yaml': unknown key 'lernDuration'" },
		{ "learnDuration: 1x\n", "config 'agent.yaml': learnDuration: expected seconds" },
		{ "learnDuration: 0\n", "learnDuration: expected seconds or a duration like" },
		{ "conntrack: 'true'\n", "conntrack: expected true or false" },
		{ "nflogGroup: 70000\n", "nflogGroup: expected an integer in 1..65535" },
		{ "maxFlows: -1\n", "maxFlows: expected an integer" },
		{ "interfaces: [eth0, 3]\n", "interfaces: item 2: expected a non-empty string" },
		{ "interfaces: {a: b}\n", "interfaces: expected a list of strings" },
		{ "node: ''\n", "node: expected a non-empty string" },
		{ "node: n\n", "node: expected a string, got a boolean (quote the value)" },
		{ "socket: 0123\n", "socket: expected a string, got a number" },
		{ "logLevel: loud\n", "logLevel: expected debug, info" },
		{ "logFormat: xml\n", "logFormat: expected text or json" },
		{ "policyMode: drop\n", "policyMode: expected enforce or preview" },
		{ "kind: Pod\n", "kind: expected 'AgentConfig'" },
		{ "apiVersion: v1\n", "apiVersion: expected 'bulkhead.io/v1alpha1'" },
		{ "- a\n- b\n", "config 'agent.yaml': expected a mapping of settings" },
		{ "node: [\n", "config 'agent.yaml': line" },
	};
	struct agent_config c;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(parse(&c, "node: keep\ninterfaces: [x]\n", &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_true(parse(&c, cases[i].text, &err) < 0);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: got '%s', want '%s'", i, err.msg, cases[i].want);
		assert_int_equal(err.kind, BH_ERR_INPUT);
		assert_string_equal(c.node, "keep");
		assert_int_equal(c.n_interfaces, 1);
		assert_int_equal(c.learn_duration_s, 86400);
	}
	agent_config_done(&c);
}

static void check_whole(void **state)
{
	struct agent_config c;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "node"));
	assert_int_equal(parse(&c, "node: nd\nsnapshots: a.yaml\nkubeconfig: k\n", &err), 0);
	assert_int_equal(c.n_snapshots, 1); /* one value for a list of one */
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "snapshots and kubeconfig exclude each other"));
	agent_config_done(&c);

	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(parse(&c, "node: nd\nlisten: '10.0.0.1'\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "listen: expected ADDR:PORT"));
	assert_int_equal(parse(&c, "listen: ''\nstateDir: rel/dir\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "stateDir: expected an absolute path"));
	agent_config_done(&c);

	/* cluster mode: the Lease renewed well within its duration */
	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(
		parse(&c, "node: nd\ncluster: true\nleaseDuration: 3s\nleaseRenew: 1s\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), 0);
	assert_int_equal(parse(&c, "leaseRenew: 2s\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "leaseRenew: 2 s is not under two thirds of leaseDuration "
					"(3 s)"));
	assert_int_equal(parse(&c, "leaseRenew: 20s\nleaseDuration: 15s\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), -EINVAL);
	assert_int_equal(parse(&c, "cluster: false\n", &err), 0);
	assert_int_equal(agent_config_check(&c, &err), 0);
	agent_config_done(&c);
}

static void listen_forms(void **state)
{
	static const char *const good[] = { ":9464", "127.0.0.1:1", "[::1]:9464", "[::]:80",
					    "0.0.0.0:65535" };
	static const char *const badv[] = { "9464",    "::1:9464", "127.0.0.1:0", "1.2.3.4:65536",
					    "host:80", ":",	   "[::1]9464",	  "1.2.3.4:8x" };
	struct sockaddr_storage ss;
	socklen_t len = 0;

	(void) state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (agent_listen_parse(good[i], &ss, &len) != 0)
			fail_msg("'%s' refused", good[i]);
	assert_int_equal(agent_listen_parse("[::1]:9464", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
		if (agent_listen_parse(badv[i], NULL, NULL) != -EINVAL)
			fail_msg("'%s' accepted", badv[i]);
}

/* A reload keeps what the command line set, reports what changed and
 * which changes need a restart; a bad file changes nothing. */
static void reload_keeps_the_command_line(void **state)
{
	char path[] = "/tmp/bh-agent-config.XXXXXX";
	struct agent_config c, n;
	struct bh_err err = { 0 };
	uint32_t changed = 0;
	FILE *f;
	int fd;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("node: from-file\nlogLevel: warning\nlearnDuration: 2h\n", f);
	fclose(f);
	assert_int_equal(agent_config_init(&c), 0);
	/* As the agent does: the command line set the node first. */
	c.node = strdup("from-cli");
	agent_config_mark(&c, AGENT_SET_NODE);
	assert_int_equal(agent_config_load(&c, path, &err), 0);
	assert_string_equal(c.node, "from-cli");
	assert_int_equal(c.log_level, LOG_WARNING);

	f = fopen(path, "w");
	fputs("node: other\nlogLevel: debug\nlearnDuration: 2h\nsocket: /run/x.sock\n", f);
	fclose(f);
	assert_int_equal(agent_config_reload(&c, path, &n, &changed, &err), 0);
	assert_string_equal(n.node, "from-cli");
	assert_int_equal(changed, (1u << AGENT_SET_LOG_LEVEL) | (1u << AGENT_SET_SOCKET));
	assert_int_equal(agent_config_restart_needed(changed), 1u << AGENT_SET_SOCKET);
	assert_string_equal(agent_setting_key(AGENT_SET_SOCKET), "socket");
	agent_config_done(&n);

	f = fopen(path, "w");
	fputs("logLevel: [\n", f);
	fclose(f);
	assert_true(agent_config_reload(&c, path, &n, &changed, &err) < 0);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(c.log_level, LOG_WARNING);
	unlink(path);
	assert_int_equal(agent_config_load(&c, path, &err), -ENOENT);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	agent_config_done(&c);
}

static void copy_is_deep(void **state)
{
	struct agent_config c, d;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(agent_config_init(&c), 0);
	assert_int_equal(parse(&c, "node: nd\ninterfaces: [a, b]\nsnapshots: [s]\n", &err), 0);
	assert_int_equal(agent_config_copy(&d, &c), 0);
	agent_config_done(&c);
	assert_string_equal(d.node, "nd");
	assert_string_equal(d.interfaces[0], "a");
	assert_string_equal(d.snapshots[0], "s");
	assert_string_equal(d.state_dir, "/var/lib/bulkhead");
	agent_config_done(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_key_read),
		cmocka_unit_test(errors_name_the_key_and_change_nothing),
		cmocka_unit_test(check_whole),
		cmocka_unit_test(listen_forms),
		cmocka_unit_test(reload_keeps_the_command_line),
		cmocka_unit_test(copy_is_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
