/*
 * What the cluster forms of the verbs share (cli_cluster.h): the choice of
 * the target, the API server connection, reads of Bulkhead's objects and
 * the effective stage of a namespace.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cli_cluster.h"
#include "cluster_api.h"
#include "cluster_stage.h"
#include "kube_url.h"
#include "kube_write.h"

/* One answer: a page of CLUSTER_LIST_PAGE objects of up to ~1.5 MiB. */
#define CLUSTER_READ_MAX (128u << 20)
#define CLUSTER_READ_TIMEOUT_S 60

int cli_target_opt(struct cli_target *t, int first, int id, const char *arg)
{
	switch (id - first) {
	case 0:
		t->socket = arg;
		return 1;
	case 1:
		t->kubeconfig = arg;
		return 1;
	case 2:
		t->context = arg;
		return 1;
	case 3:
		t->cluster = true;
		return 1;
	default:
		return 0;
	}
}

int cli_cluster_choose(const struct cli_target *t, const char *cmd, struct bh_err *reterr)
{
	const char *env;

	if (t->socket && (t->kubeconfig || t->context || t->cluster))
		return cli_usage_err(reterr, cmd,
				     "--socket and %s: expected one of them (the local agent, or "
				     "the cluster)",
				     t->kubeconfig ? "--kubeconfig" :
				     t->context	   ? "--context" :
						     "--cluster");
	if (t->socket)
		return 0;
	if (t->kubeconfig || t->context || t->cluster)
		return 1;
	env = getenv("KUBECONFIG");
	if (env && env[0])
		return 1;
	env = getenv("KUBERNETES_SERVICE_HOST");
	return env && env[0] ? 1 : 0;
}

int cli_kube_open(struct cli_kube *k, const char *cmd, const struct cli_target *t,
		  struct bh_err *reterr)
{
	int r;

	*k = (struct cli_kube){ .cmd = cmd };
	r = kube_config_find(t->kubeconfig, t->context, &k->cfg, reterr);
	if (r < 0)
		return bh_err_prefix(reterr, "%s: ", cmd);
	r = kube_client_new(k->cfg, &k->client, reterr);
	if (r < 0)
		return bh_err_prefix(reterr, "%s: ", cmd);
	return 0;
}

void cli_kube_done(struct cli_kube *k)
{
	k->client = kube_client_free(k->client);
	k->cfg = kube_config_free(k->cfg);
}

/* The "message" of a Status answer, or "". */
static void status_message(const struct buf *b, char *out, size_t len)
{
	json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, NULL);

	(void) snprintf(out, len, "%s", cli_json_str(j, "message"));
	json_decref(j);
}

int cli_kube_get(struct cli_kube *k, const char *path, json_t **ret, struct bh_err *reterr)
{
	struct buf body = { 0 };
	json_error_t jerr;
	char msg[256];
	long status = 0;
	json_t *j;
	int r;

	r = kube_client_call(k->client, "GET", path, NULL, NULL, CLUSTER_READ_MAX,
			     CLUSTER_READ_TIMEOUT_S, &body, &status, reterr);
	if (r < 0) {
		r = bh_err_prefix(reterr, "%s: ", k->cmd);
		goto out;
	}
	if (status == 404) {
		r = -ENOENT;
		goto out;
	}
	if (status != 200) {
		status_message(&body, msg, sizeof(msg));
		r = bh_err_set(reterr, BH_ERR_SYSTEM,
			       status == 401 || status == 403 ? -EACCES : -EIO,
			       "%s: the API server %s answered HTTP %ld to GET %s%s%s", k->cmd,
			       kube_client_server(k->client), status, path, msg[0] ? ": " : "",
			       msg);
		goto out;
	}
	j = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
			       "%s: the API server %s sent no JSON object to GET %s", k->cmd,
			       kube_client_server(k->client), path);
		goto out;
	}
	*ret = j;
	r = 0;
out:
	buf_done(&body);
	return r;
}

/* One page of a list: its items appended to @all, *@cont the next page's
 * continue token (owned) or NULL. */
static int list_page(struct cli_kube *k, const char *base, json_t *all, char **cont,
		     struct bh_err *reterr)
{
	char limit[16], *path = NULL;
	const char *const params[] = { "limit", limit, "continue", *cont, NULL };
	const char *next;
	json_t *list = NULL, *items;
	int r;

	(void) snprintf(limit, sizeof(limit), "%u", CLUSTER_LIST_PAGE);
	if (kube_url_path(base, params, &path) < 0)
		return bh_err_oom(reterr);
	free(*cont);
	*cont = NULL;
	r = cli_kube_get(k, path, &list, reterr);
	if (r < 0)
		goto out;
	items = json_object_get(list, "items");
	if (!json_is_array(items)) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
			       "%s: the API server %s sent no list to GET %s", k->cmd,
			       kube_client_server(k->client), path);
		goto out;
	}
	if (json_array_extend(all, items) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	next = json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
	if (next && next[0] && !(*cont = strdup(next)))
		r = bh_err_oom(reterr);
out:
	json_decref(list);
	free(path);
	return r;
}

int cli_kube_list(struct cli_kube *k, const char *resource, json_t **ret, struct bh_err *reterr)
{
	char base[256], *cont = NULL;
	json_t *all = json_array();
	int r;

	if (!all)
		return bh_err_oom(reterr);
	(void) snprintf(base, sizeof(base), "/apis/%s/%s", CLUSTER_API_GROUP_VERSION, resource);
	do
		r = list_page(k, base, all, &cont, reterr);
	while (r == 0 && cont);
	free(cont);
	if (r == -ENOENT && !json_array_size(all))
		r = 0; /* no such resource (the CRD not installed): no object */
	if (r < 0) {
		json_decref(all);
		return r;
	}
	*ret = all;
	return 0;
}

void cli_kube_ref(struct kube_ref *ref, const char *resource, const char *ns)
{
	*ref = (struct kube_ref){
		.group = CLUSTER_API_GROUP,
		.version = CLUSTER_API_VERSION,
		.resource = resource,
		.ns = ns,
	};
}

const char *cli_json_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

bool cli_cluster_has_proposal(json_t *proposals, const char *ns)
{
	size_t i;
	json_t *p;

	json_array_foreach(proposals, i, p) {
		if (strcmp(cli_json_str(json_object_get(p, "metadata"), "namespace"), ns) == 0)
			return true;
	}
	return false;
}

json_t *cli_item_find(json_t *items, const char *name)
{
	size_t i;
	json_t *m;

	json_array_foreach(items, i, m) {
		if (strcmp(cli_json_str(json_object_get(m, "metadata"), "name"), name) == 0)
			return m;
	}
	return NULL;
}

/* PolicyMode @obj parsed into @ret; one that cannot be read is left out,
 * as the agents leave it out (with a warning here). */
static void mode_parse(json_t *obj, struct cluster_mode *ret)
{
	struct bh_err err = { 0 };

	*ret = (struct cluster_mode){ 0 };
	if (obj && cluster_mode_parse(obj, ret, &err) < 0) {
		fprintf(stderr, "bulkhead: warning: %s, ignoring\n", err.msg);
		*ret = (struct cluster_mode){ 0 };
	}
}

const char *cli_cluster_stage(json_t *proposals, json_t *modes, const char *ns, json_t **ret_mode)
{
	struct cluster_stage_input in = { .computed_at = INT64_MIN };
	struct cluster_stage st;
	size_t i;
	json_t *p;

	mode_parse(cli_item_find(modes, ns), &in.ns);
	mode_parse(cli_item_find(modes, CLUSTER_POLICYMODE_ALL), &in.all);
	json_array_foreach(proposals, i, p) {
		int64_t t;

		if (strcmp(cli_json_str(json_object_get(p, "metadata"), "namespace"), ns) != 0)
			continue;
		in.has_proposals = true;
		if (cluster_time_parse_ms(cli_json_str(json_object_get(p, "spec"), "computedAt"),
					  &t) == 0 &&
		    t > in.computed_at)
			in.computed_at = t;
	}
	cluster_stage_effective(&in, &st);
	if (ret_mode)
		*ret_mode = !st.switched_at ? NULL :
			    st.from_all	    ? cli_item_find(modes, CLUSTER_POLICYMODE_ALL) :
					      cli_item_find(modes, ns);
	return st.mode == STATE_DB_MODE_LEARN	? "learn" :
	       st.mode == STATE_DB_MODE_ENFORCE ? "enforce" :
						  "preview";
}

int64_t cli_cluster_time_ms(const char *s)
{
	int64_t t;

	return cluster_time_parse_ms(s, &t) == 0 ? t : -1;
}
