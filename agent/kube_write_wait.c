/*
 * The CLI's blocking writes: an asynchronous write, and the client run
 * until its done callback has fired.
 */
#include <errno.h>
#include <string.h>

#include "kube_write_wait.h"

/* Between two looks at the flag; the client's own deadlines come first. */
#define WAIT_POLL_MS 1000

struct waiter {
	bool done;
	int r;
	json_t *obj;
	struct bh_err err;
	kube_write_mutate_fn *fn;
	void *ud;
};

static void waiter_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct waiter *x = ud;

	x->done = true;
	x->r = r;
	x->obj = obj ? json_incref(obj) : NULL;
	if (err)
		x->err = *err;
}

static int waiter_mutate_cb(void *ud, json_t *obj)
{
	struct waiter *x = ud;

	return x->fn ? x->fn(x->ud, obj) : 0;
}

static int wait_for(struct kube_client *c, struct kube_write *w, struct waiter *x, json_t **ret,
		    struct bh_err *reterr)
{
	int r;

	while (!x->done) {
		r = kube_client_run(c, WAIT_POLL_MS);
		if (r < 0) {
			(void) kube_write_cancel(w);
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "kube client: %s",
					  strerror(-r));
		}
	}
	if (x->r < 0) {
		if (reterr)
			*reterr = x->err;
		json_decref(x->obj);
		return x->r;
	}
	if (ret)
		*ret = x->obj;
	else
		json_decref(x->obj);
	return 0;
}

int kube_write_wait_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj,
			   json_t **ret, struct bh_err *reterr)
{
	struct waiter x = { 0 };
	struct kube_write *w;
	int r;

	r = kube_write_create(c, ref, obj, waiter_done_cb, &x, &w, reterr);
	return r < 0 ? r : wait_for(c, w, &x, ret, reterr);
}

int kube_write_wait_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
			   bool status, kube_write_mutate_fn *fn, void *ud, json_t **ret,
			   struct bh_err *reterr)
{
	struct waiter x = { .fn = fn, .ud = ud };
	struct kube_write *w;
	int r;

	r = kube_write_update(c, ref, name, status, waiter_mutate_cb, waiter_done_cb, &x, &w,
			      reterr);
	return r < 0 ? r : wait_for(c, w, &x, ret, reterr);
}

int kube_write_wait_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
			  bool status, json_t *patch, const char *rv, json_t **ret,
			  struct bh_err *reterr)
{
	struct waiter x = { 0 };
	struct kube_write *w;
	int r;

	r = kube_write_patch(c, ref, name, status, patch, rv, waiter_done_cb, &x, &w, reterr);
	return r < 0 ? r : wait_for(c, w, &x, ret, reterr);
}
