/*
 * fuzz.cluster_objects: the readers of this project's API objects
 * (docs/cluster.md), as agents and the CLI read them from the API server.
 * The first byte chooses the reader; the rest is its JSON:
 *   0  PolicyMode: cluster_mode_parse(), then cluster_stage_effective();
 *      an array is [PolicyMode NS, PolicyMode all, [Proposal...]];
 *   1  an array of Proposal objects: proposal_obj_to_list(), whose List
 *      proposal_doc_decode() must read back;
 *   2  a NodeFlows object: nodeflows_read(), twice into one set;
 *   3  a Lease: cluster_lease_read().
 * Broken invariants abort().  No network.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster_lease.h"
#include "cluster_stage.h"
#include "nodeflows_doc.h"
#include "proposal_doc.h"
#include "proposal_obj.h"
#include "rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz.cluster_objects: %s\n", what);
	abort();
}

/* A mode parsed must print and parse back to the same millisecond. */
static void mode_check(const json_t *obj, struct cluster_mode *m)
{
	struct bh_err err = { 0 };
	char t[RFC3339_STR_MAX];
	int64_t back;

	*m = (struct cluster_mode){ 0 };
	if (cluster_mode_parse(obj, m, &err) < 0) {
		if (m->present)
			fail("a PolicyMode that failed was written");
		return;
	}
	if (!m->present || (m->mode != STATE_DB_MODE_LEARN && m->mode != STATE_DB_MODE_PREVIEW &&
			    m->mode != STATE_DB_MODE_ENFORCE))
		fail("a PolicyMode parsed to no mode");
	if (cluster_time_format_ms(m->switched_at, t, sizeof(t))[0] &&
	    (cluster_time_parse_ms(t, &back) < 0 || back != m->switched_at))
		fail("switchedAt does not read back as written");
}

static void policy_mode(const json_t *root)
{
	struct cluster_stage_input in = { 0 };
	struct cluster_stage st;

	if (json_is_array(root)) {
		mode_check(json_array_get(root, 0), &in.ns);
		mode_check(json_array_get(root, 1), &in.all);
		proposal_obj_computed_at(json_array_get(root, 2), &in.has_proposals,
					 &in.computed_at);
	} else {
		mode_check(root, &in.ns);
		in.has_proposals = true;
	}
	cluster_stage_effective(&in, &st);
	if (st.mode != STATE_DB_MODE_LEARN && st.mode != STATE_DB_MODE_PREVIEW &&
	    st.mode != STATE_DB_MODE_ENFORCE)
		fail("an effective stage that is no stage");
	if (!in.has_proposals && st.mode != STATE_DB_MODE_LEARN)
		fail("a namespace without Proposal objects not in learn");
	if (!in.ns.present && !in.all.present && (st.switched_at != 0 || st.from_all))
		fail("a stage following a PolicyMode that does not exist");
}

static void proposals(const json_t *root)
{
	struct bh_err err = { 0 };
	struct proposal p = { 0 };
	struct buf b;
	bool has;
	int64_t newest;

	buf_init(&b, 64 << 20);
	proposal_obj_computed_at(root, &has, &newest);
	if (proposal_obj_to_list(root, &b, &err) == 0) {
		/* What every agent and `bulkhead proposal` read back. */
		if (proposal_doc_decode(b.data ? b.data : "", b.len, &p, &err) < 0) {
			fprintf(stderr, "%.*s\n%s\n", (int) b.len, b.data ? b.data : "", err.msg);
			fail("proposal_doc_decode() refused proposal_obj_to_list()'s List");
		}
		proposal_done(&p);
	} else if (b.len) {
		fail("a failed proposal_obj_to_list() left output");
	}
	buf_done(&b);
}

static void nodeflows(const json_t *root)
{
	struct bh_err err = { 0 };
	struct flow_set s;

	flow_set_init(&s);
	if (nodeflows_read(root, &s, &err) == 0 && nodeflows_read(root, &s, &err) < 0)
		fail("a NodeFlows object read once could not be read again");
	flow_set_done(&s);
}

static void lease(const json_t *root)
{
	struct cluster_lease_view v;

	cluster_lease_read(root, 1764842700000, &v);
	if (v.live && (!v.holder || !v.holder[0] || v.expires <= 1764842700000))
		fail("a live Lease without a holder or expired");
	if (v.transitions < 0 || v.transitions >= INT32_MAX)
		fail("leaseTransitions out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root;

	if (size < 1)
		return 0;
	root = json_loadb((const char *) data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (!root)
		return 0;
	switch (data[0] & 3) {
	case 0:
		policy_mode(root);
		break;
	case 1:
		proposals(root);
		break;
	case 2:
		nodeflows(root);
		break;
	default:
		lease(root);
		break;
	}
	json_decref(root);
	return 0;
}
