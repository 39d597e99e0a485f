/*
 * The bottom of the state store: SQLite results turned into -errno, a
 * one-line error and the health state, and the reset of the handle's
 * in-memory peer map that a rollback needs.  state_db_schema.c, state_db.c
 * and state_db_flows.c call down to it; it calls nothing of theirs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_db_int.h"

static int errno_of(struct state_db *db, int rc)
{
	int sys = db->db ? sqlite3_system_errno(db->db) : 0;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return access(db->dir, W_OK) < 0 && errno == EACCES ? -EACCES : -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CANTOPEN:
		/* SQLite's last errno is often that of a later attempt (ENOENT
		 * for a -wal file it could not create): the directory says why. */
		if (access(db->dir, W_OK) < 0)
			return -errno;
		return sys > 0 ? -sys : -EIO;
	case SQLITE_IOERR:
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

int state_db_fail(struct state_db *db, int rc, const char *what, struct bh_err *reterr)
{
	const char *msg = db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
	int code = errno_of(db, rc);
	enum bh_err_kind kind = code == -EBADMSG ? BH_ERR_INPUT : BH_ERR_SYSTEM;
	const char *name = strerrorname_np(-code);
	struct bh_err local;

	if (!reterr)
		reterr = &local;
	bh_err_set(reterr, kind, code, "state database '%s': %s: %s (%s)", db->path, what, msg,
		   name ? name : "?");
	if (db->db && !sqlite3_get_autocommit(db->db))
		(void) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	/* Ids handed out inside the rolled back transaction are gone. */
	state_db_peers_reset(&db->peers);
	if (code != -ENOMEM) {
		db->health.ok = false;
		db->health.code = code;
		snprintf(db->health.msg, sizeof(db->health.msg), "%s", reterr->msg);
	}
	return code;
}

void state_db_ok(struct state_db *db)
{
	db->health = (struct state_db_health){ .ok = true };
}

int state_db_exec(struct state_db *db, const char *sql, const char *what, struct bh_err *reterr)
{
	int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : state_db_fail(db, rc, what, reterr);
}

void state_db_peers_reset(struct state_db_peers *p)
{
	for (size_t i = 0; i < p->cap; i++) {
		free(p->slots[i].key);
		p->slots[i] = (struct state_db_peer_slot){ 0 };
	}
	p->n = 0;
	p->warm = false;
}
