/*
 * The control socket's routes that change the agent's state (the socket
 * is owner-only: the only way to change anything on a node).  Each takes
 * a JSON body and answers JSON: 200 with what changed, 400 for a body
 * that is not what the route takes, 404 for an object the agent does not
 * hold.  Every error answer is {"error": "one line"}, which the CLI
 * prints as it is.
 *
 *   POST /alerts/dismiss  {"ids": ["3f0c...", ...]}
 *       the alerts dismissed (all or none): {"changed": N, "alerts": [...]}
 *       with each alert as GET /alerts writes it.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent_int.h"
#include "alerts.h"
#include "http_server.h"
#include "json_out.h"

/* At most this many ids in one request (the table's own bound is
 * maxAlerts; a request past it is a client's mistake). */
#define CONTROL_IDS_MAX 100000

/* Writes {"error": ...} with @status: 1 (an answer), or -errno. */
static int answer_error(struct http_response *resp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int answer_error(struct http_response *resp, unsigned status, const char *fmt, ...)
{
	char msg[512];
	struct json_out w;
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "error");
	json_out_str(&w, msg);
	json_out_obj_end(&w);
	json_out_newline(&w);
	return json_out_error(&w) < 0 ? json_out_error(&w) : 1;
}

/* The body's "ids": an array of strings, borrowed from @doc into a new
 * array (*@ret, freed by the caller).  0, or an answer written: 1. */
static int body_ids(const struct http_request *req, struct http_response *resp, json_t **doc,
		    const char ***ret, size_t *ret_n)
{
	size_t len, n;
	const char *body = http_request_body(req, &len);
	json_error_t jerr;
	json_t *ids;

	*doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*doc)
		return answer_error(resp, 400, "the body is not JSON: %s", jerr.text);
	ids = json_object_get(*doc, "ids");
	if (!json_is_object(*doc) || !json_is_array(ids) || json_array_size(ids) == 0)
		return answer_error(resp, 400, "the body has no \"ids\": a non-empty array");
	n = json_array_size(ids);
	if (n > CONTROL_IDS_MAX)
		return answer_error(resp, 400, "\"ids\": more than %d", CONTROL_IDS_MAX);
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = json_string_value(json_array_get(ids, i));
		if (!(*ret)[i])
			return answer_error(resp, 400, "\"ids\"[%zu]: not a string", i);
	}
	*ret_n = n;
	return 0;
}

static int set_state(struct agent *a, const struct http_request *req, struct http_response *resp,
		     enum alert_state state)
{
	const char **ids = NULL, *unknown;
	json_t *doc = NULL;
	struct json_out w;
	size_t n = 0;
	int r;

	r = body_ids(req, resp, &doc, &ids, &n);
	if (r != 0)
		goto out;
	r = agent_alerts_set_state(a, ids, n, state, &unknown);
	if (r == -ENOENT) {
		r = answer_error(resp, 404, "no alert '%.64s' on this agent", unknown);
		goto out;
	}
	if (r < 0)
		goto out;
	resp->content_type = "application/json";
	json_out_init(&w, &resp->body);
	json_out_obj_begin(&w);
	json_out_key(&w, "changed");
	json_out_uint(&w, (unsigned) r);
	json_out_key(&w, "alerts");
	json_out_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		alert_json(alerts_find(a->alerts, ids[i]), a->enf_cluster, &w);
	json_out_arr_end(&w);
	json_out_obj_end(&w);
	json_out_newline(&w);
	r = json_out_error(&w);
out:
	free(ids);
	json_decref(doc);
	return r < 0 ? r : 0;
}

static int dismiss_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	return set_state(ud, req, resp, ALERT_DISMISSED);
}

int agent_control_routes(struct agent *a, struct bh_err *reterr)
{
	int r = http_server_route(a->http, "POST", "/alerts/dismiss", 0, dismiss_cb, a);

	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: POST /alerts/dismiss: %s",
				  strerror(-r));
	return 0;
}
