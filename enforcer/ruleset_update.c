/*
 * Incremental updates: the difference between two descriptions as the
 * smallest batch that moves the kernel from one to the other (set
 * elements where possible, a chain's rules when they changed, objects
 * created and deleted in an order the kernel accepts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset_int.h"
#include "vec.h"

struct rs_delta *rs_delta_free(struct rs_delta *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n_ops; i++) {
		rs_set_free(d->ops[i].set);
		rs_chain_free(d->ops[i].chain);
	}
	free(d->ops);
	free(d);
	return NULL;
}

bool rs_delta_is_full(const struct rs_delta *d)
{
	return d && d->full;
}

size_t rs_delta_size(const struct rs_delta *d)
{
	size_t n = 0;

	if (!d)
		return 0;
	for (size_t i = 0; i < d->n_ops; i++) {
		const struct rs_op *op = &d->ops[i];

		if (op->kind == RS_OP_ADD_ELEMS || op->kind == RS_OP_DEL_ELEMS)
			n += op->set->n_elems ? op->set->n_elems : 1;
		else if (op->kind == RS_OP_ADD_SET)
			n += 1 + op->set->n_elems;
		else if (op->kind == RS_OP_ADD_RULES || op->kind == RS_OP_REPLACE_RULES)
			n += op->chain->n_rules;
		else
			n++;
	}
	return n;
}

/* Takes ownership of @set and @chain (freed on failure). */
int rs_delta_push(struct rs_delta *d, enum rs_op_kind kind, struct rs_set *set,
		  struct rs_chain *chain)
{
	if (d->n_ops == d->cap_ops) {
		struct rs_op *v = vec_grow(d->ops, &d->cap_ops, d->n_ops + 1, sizeof(*v));

		if (!v) {
			rs_set_free(set);
			rs_chain_free(chain);
			return -ENOMEM;
		}
		d->ops = v;
	}
	d->ops[d->n_ops++] = (struct rs_op){ .kind = kind, .set = set, .chain = chain };
	return 0;
}

int rs_delta_push_set(struct rs_delta *d, enum rs_op_kind kind, const struct rs_set *s,
		      bool with_elems)
{
	struct rs_set *c;
	int r = rs_set_dup(s, with_elems, &c);

	return r < 0 ? r : rs_delta_push(d, kind, c, NULL);
}

int rs_delta_push_chain(struct rs_delta *d, enum rs_op_kind kind, const struct rs_chain *ch)
{
	struct rs_chain *c;
	int r = rs_chain_dup(ch, &c);

	return r < 0 ? r : rs_delta_push(d, kind, NULL, c);
}

static bool chain_equal(const struct rs_chain *a, const struct rs_chain *b)
{
	if (a->n_rules != b->n_rules || !a->hook != !b->hook ||
	    (a->hook && strcmp(a->hook, b->hook) != 0))
		return false;
	for (size_t i = 0; i < a->n_rules; i++)
		if (!rs_rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	return true;
}

/* Elements of @a missing from @b (both sorted) into a copy of @a's header. */
static int elems_minus(const struct rs_set *a, const struct rs_set *b, struct rs_set **ret)
{
	struct rs_set *out;
	size_t j = 0;
	int r = rs_set_dup(a, false, &out);

	if (r < 0)
		return r;
	for (size_t i = 0; i < a->n_elems; i++) {
		int c = 1;

		while (j < b->n_elems && (c = rs_elem_cmp(&b->elems[j], &a->elems[i])) < 0)
			j++;
		if (j < b->n_elems && c == 0)
			continue;
		r = rs_set_elem_add(out, &a->elems[i]);
		if (r < 0) {
			rs_set_free(out);
			return r;
		}
	}
	*ret = out;
	return 0;
}

static bool elems_equal(const struct rs_set *a, const struct rs_set *b)
{
	if (a->n_elems != b->n_elems)
		return false;
	for (size_t i = 0; i < a->n_elems; i++)
		if (rs_elem_cmp(&a->elems[i], &b->elems[i]) != 0)
			return false;
	return true;
}

static int del_rank_cb(const void *a, const void *b)
{
	const struct rs_chain *const *x = a, *const *y = b;
	int r = rs_chain_del_rank((*x)->name) - rs_chain_del_rank((*y)->name);

	return r ? r : strcmp((*x)->name, (*y)->name);
}

/* Chains of @o missing from @n, referrers first (a chain still jumped to
 * cannot be deleted, even later in the same batch). */
static int chains_del(const struct rs_desc *o, const struct rs_desc *n, struct rs_delta *d)
{
	const struct rs_chain **v = calloc(o->n_chains + 1, sizeof(*v));
	size_t k = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_chains; i++)
		if (!rs_desc_chain(n, o->chains[i]->name))
			v[k++] = o->chains[i];
	qsort(v, k, sizeof(*v), del_rank_cb);
	for (size_t i = 0; !r && i < k; i++)
		r = rs_delta_push_chain(d, RS_OP_DEL_CHAIN, v[i]);
	free(v);
	return r;
}

/* The ops that turn @o into @n (see the order in the file comment). */
static int desc_diff(const struct rs_desc *o, const struct rs_desc *n, struct rs_delta *d)
{
	int r = 0;

	for (size_t i = 0; !r && i < n->n_chains; i++) {
		const struct rs_chain *oc = rs_desc_chain(o, n->chains[i]->name);

		if (!oc)
			r = rs_delta_push_chain(d, RS_OP_ADD_CHAIN, n->chains[i]);
		else if (!oc->hook != !n->chains[i]->hook)
			d->full = true;
	}
	for (size_t i = 0; !r && i < n->n_sets; i++) {
		const struct rs_set *ns = n->sets[i], *os = rs_desc_set(o, ns->name);

		if (!os) {
			r = rs_delta_push_set(d, RS_OP_ADD_SET, ns, true);
			continue;
		}
		if (os->key != ns->key || os->flags != ns->flags) {
			d->full = true;
			continue;
		}
		if (elems_equal(os, ns))
			continue;
		if (ns->flags & RS_SET_INTERVAL) {
			/* Intervals are replaced whole: flush, then add. */
			r = rs_delta_push_set(d, RS_OP_DEL_ELEMS, ns, false);
			if (!r)
				r = rs_delta_push_set(d, RS_OP_ADD_ELEMS, ns, true);
			continue;
		}
		{
			struct rs_set *add;

			r = elems_minus(ns, os, &add);
			if (!r && add->n_elems)
				r = rs_delta_push(d, RS_OP_ADD_ELEMS, add, NULL);
			else
				rs_set_free(add);
		}
	}
	for (size_t i = 0; !r && i < n->n_sets; i++) {
		const struct rs_set *ns = n->sets[i], *os = rs_desc_set(o, ns->name);
		struct rs_set *del;

		if (!os || (ns->flags & RS_SET_INTERVAL) || os->key != ns->key ||
		    os->flags != ns->flags)
			continue;
		r = elems_minus(os, ns, &del);
		if (!r && del->n_elems)
			r = rs_delta_push(d, RS_OP_DEL_ELEMS, del, NULL);
		else
			rs_set_free(del);
	}
	for (size_t i = 0; !r && i < n->n_chains; i++) {
		const struct rs_chain *oc = rs_desc_chain(o, n->chains[i]->name);

		if (!oc)
			r = n->chains[i]->n_rules ?
				    rs_delta_push_chain(d, RS_OP_ADD_RULES, n->chains[i]) :
				    0;
		else if (!chain_equal(oc, n->chains[i]))
			r = rs_delta_push_chain(d, RS_OP_REPLACE_RULES, n->chains[i]);
	}
	r = r ? r : chains_del(o, n, d);
	for (size_t i = 0; !r && i < o->n_sets; i++)
		if (!rs_desc_set(n, o->sets[i]->name))
			r = rs_delta_push_set(d, RS_OP_DEL_SET, o->sets[i], false);
	return r;
}

int rs_delta_fit(struct rs_desc *d, struct rs_delta *delta)
{
	if (!delta)
		return 0;
	/* Sets an update created (their size was not known while it ran). */
	for (size_t i = 0; !delta->full && i < delta->n_ops; i++) {
		struct rs_op *op = &delta->ops[i];
		struct rs_set *s;

		if (op->kind != RS_OP_ADD_SET)
			continue;
		s = rs_desc_set(d, op->set->name);
		if (s && !s->size)
			s->size = rs_set_size_fit(s);
		op->set->size = s ? s->size : rs_set_size_fit(op->set);
	}
	if (!delta->full && rs_delta_overflows(d, delta))
		delta->full = true;
	if (!delta->full)
		return 0;
	/* The table is replaced: every set is created again, fitted to what
	 * it holds now, and the ops are moot. */
	for (size_t i = 0; i < delta->n_ops; i++) {
		rs_set_free(delta->ops[i].set);
		rs_chain_free(delta->ops[i].chain);
	}
	delta->n_ops = 0;
	rs_desc_fit_sizes(d);
	return 1;
}

int rs_delta_append(struct rs_delta **into, struct rs_delta *more)
{
	struct rs_delta *d = *into;

	if (!more)
		return 0;
	if (!d) {
		*into = more;
		return 0;
	}
	if (d->full || more->full) {
		/* A full replace sends the whole ruleset as it is at the
		 * commit: the ops of either are moot. */
		for (size_t i = 0; i < more->n_ops; i++) {
			rs_set_free(more->ops[i].set);
			rs_chain_free(more->ops[i].chain);
		}
		more->n_ops = 0;
		rs_delta_free(more);
		for (size_t i = 0; i < d->n_ops; i++) {
			rs_set_free(d->ops[i].set);
			rs_chain_free(d->ops[i].chain);
		}
		d->n_ops = 0;
		d->full = true;
		return 0;
	}
	if (d->cap_ops - d->n_ops < more->n_ops) {
		struct rs_op *v;

		if (d->n_ops + more->n_ops < d->n_ops)
			return -ENOMEM;
		v = vec_grow(d->ops, &d->cap_ops, d->n_ops + more->n_ops, sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->ops = v;
	}
	memcpy(d->ops + d->n_ops, more->ops, more->n_ops * sizeof(*more->ops));
	d->n_ops += more->n_ops;
	more->n_ops = 0;
	rs_delta_free(more);
	return 0;
}

struct rs_delta *rs_delta_new_full(void)
{
	struct rs_delta *d = calloc(1, sizeof(*d));

	if (d)
		d->full = true;
	return d;
}

int ruleset_delta_fit(struct ruleset *rs, struct rs_delta *d)
{
	return rs_delta_fit(&rs->d, d);
}

void ruleset_refit_sizes(struct ruleset *rs)
{
	rs_desc_fit_sizes(&rs->d);
}

static int update_all(struct ruleset *rs, struct cluster *c, bool fill_maps, struct rs_delta **ret,
		      struct bh_err *reterr)
{
	struct rs_desc nd = { 0 };
	struct owner_map owners = { 0 };
	struct rs_delta *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return bh_err_oom(reterr);
	r = ruleset_compile(rs, c, &rs->d, fill_maps, &nd);
	/* The sets the kernel keeps keep the size they were created with. */
	for (size_t i = 0; !r && i < nd.n_sets; i++) {
		const struct rs_set *os = rs_desc_set(&rs->d, nd.sets[i]->name);

		if (os && os->key == nd.sets[i]->key && os->flags == nd.sets[i]->flags)
			nd.sets[i]->size = os->size;
	}
	if (!r)
		r = desc_diff(&rs->d, &nd, d);
	if (!r)
		(void) rs_delta_fit(&nd, d);
	if (!r)
		r = rs_owners_build(&owners, c);
	if (r < 0) {
		rs_owners_done(&owners);
		rs_desc_done(&nd);
		rs_delta_free(d);
		return rs_compile_err(rs->node, r, "update: compiling", reterr);
	}
	rs_desc_done(&rs->d);
	rs->d = nd;
	rs_owners_done(&rs->owners);
	rs->owners = owners;
	if (!d->full && d->n_ops == 0)
		d = rs_delta_free(d);
	*ret = d;
	return 0;
}

int ruleset_update_all(struct ruleset *rs, struct cluster *c, struct rs_delta **ret,
		       struct bh_err *reterr)
{
	return update_all(rs, c, false, ret, reterr);
}

int ruleset_update_maps(struct ruleset *rs, struct cluster *c, struct rs_delta **ret,
			struct bh_err *reterr)
{
	return update_all(rs, c, true, ret, reterr);
}

int ruleset_update_policy(struct ruleset *rs, struct cluster *c, const char *ns, const char *name,
			  struct rs_delta **ret, struct bh_err *reterr)
{
	(void) ns;
	(void) name;
	return ruleset_update_all(rs, c, ret, reterr);
}

int ruleset_update_namespace(struct ruleset *rs, struct cluster *c, const char *name,
			     struct rs_delta **ret, struct bh_err *reterr)
{
	(void) name;
	return ruleset_update_all(rs, c, ret, reterr);
}

static const char *const op_name[] = {
	[RS_OP_ADD_CHAIN] = "add chain",     [RS_OP_ADD_SET] = "add set",
	[RS_OP_ADD_ELEMS] = "add element",   [RS_OP_DEL_ELEMS] = "delete element",
	[RS_OP_ADD_RULES] = "add rules",     [RS_OP_REPLACE_RULES] = "replace rules",
	[RS_OP_FLUSH_CHAIN] = "flush chain", [RS_OP_DEL_CHAIN] = "delete chain",
	[RS_OP_DEL_SET] = "delete set",
};

int rs_delta_text(const struct rs_delta *d, const struct ruleset *rs, struct buf *out)
{
	int r = 0;

	(void) rs;
	if (!d)
		return buf_printf(out, "# no change\n");
	if (d->full)
		return buf_printf(out, "# full replace\n");
	for (size_t i = 0; !r && i < d->n_ops; i++) {
		const struct rs_op *op = &d->ops[i];

		if (op->set && (op->kind == RS_OP_ADD_ELEMS || op->kind == RS_OP_DEL_ELEMS)) {
			if (op->set->n_elems == 0)
				r = buf_printf(out, "flush set %s\n", op->set->name);
			for (size_t k = 0; !r && k < op->set->n_elems; k++) {
				r = buf_printf(out, "%s %s { ", op_name[op->kind], op->set->name);
				if (!r)
					r = rs_elem_text(op->set, &op->set->elems[k], out);
				if (!r)
					r = buf_printf(out, " }\n");
			}
		} else if (op->set) {
			r = buf_printf(out, "%s %s\n", op_name[op->kind], op->set->name);
		} else {
			r = buf_printf(out, "%s %s\n", op_name[op->kind], op->chain->name);
			for (size_t k = 0;
			     !r &&
			     (op->kind == RS_OP_ADD_RULES || op->kind == RS_OP_REPLACE_RULES) &&
			     k < op->chain->n_rules;
			     k++) {
				r = buf_printf(out, "\t");
				if (!r)
					r = rs_rule_text(&op->chain->rules[k], out);
				if (!r)
					r = buf_printf(out, "\n");
			}
		}
	}
	return r;
}
