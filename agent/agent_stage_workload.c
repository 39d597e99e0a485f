/*
 * The finer step of the stages (docs/lifecycle.md, "Workload overrides"):
 * one workload of a namespace in preview or enforce switched on its own.
 *
 * An override is a mode whose scope is the workload, "NS/KIND/NAME" (a
 * namespace name holds no '/', so the two never collide), kept in
 * a->modes and the state database like a namespace's stage, written
 * there before the batch.  It decides the origin of the proposal
 * policies of that workload: those whose bulkhead.io/workload annotation
 * (propose writes "KIND/NAME") names it.  The namespace's other policies
 * keep the namespace's stage.  Any change of the namespace's own stage
 * (enforce/preview --namespace, relearn, the windows, autoPromote)
 * clears the overrides of its workloads.
 *
 * POST /stage {"stage": "enforce"|"preview", "workloads": [W...],
 *              "force": bool}
 *   200 {"stage": S, "switched": [{"workload", "from", "to"}...],
 *        "unchanged": [W...], "skipped": []}
 *   404 a namespace the agent does not know, or a workload no proposal
 *   policy of its namespace names; 409 a namespace not in preview or
 *   enforce, or enforce while alerts of the workload's policies are open
 *   (unless force); 400 a body it does not take.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "alerts.h"
#include "http_server.h"
#include "json_out.h"
#include "log.h"
#include "state_db.h"

/* At most this many workloads in one POST /stage. */
#define WL_MAX 10000
/* The annotation propose writes on each policy: "KIND/NAME". */
#define WL_ANNOTATION "bulkhead.io/workload"

bool agent_stage_is_workload(const char *scope)
{
	return strchr(scope, '/') != NULL;
}

static struct state_db_mode *find(struct agent *a, const char *scope)
{
	for (size_t k = 0; k < a->n_modes; k++)
		if (strcmp(a->modes[k].scope, scope) == 0)
			return &a->modes[k];
	return NULL;
}

/* Whether @wl ("NS/KIND/NAME") is a workload of namespace @ns. */
static bool of_ns(const char *wl, const char *ns)
{
	size_t n = strlen(ns);

	return strncmp(wl, ns, n) == 0 && wl[n] == '/';
}

static bool compiled(enum state_db_mode_kind m)
{
	return m == STATE_DB_MODE_PREVIEW || m == STATE_DB_MODE_ENFORCE;
}

/* Stores the override @wl = @kind: the database first, then a->modes. */
static int put(struct agent *a, const char *wl, enum state_db_mode_kind kind, int64_t now,
	       struct bh_err *reterr)
{
	struct state_db_mode m = { .scope = (char *) wl, .mode = kind, .since = now };
	struct state_db_mode *cur = find(a, wl), *v;
	int r;

	r = state_db_mode_set(a->db, &m, reterr);
	if (r < 0)
		return r;
	a->stage_dirty = true;
	if (cur) {
		cur->mode = kind;
		cur->since = now;
		return 0;
	}
	v = realloc(a->modes, (a->n_modes + 1) * sizeof(*v));
	if (!v)
		return bh_err_oom(reterr);
	a->modes = v;
	m.scope = strdup(wl);
	if (!m.scope)
		return bh_err_oom(reterr);
	a->modes[a->n_modes++] = m;
	return 0;
}

/* Removes the override at a->modes[@k]: the database first.  The entry
 * stays in a->modes as "learn", which overrides nothing (the callers walk
 * a->modes by index and hold pointers into it). */
static int del(struct agent *a, size_t k, struct bh_err *reterr)
{
	int r = state_db_mode_del(a->db, a->modes[k].scope, reterr);

	if (r < 0)
		return r;
	a->modes[k].mode = STATE_DB_MODE_LEARN;
	a->stage_dirty = true;
	return 0;
}

int agent_stage_workload_clear(struct agent *a, const char *ns, struct bh_err *reterr)
{
	for (size_t k = a->n_modes; k-- > 0;) {
		const char *s = a->modes[k].scope;
		int r;

		if (!agent_stage_is_workload(s) || !of_ns(s, ns) || !compiled(a->modes[k].mode))
			continue;
		log_notice("agent: stages: workload %s: its override (%s) is cleared with its "
			   "namespace's switch",
			   s, state_db_mode_name(a->modes[k].mode));
		r = del(a, k, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_stage_workload_of(struct agent *a, const char *ns, json_t *item,
			    enum netpol_origin *origin, char **ret_wl)
{
	json_t *ann = json_object_get(json_object_get(item, "metadata"), "annotations");
	const char *w = json_string_value(json_object_get(ann, WL_ANNOTATION));
	const struct state_db_mode *m;

	*ret_wl = NULL;
	if (!w || !w[0])
		return 0;
	if (asprintf(ret_wl, "%s/%s", ns, w) < 0) {
		*ret_wl = NULL;
		return -ENOMEM;
	}
	m = find(a, *ret_wl);
	if (m && compiled(m->mode))
		*origin = m->mode == STATE_DB_MODE_ENFORCE ? NETPOL_ORIGIN_ENFORCE :
							     NETPOL_ORIGIN_PREVIEW;
	return 0;
}

void agent_stage_workload_status(struct agent *a, struct json_out *w)
{
	for (size_t k = 0; k < a->n_modes; k++) {
		const struct state_db_mode *m = &a->modes[k];
		const char *slash = strchr(m->scope, '/');

		if (!slash || !compiled(m->mode))
			continue;
		json_out_obj_begin(w);
		json_out_key(w, "namespace");
		json_out_strn(w, m->scope, (size_t) (slash - m->scope));
		json_out_key(w, "workload");
		json_out_str(w, m->scope);
		json_out_key(w, "stage");
		json_out_str(w, state_db_mode_name(m->mode));
		json_out_key(w, "since");
		json_out_time(w, m->since);
		json_out_key(w, "until");
		json_out_null(w);
		json_out_obj_end(w);
	}
}

/* Whether a proposal policy of the namespace names @wl. */
static bool known(const struct agent *a, const char *wl)
{
	for (size_t i = 0; i < a->n_stage_pols; i++)
		if (a->stage_pol_wl[i] && strcmp(a->stage_pol_wl[i], wl) == 0)
			return true;
	return false;
}

/* Whether open alert @e was decided by a proposal policy of @wl. */
static bool alert_of(const struct agent *a, const struct alert_entry *e, const char *wl)
{
	size_t np = strlen(NETPOL_PROPOSAL_PREFIX);

	if (e->state != ALERT_OPEN || !e->policy)
		return false;
	for (size_t i = 0; i < a->n_stage_pols; i++) {
		const struct netpol *p = &a->stage_pols[i];
		size_t n = strlen(p->ns);

		if (!a->stage_pol_wl[i] || strcmp(a->stage_pol_wl[i], wl) != 0)
			continue;
		if (strncmp(e->policy, p->ns, n) == 0 && e->policy[n] == '/' &&
		    strcmp(e->policy + n + 1, p->name + np) == 0)
			return true;
	}
	return false;
}

/* 409 naming the open alerts of the workloads @v. */
static int answer_alerts(struct agent *a, struct http_response *resp, const char *const *v,
			 size_t n)
{
	size_t open = 0;
	char first[256] = "", msg[512];
	json_t *ids = json_array(), *ans;
	char *text;

	for (size_t i = 0; ids && a->alerts && i < alerts_count(a->alerts); i++) {
		const struct alert_entry *e = alerts_at(a->alerts, i);

		for (size_t k = 0; k < n; k++) {
			if (!alert_of(a, e, v[k]))
				continue;
			if (!open++)
				(void) snprintf(first, sizeof(first), "%s (%.80s -> %.80s port %u)",
						e->id, e->src, e->dst, (unsigned) e->port);
			if (json_array_append_new(ids, json_string(e->id)) < 0) {
				json_decref(ids);
				return -ENOMEM;
			}
			break;
		}
	}
	if (!ids)
		return -ENOMEM;
	(void) snprintf(msg, sizeof(msg),
			"%zu open alert%s: %s%s; dismiss them ('bulkhead dismiss') or --force",
			open, open == 1 ? "" : "s", first, open > 1 ? ", ..." : "");
	ans = json_object();
	if (!ans)
		json_decref(ids);
	if (!ans || json_object_set_new(ans, "error", json_string(msg)) < 0 ||
	    json_object_set_new(ans, "alerts", ids) < 0)
		text = NULL;
	else
		text = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (!text)
		return -ENOMEM;
	resp->status = 409;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	if (buf_append(&resp->body, text, strlen(text)) < 0 ||
	    buf_append(&resp->body, "\n", 1) < 0) {
		free(text);
		return -ENOMEM;
	}
	free(text);
	return 0;
}

/* Checks @wl: 0 fine, 1 an answer written (404, 409), -errno. */
static int check(struct agent *a, struct http_response *resp, const char *wl,
		 const struct state_db_mode **ret_ns)
{
	const char *s1 = strchr(wl, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	const struct state_db_mode *m;
	char ns[254];
	int r;

	if (!s1 || !s2 || s1 == wl || s2 == s1 + 1 || !s2[1] || strchr(s2 + 1, '/') ||
	    (size_t) (s1 - wl) >= sizeof(ns)) {
		r = agent_control_error(resp, 400, "workload '%.300s': expected NS/KIND/NAME", wl);
		return r < 0 ? r : 1;
	}
	(void) snprintf(ns, sizeof(ns), "%.*s", (int) (s1 - wl), wl);
	m = find(a, ns);
	if (!m) {
		r = agent_control_error(resp, 404, "no namespace '%s' on this agent", ns);
		return r < 0 ? r : 1;
	}
	if (!compiled(m->mode)) {
		r = agent_control_error(resp, 409,
					"namespace '%s' is in %s: a workload switches only in a "
					"namespace in preview or enforce",
					ns, state_db_mode_name(m->mode));
		return r < 0 ? r : 1;
	}
	if (!known(a, wl)) {
		r = agent_control_error(resp, 404,
					"no workload '%.300s' in the proposal of namespace '%s'",
					wl, ns);
		return r < 0 ? r : 1;
	}
	*ret_ns = m;
	return 0;
}

int agent_stage_workload_post(struct agent *a, json_t *list, enum state_db_mode_kind to, bool force,
			      struct http_response *resp)
{
	size_t n = json_array_size(list);
	const char **v = NULL;
	enum state_db_mode_kind *from = NULL, *nsm = NULL;
	struct bh_err err = { 0 };
	int64_t now = time(NULL);
	bool open = false;
	struct json_out w;
	int r = 0;

	if (!json_is_array(list) || n == 0 || n > WL_MAX || !compiled(to)) {
		r = agent_control_error(resp, 400,
					"expected \"workloads\": a non-empty array, with \"stage\" "
					"enforce or preview");
		return r < 0 ? r : 0;
	}
	agent_stage_wanted_sync(a);
	v = calloc(n, sizeof(*v));
	from = calloc(n, sizeof(*from));
	nsm = calloc(n, sizeof(*nsm));
	if (!v || !from || !nsm) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct state_db_mode *m = NULL, *o;

		v[i] = json_string_value(json_array_get(list, i));
		if (!v[i]) {
			r = agent_control_error(resp, 400, "\"workloads\"[%zu]: not a name", i);
			goto out;
		}
		r = check(a, resp, v[i], &m);
		if (r != 0) {
			r = r < 0 ? r : 0;
			goto out;
		}
		o = find(a, v[i]);
		nsm[i] = m->mode;
		from[i] = o && compiled(o->mode) ? o->mode : m->mode;
		for (size_t k = 0; to == STATE_DB_MODE_ENFORCE && from[i] != to && a->alerts &&
				   k < alerts_count(a->alerts);
		     k++)
			open = open || alert_of(a, alerts_at(a->alerts, k), v[i]);
	}
	if (open && !force) {
		r = answer_alerts(a, resp, v, n);
		goto out;
	}
	/* The database first; the caller sends the one batch. */
	for (size_t i = 0; i < n; i++) {
		if (from[i] == to)
			continue;
		if (to == nsm[i]) {
			struct state_db_mode *o = find(a, v[i]);

			r = o && compiled(o->mode) ? del(a, (size_t) (o - a->modes), &err) : 0;
		} else {
			r = put(a, v[i], to, now, &err);
		}
		if (r < 0) {
			/* (those before are switched: the caller's batch sends them) */
			r = agent_control_error(resp, 500, "%s", err.msg);
			r = r < 0 ? r : 1;
			goto out;
		}
		log_notice("agent: stages: workload %s: %s -> %s%s", v[i],
			   state_db_mode_name(from[i]), state_db_mode_name(to),
			   force ? " (forced)" : "");
	}
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "stage");
	json_out_str(&w, state_db_mode_name(to));
	json_out_key(&w, "switched");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		if (from[i] == to)
			continue;
		json_out_obj_begin(&w);
		json_out_key(&w, "workload");
		json_out_str(&w, v[i]);
		json_out_key(&w, "from");
		json_out_str(&w, state_db_mode_name(from[i]));
		json_out_key(&w, "to");
		json_out_str(&w, state_db_mode_name(to));
		json_out_obj_end(&w);
	}
	json_out_arr_end(&w);
	json_out_key(&w, "unchanged");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		if (from[i] == to)
			json_out_str(&w, v[i]);
	json_out_arr_end(&w);
	json_out_key(&w, "skipped");
	json_out_arr_begin(&w);
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	json_out_newline(&w);
	r = json_out_error(&w);
	if (r == 0)
		r = 1;
out:
	free(v);
	free(from);
	free(nsm);
	return r;
}
