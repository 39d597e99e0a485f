/*
 * A full build off the caller's thread (include/sync_build.h): one job,
 * one pthread, an eventfd written when it is done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "datapath.h"
#include "sync_build.h"
#include "worker_done.h"

struct sync_build {
	pthread_t th;
	int efd;
	atomic_bool cancel; /* the one field both threads touch */
	atomic_bool done; /* set by the worker last, before the eventfd */
	/* In: set before pthread_create(), the worker's while it runs. */
	struct cluster *c;
	struct ruleset_opts ro;
	char *node;
	struct datapath dp;
	struct nftio *nio; /* NULL when not sending */
	bool update; /* @rs is given: moved to @c, not built */
	bool update_maps;
	/* Out: written by the worker, read after pthread_join(). */
	struct ruleset *rs;
	struct rs_delta *delta;
	int r;
	struct bh_err err;
	struct sync_build_result res;
};

static void job_free(struct sync_build *b)
{
	ruleset_free(b->rs);
	rs_delta_free(b->delta);
	cluster_free(b->c);
	nftio_free(b->nio);
	free(b->node);
	if (b->efd >= 0)
		close(b->efd);
	free(b);
}

/* The worker's failure: what failed into @why. */
static void *job_fail(struct sync_build *b, const char *what, int r)
{
	(void) snprintf(b->res.why, sizeof(b->res.why), "%s", what);
	b->r = r;
	b->rs = ruleset_free(b->rs);
	return NULL;
}

static void *job_run(struct sync_build *b)
{
	uint64_t t0 = clock_mono_us();
	int r;

	if (b->update) {
		/* (on failure the ruleset may be half moved: dropped, the
		 * caller builds anew) */
		r = b->update_maps ? ruleset_update_maps(b->rs, b->c, &b->delta, &b->err) :
				     ruleset_update_all(b->rs, b->c, &b->delta, &b->err);
		b->res.build_us = clock_mono_us() - t0;
		if (r < 0)
			return job_fail(b, "updating the ruleset", r);
		b->res.outcome = SYNC_BUILD_UPDATED;
		return NULL;
	}
	r = ruleset_build(b->c, &b->ro, &b->rs, &b->err);
	b->res.build_us = clock_mono_us() - t0;
	if (r < 0)
		return job_fail(b, "compiling the cluster's policies", r);
	b->res.outcome = SYNC_BUILD_BUILT;
	if (!b->nio || atomic_load(&b->cancel))
		return NULL;
	t0 = clock_mono_us();
	r = nftio_table_holds(b->nio, b->rs, &b->err);
	if (r == -ESTALE) {
		(void) snprintf(b->res.why, sizeof(b->res.why), "%s", b->err.msg);
		b->err = (struct bh_err){ 0 };
		/* Last look before the batch: a cancelled job sends nothing. */
		if (atomic_load(&b->cancel))
			return NULL;
		r = nftio_replace(b->nio, b->rs, &b->err);
		if (r < 0)
			return job_fail(b, "replacing the table", r);
		b->res.outcome = SYNC_BUILD_REPLACED;
	} else if (r < 0) {
		return job_fail(b, "reading the kernel's table", r);
	} else {
		b->res.outcome = SYNC_BUILD_ADOPTED;
	}
	b->res.send_us = clock_mono_us() - t0;
	b->res.nftio = *nftio_stats(b->nio);
	return NULL;
}

static void *job_main(void *arg)
{
	struct sync_build *b = arg;

	(void) job_run(b);
	worker_done(&b->done, b->efd);
	return NULL;
}

int sync_build_start(struct cluster *c, const struct sync_build_opts *o, struct sync_build **ret,
		     struct bh_err *reterr)
{
	struct sync_build *b = calloc(1, sizeof(*b));
	int r;

	if (!b) {
		cluster_free(c);
		ruleset_free(o->update);
		return bh_err_oom(reterr);
	}
	b->efd = -1;
	b->c = c;
	b->rs = o->update;
	b->update = o->update != NULL;
	b->update_maps = o->update_maps;
	b->ro = *o->ruleset;
	b->node = o->ruleset->node ? strdup(o->ruleset->node) : NULL;
	if (o->ruleset->node && !b->node) {
		job_free(b);
		return bh_err_oom(reterr);
	}
	b->ro.node = b->node;
	if (o->ruleset->datapath) {
		b->dp = *o->ruleset->datapath;
		b->ro.datapath = &b->dp;
	}
	atomic_init(&b->cancel, false);
	atomic_init(&b->done, false);
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		r = -errno;
		job_free(b);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "eventfd: %s", strerror(-r));
	}
	if (o->send && !b->update) {
		r = nftio_open(&b->nio, reterr);
		if (r < 0) {
			job_free(b);
			return r;
		}
		if (o->fault != NFTIO_FAULT_NONE)
			nftio_inject_fault(b->nio, o->fault);
	}
	r = -pthread_create(&b->th, NULL, job_main, b);
	if (r < 0) {
		job_free(b);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r,
				  "starting the ruleset worker thread: %s", strerror(-r));
	}
	*ret = b;
	return 0;
}

int sync_build_fd(const struct sync_build *b)
{
	return b->efd;
}

bool sync_build_done(const struct sync_build *b)
{
	return atomic_load(&b->done);
}

int sync_build_finish(struct sync_build *b, struct sync_build_result *ret, struct bh_err *reterr)
{
	int r;

	(void) pthread_join(b->th, NULL);
	*ret = b->res;
	ret->rs = b->rs;
	ret->c = b->c;
	ret->delta = b->delta;
	b->rs = NULL;
	b->c = NULL;
	b->delta = NULL;
	r = b->r;
	if (r < 0)
		*reterr = b->err;
	job_free(b);
	return r;
}

struct sync_build *sync_build_cancel(struct sync_build *b)
{
	if (!b)
		return NULL;
	atomic_store(&b->cancel, true);
	(void) pthread_join(b->th, NULL);
	job_free(b);
	return NULL;
}

void sync_build_result_done(struct sync_build_result *r)
{
	if (!r)
		return;
	r->rs = ruleset_free(r->rs);
	r->c = cluster_free(r->c);
	r->delta = rs_delta_free(r->delta);
}
