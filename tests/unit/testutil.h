/* Helpers shared by the unit tests.  Include after cmocka.h. */
#ifndef BH_TESTUTIL_H
#define BH_TESTUTIL_H

#include <stddef.h>

#include "addr.h"
#include "labels.h"

/* Parses a literal address; fails the test on a bad literal. */
struct addr addr_lit(const char *s);
/* Builds labels from "k=v,k2=v2" ("" for none). */
void labels_lit(struct labels *l, const char *kv);
/* Reads a whole file from tests/data (relative) or an absolute path; the
 * result is NUL-terminated and owned by the caller. */
char *test_read_file(const char *path, size_t *ret_len);

#endif
