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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "flows_json.h"
#include "json_scan.h"
#include "rfc3339.h"
#include "hash.h"
#include "proto.h"

/* A flows file larger than this is refused rather than read into memory:
 * 1 GiB is several million flows, far past what one node learns. */
#define FLOWS_JSON_FILE_MAX (1024u * 1024 * 1024)

void flow_set_init(struct flow_set *s)
{
	*s = (struct flow_set){ 0 };
}

void flow_peer_done(struct flow_peer *p)
{
	if (!p)
		return;
	if (p->borrowed) {
		*p = (struct flow_peer){ 0 };
		return;
	}
	free(p->ns);
	free(p->name);
	free(p->workload_kind);
	free(p->workload_name);
	labels_done(&p->labels);
	*p = (struct flow_peer){ 0 };
}

static void flow_record_done(struct flow_record *r)
{
	flow_peer_done(&r->src_peer);
	flow_peer_done(&r->dst_peer);
}

void flow_set_done(struct flow_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		flow_record_done(&s->flows[i]);
	free(s->flows);
	for (size_t i = 0; i < s->n_peers; i++)
		flow_peer_done(&s->peers[i]);
	free(s->peers);
	free(s->node);
	flow_set_init(s);
}

static int flow_record_cmp(const void *a, const void *b)
{
	return flow_key_cmp(&((const struct flow_record *) a)->key,
			    &((const struct flow_record *) b)->key);
}

/* ---- times ---- */

/* ---- reading ---- */

/* Error context while decoding one file. */
struct ctx {
	const char *name;
	struct bh_err *err;
	size_t index; /* flow index, or SIZE_MAX outside the flows array */
	const char *side; /* "src"/"dst" while decoding a peer, else NULL */
};

static int bad(struct ctx *c, const char *field, const char *fmt, ...) BH_PRINTF(3, 4);

static int bad(struct ctx *c, const char *field, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->index == SIZE_MAX)
		return bh_err_set(c->err, BH_ERR_INPUT, -EINVAL, "flows '%s': field '%s': %s",
				  c->name, field, what);
	return bh_err_set(c->err, BH_ERR_INPUT, -EINVAL, "flows '%s': flows[%zu].%s%s%s: %s",
			  c->name, c->index, c->side ? c->side : "", c->side && *field ? "." : "",
			  field, what);
}

static int count_of(struct ctx *c, json_t *v, const char *field, uint64_t *ret)
{
	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(c, field, "expected an integer >= 0");
	*ret = (uint64_t) json_integer_value(v);
	return 0;
}

static int get_count(struct ctx *c, json_t *obj, const char *key, const char *field, uint64_t *ret)
{
	return count_of(c, json_object_get(obj, key), field, ret);
}

static int time_of(struct ctx *c, json_t *v, const char *key, int64_t *ret)
{
	if (!v)
		return bad(c, key, "missing (expected an RFC 3339 UTC time)");
	if (!json_is_string(v) || rfc3339_parse(json_string_value(v), ret) < 0)
		return bad(c, key, "expected an RFC 3339 time such as '2026-11-22T06:30:00Z'");
	return 0;
}

static int get_time(struct ctx *c, json_t *obj, const char *key, int64_t *ret)
{
	return time_of(c, json_object_get(obj, key), key, ret);
}

/* Copies an optional string member; *ret stays NULL when absent. */
static int get_str(struct ctx *c, json_t *obj, const char *key, const char *field, bool required,
		   char **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return bad(c, field, "missing");
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(c, field, "expected a non-empty string");
	*ret = strdup(json_string_value(v));
	if (!*ret)
		return bh_err_oom(c->err);
	return 0;
}

static int peer_kind_parse(const char *s, enum flow_peer_kind *ret)
{
	static const char *const names[] = {
		[FLOW_PEER_UNKNOWN] = "unknown",
		[FLOW_PEER_POD] = "pod",
		[FLOW_PEER_NODE] = "node",
		[FLOW_PEER_EXTERNAL] = "external",
	};

	for (size_t i = 0; i < BH_ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum flow_peer_kind) i;
			return 0;
		}
	return -EINVAL;
}

/* Field names in errors are built only on failure: formatting them for
 * every peer was a measurable share of reading a large file. */
static int decode_peer(struct ctx *c, json_t *obj, const char *side, struct addr *ret_addr,
		       struct flow_peer *p)
{
	json_t *v, *wl, *labels;
	const char *key;
	int r;

	*p = (struct flow_peer){ 0 };
	labels_init(&p->labels);
	c->side = side;
	if (!json_is_object(obj)) {
		r = bad(c, "", "expected an object");
		goto fail;
	}
	v = json_object_get(obj, "ip");
	if (!json_is_string(v) || addr_parse(json_string_value(v), ret_addr) < 0) {
		r = bad(c, "ip", "expected an IPv4 or IPv6 address");
		goto fail;
	}
	v = json_object_get(obj, "kind");
	if (!v) {
		p->kind = FLOW_PEER_UNKNOWN;
	} else if (!json_is_string(v) || peer_kind_parse(json_string_value(v), &p->kind) < 0) {
		r = bad(c, "kind", "expected 'pod', 'node', 'external' or 'unknown'");
		goto fail;
	}
	r = get_str(c, obj, "namespace", "namespace", p->kind == FLOW_PEER_POD, &p->ns);
	if (r < 0)
		goto fail;
	r = get_str(c, obj, "name", "name", p->kind == FLOW_PEER_POD, &p->name);
	if (r < 0)
		goto fail;

	wl = json_object_get(obj, "workload");
	if (wl) {
		if (!json_is_object(wl)) {
			r = bad(c, "workload", "expected an object with 'kind' and 'name'");
			goto fail;
		}
		r = get_str(c, wl, "kind", "workload.kind", true, &p->workload_kind);
		if (r < 0)
			goto fail;
		r = get_str(c, wl, "name", "workload.name", true, &p->workload_name);
		if (r < 0)
			goto fail;
	}

	labels = json_object_get(obj, "labels");
	if (labels) {
		if (!json_is_object(labels)) {
			r = bad(c, "labels", "expected an object of strings");
			goto fail;
		}
		json_object_foreach(labels, key, v) {
			if (!json_is_string(v) || !*key) {
				r = bad(c, "labels", "label '%s': expected a string value", key);
				goto fail;
			}
			r = labels_set(&p->labels, key, json_string_value(v));
			if (r < 0) {
				r = bh_err_oom(c->err);
				goto fail;
			}
		}
	}
	c->side = NULL;
	return 0;

fail:
	c->side = NULL;
	flow_peer_done(p);
	return r;
}

/* A peer already decoded (struct peer_ent, below), or NULL. */
struct peer_ent;
static int peer_ent_get(struct ctx *c, const struct peer_ent *e, struct addr *ret_addr,
			struct flow_peer *p);

/* The members of a flow object the format defines. */
enum flow_member {
	FM_SRC,
	FM_DST,
	FM_PROTOCOL,
	FM_PORT,
	FM_PACKETS,
	FM_BYTES,
	FM_CONNECTIONS,
	FM_FIRST_SEEN,
	FM_LAST_SEEN,
	FM_SEEN_BY,
	_FM_MAX,
};

static const char *const flow_member_names[_FM_MAX] = {
	[FM_SRC] = "src",
	[FM_DST] = "dst",
	[FM_PROTOCOL] = "protocol",
	[FM_PORT] = "port",
	[FM_PACKETS] = "packets",
	[FM_BYTES] = "bytes",
	[FM_CONNECTIONS] = "connections",
	[FM_FIRST_SEEN] = "first_seen",
	[FM_LAST_SEEN] = "last_seen",
	[FM_SEEN_BY] = "seen_by",
};

/*
 * A flow from its member values (borrowed, NULL when absent); @src_ent
 * and @dst_ent, when set, replace "src"/"dst".
 */
static int decode_flow_members(struct ctx *c, json_t *const *m, const struct peer_ent *src_ent,
			       const struct peer_ent *dst_ent, struct flow_record *f)
{
	json_t *v, *item;
	size_t i;
	int r;

	*f = (struct flow_record){ 0 };
	if (src_ent)
		r = peer_ent_get(c, src_ent, &f->key.src, &f->src_peer);
	else
		r = decode_peer(c, m[FM_SRC], "src", &f->key.src, &f->src_peer);
	if (r < 0)
		return r;
	if (dst_ent)
		r = peer_ent_get(c, dst_ent, &f->key.dst, &f->dst_peer);
	else
		r = decode_peer(c, m[FM_DST], "dst", &f->key.dst, &f->dst_peer);
	if (r < 0)
		goto fail;
	if (f->key.src.family != f->key.dst.family) {
		r = bad(c, "dst.ip", "address family differs from src.ip");
		goto fail;
	}

	v = m[FM_PROTOCOL];
	if (!json_is_string(v) || proto_parse(json_string_value(v), &f->key.proto) < 0) {
		r = bad(c, "protocol", "expected 'TCP', 'UDP' or 'SCTP'");
		goto fail;
	}
	v = m[FM_PORT];
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
		r = bad(c, "port", "expected an integer 0..65535");
		goto fail;
	}
	f->key.port = (uint16_t) json_integer_value(v);

	if ((r = count_of(c, m[FM_PACKETS], "packets", &f->packets)) < 0 ||
	    (r = count_of(c, m[FM_BYTES], "bytes", &f->bytes)) < 0 ||
	    (r = count_of(c, m[FM_CONNECTIONS], "connections", &f->connections)) < 0 ||
	    (r = time_of(c, m[FM_FIRST_SEEN], "first_seen", &f->first_seen)) < 0 ||
	    (r = time_of(c, m[FM_LAST_SEEN], "last_seen", &f->last_seen)) < 0)
		goto fail;
	if (f->last_seen < f->first_seen) {
		r = bad(c, "last_seen", "earlier than first_seen");
		goto fail;
	}

	v = m[FM_SEEN_BY];
	if (v && !json_is_array(v)) {
		r = bad(c, "seen_by", "expected an array of 'pcap' and 'conntrack'");
		goto fail;
	}
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);

		if (s && strcmp(s, "pcap") == 0) {
			f->seen_by |= FLOW_SEEN_PCAP;
		} else if (s && strcmp(s, "conntrack") == 0) {
			f->seen_by |= FLOW_SEEN_CONNTRACK;
		} else {
			r = bad(c, "seen_by", "element %zu: expected 'pcap' or 'conntrack'", i);
			goto fail;
		}
	}
	return 0;

fail:
	flow_record_done(f);
	return r;
}

static int decode_flow(struct ctx *c, json_t *obj, struct flow_record *f)
{
	json_t *m[_FM_MAX];

	*f = (struct flow_record){ 0 };
	if (!json_is_object(obj))
		return bad(c, "", "expected an object");
	for (size_t i = 0; i < _FM_MAX; i++)
		m[i] = json_object_get(obj, flow_member_names[i]);
	return decode_flow_members(c, m, NULL, NULL, f);
}

/* Order of preference between two descriptions of the same address, so
 * that merging does not depend on the order files are read in: a resolved
 * peer beats an unresolved one, then the later-seen record, then names. */
static int peer_pref_cmp(const struct flow_peer *a, int64_t a_seen, const struct flow_peer *b,
			 int64_t b_seen)
{
	int c;

	if ((a->kind != FLOW_PEER_UNKNOWN) != (b->kind != FLOW_PEER_UNKNOWN))
		return a->kind != FLOW_PEER_UNKNOWN ? 1 : -1;
	if (a_seen != b_seen)
		return a_seen > b_seen ? 1 : -1;
	if (a->kind != b->kind)
		return a->kind > b->kind ? 1 : -1;
	c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");
	if (c)
		return -c;
	c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
	return -c;
}

/* Merges @src into @dst (equal keys) and releases @src. */
static void flow_record_merge(struct flow_record *dst, struct flow_record *src)
{
	struct flow_peer tmp;

	if (peer_pref_cmp(&src->src_peer, src->last_seen, &dst->src_peer, dst->last_seen) > 0) {
		tmp = dst->src_peer;
		dst->src_peer = src->src_peer;
		src->src_peer = tmp;
	}
	if (peer_pref_cmp(&src->dst_peer, src->last_seen, &dst->dst_peer, dst->last_seen) > 0) {
		tmp = dst->dst_peer;
		dst->dst_peer = src->dst_peer;
		src->dst_peer = tmp;
	}
	dst->packets += src->packets;
	dst->bytes += src->bytes;
	dst->connections += src->connections;
	if (src->first_seen < dst->first_seen)
		dst->first_seen = src->first_seen;
	if (src->last_seen > dst->last_seen)
		dst->last_seen = src->last_seen;
	dst->seen_by |= src->seen_by;
	flow_record_done(src);
}

/* A flow key as big-endian words that compare like flow_key_cmp(). */
struct sort_key {
	uint64_t w[5];
	size_t i;
};

static uint64_t be64_at(const unsigned char *p)
{
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static void sort_key_make(const struct flow_key *k, size_t i, struct sort_key *ret)
{
	unsigned char b[40] = { 0 };

	b[0] = k->src.family;
	memcpy(b + 1, k->src.b, 16);
	b[17] = k->dst.family;
	memcpy(b + 18, k->dst.b, 16);
	b[34] = k->proto;
	b[35] = (unsigned char) (k->port >> 8);
	b[36] = (unsigned char) k->port;
	for (int w = 0; w < 5; w++)
		ret->w[w] = be64_at(b + 8 * w);
	ret->i = i;
}

static bool sort_key_less(const struct sort_key *x, const struct sort_key *y)
{
	for (int w = 0; w < 5; w++)
		if (x->w[w] != y->w[w])
			return x->w[w] < y->w[w];
	return x->i < y->i;
}

#define SORT_KEYS_SMALL 16

/*
 * Sorts @v (@n keys) with @tmp as scratch of the same length: a merge sort
 * with the comparison inlined, about twice as fast as qsort() calling a
 * comparison function for 200,000 keys.  Keys are distinct (the index
 * breaks ties), so the order is the same as any other sort's.
 */
static void sort_keys(struct sort_key *v, struct sort_key *tmp, size_t n)
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n <= SORT_KEYS_SMALL) {
		for (size_t a = 1; a < n; a++) {
			struct sort_key x = v[a];
			size_t b = a;

			for (; b > 0 && sort_key_less(&x, &v[b - 1]); b--)
				v[b] = v[b - 1];
			v[b] = x;
		}
		return;
	}
	sort_keys(v, tmp, h);
	sort_keys(v + h, tmp + h, n - h);
	if (!sort_key_less(&v[h], &v[h - 1]))
		return; /* already in order */
	while (i < h && j < n)
		tmp[k++] = sort_key_less(&v[j], &v[i]) ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	/* The rest of the right half is already in place. */
	memcpy(v, tmp, k * sizeof(*v));
}

/*
 * Sorts *@v by key.  Records are large: sorting small precomputed keys and
 * moving each record once into a new array (which replaces *@v) was several
 * times cheaper than qsort() on the records.  Without memory for that,
 * qsort() on the records.
 */
static void flow_records_sort(struct flow_record **v, size_t n)
{
	struct sort_key *keys = malloc(2 * n * sizeof(*keys));
	struct flow_record *tmp = malloc(n * sizeof(*tmp)), *old = *v;

	if (!keys || !tmp) {
		free(keys);
		free(tmp);
		qsort(old, n, sizeof(*old), flow_record_cmp);
		return;
	}
	for (size_t i = 0; i < n; i++)
		sort_key_make(&old[i].key, i, &keys[i]);
	sort_keys(keys, keys + n, n);
	for (size_t i = 0; i < n; i++)
		tmp[i] = old[keys[i].i];
	free(keys);
	free(old);
	*v = tmp;
}

/* Sorts *@v (which may be replaced) and merges equal keys in place;
 * returns the new count. */
static size_t sort_and_merge(struct flow_record **pv, size_t n)
{
	struct flow_record *v;
	size_t out = 0;

	if (n == 0)
		return 0;
	flow_records_sort(pv, n);
	v = *pv;
	for (size_t i = 1; i < n; i++) {
		if (flow_key_cmp(&v[out].key, &v[i].key) == 0)
			flow_record_merge(&v[out], &v[i]);
		else
			v[++out] = v[i];
	}
	return out + 1;
}

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
struct rd {
	struct json_scan sc;
	int line; /* line of sc.s[done], from 1 */
	size_t line_start; /* offset where that line starts */
	size_t done; /* sc.s[0..done) has been counted */
};

static void rd_count(struct rd *rd)
{
	const char *p = rd->sc.s + rd->done, *end = rd->sc.s + rd->sc.pos, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t) (end - p)))) {
		rd->line++;
		rd->line_start = (size_t) (nl - rd->sc.s) + 1;
		p = nl + 1;
	}
	rd->done = rd->sc.pos;
}

static int rd_syntax(struct ctx *c, struct rd *rd, const char *what)
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
static json_t *rd_value(struct ctx *c, struct rd *rd)
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

/*
 * Most of a flow's bytes are its two peer objects, and the same peer
 * object (a pod with its namespace, name and workload) comes back in many
 * flows: at 200,000 flows over 5,000 pods each one about 80 times.  The
 * text of each peer object jansson has parsed and that decoded cleanly is
 * remembered with the result, and a later peer whose bytes start with
 * exactly that text reuses it instead of lexing it again.  That is exact:
 * an object ends at its closing brace, so parsing bytes that start with a
 * complete object's text gives that object whatever follows.  Candidates
 * are found by a hash of the first bytes of the value.
 */
#define PEER_PREFIX 64
#define PEER_CACHE_MAX (1u << 20)

struct peer_ent {
	const char *text; /* into the document being read */
	size_t len;
	uint64_t h; /* prefix_hash() */
	struct addr addr;
	struct flow_peer peer;
};

/*
 * The open-addressing index of a cache: slots hold an entry's index + 1 (0
 * is empty), at most half full, a power of two in size.  Entries live in
 * the cache's own array, each with its 64-bit hash at @h_off.
 */
struct slot_index {
	uint32_t *slots;
	size_t n_slots;
};

static uint64_t entry_hash(const void *v, size_t stride, size_t h_off, size_t k)
{
	uint64_t h;

	memcpy(&h, (const char *) v + k * stride + h_off, sizeof(h));
	return h;
}

static void slot_index_put(struct slot_index *x, uint64_t h, size_t k)
{
	size_t i = h & (x->n_slots - 1);

	while (x->slots[i])
		i = (i + 1) & (x->n_slots - 1);
	x->slots[i] = (uint32_t) k + 1;
}

/*
 * Makes room in @x and in the entry array *@v (capacity *@cap) for entry
 * @n, the index growing from @first slots and re-filled from the @n
 * entries there are.  False without memory: nothing changed, and the
 * entry is simply not remembered.
 */
static bool cache_reserve(struct slot_index *x, void **v, size_t *cap, size_t n, size_t first,
			  size_t stride, size_t h_off)
{
	if ((n + 1) * 2 > x->n_slots) {
		struct slot_index nx = { .n_slots = x->n_slots ? x->n_slots * 2 : first };

		nx.slots = calloc(nx.n_slots, sizeof(*nx.slots));
		if (!nx.slots)
			return false;
		for (size_t k = 0; k < n; k++)
			slot_index_put(&nx, entry_hash(*v, stride, h_off, k), k);
		free(x->slots);
		*x = nx;
	}
	if (n == *cap) {
		size_t nc = *cap ? *cap * 2 : first;
		void *nv = realloc(*v, nc * stride);

		if (!nv)
			return false;
		*v = nv;
		*cap = nc;
	}
	return true;
}

struct peer_cache {
	struct peer_ent *v;
	size_t n, cap;
	struct slot_index idx;
	uint64_t seed;
};

static void peer_cache_done(struct peer_cache *pc)
{
	for (size_t i = 0; i < pc->n; i++)
		flow_peer_done(&pc->v[i].peer);
	free(pc->v);
	free(pc->idx.slots);
	*pc = (struct peer_cache){ 0 };
}

/*
 * Candidates are hashed on their first bytes up to the first ',', '}' or
 * ']' (at most @max): that prefix lies within the value itself for short
 * values too, so a value hashes alike whatever follows it.
 */
static uint64_t prefix_hash(const char *p, size_t avail, size_t max, uint64_t seed)
{
	size_t n = avail < max ? avail : max;

	for (size_t i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '}' || p[i] == ']')
			return hash_bytes(p, i, seed);
	return hash_bytes(p, n, seed);
}

static uint64_t peer_hash(const struct peer_cache *pc, const char *p, size_t avail)
{
	return prefix_hash(p, avail, PEER_PREFIX, pc->seed);
}

/* The entry whose text starts the object at rd->sc.pos, or SIZE_MAX. */
static size_t peer_cache_find(const struct peer_cache *pc, const struct rd *rd, uint64_t h)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos, mask = pc->idx.n_slots - 1;

	if (!pc->idx.n_slots)
		return SIZE_MAX;
	for (size_t i = h & mask; pc->idx.slots[i]; i = (i + 1) & mask) {
		const struct peer_ent *e = &pc->v[pc->idx.slots[i] - 1];

		if (e->h == h && e->len <= avail && memcmp(e->text, p, e->len) == 0)
			return pc->idx.slots[i] - 1;
	}
	return SIZE_MAX;
}

/*
 * Remembers a decoded peer: the entry takes over @peer's strings and labels
 * and @peer borrows them from it.  Without memory it is simply not
 * remembered and @peer keeps what it owns.
 */
static void peer_cache_add(struct peer_cache *pc, const char *text, size_t len, uint64_t h,
			   const struct addr *a, struct flow_peer *peer)
{
	struct peer_ent *e;

	if (pc->n >= PEER_CACHE_MAX)
		return;
	if (!cache_reserve(&pc->idx, (void **) &pc->v, &pc->cap, pc->n, 1024, sizeof(*pc->v),
			   offsetof(struct peer_ent, h)))
		return;
	e = &pc->v[pc->n];
	e->peer = *peer;
	peer->borrowed = true;
	e->text = text;
	e->len = len;
	e->h = h;
	e->addr = *a;
	slot_index_put(&pc->idx, h, pc->n++);
}

static int peer_ent_get(struct ctx *c, const struct peer_ent *e, struct addr *ret_addr,
			struct flow_peer *p)
{
	(void) c;
	*ret_addr = e->addr;
	*p = e->peer;
	p->borrowed = true;
	return 0;
}

/*
 * The other member values repeat as well (protocols, ports, counters,
 * times, seen_by): parsed values are kept by their text in the same way,
 * allocated outside the arena, and shared by reference.  A number (or
 * true/false/null) ends where the next byte is not part of it, so those are
 * stored and matched only when a delimiter follows their text.
 */
#define VAL_PREFIX 32
#define VAL_CACHE_MAX (1u << 16)

struct val_ent {
	const char *text;
	size_t len;
	uint64_t h;
	json_t *v;
};

struct val_cache {
	struct val_ent *v;
	size_t n, cap;
	struct slot_index idx;
	uint64_t seed;
};

static void val_cache_done(struct val_cache *vc)
{
	for (size_t i = 0; i < vc->n; i++)
		json_decref(vc->v[i].v);
	free(vc->v);
	free(vc->idx.slots);
	*vc = (struct val_cache){ 0 };
}

static bool val_delim_after(const struct rd *rd, size_t end)
{
	return end < rd->sc.len && strchr(",}] \t\r\n", rd->sc.s[end]) && rd->sc.s[end];
}

static bool val_self_delimited(char first)
{
	return first == '"' || first == '{' || first == '[';
}

/* The cached value at rd->sc.pos (a borrowed reference) with rd->sc.pos moved
 * past it, or NULL. */
static json_t *val_cache_find(const struct val_cache *vc, struct rd *rd, uint64_t h)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos, mask = vc->idx.n_slots - 1;

	if (!vc->idx.n_slots)
		return NULL;
	for (size_t i = h & mask; vc->idx.slots[i]; i = (i + 1) & mask) {
		const struct val_ent *e = &vc->v[vc->idx.slots[i] - 1];

		if (e->h == h && e->len <= avail && memcmp(e->text, p, e->len) == 0 &&
		    (val_self_delimited(*p) || val_delim_after(rd, rd->sc.pos + e->len))) {
			rd->sc.pos += e->len;
			return e->v;
		}
	}
	return NULL;
}

/* Takes a reference to @v when it is remembered. */
static void val_cache_add(struct val_cache *vc, const struct rd *rd, size_t start, uint64_t h,
			  json_t *v)
{
	struct val_ent *e;

	if (vc->n >= VAL_CACHE_MAX)
		return;
	if (!val_self_delimited(rd->sc.s[start]) && !val_delim_after(rd, rd->sc.pos))
		return;
	if (!cache_reserve(&vc->idx, (void **) &vc->v, &vc->cap, vc->n, 256, sizeof(*vc->v),
			   offsetof(struct val_ent, h)))
		return;
	e = &vc->v[vc->n];
	e->text = rd->sc.s + start;
	e->len = rd->sc.pos - start;
	e->h = h;
	e->v = json_incref(v);
	slot_index_put(&vc->idx, h, vc->n++);
}

/* Like rd_value() without an error message. */
static json_t *rd_try_value(struct rd *rd)
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
static int known_key(struct rd *rd)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos;

	for (int i = 0; i < _FM_MAX; i++) {
		size_t l = strlen(flow_member_names[i]);

		if (avail >= l + 2 && p[l + 1] == '"' &&
		    memcmp(p + 1, flow_member_names[i], l) == 0) {
			rd->sc.pos += l + 2;
			return i;
		}
	}
	return -1;
}

static int rd_flow_fast(const struct ctx *c, struct rd *rd, struct peer_cache *pc,
			struct val_cache *vc, struct flow_record *f)
{
	size_t start = rd->sc.pos, side_start[2] = { 0 }, side_len[2] = { 0 };
	size_t ent[2] = { SIZE_MAX, SIZE_MAX };
	uint64_t side_h[2] = { 0 };
	bool seen[_FM_MAX] = { false };
	struct bh_err scratch = { 0 };
	struct ctx qc = *c;
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
				side_h[side] = peer_hash(pc, rd->sc.s + rd->sc.pos,
							 rd->sc.len - rd->sc.pos);
				ent[side] = peer_cache_find(pc, rd, side_h[side]);
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
			uint64_t h = prefix_hash(rd->sc.s + vstart, rd->sc.len - vstart, VAL_PREFIX,
						 vc->seed);

			val = val_cache_find(vc, rd, h);
			if (val) {
				json_incref(val);
			} else {
				/* Kept beyond this flow: not from the arena. */
				(void) arena_set_active(arena_json_current(), false);
				val = rd_try_value(rd);
				(void) arena_set_active(arena_json_current(), true);
				if (!val)
					goto out;
				val_cache_add(vc, rd, vstart, h, val);
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
	if (decode_flow_members(&qc, m, ent[0] != SIZE_MAX ? &pc->v[ent[0]] : NULL,
				ent[1] != SIZE_MAX ? &pc->v[ent[1]] : NULL, f) < 0)
		goto out;
	/* Entries are added only now: adding may move pc->v. */
	if (side_len[0] && rd->sc.s[side_start[0]] == '{')
		peer_cache_add(pc, rd->sc.s + side_start[0], side_len[0], side_h[0], &f->key.src,
			       &f->src_peer);
	if (side_len[1] && rd->sc.s[side_start[1]] == '{')
		peer_cache_add(pc, rd->sc.s + side_start[1], side_len[1], side_h[1], &f->key.dst,
			       &f->dst_peer);
	r = 0;
out:
	for (size_t i = 0; i < _FM_MAX; i++)
		json_decref(m[i]);
	if (r)
		rd->sc.pos = start;
	return r;
}

/* The elements of the "flows" array, decoded one at a time. */
static int rd_flows(struct ctx *c, struct rd *rd, struct peer_cache *pc, struct flow_record **v,
		    size_t *n, size_t *cap)
{
	struct val_cache vc = { .seed = pc->seed };
	json_t *item;
	int r;

	for (r = json_scan_arr_open(&rd->sc); r > 0; r = json_scan_arr_next(&rd->sc)) {
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 1024;
			struct flow_record *nv = realloc(*v, nc * sizeof(*nv));

			if (!nv) {
				r = bh_err_oom(c->err);
				goto out;
			}
			*v = nv;
			*cap = nc;
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
		r = decode_flow(c, item, &(*v)[*n]);
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
	val_cache_done(&vc);
	return r;
}

/*
 * Walks the top-level object: the members other than "flows" go into
 * *ret_hdr (a new object), the flows into @v.  Returns 1 without touching
 * anything when the document does not start with '{' (the caller then
 * lets jansson describe what it is).
 */
static int rd_document(struct ctx *c, struct rd *rd, json_t **ret_hdr, struct peer_cache *pc,
		       struct flow_record **v, size_t *n, size_t *cap)
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
	struct ctx c = { .name = name, .err = reterr, .index = SIZE_MAX };
	struct rd rd = { .sc = { .s = data, .len = len }, .line = 1 };
	struct flow_record *v = NULL, *merged;
	struct flow_peer *peers;
	struct peer_cache pc = { .seed = hash_seed_random() };
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
		r = bad(&c, "(top level)", "expected a FlowList object");
		goto out;
	}
	item = json_object_get(root, "version");
	if (!json_is_integer(item)) {
		r = bad(&c, "version", "missing or not an integer (expected %d)",
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
		r = bad(&c, "kind", "expected '%s'", FLOWS_JSON_KIND);
		goto out;
	}
	item = json_object_get(root, "apiVersion");
	if (item &&
	    (!json_is_string(item) || strcmp(json_string_value(item), FLOWS_JSON_API_VERSION))) {
		r = bad(&c, "apiVersion", "expected '%s'", FLOWS_JSON_API_VERSION);
		goto out;
	}
	r = get_str(&c, root, "node", "node", false, &node);
	if (r < 0)
		goto out;
	if (json_object_get(root, "generated")) {
		r = get_time(&c, root, "generated", &generated);
		if (r < 0)
			goto out;
	}
	stats = json_object_get(root, "stats");
	if (stats && !json_is_object(stats)) {
		r = bad(&c, "stats", "expected an object");
		goto out;
	}
	if ((r = get_count(&c, stats, "packets", "stats.packets", &packets)) < 0 ||
	    (r = get_count(&c, stats, "evicted", "stats.evicted", &evicted)) < 0 ||
	    (r = get_count(&c, stats, "overruns", "stats.overruns", &overruns)) < 0)
		goto out;

	flows = json_object_get(root, "flows");
	if (!json_is_array(flows)) {
		r = bad(&c, "flows", "missing or not an array");
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
	s->n = sort_and_merge(&s->flows, s->n + n);
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
	peer_cache_done(&pc);
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
