/*
 * The state database's schema and its migrations.  PRAGMA user_version
 * holds the schema version: 0 for a new file, N once migrations 1..N ran.
 * Each migration runs in its own transaction together with the version
 * bump, so a crash between two steps leaves a database at a version this
 * code knows, and the next open resumes.  A step is never edited once
 * released: a change of schema is a new step appended to the list.
 */
#include <errno.h>
#include <stdio.h>

#include "alerts.h"
#include "state_db_int.h"

/* The SQL function the migration to version 3 computes alert ids with. */
#define ALERT_ID_FN "bulkhead_alert_id"

struct migration {
	int to; /* the version after this step */
	const char *why;
	const char *sql;
};

static const struct migration migrations[] = {
	{
		.to = 1,
		.why = "flows, peers, alerts, modes, proposals and meta",
		/*
		 * Flows are keyed by their flow_key as the learner's table is:
		 * addresses as 4- or 16-byte blobs in a WITHOUT ROWID table,
		 * so a flow costs its key and counters once, with no rowid
		 * and no second index.  The peers a flow was resolved to are
		 * interned in peers (a few hundred pods for a million flows);
		 * an unresolved peer is NULL.  Labels are a blob of
		 * "key\0value\0" pairs.
		 */
		.sql = "CREATE TABLE flows ("
		       " src BLOB NOT NULL, dst BLOB NOT NULL,"
		       " proto INTEGER NOT NULL, port INTEGER NOT NULL,"
		       " packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
		       " connections INTEGER NOT NULL,"
		       " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
		       " seen_by INTEGER NOT NULL,"
		       " src_peer INTEGER, dst_peer INTEGER,"
		       " PRIMARY KEY (src, dst, proto, port)) WITHOUT ROWID;"
		       "CREATE TABLE peers ("
		       " id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
		       " ns TEXT, name TEXT, workload_kind TEXT, workload_name TEXT,"
		       " labels BLOB);"
		       "CREATE TABLE alerts ("
		       " id INTEGER PRIMARY KEY,"
		       " src_workload TEXT NOT NULL, dst_workload TEXT NOT NULL,"
		       " port INTEGER NOT NULL, proto INTEGER NOT NULL,"
		       " direction TEXT NOT NULL CHECK (direction IN ('ingress', 'egress')),"
		       " policy TEXT,"
		       " count INTEGER NOT NULL,"
		       " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
		       " state TEXT NOT NULL"
		       "  CHECK (state IN ('open', 'allowed', 'dismissed')),"
		       " UNIQUE (src_workload, dst_workload, port, proto));"
		       "CREATE TABLE modes ("
		       " scope TEXT PRIMARY KEY,"
		       " mode TEXT NOT NULL"
		       "  CHECK (mode IN ('learn', 'proposed', 'preview', 'enforce')),"
		       " since INTEGER NOT NULL,"
		       " learn_window INTEGER NOT NULL, preview_window INTEGER NOT NULL);"
		       "CREATE TABLE proposals ("
		       " scope TEXT PRIMARY KEY, generation INTEGER NOT NULL,"
		       " created INTEGER NOT NULL, json TEXT NOT NULL);"
		       "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
		       " at INTEGER NOT NULL);",
	},
	{
		.to = 2,
		.why = "alerts name a pod of each side and explain the denial (issue 15)",
		.sql = "ALTER TABLE alerts ADD COLUMN src_pod TEXT;"
		       "ALTER TABLE alerts ADD COLUMN dst_pod TEXT;"
		       "ALTER TABLE alerts ADD COLUMN explanation TEXT;",
	},
	{
		.to = 3,
		.why = "alert ids are 16 hex digits derived from the key, as in the report",
		/*
		 * SQLite cannot change a column's type: the table is copied.
		 * Each row's id is computed from its key by alert_id_make()
		 * (registered as ALERT_ID_FN), so an id saved before means
		 * the same alert as the table's and the report's.  The rowid
		 * keeps the old id's order (the order of first saving), which
		 * breaks ties of first seen when loading.
		 */
		.sql = "CREATE TABLE alerts_v3 ("
		       " id TEXT NOT NULL UNIQUE"
		       "  CHECK (length(id) = 16 AND id NOT GLOB '*[^0-9a-f]*'),"
		       " src_workload TEXT NOT NULL, dst_workload TEXT NOT NULL,"
		       " port INTEGER NOT NULL, proto INTEGER NOT NULL,"
		       " direction TEXT NOT NULL CHECK (direction IN ('ingress', 'egress')),"
		       " policy TEXT,"
		       " count INTEGER NOT NULL,"
		       " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
		       " state TEXT NOT NULL"
		       "  CHECK (state IN ('open', 'allowed', 'dismissed')),"
		       " src_pod TEXT, dst_pod TEXT, explanation TEXT,"
		       " UNIQUE (src_workload, dst_workload, port, proto));"
		       "INSERT INTO alerts_v3 (id, src_workload, dst_workload, port, proto,"
		       " direction, policy, count, first_seen, last_seen, state, src_pod,"
		       " dst_pod, explanation)"
		       " SELECT " ALERT_ID_FN "(src_workload, dst_workload, port, proto),"
		       " src_workload, dst_workload, port, proto, direction, policy, count,"
		       " first_seen, last_seen, state, src_pod, dst_pod, explanation"
		       " FROM alerts ORDER BY id;"
		       "DROP TABLE alerts;"
		       "ALTER TABLE alerts_v3 RENAME TO alerts;",
	},
	{
		.to = 4,
		.why = "alert times in milliseconds, as the alert table and the report keep them",
		.sql = "UPDATE alerts SET first_seen = first_seen * 1000,"
		       " last_seen = last_seen * 1000;",
	},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STATE_DB_SCHEMA_VERSION,
	       "one migration step per schema version");

int state_db_schema_read_version(struct state_db *db, struct bh_err *reterr)
{
	sqlite3_stmt *st = NULL;
	int rc, v;

	rc = sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading the schema version", reterr);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return state_db_fail(db, rc, "reading the schema version", reterr);
	}
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ALERT_ID_FN(src, dst, port, proto): alert_id_make() of the key; NULL
 * for a NULL peer. */
static void alert_id_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *src = (const char *) sqlite3_value_text(argv[0]);
	const char *dst = (const char *) sqlite3_value_text(argv[1]);
	char id[ALERT_ID_SIZE];

	(void) argc;
	if (!src || !dst) {
		sqlite3_result_null(ctx);
		return;
	}
	alert_id_make(&(struct alert_key){ .src = src,
					   .dst = dst,
					   .port = (uint16_t) sqlite3_value_int(argv[2]),
					   .proto = (uint8_t) sqlite3_value_int(argv[3]) },
		      id);
	sqlite3_result_text(ctx, id, ALERT_ID_LEN, SQLITE_TRANSIENT);
}

static int migrate_one(struct state_db *db, const struct migration *m, struct bh_err *reterr)
{
	char what[128], pragma[64];
	int rc, r;

	snprintf(what, sizeof(what), "migrating the schema to version %d (%s)", m->to, m->why);
	/* Migrations run while opening, read-write: no reopen to try. */
	r = state_db_exec(db, "BEGIN IMMEDIATE", what, reterr);
	if (r < 0)
		return r;
	rc = sqlite3_exec(db->db, m->sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, what, reterr);
	/* Written with the step's own changes: both commit or neither. */
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->to);
	rc = sqlite3_exec(db->db, pragma, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, what, reterr);
	return state_db_exec(db, "COMMIT", what, reterr);
}

int state_db_schema_migrate(struct state_db *db, struct bh_err *reterr)
{
	int v = state_db_schema_read_version(db, reterr);
	int r;

	if (v < 0)
		return v;
	if (v > STATE_DB_SCHEMA_VERSION)
		return bh_err_set(reterr, BH_ERR_INPUT, -EPROTONOSUPPORT,
				  "state database '%s': schema version %d is newer than this "
				  "bulkhead's (%d): refusing to open it, run a newer bulkhead",
				  db->path, v, STATE_DB_SCHEMA_VERSION);
	if (v < STATE_DB_SCHEMA_VERSION && !db->readonly) {
		int rc = sqlite3_create_function_v2(db->db, ALERT_ID_FN, 4,
						    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
						    alert_id_fn, NULL, NULL, NULL);

		if (rc != SQLITE_OK)
			return state_db_fail(db, rc, "migrating the schema", reterr);
	}
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (migrations[i].to <= v)
			continue;
		if (db->readonly)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EROFS,
					  "state database '%s': schema version %d needs migrating "
					  "to %d but the database is read-only",
					  db->path, v, STATE_DB_SCHEMA_VERSION);
		r = migrate_one(db, &migrations[i], reterr);
		if (r < 0)
			return r;
		v = migrations[i].to;
	}
	db->version = v;
	return 0;
}
