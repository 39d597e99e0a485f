/*
 * The snapshot reader on arbitrary bytes, JSON or YAML (chosen by the
 * first non-blank byte, as for files): parse, then index and look up every
 * pod address (the stages that run on a snapshot before compiling).  The
 * fast reader must agree with the reference reader: the same error
 * message, or a cluster of the same objects; so must both with
 * skip_unknown, which never refuses an object for its kind (-ENOMSG) and
 * reads whatever the strict reading reads.
 */
#include <errno.h>
#include <stdbool.h>
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

static int load(const uint8_t *data, size_t size, bool skip, bool reference, struct cluster **c,
		struct bh_err *err)
{
	const struct snapshot_opts o = { .skip_unknown = skip, .reference = reference };

	return snapshot_load_buf_opts((const char *) data, size, "fuzz", &o, c, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *c = NULL, *ref = NULL, *sk = NULL, *sk_ref = NULL;
	struct bh_err err = { 0 }, ref_err = { 0 }, sk_err = { 0 }, sk_ref_err = { 0 };
	int r, ref_r, sk_r, sk_ref_r;

	r = load(data, size, false, false, &c, &err);
	ref_r = load(data, size, false, true, &ref, &ref_err);
	if (r != ref_r || (r < 0 && strcmp(err.msg, ref_err.msg) != 0))
		differ("result", &err, &ref_err);
	sk_r = load(data, size, true, false, &sk, &sk_err);
	sk_ref_r = load(data, size, true, true, &sk_ref, &sk_ref_err);
	if (sk_r != sk_ref_r || (sk_r < 0 && strcmp(sk_err.msg, sk_ref_err.msg) != 0))
		differ("result with skip_unknown", &sk_err, &sk_ref_err);
	if (sk_r == -ENOMSG || (r == 0 && sk_r != 0))
		differ("skip_unknown refused", &sk_err, &err);
	if (sk_r == 0)
		compare(sk, sk_ref, &sk_err, &sk_ref_err);
	if (r == 0) {
		compare(c, ref, &err, &ref_err);
		compare(c, sk, &err, &sk_err);
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
	cluster_free(sk);
	cluster_free(sk_ref);
	return 0;
}
