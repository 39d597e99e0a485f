/*
 * gen_pcap: writes a synthetic Ethernet capture for the learner benchmarks
 * (never committed: generated into the build directory).
 *
 *   gen_pcap mix PACKETS OUT.pcap
 *	A node's traffic: TCP connections (SYN, SYN-ACK, then data and ACKs,
 *	FIN) from 4096 clients to 4 of 256 servers each, interleaved
 *	32 at a time, with 10% UDP (DNS-like request and answer).  Frames are
 *	captured at 96 bytes (a header snaplen), their wire length is kept.
 *   gen_pcap distinct FLOWS OUT.pcap
 *	FLOWS SYN packets, each a distinct flow (client address and server
 *	port vary): the flow table's memory at scale.
 *   gen_pcap ingress PACKETS OUT.pcap
 *	An ingress pod facing the internet: short TCP connections (SYN,
 *	SYN-ACK, request, response, ACK, FIN, ACK: 7 packets) to ports 80 and
 *	443 of one of 4 pods, 16 in flight, from clients spread over
 *	100.64.0.0/10 so that nearly every connection is a new (client,
 *	server, port) flow: about 700,000 flows in 5,000,000 packets.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP 96

struct conn {
	uint32_t cli, srv;
	uint16_t cport, sport;
	int left; /* packets still to send */
	int step;
};

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t) rng;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t) (v >> 16));
	put16(p + 2, (uint16_t) v);
}

static uint64_t ts_us = 1700000000ULL * 1000000;

/* One frame: Ethernet + IPv4 + TCP/UDP, @payload bytes on the wire. */
static int frame(FILE *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport,
		 uint8_t flags, uint32_t payload)
{
	uint8_t b[SNAP] = { 0 };
	uint32_t l4 = proto == 6 ? 20 : 8, wire = 14 + 20 + l4 + payload;
	uint32_t hdr[4];
	uint8_t *ip = b + 14, *t = b + 34;

	put16(b + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t) (wire - 14));
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(t, sport);
	put16(t + 2, dport);
	if (proto == 6) {
		t[12] = 5 << 4;
		t[13] = flags;
	} else {
		put16(t + 4, (uint16_t) (8 + payload));
	}
	ts_us += 7;
	hdr[0] = (uint32_t) (ts_us / 1000000);
	hdr[1] = (uint32_t) (ts_us % 1000000);
	hdr[2] = wire < SNAP ? wire : SNAP;
	hdr[3] = wire;
	if (fwrite(hdr, sizeof(hdr), 1, f) != 1 || fwrite(b, hdr[2], 1, f) != 1)
		return -EIO;
	return 0;
}

static void conn_new(struct conn *c)
{
	uint32_t cli = rnd() % 4096, srv = (cli * 7 + rnd() % 4) % 256;

	/* Each client talks to 4 of the servers, each server listens on one
	 * of 8 ports: about 16k distinct flows, as a node's pods talk to a
	 * few services each. */
	c->cli = 0x0a000000 | cli; /* 10.0.x.y clients */
	c->srv = 0x0a010000 | srv; /* 10.1.0.x servers */
	c->cport = (uint16_t) (32768 + rnd() % 28000);
	c->sport = (uint16_t) (8000 + srv % 8);
	c->left = 4 + (int) (rnd() % 40);
	c->step = 0;
}

static int gen_mix(FILE *f, uint64_t packets)
{
	struct conn cs[32];
	uint64_t n = 0;

	for (size_t i = 0; i < 32; i++)
		conn_new(&cs[i]);
	while (n < packets) {
		struct conn *c = &cs[rnd() % 32];
		int r;

		if (rnd() % 10 == 0) {
			uint32_t cli = 0x0a000000 | (rnd() % 4096), dns = 0x0a020000 | (rnd() % 4);
			uint16_t port = (uint16_t) (32768 + rnd() % 28000);

			r = frame(f, cli, dns, 17, port, 53, 0, 40);
			if (r == 0)
				r = frame(f, dns, cli, 17, 53, port, 0, 120);
			n += 2;
		} else if (c->step == 0) {
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x02, 0);
			c->step++;
			n++;
		} else if (c->step == 1) {
			r = frame(f, c->srv, c->cli, 6, c->sport, c->cport, 0x12, 0);
			c->step++;
			n++;
		} else if (c->left > 0) {
			/* Data one way, ACKs or data the other. */
			if (rnd() % 2)
				r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x18, 200);
			else
				r = frame(f, c->srv, c->cli, 6, c->sport, c->cport, 0x10, 1400);
			c->left--;
			n++;
		} else {
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x11, 0);
			conn_new(c);
			n++;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int gen_distinct(FILE *f, uint64_t flows)
{
	for (uint64_t i = 0; i < flows; i++) {
		/* 16M client addresses x 64 ports: each SYN a new flow. */
		uint32_t cli = 0x0a000000 | (uint32_t) (i / 64);
		int r = frame(f, cli, 0x0b000001, 6, 40000, (uint16_t) (1000 + i % 64), 0x02, 0);

		if (r < 0)
			return r;
	}
	return 0;
}

static int gen_ingress(FILE *f, uint64_t packets)
{
	struct conn cs[16];
	uint64_t n = 0;

	for (size_t i = 0; i < 16; i++)
		cs[i].left = -1;
	while (n < packets) {
		struct conn *c = &cs[rnd() % 16];
		int r = 0;

		if (c->left < 0) {
			c->cli = 0x64400000 | (rnd() & 0x3fffff); /* 100.64.0.0/10 */
			c->srv = 0x0a010000 | (rnd() % 4);
			c->cport = (uint16_t) (32768 + rnd() % 28000);
			c->sport = rnd() % 2 ? 443 : 80;
			c->step = 0;
			c->left = 0;
		}
		switch (c->step++) {
		case 0:
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x02, 0);
			break;
		case 1:
			r = frame(f, c->srv, c->cli, 6, c->sport, c->cport, 0x12, 0);
			break;
		case 2:
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x18, 300);
			break;
		case 3:
			r = frame(f, c->srv, c->cli, 6, c->sport, c->cport, 0x18, 1400);
			break;
		case 4:
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x10, 0);
			break;
		case 5:
			r = frame(f, c->cli, c->srv, 6, c->cport, c->sport, 0x11, 0);
			break;
		default:
			r = frame(f, c->srv, c->cli, 6, c->sport, c->cport, 0x11, 0);
			c->left = -1;
			break;
		}
		if (r < 0)
			return r;
		n++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* pcap file header: magic, v2.4, no zone, snaplen, Ethernet. */
	const uint32_t gh[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	unsigned long long n;
	char *end;
	FILE *f;
	int r;

	if (argc != 4 ||
	    (strcmp(argv[1], "mix") && strcmp(argv[1], "distinct") && strcmp(argv[1], "ingress"))) {
		fprintf(stderr, "usage: gen_pcap mix|distinct|ingress COUNT OUT.pcap\n");
		return 2;
	}
	n = strtoull(argv[2], &end, 10);
	if (*end || n == 0) {
		fprintf(stderr, "gen_pcap: bad count '%s'\n", argv[2]);
		return 2;
	}
	f = fopen(argv[3], "wb");
	if (!f) {
		fprintf(stderr, "gen_pcap: '%s': %s\n", argv[3], strerror(errno));
		return 3;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	if (fwrite(gh, 4, 6, f) != 6)
		r = -EIO;
	else if (strcmp(argv[1], "mix") == 0)
		r = gen_mix(f, n);
	else if (strcmp(argv[1], "ingress") == 0)
		r = gen_ingress(f, n);
	else
		r = gen_distinct(f, n);
	if (fclose(f) != 0 || r < 0) {
		fprintf(stderr, "gen_pcap: '%s': write error\n", argv[3]);
		return 3;
	}
	return 0;
}
