/*
 * The datapath a node uses for its local pods, and whether the ruleset
 * (table inet bulkhead, hooked at forward) can see their traffic:
 *
 *  - routed: a /32 (/128) route per pod through the pod's veth (Calico):
 *    pod-to-pod traffic is forwarded by IP, the forward hook sees it;
 *  - bridged with br_netfilter (bridge-nf-call-iptables/-ip6tables = 1 in
 *    the node's namespace): bridged IP frames traverse the inet hooks too;
 *  - bridged without br_netfilter (flannel, kindnet with it off): frames
 *    between two pods of one bridge never reach IP forward.  The ruleset
 *    then adds `table bridge bulkhead`, whose prerouting chain hands such
 *    frames to the node's IP stack (destination MAC set to the bridge's,
 *    packet type host), so the node routes them back out of the bridge
 *    through the forward hook, conntrack and the policy chains
 *    (docs/enforcer.md, "Bridged pod networks").
 *
 * datapath_gather() reads the facts (links, addresses, routes, sysctls)
 * of the calling thread's network namespace; datapath_detect() is a pure
 * function of them, unit-tested without root.
 */
#ifndef BH_DATAPATH_H
#define BH_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bh.h"
#include "err.h"

#define DATAPATH_IFNAME_MAX 16 /* IFNAMSIZ */
#define DATAPATH_BRIDGE_MAX 4
#define DATAPATH_PREFIX_MAX 4 /* per bridge */

/* --- facts ------------------------------------------------------------ */

struct dp_link {
	int ifindex;
	char name[DATAPATH_IFNAME_MAX];
	int master; /* IFLA_MASTER, 0 for none */
	bool bridge; /* IFLA_INFO_KIND "bridge" */
	uint8_t mac[6];
};

/* A unicast route of the main table: @dst is the prefix, @oif where it
 * leads (0 when it has no single output interface). */
struct dp_route {
	struct cidr dst;
	int oif;
};

struct datapath_facts {
	size_t n_links, n_routes;
	struct dp_link *links; /* owned */
	struct dp_route *routes; /* owned */
	/* /proc/sys/net/bridge/bridge-nf-call-ip{,6}tables: 1 on, 0 off or
	 * br_netfilter absent.  Index 0 IPv4, 1 IPv6. */
	int nf_call[2];
	/* net.ipv4.ip_forward, net.ipv6.conf.all.forwarding. */
	int forwarding[2];
};

/*
 * Reads the facts of the current network namespace (route netlink dumps
 * and /proc/sys; no privileges needed).  0, or -errno with @reterr filled
 * (system error).  datapath_facts_done() frees them (also after failure).
 */
int datapath_gather(struct datapath_facts *f, struct bh_err *reterr) BH_MUST_CHECK;
void datapath_facts_done(struct datapath_facts *f);

/* --- the result -------------------------------------------------------- */

enum datapath_kind {
	DATAPATH_NONE, /* no local pod with an address: nothing to see */
	DATAPATH_ROUTED,
	DATAPATH_BRIDGED, /* bridged, at least one family without br_netfilter */
	DATAPATH_BRIDGED_NF, /* bridged, br_netfilter on for every family */
	DATAPATH_MIXED, /* some pods routed, some bridged */
	DATAPATH_UNKNOWN, /* no local pod found on any interface */
};

/* A bridge whose pod-to-pod frames the bridge table diverts to IP. */
struct datapath_bridge {
	char name[DATAPATH_IFNAME_MAX];
	uint8_t mac[6];
	size_t n_prefixes;
	struct cidr prefixes[DATAPATH_PREFIX_MAX]; /* the pods' subnets on it */
};

struct datapath {
	enum datapath_kind kind;
	size_t n_pods; /* local pod addresses looked up */
	size_t n_routed, n_bridged;
	size_t n_missing; /* on no interface (no route, or the default) */
	/* Bridged pods whose family the bridge table cannot divert: the
	 * node does not forward that family (ip_forward off). */
	size_t n_unseen;
	struct addr first_missing, first_unseen;
	bool nf_call[2]; /* br_netfilter on, IPv4 / IPv6 */
	size_t n_bridges;
	struct datapath_bridge bridges[DATAPATH_BRIDGE_MAX]; /* divert these */
};

/*
 * Classifies the local pod addresses @pods against @f into @ret (pure: no
 * I/O).  Each address goes by its longest-prefix route: a /32 (/128) to a
 * link that is no bridge and no bridge port is routed; a route to a bridge,
 * or to a port of one (IFLA_MASTER), is bridged through that bridge; no
 * route, or one that is not specific (the default route), is missing.
 * Bridges past DATAPATH_BRIDGE_MAX, prefixes past DATAPATH_PREFIX_MAX count
 * their pods as unseen.
 */
void datapath_detect(const struct datapath_facts *f, const struct addr *pods, size_t n_pods,
		     struct datapath *ret);

/* Whether the bridge table has anything to divert. */
bool datapath_diverts(const struct datapath *dp);

/*
 * Whether some local pod traffic escapes the ruleset (unknown datapath,
 * pods missing, a family that cannot be diverted).
 */
bool datapath_blind(const struct datapath *dp);

/*
 * One line (no newline) into @buf: the datapath detected and, when
 * datapath_blind(), what the ruleset cannot see and why.  Returns @buf.
 */
const char *datapath_describe(const struct datapath *dp, char *buf, size_t len);
const char *datapath_kind_name(enum datapath_kind k);

/*
 * `apply --datapath` values other than auto and routed:
 * "bridged=MAC,PREFIX[,PREFIX...]" (one bridge, given offline, e.g. for
 * --dry-run on another machine).  0 or -EINVAL with @reterr naming the
 * part at fault (input error).
 */
int datapath_parse_bridged(const char *spec, struct datapath *ret,
			   struct bh_err *reterr) BH_MUST_CHECK;

#endif
