/* The Kubernetes client tests' fixture (kube_fx.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "kube_fx.h"

const char objects[] =
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

void rec_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c)
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
void wait_watching(struct fx *f, int n)
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

void fx_up_opts(struct fx *f, const char *objs, const char *const *args,
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

void fx_up(struct fx *f, const char *const *args)
{
	fx_up_opts(f, objects, args, NULL);
}

void fx_down(struct fx *f)
{
	kube_cache_free(f->cache);
	kube_client_free(f->cl);
	kube_config_free(f->cfg);
	apisrv_done(&f->s);
	free(f);
}

int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->s.pid = -1;
	*state = f;
	return 0;
}

/* Runs even when the test failed: stops the server, removes its files. */
int fx_teardown(void **state)
{
	fx_down(*state);
	return 0;
}

void put_pod(struct fx *f, const char *ns, const char *name, const char *app, const char *ip)
{
	json_t *pod = apisrv_pod(ns, name, app, ip);
	json_t *ans = apisrv_control(&f->s, "{s:s, s:o}", "op", "put", "object", pod);

	assert_non_null(ans);
	json_decref(ans);
}

void del_pod(struct fx *f, const char *ns, const char *name, bool silent)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:s, s:s, s:s, s:b}", "op", "delete", "resource",
				     "pods", "namespace", ns, "name", name, "silent", silent);

	assert_non_null(ans);
	json_decref(ans);
}

void fault(struct fx *f, const char *name)
{
	json_t *ans = apisrv_control(&f->s, "{s:s, s:s, s:i, s:i}", "op", "fault", "fault", name,
				     "seconds", 4, "count", 1);

	assert_non_null(ans);
	json_decref(ans);
}

void run_for(struct fx *f, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t) ms;

	while (clock_mono_ms() < end)
		(void) kube_client_run(f->cl, 20);
}

void assert_equal_soon(struct fx *f)
{
	if (!apisrv_wait_equal(&f->s, f->cl, f->cache, WAIT_MS, f->why, sizeof(f->why)))
		fail_msg("cache differs from the server: %s", f->why);
}

int relabel_cb(void *ud, json_t *obj)
{
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");

	return json_object_set_new(labels, "app", json_string(ud)) < 0 ? -ENOMEM : 0;
}
