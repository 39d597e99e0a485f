/*
 * Error detail for input-facing functions.  Such functions take a
 * `struct bh_err *reterr` as their last parameter, return -errno, and fill
 * @reterr only on failure with one line naming the file, object or field at
 * fault.  main() maps the kind to an exit status and prints the message.
 */
#ifndef BH_ERR_H
#define BH_ERR_H

#include "bh.h"

enum bh_err_kind {
	BH_ERR_NONE,
	BH_ERR_INPUT, /* bad usage or bad input: exit 2 */
	BH_ERR_SYSTEM, /* kernel, permission, I/O, API: exit 3 */
};

#define BH_ERR_MSG_MAX 512

struct bh_err {
	enum bh_err_kind kind;
	int code; /* negative errno */
	char msg[BH_ERR_MSG_MAX]; /* one line, no trailing newline */
};

/*
 * Fills @e (which may be NULL) and returns @code, which must be a negative
 * errno, so that `return bh_err_set(...)` reads naturally.  Newlines in the
 * formatted message are replaced by spaces to keep it one line.
 */
int bh_err_set(struct bh_err *e, enum bh_err_kind kind, int code, const char *fmt, ...)
	BH_PRINTF(4, 5);

/* Shorthand for an allocation failure: system kind, -ENOMEM. */
int bh_err_oom(struct bh_err *e);

/*
 * Prepends context to an already filled error ("file 'x': " + old message).
 * Does nothing when @e is NULL or empty.  Returns e->code (or -EINVAL).
 */
int bh_err_prefix(struct bh_err *e, const char *fmt, ...) BH_PRINTF(2, 3);

/* Exit status for a filled error: BH_EXIT_INPUT or BH_EXIT_SYSTEM. */
int bh_err_exit_code(const struct bh_err *e);

#endif
