/*
 * The proposer Lease (include/cluster_lease.h, docs/cluster.md "The Lease
 * and the proposer").
 *
 * Every lease_renew_s one write: a read-modify-write of the Lease
 * (kube_write_update(): GET, decide, PUT with the read resourceVersion).
 * The decision is made on the object as read: ours, renew it; nobody's or
 * expired, take it (leaseTransitions + 1); someone else's and live, stop
 * (-EALREADY: not ours).  A 409 on the PUT means another agent wrote
 * between our GET and PUT: the write reads again and decides again, and
 * then sees the winner.  An absent Lease is created; -EEXIST means another
 * agent created it first.
 *
 * Holding is judged on our own clock: we hold the Lease until two thirds
 * of lease_duration_s after the start of the last write that renewed it
 * (the start, not the answer: the server may have stored it as soon as it
 * was sent).  The others judge expiry from renewTime on their clocks, so
 * the third left over is the clock skew between nodes that cannot make two
 * agents hold the Lease at once (client-go's renewDeadline is two thirds
 * of its leaseDuration for the same reason).  A holder cut off from the
 * API server stops proposing then, before the others may take the Lease.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent_int.h"
#include "clock.h"
#include "cluster_api.h"
#include "cluster_lease.h"
#include "cluster_stage.h"
#include "json_out.h"
#include "kube_write.h"
#include "log.h"
#include "rfc3339.h"

struct cluster_lease {
	struct agent *a;
	struct loop_timer timer;
	struct kube_write *w; /* the write in flight, or NULL */
	uint64_t w_started; /* clock_mono_ms() of its start */
	bool held;
	uint64_t renewed; /* clock_mono_ms() of the start of the last renewal */
	char holder[256]; /* the holder last seen, "" none */
	int64_t expires; /* unix ms the other holder's Lease expires, as read */
	uint64_t transitions; /* times this agent took or lost the Lease */
	char err[BH_ERR_MSG_MAX]; /* the last failed write, "" */
};

/* How long after the start of its last renewal the holder trusts its
 * Lease, in ms: two thirds of the duration (agent_config_check() has
 * leaseRenew under that). */
static uint64_t lease_trust_ms(const struct agent *a)
{
	return a->cfg.lease_duration_s * 2000 / 3;
}

static const struct kube_ref *lease_ref(const struct agent *a, struct kube_ref *ref)
{
	*ref = (struct kube_ref){ .group = CLUSTER_LEASE_GROUP,
				  .version = CLUSTER_LEASE_VERSION,
				  .resource = CLUSTER_LEASE_RESOURCE,
				  .ns = a->cfg.ns };
	return ref;
}

/* Now as a Lease writes it: RFC 3339 with microseconds. */
static const char *now_micro(char *buf, size_t len)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	if (!rfc3339_format_ns((int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec, 6, buf, len))
		(void) snprintf(buf, len, "1970-01-01T00:00:00.000000Z");
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_held(struct cluster_lease *l, bool held, const char *why)
{
	if (held == l->held)
		return;
	l->held = held;
	l->transitions++;
	if (held)
		log_notice("agent: cluster: holding Lease '%s/%s': this agent computes the "
			   "proposals (%s)",
			   l->a->cfg.ns, CLUSTER_LEASE_NAME, why);
	else
		log_notice("agent: cluster: no longer holding Lease '%s/%s': %s", l->a->cfg.ns,
			   CLUSTER_LEASE_NAME, why);
}

static void holder_seen(struct cluster_lease *l, const json_t *spec)
{
	const char *h = json_string_value(json_object_get(spec, "holderIdentity"));

	(void) snprintf(l->holder, sizeof(l->holder), "%s", h ? h : "");
}

void cluster_lease_read(const json_t *obj, int64_t now_ms, struct cluster_lease_view *ret)
{
	const json_t *spec = json_object_get(obj, "spec");
	const char *renew = json_string_value(json_object_get(spec, "renewTime"));
	json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	json_int_t trans = json_integer_value(json_object_get(spec, "leaseTransitions"));
	int64_t renewed;

	*ret = (struct cluster_lease_view){
		.holder = json_string_value(json_object_get(spec, "holderIdentity")),
		.transitions = trans < 0	  ? 0 :
			       trans >= INT32_MAX ? INT32_MAX - 1 :
						    trans,
	};
	if (dur < 0)
		dur = 0;
	else if (dur > INT32_MAX)
		dur = INT32_MAX;
	if (renew && cluster_time_parse_ms(renew, &renewed) == 0)
		ret->expires = renewed + (int64_t) dur * 1000;
	ret->live = ret->holder && ret->holder[0] && ret->expires > now_ms;
}

/* The Lease as read: ours to renew, free to take, or someone else's. */
static int mutate_cb(void *ud, json_t *obj)
{
	struct cluster_lease *l = ud;
	const struct agent *a = l->a;
	json_t *spec = json_object_get(obj, "spec");
	struct cluster_lease_view v;
	char t[RFC3339_STR_MAX];
	bool ours;

	cluster_lease_read(obj, now_ms(), &v);
	ours = v.holder && strcmp(v.holder, a->cfg.node) == 0;
	if (!ours && v.live) {
		holder_seen(l, spec);
		l->expires = v.expires;
		return -EALREADY;
	}
	if (!json_is_object(spec)) {
		spec = json_object();
		if (!spec || json_object_set_new(obj, "spec", spec) < 0)
			return -ENOMEM;
	}
	now_micro(t, sizeof(t));
	if (json_object_set_new(spec, "renewTime", json_string(t)) < 0 ||
	    json_object_set_new(spec, "leaseDurationSeconds",
				json_integer((json_int_t) a->cfg.lease_duration_s)) < 0)
		return -ENOMEM;
	if (!ours &&
	    (json_object_set_new(spec, "holderIdentity", json_string(a->cfg.node)) < 0 ||
	     json_object_set_new(spec, "acquireTime", json_string(t)) < 0 ||
	     json_object_set_new(spec, "leaseTransitions", json_integer(v.transitions + 1)) < 0))
		return -ENOMEM;
	return 0;
}

static void write_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct cluster_lease *l = ud;

	l->w = NULL;
	if (r == 0) {
		holder_seen(l, json_object_get(obj, "spec"));
		l->err[0] = '\0';
		l->renewed = l->w_started;
		set_held(l, true, "acquired");
		return;
	}
	if (r == -EALREADY || r == -EEXIST) {
		int64_t wait = l->expires - now_ms();

		l->err[0] = '\0';
		if (r == -EEXIST)
			l->holder[0] = '\0'; /* created by another: read next time */
		set_held(l, false, "another agent holds it");
		/* Try again as it expires rather than up to leaseRenew later:
		 * a dead holder is replaced within leaseDuration of its last
		 * renewal (plus a read and a write). */
		if (r == -EALREADY && wait >= 0 && (uint64_t) wait < l->a->cfg.lease_renew_s * 1000)
			(void) loop_timer_arm_in(&l->timer, (uint64_t) wait + 1);
		return;
	}
	(void) snprintf(l->err, sizeof(l->err), "%s", err && err->msg[0] ? err->msg : "");
	log_warning("agent: cluster: Lease '%s/%s': %s, retrying in %llu s", l->a->cfg.ns,
		    CLUSTER_LEASE_NAME, l->err, (unsigned long long) l->a->cfg.lease_renew_s);
}

/* The Lease is absent: create it, held by us. */
static void update_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct cluster_lease *l = ud;
	const struct agent *a = l->a;
	struct kube_ref ref;
	struct bh_err e = { 0 };
	char t[RFC3339_STR_MAX];
	json_t *lease;

	if (r != -ENOENT) {
		write_done_cb(ud, r, obj, err);
		return;
	}
	l->w = NULL;
	now_micro(t, sizeof(t));
	lease = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:I, s:s, s:s, s:i}}",
			  "apiVersion", CLUSTER_LEASE_GROUP "/" CLUSTER_LEASE_VERSION, "kind",
			  "Lease", "metadata", "name", CLUSTER_LEASE_NAME, "namespace", a->cfg.ns,
			  "labels", CLUSTER_MANAGED_BY_LABEL, CLUSTER_MANAGED_BY, "spec",
			  "holderIdentity", a->cfg.node, "leaseDurationSeconds",
			  (json_int_t) a->cfg.lease_duration_s, "acquireTime", t, "renewTime", t,
			  "leaseTransitions", 0);
	if (!lease) {
		(void) snprintf(l->err, sizeof(l->err), "out of memory");
		return;
	}
	r = kube_write_create(a->kube, lease_ref(a, &ref), lease, write_done_cb, l, &l->w, &e);
	json_decref(lease);
	if (r < 0) {
		l->w = NULL;
		(void) snprintf(l->err, sizeof(l->err), "%s", e.msg);
	}
}

static void timer_cb(struct loop_timer *t)
{
	struct cluster_lease *l = LOOP_CONTAINER_OF(t, struct cluster_lease, timer);
	struct agent *a = l->a;
	uint64_t now = clock_mono_ms();
	struct kube_ref ref;
	struct bh_err err = { 0 };
	char why[96];

	(void) loop_timer_arm_in(&l->timer, a->cfg.lease_renew_s * 1000);
	if (l->held && now - l->renewed >= lease_trust_ms(a)) {
		(void) snprintf(why, sizeof(why), "not renewed within %llu ms",
				(unsigned long long) lease_trust_ms(a));
		set_held(l, false, why);
	}
	if (l->w) {
		/* A write outlasting the renewal period (its retries): let it
		 * end; a newer one would only race it. */
		return;
	}
	l->w_started = now;
	if (kube_write_update(a->kube, lease_ref(a, &ref), CLUSTER_LEASE_NAME, false, mutate_cb,
			      update_done_cb, l, &l->w, &err) < 0) {
		l->w = NULL;
		(void) snprintf(l->err, sizeof(l->err), "%s", err.msg);
	}
	/* the API client's timer, so that the request goes out now */
	(void) loop_timer_arm_in(&a->kube_timer, 0);
}

int cluster_lease_start(struct agent *a, struct bh_err *reterr)
{
	struct cluster_lease *l;

	if (!a->cfg.cluster || !a->kube)
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return bh_err_oom(reterr);
	l->a = a;
	loop_timer_init(&l->timer, a->loop, timer_cb);
	if (loop_timer_arm_in(&l->timer, 0) < 0) {
		free(l);
		return bh_err_oom(reterr);
	}
	a->lease = l;
	log_info("agent: cluster: campaigning for Lease '%s/%s' (duration %llu s, renewed every "
		 "%llu s)",
		 a->cfg.ns, CLUSTER_LEASE_NAME, (unsigned long long) a->cfg.lease_duration_s,
		 (unsigned long long) a->cfg.lease_renew_s);
	return 0;
}

void cluster_lease_stop(struct agent *a)
{
	struct cluster_lease *l = a->lease;

	if (!l)
		return;
	loop_timer_disarm(&l->timer);
	l->w = kube_write_cancel(l->w);
	free(l);
	a->lease = NULL;
}

bool cluster_lease_held(const struct agent *a)
{
	const struct cluster_lease *l = a->lease;

	return l && l->held && clock_mono_ms() - l->renewed < lease_trust_ms(a);
}

void cluster_lease_status(const struct agent *a, struct json_out *w)
{
	const struct cluster_lease *l = a->lease;

	json_out_key(w, "lease");
	json_out_str(w, CLUSTER_LEASE_NAME);
	json_out_key(w, "namespace");
	json_out_str(w, a->cfg.ns);
	json_out_key(w, "leaseHolder");
	json_out_bool(w, cluster_lease_held(a));
	json_out_key(w, "holder");
	if (l && l->holder[0])
		json_out_str(w, l->holder);
	else
		json_out_null(w);
	json_out_key(w, "transitions");
	json_out_uint(w, l ? l->transitions : 0);
	json_out_key(w, "leaseError");
	if (l && l->err[0])
		json_out_str(w, l->err);
	else
		json_out_null(w);
}
