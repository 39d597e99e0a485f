/*
 * unit.http_server: the agent's HTTP server on a loop in this process,
 * with libcurl clients in a second thread (the server is loop-thread only;
 * the main thread runs the loop until the client thread is done).
 *
 *   - built-in routes on the socket: /healthz, /readyz (both answers),
 *     /metrics (its content type, and `promtool check metrics` on it),
 *     HEAD, 404, 405 with Allow, a handler's error as 500;
 *   - the socket file: mode 0600, a stale one replaced, a live one and a
 *     regular file refused (and left alone), removed on free;
 *   - the TCP listener read-only: a write verb refused (405) and never
 *     reaching its handler, a route that is not read-only 403, the
 *     read-only routes served; the same write verb accepted on the socket;
 *   - request bodies over the limit: 413 with a Content-Length and chunked,
 *     the limit itself accepted;
 *   - deferred answers: two requests suspended while /healthz is answered,
 *     then both answered from one file (read at offsets), a third failed
 *     with 503;
 *   - 200 concurrent connections on both listeners, all answered; an idle
 *     connection closed after the timeout (MHD's timer on the loop); past
 *     the connection limit a client waits, and is served once one closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "clock.h"
#include "http_server.h"
#include "loop.h"
#include "metrics.h"

extern char **environ;

#define BODY_MAX 1024

struct fixture {
	char dir[64];
	char sock[128];
	char base[64]; /* http://127.0.0.1:PORT */
	struct loop *loop;
	struct metrics_registry *reg;
	struct http_server *srv;
	atomic_bool ready;
	/* What the handlers saw (read after the client thread is joined). */
	int enforce_calls;
	char enforce_body[BODY_MAX + 1];
	/* Deferred requests (loop thread), and whether they were answered
	 * (read by the client thread). */
	struct http_request *slow[4];
	int n_slow;
	struct loop_timer slow_timer;
	atomic_bool slow_answered;
	/* The client thread. */
	void (*client)(struct fixture *f);
	struct loop_io done_io;
	int done_fd;
};

struct reply {
	long code;
	char body[8192];
	size_t len;
	char ctype[256];
	char allow[256];
	CURLcode cc;
	void *ctx; /* the fixture, for a request in a thread of its own */
};

static struct reply replies[16];

/* --- the client side (client thread) --- */

static size_t body_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Content-Type: ", 14) == 0)
		(void) snprintf(r->ctype, sizeof(r->ctype), "%s", line + 14);
	if (strncasecmp(line, "Allow: ", 7) == 0)
		(void) snprintf(r->allow, sizeof(r->allow), "%s", line + 7);
	return len;
}

/* A configured easy handle: @path on the socket (@tcp false) or TCP. */
static CURL *easy_new(struct fixture *f, bool tcp, const char *method, const char *path,
		      struct reply *r)
{
	CURL *e = curl_easy_init();
	char url[256];

	assert_non_null(e);
	memset(r, 0, sizeof(*r));
	(void) snprintf(url, sizeof(url), "%s%s", tcp ? f->base : "http://localhost", path);
	if (!tcp)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, f->sock);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	return e;
}

static void easy_done(CURL *e, struct reply *r)
{
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_cleanup(e);
}

static void req(struct fixture *f, bool tcp, const char *method, const char *path, struct reply *r)
{
	CURL *e = easy_new(f, tcp, method, path, r);

	r->cc = curl_easy_perform(e);
	easy_done(e, r);
}

/* A request with a body of @n bytes of 'x': with a Content-Length, or
 * chunked (no length known in advance). */
struct upload {
	size_t left;
};

static size_t read_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = sz * n < u->left ? sz * n : u->left;

	memset(p, 'x', len);
	u->left -= len;
	return len;
}

static void req_body(struct fixture *f, bool tcp, const char *path, size_t n, bool chunked,
		     struct reply *r)
{
	CURL *e = easy_new(f, tcp, "POST", path, r);
	struct curl_slist *h = NULL;
	struct upload u = { .left = n };

	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, &u);
	if (chunked) {
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
	} else {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) n);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	r->cc = curl_easy_perform(e);
	easy_done(e, r);
	curl_slist_free_all(h);
}

static void *client_main(void *ud)
{
	struct fixture *f = ud;
	uint64_t one = 1;

	f->client(f);
	if (write(f->done_fd, &one, sizeof(one)) != (ssize_t) sizeof(one))
		abort(); /* the loop would wait for ever */
	return NULL;
}

static void done_cb(struct loop_io *io, uint32_t revents)
{
	uint64_t v;

	(void) revents;
	(void) read(io->fd, &v, sizeof(v));
	loop_exit(io->loop, 0);
}

/*
 * Runs @client in a thread while this thread runs the loop.  Assertions
 * in the client thread are only reported after the join, so the client
 * records and the test asserts here: a failed cmocka assertion in another
 * thread would longjmp across threads.
 */
static void run_client(struct fixture *f, void (*client)(struct fixture *f))
{
	pthread_t t;
	int r;

	f->client = client;
	assert_int_equal(pthread_create(&t, NULL, client_main, f), 0);
	r = loop_run(f->loop);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r, 0);
}

/* --- the server side --- */

static bool ready_cb(char *reason, size_t len, void *ud)
{
	struct fixture *f = ud;

	if (!f->ready)
		(void) snprintf(reason, len, "state directory '/x' is read-only\nsecond line");
	return f->ready;
}

static int status_cb(const struct http_request *rq, struct http_response *resp, void *ud)
{
	(void) rq;
	(void) ud;
	resp->content_type = "application/json";
	return buf_printf(&resp->body, "{\"version\": 1}\n");
}

static int enforce_cb(const struct http_request *rq, struct http_response *resp, void *ud)
{
	struct fixture *f = ud;
	const char *b;
	size_t n;

	b = http_request_body(rq, &n);
	f->enforce_calls++;
	memcpy(f->enforce_body, b, n < BODY_MAX ? n : BODY_MAX);
	f->enforce_body[n < BODY_MAX ? n : BODY_MAX] = '\0';
	resp->status = 202;
	return buf_printf(&resp->body, "accepted %zu on %s\n", n,
			  http_request_on_socket(rq) ? "socket" : "tcp");
}

static int fail_cb(const struct http_request *rq, struct http_response *resp, void *ud)
{
	(void) rq;
	(void) resp;
	(void) ud;
	return -EIO;
}

/* /slow: deferred; the second one arms the timer that answers both. */
static int slow_cb(const struct http_request *rq, struct http_response *resp, void *ud)
{
	struct fixture *f = ud;

	(void) resp;
	if (f->n_slow >= 4)
		return -EBUSY;
	f->slow[f->n_slow++] = http_request_defer(rq);
	if (f->n_slow == 2)
		assert_int_equal(loop_timer_arm_in(&f->slow_timer, 300), 0);
	return 0;
}

static void slow_timer_cb(struct loop_timer *t)
{
	struct fixture *f = LOOP_CONTAINER_OF(t, struct fixture, slow_timer);
	static const char text[] = "the slow answer\n";
	int fd = memfd_create("slow", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t) sizeof(text) - 1);
	atomic_store(&f->slow_answered, true);
	assert_int_equal(http_request_answer_fd(f->slow[0], "text/x-slow", fd, sizeof(text) - 1),
			 0);
	assert_int_equal(http_request_answer_fd(f->slow[1], "text/x-slow", fd, sizeof(text) - 1),
			 0);
	(void) close(fd);
}

/* /slowfail: deferred, failed with 503 right after the handler. */
static void slowfail_timer_cb(struct loop_timer *t)
{
	struct fixture *f = LOOP_CONTAINER_OF(t, struct fixture, slow_timer);

	http_request_fail(f->slow[f->n_slow - 1], 503, "later, maybe\n");
}

static int slowfail_cb(const struct http_request *rq, struct http_response *resp, void *ud)
{
	struct fixture *f = ud;

	(void) resp;
	f->slow[f->n_slow++] = http_request_defer(rq);
	loop_timer_init(&f->slow_timer, f->loop, slowfail_timer_cb);
	assert_int_equal(loop_timer_arm_in(&f->slow_timer, 0), 0);
	return 0;
}

static int server_start(struct fixture *f, unsigned conn_max, struct bh_err *err)
{
	struct http_server_opts o = {
		.socket_path = f->sock,
		.listen_addr = "127.0.0.1:0",
		.body_max = BODY_MAX,
		.conn_max = conn_max,
		.timeout_s = 2,
		.metrics = f->reg,
		.ready_cb = ready_cb,
		.ready_ud = f,
	};
	int r;

	r = http_server_new(f->loop, &o, &f->srv, err);
	if (r < 0)
		return r;
	(void) snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u",
			http_server_tcp_port(f->srv));
	assert_int_equal(http_server_route(f->srv, "GET", "/status", 0, status_cb, f), 0);
	assert_int_equal(http_server_route(f->srv, "POST", "/enforce", 0, enforce_cb, f), 0);
	assert_int_equal(
		http_server_route(f->srv, "GET", "/fail", HTTP_ROUTE_READ_ONLY, fail_cb, f), 0);
	assert_int_equal(http_server_route(f->srv, "GET", "/slow", 0, slow_cb, f), 0);
	assert_int_equal(http_server_route(f->srv, "GET", "/slowfail", 0, slowfail_cb, f), 0);
	loop_timer_init(&f->slow_timer, f->loop, slow_timer_cb);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct metrics_family *fams[_METRICS_AGENT_MAX];
	struct bh_err err = { 0 };

	assert_non_null(f);
	memset(replies, 0, sizeof(replies));
	(void) snprintf(f->dir, sizeof(f->dir), "/tmp/bh-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void) snprintf(f->sock, sizeof(f->sock), "%s/agent.sock", f->dir);
	assert_int_equal(loop_new(&f->loop, &err), 0);
	f->reg = metrics_registry_new(0);
	assert_non_null(f->reg);
	assert_int_equal(metrics_agent_register(f->reg, fams, &err), 0);
	f->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->done_fd >= 0);
	assert_int_equal(loop_io_add(f->loop, &f->done_io, f->done_fd, EPOLLIN, done_cb), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http_server_free(f->srv);
	loop_io_remove(&f->done_io);
	(void) close(f->done_fd);
	loop_free(f->loop);
	metrics_registry_free(f->reg);
	(void) unlink(f->sock);
	(void) rmdir(f->dir);
	free(f);
	return 0;
}

/* --- tests --- */

static void routes_client(struct fixture *f)
{
	req(f, false, "GET", "/healthz", &replies[0]);
	req(f, false, "GET", "/readyz", &replies[1]);
	f->ready = true; /* read by the loop thread only after the next request */
	req(f, false, "GET", "/readyz", &replies[2]);
	req(f, false, "GET", "/metrics", &replies[3]);
	req(f, false, "GET", "/nope", &replies[4]);
	req(f, false, "GET", "/status", &replies[5]);
	req(f, false, "HEAD", "/healthz", &replies[6]);
	req(f, false, "DELETE", "/healthz", &replies[7]);
	req(f, false, "GET", "/fail", &replies[8]);
	req(f, false, "GET", "/status?x=1", &replies[9]);
}

static void routes_on_socket(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };

	assert_int_equal(server_start(f, 0, &err), 0);
	run_client(f, routes_client);
	for (int i = 0; i < 10; i++)
		assert_int_equal(replies[i].cc, CURLE_OK);
	assert_int_equal(replies[0].code, 200);
	assert_string_equal(replies[0].body, "ok\n");
	assert_int_equal(replies[1].code, 503);
	assert_string_equal(replies[1].body, "not ready: state directory '/x' is read-only\n");
	assert_int_equal(replies[2].code, 200);
	assert_string_equal(replies[2].body, "ready\n");
	assert_int_equal(replies[3].code, 200);
	assert_string_equal(replies[3].ctype, METRICS_CONTENT_TYPE);
	assert_non_null(strstr(replies[3].body, "# TYPE bulkhead_flows_evicted_total counter\n"
						"bulkhead_flows_evicted_total 0\n"));
	assert_int_equal(replies[4].code, 404);
	assert_int_equal(replies[5].code, 200);
	assert_string_equal(replies[5].ctype, "application/json");
	assert_string_equal(replies[5].body, "{\"version\": 1}\n");
	assert_int_equal(replies[6].code, 200);
	assert_int_equal(replies[6].len, 0);
	assert_int_equal(replies[7].code, 405);
	assert_string_equal(replies[7].allow, "GET, HEAD");
	assert_int_equal(replies[8].code, 500);
	assert_int_equal(replies[9].code, 200);
}

static void *slow_main(void *ud)
{
	struct reply *r = ud;
	struct fixture *f = (struct fixture *) r->ctx;

	req(f, false, "GET", "/slow", r);
	return NULL;
}

static bool healthz_while_slow;

static void deferred_client(struct fixture *f)
{
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		replies[i].ctx = f;
		if (pthread_create(&t[i], NULL, slow_main, &replies[i]) != 0)
			abort();
	}
	usleep(100 * 1000);
	req(f, false, "GET", "/healthz", &replies[2]);
	healthz_while_slow = !atomic_load(&f->slow_answered);
	for (int i = 0; i < 2; i++)
		(void) pthread_join(t[i], NULL);
	req(f, false, "GET", "/slowfail", &replies[3]);
}

static void deferred(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };

	assert_int_equal(server_start(f, 0, &err), 0);
	run_client(f, deferred_client);
	assert_true(healthz_while_slow);
	assert_int_equal(replies[2].code, 200);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(replies[i].cc, CURLE_OK);
		assert_int_equal(replies[i].code, 200);
		assert_string_equal(replies[i].ctype, "text/x-slow");
		assert_string_equal(replies[i].body, "the slow answer\n");
	}
	assert_int_equal(replies[3].code, 503);
	assert_string_equal(replies[3].body, "later, maybe\n");
	assert_int_equal(http_server_requests(f->srv), 4);
}

static void socket_file(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bh_err err = { 0 };
	struct http_server *other = NULL;
	struct http_server_opts o = { .socket_path = f->sock };
	struct stat st;
	int fd;

	/* A stale socket: bound by a process that is gone (closed here). */
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(chmod(f->sock, 0666), 0);
	close(fd);
	assert_int_equal(server_start(f, 0, &err), 0);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A live one: refused, naming the socket, and left working. */
	assert_int_equal(http_server_new(f->loop, &o, &other, &err), -EADDRINUSE);
	assert_null(other);
	assert_non_null(strstr(err.msg, f->sock));
	assert_non_null(strstr(err.msg, "another process serves it"));
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	/* Freed: the file is gone.  A regular file in its place is refused
	 * and kept. */
	f->srv = http_server_free(f->srv);
	assert_int_equal(lstat(f->sock, &st), -1);
	fd = open(f->sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	memset(&err, 0, sizeof(err));
	assert_int_equal(http_server_new(f->loop, &o, &other, &err), -ENOTSOCK);
	assert_non_null(strstr(err.msg, "not a socket"));
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);

	/* A listen address that is not one: input error naming it. */
	assert_int_equal(unlink(f->sock), 0);
	o.listen_addr = "localhost:9464";
	assert_int_equal(http_server_new(f->loop, &o, &other, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "--listen 'localhost:9464'"));
	assert_int_equal(lstat(f->sock, &st), -1); /* nothing left behind */
}

static void tcp_client(struct fixture *f)
{
	req(f, true, "POST", "/enforce", &replies[0]);
	req(f, true, "GET", "/status", &replies[1]);
	req(f, true, "GET", "/healthz", &replies[2]);
	req(f, true, "GET", "/metrics", &replies[3]);
	req(f, true, "PUT", "/metrics", &replies[4]);
	req(f, true, "DELETE", "/nope", &replies[5]);
	req(f, true, "GET", "/nope", &replies[6]);
	req_body(f, true, "/enforce", 10, false, &replies[7]);
	req_body(f, false, "/enforce", 10, false, &replies[8]);
	req(f, false, "GET", "/enforce", &replies[9]);
}

static void tcp_read_only(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };

	assert_int_equal(server_start(f, 0, &err), 0);
	run_client(f, tcp_client);
	assert_int_equal(replies[0].code, 405);
	assert_int_equal(replies[1].code, 403);
	assert_int_equal(replies[2].code, 200);
	assert_int_equal(replies[3].code, 200);
	assert_int_equal(replies[4].code, 405);
	assert_string_equal(replies[4].allow, "GET, HEAD");
	assert_int_equal(replies[5].code, 405);
	assert_int_equal(replies[6].code, 404);
	assert_int_equal(replies[7].code, 405);
	/* Only the request on the socket reached the handler. */
	assert_int_equal(replies[8].code, 202);
	assert_string_equal(replies[8].body, "accepted 10 on socket\n");
	assert_int_equal(f->enforce_calls, 1);
	assert_string_equal(f->enforce_body, "xxxxxxxxxx");
	assert_int_equal(replies[9].code, 405);
	assert_string_equal(replies[9].allow, "POST");
}

static void body_client(struct fixture *f)
{
	req_body(f, false, "/enforce", 4 * BODY_MAX, false, &replies[0]);
	req_body(f, false, "/enforce", 2 * BODY_MAX, true, &replies[1]);
	req_body(f, false, "/enforce", BODY_MAX, false, &replies[2]);
	req_body(f, false, "/enforce", BODY_MAX + 1, true, &replies[3]);
	req_body(f, false, "/enforce", 100 * BODY_MAX, true, &replies[4]);
	req(f, false, "GET", "/healthz", &replies[5]);
}

static void body_limit(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };

	assert_int_equal(server_start(f, 0, &err), 0);
	run_client(f, body_client);
	assert_int_equal(replies[0].code, 413);
	assert_int_equal(replies[1].code, 413);
	assert_int_equal(replies[2].code, 202);
	assert_int_equal(replies[3].code, 413);
	/* Far past the limit the connection is dropped: no answer, or 413. */
	assert_true(replies[4].code == 413 || replies[4].code == 0);
	assert_int_equal(replies[5].code, 200);
	assert_int_equal(f->enforce_calls, 1);
	assert_int_equal(strlen(f->enforce_body), BODY_MAX);
}

#define N_CONC 100

static atomic_int conc_ok;

static void conc_client(struct fixture *f)
{
	static struct reply rs[2 * N_CONC];
	CURL *es[2 * N_CONC];
	CURLM *m = curl_multi_init();
	int running = 1;

	/* One connection per transfer: no reuse, no multiplexing. */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	for (int i = 0; i < 2 * N_CONC; i++) {
		es[i] = easy_new(f, i % 2, "GET", i % 4 < 2 ? "/healthz" : "/metrics", &rs[i]);
		curl_easy_setopt(es[i], CURLOPT_FORBID_REUSE, 1L);
		curl_multi_add_handle(m, es[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int i = 0; i < 2 * N_CONC; i++) {
		curl_multi_remove_handle(m, es[i]);
		easy_done(es[i], &rs[i]);
		if (rs[i].code == 200 && rs[i].len > 0)
			atomic_fetch_add(&conc_ok, 1);
	}
	curl_multi_cleanup(m);
}

static void many_connections(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };

	assert_int_equal(server_start(f, 2 * N_CONC, &err), 0);
	atomic_store(&conc_ok, 0);
	run_client(f, conc_client);
	assert_int_equal(atomic_load(&conc_ok), 2 * N_CONC);
	assert_true(http_server_requests(f->srv) >= 2 * N_CONC);
}

static atomic_int idle_closed_ms;
static atomic_int limit_waited, limit_served;
static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/* Reads what arrives within @ms into @buf: its length, 0 when nothing
 * came, -1 on EOF or error before anything came. */
static int read_answer(int fd, int ms, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char scratch[64];
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = buf ? read(fd, buf, len - 1) : read(fd, scratch, sizeof(scratch));
	if (n <= 0)
		return -1;
	if (buf)
		buf[n] = '\0';
	return (int) n;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF or @ms pass; the ms it took, or -1 on timeout. */
static int wait_eof(int fd, int ms)
{
	uint64_t t0 = clock_mono_ms();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256];

	while ((int) (clock_mono_ms() - t0) < ms) {
		if (poll(&p, 1, 100) > 0) {
			ssize_t n = read(fd, b, sizeof(b));

			if (n <= 0)
				return (int) (clock_mono_ms() - t0);
		}
	}
	return -1;
}

static void idle_client(struct fixture *f)
{
	char answer[256];
	int fds[3];

	/* Idle: no request at all; the server closes it after timeout_s. */
	fds[0] = unix_connect(f->sock);
	atomic_store(&idle_closed_ms, fds[0] >= 0 ? wait_eof(fds[0], 6000) : -2);
	if (fds[0] >= 0)
		close(fds[0]);
	/* The limit is 2 connections: MHD stops accepting, so a third waits
	 * in the listen backlog unanswered, and is served once one closes. */
	fds[0] = unix_connect(f->sock);
	fds[1] = unix_connect(f->sock);
	usleep(200 * 1000); /* let the loop accept both */
	fds[2] = unix_connect(f->sock);
	atomic_store(&limit_waited,
		     fds[2] >= 0 && write(fds[2], get, strlen(get)) == (ssize_t) strlen(get) &&
			     read_answer(fds[2], 500, NULL, 0) == 0);
	close(fds[0]);
	close(fds[1]);
	atomic_store(&limit_served, fds[2] >= 0 &&
					    read_answer(fds[2], 2000, answer, sizeof(answer)) > 0 &&
					    strncmp(answer, "HTTP/1.1 200", 12) == 0);
	if (fds[2] >= 0)
		close(fds[2]);
	req(f, false, "GET", "/healthz", &replies[0]);
}

static void idle_and_limit(void **state)
{
	struct fixture *f = *state;
	struct bh_err err = { 0 };
	int ms;

	assert_int_equal(server_start(f, 2, &err), 0);
	run_client(f, idle_client);
	ms = atomic_load(&idle_closed_ms);
	/* timeout_s is 2; MHD counts whole seconds from the last activity. */
	assert_true(ms >= 1500 && ms < 5000);
	assert_true(atomic_load(&limit_waited));
	assert_true(atomic_load(&limit_served));
	assert_int_equal(replies[0].code, 200);
}

/* /metrics through promtool: the agent's families, plus label values
 * that need escaping and a histogram with observations. */
static void metrics_client(struct fixture *f)
{
	req(f, true, "GET", "/metrics", &replies[0]);
}

static int promtool_check(const char *path)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *) "promtool", (char *) "check", (char *) "metrics", NULL };
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, path, O_RDONLY, 0);
	if (posix_spawnp(&pid, "promtool", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void metrics_promtool(void **state)
{
	struct fixture *f = *state;
	struct metrics_family *fams[_METRICS_AGENT_MAX];
	struct metrics_registry *reg = metrics_registry_new(0);
	struct metrics_series *s;
	struct bh_err err = { 0 };
	const char *v[] = { "ns \"quoted\"", "back\\slash\nnewline", "would_deny" };
	const char *kind[] = { "full" };
	char path[128];
	FILE *out;

	if (access("/usr/bin/promtool", X_OK) != 0 && !getenv("CI")) {
		print_message("promtool missing (scripts/install-deps.sh installs it)\n");
		metrics_registry_free(reg);
		skip();
	}
	assert_int_equal(metrics_agent_register(reg, fams, &err), 0);
	assert_int_equal(metrics_series_get(fams[METRICS_POLICY_PACKETS], v, &s), 0);
	metrics_counter_set(s, 42);
	assert_int_equal(metrics_series_get(fams[METRICS_RULESET_PROGRAM_SECONDS], kind, &s), 0);
	metrics_histogram_observe(s, 0.0017);
	metrics_histogram_observe(s, 1.2);
	metrics_histogram_observe(s, 99);
	assert_int_equal(metrics_series_get(fams[METRICS_FLOWS], NULL, &s), 0);
	metrics_gauge_set(s, 1e20);
	metrics_registry_free(f->reg);
	f->reg = reg;
	assert_int_equal(server_start(f, 0, &err), 0);
	run_client(f, metrics_client);
	assert_int_equal(replies[0].code, 200);
	assert_non_null(strstr(replies[0].body, "policy=\"back\\\\slash\\nnewline\""));
	(void) snprintf(path, sizeof(path), "%s/metrics.txt", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(fwrite(replies[0].body, 1, replies[0].len, out), replies[0].len);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(promtool_check(path), 0);
	/* promtool itself fails a broken exposition (the check can fail). */
	out = fopen(path, "w");
	assert_non_null(out);
	fputs("# TYPE x counter\nx{a=\"unterminated} 1\n", out);
	assert_int_equal(fclose(out), 0);
	assert_true(promtool_check(path) != 0);
	(void) unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(routes_on_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(tcp_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(many_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_promtool, setup, teardown),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
