#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "proto.h"
#include "testutil.h"

static void parse_and_format(void **state)
{
	char buf[ADDR_STR_MAX];
	struct addr a;

	(void) state;
	assert_int_equal(addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(addr_parse("fd00::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(addr_parse("10.1.2", &a), -EINVAL);
	assert_int_equal(addr_parse("10.0.0.0/8", &a), -EINVAL);
	assert_int_equal(addr_parse("", &a), -EINVAL);
}

static void cidr_rules(void **state)
{
	char buf[ADDR_STR_MAX];
	struct cidr c, d;
	struct addr last;

	(void) state;
	assert_int_equal(cidr_parse("10.1.2.3/16", &c), 0);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.1.0.0/16");
	assert_true(cidr_contains(&c, &(struct addr){ 0 }) == false);
	struct addr in = addr_lit("10.1.255.7"), out = addr_lit("10.2.0.1");
	assert_true(cidr_contains(&c, &in));
	assert_false(cidr_contains(&c, &out));
	struct addr v6 = addr_lit("::ffff:10.1.0.1");
	assert_false(cidr_contains(&c, &v6));
	cidr_last(&c, &last);
	assert_string_equal(addr_format(&last, buf, sizeof(buf)), "10.1.255.255");
	assert_int_equal(cidr_parse("10.1.0.0/17", &d), 0);
	assert_true(cidr_contains_cidr(&c, &d));
	assert_false(cidr_contains_cidr(&d, &c));
	assert_int_equal(cidr_parse("0.0.0.0/0", &d), 0);
	assert_true(cidr_contains(&d, &in));
	assert_int_equal(cidr_parse("fd00::/7", &d), 0);
	struct addr fd = addr_lit("fdff::1"), fe = addr_lit("fe00::1");
	assert_true(cidr_contains(&d, &fd));
	assert_false(cidr_contains(&d, &fe));
	assert_int_equal(cidr_parse("10.0.0.0/33", &d), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0/", &d), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0/-1", &d), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0", &d), -EINVAL);
	assert_int_equal(cidr_parse("10.0.0.0/8x", &d), -EINVAL);
	assert_int_equal(cidr_parse("/8", &d), -EINVAL);
	assert_int_equal(cidr_parse("fd00::/129", &d), -EINVAL);
}

static void protocols_and_ports(void **state)
{
	uint8_t p;
	uint16_t port;

	(void) state;
	assert_int_equal(proto_parse("SCTP", &p), 0);
	assert_int_equal(p, IPPROTO_SCTP);
	assert_int_equal(proto_parse("tcp", &p), -EINVAL);
	assert_string_equal(proto_name(IPPROTO_UDP), "UDP");
	assert_null(proto_name(1));
	assert_int_equal(port_parse("65535", &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(port_parse("0", &port), -ERANGE);
	assert_int_equal(port_parse("65536", &port), -ERANGE);
	assert_int_equal(port_parse("99999999999999999999", &port), -ERANGE);
	assert_int_equal(port_parse("80a", &port), -EINVAL);
	assert_int_equal(port_parse("-1", &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_and_format),
		cmocka_unit_test(cidr_rules),
		cmocka_unit_test(protocols_and_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
