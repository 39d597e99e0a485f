/*
 * A streaming JSON writer into a struct buf: the one JSON string escaper
 * and the one hand-written JSON emitter of the project (jansson builds
 * trees; this writes large documents a value at a time without one).
 *
 * The writer tracks nesting and puts the commas; the caller says what
 * comes next.  Errors are sticky: the first failure of the buffer (-ENOMEM,
 * or -E2BIG past the buffer's bound) is kept in @err and every later call
 * does nothing, so a document is written with no check per value and one
 * json_out_error() at the end.  Not thread-safe; the buffer is borrowed.
 *
 * Strings are written as UTF-8: valid multi-byte sequences pass through,
 * '"', '\\' and control characters are escaped (\n, \t, ... or \u00XX), and
 * a byte that is not part of valid UTF-8 becomes U+FFFD, so the output is
 * always valid JSON whatever the input bytes.
 */
#ifndef BH_JSON_OUT_H
#define BH_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSON_OUT_DEPTH_MAX 64

struct json_out {
	struct buf *b; /* borrowed */
	int err; /* first error, 0 while none */
	unsigned depth;
	uint64_t more; /* bit d: the container at depth d has a member */
	bool after_key; /* a key was written, its value comes next */
	bool newline; /* a line break before the next value or closing bracket */
	bool time_ok; /* time_s holds time_sec formatted (RFC 3339) */
	int64_t time_sec;
	char time_s[32];
};

/* Starts writing into @b (appending to what it holds). */
void json_out_init(struct json_out *w, struct buf *b);

void json_out_obj_begin(struct json_out *w);
void json_out_obj_end(struct json_out *w);
void json_out_arr_begin(struct json_out *w);
void json_out_arr_end(struct json_out *w);

/* A member name inside an object; its value is the next call. */
void json_out_key(struct json_out *w, const char *k);

void json_out_str(struct json_out *w, const char *s);
void json_out_strn(struct json_out *w, const char *s, size_t n);
void json_out_int(struct json_out *w, int64_t v);
void json_out_uint(struct json_out *w, uint64_t v);
void json_out_bool(struct json_out *w, bool v);
void json_out_null(struct json_out *w);
/* Unix seconds as an RFC 3339 UTC string ("2026-11-22T06:30:00Z"). */
void json_out_time(struct json_out *w, int64_t t);

/* A line break before whatever comes next (after the comma that goes
 * before it, if one does): one value a line in a long array. */
void json_out_newline(struct json_out *w);

/* 0, or the first error (-ENOMEM, -E2BIG, -EINVAL for unbalanced nesting
 * deeper than JSON_OUT_DEPTH_MAX). */
int json_out_error(const struct json_out *w);

/* Appends @s (@n bytes) to @b as a quoted JSON string, escaped as above.
 * 0, or -ENOMEM or -E2BIG with nothing appended. */
int json_escape_append(struct buf *b, const char *s, size_t n);

#endif
