/*
 * tests/fuzz/fuzz_propose.c: propose on arbitrary input, in stages: the
 * input is a snapshot, a NUL byte, then a flows.json.  When both parse,
 * the proposal is built, self-checked by the engine and emitted as JSON and
 * YAML.  Property: the self-check allows every learned flow (a proposal
 * that denies what it learned is a bug, and traps), the emitted JSON
 * parses back, and the text written without a jansson tree is the tree's
 * text byte for byte (JSON and YAML).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flows_json.h"
#include "netpol_emit.h"
#include "propose.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct cluster *c = NULL;
	struct flow_set fs;
	struct proposal p = { 0 };
	struct propose_opts o;
	struct bh_err err = { 0 };
	json_t *doc = NULL, *back;
	struct buf b, s;
	size_t n;

	if (!nul)
		return 0;
	n = (size_t) (nul - data);
	flow_set_init(&fs);
	buf_init(&b, 64u << 20);
	if (snapshot_load_buf((const char *) data, n, "fuzz", &c, NULL, &err) < 0 ||
	    flows_json_load_buf(&fs, (const char *) nul + 1, size - n - 1, "fuzz", &err) < 0)
		goto out;
	propose_opts_init(&o);
	o.aggregate_count = size & 1 ? 2 : 0;
	if (propose_build(&fs, c, &o, &p, &err) < 0 || propose_self_check(&p, &fs, c, &err) < 0)
		goto out;
	/* every flow allowed, but those an existing policy denies */
	if (p.n_allowed + p.n_existing_denied != p.n_checked)
		__builtin_trap();
	doc = netpol_emit_list(&p);
	if (!doc)
		goto out;
	if (netpol_emit_json_text(doc, &b) == 0) {
		back = json_loadb(b.data, b.len, 0, NULL);
		if (!back || !json_equal(back, doc))
			__builtin_trap();
		json_decref(back);
		/* Written without the tree: the same bytes. */
		buf_init(&s, 64u << 20);
		if (netpol_emit_list_json(&p, &s) != 0 || s.len != b.len ||
		    memcmp(s.data, b.data, b.len) != 0)
			__builtin_trap();
		buf_done(&s);
	}
	buf_reset(&b);
	if (netpol_emit_yaml(doc, &b) < 0)
		goto out;
	buf_init(&s, 64u << 20);
	if (netpol_emit_list_yaml(&p, &s) != 0 || s.len != b.len ||
	    memcmp(s.data, b.data, b.len) != 0)
		__builtin_trap();
	buf_done(&s);
out:
	json_decref(doc);
	buf_done(&b);
	proposal_done(&p);
	flow_set_done(&fs);
	cluster_free(c);
	return 0;
}
