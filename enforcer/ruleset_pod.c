/*
 * The pod-event path: one pod added, changed or gone as the smallest
 * batch of kernel changes (ruleset_update_pod()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset_class.h"
#include "ruleset_compile.h"
#include "ruleset_interval.h"
#include "ruleset_names.h"
#include "ruleset_owner.h"
#include "ruleset_policy.h"

/*
 * A pod event touches: the shared pod-address sets (its membership), and
 * when the pod is on this node its own chains and map elements, which
 * policies of its namespace are active, and their ingress named-port
 * sets.  Nothing else depends on one pod, so the update evaluates only
 * these and leaves every other object alone.
 */

/* Could another pod claim one of @p's addresses (now or before)? */
static bool owners_conflict(const struct owner_map *m, const struct pod *p, const char *key,
			    bool was)
{
	for (size_t k = 0; p && pod_known(p) && k < p->n_ips; k++) {
		const struct owner_slot *sl = rs_owner_find(m, &p->ips[k]);

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

	return rs_set_push(&cl->sets[i], e);
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
	size_t i;
	int r;

	if (!rs_name_map_get(&d->def_idx, names[0], &i))
		return 0;
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
	rs_name_map_del(&d->def_idx, names[0]);
	free(d->defs[i].name[0]);
	free(d->defs[i].name[1]);
	free(d->defs[i].pns);
	free(d->defs[i].pname);
	d->defs[i] = d->defs[--d->n_defs];
	if (i < d->n_defs)
		(void) rs_name_map_put(&d->def_idx, d->defs[i].name[0], i);
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
		bool has_num = rs_rule_has_port(rule, false),
		     has_named = rs_rule_has_port(rule, true);
		bool peers_used = d == NETPOL_INGRESS || has_num || rule->n_ports == 0;
		char sh[2][RULESET_NAME_MAX];

		for (size_t k = 0; k < BH_ARRAY_SIZE(kinds); k++) {
			const struct rs_set *s;

			r = rs_policy_set_name(name, sizeof(name), pol, d, ri, kinds[k]);
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
		if (peers_used && rs_rule_has(rule, NETPOL_PEER_SELECTOR, 0)) {
			r = rs_shared_names(pol, rule, false, sh);
			if (!r)
				r = def_release(rs, pd, sh);
			if (r < 0)
				return r;
		}
		if (has_named && d == NETPOL_EGRESS) {
			r = rs_shared_names(pol, rule, true, sh);
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

	r = rs_bctx_init(&b, rs, c, &t);
	if (!r)
		r = rs_build_policy(&b, pol, d, local, n_local);
	rs_bctx_done(&b);
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
		char names[2][RULESET_NAME_MAX];
		size_t k;

		if (rs_name_map_get(&rs->d.def_idx, t.defs[i].name[0], &k)) {
			rs->d.defs[k].refs += t.defs[i].refs;
			continue;
		}
		memcpy(names[0], t.defs[i].name[0], strlen(t.defs[i].name[0]) + 1);
		memcpy(names[1], t.defs[i].name[1], strlen(t.defs[i].name[1]) + 1);
		r = rs_def_use(&rs->d, names, t.defs[i].named, pol, t.defs[i].dir, t.defs[i].rule);
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

		if (!rs_rule_has_port(rule, true))
			continue;
		for (int fam = 0; fam < 2; fam++) {
			struct rs_set tmp = { .key = fam ? RS_KEY_ADDR6_PROTO_PORT :
							   RS_KEY_ADDR4_PROTO_PORT };
			const struct rs_set *cur;
			char name[RULESET_NAME_MAX];
			int r = rs_policy_set_name(name, sizeof(name), pol, NETPOL_INGRESS, ri,
						   fam ? "named6" : "named4");

			cur = r ? NULL : rs_desc_set(&rs->d, name);
			if (!cur)
				continue;
			for (size_t k = 0; !r && k < n_local; k++)
				for (size_t j = 0; !r && j < local[k]->n_ips; j++)
					if (local[k]->ips[j].family == (fam ? AF_INET6 : AF_INET) &&
					    pod_owns_ip(b, local[k], j))
						r = rs_named_elems(rule, local[k],
								   &local[k]->ips[j], &tmp, false);
			rs_set_finish(&tmp);
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
			(void) rs_set_elem_search(ph->ops[i].set, e, &found);
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

	return rs_member_elems(b, p, d, cl, member_change_cb, &x);
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

				rs_digit_set_name(name, sizeof(name), d, f, cs->digits, v);
				r = rs_new_set(&b, name, f ? RS_KEY_ADDR6 : RS_KEY_ADDR4, 0, &s);
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
	struct rs_class *cl = rs_class_find(cs, key);
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
		r = rs_class_chain_build(rs, d, key, &ch);
		if (!r && rs_desc_chain(&rs->d, ch->name))
			r = -EEXIST;
		if (!r)
			r = rs_delta_push_chain(&pd->ph[PH_ADD_CHAIN], RS_OP_ADD_CHAIN, ch);
		if (!r)
			r = rs_delta_push_chain(&pd->ph[PH_RULES], RS_OP_ADD_RULES, ch);
		if (!r)
			r = rs_class_put(cs, key, ch->name, id, 0);
		if (!r) {
			r = rs_desc_put_chain(&rs->d, ch);
			ch = NULL;
		}
		rs_chain_free(ch);
		if (!r)
			r = digits_grow(rs, pd, d, rs_id_digits(id));
		if (r)
			return r;
		*dirty = true;
		cl = rs_class_find(cs, key);
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
	struct rs_class *cl = rs_class_find(cs, key);
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
	rs_class_del(cs, key);
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
		r = rs_trie_build_all(&b, d, &rs->d.cls[d], roots[d]);
	if (!r)
		r = rs_build_base_chains(&b, roots);
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
		r = rs_class_key(&b, oldp, d, &ko, false);
		if (!r)
			r = rs_class_key(&b, newp, d, &kn, false);
		if (r)
			break;
		if (ko.len && kn.len && strcmp(ko.data, kn.data) == 0) {
			const struct rs_class *cl = rs_class_find(&rs->d.cls[d], ko.data);

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
				    rs_class_has_policy(&b, pol, d, &c->pods[i]))
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

int ruleset_update_pod(struct ruleset *rs, struct cluster *c, const struct pod *oldp,
		       const struct pod *newp, struct rs_delta **ret, struct bh_err *reterr)
{
	const struct pod *id = newp ? newp : oldp;
	const char *ns = id ? id->ns : NULL, *name = id ? id->name : NULL;
	struct pending pd = { 0 };
	struct collect co[2] = { 0 }; /* old, new */
	struct bctx bo, bn;
	struct ns_info nio, nin;
	char key[600];
	int r;

	if (!id) {
		*ret = NULL;
		return 0;
	}
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
	/* The old pod is judged against the same namespace and policies as
	 * the new one: a pod event changes neither. */
	r = mini_bctx(&bo, &nio, rs, c, ns);
	if (!r)
		r = mini_bctx(&bn, &nin, rs, c, ns);
	for (size_t i = 0; !r && i < rs->d.n_defs; i++) {
		const struct rs_setdef *def = &rs->d.defs[i];
		const struct netpol *pol = cluster_policy_find(c, def->pns, def->pname);

		if (!pol)
			continue;
		for (int k = 0; k < 2; k++)
			for (int s = 0; s < 4; s++)
				tmpset_reset(&co[k].sets[s]);
		if (oldp)
			r = rs_pod_contrib(&bo, pol, def->dir, def->rule, oldp, collect_cb, &co[0]);
		if (!r && newp)
			r = rs_pod_contrib(&bn, pol, def->dir, def->rule, newp, collect_cb, &co[1]);
		for (int f = 0; !r && f < 2; f++) {
			int s = (def->named ? 2 : 0) + f;

			rs_set_finish(&co[0].sets[s]);
			rs_set_finish(&co[1].sets[s]);
			r = elems_apply(rs, &pd, def->name[f], &co[0].sets[s], &co[1].sets[s]);
		}
	}
	if (!r && ((oldp && pod_is_local(&bo, oldp)) || (newp && pod_is_local(&bn, newp))))
		r = local_update(rs, &pd, c, oldp, newp, ns);
	/* The owners follow the cluster. */
	if (!r && oldp)
		for (size_t k = 0; k < oldp->n_ips; k++)
			rs_owner_del(&rs->owners, &oldp->ips[k]);
	if (!r && newp && pod_known(newp))
		for (size_t k = 0; !r && k < newp->n_ips; k++)
			r = rs_owner_put(&rs->owners, &newp->ips[k], key);
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
