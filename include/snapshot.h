/*
 * The snapshot reader: cluster state from what
 * `kubectl get namespaces,pods,networkpolicies -A -o json` prints (a List),
 * several such files, or single objects.  Also reads Node objects.
 * Unknown kinds are skipped (counted).  Decoding of single objects is
 * shared with the Kubernetes client (kube_object.h).
 */
#ifndef BH_SNAPSHOT_H
#define BH_SNAPSHOT_H

#include <stddef.h>

#include "cluster.h"
#include "err.h"

struct snapshot_stats {
	size_t skipped; /* objects of kinds we do not use */
};

/*
 * Loads @n files (a path of "-" reads stdin) into a new cluster.  On failure
 * @reterr names the file and line/column (JSON syntax) or the object and
 * field at fault, and nothing is returned.  -EBADMSG/-EINVAL for bad input
 * (kind BH_ERR_INPUT), -errno for I/O (BH_ERR_SYSTEM).
 */
int snapshot_load_files(const char *const *paths, size_t n, struct cluster **ret,
			struct snapshot_stats *ret_stats, struct bh_err *reterr);

/* The same from a memory buffer; @name is used in error messages. */
int snapshot_load_buf(const char *data, size_t len, const char *name, struct cluster **ret,
		      struct snapshot_stats *ret_stats, struct bh_err *reterr);

/*
 * The same as snapshot_load_buf(), reading each document into one jansson
 * tree: the reader the fast one must agree with, result and error message
 * alike.  For differential tests and fuzzing; slower and larger.
 */
int snapshot_load_buf_reference(const char *data, size_t len, const char *name,
				struct cluster **ret, struct snapshot_stats *ret_stats,
				struct bh_err *reterr);

/* Adds the objects of one buffer to an existing cluster; on failure the
 * cluster is unchanged. */
int snapshot_merge_buf(struct cluster *c, const char *data, size_t len, const char *name,
		       struct snapshot_stats *ret_stats, struct bh_err *reterr);

#endif
