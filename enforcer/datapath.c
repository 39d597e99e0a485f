/*
 * Which datapath carries the local pods' traffic (include/datapath.h).
 * Gathering reads route netlink through libnl-route and /proc/sys; the
 * classification is a pure function of what was read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "datapath.h"
#include "vec.h"

/* --- gathering ----------------------------------------------------------- */

/* An integer sysctl; @absent when the file does not exist (br_netfilter
 * not loaded, IPv6 disabled). */
static int sysctl_int(const char *path, int absent)
{
	char buf[32];
	FILE *fp = fopen(path, "re");
	int v = absent;

	if (!fp)
		return absent;
	if (fgets(buf, sizeof(buf), fp))
		v = (int) strtol(buf, NULL, 10);
	fclose(fp);
	return v;
}

struct gather {
	struct datapath_facts *f;
	size_t cap_links, cap_routes;
	int err;
};

static void link_cb(struct nl_object *obj, void *data)
{
	struct gather *g = data;
	struct rtnl_link *l = (struct rtnl_link *) obj;
	struct nl_addr *mac = rtnl_link_get_addr(l);
	const char *type = rtnl_link_get_type(l);
	const char *name = rtnl_link_get_name(l);
	struct dp_link *dl;

	if (g->err)
		return;
	if (g->f->n_links == g->cap_links) {
		struct dp_link *v =
			vec_grow(g->f->links, &g->cap_links, g->f->n_links + 1, sizeof(*v));

		if (!v) {
			g->err = -ENOMEM;
			return;
		}
		g->f->links = v;
	}
	dl = &g->f->links[g->f->n_links++];
	*dl = (struct dp_link){
		.ifindex = rtnl_link_get_ifindex(l),
		.master = rtnl_link_get_master(l),
		.bridge = type && strcmp(type, "bridge") == 0,
	};
	if (name)
		snprintf(dl->name, sizeof(dl->name), "%s", name);
	if (mac && nl_addr_get_len(mac) == sizeof(dl->mac))
		memcpy(dl->mac, nl_addr_get_binary_addr(mac), sizeof(dl->mac));
}

static void route_cb(struct nl_object *obj, void *data)
{
	struct gather *g = data;
	struct rtnl_route *rt = (struct rtnl_route *) obj;
	struct nl_addr *dst = rtnl_route_get_dst(rt);
	int fam = rtnl_route_get_family(rt);
	struct dp_route r = { 0 };
	unsigned plen;

	if (g->err || rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
	    rtnl_route_get_type(rt) != RTN_UNICAST || (fam != AF_INET && fam != AF_INET6))
		return;
	r.dst.addr.family = (uint8_t) fam;
	plen = dst ? nl_addr_get_prefixlen(dst) : 0;
	if (dst && nl_addr_get_len(dst) == addr_len(&r.dst.addr))
		memcpy(r.dst.addr.b, nl_addr_get_binary_addr(dst), addr_len(&r.dst.addr));
	if (plen > addr_bits(&r.dst.addr))
		return;
	r.dst.plen = (uint8_t) plen;
	if (rtnl_route_get_nnexthops(rt) == 1)
		r.oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rt, 0));
	if (g->f->n_routes == g->cap_routes) {
		struct dp_route *v =
			vec_grow(g->f->routes, &g->cap_routes, g->f->n_routes + 1, sizeof(*v));

		if (!v) {
			g->err = -ENOMEM;
			return;
		}
		g->f->routes = v;
	}
	g->f->routes[g->f->n_routes++] = r;
}

int datapath_gather(struct datapath_facts *f, struct bh_err *reterr)
{
	struct gather g = { .f = f };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *links = NULL, *routes = NULL;
	const char *what = "connecting";
	int r;

	*f = (struct datapath_facts){ 0 };
	if (!sk)
		return bh_err_oom(reterr);
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r == 0) {
		what = "dumping links";
		r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
	}
	if (r == 0) {
		what = "dumping routes";
		r = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes);
	}
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "datapath: route netlink: %s: %s", what,
			       nl_geterror(r));
		goto out;
	}
	nl_cache_foreach(links, link_cb, &g);
	nl_cache_foreach(routes, route_cb, &g);
	if (g.err) {
		r = bh_err_oom(reterr);
		goto out;
	}
	f->nf_call[0] = sysctl_int("/proc/sys/net/bridge/bridge-nf-call-iptables", 0) == 1;
	f->nf_call[1] = sysctl_int("/proc/sys/net/bridge/bridge-nf-call-ip6tables", 0) == 1;
	f->forwarding[0] = sysctl_int("/proc/sys/net/ipv4/ip_forward", 0) == 1;
	f->forwarding[1] = sysctl_int("/proc/sys/net/ipv6/conf/all/forwarding", 0) == 1;
	r = 0;
out:
	nl_cache_free(routes);
	nl_cache_free(links);
	nl_socket_free(sk);
	return r;
}

void datapath_facts_done(struct datapath_facts *f)
{
	free(f->links);
	free(f->routes);
	*f = (struct datapath_facts){ 0 };
}

/* --- classification ---------------------------------------------------- */

static const struct dp_link *link_find(const struct datapath_facts *f, int ifindex)
{
	for (size_t i = 0; ifindex > 0 && i < f->n_links; i++)
		if (f->links[i].ifindex == ifindex)
			return &f->links[i];
	return NULL;
}

static const struct dp_route *route_lookup(const struct datapath_facts *f, const struct addr *a)
{
	const struct dp_route *best = NULL;

	for (size_t i = 0; i < f->n_routes; i++) {
		const struct dp_route *r = &f->routes[i];

		if (r->dst.addr.family != a->family || !cidr_contains(&r->dst, a))
			continue;
		if (!best || r->dst.plen > best->dst.plen)
			best = r;
	}
	return best;
}

static int fam_idx(const struct addr *a)
{
	return a->family == AF_INET6;
}

/* Records that @bridge's prefix @p holds a pod; false when the table has
 * no room left (the pod then counts as unseen). */
static bool bridge_note(struct datapath *dp, const struct dp_link *bridge, const struct cidr *p)
{
	struct datapath_bridge *b = NULL;

	for (size_t i = 0; i < dp->n_bridges; i++)
		if (strcmp(dp->bridges[i].name, bridge->name) == 0)
			b = &dp->bridges[i];
	if (!b) {
		if (dp->n_bridges == DATAPATH_BRIDGE_MAX)
			return false;
		b = &dp->bridges[dp->n_bridges++];
		*b = (struct datapath_bridge){ 0 };
		memcpy(b->name, bridge->name, sizeof(b->name));
		memcpy(b->mac, bridge->mac, sizeof(b->mac));
	}
	for (size_t i = 0; i < b->n_prefixes; i++)
		if (cidr_cmp(&b->prefixes[i], p) == 0)
			return true;
	if (b->n_prefixes == DATAPATH_PREFIX_MAX)
		return false;
	b->prefixes[b->n_prefixes++] = *p;
	return true;
}

void datapath_detect(const struct datapath_facts *f, const struct addr *pods, size_t n_pods,
		     struct datapath *ret)
{
	struct datapath dp = {
		.nf_call = { f->nf_call[0] == 1, f->nf_call[1] == 1 },
	};
	bool bridged_fam[2] = { false, false };

	for (size_t i = 0; i < n_pods; i++) {
		const struct addr *a = &pods[i];
		const struct dp_route *r;
		const struct dp_link *l, *m;
		int fi;

		if (a->family != AF_INET && a->family != AF_INET6)
			continue;
		dp.n_pods++;
		fi = fam_idx(a);
		r = route_lookup(f, a);
		l = r ? link_find(f, r->oif) : NULL;
		m = l ? link_find(f, l->master) : NULL;
		if (l && !l->bridge && m && m->bridge)
			l = m; /* a route to a bridge port: the bridge forwards */
		else if (l && !l->bridge && m)
			l = NULL; /* enslaved to something else (a bond, a VRF) */
		/* The default route (or any short prefix to a plain link)
		 * says nothing about where the pod is. */
		if (!l || (!l->bridge && r->dst.plen != addr_bits(a))) {
			if (!dp.n_missing++)
				dp.first_missing = *a;
			continue;
		}
		if (!l->bridge) {
			dp.n_routed++;
			continue;
		}
		dp.n_bridged++;
		bridged_fam[fi] = true;
		if (dp.nf_call[fi])
			continue; /* br_netfilter shows it to the inet hooks */
		if (f->forwarding[fi] != 1 || !bridge_note(&dp, l, &r->dst)) {
			if (!dp.n_unseen++)
				dp.first_unseen = *a;
		}
	}
	if (!dp.n_pods)
		dp.kind = DATAPATH_NONE;
	else if (dp.n_missing == dp.n_pods)
		dp.kind = DATAPATH_UNKNOWN;
	else if (!dp.n_bridged)
		dp.kind = DATAPATH_ROUTED;
	else if (dp.n_routed)
		dp.kind = DATAPATH_MIXED;
	else if ((!bridged_fam[0] || dp.nf_call[0]) && (!bridged_fam[1] || dp.nf_call[1]))
		dp.kind = DATAPATH_BRIDGED_NF;
	else
		dp.kind = DATAPATH_BRIDGED;
	*ret = dp;
}

bool datapath_diverts(const struct datapath *dp)
{
	return dp && dp->n_bridges > 0;
}

bool datapath_blind(const struct datapath *dp)
{
	return dp->kind == DATAPATH_UNKNOWN || dp->n_missing || dp->n_unseen;
}

const char *datapath_kind_name(enum datapath_kind k)
{
	static const char *const names[] = {
		[DATAPATH_NONE] = "none",
		[DATAPATH_ROUTED] = "routed",
		[DATAPATH_BRIDGED] = "bridged without br_netfilter",
		[DATAPATH_BRIDGED_NF] = "bridged with br_netfilter",
		[DATAPATH_MIXED] = "mixed routed and bridged",
		[DATAPATH_UNKNOWN] = "unknown",
	};

	return (size_t) k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *datapath_describe(const struct datapath *dp, char *buf, size_t len)
{
	char a[ADDR_STR_MAX];
	size_t n;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (dp->kind == DATAPATH_NONE) {
		snprintf(buf, len,
			 "datapath: no local pod addresses, nothing to enforce on this node");
		return buf;
	}
	if (dp->kind == DATAPATH_UNKNOWN) {
		snprintf(
			buf, len,
			"datapath: unknown: none of the %zu local pod addresses is on an interface "
			"of this network namespace (e.g. '%s'): the ruleset cannot see pod traffic; "
			"run apply in the node's network namespace",
			dp->n_pods, addr_format(&dp->first_missing, a, sizeof(a)));
		return buf;
	}
	n = (size_t) snprintf(buf, len, "datapath: %s (%zu routed, %zu bridged",
			      datapath_kind_name(dp->kind), dp->n_routed, dp->n_bridged);
	for (size_t i = 0; i < dp->n_bridges && n < len; i++)
		n += (size_t) snprintf(buf + n, len - n, "%s'%s'",
				       i ? ", " : "; diverted to IP: ", dp->bridges[i].name);
	if (n < len)
		n += (size_t) snprintf(buf + n, len - n, ")");
	if (dp->n_missing && n < len)
		n += (size_t) snprintf(buf + n, len - n,
				       "; the ruleset cannot see the traffic of %zu pod addresses "
				       "found on no interface (e.g. '%s')",
				       dp->n_missing,
				       addr_format(&dp->first_missing, a, sizeof(a)));
	if (dp->n_unseen && n < len)
		snprintf(buf + n, len - n,
			 "; the ruleset cannot see the traffic of %zu bridged pod addresses "
			 "(e.g. '%s'): their family is not forwarded by the node and "
			 "br_netfilter is off, or too many bridges",
			 dp->n_unseen, addr_format(&dp->first_unseen, a, sizeof(a)));
	return buf;
}

/* --- --datapath bridged=MAC,PREFIX... ------------------------------------ */

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int end = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6 ||
	    s[end] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < 6; i++)
		mac[i] = (uint8_t) v[i];
	return 0;
}

int datapath_parse_bridged(const char *spec, struct datapath *ret, struct bh_err *reterr)
{
	struct datapath dp = { .kind = DATAPATH_BRIDGED, .n_bridges = 1 };
	struct datapath_bridge *b = &dp.bridges[0];
	char part[64];
	const char *p;
	size_t i = 0;

	if (strncmp(spec, "bridged=", 8) != 0)
		goto bad;
	snprintf(b->name, sizeof(b->name), "bridge");
	for (p = spec + 8;; i++) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t) (comma - p) : strlen(p);

		if (n >= sizeof(part))
			goto bad;
		memcpy(part, p, n);
		part[n] = '\0';
		if (i == 0 ? parse_mac(part, b->mac) < 0 :
			     b->n_prefixes == DATAPATH_PREFIX_MAX ||
				     cidr_parse(part, &b->prefixes[b->n_prefixes++]) < 0)
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "apply: --datapath: '%s' is not %s", part,
					  i == 0 ? "a MAC address (xx:xx:xx:xx:xx:xx)" :
						   "an ADDR/LEN prefix (at most 4)");
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!b->n_prefixes)
		goto bad;
	*ret = dp;
	return 0;
bad:
	return bh_err_set(
		reterr, BH_ERR_INPUT, -EINVAL,
		"apply: --datapath: expected auto, routed or bridged=MAC,PREFIX[,PREFIX...], "
		"got '%s'",
		spec);
}
