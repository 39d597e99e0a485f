/* RFC 3339 timestamps, as Kubernetes and flows.json write them. */
#ifndef BH_RFC3339_H
#define BH_RFC3339_H

#include <stddef.h>
#include <stdint.h>

#define RFC3339_STR_MAX 32

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) to unix seconds (fractions
 * dropped, offsets applied); -EINVAL for anything else. */
int rfc3339_parse(const char *s, int64_t *ret);
/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) into @buf; returns @buf. */
const char *rfc3339_format(int64_t t, char *buf, size_t len);
/* Unix nanoseconds as "YYYY-MM-DDTHH:MM:SS.fffZ" with @digits (0 to 9)
 * digits of fraction, truncated (none and no '.' for 0), into @buf;
 * returns @buf, or NULL when the time cannot be written (out of
 * gmtime_r()'s range, or @len too small). */
const char *rfc3339_format_ns(int64_t ns, unsigned digits, char *buf, size_t len);

#endif
