/*
 * proposal on the cluster (docs/cluster.md, "Commands from a
 * workstation"): the plain NetworkPolicies of the Proposal objects as one
 * v1 List (proposal_obj_to_list()), JSON or YAML.
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
#include "proposal_obj.h"

int cli_cluster_proposal(const struct cli_target *t, const char *ns, bool json,
			 struct bh_err *reterr)
{
	json_t *props = NULL, *mine = NULL, *list = NULL, *p;
	struct buf text, out;
	const struct buf *w;
	struct cli_kube k;
	json_error_t jerr;
	size_t i;
	int r;

	buf_init(&text, SIZE_MAX);
	buf_init(&out, SIZE_MAX);
	r = cli_kube_open(&k, "proposal", t, reterr);
	if (r == 0)
		r = cli_kube_list(&k, CLUSTER_PROPOSAL_RESOURCE, &props, reterr);
	if (r < 0)
		goto out;
	mine = json_array();
	if (!mine) {
		r = bh_err_oom(reterr);
		goto out;
	}
	json_array_foreach(props, i, p) {
		if ((!ns ||
		     strcmp(cli_json_str(json_object_get(p, "metadata"), "namespace"), ns) == 0) &&
		    json_array_append(mine, p) < 0) {
			r = bh_err_oom(reterr);
			goto out;
		}
	}
	if (!json_array_size(mine)) {
		r = bh_err_set(reterr, ns ? BH_ERR_INPUT : BH_ERR_SYSTEM, -ENOENT,
			       "proposal: no Proposal objects%s%s%s in the cluster (%s) yet",
			       ns ? " in namespace '" : "", ns ? ns : "", ns ? "'" : "",
			       kube_client_server(k.client));
		goto out;
	}
	r = proposal_obj_to_list(mine, &text, reterr);
	if (r < 0) {
		r = bh_err_prefix(reterr, "proposal: ");
		goto out;
	}
	if (!json) {
		list = json_loadb(text.data, text.len, 0, &jerr);
		r = list ? netpol_emit_yaml(list, &out) : -ENOMEM;
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "proposal: writing YAML: %s",
				       strerror(-r));
			goto out;
		}
	}
	w = json ? &text : &out;
	if ((w->len && fwrite(w->data, 1, w->len, stdout) != w->len) || fflush(stdout) != 0)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "proposal: writing stdout: %s",
			       strerror(errno));
out:
	json_decref(list);
	json_decref(mine);
	json_decref(props);
	buf_done(&text);
	buf_done(&out);
	cli_kube_done(&k);
	return r;
}
