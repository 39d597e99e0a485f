/*
 * --proposal FILE and --proposal-mode preview|enforce of apply and check:
 * a NetworkPolicy list (what `bulkhead propose` writes) added to the
 * cluster as proposal policies (include/netpol.h, "origin"), so that the
 * ruleset and the engine treat them as the agent treats a namespace's
 * proposal in its stage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "snapshot.h"

int cli_proposal_merge(struct cluster *c, const char *cmd, const char *path, const char *mode,
		       struct bh_err *reterr)
{
	enum netpol_origin origin = NETPOL_ORIGIN_PREVIEW;
	const struct snapshot_opts o = { .warn = true };
	struct cluster *p = NULL;
	int r;

	if (mode && strcmp(mode, "enforce") == 0)
		origin = NETPOL_ORIGIN_ENFORCE;
	else if (mode && strcmp(mode, "preview") != 0)
		return cli_usage_err(reterr, cmd,
				     "--proposal-mode: expected preview or enforce, got '%s'",
				     mode);
	if (!path)
		return mode ? cli_usage_err(reterr, cmd, "--proposal-mode needs --proposal FILE") :
			      0;
	r = snapshot_load(&path, 1, &o, &p, NULL, reterr);
	if (r < 0)
		return r;
	if (p->n_pods || p->n_nodes) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			       "%s: --proposal: a proposal holds NetworkPolicies only, found %s",
			       path, p->n_pods ? "a Pod" : "a Node");
		goto out;
	}
	while (p->n_policies) {
		struct netpol pol;
		char *name;

		r = cluster_policy_take(p, p->policies[0].ns, p->policies[0].name, &pol);
		if (r < 0)
			goto out;
		if (asprintf(&name, "%s%s", NETPOL_PROPOSAL_PREFIX, pol.name) < 0) {
			netpol_done(&pol);
			r = bh_err_oom(reterr);
			goto out;
		}
		if (cluster_policy_find(c, pol.ns, name)) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EEXIST,
				       "%s: --proposal: NetworkPolicy '%s/%s' given twice", path,
				       pol.ns, pol.name);
			free(name);
			netpol_done(&pol);
			goto out;
		}
		free(pol.name);
		pol.name = name;
		pol.origin = origin;
		r = cluster_policy_put(c, &pol); /* takes it */
		if (r < 0) {
			r = bh_err_oom(reterr);
			goto out;
		}
	}
	r = 0;
out:
	cluster_free(p);
	return r;
}
