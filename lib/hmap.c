#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hmap.h"

#define HMAP_MIN 16

void hmap_init(struct hmap *m, uint64_t seed)
{
	*m = (struct hmap){ .seed = seed };
}

void hmap_free(struct hmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
	m->used = 0;
}

static bool slot_is(const struct hmap_slot *s, const void *key, size_t len, uint64_t h)
{
	return !s->tomb && s->hash == h && s->len == len &&
	       (len == 0 || memcmp(s->key, key, len) == 0);
}

static struct hmap_slot *find(const struct hmap *m, const void *key, size_t len, uint64_t h)
{
	size_t mask = m->cap - 1;

	if (!m->cap)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (slot_is(s, key, len, h))
			return s;
	}
}

/* Rebuilds the table with @cap slots (a power of two above the live
 * count), dropping the tombstones. */
static int rehash(struct hmap *m, size_t cap)
{
	struct hmap_slot *t;

	if (cap > SIZE_MAX / sizeof(*t))
		return -EOVERFLOW;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct hmap_slot *s = &m->slots[i];
		size_t j;

		if (!s->key || s->tomb)
			continue;
		for (j = s->hash & (cap - 1); t[j].key; j = (j + 1) & (cap - 1))
			;
		t[j] = *s;
	}
	free(m->slots);
	m->slots = t;
	m->cap = cap;
	m->used = m->n;
	return 0;
}

/* The number of slots that holds @n used ones at a load of at most one
 * half: 0 on overflow. */
static size_t cap_for(size_t n)
{
	size_t cap = HMAP_MIN;

	if (n > SIZE_MAX / 2)
		return 0;
	while (cap < n * 2) {
		if (cap > SIZE_MAX / 2)
			return 0;
		cap *= 2;
	}
	return cap;
}

int hmap_reserve(struct hmap *m, size_t n)
{
	size_t cap = cap_for(n);

	if (!cap)
		return -EOVERFLOW;
	if (cap <= m->cap)
		return 0;
	return rehash(m, cap);
}

int hmap_put(struct hmap *m, const void *key, size_t len, void *val)
{
	uint64_t h = hash_bytes(key, len, m->seed);
	struct hmap_slot *s = find(m, key, len, h);
	size_t i;

	if (s) {
		s->key = key;
		s->val = val;
		return 1;
	}
	/* Tombstones count as used: keep the load at most one half.  The
	 * table doubles when over a quarter of it is live, else it is rebuilt
	 * at its size without the tombstones (a quarter of its slots of puts
	 * before the next rebuild either way). */
	if ((m->used + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap : HMAP_MIN;
		int r;

		if (m->n > SIZE_MAX / 8)
			return -EOVERFLOW;
		if ((m->n + 1) * 4 > cap) {
			if (cap > SIZE_MAX / 2)
				return -EOVERFLOW;
			cap *= 2;
		}
		r = rehash(m, cap);
		if (r < 0)
			return r;
	}
	for (i = h & (m->cap - 1); m->slots[i].key && !m->slots[i].tomb; i = (i + 1) & (m->cap - 1))
		;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct hmap_slot){ .key = key, .len = len, .hash = h, .val = val };
	m->n++;
	return 0;
}

int hmap_put_str(struct hmap *m, const char *key, void *val)
{
	return hmap_put(m, key, strlen(key), val);
}

struct hmap_slot *hmap_find(const struct hmap *m, const void *key, size_t len)
{
	return find(m, key, len, hash_bytes(key, len, m->seed));
}

struct hmap_slot *hmap_find_str(const struct hmap *m, const char *key)
{
	return hmap_find(m, key, strlen(key));
}

void *hmap_get(const struct hmap *m, const void *key, size_t len)
{
	struct hmap_slot *s = hmap_find(m, key, len);

	return s ? s->val : NULL;
}

void *hmap_get_str(const struct hmap *m, const char *key)
{
	return hmap_get(m, key, strlen(key));
}

void hmap_remove_slot(struct hmap *m, struct hmap_slot *s)
{
	s->tomb = true;
	s->val = NULL;
	m->n--;
}

bool hmap_remove(struct hmap *m, const void *key, size_t len, void **ret_val)
{
	struct hmap_slot *s = hmap_find(m, key, len);

	if (!s)
		return false;
	if (ret_val)
		*ret_val = s->val;
	hmap_remove_slot(m, s);
	return true;
}

bool hmap_remove_str(struct hmap *m, const char *key, void **ret_val)
{
	return hmap_remove(m, key, strlen(key), ret_val);
}

struct hmap_slot *hmap_next(const struct hmap *m, size_t *it)
{
	while (*it < m->cap) {
		struct hmap_slot *s = &m->slots[(*it)++];

		if (s->key && !s->tomb)
			return s;
	}
	return NULL;
}
