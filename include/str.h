/* NULL-tolerant string helpers for the optional fields of the model. */
#ifndef BH_STR_H
#define BH_STR_H

#include <stdbool.h>

/*
 * A copy of @s (caller owns it), or NULL when @s is NULL.  Sets *@failed
 * when the copy cannot be allocated and leaves it alone otherwise, so that
 * a run of copies is checked once.
 */
char *str_dup_opt(const char *s, bool *failed);

/* Whether @a and @b are both NULL or equal strings. */
bool str_eq_opt(const char *a, const char *b);

#endif
