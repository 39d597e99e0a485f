/*
 * bulkhead learn (--pcap FILE | --interface GLOB | --conntrack)...
 *                [--snapshot FILE] [--duration SECONDS] [--max-flows N]
 *                [--node NAME] [--conntrack-rcvbuf BYTES] -o FLOWS.json
 *
 * Capture files are read first, to their end.  Live sources (interfaces
 * matching the globs, followed as they come and go, and conntrack) then
 * run in a small epoll loop until --duration has passed or SIGINT/SIGTERM
 * arrives (signalfd); either way the flows learned so far are written,
 * atomically.  Identities are resolved from the snapshot at write time.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "ctmon.h"
#include "flow_table.h"
#include "flows_json.h"
#include "identity.h"
#include "learn.h"
#include "linkmon.h"
#include "log.h"

#define LEARN_MAX_FLOWS_DEFAULT 1000000
#define LEARN_EVENTS_MAX 32
#define LEARN_FILE_SEED 0x6c6561726e000001ULL

enum src_type {
	SRC_SIGNAL,
	SRC_LINKMON,
	SRC_CTMON,
	SRC_CAPTURE,
};

struct src {
	enum src_type type;
};

struct live_cap {
	struct src src; /* first: epoll data points here */
	struct capture *cap;
	int ifindex;
	char name[IF_NAMESIZE];
};

struct learn_run {
	struct learn *l;
	int epfd, sigfd;
	struct src sig_src, lm_src, ct_src;
	struct linkmon *lm;
	struct ctmon *ct;
	struct live_cap **caps;
	size_t n_caps, cap_caps;
	uint64_t drops_closed; /* kernel drops of captures already closed */
	int err; /* fatal error inside a callback */
	struct bh_err *reterr;
};

static void cap_close(struct learn_run *run, size_t i)
{
	struct live_cap *lc = run->caps[i];
	struct capture_stats st;

	if (capture_fd(lc->cap) >= 0)
		(void) epoll_ctl(run->epfd, EPOLL_CTL_DEL, capture_fd(lc->cap), NULL);
	capture_get_stats(lc->cap, &st);
	run->drops_closed += st.kernel_drops;
	capture_free(lc->cap);
	free(lc);
	run->caps[i] = run->caps[--run->n_caps];
}

static void link_change_cb(void *userdata, const char *ifname, int ifindex, bool up)
{
	struct learn_run *run = userdata;
	struct epoll_event ev = { .events = EPOLLIN };
	struct bh_err err = { 0 };
	struct live_cap *lc;
	int r;

	for (size_t i = 0; i < run->n_caps; i++) {
		if (run->caps[i]->ifindex == ifindex) {
			log_debug("learn: detaching from '%s'", run->caps[i]->name);
			cap_close(run, i);
			break;
		}
	}
	if (!up)
		return;
	if (run->n_caps == run->cap_caps) {
		size_t cap = run->cap_caps ? 2 * run->cap_caps : 16;
		struct live_cap **v = realloc(run->caps, cap * sizeof(*v));

		if (!v) {
			run->err = bh_err_oom(run->reterr);
			return;
		}
		run->caps = v;
		run->cap_caps = cap;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		run->err = bh_err_oom(run->reterr);
		return;
	}
	lc->src.type = SRC_CAPTURE;
	lc->ifindex = ifindex;
	(void) snprintf(lc->name, sizeof(lc->name), "%s", ifname);
	r = capture_open_live(ifname, run->l, &lc->cap, &err);
	if (r < 0) {
		/* A pod's veth can vanish between the notification and the
		 * open; that is churn, not a failure of the learner. */
		log_warning("learn: %s, ignoring", err.msg);
		free(lc);
		return;
	}
	ev.data.ptr = lc;
	if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, capture_fd(lc->cap), &ev) < 0) {
		run->err = bh_err_set(run->reterr, BH_ERR_SYSTEM, -errno, "learn: epoll: %s",
				      strerror(errno));
		capture_free(lc->cap);
		free(lc);
		return;
	}
	log_debug("learn: capturing on '%s'", ifname);
	run->caps[run->n_caps++] = lc;
}

static int epoll_add(struct learn_run *run, int fd, struct src *s, struct bh_err *reterr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "learn: epoll: %s",
				  strerror(errno));
	return 0;
}

static int run_files(struct learn *l, const char *const *files, size_t n, struct bh_err *reterr)
{
	for (size_t i = 0; i < n; i++) {
		struct capture *c = NULL;
		int r = capture_open_file(files[i], l, &c, reterr);

		if (r < 0)
			return r;
		while (!capture_eof(c)) {
			r = capture_process(c, reterr);
			if (r < 0) {
				capture_free(c);
				return r;
			}
		}
		capture_free(c);
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One capture's turn; an interface that went away is closed, not fatal:
 * returns 1 then, 0 otherwise, or -errno. */
static int run_capture(struct learn_run *run, struct live_cap *lc, struct bh_err *reterr)
{
	struct bh_err err = { 0 };
	int r = capture_process(lc->cap, &err);

	if (r == -ENODEV || r == -ENETDOWN) {
		for (size_t i = 0; i < run->n_caps; i++) {
			if (run->caps[i] == lc) {
				cap_close(run, i);
				return 1;
			}
		}
		return 0;
	}
	if (r < 0) {
		*reterr = err;
		return r;
	}
	return 0;
}

static int run_live(struct learn_run *run, uint64_t duration, struct bh_err *reterr)
{
	struct epoll_event evs[LEARN_EVENTS_MAX];
	int64_t deadline = duration ? now_ms() + (int64_t) duration * 1000 : INT64_MAX;
	int64_t next_expire = now_ms() + 1000;
	bool stop = false;
	int r;

	while (!stop) {
		int64_t now = now_ms(), wait = next_expire - now;
		int n;

		if (deadline - now < wait)
			wait = deadline - now;
		if (wait < 0)
			wait = 0;
		n = epoll_wait(run->epfd, evs, LEARN_EVENTS_MAX, (int) wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "learn: epoll: %s",
					  strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct src *s = evs[i].data.ptr;
			struct signalfd_siginfo si;

			switch (s->type) {
			case SRC_SIGNAL:
				if (read(run->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
					log_debug("learn: signal %u, stopping", si.ssi_signo);
				stop = true;
				r = 0;
				break;
			case SRC_LINKMON:
				/* Detaching frees captures: leave the batch. */
				r = linkmon_process(run->lm, reterr);
				i = n;
				break;
			case SRC_CTMON:
				r = ctmon_process(run->ct, reterr);
				break;
			case SRC_CAPTURE:
				r = run_capture(run, (struct live_cap *) (void *) s, reterr);
				/* A closed capture may have later events in this
				 * batch pointing to freed memory: leave the batch,
				 * level-triggered epoll reports the rest again. */
				if (r == 1) {
					r = 0;
					i = n;
				}
				break;
			default:
				r = 0;
				break;
			}
			if (r < 0)
				return r;
			if (run->err)
				return run->err;
		}
		now = now_ms();
		if (now >= next_expire) {
			r = learn_expire(run->l, time(NULL));
			if (r < 0)
				return bh_err_oom(reterr);
			next_expire = now + 1000;
		}
		if (now >= deadline)
			stop = true;
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
		int64_t until = now_ms() + 5000;

		do {
			r = ctmon_process(run->ct, reterr);
			if (r < 0)
				return r;
		} while ((r > 0 || ctmon_dumping(run->ct)) && now_ms() < until);
	}
	return 0;
}

static int setup_live(struct learn_run *run, const char *const *globs, size_t n_globs,
		      bool conntrack, size_t rcvbuf, struct bh_err *reterr)
{
	sigset_t mask;
	int r;

	run->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (run->epfd < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "learn: epoll: %s",
				  strerror(errno));
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "learn: signals: %s",
				  strerror(errno));
	run->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (run->sigfd < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "learn: signalfd: %s",
				  strerror(errno));
	run->sig_src.type = SRC_SIGNAL;
	r = epoll_add(run, run->sigfd, &run->sig_src, reterr);
	if (r < 0)
		return r;
	if (conntrack) {
		r = ctmon_new(run->l, rcvbuf, &run->ct, reterr);
		if (r < 0)
			return r;
		run->ct_src.type = SRC_CTMON;
		r = epoll_add(run, ctmon_fd(run->ct), &run->ct_src, reterr);
		if (r < 0)
			return r;
	}
	if (n_globs) {
		run->reterr = reterr;
		r = linkmon_new(globs, n_globs, link_change_cb, run, &run->lm, reterr);
		if (r < 0)
			return r;
		if (run->err)
			return run->err;
		run->lm_src.type = SRC_LINKMON;
		r = epoll_add(run, linkmon_fd(run->lm), &run->lm_src, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static void run_done(struct learn_run *run)
{
	while (run->n_caps)
		cap_close(run, run->n_caps - 1);
	free(run->caps);
	linkmon_free(run->lm);
	ctmon_free(run->ct);
	if (run->sigfd >= 0)
		close(run->sigfd);
	if (run->epfd >= 0)
		close(run->epfd);
}

/* Resolves at the last time the flow was seen, or failing a pod then, at
 * the first (a pod may have left during the capture). */
static int resolve(const struct identity *id, const struct addr *a, const struct flow_record *f,
		   struct flow_peer *ret)
{
	struct flow_peer p;
	int r = identity_resolve(id, a, f->last_seen, ret);

	if (r < 0 || ret->kind == FLOW_PEER_POD || f->first_seen == f->last_seen)
		return r;
	r = identity_resolve(id, a, f->first_seen, &p);
	if (r < 0)
		return r;
	if (p.kind == FLOW_PEER_POD) {
		flow_peer_done(ret);
		*ret = p;
	} else {
		flow_peer_done(&p);
	}
	return 0;
}

static int write_flows(struct learn *l, struct cluster *cluster, const char *node,
		       uint64_t overruns, const char *out, struct bh_err *reterr)
{
	struct flow_table *t = learn_table(l);
	struct identity *id = NULL;
	struct flow_set set;
	int r;

	flow_set_init(&set);
	r = flow_table_export(t, &set.flows, &set.n);
	if (r < 0)
		return bh_err_oom(reterr);
	if (cluster) {
		r = identity_new(cluster, &id);
		if (r < 0)
			goto oom;
		for (size_t i = 0; i < set.n; i++) {
			struct flow_record *f = &set.flows[i];

			if (resolve(id, &f->key.src, f, &f->src_peer) < 0 ||
			    resolve(id, &f->key.dst, f, &f->dst_peer) < 0)
				goto oom;
		}
	}
	if (node) {
		set.node = strdup(node);
		if (!set.node)
			goto oom;
	}
	set.generated = time(NULL);
	set.stat_packets = learn_stats(l)->packets;
	set.stat_evicted = flow_table_stats(t)->evicted;
	set.stat_overruns = overruns;
	r = flows_json_write(&set, out, reterr);
	identity_free(id);
	flow_set_done(&set);
	return r;

oom:
	identity_free(id);
	flow_set_done(&set);
	return bh_err_oom(reterr);
}

int cli_learn(int argc, char **argv, struct bh_err *reterr)
{
	static const struct option opts[] = {
		{ "pcap", required_argument, NULL, 'p' },
		{ "interface", required_argument, NULL, 'i' },
		{ "conntrack", no_argument, NULL, 'c' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "skip-unknown", no_argument, NULL, 'U' },
		{ "duration", required_argument, NULL, 'd' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "conntrack-rcvbuf", required_argument, NULL, 'r' },
		{ 0 },
	};
	const char *files[CLI_FILES_MAX], *globs[CLI_FILES_MAX];
	size_t n_files = 0, n_globs = 0;
	struct cli_cluster_src csrc = { 0 };
	struct learn_run run = { .epfd = -1, .sigfd = -1 };
	struct cluster *cluster = NULL;
	const char *out = NULL, *node = NULL;
	uint64_t duration = 0, max_flows = LEARN_MAX_FLOWS_DEFAULT, overruns = 0, rcvbuf = 0;
	bool conntrack = false;
	int c, r;

	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'i':
			if ((c == 'p' ? n_files : n_globs) >= CLI_FILES_MAX)
				return cli_usage_err(reterr, "learn", "at most %d --%s",
						     CLI_FILES_MAX,
						     c == 'p' ? "pcap" : "interface");
			if (c == 'p')
				files[n_files++] = optarg;
			else
				globs[n_globs++] = optarg;
			break;
		case 'c':
			conntrack = true;
			break;
		case 's':
			r = cli_cluster_src_add(&csrc, optarg, reterr);
			if (r < 0)
				return r;
			break;
		case 'U':
			csrc.skip_unknown = true;
			break;
		case 'k':
			csrc.kubeconfig = optarg;
			break;
		case 'd':
			if (cli_parse_u64(optarg, 1, 366u * 86400, &duration) < 0)
				return cli_usage_err(reterr, "learn",
						     "--duration: expected seconds (1..31622400), "
						     "got '%s'",
						     optarg);
			break;
		case 'm':
			if (cli_parse_u64(optarg, 1, FLOW_TABLE_MAX, &max_flows) < 0)
				return cli_usage_err(reterr, "learn",
						     "--max-flows: expected 1..%u, got '%s'",
						     FLOW_TABLE_MAX, optarg);
			break;
		case 'n':
			node = optarg;
			break;
		case 'r':
			if (cli_parse_u64(optarg, 4096, 1u << 30, &rcvbuf) < 0)
				return cli_usage_err(reterr, "learn",
						     "--conntrack-rcvbuf: expected bytes "
						     "(4096..1073741824), got '%s'",
						     optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return cli_getopt_err(reterr, "learn", c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_err(reterr, "learn", "unexpected argument '%s'", argv[optind]);
	if (!n_files && !n_globs && !conntrack)
		return cli_usage_err(reterr, "learn",
				     "expected a source: --pcap FILE, --interface GLOB or "
				     "--conntrack");
	if (!out)
		return cli_usage_err(reterr, "learn", "-o FLOWS.json is required");
	if (duration && !n_globs && !conntrack)
		return cli_usage_err(reterr, "learn",
				     "--duration applies to --interface and --conntrack");

	if (csrc.n_snapshots || csrc.kubeconfig) {
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
	if (n_globs || conntrack) {
		r = setup_live(&run, globs, n_globs, conntrack, (size_t) rcvbuf, reterr);
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
	overruns += run.drops_closed;
	for (size_t i = 0; i < run.n_caps; i++) {
		struct capture_stats st;

		capture_get_stats(run.caps[i]->cap, &st);
		overruns += st.kernel_drops;
	}
	r = write_flows(run.l, cluster, node, overruns, out, reterr);
	if (r < 0)
		goto out;
	log_info("learn: %zu flows, %" PRIu64 " packets, %" PRIu64 " evicted, %" PRIu64
		 " overruns, %" PRIu64 " conntrack entries, written to '%s'",
		 flow_table_count(learn_table(run.l)), learn_stats(run.l)->packets,
		 flow_table_stats(learn_table(run.l))->evicted, overruns,
		 learn_stats(run.l)->ct_entries, out);
	r = BH_EXIT_OK;
out:
	run_done(&run);
	learn_free(run.l);
	cluster_free(cluster);
	return r;
}
