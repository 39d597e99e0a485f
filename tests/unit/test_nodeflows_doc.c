/*
 * nodeflows_read() and nodeflows_doc(): a NodeFlows object read as the
 * flows.json document its spec is, as the Lease holder and `bulkhead
 * export` on the cluster both read it (include/nodeflows_doc.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodeflows_doc.h"

#define FLOW                                                                             \
	"{\"src\": {\"ip\": \"10.0.1.5\", \"kind\": \"pod\", \"namespace\": \"shop\", "  \
	"\"name\": \"a\"}, \"dst\": {\"ip\": \"203.0.113.9\", \"kind\": \"external\"}, " \
	"\"protocol\": \"TCP\", \"port\": 443, \"packets\": 3, \"bytes\": 900, "         \
	"\"connections\": 1, \"first_seen\": \"2026-12-04T09:40:00Z\", "                 \
	"\"last_seen\": \"2026-12-04T09:40:00Z\", \"seen_by\": [\"conntrack\"]}"

static json_t *object(const char *spec)
{
	char text[2048];
	json_t *o;

	(void) snprintf(text, sizeof(text),
			"{\"apiVersion\": \"bulkhead.io/v1alpha1\", \"kind\": \"NodeFlows\", "
			"\"metadata\": {\"name\": \"node-1\"}, \"spec\": %s}",
			spec);
	o = json_loads(text, 0, NULL);
	assert_non_null(o);
	return o;
}

static void reads_spec(void **state)
{
	struct bh_err err = { 0 };
	struct flow_set s;
	json_t *o = object("{\"node\": \"node-1\", \"generated\": \"2026-12-04T10:00:00Z\", "
			   "\"stats\": {\"packets\": 123}, \"flows\": [" FLOW "]}");

	(void) state;
	flow_set_init(&s);
	assert_int_equal(nodeflows_read(o, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.node, "node-1");
	assert_int_equal(s.stat_packets, 123);
	assert_int_equal(s.flows[0].key.port, 443);
	/* Read twice: one record, counts summed. */
	assert_int_equal(nodeflows_read(o, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.flows[0].connections, 2);
	flow_set_done(&s);
	json_decref(o);
}

/* The spec is the document without the apiVersion, kind and version it
 * implies: members the reader does not take are left out, a spec without
 * flows has none, node falls back to metadata.name, no spec is nothing. */
static void implied_members(void **state)
{
	struct bh_err err = { 0 };
	struct flow_set s;
	json_t *o = object("{\"version\": 2, \"kind\": \"x\", \"generated\": "
			   "\"2026-12-04T10:00:00Z\"}");
	char *doc;

	(void) state;
	flow_set_init(&s);
	assert_int_equal(nodeflows_read(o, &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_string_equal(s.node, "node-1");
	assert_int_equal(nodeflows_doc(o, &doc), 0);
	assert_non_null(strstr(doc, "\"version\":1"));
	assert_non_null(strstr(doc, "\"flows\":[]"));
	assert_null(strstr(doc, "\"x\""));
	free(doc);
	json_decref(o);
	o = object("\"not an object\"");
	assert_int_equal(nodeflows_doc(o, &doc), 0);
	assert_null(doc);
	assert_int_equal(nodeflows_read(o, &s, &err), 0);
	assert_int_equal(s.n, 0);
	flow_set_done(&s);
	json_decref(o);
}

/* An error names the object and the field at fault; the set is as it was. */
static void names_the_fault(void **state)
{
	struct bh_err err = { 0 };
	struct flow_set s;
	json_t *o = object("{\"node\": \"node-1\", \"flows\": [" FLOW ", {\"port\": \"http\"}]}");

	(void) state;
	flow_set_init(&s);
	assert_int_equal(nodeflows_read(o, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NodeFlows 'node-1': flows 'spec': flows[1]"));
	assert_int_equal(s.n, 0);
	flow_set_done(&s);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_spec),
		cmocka_unit_test(implied_members),
		cmocka_unit_test(names_the_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
