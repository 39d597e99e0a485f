/*
 * unit.datapath: datapath_detect() over hand-built facts (links, routes,
 * sysctls), as datapath_gather() reads them on a routed node (Calico), a
 * bridged one (flannel, kindnet) with and without br_netfilter, and nodes
 * where the pods are on no interface; and the --datapath bridged=...
 * parser.  No kernel needed (golden.enforcer has the bridge table,
 * netns.enforce_bridged the real thing).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "datapath.h"
#include "testutil.h"

enum { LO = 1, ETH0, CNI0, VETH_A, VETH_B, CALI_A, CALI_B, BOND0 };

static struct dp_link links[] = {
	{ .ifindex = LO, .name = "lo" },
	{ .ifindex = ETH0, .name = "eth0" },
	{ .ifindex = CNI0, .name = "cni0", .bridge = true, .mac = { 0x0a, 0x58, 0x0a, 0xf4, 0, 1 } },
	{ .ifindex = VETH_A, .name = "veth1", .master = CNI0 },
	{ .ifindex = VETH_B, .name = "veth2", .master = CNI0 },
	{ .ifindex = CALI_A, .name = "cali1" },
	{ .ifindex = CALI_B, .name = "cali2", .master = BOND0 },
	{ .ifindex = BOND0, .name = "bond0" },
};

static struct addr A(const char *s) {
	struct addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct dp_route
R(const char *prefix, int oif) {
	struct dp_route r = { .oif = oif };

	assert_int_equal(cidr_parse(prefix, &r.dst), 0);
	return r;
}

static struct datapath_facts
facts(struct dp_route *routes, size_t n, int nf4, int nf6)
{
	return (struct datapath_facts){
		.links = links,
		.n_links = sizeof(links) / sizeof(links[0]),
		.routes = routes,
		.n_routes = n,
		.nf_call = { nf4, nf6 },
		.forwarding = { 1, 1 },
	};
}

static void routed_calico(void **state)
{
	struct dp_route routes[] = {
		R("0.0.0.0/0", ETH0),	    R("192.168.0.0/24", ETH0), R("10.244.1.5/32", CALI_A),
		R("10.244.1.6/32", CALI_A), R("fd00::5/128", CALI_A),
	};
	struct datapath_facts f = facts(routes, 5, 0, 0);
	struct addr pods[] = { A("10.244.1.5"), A("10.244.1.6"), A("fd00::5") };
	struct datapath dp;
	char line[512];

	(void) state;
	datapath_detect(&f, pods, 3, &dp);
	assert_int_equal(dp.kind, DATAPATH_ROUTED);
	assert_int_equal(dp.n_routed, 3);
	assert_false(datapath_blind(&dp));
	assert_false(datapath_diverts(&dp));
	assert_string_equal(datapath_describe(&dp, line, sizeof(line)),
			    "datapath: routed (3 routed, 0 bridged)");
}

static void bridged_without_br_netfilter(void **state)
{
	struct dp_route routes[] = {
		R("0.0.0.0/0", ETH0), R("10.244.0.0/24", CNI0), R("fd00:10:244::/64", CNI0),
		R("10.244.0.0/16", ETH0), /* less specific: the cluster */
	};
	struct datapath_facts f = facts(routes, 4, 0, 0);
	struct addr pods[] = { A("10.244.0.2"), A("10.244.0.3"), A("fd00:10:244::2") };
	struct datapath dp;
	char line[512];

	(void) state;
	datapath_detect(&f, pods, 3, &dp);
	assert_int_equal(dp.kind, DATAPATH_BRIDGED);
	assert_int_equal(dp.n_bridged, 3);
	assert_true(datapath_diverts(&dp));
	assert_false(datapath_blind(&dp));
	assert_int_equal(dp.n_bridges, 1);
	assert_string_equal(dp.bridges[0].name, "cni0");
	assert_int_equal(dp.bridges[0].mac[5], 1);
	assert_int_equal(dp.bridges[0].n_prefixes, 2);
	assert_int_equal(dp.bridges[0].prefixes[0].plen, 24);
	assert_int_equal(dp.bridges[0].prefixes[1].plen, 64);
	assert_string_equal(
		datapath_describe(&dp, line, sizeof(line)),
		"datapath: bridged without br_netfilter (0 routed, 3 bridged; diverted to "
		"IP: 'cni0')");
}

/* br_netfilter on for IPv4 only: the bridge table diverts IPv6 alone. */
static void bridged_br_netfilter_per_family(void **state)
{
	struct dp_route routes[] = { R("10.244.0.0/24", CNI0), R("fd00:10:244::/64", CNI0) };
	struct datapath_facts f = facts(routes, 2, 1, 0);
	struct addr pods[] = { A("10.244.0.2"), A("fd00:10:244::2") };
	struct datapath dp;

	(void) state;
	datapath_detect(&f, pods, 2, &dp);
	assert_int_equal(dp.kind, DATAPATH_BRIDGED);
	assert_int_equal(dp.n_bridges, 1);
	assert_int_equal(dp.bridges[0].n_prefixes, 1);
	assert_int_equal(dp.bridges[0].prefixes[0].addr.family, AF_INET6);

	f.nf_call[1] = 1;
	datapath_detect(&f, pods, 2, &dp);
	assert_int_equal(dp.kind, DATAPATH_BRIDGED_NF);
	assert_false(datapath_diverts(&dp));
	assert_false(datapath_blind(&dp));
}

/* A /32 to a bridge port (IFLA_MASTER) is bridged through the bridge; a
 * port of something else is no known datapath. */
static void route_to_a_bridge_port(void **state)
{
	struct dp_route routes[] = { R("10.244.0.2/32", VETH_A), R("10.244.0.9/32", CALI_B) };
	struct datapath_facts f = facts(routes, 2, 0, 0);
	struct addr pods[] = { A("10.244.0.2"), A("10.244.0.9") };
	struct datapath dp;

	(void) state;
	datapath_detect(&f, pods, 2, &dp);
	assert_int_equal(dp.n_bridged, 1);
	assert_int_equal(dp.n_missing, 1);
	assert_string_equal(dp.bridges[0].name, "cni0");
	assert_true(datapath_blind(&dp));
}

/* Run outside the node's namespace: only the default route matches. */
static void pods_on_no_interface(void **state)
{
	struct dp_route routes[] = { R("0.0.0.0/0", ETH0), R("::/0", ETH0) };
	struct datapath_facts f = facts(routes, 2, 0, 0);
	struct addr pods[] = { A("10.244.0.2"), A("fd00::2") };
	struct datapath dp;
	char line[512];

	(void) state;
	datapath_detect(&f, pods, 2, &dp);
	assert_int_equal(dp.kind, DATAPATH_UNKNOWN);
	assert_true(datapath_blind(&dp));
	datapath_describe(&dp, line, sizeof(line));
	assert_non_null(strstr(line, "cannot see pod traffic"));
	assert_non_null(strstr(line, "'10.244.0.2'"));
	assert_null(strchr(line, '\n'));

	datapath_detect(&f, pods, 0, &dp);
	assert_int_equal(dp.kind, DATAPATH_NONE);
	assert_false(datapath_blind(&dp));
}

/* Some pods routed, some bridged, one nowhere; a bridged family the node
 * does not forward cannot be diverted. */
static void mixed_and_unseen(void **state)
{
	struct dp_route routes[] = { R("10.244.1.5/32", CALI_A), R("10.244.0.0/24", CNI0),
				     R("fd00:10:244::/64", CNI0) };
	struct datapath_facts f = facts(routes, 3, 0, 0);
	struct addr pods[] = { A("10.244.1.5"), A("10.244.0.2"), A("fd00:10:244::2"),
			       A("10.9.9.9") };
	struct datapath dp;
	char line[512];

	(void) state;
	f.forwarding[1] = 0;
	datapath_detect(&f, pods, 4, &dp);
	assert_int_equal(dp.kind, DATAPATH_MIXED);
	assert_int_equal(dp.n_routed, 1);
	assert_int_equal(dp.n_bridged, 2);
	assert_int_equal(dp.n_missing, 1);
	assert_int_equal(dp.n_unseen, 1);
	assert_int_equal(dp.bridges[0].n_prefixes, 1);
	assert_true(datapath_blind(&dp));
	datapath_describe(&dp, line, sizeof(line));
	assert_non_null(strstr(line, "'10.9.9.9'"));
	assert_non_null(strstr(line, "'fd00:10:244::2'"));
}

static void parse_bridged(void **state)
{
	struct bh_err err = { 0 };
	struct datapath dp;

	(void) state;
	assert_int_equal(datapath_parse_bridged("bridged=0a:58:0a:f4:00:01,10.244.0.0/24,fd00::/64",
						&dp, &err),
			 0);
	assert_int_equal(dp.kind, DATAPATH_BRIDGED);
	assert_int_equal(dp.bridges[0].n_prefixes, 2);
	assert_int_equal(dp.bridges[0].mac[0], 0x0a);
	assert_int_equal(datapath_parse_bridged("bridged=0a:58:0a:f4:00,10.0.0.0/8", &dp, &err),
			 -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "'0a:58:0a:f4:00'"));
	assert_int_equal(datapath_parse_bridged("bridged=0a:58:0a:f4:00:01,10.0.0.1", &dp, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'10.0.0.1'"));
	assert_int_equal(datapath_parse_bridged("bridged=0a:58:0a:f4:00:01", &dp, &err), -EINVAL);
	assert_int_equal(datapath_parse_bridged("bridge", &dp, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--datapath"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routed_calico),
		cmocka_unit_test(bridged_without_br_netfilter),
		cmocka_unit_test(bridged_br_netfilter_per_family),
		cmocka_unit_test(route_to_a_bridge_port),
		cmocka_unit_test(pods_on_no_interface),
		cmocka_unit_test(mixed_and_unseen),
		cmocka_unit_test(parse_bridged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
