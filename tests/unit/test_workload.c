#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster.h"
#include "testutil.h"
#include "workload.h"

static void put(struct cluster *c, const char *ns, const char *name, const char *owner_kind,
		const char *owner_name, const char *labels)
{
	struct pod p = { .ns = strdup(ns), .name = strdup(name) };

	labels_lit(&p.labels, labels);
	if (owner_kind) {
		p.owner.kind = strdup(owner_kind);
		p.owner.name = strdup(owner_name);
	}
	assert_true(cluster_pod_put(c, &p) >= 0);
}

static void check_of_pod(const char *owner_kind, const char *owner_name, const char *labels,
			 const char *kind, const char *name)
{
	struct pod p = { .ns = (char *) "ns", .name = (char *) "pod-1" };
	char *k, *n;

	labels_lit(&p.labels, labels);
	p.owner.kind = (char *) owner_kind;
	p.owner.name = (char *) owner_name;
	assert_int_equal(workload_of_pod(&p, &k, &n), 0);
	assert_string_equal(k, kind);
	assert_string_equal(n, name);
	free(k);
	free(n);
	labels_done(&p.labels);
}

static void derives_controller(void **state)
{
	(void) state;
	check_of_pod("ReplicaSet", "api-7d9c4b8f6", "app=api,pod-template-hash=7d9c4b8f6",
		     "Deployment", "api");
	/* no label, but the suffix has the hash alphabet */
	check_of_pod("ReplicaSet", "web-api-5f6d7c9b8", "", "Deployment", "web-api");
	/* a hand-made ReplicaSet */
	check_of_pod("ReplicaSet", "legacy-one", "app=x", "ReplicaSet", "legacy-one");
	check_of_pod("Job", "backup-29381760", "job-name=backup-29381760", "CronJob", "backup");
	check_of_pod("Job", "migrate-v2", "", "Job", "migrate-v2");
	check_of_pod("StatefulSet", "db", "", "StatefulSet", "db");
	check_of_pod("DaemonSet", "agent", "", "DaemonSet", "agent");
	check_of_pod(NULL, NULL, "app=debug,tier=x", "Pod", "debug");
	check_of_pod(NULL, NULL, "", "Pod", "pod-1");
}

static void volatile_labels(void **state)
{
	struct labels in, out;

	(void) state;
	assert_true(workload_label_is_volatile("pod-template-hash"));
	assert_true(workload_label_is_volatile("controller-revision-hash"));
	assert_true(workload_label_is_volatile("statefulset.kubernetes.io/pod-name"));
	assert_true(workload_label_is_volatile("batch.kubernetes.io/job-name"));
	assert_false(workload_label_is_volatile("app"));
	labels_lit(&in, "app=a,controller-uid=123,job-name=j,pod-template-generation=3,tier=t");
	labels_init(&out);
	assert_int_equal(workload_stable_labels(&in, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(labels_get(&out, "tier"), "t");
	labels_done(&in);
	labels_done(&out);
}

static void minimise(void **state)
{
	struct labels cand, o1, o2, o3, ret;
	const struct labels *others[3] = { &o1, &o2, &o3 };

	(void) state;
	labels_lit(&cand, "app=web,team=shop,tier=front,version=v1");
	labels_lit(&o1, "app=web,team=shop,tier=back,version=v1");
	labels_lit(&o2, "app=api,team=shop,tier=front,version=v1");
	labels_lit(&o3, "app=web,team=ops,tier=front,version=v1");
	/* each other set lacks a different label: no pair excludes all
	 * three, so three labels, and never the useless 'version' */
	labels_init(&ret);
	assert_int_equal(workload_selector_minimise(&cand, others, 3, &ret), 1);
	assert_int_equal(ret.n, 3);
	assert_string_equal(labels_get(&ret, "app"), "web");
	assert_string_equal(labels_get(&ret, "team"), "shop");
	assert_string_equal(labels_get(&ret, "tier"), "front");
	labels_done(&ret);

	/* alone in its namespace: still one label, the preferred one */
	labels_init(&ret);
	assert_int_equal(workload_selector_minimise(&cand, others, 0, &ret), 1);
	assert_int_equal(ret.n, 1);
	assert_string_equal(labels_get(&ret, "app"), "web");
	labels_done(&ret);

	/* another pod carries all our labels: not exact, every label used */
	labels_init(&ret);
	others[0] = &cand;
	assert_int_equal(workload_selector_minimise(&cand, others, 1, &ret), 0);
	assert_int_equal(ret.n, 4);
	labels_done(&ret);
	labels_done(&cand);
	labels_done(&o1);
	labels_done(&o2);
	labels_done(&o3);
}

static void set_build(void **state)
{
	struct cluster *c = cluster_new();
	struct workload_set ws;
	const struct workload *w;

	(void) state;
	put(c, "shop", "api-5f6d7c9b8-aaaaa", "ReplicaSet", "api-5f6d7c9b8",
	    "app=api,pod-template-hash=5f6d7c9b8");
	put(c, "shop", "api-7b8c9d4f5-bbbbb", "ReplicaSet", "api-7b8c9d4f5",
	    "app=api,pod-template-hash=7b8c9d4f5");
	put(c, "shop", "db-0", "StatefulSet", "db",
	    "app=db,role=primary,statefulset.kubernetes.io/pod-name=db-0");
	put(c, "shop", "db-1", "StatefulSet", "db",
	    "app=db,role=replica,statefulset.kubernetes.io/pod-name=db-1");
	put(c, "shop", "debug", NULL, NULL, "app=db,role=primary,debug=true");
	put(c, "other", "api-x", "ReplicaSet", "api-5f6d7c9b8", "app=api");
	assert_int_equal(workload_set_build(c, &ws), 0);
	assert_int_equal(ws.n, 4);

	/* both ReplicaSets of the rollout are one Deployment */
	w = workload_set_find(&ws, "shop", "Deployment", "api");
	assert_non_null(w);
	assert_int_equal(w->n_pods, 2);
	assert_true(w->exact);
	assert_int_equal(w->sel.match_labels.n, 1);
	assert_string_equal(labels_get(&w->sel.match_labels, "app"), "api");
	assert_int_equal(workload_set_of_pod(&ws, w->pods[1]), (size_t) (w - ws.v));

	/* db: the volatile pod-name never appears; the bare pod "debug"
	 * carries app=db too, and only DoesNotExist on its extra key tells
	 * it apart */
	w = workload_set_find(&ws, "shop", "StatefulSet", "db");
	assert_non_null(w);
	assert_int_equal(w->common.n, 1);
	assert_string_equal(labels_get(&w->sel.match_labels, "app"), "db");
	assert_int_equal(w->sel.n_reqs, 1);
	assert_string_equal(w->sel.reqs[0].key, "debug");
	assert_int_equal(w->sel.reqs[0].op, SELECTOR_OP_DOES_NOT_EXIST);
	assert_true(w->exact);
	for (size_t i = 0; i < c->n_pods; i++) {
		bool mine = workload_set_of_pod(&ws, i) == (size_t) (w - ws.v);

		assert_int_equal(selector_matches(&w->sel, &c->pods[i].labels) &&
					 strcmp(c->pods[i].ns, "shop") == 0,
				 mine);
	}

	w = workload_set_find(&ws, "shop", "Pod", "db");
	assert_non_null(w);
	assert_int_equal(w->sel.match_labels.n, 1);
	assert_string_equal(labels_get(&w->sel.match_labels, "debug"), "true");

	assert_non_null(workload_set_find(&ws, "other", "Deployment", "api"));
	workload_set_done(&ws);
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(derives_controller),
		cmocka_unit_test(volatile_labels),
		cmocka_unit_test(minimise),
		cmocka_unit_test(set_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
