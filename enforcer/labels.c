#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "vec.h"

void labels_init(struct labels *l)
{
	*l = (struct labels){ 0 };
}

void labels_done(struct labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	labels_init(l);
}

/* Index of @key, or of where it would be inserted with *found false. */
static size_t labels_search(const struct labels *l, const char *key, bool *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].key, key);

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

int labels_set(struct labels *l, const char *key, const char *value)
{
	bool found;
	size_t i = labels_search(l, key, &found);
	char *v = strdup(value), *k;
	struct label *nv;

	if (!v)
		return -ENOMEM;
	if (found) {
		free(l->v[i].value);
		l->v[i].value = v;
		return 0;
	}
	k = strdup(key);
	nv = vec_grow(l->v, &l->cap, l->n + 1, sizeof(*nv));
	if (!k || !nv) {
		free(k);
		free(v);
		if (nv)
			l->v = nv;
		return -ENOMEM;
	}
	l->v = nv;
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*nv));
	l->v[i] = (struct label){ .key = k, .value = v };
	l->n++;
	return 0;
}

int labels_unset(struct labels *l, const char *key)
{
	bool found;
	size_t i = labels_search(l, key, &found);

	if (!found)
		return 0;
	free(l->v[i].key);
	free(l->v[i].value);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
	return 1;
}

const char *labels_get(const struct labels *l, const char *key)
{
	bool found;
	size_t i = labels_search(l, key, &found);

	return found ? l->v[i].value : NULL;
}

int labels_copy(struct labels *dst, const struct labels *src)
{
	labels_init(dst);
	if (src->n == 0)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	dst->cap = dst->v ? src->n : 0;
	if (!dst->v)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i].key = strdup(src->v[i].key);
		dst->v[i].value = strdup(src->v[i].value);
		dst->n = i + 1;
		if (!dst->v[i].key || !dst->v[i].value) {
			labels_done(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}
