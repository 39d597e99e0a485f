#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "jsubset.h"

struct jp {
	const char *s;
	size_t len, pos;
	int err; /* -EDOM or -ENOMEM once failed */
};

static bool jp_ws_char(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len && jp_ws_char(p->s[p->pos]))
		p->pos++;
}

/* True when the token ending at p->pos is followed by a delimiter, as
 * jansson's lexer requires ("1x" and "truex" are errors). */
static bool jp_delim(const struct jp *p)
{
	char c;

	if (p->pos >= p->len)
		return true;
	c = p->s[p->pos];
	return jp_ws_char(c) || c == ',' || c == ']' || c == '}' || c == ':';
}

static json_t *jp_fail(struct jp *p, int err)
{
	if (!p->err)
		p->err = err;
	return NULL;
}

/* At '"': the string's bytes, which must be printable ASCII without a
 * backslash; *ret_len its length.  p->pos ends past the closing quote. */
static const char *jp_string(struct jp *p, size_t *ret_len)
{
	size_t start = ++p->pos;

	for (; p->pos < p->len; p->pos++) {
		unsigned char c = (unsigned char) p->s[p->pos];

		if (c == '"') {
			*ret_len = p->pos - start;
			p->pos++;
			return p->s + start;
		}
		if (c < 0x20 || c >= 0x7f || c == '\\')
			break;
	}
	p->err = -EDOM;
	return NULL;
}

static json_t *jp_value(struct jp *p, unsigned depth);

static json_t *jp_object(struct jp *p, unsigned depth)
{
	json_t *o = json_object(), *v;
	const char *key;
	size_t klen;

	if (!o)
		return jp_fail(p, -ENOMEM);
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return o;
	}
	for (;;) {
		if (p->pos >= p->len || p->s[p->pos] != '"')
			goto fail;
		key = jp_string(p, &klen);
		if (!key)
			goto fail;
		/* jansson's JSON_REJECT_DUPLICATES: an error, so left to it. */
		if (json_object_getn(o, key, klen))
			goto fail;
		jp_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			goto fail;
		p->pos++;
		jp_ws(p);
		v = jp_value(p, depth + 1);
		if (!v)
			goto fail;
		if (json_object_setn_new_nocheck(o, key, klen, v) < 0) {
			p->err = -ENOMEM;
			goto fail;
		}
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			jp_ws(p);
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			return o;
		}
		goto fail;
	}
fail:
	json_decref(o);
	return jp_fail(p, -EDOM);
}

static json_t *jp_array(struct jp *p, unsigned depth)
{
	json_t *a = json_array(), *v;

	if (!a)
		return jp_fail(p, -ENOMEM);
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return a;
	}
	for (;;) {
		v = jp_value(p, depth + 1);
		if (!v)
			goto fail;
		if (json_array_append_new(a, v) < 0) {
			p->err = -ENOMEM;
			goto fail;
		}
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			jp_ws(p);
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			return a;
		}
		goto fail;
	}
fail:
	json_decref(a);
	return jp_fail(p, -EDOM);
}

/* -?(0|[1-9][0-9]*) of at most 18 digits, so it cannot overflow; reals
 * and longer integers are jansson's. */
static json_t *jp_integer(struct jp *p)
{
	size_t start = p->pos, digits = 0;
	bool neg = p->s[p->pos] == '-';
	json_int_t n = 0;
	json_t *v;

	if (neg)
		p->pos++;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		/* Past 18 digits the value is jansson's: stop before overflowing. */
		if (++digits > 18)
			return jp_fail(p, -EDOM);
		n = n * 10 + (p->s[p->pos] - '0');
		p->pos++;
	}
	if (digits == 0 || (digits > 1 && p->s[start + neg] == '0') || !jp_delim(p))
		return jp_fail(p, -EDOM);
	v = json_integer(neg ? -n : n);
	return v ? v : jp_fail(p, -ENOMEM);
}

static json_t *jp_literal(struct jp *p, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return jp_fail(p, -EDOM);
	p->pos += n;
	if (!jp_delim(p))
		return jp_fail(p, -EDOM);
	return v;
}

static json_t *jp_value(struct jp *p, unsigned depth)
{
	const char *s;
	size_t n;
	json_t *v;

	if (depth > JSUBSET_DEPTH_MAX || p->pos >= p->len)
		return jp_fail(p, -EDOM);
	switch (p->s[p->pos]) {
	case '{':
		return jp_object(p, depth);
	case '[':
		return jp_array(p, depth);
	case '"':
		s = jp_string(p, &n);
		if (!s)
			return NULL;
		v = json_stringn_nocheck(s, n);
		return v ? v : jp_fail(p, -ENOMEM);
	case 't':
		return jp_literal(p, "true", json_true());
	case 'f':
		return jp_literal(p, "false", json_false());
	case 'n':
		return jp_literal(p, "null", json_null());
	default:
		if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return jp_integer(p);
		return jp_fail(p, -EDOM);
	}
}

int jsubset_parse(const char *s, size_t len, json_t **ret)
{
	struct jp p = { .s = s, .len = len };
	json_t *v;

	jp_ws(&p);
	v = jp_value(&p, 0);
	if (!v)
		return p.err ? p.err : -EDOM;
	jp_ws(&p);
	if (p.pos != len) {
		json_decref(v);
		return -EDOM;
	}
	*ret = v;
	return 0;
}
