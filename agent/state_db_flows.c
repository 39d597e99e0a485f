/*
 * Learned flows in the state store: full and incremental checkpoints of
 * the learner's table, and reading them back into a struct flow_set.
 *
 * A flow row is its key (addresses as 4- or 16-byte blobs), counters and
 * times, and two peer ids.  Peers are interned: a million flows between a
 * few hundred pods store each pod's namespace, names and labels once.
 * The interning map lives in memory (struct state_db_peers) and is filled
 * from the peers table before the first incremental checkpoint after an
 * open, so a restart does not store every peer twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "state_db_int.h"
#include "str.h"
#include "vec.h"

/* ---- interned peers ---- */

/* A peer's map key: its kind, then each optional string as a presence
 * byte and the string with its NUL, then the labels blob.  The same bytes
 * come from a struct flow_peer and from a peers row. */
static int peer_key(struct buf *b, int kind, const char *const str[4], const void *labels,
		    size_t labels_len)
{
	unsigned char k = (unsigned char) kind;
	int r;

	buf_reset(b);
	r = buf_append(b, &k, 1);
	for (size_t i = 0; r == 0 && i < 4; i++) {
		unsigned char present = str[i] != NULL;

		r = buf_append(b, &present, 1);
		if (r == 0 && str[i])
			r = buf_append(b, str[i], strlen(str[i]) + 1);
	}
	if (r == 0 && labels_len)
		r = buf_append(b, labels, labels_len);
	return r;
}

static int labels_blob(struct buf *b, const struct labels *l)
{
	int r = 0;

	buf_reset(b);
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		r = buf_append(b, l->v[i].key, strlen(l->v[i].key) + 1);
		if (r == 0)
			r = buf_append(b, l->v[i].value, strlen(l->v[i].value) + 1);
	}
	return r;
}

static struct state_db_peer_slot *peers_find(struct state_db_peers *p, uint64_t h, const char *key,
					     size_t len)
{
	size_t mask = p->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct state_db_peer_slot *s = &p->slots[i];

		if (!s->id)
			return s;
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return s;
	}
}

static int peers_grow(struct state_db_peers *p)
{
	size_t cap = p->cap ? p->cap * 2 : 64;
	struct state_db_peer_slot *old = p->slots, *v;
	size_t old_cap = p->cap;

	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->slots = v;
	p->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].id)
			*peers_find(p, old[i].hash, old[i].key, old[i].len) = old[i];
	free(old);
	return 0;
}

/* Adds @key -> @id (the key is copied). */
static int peers_add(struct state_db_peers *p, uint64_t h, const char *key, size_t len, int64_t id)
{
	struct state_db_peer_slot *s;
	char *copy;

	if ((p->n + 1) * 10 > p->cap * 7 && peers_grow(p) < 0)
		return -ENOMEM;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, len);
	s = peers_find(p, h, key, len);
	*s = (struct state_db_peer_slot){ .hash = h, .id = id, .key = copy, .len = len };
	p->n++;
	return 0;
}

/* Scratch space of one checkpoint. */
struct scratch {
	struct buf key;
	struct buf labels;
};

/* Fills the map from the peers table (inside the write transaction). */
static int peers_warm(struct state_db *db, struct scratch *sc, struct bh_err *reterr)
{
	const char *sql = "SELECT id, kind, ns, name, workload_kind, workload_name, labels"
			  " FROM peers";
	sqlite3_stmt *st;
	int rc, r = 0;

	if (db->peers.warm)
		return 0;
	state_db_peers_reset(&db->peers);
	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading peers", reterr);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *str[4];

		for (int i = 0; i < 4; i++)
			str[i] = (const char *) sqlite3_column_text(st, 2 + i);
		r = peer_key(&sc->key, sqlite3_column_int(st, 1), str, sqlite3_column_blob(st, 6),
			     (size_t) sqlite3_column_bytes(st, 6));
		if (r == 0)
			r = peers_add(&db->peers, hash_bytes(sc->key.data, sc->key.len, 0),
				      sc->key.data, sc->key.len, sqlite3_column_int64(st, 0));
	}
	sqlite3_finalize(st);
	if (r < 0) {
		state_db_peers_reset(&db->peers);
		return bh_err_oom(reterr);
	}
	if (rc != SQLITE_DONE)
		return state_db_fail(db, rc, "reading peers", reterr);
	db->peers.warm = true;
	return 0;
}

static bool peer_is_none(const struct flow_peer *p)
{
	return p->kind == FLOW_PEER_UNKNOWN && !p->ns && !p->name && !p->workload_kind &&
	       !p->workload_name && !p->labels.n;
}

/* The row id of @p, inserting it when new; 0 for an unresolved peer. */
static int peer_id(struct state_db *db, struct scratch *sc, const struct flow_peer *p, int64_t *ret,
		   const char *what, struct bh_err *reterr)
{
	const char *str[4] = { p->ns, p->name, p->workload_kind, p->workload_name };
	struct state_db_peer_slot *s;
	sqlite3_stmt *st;
	uint64_t h;
	int rc, r;

	*ret = 0;
	if (peer_is_none(p))
		return 0;
	if (labels_blob(&sc->labels, &p->labels) < 0 ||
	    peer_key(&sc->key, p->kind, str, sc->labels.data, sc->labels.len) < 0)
		return bh_err_oom(reterr);
	h = hash_bytes(sc->key.data, sc->key.len, 0);
	if (db->peers.cap) {
		s = peers_find(&db->peers, h, sc->key.data, sc->key.len);
		if (s->id) {
			*ret = s->id;
			return 0;
		}
	}
	r = state_db_stmt(db, SDB_PEER_PUT, &st, reterr);
	if (r < 0)
		return r;
	sqlite3_bind_int(st, 1, p->kind);
	for (int i = 0; i < 4; i++)
		if (str[i])
			sqlite3_bind_text(st, 2 + i, str[i], -1, SQLITE_STATIC);
	if (sc->labels.len)
		sqlite3_bind_blob(st, 6, sc->labels.data, (int) sc->labels.len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return state_db_fail(db, rc, what, reterr);
	*ret = sqlite3_last_insert_rowid(db->db);
	if (peers_add(&db->peers, h, sc->key.data, sc->key.len, *ret) < 0)
		return bh_err_oom(reterr);
	return 0;
}

/* ---- writing flows ---- */

static void bind_key(sqlite3_stmt *st, const struct flow_key *k)
{
	sqlite3_bind_blob(st, 1, k->src.b, (int) addr_len(&k->src), SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, k->dst.b, (int) addr_len(&k->dst), SQLITE_STATIC);
	sqlite3_bind_int(st, 3, k->proto);
	sqlite3_bind_int(st, 4, k->port);
}

static int flow_put(struct state_db *db, struct scratch *sc, sqlite3_stmt *st,
		    const struct flow_record *f, const char *what, struct bh_err *reterr)
{
	int64_t src_id, dst_id;
	int rc, r;

	r = peer_id(db, sc, &f->src_peer, &src_id, what, reterr);
	if (r == 0)
		r = peer_id(db, sc, &f->dst_peer, &dst_id, what, reterr);
	if (r < 0)
		return r;
	bind_key(st, &f->key);
	sqlite3_bind_int64(st, 5, (sqlite3_int64) f->packets);
	sqlite3_bind_int64(st, 6, (sqlite3_int64) f->bytes);
	sqlite3_bind_int64(st, 7, (sqlite3_int64) f->connections);
	sqlite3_bind_int64(st, 8, f->first_seen);
	sqlite3_bind_int64(st, 9, f->last_seen);
	sqlite3_bind_int(st, 10, f->seen_by);
	if (src_id)
		sqlite3_bind_int64(st, 11, src_id);
	else
		sqlite3_bind_null(st, 11);
	if (dst_id)
		sqlite3_bind_int64(st, 12, dst_id);
	else
		sqlite3_bind_null(st, 12);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : state_db_fail(db, rc, what, reterr);
}

static int flows_put(struct state_db *db, struct scratch *sc, const struct state_db_flows *v,
		     const char *what, struct bh_err *reterr)
{
	sqlite3_stmt *st;
	int r;

	r = state_db_stmt(db, SDB_FLOW_PUT, &st, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < v->n; i++) {
		struct flow_record f;

		v->get_cb(v->ud, i, &f);
		r = flow_put(db, sc, st, &f, what, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static void scratch_init(struct scratch *sc)
{
	buf_init(&sc->key, SIZE_MAX);
	buf_init(&sc->labels, SIZE_MAX);
}

static void scratch_done(struct scratch *sc)
{
	buf_done(&sc->key);
	buf_done(&sc->labels);
}

int state_db_flows_checkpoint(struct state_db *db, const struct state_db_flows *all,
			      struct bh_err *reterr)
{
	struct scratch sc;
	char what[64];
	int r;

	snprintf(what, sizeof(what), "checkpoint of %zu flows", all->n);
	scratch_init(&sc);
	r = state_db_begin(db, what, reterr);
	if (r < 0)
		goto out;
	/* DELETE without WHERE drops the pages wholesale (SQLite's truncate
	 * optimisation): cheaper than working out which flows left. */
	if (sqlite3_exec(db->db, "DELETE FROM flows; DELETE FROM peers", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		r = state_db_fail(db, sqlite3_errcode(db->db), what, reterr);
		goto out;
	}
	state_db_peers_reset(&db->peers);
	db->peers.warm = true; /* the table is empty, and so is the map */
	r = flows_put(db, &sc, all, what, reterr);
	if (r < 0)
		goto out;
	r = state_db_commit(db, what, reterr);
out:
	if (r < 0 && db->db && !sqlite3_get_autocommit(db->db)) {
		(void) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		state_db_peers_reset(&db->peers);
	}
	scratch_done(&sc);
	return r;
}

int state_db_flows_update(struct state_db *db, const struct state_db_flows *changed,
			  const struct flow_key *gone, size_t n_gone, struct bh_err *reterr)
{
	struct scratch sc;
	sqlite3_stmt *st;
	char what[80];
	int rc, r;

	snprintf(what, sizeof(what), "incremental checkpoint of %zu flows (%zu gone)", changed->n,
		 n_gone);
	scratch_init(&sc);
	r = state_db_begin(db, what, reterr);
	if (r < 0)
		goto out;
	r = peers_warm(db, &sc, reterr);
	if (r < 0)
		goto out;
	r = flows_put(db, &sc, changed, what, reterr);
	if (r < 0)
		goto out;
	r = state_db_stmt(db, SDB_FLOW_DEL, &st, reterr);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_gone; i++) {
		bind_key(st, &gone[i]);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			r = state_db_fail(db, rc, what, reterr);
			goto out;
		}
	}
	r = state_db_commit(db, what, reterr);
out:
	if (r < 0 && db->db && !sqlite3_get_autocommit(db->db)) {
		(void) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		state_db_peers_reset(&db->peers);
	}
	scratch_done(&sc);
	return r;
}

static void array_get_cb(void *ud, size_t i, struct flow_record *ret)
{
	*ret = ((const struct flow_record *) ud)[i];
}

struct state_db_flows state_db_flows_of_array(const struct flow_record *v, size_t n)
{
	return (struct state_db_flows){ .n = n, .get_cb = array_get_cb, .ud = (void *) v };
}

/* ---- reading flows ---- */

static int peer_from_row(sqlite3_stmt *st, struct flow_peer *p)
{
	const char *labels = sqlite3_column_blob(st, 6);
	size_t len = (size_t) sqlite3_column_bytes(st, 6);
	char **dst[4] = { &p->ns, &p->name, &p->workload_kind, &p->workload_name };
	bool failed = false;

	*p = (struct flow_peer){ .kind = (enum flow_peer_kind) sqlite3_column_int(st, 1) };
	labels_init(&p->labels);
	for (int i = 0; i < 4; i++)
		*dst[i] = str_dup_opt((const char *) sqlite3_column_text(st, 2 + i), &failed);
	/* "key\0value\0" pairs; a pair cut short (never written so) ends it. */
	for (size_t off = 0; !failed && labels && off < len;) {
		const char *k = labels + off, *v;
		size_t kl = strnlen(k, len - off);

		if (off + kl + 1 >= len)
			break;
		v = k + kl + 1;
		if (off + kl + 1 + strnlen(v, len - off - kl - 1) >= len)
			break;
		if (labels_set(&p->labels, k, v) < 0)
			failed = true;
		off += kl + 1 + strlen(v) + 1;
	}
	if (failed) {
		flow_peer_done(p);
		return -ENOMEM;
	}
	return 0;
}

static void addr_from_column(sqlite3_stmt *st, int col, struct addr *a)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (n == 4)
		addr_from_v4(a, b);
	else if (n == 16)
		addr_from_v6(a, b);
	else
		*a = (struct addr){ 0 };
}

struct loaded {
	size_t n_peers, cap_peers;
	struct flow_peer *peers;
	int64_t *ids; /* ascending, as peers */
	size_t n, cap;
	struct flow_record *flows;
};

static void loaded_done(struct loaded *l)
{
	for (size_t i = 0; i < l->n_peers; i++)
		flow_peer_done(&l->peers[i]);
	free(l->peers);
	free(l->ids);
	free(l->flows);
}

static int load_peers(struct state_db *db, struct loaded *l, struct bh_err *reterr)
{
	const char *sql = "SELECT id, kind, ns, name, workload_kind, workload_name, labels"
			  " FROM peers ORDER BY id";
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading peers", reterr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->n_peers == l->cap_peers) {
			size_t pcap = l->cap_peers, icap = l->cap_peers;
			struct flow_peer *p = vec_grow(l->peers, &pcap, l->n_peers + 1, sizeof(*p));
			int64_t *ids;

			if (p)
				l->peers = p;
			ids = p ? vec_grow(l->ids, &icap, l->n_peers + 1, sizeof(*ids)) : NULL;
			if (!ids) {
				r = -ENOMEM;
				break;
			}
			l->ids = ids;
			l->cap_peers = pcap < icap ? pcap : icap;
		}
		r = peer_from_row(st, &l->peers[l->n_peers]);
		if (r < 0)
			break;
		l->ids[l->n_peers++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (r < 0)
		return bh_err_oom(reterr);
	return rc == SQLITE_DONE ? 0 : state_db_fail(db, rc, "reading peers", reterr);
}

/* The peer of id @id (borrowed from @l), or an unresolved one. */
static struct flow_peer peer_of(const struct loaded *l, int64_t id)
{
	size_t lo = 0, hi = l->n_peers;
	struct flow_peer p;

	while (id && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->ids[mid] < id) {
			lo = mid + 1;
		} else if (l->ids[mid] > id) {
			hi = mid;
		} else {
			p = l->peers[mid];
			p.borrowed = true;
			return p;
		}
	}
	return (struct flow_peer){ .kind = FLOW_PEER_UNKNOWN };
}

static int load_flows(struct state_db *db, struct loaded *l, struct bh_err *reterr)
{
	const char *sql = "SELECT src, dst, proto, port, packets, bytes, connections,"
			  " first_seen, last_seen, seen_by, src_peer, dst_peer FROM flows";
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "reading flows", reterr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct flow_record *f;

		if (l->n == l->cap) {
			struct flow_record *v = vec_grow(l->flows, &l->cap, l->n + 1, sizeof(*v));

			if (!v) {
				r = -ENOMEM;
				break;
			}
			l->flows = v;
		}
		f = &l->flows[l->n++];
		*f = (struct flow_record){
			.key.proto = (uint8_t) sqlite3_column_int(st, 2),
			.key.port = (uint16_t) sqlite3_column_int(st, 3),
			.packets = (uint64_t) sqlite3_column_int64(st, 4),
			.bytes = (uint64_t) sqlite3_column_int64(st, 5),
			.connections = (uint64_t) sqlite3_column_int64(st, 6),
			.first_seen = sqlite3_column_int64(st, 7),
			.last_seen = sqlite3_column_int64(st, 8),
			.seen_by = (uint8_t) sqlite3_column_int(st, 9),
			.src_peer = peer_of(l, sqlite3_column_int64(st, 10)),
			.dst_peer = peer_of(l, sqlite3_column_int64(st, 11)),
		};
		addr_from_column(st, 0, &f->key.src);
		addr_from_column(st, 1, &f->key.dst);
	}
	sqlite3_finalize(st);
	if (r < 0)
		return bh_err_oom(reterr);
	return rc == SQLITE_DONE ? 0 : state_db_fail(db, rc, "reading flows", reterr);
}

int state_db_flows_load(struct state_db *db, struct flow_set *s, struct bh_err *reterr)
{
	struct loaded l = { 0 };
	struct flow_record *flows;
	struct flow_peer *peers;
	int r;

	/* One read transaction: peers and flows of the same checkpoint. */
	if (sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return state_db_fail(db, sqlite3_errcode(db->db), "reading flows", reterr);
	r = load_peers(db, &l, reterr);
	if (r == 0)
		r = load_flows(db, &l, reterr);
	if (!sqlite3_get_autocommit(db->db))
		(void) sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
	if (r < 0)
		goto out;
	flows = reallocarray(s->flows, s->n + l.n ? s->n + l.n : 1, sizeof(*flows));
	if (flows)
		s->flows = flows;
	peers = flows ? reallocarray(s->peers, s->n_peers + l.n_peers ? s->n_peers + l.n_peers : 1,
				     sizeof(*peers)) :
			NULL;
	if (!peers) {
		r = bh_err_oom(reterr);
		goto out;
	}
	s->peers = peers;
	/* The pool moves to @s; the flows' borrowed copies point at the same
	 * strings, which do not move. */
	if (l.n)
		memcpy(s->flows + s->n, l.flows, l.n * sizeof(*l.flows));
	s->n += l.n;
	if (l.n_peers)
		memcpy(s->peers + s->n_peers, l.peers, l.n_peers * sizeof(*l.peers));
	s->n_peers += l.n_peers;
	l.n_peers = 0;
out:
	loaded_done(&l);
	return r;
}

int64_t state_db_flows_count(struct state_db *db, struct bh_err *reterr)
{
	sqlite3_stmt *st;
	int64_t n;
	int rc;

	rc = sqlite3_prepare_v2(db->db, "SELECT count(*) FROM flows", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return state_db_fail(db, rc, "counting flows", reterr);
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? n : state_db_fail(db, rc, "counting flows", reterr);
}
