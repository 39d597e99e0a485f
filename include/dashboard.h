/*
 * The policy preview dashboard (agent/dashboard/), built into the agent:
 * its files as the build embedded them (scripts/embed-files.cmake), and the
 * routes that serve them on the agent's HTTP server, read-only (both
 * listeners), each with the Content-Security-Policy the page is written
 * for (docs/dashboard.md): no inline script or style, nothing from another
 * origin.  GET / is index.html; the page then fetches /report beside it.
 */
#ifndef BH_DASHBOARD_H
#define BH_DASHBOARD_H

#include <stddef.h>

#include "err.h"

struct http_server;

/* One embedded file: its name ("index.html"), bytes and size. */
struct dashboard_file {
	const char *name;
	const unsigned char *data;
	size_t len;
};

/* The embedded files, ended by an entry whose name is NULL. */
extern const struct dashboard_file dashboard_files[];

/* The policy the dashboard is served with. */
#define DASHBOARD_CSP                                                                     \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/*
 * Registers GET / and GET /NAME for each embedded file on @s, read-only.
 * 0, or -errno with @reterr filled (a route taken twice, out of memory).
 */
int dashboard_routes(struct http_server *s, struct bh_err *reterr);

#endif /* BH_DASHBOARD_H */
