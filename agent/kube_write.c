/*
 * Create, update and patch with optimistic concurrency and conflict retries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "kube_write.h"

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
		     status ? "/status" : "") < 0)
		return -ENOMEM;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Maps an HTTP answer to 0 (@ret filled), or a negative errno with detail. */
static int answer(struct kube_client *c, const char *what, long status, struct buf *body,
		  json_t **ret, struct bh_err *reterr)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
	const char *msg = json_string_value(json_object_get(doc, "message"));
	int r;

	if (status == 200 || status == 201) {
		if (!json_is_object(doc)) {
			json_decref(doc);
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EBADMSG,
					  "API server '%s': %s: malformed response",
					  kube_client_server(c), what);
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
		   kube_client_server(c), what, status, msg ? ": " : "", msg ? msg : "");
	json_decref(doc);
	return r;
}

static bool retryable(long status)
{
	return status == 409 || status == 429 || status == 500 || status == 503 || status == 504;
}

static int call(struct kube_client *c, const char *method, const char *path, json_t *body,
		const char *ctype, const char *what, long *ret_status, json_t **ret,
		struct bh_err *reterr)
{
	struct buf resp;
	char *text = NULL;
	long status = 0;
	int r;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return bh_err_oom(reterr);
	}
	write_stats.attempts++;
	r = kube_client_call(c, method, path, text, ctype, KUBE_WRITE_RESPONSE_MAX,
			     KUBE_WRITE_TIMEOUT_S, &resp, &status, reterr);
	free(text);
	if (r < 0)
		return r;
	*ret_status = status;
	if (status == 409)
		write_stats.conflicts++;
	r = answer(c, what, status, &resp, ret, reterr);
	buf_done(&resp);
	return r;
}

int kube_write_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj, json_t **ret,
		      struct bh_err *reterr)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	char *path = NULL, what[256];
	json_t *out = NULL;
	long status = 0;
	int r;

	if (object_path(ref, NULL, false, &path) < 0)
		return bh_err_oom(reterr);
	(void) snprintf(what, sizeof(what), "create %s '%s%s%s'", ref->resource,
			ref->ns ? ref->ns : "", ref->ns ? "/" : "", name ? name : "");
	for (unsigned i = 0;; i++) {
		r = call(c, "POST", path, obj, "application/json", what, &status, &out, reterr);
		if (r >= 0 || status == 409 || !retryable(status) || i + 1 >= KUBE_WRITE_RETRIES)
			break;
		sleep_ms(20u << i);
	}
	free(path);
	if (r == -EBUSY)
		r = -EEXIST;
	if (r < 0) {
		if (reterr)
			reterr->code = r;
		return r;
	}
	if (ret)
		*ret = out;
	else
		json_decref(out);
	return 0;
}

int kube_write_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
		      bool status_sub, kube_write_mutate_fn *fn, void *ud, json_t **ret,
		      struct bh_err *reterr)
{
	char *path = NULL, *spath = NULL, what[256];
	json_t *cur = NULL, *out = NULL;
	long status = 0;
	int r;

	if (object_path(ref, name, false, &path) < 0 || object_path(ref, name, true, &spath) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	(void) snprintf(what, sizeof(what), "update %s '%s%s%s'", ref->resource,
			ref->ns ? ref->ns : "", ref->ns ? "/" : "", name);
	for (unsigned i = 0;; i++) {
		json_decref(cur);
		cur = NULL;
		r = call(c, "GET", path, NULL, NULL, what, &status, &cur, reterr);
		if (r < 0)
			goto out;
		/* The GET's metadata.resourceVersion stays in the object: the
		 * PUT is refused with 409 if anyone wrote in between. */
		r = fn(ud, cur);
		if (r < 0) {
			bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s: %s", what, strerror(-r));
			goto out;
		}
		if (r == 1) {
			out = json_incref(cur);
			r = 0;
			break;
		}
		r = call(c, "PUT", status_sub ? spath : path, cur, "application/json", what,
			 &status, &out, reterr);
		if (r >= 0 || !retryable(status))
			break;
		if (i + 1 >= KUBE_WRITE_RETRIES) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -EBUSY,
				       "API server '%s': %s: still conflicting after %d attempts",
				       kube_client_server(c), what, KUBE_WRITE_RETRIES);
			break;
		}
		sleep_ms(10u << i);
	}
	if (r >= 0 && ret) {
		*ret = out;
		out = NULL;
	}
out:
	json_decref(out);
	json_decref(cur);
	free(path);
	free(spath);
	return r;
}

int kube_write_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
		     bool status_sub, json_t *patch, const char *rv, json_t **ret,
		     struct bh_err *reterr)
{
	char *path = NULL, what[256];
	json_t *body = NULL, *out = NULL, *md;
	long status = 0;
	int r;

	if (object_path(ref, name, status_sub, &path) < 0)
		return bh_err_oom(reterr);
	(void) snprintf(what, sizeof(what), "patch %s '%s%s%s'", ref->resource,
			ref->ns ? ref->ns : "", ref->ns ? "/" : "", name);
	body = json_deep_copy(patch);
	if (!json_is_object(body)) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: a merge patch is an object",
			       what);
		goto out;
	}
	if (rv) {
		md = json_object_get(body, "metadata");
		if (!md) {
			md = json_object();
			if (!md || json_object_set_new(body, "metadata", md) < 0) {
				r = bh_err_oom(reterr);
				goto out;
			}
		}
		if (!json_is_object(md) ||
		    json_object_set_new(md, "resourceVersion", json_string(rv)) < 0) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: bad metadata", what);
			goto out;
		}
	}
	for (unsigned i = 0;; i++) {
		r = call(c, "PATCH", path, body, "application/merge-patch+json", what, &status,
			 &out, reterr);
		if (r >= 0 || !retryable(status))
			break;
		if (status == 409 && rv) {
			r = -ESTALE;
			if (reterr)
				reterr->code = r;
			break;
		}
		if (i + 1 >= KUBE_WRITE_RETRIES)
			break;
		sleep_ms(10u << i);
	}
	if (r >= 0 && ret) {
		*ret = out;
		out = NULL;
	}
out:
	json_decref(out);
	json_decref(body);
	free(path);
	return r;
}
