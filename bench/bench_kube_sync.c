/*
 * bench.kube_sync: initial sync of a 10,000-pod cluster from the test API
 * server (TLS, pages of 500) into the cluster cache, the memory the cache
 * holds, and the latency from an event leaving the server to the
 * subscriber callback.  Side by side in the same run with the named
 * baselines: the snapshot reader on the same objects as a file, and the
 * real `kubectl get -A -o json --chunk-size=500` against the same server.
 *
 *   bench_kube_sync [RUNS] [EVENTS]      (defaults 5 and 200)
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"
#include "kube_cache.h"
#include "snapshot.h"

extern char **environ;

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static int spawn_wait(char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -r;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

struct lat {
	double *v;
	size_t n, max;
	const char *want; /* the pod being touched */
	bool got;
};

static void lat_cb(void *ud, const struct kube_cache_event *ev, struct cluster *c)
{
	struct lat *l = ud;
	struct timespec ts;
	json_t *ann;
	const char *sent;

	(void) c;
	if (!l->want || ev->kind != KUBE_KIND_POD || strcmp(ev->name, l->want) != 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ann = json_object_get(json_object_get(ev->object, "metadata"), "annotations");
	sent = json_string_value(json_object_get(ann, "bench/sent-ns"));
	if (!sent || l->n >= l->max)
		return;
	l->v[l->n++] = ((double) ts.tv_sec * 1e9 + (double) ts.tv_nsec - strtod(sent, NULL)) / 1e6;
	l->got = true;
}

static void ignore_done_cb(void *ud, int r, long status, const char *msg)
{
	(void) ud;
	(void) r;
	(void) status;
	(void) msg;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	int events = argc > 2 ? atoi(argv[2]) : 200;
	char gen[PATH_MAX], objs[PATH_MAX + 32], kcfg[PATH_MAX + 32], kout[PATH_MAX + 32];
	double sync_ms[32], sync_cpu[32], heap_mb[32], snap_ms[32], snap_cpu[32], snap_mb[32];
	double kubectl_ms[32];
	long rss_first = -1;
	struct apisrv s;
	struct lat lat = { 0 };
	int n_kubectl = 0, r = 1;

	if (runs < 1 || runs > 32 || events < 1)
		return 2;
	if (apisrv_init(&s, NULL) < 0)
		return 1;
	(void) snprintf(gen, sizeof(gen), "%s/bench/gen-snapshot.py", BH_SOURCE_DIR);
	(void) snprintf(objs, sizeof(objs), "%s/objects.json", s.data);
	{
		char *gargv[] = { (char *) "/usr/bin/python3",
				  gen,
				  (char *) "--pods",
				  (char *) "10000",
				  (char *) "--policies",
				  (char *) "1000",
				  (char *) "--namespaces",
				  (char *) "50",
				  (char *) "--nodes",
				  (char *) "20",
				  (char *) "--seed",
				  (char *) "1",
				  NULL };

		if (spawn_wait(gargv, objs) < 0) {
			fprintf(stderr, "bench: gen-snapshot.py failed\n");
			goto out;
		}
	}
	if (apisrv_start(&s) < 0)
		goto out;

	for (int i = 0; i < runs; i++) {
		struct kube_config *cfg = NULL;
		struct kube_client *cl = NULL;
		struct kube_cache *cache = NULL;
		struct cluster *snap = NULL;
		struct bh_err err = { 0 };
		const char *paths[] = { objs };
		struct mallinfo2 m0, m1;
		long rss0 = rss_kb();
		double t0, t1, c0;

		malloc_trim(0);
		m0 = mallinfo2();
		t0 = bench_now_ms();
		c0 = bench_cpu_ms();
		if (apisrv_config(&s, &cfg) < 0 || kube_client_new(cfg, &cl, &err) < 0 ||
		    kube_cache_new(cl, &(struct kube_cache_opts){ .page_limit = 500 }, &cache) <
			    0 ||
		    kube_cache_start(cache) < 0 ||
		    kube_cache_wait_synced(cache, cl, 60000, &err) < 0) {
			fprintf(stderr, "bench: sync failed: %s\n", err.msg);
			goto out;
		}
		t1 = bench_now_ms();
		sync_cpu[i] = bench_cpu_ms() - c0;
		m1 = mallinfo2();
		sync_ms[i] = t1 - t0;
		heap_mb[i] = (double) (m1.uordblks - m0.uordblks) / (1 << 20);
		if (i == 0)
			rss_first = rss_kb() - rss0;
		if (kube_cache_cluster(cache)->n_pods != 10000) {
			fprintf(stderr, "bench: %zu pods synced\n",
				kube_cache_cluster(cache)->n_pods);
			goto out;
		}

		if (i == 0) {
			/* Event latency on this warm cache. */
			lat.max = (size_t) events;
			lat.v = calloc(lat.max, sizeof(*lat.v));
			if (!lat.v || kube_cache_subscribe(cache, lat_cb, &lat) < 0)
				goto out;
			for (int e = 0; e < events; e++) {
				const struct pod *p =
					&kube_cache_cluster(cache)->pods[(e * 37) % 10000];
				char body[512], ns[128], name[128];
				struct kube_request_opts ro;
				double deadline = bench_now_ms() + 5000;

				(void) snprintf(ns, sizeof(ns), "%s", p->ns);
				(void) snprintf(name, sizeof(name), "%s", p->name);
				(void) snprintf(body, sizeof(body),
						"{\"op\":\"bench_touch\",\"namespace\":\"%s\","
						"\"name\":\"%s\"}",
						ns, name);
				ro = (struct kube_request_opts){ .method = "POST",
								 .path = "/_control",
								 .body = body,
								 .body_len = strlen(body),
								 .content_type = "application/json",
								 .timeout_s = 10,
								 .done_cb = ignore_done_cb };
				lat.want = name;
				lat.got = false;
				if (kube_request_start(cl, &ro, NULL) < 0)
					goto out;
				while (!lat.got && bench_now_ms() < deadline)
					(void) kube_client_run(cl, 5);
				lat.want = NULL;
			}
		}
		kube_cache_free(cache);
		kube_client_free(cl);
		kube_config_free(cfg);

		/* Baseline 1: the snapshot reader on the same objects. */
		malloc_trim(0);
		m0 = mallinfo2();
		t0 = bench_now_ms();
		c0 = bench_cpu_ms();
		if (snapshot_load_files(paths, 1, &snap, NULL, &err) < 0) {
			fprintf(stderr, "bench: snapshot: %s\n", err.msg);
			goto out;
		}
		snap_ms[i] = bench_now_ms() - t0;
		snap_cpu[i] = bench_cpu_ms() - c0;
		m1 = mallinfo2();
		snap_mb[i] = (double) (m1.uordblks - m0.uordblks) / (1 << 20);
		cluster_free(snap);

		/* Baseline 2: kubectl listing the same objects in pages of 500. */
		if (access("/usr/bin/kubectl", X_OK) == 0) {
			FILE *f;
			char *kargv[] = { (char *) "/usr/bin/kubectl",
					  (char *) "--kubeconfig",
					  kcfg,
					  (char *) "get",
					  (char *) "namespaces,pods,networkpolicies,nodes",
					  (char *) "-A",
					  (char *) "-o",
					  (char *) "json",
					  (char *) "--chunk-size=500",
					  NULL };

			(void) snprintf(kcfg, sizeof(kcfg), "%s/kubeconfig", s.dir);
			(void) snprintf(kout, sizeof(kout), "%s/kubectl.json", s.dir);
			f = fopen(kcfg, "w");
			if (!f)
				goto out;
			fprintf(f,
				"apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n"
				"- name: b\n  cluster: {server: '%s', certificate-authority: '%s'}\n"
				"users:\n- name: b\n  user: {tokenFile: '%s'}\ncontexts:\n"
				"- name: b\n  context: {cluster: b, user: b}\n",
				s.url, s.ca, s.client_token);
			fclose(f);
			t0 = bench_now_ms();
			if (spawn_wait(kargv, kout) == 0)
				kubectl_ms[n_kubectl++] = bench_now_ms() - t0;
		}
	}

	printf("bench.kube_sync: 10,000 pods, 1,000 policies, 50 namespaces, 20 nodes; "
	       "%d runs, medians\n",
	       runs);
	printf("  cache initial sync (TLS, pages of 500): %8.1f ms wall, %7.1f ms CPU   heap held "
	       "%6.1f MB   (first run RSS +%.1f MB)\n",
	       bench_median(sync_ms, (size_t) runs), bench_median(sync_cpu, (size_t) runs),
	       bench_median(heap_mb, (size_t) runs), (double) rss_first / 1024);
	printf("  baseline snapshot reader, same objects:  %8.1f ms wall, %7.1f ms CPU   heap held "
	       "%6.1f MB\n",
	       bench_median(snap_ms, (size_t) runs), bench_median(snap_cpu, (size_t) runs),
	       bench_median(snap_mb, (size_t) runs));
	if (n_kubectl)
		printf("  baseline kubectl get -A -o json --chunk-size=500: %8.1f ms\n",
		       bench_median(kubectl_ms, (size_t) n_kubectl));
	else
		printf("  baseline kubectl: not installed, not measured\n");
	if (lat.n) {
		double p99;

		qsort(lat.v, lat.n, sizeof(*lat.v), bench_double_cmp);
		p99 = lat.v[(lat.n * 99) / 100 >= lat.n ? lat.n - 1 : (lat.n * 99) / 100];
		printf("  event latency, server write -> subscriber (%zu events): median %.3f ms, "
		       "p99 %.3f ms, max %.3f ms\n",
		       lat.n, bench_median(lat.v, lat.n), p99, lat.v[lat.n - 1]);
	}
	r = lat.n == (size_t) events ? 0 : 1;
out:
	free(lat.v);
	apisrv_done(&s);
	return r;
}
