/*
 * Writes to the API server: create, read-modify-write updates guarded by
 * resourceVersion (optimistic concurrency, the one way agents coordinate),
 * merge patches and status updates, with retries on 409 Conflict.
 *
 * These calls block for at most KUBE_WRITE_TIMEOUT_S per attempt on a
 * connection of their own: the agent writes rarely (its status, the
 * cluster-wide mode switch), and the loop's watches go on meanwhile on
 * their own connections once it returns.  Loop thread or CLI.
 */
#ifndef BH_KUBE_WRITE_H
#define BH_KUBE_WRITE_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "kube_client.h"

#define KUBE_WRITE_RETRIES 5
#define KUBE_WRITE_TIMEOUT_S 10
#define KUBE_WRITE_RESPONSE_MAX (16u << 20)

/* Which collection: group ("" core), version, plural, namespace (NULL for
 * cluster-scoped resources). */
struct kube_ref {
	const char *group, *version, *resource, *ns;
};

/*
 * POST @obj (borrowed) into the collection; the created object (new
 * reference) in @ret when not NULL.  -EEXIST when it exists, -EACCES
 * (401/403), -EINVAL (rejected, with the server's message), -EIO.
 */
int kube_write_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj, json_t **ret,
		      struct bh_err *reterr);

/*
 * Changes @obj in place; returns 0 to write it, 1 when nothing needs to be
 * written, or a negative errno to stop.
 */
typedef int kube_write_mutate_fn(void *ud, json_t *obj);

/*
 * Read-modify-write of object @name: GET, @fn, PUT carrying the read
 * resourceVersion (to the status subresource when @status), retried from
 * the GET on 409 Conflict up to KUBE_WRITE_RETRIES times with a short
 * backoff.  The written object (new reference) in @ret when not NULL.
 * -ENOENT when absent, -EBUSY when every attempt conflicted.
 */
int kube_write_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
		      bool status, kube_write_mutate_fn *fn, void *ud, json_t **ret,
		      struct bh_err *reterr);

/*
 * JSON merge patch (RFC 7386) of @name (to /status when @status).  With
 * @rv, the patch carries it as metadata.resourceVersion: the server applies
 * it only to that version, and a 409 is returned as -ESTALE (re-read and
 * decide again).  Without @rv, 409 is retried.
 */
int kube_write_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
		     bool status, json_t *patch, const char *rv, json_t **ret,
		     struct bh_err *reterr);

/* Statistics of this process's writes (conflicts retried). */
struct kube_write_stats {
	unsigned long attempts, conflicts;
};
void kube_write_stats_get(struct kube_write_stats *ret);

#endif
