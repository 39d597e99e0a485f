/*
 * The agent's state store (include/state_db.h): opening the database,
 * transactions, cached statements, and the small records (alerts, modes,
 * proposals, the applied ruleset's digest).  Errors and health are in
 * state_db_err.c, the schema in state_db_schema.c, flows in
 * state_db_flows.c.
 *
 * Why SQLite in WAL mode: a transaction commits whole or not at all, so a
 * kill -9 or a full disk during a checkpoint leaves the previous one
 * intact without a write-rename scheme of our own; the WAL appends only
 * the pages a checkpoint changes, so an incremental checkpoint costs what
 * changed, not the whole table; and readers (a status request) never
 * wait for a writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "state_db_int.h"
#include "str.h"
#include "vec.h"

/* A writer of another process (the sqlite3 shell, a second agent by
 * mistake) holding the lock makes us wait this long before failing. */
#define STATE_DB_BUSY_MS 5000
/* After a WAL checkpoint, the WAL file is truncated back to this size, so
 * one big checkpoint does not keep its size on disk for ever. */
#define STATE_DB_WAL_KEEP (16 * 1024 * 1024)
/* SQLite's page cache.  A checkpoint inserts flows in the learner's order,
 * random for the table's key order: with SQLite's default 2 MiB, pages
 * spill to the WAL and are written again and again; 16 MiB took a full
 * checkpoint of 200,000 flows from 750 to 480 ms of CPU (docs/figures.md). */
#define STATE_DB_CACHE_KIB 16384

static const char *const stmt_sql[_SDB_STMT_MAX] = {
	[SDB_FLOW_PUT] = "INSERT OR REPLACE INTO flows (src, dst, proto, port, packets, bytes,"
			 " connections, first_seen, last_seen, seen_by, src_peer, dst_peer)"
			 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[SDB_FLOW_DEL] = "DELETE FROM flows WHERE src = ? AND dst = ? AND proto = ? AND port = ?",
	[SDB_PEER_PUT] = "INSERT INTO peers (kind, ns, name, workload_kind, workload_name,"
			 " labels) VALUES (?, ?, ?, ?, ?, ?)",
	[SDB_ALERT_PUT] = "INSERT INTO alerts (src_workload, dst_workload, port, proto,"
			  " src_pod, dst_pod, direction, policy, explanation, count,"
			  " first_seen, last_seen, state, id)"
			  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
			  " ON CONFLICT (src_workload, dst_workload, port, proto) DO UPDATE SET"
			  " src_pod = excluded.src_pod, dst_pod = excluded.dst_pod,"
			  " direction = excluded.direction, policy = excluded.policy,"
			  " explanation = excluded.explanation, count = excluded.count,"
			  " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
			  " state = excluded.state RETURNING id",
	[SDB_ALERT_STATE] = "UPDATE alerts SET state = ? WHERE id = ?",
	[SDB_MODE_PUT] = "INSERT OR REPLACE INTO modes (scope, mode, since, learn_window,"
			 " preview_window) VALUES (?, ?, ?, ?, ?)",
	[SDB_MODE_DEL] = "DELETE FROM modes WHERE scope = ?",
	[SDB_PROPOSAL_PUT] = "INSERT INTO proposals (scope, generation, created, json)"
			     " VALUES (?, 1, ?, ?) ON CONFLICT (scope) DO UPDATE SET"
			     " generation = generation + 1, created = excluded.created,"
			     " json = excluded.json RETURNING generation",
	[SDB_PROPOSAL_GET] = "SELECT json, generation, created FROM proposals WHERE scope = ?",
	[SDB_META_PUT] = "INSERT OR REPLACE INTO meta (key, value, at) VALUES (?, ?, ?)",
	[SDB_META_GET] = "SELECT value, at FROM meta WHERE key = ?",
};

static const char *const alert_state_names[_STATE_DB_ALERT_STATE_MAX] = {
	[STATE_DB_ALERT_OPEN] = "open",
	[STATE_DB_ALERT_ALLOWED] = "allowed",
	[STATE_DB_ALERT_DISMISSED] = "dismissed",
};

static const char *const direction_names[_STATE_DB_DIR_MAX] = {
	[STATE_DB_DIR_INGRESS] = "ingress",
	[STATE_DB_DIR_EGRESS] = "egress",
};

static const char *const mode_names[_STATE_DB_MODE_MAX] = {
	[STATE_DB_MODE_LEARN] = "learn",
	[STATE_DB_MODE_PROPOSED] = "proposed",
	[STATE_DB_MODE_PREVIEW] = "preview",
	[STATE_DB_MODE_ENFORCE] = "enforce",
};

const char *state_db_mode_name(enum state_db_mode_kind m)
{
	return (unsigned) m < _STATE_DB_MODE_MAX ? mode_names[m] : NULL;
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int) i;
	return -1;
}

/* ---- health ---- */

const struct state_db_health *state_db_health(const struct state_db *db)
{
	return &db->health;
}

const char *state_db_path(const struct state_db *db)
{
	return db->path;
}

int state_db_schema_version(const struct state_db *db)
{
	return db->version;
}

/* ---- open and close ---- */

static void stmts_finalize(struct state_db *db)
{
	for (size_t i = 0; i < _SDB_STMT_MAX; i++) {
		sqlite3_finalize(db->stmt[i]);
		db->stmt[i] = NULL;
	}
}

int state_db_stmt(struct state_db *db, enum state_db_stmt which, sqlite3_stmt **ret,
		  struct bh_err *reterr)
{
	int rc;

	if (!db->stmt[which]) {
		rc = sqlite3_prepare_v3(db->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
					&db->stmt[which], NULL);
		if (rc != SQLITE_OK) {
			db->stmt[which] = NULL;
			return state_db_fail(db, rc, "preparing a statement", reterr);
		}
	}
	*ret = db->stmt[which];
	return 0;
}

/* "file:PATH?immutable=1", with the characters a URI path may not hold
 * escaped; NULL on ENOMEM. */
static char *immutable_uri(const char *path)
{
	struct buf b;
	int r;

	buf_init(&b, SIZE_MAX);
	r = buf_printf(&b, "file:");
	for (const char *p = path; r == 0 && *p; p++)
		r = strchr("%?#", *p) ? buf_printf(&b, "%%%02X", (unsigned char) *p) :
					buf_append(&b, p, 1);
	if (r == 0)
		r = buf_printf(&b, "?immutable=1");
	if (r < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b);
}

enum connect_how {
	CONNECT_RW,
	CONNECT_RO,
	/* Read-only media with no -shm file, which a plain read-only WAL
	 * connection needs (SQLite 3.22+): SQLite then assumes nobody writes
	 * the file, true while the directory stays read-only; the store
	 * reopens read-write before any write. */
	CONNECT_RO_IMMUTABLE,
};

/* Opens the file on db->db and sets the connection up; db->db is closed
 * again on failure. */
static int db_connect(struct state_db *db, enum connect_how how, struct bh_err *reterr)
{
	bool readonly = how != CONNECT_RW;
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	char pragma[96], *uri = NULL;
	int rc, r;

	if (how == CONNECT_RO_IMMUTABLE) {
		uri = immutable_uri(db->path);
		if (!uri)
			return bh_err_oom(reterr);
		flags |= SQLITE_OPEN_URI;
	}
	rc = sqlite3_open_v2(uri ? uri : db->path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		r = state_db_fail(db, rc, "opening", reterr);
		goto fail;
	}
	sqlite3_extended_result_codes(db->db, 1);
	sqlite3_busy_timeout(db->db, STATE_DB_BUSY_MS);
	db->readonly = readonly;
	if (!readonly) {
		/* The first statement that touches the file: a directory that
		 * cannot be written fails here. */
		r = state_db_exec(db, "PRAGMA journal_mode = WAL", "switching to WAL mode", reterr);
		if (r < 0)
			goto fail;
		/* In WAL mode NORMAL syncs at WAL checkpoints only: a crash of the
		 * process loses nothing committed, a power loss at most the last
		 * transactions, and the file stays consistent either way. */
		snprintf(pragma, sizeof(pragma),
			 "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = %d;"
			 " PRAGMA cache_size = -%d",
			 STATE_DB_WAL_KEEP, STATE_DB_CACHE_KIB);
		r = state_db_exec(db, pragma, "setting up the connection", reterr);
		if (r < 0)
			goto fail;
	}
	/* No table declares foreign keys today; on, so one added later is
	 * enforced without anyone remembering this. */
	r = state_db_exec(db, "PRAGMA foreign_keys = ON", "setting up the connection", reterr);
	if (r < 0)
		goto fail;
	r = state_db_schema_migrate(db, reterr);
	if (r < 0)
		goto fail;
	return 0;

fail:
	stmts_finalize(db);
	sqlite3_close_v2(db->db);
	db->db = NULL;
	return r;
}

/* The store cannot be written (open read-only): the one line for the
 * caller and for state_db_health(). */
static int set_unwritable(struct state_db *db, int code, const char *what, struct bh_err *reterr)
{
	const char *name = strerrorname_np(-code);

	snprintf(db->health.msg, sizeof(db->health.msg),
		 "state database '%s': %s: the state directory cannot be written (%s)", db->path,
		 what, name ? name : "?");
	db->health.ok = false;
	db->health.code = code;
	return bh_err_set(reterr, BH_ERR_SYSTEM, code, "%s", db->health.msg);
}

static bool storage_refused(int r)
{
	return r == -EROFS || r == -EACCES || r == -EPERM || r == -ENOSPC || r == -EDQUOT ||
	       r == -EIO;
}

int state_db_open(const char *dir, struct state_db **ret, struct bh_err *reterr)
{
	struct state_db *db = calloc(1, sizeof(*db));
	struct bh_err rw_err = { 0 };
	int r;

	if (!db)
		return bh_err_oom(reterr);
	db->dir = strdup(dir);
	if (!db->dir || asprintf(&db->path, "%s/%s", dir, STATE_DB_FILE) < 0) {
		db->path = NULL;
		r = bh_err_oom(reterr);
		goto fail;
	}
	state_db_ok(db);
	r = db_connect(db, CONNECT_RW, &rw_err);
	if (r < 0 && storage_refused(r) && access(db->path, F_OK) == 0) {
		/* What was saved stays readable: the agent starts with it and
		 * reports the store degraded until the directory is writable. */
		r = db_connect(db, CONNECT_RO, reterr);
		if (r < 0 && access(db->path, R_OK) == 0)
			r = db_connect(db, CONNECT_RO_IMMUTABLE, reterr);
		if (r == 0)
			(void) set_unwritable(db, rw_err.code, "opened read-only", NULL);
	} else if (r < 0 && reterr) {
		*reterr = rw_err;
	}
	if (r < 0)
		goto fail;
	*ret = db;
	return 0;

fail:
	state_db_free(db);
	return r;
}

struct state_db *state_db_free(struct state_db *db)
{
	if (!db)
		return NULL;
	stmts_finalize(db);
	if (db->db)
		sqlite3_close_v2(db->db);
	state_db_peers_reset(&db->peers);
	free(db->peers.slots);
	free(db->path);
	free(db->dir);
	free(db);
	return NULL;
}

/* A read-only store tries to become writable before each write. */
static int reopen_rw(struct state_db *db, struct bh_err *reterr)
{
	sqlite3 *old = db->db;
	sqlite3_stmt *old_stmt[_SDB_STMT_MAX];
	int r;

	memcpy(old_stmt, db->stmt, sizeof(old_stmt));
	memset(db->stmt, 0, sizeof(db->stmt));
	db->db = NULL;
	r = db_connect(db, CONNECT_RW, reterr);
	if (r < 0) {
		db->db = old;
		db->readonly = true;
		memcpy(db->stmt, old_stmt, sizeof(old_stmt));
		return r;
	}
	for (size_t i = 0; i < _SDB_STMT_MAX; i++)
		sqlite3_finalize(old_stmt[i]);
	sqlite3_close_v2(old);
	state_db_peers_reset(&db->peers);
	return 0;
}

int state_db_begin(struct state_db *db, const char *what, struct bh_err *reterr)
{
	int r;

	if (db->readonly) {
		r = reopen_rw(db, NULL);
		if (r < 0)
			return set_unwritable(db, r, what, reterr);
	}
	return state_db_exec(db, "BEGIN IMMEDIATE", what, reterr);
}

int state_db_commit(struct state_db *db, const char *what, struct bh_err *reterr)
{
	int r = state_db_exec(db, "COMMIT", what, reterr);

	if (r == 0)
		state_db_ok(db);
	return r;
}

/* Steps @st to its end (a write), then resets it for the next use. */
static int step_done(struct state_db *db, sqlite3_stmt *st, const char *what, struct bh_err *reterr)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : state_db_fail(db, rc, what, reterr);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* A copy of a text column (NULL stays NULL); sets *failed on ENOMEM. */
static char *column_dup(sqlite3_stmt *st, int i, bool *failed)
{
	return str_dup_opt((const char *) sqlite3_column_text(st, i), failed);
}

/* ---- alerts ---- */

static bool alert_valid(const struct state_db_alert *a)
{
	return a->src_workload && a->dst_workload && (!a->id[0] || alert_id_valid(a->id)) &&
	       (unsigned) a->state < _STATE_DB_ALERT_STATE_MAX &&
	       (unsigned) a->direction < _STATE_DB_DIR_MAX;
}

static int alert_put(struct state_db *db, sqlite3_stmt *st, struct state_db_alert *a,
		     const char *what, struct bh_err *reterr)
{
	char id[ALERT_ID_SIZE];
	int rc;

	if (a->id[0])
		memcpy(id, a->id, sizeof(id));
	else
		alert_id_make(&(struct alert_key){ .src = a->src_workload,
						   .dst = a->dst_workload,
						   .port = a->port,
						   .proto = a->proto },
			      id);

	bind_text(st, 1, a->src_workload);
	bind_text(st, 2, a->dst_workload);
	sqlite3_bind_int(st, 3, a->port);
	sqlite3_bind_int(st, 4, a->proto);
	bind_text(st, 5, a->src_pod);
	bind_text(st, 6, a->dst_pod);
	bind_text(st, 7, direction_names[a->direction]);
	bind_text(st, 8, a->policy);
	bind_text(st, 9, a->explanation);
	sqlite3_bind_int64(st, 10, (sqlite3_int64) a->count);
	sqlite3_bind_int64(st, 11, a->first_seen);
	sqlite3_bind_int64(st, 12, a->last_seen);
	bind_text(st, 13, alert_state_names[a->state]);
	bind_text(st, 14, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *got = (const char *) sqlite3_column_text(st, 0);

		/* The table's CHECK holds stored ids to the form. */
		if (alert_id_valid(got))
			memcpy(a->id, got, ALERT_ID_SIZE);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		/* The key's conflict is an update: this is the id's, a caller's
		 * mistake, not the storage's, so the store stays healthy. */
		(void) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return bh_err_set(reterr, BH_ERR_INPUT, -EEXIST,
				  "state database '%s': %s: alert id '%s' is another alert's",
				  db->path, what, id);
	}
	return rc == SQLITE_DONE ? 0 : state_db_fail(db, rc, what, reterr);
}

int state_db_alerts_save(struct state_db *db, struct state_db_alert *v, size_t n,
			 struct bh_err *reterr)
{
	char what[64];
	sqlite3_stmt *st;
	char(*ids)[ALERT_ID_SIZE];
	int r;

	snprintf(what, sizeof(what), "saving %zu alerts", n);
	for (size_t i = 0; i < n; i++)
		if (!alert_valid(&v[i]))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "state database '%s': %s: alert %zu has no workloads, "
					  "an unknown state or direction, or a malformed id",
					  db->path, what, i);
	/* Ids are set only once the transaction committed. */
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return bh_err_oom(reterr);
	r = state_db_begin(db, what, reterr);
	if (r < 0)
		goto out;
	r = state_db_stmt(db, SDB_ALERT_PUT, &st, reterr);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct state_db_alert a = v[i];

		r = alert_put(db, st, &a, what, reterr);
		if (r < 0)
			goto out;
		memcpy(ids[i], a.id, ALERT_ID_SIZE);
	}
	r = state_db_commit(db, what, reterr);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		memcpy(v[i].id, ids[i], ALERT_ID_SIZE);
out:
	free(ids);
	return r;
}

int state_db_alert_set_state(struct state_db *db, const char *id, enum state_db_alert_state s,
			     struct bh_err *reterr)
{
	const char *what = "setting an alert's state";
	sqlite3_stmt *st;
	int r, changed;

	if ((unsigned) s >= _STATE_DB_ALERT_STATE_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "state database '%s': alert '%s': unknown state %d", db->path,
				  id ? id : "", (int) s);
	if (!alert_id_valid(id))
		return 0;
	r = state_db_begin(db, what, reterr);
	if (r < 0)
		return r;
	r = state_db_stmt(db, SDB_ALERT_STATE, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, alert_state_names[s]);
	bind_text(st, 2, id);
	r = step_done(db, st, what, reterr);
	if (r < 0)
		return r;
	changed = sqlite3_changes(db->db) > 0;
	r = state_db_commit(db, what, reterr);
	return r < 0 ? r : changed;
}

void state_db_alerts_free(struct state_db_alert *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].src_workload);
		free(v[i].dst_workload);
		free(v[i].src_pod);
		free(v[i].dst_pod);
		free(v[i].policy);
		free(v[i].explanation);
	}
	free(v);
}

int state_db_alerts_load(struct state_db *db, struct state_db_alert **ret, size_t *ret_n,
			 struct bh_err *reterr)
{
	const char *sql = "SELECT id, src_workload, dst_workload, port, proto, src_pod, dst_pod,"
			  " direction, policy, explanation, count, first_seen, last_seen, state"
			  " FROM alerts ORDER BY first_seen, rowid";
	struct state_db_alert *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	bool failed = false;
	int rc, r;

	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading alerts", reterr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_db_alert *a = vec_grow(v, &cap, n + 1, sizeof(*a));

		if (!a) {
			failed = true;
			break;
		}
		v = a;
		a = &v[n++];
		*a = (struct state_db_alert){ 0 };
		snprintf(a->id, sizeof(a->id), "%s",
			 sqlite3_column_text(st, 0) ? (const char *) sqlite3_column_text(st, 0) :
						      "");
		a->src_workload = column_dup(st, 1, &failed);
		a->dst_workload = column_dup(st, 2, &failed);
		a->port = (uint16_t) sqlite3_column_int(st, 3);
		a->proto = (uint8_t) sqlite3_column_int(st, 4);
		a->src_pod = column_dup(st, 5, &failed);
		a->dst_pod = column_dup(st, 6, &failed);
		a->direction = name_index(direction_names, _STATE_DB_DIR_MAX,
					  (const char *) sqlite3_column_text(st, 7));
		a->policy = column_dup(st, 8, &failed);
		a->explanation = column_dup(st, 9, &failed);
		a->count = (uint64_t) sqlite3_column_int64(st, 10);
		a->first_seen = sqlite3_column_int64(st, 11);
		a->last_seen = sqlite3_column_int64(st, 12);
		a->state = name_index(alert_state_names, _STATE_DB_ALERT_STATE_MAX,
				      (const char *) sqlite3_column_text(st, 13));
		if (failed)
			break;
	}
	if (failed) {
		r = bh_err_oom(reterr);
	} else if (rc != SQLITE_DONE) {
		r = state_db_fail(db, rc, "reading alerts", reterr);
	} else {
		*ret = v;
		*ret_n = n;
		v = NULL;
		r = 0;
	}
	sqlite3_finalize(st);
	state_db_alerts_free(v, n);
	return r;
}

/* ---- modes ---- */

int state_db_mode_set(struct state_db *db, const struct state_db_mode *m, struct bh_err *reterr)
{
	const char *what = "saving a mode";
	sqlite3_stmt *st;
	int r;

	if (!m->scope || !state_db_mode_name(m->mode))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "state database '%s': %s: no scope or an unknown mode", db->path,
				  what);
	r = state_db_begin(db, what, reterr);
	if (r < 0)
		return r;
	r = state_db_stmt(db, SDB_MODE_PUT, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, m->scope);
	bind_text(st, 2, state_db_mode_name(m->mode));
	sqlite3_bind_int64(st, 3, m->since);
	sqlite3_bind_int64(st, 4, m->learn_window);
	sqlite3_bind_int64(st, 5, m->preview_window);
	r = step_done(db, st, what, reterr);
	if (r < 0)
		return r;
	return state_db_commit(db, what, reterr);
}

int state_db_mode_del(struct state_db *db, const char *scope, struct bh_err *reterr)
{
	const char *what = "removing a mode";
	sqlite3_stmt *st;
	int r;

	r = state_db_begin(db, what, reterr);
	if (r < 0)
		return r;
	r = state_db_stmt(db, SDB_MODE_DEL, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, scope);
	r = step_done(db, st, what, reterr);
	if (r < 0)
		return r;
	return state_db_commit(db, what, reterr);
}

void state_db_modes_free(struct state_db_mode *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].scope);
	free(v);
}

int state_db_modes_load(struct state_db *db, struct state_db_mode **ret, size_t *ret_n,
			struct bh_err *reterr)
{
	const char *sql = "SELECT scope, mode, since, learn_window, preview_window FROM modes"
			  " ORDER BY scope";
	struct state_db_mode *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	bool failed = false;
	int rc, r;

	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading modes", reterr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_db_mode *m = vec_grow(v, &cap, n + 1, sizeof(*m));

		if (!m) {
			failed = true;
			break;
		}
		v = m;
		m = &v[n++];
		*m = (struct state_db_mode){ 0 };
		m->scope = column_dup(st, 0, &failed);
		m->mode = name_index(mode_names, _STATE_DB_MODE_MAX,
				     (const char *) sqlite3_column_text(st, 1));
		m->since = sqlite3_column_int64(st, 2);
		m->learn_window = sqlite3_column_int64(st, 3);
		m->preview_window = sqlite3_column_int64(st, 4);
		if (failed)
			break;
	}
	if (failed) {
		r = bh_err_oom(reterr);
	} else if (rc != SQLITE_DONE) {
		r = state_db_fail(db, rc, "reading modes", reterr);
	} else {
		*ret = v;
		*ret_n = n;
		v = NULL;
		r = 0;
	}
	sqlite3_finalize(st);
	state_db_modes_free(v, n);
	return r;
}

/* ---- proposals ---- */

int state_db_proposal_put(struct state_db *db, const char *scope, const char *json, int64_t created,
			  int64_t *ret_generation, struct bh_err *reterr)
{
	const char *what = "saving a proposal";
	sqlite3_stmt *st;
	int64_t gen = 0;
	int rc, r;

	r = state_db_begin(db, what, reterr);
	if (r < 0)
		return r;
	r = state_db_stmt(db, SDB_PROPOSAL_PUT, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, scope);
	sqlite3_bind_int64(st, 2, created);
	bind_text(st, 3, json);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		gen = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return state_db_fail(db, rc, what, reterr);
	r = state_db_commit(db, what, reterr);
	if (r < 0)
		return r;
	if (ret_generation)
		*ret_generation = gen;
	return 0;
}

int state_db_proposal_get(struct state_db *db, const char *scope, char **ret_json,
			  int64_t *ret_generation, int64_t *ret_created, struct bh_err *reterr)
{
	sqlite3_stmt *st;
	bool failed = false;
	char *json;
	int rc, r;

	r = state_db_stmt(db, SDB_PROPOSAL_GET, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, scope);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		json = column_dup(st, 0, &failed);
		if (failed) {
			r = bh_err_oom(reterr);
		} else {
			*ret_json = json;
			if (ret_generation)
				*ret_generation = sqlite3_column_int64(st, 1);
			if (ret_created)
				*ret_created = sqlite3_column_int64(st, 2);
			r = 1;
		}
	} else if (rc != SQLITE_DONE) {
		r = state_db_fail(db, rc, "reading a proposal", reterr);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

/* ---- the applied ruleset ---- */

#define META_RULESET_DIGEST "ruleset_digest"

int state_db_ruleset_set(struct state_db *db, const char *digest, int64_t applied_at,
			 struct bh_err *reterr)
{
	const char *what = "saving the ruleset digest";
	sqlite3_stmt *st;
	int r;

	r = state_db_begin(db, what, reterr);
	if (r < 0)
		return r;
	r = state_db_stmt(db, SDB_META_PUT, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, META_RULESET_DIGEST);
	bind_text(st, 2, digest);
	sqlite3_bind_int64(st, 3, applied_at);
	r = step_done(db, st, what, reterr);
	if (r < 0)
		return r;
	return state_db_commit(db, what, reterr);
}

int state_db_ruleset_get(struct state_db *db, char *buf, size_t len, int64_t *ret_applied_at,
			 struct bh_err *reterr)
{
	sqlite3_stmt *st;
	int rc, r;

	r = state_db_stmt(db, SDB_META_GET, &st, reterr);
	if (r < 0)
		return r;
	bind_text(st, 1, META_RULESET_DIGEST);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *) sqlite3_column_text(st, 0);

		snprintf(buf, len, "%s", v ? v : "");
		if (ret_applied_at)
			*ret_applied_at = sqlite3_column_int64(st, 1);
		r = 1;
	} else if (rc != SQLITE_DONE) {
		r = state_db_fail(db, rc, "reading the ruleset digest", reterr);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}
