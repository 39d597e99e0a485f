/*
 * The cluster cache over one kube_watch per resource type.  Typed objects
 * go through the snapshot reader's decoders into a struct cluster; the
 * subscribers see every change after it was applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	struct tombstones *tombs; /* NULL with no_tombstones */
	struct kube_timer tomb_timer; /* the next expiry */
};

/* One decoded object of any typed kind, owned. */
union model_obj {
	struct k8s_ns ns;
	struct pod pod;
	struct netpol pol;
	struct node node;
};

static void deliver(struct kube_cache *c, const struct typed *t, enum kube_event_type type,
		    const char *ns, const char *name, json_t *obj, const void *old, const void *new)
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
		.old.any = old,
		.new.any = new,
	};

	c->stats.events++;
	for (size_t i = 0; i < KUBE_CACHE_SUBS_MAX; i++)
		if (c->subs[i].fn)
			c->subs[i].fn(c->subs[i].ud, &ev, c->cluster);
}

/* Moves object @ns/@name out of the cluster into @ret; 1 when it was there. */
static int take_obj(struct kube_cache *c, enum kube_kind kind, const char *ns, const char *name,
		    union model_obj *ret)
{
	memset(ret, 0, sizeof(*ret));
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		return cluster_ns_take(c->cluster, name, &ret->ns);
	case KUBE_KIND_POD:
		return ns ? cluster_pod_take(c->cluster, ns, name, &ret->pod) : 0;
	case KUBE_KIND_NETPOL:
		return ns ? cluster_policy_take(c->cluster, ns, name, &ret->pol) : 0;
	case KUBE_KIND_NODE:
		return cluster_node_take(c->cluster, name, &ret->node);
	default:
		return 0;
	}
}

static void obj_done(enum kube_kind kind, union model_obj *o)
{
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		k8s_ns_done(&o->ns);
		break;
	case KUBE_KIND_POD:
		pod_done(&o->pod);
		break;
	case KUBE_KIND_NETPOL:
		netpol_done(&o->pol);
		break;
	case KUBE_KIND_NODE:
		node_done(&o->node);
		break;
	default:
		break;
	}
}

/*
 * Decodes @obj into the cluster; the version it replaced is moved into
 * @ret_old.  Returns 1 when added, 0 when replaced, or a negative errno
 * (nothing changed; @ret_old empty).
 */
static int put_obj(struct kube_cache *c, enum kube_kind kind, json_t *obj, union model_obj *ret_old,
		   struct bh_err *e)
{
	union model_obj u;
	int r;

	memset(&u, 0, sizeof(u));
	memset(ret_old, 0, sizeof(*ret_old));
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		r = kube_ns_decode(obj, &u.ns, e);
		return r < 0 ? r : cluster_ns_replace(c->cluster, &u.ns, &ret_old->ns);
	case KUBE_KIND_POD:
		r = kube_pod_decode(obj, &u.pod, e);
		return r < 0 ? r : cluster_pod_replace(c->cluster, &u.pod, &ret_old->pod);
	case KUBE_KIND_NETPOL:
		r = kube_netpol_decode(obj, &u.pol, e);
		return r < 0 ? r : cluster_policy_replace(c->cluster, &u.pol, &ret_old->pol);
	case KUBE_KIND_NODE:
		r = kube_node_decode(obj, &u.node, e);
		return r < 0 ? r : cluster_node_replace(c->cluster, &u.node, &ret_old->node);
	default:
		return 0;
	}
}

/* The object @ns/@name as the cluster holds it now, or NULL. */
static const void *find_obj(struct kube_cache *c, enum kube_kind kind, const char *ns,
			    const char *name)
{
	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		return cluster_ns_find(c->cluster, name);
	case KUBE_KIND_POD:
		return ns ? cluster_pod_find(c->cluster, ns, name) : NULL;
	case KUBE_KIND_NETPOL:
		return ns ? cluster_policy_find(c->cluster, ns, name) : NULL;
	case KUBE_KIND_NODE:
		return cluster_node_find(c->cluster, name);
	default:
		return NULL;
	}
}

static void tombs_sync_stats(struct kube_cache *c)
{
	const struct tombstones_stats *ts = tombstones_stats(c->tombs);

	c->stats.tombstones_added = ts->added;
	c->stats.tombstones_expired = ts->expired;
	c->stats.tombstones_evicted = ts->evicted;
}

static void tombs_expire_cb(void *ud);

/* Expires what is due and arms the timer for the next expiry. */
static void tombs_expire(struct kube_cache *c)
{
	uint64_t now = clock_mono_ms(), next;

	tombstones_expire(c->tombs, now);
	tombs_sync_stats(c);
	/* A cache fed without a client (the watch-event fuzzer) expires on
	 * the next deletion only. */
	if (!c->client)
		return;
	next = tombstones_next_expiry(c->tombs);
	if (next == UINT64_MAX)
		kube_timer_disarm(c->client, &c->tomb_timer);
	else
		kube_timer_arm(c->client, &c->tomb_timer, next > now ? next - now : 0,
			       tombs_expire_cb, c);
}

static void tombs_expire_cb(void *ud)
{
	tombs_expire(ud);
}

/* A pod left the cluster: keep it for identity a while.  Takes @p. */
static void entomb(struct kube_cache *c, struct pod *p)
{
	if (!c->tombs) {
		pod_done(p);
		return;
	}
	/* Without memory for it the pod is only forgotten sooner. */
	(void) tombstones_add(c->tombs, p, clock_mono_ms(), (int64_t) time(NULL));
	tombs_expire(c);
}

static void event_cb(void *ud, struct kube_watch *w, enum kube_event_type type, json_t *obj)
{
	struct typed *t = ud;
	struct kube_cache *c = t->cache;
	struct bh_err err = { 0 };
	const char *ns = NULL, *name = NULL;
	union model_obj old;
	bool had_old = false;
	const void *new = NULL;
	int r;

	(void) w;
	memset(&old, 0, sizeof(old));
	if (kube_object_key(obj, &ns, &name) < 0)
		return; /* kube_watch only passes objects with a name */
	if (t->kind != KUBE_KIND_UNKNOWN) {
		if (type == KUBE_EVENT_DELETED) {
			had_old = take_obj(c, t->kind, ns, name, &old) == 1;
		} else {
			r = put_obj(c, t->kind, obj, &old, &err);
			if (r >= 0) {
				had_old = r == 0;
				new = find_obj(c, t->kind, ns, name);
			} else {
				/* Never keep a stale version of an object we can no
				 * longer read: the enforcer would act on old data. */
				had_old = take_obj(c, t->kind, ns, name, &old) == 1;
				c->stats.decode_errors++;
				if (c->stats.decode_errors <= KUBE_CACHE_LOG_MAX)
					log_warning("kube: %s '%s%s%s': %s, ignoring", t->resource,
						    ns ? ns : "", ns ? "/" : "", name,
						    err.kind ? err.msg : strerror(-r));
			}
		}
	}
	deliver(c, t, type, ns, name, obj, had_old ? (const void *) &old : NULL, new);
	if (had_old && t->kind == KUBE_KIND_POD && type == KUBE_EVENT_DELETED)
		entomb(c, &old.pod);
	else if (had_old)
		obj_done(t->kind, &old);
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
	if (!c->o.no_tombstones) {
		c->tombs = tombstones_new(c->o.tombstone_ttl_ms, c->o.tombstone_max);
		if (!c->tombs)
			goto fail;
	}
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
	if (c->client)
		kube_timer_disarm(c->client, &c->tomb_timer);
	tombstones_free(c->tombs);
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

const struct tombstones *kube_cache_tombstones(const struct kube_cache *c)
{
	return c->tombs;
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
	struct kube_cache_opts o = { .list_only = true, .no_tombstones = true };
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
