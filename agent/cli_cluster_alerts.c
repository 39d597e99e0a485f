/*
 * proposal and allow on the cluster (docs/cluster.md, "Commands from a
 * workstation"): the plain NetworkPolicies of the Proposal objects as one
 * v1 List, and the amendment of the Proposal an alert's flow needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"
#include "cluster_api.h"
#include "netpol_emit.h"

/* The NetworkPolicy @pol of Proposal @prop (a spec.policies item) as a
 * plain networking.k8s.io/v1 object.  COMPAT(proposer): to be replaced by
 * include/proposal_obj.h once it is on main. */
static json_t *policy_object(json_t *prop, json_t *pol)
{
	json_t *md = json_pack("{s:s, s:s}", "name", cli_json_str(pol, "name"), "namespace",
			       cli_json_str(json_object_get(prop, "metadata"), "namespace"));
	json_t *o;

	if (!md)
		return NULL;
	if (json_is_object(json_object_get(pol, "labels")))
		(void) json_object_set(md, "labels", json_object_get(pol, "labels"));
	if (json_is_object(json_object_get(pol, "annotations")))
		(void) json_object_set(md, "annotations", json_object_get(pol, "annotations"));
	o = json_pack("{s:s, s:s, s:o, s:O}", "apiVersion", "networking.k8s.io/v1", "kind",
		      "NetworkPolicy", "metadata", md, "spec",
		      json_is_object(json_object_get(pol, "spec")) ? json_object_get(pol, "spec") :
								    json_object());
	return o;
}

/* Proposal order: namespace, then name. */
static int proposal_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
	json_t *mx = json_object_get(x, "metadata"), *my = json_object_get(y, "metadata");
	int c = strcmp(cli_json_str(mx, "namespace"), cli_json_str(my, "namespace"));

	return c ? c : strcmp(cli_json_str(mx, "name"), cli_json_str(my, "name"));
}

int cli_cluster_proposal(const struct cli_target *t, const char *ns, bool json,
			 struct bh_err *reterr)
{
	json_t *props = NULL, *list = NULL, *items, **v = NULL;
	struct buf out;
	struct cli_kube k;
	size_t n = 0, i;
	json_t *p;
	int r;

	buf_init(&out, SIZE_MAX);
	r = cli_kube_open(&k, "proposal", t, reterr);
	if (r == 0)
		r = cli_kube_list(&k, CLUSTER_PROPOSAL_RESOURCE, &props, reterr);
	if (r < 0)
		goto out;
	v = calloc(json_array_size(props) + 1, sizeof(*v));
	items = json_array();
	list = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
	if (!v || !items || !list) {
		r = bh_err_oom(reterr);
		goto out;
	}
	json_array_foreach(props, i, p) {
		if (!ns || strcmp(cli_json_str(json_object_get(p, "metadata"), "namespace"), ns) == 0)
			v[n++] = p;
	}
	if (!n) {
		r = bh_err_set(reterr, ns ? BH_ERR_INPUT : BH_ERR_SYSTEM, -ENOENT,
			       "proposal: no Proposal objects%s%s%s in the cluster (%s) yet",
			       ns ? " in namespace '" : "", ns ? ns : "", ns ? "'" : "",
			       kube_client_server(k.client));
		goto out;
	}
	qsort(v, n, sizeof(*v), proposal_cmp);
	for (i = 0; i < n; i++) {
		size_t j;
		json_t *pol;

		json_array_foreach(json_object_get(json_object_get(v[i], "spec"), "policies"), j,
				   pol) {
			if (json_array_append_new(items, policy_object(v[i], pol)) < 0) {
				r = bh_err_oom(reterr);
				goto out;
			}
		}
	}
	r = json ? netpol_emit_json_text(list, &out) : netpol_emit_yaml(list, &out);
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "proposal: writing the List: %s",
			       strerror(-r));
		goto out;
	}
	if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) || fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "proposal: writing stdout: %s",
			       strerror(errno));
out:
	free(v);
	json_decref(list);
	json_decref(props);
	buf_done(&out);
	cli_kube_done(&k);
	return r;
}
