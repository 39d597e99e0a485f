/*
 * A JSON scanner that finds value boundaries without building anything:
 * the one walker of a large top-level array (a snapshot List's items, a
 * flows file's flows) element by element, each element then parsed by
 * jansson on its own.  It only has to be right for valid JSON: whatever
 * it steps over is either parsed by jansson afterwards or, when the
 * scanner refuses it, handed to a reader that reports the error.
 *
 *	json_scan_ws(sc);
 *	if (!json_scan_is(sc, '['))
 *		...;
 *	for (r = json_scan_arr_open(sc); r > 0; r = json_scan_arr_next(sc)) {
 *		(the element at sc->pos: parse it, or json_scan_value())
 *	}
 *	if (r < 0) (neither ',' nor ']' after an element, at sc->pos)
 */
#ifndef BH_JSON_SCAN_H
#define BH_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

struct json_scan {
	const char *s;
	size_t len, pos;
};

/* jansson's whitespace (and RFC 8259's). */
static inline bool json_scan_is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static inline void json_scan_ws(struct json_scan *sc)
{
	while (sc->pos < sc->len && json_scan_is_ws(sc->s[sc->pos]))
		sc->pos++;
}

/* Whether the byte at sc->pos is @c (false at the end). */
static inline bool json_scan_is(const struct json_scan *sc, char c)
{
	return sc->pos < sc->len && sc->s[sc->pos] == c;
}

/* At '"': past the closing quote; false when the string does not end. */
bool json_scan_string(struct json_scan *sc);
/* Past one value: a string, an object or array (brackets counted,
 * strings skipped), or a scalar up to the next delimiter; false when
 * there is none or it does not end. */
bool json_scan_value(struct json_scan *sc);
/* At '[': past it and the whitespace after.  1 when an element follows
 * (at sc->pos), 0 when the array was empty (past its ']'). */
int json_scan_arr_open(struct json_scan *sc);
/* After an element: past the whitespace and the ',' and whitespace
 * after it, 1 (the next element at sc->pos); past the ']', 0; -EBADMSG
 * when neither follows (sc->pos at the byte at fault). */
int json_scan_arr_next(struct json_scan *sc);

#endif
