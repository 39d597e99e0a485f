/*
 * Durations as people write them: plain seconds ("90") or numbers with
 * units d, h, m, s, summed ("90s", "10m", "24h", "1h30m"), as the command
 * line's duration flags and the agent's configuration file take them.
 */
#ifndef BH_DURATION_H
#define BH_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses @s into seconds.  -EINVAL for a sign, a fraction, an unknown unit
 * or a number without a unit after a unit ("1h30"); -ERANGE on overflow. */
int duration_parse(const char *s, uint64_t *ret);

/* "366d", "90m", "45s": @sec in its largest whole unit, into @buf (also
 * returned), for messages. */
const char *duration_format(uint64_t sec, char *buf, size_t len);

#endif
