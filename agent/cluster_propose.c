/*
 * The Lease holder's proposals (include/cluster_propose.h, docs/cluster.md
 * "The Lease and the proposer").
 *
 * One timer, every lease_renew_s.  Not holding: the watches are dropped
 * (a former holder must not act on what it saw).  Holding: the three
 * watches run (keep_objects: the decisions read whole objects); once all
 * have listed, and no computation or write is under way, each namespace
 * with flows is decided (see the header), the namespaces to compute go to
 * one worker thread together (agent/cluster_propose_job.c: one
 * propose_build() over the union of every node's flows, as propose over
 * several flows files), and each Proposal
 * whose status.mode differs from its namespace's effective stage gets a
 * status write.  A tick with work in flight does nothing: the next one
 * decides again from the objects as they are then.
 *
 * A namespace whose computed objects could not all be written is computed
 * and written again at the next tick.  Loop thread only.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_api.h"
#include "cluster_lease.h"
#include "cluster_propose.h"
#include "cluster_propose_job.h"
#include "cluster_stage.h"
#include "json_out.h"
#include "kube_cache.h"
#include "kube_client.h"
#include "kube_watch.h"
#include "kube_write.h"
#include "log.h"
#include "proposal_obj.h"
#include "rfc3339.h"

enum {
	W_NODEFLOWS,
	W_PROPOSALS,
	W_MODES,
	_W_MAX,
};

static_assert((uint64_t) CLUSTER_LIST_PAGE * (CLUSTER_OBJECT_MAX + 64 * 1024) < KUBE_LIST_PAGE_MAX,
	      "a page of NodeFlows fits a watch's page");

/* A namespace seen in the objects. */
struct pns {
	char *name; /* owned */
	bool flows; /* some NodeFlows has a flow with a pod end in it */
	int64_t first; /* its earliest first_seen, unix seconds */
	bool has; /* it has Proposal objects ... */
	int64_t computed_at; /* ... the newest computed then (unix ms) */
	struct cluster_stage st;
};

/* One write (or delete) in flight. */
struct pwrite {
	struct cluster_proposer *p;
	struct kube_write *w;
	struct kube_request *req; /* a DELETE */
	json_t *obj; /* the desired object (update), or the status (status) */
	char what[600]; /* "NS/NAME" and the verb, for the log */
	char ns[254], name[254];
	bool create; /* a create, turned into an update on -EEXIST */
	bool spec; /* a computed object (create, update or delete), not a status */
	struct pwrite *next;
};

struct cluster_proposer {
	struct agent *a;
	struct loop_timer timer;
	struct kube_watch *w[_W_MAX];
	struct cluster_pjob *job;
	struct loop_io job_io;
	struct pwrite *writes;
	/* Namespaces a write of whose computed objects failed: computed and
	 * written again at the next tick (a namespace left with some of its
	 * Proposals is no longer "without Proposal objects", and would
	 * otherwise miss the others until a relearn). */
	char **redo;
	size_t n_redo;
	/* Namespaces whose last computation made no object (their flows'
	 * pods are gone, say), and when (clock_mono_ms()): computed again
	 * once clusterInterval has passed, not at every tick. */
	struct pempty {
		char *ns;
		uint64_t at;
	} * empty;
	size_t n_empty;
	uint64_t computations, objects_written, objects_deleted, status_written, write_errors;
	char err[BH_ERR_MSG_MAX];
};

/* --- the watches --- */

static void watches_stop(struct cluster_proposer *p)
{
	for (int i = 0; i < _W_MAX; i++)
		p->w[i] = kube_watch_free(p->w[i]);
}

static int watches_start(struct cluster_proposer *p)
{
	static const struct {
		const char *resource;
		bool cluster_scoped;
	} res[_W_MAX] = {
		[W_NODEFLOWS] = { CLUSTER_NODEFLOWS_RESOURCE, true },
		[W_PROPOSALS] = { CLUSTER_PROPOSAL_RESOURCE, false },
		[W_MODES] = { CLUSTER_POLICYMODE_RESOURCE, true },
	};

	for (int i = 0; i < _W_MAX; i++) {
		const struct kube_watch_opts o = { .group = CLUSTER_API_GROUP,
						   .version = CLUSTER_API_VERSION,
						   .resource = res[i].resource,
						   .cluster_scoped = res[i].cluster_scoped,
						   .keep_objects = true,
						   .page_limit = CLUSTER_LIST_PAGE };
		int r = kube_watch_new(p->a->kube, &o, &p->w[i]);

		if (r == 0)
			r = kube_watch_start(p->w[i]);
		if (r < 0) {
			watches_stop(p);
			return r;
		}
	}
	/* the client's timer, so that the lists start now */
	(void) loop_timer_arm_in(&p->a->kube_timer, 0);
	return 0;
}

static bool watches_synced(const struct cluster_proposer *p)
{
	for (int i = 0; i < _W_MAX; i++)
		if (!p->w[i] || !kube_watch_synced(p->w[i]))
			return false;
	return true;
}

/* --- the namespaces and their state --- */

struct scan {
	struct cluster_proposer *p;
	struct pns *v;
	size_t n, cap;
	int r;
};

static void scan_done(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
}

static struct pns *ns_get(struct scan *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct pns *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = (struct pns){ .name = strdup(name), .first = INT64_MAX };
	if (!s->v[s->n].name)
		return NULL;
	return &s->v[s->n++];
}

/* A flow's end in a namespace: the namespace's earliest flow. */
static int end_scan(struct scan *s, const json_t *end, int64_t first)
{
	const char *kind = json_string_value(json_object_get(end, "kind"));
	const char *ns = json_string_value(json_object_get(end, "namespace"));
	struct pns *n;

	if (!kind || strcmp(kind, "pod") != 0 || !ns)
		return 0;
	n = ns_get(s, ns);
	if (!n)
		return -ENOMEM;
	n->flows = true;
	if (first < n->first)
		n->first = first;
	return 0;
}

static int nodeflows_scan_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct scan *s = ud;
	const json_t *o = kube_watch_get(s->p->w[W_NODEFLOWS], ns, name);
	const json_t *flows = json_object_get(json_object_get(o, "spec"), "flows");

	(void) rv;
	for (size_t i = 0; i < json_array_size(flows) && s->r == 0; i++) {
		const json_t *f = json_array_get(flows, i);
		const char *fs = json_string_value(json_object_get(f, "first_seen"));
		int64_t first;

		if (!fs || rfc3339_parse(fs, &first) < 0)
			continue;
		s->r = end_scan(s, json_object_get(f, "src"), first);
		if (s->r == 0)
			s->r = end_scan(s, json_object_get(f, "dst"), first);
	}
	return s->r;
}

static int proposals_scan_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct scan *s = ud;
	const json_t *o = kube_watch_get(s->p->w[W_PROPOSALS], ns, name);
	const char *at =
		json_string_value(json_object_get(json_object_get(o, "spec"), "computedAt"));
	struct pns *n = ns_get(s, ns);
	int64_t t = 0;

	(void) rv;
	if (!n) {
		s->r = -ENOMEM;
		return s->r;
	}
	n->has = true;
	if (at && cluster_time_parse_ms(at, &t) == 0 && t > n->computed_at)
		n->computed_at = t;
	return 0;
}

/* PolicyMode @name, when there is one that parses (a bad one is logged
 * at debug and counts as absent). */
static struct cluster_mode mode_get(struct cluster_proposer *p, const char *name)
{
	const json_t *o = kube_watch_get(p->w[W_MODES], "", name);
	struct cluster_mode m = { 0 };
	struct bh_err err = { 0 };

	if (o && cluster_mode_parse(o, &m, &err) < 0) {
		log_debug("agent: cluster: %s, ignoring", err.msg);
		m = (struct cluster_mode){ 0 };
	}
	return m;
}

static int scan_run(struct cluster_proposer *p, struct scan *s)
{
	const struct cluster_mode all = mode_get(p, CLUSTER_POLICYMODE_ALL);

	*s = (struct scan){ .p = p };
	(void) kube_watch_foreach(p->w[W_NODEFLOWS], nodeflows_scan_cb, s);
	if (s->r == 0)
		(void) kube_watch_foreach(p->w[W_PROPOSALS], proposals_scan_cb, s);
	for (size_t i = 0; i < s->n && s->r == 0; i++) {
		struct cluster_stage_input in = { .ns = mode_get(p, s->v[i].name),
						  .all = all,
						  .has_proposals = s->v[i].has,
						  .computed_at = s->v[i].computed_at };

		cluster_stage_effective(&in, &s->v[i].st);
	}
	return s->r;
}

/* Whether namespace @n is to be computed now (see the header). */
static bool ns_due(const struct agent *a, const struct pns *n, int64_t now_ms)
{
	const int64_t learn_ms = (int64_t) a->cfg.learn_duration_s * 1000;

	if (!n->flows)
		return false;
	if (!n->has)
		return now_ms - n->first * 1000 >= learn_ms;
	return n->st.mode == STATE_DB_MODE_LEARN && n->st.switched_at &&
	       now_ms - n->st.switched_at >= learn_ms;
}

/* --- writes --- */

static void pwrite_free(struct pwrite *w)
{
	json_decref(w->obj);
	free(w);
}

/* Unlinks @w (its write is over). */
static void pwrite_unlink(struct pwrite *w)
{
	struct pwrite **pp = &w->p->writes;

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
}

/* Whether namespace @ns is to be computed again. */
static bool redo_has(const struct cluster_proposer *p, const char *ns)
{
	for (size_t i = 0; i < p->n_redo; i++)
		if (strcmp(p->redo[i], ns) == 0)
			return true;
	return false;
}

static void redo_add(struct cluster_proposer *p, const char *ns)
{
	char **v, *s;

	if (redo_has(p, ns))
		return;
	v = realloc(p->redo, (p->n_redo + 1) * sizeof(*v));
	if (!v)
		return; /* (computed again at its next relearn) */
	p->redo = v;
	s = strdup(ns);
	if (s)
		p->redo[p->n_redo++] = s;
}

/* Whether namespace @ns made no object less than clusterInterval ago. */
static bool empty_recent(const struct cluster_proposer *p, const char *ns)
{
	for (size_t i = 0; i < p->n_empty; i++)
		if (strcmp(p->empty[i].ns, ns) == 0)
			return clock_mono_ms() - p->empty[i].at <
			       p->a->cfg.cluster_interval_s * 1000;
	return false;
}

static void empty_set(struct cluster_proposer *p, const char *ns)
{
	struct pempty *v;
	char *s;

	for (size_t i = 0; i < p->n_empty; i++)
		if (strcmp(p->empty[i].ns, ns) == 0) {
			p->empty[i].at = clock_mono_ms();
			return;
		}
	v = realloc(p->empty, (p->n_empty + 1) * sizeof(*v));
	if (!v)
		return; /* (computed again at the next tick) */
	p->empty = v;
	s = strdup(ns);
	if (s)
		p->empty[p->n_empty++] = (struct pempty){ .ns = s, .at = clock_mono_ms() };
}

static void empty_clear(struct cluster_proposer *p)
{
	for (size_t i = 0; i < p->n_empty; i++)
		free(p->empty[i].ns);
	free(p->empty);
	p->empty = NULL;
	p->n_empty = 0;
}

static void redo_clear(struct cluster_proposer *p)
{
	for (size_t i = 0; i < p->n_redo; i++)
		free(p->redo[i]);
	free(p->redo);
	p->redo = NULL;
	p->n_redo = 0;
}

static struct pwrite *pwrite_new(struct cluster_proposer *p, json_t *obj, const char *verb,
				 const char *ns, const char *name)
{
	struct pwrite *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->p = p;
	w->obj = json_incref(obj);
	(void) snprintf(w->what, sizeof(w->what), "%s Proposal '%.253s/%.253s'", verb, ns, name);
	(void) snprintf(w->ns, sizeof(w->ns), "%s", ns);
	(void) snprintf(w->name, sizeof(w->name), "%s", name);
	w->next = p->writes;
	p->writes = w;
	return w;
}

static int spec_mutate_cb(void *ud, json_t *obj);
static const struct kube_ref *prop_ref(const char *ns, struct kube_ref *ref);

static void write_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct pwrite *w = ud;
	struct cluster_proposer *p = w->p;

	(void) obj;
	if (r == -EEXIST && w->create && cluster_lease_held(p->a)) {
		/* Created since the watch last told us (its event is on the
		 * way): update it instead. */
		struct kube_ref ref;
		struct bh_err e = { 0 };

		w->create = false;
		(void) snprintf(w->what, sizeof(w->what), "update Proposal '%.253s/%.253s'", w->ns,
				w->name);
		r = kube_write_update(p->a->kube, prop_ref(w->ns, &ref), w->name, false,
				      spec_mutate_cb, write_done_cb, w, &w->w, &e);
		if (r == 0)
			return;
		err = &e;
	}
	pwrite_unlink(w);
	if (r == -ENOLCK) {
		log_notice("agent: cluster: %s: not written, the Lease is no longer held", w->what);
	} else if (r < 0) {
		p->write_errors++;
		if (w->spec)
			redo_add(p, w->ns);
		(void) snprintf(p->err, sizeof(p->err), "%.200s: %.300s", w->what,
				err && err->msg[0] ? err->msg : strerror(-r));
		log_warning("agent: cluster: %s", p->err);
	} else {
		log_debug("agent: cluster: %s done", w->what);
	}
	pwrite_free(w);
}

/* The update of a Proposal: its spec and labels as computed.  Each
 * attempt (a retry may come seconds later) writes only while this agent
 * still holds the Lease: the object as read carries its resourceVersion,
 * which does not stop a former holder from overwriting the new holder's
 * Proposal with what it computed before (-ENOLCK: not written). */
static int spec_mutate_cb(void *ud, json_t *obj)
{
	struct pwrite *w = ud;
	json_t *md = json_object_get(obj, "metadata");
	json_t *labels = json_object_get(json_object_get(w->obj, "metadata"), "labels");

	if (!cluster_lease_held(w->p->a))
		return -ENOLCK;
	if (!json_is_object(md))
		return -EINVAL;
	if (json_object_set(obj, "spec", json_object_get(w->obj, "spec")) < 0 ||
	    json_object_set(md, "labels", labels) < 0)
		return -ENOMEM;
	return 0;
}

/* The status of a Proposal: its namespace's effective mode (only while
 * holding the Lease, as spec_mutate_cb()). */
static int status_mutate_cb(void *ud, json_t *obj)
{
	struct pwrite *w = ud;

	if (!cluster_lease_held(w->p->a))
		return -ENOLCK;
	return json_object_set(obj, "status", w->obj) < 0 ? -ENOMEM : 0;
}

static size_t discard_cb(void *ud, const char *p, size_t n)
{
	(void) ud, (void) p;
	return n;
}

static void delete_done_cb(void *ud, int r, long status, const char *msg)
{
	struct pwrite *w = ud;
	struct bh_err err = { 0 };

	w->req = NULL;
	if (r == 0 && (status == 200 || status == 202 || status == 404)) {
		w->p->objects_deleted++;
		r = 0;
	} else {
		if (r == 0)
			r = -EIO;
		(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "HTTP %ld%s%s", status, msg ? " " : "",
				  msg ? msg : "");
	}
	write_done_cb(w, r, NULL, &err);
}

static const struct kube_ref *prop_ref(const char *ns, struct kube_ref *ref)
{
	*ref = (struct kube_ref){ .group = CLUSTER_API_GROUP,
				  .version = CLUSTER_API_VERSION,
				  .resource = CLUSTER_PROPOSAL_RESOURCE,
				  .ns = ns };
	return ref;
}

static void start_failed(struct pwrite *w, const struct bh_err *err)
{
	w->w = NULL;
	write_done_cb(w, err->code ? err->code : -ENOMEM, NULL, err);
}

/* Creates or updates @obj (a computed Proposal of @ns). */
static void write_one(struct cluster_proposer *p, const char *ns, json_t *obj)
{
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	bool exists = kube_watch_get(p->w[W_PROPOSALS], ns, name) != NULL;
	struct pwrite *w = pwrite_new(p, obj, exists ? "update" : "create", ns, name);
	struct kube_ref ref;
	struct bh_err err = { 0 };
	int r;

	if (!w) {
		p->write_errors++;
		redo_add(p, ns);
		return;
	}
	w->spec = true;
	p->objects_written++;
	if (exists)
		r = kube_write_update(p->a->kube, prop_ref(ns, &ref), name, false, spec_mutate_cb,
				      write_done_cb, w, &w->w, &err);
	else {
		w->create = true;
		r = kube_write_create(p->a->kube, prop_ref(ns, &ref), obj, write_done_cb, w, &w->w,
				      &err);
	}
	if (r < 0)
		start_failed(w, &err);
}

static void delete_one(struct cluster_proposer *p, const char *ns, const char *name)
{
	struct pwrite *w = pwrite_new(p, NULL, "delete", ns, name);
	char path[1024];
	struct kube_request_opts o = { .method = "DELETE",
				       .path = path,
				       .timeout_s = KUBE_WRITE_TIMEOUT_S,
				       .data_cb = discard_cb,
				       .done_cb = delete_done_cb };

	if (!w) {
		p->write_errors++;
		redo_add(p, ns);
		return;
	}
	w->spec = true;
	o.ud = w;
	(void) snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/%s/%s",
			CLUSTER_API_GROUP_VERSION, ns, CLUSTER_PROPOSAL_RESOURCE, name);
	if (kube_request_start(p->a->kube, &o, &w->req) < 0) {
		struct bh_err err = { 0 };

		(void) bh_err_set(&err, BH_ERR_SYSTEM, -ENOMEM, "cannot start the request");
		w->req = NULL;
		write_done_cb(w, -ENOMEM, NULL, &err);
	}
}

/* The names of the Proposal objects of one namespace. */
struct names {
	const char *ns;
	char **v;
	size_t n, cap;
	int r;
};

static void names_done(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int names_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct names *l = ud;

	(void) rv;
	if (strcmp(ns, l->ns) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->r = -ENOMEM;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name))) {
		l->r = -ENOMEM;
		return 1;
	}
	l->n++;
	return 0;
}

/* The Proposal objects of @ns, collected before any write starts. */
static int names_get(struct cluster_proposer *p, const char *ns, struct names *ret)
{
	*ret = (struct names){ .ns = ns };
	(void) kube_watch_foreach(p->w[W_PROPOSALS], names_cb, ret);
	if (ret->r < 0) {
		names_done(ret);
		return ret->r;
	}
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The status.mode of every Proposal of @n made equal to its stage. */
static void status_keep(struct cluster_proposer *p, const struct pns *n)
{
	const char *mode = state_db_mode_name(n->st.mode);
	struct names l;

	if (!n->has || names_get(p, n->name, &l) < 0)
		return;
	for (size_t i = 0; i < l.n; i++) {
		const json_t *o = kube_watch_get(p->w[W_PROPOSALS], n->name, l.v[i]);
		const char *cur =
			json_string_value(json_object_get(json_object_get(o, "status"), "mode"));
		json_t *st;
		struct pwrite *w;
		struct kube_ref ref;
		struct bh_err err = { 0 };

		if (cur && strcmp(cur, mode) == 0)
			continue;
		st = proposal_obj_status(mode, wall_ms());
		w = st ? pwrite_new(p, st, "status of", n->name, l.v[i]) : NULL;
		json_decref(st);
		if (!w) {
			p->write_errors++;
			continue;
		}
		p->status_written++;
		if (kube_write_update(p->a->kube, prop_ref(n->name, &ref), l.v[i], true,
				      status_mutate_cb, write_done_cb, w, &w->w, &err) < 0)
			start_failed(w, &err);
	}
	names_done(&l);
}

/* --- the computation (agent/cluster_propose_job.c) --- */

/* A computation ended: its objects written, the stale ones deleted. */
static void job_cb(struct loop_io *io, uint32_t revents)
{
	struct cluster_proposer *p = LOOP_CONTAINER_OF(io, struct cluster_proposer, job_io);
	struct cluster_pjob *j = p->job;

	(void) revents;
	if (!atomic_load(&j->done))
		return;
	loop_io_remove(&p->job_io);
	p->job = NULL;
	if (j->r < 0) {
		(void) snprintf(p->err, sizeof(p->err), "%s", j->err.msg);
		log_err("agent: cluster: proposals: %s", j->err.msg);
		for (size_t i = 0; i < j->n_ns; i++)
			redo_add(p, j->ns[i]);
		cluster_pjob_free(j);
		return;
	}
	p->computations++;
	/* The Lease may have gone meanwhile: only a holder writes. */
	if (!cluster_lease_held(p->a) || !watches_synced(p)) {
		log_notice("agent: cluster: proposals computed, but the Lease is no longer held: "
			   "not written");
		cluster_pjob_free(j);
		return;
	}
	for (size_t i = 0; i < j->n_ns; i++) {
		const json_t *objs = j->objs[i];
		struct names old;

		log_info("agent: cluster: proposals of namespace '%s': %zu objects from %zu "
			 "nodes' flows (%zu flows, %zu not covered) in %.2f s, off the loop",
			 j->ns[i], json_array_size(objs), j->n_docs, j->n_flows, j->n_uncovered,
			 (double) j->us / 1e6);
		/* what is no longer proposed: deleted */
		if (names_get(p, j->ns[i], &old) == 0) {
			for (size_t k = 0; k < old.n; k++) {
				bool keep = false;

				for (size_t q = 0; q < json_array_size(objs) && !keep; q++)
					keep = strcmp(old.v[k],
						      json_string_value(json_object_get(
							      json_object_get(json_array_get(objs,
											     q),
									      "metadata"),
							      "name"))) == 0;
				if (!keep)
					delete_one(p, j->ns[i], old.v[k]);
			}
			names_done(&old);
		}
		for (size_t k = 0; k < json_array_size(objs); k++)
			write_one(p, j->ns[i], json_array_get(objs, k));
		if (!json_array_size(objs))
			empty_set(p, j->ns[i]);
	}
	(void) loop_timer_arm_in(&p->a->kube_timer, 0);
	cluster_pjob_free(j);
}

static int job_start(struct cluster_proposer *p, const struct scan *s, const bool *due)
{
	struct agent *a = p->a;
	struct cluster *c = a->cache && a->synced ? kube_cache_cluster(a->cache) : NULL;
	const char **ns;
	size_t n = 0;
	int r;

	if (!c)
		return -EAGAIN;
	ns = calloc(s->n + 1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		if (due[i])
			ns[n++] = s->v[i].name;
	r = cluster_pjob_start(c, p->w[W_NODEFLOWS], ns, n, wall_ms(), &p->job);
	free(ns);
	if (r < 0)
		return r;
	r = loop_io_add(a->loop, &p->job_io, p->job->efd, EPOLLIN, job_cb);
	if (r < 0) {
		cluster_pjob_free(p->job);
		p->job = NULL;
	}
	return r;
}

/* Cancels every write in flight: none of their callbacks runs again.  Not
 * from inside a write's callback. */
static void writes_cancel(struct cluster_proposer *p)
{
	while (p->writes) {
		struct pwrite *w = p->writes;

		p->writes = w->next;
		w->w = kube_write_cancel(w->w);
		if (w->req)
			kube_request_cancel(w->req);
		pwrite_free(w);
	}
}

/* --- the tick --- */

static void tick(struct cluster_proposer *p)
{
	struct agent *a = p->a;
	struct scan s;
	bool *due = NULL;
	size_t n_due = 0;
	int64_t now = wall_ms();
	int r;

	if (!cluster_lease_held(a)) {
		if (p->w[0] || p->writes)
			log_info("agent: cluster: not the Lease holder: the proposer stops "
				 "watching and writing");
		/* A write still retrying (or a create or delete, which no
		 * mutate callback guards) must not land once another agent
		 * may hold the Lease. */
		writes_cancel(p);
		watches_stop(p);
		return;
	}
	if (!p->w[0]) {
		r = watches_start(p);
		if (r < 0)
			log_err("agent: cluster: cannot watch the cluster's objects: %s",
				strerror(-r));
		return;
	}
	if (!watches_synced(p) || p->job || p->writes)
		return;
	if (scan_run(p, &s) < 0 || !(due = calloc(s.n + 1, sizeof(*due)))) {
		log_err("agent: cluster: proposer: %s", strerror(ENOMEM));
		scan_done(&s);
		return;
	}
	for (size_t i = 0; i < s.n; i++) {
		due[i] = (ns_due(a, &s.v[i], now) && !empty_recent(p, s.v[i].name)) ||
			 (s.v[i].flows && redo_has(p, s.v[i].name));
		n_due += due[i];
	}
	if (n_due) {
		r = job_start(p, &s, due);
		if (r == 0)
			redo_clear(p);
		else if (r != -EAGAIN)
			log_err("agent: cluster: cannot start computing the proposals: %s",
				strerror(-r));
	}
	for (size_t i = 0; i < s.n; i++)
		if (!due[i])
			status_keep(p, &s.v[i]);
	if (p->writes)
		(void) loop_timer_arm_in(&a->kube_timer, 0);
	free(due);
	scan_done(&s);
}

static void timer_cb(struct loop_timer *t)
{
	struct cluster_proposer *p = LOOP_CONTAINER_OF(t, struct cluster_proposer, timer);

	(void) loop_timer_arm_in(&p->timer, p->a->cfg.lease_renew_s * 1000);
	tick(p);
}

int cluster_propose_start(struct agent *a, struct bh_err *reterr)
{
	struct cluster_proposer *p;

	if (!a->cfg.cluster || !a->kube)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return bh_err_oom(reterr);
	p->a = a;
	loop_timer_init(&p->timer, a->loop, timer_cb);
	if (loop_timer_arm_in(&p->timer, a->cfg.lease_renew_s * 1000) < 0) {
		free(p);
		return bh_err_oom(reterr);
	}
	a->proposer = p;
	return 0;
}

void cluster_propose_stop(struct agent *a)
{
	struct cluster_proposer *p = a->proposer;

	if (!p)
		return;
	loop_timer_disarm(&p->timer);
	if (p->job) {
		loop_io_remove(&p->job_io);
		cluster_pjob_free(p->job);
	}
	writes_cancel(p);
	watches_stop(p);
	redo_clear(p);
	empty_clear(p);
	free(p);
	a->proposer = NULL;
}

void cluster_propose_status(const struct agent *a, struct json_out *w)
{
	const struct cluster_proposer *p = a->proposer;

	json_out_obj_begin(w);
	cluster_lease_status(a, w);
	json_out_key(w, "proposer");
	json_out_obj_begin(w);
	json_out_key(w, "watching");
	json_out_bool(w, p && p->w[0]);
	json_out_key(w, "computing");
	json_out_bool(w, p && p->job);
	json_out_key(w, "computations");
	json_out_uint(w, p ? p->computations : 0);
	json_out_key(w, "objectsWritten");
	json_out_uint(w, p ? p->objects_written : 0);
	json_out_key(w, "objectsDeleted");
	json_out_uint(w, p ? p->objects_deleted : 0);
	json_out_key(w, "statusWritten");
	json_out_uint(w, p ? p->status_written : 0);
	json_out_key(w, "writeErrors");
	json_out_uint(w, p ? p->write_errors : 0);
	json_out_key(w, "error");
	if (p && p->err[0])
		json_out_str(w, p->err);
	else
		json_out_null(w);
	json_out_obj_end(w);
	json_out_obj_end(w);
}
