/*
 * The compiler: cluster model -> the description of one node's table
 * (sets with elements, chains with rules).  Semantics follow engine.h: a
 * pod is isolated for a direction by the policies of its namespace that
 * select it and list the direction; selector peers match known pods,
 * ipBlock peers match addresses (pod addresses included); named ports
 * resolve against the destination pod.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "proto.h"
#include "ruleset_int.h"
#include "str.h"

/* --- name map ---------------------------------------------------------- */

static int name_map_grow(struct name_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct name_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t h;

		if (!m->slots[i].name || m->slots[i].tomb)
			continue;
		h = hash_str(m->slots[i].name, 0) & (cap - 1);
		while (s[h].name)
			h = (h + 1) & (cap - 1);
		s[h] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

static struct name_slot *name_map_slot(const struct name_map *m, const char *name)
{
	size_t h;

	if (!m->cap)
		return NULL;
	h = hash_str(name, 0) & (m->cap - 1);
	while (m->slots[h].name) {
		if (!m->slots[h].tomb && strcmp(m->slots[h].name, name) == 0)
			return &m->slots[h];
		h = (h + 1) & (m->cap - 1);
	}
	return NULL;
}

static int name_map_put(struct name_map *m, const char *name, size_t idx)
{
	struct name_slot *s = name_map_slot(m, name);
	size_t h;
	int r;

	if (s) {
		s->idx = idx;
		s->name = name;
		return 0;
	}
	/* Tombstones count as used: keep the load under one half. */
	if ((m->n + 1) * 2 > m->cap) {
		r = name_map_grow(m);
		if (r < 0)
			return r;
	}
	h = hash_str(name, 0) & (m->cap - 1);
	while (m->slots[h].name)
		h = (h + 1) & (m->cap - 1);
	m->slots[h] = (struct name_slot){ .name = name, .idx = idx };
	m->n++;
	return 0;
}

static void name_map_del(struct name_map *m, const char *name)
{
	struct name_slot *s = name_map_slot(m, name);

	if (s)
		s->tomb = true;
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

static size_t set_elem_search(const struct rs_set *s, const struct rs_elem *e, bool *found)
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
	size_t cap;

	if (n <= s->cap_elems)
		return 0;
	cap = s->cap_elems ? s->cap_elems * 2 : 8;
	while (cap < n)
		cap *= 2;
	v = realloc(s->elems, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->elems = v;
	s->cap_elems = cap;
	return 0;
}

int rs_set_elem_add(struct rs_set *s, const struct rs_elem *e)
{
	bool found;
	size_t i = set_elem_search(s, e, &found);
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
	size_t i = set_elem_search(s, e, &found);

	if (!found)
		return 0;
	rs_elem_done(&s->elems[i]);
	memmove(&s->elems[i], &s->elems[i + 1], (s->n_elems - i - 1) * sizeof(*s->elems));
	s->n_elems--;
	return 1;
}

/* Appends without ordering; set_finish() sorts and removes duplicates. */
static int set_push(struct rs_set *s, const struct rs_elem *e)
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

static void set_finish(struct rs_set *s)
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
		struct name_slot *sl;

		if (op->kind != RS_OP_DEL_ELEMS)
			continue;
		sl = name_map_slot(&d->set_idx, op->set->name);
		if (!sl)
			continue;
		if (!del) {
			del = calloc(d->n_sets + 1, sizeof(*del));
			if (!del)
				return true; /* a full replace needs no count */
		}
		del[sl->idx] += op->set->n_elems;
	}
	for (size_t i = 0; !over && i < delta->n_ops; i++) {
		const struct rs_op *op = &delta->ops[i];
		const struct rs_set *s;
		struct name_slot *sl;

		if (op->kind != RS_OP_ADD_ELEMS && op->kind != RS_OP_ADD_SET)
			continue;
		sl = name_map_slot(&d->set_idx, op->set->name);
		if (!sl)
			continue;
		s = d->sets[sl->idx];
		if (s->size && s->n_elems + (del ? del[sl->idx] : 0) > s->size)
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

static int chain_add_rule(struct rs_chain *c, const struct rs_rule *r)
{
	if (c->n_rules == c->cap_rules) {
		size_t cap = c->cap_rules ? c->cap_rules * 2 : 4;
		struct rs_rule *v = realloc(c->rules, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->rules = v;
		c->cap_rules = cap;
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
		if (chain_add_rule(n, &c->rules[i]) < 0)
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
	free(cs->idx.slots);
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
	free(d->set_idx.slots);
	free(d->chain_idx.slots);
	free(d->def_idx.slots);
	memset(d, 0, sizeof(*d));
}

struct rs_set *rs_desc_set(const struct rs_desc *d, const char *name)
{
	struct name_slot *s = name_map_slot(&d->set_idx, name);

	return s ? d->sets[s->idx] : NULL;
}

struct rs_chain *rs_desc_chain(const struct rs_desc *d, const char *name)
{
	struct name_slot *s = name_map_slot(&d->chain_idx, name);

	return s ? d->chains[s->idx] : NULL;
}

/* Takes ownership of @s (freed on failure). */
int rs_desc_put_set(struct rs_desc *d, struct rs_set *s)
{
	int r;

	if (d->n_sets == d->cap_sets) {
		size_t cap = d->cap_sets ? d->cap_sets * 2 : 16;
		struct rs_set **v = realloc(d->sets, cap * sizeof(*v));

		if (!v)
			goto oom;
		d->sets = v;
		d->cap_sets = cap;
	}
	r = name_map_put(&d->set_idx, s->name, d->n_sets);
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
		size_t cap = d->cap_chains ? d->cap_chains * 2 : 16;
		struct rs_chain **v = realloc(d->chains, cap * sizeof(*v));

		if (!v)
			goto oom;
		d->chains = v;
		d->cap_chains = cap;
	}
	r = name_map_put(&d->chain_idx, c->name, d->n_chains);
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
	struct name_slot *sl = name_map_slot(&d->set_idx, name);
	size_t i;

	if (!sl)
		return;
	i = sl->idx;
	name_map_del(&d->set_idx, name);
	rs_set_free(d->sets[i]);
	d->sets[i] = d->sets[--d->n_sets];
	if (i < d->n_sets)
		(void) name_map_put(&d->set_idx, d->sets[i]->name, i); /* exists: no alloc */
}

void rs_desc_del_chain(struct rs_desc *d, const char *name)
{
	struct name_slot *sl = name_map_slot(&d->chain_idx, name);
	size_t i;

	if (!sl)
		return;
	i = sl->idx;
	name_map_del(&d->chain_idx, name);
	rs_chain_free(d->chains[i]);
	d->chains[i] = d->chains[--d->n_chains];
	if (i < d->n_chains)
		(void) name_map_put(&d->chain_idx, d->chains[i]->name, i);
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

/* --- names and prefixes ------------------------------------------------ */

/* Object names are used as nft identifiers; Kubernetes names ([a-z0-9.-])
 * fit, and every name starts with a letter. */
static int make_name(char *buf, size_t len, const char *fmt, ...) BH_PRINTF(3, 4);
static int make_name(char *buf, size_t len, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t) n >= len || (size_t) n >= sizeof(tmp))
		n = snprintf(buf, len, "h/%016llx", (unsigned long long) hash_str(tmp, 0));
	else
		memcpy(buf, tmp, (size_t) n + 1);
	return 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char) *s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *ruleset_pod_prefix(const char *ns, const char *pod, enum netpol_dir dir, char *buf,
			       size_t len)
{
	char d = dir == NETPOL_INGRESS ? 'i' : 'e';
	char full[600];
	int n;

	n = snprintf(buf, len, "bh:%c:%s/%s", d, ns, pod);
	if (n >= 0 && (size_t) n < len && (size_t) n < RULESET_PREFIX_MAX)
		return buf;
	(void) snprintf(full, sizeof(full), "%s/%s", ns, pod);
	(void) snprintf(buf, len, "bh:%c:#%016llx", d, (unsigned long long) fnv1a(full));
	return buf;
}

/* --- the build --------------------------------------------------------- */

struct ns_info {
	const char *name;
	size_t first, end; /* pod index range */
	const struct labels *labels;
	struct labels synth; /* when the Namespace object is missing */
};

struct bctx {
	struct ruleset *rs;
	struct cluster *c;
	size_t n_ns;
	struct ns_info *ns;
	struct rs_desc *d; /* where objects go */
	size_t n_active, cap_active;
	struct rs_active *active;
	bool assume_owned; /* incremental: address conflicts ruled out */
	const struct rs_desc *existing; /* shared sets already there */
	bool fill_maps; /* verdict maps get every member, as in a fresh build */
};

static void bctx_done(struct bctx *b)
{
	for (size_t i = 0; i < b->n_ns; i++)
		labels_done(&b->ns[i].synth);
	free(b->ns);
	for (size_t i = 0; i < b->n_active; i++) {
		free(b->active[i].ns);
		free(b->active[i].name);
	}
	free(b->active);
}

static int addr_qsort_cb(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

/* A pod that owns addresses: not host-network, with an address, not
 * finished (cluster.h). */
static bool pod_known(const struct pod *p)
{
	return !p->host_network && p->n_ips > 0 && !pod_finished(p);
}

/* True when no two known pods share an address (the usual case): then
 * every address is its pod's and the per-address ownership lookups can be
 * skipped. */
static int addrs_unique(const struct cluster *c, bool *ret)
{
	struct addr *v = malloc((c->n_pods * POD_IPS_MAX + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++)
		for (size_t k = 0; pod_known(&c->pods[i]) && k < c->pods[i].n_ips; k++)
			v[n++] = c->pods[i].ips[k];
	qsort(v, n, sizeof(*v), addr_qsort_cb);
	*ret = true;
	for (size_t i = 1; i < n; i++)
		if (addr_eq(&v[i - 1], &v[i]))
			*ret = false;
	free(v);
	return 0;
}

static int bctx_init(struct bctx *b, struct ruleset *rs, struct cluster *c, struct rs_desc *d)
{
	int r;

	if (b->assume_owned) { /* the caller knows */
		const struct rs_desc *ex = b->existing;

		*b = (struct bctx){ .rs = rs, .c = c, .d = d, .assume_owned = true, .existing = ex };
	} else {
		*b = (struct bctx){ .rs = rs, .c = c, .d = d };
		r = addrs_unique(c, &b->assume_owned);
		if (r < 0)
			return r;
	}
	b->ns = calloc(c->n_pods + 1, sizeof(*b->ns));
	if (!b->ns)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		struct ns_info *ni;

		if (b->n_ns && strcmp(b->ns[b->n_ns - 1].name, c->pods[i].ns) == 0) {
			b->ns[b->n_ns - 1].end = i + 1;
			continue;
		}
		ni = &b->ns[b->n_ns++];
		ni->name = c->pods[i].ns;
		ni->first = i;
		ni->end = i + 1;
		labels_init(&ni->synth);
		{
			const struct k8s_ns *k = cluster_ns_find(c, ni->name);

			if (k) {
				ni->labels = &k->labels;
			} else {
				if (labels_set(&ni->synth, "kubernetes.io/metadata.name",
					       ni->name) < 0)
					return -ENOMEM;
				ni->labels = &ni->synth;
			}
		}
	}
	return 0;
}

static const struct ns_info *bctx_ns(const struct bctx *b, const char *name)
{
	size_t lo = 0, hi = b->n_ns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(b->ns[mid].name, name);

		if (r == 0)
			return &b->ns[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Address @i of @p is really @p's (a reused address belongs to the pod
 * cluster_pod_by_addr() prefers, as in the engine). */
static bool pod_owns_ip(const struct bctx *b, const struct pod *p, size_t i)
{
	const struct pod *o;

	if (b->assume_owned)
		return true;
	o = cluster_pod_by_addr(b->c, &p->ips[i]);

	return o && strcmp(o->ns, p->ns) == 0 && strcmp(o->name, p->name) == 0;
}

static bool pod_is_local(const struct bctx *b, const struct pod *p)
{
	return pod_known(p) && p->node && strcmp(p->node, b->rs->node) == 0;
}

static bool peer_selects(const struct bctx *b, const struct netpol *pol,
			 const struct netpol_peer *peer, const struct pod *p)
{
	if (peer->kind != NETPOL_PEER_SELECTOR || !pod_known(p))
		return false;
	if (!peer->pod_sel && !peer->ns_sel)
		return false;
	if (peer->ns_sel) {
		const struct ns_info *ni = bctx_ns(b, p->ns);

		if (!ni || !selector_matches(peer->ns_sel, ni->labels))
			return false;
	} else if (strcmp(p->ns, pol->ns) != 0) {
		return false;
	}
	return !peer->pod_sel || selector_matches(peer->pod_sel, &p->labels);
}

static bool policy_isolates(const struct netpol *pol, enum netpol_dir dir, const struct pod *p)
{
	return pol->types[dir] && pod_known(p) && strcmp(pol->ns, p->ns) == 0 &&
	       selector_matches(&pol->pod_sel, &p->labels);
}

static bool ipblock_contains(const struct netpol_peer *peer, const struct addr *a)
{
	if (peer->kind != NETPOL_PEER_IPBLOCK || !cidr_contains(&peer->cidr, a))
		return false;
	for (size_t i = 0; i < peer->n_except; i++)
		if (cidr_contains(&peer->except[i], a))
			return false;
	return true;
}

static int new_set(struct bctx *b, const char *name, enum rs_key key, unsigned flags,
		   struct rs_set **ret)
{
	struct rs_set *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->key = key;
	s->flags = flags;
	s->name = strdup(name);
	if (!s->name) {
		free(s);
		return -ENOMEM;
	}
	r = rs_desc_put_set(b->d, s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

static int new_chain(struct bctx *b, const char *name, const char *hook, struct rs_chain **ret)
{
	struct rs_chain *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->hook = hook;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	r = rs_desc_put_chain(b->d, c);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

static int add_rule(struct rs_chain *c, enum rs_rule_kind kind, uint8_t family, bool daddr,
		    const char *peer, const char *ports, const char *named, enum rs_verdict v,
		    const char *target)
{
	struct rs_rule r = {
		.kind = kind,
		.family = family,
		.peer_is_daddr = daddr,
		.peer_set = (char *) peer,
		.port_set = (char *) ports,
		.named_set = (char *) named,
		.verdict = v,
		.target = (char *) target,
	};

	return chain_add_rule(c, &r); /* copies the strings */
}

static const char *dir_letter(enum netpol_dir d)
{
	return d == NETPOL_INGRESS ? "i" : "e";
}

static int policy_set_name(char *buf, size_t len, const struct netpol *p, enum netpol_dir d,
			   size_t rule, const char *kind)
{
	return make_name(buf, len, "p/%s/%s/%s%zu/%s", p->ns, p->name, dir_letter(d), rule, kind);
}

int ruleset_policy_chain_name(char *buf, size_t len, const char *ns, const char *name,
			      enum netpol_dir d);
int ruleset_policy_chain_name(char *buf, size_t len, const char *ns, const char *name,
			      enum netpol_dir d)
{
	return make_name(buf, len, "p%s/%s/%s", dir_letter(d), ns, name);
}

static void elem_addr(struct rs_elem *e, const struct addr *a)
{
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->addr_end = *a;
}

static bool addr_is_max(const struct addr *a)
{
	for (unsigned i = 0; i < addr_len(a); i++)
		if (a->b[i] != 0xff)
			return false;
	return true;
}

static void addr_inc(struct addr *a)
{
	for (int i = (int) addr_len(a) - 1; i >= 0; i--)
		if (++a->b[i] != 0)
			break;
}

static void addr_dec(struct addr *a)
{
	for (int i = (int) addr_len(a) - 1; i >= 0; i--)
		if (a->b[i]-- != 0)
			break;
}

/*
 * The addresses of one rule's ipBlock peers of @family as disjoint,
 * merged intervals: union over peers of (cidr minus every except).
 * Overlapping or nested cidrs (within a rule, or the same cidr written by
 * several peers) merge here, so the kernel never sees overlapping
 * intervals.
 */
static int cidr_intervals(const struct netpol_rule *rule, int family, struct rs_set *s)
{
	for (size_t i = 0; i < rule->n_peers; i++) {
		const struct netpol_peer *pe = &rule->peers[i];
		size_t n = 1, cap = pe->n_except + 2;
		struct rs_elem *iv;

		if (pe->kind != NETPOL_PEER_IPBLOCK || pe->cidr.addr.family != family)
			continue;
		iv = calloc(cap * 2, sizeof(*iv));
		if (!iv)
			return -ENOMEM;
		cidr_first(&pe->cidr, &iv[0].addr);
		cidr_last(&pe->cidr, &iv[0].addr_end);
		for (size_t x = 0; x < pe->n_except; x++) {
			const struct cidr *ex = &pe->except[x];
			struct addr lo, hi;
			size_t m = 0;
			struct rs_elem *out = iv + cap;

			if (ex->addr.family != family)
				continue;
			cidr_first(ex, &lo);
			cidr_last(ex, &hi);
			for (size_t k = 0; k < n; k++) {
				struct rs_elem *v = &iv[k];

				if (addr_cmp(&hi, &v->addr) < 0 ||
				    addr_cmp(&lo, &v->addr_end) > 0) {
					out[m++] = *v;
					continue;
				}
				if (addr_cmp(&v->addr, &lo) < 0) {
					out[m] = *v;
					out[m].addr_end = lo;
					addr_dec(&out[m].addr_end);
					m++;
				}
				if (addr_cmp(&hi, &v->addr_end) < 0) {
					out[m] = *v;
					out[m].addr = hi;
					addr_inc(&out[m].addr);
					m++;
				}
			}
			memcpy(iv, out, m * sizeof(*iv));
			n = m;
		}
		for (size_t k = 0; k < n; k++) {
			if (set_push(s, &iv[k]) < 0) {
				free(iv);
				return -ENOMEM;
			}
		}
		free(iv);
	}
	/* Sort, then merge overlapping and adjacent intervals. */
	set_finish(s);
	if (s->n_elems > 1) {
		size_t w = 0;

		for (size_t i = 1; i < s->n_elems; i++) {
			struct rs_elem *cur = &s->elems[w];
			struct addr next = cur->addr_end;

			if (!addr_is_max(&next))
				addr_inc(&next);
			if (addr_is_max(&cur->addr_end) ||
			    addr_cmp(&s->elems[i].addr, &next) <= 0) {
				if (addr_cmp(&s->elems[i].addr_end, &cur->addr_end) > 0)
					cur->addr_end = s->elems[i].addr_end;
				continue;
			}
			s->elems[++w] = s->elems[i];
		}
		s->n_elems = w + 1;
	}
	return 0;
}

/* Numeric and protocol-only port entries as merged proto . port ranges. */
static int port_intervals(const struct netpol_rule *rule, struct rs_set *s)
{
	for (size_t i = 0; i < rule->n_ports; i++) {
		const struct netpol_port *pp = &rule->ports[i];
		struct rs_elem e = { .proto = pp->protocol };

		if (pp->kind == NETPOL_PORT_NAME)
			continue;
		if (pp->kind == NETPOL_PORT_ANY) {
			e.port = 0;
			e.port_end = 65535;
		} else {
			e.port = pp->port;
			e.port_end = pp->end_port ? pp->end_port : pp->port;
		}
		if (set_push(s, &e) < 0)
			return -ENOMEM;
	}
	set_finish(s);
	if (s->n_elems > 1) {
		size_t w = 0;

		for (size_t i = 1; i < s->n_elems; i++) {
			struct rs_elem *cur = &s->elems[w], *e = &s->elems[i];

			if (e->proto == cur->proto &&
			    (uint32_t) e->port <= (uint32_t) cur->port_end + 1) {
				if (e->port_end > cur->port_end)
					cur->port_end = e->port_end;
				continue;
			}
			s->elems[++w] = *e;
		}
		s->n_elems = w + 1;
	}
	return 0;
}

/*
 * The numeric ports of a rule as one set, named into @name: a hash set of
 * single proto . port elements ("ports") when they number at most
 * RULESET_PORTS_EXPAND_MAX with ranges expanded, else an interval set of
 * the merged ranges ("ranges").  An interval concatenation is a pipapo set
 * in the kernel, whose lookup costs a first packet far more than a hash
 * lookup (docs/enforcer.md, "Port sets").  The two kinds have different
 * names, so a policy edit that moves a rule from one to the other is a new
 * set, new rules and the old set deleted, not a table replace.
 */
static int port_set(struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
		    const struct netpol_rule *rule, char *name, size_t name_len)
{
	struct rs_set *ranges = calloc(1, sizeof(*ranges)), *s;
	uint32_t n_ports = 0;
	bool expand;
	int r;

	if (!ranges)
		return -ENOMEM;
	ranges->key = RS_KEY_PROTO_PORT;
	ranges->flags = RS_SET_INTERVAL;
	r = port_intervals(rule, ranges);
	for (size_t i = 0; !r && i < ranges->n_elems; i++)
		n_ports += (uint32_t) (ranges->elems[i].port_end - ranges->elems[i].port) + 1;
	expand = n_ports <= RULESET_PORTS_EXPAND_MAX;
	if (!r)
		r = policy_set_name(name, name_len, pol, d, ri, expand ? "ports" : "ranges");
	if (!r)
		r = new_set(b, name, RS_KEY_PROTO_PORT, expand ? 0 : RS_SET_INTERVAL, &s);
	for (size_t i = 0; !r && i < ranges->n_elems; i++) {
		struct rs_elem e = ranges->elems[i];
		const uint32_t first = e.port, last = e.port_end;

		if (!expand) {
			r = set_push(s, &e);
			continue;
		}
		for (uint32_t p = first; !r && p <= last; p++) {
			e.port = e.port_end = (uint16_t) p;
			r = set_push(s, &e);
		}
	}
	if (!r)
		set_finish(s);
	rs_set_free(ranges);
	return r;
}

static bool rule_has(const struct netpol_rule *r, enum netpol_peer_kind pk, int family)
{
	for (size_t i = 0; i < r->n_peers; i++) {
		if (r->peers[i].kind != pk)
			continue;
		if (pk == NETPOL_PEER_SELECTOR || r->peers[i].cidr.addr.family == family)
			return true;
	}
	return false;
}

static bool rule_has_port(const struct netpol_rule *r, bool named)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if ((r->ports[i].kind == NETPOL_PORT_NAME) == named)
			return true;
	return false;
}

/* Elements pod @p contributes to a named-port set of rule @r: its address
 * of @family with every named port entry that resolves on it. */
static int named_elems(const struct netpol_rule *r, const struct pod *p, const struct addr *a,
		       struct rs_set *s, bool sorted)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct netpol_port *pp = &r->ports[i];

		if (pp->kind != NETPOL_PORT_NAME)
			continue;
		for (size_t k = 0; k < p->n_ports; k++) {
			const struct container_port *cp = &p->ports[k];
			struct rs_elem e;
			int ret;

			if (!cp->name || strcmp(cp->name, pp->name) != 0 ||
			    cp->protocol != pp->protocol)
				continue;
			elem_addr(&e, a);
			e.proto = cp->protocol;
			e.port = cp->port;
			e.port_end = cp->port;
			ret = sorted ? rs_set_elem_add(s, &e) : set_push(s, &e);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int fam_idx(int family)
{
	return family == AF_INET ? 0 : 1;
}

/*
 * Elements pod @p contributes to the pod-dependent sets of rule @ri of
 * policy @pol, direction @d: "pods4/6" (selector peers select it) and,
 * for egress, "named4/6" (its named ports, when a peer matches it).
 * Calls @emit for each (set kind, element).
 */
typedef int contrib_fn(void *ud, const char *kind, const struct rs_elem *e);

static int pod_contrib(const struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
		       const struct pod *p, contrib_fn *emit, void *ud)
{
	const struct netpol_rule *r = &pol->rules[d][ri];
	bool selected = false;
	int ret;

	if (!pod_known(p))
		return 0;
	for (size_t i = 0; i < r->n_peers && !selected; i++)
		selected = peer_selects(b, pol, &r->peers[i], p);
	for (size_t k = 0; k < p->n_ips; k++) {
		const struct addr *a = &p->ips[k];
		static const char *const pods[] = { "pods4", "pods6" };
		static const char *const named[] = { "named4", "named6" };
		bool match = selected;

		if (!pod_owns_ip(b, p, k))
			continue;
		if (selected) {
			struct rs_elem e;

			elem_addr(&e, a);
			ret = emit(ud, pods[fam_idx(a->family)], &e);
			if (ret < 0)
				return ret;
		}
		if (d != NETPOL_EGRESS || !rule_has_port(r, true))
			continue;
		if (r->n_peers == 0)
			match = true;
		for (size_t i = 0; i < r->n_peers && !match; i++)
			match = ipblock_contains(&r->peers[i], a);
		if (match) {
			struct rs_set tmp = { 0 };

			ret = named_elems(r, p, a, &tmp, false);
			for (size_t i = 0; ret >= 0 && i < tmp.n_elems; i++)
				ret = emit(ud, named[fam_idx(a->family)], &tmp.elems[i]);
			for (size_t i = 0; i < tmp.n_elems; i++)
				rs_elem_done(&tmp.elems[i]);
			free(tmp.elems);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

struct fill_ctx {
	struct rs_set *sets[4]; /* pods4, pods6, named4, named6 */
};

static int fill_cb(void *ud, const char *kind, const struct rs_elem *e)
{
	struct fill_ctx *f = ud;
	int i = strcmp(kind, "pods4") == 0  ? 0 :
		strcmp(kind, "pods6") == 0  ? 1 :
		strcmp(kind, "named4") == 0 ? 2 :
					      3;

	return f->sets[i] ? set_push(f->sets[i], e) : 0;
}

/* The addresses of the pods of namespace @ni that a selector peer of @r
 * selects, into f->sets[0..1]; what pod_contrib() does for "pods4/6".
 * 0, 1 when the rule has too many peers for this path (nothing added), or
 * -ENOMEM. */
static int fill_pods_ns(struct bctx *b, const struct netpol *pol, const struct netpol_rule *r,
			const struct ns_info *ni, struct fill_ctx *f)
{
	const struct netpol_peer *peers[64];
	size_t n = 0;

	for (size_t i = 0; i < r->n_peers; i++) {
		const struct netpol_peer *pe = &r->peers[i];
		bool ok;

		if (pe->kind != NETPOL_PEER_SELECTOR || (!pe->pod_sel && !pe->ns_sel))
			continue;
		ok = pe->ns_sel ? selector_matches(pe->ns_sel, ni->labels) :
				  strcmp(ni->name, pol->ns) == 0;
		if (!ok)
			continue;
		if (n == BH_ARRAY_SIZE(peers))
			return 1; /* that many peers: the per-pod path below */
		peers[n++] = pe;
	}
	for (size_t i = ni->first; n && i < ni->end; i++) {
		const struct pod *p = &b->c->pods[i];
		bool sel = false;

		if (!pod_known(p))
			continue;
		for (size_t k = 0; k < n && !sel; k++)
			sel = !peers[k]->pod_sel || selector_matches(peers[k]->pod_sel, &p->labels);
		for (size_t k = 0; sel && k < p->n_ips; k++) {
			struct rs_set *s = f->sets[fam_idx(p->ips[k].family)];
			struct rs_elem e;
			int r2;

			if (!s || !pod_owns_ip(b, p, k))
				continue;
			elem_addr(&e, &p->ips[k]);
			r2 = set_push(s, &e);
			if (r2 < 0)
				return r2;
		}
	}
	return 0;
}

/* Scans the pods a rule's peers can match (per-namespace ranges when every
 * peer is a selector peer, all pods otherwise). */
static int rule_fill_pods(struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
			  struct fill_ctx *f)
{
	const struct netpol_rule *r = &pol->rules[d][ri];
	bool all = r->n_peers == 0 || (d == NETPOL_EGRESS && rule_has_port(r, true) &&
				       (rule_has(r, NETPOL_PEER_IPBLOCK, AF_INET) ||
					rule_has(r, NETPOL_PEER_IPBLOCK, AF_INET6)));
	int ret;

	if (!f->sets[0] && !f->sets[1] && !f->sets[2] && !f->sets[3])
		return 0;
	for (size_t n = 0; n < b->n_ns; n++) {
		const struct ns_info *ni = &b->ns[n];
		bool want = all;

		for (size_t i = 0; i < r->n_peers && !want; i++) {
			const struct netpol_peer *pe = &r->peers[i];

			if (pe->kind != NETPOL_PEER_SELECTOR || (!pe->pod_sel && !pe->ns_sel))
				continue;
			if (pe->ns_sel)
				want = selector_matches(pe->ns_sel, ni->labels);
			else
				want = strcmp(ni->name, pol->ns) == 0;
		}
		if (!want)
			continue;
		/* Pod-address sets only (the common case): the namespace half
		 * of each peer is decided once per namespace, not per pod. */
		if (!f->sets[2] && !f->sets[3]) {
			ret = fill_pods_ns(b, pol, r, ni, f);
			if (ret < 0)
				return ret;
			if (ret == 0)
				continue;
		}
		for (size_t i = ni->first; i < ni->end; i++) {
			ret = pod_contrib(b, pol, d, ri, &b->c->pods[i], fill_cb, f);
			if (ret < 0)
				return ret;
		}
	}
	for (int i = 0; i < 4; i++)
		if (f->sets[i])
			set_finish(f->sets[i]);
	return 0;
}

static int sel_key(struct buf *o, const struct selector *s)
{
	int r = buf_printf(o, "{");

	for (size_t i = 0; !r && i < s->match_labels.n; i++)
		r = buf_printf(o, "%s=%s,", s->match_labels.v[i].key, s->match_labels.v[i].value);
	for (size_t i = 0; !r && i < s->n_reqs; i++) {
		r = buf_printf(o, ";%s %s", s->reqs[i].key, selector_op_name(s->reqs[i].op));
		for (size_t k = 0; !r && k < s->reqs[i].n_values; k++)
			r = buf_printf(o, " %s", s->reqs[i].values[k]);
	}
	return r ? r : buf_printf(o, "}");
}

/*
 * Names of the shared pod-address sets (or, @named, egress named-port
 * sets) of a rule: a hash of the rule's peers in its namespace (and named
 * ports), so every rule selecting the same pods uses one set.
 */
static int shared_names(const struct netpol *pol, const struct netpol_rule *r, bool named,
			char names[2][RULESET_NAME_MAX])
{
	struct buf k;
	int ret;
	unsigned long long h;

	buf_init(&k, 1 << 20);
	ret = buf_printf(&k, "%s|", named ? "named" : "pods");
	for (size_t i = 0; !ret && i < r->n_peers; i++) {
		const struct netpol_peer *pe = &r->peers[i];
		char c[ADDR_STR_MAX];

		if (pe->kind == NETPOL_PEER_SELECTOR) {
			if (!pe->pod_sel && !pe->ns_sel) {
				ret = buf_printf(&k, "S:none|");
				continue;
			}
			ret = pe->ns_sel ? sel_key(&k, pe->ns_sel) :
					   buf_printf(&k, "ns=%s", pol->ns);
			if (!ret)
				ret = pe->pod_sel ? sel_key(&k, pe->pod_sel) : buf_printf(&k, "*");
			if (!ret)
				ret = buf_printf(&k, "|");
		} else if (named) {
			ret = buf_printf(&k, "B:%s", cidr_format(&pe->cidr, c, sizeof(c)));
			for (size_t x = 0; !ret && x < pe->n_except; x++)
				ret = buf_printf(&k, "-%s",
						 cidr_format(&pe->except[x], c, sizeof(c)));
			if (!ret)
				ret = buf_printf(&k, "|");
		}
	}
	if (!ret && named) {
		ret = buf_printf(&k, r->n_peers ? "#" : "ALL#");
		for (size_t i = 0; !ret && i < r->n_ports; i++)
			if (r->ports[i].kind == NETPOL_PORT_NAME)
				ret = buf_printf(&k, "%s/%u,", r->ports[i].name,
						 r->ports[i].protocol);
	}
	if (ret) {
		buf_done(&k);
		return ret;
	}
	h = (unsigned long long) hash_bytes(k.data, k.len, 0x73657473);
	buf_done(&k);
	(void) snprintf(names[0], RULESET_NAME_MAX, "s/%016llx/%s", h, named ? "named4" : "pods4");
	(void) snprintf(names[1], RULESET_NAME_MAX, "s/%016llx/%s", h, named ? "named6" : "pods6");
	return 0;
}

/* Counts one more rule using the shared sets @names, recording their
 * definition the first time. */
static int def_use(struct rs_desc *d, char names[2][RULESET_NAME_MAX], bool named,
		   const struct netpol *pol, enum netpol_dir dir, size_t rule)
{
	struct name_slot *sl = name_map_slot(&d->def_idx, names[0]);
	struct rs_setdef *def;

	if (sl) {
		d->defs[sl->idx].refs++;
		return 0;
	}
	if (d->n_defs == d->cap_defs) {
		size_t cap = d->cap_defs ? d->cap_defs * 2 : 64;
		struct rs_setdef *v = realloc(d->defs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->defs = v;
		d->cap_defs = cap;
		/* The map borrows the names, which do not move. */
	}
	def = &d->defs[d->n_defs];
	*def = (struct rs_setdef){ .named = named, .dir = dir, .rule = rule, .refs = 1 };
	def->name[0] = strdup(names[0]);
	def->name[1] = strdup(names[1]);
	def->pns = strdup(pol->ns);
	def->pname = strdup(pol->name);
	if (!def->name[0] || !def->name[1] || !def->pns || !def->pname ||
	    name_map_put(&d->def_idx, def->name[0], d->n_defs) < 0) {
		free(def->name[0]);
		free(def->name[1]);
		free(def->pns);
		free(def->pname);
		return -ENOMEM;
	}
	d->n_defs++;
	return 0;
}

/*
 * The chain and sets of policy @pol for direction @d.  @local lists the
 * local pods it isolates (for ingress named ports).
 */
static int build_policy(struct bctx *b, const struct netpol *pol, enum netpol_dir d,
			const struct pod *const *local, size_t n_local)
{
	char cname[RULESET_NAME_MAX];
	const enum rs_verdict v = d == NETPOL_INGRESS ? RS_VERDICT_ACCEPT : RS_VERDICT_GOTO;
	const char *target = d == NETPOL_INGRESS ? NULL : "ingress";
	const bool peer_daddr = d == NETPOL_EGRESS;
	struct rs_chain *ch;
	int r;

	r = ruleset_policy_chain_name(cname, sizeof(cname), pol->ns, pol->name, d);
	if (r < 0)
		return r;
	r = new_chain(b, cname, NULL, &ch);
	if (r < 0)
		return r;
	for (size_t ri = 0; ri < pol->n_rules[d]; ri++) {
		const struct netpol_rule *rule = &pol->rules[d][ri];
		bool has_num = rule_has_port(rule, false), has_named = rule_has_port(rule, true);
		/* Egress rules with only named ports match through the named
		 * sets alone: no peer set is needed. */
		bool peers_used = d == NETPOL_INGRESS || has_num || rule->n_ports == 0;
		bool has_sel = peers_used && rule_has(rule, NETPOL_PEER_SELECTOR, 0);
		char ports[RULESET_NAME_MAX] = "";
		char shpods[2][RULESET_NAME_MAX], shnamed[2][RULESET_NAME_MAX];
		struct fill_ctx f = { 0 };

		if (has_sel) {
			r = shared_names(pol, rule, false, shpods);
			if (!r)
				r = def_use(b->d, shpods, false, pol, d, ri);
			if (r < 0)
				return r;
		}
		if (has_named && d == NETPOL_EGRESS) {
			r = shared_names(pol, rule, true, shnamed);
			if (!r)
				r = def_use(b->d, shnamed, true, pol, d, ri);
			if (r < 0)
				return r;
		}

		if (has_num) {
			r = port_set(b, pol, d, ri, rule, ports, sizeof(ports));
			if (r < 0)
				return r;
		}
		for (int fam = 0; fam < 2; fam++) {
			const int family = fam ? AF_INET6 : AF_INET;
			const char *srcs[2];
			char pods[RULESET_NAME_MAX], cidr[RULESET_NAME_MAX],
				named[RULESET_NAME_MAX];
			size_t n_src = 0;

			if (has_named && d == NETPOL_EGRESS) {
				struct rs_set *s;

				memcpy(named, shnamed[fam], sizeof(named));
				if (!rs_desc_set(b->d, named) &&
				    !(b->existing && rs_desc_set(b->existing, named))) {
					r = new_set(b, named,
						    fam ? RS_KEY_ADDR6_PROTO_PORT :
							  RS_KEY_ADDR4_PROTO_PORT,
						    0, &s);
					if (r < 0)
						return r;
					f.sets[2 + fam] = s;
				}
			} else if (has_named) {
				struct rs_set *s;

				r = policy_set_name(named, sizeof(named), pol, d, ri,
						    fam ? "named6" : "named4");
				if (r < 0)
					return r;
				r = new_set(b, named,
					    fam ? RS_KEY_ADDR6_PROTO_PORT : RS_KEY_ADDR4_PROTO_PORT,
					    0, &s);
				if (r < 0)
					return r;
				if (d == NETPOL_INGRESS) {
					for (size_t k = 0; k < n_local; k++) {
						const struct pod *p = local[k];

						for (size_t j = 0; j < p->n_ips; j++) {
							if (p->ips[j].family != family ||
							    !pod_owns_ip(b, p, j))
								continue;
							r = named_elems(rule, p, &p->ips[j], s,
									false);
							if (r < 0)
								return r;
						}
					}
					set_finish(s);
				} else {
					f.sets[2 + fam] = s;
				}
			}
			if (has_sel) {
				struct rs_set *s;

				memcpy(pods, shpods[fam], sizeof(pods));
				if (!rs_desc_set(b->d, pods) &&
				    !(b->existing && rs_desc_set(b->existing, pods))) {
					r = new_set(b, pods, fam ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0,
						    &s);
					if (r < 0)
						return r;
					f.sets[fam] = s;
				}
				srcs[n_src++] = pods;
			}
			if (peers_used && rule_has(rule, NETPOL_PEER_IPBLOCK, family)) {
				struct rs_set *s;

				r = policy_set_name(cidr, sizeof(cidr), pol, d, ri,
						    fam ? "cidr6" : "cidr4");
				if (r < 0)
					return r;
				r = new_set(b, cidr, fam ? RS_KEY_ADDR6 : RS_KEY_ADDR4,
					    RS_SET_INTERVAL, &s);
				if (r < 0)
					return r;
				r = cidr_intervals(rule, family, s);
				if (r < 0)
					return r;
				srcs[n_src++] = cidr;
			}
			if (rule->n_peers == 0) {
				/* Any peer: family matters only for named ports. */
				if (fam == 0 && (has_num || rule->n_ports == 0)) {
					r = add_rule(ch, RS_RULE_ALLOW, 0, peer_daddr, NULL,
						     has_num ? ports : NULL, NULL, v, target);
					if (r < 0)
						return r;
				}
				if (has_named) {
					r = add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, NULL,
						     NULL, named, v, target);
					if (r < 0)
						return r;
				}
				continue;
			}
			for (size_t k = 0; k < n_src; k++) {
				if (has_num || rule->n_ports == 0) {
					r = add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, srcs[k],
						     has_num ? ports : NULL, NULL, v, target);
					if (r < 0)
						return r;
				}
				if (has_named && d == NETPOL_INGRESS) {
					r = add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, srcs[k],
						     NULL, named, v, target);
					if (r < 0)
						return r;
				}
			}
			/* Egress named ports: the set holds only the peer pods'
			 * resolved ports, so it is the whole match. */
			if (has_named && d == NETPOL_EGRESS) {
				r = add_rule(ch, RS_RULE_ALLOW, family, peer_daddr, NULL, NULL,
					     named, v, target);
				if (r < 0)
					return r;
			}
		}
		r = rule_fill_pods(b, pol, d, ri, &f);
		if (r < 0)
			return r;
	}
	return 0;
}

static int final_verdict(const struct ruleset *rs, struct rs_chain *ch, const char *prefix)
{
	int r;

	if (rs->mode == BH_MODE_ENFORCE)
		return add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_DROP,
				NULL);
	for (int fam = 0; fam < 2; fam++) {
		struct rs_rule rr = {
			.kind = RS_RULE_SEEN_SKIP,
			.family = fam ? AF_INET6 : AF_INET,
			.peer_set = (char *) (fam ? "seen6" : "seen4"),
			.verdict = RS_VERDICT_ACCEPT,
		};

		r = chain_add_rule(ch, &rr);
		if (r < 0)
			return r;
	}
	for (int fam = 0; fam < 2; fam++) {
		struct rs_rule rr = {
			.kind = RS_RULE_SEEN_LOG,
			.family = fam ? AF_INET6 : AF_INET,
			.peer_set = (char *) (fam ? "seen6" : "seen4"),
			.prefix = (char *) prefix,
			.group = rs->group,
			.verdict = RS_VERDICT_ACCEPT,
		};

		r = chain_add_rule(ch, &rr);
		if (r < 0)
			return r;
	}
	{
		/* A full seen set makes the `add` above fail, which ends
		 * its rule before the log: without this rule a scan that
		 * fills it would blind preview for a minute. */
		struct rs_rule rr = {
			.kind = RS_RULE_LOG_LIMIT,
			.prefix = (char *) prefix,
			.group = rs->group,
			.verdict = RS_VERDICT_ACCEPT,
		};

		return chain_add_rule(ch, &rr);
	}
}

static int active_mark(struct bctx *b, const struct netpol *pol, enum netpol_dir d)
{
	for (size_t i = 0; i < b->n_active; i++) {
		if (strcmp(b->active[i].ns, pol->ns) == 0 &&
		    strcmp(b->active[i].name, pol->name) == 0) {
			b->active[i].dir[d] = true;
			return 0;
		}
	}
	if (b->n_active == b->cap_active) {
		size_t cap = b->cap_active ? b->cap_active * 2 : 16;
		struct rs_active *v = realloc(b->active, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->active = v;
		b->cap_active = cap;
	}
	b->active[b->n_active] = (struct rs_active){ 0 };
	b->active[b->n_active].ns = strdup(pol->ns);
	b->active[b->n_active].name = strdup(pol->name);
	if (!b->active[b->n_active].ns || !b->active[b->n_active].name) {
		free(b->active[b->n_active].ns);
		free(b->active[b->n_active].name);
		return -ENOMEM;
	}
	b->active[b->n_active++].dir[d] = true;
	return 0;
}

/* --- classes and the dispatch trie -------------------------------------- */

/*
 * Local isolated pods are grouped into classes (include/ruleset.h): one
 * chain per class instead of one per pod.  The address of a pod leads to
 * its class chain without a verdict map: "in4"/"eg4" (and IPv6) hold the
 * addresses of the isolated pods, and digit set "in4/dJ.V" those whose
 * class id has octal digit J equal to V (V = 1..7).  A trie of chains over
 * the ids in use tests one digit per level, only where ids differ (path
 * compressed), and its leaves are the class chains.  A pod joining a class
 * that exists is then set elements only: verdict map elements and new
 * rules make the kernel validate the whole table graph at commit (about
 * 1.5 ms here), plain elements do not.
 *
 * Why octal: the kernel refuses a chain graph deeper than 16 levels
 * (NFT_JUMP_STACK_SIZE; goto counts like jump when it validates), and a
 * local-to-local packet walks forward, the egress trie, ce/, pe/, ingress,
 * the ingress trie, ci/, pi/: both tries together get 10 levels.  Five
 * octal digits (32768 classes per direction) fit; binary digits would not
 * go past 32 classes.
 */
#define RS_DIGIT_BITS 3
#define RS_DIGIT_VALUES (1u << RS_DIGIT_BITS)
#define RS_DIGITS_MAX 5
#define RS_CLASSES_MAX (1u << (RS_DIGIT_BITS * RS_DIGITS_MAX))

static const char *const iso_sets[_NETPOL_DIR_MAX][2] = {
	[NETPOL_INGRESS] = { "in4", "in6" },
	[NETPOL_EGRESS] = { "eg4", "eg6" },
};

/*
 * In front of each trie, a verdict map: address -> goto class chain, one
 * lookup instead of up to 7 per trie level.  It holds the isolated local
 * pods of a fresh build (ruleset_build(), a full apply pays the table
 * validation once).  Pod events never add to it (that would make every
 * one of them pay the validation): a pod that joins a class after the
 * build is dispatched by the trie; a pod that leaves its class, changes
 * address or goes loses its element first.  ruleset_update_all() keeps
 * only the elements that are still right.  So every element always leads
 * where the trie would, and the map only shortcuts it.
 */
static const char *const vmap_sets[_NETPOL_DIR_MAX][2] = {
	[NETPOL_INGRESS] = { "in4/vmap", "in6/vmap" },
	[NETPOL_EGRESS] = { "eg4/vmap", "eg6/vmap" },
};

bool rs_set_is_vmap(const char *name)
{
	for (int d = 0; d < _NETPOL_DIR_MAX; d++)
		for (int f = 0; f < 2; f++)
			if (strcmp(name, vmap_sets[d][f]) == 0)
				return true;
	return false;
}

size_t ruleset_maps_missing(const struct ruleset *rs)
{
	size_t n = 0;

	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		for (int f = 0; f < 2; f++) {
			const struct rs_set *iso = rs_desc_set(&rs->d, iso_sets[d][f]);
			const struct rs_set *map = rs_desc_set(&rs->d, vmap_sets[d][f]);
			size_t in_map = map ? map->n_elems : 0;

			/* Every map element has its address in the iso set. */
			if (iso && iso->n_elems > in_map)
				n += iso->n_elems - in_map;
		}
	}
	return n;
}

static void digit_set_name(char *buf, size_t len, enum netpol_dir d, int fam, unsigned digit,
			   unsigned v)
{
	(void) snprintf(buf, len, "%s/d%u.%u", iso_sets[d][fam], digit, v);
}

static unsigned id_digit(uint32_t id, unsigned j)
{
	return (id >> (RS_DIGIT_BITS * j)) & (RS_DIGIT_VALUES - 1);
}

/* Digits needed for ids up to @max_id. */
static unsigned id_digits(uint32_t max_id)
{
	unsigned n = 0;

	while (max_id) {
		n++;
		max_id >>= RS_DIGIT_BITS;
	}
	return n;
}

static struct rs_class *class_find(const struct rs_classes *cs, const char *key)
{
	struct name_slot *s = name_map_slot(&cs->idx, key);

	return s ? &cs->v[s->idx] : NULL;
}

static int class_put(struct rs_classes *cs, const char *key, const char *chain, uint32_t id,
		     size_t n_pods)
{
	struct rs_class *c;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct rs_class *v = realloc(cs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	c = &cs->v[cs->n];
	*c = (struct rs_class){ .id = id, .n_pods = n_pods };
	c->key = strdup(key);
	c->chain = strdup(chain);
	if (!c->key || !c->chain || name_map_put(&cs->idx, c->key, cs->n) < 0) {
		free(c->key);
		free(c->chain);
		return -ENOMEM;
	}
	cs->n++;
	return 0;
}

static void class_del(struct rs_classes *cs, const char *key)
{
	struct name_slot *sl = name_map_slot(&cs->idx, key);
	size_t i;

	if (!sl)
		return;
	i = sl->idx;
	name_map_del(&cs->idx, key);
	free(cs->v[i].key);
	free(cs->v[i].chain);
	cs->v[i] = cs->v[--cs->n];
	if (i < cs->n)
		(void) name_map_put(&cs->idx, cs->v[i].key, i); /* exists: no alloc */
}

/*
 * The class key of pod @p for @d into @k ("" when @p is not a local pod
 * isolated for @d): its namespace, then the name of every policy that
 * isolates it, in policy order.  With @mark, those policies become active.
 */
static int class_key(struct bctx *b, const struct pod *p, enum netpol_dir d, struct buf *k,
		     bool mark)
{
	size_t pf, pe;
	bool any = false;
	int r;

	buf_reset(k);
	r = buf_printf(k, "%s", "");
	if (r || !p || !pod_is_local(b, p))
		return r;
	cluster_policies_in_ns(b->c, p->ns, &pf, &pe);
	for (size_t i = pf; i < pe; i++) {
		const struct netpol *pol = &b->c->policies[i];

		if (!policy_isolates(pol, d, p))
			continue;
		if (!any)
			r = buf_printf(k, "%s", p->ns);
		if (!r)
			r = buf_printf(k, "\n%s", pol->name);
		if (!r && mark)
			r = active_mark(b, pol, d);
		if (r)
			return r;
		any = true;
	}
	return 0;
}

static uint64_t class_hash(enum netpol_dir d, const char *key)
{
	return hash_str(key, d == NETPOL_INGRESS ? 0x636c6969 : 0x636c6565);
}

static int class_chain_name(char *buf, size_t len, enum netpol_dir d, const char *key)
{
	size_t nl = strcspn(key, "\n");

	return make_name(buf, len, "c%s/%.*s/%016llx", dir_letter(d), (int) nl, key,
			 (unsigned long long) class_hash(d, key));
}

/* "bh:D:NS:H", or "bh:D:#" + FNV-1a of "NS:H" when that is too long. */
static const char *class_prefix(enum netpol_dir d, const char *key, char *buf, size_t len)
{
	char full[600];
	size_t nl = strcspn(key, "\n");
	int n;

	n = snprintf(full, sizeof(full), "%.*s:%016llx", (int) nl, key,
		     (unsigned long long) class_hash(d, key));
	if (n < 0 || (size_t) n >= sizeof(full))
		full[0] = '\0';
	n = snprintf(buf, len, "bh:%s:%s", dir_letter(d), full);
	if (n >= 0 && (size_t) n < len && (size_t) n < RULESET_PREFIX_MAX)
		return buf;
	(void) snprintf(buf, len, "bh:%s:#%016llx", dir_letter(d),
			(unsigned long long) fnv1a(full));
	return buf;
}

/* The chain of class @key: a jump to each policy chain, the final verdict. */
static int class_chain_build(const struct ruleset *rs, enum netpol_dir d, const char *key,
			     struct rs_chain **ret)
{
	char name[RULESET_NAME_MAX], prefix[RULESET_PREFIX_MAX];
	struct rs_chain *ch = calloc(1, sizeof(*ch));
	size_t nl = strcspn(key, "\n");
	char ns[256];
	int r;

	if (!ch)
		return -ENOMEM;
	(void) snprintf(ns, sizeof(ns), "%.*s", (int) nl, key);
	r = class_chain_name(name, sizeof(name), d, key);
	if (!r) {
		ch->name = strdup(name);
		r = ch->name ? 0 : -ENOMEM;
	}
	for (const char *pol = key + nl; !r && *pol == '\n'; pol += strcspn(pol + 1, "\n") + 1) {
		char pn[256], target[RULESET_NAME_MAX];

		(void) snprintf(pn, sizeof(pn), "%.*s", (int) strcspn(pol + 1, "\n"), pol + 1);
		r = ruleset_policy_chain_name(target, sizeof(target), ns, pn, d);
		if (!r)
			r = add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL,
				     RS_VERDICT_JUMP, target);
	}
	if (!r)
		r = final_verdict(rs, ch, class_prefix(d, key, prefix, sizeof(prefix)));
	if (r) {
		rs_chain_free(ch);
		return r;
	}
	*ret = ch;
	return 0;
}

static int class_id_cmp_cb(const void *a, const void *b)
{
	const struct rs_class *const *x = a, *const *y = b;

	return (*x)->id < (*y)->id ? -1 : (*x)->id > (*y)->id;
}

/* The trie over @cl[lo, hi) (sorted by id, all sharing the digits above
 * the ones that differ) into b->d; its entry chain's name into @ret. */
static int trie_build(struct bctx *b, enum netpol_dir d, const struct rs_class *const *cl,
		      size_t lo, size_t hi, char ret[RULESET_NAME_MAX])
{
	char child[RS_DIGIT_VALUES][RULESET_NAME_MAX];
	bool has[RS_DIGIT_VALUES] = { false };
	struct rs_chain *ch;
	unsigned j, dflt = 0;
	int r = 0;

	if (hi - lo == 1) {
		(void) snprintf(ret, RULESET_NAME_MAX, "%s", cl[lo]->chain);
		return 0;
	}
	j = (id_digits(cl[lo]->id ^ cl[hi - 1]->id) - 1);
	for (size_t i = lo; !r && i < hi;) {
		unsigned v = id_digit(cl[i]->id, j);
		size_t e = i;

		while (e < hi && id_digit(cl[e]->id, j) == v)
			e++;
		r = trie_build(b, d, cl, i, e, child[v]);
		has[v] = true;
		i = e;
	}
	if (r)
		return r;
	/* The unconditional goto: digit 0, else the largest digit present. */
	for (unsigned v = 0; v < RS_DIGIT_VALUES; v++)
		if (has[v] && (v == 0 || !has[0]))
			dflt = v;
	(void) snprintf(ret, RULESET_NAME_MAX, "t%s/%u.%x", dir_letter(d), j,
			(unsigned) ((uint64_t) cl[lo]->id >> (RS_DIGIT_BITS * (j + 1))));
	r = new_chain(b, ret, NULL, &ch);
	for (unsigned v = 1; !r && v < RS_DIGIT_VALUES; v++) {
		if (!has[v] || v == dflt)
			continue;
		for (int f = 0; !r && f < 2; f++) {
			char set[RULESET_NAME_MAX];

			digit_set_name(set, sizeof(set), d, f, j, v);
			r = add_rule(ch, RS_RULE_ADDR, f ? AF_INET6 : AF_INET, d == NETPOL_INGRESS,
				     set, NULL, NULL, RS_VERDICT_GOTO, child[v]);
		}
	}
	if (!r)
		r = add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_GOTO,
			     child[dflt]);
	return r;
}

/* The trie of the classes of @cs into b->d; @ret: its entry ("" when
 * there is no class). */
static int trie_build_all(struct bctx *b, enum netpol_dir d, const struct rs_classes *cs,
			  char ret[RULESET_NAME_MAX])
{
	const struct rs_class **cl;
	int r;

	ret[0] = '\0';
	if (!cs->n)
		return 0;
	cl = malloc(cs->n * sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	for (size_t i = 0; i < cs->n; i++)
		cl[i] = &cs->v[i];
	qsort(cl, cs->n, sizeof(*cl), class_id_cmp_cb);
	r = trie_build(b, d, cl, 0, cs->n, ret);
	free(cl);
	return r;
}

/* Elements of local pod @p as a member of class @cl through @emit, per
 * family: the iso set, the verdict map (goto the class chain; @emit
 * decides whether it goes in, see vmap_sets), the digit sets. */
typedef int member_fn(void *ud, const char *set, const struct rs_elem *e);

static int member_elems(const struct bctx *b, const struct pod *p, enum netpol_dir d,
			const struct rs_class *cl, member_fn *emit, void *ud)
{
	const uint32_t id = cl->id;

	for (size_t j = 0; j < p->n_ips; j++) {
		int f = fam_idx(p->ips[j].family);
		struct rs_elem e, ve;
		int r;

		if (!pod_owns_ip(b, p, j))
			continue;
		elem_addr(&e, &p->ips[j]);
		ve = e;
		ve.target = cl->chain;
		r = emit(ud, iso_sets[d][f], &e);
		if (!r)
			r = emit(ud, vmap_sets[d][f], &ve);
		for (unsigned k = 0; !r && k < RS_DIGITS_MAX; k++) {
			char set[RULESET_NAME_MAX];

			if (!id_digit(id, k))
				continue;
			digit_set_name(set, sizeof(set), d, f, k, id_digit(id, k));
			r = emit(ud, set, &e);
		}
		if (r)
			return r;
	}
	return 0;
}

struct member_push {
	struct rs_desc *d;
	const struct rs_desc *prev; /* ruleset_update_all(): the description before */
};

/* A build: every element; verdict map elements only if @prev has them
 * (when there is a @prev). */
static int push_member_cb(void *ud, const char *set, const struct rs_elem *e)
{
	struct member_push *x = ud;
	struct rs_set *s = rs_desc_set(x->d, set);

	if (x->prev && rs_set_is_vmap(set)) {
		const struct rs_set *ps = rs_desc_set(x->prev, set);
		bool found = false;

		if (ps)
			(void) set_elem_search(ps, e, &found);
		if (!found)
			return 0;
	}
	return s ? set_push(s, e) : -EINVAL;
}

struct member {
	char *key; /* owned */
	const struct pod *p;
};

static int member_cmp_cb(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/*
 * The classes of direction @d: every local pod isolated for @d, grouped
 * by class key.  Ids: those of @prev for the classes it has, the lowest
 * free ones for the others in key order (so a fresh build numbers them
 * in key order, deterministically).  Creates the isolation and digit sets,
 * the class chains, and marks the policies they jump to as active.
 */
static int build_classes(struct bctx *b, enum netpol_dir d, const struct rs_desc *prev_desc)
{
	const struct rs_classes *prev = prev_desc ? &prev_desc->cls[d] : NULL;
	struct rs_classes *cs = &b->d->cls[d];
	struct member *m = NULL;
	size_t n = 0, cap = 0;
	uint32_t max_id = 0;
	size_t n_ids;
	bool *used = NULL;
	struct buf k;
	int r = 0;

	buf_init(&k, 1 << 20);
	for (size_t i = 0; i < b->c->n_pods; i++) {
		const struct pod *p = &b->c->pods[i];

		if (!pod_is_local(b, p))
			continue;
		r = class_key(b, p, d, &k, true);
		if (r)
			goto out;
		if (!k.len)
			continue;
		if (n == cap) {
			struct member *v;

			cap = cap ? cap * 2 : 64;
			v = realloc(m, cap * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				goto out;
			}
			m = v;
		}
		m[n].p = p;
		m[n].key = strdup(k.data);
		if (!m[n].key) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(m, n, sizeof(*m), member_cmp_cb);
	n_ids = n;
	/* Ids: kept ones first, then the lowest free, in key order. */
	for (size_t i = 0; prev && i < prev->n; i++)
		if (prev->v[i].id >= n_ids)
			n_ids = (size_t) prev->v[i].id + 1;
	used = calloc(n_ids + 1, sizeof(*used));
	if (!used) {
		r = -ENOMEM;
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		uint32_t next = 0;

		for (size_t i = 0; i < n; i++) {
			const struct rs_class *pc;
			char chain[RULESET_NAME_MAX];
			size_t cnt = 1;
			uint32_t id;

			while (i + cnt < n && strcmp(m[i].key, m[i + cnt].key) == 0)
				cnt++;
			pc = prev ? class_find(prev, m[i].key) : NULL;
			if (pass == 0 && pc && !used[pc->id]) {
				id = pc->id;
			} else if (pass == 1 && !class_find(cs, m[i].key)) {
				while (used[next])
					next++;
				id = next;
			} else {
				i += cnt - 1;
				continue;
			}
			used[id] = true;
			if (id > max_id)
				max_id = id;
			r = class_chain_name(chain, sizeof(chain), d, m[i].key);
			if (!r)
				r = class_put(cs, m[i].key, chain, id, cnt);
			if (r)
				goto out;
			i += cnt - 1;
		}
	}
	if (max_id >= RS_CLASSES_MAX) {
		r = -ERANGE; /* rs_compile_err() */
		goto out;
	}
	cs->digits = id_digits(max_id);
	for (int f = 0; f < 2; f++) {
		struct rs_set *s;

		r = new_set(b, iso_sets[d][f], f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
		if (!r)
			r = new_set(b, vmap_sets[d][f], f ? RS_KEY_ADDR6 : RS_KEY_ADDR4,
				    RS_SET_VMAP, &s);
		for (unsigned j = 0; !r && j < cs->digits; j++) {
			for (unsigned v = 1; !r && v < RS_DIGIT_VALUES; v++) {
				char name[RULESET_NAME_MAX];

				digit_set_name(name, sizeof(name), d, f, j, v);
				r = new_set(b, name, f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
			}
		}
		if (r)
			goto out;
	}
	for (size_t i = 0; i < cs->n; i++) {
		struct rs_chain *ch;

		r = class_chain_build(b->rs, d, cs->v[i].key, &ch);
		if (!r && rs_desc_chain(b->d, ch->name)) {
			rs_chain_free(ch);
			r = -EEXIST; /* two class keys, one 64-bit hash */
		} else if (!r) {
			r = rs_desc_put_chain(b->d, ch);
		}
		if (r)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct member_push x = { .d = b->d, .prev = b->fill_maps ? NULL : prev_desc };

		r = member_elems(b, m[i].p, d, class_find(cs, m[i].key), push_member_cb, &x);
		if (r)
			goto out;
	}
	for (int f = 0; f < 2; f++) {
		set_finish(rs_desc_set(b->d, iso_sets[d][f]));
		set_finish(rs_desc_set(b->d, vmap_sets[d][f]));
		for (unsigned j = 0; j < cs->digits; j++) {
			for (unsigned v = 1; v < RS_DIGIT_VALUES; v++) {
				char name[RULESET_NAME_MAX];

				digit_set_name(name, sizeof(name), d, f, j, v);
				set_finish(rs_desc_set(b->d, name));
			}
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(m[i].key);
	free(m);
	free(used);
	buf_done(&k);
	return r;
}

/*
 * The node-local part: classes with their sets and chains, the dispatch
 * tries (entries into @roots), which policies are active.  Policy chains
 * and sets are built by the caller from b->active.
 */
static int build_local(struct bctx *b, const struct rs_desc *prev,
		       char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX])
{
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		int r = build_classes(b, d, prev);

		if (!r)
			r = trie_build_all(b, d, &b->d->cls[d], roots[d]);
		if (r)
			return r;
	}
	return 0;
}

static int build_policies(struct bctx *b)
{
	struct cluster *c = b->c;
	const struct pod **local = NULL;
	int r = 0;

	for (size_t a = 0; a < b->n_active; a++) {
		const struct netpol *pol =
			cluster_policy_find(c, b->active[a].ns, b->active[a].name);
		size_t n_local = 0;

		if (!pol)
			continue;
		for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
			if (!b->active[a].dir[d])
				continue;
			if (d == NETPOL_INGRESS) {
				const struct ns_info *ni = bctx_ns(b, pol->ns);

				free(local);
				local = calloc(ni ? ni->end - ni->first + 1 : 1, sizeof(*local));
				if (!local)
					return -ENOMEM;
				n_local = 0;
				for (size_t i = ni ? ni->first : 0; ni && i < ni->end; i++)
					if (pod_is_local(b, &c->pods[i]) &&
					    policy_isolates(pol, d, &c->pods[i]))
						local[n_local++] = &c->pods[i];
			}
			r = build_policy(b, pol, d, local, n_local);
			if (r < 0)
				goto out;
		}
	}
out:
	free(local);
	return r;
}

/*
 * A pod's IPv6 neighbour discovery and multicast listener reports go to its
 * node (input hook) whatever its egress policies say; without them an
 * egress-isolated pod has no IPv6 at all, replies included.  ICMPv6 types
 * 130-136 (MLD, router and neighbour discovery) and 143 (MLDv2).
 */
static int add_icmpv6(struct rs_chain *c, uint8_t lo, uint8_t hi)
{
	struct rs_rule r = {
		.kind = RS_RULE_ICMPV6_ACCEPT,
		.family = AF_INET6,
		.icmp_lo = lo,
		.icmp_hi = hi,
		.verdict = RS_VERDICT_ACCEPT,
	};

	return chain_add_rule(c, &r);
}

static int build_base_sets(struct bctx *b)
{
	const struct node *node = cluster_node_find(b->c, b->rs->node);
	struct rs_set *n4, *n6;
	int r;

	r = new_set(b, "node4", RS_KEY_ADDR4, 0, &n4);
	if (r < 0)
		return r;
	r = new_set(b, "node6", RS_KEY_ADDR6, 0, &n6);
	if (r < 0)
		return r;
	for (size_t i = 0; node && i < node->n_addrs; i++) {
		struct rs_elem e;

		elem_addr(&e, &node->addrs[i]);
		r = set_push(node->addrs[i].family == AF_INET ? n4 : n6, &e);
		if (r < 0)
			return r;
	}
	set_finish(n4);
	set_finish(n6);
	if (b->rs->mode == BH_MODE_PREVIEW) {
		struct rs_set *s;

		r = new_set(b, "seen4", RS_KEY_FLOW4, RS_SET_DYNAMIC, &s);
		if (r < 0)
			return r;
		r = new_set(b, "seen6", RS_KEY_FLOW6, RS_SET_DYNAMIC, &s);
		if (r < 0)
			return r;
	}
	return 0;
}

/* `ip saddr vmap @eg4/vmap` then `ip saddr @eg4 goto ROOT` (+ IPv6), or
 * nothing without a class. */
static int add_dispatch(struct rs_chain *ch, enum netpol_dir d, const char *root)
{
	int r = 0;

	for (int f = 0; !r && *root && f < 2; f++)
		r = add_rule(ch, RS_RULE_VMAP, f ? AF_INET6 : AF_INET, d == NETPOL_INGRESS,
			     vmap_sets[d][f], NULL, NULL, RS_VERDICT_GOTO, NULL);
	for (int f = 0; !r && *root && f < 2; f++)
		r = add_rule(ch, RS_RULE_ADDR, f ? AF_INET6 : AF_INET, d == NETPOL_INGRESS,
			     iso_sets[d][f], NULL, NULL, RS_VERDICT_GOTO, root);
	return r;
}

/* forward, input and ingress, entering the tries at @roots. */
static int build_base_chains(struct bctx *b, char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX])
{
	struct rs_chain *fw, *in, *ing;
	int r;

	r = new_chain(b, "forward", "forward", &fw);
	if (r < 0)
		return r;
	r = new_chain(b, "input", "input", &in);
	if (r < 0)
		return r;
	r = new_chain(b, "ingress", NULL, &ing);
	if (r < 0)
		return r;
	/* The egress dispatch before the node's own traffic: a local pod's
	 * address is never the node's, and a pod's first packet then skips
	 * the fib lookup. */
	if (add_rule(fw, RS_RULE_CT_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT, NULL) <
		    0 ||
	    (b->rs->nd_forward && (add_icmpv6(fw, 130, 136) < 0 || add_icmpv6(fw, 143, 143) < 0)) ||
	    add_dispatch(fw, NETPOL_EGRESS, roots[NETPOL_EGRESS]) < 0 ||
	    add_rule(fw, RS_RULE_FIB_LOCAL_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT,
		     NULL) < 0 ||
	    add_rule(fw, RS_RULE_ADDR, AF_INET, false, "node4", NULL, NULL, RS_VERDICT_ACCEPT,
		     NULL) < 0 ||
	    add_rule(fw, RS_RULE_ADDR, AF_INET6, false, "node6", NULL, NULL, RS_VERDICT_ACCEPT,
		     NULL) < 0 ||
	    add_rule(fw, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_GOTO, "ingress") <
		    0 ||
	    add_rule(in, RS_RULE_CT_ACCEPT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT, NULL) <
		    0 ||
	    add_icmpv6(in, 130, 136) < 0 || add_icmpv6(in, 143, 143) < 0 ||
	    add_dispatch(in, NETPOL_EGRESS, roots[NETPOL_EGRESS]) < 0 ||
	    add_dispatch(ing, NETPOL_INGRESS, roots[NETPOL_INGRESS]) < 0 ||
	    add_rule(ing, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_ACCEPT, NULL) < 0)
		return -ENOMEM;
	return 0;
}

int ruleset_compile(struct ruleset *rs, struct cluster *c, const struct rs_desc *prev,
		    bool fill_maps, struct rs_desc *d)
{
	char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX];
	struct bctx b = { 0 };
	int r;

	r = bctx_init(&b, rs, c, d);
	if (r < 0)
		goto out;
	b.fill_maps = fill_maps; /* (without @prev every element goes in anyway) */
	r = build_base_sets(&b);
	if (r < 0)
		goto out;
	r = build_local(&b, prev, roots);
	if (r < 0)
		goto out;
	r = build_base_chains(&b, roots);
	if (r < 0)
		goto out;
	r = build_policies(&b);
	if (r == 0)
		rs_desc_fit_sizes(d);
out:
	bctx_done(&b);
	return r;
}

int ruleset_build(struct cluster *c, const struct ruleset_opts *o, struct ruleset **ret,
		  struct bh_err *reterr)
{
	struct ruleset *rs;
	int r;

	if (!o->node || !*o->node)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "ruleset options: node: no node name given");
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return bh_err_oom(reterr);
	rs->mode = o->mode;
	rs->group = o->nflog_group_set ? o->nflog_group : RULESET_NFLOG_GROUP;
	if (o->datapath) {
		/* br_netfilter shows bridged IPv6 to the forward hook, pods'
		 * neighbour discovery between each other included. */
		rs->nd_forward = o->datapath->n_bridged && o->datapath->nf_call[1];
		rs->n_bridges = o->datapath->n_bridges;
		memcpy(rs->bridges, o->datapath->bridges, sizeof(rs->bridges));
	}
	rs->node = strdup(o->node);
	if (!rs->node) {
		r = -ENOMEM;
		goto fail;
	}
	r = ruleset_compile(rs, c, NULL, true, &rs->d);
	if (r < 0)
		goto fail;
	r = cluster_copy(c, &rs->shadow);
	if (r < 0)
		goto fail;
	r = rs_owners_build(&rs->owners, c);
	if (r < 0)
		goto fail;
	*ret = rs;
	return 0;
fail:
	r = rs_compile_err(o->node, r, "compiling the ruleset", reterr);
	ruleset_free(rs);
	return r;
}

int rs_compile_err(const char *node, int r, const char *what, struct bh_err *reterr)
{
	switch (r) {
	case -ENOMEM:
		return bh_err_oom(reterr);
	case -ERANGE:
		return bh_err_set(reterr, BH_ERR_INPUT, r,
				  "node '%s': %s: more than %u classes of local pods (the pods of "
				  "one namespace that the same policies isolate) in one direction, "
				  "the most the dispatch trie numbers",
				  node, what, RS_CLASSES_MAX);
	case -E2BIG:
		return bh_err_set(reterr, BH_ERR_INPUT, r,
				  "node '%s': %s: the policies isolating one pod, or the peers of "
				  "one rule, make a key past the compiler's 1 MiB bound",
				  node, what);
	default:
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "node '%s': %s: %s", node, what,
				  strerror(-r));
	}
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	rs_desc_done(&rs->d);
	cluster_free(rs->shadow);
	rs_owners_done(&rs->owners);
	free(rs->node);
	free(rs);
	return NULL;
}

size_t ruleset_n_sets(const struct ruleset *rs)
{
	return rs->d.n_sets;
}

const struct rs_set *ruleset_set(const struct ruleset *rs, size_t i)
{
	return i < rs->d.n_sets ? rs->d.sets[i] : NULL;
}

size_t ruleset_n_chains(const struct ruleset *rs)
{
	return rs->d.n_chains;
}

const struct rs_chain *ruleset_chain(const struct ruleset *rs, size_t i)
{
	return i < rs->d.n_chains ? rs->d.chains[i] : NULL;
}

const struct rs_set *ruleset_set_find(const struct ruleset *rs, const char *name)
{
	return rs_desc_set(&rs->d, name);
}

const struct rs_chain *ruleset_chain_find(const struct ruleset *rs, const char *name)
{
	return rs_desc_chain(&rs->d, name);
}

enum bh_mode ruleset_mode(const struct ruleset *rs)
{
	return rs->mode;
}

static uint64_t hash_str0(const char *s, uint64_t h)
{
	return s ? hash_bytes(s, strlen(s) + 1, h) : hash_bytes("", 0, h ^ 0x5a);
}

static uint64_t hash_u64(uint64_t v, uint64_t h)
{
	return hash_bytes(&v, sizeof(v), h);
}

/*
 * The elements of @s, packed (family, address bytes, the end address,
 * protocol, ports) into a buffer hashed a few kilobytes at a time: one
 * hash_bytes() call per field and element cost 50 ms for a million
 * elements, most of it finalising short keys.
 */
static uint64_t digest_elems(const struct rs_set *s, uint64_t h)
{
	uint8_t buf[4096];
	size_t n = 0;

	for (size_t k = 0; k < s->n_elems; k++) {
		const struct rs_elem *e = &s->elems[k];
		size_t la = addr_len(&e->addr), le = addr_len(&e->addr_end);

		if (n + 2 * (1 + 16) + 5 > sizeof(buf)) {
			h = hash_bytes(buf, n, h);
			n = 0;
		}
		buf[n++] = e->addr.family;
		memcpy(&buf[n], e->addr.b, la);
		n += la;
		buf[n++] = e->addr_end.family;
		memcpy(&buf[n], e->addr_end.b, le);
		n += le;
		buf[n++] = e->proto;
		buf[n++] = (uint8_t) (e->port >> 8);
		buf[n++] = (uint8_t) e->port;
		buf[n++] = (uint8_t) (e->port_end >> 8);
		buf[n++] = (uint8_t) e->port_end;
		if (e->target) {
			h = hash_bytes(buf, n, h);
			n = 0;
			h = hash_str0(e->target, h);
		}
	}
	return n ? hash_bytes(buf, n, h) : h;
}

/* A hash of the description in name order (not of its text: rendering a
 * million elements costs more than hashing them). */
uint64_t ruleset_digest(const struct ruleset *rs)
{
	const struct rs_set **sets;
	const struct rs_chain **chains;
	uint64_t h = 0x62756c6b68656164ULL;

	if (rs_desc_sorted(&rs->d, &sets, &chains) < 0)
		return 0;
	h = hash_u64(rs->mode, h);
	for (size_t i = 0; i < rs->d.n_sets; i++) {
		const struct rs_set *s = sets[i];

		h = hash_str0(s->name, h);
		h = hash_u64((uint64_t) s->key << 32 | s->flags, h);
		h = hash_u64(s->size, h);
		h = digest_elems(s, h);
	}
	for (size_t i = 0; i < rs->d.n_chains; i++) {
		const struct rs_chain *c = chains[i];

		h = hash_str0(c->name, h);
		h = hash_str0(c->hook, h);
		for (size_t k = 0; k < c->n_rules; k++) {
			const struct rs_rule *r = &c->rules[k];

			h = hash_u64((uint64_t) r->kind << 48 | (uint64_t) r->family << 40 |
					     (uint64_t) r->peer_is_daddr << 32 |
					     (uint64_t) r->group << 8 | r->verdict,
				     h);
			h = hash_u64((uint64_t) r->icmp_lo << 8 | r->icmp_hi, h);
			h = hash_str0(r->peer_set, h);
			h = hash_str0(r->port_set, h);
			h = hash_str0(r->named_set, h);
			h = hash_str0(r->prefix, h);
			h = hash_str0(r->target, h);
		}
	}
	free(sets);
	free(chains);
	return rs_bridge_digest(rs, h);
}

int ruleset_alert_pod(const struct ruleset *rs, const char *prefix, const struct addr *src,
		      const struct addr *dst, enum netpol_dir *ret_dir, const char **ret_ns,
		      const char **ret_pod)
{
	struct bctx b = { .rs = (struct ruleset *) rs, .c = rs->shadow, .assume_owned = true };
	char want[RULESET_PREFIX_MAX];
	const struct rs_class *cl;
	const struct pod *p;
	enum netpol_dir d;
	struct buf k;
	int r;

	if (strncmp(prefix, "bh:", 3) != 0 || (prefix[3] != 'i' && prefix[3] != 'e') ||
	    prefix[4] != ':' || !rs->shadow)
		return -ENOENT;
	d = prefix[3] == 'i' ? NETPOL_INGRESS : NETPOL_EGRESS;
	p = cluster_pod_by_addr(rs->shadow, d == NETPOL_INGRESS ? dst : src);
	if (!p)
		return -ENOENT;
	buf_init(&k, 1 << 20);
	r = class_key(&b, p, d, &k, false);
	cl = !r && k.len ? class_find(&rs->d.cls[d], k.data) : NULL;
	r = cl && strcmp(class_prefix(d, cl->key, want, sizeof(want)), prefix) == 0 ? 0 : -ENOENT;
	buf_done(&k);
	if (r)
		return r;
	*ret_dir = d;
	*ret_ns = p->ns;
	*ret_pod = p->name;
	return 0;
}

/* --- incremental: one pod -------------------------------------------- */

/*
 * A pod event touches: the shared pod-address sets (its membership), and
 * when the pod is on this node its own chains and map elements, which
 * policies of its namespace are active, and their ingress named-port
 * sets.  Nothing else depends on one pod, so the update evaluates only
 * these and leaves every other object alone.
 */

static uint64_t owner_hash(const struct addr *a)
{
	return hash_bytes(a, sizeof(*a), 0x6f776e);
}

static struct owner_slot *owner_find(const struct owner_map *m, const struct addr *a)
{
	size_t h;

	if (!m->cap)
		return NULL;
	h = owner_hash(a) & (m->cap - 1);
	while (m->slots[h].pod || m->slots[h].tomb) {
		if (m->slots[h].pod && addr_eq(&m->slots[h].a, a))
			return &m->slots[h];
		h = (h + 1) & (m->cap - 1);
	}
	return NULL;
}

static int owner_put(struct owner_map *m, const struct addr *a, const char *pod)
{
	struct owner_slot *sl = owner_find(m, a);
	char *dup = strdup(pod);
	size_t h;

	if (!dup)
		return -ENOMEM;
	if (sl) {
		free(sl->pod);
		sl->pod = dup;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct owner_slot *v = calloc(cap, sizeof(*v));

		if (!v) {
			free(dup);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slots[i].pod)
				continue;
			h = owner_hash(&m->slots[i].a) & (cap - 1);
			while (v[h].pod)
				h = (h + 1) & (cap - 1);
			v[h] = m->slots[i];
		}
		free(m->slots);
		m->slots = v;
		m->cap = cap;
		m->n = 0;
		for (size_t i = 0; i < cap; i++)
			m->n += v[i].pod != NULL;
	}
	h = owner_hash(a) & (m->cap - 1);
	while (m->slots[h].pod)
		h = (h + 1) & (m->cap - 1);
	if (!m->slots[h].tomb)
		m->n++;
	m->slots[h] = (struct owner_slot){ .a = *a, .pod = dup };
	return 0;
}

static void owner_del(struct owner_map *m, const struct addr *a)
{
	struct owner_slot *sl = owner_find(m, a);

	if (!sl)
		return;
	free(sl->pod);
	sl->pod = NULL;
	sl->tomb = true;
}

void rs_owners_done(struct owner_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].pod);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

int rs_owners_build(struct owner_map *m, struct cluster *c)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];
		char key[600];

		if (!pod_known(p))
			continue;
		(void) snprintf(key, sizeof(key), "%s/%s", p->ns, p->name);
		for (size_t k = 0; k < p->n_ips; k++) {
			const struct pod *o = cluster_pod_by_addr(c, &p->ips[k]);

			if (o != p)
				continue;
			if (owner_put(m, &p->ips[k], key) < 0)
				return -ENOMEM;
		}
	}
	/* Addresses that other pods claim as well. */
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		for (size_t k = 0; pod_known(p) && k < p->n_ips; k++) {
			struct owner_slot *sl = owner_find(m, &p->ips[k]);

			if (sl && cluster_pod_by_addr(c, &p->ips[k]) != p)
				sl->shared = true;
		}
	}
	return 0;
}

/* Could another pod claim one of @p's addresses (now or before)? */
static bool owners_conflict(const struct owner_map *m, const struct pod *p, const char *key,
			    bool was)
{
	for (size_t k = 0; p && pod_known(p) && k < p->n_ips; k++) {
		const struct owner_slot *sl = owner_find(m, &p->ips[k]);

		if (sl ? sl->shared || strcmp(sl->pod, key) != 0 : was)
			return true;
	}
	return false;
}

/* Pending kernel changes of one event, in commit order. */
enum {
	PH_ADD_CHAIN,
	PH_ADD_SET,
	PH_ADD_ELEMS,
	PH_DEL_ELEMS,
	PH_RULES,
	PH_DEL_TREE, /* trie chains, top down: before the classes they reach */
	PH_DEL_CHAIN, /* class chains, then policy chains */
	PH_DEL_SET,
	_PH_MAX
};

struct pending {
	struct rs_delta ph[_PH_MAX];
};

static void pending_done(struct pending *pd)
{
	for (int i = 0; i < _PH_MAX; i++) {
		for (size_t k = 0; k < pd->ph[i].n_ops; k++) {
			rs_set_free(pd->ph[i].ops[k].set);
			rs_chain_free(pd->ph[i].ops[k].chain);
		}
		free(pd->ph[i].ops);
	}
}

/* Moves the pending ops into one delta (NULL when empty). */
static int pending_finish(struct pending *pd, struct rs_delta **ret)
{
	struct rs_delta *d = calloc(1, sizeof(*d));
	size_t n = 0;

	if (!d)
		return -ENOMEM;
	for (int i = 0; i < _PH_MAX; i++)
		n += pd->ph[i].n_ops;
	if (!n) {
		free(d);
		*ret = NULL;
		return 0;
	}
	d->ops = calloc(n, sizeof(*d->ops));
	if (!d->ops) {
		free(d);
		return -ENOMEM;
	}
	for (int i = 0; i < _PH_MAX; i++) {
		for (size_t k = 0; k < pd->ph[i].n_ops; k++) {
			struct rs_op *op = &pd->ph[i].ops[k];

			/* Element changes that cancelled out: an empty list
			 * would mean "flush" to the kernel. */
			if ((op->kind == RS_OP_ADD_ELEMS || op->kind == RS_OP_DEL_ELEMS) &&
			    !op->set->n_elems) {
				rs_set_free(op->set);
				continue;
			}
			d->ops[d->n_ops++] = *op;
		}
		free(pd->ph[i].ops);
		pd->ph[i] = (struct rs_delta){ 0 };
	}
	d->cap_ops = n;
	if (!d->n_ops) {
		free(d->ops);
		free(d);
		*ret = NULL;
		return 0;
	}
	*ret = d;
	return 0;
}

/* Adds or deletes one element of set @name in the description and records
 * it for the kernel. */
static int elem_change(struct ruleset *rs, struct pending *pd, const char *name,
		       const struct rs_elem *e, bool add)
{
	struct rs_set *s = rs_desc_set(&rs->d, name);
	struct rs_delta *ph = &pd->ph[add ? PH_ADD_ELEMS : PH_DEL_ELEMS];
	struct rs_set *acc = NULL;
	int r;

	if (!s)
		return 0;
	r = add ? rs_set_elem_add(s, e) : rs_set_elem_del(s, e);
	if (r <= 0)
		return r;
	/* Deleted and added back in one event (a pod that keeps an address
	 * and a chain): the kernel keeps it, nothing to send. */
	{
		struct rs_delta *other = &pd->ph[add ? PH_DEL_ELEMS : PH_ADD_ELEMS];

		for (size_t i = 0; i < other->n_ops; i++)
			if (strcmp(other->ops[i].set->name, name) == 0 &&
			    rs_set_elem_del(other->ops[i].set, e) == 1)
				return 0;
	}
	for (size_t i = 0; i < ph->n_ops; i++)
		if (strcmp(ph->ops[i].set->name, name) == 0)
			acc = ph->ops[i].set;
	if (!acc) {
		r = rs_set_dup(s, false, &acc);
		if (r < 0)
			return r;
		r = rs_delta_push(ph, add ? RS_OP_ADD_ELEMS : RS_OP_DEL_ELEMS, acc, NULL);
		if (r < 0)
			return r;
	}
	r = rs_set_elem_add(acc, e);
	return r < 0 ? r : 0;
}

/* Applies the difference between two sorted element lists to set @name. */
static int elems_apply(struct ruleset *rs, struct pending *pd, const char *name,
		       const struct rs_set *old, const struct rs_set *new)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < old->n_elems || j < new->n_elems)) {
		int c = i == old->n_elems ? 1 :
			j == new->n_elems ? -1 :
					    rs_elem_cmp(&old->elems[i], &new->elems[j]);

		if (c < 0)
			r = elem_change(rs, pd, name, &old->elems[i++], false);
		else if (c > 0)
			r = elem_change(rs, pd, name, &new->elems[j++], true);
		else
			i++, j++;
	}
	return r;
}

static void tmpset_reset(struct rs_set *s)
{
	for (size_t i = 0; i < s->n_elems; i++)
		rs_elem_done(&s->elems[i]);
	s->n_elems = 0;
}

static void tmpset_done(struct rs_set *s)
{
	tmpset_reset(s);
	free(s->elems);
	s->elems = NULL;
	s->cap_elems = 0;
}

struct collect {
	struct rs_set sets[4]; /* pods4, pods6, named4, named6 */
};

static int collect_cb(void *ud, const char *kind, const struct rs_elem *e)
{
	struct collect *cl = ud;
	int i = strcmp(kind, "pods4") == 0  ? 0 :
		strcmp(kind, "pods6") == 0  ? 1 :
		strcmp(kind, "named4") == 0 ? 2 :
					      3;

	return set_push(&cl->sets[i], e);
}

/* A context that knows only @ns (all a pod's evaluation needs). */
static int mini_bctx(struct bctx *b, struct ns_info *ni, struct ruleset *rs, struct cluster *c,
		     const char *ns)
{
	const struct k8s_ns *k = cluster_ns_find(c, ns);

	*ni = (struct ns_info){ .name = ns };
	labels_init(&ni->synth);
	if (k) {
		ni->labels = &k->labels;
	} else {
		if (labels_set(&ni->synth, "kubernetes.io/metadata.name", ns) < 0)
			return -ENOMEM;
		ni->labels = &ni->synth;
	}
	*b = (struct bctx){ .rs = rs, .c = c, .n_ns = 1, .ns = ni, .assume_owned = true };
	return 0;
}

static void ns_range(const struct cluster *c, const char *ns, size_t *first, size_t *end)
{
	size_t lo = 0, hi = c->n_pods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->pods[mid].ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo < c->n_pods && strcmp(c->pods[lo].ns, ns) == 0)
		lo++;
	*end = lo;
}

/* Drops one use of the shared sets @names; deletes them with the last. */
static int def_release(struct ruleset *rs, struct pending *pd, char names[2][RULESET_NAME_MAX])
{
	struct rs_desc *d = &rs->d;
	struct name_slot *sl = name_map_slot(&d->def_idx, names[0]);
	size_t i;
	int r;

	if (!sl)
		return 0;
	i = sl->idx;
	if (--d->defs[i].refs > 0)
		return 0;
	for (int f = 0; f < 2; f++) {
		const struct rs_set *s = rs_desc_set(d, names[f]);

		if (!s)
			continue;
		r = rs_delta_push_set(&pd->ph[PH_DEL_SET], RS_OP_DEL_SET, s, false);
		if (r < 0)
			return r;
		rs_desc_del_set(d, names[f]);
	}
	name_map_del(&d->def_idx, names[0]);
	free(d->defs[i].name[0]);
	free(d->defs[i].name[1]);
	free(d->defs[i].pns);
	free(d->defs[i].pname);
	d->defs[i] = d->defs[--d->n_defs];
	if (i < d->n_defs)
		(void) name_map_put(&d->def_idx, d->defs[i].name[0], i);
	return 0;
}

/* Removes policy @pol's objects for @d (it isolates no local pod now). */
static int policy_deactivate(struct ruleset *rs, struct pending *pd, const struct netpol *pol,
			     enum netpol_dir d)
{
	static const char *const kinds[] = {
		"ports", "ranges", "cidr4", "cidr6", "named4", "named6"
	};
	char name[RULESET_NAME_MAX];
	const struct rs_chain *ch;
	int r;

	r = ruleset_policy_chain_name(name, sizeof(name), pol->ns, pol->name, d);
	if (r < 0)
		return r;
	ch = rs_desc_chain(&rs->d, name);
	if (ch) {
		r = rs_delta_push_chain(&pd->ph[PH_DEL_CHAIN], RS_OP_DEL_CHAIN, ch);
		if (r < 0)
			return r;
		rs_desc_del_chain(&rs->d, name);
	}
	for (size_t ri = 0; ri < pol->n_rules[d]; ri++) {
		const struct netpol_rule *rule = &pol->rules[d][ri];
		bool has_num = rule_has_port(rule, false), has_named = rule_has_port(rule, true);
		bool peers_used = d == NETPOL_INGRESS || has_num || rule->n_ports == 0;
		char sh[2][RULESET_NAME_MAX];

		for (size_t k = 0; k < BH_ARRAY_SIZE(kinds); k++) {
			const struct rs_set *s;

			r = policy_set_name(name, sizeof(name), pol, d, ri, kinds[k]);
			if (r < 0)
				return r;
			s = rs_desc_set(&rs->d, name);
			if (!s)
				continue;
			r = rs_delta_push_set(&pd->ph[PH_DEL_SET], RS_OP_DEL_SET, s, false);
			if (r < 0)
				return r;
			rs_desc_del_set(&rs->d, name);
		}
		if (peers_used && rule_has(rule, NETPOL_PEER_SELECTOR, 0)) {
			r = shared_names(pol, rule, false, sh);
			if (!r)
				r = def_release(rs, pd, sh);
			if (r < 0)
				return r;
		}
		if (has_named && d == NETPOL_EGRESS) {
			r = shared_names(pol, rule, true, sh);
			if (!r)
				r = def_release(rs, pd, sh);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Builds policy @pol's objects for @d and moves them into the ruleset. */
static int policy_activate(struct ruleset *rs, struct pending *pd, struct cluster *c,
			   const struct netpol *pol, enum netpol_dir d, const struct pod **local,
			   size_t n_local)
{
	struct rs_desc t = { 0 };
	struct bctx b = { .assume_owned = true, .existing = &rs->d };
	int r;

	r = bctx_init(&b, rs, c, &t);
	if (!r)
		r = build_policy(&b, pol, d, local, n_local);
	bctx_done(&b);
	for (size_t i = 0; !r && i < t.n_chains; i++) {
		r = rs_delta_push_chain(&pd->ph[PH_ADD_CHAIN], RS_OP_ADD_CHAIN, t.chains[i]);
		if (!r && t.chains[i]->n_rules)
			r = rs_delta_push_chain(&pd->ph[PH_RULES], RS_OP_ADD_RULES, t.chains[i]);
		if (!r) {
			r = rs_desc_put_chain(&rs->d, t.chains[i]);
			t.chains[i] = NULL;
		}
	}
	for (size_t i = 0; !r && i < t.n_sets; i++) {
		r = rs_delta_push_set(&pd->ph[PH_ADD_SET], RS_OP_ADD_SET, t.sets[i], true);
		if (!r) {
			r = rs_desc_put_set(&rs->d, t.sets[i]);
			t.sets[i] = NULL;
		}
	}
	for (size_t i = 0; !r && i < t.n_defs; i++) {
		struct name_slot *sl = name_map_slot(&rs->d.def_idx, t.defs[i].name[0]);
		char names[2][RULESET_NAME_MAX];

		if (sl) {
			rs->d.defs[sl->idx].refs += t.defs[i].refs;
			continue;
		}
		memcpy(names[0], t.defs[i].name[0], strlen(t.defs[i].name[0]) + 1);
		memcpy(names[1], t.defs[i].name[1], strlen(t.defs[i].name[1]) + 1);
		r = def_use(&rs->d, names, t.defs[i].named, pol, t.defs[i].dir, t.defs[i].rule);
		if (!r)
			rs->d.defs[rs->d.n_defs - 1].refs = t.defs[i].refs;
	}
	/* Chains and sets moved out are NULL now; rs_desc_done skips them. */
	for (size_t i = 0; i < t.n_sets; i++)
		rs_set_free(t.sets[i]);
	for (size_t i = 0; i < t.n_chains; i++)
		rs_chain_free(t.chains[i]);
	t.n_sets = t.n_chains = 0;
	rs_desc_done(&t);
	return r;
}

/* Ingress named-port sets of an active policy: recomputed from the local
 * pods it isolates. */
static int policy_named_refresh(struct ruleset *rs, struct pending *pd, struct bctx *b,
				const struct netpol *pol, const struct pod **local, size_t n_local)
{
	for (size_t ri = 0; ri < pol->n_rules[NETPOL_INGRESS]; ri++) {
		const struct netpol_rule *rule = &pol->rules[NETPOL_INGRESS][ri];

		if (!rule_has_port(rule, true))
			continue;
		for (int fam = 0; fam < 2; fam++) {
			struct rs_set tmp = { .key = fam ? RS_KEY_ADDR6_PROTO_PORT :
							   RS_KEY_ADDR4_PROTO_PORT };
			const struct rs_set *cur;
			char name[RULESET_NAME_MAX];
			int r = policy_set_name(name, sizeof(name), pol, NETPOL_INGRESS, ri,
						fam ? "named6" : "named4");

			cur = r ? NULL : rs_desc_set(&rs->d, name);
			if (!cur)
				continue;
			for (size_t k = 0; !r && k < n_local; k++)
				for (size_t j = 0; !r && j < local[k]->n_ips; j++)
					if (local[k]->ips[j].family == (fam ? AF_INET6 : AF_INET) &&
					    pod_owns_ip(b, local[k], j))
						r = named_elems(rule, local[k], &local[k]->ips[j],
								&tmp, false);
			set_finish(&tmp);
			if (!r) {
				struct rs_set *old;

				r = rs_set_dup(cur, true, &old);
				if (!r)
					r = elems_apply(rs, pd, name, old, &tmp);
				rs_set_free(old);
			}
			tmpset_done(&tmp);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* --- incremental: classes ------------------------------------------------ */

struct member_change {
	struct ruleset *rs;
	struct pending *pd;
	bool add;
};

/* Whether this event's pending deletions hold element @e of set @name. */
static bool pending_del_has(const struct pending *pd, const char *name, const struct rs_elem *e)
{
	const struct rs_delta *ph = &pd->ph[PH_DEL_ELEMS];

	for (size_t i = 0; i < ph->n_ops; i++) {
		bool found = false;

		if (strcmp(ph->ops[i].set->name, name) == 0)
			(void) set_elem_search(ph->ops[i].set, e, &found);
		if (found)
			return true;
	}
	return false;
}

/*
 * A pod event: element additions and deletions.  Verdict map elements
 * are deleted with the pod leaving its class, and added only back where
 * this event deleted them (the pod stays in its class and keeps the
 * address): a pod that joins a class is dispatched by the trie.
 */
static int member_change_cb(void *ud, const char *set, const struct rs_elem *e)
{
	struct member_change *x = ud;

	if (!rs_desc_set(&x->rs->d, set))
		return -EINVAL; /* a digit set that should exist */
	if (x->add && rs_set_is_vmap(set) && !pending_del_has(x->pd, set, e))
		return 0;
	return elem_change(x->rs, x->pd, set, e, x->add);
}

static int member_change(struct ruleset *rs, struct pending *pd, const struct bctx *b,
			 const struct pod *p, enum netpol_dir d, const struct rs_class *cl,
			 bool add)
{
	struct member_change x = { .rs = rs, .pd = pd, .add = add };

	return member_elems(b, p, d, cl, member_change_cb, &x);
}

/* Digit sets for ids of @digits digits (a new class may need one more). */
static int digits_grow(struct ruleset *rs, struct pending *pd, enum netpol_dir d, unsigned digits)
{
	struct rs_classes *cs = &rs->d.cls[d];
	struct bctx b = { .rs = rs, .d = &rs->d };

	for (; cs->digits < digits; cs->digits++) {
		for (int f = 0; f < 2; f++) {
			for (unsigned v = 1; v < RS_DIGIT_VALUES; v++) {
				char name[RULESET_NAME_MAX];
				struct rs_set *s;
				int r;

				digit_set_name(name, sizeof(name), d, f, cs->digits, v);
				r = new_set(&b, name, f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
				if (!r)
					r = rs_delta_push_set(&pd->ph[PH_ADD_SET], RS_OP_ADD_SET, s,
							      false);
				if (r)
					return r;
			}
		}
	}
	return 0;
}

/* Local pod @p joins class @key of @d; a new class gets the lowest free
 * id, its chain, and marks the trie @dirty. */
static int class_join(struct ruleset *rs, struct pending *pd, const struct bctx *b,
		      enum netpol_dir d, const char *key, const struct pod *p, bool *dirty)
{
	struct rs_classes *cs = &rs->d.cls[d];
	struct rs_class *cl = class_find(cs, key);
	int r;

	if (!cl) {
		bool *used = calloc(cs->n + 1, sizeof(*used));
		struct rs_chain *ch = NULL;
		uint32_t id = 0;

		if (!used)
			return -ENOMEM;
		for (size_t i = 0; i < cs->n; i++)
			if (cs->v[i].id <= cs->n)
				used[cs->v[i].id] = true;
		while (used[id])
			id++;
		free(used);
		if (id >= RS_CLASSES_MAX)
			return -ERANGE; /* rs_compile_err() */
		r = class_chain_build(rs, d, key, &ch);
		if (!r && rs_desc_chain(&rs->d, ch->name))
			r = -EEXIST;
		if (!r)
			r = rs_delta_push_chain(&pd->ph[PH_ADD_CHAIN], RS_OP_ADD_CHAIN, ch);
		if (!r)
			r = rs_delta_push_chain(&pd->ph[PH_RULES], RS_OP_ADD_RULES, ch);
		if (!r)
			r = class_put(cs, key, ch->name, id, 0);
		if (!r) {
			r = rs_desc_put_chain(&rs->d, ch);
			ch = NULL;
		}
		rs_chain_free(ch);
		if (!r)
			r = digits_grow(rs, pd, d, id_digits(id));
		if (r)
			return r;
		*dirty = true;
		cl = class_find(cs, key);
	}
	cl->n_pods++;
	return member_change(rs, pd, b, p, d, cl, true);
}

/* Local pod @p leaves class @key of @d; the last one takes the class and
 * its chain along and marks the trie @dirty. */
static int class_leave(struct ruleset *rs, struct pending *pd, const struct bctx *b,
		       enum netpol_dir d, const char *key, const struct pod *p, bool *dirty)
{
	struct rs_classes *cs = &rs->d.cls[d];
	struct rs_class *cl = class_find(cs, key);
	const struct rs_chain *ch;
	int r;

	if (!cl)
		return -EINVAL; /* the description lost track of a member */
	r = member_change(rs, pd, b, p, d, cl, false);
	if (r || --cl->n_pods > 0)
		return r;
	ch = rs_desc_chain(&rs->d, cl->chain);
	if (ch) {
		r = rs_delta_push_chain(&pd->ph[PH_DEL_CHAIN], RS_OP_DEL_CHAIN, ch);
		if (r)
			return r;
		rs_desc_del_chain(&rs->d, ch->name);
	}
	class_del(cs, key);
	*dirty = true;
	return 0;
}

static int chain_del_rank_cb(const void *a, const void *b)
{
	const struct rs_chain *const *x = a, *const *y = b;
	int r = rs_chain_del_rank((*x)->name) - rs_chain_del_rank((*y)->name);

	return r ? r : strcmp((*x)->name, (*y)->name);
}

static bool rules_equal(const struct rs_chain *a, const struct rs_chain *b)
{
	if (a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (!rs_rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	return true;
}

/* The classes changed: rebuilds the tries and the base chains entering
 * them, and moves the kernel to them (new, replaced, deleted chains). */
static int dispatch_refresh(struct ruleset *rs, struct pending *pd)
{
	char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX];
	struct rs_desc t = { 0 };
	struct bctx b = { .rs = rs, .d = &t, .assume_owned = true };
	const struct rs_chain **gone = NULL;
	size_t n_gone = 0;
	int r = 0;

	for (int d = 0; !r && d < _NETPOL_DIR_MAX; d++)
		r = trie_build_all(&b, d, &rs->d.cls[d], roots[d]);
	if (!r)
		r = build_base_chains(&b, roots);
	/* Trie chains that go (before the new ones move out of @t). */
	if (!r) {
		gone = calloc(rs->d.n_chains + 1, sizeof(*gone));
		r = gone ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !r && i < rs->d.n_chains; i++)
		if (rs_chain_is_trie(rs->d.chains[i]->name) &&
		    !rs_desc_chain(&t, rs->d.chains[i]->name))
			gone[n_gone++] = rs->d.chains[i];
	for (size_t i = 0; !r && i < t.n_chains; i++) {
		struct rs_chain *nc = t.chains[i];
		const struct rs_chain *oc = rs_desc_chain(&rs->d, nc->name);

		if (oc && rules_equal(oc, nc))
			continue;
		if (!oc) {
			r = rs_delta_push_chain(&pd->ph[PH_ADD_CHAIN], RS_OP_ADD_CHAIN, nc);
			if (!r && nc->n_rules)
				r = rs_delta_push_chain(&pd->ph[PH_RULES], RS_OP_ADD_RULES, nc);
		} else {
			r = rs_delta_push_chain(&pd->ph[PH_RULES], RS_OP_REPLACE_RULES, nc);
			if (!r)
				rs_desc_del_chain(&rs->d, nc->name);
		}
		if (!r) {
			r = rs_desc_put_chain(&rs->d, nc);
			t.chains[i] = NULL;
		}
	}
	if (!r && n_gone)
		qsort(gone, n_gone, sizeof(*gone), chain_del_rank_cb);
	for (size_t i = 0; !r && i < n_gone; i++) {
		r = rs_delta_push_chain(&pd->ph[PH_DEL_TREE], RS_OP_DEL_CHAIN, gone[i]);
		if (!r)
			rs_desc_del_chain(&rs->d, gone[i]->name);
	}
	free(gone);
	/* Chains moved out are NULL now. */
	for (size_t i = 0; i < t.n_chains; i++)
		rs_chain_free(t.chains[i]);
	t.n_chains = 0;
	rs_desc_done(&t);
	return r;
}

static int local_update(struct ruleset *rs, struct pending *pd, struct cluster *c,
			const struct pod *oldp, const struct pod *newp, const char *ns)
{
	struct bctx b = { .rs = rs, .c = c, .assume_owned = true };
	const struct pod **local = NULL;
	size_t first, end, pf, pe;
	struct buf ko, kn;
	bool dirty = false;
	int r = 0;

	/* The pod's classes: set elements, unless a class comes or goes.
	 * (A pod event leaves the policies alone: the old pod's class is
	 * computed against the same policies.) */
	buf_init(&ko, 1 << 20);
	buf_init(&kn, 1 << 20);
	for (int d = 0; !r && d < _NETPOL_DIR_MAX; d++) {
		r = class_key(&b, oldp, d, &ko, false);
		if (!r)
			r = class_key(&b, newp, d, &kn, false);
		if (r)
			break;
		if (ko.len && kn.len && strcmp(ko.data, kn.data) == 0) {
			const struct rs_class *cl = class_find(&rs->d.cls[d], ko.data);

			if (!cl) {
				r = -EINVAL;
				break;
			}
			/* Same class: only its addresses may differ. */
			r = member_change(rs, pd, &b, oldp, d, cl, false);
			if (!r)
				r = member_change(rs, pd, &b, newp, d, cl, true);
			continue;
		}
		if (ko.len)
			r = class_leave(rs, pd, &b, d, ko.data, oldp, &dirty);
		if (!r && kn.len)
			r = class_join(rs, pd, &b, d, kn.data, newp, &dirty);
	}
	buf_done(&ko);
	buf_done(&kn);
	if (!r && dirty)
		r = dispatch_refresh(rs, pd);
	if (r)
		return r;
	/* Which policies of the namespace are active now. */
	ns_range(c, ns, &first, &end);
	cluster_policies_in_ns(c, ns, &pf, &pe);
	local = calloc(end - first + 1, sizeof(*local));
	if (!local)
		return -ENOMEM;
	for (size_t k = pf; !r && k < pe; k++) {
		const struct netpol *pol = &c->policies[k];

		for (int d = 0; !r && d < _NETPOL_DIR_MAX; d++) {
			char pname[RULESET_NAME_MAX];
			size_t n_local = 0;
			bool was;

			for (size_t i = first; i < end; i++)
				if (pod_is_local(&b, &c->pods[i]) &&
				    policy_isolates(pol, d, &c->pods[i]))
					local[n_local++] = &c->pods[i];
			r = ruleset_policy_chain_name(pname, sizeof(pname), pol->ns, pol->name, d);
			if (r)
				break;
			was = rs_desc_chain(&rs->d, pname) != NULL;
			if (n_local && !was)
				r = policy_activate(rs, pd, c, pol, d, local, n_local);
			else if (!n_local && was)
				r = policy_deactivate(rs, pd, pol, d);
			else if (n_local && d == NETPOL_INGRESS)
				r = policy_named_refresh(rs, pd, &b, pol, local, n_local);
		}
	}
	free(local);
	return r;
}

/* Replaces pod @ns/@name of the shadow cluster with @newp (a copy). */
static int shadow_update(struct ruleset *rs, const char *ns, const char *name,
			 const struct pod *newp)
{
	struct cluster tmp = { .n_pods = 1 }, *one = NULL;
	int r;

	if (!newp) {
		(void) cluster_pod_remove(rs->shadow, ns, name);
		return 0;
	}
	tmp.pods = (struct pod *) newp;
	r = cluster_copy(&tmp, &one);
	if (r < 0)
		return r;
	r = cluster_pod_put(rs->shadow, &one->pods[0]);
	one->n_pods = 0;
	cluster_free(one);
	return r < 0 ? r : 0;
}

int ruleset_update_pod(struct ruleset *rs, struct cluster *c, const char *ns, const char *name,
		       struct rs_delta **ret, struct bh_err *reterr)
{
	const struct pod *oldp = cluster_pod_find(rs->shadow, ns, name);
	const struct pod *newp = cluster_pod_find(c, ns, name);
	struct pending pd = { 0 };
	struct collect co[2] = { 0 }; /* old, new */
	struct bctx bo, bn;
	struct ns_info nio, nin;
	char key[600];
	int r;

	(void) snprintf(key, sizeof(key), "%s/%s", ns, name);
	/* Shared addresses change who owns what elsewhere: recompile. */
	if (owners_conflict(&rs->owners, oldp, key, true) ||
	    owners_conflict(&rs->owners, newp, key, false))
		return ruleset_update_all(rs, c, ret, reterr);
	for (int i = 0; i < 4; i++) {
		co[0].sets[i].key = co[1].sets[i].key = i == 0 ? RS_KEY_ADDR4 :
							i == 1 ? RS_KEY_ADDR6 :
							i == 2 ? RS_KEY_ADDR4_PROTO_PORT :
								 RS_KEY_ADDR6_PROTO_PORT;
	}
	r = mini_bctx(&bo, &nio, rs, rs->shadow, ns);
	if (!r)
		r = mini_bctx(&bn, &nin, rs, c, ns);
	for (size_t i = 0; !r && i < rs->d.n_defs; i++) {
		const struct rs_setdef *def = &rs->d.defs[i];
		const struct netpol *pol = cluster_policy_find(rs->shadow, def->pns, def->pname);

		if (!pol)
			continue;
		for (int k = 0; k < 2; k++)
			for (int s = 0; s < 4; s++)
				tmpset_reset(&co[k].sets[s]);
		if (oldp)
			r = pod_contrib(&bo, pol, def->dir, def->rule, oldp, collect_cb, &co[0]);
		if (!r && newp)
			r = pod_contrib(&bn, pol, def->dir, def->rule, newp, collect_cb, &co[1]);
		for (int f = 0; !r && f < 2; f++) {
			int s = (def->named ? 2 : 0) + f;

			set_finish(&co[0].sets[s]);
			set_finish(&co[1].sets[s]);
			r = elems_apply(rs, &pd, def->name[f], &co[0].sets[s], &co[1].sets[s]);
		}
	}
	if (!r && ((oldp && pod_is_local(&bo, oldp)) || (newp && pod_is_local(&bn, newp))))
		r = local_update(rs, &pd, c, oldp, newp, ns);
	/* The shadow and the owners follow the cluster. */
	if (!r && oldp)
		for (size_t k = 0; k < oldp->n_ips; k++)
			owner_del(&rs->owners, &oldp->ips[k]);
	if (!r && newp && pod_known(newp))
		for (size_t k = 0; !r && k < newp->n_ips; k++)
			r = owner_put(&rs->owners, &newp->ips[k], key);
	if (!r)
		r = shadow_update(rs, ns, name, newp);
	if (!r)
		r = pending_finish(&pd, ret);
	if (!r)
		(void) rs_delta_fit(&rs->d, *ret);
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < 4; s++)
			tmpset_done(&co[k].sets[s]);
	labels_done(&nio.synth);
	labels_done(&nin.synth);
	pending_done(&pd);
	if (r < 0) {
		char what[sizeof(key) + 16];

		(void) snprintf(what, sizeof(what), "update: pod '%s'", key);
		return rs_compile_err(rs->node, r, what, reterr);
	}
	return 0;
}
