/* NULL-tolerant string helpers for the optional fields of the model. */
#ifndef BH_STR_H
#define BH_STR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A copy of @s (caller owns it), or NULL when @s is NULL.  Sets *@failed
 * when the copy cannot be allocated and leaves it alone otherwise, so that
 * a run of copies is checked once.
 */
char *str_dup_opt(const char *s, bool *failed);

/*
 * *@dst = a NUL-terminated copy of the @n bytes at @src (which may hold
 * NULs: certificate data), owned by the caller; nothing when @src is NULL.
 * 0 or -ENOMEM.
 */
int str_memdup(char **dst, const char *src, size_t n);

/* Whether @a and @b are both NULL or equal strings. */
bool str_eq_opt(const char *a, const char *b);

#endif
