/*
 * A growable byte buffer with a hard size bound (curl's dynbuf).  Every
 * buffer fed by outside input has a bound; reaching it is -E2BIG, never
 * silent growth.  The content is always NUL-terminated for convenience.
 */
#ifndef BH_BUF_H
#define BH_BUF_H

#include <stddef.h>

#include "bh.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* bound on len */
};

void buf_init(struct buf *b, size_t max);
/* Frees the storage; the buffer may be reused after buf_init(). */
void buf_done(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Appends @n bytes: 0, -E2BIG past the bound (nothing appended), -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n) BH_MUST_CHECK;
/* Room for @extra more bytes (and the terminating NUL) past b->len, so a
 * caller may write into b->data + b->len and then advance b->len itself
 * (keeping the NUL after it).  -E2BIG past the bound, -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra) BH_MUST_CHECK;
int buf_printf(struct buf *b, const char *fmt, ...) BH_PRINTF(2, 3) BH_MUST_CHECK;
/* Removes the first @n bytes (a consumed line of a stream). */
void buf_consume(struct buf *b, size_t n);
/* Appends the whole of file @path ("-": standard input), reading in
 * chunks: 0, -E2BIG past the bound (the caller names the file and its
 * limit), -ENOMEM, or open's and read's -errno (-ENOENT, -EISDIR...). */
int buf_read_file(struct buf *b, const char *path) BH_MUST_CHECK;
/* Hands the storage to the caller (NUL-terminated, may be NULL when empty)
 * and resets the buffer. */
char *buf_steal(struct buf *b);

#endif
