/*
 * Durations (duration.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "bh.h"
#include "duration.h"

const char *duration_format(uint64_t sec, char *buf, size_t len)
{
	static const struct {
		char unit;
		uint64_t sec;
	} units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 } };

	for (size_t i = 0; i < BH_ARRAY_SIZE(units); i++) {
		if (sec && sec % units[i].sec == 0) {
			(void) snprintf(buf, len, "%" PRIu64 "%c", sec / units[i].sec,
					units[i].unit);
			return buf;
		}
	}
	(void) snprintf(buf, len, "%" PRIu64 "s", sec);
	return buf;
}

int duration_parse(const char *s, uint64_t *ret)
{
	uint64_t total = 0;
	bool units = false;

	if (!*s)
		return -EINVAL;
	while (*s) {
		uint64_t v = 0, mult;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t) (*s - '0');
		}
		switch (*s) {
		case '\0':
			/* Plain seconds, but "1h30" is a missing unit. */
			if (units)
				return -EINVAL;
			mult = 1;
			break;
		case 'd':
			mult = 86400;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'm':
			mult = 60;
			break;
		case 's':
			mult = 1;
			break;
		default:
			return -EINVAL;
		}
		if (*s)
			s++, units = true;
		if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return -ERANGE;
		total += v * mult;
	}
	*ret = total;
	return 0;
}
