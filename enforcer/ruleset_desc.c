/*
 * Containers of the compiler: the name map, elements, sets, rules, chains and
 * descriptions (a collection of sets and chains indexed by name), with the
 * name predicates and sort orders of their objects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset_int.h"
#include "str.h"
#include "vec.h"

bool rs_name_map_get(const struct name_map *m, const char *name, size_t *ret_idx)
{
	const struct hmap_slot *s = hmap_find_str(&m->h, name);

	if (!s)
		return false;
	*ret_idx = (size_t) (uintptr_t) s->val;
	return true;
}

int rs_name_map_put(struct name_map *m, const char *name, size_t idx)
{
	int r = hmap_put_str(&m->h, name, (void *) (uintptr_t) idx);

	return r < 0 ? -ENOMEM : 0;
}

void rs_name_map_del(struct name_map *m, const char *name)
{
	(void) hmap_remove_str(&m->h, name, NULL);
}

void rs_name_map_done(struct name_map *m)
{
	hmap_free(&m->h);
}

/* --- elements, sets, chains -------------------------------------------- */

void rs_elem_done(struct rs_elem *e)
{
	free(e->target);
	e->target = NULL;
}

int rs_elem_copy(struct rs_elem *dst, const struct rs_elem *src)
{
	*dst = *src;
	if (src->target) {
		dst->target = strdup(src->target);
		if (!dst->target)
			return -ENOMEM;
	}
	return 0;
}

int rs_elem_cmp(const struct rs_elem *a, const struct rs_elem *b)
{
	int r = addr_cmp(&a->addr, &b->addr);

	if (r)
		return r;
	r = addr_cmp(&a->addr_end, &b->addr_end);
	if (r)
		return r;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->port_end != b->port_end)
		return a->port_end < b->port_end ? -1 : 1;
	if (!a->target || !b->target)
		return a->target ? 1 : b->target ? -1 : 0;
	return strcmp(a->target, b->target);
}

static int elem_qsort_cb(const void *a, const void *b)
{
	return rs_elem_cmp(a, b);
}

size_t rs_set_elem_search(const struct rs_set *s, const struct rs_elem *e, bool *found)
{
	size_t lo = 0, hi = s->n_elems;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = rs_elem_cmp(&s->elems[mid], e);

		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int set_reserve(struct rs_set *s, size_t n)
{
	struct rs_elem *v;

	if (n <= s->cap_elems)
		return 0;
	v = vec_grow(s->elems, &s->cap_elems, n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->elems = v;
	return 0;
}

int rs_set_elem_add(struct rs_set *s, const struct rs_elem *e)
{
	bool found;
	size_t i = rs_set_elem_search(s, e, &found);
	int r;

	if (found)
		return 0;
	r = set_reserve(s, s->n_elems + 1);
	if (r < 0)
		return r;
	memmove(&s->elems[i + 1], &s->elems[i], (s->n_elems - i) * sizeof(*s->elems));
	r = rs_elem_copy(&s->elems[i], e);
	if (r < 0) {
		memmove(&s->elems[i], &s->elems[i + 1], (s->n_elems - i) * sizeof(*s->elems));
		return r;
	}
	s->n_elems++;
	return 1;
}

int rs_set_elem_del(struct rs_set *s, const struct rs_elem *e)
{
	bool found;
	size_t i = rs_set_elem_search(s, e, &found);

	if (!found)
		return 0;
	rs_elem_done(&s->elems[i]);
	memmove(&s->elems[i], &s->elems[i + 1], (s->n_elems - i - 1) * sizeof(*s->elems));
	s->n_elems--;
	return 1;
}

/* Appends without ordering; rs_set_finish() sorts and removes duplicates. */
int rs_set_push(struct rs_set *s, const struct rs_elem *e)
{
	int r = set_reserve(s, s->n_elems + 1);

	if (r < 0)
		return r;
	r = rs_elem_copy(&s->elems[s->n_elems], e);
	if (r < 0)
		return r;
	s->n_elems++;
	return 0;
}

/* Plain address elements differ only in addr; struct addr compares as
 * bytes (family first, padding zero), as addr_cmp() orders it. */
static int elem_addr_qsort_cb(const void *a, const void *b)
{
	const struct rs_elem *x = a, *y = b;

	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

struct addr_key {
	uint64_t hi, lo; /* the address bytes, big-endian: numeric order */
	size_t idx;
};

static unsigned key_byte(const struct addr_key *k, unsigned byte)
{
	return (unsigned) ((byte < 8 ? k->lo >> (8 * byte) : k->hi >> (8 * (byte - 8))) & 0xff);
}

/*
 * Sorts the elements of a plain address set (one family: the order of
 * elem_addr_qsort_cb()) by a stable LSD radix sort of their address
 * bytes, skipping the bytes every element shares (an IPv4 set sorts in at
 * most 4 passes, an IPv6 set of one prefix in a few).  qsort() of the
 * 56-byte elements with a memcmp() callback was a third of compiling the
 * benchmark's million elements.  -ENOMEM leaves the set as it was.
 */
static int addr_elems_sort(struct rs_set *s)
{
	size_t n = s->n_elems;
	struct addr_key *v = malloc(n * sizeof(*v)), *t = malloc(n * sizeof(*t));
	struct rs_elem *e = malloc(n * sizeof(*e));
	uint64_t or_hi = 0, or_lo = 0, and_hi = UINT64_MAX, and_lo = UINT64_MAX;
	int r = -ENOMEM;

	if (!v || !t || !e)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t b[16];

		memcpy(b, s->elems[i].addr.b, sizeof(b));
		v[i] = (struct addr_key){ .idx = i };
		for (unsigned k = 0; k < 8; k++) {
			v[i].hi = v[i].hi << 8 | b[k];
			v[i].lo = v[i].lo << 8 | b[8 + k];
		}
		or_hi |= v[i].hi, and_hi &= v[i].hi;
		or_lo |= v[i].lo, and_lo &= v[i].lo;
	}
	for (unsigned byte = 0; byte < 16; byte++) {
		uint64_t diff = byte < 8 ? (or_lo ^ and_lo) >> (8 * byte) :
					   (or_hi ^ and_hi) >> (8 * (byte - 8));
		size_t cnt[256] = { 0 }, sum = 0;
		struct addr_key *x;

		if (!(diff & 0xff))
			continue; /* every element has this byte */
		for (size_t i = 0; i < n; i++)
			cnt[key_byte(&v[i], byte)]++;
		for (unsigned d = 0; d < 256; d++) {
			size_t c = cnt[d];

			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			t[cnt[key_byte(&v[i], byte)]++] = v[i];
		x = v, v = t, t = x;
	}
	for (size_t i = 0; i < n; i++)
		e[i] = s->elems[v[i].idx];
	memcpy(s->elems, e, n * sizeof(*e));
	r = 0;
out:
	free(v);
	free(t);
	free(e);
	return r;
}

void rs_set_finish(struct rs_set *s)
{
	size_t w = 0;

	if (s->n_elems < 2)
		return;
	if ((s->key == RS_KEY_ADDR4 || s->key == RS_KEY_ADDR6) &&
	    !(s->flags & (RS_SET_INTERVAL | RS_SET_VMAP))) {
		if (s->n_elems < 32 || addr_elems_sort(s) < 0)
			qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_addr_qsort_cb);
	} else
		qsort(s->elems, s->n_elems, sizeof(*s->elems), elem_qsort_cb);
	for (size_t i = 1; i < s->n_elems; i++) {
		if (rs_elem_cmp(&s->elems[w], &s->elems[i]) == 0) {
			rs_elem_done(&s->elems[i]);
			continue;
		}
		s->elems[++w] = s->elems[i];
	}
	s->n_elems = w + 1;
}

struct rs_set *rs_set_free(struct rs_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_elems; i++)
		rs_elem_done(&s->elems[i]);
	free(s->elems);
	free(s->name);
	free(s);
	return NULL;
}

int rs_set_dup(const struct rs_set *s, bool with_elems, struct rs_set **ret)
{
	struct rs_set *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->key = s->key;
	n->flags = s->flags;
	n->size = s->size;
	n->name = strdup(s->name);
	if (!n->name)
		goto oom;
	if (with_elems) {
		if (set_reserve(n, s->n_elems) < 0)
			goto oom;
		for (size_t i = 0; i < s->n_elems; i++) {
			if (rs_elem_copy(&n->elems[i], &s->elems[i]) < 0)
				goto oom;
			n->n_elems++;
		}
	}
	*ret = n;
	return 0;
oom:
	rs_set_free(n);
	return -ENOMEM;
}

uint32_t rs_set_size_fit(const struct rs_set *s)
{
	size_t n = s->n_elems;

	if (s->flags & RS_SET_DYNAMIC)
		return RULESET_SEEN_SIZE;
	/* Interval sets are rbtree or pipapo sets, which a size does not
	 * make cheaper to fill: no cap. */
	if (s->flags & RS_SET_INTERVAL)
		return 0;
	n = n < RULESET_SET_HEADROOM ? n + RULESET_SET_HEADROOM : 2 * n;
	return n > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t) n;
}

void rs_desc_fit_sizes(struct rs_desc *d)
{
	for (size_t i = 0; i < d->n_sets; i++)
		d->sets[i]->size = rs_set_size_fit(d->sets[i]);
}

/*
 * Within one batch the kernel counts an added element at once and a
 * deleted one only at commit (and deletions come after additions), so
 * the peak of a set is its count after the change plus what the batch
 * deletes from it.
 */
bool rs_delta_overflows(const struct rs_desc *d, const struct rs_delta *delta)
{
	size_t *del = NULL;
	bool over = false;

	if (!delta || delta->full)
		return false;
	for (size_t i = 0; i < delta->n_ops; i++) {
		const struct rs_op *op = &delta->ops[i];
		size_t k;

		if (op->kind != RS_OP_DEL_ELEMS)
			continue;
		if (!rs_name_map_get(&d->set_idx, op->set->name, &k))
			continue;
		if (!del) {
			del = calloc(d->n_sets + 1, sizeof(*del));
			if (!del)
				return true; /* a full replace needs no count */
		}
		del[k] += op->set->n_elems;
	}
	for (size_t i = 0; !over && i < delta->n_ops; i++) {
		const struct rs_op *op = &delta->ops[i];
		const struct rs_set *s;
		size_t k;

		if (op->kind != RS_OP_ADD_ELEMS && op->kind != RS_OP_ADD_SET)
			continue;
		if (!rs_name_map_get(&d->set_idx, op->set->name, &k))
			continue;
		s = d->sets[k];
		if (s->size && s->n_elems + (del ? del[k] : 0) > s->size)
			over = true;
	}
	free(del);
	return over;
}

static void rule_done(struct rs_rule *r)
{
	free(r->peer_set);
	free(r->port_set);
	free(r->named_set);
	free(r->prefix);
	free(r->target);
	memset(r, 0, sizeof(*r));
}

bool rs_rule_equal(const struct rs_rule *a, const struct rs_rule *b)
{
	return a->kind == b->kind && a->family == b->family &&
	       a->peer_is_daddr == b->peer_is_daddr && str_eq_opt(a->peer_set, b->peer_set) &&
	       str_eq_opt(a->port_set, b->port_set) && str_eq_opt(a->named_set, b->named_set) &&
	       str_eq_opt(a->prefix, b->prefix) && a->group == b->group &&
	       a->icmp_lo == b->icmp_lo && a->icmp_hi == b->icmp_hi && a->verdict == b->verdict &&
	       str_eq_opt(a->target, b->target);
}

static int rule_copy(struct rs_rule *dst, const struct rs_rule *src)
{
	bool failed = false;

	*dst = *src;
	dst->peer_set = str_dup_opt(src->peer_set, &failed);
	dst->port_set = str_dup_opt(src->port_set, &failed);
	dst->named_set = str_dup_opt(src->named_set, &failed);
	dst->prefix = str_dup_opt(src->prefix, &failed);
	dst->target = str_dup_opt(src->target, &failed);
	if (failed) {
		rule_done(dst);
		return -ENOMEM;
	}
	return 0;
}

struct rs_chain *rs_chain_free(struct rs_chain *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_rules; i++)
		rule_done(&c->rules[i]);
	free(c->rules);
	free(c->name);
	free(c);
	return NULL;
}

int rs_chain_add_rule(struct rs_chain *c, const struct rs_rule *r)
{
	if (c->n_rules == c->cap_rules) {
		struct rs_rule *v = vec_grow(c->rules, &c->cap_rules, c->n_rules + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->rules = v;
	}
	if (rule_copy(&c->rules[c->n_rules], r) < 0)
		return -ENOMEM;
	c->n_rules++;
	return 0;
}

int rs_chain_dup(const struct rs_chain *c, struct rs_chain **ret)
{
	struct rs_chain *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->hook = c->hook;
	n->name = strdup(c->name);
	if (!n->name)
		goto oom;
	for (size_t i = 0; i < c->n_rules; i++)
		if (rs_chain_add_rule(n, &c->rules[i]) < 0)
			goto oom;
	*ret = n;
	return 0;
oom:
	rs_chain_free(n);
	return -ENOMEM;
}

/* --- descriptions ------------------------------------------------------ */

static void classes_done(struct rs_classes *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].key);
		free(cs->v[i].chain);
	}
	free(cs->v);
	rs_name_map_done(&cs->idx);
	memset(cs, 0, sizeof(*cs));
}

void rs_desc_done(struct rs_desc *d)
{
	for (int i = 0; i < _NETPOL_DIR_MAX; i++)
		classes_done(&d->cls[i]);
	for (size_t i = 0; i < d->n_defs; i++) {
		free(d->defs[i].name[0]);
		free(d->defs[i].name[1]);
		free(d->defs[i].pns);
		free(d->defs[i].pname);
	}
	free(d->defs);
	for (size_t i = 0; i < d->n_sets; i++)
		rs_set_free(d->sets[i]);
	for (size_t i = 0; i < d->n_chains; i++)
		rs_chain_free(d->chains[i]);
	free(d->sets);
	free(d->chains);
	rs_name_map_done(&d->set_idx);
	rs_name_map_done(&d->chain_idx);
	rs_name_map_done(&d->def_idx);
	memset(d, 0, sizeof(*d));
}

struct rs_set *rs_desc_set(const struct rs_desc *d, const char *name)
{
	size_t i;

	return rs_name_map_get(&d->set_idx, name, &i) ? d->sets[i] : NULL;
}

struct rs_chain *rs_desc_chain(const struct rs_desc *d, const char *name)
{
	size_t i;

	return rs_name_map_get(&d->chain_idx, name, &i) ? d->chains[i] : NULL;
}

/* Takes ownership of @s (freed on failure). */
int rs_desc_put_set(struct rs_desc *d, struct rs_set *s)
{
	int r;

	if (d->n_sets == d->cap_sets) {
		struct rs_set **v = vec_grow(d->sets, &d->cap_sets, d->n_sets + 1, sizeof(*v));

		if (!v)
			goto oom;
		d->sets = v;
	}
	r = rs_name_map_put(&d->set_idx, s->name, d->n_sets);
	if (r < 0)
		goto oom;
	d->sets[d->n_sets++] = s;
	return 0;
oom:
	rs_set_free(s);
	return -ENOMEM;
}

/* Takes ownership of @c (freed on failure). */
int rs_desc_put_chain(struct rs_desc *d, struct rs_chain *c)
{
	int r;

	if (d->n_chains == d->cap_chains) {
		struct rs_chain **v =
			vec_grow(d->chains, &d->cap_chains, d->n_chains + 1, sizeof(*v));

		if (!v)
			goto oom;
		d->chains = v;
	}
	r = rs_name_map_put(&d->chain_idx, c->name, d->n_chains);
	if (r < 0)
		goto oom;
	d->chains[d->n_chains++] = c;
	return 0;
oom:
	rs_chain_free(c);
	return -ENOMEM;
}

void rs_desc_del_set(struct rs_desc *d, const char *name)
{
	size_t i;

	if (!rs_name_map_get(&d->set_idx, name, &i))
		return;
	rs_name_map_del(&d->set_idx, name);
	rs_set_free(d->sets[i]);
	d->sets[i] = d->sets[--d->n_sets];
	if (i < d->n_sets)
		(void) rs_name_map_put(&d->set_idx, d->sets[i]->name, i); /* exists: no alloc */
}

void rs_desc_del_chain(struct rs_desc *d, const char *name)
{
	size_t i;

	if (!rs_name_map_get(&d->chain_idx, name, &i))
		return;
	rs_name_map_del(&d->chain_idx, name);
	rs_chain_free(d->chains[i]);
	d->chains[i] = d->chains[--d->n_chains];
	if (i < d->n_chains)
		(void) rs_name_map_put(&d->chain_idx, d->chains[i]->name, i);
}

/*
 * Set order in the text and in a full batch, hence in the kernel's list:
 * the kernel finds a set by walking that list for every element message
 * that names it (pod events: the set exists already; a full batch names
 * its new sets by id) and every rule's lookup, so the sets pod events
 * touch come first (the dispatch sets of local
 * pods, then the shared address and named-port sets), IPv4 before IPv6:
 * an IPv4 pod's batch then never walks past an IPv6 set.
 */
static int set_rank(const struct rs_set *s)
{
	size_t n = strlen(s->name);
	bool v6 = s->key == RS_KEY_ADDR6 || s->key == RS_KEY_ADDR6_PROTO_PORT;

	if (strncmp(s->name, "in", 2) == 0 || strncmp(s->name, "eg", 2) == 0)
		return v6 ? 2 : 0;
	if (strncmp(s->name, "s/", 2) == 0 || (n > 7 && strncmp(s->name + n - 7, "/named", 6) == 0))
		return v6 ? 3 : 1;
	return 4;
}

bool rs_set_is_digits(const char *name)
{
	return (strncmp(name, "in", 2) == 0 || strncmp(name, "eg", 2) == 0) &&
	       (name[2] == '4' || name[2] == '6') && strncmp(name + 3, "/d", 2) == 0;
}

bool rs_chain_is_trie(const char *name)
{
	return strncmp(name, "ti/", 3) == 0 || strncmp(name, "te/", 3) == 0;
}

bool rs_chain_is_class(const char *name)
{
	return strncmp(name, "ci/", 3) == 0 || strncmp(name, "ce/", 3) == 0;
}

int rs_chain_del_rank(const char *name)
{
	/* Trie chains test digit J and jump to chains testing lower ones. */
	if (rs_chain_is_trie(name))
		return 63 - (int) strtoul(name + 3, NULL, 10);
	return rs_chain_is_class(name) ? 100 : 200;
}

static int set_name_cmp_cb(const void *a, const void *b)
{
	const struct rs_set *const *x = a, *const *y = b;
	int ra = set_rank(*x), rb = set_rank(*y);

	if (ra != rb)
		return ra - rb;
	return strcmp((*x)->name, (*y)->name);
}

static int chain_rank(const struct rs_chain *c)
{
	/* Base chains first, then by name: a stable, readable order. */
	if (c->hook)
		return strcmp(c->hook, "forward") == 0 ? 0 : 1;
	return strcmp(c->name, "ingress") == 0 ? 2 : 3;
}

static int chain_name_cmp_cb(const void *a, const void *b)
{
	const struct rs_chain *const *x = a, *const *y = b;
	int ra = chain_rank(*x), rb = chain_rank(*y);

	if (ra != rb)
		return ra - rb;
	return strcmp((*x)->name, (*y)->name);
}

int rs_desc_sorted(const struct rs_desc *d, const struct rs_set ***ret_sets,
		   const struct rs_chain ***ret_chains)
{
	const struct rs_set **s = malloc((d->n_sets + 1) * sizeof(*s));
	const struct rs_chain **c = malloc((d->n_chains + 1) * sizeof(*c));

	if (!s || !c) {
		free(s);
		free(c);
		return -ENOMEM;
	}
	memcpy(s, d->sets, d->n_sets * sizeof(*s));
	memcpy(c, d->chains, d->n_chains * sizeof(*c));
	qsort(s, d->n_sets, sizeof(*s), set_name_cmp_cb);
	qsort(c, d->n_chains, sizeof(*c), chain_name_cmp_cb);
	*ret_sets = s;
	*ret_chains = c;
	return 0;
}
