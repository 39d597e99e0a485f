/*
 * The agent's enforcement: table inet bulkhead kept in step with every
 * NetworkPolicy of the cluster for the node's pods, through the sync
 * object (include/sync.h), in enforce mode.
 *
 * Taking the table.  Nothing is sent until the cluster source has given a
 * whole cluster (the API server listed, or the --snapshot files read):
 * whatever table the kernel holds stays as it is, never flushed, never
 * replaced by the ruleset of an empty cluster.  With the first whole view
 * the ruleset is built off the loop (include/sync_build.h): a copy of the
 * cluster, made in steps of AGENT_ENFORCE_COPY_CHUNK pods so that no loop
 * turn waits for all of it, goes to a worker thread, which compiles it (about a second at
 * 10,000 pods and 1,000 policies) and adopts the kernel's table when it
 * is what a full apply of that ruleset put there (nftio_table_holds():
 * its digest comment, and no delta since; nothing sent), else replaces it
 * in one batch (nftio_replace()): atomically, no moment without a table.
 * The loop takes the result over when the worker's eventfd fires
 * (enf_job_cb()); only then is there a ruleset and a sync object.  After a
 * restart that follows incremental batches the table has deltas in it,
 * so it is replaced (with the same verdicts), not adopted.
 *
 * Every full replace goes that way: the retry after a failed batch, a
 * delta that needs the table replaced (ENFILE, or a change beyond what a
 * delta says: the sync object runs with full_by_caller and returns
 * SYNC_FLUSH_FULL), a --snapshot reload that failed half way.  While the
 * worker runs no batch is sent from the loop (never two in the kernel at
 * once) and events are remembered: pod changes are caught up when the
 * result comes, by the diff from the copy to the cluster now
 * (sync_cluster_diff(), one batch); a namespace, node or policy change,
 * or a reload, builds again from the cluster then.
 *
 * Keeping it in step.  Every cache event is handed to the sync object as
 * old and new (agent_enforce_event()); what one turn of the API client
 * brought is flushed as one batch (agent_enforce_step(), called by
 * agent_source.c after each turn).  A --snapshot reload is diffed against
 * the enforcement's own copy of the cluster (sync_cluster_diff()), one
 * batch; a diff that fails half way replaces the table in full from the
 * files.  The verdict-map refill (debounced) runs on a timer armed at
 * sync_next_due_ms().
 *
 * Changes that recompile.  A policy event, a namespace's labels, a node's
 * addresses and the refill each compile the whole cluster
 * (ruleset_update_all()): about 100 ms at 10,000 pods and 1,000 policies,
 * more on a loaded machine.  When the last compile measured took more than
 * AGENT_ENFORCE_LOOP_COMPILE_MAX_US, such a change is an update job
 * (enf_update()): the same copy in steps and worker thread as a build, but
 * the worker moves the ruleset the kernel holds to the copy and returns
 * the delta, which the loop sends with the pods caught up as one
 * incremental batch (the table and its counters stay).  Below it, and
 * for pod events, the change is made on the loop.
 *
 * Failures.  A failed update or batch is logged (once while it repeats),
 * counted, and named in /readyz; the kernel keeps what it had and the sync
 * object replaces the table in full at the next flush, which the timer
 * brings AGENT_ENFORCE_RETRY_MS later when no event comes first.  While the
 * API server is unreachable no event comes: the table stays as it is (fail
 * static); the relist's events, deletions included, catch it up.
 *
 * SIGTERM: agent_enforce_stop() tells a running worker to send nothing
 * more, joins it and frees the objects; the table stays as the kernel
 * holds it (a batch already sent was applied whole).
 * BULKHEAD_FAULT_INJECT=commit makes every batch fail in the kernel
 * (tests: /readyz and a table left as it was).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "clock.h"
#include "cluster.h"
#include "datapath.h"
#include "json_out.h"
#include "kube_cache.h"
#include "labels.h"
#include "log.h"
#include "metrics.h"
#include "nftio.h"
#include "ruleset.h"
#include "sync.h"
#include "sync_build.h"

/* Remembers a failure for /readyz and logs it once while it repeats. */
static void enf_fail(struct agent *a, const char *what, const struct bh_err *err)
{
	char msg[BH_ERR_MSG_MAX];

	/* (bounded: the whole fits one message) */
	(void) snprintf(msg, sizeof(msg), "%.160s: %.300s%s", what, err->kind ? err->msg : "failed",
			err->code == -EPERM && !strstr(err->msg, "CAP_NET_ADMIN") ?
				" (needs CAP_NET_ADMIN, or --no-enforce)" :
				"");
	a->enf_errors++;
	if (strcmp(a->enf_err, msg) != 0)
		log_err("agent: enforcement: %s; the kernel keeps the table it has", msg);
	(void) snprintf(a->enf_err, sizeof(a->enf_err), "%s", msg);
}

static void enf_ok(struct agent *a)
{
	if (a->enf_err[0])
		log_notice("agent: enforcement: the table is in step with the cluster again");
	a->enf_err[0] = '\0';
	a->enf_retry = false;
	a->enf_last = time(NULL);
}

/* The table's comment into a->enf_digest and the info metric. */
static void enf_digest_read(struct agent *a)
{
	struct bh_err err = { 0 };
	char buf[sizeof(a->enf_digest)];
	const char *v[1] = { buf };

	if (nftio_table_comment(a->nio, buf, sizeof(buf), &err) != 1)
		return;
	if (strcmp(buf, a->enf_digest) == 0 && a->m_enf_info)
		return;
	metrics_series_remove(a->m_enf_info);
	a->m_enf_info = NULL;
	(void) snprintf(a->enf_digest, sizeof(a->enf_digest), "%s", buf);
	if (metrics_series_get(a->fam[METRICS_RULESET_INFO], v, &a->m_enf_info) == 0)
		metrics_gauge_set(a->m_enf_info, 1);
}

static void enf_observe_us(struct agent *a, bool full, uint64_t us)
{
	static const char *const kinds[2][1] = { { "incremental" }, { "full" } };
	struct metrics_series *m;
	double s = (double) us / 1e6;

	if (full)
		a->enf_full++;
	else
		a->enf_incr++;
	if (metrics_series_get(a->fam[METRICS_RULESET_PROGRAM_SECONDS], kinds[full], &m) == 0)
		metrics_histogram_observe(m, s);
	if (metrics_series_get(a->fam[METRICS_RULESET_BATCHES], kinds[full], &m) == 0)
		metrics_counter_add(m, 1);
}

static void enf_observe(struct agent *a, bool full, uint64_t t0_us)
{
	enf_observe_us(a, full, clock_mono_us() - t0_us);
}

static void enf_gauges(struct agent *a)
{
	struct metrics_series *m;

	if (metrics_series_get(a->fam[METRICS_RULESET_ERRORS], NULL, &m) == 0)
		metrics_counter_set(m, a->enf_errors);
	if (metrics_series_get(a->fam[METRICS_RULESET_LAST_SYNC], NULL, &m) == 0)
		metrics_gauge_set(m, (double) a->enf_last);
	if (metrics_series_get(a->fam[METRICS_RULESET_RESYNCS], NULL, &m) == 0)
		metrics_counter_set(m, a->enf_resyncs);
}

/*
 * The node's datapath, read from its network namespace as `bulkhead
 * apply` does by default: *@ret NULL (routed: the inet table alone) when
 * it cannot be read.  Read once, when the ruleset is built.
 */
static void enf_datapath(struct agent *a, const struct cluster *c, struct datapath *dp,
			 const struct datapath **ret)
{
	struct datapath_facts f;
	struct bh_err err = { 0 };
	struct addr *pods;
	char line[512];
	size_t n = 0;

	*ret = NULL;
	for (size_t i = 0; i < c->n_pods; i++)
		if (c->pods[i].node && strcmp(c->pods[i].node, a->cfg.node) == 0 &&
		    !c->pods[i].host_network && !pod_finished(&c->pods[i]))
			n += c->pods[i].n_ips;
	pods = calloc(n ? n : 1, sizeof(*pods));
	if (!pods)
		return;
	n = 0;
	for (size_t i = 0; i < c->n_pods; i++)
		if (c->pods[i].node && strcmp(c->pods[i].node, a->cfg.node) == 0 &&
		    !c->pods[i].host_network && !pod_finished(&c->pods[i]))
			for (size_t k = 0; k < c->pods[i].n_ips; k++)
				pods[n++] = c->pods[i].ips[k];
	if (datapath_gather(&f, &err) < 0) {
		log_warning("agent: enforcement: the datapath cannot be read (%s); compiling for "
			    "a routed one",
			    err.msg);
		datapath_facts_done(&f);
		free(pods);
		return;
	}
	datapath_detect(&f, pods, n, dp);
	datapath_facts_done(&f);
	free(pods);
	*ret = dp;
	(void) datapath_describe(dp, line, sizeof(line));
	if (datapath_blind(dp))
		log_warning("agent: enforcement: %s", line);
	else
		log_info("agent: enforcement: %s", line);
}

/* The cluster now: the cache's once it has listed, or the snapshot
 * files' (NULL when there is none yet). */
static struct cluster *enf_source(struct agent *a)
{
	if (a->cache)
		return a->synced ? kube_cache_cluster(a->cache) : NULL;
	return a->snap;
}

static void enf_drop(struct agent *a)
{
	loop_timer_disarm(&a->enf_timer);
	if (a->sync)
		a->enf_events += sync_stats(a->sync)->events;
	a->sync = sync_free(a->sync);
	a->enf_turn = 0;
	a->rs = ruleset_free(a->rs);
	if (a->enf_own) {
		a->enf_cluster = cluster_free(a->enf_cluster);
		/* (whoever holds on to it, e.g. the alerts' engine, sees
		 * a change) */
		a->cluster_gen++;
	}
	a->enf_cluster = NULL;
	a->enf_own = false;
}

static enum nftio_fault enf_fault(void)
{
	const char *fault = getenv("BULKHEAD_FAULT_INJECT");

	return fault && strcmp(fault, "commit") == 0 ? NFTIO_FAULT_MESSAGE : NFTIO_FAULT_NONE;
}

static void enf_job_cb(struct loop_io *io, uint32_t revents);
static void enf_take(struct agent *a);
static void enf_copy_start(struct agent *a, const struct cluster *src);

static void enf_take_fail(struct agent *a, const char *what, struct bh_err *err)
{
	enf_fail(a, what, err);
	a->enf_copy = cluster_free(a->enf_copy);
	a->enf_upd_rs = ruleset_free(a->enf_upd_rs); /* (the retry builds anew) */
	loop_timer_disarm(&a->enf_copy_timer);
	a->enf_retry = true;
	(void) loop_timer_arm_in(&a->enf_timer, AGENT_ENFORCE_RETRY_MS);
}

/* The copy is whole: the worker starts on it. */
static void enf_job_start(struct agent *a, const struct cluster *src)
{
	struct ruleset_opts o = {
		.node = a->cfg.node,
		.mode = a->cfg.policy_preview ? BH_MODE_PREVIEW : BH_MODE_ENFORCE,
		.nflog_group = a->cfg.nflog_group,
		.nflog_group_set = true,
	};
	struct sync_build_opts bo = {
		.ruleset = &o,
		.send = true,
		.fault = enf_fault(),
		.update = a->enf_upd_rs,
		.update_maps = a->enf_upd_maps,
	};
	struct cluster *copy = a->enf_copy;
	struct datapath dp = { 0 };
	struct bh_err err = { 0 };
	uint64_t t0 = clock_mono_us();
	int r;

	a->enf_copy = NULL;
	a->enf_upd_rs = NULL;
	/* (an update keeps the datapath its ruleset was built for) */
	if (!bo.update)
		enf_datapath(a, src, &dp, &o.datapath);
	r = sync_build_start(copy, &bo, &a->enf_job, &err);
	if (r < 0) {
		enf_take_fail(a, "starting the ruleset build", &err);
		return;
	}
	r = loop_io_add(a->loop, &a->enf_job_io, sync_build_fd(a->enf_job), EPOLLIN, enf_job_cb);
	if (r < 0) {
		a->enf_job = sync_build_cancel(a->enf_job);
		(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "epoll: %s", strerror(-r));
		enf_take_fail(a, "watching the ruleset build", &err);
		return;
	}
	log_info("agent: enforcement: %s %zu pods, %zu policies in a worker thread (on the "
		 "loop: the copy %.1f ms in %u steps, the datapath and the start %.1f ms)",
		 !bo.update	? "compiling" :
		 bo.update_maps ? "refilling the verdict maps for" :
				  "updating the ruleset for",
		 src->n_pods, src->n_policies, (double) a->enf_copy_us / 1e3, a->enf_copy_steps,
		 (double) (clock_mono_us() - t0) / 1e3);
}

/* One step of the copy: AGENT_ENFORCE_COPY_CHUNK pods, then the loop
 * goes on; a change beyond pods meanwhile starts the copy again. */
static void enf_copy_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, enf_copy_timer);
	struct cluster *src = enf_source(a);
	struct bh_err err = { 0 };
	uint64_t t0 = clock_mono_us();
	int r;

	if (!a->enf_copy) {
		enf_take(a); /* (a burst settled) */
		return;
	}
	if (a->enf_job_redo || !src) {
		/* (an update starts again from the cluster now; with no
		 * cluster, enf_take() waits and builds anew) */
		a->enf_copy = cluster_free(a->enf_copy);
		if (a->enf_upd_rs && src)
			enf_copy_start(a, src);
		else
			enf_take(a);
		return;
	}
	r = cluster_copy_pods(a->enf_copy, src, AGENT_ENFORCE_COPY_CHUNK);
	a->enf_copy_us += clock_mono_us() - t0;
	a->enf_copy_steps++;
	if (r < 0) {
		(void) bh_err_oom(&err);
		enf_take_fail(a, "copying the cluster", &err);
	} else if (r == 0) {
		if (loop_timer_arm_in(&a->enf_copy_timer, 0) < 0) {
			(void) bh_err_oom(&err);
			enf_take_fail(a, "copying the cluster", &err);
		}
	} else {
		enf_job_start(a, src);
	}
}

/*
 * A full build: the first whole cluster, or a rebuild (a failed batch, a
 * delta that needs a full replace, a reload that failed half way).  The
 * sync object and its ruleset are dropped (the kernel keeps its table);
 * the cluster is copied in steps of AGENT_ENFORCE_COPY_CHUNK pods, one
 * loop turn each (enf_copy_cb()), and the copy goes to a worker thread,
 * which compiles it and takes the table (adopted when the kernel's table
 * holds exactly that, else replaced in one batch); enf_job_cb() takes the
 * result over on the loop.  On failure to start, the retry timer tries
 * again.
 */
static void enf_take(struct agent *a)
{
	struct cluster *src = enf_source(a);

	if (a->enf_job || a->enf_copy || !src)
		return; /* (not read whole yet: the next step) */
	a->enf_upd_rs = ruleset_free(a->enf_upd_rs);
	enf_drop(a);
	enf_copy_start(a, src);
}

/* The copy of @src begins (its first step in this turn), for the job
 * @a->enf_upd_rs says: an update, or a full build.  What comes from now
 * on is noted (enf_job_note()). */
static void enf_copy_start(struct agent *a, const struct cluster *src)
{
	struct bh_err err = { 0 };
	uint64_t t0 = clock_mono_us();

	a->enf_job_pods = a->enf_job_redo = false;
	a->enf_job_npods = 0;
	a->enf_job_t0 = t0;
	a->enf_copy_steps = 0;
	if (cluster_copy_begin(src, &a->enf_copy) < 0) {
		(void) bh_err_oom(&err);
		enf_take_fail(a, "copying the cluster", &err);
		return;
	}
	a->enf_copy_us = clock_mono_us() - t0;
	enf_copy_cb(&a->enf_copy_timer);
}

static void enf_flush(struct agent *a);

/*
 * A change that recompiles the cluster, when that costs more than the
 * loop may wait (AGENT_ENFORCE_LOOP_COMPILE_MAX_US; the cache already
 * holds the change): an update job.  What this turn queued goes first,
 * so that the kernel holds what the ruleset says; then the ruleset is
 * taken from the sync object (freed: the kernel keeps its table, and no
 * batch goes from the loop meanwhile), the cluster is copied in steps as
 * for a build, and the worker moves the ruleset to the copy and hands
 * back the delta, which enf_job_cb() sends as one incremental batch.
 * With no ruleset the kernel holds (a failed batch: a retry is due) the
 * table is built anew off the loop instead, which reads the change too.
 * With @maps the verdict maps are refilled as well: the debounced refill
 * (sync_tick()), which is the same compile.
 */
static void enf_update(struct agent *a, bool maps)
{
	struct cluster *src = enf_source(a);

	if (a->enf_job || a->enf_copy || !src)
		return;
	if (a->sync && !a->enf_retry)
		enf_flush(a); /* (SYNC_FLUSH_FULL starts a build) */
	if (a->enf_job || a->enf_copy)
		return;
	if (!a->sync || a->enf_retry) {
		enf_take(a);
		return;
	}
	a->enf_upd_rs = a->rs;
	a->enf_upd_maps = maps;
	a->rs = NULL;
	enf_drop(a);
	enf_copy_start(a, src);
}

/*
 * The worker is done: its ruleset and copy taken over here, on the loop.
 * A build adopted or replaced the table from the copy; an update sent
 * nothing, and its delta goes now, with the catch-up below, as one
 * incremental batch.  What changed in the cluster since is caught up:
 * pods by the diff from the copy to the cluster now (sync_cluster_diff(),
 * the same batch), anything more by building (updating) again.  Then the
 * sync object follows the live cluster.
 */
static void enf_job_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, enf_job_io);
	struct sync_opts so = { .full_by_caller = true };
	struct sync_build_result res = { 0 };
	struct rs_delta *delta;
	struct bh_err err = { 0 };
	bool first = !a->enf_start, updated;
	int r;

	(void) revents;
	if (!sync_build_done(a->enf_job))
		return;
	loop_io_remove(io);
	r = sync_build_finish(a->enf_job, &res, &err);
	a->enf_job = NULL;
	if (r < 0) {
		enf_fail(a, res.why, &err);
		goto fail;
	}
	a->enf_compile_us = res.build_us;
	updated = res.outcome == SYNC_BUILD_UPDATED;
	if (updated) {
		log_info("agent: enforcement: ruleset updated in %.1f ms in the worker, %zu "
			 "objects to change (%.1f ms after the change)",
			 (double) res.build_us / 1e3, rs_delta_size(res.delta),
			 (double) (clock_mono_us() - a->enf_job_t0) / 1e3);
	} else {
		log_info("agent: enforcement: compiled in %.1f ms, table taken in %.1f ms (%zu "
			 "messages, %zu bytes; %.1f ms after the start)",
			 (double) res.build_us / 1e3, (double) res.send_us / 1e3,
			 res.nftio.messages, res.nftio.bytes,
			 (double) (clock_mono_us() - a->enf_job_t0) / 1e3);
	}
	if (res.outcome == SYNC_BUILD_ADOPTED) {
		a->enf_start = "adopted";
		log_notice("agent: enforcement: adopted table inet %s (it holds the cluster's "
			   "ruleset; nothing sent)",
			   RULESET_TABLE);
	} else if (!updated) {
		enf_observe_us(a, true, res.send_us);
		a->enf_start = "replaced";
		if (!first)
			a->enf_resyncs++;
		log_notice("agent: enforcement: replaced table inet %s in one batch (%s)",
			   RULESET_TABLE, res.why);
	}
	if (!updated)
		enf_digest_read(a);
	if (a->enf_job_redo && !updated) {
		/* More than pods changed while it compiled: the kernel holds
		 * the whole ruleset of the copy; build again from now. */
		log_info(
			"agent: enforcement: the cluster changed during the build; building again");
		sync_build_result_done(&res);
		enf_gauges(a);
		enf_take(a);
		return;
	}
	a->rs = res.rs;
	a->enf_cluster = res.c;
	a->enf_own = true;
	delta = res.delta;
	res = (struct sync_build_result){ 0 };
	if (sync_new(a->rs, a->enf_cluster, a->nio, &so, &a->sync) < 0) {
		rs_delta_free(delta);
		(void) bh_err_oom(&err);
		enf_fail(a, "the sync object", &err);
		goto fail;
	}
	if (updated && sync_delta(a->sync, delta, &err) < 0)
		enf_fail(a, "queueing the update", &err); /* (the flush replaces in full) */
	if (updated && a->enf_job_redo) {
		/* More than pods changed while it ran: the update goes to the
		 * kernel as it is, then the ruleset is updated again from the
		 * cluster now (a policy after a policy: no full replace). */
		log_info("agent: enforcement: the cluster changed during the update; updating "
			 "again");
		enf_flush(a);
		enf_update(a, false);
		return;
	}
	if (a->enf_job_pods) {
		log_info("agent: enforcement: pods changed during the %s: caught up from the "
			 "copy in one batch",
			 updated ? "update" : "build");
		r = sync_cluster_diff(a->sync, a->enf_cluster, enf_source(a), false, &err);
		if (r < 0) {
			enf_fail(a, "catching up with the cluster after the build", &err);
			goto fail;
		}
	}
	if (a->cache) {
		/* The copy is the cache's cluster now: follow that one. */
		sync_rebind(a->sync, kube_cache_cluster(a->cache));
		a->enf_cluster = cluster_free(a->enf_cluster);
		a->enf_cluster = kube_cache_cluster(a->cache);
		a->enf_own = false;
	}
	if (!updated)
		enf_ok(a);
	if (a->enf_job_pods || updated)
		enf_flush(a);
	else
		enf_gauges(a);
	return;
fail:
	sync_build_result_done(&res);
	enf_drop(a);
	enf_gauges(a);
	a->enf_retry = true;
	(void) loop_timer_arm_in(&a->enf_timer, AGENT_ENFORCE_RETRY_MS);
}

/* After a flush or tick (@r its result, @before the stats before it):
 * the metrics, the error state, the timer. */
static void enf_after(struct agent *a, int r, const struct sync_stats *before, uint64_t t0,
		      const struct bh_err *err)
{
	const struct sync_stats *st;
	int64_t due;

	if (r == SYNC_FLUSH_FULL) {
		/* Nothing sent: the table is replaced from the cluster, off
		 * the loop. */
		log_info("agent: enforcement: the change needs the table replaced in full");
		a->enf_retry = false;
		enf_take(a);
		return;
	}
	st = sync_stats(a->sync);
	if (r < 0) {
		enf_fail(a, "programming the table", err);
		a->enf_retry = true;
	} else if (r > 0) {
		uint64_t resyncs =
			st->resyncs + st->full_fallbacks - before->resyncs - before->full_fallbacks;
		bool full = st->full != before->full || resyncs;

		a->enf_resyncs += resyncs;

		/* An empty delta (a policy put again unchanged) sends
		 * nothing: not a batch. */
		if (full || st->objects != before->objects)
			enf_observe(a, full, t0);
		if (full)
			enf_digest_read(a);
		enf_ok(a);
	} else if (!a->enf_retry) {
		a->enf_err[0] = '\0';
	}
	enf_gauges(a);
	if (a->enf_retry) {
		(void) loop_timer_arm_in(&a->enf_timer, AGENT_ENFORCE_RETRY_MS);
		return;
	}
	due = sync_next_due_ms(a->sync, loop_now(a->loop));
	if (due < 0)
		loop_timer_disarm(&a->enf_timer);
	else if (loop_timer_arm_at(&a->enf_timer, (uint64_t) due) < 0)
		log_warning("agent: enforcement: cannot arm the refill timer: %s",
			    strerror(ENOMEM));
}

static void enf_flush(struct agent *a)
{
	struct sync_stats before = *sync_stats(a->sync);
	struct bh_err err = { 0 };
	uint64_t t0 = clock_mono_us();
	int r = sync_flush(a->sync, &err);

	a->enf_turn = 0;
	enf_after(a, r, &before, t0, &err);
}

static void enf_timer_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, enf_timer);
	struct sync_stats before;
	struct bh_err err = { 0 };
	uint64_t t0;
	int64_t due;
	int r;

	if (!a->sync) {
		enf_take(a);
		return;
	}
	if (a->enf_retry) {
		enf_flush(a);
		return;
	}
	due = sync_next_due_ms(a->sync, loop_now(a->loop));
	if (a->enf_compile_us > AGENT_ENFORCE_LOOP_COMPILE_MAX_US && due >= 0 &&
	    loop_now(a->loop) >= (uint64_t) due) {
		/* The refill is a compile of the cluster too: off the loop. */
		enf_update(a, true);
		return;
	}
	before = *sync_stats(a->sync);
	t0 = clock_mono_us();
	r = sync_tick(a->sync, loop_now(a->loop), &err);
	enf_after(a, r, &before, t0, &err);
}

int agent_enforce_start(struct agent *a, struct bh_err *reterr)
{
	int r;

	loop_timer_init(&a->enf_timer, a->loop, enf_timer_cb);
	loop_timer_init(&a->enf_copy_timer, a->loop, enf_copy_cb);
	if (!a->cfg.enforce) {
		log_notice("agent: enforcement off (--no-enforce): nftables is left alone");
		return 0;
	}
	r = nftio_open(&a->nio, reterr);
	if (r < 0)
		return r;
	nftio_inject_fault(a->nio, enf_fault());
	if (!a->synced)
		log_info("agent: enforcement: keeping table inet %s as it is until the whole "
			 "cluster is read",
			 RULESET_TABLE);
	agent_enforce_step(a);
	return 0;
}

/* A change beyond pods that the compiler reads: the ruleset is compiled
 * again for it (sync_policy(), sync_namespace(), sync_node()). */
static bool enf_recompiles(const struct kube_cache_event *ev)
{
	switch (ev->kind) {
	case KUBE_KIND_NAMESPACE:
		return !ev->old.ns || !ev->new.ns ||
		       !labels_equal(&ev->old.ns->labels, &ev->new.ns->labels);
	case KUBE_KIND_NODE:
		return !ev->old.node || !ev->new.node ||
		       !node_compiled_equal(ev->old.node, ev->new.node);
	case KUBE_KIND_NETPOL:
		return !ev->old.policy || !ev->new.policy ||
		       !netpol_compiled_equal(ev->old.policy, ev->new.policy);
	default:
		return false;
	}
}

/* An event while the worker compiles: remembered, caught up when the
 * result comes (a change the compiler does not read is none). */
static void enf_job_note(struct agent *a, const struct kube_cache_event *ev)
{
	if (ev->kind == KUBE_KIND_POD) {
		if (ev->old.pod && ev->new.pod &&pod_compiled_equal(ev->old.pod, ev->new.pod))
			return;
		a->enf_job_pods = true;
		/* Too many to catch up one by one: build again. */
		if (++a->enf_job_npods > AGENT_ENFORCE_BURST_MAX)
			a->enf_job_redo = true;
	} else if (enf_recompiles(ev)) {
		a->enf_job_redo = true;
	}
}

void agent_enforce_event(struct agent *a, const struct kube_cache_event *ev)
{
	struct bh_err err = { 0 };
	uint64_t t0;
	int r = 0;

	if (a->enf_job || a->enf_copy) {
		enf_job_note(a, ev);
		return;
	}
	if (!a->enf_copy && loop_timer_armed(&a->enf_copy_timer)) {
		/* A burst settling: the copy starts once it is over (or
		 * AGENT_ENFORCE_BURST_WAIT_MS after it began). */
		if (loop_now(a->loop) + AGENT_ENFORCE_BURST_SETTLE_MS < a->enf_settle_until)
			(void) loop_timer_arm_in(&a->enf_copy_timer, AGENT_ENFORCE_BURST_SETTLE_MS);
		return;
	}
	if (!a->sync)
		return;
	if (++a->enf_turn > AGENT_ENFORCE_BURST_MAX) {
		/* A burst: one update each would hold the loop for seconds
		 * and end in a full replace anyway (the sets' headroom). */
		log_info("agent: enforcement: more than %d changes in one turn: the table is "
			 "rebuilt off the loop once they settle",
			 AGENT_ENFORCE_BURST_MAX);
		/* (what comes meanwhile is in the cluster the copy reads) */
		enf_drop(a);
		a->enf_settle_until = loop_now(a->loop) + AGENT_ENFORCE_BURST_WAIT_MS;
		if (loop_timer_arm_in(&a->enf_copy_timer, AGENT_ENFORCE_BURST_SETTLE_MS) < 0)
			enf_take(a);
		return;
	}
	if (ev->kind != KUBE_KIND_POD && a->enf_compile_us > AGENT_ENFORCE_LOOP_COMPILE_MAX_US) {
		/* A compile too long for the loop: off it, or nothing when
		 * the compiler reads nothing that changed (a policy put
		 * again unchanged would cost a compile for no delta). */
		if (enf_recompiles(ev))
			enf_update(a, false);
		return;
	}
	t0 = clock_mono_us();
	switch (ev->kind) {
	case KUBE_KIND_POD:
		r = sync_pod(a->sync, ev->old.pod, ev->new.pod, &err);
		break;
	case KUBE_KIND_NAMESPACE:
		r = sync_namespace(a->sync, ev->old.ns, ev->new.ns, &err);
		break;
	case KUBE_KIND_NODE:
		r = sync_node(a->sync, ev->old.node, ev->new.node, &err);
		break;
	case KUBE_KIND_NETPOL:
		r = sync_policy(a->sync, ev->old.policy, ev->new.policy, &err);
		break;
	default:
		return;
	}
	if (enf_recompiles(ev))
		a->enf_compile_us = clock_mono_us() - t0;
	if (r < 0) {
		char what[BH_ERR_MSG_MAX];

		(void) snprintf(what, sizeof(what), "%s '%s%s%s'", ev->resource,
				ev->ns ? ev->ns : "", ev->ns ? "/" : "", ev->name);
		enf_fail(a, what, &err);
		/* The next flush replaces the table in full. */
	}
}

void agent_enforce_step(struct agent *a)
{
	if (!a->nio || a->enf_job || a->enf_copy || loop_timer_armed(&a->enf_copy_timer))
		return;
	if (!a->sync) {
		if (a->synced && !loop_timer_armed(&a->enf_timer))
			enf_take(a);
		return;
	}
	enf_flush(a);
}

void agent_enforce_reload(struct agent *a)
{
	struct bh_err err = { 0 };
	int r;

	if (!a->nio)
		return;
	if (a->enf_job || a->enf_copy) {
		a->enf_job_redo = true; /* (which kinds changed is not known) */
		return;
	}
	if (!a->sync) {
		loop_timer_disarm(&a->enf_timer);
		enf_take(a);
		return;
	}
	if (a->enf_compile_us > AGENT_ENFORCE_LOOP_COMPILE_MAX_US) {
		/* Each policy, namespace or node the files changed would
		 * recompile the cluster on the loop: one update job off it
		 * instead, for the whole reload. */
		enf_update(a, false);
		return;
	}
	r = sync_cluster_diff(a->sync, a->enf_cluster, a->snap, false, &err);
	if (r < 0) {
		/* Part of the way: start again from the files, one full
		 * replace. */
		enf_fail(a, "updating from the snapshot", &err);
		enf_take(a);
		return;
	}
	enf_flush(a);
}

void agent_enforce_stop(struct agent *a)
{
	if (a->enf_job) {
		loop_io_remove(&a->enf_job_io);
		a->enf_job = sync_build_cancel(a->enf_job);
		log_info("agent: enforcement: stopped the ruleset build under way; table inet %s "
			 "stays as the kernel holds it",
			 RULESET_TABLE);
	}
	loop_timer_disarm(&a->enf_copy_timer);
	a->enf_copy = cluster_free(a->enf_copy);
	a->enf_upd_rs = ruleset_free(a->enf_upd_rs);
	enf_drop(a);
	a->nio = nftio_free(a->nio);
}

void agent_enforce_status(struct agent *a, struct json_out *w)
{
	const struct sync_stats *st = a->sync ? sync_stats(a->sync) : NULL;

	json_out_obj_begin(w);
	json_out_key(w, "enabled");
	json_out_bool(w, a->nio != NULL);
	json_out_key(w, "table");
	json_out_str(w, !a->nio	      ? "untouched" :
			a->enf_start  ? a->enf_start :
			a->enf_err[0] ? "error" :
					"waiting");
	json_out_key(w, "building");
	json_out_bool(w, a->enf_job || a->enf_copy || loop_timer_armed(&a->enf_copy_timer));
	/* Nothing left to send: no build, no retry, no refill waiting. */
	json_out_key(w, "settled");
	json_out_bool(w, a->sync && !a->enf_retry && !a->enf_job && !a->enf_copy &&
				 !loop_timer_armed(&a->enf_copy_timer) &&
				 !sync_refill_wanted(a->sync));
	json_out_key(w, "digest");
	if (a->enf_digest[0])
		json_out_str(w, a->enf_digest);
	else
		json_out_null(w);
	json_out_key(w, "last_sync");
	if (a->enf_last)
		json_out_time(w, a->enf_last);
	else
		json_out_null(w);
	json_out_key(w, "batches");
	json_out_uint(w, a->enf_full + a->enf_incr);
	json_out_key(w, "full_replaces");
	json_out_uint(w, a->enf_full);
	json_out_key(w, "resyncs");
	json_out_uint(w, a->enf_resyncs);
	json_out_key(w, "events");
	json_out_uint(w, a->enf_events + (st ? st->events : 0));
	json_out_key(w, "errors");
	json_out_uint(w, a->enf_errors);
	json_out_key(w, "error");
	if (a->enf_err[0])
		json_out_str(w, a->enf_err);
	else
		json_out_null(w);
	json_out_obj_end(w);
}
