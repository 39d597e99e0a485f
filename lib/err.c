#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int bh_err_set(struct bh_err *e, enum bh_err_kind kind, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->kind = kind;
	e->code = code;
	va_start(ap, fmt);
	(void) vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	one_line(e->msg);
	return code;
}

int bh_err_oom(struct bh_err *e)
{
	return bh_err_set(e, BH_ERR_SYSTEM, -ENOMEM, "out of memory");
}

int bh_err_prefix(struct bh_err *e, const char *fmt, ...)
{
	char pre[BH_ERR_MSG_MAX];
	size_t pl, ol;
	va_list ap;

	if (!e || e->kind == BH_ERR_NONE)
		return e ? e->code : -EINVAL;
	va_start(ap, fmt);
	(void) vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	pl = strlen(pre);
	ol = strnlen(e->msg, sizeof(e->msg) - 1);
	if (pl > sizeof(e->msg) - 1)
		pl = sizeof(e->msg) - 1;
	if (ol > sizeof(e->msg) - 1 - pl)
		ol = sizeof(e->msg) - 1 - pl;
	memmove(e->msg + pl, e->msg, ol);
	memcpy(e->msg, pre, pl);
	e->msg[pl + ol] = '\0';
	one_line(e->msg);
	return e->code;
}

int bh_err_exit_code(const struct bh_err *e)
{
	if (e && e->kind == BH_ERR_INPUT)
		return BH_EXIT_INPUT;
	return BH_EXIT_SYSTEM;
}

const char *bh_mode_name(enum bh_mode m)
{
	switch (m) {
	case BH_MODE_PREVIEW:
		return "preview";
	case BH_MODE_ENFORCE:
		return "enforce";
	default:
		return NULL;
	}
}

int bh_mode_parse(const char *s, enum bh_mode *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "preview") == 0)
		*ret = BH_MODE_PREVIEW;
	else if (strcmp(s, "enforce") == 0)
		*ret = BH_MODE_ENFORCE;
	else
		return -EINVAL;
	return 0;
}
