/*
 * A hash map from byte strings to pointers, for the tables that are not hot
 * paths (names, owners, keys of watched objects).  Open addressing with
 * linear probing over lib/hash.c's hash_bytes(); removal leaves a tombstone,
 * so removing the entry an iteration is on is safe.  Growth is
 * overflow-checked.
 *
 * Ownership: keys are borrowed (the caller keeps each key alive and
 * unchanged while its entry is in the map, typically by pointing into the
 * value; never NULL: "" is the key of length 0); values are borrowed
 * pointers the map never frees.
 */
#ifndef BH_HMAP_H
#define BH_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bh.h"

struct hmap_slot {
	const void *key; /* NULL: never used */
	size_t len;
	uint64_t hash;
	void *val;
	bool tomb; /* removed; counts as used until the next growth */
};

struct hmap {
	struct hmap_slot *slots; /* owned */
	size_t cap; /* a power of two, or 0 */
	size_t n; /* live entries */
	size_t used; /* live entries and tombstones */
	uint64_t seed;
};

/* @seed: 0 for a deterministic map, hash_seed_random() for one fed by
 * outside input. */
void hmap_init(struct hmap *m, uint64_t seed);
/* Frees the slots (not keys or values); the map is empty and reusable. */
void hmap_free(struct hmap *m);
/* Room for @n live entries (a put may still rebuild the table to drop
 * tombstones): 0, -EOVERFLOW, -ENOMEM. */
int hmap_reserve(struct hmap *m, size_t n) BH_MUST_CHECK;
/* Maps @key to @val, replacing the value (and the borrowed key pointer) of
 * an entry with an equal key: 0 when added, 1 when replaced, -EOVERFLOW,
 * -ENOMEM (the map is unchanged on failure). */
int hmap_put(struct hmap *m, const void *key, size_t len, void *val) BH_MUST_CHECK;
int hmap_put_str(struct hmap *m, const char *key, void *val) BH_MUST_CHECK;
/* The live entry of @key, or NULL.  Its val may be changed in place; the
 * pointer is valid until the next hmap_put or hmap_reserve. */
struct hmap_slot *hmap_find(const struct hmap *m, const void *key, size_t len);
struct hmap_slot *hmap_find_str(const struct hmap *m, const char *key);
/* The value of @key, or NULL when absent (or mapped to NULL). */
void *hmap_get(const struct hmap *m, const void *key, size_t len);
void *hmap_get_str(const struct hmap *m, const char *key);
/* Removes @key's entry: true and its value in *@ret_val (may be NULL)
 * when there was one. */
bool hmap_remove(struct hmap *m, const void *key, size_t len, void **ret_val);
bool hmap_remove_str(struct hmap *m, const char *key, void **ret_val);
/* Removes the entry @s returned by hmap_find or hmap_next. */
void hmap_remove_slot(struct hmap *m, struct hmap_slot *s);
/* Iteration in slot order: start with *@it = 0; returns each live entry
 * once, then NULL.  Removing entries during an iteration is allowed, adding
 * is not. */
struct hmap_slot *hmap_next(const struct hmap *m, size_t *it);

#endif
