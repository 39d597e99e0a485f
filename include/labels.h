/* Kubernetes label sets: sorted by key, keys unique. */
#ifndef BH_LABELS_H
#define BH_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "bh.h"

struct label {
	char *key; /* owned */
	char *value; /* owned */
};

struct labels {
	size_t n;
	struct label *v; /* owned, sorted by key */
	size_t cap; /* elements allocated at v; 0 when not known (grown anew) */
};

void labels_init(struct labels *l);
void labels_done(struct labels *l);
/* Adds or replaces @key (both strings are copied).  0 or -ENOMEM. */
int labels_set(struct labels *l, const char *key, const char *value) BH_MUST_CHECK;
/* Removes @key; returns 1 if it was there, 0 otherwise. */
int labels_unset(struct labels *l, const char *key);
/* Borrowed value, or NULL when the key is absent. */
const char *labels_get(const struct labels *l, const char *key);
/* Deep copy into an initialised, empty @dst.  0 or -ENOMEM. */
int labels_copy(struct labels *dst, const struct labels *src) BH_MUST_CHECK;
bool labels_equal(const struct labels *a, const struct labels *b);

#endif
