/*
 * enforce, preview and relearn on the cluster (docs/cluster.md, "Commands
 * from a workstation"):
 *
 *   1. read every NodeFlows, Proposal and PolicyMode;
 *   2. refuse an unknown namespace, one with no proposal yet (enforce,
 *      preview), and, for enforce without --force, the open alerts of
 *      those namespaces in any NodeFlows (exit 2, naming them and their
 *      nodes);
 *   3. one write of PolicyMode NS (or `all`): create, or update with the
 *      read resourceVersion (a 409 reads again and writes again);
 *   4. print what switched, from what, as the node form does;
 *   5. watch the NodeFlows until every one reports the namespaces at the
 *      new stage with modeSwitchedAt >= the write's switchedAt; past the
 *      timeout, exit 4 naming the nodes that did not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_cluster.h"
#include "clock.h"
#include "cluster_api.h"
#include "kube_watch.h"
#include "kube_write_wait.h"
#include "rfc3339.h"

/* How many alerts and nodes a one-line message names before "...". */
#define STAGE_NAMED_MAX 8
/* Between two looks at the deadline while the watch is quiet. */
#define STAGE_WAIT_STEP_MS 200

/* Whether namespace @ns is anywhere: a Proposal, an agent's stage or a
 * Namespace object. */
static int ns_known(struct cli_kube *k, json_t *proposals, json_t *nodeflows, const char *ns,
		    struct bh_err *reterr)
{
	char path[160];
	json_t *nf, *a, *obj = NULL;
	size_t i, j;
	int r;

	if (cli_cluster_has_proposal(proposals, ns))
		return 1;
	json_array_foreach(nodeflows, i, nf) {
		json_array_foreach(json_object_get(json_object_get(nf, "status"), "applied"), j,
				   a) {
			if (strcmp(cli_json_str(a, "namespace"), ns) == 0)
				return 1;
		}
	}
	(void) snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	r = cli_kube_get(k, path, &obj, reterr);
	json_decref(obj);
	return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

/* Whether alert @a is open and decided by a policy of one of @ns. */
static bool alert_of(json_t *a, const char *const *ns, size_t n)
{
	const char *pol = cli_json_str(a, "policy");

	if (strcmp(cli_json_str(a, "state"), "open") != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(ns[i]);

		if (strncmp(pol, ns[i], len) == 0 && pol[len] == '/')
			return true;
	}
	return false;
}

/* Exit 2 naming the open alerts of @ns and their nodes, or 0 when none. */
static int alerts_refuse(json_t *nodeflows, const char *const *ns, size_t n, struct bh_err *reterr)
{
	char names[BH_ERR_MSG_MAX / 2] = "";
	size_t open = 0, len = 0, i, j;
	json_t *nf, *a;

	json_array_foreach(nodeflows, i, nf) {
		const char *node = cli_json_str(json_object_get(nf, "metadata"), "name");

		json_array_foreach(json_object_get(json_object_get(nf, "status"), "alerts"), j, a) {
			if (!alert_of(a, ns, n))
				continue;
			if (open++ < STAGE_NAMED_MAX && len < sizeof(names))
				len += (size_t) snprintf(names + len, sizeof(names) - len,
							 "%s%s on %s", open > 1 ? ", " : "",
							 cli_json_str(a, "id"), node);
		}
	}
	if (!open)
		return 0;
	return bh_err_set(reterr, BH_ERR_INPUT, -EBUSY,
			  "enforce: %zu open alert%s: %s%s; allow them ('bulkhead allow'), "
			  "dismiss them on their node, or --force",
			  open, open == 1 ? "" : "s", names, open > STAGE_NAMED_MAX ? ", ..." : "");
}

struct mode_write {
	const char *mode, *ns, *switched_at;
	bool force;
};

/* Sets the PolicyMode's spec (and its label) as @ud says. */
static int mode_mutate_cb(void *ud, json_t *obj)
{
	const struct mode_write *m = ud;
	json_t *md = json_object_get(obj, "metadata"), *labels;
	json_t *spec = json_pack("{s:s, s:s, s:s, s:b}", "mode", m->mode, "namespace", m->ns,
				 "switchedAt", m->switched_at, "force", m->force);

	if (!spec || !json_is_object(md))
		goto fail;
	labels = json_object_get(md, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		if (!labels || json_object_set_new(md, "labels", labels) < 0)
			goto fail;
	}
	if (json_object_set_new(labels, CLUSTER_MANAGED_BY_LABEL, json_string(CLUSTER_MANAGED_BY)) <
		    0 ||
	    json_object_set_new(obj, "spec", spec) < 0)
		return -ENOMEM;
	return 0;
fail:
	json_decref(spec);
	return -ENOMEM;
}

/* The one write: update PolicyMode @name, or create it when absent (and
 * update after all when someone created it meanwhile). */
static int mode_write(struct cli_kube *k, const char *name, const struct mode_write *m,
		      struct bh_err *reterr)
{
	struct kube_ref ref;
	json_t *obj = NULL;
	int r = -ENOENT;

	cli_kube_ref(&ref, CLUSTER_POLICYMODE_RESOURCE, NULL);
	for (int attempt = 0; attempt < 2; attempt++) {
		r = kube_write_wait_update(k->client, &ref, name, false, mode_mutate_cb, (void *) m,
					   NULL, reterr);
		if (r != -ENOENT)
			break;
		obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", CLUSTER_API_GROUP_VERSION,
				"kind", CLUSTER_POLICYMODE_KIND, "metadata", "name", name);
		if (!obj || mode_mutate_cb((void *) m, obj) < 0) {
			json_decref(obj);
			return bh_err_oom(reterr);
		}
		r = kube_write_wait_create(k->client, &ref, obj, NULL, reterr);
		json_decref(obj);
		if (r != -EEXIST)
			break;
	}
	if (r < 0)
		return bh_err_prefix(reterr, "%s: writing PolicyMode '%s': ", k->cmd, name);
	return 0;
}

/* ---- the wait ---- */

struct waiting {
	struct kube_watch *w;
	const char *stage; /* the new stage */
	const char *const *ns;
	size_t n;
	int64_t switched; /* ms */
	bool changed; /* an event or a list since the last look */
	size_t missing; /* nodes not reporting yet, at the last look */
	char names[BH_ERR_MSG_MAX / 2]; /* the first of them */
	size_t len;
};

/* Whether @applied reports @ns at the new stage of @x. */
static bool reports(const struct waiting *x, json_t *applied, const char *ns)
{
	size_t i;
	json_t *a;

	json_array_foreach(applied, i, a) {
		const char *st = cli_json_str(a, "stage");

		if (strcmp(cli_json_str(a, "namespace"), ns) != 0 ||
		    cli_cluster_time_ms(cli_json_str(a, "modeSwitchedAt")) < x->switched ||
		    cli_json_str(a, "error")[0])
			continue;
		if (strcmp(st, x->stage) == 0)
			return true;
		/* relearn: learning may already be over (a short learnDuration)
		 * with proposals made after the switch. */
		if (strcmp(x->stage, "learn") == 0 && strcmp(st, "preview") == 0 &&
		    cli_cluster_time_ms(cli_json_str(a, "proposalsComputedAt")) >= x->switched)
			return true;
	}
	return false;
}

static int node_check_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct waiting *x = ud;
	json_t *obj = kube_watch_get(x->w, ns, name);
	json_t *applied = json_object_get(json_object_get(obj, "status"), "applied");
	size_t i;

	(void) rv;
	for (i = 0; i < x->n && reports(x, applied, x->ns[i]); i++)
		;
	if (i == x->n)
		return 0;
	if (x->missing++ < STAGE_NAMED_MAX && x->len < sizeof(x->names))
		x->len += (size_t) snprintf(x->names + x->len, sizeof(x->names) - x->len, "%s%s",
					    x->missing > 1 ? ", " : "", name);
	return 0;
}

static void wait_event_cb(void *ud, struct kube_watch *w, enum kube_event_type t, json_t *obj)
{
	struct waiting *x = ud;

	(void) w;
	(void) t;
	(void) obj;
	x->changed = true;
}

static void wait_synced_cb(void *ud, struct kube_watch *w)
{
	struct waiting *x = ud;

	(void) w;
	x->changed = true;
}

/* The nodes not reporting yet: 0 when none. */
static size_t missing(struct waiting *x)
{
	x->missing = 0;
	x->len = 0;
	x->names[0] = '\0';
	(void) kube_watch_foreach(x->w, node_check_cb, x);
	return x->missing;
}

/* Watches NodeFlows until every node reports (0), or the timeout: exit 4,
 * one line naming the nodes that did not, on stderr. */
static int wait_reports(struct cli_kube *k, struct waiting *x, unsigned timeout_s,
			struct bh_err *reterr)
{
	const struct kube_watch_opts o = {
		.group = CLUSTER_API_GROUP,
		.version = CLUSTER_API_VERSION,
		.resource = CLUSTER_NODEFLOWS_RESOURCE,
		.cluster_scoped = true,
		.keep_objects = true,
		.page_limit = CLUSTER_LIST_PAGE,
		.event_cb = wait_event_cb,
		.synced_cb = wait_synced_cb,
		.ud = x,
	};
	uint64_t deadline = clock_mono_ms() + (uint64_t) timeout_s * 1000u;
	bool synced = false;
	int r;

	r = kube_watch_new(k->client, &o, &x->w);
	if (r == 0)
		r = kube_watch_start(x->w);
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s: watching NodeFlows: %s", k->cmd,
			       strerror(-r));
		goto out;
	}
	for (;;) {
		uint64_t now = clock_mono_ms();

		if (x->changed && kube_watch_synced(x->w)) {
			x->changed = false;
			synced = true;
			if (!missing(x)) {
				if (!kube_watch_count(x->w))
					fprintf(stderr,
						"bulkhead: %s: warning: no NodeFlows object: no "
						"agent to wait for\n",
						k->cmd);
				break;
			}
		}
		if (now >= deadline) {
			if (!synced)
				(void) snprintf(x->names, sizeof(x->names),
						"(NodeFlows could not be read)");
			fprintf(stderr,
				"bulkhead: %s: timed out after %u s waiting for %zu node%s to "
				"report %s: %s%s\n",
				k->cmd, timeout_s, x->missing, x->missing == 1 ? "" : "s", x->stage,
				x->names, x->missing > STAGE_NAMED_MAX ? ", ..." : "");
			r = BH_EXIT_TIMEOUT;
			goto out;
		}
		r = kube_client_run(k->client, (int) (deadline - now < STAGE_WAIT_STEP_MS ?
							      deadline - now :
							      STAGE_WAIT_STEP_MS));
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s: watching NodeFlows: %s",
				       k->cmd, strerror(-r));
			goto out;
		}
	}
	r = 0;
out:
	x->w = kube_watch_free(x->w);
	return r;
}

/* "2026-12-04T10:05:00.123Z", now. */
static const char *now_ms(char *buf, size_t len)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	return rfc3339_format_ns((int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec, 3, buf, len);
}

/* The namespaces to switch into @ret (borrowed strings, at most @max):
 * those named, each checked, or with --all every namespace with a
 * Proposal (printing those still learning as skipped). */
static int targets(struct cli_kube *k, const struct cli_stage_req *q, json_t *proposals,
		   json_t *nodeflows, const char **ret, size_t max, size_t *ret_n,
		   struct bh_err *reterr)
{
	size_t n = 0, i;
	json_t *p;
	int r;

	if (!q->all) {
		for (i = 0; i < q->n; i++) {
			r = ns_known(k, proposals, nodeflows, q->ns[i], reterr);
			if (r < 0)
				return r;
			if (r == 0)
				return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
						  "%s: unknown namespace '%s' (no Namespace, no "
						  "Proposal, no agent's stage)",
						  q->cmd, q->ns[i]);
			if (strcmp(q->stage, "learn") != 0 &&
			    !cli_cluster_has_proposal(proposals, q->ns[i]))
				return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
						  "%s: namespace '%s' has no proposal yet (still "
						  "learning)",
						  q->cmd, q->ns[i]);
			ret[n++] = q->ns[i];
		}
		*ret_n = n;
		return 0;
	}
	json_array_foreach(proposals, i, p) {
		const char *ns = cli_json_str(json_object_get(p, "metadata"), "namespace");
		bool dup = false;

		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(ret[j], ns) == 0;
		if (dup || !ns[0])
			continue;
		if (n == max)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -E2BIG,
					  "%s: more than %zu namespaces with proposals", q->cmd,
					  max);
		ret[n++] = ns;
	}
	*ret_n = n;
	return 0;
}

static void switched_print(const char *ns, const char *from, const char *stage)
{
	if (strcmp(from, stage) == 0)
		printf("namespace %s: already in %s\n", ns, stage);
	else
		printf("namespace %s: %s -> %s\n", ns, from, stage);
}

/* Namespaces an --all switch handles at most. */
#define STAGE_ALL_MAX 4096

int cli_cluster_stage_run(const struct cli_stage_req *q, struct bh_err *reterr)
{
	json_t *nodeflows = NULL, *proposals = NULL, *modes = NULL;
	struct waiting x = { .stage = q->stage };
	const char **ns = NULL;
	const char **from = NULL;
	struct cli_kube k;
	char at[RFC3339_STR_MAX];
	size_t n = 0;
	int r;

	r = cli_kube_open(&k, q->cmd, q->target, reterr);
	if (r < 0)
		goto out;
	r = cli_kube_list(&k, CLUSTER_NODEFLOWS_RESOURCE, &nodeflows, reterr);
	if (r == 0)
		r = cli_kube_list(&k, CLUSTER_PROPOSAL_RESOURCE, &proposals, reterr);
	if (r == 0)
		r = cli_kube_list(&k, CLUSTER_POLICYMODE_RESOURCE, &modes, reterr);
	if (r < 0)
		goto out;
	ns = calloc(STAGE_ALL_MAX, sizeof(*ns));
	from = calloc(STAGE_ALL_MAX, sizeof(*from));
	if (!ns || !from) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = targets(&k, q, proposals, nodeflows, ns, STAGE_ALL_MAX, &n, reterr);
	if (r < 0)
		goto out;
	if (strcmp(q->stage, "enforce") == 0 && !q->force) {
		r = alerts_refuse(nodeflows, ns, n, reterr);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		from[i] = cli_cluster_stage(proposals, modes, ns[i], NULL);
	if (!now_ms(at, sizeof(at))) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EOVERFLOW, "%s: the clock", q->cmd);
		goto out;
	}
	for (size_t i = 0; i < (q->all ? 1 : n); i++) {
		const struct mode_write m = { .mode = q->stage,
					      .ns = q->all ? "" : ns[i],
					      .switched_at = at,
					      .force = q->force };

		r = mode_write(&k, q->all ? CLUSTER_POLICYMODE_ALL : ns[i], &m, reterr);
		if (r < 0)
			goto out;
		/* each namespace once written: a later write failing leaves
		 * these switched, and the output says so */
		for (size_t j = q->all ? 0 : i; j < (q->all ? n : i + 1); j++)
			switched_print(ns[j], from[j], q->stage);
	}
	if (q->all) {
		size_t i;
		json_t *nf, *a;

		/* The namespaces the agents have a stage for and no proposal
		 * yet: learning, as the node form says. */
		json_array_foreach(nodeflows, i, nf) {
			size_t j;

			json_array_foreach(
				json_object_get(json_object_get(nf, "status"), "applied"), j, a) {
				const char *s = cli_json_str(a, "namespace");
				bool seen = false;

				for (size_t e = 0; e < n && !seen; e++)
					seen = strcmp(ns[e], s) == 0;
				if (seen || !s[0] || n == STAGE_ALL_MAX)
					continue;
				ns[n] = s;
				from[n++] = "";
				printf("namespace %s: skipped: still learning\n", s);
			}
		}
		for (n = 0; n < STAGE_ALL_MAX && ns[n] && from[n][0]; n++)
			;
	}
	if (fflush(stdout) != 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "%s: writing stdout: %s", q->cmd,
			       strerror(errno));
		goto out;
	}
	x.ns = ns;
	x.n = n;
	x.switched = cli_cluster_time_ms(at);
	r = wait_reports(&k, &x, q->timeout_s, reterr);
out:
	free(ns);
	free(from);
	json_decref(nodeflows);
	json_decref(proposals);
	json_decref(modes);
	cli_kube_done(&k);
	return r;
}
