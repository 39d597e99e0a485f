/*
 * List and watch of one resource type (any group, version and plural), in
 * all namespaces or one, as client-go's reflector does it:
 *
 *   - a paginated list (limit, continue) whose items are diffed against
 *     what the watch already knows, so objects deleted while we were away
 *     produce DELETED events and unchanged ones produce nothing;
 *   - a watch from the list's resourceVersion with allowWatchBookmarks,
 *     parsed one line (one event) at a time from the chunked stream into a
 *     bounded buffer (KUBE_WATCH_LINE_MAX): a longer line, bad JSON or an
 *     object of the wrong shape is counted and answered with a re-list;
 *   - ERROR events and HTTP 410 Gone answered with a fresh list; server
 *     timeouts and dropped connections with a re-watch from the last
 *     resourceVersion after a jittered exponential backoff.
 *
 * The watch keeps, per object, its key and resourceVersion (and the whole
 * object only when asked, for custom resources), so it needs little memory;
 * typed consumers (kube_cache) decode objects from the events.
 * Loop thread only.
 */
#ifndef BH_KUBE_WATCH_H
#define BH_KUBE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube_client.h"

/* No object the API server stores exceeds ~1.5 MB (etcd's request limit);
 * a line four times that long is not an event we can use. */
#define KUBE_WATCH_LINE_MAX (8u << 20)
/* One page of a list: 500 objects of up to a few tens of KB. */
#define KUBE_LIST_PAGE_MAX (128u << 20)

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	_KUBE_EVENT_MAX,
};

/* "ADDED", "MODIFIED", "DELETED". */
const char *kube_event_type_name(enum kube_event_type t);

struct kube_watch;

/*
 * An object changed.  @obj is borrowed for the call: the server's object
 * (for a DELETED found by a re-list: the last object kept, or a stub with
 * metadata.name and metadata.namespace).  Must not free the watch.
 */
typedef void kube_watch_event_fn(void *ud, struct kube_watch *w, enum kube_event_type t,
				 json_t *obj);
/* The list completed: the watch's objects equal the server's at that
 * resourceVersion (after the initial list and after every re-list). */
typedef void kube_watch_synced_fn(void *ud, struct kube_watch *w);

struct kube_watch_opts {
	const char *group; /* "" or NULL for the core group */
	const char *version; /* "v1" */
	const char *resource; /* plural: "pods" */
	const char *ns; /* NULL: all namespaces */
	bool cluster_scoped; /* nodes, namespaces: keys have no namespace */
	bool keep_objects; /* keep every object (kube_watch_get) */
	bool list_only; /* stop after the first complete list */
	unsigned page_limit; /* items per page, 500 when 0 */
	unsigned timeout_s; /* watch timeoutSeconds, 300 when 0 */
	unsigned idle_s; /* re-watch after this long without a byte (bookmarks
			    arrive every minute), 180 when 0 */
	size_t line_max; /* KUBE_WATCH_LINE_MAX when 0 */
	unsigned backoff_min_ms; /* 200 when 0 */
	unsigned backoff_max_ms; /* 30000 when 0 */
	kube_watch_event_fn *event_cb;
	kube_watch_synced_fn *synced_cb;
	void *ud;
};

struct kube_watch_stats {
	uint64_t lists; /* complete lists */
	uint64_t pages;
	uint64_t watches; /* watch requests started */
	uint64_t events; /* ADDED/MODIFIED/DELETED delivered */
	uint64_t bookmarks;
	uint64_t relists; /* lists after the first */
	uint64_t gone; /* 410: ERROR events and HTTP status */
	uint64_t err_json; /* lines that are not JSON */
	uint64_t err_toobig; /* lines longer than line_max, pages too large */
	uint64_t err_object; /* events or items of the wrong shape */
	uint64_t err_type; /* events of an unknown type (ignored) */
	uint64_t err_status; /* ERROR events other than 410 */
	uint64_t err_http; /* responses other than 200 (and 410) */
	uint64_t err_transport; /* connection failures, drops, stalls */
};

/*
 * A watch on @c (borrowed, outlives the watch; NULL only for
 * kube_watch_feed() tests and fuzzing).  Strings in @o are copied.
 * Returns -ENOMEM or -EINVAL (no resource or version).
 */
int kube_watch_new(struct kube_client *c, const struct kube_watch_opts *o, struct kube_watch **ret);
/* Stops any request or timer, frees the objects; NULL-safe, returns NULL. */
struct kube_watch *kube_watch_free(struct kube_watch *w);

/* Starts with a list. 0 or -errno. */
int kube_watch_start(struct kube_watch *w);

bool kube_watch_synced(const struct kube_watch *w);
/* True once a list_only watch has its list, or after a fatal error. */
bool kube_watch_done(const struct kube_watch *w);
/* The error that ended a list_only watch (after its retries), with a one
 * line message; 0 when none. */
int kube_watch_error(const struct kube_watch *w, const char **ret_msg);
/* The last resourceVersion seen (list, event or bookmark); "" before. */
const char *kube_watch_resource_version(const struct kube_watch *w);
const struct kube_watch_stats *kube_watch_stats(const struct kube_watch *w);
const char *kube_watch_resource(const struct kube_watch *w);

/* Objects known; and one object (borrowed) when keep_objects was set. */
size_t kube_watch_count(const struct kube_watch *w);
json_t *kube_watch_get(const struct kube_watch *w, const char *ns, const char *name);
/* Calls @fn for every object key (ns is "" for cluster-scoped objects)
 * with its resourceVersion; stops when @fn returns non-zero. */
typedef int kube_watch_each_fn(void *ud, const char *ns, const char *name, const char *rv);
int kube_watch_foreach(const struct kube_watch *w, kube_watch_each_fn *fn, void *ud);

/*
 * Feeds bytes of a watch stream as they arrive (the seam for tests and the
 * fuzz target; the network path uses the same code).  Complete lines are
 * applied; 0, or -E2BIG/-EBADMSG/-ESTALE when the stream must be abandoned
 * for a re-list (counted in the stats).
 */
int kube_watch_feed(struct kube_watch *w, const char *p, size_t n);

#endif
