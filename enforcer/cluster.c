#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "hash.h"
#include "str.h"
#include "vec.h"

struct name_key {
	const char *ns; /* NULL for cluster-scoped objects */
	const char *name;
};

typedef int key_cmp_fn(const void *elem, const struct name_key *k);

static int cmp_ns(const void *e, const struct name_key *k)
{
	return strcmp(((const struct k8s_ns *) e)->name, k->name);
}

static int cmp_pod(const void *e, const struct name_key *k)
{
	const struct pod *p = e;
	int c = strcmp(p->ns, k->ns);

	return c ? c : strcmp(p->name, k->name);
}

static int cmp_policy(const void *e, const struct name_key *k)
{
	const struct netpol *p = e;
	int c = strcmp(p->ns, k->ns);

	return c ? c : strcmp(p->name, k->name);
}

static int cmp_node(const void *e, const struct name_key *k)
{
	return strcmp(((const struct node *) e)->name, k->name);
}

/* Binary search over a sorted array; the insertion point when not found. */
static size_t sorted_find(const void *base, size_t n, size_t size, const struct name_key *k,
			  key_cmp_fn *cmp, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp((const char *) base + mid * size, k);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

typedef void done_fn(void *elem);

/*
 * Inserts or replaces *elem in a sorted array of *@cap allocated elements.
 * Takes ownership of @elem's contents, freeing them with @done on failure.
 * The array grows geometrically: adding thousands of policies one by one
 * (the self-check of propose) reallocated and often copied it each time.
 */
static int sorted_put(void **base, size_t *n, size_t *cap, size_t size, void *elem,
		      const struct name_key *k, key_cmp_fn *cmp, done_fn *done, void *ret_old)
{
	bool found;
	size_t i = sorted_find(*base, *n, size, k, cmp, &found);
	char *arr = *base;

	if (ret_old)
		memset(ret_old, 0, size);
	if (found) {
		if (ret_old)
			memcpy(ret_old, (char *) *base + i * size, size);
		else
			done((char *) *base + i * size);
		memcpy((char *) *base + i * size, elem, size);
		return 0;
	}
	if (*cap < *n + 1) {
		arr = vec_grow(*base, cap, *n + 1, size);
		if (!arr) {
			done(elem);
			return -ENOMEM;
		}
	}
	memmove(arr + (i + 1) * size, arr + i * size, (*n - i) * size);
	memcpy(arr + i * size, elem, size);
	*base = arr;
	(*n)++;
	return 1;
}

static int sorted_remove(void *base, size_t *n, size_t size, const struct name_key *k,
			 key_cmp_fn *cmp, done_fn *done, void *ret)
{
	bool found;
	size_t i = sorted_find(base, *n, size, k, cmp, &found);

	if (ret)
		memset(ret, 0, size);
	if (!found)
		return 0;
	if (ret)
		memcpy(ret, (char *) base + i * size, size);
	else
		done((char *) base + i * size);
	memmove((char *) base + i * size, (char *) base + (i + 1) * size, (*n - i - 1) * size);
	(*n)--;
	return 1;
}

void k8s_ns_done(struct k8s_ns *ns)
{
	free(ns->name);
	labels_done(&ns->labels);
	ns->name = NULL;
}

void pod_done(struct pod *p)
{
	free(p->ns);
	free(p->name);
	free(p->uid);
	labels_done(&p->labels);
	free(p->node);
	free(p->phase);
	free(p->owner.kind);
	free(p->owner.name);
	for (size_t i = 0; i < p->n_ports; i++)
		free(p->ports[i].name);
	free(p->ports);
	*p = (struct pod){ 0 };
}

void node_done(struct node *n)
{
	free(n->name);
	free(n->addrs);
	*n = (struct node){ 0 };
}

static void ns_done_cb(void *e)
{
	k8s_ns_done(e);
}
static void pod_done_cb(void *e)
{
	pod_done(e);
}
static void policy_done_cb(void *e)
{
	netpol_done(e);
}
static void node_done_cb(void *e)
{
	node_done(e);
}

struct cluster *cluster_new(void)
{
	struct cluster *c = calloc(1, sizeof(*c));

	if (c)
		c->by_addr_stale = true;
	return c;
}

struct cluster *cluster_free(struct cluster *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_ns; i++)
		k8s_ns_done(&c->ns[i]);
	for (size_t i = 0; i < c->n_pods; i++)
		pod_done(&c->pods[i]);
	for (size_t i = 0; i < c->n_policies; i++)
		netpol_done(&c->policies[i]);
	for (size_t i = 0; i < c->n_nodes; i++)
		node_done(&c->nodes[i]);
	free(c->ns);
	free(c->pods);
	free(c->policies);
	free(c->nodes);
	free(c->by_addr);
	hmap_free(&c->by_name);
	free(c->by_name_keys);
	free(c);
	return NULL;
}

int cluster_ns_replace(struct cluster *c, struct k8s_ns *ns, struct k8s_ns *ret_old)
{
	struct name_key k = { .name = ns->name };
	int r = sorted_put((void **) &c->ns, &c->n_ns, &c->cap_ns, sizeof(*ns), ns, &k, cmp_ns,
			   ns_done_cb, ret_old);

	c->ns_gen += r == 1;
	return r;
}

int cluster_pod_replace(struct cluster *c, struct pod *p, struct pod *ret_old)
{
	struct name_key k = { .ns = p->ns, .name = p->name };
	bool found;
	size_t i;
	int r;

	c->by_addr_stale = true;
	c->by_name_valid = false;
	r = sorted_put((void **) &c->pods, &c->n_pods, &c->cap_pods, sizeof(*p), p, &k, cmp_pod,
		       pod_done_cb, ret_old);
	if (r != 1)
		return r;
	/* The first pod of its namespace: that namespace may be new. */
	i = sorted_find(c->pods, c->n_pods, sizeof(*c->pods), &k, cmp_pod, &found);
	if ((i == 0 || strcmp(c->pods[i - 1].ns, c->pods[i].ns) != 0) &&
	    (i + 1 == c->n_pods || strcmp(c->pods[i + 1].ns, c->pods[i].ns) != 0))
		c->ns_gen++;
	return r;
}

int cluster_policy_replace(struct cluster *c, struct netpol *p, struct netpol *ret_old)
{
	struct name_key k = { .ns = p->ns, .name = p->name };

	return sorted_put((void **) &c->policies, &c->n_policies, &c->cap_policies, sizeof(*p), p,
			  &k, cmp_policy, policy_done_cb, ret_old);
}

int cluster_node_replace(struct cluster *c, struct node *n, struct node *ret_old)
{
	struct name_key k = { .name = n->name };

	return sorted_put((void **) &c->nodes, &c->n_nodes, &c->cap_nodes, sizeof(*n), n, &k,
			  cmp_node, node_done_cb, ret_old);
}

int cluster_ns_put(struct cluster *c, struct k8s_ns *ns)
{
	return cluster_ns_replace(c, ns, NULL);
}

int cluster_pod_put(struct cluster *c, struct pod *p)
{
	return cluster_pod_replace(c, p, NULL);
}

int cluster_policy_put(struct cluster *c, struct netpol *p)
{
	return cluster_policy_replace(c, p, NULL);
}

int cluster_node_put(struct cluster *c, struct node *n)
{
	return cluster_node_replace(c, n, NULL);
}

int cluster_ns_take(struct cluster *c, const char *name, struct k8s_ns *ret)
{
	struct name_key k = { .name = name };
	int r = sorted_remove(c->ns, &c->n_ns, sizeof(*c->ns), &k, cmp_ns, ns_done_cb, ret);

	c->ns_gen += r == 1;
	return r;
}

int cluster_pod_take(struct cluster *c, const char *ns, const char *name, struct pod *ret)
{
	struct name_key k = { .ns = ns, .name = name };

	c->by_addr_stale = true;
	c->by_name_valid = false;
	return sorted_remove(c->pods, &c->n_pods, sizeof(*c->pods), &k, cmp_pod, pod_done_cb, ret);
}

int cluster_policy_take(struct cluster *c, const char *ns, const char *name, struct netpol *ret)
{
	struct name_key k = { .ns = ns, .name = name };

	return sorted_remove(c->policies, &c->n_policies, sizeof(*c->policies), &k, cmp_policy,
			     policy_done_cb, ret);
}

int cluster_node_take(struct cluster *c, const char *name, struct node *ret)
{
	struct name_key k = { .name = name };

	return sorted_remove(c->nodes, &c->n_nodes, sizeof(*c->nodes), &k, cmp_node, node_done_cb,
			     ret);
}

int cluster_ns_remove(struct cluster *c, const char *name)
{
	return cluster_ns_take(c, name, NULL);
}

int cluster_pod_remove(struct cluster *c, const char *ns, const char *name)
{
	return cluster_pod_take(c, ns, name, NULL);
}

int cluster_policy_remove(struct cluster *c, const char *ns, const char *name)
{
	return cluster_policy_take(c, ns, name, NULL);
}

int cluster_node_remove(struct cluster *c, const char *name)
{
	return cluster_node_take(c, name, NULL);
}

const struct k8s_ns *cluster_ns_find(const struct cluster *c, const char *name)
{
	struct name_key k = { .name = name };
	bool found;
	size_t i = sorted_find(c->ns, c->n_ns, sizeof(*c->ns), &k, cmp_ns, &found);

	return found ? &c->ns[i] : NULL;
}

/* The longest "ns\0name" a lookup hashes (Kubernetes allows 63 + 1 +
 * 253); longer names are found by binary search. */
#define CLUSTER_POD_KEY_MAX 512

int cluster_pod_index(struct cluster *c)
{
	size_t total = 0;
	char *keys, *k;
	int r;

	c->by_name_valid = false;
	for (size_t i = 0; i < c->n_pods; i++) {
		size_t len = strlen(c->pods[i].ns) + 1 + strlen(c->pods[i].name);

		if (total + len < total)
			return -ENOMEM;
		total += len;
	}
	keys = malloc(total ? total : 1);
	if (!keys)
		return -ENOMEM;
	hmap_free(&c->by_name);
	free(c->by_name_keys);
	c->by_name_keys = keys;
	/* Names come from outside: a random seed keeps collisions from
	 * being chosen. */
	hmap_init(&c->by_name, hash_seed_random());
	r = hmap_reserve(&c->by_name, c->n_pods);
	k = keys;
	for (size_t i = 0; r >= 0 && i < c->n_pods; i++) {
		size_t nl = strlen(c->pods[i].ns), ml = strlen(c->pods[i].name);

		memcpy(k, c->pods[i].ns, nl + 1);
		memcpy(k + nl + 1, c->pods[i].name, ml);
		r = hmap_put(&c->by_name, k, nl + 1 + ml, &c->pods[i]);
		k += nl + 1 + ml;
	}
	if (r < 0)
		return r;
	c->by_name_pods = c->n_pods;
	c->by_name_valid = true;
	return 0;
}

const struct pod *cluster_pod_find(const struct cluster *c, const char *ns, const char *name)
{
	struct name_key k = { .ns = ns, .name = name };
	bool found;
	size_t i;

	if (c->by_name_valid && c->by_name_pods == c->n_pods) {
		size_t nl = strlen(ns), ml = strlen(name);
		char key[CLUSTER_POD_KEY_MAX];

		if (nl < sizeof(key) && ml < sizeof(key) - nl - 1) {
			memcpy(key, ns, nl + 1);
			memcpy(key + nl + 1, name, ml);
			return hmap_get(&c->by_name, key, nl + 1 + ml);
		}
	}
	i = sorted_find(c->pods, c->n_pods, sizeof(*c->pods), &k, cmp_pod, &found);
	return found ? &c->pods[i] : NULL;
}

const struct netpol *cluster_policy_find(const struct cluster *c, const char *ns, const char *name)
{
	struct name_key k = { .ns = ns, .name = name };
	bool found;
	size_t i = sorted_find(c->policies, c->n_policies, sizeof(*c->policies), &k, cmp_policy,
			       &found);

	return found ? &c->policies[i] : NULL;
}

const struct node *cluster_node_find(const struct cluster *c, const char *name)
{
	struct name_key k = { .name = name };
	bool found;
	size_t i = sorted_find(c->nodes, c->n_nodes, sizeof(*c->nodes), &k, cmp_node, &found);

	return found ? &c->nodes[i] : NULL;
}

const struct node *cluster_node_by_addr(const struct cluster *c, const struct addr *a)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		for (size_t j = 0; j < c->nodes[i].n_addrs; j++)
			if (addr_eq(&c->nodes[i].addrs[j], a))
				return &c->nodes[i];
	return NULL;
}

static int addr_ref_cmp(const void *a, const void *b)
{
	const struct cluster_addr_ref *x = a, *y = b;
	int r = addr_cmp(&x->addr, &y->addr);

	if (r)
		return r;
	return x->pod < y->pod ? -1 : x->pod > y->pod;
}

/* True when pod @a should own a shared address rather than pod @b: a
 * running pod before a finished one, then one not being deleted, then the
 * newer. */
static bool pod_preferred(const struct pod *a, const struct pod *b)
{
	if (pod_finished(a) != pod_finished(b))
		return !pod_finished(a);
	if ((a->deleted != 0) != (b->deleted != 0))
		return a->deleted == 0;
	return a->created > b->created;
}

static int cluster_index_addrs(struct cluster *c)
{
	size_t n = 0;
	struct cluster_addr_ref *v;

	for (size_t i = 0; i < c->n_pods; i++)
		if (!c->pods[i].host_network)
			n += c->pods[i].n_ips;
	v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < c->n_pods; i++) {
		if (c->pods[i].host_network)
			continue;
		for (size_t j = 0; j < c->pods[i].n_ips; j++)
			v[n++] = (struct cluster_addr_ref){ .addr = c->pods[i].ips[j], .pod = i };
	}
	if (n)
		qsort(v, n, sizeof(*v), addr_ref_cmp);
	free(c->by_addr);
	c->by_addr = v;
	c->n_by_addr = n;
	c->by_addr_stale = false;
	return 0;
}

const struct pod *cluster_pod_by_addr(struct cluster *c, const struct addr *a)
{
	size_t lo = 0, hi;
	const struct pod *best = NULL;

	if (c->by_addr_stale && cluster_index_addrs(c) < 0)
		return NULL;
	hi = c->n_by_addr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&c->by_addr[mid].addr, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->n_by_addr && addr_eq(&c->by_addr[lo].addr, a); lo++) {
		const struct pod *p = &c->pods[c->by_addr[lo].pod];

		if (!best || pod_preferred(p, best))
			best = p;
	}
	return best;
}

void cluster_policies_in_ns(const struct cluster *c, const char *ns, size_t *ret_first,
			    size_t *ret_end)
{
	size_t lo = 0, hi = c->n_policies, first;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->policies[mid].ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	hi = c->n_policies;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->policies[mid].ns, ns) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_first = first;
	*ret_end = lo;
}

int pod_copy(struct pod *dst, const struct pod *src)
{
	bool failed = false;

	*dst = *src;
	dst->ns = str_dup_opt(src->ns, &failed);
	dst->name = str_dup_opt(src->name, &failed);
	dst->uid = str_dup_opt(src->uid, &failed);
	dst->node = str_dup_opt(src->node, &failed);
	dst->phase = str_dup_opt(src->phase, &failed);
	dst->owner.kind = str_dup_opt(src->owner.kind, &failed);
	dst->owner.name = str_dup_opt(src->owner.name, &failed);
	dst->ports = NULL;
	dst->n_ports = 0;
	labels_init(&dst->labels);
	if (failed || labels_copy(&dst->labels, &src->labels) < 0)
		goto oom;
	if (src->n_ports) {
		dst->ports = calloc(src->n_ports, sizeof(*dst->ports));
		if (!dst->ports)
			goto oom;
		for (size_t i = 0; i < src->n_ports; i++) {
			dst->ports[i] = src->ports[i];
			dst->ports[i].name = str_dup_opt(src->ports[i].name, &failed);
			dst->n_ports = i + 1;
			if (failed)
				goto oom;
		}
	}
	return 0;
oom:
	pod_done(dst);
	return -ENOMEM;
}

int node_copy(struct node *dst, const struct node *src)
{
	*dst = (struct node){ .name = strdup(src->name) };
	if (!dst->name)
		return -ENOMEM;
	if (src->n_addrs) {
		dst->addrs = malloc(src->n_addrs * sizeof(*dst->addrs));
		if (!dst->addrs) {
			node_done(dst);
			return -ENOMEM;
		}
		memcpy(dst->addrs, src->addrs, src->n_addrs * sizeof(*dst->addrs));
		dst->n_addrs = src->n_addrs;
	}
	return 0;
}

/* Everything but the pods of @src into the empty @c. */
static int copy_but_pods(struct cluster *c, const struct cluster *src)
{
	for (size_t i = 0; i < src->n_ns; i++) {
		struct k8s_ns ns = { .name = strdup(src->ns[i].name) };

		labels_init(&ns.labels);
		if (!ns.name || labels_copy(&ns.labels, &src->ns[i].labels) < 0) {
			k8s_ns_done(&ns);
			return -ENOMEM;
		}
		if (cluster_ns_put(c, &ns) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < src->n_policies; i++) {
		struct netpol p;

		if (netpol_copy(&p, &src->policies[i]) < 0 || cluster_policy_put(c, &p) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < src->n_nodes; i++) {
		struct node n;

		if (node_copy(&n, &src->nodes[i]) < 0 || cluster_node_put(c, &n) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Pods [@from, @to) of @src appended to @c (they sort after its own). */
static int copy_pods(struct cluster *c, const struct cluster *src, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct pod p;

		if (pod_copy(&p, &src->pods[i]) < 0 || cluster_pod_put(c, &p) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cluster_copy(const struct cluster *src, struct cluster **ret)
{
	struct cluster *c = cluster_new();

	if (!c)
		return -ENOMEM;
	if (copy_but_pods(c, src) < 0 || copy_pods(c, src, 0, src->n_pods) < 0) {
		cluster_free(c);
		return -ENOMEM;
	}
	/* Without memory for it the copy still works, by binary search. */
	(void) cluster_pod_index(c);
	*ret = c;
	return 0;
}

int cluster_copy_begin(const struct cluster *src, struct cluster **ret)
{
	struct cluster *c = cluster_new();

	if (!c)
		return -ENOMEM;
	if (copy_but_pods(c, src) < 0) {
		cluster_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int cluster_copy_pods(struct cluster *dst, const struct cluster *src, size_t max)
{
	size_t from = 0, to;

	if (dst->n_pods) {
		const struct pod *last = &dst->pods[dst->n_pods - 1];
		struct name_key k = { .ns = last->ns, .name = last->name };
		bool found;

		from = sorted_find(src->pods, src->n_pods, sizeof(*src->pods), &k, cmp_pod, &found);
		from += found;
	}
	to = src->n_pods - from > max ? from + max : src->n_pods;
	if (copy_pods(dst, src, from, to) < 0)
		return -ENOMEM;
	if (to < src->n_pods)
		return 0;
	(void) cluster_pod_index(dst);
	return 1;
}

bool pod_compiled_equal(const struct pod *a, const struct pod *b)
{
	if (!str_eq_opt(a->node, b->node) || a->host_network != b->host_network ||
	    !str_eq_opt(a->phase, b->phase) || a->deleted != b->deleted ||
	    a->created != b->created || a->n_ips != b->n_ips || a->n_ports != b->n_ports ||
	    !labels_equal(&a->labels, &b->labels))
		return false;
	for (size_t i = 0; i < a->n_ips; i++)
		if (!addr_eq(&a->ips[i], &b->ips[i]))
			return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (!str_eq_opt(a->ports[i].name, b->ports[i].name) ||
		    a->ports[i].port != b->ports[i].port ||
		    a->ports[i].protocol != b->ports[i].protocol)
			return false;
	return true;
}

bool node_compiled_equal(const struct node *a, const struct node *b)
{
	if (a->n_addrs != b->n_addrs)
		return false;
	for (size_t i = 0; i < a->n_addrs; i++)
		if (!addr_eq(&a->addrs[i], &b->addrs[i]))
			return false;
	return true;
}
