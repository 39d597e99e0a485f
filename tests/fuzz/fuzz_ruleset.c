/*
 * The compiler on arbitrary snapshots, in stages as nftables' --fuzzer:
 * parse, compile for the node of the first pod (and a node that has
 * none), render the nft text and the libnftnl objects, then a pod update
 * and a full update diffed against the compiled ruleset, then the refill
 * of the verdict maps (no pod left out after it), then a pod that takes
 * another's labels and then finishes, through the pod event path.  After each
 * update the ruleset must equal a fresh build of the same cluster
 * (ruleset_text_canonical(), include/ruleset.h): a difference aborts.
 * Never touches the kernel.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "labels.h"
#include "ruleset.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Updated ruleset @rs against a fresh build of @c: equal canonical texts.
 * A build or rendering that fails (a bound, no memory) proves nothing. */
static void expect_fresh(const struct ruleset *rs, struct cluster *c, const struct ruleset_opts *o)
{
	struct ruleset *fresh = NULL;
	struct bh_err err = { 0 };
	struct buf a, b;

	if (ruleset_build(c, o, &fresh, &err) < 0)
		return;
	buf_init(&a, (size_t) 1 << 26);
	buf_init(&b, (size_t) 1 << 26);
	if (ruleset_text_canonical(rs, &a) == 0 && ruleset_text_canonical(fresh, &b) == 0 &&
	    (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		abort();
	buf_done(&a);
	buf_done(&b);
	ruleset_free(fresh);
}

/*
 * The last pod takes the labels of the first (joining its selectors and
 * classes, leaving its own), through the pod event path, then finishes
 * (phase Succeeded: no identity any more); each step must equal a fresh
 * build.
 */
static int put_changed(struct cluster *c, const struct pod *p, const struct labels *labels,
		       const char *phase, struct pod *ret_old)
{
	struct pod np;
	int r = pod_copy(&np, p);

	if (r < 0)
		return r;
	if (labels) {
		struct labels nl;

		r = labels_copy(&nl, labels);
		if (r < 0) {
			pod_done(&np);
			return r;
		}
		labels_done(&np.labels);
		np.labels = nl;
	}
	if (phase) {
		free(np.phase);
		np.phase = strdup(phase);
		if (!np.phase) {
			pod_done(&np);
			return -ENOMEM;
		}
	}
	return cluster_pod_replace(c, &np, ret_old); /* takes @np */
}

static void relabel_last(struct ruleset *rs, struct cluster *c, const struct ruleset_opts *o)
{
	struct rs_delta *d = NULL;
	struct bh_err err = { 0 };
	struct pod old = { 0 };
	char *ns, *name;

	if (c->n_pods < 2)
		return;
	ns = strdup(c->pods[c->n_pods - 1].ns);
	name = strdup(c->pods[c->n_pods - 1].name);
	if (ns && name &&
	    put_changed(c, &c->pods[c->n_pods - 1], &c->pods[0].labels, NULL, &old) >= 0 &&
	    ruleset_update_pod(rs, c, &old, cluster_pod_find(c, ns, name), &d, &err) == 0) {
		d = rs_delta_free(d);
		expect_fresh(rs, c, o);
		pod_done(&old);
		if (put_changed(c, cluster_pod_find(c, ns, name), NULL, "Succeeded", &old) >= 0 &&
		    ruleset_update_pod(rs, c, &old, cluster_pod_find(c, ns, name), &d, &err) == 0) {
			d = rs_delta_free(d);
			expect_fresh(rs, c, o);
		}
	}
	pod_done(&old);
	free(ns);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	if (snapshot_load_buf((const char *) data, size, "fuzz", &c, NULL, &err) < 0)
		return 0;
	for (int mode = 0; mode < _BH_MODE_MAX; mode++) {
		struct ruleset_opts o = {
			.node = c->n_pods && c->pods[0].node ? c->pods[0].node : "fuzz-node",
			.mode = (enum bh_mode) mode,
		};
		struct ruleset *rs = NULL;
		struct rs_delta *d = NULL;
		struct buf b;

		if (ruleset_build(c, &o, &rs, &err) < 0)
			continue;
		buf_init(&b, (size_t) 1 << 26);
		/* -E2BIG past the bound is a fine outcome */
		if (ruleset_text(rs, &b) == 0)
			buf_reset(&b);
		if (ruleset_payload(rs, &b) == 0)
			buf_reset(&b);
		buf_done(&b);
		if (c->n_pods) {
			/* The pod leaves, then the whole cluster is re-put. */
			char *ns = strdup(c->pods[0].ns), *name = strdup(c->pods[0].name);
			struct cluster *copy = NULL;
			struct pod old = { 0 };

			if (ns && name && cluster_copy(c, &copy) == 0 &&
			    cluster_pod_take(copy, ns, name, &old) == 1 &&
			    ruleset_update_pod(rs, copy, &old, NULL, &d, &err) == 0) {
				d = rs_delta_free(d);
				expect_fresh(rs, copy, &o);
				if (ruleset_update_all(rs, c, &d, &err) == 0) {
					d = rs_delta_free(d);
					expect_fresh(rs, c, &o);
				}
				/* The refill leaves no pod out of the maps. */
				if (ruleset_update_maps(rs, c, &d, &err) == 0) {
					d = rs_delta_free(d);
					if (ruleset_maps_missing(rs))
						abort();
					expect_fresh(rs, c, &o);
				}
				relabel_last(rs, c, &o);
			}
			pod_done(&old);
			cluster_free(copy);
			free(ns);
			free(name);
		}
		ruleset_free(rs);
	}
	cluster_free(c);
	return 0;
}
