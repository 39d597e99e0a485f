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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "cli.h"
#include "harness.h"
#include "kube_cache.h"
#include "identity.h"
#include "kube_exec.h"
#include "learn_export.h"
#include "kube_write.h"
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

/* An upper bound on waiting for the client to converge, not a timing
 * assertion: generous because CI runs this under the sanitizers beside the
 * network-namespace suites on 2 cores.  bench_kube_sync measures speed. */
#define WAIT_MS 120000

static const char objects[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\","
	"\"labels\":{\"kubernetes.io/metadata.name\":\"x\",\"team\":\"a\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"y\","
	"\"labels\":{\"kubernetes.io/metadata.name\":\"y\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\"},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.0.1\"}]}},"
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
	"{\"name\":\"deny\",\"namespace\":\"x\"},\"spec\":{\"podSelector\":{}}},"
	"{\"apiVersion\":\"bulkhead.io/v1\",\"kind\":\"PolicyMode\",\"metadata\":"
	"{\"name\":\"cluster\",\"namespace\":\"x\"},\"spec\":{\"mode\":\"preview\"}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\","
	"\"labels\":{\"app\":\"a\"}},\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":"
	"\"c\",\"ports\":[{\"containerPort\":80}]}]},\"status\":{\"phase\":\"Running\","
	"\"podIP\":\"10.0.0.1\",\"podIPs\":[{\"ip\":\"10.0.0.1\"}]}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\",\"namespace\":\"x\","
	"\"labels\":{\"app\":\"b\"}},\"spec\":{\"nodeName\":\"node-1\"},\"status\":{\"phase\":"
	"\"Running\",\"podIP\":\"10.0.0.2\"}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"c\",\"namespace\":\"y\","
	"\"labels\":{\"app\":\"c\"}},\"spec\":{\"nodeName\":\"node-1\"},\"status\":{\"phase\":"
	"\"Running\",\"podIP\":\"10.0.1.3\"}}"
	"]}";

struct rec {
	char ev[64][96];
	bool present[64]; /* was the pod in the cluster at callback time */
	char app[64][32];
	size_t n;
};

struct fx {
	struct apisrv s;
	struct kube_config *cfg;
	struct kube_client *cl;
	struct kube_cache *cache;
	struct rec rec;
	char why[512];
};

static void rec_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c)
{
	struct rec *r = ud;
	const struct pod *p;

	if (ev->kind != KUBE_KIND_POD || r->n >= 64 || strncmp(ev->name, "new", 3) != 0)
		return;
	(void) snprintf(r->ev[r->n], sizeof(r->ev[0]), "%s %s/%s", kube_event_type_name(ev->type),
			ev->ns, ev->name);
	p = cluster_pod_find(c, ev->ns, ev->name);
	r->present[r->n] = p != NULL;
	(void) snprintf(r->app[r->n], sizeof(r->app[0]), "%s",
			p && labels_get(&p->labels, "app") ? labels_get(&p->labels, "app") : "");
	r->n++;
}

/* Until the server streams @n watches: a fault injected earlier would
 * miss a watch still connecting. */
static void wait_watching(struct fx *f, int n)
{
	for (int i = 0; i < WAIT_MS / 20; i++) {
		json_t *st = apisrv_control(&f->s, "{s:s}", "op", "stats");
		json_int_t active = json_integer_value(json_object_get(st, "active"));

		json_decref(st);
		if (active >= n)
			return;
		(void) kube_client_run(f->cl, 20);
	}
	fail_msg("the server never had %d watches", n);
}

static void fx_up_opts(struct fx *f, const char *objs, const char *const *args,
		       const struct kube_cache_opts *o)
{
	struct kube_cache_opts d = {
		.idle_s = 2,
		.backoff_min_ms = 50,
		.backoff_max_ms = 400,
	};
	struct bh_err err = { 0 };

	assert_int_equal(apisrv_init(&f->s, objs), 0);
	apisrv_arg(&f->s, "--bookmark-interval=0.5");
	apisrv_arg(&f->s, "--crd=bulkhead.io/v1/policymodes/PolicyMode");
	for (; args && *args; args++)
		apisrv_arg(&f->s, *args);
	assert_int_equal(apisrv_start(&f->s), 0);
	assert_int_equal(apisrv_config(&f->s, &f->cfg), 0);
	assert_int_equal(kube_client_new(f->cfg, &f->cl, &err), 0);
	assert_int_equal(kube_cache_new(f->cl, o ? o : &d, &f->cache), 0);
	assert_int_equal(
		kube_cache_add_resource(f->cache, "bulkhead.io", "v1", "policymodes", false), 0);
	assert_true(kube_cache_subscribe(f->cache, rec_cb, &f->rec) >= 0);
	assert_int_equal(kube_cache_start(f->cache), 0);
	if (kube_cache_wait_synced(f->cache, f->cl, WAIT_MS, &err) < 0)
		fail_msg("sync: %s", err.msg);
	if (!o)
		wait_watching(f, 5);
}

static void fx_up(struct fx *f, const char *const *args)
{
	fx_up_opts(f, objects, args, NULL);
}

static void fx_down(struct fx *f)
{
	kube_cache_free(f->cache);
	kube_client_free(f->cl);
	kube_config_free(f->cfg);
	apisrv_done(&f->s);
	free(f);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->s.pid = -1;
	*state = f;
	return 0;
}

/* Runs even when the test failed: stops the server, removes its files. */
static int fx_teardown(void **state)
{
	fx_down(*state);
	return 0;
}

static void put_pod(struct fx *f, const char *ns, const char *name, const char *app, const char *ip)
{
	json_t *pod = apisrv_pod(ns, name, app, ip);
	json_t *ans = apisrv_control(&f->s, "{s:s, s:o}", "op", "put", "object", pod);

	assert_non_null(ans);
	json_decref(ans);
}

static void del_pod(struct fx *f, const char *ns, const char *name, bool silent)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:s, s:s, s:s, s:b}", "op", "delete", "resource",
				     "pods", "namespace", ns, "name", name, "silent", silent);

	assert_non_null(ans);
	json_decref(ans);
}

static void fault(struct fx *f, const char *name)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:s, s:i, s:i}", "op", "fault", "fault", name,
				     "seconds", 4, "count", 1);

	assert_non_null(ans);
	json_decref(ans);
}

static void run_for(struct fx *f, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t) ms;

	while (clock_mono_ms() < end)
		(void) kube_client_run(f->cl, 20);
}

static void assert_equal_soon(struct fx *f)
{
	if (!apisrv_wait_equal(&f->s, f->cl, f->cache, WAIT_MS, f->why, sizeof(f->why)))
		fail_msg("cache differs from the server: %s", f->why);
}

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

static int relabel_cb(void *ud, json_t *obj)
{
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");

	return json_object_set_new(labels, "app", json_string(ud)) < 0 ? -ENOMEM : 0;
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

/* --- asynchronous writes --- */

struct wrec {
	int calls, r;
	char msg[BH_ERR_MSG_MAX];
	char app[32];
	uint64_t at_ms;
};

static void wrec_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct wrec *x = ud;
	const char *app = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));

	x->calls++;
	x->r = r;
	x->at_ms = clock_mono_ms();
	(void) snprintf(x->msg, sizeof(x->msg), "%s", err ? err->msg : "");
	(void) snprintf(x->app, sizeof(x->app), "%s", app ? app : "");
}

/* The next @count writes the server receives answer HTTP @status. */
static void write_fault(struct fx *f, int status, int count)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:s, s:i, s:i}", "op", "fault", "fault",
				     "write_status", "status", status, "count", count);

	assert_non_null(ans);
	json_decref(ans);
}

static json_int_t server_writes(struct fx *f)
{
	json_t *st = apisrv_control(&f->s, "{s:s}", "op", "stats");
	json_int_t n = json_integer_value(json_object_get(st, "writes"));

	json_decref(st);
	return n;
}

static void timer_fired_cb(void *ud)
{
	*(uint64_t *) ud = clock_mono_ms();
}

struct getrec {
	long status;
	uint64_t at_ms;
};

static void get_done_cb(void *ud, int r, long status, const char *msg)
{
	struct getrec *g = ud;

	(void) msg;
	g->status = r < 0 ? r : status;
	g->at_ms = clock_mono_ms();
}

/*
 * A patch answered 500, 429, 503 and then accepted: it ends in its
 * callback after four attempts and three backoffs (10 + 20 + 40 ms at
 * least), and while it waits in backoff the loop goes on: a client timer
 * fires and a GET on the same client completes before the write does.
 */
static void write_async_retries_without_blocking(void **state)
{
	struct fx *f = *state;
	struct kube_ref ref = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct kube_write_stats before, after;
	struct bh_err err = { 0 };
	struct wrec x = { 0 };
	struct getrec g = { 0 };
	struct kube_timer t = { 0 };
	uint64_t timer_at = 0, start;
	json_int_t writes0;
	json_t *patch;
	bool armed = false;

	fx_up(f, NULL);
	write_fault(f, 500, 1);
	write_fault(f, 429, 1);
	write_fault(f, 503, 1);
	writes0 = server_writes(f);
	kube_write_stats_get(&before);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "async");
	start = clock_mono_ms();
	assert_int_equal(kube_write_patch(f->cl, &ref, "a", false, patch, NULL, wrec_done_cb, &x,
					  NULL, &err),
			 0);
	json_decref(patch);
	assert_int_equal(x.calls, 0); /* never from the call that starts it */
	for (int i = 0; i < WAIT_MS / 5 && !x.calls; i++) {
		kube_write_stats_get(&after);
		/* In backoff: an attempt failed and the next is not sent yet
		 * (a write that slept and sent again at once in the same
		 * callback is never seen so). */
		if (!armed && after.retries > before.retries &&
		    after.attempts - before.attempts == after.retries - before.retries) {
			const struct kube_request_opts o = {
				.path = "/api/v1/namespaces",
				.timeout_s = 10,
				.done_cb = get_done_cb,
				.ud = &g,
			};

			/* In backoff now: the loop must serve these first. */
			kube_timer_arm(f->cl, &t, 1, timer_fired_cb, &timer_at);
			assert_int_equal(kube_request_start(f->cl, &o, NULL), 0);
			armed = true;
		}
		(void) kube_client_run(f->cl, 5);
	}
	assert_true(armed);
	assert_int_equal(x.calls, 1);
	if (x.r != 0)
		fail_msg("patch: %s", x.msg);
	assert_string_equal(x.app, "async");
	assert_true(x.at_ms - start >= 10 + 20 + 40);
	kube_write_stats_get(&after);
	assert_int_equal(after.attempts - before.attempts, 4);
	assert_int_equal(after.retries - before.retries, 3);
	assert_int_equal(server_writes(f) - writes0, 4);
	assert_true(timer_at != 0 && timer_at < x.at_ms);
	assert_int_equal(g.status, 200);
	assert_true(g.at_ms < x.at_ms);
}

/* Five 500s: the write ends after exactly KUBE_WRITE_RETRIES attempts,
 * with the server's answer in the error. */
static void write_async_retry_limit(void **state)
{
	struct fx *f = *state;
	struct kube_ref ref = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct kube_write_stats before, after;
	struct bh_err err = { 0 };
	struct wrec x = { 0 };
	uint64_t start;
	json_int_t writes0;
	json_t *pod;

	fx_up(f, NULL);
	write_fault(f, 500, KUBE_WRITE_RETRIES + 1);
	writes0 = server_writes(f);
	kube_write_stats_get(&before);
	pod = apisrv_pod("x", "new-r", "r", "10.0.5.6");
	start = clock_mono_ms();
	assert_int_equal(kube_write_create(f->cl, &ref, pod, wrec_done_cb, &x, NULL, &err), 0);
	json_decref(pod);
	for (int i = 0; i < WAIT_MS / 20 && !x.calls; i++)
		(void) kube_client_run(f->cl, 20);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.r, -EIO);
	assert_non_null(strstr(x.msg, "HTTP 500"));
	assert_non_null(strstr(x.msg, "create pods 'x/new-r'"));
	kube_write_stats_get(&after);
	assert_int_equal(after.attempts - before.attempts, KUBE_WRITE_RETRIES);
	assert_int_equal(after.retries - before.retries, KUBE_WRITE_RETRIES - 1);
	assert_int_equal(server_writes(f) - writes0, KUBE_WRITE_RETRIES);
	assert_true(x.at_ms - start >= 10 + 20 + 40 + 80);
	assert_null(cluster_pod_find(kube_cache_cluster(f->cache), "x", "new-r"));
}

/* A cancelled write calls back no more and sends nothing more, whether it
 * was waiting for an answer or in backoff. */
static void write_async_cancel(void **state)
{
	struct fx *f = *state;
	struct kube_ref ref = { .group = "", .version = "v1", .resource = "pods", .ns = "x" };
	struct kube_write_stats before, now;
	struct bh_err err = { 0 };
	struct wrec x = { 0 }, y = { 0 };
	struct kube_write *w = NULL;
	json_int_t writes;
	json_t *patch;

	fx_up(f, NULL);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "never");
	/* In flight. */
	assert_int_equal(kube_write_patch(f->cl, &ref, "a", false, patch, NULL, wrec_done_cb, &x,
					  &w, &err),
			 0);
	assert_null(kube_write_cancel(w));
	/* In backoff. */
	write_fault(f, 500, KUBE_WRITE_RETRIES);
	kube_write_stats_get(&before);
	assert_int_equal(kube_write_update(f->cl, &ref, "a", false, relabel_cb, wrec_done_cb, &y,
					   &w, &err),
			 0);
	for (int i = 0; i < WAIT_MS / 5; i++) {
		kube_write_stats_get(&now);
		if (now.retries > before.retries)
			break;
		(void) kube_client_run(f->cl, 5);
	}
	assert_int_equal(now.retries - before.retries, 1);
	assert_int_equal(y.calls, 0);
	writes = server_writes(f);
	assert_null(kube_write_cancel(w));
	run_for(f, 500);
	assert_int_equal(x.calls, 0);
	assert_int_equal(y.calls, 0);
	assert_int_equal(server_writes(f), writes);
	kube_write_stats_get(&now);
	assert_int_equal(now.retries - before.retries, 1);
	json_decref(patch);
}

/* --- old and new objects, tombstones --- */

struct oldnew {
	char ev[16][128];
	size_t n;
	bool new_is_cached; /* every @new was the cluster's object */
};

static const char *app_of(const struct labels *l, const char *key)
{
	const char *v = labels_get(l, key);

	return v ? v : "";
}

static void oldnew_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c)
{
	struct oldnew *x = ud;
	char *out = x->ev[x->n];
	size_t len = sizeof(x->ev[0]);

	if (x->n >= BH_ARRAY_SIZE(x->ev))
		return;
	switch (ev->kind) {
	case KUBE_KIND_POD:
		if (strncmp(ev->name, "new-", 4) != 0)
			return;
		(void) snprintf(out, len, "%s pod %s old=%s new=%s", kube_event_type_name(ev->type),
				ev->name, ev->old.pod ? app_of(&ev->old.pod->labels, "app") : "-",
				ev->new.pod ? app_of(&ev->new.pod->labels, "app") : "-");
		if (ev->new.pod && ev->new.pod != cluster_pod_find(c, ev->ns, ev->name))
			x->new_is_cached = false;
		break;
	case KUBE_KIND_NAMESPACE:
		(void) snprintf(out, len, "%s ns %s old=%s new=%s", kube_event_type_name(ev->type),
				ev->name, ev->old.ns ? app_of(&ev->old.ns->labels, "team") : "-",
				ev->new.ns ? app_of(&ev->new.ns->labels, "team") : "-");
		break;
	case KUBE_KIND_NETPOL:
		(void) snprintf(out, len, "%s policy %s old=%s new=%s",
				kube_event_type_name(ev->type), ev->name,
				ev->old.policy ? ev->old.policy->name : "-",
				ev->new.policy ? ev->new.policy->name : "-");
		break;
	default:
		return;
	}
	x->n++;
}

/* The @i-th recorded event whose text has @what, or "". */
static const char *nth_of(const struct oldnew *x, const char *what, size_t i)
{
	for (size_t k = 0; k < x->n; k++)
		if (strstr(x->ev[k], what) && i-- == 0)
			return x->ev[k];
	return "";
}

static void put_object(struct fx *f, json_t *obj)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:o}", "op", "put", "object", obj);

	assert_non_null(ans);
	json_decref(ans);
}

/*
 * Subscribers get the old and the new decoded object with every event:
 * none before an add, none after a delete, both on a change.
 */
static void events_carry_old_and_new(void **state)
{
	struct fx *f = *state;
	struct oldnew x = { .new_is_cached = true };
	json_t *ans;

	fx_up(f, NULL);
	assert_true(kube_cache_subscribe(f->cache, oldnew_cb, &x) >= 0);
	put_pod(f, "x", "new-o", "o1", "10.0.9.9");
	put_pod(f, "x", "new-o", "o2", "10.0.9.9");
	put_object(f, json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind",
				"Namespace", "metadata", "name", "y", "labels",
				"kubernetes.io/metadata.name", "y", "team", "b"));
	ans = apisrv_control(&f->s, "{s:s, s:s, s:s, s:s, s:s}", "op", "delete", "resource",
			     "networkpolicies", "group", "networking.k8s.io", "namespace", "x",
			     "name", "deny");
	assert_non_null(ans);
	json_decref(ans);
	del_pod(f, "x", "new-o", false);
	for (int i = 0; i < WAIT_MS / 20 && x.n < 5; i++)
		(void) kube_client_run(f->cl, 20);
	assert_equal_soon(f);
	assert_int_equal(x.n, 5);
	/* In the server's order per resource (each is its own watch). */
	assert_string_equal(nth_of(&x, " pod ", 0), "ADDED pod new-o old=- new=o1");
	assert_string_equal(nth_of(&x, " pod ", 1), "MODIFIED pod new-o old=o1 new=o2");
	assert_string_equal(nth_of(&x, " pod ", 2), "DELETED pod new-o old=o2 new=-");
	assert_string_equal(nth_of(&x, " ns ", 0), "MODIFIED ns y old= new=b");
	assert_string_equal(nth_of(&x, " policy ", 0), "DELETED policy deny old=deny new=-");
	assert_true(x.new_is_cached);
}

/*
 * A flow seen just before its pod was deleted, resolved after the cache
 * applied the deletion: the cache's tombstone still names the pod (with
 * the cluster alone, as before tombstones, the address is nobody's).
 */
static void deleted_pod_still_resolves(void **state)
{
	struct fx *f = *state;
	struct flow_record fl = { 0 };
	struct identity *id = NULL;
	struct flow_peer peer;
	struct addr a;

	fx_up(f, NULL);
	put_pod(f, "x", "new-t", "t1", "10.0.9.7");
	fl.first_seen = fl.last_seen = (int64_t) time(NULL);
	assert_equal_soon(f);
	del_pod(f, "x", "new-t", false);
	assert_equal_soon(f);
	assert_null(cluster_pod_find(kube_cache_cluster(f->cache), "x", "new-t"));

	assert_int_equal(addr_parse("10.0.9.7", &a), 0);
	assert_int_equal(identity_new_with_tombstones(kube_cache_cluster(f->cache),
						      kube_cache_tombstones(f->cache), &id),
			 0);
	assert_int_equal(learn_resolve_peer(id, &a, &fl, &peer), 0);
	assert_int_equal(peer.kind, FLOW_PEER_POD);
	assert_string_equal(peer.ns, "x");
	assert_string_equal(peer.name, "new-t");
	assert_string_equal(labels_get(&peer.labels, "app"), "t1");
	flow_peer_done(&peer);
	identity_free(id);
	assert_int_equal(kube_cache_stats(f->cache)->tombstones_added, 1);
}

/* Tombstones expire after their time to live, on the client's timer. */
static void tombstones_expire_on_timer(void **state)
{
	struct fx *f = *state;
	struct kube_cache_opts o = {
		.idle_s = 2,
		.backoff_min_ms = 50,
		.backoff_max_ms = 400,
		.tombstone_ttl_ms = 300,
	};

	fx_up_opts(f, objects, NULL, &o);
	wait_watching(f, 5);
	del_pod(f, "x", "b", false);
	assert_equal_soon(f);
	assert_int_equal(tombstones_count(kube_cache_tombstones(f->cache)), 1);
	assert_string_equal(tombstones_pod(kube_cache_tombstones(f->cache), 0)->name, "b");
	run_for(f, 600);
	assert_int_equal(tombstones_count(kube_cache_tombstones(f->cache)), 0);
	assert_int_equal(kube_cache_stats(f->cache)->tombstones_expired, 1);
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
		cmocka_unit_test_setup_teardown(write_async_retries_without_blocking, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(write_async_retry_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(write_async_cancel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(events_carry_old_and_new, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(deleted_pod_still_resolves, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(tombstones_expire_on_timer, fx_setup, fx_teardown),
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
