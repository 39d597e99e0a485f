/*
 * bench_state_db: what the agent's state store costs at a given number of
 * learned flows.  A learner flow table of FLOWS flows (250 local pods to
 * 10,000 cluster pods and external addresses, peers resolved to pods with
 * three labels, as the agent resolves them) is checkpointed into a fresh
 * state directory, RUNS times:
 *
 * - full: the first checkpoint into an empty database, and a second one
 *   that replaces it (the steady-state full checkpoint);
 * - incremental: 1% of the flows counted again, then the upsert of those;
 * - load: reading every flow back (what a restart does);
 * - the database file size (with its WAL) after the incremental one;
 * - resident memory: the process, and its growth from opening the store
 *   and checkpointing (the flow table itself excluded).
 *
 * Prints the median of each over the runs.
 *
 *   bench_state_db [FLOWS [RUNS [DIR]]]   (defaults 1000000, 5, /tmp)
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "flow_table.h"
#include "state_db.h"

#define LOCAL_PODS 250
#define CLUSTER_PODS 10000
#define INCREMENTAL_PERCENT 1

static long file_size(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

/* The cluster's pods: pod i has address 10.(1 + i / 65536).(i / 256).(i % 256)
 * (local pods are the first LOCAL_PODS). */
struct cluster {
	struct flow_peer pods[CLUSTER_PODS];
	struct flow_peer external;
};

static int cluster_init(struct cluster *c)
{
	char name[96], wl[64], app[64];

	for (int i = 0; i < CLUSTER_PODS; i++) {
		struct flow_peer *p = &c->pods[i];

		snprintf(wl, sizeof(wl), "svc-%d", i / 4);
		snprintf(name, sizeof(name), "%s-%05d", wl, i);
		snprintf(app, sizeof(app), "app-%d", i / 4);
		*p = (struct flow_peer){ .kind = FLOW_PEER_POD,
					 .ns = strdup(i % 20 ? "shop" : "payments"),
					 .name = strdup(name),
					 .workload_kind = strdup("Deployment"),
					 .workload_name = strdup(wl) };
		labels_init(&p->labels);
		if (!p->ns || !p->name || !p->workload_kind || !p->workload_name ||
		    labels_set(&p->labels, "app", app) < 0 ||
		    labels_set(&p->labels, "tier", i % 3 ? "backend" : "frontend") < 0 ||
		    labels_set(&p->labels, "team", i % 2 ? "blue" : "green") < 0)
			return -1;
	}
	c->external = (struct flow_peer){ .kind = FLOW_PEER_EXTERNAL };
	return 0;
}

static void cluster_done(struct cluster *c)
{
	for (int i = 0; i < CLUSTER_PODS; i++)
		flow_peer_done(&c->pods[i]);
}

static struct flow_key key_of(size_t i)
{
	size_t src = i % LOCAL_PODS, dst = (i / LOCAL_PODS) % (CLUSTER_PODS + 1000);
	struct flow_key k = { .proto = i % 10 ? 6 : 17,
			      .port = (uint16_t) (80 +
						  (i / (LOCAL_PODS * (CLUSTER_PODS + 1000)))) };
	uint8_t s[4] = { 10, 1, (uint8_t) (src / 256), (uint8_t) (src % 256) };
	uint8_t d[4];

	if (dst < CLUSTER_PODS) {
		d[0] = 10, d[1] = 1, d[2] = (uint8_t) (dst / 256), d[3] = (uint8_t) (dst % 256);
	} else { /* 1,000 external addresses */
		d[0] = 203, d[1] = 0, d[2] = (uint8_t) (dst / 256), d[3] = (uint8_t) (dst % 256);
	}
	addr_from_v4(&k.src, s);
	addr_from_v4(&k.dst, d);
	return k;
}

static const struct flow_peer *peer_of(const struct cluster *c, const struct addr *a)
{
	if (a->b[0] == 10)
		return &c->pods[a->b[2] * 256 + a->b[3]];
	return &c->external;
}

/* The checkpoint reads the learner's table in place, resolving peers as
 * the agent will. */
struct table_src {
	const struct flow_table *t;
	const struct cluster *c;
	const size_t *only; /* the incremental's indexes, or NULL for all */
};

static void table_get_cb(void *ud, size_t i, struct flow_record *ret)
{
	const struct table_src *s = ud;

	flow_table_record_at(s->t, s->only ? s->only[i] : i, ret);
	ret->src_peer = *peer_of(s->c, &ret->key.src);
	ret->dst_peer = *peer_of(s->c, &ret->key.dst);
}

struct run {
	double full_first_ms, full_first_cpu_ms, full_ms, full_cpu_ms, incr_ms, incr_cpu_ms;
	double load_ms, load_cpu_ms;
	double db_bytes, wal_bytes, rss_growth;
};

/* The median over @n runs of the double at @off in struct run. */
static double median_of(const struct run *r, int n, size_t off)
{
	double *v = calloc((size_t) n, sizeof(*v)), m;

	if (!v)
		return 0;
	for (int i = 0; i < n; i++)
		memcpy(&v[i], (const char *) &r[i] + off, sizeof(double));
	qsort(v, (size_t) n, sizeof(*v), bench_double_cmp);
	m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	free(v);
	return m;
}

static int one_run(const char *base, struct flow_table *t, const struct cluster *c,
		   const size_t *changed, size_t n_changed, struct run *r)
{
	char dir[4096], cmd[4200];
	struct state_db *db = NULL;
	struct bh_err err = { 0 };
	struct table_src all = { .t = t, .c = c }, some = { .t = t, .c = c, .only = changed };
	struct state_db_flows fa = { .n = flow_table_count(t), .get_cb = table_get_cb, .ud = &all };
	struct state_db_flows fs = { .n = n_changed, .get_cb = table_get_cb, .ud = &some };
	struct flow_set loaded;
	long rss0;
	double t0, c0;
	int ret = -1;

	snprintf(dir, sizeof(dir), "%s/bh-bench-state-db.XXXXXX", base);
	if (!mkdtemp(dir))
		return -1;
	rss0 = bench_rss_bytes();
	if (state_db_open(dir, &db, &err) < 0)
		goto out;
	t0 = bench_now_ms();
	c0 = bench_cpu_ms();
	if (state_db_flows_checkpoint(db, &fa, &err) < 0)
		goto out;
	r->full_first_ms = bench_now_ms() - t0;
	r->full_first_cpu_ms = bench_cpu_ms() - c0;
	t0 = bench_now_ms();
	c0 = bench_cpu_ms();
	if (state_db_flows_checkpoint(db, &fa, &err) < 0)
		goto out;
	r->full_ms = bench_now_ms() - t0;
	r->full_cpu_ms = bench_cpu_ms() - c0;
	for (size_t i = 0; i < n_changed; i++) {
		struct flow_record f;

		flow_table_record_at(t, changed[i], &f);
		if (flow_table_add(t, &f.key, 1, 100, 0, f.last_seen + 1, FLOW_SEEN_PCAP) < 0)
			goto out;
	}
	t0 = bench_now_ms();
	c0 = bench_cpu_ms();
	if (state_db_flows_update(db, &fs, NULL, 0, &err) < 0)
		goto out;
	r->incr_ms = bench_now_ms() - t0;
	r->incr_cpu_ms = bench_cpu_ms() - c0;
	r->rss_growth = (double) (bench_rss_bytes() - rss0);
	r->db_bytes = (double) file_size(dir, STATE_DB_FILE);
	r->wal_bytes = (double) file_size(dir, STATE_DB_FILE "-wal");
	db = state_db_free(db);

	/* A restart: open and read every flow back. */
	flow_set_init(&loaded);
	t0 = bench_now_ms();
	c0 = bench_cpu_ms();
	if (state_db_open(dir, &db, &err) < 0 || state_db_flows_load(db, &loaded, &err) < 0)
		goto out;
	r->load_ms = bench_now_ms() - t0;
	r->load_cpu_ms = bench_cpu_ms() - c0;
	if (loaded.n != flow_table_count(t)) {
		fprintf(stderr, "bench_state_db: loaded %zu flows of %zu\n", loaded.n,
			flow_table_count(t));
		flow_set_done(&loaded);
		goto out;
	}
	flow_set_done(&loaded);
	ret = 0;
out:
	if (ret < 0 && err.msg[0])
		fprintf(stderr, "bench_state_db: %s\n", err.msg);
	state_db_free(db);
	snprintf(cmd, sizeof(cmd), "%s/" STATE_DB_FILE, dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/" STATE_DB_FILE "-wal", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/" STATE_DB_FILE "-shm", dir);
	unlink(cmd);
	rmdir(dir);
	return ret;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	const char *base = argc > 3 ? argv[3] : "/tmp";
	struct cluster *c = calloc(1, sizeof(*c));
	struct flow_table *t = flow_table_new(n);
	size_t n_changed = n * INCREMENTAL_PERCENT / 100, *changed;
	struct run *r;
	long rss_table;
	double rss_growth = 0;

	changed = calloc(n_changed ? n_changed : 1, sizeof(*changed));
	r = calloc((size_t) (runs > 0 ? runs : 1), sizeof(*r));
	if (!c || !t || !changed || !r || runs < 1 || cluster_init(c) < 0) {
		fprintf(stderr, "bench_state_db: out of memory or bad arguments\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct flow_key k = key_of(i);

		if (flow_table_add(t, &k, 3, 400, 1, 1700000000 + (int64_t) (i % 3600),
				   FLOW_SEEN_PCAP) < 0)
			return 1;
	}
	/* 1% of the flows, spread over the table. */
	for (size_t i = 0; i < n_changed; i++)
		changed[i] = i * (n / n_changed);
	rss_table = bench_rss_bytes();
	for (int i = 0; i < runs; i++) {
		if (one_run(base, t, c, changed, n_changed, &r[i]) < 0)
			return 1;
		/* The first run's growth is the store's; later runs reuse what
		 * the allocator kept. */
		if (r[i].rss_growth > rss_growth)
			rss_growth = r[i].rss_growth;
	}

	printf("bench_state_db: %zu flows, %zu changed (%d%%), %d runs, medians; in %s\n", n,
	       n_changed, INCREMENTAL_PERCENT, runs, base);
#define MEDIAN(field) median_of(r, runs, offsetof(struct run, field))
	printf("full checkpoint (into an empty db)   %8.0f ms  (%.0f ms CPU)\n",
	       MEDIAN(full_first_ms), MEDIAN(full_first_cpu_ms));
	printf("full checkpoint (replacing one)      %8.0f ms  (%.0f ms CPU)\n", MEDIAN(full_ms),
	       MEDIAN(full_cpu_ms));
	printf("incremental checkpoint (%zu flows)   %8.1f ms  (%.1f ms CPU)\n", n_changed,
	       MEDIAN(incr_ms), MEDIAN(incr_cpu_ms));
	printf("load on restart                      %8.0f ms  (%.0f ms CPU)\n", MEDIAN(load_ms),
	       MEDIAN(load_cpu_ms));
	printf("database file                        %8.1f MiB (%.1f bytes a flow), WAL %.1f MiB\n",
	       MEDIAN(db_bytes) / 1048576, MEDIAN(db_bytes) / (double) n,
	       MEDIAN(wal_bytes) / 1048576);
	printf("resident memory                      %8.1f MiB with the flow table; the store "
	       "adds %.1f MiB at most\n",
	       (double) rss_table / 1048576, rss_growth / 1048576);
	cluster_done(c);
	free(c);
	flow_table_free(t);
	free(changed);
	free(r);
	return 0;
}
