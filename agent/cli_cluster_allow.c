/*
 * allow on the cluster (docs/cluster.md, "Commands from a workstation"):
 * each alert is found in the NodeFlows objects; the Proposal objects of
 * its deciding namespace are turned into the proposal they hold
 * (proposal_obj_to_list(), proposal_doc_decode()), amended as the node's
 * agent amends its own (propose_amend(): the deciding side, and the other
 * end's proposal where it isolates that end too), and each Proposal object
 * whose policies changed is written back with its read resourceVersion.
 *
 * All or none: every alert is checked and every amendment made before the
 * first write.  A write that finds the object changed since it was read
 * (a 409, or another resourceVersion) starts the whole amendment again
 * from a fresh read, at most ALLOW_ROUNDS times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"
#include "cluster_api.h"
#include "kube_write_wait.h"
#include "netpol_emit.h"
#include "proposal_doc.h"
#include "proposal_obj.h"
#include "propose.h"

#define ALLOW_ROUNDS 3
/* Namespaces one allow amends at most (two per alert). */
#define ALLOW_NS_MAX 64

/* One namespace's Proposal objects and the proposal they hold. */
struct allow_ns {
	const char *ns; /* borrowed from the Proposal objects */
	json_t *objs; /* its Proposal objects, as read */
	struct proposal p;
	bool decoded, changed;
};

struct allow_run {
	struct cli_kube *k;
	struct cluster *c;
	json_t *nodeflows, *props;
	json_t *lines; /* what each alert allows, printed once all is written */
	struct allow_ns v[ALLOW_NS_MAX];
	size_t n;
};

static void run_reset(struct allow_run *x)
{
	for (size_t i = 0; i < x->n; i++) {
		json_decref(x->v[i].objs);
		if (x->v[i].decoded)
			proposal_done(&x->v[i].p);
	}
	x->n = 0;
	json_decref(x->nodeflows);
	json_decref(x->props);
	x->nodeflows = x->props = NULL;
	json_array_clear(x->lines);
}

/* The alert @id and its node, from the NodeFlows; NULL when no node has
 * it. */
static json_t *alert_find(json_t *nodeflows, const char *id, const char **ret_node)
{
	size_t i, j;
	json_t *nf, *a;

	json_array_foreach(nodeflows, i, nf) {
		json_array_foreach(json_object_get(json_object_get(nf, "status"), "alerts"), j, a) {
			if (strcmp(cli_json_str(a, "id"), id) == 0) {
				*ret_node = cli_json_str(json_object_get(nf, "metadata"), "name");
				return a;
			}
		}
	}
	return NULL;
}

/* An end of an alert as propose_amend() takes it: the workload, or the
 * address. */
static const char *end_of(json_t *a, const char *key)
{
	json_t *p = json_object_get(a, key);
	const char *wl = cli_json_str(p, "workload");

	return wl[0] ? wl : cli_json_str(p, "cidr");
}

/* The namespace @ns's proposal, decoded once: NULL with 0 when it has no
 * Proposal object. */
static int ns_get(struct allow_run *x, const char *ns, struct allow_ns **ret, struct bh_err *reterr)
{
	struct allow_ns *t = NULL;
	struct buf text;
	size_t i;
	json_t *p;
	int r;

	*ret = NULL;
	for (i = 0; i < x->n; i++)
		if (strcmp(x->v[i].ns, ns) == 0) {
			*ret = &x->v[i];
			return 0;
		}
	if (x->n == ALLOW_NS_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -E2BIG,
				  "allow: the alerts amend more than %d namespaces", ALLOW_NS_MAX);
	t = &x->v[x->n];
	*t = (struct allow_ns){ .objs = json_array() };
	if (!t->objs)
		return bh_err_oom(reterr);
	json_array_foreach(x->props, i, p) {
		json_t *md = json_object_get(p, "metadata");

		if (strcmp(cli_json_str(md, "namespace"), ns) != 0)
			continue;
		t->ns = json_string_value(json_object_get(md, "namespace"));
		if (json_array_append(t->objs, p) < 0) {
			json_decref(t->objs);
			return bh_err_oom(reterr);
		}
	}
	if (!json_array_size(t->objs)) {
		json_decref(t->objs);
		return 0;
	}
	buf_init(&text, SIZE_MAX);
	r = proposal_obj_to_list(t->objs, &text, reterr);
	if (r == 0)
		r = proposal_doc_decode(text.data, text.len, &t->p, reterr);
	buf_done(&text);
	if (r < 0) {
		json_decref(t->objs);
		return bh_err_prefix(reterr, "allow: the Proposal objects of '%s': ", ns);
	}
	t->decoded = true;
	x->n++;
	*ret = t;
	return 0;
}

/* Amends the proposals for alert @a (found on @node). */
static int amend(struct allow_run *x, const char *id, json_t *a, struct bh_err *reterr)
{
	const char *pol = cli_json_str(a, "policy"), *slash = strchr(pol, '/');
	struct propose_amend_flow f = { 0 };
	struct allow_ns *t;
	char ns[256], other[256];
	bool changed = false;
	uint8_t proto;
	int r;

	if (!slash || (size_t) (slash - pol) >= sizeof(ns))
		return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
				  "allow: alert %s names no deciding policy", id);
	(void) snprintf(ns, sizeof(ns), "%.*s", (int) (slash - pol), pol);
	if (cli_parse_protocol(cli_json_str(a, "protocol"), &proto) < 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "allow: alert %s: protocol '%s'",
				  id, cli_json_str(a, "protocol"));
	f = (struct propose_amend_flow){
		.dir = strcmp(cli_json_str(a, "direction"), "egress") == 0 ? NETPOL_EGRESS :
									     NETPOL_INGRESS,
		.src = end_of(a, "src"),
		.dst = end_of(a, "dst"),
		.port = (uint16_t) json_integer_value(json_object_get(a, "port")),
		.proto = proto,
	};
	r = ns_get(x, ns, &t, reterr);
	if (r < 0)
		return r;
	if (!t)
		return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
				  "allow: alert %s was decided by '%s', and namespace '%s' has no "
				  "Proposal: Bulkhead does not edit the cluster's policies",
				  id, pol, ns);
	r = propose_amend(&t->p, x->c, &f, &changed, reterr);
	if (r < 0)
		return bh_err_prefix(reterr, "allow: alert %s: ", id);
	t->changed |= changed;
	/* The other end, where its own proposal isolates it too. */
	f.dir = f.dir == NETPOL_EGRESS ? NETPOL_INGRESS : NETPOL_EGRESS;
	{
		const char *end = f.dir == NETPOL_INGRESS ? f.dst : f.src;
		const char *s = strchr(end, '/');

		if (!s || !strchr(s + 1, '/') || (size_t) (s - end) >= sizeof(other))
			return 0;
		(void) snprintf(other, sizeof(other), "%.*s", (int) (s - end), end);
	}
	r = ns_get(x, other, &t, reterr);
	if (r < 0 || !t)
		return r;
	changed = false;
	r = propose_amend(&t->p, x->c, &f, &changed, reterr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bh_err_prefix(reterr, "allow: alert %s: ", id);
	t->changed |= changed;
	return 0;
}

/* The rules[] of a policy whose spec went from @old to @new: the rules
 * propose_amend() added (at the end of their direction) are justified by
 * the flows of @flows. */
static json_t *rules_amended(json_t *rules, json_t *old, json_t *new, json_t *flows)
{
	size_t oi = json_array_size(json_object_get(old, "ingress"));
	size_t ni = json_array_size(json_object_get(new, "ingress"));
	size_t ne = json_array_size(json_object_get(new, "egress"));
	size_t oe = json_array_size(json_object_get(old, "egress"));
	json_t *v = json_array();

	for (size_t i = 0; v && i < ni + ne; i++) {
		bool added = i < ni ? i >= oi : i - ni >= oe;
		size_t from = i < ni ? i : oi + (i - ni);
		json_t *r = added ? json_pack("{s:O}", "flows", flows) :
				    json_incref(json_array_get(rules, from));

		if (!r)
			r = json_pack("{s:[]}", "flows");
		if (json_array_append_new(v, r) < 0) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

struct obj_write {
	const char *rv; /* the version amended */
	json_t *policies; /* the new spec.policies */
};

static int obj_mutate_cb(void *ud, json_t *obj)
{
	const struct obj_write *w = ud;

	if (strcmp(cli_json_str(json_object_get(obj, "metadata"), "resourceVersion"), w->rv) != 0)
		return -ESTALE;
	return json_object_set(json_object_get(obj, "spec"), "policies", w->policies) < 0 ?
		       -ENOMEM :
		       0;
}

/* Writes each changed Proposal object of @t: -ESTALE when one changed
 * since it was read (start again). */
static int ns_write(struct allow_run *x, struct allow_ns *t, json_t *flows, size_t *ret_written,
		    struct bh_err *reterr)
{
	json_t *list = netpol_emit_list(&t->p), *items = json_object_get(list, "items"), *o;
	struct kube_ref ref;
	size_t i;
	int r = 0;

	if (!list)
		return bh_err_oom(reterr);
	cli_kube_ref(&ref, CLUSTER_PROPOSAL_RESOURCE, t->ns);
	json_array_foreach(t->objs, i, o) {
		json_t *pols =
			json_deep_copy(json_object_get(json_object_get(o, "spec"), "policies"));
		const char *name = cli_json_str(json_object_get(o, "metadata"), "name");
		bool changed = false;
		size_t j;
		json_t *pol;

		if (!pols) {
			r = bh_err_oom(reterr);
			break;
		}
		json_array_foreach(pols, j, pol) {
			json_t *it = cli_item_find(items, cli_json_str(pol, "name"));
			json_t *spec = json_object_get(it, "spec"), *rules;

			if (!it || json_equal(spec, json_object_get(pol, "spec")))
				continue;
			rules = rules_amended(json_object_get(pol, "rules"),
					      json_object_get(pol, "spec"), spec, flows);
			if (!rules || json_object_set(pol, "spec", spec) < 0 ||
			    json_object_set(pol, "annotations",
					    json_object_get(json_object_get(it, "metadata"),
							    "annotations")) < 0 ||
			    json_object_set_new(pol, "rules", rules) < 0) {
				r = bh_err_oom(reterr);
				break;
			}
			changed = true;
		}
		if (r == 0 && changed) {
			const struct obj_write w = {
				.rv = cli_json_str(json_object_get(o, "metadata"),
						   "resourceVersion"),
				.policies = pols,
			};

			r = kube_write_wait_update(x->k->client, &ref, name, false, obj_mutate_cb,
						   (void *) &w, NULL, reterr);
			if (r == -EBUSY || r == -ENOENT)
				r = -ESTALE;
			if (r == 0) {
				printf("Proposal %s/%s: amended\n", t->ns, name);
				(*ret_written)++;
			}
		}
		json_decref(pols);
		if (r < 0)
			break;
	}
	json_decref(list);
	return r;
}

/* One round: read, check and amend everything, then write. */
static int allow_round(struct allow_run *x, char *const *ids, size_t n, struct bh_err *reterr)
{
	json_t *flows = json_array();
	size_t written = 0;
	int r;

	r = cli_kube_list(x->k, CLUSTER_NODEFLOWS_RESOURCE, &x->nodeflows, reterr);
	if (r == 0)
		r = cli_kube_list(x->k, CLUSTER_PROPOSAL_RESOURCE, &x->props, reterr);
	if (r < 0 || !flows)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *node = "";
		json_t *a = alert_find(x->nodeflows, ids[i], &node);

		if (!a) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
				       "allow: no alert '%s' in any node's NodeFlows", ids[i]);
			goto out;
		}
		r = amend(x, ids[i], a, reterr);
		if (r < 0)
			goto out;
		{
			char line[1024];

			(void) snprintf(line, sizeof(line),
					"%s: allowed, %s -> %s %s/%" JSON_INTEGER_FORMAT
					" is allowed by the proposal (seen on %s)",
					ids[i], end_of(a, "src"), end_of(a, "dst"),
					cli_json_str(a, "protocol"),
					json_integer_value(json_object_get(a, "port")), node);
			if (json_array_append_new(x->lines, json_string(line)) < 0) {
				r = bh_err_oom(reterr);
				goto out;
			}
		}
		if (json_array_append_new(
			    flows,
			    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:[s]}", "src",
				      end_of(a, "src"), "dst", end_of(a, "dst"), "protocol",
				      cli_json_str(a, "protocol"), "port",
				      json_integer_value(json_object_get(a, "port")), "connections",
				      json_integer_value(json_object_get(a, "count")), "lastSeen",
				      cli_json_str(a, "lastSeen"), "nodes", node)) < 0) {
			r = bh_err_oom(reterr);
			goto out;
		}
	}
	for (size_t i = 0; i < x->n && r == 0; i++)
		if (x->v[i].changed)
			r = ns_write(x, &x->v[i], flows, &written, reterr);
	if (r == 0 && !written)
		printf("nothing to amend: the proposals already allow %s\n",
		       n == 1 ? "this flow" : "these flows");
out:
	json_decref(flows);
	return r;
}

int cli_cluster_allow(const struct cli_target *t, char *const *ids, size_t n, struct bh_err *reterr)
{
	const struct cli_cluster_src src = { .kubeconfig = t->kubeconfig, .context = t->context };
	struct allow_run x = { 0 };
	struct cli_kube k;
	int r;

	r = cli_kube_open(&k, "allow", t, reterr);
	if (r < 0)
		goto out;
	x.k = &k;
	x.lines = json_array();
	if (!x.lines) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = cli_cluster_load(&src, &x.c, reterr);
	if (r < 0) {
		r = bh_err_prefix(reterr, "allow: ");
		goto out;
	}
	for (int round = 0; round < ALLOW_ROUNDS; round++) {
		r = allow_round(&x, ids, n, reterr);
		if (r != -ESTALE)
			break;
		run_reset(&x);
	}
	if (r == -ESTALE)
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBUSY,
			       "allow: the Proposal objects changed under every one of %d attempts",
			       ALLOW_ROUNDS);
	if (r == 0) {
		size_t i;
		json_t *l;

		json_array_foreach(x.lines, i, l)
			printf("%s\n", json_string_value(l));
		if (fflush(stdout) != 0)
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "allow: writing stdout: %s",
				       strerror(errno));
	}
out:
	run_reset(&x);
	json_decref(x.lines);
	cluster_free(x.c);
	cli_kube_done(&k);
	return r;
}
