/*
 * The daemon's inside (agent-private): struct agent and the parts it is cut
 * into, one file per idea.
 *
 *   agent.c         lifecycle: config, log, state db, signals, SIGHUP reload
 *   agent_http.c    the routes and the readiness of /readyz and /status
 *   agent_source.c  the cluster: snapshot files watched with inotify, or the
 *                   Kubernetes cache
 *   agent_learn.c   capture, conntrack, the flow table, checkpoints
 *   agent_enforce.c table inet bulkhead kept in step with the cluster (the
 *                   sync object), adopted at start
 *   agent_alerts.c  preview alerts: NFLOG read, resolved, counted, saved
 *   agent_counters.c the ruleset's nftables counters as per-policy metrics
 *   agent_report.c  the report (docs/report.md) of GET /report
 *   agent_report_job.c GET /report made in a child process, off the loop
 *   cluster_nodeflows.c cluster mode: this node's NodeFlows object
 *   cluster_follow.c cluster mode: the stages from PolicyMode/Proposal objects
 *
 * agent.c calls into the others; they read and write the fields below but
 * never call agent.c (style.layering rule 2: no call cycle), and a part
 * tells another of a change through a field (cluster_gen), not a call.
 * One exception, a call down: the enforcement must follow every change as
 * it happens, so agent_source.c hands each to agent_enforce.c (and
 * agent_http.c asks it and agent_alerts.c for /status); agent_enforce.c
 * and agent_alerts.c call no other part.
 * Loop thread only.
 */
#ifndef BH_AGENT_INT_H
#define BH_AGENT_INT_H

#include <net/if.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "agent_config.h"
#include "alerts.h"
#include "err.h"
#include "hmap.h"
#include "loop.h"
#include "metrics.h"
#include "netpol.h"
#include "state_db.h"

struct alerts;
struct capture;
struct engine;
struct cluster;
struct cluster_lease;
struct cluster_proposer;
struct ctmon;
struct http_request;
struct http_response;
struct json_t;
struct http_server;
struct report_job;
struct identity;
struct kube_cache;
struct kube_client;
struct kube_cache_event;
struct learn;
struct linkmon;
struct json_out;
struct nftio;
struct preview;
struct ruleset;
struct sync;
struct sync_build;
struct metrics_registry;
struct state_db;
struct state_db_mode;

/* Snapshot files are read again this long after the last change seen
 * (an editor's or kubectl's write comes as several events). */
#define AGENT_SNAPSHOT_SETTLE_MS 200
/* Flows written per incremental checkpoint step: one transaction each,
 * short enough that no loop event waits long behind it. */
#define AGENT_CHECKPOINT_CHUNK 2000
/* The flow table's gone record (flow_table_gone_record()) holds the keys
 * of a sixteenth of the table, at least 1,024 (all of a smaller table) and
 * at most this many (2.8 MiB): more leaving between two checkpoints makes
 * the next one full. */
#define AGENT_GONE_MAX 65536
/* Capture drops, conntrack overruns and the flow gauge are read this often. */
#define AGENT_STATS_MS 5000
/* Unanswered openers are learned as sent this often (learn_expire). */
#define AGENT_EXPIRE_MS 1000
/* Preview alerts are saved to the state database this long after they
 * change (a kill -9 loses at most this much of their counts). */
#define AGENT_ALERTS_SAVE_MS 1000
/* A failed ruleset batch is tried again (as a full replace) this long
 * after, when no event comes first. */
#define AGENT_ENFORCE_RETRY_MS 2000
/* Pods copied per loop turn for a full build (about 10 ms at 1,000). */
#define AGENT_ENFORCE_COPY_CHUNK 1000
/* More changes than this in one turn of the cluster source (a burst, a
 * relist): the table is rebuilt off the loop instead of one update each
 * (a few milliseconds each at 10,000 pods). */
#define AGENT_ENFORCE_BURST_MAX 200
/* ... once no burst event came for this long (the rest of the burst is in
 * the copy then, not caught up after it). */
#define AGENT_ENFORCE_BURST_SETTLE_MS 100
#define AGENT_ENFORCE_BURST_WAIT_MS 1000 /* (at most) */
/*
 * A change that recompiles the cluster (a policy; a namespace's labels,
 * a node's addresses) costs what the last compile of the whole cluster
 * cost (@enf_compile_us; ruleset_update_all() is that compile plus a
 * diff): about 1 s at 10,000 pods and 1,000 policies, under 5 ms at a few
 * hundred pods.  Past this bound it runs in the worker (an update job:
 * the copy in steps of about 10 ms, the thread) so that no loop turn
 * waits more than about 50 ms; below it the copy would cost more than it
 * saves, and the change is made on the loop.  Half the 50 ms budget: the
 * estimate is the last compile's, and one compile may be slower.
 */
#define AGENT_ENFORCE_LOOP_COMPILE_MAX_US 25000

/* One live capture on a pod interface. */
struct agent_cap {
	struct loop_io io;
	struct agent *agent;
	struct capture *cap;
	int ifindex;
	char name[IF_NAMESIZE];
	uint64_t drops_seen; /* kernel drops already counted in the metric */
	struct metrics_series *drops;
};

/* What cluster mode applied to a namespace (NodeFlows status.applied). */
struct cluster_applied {
	char *ns; /* owned */
	enum state_db_mode_kind stage;
	int64_t switched_at; /* the PolicyMode followed, unix ms; 0 none */
	int64_t computed_at; /* the newest Proposal's computedAt, unix ms; 0 none */
	int64_t applied_at; /* when its batch was sent, unix ms */
	char err[BH_ERR_MSG_MAX]; /* why it is not applied, "" */
};

/* One directory of snapshot files watched with inotify. */
struct agent_watch_dir {
	int wd;
	char *dir;
};

struct agent {
	struct agent_config cfg;
	char *config_path; /* --config FILE, NULL without */
	struct loop *loop;
	struct loop_timer stats_timer;
	int64_t started; /* unix seconds */
	bool stopping;

	/* --- state --- */
	struct state_db *db;
	/* The stages stored, one per namespace (agent_stage.c keeps them). */
	struct state_db_mode *modes;
	size_t n_modes;

	/* --- HTTP (agent_http.c) --- */
	struct http_server *http;
	/* GET /report under way (agent_report_job.c), NULL none. */
	struct report_job *report_job;
	struct metrics_registry *metrics;
	struct metrics_family *fam[_METRICS_AGENT_MAX];
	struct metrics_series *m_learned_pcap, *m_learned_ct, *m_evicted, *m_flows, *m_ct_overruns,
		*m_db_write, *m_ckpt_full, *m_captures;

	/* --- the cluster (agent_source.c) --- */
	struct cluster *snap; /* the last good snapshot, owned */
	struct kube_config *kcfg;
	struct kube_client *kube;
	struct kube_cache *cache;
	struct loop_io kube_io;
	struct loop_timer kube_timer;
	int inotify_fd;
	struct loop_io inotify_io;
	struct loop_timer snapshot_timer;
	struct agent_snap_job *snap_job; /* a reload being read, or NULL */
	struct loop_io snap_io; /* its eventfd */
	bool snap_again; /* the files changed while it read */
	struct agent_watch_dir *wdirs;
	size_t n_wdirs;
	bool synced; /* the cluster source has given a whole cluster */
	/* The API server: sums over the watches of what came (lists, pages,
	 * events, bookmarks) and of failed requests, and which changed last:
	 * failures after the last data make the API "unreachable". */
	uint64_t api_data, api_fail;
	bool api_down;
	int64_t last_sync; /* unix seconds of the last good sync, 0 never */
	uint64_t cluster_gen; /* bumped at every change of the cluster */
	char source_err[BH_ERR_MSG_MAX]; /* why the source is not good, "" */

	/* --- learning (agent_learn.c) --- */
	struct learn *learn;
	struct linkmon *lm;
	struct loop_io lm_io;
	struct ctmon *ct;
	struct loop_io ct_io;
	struct agent_cap **caps;
	size_t n_caps, cap_caps;
	struct loop_timer expire_timer, checkpoint_timer;
	struct identity *identity;
	uint64_t identity_gen; /* cluster_gen the identity was built for */
	/* Incremental checkpoint: the flows changed since they were last
	 * written (flow_table_dirty_at()) are, AGENT_CHECKPOINT_CHUNK table
	 * positions at a time from @ckpt_pos, while @ckpt_running. */
	size_t ckpt_pos;
	bool ckpt_running;
	uint32_t *ckpt_idx;
	uint64_t checkpoints; /* transactions written */
	uint64_t ckpt_full; /* of which full checkpoints (the gone record overflowed) */
	char learn_err[BH_ERR_MSG_MAX]; /* the last learning failure, "" */

	/* --- enforcement (agent_enforce.c) --- */
	struct nftio *nio; /* NULL with enforce off */
	struct ruleset *rs; /* NULL until the first whole cluster */
	struct sync *sync; /* follows the cluster below */
	/* The cluster the sync object follows: the cache's (borrowed), or
	 * with --snapshot a copy of its own (owned, @enf_own). */
	struct cluster *enf_cluster;
	bool enf_own;
	/* A full build (the first take, or a rebuild after a failure or a
	 * delta that needs a full replace) runs in a worker thread
	 * (include/sync_build.h) on a copy of the cluster, while @sync and
	 * @rs are NULL; its eventfd is @enf_job_io.  Changes that came
	 * meanwhile: pods only (@enf_job_pods: caught up by a diff from the
	 * copy), or more (@enf_job_redo: built again). */
	struct sync_build *enf_job;
	struct loop_io enf_job_io;
	/* The copy under way, AGENT_ENFORCE_COPY_CHUNK pods per turn of
	 * @enf_copy_timer, before the worker starts; loop time spent. */
	struct cluster *enf_copy;
	struct loop_timer enf_copy_timer;
	uint64_t enf_copy_us;
	unsigned enf_copy_steps;
	bool enf_job_pods, enf_job_redo;
	unsigned enf_job_npods; /* pod changes meanwhile: past the burst bound, redo */
	uint64_t enf_job_t0; /* clock_mono_us() at its start */
	/* The copy under way is for an update job: the ruleset the kernel
	 * holds, taken from @rs (owned; NULL: a full build). */
	struct ruleset *enf_upd_rs;
	bool enf_upd_maps; /* ... and refills the verdict maps (sync_refill()) */
	/* The last compile of the whole cluster measured (a worker's, or
	 * an update on the loop): AGENT_ENFORCE_LOOP_COMPILE_MAX_US. */
	uint64_t enf_compile_us;
	uint64_t enf_events; /* events of the sync objects already freed */
	unsigned enf_turn; /* changes handed to @sync since the last flush */
	uint64_t enf_settle_until; /* loop_now() bound of a burst's settling */
	struct loop_timer enf_timer; /* the verdict-map refill, or a retry */
	bool enf_retry; /* a batch failed: flush again when the timer fires */
	const char *enf_start; /* how the table was taken: adopted, replaced */
	int64_t enf_last; /* unix seconds the table was last in step, 0 never */
	uint64_t enf_full, enf_incr, enf_errors; /* batches sent, failures */
	uint64_t enf_resyncs; /* full replaces after a failure */
	char enf_digest[64]; /* the table's comment as last replaced/adopted */
	char enf_err[BH_ERR_MSG_MAX]; /* why the table is not in step, "" */
	struct metrics_series *m_enf_info;

	/* --- preview alerts (agent_alerts.c) --- */
	struct alerts *alerts; /* preview alerts (agent_alerts.c), NULL when none */
	struct preview *nflog; /* the NFLOG group, NULL when not bound */
	struct loop_io nflog_io;
	struct loop_timer alerts_timer; /* saves what changed */
	/* Unix ms of the oldest observation not saved yet; INT64_MAX none. */
	int64_t alerts_dirty;
	bool alerts_save_failed;
	uint64_t alerts_unresolved; /* logged packets no pod decided */
	uint64_t alerts_stale; /* the engine, asked later, allows them */
	uint64_t alerts_saved; /* alert rows written */
	struct engine *alerts_engine; /* over enf_cluster, as of ... */
	uint64_t alerts_engine_gen; /* ... this cluster_gen */
	char nflog_err[BH_ERR_MSG_MAX]; /* why NFLOG is not read, "" */
	struct metrics_series *m_alerts, *m_alerts_dropped, *m_nflog_overruns;

	/* --- the proposal (agent_propose.c) --- */
	struct agent_propose_job *prop_job; /* the computation under way, or NULL */
	struct loop_io prop_io; /* its eventfd */
	size_t prop_uncovered; /* flows the last proposal does not cover */
	char prop_err[BH_ERR_MSG_MAX]; /* why the last computation failed, "" */

	/* --- stages (agent_stage.c); the stages themselves are @modes --- */
	struct loop_timer stage_timer; /* the earliest window end, or a retry */
	/* The proposal policies the namespaces in preview and enforce want
	 * in the cluster (NETPOL_PROPOSAL_PREFIX names, their origin set),
	 * decoded from the stored proposals; rebuilt when @stage_dirty. */
	struct netpol *stage_pols;
	/* The workload ("NS/KIND/NAME") each of @stage_pols is for, from its
	 * bulkhead.io/workload annotation; NULL without one. */
	char **stage_pol_wl;
	size_t n_stage_pols;
	bool stage_dirty;
	/* The source cluster and its ns_gen when last scanned and injected
	 * (a --snapshot reload is a new cluster; the cache's cluster stays,
	 * and loses no proposal policy to a relist). */
	const struct cluster *stage_src;
	uint64_t stage_ns_gen;
	int64_t stage_retry; /* unix seconds: a failed computation retried then */

	/* --- cluster mode (cluster_nodeflows.c, cluster_follow.c) --- */
	bool nf_on; /* the NodeFlows writer runs */
	struct loop_timer nf_timer; /* the next build every clusterInterval, or a retry */
	struct kube_write *nf_write; /* the request under way, or NULL */
	int nf_op; /* what it is (cluster_nodeflows.c's enum nf_op) */
	/* The write pending: the whole object (@nf_full, the hash of its
	 * content @nf_full_text) or status.applied alone (@nf_patch);
	 * status.applied's text either way. */
	struct json_t *nf_full, *nf_patch;
	char *nf_full_text, *nf_pending_applied;
	/* What was last written (the content's hash, status.applied's
	 * text), and the object's resourceVersion (NULL: to be read first). */
	char *nf_written, *nf_applied_written, *nf_rv;
	bool nf_want_full, nf_want_applied;
	unsigned nf_stale; /* -ESTALE in a row */
	/* The build under way in a child process (its pid, pidfd watched
	 * by @nf_io, the memfd it writes into; -1 none). */
	pid_t nf_pid;
	int nf_pidfd, nf_memfd;
	struct loop_io nf_io;
	uint64_t nf_t0, nf_fork_us;
	uint64_t nf_writes, nf_attempts, nf_conflicts, nf_fails;
	uint64_t nf_build_us; /* the last build, the child's start to its end */
	uint64_t nf_loop_us; /* ... of which on the loop (fork, read) */
	/* Following the PolicyMode and Proposal objects (cluster_follow.c). */
	bool cf_on;
	struct kube_watch *cf_modes, *cf_props;
	struct loop_timer cf_timer; /* the changes of a turn applied together */
	struct cluster_applied *cl_applied;
	size_t n_cl_applied;
	uint64_t cf_batches;

	/* --- cluster mode: the Lease and its holder's proposals
	 * (cluster_lease.c, cluster_propose.c); NULL without cfg.cluster --- */
	struct cluster_lease *lease;
	struct cluster_proposer *proposer;

	/* --- policy packet counters (agent_counters.c) --- */
	struct hmap policy_counters; /* "NS\0NAME\0VERDICT" -> its series */
	bool policy_counters_init;
	bool counters_failed; /* the last read failed (logged once) */
};

/* agent_http.c: registers the metrics families and the routes, opens the
 * listeners. */
int agent_http_start(struct agent *a, struct bh_err *reterr);
void agent_http_stop(struct agent *a);
/* What /readyz says: true, or false with a one-line @reason. */
bool agent_ready(struct agent *a, char *reason, size_t len);

/* agent_source.c: loads the cluster (snapshot files now, or starts the
 * Kubernetes cache) and watches it. */
int agent_source_start(struct agent *a, struct bh_err *reterr);
void agent_source_stop(struct agent *a);
/* Reads the API watches' counters into the metrics. */
void agent_source_stats(struct agent *a);
/* The cluster now (borrowed: valid until the next loop event), or NULL
 * before the first sync. */
struct cluster *agent_source_cluster(struct agent *a);

/* agent_learn.c: the flow table (restored from the state db), the live
 * sources of the configuration, the checkpoint timer. */
int agent_learn_start(struct agent *a, struct bh_err *reterr);
/* Applies a changed --interface or --conntrack (SIGHUP). */
int agent_learn_reconfigure(struct agent *a, uint32_t changed, struct bh_err *reterr);
/* Writes every flow (at shutdown) and stops the sources. */
void agent_learn_stop(struct agent *a);
/* Reads the sources' counters into the metrics. */
void agent_learn_stats(struct agent *a);
size_t agent_learn_flows(const struct agent *a);
/* The identity index of the cluster now (rebuilt after a change; the
 * last one, or NULL, when that fails or before the first sync). */
const struct identity *agent_learn_identity(struct agent *a);

/* agent_enforce.c: opens nftables (enforce on) and takes the table once
 * the cluster source has given a whole cluster. */
int agent_enforce_start(struct agent *a, struct bh_err *reterr);
/* The cache applied @ev: the change goes to the sync object (queued). */
void agent_enforce_event(struct agent *a, const struct kube_cache_event *ev);
/* After a turn of the cluster source: takes the table at the first whole
 * cluster, then sends what the events queued as one batch. */
void agent_enforce_step(struct agent *a);
/* The --snapshot files were read again into a->snap: diffed against the
 * enforced cluster, one batch. */
void agent_enforce_reload(struct agent *a);
/* Frees the enforcement's objects; the kernel's table stays as it is. */
void agent_enforce_stop(struct agent *a);
/* /status's "enforcement" object. */
void agent_enforce_status(struct agent *a, struct json_out *w);

/* agent_counters.c: reads the table's counters into
 * bulkhead_policy_packets_total (enforcing, once the table is taken). */
void agent_counters_read(struct agent *a);
void agent_counters_stop(struct agent *a);

/* agent_report.c: the whole report (docs/report.md, schema version 1) at
 * @now (unix seconds) into @w, from the cluster, the flow table, the
 * stored modes, the enforcement, a->alerts and the stored proposals
 * @stored (read on the loop, report_stored_load(); may be NULL).  0, or
 * -ENOMEM (or the writer's error, -E2BIG past its buffer's bound). */
struct report_stored;
int agent_report_write(struct agent *a, const struct report_stored *stored, int64_t now,
		       struct json_out *w);

/* agent_report_job.c: GET /report made in a child process while the loop
 * goes on.  agent_report_serve() defers @req (http_request_defer()) and
 * answers it when a report made after it came is ready; 0, or -errno
 * (the request is then the server's to answer 500).
 * agent_report_stop() kills a child under way and answers 503 to the
 * waiting requests: before the server stops. */
int agent_report_serve(struct agent *a, const struct http_request *req);
void agent_report_stop(struct agent *a);

/* agent_alerts.c: the alert table (restored from the state db) and, when
 * the agent programs nftables, the NFLOG group of preview's logs on the
 * loop.  After agent_enforce_start(). */
int agent_alerts_start(struct agent *a, struct bh_err *reterr);
/* Saves what changed, unbinds the group, frees the table. */
void agent_alerts_stop(struct agent *a);
/* Reads the table's and NFLOG's counters into the metrics. */
void agent_alerts_stats(struct agent *a);
/* Why alerts cannot be taken in preview (NFLOG not bound), or NULL. */
const char *agent_alerts_problem(const struct agent *a);
/* The "alerts" object of /status. */
void agent_alerts_status(struct agent *a, struct json_out *w);
/* Every alert, as the report's alerts array (GET /alerts). */
void agent_alerts_json(struct agent *a, struct json_out *w);
/* Cluster mode, after the proposal policies changed (an amended Proposal
 * object): each open alert that @pick picks and whose flow the cluster as
 * enforced now allows becomes allowed (saved with the rest).  The number
 * changed. */
typedef bool agent_alerts_pick_fn(struct agent *a, const struct alert_entry *e);
size_t agent_alerts_recheck(struct agent *a, agent_alerts_pick_fn *pick);
/* Sets the state of the alerts @ids (all or none): the number changed,
 * or -ENOENT with @ret_unknown the first id the table does not hold.
 * Saved to the state database with the rest (AGENT_ALERTS_SAVE_MS). */
int agent_alerts_set_state(struct agent *a, const char *const *ids, size_t n,
			   enum alert_state state, const char **ret_unknown);

/*
 * agent_stage.c: the stages of the namespaces (docs/lifecycle.md,
 * "Stages"), kept in a->modes and the state database.  agent_stage_start()
 * gives a stage to the namespaces first seen and injects the stored
 * proposals of the namespaces in preview and enforce into the cluster
 * source (before the first build: a restart compiles what the database
 * says), and arms the stage timer.  agent_stage_step(): the cluster
 * source changed (after each turn of the API client, before its batch is
 * sent): new namespaces, and the proposal policies put back where the
 * source lost them (a relist).  agent_stage_reloaded(): the --snapshot
 * files were read again into a->snap, the enforcement not told yet: the
 * proposal policies are put into the new snapshot before it diffs.
 */
int agent_stage_start(struct agent *a, struct bh_err *reterr);
void agent_stage_step(struct agent *a);
void agent_stage_reloaded(struct agent *a);
void agent_stage_stop(struct agent *a);
/* POST /stage on the control socket. */
int agent_stage_routes(struct agent *a, struct bh_err *reterr);
/* Whether @ns is a namespace the stages know (it has a stage). */
bool agent_stage_known(struct agent *a, const char *ns);
/* Whether NS/@name (as alerts name it, without NETPOL_PROPOSAL_PREFIX) is
 * a policy of a proposal that the stages compile (preview or enforce). */
bool agent_stage_is_proposal(struct agent *a, const char *ns, const char *name);
/* A stored proposal of a namespace changed (`allow`): the proposal
 * policies follow, as one batch. */
void agent_stage_proposals_changed(struct agent *a);
/* Cluster mode (cluster_follow.c): sets the stage of namespace @ns (the
 * database first); the caller sends the batch
 * (agent_stage_proposals_changed()).  1 switched, 0 already there, -errno. */
int agent_stage_set(struct agent *a, const char *ns, enum state_db_mode_kind kind,
		    struct bh_err *reterr);
/* /status's "stages" array: each namespace's stage, since, window end;
 * then each workload override. */
void agent_stage_status(struct agent *a, struct json_out *w);
/* The wanted proposal policies rebuilt when the stages changed. */
void agent_stage_wanted_sync(struct agent *a);

/*
 * agent_stage_workload.c: a workload's override of its namespace's stage
 * (a mode whose scope is "NS/KIND/NAME").  agent_stage_is_workload(): a
 * scope of that kind.  agent_stage_workload_clear(): the overrides of
 * namespace @ns removed (its own stage changes).  agent_stage_workload_of():
 * the workload of the stored proposal policy @item of @ns (in @ret_wl,
 * malloc'd, NULL without the annotation), and @origin set to its
 * override's.  agent_stage_workload_status(): the overrides as /status
 * stages[] objects.  agent_stage_workload_post(): POST /stage with
 * "workloads": 1 switched (an answer written, the batch to send), 0 an
 * answer written, nothing switched, -errno.
 */
bool agent_stage_is_workload(const char *scope);
int agent_stage_workload_clear(struct agent *a, const char *ns, struct bh_err *reterr);
int agent_stage_workload_of(struct agent *a, const char *ns, struct json_t *item,
			    enum netpol_origin *origin, char **ret_wl);
void agent_stage_workload_status(struct agent *a, struct json_out *w);
int agent_stage_workload_post(struct agent *a, struct json_t *list, enum state_db_mode_kind to,
			      bool force, struct http_response *resp);

/*
 * cluster_nodeflows.c: this node's NodeFlows object (docs/cluster.md),
 * written every clusterInterval when its content changed, and at once
 * when status.applied changed (cluster_nodeflows_applied_changed()).
 * Cluster mode with the API server only; a no-op otherwise.
 * cluster_nodeflows_status(): /status's "nodeFlows" object.
 */
int cluster_nodeflows_start(struct agent *a, struct bh_err *reterr);
void cluster_nodeflows_applied_changed(struct agent *a);
void cluster_nodeflows_stop(struct agent *a);
void cluster_nodeflows_status(struct agent *a, struct json_out *w);

/*
 * cluster_follow.c: the stages of the namespaces from the PolicyMode and
 * Proposal objects (docs/cluster.md, "The effective stage"): each
 * namespace's proposal stored as a new generation when its objects
 * changed, its stage set, the proposal policies injected as one batch,
 * and status.applied recorded.  Cluster mode with the API server only.
 */
int cluster_follow_start(struct agent *a, struct bh_err *reterr);
void cluster_follow_stop(struct agent *a);

/* agent_control.c: the control socket's routes that change state. */
int agent_control_routes(struct agent *a, struct bh_err *reterr);
/* Answers {"error": ...} with @status (the control routes' error answer,
 * which the CLI prints as it is): 1, or -errno. */
int agent_control_error(struct http_response *resp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* agent_propose.c: POST /proposal (computed off the loop) and GET
 * /proposal; /status's "proposal" object; stop waits for the worker. */
int agent_propose_routes(struct agent *a, struct bh_err *reterr);
/* Told on the loop when a computation ends: @r 0 stored (as the next
 * generation of @scope), or -errno (logged, in /status). */
typedef void agent_propose_done_fn(struct agent *a, const char *scope, int r);
/*
 * Starts a computation of the proposal of @scope (STATE_DB_SCOPE_CLUSTER,
 * or a namespace: its policies only) from every stored flow and the
 * cluster's own policies (proposal policies left out), off the loop;
 * @done_cb (may be NULL) is called when it is stored.  0, -EBUSY while
 * one runs (one worker at a time), -EAGAIN before the cluster is known,
 * -errno.
 */
int agent_propose_start(struct agent *a, const char *scope, agent_propose_done_fn *done_cb,
			struct bh_err *reterr);
void agent_propose_status(struct agent *a, struct json_out *w);
void agent_propose_stop(struct agent *a);

#endif
