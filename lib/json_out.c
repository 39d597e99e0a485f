#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json_out.h"
#include "rfc3339.h"

void json_out_init(struct json_out *w, struct buf *b)
{
	*w = (struct json_out){ .b = b };
}

int json_out_error(const struct json_out *w)
{
	return w->err;
}

static void put(struct json_out *w, const void *p, size_t n)
{
	struct buf *b = w->b;

	if (w->err)
		return;
	if (b->data && b->cap - b->len > n) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	w->err = buf_append(b, p, n);
}

static void newline_flush(struct json_out *w)
{
	if (w->newline) {
		w->newline = false;
		put(w, "\n", 1);
	}
}

/* Before a value or a key: the comma after a previous member, then the
 * line break asked for. */
static void sep(struct json_out *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->more & (UINT64_C(1) << (w->depth - 1)))
			put(w, ",", 1);
		else
			w->more |= UINT64_C(1) << (w->depth - 1);
	}
	newline_flush(w);
}

static void open_container(struct json_out *w, char c)
{
	sep(w);
	if (w->depth >= JSON_OUT_DEPTH_MAX) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put(w, &c, 1);
	w->more &= ~(UINT64_C(1) << w->depth);
	w->depth++;
}

static void close_container(struct json_out *w, char c)
{
	if (w->depth == 0 || w->after_key) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	w->depth--;
	newline_flush(w);
	put(w, &c, 1);
}

void json_out_obj_begin(struct json_out *w)
{
	open_container(w, '{');
}

void json_out_obj_end(struct json_out *w)
{
	close_container(w, '}');
}

void json_out_arr_begin(struct json_out *w)
{
	open_container(w, '[');
}

void json_out_arr_end(struct json_out *w)
{
	close_container(w, ']');
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 when
 * the bytes there are not one (overlong forms, surrogates and code points
 * past U+10FFFF included, as RFC 3629 says). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static int escape_slow(struct buf *b, const char *s, size_t n);

/* Bytes that end a run copied as they are: '"', '\\', controls, non-ASCII. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

int json_escape_append(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t k = 0;

	/* Names, addresses and label values are plain ASCII nearly always:
	 * one reservation and one copy. */
	while (k < n && plain(u[k]))
		k++;
	if (k == n && n < SIZE_MAX - 3 && buf_reserve(b, n + 2) == 0) {
		char *d = b->data + b->len;

		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		b->len += n + 2;
		b->data[b->len] = '\0';
		return 0;
	}
	return escape_slow(b, s, n);
}

static int escape_slow(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *) s;
	size_t run = 0; /* bytes of p[i - run .. i) to copy as they are */
	size_t start = b->len;
	int r;

	r = buf_append(b, "\"", 1);
	for (size_t i = 0; r == 0 && i < n;) {
		unsigned char c = p[i];
		char esc[6] = { '\\', 0 };
		size_t elen = 2, ul;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++, i++;
			continue;
		}
		if (c >= 0x80 && (ul = utf8_len(p + i, n - i)) > 0) {
			run += ul, i += ul;
			continue;
		}
		if (run)
			r = buf_append(b, p + i - run, run);
		run = 0;
		if (r < 0)
			break;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char) c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			if (c < 0x20) {
				esc[1] = 'u', esc[2] = '0', esc[3] = '0';
				esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
				elen = 6;
			} else {
				/* Not UTF-8: the replacement character. */
				r = buf_append(b, "\xef\xbf\xbd", 3);
				i++;
				continue;
			}
		}
		r = buf_append(b, esc, elen);
		i++;
	}
	if (r == 0 && run)
		r = buf_append(b, p + n - run, run);
	if (r == 0)
		r = buf_append(b, "\"", 1);
	if (r < 0 && b->data) {
		/* Nothing of a string that did not fit. */
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}

void json_out_key(struct json_out *w, const char *k)
{
	sep(w);
	if (!w->err)
		w->err = json_escape_append(w->b, k, strlen(k));
	put(w, ":", 1);
	w->after_key = true;
}

void json_out_strn(struct json_out *w, const char *s, size_t n)
{
	sep(w);
	if (!w->err)
		w->err = json_escape_append(w->b, s, n);
}

void json_out_str(struct json_out *w, const char *s)
{
	json_out_strn(w, s, strlen(s));
}

void json_out_uint(struct json_out *w, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	sep(w);
	put(w, d + i, sizeof(d) - i);
}

void json_out_int(struct json_out *w, int64_t v)
{
	if (v >= 0) {
		json_out_uint(w, (uint64_t) v);
		return;
	}
	char d[21];
	uint64_t u = (uint64_t) - (v + 1) + 1; /* in range for INT64_MIN too */
	size_t i = sizeof(d);

	do {
		d[--i] = (char) ('0' + u % 10);
		u /= 10;
	} while (u);
	d[--i] = '-';
	sep(w);
	put(w, d + i, sizeof(d) - i);
}

void json_out_bool(struct json_out *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_out_null(struct json_out *w)
{
	sep(w);
	put(w, "null", 4);
}

void json_out_time(struct json_out *w, int64_t t)
{
	/* Flows written together share their seconds: format each once. */
	if (!w->time_ok || w->time_sec != t) {
		(void) rfc3339_format(t, w->time_s, sizeof(w->time_s));
		w->time_sec = t;
		w->time_ok = true;
	}
	json_out_str(w, w->time_s);
}

void json_out_newline(struct json_out *w)
{
	w->newline = true;
}
