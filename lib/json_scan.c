#include <errno.h>
#include <string.h>

#include "json_scan.h"

/* A backslash always escapes the next byte, so an escaped quote does not
 * end the string: a quote ends it after an even run of backslashes. */
bool json_scan_string(struct json_scan *sc)
{
	const char *s = sc->s;
	size_t i = sc->pos + 1;

	for (;;) {
		const char *q;
		size_t bs = 0;

		if (i > sc->len)
			return false;
		q = memchr(s + i, '"', sc->len - i);
		if (!q)
			return false;
		i = (size_t) (q - s);
		while (bs < i - sc->pos - 1 && s[i - 1 - bs] == '\\')
			bs++;
		i++;
		if (bs % 2 == 0)
			break;
	}
	sc->pos = i;
	return true;
}

bool json_scan_value(struct json_scan *sc)
{
	size_t depth = 0;

	if (sc->pos >= sc->len)
		return false;
	if (sc->s[sc->pos] == '"')
		return json_scan_string(sc);
	if (sc->s[sc->pos] != '{' && sc->s[sc->pos] != '[') {
		size_t start = sc->pos;

		while (sc->pos < sc->len && !json_scan_is_ws(sc->s[sc->pos]) &&
		       !strchr(",:]}[{\"", sc->s[sc->pos]))
			sc->pos++;
		return sc->pos > start;
	}
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c == '"') {
			if (!json_scan_string(sc))
				return false;
			continue;
		}
		sc->pos++;
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return true;
		}
	}
	return false;
}

int json_scan_arr_open(struct json_scan *sc)
{
	sc->pos++; /* '[' */
	json_scan_ws(sc);
	if (json_scan_is(sc, ']')) {
		sc->pos++;
		return 0;
	}
	return 1;
}

int json_scan_arr_next(struct json_scan *sc)
{
	json_scan_ws(sc);
	if (json_scan_is(sc, ',')) {
		sc->pos++;
		json_scan_ws(sc);
		return 1;
	}
	if (json_scan_is(sc, ']')) {
		sc->pos++;
		return 0;
	}
	return -EBADMSG;
}
