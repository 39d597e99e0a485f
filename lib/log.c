#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json_out.h"
#include "log.h"
#include "rfc3339.h"

int log_max_level = LOG_NOTICE;

static const char *log_comp = "bulkhead";
static bool log_json;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_set_component(const char *comp)
{
	log_comp = comp;
}

void log_set_json(bool json)
{
	log_json = json;
}

int log_level_parse(const char *s, int *ret)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(level_names); i++)
		if (level_names[i] && strcmp(s, level_names[i]) == 0) {
			*ret = (int) i;
			return 0;
		}
	return -EINVAL;
}

/*
 * A line is formatted into a buffer and written with one write(2): stderr
 * is unbuffered, so stdio made one system call per fputc (30 to 40 a
 * line, thousands for a message of control characters).  PIPE_BUF bytes
 * at most, so that a line written into a pipe (how container runtimes
 * collect stderr) is atomic and never interleaves with another writer's.
 */
#define LOG_LINE_MAX PIPE_BUF
/* Kept free for what follows the message: its closing quote, " err=NAME"
 * or ","err":"NAME"}" (errno names are short), and the newline. */
#define LOG_TAIL_MAX 64

struct line {
	size_t n;
	char b[LOG_LINE_MAX];
};

/* Appends what fits of @s; the line ends with a newline whatever happens
 * (log_write()). */
static void put(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(l->b) - l->n)
		n = sizeof(l->b) - l->n;
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

/* Length of the escaped token at @p (json_escape_append()'s output: an
 * escape, an ASCII byte or a whole UTF-8 sequence, never split). */
static size_t token_len(const char *p)
{
	unsigned char c = (unsigned char) *p;

	if (c == '\\')
		return p[1] == 'u' ? 6 : 2;
	if (c < 0x80)
		return 1;
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
}

/*
 * Appends @s as a double-quoted logfmt or JSON string value, escaped by
 * json_escape_append() (a JSON string is a valid quoted logfmt value), cut
 * with "..." between two characters where it would not leave LOG_TAIL_MAX
 * bytes of the line.
 */
static void put_quoted(struct line *l, const char *s)
{
	const size_t limit = sizeof(l->b) - LOG_TAIL_MAX;
	struct buf esc;
	size_t i, end;

	buf_init(&esc, 6 * LOG_LINE_MAX + 2);
	if (json_escape_append(&esc, s, strlen(s)) < 0) {
		put(l, "\"...\"");
		goto out;
	}
	end = esc.len - 1; /* the closing quote */
	if (l->n + esc.len > limit) {
		for (i = 1; i < end && l->n + i + token_len(esc.data + i) + 4 <= limit;)
			i += token_len(esc.data + i);
		esc.data[i] = '\0';
		put(l, esc.data);
		put(l, "...\"");
		goto out;
	}
	put(l, esc.data);
out:
	buf_done(&esc);
}

/* Ends the line and writes it: one write(2) unless it is cut short. */
static void log_write(struct line *l)
{
	const char *p = l->b;
	size_t n;

	if (l->n == sizeof(l->b))
		l->n--;
	l->b[l->n++] = '\n';
	for (n = l->n; n > 0;) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere to report it */
		}
		p += w;
		n -= (size_t) w;
	}
}

static void log_vemit(int level, const char *errname, const char *fmt, va_list ap) BH_PRINTF(3, 0);

static void log_vemit(int level, const char *errname, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	const char *lvl =
		level >= 0 && level < (int) BH_ARRAY_SIZE(level_names) ? level_names[level] : "?";
	struct line l;
	struct timespec ts;
	char when[RFC3339_STR_MAX], head[128];
	int saved = errno; /* callers may log between a failure and its errno */

	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	(void) clock_gettime(CLOCK_REALTIME, &ts);
	(void) rfc3339_format(ts.tv_sec, when, sizeof(when));

	l.n = 0;
	if (log_json) {
		(void) snprintf(head, sizeof(head),
				"{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":", when, lvl);
		put(&l, head);
		put_quoted(&l, log_comp);
		put(&l, ",\"msg\":");
		put_quoted(&l, msg);
		if (errname) {
			put(&l, ",\"err\":\"");
			put(&l, errname);
			put(&l, "\"");
		}
		put(&l, "}");
	} else {
		(void) snprintf(head, sizeof(head), "ts=%s level=%s comp=", when, lvl);
		put(&l, head);
		put(&l, log_comp);
		put(&l, " msg=");
		put_quoted(&l, msg);
		if (errname) {
			put(&l, " err=");
			put(&l, errname);
		}
	}
	log_write(&l);
	errno = saved;
}

void log_emit(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, NULL, fmt, ap);
	va_end(ap);
}

int log_errno_emit(int level, int err, const char *fmt, ...)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, name ? name : "unknown", fmt, ap);
	va_end(ap);
	return err;
}
