/*
 * The agent's state store: one SQLite database in WAL mode in the state
 * directory (DIR/state.db) holding what must survive a restart: learned
 * flows, preview alerts, the mode of each namespace and of the cluster,
 * proposals and the digest of the ruleset last applied.
 *
 * Contract:
 * - Every write is one transaction: it is saved whole or not at all.  A
 *   write that fails (a full or read-only state directory) rolls back,
 *   leaves what was saved before untouched, and the caller keeps its
 *   in-memory data so that the next write retries.
 * - A failure of the storage itself (ENOSPC, EROFS, EACCES, EIO) also turns
 *   state_db_health() to degraded with the one-line message, for /readyz;
 *   the next write that succeeds turns it back to ok.
 * - A kill -9 loses at most the transaction in flight; a power loss may
 *   also lose the last few committed ones (synchronous=NORMAL in WAL mode),
 *   never the consistency of the file.
 * - The schema has a version (PRAGMA user_version) and migrations
 *   (agent/state_db_schema.c); a database written by a newer bulkhead is
 *   refused, never downgraded.
 *
 * Single-threaded: one struct state_db is used by one thread at a time
 * (the agent's loop).  Functions return -errno and fill @reterr with one
 * line naming the database file.
 */
#ifndef BH_STATE_DB_H
#define BH_STATE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "err.h"
#include "flow.h"
#include "flows_json.h"

/* The file inside the state directory. */
#define STATE_DB_FILE "state.db"
/* The schema this code writes; older databases are migrated to it. */
#define STATE_DB_SCHEMA_VERSION 4
/* The scope of the cluster-wide mode and proposal (namespaces use their
 * name as scope). */
#define STATE_DB_SCOPE_CLUSTER ""

struct state_db;

/*
 * Opens (creating when absent) @dir/state.db and brings its schema to
 * STATE_DB_SCHEMA_VERSION, each migration step in its own transaction.
 * When the directory or the file cannot be written but the database
 * exists, it is opened read-only: everything saved can be read, writes
 * fail, and state_db_health() says degraded (each write tries to reopen
 * it read-write first, so the store recovers when the directory does).
 * -EPROTONOSUPPORT (input) for a database of a newer schema, -EBADMSG
 * (input) for a file that is not a state database, -errno (system)
 * otherwise.
 */
int state_db_open(const char *dir, struct state_db **ret, struct bh_err *reterr);
/* Closes the database (its WAL is checkpointed); NULL-safe; returns NULL. */
struct state_db *state_db_free(struct state_db *db);

/* The path of the database file (borrowed, lives as long as @db). */
const char *state_db_path(const struct state_db *db);
/* The schema version of the open database (STATE_DB_SCHEMA_VERSION once
 * open). */
int state_db_schema_version(const struct state_db *db);

struct state_db_health {
	bool ok;
	int code; /* -errno of the last storage failure; 0 when ok */
	char msg[BH_ERR_MSG_MAX]; /* one line naming the file; "" when ok */
};

/* Whether the store can save: ok, or degraded with why (borrowed). */
const struct state_db_health *state_db_health(const struct state_db *db);

/* ---- learned flows (agent/state_db_flows.c) ---- */

/*
 * A sequence of flows read through a callback, so a checkpoint reads the
 * learner's table in place (flow_table_record_at()) instead of a copy.
 * @get_cb fills @ret for index @i (< @n); the peers' strings are borrowed
 * and need to live only until the next call.
 */
struct state_db_flows {
	size_t n;
	void (*get_cb)(void *ud, size_t i, struct flow_record *ret);
	void *ud;
};

/* A struct state_db_flows over an array (borrowed). */
struct state_db_flows state_db_flows_of_array(const struct flow_record *v, size_t n);

/*
 * Checkpoint: replaces every stored flow by @all, in one transaction.
 * On failure the stored flows are those of the previous checkpoint.
 */
int state_db_flows_checkpoint(struct state_db *db, const struct state_db_flows *all,
			      struct bh_err *reterr);

/*
 * Incremental checkpoint: inserts or replaces the flows of @changed and
 * deletes the @n_gone keys of @gone (evicted flows), in one transaction.
 * Peers no flow refers to any more are dropped by the next full
 * checkpoint.
 */
int state_db_flows_update(struct state_db *db, const struct state_db_flows *changed,
			  const struct flow_key *gone, size_t n_gone, struct bh_err *reterr);

/*
 * Appends every stored flow, in no particular order, to @s (initialised,
 * normally empty), with their peers in @s's peer pool as flows_json_load()
 * does.  On failure @s is unchanged.
 */
int state_db_flows_load(struct state_db *db, struct flow_set *s, struct bh_err *reterr);

/* The number of stored flows, or -errno. */
int64_t state_db_flows_count(struct state_db *db, struct bh_err *reterr);

/* ---- alerts ---- */

enum state_db_alert_state {
	STATE_DB_ALERT_OPEN,
	STATE_DB_ALERT_ALLOWED,
	STATE_DB_ALERT_DISMISSED,
	_STATE_DB_ALERT_STATE_MAX,
};

enum state_db_direction {
	STATE_DB_DIR_INGRESS, /* a policy isolating the destination denied it */
	STATE_DB_DIR_EGRESS, /* a policy isolating the source denied it */
	_STATE_DB_DIR_MAX,
};

/*
 * A preview alert, one per (source workload, destination workload, port,
 * protocol).  Workloads are names the caller chooses (e.g.
 * "ns/Deployment/api", or an address for a peer that is no pod).
 * Strings are borrowed by state_db_alerts_save() and owned by the array
 * state_db_alerts_load() returns.
 */
struct state_db_alert {
	/* The alert's id (include/alerts.h): "" on save derives it from the
	 * key (alert_id_make()); one given (the table's, salted after a
	 * collision) is stored as it is for a new key.  A key already stored
	 * keeps its id. */
	char id[ALERT_ID_SIZE];
	char *src_workload;
	char *dst_workload;
	uint16_t port;
	uint8_t proto;
	char *src_pod; /* "ns/name" of a pod seen, may be NULL */
	char *dst_pod;
	enum state_db_direction direction;
	char *policy; /* the deciding policy "ns/name", may be NULL */
	char *explanation; /* may be NULL */
	uint64_t count;
	int64_t first_seen; /* unix milliseconds (seconds before schema 4) */
	int64_t last_seen;
	enum state_db_alert_state state;
};

/*
 * Saves @n alerts in one transaction: an alert whose key is stored
 * replaces it (the caller's record is the newer one), keeping its id; a
 * new key gets its id as said above.  Sets v[i].id.  Workloads must be
 * non-NULL and ids "" or 16 lowercase hex digits (-EINVAL, input);
 * -EEXIST (input) for a given id another key's alert holds; nothing is
 * saved on failure.
 */
int state_db_alerts_save(struct state_db *db, struct state_db_alert *v, size_t n,
			 struct bh_err *reterr);
/* Sets the state of the alert @id: 1 done, 0 no such alert (a malformed
 * id included), -errno. */
int state_db_alert_set_state(struct state_db *db, const char *id, enum state_db_alert_state st,
			     struct bh_err *reterr);
/* Every alert, ordered by first seen and, for equal first seen, by when
 * it was first saved (the alert table's order, include/alerts.h), in a
 * new array (state_db_alerts_free()). */
int state_db_alerts_load(struct state_db *db, struct state_db_alert **ret, size_t *ret_n,
			 struct bh_err *reterr);
void state_db_alerts_free(struct state_db_alert *v, size_t n);

/* ---- modes ---- */

enum state_db_mode_kind {
	STATE_DB_MODE_LEARN,
	STATE_DB_MODE_PROPOSED,
	STATE_DB_MODE_PREVIEW,
	STATE_DB_MODE_ENFORCE,
	_STATE_DB_MODE_MAX,
};

struct state_db_mode {
	/* STATE_DB_SCOPE_CLUSTER, a namespace, or a workload "NS/KIND/NAME"
	 * (an override of its namespace's stage, docs/lifecycle.md) */
	char *scope;
	enum state_db_mode_kind mode;
	int64_t since; /* unix seconds: when this mode began */
	int64_t learn_window; /* seconds, 0 when not set */
	int64_t preview_window;
};

/* Sets the mode of m->scope (borrowed), replacing what was stored. */
int state_db_mode_set(struct state_db *db, const struct state_db_mode *m, struct bh_err *reterr);
/* Removes the mode of @scope (none stored is no error). */
int state_db_mode_del(struct state_db *db, const char *scope, struct bh_err *reterr);
/* Every stored mode ordered by scope, in a new array (state_db_modes_free()). */
int state_db_modes_load(struct state_db *db, struct state_db_mode **ret, size_t *ret_n,
			struct bh_err *reterr);
void state_db_modes_free(struct state_db_mode *v, size_t n);
/* "learn", "proposed", "preview", "enforce"; NULL when out of range. */
const char *state_db_mode_name(enum state_db_mode_kind m);

/* ---- proposals ---- */

/*
 * Stores @json (the proposed policies, a NUL-terminated JSON text) as the
 * proposal of @scope, made at @created (unix seconds), with the next
 * generation of that scope (1 for the first), returned in @ret_generation
 * (may be NULL).  Replaces the previous proposal of the scope.
 */
int state_db_proposal_put(struct state_db *db, const char *scope, const char *json, int64_t created,
			  int64_t *ret_generation, struct bh_err *reterr);
/*
 * The proposal of @scope: 1 with *ret_json (a new string for free()),
 * *ret_generation and *ret_created (either may be NULL) set; 0 when there
 * is none; -errno.
 */
int state_db_proposal_get(struct state_db *db, const char *scope, char **ret_json,
			  int64_t *ret_generation, int64_t *ret_created, struct bh_err *reterr);

/* ---- the applied ruleset ---- */

/* Records the digest of the ruleset just applied (the table's comment,
 * nftio_table_comment()) and when (unix seconds). */
int state_db_ruleset_set(struct state_db *db, const char *digest, int64_t applied_at,
			 struct bh_err *reterr);
/* 1 with the digest in @buf (@len bytes, truncated to fit) and
 * *ret_applied_at (may be NULL) set; 0 when none was recorded; -errno. */
int state_db_ruleset_get(struct state_db *db, char *buf, size_t len, int64_t *ret_applied_at,
			 struct bh_err *reterr);

#endif
