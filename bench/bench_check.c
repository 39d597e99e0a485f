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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "snapshot.h"

#define BENCH_PODS 100
#define BENCH_PROBE_CALLS 10000

static const struct {
	uint8_t proto;
	uint16_t port;
} probes[] = {
	{ IPPROTO_TCP, 80 }, { IPPROTO_TCP, 81 },  { IPPROTO_UDP, 80 },
	{ IPPROTO_UDP, 81 }, { IPPROTO_SCTP, 80 }, { IPPROTO_SCTP, 81 },
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
	const char *paths[1];
	size_t reps = 5, idx[BENCH_PODS], n_allowed = 0;
	double *t_load, *t_index, *t_probe, *t_matrix1, *t_matrix6, *t_naive1;
	bool *m = NULL, *m2 = NULL;
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
	t_load = calloc(reps, sizeof(double));
	t_index = calloc(reps, sizeof(double));
	t_probe = calloc(reps, sizeof(double));
	t_matrix1 = calloc(reps, sizeof(double));
	t_matrix6 = calloc(reps, sizeof(double));
	t_naive1 = calloc(reps, sizeof(double));
	m = calloc(BENCH_PODS * BENCH_PODS, sizeof(bool));
	m2 = calloc(BENCH_PODS * BENCH_PODS, sizeof(bool));
	if (!t_load || !t_index || !t_probe || !t_matrix1 || !t_matrix6 || !t_naive1 || !m || !m2)
		goto out;

	for (size_t r = 0; r < reps; r++) {
		double t0 = now_ms(), t1;
		struct engine_ep a, b;
		volatile bool sink = false;

		c = cluster_free(c);
		e = engine_free(e);
		if (snapshot_load_files(paths, 1, &c, NULL, &err) < 0) {
			fprintf(stderr, "bench_check: %s\n", err.msg);
			goto out;
		}
		t1 = now_ms();
		t_load[r] = t1 - t0;
		if (c->n_pods < BENCH_PODS) {
			fprintf(stderr, "bench_check: need at least %d pods\n", BENCH_PODS);
			goto out;
		}
		if (engine_new(c, &e) < 0)
			goto out;
		t_index[r] = now_ms() - t1;

		/* 100 pods spread over the whole cluster (every namespace). */
		for (size_t i = 0; i < BENCH_PODS; i++)
			idx[i] = i * (c->n_pods / BENCH_PODS);

		t0 = now_ms();
		for (size_t i = 0; i < BENCH_PROBE_CALLS; i++) {
			engine_ep_pod(e, &c->pods[idx[i % BENCH_PODS]], AF_INET, &a);
			engine_ep_pod(e, &c->pods[idx[(i / BENCH_PODS) % BENCH_PODS]], AF_INET, &b);
			sink ^= engine_allowed(e, &a, &b, IPPROTO_TCP, 8080);
		}
		t_probe[r] = (now_ms() - t0) * 1e3 / BENCH_PROBE_CALLS; /* us */
		(void) sink;

		t0 = now_ms();
		engine_matrix(e, idx, BENCH_PODS, idx, BENCH_PODS, AF_INET, IPPROTO_TCP, 8080, m);
		t_matrix1[r] = now_ms() - t0;

		t0 = now_ms();
		for (size_t p = 0; p < BH_ARRAY_SIZE(probes); p++)
			engine_matrix(e, idx, BENCH_PODS, idx, BENCH_PODS, AF_INET, probes[p].proto,
				      probes[p].port, m2);
		t_matrix6[r] = now_ms() - t0;

		/* Baseline over the same cells, and the same answers. */
		t0 = now_ms();
		n_allowed = 0;
		for (size_t i = 0; i < BENCH_PODS; i++) {
			engine_ep_pod(e, &c->pods[idx[i]], AF_INET, &a);
			for (size_t j = 0; j < BENCH_PODS; j++) {
				engine_ep_pod(e, &c->pods[idx[j]], AF_INET, &b);
				m2[i * BENCH_PODS + j] =
					naive_allowed(e, &a, &b, IPPROTO_TCP, 8080);
			}
		}
		t_naive1[r] = now_ms() - t0;
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
	}

	printf("snapshot: %s: %zu pods, %zu policies, %zu namespaces, %zu nodes\n", argv[1],
	       c->n_pods, c->n_policies, c->n_ns, c->n_nodes);
	printf("medians of %zu runs:\n", reps);
	printf("  load snapshot            %10.2f ms\n", median(t_load, reps));
	printf("  engine_new (index)       %10.2f ms\n", median(t_index, reps));
	printf("  one probe                %10.3f us\n", median(t_probe, reps));
	printf("  100x100 matrix, 1 probe  %10.2f ms  (%zu of %d cells allowed, TCP/8080)\n",
	       median(t_matrix1, reps), n_allowed, BENCH_PODS * BENCH_PODS);
	printf("  100x100 matrix, 6 probes %10.2f ms\n", median(t_matrix6, reps));
	printf("  baseline: naive scan of every policy, 100x100, 1 probe %10.2f ms\n",
	       median(t_naive1, reps));
	ret = 0;

out:
	engine_free(e);
	cluster_free(c);
	free(t_load);
	free(t_index);
	free(t_probe);
	free(t_matrix1);
	free(t_matrix6);
	free(t_naive1);
	free(m);
	free(m2);
	return ret;
}
