/* unit.kube_watch: the watch stream parser and object table, through the
 * kube_watch_feed() seam (no network), and the cache's decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube_cache.h"
#include "kube_watch.h"
#include "testutil.h"

struct seen {
	char ev[16][64];
	size_t n;
};

static void seen_cb(void *ud, struct kube_watch *w, enum kube_event_type t, json_t *obj)
{
	struct seen *s = ud;
	json_t *md = json_object_get(obj, "metadata");

	(void) w;
	if (s->n < 16)
		(void) snprintf(s->ev[s->n++], sizeof(s->ev[0]), "%s %s", kube_event_type_name(t),
				json_string_value(json_object_get(md, "name")));
}

static struct kube_watch *watch_new(struct seen *s, size_t line_max)
{
	struct kube_watch_opts o = {
		.version = "v1",
		.resource = "pods",
		.keep_objects = true,
		.line_max = line_max,
		.event_cb = seen_cb,
		.ud = s,
	};
	struct kube_watch *w = NULL;

	assert_int_equal(kube_watch_new(NULL, &o, &w), 0);
	return w;
}

static int feed(struct kube_watch *w, const char *s)
{
	return kube_watch_feed(w, s, strlen(s));
}

#define EV(type, name, rv)                                                                      \
	"{\"type\":\"" type "\",\"object\":{\"metadata\":{\"name\":\"" name "\",\"namespace\":" \
	"\"x\",\"resourceVersion\":\"" rv "\"}}}\n"

static void events_apply_in_order(void **state)
{
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 0);

	(void) state;
	assert_int_equal(feed(w, EV("ADDED", "a", "1") EV("ADDED", "b", "2")
					 EV("MODIFIED", "a", "3") EV("DELETED", "b", "4")),
			 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.ev[0], "ADDED a");
	assert_string_equal(s.ev[1], "ADDED b");
	assert_string_equal(s.ev[2], "MODIFIED a");
	assert_string_equal(s.ev[3], "DELETED b");
	assert_int_equal(kube_watch_count(w), 1);
	assert_non_null(kube_watch_get(w, "x", "a"));
	assert_null(kube_watch_get(w, "x", "b"));
	assert_string_equal(kube_watch_resource_version(w), "4");
	/* ADDED of a known object is a modification; DELETED of an unknown
	 * one is nothing. */
	assert_int_equal(feed(w, EV("ADDED", "a", "5") EV("DELETED", "zz", "6")), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.ev[4], "MODIFIED a");
	kube_watch_free(w);
}

static void bookmarks_and_unknown_types(void **state)
{
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 0);

	(void) state;
	assert_int_equal(feed(w, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
				 "{\"resourceVersion\":\"42\"}}}\n"
				 "{\"type\":\"FUTURE\",\"object\":{}}\n" EV("ADDED", "a", "43")),
			 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(kube_watch_stats(w)->bookmarks, 1);
	assert_int_equal(kube_watch_stats(w)->err_type, 1);
	assert_string_equal(kube_watch_resource_version(w), "43");
	kube_watch_free(w);
}

static void split_lines_byte_by_byte(void **state)
{
	const char *in = EV("ADDED", "a", "1") "\r\n" EV("MODIFIED", "a", "2");
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 0);

	(void) state;
	for (size_t i = 0; in[i]; i++)
		assert_int_equal(kube_watch_feed(w, in + i, 1), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ev[1], "MODIFIED a");
	kube_watch_free(w);
}

static void malformed_lines_refused(void **state)
{
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 0);

	(void) state;
	assert_int_equal(feed(w, "{\"type\":\"ADDED\",,,\n"), -EBADMSG);
	assert_int_equal(kube_watch_stats(w)->err_json, 1);
	assert_int_equal(feed(w, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":5,"
				 "\"resourceVersion\":\"1\"}}}\n"),
			 -EBADMSG);
	assert_int_equal(feed(w, "{\"type\":7,\"object\":{}}\n"), -EBADMSG);
	assert_int_equal(feed(w, "[1,2]\n"), -EBADMSG);
	assert_int_equal(kube_watch_stats(w)->err_object, 3);
	assert_int_equal(s.n, 0);
	assert_int_equal(kube_watch_count(w), 0);
	kube_watch_free(w);
}

static void error_event_asks_relist(void **state)
{
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 0);

	(void) state;
	assert_int_equal(feed(w, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
				 "\"code\":410,\"reason\":\"Expired\"}}\n" EV("ADDED", "a", "1")),
			 -ESTALE);
	assert_int_equal(kube_watch_stats(w)->gone, 1);
	assert_int_equal(s.n, 0); /* nothing after the ERROR is applied */
	assert_int_equal(feed(w, "{\"type\":\"ERROR\",\"object\":{\"code\":500}}\n"), -ESTALE);
	assert_int_equal(kube_watch_stats(w)->err_status, 1);
	kube_watch_free(w);
}

static void long_line_bounded(void **state)
{
	struct seen s = { 0 };
	struct kube_watch *w = watch_new(&s, 4096);
	char chunk[1000];
	int r = 0;
	size_t fed = 0;

	(void) state;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(feed(w, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\""), 0);
	while (r == 0 && fed < (1u << 20)) {
		r = kube_watch_feed(w, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(r, -E2BIG);
	assert_true(fed <= 5000);
	assert_int_equal(kube_watch_stats(w)->err_toobig, 1);
	/* The buffer was emptied: the next stream starts clean. */
	assert_int_equal(feed(w, EV("ADDED", "a", "1")), 0);
	assert_int_equal(s.n, 1);
	kube_watch_free(w);
}

static void cache_decodes_and_drops_bad_objects(void **state)
{
	struct kube_cache *c = NULL;
	struct kube_watch *w;
	const struct pod *p;

	(void) state;
	assert_int_equal(kube_cache_new(NULL, NULL, &c), 0);
	w = kube_cache_watch(c, "pods");
	assert_non_null(w);
	assert_int_equal(feed(w, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
				 "\"namespace\":\"x\",\"resourceVersion\":\"1\",\"labels\":"
				 "{\"app\":\"web\"}},\"status\":{\"podIP\":\"10.1.2.3\"}}}\n"),
			 0);
	p = cluster_pod_find(kube_cache_cluster(c), "x", "a");
	assert_non_null(p);
	assert_string_equal(labels_get(&p->labels, "app"), "web");
	/* A version the decoder refuses replaces nothing: the stale one goes. */
	assert_int_equal(feed(w, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
				 "\"namespace\":\"x\",\"resourceVersion\":\"2\"},\"status\":"
				 "{\"podIP\":\"not-an-ip\"}}}\n"),
			 0);
	assert_null(cluster_pod_find(kube_cache_cluster(c), "x", "a"));
	assert_int_equal(kube_cache_stats(c)->decode_errors, 1);
	kube_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_apply_in_order),
		cmocka_unit_test(bookmarks_and_unknown_types),
		cmocka_unit_test(split_lines_byte_by_byte),
		cmocka_unit_test(malformed_lines_refused),
		cmocka_unit_test(error_event_asks_relist),
		cmocka_unit_test(long_line_bounded),
		cmocka_unit_test(cache_decodes_and_drops_bad_objects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
