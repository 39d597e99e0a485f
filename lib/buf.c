#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void buf_init(struct buf *b, size_t max)
{
	*b = (struct buf){ .max = max };
}

void buf_done(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	size_t avail = b->data ? b->cap - b->len : 0;
	va_list ap;
	int n, r;

	/* Formatted straight into the spare room when it fits: measuring
	 * first and formatting again doubled the cost of short appends. */
	va_start(ap, fmt);
	n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (avail)
			b->data[b->len] = '\0';
		return -EINVAL;
	}
	if ((size_t) n < avail) {
		if ((size_t) n > b->max || b->len > b->max - (size_t) n) {
			b->data[b->len] = '\0';
			return -E2BIG;
		}
		b->len += (size_t) n;
		return 0;
	}
	if (avail)
		b->data[b->len] = '\0';
	r = buf_reserve(b, (size_t) n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	(void) vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *buf_steal(struct buf *b)
{
	char *p = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int buf_read_file(struct buf *b, const char *path)
{
	bool in = strcmp(path, "-") == 0;
	int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		size_t room = b->max - b->len;
		char probe;
		ssize_t n;

		/* Straight into the buffer (a snapshot may be hundreds of MB),
		 * never past the bound: a full buffer reads one byte to tell a
		 * file that fits exactly from one that is too large. */
		if (room > 65536)
			room = 65536;
		if (room) {
			r = buf_reserve(b, room);
			if (r < 0)
				break;
			room = b->cap - b->len - 1 < b->max - b->len ? b->cap - b->len - 1 :
								       b->max - b->len;
		}
		n = read(fd, room ? b->data + b->len : &probe, room ? room : 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (!room) {
			r = -E2BIG;
			break;
		}
		b->len += (size_t) n;
		b->data[b->len] = '\0';
	}
	if (!in)
		close(fd);
	return r;
}
