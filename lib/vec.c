#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define VEC_MIN 8

void *vec_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap;
	void *np;

	if (need <= *cap && p)
		return p;
	if (size == 0 || need > SIZE_MAX / size) {
		errno = EOVERFLOW;
		return NULL;
	}
	if (ncap < VEC_MIN)
		ncap = VEC_MIN;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > SIZE_MAX / size)
		ncap = need; /* doubling would overflow; exactly enough does not */
	np = realloc(p, ncap * size);
	if (!np) {
		errno = ENOMEM;
		return NULL;
	}
	*cap = ncap;
	return np;
}

void vec_init(struct vec *v, size_t size)
{
	*v = VEC_INIT(size);
}

void vec_free(struct vec *v)
{
	free(v->data);
	v->data = NULL;
	v->len = 0;
	v->cap = 0;
}

int vec_reserve(struct vec *v, size_t extra)
{
	void *np;

	if (extra > SIZE_MAX - v->len)
		return -EOVERFLOW;
	if (v->len + extra <= v->cap && v->data)
		return 0;
	np = vec_grow(v->data, &v->cap, v->len + extra, v->size);
	if (!np)
		return -errno;
	v->data = np;
	return 0;
}

void *vec_push(struct vec *v)
{
	void *e;

	if (vec_reserve(v, 1) < 0)
		return NULL;
	e = (char *) v->data + v->len * v->size;
	memset(e, 0, v->size);
	v->len++;
	return e;
}

int vec_append(struct vec *v, const void *elem)
{
	int r = vec_reserve(v, 1);

	if (r < 0)
		return r;
	memcpy((char *) v->data + v->len * v->size, elem, v->size);
	v->len++;
	return 0;
}

void *vec_at(const struct vec *v, size_t i)
{
	assert(i < v->len);
	return (char *) v->data + i * v->size;
}

void *vec_steal(struct vec *v)
{
	void *p = v->data;

	v->data = NULL;
	v->len = 0;
	v->cap = 0;
	return p;
}
