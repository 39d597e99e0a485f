/*
 * The dashboard's routes (include/dashboard.h): each embedded file served
 * as it was built in, with its content type and the page's policy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bh.h"
#include "dashboard.h"
#include "http_server.h"

static const char *const headers[] = {
	"Content-Security-Policy",
	DASHBOARD_CSP,
	"X-Content-Type-Options",
	"nosniff",
	"Referrer-Policy",
	"no-referrer",
	NULL,
};

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < BH_ARRAY_SIZE(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static int file_cb(const struct http_request *req, struct http_response *resp, void *ud)
{
	const struct dashboard_file *f = ud;

	(void) req;
	resp->content_type = content_type(f->name);
	resp->headers = headers;
	return buf_append(&resp->body, f->data, f->len);
}

int dashboard_routes(struct http_server *s, struct bh_err *reterr)
{
	for (const struct dashboard_file *f = dashboard_files; f->name; f++) {
		char path[128];
		int r;

		if ((size_t) snprintf(path, sizeof(path), "/%s", f->name) >= sizeof(path))
			return bh_err_set(reterr, BH_ERR_SYSTEM, -ENAMETOOLONG,
					  "dashboard: file name '%s' too long", f->name);
		r = http_server_route(s, "GET", path, HTTP_ROUTE_READ_ONLY, file_cb, (void *) f);
		if (r == 0 && strcmp(f->name, "index.html") == 0)
			r = http_server_route(s, "GET", "/", HTTP_ROUTE_READ_ONLY, file_cb,
					      (void *) f);
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, r, "dashboard: GET %s: %s", path,
					  strerror(-r));
	}
	return 0;
}
