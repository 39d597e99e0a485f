/*
 * tests/fuzz/fuzz_flows_json.c: the flows.json reader.  Each input is
 * loaded twice into the same set, so the merge of equal keys (and the
 * peer preference between two descriptions) runs on every accepted input.
 */
#include <stddef.h>
#include <stdint.h>

#include "flows_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_set s;
	struct bh_err err = { 0 };

	flow_set_init(&s);
	if (flows_json_load_buf(&s, (const char *) data, size, "fuzz", &err) == 0)
		(void) flows_json_load_buf(&s, (const char *) data, size, "fuzz", &err);
	flow_set_done(&s);
	return 0;
}
