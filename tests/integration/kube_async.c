/*
 * integration.kube_async: the loop side of the Kubernetes client against
 * the test API server: writes that end in callbacks, with their backoff on
 * a client timer, and the cache's old/new objects and tombstones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"
#include "identity.h"
#include "kube_fx.h"
#include "kube_write.h"
#include "learn_export.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(write_async_retries_without_blocking, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(write_async_retry_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(write_async_cancel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(events_carry_old_and_new, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(deleted_pod_still_resolves, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(tombstones_expire_on_timer, fx_setup, fx_teardown),
	};

	/* KUBE_TEST=name runs one test (cmocka's filter). */
	if (getenv("KUBE_TEST"))
		cmocka_set_test_filter(getenv("KUBE_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
