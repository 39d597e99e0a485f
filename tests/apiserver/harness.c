#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "harness.h"
#include "snapshot.h"

extern char **environ;

#ifndef BH_SOURCE_DIR
#error "BH_SOURCE_DIR must point at the source tree"
#endif

static int run_wait(char *const argv[])
{
	pid_t pid;
	int st, r;

	r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (r != 0)
		return -r;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int write_file(const char *path, const char *data)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(data, f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) < 0 ? -errno : 0;
}

static void msleep(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

	(void) nanosleep(&ts, NULL);
}

int apisrv_init(struct apisrv *s, const char *objects_json)
{
	char script[PATH_MAX], path[PATH_MAX + 32];
	char *argv[] = { (char *) "/bin/bash", script, s->certs, NULL };
	char tok[256];
	FILE *f;
	int r;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	(void) snprintf(s->dir, sizeof(s->dir), "/tmp/bh-apisrv.XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	(void) snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
	(void) snprintf(s->certs, sizeof(s->certs), "%s/certs", s->dir);
	(void) snprintf(s->ca, sizeof(s->ca), "%s/ca.crt", s->certs);
	(void) snprintf(s->other_ca, sizeof(s->other_ca), "%s/other-ca.crt", s->certs);
	(void) snprintf(s->server_token, sizeof(s->server_token), "%s/token", s->certs);
	(void) snprintf(s->client_token, sizeof(s->client_token), "%s/client-token", s->dir);
	if (mkdir(s->data, 0700) < 0)
		return -errno;
	(void) snprintf(script, sizeof(script), "%s/tests/apiserver/mkcerts.sh", BH_SOURCE_DIR);
	r = run_wait(argv);
	if (r < 0) {
		fprintf(stderr, "apisrv: mkcerts.sh failed\n");
		return r;
	}
	f = fopen(s->server_token, "r");
	if (!f || !fgets(tok, sizeof(tok), f)) {
		if (f)
			fclose(f);
		return -EIO;
	}
	fclose(f);
	r = write_file(s->client_token, tok);
	if (r < 0)
		return r;
	if (objects_json) {
		(void) snprintf(path, sizeof(path), "%s/objects.json", s->data);
		r = write_file(path, objects_json);
		if (r < 0)
			return r;
	}
	return 0;
}

void apisrv_arg(struct apisrv *s, const char *arg)
{
	if (s->n_extra < 8)
		(void) snprintf(s->extra[s->n_extra++], sizeof(s->extra[0]), "%s", arg);
}

int apisrv_start(struct apisrv *s)
{
	char script[PATH_MAX], portfile[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32];
	char port[32];
	char *argv[32];
	size_t n = 0;
	struct kube_config *cfg = NULL;
	int r;

	(void) snprintf(script, sizeof(script), "%s/tests/apiserver/apiserver.py", BH_SOURCE_DIR);
	(void) snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
	(void) snprintf(cert, sizeof(cert), "%s/server.crt", s->certs);
	(void) snprintf(key, sizeof(key), "%s/server.key", s->certs);
	(void) snprintf(port, sizeof(port), "--port=%d", s->port);
	(void) unlink(portfile);
	argv[n++] = (char *) "/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = (char *) "--dir";
	argv[n++] = s->data;
	argv[n++] = (char *) "--cert";
	argv[n++] = cert;
	argv[n++] = (char *) "--key";
	argv[n++] = key;
	argv[n++] = (char *) "--client-ca";
	argv[n++] = s->ca;
	argv[n++] = (char *) "--token-file";
	argv[n++] = s->server_token;
	argv[n++] = (char *) "--port-file";
	argv[n++] = portfile;
	argv[n++] = port;
	for (size_t i = 0; i < s->n_extra; i++)
		argv[n++] = s->extra[i];
	argv[n] = NULL;
	r = posix_spawn(&s->pid, argv[0], NULL, NULL, argv, environ);
	if (r != 0) {
		s->pid = -1;
		return -r;
	}
	for (int i = 0; i < 600; i++) {
		FILE *f = fopen(portfile, "r");

		if (f) {
			if (fscanf(f, "%d", &s->port) != 1)
				s->port = 0;
			fclose(f);
			if (s->port > 0)
				break;
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			fprintf(stderr, "apisrv: server exited at start\n");
			return -EIO;
		}
		msleep(50);
	}
	if (s->port <= 0)
		return -ETIMEDOUT;
	(void) snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
	s->ctl = kube_client_free(s->ctl);
	r = kube_config_new(s->url, s->ca, NULL, s->server_token, &cfg);
	if (r < 0)
		return r;
	r = kube_client_new(cfg, &s->ctl, NULL);
	kube_config_free(cfg);
	return r;
}

void apisrv_kill(struct apisrv *s)
{
	if (s->pid <= 0)
		return;
	(void) kill(s->pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			return;
		}
		msleep(25);
	}
	(void) kill(s->pid, SIGKILL);
	(void) waitpid(s->pid, NULL, 0);
	s->pid = -1;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	(void) remove(path);
	return 0;
}

void apisrv_done(struct apisrv *s)
{
	apisrv_kill(s);
	s->ctl = kube_client_free(s->ctl);
	if (s->dir[0] && !getenv("BH_KEEP_APISRV"))
		(void) nftw(s->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int apisrv_config(const struct apisrv *s, struct kube_config **ret)
{
	return kube_config_new(s->url, s->ca, NULL, s->client_token, ret);
}

json_t *apisrv_control(struct apisrv *s, const char *fmt, ...)
{
	json_error_t jerr;
	json_t *req, *ans = NULL;
	struct buf body;
	long status = 0;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	req = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (!req) {
		fprintf(stderr, "apisrv_control: bad format: %s\n", jerr.text);
		return NULL;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return NULL;
	if (kube_client_call(s->ctl, "POST", "/_control", text, "application/json", 64u << 20, 30,
			     &body, &status, NULL) == 0) {
		if (status == 200)
			ans = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
		else
			fprintf(stderr, "apisrv_control: HTTP %ld: %s\n", status,
				body.data ? body.data : "");
		buf_done(&body);
	}
	free(text);
	return ans;
}

int apisrv_rotate_token(struct apisrv *s, const char *token, bool server, bool client)
{
	int r = 0;

	if (server)
		r = write_file(s->server_token, token);
	if (r == 0 && client)
		r = write_file(s->client_token, token);
	return r;
}

json_t *apisrv_pod(const char *ns, const char *name, const char *app, const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]},"
			 " s:{s:s, s:s, s:[{s:s}]}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 ns, "labels", "app", app, "spec", "nodeName", "node-1", "containers",
			 "name", "c", "image", "nginx", "status", "phase", "Running", "podIP", ip,
			 "podIPs", "ip", ip);
}

/* --- comparing --- */

struct cmp_ctx {
	json_t *want; /* "ns/name" -> rv */
	const char *resource;
	char *why;
	size_t len;
	size_t seen;
};

static int cmp_each_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct cmp_ctx *x = ud;
	char key[600];
	const char *want;

	(void) snprintf(key, sizeof(key), "%s/%s", ns, name);
	want = json_string_value(json_object_get(x->want, key));
	if (!want) {
		(void) snprintf(x->why, x->len, "%s '%s' in the cache, not on the server",
				x->resource, key);
		return 1;
	}
	if (strcmp(want, rv) != 0) {
		(void) snprintf(x->why, x->len, "%s '%s': cache at resourceVersion %s, server %s",
				x->resource, key, rv, want);
		return 1;
	}
	x->seen++;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define DIFF(...)                                       \
	do {                                            \
		(void) snprintf(why, len, __VA_ARGS__); \
		return false;                           \
	} while (0)

bool cluster_equal(const struct cluster *a, const struct cluster *b, char *why, size_t len)
{
	if (a->n_ns != b->n_ns)
		DIFF("%zu namespaces vs %zu", a->n_ns, b->n_ns);
	if (a->n_pods != b->n_pods)
		DIFF("%zu pods vs %zu", a->n_pods, b->n_pods);
	if (a->n_policies != b->n_policies)
		DIFF("%zu policies vs %zu", a->n_policies, b->n_policies);
	if (a->n_nodes != b->n_nodes)
		DIFF("%zu nodes vs %zu", a->n_nodes, b->n_nodes);
	for (size_t i = 0; i < a->n_ns; i++)
		if (!str_eq(a->ns[i].name, b->ns[i].name) ||
		    !labels_equal(&a->ns[i].labels, &b->ns[i].labels))
			DIFF("namespace '%s' differs", a->ns[i].name);
	for (size_t i = 0; i < a->n_pods; i++) {
		const struct pod *p = &a->pods[i], *q = &b->pods[i];

		if (!str_eq(p->ns, q->ns) || !str_eq(p->name, q->name))
			DIFF("pod #%zu: '%s/%s' vs '%s/%s'", i, p->ns, p->name, q->ns, q->name);
		if (!str_eq(p->uid, q->uid) || !labels_equal(&p->labels, &q->labels) ||
		    !str_eq(p->node, q->node) || p->host_network != q->host_network ||
		    !str_eq(p->phase, q->phase) || p->n_ips != q->n_ips ||
		    !str_eq(p->owner.kind, q->owner.kind) ||
		    !str_eq(p->owner.name, q->owner.name) || p->n_ports != q->n_ports ||
		    p->created != q->created || p->deleted != q->deleted)
			DIFF("pod '%s/%s' differs", p->ns, p->name);
		for (size_t k = 0; k < p->n_ips; k++)
			if (!addr_eq(&p->ips[k], &q->ips[k]))
				DIFF("pod '%s/%s': addresses differ", p->ns, p->name);
		for (size_t k = 0; k < p->n_ports; k++)
			if (p->ports[k].port != q->ports[k].port ||
			    p->ports[k].protocol != q->ports[k].protocol ||
			    !str_eq(p->ports[k].name, q->ports[k].name))
				DIFF("pod '%s/%s': ports differ", p->ns, p->name);
	}
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct netpol *p = &a->policies[i], *q = &b->policies[i];

		if (!str_eq(p->ns, q->ns) || !str_eq(p->name, q->name) || !str_eq(p->uid, q->uid))
			DIFF("policy #%zu: '%s/%s' vs '%s/%s'", i, p->ns, p->name, q->ns, q->name);
		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			if (p->types[d] != q->types[d] || p->n_rules[d] != q->n_rules[d])
				DIFF("policy '%s/%s' differs", p->ns, p->name);
	}
	for (size_t i = 0; i < a->n_nodes; i++) {
		if (!str_eq(a->nodes[i].name, b->nodes[i].name) ||
		    a->nodes[i].n_addrs != b->nodes[i].n_addrs)
			DIFF("node '%s' differs", a->nodes[i].name);
		for (size_t k = 0; k < a->nodes[i].n_addrs; k++)
			if (!addr_eq(&a->nodes[i].addrs[k], &b->nodes[i].addrs[k]))
				DIFF("node '%s': addresses differ", a->nodes[i].name);
	}
	return true;
}

static const char *const compared[][2] = {
	{ "/v1/namespaces", "namespaces" },
	{ "/v1/pods", "pods" },
	{ "networking.k8s.io/v1/networkpolicies", "networkpolicies" },
	{ "/v1/nodes", "nodes" },
};

static const char *const list_paths[] = {
	"/api/v1/namespaces",
	"/api/v1/pods",
	"/apis/networking.k8s.io/v1/networkpolicies",
	"/api/v1/nodes",
};

bool apisrv_cache_equal(struct apisrv *s, struct kube_cache *cache, char *why, size_t len)
{
	struct cluster *want = NULL;
	struct bh_err err = { 0 };
	json_t *dump;
	bool ok = false;

	dump = apisrv_control(s, "{s:s}", "op", "dump");
	if (!dump) {
		(void) snprintf(why, len, "no dump from the server");
		return false;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(compared); i++) {
		struct kube_watch *w = kube_cache_watch(cache, compared[i][1]);
		struct cmp_ctx x = {
			.want = json_object_get(json_object_get(dump, "objects"), compared[i][0]),
			.resource = compared[i][1],
			.why = why,
			.len = len,
		};

		if (!w)
			continue;
		if (!kube_watch_synced(w)) {
			(void) snprintf(why, len, "watch '%s' not synced", compared[i][1]);
			goto out;
		}
		if (kube_watch_foreach(w, cmp_each_cb, &x))
			goto out;
		if (x.seen != json_object_size(x.want)) {
			(void) snprintf(why, len, "%s: %zu in the cache, %zu on the server",
					compared[i][1], x.seen, json_object_size(x.want));
			goto out;
		}
	}
	/* The same objects through the snapshot reader. */
	want = cluster_new();
	if (!want)
		goto out;
	for (size_t i = 0; i < BH_ARRAY_SIZE(list_paths); i++) {
		struct buf body;
		long status = 0;

		if (!kube_cache_watch(cache, compared[i][1]))
			continue;
		if (kube_client_call(s->ctl, "GET", list_paths[i], NULL, NULL, 512u << 20, 60,
				     &body, &status, &err) < 0) {
			(void) snprintf(why, len, "list %s: %s", list_paths[i], err.msg);
			goto out;
		}
		if (status != 200 ||
		    snapshot_merge_buf(want, body.data, body.len, list_paths[i], NULL, &err) < 0) {
			(void) snprintf(why, len, "list %s: HTTP %ld %s", list_paths[i], status,
					err.msg);
			buf_done(&body);
			goto out;
		}
		buf_done(&body);
	}
	ok = cluster_equal(kube_cache_cluster(cache), want, why, len);
out:
	cluster_free(want);
	json_decref(dump);
	return ok;
}

bool apisrv_wait_equal(struct apisrv *s, struct kube_client *client, struct kube_cache *cache,
		       int timeout_ms, char *why, size_t len)
{
	uint64_t end = clock_mono_ms() + (uint64_t) timeout_ms;
	uint64_t next_check = 0;

	for (;;) {
		uint64_t now = clock_mono_ms();

		if (now >= next_check) {
			if (kube_cache_synced(cache) && apisrv_cache_equal(s, cache, why, len))
				return true;
			next_check = now + 100;
		}
		if (now >= end)
			return false;
		(void) kube_client_run(client, 50);
	}
}
