/*
 * One request to the local agent over its control socket, for the
 * commands that talk to it (status, export, and the lifecycle's verbs).
 *
 * libcurl speaks HTTP over the Unix socket (CURLOPT_UNIX_SOCKET_PATH); the
 * body goes to the caller's write function as it arrives.  Failures are
 * one line naming the command and the socket, as the user sees them: no
 * agent there (the socket's own errno: missing, refused, permission), a
 * timeout (a hung agent), or an HTTP status the caller did not want.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "cli.h"

/* Why connecting to @sock fails: -errno of a connect() of our own
 * (-ECONNREFUSED when it works now: the agent was not there a moment ago). */
static int socket_errno(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 ? -ECONNREFUSED : -errno;
	(void) close(fd);
	return r == -EAGAIN ? -ECONNREFUSED : r;
}

int cli_agent_request(const struct cli_agent_req *q, struct cli_agent_answer *ret,
		      struct bh_err *reterr)
{
	char errbuf[CURL_ERROR_SIZE] = "", url[512];
	struct curl_slist *hdr = NULL;
	const char *ctype = NULL;
	CURLcode cc;
	CURL *e;
	int r = 0;

	*ret = (struct cli_agent_answer){ 0 };
	if (snprintf(url, sizeof(url), "http://localhost%s", q->path) >= (int) sizeof(url))
		return bh_err_set(reterr, BH_ERR_INPUT, -ENAMETOOLONG, "%s: request path too long",
				  q->cmd);
	e = curl_easy_init();
	if (!e)
		return bh_err_oom(reterr);
	(void) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, q->sock);
	(void) curl_easy_setopt(e, CURLOPT_URL, url);
	(void) curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	(void) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, q->timeout_ms);
	(void) curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	(void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, q->write);
	(void) curl_easy_setopt(e, CURLOPT_WRITEDATA, q->ud);
	if (q->body) {
		hdr = curl_slist_append(NULL, "Content-Type: application/json");
		if (!hdr) {
			curl_easy_cleanup(e);
			return bh_err_oom(reterr);
		}
		(void) curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
		(void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
		(void) curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) q->body_len);
	}
	cc = curl_easy_perform(e);
	if (cc == CURLE_WRITE_ERROR) {
		/* The caller's write function refused: its own error. */
		r = -ECANCELED;
	} else if (cc == CURLE_COULDNT_CONNECT) {
		/* curl's text names "localhost port 80"; the socket's errno
		 * says what is wrong. */
		r = socket_errno(q->sock);
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r,
			       "%s: no agent answering on socket '%s': %s", q->cmd, q->sock,
			       strerror(-r));
	} else if (cc != CURLE_OK) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM,
			       cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO,
			       "%s: no agent answering on socket '%s': %s", q->cmd, q->sock,
			       errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		(void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &ret->code);
		(void) curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
		ret->json = ctype && strncasecmp(ctype, "application/json", 16) == 0;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(e);
	return r;
}

static size_t buf_write_cb(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	return buf_append(b, p, sz * nmemb) == 0 ? sz * nmemb : 0;
}

int cli_agent_request_buf(struct cli_agent_req *q, struct buf *body, struct cli_agent_answer *ret,
			  struct bh_err *reterr)
{
	int r;

	buf_reset(body);
	q->write = buf_write_cb;
	q->ud = body;
	r = cli_agent_request(q, ret, reterr);
	if (r == -ECANCELED)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -E2BIG,
				  "%s: the agent on socket '%s' sent over %zu bytes", q->cmd,
				  q->sock, body->max);
	return r;
}
