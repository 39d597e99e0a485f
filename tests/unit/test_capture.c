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
#include <dirent.h>
#include <sys/stat.h>

#include "capture.h"
#include "hash.h"
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

/* What a capture file gives the learner, by either reader. */
struct outcome {
	int open, end; /* capture_open_file_with(), last capture_process() */
	bool fast;
	uint64_t packets;
	struct learn_stats ls;
	size_t nflows;
	uint64_t sum; /* over every flow's key and counters */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL + (h >> 29);
}

static struct outcome run_reader(const char *path, unsigned flags)
{
	struct outcome o = { 0 };
	struct learn *l = learn_new(1 << 20);
	struct bh_err err = { 0 };
	struct capture *c = NULL;
	struct capture_stats cs;
	int n;

	assert_non_null(l);
	learn_seed(l, 42);
	o.open = capture_open_file_with(path, l, flags, &c, &err);
	if (o.open == 0) {
		o.fast = capture_fast(c);
		do {
			n = capture_process(c, &err);
			assert_true(n <= CAPTURE_BUDGET);
		} while (n > 0 || (n == 0 && !capture_eof(c)));
		o.end = n;
		if (n < 0) {
			assert_int_equal(err.kind, BH_ERR_INPUT);
			assert_non_null(strstr(err.msg, path));
		}
		capture_get_stats(c, &cs);
		o.packets = cs.packets;
		capture_free(c);
	}
	assert_int_equal(learn_flush(l), 0);
	o.ls = *learn_stats(l);
	o.nflows = flow_table_count(learn_table(l));
	for (size_t i = 0; i < o.nflows; i++) {
		struct flow_record r;

		flow_table_record_at(learn_table(l), i, &r);
		o.sum = mix(o.sum, hash_bytes(&r.key, sizeof(r.key), 1));
		o.sum = mix(o.sum, r.packets);
		o.sum = mix(o.sum, r.bytes);
		o.sum = mix(o.sum, r.connections);
		o.sum = mix(o.sum, (uint64_t) r.first_seen);
		o.sum = mix(o.sum, (uint64_t) r.last_seen);
	}
	learn_free(l);
	return o;
}

/* The fast reader and libpcap agree on @path; whether it took the fast
 * path. */
static bool readers_agree(const char *path)
{
	struct outcome a = run_reader(path, 0), b = run_reader(path, CAPTURE_FILE_LIBPCAP);

	if (a.open != b.open || a.end != b.end || a.packets != b.packets ||
	    memcmp(&a.ls, &b.ls, sizeof(a.ls)) != 0 || a.nflows != b.nflows || a.sum != b.sum)
		fail_msg("%s: fast reader (open %d, end %d, %llu packets, %zu flows) and libpcap "
			 "(open %d, end %d, %llu packets, %zu flows) differ",
			 path, a.open, a.end, (unsigned long long) a.packets, a.nflows, b.open,
			 b.end, (unsigned long long) b.packets, b.nflows);
	assert_false(b.fast);
	return a.fast;
}

static void put_le_or_be(uint8_t *p, uint32_t v, int bytes, bool be)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t) (be ? v >> (8 * (bytes - 1 - i)) : v >> (8 * i));
}

/* A classic pcap file by hand: @magic in the byte order @be, snapshot
 * @snap, @n copies of @pkt of which the record says @caplen bytes (the
 * bytes written follow @caplen, padded with zeros). */
static void write_classic(const char *path, uint32_t magic, bool be, uint32_t snap,
			  const struct pb *pkt, size_t n, uint32_t caplen)
{
	FILE *f = fopen(path, "wb");
	uint8_t h[24] = { 0 }, r[16];

	assert_non_null(f);
	put_le_or_be(h, magic, 4, be);
	put_le_or_be(h + 4, 2, 2, be);
	put_le_or_be(h + 6, 4, 2, be);
	put_le_or_be(h + 16, snap, 4, be);
	put_le_or_be(h + 20, 1, 4, be);
	assert_int_equal(fwrite(h, 1, sizeof(h), f), sizeof(h));
	for (size_t i = 0; i < n; i++) {
		put_le_or_be(r, (uint32_t) (0x7fffff00u + i * 64), 4, be); /* past 2038 too */
		put_le_or_be(r + 4, 1000, 4, be);
		put_le_or_be(r + 8, caplen, 4, be);
		put_le_or_be(r + 12, (uint32_t) pkt->n, 4, be);
		assert_int_equal(fwrite(r, 1, sizeof(r), f), sizeof(r));
		for (uint32_t k = 0; k < caplen; k++)
			fputc(k < pkt->n ? pkt->b[k] : 0, f);
	}
	assert_int_equal(fclose(f), 0);
}

static void copy_prefix(const char *from, const char *to, off_t len)
{
	size_t n = 0;
	char *d = test_read_file(from, &n);
	FILE *f = fopen(to, "wb");

	assert_non_null(d);
	assert_non_null(f);
	if ((size_t) len > n)
		len = (off_t) n;
	assert_int_equal(fwrite(d, 1, (size_t) len, f), (size_t) len);
	assert_int_equal(fclose(f), 0);
	free(d);
}

/* The fast reader for classic pcap files gives the learner exactly what
 * libpcap gives it: the same packets, the same refusals at the same
 * record, on hand-made files (both byte orders, nanosecond stamps, records
 * past the snapshot length, bad capture lengths), on every cut of one, and
 * on the tcpdump corpus (830 real-world and malformed captures). */
static void fast_reader_matches_libpcap(void **state)
{
	char path[] = "/tmp/bh-test-capture-XXXXXX", cut[64];
	struct pb syn = pb_tcp(40000, 80, PKT_TCP_SYN);
	struct pb ip = pb_ipv4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, &syn, 0, 0);
	struct pb pkt = pb_eth(&ip, 4, 0);
	const char *dir = BH_SHARED_DIR "/captures/tcpdump-tests";
	size_t nfast = 0, nfiles = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cut, sizeof(cut), "%s.cut", path);
	for (int be = 0; be < 2; be++) {
		write_classic(path, 0xa1b2c3d4, be, 65535, &pkt, 3000, (uint32_t) pkt.n);
		assert_true(readers_agree(path));
		write_classic(path, 0xa1b23c4d, be, 65535, &pkt, 5, (uint32_t) pkt.n);
		assert_true(readers_agree(path));
		/* Records longer than the snapshot length: cut to it. */
		write_classic(path, 0xa1b2c3d4, be, 40, &pkt, 5, (uint32_t) pkt.n + 100);
		assert_true(readers_agree(path));
		/* A capture length past what libpcap accepts. */
		write_classic(path, 0xa1b2c3d4, be, 65535, &pkt, 2, 300000);
		assert_true(readers_agree(path));
		write_classic(path, 0xa1b2c3d4, be, 0, &pkt, 2, 70000);
		assert_true(readers_agree(path));
	}
	/* Every cut of a small file, header included. */
	write_classic(path, 0xa1b2c3d4, false, 65535, &pkt, 3, (uint32_t) pkt.n);
	assert_int_equal(stat(path, &st), 0);
	for (off_t len = 0; len <= st.st_size; len++) {
		copy_prefix(path, cut, len);
		(void) readers_agree(cut);
	}
	d = opendir(dir);
	if (!d) {
		print_message("no corpus at %s: skipped\n", dir);
	} else {
		while ((e = readdir(d))) {
			char f[1024];

			if (e->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
			if (stat(f, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			nfiles++;
			if (!readers_agree(f))
				continue;
			nfast++;
			/* Cut in a record header and in a record's data. */
			if (st.st_size > 24 + 16 + 10) {
				copy_prefix(f, cut, 24 + 16 + 10);
				(void) readers_agree(cut);
				copy_prefix(f, cut, st.st_size - 1);
				(void) readers_agree(cut);
				copy_prefix(f, cut, st.st_size / 2);
				(void) readers_agree(cut);
			}
		}
		closedir(d);
		print_message("corpus: %zu files, %zu by the fast reader\n", nfiles, nfast);
		assert_true(nfiles >= 800);
		assert_true(nfast >= 100);
	}
	unlink(cut);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(filter_keeps_only_openers),
		cmocka_unit_test(file_capture),
		cmocka_unit_test(fast_reader_matches_libpcap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
