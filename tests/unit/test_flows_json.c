#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "flows_json.h"
#include "proto.h"
#include "testutil.h"

#define HEAD "{\"apiVersion\":\"bulkhead.io/v1\",\"kind\":\"FlowList\",\"version\":1,"

/* One flow from 10.0.1.5 (pod shop/frontend-a) to 10.0.2.7:8080/TCP. */
#define FLOW_A                                                                                  \
	"{\"src\":{\"ip\":\"10.0.1.5\",\"kind\":\"pod\",\"namespace\":\"shop\","                \
	"\"name\":\"frontend-a\",\"workload\":{\"kind\":\"Deployment\",\"name\":\"frontend\"}," \
	"\"labels\":{\"app\":\"frontend\",\"pod-template-hash\":\"7d9c\"}},"                    \
	"\"dst\":{\"ip\":\"10.0.2.7\",\"kind\":\"pod\",\"namespace\":\"shop\","                 \
	"\"name\":\"api-x\"},"                                                                  \
	"\"protocol\":\"TCP\",\"port\":8080,\"packets\":10,\"bytes\":1000,"                     \
	"\"connections\":2,\"first_seen\":\"2026-11-22T06:30:00Z\","                            \
	"\"last_seen\":\"2026-11-22T06:33:00Z\",\"seen_by\":[\"pcap\"]}"

/* The same two peers as FLOW_A, to port 9090. */
#define FLOW_A_OTHER_PORT                                                                       \
	"{\"src\":{\"ip\":\"10.0.1.5\",\"kind\":\"pod\",\"namespace\":\"shop\","                \
	"\"name\":\"frontend-a\",\"workload\":{\"kind\":\"Deployment\",\"name\":\"frontend\"}," \
	"\"labels\":{\"app\":\"frontend\",\"pod-template-hash\":\"7d9c\"}},"                    \
	"\"dst\":{\"ip\":\"10.0.2.7\",\"kind\":\"pod\",\"namespace\":\"shop\","                 \
	"\"name\":\"api-x\"},"                                                                  \
	"\"protocol\":\"TCP\",\"port\":9090,\"first_seen\":\"2026-11-22T06:30:00Z\","           \
	"\"last_seen\":\"2026-11-22T06:33:00Z\"}"

static int load(struct flow_set *s, const char *json, struct bh_err *err)
{
	return flows_json_load_buf(s, json, strlen(json), "f.json", err);
}

static void reads_documented_example(void **state)
{
	struct flow_set s;
	struct bh_err err = { 0 };
	size_t len;
	char *doc;
	char *json;

	(void) state;
	/* The example of docs/flows-format.md must parse as documented. */
	doc = test_read_file(BH_SOURCE_DIR "/docs/flows-format.md", &len);
	json = strstr(doc, "```json\n");
	assert_non_null(json);
	json += 8;
	*strstr(json, "```") = '\0';
	flow_set_init(&s);
	assert_int_equal(load(&s, json, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.node, "node-1");
	assert_int_equal(s.stat_packets, 12345);
	assert_int_equal(s.flows[0].key.proto, IPPROTO_TCP);
	assert_int_equal(s.flows[0].key.port, 8080);
	assert_int_equal(s.flows[0].connections, 4);
	assert_int_equal(s.flows[0].first_seen, 1795329000); /* 2026-11-22T06:30:00Z */
	assert_int_equal(s.flows[0].seen_by, FLOW_SEEN_PCAP | FLOW_SEEN_CONNTRACK);
	assert_int_equal(s.flows[0].src_peer.kind, FLOW_PEER_POD);
	assert_string_equal(s.flows[0].src_peer.workload_kind, "Deployment");
	assert_string_equal(labels_get(&s.flows[0].dst_peer.labels, "app"), "api");
	flow_set_done(&s);
	free(doc);
}

static void add_flow(struct flow_set *s, const char *src, const char *dst, uint8_t proto,
		     uint16_t port, enum flow_peer_kind kind)
{
	struct flow_record *f;

	s->flows = realloc(s->flows, (s->n + 1) * sizeof(*f));
	assert_non_null(s->flows);
	f = &s->flows[s->n++];
	*f = (struct flow_record){
		.key = { .src = addr_lit(src), .dst = addr_lit(dst), .proto = proto, .port = port },
		.packets = 3,
		.bytes = 300,
		.connections = 1,
		.first_seen = 1795156200,
		.last_seen = 1795156260,
		.seen_by = FLOW_SEEN_CONNTRACK,
	};
	f->src_peer.kind = kind;
	f->dst_peer.kind = FLOW_PEER_EXTERNAL;
	if (kind == FLOW_PEER_POD) {
		f->src_peer.ns = strdup("ns-1");
		f->src_peer.name = strdup("pod-1");
		f->src_peer.workload_kind = strdup("StatefulSet");
		f->src_peer.workload_name = strdup("db");
		labels_lit(&f->src_peer.labels, "app=db,tier=data");
	}
}

static void round_trip(void **state)
{
	char path[] = "/tmp/bh-flows-XXXXXX";
	struct flow_set out, in;
	struct bh_err err = { 0 };
	char *a, *b;
	size_t la, lb;
	int fd;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	flow_set_init(&out);
	out.node = strdup("node-7");
	out.generated = 1795156300;
	out.stat_packets = 99;
	out.stat_evicted = 1;
	/* Unsorted on purpose: the writer sorts. */
	add_flow(&out, "fd00::2", "2001:db8::1", IPPROTO_UDP, 53, FLOW_PEER_POD);
	add_flow(&out, "10.0.0.9", "192.0.2.1", IPPROTO_SCTP, 3868, FLOW_PEER_NODE);
	add_flow(&out, "10.0.0.1", "192.0.2.1", IPPROTO_TCP, 443, FLOW_PEER_UNKNOWN);
	assert_int_equal(flows_json_write(&out, path, &err), 0);

	flow_set_init(&in);
	assert_int_equal(flows_json_load(&in, path, &err), 0);
	assert_int_equal(in.n, 3);
	assert_string_equal(in.node, "node-7");
	assert_int_equal(in.generated, 1795156300);
	assert_int_equal(in.stat_packets, 99);
	assert_int_equal(in.stat_evicted, 1);
	/* sorted: IPv4 before IPv6, then by source */
	assert_true(addr_eq(&in.flows[0].key.src, &out.flows[2].key.src));
	assert_int_equal(in.flows[0].key.proto, IPPROTO_TCP);
	assert_int_equal(in.flows[0].src_peer.kind, FLOW_PEER_UNKNOWN);
	assert_int_equal(in.flows[1].key.proto, IPPROTO_SCTP);
	assert_int_equal(in.flows[1].src_peer.kind, FLOW_PEER_NODE);
	assert_int_equal(in.flows[2].key.port, 53);
	assert_int_equal(in.flows[2].key.src.family, AF_INET6);
	assert_string_equal(in.flows[2].src_peer.workload_name, "db");
	assert_string_equal(labels_get(&in.flows[2].src_peer.labels, "tier"), "data");
	assert_int_equal(in.flows[2].last_seen, 1795156260);
	assert_int_equal(in.flows[2].seen_by, FLOW_SEEN_CONNTRACK);
	assert_int_equal(memcmp(&in.flows[2].key, &out.flows[0].key, sizeof(struct flow_key)), 0);

	/* Writing what was read gives the same bytes: the format is stable. */
	a = test_read_file(path, &la);
	assert_int_equal(flows_json_write(&in, path, &err), 0);
	b = test_read_file(path, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	flow_set_done(&in);
	flow_set_done(&out);
	unlink(path);
}

static void expect_error(const char *json, const char *needle)
{
	struct flow_set s;
	struct bh_err err = { 0 };

	flow_set_init(&s);
	assert_int_equal(load(&s, HEAD "\"flows\":[" FLOW_A "]}", &err), 0);
	assert_int_equal(s.n, 1);
	assert_true(load(&s, json, &err) < 0);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' does not contain '%s'", err.msg, needle);
	assert_non_null(strstr(err.msg, "'f.json'"));
	/* the set is unchanged */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.flows[0].packets, 10);
	flow_set_done(&s);
}

static void malformed_names_file_index_field(void **state)
{
	(void) state;
	expect_error("{\"version\":1, \"flows\": [", "line 1 column");
	expect_error(HEAD "\"flows\":[" FLOW_A ",{\"src\":{\"ip\":\"10.0.0.300\"}}]}",
		     "flows[1].src.ip");
	expect_error(HEAD "\"flows\":[" FLOW_A ",{\"src\":{\"ip\":\"10.0.0.3\"},"
			  "\"dst\":{\"ip\":\"10.0.0.4\",\"kind\":\"pod\"}}]}",
		     "flows[1].dst.namespace");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\",\"kind\":\"martian\"}}]}",
		     "flows[0].src.kind");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"::1\"},"
			  "\"protocol\":\"TCP\",\"port\":1}]}",
		     "flows[0].dst.ip");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"ICMP\",\"port\":1}]}",
		     "flows[0].protocol");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"UDP\",\"port\":70000}]}",
		     "flows[0].port");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"UDP\",\"port\":7,\"packets\":-1}]}",
		     "flows[0].packets");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"UDP\",\"port\":7,\"first_seen\":\"yesterday\"}]}",
		     "flows[0].first_seen");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"UDP\",\"port\":7,\"first_seen\":\"2026-11-22T06:30:00Z\","
			  "\"last_seen\":\"2026-11-22T06:29:00Z\"}]}",
		     "flows[0].last_seen");
	expect_error(HEAD "\"flows\":[{\"src\":{\"ip\":\"10.0.0.3\"},\"dst\":{\"ip\":\"10.0.0.4\"},"
			  "\"protocol\":\"UDP\",\"port\":7,\"first_seen\":\"2026-11-22T06:30:00Z\","
			  "\"last_seen\":\"2026-11-22T06:31:00Z\",\"seen_by\":[\"ebpf\"]}]}",
		     "flows[0].seen_by");
	expect_error(HEAD "\"flows\":[" FLOW_A ",{\"src\":{\"ip\":\"10.0.0.3\",\"labels\":"
			  "{\"a\":1}}}]}",
		     "flows[1].src.labels");
	expect_error(HEAD "\"stats\":{\"packets\":\"x\"},\"flows\":[]}", "stats.packets");
	expect_error(HEAD "\"flows\":{}}", "field 'flows'");
	expect_error("{\"apiVersion\":\"bulkhead.io/v1\",\"kind\":\"PodList\",\"version\":1,"
		     "\"flows\":[]}",
		     "field 'kind'");
	expect_error("[]", "FlowList");
	/* the document is walked member by member: positions stay exact */
	expect_error("{\n \"version\": 1,\n \"flows\": [\n  {\"src\": }\n ]\n}",
		     "line 4 column 11");
	expect_error(HEAD "\"flows\":[],\n\"flows\":[]}", "line 2 column 9: duplicate object key");
	expect_error(HEAD "\"kind\":\"FlowList\",\"flows\":[]}", "duplicate object key");
	expect_error(HEAD "\"flows\":[]} x", "end of file expected");
	expect_error(HEAD "\"flows\":[] \"node\":\"n\"}", "',' or '}' expected");
	expect_error(HEAD "\"flows\":[" FLOW_A " " FLOW_A "]}", "',' or ']' expected");
	expect_error(HEAD "\"flows\":[" FLOW_A ",]}", "line 1 column");
	expect_error(HEAD "\"node\":\"n\"}", "field 'flows'");
}

static void version_check(void **state)
{
	struct flow_set s;
	struct bh_err err = { 0 };

	(void) state;
	flow_set_init(&s);
	assert_int_equal(load(&s, "{\"kind\":\"FlowList\",\"version\":2,\"flows\":[]}", &err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "version 2 is not supported (expected 1)"));
	assert_int_equal(load(&s, "{\"kind\":\"FlowList\",\"flows\":[]}", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "field 'version'"));
	assert_int_equal(load(&s, "{\"version\":\"1\",\"flows\":[]}", &err), -EINVAL);
	assert_int_equal(load(&s, "{\"version\":1,\"flows\":[]}", &err), 0);
	assert_int_equal(s.n, 0);
	flow_set_done(&s);
}

#define FLOW_A_LATER                                                            \
	"{\"src\":{\"ip\":\"10.0.1.5\",\"kind\":\"unknown\"},"                  \
	"\"dst\":{\"ip\":\"10.0.2.7\",\"kind\":\"pod\",\"namespace\":\"shop\"," \
	"\"name\":\"api-x\"},"                                                  \
	"\"protocol\":\"TCP\",\"port\":8080,\"packets\":5,\"bytes\":50,"        \
	"\"connections\":1,\"first_seen\":\"2026-11-22T06:20:00Z\","            \
	"\"last_seen\":\"2026-11-22T07:40:00+01:00\",\"seen_by\":[\"conntrack\"]}"

#define FLOW_B                                                          \
	"{\"src\":{\"ip\":\"10.0.1.5\"},\"dst\":{\"ip\":\"10.0.2.7\"}," \
	"\"protocol\":\"UDP\",\"port\":8080,"                           \
	"\"first_seen\":\"2026-11-22T06:20:00Z\",\"last_seen\":\"2026-11-22T06:20:00Z\"}"

static void check_merged(const struct flow_set *s)
{
	const struct flow_record *f = &s->flows[0];

	assert_int_equal(s->n, 2);
	assert_int_equal(f->key.proto, IPPROTO_TCP);
	assert_int_equal(f->packets, 15);
	assert_int_equal(f->bytes, 1050);
	assert_int_equal(f->connections, 3);
	assert_int_equal(f->first_seen, 1795328400); /* 06:20:00Z */
	assert_int_equal(f->last_seen, 1795329600); /* 07:40+01:00 beats 06:33Z */
	assert_int_equal(f->seen_by, FLOW_SEEN_PCAP | FLOW_SEEN_CONNTRACK);
	/* the resolved description wins over 'unknown' whatever the order */
	assert_int_equal(f->src_peer.kind, FLOW_PEER_POD);
	assert_string_equal(f->src_peer.name, "frontend-a");
	assert_int_equal(s->flows[1].key.proto, IPPROTO_UDP);
	assert_string_equal(s->node, "n1");
}

static void merge_equal_keys(void **state)
{
	struct flow_set s;
	struct bh_err err = { 0 };

	(void) state;
	/* within one file */
	flow_set_init(&s);
	assert_int_equal(
		load(&s, HEAD "\"node\":\"n1\",\"flows\":[" FLOW_A_LATER "," FLOW_B "," FLOW_A "]}",
		     &err),
		0);
	check_merged(&s);
	flow_set_done(&s);

	/* across files, in both orders */
	flow_set_init(&s);
	assert_int_equal(load(&s, HEAD "\"node\":\"n1\",\"flows\":[" FLOW_A "]}", &err), 0);
	assert_int_equal(
		load(&s, HEAD "\"node\":\"n1\",\"flows\":[" FLOW_B "," FLOW_A_LATER "]}", &err), 0);
	check_merged(&s);
	flow_set_done(&s);

	flow_set_init(&s);
	assert_int_equal(
		load(&s, HEAD "\"node\":\"n1\",\"flows\":[" FLOW_A_LATER "," FLOW_B "]}", &err), 0);
	assert_int_equal(load(&s, HEAD "\"node\":\"n1\",\"flows\":[" FLOW_A "]}", &err), 0);
	check_merged(&s);
	/* a file from another node clears the node name */
	assert_int_equal(load(&s, HEAD "\"node\":\"n2\",\"flows\":[]}", &err), 0);
	assert_null(s.node);
	flow_set_done(&s);
}

/* Flows with the same peer text share one decoded peer (the set owns it),
 * from every file read; a failing file leaves the set as it was. */
static void records_share_peers(void **state)
{
	struct flow_set s;
	struct bh_err err = { 0 };
	const struct flow_record *a, *b;
	size_t n_peers;

	(void) state;
	flow_set_init(&s);
	assert_int_equal(load(&s, HEAD "\"flows\":[" FLOW_A "," FLOW_A_OTHER_PORT "]}", &err), 0);
	assert_int_equal(load(&s, HEAD "\"flows\":[" FLOW_B "]}", &err), 0);
	assert_int_equal(s.n, 3);
	/* sorted by key: A (8080/TCP), A on 9090/TCP, then B (8080/UDP) */
	a = &s.flows[0];
	b = &s.flows[1];
	assert_int_equal(b->key.port, 9090);
	assert_string_equal(a->src_peer.name, "frontend-a");
	assert_string_equal(b->src_peer.name, "frontend-a");
	assert_string_equal(labels_get(&b->src_peer.labels, "app"), "frontend");
	assert_true(a->src_peer.borrowed);
	assert_ptr_equal(a->src_peer.name, b->src_peer.name);
	assert_ptr_equal(a->dst_peer.ns, b->dst_peer.ns);
	assert_true(s.n_peers >= 3);
	n_peers = s.n_peers;

	assert_int_not_equal(load(&s, HEAD "\"flows\":[" FLOW_A ",{\"src\":1}]}", &err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.n_peers, n_peers);
	assert_string_equal(s.flows[0].src_peer.name, "frontend-a");
	flow_set_done(&s);
	assert_int_equal(s.n_peers, 0);
}

static void missing_file_and_stdout_path(void **state)
{
	struct flow_set s;
	struct bh_err err = { 0 };

	(void) state;
	flow_set_init(&s);
	assert_int_equal(flows_json_load(&s, "/nonexistent/flows.json", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "'/nonexistent/flows.json'"));
	assert_int_equal(err.kind, BH_ERR_INPUT);
	/* a directory that does not exist: the write fails, nothing is left */
	assert_true(flows_json_write(&s, "/nonexistent/dir/flows.json", &err) < 0);
	assert_int_equal(access("/nonexistent/dir/flows.json", F_OK), -1);
	flow_set_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_documented_example),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(malformed_names_file_index_field),
		cmocka_unit_test(version_check),
		cmocka_unit_test(merge_equal_keys),
		cmocka_unit_test(records_share_peers),
		cmocka_unit_test(missing_file_and_stdout_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
