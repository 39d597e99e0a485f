/*
 * unit.flows_write: the flows writer formats each flow by hand; its bytes
 * must stay those of the generic JSON writer (lib/json_out.c) that wrote
 * flows before, for every shape of flow: resolved and unresolved peers,
 * strings that need escaping, IPv6, every seen_by, extreme numbers and
 * times, and enough flows to flush the buffer several times.
 */
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

#include "buf.h"
#include "flows_json.h"
#include "json_out.h"
#include "proto.h"
#include "testutil.h"

/* The writer as it was, key by key through json_out. */
static void ref_peer(struct json_out *w, const struct addr *a, const struct flow_peer *p)
{
	char ip[ADDR_STR_MAX];

	json_out_obj_begin(w);
	json_out_key(w, "ip");
	json_out_str(w, addr_format(a, ip, sizeof(ip)));
	json_out_key(w, "kind");
	json_out_str(w, flow_peer_kind_name(p->kind));
	if (p->ns) {
		json_out_key(w, "namespace");
		json_out_str(w, p->ns);
	}
	if (p->name) {
		json_out_key(w, "name");
		json_out_str(w, p->name);
	}
	if (p->workload_kind && p->workload_name) {
		json_out_key(w, "workload");
		json_out_obj_begin(w);
		json_out_key(w, "kind");
		json_out_str(w, p->workload_kind);
		json_out_key(w, "name");
		json_out_str(w, p->workload_name);
		json_out_obj_end(w);
	}
	if (p->labels.n) {
		json_out_key(w, "labels");
		json_out_obj_begin(w);
		for (size_t i = 0; i < p->labels.n; i++) {
			json_out_key(w, p->labels.v[i].key);
			json_out_str(w, p->labels.v[i].value);
		}
		json_out_obj_end(w);
	}
	json_out_obj_end(w);
}

static void ref_flow(struct json_out *j, const struct flow_record *f)
{
	json_out_newline(j);
	json_out_obj_begin(j);
	json_out_key(j, "src");
	ref_peer(j, &f->key.src, &f->src_peer);
	json_out_key(j, "dst");
	ref_peer(j, &f->key.dst, &f->dst_peer);
	json_out_key(j, "protocol");
	json_out_str(j, proto_name(f->key.proto));
	json_out_key(j, "port");
	json_out_uint(j, f->key.port);
	json_out_key(j, "packets");
	json_out_uint(j, f->packets);
	json_out_key(j, "bytes");
	json_out_uint(j, f->bytes);
	json_out_key(j, "connections");
	json_out_uint(j, f->connections);
	json_out_key(j, "first_seen");
	json_out_time(j, f->first_seen);
	json_out_key(j, "last_seen");
	json_out_time(j, f->last_seen);
	json_out_key(j, "seen_by");
	json_out_arr_begin(j);
	if (f->seen_by & FLOW_SEEN_PCAP)
		json_out_str(j, "pcap");
	if (f->seen_by & FLOW_SEEN_CONNTRACK)
		json_out_str(j, "conntrack");
	json_out_arr_end(j);
	json_out_obj_end(j);
}

static void ref_doc(struct buf *b, const struct flows_header *h, const struct flow_record *f,
		    size_t n)
{
	struct json_out w;

	json_out_init(&w, b);
	json_out_obj_begin(&w);
	json_out_key(&w, "apiVersion");
	json_out_str(&w, FLOWS_JSON_API_VERSION);
	json_out_key(&w, "kind");
	json_out_str(&w, FLOWS_JSON_KIND);
	json_out_key(&w, "version");
	json_out_int(&w, FLOWS_JSON_VERSION);
	if (h->node) {
		json_out_key(&w, "node");
		json_out_str(&w, h->node);
	}
	json_out_key(&w, "generated");
	json_out_time(&w, h->generated);
	json_out_key(&w, "stats");
	json_out_obj_begin(&w);
	json_out_key(&w, "packets");
	json_out_uint(&w, h->packets);
	json_out_key(&w, "evicted");
	json_out_uint(&w, h->evicted);
	json_out_key(&w, "overruns");
	json_out_uint(&w, h->overruns);
	json_out_obj_end(&w);
	json_out_key(&w, "flows");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		ref_flow(&w, &f[i]);
	json_out_newline(&w);
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	assert_int_equal(json_out_error(&w), 0);
	assert_int_equal(buf_append(b, "\n", 1), 0);
}

static void same_as_reference(const struct flows_header *h, const struct flow_record *f, size_t n)
{
	char path[] = "/tmp/bh-test-flows-write-XXXXXX";
	struct bh_err err = { 0 };
	struct flows_writer *w;
	struct buf ref;
	size_t len = 0;
	char *got;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(flows_writer_open(path, h, &w, &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(flows_writer_add(w, &f[i]), 0);
	assert_int_equal(flows_writer_commit(w, &err), 0);
	got = test_read_file(path, &len);
	assert_non_null(got);
	buf_init(&ref, SIZE_MAX);
	ref_doc(&ref, h, f, n);
	if (len != ref.len || memcmp(got, ref.data, len) != 0) {
		size_t i = 0;

		while (i < len && i < ref.len && got[i] == ref.data[i])
			i++;
		fail_msg("differs at byte %zu: got '%.60s', want '%.60s'", i, got + i,
			 ref.data + i);
	}
	buf_done(&ref);
	free(got);
	unlink(path);
}

static struct flow_peer pod(const char *ns, const char *name, const char *wk, const char *wn,
			    const char *labels)
{
	struct flow_peer p = { .kind = FLOW_PEER_POD };

	p.ns = ns ? strdup(ns) : NULL;
	p.name = name ? strdup(name) : NULL;
	p.workload_kind = wk ? strdup(wk) : NULL;
	p.workload_name = wn ? strdup(wn) : NULL;
	if (labels)
		labels_lit(&p.labels, labels);
	return p;
}

static void every_shape(void **state)
{
	const struct flows_header hs[] = {
		{ .node = "node-1", .generated = 1700000000, .packets = 5, .evicted = 1 },
		{ .node = NULL, .generated = 0, .overruns = UINT64_MAX },
		{ .node = "n\"\\\x01\xc3\xa9\xff", .generated = -1 },
	};
	struct flow_record f[12] = { 0 };
	size_t n = 0;

	(void) state;
	f[n].key = (struct flow_key){ .src = addr_lit("10.0.0.1"),
				      .dst = addr_lit("10.0.0.2"),
				      .proto = IPPROTO_TCP,
				      .port = 80 };
	f[n].packets = 1, f[n].bytes = 60, f[n].connections = 1;
	f[n].first_seen = f[n].last_seen = 1700000000;
	f[n++].seen_by = FLOW_SEEN_PCAP;

	f[n].key = (struct flow_key){ .src = addr_lit("fd00::1"),
				      .dst = addr_lit("2001:db8::ffff:1"),
				      .proto = IPPROTO_UDP,
				      .port = 65535 };
	f[n].packets = UINT64_MAX, f[n].bytes = UINT64_MAX, f[n].connections = 0;
	f[n].first_seen = -62135596800 - 5, f[n].last_seen = INT64_MAX;
	f[n].src_peer = pod("shop", "cart-7d9c5b8f6d-x", "Deployment", "cart",
			    "app=cart,pod-template-hash=7d9c5b8f6d");
	f[n].dst_peer = (struct flow_peer){ .kind = FLOW_PEER_NODE, .name = strdup("node-2") };
	f[n++].seen_by = FLOW_SEEN_PCAP | FLOW_SEEN_CONNTRACK;

	f[n].key = (struct flow_key){ .src = addr_lit("255.255.255.255"),
				      .dst = addr_lit("0.0.0.0"),
				      .proto = IPPROTO_SCTP,
				      .port = 0 };
	f[n].first_seen = 0, f[n].last_seen = 4102444800;
	f[n].src_peer = pod("we\"ird\\ns", "tab\there\nnl\x01", "Kind\xff", "caf\xc3\xa9", NULL);
	f[n].src_peer.labels.n = 0;
	labels_lit(&f[n].src_peer.labels, "k\"ey=v\\al,\xe2\x82\xac=\x7f");
	f[n].dst_peer = (struct flow_peer){ .kind = FLOW_PEER_EXTERNAL };
	f[n++].seen_by = FLOW_SEEN_CONNTRACK;

	/* A workload kind without a name is not written; no seen_by. */
	f[n].key = (struct flow_key){ .src = addr_lit("10.1.2.3"),
				      .dst = addr_lit("::"),
				      .proto = IPPROTO_TCP,
				      .port = 443 };
	f[n].src_peer = pod("ns", NULL, "Job", NULL, "a=");
	f[n].dst_peer = (struct flow_peer){ .kind = FLOW_PEER_UNKNOWN };
	f[n++].seen_by = 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(hs); i++) {
		same_as_reference(&hs[i], f, 0);
		same_as_reference(&hs[i], f, 1);
		same_as_reference(&hs[i], f, n);
	}
	for (size_t i = 0; i < n; i++) {
		flow_peer_done(&f[i].src_peer);
		flow_peer_done(&f[i].dst_peer);
	}
}

/* Many flows (several flushes), times changing now and then. */
static void many_flows(void **state)
{
	const struct flows_header h = { .node = "node-1", .generated = 1700000000 };
	size_t n = 30000;
	struct flow_record *f = calloc(n, sizeof(*f));

	(void) state;
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		uint8_t v4[4] = { 100, (uint8_t) (64 + i % 64), (uint8_t) (i >> 8), (uint8_t) i };

		addr_from_v4(&f[i].key.src, v4);
		f[i].key.dst = addr_lit("10.1.0.3");
		f[i].key.proto = IPPROTO_TCP;
		f[i].key.port = i % 2 ? 80 : 443;
		f[i].packets = i, f[i].bytes = i * 40, f[i].connections = i % 3;
		f[i].first_seen = 1700000000 + (int64_t) (i / 1000);
		f[i].last_seen = f[i].first_seen + (int64_t) (i % 7);
		f[i].seen_by = FLOW_SEEN_PCAP;
		if (i % 100 == 0)
			f[i].dst_peer =
				pod("web", "ingress-0", "StatefulSet", "ingress", "app=ingress");
	}
	same_as_reference(&h, f, n);
	for (size_t i = 0; i < n; i++) {
		flow_peer_done(&f[i].src_peer);
		flow_peer_done(&f[i].dst_peer);
	}
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_shape),
		cmocka_unit_test(many_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
