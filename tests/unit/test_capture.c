#include <errno.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"
#include "learn.h"
#include "pktbuild.h"
#include "proto.h"
#include "testutil.h"

static bool filter_keeps(int dlt, const struct pb *p)
{
	pcap_t *dead = pcap_open_dead(dlt, CAPTURE_SNAPLEN);
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32) p->n, .len = (bpf_u_int32) p->n };
	struct bpf_program prog;
	int r;

	assert_non_null(dead);
	assert_int_equal(pcap_compile(dead, &prog, capture_filter(dlt), 1, PCAP_NETMASK_UNKNOWN),
			 0);
	r = pcap_offline_filter(&prog, &h, p->b);
	pcap_freecode(&prog);
	pcap_close(dead);
	return r != 0;
}

static struct pb wrap(int dlt, const struct pb *ip, int v)
{
	switch (dlt) {
	case DLT_EN10MB:
		return pb_eth(ip, v, 0);
	case DLT_LINUX_SLL:
		return pb_sll(ip, v, 0);
	case DLT_LINUX_SLL2:
		return pb_sll2(ip, v, 0);
	default:
		return *ip;
	}
}

/* The kernel filter keeps openers, UDP and SCTP INIT, on every link type
 * a live capture can have, and drops the rest of a connection. */
static void filter_keeps_only_openers(void **state)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW };
	struct pb syn = pb_tcp(40000, 80, PKT_TCP_SYN);
	struct pb synack = pb_tcp(80, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	struct pb ack = pb_tcp(40000, 80, PKT_TCP_ACK), rst = pb_tcp(80, 40000, PKT_TCP_RST);
	struct pb synrst = pb_tcp(80, 40000, PKT_TCP_SYN | PKT_TCP_RST);
	struct pb udp = pb_udp(1000, 53, 4), init = pb_sctp(5000, 38412, PKT_SCTP_INIT);
	struct pb data = pb_sctp(5000, 38412, 0), icmp = { .n = 0 }, hbh = { .n = 0 };

	(void) state;
	pb_zero(&icmp, 8);
	pb_u8(&hbh, IPPROTO_TCP);
	pb_u8(&hbh, 0);
	pb_zero(&hbh, 6);
	for (size_t i = 0; i < BH_ARRAY_SIZE(dlts); i++) {
		int d = dlts[i];
		struct pb k4[] = {
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &syn, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &synack, 0, 4),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, &udp, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_SCTP, &init, 0, 0),
		};
		struct pb d4[] = {
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &ack, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &rst, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &synrst, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_SCTP, &data, 0, 0),
			pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_ICMP, &icmp, 0, 0),
		};
		struct pb k6[] = {
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_TCP, &syn),
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_TCP, &synack),
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_UDP, &udp),
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_SCTP, &init),
			/* Extension headers: user space decides. */
			pb_ipv6x("fd00::1", "fd00::2", IPPROTO_HOPOPTS, &hbh, &ack),
		};
		struct pb d6[] = {
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_TCP, &ack),
			pb_ipv6("fd00::1", "fd00::2", IPPROTO_SCTP, &data),
		};

		for (size_t k = 0; k < BH_ARRAY_SIZE(k4); k++) {
			struct pb f = wrap(d, &k4[k], 4);

			assert_true(filter_keeps(d, &f));
		}
		for (size_t k = 0; k < BH_ARRAY_SIZE(d4); k++) {
			struct pb f = wrap(d, &d4[k], 4);

			assert_false(filter_keeps(d, &f));
		}
		for (size_t k = 0; k < BH_ARRAY_SIZE(k6); k++) {
			struct pb f = wrap(d, &k6[k], 6);

			assert_true(filter_keeps(d, &f));
		}
		for (size_t k = 0; k < BH_ARRAY_SIZE(d6); k++) {
			struct pb f = wrap(d, &d6[k], 6);

			assert_false(filter_keeps(d, &f));
		}
	}
	/* 802.1Q on Ethernet. */
	{
		struct pb ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &syn, 0, 0);
		struct pb f = pb_eth(&ip, 4, 1);

		assert_true(filter_keeps(DLT_EN10MB, &f));
		ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &ack, 0, 0);
		f = pb_eth(&ip, 4, 1);
		assert_false(filter_keeps(DLT_EN10MB, &f));
	}
}

static void write_pcap(const char *path, int dlt, const struct pb *pkts, size_t n)
{
	pcap_t *dead = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path);

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .caplen = (bpf_u_int32) pkts[i].n,
					 .len = (bpf_u_int32) pkts[i].n };

		h.ts.tv_sec = (time_t) (1700000000 + i);
		pcap_dump((u_char *) d, &h, pkts[i].b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

static void file_capture(void **state)
{
	char path[] = "/tmp/bh-test-capture-XXXXXX";
	struct pb syn = pb_tcp(40000, 80, PKT_TCP_SYN);
	struct pb synack = pb_tcp(80, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	struct pb ip1 = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &syn, 0, 0);
	struct pb ip2 = pb_ipv4("10.0.0.2", "10.0.0.1", IPPROTO_TCP, &synack, 0, 0);
	struct pb pkts[300];
	struct learn *l = learn_new(100);
	struct bh_err err = { 0 };
	struct capture *c = NULL;
	struct flow_key k = { 0 };
	struct flow_record r;
	int fd, n, total = 0;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	/* More packets than one budget, so several process calls. */
	for (size_t i = 0; i < BH_ARRAY_SIZE(pkts); i++)
		pkts[i] = pb_eth(i % 2 ? &ip2 : &ip1, 4, 0);
	write_pcap(path, DLT_EN10MB, pkts, BH_ARRAY_SIZE(pkts));

	assert_int_equal(capture_open_file(path, l, &c, &err), 0);
	assert_int_equal(capture_fd(c), -1);
	assert_string_equal(capture_name(c), path);
	while (!capture_eof(c)) {
		n = capture_process(c, &err);
		assert_true(n >= 0 && n <= CAPTURE_BUDGET);
		total += n;
	}
	assert_int_equal(total, 300);
	assert_int_equal(learn_flush(l), 0);
	k.src = addr_lit("10.0.0.1");
	k.dst = addr_lit("10.0.0.2");
	k.proto = IPPROTO_TCP;
	k.port = 80;
	assert_int_equal(flow_table_get(learn_table(l), &k, &r), 1);
	assert_int_equal(r.packets, 300);
	assert_int_equal(r.first_seen, 1700000000);
	assert_int_equal(r.last_seen, 1700000000 + 299);
	capture_free(c);

	/* Cut the file in the middle of a record: an input error. */
	assert_int_equal(truncate(path, 24 + 16 + 54 + 16 + 20), 0);
	assert_int_equal(capture_open_file(path, l, &c, &err), 0);
	do {
		n = capture_process(c, &err);
	} while (n > 0);
	assert_int_equal(n, -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, path));
	/* The library names the file, never a flag of the CLI (which adds
	 * --pcap itself). */
	assert_null(strstr(err.msg, "--"));
	capture_free(c);

	/* A link type we cannot parse is refused up front. */
	write_pcap(path, 147, pkts, 1);
	assert_int_equal(capture_open_file(path, l, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not supported"));
	assert_non_null(strstr(err.msg, path));
	assert_null(strstr(err.msg, "--"));
	/* Not a capture at all. */
	assert_int_equal(truncate(path, 3), 0);
	assert_int_equal(capture_open_file(path, l, &c, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_null(strstr(err.msg, "--"));
	unlink(path);
	/* A file that is not there. */
	assert_int_equal(capture_open_file(path, l, &c, &err), -ENOENT);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, path));
	assert_null(strstr(err.msg, "--"));
	learn_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(filter_keeps_only_openers),
		cmocka_unit_test(file_capture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
