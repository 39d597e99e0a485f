/*
 * The snapshot reader: cluster state from what
 * `kubectl get namespaces,pods,networkpolicies,nodes -A -o json` (or
 * `-o yaml`) prints (a List), several such files, or single objects, as
 * JSON documents or a YAML stream of `---` documents: a file whose first
 * non-blank character is '{' or '[' is JSON, anything else YAML.
 * Decoding of single objects is shared with the Kubernetes client
 * (kube_object.h).
 *
 * Objects of kinds Bulkhead does not read (Service, Deployment, a Pod of
 * apiVersion v2...) are skipped and counted.  Two sorts are refused
 * instead (-ENOMSG, input error) unless snapshot_opts.skip_unknown says to
 * skip them too, because skipping them would enforce fewer policies than
 * the snapshot holds: an object whose kind looks like a NetworkPolicy
 * (/networkpolic/i) but is not kind NetworkPolicy of apiVersion
 * networking.k8s.io/v1 (a 'Networkpolicy' typo, networking.k8s.io/v1beta1,
 * Calico's or Cilium's own policies), and one that is not a Kubernetes
 * object at all (no apiVersion, or neither metadata nor items: a flows
 * file given as a snapshot).  A List ("List" or any "*List") whose items
 * is neither an array nor null is malformed (-EINVAL).
 */
#ifndef BH_SNAPSHOT_H
#define BH_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster.h"
#include "err.h"

struct snapshot_opts {
	/* Skip the objects described above instead of refusing them. */
	bool skip_unknown;
	/* On success, log_warning() one line per file and kind of skipped
	 * object, naming the file, the first such object, its kind and
	 * apiVersion and how many there were. */
	bool warn;
	/* Read JSON the reference way: for tests and fuzzing. */
	bool reference;
};

struct snapshot_stats {
	size_t skipped; /* objects skipped, of kinds we do not read */
	size_t skipped_unreadable; /* of which refused but for skip_unknown */
};

/*
 * Loads @n files (a path of "-" reads stdin) into a new cluster; @opts may
 * be NULL (refuse, no warnings).  On failure @reterr names the file and
 * line/column (JSON or YAML syntax; YAML also for the object at fault) or
 * the object and field at fault, and nothing is returned.
 * -EBADMSG/-EINVAL/-ENOMSG (see above) for bad input (kind BH_ERR_INPUT),
 * -errno for I/O (BH_ERR_SYSTEM).  @ret_stats may be NULL.
 */
int snapshot_load(const char *const *paths, size_t n, const struct snapshot_opts *opts,
		  struct cluster **ret, struct snapshot_stats *ret_stats, struct bh_err *reterr);

/* snapshot_load() with @opts NULL. */
int snapshot_load_files(const char *const *paths, size_t n, struct cluster **ret,
			struct snapshot_stats *ret_stats, struct bh_err *reterr);

/* The same from a memory buffer; @name is used in error messages. */
int snapshot_load_buf_opts(const char *data, size_t len, const char *name,
			   const struct snapshot_opts *opts, struct cluster **ret,
			   struct snapshot_stats *ret_stats, struct bh_err *reterr);

/* snapshot_load_buf_opts() with @opts NULL. */
int snapshot_load_buf(const char *data, size_t len, const char *name, struct cluster **ret,
		      struct snapshot_stats *ret_stats, struct bh_err *reterr);

/*
 * The same as snapshot_load_buf(), reading each JSON document into one
 * jansson tree: the reader the fast one must agree with, result and error
 * message alike.  For differential tests and fuzzing; slower and larger.
 * (YAML is always read one tree per document.)
 */
int snapshot_load_buf_reference(const char *data, size_t len, const char *name,
				struct cluster **ret, struct snapshot_stats *ret_stats,
				struct bh_err *reterr);

/* Adds the objects of one buffer to an existing cluster (@opts NULL); on
 * failure the cluster is unchanged. */
int snapshot_merge_buf(struct cluster *c, const char *data, size_t len, const char *name,
		       struct snapshot_stats *ret_stats, struct bh_err *reterr);

#endif
