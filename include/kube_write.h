/*
 * Writes to the API server: create, read-modify-write updates guarded by
 * resourceVersion (optimistic concurrency, the one way agents coordinate),
 * merge patches and status updates, with retries on 409 Conflict and on
 * the answers that say "try again" (429, 500, 503, 504).
 *
 * Asynchronous: a write starts on the client's loop (its requests are
 * transfers of the client's multi handle, like the watches) and ends in
 * its done callback, called from inside kube_client_process(), never from
 * the call that started it.  The backoff between attempts is a timer of
 * the client (kube_timer_arm()): nothing here sleeps or blocks, so the
 * loop goes on serving watches, timers and other writes meanwhile.  Each
 * attempt is bounded by KUBE_WRITE_TIMEOUT_S.  Loop thread only.
 *
 * The blocking forms the CLI uses are in kube_write_wait.h (CLI only).
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
/* Backoff before attempt i + 1 (i >= 1): KUBE_WRITE_BACKOFF_MS << (i - 1),
 * so five attempts wait 10 + 20 + 40 + 80 ms in all. */
#define KUBE_WRITE_BACKOFF_MS 10u

/* Which collection: group ("" core), version, plural, namespace (NULL for
 * cluster-scoped resources). */
struct kube_ref {
	const char *group, *version, *resource, *ns;
};

/* One write in flight (opaque); freed after its done callback returns. */
struct kube_write;

/*
 * The end of a write: @r is 0 and @obj the object the server wrote
 * (borrowed for the call: json_incref() it to keep it), or @r is a
 * negative errno and @err says what failed, naming the server and the
 * object.  May start new writes; must not cancel this one (it is over) nor
 * free the client.
 */
typedef void kube_write_done_fn(void *ud, int r, json_t *obj, const struct bh_err *err);

/*
 * Changes @obj in place; returns 0 to write it, 1 when nothing needs to be
 * written, or a negative errno to stop.  Runs on the loop, once per
 * attempt, on the object as just read.
 */
typedef int kube_write_mutate_fn(void *ud, json_t *obj);

/*
 * Starts a POST of @obj (serialised at once: the caller keeps it) into the
 * collection.  Done with -EEXIST when it exists, -EACCES (401/403),
 * -EINVAL (rejected, with the server's message), -EIO; retried on 429,
 * 500, 503 and 504.  @ret (may be NULL) receives a handle valid until the
 * done callback returns.  Fails at once only with -ENOMEM or -EIO (the
 * request could not be started), with @reterr set and no callback.
 */
int kube_write_create(struct kube_client *c, const struct kube_ref *ref, json_t *obj,
		      kube_write_done_fn *done, void *ud, struct kube_write **ret,
		      struct bh_err *reterr);

/*
 * Starts a read-modify-write of object @name: GET, @fn (with @ud), PUT
 * carrying the read resourceVersion (to the status subresource when
 * @status), started again from the GET after a retryable answer, up to
 * KUBE_WRITE_RETRIES attempts.  Done with -ENOENT when absent, -EBUSY when
 * every attempt conflicted, @fn's error when it stopped.  When @fn returns
 * 1, done with the object as read.
 */
int kube_write_update(struct kube_client *c, const struct kube_ref *ref, const char *name,
		      bool status, kube_write_mutate_fn *fn, kube_write_done_fn *done, void *ud,
		      struct kube_write **ret, struct bh_err *reterr);

/*
 * Starts a JSON merge patch (RFC 7386) of @name (to /status when @status)
 * with @patch (an object, copied).  With @rv, the patch carries it as
 * metadata.resourceVersion: the server applies it only to that version,
 * and a 409 ends the write with -ESTALE (re-read and decide again).
 * Without @rv, 409 is retried.  Input error -EINVAL at once when @patch is
 * not an object.
 */
int kube_write_patch(struct kube_client *c, const struct kube_ref *ref, const char *name,
		     bool status, json_t *patch, const char *rv, kube_write_done_fn *done, void *ud,
		     struct kube_write **ret, struct bh_err *reterr);

/*
 * Cancels a write synchronously: its request is stopped, its backoff timer
 * disarmed, and neither its done callback nor its mutate function is
 * called again.  NULL-safe; returns NULL.  Not from inside this write's
 * own callbacks.  The client must outlive its writes: cancel them before
 * kube_client_free().
 */
struct kube_write *kube_write_cancel(struct kube_write *w);

/* Statistics of this process's writes. */
struct kube_write_stats {
	unsigned long attempts; /* requests sent (GET, POST, PUT, PATCH) */
	unsigned long conflicts; /* 409 answers */
	unsigned long retries; /* backoff timers armed */
};
void kube_write_stats_get(struct kube_write_stats *ret);

#endif
