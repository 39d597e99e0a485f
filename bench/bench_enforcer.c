/*
 * bench_enforcer: the enforcer's two acceptance benchmarks, side by side in
 * one run (run it inside a network namespace: bench/bench-enforcer.sh).
 *
 *  (a) full apply: `bulkhead apply --snapshot S` as a process against
 *      `nft -f T` with T = `bulkhead apply --dry-run -o nft` of the same
 *      snapshot, each from an empty table, alternating, N runs, medians;
 *      plus the in-process phases (snapshot load, compile, netlink batch).
 *  (b) incremental: one pod added / one pod relabelled, through
 *      ruleset_update_pod() + nftio_commit_delta() (one batch each), for
 *      pods on other nodes and pods on this node; medians.
 *
 *   bench_enforcer BULKHEAD SNAPSHOT NFT_TEXT NODE RUNS EVENTS
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench.h"
#include "cluster.h"
#include "nftio.h"
#include "ruleset.h"
#include "snapshot.h"

extern char **environ;

/* Runs @argv quietly; returns its wall time in ms, or -1 on failure. */
static double run_ms(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	double t0 = bench_now_ms();
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return bench_now_ms() - t0;
}

static const char *find_nft(void)
{
	static const char *const paths[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "r");

		if (f) {
			fclose(f);
			return paths[i];
		}
	}
	return NULL;
}

/* A deep copy of pod @p named @name with address @ip. */
static int pod_clone(const struct pod *p, const char *name, const struct addr *ip, struct pod *ret)
{
	if (pod_copy(ret, p) < 0)
		return -ENOMEM;
	free(ret->name);
	ret->name = strdup(name);
	if (!ret->name) {
		pod_done(ret);
		return -ENOMEM;
	}
	ret->n_ips = 1;
	ret->ips[0] = *ip;
	return 0;
}

struct ev_stats {
	double ms[4096], upd[4096];
	size_t n, full, objects;
};

static int one_event(struct nftio *nio, struct ruleset *rs, struct cluster *c, const char *ns,
		     const char *name, struct ev_stats *st)
{
	struct rs_delta *d = NULL;
	struct bh_err err = { 0 };
	double t0 = bench_now_ms();
	int r;

	r = ruleset_update_pod(rs, c, ns, name, &d, &err);
	st->upd[st->n] = bench_now_ms() - t0;
	if (r >= 0)
		r = nftio_commit_delta(nio, rs, d, &err);
	st->ms[st->n++] = bench_now_ms() - t0;
	if (r < 0) {
		fprintf(stderr, "event %s/%s: %s\n", ns, name, err.msg);
		rs_delta_free(d);
		return r;
	}
	if (rs_delta_is_full(d))
		st->full++;
	st->objects += rs_delta_size(d);
	rs_delta_free(d);
	return 0;
}

static void report(const char *what, struct ev_stats *st)
{
	double sum = 0;

	for (size_t i = 0; i < st->n; i++)
		sum += st->ms[i];
	printf("(b) %-28s %4zu events: median %.3f ms (update %.3f ms), mean %.3f ms, full "
	       "rebuilds %zu, %.1f kernel objects per batch\n",
	       what, st->n, st->n ? bench_median(st->ms, st->n) : 0,
	       st->n ? bench_median(st->upd, st->n) : 0, st->n ? sum / (double) st->n : 0, st->full,
	       st->n ? (double) st->objects / (double) st->n : 0);
}

int main(int argc, char **argv)
{
	const char *bulkhead, *snap, *text, *node, *nft = find_nft();
	struct ev_stats *add_remote, *add_local, *rel_remote, *rel_local;
	double *t_bh, *t_nft, *t_load, *t_build, *t_nl, *t_nlb, *t_nls, *t_nla;
	struct ruleset_opts o = { .mode = BH_MODE_ENFORCE };
	struct bh_err err = { 0 };
	struct cluster *c = NULL;
	struct ruleset *rs = NULL;
	struct nftio *nio = NULL;
	size_t runs, events;

	if (argc != 7 || !nft) {
		fprintf(stderr, "usage: bench_enforcer BULKHEAD SNAPSHOT NFT_TEXT NODE RUNS EVENTS "
				"(needs nft)\n");
		return 2;
	}
	bulkhead = argv[1], snap = argv[2], text = argv[3], node = argv[4];
	runs = strtoul(argv[5], NULL, 10);
	events = strtoul(argv[6], NULL, 10);
	if (runs > 100 || events > 1000)
		return 2;
	o.node = node;
	t_bh = calloc(runs + 1, sizeof(double));
	t_nft = calloc(runs + 1, sizeof(double));
	t_load = calloc(runs + 1, sizeof(double));
	t_build = calloc(runs + 1, sizeof(double));
	t_nl = calloc(runs + 1, sizeof(double));
	t_nlb = calloc(runs + 1, sizeof(double));
	t_nls = calloc(runs + 1, sizeof(double));
	t_nla = calloc(runs + 1, sizeof(double));
	add_remote = calloc(1, sizeof(*add_remote));
	add_local = calloc(1, sizeof(*add_local));
	rel_remote = calloc(1, sizeof(*rel_remote));
	rel_local = calloc(1, sizeof(*rel_local));
	if (!t_bh || !t_nft || !t_nlb || !t_nls || !t_nla || !t_load || !t_build || !t_nl ||
	    !add_remote || !add_local || !rel_remote || !rel_local)
		return 3;
	if (nftio_open(&nio, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 3;
	}

	/* (a) end to end, alternating, from an empty table each time. */
	for (size_t i = 0; i < runs; i++) {
		char a_apply[] = "apply", a_snap[] = "--snapshot", a_node[] = "--node",
		     a_mode[] = "--mode", a_enf[] = "enforce", a_f[] = "-f";
		char *bh_apply[] = { (char *) bulkhead, a_apply, a_snap, (char *) snap, a_node,
				     (char *) node,	a_mode,	 a_enf,	 NULL };
		char *nft_f[] = { (char *) nft, a_f, (char *) text, NULL };

		if (nftio_reset(nio, &err) < 0)
			return 3;
		t_bh[i] = run_ms(bh_apply);
		if (nftio_reset(nio, &err) < 0)
			return 3;
		t_nft[i] = run_ms(nft_f);
		if (t_bh[i] < 0 || t_nft[i] < 0) {
			fprintf(stderr, "a command failed\n");
			return 3;
		}
	}
	/* (a) in-process phases (RUNS 0: once, only to set up (b)). */
	for (size_t i = 0; i < (runs ? runs : 1); i++) {
		const char *paths[1] = { snap };
		double t0;

		cluster_free(c);
		c = NULL;
		ruleset_free(rs);
		rs = NULL;
		if (nftio_reset(nio, &err) < 0)
			return 3;
		t0 = bench_now_ms();
		if (snapshot_load_files(paths, 1, &c, NULL, &err) < 0)
			goto fail;
		t_load[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		if (ruleset_build(c, &o, &rs, &err) < 0)
			goto fail;
		t_build[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		if (nftio_apply(nio, rs, &err) < 0)
			goto fail;
		t_nl[i] = bench_now_ms() - t0;
		t_nlb[i] = nftio_stats(nio)->build_ms;
		t_nls[i] = nftio_stats(nio)->send_ms;
		t_nla[i] = nftio_stats(nio)->ack_ms;
	}
	if (runs) {
		double bh = bench_median(t_bh, runs), nf = bench_median(t_nft, runs);

		printf("(a) full apply, %zu runs, medians: bulkhead apply %.0f ms, nft -f %.0f ms: "
		       "%.2fx faster\n",
		       runs, bh, nf, nf / bh);
		printf("(a) bulkhead phases: snapshot load %.0f ms, compile %.0f ms, netlink batch "
		       "%.0f ms (%zu messages, %zu bytes: build %.0f ms, kernel %.0f ms, acks %.0f "
		       "ms)\n",
		       bench_median(t_load, runs), bench_median(t_build, runs),
		       bench_median(t_nl, runs), nftio_stats(nio)->messages,
		       nftio_stats(nio)->bytes, bench_median(t_nlb, runs),
		       bench_median(t_nls, runs), bench_median(t_nla, runs));
	}

	/* (b) pod events against the applied ruleset. */
	for (size_t i = 0, k = 0; i < events && k < c->n_pods; k++) {
		const struct pod *p = &c->pods[(k * 7919) % c->n_pods];
		bool local = p->node && strcmp(p->node, node) == 0;
		struct ev_stats *st = local ? add_local : add_remote;
		char name[300], ns[128];
		struct addr ip = { .family = AF_INET };
		struct pod np;

		if (p->host_network || !p->n_ips || st->n >= events / 2)
			continue;
		/* 100.64.0.0/10: addresses the generator never uses. */
		ip.b[0] = 100, ip.b[1] = (uint8_t) (64 + (i >> 16)), ip.b[2] = (uint8_t) (i >> 8),
		ip.b[3] = (uint8_t) i;
		(void) snprintf(name, sizeof(name), "%s-bench-%zu", p->name, i);
		(void) snprintf(ns, sizeof(ns), "%s", p->ns);
		if (pod_clone(p, name, &ip, &np) < 0 || cluster_pod_put(c, &np) < 0)
			return 3;
		if (one_event(nio, rs, c, ns, name, st) < 0)
			return 3;
		i++;
	}
	for (size_t i = 0, k = 0; i < events && k < c->n_pods; k++) {
		struct pod *p = &c->pods[(k * 104729) % c->n_pods];
		bool local = p->node && strcmp(p->node, node) == 0;
		struct ev_stats *st = local ? rel_local : rel_remote;
		const char *app = labels_get(&p->labels, "app");
		char v[256], ns[128], name[300];

		if (p->host_network || !p->n_ips || !app || st->n >= events / 2)
			continue;
		/* Relabel: another app's label, so selectors really change. */
		{
			const char *o2 = labels_get(&c->pods[(k + 1) % c->n_pods].labels, "app");

			(void) snprintf(v, sizeof(v), "%s", o2 ? o2 : "other");
		}
		if (labels_set(&p->labels, "app", v) < 0)
			return 3;
		(void) snprintf(ns, sizeof(ns), "%s", p->ns);
		(void) snprintf(name, sizeof(name), "%s", p->name);
		if (one_event(nio, rs, c, ns, name, st) < 0)
			return 3;
		i++;
	}
	report("pod added, other node", add_remote);
	report("pod added, this node", add_local);
	report("pod relabelled, other node", rel_remote);
	report("pod relabelled, this node", rel_local);
	{
		/* The kernel now holds what the incremental path built: a fresh
		 * apply of the same cluster must be a no-op... except for the
		 * digest comment, which deltas do not rewrite. */
		struct ruleset *fresh = NULL;

		if (ruleset_build(c, &o, &fresh, &err) < 0)
			goto fail;
		printf("(b) check: incremental description %s a fresh build\n",
		       ruleset_digest(fresh) == ruleset_digest(rs) ? "equals" : "DIFFERS FROM");
		ruleset_free(fresh);
	}
	if (nftio_reset(nio, &err) < 0)
		goto fail;
	nftio_free(nio);
	ruleset_free(rs);
	cluster_free(c);
	return 0;
fail:
	fprintf(stderr, "%s\n", err.msg);
	return 3;
}
