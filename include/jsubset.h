/*
 * A fast parser for a subset of JSON that builds the same jansson tree as
 * json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES).
 *
 * jansson reads its input one byte at a time through a callback and
 * copies every string byte by byte; for the compact, plain-ASCII JSON the
 * API server and kubectl print, that is most of the cost of parsing.
 * This parser accepts only text it can reproduce exactly: strings of
 * printable ASCII without escapes, integers of at most 18 digits, true,
 * false, null, objects (no duplicate keys) and arrays nested at most
 * JSUBSET_DEPTH_MAX deep, with jansson's whitespace.  For anything else,
 * valid or not, it returns -EDOM, and the caller parses the text with
 * jansson, which then gives the result or the error message.
 */
#ifndef BH_JSUBSET_H
#define BH_JSUBSET_H

#include <stddef.h>

#include <jansson.h>

#define JSUBSET_DEPTH_MAX 64

/*
 * Parses exactly one value filling @s[0..len) (whitespace around it
 * allowed).  0 with a new reference in *ret, -EDOM when the text is
 * outside the subset (or not JSON), -ENOMEM.
 */
int jsubset_parse(const char *s, size_t len, json_t **ret);

#endif
