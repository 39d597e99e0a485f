/*
 * Kubernetes label selectors (metav1.LabelSelector): matchLabels and
 * matchExpressions with In, NotIn, Exists, DoesNotExist.  An empty selector
 * matches everything; whether a selector is present at all is the owner's
 * business (struct netpol_peer uses NULL for absent).
 */
#ifndef BH_SELECTOR_H
#define BH_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "labels.h"

enum selector_op {
	SELECTOR_OP_IN,
	SELECTOR_OP_NOT_IN,
	SELECTOR_OP_EXISTS,
	SELECTOR_OP_DOES_NOT_EXIST,
	_SELECTOR_OP_MAX,
};

struct selector_req {
	char *key; /* owned */
	enum selector_op op;
	size_t n_values;
	char **values; /* owned; empty for Exists / DoesNotExist */
};

struct selector {
	struct labels match_labels;
	size_t n_reqs;
	struct selector_req *reqs; /* owned */
	size_t cap_reqs; /* allocated at reqs; 0 when not known */
};

void selector_init(struct selector *s);
void selector_done(struct selector *s);
/* True when the selector has no requirement (it selects everything). */
bool selector_is_empty(const struct selector *s);
/*
 * Kubernetes semantics: every matchLabels pair and every expression must
 * hold.  NotIn and DoesNotExist hold when the key is absent.
 */
bool selector_matches(const struct selector *s, const struct labels *l);
/*
 * Appends an expression; @values (n of them) are copied.  -EINVAL when In or
 * NotIn has no value, or Exists/DoesNotExist has some (as the API server
 * validates).  0, -EINVAL or -ENOMEM.
 */
int selector_req_add(struct selector *s, const char *key, enum selector_op op,
		     const char *const *values, size_t n) BH_MUST_CHECK;
/* Equal requirement for requirement, in order (labels, keys, operators,
 * values): what selector_copy() gives.  Two selectors that select the same
 * set but are spelled differently are not equal. */
bool selector_equal(const struct selector *a, const struct selector *b);
/* Deep copy into an initialised, empty @dst. */
int selector_copy(struct selector *dst, const struct selector *src) BH_MUST_CHECK;
/* Exact Kubernetes spelling ("In", ...); -EINVAL for anything else. */
int selector_op_parse(const char *s, enum selector_op *ret);
const char *selector_op_name(enum selector_op op);

#endif
