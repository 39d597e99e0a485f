/*
 * List and watch state machine of one resource (see kube_watch.h).
 *
 *   LIST (page by page) --complete--> WATCH --end/drop--> (backoff) WATCH
 *     ^                                 |
 *     +------ 410, ERROR, bad line -----+
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "hash.h"
#include "hmap.h"
#include "kube_url.h"
#include "kube_watch.h"
#include "log.h"

enum watch_state {
	W_IDLE,
	W_LISTING,
	W_WATCHING,
	W_WAITING, /* backoff timer armed */
	W_DONE,
};

enum next_step {
	NEXT_REWATCH,
	NEXT_RELIST,
};

struct entry {
	char *key; /* owned "ns/name", or "name" when cluster-scoped */
	char *rv; /* owned */
	json_t *obj; /* reference, keep_objects only */
	uint32_t gen; /* list generation that last saw it */
};

struct kube_watch {
	struct kube_client *c;
	struct kube_watch_opts o;
	char *group, *version, *resource, *ns;
	char *base; /* "/api/v1/pods", "/apis/G/V/namespaces/NS/R" */
	enum watch_state state;
	struct kube_request *req;
	struct kube_timer timer;
	struct buf page; /* a list page */
	struct buf line; /* the partial watch line */
	char *rv; /* owned, last resourceVersion */
	char *list_rv; /* owned, of the list in progress */
	char *cont; /* owned continue token */
	uint32_t gen;
	bool synced, done;
	unsigned attempt;
	uint64_t watch_start_ms;
	uint64_t watch_events;
	int stream_err; /* why the data callback stopped the stream */
	bool stream_gone; /* ... and it was a 410 ERROR event */
	int fatal;
	char errmsg[BH_ERR_MSG_MAX];
	uint64_t rng;
	struct kube_watch_stats stats;
	/* The objects by key (struct entry, owned; keys borrowed from them). */
	struct hmap tab;
	uint64_t seed;
};

static void list_begin(struct kube_watch *w);
static void watch_begin(struct kube_watch *w);

const char *kube_event_type_name(enum kube_event_type t)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED" };

	return (unsigned) t < _KUBE_EVENT_MAX ? names[t] : NULL;
}

/* --- the object table --- */

static struct entry *entry_find(const struct kube_watch *w, const char *key)
{
	return hmap_get_str(&w->tab, key);
}

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->rv);
	json_decref(e->obj);
	free(e);
}

/* --- backoff --- */

static uint64_t rng_next(struct kube_watch *w)
{
	/* xorshift64: jitter only, not security. */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static uint64_t backoff_ms(struct kube_watch *w)
{
	uint64_t d = w->o.backoff_min_ms;

	for (unsigned i = 0; i < w->attempt && d < w->o.backoff_max_ms; i++)
		d *= 2;
	if (d > w->o.backoff_max_ms)
		d = w->o.backoff_max_ms;
	if (w->attempt < 32)
		w->attempt++;
	/* "Equal jitter": half fixed, half random, so agents restarted
	 * together do not reconnect together. */
	return d / 2 + rng_next(w) % (d / 2 + 1);
}

static void timer_fired_cb(void *ud)
{
	struct kube_watch *w = ud;

	if (w->state != W_WAITING)
		return;
	if (w->synced && w->rv && w->rv[0])
		watch_begin(w);
	else
		list_begin(w);
}

/* Next step after a failure or the end of a stream. */
static void schedule(struct kube_watch *w, enum next_step step, bool delay)
{
	uint64_t ms = delay ? backoff_ms(w) : 0;

	w->req = NULL;
	if (w->state == W_DONE)
		return;
	if (step == NEXT_RELIST)
		w->synced = false;
	w->state = W_WAITING;
	if (w->o.list_only && step == NEXT_RELIST && (w->fatal || w->attempt > 3)) {
		/* A CLI listing once gives up after a few attempts. */
		w->state = W_DONE;
		w->done = true;
		if (!w->fatal)
			w->fatal = -EIO;
		return;
	}
	if (step == NEXT_REWATCH && delay)
		log_debug("kube: watch '%s' retrying in %llu ms", w->resource,
			  (unsigned long long) ms);
	kube_timer_arm(w->c, &w->timer, ms, timer_fired_cb, w);
}

/* --- applying objects --- */

static int set_str(char **dst, const char *s)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* The key, name and resourceVersion of @obj; -EBADMSG for a bad shape. */
static int object_ids(const struct kube_watch *w, json_t *obj, char *key, size_t len,
		      const char **ret_rv)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *name = json_object_get(md, "name");
	json_t *ns = json_object_get(md, "namespace");
	json_t *rv = json_object_get(md, "resourceVersion");
	int n;

	if (!json_is_object(obj) || !json_is_string(name) || !json_string_length(name) ||
	    !json_is_string(rv) || (ns && !json_is_string(ns) && !json_is_null(ns)))
		return -EBADMSG;
	if (w->o.cluster_scoped || !json_is_string(ns) || !json_string_length(ns))
		n = snprintf(key, len, "%s", json_string_value(name));
	else
		n = snprintf(key, len, "%s/%s", json_string_value(ns), json_string_value(name));
	if (n < 0 || (size_t) n >= len)
		return -EBADMSG;
	*ret_rv = json_string_value(rv);
	return 0;
}

static void emit(struct kube_watch *w, enum kube_event_type t, json_t *obj)
{
	w->stats.events++;
	w->watch_events++;
	if (w->o.event_cb)
		w->o.event_cb(w->o.ud, w, t, obj);
}

/* ADDED or MODIFIED (from a watch, or a listed item when @listing). */
static int object_put(struct kube_watch *w, json_t *obj, bool listing)
{
	char key[1024];
	const char *rv;
	struct entry *e;
	int r;

	r = object_ids(w, obj, key, sizeof(key), &rv);
	if (r < 0)
		return r;
	e = entry_find(w, key);
	if (e) {
		e->gen = w->gen;
		if (listing && strcmp(e->rv, rv) == 0)
			return 0;
		if (set_str(&e->rv, rv) < 0)
			return -ENOMEM;
		if (w->o.keep_objects) {
			json_decref(e->obj);
			e->obj = json_incref(obj);
		}
		emit(w, KUBE_EVENT_MODIFIED, obj);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	e->rv = strdup(rv);
	if (!e->key || !e->rv) {
		entry_free(e);
		return -ENOMEM;
	}
	e->gen = w->gen;
	if (w->o.keep_objects)
		e->obj = json_incref(obj);
	if (hmap_put_str(&w->tab, e->key, e) < 0) {
		entry_free(e);
		return -ENOMEM;
	}
	emit(w, KUBE_EVENT_ADDED, obj);
	return 0;
}

/* A stub object for a deletion seen only by its absence from a list. */
static json_t *stub_for(const struct kube_watch *w, const struct entry *e)
{
	const char *slash = w->o.cluster_scoped ? NULL : strchr(e->key, '/');

	if (e->obj)
		return json_incref(e->obj);
	if (slash)
		return json_pack("{s:{s:s, s:s%, s:s}}", "metadata", "name", slash + 1, "namespace",
				 e->key, (int) (slash - e->key), "resourceVersion", e->rv);
	return json_pack("{s:{s:s, s:s}}", "metadata", "name", e->key, "resourceVersion", e->rv);
}

static int object_delete(struct kube_watch *w, json_t *obj)
{
	char key[1024];
	const char *rv;
	struct entry *e;
	int r;

	r = object_ids(w, obj, key, sizeof(key), &rv);
	if (r < 0)
		return r;
	e = entry_find(w, key);
	if (!e)
		return 0;
	(void) hmap_remove_str(&w->tab, key, NULL);
	entry_free(e);
	emit(w, KUBE_EVENT_DELETED, obj);
	return 0;
}

/* After a complete list: whatever it did not contain was deleted. */
static void sweep(struct kube_watch *w)
{
	struct hmap_slot *s;
	size_t it = 0;

	while ((s = hmap_next(&w->tab, &it))) {
		struct entry *e = s->val;
		json_t *stub;

		if (e->gen == w->gen)
			continue;
		hmap_remove_slot(&w->tab, s);
		stub = stub_for(w, e);
		if (stub)
			emit(w, KUBE_EVENT_DELETED, stub);
		json_decref(stub);
		entry_free(e);
	}
}

/* --- watch events --- */

static int event_apply(struct kube_watch *w, const char *s, size_t n)
{
	json_error_t jerr;
	json_t *ev, *obj, *md;
	const char *type;
	int r = 0;

	ev = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!ev) {
		w->stats.err_json++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg),
				"watch '%s': malformed event at column %d: %s", w->resource,
				jerr.column, jerr.text);
		return -EBADMSG;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		w->stats.err_object++;
		r = -EBADMSG;
		goto out;
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		r = object_put(w, obj, false);
	} else if (strcmp(type, "DELETED") == 0) {
		r = object_delete(w, obj);
	} else if (strcmp(type, "BOOKMARK") == 0) {
		w->stats.bookmarks++;
	} else if (strcmp(type, "ERROR") == 0) {
		json_t *code = json_object_get(obj, "code");

		if (json_is_integer(code) && json_integer_value(code) == 410) {
			w->stats.gone++;
			w->stream_gone = true;
		} else {
			w->stats.err_status++;
			(void) snprintf(w->errmsg, sizeof(w->errmsg), "watch '%s': ERROR event: %s",
					w->resource,
					json_string_value(json_object_get(obj, "message")) ?
						json_string_value(json_object_get(obj, "message")) :
						"?");
		}
		r = -ESTALE;
		goto out;
	} else {
		/* A newer server's event type: skip it, the stream goes on. */
		w->stats.err_type++;
		goto out;
	}
	if (r == -EBADMSG)
		w->stats.err_object++;
	if (r < 0)
		goto out;
	md = json_object_get(obj, "metadata");
	if (json_is_string(json_object_get(md, "resourceVersion")) &&
	    set_str(&w->rv, json_string_value(json_object_get(md, "resourceVersion"))) < 0)
		r = -ENOMEM;
out:
	json_decref(ev);
	return r;
}

static int lines_apply(struct kube_watch *w, const char *p, size_t n, size_t *ret_used)
{
	size_t used = 0;
	int r = 0;

	for (;;) {
		const char *nl = memchr(p + used, '\n', n - used);
		size_t len;

		if (!nl)
			break;
		len = (size_t) (nl - (p + used));
		if (len && !(len == 1 && p[used] == '\r'))
			r = event_apply(w, p + used, len);
		used += len + 1;
		if (r < 0)
			break;
	}
	*ret_used = used;
	return r;
}

int kube_watch_feed(struct kube_watch *w, const char *p, size_t n)
{
	size_t used;
	int r;

	/* Fast path: whole lines straight from curl's buffer, no copy. */
	if (w->line.len == 0) {
		r = lines_apply(w, p, n, &used);
		if (r < 0)
			return r;
		p += used;
		n -= used;
		if (!n)
			return 0;
		if (buf_append(&w->line, p, n) < 0)
			goto toobig;
		return 0;
	}
	{
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t) (nl - p) + 1 : n;

		if (buf_append(&w->line, p, take) < 0)
			goto toobig;
		if (!nl)
			return 0;
		r = lines_apply(w, w->line.data, w->line.len, &used);
		buf_reset(&w->line);
		if (r < 0)
			return r;
		return kube_watch_feed(w, p + take, n - take);
	}
toobig:
	w->stats.err_toobig++;
	buf_reset(&w->line);
	(void) snprintf(w->errmsg, sizeof(w->errmsg), "watch '%s': event longer than %zu bytes",
			w->resource, w->o.line_max);
	return -E2BIG;
}

static size_t watch_data_cb(void *ud, const char *p, size_t n)
{
	struct kube_watch *w = ud;

	w->stream_err = kube_watch_feed(w, p, n);
	if (w->stream_err < 0)
		return 0; /* != n: curl aborts, done_cb re-lists */
	if (w->watch_events)
		w->attempt = 0;
	return n;
}

static void watch_done_cb(void *ud, int r, long status, const char *msg)
{
	struct kube_watch *w = ud;
	bool quick;

	w->req = NULL;
	buf_reset(&w->line);
	if (w->stream_err < 0) {
		/* 410 and ERROR events re-list at once, the first time. */
		bool gone = w->stream_err == -ESTALE && w->stream_gone;

		log_debug("kube: watch '%s' abandoned: %s", w->resource, w->errmsg);
		w->stream_err = 0;
		schedule(w, NEXT_RELIST, !gone || w->attempt > 0);
		if (gone)
			w->attempt++;
		return;
	}
	if (r < 0) {
		w->stats.err_transport++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg), "%s", msg);
		log_debug("kube: watch '%s': %s", w->resource, msg);
		schedule(w, NEXT_REWATCH, true);
		return;
	}
	if (status == 410) {
		w->stats.gone++;
		schedule(w, NEXT_RELIST, false);
		return;
	}
	if (status != 200) {
		w->stats.err_http++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg), "watch '%s': HTTP status %ld",
				w->resource, status);
		schedule(w, NEXT_REWATCH, true);
		return;
	}
	/* The server ended the watch (timeoutSeconds): go on from where we
	 * are, at once unless it keeps ending without delivering anything. */
	quick = clock_mono_ms() - w->watch_start_ms < 1000 && !w->watch_events;
	schedule(w, NEXT_REWATCH, quick);
}

static void watch_begin(struct kube_watch *w)
{
	struct kube_request_opts ro = { 0 };
	char *path = NULL, tmo[16];
	/* Spread watch renewals over [timeout, 2*timeout) as client-go does. */
	unsigned timeout = w->o.timeout_s + (unsigned) (rng_next(w) % w->o.timeout_s);
	const char *const params[] = {
		"watch",
		"1",
		"resourceVersion",
		w->rv,
		"allowWatchBookmarks",
		"true",
		"timeoutSeconds",
		tmo,
		NULL,
	};
	int r;

	w->state = W_WATCHING;
	w->stream_err = 0;
	w->stream_gone = false;
	w->watch_events = 0;
	w->watch_start_ms = clock_mono_ms();
	buf_reset(&w->line);
	(void) snprintf(tmo, sizeof(tmo), "%u", timeout);
	r = kube_url_path(w->base, params, &path);
	if (r < 0)
		goto fail;
	ro = (struct kube_request_opts){
		.path = path,
		/* The server ends the watch at timeoutSeconds; past that plus
		 * a margin, we consider it stalled. */
		.timeout_s = timeout + 30,
		.idle_s = w->o.idle_s,
		.data_cb = watch_data_cb,
		.done_cb = watch_done_cb,
		.ud = w,
	};
	r = kube_request_start(w->c, &ro, &w->req);
	free(path);
	if (r < 0)
		goto fail;
	w->stats.watches++;
	return;
fail:
	free(path);
	w->stats.err_transport++;
	schedule(w, NEXT_REWATCH, true);
}

/* --- lists --- */

static size_t list_data_cb(void *ud, const char *p, size_t n)
{
	struct kube_watch *w = ud;

	if (buf_append(&w->page, p, n) < 0) {
		w->stream_err = -E2BIG;
		return 0;
	}
	return n;
}

static int page_apply(struct kube_watch *w, bool *ret_more)
{
	json_error_t jerr;
	json_t *doc, *md, *items, *it, *rv, *cont;
	size_t i;
	int r = 0;

	doc = json_loadb(w->page.data ? w->page.data : "", w->page.len, 0, &jerr);
	if (!doc) {
		w->stats.err_json++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg),
				"list '%s': malformed response at line %d column %d: %s",
				w->resource, jerr.line, jerr.column, jerr.text);
		return -EBADMSG;
	}
	md = json_object_get(doc, "metadata");
	items = json_object_get(doc, "items");
	rv = json_object_get(md, "resourceVersion");
	cont = json_object_get(md, "continue");
	if (!json_is_string(rv) || (!json_is_array(items) && !json_is_null(items) && items) ||
	    (cont && !json_is_string(cont))) {
		w->stats.err_object++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg),
				"list '%s': response without metadata.resourceVersion or items",
				w->resource);
		r = -EBADMSG;
		goto out;
	}
	if (!w->list_rv && set_str(&w->list_rv, json_string_value(rv)) < 0) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(items, i, it) {
		r = object_put(w, it, true);
		if (r == -EBADMSG) {
			/* One bad item must not block the rest of the cluster. */
			w->stats.err_object++;
			r = 0;
		}
		if (r < 0)
			goto out;
	}
	*ret_more = cont && json_string_length(cont) > 0;
	free(w->cont);
	w->cont = *ret_more ? strdup(json_string_value(cont)) : NULL;
	if (*ret_more && !w->cont)
		r = -ENOMEM;
	w->stats.pages++;
out:
	json_decref(doc);
	return r;
}

static void list_page_request(struct kube_watch *w);

static void list_done_cb(void *ud, int r, long status, const char *msg)
{
	struct kube_watch *w = ud;
	bool more = false;

	w->req = NULL;
	if (w->stream_err == -E2BIG) {
		w->stats.err_toobig++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg),
				"list '%s': page larger than %u bytes", w->resource,
				KUBE_LIST_PAGE_MAX);
		goto retry;
	}
	if (r < 0) {
		w->stats.err_transport++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg), "%s", msg);
		if (r == -EPROTO)
			w->fatal = r;
		goto retry;
	}
	if (status == 410) {
		/* The continue token expired: start over. */
		w->stats.gone++;
		buf_reset(&w->page);
		list_begin(w);
		return;
	}
	if (status != 200) {
		w->stats.err_http++;
		(void) snprintf(w->errmsg, sizeof(w->errmsg),
				"API server '%s': list '%s': HTTP %ld%s", kube_client_server(w->c),
				w->resource, status,
				status == 401 ? " Unauthorized (check the token)" :
				status == 403 ? " Forbidden (check RBAC)" :
						"");
		if (status == 401 || status == 403 || status == 404)
			w->fatal = -EACCES;
		goto retry;
	}
	r = page_apply(w, &more);
	buf_reset(&w->page);
	if (r < 0)
		goto retry;
	if (more) {
		list_page_request(w);
		return;
	}
	sweep(w);
	w->stats.lists++;
	if (set_str(&w->rv, w->list_rv) < 0)
		goto retry;
	w->synced = true;
	w->attempt = 0;
	w->errmsg[0] = '\0';
	w->fatal = 0;
	if (w->o.list_only) {
		w->state = W_DONE;
		w->done = true;
	}
	if (w->o.synced_cb)
		w->o.synced_cb(w->o.ud, w);
	if (!w->o.list_only)
		watch_begin(w);
	return;
retry:
	buf_reset(&w->page);
	w->stream_err = 0;
	log_debug("kube: list '%s' failed: %s", w->resource, w->errmsg);
	schedule(w, NEXT_RELIST, true);
}

static void list_page_request(struct kube_watch *w)
{
	struct kube_request_opts ro;
	char *path = NULL, limit[16];
	/* Continue tokens are base64: '+', '/' and '=' are encoded. */
	const char *const params[] = { "limit", limit, "continue", w->cont, NULL };
	int r;

	w->state = W_LISTING;
	w->stream_err = 0;
	buf_reset(&w->page);
	(void) snprintf(limit, sizeof(limit), "%u", w->o.page_limit);
	r = kube_url_path(w->base, params, &path);
	if (r < 0)
		goto fail;
	ro = (struct kube_request_opts){
		.path = path,
		.timeout_s = 60,
		.idle_s = 30,
		.data_cb = list_data_cb,
		.done_cb = list_done_cb,
		.ud = w,
	};
	r = kube_request_start(w->c, &ro, &w->req);
	if (r < 0)
		goto fail;
	free(path);
	return;
fail:
	free(path);
	w->stats.err_transport++;
	(void) snprintf(w->errmsg, sizeof(w->errmsg), "list '%s': %s", w->resource, strerror(-r));
	schedule(w, NEXT_RELIST, true);
}

static void list_begin(struct kube_watch *w)
{
	if (w->stats.lists)
		w->stats.relists++;
	w->gen++;
	free(w->list_rv);
	w->list_rv = NULL;
	free(w->cont);
	w->cont = NULL;
	list_page_request(w);
}

/* --- lifecycle --- */

static int copy_opt(char **dst, const char *s)
{
	*dst = strdup(s ? s : "");
	return *dst ? 0 : -ENOMEM;
}

int kube_watch_new(struct kube_client *c, const struct kube_watch_opts *o, struct kube_watch **ret)
{
	struct kube_watch *w;
	int r;

	if (!o->resource || !*o->resource || !o->version || !*o->version)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->o = *o;
	if (!w->o.page_limit)
		w->o.page_limit = 500;
	if (!w->o.timeout_s)
		w->o.timeout_s = 300;
	if (!w->o.idle_s)
		w->o.idle_s = 180;
	if (!w->o.line_max)
		w->o.line_max = KUBE_WATCH_LINE_MAX;
	if (!w->o.backoff_min_ms)
		w->o.backoff_min_ms = 200;
	if (!w->o.backoff_max_ms)
		w->o.backoff_max_ms = 30000;
	if (w->o.backoff_max_ms < w->o.backoff_min_ms)
		w->o.backoff_max_ms = w->o.backoff_min_ms;
	buf_init(&w->page, KUBE_LIST_PAGE_MAX);
	buf_init(&w->line, w->o.line_max);
	w->seed = hash_seed_random();
	w->rng = w->seed | 1;
	hmap_init(&w->tab, w->seed);
	r = -ENOMEM;
	if (hmap_reserve(&w->tab, 64) < 0 || copy_opt(&w->group, o->group) < 0 ||
	    copy_opt(&w->version, o->version) < 0 || copy_opt(&w->resource, o->resource) < 0 ||
	    copy_opt(&w->rv, "") < 0)
		goto fail;
	if (o->ns && !(w->ns = strdup(o->ns)))
		goto fail;
	w->o.group = w->group;
	w->o.version = w->version;
	w->o.resource = w->resource;
	w->o.ns = w->ns;
	if (w->group[0])
		r = asprintf(&w->base, "/apis/%s/%s%s%s/%s", w->group, w->version,
			     w->ns ? "/namespaces/" : "", w->ns ? w->ns : "", w->resource);
	else
		r = asprintf(&w->base, "/api/%s%s%s/%s", w->version, w->ns ? "/namespaces/" : "",
			     w->ns ? w->ns : "", w->resource);
	if (r < 0) {
		w->base = NULL;
		r = -ENOMEM;
		goto fail;
	}
	w->state = W_IDLE;
	*ret = w;
	return 0;
fail:
	kube_watch_free(w);
	return r;
}

struct kube_watch *kube_watch_free(struct kube_watch *w)
{
	struct hmap_slot *s;

	if (!w)
		return NULL;
	if (w->req)
		kube_request_cancel(w->req);
	if (w->c)
		kube_timer_disarm(w->c, &w->timer);
	for (size_t it = 0; (s = hmap_next(&w->tab, &it));)
		entry_free(s->val);
	hmap_free(&w->tab);
	buf_done(&w->page);
	buf_done(&w->line);
	free(w->group);
	free(w->version);
	free(w->resource);
	free(w->ns);
	free(w->base);
	free(w->rv);
	free(w->list_rv);
	free(w->cont);
	free(w);
	return NULL;
}

int kube_watch_start(struct kube_watch *w)
{
	if (!w->c)
		return -EINVAL;
	if (w->state != W_IDLE)
		return 0;
	list_begin(w);
	return 0;
}

bool kube_watch_synced(const struct kube_watch *w)
{
	return w->synced;
}

bool kube_watch_done(const struct kube_watch *w)
{
	return w->done;
}

int kube_watch_error(const struct kube_watch *w, const char **ret_msg)
{
	if (ret_msg)
		*ret_msg = w->errmsg;
	return w->done && !w->synced ? (w->fatal ? w->fatal : -EIO) : 0;
}

const char *kube_watch_resource_version(const struct kube_watch *w)
{
	return w->rv ? w->rv : "";
}

const struct kube_watch_stats *kube_watch_stats(const struct kube_watch *w)
{
	return &w->stats;
}

const char *kube_watch_resource(const struct kube_watch *w)
{
	return w->resource;
}

size_t kube_watch_count(const struct kube_watch *w)
{
	return w->tab.n;
}

json_t *kube_watch_get(const struct kube_watch *w, const char *ns, const char *name)
{
	char key[1024];
	struct entry *e;

	if (w->o.cluster_scoped || !ns || !*ns)
		(void) snprintf(key, sizeof(key), "%s", name);
	else
		(void) snprintf(key, sizeof(key), "%s/%s", ns, name);
	e = entry_find(w, key);
	return e ? e->obj : NULL;
}

int kube_watch_foreach(const struct kube_watch *w, kube_watch_each_fn *fn, void *ud)
{
	struct hmap_slot *s;
	char ns[512];

	for (size_t it = 0; (s = hmap_next(&w->tab, &it));) {
		const struct entry *e = s->val;
		const char *slash = w->o.cluster_scoped ? NULL : strchr(e->key, '/');
		int r;

		if (slash && (size_t) (slash - e->key) < sizeof(ns)) {
			memcpy(ns, e->key, (size_t) (slash - e->key));
			ns[slash - e->key] = '\0';
			r = fn(ud, ns, slash + 1, e->rv);
		} else {
			r = fn(ud, "", e->key, e->rv);
		}
		if (r)
			return r;
	}
	return 0;
}
