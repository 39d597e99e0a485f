/*
 * The snapshot reader.  A snapshot file holds one or more JSON documents,
 * each a Kubernetes List (kubectl get -o json) or a single object.  Objects
 * are decoded into vectors first and put into the cluster in sorted order,
 * so loading 10,000 pods is O(n log n) rather than an insertion sort.
 * The cluster is only handed over when every file decoded cleanly.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kube_object.h"
#include "snapshot.h"

/* A snapshot of a 10,000-pod cluster is ~40 MB; refuse absurd inputs
 * rather than exhaust the node's memory. */
#define SNAPSHOT_FILE_MAX (1024UL * 1024 * 1024)

/* Lists nested in Lists are followed this deep. */
#define SNAPSHOT_LIST_DEPTH 4

struct pending {
	struct k8s_ns *ns;
	struct pod *pods;
	struct netpol *pols;
	struct node *nodes;
	size_t n_ns, n_pods, n_pols, n_nodes;
	size_t cap_ns, cap_pods, cap_pols, cap_nodes;
	size_t skipped;
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
	free(p->ns);
	free(p->pods);
	free(p->pols);
	free(p->nodes);
	*p = (struct pending){ 0 };
}

/* Makes room for one more element in a vector. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int decode_one(struct pending *p, const json_t *obj, enum kube_kind kind,
		      struct bh_err *reterr)
{
	int r;

	switch (kind) {
	case KUBE_KIND_NAMESPACE:
		if (grow((void **) &p->ns, &p->cap_ns, p->n_ns, sizeof(*p->ns)) < 0)
			return bh_err_oom(reterr);
		r = kube_ns_decode(obj, &p->ns[p->n_ns], reterr);
		if (r == 0)
			p->n_ns++;
		return r;
	case KUBE_KIND_POD:
		if (grow((void **) &p->pods, &p->cap_pods, p->n_pods, sizeof(*p->pods)) < 0)
			return bh_err_oom(reterr);
		r = kube_pod_decode(obj, &p->pods[p->n_pods], reterr);
		if (r == 0)
			p->n_pods++;
		return r;
	case KUBE_KIND_NETPOL:
		if (grow((void **) &p->pols, &p->cap_pols, p->n_pols, sizeof(*p->pols)) < 0)
			return bh_err_oom(reterr);
		r = kube_netpol_decode(obj, &p->pols[p->n_pols], reterr);
		if (r == 0)
			p->n_pols++;
		return r;
	case KUBE_KIND_NODE:
		if (grow((void **) &p->nodes, &p->cap_nodes, p->n_nodes, sizeof(*p->nodes)) < 0)
			return bh_err_oom(reterr);
		r = kube_node_decode(obj, &p->nodes[p->n_nodes], reterr);
		if (r == 0)
			p->n_nodes++;
		return r;
	default:
		p->skipped++;
		return 0;
	}
}

static int walk(struct pending *p, const json_t *doc, const char *where, int depth,
		struct bh_err *reterr)
{
	enum kube_kind kind;
	const json_t *items;
	json_t *item;
	size_t i;
	char sub[96];
	int r;

	if (!json_is_object(doc))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "%s: expected a Kubernetes object or List", where);
	kind = kube_object_kind(doc);
	if (kind != KUBE_KIND_LIST) {
		if (kind == KUBE_KIND_UNKNOWN && !json_is_string(json_object_get(doc, "kind")))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "%s: kind: expected a string naming the object's kind",
					  where);
		r = decode_one(p, doc, kind, reterr);
		if (r < 0 && *where)
			bh_err_prefix(reterr, "%s: ", where);
		return r;
	}
	if (depth >= SNAPSHOT_LIST_DEPTH)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: Lists nested too deeply",
				  where);
	items = json_object_get(doc, "items");
	json_array_foreach(items, i, item) {
		snprintf(sub, sizeof(sub), "%s%sitems[%zu]", depth ? where : "", depth ? "." : "",
			 i);
		r = walk(p, item, sub, depth + 1, reterr);
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

/* Decodes every document of one buffer into @p. */
static int parse_buf(struct pending *p, const char *data, size_t len, const char *name,
		     struct bh_err *reterr)
{
	size_t off = 0;
	unsigned docs = 0;
	int r;

	for (;;) {
		json_error_t jerr;
		json_t *doc;
		char where[64];

		while (off < len && (data[off] == ' ' || data[off] == '\n' || data[off] == '\t' ||
				     data[off] == '\r'))
			off++;
		if (off >= len)
			break;
		doc = json_loadb(data + off, len - off,
				 JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
		if (!doc) {
			unsigned base = line_of(data, off);

			return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
					  "snapshot '%s': line %d, column %d: %s", name,
					  jerr.line + (int) base - 1, jerr.column, jerr.text);
		}
		snprintf(where, sizeof(where), "document %u", ++docs);
		r = walk(p, doc, docs == 1 ? "" : where, 0, reterr);
		json_decref(doc);
		if (r < 0)
			return bh_err_prefix(reterr, "snapshot '%s': ", name);
		off += jerr.position;
	}
	if (docs == 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
				  "snapshot '%s': empty, expected a Kubernetes List or object",
				  name);
	return 0;
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
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int r = 0;

	if (!f) {
		r = -errno;
		return bh_err_set(reterr,
				  r == -ENOENT || r == -EISDIR ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
				  "snapshot '%s': %s", path, strerror(-r));
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		r = buf_append(b, chunk, n);
		if (r < 0) {
			bh_err_set(reterr, r == -E2BIG ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
				   "snapshot '%s': %s", path,
				   r == -E2BIG ? "larger than 1 GiB" : "out of memory");
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		r = errno ? -errno : -EIO;
		bh_err_set(reterr, r == -EISDIR ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
			   "snapshot '%s': %s", path, strerror(-r));
	}
	if (f != stdin)
		fclose(f);
	return r;
}

int snapshot_merge_buf(struct cluster *c, const char *data, size_t len, const char *name,
		       struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct cluster *copy = NULL;
	int r;

	r = parse_buf(&p, data, len, name, reterr);
	if (r < 0)
		goto out;
	/* Put into a copy so that a failure leaves @c as it was. */
	r = cluster_copy(c, &copy);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (ret_stats)
		ret_stats->skipped += p.skipped;
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
	pending_done(&p);
	cluster_free(copy);
	return r;
}

int snapshot_load_buf(const char *data, size_t len, const char *name, struct cluster **ret,
		      struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct cluster *c;
	int r;

	r = parse_buf(&p, data, len, name, reterr);
	if (r < 0) {
		pending_done(&p);
		return r;
	}
	if (ret_stats)
		ret_stats->skipped = p.skipped;
	c = cluster_new();
	if (!c || pending_commit(&p, c) < 0) {
		pending_done(&p);
		cluster_free(c);
		return bh_err_oom(reterr);
	}
	*ret = c;
	return 0;
}

int snapshot_load_files(const char *const *paths, size_t n, struct cluster **ret,
			struct snapshot_stats *ret_stats, struct bh_err *reterr)
{
	struct pending p = { 0 };
	struct cluster *c = NULL;
	struct buf b;
	int r = 0;

	if (n == 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "--snapshot: no file given");
	buf_init(&b, SNAPSHOT_FILE_MAX);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		r = read_file(paths[i], &b, reterr);
		if (r < 0)
			goto out;
		r = parse_buf(&p, b.data ? b.data : "", b.len, paths[i], reterr);
		if (r < 0)
			goto out;
	}
	c = cluster_new();
	if (!c) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (ret_stats)
		ret_stats->skipped = p.skipped;
	r = pending_commit(&p, c);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	*ret = c;
	c = NULL;
out:
	pending_done(&p);
	cluster_free(c);
	buf_done(&b);
	return r;
}
