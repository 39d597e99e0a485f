/*
 * Atomic file output: write to a temporary file in the same directory,
 * fsync, rename over the target.  A crash or an error never leaves a
 * truncated file at the target path.
 */
#ifndef BH_ATOMIC_FILE_H
#define BH_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

struct atomic_file {
	FILE *f; /* write here */
	char *path; /* owned copies */
	char *tmp_path;
};

/* Opens a temporary file next to @path ("-" is refused: use stdout). */
int atomic_file_open(struct atomic_file *af, const char *path, struct bh_err *reterr);
/* Flushes, fsyncs and renames into place; on failure the target is untouched
 * and the temporary file removed.  Always releases @af. */
int atomic_file_commit(struct atomic_file *af, struct bh_err *reterr);
/* Discards the temporary file; NULL-safe and idempotent. */
void atomic_file_abort(struct atomic_file *af);

/* One-shot form of the above. */
int atomic_file_write(const char *path, const void *data, size_t len, struct bh_err *reterr);

#endif
