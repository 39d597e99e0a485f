#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctbuild.h"
#include "ctmon.h"
#include "proto.h"
#include "testutil.h"

static uint32_t buf[1024]; /* 4-aligned, as netlink buffers are */

static void parse_v4_new_event(void **state)
{
	size_t n = ctb_msg(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, "10.0.0.1",
			   "10.96.0.10", 40000, 80, "10.0.0.3", 8080, IPPROTO_TCP, 77);
	struct addr a;
	enum ct_msg_type type;
	struct ct_conn c;

	(void) state;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), 0);
	assert_int_equal(type, CT_MSG_NEW);
	a = addr_lit("10.0.0.1");
	assert_true(addr_eq(&c.orig.src, &a));
	a = addr_lit("10.96.0.10");
	assert_true(addr_eq(&c.orig.dst, &a));
	a = addr_lit("10.0.0.3");
	assert_true(addr_eq(&c.reply.src, &a));
	assert_int_equal(c.orig.sport, 40000);
	assert_int_equal(c.orig.dport, 80);
	assert_int_equal(c.reply.sport, 8080);
	assert_int_equal(c.reply.dport, 40000);
	assert_int_equal(c.orig.proto, IPPROTO_TCP);
	assert_int_equal(c.id, 77);
	assert_int_equal(ctmon_msg_parse(buf, n, true, &c, &type), 0);
	assert_int_equal(type, CT_MSG_DUMP);
}

static void parse_v6_destroy(void **state)
{
	size_t n = ctb_msg(buf, IPCTNL_MSG_CT_DELETE, 0, "fd00::1", "fd00::2", 5000, 53, "fd00::2",
			   53, IPPROTO_UDP, 1);
	struct addr a = addr_lit("fd00::2");
	enum ct_msg_type type;
	struct ct_conn c;

	(void) state;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), 0);
	assert_int_equal(type, CT_MSG_DESTROY);
	assert_true(addr_eq(&c.orig.dst, &a));
	assert_int_equal(c.orig.proto, IPPROTO_UDP);
}

static void portless_protocols(void **state)
{
	size_t n = ctb_msg(buf, IPCTNL_MSG_CT_NEW, 0, "10.0.0.1", "10.0.0.2", 0, 0, "10.0.0.2", 0,
			   IPPROTO_ICMP, 1);
	enum ct_msg_type type;
	struct ct_conn c;

	(void) state;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), 0);
	assert_int_equal(c.orig.sport, 0);
	assert_int_equal(c.orig.proto, IPPROTO_ICMP);
}

static void rejects_malformed(void **state)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
	enum ct_msg_type type;
	struct ct_conn c;
	size_t n;

	(void) state;
	/* Every truncation of a valid message fails cleanly. */
	n = ctb_msg(buf, IPCTNL_MSG_CT_NEW, 0, "fd00::1", "fd00::2", 1, 2, "fd00::2", 2,
		    IPPROTO_TCP, 1);
	for (size_t k = 0; k < n; k++) {
		void *copy = malloc(k ? k : 1);

		memcpy(copy, buf, k);
		assert_true(ctmon_msg_parse(copy, k, false, &c, &type) < 0);
		free(copy);
	}
	/* A length above INT_MAX (libmnl's int check would let it pass). */
	nlh->nlmsg_len = 0x84000000u;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), -EBADMSG);
	/* The header claiming less than it holds: the tuples are cut. */
	nlh->nlmsg_len = 40;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), -EBADMSG);

	/* Not conntrack, or not an entry. */
	n = ctb_msg(buf, IPCTNL_MSG_CT_NEW, 0, "10.0.0.1", "10.0.0.2", 1, 2, "10.0.0.2", 2,
		    IPPROTO_TCP, 1);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_CT_NEW;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), -EPROTONOSUPPORT);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
	assert_int_equal(ctmon_msg_parse(buf, n, false, &c, &type), -EPROTONOSUPPORT);

	/* No reply tuple. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	ctb_tuple(nlh, CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
	assert_int_equal(ctmon_msg_parse(buf, nlh->nlmsg_len, false, &c, &type), -EBADMSG);

	/* Families that disagree between the tuples. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	ctb_tuple(nlh, CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
	ctb_tuple(nlh, CTA_TUPLE_REPLY, "fd00::2", "fd00::1", IPPROTO_TCP, 2, 1);
	assert_int_equal(ctmon_msg_parse(buf, nlh->nlmsg_len, false, &c, &type), -EBADMSG);

	/* An IPv4 address attribute of the wrong size. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	{
		struct nlattr *t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
		struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);

		mnl_attr_put_u16(nlh, CTA_IP_V4_SRC, 1);
		mnl_attr_put_u16(nlh, CTA_IP_V4_DST, 2);
		mnl_attr_nest_end(nlh, ip);
		mnl_attr_nest_end(nlh, t);
	}
	ctb_tuple(nlh, CTA_TUPLE_REPLY, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 2, 1);
	assert_int_equal(ctmon_msg_parse(buf, nlh->nlmsg_len, false, &c, &type), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_v4_new_event),
		cmocka_unit_test(parse_v6_destroy),
		cmocka_unit_test(portless_protocols),
		cmocka_unit_test(rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
