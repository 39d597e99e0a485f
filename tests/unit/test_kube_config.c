/* unit.kube_config: kubeconfig (YAML) and in-cluster configuration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "kube_config.h"
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
	assert_non_null(strstr(err.msg, "exec"));

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

static void in_cluster(void **state)
{
	struct kube_config *c = NULL;
	struct bh_err err = { 0 };
	char want[300];

	(void) state;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_from_cluster(&c, &err), -ENOENT);
	assert_int_equal(kube_config_find(NULL, &c, &err), -ENOENT);

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
	assert_int_equal(kube_yaml_load(y, strlen(y), "t", &j, &err), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "a"), 1)), "two");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(j, "a"), 2), "b")),
		"c");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "d"), "e")),
			    "multi\nline\n");
	json_decref(j);
	y = "a: &x 1\nb: *x\n";
	assert_int_equal(kube_yaml_load(y, strlen(y), "t", &j, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "aliases"));
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
