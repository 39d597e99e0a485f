/*
 * HTTPS transport to the API server on libcurl's multi socket interface,
 * after curl's docs/examples/ephiperfifo.c: curl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); we keep the sockets in a private epoll fd that
 * the agent's loop watches as a single fd.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kube_client.h"
#include "kube_exec.h"
#include "log.h"
#include "str.h"

#define KUBE_TOKEN_MAX 65536
#define KUBE_CONNECT_TIMEOUT_S 10
#define KUBE_EPOLL_BATCH 32

struct kube_request {
	struct kube_client *c;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	kube_data_fn *data_cb;
	kube_done_fn *done_cb;
	void *ud;
	bool stopped; /* the data callback asked to stop */
	char errbuf[CURL_ERROR_SIZE];
	uint64_t exec_gen; /* of the exec credential sent */
	struct kube_request *prev, *next;
};

struct kube_client {
	struct kube_config *cfg;
	CURLM *multi;
	int epfd;
	uint64_t curl_due_ms; /* 0: no curl timeout pending */
	bool curl_due;
	struct kube_timer *timers; /* sorted by due_ms */
	struct kube_request *reqs;
	/* The bearer token and the identity of the file it came from. */
	char *token;
	struct stat token_st;
	bool token_stale;
	struct bh_err exec_err; /* why the last run failed, for the request */
};

static int curl_global(void)
{
	static bool done;

	/* curl_global_init is not thread-safe before 7.84; the agent calls us
	 * from its one thread only. */
	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		done = true;
	}
	return 0;
}

/* Re-reads the token file when it changed (kubelet rotates projected
 * service account tokens in place through a symlink swap) or after a 401. */
static int token_refresh(struct kube_client *c)
{
	struct stat st;
	char *t;
	size_t n;
	ssize_t got;
	int fd, r;

	if (!c->cfg->token_file)
		return 0;
	if (stat(c->cfg->token_file, &st) < 0)
		return -errno;
	if (c->token && !c->token_stale && st.st_ino == c->token_st.st_ino &&
	    st.st_size == c->token_st.st_size && st.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec)
		return 0;
	fd = open(c->cfg->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	t = malloc(KUBE_TOKEN_MAX + 1);
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	n = 0;
	while (n < KUBE_TOKEN_MAX) {
		got = read(fd, t + n, KUBE_TOKEN_MAX - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t) got;
	}
	r = got < 0 ? -errno : 0;
	close(fd);
	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		n--;
	t[n] = '\0';
	if (r < 0 || n == 0) {
		free(t);
		return r < 0 ? r : -ENODATA;
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = t;
	c->token_st = st;
	c->token_stale = false;
	log_debug("kube: token re-read from '%s'", c->cfg->token_file);
	return 0;
}

static int map_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		return -EPROTO;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static void describe(const struct kube_client *c, CURLcode cc, const char *errbuf, char *out,
		     size_t len)
{
	const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);

	if (map_curl(cc) == -EPROTO)
		(void) snprintf(out, len,
				"API server '%s': TLS verification failed (CA from %s%s%s): %s",
				c->cfg->server, c->cfg->ca_file ? "'" : "",
				c->cfg->ca_file ? c->cfg->ca_file :
				c->cfg->ca_data ? "certificate-authority-data" :
						  "the system bundle",
				c->cfg->ca_file ? "'" : "", detail);
	else
		(void) snprintf(out, len, "API server '%s': %s", c->cfg->server, detail);
}

/* Options common to the multi requests and the blocking calls. */
static int easy_setup(struct kube_client *c, CURL *e, const char *method, const char *path,
		      const char *body, size_t body_len, const char *ctype,
		      struct curl_slist **ret_hdrs, uint64_t *ret_gen, char *errbuf)
{
	const struct kube_exec_cred *xc = NULL;
	const char *token;
	struct curl_blob blob;
	struct curl_slist *h = NULL, *t;
	char *url = NULL, *line = NULL;
	int r = -ENOMEM;

	if (asprintf(&url, "%s%s", c->cfg->server, path) < 0) {
		url = NULL;
		goto out;
	}
	r = -EIO;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK)
		goto out;
	(void) curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	(void) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	(void) curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	(void) curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	(void) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long) KUBE_CONNECT_TIMEOUT_S);
	(void) curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	(void) curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	if (c->cfg->ca_file)
		(void) curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg->ca_file);
	if (c->cfg->ca_data) {
		blob = (struct curl_blob){ .data = c->cfg->ca_data,
					   .len = c->cfg->ca_data_len,
					   .flags = CURL_BLOB_NOCOPY };
		(void) curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cfg->cert_file)
		(void) curl_easy_setopt(e, CURLOPT_SSLCERT, c->cfg->cert_file);
	if (c->cfg->key_file)
		(void) curl_easy_setopt(e, CURLOPT_SSLKEY, c->cfg->key_file);
	if (c->cfg->cert_data) {
		blob = (struct curl_blob){ .data = c->cfg->cert_data,
					   .len = c->cfg->cert_data_len,
					   .flags = CURL_BLOB_NOCOPY };
		(void) curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
	}
	if (c->cfg->key_data) {
		blob = (struct curl_blob){ .data = c->cfg->key_data,
					   .len = c->cfg->key_data_len,
					   .flags = CURL_BLOB_NOCOPY };
		(void) curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
	}
	if (method && strcmp(method, "GET") != 0)
		(void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		(void) curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
		(void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}

	r = -ENOMEM;
	t = curl_slist_append(h, "Accept: application/json");
	if (!t)
		goto out;
	h = t;
	if (ctype) {
		if (asprintf(&line, "Content-Type: %s", ctype) < 0) {
			line = NULL;
			goto out;
		}
		t = curl_slist_append(h, line);
		free(line);
		line = NULL;
		if (!t)
			goto out;
		h = t;
	}
	if (c->cfg->token_file) {
		int tr = token_refresh(c);

		/* Keep the token we had when the file is unreadable for a
		 * moment (a rotation in progress); log without the value. */
		if (tr < 0)
			log_warning("kube: cannot read token file '%s': %s, using the previous "
				    "token",
				    c->cfg->token_file, strerror(-tr));
	}
	if (c->cfg->exec) {
		/* Runs the plugin (blocking: kubectl blocks too, and a
		 * plugin answers from its own cache in milliseconds) when the
		 * credential expired or was refused with 401.  A failure
		 * fails this request; kube_client_new() reported the first
		 * run's failure in full. */
		r = kube_exec_get(c->cfg->exec, false, &xc, ret_gen, &c->exec_err);
		if (r < 0) {
			log_warning("kube: %s", c->exec_err.msg);
			(void) snprintf(errbuf, CURL_ERROR_SIZE, "%.*s", CURL_ERROR_SIZE - 1,
					c->exec_err.msg);
			goto out;
		}
		if (xc->cert_data) {
			blob = (struct curl_blob){ .data = xc->cert_data,
						   .len = xc->cert_data_len,
						   .flags = CURL_BLOB_COPY };
			(void) curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
			blob = (struct curl_blob){ .data = xc->key_data,
						   .len = xc->key_data_len,
						   .flags = CURL_BLOB_COPY };
			(void) curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		}
	}
	r = -ENOMEM;
	token = xc && xc->token ? xc->token : c->token ? c->token : c->cfg->token;
	if (token) {
		if (asprintf(&line, "Authorization: Bearer %s", token) < 0) {
			line = NULL;
			goto out;
		}
		t = curl_slist_append(h, line);
		explicit_bzero(line, strlen(line));
		free(line);
		line = NULL;
		if (!t)
			goto out;
		h = t;
	}
	(void) curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	*ret_hdrs = h;
	h = NULL;
	r = 0;
out:
	curl_slist_free_all(h);
	free(url);
	return r;
}

/* The API server answered 401 to a request sent with exec credential
 * generation @gen (0 without a plugin). */
static void auth_refused(struct kube_client *c, uint64_t gen)
{
	c->token_stale = true;
	if (c->cfg->exec)
		kube_exec_invalidate(c->cfg->exec, gen);
}

/* --- the multi side --- */

static int socket_cb(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
	struct kube_client *c = ud;
	struct epoll_event ev = { .data.fd = s };

	(void) e;
	if (what == CURL_POLL_REMOVE) {
		if (sockp)
			(void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
		(void) curl_multi_assign(c->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(c->epfd, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) < 0) {
		if (errno == EEXIST)
			(void) epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev);
		else if (errno == ENOENT)
			(void) epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev);
		else
			return -1;
	}
	(void) curl_multi_assign(c->multi, s, (void *) 1);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *ud)
{
	struct kube_client *c = ud;

	(void) m;
	if (timeout_ms < 0) {
		c->curl_due = false;
	} else {
		c->curl_due = true;
		c->curl_due_ms = clock_mono_ms() + (uint64_t) timeout_ms;
	}
	return 0;
}

int kube_client_new(const struct kube_config *cfg, struct kube_client **ret, struct bh_err *reterr)
{
	struct kube_client *c;
	int r;

	if (!cfg->server)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "%s: no API server URL",
				  cfg->source ? cfg->source : "kube");
	if (curl_global() < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "libcurl initialisation failed");
	c = calloc(1, sizeof(*c));
	if (!c)
		return bh_err_oom(reterr);
	c->epfd = -1;
	c->cfg = kube_config_dup(cfg);
	if (!c->cfg) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	if (c->cfg->ca_file && access(c->cfg->ca_file, R_OK) < 0) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -errno, "%s: certificate-authority '%s': %s",
			       c->cfg->source, c->cfg->ca_file, strerror(errno));
		goto fail;
	}
	if (c->cfg->token_file) {
		r = token_refresh(c);
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_INPUT, r, "%s: token file '%s': %s",
				       c->cfg->source, c->cfg->token_file, strerror(-r));
			goto fail;
		}
	}
	if (c->cfg->exec) {
		const struct kube_exec_cred *xc;
		uint64_t gen;

		/* Run the plugin now, so that its failure is reported in full
		 * before any request (a cached credential is reused). */
		r = kube_exec_get(c->cfg->exec, false, &xc, &gen, reterr);
		if (r < 0)
			goto fail;
	}
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	(void) curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	(void) curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	(void) curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	(void) curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Each watch holds a connection for its lifetime; lists reuse. */
	(void) curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
	*ret = c;
	return 0;
fail:
	kube_client_free(c);
	return r;
}

static void request_free(struct kube_request *q)
{
	struct kube_client *c = q->c;

	if (q->prev)
		q->prev->next = q->next;
	else
		c->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	(void) curl_multi_remove_handle(c->multi, q->easy);
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->body);
	free(q);
}

struct kube_client *kube_client_free(struct kube_client *c)
{
	if (!c)
		return NULL;
	while (c->reqs)
		request_free(c->reqs);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	kube_config_free(c->cfg);
	free(c);
	return NULL;
}

int kube_client_fd(const struct kube_client *c)
{
	return c->epfd;
}

const char *kube_client_server(const struct kube_client *c)
{
	return c->cfg->server;
}

int kube_client_timeout_ms(const struct kube_client *c)
{
	uint64_t now = clock_mono_ms(), due = UINT64_MAX;

	if (c->curl_due)
		due = c->curl_due_ms;
	if (c->timers && c->timers->due_ms < due)
		due = c->timers->due_ms;
	if (due == UINT64_MAX)
		return -1;
	if (due <= now)
		return 0;
	return due - now > 60000 ? 60000 : (int) (due - now);
}

static size_t write_cb(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct kube_request *q = ud;
	size_t n = sz * nmemb, got;

	if (!q->data_cb)
		return n;
	got = q->data_cb(q->ud, p, n);
	if (got != n)
		q->stopped = true;
	return got;
}

int kube_request_start(struct kube_client *c, const struct kube_request_opts *o,
		       struct kube_request **ret)
{
	struct kube_request *q = calloc(1, sizeof(*q));
	int r = -ENOMEM;

	if (!q)
		return r;
	q->c = c;
	q->data_cb = o->data_cb;
	q->done_cb = o->done_cb;
	q->ud = o->ud;
	q->easy = curl_easy_init();
	if (!q->easy)
		goto fail;
	if (o->body && str_memdup(&q->body, o->body, o->body_len) < 0)
		goto fail;
	r = easy_setup(c, q->easy, o->method, o->path, q->body, o->body_len, o->content_type,
		       &q->hdrs, &q->exec_gen, q->errbuf);
	if (r < 0)
		goto fail;
	(void) curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, write_cb);
	(void) curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	(void) curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	if (o->timeout_s)
		(void) curl_easy_setopt(q->easy, CURLOPT_TIMEOUT, (long) o->timeout_s);
	if (o->idle_s) {
		(void) curl_easy_setopt(q->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		(void) curl_easy_setopt(q->easy, CURLOPT_LOW_SPEED_TIME, (long) o->idle_s);
	}
	q->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = q;
	c->reqs = q;
	if (curl_multi_add_handle(c->multi, q->easy) != CURLM_OK) {
		request_free(q);
		return -EIO;
	}
	if (ret)
		*ret = q;
	return 0;
fail:
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->hdrs);
	free(q->body);
	free(q);
	return r;
}

void kube_request_cancel(struct kube_request *q)
{
	if (q)
		request_free(q);
}

static void check_done(struct kube_client *c)
{
	struct kube_request *q;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		char msg[BH_ERR_MSG_MAX] = "";
		long status = 0;
		int r;

		if (m->msg != CURLMSG_DONE)
			continue;
		q = NULL;
		(void) curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &q);
		if (!q)
			continue;
		r = map_curl(m->data.result);
		if (q->stopped)
			r = -ECANCELED;
		if (r < 0)
			describe(c, m->data.result, q->errbuf, msg, sizeof(msg));
		(void) curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status == 401)
			auth_refused(c, q->exec_gen);
		/* Leave the multi handle before the callback, which may start
		 * the next request (a re-watch) at once. */
		(void) curl_multi_remove_handle(c->multi, q->easy);
		if (q->done_cb)
			q->done_cb(q->ud, r, status, msg);
		request_free(q);
	}
}

static void timers_run(struct kube_client *c)
{
	uint64_t now = clock_mono_ms();

	while (c->timers && c->timers->due_ms <= now) {
		struct kube_timer *t = c->timers;

		c->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->fn(t->ud);
	}
}

int kube_client_process(struct kube_client *c)
{
	struct epoll_event evs[KUBE_EPOLL_BATCH];
	int n, running;

	n = epoll_wait(c->epfd, evs, KUBE_EPOLL_BATCH, 0);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		int flags = 0;

		if (evs[i].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		(void) curl_multi_socket_action(c->multi, evs[i].data.fd, flags, &running);
	}
	if (c->curl_due && c->curl_due_ms <= clock_mono_ms()) {
		c->curl_due = false;
		(void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	check_done(c);
	timers_run(c);
	check_done(c);
	return 0;
}

int kube_client_run(struct kube_client *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->epfd, .events = POLLIN };
	int t = kube_client_timeout_ms(c);

	if (t < 0 || (timeout_ms >= 0 && t > timeout_ms))
		t = timeout_ms;
	if (poll(&pfd, 1, t) < 0 && errno != EINTR)
		return -errno;
	return kube_client_process(c);
}

void kube_timer_disarm(struct kube_client *c, struct kube_timer *t)
{
	struct kube_timer **pp;

	if (!t->armed)
		return;
	for (pp = &c->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->armed = false;
}

void kube_timer_arm(struct kube_client *c, struct kube_timer *t, uint64_t delay_ms,
		    kube_timer_fn *fn, void *ud)
{
	struct kube_timer **pp;

	kube_timer_disarm(c, t);
	t->due_ms = clock_mono_ms() + delay_ms;
	t->fn = fn;
	t->ud = ud;
	t->armed = true;
	/* A handful of timers (one per watch): a sorted list is enough. */
	for (pp = &c->timers; *pp && (*pp)->due_ms <= t->due_ms; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
}

/* --- blocking calls --- */

struct call_ctx {
	struct buf *body;
	int err;
};

static size_t call_write_cb(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct call_ctx *x = ud;
	size_t n = sz * nmemb;

	x->err = buf_append(x->body, p, n);
	return x->err < 0 ? 0 : n;
}

static int call_once(struct kube_client *c, const char *method, const char *path, const char *body,
		     const char *content_type, size_t max, unsigned timeout_s, struct buf *ret_body,
		     long *ret_status, uint64_t *ret_gen, struct bh_err *reterr)
{
	char errbuf[CURL_ERROR_SIZE] = "", msg[BH_ERR_MSG_MAX];
	struct curl_slist *hdrs = NULL;
	struct call_ctx x = { .body = ret_body };
	long status = 0;
	CURLcode cc;
	CURL *e;
	int r;

	buf_init(ret_body, max);
	e = curl_easy_init();
	if (!e)
		return bh_err_oom(reterr);
	r = easy_setup(c, e, method, path, body, body ? strlen(body) : 0, content_type, &hdrs,
		       ret_gen, errbuf);
	if (r == -ENOMEM) {
		r = bh_err_oom(reterr);
		goto out;
	}
	if (r < 0) {
		r = bh_err_set(reterr, c->exec_err.kind ? c->exec_err.kind : BH_ERR_SYSTEM, r, "%s",
			       errbuf[0] ? errbuf : strerror(-r));
		goto out;
	}
	(void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, call_write_cb);
	(void) curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
	if (timeout_s)
		(void) curl_easy_setopt(e, CURLOPT_TIMEOUT, (long) timeout_s);
	cc = curl_easy_perform(e);
	if (cc != CURLE_OK) {
		if (x.err == -E2BIG) {
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -E2BIG,
				       "API server '%s': %s %s: response larger than %zu bytes",
				       c->cfg->server, method ? method : "GET", path, max);
		} else {
			describe(c, cc, errbuf, msg, sizeof(msg));
			r = bh_err_set(reterr, BH_ERR_SYSTEM, map_curl(cc), "%s", msg);
		}
		goto out;
	}
	(void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	*ret_status = status;
	r = 0;
out:
	if (r < 0)
		buf_done(ret_body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	return r;
}

int kube_client_call(struct kube_client *c, const char *method, const char *path, const char *body,
		     const char *content_type, size_t max, unsigned timeout_s, struct buf *ret_body,
		     long *ret_status, struct bh_err *reterr)
{
	uint64_t gen = 0;
	int r;

	r = call_once(c, method, path, body, content_type, max, timeout_s, ret_body, ret_status,
		      &gen, reterr);
	if (r < 0 || *ret_status != 401)
		return r;
	auth_refused(c, gen);
	if (!c->cfg->exec)
		return r;
	/* The plugin's credential was revoked or rotated before its
	 * expirationTimestamp: ask the plugin once more, as client-go does. */
	buf_done(ret_body);
	return call_once(c, method, path, body, content_type, max, timeout_s, ret_body, ret_status,
			 &gen, reterr);
}
