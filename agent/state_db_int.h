/*
 * Inside the state store: the handle shared by its files, which call one
 * way: state_db_err.c (errors, health) <- state_db_schema.c (migrations)
 * <- state_db.c (open, transactions, small records) <- state_db_flows.c
 * (flows and their peers).
 */
#ifndef BH_STATE_DB_INT_H
#define BH_STATE_DB_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_db.h"

/* Prepared statements, prepared on first use and kept (persistent). */
enum state_db_stmt {
	SDB_FLOW_PUT,
	SDB_FLOW_DEL,
	SDB_PEER_PUT,
	SDB_ALERT_PUT,
	SDB_ALERT_STATE,
	SDB_MODE_PUT,
	SDB_MODE_DEL,
	SDB_PROPOSAL_PUT,
	SDB_PROPOSAL_GET,
	SDB_META_PUT,
	SDB_META_GET,
	_SDB_STMT_MAX,
};

/* Peers interned into the peers table: serialized peer -> row id. */
struct state_db_peer_slot {
	uint64_t hash;
	int64_t id; /* 0: empty slot */
	char *key; /* owned, @len bytes */
	size_t len;
};

struct state_db_peers {
	size_t n, cap; /* cap: 0 or a power of two */
	struct state_db_peer_slot *slots;
	bool warm; /* holds every row of the peers table */
};

struct state_db {
	sqlite3 *db;
	char *dir; /* owned */
	char *path; /* owned */
	bool readonly; /* opened read-only: writes try to reopen first */
	int version;
	sqlite3_stmt *stmt[_SDB_STMT_MAX];
	struct state_db_peers peers;
	struct state_db_health health;
};

/*
 * Turns the SQLite result @rc of doing @what into -errno and @reterr
 * ("state database 'PATH': WHAT: sqlite message"), rolls back a
 * transaction left open, and marks the store degraded when the storage
 * itself failed.  Returns the -errno.
 */
int state_db_fail(struct state_db *db, int rc, const char *what, struct bh_err *reterr);
/* A successful write: the store is healthy again. */
void state_db_ok(struct state_db *db);
/* sqlite3_exec() of @sql, failing through state_db_fail(). */
int state_db_exec(struct state_db *db, const char *sql, const char *what, struct bh_err *reterr);

/* The cached statement @which in *@ret, prepared on first use: 0, or
 * -errno through state_db_fail().  Reset and unbound by the caller after
 * use. */
int state_db_stmt(struct state_db *db, enum state_db_stmt which, sqlite3_stmt **ret,
		  struct bh_err *reterr);

/* BEGIN IMMEDIATE (reopening a read-only database read-write first) and
 * COMMIT; both fill @reterr through state_db_fail(). */
int state_db_begin(struct state_db *db, const char *what, struct bh_err *reterr);
int state_db_commit(struct state_db *db, const char *what, struct bh_err *reterr);

/* Runs the migrations from the database's version up to
 * STATE_DB_SCHEMA_VERSION (state_db_schema.c); refuses a newer one. */
int state_db_schema_migrate(struct state_db *db, struct bh_err *reterr);
/* The user_version of @db, or -errno. */
int state_db_schema_read_version(struct state_db *db, struct bh_err *reterr);

/* Forgets the interned peers (after a rollback or a full checkpoint). */
void state_db_peers_reset(struct state_db_peers *p);

#endif
