/*
 * Link monitor over the libnl-route link cache.  The cache manager keeps
 * the cache current from RTNLGRP_LINK notifications; we keep our own small
 * table of matching links (by ifindex) so that every transition is
 * reported exactly once, renames included, and so that after a lost
 * notification (ENOBUFS) a refill of the cache can be diffed against it.
 */
#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdlib.h>
#include <string.h>

#include "linkmon.h"
#include "vec.h"

struct lm_link {
	int ifindex;
	char name[IF_NAMESIZE];
	bool seen; /* during a resync scan */
};

struct linkmon {
	const char *const *globs;
	size_t n_globs;
	linkmon_change_fn *cb;
	void *userdata;
	struct nl_sock *sock; /* notifications, owned by the manager */
	struct nl_sock *sync_sock; /* refills after an overrun */
	struct nl_cache_mngr *mngr;
	struct nl_cache *cache;
	struct lm_link *links; /* attached links */
	size_t n_links, cap_links;
	int err; /* allocation failure inside a callback */
	struct linkmon_stats stats;
};

bool linkmon_glob_match(const char *glob, const char *name)
{
	return fnmatch(glob, name, 0) == 0;
}

bool linkmon_match(const struct linkmon *m, const char *name)
{
	for (size_t i = 0; i < m->n_globs; i++)
		if (linkmon_glob_match(m->globs[i], name))
			return true;
	return false;
}

static struct lm_link *link_find(struct linkmon *m, int ifindex)
{
	for (size_t i = 0; i < m->n_links; i++)
		if (m->links[i].ifindex == ifindex)
			return &m->links[i];
	return NULL;
}

static void link_detach(struct linkmon *m, struct lm_link *l)
{
	char name[IF_NAMESIZE];
	int ifindex = l->ifindex;

	memcpy(name, l->name, sizeof(name));
	*l = m->links[--m->n_links];
	m->stats.detached++;
	m->cb(m->userdata, name, ifindex, false);
}

static void link_attach(struct linkmon *m, const char *name, int ifindex)
{
	struct lm_link *l;

	if (m->n_links == m->cap_links) {
		struct lm_link *v = vec_grow(m->links, &m->cap_links, m->n_links + 1, sizeof(*v));

		if (!v) {
			m->err = -ENOMEM;
			return;
		}
		m->links = v;
	}
	l = &m->links[m->n_links++];
	*l = (struct lm_link){ .ifindex = ifindex, .seen = true };
	(void) snprintf(l->name, sizeof(l->name), "%s", name);
	m->stats.attached++;
	m->cb(m->userdata, name, ifindex, true);
}

/* Brings our table in line with one link's current state. */
static void link_update(struct linkmon *m, struct rtnl_link *link, bool gone)
{
	const char *name = rtnl_link_get_name(link);
	int ifindex = rtnl_link_get_ifindex(link);
	bool want = !gone && name && (rtnl_link_get_flags(link) & IFF_UP) && linkmon_match(m, name);
	struct lm_link *l = link_find(m, ifindex);

	if (l && (!want || strcmp(l->name, name) != 0)) {
		link_detach(m, l);
		l = NULL;
	}
	if (l)
		l->seen = true;
	else if (want)
		link_attach(m, name, ifindex);
}

static void change_cb(struct nl_cache *cache, struct nl_object *obj, int action, void *data)
{
	(void) cache;
	link_update(data, (struct rtnl_link *) obj, action == NL_ACT_DEL);
}

static void scan_cb(struct nl_object *obj, void *data)
{
	link_update(data, (struct rtnl_link *) obj, false);
}

/* Reconciles our table with the whole cache. */
static void rescan(struct linkmon *m)
{
	for (size_t i = 0; i < m->n_links; i++)
		m->links[i].seen = false;
	nl_cache_foreach(m->cache, scan_cb, m);
	for (size_t i = 0; i < m->n_links;) {
		if (!m->links[i].seen)
			link_detach(m, &m->links[i]);
		else
			i++;
	}
}

static int nl_fail(struct linkmon *m, int nlerr, const char *what, struct bh_err *reterr)
{
	int r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "link monitor: %s: %s", what,
			   nl_geterror(nlerr));

	linkmon_free(m);
	return r;
}

int linkmon_new(const char *const *globs, size_t n_globs, linkmon_change_fn *cb, void *userdata,
		struct linkmon **ret, struct bh_err *reterr)
{
	struct linkmon *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return bh_err_oom(reterr);
	m->globs = globs;
	m->n_globs = n_globs;
	m->cb = cb;
	m->userdata = userdata;
	m->sock = nl_socket_alloc();
	m->sync_sock = nl_socket_alloc();
	if (!m->sock || !m->sync_sock) {
		linkmon_free(m);
		return bh_err_oom(reterr);
	}
	r = nl_connect(m->sync_sock, NETLINK_ROUTE);
	if (r < 0)
		return nl_fail(m, r, "connect", reterr);
	r = nl_cache_mngr_alloc(m->sock, NETLINK_ROUTE, NL_AUTO_PROVIDE, &m->mngr);
	if (r < 0)
		return nl_fail(m, r, "cache manager", reterr);
	r = nl_cache_mngr_add(m->mngr, "route/link", change_cb, m, &m->cache);
	if (r < 0)
		return nl_fail(m, r, "link cache", reterr);
	/* A pod churn burst can overrun the default receive buffer. */
	(void) nl_socket_set_buffer_size(m->sock, 1 << 20, 0);
	rescan(m);
	if (m->err) {
		linkmon_free(m);
		return bh_err_oom(reterr);
	}
	*ret = m;
	return 0;
}

struct linkmon *linkmon_free(struct linkmon *m)
{
	if (!m)
		return NULL;
	/* The manager frees its caches but not a socket it was given. */
	if (m->mngr)
		nl_cache_mngr_free(m->mngr);
	nl_socket_free(m->sock);
	nl_socket_free(m->sync_sock);
	free(m->links);
	free(m);
	return NULL;
}

int linkmon_fd(const struct linkmon *m)
{
	return nl_cache_mngr_get_fd(m->mngr);
}

int linkmon_process(struct linkmon *m, struct bh_err *reterr)
{
	int r = nl_cache_mngr_data_ready(m->mngr);

	if (r < 0) {
		/* Lost notifications (ENOBUFS shows as NLE_NOMEM): the cache
		 * may be stale.  Refill it and diff against what we attached,
		 * rather than guessing which links changed. */
		m->stats.overruns++;
		r = nl_cache_refill(m->sync_sock, m->cache);
		if (r < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "link monitor: refill: %s",
					  nl_geterror(r));
		rescan(m);
		r = 0;
	}
	if (m->err)
		return bh_err_oom(reterr);
	return r;
}

const struct linkmon_stats *linkmon_stats(const struct linkmon *m)
{
	return &m->stats;
}
