/*
 * Blocking Kubernetes writes, for the CLI only: each runs the client's
 * loop (kube_client_run()) until the asynchronous write of kube_write.h
 * has ended, so it blocks for as long as its attempts and backoffs take
 * (KUBE_WRITE_RETRIES attempts of at most KUBE_WRITE_TIMEOUT_S each), and
 * drives the client's other transfers (a cache's watches) meanwhile.
 *
 * The agent's loop must never block: a file of the daemon that includes
 * this header or calls these functions fails style.layering
 * (scripts/check-layering.py, rule 4: only agent/cli_*.c may).
 */
#ifndef BH_KUBE_WRITE_WAIT_H
#define BH_KUBE_WRITE_WAIT_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "kube_client.h"
#include "kube_write.h"

/*
 * POST @obj (borrowed) into the collection; the created object (new
 * reference) in @ret when not NULL.  -EEXIST when it exists, -EACCES
 * (401/403), -EINVAL (rejected, with the server's message), -EIO.
 */
int kube_write_wait_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj,
			   json_t **ret, struct bh_err *reterr);

/*
 * Read-modify-write of object @name as kube_write_update(); the written
 * object (new reference) in @ret when not NULL.  -ENOENT when absent,
 * -EBUSY when every attempt conflicted.
 */
int kube_write_wait_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
			   bool status, kube_write_mutate_fn *fn, void *ud, json_t **ret,
			   struct bh_err *reterr);

/*
 * JSON merge patch of @name as kube_write_patch(); -ESTALE when @rv is no
 * longer the object's version.
 */
int kube_write_wait_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
			  bool status, json_t *patch, const char *rv, json_t **ret,
			  struct bh_err *reterr);

#endif
