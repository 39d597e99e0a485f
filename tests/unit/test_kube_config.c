/* unit.kube_config: kubeconfig (YAML) and in-cluster configuration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "kube_config.h"
#include "kube_yaml.h"
#include "kube_exec.h"
#include "testutil.h"

static char dir[] = "/tmp/bh-kcfg.XXXXXX";

static void write_at(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	(void) snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const char *text, struct kube_config **ret, struct bh_err *err)
{
	char path[256];

	write_at("config", text);
	(void) snprintf(path, sizeof(path), "%s/config", dir);
	return kube_config_from_kubeconfig(path, ret, err);
}

static const char good[] = "apiVersion: v1\n"
			   "kind: Config\n"
			   "current-context: prod\n"
			   "clusters:\n"
			   "- name: dev\n"
			   "  cluster: {server: 'https://dev:6443'}\n"
			   "- name: prod\n"
			   "  cluster:\n"
			   "    server: https://10.0.0.1:6443/\n"
			   "    certificate-authority: ca.crt\n"
			   "    certificate-authority-data: aGVsbG8=\n"
			   "users:\n"
			   "- name: admin\n"
			   "  user:\n"
			   "    token: s3cret\n"
			   "    client-certificate-data: Y2VydA==\n"
			   "    client-key-data: a2V5\n"
			   "contexts:\n"
			   "- name: dev\n"
			   "  context: {cluster: dev, user: admin}\n"
			   "- name: prod\n"
			   "  context:\n"
			   "    cluster: prod\n"
			   "    user: admin\n"
			   "    namespace: default\n";

static void kubeconfig_current_context(void **state)
{
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };
	char want[300];

	(void) state;
	assert_int_equal(load(good, &c, &err), 0);
	assert_string_equal(c->server, "https://10.0.0.1:6443");
	(void) snprintf(want, sizeof(want), "%s/ca.crt", dir);
	assert_string_equal(c->ca_file, want);
	assert_int_equal(c->ca_data_len, 5);
	assert_memory_equal(c->ca_data, "hello", 5);
	assert_string_equal(c->token, "s3cret");
	assert_int_equal(c->cert_data_len, 4);
	assert_memory_equal(c->key_data, "key", 3);
	assert_null(c->token_file);
	kube_config_free(c);
}

static void kubeconfig_errors_name_the_field(void **state)
{
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(load("apiVersion: v1\nclusters: []\n", &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "current-context"));
	assert_int_equal(err.kind, BH_ERR_INPUT);

	assert_int_equal(load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
			      "clusters:\n- name: c\n  cluster: {server: 'http://plain:80'}\n",
			      &c, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "server"));

	assert_int_equal(load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
			      "clusters:\n- name: c\n  cluster: {server: 'https://a', "
			      "insecure-skip-tls-verify: true}\n",
			      &c, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "insecure-skip-tls-verify"));

	assert_int_equal(load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, "
			      "user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
			      "users:\n- name: u\n  user:\n    exec: {command: aws}\n",
			      &c, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "exec.apiVersion"));

	assert_int_equal(load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, "
			      "user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://a'}\n"
			      "users:\n- name: u\n  user:\n    exec: {command: aws, apiVersion: "
			      "client.authentication.k8s.io/v1, interactiveMode: Always}\n",
			      &c, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "exec.interactiveMode"));

	assert_int_equal(load("current-context: x\nclusters: [\n", &c, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "line"));

	assert_int_equal(load("current-context: nope\ncontexts: []\n", &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'nope'"));
	/* A token never appears in an error. */
	assert_int_equal(load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, "
			      "user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://a', "
			      "certificate-authority-data: '%%%'}\nusers:\n- name: u\n  user: "
			      "{token: topsecret}\n",
			      &c, &err),
			 -EINVAL);
	assert_null(strstr(err.msg, "topsecret"));
}

/* --- $KUBECONFIG merging, as kubectl merges it --- */

static void path_of(const char *name, char *out, size_t len)
{
	(void) snprintf(out, len, "%s/%s", dir, name);
}

/* Cluster in one file, user and context in another (each in its own
 * directory): the first file to name an entry wins, current-context comes
 * from the first file that sets it, and relative paths follow the file
 * that holds the entry. */
static void merge_first_file_wins(void **state)
{
	char a[300], b[300], want[300];
	const char *paths[2];
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };

	(void) state;
	path_of("sub", a, sizeof(a));
	(void) mkdir(a, 0700);
	write_at("a.yaml", "current-context: good\n"
			   "clusters:\n- name: t\n  cluster: {server: 'https://first:1', "
			   "certificate-authority: ca-a.crt}\n");
	write_at("sub/b.yaml", "current-context: bad\n"
			       "clusters:\n- name: t\n  cluster: {server: 'https://second:2'}\n"
			       "users:\n- name: u\n  user: {tokenFile: tok}\n"
			       "- name: w\n  user: {token: wrong}\n"
			       "contexts:\n- name: good\n  context: {cluster: t, user: u, "
			       "namespace: shop}\n"
			       "- name: bad\n  context: {cluster: t, user: w}\n");
	path_of("a.yaml", a, sizeof(a));
	path_of("sub/b.yaml", b, sizeof(b));
	paths[0] = a;
	paths[1] = b;
	assert_int_equal(kube_config_from_files(paths, 2, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://first:1");
	assert_string_equal(c->context, "good");
	assert_string_equal(c->namespace, "shop");
	path_of("ca-a.crt", want, sizeof(want));
	assert_string_equal(c->ca_file, want);
	path_of("sub/tok", want, sizeof(want));
	assert_string_equal(c->token_file, want);
	assert_null(c->token);
	c = kube_config_free(c);

	/* The other order: b's current-context and cluster win. */
	paths[0] = b;
	paths[1] = a;
	assert_int_equal(kube_config_from_files(paths, 2, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://second:2");
	assert_string_equal(c->context, "bad");
	assert_string_equal(c->token, "wrong");
	c = kube_config_free(c);

	/* --context picks another context of the merged files. */
	assert_int_equal(kube_config_from_files(paths, 2, "good", &c, &err), 0);
	assert_string_equal(c->context, "good");
	assert_non_null(c->token_file);
	c = kube_config_free(c);

	/* An unknown context names itself and every file. */
	assert_int_equal(kube_config_from_files(paths, 2, "nope", &c, &err), -ENOENT);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "'nope'"));
	assert_non_null(strstr(err.msg, a));
	assert_non_null(strstr(err.msg, b));
	assert_null(c);
	path_of("a.yaml", a, sizeof(a));
	(void) unlink(a);
	(void) unlink(b);
	path_of("sub", a, sizeof(a));
	(void) rmdir(a);
}

/* --kubeconfig, else $KUBECONFIG (missing files skipped), else
 * ~/.kube/config, else in-cluster; when nothing is found the error says
 * where it looked. */
static void find_order(void **state)
{
	char a[300], home[300], env[700];
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };

	(void) state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	write_at("k1", "current-context: one\ncontexts:\n- name: one\n  context: {cluster: c}\n"
		       "clusters:\n- name: c\n  cluster: {server: 'https://one:1'}\n");
	path_of("home", home, sizeof(home));
	(void) mkdir(home, 0700);
	path_of("home/.kube", a, sizeof(a));
	(void) mkdir(a, 0700);
	write_at("home/.kube/config",
		 "current-context: h\ncontexts:\n- name: h\n  context: {cluster: c}\n"
		 "clusters:\n- name: c\n  cluster: {server: 'https://home:1'}\n");
	setenv("HOME", home, 1);

	unsetenv("KUBECONFIG");
	assert_int_equal(kube_config_find(NULL, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://home:1");
	c = kube_config_free(c);

	path_of("k1", a, sizeof(a));
	(void) snprintf(env, sizeof(env), "%s/missing::%s", dir, a);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(kube_config_find(NULL, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://one:1");
	c = kube_config_free(c);

	path_of("home/.kube/config", a, sizeof(a));
	assert_int_equal(kube_config_find(a, NULL, &c, &err), 0);
	assert_string_equal(c->server, "https://home:1");
	c = kube_config_free(c);

	/* $KUBECONFIG set to missing files only: ~/.kube/config is not read
	 * (kubectl does not either), and the error lists what was tried. */
	(void) snprintf(env, sizeof(env), "%s/missing", dir);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(kube_config_find(NULL, NULL, &c, &err), -ENOENT);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, env));
	assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));
	assert_non_null(strstr(err.msg, "--kubeconfig"));
	unsetenv("KUBECONFIG");
	setenv("HOME", "/nonexistent", 1);
	assert_int_equal(kube_config_find(NULL, NULL, &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/.kube/config"));
	assert_int_equal(kube_config_find(NULL, "ctx", &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "'ctx'"));

	path_of("home/.kube/config", a, sizeof(a));
	(void) unlink(a);
	path_of("home/.kube", a, sizeof(a));
	(void) rmdir(a);
	(void) rmdir(home);
	path_of("k1", a, sizeof(a));
	(void) unlink(a);
}

static void exec_user(void **state)
{
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };
	char want[300];

	(void) state;
	assert_int_equal(
		load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		     "clusters:\n- name: c\n  cluster:\n    server: 'https://eks:443'\n"
		     "    certificate-authority-data: aGVsbG8=\n"
		     "    extensions:\n    - name: client.authentication.k8s.io/exec\n"
		     "      extension: {audience: sts}\n"
		     "users:\n- name: u\n  user:\n    exec:\n"
		     "      apiVersion: client.authentication.k8s.io/v1beta1\n"
		     "      command: bin/get-token\n"
		     "      args: [--cluster, prod]\n"
		     "      env:\n      - {name: AWS_PROFILE, value: ops}\n"
		     "      interactiveMode: IfAvailable\n"
		     "      provideClusterInfo: true\n",
		     &c, &err),
		0);
	assert_non_null(c->exec);
	(void) snprintf(want, sizeof(want), "%s/bin/get-token", dir);
	assert_string_equal(c->exec->command, want);
	assert_int_equal(c->exec->n_args, 2);
	assert_string_equal(c->exec->args[1], "prod");
	assert_int_equal(c->exec->n_env, 1);
	assert_string_equal(c->exec->env[0], "AWS_PROFILE=ops");
	assert_non_null(strstr(c->exec->exec_info, "\"server\":\"https://eks:443\""));
	assert_non_null(strstr(c->exec->exec_info, "\"certificate-authority-data\":\"aGVsbG8=\""));
	assert_non_null(strstr(c->exec->exec_info, "\"audience\":\"sts\""));
	assert_non_null(strstr(c->exec->exec_info, "\"interactive\":false"));
	c = kube_config_free(c);

	/* EKS writes "env: null"; a bare command is looked up on PATH. */
	assert_int_equal(
		load("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		     "clusters:\n- name: c\n  cluster: {server: 'https://eks:443'}\n"
		     "users:\n- name: u\n  user:\n    exec:\n"
		     "      apiVersion: client.authentication.k8s.io/v1\n"
		     "      command: aws\n      env: null\n      args: [eks, get-token]\n",
		     &c, &err),
		0);
	assert_string_equal(c->exec->command, "aws");
	assert_int_equal(c->exec->n_env, 0);
	assert_null(strstr(c->exec->exec_info, "cluster"));
	c = kube_config_free(c);
}

/* --- ExecCredential --- */

#define V1 "client.authentication.k8s.io/v1"

static int parse(const char *json, struct kube_exec_cred *c, struct bh_err *err)
{
	return kube_exec_cred_parse(json, strlen(json), V1, "plug", c, err);
}

static void exec_credential_parse(void **state)
{
	struct kube_exec_cred c = { .token = NULL };
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(parse("{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\","
			       "\"status\":{\"token\":\"tok-1\","
			       "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}",
			       &c, &err),
			 0);
	assert_string_equal(c.token, "tok-1");
	assert_int_equal(c.expires, 1893553445);
	kube_exec_cred_done(&c);

	assert_int_equal(parse("{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\","
			       "\"status\":{\"clientCertificateData\":\"C\","
			       "\"clientKeyData\":\"K\"}}",
			       &c, &err),
			 0);
	assert_null(c.token);
	assert_string_equal(c.cert_data, "C");
	assert_int_equal(c.key_data_len, 1);
	assert_int_equal(c.expires, 0);
	kube_exec_cred_done(&c);

	struct {
		const char *json, *needle;
	} bad[] = {
		{ "secret-token-not-json", "not JSON" },
		{ "[]", "ExecCredential object" },
		{ "{\"kind\":\"Pod\"}", "kind" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
		  "v1beta1\",\"status\":{\"token\":\"secret-token\"}}",
		  "apiVersion" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\"}", "no status" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{}}",
		  "no token" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1
		  "\",\"status\":{\"token\":7}}",
		  "status.token" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{\"token\":"
		  "\"secret-token\\r\\nX: y\"}}",
		  "control characters" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{\"token\":"
		  "\"secret-token\",\"expirationTimestamp\":\"tomorrow\"}}",
		  "expirationTimestamp" },
		{ "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{"
		  "\"clientCertificateData\":\"C\"}}",
		  "clientKeyData" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_true(parse(bad[i].json, &c, &err) < 0);
		assert_int_equal(err.kind, BH_ERR_INPUT);
		if (!strstr(err.msg, bad[i].needle) || !strstr(err.msg, "'plug'"))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].needle);
		/* The token never shows, not even in a JSON error. */
		assert_null(strstr(err.msg, "secret-token"));
		assert_null(c.token);
	}
}

static void write_script(const char *name, const char *body)
{
	char path[300];

	write_at(name, body);
	path_of(name, path, sizeof(path));
	assert_int_equal(chmod(path, 0700), 0);
}

static long count_runs(void)
{
	char path[300];
	struct stat st;

	path_of("runs", path, sizeof(path));
	return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

/* A plugin whose expirationTimestamp is @exp (a date(1) -d argument). */
static void plugin_with_expiry(const char *exp)
{
	char text[1024];

	(void) snprintf(text, sizeof(text),
			"#!/bin/sh\n"
			"printf x >> \"$1\"\n"
			"case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; "
			"*) exit 9;; esac\n"
			"printf '{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\",\"status\":"
			"{\"token\":\"%%s\",\"expirationTimestamp\":\"%%s\"}}' \"$PLUGIN_TOKEN\" "
			"\"$(date -u -d '%s' +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
			V1, exp);
	write_script("plugin.sh", text);
}

static void exec_for(struct kube_exec *x, char *cmd, char **args, char **env)
{
	*x = (struct kube_exec){
		.command = cmd,
		.args = args,
		.n_args = 1,
		.env = env,
		.n_env = 1,
		.api_version = (char *) V1,
		.exec_info =
			(char *) "{\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}",
	};
}

static void exec_run_and_cache(void **state)
{
	char cmd[300], runs[300], env0[] = "PLUGIN_TOKEN=from-env";
	char *args[] = { runs }, *env[] = { env0 };
	const struct kube_exec_cred *cr;
	struct kube_exec_cred c = { .token = NULL };
	struct kube_exec x;
	struct bh_err err = { 0 };
	uint64_t gen, gen2;

	(void) state;
	path_of("plugin.sh", cmd, sizeof(cmd));
	path_of("runs", runs, sizeof(runs));
	(void) unlink(runs);
	exec_for(&x, cmd, args, env);
	kube_exec_cache_clear();

	/* Valid for an hour: one run however often it is asked. */
	plugin_with_expiry("+1 hour");
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen, &err), 0);
	assert_string_equal(cr->token, "from-env");
	assert_true(cr->expires > time(NULL));
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen2, &err), 0);
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen2, &err), 0);
	assert_int_equal(count_runs(), 1);
	assert_true(gen == gen2);

	/* A 401: the next get runs the plugin once; a stale generation
	 * (a second request refused with the old token) does not. */
	kube_exec_invalidate(&x, gen);
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen2, &err), 0);
	assert_int_equal(count_runs(), 2);
	kube_exec_invalidate(&x, gen);
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen2, &err), 0);
	assert_int_equal(count_runs(), 2);

	/* Expired: run on every get. */
	kube_exec_cache_clear();
	plugin_with_expiry("-1 minute");
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen, &err), 0);
	assert_int_equal(kube_exec_get(&x, false, &cr, &gen, &err), 0);
	assert_int_equal(count_runs(), 4);
	kube_exec_cache_clear();

	/* Failures name the command and what went wrong. */
	write_script("plugin.sh", "#!/bin/sh\necho nope >&2\nexit 3\n");
	assert_int_equal(kube_exec_run(&x, 5000, &c, &err), -ECHILD);
	assert_non_null(strstr(err.msg, cmd));
	assert_non_null(strstr(err.msg, "status 3"));
	write_script("plugin.sh", "#!/bin/sh\necho not-json-secret\n");
	assert_int_equal(kube_exec_run(&x, 5000, &c, &err), -EBADMSG);
	assert_null(strstr(err.msg, "secret"));
	write_script("plugin.sh", "#!/bin/sh\nsleep 5\n");
	assert_int_equal(kube_exec_run(&x, 200, &c, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "200 ms"));
	path_of("no-such-plugin", cmd, sizeof(cmd));
	x.install_hint = (char *) "install it with apt";
	assert_int_equal(kube_exec_run(&x, 5000, &c, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "not found"));
	assert_non_null(strstr(err.msg, "install it with apt"));
	path_of("plugin.sh", cmd, sizeof(cmd));
	(void) unlink(cmd);
	(void) unlink(runs);
}

static void in_cluster(void **state)
{
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };
	char want[300];

	(void) state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBECONFIG");
	setenv("HOME", "/nonexistent", 1);
	assert_int_equal(kube_config_from_cluster(&c, &err), -ENOENT);
	assert_int_equal(kube_config_find(NULL, NULL, &c, &err), -ENOENT);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("BULKHEAD_SERVICEACCOUNT_DIR", dir, 1);
	assert_int_equal(kube_config_from_cluster(&c, &err), -ENOKEY); /* no token yet */
	assert_non_null(strstr(err.msg, "token"));
	write_at("token", "tok\n");
	write_at("ca.crt", "-----BEGIN CERTIFICATE-----\n");
	assert_int_equal(kube_config_from_cluster(&c, &err), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	(void) snprintf(want, sizeof(want), "%s/token", dir);
	assert_string_equal(c->token_file, want);
	assert_null(c->token);
	kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
}

static void yaml_values(void **state)
{
	json_t *j = NULL;
	struct bh_err err = { 0 };
	const char *y = "a: [1, 'two', {b: c}]\nd:\n  e: |\n    multi\n    line\n";

	(void) state;
	assert_int_equal(kube_yaml_load(y, strlen(y), "kubeconfig", "t", &j, &err), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "a"), 1)), "two");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(j, "a"), 2), "b")),
		"c");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "d"), "e")),
			    "multi\nline\n");
	json_decref(j);
	y = "a: &x 1\nb: *x\n";
	assert_int_equal(kube_yaml_load(y, strlen(y), "kubeconfig", "t", &j, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "aliases"));
	assert_non_null(strstr(err.msg, "kubeconfig 't': line 2"));
}

/* The kubeconfig is read by the snapshot's YAML reader (one copy), so its
 * scalars are typed as kubectl types them: YAML 1.1's "yes" and "True" are
 * true for the boolean fields, merge keys are refused like aliases.  The
 * old private loader read every scalar as a string and took `yes` for
 * "not true". */
static void yaml_typed_as_kubectl(void **state)
{
	const char *head = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
			   "clusters:\n- name: c\n  cluster: {server: 'https://a', "
			   "insecure-skip-tls-verify: ";
	const char *words[] = { "yes", "True", "on" };
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };
	char y[512];

	(void) state;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		(void) snprintf(y, sizeof(y), "%s%s}\n", head, words[i]);
		assert_int_equal(load(y, &c, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "insecure-skip-tls-verify is refused"));
	}
	(void) snprintf(y, sizeof(y), "%s%s}\n", head, "'no'");
	assert_int_equal(load(y, &c, &err), 0);
	kube_config_free(c);
	c = NULL;
	assert_int_equal(load("base: &b {server: 'https://a'}\nclusters:\n- name: c\n"
			      "  cluster:\n    <<: *b\n",
			      &c, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "kubeconfig '"));
}

static int setup(void **state)
{
	(void) state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[256];
	const char *names[] = { "config", "token", "ca.crt" };

	(void) state;
	for (size_t i = 0; i < 3; i++) {
		(void) snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void) unlink(path);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kubeconfig_current_context),
		cmocka_unit_test(kubeconfig_errors_name_the_field),
		cmocka_unit_test(in_cluster),
		cmocka_unit_test(yaml_values),
		cmocka_unit_test(yaml_typed_as_kubectl),
		cmocka_unit_test(merge_first_file_wins),
		cmocka_unit_test(find_order),
		cmocka_unit_test(exec_user),
		cmocka_unit_test(exec_credential_parse),
		cmocka_unit_test(exec_run_and_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
