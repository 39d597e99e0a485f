/*
 * The cluster cache over one kube_watch per resource type.  Typed objects
 * go through the snapshot reader's decoders into a struct cluster; the
 * subscribers see every change after it was applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kube_cache.h"
#include "log.h"

/* Decode failures are logged this many times, then only counted. */
#define KUBE_CACHE_LOG_MAX 10

struct kube_cache;

struct typed {
	struct kube_cache *cache;
	struct kube_watch *w;
	enum kube_kind kind;
	const char *group, *version, *resource;
};

struct sub {
	kube_cache_event_fn *fn;
	void *ud;
};

struct kube_cache {
	struct kube_client *client;
	struct kube_cache_opts o;
	struct cluster *cluster;
	struct typed typed[4 + KUBE_CACHE_EXTRA_MAX];
	size_t n_typed;
	struct sub subs[KUBE_CACHE_SUBS_MAX];
	struct kube_cache_stats stats;
	char *extra_names[3 * KUBE_CACHE_EXTRA_MAX]; /* owned group/version/plural */
	bool started;
};

static void deliver(struct kube_cache *c, const struct typed *t, enum kube_event_type type,
		    const char *ns, const char *name, json_t *obj)
{
	struct kube_cache_event ev = {
		.type = type,
		.kind = t->kind,
		.group = t->group,
		.version = t->version,
		.resource = t->resource,
		.ns = ns,
		.name = name,
		.object = obj,
	};

	c->stats.events++;
	for (size_t i = 0; i < KUBE_CACHE_SUBS_MAX; i++)
		if (c->subs[i].fn)
			c->subs[i].fn(c->subs[i].ud, &ev, c->cluster);
}

static int remove_obj(struct kube_cache *c, enum kube_kind kind, const char *ns, const char *name)
{
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		return cluster_ns_remove(c->cluster, name);
	case KUBE_KIND_POD:
		return ns ? cluster_pod_remove(c->cluster, ns, name) : 0;
	case KUBE_KIND_NETPOL:
		return ns ? cluster_policy_remove(c->cluster, ns, name) : 0;
	case KUBE_KIND_NODE:
		return cluster_node_remove(c->cluster, name);
	default:
		return 0;
	}
}

static int put_obj(struct kube_cache *c, enum kube_kind kind, json_t *obj, struct bh_err *e)
{
	union {
		struct k8s_ns ns;
		struct pod pod;
		struct netpol pol;
		struct node node;
	} u;
	int r;

	memset(&u, 0, sizeof(u));
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		r = kube_ns_decode(obj, &u.ns, e);
		return r < 0 ? r : cluster_ns_put(c->cluster, &u.ns);
	case KUBE_KIND_POD:
		r = kube_pod_decode(obj, &u.pod, e);
		return r < 0 ? r : cluster_pod_put(c->cluster, &u.pod);
	case KUBE_KIND_NETPOL:
		r = kube_netpol_decode(obj, &u.pol, e);
		return r < 0 ? r : cluster_policy_put(c->cluster, &u.pol);
	case KUBE_KIND_NODE:
		r = kube_node_decode(obj, &u.node, e);
		return r < 0 ? r : cluster_node_put(c->cluster, &u.node);
	default:
		return 0;
	}
}

static void event_cb(void *ud, struct kube_watch *w, enum kube_event_type type, json_t *obj)
{
	struct typed *t = ud;
	struct kube_cache *c = t->cache;
	struct bh_err err = { 0 };
	const char *ns = NULL, *name = NULL;
	int r;

	(void) w;
	if (kube_object_key(obj, &ns, &name) < 0)
		return; /* kube_watch only passes objects with a name */
	if (t->kind != KUBE_KIND_UNKNOWN) {
		if (type == KUBE_EVENT_DELETED) {
			(void) remove_obj(c, t->kind, ns, name);
		} else {
			r = put_obj(c, t->kind, obj, &err);
			if (r < 0) {
				/* Never keep a stale version of an object we can no
				 * longer read: the enforcer would act on old data. */
				(void) remove_obj(c, t->kind, ns, name);
				c->stats.decode_errors++;
				if (c->stats.decode_errors <= KUBE_CACHE_LOG_MAX)
					log_warning("kube: %s '%s%s%s': %s, ignoring", t->resource,
						    ns ? ns : "", ns ? "/" : "", name,
						    err.kind ? err.msg : strerror(-r));
			}
		}
	}
	deliver(c, t, type, ns, name, obj);
}

/* Creates the list+watch of @t's resource with the cache's options. */
static int typed_watch_new(struct kube_cache *c, struct typed *t, bool cluster_scoped,
			   bool keep_objects)
{
	const struct kube_watch_opts wo = {
		.group = t->group,
		.version = t->version,
		.resource = t->resource,
		.cluster_scoped = cluster_scoped,
		.keep_objects = keep_objects,
		.list_only = c->o.list_only,
		.page_limit = c->o.page_limit,
		.timeout_s = c->o.timeout_s,
		.idle_s = c->o.idle_s,
		.backoff_min_ms = c->o.backoff_min_ms,
		.backoff_max_ms = c->o.backoff_max_ms,
		.event_cb = event_cb,
		.ud = t,
	};

	return kube_watch_new(c->client, &wo, &t->w);
}

int kube_cache_new(struct kube_client *client, const struct kube_cache_opts *o,
		   struct kube_cache **ret)
{
	static const struct {
		enum kube_kind kind;
		const char *group, *resource;
		bool cluster_scoped;
	} builtin[] = {
		/* Namespaces first: pods and policies refer to them. */
		{ KUBE_KIND_NAMESPACE, "", "namespaces", true },
		{ KUBE_KIND_POD, "", "pods", false },
		{ KUBE_KIND_NETPOL, "networking.k8s.io", "networkpolicies", false },
		{ KUBE_KIND_NODE, "", "nodes", true },
	};
	struct kube_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->client = client;
	if (o)
		c->o = *o;
	c->cluster = cluster_new();
	if (!c->cluster)
		goto fail;
	for (size_t i = 0; i < BH_ARRAY_SIZE(builtin); i++) {
		struct typed *t = &c->typed[c->n_typed];

		if (builtin[i].kind == KUBE_KIND_NODE && c->o.no_nodes)
			continue;
		*t = (struct typed){
			.cache = c,
			.kind = builtin[i].kind,
			.group = builtin[i].group,
			.version = "v1",
			.resource = builtin[i].resource,
		};
		if (typed_watch_new(c, t, builtin[i].cluster_scoped, false) < 0)
			goto fail;
		c->n_typed++;
	}
	*ret = c;
	return 0;
fail:
	kube_cache_free(c);
	return -ENOMEM;
}

struct kube_cache *kube_cache_free(struct kube_cache *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_typed; i++)
		kube_watch_free(c->typed[i].w);
	for (size_t i = 0; i < BH_ARRAY_SIZE(c->extra_names); i++)
		free(c->extra_names[i]);
	cluster_free(c->cluster);
	free(c);
	return NULL;
}

int kube_cache_add_resource(struct kube_cache *c, const char *group, const char *version,
			    const char *resource, bool cluster_scoped)
{
	struct typed *t;
	size_t x;
	int r;

	if (c->started)
		return -EBUSY;
	if (c->n_typed >= BH_ARRAY_SIZE(c->typed))
		return -E2BIG;
	for (x = 0; x < BH_ARRAY_SIZE(c->extra_names) && c->extra_names[x]; x += 3)
		;
	if (x >= BH_ARRAY_SIZE(c->extra_names))
		return -E2BIG;
	c->extra_names[x] = strdup(group ? group : "");
	c->extra_names[x + 1] = strdup(version ? version : "");
	c->extra_names[x + 2] = strdup(resource ? resource : "");
	if (!c->extra_names[x] || !c->extra_names[x + 1] || !c->extra_names[x + 2])
		return -ENOMEM;
	t = &c->typed[c->n_typed];
	*t = (struct typed){
		.cache = c,
		.kind = KUBE_KIND_UNKNOWN,
		.group = c->extra_names[x],
		.version = c->extra_names[x + 1],
		.resource = c->extra_names[x + 2],
	};
	r = typed_watch_new(c, t, cluster_scoped, true);
	if (r < 0)
		return r;
	c->n_typed++;
	return 0;
}

int kube_cache_subscribe(struct kube_cache *c, kube_cache_event_fn *fn, void *ud)
{
	for (size_t i = 0; i < KUBE_CACHE_SUBS_MAX; i++)
		if (!c->subs[i].fn) {
			c->subs[i] = (struct sub){ .fn = fn, .ud = ud };
			return (int) i;
		}
	return -E2BIG;
}

void kube_cache_unsubscribe(struct kube_cache *c, int id)
{
	if (id >= 0 && id < KUBE_CACHE_SUBS_MAX)
		c->subs[id] = (struct sub){ 0 };
}

int kube_cache_start(struct kube_cache *c)
{
	c->started = true;
	for (size_t i = 0; i < c->n_typed; i++) {
		int r = kube_watch_start(c->typed[i].w);

		if (r < 0)
			return r;
	}
	return 0;
}

bool kube_cache_synced(const struct kube_cache *c)
{
	for (size_t i = 0; i < c->n_typed; i++)
		if (!kube_watch_synced(c->typed[i].w))
			return false;
	return true;
}

struct cluster *kube_cache_cluster(struct kube_cache *c)
{
	return c->cluster;
}

struct kube_watch *kube_cache_watch(struct kube_cache *c, const char *resource)
{
	for (size_t i = 0; i < c->n_typed; i++)
		if (strcmp(c->typed[i].resource, resource) == 0)
			return c->typed[i].w;
	return NULL;
}

const struct kube_cache_stats *kube_cache_stats(const struct kube_cache *c)
{
	return &c->stats;
}

int kube_cache_wait_synced(struct kube_cache *c, struct kube_client *client, int timeout_ms,
			   struct bh_err *reterr)
{
	uint64_t end = clock_mono_ms() + (uint64_t) timeout_ms;
	const char *msg = "";

	while (!kube_cache_synced(c)) {
		uint64_t now = clock_mono_ms();
		int r;

		for (size_t i = 0; i < c->n_typed; i++) {
			r = kube_watch_error(c->typed[i].w, &msg);
			if (r < 0)
				return bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s",
						  msg[0] ? msg : strerror(-r));
		}
		if (now >= end) {
			for (size_t i = 0; i < c->n_typed && !msg[0]; i++)
				if (!kube_watch_synced(c->typed[i].w))
					(void) kube_watch_error(c->typed[i].w, &msg);
			return bh_err_set(reterr, BH_ERR_SYSTEM, -ETIMEDOUT,
					  "API server '%s': no complete list within %d ms%s%s",
					  kube_client_server(client), timeout_ms,
					  msg[0] ? ": " : "", msg);
		}
		r = kube_client_run(client, (int) (end - now));
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "kube client: %s",
					  strerror(-r));
	}
	return 0;
}

int kube_cluster_list(const struct kube_config *cfg, int timeout_ms, struct cluster **ret,
		      struct bh_err *reterr)
{
	struct kube_cache_opts o = { .list_only = true };
	struct kube_client *client = NULL;
	struct kube_cache *cache = NULL;
	int r;

	r = kube_client_new(cfg, &client, reterr);
	if (r < 0)
		return r;
	r = kube_cache_new(client, &o, &cache);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = kube_cache_start(cache);
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "API server '%s': %s",
			       kube_client_server(client), strerror(-r));
		goto out;
	}
	r = kube_cache_wait_synced(cache, client, timeout_ms, reterr);
	if (r < 0)
		goto out;
	*ret = cache->cluster;
	cache->cluster = NULL;
out:
	kube_cache_free(cache);
	kube_client_free(client);
	return r;
}
