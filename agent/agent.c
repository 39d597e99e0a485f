/*
 * The agent's lifecycle (include/agent.h): builds the parts in order
 * (metrics, state database, cluster source, enforcement, learning, HTTP),
 * runs the loop, answers signals, and takes the parts down in the reverse
 * order (the kernel's table stays as it is).
 *
 * SIGHUP reads the --config file again (agent_config_reload()): the log
 * level and format, --interface and --conntrack, and the limits that are
 * only read when used take effect at once; a change to a setting that
 * needs a restart (the node, the state directory, the socket, the
 * listener, the cluster source, the flow table's size) is logged and
 * keeps its running value.  A file that does not read keeps the running
 * configuration, and says why in the log.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent_int.h"
#include "cluster_lease.h"
#include "cluster_propose.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "state_db.h"

static int metrics_start(struct agent *a, struct bh_err *reterr)
{
	static const char *const pcap[] = { "pcap" }, *const ct[] = { "conntrack" };
	int r;

	a->metrics = metrics_registry_new(0);
	if (!a->metrics)
		return bh_err_oom(reterr);
	r = metrics_agent_register(a->metrics, a->fam, reterr);
	if (r < 0)
		return r;
	if (metrics_series_get(a->fam[METRICS_FLOWS_LEARNED], pcap, &a->m_learned_pcap) < 0 ||
	    metrics_series_get(a->fam[METRICS_FLOWS_LEARNED], ct, &a->m_learned_ct) < 0 ||
	    metrics_series_get(a->fam[METRICS_FLOWS_EVICTED], NULL, &a->m_evicted) < 0 ||
	    metrics_series_get(a->fam[METRICS_FLOWS], NULL, &a->m_flows) < 0 ||
	    metrics_series_get(a->fam[METRICS_CONNTRACK_OVERRUNS], NULL, &a->m_ct_overruns) < 0 ||
	    metrics_series_get(a->fam[METRICS_STATE_DB_WRITE_SECONDS], NULL, &a->m_db_write) < 0 ||
	    metrics_series_get(a->fam[METRICS_STATE_DB_FULL_CHECKPOINTS], NULL, &a->m_ckpt_full) <
		    0 ||
	    metrics_series_get(a->fam[METRICS_CAPTURE_INTERFACES], NULL, &a->m_captures) < 0 ||
	    metrics_series_get(a->fam[METRICS_ALERTS], NULL, &a->m_alerts) < 0 ||
	    metrics_series_get(a->fam[METRICS_ALERTS_DROPPED], NULL, &a->m_alerts_dropped) < 0 ||
	    metrics_series_get(a->fam[METRICS_NFLOG_OVERRUNS], NULL, &a->m_nflog_overruns) < 0)
		return bh_err_oom(reterr);
	return 0;
}

static int db_start(struct agent *a, struct bh_err *reterr)
{
	const struct state_db_health *h;
	int r;

	/* The state directory is the agent's own: create it, owner-only. */
	if (mkdir(a->cfg.state_dir, 0700) < 0 && errno != EEXIST)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno,
				  "agent: state directory '%s' cannot be created: %s",
				  a->cfg.state_dir, strerror(errno));
	r = state_db_open(a->cfg.state_dir, &a->db, reterr);
	if (r < 0)
		return r;
	h = state_db_health(a->db);
	if (!h->ok)
		log_err("agent: %s; not ready until it can be written", h->msg);
	return state_db_modes_load(a->db, &a->modes, &a->n_modes, reterr);
}

/* The log settings; the format only when asked (@format) or when JSON is
 * configured, so that the global --log-json is not undone by a file that
 * says nothing of it. */
/* The control socket's directory (/run/bulkhead) may not exist on a fresh
 * boot: created, not group- or world-writable. */
static void socket_dir_make(const char *sock)
{
	char dir[4096];
	char *slash;

	(void) snprintf(dir, sizeof(dir), "%s", sock);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0)
		log_info("agent: created the socket directory '%s'", dir);
}

static void config_apply_log(const struct agent_config *c, bool format)
{
	log_max_level = c->log_level;
	if (format || c->log_json)
		log_set_json(c->log_json);
}

/* SIGHUP: the file again, settings of the command line kept. */
static void config_reload(struct agent *a)
{
	uint32_t changed = 0, restart;
	struct agent_config next, old;
	struct bh_err err = { 0 };
	char list[512] = "";
	size_t off = 0;
	int r;

	if (!a->config_path) {
		log_notice("agent: SIGHUP without --config: nothing to reload");
		return;
	}
	r = agent_config_reload(&a->cfg, a->config_path, &next, &changed, &err);
	if (r < 0) {
		log_err("agent: reload: %s; keeping the running configuration", err.msg);
		return;
	}
	r = agent_config_check(&next, &err);
	if (r < 0) {
		log_err("agent: reload: %s; keeping the running configuration", err.msg);
		agent_config_done(&next);
		return;
	}
	restart = agent_config_restart_needed(changed);
	for (size_t i = 0; i < AGENT_SET_COUNT; i++) {
		enum agent_setting s = (enum agent_setting) i;
		char **tmp_v = NULL;
		char *tmp = NULL;
		size_t tmp_n = 0;

		if (!(restart & (1u << i)))
			continue;
		/* Keep the running value: swap it into @next, which is
		 * freed below with the new value it held. */
		switch (s) {
#define SWAP_STR(f) (tmp = next.f, next.f = a->cfg.f, a->cfg.f = tmp)
		case AGENT_SET_NODE:
			SWAP_STR(node);
			break;
		case AGENT_SET_KUBECONFIG:
			SWAP_STR(kubeconfig);
			break;
		case AGENT_SET_CONTEXT:
			SWAP_STR(context);
			break;
		case AGENT_SET_STATE_DIR:
			SWAP_STR(state_dir);
			break;
		case AGENT_SET_SOCKET:
			SWAP_STR(socket);
			break;
		case AGENT_SET_LISTEN:
			SWAP_STR(listen);
			break;
#undef SWAP_STR
		case AGENT_SET_SNAPSHOTS:
			tmp_v = next.snapshots, next.snapshots = a->cfg.snapshots;
			a->cfg.snapshots = tmp_v;
			tmp_n = next.n_snapshots, next.n_snapshots = a->cfg.n_snapshots;
			a->cfg.n_snapshots = tmp_n;
			break;
		case AGENT_SET_NFLOG_GROUP:
			next.nflog_group = a->cfg.nflog_group;
			break;
		case AGENT_SET_MAX_FLOWS:
			next.max_flows = a->cfg.max_flows;
			break;
		case AGENT_SET_ENFORCE:
			next.enforce = a->cfg.enforce;
			break;
		default:
			break;
		}
		(void) tmp_v, (void) tmp, (void) tmp_n;
		off += (size_t) snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
					 "%s%s", off ? ", " : "", agent_setting_key(s));
	}
	if (restart)
		log_warning("agent: reload: '%s' changes %s, which needs a restart; keeping "
			    "the running value",
			    a->config_path, list);
	/* The globs are borrowed by the link monitor: unchanged, keep them. */
	if (!(changed & (1u << AGENT_SET_INTERFACES))) {
		char **v = next.interfaces;
		size_t n = next.n_interfaces;

		next.interfaces = a->cfg.interfaces;
		next.n_interfaces = a->cfg.n_interfaces;
		a->cfg.interfaces = v;
		a->cfg.n_interfaces = n;
	}
	next.from_cli = a->cfg.from_cli;
	/* @next becomes the running configuration; the old one is freed once
	 * the sources that borrow its globs are replaced. */
	old = a->cfg;
	a->cfg = next;
	config_apply_log(&a->cfg, changed & (1u << AGENT_SET_LOG_FORMAT));
	off = 0;
	list[0] = '\0';
	for (size_t i = 0; i < AGENT_SET_COUNT; i++)
		if ((changed & ~restart) & (1u << i))
			off += (size_t) snprintf(list + off,
						 off < sizeof(list) ? sizeof(list) - off : 0,
						 "%s%s", off ? ", " : "",
						 agent_setting_key((enum agent_setting) i));
	if (changed & ~restart)
		log_notice("agent: reload: '%s' read, changed: %s", a->config_path, list);
	else if (!restart)
		log_notice("agent: reload: '%s' read, nothing changed", a->config_path);
	if (changed & ((1u << AGENT_SET_INTERFACES) | (1u << AGENT_SET_CONNTRACK))) {
		r = agent_learn_reconfigure(a, changed & ~restart, &err);
		if (r < 0)
			log_err("agent: reload: %s", err.msg);
	}
	agent_config_done(&old);
}

static void signal_cb(struct loop *l, const struct signalfd_siginfo *si, void *ud)
{
	struct agent *a = ud;

	if (si->ssi_signo == SIGHUP) {
		config_reload(a);
		return;
	}
	log_notice("agent: signal %s, stopping (table inet bulkhead stays as it is)",
		   si->ssi_signo == SIGTERM ? "TERM" : "INT");
	a->stopping = true;
	loop_exit(l, 0);
}

static void stats_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, stats_timer);

	agent_learn_stats(a);
	agent_source_stats(a);
	agent_alerts_stats(a);
	agent_counters_read(a);
	(void) loop_timer_arm_in(t, AGENT_STATS_MS);
}

int agent_new(struct agent_config *cfg, const char *config_path, struct agent **ret,
	      struct bh_err *reterr)
{
	struct agent *a;
	int r;

	r = agent_config_check(cfg, reterr);
	if (r < 0)
		return r;
	a = calloc(1, sizeof(*a));
	if (!a)
		return bh_err_oom(reterr);
	a->cfg = *cfg;
	*cfg = (struct agent_config){ 0 };
	a->inotify_fd = -1;
	a->started = time(NULL);
	if (config_path && !(a->config_path = strdup(config_path))) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	config_apply_log(&a->cfg, false);
	r = loop_new(&a->loop, reterr);
	if (r < 0)
		goto fail;
	loop_signal_set(a->loop, signal_cb, a);
	loop_timer_init(&a->stats_timer, a->loop, stats_cb);
	r = metrics_start(a, reterr);
	if (r == 0)
		r = db_start(a, reterr);
	if (r == 0)
		r = agent_source_start(a, reterr);
	/* (before the enforcement: its first build reads the proposal
	 * policies of the stages) */
	if (r == 0)
		r = agent_stage_start(a, reterr);
	if (r == 0)
		r = agent_enforce_start(a, reterr);
	if (r == 0)
		r = agent_alerts_start(a, reterr);
	if (r == 0)
		r = agent_learn_start(a, reterr);
	/* Cluster mode: the node's NodeFlows object, and the stages from
	 * the PolicyMode and Proposal objects (docs/cluster.md). */
	if (r == 0)
		r = cluster_nodeflows_start(a, reterr);
	if (r == 0)
		r = cluster_follow_start(a, reterr);
	if (r == 0) {
		socket_dir_make(a->cfg.socket);
		r = agent_http_start(a, reterr);
	}
	/* cluster mode (docs/cluster.md): the Lease, the holder's proposals */
	if (r == 0)
		r = cluster_lease_start(a, reterr);
	if (r == 0)
		r = cluster_propose_start(a, reterr);
	if (r == 0 && loop_timer_arm_in(&a->stats_timer, AGENT_STATS_MS) < 0)
		r = bh_err_oom(reterr);
	if (r < 0)
		goto fail;
	if (http_server_tcp_port(a->http))
		log_info("agent: read-only HTTP on port %u",
			 (unsigned) http_server_tcp_port(a->http));
	log_notice("agent: node '%s' started (state in '%s')", a->cfg.node, a->cfg.state_dir);
	*ret = a;
	return 0;
fail:
	agent_free(a);
	return r;
}

int agent_run(struct agent *a, struct bh_err *reterr)
{
	int r = loop_run(a->loop);

	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "agent: event loop: %s", strerror(-r));
	return 0;
}

struct agent *agent_free(struct agent *a)
{
	if (!a)
		return NULL;
	a->stopping = true;
	/* Before the server: it answers its waiting requests. */
	agent_report_stop(a);
	agent_http_stop(a);
	/* cluster mode: before the source (they use its API client) */
	cluster_propose_stop(a);
	cluster_lease_stop(a);
	agent_propose_stop(a);
	cluster_follow_stop(a);
	cluster_nodeflows_stop(a);
	agent_learn_stop(a);
	agent_alerts_stop(a);
	agent_counters_stop(a);
	agent_stage_stop(a);
	/* Before the source: the sync object follows the cache's cluster. */
	agent_enforce_stop(a);
	agent_source_stop(a);
	loop_timer_disarm(&a->stats_timer);
	state_db_modes_free(a->modes, a->n_modes);
	a->db = state_db_free(a->db);
	a->metrics = metrics_registry_free(a->metrics);
	a->loop = loop_free(a->loop);
	agent_config_done(&a->cfg);
	free(a->config_path);
	free(a);
	return NULL;
}

unsigned agent_tcp_port(const struct agent *a)
{
	return a->http ? http_server_tcp_port(a->http) : 0;
}
