/*
 * The snapshot reader.  A snapshot file holds one or more JSON documents,
 * or a YAML stream (kube_yaml.c), each a Kubernetes List (kubectl get
 * -o json or -o yaml) or a single object.  Objects
 * are decoded into vectors first and put into the cluster in sorted order,
 * so loading 10,000 pods is O(n log n) rather than an insertion sort.
 * The cluster is only handed over when every file decoded cleanly.
 *
 * Reading is done in two ways that give the same result.  The reference
 * way parses each document into one jansson tree and walks it.  The fast
 * way, used by default, first scans a List's text for the span of each
 * element of "items" and parses the elements one at a time into a small
 * arena that is reset after each (include/arena.h): no tree of the whole
 * document (about 60 MB for 10,000 pods), no malloc()/free() per JSON
 * value, and memory that stays in the cache.  The rest of the document is
 * parsed with
 * "items" replaced by [].  Whenever the fast way fails or meets something it
 * does not expect, what it added for that document is undone and the
 * document is read the reference way, which produces the error message:
 * errors are, by construction, the reference reader's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "json_scan.h"
#include "kube_object.h"
#include "snapshot.h"
#include "snapshot_kinds.h"
#include "kube_yaml.h"
#include "vec.h"

/* A snapshot of a 10,000-pod cluster is ~40 MB; refuse absurd inputs
 * rather than exhaust the node's memory. */
#define SNAPSHOT_FILE_MAX (1024UL * 1024 * 1024)

/* A YAML document is one tree (several times the text's size): 10,000
 * pods are ~50 MB of YAML. */
#define KUBE_YAML_MAX (256UL * 1024 * 1024)

/* Lists nested in Lists are followed this deep. */
#define SNAPSHOT_LIST_DEPTH 4

struct pending {
	struct k8s_ns *ns;
	struct pod *pods;
	struct netpol *pols;
	struct node *nodes;
	size_t n_ns, n_pods, n_pols, n_nodes;
	size_t cap_ns, cap_pods, cap_pols, cap_nodes;
	struct snapshot_skips skips;
};

static void pending_done(struct pending *p)
{
	for (size_t i = 0; i < p->n_ns; i++)
		k8s_ns_done(&p->ns[i]);
	for (size_t i = 0; i < p->n_pods; i++)
		pod_done(&p->pods[i]);
	for (size_t i = 0; i < p->n_pols; i++)
		netpol_done(&p->pols[i]);
	for (size_t i = 0; i < p->n_nodes; i++)
		node_done(&p->nodes[i]);
	snapshot_skips_done(&p->skips);
	free(p->ns);
	free(p->pods);
	free(p->pols);
	free(p->nodes);
	*p = (struct pending){ 0 };
}

/* The sizes of @p's vectors, to undo a document the fast way gave up on. */
struct pending_mark {
	size_t n_ns, n_pods, n_pols, n_nodes, n_skips;
};

static struct pending_mark pending_mark(const struct pending *p)
{
	return (struct pending_mark){ .n_ns = p->n_ns,
				      .n_pods = p->n_pods,
				      .n_pols = p->n_pols,
				      .n_nodes = p->n_nodes,
				      .n_skips = p->skips.n };
}

static void pending_rollback(struct pending *p, const struct pending_mark *m)
{
	while (p->n_ns > m->n_ns)
		k8s_ns_done(&p->ns[--p->n_ns]);
	while (p->n_pods > m->n_pods)
		pod_done(&p->pods[--p->n_pods]);
	while (p->n_pols > m->n_pols)
		netpol_done(&p->pols[--p->n_pols]);
	while (p->n_nodes > m->n_nodes)
		node_done(&p->nodes[--p->n_nodes]);
	snapshot_skips_truncate(&p->skips, m->n_skips);
}

static int decode_one(struct pending *p, const json_t *obj, enum kube_kind kind,
		      struct bh_err *reterr)
{
	int r;

	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		if (p->n_ns == p->cap_ns) {
			struct k8s_ns *v = vec_grow(p->ns, &p->cap_ns, p->n_ns + 1, sizeof(*v));

			if (!v)
				return bh_err_oom(reterr);
			p->ns = v;
		}
		r = kube_ns_decode(obj, &p->ns[p->n_ns], reterr);
		if (r == 0)
			p->n_ns++;
		return r;
	case KUBE_KIND_POD:
		if (p->n_pods == p->cap_pods) {
			struct pod *v = vec_grow(p->pods, &p->cap_pods, p->n_pods + 1, sizeof(*v));

			if (!v)
				return bh_err_oom(reterr);
			p->pods = v;
		}
		r = kube_pod_decode(obj, &p->pods[p->n_pods], reterr);
		if (r == 0)
			p->n_pods++;
		return r;
	case KUBE_KIND_NETPOL:
		if (p->n_pols == p->cap_pols) {
			struct netpol *v =
				vec_grow(p->pols, &p->cap_pols, p->n_pols + 1, sizeof(*v));

			if (!v)
				return bh_err_oom(reterr);
			p->pols = v;
		}
		r = kube_netpol_decode(obj, &p->pols[p->n_pols], reterr);
		if (r == 0)
			p->n_pols++;
		return r;
	case KUBE_KIND_NODE:
		if (p->n_nodes == p->cap_nodes) {
			struct node *v =
				vec_grow(p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof(*v));

			if (!v)
				return bh_err_oom(reterr);
			p->nodes = v;
		}
		r = kube_node_decode(obj, &p->nodes[p->n_nodes], reterr);
		if (r == 0)
			p->n_nodes++;
		return r;
	default:
		return -EINVAL; /* walk() handles the other kinds */
	}
}

/* What a document is read with: its file and, for YAML, where its parts
 * start (errors name the line of the object at fault). */
struct walk_ctx {
	const char *name;
	const struct snapshot_opts *opts;
	const struct kube_yaml_mark *items; /* of the top List's items */
	size_t n_items;
};

static int walk(struct pending *p, const struct walk_ctx *ctx, const json_t *doc, const char *where,
		int depth, struct bh_err *reterr)
{
	enum kube_kind kind;
	const char *kind_s;
	const json_t *items;
	json_t *item;
	size_t i;
	char sub[128];
	int r;

	if (!json_is_object(doc))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "%s%sexpected a Kubernetes object or List", where,
				  *where ? ": " : "");
	kind_s = json_string_value(json_object_get(doc, "kind"));
	if (!kind_s)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "%s%skind: expected a string naming the object's kind", where,
				  *where ? ": " : "");
	items = json_object_get(doc, "items");
	if (strlen(kind_s) >= 4 && strcmp(kind_s + strlen(kind_s) - 4, "List") == 0 && items &&
	    !json_is_array(items)) {
		/* items: with nothing after it, in YAML: an empty List. */
		if (json_is_null(items))
			return 0;
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "%s%sitems: expected an array of objects in a %s, got %s", where,
				  *where ? ": " : "", kind_s, kube_json_type_name(items));
	}
	kind = kube_object_kind(doc);
	if (kind == KUBE_KIND_UNKNOWN)
		return snapshot_skip_unknown(&p->skips, ctx->name, ctx->opts->skip_unknown, doc,
					     kind_s, where, reterr);
	if (kind != KUBE_KIND_LIST) {
		r = decode_one(p, doc, kind, reterr);
		if (r < 0 && *where)
			bh_err_prefix(reterr, "%s: ", where);
		return r;
	}
	if (depth >= SNAPSHOT_LIST_DEPTH)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: Lists nested too deeply",
				  where);
	json_array_foreach(items, i, item) {
		if (depth == 0 && i < ctx->n_items)
			snprintf(sub, sizeof(sub), "line %zu, column %zu: items[%zu]",
				 ctx->items[i].line, ctx->items[i].column, i);
		else
			snprintf(sub, sizeof(sub), "%s%sitems[%zu]", depth ? where : "",
				 depth ? "." : "", i);
		r = walk(p, ctx, item, sub, depth + 1, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static unsigned line_of(const char *data, size_t pos)
{
	unsigned line = 1;

	for (size_t i = 0; i < pos; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

/*
 * The fast way: json_scan (include/json_scan.h) finds value boundaries
 * without building anything.  Every span it finds is parsed by jansson
 * afterwards, and anything it does not accept sends the document to the
 * reference reader.
 */
struct span {
	size_t off, len;
};

/* Reused between documents and files. */
struct fast {
	struct arena *arena;
	struct span *items;
	size_t n_items, cap_items;
	struct buf skel;
};

/*
 * One element's tree: a pod of a typical cluster takes a few KB, a
 * NetworkPolicy tens of KB.  What does not fit is malloc()ed as before.
 */
#define SNAPSHOT_ARENA_SIZE (256u * 1024)

static void fast_init(struct fast *f)
{
	*f = (struct fast){ .arena = arena_new(SNAPSHOT_ARENA_SIZE) };
	buf_init(&f->skel, SNAPSHOT_FILE_MAX);
}

static void fast_done(struct fast *f)
{
	f->arena = arena_free(f->arena);
	free(f->items);
	f->items = NULL;
	f->n_items = f->cap_items = 0;
	buf_done(&f->skel);
}

/* At '[': records the span of every element; past the ']'. */
static bool scan_items(struct fast *f, struct json_scan *sc)
{
	int r;

	f->n_items = 0;
	for (r = json_scan_arr_open(sc); r > 0; r = json_scan_arr_next(sc)) {
		size_t start = sc->pos;

		if (!json_scan_value(sc))
			return false;
		if (f->n_items == f->cap_items) {
			struct span *v =
				vec_grow(f->items, &f->cap_items, f->n_items + 1, sizeof(*v));

			if (!v)
				return false;
			f->items = v;
		}
		f->items[f->n_items++] = (struct span){ .off = start, .len = sc->pos - start };
	}
	return r == 0;
}

/* The value filling @s parsed by jansson into the arena, or NULL. */
static json_t *fast_parse(struct fast *f, const char *s, size_t len)
{
	json_error_t jerr;
	json_t *v;

	(void) arena_set_active(f->arena, true);
	v = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	(void) arena_set_active(f->arena, false);
	return v;
}

/*
 * Reads the document at @s the fast way into @p and sets *ret_end past
 * it; < 0 when it cannot (the caller undoes what was added and reads the
 * document the reference way).  Decoders run without an error to fill,
 * so they build no field paths or messages: the reference way does.
 */
static int fast_doc(struct fast *f, struct pending *p, const struct walk_ctx *ctx, const char *s,
		    size_t len, size_t *ret_end)
{
	struct json_scan sc = { .s = s, .len = len };
	size_t items_start = 0, items_end = 0;
	bool have_items = false;
	json_t *doc, *item;
	const char *text = s;
	size_t text_len;
	int r;

	if (!json_scan_is(&sc, '{'))
		return -EINVAL;
	sc.pos++;
	json_scan_ws(&sc);
	if (!json_scan_is(&sc, '}')) {
		for (;;) {
			size_t key = sc.pos + 1;
			bool is_items;

			if (!json_scan_is(&sc, '"') || !json_scan_string(&sc))
				return -EINVAL;
			is_items = sc.pos - key == 6 && memcmp(s + key, "items\"", 6) == 0;
			json_scan_ws(&sc);
			if (!json_scan_is(&sc, ':'))
				return -EINVAL;
			sc.pos++;
			json_scan_ws(&sc);
			if (is_items && !have_items && json_scan_is(&sc, '[')) {
				items_start = sc.pos;
				if (!scan_items(f, &sc))
					return -EINVAL;
				items_end = sc.pos;
				have_items = true;
			} else if (!json_scan_value(&sc)) {
				return -EINVAL;
			}
			json_scan_ws(&sc);
			if (json_scan_is(&sc, '}'))
				break;
			if (!json_scan_is(&sc, ','))
				return -EINVAL;
			sc.pos++;
			json_scan_ws(&sc);
		}
	}
	sc.pos++;
	text_len = sc.pos;
	if (have_items) {
		buf_reset(&f->skel);
		if (buf_append(&f->skel, s, items_start) < 0 || buf_append(&f->skel, "[]", 2) < 0 ||
		    buf_append(&f->skel, s + items_end, sc.pos - items_end) < 0)
			return -ENOMEM;
		text = f->skel.data;
		text_len = f->skel.len;
	}
	doc = fast_parse(f, text, text_len);
	if (!doc) {
		r = -EBADMSG;
		goto out;
	}
	if (!have_items) {
		r = walk(p, ctx, doc, "", 0, NULL);
		goto out;
	}
	/* What walk() does for a List at the top, one element at a time. */
	r = -EINVAL;
	if (kube_object_kind(doc) != KUBE_KIND_LIST)
		goto out;
	json_decref(doc);
	doc = NULL;
	arena_reset(f->arena);
	for (size_t i = 0; i < f->n_items; i++) {
		item = fast_parse(f, s + f->items[i].off, f->items[i].len);
		if (!item) {
			r = -EBADMSG;
			goto out;
		}
		r = walk(p, ctx, item, "", 1, NULL);
		json_decref(item);
		/* The element's tree is released: its memory is free. */
		arena_reset(f->arena);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(doc);
	arena_reset(f->arena);
	if (r == 0)
		*ret_end = sc.pos;
	return r;
}

/* The reference way: one tree per document. */
static int ref_doc(struct pending *p, const struct walk_ctx *ctx, const char *data, size_t len,
		   size_t off, unsigned docs, size_t *ret_end, struct bh_err *reterr)
{
	json_error_t jerr;
	json_t *doc;
	char where[64];
	int r;

	doc = json_loadb(data + off, len - off, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES,
			 &jerr);
	if (!doc) {
		unsigned base = line_of(data, off);

		return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
				  "snapshot '%s': line %d, column %d: %s", ctx->name,
				  jerr.line + (int) base - 1, jerr.column, jerr.text);
	}
	snprintf(where, sizeof(where), "document %u", docs);
	r = walk(p, ctx, doc, docs == 1 ? "" : where, 0, reterr);
	json_decref(doc);
	if (r < 0)
		return bh_err_prefix(reterr, "snapshot '%s': ", ctx->name);
	*ret_end = off + jerr.position;
	return 0;
}

struct yaml_walk {
	struct pending *p;
	struct walk_ctx ctx;
};

static int yaml_doc_cb(void *ud, const struct kube_yaml_doc *d, struct bh_err *reterr)
{
	struct yaml_walk *yw = ud;
	char where[96];
	int r;

	if (d->index == 1)
		snprintf(where, sizeof(where), "line %zu, column %zu", d->start.line,
			 d->start.column);
	else
		snprintf(where, sizeof(where), "line %zu, column %zu: document %u", d->start.line,
			 d->start.column, d->index);
	yw->ctx.items = d->items;
	yw->ctx.n_items = d->n_items;
	r = walk(yw->p, &yw->ctx, d->root, where, 0, reterr);
	yw->ctx.items = NULL;
	yw->ctx.n_items = 0;
	if (r < 0)
		return bh_err_prefix(reterr, "snapshot '%s': ", yw->ctx.name);
	return 0;
}

/* JSON or YAML?  By content, not by name: '{' or '[' first is JSON. */
static bool is_json(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && json_scan_is_ws(data[i]))
		i++;
	return i == len || data[i] == '{' || data[i] == '[';
}

static int parse_yaml(struct pending *p, const struct walk_ctx *ctx, const char *data, size_t len,
		      struct bh_err *reterr)
{
	struct yaml_walk yw = { .p = p, .ctx = *ctx };
	int r;

	if (len > KUBE_YAML_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -E2BIG,
				  "snapshot '%s': YAML larger than 256 MiB (JSON may be up to "
				  "1 GiB: kubectl get -o json)",
				  ctx->name);
	r = kube_yaml_read(data, len, "snapshot", ctx->name, yaml_doc_cb, &yw, reterr);
	if (r == 0)
		r = bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
			       "snapshot '%s': empty, expected a Kubernetes List or object",
			       ctx->name);
	return r < 0 ? r : 0;
}

/* Decodes every document of one buffer into @p, the fast way when @f is
 * not NULL. */
static int parse_buf(struct pending *p, struct fast *f, const char *data, size_t len,
		     const char *name, const struct snapshot_opts *opts, struct bh_err *reterr)
{
	const struct walk_ctx ctx = { .name = name, .opts = opts };
	struct arena *prev = NULL;
	size_t off = 0;
	unsigned docs = 0;
	int r = 0;

	if (!is_json(data, len))
		return parse_yaml(p, &ctx, data, len, reterr);
	/* JSON has no raw NUL (a string says \u0000); jansson would skip it
	 * and miscount the document's end, the fast scanner stop at it. */
	{
		const char *nul = memchr(data, '\0', len);

		if (nul) {
			size_t pos = (size_t) (nul - data), col = pos;

			while (col > 0 && data[col - 1] != '\n')
				col--;
			return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
					  "snapshot '%s': line %u, column %zu: NUL byte", name,
					  line_of(data, pos), pos - col + 1);
		}
	}
	if (f)
		prev = arena_json_bind(f->arena);
	for (;;) {
		struct pending_mark m = pending_mark(p);
		size_t end = 0;

		while (off < len && json_scan_is_ws(data[off]))
			off++;
		if (off >= len)
			break;
		docs++;
		if (f && fast_doc(f, p, &ctx, data + off, len - off, &end) == 0) {
			off += end;
			continue;
		}
		pending_rollback(p, &m);
		r = ref_doc(p, &ctx, data, len, off, docs, &end, reterr);
		if (r < 0)
			goto out;
		off = end;
	}
	if (docs == 0)
		r = bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
			       "snapshot '%s': empty, expected a Kubernetes List or object", name);
out:
	if (f)
		(void) arena_json_bind(prev);
	return r;
}

/*
 * Sorting with the original position as the tie-breaker keeps duplicates in
 * input order, so putting them in sequence lets the last one win.
 */
struct order {
	const char *ns, *name;
	size_t idx;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	int c = strcmp(x->ns ? x->ns : "", y->ns ? y->ns : "");

	if (c == 0)
		c = strcmp(x->name, y->name);
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

typedef int put_fn(struct cluster *c, void *elem);

static int put_ns_cb(struct cluster *c, void *e)
{
	return cluster_ns_put(c, e);
}
static int put_pod_cb(struct cluster *c, void *e)
{
	return cluster_pod_put(c, e);
}
static int put_pol_cb(struct cluster *c, void *e)
{
	return cluster_policy_put(c, e);
}
static int put_node_cb(struct cluster *c, void *e)
{
	return cluster_node_put(c, e);
}

/* Puts every element of a vector into @c in key order; the vector's
 * elements are handed over (zeroed) whether or not this succeeds. */
static int put_sorted(struct cluster *c, void *vec, size_t n, size_t size, size_t ns_off,
		      size_t name_off, put_fn *put)
{
	struct order *o;
	int r = 0;

	if (n == 0)
		return 0;
	o = malloc(n * sizeof(*o));
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *) vec + i * size;

		/* memcpy: the key pointers sit at byte offsets of the element */
		o[i] = (struct order){ .idx = i };
		if (ns_off != SIZE_MAX)
			memcpy(&o[i].ns, e + ns_off, sizeof(o[i].ns));
		memcpy(&o[i].name, e + name_off, sizeof(o[i].name));
	}
	qsort(o, n, sizeof(*o), order_cmp);
	for (size_t i = 0; i < n; i++) {
		char *e = (char *) vec + o[i].idx * size;

		if (r == 0 && put(c, e) < 0)
			r = -ENOMEM;
		memset(e, 0, size); /* taken by put(), which frees on failure */
	}
	free(o);
	return r;
}

static int pending_commit(struct pending *p, struct cluster *c)
{
	int r = 0;

	if (put_sorted(c, p->ns, p->n_ns, sizeof(*p->ns), SIZE_MAX, offsetof(struct k8s_ns, name),
		       put_ns_cb) < 0 ||
	    put_sorted(c, p->pods, p->n_pods, sizeof(*p->pods), offsetof(struct pod, ns),
		       offsetof(struct pod, name), put_pod_cb) < 0 ||
	    put_sorted(c, p->pols, p->n_pols, sizeof(*p->pols), offsetof(struct netpol, ns),
		       offsetof(struct netpol, name), put_pol_cb) < 0 ||
	    put_sorted(c, p->nodes, p->n_nodes, sizeof(*p->nodes), SIZE_MAX,
		       offsetof(struct node, name), put_node_cb) < 0)
		r = -ENOMEM;
	/* Elements handed over are zeroed; whatever is left is freed here. */
	pending_done(p);
	return r;
}

static int read_file(const char *path, struct buf *b, struct bh_err *reterr)
{
	int r = buf_read_file(b, path);

	if (r == -E2BIG)
		return bh_err_set(reterr, BH_ERR_INPUT, r, "snapshot '%s': larger than 1 GiB",
				  path);
	if (r < 0)
		return bh_err_set(reterr,
				  r == -ENOENT || r == -EISDIR ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
				  "snapshot '%s': %s", path, strerror(-r));
	return 0;
}

static const struct snapshot_opts opts_default;

static void stats_of(const struct pending *p, struct snapshot_stats *st)
{
	size_t unreadable = 0;

	st->skipped += p->skips.n;
	for (size_t i = 0; i < p->skips.n; i++)
		unreadable += p->skips.v[i].unreadable;
	st->skipped_unreadable += unreadable;
}

int snapshot_merge_buf(struct cluster *c, const char *data, size_t len, const char *name,
		       struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct cluster *copy = NULL;
	struct fast f;
	int r;

	fast_init(&f);
	r = parse_buf(&p, &f, data, len, name, &opts_default, reterr);
	if (r < 0)
		goto out;
	/* Put into a copy so that a failure leaves @c as it was. */
	r = cluster_copy(c, &copy);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (ret_stats)
		stats_of(&p, ret_stats);
	r = pending_commit(&p, copy);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	/* Swap contents so the caller's pointer stays valid. */
	{
		struct cluster tmp = *c;

		*c = *copy;
		*copy = tmp;
	}
out:
	fast_done(&f);
	pending_done(&p);
	cluster_free(copy);
	return r;
}

/* Hands what @p decoded over as a new cluster in *@ret. */
static int pending_finish(struct pending *p, const struct snapshot_opts *opts, struct cluster **ret,
			  struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct cluster *c = cluster_new();

	if (ret_stats) {
		*ret_stats = (struct snapshot_stats){ 0 };
		stats_of(p, ret_stats); /* before pending_commit() empties @p */
	}
	if (c && opts->warn)
		snapshot_skips_warn(&p->skips);
	if (!c || pending_commit(p, c) < 0) {
		cluster_free(c);
		return bh_err_oom(reterr);
	}
	*ret = c;
	return 0;
}

int snapshot_load_buf_opts(const char *data, size_t len, const char *name,
			   const struct snapshot_opts *opts, struct cluster **ret,
			   struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct fast f;
	int r;

	if (!opts)
		opts = &opts_default;
	fast_init(&f);
	r = parse_buf(&p, opts->reference ? NULL : &f, data, len, name, opts, reterr);
	if (r == 0)
		r = pending_finish(&p, opts, ret, ret_stats, reterr);
	fast_done(&f);
	pending_done(&p);
	return r;
}

int snapshot_load_buf(const char *data, size_t len, const char *name, struct cluster **ret,
		      struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	return snapshot_load_buf_opts(data, len, name, NULL, ret, ret_stats, reterr);
}

int snapshot_load_buf_reference(const char *data, size_t len, const char *name,
				struct cluster **ret, struct snapshot_stats *ret_stats,
				struct bh_err *reterr)
{
	const struct snapshot_opts o = { .reference = true };

	return snapshot_load_buf_opts(data, len, name, &o, ret, ret_stats, reterr);
}

int snapshot_load(const char *const *paths, size_t n, const struct snapshot_opts *opts,
		  struct cluster **ret, struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct fast f;
	struct buf b;
	int r = 0;

	if (!opts)
		opts = &opts_default;
	if (n == 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "--snapshot: no file given");
	buf_init(&b, SNAPSHOT_FILE_MAX);
	fast_init(&f);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		r = read_file(paths[i], &b, reterr);
		if (r < 0)
			goto out;
		r = parse_buf(&p, opts->reference ? NULL : &f, b.data ? b.data : "", b.len,
			      paths[i], opts, reterr);
		if (r < 0)
			goto out;
	}
	r = pending_finish(&p, opts, ret, ret_stats, reterr);
out:
	fast_done(&f);
	pending_done(&p);
	buf_done(&b);
	return r;
}

int snapshot_load_files(const char *const *paths, size_t n, struct cluster **ret,
			struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	return snapshot_load(paths, n, NULL, ret, ret_stats, reterr);
}
