/*
 * unit.state_db: the agent's state store (agent/state_db*.c).  Every kind
 * of record survives a close and a reopen as it was saved; a schema v1
 * database written by hand is migrated; a newer one and a file that is no
 * database are refused with one line naming the file; a child killed with
 * SIGKILL in the middle of a big checkpoint leaves the previous checkpoint
 * whole.  The full and read-only state directories are the integration
 * test tests/integration/state_db_faults.sh (they need mounts).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_db.h"
#include "str.h"
#include "testutil.h"

static char dir[64];

static int dir_setup(void **state)
{
	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/bh-state-db.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
	const char *files[] = { "state.db", "state.db-wal", "state.db-shm", "junk" };
	char path[128];

	(void) state;
	for (size_t i = 0; i < BH_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	return rmdir(dir);
}

static struct state_db *db_open(void)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	int r = state_db_open(dir, &db, &err);

	if (r < 0)
		fail_msg("state_db_open: %s", err.msg);
	assert_true(state_db_health(db)->ok);
	assert_int_equal(state_db_schema_version(db), STATE_DB_SCHEMA_VERSION);
	return db;
}

/* Raw SQL on the file, as an older bulkhead or a hand would write it. */
static void raw_exec(const char *sql)
{
	char path[128];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

static void raw_text(const char *sql, char *buf, size_t len)
{
	char path[128];
	sqlite3_stmt *st;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, len, "%s", (const char *) sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static int64_t raw_count(const char *sql)
{
	char path[128];
	sqlite3_stmt *st;
	sqlite3 *h;
	int64_t n;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* ---- flows ---- */

static struct flow_record flow(const char *src, const char *dst, uint8_t proto, uint16_t port,
			       uint64_t packets)
{
	return (struct flow_record){
		.key = { .src = addr_lit(src), .dst = addr_lit(dst), .proto = proto, .port = port },
		.packets = packets,
		.bytes = packets * 100,
		.connections = packets / 2 + 1,
		.first_seen = 1700000000,
		.last_seen = 1700000000 + (int64_t) packets,
		.seen_by = FLOW_SEEN_PCAP | (packets % 2 ? FLOW_SEEN_CONNTRACK : 0),
	};
}

static struct flow_peer pod(const char *ns, const char *name, const char *wl, const char *kv)
{
	struct flow_peer p = {
		.kind = FLOW_PEER_POD,
		.ns = strdup(ns),
		.name = strdup(name),
		.workload_kind = wl ? strdup("Deployment") : NULL,
		.workload_name = wl ? strdup(wl) : NULL,
	};

	labels_lit(&p.labels, kv);
	return p;
}

static void peer_equal(const struct flow_peer *a, const struct flow_peer *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(str_eq_opt(a->ns, b->ns));
	assert_true(str_eq_opt(a->name, b->name));
	assert_true(str_eq_opt(a->workload_kind, b->workload_kind));
	assert_true(str_eq_opt(a->workload_name, b->workload_name));
	assert_true(labels_equal(&a->labels, &b->labels));
}

static void record_equal(const struct flow_record *a, const struct flow_record *b)
{
	assert_int_equal(flow_key_cmp(&a->key, &b->key), 0);
	assert_int_equal(a->packets, b->packets);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->connections, b->connections);
	assert_int_equal(a->first_seen, b->first_seen);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(a->seen_by, b->seen_by);
	peer_equal(&a->src_peer, &b->src_peer);
	peer_equal(&a->dst_peer, &b->dst_peer);
}

static const struct flow_record *find(const struct flow_set *s, const struct flow_key *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (flow_key_cmp(&s->flows[i].key, k) == 0)
			return &s->flows[i];
	return NULL;
}

/* @want (n) is exactly what a reopened store holds. */
static void flows_expect(const struct flow_record *want, size_t n)
{
	struct state_db *db = db_open();
	struct flow_set s;
	struct bh_err err = { 0 };

	flow_set_init(&s);
	assert_int_equal(state_db_flows_load(db, &s, &err), 0);
	assert_int_equal(s.n, n);
	assert_int_equal(state_db_flows_count(db, &err), (int64_t) n);
	for (size_t i = 0; i < n; i++) {
		const struct flow_record *got = find(&s, &want[i].key);

		assert_non_null(got);
		record_equal(got, &want[i]);
	}
	flow_set_done(&s);
	state_db_free(db);
}

/* Five flows: IPv4 and IPv6, pods with labels, a node, an external
 * address, an unresolved peer, two flows sharing their pods. */
static void sample_flows(struct flow_record v[5])
{
	v[0] = flow("10.0.0.1", "10.0.0.2", 6, 80, 10);
	v[0].src_peer = pod("shop", "web-1", "web", "app=web,tier=front");
	v[0].dst_peer = pod("shop", "api-1", "api", "app=api");
	v[1] = flow("10.0.0.1", "10.0.0.2", 17, 53, 3);
	v[1].src_peer = pod("shop", "web-1", "web", "app=web,tier=front");
	v[1].dst_peer = pod("shop", "api-1", "api", "app=api");
	v[2] = flow("fd00::1", "fd00::2", 132, 3868, 7);
	v[2].src_peer = (struct flow_peer){ .kind = FLOW_PEER_NODE, .name = strdup("node-a") };
	v[2].dst_peer = pod("db", "pg-0", NULL, "");
	v[3] = flow("10.0.0.3", "192.0.2.9", 6, 443, 1);
	v[3].dst_peer = (struct flow_peer){ .kind = FLOW_PEER_EXTERNAL };
	v[4] = flow("10.0.0.4", "10.0.0.5", 6, 0, 2); /* both unresolved */
}

static void sample_free(struct flow_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		flow_peer_done(&v[i].src_peer);
		flow_peer_done(&v[i].dst_peer);
	}
}

static void flows_round_trip(void **state)
{
	struct flow_record v[5];
	struct state_db_flows all;
	struct bh_err err = { 0 };
	struct state_db *db;

	(void) state;
	sample_flows(v);
	db = db_open();
	all = state_db_flows_of_array(v, 5);
	assert_int_equal(state_db_flows_checkpoint(db, &all, &err), 0);
	state_db_free(db);
	flows_expect(v, 5);
	/* web-1, api-1, node-a, pg-0, the external peer: interned once. */
	assert_int_equal(raw_count("SELECT count(*) FROM peers"), 5);

	/* A second full checkpoint replaces the first: a flow left. */
	db = db_open();
	all = state_db_flows_of_array(v + 1, 4);
	assert_int_equal(state_db_flows_checkpoint(db, &all, &err), 0);
	state_db_free(db);
	flows_expect(v + 1, 4);
	sample_free(v, 5);
}

static void flows_incremental(void **state)
{
	struct flow_record v[5], changed[2];
	struct state_db_flows all, ch;
	struct bh_err err = { 0 };
	struct state_db *db;

	(void) state;
	sample_flows(v);
	db = db_open();
	all = state_db_flows_of_array(v, 4);
	assert_int_equal(state_db_flows_checkpoint(db, &all, &err), 0);
	state_db_free(db);

	/* After a reopen: flow 1 counted more, flow 4 new, flow 3 evicted. */
	v[1].packets += 100;
	v[1].last_seen += 60;
	changed[0] = v[1];
	changed[1] = v[4];
	db = db_open();
	ch = state_db_flows_of_array(changed, 2);
	assert_int_equal(state_db_flows_update(db, &ch, &v[3].key, 1, &err), 0);
	state_db_free(db);
	{
		struct flow_record want[4] = { v[0], v[1], v[2], v[4] };

		flows_expect(want, 4);
	}
	/* The peers of flow 1 were interned again from the table, not
	 * stored twice. */
	assert_int_equal(raw_count("SELECT count(*) FROM peers"), 5);
	sample_free(v, 5);
}

/* ---- a checkpoint killed half way ---- */

struct gen_src {
	uint64_t gen;
	size_t stop_at; /* SIZE_MAX: never */
	int report_fd; /* written to at stop_at */
	int block_fd; /* then read from: never answers */
};

static void gen_get_cb(void *ud, size_t i, struct flow_record *ret)
{
	const struct gen_src *g = ud;
	uint8_t b[4] = { 10, (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
	uint8_t d[4] = { 10, 200, (uint8_t) (i >> 8), 1 };
	char c;

	if (i == g->stop_at) {
		/* Half the flows are in the transaction (and some of its pages
		 * already spilled to the WAL): say so and wait for the kill. */
		if (write(g->report_fd, "B", 1) != 1 || read(g->block_fd, &c, 1) < 0)
			_exit(3);
	}
	*ret = (struct flow_record){ .key = { .proto = 6, .port = (uint16_t) (i % 1000) },
				     .packets = g->gen,
				     .first_seen = 1,
				     .last_seen = (int64_t) g->gen };
	addr_from_v4(&ret->key.src, b);
	addr_from_v4(&ret->key.dst, d);
}

#define KILL_FLOWS 200000

static void kill9_mid_checkpoint(void **state)
{
	int report[2], block[2];
	struct state_db *db;
	struct flow_set s;
	struct bh_err err = { 0 };
	char c, text[64];
	pid_t pid;
	int status;

	(void) state;
	assert_int_equal(pipe(report), 0);
	assert_int_equal(pipe(block), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct gen_src g1 = { .gen = 1, .stop_at = SIZE_MAX };
		struct gen_src g2 = { .gen = 2,
				      .stop_at = KILL_FLOWS / 2,
				      .report_fd = report[1],
				      .block_fd = block[0] };
		struct state_db_flows f1 = { .n = KILL_FLOWS, .get_cb = gen_get_cb, .ud = &g1 };
		struct state_db_flows f2 = { .n = KILL_FLOWS, .get_cb = gen_get_cb, .ud = &g2 };

		close(block[1]);
		if (state_db_open(dir, &db, &err) < 0 ||
		    state_db_flows_checkpoint(db, &f1, &err) < 0 || write(report[1], "A", 1) != 1)
			_exit(2);
		(void) state_db_flows_checkpoint(db, &f2, &err);
		_exit(4); /* never reached: killed in the middle */
	}
	close(report[1]);
	assert_int_equal(read(report[0], &c, 1), 1);
	assert_int_equal(c, 'A');
	assert_int_equal(read(report[0], &c, 1), 1);
	assert_int_equal(c, 'B');
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(report[0]);
	close(block[0]);
	close(block[1]);

	/* The database is consistent and holds checkpoint 1, whole. */
	raw_text("PRAGMA integrity_check", text, sizeof(text));
	assert_string_equal(text, "ok");
	db = db_open();
	flow_set_init(&s);
	assert_int_equal(state_db_flows_load(db, &s, &err), 0);
	assert_int_equal(s.n, KILL_FLOWS);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.flows[i].packets, 1);
	flow_set_done(&s);
	state_db_free(db);
}

/* ---- alerts, modes, proposals, ruleset ---- */

static struct state_db_alert alert(char *src, char *dst, uint16_t port, uint64_t count)
{
	return (struct state_db_alert){
		.src_workload = src,
		.dst_workload = dst,
		.port = port,
		.proto = 6,
		.src_pod = (char *) "shop/web-1",
		.dst_pod = (char *) "shop/api-1",
		.direction = STATE_DB_DIR_INGRESS,
		.policy = (char *) "shop/api-allow",
		.explanation = (char *) "shop/api-allow isolates shop/api-1; no rule allows it",
		.count = count,
		.first_seen = 100,
		.last_seen = 100 + (int64_t) count,
		.state = STATE_DB_ALERT_OPEN,
	};
}

static void alerts_round_trip(void **state)
{
	char web[] = "shop/Deployment/web", api[] = "shop/Deployment/api", ext[] = "192.0.2.1";
	struct state_db_alert v[3] = {
		alert(web, api, 8080, 5),
		alert(web, api, 9090, 1),
		alert(ext, api, 8080, 2),
	};
	struct state_db_alert again, *got = NULL;
	struct bh_err err = { 0 };
	struct state_db *db = db_open();
	size_t n = 0;

	(void) state;
	v[2].direction = STATE_DB_DIR_EGRESS;
	v[2].src_pod = NULL;
	v[2].policy = NULL;
	v[2].explanation = NULL;
	assert_int_equal(state_db_alerts_save(db, v, 3, &err), 0);
	/* Ids are derived from the key, as the alert table derives them. */
	for (size_t i = 0; i < 3; i++) {
		char want[ALERT_ID_SIZE];

		alert_id_make(&(struct alert_key){ .src = v[i].src_workload,
						   .dst = v[i].dst_workload,
						   .port = v[i].port,
						   .proto = v[i].proto },
			      want);
		assert_string_equal(v[i].id, want);
	}
	assert_string_equal(v[0].id, "672cbe7c872f64f3");
	assert_string_not_equal(v[0].id, v[1].id);
	assert_string_not_equal(v[1].id, v[2].id);

	/* The same key again: deduplicated, same id, newer counts. */
	again = alert(web, api, 8080, 50);
	assert_int_equal(state_db_alerts_save(db, &again, 1, &err), 0);
	assert_string_equal(again.id, v[0].id);
	v[0].count = 50;
	v[0].last_seen = again.last_seen;

	assert_int_equal(state_db_alert_set_state(db, v[1].id, STATE_DB_ALERT_DISMISSED, &err), 1);
	v[1].state = STATE_DB_ALERT_DISMISSED;
	assert_int_equal(
		state_db_alert_set_state(db, "0000000000009999", STATE_DB_ALERT_ALLOWED, &err), 0);
	assert_int_equal(state_db_alert_set_state(db, "9999", STATE_DB_ALERT_ALLOWED, &err), 0);
	assert_int_equal(state_db_alert_set_state(db, NULL, STATE_DB_ALERT_ALLOWED, &err), 0);
	/* An alert without workloads is refused and saves nothing. */
	again.src_workload = NULL;
	assert_int_equal(state_db_alerts_save(db, &again, 1, &err), -EINVAL);
	state_db_free(db);

	db = db_open();
	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(got[i].id, v[i].id);
		assert_string_equal(got[i].src_workload, v[i].src_workload);
		assert_string_equal(got[i].dst_workload, v[i].dst_workload);
		assert_int_equal(got[i].port, v[i].port);
		assert_int_equal(got[i].proto, v[i].proto);
		assert_true(str_eq_opt(got[i].src_pod, v[i].src_pod));
		assert_true(str_eq_opt(got[i].dst_pod, v[i].dst_pod));
		assert_int_equal(got[i].direction, v[i].direction);
		assert_true(str_eq_opt(got[i].policy, v[i].policy));
		assert_true(str_eq_opt(got[i].explanation, v[i].explanation));
		assert_int_equal(got[i].count, v[i].count);
		assert_int_equal(got[i].first_seen, v[i].first_seen);
		assert_int_equal(got[i].last_seen, v[i].last_seen);
		assert_int_equal(got[i].state, v[i].state);
	}
	state_db_alerts_free(got, n);
	state_db_free(db);
}

/* Ids given by the caller (the alert table's, which may be salted after a
 * collision) are stored as given; one another key holds is refused as the
 * caller's mistake, saving nothing and leaving the store healthy. */
static void alerts_given_ids(void **state)
{
	char web[] = "shop/Deployment/web", api[] = "shop/Deployment/api";
	struct state_db_alert v[2] = { alert(web, api, 80, 1), alert(web, api, 81, 1) };
	struct state_db_alert *got = NULL;
	struct bh_err err = { 0 };
	struct state_db *db = db_open();
	size_t n = 0;

	(void) state;
	memcpy(v[0].id, "00000000000000aa", ALERT_ID_SIZE);
	assert_int_equal(state_db_alerts_save(db, v, 1, &err), 0);
	assert_string_equal(v[0].id, "00000000000000aa");
	/* Saved again, with its id or none: the stored id stays. */
	v[0].count = 2;
	assert_int_equal(state_db_alerts_save(db, v, 1, &err), 0);
	memset(v[0].id, 0, sizeof(v[0].id));
	v[0].count = 3;
	assert_int_equal(state_db_alerts_save(db, v, 1, &err), 0);
	assert_string_equal(v[0].id, "00000000000000aa");

	/* Another key with that id: refused whole. */
	v[0].count = 4;
	memcpy(v[1].id, "00000000000000aa", ALERT_ID_SIZE);
	assert_int_equal(state_db_alerts_save(db, v, 2, &err), -EEXIST);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "'00000000000000aa'"));
	assert_true(state_db_health(db)->ok);
	memcpy(v[1].id, "00000000000000AA", ALERT_ID_SIZE);
	assert_int_equal(state_db_alerts_save(db, &v[1], 1, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);

	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].id, "00000000000000aa");
	assert_int_equal(got[0].count, 3);
	state_db_alerts_free(got, n);
	assert_int_equal(
		state_db_alert_set_state(db, "00000000000000aa", STATE_DB_ALERT_ALLOWED, &err), 1);
	/* The store writes on after the refusal. */
	memset(v[1].id, 0, sizeof(v[1].id));
	assert_int_equal(state_db_alerts_save(db, &v[1], 1, &err), 0);
	state_db_free(db);
}

static void modes_proposals_ruleset_round_trip(void **state)
{
	struct state_db_mode m[2] = {
		{ .scope = (char *) STATE_DB_SCOPE_CLUSTER,
		  .mode = STATE_DB_MODE_LEARN,
		  .since = 10,
		  .learn_window = 3600 },
		{ .scope = (char *) "shop",
		  .mode = STATE_DB_MODE_PREVIEW,
		  .since = 20,
		  .learn_window = 600,
		  .preview_window = 86400 },
	};
	struct state_db_mode *got = NULL;
	struct bh_err err = { 0 };
	struct state_db *db = db_open();
	int64_t gen = 0, created = 0;
	char *json = NULL, digest[80];
	size_t n = 0;

	(void) state;
	assert_int_equal(state_db_ruleset_get(db, digest, sizeof(digest), NULL, &err), 0);
	assert_int_equal(state_db_proposal_get(db, "shop", &json, NULL, NULL, &err), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(state_db_mode_set(db, &m[i], &err), 0);
	/* shop moves on to enforce: the mode is replaced, not added. */
	m[1].mode = STATE_DB_MODE_ENFORCE;
	m[1].since = 30;
	assert_int_equal(state_db_mode_set(db, &m[1], &err), 0);
	assert_int_equal(state_db_proposal_put(db, "shop", "{\"items\":[]}", 5, &gen, &err), 0);
	assert_int_equal(gen, 1);
	assert_int_equal(state_db_proposal_put(db, "shop", "{\"items\":[1]}", 6, &gen, &err), 0);
	assert_int_equal(gen, 2);
	assert_int_equal(state_db_proposal_put(db, "", "{}", 7, &gen, &err), 0);
	assert_int_equal(gen, 1);
	assert_int_equal(state_db_ruleset_set(db, "bulkhead:sha256:abc", 40, &err), 0);
	state_db_free(db);

	db = db_open();
	assert_int_equal(state_db_modes_load(db, &got, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(got[i].scope, m[i].scope);
		assert_int_equal(got[i].mode, m[i].mode);
		assert_int_equal(got[i].since, m[i].since);
		assert_int_equal(got[i].learn_window, m[i].learn_window);
		assert_int_equal(got[i].preview_window, m[i].preview_window);
	}
	state_db_modes_free(got, n);
	assert_string_equal(state_db_mode_name(STATE_DB_MODE_PROPOSED), "proposed");
	assert_int_equal(state_db_proposal_get(db, "shop", &json, &gen, &created, &err), 1);
	assert_string_equal(json, "{\"items\":[1]}");
	assert_int_equal(gen, 2);
	assert_int_equal(created, 6);
	free(json);
	assert_int_equal(state_db_ruleset_get(db, digest, sizeof(digest), &created, &err), 1);
	assert_string_equal(digest, "bulkhead:sha256:abc");
	assert_int_equal(created, 40);
	state_db_free(db);
}

/* ---- schema ---- */

/* The schema of version 1 exactly as the first release wrote it, typed
 * again here rather than taken from the code, as an old file would be. */
static const char v1_schema[] =
	"CREATE TABLE flows (src BLOB NOT NULL, dst BLOB NOT NULL, proto INTEGER NOT NULL,"
	" port INTEGER NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	" connections INTEGER NOT NULL, first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL, seen_by INTEGER NOT NULL, src_peer INTEGER,"
	" dst_peer INTEGER, PRIMARY KEY (src, dst, proto, port)) WITHOUT ROWID;"
	"CREATE TABLE peers (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, ns TEXT,"
	" name TEXT, workload_kind TEXT, workload_name TEXT, labels BLOB);"
	"CREATE TABLE alerts (id INTEGER PRIMARY KEY, src_workload TEXT NOT NULL,"
	" dst_workload TEXT NOT NULL, port INTEGER NOT NULL, proto INTEGER NOT NULL,"
	" direction TEXT NOT NULL CHECK (direction IN ('ingress', 'egress')), policy TEXT,"
	" count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('open', 'allowed', 'dismissed')),"
	" UNIQUE (src_workload, dst_workload, port, proto));"
	"CREATE TABLE modes (scope TEXT PRIMARY KEY, mode TEXT NOT NULL"
	" CHECK (mode IN ('learn', 'proposed', 'preview', 'enforce')),"
	" since INTEGER NOT NULL, learn_window INTEGER NOT NULL,"
	" preview_window INTEGER NOT NULL);"
	"CREATE TABLE proposals (scope TEXT PRIMARY KEY, generation INTEGER NOT NULL,"
	" created INTEGER NOT NULL, json TEXT NOT NULL);"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, at INTEGER NOT NULL);";

static void migrates_v1(void **state)
{
	struct state_db_alert *got = NULL, a;
	struct state_db_mode *m = NULL;
	struct flow_set s;
	struct bh_err err = { 0 };
	struct state_db *db;
	size_t n = 0;

	(void) state;
	raw_exec(v1_schema);
	raw_exec("INSERT INTO alerts VALUES (7, 'a/Deployment/x', 'a/Deployment/y', 80, 6,"
		 " 'ingress', 'a/p', 3, 1, 2, 'allowed');"
		 "INSERT INTO modes VALUES ('a', 'preview', 11, 0, 3600);"
		 "INSERT INTO peers VALUES (1, 1, 'a', 'x-1', 'Deployment', 'x',"
		 " CAST('app' || char(0) || 'x' || char(0) AS BLOB));"
		 "INSERT INTO flows VALUES (x'0a000001', x'0a000002', 6, 80, 9, 900, 1, 1, 2, 1,"
		 " 1, NULL);"
		 "PRAGMA user_version = 1;");

	db = db_open(); /* migrated to the current version */
	assert_int_equal(raw_count("PRAGMA user_version"), STATE_DB_SCHEMA_VERSION);
	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_int_equal(n, 1);
	/* Version 3: the id is the key's (SHA-256 as docs/report.md defines it,
	 * computed with Python's hashlib). */
	assert_string_equal(got[0].id, "f045da265ccff5ba");
	assert_string_equal(got[0].policy, "a/p");
	assert_int_equal(got[0].state, STATE_DB_ALERT_ALLOWED);
	assert_null(got[0].src_pod);
	assert_null(got[0].explanation);
	/* What v2 added can be saved on the migrated file. */
	a = got[0];
	a.explanation = (char *) "why";
	assert_int_equal(state_db_alerts_save(db, &a, 1, &err), 0);
	assert_string_equal(a.id, "f045da265ccff5ba");
	state_db_alerts_free(got, n);
	assert_int_equal(state_db_modes_load(db, &m, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].mode, STATE_DB_MODE_PREVIEW);
	assert_int_equal(m[0].preview_window, 3600);
	state_db_modes_free(m, n);
	flow_set_init(&s);
	assert_int_equal(state_db_flows_load(db, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.flows[0].packets, 9);
	assert_string_equal(s.flows[0].src_peer.name, "x-1");
	assert_string_equal(labels_get(&s.flows[0].src_peer.labels, "app"), "x");
	assert_int_equal(s.flows[0].dst_peer.kind, FLOW_PEER_UNKNOWN);
	flow_set_done(&s);
	state_db_free(db);

	db = db_open();
	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_string_equal(got[0].explanation, "why");
	state_db_alerts_free(got, n);
	state_db_free(db);
}

/* Version 2 kept integer ids; version 3 derives each alert's from its
 * key, keeping everything else, and loads in first-seen order. */
static void migrates_v2(void **state)
{
	struct state_db_alert *got = NULL;
	struct bh_err err = { 0 };
	struct state_db *db;
	size_t n = 0;

	(void) state;
	raw_exec(v1_schema);
	raw_exec("ALTER TABLE alerts ADD COLUMN src_pod TEXT;"
		 "ALTER TABLE alerts ADD COLUMN dst_pod TEXT;"
		 "ALTER TABLE alerts ADD COLUMN explanation TEXT;"
		 "INSERT INTO alerts VALUES (9, 'a/Deployment/x', 'a/Deployment/z', 443, 6,"
		 " 'egress', 'a/q', 1, 5, 6, 'dismissed', 'x-1', NULL, 'why not');"
		 "INSERT INTO alerts VALUES (3, 'a/Deployment/x', 'a/Deployment/y', 80, 6,"
		 " 'ingress', 'a/p', 3, 5, 2, 'open', NULL, 'y-1', NULL);"
		 "INSERT INTO alerts VALUES (4, '192.0.2.0/24', 'a/Deployment/y', 80, 6,"
		 " 'ingress', 'a/p', 1, 1, 1, 'allowed', NULL, NULL, NULL);"
		 "PRAGMA user_version = 2;");

	db = db_open();
	assert_int_equal(raw_count("PRAGMA user_version"), STATE_DB_SCHEMA_VERSION);
	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_int_equal(n, 3);
	/* First seen 1, then the two of first seen 5 in their old id order. */
	assert_string_equal(got[0].src_workload, "192.0.2.0/24");
	assert_int_equal(got[0].state, STATE_DB_ALERT_ALLOWED);
	assert_string_equal(got[1].id, "f045da265ccff5ba");
	assert_int_equal(got[1].count, 3);
	assert_string_equal(got[1].dst_pod, "y-1");
	assert_null(got[1].explanation);
	assert_string_equal(got[2].id, "b349a316317728ba");
	assert_int_equal(got[2].direction, STATE_DB_DIR_EGRESS);
	assert_string_equal(got[2].policy, "a/q");
	assert_string_equal(got[2].src_pod, "x-1");
	assert_string_equal(got[2].explanation, "why not");
	/* Schema 4: seconds became milliseconds. */
	assert_int_equal(got[2].first_seen, 5000);
	assert_int_equal(got[2].last_seen, 6000);
	assert_int_equal(got[2].state, STATE_DB_ALERT_DISMISSED);
	for (size_t i = 0; i < n; i++) {
		char want[ALERT_ID_SIZE];

		alert_id_make(&(struct alert_key){ .src = got[i].src_workload,
						   .dst = got[i].dst_workload,
						   .port = got[i].port,
						   .proto = got[i].proto },
			      want);
		assert_string_equal(got[i].id, want);
	}
	state_db_alerts_free(got, n);
	assert_int_equal(state_db_alert_set_state(db, "f045da265ccff5ba", STATE_DB_ALERT_DISMISSED,
						  &err),
			 1);
	/* The new table holds ids to their form. */
	assert_int_equal(raw_count("SELECT count(*) FROM alerts WHERE typeof(id) = 'text'"), 3);
	state_db_free(db);
	db = db_open();
	assert_int_equal(state_db_alerts_load(db, &got, &n, &err), 0);
	assert_int_equal(got[1].state, STATE_DB_ALERT_DISMISSED);
	state_db_alerts_free(got, n);
	state_db_free(db);
}

static void refuses_newer(void **state)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	char path[128];

	(void) state;
	raw_exec("CREATE TABLE future (x); PRAGMA user_version = 99;");
	assert_int_equal(state_db_open(dir, &db, &err), -EPROTONOSUPPORT);
	assert_null(db);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	snprintf(path, sizeof(path), "'%s/state.db'", dir);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "99"));
	assert_null(strchr(err.msg, '\n'));
	/* Left as it was: not downgraded, not written. */
	assert_int_equal(raw_count("PRAGMA user_version"), 99);
	assert_int_equal(raw_count("SELECT count(*) FROM sqlite_master WHERE name = 'flows'"), 0);
}

static void refuses_not_a_database(void **state)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	char path[128];
	FILE *f;

	(void) state;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, ", f);
	fclose(f);
	assert_int_equal(state_db_open(dir, &db, &err), -EBADMSG);
	assert_null(db);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, path));
}

static void missing_directory(void **state)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	char missing[128];

	(void) state;
	/* A state directory that does not exist: a system error naming the
	 * file, nothing created. */
	snprintf(missing, sizeof(missing), "%s/junk", dir);
	assert_true(state_db_open(missing, &db, &err) < 0);
	assert_null(db);
	assert_int_equal(err.kind, BH_ERR_SYSTEM);
	assert_non_null(strstr(err.msg, "junk/state.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flows_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(flows_incremental, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(kill9_mid_checkpoint, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(alerts_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(alerts_given_ids, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(modes_proposals_ruleset_round_trip, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(migrates_v1, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(migrates_v2, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(refuses_newer, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(refuses_not_a_database, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(missing_directory, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
