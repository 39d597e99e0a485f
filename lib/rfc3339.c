#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rfc3339.h"

static int parse_2(const char *s, int *ret)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	*ret = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): timegm() per timestamp was a measurable share of
 * reading a large file, and this needs no time zone machinery. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).  Fractions are
 * dropped; offsets are applied.  Hand-written because strptime() does not
 * handle the offset forms portably.
 */
int rfc3339_parse(const char *s, int64_t *ret)
{
	int y1, y2, mon, day, h, min, sec, oh = 0, om = 0, sign = 0;
	const char *p;

	if (strlen(s) < 20)
		return -EINVAL;
	if (parse_2(s, &y1) || parse_2(s + 2, &y2) || s[4] != '-' || parse_2(s + 5, &mon) ||
	    s[7] != '-' || parse_2(s + 8, &day) || (s[10] != 'T' && s[10] != 't') ||
	    parse_2(s + 11, &h) || s[13] != ':' || parse_2(s + 14, &min) || s[16] != ':' ||
	    parse_2(s + 17, &sec))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (parse_2(p + 1, &oh) || p[3] != ':' || parse_2(p + 4, &om) || oh > 23 || om > 59)
			return -EINVAL;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || min > 59 || sec > 60)
		return -EINVAL;
	*ret = days_from_civil(y1 * 100 + y2, mon, day) * 86400 + h * 3600 + min * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

/* @sec as "YYYY-MM-DDTHH:MM:SS" into @buf; false when gmtime_r() cannot
 * represent it or @buf is too short. */
static bool format_sec(int64_t sec, char *buf, size_t len)
{
	time_t tt = (time_t) sec;
	struct tm tm;

	return (int64_t) tt == sec && gmtime_r(&tt, &tm) &&
	       strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) != 0;
}

const char *rfc3339_format(int64_t t, char *buf, size_t len)
{
	char s[RFC3339_STR_MAX];

	if (!format_sec(t, s, sizeof(s)) || snprintf(buf, len, "%sZ", s) >= (int) len)
		(void) snprintf(buf, len, "1970-01-01T00:00:00Z");
	return buf;
}

const char *rfc3339_format_ns(int64_t ns, unsigned digits, char *buf, size_t len)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	char s[RFC3339_STR_MAX];
	int n;

	if (frac < 0) /* floor: before 1970 the fraction counts up too */
		sec--, frac += 1000000000;
	if (digits > 9)
		digits = 9;
	for (unsigned i = digits; i < 9; i++)
		frac /= 10;
	if (!format_sec(sec, s, sizeof(s)))
		return NULL;
	if (digits == 0)
		n = snprintf(buf, len, "%sZ", s);
	else
		n = snprintf(buf, len, "%s.%0*" PRId64 "Z", s, (int) digits, frac);
	if (n < 0 || (size_t) n >= len)
		return NULL;
	return buf;
}
