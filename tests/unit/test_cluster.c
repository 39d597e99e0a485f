#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster.h"
#include "testutil.h"

static void put_pod(struct cluster *c, const char *ns, const char *name, const char *ip,
		    int64_t created, int64_t deleted)
{
	struct pod p = {
		.ns = strdup(ns),
		.name = strdup(name),
		.created = created,
		.deleted = deleted,
	};

	labels_init(&p.labels);
	if (ip) {
		p.ips[0] = addr_lit(ip);
		p.n_ips = 1;
	}
	assert_true(cluster_pod_put(c, &p) >= 0);
}

static void sorted_put_find_remove(void **state)
{
	struct cluster *c = cluster_new();

	(void) state;
	assert_non_null(c);
	put_pod(c, "y", "b", "10.0.0.2", 1, 0);
	put_pod(c, "x", "c", "10.0.0.3", 1, 0);
	put_pod(c, "x", "a", "10.0.0.1", 1, 0);
	assert_int_equal(c->n_pods, 3);
	assert_string_equal(c->pods[0].name, "a");
	assert_string_equal(c->pods[1].name, "c");
	assert_string_equal(c->pods[2].ns, "y");
	assert_non_null(cluster_pod_find(c, "x", "c"));
	assert_null(cluster_pod_find(c, "y", "c"));

	/* replace keeps the count and drops the old address */
	put_pod(c, "x", "a", "10.0.0.9", 1, 0);
	assert_int_equal(c->n_pods, 3);
	struct addr old = addr_lit("10.0.0.1"), new = addr_lit("10.0.0.9");
	assert_null(cluster_pod_by_addr(c, &old));
	assert_string_equal(cluster_pod_by_addr(c, &new)->name, "a");

	assert_int_equal(cluster_pod_remove(c, "x", "c"), 1);
	assert_int_equal(cluster_pod_remove(c, "x", "c"), 0);
	assert_int_equal(c->n_pods, 2);
	cluster_free(c);
}

/* replace and take hand the old object to the caller instead of freeing it
 * (the cache gives it to its subscribers). */
static void replace_and_take_hand_over(void **state)
{
	struct cluster *c = cluster_new();
	struct pod p = { 0 }, old, taken;
	struct node n = { 0 }, nold;
	struct addr a1 = addr_lit("10.0.0.1"), a2 = addr_lit("10.0.0.2");

	(void) state;
	assert_non_null(c);
	put_pod(c, "x", "a", "10.0.0.1", 1, 0);
	p = (struct pod){ .ns = strdup("x"), .name = strdup("a"), .n_ips = 1, .ips = { a2 } };
	labels_init(&p.labels);
	assert_int_equal(cluster_pod_replace(c, &p, &old), 0);
	assert_string_equal(old.name, "a");
	assert_true(addr_eq(&old.ips[0], &a1));
	assert_true(addr_eq(&cluster_pod_find(c, "x", "a")->ips[0], &a2));
	assert_null(cluster_pod_by_addr(c, &a1));
	pod_done(&old);

	p = (struct pod){ .ns = strdup("x"), .name = strdup("b") };
	labels_init(&p.labels);
	assert_int_equal(cluster_pod_replace(c, &p, &old), 1);
	assert_null(old.name); /* nothing replaced: zeroed */

	assert_int_equal(cluster_pod_take(c, "x", "a", &taken), 1);
	assert_null(cluster_pod_find(c, "x", "a"));
	assert_null(cluster_pod_by_addr(c, &a2));
	assert_string_equal(taken.ns, "x");
	assert_true(addr_eq(&taken.ips[0], &a2));
	pod_done(&taken);
	assert_int_equal(cluster_pod_take(c, "x", "a", &taken), 0);
	assert_null(taken.name);
	assert_int_equal(c->n_pods, 1);

	n = (struct node){ .name = strdup("n1") };
	assert_int_equal(cluster_node_replace(c, &n, &nold), 1);
	n = (struct node){ .name = strdup("n1") };
	assert_int_equal(cluster_node_replace(c, &n, &nold), 0);
	assert_string_equal(nold.name, "n1");
	node_done(&nold);
	assert_int_equal(cluster_node_take(c, "n1", &nold), 1);
	assert_int_equal(c->n_nodes, 0);
	node_done(&nold);
	cluster_free(c);
}

/* The name index answers like the binary search, and a pod put or removed
 * after it was built is seen at once. */
static void pod_name_index(void **state)
{
	struct cluster *c = cluster_new(), *copy = NULL;
	char ns[16], name[16];

	(void) state;
	assert_non_null(c);
	for (int i = 0; i < 300; i++) {
		(void) snprintf(ns, sizeof(ns), "ns-%d", i % 7);
		(void) snprintf(name, sizeof(name), "pod-%d", i);
		put_pod(c, ns, name, NULL, 1, 0);
	}
	assert_int_equal(cluster_pod_index(c), 0);
	assert_true(c->by_name_valid);
	for (int i = 0; i < 300; i++) {
		const struct pod *p;

		(void) snprintf(ns, sizeof(ns), "ns-%d", i % 7);
		(void) snprintf(name, sizeof(name), "pod-%d", i);
		p = cluster_pod_find(c, ns, name);
		assert_non_null(p);
		assert_string_equal(p->ns, ns);
		assert_string_equal(p->name, name);
		/* the same name in another namespace is another pod */
		(void) snprintf(ns, sizeof(ns), "ns-%d", (i + 1) % 7);
		assert_null(cluster_pod_find(c, ns, name));
	}
	assert_null(cluster_pod_find(c, "ns-0", "pod-300"));

	put_pod(c, "ns-0", "pod-300", NULL, 1, 0);
	assert_false(c->by_name_valid);
	assert_string_equal(cluster_pod_find(c, "ns-0", "pod-300")->name, "pod-300");
	assert_int_equal(cluster_pod_remove(c, "ns-1", "pod-1"), 1);
	assert_null(cluster_pod_find(c, "ns-1", "pod-1"));
	assert_string_equal(cluster_pod_find(c, "ns-2", "pod-2")->name, "pod-2");

	/* a copy comes indexed */
	assert_int_equal(cluster_copy(c, &copy), 0);
	assert_true(copy->by_name_valid);
	assert_non_null(cluster_pod_find(copy, "ns-0", "pod-300"));
	assert_null(cluster_pod_find(copy, "ns-1", "pod-1"));
	/* found in the copy, not in the original */
	assert_true(cluster_pod_find(copy, "ns-3", "pod-3") >= copy->pods &&
		    cluster_pod_find(copy, "ns-3", "pod-3") < copy->pods + copy->n_pods);
	cluster_free(copy);
	cluster_free(c);
}

/*
 * The copy in steps (cluster_copy_begin(), cluster_copy_pods()): the
 * source changes between them; a pod put or removed behind the copy's
 * last pod is not seen, ahead of it it is; the copy stays sorted, with no
 * pod twice, and comes indexed.
 */
static void copy_in_steps(void **state)
{
	struct cluster *c = cluster_new(), *copy = NULL;
	char name[32];
	int r, steps = 0;

	(void) state;
	for (int i = 0; i < 100; i++) {
		(void) snprintf(name, sizeof(name), "pod-%03d", i);
		put_pod(c, "x", name, NULL, 1, 0);
	}
	assert_int_equal(cluster_copy_begin(c, &copy), 0);
	assert_int_equal(copy->n_pods, 0);
	assert_int_equal(cluster_copy_pods(copy, c, 30), 0);
	assert_int_equal(copy->n_pods, 30);
	/* behind (pod-010 gone, pod-005a new), ahead (pod-050 gone, pod-070a new) */
	assert_int_equal(cluster_pod_remove(c, "x", "pod-010"), 1);
	put_pod(c, "x", "pod-005a", NULL, 1, 0);
	assert_int_equal(cluster_pod_remove(c, "x", "pod-050"), 1);
	put_pod(c, "x", "pod-070a", NULL, 1, 0);
	while ((r = cluster_copy_pods(copy, c, 30)) == 0)
		steps++;
	assert_int_equal(r, 1);
	assert_int_equal(steps, 2);
	assert_int_equal(copy->n_pods, 100);
	assert_non_null(cluster_pod_find(copy, "x", "pod-010"));
	assert_null(cluster_pod_find(copy, "x", "pod-005a"));
	assert_null(cluster_pod_find(copy, "x", "pod-050"));
	assert_non_null(cluster_pod_find(copy, "x", "pod-070a"));
	for (size_t i = 1; i < copy->n_pods; i++)
		assert_true(strcmp(copy->pods[i - 1].name, copy->pods[i].name) < 0);
	assert_true(copy->by_name_valid);
	/* nothing more to copy */
	assert_int_equal(cluster_copy_pods(copy, c, 30), 1);
	assert_int_equal(copy->n_pods, 100);
	cluster_free(copy);
	cluster_free(c);
}

static void reused_address_prefers_live_newest(void **state)
{
	struct cluster *c = cluster_new();
	struct addr a = addr_lit("10.0.0.5");

	(void) state;
	put_pod(c, "x", "old", "10.0.0.5", 100, 0);
	put_pod(c, "x", "new", "10.0.0.5", 200, 0);
	assert_string_equal(cluster_pod_by_addr(c, &a)->name, "new");
	put_pod(c, "x", "new", "10.0.0.5", 200, 300); /* terminating */
	assert_string_equal(cluster_pod_by_addr(c, &a)->name, "old");
	cluster_free(c);
}

/* A finished pod loses a shared address to a terminating one (which still
 * runs); alone, it is still found (the learner names it), but
 * pod_finished() tells the engine and the compiler to give it no
 * identity. */
static void finished_pod_yields_address(void **state)
{
	struct cluster *c = cluster_new();
	struct addr a = addr_lit("10.0.0.5");
	struct pod *p;

	(void) state;
	put_pod(c, "x", "job", "10.0.0.5", 200, 0);
	p = (struct pod *) cluster_pod_find(c, "x", "job");
	assert_false(pod_finished(p));
	p->phase = strdup("Succeeded");
	assert_true(pod_finished(p));
	assert_string_equal(cluster_pod_by_addr(c, &a)->name, "job");
	put_pod(c, "x", "old", "10.0.0.5", 100, 300); /* older, terminating */
	assert_string_equal(cluster_pod_by_addr(c, &a)->name, "old");
	p = (struct pod *) cluster_pod_find(c, "x", "job");
	free(p->phase);
	p->phase = strdup("Failed");
	assert_true(pod_finished(p));
	free(p->phase);
	p->phase = strdup("Running");
	assert_false(pod_finished(p));
	cluster_free(c);
}

static void policies_by_namespace(void **state)
{
	struct cluster *c = cluster_new();
	const char *names[][2] = { { "y", "p1" }, { "x", "p2" }, { "x", "p1" }, { "z", "p" } };
	size_t first, end;

	(void) state;
	for (size_t i = 0; i < 4; i++) {
		struct netpol p;

		netpol_init(&p);
		p.ns = strdup(names[i][0]);
		p.name = strdup(names[i][1]);
		assert_int_equal(cluster_policy_put(c, &p), 1);
	}
	cluster_policies_in_ns(c, "x", &first, &end);
	assert_int_equal(first, 0);
	assert_int_equal(end, 2);
	assert_string_equal(c->policies[1].name, "p2");
	cluster_policies_in_ns(c, "w", &first, &end);
	assert_int_equal(first, end);
	cluster_policies_in_ns(c, "z", &first, &end);
	assert_int_equal(end - first, 1);

	struct cluster *copy = NULL;
	assert_int_equal(cluster_copy(c, &copy), 0);
	assert_int_equal(copy->n_policies, 4);
	assert_non_null(cluster_policy_find(copy, "y", "p1"));
	cluster_free(copy);
	cluster_free(c);
}

static void put_ns(struct cluster *c, const char *name)
{
	struct k8s_ns ns = { .name = strdup(name) };

	labels_init(&ns.labels);
	assert_true(cluster_ns_put(c, &ns) >= 0);
}

/* ns_gen changes whenever a namespace may have appeared (the agent's
 * stages rescan then), also when one was deleted and another created in
 * between, which n_ns does not show; and only then. */
static void ns_gen_counts_new_namespaces(void **state)
{
	struct cluster *c = cluster_new();
	uint64_t g;

	(void) state;
	assert_non_null(c);
	put_ns(c, "a");
	put_ns(c, "b");
	g = c->ns_gen;
	assert_int_equal(cluster_ns_remove(c, "a"), 1);
	put_ns(c, "z");
	assert_int_equal(c->n_ns, 2);
	assert_true(c->ns_gen != g);
	/* a Namespace object modified: nothing new */
	g = c->ns_gen;
	put_ns(c, "z");
	assert_true(c->ns_gen == g);
	/* the first pod of a namespace with no Namespace object */
	put_pod(c, "p", "x", "10.0.0.1", 1, 0);
	assert_true(c->ns_gen != g);
	/* more pods of a namespace with pods: nothing new */
	g = c->ns_gen;
	put_pod(c, "p", "a", "10.0.0.2", 1, 0);
	put_pod(c, "p", "z", "10.0.0.3", 1, 0);
	put_pod(c, "p", "x", "10.0.0.4", 1, 0);
	assert_true(c->ns_gen == g);
	put_pod(c, "o", "a", "10.0.0.5", 1, 0);
	assert_true(c->ns_gen != g);
	g = c->ns_gen;
	put_pod(c, "q", "a", "10.0.0.6", 1, 0);
	assert_true(c->ns_gen != g);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sorted_put_find_remove),
		cmocka_unit_test(replace_and_take_hand_over),
		cmocka_unit_test(pod_name_index),
		cmocka_unit_test(copy_in_steps),
		cmocka_unit_test(reused_address_prefers_live_newest),
		cmocka_unit_test(finished_pod_yields_address),
		cmocka_unit_test(policies_by_namespace),
		cmocka_unit_test(ns_gen_counts_new_namespaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
