/*
 * Logging: one logfmt (or JSON) line per event on stderr.  The level is
 * checked before any formatting.  learner/ and enforcer/ log at debug level
 * only; they return errors and the agent or CLI logs each one once.
 */
#ifndef BH_LOG_H
#define BH_LOG_H

#include <stdbool.h>
#include <syslog.h> /* LOG_ERR ... LOG_DEBUG levels only, never syslog() */

#include "bh.h"

extern int log_max_level;

/* Component name printed as comp=...; a static string, not copied. */
void log_set_component(const char *comp);
void log_set_json(bool json);
/* Parses "debug", "info", "notice", "warning", "err"; -EINVAL otherwise. */
int log_level_parse(const char *s, int *ret);

void log_emit(int level, const char *fmt, ...) BH_PRINTF(2, 3);
/* Logs with err=<errno name> appended and returns @err (negative errno). */
int log_errno_emit(int level, int err, const char *fmt, ...) BH_PRINTF(3, 4);

#define log_full(level, ...)                            \
	do {                                            \
		if ((level) <= log_max_level)           \
			log_emit((level), __VA_ARGS__); \
	} while (0)

#define log_errno(level, err, ...) \
	((level) <= log_max_level ? log_errno_emit((level), (err), __VA_ARGS__) : (err))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_full(LOG_ERR, __VA_ARGS__)

#endif
