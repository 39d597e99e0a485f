/*
 * The fixture of the Kubernetes client tests (integration.kube_api,
 * integration.kube_async): the test API server with a client and a cache
 * on it, and the changes and faults the tests make.
 */
#ifndef BH_TEST_KUBE_FX_H
#define BH_TEST_KUBE_FX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "kube_cache.h"

/* An upper bound on waiting for the client to converge, not a timing
 * assertion: generous because CI runs this under the sanitizers beside the
 * network-namespace suites on 2 cores.  bench_kube_sync measures speed. */
#define WAIT_MS 120000

/* Namespaces x (pods a, b) and y (pod c), node-1, policy x/deny and
 * PolicyMode x/cluster (a custom resource). */
extern const char objects[];

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

/* Records pod events of pods named "new*" (a subscriber). */
void rec_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c);
/* Until the server streams @n watches. */
void wait_watching(struct fx *f, int n);
/* Starts the server with @objs and @args, a client and a cache (options
 * @o, or the tests' defaults), and waits until it is synced. */
void fx_up_opts(struct fx *f, const char *objs, const char *const *args,
		const struct kube_cache_opts *o);
void fx_up(struct fx *f, const char *const *args);
void fx_down(struct fx *f);
int fx_setup(void **state);
int fx_teardown(void **state);
void put_pod(struct fx *f, const char *ns, const char *name, const char *app, const char *ip);
void del_pod(struct fx *f, const char *ns, const char *name, bool silent);
/* Fault @name for 4 s, once. */
void fault(struct fx *f, const char *name);
void run_for(struct fx *f, int ms);
/* Until the cache equals the server's state (fails the test otherwise). */
void assert_equal_soon(struct fx *f);
/* A mutate function: sets label app to @ud. */
int relabel_cb(void *ud, json_t *obj);

#endif
