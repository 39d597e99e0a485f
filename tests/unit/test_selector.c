#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "selector.h"
#include "testutil.h"

static void empty_matches_everything(void **state)
{
	struct selector s;
	struct labels l;

	(void) state;
	selector_init(&s);
	labels_lit(&l, "");
	assert_true(selector_is_empty(&s));
	assert_true(selector_matches(&s, &l));
	labels_done(&l);
	labels_lit(&l, "app=web,tier=front");
	assert_true(selector_matches(&s, &l));
	labels_done(&l);
	selector_done(&s);
}

static void operators(void **state)
{
	const char *web[] = { "web", "api" };
	struct selector s;
	struct labels web_front, db, none;

	(void) state;
	labels_lit(&web_front, "app=web,tier=front");
	labels_lit(&db, "app=db");
	labels_lit(&none, "");

	selector_init(&s);
	assert_int_equal(selector_req_add(&s, "app", SELECTOR_OP_IN, web, 2), 0);
	assert_true(selector_matches(&s, &web_front));
	assert_false(selector_matches(&s, &db));
	assert_false(selector_matches(&s, &none));
	selector_done(&s);

	assert_int_equal(selector_req_add(&s, "app", SELECTOR_OP_NOT_IN, web, 2), 0);
	assert_false(selector_matches(&s, &web_front));
	assert_true(selector_matches(&s, &db));
	assert_true(selector_matches(&s, &none)); /* absent key: NotIn holds */
	selector_done(&s);

	assert_int_equal(selector_req_add(&s, "tier", SELECTOR_OP_EXISTS, NULL, 0), 0);
	assert_true(selector_matches(&s, &web_front));
	assert_false(selector_matches(&s, &db));
	selector_done(&s);

	assert_int_equal(selector_req_add(&s, "tier", SELECTOR_OP_DOES_NOT_EXIST, NULL, 0), 0);
	assert_false(selector_matches(&s, &web_front));
	assert_true(selector_matches(&s, &db));
	assert_true(selector_matches(&s, &none));
	selector_done(&s);

	/* matchLabels and expressions are ANDed */
	assert_int_equal(labels_set(&s.match_labels, "app", "web"), 0);
	assert_int_equal(selector_req_add(&s, "tier", SELECTOR_OP_NOT_IN,
					  (const char *[]){ "front" }, 1),
			 0);
	assert_false(selector_matches(&s, &web_front));
	assert_false(selector_matches(&s, &db));
	selector_done(&s);

	assert_int_equal(selector_req_add(&s, "a", SELECTOR_OP_IN, NULL, 0), -EINVAL);
	assert_int_equal(selector_req_add(&s, "a", SELECTOR_OP_EXISTS, web, 1), -EINVAL);
	assert_int_equal(s.n_reqs, 0);

	labels_done(&web_front);
	labels_done(&db);
	labels_done(&none);
}

static void op_names(void **state)
{
	enum selector_op op;

	(void) state;
	assert_int_equal(selector_op_parse("DoesNotExist", &op), 0);
	assert_int_equal(op, SELECTOR_OP_DOES_NOT_EXIST);
	assert_int_equal(selector_op_parse("in", &op), -EINVAL);
	assert_int_equal(selector_op_parse("Equals", &op), -EINVAL);
	assert_string_equal(selector_op_name(SELECTOR_OP_NOT_IN), "NotIn");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_matches_everything),
		cmocka_unit_test(operators),
		cmocka_unit_test(op_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
