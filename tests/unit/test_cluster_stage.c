#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster_stage.h"
#include "rfc3339.h"

#define T0 1796378700000LL /* 2026-12-04T10:05:00.000Z */

static struct cluster_mode mode(enum state_db_mode_kind k, int64_t at)
{
	return (struct cluster_mode){ .present = true, .mode = k, .switched_at = at };
}

static struct cluster_stage stage(struct cluster_stage_input in)
{
	struct cluster_stage st;

	cluster_stage_effective(&in, &st);
	return st;
}

static void no_proposal_is_learn(void **state)
{
	struct cluster_stage st;

	(void) state;
	st = stage((struct cluster_stage_input){ 0 });
	assert_int_equal(st.mode, STATE_DB_MODE_LEARN);
	assert_int_equal(st.switched_at, 0);
	/* even under an enforce: nothing to enforce yet, but the mode's
	 * switchedAt is the one followed */
	st = stage((struct cluster_stage_input){ .all = mode(STATE_DB_MODE_ENFORCE, T0) });
	assert_int_equal(st.mode, STATE_DB_MODE_LEARN);
	assert_int_equal(st.switched_at, T0);
	assert_true(st.from_all);
}

static void proposal_without_mode_is_preview(void **state)
{
	struct cluster_stage st;

	(void) state;
	st = stage((struct cluster_stage_input){ .has_proposals = true, .computed_at = T0 });
	assert_int_equal(st.mode, STATE_DB_MODE_PREVIEW);
	assert_int_equal(st.switched_at, 0);
}

static void later_switch_wins(void **state)
{
	struct cluster_stage st;

	(void) state;
	/* `all` enforce after the namespace's preview: enforce */
	st = stage((struct cluster_stage_input){ .ns = mode(STATE_DB_MODE_PREVIEW, T0),
						 .all = mode(STATE_DB_MODE_ENFORCE, T0 + 1),
						 .has_proposals = true });
	assert_int_equal(st.mode, STATE_DB_MODE_ENFORCE);
	assert_int_equal(st.switched_at, T0 + 1);
	assert_true(st.from_all);
	/* the namespace's preview after `all` enforce: preview */
	st = stage((struct cluster_stage_input){ .ns = mode(STATE_DB_MODE_PREVIEW, T0 + 2),
						 .all = mode(STATE_DB_MODE_ENFORCE, T0 + 1),
						 .has_proposals = true });
	assert_int_equal(st.mode, STATE_DB_MODE_PREVIEW);
	assert_int_equal(st.switched_at, T0 + 2);
	assert_false(st.from_all);
	/* a tie: the namespace's, the more specific */
	st = stage((struct cluster_stage_input){ .ns = mode(STATE_DB_MODE_PREVIEW, T0),
						 .all = mode(STATE_DB_MODE_ENFORCE, T0),
						 .has_proposals = true });
	assert_int_equal(st.mode, STATE_DB_MODE_PREVIEW);
	assert_false(st.from_all);
	/* only the namespace's */
	st = stage((struct cluster_stage_input){ .ns = mode(STATE_DB_MODE_ENFORCE, T0),
						 .has_proposals = true });
	assert_int_equal(st.mode, STATE_DB_MODE_ENFORCE);
}

static void learn_until_newer_proposals(void **state)
{
	struct cluster_stage_input in = { .ns = mode(STATE_DB_MODE_LEARN, T0),
					  .has_proposals = true,
					  .computed_at = T0 - 1 };
	struct cluster_stage st;

	(void) state;
	st = stage(in);
	assert_int_equal(st.mode, STATE_DB_MODE_LEARN);
	assert_int_equal(st.switched_at, T0);
	in.computed_at = T0;
	assert_int_equal(stage(in).mode, STATE_DB_MODE_PREVIEW);
	in.computed_at = T0 + 60000;
	assert_int_equal(stage(in).mode, STATE_DB_MODE_PREVIEW);
	/* a later enforce of `all` overrides the relearn */
	in.computed_at = T0 - 1;
	in.all = mode(STATE_DB_MODE_ENFORCE, T0 + 5);
	assert_int_equal(stage(in).mode, STATE_DB_MODE_ENFORCE);
}

static json_t *policymode(const char *name, const char *m, const char *at)
{
	json_t *o = json_pack("{s:{s:s}, s:{s:s, s:s, s:s}}", "metadata", "name", name, "spec",
			      "mode", m, "namespace", "shop", "switchedAt", at);

	assert_non_null(o);
	return o;
}

static void parse_policymode(void **state)
{
	struct cluster_mode m = { 0 };
	struct bh_err err = { 0 };
	json_t *o = policymode("shop", "enforce", "2026-12-04T10:05:00.123Z");

	(void) state;
	assert_int_equal(cluster_mode_parse(o, &m, &err), 0);
	assert_true(m.present);
	assert_int_equal(m.mode, STATE_DB_MODE_ENFORCE);
	assert_int_equal(m.switched_at, T0 + 123);
	assert_false(m.force);
	json_object_set_new(json_object_get(o, "spec"), "force", json_true());
	assert_int_equal(cluster_mode_parse(o, &m, &err), 0);
	assert_true(m.force);
	json_decref(o);

	o = policymode("all", "learn", "2026-12-04T10:05:00Z");
	assert_int_equal(cluster_mode_parse(o, &m, &err), 0);
	assert_int_equal(m.mode, STATE_DB_MODE_LEARN);
	assert_int_equal(m.switched_at, T0);
	json_decref(o);
}

static void parse_policymode_errors(void **state)
{
	struct cluster_mode m = { .mode = STATE_DB_MODE_PROPOSED };
	struct bh_err err = { 0 };
	json_t *o = policymode("shop", "proposed", "2026-12-04T10:05:00Z");

	(void) state;
	assert_int_equal(cluster_mode_parse(o, &m, &err), -EINVAL);
	assert_string_equal(
		err.msg,
		"PolicyMode 'shop': spec.mode: 'proposed' is not learn, preview or enforce");
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_int_equal(m.mode, STATE_DB_MODE_PROPOSED); /* untouched */
	json_decref(o);

	o = policymode("shop", "preview", "yesterday");
	assert_int_equal(cluster_mode_parse(o, &m, &err), -EINVAL);
	assert_string_equal(
		err.msg, "PolicyMode 'shop': spec.switchedAt: 'yesterday' is not an RFC 3339 time");
	json_object_set_new(json_object_get(o, "spec"), "switchedAt",
			    json_string("2026-12-04T10:05:00Z"));
	json_object_set_new(json_object_get(o, "spec"), "force", json_string("yes"));
	assert_int_equal(cluster_mode_parse(o, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "PolicyMode 'shop': spec.force: not a boolean");
	json_object_del(o, "spec");
	assert_int_equal(cluster_mode_parse(o, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "PolicyMode 'shop': spec: missing or not an object");
	json_decref(o);
}

static void times_in_ms(void **state)
{
	char buf[RFC3339_STR_MAX];
	int64_t t = 0;

	(void) state;
	assert_int_equal(cluster_time_parse_ms("2026-12-04T10:05:00.1Z", &t), 0);
	assert_int_equal(t, T0 + 100);
	assert_int_equal(cluster_time_parse_ms("2026-12-04T10:05:00.123456Z", &t), 0);
	assert_int_equal(t, T0 + 123);
	assert_int_equal(cluster_time_parse_ms("2026-12-04T11:05:00.5+01:00", &t), 0);
	assert_int_equal(t, T0 + 500);
	assert_int_equal(cluster_time_parse_ms("2026-12-04 10:05", &t), -EINVAL);
	assert_string_equal(cluster_time_format_ms(T0 + 7, buf, sizeof(buf)),
			    "2026-12-04T10:05:00.007Z");
	/* Any year a PolicyMode may hold reads back (ms * 1000000 ns
	 * overflowed after 2262); beyond what parses back, "". */
	assert_int_equal(cluster_time_parse_ms("9999-12-31T23:59:59.999Z", &t), 0);
	assert_string_equal(cluster_time_format_ms(t, buf, sizeof(buf)),
			    "9999-12-31T23:59:59.999Z");
	assert_int_equal(cluster_time_parse_ms("1969-12-31T23:59:59.5Z", &t), 0);
	assert_int_equal(t, -500);
	assert_string_equal(cluster_time_format_ms(t, buf, sizeof(buf)),
			    "1969-12-31T23:59:59.500Z");
	assert_string_equal(
		cluster_time_format_ms(t + 10000LL * 366 * 86400 * 1000, buf, sizeof(buf)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_proposal_is_learn),
		cmocka_unit_test(proposal_without_mode_is_preview),
		cmocka_unit_test(later_switch_wins),
		cmocka_unit_test(learn_until_newer_proposals),
		cmocka_unit_test(parse_policymode),
		cmocka_unit_test(parse_policymode_errors),
		cmocka_unit_test(times_in_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
