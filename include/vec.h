/*
 * A growable array of fixed-size elements with overflow-checked growth, for
 * the tables that are not hot paths (the hot ones, flow_table and capture,
 * keep their own layouts).
 *
 * Two forms share one growth rule (double, at least 8 elements, every size
 * computation checked for overflow):
 *   - struct vec, an array that knows its element size;
 *   - vec_grow(), for a typed array kept as a pointer and a capacity in a
 *     struct of its own (struct foo *v; size_t n, cap;), so a caller keeps
 *     its types and its field names.
 */
#ifndef BH_VEC_H
#define BH_VEC_H

#include <stddef.h>

#include "bh.h"

struct vec {
	void *data; /* owned; NULL until the first growth */
	size_t len; /* elements in use */
	size_t cap; /* elements allocated */
	size_t size; /* bytes per element, set by vec_init() */
};

#define VEC_INIT(elem_size) ((struct vec){ .size = (elem_size) })

void vec_init(struct vec *v, size_t size);
/* Frees the storage (not what the elements point to); the vector is empty
 * and may be reused with the same element size. */
void vec_free(struct vec *v);
/* Room for @extra more elements past v->len: 0, -EOVERFLOW when the size
 * in bytes does not fit a size_t, -ENOMEM.  Nothing changes on failure. */
int vec_reserve(struct vec *v, size_t extra) BH_MUST_CHECK;
/* Appends one zeroed element and returns it (valid until the next growth),
 * or NULL (-ENOMEM or -EOVERFLOW: the vector is unchanged). */
void *vec_push(struct vec *v) BH_MUST_CHECK;
/* Appends a copy of the @v->size bytes at @elem: 0, -EOVERFLOW, -ENOMEM. */
int vec_append(struct vec *v, const void *elem) BH_MUST_CHECK;
/* The element at @i (no bounds check beyond an assert). */
void *vec_at(const struct vec *v, size_t i);
/* Hands the storage to the caller and empties the vector. */
void *vec_steal(struct vec *v);

/* For a typed array @p with capacity *@cap (in elements of @size bytes):
 * makes room for at least @need elements.  Returns the (possibly moved)
 * array, with *@cap updated, or NULL with @p untouched and errno set to
 * ENOMEM or EOVERFLOW.  Typical use:
 *
 *	if (s->n == s->cap) {
 *		struct foo *v = vec_grow(s->v, &s->cap, s->n + 1, sizeof(*v));
 *		if (!v)
 *			return -ENOMEM;
 *		s->v = v;
 *	}
 */
void *vec_grow(void *p, size_t *cap, size_t need, size_t size) BH_MUST_CHECK;

#endif
