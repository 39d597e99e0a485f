/*
 * The snapshot reader on arbitrary bytes: parse, then index and look up
 * every pod address (the stages that run on a snapshot before compiling).
 * The fast reader must agree with the reference reader: the same error
 * message, or a cluster of the same objects.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void differ(const char *what, const struct bh_err *fast, const struct bh_err *ref)
{
	fprintf(stderr, "fast and reference snapshot readers differ (%s):\n  %s\n  %s\n", what,
		fast->msg, ref->msg);
	abort();
}

static void compare(const struct cluster *a, const struct cluster *b, const struct bh_err *ea,
		    const struct bh_err *eb)
{
	if (a->n_ns != b->n_ns || a->n_pods != b->n_pods || a->n_policies != b->n_policies ||
	    a->n_nodes != b->n_nodes)
		differ("object counts", ea, eb);
	for (size_t i = 0; i < a->n_ns; i++)
		if (strcmp(a->ns[i].name, b->ns[i].name) ||
		    !labels_equal(&a->ns[i].labels, &b->ns[i].labels))
			differ("namespace", ea, eb);
	for (size_t i = 0; i < a->n_pods; i++)
		if (strcmp(a->pods[i].ns, b->pods[i].ns) ||
		    strcmp(a->pods[i].name, b->pods[i].name) ||
		    !labels_equal(&a->pods[i].labels, &b->pods[i].labels) ||
		    a->pods[i].n_ips != b->pods[i].n_ips ||
		    a->pods[i].n_ports != b->pods[i].n_ports)
			differ("pod", ea, eb);
	for (size_t i = 0; i < a->n_policies; i++)
		if (strcmp(a->policies[i].ns, b->policies[i].ns) ||
		    strcmp(a->policies[i].name, b->policies[i].name))
			differ("policy", ea, eb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *c = NULL, *ref = NULL;
	struct bh_err err = { 0 }, ref_err = { 0 };
	int r, ref_r;

	r = snapshot_load_buf((const char *) data, size, "fuzz", &c, NULL, &err);
	ref_r = snapshot_load_buf_reference((const char *) data, size, "fuzz", &ref, NULL,
					    &ref_err);
	if (r != ref_r || (r < 0 && strcmp(err.msg, ref_err.msg) != 0))
		differ("result", &err, &ref_err);
	if (r == 0) {
		compare(c, ref, &err, &ref_err);
		for (size_t i = 0; i < c->n_pods; i++)
			for (size_t j = 0; j < c->pods[i].n_ips; j++)
				(void) cluster_pod_by_addr(c, &c->pods[i].ips[j]);
		for (size_t i = 0; i < c->n_policies; i++) {
			size_t first, end;

			cluster_policies_in_ns(c, c->policies[i].ns, &first, &end);
		}
	}
	cluster_free(c);
	cluster_free(ref);
	return 0;
}
