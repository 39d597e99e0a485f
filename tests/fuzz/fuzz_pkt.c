/*
 * tests/fuzz/fuzz_pkt.c: the packet parser on every link type it knows
 * (the first byte picks the link type), then the learner's direction and
 * NAT logic on what parsed.  The buffer handed over is exactly the input,
 * so ASan flags any read past the captured length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"
#include "pkt_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {
	PKT_DLT_EN10MB, PKT_DLT_LINUX_SLL, PKT_DLT_LINUX_SLL2, PKT_DLT_RAW,
	PKT_DLT_IPV4,	PKT_DLT_IPV6,	   PKT_DLT_NULL,       PKT_DLT_LOOP,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One learner for the whole run, small so eviction is exercised;
	 * it stays reachable, so it is no leak. */
	static struct learn *l;
	struct pkt_info pi;
	uint8_t *copy;
	int dlt;

	if (size < 1)
		return 0;
	if (!l && !(l = learn_new(64)))
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (pkt_parse(dlt, copy, size - 1, &pi) == PKT_OK)
		(void) learn_pkt_info(l, &pi, data[0]);
	(void) learn_packet(l, dlt, copy, size - 1, data[0]);
	if (data[0] == 0xff)
		(void) learn_flush(l);
	free(copy);
	return 0;
}
