#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

char *str_dup_opt(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

int str_memdup(char **dst, const char *src, size_t n)
{
	if (!src)
		return 0;
	*dst = malloc(n + 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n);
	(*dst)[n] = '\0';
	return 0;
}

bool str_eq_opt(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
