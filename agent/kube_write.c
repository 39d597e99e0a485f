/*
 * Create, update and patch with optimistic concurrency and retries, as a
 * small state machine on the client's loop: each attempt is one request of
 * the multi handle (two for an update: GET then PUT), its answer decides
 * the next step, and the wait before a retry is a client timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kube_write.h"

enum write_op {
	WRITE_CREATE,
	WRITE_UPDATE,
	WRITE_PATCH,
};

struct kube_write {
	struct kube_client *c;
	enum write_op op;
	char *path; /* of the object (the collection for a create) */
	char *put_path; /* update: where the PUT goes (the object or its status) */
	char *body; /* create, patch: the serialised request body */
	char what[256]; /* "update pods 'x/a'", for messages */
	bool with_rv; /* patch: guarded by a resourceVersion */
	kube_write_mutate_fn *fn;
	kube_write_done_fn *done;
	void *ud;
	unsigned attempt; /* attempts started, from 1 */
	bool reading; /* update: the GET is in flight */
	bool auth_retried; /* one 401 was answered with a fresh credential */
	struct kube_request *req;
	struct kube_timer backoff;
	struct buf resp;
	bool toobig;
};

static struct kube_write_stats write_stats;

void kube_write_stats_get(struct kube_write_stats *ret)
{
	*ret = write_stats;
}

static int object_path(const struct kube_ref *ref, const char *name, bool status, char **ret)
{
	bool core = !ref->group || !ref->group[0];

	if (asprintf(ret, "/%s%s%s/%s%s%s/%s%s%s%s", core ? "api" : "apis/", core ? "" : ref->group,
		     core ? "" : "", ref->version, ref->ns ? "/namespaces/" : "",
		     ref->ns ? ref->ns : "", ref->resource, name ? "/" : "", name ? name : "",
		     status ? "/status" : "") < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static bool retryable(long status)
{
	return status == 409 || status == 429 || status == 500 || status == 503 || status == 504;
}

static void write_free(struct kube_write *w)
{
	kube_request_cancel(w->req);
	kube_timer_disarm(w->c, &w->backoff);
	buf_done(&w->resp);
	free(w->path);
	free(w->put_path);
	free(w->body);
	free(w);
}

struct kube_write *kube_write_cancel(struct kube_write *w)
{
	if (w)
		write_free(w);
	return NULL;
}

/* Ends @w: one callback, then it is gone. */
static void finish(struct kube_write *w, int r, json_t *obj, const struct bh_err *err)
{
	if (w->done)
		w->done(w->ud, r, r < 0 ? NULL : obj, err);
	write_free(w);
}

static void finish_err(struct kube_write *w, const struct bh_err *err)
{
	finish(w, err->code < 0 ? err->code : -EIO, NULL, err);
}

/* Maps an HTTP answer to 0 (@ret filled), or a negative errno with detail. */
static int answer(struct kube_write *w, long status, json_t **ret, struct bh_err *reterr)
{
	json_error_t jerr;
	json_t *doc = json_loadb(w->resp.data ? w->resp.data : "", w->resp.len, 0, &jerr);
	const char *msg = json_string_value(json_object_get(doc, "message"));
	int r;

	if (status == 200 || status == 201) {
		if (!json_is_object(doc)) {
			json_decref(doc);
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
					  "API server '%s': %s: malformed response",
					  kube_client_server(w->c), w->what);
		}
		*ret = doc;
		return 0;
	}
	switch (status) {
	case 409:
		r = -EBUSY;
		break;
	case 404:
		r = -ENOENT;
		break;
	case 401:
	case 403:
		r = -EACCES;
		break;
	case 400:
	case 422:
		r = -EINVAL;
		break;
	default:
		r = -EIO;
		break;
	}
	bh_err_set(reterr, BH_ERR_SYSTEM, r, "API server '%s': %s: HTTP %ld%s%s",
		   kube_client_server(w->c), w->what, status, msg ? ": " : "", msg ? msg : "");
	json_decref(doc);
	return r;
}

static size_t resp_data_cb(void *ud, const char *p, size_t n)
{
	struct kube_write *w = ud;

	if (buf_append(&w->resp, p, n) < 0) {
		w->toobig = true;
		return 0; /* curl stops the transfer: done with -ECANCELED */
	}
	return n;
}

static void resp_done_cb(void *ud, int r, long status, const char *msg);

static int request_send(struct kube_write *w, const char *method, const char *path,
			const char *body, const char *ctype)
{
	const struct kube_request_opts o = {
		.method = method,
		.path = path,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.content_type = ctype,
		.timeout_s = KUBE_WRITE_TIMEOUT_S,
		.data_cb = resp_data_cb,
		.done_cb = resp_done_cb,
		.ud = w,
	};

	buf_reset(&w->resp);
	w->toobig = false;
	write_stats.attempts++;
	return kube_request_start(w->c, &o, &w->req);
}

/* Sends the request of the current step: the first one of an attempt,
 * or the same one again after a 401. */
static int step_send(struct kube_write *w)
{
	switch (w->op) {
	case WRITE_CREATE:
		return request_send(w, "POST", w->path, w->body, "application/json");
	case WRITE_PATCH:
		return request_send(w, "PATCH", w->path, w->body, "application/merge-patch+json");
	case WRITE_UPDATE:
	default:
		w->reading = true;
		return request_send(w, "GET", w->path, NULL, NULL);
	}
}

static void start_failed(struct kube_write *w, int r)
{
	struct bh_err err = { 0 };

	if (r == -ENOMEM)
		(void) bh_err_oom(&err);
	else
		(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "API server '%s': %s: %s",
				  kube_client_server(w->c), w->what, strerror(-r));
	finish_err(w, &err);
}

static void backoff_cb(void *ud)
{
	struct kube_write *w = ud;
	int r;

	w->attempt++;
	r = step_send(w);
	if (r < 0)
		start_failed(w, r);
}

/* After a retryable answer: the next attempt after the backoff, or the end. */
static void retry_or_finish(struct kube_write *w, long status, const struct bh_err *err)
{
	struct bh_err busy = { 0 };

	if (w->attempt >= KUBE_WRITE_RETRIES) {
		if (status == 409 && w->op == WRITE_UPDATE) {
			(void) bh_err_set(
				&busy, BH_ERR_SYSTEM, -EBUSY,
				"API server '%s': %s: still conflicting after %d attempts",
				kube_client_server(w->c), w->what, KUBE_WRITE_RETRIES);
			err = &busy;
		}
		finish_err(w, err);
		return;
	}
	write_stats.retries++;
	kube_timer_arm(w->c, &w->backoff, (uint64_t) KUBE_WRITE_BACKOFF_MS << (w->attempt - 1),
		       backoff_cb, w);
}

/* The GET of an update answered with @cur: mutate it and PUT it. */
static void update_put(struct kube_write *w, json_t *cur)
{
	struct bh_err err = { 0 };
	char *text;
	int r;

	/* The GET's metadata.resourceVersion stays in the object: the PUT
	 * is refused with 409 if anyone wrote in between. */
	r = w->fn ? w->fn(w->ud, cur) : 0;
	if (r < 0) {
		(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "%s: %s", w->what, strerror(-r));
		finish_err(w, &err);
		return;
	}
	if (r == 1) {
		finish(w, 0, cur, NULL);
		return;
	}
	text = json_dumps(cur, JSON_COMPACT);
	if (!text) {
		start_failed(w, -ENOMEM);
		return;
	}
	w->reading = false;
	r = request_send(w, "PUT", w->put_path, text, "application/json");
	free(text); /* the request copied it */
	if (r < 0)
		start_failed(w, r);
}

static void resp_done_cb(void *ud, int r, long status, const char *msg)
{
	struct kube_write *w = ud;
	struct bh_err err = { 0 };
	json_t *doc = NULL;

	w->req = NULL; /* freed by the client after we return */
	if (r < 0) {
		if (w->toobig)
			(void) bh_err_set(&err, BH_ERR_SYSTEM, -E2BIG,
					  "API server '%s': %s: response larger than %u bytes",
					  kube_client_server(w->c), w->what,
					  KUBE_WRITE_RESPONSE_MAX);
		else
			(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "%s (%s)", msg, w->what);
		finish_err(w, &err);
		return;
	}
	if (status == 401 && !w->auth_retried) {
		/* The client marked its credential stale (a rotated token
		 * file, a revoked exec credential): one more try with a fresh
		 * one, as client-go does. */
		w->auth_retried = true;
		r = step_send(w); /* a refused PUT: again from the GET */
		if (r < 0)
			start_failed(w, r);
		return;
	}
	if (status == 409)
		write_stats.conflicts++;
	r = answer(w, status, &doc, &err);
	if (r >= 0) {
		if (w->op == WRITE_UPDATE && w->reading)
			update_put(w, doc);
		else
			finish(w, 0, doc, NULL);
		json_decref(doc);
		return;
	}
	if (w->op == WRITE_UPDATE && w->reading) {
		finish_err(w, &err); /* a failed GET is not retried */
		return;
	}
	if (status == 409 && w->op == WRITE_CREATE) {
		err.code = -EEXIST;
		finish_err(w, &err);
		return;
	}
	if (status == 409 && w->op == WRITE_PATCH && w->with_rv) {
		err.code = -ESTALE;
		finish_err(w, &err);
		return;
	}
	if (!retryable(status)) {
		finish_err(w, &err);
		return;
	}
	retry_or_finish(w, status, &err);
}

static int write_new(struct kube_client *c, enum write_op op, const struct kube_ref *ref,
		     const char *name, kube_write_done_fn *done, void *ud, struct kube_write **ret,
		     struct bh_err *reterr)
{
	static const char *const verbs[] = { "create", "update", "patch" };
	struct kube_write *w = calloc(1, sizeof(*w));

	if (!w)
		return bh_err_oom(reterr);
	w->c = c;
	w->op = op;
	w->done = done;
	w->ud = ud;
	w->attempt = 1;
	buf_init(&w->resp, KUBE_WRITE_RESPONSE_MAX);
	(void) snprintf(w->what, sizeof(w->what), "%s %s '%s%s%s'", verbs[op], ref->resource,
			ref->ns ? ref->ns : "", ref->ns ? "/" : "", name ? name : "");
	*ret = w;
	return 0;
}

/* Sends the first request; on failure frees @w and sets @reterr. */
static int write_start(struct kube_write *w, struct kube_write **ret, struct bh_err *reterr)
{
	int r = step_send(w);

	if (r < 0) {
		if (r == -ENOMEM)
			(void) bh_err_oom(reterr);
		else
			(void) bh_err_set(reterr, BH_ERR_SYSTEM, r, "API server '%s': %s: %s",
					  kube_client_server(w->c), w->what, strerror(-r));
		write_free(w);
		return r;
	}
	if (ret)
		*ret = w;
	return 0;
}

int kube_write_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj,
		      kube_write_done_fn *done, void *ud, struct kube_write **ret,
		      struct bh_err *reterr)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	struct kube_write *w;
	int r;

	r = write_new(c, WRITE_CREATE, ref, name, done, ud, &w, reterr);
	if (r < 0)
		return r;
	if (object_path(ref, NULL, false, &w->path) < 0 ||
	    !(w->body = json_dumps(obj, JSON_COMPACT))) {
		write_free(w);
		return bh_err_oom(reterr);
	}
	return write_start(w, ret, reterr);
}

int kube_write_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
		      bool status, kube_write_mutate_fn *fn, kube_write_done_fn *done, void *ud,
		      struct kube_write **ret, struct bh_err *reterr)
{
	struct kube_write *w;
	int r;

	r = write_new(c, WRITE_UPDATE, ref, name, done, ud, &w, reterr);
	if (r < 0)
		return r;
	w->fn = fn;
	if (object_path(ref, name, false, &w->path) < 0 ||
	    object_path(ref, name, status, &w->put_path) < 0) {
		write_free(w);
		return bh_err_oom(reterr);
	}
	return write_start(w, ret, reterr);
}

int kube_write_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
		     bool status, json_t *patch, const char *rv, kube_write_done_fn *done, void *ud,
		     struct kube_write **ret, struct bh_err *reterr)
{
	struct kube_write *w;
	json_t *body = NULL, *md;
	int r;

	r = write_new(c, WRITE_PATCH, ref, name, done, ud, &w, reterr);
	if (r < 0)
		return r;
	w->with_rv = rv != NULL;
	if (object_path(ref, name, status, &w->path) < 0) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	body = json_deep_copy(patch);
	if (!json_is_object(body)) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: a merge patch is an object",
			       w->what);
		goto fail;
	}
	if (rv) {
		md = json_object_get(body, "metadata");
		if (!md) {
			md = json_object();
			if (!md || json_object_set_new(body, "metadata", md) < 0) {
				r = bh_err_oom(reterr);
				goto fail;
			}
		}
		if (!json_is_object(md) ||
		    json_object_set_new(md, "resourceVersion", json_string(rv)) < 0) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: bad metadata", w->what);
			goto fail;
		}
	}
	w->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	body = NULL;
	if (!w->body) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	return write_start(w, ret, reterr);
fail:
	json_decref(body);
	write_free(w);
	return r;
}
