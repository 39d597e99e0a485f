/*
 * bulkhead learn (--pcap FILE | --interface GLOB | --conntrack)...
 *                [--snapshot FILE] [--duration DURATION] [--max-flows N]
 *                [--node NAME] [--conntrack-rcvbuf BYTES] -o FLOWS.json
 *
 * The flags are learn_flags[] below (bulkhead learn --help).
 *
 * The output path is checked first (a temporary file is created and
 * removed there), so a path that cannot be written fails at once, not
 * after --duration.  Capture files are read next, to their end.  Live
 * sources (interfaces matching the globs, followed as they come and go,
 * and conntrack) then run on the event loop (include/loop.h) until
 * --duration has passed or SIGINT/SIGTERM/SIGHUP arrives; either way the
 * flows learned so far are written, atomically.  Identities are resolved
 * from the snapshot at write time.
 *
 * A run that cannot learn anything says so: a glob matching no interface,
 * an empty conntrack table and sources that could not be opened are
 * warnings; when no source at all could be opened, learn fails (exit 3)
 * instead of waiting out --duration.  The run's summary (per source) is
 * printed at the default log level.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "capture.h"
#include "clock.h"
#include "cli.h"
#include "ctmon.h"
#include "flow_table.h"
#include "flows_json.h"
#include "identity.h"
#include "learn.h"
#include "learn_export.h"
#include "linkmon.h"
#include "log.h"
#include "loop.h"
#include "vec.h"

#define LEARN_MAX_FLOWS_DEFAULT 1000000
#define LEARN_FILE_SEED 0x6c6561726e000001ULL
/* Unanswered openers are learned as sent this often (learn_expire). */
#define LEARN_EXPIRE_MS 1000
/* At the end, a conntrack dump still running may take this long. */
#define LEARN_CT_DRAIN_MS 5000

struct learn_run;

struct live_cap {
	struct loop_io io;
	struct learn_run *run;
	struct capture *cap;
	int ifindex;
	char name[IF_NAMESIZE];
};

/* What the live interfaces gave, closed captures included. */
struct cap_totals {
	uint64_t attached; /* captures opened over the run */
	uint64_t failed; /* captures that could not be opened */
	uint64_t packets, drops; /* of captures already closed */
};

struct learn_run {
	struct learn *l;
	struct loop *loop;
	struct loop_io lm_io, ct_io;
	struct loop_timer expire_timer, deadline_timer;
	struct linkmon *lm;
	struct ctmon *ct;
	const char *const *globs;
	size_t n_globs;
	uint64_t glob_hits[CLI_FILES_MAX]; /* interfaces each glob matched */
	struct live_cap **caps;
	size_t n_caps, cap_caps;
	struct cap_totals caps_total;
	struct bh_err cap_err; /* the first capture that could not be opened */
	bool setup_done; /* captures failing from now on are logged at once */
	bool ct_dump_checked;
	bool failed; /* @reterr is filled: a callback failed */
	struct bh_err *reterr;
};

/* A callback failed: keep its error and leave the loop. */
static void run_fail(struct learn_run *run, int r, const struct bh_err *err)
{
	if (run->failed)
		return;
	run->failed = true;
	*run->reterr = *err;
	loop_exit(run->loop, r);
}

static void cap_close(struct learn_run *run, struct live_cap *lc)
{
	struct capture_stats st;

	for (size_t i = 0; i < run->n_caps; i++) {
		if (run->caps[i] == lc) {
			run->caps[i] = run->caps[--run->n_caps];
			break;
		}
	}
	loop_io_remove(&lc->io);
	capture_get_stats(lc->cap, &st);
	log_info("learn: '%s': %" PRIu64 " packets, %" PRIu64 " dropped by the kernel, detached",
		 lc->name, st.packets, st.kernel_drops);
	run->caps_total.packets += st.packets;
	run->caps_total.drops += st.kernel_drops;
	capture_free(lc->cap);
	free(lc);
}

static void cap_cb(struct loop_io *io, uint32_t revents)
{
	struct live_cap *lc = LOOP_CONTAINER_OF(io, struct live_cap, io);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = capture_process(lc->cap, &err);
	/* An interface that went away is closed, not fatal; freeing it here
	 * is safe even when its event is also later in this batch. */
	if (r == -ENODEV || r == -ENETDOWN)
		cap_close(lc->run, lc);
	else if (r < 0)
		run_fail(lc->run, r, &err);
}

static void link_change_cb(void *userdata, const char *ifname, int ifindex, bool up)
{
	struct learn_run *run = userdata;
	struct bh_err err = { 0 };
	struct live_cap *lc;
	int r;

	for (size_t i = 0; i < run->n_caps; i++) {
		if (run->caps[i]->ifindex == ifindex) {
			cap_close(run, run->caps[i]);
			break;
		}
	}
	if (!up)
		return;
	for (size_t i = 0; i < run->n_globs; i++)
		if (linkmon_glob_match(run->globs[i], ifname))
			run->glob_hits[i]++;
	if (run->n_caps == run->cap_caps) {
		struct live_cap **v =
			vec_grow(run->caps, &run->cap_caps, run->n_caps + 1, sizeof(*v));

		if (!v)
			goto oom;
		run->caps = v;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc)
		goto oom;
	lc->run = run;
	lc->ifindex = ifindex;
	(void) snprintf(lc->name, sizeof(lc->name), "%s", ifname);
	r = capture_open_live(ifname, run->l, &lc->cap, &err);
	if (r < 0) {
		/* A pod's veth can vanish between the notification and the
		 * open; that is churn, not a failure of the learner.  At
		 * start, failures are told once setup knows whether any
		 * source works. */
		if (run->setup_done)
			log_warning("learn: %s, ignoring", err.msg);
		else if (!run->caps_total.failed)
			run->cap_err = err;
		run->caps_total.failed++;
		free(lc);
		return;
	}
	r = loop_io_add(run->loop, &lc->io, capture_fd(lc->cap), EPOLLIN, cap_cb);
	if (r < 0) {
		(void) bh_err_set(&err, BH_ERR_SYSTEM, r, "learn: epoll: %s", strerror(-r));
		capture_free(lc->cap);
		free(lc);
		run_fail(run, r, &err);
		return;
	}
	log_info("learn: capturing on '%s'", ifname);
	run->caps[run->n_caps++] = lc;
	run->caps_total.attached++;
	return;

oom:
	(void) bh_err_oom(&err);
	run_fail(run, -ENOMEM, &err);
}

static void linkmon_cb(struct loop_io *io, uint32_t revents)
{
	struct learn_run *run = LOOP_CONTAINER_OF(io, struct learn_run, lm_io);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = linkmon_process(run->lm, &err);
	if (r < 0)
		run_fail(run, r, &err);
}

static void ctmon_cb(struct loop_io *io, uint32_t revents)
{
	struct learn_run *run = LOOP_CONTAINER_OF(io, struct learn_run, ct_io);
	struct bh_err err = { 0 };
	int r;

	(void) revents;
	r = ctmon_process(run->ct, &err);
	if (r < 0) {
		run_fail(run, r, &err);
		return;
	}
	if (!run->ct_dump_checked && !ctmon_dumping(run->ct)) {
		run->ct_dump_checked = true;
		if (ctmon_stats(run->ct)->events == 0)
			log_warning("learn: --conntrack: the conntrack table of this network "
				    "namespace is empty at start; connections are tracked only "
				    "where a rule uses conntrack (kube-proxy, NAT): if it stays "
				    "empty, run learn in the node's network namespace, or use "
				    "--interface");
	}
}

static void expire_cb(struct loop_timer *t)
{
	struct learn_run *run = LOOP_CONTAINER_OF(t, struct learn_run, expire_timer);
	struct bh_err err = { 0 };

	if (learn_expire(run->l, time(NULL)) < 0 || loop_timer_arm_in(t, LEARN_EXPIRE_MS) < 0) {
		(void) bh_err_oom(&err);
		run_fail(run, -ENOMEM, &err);
	}
}

static void deadline_cb(struct loop_timer *t)
{
	log_debug("learn: --duration has passed, stopping");
	loop_exit(t->loop, 0);
}

static void signal_cb(struct loop *l, const struct signalfd_siginfo *si, void *ud)
{
	(void) ud;
	log_debug("learn: signal %u, stopping", si->ssi_signo);
	loop_exit(l, 0);
}

/* A bad capture file is the --pcap value's fault: the library names the
 * file, the CLI the flag. */
static int pcap_err(int r, struct bh_err *reterr)
{
	if (reterr && reterr->kind == BH_ERR_INPUT)
		(void) bh_err_prefix(reterr, "learn: --pcap: ");
	return r;
}

static int run_files(struct learn *l, const char *const *files, size_t n, struct bh_err *reterr)
{
	for (size_t i = 0; i < n; i++) {
		struct capture *c = NULL;
		int r = capture_open_file(files[i], l, &c, reterr);

		if (r < 0)
			return pcap_err(r, reterr);
		while (!capture_eof(c)) {
			r = capture_process(c, reterr);
			if (r < 0) {
				capture_free(c);
				return pcap_err(r, reterr);
			}
		}
		capture_free(c);
	}
	return 0;
}

static int run_live(struct learn_run *run, uint64_t duration, struct bh_err *reterr)
{
	int r;

	loop_timer_init(&run->expire_timer, run->loop, expire_cb);
	loop_timer_init(&run->deadline_timer, run->loop, deadline_cb);
	r = loop_timer_arm_in(&run->expire_timer, LEARN_EXPIRE_MS);
	if (r == 0 && duration)
		r = loop_timer_arm_in(&run->deadline_timer, duration * 1000);
	if (r < 0)
		return bh_err_oom(reterr);
	r = loop_run(run->loop);
	if (r < 0) {
		if (!run->failed)
			(void) bh_err_set(reterr, BH_ERR_SYSTEM, r, "learn: epoll: %s",
					  strerror(-r));
		return r;
	}

	/* Take in what is already queued: captured packets and conntrack
	 * events up to now, and let a running dump finish (bounded). */
	for (size_t i = 0; i < run->n_caps; i++) {
		struct live_cap *lc = run->caps[i];

		for (int k = 0; k < 64; k++) {
			struct bh_err err = { 0 };

			r = capture_process(lc->cap, &err);
			if (r <= 0)
				break;
		}
	}
	if (run->ct) {
		uint64_t until = clock_mono_ms() + LEARN_CT_DRAIN_MS;

		do {
			struct pollfd pfd = { .fd = ctmon_fd(run->ct), .events = POLLIN };

			r = ctmon_process(run->ct, reterr);
			if (r < 0)
				return r;
			/* A dump still coming: wait for it rather than spin. */
			if (r == 0 && ctmon_dumping(run->ct))
				(void) poll(&pfd, 1, 100);
		} while ((r > 0 || ctmon_dumping(run->ct)) && clock_mono_ms() < until);
	}
	return 0;
}

/* What to do when nothing could be opened, after @err. */
static const char *open_hint(const struct bh_err *err)
{
	if (err->code == -EPERM || err->code == -EACCES)
		return "run learn as root (CAP_NET_RAW for --interface, CAP_NET_ADMIN for "
		       "--conntrack)";
	return "run learn in the node's network namespace, where the interfaces and "
	       "conntrack are";
}

/*
 * Opens the live sources.  One that cannot be opened is a warning while
 * another works; none at all (and no capture file) is a system error
 * naming the first failure and what to do.
 */
static int setup_live(struct learn_run *run, bool have_files, const char *const *globs,
		      size_t n_globs, bool conntrack, size_t rcvbuf, struct bh_err *reterr)
{
	struct bh_err ct_err = { 0 };
	const struct bh_err *first;
	int r;

	run->reterr = reterr;
	r = loop_new(&run->loop, reterr);
	if (r < 0)
		return r;
	loop_signal_set(run->loop, signal_cb, run);
	if (conntrack) {
		r = ctmon_new(run->l, rcvbuf, &run->ct, &ct_err);
		if (r == -ENOMEM) {
			*reterr = ct_err;
			return r;
		}
		if (r == 0) {
			r = loop_io_add(run->loop, &run->ct_io, ctmon_fd(run->ct), EPOLLIN,
					ctmon_cb);
			if (r < 0)
				return bh_err_set(reterr, BH_ERR_SYSTEM, r, "learn: epoll: %s",
						  strerror(-r));
		}
	}
	if (n_globs) {
		run->globs = globs;
		run->n_globs = n_globs;
		r = linkmon_new(globs, n_globs, link_change_cb, run, &run->lm, reterr);
		if (r < 0)
			return r;
		if (run->failed)
			return run->reterr->code;
		r = loop_io_add(run->loop, &run->lm_io, linkmon_fd(run->lm), EPOLLIN, linkmon_cb);
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "learn: epoll: %s",
					  strerror(-r));
	}
	run->setup_done = true;

	first = conntrack && !run->ct ? &ct_err : run->caps_total.failed ? &run->cap_err : NULL;
	if (first && !have_files && !run->ct && !run->n_caps)
		return bh_err_set(reterr, BH_ERR_SYSTEM, first->code,
				  "learn: no source could be opened (%s): %s", first->msg,
				  open_hint(first));
	if (conntrack && !run->ct)
		log_warning("learn: %s; learning without --conntrack", ct_err.msg);
	if (run->caps_total.failed)
		log_warning("learn: %" PRIu64 " of %" PRIu64 " matching interfaces could not be "
			    "captured (first: %s), ignoring",
			    run->caps_total.failed, run->caps_total.failed + run->n_caps,
			    run->cap_err.msg);
	for (size_t i = 0; i < n_globs; i++)
		if (!run->glob_hits[i])
			log_warning("learn: --interface '%s' matches no interface that is up in "
				    "this network namespace; waiting for one (run learn in the "
				    "node's network namespace, or check the glob)",
				    globs[i]);
	return 0;
}

static void run_done(struct learn_run *run)
{
	while (run->n_caps)
		cap_close(run, run->caps[run->n_caps - 1]);
	free(run->caps);
	loop_io_remove(&run->lm_io);
	linkmon_free(run->lm);
	loop_io_remove(&run->ct_io);
	ctmon_free(run->ct);
	loop_timer_disarm(&run->expire_timer);
	loop_timer_disarm(&run->deadline_timer);
	loop_free(run->loop);
}

/*
 * Checks, before any capture, that @out can be written: creates the
 * atomic writer's temporary file next to it and removes it.  A path that
 * cannot be written is an input error naming it, now rather than after
 * --duration.
 */
static int output_check(const char *out, struct bh_err *reterr)
{
	struct atomic_file af;
	struct bh_err err = { 0 };
	struct stat st;
	int r;

	if (strcmp(out, "-") == 0)
		return 0;
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return bh_err_set(reterr, BH_ERR_INPUT, -EISDIR,
				  "learn: output '%s' is a directory, expected a file path", out);
	r = atomic_file_open(&af, out, &err);
	if (r == -ENOMEM) {
		*reterr = err;
		return r;
	}
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_INPUT, r,
				  "learn: output '%s' cannot be written: %s (check the directory)",
				  out, strerror(-r));
	atomic_file_abort(&af);
	return 0;
}

static int write_flows(struct learn *l, struct cluster *cluster, const char *node,
		       uint64_t overruns, const char *out, struct bh_err *reterr)
{
	struct flow_table *t = learn_table(l);
	const struct flows_header h = {
		.node = node,
		.generated = time(NULL),
		.packets = learn_stats(l)->packets,
		.evicted = flow_table_stats(t)->evicted,
		.overruns = overruns,
	};
	struct identity *id = NULL;
	int r;

	if (cluster && identity_new(cluster, &id) < 0)
		return bh_err_oom(reterr);
	r = learn_export_write(t, id, &h, out, reterr);
	identity_free(id);
	return r;
}

enum {
	OPT_PCAP = CLI_OPT_BASE,
	OPT_INTERFACE,
	OPT_CONNTRACK,
	OPT_DURATION,
	OPT_MAX_FLOWS,
	OPT_NODE,
	OPT_OUTPUT,
	OPT_RCVBUF,
};

static const struct cli_flag learn_flags[] = {
	{ .name = "pcap",
	  .arg = "FILE",
	  .id = OPT_PCAP,
	  .help = "read packets from this capture file (repeatable)" },
	{ .name = "interface",
	  .arg = "GLOB",
	  .id = OPT_INTERFACE,
	  .help = "capture live on the interfaces matching this glob (repeatable)" },
	{ .name = "conntrack",
	  .id = OPT_CONNTRACK,
	  .help = "learn from the kernel's conntrack events (NAT undone)" },
	CLI_FLAG_SNAPSHOT,
	CLI_FLAG_KUBECONFIG,
	CLI_FLAG_CONTEXT,
	CLI_FLAG_SKIP_UNKNOWN,
	{ .name = "duration",
	  .arg = "DURATION",
	  .id = OPT_DURATION,
	  .help = "stop live capture after e.g. 90, 90s, 10m, 1h30m (default: SIGINT)" },
	{ .name = "max-flows",
	  .arg = "N",
	  .id = OPT_MAX_FLOWS,
	  .help = "keep at most N flows, evicting the oldest seen (default: 1000000)" },
	{ .name = "node",
	  .arg = "NAME",
	  .id = OPT_NODE,
	  .help = "the node name recorded in the flows file" },
	{ .name = "conntrack-rcvbuf",
	  .arg = "BYTES",
	  .id = OPT_RCVBUF,
	  .help = "receive buffer of the conntrack socket (4096..1073741824)" },
	{ .name = "output",
	  .short_name = 'o',
	  .arg = "FLOWS.json",
	  .id = OPT_OUTPUT,
	  .help = "write the flows to this file, atomically (required)" },
	CLI_FLAG_HELP,
};

const struct cli_command cli_learn_cmd = {
	.name = "learn",
	.fn = cli_learn,
	.usage = "(--pcap FILE | --interface GLOB | --conntrack)... -o FLOWS.json",
	.summary = "learn flows from capture files, live interfaces and conntrack",
	.about = "Capture files are read first, to their end; live sources (interfaces\n"
		 "matching the globs, followed as they come and go, and conntrack) then run\n"
		 "until --duration has passed or SIGINT/SIGTERM/SIGHUP arrives, and the flows\n"
		 "are written either way (the output path is checked first).  With cluster\n"
		 "state, each end is recorded as the pod and workload that held the address.\n",
	.exit_status = "0 written, 2 bad usage or input, 3 system error (capture, netlink)",
	.flags = learn_flags,
	.n_flags = BH_ARRAY_SIZE(learn_flags),
};

/*
 * The run's summary at the default level, one line per source and one for
 * the file, with a warning for each source that gave nothing: a run that
 * learned nothing must not look like one that learned everything.
 */
static void summary(struct learn_run *run, size_t n_files, uint64_t file_packets, bool conntrack,
		    uint64_t overruns, const char *out)
{
	const struct learn_stats *ls = learn_stats(run->l);
	struct flow_table *t = learn_table(run->l);
	uint64_t packets = run->caps_total.packets, drops = run->caps_total.drops;

	if (n_files)
		log_notice("learn: capture files: %zu, %" PRIu64 " packets", n_files, file_packets);
	if (run->n_globs) {
		for (size_t i = 0; i < run->n_caps; i++) {
			struct capture_stats st;

			capture_get_stats(run->caps[i]->cap, &st);
			log_info("learn: '%s': %" PRIu64 " packets, %" PRIu64
				 " dropped by the kernel",
				 run->caps[i]->name, st.packets, st.kernel_drops);
			packets += st.packets;
			drops += st.kernel_drops;
		}
		log_notice("learn: interfaces: %" PRIu64 " captured (%zu at the end), %" PRIu64
			   " could not be opened, %" PRIu64 " packets, %" PRIu64
			   " dropped by the kernel",
			   run->caps_total.attached, run->n_caps, run->caps_total.failed, packets,
			   drops);
		for (size_t i = 0; i < run->n_globs; i++)
			if (!run->glob_hits[i])
				log_warning("learn: --interface '%s' matched no interface during "
					    "the run: nothing was captured for it",
					    run->globs[i]);
	}
	if (run->ct) {
		const struct ctmon_stats *cs = ctmon_stats(run->ct);

		log_notice("learn: conntrack: %" PRIu64 " entries, %" PRIu64 " learned, %" PRIu64
			   " overruns, %" PRIu64 " resyncs",
			   cs->events, ls->ct_entries, cs->overruns, cs->resyncs);
		if (!cs->events)
			log_warning("learn: --conntrack: no connection was tracked during the "
				    "run in this network namespace: run learn in the node's "
				    "network namespace, or use --interface");
	} else if (conntrack) {
		log_notice("learn: conntrack: not opened");
	}
	log_notice("learn: %zu flows, %" PRIu64 " packets, %" PRIu64 " evicted, %" PRIu64
		   " overruns, %" PRIu64 " conntrack entries, written to '%s'",
		   flow_table_count(t), ls->packets, flow_table_stats(t)->evicted, overruns,
		   ls->ct_entries, out);
	if (!flow_table_count(t))
		log_warning("learn: no flow was learned: '%s' holds none", out);
}

int cli_learn(int argc, char **argv, struct bh_err *reterr)
{
	const char *files[CLI_FILES_MAX], *globs[CLI_FILES_MAX];
	size_t n_files = 0, n_globs = 0;
	struct cli_cluster_src csrc = { 0 };
	struct learn_run run = { 0 };
	struct cluster *cluster = NULL;
	struct cli_getopt g;
	const char *out = NULL, *node = NULL;
	uint64_t duration = 0, max_flows = LEARN_MAX_FLOWS_DEFAULT, overruns = 0, rcvbuf = 0,
		 file_packets = 0;
	bool conntrack = false;
	int c, r;

	cli_getopt_init(&g, &cli_learn_cmd, argc, argv);
	while ((c = cli_getopt_next(&g, reterr)) > 0) {
		const char *arg = g.arg;

		r = cli_cluster_src_opt(&csrc, c, arg, reterr);
		if (r < 0)
			return r;
		if (r)
			continue;
		switch (c) {
		case OPT_PCAP:
		case OPT_INTERFACE:
			if ((c == OPT_PCAP ? n_files : n_globs) >= CLI_FILES_MAX)
				return cli_usage_err(reterr, "learn", "at most %d --%s",
						     CLI_FILES_MAX, g.flag->name);
			if (c == OPT_PCAP)
				files[n_files++] = arg;
			else
				globs[n_globs++] = arg;
			break;
		case OPT_CONNTRACK:
			conntrack = true;
			break;
		case OPT_DURATION:
			r = cli_parse_duration("learn", "--duration", arg, 1, 366u * 86400,
					       &duration, reterr);
			if (r < 0)
				return r;
			break;
		case OPT_MAX_FLOWS:
			if (cli_parse_u64(arg, 1, FLOW_TABLE_MAX, &max_flows) < 0)
				return cli_usage_err(reterr, "learn",
						     "--max-flows: expected 1..%u, got '%s'",
						     FLOW_TABLE_MAX, arg);
			break;
		case OPT_NODE:
			node = arg;
			break;
		case OPT_RCVBUF:
			if (cli_parse_u64(arg, 4096, 1u << 30, &rcvbuf) < 0)
				return cli_usage_err(reterr, "learn",
						     "--conntrack-rcvbuf: expected bytes "
						     "(4096..1073741824), got '%s'",
						     arg);
			break;
		case OPT_OUTPUT:
			out = arg;
			break;
		default:
			return cli_flag_unhandled(reterr, &g);
		}
	}
	if (c < 0)
		return c;
	if (!n_files && !n_globs && !conntrack)
		return cli_usage_err(reterr, "learn",
				     "expected a source: --pcap FILE, --interface GLOB or "
				     "--conntrack");
	if (!out)
		return cli_usage_err(reterr, "learn", "-o FLOWS.json is required");
	if (duration && !n_globs && !conntrack)
		return cli_usage_err(reterr, "learn",
				     "--duration applies to --interface and --conntrack");

	r = output_check(out, reterr);
	if (r < 0)
		return r;
	if (csrc.n_snapshots || csrc.kubeconfig || csrc.context) {
		r = cli_cluster_load(&csrc, &cluster, reterr);
		if (r < 0)
			return r;
	}
	run.l = learn_new((size_t) max_flows);
	if (!run.l) {
		r = bh_err_oom(reterr);
		goto out;
	}
	/* Capture files alone: the same files give the same flows.json. */
	if (!n_globs && !conntrack)
		learn_seed(run.l, LEARN_FILE_SEED);
	r = run_files(run.l, files, n_files, reterr);
	if (r < 0)
		goto out;
	file_packets = learn_stats(run.l)->packets;
	if (n_globs || conntrack) {
		r = setup_live(&run, n_files > 0, globs, n_globs, conntrack, (size_t) rcvbuf,
			       reterr);
		if (r < 0)
			goto out;
		r = run_live(&run, duration, reterr);
		if (r < 0)
			goto out;
	}
	r = learn_flush(run.l);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (run.ct)
		overruns += ctmon_stats(run.ct)->overruns;
	overruns += run.caps_total.drops;
	for (size_t i = 0; i < run.n_caps; i++) {
		struct capture_stats st;

		capture_get_stats(run.caps[i]->cap, &st);
		overruns += st.kernel_drops;
	}
	r = write_flows(run.l, cluster, node, overruns, out, reterr);
	if (r < 0)
		goto out;
	summary(&run, n_files, file_packets, conntrack, overruns, out);
	r = BH_EXIT_OK;
out:
	run_done(&run);
	learn_free(run.l);
	cluster_free(cluster);
	return r;
}
