/*
 * Classes of local pods and the dispatch trie in front of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ruleset_class.h"
#include "ruleset_interval.h"
#include "ruleset_names.h"
#include "ruleset_policy.h"
#include "vec.h"

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

void rs_digit_set_name(char *buf, size_t len, enum netpol_dir d, int fam, unsigned digit,
		       unsigned v)
{
	(void) snprintf(buf, len, "%s/d%u.%u", iso_sets[d][fam], digit, v);
}

static unsigned id_digit(uint32_t id, unsigned j)
{
	return (id >> (RS_DIGIT_BITS * j)) & (RS_DIGIT_VALUES - 1);
}

/* Digits needed for ids up to @max_id. */
unsigned rs_id_digits(uint32_t max_id)
{
	unsigned n = 0;

	while (max_id) {
		n++;
		max_id >>= RS_DIGIT_BITS;
	}
	return n;
}

struct rs_class *rs_class_find(const struct rs_classes *cs, const char *key)
{
	size_t i;

	return rs_name_map_get(&cs->idx, key, &i) ? &cs->v[i] : NULL;
}

int rs_class_put(struct rs_classes *cs, const char *key, const char *chain, uint32_t id,
		 size_t n_pods)
{
	struct rs_class *c;

	if (cs->n == cs->cap) {
		struct rs_class *v = vec_grow(cs->v, &cs->cap, cs->n + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		cs->v = v;
	}
	c = &cs->v[cs->n];
	*c = (struct rs_class){ .id = id, .n_pods = n_pods };
	c->key = strdup(key);
	c->chain = strdup(chain);
	if (!c->key || !c->chain || rs_name_map_put(&cs->idx, c->key, cs->n) < 0) {
		free(c->key);
		free(c->chain);
		return -ENOMEM;
	}
	cs->n++;
	return 0;
}

void rs_class_del(struct rs_classes *cs, const char *key)
{
	size_t i;

	if (!rs_name_map_get(&cs->idx, key, &i))
		return;
	rs_name_map_del(&cs->idx, key);
	free(cs->v[i].key);
	free(cs->v[i].chain);
	cs->v[i] = cs->v[--cs->n];
	if (i < cs->n)
		(void) rs_name_map_put(&cs->idx, cs->v[i].key, i); /* exists: no alloc */
}

/* A cluster policy or a proposal policy in enforce isolates @p for @d. */
static bool enforced_isolates(const struct bctx *b, const struct pod *p, enum netpol_dir d)
{
	size_t pf, pe;

	cluster_policies_in_ns(b->c, p->ns, &pf, &pe);
	for (size_t i = pf; i < pe; i++) {
		const struct netpol *pol = &b->c->policies[i];

		if (pol->origin != NETPOL_ORIGIN_PREVIEW && policy_isolates(pol, d, p))
			return true;
	}
	return false;
}

bool rs_class_has_policy(const struct bctx *b, const struct netpol *pol, enum netpol_dir d,
			 const struct pod *p)
{
	if (!policy_isolates(pol, d, p))
		return false;
	return pol->origin != NETPOL_ORIGIN_PREVIEW || !enforced_isolates(b, p, d);
}

/*
 * The class key of pod @p for @d into @k ("" when @p is not a local pod
 * isolated for @d): its namespace, then the name of every policy of its
 * class (rs_class_has_policy()) in policy order, then RS_CLASS_PREVIEW
 * when they are proposal policies in preview (the class's final verdict
 * is then log + accept whatever the ruleset's mode: the key, so the
 * chain's name and its log prefix, says which verdict it has).  With
 * @mark, those policies become active.
 */
int rs_class_key(struct bctx *b, const struct pod *p, enum netpol_dir d, struct buf *k, bool mark)
{
	size_t pf, pe;
	bool any = false, enforced;
	int r;

	buf_reset(k);
	r = buf_printf(k, "%s", "");
	if (r || !p || !pod_is_local(b, p))
		return r;
	enforced = enforced_isolates(b, p, d);
	cluster_policies_in_ns(b->c, p->ns, &pf, &pe);
	for (size_t i = pf; i < pe; i++) {
		const struct netpol *pol = &b->c->policies[i];

		if (!policy_isolates(pol, d, p) ||
		    (enforced && pol->origin == NETPOL_ORIGIN_PREVIEW))
			continue;
		if (!any)
			r = buf_printf(k, "%s", p->ns);
		if (!r)
			r = buf_printf(k, "\n%s", pol->name);
		if (!r && mark)
			r = rs_active_mark(b, pol, d);
		if (r)
			return r;
		any = true;
	}
	if (any && !enforced)
		r = buf_printf(k, "\n%s", RS_CLASS_PREVIEW);
	return r;
}

static uint64_t class_hash(enum netpol_dir d, const char *key)
{
	return hash_str(key, d == NETPOL_INGRESS ? 0x636c6969 : 0x636c6565);
}

static int class_chain_name(char *buf, size_t len, enum netpol_dir d, const char *key)
{
	size_t nl = strcspn(key, "\n");

	return rs_make_name(buf, len, "c%s/%.*s/%016llx", dir_letter(d), (int) nl, key,
			    (unsigned long long) class_hash(d, key));
}

/* "bh:D:NS:H", or "bh:D:#" + FNV-1a of "NS:H" when that is too long. */
const char *rs_class_prefix(enum netpol_dir d, const char *key, char *buf, size_t len)
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
			(unsigned long long) rs_fnv1a(full));
	return buf;
}

/* The chain of class @key: a jump to each policy chain, the final verdict
 * (log + accept when the ruleset is in preview or the key ends in
 * RS_CLASS_PREVIEW, else drop). */
int rs_class_chain_build(const struct ruleset *rs, enum netpol_dir d, const char *key,
			 struct rs_chain **ret)
{
	char name[RULESET_NAME_MAX], prefix[RULESET_PREFIX_MAX];
	struct rs_chain *ch = calloc(1, sizeof(*ch));
	size_t nl = strcspn(key, "\n");
	bool preview = false;
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
		if (strcmp(pn, RS_CLASS_PREVIEW) == 0) {
			preview = true;
			continue;
		}
		r = ruleset_policy_chain_name(target, sizeof(target), ns, pn, d);
		if (!r)
			r = rs_add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL,
					RS_VERDICT_JUMP, target);
	}
	if (!r)
		r = rs_final_verdict(rs, ch, rs_class_prefix(d, key, prefix, sizeof(prefix)), d,
				     preview);
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
	j = (rs_id_digits(cl[lo]->id ^ cl[hi - 1]->id) - 1);
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
	r = rs_new_chain(b, ret, NULL, &ch);
	for (unsigned v = 1; !r && v < RS_DIGIT_VALUES; v++) {
		if (!has[v] || v == dflt)
			continue;
		for (int f = 0; !r && f < 2; f++) {
			char set[RULESET_NAME_MAX];

			rs_digit_set_name(set, sizeof(set), d, f, j, v);
			r = rs_add_rule(ch, RS_RULE_ADDR, f ? AF_INET6 : AF_INET,
					d == NETPOL_INGRESS, set, NULL, NULL, RS_VERDICT_GOTO,
					child[v]);
		}
	}
	if (!r)
		r = rs_add_rule(ch, RS_RULE_VERDICT, 0, false, NULL, NULL, NULL, RS_VERDICT_GOTO,
				child[dflt]);
	return r;
}

/* The trie of the classes of @cs into b->d; @ret: its entry ("" when
 * there is no class). */
int rs_trie_build_all(struct bctx *b, enum netpol_dir d, const struct rs_classes *cs,
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

int rs_member_elems(const struct bctx *b, const struct pod *p, enum netpol_dir d,
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
			rs_digit_set_name(set, sizeof(set), d, f, k, id_digit(id, k));
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
			(void) rs_set_elem_search(ps, e, &found);
		if (!found)
			return 0;
	}
	return s ? rs_set_push(s, e) : -EINVAL;
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
int rs_build_classes(struct bctx *b, enum netpol_dir d, const struct rs_desc *prev_desc)
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
		r = rs_class_key(b, p, d, &k, true);
		if (r)
			goto out;
		if (!k.len)
			continue;
		if (n == cap) {
			struct member *v = vec_grow(m, &cap, n + 1, sizeof(*v));

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
			pc = prev ? rs_class_find(prev, m[i].key) : NULL;
			if (pass == 0 && pc && !used[pc->id]) {
				id = pc->id;
			} else if (pass == 1 && !rs_class_find(cs, m[i].key)) {
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
				r = rs_class_put(cs, m[i].key, chain, id, cnt);
			if (r)
				goto out;
			i += cnt - 1;
		}
	}
	if (max_id >= RS_CLASSES_MAX) {
		r = -ERANGE; /* rs_compile_err() */
		goto out;
	}
	cs->digits = rs_id_digits(max_id);
	for (int f = 0; f < 2; f++) {
		struct rs_set *s;

		r = rs_new_set(b, iso_sets[d][f], f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
		if (!r)
			r = rs_new_set(b, vmap_sets[d][f], f ? RS_KEY_ADDR6 : RS_KEY_ADDR4,
				       RS_SET_VMAP, &s);
		for (unsigned j = 0; !r && j < cs->digits; j++) {
			for (unsigned v = 1; !r && v < RS_DIGIT_VALUES; v++) {
				char name[RULESET_NAME_MAX];

				rs_digit_set_name(name, sizeof(name), d, f, j, v);
				r = rs_new_set(b, name, f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
			}
		}
		if (r)
			goto out;
	}
	for (size_t i = 0; i < cs->n; i++) {
		struct rs_chain *ch;

		r = rs_class_chain_build(b->rs, d, cs->v[i].key, &ch);
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

		r = rs_member_elems(b, m[i].p, d, rs_class_find(cs, m[i].key), push_member_cb, &x);
		if (r)
			goto out;
	}
	for (int f = 0; f < 2; f++) {
		rs_set_finish(rs_desc_set(b->d, iso_sets[d][f]));
		rs_set_finish(rs_desc_set(b->d, vmap_sets[d][f]));
		for (unsigned j = 0; j < cs->digits; j++) {
			for (unsigned v = 1; v < RS_DIGIT_VALUES; v++) {
				char name[RULESET_NAME_MAX];

				rs_digit_set_name(name, sizeof(name), d, f, j, v);
				rs_set_finish(rs_desc_set(b->d, name));
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
