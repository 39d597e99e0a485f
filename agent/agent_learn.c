/*
 * Learning in the agent: pod interfaces matching the --interface globs are
 * followed as they come and go (linkmon) and captured (capture), conntrack
 * is read with --conntrack (ctmon), all into one bounded flow table
 * (learn, flow_table) on the agent's loop.
 *
 * State: at start the flows of the state database are put back into the
 * table.  Every checkpointInterval the flows changed since they were last
 * written are written (state_db_flows_update), AGENT_CHECKPOINT_CHUNK
 * table positions per loop turn, one transaction each, so no event waits
 * behind a long write.  What changed is the table's dirty flag
 * (flow_table_dirty_at()), not a flow's last_seen: a flow learned late (an
 * opener committed when its session expires) carries its packets' older
 * times.  At each write the flows' ends are resolved to the pods and
 * workloads their addresses were when the flow was seen (identity,
 * time-aware, with the API cache's tombstones).  At shutdown the last round
 * is written at once.
 *
 * Flows that left the table (evicted when it is full, or turned round by
 * the learner) leave the store too: the table records their keys
 * (flow_table_gone(), AGENT_GONE_MAX), and a round's first transaction
 * deletes them along with its first chunk, so the store holds the table's
 * flows and a restart reloads only those.  When more left than the record
 * holds, that round is one full checkpoint (state_db_flows_checkpoint()),
 * counted in bulkhead_state_db_full_checkpoints_total.
 *
 * A write that fails (full or read-only state directory) is logged once,
 * leaves its flows dirty and the gone record as it was, so the next round
 * writes those flows and deletes those keys again, and shows in /readyz
 * through the store's health.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "capture.h"
#include "clock.h"
#include "cluster.h"
#include "ctmon.h"
#include "flow_table.h"
#include "flows_json.h"
#include "identity.h"
#include "kube_cache.h"
#include "learn.h"
#include "learn_export.h"
#include "linkmon.h"
#include "log.h"
#include "metrics.h"
#include "state_db.h"

size_t agent_learn_flows(const struct agent *a)
{
	return a->learn ? flow_table_count(learn_table(a->learn)) : 0;
}

/* The flows the table created during a source's callback count for that
 * source; the table's own eviction count and size are mirrored. */
static void learned(struct agent *a, uint64_t created_before, struct metrics_series *src)
{
	const struct flow_table *t = learn_table(a->learn);
	const struct flow_table_stats *st = flow_table_stats(t);

	if (st->created > created_before)
		metrics_counter_add(src, st->created - created_before);
	metrics_counter_set(a->m_evicted, st->evicted);
	metrics_gauge_set(a->m_flows, (double) flow_table_count(t));
}

static uint64_t created_now(struct agent *a)
{
	return flow_table_stats(learn_table(a->learn))->created;
}

static void learn_fail(struct agent *a, const char *what, int r)
{
	char msg[BH_ERR_MSG_MAX];

	(void) snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-r));
	if (strcmp(msg, a->learn_err) != 0)
		log_err("agent: %s", msg);
	(void) snprintf(a->learn_err, sizeof(a->learn_err), "%s", msg);
}

/* --- captures --- */

static void cap_drops(struct agent *a, struct agent_cap *ac)
{
	struct capture_stats st;

	capture_get_stats(ac->cap, &st);
	if (st.kernel_drops > ac->drops_seen && ac->drops)
		metrics_counter_add(ac->drops, st.kernel_drops - ac->drops_seen);
	ac->drops_seen = st.kernel_drops;
	(void) a;
}

static void cap_close(struct agent *a, struct agent_cap *ac, const char *why)
{
	for (size_t i = 0; i < a->n_caps; i++) {
		if (a->caps[i] == ac) {
			a->caps[i] = a->caps[--a->n_caps];
			break;
		}
	}
	metrics_gauge_set(a->m_captures, (double) a->n_caps);
	loop_io_remove(&ac->io);
	cap_drops(a, ac);
	log_info("agent: capture on '%s' closed (%s)", ac->name, why);
	capture_free(ac->cap);
	free(ac);
}

static void cap_cb(struct loop_io *io, uint32_t revents)
{
	struct agent_cap *ac = LOOP_CONTAINER_OF(io, struct agent_cap, io);
	struct agent *a = ac->agent;
	uint64_t before = created_now(a);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = capture_process(ac->cap, &err);
	learned(a, before, a->m_learned_pcap);
	if (r == -ENODEV || r == -ENETDOWN) {
		cap_close(a, ac, "the interface went away");
	} else if (r < 0) {
		/* A capture that keeps failing would spin the loop. */
		log_err("agent: %s", err.msg);
		cap_close(a, ac, "failed");
	}
}

static void link_change_cb(void *ud, const char *ifname, int ifindex, bool up)
{
	struct agent *a = ud;
	const char *labels[] = { ifname };
	struct bh_err err = { 0 };
	struct agent_cap *ac;
	int r;

	for (size_t i = 0; i < a->n_caps; i++) {
		if (a->caps[i]->ifindex == ifindex) {
			cap_close(a, a->caps[i],
				  up ? "the interface changed" : "the interface is down");
			break;
		}
	}
	if (!up)
		return;
	if (a->n_caps == a->cap_caps) {
		size_t cap = a->cap_caps ? 2 * a->cap_caps : 16;
		struct agent_cap **v = realloc(a->caps, cap * sizeof(*v));

		if (!v) {
			learn_fail(a, ifname, -ENOMEM);
			return;
		}
		a->caps = v;
		a->cap_caps = cap;
	}
	ac = calloc(1, sizeof(*ac));
	if (!ac) {
		learn_fail(a, ifname, -ENOMEM);
		return;
	}
	ac->agent = a;
	ac->ifindex = ifindex;
	(void) snprintf(ac->name, sizeof(ac->name), "%s", ifname);
	r = capture_open_live(ifname, a->learn, &ac->cap, &err);
	if (r < 0) {
		/* A pod's veth can vanish between the notification and the
		 * open: churn, not a failure of the agent. */
		log_warning("agent: %s, ignoring", err.msg);
		free(ac);
		return;
	}
	r = loop_io_add(a->loop, &ac->io, capture_fd(ac->cap), EPOLLIN, cap_cb);
	if (r < 0) {
		learn_fail(a, ifname, r);
		capture_free(ac->cap);
		free(ac);
		return;
	}
	if (metrics_series_get(a->fam[METRICS_CAPTURE_DROPS], labels, &ac->drops) < 0)
		ac->drops = NULL;
	log_info("agent: capturing on '%s'", ifname);
	a->caps[a->n_caps++] = ac;
	metrics_gauge_set(a->m_captures, (double) a->n_caps);
}

static void linkmon_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, lm_io);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = linkmon_process(a->lm, &err);
	if (r < 0)
		learn_fail(a, err.msg, r);
}

static void ctmon_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, ct_io);
	uint64_t before = created_now(a);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = ctmon_process(a->ct, &err);
	learned(a, before, a->m_learned_ct);
	metrics_counter_set(a->m_ct_overruns, ctmon_stats(a->ct)->overruns);
	if (r < 0)
		learn_fail(a, err.msg, r);
}

static void expire_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, expire_timer);
	uint64_t before = created_now(a);

	if (learn_expire(a->learn, time(NULL)) < 0)
		learn_fail(a, "flow table", -ENOMEM);
	learned(a, before, a->m_learned_pcap);
	if (loop_timer_arm_in(t, AGENT_EXPIRE_MS) < 0)
		learn_fail(a, "expiry timer", -ENOMEM);
}

static void sources_stop(struct agent *a, bool links, bool conntrack)
{
	if (links) {
		while (a->n_caps)
			cap_close(a, a->caps[a->n_caps - 1], "stopping");
		loop_io_remove(&a->lm_io);
		a->lm = linkmon_free(a->lm);
	}
	if (conntrack) {
		loop_io_remove(&a->ct_io);
		a->ct = ctmon_free(a->ct);
	}
}

/* Opens the sources the configuration asks for (@links: the interfaces,
 * @conntrack: conntrack).  One that cannot be opened is an error. */
static int sources_start(struct agent *a, bool links, bool conntrack, struct bh_err *reterr)
{
	int r;

	if (conntrack && a->cfg.conntrack) {
		r = ctmon_new(a->learn, 0, &a->ct, reterr);
		if (r < 0)
			return bh_err_prefix(reterr, "agent: --conntrack: ");
		r = loop_io_add(a->loop, &a->ct_io, ctmon_fd(a->ct), EPOLLIN, ctmon_cb);
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: epoll: %s",
					  strerror(-r));
		log_info("agent: learning from conntrack");
	}
	if (links && a->cfg.n_interfaces) {
		r = linkmon_new((const char *const *) a->cfg.interfaces, a->cfg.n_interfaces,
				link_change_cb, a, &a->lm, reterr);
		if (r < 0)
			return bh_err_prefix(reterr, "agent: --interface: ");
		r = loop_io_add(a->loop, &a->lm_io, linkmon_fd(a->lm), EPOLLIN, linkmon_cb);
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: epoll: %s",
					  strerror(-r));
	}
	return 0;
}

int agent_learn_reconfigure(struct agent *a, uint32_t changed, struct bh_err *reterr)
{
	bool links = changed & (1u << AGENT_SET_INTERFACES);
	bool conntrack = changed & (1u << AGENT_SET_CONNTRACK);

	sources_stop(a, links, conntrack);
	return sources_start(a, links, conntrack, reterr);
}

/* --- checkpoints --- */

struct ckpt_read {
	struct agent *a;
	const uint32_t *idx; /* table positions, NULL: 0..n */
	struct flow_record rec;
};

/* state_db_flows get_cb: the flow at a table position, its ends resolved;
 * the previous call's peers are released (the store has copied them). */
static void ckpt_get_cb(void *ud, size_t i, struct flow_record *ret)
{
	struct ckpt_read *cr = ud;
	struct agent *a = cr->a;

	flow_peer_done(&cr->rec.src_peer);
	flow_peer_done(&cr->rec.dst_peer);
	flow_table_record_at(learn_table(a->learn), cr->idx ? cr->idx[i] : i, &cr->rec);
	if (a->identity &&
	    (learn_resolve_peer(a->identity, &cr->rec.key.src, &cr->rec, &cr->rec.src_peer) < 0 ||
	     learn_resolve_peer(a->identity, &cr->rec.key.dst, &cr->rec, &cr->rec.dst_peer) < 0)) {
		flow_peer_done(&cr->rec.src_peer);
		flow_peer_done(&cr->rec.dst_peer);
	}
	*ret = cr->rec;
}

/* The identity index of the cluster now, rebuilt after a change. */
const struct identity *agent_learn_identity(struct agent *a)
{
	struct cluster *c = agent_source_cluster(a);
	struct identity *id = NULL;

	if (a->identity && a->identity_gen == a->cluster_gen)
		return a->identity;
	if (!c)
		return a->identity;
	if (identity_new_with_tombstones(c, a->cache ? kube_cache_tombstones(a->cache) : NULL,
					 &id) < 0) {
		learn_fail(a, "identity index", -ENOMEM);
		return a->identity;
	}
	identity_free(a->identity);
	a->identity = id;
	a->identity_gen = a->cluster_gen;
	return id;
}

/*
 * Writes the @n flows at table positions @idx (NULL: 0..n-1) in one
 * transaction.  With @g (the gone record, read in the same loop turn) it
 * also deletes g's keys, or, when g overflowed, replaces every stored flow
 * by the whole table (@idx NULL, @n the count); the record is cleared
 * once written.
 */
static int ckpt_write(struct agent *a, const uint32_t *idx, size_t n,
		      const struct flow_table_gone *g)
{
	struct ckpt_read cr = { .a = a, .idx = idx };
	struct state_db_flows v = { .n = n, .get_cb = ckpt_get_cb, .ud = &cr };
	uint64_t t0 = clock_mono_ms();
	struct bh_err err = { 0 };
	bool full = g && g->overflow;
	int r;

	(void) agent_learn_identity(a);
	if (full)
		r = state_db_flows_checkpoint(a->db, &v, &err);
	else
		r = state_db_flows_update(a->db, &v, g ? g->keys : NULL, g ? g->n : 0, &err);
	flow_peer_done(&cr.rec.src_peer);
	flow_peer_done(&cr.rec.dst_peer);
	metrics_histogram_observe(a->m_db_write, (double) (clock_mono_ms() - t0) / 1000.0);
	if (r < 0) {
		if (strcmp(a->learn_err, err.msg) != 0)
			log_err("agent: checkpoint: %s; the flows stay in memory and are written "
				"again at the next checkpoint",
				err.msg);
		(void) snprintf(a->learn_err, sizeof(a->learn_err), "%s", err.msg);
		return r;
	}
	a->learn_err[0] = '\0';
	a->checkpoints++;
	for (size_t i = 0; i < n; i++)
		flow_table_clean_at(learn_table(a->learn), idx ? idx[i] : i);
	if (full) {
		log_info("agent: %" PRIu64 " more flows left the table than its record holds: "
			 "checkpoint of all %zu flows",
			 g->overflow, n);
		a->ckpt_full++;
		metrics_counter_add(a->m_ckpt_full, 1);
	}
	if (g)
		flow_table_gone_clear(learn_table(a->learn));
	return 0;
}

/* One step of an incremental round: the next chunk of table positions,
 * the flows among them changed since they were last written. */
static void checkpoint_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, checkpoint_timer);
	struct flow_table *ft = learn_table(a->learn);
	size_t count = flow_table_count(ft), end, n = 0;
	struct flow_table_gone g = { 0 };
	bool first = !a->ckpt_running;

	if (first) {
		a->ckpt_running = true;
		a->ckpt_pos = 0;
		/* The keys gone since the last round go with the first
		 * chunk; when the record overflowed, the round is one full
		 * checkpoint. */
		flow_table_gone(ft, &g);
		if (g.overflow) {
			(void) ckpt_write(a, NULL, count, &g);
			a->ckpt_running = false;
			(void) loop_timer_arm_in(t, a->cfg.checkpoint_interval_s * 1000);
			return;
		}
	}
	end = a->ckpt_pos + AGENT_CHECKPOINT_CHUNK;
	if (end > count)
		end = count;
	for (size_t i = a->ckpt_pos; i < end; i++) {
		if (flow_table_dirty_at(ft, i))
			a->ckpt_idx[n++] = (uint32_t) i;
	}
	if ((n || g.n) && ckpt_write(a, a->ckpt_idx, n, first ? &g : NULL) < 0) {
		/* The next round takes what is still dirty. */
		a->ckpt_running = false;
		(void) loop_timer_arm_in(t, a->cfg.checkpoint_interval_s * 1000);
		return;
	}
	a->ckpt_pos = end;
	if (end < count) {
		(void) loop_timer_arm_in(t, 0);
		return;
	}
	/* A flow seen during the round, in a chunk already written, is dirty
	 * again: the next round takes it. */
	a->ckpt_running = false;
	(void) loop_timer_arm_in(t, a->cfg.checkpoint_interval_s * 1000);
}

/* The gone record's size for a table of @max flows (AGENT_GONE_MAX). */
static size_t gone_max(uint64_t max)
{
	uint64_t n = max / 16;

	if (n < 1024)
		n = max < 1024 ? max : 1024;
	return n > AGENT_GONE_MAX ? AGENT_GONE_MAX : (size_t) n;
}

/* Puts the stored flows back into the table (counters, times, sources). */
static int flows_restore(struct agent *a, struct bh_err *reterr)
{
	struct flow_table *t = learn_table(a->learn);
	struct flow_set s;
	int r;

	flow_set_init(&s);
	r = state_db_flows_load(a->db, &s, reterr);
	if (r < 0) {
		flow_set_done(&s);
		return r;
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct flow_record *f = &s.flows[i];
		uint32_t pk = f->packets > UINT32_MAX ? UINT32_MAX : (uint32_t) f->packets;
		uint32_t cn = f->connections > UINT32_MAX ? UINT32_MAX : (uint32_t) f->connections;

		r = flow_table_add(t, &f->key, pk, f->bytes, cn, f->first_seen, f->seen_by);
		if (r >= 0)
			r = flow_table_add(t, &f->key, 0, 0, 0, f->last_seen, f->seen_by);
		if (r < 0) {
			flow_set_done(&s);
			return bh_err_oom(reterr);
		}
	}
	log_info("agent: %zu flows restored from '%s'", s.n, state_db_path(a->db));
	flow_set_done(&s);
	metrics_gauge_set(a->m_flows, (double) flow_table_count(t));
	return 0;
}

void agent_learn_stats(struct agent *a)
{
	if (!a->learn)
		return;
	for (size_t i = 0; i < a->n_caps; i++)
		cap_drops(a, a->caps[i]);
	if (a->ct)
		metrics_counter_set(a->m_ct_overruns, ctmon_stats(a->ct)->overruns);
	metrics_gauge_set(a->m_flows, (double) flow_table_count(learn_table(a->learn)));
}

int agent_learn_start(struct agent *a, struct bh_err *reterr)
{
	int r;

	loop_timer_init(&a->expire_timer, a->loop, expire_cb);
	loop_timer_init(&a->checkpoint_timer, a->loop, checkpoint_cb);
	a->learn = learn_new(a->cfg.max_flows);
	a->ckpt_idx = malloc(AGENT_CHECKPOINT_CHUNK * sizeof(*a->ckpt_idx));
	if (!a->learn || !a->ckpt_idx)
		return bh_err_oom(reterr);
	/* On before the restore: flows beyond a (lowered) maxFlows leave the
	 * store at the first checkpoint. */
	(void) flow_table_gone_record(learn_table(a->learn), gone_max(a->cfg.max_flows));
	r = flows_restore(a, reterr);
	if (r < 0)
		return r;
	/* The restored flows are stored already: a round writes what changes
	 * from now on. */
	for (size_t i = 0; i < flow_table_count(learn_table(a->learn)); i++)
		flow_table_clean_at(learn_table(a->learn), i);
	r = sources_start(a, true, true, reterr);
	if (r < 0)
		return r;
	if (!a->cfg.n_interfaces && !a->cfg.conntrack)
		log_notice("agent: no --interface and no --conntrack: nothing to learn from");
	if (loop_timer_arm_in(&a->expire_timer, AGENT_EXPIRE_MS) < 0 ||
	    loop_timer_arm_in(&a->checkpoint_timer, a->cfg.checkpoint_interval_s * 1000) < 0)
		return bh_err_oom(reterr);
	return 0;
}

void agent_learn_stop(struct agent *a)
{
	loop_timer_disarm(&a->expire_timer);
	loop_timer_disarm(&a->checkpoint_timer);
	sources_stop(a, true, true);
	if (a->learn && a->db && a->ckpt_idx) {
		struct flow_table_gone g;
		struct flow_table *t;
		size_t count, n = 0;
		bool gone;
		int r = 0;

		/* The last round, whole: what changed since the last one
		 * (stored flows keep the ends they were resolved to), and
		 * the keys gone since, with the first transaction. */
		(void) learn_flush(a->learn);
		t = learn_table(a->learn);
		count = flow_table_count(t);
		flow_table_gone(t, &g);
		gone = g.n > 0;
		if (g.overflow) {
			r = ckpt_write(a, NULL, count, &g);
			count = 0;
			gone = false;
		}
		for (size_t i = 0; i < count && r == 0; i++) {
			if (flow_table_dirty_at(t, i))
				a->ckpt_idx[n++] = (uint32_t) i;
			if (n == AGENT_CHECKPOINT_CHUNK || (i + 1 == count && n)) {
				r = ckpt_write(a, a->ckpt_idx, n, gone ? &g : NULL);
				gone = false;
				n = 0;
			}
		}
		if (r == 0 && gone)
			r = ckpt_write(a, a->ckpt_idx, 0, &g);
		count = flow_table_count(t);
		if (r == 0)
			log_info("agent: %zu flows in '%s'", count, state_db_path(a->db));
	}
	free(a->caps);
	a->caps = NULL;
	a->cap_caps = 0;
	a->identity = identity_free(a->identity);
	a->learn = learn_free(a->learn);
	free(a->ckpt_idx);
	a->ckpt_idx = NULL;
}
