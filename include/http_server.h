/*
 * The agent's HTTP server: libmicrohttpd driven by the agent's event loop,
 * on two listeners.
 *
 *   - the control Unix socket (owner-only, mode 0600): every route, the
 *     verbs that change anything included;
 *   - a TCP address (optional): read-only routes only.  A verb other than
 *     GET or HEAD is answered 405 there, and a GET route not registered
 *     read-only is answered 403, so nothing that changes state and nothing
 *     the daemon keeps for the node's owner is reachable over the network.
 *
 * Loop integration: each listener is one MHD daemon in MHD_USE_EPOLL mode
 * without internal threads.  MHD's own epoll fd (MHD_DAEMON_INFO_EPOLL_FD)
 * is an fd source of the loop, and one loop timer follows MHD_get_timeout()
 * of both daemons (connection timeouts, and work MHD has left in its ready
 * list, for which it reports a timeout of 0).  MHD_run() never blocks in
 * this mode.  External select() mode was the alternative; select() is
 * banned (FD_SETSIZE), and epoll cascades into the loop's epoll as one fd.
 *
 * Handlers are called on the loop thread, once per request, after the
 * whole body was received (at most the configured body limit, else 413
 * before the handler is called).  They must not block: they answer from
 * state the daemon already holds, or defer the answer
 * (http_request_defer(): the connection is suspended while the work runs
 * elsewhere, and the loop serves everything else meanwhile).
 *
 * Built-in routes: GET /healthz (200 "ok" while the loop runs), GET /readyz
 * (200 "ready", or 503 with the one-line reason of the readiness callback),
 * GET /metrics (the registry, Prometheus text format 0.0.4).  All three are
 * read-only.
 *
 * Everything here is for the loop thread only.
 */
#ifndef BH_HTTP_SERVER_H
#define BH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct loop;
struct metrics_registry;
struct http_server;
struct http_request; /* opaque: the handler reads it through the accessors */

/* Defaults of struct http_server_opts (0 in a field means the default). */
#define HTTP_BODY_MAX_DEFAULT (1024 * 1024)
#define HTTP_CONN_MAX_DEFAULT 256
#define HTTP_TIMEOUT_S_DEFAULT 30
/* A response body built by a handler may grow up to this (the report of a
 * large cluster); past it the request fails with 500. */
#define HTTP_RESPONSE_MAX (256u * 1024 * 1024)

/* Route flags. */
enum {
	/* Served on the TCP listener as well.  Only GET routes may be
	 * read-only: a route of another verb changes state by definition. */
	HTTP_ROUTE_READ_ONLY = 1 << 0,
};

/*
 * What a handler fills in.  @status defaults to 200 and @content_type to
 * "text/plain; charset=utf-8" (a static string: not copied, not freed);
 * @body is an empty buffer the handler appends to (buf_printf and the
 * json_out writer), freed by the server; @headers, when not NULL, are more
 * response headers: name, value, name, value, ..., NULL (static strings).
 */
struct http_response {
	unsigned status;
	const char *content_type;
	struct buf body;
	const char *const *headers;
};

/*
 * A request handler.  Returns 0 with @resp filled, or -errno: the server
 * answers 500 with a generic body and logs the error once.  Loop thread; no
 * blocking.
 */
typedef int http_handler_fn(const struct http_request *req, struct http_response *resp, void *ud);

/*
 * Readiness for /readyz: true when ready; otherwise writes a one-line
 * reason (no newline) into @reason, @len bytes at most, NUL-terminated.
 */
typedef bool http_ready_fn(char *reason, size_t len, void *ud);

struct http_server_opts {
	/* The control Unix socket (required): created, mode 0600.  A stale
	 * socket file left by a dead agent is removed; a live one (something
	 * answers on it) or a file that is not a socket is an error.  The
	 * directory must exist. */
	const char *socket_path;
	/* "ADDR:PORT" ("127.0.0.1:9464", "[::]:9464", "0.0.0.0:0" for any
	 * free port), or NULL for no TCP listener. */
	const char *listen_addr;
	size_t body_max; /* request body bound, bytes; larger is 413 */
	/* Connections per listener; at the limit MHD stops accepting, and
	 * more wait in the listen backlog until one closes. */
	unsigned conn_max;
	unsigned timeout_s; /* an idle connection is closed after this */
	/* /metrics renders this registry (borrowed; NULL: 404). */
	const struct metrics_registry *metrics;
	/* /readyz asks this (NULL: always ready). */
	http_ready_fn *ready_cb;
	void *ready_ud;
};

/*
 * Creates both listeners and adds them to @l.  The options' strings are
 * copied.  Errors name the socket path or the address: -EADDRINUSE when
 * another process serves the socket or the port, -ENOTSOCK when the socket
 * path is another kind of file, -ENAMETOOLONG, -EINVAL (input error) for a
 * malformed address, other -errno (system error).
 */
int http_server_new(struct loop *l, const struct http_server_opts *opts, struct http_server **ret,
		    struct bh_err *reterr);

/*
 * Stops both listeners (open connections are closed), removes them from
 * the loop and unlinks the socket file.  NULL-safe; returns NULL.  Not
 * from inside a handler.
 */
struct http_server *http_server_free(struct http_server *s);

/*
 * Registers @fn for @method ("GET", "POST", ...) on the exact @path (no
 * query string; "/status").  @flags: HTTP_ROUTE_*.  HEAD is answered by
 * the GET route, without the body.  The strings are copied.  -EEXIST for a
 * route registered twice, -EINVAL for a read-only route of a verb other
 * than GET or a path not starting with '/', -ENOMEM.
 */
int http_server_route(struct http_server *s, const char *method, const char *path, unsigned flags,
		      http_handler_fn *fn, void *ud);

/* The TCP port actually bound (for a listen address with port 0), or 0
 * without a TCP listener. */
uint16_t http_server_tcp_port(const struct http_server *s);

/* Requests answered so far on both listeners (tests, metrics). */
uint64_t http_server_requests(const struct http_server *s);

/* The request's method and path (without the query string). */
const char *http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
/* The value of query argument @key, NULL when absent (borrowed: valid
 * during the handler). */
const char *http_request_arg(const struct http_request *req, const char *key);
/* The request body (NUL-terminated for convenience, may be empty). */
const char *http_request_body(const struct http_request *req, size_t *ret_len);
/* Whether the request came on the control socket, not the TCP listener. */
bool http_request_on_socket(const struct http_request *req);

/*
 * Answering later.  A handler whose answer takes long to make (the report:
 * made off the loop) calls http_request_defer() and returns 0 without
 * filling its response: once it returned the connection is suspended
 * (libmicrohttpd's MHD_suspend_connection()), and the returned handle,
 * the server's, stays valid until it is answered, exactly once, with
 * http_request_answer_fd() or http_request_fail(), on the loop thread,
 * after the handler returned.  A handler that defers and then returns
 * -errno is answered 500 as usual and its handle is void.  A suspended
 * connection has no idle timeout and its client's going away is seen
 * only when it is answered.  http_server_free() answers 503 to those
 * still waiting: whoever holds handles gives them up before it.
 */
struct http_request *http_request_defer(const struct http_request *req);

/*
 * Answers a deferred request 200 with the first @size bytes of the file
 * @fd (borrowed: the server reads a duplicate at offsets, so one file may
 * answer several requests; it must not change while they are sent) as
 * @ctype (a static string).  0, or -errno when it could not be queued (then
 * answered 500, or the connection dropped).  The handle is void after.
 */
int http_request_answer_fd(struct http_request *req, const char *ctype, int fd, uint64_t size);

/* Answers a deferred request @status with the plain-text @text (copied).
 * The handle is void after. */
void http_request_fail(struct http_request *req, unsigned status, const char *text);

#endif
