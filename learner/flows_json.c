/*
 * flows.json v1 reader (docs/flows-format.md); the writer is
 * learner/flows_write.c.
 *
 * The reader parses a whole file into a temporary array first and merges it
 * into the caller's set only when every flow was valid, so a bad file leaves
 * the set untouched.  Records with equal keys are merged (counters summed,
 * times widened, seen_by ORed); the merge is commutative so that flow files
 * from several nodes give the same set in any order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "arena.h"
#include "buf.h"
#include "flows_int.h"
#include "hash.h"
#include "vec.h"

/* A flows file larger than this is refused rather than read into memory:
 * 1 GiB is several million flows, far past what one node learns. */
#define FLOWS_JSON_FILE_MAX (1024u * 1024 * 1024)

/* ---- streaming the document ---- */

/*
 * Reading a large file as one jansson tree means millions of small
 * allocations built and then freed at once: about 3 CPU-s and a gigabyte
 * for 200,000 flows.  Instead the top-level object is walked here: every
 * member but "flows" is parsed by jansson on its own, and each flow is
 * parsed, decoded and freed in turn (JSON_DISABLE_EOF_CHECK makes jansson
 * stop after one value and report how many bytes it used).  Lexing stays
 * jansson's; this code only steps over whitespace and the punctuation
 * between values, and keeps line numbers for error messages.
 */
static void rd_count(struct flows_rd *rd)
{
	const char *p = rd->sc.s + rd->done, *end = rd->sc.s + rd->sc.pos, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t) (end - p)))) {
		rd->line++;
		rd->line_start = (size_t) (nl - rd->sc.s) + 1;
		p = nl + 1;
	}
	rd->done = rd->sc.pos;
}

static int rd_syntax(struct flows_ctx *c, struct flows_rd *rd, const char *what)
{
	rd_count(rd);
	return bh_err_set(c->err, BH_ERR_INPUT, -EBADMSG, "flows '%s': line %d column %zu: %s",
			  c->name, rd->line, rd->sc.pos - rd->line_start + 1, what);
}

/*
 * Jansson allocates every object, string, hash bucket and lexer buffer of
 * a flow separately, and frees them all again once the flow is decoded:
 * at 200,000 flows that was a large share of reading a file.  While a flow
 * is parsed, allocations come from an arena (include/arena.h) bound to the
 * thread, reset when the flow's tree has been released; anything larger
 * than what is left falls back to malloc().
 */
#define FLOW_ARENA_SIZE (64u * 1024)

/* The value at rd->sc.pos: a new reference, or NULL with the error set. */
static json_t *rd_value(struct flows_ctx *c, struct flows_rd *rd)
{
	size_t start = rd->sc.pos;
	json_error_t jerr;
	json_t *v;

	v = json_loadb(rd->sc.s + start, rd->sc.len - start,
		       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		long col = jerr.column;

		rd_count(rd);
		if (jerr.line <= 1)
			col += (long) (start - rd->line_start);
		bh_err_set(c->err, BH_ERR_INPUT, -EBADMSG, "flows '%s': line %d column %ld: %s",
			   c->name, rd->line + (jerr.line > 1 ? jerr.line - 1 : 0), col, jerr.text);
		return NULL;
	}
	rd->sc.pos = start + (size_t) jerr.position;
	return v;
}

/* Like rd_value() without an error message. */
static json_t *rd_try_value(struct flows_rd *rd)
{
	json_error_t jerr;
	json_t *v;

	v = json_loadb(rd->sc.s + rd->sc.pos, rd->sc.len - rd->sc.pos,
		       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
	if (v)
		rd->sc.pos += (size_t) jerr.position;
	return v;
}

/*
 * The flow object at rd->sc.pos, member by member so that known peer objects
 * are not lexed again (every key and value is still jansson's).  Returns 0
 * with *f decoded, or 1 with rd->sc.pos unchanged when anything is unusual
 * (bad syntax, duplicate keys, a flow that does not decode, no memory): the
 * caller then parses the flow whole as before, which also gives the same
 * error messages.
 */
/* The member at rd->sc.pos when it is one of the format's, its name spelled
 * plainly, with rd->sc.pos moved past the name; else -1. */
static int known_key(struct flows_rd *rd)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos;

	for (int i = 0; i < _FM_MAX; i++) {
		size_t l = strlen(flows_member_names[i]);

		if (avail >= l + 2 && p[l + 1] == '"' &&
		    memcmp(p + 1, flows_member_names[i], l) == 0) {
			rd->sc.pos += l + 2;
			return i;
		}
	}
	return -1;
}

static int rd_flow_fast(const struct flows_ctx *c, struct flows_rd *rd, struct flows_peer_cache *pc,
			struct flows_val_cache *vc, struct flow_record *f)
{
	size_t start = rd->sc.pos, side_start[2] = { 0 }, side_len[2] = { 0 };
	size_t ent[2] = { SIZE_MAX, SIZE_MAX };
	uint64_t side_h[2] = { 0 };
	bool seen[_FM_MAX] = { false };
	struct bh_err scratch = { 0 };
	struct flows_ctx qc = *c;
	json_t *m[_FM_MAX] = { NULL }, *val;
	int r = 1;

	qc.err = &scratch;
	if (!json_scan_is(&rd->sc, '{'))
		return 1;
	rd->sc.pos++;
	json_scan_ws(&rd->sc);
	if (json_scan_is(&rd->sc, '}')) {
		rd->sc.pos++;
		goto decode;
	}
	for (;;) {
		int k;

		json_scan_ws(&rd->sc);
		if (!json_scan_is(&rd->sc, '"'))
			goto out;
		/* Another member, or a name spelled with escapes: the slow
		 * path (which ignores unknown members) decides. */
		k = known_key(rd);
		if (k < 0 || seen[k])
			goto out;
		seen[k] = true;
		json_scan_ws(&rd->sc);
		if (!json_scan_is(&rd->sc, ':'))
			goto out;
		rd->sc.pos++;
		json_scan_ws(&rd->sc);
		if (k == FM_SRC || k == FM_DST) {
			int side = k == FM_SRC ? 0 : 1;

			if (json_scan_is(&rd->sc, '{')) {
				side_h[side] = flows_peer_hash(pc, rd->sc.s + rd->sc.pos,
							       rd->sc.len - rd->sc.pos);
				ent[side] = flows_peer_cache_find(pc, rd, side_h[side]);
			}
			if (ent[side] != SIZE_MAX) {
				rd->sc.pos += pc->v[ent[side]].len;
				goto next;
			}
			side_start[side] = rd->sc.pos;
			val = rd_try_value(rd);
			if (!val)
				goto out;
			side_len[side] = rd->sc.pos - side_start[side];
		} else {
			size_t vstart = rd->sc.pos;
			uint64_t h = flows_prefix_hash(rd->sc.s + vstart, rd->sc.len - vstart,
						       FLOWS_VAL_PREFIX, vc->seed);

			val = flows_val_cache_find(vc, rd, h);
			if (val) {
				json_incref(val);
			} else {
				/* Kept beyond this flow: not from the arena. */
				(void) arena_set_active(arena_json_current(), false);
				val = rd_try_value(rd);
				(void) arena_set_active(arena_json_current(), true);
				if (!val)
					goto out;
				flows_val_cache_add(vc, rd, vstart, h, val);
			}
		}
		m[k] = val;
next:
		json_scan_ws(&rd->sc);
		if (json_scan_is(&rd->sc, ',')) {
			rd->sc.pos++;
			continue;
		}
		if (json_scan_is(&rd->sc, '}')) {
			rd->sc.pos++;
			break;
		}
		goto out;
	}
decode:
	if (flows_decode_members(&qc, m, ent[0] != SIZE_MAX ? &pc->v[ent[0]] : NULL,
				 ent[1] != SIZE_MAX ? &pc->v[ent[1]] : NULL, f) < 0)
		goto out;
	/* Entries are added only now: adding may move pc->v. */
	if (side_len[0] && rd->sc.s[side_start[0]] == '{')
		flows_peer_cache_add(pc, rd->sc.s + side_start[0], side_len[0], side_h[0],
				     &f->key.src, &f->src_peer);
	if (side_len[1] && rd->sc.s[side_start[1]] == '{')
		flows_peer_cache_add(pc, rd->sc.s + side_start[1], side_len[1], side_h[1],
				     &f->key.dst, &f->dst_peer);
	r = 0;
out:
	for (size_t i = 0; i < _FM_MAX; i++)
		json_decref(m[i]);
	if (r)
		rd->sc.pos = start;
	return r;
}

/* The elements of the "flows" array, decoded one at a time. */
static int rd_flows(struct flows_ctx *c, struct flows_rd *rd, struct flows_peer_cache *pc,
		    struct flow_record **v, size_t *n, size_t *cap)
{
	struct flows_val_cache vc = { .seed = pc->seed };
	json_t *item;
	int r;

	for (r = json_scan_arr_open(&rd->sc); r > 0; r = json_scan_arr_next(&rd->sc)) {
		if (*n == *cap) {
			struct flow_record *nv = vec_grow(*v, cap, *n + 1, sizeof(*nv));

			if (!nv) {
				r = bh_err_oom(c->err);
				goto out;
			}
			*v = nv;
		}
		c->index = *n;
		(void) arena_set_active(arena_json_current(), true);
		r = rd_flow_fast(c, rd, pc, &vc, &(*v)[*n]);
		if (r == 0) {
			(void) arena_set_active(arena_json_current(), false);
			arena_reset(arena_json_current());
			goto decoded;
		}
		item = rd_value(c, rd);
		(void) arena_set_active(arena_json_current(), false);
		if (!item) {
			c->index = SIZE_MAX;
			goto arena_reset_fail;
		}
		r = flows_decode_flow(c, item, &(*v)[*n]);
		json_decref(item);
		/* The tree is gone: everything in the arena is free. */
		arena_reset(arena_json_current());
		if (r < 0) {
			c->index = SIZE_MAX;
			goto out;
		}
decoded:
		c->index = SIZE_MAX;
		(*n)++;
	}
	if (r < 0)
		r = rd_syntax(c, rd, "',' or ']' expected");
	goto out;

arena_reset_fail:
	/* A failed parse has released what it allocated. */
	arena_reset(arena_json_current());
	r = -EBADMSG;
out:
	flows_val_cache_done(&vc);
	return r;
}

/*
 * Walks the top-level object: the members other than "flows" go into
 * *ret_hdr (a new object), the flows into @v.  Returns 1 without touching
 * anything when the document does not start with '{' (the caller then
 * lets jansson describe what it is).
 */
static int rd_document(struct flows_ctx *c, struct flows_rd *rd, json_t **ret_hdr,
		       struct flows_peer_cache *pc, struct flow_record **v, size_t *n, size_t *cap)
{
	json_t *hdr, *key = NULL, *val;
	bool have_flows = false;
	int r;

	json_scan_ws(&rd->sc);
	if (!json_scan_is(&rd->sc, '{'))
		return 1;
	hdr = json_object();
	if (!hdr)
		return bh_err_oom(c->err);
	rd->sc.pos++;
	json_scan_ws(&rd->sc);
	if (json_scan_is(&rd->sc, '}')) {
		rd->sc.pos++;
		goto end;
	}
	for (;;) {
		json_scan_ws(&rd->sc);
		if (!json_scan_is(&rd->sc, '"')) {
			r = rd_syntax(c, rd, "string or '}' expected");
			goto fail;
		}
		key = rd_value(c, rd);
		if (!key) {
			r = -EBADMSG;
			goto fail;
		}
		json_scan_ws(&rd->sc);
		if (!json_scan_is(&rd->sc, ':')) {
			r = rd_syntax(c, rd, "':' expected");
			goto fail;
		}
		rd->sc.pos++;
		json_scan_ws(&rd->sc);
		if (json_object_get(hdr, json_string_value(key)) ||
		    (have_flows && strcmp(json_string_value(key), "flows") == 0)) {
			r = rd_syntax(c, rd, "duplicate object key");
			goto fail;
		}
		if (strcmp(json_string_value(key), "flows") == 0 && json_scan_is(&rd->sc, '[')) {
			have_flows = true;
			r = rd_flows(c, rd, pc, v, n, cap);
			if (r < 0)
				goto fail;
		} else {
			val = rd_value(c, rd);
			if (!val) {
				r = -EBADMSG;
				goto fail;
			}
			if (json_object_set_new(hdr, json_string_value(key), val) < 0) {
				r = bh_err_oom(c->err);
				goto fail;
			}
		}
		json_decref(key);
		key = NULL;
		json_scan_ws(&rd->sc);
		if (json_scan_is(&rd->sc, ',')) {
			rd->sc.pos++;
			continue;
		}
		if (json_scan_is(&rd->sc, '}')) {
			rd->sc.pos++;
			break;
		}
		r = rd_syntax(c, rd, "',' or '}' expected");
		goto fail;
	}
end:
	json_scan_ws(&rd->sc);
	if (rd->sc.pos != rd->sc.len) {
		r = rd_syntax(c, rd, "end of file expected");
		goto fail;
	}
	/* An empty marker keeps "flows present" for the header checks. */
	if (have_flows && json_object_set_new(hdr, "flows", json_array()) < 0) {
		r = bh_err_oom(c->err);
		goto fail;
	}
	*ret_hdr = hdr;
	return 0;

fail:
	json_decref(key);
	json_decref(hdr);
	return r;
}

int flows_json_load_buf(struct flow_set *s, const char *data, size_t len, const char *name,
			struct bh_err *reterr)
{
	struct flows_ctx c = { .name = name, .err = reterr, .index = SIZE_MAX };
	struct flows_rd rd = { .sc = { .s = data, .len = len }, .line = 1 };
	struct flow_record *v = NULL, *merged;
	struct flow_peer *peers;
	struct flows_peer_cache pc = { .seed = hash_seed_random() };
	struct arena *arena, *prev;
	uint64_t packets = 0, evicted = 0, overruns = 0;
	json_t *root = NULL, *flows, *stats, *item;
	int64_t generated = 0;
	char *node = NULL;
	json_error_t jerr;
	bool fresh;
	size_t n = 0, cap = 0;
	int r;

	/* Without an arena (no memory for it) jansson simply mallocs. */
	arena = arena_new(FLOW_ARENA_SIZE);
	prev = arena_json_bind(arena);
	r = rd_document(&c, &rd, &root, &pc, &v, &n, &cap);
	(void) arena_json_bind(prev);
	arena = arena_free(arena);
	if (r < 0)
		goto out;
	if (r > 0) {
		root = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
		if (!root) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
				       "flows '%s': line %d column %d: %s", name, jerr.line,
				       jerr.column, jerr.text);
			goto out;
		}
		r = flows_bad(&c, "(top level)", "expected a FlowList object");
		goto out;
	}
	item = json_object_get(root, "version");
	if (!json_is_integer(item)) {
		r = flows_bad(&c, "version", "missing or not an integer (expected %d)",
			      FLOWS_JSON_VERSION);
		goto out;
	}
	if (json_integer_value(item) != FLOWS_JSON_VERSION) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EPROTONOSUPPORT,
			       "flows '%s': field 'version': version %" JSON_INTEGER_FORMAT
			       " is not supported (expected %d)",
			       name, json_integer_value(item), FLOWS_JSON_VERSION);
		goto out;
	}
	item = json_object_get(root, "kind");
	if (item && (!json_is_string(item) || strcmp(json_string_value(item), FLOWS_JSON_KIND))) {
		r = flows_bad(&c, "kind", "expected '%s'", FLOWS_JSON_KIND);
		goto out;
	}
	item = json_object_get(root, "apiVersion");
	if (item &&
	    (!json_is_string(item) || strcmp(json_string_value(item), FLOWS_JSON_API_VERSION))) {
		r = flows_bad(&c, "apiVersion", "expected '%s'", FLOWS_JSON_API_VERSION);
		goto out;
	}
	r = flows_get_str(&c, root, "node", "node", false, &node);
	if (r < 0)
		goto out;
	if (json_object_get(root, "generated")) {
		r = flows_get_time(&c, root, "generated", &generated);
		if (r < 0)
			goto out;
	}
	stats = json_object_get(root, "stats");
	if (stats && !json_is_object(stats)) {
		r = flows_bad(&c, "stats", "expected an object");
		goto out;
	}
	if ((r = flows_get_count(&c, stats, "packets", "stats.packets", &packets)) < 0 ||
	    (r = flows_get_count(&c, stats, "evicted", "stats.evicted", &evicted)) < 0 ||
	    (r = flows_get_count(&c, stats, "overruns", "stats.overruns", &overruns)) < 0)
		goto out;

	flows = json_object_get(root, "flows");
	if (!json_is_array(flows)) {
		r = flows_bad(&c, "flows", "missing or not an array");
		goto out;
	}

	/* Everything decoded: from here on only allocation can fail. */
	fresh = s->n == 0 && !s->node && s->generated == 0 && s->stat_packets == 0;
	peers = realloc(s->peers, (s->n_peers + pc.n + 1) * sizeof(*peers));
	if (!peers) {
		r = bh_err_oom(reterr);
		goto out;
	}
	s->peers = peers;
	if (s->n == 0 && v) {
		/* The first file's records become the set's (no copy). */
		free(s->flows);
		s->flows = v;
		v = NULL;
	} else {
		merged = realloc(s->flows, (s->n + n + 1) * sizeof(*merged));
		if (!merged) {
			r = bh_err_oom(reterr);
			goto out;
		}
		s->flows = merged;
		if (n)
			memcpy(s->flows + s->n, v, n * sizeof(*v));
	}
	/* The records borrow their peers from the cache's entries. */
	for (size_t k = 0; k < pc.n; k++)
		s->peers[s->n_peers++] = pc.v[k].peer;
	pc.n = 0;
	s->n = flow_set_sort_merge(&s->flows, s->n + n);
	n = 0; /* moved */

	/* The node name is kept while every file agrees on it. */
	if (fresh) {
		s->node = node;
		node = NULL;
	} else if (!node || !s->node || strcmp(node, s->node) != 0) {
		free(s->node);
		s->node = NULL;
	}
	if (generated > s->generated)
		s->generated = generated;
	s->stat_packets += packets;
	s->stat_evicted += evicted;
	s->stat_overruns += overruns;
	r = 0;

out:
	for (size_t k = 0; k < n; k++)
		flow_record_done(&v[k]);
	free(v);
	flows_peer_cache_done(&pc);
	free(node);
	json_decref(root);
	return r;
}

int flows_json_load(struct flow_set *s, const char *path, struct bh_err *reterr)
{
	struct buf b;
	char chunk[65536];
	struct stat st;
	FILE *f;
	size_t got;
	int r = 0;

	if (strcmp(path, "-") == 0) {
		f = stdin;
	} else {
		f = fopen(path, "re");
		if (!f) {
			r = -errno;
			return bh_err_set(reterr, r == -ENOENT ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
					  "flows '%s': %s", path, strerror(-r));
		}
	}
	buf_init(&b, FLOWS_JSON_FILE_MAX);
	/* A regular file is read straight into a buffer of its size rather
	 * than grown chunk by chunk (copies and page faults at 90 MB). */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t) st.st_size < FLOWS_JSON_FILE_MAX) {
		b.data = malloc((size_t) st.st_size + 1);
		if (b.data) {
			b.cap = (size_t) st.st_size + 1;
			b.len = fread(b.data, 1, (size_t) st.st_size, f);
			b.data[b.len] = '\0';
		}
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = buf_append(&b, chunk, got);
		if (r < 0)
			break;
	}
	if (r == -E2BIG)
		r = bh_err_set(reterr, BH_ERR_INPUT, r, "flows '%s': larger than %u bytes", path,
			       FLOWS_JSON_FILE_MAX);
	else if (r < 0)
		r = bh_err_oom(reterr);
	else if (ferror(f))
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "flows '%s': read error", path);
	if (f != stdin)
		fclose(f);
	if (r == 0)
		r = flows_json_load_buf(s, b.data ? b.data : "", b.len, path, reterr);
	buf_done(&b);
	return r;
}
