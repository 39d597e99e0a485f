/*
 * bench_propose: phases of `bulkhead propose` on generated inputs, with the
 * baseline side by side: reading the inputs alone (flows.json + snapshot),
 * which every implementation pays, against building the proposal, the
 * engine self-check, emitting JSON and YAML, and freeing it all (what
 * `bulkhead propose` does before it exits).  Medians of REPEATS runs.
 *   bench_propose SNAPSHOT FLOWS [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "flows_json.h"
#include "netpol_emit.h"
#include "propose.h"
#include "snapshot.h"

#define PHASES 7

/* CPU time of the process by default: the benchmark machines are shared,
 * and wall time there measures the neighbours.  BENCH_WALL=1 at build
 * time for wall-clock numbers. */
#ifdef BENCH_WALL
#define BENCH_CLOCK CLOCK_MONOTONIC
#else
#define BENCH_CLOCK CLOCK_PROCESS_CPUTIME_ID
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(BENCH_CLOCK, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const names[PHASES] = {
		"read flows.json (baseline)",
		"read snapshot (baseline)",
		"build proposal",
		"self-check (engine)",
		"emit JSON",
		"emit YAML",
		"free everything",
	};
	double t[PHASES][32], total[32];
	int reps = argc > 3 ? (int) strtol(argv[3], NULL, 10) : 5;
	size_t n_pol = 0, n_flows = 0, n_checked = 0, n_allowed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_propose SNAPSHOT FLOWS [REPEATS]\n");
		return 2;
	}
	if (reps < 1 || reps > 32)
		reps = 5;
	for (int r = 0; r < reps; r++) {
		struct bh_err err = { 0 };
		struct flow_set fs;
		struct cluster *c = NULL;
		struct proposal p;
		struct propose_opts o;
		const char *snap = argv[1];
		struct buf b;
		double t0 = now(), t1;

		flow_set_init(&fs);
		if (flows_json_load(&fs, argv[2], &err) < 0 ||
		    (t[0][r] = now() - t0, t1 = now(),
		     snapshot_load_files(&snap, 1, &c, NULL, &err) < 0)) {
			fprintf(stderr, "bench_propose: %s\n", err.msg);
			return 1;
		}
		t[1][r] = now() - t1;
		propose_opts_init(&o);
		t1 = now();
		if (propose_build(&fs, c, &o, &p, &err) < 0)
			return 1;
		t[2][r] = now() - t1;
		t1 = now();
		if (propose_self_check(&p, &fs, c, &err) < 0)
			return 1;
		t[3][r] = now() - t1;
		t1 = now();
		buf_init(&b, SIZE_MAX);
		if (netpol_emit_list_json(&p, &b) < 0)
			return 1;
		t[4][r] = now() - t1;
		buf_reset(&b);
		t1 = now();
		if (netpol_emit_list_yaml(&p, &b) < 0)
			return 1;
		t[5][r] = now() - t1;
		total[r] = t[0][r] + t[1][r] + t[2][r] + t[3][r] + t[4][r];
		n_pol = p.n;
		n_flows = fs.n;
		n_checked = p.n_checked;
		n_allowed = p.n_allowed;
		t1 = now();
		buf_done(&b);
		proposal_done(&p);
		cluster_free(c);
		flow_set_done(&fs);
		t[6][r] = now() - t1;
		total[r] += t[6][r];
	}
	printf("bench_propose: %zu flows, %zu policies, self-check %zu/%zu, %d runs, median %s\n",
	       n_flows, n_pol, n_allowed, n_checked, reps,
	       BENCH_CLOCK == CLOCK_MONOTONIC ? "wall time" : "CPU time");
	for (int k = 0; k < PHASES; k++) {
		qsort(t[k], (size_t) reps, sizeof(double), bench_double_cmp);
		printf("  %-28s %8.1f ms\n", names[k], t[k][reps / 2] * 1e3);
	}
	qsort(total, (size_t) reps, sizeof(double), bench_double_cmp);
	printf("  %-28s %8.1f ms\n", "total, JSON output", total[reps / 2] * 1e3);
	return 0;
}
