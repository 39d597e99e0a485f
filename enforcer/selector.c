#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"
#include "vec.h"

static const char *const op_names[_SELECTOR_OP_MAX] = {
	[SELECTOR_OP_IN] = "In",
	[SELECTOR_OP_NOT_IN] = "NotIn",
	[SELECTOR_OP_EXISTS] = "Exists",
	[SELECTOR_OP_DOES_NOT_EXIST] = "DoesNotExist",
};

void selector_init(struct selector *s)
{
	*s = (struct selector){ 0 };
	labels_init(&s->match_labels);
}

static void req_done(struct selector_req *r)
{
	for (size_t i = 0; i < r->n_values; i++)
		free(r->values[i]);
	free(r->values);
	free(r->key);
}

void selector_done(struct selector *s)
{
	labels_done(&s->match_labels);
	for (size_t i = 0; i < s->n_reqs; i++)
		req_done(&s->reqs[i]);
	free(s->reqs);
	selector_init(s);
}

bool selector_is_empty(const struct selector *s)
{
	return s->match_labels.n == 0 && s->n_reqs == 0;
}

static bool in_values(const struct selector_req *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool selector_matches(const struct selector *s, const struct labels *l)
{
	for (size_t i = 0; i < s->match_labels.n; i++) {
		const char *v = labels_get(l, s->match_labels.v[i].key);

		if (!v || strcmp(v, s->match_labels.v[i].value) != 0)
			return false;
	}
	for (size_t i = 0; i < s->n_reqs; i++) {
		const struct selector_req *r = &s->reqs[i];
		const char *v = labels_get(l, r->key);

		switch (r->op) {
		case SELECTOR_OP_IN:
			if (!v || !in_values(r, v))
				return false;
			break;
		case SELECTOR_OP_NOT_IN:
			if (v && in_values(r, v))
				return false;
			break;
		case SELECTOR_OP_EXISTS:
			if (!v)
				return false;
			break;
		case SELECTOR_OP_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

int selector_req_add(struct selector *s, const char *key, enum selector_op op,
		     const char *const *values, size_t n)
{
	struct selector_req r = { .op = op }, *nr;

	if (op >= _SELECTOR_OP_MAX)
		return -EINVAL;
	if ((op == SELECTOR_OP_IN || op == SELECTOR_OP_NOT_IN) ? n == 0 : n != 0)
		return -EINVAL;
	r.key = strdup(key);
	if (!r.key)
		return -ENOMEM;
	if (n) {
		r.values = calloc(n, sizeof(*r.values));
		if (!r.values)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			r.values[i] = strdup(values[i]);
			r.n_values = i + 1;
			if (!r.values[i])
				goto oom;
		}
	}
	nr = vec_grow(s->reqs, &s->cap_reqs, s->n_reqs + 1, sizeof(*nr));
	if (!nr)
		goto oom;
	s->reqs = nr;
	s->reqs[s->n_reqs++] = r;
	return 0;

oom:
	req_done(&r);
	return -ENOMEM;
}

static bool req_equal(const struct selector_req *a, const struct selector_req *b)
{
	if (a->op != b->op || a->n_values != b->n_values || strcmp(a->key, b->key) != 0)
		return false;
	for (size_t i = 0; i < a->n_values; i++)
		if (strcmp(a->values[i], b->values[i]) != 0)
			return false;
	return true;
}

bool selector_equal(const struct selector *a, const struct selector *b)
{
	if (a->n_reqs != b->n_reqs || !labels_equal(&a->match_labels, &b->match_labels))
		return false;
	for (size_t i = 0; i < a->n_reqs; i++)
		if (!req_equal(&a->reqs[i], &b->reqs[i]))
			return false;
	return true;
}

int selector_copy(struct selector *dst, const struct selector *src)
{
	int r;

	selector_init(dst);
	r = labels_copy(&dst->match_labels, &src->match_labels);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->n_reqs; i++) {
		const struct selector_req *q = &src->reqs[i];

		r = selector_req_add(dst, q->key, q->op, (const char *const *) q->values,
				     q->n_values);
		if (r < 0) {
			selector_done(dst);
			return r;
		}
	}
	return 0;
}

int selector_op_parse(const char *s, enum selector_op *ret)
{
	for (size_t i = 0; i < _SELECTOR_OP_MAX; i++)
		if (s && strcmp(s, op_names[i]) == 0) {
			*ret = (enum selector_op) i;
			return 0;
		}
	return -EINVAL;
}

const char *selector_op_name(enum selector_op op)
{
	return op < _SELECTOR_OP_MAX ? op_names[op] : NULL;
}
