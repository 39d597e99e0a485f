/*
 * unit.sync: the enforcer's sync object against the kernel.  The test
 * moves into a network namespace of its own (a unique name, deleted as
 * soon as the test is inside it, so it goes even if the test dies) and
 * checks the table `nft` lists there after pod, namespace and policy
 * changes (a proposal's origin switched included), one batch per flush, the debounced verdict-map refill, the
 * full replace after the kernel refused a full set (ENFILE), and a whole
 * new version of the cluster diffed into one batch (sync_cluster_diff()),
 * and the full build off the caller's thread (include/sync_build.h): the
 * table replaced by the worker, the changes made meanwhile caught up by a
 * diff, a full replace left to the caller (full_by_caller), a build
 * cancelled, an update in the worker sent as a delta.  Needs root:
 * exits 77 (skipped) without.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cluster.h"
#include "nftio.h"
#include "ruleset.h"
#include "snapshot.h"
#include "sync.h"
#include "sync_build.h"
#include "testutil.h"

#define NODE "node-1"

/*
 * x/a (isolated by allow-team-a: ingress from namespaces team=a) and x/b
 * on this node, y/c on another; x is team=a, y team=b.  The peer set of
 * allow-team-a holds the pods of x.
 */
static const char base_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\","
	"\"labels\":{\"kubernetes.io/metadata.name\":\"x\",\"team\":\"a\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"y\","
	"\"labels\":{\"kubernetes.io/metadata.name\":\"y\",\"team\":\"b\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\"}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\","
	"\"labels\":{\"pod\":\"a\"}},\"spec\":{\"nodeName\":\"node-1\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.200.0.1\"}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\",\"namespace\":\"x\","
	"\"labels\":{\"pod\":\"b\"}},\"spec\":{\"nodeName\":\"node-1\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.200.0.2\"}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"c\",\"namespace\":\"y\","
	"\"labels\":{\"pod\":\"c\"}},\"spec\":{\"nodeName\":\"node-2\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.200.1.3\"}},"
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
	"\"metadata\":{\"name\":\"allow-team-a\",\"namespace\":\"x\"},"
	"\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{\"from\":"
	"[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"a\"}}}]}]}}"
	"]}";

/* A second policy: x/b accepts x/a only. */
static const char policy_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
	"\"metadata\":{\"name\":\"b-from-a\",\"namespace\":\"x\"},"
	"\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{\"from\":"
	"[{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}}}]}]}}"
	"]}";

struct fx {
	struct cluster *c;
	struct ruleset *rs;
	struct nftio *nio;
	struct sync *s;
	struct ruleset_opts o;
	char peers[RULESET_NAME_MAX]; /* allow-team-a's IPv4 peer set */
};

static struct cluster *load_json(const char *json)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	if (snapshot_load_buf(json, strlen(json), "test", &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	return c;
}

/* Runs @cmd (a shell command line) in the test's namespace; its output
 * into @out (NUL-terminated), its exit status returned. */
static int run(const char *cmd, struct buf *out)
{
	char chunk[4096];
	FILE *f = popen(cmd, "r");
	size_t n;

	assert_non_null(f);
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_append(out, chunk, n), 0);
	assert_int_equal(buf_append(out, "", 1), 0);
	out->len--;
	return pclose(f);
}

/* The block of set (or map) @name in `nft list table` into @out: false
 * when the kernel has no such set. */
static bool kernel_set_block(const char *name, struct buf *out)
{
	char head[256];
	struct buf b;
	const char *p, *end;
	bool found = false;

	buf_init(&b, 1 << 22);
	buf_reset(out);
	if (run("nft list table inet " RULESET_TABLE " 2>&1", &b) != 0)
		fail_msg("nft list table: %s", b.data);
	for (int map = 0; map < 2 && !found; map++) {
		(void) snprintf(head, sizeof(head), "\t%s %s {\n", map ? "map" : "set", name);
		p = strstr(b.data, head);
		end = p ? strstr(p, "\n\t}\n") : NULL;
		if (p && end) {
			assert_int_equal(buf_append(out, p, (size_t) (end - p)), 0);
			assert_int_equal(buf_append(out, "\n", 2), 0);
			found = true;
		}
	}
	buf_done(&b);
	return found;
}

/* Whether the kernel's set @name holds the address @ip (as a whole). */
static bool kernel_set_has(const char *name, const char *ip)
{
	struct buf b;
	bool found = false;
	size_t n = strlen(ip);

	buf_init(&b, 1 << 22);
	if (!kernel_set_block(name, &b))
		fail_msg("the kernel has no set '%s'", name);
	for (const char *p = strstr(b.data, ip); p && !found; p = strstr(p + 1, ip))
		found = (p[-1] == ' ' || p[-1] == '{' || p[-1] == '\t') &&
			(p[n] == ',' || p[n] == ' ' || p[n] == '\n' || p[n] == '}');
	buf_done(&b);
	return found;
}

static bool kernel_chain_exists(const char *name)
{
	char cmd[512];
	struct buf b;
	int r;

	buf_init(&b, 1 << 20);
	(void) snprintf(cmd, sizeof(cmd), "nft list chain inet %s %s 2>&1", RULESET_TABLE, name);
	r = run(cmd, &b);
	buf_done(&b);
	return r == 0;
}

/* The size the kernel's set @name was created with (0: none). */
static unsigned long kernel_set_size(const char *name)
{
	struct buf b;
	const char *p;
	unsigned long size = 0;

	buf_init(&b, 1 << 22);
	assert_true(kernel_set_block(name, &b));
	p = strstr(b.data, "\tsize ");
	if (p)
		size = strtoul(p + 6, NULL, 10);
	buf_done(&b);
	return size;
}

/* The ruleset ends where a fresh build of the cluster is (but for the
 * class numbering). */
static void expect_fresh(struct fx *f)
{
	struct ruleset *fresh = NULL;
	struct bh_err err = { 0 };
	struct buf b1, b2;

	buf_init(&b1, 1 << 24);
	buf_init(&b2, 1 << 24);
	assert_int_equal(ruleset_build(f->c, &f->o, &fresh, &err), 0);
	assert_int_equal(ruleset_text_canonical(f->rs, &b1), 0);
	assert_int_equal(ruleset_text_canonical(fresh, &b2), 0);
	assert_string_equal(b1.data, b2.data);
	buf_done(&b1);
	buf_done(&b2);
	ruleset_free(fresh);
}

/* A pod of @ns named @name on @node with the one address @ip and label
 * pod=@label, put in the cluster: returns what @c held before (zeroed:
 * none). */
static struct pod pod_put(struct fx *f, const char *ns, const char *name, const char *node,
			  const char *ip, const char *label)
{
	struct pod p = { 0 }, old = { 0 };
	char kv[128];

	p.ns = strdup(ns);
	p.name = strdup(name);
	p.node = strdup(node);
	p.phase = strdup("Running");
	assert_true(p.ns && p.name && p.node && p.phase);
	(void) snprintf(kv, sizeof(kv), "pod=%s", label);
	labels_lit(&p.labels, kv);
	p.n_ips = 1;
	p.ips[0] = addr_lit(ip);
	assert_true(cluster_pod_replace(f->c, &p, &old) >= 0);
	return old;
}

static void pod_event(struct fx *f, struct pod *old, const char *ns, const char *name)
{
	struct bh_err err = { 0 };

	assert_int_equal(
		sync_pod(f->s, old->name ? old : NULL, cluster_pod_find(f->c, ns, name), &err), 0);
	pod_done(old);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sync_opts so = { .refill_delay_ms = 100, .refill_max_ms = 250 };
	struct bh_err err = { 0 };
	const struct addr xa = addr_lit("10.200.0.1");

	assert_non_null(f);
	f->o = (struct ruleset_opts){ .node = NODE, .mode = BH_MODE_ENFORCE };
	f->c = load_json(base_json);
	assert_int_equal(ruleset_build(f->c, &f->o, &f->rs, &err), 0);
	for (size_t i = 0; i < ruleset_n_sets(f->rs); i++) {
		const struct rs_set *s = ruleset_set(f->rs, i);

		if (strncmp(s->name, "s/", 2) != 0 || s->key != RS_KEY_ADDR4)
			continue;
		for (size_t k = 0; k < s->n_elems; k++)
			if (addr_eq(&s->elems[k].addr, &xa))
				(void) snprintf(f->peers, sizeof(f->peers), "%s", s->name);
	}
	assert_true(f->peers[0]);
	assert_int_equal(nftio_open(&f->nio, &err), 0);
	assert_true(nftio_reset(f->nio, &err) >= 0);
	assert_int_equal(nftio_apply(f->nio, f->rs, &err), 1);
	assert_int_equal(sync_new(f->rs, f->c, f->nio, &so, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };

	if (nftio_reset(f->nio, &err) < 0)
		fprintf(stderr, "teardown: %s\n", err.msg);
	sync_free(f->s);
	nftio_free(f->nio);
	ruleset_free(f->rs);
	cluster_free(f->c);
	free(f);
	return 0;
}

/* Pod added, changed (address), deleted: each flush one batch, the
 * kernel's peer set follows. */
static void pod_add_update_delete(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };
	struct pod old;
	size_t batches = nftio_stats(f->nio)->batches;

	assert_true(kernel_set_has(f->peers, "10.200.0.2"));
	assert_false(kernel_set_has(f->peers, "10.200.0.4"));

	old = pod_put(f, "x", "d", "node-2", "10.200.0.4", "d");
	pod_event(f, &old, "x", "d");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_true(kernel_set_has(f->peers, "10.200.0.4"));
	expect_fresh(f);

	old = pod_put(f, "x", "d", "node-2", "10.200.0.5", "d");
	pod_event(f, &old, "x", "d");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_false(kernel_set_has(f->peers, "10.200.0.4"));
	assert_true(kernel_set_has(f->peers, "10.200.0.5"));
	expect_fresh(f);

	/* The same pod again: nothing queued, nothing sent. */
	old = pod_put(f, "x", "d", "node-2", "10.200.0.5", "d");
	pod_event(f, &old, "x", "d");
	assert_int_equal(sync_flush(f->s, &err), 0);

	assert_int_equal(cluster_pod_take(f->c, "x", "d", &old), 1);
	assert_int_equal(sync_pod(f->s, &old, NULL, &err), 0);
	pod_done(&old);
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_false(kernel_set_has(f->peers, "10.200.0.5"));
	assert_true(kernel_set_has(f->peers, "10.200.0.2"));
	expect_fresh(f);

	assert_int_equal(nftio_stats(f->nio)->batches, batches + 3);
	assert_int_equal(sync_stats(f->s)->batches, 3);
	assert_int_equal(sync_stats(f->s)->events, 3);
	assert_int_equal(sync_stats(f->s)->full_fallbacks, 0);
}

/* Namespace y becomes team=a: its pod joins the peer set. */
static void namespace_labels(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };
	struct k8s_ns n = { 0 }, old = { 0 };

	assert_false(kernel_set_has(f->peers, "10.200.1.3"));
	n.name = strdup("y");
	assert_non_null(n.name);
	labels_lit(&n.labels, "kubernetes.io/metadata.name=y,team=a");
	assert_int_equal(cluster_ns_replace(f->c, &n, &old), 0);
	assert_int_equal(sync_namespace(f->s, &old, cluster_ns_find(f->c, "y"), &err), 0);
	k8s_ns_done(&old);
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_true(kernel_set_has(f->peers, "10.200.1.3"));
	expect_fresh(f);
}

/* A policy added creates its chain in the kernel; deleted, it goes. */
static void policy_add_delete(void **state)
{
	struct fx *f = *state;
	struct cluster *pc = load_json(policy_json);
	struct bh_err err = { 0 };
	struct netpol p, old;

	assert_false(kernel_chain_exists("pi/x/b-from-a"));
	netpol_init(&p);
	netpol_init(&old);
	assert_int_equal(netpol_copy(&p, &pc->policies[0]), 0);
	assert_true(cluster_policy_replace(f->c, &p, &old) >= 0);
	assert_null(old.name);
	assert_int_equal(sync_policy(f->s, NULL, cluster_policy_find(f->c, "x", "b-from-a"), &err),
			 0);
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_true(kernel_chain_exists("pi/x/b-from-a"));
	expect_fresh(f);

	assert_int_equal(cluster_policy_take(f->c, "x", "b-from-a", &old), 1);
	assert_int_equal(sync_policy(f->s, &old, NULL, &err), 0);
	netpol_done(&old);
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_false(kernel_chain_exists("pi/x/b-from-a"));
	assert_true(kernel_chain_exists("pi/x/allow-team-a"));
	expect_fresh(f);
	cluster_free(pc);
}

/*
 * Proposal policies (include/netpol.h, origin): x/b isolated by the
 * proposal alone, x/a by allow-team-a and the proposal.  Their origin
 * switched from preview to enforce and back, one sync_policy() per
 * policy: each switch is one incremental batch (no full replace), and the
 * kernel ends as a fresh build: in preview x/b's class logs and x/a's
 * leaves the proposal out; in enforce x/b's class drops and x/a's joins
 * the proposal to allow-team-a.
 */
static const char proposal_json[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
	"\"metadata\":{\"name\":\"proposal:a-in\",\"namespace\":\"x\"},"
	"\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{\"from\":"
	"[{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}}}]}]}},"
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
	"\"metadata\":{\"name\":\"proposal:b-in\",\"namespace\":\"x\"},"
	"\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},\"ingress\":[{\"from\":"
	"[{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}}}]}]}}"
	"]}";

/* Puts every policy of @pc in the cluster with origin @o, one
 * sync_policy() each (old and new version), and flushes. */
static void proposal_origin_set(struct fx *f, const struct cluster *pc, enum netpol_origin o)
{
	struct bh_err err = { 0 };

	for (size_t i = 0; i < pc->n_policies; i++) {
		struct netpol p, old;

		netpol_init(&p);
		netpol_init(&old);
		assert_int_equal(netpol_copy(&p, &pc->policies[i]), 0);
		p.origin = o;
		assert_true(cluster_policy_replace(f->c, &p, &old) >= 0);
		assert_int_equal(sync_policy(f->s, old.name ? &old : NULL,
					     cluster_policy_find(f->c, "x", pc->policies[i].name),
					     &err),
				 0);
		netpol_done(&old);
	}
	assert_int_equal(sync_flush(f->s, &err), 1);
}

static bool kernel_table_has(const char *text)
{
	struct buf b;
	bool found;

	buf_init(&b, 1 << 22);
	if (run("nft list table inet " RULESET_TABLE " 2>&1", &b) != 0)
		fail_msg("nft list table: %s", b.data);
	found = strstr(b.data, text) != NULL;
	buf_done(&b);
	return found;
}

static void proposal_origin_switch(void **state)
{
	struct fx *f = *state;
	struct cluster *pc = load_json(proposal_json);
	size_t batches;

	proposal_origin_set(f, pc, NETPOL_ORIGIN_PREVIEW);
	assert_true(kernel_chain_exists("pi/x/proposal_b-in"));
	assert_false(kernel_chain_exists("pi/x/proposal_a-in")); /* left out of x/a's class */
	assert_true(kernel_table_has("set seen4 {"));
	assert_true(kernel_table_has("log prefix \"bh:i:x:"));
	assert_true(kernel_table_has("jump pi/x/allow-team-a\n\t\tcounter packets 0 bytes 0\n"
				     "\t\tdrop"));
	expect_fresh(f);

	batches = nftio_stats(f->nio)->batches;
	proposal_origin_set(f, pc, NETPOL_ORIGIN_ENFORCE);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
	assert_int_equal(sync_stats(f->s)->full, 0);
	assert_int_equal(sync_stats(f->s)->resyncs, 0);
	assert_true(kernel_chain_exists("pi/x/proposal_a-in")); /* joined to allow-team-a */
	assert_false(kernel_table_has("set seen4 {"));
	assert_false(kernel_table_has("log prefix"));
	assert_true(kernel_table_has("jump pi/x/proposal_b-in\n\t\tcounter packets 0 bytes 0\n"
				     "\t\tdrop"));
	expect_fresh(f);

	proposal_origin_set(f, pc, NETPOL_ORIGIN_PREVIEW);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 2);
	assert_int_equal(sync_stats(f->s)->full, 0);
	assert_int_equal(sync_stats(f->s)->resyncs, 0);
	assert_false(kernel_chain_exists("pi/x/proposal_a-in"));
	assert_true(kernel_table_has("log prefix \"bh:i:x:"));
	expect_fresh(f);
	cluster_free(pc);
}

/* Several changes queued: one flush, one batch, all of them in. */
static void one_batch_per_flush(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };
	size_t batches = nftio_stats(f->nio)->batches;
	struct pod old;

	old = pod_put(f, "x", "e", "node-2", "10.200.0.6", "e");
	pod_event(f, &old, "x", "e");
	old = pod_put(f, "x", "f", "node-2", "10.200.0.7", "f");
	pod_event(f, &old, "x", "f");
	assert_int_equal(cluster_pod_take(f->c, "x", "b", &old), 1);
	assert_int_equal(sync_pod(f->s, &old, NULL, &err), 0);
	pod_done(&old);
	/* Nothing reaches the kernel before the flush. */
	assert_int_equal(nftio_stats(f->nio)->batches, batches);
	assert_false(kernel_set_has(f->peers, "10.200.0.6"));
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
	assert_true(kernel_set_has(f->peers, "10.200.0.6"));
	assert_true(kernel_set_has(f->peers, "10.200.0.7"));
	assert_false(kernel_set_has(f->peers, "10.200.0.2"));
	assert_int_equal(sync_stats(f->s)->events, 3);
	assert_int_equal(sync_stats(f->s)->batches, 1);
	expect_fresh(f);
	/* Nothing queued: nothing sent. */
	assert_int_equal(sync_flush(f->s, &err), 0);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
}

/*
 * A local pod joining x/a's class goes through the trie, not the verdict
 * map: the refill is armed, pushed out by each flush (debounce), capped
 * at refill_max_ms, and runs as one batch when due.
 */
static void debounced_refill(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };
	size_t batches;
	struct pod old;

	assert_int_equal(sync_next_due_ms(f->s, 1000), -1);
	old = pod_put(f, "x", "a2", NODE, "10.200.0.9", "a");
	pod_event(f, &old, "x", "a2");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_true(ruleset_maps_missing(f->rs) > 0);
	assert_false(kernel_set_has("in4/vmap", "10.200.0.9"));
	assert_true(kernel_set_has("in4", "10.200.0.9"));
	/* Armed at the first look after the flush: delay 100 ms. */
	assert_int_equal(sync_next_due_ms(f->s, 1000), 1100);
	assert_int_equal(sync_next_due_ms(f->s, 1050), 1100);
	assert_int_equal(sync_tick(f->s, 1099, &err), 0);
	/* Another event: pushed out. */
	old = pod_put(f, "x", "a3", NODE, "10.200.0.10", "a");
	pod_event(f, &old, "x", "a3");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_next_due_ms(f->s, 1090), 1190);
	/* Another: pushed out no further than 250 ms after the first. */
	old = pod_put(f, "x", "a3", NODE, "10.200.0.11", "a");
	pod_event(f, &old, "x", "a3");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_next_due_ms(f->s, 1180), 1250);
	batches = nftio_stats(f->nio)->batches;
	assert_int_equal(sync_tick(f->s, 1249, &err), 0);
	assert_int_equal(nftio_stats(f->nio)->batches, batches);
	assert_int_equal(sync_tick(f->s, 1250, &err), 1);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
	assert_int_equal(ruleset_maps_missing(f->rs), 0);
	assert_int_equal(sync_stats(f->s)->refills, 1);
	assert_true(kernel_set_has("in4/vmap", "10.200.0.9"));
	assert_true(kernel_set_has("in4/vmap", "10.200.0.11"));
	assert_int_equal(sync_next_due_ms(f->s, 2000), -1);
	assert_int_equal(sync_tick(f->s, 5000, &err), 0);
	expect_fresh(f);
}

/*
 * The kernel holds every set exactly full (as if loaded by another
 * writer), the ruleset believes in room: the delta adding a pod is
 * refused (ENFILE) and the sync object replaces the table in full, sets
 * fitted again.  The kernel then holds exactly a full apply of the
 * ruleset (its digest, no delta marker), with the pod.
 */
static void enfile_full_fallback(void **state)
{
	struct fx *f = *state;
	struct bh_err err = { 0 };
	unsigned long fitted;
	struct pod old;

	for (size_t i = 0; i < ruleset_n_sets(f->rs); i++) {
		struct rs_set *s = (struct rs_set *) ruleset_set(f->rs, i);

		if (s->size)
			s->size = s->n_elems ? (uint32_t) s->n_elems : 1;
	}
	assert_int_equal(nftio_replace(f->nio, f->rs, &err), 0);
	assert_int_equal(kernel_set_size(f->peers), 2);
	ruleset_refit_sizes(f->rs);
	fitted = ruleset_set_find(f->rs, f->peers)->size;
	assert_true(fitted > 3);

	old = pod_put(f, "x", "g", "node-2", "10.200.0.12", "g");
	pod_event(f, &old, "x", "g");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_stats(f->s)->full_fallbacks, 1);
	assert_int_equal(sync_stats(f->s)->full, 0);
	assert_true(kernel_set_has(f->peers, "10.200.0.12"));
	assert_int_equal(kernel_set_size(f->peers), ruleset_set_find(f->rs, f->peers)->size);
	assert_int_equal(nftio_table_holds(f->nio, f->rs, &err), 0);
	expect_fresh(f);

	/* Back to deltas. */
	old = pod_put(f, "x", "h", "node-2", "10.200.0.13", "h");
	pod_event(f, &old, "x", "h");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_stats(f->s)->full_fallbacks, 1);
	assert_true(kernel_set_has(f->peers, "10.200.0.13"));
}

/*
 * Deltas that each fit a set's size may not fit as one batch: the kernel
 * counts a batch's additions at once and its deletions at commit.  The
 * peer set is exactly full (ruleset and kernel agree); one pod leaves and
 * another comes in the same flush: the sync object plans a full replace
 * instead of sending a batch the kernel would refuse.
 */
/*
 * A whole other version of the cluster (what the agent's --snapshot
 * reload gets): sync_cluster_diff() queues every difference (a policy
 * added, namespace y relabelled team=a, pod x/d added on node-2) without sending
 * anything; one flush sends them as one batch; the ruleset ends where a
 * fresh build is and the cluster equals the new version.  The same
 * version again sends nothing.
 */
static void cluster_diff_one_batch(void **state)
{
	struct fx *f = *state;
	struct cluster *next = load_json(base_json), *pc = load_json(policy_json);
	struct bh_err err = { 0 };
	size_t batches = nftio_stats(f->nio)->batches;
	struct k8s_ns n = { 0 };
	struct pod d = { 0 };
	struct netpol p;

	netpol_init(&p);
	assert_int_equal(netpol_copy(&p, &pc->policies[0]), 0);
	assert_int_equal(cluster_policy_put(next, &p), 1);
	n.name = strdup("y");
	assert_non_null(n.name);
	labels_lit(&n.labels, "kubernetes.io/metadata.name=y,team=a");
	assert_int_equal(cluster_ns_put(next, &n), 0);
	d.ns = strdup("x");
	d.name = strdup("d");
	d.node = strdup("node-2");
	d.phase = strdup("Running");
	assert_true(d.ns && d.name && d.node && d.phase);
	labels_lit(&d.labels, "pod=d");
	d.n_ips = 1;
	d.ips[0] = addr_lit("10.200.0.4");
	assert_int_equal(cluster_pod_put(next, &d), 1);

	assert_int_equal(sync_cluster_diff(f->s, f->c, next, false, &err), 0);
	assert_int_equal(nftio_stats(f->nio)->batches, batches);
	assert_false(kernel_chain_exists("pi/x/b-from-a"));
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
	assert_true(kernel_chain_exists("pi/x/b-from-a"));
	assert_true(kernel_set_has(f->peers, "10.200.1.3"));
	assert_true(kernel_set_has(f->peers, "10.200.0.4"));
	assert_non_null(cluster_pod_find(f->c, "x", "d"));
	assert_non_null(cluster_policy_find(f->c, "x", "b-from-a"));
	assert_int_equal(f->c->n_pods, next->n_pods);
	expect_fresh(f);

	assert_int_equal(sync_cluster_diff(f->s, f->c, next, false, &err), 0);
	assert_true(sync_flush(f->s, &err) >= 0);
	assert_int_equal(nftio_stats(f->nio)->batches, batches + 1);
	cluster_free(next);
	cluster_free(pc);
}

static void merged_deltas_fit_sizes(void **state)
{
	struct fx *f = *state;
	struct rs_set *peers = (struct rs_set *) ruleset_set_find(f->rs, f->peers);
	struct bh_err err = { 0 };
	struct pod old;

	assert_non_null(peers);
	peers->size = (uint32_t) peers->n_elems;
	assert_int_equal(nftio_replace(f->nio, f->rs, &err), 0);
	assert_int_equal(kernel_set_size(f->peers), 2);

	assert_int_equal(cluster_pod_take(f->c, "x", "b", &old), 1);
	assert_int_equal(sync_pod(f->s, &old, NULL, &err), 0);
	pod_done(&old);
	old = pod_put(f, "x", "g", "node-2", "10.200.0.12", "g");
	pod_event(f, &old, "x", "g");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_stats(f->s)->full, 1);
	assert_int_equal(sync_stats(f->s)->full_fallbacks, 0);
	assert_true(kernel_set_has(f->peers, "10.200.0.12"));
	assert_false(kernel_set_has(f->peers, "10.200.0.2"));
	assert_int_equal(nftio_table_holds(f->nio, f->rs, &err), 0);
	expect_fresh(f);
}

/* The comment of the kernel's table ("" when none). */
static void kernel_comment(struct fx *f, char *buf, size_t len)
{
	struct bh_err err = { 0 };

	buf[0] = '\0';
	assert_true(nftio_table_comment(f->nio, buf, len, &err) >= 0);
}

/*
 * A full build in the worker while the cluster moves on: policy b-from-a
 * is in the copy the worker compiles; pod x/e comes (another node, a
 * member of allow-team-a's peers) while it runs, and the calling thread
 * is free meanwhile (it polls the eventfd).  The worker replaced the
 * table with the copy's ruleset (b-from-a there, x/e not); the diff from
 * the copy to the cluster now, one batch through a sync object over the
 * result, brings x/e to the kernel; the ruleset then is a fresh build's.
 */
static void build_off_thread_catches_up(void **state)
{
	struct fx *f = *state;
	struct cluster *pc = load_json(policy_json), *copy = NULL;
	struct sync_opts so = { .full_by_caller = true };
	struct sync_build_opts bo = { .ruleset = &f->o, .send = true };
	struct sync_build_result res = { 0 };
	struct sync_build *b = NULL;
	struct bh_err err = { 0 };
	struct sync *s2 = NULL;
	struct pod old;
	struct netpol p;
	struct pollfd pfd;

	netpol_init(&p);
	assert_int_equal(netpol_copy(&p, &pc->policies[0]), 0);
	assert_int_equal(cluster_policy_put(f->c, &p), 1);
	assert_int_equal(cluster_copy(f->c, &copy), 0);
	assert_int_equal(sync_build_start(copy, &bo, &b, &err), 0);
	/* The event during the build: into the cluster, not the copy. */
	old = pod_put(f, "x", "e", "node-2", "10.200.0.5", "e");
	pod_done(&old);
	pfd = (struct pollfd){ .fd = sync_build_fd(b), .events = POLLIN };
	while (poll(&pfd, 1, 1) == 0)
		continue; /* (the caller's thread is free meanwhile) */
	assert_true(pfd.revents & POLLIN);
	assert_true(sync_build_done(b));
	assert_int_equal(sync_build_finish(b, &res, &err), 0);
	assert_int_equal(res.outcome, SYNC_BUILD_REPLACED);
	assert_non_null(res.rs);
	assert_non_null(res.c);
	assert_true(kernel_chain_exists("pi/x/b-from-a"));
	assert_false(kernel_set_has(f->peers, "10.200.0.5"));
	assert_int_equal(nftio_table_holds(f->nio, res.rs, &err), 0);

	/* Taken over: the diff catches x/e up in one batch. */
	assert_int_equal(sync_new(res.rs, res.c, f->nio, &so, &s2), 0);
	assert_int_equal(sync_cluster_diff(s2, res.c, f->c, false, &err), 0);
	assert_int_equal(sync_flush(s2, &err), 1);
	assert_true(kernel_set_has(f->peers, "10.200.0.5"));
	assert_true(kernel_chain_exists("pi/x/b-from-a"));
	/* The sync object follows the live cluster from now on. */
	sync_rebind(s2, f->c);
	sync_free(f->s);
	ruleset_free(f->rs);
	f->s = s2;
	f->rs = res.rs;
	res.rs = NULL;
	sync_build_result_done(&res);
	old = pod_put(f, "x", "h", "node-2", "10.200.0.6", "h");
	pod_event(f, &old, "x", "h");
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_true(kernel_set_has(f->peers, "10.200.0.6"));
	expect_fresh(f);
	cluster_free(pc);
}

/*
 * An update in the worker (a policy change at scale): the ruleset the
 * kernel holds is handed over and moved to a copy with policy b-from-a;
 * the worker sends nothing and hands back the delta, which a sync object
 * over the result sends as one incremental batch: the policy's chain is
 * there, the table was not replaced (its comment, the digest of the full
 * apply, is the same), and the ruleset is a fresh build's.
 */
static void update_off_thread_delta(void **state)
{
	struct fx *f = *state;
	struct cluster *pc = load_json(policy_json), *copy = NULL;
	struct sync_opts so = { .full_by_caller = true };
	struct sync_build_opts bo = { .ruleset = &f->o, .send = true, .update = f->rs };
	struct sync_build_result res = { 0 };
	struct sync_build *b = NULL;
	struct bh_err err = { 0 };
	char before[128], after[128];
	struct netpol p;

	kernel_comment(f, before, sizeof(before));
	netpol_init(&p);
	assert_int_equal(netpol_copy(&p, &pc->policies[0]), 0);
	assert_int_equal(cluster_policy_put(f->c, &p), 1);
	assert_int_equal(cluster_copy(f->c, &copy), 0);
	f->s = sync_free(f->s);
	f->rs = NULL; /* (the worker's now) */
	assert_int_equal(sync_build_start(copy, &bo, &b, &err), 0);
	assert_int_equal(sync_build_finish(b, &res, &err), 0);
	assert_int_equal(res.outcome, SYNC_BUILD_UPDATED);
	assert_non_null(res.rs);
	assert_non_null(res.delta);
	assert_false(rs_delta_is_full(res.delta));
	assert_false(kernel_chain_exists("pi/x/b-from-a"));

	assert_int_equal(sync_new(res.rs, res.c, f->nio, &so, &f->s), 0);
	f->rs = res.rs;
	res.rs = NULL;
	assert_int_equal(sync_delta(f->s, res.delta, &err), 0);
	res.delta = NULL;
	assert_int_equal(sync_flush(f->s, &err), 1);
	assert_int_equal(sync_stats(f->s)->full, 0);
	assert_true(kernel_chain_exists("pi/x/b-from-a"));
	kernel_comment(f, after, sizeof(after));
	assert_string_equal(before, after);
	sync_rebind(f->s, f->c);
	sync_build_result_done(&res);
	expect_fresh(f);
	cluster_free(pc);
}

/* A build that fails in the kernel (a refused batch): the error and what
 * failed come back, the table stays as it was. */
static void build_off_thread_refused(void **state)
{
	struct fx *f = *state;
	struct sync_build_opts bo = { .ruleset = &f->o,
				      .send = true,
				      .fault = NFTIO_FAULT_MESSAGE };
	struct sync_build_result res = { 0 };
	struct sync_build *b = NULL;
	struct cluster *copy = NULL;
	struct bh_err err = { 0 };
	char before[128], after[128];
	struct pod old;

	kernel_comment(f, before, sizeof(before));
	old = pod_put(f, "x", "e", NODE, "10.200.0.5", "e");
	pod_done(&old);
	assert_int_equal(cluster_copy(f->c, &copy), 0);
	assert_int_equal(sync_build_start(copy, &bo, &b, &err), 0);
	assert_true(sync_build_finish(b, &res, &err) < 0);
	assert_string_equal(res.why, "replacing the table");
	assert_null(res.rs);
	assert_true(err.msg[0]);
	kernel_comment(f, after, sizeof(after));
	assert_string_equal(before, after);
	assert_false(kernel_set_has(f->peers, "10.200.0.5"));
	sync_build_result_done(&res);
}

/* Cancelled (SIGTERM) while it runs: joined and freed; the table is the
 * one before or the whole new one, never a part. */
static void build_off_thread_cancel(void **state)
{
	struct fx *f = *state;
	struct sync_build_opts bo = { .ruleset = &f->o, .send = true };
	struct sync_build *b = NULL;
	struct cluster *copy = NULL;
	struct ruleset *fresh = NULL;
	struct bh_err err = { 0 };
	char before[128], after[128], want[128];
	struct pod old;

	kernel_comment(f, before, sizeof(before));
	old = pod_put(f, "x", "e", NODE, "10.200.0.5", "e");
	pod_done(&old);
	assert_int_equal(ruleset_build(f->c, &f->o, &fresh, &err), 0);
	(void) snprintf(want, sizeof(want), "bulkhead:v1:%016llx",
			(unsigned long long) ruleset_digest(fresh));
	assert_int_equal(cluster_copy(f->c, &copy), 0);
	assert_int_equal(sync_build_start(copy, &bo, &b, &err), 0);
	assert_null(sync_build_cancel(b));
	kernel_comment(f, after, sizeof(after));
	assert_true(strcmp(after, before) == 0 || strcmp(after, want) == 0);
	if (strcmp(after, want) == 0)
		assert_int_equal(nftio_table_holds(f->nio, fresh, &err), 0);
	ruleset_free(fresh);
}

/*
 * full_by_caller: after a batch the kernel refused, the next flush sends
 * nothing and says SYNC_FLUSH_FULL (the caller replaces the table); the
 * kernel keeps its table meanwhile.
 */
static void full_left_to_caller(void **state)
{
	struct fx *f = *state;
	struct sync_opts so = { .full_by_caller = true };
	struct bh_err err = { 0 };
	struct sync *s2 = NULL;
	size_t batches;
	char before[128], after[128];
	struct pod old;

	assert_int_equal(sync_new(f->rs, f->c, f->nio, &so, &s2), 0);
	kernel_comment(f, before, sizeof(before));
	nftio_inject_fault(f->nio, NFTIO_FAULT_MESSAGE);
	old = pod_put(f, "x", "e", "node-2", "10.200.0.5", "e");
	assert_int_equal(sync_pod(s2, NULL, cluster_pod_find(f->c, "x", "e"), &err), 0);
	pod_done(&old);
	assert_true(sync_flush(s2, &err) < 0);
	nftio_inject_fault(f->nio, NFTIO_FAULT_NONE);
	batches = nftio_stats(f->nio)->batches;
	assert_int_equal(sync_flush(s2, &err), SYNC_FLUSH_FULL);
	assert_int_equal(nftio_stats(f->nio)->batches, batches);
	assert_int_equal(sync_stats(s2)->resyncs, 0);
	kernel_comment(f, after, sizeof(after));
	assert_string_equal(before, after);
	assert_false(kernel_set_has(f->peers, "10.200.0.5"));
	sync_free(s2);
}

/* Enters a network namespace of a unique name and deletes the name at
 * once: the namespace lives as long as the test is in it. */
static int enter_netns(void)
{
	char name[64], path[128], cmd[160];
	int fd, r;

	(void) snprintf(name, sizeof(name), "bh-sync-%ld-%ld", (long) getpid(), (long) time(NULL));
	(void) snprintf(cmd, sizeof(cmd), "ip netns add %s", name);
	if (system(cmd) != 0)
		return -1;
	(void) snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	r = fd >= 0 ? setns(fd, CLONE_NEWNET) : -1;
	if (fd >= 0)
		close(fd);
	(void) snprintf(cmd, sizeof(cmd), "ip netns del %s", name);
	if (system(cmd) != 0)
		r = -1;
	return r;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pod_add_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(namespace_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_add_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(proposal_origin_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(one_batch_per_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(debounced_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(enfile_full_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(merged_deltas_fit_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(cluster_diff_one_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(build_off_thread_catches_up, setup, teardown),
		cmocka_unit_test_setup_teardown(update_off_thread_delta, setup, teardown),
		cmocka_unit_test_setup_teardown(build_off_thread_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(build_off_thread_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(full_left_to_caller, setup, teardown),
	};

	if (geteuid() != 0 || system("nft --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "unit.sync: needs root and nft: skipped\n");
		return 77;
	}
	if (enter_netns() < 0) {
		fprintf(stderr, "unit.sync: cannot create a network namespace: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
