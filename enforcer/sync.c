/*
 * The enforcer's sync object (include/sync.h): cluster changes in, one
 * netlink batch per flush out, the verdict-map refill debounced, and the
 * recovery decisions (ENFILE, a failed commit or update) made here.
 */
#include <errno.h>
#include <stdlib.h>

#include "nftio.h"
#include "ruleset.h"
#include "sync.h"

struct sync {
	struct ruleset *rs; /* borrowed */
	struct cluster *c; /* borrowed */
	struct nftio *nio; /* borrowed */
	uint64_t delay_ms, max_ms;
	bool full_by_caller;
	struct rs_delta *queue; /* owned; NULL when nothing is queued */
	/* The kernel may not hold what the ruleset says (a failed
	 * commit): the next flush replaces the table. */
	bool resync;
	/* The ruleset may not be the compiled cluster (a failed update):
	 * recompile before that replace. */
	bool rebuild;
	/* Refill: wanted, and whether a flush happened since the deadline
	 * was last computed (the debounce restarts then). */
	bool refill_wanted, refill_restamp, refill_first_set;
	uint64_t refill_first, refill_due;
	struct sync_stats st;
};

int sync_new(struct ruleset *rs, struct cluster *c, struct nftio *nio, const struct sync_opts *o,
	     struct sync **ret)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	*s = (struct sync){
		.rs = rs,
		.c = c,
		.nio = nio,
		.delay_ms = o && o->refill_delay_ms ? o->refill_delay_ms : SYNC_REFILL_DELAY_MS,
		.max_ms = o && o->refill_max_ms ? o->refill_max_ms : SYNC_REFILL_MAX_MS,
		.full_by_caller = o && o->full_by_caller,
	};
	*ret = s;
	return 0;
}

struct sync *sync_free(struct sync *s)
{
	if (!s)
		return NULL;
	rs_delta_free(s->queue);
	free(s);
	return NULL;
}

const struct sync_stats *sync_stats(const struct sync *s)
{
	return &s->st;
}

void sync_rebind(struct sync *s, struct cluster *c)
{
	s->c = c;
}

/* The result of one ruleset update: queue @d, or remember that the
 * ruleset and the kernel must be brought together in full. */
static int queue(struct sync *s, int r, struct rs_delta *d, struct bh_err *reterr)
{
	if (r < 0) {
		s->rebuild = s->resync = true;
		return r;
	}
	s->st.events++;
	r = rs_delta_append(&s->queue, d);
	if (r < 0) {
		rs_delta_free(d);
		s->resync = true; /* the ruleset moved, the kernel will not */
		return bh_err_oom(reterr);
	}
	return 0;
}

int sync_pod(struct sync *s, const struct pod *old, const struct pod *new, struct bh_err *reterr)
{
	struct rs_delta *d = NULL;
	int r;

	if ((!old && !new) || (old && new &&pod_compiled_equal(old, new)))
		return 0;
	r = ruleset_update_pod(s->rs, s->c, old, new, &d, reterr);
	return queue(s, r, d, reterr);
}

int sync_namespace(struct sync *s, const struct k8s_ns *old, const struct k8s_ns *new,
		   struct bh_err *reterr)
{
	struct rs_delta *d = NULL;
	int r;

	if ((!old && !new) || (old && new &&labels_equal(&old->labels, &new->labels)))
		return 0;
	r = ruleset_update_namespace(s->rs, s->c, new ? new->name : old->name, &d, reterr);
	return queue(s, r, d, reterr);
}

int sync_node(struct sync *s, const struct node *old, const struct node *new, struct bh_err *reterr)
{
	struct rs_delta *d = NULL;
	int r;

	if ((!old && !new) || (old && new &&node_compiled_equal(old, new)))
		return 0;
	/* No node-specific update: node addresses feed the base chains. */
	r = ruleset_update_all(s->rs, s->c, &d, reterr);
	return queue(s, r, d, reterr);
}

int sync_policy(struct sync *s, const struct netpol *old, const struct netpol *new,
		struct bh_err *reterr)
{
	const struct netpol *p = new ? new : old;
	struct rs_delta *d = NULL;
	int r;

	/* Policies have no cheap equality: an unchanged one yields no
	 * delta. */
	if (!p)
		return 0;
	r = ruleset_update_policy(s->rs, s->c, p->ns, p->name, &d, reterr);
	return queue(s, r, d, reterr);
}

int sync_delta(struct sync *s, struct rs_delta *d, struct bh_err *reterr)
{
	return queue(s, 0, d, reterr);
}

/* The table replaced from the ruleset (recompiled first when an update
 * failed), whatever the kernel holds. */
static int flush_resync(struct sync *s, struct bh_err *reterr)
{
	struct rs_delta *d = NULL;
	int r;

	if (s->rebuild) {
		r = ruleset_update_maps(s->rs, s->c, &d, reterr);
		rs_delta_free(d);
		if (r < 0)
			return r;
		s->rebuild = false;
	}
	r = nftio_replace(s->nio, s->rs, reterr);
	if (r < 0)
		return r;
	s->resync = false;
	s->st.resyncs++;
	return 1;
}

int sync_flush(struct sync *s, struct bh_err *reterr)
{
	struct rs_delta *d = s->queue;
	int r;

	s->queue = NULL;
	if (s->full_by_caller &&
	    (s->resync || (d && (ruleset_delta_fit(s->rs, d) || rs_delta_is_full(d))))) {
		/* (the caller replaces the table from the cluster) */
		rs_delta_free(d);
		s->resync = true;
		return SYNC_FLUSH_FULL;
	}
	if (s->resync) {
		rs_delta_free(d);
		r = flush_resync(s, reterr);
	} else if (!d) {
		return 0;
	} else {
		/* The queued deltas each fit the sets' sizes; together they
		 * may not (one batch counts every addition at once). */
		(void) ruleset_delta_fit(s->rs, d);
		s->st.objects += rs_delta_size(d);
		s->st.full += rs_delta_is_full(d);
		r = nftio_commit_delta(s->nio, s->rs, d, reterr);
		if (r == -ENFILE && s->full_by_caller) {
			rs_delta_free(d);
			s->resync = true;
			s->st.full_fallbacks++;
			return SYNC_FLUSH_FULL;
		}
		if (r == -ENFILE) {
			/* Nothing of the batch was applied: the kernel's
			 * sets are smaller than the ruleset says.  Fit them
			 * to what they hold and replace the table. */
			ruleset_refit_sizes(s->rs);
			s->st.full_fallbacks++;
			r = nftio_replace(s->nio, s->rs, reterr);
		}
		rs_delta_free(d);
		if (r < 0)
			s->resync = true;
		else
			r = 1;
	}
	if (r < 0)
		return r;
	s->st.batches++;
	if (ruleset_maps_missing(s->rs) > 0) {
		s->refill_wanted = true;
		s->refill_restamp = true;
	}
	return r;
}

int64_t sync_next_due_ms(struct sync *s, uint64_t now_ms)
{
	if (!s->refill_wanted)
		return -1;
	if (s->refill_restamp) {
		if (!s->refill_first_set) {
			s->refill_first = now_ms;
			s->refill_first_set = true;
		}
		s->refill_due = now_ms + s->delay_ms;
		if (s->refill_due > s->refill_first + s->max_ms)
			s->refill_due = s->refill_first + s->max_ms;
		s->refill_restamp = false;
	}
	return s->refill_due > INT64_MAX ? INT64_MAX : (int64_t) s->refill_due;
}

bool sync_refill_wanted(const struct sync *s)
{
	return s->refill_wanted;
}

int sync_refill(struct sync *s, struct bh_err *reterr)
{
	struct rs_delta *d = NULL;
	int r;

	s->refill_wanted = s->refill_restamp = s->refill_first_set = false;
	s->st.refilled = ruleset_maps_missing(s->rs);
	if (!s->st.refilled)
		return 0;
	s->st.refills++;
	r = ruleset_update_maps(s->rs, s->c, &d, reterr);
	if (r < 0) {
		s->rebuild = s->resync = true;
		return r;
	}
	r = rs_delta_append(&s->queue, d);
	if (r < 0) {
		rs_delta_free(d);
		s->resync = true;
		return bh_err_oom(reterr);
	}
	return 0;
}

int sync_tick(struct sync *s, uint64_t now_ms, struct bh_err *reterr)
{
	int64_t due = sync_next_due_ms(s, now_ms);
	int r;

	if (due < 0 || now_ms < (uint64_t) due)
		return 0;
	r = sync_refill(s, reterr);
	return r < 0 ? r : sync_flush(s, reterr);
}
