#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

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

/* Escapes @s for a double-quoted logfmt or JSON string value. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void log_vemit(int level, const char *errname, const char *fmt, va_list ap) BH_PRINTF(3, 0);

static void log_vemit(int level, const char *errname, const char *fmt, va_list ap)
{
	char msg[2048];
	const char *lvl =
		level >= 0 && level < (int) BH_ARRAY_SIZE(level_names) ? level_names[level] : "?";
	struct timespec ts;
	struct tm tm;
	char when[40];

	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	(void) clock_gettime(CLOCK_REALTIME, &ts);
	(void) gmtime_r(&ts.tv_sec, &tm);
	(void) strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	flockfile(stderr);
	if (log_json) {
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"comp\":", when, lvl);
		put_quoted(stderr, log_comp);
		fputs(",\"msg\":", stderr);
		put_quoted(stderr, msg);
		if (errname)
			fprintf(stderr, ",\"err\":\"%s\"", errname);
		fputs("}\n", stderr);
	} else {
		fprintf(stderr, "ts=%s level=%s comp=%s msg=", when, lvl, log_comp);
		put_quoted(stderr, msg);
		if (errname)
			fprintf(stderr, " err=%s", errname);
		fputc('\n', stderr);
	}
	funlockfile(stderr);
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
