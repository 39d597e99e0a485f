/*
 * The agent's HTTP server; see include/http_server.h for the contract.
 *
 * Each listener is one MHD daemon in epoll mode without a thread of its
 * own, on a listening socket we create (MHD_OPTION_LISTEN_SOCKET): the
 * Unix socket needs its mode set before anyone can connect, and creating
 * the TCP socket ourselves gives errors that name the address.  MHD owns
 * the socket once MHD_start_daemon() succeeds and closes it in
 * MHD_stop_daemon().
 *
 * MHD handles edge-triggered epoll inside: after MHD_run() it may hold
 * connections with work left (its ready list) that no new fd event will
 * announce, and it reports that as a timeout of 0.  So after every
 * MHD_run() the loop timer is re-armed from MHD_get_timeout(); that timer
 * also closes idle connections (MHD_OPTION_CONNECTION_TIMEOUT).
 *
 * A request is answered in three steps of MHD's access handler: the first
 * call (headers only) picks the route and refuses what it can before the
 * body is read (404, 405, 403, a Content-Length far over the limit: 413);
 * the calls with body data append it to a bounded buffer (a body a little
 * over the limit, chunked or not, is discarded and answered 413 at its end,
 * so that a client still writing it reads the answer); the last call runs
 * the handler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_server.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "vec.h"

#define HTTP_BACKLOG 128
/* A body past the limit is read and thrown away so that the client gets its
 * 413; past this many times the limit it is refused before it is read (a
 * Content-Length) or the connection is dropped (chunked). */
#define HTTP_DISCARD_FACTOR 4

struct http_route {
	char *method;
	char *path;
	unsigned flags;
	http_handler_fn *fn;
	void *ud;
};

struct http_listener {
	struct http_server *srv;
	struct MHD_Daemon *d;
	struct loop_io io;
	bool control; /* the Unix socket: every route */
};

struct http_server {
	struct loop *loop;
	struct http_listener sock, tcp;
	struct loop_timer timer;
	char *socket_path;
	dev_t sock_dev; /* the socket file we made, unlinked only if still it */
	ino_t sock_ino;
	bool sock_made;
	uint16_t tcp_port;
	size_t body_max;
	const struct metrics_registry *metrics;
	http_ready_fn *ready_cb;
	void *ready_ud;
	struct http_route *routes;
	size_t n_routes, cap_routes;
	uint64_t requests;
	struct http_request *deferred; /* suspended, waiting for their answer */
};

struct http_request {
	struct http_listener *lis;
	struct MHD_Connection *conn;
	const char *method; /* MHD's, valid for the request */
	const char *path;
	const struct http_route *route;
	struct buf body;
	size_t discarded;
	bool too_big;
	bool answered;
	/* http_request_defer(): on the server's list, the connection
	 * suspended once the handler returned. */
	bool deferred;
	bool drop; /* its deferred answer could not be queued */
	struct http_request *prev, *next;
};

/* --- accessors --- */

const char *http_request_method(const struct http_request *req)
{
	return req->method;
}

const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_arg(const struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_request_body(const struct http_request *req, size_t *ret_len)
{
	*ret_len = req->body.len;
	return req->body.data ? req->body.data : "";
}

bool http_request_on_socket(const struct http_request *req)
{
	return req->lis->control;
}

uint16_t http_server_tcp_port(const struct http_server *s)
{
	return s->tcp_port;
}

uint64_t http_server_requests(const struct http_server *s)
{
	return s->requests;
}

/* --- answers given later --- */

struct http_request *http_request_defer(const struct http_request *creq)
{
	/* The request is the server's (the handler gets it const so that it
	 * cannot change it); deferring hands the caller the right to answer
	 * it, once. */
	struct http_request *req = (struct http_request *) creq;
	struct http_server *s = req->lis->srv;

	if (!req->deferred) {
		req->deferred = true;
		req->prev = NULL;
		req->next = s->deferred;
		if (s->deferred)
			s->deferred->prev = req;
		s->deferred = req;
	}
	return req;
}

/* Off the server's list; the connection stays suspended until resumed. */
static void undefer(struct http_request *req)
{
	struct http_server *s = req->lis->srv;

	if (req->prev)
		req->prev->next = req->next;
	else
		s->deferred = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	req->deferred = false;
}

/* --- responses --- */

/* Queues @resp (the caller keeps its reference) with @status, its
 * Content-Type, an Allow header when @allow, and the handler's @headers
 * when given. */
static enum MHD_Result queue(struct http_request *req, unsigned status, struct MHD_Response *resp,
			     const char *ctype, const char *allow, const char *const *headers)
{
	enum MHD_Result r;

	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				       ctype ? ctype : "text/plain; charset=utf-8");
	(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		(void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		(void) MHD_add_response_header(resp, headers[i], headers[i + 1]);
	r = MHD_queue_response(req->conn, status, resp);
	req->answered = true;
	req->lis->srv->requests++;
	return r;
}

/* Queues @status with @body (copied unless @owned: then taken, malloc'd),
 * an Allow header when @allow, and the handler's @headers when given. */
static enum MHD_Result respond(struct http_request *req, unsigned status, const char *ctype,
			       char *body, size_t len, bool owned, const char *allow,
			       const char *const *headers)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (owned)
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	r = queue(req, status, resp, ctype, allow, headers);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result respond_text(struct http_request *req, unsigned status, const char *text)
{
	return respond(req, status, NULL, (char *) text, strlen(text), false, NULL, NULL);
}

/*
 * The answer of a deferred request is queued: MHD allows that on a
 * suspended connection at any time.  Resuming only raises a flag that the
 * next MHD_run() acts on, so the timer brings that run at once (MHD's
 * inter-thread eventfd would too, but a timer is what the loop waits on
 * here).  A queue that failed drops the connection when MHD comes back
 * to it (access_cb()).
 */
static void deferred_resume(struct http_request *req, enum MHD_Result queued)
{
	struct http_server *s = req->lis->srv;

	undefer(req);
	req->drop = queued != MHD_YES;
	MHD_resume_connection(req->conn);
	if (loop_timer_arm_in(&s->timer, 0) < 0)
		log_warning("http: cannot arm the timer, the answer waits for the next event");
}

int http_request_answer_fd(struct http_request *req, const char *ctype, int fd, uint64_t size)
{
	struct MHD_Response *resp;
	enum MHD_Result mr;
	int dfd, r;

	/* MHD closes the fd it was given with the response; several
	 * answers may read one file (it reads at offsets, not from the
	 * file position), each through its own descriptor. */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		r = -errno;
		http_request_fail(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		return r;
	}
	resp = MHD_create_response_from_fd64(size, dfd);
	if (!resp) {
		(void) close(dfd);
		http_request_fail(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
		return -ENOMEM;
	}
	mr = queue(req, MHD_HTTP_OK, resp, ctype, NULL, NULL);
	MHD_destroy_response(resp);
	deferred_resume(req, mr);
	return mr == MHD_YES ? 0 : -ENOMEM;
}

void http_request_fail(struct http_request *req, unsigned status, const char *text)
{
	deferred_resume(req, respond_text(req, status, text));
}

/* --- built-in routes --- */

static int healthz_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	(void) req;
	(void) ud;
	return buf_append(&resp->body, "ok\n", 3);
}

static int readyz_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct http_server *s = ud;
	char reason[256] = "";

	(void) req;
	if (!s->ready_cb || s->ready_cb(reason, sizeof(reason), s->ready_ud))
		return buf_append(&resp->body, "ready\n", 6);
	/* One line, whatever the callback wrote. */
	reason[strcspn(reason, "\r\n")] = '\0';
	resp->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	return buf_printf(&resp->body, "not ready: %s\n", reason[0] ? reason : "(no reason)");
}

static int metrics_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	struct http_server *s = ud;

	(void) req;
	if (!s->metrics) {
		resp->status = MHD_HTTP_NOT_FOUND;
		return buf_append(&resp->body, "no metrics\n", 11);
	}
	resp->content_type = METRICS_CONTENT_TYPE;
	return metrics_render(s->metrics, &resp->body);
}

/* --- routing --- */

static bool is_get(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

int http_server_route(struct http_server *s, const char *method, const char *path, unsigned flags,
		      http_handler_fn *fn, void *ud)
{
	struct http_route *rt;

	if (path[0] != '/' || !method[0] || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return -EINVAL;
	if ((flags & HTTP_ROUTE_READ_ONLY) && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return -EINVAL;
	for (size_t i = 0; i < s->n_routes; i++)
		if (strcmp(s->routes[i].path, path) == 0 &&
		    strcmp(s->routes[i].method, method) == 0)
			return -EEXIST;
	if (s->n_routes == s->cap_routes) {
		rt = vec_grow(s->routes, &s->cap_routes, s->n_routes + 1, sizeof(*rt));
		if (!rt)
			return -ENOMEM;
		s->routes = rt;
	}
	rt = &s->routes[s->n_routes];
	*rt = (struct http_route){ .flags = flags, .fn = fn, .ud = ud };
	rt->method = strdup(method);
	rt->path = strdup(path);
	if (!rt->method || !rt->path) {
		free(rt->method);
		free(rt->path);
		return -ENOMEM;
	}
	s->n_routes++;
	return 0;
}

/*
 * The route for @req, or NULL with a refusal queued (*ret_mhd: whether
 * queueing worked).  On the TCP listener any verb but GET and HEAD is 405
 * and a route that is not read-only is 403; on both, an unknown path is
 * 404 and a known path without this verb 405, with Allow naming the verbs
 * this listener serves there.
 */
static const struct http_route *route_pick(struct http_request *req, enum MHD_Result *ret_mhd)
{
	static const char ro_verb[] = "read-only listener: this verb is served on the control "
				      "socket only\n";
	static const char no_verb[] = "method not allowed\n";
	struct http_server *s = req->lis->srv;
	bool control = req->lis->control;
	const char *want = strcmp(req->method, MHD_HTTP_METHOD_HEAD) == 0 ? MHD_HTTP_METHOD_GET :
									    req->method;
	const struct http_route *hit = NULL;
	char allow[128] = "";
	bool known = false;
	size_t n = 0;

	for (size_t i = 0; i < s->n_routes; i++) {
		const struct http_route *rt = &s->routes[i];
		bool get;
		int w;

		if (strcmp(rt->path, req->path) != 0)
			continue;
		known = true;
		if (strcmp(rt->method, want) == 0)
			hit = rt;
		if (!control && !(rt->flags & HTTP_ROUTE_READ_ONLY))
			continue;
		get = strcmp(rt->method, MHD_HTTP_METHOD_GET) == 0;
		w = snprintf(allow + n, sizeof(allow) - n, "%s%s%s", n ? ", " : "", rt->method,
			     get ? ", HEAD" : "");
		if (w > 0 && (size_t) w < sizeof(allow) - n)
			n += (size_t) w;
	}
	if (!control && !is_get(req->method)) {
		*ret_mhd = respond(req, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, (char *) ro_verb,
				   strlen(ro_verb), false, n ? allow : "GET, HEAD", NULL);
		return NULL;
	}
	if (!known) {
		*ret_mhd = respond_text(req, MHD_HTTP_NOT_FOUND, "not found\n");
		return NULL;
	}
	if (!hit) {
		*ret_mhd = respond(req, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, (char *) no_verb,
				   strlen(no_verb), false, allow, NULL);
		return NULL;
	}
	if (!control && !(hit->flags & HTTP_ROUTE_READ_ONLY)) {
		*ret_mhd = respond_text(req, MHD_HTTP_FORBIDDEN,
					"forbidden: served on the control socket only\n");
		return NULL;
	}
	return hit;
}

static enum MHD_Result run_handler(struct http_request *req)
{
	struct http_response resp = { .status = MHD_HTTP_OK };
	const struct http_route *rt = req->route;
	char *body;
	size_t len;
	int r;

	buf_init(&resp.body, HTTP_RESPONSE_MAX);
	r = rt->fn(req, &resp, rt->ud);
	if (req->deferred) {
		buf_done(&resp.body);
		if (r == 0) {
			MHD_suspend_connection(req->conn);
			return MHD_YES;
		}
		undefer(req);
	}
	if (r < 0) {
		buf_done(&resp.body);
		(void) log_errno(LOG_WARNING, r, "http: %s %s failed", req->method, req->path);
		return respond_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
	}
	len = resp.body.len;
	body = buf_steal(&resp.body);
	return respond(req, resp.status, resp.content_type, body ? body : (char *) "", len, !!body,
		       NULL, resp.headers);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct http_listener *lis = cls;
	struct http_request *req = *con_cls;
	enum MHD_Result mr = MHD_YES;
	const char *cl;
	uint64_t clen;
	char *end;

	(void) version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->lis = lis;
		req->conn = conn;
		req->method = method;
		req->path = url;
		buf_init(&req->body, lis->srv->body_max);
		*con_cls = req;
		req->route = route_pick(req, &mr);
		if (!req->route)
			return mr;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			errno = 0;
			clen = strtoull(cl, &end, 10);
			/* A body a little over the limit is read and thrown
			 * away, like a chunked one, so that the client (which
			 * may be writing it already) reads its 413 instead of
			 * a reset; far over, it is refused before the body. */
			if (errno == 0 && end != cl && clen > lis->srv->body_max) {
				if (clen > HTTP_DISCARD_FACTOR * lis->srv->body_max)
					return respond_text(req, MHD_HTTP_CONTENT_TOO_LARGE,
							    "request body too large\n");
				req->too_big = true;
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (req->answered)
			return MHD_YES;
		if (!req->too_big) {
			int r = buf_append(&req->body, upload_data, n);

			if (r == 0)
				return MHD_YES;
			if (r != -E2BIG)
				return MHD_NO; /* out of memory: drop the connection */
		}
		req->too_big = true;
		req->discarded += n;
		return req->discarded > HTTP_DISCARD_FACTOR * lis->srv->body_max ? MHD_NO : MHD_YES;
	}
	if (req->drop)
		return MHD_NO;
	if (req->answered)
		return MHD_YES;
	if (req->too_big)
		return respond_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
	return run_handler(req);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;

	(void) cls;
	(void) conn;
	(void) toe;
	if (!req)
		return;
	if (req->deferred) /* never: the server answers them before stopping */
		undefer(req);
	buf_done(&req->body);
	free(req);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void) cls;
	if (LOG_DEBUG > log_max_level)
		return;
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	log_debug("http: libmicrohttpd: %s", msg);
}

/* --- the loop --- */

static void timer_update(struct http_server *s)
{
	struct http_listener *ls[] = { &s->sock, &s->tcp };
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < BH_ARRAY_SIZE(ls); i++) {
		MHD_UNSIGNED_LONG_LONG t;

		if (ls[i]->d && MHD_get_timeout(ls[i]->d, &t) == MHD_YES && t < best)
			best = t;
	}
	if (best == UINT64_MAX)
		loop_timer_disarm(&s->timer);
	else if (loop_timer_arm_in(&s->timer, best) < 0)
		/* No room in the heap: MHD's next fd event runs it instead;
		 * only idle-connection timeouts wait longer. */
		log_warning("http: cannot arm the timer, ignoring");
}

static unsigned connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/*
 * At the connection limit MHD takes the listening socket out of its epoll
 * set, and puts it back only at the start of the next MHD_run(), while
 * closed connections are counted off at the end of one.  Nothing would call
 * that next MHD_run() when the last connections close (no fd event, no
 * timeout), and clients waiting in the backlog would wait for ever; so
 * when connections closed during a run, run once more.
 */
static void listener_run(struct http_listener *lis)
{
	unsigned before = connections(lis->d);

	(void) MHD_run(lis->d);
	if (connections(lis->d) < before)
		(void) MHD_run(lis->d);
}

static void listener_io_cb(struct loop_io *io, uint32_t revents)
{
	struct http_listener *lis = LOOP_CONTAINER_OF(io, struct http_listener, io);

	(void) revents;
	listener_run(lis);
	timer_update(lis->srv);
}

static void timer_cb(struct loop_timer *t)
{
	struct http_server *s = LOOP_CONTAINER_OF(t, struct http_server, timer);

	if (s->sock.d)
		listener_run(&s->sock);
	if (s->tcp.d)
		listener_run(&s->tcp);
	timer_update(s);
}

/* --- listening sockets --- */

static int unix_listen(struct http_server *s, const char *path, int *ret_fd, struct bh_err *reterr)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd = -1, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return bh_err_set(reterr, BH_ERR_INPUT, -ENAMETOOLONG,
				  "socket '%s': path longer than %zu bytes", path,
				  sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return bh_err_set(
				reterr, BH_ERR_SYSTEM, -ENOTSOCK,
				"socket '%s': exists and is not a socket, not removing it", path);
		/* A socket file: stale if nothing accepts on it.  Non-blocking,
		 * so a live agent with a full backlog (EAGAIN) counts as live. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "socket '%s': %s", path,
					  strerror(errno));
		r = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 ? 0 : -errno;
		(void) close(fd);
		if (r == 0 || r == -EAGAIN)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EADDRINUSE,
					  "socket '%s': another process serves it (an agent "
					  "already running?)",
					  path);
		if (r != -ECONNREFUSED)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "socket '%s': %s", path,
					  strerror(-r));
		if (unlink(path) < 0 && errno != ENOENT)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno,
					  "socket '%s': removing the stale socket: %s", path,
					  strerror(errno));
		log_info("http: removed the stale socket '%s'", path);
	} else if (errno != ENOENT) {
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "socket '%s': %s", path,
				  strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "socket '%s': %s", path,
				  strerror(errno));
	/* The file gets its mode at bind(): with umask 0177 it is 0600 from
	 * the first moment, so there is no window in which others could
	 * connect.  The process is single-threaded at start-up, when this
	 * runs, so the process-wide umask change races with nothing. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 ? 0 : -errno;
	(void) umask(old);
	if (r == 0 && lstat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
		s->sock_made = true;
	}
	if (r == 0 && listen(fd, HTTP_BACKLOG) < 0)
		r = -errno;
	if (r < 0) {
		(void) close(fd);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "socket '%s': %s", path, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" (any IPv4 address). */
static int tcp_listen(struct http_server *s, const char *spec, int *ret_fd, struct bh_err *reterr)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN + 2];
	struct addrinfo *ai = NULL;
	const char *colon, *port;
	unsigned long pv;
	char *end;
	int fd = -1, one = 1, r;
	size_t hl;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		hl = (size_t) (rb - spec - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t) (colon - spec) >= sizeof(host))
			goto bad;
		hl = (size_t) (colon - spec);
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	port = colon + 1;
	errno = 0;
	pv = strtoul(port, &end, 10);
	if (!*port || *end || errno || pv > 65535 || port[0] == '-' || port[0] == '+')
		goto bad;
	if (getaddrinfo(hl ? host : "0.0.0.0", port, &hints, &ai) != 0 || !ai)
		goto bad;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, HTTP_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *) &ss, &sl) < 0) {
		r = -errno;
		goto fail;
	}
	s->tcp_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port :
						       ((struct sockaddr_in *) &ss)->sin_port);
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;

bad:
	if (ai)
		freeaddrinfo(ai);
	return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			  "--listen '%s': expected ADDR:PORT (an IP address, [IPv6] in brackets, "
			  "and a port 0..65535)",
			  spec);
fail:
	if (fd >= 0)
		(void) close(fd);
	freeaddrinfo(ai);
	return bh_err_set(reterr, BH_ERR_SYSTEM, r, "--listen '%s': %s", spec, strerror(-r));
}

static int listener_start(struct http_server *s, struct http_listener *lis, int fd, bool control,
			  const struct http_server_opts *o, const char *what, struct bh_err *reterr)
{
	const union MHD_DaemonInfo *info;
	int r;

	lis->srv = s;
	lis->control = control;
	lis->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0,
				  NULL, NULL, access_cb, lis, MHD_OPTION_EXTERNAL_LOGGER,
				  mhd_log_cb, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned) (o->conn_max ? o->conn_max : HTTP_CONN_MAX_DEFAULT),
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned) (o->timeout_s ? o->timeout_s : HTTP_TIMEOUT_S_DEFAULT),
				  MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL, MHD_OPTION_END);
	if (!lis->d) {
		(void) close(fd);
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO,
				  "%s: libmicrohttpd could not start on it", what);
	}
	info = MHD_get_daemon_info(lis->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "%s: libmicrohttpd has no epoll fd",
				  what);
	r = loop_io_add(s->loop, &lis->io, info->epoll_fd, EPOLLIN, listener_io_cb);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s: epoll: %s", what, strerror(-r));
	return 0;
}

int http_server_new(struct loop *l, const struct http_server_opts *o, struct http_server **ret,
		    struct bh_err *reterr)
{
	struct http_server *s;
	char what[256];
	int fd = -1, r;

	if (!o->socket_path)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "http: no socket path");
	s = calloc(1, sizeof(*s));
	if (!s)
		return bh_err_oom(reterr);
	s->loop = l;
	loop_timer_init(&s->timer, l, timer_cb);
	s->body_max = o->body_max ? o->body_max : HTTP_BODY_MAX_DEFAULT;
	s->metrics = o->metrics;
	s->ready_cb = o->ready_cb;
	s->ready_ud = o->ready_ud;
	s->socket_path = strdup(o->socket_path);
	if (!s->socket_path) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	r = http_server_route(s, "GET", "/healthz", HTTP_ROUTE_READ_ONLY, healthz_cb, s);
	if (r == 0)
		r = http_server_route(s, "GET", "/readyz", HTTP_ROUTE_READ_ONLY, readyz_cb, s);
	if (r == 0)
		r = http_server_route(s, "GET", "/metrics", HTTP_ROUTE_READ_ONLY, metrics_cb, s);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	r = unix_listen(s, o->socket_path, &fd, reterr);
	if (r < 0)
		goto fail;
	(void) snprintf(what, sizeof(what), "socket '%s'", o->socket_path);
	r = listener_start(s, &s->sock, fd, true, o, what, reterr);
	if (r < 0)
		goto fail;
	if (o->listen_addr) {
		r = tcp_listen(s, o->listen_addr, &fd, reterr);
		if (r < 0)
			goto fail;
		(void) snprintf(what, sizeof(what), "--listen '%s'", o->listen_addr);
		r = listener_start(s, &s->tcp, fd, false, o, what, reterr);
		if (r < 0)
			goto fail;
	}
	timer_update(s);
	*ret = s;
	return 0;

fail:
	http_server_free(s);
	return r;
}

static void listener_stop(struct http_listener *lis)
{
	loop_io_remove(&lis->io);
	if (lis->d)
		MHD_stop_daemon(lis->d);
	lis->d = NULL;
}

struct http_server *http_server_free(struct http_server *s)
{
	struct stat st;

	if (!s)
		return NULL;
	/* MHD_stop_daemon() must find no connection suspended, and a
	 * resumed one leaves suspension in the next MHD_run() only. */
	while (s->deferred)
		http_request_fail(s->deferred, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "the agent is stopping\n");
	if (s->sock.d)
		(void) MHD_run(s->sock.d);
	if (s->tcp.d)
		(void) MHD_run(s->tcp.d);
	loop_timer_disarm(&s->timer);
	listener_stop(&s->tcp);
	listener_stop(&s->sock);
	/* Only the file we bound: a new agent may have replaced it since. */
	if (s->sock_made && lstat(s->socket_path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		(void) unlink(s->socket_path);
	for (size_t i = 0; i < s->n_routes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
	}
	free(s->routes);
	free(s->socket_path);
	free(s);
	return NULL;
}
