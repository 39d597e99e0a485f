/*
 * The Kubernetes API client transport: HTTPS requests on libcurl's multi
 * socket interface, driven by the agent's event loop.
 *
 * The client owns one epoll fd that cascades into the caller's loop (as
 * libmicrohttpd's MHD_USE_EPOLL does): curl's sockets are registered in it
 * through CURLMOPT_SOCKETFUNCTION, so the loop watches a single fd
 * (kube_client_fd(), readable when a socket is ready) plus one timeout
 * (kube_client_timeout_ms(), curl's CURLMOPT_TIMERFUNCTION deadline and the
 * client's own timers), and calls kube_client_process() when either fires.
 * Everything runs on the loop thread; callbacks run from inside
 * kube_client_process().
 *
 * Bearer tokens are re-read from the token file when it changes (service
 * account token rotation) and after a 401; an exec plugin's credential
 * (kube_exec.h) is taken from the process-wide cache before each request
 * and the plugin run again after it expired or drew a 401.  TLS is always
 * verified.
 * Neither tokens nor key material are ever logged.
 */
#ifndef BH_KUBE_CLIENT_H
#define BH_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "kube_config.h"

struct kube_client;
struct kube_request;

/*
 * Body data of a response, in the pieces the network delivers.  Return
 * @n to go on; anything else aborts the transfer (its done callback then
 * reports -ECANCELED).  Runs inside kube_client_process(); must not cancel
 * requests or free the client.
 */
typedef size_t kube_data_fn(void *ud, const char *p, size_t n);

/*
 * The end of a request: @r is 0 when an HTTP response was received (whatever
 * its @status), else a negative errno for the transport (-ETIMEDOUT,
 * -ECONNREFUSED, -ECONNRESET, -EPROTO for TLS verification, -ECANCELED when
 * the data callback stopped it, -EIO) with a one-line @msg.  The request is
 * freed after the callback returns; the callback may start new requests.
 */
typedef void kube_done_fn(void *ud, int r, long status, const char *msg);

struct kube_request_opts {
	const char *method; /* "GET" when NULL */
	const char *path; /* "/api/v1/pods?limit=500", copied */
	const char *body; /* copied, may be NULL */
	size_t body_len;
	const char *content_type; /* of the body */
	unsigned timeout_s; /* whole transfer, 0: none */
	unsigned idle_s; /* abort after this long without a byte, 0: none */
	kube_data_fn *data_cb;
	kube_done_fn *done_cb;
	void *ud;
};

/* Creates a client for @cfg (copied).  Input error when the CA or client
 * certificate files cannot be read; with an exec plugin, runs it unless
 * its credential is cached, and fails as kube_exec_get() does. */
int kube_client_new(const struct kube_config *cfg, struct kube_client **ret, struct bh_err *reterr);
/* NULL-safe; cancels every request (no callbacks) and returns NULL. */
struct kube_client *kube_client_free(struct kube_client *c);

/* The fd to watch for readability in the caller's loop. */
int kube_client_fd(const struct kube_client *c);
/* Milliseconds until kube_client_process() must run, -1 for no deadline. */
int kube_client_timeout_ms(const struct kube_client *c);
/* Does the ready I/O, expired timers and finished requests, without
 * blocking.  Returns 0 or -errno (the client stays usable). */
int kube_client_process(struct kube_client *c);
/* Blocking helper for the CLI and tests: waits at most @timeout_ms for the
 * fd or the next deadline, then processes once. */
int kube_client_run(struct kube_client *c, int timeout_ms);

/* The server URL, for messages. */
const char *kube_client_server(const struct kube_client *c);

/* Starts a request; @ret (may be NULL) receives a handle valid until its
 * done callback returns.  -ENOMEM or -EIO. */
int kube_request_start(struct kube_client *c, const struct kube_request_opts *o,
		       struct kube_request **ret);
/* Cancels a running request synchronously: its done callback is not
 * called.  Not from inside that request's data callback. */
void kube_request_cancel(struct kube_request *r);

/* A one-shot timer of the client's loop, embedded in its owner. */
typedef void kube_timer_fn(void *ud);
struct kube_timer {
	uint64_t due_ms; /* CLOCK_MONOTONIC */
	kube_timer_fn *fn;
	void *ud;
	struct kube_timer *next;
	bool armed;
};
/* (Re)arms @t to fire once after @delay_ms. */
void kube_timer_arm(struct kube_client *c, struct kube_timer *t, uint64_t delay_ms,
		    kube_timer_fn *fn, void *ud);
/* Disarms @t; harmless when not armed. */
void kube_timer_disarm(struct kube_client *c, struct kube_timer *t);

/*
 * A blocking request on its own connection (it does not run the client's
 * other transfers): writes and the CLI.  The response body (at most @max
 * bytes) goes to @ret_body (initialised by the callee, to be freed with
 * buf_done), the HTTP status to @ret_status.  A transport failure is a
 * system error naming the server.  With an exec plugin, a 401 is retried
 * once with a credential the plugin gives anew.
 */
int kube_client_call(struct kube_client *c, const char *method, const char *path, const char *body,
		     const char *content_type, size_t max, unsigned timeout_s, struct buf *ret_body,
		     long *ret_status, struct bh_err *reterr);

#endif
