/*
 * bench_flow_mem: memory per distinct flow.  Feeds N SYN packets, each a
 * new flow, through the whole learning path (pkt_parse, sessions, flow
 * table), then prints the flow table's own allocation per flow and the
 * process's resident-memory growth per flow (everything: table, session
 * cache, allocator overhead).
 *
 *   bench_flow_mem [FLOWS [MAX [GONE]]]     (default 1000000, MAX = FLOWS, GONE 0)
 *
 * With MAX below FLOWS the table holds MAX flows and evicts the rest, the
 * least recently seen first: "seconds" then times the eviction path too.
 * GONE turns the table's gone record on with that many keys (the agent's
 * checkpoints use it; 0 leaves it off, as `bulkhead learn` does).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "flow_table.h"
#include "learn.h"
#include "pkt_parse.h"

int main(int argc, char **argv)
{
	size_t flows = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t max = argc > 2 ? strtoul(argv[2], NULL, 10) : flows;
	size_t gone = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	uint8_t pkt[40] = { 0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6 };
	struct timespec t0, t1;
	struct learn *l;
	long before, after;
	size_t n;

	before = bench_rss_bytes();
	l = learn_new(max);
	if (!l || flow_table_gone_record(learn_table(l), gone) < 0)
		return 3;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < flows; i++) {
		uint32_t cli = 0x0a000000 | (uint32_t) (i / 64);
		uint16_t port = (uint16_t) (1000 + i % 64);

		pkt[12] = (uint8_t) (cli >> 24);
		pkt[13] = (uint8_t) (cli >> 16);
		pkt[14] = (uint8_t) (cli >> 8);
		pkt[15] = (uint8_t) cli;
		pkt[16] = 11;
		pkt[19] = 1;
		pkt[20] = 0x9c; /* source port 40000 */
		pkt[21] = 0x40;
		pkt[22] = (uint8_t) (port >> 8);
		pkt[23] = (uint8_t) port;
		pkt[32] = 5 << 4;
		pkt[33] = 0x02; /* SYN */
		if (learn_packet(l, PKT_DLT_RAW, pkt, sizeof(pkt), 1700000000) < 0)
			return 3;
	}
	if (learn_flush(l) < 0)
		return 3;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	after = bench_rss_bytes();
	n = flow_table_count(learn_table(l));
	printf("{\"flows\": %zu, \"evicted\": %" PRIu64 ", \"table_bytes_per_flow\": %.1f, "
	       "\"rss_bytes_per_flow\": %.1f, \"seconds\": %.3f}\n",
	       n, flow_table_stats(learn_table(l))->evicted,
	       (double) flow_table_mem(learn_table(l)) / (double) n,
	       (double) (after - before) / (double) n,
	       (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	learn_free(l);
	return n == (max < flows ? max : flows) ? 0 : 1;
}
