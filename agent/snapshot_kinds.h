/*
 * Snapshot objects of kinds the reader does not decode (agent-private,
 * used by snapshot.c): which are skipped and counted, which are refused
 * because skipping them could enforce fewer policies than the snapshot
 * holds (see include/snapshot.h), and the warnings about the skipped ones.
 */
#ifndef BH_AGENT_SNAPSHOT_KINDS_H
#define BH_AGENT_SNAPSHOT_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "err.h"

/* One object skipped. */
struct snapshot_skip {
	const char *file; /* borrowed from the caller of the loader */
	char *kind, *api, *object;
	bool unreadable; /* refused but for skip_unknown */
	bool policy_like; /* unreadable because it looks like a NetworkPolicy */
};

struct snapshot_skips {
	struct snapshot_skip *v;
	size_t n, cap;
};

/*
 * @obj, of kind @kind (neither a List nor a kind the decoders read), found
 * in @file at @where ("" at the top of the first document): records it as
 * skipped and returns 0, or, when it looks like a NetworkPolicy or is not a
 * Kubernetes object and @skip_unknown is false, fills @reterr (one line
 * naming the object, its kind and apiVersion) and returns -ENOMSG.
 * -ENOMEM.
 */
int snapshot_skip_unknown(struct snapshot_skips *s, const char *file, bool skip_unknown,
			  const json_t *obj, const char *kind, const char *where,
			  struct bh_err *reterr);

/* Forgets the records past the first @n (to undo a document). */
void snapshot_skips_truncate(struct snapshot_skips *s, size_t n);

void snapshot_skips_done(struct snapshot_skips *s);

/* log_warning() one line per file and kind of skipped object, in input
 * order, naming the first object and how many more there were. */
void snapshot_skips_warn(const struct snapshot_skips *s);

#endif
