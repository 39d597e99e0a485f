/*
 * The node's NodeFlows object in cluster mode (docs/cluster.md,
 * "NodeFlows"): cluster-scoped, named after the node, written by this
 * agent only.
 *
 * Content.  spec.flows: the flow table aggregated to workload edges, as
 * flows.json v1 records (flows_record_append(), the learner's own
 * writer): one record per (src end, dst end, protocol, port), where an
 * end resolved to a pod (learn_resolve_peer(), as the learner's export
 * resolves it) is its workload, carrying the peer and address of the pod
 * last seen of it, counts summed, times widened, seen_by ORed; any other
 * end is kept by address.  Sorted by (src, dst, protocol, port).
 * status.alerts: GET /alerts's items (agent_alerts_json()), open ones
 * first.  status.applied: what cluster_follow.c applied per namespace.
 * The whole is kept under CLUSTER_OBJECT_MAX: the oldest last_seen flow
 * records go first (status.truncated counts them), then the last alerts
 * (status.alertsTruncated).
 *
 * Writes (include/kube_write.h, one at a time): the object is read once
 * (its resourceVersion), then each write is a JSON merge patch with that
 * resourceVersion as precondition; -ESTALE (someone wrote it meanwhile:
 * a 409) reads it again and writes again, -ENOENT creates it, a create's
 * -EEXIST reads it.  Any other failure is tried again after
 * NF_RETRY_MS: no content is given up.  The content is built every
 * clusterInterval and written only when it differs from what was last
 * written (spec.generated left out of the comparison); a change of
 * status.applied is written at once, as a patch of status.applied alone.
 *
 * The build runs in a forked child process (as GET /report's,
 * agent_report_job.c: a copy-on-write copy of the agent, consistent by
 * construction), every clusterInterval: it writes the SHA-256 of the
 * content (canonical JSON without spec.generated and status.applied) and
 * the object into a memfd; the loop only forks, then reads the hash and,
 * when it differs from the last written one, the object (41 ms of loop at
 * 1,000,000 flows, 2.8 s in the child: bench/bench-nodeflows.sh).  A
 * build that ends while a write is under way is made again after it,
 * never written beside it with the same resourceVersion.  Loop thread
 * only (the child excepted).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "agent_int.h"
#include "buf.h"
#include "clock.h"
#include "cluster_api.h"
#include "cluster_stage.h"
#include "ctmon.h"
#include "flow_table.h"
#include "flows_json.h"
#include "hmap.h"
#include "json_out.h"
#include "kube_write.h"
#include "learn.h"
#include "learn_export.h"
#include "log.h"
#include "proto.h"
#include "rfc3339.h"

/* A failed write is tried again this long after. */
#define NF_RETRY_MS 1000
/* Reads and writes again after this many -ESTALE in a row, then waits
 * NF_RETRY_MS (a writer fighting ours: none should). */
#define NF_STALE_MAX 20

enum nf_op { NF_IDLE, NF_READ, NF_CREATE, NF_PATCH };

/* One workload edge. */
struct nf_edge {
	char *src, *dst; /* the ends: "NS/KIND/NAME" or an address */
	struct flow_record f; /* its peers owned */
	size_t off, len; /* its record in the serialised flows */
	bool keep;
};

struct nf_build {
	struct nf_edge *e;
	size_t n, cap;
	struct hmap by_key;
};

static json_t *json_decref_null(json_t *j)
{
	json_decref(j);
	return NULL;
}

static const struct kube_ref nf_ref = {
	.group = CLUSTER_API_GROUP,
	.version = CLUSTER_API_VERSION,
	.resource = CLUSTER_NODEFLOWS_RESOURCE,
	.ns = NULL,
};

/* ---- the content ---- */

/* An end's name: the workload of a pod, else the address. */
static int end_name(const struct addr *ad, const struct flow_peer *p, char **ret)
{
	char s[ADDR_STR_MAX];

	if (p->kind == FLOW_PEER_POD && p->ns && p->name)
		return asprintf(ret, "%s/%s/%s", p->ns,
				p->workload_kind && p->workload_name ? p->workload_kind : "Pod",
				p->workload_kind && p->workload_name ? p->workload_name : p->name) <
				       0 ?
			       -ENOMEM :
			       1;
	return asprintf(ret, "%s", addr_format(ad, s, sizeof(s))) < 0 ? -ENOMEM : 0;
}

static void edge_done(struct nf_edge *e)
{
	free(e->src);
	free(e->dst);
	flow_record_done(&e->f);
}

static void build_done(struct nf_build *b)
{
	for (size_t i = 0; i < b->n; i++)
		edge_done(&b->e[i]);
	free(b->e);
	hmap_free(&b->by_key);
}

/* Peers are owned copies (learn_resolve_peer()'s); @f's are moved. */
static void take_peers(struct nf_edge *e, struct flow_record *f)
{
	flow_peer_done(&e->f.src_peer);
	flow_peer_done(&e->f.dst_peer);
	e->f.key.src = f->key.src;
	e->f.key.dst = f->key.dst;
	e->f.src_peer = f->src_peer;
	e->f.dst_peer = f->dst_peer;
	f->src_peer = (struct flow_peer){ 0 };
	f->dst_peer = (struct flow_peer){ 0 };
}

/* One flow of the table into its edge. */
static int edge_add(struct nf_build *b, const struct identity *id, struct flow_record *f)
{
	struct nf_edge *e;
	char *src = NULL, *dst = NULL, *key = NULL;
	void *v;
	int n, r = -ENOMEM;

	f->src_peer = (struct flow_peer){ 0 };
	f->dst_peer = (struct flow_peer){ 0 };
	if (!proto_name(f->key.proto))
		return 0;
	if (id && (learn_resolve_peer(id, &f->key.src, f, &f->src_peer) < 0 ||
		   learn_resolve_peer(id, &f->key.dst, f, &f->dst_peer) < 0))
		goto out;
	if (end_name(&f->key.src, &f->src_peer, &src) < 0 ||
	    end_name(&f->key.dst, &f->dst_peer, &dst) < 0)
		goto out;
	n = asprintf(&key, "%s\n%s\n%u\n%u", src, dst, (unsigned) f->key.proto,
		     (unsigned) f->key.port);
	if (n < 0)
		goto out;
	v = hmap_get(&b->by_key, key, (size_t) n);
	if (v) {
		e = &b->e[(size_t) (uintptr_t) v - 1];
		e->f.packets += f->packets;
		e->f.bytes += f->bytes;
		e->f.connections += f->connections;
		e->f.seen_by |= f->seen_by;
		if (f->first_seen < e->f.first_seen)
			e->f.first_seen = f->first_seen;
		if (f->last_seen >= e->f.last_seen) {
			e->f.last_seen = f->last_seen;
			take_peers(e, f);
		}
		r = 0;
		goto out;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		struct nf_edge *ne = realloc(b->e, cap * sizeof(*ne));

		if (!ne)
			goto out;
		b->e = ne;
		b->cap = cap;
	}
	/* (the map's keys point into the edges' own strings: the key string
	 * is freed, the edge keeps src and dst; a map of index + 1) */
	e = &b->e[b->n];
	*e = (struct nf_edge){ .src = src, .dst = dst, .f = *f };
	f->src_peer = (struct flow_peer){ 0 };
	f->dst_peer = (struct flow_peer){ 0 };
	src = dst = NULL;
	b->n++;
	/* The key is kept alive by the map's owner: stored after the edges'
	 * strings would need one more allocation; keep @key itself. */
	if (hmap_put(&b->by_key, key, (size_t) n, (void *) (uintptr_t) b->n) < 0)
		goto out;
	key = NULL; /* owned by the map now: freed in keys_free() */
	r = 0;
out:
	free(src);
	free(dst);
	free(key);
	flow_record_done(f);
	return r;
}

/* The map's keys (strings edge_add() gave it). */
static void keys_free(struct nf_build *b)
{
	size_t it = 0;
	struct hmap_slot *s;

	while ((s = hmap_next(&b->by_key, &it)))
		free((void *) s->key);
}

static int edge_cmp(const void *x, const void *y)
{
	const struct nf_edge *a = x, *b = y;
	int c = strcmp(a->src, b->src);

	if (c == 0)
		c = strcmp(a->dst, b->dst);
	if (c == 0)
		c = (int) a->f.key.proto - (int) b->f.key.proto;
	if (c == 0)
		c = (int) a->f.key.port - (int) b->f.key.port;
	return c;
}

static int last_seen_desc(const void *x, const void *y)
{
	const struct nf_edge *a = *(const struct nf_edge *const *) x;
	const struct nf_edge *b = *(const struct nf_edge *const *) y;

	return a->f.last_seen < b->f.last_seen ? 1 : a->f.last_seen > b->f.last_seen ? -1 : 0;
}

/* status.applied, from a->cl_applied. */
static json_t *applied_json(const struct agent *a)
{
	json_t *arr = json_array();
	char t1[RFC3339_STR_MAX], t2[RFC3339_STR_MAX], t3[RFC3339_STR_MAX];

	for (size_t i = 0; arr && i < a->n_cl_applied; i++) {
		const struct cluster_applied *p = &a->cl_applied[i];

		if (json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "namespace", p->ns,
					   "stage", state_db_mode_name(p->stage), "modeSwitchedAt",
					   p->switched_at ? cluster_time_format_ms(p->switched_at,
										   t1, sizeof(t1)) :
							    "",
					   "proposalsComputedAt",
					   p->computed_at ? cluster_time_format_ms(p->computed_at,
										   t2, sizeof(t2)) :
							    "",
					   "appliedAt",
					   p->applied_at ? cluster_time_format_ms(p->applied_at, t3,
										  sizeof(t3)) :
							   "",
					   "error", p->err)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* GET /alerts's items, open ones first. */
static json_t *alerts_items(struct agent *a)
{
	struct buf b;
	struct json_out w;
	json_t *all, *out, *it;
	size_t i;

	buf_init(&b, SIZE_MAX);
	json_out_init(&w, &b);
	agent_alerts_json(a, &w);
	all = json_out_error(&w) == 0 ? json_loadb(b.data, b.len, 0, NULL) : NULL;
	buf_done(&b);
	out = json_array();
	if (!all || !out) {
		json_decref(all);
		json_decref(out);
		return NULL;
	}
	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(all, i, it) {
			const char *st = json_string_value(json_object_get(it, "state"));
			bool open = st && strcmp(st, "open") == 0;

			if (open == (pass == 0))
				(void) json_array_append(out, it);
		}
	json_decref(all);
	return out;
}

static size_t dumped_len(const json_t *j)
{
	return json_dumpb(j, NULL, 0, JSON_COMPACT);
}

/*
 * The whole object (apiVersion, kind, metadata, spec, status) at @now,
 * kept under CLUSTER_OBJECT_MAX.  NULL on -ENOMEM.
 */
static json_t *nf_build(struct agent *a, int64_t now)
{
	struct flow_table *t = a->learn ? learn_table(a->learn) : NULL;
	const struct identity *id = t ? agent_learn_identity(a) : NULL;
	size_t n = t ? flow_table_count(t) : 0, base, used, truncated = 0, atrunc = 0;
	struct nf_build b = { 0 };
	struct nf_edge **order = NULL;
	json_t *obj = NULL, *flows = NULL, *alerts = NULL, *applied = NULL;
	char gen[RFC3339_STR_MAX];
	struct buf fb, out;
	bool ok = false;

	buf_init(&fb, SIZE_MAX);
	buf_init(&out, SIZE_MAX);
	hmap_init(&b.by_key, 0);
	for (size_t i = 0; i < n; i++) {
		struct flow_record f;

		flow_table_record_at(t, i, &f);
		if (edge_add(&b, id, &f) < 0)
			goto out;
	}
	keys_free(&b);
	hmap_free(&b.by_key);
	hmap_init(&b.by_key, 0);
	if (b.n > 1) /* (no edges yet: b.e is NULL, which qsort may not take) */
		qsort(b.e, b.n, sizeof(*b.e), edge_cmp);
	for (size_t i = 0; i < b.n; i++) {
		b.e[i].off = fb.len;
		if (flows_record_append(&fb, &b.e[i].f) < 0)
			goto out;
		b.e[i].len = fb.len - b.e[i].off;
	}
	alerts = alerts_items(a);
	applied = applied_json(a);
	obj = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s, s:{s:I, s:I, s:I}, s:[]}, "
			"s:{s:I, s:[], s:I, s:o}}",
			"apiVersion", CLUSTER_API_GROUP_VERSION, "kind", CLUSTER_NODEFLOWS_KIND,
			"metadata", "name", a->cfg.node, "labels", CLUSTER_MANAGED_BY_LABEL,
			CLUSTER_MANAGED_BY, "spec", "node", a->cfg.node, "generated",
			rfc3339_format(now, gen, sizeof(gen)), "stats", "packets",
			(json_int_t) (a->learn ? learn_stats(a->learn)->packets : 0), "evicted",
			(json_int_t) (t ? flow_table_stats(t)->evicted : 0), "overruns",
			(json_int_t) (a->ct ? ctmon_stats(a->ct)->overruns : 0), "flows", "status",
			"truncated", (json_int_t) 0, "alerts", "alertsTruncated", (json_int_t) 0,
			"applied", applied);
	applied = NULL;
	if (!obj || !alerts)
		goto out;
	/* The room: the object without flows and alerts, then the alerts
	 * (the last ones out first when even they do not fit), then the
	 * flows, the newest first, each with its comma. */
	base = dumped_len(obj);
	used = base;
	for (size_t i = 0; i < json_array_size(alerts); i++) {
		size_t l = dumped_len(json_array_get(alerts, i)) + 1;

		if (used + l > CLUSTER_OBJECT_MAX) {
			atrunc = json_array_size(alerts) - i;
			while (json_array_size(alerts) > i)
				(void) json_array_remove(alerts, json_array_size(alerts) - 1);
			break;
		}
		used += l;
	}
	order = malloc((b.n ? b.n : 1) * sizeof(*order));
	if (!order)
		goto out;
	for (size_t i = 0; i < b.n; i++)
		order[i] = &b.e[i];
	qsort(order, b.n, sizeof(*order), last_seen_desc);
	for (size_t i = 0; i < b.n; i++) {
		order[i]->keep = used + order[i]->len + 1 <= CLUSTER_OBJECT_MAX;
		if (order[i]->keep)
			used += order[i]->len + 1;
		else
			truncated++;
	}
	if (buf_append(&out, "[", 1) < 0)
		goto out;
	for (size_t i = 0, k = 0; i < b.n; i++) {
		if (!b.e[i].keep)
			continue;
		if ((k++ && buf_append(&out, ",", 1) < 0) ||
		    buf_append(&out, fb.data + b.e[i].off, b.e[i].len) < 0)
			goto out;
	}
	if (buf_append(&out, "]", 1) < 0)
		goto out;
	flows = json_loadb(out.data, out.len, 0, NULL);
	if (!flows || json_object_set_new(json_object_get(obj, "spec"), "flows", flows) < 0 ||
	    json_object_set(json_object_get(obj, "status"), "alerts", alerts) < 0 ||
	    json_object_set_new(json_object_get(obj, "status"), "truncated",
				json_integer((json_int_t) truncated)) < 0 ||
	    json_object_set_new(json_object_get(obj, "status"), "alertsTruncated",
				json_integer((json_int_t) atrunc)) < 0)
		goto out;
	ok = true;
	if (truncated || atrunc)
		log_debug("agent: NodeFlows: %zu flow records and %zu alerts left out (%u bytes "
			  "at most)",
			  truncated, atrunc, (unsigned) CLUSTER_OBJECT_MAX);
out:
	keys_free(&b);
	build_done(&b);
	free(order);
	buf_done(&fb);
	buf_done(&out);
	json_decref(alerts);
	json_decref(applied);
	if (!ok) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* What a write is compared by: @obj without spec.generated (and without
 * status.applied, which is compared on its own), canonical. */
static char *content_text(const json_t *obj)
{
	json_t *c = json_deep_copy(obj);
	char *s;

	if (!c)
		return NULL;
	(void) json_object_del(json_object_get(c, "spec"), "generated");
	(void) json_object_del(json_object_get(c, "status"), "applied");
	s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(c);
	return s;
}

/* ---- the writes ---- */

static void nf_next(struct agent *a);
static int child_start(struct agent *a);
static void child_reset(struct agent *a);
static void nf_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err);

static int read_fn(void *ud, json_t *obj)
{
	(void) ud;
	(void) obj;
	return 1;
}

static void kick(struct agent *a)
{
	/* (the client's timer: the request starts at the next turn) */
	if (loop_timer_arm_in(&a->kube_timer, 0) < 0)
		log_warning("agent: NodeFlows: cannot arm the API client's timer");
}

static void set_rv(struct agent *a, const json_t *obj)
{
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	free(a->nf_rv);
	a->nf_rv = rv ? strdup(rv) : NULL;
}

/* Starts the pending write (a->nf_patch) from where it stands. */
static void nf_start(struct agent *a, enum nf_op op)
{
	struct bh_err err = { 0 };
	int r;

	a->nf_op = op;
	a->nf_attempts++;
	switch (op) {
	case NF_READ:
		r = kube_write_update(a->kube, &nf_ref, a->cfg.node, false, read_fn, nf_done_cb, a,
				      &a->nf_write, &err);
		break;
	case NF_CREATE:
		r = kube_write_create(a->kube, &nf_ref, a->nf_full, nf_done_cb, a, &a->nf_write,
				      &err);
		break;
	default:
		r = kube_write_patch(a->kube, &nf_ref, a->cfg.node, false,
				     a->nf_patch ? a->nf_patch : a->nf_full, a->nf_rv, nf_done_cb,
				     a, &a->nf_write, &err);
		break;
	}
	if (r < 0) {
		log_warning("agent: NodeFlows: %s", err.msg);
		a->nf_op = NF_IDLE;
		a->nf_write = NULL;
		a->nf_fails++;
		(void) loop_timer_arm_in(&a->nf_timer, NF_RETRY_MS);
		return;
	}
	kick(a);
}

/* The pending write is in: what it wrote becomes what was written. */
static void nf_written(struct agent *a)
{
	if (a->nf_full) {
		free(a->nf_written);
		a->nf_written = a->nf_full_text;
		a->nf_full_text = NULL;
		a->nf_full = json_decref_null(a->nf_full);
	}
	free(a->nf_applied_written);
	a->nf_applied_written = a->nf_pending_applied;
	a->nf_pending_applied = NULL;
	a->nf_patch = json_decref_null(a->nf_patch);
	a->nf_writes++;
	a->nf_stale = 0;
}

static void nf_done_cb(void *ud, int r, json_t *obj, const struct bh_err *err)
{
	struct agent *a = ud;
	enum nf_op op = a->nf_op;

	a->nf_write = NULL;
	a->nf_op = NF_IDLE;
	if (r == 0) {
		set_rv(a, obj);
		if (op == NF_READ) {
			nf_start(a, NF_PATCH);
			return;
		}
		nf_written(a);
		nf_next(a);
		return;
	}
	if (op == NF_READ && r == -ENOENT) {
		/* (a patch of status.applied alone cannot create it: the
		 * whole object is built, applied included) */
		if (!a->nf_full) {
			a->nf_patch = json_decref_null(a->nf_patch);
			a->nf_want_full = true;
			nf_next(a);
			return;
		}
		nf_start(a, NF_CREATE);
		return;
	}
	if ((op == NF_PATCH && (r == -ESTALE || r == -ENOENT)) ||
	    (op == NF_CREATE && r == -EEXIST)) {
		a->nf_conflicts++;
		free(a->nf_rv);
		a->nf_rv = NULL;
		if (++a->nf_stale < NF_STALE_MAX) {
			nf_start(a, NF_READ);
			return;
		}
		a->nf_stale = 0;
	}
	a->nf_fails++;
	log_warning("agent: NodeFlows '%s': %s; trying again", a->cfg.node,
		    err && err->msg[0] ? err->msg : strerror(-r));
	(void) loop_timer_arm_in(&a->nf_timer, NF_RETRY_MS);
}

/* ---- the build, in a child process ---- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* The child: "HASH\n" (the SHA-256 of the content text) and the object
 * into @fd, then gone (as agent_report_job.c's child: its own copy of
 * the agent, no descriptor of the parent's but @fd). */
__attribute__((noreturn)) static void child_main(struct agent *a, int fd, pid_t parent)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 2];
	json_t *obj;
	char *text, *all;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(2);
	if (fd > 3)
		(void) close_range(3, (unsigned) fd - 1, 0);
	(void) close_range((unsigned) fd + 1, ~0U, 0);
	obj = nf_build(a, time(NULL));
	text = obj ? content_text(obj) : NULL;
	all = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (!text || !all || !EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL))
		_exit(1);
	for (unsigned i = 0; i < mdlen; i++)
		(void) snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\n';
	if (write_all(fd, hex, 2 * mdlen + 1) < 0 || write_all(fd, all, strlen(all)) < 0)
		_exit(1);
	_exit(0);
}

static void child_reset(struct agent *a)
{
	if (a->nf_pid > 0) {
		(void) kill(a->nf_pid, SIGKILL);
		(void) waitpid(a->nf_pid, NULL, 0);
	}
	a->nf_pid = -1;
	loop_io_remove(&a->nf_io);
	if (a->nf_pidfd >= 0)
		(void) close(a->nf_pidfd);
	if (a->nf_memfd >= 0)
		(void) close(a->nf_memfd);
	a->nf_pidfd = a->nf_memfd = -1;
}

static void child_done_cb(struct loop_io *io, uint32_t revents);

static int child_start(struct agent *a)
{
	pid_t parent = getpid(), pid;
	int r;

	a->nf_t0 = clock_mono_us();
	a->nf_memfd = memfd_create("bulkhead-nodeflows", MFD_CLOEXEC);
	if (a->nf_memfd < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child_main(a, a->nf_memfd, parent);
	a->nf_pid = pid;
	a->nf_fork_us = clock_mono_us() - a->nf_t0;
	a->nf_pidfd = pidfd_open(pid, 0);
	if (a->nf_pidfd < 0)
		return -1;
	r = loop_io_add(a->loop, &a->nf_io, a->nf_pidfd, EPOLLIN, child_done_cb);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* The child's object, read: written when its content or status.applied
 * differ from what was written last (status.applied as it is now). */
static void child_take(struct agent *a, const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len);
	json_t *obj, *applied;
	char *hash, *applied_text;

	if (!nl)
		return;
	if (a->nf_op != NF_IDLE || a->nf_full || a->nf_patch) {
		/* A write under way (status.applied's): built again after
		 * it, not written with the same resourceVersion beside it. */
		a->nf_want_full = true;
		return;
	}
	applied = applied_json(a);
	applied_text = applied ? json_dumps(applied, JSON_COMPACT) : NULL;
	if (a->nf_written && strlen(a->nf_written) == (size_t) (nl - p) &&
	    memcmp(a->nf_written, p, (size_t) (nl - p)) == 0 && applied_text &&
	    a->nf_applied_written && strcmp(applied_text, a->nf_applied_written) == 0) {
		free(applied_text);
		json_decref(applied);
		return;
	}
	obj = json_loadb(nl + 1, len - (size_t) (nl - p) - 1, 0, NULL);
	hash = strndup(p, (size_t) (nl - p));
	if (!obj || !hash || !applied_text ||
	    json_object_set_new(json_object_get(obj, "status"), "applied", applied) < 0) {
		json_decref(obj);
		free(hash);
		free(applied_text);
		log_err("agent: NodeFlows: %s", strerror(ENOMEM));
		return;
	}
	a->nf_full = obj;
	a->nf_full_text = hash;
	free(a->nf_pending_applied);
	a->nf_pending_applied = applied_text;
	a->nf_want_applied = false;
	nf_start(a, a->nf_rv ? NF_PATCH : NF_READ);
}

static void child_done_cb(struct loop_io *io, uint32_t revents)
{
	struct agent *a = LOOP_CONTAINER_OF(io, struct agent, nf_io);
	uint64_t t0 = clock_mono_us();
	struct stat st;
	int status = 0;
	char *p = NULL;
	pid_t r;

	(void) revents;
	r = waitpid(a->nf_pid, &status, WNOHANG);
	if (r == 0)
		return;
	if (r == a->nf_pid)
		a->nf_pid = -1;
	a->nf_build_us = t0 - a->nf_t0;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    fstat(a->nf_memfd, &st) < 0 || st.st_size <= 0) {
		log_warning("agent: NodeFlows: the process that builds it failed (%s %d)",
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		child_reset(a);
		return;
	}
	p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, a->nf_memfd, 0);
	if (p != MAP_FAILED) {
		child_take(a, p, (size_t) st.st_size);
		(void) munmap(p, (size_t) st.st_size);
	}
	child_reset(a);
	a->nf_loop_us = a->nf_fork_us + (clock_mono_us() - t0);
	nf_next(a);
}

/* Decides the next write: the whole content when its time came and it
 * changed, or status.applied when it changed. */
static void nf_next(struct agent *a)
{
	char *applied_text;
	json_t *applied;

	if (a->nf_op != NF_IDLE || a->stopping)
		return;
	if (a->nf_full || a->nf_patch) {
		/* (a write that failed: again) */
		nf_start(a, a->nf_rv ? NF_PATCH : NF_READ);
		return;
	}
	if (a->nf_want_full) {
		if (a->nf_pid > 0)
			return; /* (its end comes back here) */
		a->nf_want_full = false;
		(void) loop_timer_arm_in(&a->nf_timer, (uint64_t) a->cfg.cluster_interval_s * 1000);
		if (child_start(a) < 0) {
			log_err("agent: NodeFlows: cannot start the process that builds it: %s",
				strerror(errno));
			child_reset(a);
		}
		return;
	}
	if (!a->nf_want_applied)
		return;
	a->nf_want_applied = false;
	applied = applied_json(a);
	applied_text = applied ? json_dumps(applied, JSON_COMPACT) : NULL;
	if (!applied_text) {
		json_decref(applied);
		return;
	}
	if (a->nf_applied_written && strcmp(applied_text, a->nf_applied_written) == 0) {
		free(applied_text);
		json_decref(applied);
		return;
	}
	if (!a->nf_rv || !a->nf_written) {
		/* Never written: the whole object. */
		free(applied_text);
		json_decref(applied);
		a->nf_want_full = true;
		nf_next(a);
		return;
	}
	a->nf_patch = json_pack("{s:{s:o}}", "status", "applied", applied);
	free(a->nf_pending_applied);
	a->nf_pending_applied = applied_text;
	if (!a->nf_patch) {
		log_err("agent: NodeFlows: %s", strerror(ENOMEM));
		return;
	}
	nf_start(a, NF_PATCH);
}

static void nf_timer_cb(struct loop_timer *t)
{
	struct agent *a = LOOP_CONTAINER_OF(t, struct agent, nf_timer);

	/* Always: a build wanted while a write is under way (a patch of
	 * status.applied, or one tried again) is made after it, and only
	 * that build arms this timer again (nf_next()); leaving it unwanted
	 * then stopped every later write of the node's flows and alerts. */
	a->nf_want_full = true;
	nf_next(a);
}

int cluster_nodeflows_start(struct agent *a, struct bh_err *reterr)
{
	(void) reterr;
	if (!a->cfg.cluster || !a->kube)
		return 0;
	loop_timer_init(&a->nf_timer, a->loop, nf_timer_cb);
	a->nf_pid = -1;
	a->nf_pidfd = a->nf_memfd = -1;
	a->nf_on = true;
	/* The first build once the cluster and the flows are read. */
	(void) loop_timer_arm_in(&a->nf_timer, 0);
	return 0;
}

void cluster_nodeflows_applied_changed(struct agent *a)
{
	if (!a->nf_on)
		return;
	a->nf_want_applied = true;
	nf_next(a);
}

void cluster_nodeflows_stop(struct agent *a)
{
	if (!a->nf_on)
		return;
	a->nf_write = kube_write_cancel(a->nf_write);
	loop_timer_disarm(&a->nf_timer);
	child_reset(a);
	a->nf_full = json_decref_null(a->nf_full);
	a->nf_patch = json_decref_null(a->nf_patch);
	free(a->nf_full_text);
	free(a->nf_written);
	free(a->nf_applied_written);
	free(a->nf_pending_applied);
	free(a->nf_rv);
	a->nf_full_text = a->nf_written = a->nf_applied_written = a->nf_pending_applied = NULL;
	a->nf_rv = NULL;
	a->nf_on = false;
}

void cluster_nodeflows_status(struct agent *a, struct json_out *w)
{
	struct kube_write_stats st;

	kube_write_stats_get(&st);
	json_out_obj_begin(w);
	json_out_key(w, "writes");
	json_out_uint(w, a->nf_writes);
	json_out_key(w, "requests");
	json_out_uint(w, a->nf_attempts);
	json_out_key(w, "conflicts");
	json_out_uint(w, a->nf_conflicts);
	json_out_key(w, "failures");
	json_out_uint(w, a->nf_fails);
	json_out_key(w, "apiAttempts");
	json_out_uint(w, st.attempts);
	json_out_key(w, "apiConflicts");
	json_out_uint(w, st.conflicts);
	json_out_key(w, "buildMicroseconds");
	json_out_uint(w, a->nf_build_us);
	json_out_key(w, "loopMicroseconds");
	json_out_uint(w, a->nf_loop_us);
	json_out_obj_end(w);
}
