/*
 * integration.kube_api: the Kubernetes client against the test API server
 * (tests/apiserver/apiserver.py) over TLS on loopback.  No root needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "cli.h"
#include "harness.h"
#include "kube_cache.h"
#include "kube_exec.h"
#include "kube_write_wait.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BH_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BH_TEST_ASAN 1
#endif

#ifdef BH_TEST_ASAN
/*
 * fault_huge_line bounds the growth of the peak RSS.  AddressSanitizer
 * keeps freed memory in a quarantine (256 MB by default) instead of
 * reusing it, so every allocation made while the fault is handled counts
 * (81 MB measured, against 18 MB with a 4 MB quarantine and 27 MB without
 * ASan).  A small quarantine keeps the bound meaningful; ASAN_OPTIONS
 * from the environment still win for the options it sets.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=4";
}
#endif

#include "kube_fx.h"

static const struct kube_watch_stats *pod_stats(struct fx *f)
{
	return kube_watch_stats(kube_cache_watch(f->cache, "pods"));
}

/* 410s seen by any watch: faults hit whichever watch asks first. */
static uint64_t all_gone(struct fx *f)
{
	static const char *const res[] = { "namespaces", "pods", "networkpolicies", "nodes",
					   "policymodes" };
	uint64_t n = 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(res); i++)
		n += kube_watch_stats(kube_cache_watch(f->cache, res[i]))->gone;
	return n;
}

/* Changes made around a fault: an add, a modify, a delete. */
static void churn(struct fx *f, const char *suffix)
{
	char name[64];

	(void) snprintf(name, sizeof(name), "new-%s", suffix);
	put_pod(f, "x", name, "n1", "10.0.9.1");
	put_pod(f, "x", "a", suffix, "10.0.0.1");
	del_pod(f, "x", "b", false);
}

/* --- tests --- */

static void initial_sync_10k_paged(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "--generate-pods=10000", NULL };
	struct kube_cache_opts o = { .page_limit = 500, .idle_s = 5 };

	fx_up_opts(f, NULL, args, &o);
	assert_int_equal(kube_cache_cluster(f->cache)->n_pods, 10000);
	assert_int_equal(pod_stats(f)->pages, 20);
	assert_int_equal(pod_stats(f)->lists, 1);
	assert_int_equal(kube_cache_cluster(f->cache)->n_ns, 20);
	if (!apisrv_cache_equal(&f->s, f->cache, f->why, sizeof(f->why)))
		fail_msg("%s", f->why);
}

static int phase_cb(void *ud, json_t *obj)
{
	(void) ud;
	return json_object_set_new(json_object_get(obj, "status"), "phase",
				   json_string("Succeeded")) < 0 ?
		       -ENOMEM :
		       0;
}

static void events_in_order(void **state)
{
	struct fx *f = *state;
	struct kube_ref ref = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct bh_err err = { 0 };
	json_t *pod, *patch, *out = NULL;
	const struct pod *p;

	fx_up(f, NULL);
	pod = apisrv_pod("x", "new-1", "v1", "10.0.5.5");
	assert_int_equal(kube_write_wait_create(f->cl, &ref, pod, &out, &err), 0);
	assert_int_equal(kube_write_wait_create(f->cl, &ref, pod, NULL, &err), -EEXIST);
	json_decref(pod);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "v2");
	assert_int_equal(
		kube_write_wait_patch(f->cl, &ref, "new-1", false, patch, NULL, NULL, &err), 0);
	/* A patch from the version we created is stale now. */
	assert_int_equal(kube_write_wait_patch(
				 f->cl, &ref, "new-1", false, patch,
				 json_string_value(json_object_get(json_object_get(out, "metadata"),
								   "resourceVersion")),
				 NULL, &err),
			 -ESTALE);
	json_decref(patch);
	json_decref(out);
	assert_int_equal(
		kube_write_wait_update(f->cl, &ref, "new-1", true, phase_cb, NULL, NULL, &err), 0);
	del_pod(f, "x", "new-1", false);
	for (int i = 0; i < WAIT_MS / 20 && f->rec.n < 4; i++)
		(void) kube_client_run(f->cl, 20);
	assert_equal_soon(f);

	assert_int_equal(f->rec.n, 4);
	assert_string_equal(f->rec.ev[0], "ADDED x/new-1");
	assert_string_equal(f->rec.ev[1], "MODIFIED x/new-1");
	assert_string_equal(f->rec.ev[2], "MODIFIED x/new-1");
	assert_string_equal(f->rec.ev[3], "DELETED x/new-1");
	/* Subscribers see the cache after the change. */
	assert_true(f->rec.present[0] && f->rec.present[1] && f->rec.present[2]);
	assert_false(f->rec.present[3]);
	assert_string_equal(f->rec.app[0], "v1");
	assert_string_equal(f->rec.app[1], "v2");
	p = cluster_pod_find(kube_cache_cluster(f->cache), "x", "a");
	assert_non_null(p);
}

static void write_conflicts_retried(void **state)
{
	struct fx *f = *state;
	struct kube_ref ref = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct kube_write_stats before, after;
	struct bh_err err = { 0 };
	json_t *ans;

	fx_up(f, NULL);
	kube_write_stats_get(&before);
	ans = apisrv_control(&f->s, "{s:s, s:s, s:i}", "op", "fault", "fault", "conflict", "count",
			     2);
	json_decref(ans);
	assert_int_equal(kube_write_wait_update(f->cl, &ref, "a", false, relabel_cb, (char *) "z",
						NULL, &err),
			 0);
	kube_write_stats_get(&after);
	assert_int_equal(after.conflicts - before.conflicts, 2);
	ans = apisrv_control(&f->s, "{s:s, s:s, s:i}", "op", "fault", "fault", "conflict", "count",
			     KUBE_WRITE_RETRIES);
	json_decref(ans);
	assert_int_equal(kube_write_wait_update(f->cl, &ref, "a", false, relabel_cb, (char *) "w",
						NULL, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "conflicting"));
	assert_int_equal(kube_write_wait_update(f->cl, &ref, "nope", false, relabel_cb,
						(char *) "w", NULL, &err),
			 -ENOENT);
	assert_equal_soon(f);
	assert_string_equal(
		labels_get(&cluster_pod_find(kube_cache_cluster(f->cache), "x", "a")->labels,
			   "app"),
		"z");
}

/* A JSON merge patch of Lease bulkhead-proposer's holder with precondition @rv. */
static int lease_patch(struct fx *f, const char *holder, const char *rv, json_t **ret)
{
	struct kube_ref ref = { .group = "coordination.k8s.io",
				.version = "v1",
				.resource = "leases",
				.ns = "bulkhead-system" };
	json_t *patch = json_pack("{s:{s:s}}", "spec", "holderIdentity", holder);
	struct bh_err err = { 0 };
	int r;

	assert_non_null(patch);
	r = kube_write_wait_patch(f->cl, &ref, "bulkhead-proposer", false, patch, rv, ret, &err);
	json_decref(patch);
	return r;
}

static json_int_t writes_by(struct fx *f, const char *res, const char *verb)
{
	json_t *st = apisrv_control(&f->s, "{s:s}", "op", "stats");
	json_int_t n;

	assert_non_null(st);
	n = json_integer_value(
		json_object_get(json_object_get(json_object_get(st, "writes_by"), res), verb));
	json_decref(st);
	return n;
}

/* A Lease written as the proposer's election does (create, patch with the
 * read resourceVersion, 409 with a stale one), and a conflict fault that
 * answers only Lease patches: pod updates and the Lease's create pass. */
static void lease_and_conflicts_per_resource(void **state)
{
	struct fx *f = *state;
	struct kube_ref pods = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct kube_ref leases = { .group = "coordination.k8s.io",
				   .version = "v1",
				   .resource = "leases",
				   .ns = "bulkhead-system" };
	struct kube_write_stats before, after;
	struct bh_err err = { 0 };
	json_t *lease, *out = NULL, *ans;
	char rv0[32], rv1[32];

	fx_up(f, NULL);
	ans = apisrv_control(&f->s, "{s:s, s:s, s:i, s:s, s:s}", "op", "fault", "fault", "conflict",
			     "count", 1, "resource", "leases", "verb", "patch");
	json_decref(ans);
	lease = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i}}", "apiVersion",
			  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
			  "bulkhead-proposer", "spec", "holderIdentity", "node-1",
			  "leaseDurationSeconds", 15);
	assert_int_equal(kube_write_wait_create(f->cl, &leases, lease, &out, &err), 0);
	json_decref(lease);
	(void) snprintf(rv0, sizeof(rv0), "%s",
			json_string_value(json_object_get(json_object_get(out, "metadata"),
							  "resourceVersion")));
	json_decref(out);
	kube_write_stats_get(&before);
	assert_int_equal(kube_write_wait_update(f->cl, &pods, "a", false, relabel_cb, (char *) "z",
						NULL, &err),
			 0);
	kube_write_stats_get(&after);
	assert_int_equal(after.conflicts - before.conflicts, 0);
	/* The injected 409 answers the Lease patch with the current version. */
	assert_int_equal(lease_patch(f, "node-2", rv0, NULL), -ESTALE);
	assert_int_equal(lease_patch(f, "node-2", rv0, &out), 0);
	(void) snprintf(rv1, sizeof(rv1), "%s",
			json_string_value(json_object_get(json_object_get(out, "metadata"),
							  "resourceVersion")));
	json_decref(out);
	assert_string_not_equal(rv0, rv1);
	/* A real conflict: another node patching with the version it read. */
	assert_int_equal(lease_patch(f, "node-3", rv0, NULL), -ESTALE);
	assert_int_equal(lease_patch(f, "node-3", rv1, NULL), 0);
	assert_int_equal(writes_by(f, "leases", "patch"), 4);
	assert_int_equal(writes_by(f, "leases", "create"), 1);
	assert_int_equal(writes_by(f, "pods", "update"), 1);
}

static void fault_drop(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	fault(f, "drop");
	churn(f, "drop");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->err_transport >= 1);
	assert_int_equal(pod_stats(f)->relists, 0); /* re-watched from the resourceVersion */
}

static void fault_gone_event(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	/* A deletion lost to compaction: only a re-list can see it. */
	del_pod(f, "y", "c", true);
	fault(f, "gone");
	churn(f, "gone");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->gone >= 1);
	assert_true(pod_stats(f)->relists >= 1);
	assert_null(cluster_pod_find(kube_cache_cluster(f->cache), "y", "c"));
}

static void fault_gone_http(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	fault(f, "gone_http");
	fault(f, "drop");
	churn(f, "gonehttp");
	assert_equal_soon(f);
	assert_int_equal(all_gone(f), 1);
}

static void fault_malformed(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	fault(f, "malformed");
	churn(f, "malformed");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->err_json >= 1);
	assert_true(pod_stats(f)->relists >= 1);
}

static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(fp);
	return kb;
}

static void fault_huge_line(void **state)
{
	struct fx *f = *state;
	long before;

	fx_up(f, NULL);
	before = peak_rss_kb();
	fault(f, "huge"); /* a line of 100 MB */
	churn(f, "huge");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->err_toobig >= 1);
	assert_true(pod_stats(f)->relists >= 1);
	/* The line buffer stopped at KUBE_WATCH_LINE_MAX (8 MB, at most 16 MB
	 * of capacity): no 100 MB allocation. */
	assert_true(peak_rss_kb() - before < 64 * 1024);
}

static void fault_stall(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	fault(f, "stall"); /* 4 s of silence; the client gives up after 2 */
	churn(f, "stall");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->err_transport >= 1);
}

static void fault_restart_watch_cache(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	del_pod(f, "y", "c", true);
	fault(f, "restart");
	churn(f, "restart");
	assert_equal_soon(f);
	assert_true(pod_stats(f)->relists >= 1);
	assert_null(cluster_pod_find(kube_cache_cluster(f->cache), "y", "c"));
}

/* Removes pod @name from the stopped server's saved state, as a deletion
 * whose event was compacted away (the revision moves on). */
static void state_drop_pod(struct fx *f, const char *name)
{
	char path[PATH_MAX + 32];
	json_t *st, *objs, *o;
	size_t i;

	(void) snprintf(path, sizeof(path), "%s/.state.json", f->s.data);
	st = json_load_file(path, 0, NULL);
	assert_non_null(st);
	objs = json_object_get(st, "objects");
	json_array_foreach(objs, i, o) {
		json_t *md = json_object_get(o, "metadata");

		if (strcmp(json_string_value(json_object_get(o, "kind")), "Pod") == 0 &&
		    strcmp(json_string_value(json_object_get(md, "name")), name) == 0) {
			json_array_remove(objs, i);
			break;
		}
	}
	json_object_set_new(st, "rv",
			    json_integer(json_integer_value(json_object_get(st, "rv")) + 1));
	assert_int_equal(json_dump_file(st, path, 0), 0);
	json_decref(st);
}

static void fault_server_restart(void **state)
{
	struct fx *f = *state;

	fx_up(f, NULL);
	apisrv_kill(&f->s);
	run_for(f, 700); /* the client fails to reconnect meanwhile */
	assert_true(pod_stats(f)->err_transport >= 1);
	state_drop_pod(f, "c"); /* deleted while we were away */
	assert_int_equal(apisrv_start(&f->s), 0);
	churn(f, "restart");
	assert_equal_soon(f);
	assert_null(cluster_pod_find(kube_cache_cluster(f->cache), "y", "c"));
	assert_true(pod_stats(f)->relists >= 1);
}

static void server_timeouts_rewatch(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "--watch-timeout=0.5", NULL };
	char name[32];

	fx_up(f, args);
	for (int i = 0; i < 6; i++) {
		(void) snprintf(name, sizeof(name), "new-%d", i);
		put_pod(f, "y", name, "t", "10.0.7.7");
		run_for(f, 300);
	}
	assert_equal_soon(f);
	assert_true(pod_stats(f)->watches >= 3);
	/* Each watch went on from the last resourceVersion: no re-list. */
	assert_int_equal(pod_stats(f)->relists, 0);
	assert_int_equal(f->rec.n, 6);
}

static void token_rotation(void **state)
{
	struct fx *f = *state;
	struct kube_config *old_cfg = NULL;
	struct kube_client *old = NULL;
	struct bh_err err = { 0 };
	struct buf body;
	long status = 0;

	fx_up(f, NULL);
	/* The server accepts only the new token; the client still has the
	 * old one until its file is rotated too. */
	assert_int_equal(apisrv_rotate_token(&f->s, "rotated-token-1", true, false), 0);
	fault(f, "drop");
	churn(f, "tok");
	run_for(f, 1000);
	assert_true(pod_stats(f)->err_http >= 1); /* 401s meanwhile */
	assert_int_equal(apisrv_rotate_token(&f->s, "rotated-token-1", false, true), 0);
	assert_equal_soon(f);

	/* And the old token really is refused. */
	assert_int_equal(kube_config_new(f->s.url, f->s.ca, "not-the-token", NULL, &old_cfg), 0);
	assert_int_equal(kube_client_new(old_cfg, &old, &err), 0);
	assert_int_equal(kube_client_call(old, "GET", "/api/v1/pods", NULL, NULL, 1 << 20, 10,
					  &body, &status, &err),
			 0);
	buf_done(&body);
	assert_int_equal(status, 401);
	kube_client_free(old);
	kube_config_free(old_cfg);
}

static void wrong_ca_and_token_refused(void **state)
{
	struct fx *f = *state;
	struct apisrv *s = &f->s;
	struct kube_config *cfg = NULL;
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	assert_int_equal(apisrv_init(s, objects), 0);
	assert_int_equal(apisrv_start(s), 0);
	assert_int_equal(kube_config_new(s->url, s->other_ca, NULL, s->client_token, &cfg), 0);
	assert_int_equal(kube_cluster_list(cfg, 10000, &c, &err), -EPROTO);
	assert_null(c);
	assert_int_equal(err.kind, BH_ERR_SYSTEM);
	assert_non_null(strstr(err.msg, "TLS verification failed"));
	assert_non_null(strstr(err.msg, "other-ca.crt"));
	kube_config_free(cfg);

	memset(&err, 0, sizeof(err));
	assert_int_equal(kube_config_new(s->url, s->ca, "wrong", NULL, &cfg), 0);
	assert_int_equal(kube_cluster_list(cfg, 10000, &c, &err), -EACCES);
	assert_non_null(strstr(err.msg, "401"));
	assert_null(strstr(err.msg, "wrong")); /* the token never shows */
	kube_config_free(cfg);
}

static char *b64_file(const char *path)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char in[8192];
	size_t n, o = 0;
	char *out;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	n = fread(in, 1, sizeof(in), fp);
	fclose(fp);
	out = malloc(n * 4 / 3 + 8);
	assert_non_null(out);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned) in[i] << 16 | (i + 1 < n ? (unsigned) in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void kubeconfig_client_cert_and_cli(void **state)
{
	struct fx *f = *state;
	struct cli_cluster_src src = { 0 };
	char path[PATH_MAX + 32];
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	char *ca;
	FILE *fp;

	fx_up(f, NULL);
	ca = b64_file(f->s.ca);
	(void) snprintf(path, sizeof(path), "%s/kubeconfig", f->s.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp,
		"apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		"clusters:\n- name: c1\n  cluster:\n    server: %s\n"
		"    certificate-authority-data: %s\n"
		"users:\n- name: u1\n  user:\n    client-certificate: certs/client.crt\n"
		"    client-key: certs/client.key\n"
		"contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"
		"- name: test\n  context:\n    cluster: c1\n    user: u1\n",
		f->s.url, ca);
	fclose(fp);
	free(ca);
	src.kubeconfig = path;
	if (cli_cluster_load(&src, &c, &err) < 0)
		fail_msg("cli_cluster_load: %s", err.msg);
	if (!cluster_equal(c, kube_cache_cluster(f->cache), f->why, sizeof(f->why)))
		fail_msg("%s", f->why);
	assert_int_equal(c->n_pods, 3);
	cluster_free(c);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

/*
 * An exec plugin whose first credential the server refuses (revoked before
 * its expirationTimestamp): the 401 makes the next request run the plugin
 * again, once; the new credential is then cached for the process, across
 * clients.
 */
static void exec_plugin_rerun_after_401(void **state)
{
	struct fx *f = *state;
	struct kube_config *cfg = NULL;
	struct kube_client *cl = NULL;
	struct cluster *c = NULL;
	struct bh_err err = { 0 };
	char plugin[PATH_MAX + 32], runs[PATH_MAX + 32];
	struct buf body;
	long status = 0;
	FILE *fp;

	fx_up(f, NULL);
	(void) snprintf(plugin, sizeof(plugin), "%s/plugin.sh", f->s.dir);
	(void) snprintf(runs, sizeof(runs), "%s/runs", f->s.dir);
	fp = fopen(plugin, "w");
	assert_non_null(fp);
	fprintf(fp,
		"#!/bin/sh\n"
		"printf x >> '%s'\n"
		"if [ \"$(wc -c < '%s')\" = 1 ]; then t=revoked-token; else t=$(cat '%s'); fi\n"
		"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
		"\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%%s\","
		"\"expirationTimestamp\":\"%%s\"}}' \"$t\" "
		"\"$(date -u -d '+1 hour' +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
		runs, runs, f->s.server_token);
	fclose(fp);
	assert_int_equal(chmod(plugin, 0700), 0);
	assert_int_equal(kube_config_new(f->s.url, f->s.ca, NULL, NULL, &cfg), 0);
	cfg->exec = calloc(1, sizeof(*cfg->exec));
	assert_non_null(cfg->exec);
	cfg->exec->command = strdup(plugin);
	cfg->exec->api_version = strdup("client.authentication.k8s.io/v1beta1");
	cfg->exec->exec_info = strdup("{\"kind\":\"ExecCredential\"}");
	kube_exec_cache_clear();

	/* The list path: the revoked token fails the command (as kubectl's
	 * does), and the next command's client gets a new credential. */
	assert_int_equal(kube_cluster_list(cfg, 10000, &c, &err), -EACCES);
	assert_null(strstr(err.msg, "revoked-token"));
	assert_int_equal(file_size(runs), 1);
	assert_int_equal(kube_cluster_list(cfg, 10000, &c, &err), 0);
	cluster_free(c);
	assert_int_equal(file_size(runs), 2);

	/* The blocking call retries once by itself. */
	kube_exec_cache_clear();
	(void) unlink(runs);
	assert_int_equal(kube_client_new(cfg, &cl, &err), 0);
	assert_int_equal(file_size(runs), 1);
	assert_int_equal(kube_client_call(cl, "GET", "/api/v1/namespaces", NULL, NULL, 1 << 20, 10,
					  &body, &status, &err),
			 0);
	buf_done(&body);
	assert_int_equal(status, 200);
	assert_int_equal(file_size(runs), 2);
	/* Cached from now on, in this client and in new ones. */
	assert_int_equal(kube_client_call(cl, "GET", "/api/v1/namespaces", NULL, NULL, 1 << 20, 10,
					  &body, &status, &err),
			 0);
	buf_done(&body);
	assert_int_equal(status, 200);
	assert_int_equal(kube_cluster_list(cfg, 10000, &c, &err), 0);
	cluster_free(c);
	assert_int_equal(file_size(runs), 2);
	kube_client_free(cl);
	kube_config_free(cfg);
	kube_exec_cache_clear();
}

static void custom_resource_watched(void **state)
{
	struct fx *f = *state;
	struct kube_watch *w;
	json_t *obj, *ans;

	fx_up(f, NULL);
	w = kube_cache_watch(f->cache, "policymodes");
	assert_non_null(w);
	obj = kube_watch_get(w, "x", "cluster");
	assert_non_null(obj);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(obj, "spec"), "mode")),
		"preview");
	ans = apisrv_control(&f->s, "{s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s}}}", "op", "put",
			     "object", "apiVersion", "bulkhead.io/v1", "kind", "PolicyMode",
			     "metadata", "name", "cluster", "namespace", "x", "spec", "mode",
			     "enforce");
	assert_non_null(ans);
	json_decref(ans);
	for (int i = 0; i < 200; i++) {
		obj = kube_watch_get(w, "x", "cluster");
		if (strcmp(json_string_value(json_object_get(json_object_get(obj, "spec"), "mode")),
			   "enforce") == 0)
			break;
		(void) kube_client_run(f->cl, 50);
	}
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(obj, "spec"), "mode")),
		"enforce");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(initial_sync_10k_paged, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(events_in_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(write_conflicts_retried, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(lease_and_conflicts_per_resource, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(fault_drop, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_gone_event, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_gone_http, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_malformed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_huge_line, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_stall, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_restart_watch_cache, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(fault_server_restart, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(server_timeouts_rewatch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(token_rotation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(wrong_ca_and_token_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(kubeconfig_client_cert_and_cli, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(custom_resource_watched, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(exec_plugin_rerun_after_401, fx_setup, fx_teardown),
	};

	/* KUBE_TEST=name runs one test (cmocka's filter). */
	if (getenv("KUBE_TEST"))
		cmocka_set_test_filter(getenv("KUBE_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
