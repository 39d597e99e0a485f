#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "jsubset.h"

/*
 * Whatever jsubset_parse() accepts, jansson parses to the same tree (same
 * types, values and key order); whatever jansson rejects, jsubset_parse()
 * rejects too.  Returns false with a message otherwise.
 */
static bool agrees(const char *s, size_t len, bool *accepted, char *why, size_t why_len)
{
	json_t *a = NULL, *b;
	json_error_t jerr;
	char *da, *db;
	bool ok;
	int r = jsubset_parse(s, len, &a);

	b = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	*accepted = r == 0;
	if (r < 0) {
		json_decref(b);
		if (r != -EDOM)
			snprintf(why, why_len, "r=%d", r);
		return r == -EDOM;
	}
	if (!b) {
		snprintf(why, why_len, "accepted what jansson rejects: %s", jerr.text);
		json_decref(a);
		return false;
	}
	da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	ok = da && db && strcmp(da, db) == 0 && json_equal(a, b);
	if (!ok)
		snprintf(why, why_len, "trees differ: '%s' vs '%s'", da ? da : "?", db ? db : "?");
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	return ok;
}

static const char *const accepted_inputs[] = {
	"{}",
	"[]",
	" {\"a\" : [1, -2, 0, -0, 123456789012345678, true, false, null, \"x y\", {}]}\n",
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"labels\":{\"b\":\"\",\"a\":\"1\"}},"
	"\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":80}]}]}}",
	"\"only a string\"",
	"42",
	"\t[\r\n[[[]]]\t]",
};

static const char *const handed_to_jansson[] = {
	"",
	"{\"a\":1,\"a\":2}",
	"{\"s\":\"esc\\\"aped\"}",
	"{\"s\":\"caf\xc3\xa9\"}",
	"[1.5]",
	"[1e3]",
	"[1234567890123456789]",
	"[01]",
	"[-]",
	"[truex]",
	"[nul]",
	"{\"a\":1}x",
	"{\"a\" 1}",
	"[1,]",
	"{,}",
	"[\"tab\there\"]",
	"{\"a\":1} {}",
};

static void fixed_inputs(void **state)
{
	char why[512] = "";
	bool acc;

	(void) state;
	for (size_t i = 0; i < sizeof(accepted_inputs) / sizeof(accepted_inputs[0]); i++) {
		const char *s = accepted_inputs[i];

		if (!agrees(s, strlen(s), &acc, why, sizeof(why)) || !acc)
			fail_msg("'%s': accepted=%d %s", s, acc, why);
	}
	for (size_t i = 0; i < sizeof(handed_to_jansson) / sizeof(handed_to_jansson[0]); i++) {
		const char *s = handed_to_jansson[i];

		if (!agrees(s, strlen(s), &acc, why, sizeof(why)) || acc)
			fail_msg("'%s': accepted=%d %s", s, acc, why);
	}
}

static void deep_nesting_is_left_to_jansson(void **state)
{
	char s[2 * (JSUBSET_DEPTH_MAX + 2)];
	size_t n = JSUBSET_DEPTH_MAX + 2;
	json_t *v = NULL;

	(void) state;
	memset(s, '[', n);
	memset(s + n, ']', n);
	assert_int_equal(jsubset_parse(s, 2 * n, &v), -EDOM);
	assert_null(v);
	n = JSUBSET_DEPTH_MAX;
	assert_int_equal(jsubset_parse(s + 2, 2 * n, &v), 0);
	json_decref(v);
}

/* Every one-byte deletion, replacement and insertion of a document. */
static void mutations_agree(void **state)
{
	static const char doc[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a-1\",\"namespace\":"
		"\"x\",\"labels\":{\"app\":\"web\",\"v\":\"1\"}},\"spec\":{\"hostNetwork\":false,"
		"\"containers\":[{\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"},"
		"{\"containerPort\":-53}]}],\"x\":[null,true,0,[],{}]}}";
	static const char extra[] = "\"\\{}[],: x0-1.e\x80tn";
	size_t len = sizeof(doc) - 1, n_acc = 0;
	char m[sizeof(doc) + 1], why[512] = "";
	bool acc;

	(void) state;
	for (size_t i = 0; i < len; i++) {
		memcpy(m, doc, i);
		memcpy(m + i, doc + i + 1, len - i - 1);
		if (!agrees(m, len - 1, &acc, why, sizeof(why)))
			fail_msg("byte %zu deleted: %s", i, why);
		n_acc += acc;
		for (size_t k = 0; k < sizeof(extra) - 1; k++) {
			memcpy(m, doc, len);
			m[i] = extra[k];
			if (!agrees(m, len, &acc, why, sizeof(why)))
				fail_msg("byte %zu replaced by 0x%02x: %s", i,
					 (unsigned char) extra[k], why);
			n_acc += acc;
			memcpy(m, doc, i);
			m[i] = extra[k];
			memcpy(m + i + 1, doc + i, len - i);
			if (!agrees(m, len + 1, &acc, why, sizeof(why)))
				fail_msg("0x%02x inserted at %zu: %s", (unsigned char) extra[k], i,
					 why);
			n_acc += acc;
		}
	}
	/* Many mutations (inside strings, whitespace) stay in the subset. */
	assert_true(n_acc > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixed_inputs),
		cmocka_unit_test(deep_nesting_is_left_to_jansson),
		cmocka_unit_test(mutations_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
