/*
 * bench.check: what `bulkhead check` costs over a large snapshot.
 *
 *   bench_check SNAPSHOT [REPEATS]
 *
 * Times, REPEATS times each (default 5), and prints medians:
 *  - load: snapshot_load_files() of SNAPSHOT;
 *  - index: engine_new() (which policies select each pod);
 *  - probe: one engine_allowed() call (averaged over 10,000 calls);
 *  - matrix: a full 100x100 truth table, one probe and all six default
 *    probes (ports 80 and 81 over TCP, UDP, SCTP);
 * and, side by side, the baseline: the same 100x100 table by a naive
 * evaluator that scans every policy of the cluster for each cell (no
 * per-pod index).  Both must give the same answer for every cell.
 * Then a full table of the first 2,000 pods (one probe) by engine_matrix()
 * and through the engine memo (engine_memo_new() included), which must
 * agree cell for cell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "engine.h"
#include "engine_memo.h"
#include "snapshot.h"

#define BENCH_PODS 100
#define BENCH_PROBE_CALLS 10000
#define BENCH_BIG_PODS 2000

static const struct {
	uint8_t proto;
	uint16_t port;
} probes[] = {
	{ IPPROTO_TCP, 80 }, { IPPROTO_TCP, 81 },  { IPPROTO_UDP, 80 },
	{ IPPROTO_UDP, 81 }, { IPPROTO_SCTP, 80 }, { IPPROTO_SCTP, 81 },
};

/* Both clocks: the machine is shared, so CPU time is reported next to wall
 * time. */
struct stamp {
	double wall, cpu; /* ms */
};

static struct stamp stamp_now(void)
{
	return (struct stamp){ .wall = bench_now_ms(), .cpu = bench_cpu_ms() };
}

enum metric {
	M_LOAD,
	M_INDEX,
	M_PROBE,
	M_MATRIX1,
	M_MATRIX6,
	M_NAIVE1,
	M_BIG_ENGINE,
	M_BIG_MEMO,
	_M_MAX,
};

/* Records the time since @t0 (divided by @div) for @m in run @r. */
static void record(double *wall, double *cpu, size_t reps, enum metric m, size_t r, struct stamp t0,
		   double div)
{
	struct stamp t1 = stamp_now();

	wall[m * reps + r] = (t1.wall - t0.wall) / div;
	cpu[m * reps + r] = (t1.cpu - t0.cpu) / div;
}

/* The baseline: one direction by scanning every policy of the cluster. */
static bool naive_dir(const struct engine *e, const struct engine_ep *self,
		      const struct engine_ep *peer, const struct pod *dst, enum netpol_dir d,
		      uint8_t proto, uint16_t port)
{
	const struct cluster *c = engine_cluster(e);
	bool isolated = false;

	if (!self->pod)
		return true;
	/* The node's own traffic into its pods (see engine.h). */
	if (d == NETPOL_INGRESS && !peer->pod && peer->node && self->pod->node &&
	    strcmp(peer->node, self->pod->node) == 0)
		return true;
	for (size_t k = 0; k < c->n_policies; k++) {
		const struct netpol *p = &c->policies[k];

		if (!p->types[d] || strcmp(p->ns, self->pod->ns) != 0 ||
		    !selector_matches(&p->pod_sel, &self->pod->labels))
			continue;
		isolated = true;
		for (size_t r = 0; r < p->n_rules[d]; r++)
			if (engine_rule_allows(e, p, &p->rules[d][r], peer, dst, proto, port))
				return true;
	}
	return !isolated;
}

static bool naive_allowed(const struct engine *e, const struct engine_ep *src,
			  const struct engine_ep *dst, uint8_t proto, uint16_t port)
{
	return naive_dir(e, src, dst, dst->pod, NETPOL_EGRESS, proto, port) &&
	       naive_dir(e, dst, src, dst->pod, NETPOL_INGRESS, proto, port);
}

int main(int argc, char **argv)
{
	static const char *const names[_M_MAX] = {
		[M_LOAD] = "load snapshot",
		[M_INDEX] = "engine_new (index)",
		[M_PROBE] = "one probe (us)",
		[M_MATRIX1] = "100x100 matrix, 1 probe",
		[M_MATRIX6] = "100x100 matrix, 6 probes",
		[M_NAIVE1] = "baseline: naive 100x100, 1 probe",
		[M_BIG_ENGINE] = "2000x2000 matrix, engine_matrix",
		[M_BIG_MEMO] = "2000x2000 matrix, engine memo",
	};
	const char *paths[1];
	size_t reps = 5, idx[BENCH_PODS], n_allowed = 0;
	double *wall = NULL, *cpu = NULL;
	bool *m = NULL, *m2 = NULL, *big = NULL, *big2 = NULL;
	size_t *bidx = NULL;
	struct engine_ep *beps = NULL;
	struct engine_memo_stats mst = { 0 };
	struct cluster *c = NULL;
	struct engine *e = NULL;
	struct bh_err err = { 0 };
	int ret = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_check SNAPSHOT [REPEATS]\n");
		return 2;
	}
	paths[0] = argv[1];
	if (argc == 3)
		reps = strtoul(argv[2], NULL, 10);
	if (reps < 1)
		reps = 1;
	wall = calloc(_M_MAX * reps, sizeof(double));
	cpu = calloc(_M_MAX * reps, sizeof(double));
	m = calloc(BENCH_PODS * BENCH_PODS, sizeof(bool));
	m2 = calloc(BENCH_PODS * BENCH_PODS, sizeof(bool));
	big = calloc((size_t) BENCH_BIG_PODS * BENCH_BIG_PODS, sizeof(bool));
	big2 = calloc((size_t) BENCH_BIG_PODS * BENCH_BIG_PODS, sizeof(bool));
	bidx = calloc(BENCH_BIG_PODS, sizeof(*bidx));
	beps = calloc(BENCH_BIG_PODS, sizeof(*beps));
	if (!wall || !cpu || !m || !m2 || !big || !big2 || !bidx || !beps)
		goto out;

	for (size_t r = 0; r < reps; r++) {
		struct stamp t0 = stamp_now();
		struct engine_ep a, b;
		volatile bool sink = false;

		c = cluster_free(c);
		e = engine_free(e);
		if (snapshot_load_files(paths, 1, &c, NULL, &err) < 0) {
			fprintf(stderr, "bench_check: %s\n", err.msg);
			goto out;
		}
		record(wall, cpu, reps, M_LOAD, r, t0, 1);
		if (c->n_pods < BENCH_PODS) {
			fprintf(stderr, "bench_check: need at least %d pods\n", BENCH_PODS);
			goto out;
		}
		t0 = stamp_now();
		if (engine_new(c, &e) < 0)
			goto out;
		record(wall, cpu, reps, M_INDEX, r, t0, 1);

		/* 100 pods spread over the whole cluster (every namespace). */
		for (size_t i = 0; i < BENCH_PODS; i++)
			idx[i] = i * (c->n_pods / BENCH_PODS);

		t0 = stamp_now();
		for (size_t i = 0; i < BENCH_PROBE_CALLS; i++) {
			engine_ep_pod(e, &c->pods[idx[i % BENCH_PODS]], AF_INET, &a);
			engine_ep_pod(e, &c->pods[idx[(i / BENCH_PODS) % BENCH_PODS]], AF_INET, &b);
			sink ^= engine_allowed(e, &a, &b, IPPROTO_TCP, 8080);
		}
		record(wall, cpu, reps, M_PROBE, r, t0, BENCH_PROBE_CALLS / 1e3);
		(void) sink;

		t0 = stamp_now();
		engine_matrix(e, idx, BENCH_PODS, idx, BENCH_PODS, AF_INET, IPPROTO_TCP, 8080, m);
		record(wall, cpu, reps, M_MATRIX1, r, t0, 1);

		t0 = stamp_now();
		for (size_t p = 0; p < BH_ARRAY_SIZE(probes); p++)
			engine_matrix(e, idx, BENCH_PODS, idx, BENCH_PODS, AF_INET, probes[p].proto,
				      probes[p].port, m2);
		record(wall, cpu, reps, M_MATRIX6, r, t0, 1);

		/* Baseline over the same cells, and the same answers. */
		t0 = stamp_now();
		n_allowed = 0;
		for (size_t i = 0; i < BENCH_PODS; i++) {
			engine_ep_pod(e, &c->pods[idx[i]], AF_INET, &a);
			for (size_t j = 0; j < BENCH_PODS; j++) {
				engine_ep_pod(e, &c->pods[idx[j]], AF_INET, &b);
				m2[i * BENCH_PODS + j] =
					naive_allowed(e, &a, &b, IPPROTO_TCP, 8080);
			}
		}
		record(wall, cpu, reps, M_NAIVE1, r, t0, 1);
		for (size_t i = 0; i < BENCH_PODS * BENCH_PODS; i++) {
			if (m[i] != m2[i]) {
				fprintf(stderr,
					"bench_check: engine and baseline disagree on %s/%s "
					"-> %s/%s\n",
					c->pods[idx[i / BENCH_PODS]].ns,
					c->pods[idx[i / BENCH_PODS]].name,
					c->pods[idx[i % BENCH_PODS]].ns,
					c->pods[idx[i % BENCH_PODS]].name);
				goto out;
			}
			n_allowed += m[i];
		}

		/* The full table of the first 2,000 pods: engine, then memo. */
		if (c->n_pods >= BENCH_BIG_PODS) {
			struct engine_memo *em = NULL;

			for (size_t i = 0; i < BENCH_BIG_PODS; i++)
				bidx[i] = i;
			t0 = stamp_now();
			engine_matrix(e, bidx, BENCH_BIG_PODS, bidx, BENCH_BIG_PODS, AF_INET,
				      IPPROTO_TCP, 8080, big);
			record(wall, cpu, reps, M_BIG_ENGINE, r, t0, 1);
			t0 = stamp_now();
			if (engine_memo_new(c, NULL, &em) < 0)
				goto out;
			for (size_t i = 0; i < BENCH_BIG_PODS; i++)
				engine_ep_pod(engine_memo_engine(em), &c->pods[i], AF_INET,
					      &beps[i]);
			if (engine_memo_matrix(em, beps, BENCH_BIG_PODS, beps, BENCH_BIG_PODS,
					       IPPROTO_TCP, 8080, big2) < 0) {
				engine_memo_free(em);
				goto out;
			}
			record(wall, cpu, reps, M_BIG_MEMO, r, t0, 1);
			engine_memo_stats(em, &mst);
			engine_memo_free(em);
			if (memcmp(big, big2, (size_t) BENCH_BIG_PODS * BENCH_BIG_PODS) != 0) {
				fprintf(stderr, "bench_check: engine and memo tables disagree\n");
				goto out;
			}
		}
	}

	printf("snapshot: %s: %zu pods, %zu policies, %zu namespaces, %zu nodes\n", argv[1],
	       c->n_pods, c->n_policies, c->n_ns, c->n_nodes);
	printf("medians of %zu runs (wall ms, CPU ms; one probe in us):\n", reps);
	for (int k = 0; k < _M_MAX; k++)
		printf("  %-34s %10.3f %10.3f\n", names[k], bench_median(wall + k * reps, reps),
		       bench_median(cpu + k * reps, reps));
	printf("  (%zu of %d cells of the TCP/8080 table allowed)\n", n_allowed,
	       BENCH_PODS * BENCH_PODS);
	printf("  (memo: %zu classes of pods, %llu verdicts asked of the engine, %llu answered "
	       "from the memo)\n",
	       mst.n_classes, (unsigned long long) mst.misses, (unsigned long long) mst.hits);
	ret = 0;

out:
	engine_free(e);
	cluster_free(c);
	free(wall);
	free(cpu);
	free(m);
	free(m2);
	free(big);
	free(big2);
	free(bidx);
	free(beps);
	return ret;
}
