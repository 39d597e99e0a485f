/*
 * The agent's cluster source.
 *
 * --snapshot FILE...: the files are loaded at start (a bad file then is an
 * input error: the agent does not start on a cluster it cannot read), and
 * the directories holding them are watched with inotify.  A change to one
 * of the files (written in place, replaced by a rename, or a ConfigMap's
 * "..data" symlink swapped) reloads all of them AGENT_SNAPSHOT_SETTLE_MS
 * after the last event, read in a worker thread (a large cluster's files
 * take longer than the loop may wait) and taken over on the loop.  A
 * reload that fails is logged (one line naming
 * the file and what is wrong), the last good cluster is kept, and /readyz
 * says why until a reload succeeds.
 *
 * Otherwise, the Kubernetes API (--kubeconfig FILE, or in-cluster): the
 * cluster cache (include/kube_cache.h) on the agent's loop, its client's
 * fd and timeout as loop sources.  Synced once every list completed.
 *
 * Every change goes on to the enforcement (agent_enforce.c): each cache
 * event as it comes, flushed as one batch at the end of the client's
 * turn; a snapshot reload once read.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "agent_int.h"
#include "cluster.h"
#include "kube_cache.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_watch.h"
#include "log.h"
#include "metrics.h"
#include "snapshot.h"
#include "worker_done.h"

struct cluster *agent_source_cluster(struct agent *a)
{
	if (a->cache)
		return a->synced ? kube_cache_cluster(a->cache) : NULL;
	return a->snap;
}

static int snapshot_load_all(struct agent *a, struct cluster **ret, struct bh_err *reterr)
{
	const struct snapshot_opts o = { .warn = true };

	return snapshot_load((const char *const *) a->cfg.snapshots, a->cfg.n_snapshots, &o, ret,
			     NULL, reterr);
}

/* A reload off the loop: the files of 10,000 pods take a few hundred
 * milliseconds to read.  One at a time; a change meanwhile reloads again
 * once it is over. */
struct agent_snap_job {
	pthread_t th;
	int efd;
	atomic_bool done; /* set by the worker last, before the eventfd */
	char **paths; /* owned copies: a SIGHUP may change the configuration */
	size_t n;
	struct cluster *c; /* out */
	int r;
	struct bh_err err;
};

static void snap_job_free(struct agent_snap_job *j)
{
	if (!j)
		return;
	if (j->efd >= 0)
		(void) close(j->efd);
	for (size_t i = 0; i < j->n; i++)
		free(j->paths[i]);
	free(j->paths);
	cluster_free(j->c);
	free(j);
}

static void *snap_job_main(void *arg)
{
	struct agent_snap_job *j = arg;
	const struct snapshot_opts o = { .warn = true };

	j->r = snapshot_load((const char *const *) j->paths, j->n, &o, &j->c, NULL, &j->err);
	worker_done(&j->done, j->efd);
	return NULL;
}

static void snapshot_loaded(struct agent *a, int r, struct cluster *c, const struct bh_err *e);
static void snapshot_reload(struct agent *a);

static void snap_job_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, snap_io);
	struct agent_snap_job *j = a->snap_job;
	struct cluster *c;

	(void) revents;
	if (!atomic_load(&j->done))
		return;
	loop_io_remove(&a->snap_io);
	(void) pthread_join(j->th, NULL);
	a->snap_job = NULL;
	c = j->c;
	j->c = NULL;
	snapshot_loaded(a, j->r, c, &j->err);
	snap_job_free(j);
	if (a->snap_again) {
		a->snap_again = false;
		snapshot_reload(a);
	}
}

/* Starts the worker: 0, or -errno (the caller reads on the loop). */
static int snap_job_start(struct agent *a)
{
	struct agent_snap_job *j = calloc(1, sizeof(*j));
	int r = -ENOMEM;

	if (!j)
		return -ENOMEM;
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&j->done, false);
	j->paths = calloc(a->cfg.n_snapshots, sizeof(*j->paths));
	if (j->efd < 0 || !j->paths)
		goto fail;
	for (; j->n < a->cfg.n_snapshots; j->n++)
		if (!(j->paths[j->n] = strdup(a->cfg.snapshots[j->n])))
			goto fail;
	r = loop_io_add(a->loop, &a->snap_io, j->efd, EPOLLIN, snap_job_cb);
	if (r < 0)
		goto fail;
	r = -pthread_create(&j->th, NULL, snap_job_main, j);
	if (r < 0) {
		loop_io_remove(&a->snap_io);
		goto fail;
	}
	a->snap_job = j;
	return 0;
fail:
	snap_job_free(j);
	return r;
}

static void snapshot_reload(struct agent *a)
{
	struct bh_err err = { 0 };
	struct cluster *c = NULL;
	int r;

	if (a->snap_job) {
		a->snap_again = true;
		return;
	}
	if (snap_job_start(a) == 0)
		return;
	r = snapshot_load_all(a, &c, &err);
	snapshot_loaded(a, r, c, &err);
}

/* A reload's outcome: @c (taken) the cluster now, or the last good one
 * kept and the error said. */
static void snapshot_loaded(struct agent *a, int r, struct cluster *c, const struct bh_err *e)
{
	if (r < 0) {
		cluster_free(c);
		if (strcmp(a->source_err, e->msg) != 0)
			log_err("agent: %s; keeping the last good snapshot", e->msg);
		(void) snprintf(a->source_err, sizeof(a->source_err), "%s", e->msg);
		return;
	}
	cluster_free(a->snap);
	a->snap = c;
	a->source_err[0] = '\0';
	a->last_sync = time(NULL);
	a->cluster_gen++;
	log_info("agent: snapshot reloaded: %zu namespaces, %zu pods, %zu policies, %zu nodes",
		 c->n_ns, c->n_pods, c->n_policies, c->n_nodes);
	/* The proposal policies into the new snapshot before the diff. */
	agent_stage_reloaded(a);
	agent_enforce_reload(a);
}

static void snapshot_timer_cb(struct loop_timer *t)
{
	snapshot_reload(LOOP_CONTAINER_OF(t, struct agent, snapshot_timer));
}

/* Whether @name, in the watched directory @wd, is one of the files (or a
 * ConfigMap's "..data"-style entry, which swaps every file at once). */
static bool snapshot_event_matters(struct agent *a, int wd, const char *name)
{
	const char *dir = NULL;

	if (!name[0] || strncmp(name, "..", 2) == 0)
		return true;
	for (size_t i = 0; i < a->n_wdirs; i++)
		if (a->wdirs[i].wd == wd)
			dir = a->wdirs[i].dir;
	if (!dir)
		return false;
	for (size_t i = 0; i < a->cfg.n_snapshots; i++) {
		const char *p = a->cfg.snapshots[i], *slash = strrchr(p, '/');
		const char *base = slash ? slash + 1 : p;
		size_t dl = slash ? (size_t) (slash - p) : 1;
		const char *d = slash ? p : ".";

		if (slash == p)
			dl = 1, d = "/";
		if (strcmp(base, name) == 0 && strlen(dir) == dl && strncmp(dir, d, dl) == 0)
			return true;
	}
	return false;
}

static void inotify_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, inotify_io);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool matters = false;
	ssize_t n;

	(void) revents;
	for (int k = 0; k < 16; k++) {
		n = read(a->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			/* The kernel aligns each record; buf is aligned for the first. */
			const struct inotify_event *ev = (const void *) p;

			if (ev->mask & IN_Q_OVERFLOW)
				matters = true;
			else if (ev->len && snapshot_event_matters(a, ev->wd, ev->name))
				matters = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (matters && loop_timer_arm_in(&a->snapshot_timer, AGENT_SNAPSHOT_SETTLE_MS) < 0)
		log_warning("agent: cannot arm the snapshot timer: %s", strerror(ENOMEM));
}

static int snapshot_watch(struct agent *a, struct bh_err *reterr)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			      IN_ATTRIB;
	int r;

	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "agent: inotify: %s",
				  strerror(errno));
	a->wdirs = calloc(a->cfg.n_snapshots, sizeof(*a->wdirs));
	if (!a->wdirs)
		return bh_err_oom(reterr);
	for (size_t i = 0; i < a->cfg.n_snapshots; i++) {
		char *copy = strdup(a->cfg.snapshots[i]), *dir;
		bool seen = false;
		int wd;

		if (!copy)
			return bh_err_oom(reterr);
		dir = dirname(copy);
		wd = inotify_add_watch(a->inotify_fd, dir, mask);
		if (wd < 0) {
			r = -errno;
			free(copy);
			return bh_err_set(reterr, BH_ERR_SYSTEM, r,
					  "agent: cannot watch the directory of snapshot '%s': %s",
					  a->cfg.snapshots[i], strerror(-r));
		}
		for (size_t k = 0; k < a->n_wdirs; k++)
			seen = seen || a->wdirs[k].wd == wd;
		if (seen || !(a->wdirs[a->n_wdirs].dir = strdup(dir))) {
			free(copy);
			if (seen)
				continue;
			return bh_err_oom(reterr);
		}
		a->wdirs[a->n_wdirs++].wd = wd;
		free(copy);
	}
	loop_timer_init(&a->snapshot_timer, a->loop, snapshot_timer_cb);
	r = loop_io_add(a->loop, &a->inotify_io, a->inotify_fd, EPOLLIN, inotify_cb);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: epoll: %s", strerror(-r));
	return 0;
}

/* --- the Kubernetes API --- */

static void kube_arm(struct agent *a)
{
	int t = kube_client_timeout_ms(a->kube);

	if (t < 0)
		loop_timer_disarm(&a->kube_timer);
	else if (loop_timer_arm_in(&a->kube_timer, (uint64_t) t) < 0)
		log_warning("agent: cannot arm the API client's timer: %s", strerror(ENOMEM));
}

/* Whether the API server answers, from the watches' counters. */
static void kube_health(struct agent *a)
{
	static const char *const resources[] = { "namespaces", "pods", "networkpolicies", "nodes" };
	uint64_t data = 0, fail = 0;

	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
		const struct kube_watch *w = kube_cache_watch(a->cache, resources[i]);
		const struct kube_watch_stats *st;

		if (!w)
			continue;
		st = kube_watch_stats(w);
		data += st->lists + st->pages + st->events + st->bookmarks;
		fail += st->err_transport + st->err_http;
	}
	if (data != a->api_data && a->api_down) {
		a->api_down = false;
		log_notice("agent: the API server '%s' answers again", kube_client_server(a->kube));
	} else if (fail != a->api_fail && data == a->api_data && !a->api_down) {
		a->api_down = true;
		log_warning("agent: the API server '%s' is unreachable; keeping the last state of "
			    "the cluster",
			    kube_client_server(a->kube));
	}
	a->api_data = data;
	a->api_fail = fail;
}

static void kube_step(struct agent *a)
{
	const struct kube_cache_stats *st = kube_cache_stats(a->cache);
	uint64_t tombs = st->tombstones_expired + st->tombstones_evicted;
	bool was = a->synced;
	int r = kube_client_process(a->kube);

	/* Tombstones expire from inside the client's timers, without an
	 * event: the identity index borrows them, so it must be rebuilt. */
	if (st->tombstones_expired + st->tombstones_evicted != tombs)
		a->cluster_gen++;
	if (r < 0)
		log_debug("agent: API client: %s", strerror(-r));
	kube_health(a);
	if (kube_cache_synced(a->cache)) {
		a->synced = true;
		a->source_err[0] = '\0';
		if (!was) {
			a->last_sync = time(NULL);
			log_info("agent: cluster synced from '%s'", kube_client_server(a->kube));
		}
	} else if (was) {
		(void) snprintf(a->source_err, sizeof(a->source_err),
				"relisting from the API server '%s'", kube_client_server(a->kube));
	}
	/* What this turn brought, with the proposal policies the stages put
	 * back or the namespaces first seen, one batch (the first whole
	 * cluster: the table taken). */
	agent_stage_step(a);
	agent_enforce_step(a);
	kube_arm(a);
}

static void kube_io_cb(struct loop_io *io, uint32_t revents)
{
	(void) revents;
	kube_step(LOOP_CONTAINER_OF(io, struct agent, kube_io));
}

static void kube_timer_cb(struct loop_timer *t)
{
	kube_step(LOOP_CONTAINER_OF(t, struct agent, kube_timer));
}

static void kube_event_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c)
{
	struct agent *a = ud;

	(void) c;
	a->cluster_gen++;
	agent_enforce_event(a, ev);
	if (a->synced)
		a->last_sync = time(NULL);
}

static int kube_start(struct agent *a, struct bh_err *reterr)
{
	int r;

	r = kube_config_find(a->cfg.kubeconfig, a->cfg.context, &a->kcfg, reterr);
	if (r < 0)
		return r;
	r = kube_client_new(a->kcfg, &a->kube, reterr);
	if (r < 0)
		return r;
	r = kube_cache_new(a->kube, NULL, &a->cache);
	if (r < 0)
		return bh_err_oom(reterr);
	r = kube_cache_subscribe(a->cache, kube_event_cb, a);
	if (r >= 0)
		r = kube_cache_start(a->cache);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: API cache: %s", strerror(-r));
	(void) snprintf(a->source_err, sizeof(a->source_err), "listing from the API server '%s'",
			kube_client_server(a->kube));
	loop_timer_init(&a->kube_timer, a->loop, kube_timer_cb);
	r = loop_io_add(a->loop, &a->kube_io, kube_client_fd(a->kube), EPOLLIN, kube_io_cb);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: epoll: %s", strerror(-r));
	kube_arm(a);
	log_info("agent: watching the cluster through the API server '%s'",
		 kube_client_server(a->kube));
	return 0;
}

void agent_source_stats(struct agent *a)
{
	static const char *const resources[] = { "namespaces", "pods", "networkpolicies", "nodes" };

	if (!a->cache)
		return;
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
		const struct kube_watch *w = kube_cache_watch(a->cache, resources[i]);
		const char *labels[] = { resources[i] };
		const struct kube_watch_stats *st;
		struct metrics_series *m;

		if (!w)
			continue;
		st = kube_watch_stats(w);
		/* The first watch is a start, every later one a restart. */
		if (metrics_series_get(a->fam[METRICS_WATCH_RESTARTS], labels, &m) == 0)
			metrics_counter_set(m, st->watches > 1 ? st->watches - 1 : 0);
		if (metrics_series_get(a->fam[METRICS_WATCH_RELISTS], labels, &m) == 0)
			metrics_counter_set(m, st->relists);
		if (metrics_series_get(a->fam[METRICS_API_ERRORS], labels, &m) == 0)
			metrics_counter_set(m, st->err_http + st->err_status + st->err_transport);
	}
}

int agent_source_start(struct agent *a, struct bh_err *reterr)
{
	int r;

	a->inotify_fd = -1;
	if (!a->cfg.n_snapshots)
		return kube_start(a, reterr);
	r = snapshot_load_all(a, &a->snap, reterr);
	if (r < 0)
		return r;
	a->synced = true;
	a->last_sync = time(NULL);
	a->cluster_gen++;
	log_info("agent: snapshot loaded: %zu namespaces, %zu pods, %zu policies, %zu nodes",
		 a->snap->n_ns, a->snap->n_pods, a->snap->n_policies, a->snap->n_nodes);
	return snapshot_watch(a, reterr);
}

void agent_source_stop(struct agent *a)
{
	loop_io_remove(&a->kube_io);
	if (a->kube)
		loop_timer_disarm(&a->kube_timer);
	a->cache = kube_cache_free(a->cache);
	a->kube = kube_client_free(a->kube);
	a->kcfg = kube_config_free(a->kcfg);
	loop_io_remove(&a->inotify_io);
	if (a->inotify_fd >= 0) {
		loop_timer_disarm(&a->snapshot_timer);
		(void) close(a->inotify_fd);
		a->inotify_fd = -1;
	}
	for (size_t i = 0; i < a->n_wdirs; i++)
		free(a->wdirs[i].dir);
	free(a->wdirs);
	a->wdirs = NULL;
	a->n_wdirs = 0;
	if (a->snap_job) {
		loop_io_remove(&a->snap_io);
		(void) pthread_join(a->snap_job->th, NULL);
		snap_job_free(a->snap_job);
		a->snap_job = NULL;
	}
	a->snap = cluster_free(a->snap);
}
