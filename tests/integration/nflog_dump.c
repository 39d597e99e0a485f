/*
 * nflog_dump: reads preview alerts back for the netns tests.  Run inside
 * the node namespace:
 *
 *   nflog_dump --group N [--duration S] [--ready FILE] [--record DIR]
 *              [--snapshot FILE... --node NAME]
 *
 * Binds NFLOG group N through enforcer/preview.c, the same code the agent
 * uses, until S seconds pass or SIGTERM/SIGINT arrives, then prints every
 * aggregated alert as one JSON line (alert_format_json) on stdout and the
 * counters as one JSON line on stderr.  --ready writes FILE once the group
 * is bound; --record writes every datagram received to DIR/NNNN.nlmsg
 * (recorded nlmsg bytes for unit tests and the fuzz corpus).  With
 * --snapshot and --node, the ruleset of those files for that node resolves
 * the logged class prefixes to the deciding pod ("bh:D:NS/POD"), as the
 * agent does (ruleset_alert_pod()).
 * Exit status 0, 2 bad usage, 3 system error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "preview.h"
#include "ruleset.h"
#include "snapshot.h"

#define DUMP_MAX_ALERTS 65536
#define DUMP_MAX_SNAPSHOTS 16

/* What alerts are resolved against: the ruleset and its cluster. */
struct resolve_ctx {
	const struct ruleset *rs;
	struct cluster *c;
};

static int resolve_cb(const char *prefix, const struct addr *src, const struct addr *dst, char *out,
		      size_t len, void *userdata)
{
	struct resolve_ctx *x = userdata;
	enum netpol_dir d;
	const char *ns, *pod;
	int r = ruleset_alert_pod(x->rs, x->c, prefix, src, dst, &d, &ns, &pod);

	if (r < 0)
		return r;
	ruleset_pod_prefix(ns, pod, d, out, len);
	return 0;
}

/* The ruleset whose prefixes the kernel logs (mode does not matter). */
static int load_ruleset(const char *const *paths, size_t n, const char *node,
			struct cluster **ret_c, struct ruleset **ret_rs)
{
	struct ruleset_opts o = { .node = node, .mode = BH_MODE_PREVIEW };
	struct bh_err err = { .kind = BH_ERR_NONE };
	struct cluster *c = NULL;

	if (snapshot_load_files(paths, n, &c, NULL, &err) < 0 ||
	    ruleset_build(c, &o, ret_rs, &err) < 0) {
		fprintf(stderr, "nflog_dump: %s\n", err.msg);
		cluster_free(c);
		return -1;
	}
	*ret_c = c;
	return 0;
}

static int print_cb(const struct alert *a, void *userdata)
{
	struct buf *b = userdata;
	int r;

	buf_reset(b);
	r = alert_format_json(a, b);
	if (r < 0)
		return r;
	puts(b->data);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives one datagram with MSG_PEEK and writes it to @dir; the real read
 * happens in preview_process(). */
static void record_one(int fd, const char *dir, unsigned *seq)
{
	static char buf[65536];
	char path[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	FILE *f;

	if (n <= 0)
		return;
	snprintf(path, sizeof(path), "%s/%04u.nlmsg", dir, (*seq)++);
	f = fopen(path, "wb");
	if (!f)
		return;
	(void) fwrite(buf, 1, (size_t) n, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *ready = NULL, *record = NULL, *node = NULL;
	const char *snaps[DUMP_MAX_SNAPSHOTS];
	size_t n_snaps = 0;
	struct cluster *c = NULL;
	struct ruleset *rs = NULL;
	struct resolve_ctx rx;
	long group = -1;
	double duration = 0;
	struct preview *p = NULL;
	struct bh_err err = { .kind = BH_ERR_NONE };
	struct buf b;
	sigset_t mask;
	int64_t end;
	unsigned seq = 0;
	int sfd, r;

	for (int i = 1; i < argc; i++) {
		char *e;

		if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) {
			group = strtol(argv[++i], &e, 10);
			if (*e != '\0' || group < 0 || group > 65535)
				group = -2;
		} else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			duration = strtod(argv[++i], &e);
			if (*e != '\0' || duration < 0)
				group = -2;
		} else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc) {
			ready = argv[++i];
		} else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
			record = argv[++i];
		} else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc &&
			   n_snaps < DUMP_MAX_SNAPSHOTS) {
			snaps[n_snaps++] = argv[++i];
		} else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
			node = argv[++i];
		} else {
			group = -2;
			break;
		}
	}
	if (group < 0 || !n_snaps != !node) {
		fprintf(stderr, "usage: nflog_dump --group 0..65535 [--duration SECONDS] "
				"[--ready FILE] [--record DIR] [--snapshot FILE... --node NAME]\n");
		return 2;
	}
	if (n_snaps && load_ruleset(snaps, n_snaps, node, &c, &rs) < 0)
		return 2;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("nflog_dump: signalfd");
		return 3;
	}
	r = preview_open((uint16_t) group, DUMP_MAX_ALERTS, &p, &err);
	if (r < 0) {
		fprintf(stderr, "nflog_dump: %s\n", err.msg);
		return 3;
	}
	rx = (struct resolve_ctx){ .rs = rs, .c = c };
	if (rs)
		preview_set_resolver(p, resolve_cb, &rx);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fclose(f) != 0) {
			fprintf(stderr, "nflog_dump: '%s': %s\n", ready, strerror(errno));
			preview_free(p);
			return 3;
		}
	}

	end = duration > 0 ? mono_ms() + (int64_t) (duration * 1000) : 0;
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = preview_fd(p), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		int timeout = -1;

		if (end) {
			int64_t left = end - mono_ms();

			if (left <= 0)
				break;
			timeout = (int) left;
		}
		if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
			perror("nflog_dump: poll");
			preview_free(p);
			return 3;
		}
		if (fds[0].revents & POLLIN) {
			if (record)
				record_one(preview_fd(p), record, &seq);
			r = preview_process(p, &err);
			if (r < 0) {
				fprintf(stderr, "nflog_dump: %s\n", err.msg);
				preview_free(p);
				return 3;
			}
		}
		if (fds[1].revents & POLLIN) {
			/* Drain what the kernel queued before we were told to
			 * stop: the test signals us right after its last probe. */
			while (preview_process(p, &err) > 0)
				;
			break;
		}
	}

	buf_init(&b, 1 << 16);
	r = preview_alert_foreach(p, print_cb, &b);
	buf_done(&b);
	{
		const struct preview_stats *s = preview_stats(p);

		fprintf(stderr,
			"{\"messages\":%llu,\"malformed\":%llu,\"non_ip\":%llu,\"alerts\":%llu,"
			"\"evicted\":%llu,\"overruns\":%llu,\"unresolved\":%llu}\n",
			(unsigned long long) s->messages, (unsigned long long) s->malformed,
			(unsigned long long) s->non_ip, (unsigned long long) s->alerts,
			(unsigned long long) s->evicted, (unsigned long long) s->overruns,
			(unsigned long long) s->unresolved);
	}
	preview_free(p);
	ruleset_free(rs);
	cluster_free(c);
	return r < 0 || fflush(stdout) != 0 ? 3 : 0;
}
