/*
 * unit.metrics: the Prometheus registry's text exposition, byte for byte
 * (HELP and TYPE lines, escaping of HELP text and label values, cumulative
 * histogram buckets with +Inf, _sum and _count, float spelling), series
 * found again by their label values, removed, bounded and counted; bad
 * definitions refused naming the family; the agent's declared families.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static char *render(const struct metrics_registry *r)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(metrics_render(r, &b), 0);
	return buf_steal(&b);
}

/* The rendering without the registry's own trailing family. */
static void assert_rendered(const struct metrics_registry *r, const char *want)
{
	char *got = render(r);
	char *tail = strstr(got, "# HELP bulkhead_metrics_series_dropped_total");

	assert_non_null(tail);
	*tail = '\0';
	assert_string_equal(got, want);
	free(got);
}

static const struct metrics_family_def pkts = {
	.name = "t_packets_total",
	.help = "Packets.\nSecond line with a \\ backslash.",
	.type = METRICS_COUNTER,
	.labels = { "namespace", "policy" },
};

static void counter_labels_escaped(void **state)
{
	struct metrics_registry *r = metrics_registry_new(0);
	struct metrics_family *f;
	struct metrics_series *a, *b, *again;
	struct bh_err err = { 0 };
	const char *va[] = { "prod", "allow \"web\"" };
	const char *vb[] = { "a\\b", "line\nbreak" };

	(void) state;
	assert_int_equal(metrics_family_add(r, &pkts, &f, &err), 0);
	assert_rendered(r, "# HELP t_packets_total Packets.\\nSecond line with a \\\\ backslash.\n"
			   "# TYPE t_packets_total counter\n");
	assert_int_equal(metrics_series_get(f, va, &a), 0);
	assert_int_equal(metrics_series_get(f, vb, &b), 0);
	metrics_counter_add(a, 3);
	metrics_counter_add(a, 4);
	metrics_counter_set(b, 18446744073709551615ull);
	assert_int_equal(metrics_series_get(f, va, &again), 0);
	assert_ptr_equal(again, a);
	assert_true(metrics_series_value(a) == 7);
	assert_rendered(r, "# HELP t_packets_total Packets.\\nSecond line with a \\\\ backslash.\n"
			   "# TYPE t_packets_total counter\n"
			   "t_packets_total{namespace=\"prod\",policy=\"allow \\\"web\\\"\"} 7\n"
			   "t_packets_total{namespace=\"a\\\\b\",policy=\"line\\nbreak\"} "
			   "18446744073709551615\n");
	metrics_series_remove(a);
	assert_rendered(r, "# HELP t_packets_total Packets.\\nSecond line with a \\\\ backslash.\n"
			   "# TYPE t_packets_total counter\n"
			   "t_packets_total{namespace=\"a\\\\b\",policy=\"line\\nbreak\"} "
			   "18446744073709551615\n");
	/* Created again from nothing. */
	assert_int_equal(metrics_series_get(f, va, &a), 0);
	assert_true(metrics_series_value(a) == 0);
	assert_int_equal(metrics_series_get(f, NULL, &a), -EINVAL);
	metrics_registry_free(r);
}

static void gauge_and_histogram(void **state)
{
	static const double bounds[] = { 0.001, 0.5, 2 };
	static const struct metrics_family_def g = {
		.name = "t_gauge",
		.help = "A gauge.",
		.type = METRICS_GAUGE,
	};
	static const struct metrics_family_def h = {
		.name = "t_seconds",
		.help = "A histogram.",
		.type = METRICS_HISTOGRAM,
		.labels = { "kind" },
		.buckets = bounds,
		.n_buckets = 3,
	};
	struct metrics_registry *r = metrics_registry_new(0);
	struct metrics_family *fg, *fh;
	struct metrics_series *sg, *sh;
	struct bh_err err = { 0 };
	const char *kind[] = { "full" };

	(void) state;
	assert_int_equal(metrics_family_add(r, &g, &fg, &err), 0);
	assert_int_equal(metrics_family_add(r, &h, &fh, &err), 0);
	assert_int_equal(metrics_series_get(fg, NULL, &sg), 0);
	metrics_gauge_set(sg, 2.5);
	metrics_gauge_add(sg, -0.25);
	assert_int_equal(metrics_series_get(fh, kind, &sh), 0);
	metrics_histogram_observe(sh, 0.001); /* le is inclusive */
	metrics_histogram_observe(sh, 0.25);
	metrics_histogram_observe(sh, 0.75);
	metrics_histogram_observe(sh, 10);
	assert_rendered(r, "# HELP t_gauge A gauge.\n"
			   "# TYPE t_gauge gauge\n"
			   "t_gauge 2.25\n"
			   "# HELP t_seconds A histogram.\n"
			   "# TYPE t_seconds histogram\n"
			   "t_seconds_bucket{kind=\"full\",le=\"0.001\"} 1\n"
			   "t_seconds_bucket{kind=\"full\",le=\"0.5\"} 2\n"
			   "t_seconds_bucket{kind=\"full\",le=\"2\"} 3\n"
			   "t_seconds_bucket{kind=\"full\",le=\"+Inf\"} 4\n"
			   "t_seconds_sum{kind=\"full\"} 11.001\n"
			   "t_seconds_count{kind=\"full\"} 4\n");
	metrics_gauge_set(sg, INFINITY);
	metrics_histogram_observe(sh, NAN);
	assert_rendered(r, "# HELP t_gauge A gauge.\n"
			   "# TYPE t_gauge gauge\n"
			   "t_gauge +Inf\n"
			   "# HELP t_seconds A histogram.\n"
			   "# TYPE t_seconds histogram\n"
			   "t_seconds_bucket{kind=\"full\",le=\"0.001\"} 1\n"
			   "t_seconds_bucket{kind=\"full\",le=\"0.5\"} 2\n"
			   "t_seconds_bucket{kind=\"full\",le=\"2\"} 3\n"
			   "t_seconds_bucket{kind=\"full\",le=\"+Inf\"} 5\n"
			   "t_seconds_sum{kind=\"full\"} NaN\n"
			   "t_seconds_count{kind=\"full\"} 5\n");
	metrics_registry_free(r);
}

static void series_bound(void **state)
{
	struct metrics_registry *r = metrics_registry_new(3);
	struct metrics_family *f;
	struct metrics_series *s;
	struct bh_err err = { 0 };
	char name[16];
	const char *v[2] = { "ns", name };
	char *text;

	(void) state;
	assert_int_equal(metrics_family_add(r, &pkts, &f, &err), 0);
	for (int i = 0; i < 3; i++) {
		(void) snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(metrics_series_get(f, v, &s), 0);
	}
	(void) snprintf(name, sizeof(name), "p3");
	assert_int_equal(metrics_series_get(f, v, &s), -E2BIG);
	assert_int_equal(metrics_series_get(f, v, &s), -E2BIG);
	/* An existing one is still found. */
	(void) snprintf(name, sizeof(name), "p1");
	assert_int_equal(metrics_series_get(f, v, &s), 0);
	text = render(r);
	assert_non_null(strstr(text, "\nbulkhead_metrics_series_dropped_total 2\n"));
	free(text);
	/* Room again after a removal. */
	metrics_series_remove(s);
	(void) snprintf(name, sizeof(name), "p3");
	assert_int_equal(metrics_series_get(f, v, &s), 0);
	metrics_registry_free(r);
}

static void many_series(void **state)
{
	struct metrics_registry *r = metrics_registry_new(0);
	struct metrics_family *f;
	struct metrics_series *s[2000], *again;
	struct bh_err err = { 0 };
	char name[16];
	const char *v[2] = { "ns", name };

	(void) state;
	assert_int_equal(metrics_family_add(r, &pkts, &f, &err), 0);
	for (int i = 0; i < 2000; i++) {
		(void) snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(metrics_series_get(f, v, &s[i]), 0);
		metrics_counter_add(s[i], (uint64_t) i);
	}
	for (int i = 0; i < 2000; i += 2)
		metrics_series_remove(s[i]);
	for (int i = 1; i < 2000; i += 2) {
		(void) snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(metrics_series_get(f, v, &again), 0);
		assert_ptr_equal(again, s[i]);
		assert_true(metrics_series_value(again) == i);
	}
	metrics_registry_free(r);
}

static void bad_definitions(void **state)
{
	static const double down[] = { 1, 0.5 };
	static const struct metrics_family_def bad[] = {
		{ .name = "9lives", .help = "x", .type = METRICS_COUNTER },
		{ .name = "a-b", .help = "x", .type = METRICS_COUNTER },
		{ .name = "t_x", .help = "x", .type = METRICS_COUNTER, .labels = { "__x" } },
		{ .name = "t_x", .help = "x", .type = METRICS_COUNTER, .labels = { "a", "a" } },
		{ .name = "t_x", .help = "x", .type = METRICS_COUNTER, .labels = { "a:b" } },
		{ .name = "t_x",
		  .help = "x",
		  .type = METRICS_HISTOGRAM,
		  .buckets = down,
		  .n_buckets = 2 },
		{ .name = "t_x",
		  .help = "x",
		  .type = METRICS_HISTOGRAM,
		  .labels = { "le" },
		  .buckets = down,
		  .n_buckets = 1 },
		{ .name = "t_x", .help = "x", .type = METRICS_HISTOGRAM },
		{ .name = "t_x",
		  .help = "x",
		  .type = METRICS_GAUGE,
		  .buckets = down,
		  .n_buckets = 1 },
		{ .name = "t_x", .type = METRICS_GAUGE },
	};
	struct metrics_registry *r = metrics_registry_new(0);
	struct metrics_family *f;

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bh_err err = { 0 };

		assert_int_equal(metrics_family_add(r, &bad[i], &f, &err), -EINVAL);
		assert_int_equal(err.kind, BH_ERR_INPUT);
		assert_non_null(strstr(err.msg, bad[i].name));
	}
	{
		struct bh_err err = { 0 };

		assert_int_equal(metrics_family_add(r, &pkts, &f, &err), 0);
		assert_int_equal(metrics_family_add(r, &pkts, &f, &err), -EEXIST);
		assert_non_null(strstr(err.msg, "'t_packets_total' registered twice"));
	}
	metrics_registry_free(r);
}

static void agent_families(void **state)
{
	struct metrics_registry *r = metrics_registry_new(0);
	struct metrics_family *fams[_METRICS_AGENT_MAX];
	struct bh_err err = { 0 };
	char *text;

	(void) state;
	assert_int_equal(metrics_agent_register(r, fams, &err), 0);
	text = render(r);
	for (size_t i = 0; i < _METRICS_AGENT_MAX; i++) {
		char want[160];

		assert_non_null(fams[i]);
		(void) snprintf(want, sizeof(want), "# TYPE %s ", metrics_agent_defs[i].name);
		assert_non_null(strstr(text, want));
	}
	/* The names docs/metrics.md documents (a rename breaks dashboards). */
	assert_string_equal(metrics_agent_defs[METRICS_POLICY_PACKETS].name,
			    "bulkhead_policy_packets_total");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_PROGRAM_SECONDS].name,
			    "bulkhead_ruleset_program_duration_seconds");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_BATCHES].name,
			    "bulkhead_ruleset_batches_total");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_RESYNCS].name,
			    "bulkhead_ruleset_resyncs_total");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_ERRORS].name,
			    "bulkhead_ruleset_errors_total");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_LAST_SYNC].name,
			    "bulkhead_ruleset_last_sync_timestamp_seconds");
	assert_string_equal(metrics_agent_defs[METRICS_RULESET_INFO].name, "bulkhead_ruleset_info");
	assert_string_equal(metrics_agent_defs[METRICS_STATE_DB_FULL_CHECKPOINTS].name,
			    "bulkhead_state_db_full_checkpoints_total");
	assert_string_equal(metrics_agent_defs[METRICS_CAPTURE_INTERFACES].name,
			    "bulkhead_capture_interfaces");
	assert_non_null(strstr(text, "\nbulkhead_conntrack_overruns_total 0\n"));
	free(text);
	/* Registered twice: refused. */
	assert_int_equal(metrics_agent_register(r, fams, &err), -EEXIST);
	metrics_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_labels_escaped), cmocka_unit_test(gauge_and_histogram),
		cmocka_unit_test(series_bound),		  cmocka_unit_test(many_series),
		cmocka_unit_test(bad_definitions),	  cmocka_unit_test(agent_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
