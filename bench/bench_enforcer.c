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
 *      pods on other nodes and pods on this node; medians.  Events on this
 *      node are reported apart when their batch creates or deletes chains
 *      (the first pod of a class, the last one leaving): those pay the
 *      kernel's table validation, set elements alone do not.
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
	size_t n, full, objects, empty;
};

static bool set_has(const struct rs_set *s, const struct addr *a)
{
	size_t lo = 0, hi = s->n_elems;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = addr_cmp(&s->elems[mid].addr, a);

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Is @a in another selection of shared peer sets than @b? */
static bool peers_differ(const struct ruleset *rs, const struct addr *a, const struct addr *b)
{
	for (size_t i = 0; i < ruleset_n_sets(rs); i++) {
		const struct rs_set *s = ruleset_set(rs, i);

		if (strncmp(s->name, "s/", 2) == 0 && s->key == RS_KEY_ADDR4 &&
		    set_has(s, a) != set_has(s, b))
			return true;
	}
	return false;
}

/* Does the batch create, replace or delete chains or rules? */
static bool delta_has_chains(const struct rs_delta *d, const struct ruleset *rs)
{
	struct buf b;
	bool ret;

	buf_init(&b, 1 << 24);
	ret = rs_delta_text(d, rs, &b) != 0 || strstr(b.data, " chain ") ||
	      strstr(b.data, "rules ") || strstr(b.data, "full replace");
	buf_done(&b);
	return ret;
}

/* One event: into @st, or @st_chains when its batch touches chains. */
static int one_event(struct nftio *nio, struct ruleset *rs, struct cluster *c,
		     const struct pod *oldp, const char *ns, const char *name, struct ev_stats *st,
		     struct ev_stats *st_chains)
{
	struct rs_delta *d = NULL;
	struct bh_err err = { 0 };
	double t0 = bench_now_ms(), upd, ms;
	int r;

	r = ruleset_update_pod(rs, c, oldp, cluster_pod_find(c, ns, name), &d, &err);
	upd = bench_now_ms() - t0;
	if (r >= 0)
		r = nftio_commit_delta(nio, rs, d, &err);
	ms = bench_now_ms() - t0;
	if (r < 0) {
		fprintf(stderr, "event %s/%s: %s\n", ns, name, err.msg);
		if (getenv("BENCH_DEBUG")) {
			struct buf b;

			buf_init(&b, 1 << 24);
			if (rs_delta_text(d, rs, &b) == 0)
				fprintf(stderr, "%s", b.data);
			buf_done(&b);
		}
		rs_delta_free(d);
		return r;
	}
	if (d && delta_has_chains(d, rs))
		st = st_chains;
	st->upd[st->n] = upd;
	st->ms[st->n++] = ms;
	if (rs_delta_is_full(d))
		st->full++;
	if (!d)
		st->empty++;
	st->objects += rs_delta_size(d);
	rs_delta_free(d);
	return 0;
}

static void report(const char *what, struct ev_stats *st)
{
	double sum = 0;

	for (size_t i = 0; i < st->n; i++)
		sum += st->ms[i];
	printf("(b) %-44s %4zu events: median %.3f ms (update %.3f ms), mean %.3f ms, full "
	       "rebuilds %zu, %.1f kernel objects per batch, %zu changed nothing\n",
	       what, st->n, st->n ? bench_median(st->ms, st->n) : 0,
	       st->n ? bench_median(st->upd, st->n) : 0, st->n ? sum / (double) st->n : 0, st->full,
	       st->n ? (double) st->objects / (double) st->n : 0, st->empty);
}

/* @a and @b reported as one (all local events of one kind). */
static void report_both(const char *what, const struct ev_stats *a, const struct ev_stats *b)
{
	struct ev_stats *m = calloc(1, sizeof(*m));

	if (!m)
		return;
	memcpy(m->ms, a->ms, a->n * sizeof(double));
	memcpy(m->upd, a->upd, a->n * sizeof(double));
	memcpy(m->ms + a->n, b->ms, b->n * sizeof(double));
	memcpy(m->upd + a->n, b->upd, b->n * sizeof(double));
	m->n = a->n + b->n;
	m->full = a->full + b->full;
	m->objects = a->objects + b->objects;
	m->empty = a->empty + b->empty;
	report(what, m);
	free(m);
}

int main(int argc, char **argv)
{
	const char *bulkhead, *snap, *text, *node, *nft = find_nft();
	struct ev_stats *add_remote, *add_local, *rel_remote, *rel_local, *add_local_ch,
		*rel_local_ch;
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
	add_local_ch = calloc(1, sizeof(*add_local_ch));
	rel_local_ch = calloc(1, sizeof(*rel_local_ch));
	if (!add_local_ch || !rel_local_ch || !t_bh || !t_nft || !t_nlb || !t_nls || !t_nla ||
	    !t_load || !t_build || !t_nl || !add_remote || !add_local || !rel_remote || !rel_local)
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
		struct ev_stats *stc = local ? add_local_ch : add_remote;
		char name[300], ns[128];
		struct addr ip = { .family = AF_INET };
		struct pod np;

		if (p->host_network || !p->n_ips || st->n + (local ? stc->n : 0) >= events / 2)
			continue;
		/* 100.64.0.0/10: addresses the generator never uses. */
		ip.b[0] = 100, ip.b[1] = (uint8_t) (64 + (i >> 16)), ip.b[2] = (uint8_t) (i >> 8),
		ip.b[3] = (uint8_t) i;
		(void) snprintf(name, sizeof(name), "%s-bench-%zu", p->name, i);
		(void) snprintf(ns, sizeof(ns), "%s", p->ns);
		if (pod_clone(p, name, &ip, &np) < 0 || cluster_pod_put(c, &np) < 0)
			return 3;
		if (one_event(nio, rs, c, NULL, ns, name, st, stc) < 0)
			return 3;
		i++;
	}
	for (size_t i = 0, k = 0; i < events && k < c->n_pods; k++) {
		struct pod *p = &c->pods[(k * 104729) % c->n_pods];
		bool local = p->node && strcmp(p->node, node) == 0;
		struct ev_stats *st = local ? rel_local : rel_remote;
		struct ev_stats *stc = local ? rel_local_ch : rel_remote;
		const char *app = labels_get(&p->labels, "app");
		const struct pod *q = NULL;
		struct pod old;
		char app2[256], tier2[256], ns[128], name[300];

		if (p->host_network || !p->n_ips || !app ||
		    st->n + (local ? stc->n : 0) >= events / 2)
			continue;
		/* Relabel: the app and tier labels (what policies select by) of
		 * a pod of another workload of the same namespace that is in
		 * other peer sets than this one, so that the pod really leaves
		 * selectors and joins others. */
		for (size_t j = 1; j < c->n_pods && !q; j++) {
			const struct pod *cand = &c->pods[((size_t) (p - c->pods) + j) % c->n_pods];
			const char *oapp = labels_get(&cand->labels, "app");

			if (strcmp(cand->ns, p->ns) != 0)
				continue;
			if (!cand->host_network && cand->n_ips && oapp && strcmp(oapp, app) != 0 &&
			    labels_get(&cand->labels, "tier") &&
			    peers_differ(rs, &p->ips[0], &cand->ips[0]))
				q = cand;
		}
		if (!q)
			continue;
		(void) snprintf(app2, sizeof(app2), "%s", labels_get(&q->labels, "app"));
		(void) snprintf(tier2, sizeof(tier2), "%s", labels_get(&q->labels, "tier"));
		/* The event names the pod before the change (what the watch
		 * cache hands its subscribers). */
		if (pod_copy(&old, p) < 0)
			return 3;
		if (labels_set(&p->labels, "app", app2) < 0 ||
		    labels_set(&p->labels, "tier", tier2) < 0)
			return 3;
		(void) snprintf(ns, sizeof(ns), "%s", p->ns);
		(void) snprintf(name, sizeof(name), "%s", p->name);
		int er = one_event(nio, rs, c, &old, ns, name, st, stc);

		pod_done(&old);
		if (er < 0)
			return 3;
		i++;
	}
	report("pod added, other node", add_remote);
	report("pod added, this node, class exists", add_local);
	report("pod added, this node, new class (chains)", add_local_ch);
	report("pod relabelled, other node", rel_remote);
	report("pod relabelled, this node, elements only", rel_local);
	report("pod relabelled, this node, class made/gone", rel_local_ch);
	report_both("pod added, this node, all", add_local, add_local_ch);
	report_both("pod relabelled, this node, all", rel_local, rel_local_ch);
	{
		/* The description the incremental path built must enforce what
		 * a fresh build does: equal canonical text (class ids may be
		 * numbered differently, the text follows every address through
		 * the trie instead). */
		struct ruleset *fresh = NULL;
		struct buf b1, b2;
		bool same;

		if (ruleset_build(c, &o, &fresh, &err) < 0)
			goto fail;
		buf_init(&b1, (size_t) 1 << 31);
		buf_init(&b2, (size_t) 1 << 31);
		same = ruleset_text_canonical(rs, &b1) == 0 &&
		       ruleset_text_canonical(fresh, &b2) == 0 && b1.len == b2.len &&
		       memcmp(b1.data, b2.data, b1.len) == 0;
		printf("(b) check: incremental description %s a fresh build (canonical text, "
		       "%zu bytes)\n",
		       same ? "equals" : "DIFFERS FROM", b1.len);
		buf_done(&b1);
		buf_done(&b2);
		ruleset_free(fresh);
		if (!same)
			return 1;
	}
	{
		/* The pods that joined a class during the events are not in the
		 * verdict maps: what the refill an agent runs after a burst
		 * costs (include/ruleset.h). */
		size_t missing = ruleset_maps_missing(rs);
		struct rs_delta *d = NULL;
		double t0 = bench_now_ms(), upd;

		if (ruleset_update_maps(rs, c, &d, &err) < 0)
			goto fail;
		upd = bench_now_ms() - t0;
		if (nftio_commit_delta(nio, rs, d, &err) < 0) {
			rs_delta_free(d);
			goto fail;
		}
		printf("(b) verdict maps refilled after the events: %zu addresses, %zu objects, one "
		       "batch: %.2f ms (update %.2f ms); %zu left out after it\n",
		       missing, rs_delta_size(d), bench_now_ms() - t0, upd,
		       ruleset_maps_missing(rs));
		rs_delta_free(d);
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
